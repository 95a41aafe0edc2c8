/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.h - the agent's health endpoint for kubelet probes, on
 * --health ADDR (e.g. 127.0.0.1:9877; off by default):
 *   GET /healthz  200 "ok" while the agent's event loop answers;
 *   GET /readyz   200 "ready" when the datapath is loaded, the L7 proxy is
 *                 ready (or disabled) and every registered check passes
 *                 (API sources synced, ...); else 503 with the reasons.
 */
#ifndef SLUICE_HEALTH_H
#define SLUICE_HEALTH_H

#include <stdbool.h>

#include "agent.h"
#include "http_local.h"

/* A readiness condition: 0 when met, else non-zero with *why set (malloc'd). */
typedef int (*health_check_fn)(struct agent *a, char **why);

/* Adds a readiness condition (e.g. the Kubernetes source's "synced"); may be
 * called before health_start. */
void health_add_check(struct agent *a, const char *name, health_check_fn fn);
/* true when ready; else false and *why lists what is missing (malloc'd). */
bool health_ready(struct agent *a, char **why);
/* The /healthz and /readyz routes, for any http_local server (ctx = agent). */
int health_route(void *agent, const char *method, const char *path, struct http_reply *r);

int health_start(struct agent *a, char **err);
void health_stop(struct agent *a);

#endif
