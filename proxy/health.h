/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.h - sluice-proxy's own /healthz and /readyz (--health ADDR), for
 * the probes of a proxy that runs in its own container (the chart's
 * sluice-proxy DaemonSet). The control socket cannot serve as a probe: a new
 * connection there replaces the agent's.
 */
#ifndef SLUICE_PROXY_HEALTH_H
#define SLUICE_PROXY_HEALTH_H

#include <stdbool.h>
#include <uv.h>

struct proxy_health;

/* ready(ctx, &why): true when /readyz answers 200; why says what is missing */
typedef bool (*proxy_health_ready_fn)(void *ctx, const char **why);

/* Listens on ADDR (HOST:PORT, as http_local_start); 0 or -errno with *err set. */
int proxy_health_start(uv_loop_t *loop, const char *addr, proxy_health_ready_fn ready, void *ctx,
		       struct proxy_health **out, char **err);
/* Closes the listener (connections in flight are closed too). */
void proxy_health_stop(struct proxy_health *h);

#endif
