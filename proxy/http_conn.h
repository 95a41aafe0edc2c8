/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_conn.h - the per-connection HTTP/1.x state machine, without any I/O.
 *
 * The proxy (proxy.c) feeds it bytes from the client and from the upstream
 * and gets bytes to send either way back through callbacks, so the same code
 * runs under libuv, in unit tests on raw bytes and in the fuzzer.
 *
 * Requests on one connection are handled one at a time: while a request is
 * being answered, pipelined requests wait (unparsed) in the caller's buffer
 * (http_conn_feed_request() returns how much it consumed). Each request:
 *
 *  1. The header section is checked byte by byte by a strict scanner of our
 *     own (request line shape, CRLF only, no obs-fold, no whitespace before
 *     ':', token names, no control bytes in values, <= 60 KiB and <= 100
 *     fields) and copied. Then the semantic checks: one valid Host
 *     (HTTP/1.1), Content-Length and Transfer-Encoding rules, target form,
 *     path canonicalisation (path.h). Then it is handed whole to llhttp (no
 *     lenient flags), whose view must agree, unless llhttp's answer is
 *     already known: a head with a common method and none of the fields
 *     llhttp interprets (Connection, Proxy-Connection, Content-Length,
 *     Transfer-Encoding, Upgrade) is a complete request without a body,
 *     kept alive unless it is HTTP/1.0 (http_head_plain()). Any failure
 *     answers 400 (431 for size) and closes; nothing reaches the upstream.
 *  2. ops->decide() gives the verdict. Allowed: the head is rebuilt with the
 *     canonical target and without the hop-by-hop fields (Connection and
 *     what it names, Keep-Alive, TE...: http_conn.c) and sent upstream,
 *     the body follows as llhttp
 *     validates it (chunked bodies are re-chunked: extensions and trailers
 *     are dropped). Denied: 403 "Access denied\r\n"; the body is drained
 *     (up to HTTP_DRAIN_MAX, else the connection closes) and the connection
 *     stays open when HTTP keep-alive allows it.
 *  3. The response is parsed (HEAD, 1xx, 204, 304 and CONNECT framing) and
 *     streamed to the client, its head without the server's hop-by-hop
 *     fields; its end completes the exchange and ops->done() reports it.
 *     A simple response (HTTP/1.1, one Content-Length, no field llhttp
 *     reads more from but "Connection: keep-alive", head in one read) is
 *     parsed and framed by our own code, anything else by llhttp. A 101 (or 2xx to CONNECT) turns the connection
 *     into a byte tunnel.
 */
#ifndef SLUICE_PROXY_HTTP_CONN_H
#define SLUICE_PROXY_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "rules.h"

#define HTTP_MAX_HEADER_BYTES (60u * 1024u)
#define HTTP_MAX_FIELDS 100u
#define HTTP_DRAIN_MAX (1024u * 1024u)       /* body bytes skipped after a 403 */
#define HTTP_MAX_CHUNK_EXT 1024u             /* chunk-extension bytes per chunk */

/* Why a request ended the way it did; names in http_reason_name(). */
enum http_reason {
	HTTP_R_NONE = 0,
	HTTP_R_POLICY_ALLOWED,
	HTTP_R_POLICY_DENIED,
	HTTP_R_NO_POLICY,
	HTTP_R_POLICY_INVALID,
	HTTP_R_REGEX_LIMIT,
	/* 400 */
	HTTP_R_REQUEST_LINE,
	HTTP_R_BARE_CR,
	HTTP_R_BARE_LF,
	HTTP_R_OBS_FOLD,
	HTTP_R_HEADER_NAME,
	HTTP_R_HEADER_WHITESPACE,
	HTTP_R_HEADER_CTL,
	HTTP_R_VERSION,
	HTTP_R_HOST,
	HTTP_R_CL_TE,
	HTTP_R_TRANSFER_ENCODING,
	HTTP_R_CONTENT_LENGTH,
	HTTP_R_TARGET_FORM,
	HTTP_R_FRAGMENT,
	HTTP_R_PATH,
	HTTP_R_CHUNK,
	HTTP_R_PARSER, /* llhttp rejected it */
	HTTP_R_UPGRADE_H2C, /* h2c would bypass HTTP/1 inspection */
	/* other errors */
	HTTP_R_HEADERS_TOO_LARGE, /* 431 */
	HTTP_R_TOO_MANY_FIELDS,   /* 431 */
	HTTP_R_HEADER_TIMEOUT,    /* 408 */
	HTTP_R_DRAIN_LIMIT,
	HTTP_R_UPSTREAM_CONNECT,  /* 503 */
	HTTP_R_UPSTREAM_RESET,    /* 502 or close */
	HTTP_R_BAD_RESPONSE,      /* 502 or close */
	HTTP_R_CLIENT_CLOSED,
	HTTP_R_TIMEOUT,
	HTTP_R_UPSTREAM_TLS,      /* 502: upstream TLS handshake or verification */
	HTTP_R_TLS_SERVER_NAME,   /* connection closed: SNI missing or not in serverNames */
	HTTP_R_COUNT
};

const char *http_reason_name(enum http_reason r);

enum http_verdict {
	HTTP_VERDICT_ALLOWED = 0,
	HTTP_VERDICT_DENIED = 1,
	HTTP_VERDICT_ERROR = 2,
};

/* One finished request/response, as logs and the event hook see it. */
struct http_exchange {
	uint64_t start_ns;       /* CLOCK_MONOTONIC, first byte of the request */
	uint64_t end_ns;
	uint64_t upstream_sent_ns;   /* 0 when never sent */
	uint64_t upstream_first_ns;  /* first response byte from the upstream */
	const char *method;      /* not NUL-terminated; may be empty */
	size_t method_len;
	const char *path;        /* canonical path with its query */
	size_t path_len;
	const char *host;
	size_t host_len;
	uint8_t http_minor;      /* HTTP/1.x */
	int status;              /* sent to the client, 0 if none */
	enum http_verdict verdict;
	enum http_reason reason;
	uint64_t bytes_in;       /* request bytes from the client */
	uint64_t bytes_out;      /* response bytes to the client */
};

struct http_conn_ops {
	/* Bytes for the upstream. The first call of a connection is the cue to
	 * connect; the callee queues until then. */
	void (*to_upstream)(void *ctx, const char *p, size_t n);
	void (*to_client)(void *ctx, const char *p, size_t n);
	/* The policy verdict for one request. */
	enum proxy_match (*decide)(void *ctx, const struct proxy_request_view *req);
	/* Called once per request, when its exchange is over (also on errors). */
	void (*done)(void *ctx, const struct http_exchange *x);
};

enum http_phase {
	HTTP_PH_IDLE,      /* between requests (keep-alive) */
	HTTP_PH_HEAD,      /* receiving a request's header section */
	HTTP_PH_BODY,      /* receiving a request body (forwarded or drained) */
	HTTP_PH_WAIT,      /* request done, waiting for the response */
	HTTP_PH_TUNNEL,    /* after 101 / CONNECT 2xx: bytes both ways */
	HTTP_PH_CLOSING,   /* flush what was sent, then close */
};

struct http_head;

#define HTTP_HEAD_CACHE_MAX 32u

/* Request heads kept for the next request of any connection of one loop (a
 * head is about 2.3 KiB: without it, a malloc and a free per request; an
 * idle connection still holds none). Zeroed = empty. */
struct http_head_cache {
	struct http_head *v[HTTP_HEAD_CACHE_MAX];
	unsigned n;
};

/* Frees the heads it holds. */
void http_head_cache_clear(struct http_head_cache *hc);

struct http_conn {
	llhttp_t req;
	llhttp_t resp;
	const struct http_conn_ops *ops;
	void *ctx;
	struct http_head *head;  /* the current request, NULL when idle */
	uint64_t drained;
	uint32_t chunk_ext;
	uint32_t nreq;           /* requests started; timers re-arm per request */
	uint8_t phase;           /* enum http_phase */
	uint8_t scan_state;
	uint8_t scan_ver;        /* position inside "HTTP/x.y" */
	bool allowed;            /* current request forwarded upstream */
	bool req_done;           /* request fully received */
	bool resp_started;       /* response bytes already went to the client */
	bool resp_done;
	bool req_upgrade;        /* llhttp paused for upgrade / CONNECT */
	bool keep_alive;         /* the client side may continue after this exchange */
	bool up_reusable;        /* the last response left the upstream connection
				  * clean: it may carry another request */
	bool rh_pending;         /* response bytes to the client are inside a head */
	uint64_t resp_left;      /* body bytes still to come of a response framed
				  * without llhttp (http_resp_simple()) */
	char *rh_buf;            /* a response head split across reads */
	uint32_t rh_len, rh_cap;
	bool last_chunk;
	bool client_eof;
	bool draining;           /* finish the current exchange, then close */
	bool full_parse;         /* every head through llhttp too (tests, fuzzer) */
	bool adopting;           /* http_conn_adopt(): allowed and sent already */
	uint64_t end_ns;         /* when a spliced response ended (0: now) */
	struct http_head_cache *heads; /* optional, set after http_conn_init() */
};

void http_conn_init(struct http_conn *c, const struct http_conn_ops *ops, void *ctx);
/* Releases what the connection holds; reports an open exchange as ended. */
void http_conn_release(struct http_conn *c, enum http_reason why);

/*
 * Feeds client bytes; returns how many were consumed (the rest must be fed
 * again later, once http_conn_accepts_request_bytes() is true again).
 */
size_t http_conn_feed_request(struct http_conn *c, const char *p, size_t n);
/* Feeds upstream bytes; always consumes all of them. */
void http_conn_feed_response(struct http_conn *c, const char *p, size_t n);

bool http_conn_accepts_request_bytes(const struct http_conn *c);
/* Tests and the fuzzer: parse every request head twice (scanner and
 * llhttp) and every response with llhttp, to show that the one-parse paths
 * decide the same. */
static inline void http_conn_set_full_parse(struct http_conn *c, bool on)
{
	c->full_parse = on;
}
static inline enum http_phase http_conn_phase(const struct http_conn *c)
{
	return (enum http_phase)c->phase;
}
/* True while an allowed request waits for (the rest of) its response, i.e.
 * the upstream connection is in use and its loss is an error. */
bool http_conn_request_pending(const struct http_conn *c);

/* The upstream connection of the pending request failed before any
 * response byte: true when the request was queued again (to_upstream) for a
 * fresh connection (idempotent method, no body, once); else the caller
 * reports the failure as before. */
bool http_conn_retry(struct http_conn *c);

/* A connection that carries no HTTP (TLS passed through after its
 * ClientHello was checked): bytes both ways from now on. Only before the
 * first request. */
void http_conn_tunnel(struct http_conn *c);

/*
 * The request splice (include/sluice/abi.h): the kernel sent this request
 * (head: a whole head, no body) to the upstream itself, under a verdict the
 * proxy had made, and its response comes to the proxy. Idle only. The
 * exchange goes on as if the proxy had forwarded it (not decided again,
 * nothing sent), started at start_ns, bytes_in as the client sent it.
 * False: not idle, or not one whole head without a body.
 */
bool http_conn_adopt(struct http_conn *c, const char *head, size_t n, uint64_t start_ns,
		     uint64_t bytes_in);

/*
 * The response splice (include/sluice/abi.h): the kernel may send the
 * response to the request just queued for the upstream straight to the
 * client when this is true (the proxy would pass a simple response on as
 * the server sent it but for its hop-by-hop lines). Then, as the kernel
 * reports it: the head went (status, CLOCK_MONOTONIC ns), and the whole
 * response went (bytes as the client got them): the exchange ends as
 * http_resp_fast() would have ended it.
 */
bool http_conn_splice_ok(const struct http_conn *c);
void http_conn_spliced_head(struct http_conn *c, int status, uint64_t first_ns);
void http_conn_spliced_done(struct http_conn *c, uint64_t bytes, uint64_t last_ns);

/* Events from the transport. */
void http_conn_client_eof(struct http_conn *c);
void http_conn_upstream_eof(struct http_conn *c);
void http_conn_upstream_error(struct http_conn *c, enum http_reason why);
/* The header deadline (HTTP_PH_HEAD: 408) or an idle timeout (close). */
void http_conn_timeout(struct http_conn *c);
/* Shutting down: an idle connection closes now, a busy one after its
 * current exchange. */
void http_conn_drain(struct http_conn *c);

#endif /* SLUICE_PROXY_HTTP_CONN_H */
