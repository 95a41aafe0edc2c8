/* SPDX-License-Identifier: Apache-2.0 */
/*
 * req_diff.h - tests only (tests/unit/proxy/test_req_head.c,
 * fuzz_req_head.c): the kernel's reader of a request head
 * (bpf/lib/req_head.h, compiled here as plain C) against the proxy itself,
 * on the same bytes.
 *
 * A request the sk_msg program would send to the server on its own (one
 * send that is exactly one head the reader takes) must be one that
 * http_conn, with its own parser and with llhttp, accepts whole, decides on
 * with exactly the method, path and Host bytes the reader reports, and
 * sends upstream unchanged, without a body, kept alive; and, with its own
 * parser, one whose response it would let the kernel splice.
 */
#ifndef SLUICE_PROXY_REQ_DIFF_H
#define SLUICE_PROXY_REQ_DIFF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/lib/req_head.h"
#include "http_conn.h"

struct req_diff_out {
	char up[SLUICE_REQ_HEAD_MAX + 256];
	size_t up_len;     /* all bytes sent upstream, also those not kept */
	size_t to_client;  /* bytes the proxy answered itself */
	int ndecide, ndone;
	char method[16], path[SLUICE_REQ_HEAD_MAX], host[SLUICE_REQ_HEAD_MAX];
	size_t method_len, path_len, host_len;
};

static void req_diff_to_up(void *ctx, const char *p, size_t n)
{
	struct req_diff_out *o = ctx;
	size_t room = o->up_len < sizeof(o->up) ? sizeof(o->up) - o->up_len : 0;

	memcpy(o->up + o->up_len, p, n < room ? n : room);
	o->up_len += n;
}

static void req_diff_to_client(void *ctx, const char *p, size_t n)
{
	struct req_diff_out *o = ctx;

	(void)p;
	o->to_client += n;
}

static void req_diff_copy(char *dst, size_t cap, size_t *len, const char *s, size_t n)
{
	*len = n;
	memcpy(dst, s, n < cap ? n : cap);
}

static enum proxy_match req_diff_decide(void *ctx, const struct proxy_request_view *req)
{
	struct req_diff_out *o = ctx;

	o->ndecide++;
	req_diff_copy(o->method, sizeof(o->method), &o->method_len, req->method, req->method_len);
	req_diff_copy(o->path, sizeof(o->path), &o->path_len, req->path, req->path_len);
	req_diff_copy(o->host, sizeof(o->host), &o->host_len, req->host, req->host_len);
	return PROXY_MATCH_ALLOW;
}

static void req_diff_done(void *ctx, const struct http_exchange *x)
{
	struct req_diff_out *o = ctx;

	(void)x;
	o->ndone++;
}

static const struct http_conn_ops req_diff_ops = {
	.to_upstream = req_diff_to_up, .to_client = req_diff_to_client,
	.decide = req_diff_decide, .done = req_diff_done,
};

static bool req_diff_span(const char *got, size_t got_len, const char *r, __u32 off, __u32 len)
{
	return got_len == len && !memcmp(got, r + off, len);
}

/*
 * One send r[0, n) of a client. Returns -1 when the kernel and the proxy
 * disagree (what about in *why), 1 when the kernel would take it and both
 * agree, 0 when the kernel leaves it to the proxy.
 */
static int req_diff(const char *r, size_t n, const char **why)
{
	struct req_head *h = calloc(1, sizeof(*h));
	struct req_diff_out *o = malloc(sizeof(*o));
	__u32 m = n < SLUICE_REQ_HEAD_MAX ? (__u32)n : SLUICE_REQ_HEAD_MAX;
	int rc = 1;

	*why = NULL;
	if (!h || !o)
		abort();
	memcpy(h->buf, r, m);
	/* bpf_skmsg.c: the send must be exactly one head the reader takes */
	if (!req_head_read(h, m) || h->head_len != n) {
		rc = 0;
		goto out;
	}
	for (int full = 0; full < 2 && rc == 1; full++) {
		struct http_conn c;
		size_t used;

		memset(o, 0, sizeof(*o));
		http_conn_init(&c, &req_diff_ops, o);
		http_conn_set_full_parse(&c, full);
		used = http_conn_feed_request(&c, r, n);
		if (used != n || o->to_client || o->ndone) {
			*why = full ? "llhttp refuses it" : "the proxy refuses it";
			rc = -1;
		} else if (o->ndecide != 1 ||
			   !req_diff_span(o->method, o->method_len, r, 0, h->method_len) ||
			   !req_diff_span(o->path, o->path_len, r, h->target_off, h->target_len) ||
			   !req_diff_span(o->host, o->host_len, r, h->host_off,
					  h->host_end - h->host_off)) {
			*why = full ? "llhttp's rules see other bytes" : "the rules see other bytes";
			rc = -1;
		} else if (o->up_len != n || memcmp(o->up, r, n)) {
			*why = full ? "llhttp sends other bytes" : "the proxy sends other bytes";
			rc = -1;
		} else if (!http_conn_request_pending(&c) || !c.keep_alive ||
			   !c.req_done) {
			*why = "the request is not complete, kept alive and without a body";
			rc = -1;
		} else if (!full && !http_conn_splice_ok(&c)) {
			*why = "its response would not be spliced";
			rc = -1;
		}
		http_conn_release(&c, HTTP_R_NONE);
	}
out:
	free(h);
	free(o);
	return rc;
}

#endif /* SLUICE_PROXY_REQ_DIFF_H */
