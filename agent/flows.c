/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flows.c - see flows.h.
 *
 * A flow is enriched when its event arrives, not when it is read: the ring
 * keeps the pod name, namespace and labels that were true at that moment,
 * so a flow still names a pod that has since been deleted. Flows are
 * rendered to Hubble-style JSON by hand (snprintf), because at 100k events/s
 * a general JSON library would cost more than everything else together.
 */
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/flow_filter.h"
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
	uint32_t identity;
	uint8_t addr[16];
	char *ns, *pod;       /* NULL: not a known pod */
	char *labels;         /* JSON array text: ["k8s:app=x",...] */
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
	bool is_reply;        /* an L7 response: source is the server */
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
};

/* ---- filters ------------------------------------------------------------- */

enum filter_field {
	F_VERDICT, F_POD, F_FROM_POD, F_TO_POD, F_NAMESPACE, F_LABEL, F_FROM_LABEL, F_TO_LABEL,
	F_IDENTITY, F_PORT, F_PROTOCOL, F_TYPE, F_HTTP_METHOD, F_HTTP_PATH, F_HTTP_STATUS,
	F_MAX,
};

static const char *const filter_names[F_MAX] = {
	"verdict", "pod", "from-pod", "to-pod", "namespace", "label", "from-label", "to-label",
	"identity", "port", "protocol", "type", "http-method", "http-path", "http-status",
};

struct filter {
	enum filter_field field;
	bool negate;
	char *value;
	pcre2_code *re; /* http-path */
};

struct subscriber {
	struct flows *flows; /* NULL once the pipeline stopped */
	struct api_client *client;
	struct filter *filters;
	size_t nfilters;
	uint64_t lost;
	/* lines waiting for the end of the current drain: one write per batch */
	char *batch;
	size_t batch_len, batch_cap;
	struct subscriber *next;
};

/*
 * Formatted labels per identity: an identity's labels never change while
 * it exists, and formatting them per event would cost more than the rest
 * of the event. The cache is dropped whenever identities may have changed.
 */
#define LABEL_CACHE 1024
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
	struct subscriber *subscribers;
	struct {
		uint32_t identity;
		char *text;
	} label_cache[LABEL_CACHE];
	uint64_t label_cache_gen;
	struct peer_info *peer_cache[PEER_CACHE];
	uint64_t peer_cache_gen, peer_cache_born_ns;
};

static void peer_info_unref(struct peer_info *pi)
{
	if (!pi || --pi->refs)
		return;
	free(pi->ns);
	free(pi->pod);
	free(pi->labels);
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
		pi->identity = identity;
		memcpy(pi->addr, addr, 16);
		if (pod) {
			pi->ns = sl_xstrdup(pod->ns);
			pi->pod = sl_xstrdup(pod->name);
		}
		pi->labels = sl_xstrdup(labels_cached(a, identity));
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

static bool str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static bool pod_matches(const struct flow_peer *p, const char *want)
{
	const char *slash = strchr(want, '/');

	if (!p->pod)
		return false;
	if (!slash)
		return !strcmp(p->pod, want);
	return strlen(p->ns) == (size_t)(slash - want) && !strncmp(p->ns, want, slash - want) &&
	       !strcmp(p->pod, slash + 1);
}

/* "k=v" matches a label of any source ("src:k=v" in the list); "k" matches
 * presence of the key. */
static bool label_matches(const struct flow_peer *p, const char *want)
{
	char pat[600];

	if (!p->labels)
		return false;
	if (strchr(want, '='))
		snprintf(pat, sizeof(pat), ":%s\"", want);
	else
		snprintf(pat, sizeof(pat), ":%s", want);
	if (strstr(p->labels, pat))
		return true;
	if (!strchr(want, '=')) {
		snprintf(pat, sizeof(pat), ":%s=", want);
		return strstr(p->labels, pat) != NULL;
	}
	return false;
}

static const char *verdict_name(uint8_t v)
{
	switch (v) {
	case SLUICE_VERDICT_FORWARDED: return "FORWARDED";
	case SLUICE_VERDICT_DROPPED: return "DROPPED";
	case SLUICE_VERDICT_REDIRECTED: return "REDIRECTED";
	}
	return "UNKNOWN";
}

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case 6: return "TCP";
	case 17: return "UDP";
	case 1: return "ICMPv4";
	case 132: return "SCTP";
	}
	return "UNKNOWN";
}

static bool filter_one(const struct filter *fl, const struct flow *f)
{
	const char *v = fl->value;
	char *end;

	switch (fl->field) {
	case F_VERDICT:
		if (!strcasecmp(v, "ALLOWED"))
			return f->verdict != SLUICE_VERDICT_DROPPED;
		if (!strcasecmp(v, "DENIED"))
			return f->verdict == SLUICE_VERDICT_DROPPED;
		return !strcasecmp(v, verdict_name(f->verdict));
	case F_POD: return pod_matches(&f->src, v) || pod_matches(&f->dst, v);
	case F_FROM_POD: return pod_matches(&f->src, v);
	case F_TO_POD: return pod_matches(&f->dst, v);
	case F_NAMESPACE: return str_eq(f->src.ns, v) || str_eq(f->dst.ns, v);
	case F_LABEL: return label_matches(&f->src, v) || label_matches(&f->dst, v);
	case F_FROM_LABEL: return label_matches(&f->src, v);
	case F_TO_LABEL: return label_matches(&f->dst, v);
	case F_IDENTITY: {
		unsigned long id = strtoul(v, &end, 10);

		return f->src.identity == id || f->dst.identity == id;
	}
	case F_PORT: {
		unsigned long port = strtoul(v, &end, 10);

		return f->sport == port || f->dport == port;
	}
	case F_PROTOCOL:
		if (!strcasecmp(v, "http"))
			return f->kind != FLOW_L3L4;
		if (!strcasecmp(v, "icmp"))
			return f->protocol == 1;
		return !strcasecmp(v, proto_name(f->protocol)) && f->kind == FLOW_L3L4;
	case F_TYPE:
		if (!strcasecmp(v, "l7"))
			return f->kind != FLOW_L3L4;
		if (!strcasecmp(v, "l3-l4") || !strcasecmp(v, "l3_l4"))
			return f->kind == FLOW_L3L4;
		if (!strcasecmp(v, "policy-verdict"))
			return f->kind == FLOW_L3L4;
		if (!strcasecmp(v, "drop"))
			return f->verdict == SLUICE_VERDICT_DROPPED;
		return false;
	case F_HTTP_METHOD: return f->method && !strcasecmp(f->method, v);
	case F_HTTP_PATH: {
		pcre2_match_data *md;
		int rc;

		if (!f->url || !fl->re)
			return false;
		md = pcre2_match_data_create_from_pattern(fl->re, NULL);
		rc = pcre2_match(fl->re, (PCRE2_SPTR)f->url, strlen(f->url), 0, 0, md, NULL);
		pcre2_match_data_free(md);
		return rc >= 0;
	}
	case F_HTTP_STATUS: {
		/* "404", or a class such as "4+" / "4xx" */
		if (!f->code)
			return false;
		if (strlen(v) >= 2 && (v[1] == '+' || v[1] == 'x' || v[1] == 'X'))
			return f->code / 100 == (unsigned)(v[0] - '0');
		return f->code == strtoul(v, &end, 10);
	}
	case F_MAX:
		break;
	}
	return false;
}

/* Filters of the same field are ORed (as in Hubble: --pod a --pod b),
 * different fields are ANDed; --not inverts one filter. */
static bool flow_matches(const struct filter *fs, size_t n, const struct flow *f)
{
	int field;

	for (field = 0; field < F_MAX; field++) {
		bool any = false, hit = false;
		size_t i;

		for (i = 0; i < n; i++) {
			bool m;

			if (fs[i].field != (enum filter_field)field)
				continue;
			m = filter_one(&fs[i], f);
			if (fs[i].negate) {
				/* a negated filter must hold on its own */
				if (m)
					return false;
				continue;
			}
			any = true;
			hit |= m;
		}
		if (any && !hit)
			return false;
	}
	return true;
}

/* ---- rendering --------------------------------------------------------------- */

/* Hubble's name for a drop reason (abi.h's one list) */
static const char *drop_reason_name(uint16_t r)
{
#define DROP_NAME_(name, num, hubble, metric, text) case num: return hubble;
	switch (r) {
	SLUICE_DROP_REASONS(DROP_NAME_)
	case 0: return "DROP_REASON_UNKNOWN";
	}
#undef DROP_NAME_
	return "DROP_REASON_UNKNOWN";
}

static void fmt_time(uint64_t ns, char *buf, size_t len)
{
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned long long)(ns % 1000000000ull));
}

static size_t peer_json(char *out, size_t cap, const struct flow_peer *p)
{
	char ns[300], pod[300];

	json_escape(ns, sizeof(ns), p->ns);
	json_escape(pod, sizeof(pod), p->pod);
	return (size_t)snprintf(out, cap,
				"{\"identity\":%u,\"namespace\":\"%s\",\"labels\":%s,\"pod_name\":\"%s\"}",
				p->identity, ns, p->labels ? p->labels : "[]", pod);
}

/* Renders a flow as one line of JSON with Hubble's field names and shapes
 * (api/v1/flow/flow.proto as protojson prints it): an L7 REQUEST carries no
 * code and no latency, its RESPONSE carries both and is a reply (source =
 * the server); policy_match_type is Cilium's number. */
static char *flow_json(const struct flow *f, const char *node)
{
	size_t cap = 4096 + (f->src.labels ? strlen(f->src.labels) : 0) +
		     (f->dst.labels ? strlen(f->dst.labels) : 0) + (f->url ? 2 * strlen(f->url) : 0) +
		     (f->host ? 2 * strlen(f->host) : 0) + 2048;
	char *out = malloc(cap), t[64], sip[64], dip[64];
	size_t n = 0;
	bool l7 = f->kind != FLOW_L3L4;

	if (!out)
		abort();
	fmt_time(f->time_ns, t, sizeof(t));
	sl_addr_str(f->saddr, sip, sizeof(sip));
	sl_addr_str(f->daddr, dip, sizeof(dip));
	n += (size_t)snprintf(out + n, cap - n,
			      "{\"flow\":{\"time\":\"%s\",\"verdict\":\"%s\",", t, verdict_name(f->verdict));
	if (f->verdict == SLUICE_VERDICT_DROPPED && !l7)
		n += (size_t)snprintf(out + n, cap - n, "\"drop_reason\":%u,\"drop_reason_desc\":\"%s\",",
				      f->drop_reason, drop_reason_name(f->drop_reason));
	n += (size_t)snprintf(out + n, cap - n,
			      "\"IP\":{\"source\":\"%s\",\"destination\":\"%s\",\"ipVersion\":\"%s\"},",
			      sip, dip, sl_addr_is_ipv4(f->saddr) ? "IPv4" : "IPv6");
	if (f->protocol == 6 || f->protocol == 17 || f->protocol == 132) {
		n += (size_t)snprintf(out + n, cap - n,
				      "\"l4\":{\"%s\":{\"source_port\":%u,\"destination_port\":%u",
				      proto_name(f->protocol), f->sport, f->dport);
		if (f->protocol == 6 && f->kind == FLOW_L3L4)
			n += (size_t)snprintf(out + n, cap - n, ",\"flags\":{%s%s%s%s}",
					      f->tcp_flags & 0x02 ? "\"SYN\":true" : "",
					      (f->tcp_flags & 0x02) && (f->tcp_flags & 0x10) ? "," : "",
					      f->tcp_flags & 0x10 ? "\"ACK\":true" : "",
					      !(f->tcp_flags & 0x12) && (f->tcp_flags & 0x04) ? "\"RST\":true" : "");
		n += (size_t)snprintf(out + n, cap - n, "}},");
	} else if (f->protocol == 1) {
		n += (size_t)snprintf(out + n, cap - n, "\"l4\":{\"ICMPv4\":{}},");
	}
	n += (size_t)snprintf(out + n, cap - n, "\"source\":");
	n += peer_json(out + n, cap - n, &f->src);
	n += (size_t)snprintf(out + n, cap - n, ",\"destination\":");
	n += peer_json(out + n, cap - n, &f->dst);
	if (f->svc_name) {
		char sns[300], sname[300];

		json_escape(sns, sizeof(sns), f->svc_ns);
		json_escape(sname, sizeof(sname), f->svc_name);
		n += (size_t)snprintf(out + n, cap - n,
				      ",\"destination_service\":{\"name\":\"%s\",\"namespace\":\"%s\"},"
				      "\"destination_service_port\":%u", sname, sns, f->svc_port);
	}
	n += (size_t)snprintf(out + n, cap - n, ",\"Type\":\"%s\",\"node_name\":\"%s\",",
			      l7 ? "L7" : "L3_L4", node);
	if (!l7) {
		/* Cilium's monitor types: 1 drop (sub_type = reason), 5 policy verdict */
		bool drop = f->verdict == SLUICE_VERDICT_DROPPED;

		n += (size_t)snprintf(out + n, cap - n,
				      "\"event_type\":{\"type\":%d,\"sub_type\":%u},\"policy_match_type\":%u,"
				      "\"is_reply\":false,",
				      drop ? 1 : 5, drop ? f->drop_reason : 0, f->match_kind);
	} else {
		char method[64], url[4096], host[512], proto[32], code[32] = "", lat[48] = "";
		bool resp = f->kind == FLOW_L7_RESPONSE;

		json_escape(method, sizeof(method), f->method);
		json_escape(url, sizeof(url), f->url);
		json_escape(host, sizeof(host), f->host);
		json_escape(proto, sizeof(proto), f->http_protocol);
		if (resp) {
			snprintf(code, sizeof(code), "\"code\":%u,", f->code);
			snprintf(lat, sizeof(lat), "\"latency_ns\":\"%llu\",", (unsigned long long)f->latency_ns);
		}
		/* Hubble's url is absolute: http://HOST/PATH */
		n += (size_t)snprintf(out + n, cap - n,
				      "\"event_type\":{\"type\":129},\"l7\":{\"type\":\"%s\",%s"
				      "\"http\":{%s\"method\":\"%s\",\"url\":\"%s://%s%s\",\"protocol\":\"%s\"}},"
				      "\"is_reply\":%s,",
				      resp ? "RESPONSE" : "REQUEST", lat, code, method, f->https ? "https" : "http",
				      host[0] ? host : (resp ? sip : dip), url, proto, resp ? "true" : "false");
	}
	n += (size_t)snprintf(out + n, cap - n, "\"traffic_direction\":\"%s\",",
			      f->direction == SLUICE_DIR_INGRESS ? "INGRESS" : "EGRESS");
	/* Summary as Hubble writes it (the URL absolute, as in l7.http.url) */
	if (l7) {
		char method[64], url[4096], host[512];
		const char *proto = f->http_protocol ? f->http_protocol : "HTTP/1.1";

		json_escape(method, sizeof(method), f->method);
		json_escape(url, sizeof(url), f->url);
		json_escape(host, sizeof(host), f->host);
		if (!host[0])
			snprintf(host, sizeof(host), "%s", f->kind == FLOW_L7_RESPONSE ? sip : dip);
		if (f->kind == FLOW_L7_RESPONSE)
			n += (size_t)snprintf(out + n, cap - n, "\"Summary\":\"%s %u %llums (%s %s://%s%s)\"}}",
					      proto, f->code, (unsigned long long)(f->latency_ns / 1000000), method,
					      f->https ? "https" : "http", host, url);
		else
			n += (size_t)snprintf(out + n, cap - n, "\"Summary\":\"%s %s %s://%s%s\"}}", proto,
					      method, f->https ? "https" : "http", host, url);
	} else {
		n += (size_t)snprintf(out + n, cap - n, "\"Summary\":\"%s\"}}", proto_name(f->protocol));
	}
	(void)n;
	return out;
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

static void batch_append(struct subscriber *s, const char *line);
static void batch_flush(struct subscriber *s);

static void deliver(struct flows *fl, struct flow *f)
{
	struct subscriber *s;

	for (s = fl->subscribers; s; s = s->next) {
		char *text;

		if (!flow_matches(s->filters, s->nfilters, f))
			continue;
		/* a slow reader loses flows (counted) instead of growing the agent */
		if (api_client_queued(s->client) > (16u << 20)) {
			s->lost++;
			fl->agent->counters.observer_flows_lost++;
			continue;
		}
		text = flow_json(f, fl->agent->cfg.node_name);
		batch_append(s, text);
		free(text);
	}
}

static void batch_append(struct subscriber *s, const char *line)
{
	size_t len = strlen(line);

	if (s->batch_len + len + 2 > s->batch_cap) {
		s->batch_cap = (s->batch_len + len + 2) * 2;
		s->batch = realloc(s->batch, s->batch_cap);
		if (!s->batch)
			abort();
	}
	memcpy(s->batch + s->batch_len, line, len);
	s->batch_len += len;
	s->batch[s->batch_len++] = '\n';
	s->batch[s->batch_len] = 0;
	if (s->batch_len > (1u << 20))
		batch_flush(s);
}

static void batch_flush(struct subscriber *s)
{
	if (!s->batch_len)
		return;
	/* api_client_send_text adds the final newline itself */
	s->batch[--s->batch_len] = 0;
	api_client_send_text(s->client, s->batch);
	s->batch = NULL;
	s->batch_len = s->batch_cap = 0;
}

static void flush_all(struct flows *fl)
{
	struct subscriber *s;

	for (s = fl->subscribers; s; s = s->next)
		batch_flush(s);
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
	bool ingress = ev->direction == SLUICE_DIR_INGRESS;

	if (near_duplicate(a, ev)) {
		a->counters.flows_near_duplicates++;
		return;
	}
	f = ring_push(a->flows);

	f->time_ns = ev->ts_ns + a->flows->mono_to_real;
	f->kind = FLOW_L3L4;
	f->verdict = ev->verdict;
	f->direction = ev->direction;
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
	flow_service(a, f, ev->saddr, ev->daddr, ev->dport, ingress ? 0 : ev->ep_id);
	a->counters.flows_by_kind_verdict[FLOW_L3L4][ev->verdict & 3]++;
	if (ev->verdict == SLUICE_VERDICT_DROPPED)
		a->counters.drops_by_reason_dir[ev->drop_reason & 0xff][ev->direction & 1]++;
	deliver(a->flows, f);
}

void flows_drain_datapath(struct agent *a)
{
	sluice_dp_events_drain(a->dp, on_datapath_event, a);
	flush_all(a->flows);
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

static void filters_free(struct filter *fs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(fs[i].value);
		if (fs[i].re)
			pcre2_code_free(fs[i].re);
	}
	free(fs);
}

static int filters_parse(json_t *arr, struct filter **out, size_t *nout, char **err)
{
	struct filter *fs = sl_xcalloc(json_array_size(arr) + 1, sizeof(*fs));
	size_t n = 0, i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		const char *name = json_string_value(json_object_get(v, "field"));
		const char *value = json_string_value(json_object_get(v, "value"));
		int field;

		for (field = 0; field < F_MAX; field++)
			if (name && !strcmp(name, filter_names[field]))
				break;
		if (field == F_MAX || !value) {
			filters_free(fs, n);
			return sl_fail(err, EINVAL, "unknown filter %s", name ? name : "?");
		}
		if (sl_flow_filter_check(name, value)) {
			filters_free(fs, n);
			return sl_fail(err, EINVAL, "invalid --%s \"%.200s\": %s", name, value,
				       sl_flow_filter_check(name, value));
		}
		fs[n].field = (enum filter_field)field;
		fs[n].negate = json_is_true(json_object_get(v, "not"));
		fs[n].value = sl_xstrdup(value);
		if (field == F_HTTP_PATH) {
			int ec;
			PCRE2_SIZE off;

			fs[n].re = pcre2_compile((PCRE2_SPTR)value, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
			if (!fs[n].re) {
				PCRE2_UCHAR msg[128];

				pcre2_get_error_message(ec, msg, sizeof(msg));
				n++;
				filters_free(fs, n);
				return sl_fail(err, EINVAL, "--http-path %s: %s at offset %zu", value, msg,
					       (size_t)off);
			}
		}
		n++;
	}
	*out = fs;
	*nout = n;
	return 0;
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
	filters_free(s->filters, s->nfilters);
	free(s->batch);
	free(s);
}

json_t *flows_cmd_observe(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	struct flows *fl = a->flows;
	struct filter *fs = NULL;
	size_t nfs = 0, i, start, matched = 0;
	bool follow = json_is_true(json_object_get(req, "follow"));
	json_int_t last = json_integer_value(json_object_get(req, "last"));
	uint64_t since = (uint64_t)json_integer_value(json_object_get(req, "since_ns"));
	size_t *idx;

	if (filters_parse(json_object_get(req, "filters"), &fs, &nfs, err))
		return NULL;
	if (!json_object_get(req, "last") && !since)
		last = follow ? 0 : 20;
	if (json_object_get(req, "last") && last < 0)
		last = 0;
	/* the history part: matching flows, newest `last` of them */
	idx = sl_xcalloc(fl->ring_count + 1, sizeof(*idx));
	for (i = 0; i < fl->ring_count; i++) {
		struct flow *f = &fl->ring[(fl->ring_head + i) % fl->ring_cap];

		if (since && f->time_ns < since)
			continue;
		if (flow_matches(fs, nfs, f))
			idx[matched++] = (fl->ring_head + i) % fl->ring_cap;
	}
	start = last && (size_t)last < matched ? matched - (size_t)last : 0;
	if (!last && !since)
		start = matched; /* follow without --last: new flows only */
	for (i = start; i < matched; i++) {
		api_client_send_text(c, flow_json(&fl->ring[idx[i]], a->cfg.node_name));
	}
	free(idx);
	if (!follow) {
		filters_free(fs, nfs);
		return json_pack("{s:b,s:b}", "ok", 1, "end", 1);
	}
	{
		struct subscriber *s = sl_xcalloc(1, sizeof(*s));

		s->flows = fl;
		s->client = c;
		s->filters = fs;
		s->nfilters = nfs;
		s->next = fl->subscribers;
		fl->subscribers = s;
		api_client_stream(c, s, subscriber_closed);
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
	free(fl);
	a->flows = NULL;
}
