/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.c - the agent's local API: newline-delimited JSON over a unix socket.
 *
 * A request is one JSON object {"cmd": "...", ...}; the answer is one JSON
 * object {"ok": true, ...} or {"ok": false, "error": "one line"}. The socket
 * is root-only (0600): whoever can talk to it can change the node's policy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "agent.h"
#include "api.h"
#include "memory.h"

#define API_MAX_REQUEST (64u << 20) /* policy files can be large */

struct api_client {
	uv_pipe_t pipe;
	struct api_server *srv;
	char *buf;
	size_t len, cap;
	bool closing;
	struct api_client *next;
	/* a streaming command's state, and what to call when the client goes */
	void *stream_ctx;
	void (*stream_closed)(void *ctx);
	size_t scan;       /* buf[0..scan) holds no newline */
	json_t *pending;   /* a request waiting for its attachments */
	size_t need;       /* ... of this many bytes */
};

/* The server: its listening pipe and its clients. Freed when the listener
 * and every client have closed (libuv runs close callbacks later, in any
 * order). */
struct api_server {
	uv_pipe_t pipe;
	struct agent *agent;
	struct api_client *clients;
	size_t open_handles;
};

static void server_unref(struct api_server *srv)
{
	if (--srv->open_handles == 0) {
		if (srv->agent->api == srv)
			srv->agent->api = NULL;
		free(srv);
	}
}

static const struct api_command *command_find(const char *name)
{
	size_t i;

	for (i = 0; i < agent_ncommands; i++)
		if (!strcmp(agent_commands[i].name, name))
			return &agent_commands[i];
	return NULL;
}

static json_t *dispatch(struct api_client *c, json_t *req, char **err)
{
	const char *name = json_string_value(json_object_get(req, "cmd"));
	const struct api_command *cmd;
	json_t *res;

	if (!name) {
		sl_fail(err, EINVAL, "request has no cmd");
		return NULL;
	}
	cmd = command_find(name);
	if (!cmd) {
		sl_fail(err, EINVAL, "unknown command %s", name);
		return NULL;
	}
	res = cmd->handler(c->srv->agent, c, req, err);
	if (res == API_STREAMING && !(cmd->flags & API_CMD_STREAMING))
		abort(); /* a table error: only streaming commands keep the client */
	if (!res && !*err)
		sl_fail(err, EIO, "%s failed", name);
	return res;
}

static void on_close(uv_handle_t *h)
{
	struct api_client *c = h->data, **pp;
	struct api_server *srv = c->srv;

	for (pp = &srv->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->stream_closed)
		c->stream_closed(c->stream_ctx);
	json_decref(c->pending);
	free(c->buf);
	/* a large request (a policy set) is garbage now, with what parsing
	 * it cost: give it back instead of keeping it for the next one */
	if (c->cap >= (1u << 20))
		agent_memory_release_soon(srv->agent);
	free(c);
	server_unref(srv);
}

void api_client_close(struct api_client *c)
{
	if (!c->closing) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->pipe, on_close);
	}
}

static void on_write(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

int api_client_send(struct api_client *c, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	if (!text)
		return -ENOMEM;
	return api_client_send_text(c, text);
}

/* Takes ownership of a malloc'd JSON text (without newline) and sends it. */
int api_client_send_text(struct api_client *c, char *text)
{
	size_t len;
	uv_write_t *w;
	uv_buf_t b;
	int rc;

	if (c->closing) {
		free(text);
		return -EPIPE;
	}
	len = strlen(text);
	text = realloc(text, len + 2);
	if (!text)
		abort();
	text[len] = '\n';
	text[len + 1] = 0;
	w = sl_xcalloc(1, sizeof(*w));
	w->data = text;
	b = uv_buf_init(text, (unsigned)len + 1);
	rc = uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, on_write);
	if (rc) {
		free(text);
		free(w);
	}
	return rc;
}

/*
 * Sends len bytes as they are (a batch of lines or binary frames): written
 * at once when the socket takes them and nothing is queued before, the rest
 * queued as a copy. The caller keeps buf, so a stream reuses one buffer
 * instead of allocating one per batch.
 */
int api_client_write(struct api_client *c, const void *buf, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	uv_write_t *w;
	char *copy;
	int rc, n;

	if (c->closing)
		return -EPIPE;
	if (!len)
		return 0;
	n = uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
	if (n < 0 && n != UV_EAGAIN)
		return n;
	if (n < 0)
		n = 0;
	if ((size_t)n == len)
		return 0;
	copy = malloc(len - (size_t)n);
	if (!copy)
		abort();
	memcpy(copy, (const char *)buf + n, len - (size_t)n);
	w = sl_xcalloc(1, sizeof(*w));
	w->data = copy;
	b = uv_buf_init(copy, (unsigned)(len - (size_t)n));
	rc = uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, on_write);
	if (rc) {
		free(copy);
		free(w);
	}
	return rc;
}

size_t api_client_queued(struct api_client *c)
{
	return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

void api_client_stream(struct api_client *c, void *ctx, void (*on_close)(void *ctx))
{
	c->stream_ctx = ctx;
	c->stream_closed = on_close;
}

void api_client_sndbuf(struct api_client *c, int bytes)
{
	uv_os_fd_t fd;

	/* the agent runs as root: FORCE may pass the system's wmem_max */
	if (!uv_fileno((uv_handle_t *)&c->pipe, &fd) &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

static void answer(struct api_client *c, json_t *req)
{
	json_t *res;
	char *err = NULL;

	res = dispatch(c, req, &err);
	json_decref(req);
	if (res == API_STREAMING)
		return; /* a streaming command answers on its own */
	if (!res)
		res = json_pack("{s:b,s:s}", "ok", 0, "error", err ? err : "failed");
	else if (!json_object_get(res, "ok"))
		json_object_set_new(res, "ok", json_true());
	api_client_send(c, res);
	json_decref(res);
	free(err);
}

static void answer_error(struct api_client *c, const char *msg)
{
	json_t *res = json_pack("{s:b,s:s}", "ok", 0, "error", msg);

	api_client_send(c, res);
	json_decref(res);
}

/*
 * A request line may announce attachments: "attach": [LEN, ...], whose
 * bytes follow the line back to back (policy texts: sent as they are, not
 * escaped into the JSON line, which costs more than applying a one-rule
 * change). Returns the bytes still to wait for, or -1 after answering an
 * error.
 */
static long attachments_size(struct api_client *c, json_t *req)
{
	json_t *lens = json_object_get(req, "attach"), *v;
	size_t i, total = 0;

	if (!lens)
		return 0;
	if (!json_is_array(lens))
		goto bad;
	json_array_foreach(lens, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (size_t)json_integer_value(v) > API_MAX_REQUEST - total)
			goto bad;
		total += (size_t)json_integer_value(v);
	}
	return (long)total;
bad:
	answer_error(c, "malformed request: attach");
	return -1;
}

/* files[].content_attachment = K becomes files[].content = the K-th
 * attachment; false after answering an error */
static bool attachments_bind(struct api_client *c, json_t *req, const char *data)
{
	json_t *lens = json_object_get(req, "attach"), *f;
	size_t i, n = json_array_size(lens), *offs = calloc(n + 1, sizeof(*offs));

	if (!offs)
		abort();
	for (i = 0; i < n; i++)
		offs[i + 1] = offs[i] + (size_t)json_integer_value(json_array_get(lens, i));
	json_array_foreach(json_object_get(req, "files"), i, f) {
		json_t *k = json_object_get(f, "content_attachment");
		size_t at;

		if (!k)
			continue;
		at = (size_t)json_integer_value(k);
		if (!json_is_integer(k) || json_integer_value(k) < 0 || at >= n) {
			answer_error(c, "malformed request: content_attachment");
			free(offs);
			return false;
		}
		if (memchr(data + offs[at], '\0', offs[at + 1] - offs[at])) {
			const char *name = json_string_value(json_object_get(f, "name"));
			char *msg = sl_strdupf("%s: contains a NUL byte, not a YAML file",
					       name ? name : "a policy file");

			answer_error(c, msg);
			free(msg);
			free(offs);
			return false;
		}
		/* UTF-8 is checked by the YAML parser, with line numbers */
		json_object_set_new(f, "content", json_stringn_nocheck(data + offs[at], offs[at + 1] - offs[at]));
	}
	free(offs);
	return true;
}

/* One request line: answered now, or kept until its attachments are in. */
static void handle_line(struct api_client *c, char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr);
	long need;

	if (!req) {
		answer_error(c, "malformed request");
		return;
	}
	need = attachments_size(c, req);
	if (need < 0) {
		json_decref(req);
	} else if (need == 0 && json_object_get(req, "attach")) {
		/* only empty attachments (an empty file): bind them all the same */
		if (attachments_bind(c, req, ""))
			answer(c, req);
		else
			json_decref(req);
	} else if (need > 0) {
		c->pending = req;
		c->need = (size_t)need;
	} else {
		answer(c, req);
	}
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct api_client *c = h->data;

	size_t cap = c->cap;

	(void)hint;
	if (c->pending && c->need + 65536 > cap)
		/* the attachments' size is known: one buffer for all of them,
		 * not a doubling that copies (and touches) ever more memory */
		cap = c->need + 65536;
	else if (cap - c->len < 65536)
		cap = cap ? cap * 2 : 131072;
	if (cap != c->cap) {
		c->buf = realloc(c->buf, cap);
		if (!c->buf)
			abort();
		c->cap = cap;
	}
	*buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len - 1));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct api_client *c = s->data;
	char *start, *nl;

	(void)buf;
	if (n < 0) {
		api_client_close(c);
		return;
	}
	c->len += (size_t)n;
	if (c->len > API_MAX_REQUEST) {
		api_client_close(c);
		return;
	}
	start = c->buf;
	while (!c->closing) {
		char *line;

		if (c->pending) {
			json_t *req = c->pending;

			if (c->len - (size_t)(start - c->buf) < c->need)
				break;
			c->pending = NULL;
			if (attachments_bind(c, req, start))
				answer(c, req);
			else
				json_decref(req);
			start += c->need;
			continue;
		}
		/* buf[0..scan) was searched for a newline before */
		if (c->scan < (size_t)(start - c->buf))
			c->scan = (size_t)(start - c->buf);
		nl = memchr(c->buf + c->scan, '\n', c->len - c->scan);
		if (!nl) {
			c->scan = c->len;
			break;
		}
		*nl = 0;
		line = start;
		start = nl + 1;
		handle_line(c, line);
	}
	c->scan = c->scan > (size_t)(start - c->buf) ? c->scan - (size_t)(start - c->buf) : 0;
	c->len -= (size_t)(start - c->buf);
	memmove(c->buf, start, c->len);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct api_server *srv = server->data;
	struct api_client *c;

	if (status < 0)
		return;
	c = sl_xcalloc(1, sizeof(*c));
	c->srv = srv;
	uv_pipe_init(server->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe)) {
		uv_close((uv_handle_t *)&c->pipe, (uv_close_cb)free);
		return;
	}
	srv->open_handles++;
	c->next = srv->clients;
	srv->clients = c;
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static void on_server_closed(uv_handle_t *h)
{
	server_unref(h->data);
}

int agent_api_start(struct agent *a, char **err)
{
	struct api_server *srv;
	char dir[4096], *slash;
	int rc;

	snprintf(dir, sizeof(dir), "%s", a->cfg.socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755);
	}
	unlink(a->cfg.socket_path);
	srv = sl_xcalloc(1, sizeof(*srv));
	srv->agent = a;
	srv->open_handles = 1;
	uv_pipe_init(a->loop, &srv->pipe, 0);
	srv->pipe.data = srv;
	a->api = srv;
	rc = uv_pipe_bind(&srv->pipe, a->cfg.socket_path);
	if (rc) {
		uv_close((uv_handle_t *)&srv->pipe, on_server_closed);
		return sl_fail(err, rc, "cannot bind %s: %s", a->cfg.socket_path, uv_strerror(rc));
	}
	chmod(a->cfg.socket_path, 0600);
	rc = uv_listen((uv_stream_t *)&srv->pipe, 64, on_connection);
	if (rc) {
		uv_close((uv_handle_t *)&srv->pipe, on_server_closed);
		return sl_fail(err, rc, "cannot listen on %s: %s", a->cfg.socket_path, uv_strerror(rc));
	}
	return 0;
}

void agent_api_stop(struct agent *a)
{
	struct api_server *srv = a->api;
	struct api_client *c;

	if (!srv)
		return;
	for (c = srv->clients; c; c = c->next)
		api_client_close(c);
	if (!uv_is_closing((uv_handle_t *)&srv->pipe))
		uv_close((uv_handle_t *)&srv->pipe, on_server_closed);
	unlink(a->cfg.socket_path);
}
