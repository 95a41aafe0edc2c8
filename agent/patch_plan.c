/* SPDX-License-Identifier: Apache-2.0 */
/*
 * patch_plan.c - see patch_plan.h.
 *
 * Writing a small change into the live trie saves a new map, every entry
 * written again and an RCU grace period in the kernel. It is safe only when
 * every packet sees at most one of the changed keys: each single write is
 * atomic, so such a packet is judged wholly by the old or wholly by the new
 * policy. The datapath looks up the peer's identity and SLUICE_ID_ANY, each
 * time for the longest prefix over protocol and port: two keys meet when
 * their directions are equal, their identities equal (or one is ANY) and
 * one's protocol/port block contains the other's.
 */
#include <arpa/inet.h>
#include <string.h>

#include "patch_plan.h"

static uint32_t key_proto_port(const struct sluice_policy_key *k)
{
	return (uint32_t)k->protocol << 16 | ntohs(k->dport_be);
}

bool patch_keys_meet(const struct sluice_policy_key *x, const struct sluice_policy_key *y)
{
	uint32_t ix = ntohl(x->identity_be), iy = ntohl(y->identity_be);
	uint32_t plen = x->prefixlen < y->prefixlen ? x->prefixlen : y->prefixlen;
	uint32_t mask;

	if (plen < SLUICE_POLICY_PREFIX_L3 || plen > SLUICE_POLICY_PREFIX_FULL)
		return true;
	if (x->direction != y->direction)
		return false;
	if (ix != iy && ix != SLUICE_ID_ANY && iy != SLUICE_ID_ANY)
		return false;
	plen -= SLUICE_POLICY_PREFIX_L3; /* bits of protocol (8) and port (16) */
	mask = plen ? (0xffffffu << (24 - plen)) & 0xffffffu : 0;
	return (key_proto_port(x) & mask) == (key_proto_port(y) & mask);
}

static int entry_key_cmp(const struct sluice_policy_map_entry *x, const struct sluice_policy_map_entry *y)
{
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

#define PATCH_BLOCK 64 /* entries compared at once */

/* how many of the first n entries of a and b are the same bytes */
static size_t patch_same_head(const struct sluice_policy_map_entry *a,
			      const struct sluice_policy_map_entry *b, size_t n)
{
	size_t k = 0;

	while (k + PATCH_BLOCK <= n && !memcmp(a + k, b + k, PATCH_BLOCK * sizeof(*a)))
		k += PATCH_BLOCK;
	while (k < n && !memcmp(a + k, b + k, sizeof(*a)))
		k++;
	return k;
}

/* how many of the last entries of a[0, na) and b[0, nb) are the same bytes,
 * at most max */
static size_t patch_same_tail(const struct sluice_policy_map_entry *a, size_t na,
			      const struct sluice_policy_map_entry *b, size_t nb, size_t max)
{
	size_t k = 0;

	while (k + PATCH_BLOCK <= max &&
	       !memcmp(a + na - k - PATCH_BLOCK, b + nb - k - PATCH_BLOCK, PATCH_BLOCK * sizeof(*a)))
		k += PATCH_BLOCK;
	while (k < max && !memcmp(a + na - k - 1, b + nb - k - 1, sizeof(*a)))
		k++;
	return k;
}

enum patch_decision patch_plan(const struct sluice_policy_map_entry *old, size_t nold,
			       const struct sluice_policy_map_entry *new_, size_t nnew,
			       struct patch_plan *plan)
{
	const struct sluice_policy_key *changed[PATCH_PLAN_MAX];
	size_t i, j, nc = 0, x, y, pre, suf;

	plan->ndels = plan->nsets = 0;
	/* A one-rule change of 25,000 entries changes a few in the middle:
	 * the equal head and tail are skipped by block compares (same bytes
	 * at the same place: the same keys, sorted, so the merge of what is
	 * left finds the same changes) */
	pre = patch_same_head(old, new_, nold < nnew ? nold : nnew);
	suf = patch_same_tail(old, nold, new_, nnew, (nold < nnew ? nold : nnew) - pre);
	plan->head = pre;
	plan->tail = suf;
	nold -= suf;
	nnew -= suf;
	i = j = pre;
	while (i < nold || j < nnew) {
		int cmp = i == nold ? 1 : j == nnew ? -1 : entry_key_cmp(&old[i], &new_[j]);

		if (cmp == 0 && !memcmp(&old[i].value, &new_[j].value, sizeof(new_[j].value))) {
			i++;
			j++;
			continue;
		}
		if (nc == PATCH_PLAN_MAX)
			return PATCH_SWAP;
		if (cmp < 0) {
			plan->dels[plan->ndels] = old[i++].key;
			changed[nc++] = &plan->dels[plan->ndels++];
		} else {
			plan->sets[plan->nsets] = new_[j++];
			changed[nc++] = &plan->sets[plan->nsets++].key;
			if (cmp == 0)
				i++;
		}
	}
	if (!nc)
		return PATCH_NOTHING;
	for (x = 0; x < nc; x++)
		for (y = x + 1; y < nc; y++)
			if (patch_keys_meet(changed[x], changed[y]))
				return PATCH_SWAP;
	return PATCH_KEYS;
}
