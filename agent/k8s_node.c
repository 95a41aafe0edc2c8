/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_node.c - the node's sluice.io/agent-not-ready taint.
 *
 * Nodes registered with this taint (kubelet --register-with-taints, or the
 * deploy helper) get no ordinary pods until the agent can enforce policy
 * for them: once every collection is listed and the first commit ran, the
 * agent removes the taint from its own Node with a JSON patch that tests
 * the taints it read, so a concurrent change is never overwritten (the
 * patch then fails and the next commit tries again). Done once per run.
 * The same read gives the Node's spec.podCIDRs for `sluice status`: in
 * Kubernetes mode the primary CNI gives pods their addresses, usually
 * from those ranges, and --pod-cidr is not used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"

#define TAINT_KEY "sluice.io/agent-not-ready"

static void on_patched(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;

	(void)body;
	if (k->stopping)
		return;
	if (status == 200) {
		fprintf(stderr, "sluiced: kubernetes: removed taint %s from node %s\n", TAINT_KEY, k->node);
		return;
	}
	k->taint_done = false; /* the next commit tries again */
	k8s_note_error(k, "removing taint %s from node %s: HTTP %d %s", TAINT_KEY, k->node, status,
		       errmsg ? errmsg : "");
}

static void on_node(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;
	json_t *taints, *keep, *t, *patch;
	char *path;
	size_t i;

	if (k->stopping)
		return;
	if (status != 200 || !body) {
		/* 404: no Node object (tests without kubelet); 403: not allowed */
		if (status != 404 && status != 403)
			k8s_note_error(k, "node %s: HTTP %d %s", k->node, status, errmsg ? errmsg : "");
		return;
	}
	{
		json_t *spec = json_object_get(body, "spec"), *cidrs = json_object_get(spec, "podCIDRs");
		const char *one = json_string_value(json_object_get(spec, "podCIDR"));

		json_decref(k->node_pod_cidrs);
		if (json_is_array(cidrs))
			k->node_pod_cidrs = json_deep_copy(cidrs);
		else
			k->node_pod_cidrs = one ? json_pack("[s]", one) : json_array();
	}
	taints = json_object_get(json_object_get(body, "spec"), "taints");
	keep = json_array();
	json_array_foreach(taints, i, t) {
		const char *key = json_string_value(json_object_get(t, "key"));

		if (!key || strcmp(key, TAINT_KEY))
			json_array_append(keep, t);
	}
	if (json_array_size(keep) == json_array_size(taints)) {
		json_decref(keep);
		return; /* not tainted */
	}
	k->taint_done = true;
	patch = json_pack("[{s:s,s:s,s:O},{s:s,s:s,s:o}]", "op", "test", "path", "/spec/taints", "value",
			  taints, "op", "replace", "path", "/spec/taints", "value", keep);
	path = sl_strdupf("/api/v1/nodes/%s", k->node);
	if (k8s_request(k->client, "PATCH", path, "application/json-patch+json", patch, on_patched, k))
		k->taint_done = false;
	json_decref(patch);
	free(path);
}

void k8s_node_ready(struct agent_k8s *k)
{
	char *path;

	if (k->taint_done)
		return;
	k->taint_done = true; /* one look per run; a failed patch re-arms it */
	path = sl_strdupf("/api/v1/nodes/%s", k->node);
	if (k8s_request(k->client, "GET", path, NULL, NULL, on_node, k))
		k->taint_done = false;
	free(path);
}

json_t *agent_k8s_node_pod_cidrs(struct agent *a)
{
	if (!a->k8s || !a->k8s->node_pod_cidrs)
		return json_null();
	return json_incref(a->k8s->node_pod_cidrs);
}
