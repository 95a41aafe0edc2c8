/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_hubble.h - Hubble's flow metrics, under Hubble's names and labels,
 * next to sluice's own on /metrics: what a Cilium user's dashboards read
 * (Cilium's hubble.metrics "flow", "drop", "tcp", "policy", "httpV2",
 * "port-distribution" and "icmp"):
 *
 *   hubble_flows_processed_total{protocol,subtype,type,verdict}
 *   hubble_drop_total{protocol,reason}
 *   hubble_tcp_flags_total{family,flag}
 *   hubble_policy_verdicts_total{action,direction,match}
 *   hubble_http_requests_total{method,protocol,reporter,status}
 *   hubble_http_request_duration_seconds{method,reporter} (a histogram)
 *   hubble_port_distribution_total{port,protocol}
 *   hubble_icmp_total{family,type}
 *
 * Counted from each flow the agent reads (flows.c), as Hubble's handlers
 * (pkg/hubble/metrics) count the same flow's protobuf; no context labels.
 */
#ifndef SLUICE_AGENT_METRICS_HUBBLE_H
#define SLUICE_AGENT_METRICS_HUBBLE_H

#include <stdbool.h>
#include <stdint.h>

/* One flow as the handlers read it. */
struct hubble_flow_facts {
	unsigned type;        /* Cilium's monitor type: 1 drop, 4 trace, 5 policy verdict, 129 L7 */
	unsigned sub_type;    /* a trace's observation point (Cilium's number) */
	uint8_t protocol;     /* IP protocol number */
	uint8_t verdict;      /* SLUICE_VERDICT_* */
	uint16_t drop_reason; /* a drop's */
	uint8_t direction;    /* SLUICE_DIR_*: the connection's */
	uint8_t match_kind;   /* a policy verdict's policy_match_type */
	uint8_t tcp_flags;
	uint16_t dport;                 /* TCP, UDP, SCTP */
	uint8_t icmp_type, icmp_code;   /* ICMPv4 */
	bool reply;                     /* Hubble's is_reply, true (not unknown) */
	bool ipv4;
	uint32_t src_identity, dst_identity;
	/* L7: a request or its response (method, protocol, code, latency) */
	bool response;
	const char *method, *http_protocol;
	unsigned code;
	uint64_t latency_ns;
};

struct metrics_hubble;

struct metrics_hubble *metrics_hubble_new(void);
void metrics_hubble_free(struct metrics_hubble *h);
void metrics_hubble_flow(struct metrics_hubble *h, const struct hubble_flow_facts *f);
/* The families in Prometheus' text format (malloc'd). */
char *metrics_hubble_render(const struct metrics_hubble *h);

#endif
