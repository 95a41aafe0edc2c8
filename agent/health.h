/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.h - the agent's health endpoint for kubelet probes, on
 * --health ADDR (e.g. 127.0.0.1:9877; off by default):
 *   GET /healthz  200 "ok" while the agent's event loop answers;
 *   GET /readyz   200 "ready" when the datapath is loaded, the agent serves
 *                 with every source synced (a->sources_syncing == 0) and the
 *                 L7 proxy is ready (or disabled); else 503 with the reasons.
 */
#ifndef SLUICE_HEALTH_H
#define SLUICE_HEALTH_H

#include <stdbool.h>

#include "agent.h"
#include "http_local.h"

/* true when ready; else false and *why lists what is missing (malloc'd). */
bool health_ready(struct agent *a, char **why);
/* The /healthz and /readyz routes, for any http_local server (ctx = agent). */
int health_route(void *agent, const char *method, const char *path, struct http_reply *r);

int health_start(struct agent *a, char **err);
void health_stop(struct agent *a);

#endif
