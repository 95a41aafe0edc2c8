// SPDX-License-Identifier: Apache-2.0
/*
 * test_backoff.c - reconnect backoff: every delay lies in [step/2, step]
 * with step = 200 ms doubling to the 30 s cap, never above the cap; a reset
 * starts over; delays are not all equal (jitter); random watch timeouts
 * stay within their range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "backoff.h"

static void test_sequence_bounds(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed < 200; seed++) {
		struct k8s_backoff b;
		k8s_backoff_init(&b, 0, 0, seed);
		uint64_t step = 200;
		for (int i = 0; i < 20; i++) {
			uint64_t d = k8s_backoff_next(&b);
			assert_true(d >= step / 2);
			assert_true(d <= step);
			assert_true(d <= 30000);
			step = step * 2 > 30000 ? 30000 : step * 2;
		}
		/* at the cap it stays there */
		uint64_t d = k8s_backoff_next(&b);
		assert_true(d >= 15000 && d <= 30000);
		k8s_backoff_reset(&b);
		d = k8s_backoff_next(&b);
		assert_true(d >= 100 && d <= 200);
	}
}

static void test_jitter_spreads(void **state)
{
	(void)state;
	uint64_t seen[16] = {0};
	int distinct = 0;
	for (uint64_t seed = 1; seed <= 16; seed++) {
		struct k8s_backoff b;
		k8s_backoff_init(&b, 0, 0, seed * 7919);
		for (int i = 0; i < 8; i++)
			k8s_backoff_next(&b);
		uint64_t d = k8s_backoff_next(&b); /* step 25.6 s .. 30 s */
		int dup = 0;
		for (int j = 0; j < distinct; j++)
			dup |= seen[j] == d;
		if (!dup)
			seen[distinct++] = d;
	}
	assert_true(distinct >= 12);
}

static void test_custom_and_random(void **state)
{
	(void)state;
	struct k8s_backoff b;
	k8s_backoff_init(&b, 1000, 4000, 0); /* seed from getrandom */
	uint64_t max = 0;
	for (int i = 0; i < 10; i++) {
		uint64_t d = k8s_backoff_next(&b);
		assert_true(d >= 500 && d <= 4000);
		if (d > max)
			max = d;
	}
	assert_true(max >= 2000);
	for (int i = 0; i < 10000; i++) {
		uint64_t t = k8s_backoff_random(&b, 300, 600);
		assert_true(t >= 300 && t <= 600);
	}
	assert_int_equal(k8s_backoff_random(&b, 5, 5), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence_bounds),
		cmocka_unit_test(test_jitter_spreads),
		cmocka_unit_test(test_custom_and_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
