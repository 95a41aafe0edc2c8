/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.c - the agent's local API: newline-delimited JSON over a unix socket.
 *
 * A request is one JSON object {"cmd": "...", ...}; the answer is one JSON
 * object {"ok": true, ...} or {"ok": false, "error": "one line"}. The socket
 * is root-only (0600): whoever can talk to it can change the node's policy.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/names.h"
#include "../common/util.h"
#include "agent.h"
#include "k8s.h"
#include "api.h"
#include "cni.h"
#include "proxy_ctl.h"
#include "revalidate.h"

#define API_MAX_REQUEST (64u << 20) /* policy files can be large */

struct api_client {
	uv_pipe_t pipe;
	struct agent *agent;
	char *buf;
	size_t len, cap;
	bool closing;
	struct api_client *next;
	void *stream_ctx;  /* set while a streaming command (observe) runs */
	size_t scan;       /* buf[0..scan) holds no newline */
	json_t *pending;   /* a request waiting for its attachments */
	size_t need;       /* ... of this many bytes */
};

static uv_pipe_t api_server;
static struct agent *api_agent;
static struct api_client *clients;

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

static json_t *cmd_pod_create(struct agent *a, json_t *req, char **err)
{
	const char *ns = req_str(req, "namespace"), *name = req_str(req, "name");
	struct sluice_labels labels = { 0 };
	struct sluice_named_port *ports = NULL;
	struct agent_pod *p = NULL;
	size_t nports = 0, i;
	json_t *jp, *res = NULL;

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
static json_t *cmd_pod_import(struct agent *a, json_t *req, char **err)
{
	json_t *pods = json_object_get(req, "pods"), *jp, *res = NULL;
	size_t n = json_array_size(pods), i;
	struct agent_remote_spec *v = sl_xcalloc(n + 1, sizeof(*v));
	struct sluice_labels *labels = sl_xcalloc(n + 1, sizeof(*labels));

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

static json_t *cmd_pod_list(struct agent *a)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < a->npods; i++)
		json_array_append_new(arr, pod_json(a, a->pods[i]));
	for (i = 0; i < a->nremotes; i++)
		json_array_append_new(arr, pod_json(a, a->remotes[i]));
	return json_pack("{s:o}", "pods", arr);
}

static struct agent_pod *find_any(struct agent *a, json_t *req)
{
	const char *ns = req_str(req, "namespace") ?: "", *name = req_str(req, "name") ?: "";

	return agent_pod_find(a, ns, name) ?: agent_remote_find(a, ns, name);
}

static json_t *cmd_pod_get(struct agent *a, json_t *req, char **err)
{
	struct agent_pod *p = find_any(a, req);

	if (!p) {
		sl_fail(err, ENOENT, "pod %s/%s not found", req_str(req, "namespace") ?: "",
			req_str(req, "name") ?: "");
		return NULL;
	}
	return pod_json(a, p);
}

static json_t *cmd_pod_label(struct agent *a, json_t *req, char **err)
{
	struct agent_pod *p = find_any(a, req);
	struct sluice_labels set = { 0 };
	char **rm = NULL;
	size_t nrm = 0;
	json_t *res = NULL;

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

static json_t *cmd_ns_label(struct agent *a, json_t *req, char **err)
{
	const char *ns = req_str(req, "namespace");
	struct sluice_labels set = { 0 };
	char **rm = NULL;
	size_t nrm = 0;
	json_t *res = NULL;

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
			labels_json(&agent_ns_get(a, ns, true)->labels, false));
out:
	free(rm);
	sluice_labels_free(&set);
	return res;
}

static json_t *cmd_ns_list(struct agent *a)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < a->nnss; i++)
		json_array_append_new(arr, json_pack("{s:s,s:o}", "name", a->nss[i].name, "labels",
						     labels_json(&a->nss[i].labels, false)));
	return json_pack("{s:o}", "namespaces", arr);
}

static json_t *cmd_identity_list(struct agent *a)
{
	json_t *arr = json_array();
	size_t i, n = sluice_idt_count(a->idt);

	for (i = 0; i < n; i++) {
		uint32_t id = sluice_idt_at(a->idt, i);
		const struct sluice_labels *l = sluice_idt_labels(a->idt, id);
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
						     (json_int_t)sluice_idt_refcount(a->idt, id)));
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

static json_t *cmd_status(struct agent *a)
{
	json_t *o = json_object(), *maps = json_array(), *progs = json_array(), *stats = json_object();
	struct sluice_dp_map_fill fill[16];
	uint64_t st[SLUICE_STAT_MAX] = { 0 };
	char **names = NULL;
	size_t nnames = 0, i;
	int nmaps = sluice_dp_map_fill(a->dp, fill, 16);
#define STAT_NAME_(name, status, family, labels) status,
	static const char *const stat_names[SLUICE_STAT_MAX] = { SLUICE_STATS(STAT_NAME_) };
#undef STAT_NAME_

	for (i = 0; nmaps > 0 && i < (size_t)nmaps && i < 16; i++)
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
	json_object_set_new(o, "pod_cidr", json_string(a->cfg.pod_cidr));
	json_object_set_new(o, "adopted_pinned_state", json_boolean(a->adopted));
	json_object_set_new(o, "endpoints", json_integer((json_int_t)a->npods));
	json_object_set_new(o, "identities", json_integer((json_int_t)sluice_idt_count(a->idt)));
	json_object_set_new(o, "policies", json_integer((json_int_t)a->policies.n));
	json_object_set_new(o, "regenerations", json_integer((json_int_t)a->regenerations));
	json_object_set_new(o, "policy_map_swaps", json_integer((json_int_t)a->policy_swaps));
	json_object_set_new(o, "policy_map_patches", json_integer((json_int_t)a->policy_patches));
	json_object_set_new(o, "policy_item_edits", json_integer((json_int_t)a->policy_edits));
	json_object_set_new(o, "policy_compile_edits", json_integer((json_int_t)a->compile_edits));
	json_object_set_new(o, "last_policy_apply_us", json_integer((json_int_t)(a->last_apply_ns / 1000)));
	json_object_set_new(o, "last_policy_apply_phases_us", agent_phases_json(&a->last_phases));
	json_object_set_new(o, "programs", progs);
	json_object_set_new(o, "maps", maps);
	json_object_set_new(o, "datapath", stats);
	json_object_set_new(o, "proxy", proxy_ctl_status(a));
	json_object_set_new(o, "connections_cut", json_integer((json_int_t)revalidate_cut_total()));
	json_object_set_new(o, "cni", agent_cni_status_json(a));
	if (a->k8s)
		json_object_set_new(o, "kubernetes", agent_k8s_status(a));
	api_status_extend(a, o);
	return o;
}

static json_t *dispatch(struct api_client *c, json_t *req, char **err)
{
	struct agent *a = c->agent;
	const char *cmd = req_str(req, "cmd");

	if (!cmd) {
		sl_fail(err, EINVAL, "request has no cmd");
		return NULL;
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(a);
	if (!strcmp(cmd, "pod.create"))
		return cmd_pod_create(a, req, err);
	if (!strcmp(cmd, "pod.import"))
		return cmd_pod_import(a, req, err);
	if (!strcmp(cmd, "pod.delete")) {
		if (agent_cni_refuse_delete(a, req_str(req, "namespace") ?: "", req_str(req, "name") ?: "", err) ||
		    agent_pod_delete(a, req_str(req, "namespace") ?: "", req_str(req, "name") ?: "", err))
			return NULL;
		return json_object();
	}
	if (!strcmp(cmd, "pod.list"))
		return cmd_pod_list(a);
	if (!strcmp(cmd, "pod.get"))
		return cmd_pod_get(a, req, err);
	if (!strcmp(cmd, "pod.label"))
		return cmd_pod_label(a, req, err);
	if (!strcmp(cmd, "namespace.label"))
		return cmd_ns_label(a, req, err);
	if (!strcmp(cmd, "namespace.list"))
		return cmd_ns_list(a);
	if (!strcmp(cmd, "identity.list"))
		return cmd_identity_list(a);
	if (!strcmp(cmd, "policy.apply")) {
		json_t *res = json_object();
		int rc = agent_policy_apply(a, json_object_get(req, "files"),
					    json_is_true(json_object_get(req, "dry_run")), res, err);

		if (rc) {
			/* errors travel in full, the one-line error summarises */
			json_object_set_new(res, "ok", json_false());
			json_object_set_new(res, "error", json_string(*err));
		}
		return res;
	}
	if (!strcmp(cmd, "policy.delete")) {
		if (agent_policy_delete(a, req_str(req, "ref") ?: "", err))
			return NULL;
		return json_object();
	}
	if (!strcmp(cmd, "proxy.restart")) {
		if (proxy_ctl_restart(a, err))
			return NULL;
		return json_object();
	}
	if (!strcmp(cmd, "policy.list"))
		return json_pack("{s:o}", "policies", agent_policy_list(a));
	if (!strcmp(cmd, "policy.get")) {
		json_t *docs = agent_policy_get(a, req_str(req, "ref") ?: "", err);

		return docs ? json_pack("{s:o}", "documents", docs) : NULL;
	}
	if (!strncmp(cmd, "cni.", 4))
		return agent_cni_api(a, cmd, req, err);
	{
		json_t *res = api_dispatch_extra(a, c, cmd, req, err);

		if (res || *err)
			return res;
	}
	sl_fail(err, EINVAL, "unknown command %s", cmd);
	return NULL;
}

static void on_close(uv_handle_t *h)
{
	struct api_client *c = h->data, **pp;

	for (pp = &clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	api_stream_closed(c);
	json_decref(c->pending);
	free(c->buf);
	/* a large request (a policy set) is garbage now, with what parsing
	 * it cost: give it back instead of keeping it for the next one */
	if (c->cap >= (1u << 20))
		malloc_trim(0);
	free(c);
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

size_t api_client_queued(struct api_client *c)
{
	return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

void **api_client_stream_ctx(struct api_client *c)
{
	return &c->stream_ctx;
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
			answer_error(c, "a policy file contains a NUL byte: not a YAML file");
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

	(void)hint;
	if (c->cap - c->len < 65536) {
		c->cap = c->cap ? c->cap * 2 : 131072;
		c->buf = realloc(c->buf, c->cap);
		if (!c->buf)
			abort();
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
	struct api_client *c;

	if (status < 0)
		return;
	c = sl_xcalloc(1, sizeof(*c));
	c->agent = api_agent;
	uv_pipe_init(server->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe)) {
		uv_close((uv_handle_t *)&c->pipe, (uv_close_cb)free);
		return;
	}
	c->next = clients;
	clients = c;
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

int agent_api_start(struct agent *a, char **err)
{
	char dir[4096], *slash;
	int rc;

	api_agent = a;
	snprintf(dir, sizeof(dir), "%s", a->cfg.socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755);
	}
	unlink(a->cfg.socket_path);
	uv_pipe_init(a->loop, &api_server, 0);
	rc = uv_pipe_bind(&api_server, a->cfg.socket_path);
	if (rc)
		return sl_fail(err, rc, "cannot bind %s: %s", a->cfg.socket_path, uv_strerror(rc));
	chmod(a->cfg.socket_path, 0600);
	rc = uv_listen((uv_stream_t *)&api_server, 64, on_connection);
	if (rc)
		return sl_fail(err, rc, "cannot listen on %s: %s", a->cfg.socket_path, uv_strerror(rc));
	return 0;
}

void agent_api_stop(struct agent *a)
{
	struct api_client *c;

	for (c = clients; c; c = c->next)
		api_client_close(c);
	if (!uv_is_closing((uv_handle_t *)&api_server))
		uv_close((uv_handle_t *)&api_server, NULL);
	unlink(a->cfg.socket_path);
}
