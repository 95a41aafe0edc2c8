/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy.c - the libuv side of the proxy: accept, resolve, connect upstream,
 * move bytes with backpressure, timers, graceful close. All HTTP decisions
 * are in http_conn.c; this file only moves bytes and keeps time.
 *
 * Memory: a connection is one struct (no buffers while idle). Reads land in
 * one server-wide buffer and are consumed before the callback returns; only
 * unparsed pipelined bytes are copied into a per-connection buffer. Output
 * goes through a per-direction queue (pending + in-flight), written with
 * uv_try_write first; queues and buffers are freed once empty between
 * requests.
 *
 * TLS (tls.h) is a transport hook on either side: a side with a session
 * reads ciphertext into it and hands the plaintext on as before; plaintext
 * for it is held by the session and sealed into records right before the
 * queue is flushed (proxy_tls_seal()).
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "req_splice.h"
#include "splice.h"
#include "upstream_pool.h"

#define PROXY_READ_BUF (64u * 1024u)
#define PROXY_CIN_MAX (64u * 1024u)
#define PROXY_LINGER_MS 2000u
#define PROXY_QUEUE_KEEP (64u * 1024u) /* keep queue buffers up to this while busy */
#define PROXY_TLS_RELEASE_MS 1000u /* TLS record buffers of connections idle this long are freed */

/*
 * Idle upstream connections (upstream_pool.h). The idle timeout is 4 s:
 * under the 5 s keep-alive timeout of Apache httpd's and Node.js's defaults
 * (nginx: 75 s), so the proxy normally closes an idle connection before the
 * server does and seldom sends a request into a connection being closed;
 * short enough that a pool holds a pod's netns and its registered source
 * ports only seconds after its last request. A connection the server closes
 * while it waits here is seen at once (it stays read-watched) and dropped.
 * Bounds: 32 per key (more than the concurrency of one client pod's busy
 * keep-alive load to one server), 1024 in all.
 */
#define PROXY_POOL_IDLE_MS 4000u
#define PROXY_POOL_SWEEP_MS 1000u
#define PROXY_POOL_PER_KEY 32u
#define PROXY_POOL_TOTAL 1024u

/* How often armed response splices are looked at when nothing else wakes
 * their connection (the client's next request normally does first): the
 * access log of a spliced response is at most this late. */
#define PROXY_SPLICE_SWEEP_MS 5u

#define PROXY_SPARE_SIZE 4096u
#define PROXY_SPARES 32u

/* Queue buffers of the first size, kept by the server between requests:
 * an idle connection holds none, and a busy one does not pay a malloc and
 * a free per direction per request. */
struct proxy_spares {
	char *buf[PROXY_SPARES];
	unsigned n;
};

struct proxy_outq {
	struct proxy_spares *sp;
	char *buf;           /* pending */
	size_t len, cap;
	char *wbuf;          /* being written */
	size_t wlen, wcap;
	uv_write_t req;
	bool writing;
};

enum proxy_up_state { UP_NONE, UP_CONNECTING, UP_CONNECTED, UP_CLOSING };
enum proxy_close_state { CL_OPEN, CL_FLUSHING, CL_SHUTDOWN, CL_CLOSED };
enum proxy_timer_kind { T_NONE, T_IDLE, T_HEADER, T_CONNECT, T_STREAM, T_LINGER, T_HANDSHAKE };

/* What the access log shows of the upstream session, kept past its close
 * (a verification failure is logged after the connection is gone). */
struct proxy_up_tls_info {
	char version[16];
	char sni[PROXY_TLS_MAX_NAME + 1];
	char verify[160];
};

/* One upstream connection: owned by a client connection while it carries
 * its request (pc), else idle in the server's pool (pc NULL) or closing. */
struct proxy_upstream {
	uv_tcp_t h;
	uv_connect_t connect_req;
	struct proxy_server *srv;
	struct proxy_conn *pc;
	void *res_data;            /* the resolver's up_data */
	bool has_res;              /* upstream_closed() is due at close */
	bool reused;               /* taken from the pool (retry rule) */
	bool spliced;              /* a response went the kernel's way: the server
				    * is on this node's fast path */
	uint32_t splice;           /* its splice slot (splice.h), 0: none */
	struct proxy_pool_entry pool;
};

struct proxy_conn {
	struct proxy_server *srv;
	struct proxy_conn *prev, *next;
	uv_tcp_t client;
	struct proxy_upstream *up; /* while up_state != UP_NONE */
	uv_timer_t timer;
	uv_shutdown_t shutdown_req;
	struct proxy_outq to_client, to_up;
	char *cin;                 /* unparsed client bytes */
	uint32_t cin_len, cin_cap;
	uint64_t last_activity_ms;
	struct http_conn http;
	struct proxy_flow flow;
	uint32_t timer_req;        /* http.nreq when the timer was armed */
	uint64_t deadline_ms;      /* loop time when timer_kind's deadline passes */
	uint64_t timer_due_ms;     /* loop time the uv timer is armed for */
	uint8_t up_state, close_state, timer_kind;
	uint8_t handles;
	bool client_reading, up_reading, client_eof, oom;
	bool up_fresh;             /* the next upstream is a new connection (a retry) */
	/* TLS (NULL: plaintext on that side) */
	struct proxy_tls_spec *tls_spec;
	struct proxy_tls_conn *ctls, *utls;
	struct proxy_conn *hs_prev, *hs_next; /* in srv's handshake list */
	bool hs_listed, passthrough;
	bool client_out_of_fastpath;  /* see proxy_tls_seal() */
	bool tls_bufs;                /* sessions may hold record buffers (proxy_tls_sweep) */
	char req_host[PROXY_TLS_MAX_NAME + 1]; /* Host of the current request, no port */
	struct proxy_up_tls_info up_info;
	/* the response splice (splice.h): the client socket's key, and the
	 * response armed on the upstream's slot (in srv's splice list) */
	struct sluice_sock_key ckey;
	bool ckey_ok, spl_armed, spl_head;
	uint32_t spl_slot, spl_nreq;
	uint64_t spl_bytes;
	struct proxy_conn *spl_prev, *spl_next;
	/* the request splice (req_splice.h): paired on the upstream's slot */
	bool rq_paired, rq_wait, rq_close, rq_never, rq_rules_ok;
	bool rq_after;               /* the armed response was granted AFTER */
	uint32_t rq_slot, rq_gen;
	uint32_t rq_grants;          /* since rq_grants_taken was read */
	uint64_t rq_taken_seen, rq_grants_taken;
	struct proxy_conn *rq_prev, *rq_next;
	char *log_ends;            /* the flow's ends as access lines show them */
	uint16_t log_ends_len;     /* (rendered at the first request) */
	bool log_ends_tried;
};

struct proxy_listener {
	struct proxy_server *srv;
	struct proxy_listener *prev, *next;
	uv_tcp_t h;
	void *data;              /* for the resolver */
	bool nodelay;            /* set on the listener: accepted sockets inherit it */
};

struct proxy_server {
	uv_loop_t *loop;
	struct proxy_listener *listeners;
	uv_async_t async;
	uv_prepare_t prepare;
	struct proxy_config cfg;
	struct proxy_resolver *resolver;
	struct proxy_rules_table *rules;
	uv_mutex_t lock;
	struct proxy_rules_table *pending; /* published, not yet installed */
	bool has_pending;
	proxy_event_cb ev_cb;
	void *ev_ctx;
	struct proxy_counters cnt;
	struct proxy_conn *conns;
	int handles;
	bool closing, draining, log_dirty;
	uv_timer_t drain_timer;
	void (*closed_cb)(void *ctx);
	void *closed_ctx;
	struct proxy_tls_store *tls;
	struct proxy_conn *hs_head, *hs_tail; /* client handshakes, newest first */
	uv_timer_t tls_sweep;                 /* frees idle sessions' buffers */
	uint32_t hs_count;
	struct proxy_spares spares;
	struct http_head_cache heads;         /* request heads between requests */
	struct proxy_pool pool;               /* idle upstream connections */
	uv_timer_t pool_sweep;                /* their idle timeout */
	struct proxy_splice *splice;          /* NULL: every response through us */
	struct proxy_conn *spl_list;          /* connections with an armed slot */
	uv_timer_t spl_sweep;
	struct proxy_rq *rq;                  /* NULL: every request through us */
	struct proxy_conn *rq_list;           /* paired connections */
	struct proxy_conn *rq_pc[SLUICE_SPLICE_SLOTS]; /* ... by slot */
	bool rq_polling;
	int64_t wall_off_us;                  /* proxy_wall_us() */
	uint64_t wall_at_ns;
	uint32_t nups;                        /* upstream structs alive */
	char readbuf[PROXY_READ_BUF];
	char tlsbuf[PROXY_READ_BUF];          /* plaintext out of / ciphertext into sessions */
};

static void proxy_after_event(struct proxy_conn *pc);
static void proxy_close_all(struct proxy_conn *pc);
static void proxy_spl_end(struct proxy_conn *pc);
static void proxy_rq_unpair_pc(struct proxy_conn *pc);
static void proxy_rq_sync(struct proxy_server *srv);
static bool proxy_rq_ensure_paired(struct proxy_conn *pc);
static void proxy_server_maybe_free(struct proxy_server *srv);

void proxy_config_defaults(struct proxy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = 50000;
	cfg->header_timeout_ms = 10000;
	cfg->idle_timeout_ms = 60000;
	cfg->connect_timeout_ms = 2000;
	cfg->stream_idle_timeout_ms = 300000;
	cfg->buffer_cap = 64 * 1024;
	cfg->tls_handshake_timeout_ms = 10000;
	cfg->tls_max_handshakes = 512;
}

/* ---- output queues ------------------------------------------------------ */

static void proxy_buf_release(struct proxy_spares *sp, char *b, size_t cap)
{
	if (b && sp && cap == PROXY_SPARE_SIZE && sp->n < PROXY_SPARES)
		sp->buf[sp->n++] = b;
	else
		free(b);
}

static int proxy_outq_append(struct proxy_outq *q, const char *p, size_t n)
{
	if (!q->cap && q->sp && q->sp->n) {
		q->buf = q->sp->buf[--q->sp->n];
		q->cap = PROXY_SPARE_SIZE;
	}
	if (q->len + n > q->cap) {
		size_t ncap = q->cap ? q->cap : PROXY_SPARE_SIZE;
		char *nb;
		while (ncap < q->len + n)
			ncap *= 2;
		nb = realloc(q->buf, ncap);
		if (!nb)
			return -ENOMEM;
		q->buf = nb;
		q->cap = ncap;
	}
	memcpy(q->buf + q->len, p, n);
	q->len += n;
	return 0;
}

static size_t proxy_outq_queued(const struct proxy_outq *q)
{
	return q->len + (q->writing ? q->wlen : 0);
}

/* Frees the buffers of an empty queue (always, or only oversized ones). */
static void proxy_outq_trim(struct proxy_outq *q, bool all)
{
	if (q->len == 0 && (all || q->cap > PROXY_QUEUE_KEEP)) {
		proxy_buf_release(q->sp, q->buf, q->cap);
		q->buf = NULL;
		q->cap = 0;
	}
	if (!q->writing && (all || q->wcap > PROXY_QUEUE_KEEP)) {
		proxy_buf_release(q->sp, q->wbuf, q->wcap);
		q->wbuf = NULL;
		q->wcap = 0;
	}
}

static void proxy_on_write(uv_write_t *req, int status);
static int proxy_tls_seal(struct proxy_conn *pc, struct proxy_outq *q);

/* Starts writing what is pending; < 0 on a write error. */
static int proxy_outq_flush(struct proxy_conn *pc, struct proxy_outq *q, uv_stream_t *s)
{
	uv_buf_t b;
	int r;
	char *tmp;
	size_t tcap;

	if (proxy_tls_seal(pc, q) < 0)
		return UV_EPROTO;
	if (q->writing || q->len == 0)
		return 0;
	b = uv_buf_init(q->buf, (unsigned)q->len);
	r = uv_try_write(s, &b, 1);
	if (r < 0 && r != UV_EAGAIN && r != UV_ENOSYS)
		return r;
	if (r > 0) {
		if ((size_t)r == q->len) {
			q->len = 0;
			return 0;
		}
		memmove(q->buf, q->buf + r, q->len - (size_t)r);
		q->len -= (size_t)r;
	}
	/* the rest goes through uv_write: swap pending and in-flight buffers */
	tmp = q->wbuf;
	tcap = q->wcap;
	q->wbuf = q->buf;
	q->wcap = q->cap;
	q->wlen = q->len;
	q->buf = tmp;
	q->cap = tcap;
	q->len = 0;
	b = uv_buf_init(q->wbuf, (unsigned)q->wlen);
	q->req.data = pc;
	r = uv_write(&q->req, s, &b, 1, proxy_on_write);
	if (r < 0)
		return r;
	q->writing = true;
	return 0;
}

static void proxy_outq_free(struct proxy_outq *q)
{
	proxy_buf_release(q->sp, q->buf, q->cap);
	if (!q->writing)
		proxy_buf_release(q->sp, q->wbuf, q->wcap);
	else
		free(q->wbuf); /* a write may still name it: never reused */
	memset(q, 0, sizeof(*q));
}

/* ---- http_conn glue ----------------------------------------------------- */

static void proxy_to_upstream(void *ctx, const char *p, size_t n)
{
	struct proxy_conn *pc = ctx;

	if (pc->utls ? proxy_tls_conn_queue(pc->utls, p, n) : proxy_outq_append(&pc->to_up, p, n))
		pc->oom = true;
}

static void proxy_to_client(void *ctx, const char *p, size_t n)
{
	struct proxy_conn *pc = ctx;

	if (pc->ctls ? proxy_tls_conn_queue(pc->ctls, p, n) :
		       proxy_outq_append(&pc->to_client, p, n))
		pc->oom = true;
	pc->srv->cnt.bytes_to_clients += n;
}

static void proxy_tls_request_host(struct proxy_conn *pc, const struct proxy_request_view *req);

static enum proxy_match proxy_decide(void *ctx, const struct proxy_request_view *req)
{
	struct proxy_conn *pc = ctx;
	struct proxy_rules_key key = {
		.ep_id = pc->flow.ep_id,
		.peer_identity = pc->flow.peer_identity,
		.port = proxy_sockaddr_port(&pc->flow.orig_dst),
		.direction = pc->flow.direction,
	};

	const struct proxy_rule_set *rs = proxy_rules_lookup(pc->srv->rules, &key);
	enum proxy_match m;

	if (pc->tls_spec && pc->tls_spec->orig.secret)
		proxy_tls_request_host(pc, req);
	m = proxy_rule_set_match(rs, req);
	if (pc->srv->rq && pc->ckey_ok && !pc->tls_spec && !pc->ctls && !pc->rq_never) {
		/* the request splice: by these alone, the kernel may allow the
		 * same request again (abi.h) */
		pc->rq_rules_ok = proxy_rule_set_request_only(rs);
		if (m == PROXY_MATCH_ALLOW && pc->rq_rules_ok && (!req->edits || !req->edits->n)) {
			struct proxy_rq_ctx ctx = {
				.ep_id = key.ep_id, .peer_identity = key.peer_identity,
				.port = key.port, .direction = key.direction,
			};
			proxy_rq_allow(pc->srv->rq, &ctx, req->method, req->method_len, req->path,
				       req->path_len, req->host, req->host_len);
		}
	}
	return m;
}

/* The wall-clock time of a CLOCK_MONOTONIC instant. The offset between
 * the two clocks is read again when the instants it served are 100 ms
 * apart (two clock reads per exchange otherwise; it moves only when the
 * wall clock is set or slewed). */
static int64_t proxy_wall_us(struct proxy_server *srv, uint64_t mono_ns)
{
	if (!srv->wall_at_ns || mono_ns - srv->wall_at_ns > 100000000ull) {
		struct timespec rt, mt;

		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_MONOTONIC, &mt);
		srv->wall_off_us = ((int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000) -
				   ((int64_t)mt.tv_sec * 1000000 + mt.tv_nsec / 1000);
		srv->wall_at_ns = mono_ns;
	}
	return srv->wall_off_us + (int64_t)(mono_ns / 1000);
}

/* The access-log line and the event hook for one exchange (or, refused,
 * for a connection that never carried a request). */
static void proxy_report(struct proxy_conn *pc, const struct http_exchange *x, bool refused)
{
	struct proxy_server *srv = pc->srv;
	struct proxy_event ev = { .flow = &pc->flow, .x = x, .refused = refused };
	struct proxy_tls_info ctls_info, uinfo;

	if (!srv->cfg.access_log && !srv->ev_cb)
		return;
	ev.wall_start_us = proxy_wall_us(srv, x->start_ns);
	if (!pc->log_ends_tried) {
		/* the same for every request of the connection: rendered once */
		char ends[1024];
		size_t n = proxy_access_log_ends(&pc->flow, ends, sizeof(ends));

		pc->log_ends_tried = true;
		if (n && (pc->log_ends = malloc(n))) {
			memcpy(pc->log_ends, ends, n);
			pc->log_ends_len = (uint16_t)n;
		}
	}
	ev.ends = pc->log_ends;
	ev.ends_len = pc->log_ends_len;
	if (pc->ctls)
		proxy_tls_conn_info(pc->ctls, &ctls_info), ev.tls = &ctls_info;
	if (pc->tls_spec && pc->tls_spec->orig.secret && !pc->passthrough) {
		uinfo.version = pc->up_info.version[0] ? pc->up_info.version : NULL;
		uinfo.sni = pc->up_info.sni[0] ? pc->up_info.sni : NULL;
		uinfo.verify = pc->up_info.verify[0] ? pc->up_info.verify : NULL;
		ev.upstream_tls = &uinfo;
	}
	if (srv->cfg.access_log) {
		char line[4096];
		size_t n = proxy_access_log_format(&ev, line, sizeof(line));
		proxy_log_sink_put(srv->cfg.access_log, line, n);
		srv->log_dirty = true;
	}
	if (srv->ev_cb)
		srv->ev_cb(srv->ev_ctx, &ev);
}

static void proxy_done(void *ctx, const struct http_exchange *x)
{
	struct proxy_conn *pc = ctx;
	struct proxy_server *srv = pc->srv;

	switch (x->verdict) {
	case HTTP_VERDICT_ALLOWED: srv->cnt.requests_allowed++; break;
	case HTTP_VERDICT_DENIED: srv->cnt.requests_denied++; break;
	default: srv->cnt.requests_error++; break;
	}
	if ((unsigned)x->reason < HTTP_R_COUNT)
		srv->cnt.by_reason[x->reason]++;
	proxy_report(pc, x, false);
}

static const struct http_conn_ops proxy_http_ops = {
	.to_upstream = proxy_to_upstream,
	.to_client = proxy_to_client,
	.decide = proxy_decide,
	.done = proxy_done,
};

/* ---- connection lifecycle ----------------------------------------------- */

static void proxy_hs_unlist(struct proxy_conn *pc);

/* Frees one side's session (the client's also leaves the handshake list). */
static void proxy_tls_conn_end(struct proxy_conn *pc, struct proxy_tls_conn **t)
{
	if (!*t)
		return;
	if (*t == pc->ctls)
		proxy_hs_unlist(pc);
	proxy_tls_conn_free(*t);
	free(*t);
	*t = NULL;
}

static void proxy_conn_free(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;

	http_conn_release(&pc->http, HTTP_R_CLIENT_CLOSED);
	proxy_spl_end(pc);
	proxy_tls_conn_end(pc, &pc->ctls);
	proxy_tls_conn_end(pc, &pc->utls);
	proxy_tls_spec_unref(pc->tls_spec);
	if (srv->resolver->release)
		srv->resolver->release(srv->resolver, &pc->flow);
	proxy_outq_free(&pc->to_client);
	proxy_outq_free(&pc->to_up);
	free(pc->cin);
	free(pc->log_ends);
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		srv->conns = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	srv->cnt.conns_active--;
	free(pc);
	if (srv->draining && !srv->closing && !srv->conns)
		proxy_server_close(srv); /* the last busy connection is done */
	proxy_server_maybe_free(srv);
}

static void proxy_on_handle_close(uv_handle_t *h)
{
	struct proxy_conn *pc = h->data;

	if (--pc->handles == 0)
		proxy_conn_free(pc);
}

/* An upstream connection is closed: its owner (if any) may connect again
 * for a queued request. */
static void proxy_on_up_close(uv_handle_t *h)
{
	struct proxy_upstream *up = h->data;
	struct proxy_server *srv = up->srv;
	struct proxy_conn *pc = up->pc;
	struct proxy_resolver *res = srv->resolver;

	if (up->has_res && res->upstream_closed)
		res->upstream_closed(res, up->res_data);
	free(up);
	srv->nups--;
	if (!pc) {
		proxy_server_maybe_free(srv);
		return;
	}
	/* what is queued now was queued for the next connection */
	pc->up = NULL;
	pc->up_state = UP_NONE;
	pc->up_reading = false;
	pc->to_up.writing = false;
	if (--pc->handles == 0) {
		proxy_conn_free(pc);
		return;
	}
	if (pc->close_state == CL_OPEN)
		proxy_after_event(pc); /* maybe reconnect for a queued request */
}

/* ---- the response splice (splice.h) -------------------------------------- */

static void proxy_spl_end(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;

	if (!pc->spl_armed)
		return;
	pc->spl_armed = false;
	if (pc->spl_prev)
		pc->spl_prev->spl_next = pc->spl_next;
	else
		srv->spl_list = pc->spl_next;
	if (pc->spl_next)
		pc->spl_next->spl_prev = pc->spl_prev;
	pc->spl_prev = pc->spl_next = NULL;
}

/* An upstream connection is given up or closed: its slot goes inert now,
 * before its socket closes (what the server still sends goes to the socket,
 * never to a client). */
static void proxy_up_splice_detach(struct proxy_upstream *up)
{
	if (up->pc && up->pc->rq_paired && up->pc->rq_slot == up->splice)
		proxy_rq_unpair_pc(up->pc);
	if (up->pc && up->pc->spl_armed && up->pc->spl_slot == up->splice)
		proxy_spl_end(up->pc);
	if (up->splice) {
		proxy_splice_detach(up->srv->splice, up->splice);
		up->splice = 0;
	}
}

static void proxy_spl_sweep(uv_timer_t *t);

/*
 * Before the request's first byte goes upstream: when the exchange allows it
 * (http_conn_splice_ok()), the kernel may send the response straight to the
 * client. Once per request (a retry goes through the proxy).
 */
static void proxy_splice_maybe_arm(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;
	struct proxy_upstream *up = pc->up;

	/* bytes of ours still on their way to the client (a 403 to a pipelined
	 * request before this one): the kernel's response would overtake them */
	if (pc->spl_armed || !up->splice || !pc->ckey_ok || !pc->to_up.len || pc->to_up.writing ||
	    pc->to_client.len || pc->to_client.writing || pc->spl_nreq == pc->http.nreq ||
	    pc->ctls || pc->utls)
		return;
	pc->spl_nreq = pc->http.nreq;
	if (!http_conn_splice_ok(&pc->http))
		return;
	proxy_splice_arm(srv->splice, up->splice, &pc->ckey);
	/* the request splice: once this response is over, the kernel may
	 * take the client's next request (nothing of the client's waits) */
	pc->rq_after = srv->rq && !pc->cin_len && !pc->to_client.len && !pc->to_client.writing &&
		       proxy_rq_ensure_paired(pc) && pc->rq_slot == up->splice &&
		       proxy_rq_grant_after(srv->rq, pc->rq_slot);
	pc->spl_armed = true;
	pc->spl_slot = up->splice;
	pc->spl_head = false;
	pc->spl_bytes = 0;
	pc->spl_prev = NULL;
	pc->spl_next = srv->spl_list;
	if (srv->spl_list)
		srv->spl_list->spl_prev = pc;
	srv->spl_list = pc;
	if (!uv_is_active((uv_handle_t *)&srv->spl_sweep))
		uv_timer_start(&srv->spl_sweep, proxy_spl_sweep, PROXY_SPLICE_SWEEP_MS,
			       PROXY_SPLICE_SWEEP_MS);
}

/* The kernel sent the armed response whole (read from the slot, or from
 * the record of an AFTER grant): the exchange ends as if we had sent it. */
static void proxy_spliced_done(struct proxy_conn *pc, int status, uint64_t first_ns,
			       uint64_t bytes, uint64_t last_ns)
{
	struct proxy_server *srv = pc->srv;

	http_conn_spliced_head(&pc->http, status, first_ns); /* once: it says so */
	srv->cnt.bytes_to_clients += bytes;
	srv->cnt.responses_spliced++;
	if (pc->up && pc->up->splice == pc->spl_slot)
		pc->up->spliced = true;
	proxy_spl_end(pc);
	http_conn_spliced_done(&pc->http, bytes, last_ns);
}

/*
 * What the kernel did with the armed response. True when the exchange
 * moved on (the caller runs proxy_after_event(), or finds the connection
 * closed).
 */
static bool proxy_splice_poll(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;
	const struct sluice_splice_slot *s;
	uint64_t st;

	if (!pc->spl_armed)
		return false;
	if (pc->rq_after) {
		/* AFTER: the kernel may end it with a record of ours (rq moves
		 * on first, then the record is read), else it is ours as ever */
		uint64_t rq = proxy_rq_state(srv->rq, pc->spl_slot);

		if (rq == SLUICE_RQ_AFTER)
			return false;
		proxy_rq_sync(srv);
		if (!pc->spl_armed)
			return true;
		if (rq != SLUICE_RQ_OFF)
			return false;
		pc->rq_after = false;
	}
	s = proxy_splice_slot(srv->splice, pc->spl_slot, &st);
	switch (st) {
	case SLUICE_SPLICE_BODY:
	case SLUICE_SPLICE_DONE:
		if (!pc->spl_head) {
			http_conn_spliced_head(&pc->http, (int)s->status, s->first_ns);
			pc->spl_head = true;
		}
		if (s->bytes != pc->spl_bytes) {
			/* bytes moved: the stream is not idle */
			pc->spl_bytes = s->bytes;
			pc->last_activity_ms = uv_now(srv->loop);
		}
		if (st == SLUICE_SPLICE_BODY)
			return false;
		proxy_splice_reset(srv->splice, pc->spl_slot);
		proxy_spliced_done(pc, (int)s->status, s->first_ns, pc->spl_bytes, s->last_ns);
		return true;
	case SLUICE_SPLICE_PASSED:
		/* the response comes to the upstream socket, as without splice */
		proxy_splice_reset(srv->splice, pc->spl_slot);
		proxy_spl_end(pc);
		return true;
	case SLUICE_SPLICE_BROKEN:
		/* the client went away mid-response (or its head could not be
		 * rewritten): neither side can be used again */
		proxy_spl_end(pc);
		http_conn_release(&pc->http, HTTP_R_CLIENT_CLOSED);
		proxy_close_all(pc);
		return true;
	default:
		return false; /* ARMED, BUSY: not yet */
	}
}

static void proxy_rq_sweep(struct proxy_server *srv);

static void proxy_spl_sweep(uv_timer_t *t)
{
	struct proxy_server *srv = t->data;
	struct proxy_conn *pc, *next;

	for (pc = srv->spl_list; pc; pc = next) {
		next = pc->spl_next;
		if (proxy_splice_poll(pc) && pc->close_state != CL_CLOSED)
			proxy_after_event(pc);
	}
	proxy_rq_sweep(srv);
	if (!srv->spl_list && !srv->rq_list)
		uv_timer_stop(t);
}

static void proxy_sweep_start(struct proxy_server *srv)
{
	if (!uv_is_active((uv_handle_t *)&srv->spl_sweep))
		uv_timer_start(&srv->spl_sweep, proxy_spl_sweep, PROXY_SPLICE_SWEEP_MS,
			       PROXY_SPLICE_SWEEP_MS);
}

/* ---- the request splice (req_splice.h) ---------------------------------- */

/*
 * An exchange the kernel carried is over: logged as if we had carried it.
 * A response that came to us after all (PASSED) is adopted: the exchange
 * goes on here. Connections to close are only marked (rq_close): this runs
 * inside the ring's poll.
 */
static void proxy_rq_record(void *ctx, const struct sluice_rq_rec *rec)
{
	struct proxy_server *srv = ctx;
	struct proxy_conn *pc = rec->slot < SLUICE_SPLICE_SLOTS ? srv->rq_pc[rec->slot] : NULL;
	const struct sluice_rq_key *k = &rec->key;
	const char *text = (const char *)k->text;
	struct http_exchange x;

	if (rec->own) {
		/* the response of our own exchange (AFTER) */
		if (!pc || pc->rq_gen != rec->gen || !pc->spl_armed || !pc->rq_after ||
		    pc->spl_slot != rec->slot + 1)
			return;
		pc->rq_after = false;
		proxy_spliced_done(pc, (int)rec->status, rec->first_ns, rec->bytes_out, rec->last_ns);
		pc->last_activity_ms = uv_now(srv->loop);
		return;
	}
	srv->cnt.requests_spliced++;
	srv->cnt.bytes_from_clients += rec->bytes_in;
	if (!pc || pc->rq_gen != rec->gen)
		return; /* its connection is gone: nothing left to log it with */
	pc->last_activity_ms = uv_now(srv->loop);
	if (rec->outcome == SLUICE_SPLICE_PASSED && pc->close_state == CL_CLOSED)
		return;
	if (rec->outcome == SLUICE_SPLICE_PASSED) {
		char head[SLUICE_RQ_TEXT_MAX + 64];
		int n = snprintf(head, sizeof(head), "%.*s %.*s HTTP/1.1\r\nHost: %.*s\r\n\r\n",
				 (int)k->method_len, text, (int)k->target_len, text + k->method_len,
				 (int)k->host_len, text + k->method_len + k->target_len);

		if (n <= 0 || (size_t)n >= sizeof(head) ||
		    !http_conn_adopt(&pc->http, head, (size_t)n, rec->req_ns, rec->bytes_in)) {
			http_conn_release(&pc->http, HTTP_R_BAD_RESPONSE);
			pc->rq_close = true;
		}
		return;
	}
	memset(&x, 0, sizeof(x));
	x.start_ns = x.upstream_sent_ns = rec->req_ns;
	x.upstream_first_ns = rec->first_ns;
	x.end_ns = rec->last_ns ? rec->last_ns : rec->req_ns;
	x.method = text;
	x.method_len = k->method_len;
	x.path = text + k->method_len;
	x.path_len = k->target_len;
	x.host = text + k->method_len + k->target_len;
	x.host_len = k->host_len;
	x.http_minor = 1;
	x.status = (int)rec->status;
	x.bytes_in = rec->bytes_in;
	x.bytes_out = rec->bytes_out;
	if (rec->outcome == SLUICE_SPLICE_DONE) {
		x.verdict = HTTP_VERDICT_ALLOWED;
		x.reason = HTTP_R_POLICY_ALLOWED;
		srv->cnt.responses_spliced++;
		srv->cnt.bytes_to_clients += rec->bytes_out;
	} else {
		/* BROKEN (the client went away mid-body) or given up: neither
		 * side can be used again */
		x.verdict = HTTP_VERDICT_ERROR;
		x.reason = HTTP_R_CLIENT_CLOSED;
		pc->rq_close = true;
	}
	proxy_done(pc, &x);
}

/* Reads the ring: every ended exchange logged, in order as far as it can. */
static void proxy_rq_sync(struct proxy_server *srv)
{
	if (!srv->rq || srv->rq_polling)
		return;
	srv->rq_polling = true;
	proxy_rq_poll(srv->rq, proxy_rq_record, srv);
	srv->rq_polling = false;
}

static void proxy_rq_unlist(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;

	if (pc->rq_prev)
		pc->rq_prev->rq_next = pc->rq_next;
	else
		srv->rq_list = pc->rq_next;
	if (pc->rq_next)
		pc->rq_next->rq_prev = pc->rq_prev;
	pc->rq_prev = pc->rq_next = NULL;
}

/* No more requests the kernel's way; what it carried is logged first. */
static void proxy_rq_unpair_pc(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;

	if (!pc->rq_paired)
		return;
	proxy_rq_sync(srv);
	proxy_rq_unpair(srv->rq, pc->rq_slot, &pc->ckey);
	proxy_rq_sync(srv);
	srv->rq_pc[pc->rq_slot - 1] = NULL;
	proxy_rq_unlist(pc);
	pc->rq_paired = false;
	pc->rq_wait = false;
}

/*
 * Could this connection's requests go the kernel's way: plaintext both
 * sides, a client socket on the fast path, an upstream whose server is too
 * (a response was spliced on it), and rules that look at method, path and
 * Host alone. Such a connection keeps its upstream connection between
 * requests (no pool): the kernel sends on it.
 */
static bool proxy_rq_pairable(const struct proxy_conn *pc)
{
	return pc->srv->rq && !pc->rq_never && pc->ckey_ok && pc->rq_rules_ok && !pc->ctls &&
	       !pc->utls && !pc->tls_spec && !pc->passthrough && pc->up &&
	       pc->up_state == UP_CONNECTED && pc->up->splice && pc->up->spliced &&
	       !pc->srv->draining && !pc->http.draining && pc->http.keep_alive && !pc->client_eof;
}

/* Between two exchanges, nothing held: pair if not yet, and let the kernel
 * take the next request. A connection whose requests the kernel mostly
 * leaves to us (other paths every time, say) stops being offered. */
static void proxy_rq_maybe_grant(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;

	if (pc->close_state != CL_OPEN || pc->rq_wait ||
	    http_conn_phase(&pc->http) != HTTP_PH_IDLE || pc->cin_len || pc->client_eof ||
	    pc->to_client.len || pc->to_client.writing || pc->to_up.len || pc->to_up.writing ||
	    pc->spl_armed || !proxy_rq_ensure_paired(pc))
		return;
	if (proxy_rq_grant(srv->rq, pc->rq_slot) <= 0)
		return;
	if (++pc->rq_grants >= 64) {
		uint64_t taken = proxy_rq_taken(srv->rq, pc->rq_slot);

		if (taken - pc->rq_grants_taken < 16) {
			pc->rq_never = true;
			proxy_rq_reclaim(srv->rq, pc->rq_slot);
			return;
		}
		pc->rq_grants = 0;
		pc->rq_grants_taken = taken;
	}
}

/* Paired (now, if it can be): the kernel knows this client connection. */
static bool proxy_rq_ensure_paired(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;

	if (pc->rq_paired)
		return pc->up && pc->rq_slot == pc->up->splice && !pc->rq_never;
	if (!proxy_rq_pairable(pc))
		return false;
	{
		struct proxy_rq_ctx ctx = {
			.ep_id = pc->flow.ep_id, .peer_identity = pc->flow.peer_identity,
			.port = proxy_sockaddr_port(&pc->flow.orig_dst),
			.direction = pc->flow.direction,
		};
		const struct sluice_splice_slot *s;
		uint64_t st;

		if (!proxy_rq_pair(srv->rq, pc->up->splice, &pc->ckey, &ctx)) {
			pc->rq_never = true;
			return false;
		}
		s = proxy_splice_slot(srv->splice, pc->up->splice, &st);
		pc->rq_paired = true;
		pc->rq_slot = pc->up->splice;
		pc->rq_gen = s->gen;
		pc->rq_taken_seen = pc->rq_grants_taken = s->rq_taken;
		pc->rq_grants = 0;
		srv->rq_pc[pc->rq_slot - 1] = pc;
		pc->rq_prev = NULL;
		pc->rq_next = srv->rq_list;
		if (srv->rq_list)
			srv->rq_list->rq_prev = pc;
		srv->rq_list = pc;
		proxy_sweep_start(srv);
	}
	return true;
}

/* Every sweep: ended exchanges logged, marked connections closed, waiting
 * ones resumed, idle ones offered again; a draining server takes its
 * connections back. */
static void proxy_rq_sweep(struct proxy_server *srv)
{
	struct proxy_conn *pc, *next;

	proxy_rq_sync(srv);
	for (pc = srv->rq_list; pc; pc = next) {
		next = pc->rq_next;
		if (pc->rq_close) {
			proxy_close_all(pc);
			continue;
		}
		if ((srv->draining || pc->rq_never) && !pc->rq_wait &&
		    proxy_rq_reclaim(srv->rq, pc->rq_slot) == 0) {
			proxy_rq_unpair_pc(pc);
			proxy_after_event(pc);
			continue;
		}
		if (pc->rq_wait || http_conn_phase(&pc->http) != HTTP_PH_IDLE)
			proxy_after_event(pc);
		else
			proxy_rq_maybe_grant(pc);
	}
}

static void proxy_up_close(struct proxy_conn *pc)
{
	if (pc->up_state != UP_CONNECTING && pc->up_state != UP_CONNECTED)
		return;
	proxy_up_splice_detach(pc->up);
	pc->up_state = UP_CLOSING;
	pc->up_reading = false;
	pc->to_up.len = 0;
	proxy_tls_conn_end(pc, &pc->utls); /* tickets were kept as they came */
	uv_close((uv_handle_t *)&pc->up->h, proxy_on_up_close);
}

/* The upstream connection a pool entry belongs to. */
static struct proxy_upstream *proxy_up_of(struct proxy_pool_entry *e)
{
	return (struct proxy_upstream *)((char *)e - offsetof(struct proxy_upstream, pool));
}

/* Closes an upstream connection nobody owns (idle in the pool, or not
 * pooled after all). */
static void proxy_up_close_idle(struct proxy_upstream *up)
{
	proxy_up_splice_detach(up);
	proxy_pool_remove(&up->srv->pool, &up->pool);
	up->pc = NULL;
	if (!uv_is_closing((uv_handle_t *)&up->h))
		uv_close((uv_handle_t *)&up->h, proxy_on_up_close);
}

static void proxy_close_all(struct proxy_conn *pc)
{
	if (pc->close_state == CL_CLOSED)
		return;
	/* what the kernel carried for it is logged while it is still open */
	proxy_rq_unpair_pc(pc);
	pc->close_state = CL_CLOSED;
	proxy_up_close(pc);
	uv_close((uv_handle_t *)&pc->timer, proxy_on_handle_close);
	uv_close((uv_handle_t *)&pc->client, proxy_on_handle_close);
}

static void proxy_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct proxy_conn *pc = h->data;

	(void)suggested;
	/* consumed (or copied) before the read callback returns */
	*buf = uv_buf_init(pc->srv->readbuf, PROXY_READ_BUF);
}

static void proxy_on_up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct proxy_upstream *up = h->data;

	(void)suggested;
	*buf = uv_buf_init(up->srv->readbuf, PROXY_READ_BUF);
}

static void proxy_on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void proxy_on_up_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void proxy_set_reading(struct proxy_conn *pc, uv_stream_t *s, bool *state, bool want,
			      uv_read_cb cb)
{
	if (want == *state)
		return;
	if (want)
		uv_read_start(s, s == (uv_stream_t *)&pc->client ? proxy_on_alloc : proxy_on_up_alloc,
			      cb);
	else
		uv_read_stop(s);
	*state = want;
	(void)pc;
}

static void proxy_update_reading(struct proxy_conn *pc)
{
	uint32_t cap = pc->srv->cfg.buffer_cap;
	bool want_client, want_up;

	if (pc->close_state == CL_CLOSED)
		return;
	if (pc->close_state == CL_SHUTDOWN) {
		want_client = !pc->client_eof; /* discard until EOF (lingering close) */
	} else {
		/* while a response is awaited, early (pipelined) bytes are
		 * buffered up to PROXY_CIN_MAX rather than toggling the poller
		 * for every request */
		want_client = pc->close_state == CL_OPEN && !pc->client_eof &&
			      http_conn_phase(&pc->http) != HTTP_PH_CLOSING &&
			      proxy_outq_queued(&pc->to_up) +
			      (pc->utls ? proxy_tls_conn_held(pc->utls) : 0) < cap &&
			      pc->cin_len < PROXY_CIN_MAX;
	}
	want_up = pc->close_state == CL_OPEN && pc->up_state == UP_CONNECTED &&
		  proxy_outq_queued(&pc->to_client) < cap;
	proxy_set_reading(pc, (uv_stream_t *)&pc->client, &pc->client_reading, want_client,
			  proxy_on_client_read);
	if (pc->up_state == UP_CONNECTED)
		proxy_set_reading(pc, (uv_stream_t *)&pc->up->h, &pc->up_reading, want_up,
				  proxy_on_up_read);
}

static void proxy_on_timer(uv_timer_t *t);

static void proxy_update_timer(struct proxy_conn *pc)
{
	const struct proxy_config *cfg = &pc->srv->cfg;
	enum proxy_timer_kind kind;
	uint64_t ms;

	if (pc->close_state == CL_CLOSED)
		return;
	if (pc->close_state == CL_SHUTDOWN)
		kind = T_LINGER;
	else if (pc->ctls && pc->ctls->state == PROXY_TLS_HANDSHAKE)
		kind = T_HANDSHAKE;
	else if (pc->up_state == UP_CONNECTING ||
		 (pc->utls && pc->utls->state == PROXY_TLS_HANDSHAKE))
		kind = T_CONNECT; /* the upstream handshake is part of connecting */
	else if (http_conn_phase(&pc->http) == HTTP_PH_IDLE)
		kind = T_IDLE;
	else if (http_conn_phase(&pc->http) == HTTP_PH_HEAD)
		kind = T_HEADER;
	else
		kind = T_STREAM;
	/* the idle and header deadlines restart with every request, even when
	 * a whole request was handled within one read */
	if (kind == pc->timer_kind &&
	    !((kind == T_IDLE || kind == T_HEADER) && pc->timer_req != pc->http.nreq))
		return;
	pc->timer_kind = (uint8_t)kind;
	pc->timer_req = pc->http.nreq;
	switch (kind) {
	case T_LINGER: ms = PROXY_LINGER_MS; break;
	case T_CONNECT: ms = cfg->connect_timeout_ms; break;
	case T_HANDSHAKE: ms = cfg->tls_handshake_timeout_ms; break;
	case T_IDLE: ms = cfg->idle_timeout_ms; break;
	case T_HEADER: ms = cfg->header_timeout_ms; break;
	default: ms = cfg->stream_idle_timeout_ms; break;
	}
	pc->deadline_ms = uv_now(pc->srv->loop) + ms;
	/* A later deadline than the armed one (the next request's idle or
	 * stream deadline, every request of a keep-alive connection) leaves
	 * the timer as it is: it fires early, finds the deadline moved and
	 * re-arms. No timer-heap work per request. */
	if (uv_is_active((uv_handle_t *)&pc->timer) && pc->timer_due_ms <= pc->deadline_ms)
		return;
	pc->timer_due_ms = pc->deadline_ms;
	uv_timer_start(&pc->timer, proxy_on_timer, ms, 0);
}

static void proxy_on_shutdown(uv_shutdown_t *req, int status)
{
	struct proxy_conn *pc = req->data;

	if (status < 0 && pc->close_state != CL_CLOSED)
		proxy_close_all(pc);
}

/* The engine wants to close: flush to the client, FIN, linger, close. */
static void proxy_progress_close(struct proxy_conn *pc)
{
	if (pc->close_state == CL_OPEN) {
		pc->close_state = CL_FLUSHING;
		proxy_up_close(pc);
		if (pc->ctls && proxy_tls_seal(pc, &pc->to_client) == 0)
			proxy_tls_conn_shutdown(pc->ctls); /* after what is queued */
	}
	if (pc->close_state == CL_FLUSHING) {
		if (proxy_outq_flush(pc, &pc->to_client, (uv_stream_t *)&pc->client) < 0) {
			proxy_close_all(pc);
			return;
		}
		if (proxy_outq_queued(&pc->to_client))
			return; /* wait for the write callback */
		if (pc->client_eof) {
			proxy_close_all(pc);
			return;
		}
		pc->shutdown_req.data = pc;
		if (uv_shutdown(&pc->shutdown_req, (uv_stream_t *)&pc->client,
				proxy_on_shutdown) < 0) {
			proxy_close_all(pc);
			return;
		}
		pc->close_state = CL_SHUTDOWN;
		proxy_outq_trim(&pc->to_client, true);
		free(pc->cin);
		pc->cin = NULL;
		pc->cin_len = pc->cin_cap = 0;
	}
	proxy_update_reading(pc);
	proxy_update_timer(pc);
}

static void proxy_on_connect(uv_connect_t *req, int status);
static int proxy_up_tls_start(struct proxy_conn *pc);
static void proxy_tls_socket(struct proxy_conn *pc, uv_handle_t *h);

/* Once a second while connections are idle in the pool: those idle for
 * PROXY_POOL_IDLE_MS are closed (oldest first: the list is in idle order). */
static void proxy_pool_sweep(uv_timer_t *t)
{
	struct proxy_server *srv = t->data;
	uint64_t now = uv_now(srv->loop);
	struct proxy_pool_entry *e;

	while ((e = proxy_pool_oldest(&srv->pool)) && now - e->idle_since_ms >= PROXY_POOL_IDLE_MS)
		proxy_up_close_idle(proxy_up_of(e));
	if (!srv->pool.count)
		uv_timer_stop(t);
}

/* Closes every idle connection (drain, close). */
static void proxy_pool_flush(struct proxy_server *srv)
{
	struct proxy_pool_entry *e;

	while ((e = proxy_pool_oldest(&srv->pool)))
		proxy_up_close_idle(proxy_up_of(e));
	uv_timer_stop(&srv->pool_sweep);
}

void proxy_server_upstream_forget(struct proxy_server *srv, const void *scope)
{
	struct proxy_pool_entry *e = proxy_pool_oldest(&srv->pool), *next;

	for (; e; e = next) {
		next = e->newer;
		if (e->key.scope == scope)
			proxy_up_close_idle(proxy_up_of(e));
	}
}

/* Whether this connection's upstream connections may be pooled and taken
 * from the pool: plain HTTP both ways. TLS-originating upstreams (their
 * session is per name and trust), passed-through TLS and TCP tunnels are
 * this connection's own. */
static bool proxy_poolable(const struct proxy_conn *pc)
{
	return !pc->passthrough && !(pc->tls_spec && (pc->tls_spec->orig.secret || pc->tls_spec->tcp)) &&
	       http_conn_phase(&pc->http) != HTTP_PH_TUNNEL;
}

/* An idle connection of the same key from the pool, or NULL. */
static bool proxy_up_from_pool(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;
	struct proxy_pool_key key;
	struct proxy_pool_entry *e;
	struct proxy_upstream *up;

	if (!srv->pool.count || pc->up_fresh || !proxy_poolable(pc))
		return false;
	proxy_pool_key_of(&key, &pc->flow);
	if (!(e = proxy_pool_take(&srv->pool, &key)))
		return false;
	up = proxy_up_of(e);
	up->pc = pc;
	up->reused = true;
	pc->up = up;
	pc->handles++;
	pc->up_state = UP_CONNECTED;
	pc->up_reading = true; /* it was read-watched while idle */
	srv->cnt.upstream_reused++;
	return true;
}

static void proxy_connect(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;
	struct proxy_resolver *res = srv->resolver;
	struct proxy_upstream *up;
	void *res_data = NULL;
	int sfd = -1, r;

	if (proxy_up_from_pool(pc))
		return;
	pc->up_fresh = false;
	if (res->upstream_socket) {
		/* fail closed: a resolver that cannot make its socket (e.g. in
		 * the pod's netns) never gets a plain one instead */
		sfd = res->upstream_socket(res, &pc->flow, &res_data);
		if (sfd < 0)
			goto fail;
	}
	up = calloc(1, sizeof(*up));
	if (!up || (r = uv_tcp_init(srv->loop, &up->h)) < 0) {
		free(up);
		if (sfd >= 0) {
			close(sfd);
			if (res->upstream_closed)
				res->upstream_closed(res, res_data);
		}
		goto fail;
	}
	srv->nups++;
	up->srv = srv;
	up->pc = pc;
	up->h.data = up;
	up->res_data = res_data;
	up->has_res = sfd >= 0;
	pc->up = up;
	pc->handles++;
	pc->up_state = UP_CONNECTING;
	if (sfd >= 0 && (r = uv_tcp_open(&up->h, sfd)) < 0) {
		close(sfd);
		proxy_up_close(pc);
		goto fail;
	}
	up->connect_req.data = up;
	srv->cnt.upstream_connects++;
	r = uv_tcp_connect(&up->connect_req, &up->h, &pc->flow.orig_dst.sa, proxy_on_connect);
	if (r < 0) {
		proxy_up_close(pc);
		goto fail;
	}
	return;
fail:
	srv->cnt.upstream_connect_errors++;
	http_conn_upstream_error(&pc->http, HTTP_R_UPSTREAM_CONNECT);
}

static void proxy_on_connect(uv_connect_t *req, int status)
{
	struct proxy_upstream *up = req->data;
	struct proxy_conn *pc = up->pc;

	if (status == UV_ECANCELED || !pc || pc->up != up || pc->up_state != UP_CONNECTING)
		return;
	if (status < 0) {
		pc->srv->cnt.upstream_connect_errors++;
		proxy_up_close(pc);
		http_conn_upstream_error(&pc->http, HTTP_R_UPSTREAM_CONNECT);
	} else {
		pc->up_state = UP_CONNECTED;
		uv_tcp_nodelay(&up->h, 1);
		if (pc->srv->splice && !pc->passthrough && !(pc->tls_spec && pc->tls_spec->orig.secret)) {
			int fd = -1;

			uv_fileno((uv_handle_t *)&up->h, &fd);
			up->splice = proxy_splice_attach(pc->srv->splice, fd);
		}
		if (pc->passthrough)
			proxy_tls_socket(pc, (uv_handle_t *)&up->h); /* the client's TLS */
		if (pc->tls_spec && pc->tls_spec->orig.secret && !pc->passthrough &&
		    proxy_up_tls_start(pc) < 0) {
			pc->srv->cnt.tls_upstream_errors++;
			proxy_up_close(pc);
			http_conn_upstream_error(&pc->http, HTTP_R_UPSTREAM_TLS);
		}
	}
	proxy_after_event(pc);
}

/*
 * The exchange is over and left the upstream connection clean
 * (http.up_reusable): it goes to the pool, for the next request of any
 * client connection with the same key (this one's next request too). It
 * stays read-watched there: a close by the server, or bytes nobody asked
 * for, drop it at once. Not pooled (bounds, a drain): closed.
 */
static void proxy_up_release(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;
	struct proxy_upstream *up = pc->up;
	struct proxy_pool_key key;

	pc->http.up_reusable = false;
	if (pc->up_state != UP_CONNECTED || pc->utls || pc->to_up.writing || pc->to_up.len ||
	    !proxy_poolable(pc) || http_conn_request_pending(&pc->http))
		return; /* stays with this connection, as before pooling */
	if (pc->rq_paired || proxy_rq_pairable(pc))
		return; /* the kernel may send this client's next request on it */
	pc->up = NULL;
	pc->up_state = UP_NONE;
	pc->handles--; /* never the last: the client handle and the timer */
	up->pc = NULL;
	up->reused = false;
	if (srv->draining || srv->closing) {
		proxy_up_close_idle(up);
		return;
	}
	proxy_pool_key_of(&key, &pc->flow);
	if (!proxy_pool_put(&srv->pool, &up->pool, &key, uv_now(srv->loop))) {
		proxy_up_close_idle(up);
		return;
	}
	if (!pc->up_reading)
		uv_read_start((uv_stream_t *)&up->h, proxy_on_up_alloc, proxy_on_up_read);
	pc->up_reading = false;
	if (!uv_is_active((uv_handle_t *)&srv->pool_sweep))
		uv_timer_start(&srv->pool_sweep, proxy_pool_sweep, PROXY_POOL_SWEEP_MS,
			       PROXY_POOL_SWEEP_MS);
}

/* The upstream connection failed under a request (EOF/RST, a write error).
 * A reused connection that failed before any response byte: the request
 * goes out again once on a fresh connection when http_conn_retry() allows
 * it (see there); otherwise 502 or a cut response, as before pooling. */
static void proxy_up_lost(struct proxy_conn *pc, bool eof)
{
	bool reused = pc->up && pc->up->reused;

	proxy_up_close(pc);
	if (reused && http_conn_retry(&pc->http)) {
		pc->up_fresh = true;
		pc->srv->cnt.upstream_retries++;
		return; /* connects again once this one is closed */
	}
	if (eof)
		http_conn_upstream_eof(&pc->http);
	else
		http_conn_upstream_error(&pc->http, HTTP_R_UPSTREAM_RESET);
}

/* Runs after every event: feeds waiting bytes, connects, flushes, re-arms. */
static void proxy_after_event(struct proxy_conn *pc)
{
	if (pc->close_state == CL_CLOSED)
		return;
	if (pc->rq_close) {
		proxy_close_all(pc);
		return;
	}
	if (pc->close_state != CL_OPEN) {
		proxy_progress_close(pc);
		return;
	}
	if (pc->rq_wait) {
		/* client bytes after an exchange the kernel still carries */
		proxy_rq_sync(pc->srv);
		if (pc->rq_close) {
			proxy_close_all(pc);
			return;
		}
		if (proxy_rq_reclaim(pc->srv->rq, pc->rq_slot))
			return;
		pc->rq_wait = false;
	}
	while (pc->cin_len && http_conn_accepts_request_bytes(&pc->http) &&
	       http_conn_phase(&pc->http) != HTTP_PH_CLOSING) {
		size_t n = http_conn_feed_request(&pc->http, pc->cin, pc->cin_len);
		if (!n)
			break;
		memmove(pc->cin, pc->cin + n, pc->cin_len - n);
		pc->cin_len -= (uint32_t)n;
	}
	if (pc->http.up_reusable)
		proxy_up_release(pc);
	if (pc->oom)
		http_conn_release(&pc->http, HTTP_R_NONE);
	if (http_conn_phase(&pc->http) == HTTP_PH_CLOSING) {
		proxy_progress_close(pc);
		return;
	}
	if (pc->to_up.len && pc->up_state == UP_NONE)
		proxy_connect(pc);
	if (pc->up_state == UP_CONNECTED && pc->srv->splice)
		proxy_splice_maybe_arm(pc);
	if (pc->up_state == UP_CONNECTED &&
	    proxy_outq_flush(pc, &pc->to_up, (uv_stream_t *)&pc->up->h) < 0)
		proxy_up_lost(pc, false);
	if (http_conn_phase(&pc->http) == HTTP_PH_CLOSING) {
		proxy_progress_close(pc);
		return;
	}
	if (proxy_outq_flush(pc, &pc->to_client, (uv_stream_t *)&pc->client) < 0) {
		http_conn_release(&pc->http, HTTP_R_CLIENT_CLOSED);
		proxy_close_all(pc);
		return;
	}
	if (http_conn_phase(&pc->http) == HTTP_PH_IDLE) {
		/* between requests: hold nothing */
		proxy_outq_trim(&pc->to_client, true);
		proxy_outq_trim(&pc->to_up, true);
		if (!pc->cin_len) {
			free(pc->cin);
			pc->cin = NULL;
			pc->cin_cap = 0;
		}
	} else {
		proxy_outq_trim(&pc->to_client, false);
		proxy_outq_trim(&pc->to_up, false);
	}
	if (pc->srv->rq)
		proxy_rq_maybe_grant(pc);
	proxy_update_reading(pc);
	proxy_update_timer(pc);
}

static void proxy_on_write(uv_write_t *req, int status)
{
	struct proxy_conn *pc = req->data;
	bool is_client = req == &pc->to_client.req;
	struct proxy_outq *q = is_client ? &pc->to_client : &pc->to_up;

	q->writing = false;
	q->wlen = 0;
	if (status == UV_ECANCELED || pc->close_state == CL_CLOSED)
		return;
	if (status < 0) {
		if (is_client) {
			http_conn_release(&pc->http, HTTP_R_CLIENT_CLOSED);
			proxy_close_all(pc);
			return;
		}
		proxy_up_lost(pc, false);
	}
	proxy_after_event(pc);
}

static int proxy_cin_append(struct proxy_conn *pc, const char *p, size_t n)
{
	if (pc->cin_len + n > pc->cin_cap) {
		uint32_t ncap = pc->cin_cap ? pc->cin_cap : 4096;
		char *nb;
		while (ncap < pc->cin_len + n)
			ncap *= 2;
		nb = realloc(pc->cin, ncap);
		if (!nb)
			return -ENOMEM;
		pc->cin = nb;
		pc->cin_cap = ncap;
	}
	memcpy(pc->cin + pc->cin_len, p, n);
	pc->cin_len += (uint32_t)n;
	return 0;
}

/* Plaintext from the client: to the engine, the rest kept for later. */
static void proxy_client_plain(struct proxy_conn *pc, const char *p, size_t n)
{
	if (pc->cin_len == 0) {
		size_t used = http_conn_feed_request(&pc->http, p, n);
		if (used < n && proxy_cin_append(pc, p + used, n - used))
			pc->oom = true;
	} else if (proxy_cin_append(pc, p, n)) {
		pc->oom = true;
	}
}

static void proxy_client_tls_in(struct proxy_conn *pc, const char *p, size_t n);
static void proxy_up_tls_in(struct proxy_conn *pc, const char *p, size_t n);

static void proxy_on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct proxy_conn *pc = s->data;

	if (nread == 0)
		return;
	if (nread < 0) {
		if (pc->spl_armed) {
			proxy_splice_poll(pc);
			if (pc->close_state == CL_CLOSED)
				return;
		}
		/* the kernel's exchanges first: the last ones end before EOF */
		proxy_rq_sync(pc->srv);
		pc->client_eof = true;
		pc->client_reading = false;
		uv_read_stop(s);
		if (pc->ctls && pc->ctls->state == PROXY_TLS_HANDSHAKE && pc->close_state == CL_OPEN) {
			pc->srv->cnt.tls_handshake_errors++;
			pc->srv->cnt.tls_hs_closed++;
		}
		if (pc->close_state != CL_OPEN || nread != UV_EOF) {
			if (nread != UV_EOF)
				http_conn_release(&pc->http, HTTP_R_CLIENT_CLOSED);
			proxy_close_all(pc);
			return;
		}
		http_conn_client_eof(&pc->http);
		proxy_after_event(pc);
		return;
	}
	/* the client's next request is the usual sign that the spliced
	 * response is over: the exchange ends before the request is read */
	if (pc->spl_armed) {
		proxy_splice_poll(pc);
		if (pc->close_state == CL_CLOSED)
			return;
	}
	pc->srv->cnt.bytes_from_clients += (uint64_t)nread;
	pc->last_activity_ms = uv_now(pc->srv->loop);
	if (pc->close_state != CL_OPEN)
		return; /* lingering: discard */
	if (pc->ctls) {
		proxy_client_tls_in(pc, buf->base, (size_t)nread);
		return;
	}
	if (pc->rq_paired) {
		/* the kernel's exchanges first (logs, an adopted response);
		 * these bytes wait while it still carries one */
		proxy_rq_read(pc->srv->rq, pc->rq_slot, (uint64_t)nread);
		proxy_rq_sync(pc->srv);
		if (!pc->rq_wait && proxy_rq_reclaim(pc->srv->rq, pc->rq_slot))
			pc->rq_wait = true;
		if (pc->rq_wait) {
			if (proxy_cin_append(pc, buf->base, (size_t)nread))
				pc->oom = true;
			proxy_after_event(pc);
			return;
		}
	}
	proxy_client_plain(pc, buf->base, (size_t)nread);
	proxy_after_event(pc);
}

static void proxy_on_up_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct proxy_upstream *up = s->data;
	struct proxy_conn *pc = up->pc;
	bool in_use;

	if (nread == 0)
		return;
	if (!pc) {
		/* idle in the pool: the server closed it (or spoke out of
		 * turn, e.g. a 408): never reused */
		uv_read_stop(s);
		proxy_up_close_idle(up);
		return;
	}
	if (pc->rq_paired) {
		/* a response the kernel passed to us belongs to an exchange it
		 * started: adopted from its record before its bytes are read */
		proxy_rq_sync(pc->srv);
		if (pc->rq_close) {
			proxy_close_all(pc);
			return;
		}
	}
	if (pc->spl_armed) {
		proxy_splice_poll(pc);
		if (pc->close_state == CL_CLOSED)
			return;
		if (pc->spl_armed && nread > 0) {
			if (!proxy_splice_disarm(pc->srv->splice, pc->spl_slot)) {
				/* bytes on the socket while the kernel is sending
				 * a response to the client: out of turn */
				proxy_spl_end(pc);
				http_conn_release(&pc->http, HTTP_R_BAD_RESPONSE);
				proxy_close_all(pc);
				return;
			}
			/* still armed: the server is not on the fast path,
			 * its response is ours as before */
			proxy_spl_end(pc);
		}
	}
	in_use = http_conn_phase(&pc->http) == HTTP_PH_TUNNEL ||
		 http_conn_request_pending(&pc->http);
	if (nread < 0) {
		if (in_use) {
			proxy_up_lost(pc, nread == UV_EOF);
		} else {
			proxy_up_close(pc);
		}
		/* not in use: the upstream closed an idle connection; the next
		 * allowed request reconnects */
		proxy_after_event(pc);
		return;
	}
	pc->last_activity_ms = uv_now(pc->srv->loop);
	if (pc->utls) {
		proxy_up_tls_in(pc, buf->base, (size_t)nread);
		return;
	}
	http_conn_feed_response(&pc->http, buf->base, (size_t)nread);
	proxy_after_event(pc);
}

static void proxy_on_timer(uv_timer_t *t)
{
	struct proxy_conn *pc = t->data;
	enum proxy_timer_kind kind;
	uint64_t now = uv_now(pc->srv->loop);

	if (pc->spl_armed && proxy_splice_poll(pc)) {
		/* the exchange moved on: its next deadline, if that re-armed the
		 * timer; else (the response comes to the proxy after all) the
		 * deadline that fired is still the one to check */
		if (pc->close_state == CL_CLOSED)
			return;
		proxy_after_event(pc);
		if (pc->close_state == CL_CLOSED || uv_is_active((uv_handle_t *)&pc->timer))
			return;
	}
	kind = pc->timer_kind;
	if (pc->rq_paired && kind == T_IDLE) {
		/* requests the kernel carried are this connection's activity */
		uint64_t taken = proxy_rq_taken(pc->srv->rq, pc->rq_slot);

		proxy_rq_sync(pc->srv);
		if (taken != pc->rq_taken_seen || proxy_rq_reclaim(pc->srv->rq, pc->rq_slot)) {
			pc->rq_taken_seen = taken;
			pc->deadline_ms = now + pc->srv->cfg.idle_timeout_ms;
		} else {
			proxy_rq_grant(pc->srv->rq, pc->rq_slot);
		}
	}

	if (kind != T_NONE && now < pc->deadline_ms) {
		/* armed for an earlier deadline that has moved (see above) */
		pc->timer_due_ms = pc->deadline_ms;
		uv_timer_start(&pc->timer, proxy_on_timer, pc->deadline_ms - now, 0);
		return;
	}
	pc->timer_kind = T_NONE;
	switch (kind) {
	case T_LINGER:
		proxy_close_all(pc);
		return;
	case T_HANDSHAKE:
		pc->srv->cnt.tls_handshake_errors++;
		pc->srv->cnt.tls_hs_timeout++;
		proxy_close_all(pc);
		return;
	case T_CONNECT:
		pc->srv->cnt.upstream_connect_errors++;
		proxy_up_close(pc);
		http_conn_upstream_error(&pc->http, HTTP_R_UPSTREAM_CONNECT);
		break;
	case T_STREAM: {
		uint64_t idle = pc->srv->cfg.stream_idle_timeout_ms;
		if (now - pc->last_activity_ms < idle) {
			pc->timer_kind = T_STREAM;
			pc->deadline_ms = pc->timer_due_ms = pc->last_activity_ms + idle;
			uv_timer_start(&pc->timer, proxy_on_timer,
				       idle - (now - pc->last_activity_ms), 0);
			return;
		}
		http_conn_timeout(&pc->http);
		break;
	}
	default:
		http_conn_timeout(&pc->http);
		break;
	}
	proxy_after_event(pc);
}

/* ---- TLS transport hook (tls.h) ----------------------------------------- */

static void proxy_hs_unlist(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;

	if (!pc->hs_listed)
		return;
	if (pc->hs_prev)
		pc->hs_prev->hs_next = pc->hs_next;
	else
		srv->hs_head = pc->hs_next;
	if (pc->hs_next)
		pc->hs_next->hs_prev = pc->hs_prev;
	else
		srv->hs_tail = pc->hs_prev;
	pc->hs_prev = pc->hs_next = NULL;
	pc->hs_listed = false;
	srv->hs_count--;
}

/*
 * A new client handshake. Beyond the cap the OLDEST handshake in progress
 * is closed, not the new one: a flood of half-open handshakes then only
 * ever delays a real client by one eviction, it never locks it out.
 */
static void proxy_hs_list(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;

	while (srv->hs_count >= srv->cfg.tls_max_handshakes && srv->hs_tail) {
		struct proxy_conn *old = srv->hs_tail;

		proxy_hs_unlist(old);
		srv->cnt.tls_handshake_errors++;
		srv->cnt.tls_hs_evicted++;
		proxy_close_all(old);
	}
	pc->hs_next = srv->hs_head;
	if (srv->hs_head)
		srv->hs_head->hs_prev = pc;
	else
		srv->hs_tail = pc;
	srv->hs_head = pc;
	pc->hs_listed = true;
	srv->hs_count++;
}

/* A TLS port without HTTP rules: bytes both ways from now on, the upstream
 * connected at once (the server may speak first). */
static void proxy_tls_tcp_start(struct proxy_conn *pc)
{
	http_conn_tunnel(&pc->http);
	if (pc->up_state == UP_NONE)
		proxy_connect(pc);
}

/* A socket carrying TLS leaves the sk_msg fast path (resolver.h). */
static void proxy_tls_socket(struct proxy_conn *pc, uv_handle_t *h)
{
	struct proxy_resolver *res = pc->srv->resolver;
	uv_os_fd_t fd;

	if (res->tls_socket && uv_fileno(h, &fd) == 0)
		res->tls_socket(res, fd);
}

/*
 * Once a second while TLS connections exist: the sessions of connections
 * that saw no bytes for PROXY_TLS_RELEASE_MS give their record buffers
 * back, so idle keep-alive connections hold no TLS buffers while busy ones
 * keep theirs from one request to the next.
 */
static void proxy_tls_sweep(uv_timer_t *h)
{
	struct proxy_server *srv = h->data;
	uint64_t now = uv_now(srv->loop);

	for (struct proxy_conn *pc = srv->conns; pc; pc = pc->next) {
		bool c, u;

		if (!pc->tls_bufs || now - pc->last_activity_ms < PROXY_TLS_RELEASE_MS)
			continue;
		c = !pc->ctls || proxy_tls_conn_release(pc->ctls);
		u = !pc->utls || proxy_tls_conn_release(pc->utls);
		pc->tls_bufs = !(c && u);
	}
}

static void proxy_tls_sweep_start(struct proxy_server *srv)
{
	if (!uv_is_active((uv_handle_t *)&srv->tls_sweep) && !srv->closing)
		uv_timer_start(&srv->tls_sweep, proxy_tls_sweep, PROXY_TLS_RELEASE_MS,
			       PROXY_TLS_RELEASE_MS);
}

/* Right after accept: a port with terminatingTLS or serverNames gets a
 * server session. No context (e.g. the secret is gone): refused. */
static int proxy_tls_accept(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;
	struct proxy_rules_key key = {
		.ep_id = pc->flow.ep_id,
		.peer_identity = pc->flow.peer_identity,
		.port = proxy_sockaddr_port(&pc->flow.orig_dst),
		.direction = pc->flow.direction,
	};
	struct proxy_tls_spec *spec = proxy_rule_set_tls(proxy_rules_lookup(srv->rules, &key));
	char *err = NULL;
	SSL_CTX *ctx;

	if (!spec)
		return 0;
	pc->tls_spec = proxy_tls_spec_ref(spec);
	if (!proxy_tls_spec_client_side(spec)) {
		if (spec->tcp)
			proxy_tls_tcp_start(pc); /* plaintext in, TLS out */
		return 0;
	}
	ctx = proxy_tls_server_ctx(srv->tls, spec, &err);
	if (!ctx || !(pc->ctls = calloc(1, sizeof(*pc->ctls))) ||
	    proxy_tls_conn_server(pc->ctls, ctx, spec, &err) < 0) {
		/* the loader refuses policies naming missing secrets, so this
		 * is a secret deleted or broken since: fail closed */
		fprintf(stderr, "sluice-proxy: TLS on port %u refused: %s\n", key.port,
			err ? err : "out of memory");
		free(err);
		free(pc->ctls);
		pc->ctls = NULL;
		SSL_CTX_free(ctx);
		return -EPROTO;
	}
	SSL_CTX_free(ctx); /* the session holds it */
	proxy_hs_list(pc);
	proxy_tls_sweep_start(srv);
	return 0;
}

/* Moves a side's sealed records into its socket queue. */
static int proxy_tls_seal(struct proxy_conn *pc, struct proxy_outq *q)
{
	struct proxy_tls_conn *t = q == &pc->to_client ? pc->ctls : pc->utls;
	size_t n;

	if (!t)
		return 0;
	/*
	 * The client's socket leaves the sk_msg fast path before the first
	 * byte we send it, not at accept: bytes the client sent meanwhile may
	 * sit in the socket's sk_msg queue, and taking it out of the map then
	 * would drop them. At our first reply the client has sent its
	 * ClientHello (read already) and waits for us.
	 */
	if (q == &pc->to_client && !pc->client_out_of_fastpath) {
		pc->client_out_of_fastpath = true;
		proxy_tls_socket(pc, (uv_handle_t *)&pc->client);
	}
	pc->tls_bufs = true;
	if (proxy_tls_conn_seal(t) < 0)
		return -EPROTO;
	while ((n = proxy_tls_conn_take(t, pc->srv->tlsbuf, sizeof(pc->srv->tlsbuf))))
		if (proxy_outq_append(q, pc->srv->tlsbuf, n))
			return -ENOMEM;
	return 0;
}

/* The upstream name: the request's Host without its port (brackets of an
 * IPv6 literal dropped). Another name than the open session's: reconnect. */
static void proxy_tls_request_host(struct proxy_conn *pc, const struct proxy_request_view *req)
{
	const char *h = req->host;
	size_t n = req->host_len;
	const char *colon;

	if (n && h[0] == '[') {
		const char *rb = memchr(h, ']', n);
		n = rb ? (size_t)(rb - h - 1) : 0;
		h++;
	} else if ((colon = memchr(h, ':', n))) {
		n = (size_t)(colon - h);
	}
	if (n > PROXY_TLS_MAX_NAME)
		n = 0; /* no such name: the certificate check fails on the address */
	memcpy(pc->req_host, h, n);
	pc->req_host[n] = '\0';
	if (pc->utls && strcasecmp(pc->utls->sni, pc->req_host) &&
	    !(pc->req_host[0] == '\0' && pc->up_info.sni[0] == '\0'))
		proxy_up_close(pc); /* nothing of this request is queued yet */
}

static int proxy_up_tls_start(struct proxy_conn *pc)
{
	struct proxy_server *srv = pc->srv;
	char addr[INET6_ADDRSTRLEN] = "", key[PROXY_TLS_SESS_KEY_MAX];
	const char *host = pc->req_host;
	char *err = NULL;
	SSL_CTX *ctx;
	int r = -ENOMEM;

	if (pc->flow.orig_dst.sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &pc->flow.orig_dst.in6.sin6_addr, addr, sizeof(addr));
	else
		inet_ntop(AF_INET, &pc->flow.orig_dst.in.sin_addr, addr, sizeof(addr));
	if (!host[0] && pc->ctls && pc->ctls->sni[0])
		host = pc->ctls->sni; /* no HTTP (tcp): the name the client asked for */
	if (!host[0])
		host = addr; /* no Host (HTTP/1.0): the certificate must name the address */
	memset(&pc->up_info, 0, sizeof(pc->up_info));
	snprintf(pc->up_info.sni, sizeof(pc->up_info.sni), "%s", host);
	snprintf(key, sizeof(key), "%s:%u/%s", addr, proxy_sockaddr_port(&pc->flow.orig_dst), host);
	ctx = proxy_tls_client_ctx(srv->tls, pc->tls_spec, &err);
	if (ctx && (pc->utls = calloc(1, sizeof(*pc->utls))))
		r = proxy_tls_conn_client(pc->utls, ctx, host, key, &err);
	SSL_CTX_free(ctx);
	if (r < 0) {
		snprintf(pc->up_info.verify, sizeof(pc->up_info.verify), "%s",
			 err ? err : "out of memory");
		free(pc->utls);
		pc->utls = NULL;
		free(err);
		return r;
	}
	proxy_tls_socket(pc, (uv_handle_t *)&pc->up->h);
	proxy_tls_sweep_start(srv);
	/* what the engine queued before the connection was up goes in first */
	if (pc->to_up.len) {
		if (proxy_tls_conn_queue(pc->utls, pc->to_up.buf, pc->to_up.len))
			pc->oom = true;
		pc->to_up.len = 0;
	}
	return 0;
}

/* Ciphertext from the upstream. */
static void proxy_up_tls_in(struct proxy_conn *pc, const char *p, size_t n)
{
	struct proxy_server *srv = pc->srv;
	struct proxy_tls_conn *t = pc->utls;
	bool was_hs = t->state == PROXY_TLS_HANDSHAKE;
	int r = proxy_tls_conn_feed(t, p, n);

	pc->tls_bufs = true;

	while (r >= 0 && pc->utls == t && pc->up_state == UP_CONNECTED) {
		r = proxy_tls_conn_read(t, srv->tlsbuf, sizeof(srv->tlsbuf));
		if (was_hs && t->state == PROXY_TLS_ESTABLISHED) {
			was_hs = false;
			srv->cnt.tls_upstream_handshakes++;
			srv->cnt.tls_upstream_resumed += t->resumed;
			snprintf(pc->up_info.version, sizeof(pc->up_info.version), "%s",
				 SSL_get_version(t->ssl));
			snprintf(pc->up_info.verify, sizeof(pc->up_info.verify), "ok");
		}
		if (r <= 0)
			break;
		http_conn_feed_response(&pc->http, srv->tlsbuf, (size_t)r);
	}
	if (pc->utls == t && r == -EPIPE) {
		/* close_notify: as an EOF */
		bool in_use = http_conn_phase(&pc->http) == HTTP_PH_TUNNEL ||
			      http_conn_request_pending(&pc->http);
		proxy_up_close(pc);
		if (in_use)
			http_conn_upstream_eof(&pc->http);
	} else if (pc->utls == t && r < 0) {
		srv->cnt.tls_upstream_errors++;
		srv->cnt.tls_upstream_verify_failed += t->verify_failed;
		snprintf(pc->up_info.verify, sizeof(pc->up_info.verify), "%s",
			 r == -ENOMEM ? "out of memory" : t->reason);
		/* never passed on unverified or in clear: 502 with the reason */
		proxy_up_close(pc);
		http_conn_upstream_error(&pc->http, HTTP_R_UPSTREAM_TLS);
	}
	proxy_after_event(pc);
}

/*
 * serverNames closed the connection: it shows in the access log and in
 * observe as a denied exchange with no request in it (the SNI as the host,
 * reason tls_server_name), as any other denial does.
 */
static void proxy_tls_report_refusal(struct proxy_conn *pc)
{
	const char *sni = pc->ctls->sni;
	uint64_t now = uv_hrtime();
	struct http_exchange x = {
		.start_ns = now,
		.end_ns = now,
		.method = "",
		.path = "",
		.host = sni,
		.host_len = strlen(sni),
		.http_minor = 1,
		.verdict = HTTP_VERDICT_DENIED,
		.reason = HTTP_R_TLS_SERVER_NAME,
	};

	proxy_report(pc, &x, true);
}

/* The client's TLS session failed or was refused: its alert (if any) goes
 * out, then the connection closes. */
static void proxy_client_tls_fail(struct proxy_conn *pc)
{
	struct proxy_tls_conn *t = pc->ctls;
	static const char plain400[] =
		"HTTP/1.1 400 Bad Request\r\nContent-Length: 39\r\nContent-Type: text/plain\r\n"
		"Connection: close\r\n\r\nThis port expects TLS (an https:// URL)\n";

	struct proxy_counters *k = &pc->srv->cnt;

	k->tls_handshake_errors++;
	if (t->sni_denied)
		k->tls_sni_denied++;
	else if (t->plain_http)
		k->tls_hs_plain_http++;
	else if (t->peer_untrusted)
		k->tls_hs_untrusted++;
	else
		k->tls_hs_protocol++;
	proxy_hs_unlist(pc);
	if (t->sni_denied)
		proxy_tls_report_refusal(pc);
	if (t->plain_http)
		proxy_outq_append(&pc->to_client, plain400, sizeof(plain400) - 1);
	http_conn_release(&pc->http, HTTP_R_CLIENT_CLOSED);
	proxy_progress_close(pc);
}

/* Ciphertext from the client. */
static void proxy_client_tls_in(struct proxy_conn *pc, const char *p, size_t n)
{
	struct proxy_server *srv = pc->srv;
	struct proxy_tls_conn *t = pc->ctls;
	bool was_hs = t->state == PROXY_TLS_HANDSHAKE;
	int r = proxy_tls_conn_feed(t, p, n);

	pc->tls_bufs = true;
	if (r < 0)
		pc->oom = true;
	while (r >= 0 && pc->close_state == CL_OPEN) {
		r = proxy_tls_conn_read(t, srv->tlsbuf, sizeof(srv->tlsbuf));
		if (was_hs && t->state == PROXY_TLS_ESTABLISHED) {
			was_hs = false;
			proxy_hs_unlist(pc);
			srv->cnt.tls_handshakes++;
			srv->cnt.tls_resumed += t->resumed;
			if (pc->tls_spec->tcp)
				proxy_tls_tcp_start(pc);
		}
		if (r <= 0)
			break;
		proxy_client_plain(pc, srv->tlsbuf, (size_t)r);
	}
	if (pc->close_state != CL_OPEN) {
		/* closed meanwhile */
	} else if (t->state == PROXY_TLS_SNIFFED) {
		/* serverNames without interception: the ClientHello passed,
		 * everything from here on (and it) goes through as is */
		proxy_hs_unlist(pc);
		pc->passthrough = true;
		/* the client waits for the server's answer now (see proxy_tls_seal) */
		pc->client_out_of_fastpath = true;
		proxy_tls_socket(pc, (uv_handle_t *)&pc->client);
		pc->ctls = NULL;
		http_conn_tunnel(&pc->http);
		proxy_to_upstream(pc, t->sniff, t->sniff_len);
		proxy_tls_conn_free(t);
		free(t);
	} else if (t->state == PROXY_TLS_FAILED) {
		proxy_client_tls_fail(pc);
		return;
	} else if (r == -EPIPE) {
		http_conn_client_eof(&pc->http); /* close_notify */
	}
	proxy_after_event(pc);
}


/* ---- server ------------------------------------------------------------- */

/* A connection refused before it was set up. */
static void proxy_on_early_close(uv_handle_t *h)
{
	free(h->data);
}

static void proxy_free_handle(uv_handle_t *h)
{
	free(h);
}

static void proxy_refuse(struct proxy_server *srv, uv_stream_t *ls)
{
	uv_tcp_t *h = malloc(sizeof(*h));

	srv->cnt.conns_refused++;
	if (!h)
		return;
	uv_tcp_init(srv->loop, h);
	if (uv_accept(ls, (uv_stream_t *)h) == 0 &&
	    uv_tcp_close_reset(h, proxy_free_handle) == 0)
		return;
	uv_close((uv_handle_t *)h, proxy_free_handle);
}

static void proxy_on_connection(uv_stream_t *ls, int status)
{
	struct proxy_listener *l = ls->data;
	struct proxy_server *srv = l->srv;
	union proxy_sockaddr peer, local;
	struct proxy_conn *pc;
	int len, fd = -1;

	if (status < 0 || srv->closing)
		return;
	if (srv->cnt.conns_active >= srv->cfg.max_conns) {
		proxy_refuse(srv, ls);
		return;
	}
	pc = calloc(1, sizeof(*pc));
	if (!pc) {
		proxy_refuse(srv, ls);
		return;
	}
	pc->srv = srv;
	pc->to_client.sp = pc->to_up.sp = &srv->spares;
	uv_tcp_init(srv->loop, &pc->client);
	pc->client.data = pc;
	if (uv_accept(ls, (uv_stream_t *)&pc->client) < 0) {
		uv_close((uv_handle_t *)&pc->client, proxy_on_early_close);
		return;
	}
	/*
	 * libuv accepts a whole backlog in one loop iteration and its clock
	 * stays at the iteration's start. Under a flood of connections on a
	 * slow or starved node that iteration can outlast the handshake
	 * deadline, and the next iteration runs timers before it reads: the
	 * last client accepted would be timed out before its first byte was
	 * read. Each connection's deadlines count from its own accept (a
	 * vDSO clock read per connection).
	 */
	uv_update_time(srv->loop);
	len = sizeof(peer);
	memset(&peer, 0, sizeof(peer));
	memset(&local, 0, sizeof(local));
	uv_tcp_getpeername(&pc->client, &peer.sa, &len);
	len = sizeof(local);
	uv_tcp_getsockname(&pc->client, &local.sa, &len);
	uv_fileno((uv_handle_t *)&pc->client, &fd);
	if (srv->resolver->resolve(srv->resolver, fd, l->data, &peer, &local, &pc->flow) < 0) {
		srv->cnt.conns_refused++;
		if (uv_tcp_close_reset(&pc->client, proxy_on_early_close) < 0)
			uv_close((uv_handle_t *)&pc->client, proxy_on_early_close);
		return;
	}
	if (srv->splice)
		pc->ckey_ok = proxy_splice_client_key(fd, &peer.sa, &local.sa, &pc->ckey);
	uv_timer_init(srv->loop, &pc->timer);
	pc->timer.data = pc;
	pc->handles = 2;
	pc->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = pc;
	srv->conns = pc;
	srv->cnt.conns_total++;
	srv->cnt.conns_active++;
	http_conn_init(&pc->http, &proxy_http_ops, pc);
	pc->http.heads = &srv->heads;
	if (proxy_tls_accept(pc) < 0) {
		srv->cnt.conns_refused++;
		proxy_close_all(pc);
		return;
	}
	if (!l->nodelay)
		uv_tcp_nodelay(&pc->client, 1);
	pc->last_activity_ms = uv_now(srv->loop);
	proxy_update_reading(pc);
	proxy_update_timer(pc);
}

static void proxy_on_prepare(uv_prepare_t *p)
{
	struct proxy_server *srv = p->data;

	if (srv->log_dirty) {
		proxy_log_sink_flush(srv->cfg.access_log);
		srv->log_dirty = false;
	}
}

static void proxy_on_async(uv_async_t *a)
{
	struct proxy_server *srv = a->data;
	struct proxy_rules_table *t;
	bool has;

	uv_mutex_lock(&srv->lock);
	t = srv->pending;
	has = srv->has_pending;
	srv->pending = NULL;
	srv->has_pending = false;
	uv_mutex_unlock(&srv->lock);
	if (has)
		proxy_server_set_rules(srv, t);
}

struct proxy_server *proxy_server_new(uv_loop_t *loop, const struct proxy_config *cfg,
				      struct proxy_resolver *resolver, char **err)
{
	struct proxy_server *srv = calloc(1, sizeof(*srv));

	if (!srv) {
		if (err)
			*err = strdup("out of memory");
		return NULL;
	}
	srv->loop = loop;
	srv->cfg = *cfg;
	if (!srv->cfg.buffer_cap)
		srv->cfg.buffer_cap = 64 * 1024;
	srv->resolver = resolver;
	if (!srv->cfg.tls_max_handshakes)
		srv->cfg.tls_max_handshakes = 512;
	if (!srv->cfg.tls_handshake_timeout_ms)
		srv->cfg.tls_handshake_timeout_ms = 10000;
	if (!(srv->tls = proxy_tls_store_new())) {
		free(srv);
		if (err)
			*err = strdup("out of memory");
		return NULL;
	}
	uv_mutex_init(&srv->lock);
	uv_async_init(loop, &srv->async, proxy_on_async);
	srv->async.data = srv;
	uv_unref((uv_handle_t *)&srv->async);
	uv_prepare_init(loop, &srv->prepare);
	srv->prepare.data = srv;
	if (srv->cfg.access_log) {
		uv_prepare_start(&srv->prepare, proxy_on_prepare);
		uv_unref((uv_handle_t *)&srv->prepare);
	}
	uv_timer_init(loop, &srv->tls_sweep);
	srv->tls_sweep.data = srv;
	uv_unref((uv_handle_t *)&srv->tls_sweep);
	proxy_pool_init(&srv->pool, PROXY_POOL_PER_KEY, PROXY_POOL_TOTAL);
	uv_timer_init(loop, &srv->pool_sweep);
	srv->pool_sweep.data = srv;
	uv_unref((uv_handle_t *)&srv->pool_sweep);
	uv_timer_init(loop, &srv->spl_sweep);
	srv->spl_sweep.data = srv;
	uv_unref((uv_handle_t *)&srv->spl_sweep);
	/* async, prepare, tls_sweep, pool_sweep, spl_sweep; listeners add theirs */
	srv->handles = 5;
	return srv;
}

static void proxy_on_listener_close(uv_handle_t *h)
{
	struct proxy_listener *l = h->data;
	struct proxy_server *srv = l->srv;

	free(l);
	srv->handles--;
	proxy_server_maybe_free(srv);
}

/* Takes an initialised, bound handle and starts accepting on it. */
static int proxy_listener_start(struct proxy_listener *l, struct proxy_listener **out)
{
	struct proxy_server *srv = l->srv;
	int r;

	/* Linux copies TCP_NODELAY from the listener into every socket it
	 * accepts (sk_lookup's steered ones too): one setsockopt here instead
	 * of one per connection */
	l->nodelay = uv_tcp_nodelay(&l->h, 1) == 0;
	r = uv_listen((uv_stream_t *)&l->h, 1024, proxy_on_connection);

	if (r) {
		srv->handles++;
		uv_close((uv_handle_t *)&l->h, proxy_on_listener_close);
		return r;
	}
	srv->handles++;
	l->next = srv->listeners;
	if (srv->listeners)
		srv->listeners->prev = l;
	srv->listeners = l;
	if (out)
		*out = l;
	return 0;
}

static struct proxy_listener *proxy_listener_new(struct proxy_server *srv, void *data)
{
	struct proxy_listener *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->srv = srv;
	l->data = data;
	uv_tcp_init(srv->loop, &l->h);
	l->h.data = l;
	return l;
}

int proxy_server_listen(struct proxy_server *srv, const struct sockaddr *addr)
{
	struct proxy_listener *l = proxy_listener_new(srv, NULL);
	int r;

	if (!l)
		return UV_ENOMEM;
	r = uv_tcp_bind(&l->h, addr, 0);
	if (r) {
		srv->handles++;
		uv_close((uv_handle_t *)&l->h, proxy_on_listener_close);
		return r;
	}
	return proxy_listener_start(l, NULL);
}

int proxy_server_listen_fd(struct proxy_server *srv, uv_os_sock_t fd, void *listener_data,
			   struct proxy_listener **out)
{
	struct proxy_listener *l = proxy_listener_new(srv, listener_data);
	int r;

	if (!l)
		return UV_ENOMEM;
	r = uv_tcp_open(&l->h, fd);
	if (r) {
		close(fd); /* ours from now on, also on failure */
		srv->handles++;
		uv_close((uv_handle_t *)&l->h, proxy_on_listener_close);
		return r;
	}
	return proxy_listener_start(l, out);
}

void proxy_listener_close(struct proxy_listener *l)
{
	struct proxy_server *srv = l->srv;

	if (l->prev)
		l->prev->next = l->next;
	else
		srv->listeners = l->next;
	if (l->next)
		l->next->prev = l->prev;
	uv_close((uv_handle_t *)&l->h, proxy_on_listener_close);
}

int proxy_server_address(struct proxy_server *srv, union proxy_sockaddr *out)
{
	int len = sizeof(*out);
	struct proxy_listener *l = srv->listeners;

	while (l && l->next)
		l = l->next; /* the first one added */
	if (!l)
		return UV_ENOTCONN;
	return uv_tcp_getsockname(&l->h, &out->sa, &len);
}

void proxy_server_set_rules(struct proxy_server *srv, struct proxy_rules_table *t)
{
	struct proxy_rules_table *old = srv->rules;

	/* requests are evaluated synchronously, so nothing holds the old table */
	srv->rules = t;
	proxy_rules_table_free(old);
	/* and the kernel forgets what the old one allowed */
	proxy_rq_new_epoch(srv->rq);
}

int proxy_server_publish_rules(struct proxy_server *srv, struct proxy_rules_table *t)
{
	struct proxy_rules_table *old;

	uv_mutex_lock(&srv->lock);
	old = srv->pending;
	srv->pending = t;
	srv->has_pending = true;
	uv_mutex_unlock(&srv->lock);
	proxy_rules_table_free(old); /* superseded before it was installed */
	return uv_async_send(&srv->async);
}

void proxy_server_set_splice(struct proxy_server *srv, struct proxy_splice *sp)
{
	srv->splice = sp;
}

void proxy_server_set_req_splice(struct proxy_server *srv, struct proxy_rq *rq)
{
	srv->rq = rq;
	proxy_rq_new_epoch(rq); /* the table it has now */
}

void proxy_server_set_event_cb(struct proxy_server *srv, proxy_event_cb cb, void *ctx)
{
	srv->ev_cb = cb;
	srv->ev_ctx = ctx;
}

struct proxy_tls_store *proxy_server_tls_store(struct proxy_server *srv)
{
	return srv->tls;
}

void proxy_server_counters(const struct proxy_server *srv, struct proxy_counters *out)
{
	*out = srv->cnt;
	out->upstream_idle = srv->pool.count;
}

static void proxy_server_maybe_free(struct proxy_server *srv)
{
	if (!srv->closing || srv->handles || srv->conns || srv->nups)
		return;
	proxy_log_sink_flush(srv->cfg.access_log);
	proxy_rules_table_free(srv->rules);
	proxy_rules_table_free(srv->pending);
	proxy_tls_store_free(srv->tls);
	while (srv->spares.n)
		free(srv->spares.buf[--srv->spares.n]);
	http_head_cache_clear(&srv->heads);
	uv_mutex_destroy(&srv->lock);
	/* the slots are the resolver's mapping: freed before it goes */
	proxy_rq_free(srv->rq);
	proxy_splice_free(srv->splice);
	if (srv->resolver->destroy)
		srv->resolver->destroy(srv->resolver);
	if (srv->closed_cb)
		srv->closed_cb(srv->closed_ctx);
	free(srv);
}

static void proxy_on_server_handle_close(uv_handle_t *h)
{
	struct proxy_server *srv = h->data;

	srv->handles--;
	proxy_server_maybe_free(srv);
}

void proxy_server_set_closed_cb(struct proxy_server *srv, void (*cb)(void *ctx), void *ctx)
{
	srv->closed_cb = cb;
	srv->closed_ctx = ctx;
}

static void proxy_on_drain_timeout(uv_timer_t *t)
{
	proxy_server_close(t->data);
}

void proxy_server_drain(struct proxy_server *srv, uint32_t timeout_ms)
{
	if (srv->closing || srv->draining)
		return;
	srv->draining = true;
	while (srv->listeners)
		proxy_listener_close(srv->listeners);
	uv_timer_init(srv->loop, &srv->drain_timer);
	srv->drain_timer.data = srv;
	srv->handles++;
	uv_timer_start(&srv->drain_timer, proxy_on_drain_timeout, timeout_ms, 0);
	proxy_pool_flush(srv); /* idle: closed now, as idle client connections */
	if (!srv->conns) {
		proxy_server_close(srv);
		return;
	}
	for (struct proxy_conn *pc = srv->conns, *next; pc; pc = next) {
		next = pc->next; /* pc may go away below */
		http_conn_drain(&pc->http);
		proxy_after_event(pc);
	}
}

void proxy_server_close(struct proxy_server *srv)
{
	if (srv->closing)
		return;
	srv->closing = true;
	if (srv->draining)
		uv_close((uv_handle_t *)&srv->drain_timer, proxy_on_server_handle_close);
	for (struct proxy_conn *pc = srv->conns; pc; pc = pc->next) {
		http_conn_release(&pc->http, HTTP_R_CLIENT_CLOSED);
		proxy_close_all(pc);
	}
	while (srv->listeners)
		proxy_listener_close(srv->listeners);
	uv_close((uv_handle_t *)&srv->async, proxy_on_server_handle_close);
	uv_close((uv_handle_t *)&srv->prepare, proxy_on_server_handle_close);
	uv_close((uv_handle_t *)&srv->tls_sweep, proxy_on_server_handle_close);
	proxy_pool_flush(srv);
	uv_close((uv_handle_t *)&srv->pool_sweep, proxy_on_server_handle_close);
	uv_close((uv_handle_t *)&srv->spl_sweep, proxy_on_server_handle_close);
}
