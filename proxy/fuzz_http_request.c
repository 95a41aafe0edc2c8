/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_http_request.c - libFuzzer target for the request parser and the path
 * canonicaliser (built with -DSLUICE_FUZZ=ON, clang).
 *
 * Properties checked besides memory safety:
 *  - canonicalisation is idempotent and never yields "//", "/./", "/../";
 *  - whatever reaches the upstream starts with a request line whose target
 *    is already canonical, and no request the rules deny ever reaches it
 *    (one rule's headerMatches edit the head: REPLACE, DELETE, ADD);
 *  - the response parser and the response head rewrite survive any
 *    upstream bytes, in any pieces;
 *  - the one-parse path of simple responses (http_resp_simple()) and llhttp
 *    (http_conn_set_full_parse()) send the client the same bytes and end
 *    the exchange the same way: status, bytes, phase, keep-alive and
 *    whether the upstream connection may be reused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_conn.h"
#include "path.h"
#include "rules_json.h"

struct fz {
	struct http_conn c;
	char up[1 << 16];
	size_t uplen;
	char cl[1 << 16];        /* the first bytes to the client */
	size_t cllen;            /* all of them */
	int ndone;
	struct http_exchange last;
	struct proxy_rules_table *rules;
};

static void fz_to_up(void *ctx, const char *p, size_t n)
{
	struct fz *f = ctx;
	size_t k = n < sizeof(f->up) - f->uplen ? n : sizeof(f->up) - f->uplen;
	memcpy(f->up + f->uplen, p, k);
	f->uplen += k;
}

static void fz_to_client(void *ctx, const char *p, size_t n)
{
	struct fz *f = ctx;
	size_t k = f->cllen >= sizeof(f->cl) ? 0 :
		   n < sizeof(f->cl) - f->cllen ? n : sizeof(f->cl) - f->cllen;
	memcpy(f->cl + f->cllen, p, k);
	f->cllen += n;
}

static void fz_done(void *ctx, const struct http_exchange *x)
{
	struct fz *f = ctx;
	f->ndone++;
	f->last = *x;
}

static enum proxy_match fz_decide(void *ctx, const struct proxy_request_view *req)
{
	struct fz *f = ctx;
	struct proxy_rules_key k = { .ep_id = 1, .port = 80 };
	enum proxy_match m = proxy_rule_set_match(proxy_rules_lookup(f->rules, &k), req);
	/* the policy only ever sees canonical paths; the query after them
	 * is as the client sent it (Envoy's :path), "/../" in it included */
	if (req->path_len && req->path[0] == '/') {
		const char *q = memchr(req->path, '?', req->path_len);
		size_t pl = q ? (size_t)(q - req->path) : req->path_len;

		if (memmem(req->path, pl, "//", 2) || memmem(req->path, pl, "/./", 3) ||
		    memmem(req->path, pl, "/../", 4))
			abort();
	}
	return m;
}

static const struct http_conn_ops fz_ops = {
	.to_upstream = fz_to_up, .to_client = fz_to_client, .decide = fz_decide, .done = fz_done,
};

static void fz_path(const uint8_t *data, size_t size)
{
	char *a = malloc(size + 1), *b = malloc(size + 1);
	size_t pl, tl, pl2, tl2;

	if (proxy_path_canon((const char *)data, size, a, size, &pl, &tl) == PROXY_PATH_OK) {
		if (tl > size || pl > tl || a[0] != '/')
			abort();
		if (memmem(a, pl, "//", 2) || memmem(a, pl, "/./", 3) || memmem(a, pl, "/../", 4))
			abort();
		if (proxy_path_canon(a, tl, b, tl, &pl2, &tl2) != PROXY_PATH_OK ||
		    tl2 != tl || pl2 != pl || memcmp(a, b, tl))
			abort(); /* idempotent */
	}
	free(a);
	free(b);
}

/*
 * The response side: any upstream bytes after an allowed request (one of
 * several, chosen by the last byte, so each way of rewriting and framing the
 * response is taken), delivered in pieces of 1 to 64 bytes (by the byte
 * before the last; a head split across reads is held and completed:
 * http_resp_out; a short head in the first piece takes the one-parse path,
 * its body counted over the next pieces), or, when the last byte's top bit
 * is set, all at once (one read); then the rest of the request body and the
 * upstream's EOF.
 */
static void fz_response(struct fz *f, struct proxy_rules_table *rules, const uint8_t *data,
			size_t size, bool full)
{
	static const struct { const char *req, *tail; } reqs[] = {
		{ "GET /api/users/1 HTTP/1.1\r\nHost: a\r\n\r\n", "" },
		{ "GET /api/users/1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "" },
		{ "GET /api/users/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "" },
		{ "GET /api/users/1 HTTP/1.0\r\n\r\n", "" },
		{ "HEAD /api/users/1 HTTP/1.1\r\nHost: a\r\n\r\n", "" },
		{ "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n", "ab" },
		{ "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		  "" },
	};
	size_t r = size ? data[size - 1] % (sizeof(reqs) / sizeof(reqs[0])) : 0;
	size_t piece = size > 1 ? 1 + data[size - 2] % 64 : 1;
	size_t off = 0;

	memset(f, 0, sizeof(*f));
	f->rules = rules;
	http_conn_init(&f->c, &fz_ops, f);
	http_conn_set_full_parse(&f->c, full);
	http_conn_feed_request(&f->c, reqs[r].req, strlen(reqs[r].req));
	if (size && (data[size - 1] & 0x80)) {
		http_conn_feed_response(&f->c, (const char *)data, size);
		off = size;
	}
	for (; off < size && http_conn_phase(&f->c) != HTTP_PH_CLOSING; off += piece)
		http_conn_feed_response(&f->c, (const char *)data + off,
					size - off < piece ? size - off : piece);
	if (http_conn_accepts_request_bytes(&f->c))
		http_conn_feed_request(&f->c, reqs[r].tail, strlen(reqs[r].tail));
	http_conn_upstream_eof(&f->c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proxy_rules_table *rules;
	static struct fz f, g;
	size_t split, used, off = 0;

	if (!rules) {
		static const char json[] =
			"{\"rules\":[{\"method\":\"GET\",\"path\":\"/api/users/.*\"},"
			"{\"method\":\"HEAD\",\"path\":\"/api/users/.*\"},"
			"{\"method\":\"POST\",\"path\":\"/upload\"},"
			"{\"path\":\"/ws\",\"headers\":[\"Upgrade: websocket\"]},"
			/* headerMatches' edits: the head rebuilt (http_head_edit) */
			"{\"method\":\"PUT\",\"path\":\"/edit.*\",\"header_matches\":["
			"{\"name\":\"X-A\",\"value\":\"1\",\"mismatch\":\"REPLACE\"},"
			"{\"name\":\"X-D\",\"value\":\"ok\",\"mismatch\":\"DELETE\"},"
			"{\"name\":\"X-N\",\"value\":\"n\",\"mismatch\":\"ADD\"}]}]}";
		struct proxy_rules_key k = { .ep_id = 1, .port = 80 };
		char *err = NULL;
		proxy_rules_json_load(json, sizeof(json) - 1, &k, &rules, &err);
		free(err);
	}
	fz_path(data, size);

	/* the request side, in two pieces (split chosen by the first byte) */
	memset(&f, 0, sizeof(f));
	f.rules = rules;
	http_conn_init(&f.c, &fz_ops, &f);
	split = size ? data[0] % (size + 1) : 0;
	while (off < split && http_conn_accepts_request_bytes(&f.c)) {
		used = http_conn_feed_request(&f.c, (const char *)data + off, split - off);
		if (!used)
			break;
		off += used;
	}
	if (http_conn_phase(&f.c) == HTTP_PH_WAIT)
		http_conn_feed_response(&f.c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38);
	while (off < size && http_conn_accepts_request_bytes(&f.c)) {
		used = http_conn_feed_request(&f.c, (const char *)data + off, size - off);
		if (!used)
			break;
		off += used;
	}
	if (f.uplen) {
		/* "METHOD SP target SP": the target must already be canonical */
		const char *sp1 = memchr(f.up, ' ', f.uplen), *sp2;
		if (!sp1)
			abort();
		sp2 = memchr(sp1 + 1, ' ', f.uplen - (size_t)(sp1 + 1 - f.up));
		if (!sp2)
			abort();
		if (sp1[1] == '/') {
			size_t tl = (size_t)(sp2 - sp1 - 1), pl, tl2;
			char *b = malloc(tl + 1);
			if (proxy_path_canon(sp1 + 1, tl, b, tl, &pl, &tl2) != PROXY_PATH_OK ||
			    tl2 != tl || memcmp(b, sp1 + 1, tl))
				abort();
			free(b);
		}
	}
	http_conn_release(&f.c, HTTP_R_CLIENT_CLOSED);

	/* the response side, both ways (one parse and llhttp alone), which must
	 * agree */
	fz_response(&f, rules, data, size, false);
	fz_response(&g, rules, data, size, true);
	if (f.cllen != g.cllen ||
	    memcmp(f.cl, g.cl, f.cllen < sizeof(f.cl) ? f.cllen : sizeof(f.cl)) ||
	    f.ndone != g.ndone || f.last.status != g.last.status ||
	    f.last.verdict != g.last.verdict || f.last.reason != g.last.reason ||
	    f.last.bytes_out != g.last.bytes_out || f.uplen != g.uplen ||
	    http_conn_phase(&f.c) != http_conn_phase(&g.c) || f.c.keep_alive != g.c.keep_alive ||
	    f.c.up_reusable != g.c.up_reusable)
		abort();
	http_conn_release(&g.c, HTTP_R_CLIENT_CLOSED);
	http_conn_release(&f.c, HTTP_R_CLIENT_CLOSED);
	return 0;
}
