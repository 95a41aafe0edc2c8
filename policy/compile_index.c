// SPDX-License-Identifier: Apache-2.0
/*
 * compile_index.c - the identity index: identities by label key and by
 * key=value, so that a selector with an In or Exists requirement only
 * checks its candidates; and the small sorted vectors the compiler uses.
 */
#include "compile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ptrvec_push_unique(struct ptrvec *a, const void *p)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] == p)
			return 0;
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 4;
		const void **v = realloc(a->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = ncap;
	}
	a->v[a->n++] = p;
	return 0;
}

int u32vec_push(struct u32vec *a, uint32_t x)
{
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 8;
		uint32_t *v = realloc(a->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = ncap;
	}
	a->v[a->n++] = x;
	return 0;
}

int compile_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void u32vec_sort_unique(struct u32vec *a)
{
	size_t w = 0;

	if (!a->n)
		return;
	qsort(a->v, a->n, sizeof(*a->v), compile_u32_cmp);
	for (size_t i = 1; i < a->n; i++)
		if (a->v[i] != a->v[w])
			a->v[++w] = a->v[i];
	a->n = w + 1;
}

static struct u32vec *compile_index_list(struct compile_index *x, const char *name)
{
	size_t *pos = strmap_get(&x->by_kv, name);

	if (pos)
		return &x->lists[*pos];
	if (x->nlists == x->caplists) {
		size_t ncap = x->caplists ? x->caplists * 2 : 64;
		struct u32vec *v = realloc(x->lists, ncap * sizeof(*v));

		if (!v)
			return NULL;
		x->lists = v;
		x->caplists = ncap;
	}
	if (strmap_put(&x->by_kv, name, x->nlists))
		return NULL;
	memset(&x->lists[x->nlists], 0, sizeof(x->lists[0]));
	return &x->lists[x->nlists++];
}

/* keys get a "\x1e" prefix so they live in the same map as key\x1fvalue */
static char *compile_index_name(const char *key, const char *value)
{
	size_t kl = strlen(key), vl = value ? strlen(value) : 0;
	char *s = malloc(kl + vl + 3);

	if (!s)
		return NULL;
	if (value) {
		memcpy(s, key, kl);
		s[kl] = '\x1f';
		memcpy(s + kl + 1, value, vl + 1);
	} else {
		s[0] = '\x1e';
		memcpy(s + 1, key, kl + 1);
	}
	return s;
}

int compile_index_add(struct compile_index *x, uint32_t id,
		      const struct sluice_labels *labels)
{
	size_t pos = x->n;

	x->ids[pos] = id;
	x->labels[pos] = labels;
	x->n++;
	for (size_t i = 0; i < labels->n; i++) {
		const struct sluice_label *l = &labels->v[i];
		char *names[2] = { compile_index_name(l->key, NULL),
				   compile_index_name(l->key, l->value) };
		int rc = 0;

		for (int j = 0; j < 2 && !rc; j++) {
			struct u32vec *list = names[j] ? compile_index_list(x, names[j]) : NULL;

			/* a key seen twice (two sources) must not list the id twice */
			if (!list)
				rc = -ENOMEM;
			else if (!list->n || list->v[list->n - 1] != pos)
				rc = u32vec_push(list, (uint32_t)pos);
		}
		free(names[0]);
		free(names[1]);
		if (rc)
			return rc;
	}
	return 0;
}

void compile_index_free(struct compile_index *x)
{
	free(x->ids);
	free(x->labels);
	strmap_free(&x->by_key);
	strmap_free(&x->by_kv);
	for (size_t i = 0; i < x->nlists; i++)
		free(x->lists[i].v);
	free(x->lists);
	memset(x, 0, sizeof(*x));
}

int compile_index_init(struct compile_index *x, size_t cap)
{
	memset(x, 0, sizeof(*x));
	x->ids = calloc(cap ? cap : 1, sizeof(*x->ids));
	x->labels = calloc(cap ? cap : 1, sizeof(*x->labels));
	return x->ids && x->labels ? 0 : -ENOMEM;
}

static const struct u32vec *compile_index_get(const struct compile_index *x,
					      const char *key, const char *value)
{
	size_t kl = strlen(key), vl = value ? strlen(value) : 0;
	char buf[256], *name = buf;
	size_t *pos;

	if (kl + vl + 3 > sizeof(buf)) {
		name = compile_index_name(key, value);
		if (!name)
			return NULL;
	} else if (value) {
		memcpy(buf, key, kl);
		buf[kl] = '\x1f';
		memcpy(buf + kl + 1, value, vl + 1);
	} else {
		buf[0] = '\x1e';
		memcpy(buf + 1, key, kl + 1);
	}
	pos = strmap_get(&x->by_kv, name);
	if (name != buf)
		free(name);
	return pos ? &x->lists[*pos] : NULL;
}

/*
 * Identities (sorted) whose labels match s. The candidates come from the
 * most selective In or Exists requirement; without one, all identities
 * are checked.
 */
int compile_select(const struct compile_index *x, const struct sluice_selector *s,
		   struct u32vec *out)
{
	const struct sluice_sel_req *best = NULL;
	size_t best_size = x->n + 1;
	struct u32vec cand = { 0 };
	int rc = 0;

	for (size_t i = 0; i < s->nreqs; i++) {
		const struct sluice_sel_req *r = &s->reqs[i];
		size_t size = 0;

		if (r->op == SLUICE_SEL_IN) {
			for (size_t j = 0; j < r->nvalues; j++) {
				const struct u32vec *l = compile_index_get(x, r->key, r->values[j]);

				size += l ? l->n : 0;
			}
		} else if (r->op == SLUICE_SEL_EXISTS) {
			const struct u32vec *l = compile_index_get(x, r->key, NULL);

			size = l ? l->n : 0;
		} else {
			continue;
		}
		if (size < best_size) {
			best = r;
			best_size = size;
		}
	}
	if (!best) {
		for (size_t i = 0; i < x->n && !rc; i++)
			if (sluice_selector_matches(s, x->labels[i]))
				rc = u32vec_push(out, x->ids[i]);
		return rc;
	}
	if (best->op == SLUICE_SEL_IN) {
		for (size_t j = 0; j < best->nvalues && !rc; j++) {
			const struct u32vec *l = compile_index_get(x, best->key, best->values[j]);

			for (size_t k = 0; l && k < l->n && !rc; k++)
				rc = u32vec_push(&cand, l->v[k]);
		}
	} else {
		const struct u32vec *l = compile_index_get(x, best->key, NULL);

		for (size_t k = 0; l && k < l->n && !rc; k++)
			rc = u32vec_push(&cand, l->v[k]);
	}
	u32vec_sort_unique(&cand); /* positions: ascending position = ascending id */
	for (size_t i = 0; i < cand.n && !rc; i++)
		if (sluice_selector_matches(s, x->labels[cand.v[i]]))
			rc = u32vec_push(out, x->ids[cand.v[i]]);
	free(cand.v);
	return rc;
}
