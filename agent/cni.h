/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cni.h - the agent's side of the sluice-cni plugin: the API commands the
 * plugin calls (cni.attach, cni.detach, cni.check, cni.gc, cni.status),
 * the delete queue the plugin writes while the agent is down, and the
 * conflist writer that chains the plugin after the node's primary network.
 * The contract for other parts (agent_endpoint_attach, the pod_meta hook)
 * is in agent.h.
 */
#ifndef SLUICE_AGENT_CNI_H
#define SLUICE_AGENT_CNI_H

#include <jansson.h>
#include "sluice/cni.h"
#include "agent.h"

/* struct agent_cni_attachment, what the agent keeps about a pod the plugin
 * attached, is part of the pod record (registry.h). */


/* api.c hands every "cni.*" command here */
json_t *agent_cni_api(struct agent *a, const char *cmd, json_t *req, char **err);
/* `sluice pod delete` of a pod the plugin attached would leave it running
 * unmanaged: -EPERM with a message; the runtime's DEL (or GC) removes it */
int agent_cni_refuse_delete(struct agent *a, const char *ns, const char *name, char **err);
/* `sluice status`: ready for CNI pods (and why not), attachments, the
 * conflist writer's state */
json_t *agent_cni_status_json(struct agent *a);
/* adds the CNI fields of a pod to its API record */
void agent_cni_pod_json(const struct agent_pod *p, json_t *o);

/* state.c: a restored pod the plugin attached (its CNI fields are in
 * pods.json, state_codec.c) gets the agent's netns handle again when it is
 * gone (e.g. the agent's mount namespace was new) while the runtime's netns
 * still exists */
void agent_cni_revive(struct agent_pod *p);

/* main.c: at start, once the API listens, detach what the plugin queued
 * while the agent was down */
void agent_cni_drain_queue(struct agent *a);
/* main.c: the loop is about to run (the agent serves); starts the conflist
 * writer when --cni-conf-dir is set. stop: on shutdown. */
void agent_cni_start(struct agent *a);
/* agent_cni_conf_pending(): in agent.h (the Kubernetes source asks it,
 * and cni.c tells that source when the chain is in place) */
void agent_cni_stop(struct agent *a);
/* `sluiced --cni-uninstall`: asks the running agent to take its entry out
 * and stop keeping it, else removes it here; the exit status */
int agent_cni_uninstall_cmd(struct agent *a);

/* cni_conf.c: the conflist writer.
 * Install: sluice-cni (with this socket unless it is the default) becomes
 * the last plugin of the primary network's conflist in dir: target names a
 * file or a network, NULL or "auto" the lexically first config file; a
 * single-plugin .conf becomes a .conflist (the .conf kept as
 * NAME.conf.sluice_bak). Atomic (temp file + rename), idempotent: *changed
 * says whether a file was written. -ENOENT: no primary network yet.
 * Uninstall: the entry is taken out of every conflist in dir (a converted
 * .conf is restored). */
int cni_conf_install(const char *dir, const char *target, const char *socket, bool *changed,
		     char **path_out, char **err);
int cni_conf_uninstall(const char *dir, char **err);

#endif
