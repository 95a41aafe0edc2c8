/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_cases.h - flows that exercise every branch of the JSON rendering and
 * of the wire form (test_flow_json.c, test_flow_wire.c): each protocol and
 * verdict, L7 request and response, http and https, a service, IPv6,
 * characters that need escaping, over-long strings, missing names.
 */
#ifndef SLUICE_TEST_FLOW_CASES_H
#define SLUICE_TEST_FLOW_CASES_H

#include <string.h>

#include "flow_json.h"
#include "sluice/abi.h"

#define V4(a, b, c, d) { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d }
#define LABELS_SRC "[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namespace=default\"]"
#define LABELS_DST "[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"]"

static char flow_case_long_url[6000];

static const char *flow_case_url_long(void)
{
	if (!flow_case_long_url[0]) {
		memset(flow_case_long_url, 'a', sizeof(flow_case_long_url) - 1);
		flow_case_long_url[0] = '/';
	}
	return flow_case_long_url;
}

#define FLOW_CASES 23

static struct sl_flow_view flow_case(int i)
{
	struct sl_flow_view f = {
		.time_ns = 1764950400123456789ull,
		.kind = SL_FLOW_L3L4,
		.verdict = SLUICE_VERDICT_DROPPED,
		.direction = SLUICE_DIR_EGRESS,
		.protocol = 17,
		.drop_reason = SLUICE_DROP_POLICY_DENIED,
		.saddr = V4(10, 244, 241, 2),
		.daddr = V4(10, 244, 241, 3),
		.sport = 40000,
		.dport = 1024,
		.src = { .identity = 256, .ns = "default", .pod = "src", .labels = LABELS_SRC },
		.dst = { .identity = 257, .ns = "default", .pod = "dst", .labels = LABELS_DST },
	};

	switch (i) {
	case 0: /* a denied UDP datagram, as the observe bench makes */
		break;
	case 1: /* TCP to a ClusterIP, handed to the proxy, SYN */
		f.verdict = SLUICE_VERDICT_REDIRECTED;
		f.direction = SLUICE_DIR_INGRESS;
		f.protocol = 6;
		f.tcp_flags = 0x02;
		f.match_kind = 2;
		f.drop_reason = 0;
		f.svc_ns = "default";
		f.svc_name = "backend";
		f.svc_port = 80;
		break;
	case 2: /* forwarded SYN+ACK from the world, no pod, no namespace */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		f.tcp_flags = 0x12;
		f.match_kind = 4;
		f.drop_reason = 0;
		f.time_ns = 0;
		f.src = (struct sl_flow_end){ .identity = 2, .labels = "[\"reserved:world\"]" };
		break;
	case 3: /* RST only, denied by a deny rule, labels unknown */
		f.protocol = 6;
		f.tcp_flags = 0x04;
		f.drop_reason = SLUICE_DROP_POLICY_DENY;
		f.dst = (struct sl_flow_end){ .identity = 1 };
		break;
	case 4: /* ICMP, allowed by L3: an echo request (type 8, code 0) */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 1;
		f.match_kind = 1;
		f.sport = 8;
		f.dport = 0;
		break;
	case 5: /* an L7 request with a host and characters to escape */
		f.kind = SL_FLOW_L7_REQUEST;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.direction = SLUICE_DIR_INGRESS;
		f.protocol = 6;
		f.drop_reason = 0;
		f.method = "GET";
		f.url = "/api/users/7?q=\"x\"\\&t=\t";
		f.host = "api.example:8080";
		f.http_protocol = "HTTP/1.1";
		break;
	case 6: /* its response over TLS, no Host: the URL names the server's address */
		f.kind = SL_FLOW_L7_RESPONSE;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.direction = SLUICE_DIR_INGRESS;
		f.protocol = 6;
		f.drop_reason = 0;
		f.https = true;
		f.method = "POST";
		f.url = "/admin";
		f.host = "";
		f.http_protocol = "HTTP/1.0";
		f.code = 403;
		f.latency_ns = 12345678;
		break;
	case 7: /* a denied L7 request without protocol or host (NULL) */
		f.kind = SL_FLOW_L7_REQUEST;
		f.verdict = SLUICE_VERDICT_DROPPED;
		f.protocol = 6;
		f.method = "DELETE";
		f.url = "/";
		break;
	case 8: /* IPv6 and SCTP */
		f.protocol = 132;
		memset(f.saddr, 0, 16);
		memset(f.daddr, 0, 16);
		f.saddr[0] = 0xfd;
		f.saddr[15] = 1;
		f.daddr[0] = 0xfd;
		f.daddr[15] = 2;
		break;
	case 9: /* an unknown protocol (GRE): no l4 */
		f.protocol = 47;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.drop_reason = 0;
		break;
	case 10: /* control characters in names reach JSON escaped */
		f.src.pod = "a\x01b\n\"c\\";
		f.dst.ns = "ns\x1f";
		f.svc_ns = "s\"ns";
		f.svc_name = "s\\n";
		f.svc_port = 65535;
		break;
	case 11: /* an over-long URL and host: cut as the agent always cut them */
		f.kind = SL_FLOW_L7_RESPONSE;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		f.method = "GETTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT";
		f.url = flow_case_url_long();
		f.host = flow_case_url_long() + 1;
		f.http_protocol = "HTTP/1.1";
		f.code = 200;
		f.latency_ns = 18446744073709551615ull;
		break;
	case 12: /* an unknown drop reason and verdict, max ports and identities */
		f.drop_reason = 77;
		f.verdict = 0;
		f.sport = f.dport = 65535;
		f.src.identity = 4294967295u;
		f.dst.identity = 16777216;
		f.time_ns = 4102444799999999999ull;
		break;
	case 13: /* forwarded TCP with no flags */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		f.tcp_flags = 0;
		f.drop_reason = 0;
		break;
	case 19: /* Kubernetes pods: endpoint IDs, a cluster, workloads */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.drop_reason = 0;
		f.src.ep_id = 1234;
		f.src.cluster = "default";
		f.src.wl_kind = "Deployment";
		f.src.wl_name = "src";
		f.dst.ep_id = 4294967295u;
		f.dst.cluster = "c\"1";
		f.dst.wl_kind = "CronJob";
		f.dst.wl_name = "nightly\\";
		break;
	case 20: /* a remote pod: a cluster but no endpoint ID; an empty cluster
		  * name is left out */
		f.src.cluster = "default";
		f.dst.cluster = "";
		f.dst.wl_kind = "StatefulSet";
		f.dst.wl_name = "";
		break;
	case 21: /* a policy verdict: the namespaced policy whose allow decided */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.direction = SLUICE_DIR_INGRESS;
		f.protocol = 6;
		f.tcp_flags = 0x02;
		f.match_kind = 2;
		f.drop_reason = 0;
		f.pol_kind = "CiliumNetworkPolicy";
		f.pol_ns = "default";
		f.pol_name = "backend-ingress";
		break;
	case 22: /* dropped by a clusterwide deny: no namespace; a name to escape */
		f.protocol = 6;
		f.tcp_flags = 0x02;
		f.drop_reason = SLUICE_DROP_POLICY_DENY;
		f.pol_kind = "CiliumClusterwideNetworkPolicy";
		f.pol_name = "no-\"exfil\"";
		f.pol_denied = true;
		break;
	case 14: /* trace: the client's FIN delivered to the server */
	case 15: /* trace: the server's SYN-ACK delivered to the client */
	case 16: /* trace: a RST to the proxy's listener */
	case 17: /* trace: a FIN leaving for the world */
	case 18: /* trace: a UDP flow's first reply, delivered to the client */
		f.kind = SL_FLOW_TRACE;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.direction = SLUICE_DIR_INGRESS;
		f.protocol = 6;
		f.drop_reason = 0;
		f.tcp_flags = 0x11;
		f.trace_point = SLUICE_TRACE_TO_ENDPOINT;
		if (i == 15 || i == 18) {
			struct sl_flow_end e = f.src;
			uint8_t a[16];

			f.is_reply = true;
			f.direction = SLUICE_DIR_EGRESS; /* the client's connection */
			f.tcp_flags = 0x12;
			memcpy(a, f.saddr, 16);
			memcpy(f.saddr, f.daddr, 16);
			memcpy(f.daddr, a, 16);
			f.sport = 1024;
			f.dport = 40000;
			f.src = f.dst;
			f.dst = e;
			if (i == 18) {
				f.protocol = 17;
				f.tcp_flags = 0;
				f.sport = 53;
			}
		} else if (i == 16) {
			f.tcp_flags = 0xfc;
			f.trace_point = SLUICE_TRACE_TO_PROXY;
		} else if (i == 17) {
			f.direction = SLUICE_DIR_EGRESS;
			f.trace_point = SLUICE_TRACE_TO_STACK;
			f.time_ns = 0;
			f.dst = (struct sl_flow_end){ .identity = 2, .labels = "[\"reserved:world\"]" };
		}
		break;
	}
	return f;
}

#endif
