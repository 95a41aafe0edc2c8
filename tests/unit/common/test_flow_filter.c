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
	static const char *const good[][2] = {
		{ "verdict", "DROPPED" }, { "verdict", "forwarded" }, { "verdict", "REDIRECTED" },
		{ "verdict", "ALLOWED" }, { "type", "l7" }, { "type", "l3-l4" }, { "type", "policy-verdict" },
		{ "identity", "0" }, { "identity", "4294967295" }, { "port", "0" }, { "port", "65535" },
		{ "protocol", "TCP" }, { "protocol", "http" }, { "http-status", "403" },
		{ "http-status", "4xx" }, { "http-status", "5+" }, { "pod", "default/web" },
		{ "http-path", "^/api/.*$" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_null(sl_flow_filter_check(good[i][0], good[i][1]));
}

static void test_bad(void **state)
{
	static const char *const bad[][2] = {
		{ "verdict", "BOGUS" }, { "type", "trace" }, { "type", "capture" }, { "identity", "foo" },
		{ "identity", "-1" }, { "identity", "4294967296" }, { "port", "99999" }, { "port", "65536" },
		{ "port", "8o" }, { "port", "" }, { "protocol", "foo" }, { "http-status", "99" },
		{ "http-status", "4000" }, { "http-status", "6xx" }, { "http-status", "x" }, { "pod", "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_non_null(sl_flow_filter_check(bad[i][0], bad[i][1]));
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_good), cmocka_unit_test(test_bad) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
