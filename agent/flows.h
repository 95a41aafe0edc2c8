/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flows.h - the flow pipeline: datapath and proxy events, enriched at event
 * time with pod names, namespaces and labels, kept in a ring of the last N
 * flows, filtered and streamed to `sluice observe` clients, and counted for
 * metrics (in a->counters).
 */
#ifndef SLUICE_FLOWS_H
#define SLUICE_FLOWS_H

#include "../common/flow_json.h"
#include "agent.h"

enum flow_kind {
	FLOW_L3L4 = SL_FLOW_L3L4,
	FLOW_L7_REQUEST = SL_FLOW_L7_REQUEST,
	FLOW_L7_RESPONSE = SL_FLOW_L7_RESPONSE,
	FLOW_TRACE = SL_FLOW_TRACE,
};

/*
 * An L7 event as the proxy reports it: one exchange, added twice, as its
 * REQUEST (time = the request's first byte, no code) and its RESPONSE
 * (time + latency, code, source and destination swapped), as Hubble has
 * them.
 */
struct flow_l7 {
	uint64_t time_ns;        /* wall clock of the request's first byte */
	uint8_t kind;            /* FLOW_L7_REQUEST or FLOW_L7_RESPONSE */
	uint8_t direction;       /* SLUICE_DIR_* of the enforcing endpoint */
	bool allowed;            /* the request's verdict */
	bool https;              /* the client spoke TLS to the proxy */
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint32_t src_identity, dst_identity;
	const char *method, *url, *host, *protocol, *reason;
	uint16_t code;
	uint64_t latency_ns;
};

int flows_init(struct agent *a, char **err);
void flows_stop(struct agent *a);
/* Reads every pending record from the datapath's ring buffer; returns how
 * many (0: it was empty; negative: an error). */
int flows_drain_datapath(struct agent *a);
/* Adds one L7 flow; the observers get it at the next flows_flush(). */
void flows_add_l7(struct agent *a, const struct flow_l7 *ev);
/* Sends what the observers are owed (one write per observer). */
void flows_flush(struct agent *a);

/* The `observe` command (streaming: see commands.c). */
struct api_client;
json_t *flows_cmd_observe(struct agent *a, struct api_client *c, json_t *req, char **err);
/* Adds the pipeline's fields to `sluice status`. */
void flows_status(struct agent *a, json_t *status);

#endif
