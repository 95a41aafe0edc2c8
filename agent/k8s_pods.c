/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_pods.c - pods of this node and namespaces, from the API.
 *
 * A local pod enters the registry through the CNI ADD (agent_endpoint_attach),
 * which asks the pod_meta hook for its labels and named ports: the hook
 * answers -EAGAIN until the pod and its namespace are in the watch caches
 * and the pod's identity is allocated cluster-wide, so a pod never starts
 * with an identity other nodes do not know yet. Afterwards the commit keeps
 * the registry equal to the API: a relabelled pod (or namespace) moves to
 * the identity of its new labels once that identity is allocated, a pod
 * deleted from the API (also while the agent was down) leaves the registry.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"

void k8s_labels_from_json(json_t *map, struct sluice_labels *out)
{
	const char *key;
	json_t *v;

	json_object_foreach(map, key, v)
		if (json_is_string(v))
			sluice_labels_add(out, "k8s", key, json_string_value(v));
}

/* The pod's labels, and as Cilium adds them, its service account's name
 * (k8s:io.cilium.k8s.policy.serviceaccount: policies select by it). */
static void pod_labels(json_t *pod, struct sluice_labels *out)
{
	const char *sa = json_string_value(json_object_get(json_object_get(pod, "spec"),
							   "serviceAccountName"));

	k8s_labels_from_json(json_object_get(json_object_get(pod, "metadata"), "labels"), out);
	if (sa && *sa)
		sluice_labels_add(out, "k8s", SLUICE_LABEL_SERVICE_ACCOUNT, sa);
}

static void ns_labels(json_t *ns, struct sluice_labels *out)
{
	k8s_labels_from_json(json_object_get(json_object_get(ns, "metadata"), "labels"), out);
	sluice_labels_add(out, "k8s", NS_NAME_LABEL, k8s_meta(ns, "name") ?: "");
}

static uint8_t proto_num(const char *p)
{
	if (p && !strcmp(p, "UDP"))
		return IPPROTO_UDP;
	if (p && !strcmp(p, "SCTP"))
		return IPPROTO_SCTP;
	return IPPROTO_TCP;
}

/* spec.containers[].ports[] that have a name */
static void pod_ports(json_t *pod, struct sluice_named_port **out, size_t *n)
{
	json_t *c, *pt;
	size_t i, j;

	*out = NULL;
	*n = 0;
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_array_foreach(json_object_get(c, "ports"), j, pt) {
			const char *name = json_string_value(json_object_get(pt, "name"));
			json_int_t port = json_integer_value(json_object_get(pt, "containerPort"));

			if (!name || port <= 0 || port > 65535)
				continue;
			*out = realloc(*out, (*n + 1) * sizeof(**out));
			if (!*out)
				abort();
			(*out)[*n].name = sl_xstrdup(name);
			(*out)[*n].port = (uint16_t)port;
			(*out)[*n].protocol = proto_num(json_string_value(json_object_get(pt, "protocol")));
			(*n)++;
		}
	}
}

void k8s_pods_event(struct agent_k8s *k, int type, json_t *obj)
{
	(void)type;
	(void)obj;
	k->pods_dirty = true;
}

void k8s_namespaces_event(struct agent_k8s *k, int type, json_t *obj)
{
	(void)type;
	(void)obj;
	k->nss_dirty = true;
}

static json_t *ns_object(struct agent_k8s *k, const char *ns)
{
	return k8s_watch_get(k->coll[K8S_C_NAMESPACES].w, NULL, ns);
}

int k8s_pod_identity_labels(struct agent_k8s *k, json_t *pod, struct sluice_labels *out)
{
	const char *ns = k8s_meta(pod, "namespace") ?: "default";
	json_t *nso = ns_object(k, ns);
	struct sluice_labels pl = { 0 }, nl = { 0 };
	int rc;

	if (!nso)
		return -EAGAIN;
	pod_labels(pod, &pl);
	ns_labels(nso, &nl);
	rc = sluice_pod_identity_labels(out, ns, &pl, &nl);
	sluice_labels_free(&pl);
	sluice_labels_free(&nl);
	return rc;
}

/*
 * The registry's copy of a namespace's labels follows the API. With local
 * pods in it, every pod's new identity must be allocated first; then the
 * labels change and each pod moves. Returns true when the registry holds
 * the API's labels.
 */
static bool ns_sync(struct agent_k8s *k, const char *name)
{
	struct agent *a = k->a;
	json_t *nso = ns_object(k, name);
	struct agent_namespace *rn;
	struct sluice_labels want = { 0 };
	bool ready = true;
	size_t i;

	if (!nso)
		return false;
	ns_labels(nso, &want);
	rn = registry_ns_get(&a->reg, name, true);
	if (sluice_labels_equal(&rn->labels, &want)) {
		sluice_labels_free(&want);
		return true;
	}
	for (i = 0; i < a->reg.npods && ready; i++) {
		struct agent_pod *p = a->reg.pods[i];
		struct sluice_labels idl = { 0 };

		if (strcmp(p->ns, name))
			continue;
		sluice_pod_identity_labels(&idl, name, &p->labels, &want);
		ready = k8s_identity_resolve(k, &idl) > 0;
		sluice_labels_free(&idl);
	}
	if (!ready) {
		sluice_labels_free(&want);
		return false;
	}
	sluice_labels_free(&rn->labels);
	rn->labels = want;
	for (i = 0; i < a->reg.npods; i++) {
		struct agent_pod *p = a->reg.pods[i];
		struct sluice_labels none = { 0 };
		char *err = NULL;

		if (strcmp(p->ns, name))
			continue;
		/* no label of its own changes: its identity follows the namespace's */
		if (agent_pod_relabel(a, p, &none, NULL, 0, &err)) {
			k8s_note_error(k, "pod %s/%s: %s", p->ns, p->name, err);
			free(err);
		}
	}
	return true;
}

/* One local pod: relabelled to what the API says once its identity is ready. */
static void pod_sync(struct agent_k8s *k, struct agent_pod *p, json_t *obj)
{
	struct agent *a = k->a;
	struct agent_namespace *rn = registry_ns_get(&a->reg, p->ns, true);
	struct sluice_labels want = { 0 }, idl = { 0 };
	char **remove = NULL;
	size_t nremove = 0, i;
	char *err = NULL;
	struct agent_workload wl;
	int64_t id;

	/* owners change when a controller adopts or orphans the pod; flows
	 * pick the new name up within a second (their name cache) */
	agent_workload_of_pod(obj, &wl);
	if (!agent_workload_equal(&wl, &p->workload)) {
		agent_workload_free(&p->workload);
		p->workload = wl;
	} else {
		agent_workload_free(&wl);
	}
	pod_labels(obj, &want);
	sluice_pod_identity_labels(&idl, p->ns, &want, &rn->labels);
	id = k8s_identity_resolve(k, &idl);
	if (id <= 0)
		goto out; /* the commit after the allocation comes back here */
	if (sluice_labels_equal(&want, &p->labels)) {
		struct sluice_labels none = { 0 };

		if ((uint32_t)id == p->identity)
			goto out;
		/* same labels, another number: the cluster's oldest object for
		 * them won over the one this pod got; it moves */
		fprintf(stderr, "sluiced: kubernetes: pod %s/%s moves from identity %u to %u (the older object for its labels)\n",
			p->ns, p->name, p->identity, (uint32_t)id);
		if (agent_pod_relabel(a, p, &none, NULL, 0, &err)) {
			k8s_note_error(k, "pod %s/%s: %s", p->ns, p->name, err);
			free(err);
		}
		goto out;
	}
	remove = sl_xcalloc(p->labels.n + 1, sizeof(*remove));
	for (i = 0; i < p->labels.n; i++)
		if (!sluice_labels_find(&want, "k8s", p->labels.v[i].key))
			remove[nremove++] = p->labels.v[i].key;
	fprintf(stderr, "sluiced: kubernetes: pod %s/%s relabelled\n", p->ns, p->name);
	if (agent_pod_relabel(a, p, &want, remove, nremove, &err)) {
		k8s_note_error(k, "pod %s/%s: %s", p->ns, p->name, err);
		free(err);
	}
	free(remove);
out:
	sluice_labels_free(&want);
	sluice_labels_free(&idl);
}

void k8s_pods_commit(struct agent_k8s *k)
{
	struct agent *a = k->a;
	bool pods_synced = k->coll[K8S_C_PODS].synced;
	size_t i;

	if (!k->coll[K8S_C_NAMESPACES].synced)
		return;
	k->nss_dirty = false;
	k->pods_dirty = false;
	for (i = 0; i < a->reg.nnss; i++) {
		char *name = sl_xstrdup(a->reg.nss[i].name);

		ns_sync(k, name); /* may grow a->reg.nss: the name is a copy */
		free(name);
	}
	for (i = 0; i < a->reg.npods;) {
		struct agent_pod *p = a->reg.pods[i];
		json_t *obj = k8s_watch_get(k->coll[K8S_C_PODS].w, p->ns, p->name);
		char *err = NULL;

		if (obj) {
			pod_sync(k, p, obj);
			i++;
			continue;
		}
		if (!pods_synced) {
			i++; /* not listed yet: keep enforcing what was */
			continue;
		}
		fprintf(stderr, "sluiced: kubernetes: pod %s/%s is gone from the API, removing it\n",
			p->ns, p->name);
		if (agent_pod_delete(a, p->ns, p->name, &err)) {
			k8s_note_error(k, "removing pod: %s", err);
			free(err);
			i++;
		}
	}
}

int k8s_pod_meta(struct agent *a, const char *ns, const char *name, struct sluice_labels *labels_out,
		 struct sluice_named_port **ports_out, size_t *nports_out, struct agent_workload *workload_out)
{
	struct agent_k8s *k = a->k8s;
	struct sluice_labels idl = { 0 };
	json_t *pod;
	int64_t id;
	int rc;

	if (!k)
		return -ENOTCONN;
	pod = k8s_watch_get(k->coll[K8S_C_PODS].w, ns, name);
	if (!pod)
		return -EAGAIN;
	/* the registry's namespace labels are what pod_identity() combines */
	if (!ns_sync(k, ns)) {
		k8s_schedule_commit(k);
		return -EAGAIN;
	}
	rc = k8s_pod_identity_labels(k, pod, &idl);
	if (rc)
		return rc;
	id = k8s_identity_resolve(k, &idl);
	sluice_labels_free(&idl);
	if (id == 0)
		return -EAGAIN;
	if (id < 0)
		return (int)id;
	pod_labels(pod, labels_out);
	pod_ports(pod, ports_out, nports_out);
	agent_workload_of_pod(pod, workload_out);
	return 0;
}
