// SPDX-License-Identifier: Apache-2.0
/*
 * selector.c - label selectors: ANDed requirements over labels that carry a
 * source. A requirement with source "any" looks at labels of every source.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool selector_source_matches(const char *req_source, const char *label_source)
{
	return !strcmp(req_source, "any") || !strcmp(req_source, label_source);
}

static bool selector_value_in(const struct sluice_sel_req *r, const char *value)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (!strcmp(r->values[i], value))
			return true;
	return false;
}

/*
 * With source "any" several labels may carry the key (k8s:app and
 * container:app): In and Exists need one of them to match, NotIn and
 * DoesNotExist need all of them to pass.
 */
static bool selector_req_matches(const struct sluice_sel_req *r,
				 const struct sluice_labels *labels)
{
	bool any_key = false, any_in = false;

	for (size_t i = 0; i < labels->n; i++) {
		const struct sluice_label *l = &labels->v[i];

		if (strcmp(l->key, r->key) || !selector_source_matches(r->source, l->source))
			continue;
		any_key = true;
		if (selector_value_in(r, l->value))
			any_in = true;
	}
	switch (r->op) {
	case SLUICE_SEL_IN:
		return any_in;
	case SLUICE_SEL_NOT_IN:
		return !any_in;
	case SLUICE_SEL_EXISTS:
		return any_key;
	case SLUICE_SEL_DOES_NOT_EXIST:
		return !any_key;
	}
	return false;
}

bool sluice_selector_matches(const struct sluice_selector *s,
			     const struct sluice_labels *labels)
{
	for (size_t i = 0; i < s->nreqs; i++)
		if (!selector_req_matches(&s->reqs[i], labels))
			return false;
	return true;
}

bool sluice_selector_is_wildcard(const struct sluice_selector *s)
{
	return s->nreqs == 0;
}

static void selector_req_free(struct sluice_sel_req *r)
{
	free(r->source);
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}

void selector_free(struct sluice_selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nreqs; i++)
		selector_req_free(&s->reqs[i]);
	free(s->reqs);
	s->reqs = NULL;
	s->nreqs = 0;
}

int selector_add_req(struct sluice_selector *s, const char *source,
		     const char *key, enum sluice_sel_op op,
		     const char *const *values, size_t nvalues)
{
	struct sluice_sel_req r = { .op = op }, *v;

	r.source = strdup(source);
	r.key = strdup(key);
	if (!r.source || !r.key)
		goto fail;
	if (nvalues) {
		r.values = calloc(nvalues, sizeof(*r.values));
		if (!r.values)
			goto fail;
	}
	for (size_t i = 0; i < nvalues; i++) {
		r.values[i] = strdup(values[i]);
		r.nvalues++;
		if (!r.values[i])
			goto fail;
	}
	v = realloc(s->reqs, (s->nreqs + 1) * sizeof(*v));
	if (!v)
		goto fail;
	s->reqs = v;
	s->reqs[s->nreqs++] = r;
	return 0;
fail:
	selector_req_free(&r);
	return -ENOMEM;
}

int selector_copy(struct sluice_selector *dst, const struct sluice_selector *src)
{
	struct sluice_selector n = { 0 };

	for (size_t i = 0; i < src->nreqs; i++) {
		const struct sluice_sel_req *r = &src->reqs[i];

		if (selector_add_req(&n, r->source, r->key, r->op,
				     (const char *const *)r->values, r->nvalues)) {
			selector_free(&n);
			return -ENOMEM;
		}
	}
	*dst = n;
	return 0;
}

bool selector_has_key(const struct sluice_selector *s, const char *key)
{
	for (size_t i = 0; i < s->nreqs; i++)
		if (!strcmp(s->reqs[i].key, key))
			return true;
	return false;
}

bool selector_has_source(const struct sluice_selector *s, const char *source)
{
	for (size_t i = 0; i < s->nreqs; i++)
		if (!strcmp(s->reqs[i].source, source))
			return true;
	return false;
}
