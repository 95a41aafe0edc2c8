/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_match.c - see flow_match.h. Moved here from agent/flows.c so that
 * `sluice observe --input-file` selects flows as the agent does; the
 * filters look at the rendered flow (struct sl_flow_view), whoever made it.
 */
#include "flow_match.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "flow_filter.h"
#include "sluice/abi.h"
#include "util.h"

enum filter_field {
	F_SOURCE_IP, F_DESTINATION_IP, F_SOURCE_POD, F_DESTINATION_POD, F_SOURCE_LABEL,
	F_DESTINATION_LABEL, F_SOURCE_SERVICE, F_DESTINATION_SERVICE, F_SOURCE_IDENTITY,
	F_DESTINATION_IDENTITY, F_SOURCE_PORT, F_DESTINATION_PORT, F_SOURCE_FQDN, F_DESTINATION_FQDN,
	F_VERDICT, F_EVENT_TYPE, F_HTTP_STATUS_CODE, F_HTTP_METHOD, F_HTTP_PATH, F_HTTP_URL,
	F_PROTOCOL, F_TCP_FLAGS, F_NODE_NAME, F_TRAFFIC_DIRECTION, F_DROP_REASON_DESC, F_IP_VERSION,
	F_UUID, F_SOURCE_WORKLOAD, F_DESTINATION_WORKLOAD, F_SOURCE_CLUSTER_NAME, F_DESTINATION_CLUSTER_NAME,
	F_REPLY, F_ENCRYPTED,
	/* what sluice's flows never carry: taken, and matching no flow */
	F_SOURCE_IP_XLATED, F_INTERFACE, F_HTTP_HEADER, F_IP_TRACE_ID, F_IP_TRACE_OPTION, F_TRACE_ID,
	F_NODE_LABELS, F_DNS_QUERY, F_MAX,
};

static const char *const filter_names[F_MAX] = {
	"source_ip", "destination_ip", "source_pod", "destination_pod", "source_label",
	"destination_label", "source_service", "destination_service", "source_identity",
	"destination_identity", "source_port", "destination_port", "source_fqdn", "destination_fqdn",
	"verdict", "event_type", "http_status_code", "http_method", "http_path", "http_url",
	"protocol", "tcp_flags", "node_name", "traffic_direction", "drop_reason_desc", "ip_version",
	"uuid", "source_workload", "destination_workload", "source_cluster_name", "destination_cluster_name",
	"reply", "encrypted", "source_ip_xlated", "interface", "http_header", "ip_trace_id", "ip_trace_option",
	"trace_id", "node_labels", "dns_query",
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
	struct label_sel *sel; /* source_label, destination_label */
};

/* One FlowFilter: its values, those of one field next to each other. */
struct flow_filter {
	struct filter *v;
	size_t n;
};

struct sl_flow_filters {
	struct flow_filter *allow, *deny;
	size_t nallow, ndeny;
};


/* Hubble's namespaced-name filter: the namespace, and a prefix of the name
 * ("" for any); an end that is no pod (the world, the host) has no name. */
static bool name_matches(const char *ns, const char *name, const struct filter *fl)
{
	if (!ns || !name || (!*ns && !*name))
		return false;
	/* "/NAME": any namespace (hubble's --all-namespaces) */
	return (!*fl->ns || !strcmp(ns, fl->ns)) && !strncmp(name, fl->value, strlen(fl->value));
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
	/* one source prefix at most ("any:k8s:app" is refused, as by Hubble) */
	if (strchr(key, ':') && strchr(strchr(key, ':') + 1, ':'))
		return false;
	if (!strncmp(key, "any:", 4))
		memmove(key, key + 4, strlen(key + 4) + 1);
	/* a Kubernetes label key, after one source prefix: [A-Za-z0-9._/-] */
	if (!*key || strspn(strchr(key, ':') ? strchr(key, ':') + 1 : key,
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-") !=
			     strlen(strchr(key, ':') ? strchr(key, ':') + 1 : key))
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
 * ["k8s:app=x",...] (the agent's labels_text(), or a saved flow's).
 * Returns the position after the label copied into buf, NULL when none is
 * left. */
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
		/* Cilium's label: "source:key=value", the source before a ':'
		 * that comes before any '='; without one, "unspec" */
		const char *colon = strchr(lbl, ':'), *eq0 = strchr(lbl, '=');
		bool sourced = colon && (!eq0 || colon < eq0);
		const char *k = lbl, *eq;
		char tmp[1100];

		if (q->has_source && !sourced) { /* the selector names a source: compare "unspec:key" */
			snprintf(tmp, sizeof(tmp), "unspec:%.1090s", lbl);
			k = tmp;
		} else if (!q->has_source && sourced) {
			k = colon + 1;
		}
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

static bool label_matches(const struct sl_flow_end *p, const struct label_sel *sel)
{
	if (!sel)
		return false;
	for (size_t i = 0; i < sel->n; i++)
		if (!label_req_matches(p->labels ? p->labels : "[]", &sel->v[i]))
			return false;
	return true;
}

/* What Hubble's filters read of the Flow: what a flow read from JSON says
 * (jx), else what sluice's own flows imply. */
static int view_reply(const struct sl_flow_view *f)
{
	if (f->jx.set)
		return f->jx.reply;
	if (f->kind == SL_FLOW_TRACE)
		return f->is_reply;
	if (sl_flow_kind_is_l7(f->kind))
		return f->kind == SL_FLOW_L7_RESPONSE;
	return f->verdict == SLUICE_VERDICT_DROPPED ? -1 : 0; /* a drop's is not known */
}

static bool view_event(const struct sl_flow_view *f, unsigned *type, unsigned *sub)
{
	if (f->jx.set) {
		*type = (unsigned)f->jx.type;
		*sub = (unsigned)f->jx.sub_type;
		return f->jx.has_event;
	}
	sl_flow_event_type(f->kind, f->verdict, f->trace_point, f->drop_reason, type, sub);
	return true;
}

static unsigned view_ip_version(const struct sl_flow_view *f)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (f->jx.set)
		return f->jx.ip_version;
	return memcmp(f->saddr, mapped, sizeof(mapped)) ? 2 : 1;
}

static const char *view_drop_desc(const struct sl_flow_view *f)
{
	if (f->jx.set)
		return f->jx.drop_desc;
	return sl_flow_kind_is_l7(f->kind) ? NULL : sl_flow_drop_reason_name(f->drop_reason);
}

/* ports are TCP's, UDP's and SCTP's (an ICMP flow's are its type and code) */
static bool has_ports(const struct sl_flow_view *f)
{
	return f->protocol == 6 || f->protocol == 17 || f->protocol == 132;
}

/* the flow as one FlowFilter value sees it */
struct match_ctx {
	const struct sl_flow_view *f;
	const char *node;
	const char *uuid;
};

static bool filter_one(const struct filter *fl, const struct match_ctx *m)
{
	const struct sl_flow_view *f = m->f;
	const char *v = fl->value;

	switch (fl->field) {
	case F_SOURCE_IP: return sl_flow_ip_in(f->saddr, fl->net, fl->plen);
	case F_DESTINATION_IP: return sl_flow_ip_in(f->daddr, fl->net, fl->plen);
	case F_SOURCE_POD: return name_matches(f->src.ns, f->src.pod, fl);
	case F_DESTINATION_POD: return name_matches(f->dst.ns, f->dst.pod, fl);
	case F_SOURCE_LABEL: return label_matches(&f->src, fl->sel);
	case F_DESTINATION_LABEL: return label_matches(&f->dst, fl->sel);
	case F_SOURCE_SERVICE: /* a flow's source is never a service here; one read from JSON may be */
		return f->jx.src_svc_name && name_matches(f->jx.src_svc_ns, f->jx.src_svc_name, fl);
	case F_DESTINATION_SERVICE: return name_matches(f->svc_ns, f->svc_name, fl);
	case F_SOURCE_IDENTITY: return f->src.identity == fl->num;
	case F_DESTINATION_IDENTITY: return f->dst.identity == fl->num;
	case F_SOURCE_PORT: return has_ports(f) && f->sport == fl->num;
	case F_DESTINATION_PORT: return has_ports(f) && f->dport == fl->num;
	case F_SOURCE_FQDN:
	case F_DESTINATION_FQDN:
		return false; /* sluice has no DNS proxy: no flow carries names */
	case F_VERDICT: return !strcasecmp(v, sl_flow_verdict_name(f->verdict));
	case F_EVENT_TYPE: { /* Hubble's: type 0 is any type */
		unsigned type, sub;

		if (!view_event(f, &type, &sub))
			return false;
		return (!fl->num || type == fl->num) && (!fl->match_sub || sub == fl->sub);
	}
	case F_TCP_FLAGS:
		return !sl_flow_kind_is_l7(f->kind) && f->protocol == 6 && (f->tcp_flags & fl->plen) == fl->plen;
	case F_TRAFFIC_DIRECTION:
		if (f->jx.dir_unknown)
			return !strcmp(v, "TRAFFIC_DIRECTION_UNKNOWN");
		return f->direction == (!strcmp(v, "INGRESS") ? SLUICE_DIR_INGRESS
					: !strcmp(v, "EGRESS") ? SLUICE_DIR_EGRESS : 0xff);
	case F_PROTOCOL: /* Hubble's: the flow's l4 (an HTTP flow's TCP too) or its l7 */
		if (!strcasecmp(v, "http"))
			return sl_flow_kind_is_l7(f->kind);
		if (!strcasecmp(v, "icmp"))
			return f->protocol == 1 || f->protocol == 58;
		return !strcasecmp(v, sl_flow_proto_name(f->protocol));
	case F_HTTP_METHOD: return f->method && !strcasecmp(f->method, v);
	case F_HTTP_PATH: /* the URL's path, without its query (Hubble's uri.Path) */
		return f->url && fl->re && !f->jx.bad_uri &&
		       pcre2_match(fl->re, (PCRE2_SPTR)f->url, strcspn(f->url, "?#"), 0, 0, fl->md, NULL) >= 0;
	case F_HTTP_URL: {
		/* l7.http.url as the JSON has it: scheme, Host (else the
		 * server's address), path */
		char u[2400], addr[INET6_ADDRSTRLEN];
		int n;

		if (!f->url || !fl->re)
			return false;
		if (!f->host || !*f->host)
			sl_flow_addr(f->kind == SL_FLOW_L7_RESPONSE ? f->saddr : f->daddr, addr);
		n = snprintf(u, sizeof(u), "%s://%.256s%.2000s", f->https ? "https" : "http",
			     f->host && *f->host ? f->host : addr, f->url);
		return n > 0 && pcre2_match(fl->re, (PCRE2_SPTR)u, strlen(u), 0, 0, fl->md, NULL) >= 0;
	}
	case F_NODE_NAME: { /* Hubble's pattern against "cluster/node" */
		char full[600];

		if (!m->node || !*m->node || !fl->re)
			return false;
		snprintf(full, sizeof(full), "%s%.500s", strchr(m->node, '/') ? "" : "default/", m->node);
		return pcre2_match(fl->re, (PCRE2_SPTR)full, strlen(full), 0, 0, fl->md, NULL) >= 0;
	}
	case F_DROP_REASON_DESC: {
		const char *desc = view_drop_desc(f);

		return f->verdict == SLUICE_VERDICT_DROPPED && desc && !strcasecmp(v, desc);
	}
	case F_IP_VERSION: {
		static const char *const names[] = { "IP_NOT_USED", "IPv4", "IPv6" };

		return !strcasecmp(v, names[view_ip_version(f)]);
	}
	case F_REPLY: { /* Hubble's: a flow of unknown direction is no reply only when dropped */
		int r = view_reply(f);

		if (r < 0 && f->verdict != SLUICE_VERDICT_DROPPED)
			return false;
		return (r > 0) == (fl->num != 0);
	}
	case F_UUID: { /* the text, lowercase (a flow's own, or made from its number) */
		char u[SL_FLOW_UUID_TEXT];
		const char *t = m->uuid ? m->uuid : sl_flow_uuid_text(f->uuid_boot, f->uuid_seq, u);

		return *t && !strcasecmp(t, v);
	}
	case F_SOURCE_WORKLOAD:
	case F_DESTINATION_WORKLOAD: { /* Hubble's: the kind and the name, each if given */
		const struct sl_flow_end *e = fl->field == F_SOURCE_WORKLOAD ? &f->src : &f->dst;

		return e->wl_kind && (!fl->value || (e->wl_name && !strcmp(fl->value, e->wl_name))) &&
		       (!fl->ns || !strcmp(fl->ns, e->wl_kind));
	}
	case F_SOURCE_CLUSTER_NAME: /* Hubble's: the end's cluster_name, exactly */
		return f->src.cluster && !strcmp(f->src.cluster, v);
	case F_DESTINATION_CLUSTER_NAME:
		return f->dst.cluster && !strcmp(f->dst.cluster, v);
	case F_ENCRYPTED: /* no flow here was encrypted (sluice has no IPsec or WireGuard) */
		return !fl->num;
	case F_SOURCE_IP_XLATED: /* no SNAT */
	case F_INTERFACE:
	case F_HTTP_HEADER:	   /* L7 flows do not carry headers */
	case F_IP_TRACE_ID:
	case F_IP_TRACE_OPTION:
	case F_TRACE_ID:
	case F_NODE_LABELS:	   /* the node's labels are not known to its flows */
	case F_DNS_QUERY:	   /* no DNS proxy */
		return false;
	case F_HTTP_STATUS_CODE: { /* Hubble's: "404" whole, "4+" / "40+" a prefix of "%03d"; also "4xx" */
		char code[16];

		if (!sl_flow_kind_is_l7(f->kind) || !f->code)
			return false;
		snprintf(code, sizeof(code), "%03u", f->code);
		return fl->cls ? !strncmp(code, v, strcspn(v, "+xX")) : !strcmp(code, v);
	}
	case F_MAX:
		break;
	}
	return false;
}

/* Every field of the FlowFilter holds for one of its values. */
static bool flow_filter_matches(const struct flow_filter *ff, const struct match_ctx *m)
{
	size_t i = 0;

	while (i < ff->n) {
		enum filter_field field = ff->v[i].field;
		bool hit = false;

		for (; i < ff->n && ff->v[i].field == field; i++)
			hit = hit || filter_one(&ff->v[i], m);
		if (!hit)
			return false;
	}
	return true;
}

bool sl_flow_filters_match(const struct sl_flow_filters *fs, const struct sl_flow_view *f, const char *node,
			   const char *uuid)
{
	struct match_ctx m = { f, node, uuid };
	size_t i;
	bool allowed = !fs->nallow;

	for (i = 0; i < fs->nallow && !allowed; i++)
		allowed = flow_filter_matches(&fs->allow[i], &m);
	if (!allowed)
		return false;
	for (i = 0; i < fs->ndeny; i++)
		if (flow_filter_matches(&fs->deny[i], &m))
			return false;
	return true;
}


bool sl_flow_filters_empty(const struct sl_flow_filters *fs)
{
	return !fs->nallow && !fs->ndeny;
}

void sl_flow_filters_free(struct sl_flow_filters *fs)
{
	if (!fs)
		return;
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
	free(fs);
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
static int filter_value(enum filter_field field, json_t *v, struct filter *fl, char **err)
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
	case F_REPLY:
	case F_ENCRYPTED:
		if (!json_is_boolean(v))
			return sl_fail(err, EINVAL, "%s: want true or false", name);
		fl->num = json_is_true(v);
		return 0;
	case F_INTERFACE:
	case F_HTTP_HEADER:
		if (!json_is_object(v))
			return sl_fail(err, EINVAL, "%s: want objects (%s)", name,
				       field == F_INTERFACE ? "{\"name\": \"eth0\"}" : "{\"key\": K, \"value\": V}");
		return 0;
	case F_IP_TRACE_ID:
	case F_IP_TRACE_OPTION:
		if (!json_is_integer(v) && !(field == F_IP_TRACE_ID && json_is_string(v)))
			return sl_fail(err, EINVAL, "%s: want numbers", name);
		return 0;
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
		/* "" is how --namespace NS reads without a pod name: "NS/"; a
		 * label selector "" selects everything, as Hubble's */
		if (!(s && (field == F_SOURCE_POD || field == F_DESTINATION_POD || field == F_SOURCE_LABEL ||
			    field == F_DESTINATION_LABEL)))
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
	if (field == F_HTTP_STATUS_CODE)
		fl->cls = sl_flow_http_status_kind(s) >= 2;
	if (field == F_SOURCE_FQDN || field == F_DESTINATION_FQDN) {
		const char *bad = sl_flow_fqdn_check(s);

		if (bad)
			return sl_fail(err, EINVAL, "%s \"%.200s\": %s", name, s, bad);
	}
	if (field == F_NODE_NAME) {
		char re[1200];
		const char *bad = sl_flow_node_regex(s, re, sizeof(re));
		int ec;
		PCRE2_SIZE off;

		if (bad)
			return sl_fail(err, EINVAL, "node_name \"%.200s\": %s", s, bad);
		fl->re = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
		fl->md = fl->re ? pcre2_match_data_create_from_pattern(fl->re, NULL) : NULL;
		if (!fl->md)
			return sl_fail(err, EINVAL, "node_name \"%.200s\": not a pattern", s);
	}
	if ((field == F_SOURCE_LABEL || field == F_DESTINATION_LABEL) && !(fl->sel = label_sel_parse(s)))
		return sl_fail(err, EINVAL, "%s: invalid label selector \"%.200s\"", name, s);
	/* F_UUID: the text is compared, whatever made the uuid */
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
static int flow_filter_parse(json_t *obj, struct flow_filter *out, char **err)
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
	/* Hubble's: the HTTP fields only with event types that take in L7 (129) */
	{
		static const char *const http[] = { "http_status_code", "http_method", "http_path", "http_url" };
		json_t *types = json_object_get(obj, "event_type");
		bool l7 = !json_array_size(types);

		json_array_foreach(types, i, v)
			l7 = l7 || json_integer_value(json_object_get(v, "type")) == 129;
		for (size_t h = 0; h < 4 && !l7; h++)
			if (json_object_get(obj, http[h]))
				return sl_fail(err, EINVAL, "filtering by %s requires the event type filter to only match "
						      "'l7' events", http[h]);
	}
	out->v = sl_xcalloc(total + 1, sizeof(*out->v));
	for (field = 0; field < F_MAX; field++) {
		json_array_foreach(json_object_get(obj, filter_names[field]), i, v) {
			int rc = filter_value((enum filter_field)field, v, &out->v[out->n], err);

			out->n++; /* freed with the rest, whole or half filled */
			if (rc)
				return rc;
		}
	}
	return 0;
}

struct sl_flow_filters *sl_flow_filters_parse(json_t *req, char **err)
{
	json_t *lists[2] = { json_object_get(req, "allowlist"), json_object_get(req, "denylist") };
	struct sl_flow_filters *fs = sl_xcalloc(1, sizeof(*fs));
	struct flow_filter **outs[2] = { &fs->allow, &fs->deny };
	size_t *counts[2] = { &fs->nallow, &fs->ndeny };
	size_t i;
	json_t *v;
	int rc = 0;

	if (json_object_get(req, "filters"))
		rc = sl_fail(err, EINVAL, "\"filters\" is gone: send \"allowlist\" and \"denylist\" (Hubble FlowFilters)");
	for (int l = 0; l < 2 && !rc; l++) {
		if (lists[l] && !json_is_array(lists[l])) {
			rc = sl_fail(err, EINVAL, "%s: want a list of FlowFilters", l ? "denylist" : "allowlist");
			break;
		}
		*outs[l] = sl_xcalloc(json_array_size(lists[l]) + 1, sizeof(**outs[l]));
		json_array_foreach(lists[l], i, v) {
			rc = flow_filter_parse(v, &(*outs[l])[i], err);
			(*counts[l])++; /* freed with the rest, whole or half filled */
			if (rc)
				break;
		}
	}
	if (rc) {
		sl_flow_filters_free(fs);
		return NULL;
	}
	return fs;
}

