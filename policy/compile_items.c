// SPDX-License-Identifier: Apache-2.0
/*
 * compile_items.c - the one-item edit path's index of a policy set's items
 * by the prefixes they name (struct sluice_item_index).
 *
 * An edit recompiles a few identities, and every item of the edited
 * endpoints' rules used to be asked whether it selects them: at 25,000
 * items, most of a one-rule change's compile, though only the items whose
 * CIDRs hold a recompiled prefix can answer yes. The index answers that
 * directly. An item whose peers are CIDRs only (no entities, selectors,
 * world prefix, CIDR groups or services, no ipBlock selecting pods) is
 * filed under each of its prefixes; every other item is "always" asked, as
 * before. A CIDR-only item never selects a pod or reserved identity (see
 * compile_edit_peers()), so for the CIDR identity a/L the candidates are
 * the items filed under a masked to each prefix length <= L the set names,
 * plus the always ones. A candidate is still asked: the index only says
 * who need not be (a hash collision costs an extra question, never a
 * missed one).
 *
 * Made by every whole compile (the set may have changed in any way) and
 * carried from result to result while edits follow: an edit changes one
 * item in place, and its entries move from its old prefixes to its new
 * ones.
 */
#include "compile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct compile_item_vec {
	struct compile_item_ref *v;
	size_t n, cap;
};

/* one prefix of a CIDR-only item, chained with the others of its key */
struct items_entry {
	uint64_t key;
	struct compile_item_ref ref;
	uint32_t next; /* UINT32_MAX: the chain's end */
};

struct sluice_item_index {
	struct u64map heads;            /* key -> first entry of its chain */
	struct items_entry *e;          /* one allocation: few pages to fault in */
	size_t n, cap;
	struct compile_item_vec always; /* sorted (compile_item_ref_cmp) */
	uint64_t lens[3];               /* prefix lengths 0..128 filed */
};

int compile_item_ref_cmp(const void *a, const void *b)
{
	const struct compile_item_ref *x = a, *y = b;

	if (x->policy != y->policy)
		return x->policy < y->policy ? -1 : 1;
	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	if (x->section != y->section)
		return x->section < y->section ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return 0;
}

static int vec_push(struct compile_item_vec *v, const struct compile_item_ref *r)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 4;
		struct compile_item_ref *nv = realloc(v->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = ncap;
	}
	v->v[v->n++] = *r;
	return 0;
}

size_t compile_item_refs_lower_bound(const struct compile_item_ref *v, size_t n,
				     const struct compile_item_ref *r)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;

		if (compile_item_ref_cmp(&v[m], r) < 0)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

static size_t items_lower_bound(const struct compile_item_vec *v, const struct compile_item_ref *r)
{
	return compile_item_refs_lower_bound(v->v, v->n, r);
}

/* An item filed by its prefixes; false: always asked. */
static bool items_cidr_only(const struct sluice_peer_rule *it)
{
	if (!it->has_l3 || it->no_peers || it->entities || it->nendpoints || !it->ncidrs ||
	    it->cidrs_select_pods || it->ngroups || it->nservices)
		return false;
	for (size_t i = 0; i < it->ncidrs; i++)
		if (compile_cidr_is_world(&it->cidrs[i]) || it->cidrs[i].prefixlen > 128)
			return false;
	return true;
}

/* the prefix addr/plen, masked, folded into a chain key (made once per
 * filed prefix in every whole compile: two words, not a byte loop) */
static uint64_t items_key(const uint8_t *addr, unsigned int plen)
{
	uint64_t hi = compile_addr_half(addr, 0), lo = compile_addr_half(addr, 1);

	if (plen <= 64) {
		hi = plen ? hi & (~UINT64_C(0) << (64 - plen)) : 0;
		lo = 0;
	} else if (plen < 128) {
		lo &= ~UINT64_C(0) << (128 - plen);
	}
	return (hi * UINT64_C(0x9e3779b97f4a7c15)) ^ ((lo ^ plen) * UINT64_C(0xc2b2ae3d27d4eb4f));
}

static int items_file(struct sluice_item_index *x, const struct compile_item_ref *r,
		      const struct sluice_peer_rule *it)
{
	if (!items_cidr_only(it)) {
		struct compile_item_vec *a = &x->always;
		size_t lo = items_lower_bound(a, r);

		if (lo < a->n && !compile_item_ref_cmp(&a->v[lo], r))
			return 0;
		if (vec_push(a, r))
			return -ENOMEM;
		memmove(&a->v[lo + 1], &a->v[lo], (a->n - 1 - lo) * sizeof(*a->v));
		a->v[lo] = *r;
		return 0;
	}
	for (size_t i = 0; i < it->ncidrs; i++) {
		unsigned int plen = it->cidrs[i].prefixlen;
		uint64_t key = items_key(it->cidrs[i].addr, plen);
		bool fresh = false;
		size_t *head;

		if (x->n == x->cap) {
			size_t ncap = x->cap ? x->cap * 2 : 256;
			struct items_entry *ne = realloc(x->e, ncap * sizeof(*ne));

			if (!ne)
				return -ENOMEM;
			x->e = ne;
			x->cap = ncap;
		}
		head = u64map_upsert(&x->heads, key, UINT32_MAX, &fresh);
		if (!head)
			return -ENOMEM;
		x->e[x->n] = (struct items_entry){ key, *r, (uint32_t)*head };
		*head = x->n++;
		x->lens[plen / 64] |= UINT64_C(1) << (plen % 64);
	}
	return 0;
}

/* takes r out of wherever it was filed for it */
static void items_unfile(struct sluice_item_index *x, const struct compile_item_ref *r,
			 const struct sluice_peer_rule *it)
{
	struct compile_item_vec *a = &x->always;

	if (!items_cidr_only(it)) {
		size_t i = items_lower_bound(a, r);

		if (i < a->n && !compile_item_ref_cmp(&a->v[i], r)) {
			memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(*a->v));
			a->n--;
		}
		return;
	}
	for (size_t i = 0; i < it->ncidrs; i++) {
		uint64_t key = items_key(it->cidrs[i].addr, it->cidrs[i].prefixlen);
		size_t *head = u64map_get(&x->heads, key);
		uint32_t *link = NULL;

		/* unlinked, not moved: the entry's room stays until the next
		 * whole compile makes a new index */
		for (size_t k = head ? *head : UINT32_MAX; k != UINT32_MAX; k = x->e[k].next) {
			if (!compile_item_ref_cmp(&x->e[k].ref, r)) {
				if (link)
					*link = x->e[k].next;
				else
					*head = x->e[k].next;
				break;
			}
			link = &x->e[k].next;
		}
	}
}

void compile_items_free(struct sluice_item_index *x)
{
	if (!x)
		return;
	free(x->e);
	free(x->always.v);
	u64map_free(&x->heads);
	free(x);
}

struct sluice_item_index *compile_items_build(const struct sluice_policy_set *set)
{
	struct sluice_item_index *x = calloc(1, sizeof(*x));
	int rc = x ? 0 : -ENOMEM;

	for (size_t p = 0; p < set->n && !rc; p++)
		for (size_t r = 0; r < set->v[p].nrules && !rc; r++)
			for (int sec = 0; sec < SLUICE_SECTION_COUNT && !rc; sec++) {
				size_t n;
				const struct sluice_peer_rule *v =
					rule_section(&set->v[p].rules[r], (enum sluice_section)sec, &n);

				for (size_t i = 0; i < n && !rc; i++) {
					struct compile_item_ref ref = { (uint32_t)p, (uint32_t)r, (uint32_t)i,
									(uint8_t)sec };

					rc = items_file(x, &ref, &v[i]);
				}
			}
	if (rc) {
		compile_items_free(x);
		return NULL;
	}
	return x;
}

int compile_items_update(struct sluice_item_index *x, const struct compile_item_ref *r,
			 const struct sluice_peer_rule *old_item, const struct sluice_peer_rule *new_item)
{
	items_unfile(x, r, old_item);
	return items_file(x, r, new_item);
}

int compile_items_candidates(const struct sluice_item_index *x, const struct sluice_cidr_ident *ids,
			     size_t n, const struct compile_item_ref *also,
			     struct compile_item_ref **out, size_t *nout)
{
	struct compile_item_vec found = { 0 };
	struct compile_item_ref *res;
	size_t i, j, k = 0;
	int rc = also ? vec_push(&found, also) : 0;

	for (i = 0; i < n && !rc; i++) {
		if (ids[i].prefixlen > 128)
			continue; /* not a CIDR identity: only the always items */
		for (unsigned int l = 0; l <= ids[i].prefixlen && !rc; l++) {
			const size_t *head;

			if (!(x->lens[l / 64] & (UINT64_C(1) << (l % 64))))
				continue;
			head = u64map_get(&x->heads, items_key(ids[i].addr, l));
			for (j = head ? *head : UINT32_MAX; j != UINT32_MAX && !rc; j = x->e[j].next)
				rc = vec_push(&found, &x->e[j].ref);
		}
	}
	if (rc) {
		free(found.v);
		return rc;
	}
	if (found.n > 1)
		qsort(found.v, found.n, sizeof(*found.v), compile_item_ref_cmp);
	/* merged with the always ones (sorted), duplicates once */
	res = malloc((found.n + x->always.n + 1) * sizeof(*res));
	if (!res) {
		free(found.v);
		return -ENOMEM;
	}
	for (i = 0, j = 0; i < found.n || j < x->always.n;) {
		const struct compile_item_ref *r;

		if (j == x->always.n || (i < found.n && compile_item_ref_cmp(&found.v[i], &x->always.v[j]) < 0))
			r = &found.v[i++];
		else
			r = &x->always.v[j++];
		if (!k || compile_item_ref_cmp(&res[k - 1], r))
			res[k++] = *r;
	}
	free(found.v);
	*out = res;
	*nout = k;
	return 0;
}
