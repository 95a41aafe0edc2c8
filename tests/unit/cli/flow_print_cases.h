/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_print_cases.h - the flows test_flow_print.c prints: flow_cases.h's
 * (every branch of the JSON line), then what only the text forms tell
 * apart: a refused TLS handshake (no method), a Host with a '/', a URL
 * without one, ends known only by identity (host, world, v4 and v6), a
 * namespace that reads like "identity", names cut by the line's cap and by
 * the table's cells, ports the line does not carry (ICMP, GRE), UTF-8,
 * DEL and ESC in a path, a path cut among escapes, a leap day.
 */
#ifndef SLUICE_TEST_FLOW_PRINT_CASES_H
#define SLUICE_TEST_FLOW_PRINT_CASES_H

#include "../common/flow_cases.h"

#define PRINT_CASES (FLOW_CASES + 18)

static char print_case_quotes[201], print_case_ns[151], print_case_tabs[302];

static struct sl_flow_view print_case(int i)
{
	struct sl_flow_view f;

	if (i < FLOW_CASES)
		return flow_case(i);
	f = flow_case(0);
	switch (i - FLOW_CASES) {
	case 0: /* refused at its TLS handshake: no request, the URL is https://SNI */
		f.kind = SL_FLOW_L7_REQUEST;
		f.verdict = SLUICE_VERDICT_DROPPED;
		f.protocol = 6;
		f.https = true;
		f.host = "sni.example";
		f.url = "";
		break;
	case 1: /* a Host with a '/': the path starts in it */
		f.kind = SL_FLOW_L7_REQUEST;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		f.method = "GET";
		f.host = "evil/x";
		f.url = "/p";
		break;
	case 2: /* to the host, from the world */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.direction = SLUICE_DIR_INGRESS;
		f.src = (struct sl_flow_end){ .identity = 2 };
		f.dst = (struct sl_flow_end){ .identity = 1, .ns = "", .pod = "" };
		break;
	case 3: /* to the world over IPv6, TCP */
		f.protocol = 6;
		f.tcp_flags = 0x02;
		f.daddr[0] = 0x20;
		f.daddr[1] = 0x01;
		memset(f.daddr + 2, 0, 14);
		f.daddr[15] = 0x53;
		f.dst = (struct sl_flow_end){ .identity = 2 };
		break;
	case 4: /* a namespace that starts like "identity" */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.dst.ns = "identityns";
		f.dst.pod = "p";
		break;
	case 5: /* a pod of 200 '"' (the line keeps 146) and a namespace of 150 */
		memset(print_case_quotes, '"', 200);
		memset(print_case_ns, 'n', 150);
		f.src.pod = print_case_quotes;
		f.src.ns = print_case_ns;
		f.dst.identity = 70000;
		f.dst.ns = f.dst.pod = NULL;
		break;
	case 6: /* ICMP: the view has ports, the line none */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 1;
		break;
	case 7: /* GRE: no l4 at all */
		f.protocol = 47;
		break;
	case 8: /* an unknown match type, handed to the proxy on egress */
		f.verdict = SLUICE_VERDICT_REDIRECTED;
		f.protocol = 6;
		f.match_kind = 9;
		break;
	case 9: /* a response without Host over IPv6: the server's address */
		f.kind = SL_FLOW_L7_RESPONSE;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		memset(f.saddr, 0, 16);
		f.saddr[0] = 0xfd;
		f.saddr[15] = 9;
		f.method = "HEAD";
		f.url = "/";
		f.host = NULL;
		f.code = 0;
		f.latency_ns = 0;
		break;
	case 10: /* a service without a namespace */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		f.svc_name = "api";
		f.svc_port = 8080;
		break;
	case 11: /* UTF-8 names and path */
		f.kind = SL_FLOW_L7_REQUEST;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		f.src.ns = "caf\xc3\xa9";
		f.src.pod = "\xe6\x97\xa5\xe6\x9c\xac";
		f.method = "GET";
		f.url = "/caf\xc3\xa9/\xe6\x97\xa5";
		f.host = "h\xc3\xa9";
		break;
	case 12: /* DEL and ESC in a path, a method with a newline */
		f.kind = SL_FLOW_L7_REQUEST;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		f.method = "GE\nT";
		f.url = "/a\x7f" "b\x1b[31mred";
		f.host = "h";
		break;
	case 13: /* a path of 300 tabs: the cell is cut among its escapes */
		memset(print_case_tabs, '\t', 300);
		print_case_tabs[0] = '/';
		f.kind = SL_FLOW_L7_RESPONSE;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		f.method = "GET";
		f.url = print_case_tabs;
		f.host = "h";
		f.code = 200;
		f.latency_ns = 1500000;
		break;
	case 14: /* the last millisecond of a leap day */
		f.time_ns = 1835481599999999999ull;
		break;
	case 15: /* no proxy for an L7 port, on ingress */
		f.direction = SLUICE_DIR_INGRESS;
		f.protocol = 6;
		f.drop_reason = SLUICE_DROP_PROXY_UNAVAILABLE;
		break;
	case 16: /* a URL without a '/' (OPTIONS *) */
		f.kind = SL_FLOW_L7_REQUEST;
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.protocol = 6;
		f.method = "OPTIONS";
		f.url = "*";
		f.host = "h";
		break;
	case 17: /* SCTP forwarded on ingress, with a service */
		f.verdict = SLUICE_VERDICT_FORWARDED;
		f.direction = SLUICE_DIR_INGRESS;
		f.protocol = 132;
		f.match_kind = 3;
		f.svc_ns = "kube-system";
		f.svc_name = "dns";
		f.svc_port = 53;
		break;
	}
	return f;
}

#endif
