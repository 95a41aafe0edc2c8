/* SPDX-License-Identifier: Apache-2.0 */
/*
 * workload.c - see workload.h.
 *
 * The heuristics are Cilium's (pkg/k8s/utils GetWorkloadMetaFromPod, after
 * Istio's), so `observe` names the workloads `hubble observe` would: a
 * Deployment is not read, its name is what is left of the ReplicaSet's
 * once the pod-template-hash suffix is cut.
 */
#include "workload.h"

#include <stdlib.h>
#include <string.h>

#include "../common/util.h"

static const char *str_at(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return m <= n && !memcmp(s + n - m, suffix, m);
}

/* Cilium's `(.+)-\d{8,10}$`: the name a CronJob gave its Job, or 0. The
 * digits hold no '-', so the dash is the last one. */
static size_t cronjob_prefix(const char *job)
{
	const char *dash = strrchr(job, '-');
	size_t digits;

	if (!dash || dash == job)
		return 0;
	digits = strlen(dash + 1);
	if (digits < 8 || digits > 10 || strspn(dash + 1, "0123456789") != digits)
		return 0;
	return (size_t)(dash - job);
}

bool agent_workload_of_pod(json_t *pod, struct agent_workload *w)
{
	json_t *meta = json_object_get(pod, "metadata"), *ref, *owner = NULL;
	json_t *labels = json_object_get(meta, "labels");
	const char *gen = str_at(meta, "generateName"), *kind, *name;
	size_t i;

	memset(w, 0, sizeof(*w));
	/* a pod someone named by hand is its own workload: Cilium names none */
	if (!gen || !*gen)
		return false;
	json_array_foreach(json_object_get(meta, "ownerReferences"), i, ref) {
		if (json_is_true(json_object_get(ref, "controller"))) {
			owner = ref;
			break;
		}
	}
	kind = str_at(owner, "kind");
	name = str_at(owner, "name");
	if (!kind || !name)
		return false;
	if (!strcmp(kind, "ReplicaSet")) {
		const char *hash = str_at(labels, "pod-template-hash");

		if (hash && *hash && ends_with(name, hash)) {
			size_t n = strlen(name), h = strlen(hash);

			/* Go's TrimSuffix of "-"+hash: nothing cut without the dash */
			if (n > h && name[n - h - 1] == '-')
				n -= h + 1;
			w->kind = sl_xstrdup("Deployment");
			w->name = sl_strdupf("%.*s", (int)n, name);
			return true;
		}
	} else if (!strcmp(kind, "ReplicationController")) {
		const char *dc = str_at(labels, "deploymentconfig");

		if (dc && *dc) {
			w->kind = sl_xstrdup("DeploymentConfig");
			w->name = sl_xstrdup(dc);
			return true;
		}
	} else if (!strcmp(kind, "Job")) {
		size_t n = cronjob_prefix(name);

		if (n) {
			w->kind = sl_xstrdup("CronJob");
			w->name = sl_strdupf("%.*s", (int)n, name);
			return true;
		}
	}
	w->kind = sl_xstrdup(kind);
	w->name = sl_xstrdup(name);
	return true;
}

void agent_workload_free(struct agent_workload *w)
{
	free(w->kind);
	free(w->name);
	w->kind = w->name = NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool agent_workload_equal(const struct agent_workload *a, const struct agent_workload *b)
{
	return str_eq(a->kind, b->kind) && str_eq(a->name, b->name);
}
