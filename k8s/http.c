/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - HTTP/1.1 exchanges and their connections (see http.h).
 *
 * Life of an exchange: getaddrinfo (libuv's thread pool, so a slow DNS
 * never blocks the loop), connect to each address in turn, TLS on memory
 * BIOs when the target has a context, write the request, feed every byte
 * of the answer to llhttp (which removes the chunked framing), end on
 * on_message_complete or on a close.
 *
 * Keep-alive (one-shot requests; watches hold their connection for minutes
 * and say `Connection: close`): the struct below is the exchange and the
 * connection at once. When a response completes and the server allows
 * keep-alive, the object is "parked" in its pool before on_done runs (so
 * a pool closed from on_done finds it), becomes idle on the next loop turn
 * (never re-entering llhttp from inside its own callback), and the next
 * k8s_http_start with that pool re-arms it with a new request, sent on a
 * later loop turn. A new TLS connection costs the API server a handshake
 * (tens of ms here); a reused one costs nothing.
 *
 * The race every keep-alive client has: the server closes an idle
 * connection just as a request is written on it. A server that closes an
 * idle connection never read that request, so when a reused connection
 * ends before any byte of the answer, the same object reconnects and sends
 * the request again, once, as Go's net/http transport does. Any other
 * failure, or any failure on a fresh connection, is reported: a POST is
 * never sent twice otherwise.
 *
 * Lifetime: callbacks may cancel the exchange (and usually do, indirectly,
 * by stopping a watch) while we are deep inside llhttp_execute. Cancelling
 * only sets flags and asks libuv to close the handles; the memory goes in
 * the last close callback, which libuv runs on a later loop turn. So the
 * code below only has to check h->closing after each callback.
 */
#include "http.h"

#include <errno.h>
#include <llhttp.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"
#include "util.h"

#define HTTP_READ_BUF 65536

struct k8s_http {
	uv_loop_t *loop;
	const struct k8s_http_ops *ops;
	void *ctx;
	char *host, *port;
	SSL_CTX *ssl_ctx;
	bool verify;

	uv_getaddrinfo_t gai;
	struct addrinfo *addrs, *next_addr;
	uv_connect_t connect_req;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uint64_t idle_ms;

	struct k8s_tls tls;
	bool use_tls;

	char *request;        /* plaintext request */
	size_t request_len, request_off;

	llhttp_t parser;
	llhttp_settings_t settings;
	int status;
	bool head_done;

	/* keep-alive */
	struct k8s_http_pool *pool;        /* NULL: one exchange, then close */
	struct k8s_http *pool_prev, *pool_next;
	enum { HTTP_BUSY, HTTP_PARKED, HTTP_IDLE } pstate;
	bool in_pool;
	bool reused;          /* this exchange runs on a kept-alive connection */
	bool got_bytes;       /* bytes of this exchange's answer arrived */
	bool spoiled;         /* bytes after the answer: not reusable */

	bool gai_active, tcp_open, connected;
	bool closing;         /* handles are being closed */
	bool finished;        /* on_done called or cancelled: no more callbacks */
	int pending_closes;
	char last_error[128];
	char readbuf[HTTP_READ_BUF];
};

struct http_write {
	uv_write_t req;
	char *buf;
};

static void http_maybe_free(struct k8s_http *h)
{
	if (!h->closing || h->gai_active || h->pending_closes)
		return;
	if (h->addrs)
		uv_freeaddrinfo(h->addrs);
	k8s_tls_free(&h->tls);
	free(h->request);
	free(h->host);
	free(h->port);
	if (h->ssl_ctx)
		SSL_CTX_free(h->ssl_ctx);
	free(h);
}

static void pool_add(struct k8s_http *h)
{
	struct k8s_http_pool *p = h->pool;
	h->pool_prev = NULL;
	h->pool_next = p->conns;
	if (p->conns)
		p->conns->pool_prev = h;
	p->conns = h;
	p->nconns++;
	h->in_pool = true;
}

static void pool_remove(struct k8s_http *h)
{
	struct k8s_http_pool *p = h->pool;
	if (!h->in_pool)
		return;
	if (h->pool_prev)
		h->pool_prev->pool_next = h->pool_next;
	else
		p->conns = h->pool_next;
	if (h->pool_next)
		h->pool_next->pool_prev = h->pool_prev;
	h->pool_prev = h->pool_next = NULL;
	p->nconns--;
	h->in_pool = false;
}

static void http_on_close(uv_handle_t *handle)
{
	struct k8s_http *h = handle->data;
	h->pending_closes--;
	http_maybe_free(h);
}

static void http_teardown(struct k8s_http *h)
{
	if (h->closing)
		return;
	h->closing = true;
	pool_remove(h);
	if (h->gai_active)
		uv_cancel((uv_req_t *)&h->gai);
	h->pending_closes++;
	uv_close((uv_handle_t *)&h->timer, http_on_close);
	if (h->tcp_open) {
		h->pending_closes++;
		uv_close((uv_handle_t *)&h->tcp, http_on_close);
	}
	http_maybe_free(h);
}

/* Ends the exchange and reports it (once). h may be freed afterwards by the
 * loop, never during this call. */
static void http_finish(struct k8s_http *h, const char *errmsg)
{
	if (h->finished) {
		http_teardown(h);
		return;
	}
	h->finished = true;
	http_teardown(h);
	h->ops->on_done(h->ctx, h->status, errmsg);
}

static void http_failf(struct k8s_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void http_failf(struct k8s_http *h, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_finish(h, msg);
}

void k8s_http_cancel(struct k8s_http *h)
{
	if (!h)
		return;
	h->finished = true;
	http_teardown(h);
}

static void http_arm_timer(struct k8s_http *h);
static bool http_retry_stale(struct k8s_http *h);

static void http_on_timeout(uv_timer_t *t)
{
	struct k8s_http *h = t->data;
	if (!h->connected)
		http_failf(h, "connect to %s:%s: timed out after %llu ms", h->host, h->port,
			   (unsigned long long)h->idle_ms);
	else
		http_failf(h, "%s:%s: no data for %llu ms", h->host, h->port,
			   (unsigned long long)h->idle_ms);
}

static void http_arm_timer(struct k8s_http *h)
{
	if (!h->closing && h->idle_ms)
		uv_timer_start(&h->timer, http_on_timeout, h->idle_ms, 0);
}

static void http_on_write(uv_write_t *req, int status)
{
	struct http_write *w = (struct http_write *)req;
	struct k8s_http *h = req->data;
	free(w->buf);
	free(w);
	if (status < 0 && status != UV_ECANCELED && !h->closing && h->pstate == HTTP_BUSY &&
	    !http_retry_stale(h))
		http_failf(h, "%s:%s: write: %s", h->host, h->port, uv_strerror(status));
}

/* Queues bytes on the socket; takes buf. */
static int http_send(struct k8s_http *h, char *buf, size_t len)
{
	if (h->closing) {
		free(buf);
		return -ECANCELED;
	}
	struct http_write *w = sl_xcalloc(1, sizeof(*w));
	w->buf = buf;
	w->req.data = h;
	uv_buf_t b = uv_buf_init(buf, (unsigned)len);
	int r = uv_write(&w->req, (uv_stream_t *)&h->tcp, &b, 1, http_on_write);
	if (r < 0) {
		free(buf);
		free(w);
		http_failf(h, "%s:%s: write: %s", h->host, h->port, uv_strerror(r));
		return r;
	}
	return 0;
}

static void http_flush_tls(struct k8s_http *h)
{
	char *out;
	size_t n = k8s_tls_take_output(&h->tls, &out);
	if (n)
		http_send(h, out, n);
}

/* --- response parsing ---------------------------------------------------- */

static int http_on_headers_complete(llhttp_t *p)
{
	struct k8s_http *h = p->data;
	h->status = p->status_code;
	h->head_done = true;
	if (h->ops->on_head && h->ops->on_head(h->ctx, h->status)) {
		k8s_http_cancel(h);
		return HPE_PAUSED;
	}
	return h->closing ? HPE_PAUSED : 0;
}

static int http_on_body(llhttp_t *p, const char *at, size_t len)
{
	struct k8s_http *h = p->data;
	if (h->closing)
		return HPE_PAUSED;
	if (h->ops->on_body && h->ops->on_body(h->ctx, at, len)) {
		k8s_http_cancel(h);
		return HPE_PAUSED;
	}
	return h->closing ? HPE_PAUSED : 0;
}

static void http_on_idle_timeout(uv_timer_t *t)
{
	http_teardown(t->data);
}

/* The loop turn after a response completed: the connection becomes idle,
 * unless something is left in it that no request asked for. */
static void http_on_parked(uv_timer_t *t)
{
	struct k8s_http *h = t->data;
	if (h->closing)
		return;
	if (h->spoiled || (h->use_tls && SSL_pending(h->tls.ssl) > 0)) {
		http_teardown(h);
		return;
	}
	h->pstate = HTTP_IDLE;
	uv_timer_start(&h->timer, http_on_idle_timeout, h->pool->idle_ms, 0);
}

static int http_on_message_complete(llhttp_t *p)
{
	struct k8s_http *h = p->data;
	if (h->closing)
		return HPE_PAUSED;
	if (!h->pool || !llhttp_should_keep_alive(p) || h->pool->nconns >= h->pool->max_idle) {
		http_finish(h, NULL);
		return HPE_PAUSED;
	}
	/* parked before on_done: a pool closed from there closes it too */
	h->finished = true;
	h->pstate = HTTP_PARKED;
	pool_add(h);
	uv_timer_start(&h->timer, http_on_parked, 0, 0);
	h->ops->on_done(h->ctx, h->status, NULL);
	return HPE_PAUSED;
}

static void http_parse(struct k8s_http *h, const char *data, size_t len)
{
	if (h->closing)
		return;
	if (len)
		h->got_bytes = true;
	llhttp_errno_t e = llhttp_execute(&h->parser, data, len);
	if (h->closing)
		return;
	if (h->pstate != HTTP_BUSY) {
		/* the answer is complete: anything after it spoils the connection */
		const char *pos = llhttp_get_error_pos(&h->parser);
		if (e != HPE_PAUSED || !pos || pos < data || pos > data + len ||
		    (size_t)(pos - data) < len)
			h->spoiled = true;
		return;
	}
	if (e != HPE_OK)
		http_failf(h, "%s:%s: bad HTTP response: %s", h->host, h->port,
			   llhttp_get_error_reason(&h->parser) ? llhttp_get_error_reason(&h->parser)
							       : llhttp_errno_name(e));
}

/* The peer closed (TCP EOF or TLS close_notify). */
static void http_on_eof(struct k8s_http *h)
{
	if (h->closing || http_retry_stale(h))
		return;
	/* a body delimited by the close ends here: llhttp completes it */
	if (h->head_done && llhttp_message_needs_eof(&h->parser)) {
		llhttp_errno_t e = llhttp_finish(&h->parser);
		if (h->closing)
			return;
		if (e == HPE_OK) {
			http_finish(h, NULL);
			return;
		}
	}
	if (!h->head_done)
		http_failf(h, "%s:%s: connection closed before the response", h->host, h->port);
	else
		http_failf(h, "%s:%s: connection closed in the middle of the response", h->host,
			   h->port);
}

/* --- the socket ---------------------------------------------------------- */

static void http_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct k8s_http *h = handle->data;
	(void)suggested;
	*buf = uv_buf_init(h->readbuf, sizeof(h->readbuf));
}

/* Pushes the plaintext request through TLS as far as the handshake allows,
 * then decrypts whatever arrived. */
static void http_tls_pump(struct k8s_http *h)
{
	char *err = NULL;
	while (!h->closing && h->request_off < h->request_len) {
		int n = k8s_tls_write(&h->tls, h->request + h->request_off,
				      h->request_len - h->request_off, &err);
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		h->request_off += (size_t)n;
	}
	http_flush_tls(h);
	/* the ciphertext in readbuf is already inside the BIO: the buffer is
	 * free to receive plaintext */
	while (!h->closing && h->pstate == HTTP_BUSY) {
		int n = k8s_tls_read(&h->tls, h->readbuf, sizeof(h->readbuf), &err);
		if (n == -EPIPE) {
			http_flush_tls(h);
			http_on_eof(h);
			return;
		}
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		http_parse(h, h->readbuf, (size_t)n);
	}
	if (!h->closing)
		http_flush_tls(h);
	return;
fail:
	http_failf(h, "%s:%s: %s", h->host, h->port, err ? err : "TLS error");
	free(err);
}

/* Bytes or a close on a parked or idle connection: a close (the server's
 * idle timeout) or anything unasked ends it; TLS records that carry no
 * data (session tickets, key updates) are fine. */
static void http_idle_read(struct k8s_http *h, ssize_t n)
{
	char *err = NULL;
	if (n == 0)
		return;
	if (n < 0 || !h->use_tls || k8s_tls_feed(&h->tls, h->readbuf, (size_t)n, &err)) {
		free(err);
		http_teardown(h);
		return;
	}
	int r = k8s_tls_read(&h->tls, h->readbuf, sizeof(h->readbuf), &err);
	free(err);
	if (r != 0) {
		http_teardown(h);
		return;
	}
	http_flush_tls(h);
}

static void http_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct k8s_http *h = s->data;
	(void)buf;
	if (h->closing)
		return;
	if (h->pstate != HTTP_BUSY) {
		http_idle_read(h, n);
		return;
	}
	if (n == UV_EOF) {
		if (h->use_tls && !h->tls.established)
			http_failf(h, "%s:%s: connection closed during the TLS handshake", h->host,
				   h->port);
		else
			http_on_eof(h);
		return;
	}
	if (n < 0) {
		if (!http_retry_stale(h))
			http_failf(h, "%s:%s: read: %s", h->host, h->port, uv_strerror((int)n));
		return;
	}
	if (n == 0)
		return;
	http_arm_timer(h);
	if (h->use_tls) {
		char *err = NULL;
		if (k8s_tls_feed(&h->tls, h->readbuf, (size_t)n, &err)) {
			http_failf(h, "%s", err);
			free(err);
			return;
		}
		http_tls_pump(h);
	} else {
		http_parse(h, h->readbuf, (size_t)n);
	}
}

static void http_connect_next(struct k8s_http *h);

/* The request onto the connection (through TLS, which may still need its
 * handshake). */
static void http_send_request(struct k8s_http *h)
{
	if (h->use_tls) {
		http_tls_pump(h);
		return;
	}
	char *copy = malloc(h->request_len);
	if (!copy)
		abort();
	memcpy(copy, h->request, h->request_len);
	http_send(h, copy, h->request_len);
}

/* A failed socket must be closed before the handle can be initialised for
 * the next address: the next attempt starts from its close callback. */
static void http_on_failed_tcp_closed(uv_handle_t *handle)
{
	struct k8s_http *h = handle->data;
	h->pending_closes--;
	if (h->closing)
		http_maybe_free(h);
	else
		http_connect_next(h);
}

static void http_drop_tcp(struct k8s_http *h, const char *why)
{
	snprintf(h->last_error, sizeof(h->last_error), "%s", why);
	h->pending_closes++;
	h->tcp_open = false;
	uv_close((uv_handle_t *)&h->tcp, http_on_failed_tcp_closed);
}

/* A kept-alive connection that ended before any byte of the answer (see
 * the top of the file): the same exchange connects again and resends. */
static bool http_retry_stale(struct k8s_http *h)
{
	if (!h->reused || h->got_bytes || h->closing || h->finished || !h->tcp_open)
		return false;
	h->reused = false;
	h->pool->stale++;
	k8s_tls_free(&h->tls);
	h->request_off = 0;
	h->connected = false;
	llhttp_init(&h->parser, HTTP_RESPONSE, &h->settings);
	h->parser.data = h;
	h->next_addr = h->addrs;
	http_arm_timer(h);
	http_drop_tcp(h, "kept-alive connection closed");
	return true;
}

static void http_on_connect(uv_connect_t *req, int status)
{
	struct k8s_http *h = req->data;
	if (h->closing)
		return;
	if (status < 0) {
		http_drop_tcp(h, uv_strerror(status));
		return;
	}
	h->connected = true;
	http_arm_timer(h);
	int r = uv_read_start((uv_stream_t *)&h->tcp, http_on_alloc, http_on_read);
	if (r < 0) {
		http_failf(h, "%s:%s: read: %s", h->host, h->port, uv_strerror(r));
		return;
	}
	if (h->use_tls) {
		char *err = NULL;
		if (k8s_tls_start(&h->tls, h->ssl_ctx, h->host, h->verify, &err)) {
			http_failf(h, "%s", err);
			free(err);
			return;
		}
	}
	http_send_request(h);
}

/* Tries the next resolved address (last_error says what went wrong with the
 * previous one). */
static void http_connect_next(struct k8s_http *h)
{
	while (h->next_addr) {
		struct addrinfo *ai = h->next_addr;
		h->next_addr = ai->ai_next;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		int r = uv_tcp_init(h->loop, &h->tcp);
		if (r < 0) {
			snprintf(h->last_error, sizeof(h->last_error), "%s", uv_strerror(r));
			continue;
		}
		h->tcp.data = h;
		h->tcp_open = true;
		uv_tcp_nodelay(&h->tcp, 1);
		h->connect_req.data = h;
		r = uv_tcp_connect(&h->connect_req, &h->tcp, ai->ai_addr, http_on_connect);
		if (r == 0)
			return;
		http_drop_tcp(h, uv_strerror(r));
		return;
	}
	http_failf(h, "connect to %s:%s: %s", h->host, h->port,
		   h->last_error[0] ? h->last_error : "no address");
}

static void http_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct k8s_http *h = req->data;
	h->gai_active = false;
	h->addrs = res;
	if (h->closing) {
		http_maybe_free(h);
		return;
	}
	if (status < 0) {
		http_failf(h, "resolve %s: %s", h->host, uv_strerror(status));
		return;
	}
	h->next_addr = res;
	http_connect_next(h);
}

void k8s_http_pool_init(struct k8s_http_pool *p, unsigned max_idle, uint64_t idle_ms)
{
	memset(p, 0, sizeof(*p));
	p->max_idle = max_idle;
	p->idle_ms = idle_ms;
}

void k8s_http_pool_close(struct k8s_http_pool *p)
{
	while (p->conns)
		http_teardown(p->conns); /* unlinks it */
}

/* The loop turn after a reused connection was given its request. */
static void http_on_kick(uv_timer_t *t)
{
	struct k8s_http *h = t->data;
	if (h->closing)
		return;
	http_arm_timer(h);
	http_send_request(h);
}

/* An idle connection of the pool, or NULL. */
static struct k8s_http *http_take_idle(struct k8s_http_pool *p)
{
	for (struct k8s_http *h = p->conns; h; h = h->pool_next) {
		if (h->pstate == HTTP_IDLE) {
			pool_remove(h);
			return h;
		}
	}
	return NULL;
}

int k8s_http_start(uv_loop_t *loop, const struct k8s_http_target *target, char *request,
		   size_t request_len, uint64_t idle_ms, const struct k8s_http_ops *ops,
		   void *ctx, struct k8s_http **out, char **err)
{
	struct k8s_http *h = target->pool ? http_take_idle(target->pool) : NULL;
	if (h) {
		/* same pool, same server: only the exchange's state is new */
		free(h->request);
		h->request = request;
		h->request_len = request_len;
		h->request_off = 0;
		h->idle_ms = idle_ms;
		h->ops = ops;
		h->ctx = ctx;
		h->status = 0;
		h->head_done = false;
		h->finished = false;
		h->got_bytes = false;
		h->reused = true;
		h->pstate = HTTP_BUSY;
		llhttp_init(&h->parser, HTTP_RESPONSE, &h->settings);
		h->parser.data = h;
		target->pool->reused++;
		/* sent from the loop: callbacks never run before this returns */
		uv_timer_start(&h->timer, http_on_kick, 0, 0);
		*out = h;
		return 0;
	}
	h = sl_xcalloc(1, sizeof(*h));
	if (target->pool) {
		h->pool = target->pool;
		h->pool->opened++;
	}
	size_t hl = strlen(target->host);

	h->loop = loop;
	h->ops = ops;
	h->ctx = ctx;
	/* getaddrinfo wants "::1", the Host header and TLS take "[::1]" too */
	if (hl > 2 && target->host[0] == '[' && target->host[hl - 1] == ']')
		h->host = sl_strdupf("%.*s", (int)(hl - 2), target->host + 1);
	else
		h->host = sl_xstrdup(target->host);
	h->port = sl_xstrdup(target->port);
	h->request = request;
	h->request_len = request_len;
	h->idle_ms = idle_ms;
	h->verify = target->verify;
	if (target->tls) {
		h->use_tls = true;
		SSL_CTX_up_ref(target->tls);
		h->ssl_ctx = target->tls;
	}
	llhttp_settings_init(&h->settings);
	h->settings.on_headers_complete = http_on_headers_complete;
	h->settings.on_body = http_on_body;
	h->settings.on_message_complete = http_on_message_complete;
	llhttp_init(&h->parser, HTTP_RESPONSE, &h->settings);
	h->parser.data = h;

	uv_timer_init(loop, &h->timer);
	h->timer.data = h;

	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 };
	h->gai.data = h;
	int r = uv_getaddrinfo(loop, &h->gai, http_on_resolved, h->host, h->port, &hints);
	if (r < 0) {
		r = sl_fail(err, -r, "resolve %s: %s", h->host, uv_strerror(r));
		h->finished = true;
		http_teardown(h);
		return r;
	}
	h->gai_active = true;
	http_arm_timer(h);
	*out = h;
	return 0;
}
