/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_patch_plan.c - patch the live trie or swap in a new one
 * (agent/patch_plan.c): which keys can one packet see together, and what
 * a change between two entry lists plans.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "patch_plan.h"

/* A key for identity id, direction dir, protocol/port with plen bits of
 * the 64-bit key in force (40: L3 only, 48: protocol, 64: port). */
static struct sluice_policy_key key(uint32_t id, uint8_t dir, uint8_t proto, uint16_t port, uint32_t plen)
{
	struct sluice_policy_key k;

	memset(&k, 0, sizeof(k));
	k.prefixlen = plen;
	k.identity_be = htonl(id);
	k.direction = dir;
	k.protocol = plen > SLUICE_POLICY_PREFIX_L3 ? proto : 0;
	k.dport_be = plen > SLUICE_POLICY_PREFIX_PROTO ? htons(port) : 0;
	return k;
}

static struct sluice_policy_map_entry entry(struct sluice_policy_key k, uint8_t flags)
{
	struct sluice_policy_map_entry e;

	memset(&e, 0, sizeof(e));
	e.key = k;
	e.value.flags = flags;
	return e;
}

static int cmp_entries(const void *x, const void *y)
{
	return memcmp(&((const struct sluice_policy_map_entry *)x)->key,
		      &((const struct sluice_policy_map_entry *)y)->key, sizeof(struct sluice_policy_key));
}

static void test_keys_meet(void **state)
{
	struct sluice_policy_key a80 = key(300, SLUICE_DIR_INGRESS, 6, 80, 64);
	struct sluice_policy_key a81 = key(300, SLUICE_DIR_INGRESS, 6, 81, 64);
	struct sluice_policy_key b80 = key(301, SLUICE_DIR_INGRESS, 6, 80, 64);
	struct sluice_policy_key any80 = key(SLUICE_ID_ANY, SLUICE_DIR_INGRESS, 6, 80, 64);
	struct sluice_policy_key a80e = key(300, SLUICE_DIR_EGRESS, 6, 80, 64);
	struct sluice_policy_key a_tcp = key(300, SLUICE_DIR_INGRESS, 6, 0, 48);
	struct sluice_policy_key a_udp = key(300, SLUICE_DIR_INGRESS, 17, 0, 48);
	struct sluice_policy_key a_l3 = key(300, SLUICE_DIR_INGRESS, 0, 0, 40);
	struct sluice_policy_key bogus = key(300, SLUICE_DIR_INGRESS, 6, 80, 30);

	(void)state;
	assert_true(patch_keys_meet(&a80, &a80));
	assert_false(patch_keys_meet(&a80, &a81));   /* two ports: no packet has both */
	assert_false(patch_keys_meet(&a80, &b80));   /* two peers */
	assert_true(patch_keys_meet(&a80, &any80));  /* ANY is looked up for every peer */
	assert_true(patch_keys_meet(&any80, &b80));
	assert_false(patch_keys_meet(&a80, &a80e));  /* two directions */
	assert_true(patch_keys_meet(&a80, &a_tcp));  /* port 80 is inside "all of TCP" */
	assert_false(patch_keys_meet(&a_udp, &a80)); /* UDP does not hold TCP/80 */
	assert_true(patch_keys_meet(&a_l3, &a81));   /* L3 holds every port */
	assert_true(patch_keys_meet(&a_l3, &a_udp));
	assert_true(patch_keys_meet(&bogus, &b80));  /* shorter than L3: not a key it knows, assume they meet */
}

static void test_plan_nothing(void **state)
{
	struct sluice_policy_map_entry v[2] = {
		entry(key(300, SLUICE_DIR_INGRESS, 6, 80, 64), 0),
		entry(key(301, SLUICE_DIR_INGRESS, 6, 80, 64), 0),
	};
	struct patch_plan plan;

	(void)state;
	qsort(v, 2, sizeof(v[0]), cmp_entries);
	assert_int_equal(patch_plan(v, 2, v, 2, &plan), PATCH_NOTHING);
	assert_int_equal(patch_plan(NULL, 0, NULL, 0, &plan), PATCH_NOTHING);
}

static void test_plan_keys(void **state)
{
	struct sluice_policy_map_entry old[2] = {
		entry(key(300, SLUICE_DIR_INGRESS, 6, 80, 64), 0),
		entry(key(301, SLUICE_DIR_INGRESS, 6, 80, 64), 0),
	};
	/* 301 loses port 80 and gains 443; 302 gets a deny; 300 unchanged */
	struct sluice_policy_map_entry new_[3] = {
		entry(key(300, SLUICE_DIR_INGRESS, 6, 80, 64), 0),
		entry(key(301, SLUICE_DIR_INGRESS, 6, 443, 64), 0),
		entry(key(302, SLUICE_DIR_INGRESS, 6, 80, 64), SLUICE_POL_F_DENY),
	};
	struct patch_plan plan;

	(void)state;
	qsort(old, 2, sizeof(old[0]), cmp_entries);
	qsort(new_, 3, sizeof(new_[0]), cmp_entries);
	assert_int_equal(patch_plan(old, 2, new_, 3, &plan), PATCH_KEYS);
	assert_int_equal(plan.ndels, 1);
	assert_int_equal(ntohl(plan.dels[0].identity_be), 301);
	assert_int_equal(ntohs(plan.dels[0].dport_be), 80);
	assert_int_equal(plan.nsets, 2);
	/* a changed value is a set, not a delete and a set */
	new_[0].value.flags = SLUICE_POL_F_DENY;
	assert_int_equal(patch_plan(old, 2, new_, 3, &plan), PATCH_KEYS);
	assert_int_equal(plan.ndels, 1);
	assert_int_equal(plan.nsets, 3);
}

/* 2,000 entries, changes at the head, in the middle and at the tail:
 * the block compares that skip the equal runs miss none of them */
static void test_plan_large_runs(void **state)
{
	enum { N = 2000 };
	struct sluice_policy_map_entry *old = calloc(N, sizeof(*old)), *new_ = calloc(N + 1, sizeof(*new_));
	struct patch_plan plan;
	size_t nnew = 0;

	(void)state;
	for (uint32_t i = 0; i < N; i++)
		old[i] = entry(key(1000 + i, SLUICE_DIR_INGRESS, 6, 80, 64), 0);
	qsort(old, N, sizeof(*old), cmp_entries);
	for (size_t i = 0; i < N; i++) {
		uint32_t id = ntohl(old[i].key.identity_be);

		if (id == 1000 + N - 1)
			continue; /* the last identity goes */
		new_[nnew] = old[i];
		if (id == 1000) /* the first one's value changes */
			new_[nnew].value.flags = SLUICE_POL_F_DENY;
		if (id == 1000 + N / 2 + 7) /* one in the middle moves to 81 */
			new_[nnew].key.dport_be = htons(81);
		nnew++;
	}
	new_[nnew++] = entry(key(1000 + N, SLUICE_DIR_INGRESS, 6, 80, 64), 0); /* one comes */
	qsort(new_, nnew, sizeof(*new_), cmp_entries);
	assert_int_equal(patch_plan(old, N, new_, nnew, &plan), PATCH_KEYS);
	assert_int_equal(plan.ndels, 2); /* the middle one's old key, the last identity */
	assert_int_equal(plan.nsets, 3); /* the first one's value, the middle one's new key, the new one */
	for (size_t k = 0; k < plan.ndels; k++)
		assert_true(ntohl(plan.dels[k].identity_be) == 1000 + N / 2 + 7 ||
			    ntohl(plan.dels[k].identity_be) == 1000 + N - 1);
	for (size_t k = 0; k < plan.nsets; k++) {
		uint32_t id = ntohl(plan.sets[k].key.identity_be);

		assert_true(id == 1000 || id == 1000 + N / 2 + 7 || id == 1000 + N);
		if (id == 1000 + N / 2 + 7)
			assert_int_equal(ntohs(plan.sets[k].key.dport_be), 81);
	}
	/* the same list: nothing */
	assert_int_equal(patch_plan(old, N, old, N, &plan), PATCH_NOTHING);
	/* one value changed, the count kept: the equal head and tail around
	 * it, and what lies between them copied over the old list makes the
	 * new one (how regenerate.c updates an endpoint's written entries) */
	memcpy(new_, old, N * sizeof(*old));
	new_[N / 2 + 3].value.flags = SLUICE_POL_F_DENY;
	assert_int_equal(patch_plan(old, N, new_, N, &plan), PATCH_KEYS);
	assert_true(plan.head <= N / 2 + 3 && N / 2 + 3 < N - plan.tail);
	assert_true(plan.head >= N / 2 + 3 - 64 && plan.tail >= N - (N / 2 + 3) - 1 - 64);
	memcpy(old + plan.head, new_ + plan.head, (N - plan.tail - plan.head) * sizeof(*old));
	assert_memory_equal(old, new_, N * sizeof(*old));
	free(old);
	free(new_);
}

static void test_plan_swap_when_keys_meet(void **state)
{
	/* an allow for ANY on TCP/80 and a deny for 300 on TCP/80 arrive together:
	 * a packet from 300 to port 80 could see one written and not the other */
	struct sluice_policy_map_entry new_[2] = {
		entry(key(SLUICE_ID_ANY, SLUICE_DIR_INGRESS, 6, 80, 64), 0),
		entry(key(300, SLUICE_DIR_INGRESS, 6, 80, 64), SLUICE_POL_F_DENY),
	};
	struct patch_plan plan;

	(void)state;
	qsort(new_, 2, sizeof(new_[0]), cmp_entries);
	assert_int_equal(patch_plan(NULL, 0, new_, 2, &plan), PATCH_SWAP);
	/* one of them alone is a patch */
	assert_int_equal(patch_plan(NULL, 0, new_, 1, &plan), PATCH_KEYS);
	/* a delete that meets a set is a swap too */
	assert_int_equal(patch_plan(&new_[0], 1, &new_[1], 1, &plan), PATCH_SWAP);
}

static void test_plan_swap_when_large(void **state)
{
	struct sluice_policy_map_entry *v = calloc(PATCH_PLAN_MAX + 1, sizeof(*v));
	struct patch_plan plan;
	size_t i;

	(void)state;
	for (i = 0; i <= PATCH_PLAN_MAX; i++)
		v[i] = entry(key(1000 + (uint32_t)i, SLUICE_DIR_INGRESS, 6, 80, 64), 0);
	qsort(v, PATCH_PLAN_MAX + 1, sizeof(v[0]), cmp_entries);
	assert_int_equal(patch_plan(NULL, 0, v, PATCH_PLAN_MAX, &plan), PATCH_KEYS);
	assert_int_equal(plan.nsets, PATCH_PLAN_MAX);
	assert_int_equal(patch_plan(NULL, 0, v, PATCH_PLAN_MAX + 1, &plan), PATCH_SWAP);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_meet),
		cmocka_unit_test(test_plan_nothing),
		cmocka_unit_test(test_plan_keys),
		cmocka_unit_test(test_plan_large_runs),
		cmocka_unit_test(test_plan_swap_when_keys_meet),
		cmocka_unit_test(test_plan_swap_when_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
