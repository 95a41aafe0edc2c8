/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_upstream_pool.c - the idle upstream connections' index: a take finds
 * only its own key (scope, endpoint, direction, address, port), newest
 * first; the per-key and total bounds hold, also when other keys share a
 * bucket; removal keeps the expiry order and the bucket counts right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "upstream_pool.h"

static void key_make(struct proxy_pool_key *k, const void *scope, uint32_t ep, uint8_t dir,
		     const char *ip, uint16_t port)
{
	struct proxy_flow f;

	memset(&f, 0, sizeof(f));
	f.up_scope = scope;
	f.ep_id = ep;
	f.direction = dir;
	f.orig_dst.in.sin_family = AF_INET;
	f.orig_dst.in.sin_port = htons(port);
	inet_pton(AF_INET, ip, &f.orig_dst.in.sin_addr);
	proxy_pool_key_of(k, &f);
}

static void test_keys_apart(void **state)
{
	static struct proxy_pool p;
	struct proxy_pool_entry e[6];
	struct proxy_pool_key k[6];
	int scope_a, scope_b;

	(void)state;
	memset(e, 0, sizeof(e));
	proxy_pool_init(&p, 4, 100);
	key_make(&k[0], &scope_a, 7, 0, "10.0.0.1", 80);
	key_make(&k[1], &scope_b, 7, 0, "10.0.0.1", 80); /* another scope */
	key_make(&k[2], &scope_a, 8, 0, "10.0.0.1", 80); /* another endpoint */
	key_make(&k[3], &scope_a, 7, 1, "10.0.0.1", 80); /* another direction */
	key_make(&k[4], &scope_a, 7, 0, "10.0.0.2", 80); /* another address */
	key_make(&k[5], &scope_a, 7, 0, "10.0.0.1", 81); /* another port */
	for (int i = 1; i < 6; i++)
		assert_true(proxy_pool_put(&p, &e[i], &k[i], (uint64_t)i));
	assert_null(proxy_pool_take(&p, &k[0]));
	assert_true(proxy_pool_put(&p, &e[0], &k[0], 9));
	assert_false(proxy_pool_put(&p, &e[0], &k[0], 9)); /* pooled already */
	assert_int_equal(p.count, 6);
	for (int i = 0; i < 6; i++) {
		assert_ptr_equal(proxy_pool_take(&p, &k[i]), &e[i]);
		assert_null(proxy_pool_take(&p, &k[i]));
	}
	assert_int_equal(p.count, 0);
	assert_null(proxy_pool_oldest(&p));
	for (unsigned b = 0; b < PROXY_POOL_BUCKETS; b++)
		assert_int_equal(p.nbucket[b], 0);
}

static void test_bounds_and_order(void **state)
{
	static struct proxy_pool p;
	static struct proxy_pool_entry e[40];
	struct proxy_pool_key k, other;

	(void)state;
	memset(e, 0, sizeof(e));
	proxy_pool_init(&p, 3, 6);
	key_make(&k, NULL, 1, 0, "10.0.0.1", 80);
	key_make(&other, NULL, 1, 0, "10.0.0.9", 80);
	/* per key: the fourth is refused */
	for (int i = 0; i < 3; i++)
		assert_true(proxy_pool_put(&p, &e[i], &k, (uint64_t)i));
	assert_false(proxy_pool_put(&p, &e[3], &k, 3));
	assert_false(e[3].pooled);
	/* newest first; the expiry list oldest first */
	assert_ptr_equal(proxy_pool_oldest(&p), &e[0]);
	assert_ptr_equal(proxy_pool_take(&p, &k), &e[2]);
	assert_true(proxy_pool_put(&p, &e[2], &k, 5));
	/* removing the oldest moves expiry on to the next */
	proxy_pool_remove(&p, &e[0]);
	proxy_pool_remove(&p, &e[0]); /* twice: nothing */
	assert_ptr_equal(proxy_pool_oldest(&p), &e[1]);
	assert_int_equal(p.count, 2);
	/* in total: six, whatever the keys */
	for (int i = 10; i < 14; i++)
		assert_true(proxy_pool_put(&p, &e[i], &other, (uint64_t)i) == (i < 13));
	assert_int_equal(p.count, 5);
	assert_true(proxy_pool_put(&p, &e[0], &k, 20));
	assert_int_equal(p.count, 6);
	assert_false(proxy_pool_put(&p, &e[20], &other, 21));
	while (proxy_pool_oldest(&p))
		proxy_pool_remove(&p, proxy_pool_oldest(&p));
	assert_int_equal(p.count, 0);
}

/* Many keys in few buckets: the per-key bound counts only its own key's
 * entries, whatever else shares the bucket. */
static void test_crowded_buckets(void **state)
{
	static struct proxy_pool p;
	static struct proxy_pool_entry e[PROXY_POOL_BUCKETS * 4 + 8];
	struct proxy_pool_key k;
	unsigned n = 0, per_key = 2;
	char ip[32];

	(void)state;
	memset(e, 0, sizeof(e));
	proxy_pool_init(&p, per_key, sizeof(e) / sizeof(e[0]));
	for (unsigned i = 0; i < PROXY_POOL_BUCKETS * 2; i++) {
		snprintf(ip, sizeof(ip), "10.1.%u.%u", i / 250, i % 250);
		key_make(&k, NULL, 3, 0, ip, 80);
		assert_true(proxy_pool_put(&p, &e[n++], &k, i));
		assert_true(proxy_pool_put(&p, &e[n++], &k, i));
		assert_false(proxy_pool_put(&p, &e[n], &k, i));
	}
	assert_int_equal(p.count, n);
	for (unsigned i = 0; i < PROXY_POOL_BUCKETS * 2; i++) {
		snprintf(ip, sizeof(ip), "10.1.%u.%u", i / 250, i % 250);
		key_make(&k, NULL, 3, 0, ip, 80);
		assert_ptr_equal(proxy_pool_take(&p, &k), &e[2 * i + 1]);
		assert_ptr_equal(proxy_pool_take(&p, &k), &e[2 * i]);
		assert_null(proxy_pool_take(&p, &k));
	}
	assert_int_equal(p.count, 0);
	for (unsigned b = 0; b < PROXY_POOL_BUCKETS; b++)
		assert_int_equal(p.nbucket[b], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_apart),
		cmocka_unit_test(test_bounds_and_order),
		cmocka_unit_test(test_crowded_buckets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
