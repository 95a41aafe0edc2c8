/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.h - Prometheus text-format metrics over HTTP (GET /metrics). */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include "agent.h"
#include "metrics_hubble.h"

int metrics_start(struct agent *a, char **err);
void metrics_stop(struct agent *a);
void metrics_http_observe(struct agent *a, const char *method, unsigned code, bool allowed,
			  double seconds);
void metrics_apply_observe(struct agent *a, double seconds);
/* A flow for Hubble's metrics (metrics_hubble.h). */
void metrics_flow(struct agent *a, const struct hubble_flow_facts *f);
/* The proxy's latest "stats" message (its counters since it started):
 * the TLS and drop counters are kept monotonic across proxy restarts. */
void metrics_proxy_stats(struct agent *a, json_t *stats);
/* Renders every metric; the caller frees. */
char *metrics_render(struct agent *a);

#endif
