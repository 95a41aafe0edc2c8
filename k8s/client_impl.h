/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_impl.h - what the client's files share behind client.h: the
 * client handle, one-shot calls and the watch list.
 */
#ifndef SLUICE_K8S_CLIENT_IMPL_H
#define SLUICE_K8S_CLIENT_IMPL_H

#include <openssl/ssl.h>

#include "backoff.h"
#include "client.h"
#include "http.h"
#include "token.h"

/* Idle limit of one-shot requests (no byte for that long fails them). */
#define K8S_REQUEST_IDLE_MS 60000
/* Kept-alive connections for one-shot requests: how many, how long idle
 * (below the API server's own idle timeout, so that it rarely closes one
 * under a request). */
#define K8S_POOL_MAX_IDLE 4
#define K8S_POOL_IDLE_MS 30000
/* Largest response body a one-shot request buffers. */
#define K8S_MAX_BODY ((size_t)1 << 30)

/* Streaming lists: UNKNOWN until /version answers (ASKING meanwhile); a
 * server from 1.27 on is worth a TRY, which its first initial-events-end
 * bookmark turns into YES and any sign of ignorance into NO. */
enum k8s_watchlist_support {
	K8S_WATCHLIST_UNKNOWN,
	K8S_WATCHLIST_ASKING,
	K8S_WATCHLIST_TRY,
	K8S_WATCHLIST_YES,
	K8S_WATCHLIST_NO,
};

struct k8s_call;

struct k8s_client {
	uv_loop_t *loop;
	int refs;            /* the owner's + one per call and watch alive */
	bool freed;          /* k8s_client_free was called */
	char *host, *port;   /* host as in the URL (IPv6 in brackets) */
	char *host_header;
	char *base_path;     /* a server URL's path prefix ("" usually) */
	SSL_CTX *ssl_ctx;    /* NULL: plain http */
	bool verify;
	struct k8s_token token;
	struct k8s_client_stats stats;
	struct k8s_backoff rng; /* randomness for timeouts and jitter */
	unsigned watch_timeout_s; /* fixed timeoutSeconds (tests), 0: 300-600 */
	unsigned page_size;       /* LIST limit */
	uint64_t refused_base_ms, refused_cap_ms; /* backoff after 403/404 on LIST */
	enum k8s_watchlist_support watchlist;
	bool debug;               /* SLUICE_K8S_DEBUG: transitions on stderr */
	struct k8s_call *calls;   /* one-shot calls in flight */
	struct k8s_http_pool pool; /* their kept-alive connections */
	struct k8s_watch *watches;
};

void k8s_client_ref(struct k8s_client *c);
void k8s_client_unref(struct k8s_client *c);

/* The complete request bytes (method, path, headers, body); malloc'd.
 * keepalive false adds "Connection: close". */
char *k8s_client_build_request(struct k8s_client *c, const char *method, const char *path,
			       const char *content_type, const char *body, size_t body_len,
			       bool keepalive, size_t *len_out);
/* Starts an exchange to the client's server; keepalive: on a pooled
 * connection (one-shot requests), else on one of its own (watches). */
int k8s_client_http(struct k8s_client *c, const char *method, const char *path,
		    const char *content_type, const char *body, size_t body_len,
		    bool keepalive, uint64_t idle_ms, const struct k8s_http_ops *ops, void *ctx,
		    struct k8s_http **out, char **err);

/* A one-shot call with the whole body parsed, retried once after a 401
 * when the token comes from a file. The callback runs once, from the
 * loop, unless the call is cancelled first. */
struct k8s_call *k8s_call_start(struct k8s_client *c, const char *method, const char *path,
				const char *content_type, json_t *body, k8s_response_cb cb,
				void *ctx);
void k8s_call_cancel(struct k8s_call *call);

/* Status message of an API error body ("pods is forbidden: ..."), or NULL. */
const char *k8s_status_message(json_t *body);

void k8s_watch_stop_all(struct k8s_client *c);

/* counts a failed answer: 403 forbidden, 404 not_found, else errors */
void k8s_client_count_status(struct k8s_client *c, int status);

void k8s_client_debug(const struct k8s_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
