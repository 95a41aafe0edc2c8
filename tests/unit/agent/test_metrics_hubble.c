/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics_hubble.c - Hubble's flow metrics (agent/metrics_hubble.c)
 * against what Hubble's own handler tests expect of the same flows
 * (pkg/hubble/metrics/{flow,drop,policy,tcp,http}/handler_test.go), without
 * their context labels: the series, their labels and counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics_hubble.h"
#include "sluice/abi.h"

static void has(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("missing: %s\nin:\n%s", line, text);
}

/* TestFlowHandler: an L7 HTTP flow, then a policy verdict over UDP */
static void test_flows(void **state)
{
	struct metrics_hubble *h = metrics_hubble_new();
	struct hubble_flow_facts l7 = { .type = 129, .protocol = 6, .verdict = SLUICE_VERDICT_FORWARDED,
					.src_identity = 300, .dst_identity = 301 };
	struct hubble_flow_facts pv = { .type = 5, .protocol = 17, .verdict = SLUICE_VERDICT_DROPPED,
					.src_identity = 300, .dst_identity = 301 };
	struct hubble_flow_facts tr = { .type = 4, .sub_type = 3, .protocol = 6, .verdict = SLUICE_VERDICT_FORWARDED,
					.tcp_flags = 0x12, .ipv4 = true };
	char *out;

	(void)state;
	metrics_hubble_flow(h, &l7);
	metrics_hubble_flow(h, &pv);
	metrics_hubble_flow(h, &tr);
	metrics_hubble_flow(h, &tr);
	out = metrics_hubble_render(h);
	has(out, "# TYPE hubble_flows_processed_total counter\n");
	has(out, "hubble_flows_processed_total{protocol=\"HTTP\",subtype=\"HTTP\",type=\"L7\",verdict=\"FORWARDED\"} 1\n");
	has(out, "hubble_flows_processed_total{protocol=\"UDP\",subtype=\"\",type=\"PolicyVerdict\",verdict=\"DROPPED\"} 1\n");
	has(out, "hubble_flows_processed_total{protocol=\"TCP\",subtype=\"to-stack\",type=\"Trace\",verdict=\"FORWARDED\"} 2\n");
	/* tcp: a forwarded SYN-ACK, by family */
	has(out, "hubble_tcp_flags_total{family=\"IPv4\",flag=\"SYN-ACK\"} 2\n");
	assert_null(strstr(out, "flag=\"SYN\"}"));
	/* drop: every DROPPED flow, by its reason (a policy verdict has none) */
	has(out, "hubble_drop_total{protocol=\"UDP\",reason=\"DROP_REASON_UNKNOWN\"} 1\n");
	free(out);
	metrics_hubble_free(h);
}

/* TestPolicyHandler: egress none dropped, ingress l3-l4 redirected, not
 * the host's, an L7 request as l7/http; and a drop by policy */
static void test_policy(void **state)
{
	struct metrics_hubble *h = metrics_hubble_new();
	struct hubble_flow_facts f = { .type = 5, .direction = SLUICE_DIR_EGRESS, .verdict = SLUICE_VERDICT_DROPPED,
				       .src_identity = 300 };
	char *out;

	(void)state;
	metrics_hubble_flow(h, &f);
	f.direction = SLUICE_DIR_INGRESS;
	f.match_kind = 2;
	f.verdict = SLUICE_VERDICT_REDIRECTED;
	metrics_hubble_flow(h, &f);
	f.match_kind = 4;
	f.src_identity = 1; /* the host's: not counted */
	metrics_hubble_flow(h, &f);
	f = (struct hubble_flow_facts){ .type = 129, .direction = SLUICE_DIR_INGRESS, .verdict = SLUICE_VERDICT_DROPPED,
					.src_identity = 300, .method = "POST" };
	metrics_hubble_flow(h, &f);
	f.response = true; /* a response (the proxy's 403, forwarded) is no verdict */
	f.verdict = SLUICE_VERDICT_FORWARDED;
	metrics_hubble_flow(h, &f);
	f = (struct hubble_flow_facts){ .type = 1, .protocol = 6, .direction = SLUICE_DIR_INGRESS,
					.verdict = SLUICE_VERDICT_DROPPED, .drop_reason = SLUICE_DROP_POLICY_DENIED,
					.src_identity = 300 };
	metrics_hubble_flow(h, &f);
	out = metrics_hubble_render(h);
	has(out, "# HELP hubble_policy_verdicts_total Total number of Cilium network policy verdicts\n"
		 "# TYPE hubble_policy_verdicts_total counter\n");
	has(out, "hubble_policy_verdicts_total{action=\"dropped\",direction=\"egress\",match=\"none\"} 1\n");
	has(out, "hubble_policy_verdicts_total{action=\"redirected\",direction=\"ingress\",match=\"l3-l4\"} 1\n");
	has(out, "hubble_policy_verdicts_total{action=\"dropped\",direction=\"ingress\",match=\"l7/http\"} 1\n");
	has(out, "hubble_policy_verdicts_total{action=\"dropped\",direction=\"ingress\",match=\"none\"} 1\n");
	assert_null(strstr(out, "match=\"all\""));
	has(out, "hubble_drop_total{protocol=\"TCP\",reason=\"POLICY_DENIED\"} 1\n");
	has(out, "hubble_drop_total{protocol=\"HTTP\",reason=\"DROP_REASON_UNKNOWN\"} 1\n");
	free(out);
	metrics_hubble_free(h);
}

/* httpV2: responses by method, protocol, status and reporter; durations */
static void test_http(void **state)
{
	struct metrics_hubble *h = metrics_hubble_new();
	struct hubble_flow_facts f = { .type = 129, .response = true, .direction = SLUICE_DIR_INGRESS,
				       .verdict = SLUICE_VERDICT_FORWARDED, .method = "GET",
				       .http_protocol = "HTTP/1.1", .code = 200, .latency_ns = 12000000 };
	char *out;

	(void)state;
	metrics_hubble_flow(h, &f);
	metrics_hubble_flow(h, &f);
	f.direction = SLUICE_DIR_EGRESS;
	f.code = 403;
	f.latency_ns = 2000000000;
	metrics_hubble_flow(h, &f);
	f.response = false; /* a request is counted with its response */
	metrics_hubble_flow(h, &f);
	out = metrics_hubble_render(h);
	has(out, "hubble_http_requests_total{method=\"GET\",protocol=\"HTTP/1.1\",reporter=\"server\",status=\"200\"} 2\n");
	has(out, "hubble_http_requests_total{method=\"GET\",protocol=\"HTTP/1.1\",reporter=\"client\",status=\"403\"} 1\n");
	has(out, "# TYPE hubble_http_request_duration_seconds histogram\n");
	has(out, "hubble_http_request_duration_seconds_bucket{le=\"0.025\",method=\"GET\",reporter=\"server\"} 2\n");
	has(out, "hubble_http_request_duration_seconds_bucket{le=\"0.01\",method=\"GET\",reporter=\"server\"} 0\n");
	has(out, "hubble_http_request_duration_seconds_bucket{le=\"2.5\",method=\"GET\",reporter=\"client\"} 1\n");
	has(out, "hubble_http_request_duration_seconds_bucket{le=\"+Inf\",method=\"GET\",reporter=\"client\"} 1\n");
	has(out, "hubble_http_request_duration_seconds_count{method=\"GET\",reporter=\"server\"} 2\n");
	has(out, "hubble_http_request_duration_seconds_sum{method=\"GET\",reporter=\"server\"} 0.024000000\n");
	free(out);
	metrics_hubble_free(h);
}

/* port-distribution and icmp: forwarded non-replies by destination port
 * (ICMP's is 0), ICMPv4 messages by gopacket's type name */
static void test_ports_icmp(void **state)
{
	struct metrics_hubble *h = metrics_hubble_new();
	struct hubble_flow_facts f = { .type = 5, .protocol = 6, .verdict = SLUICE_VERDICT_FORWARDED, .dport = 8080 };
	char *out;

	(void)state;
	metrics_hubble_flow(h, &f);
	f.verdict = SLUICE_VERDICT_REDIRECTED;
	metrics_hubble_flow(h, &f);
	f.reply = true; /* a reply's destination port is the client's */
	metrics_hubble_flow(h, &f);
	f = (struct hubble_flow_facts){ .type = 1, .protocol = 17, .verdict = SLUICE_VERDICT_DROPPED, .dport = 53 };
	metrics_hubble_flow(h, &f); /* not forwarded */
	f = (struct hubble_flow_facts){ .type = 5, .protocol = 1, .verdict = SLUICE_VERDICT_FORWARDED, .icmp_type = 8 };
	metrics_hubble_flow(h, &f);
	f = (struct hubble_flow_facts){ .type = 4, .protocol = 1, .verdict = SLUICE_VERDICT_FORWARDED, .reply = true };
	metrics_hubble_flow(h, &f);
	out = metrics_hubble_render(h);
	has(out, "# TYPE hubble_port_distribution_total counter\n");
	has(out, "hubble_port_distribution_total{port=\"8080\",protocol=\"TCP\"} 2\n");
	has(out, "hubble_port_distribution_total{port=\"0\",protocol=\"ICMPv4\"} 1\n");
	assert_null(strstr(out, "port=\"53\""));
	has(out, "hubble_icmp_total{family=\"IPv4\",type=\"EchoRequest\"} 1\n");
	has(out, "hubble_icmp_total{family=\"IPv4\",type=\"EchoReply\"} 1\n");
	free(out);
	metrics_hubble_free(h);
}

/* flows-to-world (Hubble's defaults): TestFlowsToWorldHandler_MatchingFlow
 * and _NonMatchingFlows, without their context labels; a CIDR identity's
 * labels carry reserved:world too */
static void test_flows_to_world(void **state)
{
	struct metrics_hubble *h = metrics_hubble_new();
	static const uint8_t protos[] = { 6, 17, 1, 58 };
	struct hubble_flow_facts f = { .type = 1, .verdict = SLUICE_VERDICT_DROPPED,
				       .drop_reason = SLUICE_DROP_POLICY_DENIED, .src_identity = 300,
				       .dst_identity = SLUICE_ID_WORLD, .dport = 80, .ipv4 = true };
	char *out;

	(void)state;
	out = metrics_hubble_render(h);
	has(out, "# TYPE hubble_flows_to_world_total counter\n");
	assert_null(strstr(out, "hubble_flows_to_world_total{"));
	free(out);
	for (size_t i = 0; i < sizeof(protos); i++) {
		f.protocol = protos[i];
		metrics_hubble_flow(h, &f);
	}
	/* not counted: another reason's drop, a host destination, a
	 * forwarded reply, a flow without L4 */
	f.protocol = 6;
	f.drop_reason = SLUICE_DROP_INVALID_PACKET;
	metrics_hubble_flow(h, &f);
	f.drop_reason = SLUICE_DROP_POLICY_DENIED;
	f.dst_identity = SLUICE_ID_HOST;
	metrics_hubble_flow(h, &f);
	f = (struct hubble_flow_facts){ .type = 4, .protocol = 6, .verdict = SLUICE_VERDICT_FORWARDED,
					.dst_identity = SLUICE_ID_WORLD, .reply = true, .ipv4 = true };
	metrics_hubble_flow(h, &f);
	f.reply = false;
	f.protocol = 47; /* GRE: no L4 in Hubble's terms */
	metrics_hubble_flow(h, &f);
	/* counted: a forwarded connection to a CIDR identity, and its drop
	 * as a reply by policy (Hubble skips only forwarded replies) */
	f = (struct hubble_flow_facts){ .type = 5, .protocol = 6, .verdict = SLUICE_VERDICT_FORWARDED,
					.src_identity = 300, .dst_identity = SLUICE_ID_LOCAL_MIN + 7, .ipv4 = true };
	metrics_hubble_flow(h, &f);
	f.verdict = SLUICE_VERDICT_DROPPED;
	f.type = 1;
	f.reply = true;
	f.drop_reason = SLUICE_DROP_POLICY_DENIED;
	metrics_hubble_flow(h, &f);
	out = metrics_hubble_render(h);
	has(out, "hubble_flows_to_world_total{protocol=\"TCP\",verdict=\"DROPPED\"} 2\n");
	has(out, "hubble_flows_to_world_total{protocol=\"UDP\",verdict=\"DROPPED\"} 1\n");
	has(out, "hubble_flows_to_world_total{protocol=\"ICMPv4\",verdict=\"DROPPED\"} 1\n");
	has(out, "hubble_flows_to_world_total{protocol=\"ICMPv6\",verdict=\"DROPPED\"} 1\n");
	has(out, "hubble_flows_to_world_total{protocol=\"TCP\",verdict=\"FORWARDED\"} 1\n");
	assert_null(strstr(out, "hubble_flows_to_world_total{protocol=\"Unknown L4\""));
	free(out);
	metrics_hubble_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_ports_icmp),
		cmocka_unit_test(test_flows_to_world),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
