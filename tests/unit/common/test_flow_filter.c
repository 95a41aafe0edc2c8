/* SPDX-License-Identifier: Apache-2.0 */
/* test_flow_filter.c - the observe filter values the CLI and the agent
 * accept (common/flow_filter.h), on the cases `hubble observe` refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flow_filter.h"

static void test_good(void **state)
{
	/* (verdicts, types, identities, TCP flags and directions are parsed
	 * as Hubble parses them: test_cli_observe_filter) */
	static const char *const good[][2] = {
		{ "port", "0" }, { "port", "65535" },
		{ "protocol", "TCP" }, { "protocol", "http" }, { "http-status", "403" },
		{ "http-status", "4xx" }, { "http-status", "5+" }, { "pod", "default/web" },
		{ "http-path", "^/api/.*$" }, { "ip", "10.0.0.1" }, { "from-ip", "10.0.0.0/8" },
		{ "to-ip", "fd00::/64" }, { "ip", "::1" }, { "ip", "0.0.0.0/0" }, { "to-port", "443" },
		{ "from-port", "0" }, { "from-namespace", "default" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_null(sl_flow_filter_check(good[i][0], good[i][1]));
}

static void test_bad(void **state)
{
	static const char *const bad[][2] = {
		{ "port", "99999" }, { "port", "65536" },
		{ "port", "8o" }, { "port", "" }, { "protocol", "foo" }, { "http-status", "99" },
		{ "http-status", "4000" }, { "http-status", "6xx" }, { "http-status", "x" }, { "pod", "" },
		{ "ip", "10.0.0.256" }, { "ip", "10.0.0.0/33" }, { "to-ip", "fd00::/129" }, { "ip", "" },
		{ "from-ip", "10.0.0.0/" }, { "ip", "10.0.0.0/-1" }, { "ip", "example.com" },
		{ "to-port", "65536" }, { "from-port", "x" }, { "to-namespace", "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_non_null(sl_flow_filter_check(bad[i][0], bad[i][1]));
}

/* --ip values: IPv4 as ::ffff:a.b.c.d with the prefix counted in 128 bits */
static void test_ip(void **state)
{
	uint8_t net[16], a[16] = { [10] = 0xff, [11] = 0xff, [12] = 10, [13] = 244, [14] = 3, [15] = 7 };
	uint8_t v6[16] = { 0xfd, 0x00, [15] = 5 };
	unsigned plen;

	(void)state;
	assert_int_equal(sl_flow_ip_parse("10.244.3.7", net, &plen), 0);
	assert_int_equal(plen, 128);
	assert_true(sl_flow_ip_in(a, net, plen));
	assert_int_equal(sl_flow_ip_parse("10.244.0.0/16", net, &plen), 0);
	assert_int_equal(plen, 112);
	assert_true(sl_flow_ip_in(a, net, plen));
	assert_int_equal(sl_flow_ip_parse("10.244.2.0/23", net, &plen), 0);
	assert_true(sl_flow_ip_in(a, net, plen)); /* 10.244.2.0-10.244.3.255 */
	assert_int_equal(sl_flow_ip_parse("10.244.4.0/23", net, &plen), 0);
	assert_false(sl_flow_ip_in(a, net, plen));
	assert_int_equal(sl_flow_ip_parse("10.244.3.6/31", net, &plen), 0);
	assert_true(sl_flow_ip_in(a, net, plen));
	assert_int_equal(sl_flow_ip_parse("10.244.3.6/32", net, &plen), 0);
	assert_false(sl_flow_ip_in(a, net, plen));
	assert_int_equal(sl_flow_ip_parse("0.0.0.0/0", net, &plen), 0);
	assert_true(sl_flow_ip_in(a, net, plen));
	assert_false(sl_flow_ip_in(v6, net, plen)); /* all of IPv4, not IPv6 */
	assert_int_equal(sl_flow_ip_parse("fd00::/8", net, &plen), 0);
	assert_true(sl_flow_ip_in(v6, net, plen));
	assert_false(sl_flow_ip_in(a, net, plen));
	assert_int_equal(sl_flow_ip_parse("fd00::5", net, &plen), 0);
	assert_true(sl_flow_ip_in(v6, net, plen));
	assert_int_equal(sl_flow_ip_parse("10.1.1.1/x", net, &plen), -1);
	assert_int_equal(sl_flow_tcp_flags_parse("SYN"), 0x02);
	assert_int_equal(sl_flow_tcp_flags_parse("syn,ACK"), 0x12);
	assert_int_equal(sl_flow_tcp_flags_parse("fin,syn,rst,psh,ack,urg,ece,cwr"), 0xff);
	assert_int_equal(sl_flow_tcp_flags_parse("NS"), 0x100);
	assert_int_equal(sl_flow_tcp_flags_parse("SYNACK"), -1);
	assert_int_equal(sl_flow_tcp_flags_parse("syn,"), -1);
	assert_int_equal(sl_flow_tcp_flags_parse(",syn"), -1);
	assert_int_equal(sl_flow_tcp_flags_parse(""), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_good), cmocka_unit_test(test_bad),
					    cmocka_unit_test(test_ip) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
