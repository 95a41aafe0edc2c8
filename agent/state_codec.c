/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state_codec.c - the registry and the policy sources to and from the JSON
 * of the state directory (pods.json, state.json). Pure: see state_codec.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "state_codec.h"

static json_t *labels_array(const struct sluice_labels *l)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; l && i < l->n; i++)
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

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static json_t *cni_json(const struct agent_cni_attachment *c)
{
	if (!c)
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:s}", "container_id", c->container_id, "network", c->network,
			 "ifname", c->ifname, "netns", c->netns_source);
}

static json_t *workload_json(const struct agent_workload *w)
{
	if (!w->kind)
		return NULL;
	return json_pack("{s:s,s:s}", "kind", w->kind, "name", w->name ?: "");
}

static json_t *pod_json(const struct agent_pod *p)
{
	json_t *ports = json_array();
	size_t j;

	for (j = 0; j < p->nports; j++)
		json_array_append_new(ports, json_pack("{s:s,s:i,s:i}", "name", p->ports[j].name, "port",
						       (json_int_t)p->ports[j].port, "protocol",
						       (json_int_t)p->ports[j].protocol));
	return json_pack("{s:s,s:s,s:o,s:o,s:I,s:I,s:I,s:s,s:s,s:s,s:I,s:o*,s:o*}", "namespace", p->ns, "name",
			 p->name, "labels", labels_array(&p->labels), "ports", ports, "endpoint",
			 (json_int_t)p->ep_id, "identity", (json_int_t)p->identity, "ip", (json_int_t)p->net.ip,
			 "netns", p->net.netns, "interface", p->net.host_ifname, "cgroup", p->net.cgroup,
			 "created_ns", (json_int_t)p->created_ns, "cni", cni_json(p->cni), "workload",
			 workload_json(&p->workload));
}

json_t *state_registry_json(const struct agent_registry *r)
{
	json_t *root = json_object(), *nss = json_array(), *pods = json_array(), *ids = json_array();
	json_t *remotes = json_array();
	size_t i;

	for (i = 0; i < r->nnss; i++)
		json_array_append_new(nss, json_pack("{s:s,s:o}", "name", r->nss[i].name, "labels",
						     labels_array(&r->nss[i].labels)));
	for (i = 0; i < r->npods; i++)
		json_array_append_new(pods, pod_json(r->pods[i]));
	for (i = 0; i < r->nremotes; i++)
		json_array_append_new(remotes, json_pack("{s:s,s:s,s:o,s:I,s:I}", "namespace", r->remotes[i]->ns,
							 "name", r->remotes[i]->name, "labels",
							 labels_array(&r->remotes[i]->labels), "ip",
							 (json_int_t)r->remotes[i]->net.ip, "identity",
							 (json_int_t)r->remotes[i]->identity));
	/* identities of the cluster range by number (CIDR identities, as many
	 * as the prefixes policies name, have a file of their own) */
	for (i = 0; i < sluice_idt_count(r->idt); i++) {
		uint32_t id = sluice_idt_at(r->idt, i);

		if (id < SLUICE_ID_CLUSTER_MIN || id >= SLUICE_ID_LOCAL_MIN)
			continue;
		json_array_append_new(ids, json_pack("{s:I,s:o}", "identity", (json_int_t)id, "labels",
						     labels_array(sluice_idt_labels(r->idt, id))));
	}
	json_object_set_new(root, "version", json_integer(STATE_VERSION));
	json_object_set_new(root, "next_endpoint", json_integer(r->next_ep_id));
	json_object_set_new(root, "next_ip_offset", json_integer(r->next_ip_offset));
	json_object_set_new(root, "namespaces", nss);
	json_object_set_new(root, "pods", pods);
	json_object_set_new(root, "remote_pods", remotes);
	json_object_set_new(root, "identities", ids);
	return root;
}

static struct agent_pod *pod_parse(json_t *v, bool remote)
{
	struct agent_pod *p = registry_pod_new(str(v, "namespace") ?: "default", str(v, "name") ?: "", NULL,
					       NULL, 0);
	json_t *jp, *cni = json_object_get(v, "cni");
	size_t k;

	p->remote = remote;
	labels_from_array(json_object_get(v, "labels"), &p->labels);
	p->net.ip = (uint32_t)num(v, "ip");
	p->identity = (uint32_t)num(v, "identity"); /* no reference taken yet */
	if (remote)
		return p;
	p->ep_id = (uint32_t)num(v, "endpoint");
	p->created_ns = (uint64_t)num(v, "created_ns");
	snprintf(p->net.netns, sizeof(p->net.netns), "%s", str(v, "netns") ?: "");
	snprintf(p->net.host_ifname, sizeof(p->net.host_ifname), "%s", str(v, "interface") ?: "");
	snprintf(p->net.cgroup, sizeof(p->net.cgroup), "%s", str(v, "cgroup") ?: "");
	free(p->ports);
	p->ports = sl_xcalloc(json_array_size(json_object_get(v, "ports")) + 1, sizeof(*p->ports));
	json_array_foreach(json_object_get(v, "ports"), k, jp) {
		p->ports[k].name = sl_xstrdup(str(jp, "name") ?: "");
		p->ports[k].port = (uint16_t)num(jp, "port");
		p->ports[k].protocol = (uint8_t)num(jp, "protocol");
		p->nports++;
	}
	if (json_is_object(cni)) {
		/* its netns and veth belong to the runtime */
		p->cni = sl_xcalloc(1, sizeof(*p->cni));
		p->cni->container_id = sl_xstrdup(str(cni, "container_id") ?: "");
		p->cni->network = sl_xstrdup(str(cni, "network") ?: "");
		p->cni->ifname = sl_xstrdup(str(cni, "ifname") ?: "");
		p->cni->netns_source = sl_xstrdup(str(cni, "netns") ?: "");
		p->net.foreign = true;
	}
	if (str(json_object_get(v, "workload"), "kind")) {
		p->workload.kind = sl_xstrdup(str(json_object_get(v, "workload"), "kind"));
		p->workload.name = sl_xstrdup(str(json_object_get(v, "workload"), "name"));
	}
	return p;
}

int state_registry_parse(json_t *root, struct agent_registry *r, char **err)
{
	json_t *v;
	size_t i;

	if (!json_is_object(root))
		return sl_fail(err, EINVAL, "pods state: not a JSON object");
	r->next_ep_id = (uint32_t)num(root, "next_endpoint") ?: 1;
	r->next_ip_offset = (uint32_t)num(root, "next_ip_offset");
	json_array_foreach(json_object_get(root, "namespaces"), i, v) {
		struct agent_namespace *ns = registry_ns_get(r, str(v, "name") ?: "default", true);

		labels_from_array(json_object_get(v, "labels"), &ns->labels);
	}
	json_array_foreach(json_object_get(root, "identities"), i, v) {
		struct sluice_labels l = { 0 };

		labels_from_array(json_object_get(v, "labels"), &l);
		sluice_idt_restore(r->idt, (uint32_t)num(v, "identity"), &l);
		sluice_labels_free(&l);
	}
	json_array_foreach(json_object_get(root, "pods"), i, v)
		registry_pod_add(r, pod_parse(v, false));
	json_array_foreach(json_object_get(root, "remote_pods"), i, v)
		registry_pod_add(r, pod_parse(v, true));
	return 0;
}

void state_registry_claim(struct agent_registry *r)
{
	size_t i;

	for (i = 0; i < r->npods + r->nremotes; i++) {
		struct agent_pod *p = registry_at(r, i);

		/* a cluster identity (Kubernetes mode) is kept by number */
		p->identity = registry_identity_of(r, p, p->remote ? p->identity : 0);
	}
}

json_t *state_policies_json(const struct state_policy_ref *v, size_t n, uint64_t next_text)
{
	json_t *root = json_object(), *pols = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(pols, json_pack("{s:i,s:o,s:s,s:s,s:s*}", "kind", v[i].kind, "namespace",
						      v[i].ns ? json_string(v[i].ns) : json_null(), "name",
						      v[i].name, "file", v[i].file, "text_file", v[i].text_file));
	json_object_set_new(root, "version", json_integer(STATE_VERSION));
	json_object_set_new(root, "next_text", json_integer((json_int_t)next_text));
	json_object_set_new(root, "policies", pols);
	return root;
}

int state_policies_parse(json_t *root, struct state_policy_ref **out, size_t *n, uint64_t *next_text,
			 char **err)
{
	json_t *pols = json_object_get(root, "policies"), *v;
	struct state_policy_ref *refs;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_object(root) || num(root, "version") != STATE_VERSION)
		return sl_fail(err, EINVAL, "state file of another version");
	*next_text = (uint64_t)num(root, "next_text");
	refs = sl_xcalloc(json_array_size(pols) + 1, sizeof(*refs));
	json_array_foreach(pols, i, v) {
		refs[i].kind = (int)num(v, "kind");
		refs[i].ns = str(v, "namespace");
		refs[i].name = str(v, "name") ?: "";
		refs[i].file = str(v, "file") ?: "state";
		refs[i].text_file = str(v, "text_file");
		refs[i].text = str(v, "text");
	}
	*out = refs;
	*n = json_array_size(pols);
	return 0;
}
