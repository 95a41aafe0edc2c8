/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.c - see health.h. Deliberately tiny: one request per connection,
 * read until the end of the head (at most 1 KiB, else 400), answer, close.
 * /healthz answers from the event loop itself, so a wedged loop fails the
 * liveness probe; /readyz asks the control channel whether the proxy serves
 * a configuration an agent gave it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "health.h"

#define HEALTH_HEAD_MAX 1024

struct proxy_health {
	uv_tcp_t listener;
	proxy_health_ready_fn ready;
	void *ctx;
};

struct health_conn {
	uv_tcp_t tcp;
	struct proxy_health *h;
	uv_write_t wr;
	char buf[HEALTH_HEAD_MAX];
	size_t len;
	char out[256];
	bool answered;
};

static void health_conn_closed(uv_handle_t *hd)
{
	free(hd->data);
}

static void health_written(uv_write_t *w, int status)
{
	struct health_conn *c = w->data;

	(void)status;
	uv_close((uv_handle_t *)&c->tcp, health_conn_closed);
}

static void health_answer(struct health_conn *c, const char *status, const char *body)
{
	uv_buf_t b;
	int n = snprintf(c->out, sizeof(c->out),
			 "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 status, strlen(body), body);

	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	b = uv_buf_init(c->out, (unsigned)(n < (int)sizeof(c->out) ? n : (int)sizeof(c->out) - 1));
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, health_written))
		uv_close((uv_handle_t *)&c->tcp, health_conn_closed);
}

static void health_route(struct health_conn *c)
{
	char body[200];
	const char *why = NULL;
	bool get = !strncmp(c->buf, "GET ", 4), head = !strncmp(c->buf, "HEAD ", 5);
	const char *path = get ? c->buf + 4 : head ? c->buf + 5 : NULL;

	if (!path) {
		health_answer(c, "405 Method Not Allowed", "GET only\n");
	} else if (!strncmp(path, "/healthz ", 9)) {
		health_answer(c, "200 OK", "ok\n");
	} else if (!strncmp(path, "/readyz ", 8)) {
		if (c->h->ready(c->h->ctx, &why)) {
			health_answer(c, "200 OK", "ready\n");
		} else {
			snprintf(body, sizeof(body), "not ready: %s\n", why ? why : "?");
			health_answer(c, "503 Service Unavailable", body);
		}
	} else {
		health_answer(c, "404 Not Found", "not found\n");
	}
}

static void health_alloc(uv_handle_t *hd, size_t want, uv_buf_t *b)
{
	struct health_conn *c = hd->data;

	(void)want;
	*b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - 1 - c->len));
}

static void health_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct health_conn *c = s->data;

	(void)b;
	if (c->answered)
		return;
	if (n < 0) {
		uv_close((uv_handle_t *)&c->tcp, health_conn_closed);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = 0;
	if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n"))
		health_route(c);
	else if (c->len >= sizeof(c->buf) - 1)
		health_answer(c, "400 Bad Request", "request head too large\n");
}

static void health_on_conn(uv_stream_t *srv, int status)
{
	struct proxy_health *h = srv->data;
	struct health_conn *c;

	if (status < 0 || !(c = calloc(1, sizeof(*c))))
		return;
	c->h = h;
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(srv, (uv_stream_t *)&c->tcp) ||
	    uv_read_start((uv_stream_t *)&c->tcp, health_alloc, health_read))
		uv_close((uv_handle_t *)&c->tcp, health_conn_closed);
}

int proxy_health_start(uv_loop_t *loop, const char *addr, proxy_health_ready_fn ready, void *ctx,
		       struct proxy_health **out, char **err)
{
	struct sockaddr_in sa;
	char host[64];
	const char *colon = strrchr(addr, ':');
	struct proxy_health *h;
	int e;

	*out = NULL;
	if (!colon || (size_t)(colon - addr) >= sizeof(host)) {
		if (err && asprintf(err, "--health %s: want IPv4:PORT", addr) < 0)
			*err = NULL;
		return -EINVAL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	if (uv_ip4_addr(host, atoi(colon + 1), &sa) || !atoi(colon + 1)) {
		if (err && asprintf(err, "--health %s: want IPv4:PORT", addr) < 0)
			*err = NULL;
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ready = ready;
	h->ctx = ctx;
	uv_tcp_init(loop, &h->listener);
	h->listener.data = h;
	e = uv_tcp_bind(&h->listener, (const struct sockaddr *)&sa, 0);
	if (!e)
		e = uv_listen((uv_stream_t *)&h->listener, 16, health_on_conn);
	if (e) {
		if (err && asprintf(err, "--health %s: %s", addr, uv_strerror(e)) < 0)
			*err = NULL;
		uv_close((uv_handle_t *)&h->listener, (uv_close_cb)free);
		return e;
	}
	*out = h;
	return 0;
}

static void health_closed(uv_handle_t *hd)
{
	free(hd->data);
}

void proxy_health_stop(struct proxy_health *h)
{
	if (h)
		uv_close((uv_handle_t *)&h->listener, health_closed);
}
