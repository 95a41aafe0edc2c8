/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP state machine on raw bytes: every hardening rule (the request is
 * answered 400/431 and not one byte goes upstream), keep-alive, pipelining,
 * bodies, response framing, upgrades, timeouts; and the one-parse path of
 * common heads against llhttp's second parse, case by case and byte by byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http_conn.h"
#include "rules_json.h"

#define OUT_MAX (256 * 1024)

struct harness {
	struct http_conn c;
	struct proxy_rules_table *rules;
	char *up, *cl;
	size_t uplen, cllen;
	int ndecide, ndone;
	struct http_exchange last;
	char last_path[512];
	char last_host[256];
	char pending[OUT_MAX]; /* request bytes not consumed yet */
	size_t npending;
};

static void h_to_up(void *ctx, const char *p, size_t n)
{
	struct harness *h = ctx;
	assert_true(h->uplen + n <= OUT_MAX);
	memcpy(h->up + h->uplen, p, n);
	h->uplen += n;
}

static void h_to_client(void *ctx, const char *p, size_t n)
{
	struct harness *h = ctx;
	assert_true(h->cllen + n <= OUT_MAX);
	memcpy(h->cl + h->cllen, p, n);
	h->cllen += n;
}

static enum proxy_match h_decide(void *ctx, const struct proxy_request_view *req)
{
	struct harness *h = ctx;
	struct proxy_rules_key k = { .ep_id = 1, .port = 80, .peer_identity = 2 };
	h->ndecide++;
	return proxy_rule_set_match(proxy_rules_lookup(h->rules, &k), req);
}

static void h_done(void *ctx, const struct http_exchange *x)
{
	struct harness *h = ctx;
	h->ndone++;
	h->last = *x;
	snprintf(h->last_path, sizeof(h->last_path), "%.*s", (int)x->path_len, x->path ? x->path : "");
	snprintf(h->last_host, sizeof(h->last_host), "%.*s", (int)x->host_len, x->host ? x->host : "");
	h->last.path = NULL;
	h->last.host = NULL;
	h->last.method = NULL;
}

static const struct http_conn_ops h_ops = {
	.to_upstream = h_to_up, .to_client = h_to_client, .decide = h_decide, .done = h_done,
};

static const char *const h_rules_json =
	"{\"rules\":["
	"{\"method\":\"GET\",\"path\":\"/api/users/.*\"},"
	"{\"method\":\"GET\",\"path\":\"/public\"},"
	"{\"method\":\"HEAD\",\"path\":\"/public\"},"
	"{\"method\":\"POST\",\"path\":\"/upload\"},"
	"{\"method\":\"GET\",\"path\":\"/ws\",\"headers\":[\"Upgrade: websocket\"]},"
	"{\"method\":\"CONNECT\",\"host\":\"allowed:443\"},"
	"{\"method\":\"OPTIONS\",\"path\":\"\\\\*\"}]}";

static int h_setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct proxy_rules_key k = { .ep_id = 1, .port = 80, .peer_identity = 2 };
	char *err = NULL;

	h->up = malloc(OUT_MAX);
	h->cl = malloc(OUT_MAX);
	if (proxy_rules_json_load(h_rules_json, strlen(h_rules_json), &k, &h->rules, &err))
		fail_msg("rules: %s", err);
	http_conn_init(&h->c, &h_ops, h);
	*state = h;
	return 0;
}

static int h_teardown(void **state)
{
	struct harness *h = *state;
	http_conn_release(&h->c, HTTP_R_CLIENT_CLOSED);
	proxy_rules_table_free(h->rules);
	free(h->up);
	free(h->cl);
	free(h);
	return 0;
}

static void h_reset(struct harness *h)
{
	http_conn_release(&h->c, HTTP_R_CLIENT_CLOSED);
	http_conn_init(&h->c, &h_ops, h);
	h->uplen = h->cllen = 0;
	h->ndecide = h->ndone = 0;
	h->npending = 0;
	memset(&h->last, 0, sizeof(h->last));
}

/* Feeds like the proxy does: what is not consumed waits for the next call. */
static void h_feed(struct harness *h, const char *p, size_t n)
{
	size_t used;

	assert_true(h->npending + n <= sizeof(h->pending));
	memcpy(h->pending + h->npending, p, n);
	h->npending += n;
	while (h->npending && http_conn_accepts_request_bytes(&h->c)) {
		used = http_conn_feed_request(&h->c, h->pending, h->npending);
		if (!used)
			break;
		memmove(h->pending, h->pending + used, h->npending - used);
		h->npending -= used;
	}
}

static void h_feed_s(struct harness *h, const char *s)
{
	h_feed(h, s, strlen(s));
}

static void h_resp(struct harness *h, const char *s)
{
	http_conn_feed_response(&h->c, s, strlen(s));
	h_feed(h, "", 0); /* the proxy re-feeds waiting bytes after each event */
}

static bool h_client_has(struct harness *h, const char *s)
{
	return memmem(h->cl, h->cllen, s, strlen(s)) != NULL;
}

static bool h_up_is(struct harness *h, const char *s)
{
	return h->uplen == strlen(s) && !memcmp(h->up, s, h->uplen);
}

/* ---- hardening: each raw request is refused before anything goes upstream */

struct bad_case {
	const char *name;
	const char *req;
	size_t len; /* 0 = strlen */
	int status;
	enum http_reason reason; /* HTTP_R_NONE = any */
};

#define B(name, req, status, reason) { name, req, sizeof(req) - 1, status, reason }

static const struct bad_case bad_cases[] = {
	/* framing */
	B("cl+te", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, HTTP_R_CL_TE),
	B("te+cl", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, HTTP_R_CL_TE),
	B("te gzip,chunked", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400, HTTP_R_TRANSFER_ENCODING),
	B("te chunked,chunked", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, HTTP_R_TRANSFER_ENCODING),
	B("te gzip", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, HTTP_R_TRANSFER_ENCODING),
	B("te identity", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400, HTTP_R_TRANSFER_ENCODING),
	B("te twice", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, HTTP_R_TRANSFER_ENCODING),
	B("te xchunked", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, HTTP_R_TRANSFER_ENCODING),
	B("te http/1.0", "POST /upload HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, HTTP_R_TRANSFER_ENCODING),
	B("cl twice same", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, HTTP_R_CONTENT_LENGTH),
	B("cl twice differ", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, HTTP_R_CONTENT_LENGTH),
	B("cl list", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\nhello", 400, HTTP_R_CONTENT_LENGTH),
	B("cl plus", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400, HTTP_R_CONTENT_LENGTH),
	B("cl minus", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, HTTP_R_CONTENT_LENGTH),
	B("cl hex", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", 400, HTTP_R_CONTENT_LENGTH),
	B("cl space inside", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello", 400, HTTP_R_CONTENT_LENGTH),
	B("cl empty", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400, HTTP_R_CONTENT_LENGTH),
	B("cl overflow", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, HTTP_R_CONTENT_LENGTH),
	B("cl 2^64", "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400, HTTP_R_CONTENT_LENGTH),
	/* line endings */
	B("bare lf everywhere", "GET /public HTTP/1.1\nHost: a\n\n", 400, HTTP_R_NONE),
	B("bare lf in header", "GET /public HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, HTTP_R_BARE_LF),
	B("bare lf end", "GET /public HTTP/1.1\r\nHost: a\r\n\n", 400, HTTP_R_BARE_LF),
	B("bare cr in header", "GET /public HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400, HTTP_R_BARE_CR),
	B("bare cr request line", "GET /public HTTP/1.1\rHost: a\r\n\r\n", 400, HTTP_R_BARE_CR),
	B("bare cr end", "GET /public HTTP/1.1\r\nHost: a\r\n\r\r\n", 400, HTTP_R_BARE_CR),
	/* header syntax */
	B("obs-fold", "GET /public HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400, HTTP_R_OBS_FOLD),
	B("obs-fold tab", "GET /public HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400, HTTP_R_OBS_FOLD),
	B("space before colon", "GET /public HTTP/1.1\r\nHost : a\r\n\r\n", 400, HTTP_R_HEADER_WHITESPACE),
	B("tab before colon", "GET /public HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, HTTP_R_HEADER_WHITESPACE),
	B("space before colon te", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc", 400, HTTP_R_HEADER_WHITESPACE),
	B("leading ws first field", "GET /public HTTP/1.1\r\n Host: a\r\n\r\n", 400, HTTP_R_HEADER_WHITESPACE),
	B("empty name", "GET /public HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, HTTP_R_HEADER_NAME),
	B("bad name char", "GET /public HTTP/1.1\r\nHost: a\r\nX(y): x\r\n\r\n", 400, HTTP_R_HEADER_NAME),
	B("no colon", "GET /public HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n", 400, HTTP_R_HEADER_NAME),
	B("ctl 0x01", "GET /public HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400, HTTP_R_HEADER_CTL),
	B("ctl nul", "GET /public HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400, HTTP_R_HEADER_CTL),
	B("ctl del", "GET /public HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400, HTTP_R_HEADER_CTL),
	B("ctl esc", "GET /public HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n", 400, HTTP_R_HEADER_CTL),
	/* Host */
	B("no host 1.1", "GET /public HTTP/1.1\r\nX: y\r\n\r\n", 400, HTTP_R_HOST),
	B("two hosts", "GET /public HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, HTTP_R_HOST),
	B("two hosts 1.0", "GET /public HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400, HTTP_R_HOST),
	B("empty host", "GET /public HTTP/1.1\r\nHost: \r\n\r\n", 400, HTTP_R_HOST),
	B("host with space", "GET /public HTTP/1.1\r\nHost: a b\r\n\r\n", 400, HTTP_R_HOST),
	B("host userinfo", "GET /public HTTP/1.1\r\nHost: evil@a\r\n\r\n", 400, HTTP_R_HOST),
	B("host path", "GET /public HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, HTTP_R_HOST),
	B("host bad port", "GET /public HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400, HTTP_R_HOST),
	B("host bad v6", "GET /public HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, HTTP_R_HOST),
	/* targets */
	B("absolute-form", "GET http://a/public HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_TARGET_FORM),
	B("authority-form", "GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_TARGET_FORM),
	B("asterisk-form GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_TARGET_FORM),
	B("connect origin-form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_TARGET_FORM),
	B("connect no port", "CONNECT allowed HTTP/1.1\r\nHost: allowed\r\n\r\n", 400, HTTP_R_TARGET_FORM),
	B("fragment", "GET /public#x HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_FRAGMENT),
	B("fragment in query", "GET /public?a#x HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_FRAGMENT),
	B("encoded slash", "GET /api/users%2f..%2f..%2fadmin HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_PATH),
	B("encoded backslash", "GET /api/users/%5c..%5cadmin HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_PATH),
	B("double encoding", "GET /api/users/%252e%252e/admin HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_PATH),
	B("raw backslash", "GET /api/users/..\\admin HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_PATH),
	B("nul escape", "GET /public%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_PATH),
	B("bad utf8", "GET /api/users/\xc0\xae HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_NONE),
	B("dot param", "GET /api/users/..;/admin HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_PATH),
	/* request line */
	B("double space", "GET  /public HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_REQUEST_LINE),
	B("space after version", "GET /public HTTP/1.1 \r\nHost: a\r\n\r\n", 400, HTTP_R_REQUEST_LINE),
	B("tab separator", "GET\t/public HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_REQUEST_LINE),
	B("http/0.9", "GET /public\r\n\r\n", 400, HTTP_R_REQUEST_LINE),
	B("http/2.0", "GET /public HTTP/2.0\r\nHost: a\r\n\r\n", 400, HTTP_R_VERSION),
	B("http/1.2", "GET /public HTTP/1.2\r\nHost: a\r\n\r\n", 400, HTTP_R_VERSION),
	B("lowercase http", "GET /public http/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_REQUEST_LINE),
	B("unknown method", "FOO /public HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_PARSER),
	B("lowercase method", "get /public HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_PARSER),
	B("junk", "\x01\x02\x03\r\n\r\n", 400, HTTP_R_REQUEST_LINE),
	B("ctl in target", "GET /pub\x01lic HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_R_REQUEST_LINE),
	B("pri", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, HTTP_R_VERSION),
	B("h2c upgrade", "GET /public HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", 400, HTTP_R_UPGRADE_H2C),
	/* chunked body of an allowed request: head may go, the body never completes */
	B("chunk ext ctl", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", 400, HTTP_R_CHUNK),
	B("chunk size hex prefix", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, HTTP_R_CHUNK),
	B("chunk size space", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 400, HTTP_R_CHUNK),
	B("chunk size bare lf", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400, HTTP_R_CHUNK),
	B("chunk size overflow", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400, HTTP_R_CHUNK),
	B("chunk no crlf after data", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400, HTTP_R_NONE),
	B("chunk size negative", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400, HTTP_R_CHUNK),
	B("chunk trailer bare lf", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\n\r\n", 400, HTTP_R_NONE),
};

static void test_hardening_table(void **state)
{
	struct harness *h = *state;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		char status[32];
		bool body_case = bc->reason == HTTP_R_CHUNK || !strncmp(bc->name, "chunk", 5);

		h_reset(h);
		h_feed(h, bc->req, bc->len);
		snprintf(status, sizeof(status), "HTTP/1.1 %d ", bc->status);
		if (h->cllen < strlen(status) || memcmp(h->cl, status, strlen(status)))
			fail_msg("case \"%s\": client got \"%.*s\", want %d", bc->name,
				 (int)(h->cllen > 40 ? 40 : h->cllen), h->cl, bc->status);
		if (!h_client_has(h, "Connection: close\r\n"))
			fail_msg("case \"%s\": no Connection: close", bc->name);
		if (http_conn_phase(&h->c) != HTTP_PH_CLOSING)
			fail_msg("case \"%s\": connection not closing", bc->name);
		if (bc->reason != HTTP_R_NONE && h->last.reason != bc->reason)
			fail_msg("case \"%s\": reason %s, want %s", bc->name,
				 http_reason_name(h->last.reason), http_reason_name(bc->reason));
		if (h->last.verdict != HTTP_VERDICT_ERROR || h->ndone != 1)
			fail_msg("case \"%s\": verdict %d ndone %d", bc->name, h->last.verdict, h->ndone);
		if (!body_case) {
			if (h->uplen || h->ndecide)
				fail_msg("case \"%s\": %zu bytes went upstream", bc->name, h->uplen);
		} else {
			/* the head of an allowed request went, but never a complete
			 * message: the body terminator must not have been sent */
			if (memmem(h->up, h->uplen, "0\r\n\r\n", 5))
				fail_msg("case \"%s\": a complete body went upstream", bc->name);
		}
		/* also fed one byte at a time */
		h_reset(h);
		for (size_t k = 0; k < bc->len && http_conn_phase(&h->c) != HTTP_PH_CLOSING; k++)
			h_feed(h, bc->req + k, 1);
		if (h->cllen < strlen(status) || memcmp(h->cl, status, strlen(status)))
			fail_msg("case \"%s\" (bytewise): client got \"%.*s\"", bc->name,
				 (int)(h->cllen > 40 ? 40 : h->cllen), h->cl);
		if (!body_case && h->uplen)
			fail_msg("case \"%s\" (bytewise): bytes went upstream", bc->name);
	}
}

static void test_header_limits(void **state)
{
	struct harness *h = *state;
	char *req = malloc(80 * 1024);
	size_t n;

	/* 101 fields -> 431 */
	n = (size_t)sprintf(req, "GET /public HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(req + n, "X-%d: v\r\n", i);
	n += (size_t)sprintf(req + n, "\r\n");
	h_reset(h);
	h_feed(h, req, n);
	assert_true(h_client_has(h, "HTTP/1.1 431 "));
	assert_int_equal(h->last.reason, HTTP_R_TOO_MANY_FIELDS);
	assert_int_equal(h->uplen, 0);

	/* exactly 100 fields is fine */
	n = (size_t)sprintf(req, "GET /public HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 99; i++)
		n += (size_t)sprintf(req + n, "X-%d: v\r\n", i);
	n += (size_t)sprintf(req + n, "\r\n");
	h_reset(h);
	h_feed(h, req, n);
	assert_int_equal(h->cllen, 0);
	assert_true(h->uplen > 0);

	/* a header section over 60 KiB -> 431, even with few fields */
	n = (size_t)sprintf(req, "GET /public HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(req + n, 'a', 61 * 1024);
	n += 61 * 1024;
	n += (size_t)sprintf(req + n, "\r\n\r\n");
	h_reset(h);
	h_feed(h, req, n);
	assert_true(h_client_has(h, "HTTP/1.1 431 "));
	assert_int_equal(h->last.reason, HTTP_R_HEADERS_TOO_LARGE);
	assert_int_equal(h->uplen, 0);
	free(req);
}

/* ---- normal operation --------------------------------------------------- */

static void test_allowed_canonical_upstream(void **state)
{
	struct harness *h = *state;

	h_reset(h);
	h_feed_s(h, "GET /public/../api//users/%61%62?q=%2F..&x=1 HTTP/1.1\r\nHost: svc:80\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n");
	assert_true(h_up_is(h, "GET /api/users/ab?q=%2F..&x=1 HTTP/1.1\r\nHost: svc:80\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"));
	assert_int_equal(h->cllen, 0);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_WAIT);
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_true(h_client_has(h, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->last.status, 200);
	assert_int_equal(h->last.verdict, HTTP_VERDICT_ALLOWED);
	assert_string_equal(h->last_path, "/api/users/ab?q=%2F..&x=1"); /* Envoy's :path */
	assert_string_equal(h->last_host, "svc:80");
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
}

static void test_denied_403_keepalive(void **state)
{
	struct harness *h = *state;
	static const char want403[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 15\r\n"
		"Content-Type: text/plain\r\n\r\nAccess denied\r\n";

	h_reset(h);
	h_feed_s(h, "DELETE /api/users/1 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(h->cllen, sizeof(want403) - 1);
	assert_memory_equal(h->cl, want403, h->cllen);
	assert_int_equal(h->uplen, 0);
	assert_int_equal(h->last.verdict, HTTP_VERDICT_DENIED);
	assert_int_equal(h->last.reason, HTTP_R_POLICY_DENIED);
	assert_int_equal(h->last.status, 403);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
	/* the same connection then carries allowed and denied requests */
	h->cllen = 0;
	h_feed_s(h, "GET /api/users/2 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h->uplen > 0);
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	h_feed_s(h, "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h_client_has(h, "HTTP/1.1 200 OK"));
	assert_true(h_client_has(h, "Access denied"));
	assert_int_equal(h->ndone, 3);
	/* rules see the path with its query, as Envoy's ":path" (Cilium S3):
	 * under "/public", /public?x=1 and /public/x are both denied */
	h->uplen = 0;
	h_feed_s(h, "GET /public?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(h->uplen, 0);
	assert_int_equal(h->last.status, 403);
	h->uplen = 0;
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h->uplen > 0);
	h_resp(h, "HTTP/1.1 204 No Content\r\n\r\n");
	h->uplen = 0;
	h_feed_s(h, "GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(h->uplen, 0);
	assert_int_equal(h->last.status, 403);
	/* a denied HEAD: the same header section, no body */
	h->cllen = 0;
	h_feed_s(h, "HEAD /admin HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h_client_has(h, "HTTP/1.1 403 Forbidden\r\nContent-Length: 15\r\n"));
	assert_false(h_client_has(h, "Access denied"));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
	/* Connection: close on a denied request -> 403 with close */
	h->cllen = 0;
	h_feed_s(h, "GET /admin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	assert_true(h_client_has(h, "Connection: close\r\n"));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
}

static void test_denied_body_drained(void **state)
{
	struct harness *h = *state;

	h_reset(h);
	h_feed_s(h, "POST /admin HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234");
	assert_true(h_client_has(h, "403 Forbidden"));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_BODY);
	h_feed_s(h, "56789GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n"));
	/* denied chunked body drained too */
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	h->uplen = 0;
	h_feed_s(h, "POST /nope HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		    "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n"));
	/* too big to drain: 403 and close */
	h_reset(h);
	h_feed_s(h, "POST /admin HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999\r\n\r\n");
	assert_true(h_client_has(h, "Connection: close"));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* Expect: 100-continue on a denied body: 403 and close */
	h_reset(h);
	h_feed_s(h, "POST /admin HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
	assert_true(h_client_has(h, "Connection: close"));
	assert_int_equal(h->uplen, 0);
}

static void test_pipelined(void **state)
{
	struct harness *h = *state;

	h_reset(h);
	h_feed_s(h, "GET /api/users/1 HTTP/1.1\r\nHost: a\r\n\r\n"
		    "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
		    "GET /api/users/3 HTTP/1.1\r\nHost: a\r\n\r\n");
	/* only the first went; the others wait for its response */
	assert_true(h_up_is(h, "GET /api/users/1 HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_int_equal(h->cllen, 0);
	h->uplen = 0;
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
	/* response 1, then the 403 for request 2, in order; request 3 forwarded */
	{
		const char *a = memmem(h->cl, h->cllen, "one", 3);
		const char *b = memmem(h->cl, h->cllen, "Access denied", 13);
		assert_non_null(a);
		assert_non_null(b);
		assert_true(a < b);
	}
	assert_true(h_up_is(h, "GET /api/users/3 HTTP/1.1\r\nHost: a\r\n\r\n"));
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree");
	assert_true(h_client_has(h, "three"));
	assert_int_equal(h->ndone, 3);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
}

static void test_chunked_upload_rechunked(void **state)
{
	struct harness *h = *state;

	h_reset(h);
	h_feed_s(h, "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5;name=val\r\nhello\r\n");
	h_feed_s(h, "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n");
	assert_true(h_up_is(h, "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_WAIT);
	h_resp(h, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
	assert_int_equal(h->last.status, 201);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
	/* Content-Length body streamed as is */
	h->uplen = 0;
	h_feed_s(h, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab");
	h_feed_s(h, "cd");
	assert_true(h_up_is(h, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd"));
}

static void test_response_framing(void **state)
{
	struct harness *h = *state;

	h_reset(h);
	/* HEAD: Content-Length without a body */
	h_feed_s(h, "HEAD /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
	assert_int_equal(h->ndone, 1);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
	/* 304 and 204 end at the header section */
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
	assert_int_equal(h->ndone, 2);
	assert_int_equal(h->last.status, 304);
	/* 100 Continue is interim: forwarded, the exchange goes on */
	h_feed_s(h, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
	h_resp(h, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_true(h_client_has(h, "100 Continue"));
	assert_int_equal(h->ndone, 2);
	h_feed_s(h, "hi");
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(h->ndone, 3);
	assert_int_equal(h->last.status, 200);
	/* a response without length ends at upstream EOF, then we close */
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\n\r\nstream...");
	assert_int_equal(h->ndone, 3);
	http_conn_upstream_eof(&h->c);
	assert_int_equal(h->ndone, 4);
	assert_int_equal(h->last.verdict, HTTP_VERDICT_ALLOWED);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* Connection: close from upstream closes after the response */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx");
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* HTTP/1.0 without Host: allowed, host "", closes after */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.0\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.0\r\n\r\n"));
	h_resp(h, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx");
	assert_string_equal(h->last_host, "");
	assert_int_equal(h->last.http_minor, 0);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* a broken response before anything was sent: 502 */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 2x0 OK\r\n\r\n");
	assert_true(h_client_has(h, "HTTP/1.1 502 "));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* the upstream closes before answering: 502; cannot connect: 503 */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	http_conn_upstream_eof(&h->c);
	assert_true(h_client_has(h, "HTTP/1.1 502 "));
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	http_conn_upstream_error(&h->c, HTTP_R_UPSTREAM_CONNECT);
	assert_true(h_client_has(h, "HTTP/1.1 503 "));
	assert_int_equal(h->last.reason, HTTP_R_UPSTREAM_CONNECT);
}

static void test_upgrade_and_connect(void **state)
{
	struct harness *h = *state;

	h_reset(h);
	/* denied upgrade: 403, stays HTTP */
	h_feed_s(h, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\n");
	assert_true(h_client_has(h, "403"));
	assert_int_equal(h->uplen, 0);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h->uplen > 0);
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	/* allowed websocket: 101, then a tunnel both ways */
	h->uplen = h->cllen = 0;
	h_feed_s(h, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nEARLY");
	assert_true(h_up_is(h, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"));
	h_resp(h, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nFROMSRV");
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_TUNNEL);
	assert_int_equal(h->last.status, 101);
	assert_true(h_client_has(h, "FROMSRV"));
	assert_non_null(memmem(h->up, h->uplen, "EARLY", 5));
	h_feed_s(h, "\x81\x05 GET /admin HTTP/1.1\r\n");
	assert_non_null(memmem(h->up, h->uplen, "GET /admin", 10));
	h_resp(h, "more");
	assert_true(h_client_has(h, "more"));

	/* upgrade declined by the upstream: stays HTTP */
	h_reset(h);
	h_feed_s(h, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
	h->uplen = 0;
	h_feed_s(h, "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(h->uplen, 0);
	assert_true(h_client_has(h, "403"));

	/* CONNECT: allowed by host, tunnel after 200 */
	h_reset(h);
	h_feed_s(h, "CONNECT allowed:443 HTTP/1.1\r\nHost: allowed:443\r\n\r\n");
	assert_true(h_up_is(h, "CONNECT allowed:443 HTTP/1.1\r\nHost: allowed:443\r\n\r\n"));
	h_resp(h, "HTTP/1.1 200 Connection established\r\n\r\n");
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_TUNNEL);
	/* CONNECT denied: 403 and close */
	h_reset(h);
	h_feed_s(h, "CONNECT other:443 HTTP/1.1\r\nHost: other:443\r\n\r\n");
	assert_true(h_client_has(h, "403"));
	assert_int_equal(h->uplen, 0);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* OPTIONS * is the only asterisk-form */
	h_reset(h);
	h_feed_s(h, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h_up_is(h, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"));
}

static void test_timeouts_and_eof(void **state)
{
	struct harness *h = *state;

	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHo");
	http_conn_timeout(&h->c);
	assert_true(h_client_has(h, "HTTP/1.1 408 "));
	assert_int_equal(h->last.reason, HTTP_R_HEADER_TIMEOUT);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	assert_int_equal(h->uplen, 0);
	/* idle: just close */
	h_reset(h);
	http_conn_timeout(&h->c);
	assert_int_equal(h->cllen, 0);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* client half-close after its request: the response still arrives */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	http_conn_client_eof(&h->c);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_WAIT);
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	assert_true(h_client_has(h, "200 OK"));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* leading empty lines are tolerated (RFC 9112 2.2) */
	h_reset(h);
	h_feed_s(h, "\r\n\r\nGET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n"));
	/* an upstream talking out of turn is cut off */
	h_reset(h);
	h_resp(h, "HTTP/1.1 200 OK\r\n\r\n");
	assert_int_equal(h->cllen, 0);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
}

/* Heads come back to the cache between requests and serve the next
 * request of any connection; a head grown past its inline part (a large
 * header section) is kept small; the cache holds at most its bound. The
 * ASan build checks that nothing is used after its return or leaked. */
static void test_head_cache(void **state)
{
	struct harness *h = *state, *b;
	struct http_head_cache hc = { .n = 0 };
	static char big[8192];
	int n;

	h_setup((void **)&b);
	h_reset(h);
	h->c.heads = &hc;
	b->c.heads = &hc;
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(hc.n, 0); /* in use until the response */
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(hc.n, 1);
	assert_string_equal(h->last_path, "/public");
	/* the other connection's request takes it, and a pipelined pair on
	 * this one needs a second head */
	h_feed_s(b, "GET /api/users/7 HTTP/1.1\r\nHost: b\r\n\r\n");
	assert_int_equal(hc.n, 0);
	h_feed_s(h, "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\nGET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(h->ndone, 2); /* the 403 went out, the GET waits */
	assert_int_equal(hc.n, 0);     /* with the DELETE's head */
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	h_resp(b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_string_equal(b->last_path, "/api/users/7");
	assert_string_equal(b->last_host, "b");
	assert_int_equal(hc.n, 2);
	/* a head that grew (8 KiB of fields) comes back with its inline part only */
	n = snprintf(big, sizeof(big), "GET /public HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(big + n, 'v', 6000);
	memcpy(big + n + 6000, "\r\n\r\n", 4);
	h_feed(h, big, (size_t)n + 6004);
	assert_true(h->uplen > 6000);
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(hc.n, 2);
	h->uplen = 0;
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n"));
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	/* bounded: more requests in flight than it keeps, then all released */
	{
		struct harness *x[HTTP_HEAD_CACHE_MAX + 3];

		for (unsigned i = 0; i < HTTP_HEAD_CACHE_MAX + 3; i++) {
			h_setup((void **)&x[i]);
			x[i]->c.heads = &hc;
			h_feed_s(x[i], "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
		}
		assert_int_equal(hc.n, 0);
		for (unsigned i = 0; i < HTTP_HEAD_CACHE_MAX + 3; i++)
			h_teardown((void **)&x[i]); /* releases its head mid-request */
	}
	assert_int_equal(hc.n, HTTP_HEAD_CACHE_MAX);
	h->c.heads = NULL;
	h_teardown((void **)&b);
	http_head_cache_clear(&hc);
	assert_int_equal(hc.n, 0);
}

/* ---- one parse against two ------------------------------------------ */

/* Runs req (then answers each request the upstream got with a 200 and
 * feeds what waited) and keeps what the client and the upstream saw. */
static void h_run(struct harness *h, bool full, const char *req, size_t len, bool bytewise)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	h_reset(h);
	http_conn_set_full_parse(&h->c, full);
	if (bytewise) {
		for (size_t k = 0; k < len && http_conn_phase(&h->c) != HTTP_PH_CLOSING; k++)
			h_feed(h, req + k, 1);
	} else {
		h_feed(h, req, len);
	}
	for (int i = 0; i < 4 && http_conn_request_pending(&h->c); i++)
		h_resp(h, ok);
	http_conn_client_eof(&h->c);
}

static void h_same(struct harness *a, struct harness *b, const char *req, size_t len,
		   bool bytewise)
{
	h_run(a, false, req, len, bytewise);
	h_run(b, true, req, len, bytewise);
	if (a->cllen != b->cllen || memcmp(a->cl, b->cl, a->cllen) || a->uplen != b->uplen ||
	    memcmp(a->up, b->up, a->uplen) || a->ndone != b->ndone || a->ndecide != b->ndecide ||
	    a->last.verdict != b->last.verdict || a->last.reason != b->last.reason ||
	    a->last.status != b->last.status || a->last.bytes_in != b->last.bytes_in ||
	    http_conn_phase(&a->c) != http_conn_phase(&b->c) || a->c.keep_alive != b->c.keep_alive ||
	    a->c.up_reusable != b->c.up_reusable)
		fail_msg("\"%.*s\"%s: one parse: %d %s to client %zu up %zu; llhttp too: %d %s "
			 "to client %zu up %zu", (int)(len > 120 ? 120 : len), req,
			 bytewise ? " (bytewise)" : "", a->last.status,
			 http_reason_name(a->last.reason), a->cllen, a->uplen, b->last.status,
			 http_reason_name(b->last.reason), b->cllen, b->uplen);
}

static void test_one_parse_same(void **state)
{
	static const char *const methods[] = {
		"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
		"FOO", "PRI", "MKCOL", "get", "GETT",
	};
	static const char *const targets[] = { "/public", "/upload", "*", "allowed:443", "/api/users/1?a=b" };
	static const char *const fields[] = {
		"", "Connection: close\r\n", "Connection: keep-alive\r\n", "connection: CLOSE\r\n",
		"Connection: Upgrade\r\nUpgrade: websocket\r\n", "Keep-Alive: 5\r\n",
		"Proxy-Connection: close\r\n", "Proxy-Connection: keep-alive\r\n",
		"Content-Length: 0\r\n", "Content-Length: 2\r\n", "Transfer-Encoding: chunked\r\n",
		"Expect: 100-continue\r\n", "Upgrade: websocket\r\n", "Connectio: close\r\n",
		"X-Connection: close\r\n", "Content-Lengths: 5\r\n", "TE: trailers\r\n",
		"TE: gzip\r\nTrailer: X-T\r\n",
	};
	struct harness *a = *state, *b;
	char req[512];

	h_setup((void **)&b);
	/* the hardening table */
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		h_same(a, b, bad_cases[i].req, bad_cases[i].len, false);
		h_same(a, b, bad_cases[i].req, bad_cases[i].len, true);
	}
	/* methods x targets x versions x fields, alone and pipelined, then a
	 * body or the next request */
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
		for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
			for (int v = 0; v < 2; v++)
				for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
					int n = snprintf(req, sizeof(req),
							 "%s %s HTTP/1.%d\r\nHost: allowed:443\r\n%s\r\n"
							 "okGET /public HTTP/1.1\r\nHost: a\r\n\r\n",
							 methods[m], targets[t], v, fields[f]);
					h_same(a, b, req, (size_t)n, false);
					h_same(a, b, req, (size_t)n, true);
				}
	/* every byte in the path, the query, a field value and a field name */
	for (int c = 0; c < 256; c++) {
		static const char *const shapes[] = {
			"GET /api/users/a%cb HTTP/1.1\r\nHost: a\r\n\r\n",
			"GET /public?q=a%cb HTTP/1.1\r\nHost: a\r\n\r\n",
			"GET /public HTTP/1.1\r\nHost: a\r\nX-A: a%cb\r\n\r\n",
			"GET /public HTTP/1.1\r\nHost: a\r\nX-%cA: b\r\n\r\n",
			"GET /public HTTP/1.1\r\nHost: a%c\r\n\r\n",
			"%cGET /public HTTP/1.1\r\nHost: a\r\n\r\n",
			"G%cT /public HTTP/1.1\r\nHost: a\r\n\r\n",
		};
		for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
			int n = snprintf(req, sizeof(req), shapes[k], c ? c : 'x');

			if (!c) /* a NUL byte in place of the 'x' */
				*strchr(req, 'x') = '\0';
			h_same(a, b, req, (size_t)n, false);
		}
	}
	h_teardown((void **)&b);
}

/* ---- responses: one parse against llhttp ---------------------------- */

/* req, then resp in two pieces (at split; 0: whole) or byte by byte
 * (split < 0), then tail (the rest of the request body), the upstream's EOF
 * if it is still awaited, and on a connection still open a next exchange
 * that llhttp parses (chunked): it starts where the first left llhttp. */
static void h_run_resp(struct harness *h, bool full, const char *req, const char *resp,
		       size_t len, long split, const char *tail)
{
	static const char next_req[] = "GET /public HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char next_resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
					"2\r\nok\r\n0\r\n\r\n";

	h_reset(h);
	http_conn_set_full_parse(&h->c, full);
	h_feed_s(h, req);
	if (split < 0) {
		for (size_t k = 0; k < len && http_conn_phase(&h->c) != HTTP_PH_CLOSING; k++) {
			http_conn_feed_response(&h->c, resp + k, 1);
			h_feed(h, "", 0);
		}
	} else {
		if (split)
			http_conn_feed_response(&h->c, resp, (size_t)split);
		h_feed(h, "", 0);
		if ((size_t)split < len)
			http_conn_feed_response(&h->c, resp + split, len - (size_t)split);
		h_feed(h, "", 0);
	}
	h_feed_s(h, tail);
	if (http_conn_request_pending(&h->c))
		http_conn_upstream_eof(&h->c);
	h_feed(h, "", 0);
	if (http_conn_phase(&h->c) == HTTP_PH_IDLE) {
		h_feed_s(h, next_req);
		h_resp(h, next_resp);
	}
}

static void h_same_resp(struct harness *a, struct harness *b, const char *req, const char *resp,
			size_t len, long split, const char *tail)
{
	h_run_resp(a, false, req, resp, len, split, tail);
	h_run_resp(b, true, req, resp, len, split, tail);
	if (a->cllen != b->cllen || memcmp(a->cl, b->cl, a->cllen) || a->uplen != b->uplen ||
	    memcmp(a->up, b->up, a->uplen) || a->ndone != b->ndone ||
	    a->last.verdict != b->last.verdict || a->last.reason != b->last.reason ||
	    a->last.status != b->last.status || a->last.bytes_out != b->last.bytes_out ||
	    a->last.bytes_in != b->last.bytes_in ||
	    !a->last.upstream_first_ns != !b->last.upstream_first_ns ||
	    http_conn_phase(&a->c) != http_conn_phase(&b->c) || a->c.keep_alive != b->c.keep_alive ||
	    a->c.up_reusable != b->c.up_reusable)
		fail_msg("%s then \"%.*s\" split %ld: one parse: %d %s to client %zu (%.*s) "
			 "phase %d reusable %d; llhttp: %d %s to client %zu (%.*s) phase %d "
			 "reusable %d", req, (int)(len > 160 ? 160 : len), resp, split,
			 a->last.status, http_reason_name(a->last.reason), a->cllen,
			 (int)(a->cllen > 200 ? 200 : a->cllen), a->cl, http_conn_phase(&a->c),
			 a->c.up_reusable, b->last.status, http_reason_name(b->last.reason),
			 b->cllen, (int)(b->cllen > 200 ? 200 : b->cllen), b->cl,
			 http_conn_phase(&b->c), b->c.up_reusable);
}

/* Both must agree, and the fast path must have been taken where it should:
 * the common nginx response is not llhttp's. */
static void test_response_one_parse_same(void **state)
{
	static const struct { const char *req, *tail; } reqs[] = {
		{ "GET /public HTTP/1.1\r\nHost: a\r\n\r\n", "" },
		{ "GET /public HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "" },
		{ "GET /public HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "" },
		{ "GET /public HTTP/1.0\r\n\r\n", "" },
		{ "HEAD /public HTTP/1.1\r\nHost: a\r\n\r\n", "" },
		{ "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n", "ab" },
		{ "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "" },
		{ "CONNECT allowed:443 HTTP/1.1\r\nHost: allowed:443\r\n\r\n", "" },
	};
	static const char *const status_lines[] = {
		"HTTP/1.1 200 OK", "HTTP/1.1 200 ", "HTTP/1.1 200", "HTTP/1.1 404 Not Found",
		"HTTP/1.1 599 X", "HTTP/1.1 600 X", "HTTP/1.1 999 X", "HTTP/1.1 199 X",
		"HTTP/1.1 099 X", "HTTP/1.1 2000 X", "HTTP/1.1 20 X", "HTTP/1.1 2x0 X",
		"HTTP/1.0 200 OK", "HTTP/1.2 200 OK", "HTTP/2 200 OK", "http/1.1 200 OK",
		"HTTP/1.1  200 OK", "HTTP/1.1 200 O\tK", "HTTP/1.1 200 O\x01K", "HTTP/1.1 200 O\x7fK",
		"HTTP/1.1 200 \xc3\xa9", "HTTP/1.1 200 OK\r", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK",
		"HTTP/1.1 101 Switching Protocols", "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified",
		"HTTP/1.1 205 Reset Content", "HTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 200 OK",
		" HTTP/1.1 200 OK", "\r\nHTTP/1.1 200 OK",
	};
	static const char *const fields[] = {
		"Content-Length: 2\r\n", "Content-Length:2\r\n", "Content-Length: \t2\r\n",
		"Content-Length:\t2\r\n", "Content-Length: 2 \r\n", "Content-Length: 2\t\r\n",
		"Content-Length: 02\r\n", "Content-Length: 0000000000000000002\r\n",
		"Content-Length: +2\r\n", "Content-Length: -2\r\n", "Content-Length: 2, 2\r\n",
		"Content-Length: 2,2\r\n", "Content-Length: 0x2\r\n", "Content-Length: 2e0\r\n",
		"Content-Length: 2\r\nContent-Length: 2\r\n", "Content-Length: 2\r\nContent-Length: 3\r\n",
		"Content-Length: 2\r\ncontent-length: 2\r\n",
		"Content-Length: 99999999999999999999\r\n", "Content-Length: 18446744073709551615\r\n",
		"Content-Length: 18446744073709551616\r\n", "Content-Length: 999999999999999999\r\n",
		"Content-Length: 1000000000000000000\r\n", "Content-Length: \r\n", "Content-Length:\r\n",
		"Content-Length : 2\r\n", "Content-Length\t: 2\r\n", " Content-Length: 2\r\n",
		"content-length: 2\r\n", "CONTENT-LENGTH: 2\r\n", "cOnTeNt-LeNgTh: 2\r\n",
		"Content-Length: 0\r\n", "Content-Length: 00\r\n", "Content-Length: 1\r\n",
		"Content-Length: 5\r\n", "Content-Length: 100000\r\n",
		"", "X-A: 1\r\n",
		"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n",
		"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
		"Content-Length: 2\r\ntransfer-encoding: identity\r\n",
		"Transfer-Encoding: chunked\r\n", "Transfer-Encoding: gzip\r\nContent-Length: 2\r\n",
		"Content-Length: 2\r\nConnection: keep-alive\r\n",
		"Connection: keep-alive\r\nContent-Length: 2\r\n",
		"Content-Length: 2\r\nConnection:keep-alive\r\n",
		"Content-Length: 2\r\nConnection: \tkeep-alive\r\n",
		"Content-Length: 2\r\nConnection: keep-alive \r\n",
		"Content-Length: 2\r\nConnection: close\r\n",
		"Content-Length: 2\r\nConnection: Close\r\n",
		"Content-Length: 2\r\nconnection: Keep-Alive\r\n",
		"Content-Length: 2\r\nCONNECTION: KEEP-ALIVE\r\n",
		"Content-Length: 2\r\nConnection: keep-alive, close\r\n",
		"Content-Length: 2\r\nConnection: keep-alive, X-A\r\nX-A: 1\r\n",
		"Content-Length: 2\r\nConnection: X-A\r\nX-A: 1\r\n",
		"Content-Length: 2\r\nConnection: keep-alive\r\nConnection: keep-alive\r\n",
		"Content-Length: 2\r\nConnection: keep-alive\r\nConnection: close\r\n",
		"Content-Length: 2\r\nConnection: keep-alivex\r\n",
		"Content-Length: 2\r\nConnection: upgrade\r\nUpgrade: x\r\n",
		"Content-Length: 2\r\nConnection: content-length\r\n",
		"Content-Length: 2\r\nKeep-Alive: timeout=5\r\n",
		"Keep-Alive: timeout=5\r\nContent-Length: 2\r\nConnection: keep-alive\r\n",
		"Content-Length: 2\r\nKeep-Alive: 1\r\nKeep-Alive: 2\r\nKeep-Alive: 3\r\n"
		"Connection: keep-alive\r\n",
		"Content-Length: 2\r\nKeep-Alive: 1\r\nKeep-Alive: 2\r\nKeep-Alive: 3\r\n"
		"Keep-Alive: 4\r\nConnection: keep-alive\r\n",
		"Content-Length: 2\r\nProxy-Connection: keep-alive\r\n",
		"Content-Length: 2\r\nProxy-Connection: close\r\n",
		"Content-Length: 2\r\nUpgrade: h2c\r\n",
		"Content-Length: 2\r\nTrailer: X-T\r\n", "Content-Length: 2\r\nTE: trailers\r\n",
		"Content-Length: 2\r\nX-A: a\tb\r\n", "Content-Length: 2\r\nX-A:\r\n",
		"Content-Length: 2\r\nX-A: \r\n", "Content-Length: 2\r\nX-A: \x7f\r\n",
		"Content-Length: 2\r\nX-A: \x01\r\n", "Content-Length: 2\r\nX-A: \xc3\xa9\r\n",
		"Content-Length: 2\r\nX-A: a\r\n b\r\n", "Content-Length: 2\r\nX-A: a\r\n\tb\r\n",
		"Content-Length: 2\r\nX-A: a\rb\r\n", "Content-Length: 2\r\nX-A: a\nb\r\n",
		"Content-Length: 2\nX-A: 1\r\n", "Content-Length: 2\r\nX-A: 1\n",
		"Content-Length: 2\r\nX A: 1\r\n", "Content-Length: 2\r\n: 1\r\n",
		"Content-Length: 2\r\nX-A : 1\r\n", "Content-Length: 2\r\nX-A\r\n",
		"Content-Length: 2\r\nX-\x01: 1\r\n", "Content-Length: 2\r\nX-\xc3\xa9: 1\r\n",
		"Content-Length: 2\r\nContent-Lengthx: 3\r\n", "Content-Length: 2\r\nContent-Lengt: 3\r\n",
		"Content-Length: 2\r\nConnectionx: close\r\n", "Content-Length: 2\r\nKeep-Alivex: 1\r\n",
		"Content-Length: 2\r\nX-Connection: close\r\n",
		"Server: nginx/1.26.0\r\nDate: Sat, 05 Dec 2026 22:00:00 GMT\r\n"
		"Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n",
	};
	static const char *const ends[] = { "\r\n", "\n", "\r\r\n", "\r" };
	static const char *const bodies[] = {
		"ok", "", "o", "okEXTRA", "okHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	};
	struct harness *a = *state, *b;
	char *resp = malloc(4096);
	int n;

	h_setup((void **)&b);
	/* every request x status line x fields x end x body, whole */
	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++)
		for (size_t s = 0; s < sizeof(status_lines) / sizeof(status_lines[0]); s++)
			for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
				for (size_t e = 0; e < sizeof(ends) / sizeof(ends[0]); e++)
					for (size_t k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++) {
						n = snprintf(resp, 4096, "%s\r\n%s%s%s", status_lines[s],
							     fields[f], ends[e], bodies[k]);
						h_same_resp(a, b, reqs[r].req, resp, (size_t)n, 0,
							    reqs[r].tail);
					}
	/* the first four requests, each status line and fields, split at
	 * every byte and byte by byte */
	for (size_t r = 0; r < 4; r++)
		for (size_t s = 0; s < sizeof(status_lines) / sizeof(status_lines[0]); s++)
			for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
				n = snprintf(resp, 4096, "%s\r\n%s\r\nokEXTRA", status_lines[s], fields[f]);
				for (long k = -1; k <= n; k++)
					h_same_resp(a, b, reqs[r].req, resp, (size_t)n, k, reqs[r].tail);
			}
	/* every byte in the reason phrase, a field value and a field name, and
	 * in place of the Content-Length digits */
	for (int c = 0; c < 256; c++) {
		static const char *const shapes[] = {
			"HTTP/1.1 200 O%cK\r\nContent-Length: 2\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nX-A: a%cb\r\nContent-Length: 2\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nX-%cA: b\r\nContent-Length: 2\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nContent-Length: %c\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nContent-Length: 2%c\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nContent-Length:%c2\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nConnection: keep-alive%c\r\nContent-Length: 2\r\n\r\nok",
			"HTTP/1.1 2%c0 OK\r\nContent-Length: 2\r\n\r\nok",
		};
		for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
			n = snprintf(resp, 4096, shapes[k], c ? c : 'x');
			if (!c) /* a NUL byte in place of the 'x' */
				*strchr(resp, 'x') = '\0';
			for (size_t r = 0; r < 2; r++)
				h_same_resp(a, b, reqs[r].req, resp, (size_t)n, 0, reqs[r].tail);
		}
	}
	/* every byte value at every place of a few responses (names and values
	 * are read eight bytes at a time, at every alignment) */
	for (size_t t = 0; t < 6; t++) {
		static const char *const tpl[] = {
			"HTTP/1.1 200 Abcdefghijklmnopq\r\nContent-Length: 2\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nX-Abcdefghijklmnopq: v\r\nContent-Length: 2\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nX-A: abcdefghijklmnopq\r\nContent-Length: 2\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nUpgrade: a\r\n"
			"Keep-Alive: 1\r\nContent-Length: 2\r\n\r\nok",
		};
		size_t len = strlen(tpl[t]);

		for (size_t i = 0; i < len; i++)
			for (int c = 0; c < 256; c++) {
				memcpy(resp, tpl[t], len);
				resp[i] = (char)c;
				for (size_t r = 0; r < 2; r++)
					h_same_resp(a, b, reqs[r].req, resp, len, 0, reqs[r].tail);
			}
	}
	/* the fast path is taken: llhttp never sees the nginx response (its
	 * parser would say where it stopped) */
	h_reset(a);
	h_feed_s(a, reqs[0].req);
	h_resp(a, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\n"
		  "Connection: keep-alive\r\n\r\nok");
	assert_true(llhttp_get_errno(&a->c.resp) == HPE_OK && a->c.resp.status_code == 0);
	assert_true(h_client_has(a, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\n\r\nok"));
	assert_int_equal(a->last.status, 200);
	assert_true(a->c.up_reusable);
	/* a body that comes in pieces is counted to its end */
	h_feed_s(a, reqs[0].req);
	h_resp(a, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
	assert_int_equal(a->ndone, 1);
	h_resp(a, "cd");
	assert_int_equal(a->ndone, 1);
	h_resp(a, "eHTTP");
	assert_int_equal(a->ndone, 2);
	assert_false(a->c.up_reusable); /* bytes beyond the response */
	assert_int_equal(http_conn_phase(&a->c), HTTP_PH_CLOSING);
	assert_true(llhttp_get_errno(&a->c.resp) == HPE_OK && a->c.resp.status_code == 0);
	free(resp);
	h_teardown((void **)&b);
}

/* Hop-by-hop fields (RFC 9110 7.6.1) stay on the client's connection: the
 * upstream connection is the proxy's own and may carry other requests. */
/* headerMatches' edits reach the upstream as one rebuilt head, which a
 * retry sends again after the rules table it came from is gone. */
static void test_header_edits(void **state)
{
	struct harness *h = *state;
	struct proxy_rules_key k = { .ep_id = 1, .port = 80, .peer_identity = 2 };
	static const char doc[] =
		"{\"rules\":[{\"path\":\"/auth\",\"header_matches\":["
		"{\"name\":\"Authorization\",\"secret\":\"ns/s\",\"mismatch\":\"REPLACE\"},"
		"{\"name\":\"X-Drop\",\"value\":\"ok\",\"mismatch\":\"DELETE\"},"
		"{\"name\":\"X-Add\",\"value\":\"1\",\"mismatch\":\"ADD\"}]}],"
		"\"secrets\":{\"ns/s\":{\"value\":\"Bearer 123456\"}}}";
	const char *want = "GET /auth HTTP/1.1\r\nHost: a\r\nX-Keep: 1\r\n"
			   "Authorization: Bearer 123456\r\nX-Add: 1\r\n\r\n";
	struct proxy_rules_table *old = h->rules, *t = NULL;
	char *err = NULL;

	assert_int_equal(proxy_rules_json_load(doc, strlen(doc), &k, &t, &err), 0);
	h->rules = t;
	h_reset(h);
	h_feed_s(h, "GET /auth HTTP/1.1\r\nHost: a\r\nauthorization: Basic eA==\r\n"
		    "X-Drop: bad\r\nConnection: x-keep2\r\nX-Keep: 1\r\nX-Keep2: hop\r\n"
		    "AUTHORIZATION: again\r\n\r\n");
	assert_true(h_up_is(h, want));
	/* the table goes away (a policy change); the retry sends the same bytes */
	h->rules = old;
	proxy_rules_table_free(t);
	h->uplen = 0;
	h->c.req_done = true;
	assert_true(http_conn_retry(&h->c));
	assert_true(h_up_is(h, want));
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	assert_int_equal(h->last.verdict, HTTP_VERDICT_ALLOWED);
	/* a request that needs no edit goes as before */
	h->rules = t = NULL;
	assert_int_equal(proxy_rules_json_load(doc, strlen(doc), &k, &t, &err), 0);
	h->rules = t;
	h->uplen = 0;
	h_feed_s(h, "GET /auth HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer 123456\r\nX-Add: 1\r\n\r\n");
	assert_true(h_up_is(h, "GET /auth HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer 123456\r\nX-Add: 1\r\n\r\n"));
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	h->rules = old;
	proxy_rules_table_free(t);
}

static void test_hop_by_hop(void **state)
{
	struct harness *h = *state;

	/* Connection: close closes the client after its response, but is not
	 * what the upstream sees */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-A: 1\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n"));
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	assert_true(h->c.up_reusable);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* the fields Connection names, Keep-Alive, Proxy-Connection, TE (but
	 * "trailers"), Trailer, Upgrade without an upgrade; not the framing */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nConnection: keep-alive, X-Hop,content-length\r\n"
		    "Host: a\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nX-Keep: 1\r\n"
		    "Proxy-Connection: keep-alive\r\nTE: gzip\r\nTrailer: X-T\r\n"
		    "Upgrade: websocket\r\nContent-Length: 0\r\nx-hop: again\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.1\r\nHost: a\r\nX-Keep: 1\r\n"
			       "Content-Length: 0\r\n\r\n"));
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
	h->uplen = 0;
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n"));
	/* a server's close: the upstream connection is not reused, and the
	 * client (which sees that Connection: close) is closed too */
	h_resp(h, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx");
	assert_false(h->c.up_reusable);
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* close-delimited: never reused */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\n\r\nxyz");
	assert_false(h->c.up_reusable);
	/* an HTTP/1.0 client's keep-alive still reaches the upstream */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.0\r\nConnection: Keep-Alive\r\nX-A: 1\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.0\r\nX-A: 1\r\nConnection: keep-alive\r\n\r\n"));
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.0\r\nX-A: 1\r\n\r\n");
	assert_true(h_up_is(h, "GET /public HTTP/1.0\r\nX-A: 1\r\n\r\n"));
	/* the response: the server's hop-by-hop fields are dropped, the client
	 * is told what its own connection does */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Up\r\nKeep-Alive: timeout=5\r\n"
		  "X-Up: 1\r\nX-End: 2\r\nContent-Length: 1\r\n\r\nx");
	assert_true(h_client_has(h, "HTTP/1.1 200 OK\r\nX-End: 2\r\nContent-Length: 1\r\n"
				"Connection: close\r\n\r\nx"));
	assert_int_equal(h->last.bytes_out, h->cllen);
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx");
	assert_true(h_client_has(h, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
	/* a head split across reads, after a 100 Continue; the server closes */
	h->cllen = 0;
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConn");
	h_resp(h, "ection: close\r\nContent-Length: 2\r");
	h_resp(h, "\n\r\nok");
	assert_true(h_client_has(h, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
				"Content-Length: 2\r\nConnection: close\r\n\r\nok"));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_CLOSING);
	/* close-delimited: the client is told too */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nabc");
	assert_true(h_client_has(h, "HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\n\r\nabc"));
	/* an HTTP/1.0 client that keeps its connection is told so */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	assert_true(h_client_has(h, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
				"Connection: keep-alive\r\n\r\nx"));
	assert_int_equal(http_conn_phase(&h->c), HTTP_PH_IDLE);
	/* a retry on a fresh connection: idempotent, no body, once */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	h->uplen = 0;
	assert_true(http_conn_retry(&h->c));
	assert_true(h_up_is(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_false(http_conn_retry(&h->c));
	h_reset(h);
	h_feed_s(h, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
	assert_false(http_conn_retry(&h->c)); /* not idempotent */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab");
	assert_false(http_conn_retry(&h->c)); /* a body */
	h_reset(h);
	h_feed_s(h, "GET /public HTTP/1.1\r\nHost: a\r\n\r\n");
	h_resp(h, "HTTP/1.1 200 OK\r\nContent-Le");
	assert_false(http_conn_retry(&h->c)); /* the response had begun */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hardening_table, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_header_limits, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_allowed_canonical_upstream, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_denied_403_keepalive, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_denied_body_drained, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_pipelined, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_chunked_upload_rechunked, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_response_framing, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_and_connect, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_timeouts_and_eof, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_one_parse_same, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_response_one_parse_same, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_head_cache, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_hop_by_hop, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_header_edits, h_setup, h_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
