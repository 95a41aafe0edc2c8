/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backoff.h - exponential backoff with jitter for reconnecting watches.
 */
#ifndef SLUICE_K8S_BACKOFF_H
#define SLUICE_K8S_BACKOFF_H

#include <stdint.h>

struct k8s_backoff {
	uint64_t base_ms, cap_ms; /* first step and largest step */
	uint64_t step_ms;         /* next step before jitter; 0: at rest */
	uint64_t rng;             /* xorshift state, never 0 */
};

/* base_ms 0: 200 ms; cap_ms 0: 30 s; seed 0: from getrandom(). */
void k8s_backoff_init(struct k8s_backoff *b, uint64_t base_ms, uint64_t cap_ms, uint64_t seed);
/* The delay before the next attempt: the step with jitter, in
 * [step/2, step], and the step doubles up to the cap. */
uint64_t k8s_backoff_next(struct k8s_backoff *b);
/* After a healthy attempt: the next failure starts from base again. */
void k8s_backoff_reset(struct k8s_backoff *b);
/* Uniform in [lo, hi] from the same generator (randomised watch timeouts). */
uint64_t k8s_backoff_random(struct k8s_backoff *b, uint64_t lo, uint64_t hi);

#endif
