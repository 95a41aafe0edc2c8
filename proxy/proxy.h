/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy.h - sluice's node-local HTTP policy proxy, as a library
 * (sluice_proxy_core). The agent can embed it in its own libuv loop, or run
 * the sluice-proxy binary (main.c).
 *
 *   srv = proxy_server_new(loop, &cfg, resolver, &err);
 *   proxy_server_set_rules(srv, table);     // or proxy_server_publish_rules()
 *   proxy_server_listen(srv, &addr);
 *   uv_run(loop, UV_RUN_DEFAULT);
 *
 * Upstream connections are the proxy's own, not the client's: one is taken
 * (from the pool of idle ones with the same key, upstream_pool.h, else
 * connected) when an allowed request goes out, and goes back to the pool
 * when its response was complete and framed and the server did not close;
 * hop-by-hop fields stay on the client's side (http_conn.c). TLS-originating
 * upstreams, passed-through TLS and tunnels stay per client connection.
 * Bytes are streamed both ways; when a side's output queue exceeds
 * cfg.buffer_cap, reading from the other side stops until it drains. Idle
 * connections hold no buffers.
 */
#ifndef SLUICE_PROXY_PROXY_H
#define SLUICE_PROXY_PROXY_H

#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "http_conn.h"
#include "log_sink.h"
#include "resolver.h"
#include "rules.h"
#include "tls.h"

struct proxy_config {
	uint32_t max_conns;              /* default 50000; beyond: reset at accept */
	uint32_t header_timeout_ms;      /* first byte -> end of headers; 408. 10000 */
	uint32_t idle_timeout_ms;        /* keep-alive idle; close. 60000 */
	uint32_t connect_timeout_ms;     /* upstream connect; 503. 2000 */
	uint32_t stream_idle_timeout_ms; /* no bytes either way mid-request; 300000 */
	uint32_t buffer_cap;             /* per-direction queue cap, 65536 */
	struct proxy_log_sink *access_log; /* JSON lines (log_sink.h); NULL = none */
	uint32_t tls_handshake_timeout_ms; /* client-side TLS handshake; close. 10000 */
	uint32_t tls_max_handshakes;     /* concurrent client-side handshakes; beyond,
					  * the oldest is closed. 512 */
};

void proxy_config_defaults(struct proxy_config *cfg);

struct proxy_counters {
	uint64_t conns_total;
	uint64_t conns_active;
	uint64_t conns_refused;          /* over max_conns or resolver refused */
	uint64_t requests_allowed;
	uint64_t requests_denied;
	uint64_t requests_error;
	uint64_t by_reason[HTTP_R_COUNT];
	uint64_t bytes_from_clients;
	uint64_t bytes_to_clients;
	uint64_t upstream_connects;      /* new upstream connections (attempts) */
	uint64_t upstream_connect_errors;
	uint64_t upstream_reused;        /* requests sent on a pooled connection */
	uint64_t upstream_retries;       /* requests sent again after a reused
					  * connection failed before answering */
	uint64_t upstream_idle;          /* gauge: idle connections in the pool now */
	uint64_t tls_handshakes;         /* client side, completed */
	uint64_t tls_resumed;            /* of which resumed (tickets) */
	uint64_t tls_handshake_errors;   /* client side: failed, timed out, evicted
					  * (the sum of the reasons below) */
	uint64_t tls_sni_denied;         /* serverNames said no (or no SNI) */
	uint64_t tls_hs_timeout;         /* past the handshake deadline */
	uint64_t tls_hs_untrusted;       /* the client rejected our certificate */
	uint64_t tls_hs_plain_http;      /* plaintext HTTP on the TLS port: 400 */
	uint64_t tls_hs_protocol;        /* anything else: not TLS, no common
					  * version or cipher, malformed */
	uint64_t tls_hs_closed;          /* the client went away mid-handshake */
	uint64_t tls_hs_evicted;         /* closed at the concurrent-handshake cap */
	uint64_t tls_upstream_handshakes;
	uint64_t tls_upstream_resumed;
	uint64_t tls_upstream_errors;    /* verification or handshake failures: 502 */
	uint64_t tls_upstream_verify_failed; /* of which the certificate check */
	uint64_t responses_spliced;      /* sent by the kernel straight to the
					  * client (splice.h) */
	uint64_t requests_spliced;       /* sent by the kernel straight to the
					  * server (req_splice.h) */
};

/* What the event hook and the access log see for each request. */
struct proxy_event {
	const struct proxy_flow *flow;
	const struct http_exchange *x;
	int64_t wall_start_us;           /* CLOCK_REALTIME of x->start_ns */
	const struct proxy_tls_info *tls;          /* client side; NULL: plaintext */
	const struct proxy_tls_info *upstream_tls; /* NULL: plaintext upstream */
	bool refused;                    /* a connection closed before any request
					  * (serverNames): x says why, and there
					  * is no response */
	const char *ends;                /* optional: flow's ends as the access
					  * log renders them (proxy_access_log_ends()),
					  * the same for every request of a
					  * connection; NULL: rendered per line */
	size_t ends_len;
};

typedef void (*proxy_event_cb)(void *ctx, const struct proxy_event *ev);

struct proxy_server;

/* The server takes ownership of resolver (destroyed with the server). */
struct proxy_server *proxy_server_new(uv_loop_t *loop, const struct proxy_config *cfg,
				      struct proxy_resolver *resolver, char **err);
struct proxy_listener;

/* Binds and accepts on addr (the resolver sees listener_data NULL). */
int proxy_server_listen(struct proxy_server *srv, const struct sockaddr *addr);
/*
 * Accepts on a socket made elsewhere, e.g. a per-pod listener the agent
 * created inside the pod's netns and passed over SCM_RIGHTS; the proxy owns
 * fd from now on. listener_data reaches resolver->resolve() for every
 * connection accepted on it (e.g. the endpoint it belongs to).
 */
int proxy_server_listen_fd(struct proxy_server *srv, uv_os_sock_t fd, void *listener_data,
			   struct proxy_listener **out);
/* Stops accepting on one listener; its open connections carry on. */
void proxy_listener_close(struct proxy_listener *l);
/* The address of the first listener (after listen on port 0). */
int proxy_server_address(struct proxy_server *srv, union proxy_sockaddr *out);

/*
 * Replaces the rules table (ownership passes; the old one is freed). Loop
 * thread only. Takes effect at the next request of every connection.
 */
void proxy_server_set_rules(struct proxy_server *srv, struct proxy_rules_table *t);
/* Same, from any thread: handed to the loop through a uv_async. */
int proxy_server_publish_rules(struct proxy_server *srv, struct proxy_rules_table *t);

/*
 * The secrets TLS contexts are built from (tls.h). Loop thread only; a
 * change applies to the next connection.
 */
struct proxy_tls_store *proxy_server_tls_store(struct proxy_server *srv);

/*
 * The response splice (splice.h; agent mode): set once, at any time
 * (connections accepted before never splice); the server owns it from then
 * on and frees it (its slots go back) before it destroys its resolver,
 * whose maps hold the slots. NULL (the default): every response goes
 * through the proxy.
 */
struct proxy_splice;
void proxy_server_set_splice(struct proxy_server *srv, struct proxy_splice *sp);
/* The request splice (req_splice.h), on the slots of the splice above;
 * the server frees it. */
struct proxy_rq;
void proxy_server_set_req_splice(struct proxy_server *srv, struct proxy_rq *rq);

/* One call per finished request (after the access log line). */
void proxy_server_set_event_cb(struct proxy_server *srv, proxy_event_cb cb, void *ctx);

void proxy_server_counters(const struct proxy_server *srv, struct proxy_counters *out);

/* Closes the idle upstream connections made for scope (proxy_flow.up_scope):
 * the resolver calls it when that scope goes away (an endpoint deleted or
 * replaced), so idle sockets do not keep a gone pod's netns and source
 * ports. A connection in use at that moment finishes its request and may
 * still serve the old scope's open client connections (it holds its own
 * reference) until the idle timeout. */
void proxy_server_upstream_forget(struct proxy_server *srv, const void *scope);

/* Called once the server is gone (from proxy_server_close() or a drain). */
void proxy_server_set_closed_cb(struct proxy_server *srv, void (*cb)(void *ctx), void *ctx);

/* Stops listening, closes every connection; the server is freed once all
 * handles are closed (run the loop until then). */
void proxy_server_close(struct proxy_server *srv);

/*
 * Graceful shutdown: stops accepting, closes idle connections now and busy
 * ones after their current exchange; whatever is left after timeout_ms is
 * closed. Then as proxy_server_close().
 */
void proxy_server_drain(struct proxy_server *srv, uint32_t timeout_ms);

#endif /* SLUICE_PROXY_PROXY_H */
