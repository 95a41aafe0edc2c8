/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_json.h - one flow as the line of JSON `sluice observe -o json`
 * prints: Hubble's field names and shapes (a GetFlowsResponse, {"flow":
 * {...}, "node_name", "time"}, of api/v1/observer and flow.proto as
 * protojson prints it, the way `hubble observe -o json` prints it). One renderer for the agent (JSON API clients, the
 * JSON fallback) and the CLI (flows received in the binary wire form,
 * common/flow_wire.h), so both print the same bytes.
 */
#ifndef SLUICE_COMMON_FLOW_JSON_H
#define SLUICE_COMMON_FLOW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_flow_kind {
	SL_FLOW_L3L4 = 1,
	SL_FLOW_L7_REQUEST = 2,
	SL_FLOW_L7_RESPONSE = 3,
	SL_FLOW_TRACE = 4, /* a later packet of a known flow (SYN-ACK, FIN, RST) */
};

/* An HTTP REQUEST or RESPONSE (else a policy verdict, a drop or a trace:
 * Hubble's L3_L4 flows) */
static inline bool sl_flow_kind_is_l7(uint8_t kind)
{
	return kind == SL_FLOW_L7_REQUEST || kind == SL_FLOW_L7_RESPONSE;
}

/* One end of a flow, as enriched by the agent at event time. NULL strings
 * print as "" (labels as []). labels is JSON array text, printed as is. */
struct sl_flow_end {
	uint32_t identity;
	const char *ns, *pod, *labels;
	/* Hubble's ID (a local pod's endpoint number, 0: none), cluster_name
	 * and workloads (one here, kind and name; NULL: none) */
	uint32_t ep_id;
	const char *cluster, *wl_kind, *wl_name;
};

/* A flow; the strings belong to the caller. */
struct sl_flow_view {
	uint64_t time_ns;      /* wall clock */
	uint8_t kind;          /* enum sl_flow_kind */
	uint8_t verdict;       /* enum sluice_verdict */
	uint8_t direction;     /* SLUICE_DIR_* */
	uint8_t protocol;      /* IP protocol number */
	uint8_t match_kind;    /* Cilium's policy_match_type */
	uint8_t tcp_flags;
	bool https;            /* L7 over TLS: the URL's scheme */
	bool is_reply;         /* TRACE: against the flow's first direction */
	uint8_t trace_point;   /* TRACE: SLUICE_TRACE_TO_* */
	uint16_t drop_reason;  /* enum sluice_drop_reason */
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;  /* ICMP: the message's type and code */
	struct sl_flow_end src, dst;
	/* L7 only */
	const char *method, *url, *host, *http_protocol;
	uint16_t code;
	uint64_t latency_ns;
	/* the service the client went through; svc_name NULL: none */
	const char *svc_ns, *svc_name;
	uint16_t svc_port;
	/* Hubble's uuid: the agent's random boot id and the flow's number
	 * since (uuid_seq 0: none) */
	uint64_t uuid_boot, uuid_seq;
	/* the policy that decided (Hubble's {ingress,egress}_{allowed,denied}_by):
	 * its kind's name ("CiliumNetworkPolicy"; NULL: none), namespace (NULL:
	 * clusterwide) and name; denied: a deny rule dropped the flow */
	const char *pol_kind, *pol_ns, *pol_name;
	bool pol_denied;
	/* What a flow read from JSON (observe --input-file, another agent's
	 * flows) says of itself where sluice's own flows derive it from the
	 * fields above: the filters read these when set, as Hubble's read the
	 * Flow. Zero for the agent's flows. */
	struct sl_flow_json_facts {
		bool set;
		int8_t reply;          /* is_reply: -1 absent, 0 false, 1 true */
		uint8_t ip_version;    /* IP.ipVersion: 0 IP_NOT_USED, 1 IPv4, 2 IPv6 */
		bool has_event;        /* event_type present: its type and sub_type */
		int32_t type, sub_type;
		bool dir_unknown;      /* no traffic_direction */
		const char *drop_desc; /* drop_reason_desc's name, or NULL */
		const char *src_svc_ns, *src_svc_name; /* source_service, or NULL */
		bool bad_uri;          /* l7.http.url is no request URI (no path to match) */
	} jx;
};

#define SL_FLOW_UUID_TEXT 37
/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" of the flow into out; "" when the
 * flow has none. */
const char *sl_flow_uuid_text(uint64_t boot, uint64_t seq, char out[SL_FLOW_UUID_TEXT]);

/* Hubble's verdicts sluice's datapath never gives, for flows read from JSON
 * (observe --input-file of another agent's flows): after abi.h's three */
#define SL_FLOW_VERDICT_ERROR 4
#define SL_FLOW_VERDICT_AUDIT 5
#define SL_FLOW_VERDICT_TRACED 6
#define SL_FLOW_VERDICT_TRANSLATED 7

/* Hubble's names: FORWARDED, DROPPED, REDIRECTED, ERROR, AUDIT, TRACED,
 * TRANSLATED (else UNKNOWN); TCP, UDP,
 * ICMPv4, SCTP (else UNKNOWN); a drop reason's (abi.h, else
 * DROP_REASON_UNKNOWN). */
const char *sl_flow_verdict_name(uint8_t verdict);
/* Cilium's monitor event type of a flow, as its event_type: 1 drop
 * (sub_type: the drop reason), 4 trace (sub_type: the observation point),
 * 5 policy verdict, 129 L7. */
void sl_flow_event_type(uint8_t kind, uint8_t verdict, uint8_t trace_point, uint16_t drop_reason,
			unsigned *type, unsigned *sub_type);
const char *sl_flow_proto_name(uint8_t protocol);
/* Cilium's names, one list each (pkg/monitor/api, pkg/identity): a trace
 * observation point by its monitor sub_type (TraceObservationPoints, 0
 * to-endpoint ... 13 to-crypto; NULL beyond), a reserved identity by number
 * (reservedIdentityNames, 0 unknown ... 10 world-ipv6; NULL for any other)
 * and a policy match type (PolicyMatchType: none, L3-Only, L3-L4, L4-Only,
 * all, L3-Proto, Proto-Only; "unknown" beyond). */
const char *sl_cilium_trace_point(unsigned sub_type);
const char *sl_cilium_reserved_identity(uint32_t id);
const char *sl_cilium_match_type(unsigned match);
/* An ICMPv4 type and code as Hubble's Summary names them ("EchoRequest",
 * "DestinationUnreachable(Port)"). */
#define SL_FLOW_ICMP_TEXT_MAX 64
const char *sl_flow_icmp_text(uint8_t type, uint8_t code, char out[SL_FLOW_ICMP_TEXT_MAX]);
const char *sl_flow_drop_reason_name(uint16_t reason);
/* A TRACE flow's observation point as Hubble names it (TO_ENDPOINT,
 * TO_PROXY, TO_STACK; else UNKNOWN_POINT) and as its compact line does
 * (to-endpoint, ...). */
const char *sl_flow_trace_point_name(uint8_t point);
const char *sl_flow_trace_point_text(uint8_t point);
/* The TCP flags by bit of the header's flags byte (FIN 0x01 ... CWR 0x80),
 * as Hubble's TCPFlags names them: the JSON's l4.TCP.flags, --tcp-flags */
extern const char *const sl_flow_tcp_flag_names[8];
/* Hubble's summary of TCP flags: "SYN, ACK" (its order); returns out. */
#define SL_FLOW_TCP_FLAGS_TEXT_MAX 40
const char *sl_flow_tcp_flags_text(uint8_t flags, char out[SL_FLOW_TCP_FLAGS_TEXT_MAX]);

/* An address as the line has it: dotted for v4-mapped, else IPv6 text. */
#define SL_FLOW_ADDR_MAX 46 /* INET6_ADDRSTRLEN */
const char *sl_flow_addr(const uint8_t a[16], char buf[SL_FLOW_ADDR_MAX]);

/*
 * How much of each string a line keeps, in escaped bytes: a string is cut
 * where the agent's fixed buffers always cut it. sl_flow_json_kept() is how
 * many bytes of s survive a cut at cap, so a printer that reads the view
 * (cli/flow_print.c) shows what a reader of the line sees.
 */
#define SL_FLOW_CAP_NAME 300
#define SL_FLOW_CAP_METHOD 64
#define SL_FLOW_CAP_URL 4096
#define SL_FLOW_CAP_HOST 512
#define SL_FLOW_CAP_PROTO 32
size_t sl_flow_json_kept(const char *s, size_t cap);

/* An upper bound of the line's length for sl_flow_json (with its NUL). */
size_t sl_flow_json_max(const struct sl_flow_view *f, const char *node);
/* Writes the line (no newline, NUL-terminated) into out, which has room for
 * sl_flow_json_max() bytes; returns its length. */
size_t sl_flow_json(const struct sl_flow_view *f, const char *node, char *out);

#endif
