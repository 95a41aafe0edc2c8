/* SPDX-License-Identifier: Apache-2.0 */
/*
 * splice_diff.h - tests only (tests/unit/proxy/test_splice_head.c,
 * fuzz_splice_head.c): the kernel's reader of a response head
 * (bpf/lib/splice_head.h, compiled here as plain C) against the proxy
 * itself, on the same bytes.
 *
 * What the sk_msg program would send the client for a response that
 * arrives in one send (its head read, its Connection / Keep-Alive lines
 * dropped, nothing after its body) must be byte for byte what http_conn
 * sends for it, with the proxy's own parser and with llhttp
 * (http_conn_set_full_parse()), and the exchange must end the same way:
 * status, bytes, the connection kept, the upstream reusable.
 */
#ifndef SLUICE_PROXY_SPLICE_DIFF_H
#define SLUICE_PROXY_SPLICE_DIFF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/lib/splice_head.h"
#include "http_conn.h"

struct splice_diff_out {
	char buf[SLUICE_SPLICE_HEAD_MAX + 4096];
	size_t len;      /* all bytes to the client, also those not kept */
	int ndone;
	struct http_exchange last;
};

static void splice_diff_to_up(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
}

static void splice_diff_to_client(void *ctx, const char *p, size_t n)
{
	struct splice_diff_out *o = ctx;
	size_t room = o->len < sizeof(o->buf) ? sizeof(o->buf) - o->len : 0;

	memcpy(o->buf + o->len, p, n < room ? n : room);
	o->len += n;
}

static enum proxy_match splice_diff_decide(void *ctx, const struct proxy_request_view *req)
{
	(void)ctx;
	(void)req;
	return PROXY_MATCH_ALLOW;
}

static void splice_diff_done(void *ctx, const struct http_exchange *x)
{
	struct splice_diff_out *o = ctx;

	o->ndone++;
	o->last = *x;
}

static const struct http_conn_ops splice_diff_ops = {
	.to_upstream = splice_diff_to_up, .to_client = splice_diff_to_client,
	.decide = splice_diff_decide, .done = splice_diff_done,
};

/*
 * One response r[0, n) in one send. Returns -1 when the kernel and the
 * proxy disagree (what about in *why), 1 when the kernel would splice it
 * and both agree, 0 when the kernel leaves it to the proxy.
 */
static int splice_diff(const char *r, size_t n, const char **why)
{
	static const char req[] = "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n";
	struct splice_head *h = calloc(1, sizeof(*h));
	struct splice_diff_out *o = malloc(sizeof(*o));
	char want[SLUICE_SPLICE_HEAD_MAX + 4096];
	size_t wlen = 0, run = 0, body;
	__u32 m = n < SLUICE_SPLICE_HEAD_MAX ? (__u32)n : SLUICE_SPLICE_HEAD_MAX;
	int rc = 1;

	*why = NULL;
	if (!h || !o)
		abort();
	memcpy(h->buf, r, m);
	/* bpf_skmsg.c's splice_head(): at least 19 bytes, a simple head,
	 * nothing after the body */
	if (n < 19 || !splice_head_read(h, m) || n - h->head_len > h->content_length ||
	    n - h->head_len > 4096) {
		rc = 0;
		goto out;
	}
	body = n - h->head_len;
	for (__u32 i = 0; i < h->ndrop; i++) {
		memcpy(want + wlen, r + run, h->drop_off[i] - run);
		wlen += h->drop_off[i] - run;
		run = h->drop_end[i];
	}
	memcpy(want + wlen, r + run, n - run);
	wlen += n - run;
	for (int full = 0; full < 2 && rc == 1; full++) {
		struct http_conn c;

		memset(o, 0, sizeof(*o));
		http_conn_init(&c, &splice_diff_ops, o);
		http_conn_set_full_parse(&c, full);
		http_conn_feed_request(&c, req, sizeof(req) - 1);
		if (!full && !http_conn_splice_ok(&c)) {
			*why = "the request would not be armed";
			rc = -1;
		} else if (http_conn_feed_response(&c, r, n), o->len != wlen ||
			   memcmp(o->buf, want, wlen)) {
			*why = full ? "llhttp sends other bytes" : "the proxy sends other bytes";
			rc = -1;
		} else if (body == h->content_length &&
			   (o->ndone != 1 || o->last.status != (int)h->status ||
			    o->last.bytes_out != wlen || !c.up_reusable ||
			    http_conn_phase(&c) != HTTP_PH_IDLE)) {
			*why = "the exchange ends otherwise";
			rc = -1;
		} else if (body < h->content_length && o->ndone) {
			*why = "the proxy ended the exchange before the body";
			rc = -1;
		}
		http_conn_release(&c, HTTP_R_NONE);
	}
out:
	free(h);
	free(o);
	return rc;
}

#endif /* SLUICE_PROXY_SPLICE_DIFF_H */
