/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.h - one HTTP/1.1 exchange (plain TCP or TLS) on a libuv loop, with
 * the response body streamed to the caller: on a connection of its own, or
 * on a kept-alive one from a pool.
 */
#ifndef SLUICE_K8S_HTTP_H
#define SLUICE_K8S_HTTP_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct k8s_http;

/* Kept-alive connections of one server, for one-shot requests. A complete
 * response that allows keep-alive parks its connection here (up to
 * max_idle); the next exchange started with this pool takes it instead of
 * connecting. Idle connections close after idle_ms, or when the server
 * closes them. The owner calls k8s_http_pool_close before freeing it. */
struct k8s_http_pool {
	struct k8s_http *conns; /* parked or idle connections */
	unsigned nconns, max_idle;
	uint64_t idle_ms;
	uint64_t opened;        /* exchanges that had to connect */
	uint64_t reused;        /* exchanges sent on a kept-alive connection */
	uint64_t stale;         /* of those, resent on a fresh one (below) */
};
void k8s_http_pool_init(struct k8s_http_pool *p, unsigned max_idle, uint64_t idle_ms);
void k8s_http_pool_close(struct k8s_http_pool *p);

struct k8s_http_target {
	const char *host;  /* name or IP literal (IPv6 with or without brackets) */
	const char *port;
	SSL_CTX *tls;      /* NULL: plain http */
	bool verify;       /* check the certificate names host */
	/* NULL: a connection of its own, closed after the response (watches);
	 * else keep-alive through this pool (the request must not say
	 * "Connection: close") */
	struct k8s_http_pool *pool;
};

struct k8s_http_ops {
	/* the status line and headers are in; non-zero cancels (no on_done) */
	int (*on_head)(void *ctx, int status);
	/* decoded body bytes (chunked framing removed); non-zero cancels */
	int (*on_body)(void *ctx, const char *data, size_t len);
	/* exactly once unless cancelled: errmsg NULL for a complete response,
	 * else why it failed (status is 0 before the status line, else the
	 * status of the response that broke off) */
	void (*on_done)(void *ctx, int status, const char *errmsg);
};

/* Starts the exchange: resolve, connect, TLS, send `request` (the complete
 * request bytes, taken over), read the response. idle_ms: fail when nothing
 * arrives for that long (also bounds connecting). Callbacks never run
 * before this returns. */
int k8s_http_start(uv_loop_t *loop, const struct k8s_http_target *target, char *request,
		   size_t request_len, uint64_t idle_ms, const struct k8s_http_ops *ops,
		   void *ctx, struct k8s_http **out, char **err);
/* No more callbacks; the memory goes once libuv has closed the handles. */
void k8s_http_cancel(struct k8s_http *h);

#endif
