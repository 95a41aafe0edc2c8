// SPDX-License-Identifier: Apache-2.0
/*
 * test_port_keys.c - port keys alone (policy/compile_ports.c): a port, a
 * range, a protocol, "all ports" and named ports as prefix keys of the
 * policy trie, without a policy set, identities or a compile around them.
 * Ranges are checked as what the trie must see: aligned blocks that cover
 * exactly the range, each port once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "compile_ports.h"

static void keys_free(struct compile_keys *k)
{
	free(k->v);
	memset(k, 0, sizeof(*k));
}

static void assert_key(uint64_t k, uint8_t proto, uint8_t plen, uint16_t port)
{
	assert_int_equal(KEY_ID(k), 0);
	assert_int_equal(KEY_PROTO(k), proto);
	assert_int_equal(KEY_PLEN(k), plen);
	assert_int_equal(KEY_PORT(k), port);
}

/*
 * The keys of proto cover [lo, hi] exactly: every block aligned (its port
 * has no bits past the prefix), the blocks in ascending order, touching,
 * none past hi.
 */
static void assert_covers(const struct compile_keys *k, uint8_t proto, uint32_t lo, uint32_t hi)
{
	uint32_t next = lo;

	assert_true(k->n > 0);
	for (size_t i = 0; i < k->n; i++) {
		uint64_t key = k->v[i];
		unsigned int plen = KEY_PLEN(key);

		assert_int_equal(KEY_PROTO(key), proto);
		assert_true(plen >= SLUICE_POLICY_PREFIX_PROTO && plen <= SLUICE_POLICY_PREFIX_FULL);
		assert_int_equal(compile_port_mask(KEY_PORT(key), plen), KEY_PORT(key));
		assert_int_equal(KEY_PORT(key), next);
		next = (uint32_t)compile_block_end(key) + 1;
	}
	assert_int_equal(next, hi + 1);
}

static void test_single_port(void **state)
{
	struct compile_keys k = { 0 };

	(void)state;
	assert_int_equal(compile_port_keys(&k, IPPROTO_TCP, 80, 0, false), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_TCP, SLUICE_POLICY_PREFIX_FULL, 80);
	assert_int_equal(compile_block_end(k.v[0]), 80);
	keys_free(&k);

	/* end_port equal to port is one port, not a range */
	assert_int_equal(compile_port_keys(&k, IPPROTO_UDP, 53, 53, false), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_UDP, SLUICE_POLICY_PREFIX_FULL, 53);
	keys_free(&k);
}

static void test_all_ports_and_protocols(void **state)
{
	struct compile_keys k = { 0 };

	(void)state;
	/* no protocol, no port: the L3 key alone */
	assert_int_equal(compile_port_keys(&k, 0, 0, 0, false), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], 0, SLUICE_POLICY_PREFIX_L3, 0);
	keys_free(&k);

	/* one protocol, every port */
	assert_int_equal(compile_port_keys(&k, IPPROTO_SCTP, 0, 0, false), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_SCTP, SLUICE_POLICY_PREFIX_PROTO, 0);
	assert_int_equal(compile_block_end(k.v[0]), 65535);
	keys_free(&k);

	/* protocol ANY on a port: TCP, UDP and SCTP */
	assert_int_equal(compile_port_keys(&k, 0, 443, 0, false), 0);
	assert_int_equal(k.n, 3);
	assert_key(k.v[0], IPPROTO_TCP, SLUICE_POLICY_PREFIX_FULL, 443);
	assert_key(k.v[1], IPPROTO_UDP, SLUICE_POLICY_PREFIX_FULL, 443);
	assert_key(k.v[2], IPPROTO_SCTP, SLUICE_POLICY_PREFIX_FULL, 443);
	keys_free(&k);
}

/* HTTP runs over TCP only: with L7 rules ANY is TCP, and "no port" is
 * every TCP port, never the L3 key (that would send UDP to the proxy) */
static void test_l7_is_tcp_only(void **state)
{
	struct compile_keys k = { 0 };

	(void)state;
	assert_int_equal(compile_port_keys(&k, 0, 80, 0, true), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_TCP, SLUICE_POLICY_PREFIX_FULL, 80);
	keys_free(&k);

	assert_int_equal(compile_port_keys(&k, 0, 0, 0, true), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_TCP, SLUICE_POLICY_PREFIX_PROTO, 0);
	keys_free(&k);

	/* an explicit UDP port with L7 rules gives no key at all */
	assert_int_equal(compile_port_keys(&k, IPPROTO_UDP, 80, 0, true), 0);
	assert_int_equal(k.n, 0);
	keys_free(&k);
}

static void test_range_blocks(void **state)
{
	struct compile_keys k = { 0 };

	(void)state;
	/* 80-90: 80-87 (/61), 88-89 (/63), 90 (/64) */
	assert_int_equal(compile_port_keys(&k, IPPROTO_TCP, 80, 90, false), 0);
	assert_int_equal(k.n, 3);
	assert_key(k.v[0], IPPROTO_TCP, 61, 80);
	assert_key(k.v[1], IPPROTO_TCP, 63, 88);
	assert_key(k.v[2], IPPROTO_TCP, 64, 90);
	assert_covers(&k, IPPROTO_TCP, 80, 90);
	keys_free(&k);

	/* 1-65535: sixteen blocks, 1, 2-3, 4-7, ... 32768-65535 */
	assert_int_equal(compile_port_keys(&k, IPPROTO_TCP, 1, 65535, false), 0);
	assert_int_equal(k.n, 16);
	assert_key(k.v[0], IPPROTO_TCP, 64, 1);
	assert_key(k.v[15], IPPROTO_TCP, 49, 32768);
	assert_covers(&k, IPPROTO_TCP, 1, 65535);
	keys_free(&k);

	/* an aligned power of two is one block */
	assert_int_equal(compile_port_keys(&k, IPPROTO_UDP, 1024, 2047, false), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_UDP, 54, 1024);
	assert_int_equal(compile_block_end(k.v[0]), 2047);
	keys_free(&k);

	/* ANY on a range: the same blocks for each protocol */
	assert_int_equal(compile_port_keys(&k, 0, 8000, 8080, false), 0);
	assert_int_equal(k.n % 3, 0);
	{
		struct compile_keys one = { .v = k.v, .n = k.n / 3 };

		assert_covers(&one, IPPROTO_TCP, 8000, 8080);
		one.v = k.v + k.n / 3;
		assert_covers(&one, IPPROTO_UDP, 8000, 8080);
		one.v = k.v + 2 * (k.n / 3);
		assert_covers(&one, IPPROTO_SCTP, 8000, 8080);
	}
	keys_free(&k);
}

/* Every range [lo, hi] of a sample is covered exactly, with at most two
 * blocks per bit (the bound that keeps a range's cost in the trie small). */
static void test_range_sample(void **state)
{
	uint32_t seed = 12345;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		struct compile_keys k = { 0 };
		uint32_t lo, hi;

		seed = seed * 1103515245u + 12345u;
		lo = 1 + (seed >> 8) % 65535;
		seed = seed * 1103515245u + 12345u;
		hi = lo + (seed >> 8) % (65536 - lo);
		if (hi == lo)
			continue;
		assert_int_equal(compile_port_keys(&k, IPPROTO_TCP, (uint16_t)lo, (uint16_t)hi, false), 0);
		assert_covers(&k, IPPROTO_TCP, lo, hi);
		assert_true(k.n <= 32);
		keys_free(&k);
	}
}

static void test_mask_and_block_end(void **state)
{
	(void)state;
	assert_int_equal(compile_port_mask(0x1234, 64), 0x1234);
	assert_int_equal(compile_port_mask(0x1234, 56), 0x1200);
	assert_int_equal(compile_port_mask(0x1234, 49), 0x0000);
	assert_int_equal(compile_port_mask(0x9234, 49), 0x8000);
	assert_int_equal(compile_port_mask(0x1234, 48), 0);
	assert_int_equal(compile_port_mask(0x1234, 40), 0);
	assert_int_equal(compile_block_end(KEY_PACK(0, IPPROTO_TCP, 56, 0x1200)), 0x12ff);
	assert_int_equal(compile_block_end(KEY_PACK(0, IPPROTO_TCP, 48, 0)), 65535);
	assert_int_equal(compile_block_end(KEY_PACK(0, 0, 40, 0)), 65535);
}

static void test_rule_keys_named(void **state)
{
	const struct sluice_named_port named[] = {
		{ .name = "http", .port = 8080, .protocol = IPPROTO_TCP },
		{ .name = "dns", .port = 53, .protocol = IPPROTO_UDP },
	};
	const struct sluice_compile_endpoint ep = { .ep_id = 1, .identity = 300,
						   .named_ports = named, .nnamed_ports = 2 };
	struct sluice_port ports[] = {
		{ .name = (char *)"http" },
		{ .port = 443, .protocol = IPPROTO_TCP },
		{ .name = (char *)"dns", .protocol = IPPROTO_TCP }, /* the pod says UDP */
		{ .name = (char *)"metrics" },                      /* the pod has none */
	};
	struct sluice_port_rule pr = { .ports = ports, .nports = 4 };
	struct compile_keys k = { 0 };

	(void)state;
	assert_true(compile_rule_has_named(&pr));
	/* resolved on the endpoint: http -> TCP 8080; dns: protocol mismatch;
	 * metrics: unknown; 443 as written */
	assert_int_equal(compile_rule_keys(&pr, &ep, false, &k), 0);
	assert_int_equal(k.n, 2);
	assert_key(k.v[0], IPPROTO_TCP, SLUICE_POLICY_PREFIX_FULL, 8080);
	assert_key(k.v[1], IPPROTO_TCP, SLUICE_POLICY_PREFIX_FULL, 443);
	keys_free(&k);

	/* no endpoint to resolve on: named ports are skipped */
	assert_int_equal(compile_rule_keys(&pr, NULL, false, &k), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_TCP, SLUICE_POLICY_PREFIX_FULL, 443);
	keys_free(&k);

	/* named_only: the numeric port is skipped */
	assert_int_equal(compile_rule_keys(&pr, &ep, true, &k), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_TCP, SLUICE_POLICY_PREFIX_FULL, 8080);
	keys_free(&k);

	/* a named port without protocol takes the pod's */
	ports[0].name = (char *)"dns";
	pr.nports = 1;
	assert_int_equal(compile_rule_keys(&pr, &ep, false, &k), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_UDP, SLUICE_POLICY_PREFIX_FULL, 53);
	keys_free(&k);
}

static void test_rule_keys_no_ports(void **state)
{
	struct sluice_http_rule http = { 0 };
	struct sluice_port_rule l7 = { .http = &http, .nhttp = 1 };
	struct compile_keys k = { 0 };

	(void)state;
	/* no port rule at all: L3 */
	assert_false(compile_rule_has_named(NULL));
	assert_int_equal(compile_rule_keys(NULL, NULL, false, &k), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], 0, SLUICE_POLICY_PREFIX_L3, 0);
	keys_free(&k);

	/* http rules without ports: every TCP port */
	assert_int_equal(compile_rule_keys(&l7, NULL, false, &k), 0);
	assert_int_equal(k.n, 1);
	assert_key(k.v[0], IPPROTO_TCP, SLUICE_POLICY_PREFIX_PROTO, 0);
	keys_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_port),
		cmocka_unit_test(test_all_ports_and_protocols),
		cmocka_unit_test(test_l7_is_tcp_only),
		cmocka_unit_test(test_range_blocks),
		cmocka_unit_test(test_range_sample),
		cmocka_unit_test(test_mask_and_block_end),
		cmocka_unit_test(test_rule_keys_named),
		cmocka_unit_test(test_rule_keys_no_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
