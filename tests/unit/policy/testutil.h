/* SPDX-License-Identifier: Apache-2.0 */
/* testutil.h - helpers shared by the policy unit tests. */
#ifndef SLUICE_TEST_POLICY_UTIL_H
#define SLUICE_TEST_POLICY_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sluice/identity.h"
#include "sluice/policy_api.h"

static inline void print_diags(const struct sluice_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  diag: %s\n", d->v[i].msg);
}

/* Loads yaml into set (appending); fails the test on error. */
static inline void load_ok(struct sluice_policy_set *set, const char *yaml)
{
	struct sluice_diags errs = { 0 }, warns = { 0 };
	int rc = sluice_policy_load("t.yaml", yaml, strlen(yaml), set, &errs, &warns);

	if (rc)
		print_diags(&errs);
	assert_int_equal(rc, 0);
	assert_int_equal(errs.n, 0);
	sluice_diags_free(&errs);
	sluice_diags_free(&warns);
}

static inline bool diags_have(const struct sluice_diags *d, const char *msg)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].msg, msg))
			return true;
	return false;
}

/* Loading yaml must fail with (at least) the error msg, leaving set alone. */
static inline void load_fails(const char *yaml, const char *msg)
{
	struct sluice_policy_set set = { 0 };
	struct sluice_diags errs = { 0 }, warns = { 0 };
	int rc = sluice_policy_load("bad.yaml", yaml, strlen(yaml), &set, &errs, &warns);

	if (rc != -22)
		fprintf(stderr, "loaded without the error: %s\n", msg);
	assert_int_equal(rc, -22);
	assert_int_equal(set.n, 0);
	if (!diags_have(&errs, msg)) {
		fprintf(stderr, "want: %s\n", msg);
		print_diags(&errs);
		fail();
	}
	sluice_diags_free(&errs);
	sluice_diags_free(&warns);
}

/* A pod identity in namespace ns with labels "k=v,..." (source k8s). */
static inline uint32_t pod_identity_ns(struct sluice_identity_table *t, const char *ns,
				       const char *labels)
{
	struct sluice_labels l = { 0 }, id = { 0 };
	uint32_t r;

	assert_int_equal(sluice_labels_parse(&l, labels, "k8s", NULL), 0);
	assert_int_equal(sluice_pod_identity_labels(&id, ns, &l, NULL), 0);
	r = sluice_idt_acquire(t, &id);
	sluice_labels_free(&l);
	sluice_labels_free(&id);
	return r;
}

/* A pod identity in namespace default. */
static inline uint32_t pod_identity(struct sluice_identity_table *t, const char *labels)
{
	return pod_identity_ns(t, "default", labels);
}

/* how many of a compiled endpoint's entries are of direction dir */
static inline size_t count_dir(const struct sluice_ep_compiled *e, uint8_t dir)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nentries; i++)
		n += e->entries[i].key.direction == dir;
	return n;
}

/* text with the first occurrence of from replaced by to (malloc'd) */
static inline char *subst(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	assert_non_null(out);
	memcpy(out, text, (size_t)(at - text));
	strcpy(out + (at - text), to);
	strcat(out, at + strlen(from));
	return out;
}

/* two compile results are the same: every entry, every L7 entry (its
 * rules by pointer into the set), every CIDR identity and its number (the
 * edit path against a whole compile) */
static inline void assert_compiled_same(const struct sluice_compiled *a, const struct sluice_compiled *b)
{
	assert_int_equal(a->neps, b->neps);
	for (size_t i = 0; i < a->neps; i++) {
		const struct sluice_ep_compiled *x = &a->eps[i], *y = &b->eps[i];

		assert_int_equal(x->ep_id, y->ep_id);
		assert_int_equal(x->flags, y->flags);
		assert_int_equal(x->nentries, y->nentries);
		assert_memory_equal(x->entries, y->entries, x->nentries * sizeof(*x->entries));
		assert_int_equal(x->nl7, y->nl7);
		for (size_t j = 0; j < x->nl7; j++) {
			assert_int_equal(x->l7[j].direction, y->l7[j].direction);
			assert_int_equal(x->l7[j].port, y->l7[j].port);
			assert_int_equal(x->l7[j].end_port, y->l7[j].end_port);
			assert_int_equal(x->l7[j].peer_identity, y->l7[j].peer_identity);
			assert_int_equal(x->l7[j].allow_all, y->l7[j].allow_all);
			assert_int_equal(x->l7[j].nrules, y->l7[j].nrules);
			for (size_t r = 0; r < x->l7[j].nrules; r++)
				assert_ptr_equal(x->l7[j].rules[r], y->l7[j].rules[r]);
			assert_ptr_equal(x->l7[j].tls, y->l7[j].tls);
			assert_int_equal(x->l7[j].nserver_names, y->l7[j].nserver_names);
			for (size_t r = 0; r < x->l7[j].nserver_names; r++)
				assert_string_equal(x->l7[j].server_names[r], y->l7[j].server_names[r]);
		}
	}
	assert_int_equal(a->ncidrs, b->ncidrs);
	assert_memory_equal(a->cidrs, b->cidrs, a->ncidrs * sizeof(*a->cidrs));
}

#endif
