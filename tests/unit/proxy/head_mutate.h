/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head_mutate.h - tests only: mutations of real HTTP heads for the
 * differential tests of the kernel's head readers (test_splice_head.c,
 * test_req_head.c): bytes changed to the ones that matter to a parser,
 * whole field lines inserted at a line start, bytes dropped, the end cut.
 * A fixed seed, so that a failure repeats.
 */
#ifndef SLUICE_TEST_HEAD_MUTATE_H
#define SLUICE_TEST_HEAD_MUTATE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct head_mutator {
	uint64_t rng;
	const char *bytes;         /* the bytes a changed byte becomes */
	const char *const *lines;  /* field lines to insert */
	size_t nlines;
};

static uint32_t head_rnd(struct head_mutator *m, uint32_t n)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return (uint32_t)(m->rng % n);
}

/* seed, changed one to three times, into r (cap bytes); its length. */
static size_t head_mutate(struct head_mutator *m, const char *seed, char *r, size_t cap)
{
	size_t n = strlen(seed), k = 1 + head_rnd(m, 3);

	if (n > cap)
		n = cap;
	memcpy(r, seed, n);
	while (k--) {
		size_t at = head_rnd(m, (uint32_t)n + 1);

		switch (head_rnd(m, 4)) {
		case 0:
			if (at < n)
				r[at] = m->bytes[head_rnd(m, (uint32_t)strlen(m->bytes))];
			break;
		case 1: {
			/* at a line start, so that it is a field line */
			const char *l = m->lines[head_rnd(m, (uint32_t)m->nlines)];
			size_t ll = strlen(l), p = at;

			while (p > 0 && r[p - 1] != '\n')
				p--;
			if (n + ll < cap) {
				memmove(r + p + ll, r + p, n - p);
				memcpy(r + p, l, ll);
				n += ll;
			}
			break;
		}
		case 2:
			if (at < n) {
				memmove(r + at, r + at + 1, n - at - 1);
				n--;
			}
			break;
		default:
			n = at;
			break;
		}
	}
	return n;
}

/*
 * iters mutations of seeds[0, nseeds) through diff(r, n, &why), which says
 * -1 (the kernel and the proxy disagree: the test fails, naming the
 * bytes), 1 (the kernel takes them) or 0 (it leaves them to the proxy);
 * both of the latter must come often (cmocka's assertions: include
 * cmocka.h first).
 */
static void head_mutate_run(struct head_mutator *m, const char *const *seeds, size_t nseeds,
			    int iters, int (*diff)(const char *, size_t, const char **))
{
	char r[1024];
	unsigned taken = 0, left = 0;

	for (int it = 0; it < iters; it++) {
		const char *why;
		size_t n = head_mutate(m, seeds[head_rnd(m, (uint32_t)nseeds)], r, sizeof(r));
		int rc = diff(r, n, &why);

		if (rc < 0)
			fail_msg("mutation %d: %s for:\n%.*s", it, why, (int)n, r);
		rc ? taken++ : left++;
	}
	printf("  %u taken by the kernel, %u left to the proxy\n", taken, left);
	assert_true(taken > 20000 && left > 20000);
}

#endif /* SLUICE_TEST_HEAD_MUTATE_H */
