/* SPDX-License-Identifier: Apache-2.0 */
/*
 * workload.h - the workload a Kubernetes pod belongs to (Hubble's
 * Endpoint.workloads), read from the pod object alone as Cilium reads it:
 * no lookup of the owners themselves.
 */
#ifndef SLUICE_AGENT_WORKLOAD_H
#define SLUICE_AGENT_WORKLOAD_H

#include <jansson.h>
#include <stdbool.h>

struct agent_workload {
	char *kind; /* "Deployment", "StatefulSet", ...; NULL: none */
	char *name;
};

/*
 * Fills w (malloc'd strings) and returns true when pod (a Pod object) names
 * a workload: a pod whose name was generated, by its controlling owner.
 * A ReplicaSet whose name ends in the pod's pod-template-hash is its
 * Deployment's; a Job named NAME-<8 to 10 digits> is CronJob NAME's; a
 * ReplicationController with a deploymentconfig label is that
 * DeploymentConfig. Anything else: the owner's kind and name.
 */
bool agent_workload_of_pod(json_t *pod, struct agent_workload *w);
void agent_workload_free(struct agent_workload *w);
/* Whether a and b name the same workload (or both none). */
bool agent_workload_equal(const struct agent_workload *a, const struct agent_workload *b);

#endif
