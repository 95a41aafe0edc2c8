/* SPDX-License-Identifier: Apache-2.0 */
/*
 * patch_plan.h - patch an endpoint's live policy trie key by key, or swap
 * in a new one? Pure logic over two sorted entry lists (unit-tested in
 * tests/unit/agent); regenerate.c acts on the answer.
 */
#ifndef SLUICE_AGENT_PATCH_PLAN_H
#define SLUICE_AGENT_PATCH_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/abi.h"

/* at most this many changed keys are patched in place */
#define PATCH_PLAN_MAX 64

enum patch_decision {
	PATCH_NOTHING, /* same entries */
	PATCH_KEYS,    /* write plan->sets, delete plan->dels, one key at a time */
	PATCH_SWAP,    /* too many changes, or a packet could see two of them */
};

struct patch_plan {
	struct sluice_policy_key dels[PATCH_PLAN_MAX];
	size_t ndels;
	struct sluice_policy_map_entry sets[PATCH_PLAN_MAX];
	size_t nsets;
	/* entries equal at the same place at the front (head) and at the back
	 * (tail) of both lists: set whatever the answer */
	size_t head, tail;
};

/* Can one packet's verdict depend on both keys? */
bool patch_keys_meet(const struct sluice_policy_key *x, const struct sluice_policy_key *y);

/* old and new: entries sorted by key (memcmp order, as the compiler emits
 * them). Fills plan when the answer is PATCH_KEYS. */
enum patch_decision patch_plan(const struct sluice_policy_map_entry *old, size_t nold,
			       const struct sluice_policy_map_entry *new_, size_t nnew,
			       struct patch_plan *plan);

#endif
