/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_local.c - one-request HTTP servers for the agent's local endpoints
 * (see http_local.h). A request is read up to its blank line (2 KiB at most),
 * routed, answered with Connection: close, and the connection is closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "http_local.h"

struct http_local {
	uv_tcp_t tcp;
	http_local_route route;
	void *ctx;
};

struct hconn {
	uv_tcp_t tcp;
	struct http_local *srv;
	char buf[2048];
	size_t len;
};

static void hconn_closed(uv_handle_t *h)
{
	free(h->data);
}

static void hconn_written(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	uv_close((uv_handle_t *)w->handle, hconn_closed);
	free(w);
}

static void hconn_reply(struct hconn *c, const struct http_reply *r)
{
	const char *body = r->body ? r->body : "";
	char *resp = sl_strdupf("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
				"Connection: close\r\n\r\n%s", r->status, r->ctype, strlen(body), body);
	uv_write_t *w = sl_xcalloc(1, sizeof(*w));
	uv_buf_t b = uv_buf_init(resp, (unsigned)strlen(resp));

	w->data = resp;
	if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, hconn_written)) {
		free(resp);
		free(w);
		uv_close((uv_handle_t *)&c->tcp, hconn_closed);
	}
}

static void hconn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct hconn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len - 1));
}

static void hconn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct hconn *c = s->data;
	struct http_reply r = { "404 Not Found", "text/plain", NULL };
	char method[16], path[256];

	(void)buf;
	if (n < 0) {
		uv_close((uv_handle_t *)s, hconn_closed);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = 0;
	if (!strstr(c->buf, "\r\n\r\n") && !strstr(c->buf, "\n\n")) {
		if (c->len >= sizeof(c->buf) - 1)
			uv_close((uv_handle_t *)s, hconn_closed);
		return;
	}
	uv_read_stop(s);
	if (sscanf(c->buf, "%15s %255[^? \r\n]", method, path) != 2) {
		r.status = "400 Bad Request";
		r.body = sl_xstrdup("bad request\n");
	} else if (c->srv->route(c->srv->ctx, method, path, &r)) {
		r.status = "404 Not Found";
		r.ctype = "text/plain";
		free(r.body);
		r.body = sl_xstrdup("not found\n");
	}
	hconn_reply(c, &r);
	free(r.body);
}

static void on_conn(uv_stream_t *srv, int status)
{
	struct hconn *c;

	if (status < 0)
		return;
	c = sl_xcalloc(1, sizeof(*c));
	c->srv = srv->data;
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(srv, (uv_stream_t *)&c->tcp)) {
		uv_close((uv_handle_t *)&c->tcp, hconn_closed);
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, hconn_alloc, hconn_read);
}

int http_local_parse_addr(const char *addr, const char *what, struct sockaddr_storage *ss,
			  char **err)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return sl_fail(err, EINVAL, "%s %s: want HOST:PORT", what, addr);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return sl_fail(err, EINVAL, "%s %s: bad port", what, addr);
	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) &&
	    uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss))
		return sl_fail(err, EINVAL, "%s %s: bad address", what, addr);
	return 0;
}

int http_local_start(uv_loop_t *loop, const char *addr, const char *what, http_local_route route,
		     void *ctx, struct http_local **out, char **err)
{
	struct sockaddr_storage ss;
	struct http_local *h;
	int rc;

	rc = http_local_parse_addr(addr, what, &ss, err);
	if (rc)
		return rc;
	h = sl_xcalloc(1, sizeof(*h));
	h->route = route;
	h->ctx = ctx;
	uv_tcp_init(loop, &h->tcp);
	h->tcp.data = h;
	rc = uv_tcp_bind(&h->tcp, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&h->tcp, 64, on_conn);
	if (rc) {
		uv_close((uv_handle_t *)&h->tcp, hconn_closed);
		return sl_fail(err, rc, "%s %s: cannot listen: %s", what, addr, uv_strerror(rc));
	}
	*out = h;
	return 0;
}

void http_local_stop(struct http_local *h)
{
	if (h && !uv_is_closing((uv_handle_t *)&h->tcp))
		uv_close((uv_handle_t *)&h->tcp, hconn_closed);
}
