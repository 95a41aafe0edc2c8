/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commands.c - the local API's commands: one table (name -> handler,
 * flags) that api.c dispatches through, and the handlers of the pod,
 * namespace, identity, policy, proxy and status commands. `observe` is
 * flows.c's (a streaming command). Handlers translate JSON to the agent's
 * calls and back; they hold no state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/names.h"
#include "../common/util.h"
#include "agent.h"
#include "api.h"
#include "cni.h"
#include "flows.h"
#include "k8s.h"
#include "proxy_ctl.h"
#include "secrets.h"
#include "services.h"

static json_t *labels_json(const struct sluice_labels *l, bool with_source)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < l->n; i++) {
		char *k = with_source ? sl_strdupf("%s:%s", l->v[i].source, l->v[i].key)
				      : sl_xstrdup(l->v[i].key);

		json_object_set_new(o, k, json_string(l->v[i].value));
		free(k);
	}
	return o;
}

static json_t *pod_json(struct agent *a, const struct agent_pod *p)
{
	json_t *o = json_object(), *ports = json_array();
	char ip[64];
	uint8_t addr[16];
	size_t i;

	(void)a;
	sl_addr_from_ipv4(addr, p->net.ip);
	json_object_set_new(o, "namespace", json_string(p->ns));
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "ip", json_string(sl_addr_str(addr, ip, sizeof(ip))));
	json_object_set_new(o, "identity", json_integer(p->identity));
	json_object_set_new(o, "endpoint", json_integer(p->ep_id));
	json_object_set_new(o, "remote", json_boolean(p->remote));
	json_object_set_new(o, "labels", labels_json(&p->labels, false));
	json_object_set_new(o, "netns", json_string(p->net.netns));
	json_object_set_new(o, "netns_path", json_sprintf("/run/netns/%s", p->net.netns));
	json_object_set_new(o, "cgroup", json_string(p->net.cgroup));
	json_object_set_new(o, "interface", json_string(p->net.host_ifname));
	json_object_set_new(o, "ifindex", json_integer(p->net.host_ifindex));
	json_object_set_new(o, "ingress_enforced",
			    json_boolean(p->written_flags & SLUICE_EP_F_ENFORCE_INGRESS));
	json_object_set_new(o, "egress_enforced",
			    json_boolean(p->written_flags & SLUICE_EP_F_ENFORCE_EGRESS));
	json_object_set_new(o, "policy_entries", json_integer((json_int_t)p->nwritten));
	for (i = 0; i < p->nports; i++) {
		json_t *po = json_object();

		json_object_set_new(po, "name", json_string(p->ports[i].name));
		json_object_set_new(po, "port", json_integer(p->ports[i].port));
		json_object_set_new(po, "protocol",
				    json_string(p->ports[i].protocol == 17 ? "UDP" :
						p->ports[i].protocol == 132 ? "SCTP" : "TCP"));
		json_array_append_new(ports, po);
	}
	json_object_set_new(o, "ports", ports);
	agent_cni_pod_json(p, o);
	return o;
}

/* Reads {"k": "v", ...} into labels; keys and values must follow
 * Kubernetes' label syntax (common/names.h): this is the trust boundary. */
static int json_labels(json_t *obj, struct sluice_labels *out, char **err)
{
	const char *k;
	json_t *v;

	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return sl_fail(err, EINVAL, "labels must be an object");
	json_object_foreach(obj, k, v) {
		int rc;

		if (!json_is_string(v))
			return sl_fail(err, EINVAL, "label %s: value must be a string", k);
		rc = sl_check_label_key(k, err);
		if (!rc)
			rc = sl_check_label_value(k, json_string_value(v), err);
		if (rc)
			return rc;
		sluice_labels_add(out, "k8s", k, json_string_value(v));
	}
	return 0;
}

/* A namespace and pod name as Kubernetes accepts them. */
static int check_pod_ref(const char *ns, const char *name, char **err)
{
	int rc = sl_check_namespace(ns, err);

	return rc ? rc : sl_check_pod_name(name, err);
}

static int json_strings(json_t *arr, char ***out, size_t *n)
{
	size_t i;
	json_t *v;

	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	*out = sl_xcalloc(json_array_size(arr), sizeof(char *));
	json_array_foreach(arr, i, v) {
		if (json_is_string(v))
			(*out)[(*n)++] = (char *)json_string_value(v);
	}
	return 0;
}

static const char *req_str(json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

static json_t *cmd_pod_create(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	const char *ns = req_str(req, "namespace"), *name = req_str(req, "name");
	struct sluice_labels labels = { 0 };
	struct sluice_named_port *ports = NULL;
	struct agent_pod *p = NULL;
	size_t nports = 0, i;
	json_t *jp, *res = NULL;

	(void)c;
	if (!ns || !name || !*ns || !*name) {
		sl_fail(err, EINVAL, "pod create needs NAMESPACE/NAME");
		return NULL;
	}
	if (check_pod_ref(ns, name, err))
		return NULL;
	if (json_labels(json_object_get(req, "labels"), &labels, err))
		goto out;
	ports = sl_xcalloc(json_array_size(json_object_get(req, "ports")) + 1, sizeof(*ports));
	json_array_foreach(json_object_get(req, "ports"), i, jp) {
		const char *proto = req_str(jp, "protocol");

		ports[nports].name = (char *)req_str(jp, "name");
		ports[nports].port = (uint16_t)json_integer_value(json_object_get(jp, "port"));
		ports[nports].protocol = !proto || !strcmp(proto, "TCP") ? 6 :
					 !strcmp(proto, "UDP") ? 17 : !strcmp(proto, "SCTP") ? 132 : 0;
		if (!ports[nports].name || !ports[nports].port || !ports[nports].protocol) {
			sl_fail(err, EINVAL, "invalid port declaration %zu", i);
			goto out;
		}
		nports++;
	}
	if (req_str(req, "remote_ip")) {
		unsigned b[4];
		char tail;

		if (sscanf(req_str(req, "remote_ip"), "%u.%u.%u.%u%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4 ||
		    b[0] > 255 || b[1] > 255 || b[2] > 255 || b[3] > 255) {
			sl_fail(err, EINVAL, "invalid --remote address %s", req_str(req, "remote_ip"));
			goto out;
		}
		if (agent_remote_create(a, ns, name, &labels, b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3], &p, err))
			goto out;
	} else if (agent_pod_create(a, ns, name, &labels, ports, nports, &p, err)) {
		goto out;
	}
	res = pod_json(a, p);
out:
	free(ports);
	sluice_labels_free(&labels);
	return res;
}

static int parse_ipv4(const char *s, uint32_t *ip)
{
	unsigned b[4];
	char tail;

	if (!s || sscanf(s, "%u.%u.%u.%u%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4 || b[0] > 255 ||
	    b[1] > 255 || b[2] > 255 || b[3] > 255)
		return -EINVAL;
	*ip = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
	return 0;
}

/* pods of other nodes, many at once: {"pods": [{namespace, name, labels, ip}]} */
static json_t *cmd_pod_import(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	json_t *pods = json_object_get(req, "pods"), *jp, *res = NULL;
	size_t n = json_array_size(pods), i;
	struct agent_remote_spec *v = sl_xcalloc(n + 1, sizeof(*v));
	struct sluice_labels *labels = sl_xcalloc(n + 1, sizeof(*labels));

	(void)c;
	if (!json_is_array(pods) || !n) {
		sl_fail(err, EINVAL, "pod import needs a list of pods");
		goto out;
	}
	json_array_foreach(pods, i, jp) {
		v[i].ns = req_str(jp, "namespace");
		v[i].name = req_str(jp, "name");
		v[i].labels = &labels[i];
		if (!v[i].ns || !v[i].name || !*v[i].ns || !*v[i].name) {
			sl_fail(err, EINVAL, "pod %zu: needs NAMESPACE/NAME", i + 1);
			goto out;
		}
		if (check_pod_ref(v[i].ns, v[i].name, err)) {
			char *m = *err;

			*err = sl_strdupf("pod %zu: %s", i + 1, m);
			free(m);
			goto out;
		}
		if (parse_ipv4(req_str(jp, "ip"), &v[i].ip)) {
			sl_fail(err, EINVAL, "pod %s/%s: invalid address %s", v[i].ns, v[i].name,
				req_str(jp, "ip") ?: "(none)");
			goto out;
		}
		if (json_labels(json_object_get(jp, "labels"), &labels[i], err))
			goto out;
	}
	if (!agent_remotes_create(a, v, n, err))
		res = json_pack("{s:I}", "created", (json_int_t)n);
out:
	for (i = 0; i < n; i++)
		sluice_labels_free(&labels[i]);
	free(labels);
	free(v);
	return res;
}

static json_t *cmd_pod_list(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	json_t *arr = json_array();
	size_t i;

	(void)c;
	(void)req;
	(void)err;
	for (i = 0; i < a->reg.npods; i++)
		json_array_append_new(arr, pod_json(a, a->reg.pods[i]));
	for (i = 0; i < a->reg.nremotes; i++)
		json_array_append_new(arr, pod_json(a, a->reg.remotes[i]));
	return json_pack("{s:o}", "pods", arr);
}

static struct agent_pod *find_any(struct agent *a, json_t *req)
{
	const char *ns = req_str(req, "namespace") ?: "", *name = req_str(req, "name") ?: "";

	return registry_pod_find(&a->reg, ns, name) ?: registry_remote_find(&a->reg, ns, name);
}

static json_t *cmd_pod_get(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	struct agent_pod *p = find_any(a, req);

	(void)c;
	if (!p) {
		sl_fail(err, ENOENT, "pod %s/%s not found", req_str(req, "namespace") ?: "",
			req_str(req, "name") ?: "");
		return NULL;
	}
	return pod_json(a, p);
}

static json_t *cmd_pod_label(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	struct agent_pod *p = find_any(a, req);
	struct sluice_labels set = { 0 };
	char **rm = NULL;
	size_t nrm = 0;
	json_t *res = NULL;

	(void)c;
	if (!p) {
		sl_fail(err, ENOENT, "pod %s/%s not found", req_str(req, "namespace") ?: "",
			req_str(req, "name") ?: "");
		return NULL;
	}
	if (json_labels(json_object_get(req, "set"), &set, err))
		goto out;
	json_strings(json_object_get(req, "remove"), &rm, &nrm);
	if (agent_pod_relabel(a, p, &set, rm, nrm, err))
		goto out;
	res = pod_json(a, p);
out:
	free(rm);
	sluice_labels_free(&set);
	return res;
}

static json_t *cmd_ns_label(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	const char *ns = req_str(req, "namespace");
	struct sluice_labels set = { 0 };
	char **rm = NULL;
	size_t nrm = 0;
	json_t *res = NULL;

	(void)c;
	if (!ns || !*ns) {
		sl_fail(err, EINVAL, "namespace label needs a NAMESPACE");
		return NULL;
	}
	if (sl_check_namespace(ns, err))
		return NULL;
	if (json_labels(json_object_get(req, "set"), &set, err))
		goto out;
	json_strings(json_object_get(req, "remove"), &rm, &nrm);
	if (agent_ns_relabel(a, ns, &set, rm, nrm, err))
		goto out;
	res = json_pack("{s:s,s:o}", "namespace", ns, "labels",
			labels_json(&registry_ns_get(&a->reg, ns, true)->labels, false));
out:
	free(rm);
	sluice_labels_free(&set);
	return res;
}

static json_t *cmd_ns_list(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	json_t *arr = json_array();
	size_t i;

	(void)c;
	(void)req;
	(void)err;
	for (i = 0; i < a->reg.nnss; i++)
		json_array_append_new(arr, json_pack("{s:s,s:o}", "name", a->reg.nss[i].name, "labels",
						     labels_json(&a->reg.nss[i].labels, false)));
	return json_pack("{s:o}", "namespaces", arr);
}

static json_t *cmd_identity_list(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	json_t *arr = json_array();
	size_t i, n = sluice_idt_count(a->reg.idt);

	(void)c;
	(void)req;
	(void)err;
	for (i = 0; i < n; i++) {
		uint32_t id = sluice_idt_at(a->reg.idt, i);
		const struct sluice_labels *l = sluice_idt_labels(a->reg.idt, id);
		json_t *labels = json_array();
		size_t k;

		for (k = 0; l && k < l->n; k++) {
			char *s = l->v[k].value[0] ? sl_strdupf("%s:%s=%s", l->v[k].source, l->v[k].key,
								 l->v[k].value)
						   : sl_strdupf("%s:%s", l->v[k].source, l->v[k].key);

			json_array_append_new(labels, json_string(s));
			free(s);
		}
		json_array_append_new(arr, json_pack("{s:i,s:o,s:i}", "identity", (json_int_t)id,
						     "labels", labels, "references",
						     (json_int_t)sluice_idt_refcount(a->reg.idt, id)));
	}
	return json_pack("{s:o}", "identities", arr);
}

/* The agent's resident memory (VmRSS, VmHWM), from /proc/self/status. */
static json_t *memory_json(void)
{
	char *text = NULL, *line;
	size_t len = 0;
	long long rss = 0, hwm = 0;

	if (sl_read_file("/proc/self/status", 1u << 16, &text, &len) == 0) {
		if ((line = strstr(text, "\nVmRSS:")))
			rss = strtoll(line + 8, NULL, 10) * 1024;
		if ((line = strstr(text, "\nVmHWM:")))
			hwm = strtoll(line + 8, NULL, 10) * 1024;
	}
	free(text);
	return json_pack("{s:I,s:I}", "rss_bytes", (json_int_t)rss, "rss_peak_bytes", (json_int_t)hwm);
}

static json_t *cmd_status(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	json_t *o = json_object(), *maps = json_array(), *progs = json_array(), *stats = json_object();
	struct sluice_dp_map_fill fill[SLUICE_DP_MAPS_MAX];
	uint64_t st[SLUICE_STAT_MAX] = { 0 };
	char **names = NULL;
	size_t nnames = 0, i;
	int nmaps = sluice_dp_map_fill(a->dp, fill, SLUICE_DP_MAPS_MAX);
#define STAT_NAME_(name, status, family, labels) status,
	static const char *const stat_names[SLUICE_STAT_MAX] = { SLUICE_STATS(STAT_NAME_) };
#undef STAT_NAME_

	(void)c;
	(void)req;
	(void)err;
	for (i = 0; nmaps > 0 && i < (size_t)nmaps && i < SLUICE_DP_MAPS_MAX; i++)
		json_array_append_new(maps, json_pack("{s:s,s:i,s:i}", "name", fill[i].name, "entries",
						      (json_int_t)fill[i].entries, "max_entries",
						      (json_int_t)fill[i].max_entries));
	if (!sluice_dp_programs(a->dp, &names, &nnames)) {
		for (i = 0; i < nnames; i++) {
			json_array_append_new(progs, json_string(names[i]));
			free(names[i]);
		}
		free(names);
	}
	sluice_dp_stats(a->dp, st);
	for (i = 0; i < SLUICE_STAT_MAX; i++)
		if (stat_names[i])
			json_object_set_new(stats, stat_names[i], json_integer((json_int_t)st[i]));
	json_object_set_new(o, "health", json_string("ok"));
	json_object_set_new(o, "version", json_string(SLUICE_VERSION));
	json_object_set_new(o, "datapath_abi", json_integer(SLUICE_ABI_VERSION));
	json_object_set_new(o, "memory", memory_json());
	json_object_set_new(o, "node", json_string(a->cfg.node_name));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "uptime_seconds",
			    json_integer((json_int_t)((sl_now_ns() - a->started_ns) / 1000000000ull)));
	json_object_set_new(o, "bpf_root", json_string(a->cfg.bpf_root));
	json_object_set_new(o, "cgroup_root", json_string(a->cfg.cgroup_root));
	if (a->k8s) {
		/* the primary CNI gives pods their addresses (--pod-cidr is not
		 * used): say so, and the Node's podCIDRs once read */
		json_object_set_new(o, "pod_addresses", json_string("primary CNI"));
		json_object_set_new(o, "node_pod_cidrs", agent_k8s_node_pod_cidrs(a));
	} else {
		json_object_set_new(o, "pod_cidr", json_string(a->cfg.pod_cidr));
	}
	json_object_set_new(o, "service_cidr", json_string(a->cfg.service_cidr));
	json_object_set_new(o, "adopted_pinned_state", json_boolean(a->adopted));
	{
		/* the addresses that carry the host identity, as last scanned */
		json_t *ha = json_array();
		char ip[64];

		for (i = 0; i < a->nhost_addrs; i++)
			json_array_append_new(ha, json_string(sl_addr_str(a->host_addrs[i], ip, sizeof(ip))));
		json_object_set_new(o, "host_addresses", ha);
	}
	json_object_set_new(o, "endpoints", json_integer((json_int_t)a->reg.npods));
	json_object_set_new(o, "identities", json_integer((json_int_t)sluice_idt_count(a->reg.idt)));
	json_object_set_new(o, "policies", json_integer((json_int_t)a->policies.n));
	{
		struct agent_services_counts sc;

		agent_services_counts(a, &sc);
		json_object_set_new(o, "services", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "services",
							   (json_int_t)sc.services, "frontends",
							   (json_int_t)sc.frontends, "backends",
							   (json_int_t)sc.backends, "map_entries",
							   (json_int_t)sc.entries, "map_max_entries",
							   (json_int_t)sc.max_entries, "udp_sockets_cut",
							   (json_int_t)sc.udp_sockets_cut));
	}
	json_object_set_new(o, "regenerations", json_integer((json_int_t)a->counters.regenerations));
	json_object_set_new(o, "policy_map_swaps", json_integer((json_int_t)a->counters.policy_swaps));
	json_object_set_new(o, "policy_map_swaps_prepared",
			    json_integer((json_int_t)a->counters.policy_swaps_prepared));
	json_object_set_new(o, "policy_map_patches", json_integer((json_int_t)a->counters.policy_patches));
	json_object_set_new(o, "policy_item_edits", json_integer((json_int_t)a->counters.policy_edits));
	json_object_set_new(o, "policy_compile_edits", json_integer((json_int_t)a->counters.compile_edits));
	json_object_set_new(o, "last_policy_apply_us", json_integer((json_int_t)(a->last_apply_ns / 1000)));
	json_object_set_new(o, "last_policy_apply_phases_us", agent_phases_json(&a->last_phases));
	json_object_set_new(o, "programs", progs);
	json_object_set_new(o, "maps", maps);
	json_object_set_new(o, "datapath", stats);
	json_object_set_new(o, "proxy", proxy_ctl_status(a));
	json_object_set_new(o, "connections_cut", json_integer((json_int_t)a->counters.connections_cut));
	json_object_set_new(o, "revalidation",
			    json_pack("{s:I, s:I, s:I, s:I}", "walks", (json_int_t)a->counters.reval_walks,
				      "last_entries", (json_int_t)a->counters.reval_last_entries,
				      "last_verdict_lookups", (json_int_t)a->counters.reval_last_lookups,
				      "last_us", (json_int_t)(a->counters.reval_last_ns / 1000)));
	json_object_set_new(o, "rollbacks_failed", json_integer((json_int_t)a->counters.rollbacks_failed));
	json_object_set_new(o, "commits", json_integer((json_int_t)a->counters.commits));
	json_object_set_new(o, "state_save_failures", json_integer((json_int_t)a->counters.state_save_failures));
	json_object_set_new(o, "cni", agent_cni_status_json(a));
	if (a->k8s)
		json_object_set_new(o, "kubernetes", agent_k8s_status(a));
	flows_status(a, o);
	return o;
}

static json_t *cmd_pod_delete(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	(void)c;
	if (agent_cni_refuse_delete(a, req_str(req, "namespace") ?: "", req_str(req, "name") ?: "", err) ||
	    agent_pod_delete(a, req_str(req, "namespace") ?: "", req_str(req, "name") ?: "", err))
		return NULL;
	return json_object();
}

static json_t *cmd_policy_apply(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	json_t *res = json_object();
	int rc = agent_policy_apply(a, json_object_get(req, "files"),
				    json_is_true(json_object_get(req, "dry_run")), res, err);

	(void)c;
	if (rc) {
		/* errors travel in full, the one-line error summarises */
		json_object_set_new(res, "ok", json_false());
		json_object_set_new(res, "error", json_string(*err ? *err : "apply failed"));
	}
	return res;
}

static json_t *cmd_policy_delete(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	const char *k = req_str(req, "kind");
	int kind = k ? sluice_policy_kind_parse(k) : -1;

	(void)c;
	if (k && kind < 0) {
		sl_fail(err, EINVAL, "unknown kind \"%s\" (CiliumNetworkPolicy or cnp, CiliumClusterwideNetworkPolicy or ccnp, NetworkPolicy or netpol, CiliumCIDRGroup or ccg)", k);
		return NULL;
	}
	if (agent_policy_delete(a, req_str(req, "ref") ?: "", kind, err))
		return NULL;
	return json_object();
}

static json_t *cmd_policy_list(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	(void)c;
	(void)req;
	(void)err;
	return json_pack("{s:o}", "policies", agent_policy_list(a));
}

static json_t *cmd_policy_get(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	json_t *docs = agent_policy_get(a, req_str(req, "ref") ?: "", err);

	(void)c;
	return docs ? json_pack("{s:o}", "documents", docs) : NULL;
}

static json_t *cmd_proxy_restart(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	(void)c;
	(void)req;
	if (proxy_ctl_restart(a, err))
		return NULL;
	return json_object();
}

/* cni.* commands: sluice-cni's calls (cni.c) */
static json_t *cmd_cni(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	(void)c;
	return agent_cni_api(a, json_string_value(json_object_get(req, "cmd")), req, err);
}

/* Adding a command: a handler above (or in the module that owns the data,
 * declared in its header), one line here, the CLI verb in cli/, and a test
 * (docs/maintainer.md). */
const struct api_command agent_commands[] = {
	{ "status", cmd_status, 0 },
	{ "pod.create", cmd_pod_create, 0 },
	{ "pod.import", cmd_pod_import, 0 },
	{ "pod.delete", cmd_pod_delete, 0 },
	{ "pod.list", cmd_pod_list, 0 },
	{ "pod.get", cmd_pod_get, 0 },
	{ "pod.label", cmd_pod_label, 0 },
	{ "namespace.label", cmd_ns_label, 0 },
	{ "namespace.list", cmd_ns_list, 0 },
	{ "identity.list", cmd_identity_list, 0 },
	{ "policy.apply", cmd_policy_apply, 0 },
	{ "policy.delete", cmd_policy_delete, 0 },
	{ "policy.list", cmd_policy_list, 0 },
	{ "policy.get", cmd_policy_get, 0 },
	{ "proxy.restart", cmd_proxy_restart, 0 },
	{ "service.create", services_cmd_create, 0 },
	{ "service.update", services_cmd_update, 0 },
	{ "service.delete", services_cmd_delete, 0 },
	{ "service.list", services_cmd_list, 0 },
	{ "service.get", services_cmd_get, 0 },
	{ "secret.create", agent_secrets_cmd, 0 },
	{ "secret.list", agent_secrets_cmd, 0 },
	{ "secret.get", agent_secrets_cmd, 0 },
	{ "secret.delete", agent_secrets_cmd, 0 },
	{ "observe", flows_cmd_observe, API_CMD_STREAMING },
	{ "cni.status", cmd_cni, 0 },
	{ "cni.attach", cmd_cni, 0 },
	{ "cni.detach", cmd_cni, 0 },
	{ "cni.check", cmd_cni, 0 },
	{ "cni.gc", cmd_cni, 0 },
	{ "cni.uninstall", cmd_cni, 0 },
	{ "cni.list", cmd_cni, 0 },
};
const size_t agent_ncommands = sizeof(agent_commands) / sizeof(agent_commands[0]);
