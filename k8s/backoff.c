/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backoff.c - exponential backoff with "equal jitter" (see backoff.h).
 *
 * Every node's agent watches the same API server; when it restarts, all of
 * them reconnect. Jitter spreads those reconnects so that they do not hit
 * the server in lockstep, and keeping half of the step fixed means a broken
 * server is never hammered faster than step/2.
 */
#include "backoff.h"

#include <sys/random.h>

static uint64_t backoff_xorshift(struct k8s_backoff *b)
{
	uint64_t x = b->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	b->rng = x;
	return x;
}

void k8s_backoff_init(struct k8s_backoff *b, uint64_t base_ms, uint64_t cap_ms, uint64_t seed)
{
	b->base_ms = base_ms ? base_ms : 200;
	b->cap_ms = cap_ms ? cap_ms : 30000;
	if (b->cap_ms < b->base_ms)
		b->cap_ms = b->base_ms;
	b->step_ms = 0;
	if (!seed && getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)(uintptr_t)b ^ 0x9e3779b97f4a7c15ull;
	b->rng = seed ? seed : 1;
}

uint64_t k8s_backoff_random(struct k8s_backoff *b, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + backoff_xorshift(b) % (hi - lo + 1);
}

uint64_t k8s_backoff_next(struct k8s_backoff *b)
{
	uint64_t step = b->step_ms ? b->step_ms : b->base_ms;
	b->step_ms = step >= b->cap_ms / 2 ? b->cap_ms : step * 2;
	return k8s_backoff_random(b, step / 2, step);
}

void k8s_backoff_reset(struct k8s_backoff *b)
{
	b->step_ms = 0;
}
