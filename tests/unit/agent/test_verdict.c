/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_verdict.c - the verdict order the kernel and the agent share
 * (include/sluice/verdict.h): deny beats redirect beats allow across the
 * peer and ANY lookups; no entry leaves it to the enforcement flag.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sluice/verdict.h"

static void test_order(void **state)
{
	struct sluice_policy_entry allow = { .match_kind = 1 };
	struct sluice_policy_entry deny = { .flags = SLUICE_POL_F_DENY, .match_kind = 2 };
	struct sluice_policy_entry redirect = { .flags = SLUICE_POL_F_REDIRECT, .proxy_port = 15001 };
	const struct sluice_policy_entry *d;

	(void)state;
	/* nothing found: the flag decides */
	assert_int_equal(sluice_policy_order(NULL, NULL, 1, &d), SLUICE_POLICY_DENIED);
	assert_null(d);
	assert_int_equal(sluice_policy_order(NULL, NULL, 0, &d), SLUICE_POLICY_ALLOW);
	assert_null(d);
	/* an entry found applies whatever the flag */
	assert_int_equal(sluice_policy_order(&allow, NULL, 1, &d), SLUICE_POLICY_ALLOW);
	assert_ptr_equal(d, &allow);
	assert_int_equal(sluice_policy_order(NULL, &deny, 0, &d), SLUICE_POLICY_DENY);
	assert_ptr_equal(d, &deny);
	/* deny under ANY beats an allow or a redirect for the peer */
	assert_int_equal(sluice_policy_order(&allow, &deny, 1, &d), SLUICE_POLICY_DENY);
	assert_ptr_equal(d, &deny);
	assert_int_equal(sluice_policy_order(&redirect, &deny, 1, &d), SLUICE_POLICY_DENY);
	/* redirect under ANY beats a plain allow for the peer: L7 cannot be skipped */
	assert_int_equal(sluice_policy_order(&allow, &redirect, 1, &d), SLUICE_POLICY_REDIRECT);
	assert_ptr_equal(d, &redirect);
	/* the peer's entry decides between two of the same kind */
	assert_int_equal(sluice_policy_order(&allow, &allow, 1, &d), SLUICE_POLICY_ALLOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
