/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.c - the agent's declared state on disk (--state-dir), so that a
 * restarted agent adopts the pods, identities and policies it left without
 * flushing the pinned maps that kept enforcing them meanwhile.
 *
 * The file is rewritten whole (write to a temporary file, then rename) after
 * every change, so a crash leaves either the old or the new state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "agent.h"

#define STATE_VERSION 1

static json_t *labels_array(const struct sluice_labels *l)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_array_append_new(arr, json_pack("[sss]", l->v[i].source, l->v[i].key, l->v[i].value));
	return arr;
}

static void labels_from_array(json_t *arr, struct sluice_labels *out)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		sluice_labels_add(out, json_string_value(json_array_get(v, 0)) ?: "k8s",
				  json_string_value(json_array_get(v, 1)) ?: "",
				  json_string_value(json_array_get(v, 2)) ?: "");
}

static char *state_path(struct agent *a, const char *suffix)
{
	return sl_strdupf("%s/state.json%s", a->cfg.state_dir, suffix);
}

int agent_state_save(struct agent *a)
{
	json_t *root = json_object(), *nss = json_array(), *pods = json_array(), *ids = json_array();
	json_t *pols = json_array();
	char *tmp = state_path(a, ".tmp"), *final = state_path(a, "");
	size_t i, j;
	int rc = 0;

	for (i = 0; i < a->nnss; i++)
		json_array_append_new(nss, json_pack("{s:s,s:o}", "name", a->nss[i].name, "labels",
						     labels_array(&a->nss[i].labels)));
	for (i = 0; i < a->npods; i++) {
		struct agent_pod *p = a->pods[i];
		json_t *ports = json_array();

		for (j = 0; j < p->nports; j++)
			json_array_append_new(ports, json_pack("{s:s,s:i,s:i}", "name", p->ports[j].name,
							       "port", (json_int_t)p->ports[j].port,
							       "protocol", (json_int_t)p->ports[j].protocol));
		json_array_append_new(pods, json_pack(
			"{s:s,s:s,s:o,s:o,s:I,s:I,s:I,s:s,s:s,s:s,s:I}", "namespace", p->ns, "name", p->name,
			"labels", labels_array(&p->labels), "ports", ports, "endpoint", (json_int_t)p->ep_id,
			"identity", (json_int_t)p->identity, "ip", (json_int_t)p->net.ip, "netns",
			p->net.netns, "interface", p->net.host_ifname, "cgroup", p->net.cgroup,
			"created_ns", (json_int_t)p->created_ns));
	}
	{
		json_t *remotes = json_array();

		for (i = 0; i < a->nremotes; i++)
			json_array_append_new(remotes, json_pack("{s:s,s:s,s:o,s:I}", "namespace", a->remotes[i]->ns,
								 "name", a->remotes[i]->name, "labels",
								 labels_array(&a->remotes[i]->labels), "ip",
								 (json_int_t)a->remotes[i]->net.ip));
		json_object_set_new(root, "remote_pods", remotes);
	}
	for (i = 0; i < sluice_idt_count(a->idt); i++) {
		uint32_t id = sluice_idt_at(a->idt, i);

		if (id < SLUICE_ID_CLUSTER_MIN)
			continue;
		json_array_append_new(ids, json_pack("{s:I,s:o}", "identity", (json_int_t)id, "labels",
						     labels_array(sluice_idt_labels(a->idt, id))));
	}
	for (i = 0; i < a->nsrcs; i++)
		json_array_append_new(pols, json_pack("{s:i,s:o,s:s,s:s,s:s}", "kind", a->srcs[i].kind,
						      "namespace", a->srcs[i].ns ? json_string(a->srcs[i].ns) : json_null(),
						      "name", a->srcs[i].name, "file", a->srcs[i].file,
						      "text", a->srcs[i].text));
	json_object_set_new(root, "version", json_integer(STATE_VERSION));
	json_object_set_new(root, "next_endpoint", json_integer(a->next_ep_id));
	json_object_set_new(root, "next_ip_offset", json_integer(a->next_ip_offset));
	json_object_set_new(root, "namespaces", nss);
	json_object_set_new(root, "pods", pods);
	json_object_set_new(root, "identities", ids);
	json_object_set_new(root, "policies", pols);
	mkdir(a->cfg.state_dir, 0700);
	if (json_dump_file(root, tmp, JSON_COMPACT) || rename(tmp, final))
		rc = -errno ? -errno : -EIO;
	json_decref(root);
	free(tmp);
	free(final);
	return rc;
}

int agent_state_restore(struct agent *a, char **err)
{
	char *path = state_path(a, "");
	json_error_t jerr;
	json_t *root, *v;
	size_t i;
	int rc = 0;

	root = json_load_file(path, 0, &jerr);
	free(path);
	if (!root)
		return 0; /* nothing to adopt */
	if (json_integer_value(json_object_get(root, "version")) != STATE_VERSION) {
		json_decref(root);
		fprintf(stderr, "sluiced: ignoring state file of another version\n");
		return 0;
	}
	a->next_ep_id = (uint32_t)json_integer_value(json_object_get(root, "next_endpoint")) ?: 1;
	a->next_ip_offset = (uint32_t)json_integer_value(json_object_get(root, "next_ip_offset"));
	json_array_foreach(json_object_get(root, "namespaces"), i, v) {
		struct agent_namespace *ns = agent_ns_get(a, json_string_value(json_object_get(v, "name")) ?: "default", true);

		labels_from_array(json_object_get(v, "labels"), &ns->labels);
	}
	json_array_foreach(json_object_get(root, "identities"), i, v) {
		struct sluice_labels l = { 0 };

		labels_from_array(json_object_get(v, "labels"), &l);
		sluice_idt_restore(a->idt, (uint32_t)json_integer_value(json_object_get(v, "identity")), &l);
		sluice_labels_free(&l);
	}
	json_array_foreach(json_object_get(root, "pods"), i, v) {
		struct agent_pod *p = sl_xcalloc(1, sizeof(*p));
		struct sluice_labels idl = { 0 };
		struct agent_namespace *ns;
		json_t *jp;
		size_t k;
		char nspath[128];

		p->ns = sl_xstrdup(json_string_value(json_object_get(v, "namespace")));
		p->name = sl_xstrdup(json_string_value(json_object_get(v, "name")));
		labels_from_array(json_object_get(v, "labels"), &p->labels);
		p->ep_id = (uint32_t)json_integer_value(json_object_get(v, "endpoint"));
		p->net.ip = (uint32_t)json_integer_value(json_object_get(v, "ip"));
		p->created_ns = (uint64_t)json_integer_value(json_object_get(v, "created_ns"));
		p->proxy_listener_fd = -1;
		snprintf(p->net.netns, sizeof(p->net.netns), "%s", json_string_value(json_object_get(v, "netns")) ?: "");
		snprintf(p->net.host_ifname, sizeof(p->net.host_ifname), "%s",
			 json_string_value(json_object_get(v, "interface")) ?: "");
		snprintf(p->net.cgroup, sizeof(p->net.cgroup), "%s", json_string_value(json_object_get(v, "cgroup")) ?: "");
		p->ports = sl_xcalloc(json_array_size(json_object_get(v, "ports")) + 1, sizeof(*p->ports));
		json_array_foreach(json_object_get(v, "ports"), k, jp) {
			p->ports[k].name = sl_xstrdup(json_string_value(json_object_get(jp, "name")));
			p->ports[k].port = (uint16_t)json_integer_value(json_object_get(jp, "port"));
			p->ports[k].protocol = (uint8_t)json_integer_value(json_object_get(jp, "protocol"));
			p->nports++;
		}
		snprintf(nspath, sizeof(nspath), "/run/netns/%s", p->net.netns);
		p->net.host_ifindex = pod_net_host_ifindex(&p->net);
		if (access(nspath, F_OK) || p->net.host_ifindex <= 0) {
			fprintf(stderr, "sluiced: pod %s/%s is gone (netns %s), dropping it\n", p->ns, p->name,
				p->net.netns);
			pod_net_delete(&p->net);
			sluice_labels_free(&p->labels);
			for (k = 0; k < p->nports; k++)
				free(p->ports[k].name);
			free(p->ports);
			free(p->ns);
			free(p->name);
			free(p);
			continue;
		}
		ns = agent_ns_get(a, p->ns, true);
		sluice_pod_identity_labels(&idl, p->ns, &p->labels, &ns->labels);
		p->identity = sluice_idt_acquire(a->idt, &idl);
		sluice_labels_free(&idl);
		a->pods = realloc(a->pods, (a->npods + 1) * sizeof(*a->pods));
		a->pods[a->npods++] = p;
	}
	json_array_foreach(json_object_get(root, "remote_pods"), i, v) {
		struct agent_pod *p = sl_xcalloc(1, sizeof(*p));
		struct sluice_labels idl = { 0 };
		struct agent_namespace *ns;

		p->ns = sl_xstrdup(json_string_value(json_object_get(v, "namespace")));
		p->name = sl_xstrdup(json_string_value(json_object_get(v, "name")));
		labels_from_array(json_object_get(v, "labels"), &p->labels);
		p->net.ip = (uint32_t)json_integer_value(json_object_get(v, "ip"));
		p->remote = true;
		p->proxy_listener_fd = -1;
		ns = agent_ns_get(a, p->ns, true);
		sluice_pod_identity_labels(&idl, p->ns, &p->labels, &ns->labels);
		p->identity = sluice_idt_acquire(a->idt, &idl);
		sluice_labels_free(&idl);
		a->remotes = realloc(a->remotes, (a->nremotes + 1) * sizeof(*a->remotes));
		a->remotes[a->nremotes++] = p;
	}
	json_array_foreach(json_object_get(root, "policies"), i, v) {
		struct sluice_diags e = { 0 }, w = { 0 };
		const char *file = json_string_value(json_object_get(v, "file")) ?: "state";
		const char *text = json_string_value(json_object_get(v, "text")) ?: "";
		struct sluice_policy_set set = { 0 };

		if (sluice_policy_load(file, text, strlen(text), &set, &e, &w) == 0) {
			size_t k;

			for (k = 0; k < set.n; k++) {
				struct agent_policy_src *s;

				a->srcs = realloc(a->srcs, (a->nsrcs + 1) * sizeof(*a->srcs));
				s = &a->srcs[a->nsrcs++];
				s->kind = set.v[k].kind;
				s->ns = set.v[k].namespace ? sl_xstrdup(set.v[k].namespace) : NULL;
				s->name = sl_xstrdup(set.v[k].name);
				s->file = sl_xstrdup(file);
				s->text = sl_xstrdup(text);
			}
			sluice_policy_set_merge(&a->policies, &set);
		} else {
			fprintf(stderr, "sluiced: stored policy from %s no longer parses: %s\n", file,
				e.n ? e.v[0].msg : "?");
		}
		sluice_policy_set_free(&set);
		sluice_diags_free(&e);
		sluice_diags_free(&w);
	}
	json_decref(root);
	/* Rewrite maps from the restored state (atomic swaps, same contents),
	 * then re-attach the freshly loaded programs to every pod. */
	rc = agent_regenerate(a, err);
	for (i = 0; !rc && i < a->nremotes; i++) {
		uint8_t addr[16];

		sl_addr_from_ipv4(addr, a->remotes[i]->net.ip);
		sluice_dp_ipcache_update(a->dp, addr, 128, a->remotes[i]->identity, 0);
	}
	for (i = 0; !rc && i < a->npods; i++) {
		uint8_t addr[16];

		sl_addr_from_ipv4(addr, a->pods[i]->net.ip);
		sluice_dp_ipcache_update(a->dp, addr, 128, a->pods[i]->identity, SLUICE_IPC_F_LOCAL_POD);
		rc = sluice_dp_attach_endpoint(a->dp, a->pods[i]->net.host_ifindex, err);
		if (!rc)
			rc = agent_pod_attach_steering(a, a->pods[i], err);
	}
	return rc;
}
