/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control.c - the control channel, proxy side (control.h; the messages are
 * in docs/proxy-control.md).
 *
 * Output to the agent never blocks the proxy: a datagram the socket cannot
 * take now waits in a queue (flushed when the socket is writable). Access
 * records are dropped, and counted ("access_dropped" in stats), once that
 * queue holds more than CTL_QUEUE_MAX bytes; replies are always queued.
 *
 * Stats go out every second, and also CTL_STATS_SOON_MS after any counter
 * changed, so that what the agent shows is never more than a few ms old
 * (at most one message per CTL_STATS_SOON_MS under load).
 *
 * "latency_ns" in an access record is the request's duration, first request
 * byte to last response byte (or to the verdict, for a denied one).
 *
 * Access records, the per-request part: an agent that says "access":"binary"
 * in its hello gets them as binary batches (sluice/access_record.h), sent
 * CTL_ACCESS_FLUSH_MS after the first record of a batch (or when it is
 * full): one wake-up of the agent per batch, not per request. With
 * "access_log":true and an fd (its stdout), the proxy writes the access-log
 * lines there itself, at the same moments, through a log sink (log_sink.h:
 * whole lines, never blocking; a stalled reader costs lines, counted as
 * "access_log_dropped" in stats, never request serving). Other agents get
 * one JSON "access" message per request.
 *
 * Without an agent the proxy keeps serving with the configuration it has
 * for the orphan grace period (an agent restart is no outage), then fails
 * closed: it drains and exits, and with its listeners gone the kernel drops
 * new L7 connections. The rules it holds are only as fresh as its agent.
 */
#include "control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "access_log.h"
#include "access_record.h"
#include "log_sink.h"
#include "resolver_datapath.h"
#include "rules_json.h"
#include "sluice/abi.h"
#include "sluice/access_record.h"

#define CTL_MSG_MAX (64u * 1024u)
#define CTL_QUEUE_MAX (8u << 20)
#define CTL_RULES_MAX (256u << 20)
#define CTL_MAX_FDS 8
#define CTL_STATS_SOON_MS 5
#define CTL_ACCESS_FLUSH_MS 5
#define CTL_LINE_MAX 4096u

/* One datagram waiting for the socket. */
struct ctl_out {
	struct ctl_out *next;
	int fd;              /* passed with it, closed once sent; -1 = none */
	size_t len;
	char data[];
};

/* One agent connection. */
struct ctl_agent {
	struct proxy_control *c;
	uv_poll_t poll;
	int fd;
	int events;
	struct ctl_out *head, *tail;
	size_t queued;
	bool reset_seen;
};

struct proxy_control {
	uv_loop_t *loop;
	struct proxy_server *srv;
	struct proxy_resolver *res;
	char *path, *node;
	int listen_fd;
	uv_poll_t listen_poll;
	bool listening;
	struct ctl_agent *agent;
	uv_timer_t tick;
	uv_timer_t soon;         /* stats shortly after a change */
	uv_timer_t orphan;       /* runs while no agent is connected */
	uv_timer_t access_timer; /* sends the access batch, writes the log */
	uint32_t orphan_grace_ms; /* 0: serve without an agent forever */
	uv_prepare_t watch;      /* notices changes, once per loop iteration */
	struct proxy_counters sent; /* as of the last stats message */
	int handles;
	bool draining, closing;
	bool configured;           /* an agent sent a rules table (readiness) */
	uint64_t access_dropped;   /* records the agent did not get */
	uint64_t log_dropped_past; /* lines dropped by sinks since replaced */
	void (*on_drain)(void *ctx);
	void *drain_ctx;
	/* this agent's access records: binary batches, the log written here */
	bool binary;
	struct proxy_log_sink *log;  /* the agent's access log (its stdout) */
	struct proxy_log_sink *out;  /* ours, while no agent is connected */
	size_t batch_len;        /* 0: empty; else header included */
	uint32_t batch_count;
	_Alignas(8) char batch[SLUICE_ACCESS_BATCH_MAX];
	char rbuf[CTL_MSG_MAX + 1];
};

__attribute__((format(printf, 2, 3)))
static void ctl_errf(char **err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
}

static void ctl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void ctl_log(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice-proxy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- output ------------------------------------------------------------- */

/* One datagram, with at most one fd; 0, -EAGAIN or another negative errno. */
static int ctl_sendmsg(int sock, const char *data, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

static void ctl_agent_close(struct ctl_agent *a, const char *why);

static void ctl_on_agent_event(uv_poll_t *h, int status, int events);

static void ctl_agent_update_poll(struct ctl_agent *a)
{
	int want = UV_READABLE | UV_DISCONNECT | (a->head ? UV_WRITABLE : 0);

	if (want != a->events) {
		a->events = want;
		uv_poll_start(&a->poll, want, ctl_on_agent_event);
	}
}

/* Sends what waits; false when the agent went away. */
static bool ctl_agent_flush(struct ctl_agent *a)
{
	while (a->head) {
		struct ctl_out *o = a->head;
		int r = ctl_sendmsg(a->fd, o->data, o->len, o->fd);

		if (r == -EAGAIN)
			break;
		if (r < 0) {
			ctl_agent_close(a, strerror(-r));
			return false;
		}
		a->head = o->next;
		if (!a->head)
			a->tail = NULL;
		a->queued -= o->len;
		if (o->fd >= 0)
			close(o->fd);
		free(o);
	}
	ctl_agent_update_poll(a);
	return true;
}

/*
 * Sends one datagram to the agent, now or later (in order); takes fd. A
 * droppable message (access records, stats) is dropped when the queue is
 * full; the access records it carried are counted as dropped.
 */
static void ctl_send(struct proxy_control *c, const char *data, size_t len, int fd,
		     bool droppable, uint32_t records)
{
	struct ctl_agent *a = c->agent;
	struct ctl_out *o;

	if (!a)
		goto drop;
	if (!a->head) {
		int r = ctl_sendmsg(a->fd, data, len, fd);

		if (r == 0) {
			if (fd >= 0)
				close(fd);
			return;
		}
		if (r != -EAGAIN) {
			ctl_agent_close(a, strerror(-r));
			goto drop;
		}
	}
	if (droppable && a->queued > CTL_QUEUE_MAX) {
		c->access_dropped += records;
		goto drop;
	}
	o = malloc(sizeof(*o) + len);
	if (!o) {
		c->access_dropped += records;
		goto drop;
	}
	o->next = NULL;
	o->fd = fd;
	o->len = len;
	memcpy(o->data, data, len);
	if (a->tail)
		a->tail->next = o;
	else
		a->head = o;
	a->tail = o;
	a->queued += len;
	ctl_agent_update_poll(a);
	return;
drop:
	if (fd >= 0)
		close(fd);
}

static void ctl_send_json(struct proxy_control *c, json_t *m, int fd)
{
	char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;

	if (text)
		ctl_send(c, text, strlen(text), fd, false, 0);
	else if (fd >= 0)
		close(fd);
	free(text);
	json_decref(m);
}

/* ---- what the proxy reports ------------------------------------------- */

static uint64_t ctl_log_dropped(const struct proxy_control *c)
{
	return c->log_dropped_past + proxy_log_sink_dropped(c->log) +
	       proxy_log_sink_dropped(c->out);
}

/* A new access-log fd from the agent (-1: none); the old sink's last lines
 * get a short chance to go out. */
static void ctl_log_set(struct proxy_control *c, int fd, unsigned wait_ms)
{
	if (c->log) {
		proxy_log_sink_close(c->log, wait_ms);
		c->log_dropped_past += proxy_log_sink_dropped(c->log);
		c->log = NULL;
	}
	if (fd >= 0 && !(c->log = proxy_log_sink_new(c->loop, fd, 0)))
		c->log_dropped_past++; /* no memory: say so */
}

static void ctl_batch_flush(struct proxy_control *c)
{
	struct sluice_access_batch h = { .magic = SLUICE_ACCESS_MAGIC, .count = c->batch_count };

	if (!c->batch_count)
		return;
	memcpy(c->batch, &h, sizeof(h));
	ctl_send(c, c->batch, c->batch_len, -1, true, c->batch_count);
	c->batch_len = 0;
	c->batch_count = 0;
}

/* Appends ev's binary record to the batch (sent by the access timer). */
static void ctl_batch_add(struct proxy_control *c, const struct proxy_event *ev)
{
	size_t n;

	if (!c->batch_len)
		c->batch_len = sizeof(struct sluice_access_batch);
	n = proxy_access_record_put(ev, c->batch + c->batch_len, sizeof(c->batch) - c->batch_len);
	if (!n) {
		ctl_batch_flush(c); /* full: send it, start the next one */
		c->batch_len = sizeof(struct sluice_access_batch);
		n = proxy_access_record_put(ev, c->batch + c->batch_len,
					    sizeof(c->batch) - c->batch_len);
	}
	c->batch_len += n;
	c->batch_count += n > 0;
}

/* Sends the batch and writes the log lines (see the top for when). */
static void ctl_access_flush(struct proxy_control *c)
{
	if (c->batch_count)
		ctl_batch_flush(c);
	proxy_log_sink_flush(c->log);
	proxy_log_sink_flush(c->out);
}

static void ctl_on_access_timer(uv_timer_t *t)
{
	ctl_access_flush(t->data);
}

static void ctl_on_event(void *ctx, const struct proxy_event *ev)
{
	struct proxy_control *c = ctx;
	char line[CTL_LINE_MAX], msg[CTL_LINE_MAX + 160];
	size_t n;
	int p;

	if (c->agent && c->binary) {
		if (c->log)
			proxy_log_sink_put(c->log, msg,
					   proxy_access_log_format_agent(ev, msg, sizeof(msg)));
		ctl_batch_add(c, ev);
		if (!uv_is_active((uv_handle_t *)&c->access_timer))
			uv_timer_start(&c->access_timer, ctl_on_access_timer, CTL_ACCESS_FLUSH_MS, 0);
		return;
	}
	n = proxy_access_log_format(ev, line, sizeof(line));
	if (!c->agent) {
		/* nobody to tell: the plain access log, on our stdout */
		if (!c->out) {
			int fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);

			c->out = fd >= 0 ? proxy_log_sink_new(c->loop, fd, 0) : NULL;
			if (!c->out) {
				c->log_dropped_past++;
				return;
			}
		}
		proxy_log_sink_put(c->out, line, n);
		if (!uv_is_active((uv_handle_t *)&c->access_timer))
			uv_timer_start(&c->access_timer, ctl_on_access_timer, CTL_ACCESS_FLUSH_MS, 0);
		return;
	}
	if (n < 2 || line[0] != '{')
		return;
	if (line[n - 1] == '\n')
		n--;
	p = snprintf(msg, sizeof(msg),
		     "{\"type\":\"access\",\"ep_id\":%" PRIu32 ",\"direction\":\"%s\","
		     "\"latency_ns\":%" PRIu64 ",",
		     ev->flow->ep_id, ev->flow->direction == SLUICE_DIR_EGRESS ? "egress" : "ingress",
		     ev->x->end_ns > ev->x->start_ns ? ev->x->end_ns - ev->x->start_ns : 0);
	memcpy(msg + p, line + 1, n - 1);
	ctl_send(c, msg, (size_t)p + n - 1, -1, true, 1);
}

static void ctl_send_stats(struct proxy_control *c)
{
	struct proxy_counters k;
	char msg[2048];
	int n;

	proxy_server_counters(c->srv, &k);
	c->sent = k;
	n = snprintf(msg, sizeof(msg),
		     "{\"type\":\"stats\",\"connections_active\":%" PRIu64
		     ",\"connections_total\":%" PRIu64 ",\"connections_refused\":%" PRIu64
		     ",\"requests_allowed\":%" PRIu64 ",\"requests_denied\":%" PRIu64
		     ",\"requests_error\":%" PRIu64 ",\"access_dropped\":%" PRIu64
		     ",\"access_log_dropped\":%" PRIu64
		     ",\"endpoints\":%zu"
		     /* TLS (issue #15): client side, then upstream */
		     ",\"tls_handshakes\":%" PRIu64 ",\"tls_resumed\":%" PRIu64
		     ",\"tls_handshake_errors\":%" PRIu64 ",\"tls_sni_denied\":%" PRIu64
		     ",\"tls_upstream_handshakes\":%" PRIu64 ",\"tls_upstream_resumed\":%" PRIu64
		     ",\"tls_upstream_errors\":%" PRIu64
		     /* the client-side failures by reason (tls_handshake_errors is
		      * their sum with tls_sni_denied) */
		     ",\"tls_handshake_timeouts\":%" PRIu64 ",\"tls_handshake_untrusted\":%" PRIu64
		     ",\"tls_handshake_plain_http\":%" PRIu64 ",\"tls_handshake_protocol\":%" PRIu64
		     ",\"tls_handshake_closed\":%" PRIu64 ",\"tls_handshake_evicted\":%" PRIu64
		     ",\"tls_upstream_verify_failed\":%" PRIu64
		     /* upstream connections (issue #16): new ones, requests on
		      * pooled ones, retries after a reused one failed, idle now */
		     ",\"upstream_connects\":%" PRIu64 ",\"upstream_reused\":%" PRIu64
		     ",\"upstream_retries\":%" PRIu64 ",\"upstream_idle\":%" PRIu64
		     /* responses the kernel sent straight to the client */
		     ",\"responses_spliced\":%" PRIu64
		     /* ... and requests straight to the server */
		     ",\"requests_spliced\":%" PRIu64 "}",
		     k.conns_active, k.conns_total, k.conns_refused, k.requests_allowed,
		     k.requests_denied, k.requests_error, c->access_dropped, ctl_log_dropped(c),
		     c->draining ? (size_t)0 : proxy_resolver_datapath_endpoint_count(c->res),
		     k.tls_handshakes, k.tls_resumed, k.tls_handshake_errors, k.tls_sni_denied,
		     k.tls_upstream_handshakes, k.tls_upstream_resumed, k.tls_upstream_errors,
		     k.tls_hs_timeout, k.tls_hs_untrusted, k.tls_hs_plain_http, k.tls_hs_protocol,
		     k.tls_hs_closed, k.tls_hs_evicted, k.tls_upstream_verify_failed,
		     k.upstream_connects, k.upstream_reused, k.upstream_retries, k.upstream_idle,
		     k.responses_spliced, k.requests_spliced);
	ctl_send(c, msg, (size_t)n, -1, true, 0);
}

static void ctl_on_soon(uv_timer_t *t)
{
	struct proxy_control *c = t->data;

	if (c->agent && c->srv)
		ctl_send_stats(c);
}

static void ctl_on_watch(uv_prepare_t *p)
{
	struct proxy_control *c = p->data;
	struct proxy_counters k;

	if (!c->agent || !c->srv || uv_is_active((uv_handle_t *)&c->soon))
		return;
	proxy_server_counters(c->srv, &k);
	if (k.conns_total != c->sent.conns_total || k.conns_active != c->sent.conns_active ||
	    k.conns_refused != c->sent.conns_refused ||
	    k.requests_allowed != c->sent.requests_allowed ||
	    k.requests_denied != c->sent.requests_denied ||
	    k.requests_error != c->sent.requests_error ||
	    k.tls_handshake_errors != c->sent.tls_handshake_errors ||
	    k.tls_upstream_errors != c->sent.tls_upstream_errors)
		uv_timer_start(&c->soon, ctl_on_soon, CTL_STATS_SOON_MS, 0);
}

static void ctl_on_tick(uv_timer_t *t)
{
	struct proxy_control *c = t->data;

	if (c->agent && c->srv)
		ctl_send_stats(c);
}

/* ---- what the agent says ---------------------------------------------- */

static void ctl_add_endpoint_id(void *ctx, uint32_t ep_id, int listener_fd)
{
	(void)listener_fd;
	json_array_append_new(ctx, json_integer(ep_id));
}

static void ctl_on_hello(struct proxy_control *c, json_t *m, int *fds, int nfds)
{
	const char *node = json_string_value(json_object_get(m, "node"));
	const char *access = json_string_value(json_object_get(m, "access"));
	json_t *ids = json_array();

	c->binary = access && !strcmp(access, "binary");
	if (c->binary && json_is_true(json_object_get(m, "access_log")) && nfds > 0) {
		ctl_log_set(c, fds[0], 0);
		fds[0] = -1; /* taken */
	} else {
		ctl_log_set(c, -1, 0);
	}

	if (node && c->node && strcmp(node, c->node))
		ctl_log("agent of node %s, this proxy was started for node %s", node, c->node);
	if (!c->draining)
		proxy_resolver_datapath_endpoints(c->res, ctl_add_endpoint_id, ids);
	ctl_send_json(c, json_pack("{s:s,s:i,s:o}", "type", "ready", "pid", (int)getpid(),
				   "endpoints", ids), -1);
}

static int ctl_ipv4(json_t *v, uint32_t *out_be)
{
	const char *s = json_string_value(v);
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out_be = a.s_addr;
	return 0;
}

static void ctl_on_endpoint(struct proxy_control *c, json_t *m, int *fds, int nfds)
{
	struct proxy_dp_endpoint_info info = { 0 };
	json_t *id = json_object_get(m, "ep_id");
	char *err = NULL;

	if (nfds != 2 || !json_is_integer(id) || ctl_ipv4(json_object_get(m, "ip"), &info.ip_be)) {
		ctl_log("endpoint: want ep_id, ip and two fds (listener, netns)");
		return;
	}
	info.ep_id = (uint32_t)json_integer_value(id);
	info.identity = (uint32_t)json_integer_value(json_object_get(m, "identity"));
	info.ns = json_string_value(json_object_get(m, "namespace"));
	info.pod = json_string_value(json_object_get(m, "pod"));
	if (proxy_resolver_datapath_endpoint_set(c->res, c->srv, &info, fds[0], fds[1], &err))
		ctl_log("endpoint %u: %s", info.ep_id, err ? err : "failed");
	fds[0] = fds[1] = -1; /* taken, also on error */
	free(err);
}

static void ctl_on_names(struct proxy_control *c, json_t *m)
{
	json_t *pods = json_object_get(m, "pods");
	size_t n = json_array_size(pods), k = 0;
	struct proxy_dp_name *v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(pods, i);

		if (ctl_ipv4(json_object_get(p, "ip"), &v[k].ip_be))
			continue;
		v[k].ns = json_string_value(json_object_get(p, "namespace"));
		v[k].pod = json_string_value(json_object_get(p, "pod"));
		k++;
	}
	if (proxy_resolver_datapath_set_names(c->res, v, k))
		ctl_log("names: out of memory");
	free(v);
}

static void ctl_rules_error(struct proxy_control *c, const char *error, json_t *extra)
{
	json_t *m = json_pack("{s:s,s:s}", "type", "rules_error", "error", error);

	if (m && extra)
		json_object_update(m, extra);
	json_decref(extra);
	ctl_send_json(c, m, -1);
}

static void ctl_on_rules(struct proxy_control *c, json_t *m, int *fds, int nfds)
{
	json_t *sz = json_object_get(m, "size");
	struct proxy_rules_table *t = NULL;
	char *text = NULL, *err = NULL;
	size_t size, got = 0;
	int rc;

	if (nfds != 1 || !json_is_integer(sz) || json_integer_value(sz) < 0 ||
	    json_integer_value(sz) > CTL_RULES_MAX) {
		ctl_rules_error(c, "rules: want a size (at most 256 MiB) and one memfd", NULL);
		return;
	}
	size = (size_t)json_integer_value(sz);
	text = malloc(size ? size : 1);
	if (!text) {
		ctl_rules_error(c, "rules: out of memory", NULL);
		return;
	}
	while (got < size) {
		ssize_t n = pread(fds[0], text + got, size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != size) {
		ctl_rules_error(c, "rules: the memfd is shorter than size", NULL);
		goto out;
	}
	rc = proxy_rules_json_load(text, size, NULL, &t, &err);
	/* the secrets the table names go in first, so that its first
	 * connection finds them */
	if (t && proxy_rules_json_secrets(text, size, proxy_server_tls_store(c->srv), &err) < 0) {
		proxy_rules_table_free(t);
		t = NULL;
		rc = -EINVAL;
	}
	if (!t) {
		/* a malformed table changes nothing: the old one keeps serving */
		ctl_rules_error(c, err ? err : strerror(-rc), json_pack("{s:b}", "installed", 0));
		goto out;
	}
	{
		size_t n = proxy_rules_table_size(t);

		/* installed whole (atomically for every later request); an entry
		 * whose regex did not compile denies everything */
		proxy_server_set_rules(c->srv, t);
		if (rc)
			ctl_rules_error(c, err ? err : "invalid entry",
					json_pack("{s:b,s:I}", "installed", 1, "policies",
						  (json_int_t)n));
		else
			ctl_send_json(c, json_pack("{s:s,s:I}", "type", "rules_ok", "policies",
						   (json_int_t)n), -1);
	}
out:
	free(err);
	free(text);
}

static void ctl_send_listener(void *ctx, uint32_t ep_id, int listener_fd)
{
	struct proxy_control *c = ctx;
	int fd;

	if (listener_fd < 0)
		return;
	fd = fcntl(listener_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		ctl_log("listeners?: dup: %s", strerror(errno));
		return;
	}
	ctl_send_json(c, json_pack("{s:s,s:I}", "type", "listener", "ep_id", (json_int_t)ep_id),
		      fd);
}

static void ctl_handle(struct proxy_control *c, json_t *m, int *fds, int nfds)
{
	const char *type = json_string_value(json_object_get(m, "type"));

	if (!type) {
		ctl_log("control message without a type");
	} else if (!strcmp(type, "hello")) {
		ctl_on_hello(c, m, fds, nfds);
	} else if (!strcmp(type, "drain")) {
		if (!c->draining && c->on_drain)
			c->on_drain(c->drain_ctx);
	} else if (c->draining) {
		/* configuration no longer matters */
	} else if (!strcmp(type, "endpoint")) {
		ctl_on_endpoint(c, m, fds, nfds);
	} else if (!strcmp(type, "endpoint_delete")) {
		json_t *id = json_object_get(m, "ep_id");

		if (!json_is_integer(id) ||
		    proxy_resolver_datapath_endpoint_delete(c->res, (uint32_t)json_integer_value(id)))
			ctl_log("endpoint_delete: unknown endpoint");
	} else if (!strcmp(type, "names")) {
		ctl_on_names(c, m);
	} else if (!strcmp(type, "rules")) {
		ctl_on_rules(c, m, fds, nfds);
		c->configured = true;
	} else if (!strcmp(type, "listeners?")) {
		proxy_resolver_datapath_endpoints(c->res, ctl_send_listener, c);
		ctl_send_json(c, json_pack("{s:s}", "type", "listeners_end"), -1);
	} else {
		ctl_log("unknown control message type %s", type);
	}
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Reads every datagram waiting; false when the agent went away. */
static bool ctl_agent_read(struct ctl_agent *a)
{
	struct proxy_control *c = a->c;

	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
		struct iovec iov = { .iov_base = c->rbuf, .iov_len = CTL_MSG_MAX };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		int fds[CTL_MAX_FDS], nfds = 0;
		struct cmsghdr *cm;
		json_error_t jerr;
		json_t *m;
		ssize_t n;

		n = recvmsg(a->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		/*
		 * An agent that closes its end with our datagrams unread (stats
		 * it never read) makes the kernel report ECONNRESET once, before
		 * the datagrams it sent us last: typically "drain". Losing that
		 * one left a replaced proxy serving old rules (#10), so read on.
		 */
		if (n < 0 && errno == ECONNRESET && !a->reset_seen) {
			a->reset_seen = true;
			continue;
		}
		if (n <= 0) {
			ctl_agent_close(a, n == 0 ? "closed" : strerror(errno));
			return false;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t k;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (nfds < CTL_MAX_FDS)
					fds[nfds++] = fd;
				else
					close(fd);
			}
		}
		m = NULL;
		if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			ctl_log("control message truncated: ignored");
		else if (!(m = json_loadb(c->rbuf, (size_t)n, 0, &jerr)) || !json_is_object(m))
			ctl_log("control message is not a JSON object: %s", jerr.text);
		if (m && json_is_object(m)) {
			ctl_handle(c, m, fds, nfds);
		} else {
			while (nfds > 0)
				close(fds[--nfds]);
		}
		json_decref(m);
		if (c->agent != a)
			return false; /* gone while handling (a failed send) */
	}
}

static void ctl_on_agent_event(uv_poll_t *h, int status, int events)
{
	struct ctl_agent *a = h->data;

	if (status < 0) {
		/* libuv reports POLLERR (e.g. the agent died, or closed with our
		 * datagrams unread) as UV_EBADF: what it sent before still counts */
		if (ctl_agent_read(a))
			ctl_agent_close(a, "connection error");
		return;
	}
	if ((events & UV_WRITABLE) && !ctl_agent_flush(a))
		return;
	if (events & (UV_READABLE | UV_DISCONNECT))
		ctl_agent_read(a);
}

static void ctl_free(struct proxy_control *c)
{
	ctl_log_set(c, -1, 0);
	free(c->path);
	free(c->node);
	free(c);
}

static void ctl_on_handle_closed(uv_handle_t *h)
{
	struct proxy_control *c = h->data;

	if (--c->handles == 0 && c->closing)
		ctl_free(c);
}

static void ctl_on_agent_closed(uv_handle_t *h)
{
	struct ctl_agent *a = h->data;
	struct proxy_control *c = a->c;

	while (a->head) {
		struct ctl_out *o = a->head;

		a->head = o->next;
		if (o->fd >= 0)
			close(o->fd);
		free(o);
	}
	close(a->fd);
	free(a);
	if (--c->handles == 0 && c->closing)
		ctl_free(c);
}

/* No agent: fail closed once the grace period is over (see the top). */
static void ctl_on_orphan(uv_timer_t *t)
{
	struct proxy_control *c = t->data;

	if (c->agent || c->draining || c->closing || !c->on_drain)
		return;
	ctl_log("no agent for %u ms: failing closed (draining, then exiting; the kernel drops new "
		"L7 connections)", c->orphan_grace_ms);
	c->on_drain(c->drain_ctx);
}

static void ctl_orphan_arm(struct proxy_control *c)
{
	if (c->closing || c->draining || !c->orphan_grace_ms)
		return;
	uv_timer_start(&c->orphan, ctl_on_orphan, c->orphan_grace_ms, 0);
}

void proxy_control_set_orphan_grace(struct proxy_control *c, uint32_t ms)
{
	c->orphan_grace_ms = ms;
	if (c->agent)
		return;
	if (ms)
		ctl_orphan_arm(c);
	else
		uv_timer_stop(&c->orphan);
}

static void ctl_agent_close(struct ctl_agent *a, const char *why)
{
	struct proxy_control *c = a->c;

	if (c->agent != a)
		return;
	c->agent = NULL;
	/* records not sent yet go with the connection (counted); the lines
	 * waiting for its log are still written */
	c->access_dropped += c->batch_count;
	c->batch_len = 0;
	c->batch_count = 0;
	ctl_log_set(c, -1, 0);
	c->binary = false;
	if (!c->closing && !c->draining)
		ctl_log("agent disconnected (%s): serving with the last configuration for %u ms",
			why, c->orphan_grace_ms);
	else if (!c->closing)
		ctl_log("agent disconnected (%s) while draining", why);
	ctl_orphan_arm(c);
	uv_close((uv_handle_t *)&a->poll, ctl_on_agent_closed);
}

static void ctl_on_listen(uv_poll_t *h, int status, int events)
{
	struct proxy_control *c = h->data;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctl_agent *a;
	int fd;

	(void)events;
	if (status < 0)
		return;
	fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		ctl_log("control connection from another user refused");
		close(fd);
		return;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		close(fd);
		return;
	}
	if (c->agent)
		ctl_agent_close(c->agent, "replaced by a new agent connection");
	a->c = c;
	a->fd = fd;
	uv_poll_init(c->loop, &a->poll, fd);
	a->poll.data = a;
	c->handles++;
	c->agent = a;
	uv_timer_stop(&c->orphan);
	memset(&c->sent, 0, sizeof(c->sent)); /* the new agent knows nothing yet */
	ctl_agent_update_poll(a);
}

int proxy_control_start(uv_loop_t *loop, struct proxy_server *srv, struct proxy_resolver *res,
			const char *path, const char *node, void (*on_drain)(void *ctx),
			void *drain_ctx, struct proxy_control **out, char **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct proxy_control *c;
	mode_t old_mask;
	int e;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_errf(err, "%s: path too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path)) || (node && !(c->node = strdup(node)))) {
		if (c)
			free(c->path);
		free(c);
		ctl_errf(err, "out of memory");
		return -ENOMEM;
	}
	c->loop = loop;
	c->srv = srv;
	c->res = res;
	c->on_drain = on_drain;
	c->drain_ctx = drain_ctx;
	strcpy(sa.sun_path, path);
	c->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0) {
		e = -errno;
		ctl_errf(err, "socket: %s", strerror(errno));
		goto fail;
	}
	unlink(path); /* a stale socket of an earlier proxy */
	old_mask = umask(0177); /* 0600 from the start, no window */
	e = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old_mask);
	if (e || listen(c->listen_fd, 4) < 0) {
		e = e ? e : -errno;
		ctl_errf(err, "listening on %s: %s", path, strerror(-e));
		goto fail;
	}
	chmod(path, 0600);
	uv_poll_init(loop, &c->listen_poll, c->listen_fd);
	c->listen_poll.data = c;
	uv_poll_start(&c->listen_poll, UV_READABLE, ctl_on_listen);
	c->listening = true;
	uv_timer_init(loop, &c->tick);
	c->tick.data = c;
	uv_timer_start(&c->tick, ctl_on_tick, 1000, 1000);
	uv_timer_init(loop, &c->soon);
	c->soon.data = c;
	uv_timer_init(loop, &c->orphan);
	c->orphan.data = c;
	uv_timer_init(loop, &c->access_timer);
	c->access_timer.data = c;
	uv_prepare_init(loop, &c->watch);
	c->watch.data = c;
	uv_prepare_start(&c->watch, ctl_on_watch);
	uv_unref((uv_handle_t *)&c->watch);
	c->handles = 6;
	proxy_server_set_event_cb(srv, ctl_on_event, c);
	*out = c;
	return 0;
fail:
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	free(c->node);
	free(c->path);
	free(c);
	return e;
}

bool proxy_control_ready(void *ctx, const char **why)
{
	struct proxy_control *c = ctx;

	if (c->draining || c->closing)
		*why = "draining";
	else if (!c->configured)
		*why = "no agent has configured this proxy yet";
	else if (!c->agent)
		*why = "no agent connected (serving the last configuration for the orphan grace period)";
	else
		return true;
	return false;
}

static void ctl_stop_listening(struct proxy_control *c)
{
	if (!c->listening)
		return;
	c->listening = false;
	uv_close((uv_handle_t *)&c->listen_poll, ctl_on_handle_closed);
	close(c->listen_fd);
	unlink(c->path);
}

void proxy_control_draining(struct proxy_control *c)
{
	c->draining = true;
	uv_timer_stop(&c->orphan);
	/* the server closes the listeners itself */
	proxy_resolver_datapath_forget_listeners(c->res);
	ctl_stop_listening(c);
}

void proxy_control_close(struct proxy_control *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->srv = NULL;
	c->res = NULL;
	ctl_stop_listening(c);
	ctl_access_flush(c);
	if (c->agent) {
		ctl_agent_flush(c->agent); /* a last try for what is queued */
		if (c->agent)
			ctl_agent_close(c->agent, "proxy exiting");
	}
	uv_close((uv_handle_t *)&c->tick, ctl_on_handle_closed);
	uv_close((uv_handle_t *)&c->soon, ctl_on_handle_closed);
	uv_close((uv_handle_t *)&c->orphan, ctl_on_handle_closed);
	uv_close((uv_handle_t *)&c->access_timer, ctl_on_handle_closed);
	uv_close((uv_handle_t *)&c->watch, ctl_on_handle_closed);
	/* a last chance for the lines still queued (a live reader takes them
	 * at once; a stalled one costs the exit at most this long) */
	ctl_log_set(c, -1, 500);
	proxy_log_sink_close(c->out, 500);
	c->out = NULL;
}
