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
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../common/flow_filter.h"
#include "../common/flow_json.h"
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

/* ---- filters ------------------------------------------------------------- */

/*
 * Hubble's FlowFilter (flow.proto), which the CLI builds from the flags as
 * `hubble observe` does (cli/observe_filter.c), or takes as raw JSON:
 * inside one FlowFilter every field given must match, and a field matches
 * when one of its values does. A flow is shown when no allowlist was given
 * or one of its FlowFilters matches, and none of the denylist's does.
 */
enum filter_field {
	F_SOURCE_IP, F_DESTINATION_IP, F_SOURCE_POD, F_DESTINATION_POD, F_SOURCE_LABEL,
	F_DESTINATION_LABEL, F_SOURCE_SERVICE, F_DESTINATION_SERVICE, F_SOURCE_IDENTITY,
	F_DESTINATION_IDENTITY, F_SOURCE_PORT, F_DESTINATION_PORT, F_SOURCE_FQDN, F_DESTINATION_FQDN,
	F_VERDICT, F_EVENT_TYPE, F_HTTP_STATUS_CODE, F_HTTP_METHOD, F_HTTP_PATH, F_HTTP_URL,
	F_PROTOCOL, F_TCP_FLAGS, F_NODE_NAME, F_TRAFFIC_DIRECTION, F_DROP_REASON_DESC, F_IP_VERSION,
	F_UUID, F_SOURCE_WORKLOAD, F_DESTINATION_WORKLOAD, F_MAX,
};

static const char *const filter_names[F_MAX] = {
	"source_ip", "destination_ip", "source_pod", "destination_pod", "source_label",
	"destination_label", "source_service", "destination_service", "source_identity",
	"destination_identity", "source_port", "destination_port", "source_fqdn", "destination_fqdn",
	"verdict", "event_type", "http_status_code", "http_method", "http_path", "http_url",
	"protocol", "tcp_flags", "node_name", "traffic_direction", "drop_reason_desc", "ip_version",
	"uuid", "source_workload", "destination_workload",
};

/* One value of one field. */
struct filter {
	enum filter_field field;
	char *value;       /* strings; pods and services: the name prefix */
	char *ns;          /* pods and services: the namespace */
	pcre2_code *re;    /* http_path, http_url */
	pcre2_match_data *md;
	uint8_t net[16];   /* source_ip, destination_ip */
	unsigned plen;     /* their prefix length; tcp_flags: the mask */
	/* identities, ports, a status code (or its class, cls set), an event
	 * type (sub: its sub-type when match_sub): parsed once here, not for
	 * every flow the filter looks at */
	unsigned long num, sub;
	bool cls, match_sub;
	const char *node;  /* node_name: this agent's node name */
	struct label_sel *sel; /* source_label, destination_label */
};

/* One FlowFilter: its values, those of one field next to each other. */
struct flow_filter {
	struct filter *v;
	size_t n;
};

struct filter_set {
	struct flow_filter *allow, *deny;
	size_t nallow, ndeny;
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
	struct filter_set filters;
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
	uint64_t now = sl_mono_ns();

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

/* ---- matching -------------------------------------------------------------- */

/* Hubble's namespaced-name filter: the namespace, and a prefix of the name
 * ("" for any); an end that is no pod (the world, the host) has no name. */
static bool name_matches(const char *ns, const char *name, const struct filter *fl)
{
	if (!ns || !name)
		return false;
	return !strcmp(ns, fl->ns) && !strncmp(name, fl->value, strlen(fl->value));
}

/*
 * A label selector as Kubernetes writes them, parsed once per filter:
 * requirements separated by commas outside parentheses, all of which must
 * hold: "key", "!key", "key=value" ("=="), "key!=value", "key in (a,b)",
 * "key notin (a,b)". A key may name its source ("k8s:app"); without one
 * (or with "any:") any source matches, as in Hubble.
 */
enum label_op { L_EXISTS, L_NOT_EXISTS, L_EQ, L_NE, L_IN, L_NOTIN };

struct label_req {
	enum label_op op;
	char *key;    /* "src:key" when has_source, else "key" */
	bool has_source;
	char *values; /* ",a,b," (blanks dropped) */
};

struct label_sel {
	struct label_req *v;
	size_t n;
};

static void label_sel_free(struct label_sel *s)
{
	for (size_t i = 0; s && i < s->n; i++) {
		free(s->v[i].key);
		free(s->v[i].values);
	}
	if (s)
		free(s->v);
	free(s);
}

/* one requirement of text[0..len), or false when it is not one */
static bool label_req_parse(const char *text, size_t len, struct label_req *out)
{
	char r[512], key[520], vals[520] = "";
	const char *p;
	size_t kl;

	while (len && *text == ' ') {
		text++;
		len--;
	}
	while (len && text[len - 1] == ' ')
		len--;
	if (!len || len >= sizeof(r))
		return false;
	memcpy(r, text, len);
	r[len] = 0;
	out->op = L_EXISTS;
	if (r[0] == '!') {
		out->op = L_NOT_EXISTS;
		snprintf(key, sizeof(key), "%s", r + 1);
	} else if ((p = strstr(r, " notin ")) || (p = strstr(r, " in "))) {
		const char *open = strchr(p, '('), *close = strrchr(p, ')');

		out->op = p[1] == 'n' ? L_NOTIN : L_IN;
		snprintf(key, sizeof(key), "%.*s", (int)(p - r), r);
		if (!open || !close || close < open)
			return false;
		snprintf(vals, sizeof(vals), ",%.*s,", (int)(close - open - 1), open + 1);
	} else if ((p = strstr(r, "!="))) {
		out->op = L_NE;
		snprintf(key, sizeof(key), "%.*s", (int)(p - r), r);
		snprintf(vals, sizeof(vals), ",%s,", p + 2);
	} else if ((p = strchr(r, '='))) {
		out->op = L_EQ;
		snprintf(key, sizeof(key), "%.*s", (int)(p - r), r);
		snprintf(vals, sizeof(vals), ",%s,", p + (p[1] == '=' ? 2 : 1));
	} else {
		snprintf(key, sizeof(key), "%s", r);
	}
	/* drop blanks inside the value list: "(a, b)" */
	for (char *w = vals, *q = vals;; q++) {
		if (*q != ' ')
			*w++ = *q;
		if (!*q)
			break;
	}
	kl = strlen(key);
	while (kl && key[kl - 1] == ' ')
		key[--kl] = 0;
	if (!strncmp(key, "any:", 4))
		memmove(key, key + 4, strlen(key + 4) + 1);
	if (!*key)
		return false;
	out->key = sl_xstrdup(key);
	out->has_source = strchr(key, ':') != NULL;
	out->values = sl_xstrdup(vals);
	return true;
}

static struct label_sel *label_sel_parse(const char *sel)
{
	struct label_sel *s = sl_xcalloc(1, sizeof(*s));
	const char *start = sel;
	int depth = 0;

	for (const char *c = sel;; c++) {
		if (*c == '(')
			depth++;
		else if (*c == ')')
			depth--;
		else if ((*c == ',' && depth <= 0) || !*c) {
			if (c > start) {
				s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
				if (!s->v)
					abort();
				memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
				if (!label_req_parse(start, (size_t)(c - start), &s->v[s->n])) {
					label_sel_free(s);
					return NULL;
				}
				s->n++;
			}
			if (!*c)
				return s;
			start = c + 1;
		}
	}
}

/* The labels of an end, one at a time: its text is the JSON array
 * ["k8s:app=x",...] (labels_text()). Returns the position after the label
 * copied into buf, NULL when none is left. */
static const char *next_label(const char *p, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = 0;
	if (!p || !(p = strchr(p, '"')))
		return NULL;
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		if (n + 1 < cap)
			buf[n++] = *p;
	}
	buf[n] = 0;
	return *p ? p + 1 : p;
}

static bool label_req_matches(const char *labels, const struct label_req *q)
{
	char lbl[1100], v[1100];
	const char *p;
	bool found = false, hit = false;
	size_t klen = strlen(q->key);

	for (p = labels; (p = next_label(p, lbl, sizeof(lbl))) && lbl[0];) {
		const char *k = q->has_source ? lbl : strchr(lbl, ':');
		const char *eq;

		if (!k)
			continue;
		if (!q->has_source)
			k++;
		eq = strchr(k, '=');
		if ((eq ? (size_t)(eq - k) : strlen(k)) != klen || strncmp(k, q->key, klen))
			continue;
		found = true;
		snprintf(v, sizeof(v), ",%s,", eq ? eq + 1 : "");
		if (strstr(q->values, v))
			hit = true;
	}
	switch (q->op) {
	case L_EXISTS: return found;
	case L_NOT_EXISTS: return !found;
	case L_EQ:
	case L_IN: return hit;
	case L_NE:
	case L_NOTIN: return !hit;
	}
	return false;
}

static bool label_matches(const struct flow_peer *p, const struct label_sel *sel)
{
	if (!p->labels || !sel)
		return false;
	for (size_t i = 0; i < sel->n; i++)
		if (!label_req_matches(p->labels, &sel->v[i]))
			return false;
	return true;
}

static bool filter_one(const struct filter *fl, const struct flow *f)
{
	const char *v = fl->value;

	switch (fl->field) {
	case F_SOURCE_IP: return sl_flow_ip_in(f->saddr, fl->net, fl->plen);
	case F_DESTINATION_IP: return sl_flow_ip_in(f->daddr, fl->net, fl->plen);
	case F_SOURCE_POD: return name_matches(f->src.ns, f->src.pod, fl);
	case F_DESTINATION_POD: return name_matches(f->dst.ns, f->dst.pod, fl);
	case F_SOURCE_LABEL: return label_matches(&f->src, fl->sel);
	case F_DESTINATION_LABEL: return label_matches(&f->dst, fl->sel);
	case F_SOURCE_SERVICE: return false; /* a flow's source is never a service here */
	case F_DESTINATION_SERVICE: return name_matches(f->svc_ns, f->svc_name, fl);
	case F_SOURCE_IDENTITY: return f->src.identity == fl->num;
	case F_DESTINATION_IDENTITY: return f->dst.identity == fl->num;
	/* ports are TCP's, UDP's and SCTP's (an ICMP flow's are its type and code) */
	case F_SOURCE_PORT: return f->protocol != 1 && f->sport == fl->num;
	case F_DESTINATION_PORT: return f->protocol != 1 && f->dport == fl->num;
	case F_SOURCE_FQDN:
	case F_DESTINATION_FQDN:
		return false; /* sluice has no DNS proxy: no flow carries names */
	case F_VERDICT: return !strcasecmp(v, sl_flow_verdict_name(f->verdict));
	case F_EVENT_TYPE: {
		unsigned type, sub;

		sl_flow_event_type(f->kind, f->verdict, f->trace_point, f->drop_reason, &type, &sub);
		return type == fl->num && (!fl->match_sub || sub == fl->sub);
	}
	case F_TCP_FLAGS:
		return !sl_flow_kind_is_l7(f->kind) && f->protocol == 6 && (f->tcp_flags & fl->plen) == fl->plen;
	case F_TRAFFIC_DIRECTION:
		return f->direction == (strcasecmp(v, "INGRESS") ? SLUICE_DIR_EGRESS : SLUICE_DIR_INGRESS);
	case F_PROTOCOL:
		if (!strcasecmp(v, "http"))
			return sl_flow_kind_is_l7(f->kind);
		if (!strcasecmp(v, "icmp") || !strcasecmp(v, "icmpv4"))
			return f->protocol == 1;
		return !strcasecmp(v, sl_flow_proto_name(f->protocol)) && !sl_flow_kind_is_l7(f->kind);
	case F_HTTP_METHOD: return f->method && !strcasecmp(f->method, v);
	case F_HTTP_PATH:
		return f->url && fl->re &&
		       pcre2_match(fl->re, (PCRE2_SPTR)f->url, strlen(f->url), 0, 0, fl->md, NULL) >= 0;
	case F_HTTP_URL: {
		/* l7.http.url as the JSON has it: scheme, Host (else the
		 * server's address), path */
		char u[2400], addr[INET6_ADDRSTRLEN];
		int n;

		if (!f->url || !fl->re)
			return false;
		if (!f->host || !*f->host)
			sl_flow_addr(f->kind == FLOW_L7_RESPONSE ? f->saddr : f->daddr, addr);
		n = snprintf(u, sizeof(u), "%s://%.256s%.2000s", f->https ? "https" : "http",
			     f->host && *f->host ? f->host : addr, f->url);
		return n > 0 && pcre2_match(fl->re, (PCRE2_SPTR)u, strlen(u), 0, 0, fl->md, NULL) >= 0;
	}
	case F_NODE_NAME: /* Hubble's glob, "node" or "cluster/node" */
		return sl_flow_node_matches(v, fl->node);
	case F_DROP_REASON_DESC:
		return f->verdict == SLUICE_VERDICT_DROPPED && !sl_flow_kind_is_l7(f->kind) &&
		       !strcasecmp(v, sl_flow_drop_reason_name(f->drop_reason));
	case F_IP_VERSION: { /* every flow here is IP: v4 or v6 by its address */
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		bool v4 = !memcmp(f->saddr, mapped, sizeof(mapped));

		return !strcasecmp(v, v4 ? "IPv4" : "IPv6");
	}
	case F_UUID: return fl->num && f->seq == fl->num; /* parsed: this agent's flow number */
	case F_SOURCE_WORKLOAD:
	case F_DESTINATION_WORKLOAD: { /* Hubble's: the kind and the name, each if given */
		const struct peer_info *pi = (fl->field == F_SOURCE_WORKLOAD ? &f->src : &f->dst)->info;

		return pi && pi->wl_kind && (!fl->value || !strcmp(fl->value, pi->wl_name)) &&
		       (!fl->ns || !strcmp(fl->ns, pi->wl_kind));
	}
	case F_HTTP_STATUS_CODE: /* "404", or a class such as "4+" / "4xx" */
		return f->code && (fl->cls ? f->code / 100 == fl->num : f->code == fl->num);
	case F_MAX:
		break;
	}
	return false;
}

/* Every field of the FlowFilter holds for one of its values. */
static bool flow_filter_matches(const struct flow_filter *ff, const struct flow *f)
{
	size_t i = 0;

	while (i < ff->n) {
		enum filter_field field = ff->v[i].field;
		bool hit = false;

		for (; i < ff->n && ff->v[i].field == field; i++)
			hit = hit || filter_one(&ff->v[i], f);
		if (!hit)
			return false;
	}
	return true;
}

static bool flow_matches(const struct filter_set *fs, const struct flow *f)
{
	size_t i;
	bool allowed = !fs->nallow;

	for (i = 0; i < fs->nallow && !allowed; i++)
		allowed = flow_filter_matches(&fs->allow[i], f);
	if (!allowed)
		return false;
	for (i = 0; i < fs->ndeny; i++)
		if (flow_filter_matches(&fs->deny[i], f))
			return false;
	return true;
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

static void flow_view(const struct flow *f, struct sl_flow_view *v)
{
	memset(v, 0, sizeof(*v));
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
static const char *flow_json_once(struct flows *fl, const struct flow *f, size_t *len)
{
	if (fl->json_for != f) {
		struct sl_flow_view v;
		size_t max;

		flow_view(f, &v);
		v.uuid_boot = fl->uuid_boot;
		max = sl_flow_json_max(&v, fl->agent->cfg.node_name);
		if (max > fl->json_cap) {
			free(fl->json);
			fl->json_cap = max;
			fl->json = sl_xcalloc(1, max);
		}
		fl->json_len = sl_flow_json(&v, fl->agent->cfg.node_name, fl->json);
		fl->json_for = f;
	}
	*len = fl->json_len;
	return fl->json;
}

static void stream_put(struct flows *fl, struct stream *st, const struct flow *f)
{
	if (st->wire) {
		struct sl_flow_view v;
		uint8_t *p;

		flow_view(f, &v);
		if (st->lost != st->lost_told) {
			p = batch_room(st, SL_WIRE_LOST_SIZE);
			st->batch_len += sl_wire_put_lost(p, st->lost - st->lost_told);
			st->lost_told = st->lost;
		}
		p = batch_room(st, sl_wire_flow_max(&v));
		st->batch_len += sl_wire_put_flow(st->wire, p, &v, f->src.info ? f->src.info->id : 0,
						  f->dst.info ? f->dst.info->id : 0);
	} else {
		size_t len;
		const char *line = flow_json_once(fl, f, &len);
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

	for (s = fl->subscribers; s; s = s->next) {
		if (!flow_matches(&s->filters, f))
			continue;
		/* a slow reader loses flows (counted) instead of growing the agent */
		if (api_client_queued(s->st.client) > fl->agent->cfg.observer_queue) {
			s->st.lost++;
			fl->agent->counters.observer_flows_lost++;
			continue;
		}
		stream_put(fl, &s->st, f);
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
	deliver(a->flows, f);
}

void flows_flush(struct agent *a)
{
	flush_all(a->flows);
}

/* ---- API: observe ---------------------------------------------------------------- */

static void filters_free(struct filter_set *fs)
{
	struct flow_filter *lists[2] = { fs->allow, fs->deny };
	size_t counts[2] = { fs->nallow, fs->ndeny };

	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < counts[l]; i++) {
			for (size_t j = 0; j < lists[l][i].n; j++) {
				struct filter *fl = &lists[l][i].v[j];

				free(fl->value);
				free(fl->ns);
				label_sel_free(fl->sel);
				if (fl->re)
					pcre2_code_free(fl->re);
				pcre2_match_data_free(fl->md);
			}
			free(lists[l][i].v);
		}
		free(lists[l]);
	}
	memset(fs, 0, sizeof(*fs));
}

/* Enum fields may come as their names or their numbers (protojson takes
 * both). */
static const char *enum_name(json_t *v, const char *const *names, size_t n)
{
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 && (size_t)json_integer_value(v) < n
			       ? names[json_integer_value(v)]
			       : NULL;
	for (size_t i = 0; json_is_string(v) && i < n; i++)
		if (names[i] && !strcasecmp(json_string_value(v), names[i]))
			return names[i];
	return NULL;
}

static const char *const verdict_names[] = { "VERDICT_UNKNOWN", "FORWARDED", "DROPPED", "ERROR",
					     "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED" };
static const char *const direction_names[] = { "TRAFFIC_DIRECTION_UNKNOWN", "INGRESS", "EGRESS" };
static const char *const ip_version_names[] = { "IP_NOT_USED", "IPv4", "IPv6" };

/* One value of a FlowFilter field into fl; 0, or -EINVAL with *err. */
static int filter_value(enum filter_field field, json_t *v, const char *node, uint64_t boot,
			struct filter *fl, char **err)
{
	const char *name = filter_names[field], *s = json_string_value(v), *why;

	fl->field = field;
	switch (field) {
	case F_SOURCE_IDENTITY:
	case F_DESTINATION_IDENTITY:
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffLL)
			return sl_fail(err, EINVAL, "%s: want identity numbers", name);
		fl->num = (unsigned long)json_integer_value(v);
		return 0;
	case F_EVENT_TYPE: {
		json_t *t = json_object_get(v, "type"), *st = json_object_get(v, "sub_type");

		if (!json_is_object(v) || !json_is_integer(t) || (st && !json_is_integer(st)))
			return sl_fail(err, EINVAL, "event_type: want {\"type\": N, \"match_sub_type\": B, \"sub_type\": N}");
		fl->num = (unsigned long)json_integer_value(t);
		fl->match_sub = json_is_true(json_object_get(v, "match_sub_type"));
		fl->sub = st ? (unsigned long)json_integer_value(st) : 0;
		return 0;
	}
	case F_TCP_FLAGS: {
		const char *k;
		json_t *b;

		if (!json_is_object(v))
			return sl_fail(err, EINVAL, "tcp_flags: want objects such as {\"SYN\": true}");
		json_object_foreach(v, k, b) {
			size_t i;

			for (i = 0; i < 8 && strcmp(k, sl_flow_tcp_flag_names[i]); i++)
				;
			if (i == 8 && strcmp(k, "NS"))
				return sl_fail(err, EINVAL, "tcp_flags: unknown flag %s", k);
			if (json_is_true(b))
				fl->plen |= 1u << i; /* NS (bit 8) is never set on a flow here */
		}
		return 0;
	}
	case F_SOURCE_WORKLOAD:
	case F_DESTINATION_WORKLOAD: {
		json_t *k = json_object_get(v, "kind"), *n = json_object_get(v, "name");

		if (!json_is_object(v) || (k && !json_is_string(k)) || (n && !json_is_string(n)))
			return sl_fail(err, EINVAL, "%s: want objects such as {\"kind\": \"Deployment\", \"name\": \"web\"}", name);
		/* an empty kind or name matches any, as a missing one */
		if (json_string_length(n))
			fl->value = sl_xstrdup(json_string_value(n));
		if (json_string_length(k))
			fl->ns = sl_xstrdup(json_string_value(k));
		return 0;
	}
	case F_VERDICT:
	case F_TRAFFIC_DIRECTION:
	case F_IP_VERSION: {
		const char *e = field == F_VERDICT ? enum_name(v, verdict_names, 8)
				: field == F_TRAFFIC_DIRECTION ? enum_name(v, direction_names, 3)
							       : enum_name(v, ip_version_names, 3);

		if (!e)
			return sl_fail(err, EINVAL, "invalid %s value", name);
		fl->value = sl_xstrdup(e);
		return 0;
	}
	default:
		break;
	}
	if (!s || !*s) {
		/* "" is how --namespace NS reads without a pod name: "NS/" */
		if (!(s && (field == F_SOURCE_POD || field == F_DESTINATION_POD)))
			return sl_fail(err, EINVAL, "%s: want non-empty strings", name);
	}
	/* the CLI's checks, by the flag's name */
	why = field == F_SOURCE_IP || field == F_DESTINATION_IP ? sl_flow_filter_check("ip", s)
	      : field == F_SOURCE_PORT || field == F_DESTINATION_PORT ? sl_flow_filter_check("port", s)
	      : field == F_PROTOCOL ? sl_flow_filter_check("protocol", s)
	      : field == F_HTTP_STATUS_CODE ? sl_flow_filter_check("http-status", s)
					    : NULL;
	if (why)
		return sl_fail(err, EINVAL, "invalid %s \"%.200s\": %s", name, s, why);
	if (field == F_SOURCE_POD || field == F_DESTINATION_POD || field == F_SOURCE_SERVICE ||
	    field == F_DESTINATION_SERVICE) {
		/* Hubble's [namespace/][name prefix]; no namespace: "default" */
		const char *slash = strchr(s, '/');

		if (!*s)
			return sl_fail(err, EINVAL, "invalid filter, must be [namespace/][<name>], got \"\"");
		fl->ns = slash ? sl_strdupf("%.*s", (int)(slash - s), s) : sl_xstrdup("default");
		fl->value = sl_xstrdup(slash ? slash + 1 : s);
		return 0;
	}
	fl->value = sl_xstrdup(s);
	if (field == F_SOURCE_IP || field == F_DESTINATION_IP)
		sl_flow_ip_parse(s, fl->net, &fl->plen); /* checked above */
	if (field == F_SOURCE_PORT || field == F_DESTINATION_PORT)
		fl->num = strtoul(s, NULL, 10);
	if (field == F_HTTP_STATUS_CODE) {
		fl->cls = s[1] == '+' || s[1] == 'x' || s[1] == 'X';
		fl->num = fl->cls ? (unsigned long)(s[0] - '0') : strtoul(s, NULL, 10);
	}
	if (field == F_NODE_NAME)
		fl->node = node;
	if ((field == F_SOURCE_LABEL || field == F_DESTINATION_LABEL) && !(fl->sel = label_sel_parse(s)))
		return sl_fail(err, EINVAL, "%s: invalid label selector \"%.200s\"", name, s);
	if (field == F_UUID) {
		/* one of this agent's flows: its boot id, then the flow's number
		 * (0, matching nothing, for another agent's or no uuid) */
		char u[SL_FLOW_UUID_TEXT], want[SL_FLOW_UUID_TEXT];
		uint64_t seq = 0;

		snprintf(want, sizeof(want), "%s", s);
		for (char *c = want; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (strlen(want) == 36 && sscanf(want + 19, "%4" SCNx64, &seq) == 1) {
			uint64_t lo = 0;

			if (sscanf(want + 24, "%12" SCNx64, &lo) == 1)
				seq = ((seq & 0x3fff) << 48) | lo;
			else
				seq = 0;
		} else {
			seq = 0;
		}
		fl->num = seq && !strcmp(sl_flow_uuid_text(boot, seq, u), want) ? seq : 0;
	}
	if (field == F_HTTP_PATH || field == F_HTTP_URL) {
		int ec;
		PCRE2_SIZE off;

		fl->re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
		if (!fl->re) {
			PCRE2_UCHAR msg[128];

			pcre2_get_error_message(ec, msg, sizeof(msg));
			return sl_fail(err, EINVAL, "%s %s: %s at offset %zu", name, s, msg, (size_t)off);
		}
		fl->md = pcre2_match_data_create_from_pattern(fl->re, NULL);
		if (!fl->md)
			return sl_fail(err, ENOMEM, "%s: out of memory", name);
	}
	return 0;
}

/* One FlowFilter object; its values grouped by field. */
static int flow_filter_parse(json_t *obj, const char *node, uint64_t boot, struct flow_filter *out,
			     char **err)
{
	const char *key;
	json_t *arr, *v;
	size_t total = 0, i;
	int field;

	if (!json_is_object(obj))
		return sl_fail(err, EINVAL, "a FlowFilter must be an object");
	json_object_foreach(obj, key, arr) {
		for (field = 0; field < F_MAX && strcmp(key, filter_names[field]); field++)
			;
		if (field == F_MAX)
			return sl_fail(err, EINVAL, "FlowFilter field %s is not supported by sluice", key);
		if (!json_is_array(arr))
			return sl_fail(err, EINVAL, "%s: want a list", key);
		total += json_array_size(arr);
	}
	out->v = sl_xcalloc(total + 1, sizeof(*out->v));
	for (field = 0; field < F_MAX; field++) {
		json_array_foreach(json_object_get(obj, filter_names[field]), i, v) {
			int rc = filter_value((enum filter_field)field, v, node, boot, &out->v[out->n], err);

			out->n++; /* freed with the rest, whole or half filled */
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int filters_parse(json_t *req, const char *node, uint64_t boot, struct filter_set *fs,
			 char **err)
{
	json_t *lists[2] = { json_object_get(req, "allowlist"), json_object_get(req, "denylist") };
	struct flow_filter **outs[2] = { &fs->allow, &fs->deny };
	size_t *counts[2] = { &fs->nallow, &fs->ndeny };
	size_t i;
	json_t *v;

	memset(fs, 0, sizeof(*fs));
	if (json_object_get(req, "filters"))
		return sl_fail(err, EINVAL, "\"filters\" is gone: send \"allowlist\" and \"denylist\" (Hubble FlowFilters)");
	for (int l = 0; l < 2; l++) {
		if (lists[l] && !json_is_array(lists[l]))
			return sl_fail(err, EINVAL, "%s: want a list of FlowFilters", l ? "denylist" : "allowlist");
		*outs[l] = sl_xcalloc(json_array_size(lists[l]) + 1, sizeof(**outs[l]));
		json_array_foreach(lists[l], i, v) {
			int rc = flow_filter_parse(v, node, boot, &(*outs[l])[i], err);

			(*counts[l])++;
			if (rc) {
				filters_free(fs);
				return rc;
			}
		}
	}
	return 0;
}

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
	filters_free(&s->filters);
	stream_free(&s->st);
	free(s);
}

json_t *flows_cmd_observe(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	struct flows *fl = a->flows;
	struct filter_set fs;
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
	if (filters_parse(req, a->cfg.node_name, fl->uuid_boot, &fs, err))
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

		if ((since && f->time_ns < since) || (until && f->time_ns > until))
			continue;
		if (flow_matches(&fs, f))
			idx[matched++] = (fl->ring_head + i) % fl->ring_cap;
	}
	start = last && (size_t)last < matched ? matched - (size_t)last : 0;
	if (!last && !since && !until && !has_first)
		start = matched; /* follow without --last: new flows only */
	if (has_first && (size_t)first < matched)
		matched = (size_t)first; /* the oldest ones */
	for (i = start; i < matched; i++) {
		stream_put(fl, &st, &fl->ring[idx[i]]);
		fl->json_for = NULL;
	}
	free(idx);
	/* before the answer (non-follow) or the first live flow */
	stream_flush(&st);
	if (!follow) {
		filters_free(&fs);
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
