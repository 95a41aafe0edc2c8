/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flows.c - see flows.h.
 *
 * A flow is enriched when its event arrives, not when it is read: the ring
 * keeps the pod name, namespace and labels that were true at that moment,
 * so a flow still names a pod that has since been deleted.
 *
 * Streams: the CLI asks for the binary wire form (common/flow_wire.h, about
 * 70 bytes a flow, the ends' names sent once) and renders the JSON itself;
 * other clients get JSON lines (common/flow_json.c, the same renderer),
 * rendered once per flow for all of them. Each stream collects what one
 * drain of the ring buffer produced in one reused buffer and writes it at
 * the end of the drain; a client more than --observer-queue bytes behind loses
 * flows, counted (flows_lost_by_slow_observers) and, in the binary form,
 * told to the client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../common/flow_filter.h"
#include "../common/flow_json.h"
#include "../common/flow_match.h"
#include "../common/flow_wire.h"
#include "../common/util.h"
#include "api.h"
#include "flows.h"
#include "metrics.h"
#include "services.h"

/*
 * What a flow knows of one of its ends, shared by every flow of the same
 * (address, identity) since the cache was last rebuilt (peer_cache): an L7
 * request costs a lookup and a reference, not six string copies.
 */
struct peer_info {
	unsigned refs;
	uint64_t id;          /* unique for the agent's life: the wire form's peer id */
	uint32_t identity;
	uint8_t addr[16];
	char *ns, *pod;       /* NULL: not a known pod */
	char *labels;         /* JSON array text: ["k8s:app=x",...] */
	uint32_t ep_id;       /* a local pod's endpoint number (Hubble's ID), else 0 */
	char *cluster;        /* its io.cilium.k8s.policy.cluster label, or NULL */
	char *wl_kind, *wl_name; /* the pod's workload, or NULL */
};

/*
 * The policy a datapath event names by the deciding entry's rule_ref (the
 * policy's ref_id, see regenerate.c), shared by the flows it decided.
 */
struct policy_info {
	unsigned refs;
	uint32_t ref;
	const char *kind;     /* static: sluice_policy_kind_name() */
	char *ns, *name;      /* ns NULL: clusterwide */
};

/* The strings point into info (NULL when the flow has none). */
struct flow_peer {
	uint32_t identity;
	const char *ns, *pod;
	const char *labels;
	struct peer_info *info;
};

struct flow {
	uint64_t time_ns;
	uint8_t kind;         /* enum flow_kind */
	uint8_t verdict;      /* enum sluice_verdict */
	uint8_t direction;
	uint8_t protocol;
	uint8_t match_kind;
	uint8_t tcp_flags;
	bool is_reply;        /* an L7 response, a TRACE against the flow's first direction */
	uint8_t trace_point;  /* TRACE: SLUICE_TRACE_TO_* */
	uint16_t drop_reason;
	bool https;           /* L7 over TLS: the URL's scheme */
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	struct flow_peer src, dst;
	/* L7: point into strs, one allocation per flow */
	const char *method, *url, *host, *http_protocol;
	char *strs;
	uint16_t code;
	uint64_t latency_ns;
	/* the service the client went through (Hubble's destination_service) */
	char *svc_ns, *svc_name;
	uint16_t svc_port;
	uint64_t seq;         /* its number since the agent started: its uuid */
	/* the policy whose allow (or, policy_denied, deny) decided, or NULL */
	struct policy_info *policy;
	bool policy_denied;
};

/* What an observe client is sent, batched: JSON lines, or binary frames
 * whose header is filled in when the batch is written. */
struct stream {
	struct api_client *client;
	struct sl_wire_enc *wire; /* NULL: JSON lines */
	uint8_t *batch;
	size_t batch_len, batch_cap;
	uint64_t lost, lost_told;
};

struct subscriber {
	struct flows *flows; /* NULL once the pipeline stopped */
	struct sl_flow_filters *filters;
	struct stream st;
	struct subscriber *next;
};

/* a batch is written when it grows past this, even within a drain */
#define BATCH_FLUSH (1u << 20)

/*
 * Formatted labels per identity: an identity's labels never change while
 * it exists, and formatting them per event would cost more than the rest
 * of the event. The cache is dropped whenever identities may have changed.
 */
#define LABEL_CACHE 1024
#define POLICY_CACHE 256
/* peer_info per (address, identity); rebuilt with every regeneration and
 * at least once a second, so a name is never staler than that */
#define PEER_CACHE 1024
#define PEER_CACHE_MAX_AGE_NS 1000000000ull

/* The pipeline's state (a->flows); its counters are a->counters.flows_*. */
struct flows {
	struct agent *agent;
	struct flow *ring;
	size_t ring_cap, ring_head, ring_count;
	uint64_t mono_to_real;
	uint64_t uuid_boot, seq; /* the flows' uuids: a random id, then their number */
	struct subscriber *subscribers;
	struct {
		uint32_t identity;
		char *text;
	} label_cache[LABEL_CACHE];
	uint64_t label_cache_gen;
	struct peer_info *peer_cache[PEER_CACHE];
	uint64_t peer_cache_gen, peer_cache_born_ns, peer_next_id;
	/* policy_info per ref_id, dropped with every regeneration */
	struct policy_info *policy_cache[POLICY_CACHE];
	uint64_t policy_cache_gen;
	/* the JSON line of the flow being delivered, rendered once for all
	 * JSON streams (json_for: the flow it belongs to) */
	char *json;
	size_t json_len, json_cap;
	const struct flow *json_for;
};

static void peer_info_unref(struct peer_info *pi)
{
	if (!pi || --pi->refs)
		return;
	free(pi->ns);
	free(pi->pod);
	free(pi->labels);
	free(pi->cluster);
	free(pi->wl_kind);
	free(pi->wl_name);
	free(pi);
}

static void policy_info_unref(struct policy_info *pi)
{
	if (!pi || --pi->refs)
		return;
	free(pi->ns);
	free(pi->name);
	free(pi);
}

static void peer_clear(struct flow_peer *p)
{
	peer_info_unref(p->info);
	memset(p, 0, sizeof(*p));
}

static void flow_clear(struct flow *f)
{
	peer_clear(&f->src);
	peer_clear(&f->dst);
	policy_info_unref(f->policy);
	free(f->strs);
	free(f->svc_ns);
	free(f->svc_name);
	memset(f, 0, sizeof(*f));
}

/* Appends s to the buffer as a JSON string body (escaped, no quotes). */
static size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; s && *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = 0;
	return n;
}

static char *labels_text(const struct sluice_labels *l)
{
	char buf[8192];
	size_t n = 0, i;

	buf[n++] = '[';
	for (i = 0; l && i < l->n && n < sizeof(buf) - 600; i++) {
		char tmp[1100];

		snprintf(tmp, sizeof(tmp), "%s:%s%s%s", l->v[i].source, l->v[i].key,
			 l->v[i].value[0] ? "=" : "", l->v[i].value);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"", i ? "," : "");
		n += json_escape(buf + n, sizeof(buf) - n - 4, tmp);
		buf[n++] = '"';
	}
	buf[n++] = ']';
	buf[n] = 0;
	return sl_xstrdup(buf);
}

static void label_cache_clear(struct flows *fl)
{
	unsigned i;

	for (i = 0; i < LABEL_CACHE; i++) {
		free(fl->label_cache[i].text);
		fl->label_cache[i].text = NULL;
	}
}

static const char *labels_cached(struct agent *a, uint32_t identity)
{
	struct flows *fl = a->flows;
	unsigned slot = (identity * 2654435761u) % LABEL_CACHE;

	if (fl->label_cache_gen != a->counters.regenerations) {
		label_cache_clear(fl);
		fl->label_cache_gen = a->counters.regenerations;
	}
	if (!fl->label_cache[slot].text || fl->label_cache[slot].identity != identity) {
		free(fl->label_cache[slot].text);
		fl->label_cache[slot].identity = identity;
		fl->label_cache[slot].text = labels_text(sluice_idt_labels(a->reg.idt, identity));
	}
	return fl->label_cache[slot].text;
}

static void peer_cache_clear(struct flows *fl)
{
	for (unsigned i = 0; i < PEER_CACHE; i++) {
		peer_info_unref(fl->peer_cache[i]);
		fl->peer_cache[i] = NULL;
	}
}

/* Hubble's Endpoint.cluster_name: the value of the identity's cluster
 * label, found in the formatted labels; NULL when it has none (the world,
 * the host). */
static char *cluster_of(const char *labels)
{
	static const char key[] = "\"k8s:" SLUICE_LABEL_CLUSTER "=";
	const char *v = labels ? strstr(labels, key) : NULL, *end;

	if (!v)
		return NULL;
	v += sizeof(key) - 1;
	end = strchr(v, '"');
	if (!end || end == v || memchr(v, '\\', (size_t)(end - v)))
		return NULL;
	return sl_strdupf("%.*s", (int)(end - v), v);
}

static void policy_cache_clear(struct flows *fl)
{
	for (size_t i = 0; i < POLICY_CACHE; i++) {
		policy_info_unref(fl->policy_cache[i]);
		fl->policy_cache[i] = NULL;
	}
}

/*
 * The policy of a rule_ref (a reference for the caller), or NULL when no
 * policy in force has that number any more: a ref_id is never given to
 * another policy, so a late event names its own policy or none.
 */
static struct policy_info *policy_of_ref(struct agent *a, uint32_t ref)
{
	struct flows *fl = a->flows;
	struct policy_info *pi;
	size_t i;

	if (fl->policy_cache_gen != a->counters.regenerations) {
		policy_cache_clear(fl);
		fl->policy_cache_gen = a->counters.regenerations;
	}
	pi = fl->policy_cache[ref % POLICY_CACHE];
	if (!pi || pi->ref != ref) {
		const struct sluice_policy *p = NULL;

		for (i = 0; i < a->policies.n && !p; i++)
			if (a->policies.v[i].ref_id == ref)
				p = &a->policies.v[i];
		if (!p)
			return NULL;
		pi = sl_xcalloc(1, sizeof(*pi));
		pi->refs = 1; /* the cache's */
		pi->ref = ref;
		pi->kind = sluice_policy_kind_name(p->kind);
		pi->ns = p->namespace ? sl_xstrdup(p->namespace) : NULL;
		pi->name = sl_xstrdup(p->name);
		policy_info_unref(fl->policy_cache[ref % POLICY_CACHE]);
		fl->policy_cache[ref % POLICY_CACHE] = pi;
	}
	pi->refs++;
	return pi;
}

/* Enriched at event time (see the top): names of that moment, cached. */
static void peer_fill(struct agent *a, struct flow_peer *p, const uint8_t addr[16], uint32_t identity)
{
	struct flows *fl = a->flows;
	uint32_t h = identity * 2654435761u;
	struct peer_info *pi;
	/* the cache's age (1 s): the coarse clock, twice per flow */
	uint64_t now = sl_mono_coarse_ns();

	if (fl->peer_cache_gen != a->counters.regenerations ||
	    now - fl->peer_cache_born_ns > PEER_CACHE_MAX_AGE_NS) {
		peer_cache_clear(fl);
		fl->peer_cache_gen = a->counters.regenerations;
		fl->peer_cache_born_ns = now;
	}
	for (unsigned i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	pi = fl->peer_cache[h % PEER_CACHE];
	if (!pi || pi->identity != identity || memcmp(pi->addr, addr, 16)) {
		const struct agent_pod *pod = registry_pod_by_addr(&a->reg, addr, true);

		pi = sl_xcalloc(1, sizeof(*pi));
		pi->refs = 1; /* the cache's */
		pi->id = ++fl->peer_next_id;
		pi->identity = identity;
		memcpy(pi->addr, addr, 16);
		if (pod) {
			pi->ns = sl_xstrdup(pod->ns);
			pi->pod = sl_xstrdup(pod->name);
			pi->ep_id = pod->remote ? 0 : pod->ep_id;
			if (pod->workload.kind) {
				pi->wl_kind = sl_xstrdup(pod->workload.kind);
				pi->wl_name = sl_xstrdup(pod->workload.name);
			}
		}
		pi->labels = sl_xstrdup(labels_cached(a, identity));
		pi->cluster = cluster_of(pi->labels);
		peer_info_unref(fl->peer_cache[h % PEER_CACHE]);
		fl->peer_cache[h % PEER_CACHE] = pi;
	}
	pi->refs++;
	p->info = pi;
	p->identity = identity;
	p->ns = pi->ns;
	p->pod = pi->pod;
	p->labels = pi->labels;
}

/* ---- rendering ---------------------------------------------------------------- */

static void end_view(struct sl_flow_end *e, const struct flow_peer *p)
{
	e->identity = p->identity;
	e->ns = p->ns;
	e->pod = p->pod;
	e->labels = p->labels;
	if (p->info) {
		e->ep_id = p->info->ep_id;
		e->cluster = p->info->cluster;
		e->wl_kind = p->info->wl_kind;
		e->wl_name = p->info->wl_name;
	}
}

/* f as the renderers, the wire form and the filters see it */
static void flow_view(const struct flows *fl, const struct flow *f, struct sl_flow_view *v)
{
	memset(v, 0, sizeof(*v));
	v->uuid_boot = fl->uuid_boot;
	v->time_ns = f->time_ns;
	v->kind = f->kind;
	v->verdict = f->verdict;
	v->direction = f->direction;
	v->protocol = f->protocol;
	v->match_kind = f->match_kind;
	v->tcp_flags = f->tcp_flags;
	v->https = f->https;
	v->is_reply = f->is_reply;
	v->trace_point = f->trace_point;
	v->drop_reason = f->drop_reason;
	memcpy(v->saddr, f->saddr, 16);
	memcpy(v->daddr, f->daddr, 16);
	v->sport = f->sport;
	v->dport = f->dport;
	end_view(&v->src, &f->src);
	end_view(&v->dst, &f->dst);
	v->method = f->method;
	v->url = f->url;
	v->host = f->host;
	v->http_protocol = f->http_protocol;
	v->code = f->code;
	v->latency_ns = f->latency_ns;
	v->svc_ns = f->svc_ns;
	v->svc_name = f->svc_name;
	v->svc_port = f->svc_port;
	v->uuid_seq = f->seq;
	if (f->policy) {
		v->pol_kind = f->policy->kind;
		v->pol_ns = f->policy->ns;
		v->pol_name = f->policy->name;
		v->pol_denied = f->policy_denied;
	}
}

/* Names the service a client reached this backend through, if any. */
static void flow_service(struct agent *a, struct flow *f, const uint8_t client[16],
			 const uint8_t backend[16], uint16_t bport, uint32_t client_ep)
{
	const struct agent_service *s;
	const struct agent_pod *c;
	uint16_t port = 0;

	if (!client_ep) {
		c = registry_pod_by_addr(&a->reg, client, false);
		client_ep = c ? c->ep_id : 0;
	}
	if (!agent_service_for_flow(a, client_ep, backend, bport, f->protocol, &s, &port))
		return;
	f->svc_ns = sl_xstrdup(agent_service_ns(s));
	f->svc_name = sl_xstrdup(agent_service_name(s));
	f->svc_port = port;
}

/* ---- ring and subscribers ------------------------------------------------------ */

static uint8_t *batch_room(struct stream *st, size_t need)
{
	if (st->batch_len + need > st->batch_cap) {
		st->batch_cap = (st->batch_len + need) * 2;
		if (st->batch_cap < 65536)
			st->batch_cap = 65536;
		st->batch = realloc(st->batch, st->batch_cap);
		if (!st->batch)
			abort();
	}
	if (st->wire && !st->batch_len)
		st->batch_len = SL_WIRE_HEADER; /* the frame header, filled at the write */
	return st->batch + st->batch_len;
}

/* Writes the batch (one write for a whole drain); the buffer is kept. */
static void stream_flush(struct stream *st)
{
	if (!st->batch_len)
		return;
	if (st->wire)
		sl_wire_frame_header(st->batch, (uint32_t)(st->batch_len - SL_WIRE_HEADER));
	api_client_write(st->client, st->batch, st->batch_len);
	st->batch_len = 0;
	/* a burst's buffer is not kept for the quiet times after it */
	if (st->batch_cap > 4 * BATCH_FLUSH) {
		free(st->batch);
		st->batch = NULL;
		st->batch_cap = 0;
	}
}

/* The JSON line of f, rendered once however many JSON streams want it. */
static const char *flow_json_once(struct flows *fl, const struct flow *f, const struct sl_flow_view *v,
				  size_t *len)
{
	if (fl->json_for != f) {
		size_t max = sl_flow_json_max(v, fl->agent->cfg.node_name);

		if (max > fl->json_cap) {
			free(fl->json);
			fl->json_cap = max;
			fl->json = sl_xcalloc(1, max);
		}
		fl->json_len = sl_flow_json(v, fl->agent->cfg.node_name, fl->json);
		fl->json_for = f;
	}
	*len = fl->json_len;
	return fl->json;
}

/* f and its view (flow_view()) */
static void stream_put(struct flows *fl, struct stream *st, const struct flow *f, const struct sl_flow_view *v)
{
	if (st->wire) {
		uint8_t *p;

		if (st->lost != st->lost_told) {
			p = batch_room(st, SL_WIRE_LOST_SIZE);
			st->batch_len += sl_wire_put_lost(p, st->lost - st->lost_told);
			st->lost_told = st->lost;
		}
		p = batch_room(st, sl_wire_flow_max(v));
		st->batch_len += sl_wire_put_flow(st->wire, p, v, f->src.info ? f->src.info->id : 0,
						  f->dst.info ? f->dst.info->id : 0);
	} else {
		size_t len;
		const char *line = flow_json_once(fl, f, v, &len);
		uint8_t *p = batch_room(st, len + 1);

		memcpy(p, line, len);
		p[len] = '\n';
		st->batch_len += len + 1;
	}
	if (st->batch_len > BATCH_FLUSH)
		stream_flush(st);
}

static void deliver(struct flows *fl, struct flow *f)
{
	struct subscriber *s;
	struct sl_flow_view v;

	if (!fl->subscribers)
		return;
	flow_view(fl, f, &v);
	for (s = fl->subscribers; s; s = s->next) {
		if (!sl_flow_filters_match(s->filters, &v, fl->agent->cfg.node_name, NULL))
			continue;
		/* a slow reader loses flows (counted) instead of growing the agent */
		if (api_client_queued(s->st.client) > fl->agent->cfg.observer_queue) {
			s->st.lost++;
			fl->agent->counters.observer_flows_lost++;
			continue;
		}
		stream_put(fl, &s->st, f, &v);
	}
	fl->json_for = NULL; /* the slot f lives in is reused by a later flow */
}

static void flush_all(struct flows *fl)
{
	struct subscriber *s;

	for (s = fl->subscribers; s; s = s->next)
		stream_flush(&s->st);
}

static struct flow *ring_push(struct flows *fl)
{
	struct flow *f;

	if (fl->ring_count == fl->ring_cap) {
		flow_clear(&fl->ring[fl->ring_head]);
		fl->ring_head = (fl->ring_head + 1) % fl->ring_cap;
		fl->ring_count--;
	}
	f = &fl->ring[(fl->ring_head + fl->ring_count) % fl->ring_cap];
	fl->ring_count++;
	fl->agent->counters.flows_seen++;
	f->seq = ++fl->seq;
	return f;
}

/*
 * One line per enforcement point: an allowed flow that matched no rule
 * (match NONE: its direction is not enforced there) is a near-duplicate
 * when the other end is a local pod that judges the same connection. The
 * client's unenforced egress gives way to the server's ingress; the
 * server's unenforced ingress gives way to a client whose egress is
 * enforced. A flow no local policy judged at all still shows once (at the
 * destination, or at the only local end).
 */
static bool near_duplicate(struct agent *a, const struct sluice_flow_event *ev)
{
	const struct agent_pod *peer;

	if (ev->verdict == SLUICE_VERDICT_DROPPED || ev->match_kind != SLUICE_MATCH_NONE)
		return false;
	peer = registry_pod_by_addr(&a->reg, ev->direction == SLUICE_DIR_EGRESS ? ev->daddr : ev->saddr, false);
	if (!peer || peer->remote)
		return false;
	if (ev->direction == SLUICE_DIR_EGRESS)
		return true;
	return (peer->written_flags & SLUICE_EP_F_ENFORCE_EGRESS) != 0;
}

static void on_datapath_event(void *ctx, const struct sluice_flow_event *ev)
{
	struct agent *a = ctx;
	struct flow *f;
	/* the hook's side: the packet was delivered to (ingress) or sent by
	 * the endpoint, so the endpoint is its destination or its source */
	bool ingress = ev->direction == SLUICE_DIR_INGRESS;
	bool trace = ev->type == SLUICE_EVENT_TRACE;
	bool reply = trace && (ev->trace & SLUICE_TRACE_REPLY);

	if (!trace && near_duplicate(a, ev)) {
		a->counters.flows_near_duplicates++;
		return;
	}
	f = ring_push(a->flows);

	f->time_ns = ev->ts_ns + a->flows->mono_to_real;
	f->kind = trace ? FLOW_TRACE : FLOW_L3L4;
	f->verdict = ev->verdict;
	/* traffic_direction is the connection's, as in Hubble: a reply
	 * delivered to the pod belongs to a connection the pod made (egress) */
	f->direction = reply ? ev->direction ^ 1 : ev->direction;
	f->is_reply = reply;
	f->trace_point = trace ? ev->trace & SLUICE_TRACE_POINT_MASK : 0;
	f->protocol = ev->protocol;
	f->match_kind = ev->match_kind;
	f->tcp_flags = ev->tcp_flags;
	f->drop_reason = ev->drop_reason;
	memcpy(f->saddr, ev->saddr, 16);
	memcpy(f->daddr, ev->daddr, 16);
	f->sport = ev->sport;
	f->dport = ev->dport;
	peer_fill(a, &f->src, ev->saddr, ingress ? ev->peer_identity : ev->ep_identity);
	peer_fill(a, &f->dst, ev->daddr, ingress ? ev->ep_identity : ev->peer_identity);
	/* a reply goes back from the service's backend: no destination service */
	if (!reply && ev->protocol != IPPROTO_ICMP)
		flow_service(a, f, ev->saddr, ev->daddr, ev->dport, ingress ? 0 : ev->ep_id);
	/* which policy's allow let it through, or whose deny dropped it */
	if (ev->rule_ref && (ev->type == SLUICE_EVENT_POLICY_VERDICT ||
			     (ev->type == SLUICE_EVENT_DROP && ev->drop_reason == SLUICE_DROP_POLICY_DENY))) {
		f->policy = policy_of_ref(a, ev->rule_ref);
		f->policy_denied = ev->type == SLUICE_EVENT_DROP;
	}
	a->counters.flows_by_kind_verdict[f->kind][ev->verdict & 3]++;
	if (ev->verdict == SLUICE_VERDICT_DROPPED)
		a->counters.drops_by_reason_dir[ev->drop_reason & 0xff][ev->direction & 1]++;
	{
		struct hubble_flow_facts hf = {
			.protocol = f->protocol, .verdict = f->verdict, .drop_reason = f->drop_reason,
			.direction = f->direction, .match_kind = f->match_kind, .tcp_flags = f->tcp_flags,
			.ipv4 = sl_addr_is_ipv4(ev->saddr), .src_identity = f->src.identity,
			.dst_identity = f->dst.identity, .dport = f->dport, .reply = f->is_reply,
			/* an ICMP flow's ports are its type and code */
			.icmp_type = (uint8_t)f->sport, .icmp_code = (uint8_t)f->dport,
		};

		sl_flow_event_type(trace ? SL_FLOW_TRACE : SL_FLOW_L3L4, f->verdict, f->trace_point, f->drop_reason,
				   &hf.type, &hf.sub_type);
		metrics_flow(a, &hf);
	}
	deliver(a->flows, f);
}

int flows_drain_datapath(struct agent *a)
{
	int n = sluice_dp_events_drain(a->dp, on_datapath_event, a);

	flush_all(a->flows);
	return n;
}

void flows_add_l7(struct agent *a, const struct flow_l7 *ev)
{
	struct flow *f = ring_push(a->flows);
	bool resp = ev->kind == FLOW_L7_RESPONSE;

	/* as Hubble: a request is judged (forwarded or dropped); its response,
	 * the server's or the proxy's own 403, is forwarded back to the client */
	f->verdict = resp || ev->allowed ? SLUICE_VERDICT_FORWARDED : SLUICE_VERDICT_DROPPED;
	f->time_ns = ev->time_ns + (resp ? ev->latency_ns : 0);
	f->kind = ev->kind;
	f->direction = ev->direction;
	f->protocol = 6;
	f->is_reply = resp;
	/* a reply goes from the server to the client */
	memcpy(f->saddr, resp ? ev->daddr : ev->saddr, 16);
	memcpy(f->daddr, resp ? ev->saddr : ev->daddr, 16);
	f->sport = resp ? ev->dport : ev->sport;
	f->dport = resp ? ev->sport : ev->dport;
	f->https = ev->https;
	{
		/* one allocation for the four strings */
		const char *src[4] = { ev->method, ev->url, ev->host,
				       ev->protocol ? ev->protocol : "HTTP/1.1" };
		const char **dst[4] = { &f->method, &f->url, &f->host, &f->http_protocol };
		size_t len[4], total = 0, off = 0;

		for (int i = 0; i < 4; i++) {
			len[i] = src[i] ? strlen(src[i]) + 1 : 0;
			total += len[i];
		}
		f->strs = malloc(total);
		if (!f->strs)
			abort();
		for (int i = 0; i < 4; i++) {
			if (!src[i])
				continue;
			memcpy(f->strs + off, src[i], len[i]);
			*dst[i] = f->strs + off;
			off += len[i];
		}
	}
	f->code = resp ? ev->code : 0;
	f->latency_ns = resp ? ev->latency_ns : 0;
	if (resp) {
		peer_fill(a, &f->src, ev->daddr, ev->dst_identity);
		peer_fill(a, &f->dst, ev->saddr, ev->src_identity);
	} else {
		peer_fill(a, &f->src, ev->saddr, ev->src_identity);
		peer_fill(a, &f->dst, ev->daddr, ev->dst_identity);
	}
	/* the request's client and backend, whichever way this record points */
	flow_service(a, f, ev->saddr, ev->daddr, ev->dport, 0);
	a->counters.flows_by_kind_verdict[ev->kind & 3][f->verdict & 3]++;
	if (resp)
		metrics_http_observe(a, ev->method, ev->code, ev->allowed, (double)ev->latency_ns / 1e9);
	{
		struct hubble_flow_facts hf = {
			.type = 129, .protocol = 6, .verdict = f->verdict, .direction = f->direction,
			.ipv4 = sl_addr_is_ipv4(ev->saddr), .src_identity = f->src.identity,
			.dst_identity = f->dst.identity, .response = resp, .method = f->method,
			.http_protocol = f->http_protocol, .code = f->code, .latency_ns = f->latency_ns,
			.dport = f->dport, .reply = resp,
		};

		metrics_flow(a, &hf);
	}
	deliver(a->flows, f);
}

void flows_flush(struct agent *a)
{
	flush_all(a->flows);
}

/* ---- API: observe ---------------------------------------------------------------- */

static void stream_free(struct stream *st)
{
	free(st->wire);
	free(st->batch);
}

static void subscriber_closed(void *ctx)
{
	struct subscriber **pp, *s = ctx;

	for (pp = s->flows ? &s->flows->subscribers : NULL; pp && *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	sl_flow_filters_free(s->filters);
	stream_free(&s->st);
	free(s);
}

json_t *flows_cmd_observe(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	struct flows *fl = a->flows;
	struct sl_flow_filters *fs;
	size_t i, start, matched = 0;
	bool follow = json_is_true(json_object_get(req, "follow"));
	json_int_t last = json_integer_value(json_object_get(req, "last"));
	uint64_t since = (uint64_t)json_integer_value(json_object_get(req, "since_ns"));
	uint64_t until = (uint64_t)json_integer_value(json_object_get(req, "until_ns"));
	json_int_t first = json_integer_value(json_object_get(req, "first"));
	bool has_first = json_object_get(req, "first") != NULL;
	const char *wire = json_string_value(json_object_get(req, "wire"));
	struct stream st = { .client = c };
	size_t *idx;

	if (json_object_get(req, "wire") && (!wire || (strcmp(wire, "binary") && strcmp(wire, "json")))) {
		sl_fail(err, EINVAL, "unknown wire form (binary or json)");
		return NULL;
	}
	if (has_first && (follow || json_object_get(req, "last") || first < 0)) {
		sl_fail(err, EINVAL, "first: a number of flows, not with last or follow");
		return NULL;
	}
	if (until && follow) {
		sl_fail(err, EINVAL, "until: not with follow");
		return NULL;
	}
	fs = sl_flow_filters_parse(req, err);
	if (!fs)
		return NULL;
	if (wire && !strcmp(wire, "binary")) {
		const char *node = a->cfg.node_name;

		st.wire = sl_xcalloc(1, sizeof(*st.wire));
		st.batch_len += sl_wire_put_node(batch_room(&st, sl_wire_node_max(node)), node, fl->uuid_boot);
	}
	/* without --last, --first or a time window: the last 20 (new flows
	 * only when following) */
	if (!json_object_get(req, "last") && !since && !until && !has_first)
		last = follow ? 0 : 20;
	if (json_object_get(req, "last") && last < 0)
		last = 0;
	/* the history part: matching flows, newest `last` of them */
	idx = sl_xcalloc(fl->ring_count + 1, sizeof(*idx));
	for (i = 0; i < fl->ring_count; i++) {
		struct flow *f = &fl->ring[(fl->ring_head + i) % fl->ring_cap];

		struct sl_flow_view v;

		if ((since && f->time_ns < since) || (until && f->time_ns > until))
			continue;
		flow_view(fl, f, &v);
		if (sl_flow_filters_match(fs, &v, a->cfg.node_name, NULL))
			idx[matched++] = (fl->ring_head + i) % fl->ring_cap;
	}
	start = last && (size_t)last < matched ? matched - (size_t)last : 0;
	if (!last && !since && !until && !has_first)
		start = matched; /* follow without --last: new flows only */
	if (has_first && (size_t)first < matched)
		matched = (size_t)first; /* the oldest ones */
	for (i = start; i < matched; i++) {
		struct sl_flow_view v;

		flow_view(fl, &fl->ring[idx[i]], &v);
		stream_put(fl, &st, &fl->ring[idx[i]], &v);
		fl->json_for = NULL;
	}
	free(idx);
	/* before the answer (non-follow) or the first live flow */
	stream_flush(&st);
	if (!follow) {
		sl_flow_filters_free(fs);
		stream_free(&st);
		return json_pack("{s:b,s:b}", "ok", 1, "end", 1);
	}
	{
		struct subscriber *s = sl_xcalloc(1, sizeof(*s));

		s->flows = fl;
		s->st = st;
		s->filters = fs;
		s->next = fl->subscribers;
		fl->subscribers = s;
		api_client_stream(c, s, subscriber_closed);
		/* a burst goes to the socket in one write instead of queueing in
		 * the agent; a quarter of what the client may fall behind, so
		 * the queue bound still decides (--observer-queue) */
		api_client_sndbuf(c, (int)(a->cfg.observer_queue / 4 < (4u << 20) ? a->cfg.observer_queue / 4
										   : (4u << 20)));
	}
	return API_STREAMING;
}

void flows_status(struct agent *a, json_t *status)
{
	/* the datapath counters were just read for the status: reuse them */
	json_t *lost = json_object_get(json_object_get(status, "datapath"), "events_lost");

	json_object_set_new(status, "flows_buffered",
			    json_integer((json_int_t)(a->flows ? a->flows->ring_count : 0)));
	json_object_set_new(status, "flows_seen", json_integer((json_int_t)a->counters.flows_seen));
	json_object_set_new(status, "events_lost", json_integer(lost ? json_integer_value(lost) : 0));
	json_object_set_new(status, "flows_lost_by_slow_observers",
			    json_integer((json_int_t)a->counters.observer_flows_lost));
	json_object_set_new(status, "flows_near_duplicates_skipped",
			    json_integer((json_int_t)a->counters.flows_near_duplicates));
}

int flows_init(struct agent *a, char **err)
{
	struct flows *fl = sl_xcalloc(1, sizeof(*fl));

	(void)err;
	fl->agent = a;
	fl->ring_cap = a->cfg.flow_buffer;
	fl->ring = sl_xcalloc(fl->ring_cap, sizeof(*fl->ring));
	fl->mono_to_real = sl_now_ns() - sl_mono_ns();
	fl->label_cache_gen = (uint64_t)-1;
	/* a new id per start, so a uuid is never given twice */
	if (getrandom(&fl->uuid_boot, sizeof(fl->uuid_boot), 0) != sizeof(fl->uuid_boot))
		fl->uuid_boot = sl_now_ns() ^ ((uint64_t)getpid() << 32);
	a->flows = fl;
	return 0;
}

void flows_stop(struct agent *a)
{
	struct flows *fl = a->flows;
	struct subscriber *s;
	size_t i;

	if (!fl)
		return;
	/* streams still open end with their clients, after this */
	for (s = fl->subscribers; s; s = s->next)
		s->flows = NULL;
	for (i = 0; i < fl->ring_count; i++)
		flow_clear(&fl->ring[(fl->ring_head + i) % fl->ring_cap]);
	free(fl->ring);
	label_cache_clear(fl);
	peer_cache_clear(fl);
	policy_cache_clear(fl);
	free(fl->json);
	free(fl);
	a->flows = NULL;
}
