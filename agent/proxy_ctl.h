/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy_ctl.h - the agent's side of the L7 proxy: starting and supervising
 * `sluice-proxy`, the in-pod listening sockets, and the control channel that
 * carries endpoints, names and L7 rule tables to the proxy and access
 * records back (docs/proxy-control.md).
 */
#ifndef SLUICE_PROXY_CTL_H
#define SLUICE_PROXY_CTL_H

#include "agent.h"

int proxy_ctl_start(struct agent *a, char **err);
void proxy_ctl_stop(struct agent *a);
/* Called when a pod was created / is about to be deleted. */
int proxy_ctl_pod_added(struct agent *a, struct agent_pod *p, char **err);
void proxy_ctl_pod_removed(struct agent *a, struct agent_pod *p);
/* Sends the L7 table if it changed. */
void proxy_ctl_rules(struct agent *a, const struct sluice_compiled *c);
/* Starts a new proxy, hands it everything, then drains the old one. */
int proxy_ctl_restart(struct agent *a, char **err);
/* Kills every proxy of this instance and removes its control sockets and
 * record (cleanup), printing what it removed; returns the number killed. */
int proxy_ctl_kill_stale(struct agent *a);
json_t *proxy_ctl_status(struct agent *a);

#endif
