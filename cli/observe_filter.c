/* SPDX-License-Identifier: Apache-2.0 */
/*
 * observe_filter.c - see observe_filter.h.
 *
 * Hubble's model, which users of `hubble observe` rely on:
 *  - the flags fill two FlowFilters, "left" and "right", and a flow matches
 *    when it matches either; a flag for either side (--pod, --ip, --label,
 *    --port, --identity, --service, --fqdn) puts its source_* field in left
 *    and its destination_* field in right, every other flag goes into both.
 *    So `--ip A --port 80` is (source A and source port 80) or
 *    (destination A and destination port 80), and `--pod x --to-port 80`
 *    is (source x or destination x) and destination port 80;
 *  - inside one FlowFilter every field must match, and a field matches when
 *    one of its values does;
 *  - --not sends the next flag to a second pair built the same way, the
 *    denylist: a flow matching one of its FlowFilters is not shown. So
 *    `--not --pod a --not --http-status 200` hides what is both;
 *  - namespaces are not a field: --namespace NS becomes the pod prefix
 *    "NS/" (or "NS/NAME" for a --pod NAME given without one);
 *  - some flags cannot be combined (--port with --to-port, --ip with
 *    --pod...), and a namespace must agree with the pods and services it
 *    is combined with.
 */
#include "observe_filter.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/flow_filter.h"
#include "../common/flow_json.h"
#include "../common/util.h"

struct tracker {
	json_t *left, *right; /* FlowFilter objects, NULL until a flag touches them */
	json_t *ns, *src_ns, *dst_ns;
	json_t *changed;      /* flag names used, for the conflicts */
};

struct obs_filter {
	struct tracker allow, deny;
	bool used_allow, used_deny;
	bool blacklisting;
	json_t *raw_allow, *raw_deny;
};

/* Hubble's conflict groups: two flags of one group cannot be combined. */
#define GROUP_MAX 9
static const char *const conflicts[][GROUP_MAX] = {
	{ "from-fqdn", "from-ip", "ip", "fqdn", "from-namespace", "namespace", "from-all-namespaces", "all-namespaces" },
	{ "from-fqdn", "from-ip", "ip", "fqdn", "from-pod", "pod" },
	{ "to-fqdn", "to-ip", "ip", "fqdn", "to-namespace", "namespace", "to-all-namespaces", "all-namespaces" },
	{ "to-fqdn", "to-ip", "ip", "fqdn", "to-pod", "pod" },
	{ "to-pod", "namespace", "all-namespaces" },
	{ "from-pod", "namespace", "all-namespaces" },
	{ "to-service", "namespace", "all-namespaces" },
	{ "from-service", "namespace", "all-namespaces" },
	{ "encrypted", "unencrypted" },
	{ "label", "from-label" },
	{ "label", "to-label" },
	{ "service", "from-service" },
	{ "service", "to-service" },
	{ "port", "to-port" },
	{ "port", "from-port" },
	{ "identity", "to-identity" },
	{ "identity", "from-identity" },
	{ "workload", "to-workload" },
	{ "workload", "from-workload" },
};

/* FlowFilter's fields in flow.proto's order (what protojson prints). */
static const char *const field_order[] = {
	"uuid", "source_ip", "source_ip_xlated", "source_pod", "source_fqdn", "source_label", "source_service",
	"source_workload", "source_cluster_name", "destination_ip", "destination_pod", "destination_fqdn",
	"destination_label", "destination_service", "destination_workload", "destination_cluster_name",
	"traffic_direction", "verdict", "drop_reason_desc", "interface", "event_type", "http_status_code",
	"protocol", "source_port", "destination_port", "reply", "dns_query", "source_identity",
	"destination_identity", "http_method", "http_path", "http_url", "http_header", "tcp_flags",
	"node_name", "node_labels", "ip_version", "trace_id", "ip_trace_id", "ip_trace_option", "encrypted",
	"experimental",
};

static const char *const flags[] = {
	"not", "pod", "from-pod", "to-pod", "ip", "from-ip", "to-ip", "label", "from-label",
	"to-label", "namespace", "from-namespace", "to-namespace", "service", "from-service",
	"to-service", "port", "from-port", "to-port", "identity", "from-identity", "to-identity",
	"fqdn", "from-fqdn", "to-fqdn", "verdict", "type", "http-status", "http-method", "http-path",
	"http-url", "protocol", "tcp-flags", "node-name", "traffic-direction", "drop-reason-desc",
	"ip-version", "ipv4", "ipv6", "uuid", "workload", "from-workload", "to-workload",
	"cluster", "from-cluster", "to-cluster", "all-namespaces", "from-all-namespaces",
	"to-all-namespaces", "node-label", "snat-ip", "interface", "http-header", "trace-id", "ip-trace-id",
	"ip-trace-option", "encrypted", "unencrypted",
};

size_t obs_filter_nflags(void)
{
	return sizeof(flags) / sizeof(flags[0]);
}

const char *obs_filter_flag(size_t i)
{
	return i < obs_filter_nflags() ? flags[i] : NULL;
}

bool obs_filter_flag_has_value(const char *name)
{
	return strcmp(name, "not") && strcmp(name, "ipv4") && strcmp(name, "ipv6") && !strstr(name, "all-namespaces") &&
	       strcmp(name, "encrypted") && strcmp(name, "unencrypted");
}

struct obs_filter *obs_filter_new(void)
{
	struct obs_filter *f = sl_xcalloc(1, sizeof(*f));

	f->raw_allow = json_array();
	f->raw_deny = json_array();
	return f;
}

static void tracker_free(struct tracker *t)
{
	json_decref(t->left);
	json_decref(t->right);
	json_decref(t->ns);
	json_decref(t->src_ns);
	json_decref(t->dst_ns);
	json_decref(t->changed);
}

void obs_filter_free(struct obs_filter *f)
{
	if (!f)
		return;
	tracker_free(&f->allow);
	tracker_free(&f->deny);
	json_decref(f->raw_allow);
	json_decref(f->raw_deny);
	free(f);
}

static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

/* ---- building ------------------------------------------------------------ */

static void push(json_t **ff, const char *key, json_t *v)
{
	json_t *arr;

	if (!*ff)
		*ff = json_object();
	arr = json_object_get(*ff, key);
	if (!arr) {
		arr = json_array();
		json_object_set_new(*ff, key, arr);
	}
	json_array_append(arr, v);
}

/* a flag for both filters */
static void both(struct tracker *t, const char *key, json_t *v)
{
	push(&t->left, key, v);
	push(&t->right, key, v);
	json_decref(v);
}

/* a flag for either side: source_* left, destination_* right */
static void sides(struct tracker *t, const char *what, json_t *v)
{
	char k[64];

	snprintf(k, sizeof(k), "source_%s", what);
	push(&t->left, k, v);
	snprintf(k, sizeof(k), "destination_%s", what);
	push(&t->right, k, v);
	json_decref(v);
}

static bool changed(const struct tracker *t, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(t->changed, i, v)
		if (!strcmp(json_string_value(v), name))
			return true;
	return false;
}

static int check_conflicts(const struct tracker *t, char **err)
{
	for (size_t g = 0; g < sizeof(conflicts) / sizeof(conflicts[0]); g++)
		for (size_t i = 0; i < GROUP_MAX && conflicts[g][i]; i++) {
			if (!changed(t, conflicts[g][i]))
				continue;
			for (size_t j = 0; j < GROUP_MAX && conflicts[g][j]; j++)
				if (i != j && changed(t, conflicts[g][j]))
					return fail(err, "filters --%s and --%s cannot be combined",
						    conflicts[g][i], conflicts[g][j]);
		}
	return 0;
}

/* "ns/name" -> "ns"; "name" -> "" */
static size_t ns_len(const char *name)
{
	const char *slash = strchr(name, '/');

	return slash ? (size_t)(slash - name) : 0;
}

static int ns_conflicts(json_t *nss, json_t *names, char **err)
{
	size_t i, j;
	json_t *ns, *name;

	json_array_foreach(nss, i, ns) {
		json_array_foreach(names, j, name) {
			const char *n = json_string_value(name), *s = json_string_value(ns);
			size_t l = ns_len(n);

			if (l && (strlen(s) != l || strncmp(s, n, l)))
				return fail(err, "namespace conflict: \"%s\" does not contain \"%s\"", s, n);
		}
	}
	return 0;
}

static int pods_services_agree(json_t *pods, json_t *svcs, char **err)
{
	size_t i, j;
	json_t *p, *s;

	json_array_foreach(pods, i, p) {
		const char *pn = json_string_value(p);
		size_t pl = ns_len(pn);

		if (!pl)
			continue;
		json_array_foreach(svcs, j, s) {
			const char *sn = json_string_value(s);

			if (ns_len(sn) != pl || strncmp(sn, pn, pl))
				return fail(err, "namespace of service \"%s\" conflict with pod \"%.*s\"", sn,
					    (int)pl, pn);
		}
	}
	return 0;
}

static int check_namespaces(const struct tracker *t, json_t *ff, char **err)
{
	json_t *sp = json_object_get(ff, "source_pod"), *ss = json_object_get(ff, "source_service");
	json_t *dp = json_object_get(ff, "destination_pod");
	json_t *ds = json_object_get(ff, "destination_service");

	if (!ff)
		return 0;
	if (ns_conflicts(t->ns, sp, err) || ns_conflicts(t->ns, ss, err) ||
	    ns_conflicts(t->ns, dp, err) || ns_conflicts(t->ns, ds, err) ||
	    ns_conflicts(t->src_ns, sp, err) || ns_conflicts(t->src_ns, ss, err) ||
	    ns_conflicts(t->dst_ns, dp, err) || ns_conflicts(t->dst_ns, ds, err))
		return -1;
	return pods_services_agree(sp, ss, err) ? -1 : pods_services_agree(dp, ds, err);
}

static int parse_identity(const char *v, json_t **out, char **err)
{
	char *end;
	unsigned long n;

	/* Cilium's reserved names (not "unknown": no flag takes identity 0 by name) */
	for (uint32_t id = 1; sl_cilium_reserved_identity(id); id++)
		if (!strcmp(v, sl_cilium_reserved_identity(id))) {
			*out = json_integer(id);
			return 0;
		}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (!*v || *end || errno || n > 0xffffffffUL || !isdigit((unsigned char)*v))
		return fail(err, "invalid security identity \"%s\", expected one of host, world, unmanaged, health, init, remote-node, kube-apiserver, ingress, world-ipv4, world-ipv6 or a numeric value", v);
	*out = json_integer((json_int_t)n);
	return 0;
}

/* Cilium's monitor message types and trace observation points */
static const struct {
	const char *name;
	int type;
} msg_types[] = {
	{ "drop", 1 }, { "debug", 2 }, { "capture", 3 }, { "trace", 4 }, { "policy-verdict", 5 },
	{ "recorder", 6 }, { "trace-sock", 7 }, { "l7", 129 }, { "agent", 130 },
};
static const char *const agent_subtypes[] = {
	"unspecified", "message", "agent-started", "policy-updated", "policy-deleted",
	"endpoint-regenerate-success", "endpoint-regenerate-failure", "endpoint-created",
	"endpoint-deleted", "ipcache-upserted", "ipcache-deleted", "service-upserted",
	"service-deleted",
};
/* the agent notification numbers of agent_subtypes, in order */
static const int agent_subtype_ids[] = { 0, 1, 2, 5, 6, 3, 4, 7, 8, 9, 10, 11, 12 };

static bool parse_u32(const char *s, size_t n, unsigned long *out)
{
	char buf[16], *end;

	if (!n || n >= sizeof(buf) || strspn(s, "0123456789") < n)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	errno = 0;
	*out = strtoul(buf, &end, 10);
	return !errno && *out <= 0xffffffffUL;
}

static int add_type(struct tracker *t, const char *v, char **err)
{
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);
	unsigned long type = 0, sub = 0;
	bool known = false, match_sub = false;
	json_t *o;

	/* sluice's own name for every L3/L4 event: drops, traces, verdicts */
	if (!strcasecmp(v, "l3-l4") || !strcasecmp(v, "l3_l4")) {
		both(t, "event_type", json_pack("{s:i}", "type", 1));
		both(t, "event_type", json_pack("{s:i}", "type", 4));
		both(t, "event_type", json_pack("{s:i}", "type", 5));
		return 0;
	}
	for (size_t i = 0; i < sizeof(msg_types) / sizeof(msg_types[0]); i++)
		if (strlen(msg_types[i].name) == n && !strncmp(v, msg_types[i].name, n)) {
			type = (unsigned long)msg_types[i].type;
			known = true;
		}
	if (!known && !parse_u32(v, n, &type))
		return fail(err, "unable to parse type '%.*s', not a known type name and unable to parse as numeric value", (int)n, v);
	if (colon) {
		const char *s = colon + 1;

		if (type == 4)
			for (unsigned i = 0; sl_cilium_trace_point(i); i++)
				if (!strcmp(s, sl_cilium_trace_point(i))) {
					sub = i;
					match_sub = true;
				}
		if (type == 130)
			for (size_t i = 0; i < sizeof(agent_subtypes) / sizeof(agent_subtypes[0]); i++)
				if (!strcmp(s, agent_subtypes[i])) {
					sub = (unsigned long)agent_subtype_ids[i];
					match_sub = true;
				}
		if (!match_sub) {
			if (!parse_u32(s, strlen(s), &sub))
				return fail(err, "unable to parse event sub-type '%s', not a known sub-type name and unable to parse as numeric value", s);
			match_sub = true;
		}
	}
	o = json_pack("{s:I}", "type", (json_int_t)type);
	if (match_sub) {
		json_object_set_new(o, "match_sub_type", json_true());
		if (sub) /* protojson leaves zero out */
			json_object_set_new(o, "sub_type", json_integer((json_int_t)sub));
	}
	both(t, "event_type", o);
	return 0;
}

static int add_verdict(struct tracker *t, const char *v, char **err)
{
	static const char *const names[] = { "FORWARDED", "DROPPED", "ERROR", "AUDIT", "REDIRECTED",
					     "TRACED", "TRANSLATED", "VERDICT_UNKNOWN" };

	/* sluice's words: ALLOWED is every verdict but a drop (or an error) */
	if (!strcasecmp(v, "ALLOWED")) {
		for (size_t i = 0; i < 7; i++)
			if (i != 1 && i != 2)
				both(t, "verdict", json_string(names[i]));
		return 0;
	}
	if (!strcasecmp(v, "DENIED"))
		v = "DROPPED";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(v, names[i])) {
			both(t, "verdict", json_string(names[i]));
			return 0;
		}
	return fail(err, "invalid --verdict value: %s (want FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED or TRANSLATED)", v);
}

static int add_tcp_flags(struct tracker *t, const char *v, char **err)
{
	int mask = sl_flow_tcp_flags_parse(v);
	json_t *o;

	if (mask < 0)
		return fail(err, "unknown tcp flag in \"%s\" (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS)", v);
	/* TCPFlags' fields, in flow.proto's order */
	o = json_object();
	for (int i = 0; i < 9; i++)
		if (mask & (1 << i))
			json_object_set_new(o, i < 8 ? sl_flow_tcp_flag_names[i] : "NS", json_true());
	both(t, "tcp_flags", o);
	return 0;
}

static const char *ip_version(const char *v)
{
	static const char *const v4[] = { "4", "v4", "ipv4", "ip4" }, *const v6[] = { "6", "v6", "ipv6", "ip6" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, v4[i]))
			return "IPv4";
		if (!strcasecmp(v, v6[i]))
			return "IPv6";
	}
	return "IP_NOT_USED";
}

/* values the agent would refuse: said before asking (exit 2) */
static int check_value(const char *name, const char *v, char **err)
{
	const char *why = sl_flow_filter_check(name, v);

	return why ? fail(err, "invalid --%s \"%s\": %s", name, v, why) : 0;
}

static int tracker_set(struct tracker *t, const char *name, const char *v, char **err)
{
	json_t *id;

	if (!t->changed)
		t->changed = json_array();
	if (!changed(t, name))
		json_array_append_new(t->changed, json_string(name));
	if (check_conflicts(t, err))
		return -1;
	if (!strcmp(name, "from-all-namespaces") || !strcmp(name, "to-all-namespaces")) {
		json_t **l = name[0] == 'f' ? &t->src_ns : &t->dst_ns;

		if (!*l)
			*l = json_array();
		json_array_append_new(*l, json_string(""));
	} else if (!strcmp(name, "pod") || !strcmp(name, "fqdn") || !strcmp(name, "label") ||
	    !strcmp(name, "service")) {
		sides(t, name, json_string(v));
	} else if (strstr(name, "workload")) {
		/* hubble's parseWorkload: "KIND/NAME" or "NAME"; a Workload is
		 * {name, kind} in flow.proto's order, empty fields left out */
		const char *slash = strchr(v, '/');
		const char *wname = slash ? slash + 1 : v;
		json_t *w = json_object();

		if (*wname)
			json_object_set_new(w, "name", json_string(wname));
		if (slash && slash > v)
			json_object_set_new(w, "kind", json_stringn(v, (size_t)(slash - v)));

		if (!strcmp(name, "workload"))
			sides(t, name, w);
		else
			both(t, name[0] == 'f' ? "source_workload" : "destination_workload", w);
	} else if (strstr(name, "cluster")) { /* hubble's cluster names: exact */
		if (!*v)
			return fail(err, "invalid --%s \"\": the cluster name must not be empty", name);
		if (!strcmp(name, "cluster"))
			sides(t, "cluster_name", json_string(v));
		else
			both(t, name[0] == 'f' ? "source_cluster_name" : "destination_cluster_name", json_string(v));
	} else if (!strcmp(name, "ip") || !strcmp(name, "port")) {
		if (check_value(name, v, err))
			return -1;
		sides(t, name, json_string(v));
	} else if (!strncmp(name, "from-", 5) || !strncmp(name, "to-", 3)) {
		const char *what = strchr(name, '-') + 1;
		char k[64];

		snprintf(k, sizeof(k), "%s_%s", name[0] == 'f' ? "source" : "destination", what);
		if (!strcmp(what, "namespace")) {
			json_t **l = name[0] == 'f' ? &t->src_ns : &t->dst_ns;

			if (!*l)
				*l = json_array();
			json_array_append_new(*l, json_string(v));
		} else if (!strcmp(what, "identity")) {
			if (parse_identity(v, &id, err))
				return -1;
			both(t, k, id);
		} else {
			if ((!strcmp(what, "ip") || !strcmp(what, "port")) && check_value(what, v, err))
				return -1;
			both(t, k, json_string(v));
		}
	} else if (!strcmp(name, "namespace") || !strcmp(name, "all-namespaces")) {
		/* every namespace: "" (a pod "/NAME", any pod "/") */
		if (!t->ns)
			t->ns = json_array();
		json_array_append_new(t->ns, json_string(name[0] == 'a' ? "" : v));
	} else if (!strcmp(name, "http-header")) {
		const char *colon = strchr(v, ':');

		if (!colon)
			return fail(err, "invalid http-header value \"%s\", expected name:value", v);
		both(t, "http_header", json_pack("{s:s%,s:s}", "key", v, (size_t)(colon - v), "value", colon + 1));
	} else if (!strcmp(name, "interface")) {
		both(t, "interface", json_pack("{s:s}", "name", v));
	} else if (!strcmp(name, "ip-trace-id") || !strcmp(name, "ip-trace-option")) {
		bool id = !strcmp(name, "ip-trace-id");
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(v, &end, 10);
		if (id && !strcmp(v, "0"))
			return fail(err, "invalid --ip-trace-id value; must be greater than 0");
		if (!*v || *end || errno || !isdigit((unsigned char)*v) || (!id && n > 0xffffffffULL))
			return fail(err, "invalid --%s value: %s", name, v);
		/* a uint64 is a string in protojson, a uint32 a number */
		both(t, id ? "ip_trace_id" : "ip_trace_option", id ? json_string(v) : json_integer((json_int_t)n));
	} else if (!strcmp(name, "encrypted") || !strcmp(name, "unencrypted")) {
		both(t, "encrypted", json_boolean(name[0] == 'e'));
	} else if (!strcmp(name, "identity")) {
		if (parse_identity(v, &id, err))
			return -1;
		sides(t, name, id);
	} else if (!strcmp(name, "verdict")) {
		if (add_verdict(t, v, err))
			return -1;
	} else if (!strcmp(name, "type")) {
		if (add_type(t, v, err))
			return -1;
	} else if (!strcmp(name, "tcp-flags")) {
		if (add_tcp_flags(t, v, err))
			return -1;
	} else if (!strcmp(name, "traffic-direction")) {
		if (strcasecmp(v, "ingress") && strcasecmp(v, "egress"))
			return fail(err, "%s: invalid traffic direction, expected ingress or egress", v);
		both(t, "traffic_direction", json_string(strcasecmp(v, "ingress") ? "EGRESS" : "INGRESS"));
	} else if (!strcmp(name, "ip-version") || !strcmp(name, "ipv4") || !strcmp(name, "ipv6")) {
		both(t, "ip_version", json_string(!strcmp(name, "ip-version") ? ip_version(v)
						  : name[3] == '4'              ? "IPv4"
										: "IPv6"));
	} else {
		/* http-status, http-method, http-path, http-url, protocol,
		 * node-name, drop-reason-desc: their text as given */
		static const char *const keys[][2] = {
			{ "http-status", "http_status_code" }, { "http-method", "http_method" },
			{ "http-path", "http_path" },          { "http-url", "http_url" },
			{ "protocol", "protocol" },            { "node-name", "node_name" },
			{ "drop-reason-desc", "drop_reason_desc" }, { "uuid", "uuid" },
			{ "node-label", "node_labels" },       { "snat-ip", "source_ip_xlated" },
			{ "trace-id", "trace_id" },
		};
		size_t i;

		for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && strcmp(keys[i][0], name); i++)
			;
		if (i == sizeof(keys) / sizeof(keys[0]))
			return fail(err, "unknown filter --%s", name);
		if (check_value(name, v, err))
			return -1;
		both(t, keys[i][1], json_string(v));
	}
	return check_namespaces(t, t->left, err) ? -1 : check_namespaces(t, t->right, err);
}

int obs_filter_set(struct obs_filter *f, const char *name, const char *value, char **err)
{
	if (!strcmp(name, "not")) {
		if (f->blacklisting)
			return fail(err, "consecutive --not statements");
		f->blacklisting = true;
		return 0;
	}
	if (f->blacklisting) {
		f->blacklisting = false;
		f->used_deny = true;
		return tracker_set(&f->deny, name, value ? value : "", err);
	}
	f->used_allow = true;
	return tracker_set(&f->allow, name, value ? value : "", err);
}

int obs_filter_add_raw(struct obs_filter *f, bool deny, const char *text, char **err)
{
	json_error_t je;
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);

	const char *key;
	json_t *v, *norm;

	if (!o || !json_is_object(o)) {
		json_decref(o);
		return fail(err, "invalid --%s flag: failed to decode '%s': %s", deny ? "denylist" : "allowlist", text,
			    o ? "not an object" : je.text);
	}
	/* as protojson reads a FlowFilter: its fields by their proto names or
	 * JSON (lowerCamelCase) names, nothing else */
	norm = json_object();
	json_object_foreach(o, key, v) {
		const char *field = NULL;

		for (size_t i = 0; i < sizeof(field_order) / sizeof(field_order[0]) && !field; i++) {
			char camel[64];
			size_t n = 0;

			for (const char *c = field_order[i]; *c && n + 1 < sizeof(camel); c++)
				camel[n++] = *c == '_' && c[1] ? (char)toupper((unsigned char)*++c) : *c;
			camel[n] = 0;
			if (!strcmp(key, field_order[i]) || !strcmp(key, camel))
				field = field_order[i];
		}
		if (!field) { /* said before o (and key with it) goes */
			int rc = fail(err, "invalid --%s flag: failed to decode '%s': unknown field \"%s\"",
				      deny ? "denylist" : "allowlist", text, key);

			json_decref(norm);
			json_decref(o);
			return rc;
		}
		json_object_set(norm, field, v);
	}
	json_decref(o);
	json_array_append_new(deny ? f->raw_deny : f->raw_allow, norm);
	return 0;
}

/* ---- materializing --------------------------------------------------------- */

/* names without a namespace get each of nss ("NS/NAME") */
static json_t *with_namespaces(json_t *names, json_t *nss)
{
	json_t *out, *n, *s;
	size_t i, j;

	if (!json_array_size(nss) || !json_array_size(names))
		return json_incref(names);
	out = json_array();
	json_array_foreach(names, i, n) {
		const char *v = json_string_value(n);

		if (strchr(v, '/')) {
			json_array_append(out, n);
			continue;
		}
		json_array_foreach(nss, j, s) {
			char *full = sl_strdupf("%s/%s", json_string_value(s), v);

			json_array_append_new(out, json_string(full));
			free(full);
		}
	}
	return out;
}

static void apply_ns(json_t *ff, json_t *nss, const char *side)
{
	char pk[32], sk[32];
	json_t *v;

	snprintf(pk, sizeof(pk), "%s_pod", side);
	snprintf(sk, sizeof(sk), "%s_service", side);
	if (!json_array_size(json_object_get(ff, pk)) && !json_array_size(json_object_get(ff, sk)))
		json_object_set_new(ff, pk, json_pack("[s]", ""));
	if ((v = json_object_get(ff, pk)))
		json_object_set_new(ff, pk, with_namespaces(v, nss));
	if ((v = json_object_get(ff, sk)))
		json_object_set_new(ff, sk, with_namespaces(v, nss));
}

/* the fields in flow.proto's order */
static json_t *ordered(json_t *ff)
{
	json_t *o = json_object(), *v;

	for (size_t i = 0; i < sizeof(field_order) / sizeof(field_order[0]); i++)
		if ((v = json_object_get(ff, field_order[i])))
			json_object_set(o, field_order[i], v);
	return o;
}

static json_t *tracker_lists(struct tracker *t)
{
	json_t *out = json_array();

	if (!t->left && !t->right && !json_array_size(t->ns) && !json_array_size(t->src_ns) &&
	    !json_array_size(t->dst_ns))
		return out;
	if (!t->left)
		t->left = json_object();
	if (!t->right)
		t->right = json_object();
	if (json_array_size(t->dst_ns)) {
		apply_ns(t->left, t->dst_ns, "destination");
		apply_ns(t->right, t->dst_ns, "destination");
	}
	if (json_array_size(t->src_ns)) {
		apply_ns(t->left, t->src_ns, "source");
		apply_ns(t->right, t->src_ns, "source");
	}
	if (json_array_size(t->ns)) {
		apply_ns(t->left, t->ns, "source");
		apply_ns(t->right, t->ns, "destination");
	}
	json_array_append_new(out, ordered(t->left));
	if (!json_equal(t->left, t->right))
		json_array_append_new(out, ordered(t->right));
	return out;
}

int obs_filter_lists(struct obs_filter *f, json_t **allow, json_t **deny, char **err)
{
	if (f->blacklisting)
		return fail(err, "trailing --not");
	*allow = tracker_lists(&f->allow);
	*deny = tracker_lists(&f->deny);
	json_array_extend(*allow, f->raw_allow);
	json_array_extend(*deny, f->raw_deny);
	return 0;
}

/* one YAML list item: the JSON in single quotes (a quote doubled) */
static void yaml_item(FILE *m, json_t *ff)
{
	char *j = json_dumps(ff, JSON_COMPACT | JSON_PRESERVE_ORDER);

	fputs("    - '", m);
	for (const char *p = j; p && *p; p++) {
		if (*p == '\'')
			fputc('\'', m);
		fputc(*p, m);
	}
	fputs("'\n", m);
	free(j);
}

char *obs_filter_yaml(json_t *allow, json_t *deny)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&buf, &len);
	json_t *v;

	if (!m)
		abort();
	if (!json_array_size(allow) && !json_array_size(deny))
		fputs("{}\n", m);
	if (json_array_size(allow)) {
		fputs("allowlist:\n", m);
		json_array_foreach(allow, i, v)
			yaml_item(m, v);
	}
	if (json_array_size(deny)) {
		fputs("denylist:\n", m);
		json_array_foreach(deny, i, v)
			yaml_item(m, v);
	}
	fclose(m);
	return buf;
}
