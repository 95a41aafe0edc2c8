/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_json.c - the JSON line of a flow, byte for byte: the expected
 * lines are what the agent printed before the renderer moved to common/
 * and lost printf (agent/flows.c at a37a881), for every case of
 * flow_cases.h, with two changes since: the node name is escaped, and a
 * TCP flow's Summary is Hubble's "TCP Flags: SYN, ACK" (its flags in
 * Hubble's order) instead of "TCP". Cases 14-18, the trace flows, came
 * with the trace events and were checked field by field against
 * Hubble's flow.proto; cases 19-20 (Endpoint's ID, cluster_name and
 * workloads) and 21-22 (the Policy that allowed or denied) likewise. Since
 * then every line leaves out what protojson leaves out: an end's empty
 * namespace, pod name and labels and a 0 identity, a 0 sub_type and
 * policy_match_type (checked against the earlier lines: nothing else
 * moved).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow_cases.h"
#include "flow_json.h"

static const char *const expected[FLOW_CASES] = {
	/* 0-13: as the agent printed them at a37a881, but for the TCP Summary,
	 * Hubble's "TCP Flags: ..." since the trace flows came */
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"DROPPED\",\"drop_re"
	"ason\":133,\"drop_reason_desc\":\"POLICY_DENIED\",\"IP\":{\"source\":\"10.244.241.2\",\""
	"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l4\":{\"UDP\":{\"source_port\":"
	"40000,\"destination_port\":1024}},\"source\":{\"identity\":256,\"namespace\":\"default\""
	",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":"
	"\"src\"},\"destination\":{\"identity\":257,\"namespace\":\"default\",\"labels\":[\"k8s:a"
	"pp=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"dst\"},\"Type\":\"L"
	"3_L4\",\"node_name\":\"sluice-bench\",\"event_type\":{\"type\":1,\"sub_type\":133},\"tra"
	"ffic_direction\":\"EGRESS\",\"Summary\":\"UDP\"},\"node_name\":\"sluice-bench\",\"time\""
	":\"2025-12-05T16:00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"REDIRECTED\",\"IP\""
	":{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},"
	"\"l4\":{\"TCP\":{\"source_port\":40000,\"destination_port\":1024,\"flags\":{\"SYN\":true"
	"}}},\"source\":{\"identity\":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\","
	"\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"src\"},\"destination\":{\"id"
	"entity\":257,\"namespace\":\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.p"
	"od.namespace=default\"],\"pod_name\":\"dst\"},\"destination_service\":{\"name\":\"backen"
	"d\",\"namespace\":\"default\"},\"destination_service_port\":80,\"Type\":\"L3_L4\",\"node"
	"_name\":\"sluice-bench\",\"event_type\":{\"type\":5},\"policy_match_type\":2,\"is_reply"
	"\":false,\"traffic_direction\":\"INGRESS\",\"Summary\":\"TCP Flags: SYN\"},\"node_name\""
	":\"sluice-bench\",\"time\":\"2025-12-05T16:00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"1970-01-01T00:00:00Z\",\"verdict\":\"FORWARDED\",\"IP\":{\"source"
	"\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l4\":{\"T"
	"CP\":{\"source_port\":40000,\"destination_port\":1024,\"flags\":{\"SYN\":true,\"ACK\":tr"
	"ue}}},\"source\":{\"identity\":2,\"labels\":[\"reserved:world\"]},\"destination\":{\"ide"
	"ntity\":257,\"namespace\":\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.po"
	"d.namespace=default\"],\"pod_name\":\"dst\"},\"Type\":\"L3_L4\",\"node_name\":\"sluice-b"
	"ench\",\"event_type\":{\"type\":5},\"policy_match_type\":4,\"is_reply\":false,\"traffic_"
	"direction\":\"EGRESS\",\"Summary\":\"TCP Flags: SYN, ACK\"},\"node_name\":\"sluice-bench"
	"\",\"time\":\"1970-01-01T00:00:00Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"DROPPED\",\"drop_re"
	"ason\":181,\"drop_reason_desc\":\"POLICY_DENY\",\"IP\":{\"source\":\"10.244.241.2\",\"de"
	"stination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l4\":{\"TCP\":{\"source_port\":40"
	"000,\"destination_port\":1024,\"flags\":{\"RST\":true}}},\"source\":{\"identity\":256,\""
	"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namespace=de"
	"fault\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":1},\"Type\":\"L3_L4\",\"nod"
	"e_name\":\"node-\\\"b\\\"\",\"event_type\":{\"type\":1,\"sub_type\":181},\"traffic_direc"
	"tion\":\"EGRESS\",\"Summary\":\"TCP Flags: RST\"},\"node_name\":\"node-\\\"b\\\"\",\"tim"
	"e\":\"2025-12-05T16:00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"ICMPv4\":{\"type\":8}},\"source\":{\"identity\":256,\"namespace\":\"default\",\""
	"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"sr"
	"c\"},\"destination\":{\"identity\":257,\"namespace\":\"default\",\"labels\":[\"k8s:app=d"
	"st\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"dst\"},\"Type\":\"L3_L4"
	"\",\"node_name\":\"sluice-bench\",\"event_type\":{\"type\":5},\"policy_match_type\":1,\""
	"is_reply\":false,\"traffic_direction\":\"EGRESS\",\"Summary\":\"ICMPv4 EchoRequest\"},\""
	"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T16:00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"TCP\":{\"source_port\":40000,\"destination_port\":1024}},\"source\":{\"identity"
	"\":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.nam"
	"espace=default\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":257,\"namespace\":"
	"\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"p"
	"od_name\":\"dst\"},\"Type\":\"L7\",\"node_name\":\"sluice-bench\",\"event_type\":{\"type"
	"\":129},\"l7\":{\"type\":\"REQUEST\",\"http\":{\"method\":\"GET\",\"url\":\"http://api.e"
	"xample:8080/api/users/7?q=\\\"x\\\"\\\\&t=\\u0009\",\"protocol\":\"HTTP/1.1\"}},\"is_rep"
	"ly\":false,\"traffic_direction\":\"INGRESS\",\"Summary\":\"HTTP/1.1 GET http://api.examp"
	"le:8080/api/users/7?q=\\\"x\\\"\\\\&t=\\u0009\"},\"node_name\":\"sluice-bench\",\"time\""
	":\"2025-12-05T16:00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"TCP\":{\"source_port\":40000,\"destination_port\":1024}},\"source\":{\"identity"
	"\":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.nam"
	"espace=default\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":257,\"namespace\":"
	"\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"p"
	"od_name\":\"dst\"},\"Type\":\"L7\",\"node_name\":\"sluice-bench\",\"event_type\":{\"type"
	"\":129},\"l7\":{\"type\":\"RESPONSE\",\"latency_ns\":\"12345678\",\"http\":{\"code\":403"
	",\"method\":\"POST\",\"url\":\"https://10.244.241.2/admin\",\"protocol\":\"HTTP/1.0\"}},"
	"\"is_reply\":true,\"traffic_direction\":\"INGRESS\",\"Summary\":\"HTTP/1.0 403 12ms (POS"
	"T https://10.244.241.2/admin)\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T16"
	":00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"DROPPED\",\"IP\":{"
	"\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l"
	"4\":{\"TCP\":{\"source_port\":40000,\"destination_port\":1024}},\"source\":{\"identity\""
	":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.names"
	"pace=default\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":257,\"namespace\":\""
	"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod"
	"_name\":\"dst\"},\"Type\":\"L7\",\"node_name\":\"sluice-bench\",\"event_type\":{\"type\""
	":129},\"l7\":{\"type\":\"REQUEST\",\"http\":{\"method\":\"DELETE\",\"url\":\"http://10.2"
	"44.241.3/\",\"protocol\":\"\"}},\"is_reply\":false,\"traffic_direction\":\"EGRESS\",\"Su"
	"mmary\":\"HTTP/1.1 DELETE http://10.244.241.3/\"},\"node_name\":\"sluice-bench\",\"time"
	"\":\"2025-12-05T16:00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"DROPPED\",\"drop_re"
	"ason\":133,\"drop_reason_desc\":\"POLICY_DENIED\",\"IP\":{\"source\":\"fd00::1\",\"desti"
	"nation\":\"fd00::2\",\"ipVersion\":\"IPv6\"},\"l4\":{\"SCTP\":{\"source_port\":40000,\"d"
	"estination_port\":1024}},\"source\":{\"identity\":256,\"namespace\":\"default\",\"labels"
	"\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"src\"},"
	"\"destination\":{\"identity\":257,\"namespace\":\"default\",\"labels\":[\"k8s:app=dst\","
	"\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"dst\"},\"Type\":\"L3_L4\",\""
	"node_name\":\"sluice-bench\",\"event_type\":{\"type\":1,\"sub_type\":133},\"traffic_dire"
	"ction\":\"EGRESS\",\"Summary\":\"SCTP\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-"
	"12-05T16:00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\""
	"source\":{\"identity\":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:i"
	"o.kubernetes.pod.namespace=default\"],\"pod_name\":\"src\"},\"destination\":{\"identity"
	"\":257,\"namespace\":\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.nam"
	"espace=default\"],\"pod_name\":\"dst\"},\"Type\":\"L3_L4\",\"node_name\":\"sluice-bench"
	"\",\"event_type\":{\"type\":5},\"is_reply\":false,\"traffic_direction\":\"EGRESS\",\"Sum"
	"mary\":\"UNKNOWN\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T16:00:00.123456"
	"789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"DROPPED\",\"drop_re"
	"ason\":133,\"drop_reason_desc\":\"POLICY_DENIED\",\"IP\":{\"source\":\"10.244.241.2\",\""
	"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l4\":{\"UDP\":{\"source_port\":"
	"40000,\"destination_port\":1024}},\"source\":{\"identity\":256,\"namespace\":\"default\""
	",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":"
	"\"a\\u001b\\u000a\\\"c\\\\\"},\"destination\":{\"identity\":257,\"namespace\":\"ns\\u001"
	"f\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name"
	"\":\"dst\"},\"destination_service\":{\"name\":\"s\\\\n\",\"namespace\":\"s\\\"ns\"},\"de"
	"stination_service_port\":65535,\"Type\":\"L3_L4\",\"node_name\":\"sluice-bench\",\"event"
	"_type\":{\"type\":1,\"sub_type\":133},\"traffic_direction\":\"EGRESS\",\"Summary\":\"UDP"
	"\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T16:00:00.123456789Z\"}",
	/* 11: 10075 bytes */ NULL,
	"{\"flow\":{\"time\":\"2099-12-31T23:59:59.999999999Z\",\"verdict\":\"UNKNOWN\",\"IP\":{"
	"\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l"
	"4\":{\"UDP\":{\"source_port\":65535,\"destination_port\":65535}},\"source\":{\"identity"
	"\":4294967295,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes."
	"pod.namespace=default\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":16777216,\""
	"namespace\":\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=de"
	"fault\"],\"pod_name\":\"dst\"},\"Type\":\"L3_L4\",\"node_name\":\"sluice-bench\",\"event"
	"_type\":{\"type\":5},\"is_reply\":false,\"traffic_direction\":\"EGRESS\",\"Summary\":\"U"
	"DP\"},\"node_name\":\"sluice-bench\",\"time\":\"2099-12-31T23:59:59.999999999Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"TCP\":{\"source_port\":40000,\"destination_port\":1024,\"flags\":{}}},\"source\""
	":{\"identity\":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubern"
	"etes.pod.namespace=default\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":257,\""
	"namespace\":\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=de"
	"fault\"],\"pod_name\":\"dst\"},\"Type\":\"L3_L4\",\"node_name\":\"sluice-bench\",\"event"
	"_type\":{\"type\":5},\"is_reply\":false,\"traffic_direction\":\"EGRESS\",\"Summary\":\"T"
	"CP Flags: \"},\"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T16:00:00.123456789Z\""
	"}",
	/* 14: the client's FIN delivered to the server (Hubble's trace, to-endpoint) */
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"TCP\":{\"source_port\":40000,\"destination_port\":1024,\"flags\":{\"FIN\":true,"
	"\"ACK\":true}}},\"source\":{\"identity\":256,\"namespace\":\"default\",\"labels\":[\"k8s"
	":app=src\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"src\"},\"destinat"
	"ion\":{\"identity\":257,\"namespace\":\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.k"
	"ubernetes.pod.namespace=default\"],\"pod_name\":\"dst\"},\"Type\":\"L3_L4\",\"node_name"
	"\":\"sluice-bench\",\"event_type\":{\"type\":4},\"trace_observation_point\":\"TO_ENDPOIN"
	"T\",\"trace_reason\":\"ESTABLISHED\",\"is_reply\":false,\"traffic_direction\":\"INGRESS"
	"\",\"Summary\":\"TCP Flags: ACK, FIN\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-1"
	"2-05T16:00:00.123456789Z\"}",
	/* 15: the server's SYN-ACK delivered to the client (a reply) */
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.3\",\"destination\":\"10.244.241.2\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"TCP\":{\"source_port\":1024,\"destination_port\":40000,\"flags\":{\"SYN\":true,"
	"\"ACK\":true}}},\"source\":{\"identity\":257,\"namespace\":\"default\",\"labels\":[\"k8s"
	":app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"dst\"},\"destinat"
	"ion\":{\"identity\":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.k"
	"ubernetes.pod.namespace=default\"],\"pod_name\":\"src\"},\"Type\":\"L3_L4\",\"node_name"
	"\":\"sluice-bench\",\"event_type\":{\"type\":4},\"trace_observation_point\":\"TO_ENDPOIN"
	"T\",\"trace_reason\":\"REPLY\",\"is_reply\":true,\"traffic_direction\":\"EGRESS\",\"Summ"
	"ary\":\"TCP Flags: SYN, ACK\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T16:0"
	"0:00.123456789Z\"}",
	/* 16: a RST to the proxy's listener, every flag but SYN and FIN */
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"TCP\":{\"source_port\":40000,\"destination_port\":1024,\"flags\":{\"RST\":true,"
	"\"PSH\":true,\"ACK\":true,\"URG\":true,\"ECE\":true,\"CWR\":true}}},\"source\":{\"identi"
	"ty\":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.n"
	"amespace=default\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":257,\"namespace"
	"\":\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],"
	"\"pod_name\":\"dst\"},\"Type\":\"L3_L4\",\"node_name\":\"sluice-bench\",\"event_type\":{"
	"\"type\":4,\"sub_type\":1},\"trace_observation_point\":\"TO_PROXY\",\"trace_reason\":\"E"
	"STABLISHED\",\"is_reply\":false,\"traffic_direction\":\"INGRESS\",\"Summary\":\"TCP Flag"
	"s: ACK, RST, PSH, URG, ECE, CWR\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T"
	"16:00:00.123456789Z\"}",
	/* 17: a FIN leaving for the world (to-stack) */
	"{\"flow\":{\"time\":\"1970-01-01T00:00:00Z\",\"verdict\":\"FORWARDED\",\"IP\":{\"source"
	"\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l4\":{\"T"
	"CP\":{\"source_port\":40000,\"destination_port\":1024,\"flags\":{\"FIN\":true,\"ACK\":tr"
	"ue}}},\"source\":{\"identity\":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\""
	",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"src\"},\"destination\":{\"i"
	"dentity\":2,\"labels\":[\"reserved:world\"]},\"Type\":\"L3_L4\",\"node_name\":\"sluice-b"
	"ench\",\"event_type\":{\"type\":4,\"sub_type\":3},\"trace_observation_point\":\"TO_STACK"
	"\",\"trace_reason\":\"ESTABLISHED\",\"is_reply\":false,\"traffic_direction\":\"EGRESS\","
	"\"Summary\":\"TCP Flags: ACK, FIN\"},\"node_name\":\"sluice-bench\",\"time\":\"1970-01-0"
	"1T00:00:00Z\"}",
	/* 18: a UDP flow's first reply (the trace of a DNS answer) */
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.3\",\"destination\":\"10.244.241.2\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"UDP\":{\"source_port\":53,\"destination_port\":40000}},\"source\":{\"identity\":"
	"257,\"namespace\":\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namesp"
	"ace=default\"],\"pod_name\":\"dst\"},\"destination\":{\"identity\":256,\"namespace\":\"d"
	"efault\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_"
	"name\":\"src\"},\"Type\":\"L3_L4\",\"node_name\":\"sluice-bench\",\"event_type\":{\"type"
	"\":4},\"trace_observation_point\":\"TO_ENDPOINT\",\"trace_reason\":\"REPLY\",\"is_reply"
	"\":true,\"traffic_direction\":\"EGRESS\",\"Summary\":\"UDP\"},\"node_name\":\"sluice-ben"
	"ch\",\"time\":\"2025-12-05T16:00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"UDP\":{\"source_port\":40000,\"destination_port\":1024}},\"source\":{\"ID\":1234"
	",\"identity\":256,\"cluster_name\":\"default\",\"namespace\":\"default\",\"labels\":[\"k"
	"8s:app=src\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"src\",\"workloa"
	"ds\":[{\"name\":\"src\",\"kind\":\"Deployment\"}]},\"destination\":{\"ID\":4294967295,\""
	"identity\":257,\"cluster_name\":\"c\\\"1\",\"namespace\":\"default\",\"labels\":[\"k8s:a"
	"pp=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"dst\",\"workloads\""
	":[{\"name\":\"nightly\\\\\",\"kind\":\"CronJob\"}]},\"Type\":\"L3_L4\",\"node_name\":\"s"
	"luice-bench\",\"event_type\":{\"type\":5},\"is_reply\":false,\"traffic_direction\":\"EGR"
	"ESS\",\"Summary\":\"UDP\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T16:00:00"
	".123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"DROPPED\",\"drop_re"
	"ason\":133,\"drop_reason_desc\":\"POLICY_DENIED\",\"IP\":{\"source\":\"10.244.241.2\",\""
	"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l4\":{\"UDP\":{\"source_port\":"
	"40000,\"destination_port\":1024}},\"source\":{\"identity\":256,\"cluster_name\":\"defaul"
	"t\",\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namesp"
	"ace=default\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":257,\"namespace\":\"d"
	"efault\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_"
	"name\":\"dst\",\"workloads\":[{\"kind\":\"StatefulSet\"}]},\"Type\":\"L3_L4\",\"node_nam"
	"e\":\"sluice-bench\",\"event_type\":{\"type\":1,\"sub_type\":133},\"traffic_direction\":"
	"\"EGRESS\",\"Summary\":\"UDP\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T16:"
	"00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":"
	"{\"source\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\""
	"l4\":{\"TCP\":{\"source_port\":40000,\"destination_port\":1024,\"flags\":{\"SYN\":true}}"
	"},\"source\":{\"identity\":256,\"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k"
	"8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"src\"},\"destination\":{\"ident"
	"ity\":257,\"namespace\":\"default\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod."
	"namespace=default\"],\"pod_name\":\"dst\"},\"Type\":\"L3_L4\",\"node_name\":\"sluice-ben"
	"ch\",\"event_type\":{\"type\":5},\"policy_match_type\":2,\"is_reply\":false,\"traffic_di"
	"rection\":\"INGRESS\",\"Summary\":\"TCP Flags: SYN\",\"ingress_allowed_by\":[{\"name\":"
	"\"backend-ingress\",\"namespace\":\"default\",\"labels\":[\"k8s:io.cilium.k8s.policy.der"
	"ived-from=CiliumNetworkPolicy\",\"k8s:io.cilium.k8s.policy.name=backend-ingress\",\"k8s:"
	"io.cilium.k8s.policy.namespace=default\"],\"kind\":\"CiliumNetworkPolicy\"}]},\"node_nam"
	"e\":\"sluice-bench\",\"time\":\"2025-12-05T16:00:00.123456789Z\"}",
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"DROPPED\",\"drop_re"
	"ason\":181,\"drop_reason_desc\":\"POLICY_DENY\",\"IP\":{\"source\":\"10.244.241.2\",\"de"
	"stination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l4\":{\"TCP\":{\"source_port\":40"
	"000,\"destination_port\":1024,\"flags\":{\"SYN\":true}}},\"source\":{\"identity\":256,\""
	"namespace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namespace=de"
	"fault\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":257,\"namespace\":\"default"
	"\",\"labels\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\""
	":\"dst\"},\"Type\":\"L3_L4\",\"node_name\":\"sluice-bench\",\"event_type\":{\"type\":1,"
	"\"sub_type\":181},\"traffic_direction\":\"EGRESS\",\"Summary\":\"TCP Flags: SYN\",\"egre"
	"ss_denied_by\":[{\"name\":\"no-\\\"exfil\\\"\",\"labels\":[\"k8s:io.cilium.k8s.policy.de"
	"rived-from=CiliumClusterwideNetworkPolicy\",\"k8s:io.cilium.k8s.policy.name=no-\\\"exfil"
	"\\\"\"],\"kind\":\"CiliumClusterwideNetworkPolicy\"}]},\"node_name\":\"sluice-bench\",\""
	"time\":\"2025-12-05T16:00:00.123456789Z\"}",
};

/* case 11: the URL and the Host are cut (505 and 1 + 4088 bytes) */
static const char case11_fmt[] =
	"{\"flow\":{\"time\":\"2025-12-05T16:00:00.123456789Z\",\"verdict\":\"FORWARDED\",\"IP\":{\"so"
	"urce\":\"10.244.241.2\",\"destination\":\"10.244.241.3\",\"ipVersion\":\"IPv4\"},\"l4\":{\"TCP"
	"\":{\"source_port\":40000,\"destination_port\":1024}},\"source\":{\"identity\":256,\"names"
	"pace\":\"default\",\"labels\":[\"k8s:app=src\",\"k8s:io.kubernetes.pod.namespace=default"
	"\"],\"pod_name\":\"src\"},\"destination\":{\"identity\":257,\"namespace\":\"default\",\"labels"
	"\":[\"k8s:app=dst\",\"k8s:io.kubernetes.pod.namespace=default\"],\"pod_name\":\"dst\"},\"T"
	"ype\":\"L7\",\"node_name\":\"sluice-bench\",\"event_type\":{\"type\":129},\"l7\":{\"type\":\"RES"
	"PONSE\",\"latency_ns\":\"18446744073709551615\",\"http\":{\"code\":200,\"method\":\"GETTTTTT"
	"TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT\",\"url\":\"http://%s/%s\",\"protoco"
	"l\":\"HTTP/1.1\"}},\"is_reply\":true,\"traffic_direction\":\"EGRESS\",\"Summary\":\"HTTP/1.1"
	" 200 18446744073709ms (GETTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"
	" http://%s/%s)\"},\"node_name\":\"sluice-bench\",\"time\":\"2025-12-05T16:00:00.123456789Z\"}";

static const char *node_of(int i)
{
	return i == 3 ? "node-\"b\"" : "sluice-bench";
}

static char *render(const struct sl_flow_view *f, const char *node)
{
	size_t max = sl_flow_json_max(f, node);
	char *out = malloc(max + 1);
	size_t n;

	assert_non_null(out);
	memset(out, 0x5a, max + 1);
	n = sl_flow_json(f, node, out);
	assert_true(n < max);
	assert_int_equal(strlen(out), n);
	/* nothing written past the bound */
	assert_int_equal((unsigned char)out[max], 0x5a);
	return out;
}

static void test_cases_byte_for_byte(void **state)
{
	(void)state;
	for (int i = 0; i < FLOW_CASES; i++) {
		struct sl_flow_view f = flow_case(i);
		char *got = render(&f, node_of(i)), want[16384];

		if (i != 11) {
			snprintf(want, sizeof(want), "%s", expected[i]);
		} else {
			char host[506], url[4090];

			memset(host, 'a', 505);
			host[505] = 0;
			memset(url, 'a', 4088);
			url[4088] = 0;
			snprintf(want, sizeof(want), case11_fmt, host, url, host, url);
		}
		if (strcmp(got, want))
			fail_msg("case %d:\n got  %s\n want %s", i, got, want);
		free(got);
	}
}

/* the time memo must not leak one second's date into another's */
/* gopacket's ICMPv4TypeCode names, which Hubble's Summary uses */
static void test_icmp_text(void **state)
{
	char b[SL_FLOW_ICMP_TEXT_MAX];

	(void)state;
	assert_string_equal(sl_flow_icmp_text(8, 0, b), "EchoRequest");
	assert_string_equal(sl_flow_icmp_text(0, 0, b), "EchoReply");
	assert_string_equal(sl_flow_icmp_text(8, 5, b), "EchoRequest(Code: 5)");
	assert_string_equal(sl_flow_icmp_text(3, 3, b), "DestinationUnreachable(Port)");
	assert_string_equal(sl_flow_icmp_text(3, 0, b), "DestinationUnreachable(Net)");
	assert_string_equal(sl_flow_icmp_text(3, 16, b), "DestinationUnreachable(Code: 16)");
	assert_string_equal(sl_flow_icmp_text(11, 0, b), "TimeExceeded(TTLExceeded)");
	assert_string_equal(sl_flow_icmp_text(13, 0, b), "TimestampRequest");
	assert_string_equal(sl_flow_icmp_text(7, 1, b), "7(1)");
	assert_string_equal(sl_flow_icmp_text(255, 255, b), "255(255)");
}

/* Hubble's uuid: the form of a version 4 UUID, from the boot id and the
 * flow's number, after "time" in the line; none for number 0 */
static void test_uuid(void **state)
{
	char u[SL_FLOW_UUID_TEXT], *line;
	struct sl_flow_view f = flow_case(0);

	(void)state;
	assert_string_equal(sl_flow_uuid_text(0x0123456789abcdefull, 1, u), "01234567-89ab-4def-8000-000000000001");
	assert_string_equal(sl_flow_uuid_text(0x0123456789abcdefull, 0xffffffffffffffffull, u),
			    "01234567-89ab-4def-bfff-ffffffffffff");
	assert_string_equal(sl_flow_uuid_text(7, 0, u), "");
	f.uuid_boot = 0x0123456789abcdefull;
	f.uuid_seq = 42;
	line = malloc(sl_flow_json_max(&f, "n") + 1);
	line[sl_flow_json(&f, "n", line)] = 0;
	assert_non_null(strstr(line, "Z\",\"uuid\":\"01234567-89ab-4def-8000-00000000002a\",\"verdict\":"));
	free(line);
}

static void test_time_changes_with_second(void **state)
{
	struct sl_flow_view f = flow_case(0);
	char *a, *b, *c;

	(void)state;
	a = render(&f, "n");
	f.time_ns += 86400ull * 1000000000ull + 1;
	b = render(&f, "n");
	f.time_ns -= 86400ull * 1000000000ull + 1;
	c = render(&f, "n");
	assert_non_null(strstr(a, "\"time\":\"2025-12-05T16:00:00.123456789Z\""));
	assert_non_null(strstr(b, "\"time\":\"2025-12-06T16:00:00.123456790Z\""));
	assert_string_equal(a, c);
	free(a);
	free(b);
	free(c);
}

/* protojson's Timestamp: as few of 0, 3, 6 or 9 fraction digits as the
 * value needs; the response's "time" is the flow's */
static void test_time_digits(void **state)
{
	static const struct {
		uint64_t frac;
		const char *text;
	} cases[] = {
		{ 0, "2025-12-05T16:00:00Z" },
		{ 120000000, "2025-12-05T16:00:00.120Z" },
		{ 1000000, "2025-12-05T16:00:00.001Z" },
		{ 123456000, "2025-12-05T16:00:00.123456Z" },
		{ 1000, "2025-12-05T16:00:00.000001Z" },
		{ 1, "2025-12-05T16:00:00.000000001Z" },
		{ 999999999, "2025-12-05T16:00:00.999999999Z" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_flow_view f = flow_case(0);
		char want[128], *got;

		f.time_ns = 1764950400000000000ull + cases[i].frac;
		got = render(&f, "n");
		snprintf(want, sizeof(want), "{\"flow\":{\"time\":\"%s\",", cases[i].text);
		if (strncmp(got, want, strlen(want)))
			fail_msg("%s: got %.60s", cases[i].text, got);
		snprintf(want, sizeof(want), "\"},\"node_name\":\"n\",\"time\":\"%s\"}", cases[i].text);
		if (strlen(got) < strlen(want) || strcmp(got + strlen(got) - strlen(want), want))
			fail_msg("%s: the response's end: %s", cases[i].text, got + strlen(got) - strlen(want));
		free(got);
	}
}

/* every case is one JSON object jansson-free checks can rely on: balanced,
 * no raw control character */
static void test_lines_are_clean(void **state)
{
	(void)state;
	for (int i = 0; i < FLOW_CASES; i++) {
		struct sl_flow_view f = flow_case(i);
		char *got = render(&f, node_of(i));
		int depth = 0;
		bool in_str = false;

		for (const char *p = got; *p; p++) {
			assert_true((unsigned char)*p >= 0x20);
			if (in_str) {
				if (*p == '\\')
					p++;
				else if (*p == '"')
					in_str = false;
				continue;
			}
			if (*p == '"')
				in_str = true;
			else if (*p == '{' || *p == '[')
				depth++;
			else if (*p == '}' || *p == ']')
				depth--;
		}
		assert_false(in_str);
		assert_int_equal(depth, 0);
		free(got);
	}
}

/* RFC 3629: what a JSON reader (and jq) accepts as UTF-8 */
static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		size_t n = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3 : (*s & 0xf8) == 0xf0 ? 4 : 0;
		uint32_t cp;

		if (!n)
			return false;
		cp = n == 1 ? *s : *s & (0x7f >> n);
		for (size_t i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n;
	}
	return true;
}

/*
 * Every line is valid UTF-8 whatever a client sent: a cut never splits a
 * character, and a byte that starts no valid sequence (a stray
 * continuation, an overlong form, a surrogate, a truncated sequence) is
 * written as U+FFFD, as Go's encoding/json (Hubble) writes it.
 */
static void test_lines_are_utf8(void **state)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "/caf\xc3\xa9/\xf0\x9f\x98\x80", "/caf\xc3\xa9/\xf0\x9f\x98\x80" },
		{ "/\xff", "/\\ufffd" },
		{ "/\xc0\xaf", "/\\ufffd\\ufffd" },
		{ "/\xed\xa0\x80", "/\\ufffd\\ufffd\\ufffd" },
		{ "/\xe6\x97", "/\\ufffd\\ufffd" },
		{ "/\xf4\x90\x80\x80", "/\\ufffd\\ufffd\\ufffd\\ufffd" },
	};
	struct sl_flow_view f = flow_case(5);
	char method[201], url[8193];
	char *got;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[64];

		f.url = cases[i].url;
		got = render(&f, "n");
		assert_true(valid_utf8((const unsigned char *)got));
		snprintf(want, sizeof(want), "%s", cases[i].want);
		if (!strstr(got, want))
			fail_msg("url case %zu: %s lacks %s", i, got, want);
		free(got);
	}
	/* long strings of 2-, 3- and 4-byte characters, cut at every offset */
	for (size_t w = 2; w <= 4; w++) {
		static const char *ch[] = { NULL, NULL, "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80" };

		for (size_t lead = 0; lead < 4; lead++) {
			size_t n = 0;

			for (; n < lead; n++)
				method[n] = url[n] = 'a';
			for (; n + w < sizeof(method); n += w)
				memcpy(method + n, ch[w], w);
			method[n] = 0;
			for (n = lead; n + w < sizeof(url); n += w)
				memcpy(url + n, ch[w], w);
			url[n] = 0;
			f.method = method;
			f.url = url;
			got = render(&f, "n");
			if (!valid_utf8((const unsigned char *)got))
				fail_msg("width %zu, lead %zu: a cut split a character", w, lead);
			free(got);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases_byte_for_byte),
		cmocka_unit_test(test_icmp_text),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_time_changes_with_second),
		cmocka_unit_test(test_time_digits),
		cmocka_unit_test(test_lines_are_clean),
		cmocka_unit_test(test_lines_are_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
