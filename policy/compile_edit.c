// SPDX-License-Identifier: Apache-2.0
/*
 * compile_edit.c - sluice_policy_compile_edit(): the incremental path, when
 * one list item of a policy changed (see the comment below).
 */
#include "compile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one item changed --------------------------------------------------- */

/*
 * sluice_policy_compile_edit(): after one list item of a policy changed
 * (policy/edit.c), the previous result is updated instead of compiling
 * everything again. The trie keys are per peer identity, and a key's
 * verdict depends only on the keys of its own identity and of ANY; an item
 * whose peers are CIDRs changes the keys of the CIDR identities inside its
 * old and new prefixes and of no other identity. So those identities are
 * recompiled (every item of the endpoint's rules is asked only for them,
 * and for ANY, whose keys take part in resolving theirs), and their
 * entries replace the old ones; everything else is copied. Only the
 * endpoints the rule selects are touched, in the item's direction, unless
 * a prefix starts or stops being named: then the set of CIDR identities
 * changed, which other rules' world or CIDR peers may see, and every
 * endpoint is updated in both directions (still only for those
 * identities). Items with other peers, excepts or http rules are left to
 * the whole compile.
 */

/* An item this path handles: CIDR peers (no excepts, not the world) and
 * label selectors (not the wildcard), no entities, no http rules, nothing
 * resolved before the compile (CIDR groups, toServices). */
static bool compile_edit_item_ok(const struct sluice_peer_rule *it)
{
	if (!it->has_l3 || it->no_peers || it->entities || it->cidrs_select_pods || it->ngroups ||
	    it->nservices || (!it->ncidrs && !it->nendpoints))
		return false;
	for (size_t i = 0; i < it->ncidrs; i++)
		if (it->cidrs[i].nexcept || compile_cidr_is_world(&it->cidrs[i]))
			return false;
	for (size_t i = 0; i < it->nendpoints; i++)
		if (sluice_selector_is_wildcard(&it->endpoints[i]))
			return false;
	for (size_t i = 0; i < it->nto_ports; i++)
		if (it->to_ports[i].has_http || it->to_ports[i].nhttp ||
		    sluice_port_rule_has_tls(&it->to_ports[i]))
			return false;
	return true;
}

/* prefixlen of a recompiled identity that is not a CIDR identity */
#define EDIT_NOT_CIDR 0xff

struct compile_edit_ctx {
	const struct sluice_cidr_ident *ids; /* the identities recompiled */
	const struct sluice_labels **labels; /* ... and their labels */
	size_t n;
	struct sluice_selector cluster;      /* what the cluster entity selects */
};

/* A Kubernetes ipBlock selects a pod identity when every endpoint of it
 * has a known address inside (see compile_cidr_ids()). */
static bool compile_edit_block_selects_pods(struct compile_state *st, const struct sluice_cidr *c,
					    uint32_t id)
{
	static const uint8_t zero[16];
	size_t *first = u64map_get(&st->ep_by_identity, id);
	bool all = first != NULL;

	for (size_t e = first ? *first : SIZE_MAX; e != SIZE_MAX && all; e = st->ep_next[e])
		all = memcmp(st->eps[e].addr, zero, 16) && compile_cidr_selects(c, st->eps[e].addr, 128);
	return all;
}

/* a pod identity's labels put it in the subject's namespace (the namespace
 * entity, as compile_peer_ids() resolves it) */
static bool compile_edit_same_namespace(const struct sluice_labels *l,
					const struct sluice_compile_endpoint *subject)
{
	const struct sluice_label *ns = sluice_labels_find(l, "k8s", SLUICE_LABEL_NAMESPACE);

	return ns && subject && subject->namespace && *subject->namespace &&
	       !strcmp(ns->value, subject->namespace);
}

/* The recompiled identities an item names for one subject, or ANY (see
 * compile_peer_ids()). */
static int compile_edit_peers(struct compile_state *st, const struct sluice_peer_rule *pr,
			      const struct sluice_compile_endpoint *subject, struct u32vec *out,
			      const void *ctx)
{
	const struct compile_edit_ctx *c = ctx;
	int rc = 0;

	out->n = 0;
	if (!pr->has_l3)
		return u32vec_push(out, SLUICE_ID_ANY);
	if (pr->no_peers) /* an empty list beside the others: nothing, as compile_peer_ids() */
		return 0;
	if (pr->entities & SLUICE_ENTITY_ALL)
		return u32vec_push(out, SLUICE_ID_ANY);
	for (size_t k = 0; k < pr->nendpoints; k++)
		if (sluice_selector_is_wildcard(&pr->endpoints[k]))
			return u32vec_push(out, SLUICE_ID_ANY); /* ANY covers the others */
	for (size_t i = 0; i < c->n && !rc; i++) {
		const struct sluice_cidr_ident *x = &c->ids[i];
		const struct sluice_labels *l = c->labels[i];
		bool cidr_id = x->prefixlen != EDIT_NOT_CIDR, sel;

		sel = cidr_id ? (pr->entities & SLUICE_ENTITY_WORLD) ||
					((pr->entities & SLUICE_ENTITY_KUBE_APISERVER) &&
					 (x->flags & SLUICE_CIDR_F_APISERVER))
			      : compile_edit_entity_names(st->idt, pr->entities, x->identity);
		if (!sel && !cidr_id && (pr->entities & SLUICE_ENTITY_CLUSTER) && l)
			sel = sluice_selector_matches(&c->cluster, l);
		if (!sel && !cidr_id && (pr->entities & SLUICE_ENTITY_NAMESPACE) && l)
			sel = compile_edit_same_namespace(l, subject);
		for (size_t k = 0; k < pr->ncidrs && !sel; k++) {
			if (cidr_id)
				sel = compile_cidr_selects(&pr->cidrs[k], x->addr, x->prefixlen);
			else if (x->identity == SLUICE_ID_WORLD)
				sel = compile_cidr_is_world(&pr->cidrs[k]);
			else if (pr->cidrs_select_pods && x->identity >= SLUICE_ID_CLUSTER_MIN)
				sel = compile_edit_block_selects_pods(st, &pr->cidrs[k], x->identity);
		}
		for (size_t k = 0; k < pr->nendpoints && !sel && l; k++)
			sel = sluice_selector_matches(&pr->endpoints[k], l);
		if (sel)
			rc = u32vec_push(out, x->identity);
	}
	return rc;
}

/* adds the item's prefixes to v (no duplicates) */
static int compile_edit_prefixes(const struct sluice_peer_rule *it, struct sluice_cidr_ident *v,
				 size_t *n, size_t cap)
{
	for (size_t i = 0; i < it->ncidrs; i++) {
		struct sluice_cidr_ident ci = { .prefixlen = it->cidrs[i].prefixlen };
		size_t k;

		memcpy(ci.addr, it->cidrs[i].addr, 16);
		for (k = 0; k < *n && sluice_cidr_ident_cmp(&v[k], &ci); k++)
			;
		if (k < *n)
			continue;
		if (*n == cap)
			return -E2BIG;
		v[(*n)++] = ci;
	}
	return 0;
}

static bool compile_edit_has_id(const struct sluice_cidr_ident *v, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].identity == id)
			return true;
	return false;
}

/* the recompiled identities, sorted, for the merge's membership tests */
struct compile_idset {
	uint32_t *v;
	size_t n;
};

static bool compile_idset_has(const struct compile_idset *s, uint32_t id)
{
	/* asked once per entry of every endpoint the edit touches (25,000
	 * and more), mostly of one to a few identities: a short scan beats
	 * bsearch's calls */
	if (s->n <= 8) {
		for (size_t i = 0; i < s->n; i++)
			if (s->v[i] == id)
				return true;
		return false;
	}
	return bsearch(&id, s->v, s->n, sizeof(*s->v), compile_u32_cmp);
}

#define EDIT_MAX_PREFIXES 64
#define EDIT_MAX_IDS 4096 /* pod identities an edit may recompile */

/* first position of v (sorted by sluice_cidr_ident_cmp) not before x */
static size_t compile_cidr_lower_bound(const struct sluice_cidr_ident *v, size_t n,
				       const struct sluice_cidr_ident *x)
{
	size_t a = 0, b = n;

	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (sluice_cidr_ident_cmp(&v[m], x) < 0)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* first position of the sorted entries v[0, n) not before the key
 * (prefixlen, identity, 0, 0, 0) */
static size_t compile_entry_lower_bound(const struct sluice_policy_map_entry *v, size_t n,
					uint32_t prefixlen, uint64_t identity)
{
	struct sluice_policy_map_entry k;
	size_t a = 0, b = n;

	if (identity > UINT32_MAX) { /* past every identity: the next length */
		prefixlen++;
		identity = 0;
	}
	memset(&k, 0, sizeof(k));
	k.key.prefixlen = prefixlen;
	k.key.identity_be = htonl((uint32_t)identity);
	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (compile_entry_cmp(&v[m], &k) < 0)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/*
 * The entries of compile_edit_merge(): prev's, those of the identities in
 * ids (direction dir) replaced by o's (sorted) of those identities, into
 * out (*ne of them). Keys sort by prefix length, then identity, so each
 * identity's entries of one length are one run of prev: only those runs
 * (for every length prev or o has) are merged entry by entry, and what
 * lies between them is copied whole. A one-rule change recompiles one to
 * a few identities of an endpoint's 25,000 entries.
 */
static int compile_edit_merge_runs(const struct sluice_ep_compiled *prev, uint8_t dir,
				   const struct compile_idset *ids, const struct compile_out *o,
				   struct sluice_policy_map_entry *out, size_t *ne)
{
	const struct sluice_policy_map_entry *pv = prev->entries;
	size_t np = prev->nentries, i = 0, j = 0, n = 0;
	/* the prefix lengths prev (a binary search per length) and o have */
	bool has[SLUICE_POLICY_PREFIX_FULL + 1] = { false };

	for (size_t at = 0; at < np; at = compile_entry_lower_bound(pv, np, pv[at].key.prefixlen + 1, 0)) {
		if (pv[at].key.prefixlen > SLUICE_POLICY_PREFIX_FULL)
			return -EINVAL; /* not a key the compile makes */
		has[pv[at].key.prefixlen] = true;
	}
	for (size_t k = 0; k < o->nentries; k++) {
		if (o->entries[k].key.prefixlen > SLUICE_POLICY_PREFIX_FULL)
			return -EINVAL;
		has[o->entries[k].key.prefixlen] = true;
	}
	/* (a key's length is its first byte, so keys sort by it) */
	for (uint32_t len = 0; len <= SLUICE_POLICY_PREFIX_FULL; len++) {
		if (!has[len])
			continue;
		for (size_t x = 0; x < ids->n; x++) {
			size_t lo = compile_entry_lower_bound(pv, np, len, ids->v[x]);
			size_t hi = compile_entry_lower_bound(pv, np, len, (uint64_t)ids->v[x] + 1);

			if (lo > i) { /* no identity of ids in between */
				memcpy(out + n, pv + i, (lo - i) * sizeof(*out));
				n += lo - i;
				i = lo;
			}
			/* o's entries before this run are of other identities */
			while (j < o->nentries && (o->entries[j].key.prefixlen < len ||
						   (o->entries[j].key.prefixlen == len &&
						    ntohl(o->entries[j].key.identity_be) < ids->v[x])))
				j++;
			/* the run merged with o's of this identity and length:
			 * its entries of the direction recompiled go */
			while (i < hi || (j < o->nentries && o->entries[j].key.prefixlen == len &&
					  ntohl(o->entries[j].key.identity_be) == ids->v[x])) {
				bool from_o = j < o->nentries && o->entries[j].key.prefixlen == len &&
					      ntohl(o->entries[j].key.identity_be) == ids->v[x] &&
					      (i == hi || compile_entry_cmp(&o->entries[j], &pv[i]) <= 0);

				if (from_o)
					out[n++] = o->entries[j++];
				else if (dir != 0xff && pv[i].key.direction != dir)
					out[n++] = pv[i++];
				else
					i++;
			}
		}
	}
	if (np > i) /* (prev may have no array at all) */
		memcpy(out + n, pv + i, (np - i) * sizeof(*out));
	n += np - i;
	*ne = n;
	return 0;
}

/* ep's previous result with the entries (and L7 entries) of the identities
 * in ids, direction dir (both when dir is 0xff), replaced by o's */
static int compile_edit_merge(const struct sluice_ep_compiled *prev, uint8_t dir,
			      const struct compile_idset *ids,
			      struct compile_out *o, struct sluice_ep_compiled *out)
{
	size_t ne = 0, nl = 0;
	int rc;

	out->ep_id = prev->ep_id;
	out->flags = prev->flags;
	/* not zeroed first: the merge writes the first ne, the rest is
	 * cleared below (as calloc left it), and a large endpoint's entries
	 * need not be written twice */
	out->entries = malloc((prev->nentries + o->nentries + 1) * sizeof(*out->entries));
	out->l7 = calloc(prev->nl7 + o->nl7 + 1, sizeof(*out->l7));
	if (!out->entries || !out->l7)
		return -ENOMEM;
	/* both sides are sorted: one merge, the recompiled identities' old
	 * entries left out; what lies between their runs is copied whole */
	if (o->nentries)
		qsort(o->entries, o->nentries, sizeof(*o->entries), compile_entry_cmp);
	rc = compile_edit_merge_runs(prev, dir, ids, o, out->entries, &ne);
	if (rc)
		return rc;
	for (size_t i = 0; i < prev->nl7; i++) {
		const struct sluice_l7_policy *l = &prev->l7[i];

		if ((dir == 0xff || l->direction == dir) && compile_idset_has(ids, l->peer_identity))
			continue;
		out->l7[nl] = *l;
		out->l7[nl].rules = NULL;
		out->l7[nl].server_names = NULL;
		out->l7[nl].nserver_names = 0;
		/* counted now: a failure below leaves nothing to free twice */
		nl++;
		if (l->nrules) {
			out->l7[nl - 1].rules = calloc(l->nrules, sizeof(*l->rules));
			if (!out->l7[nl - 1].rules)
				return -ENOMEM;
			memcpy(out->l7[nl - 1].rules, l->rules, l->nrules * sizeof(*l->rules));
		}
		if (l->nserver_names) {
			out->l7[nl - 1].server_names = calloc(l->nserver_names, sizeof(*l->server_names));
			if (!out->l7[nl - 1].server_names)
				return -ENOMEM;
			memcpy(out->l7[nl - 1].server_names, l->server_names,
			       l->nserver_names * sizeof(*l->server_names));
			out->l7[nl - 1].nserver_names = l->nserver_names;
		}
	}
	for (size_t i = 0; i < o->nl7; i++) {
		if (!compile_idset_has(ids, o->l7[i].peer_identity))
			continue;
		out->l7[nl++] = o->l7[i]; /* takes its rules and names arrays */
		o->l7[i].rules = NULL;
		o->l7[i].server_names = NULL;
	}
	memset(out->entries + ne, 0, (prev->nentries + o->nentries + 1 - ne) * sizeof(*out->entries));
	out->nentries = ne;
	out->nl7 = nl;
	if (nl)
		qsort(out->l7, nl, sizeof(*out->l7), compile_l7_cmp);
	return 0;
}

static void compile_out_free(struct compile_out *o)
{
	for (size_t i = 0; i < o->nl7; i++) {
		free(o->l7[i].rules);
		free(o->l7[i].server_names);
	}
	free(o->l7);
	free(o->entries);
	memset(o, 0, sizeof(*o));
}

/* What one edit works with, from the check to the merge. */
struct compile_edit {
	const struct sluice_peer_rule *old_item, *new_item;
	uint8_t dir; /* the item's direction */
	/* the prefixes of the old and the new item, and how many CIDRs of the
	 * new set name each exactly (0: no longer named) */
	struct sluice_cidr_ident changed[EDIT_MAX_PREFIXES];
	size_t counts[EDIT_MAX_PREFIXES];
	size_t nchanged;
	struct sluice_cidr_ident gone[EDIT_MAX_PREFIXES]; /* CIDR identities released */
	size_t ngone;
	bool idset_changed; /* a prefix started or stopped being named */
	bool borrowed;      /* the result's CIDR list is prev's (compile_edit_cidrs()) */
	/* the identities recompiled: ids[0, nsel) pod (and reserved) ones, then
	 * CIDR ones up to nids (then the gone ones, for the merge) */
	struct sluice_cidr_ident *ids;
	const struct sluice_labels **labels;
	size_t nsel, nids;
};

/* The item the edit changed, when this path handles it and prev is the
 * result for these endpoints, in this order; NULL to decline. */
static const struct sluice_peer_rule *
compile_edit_item(const struct sluice_policy_set *set, const struct sluice_compile_endpoint *eps,
		  size_t neps, const struct sluice_compiled *prev, size_t pi, size_t ri,
		  enum sluice_section section, size_t index, const struct sluice_peer_rule *old_item)
{
	const struct sluice_peer_rule *list, *new_item;
	size_t nlist, j = 0;

	if (pi >= set->n || ri >= set->v[pi].nrules || !sluice_section_valid((int)section))
		return NULL;
	list = rule_section(&set->v[pi].rules[ri], section, &nlist);
	if (index >= nlist)
		return NULL;
	new_item = &list[index];
	if (!compile_edit_item_ok(old_item) || !compile_edit_item_ok(new_item))
		return NULL;
	for (size_t i = 0; i < neps; i++)
		if (!eps[i].peer_only && (j >= prev->neps || prev->eps[j++].ep_id != eps[i].ep_id))
			return NULL;
	return j == prev->neps ? new_item : NULL;
}

/*
 * The pod (and reserved) identities the old and the new selectors pick,
 * into ed->ids; found before anything changes, so that declining leaves
 * all as it was. false: decline (a selector that may pick CIDR
 * identities, or more identities than an edit recompiles).
 */
static bool compile_edit_pick_pods(struct sluice_identity_table *idt, struct compile_edit *ed)
{
	for (int which = 0; which < 2; which++) {
		const struct sluice_peer_rule *it = which ? ed->new_item : ed->old_item;

		for (size_t e = 0; e < it->nendpoints; e++)
			if (compile_selector_may_pick_cidr(&it->endpoints[e]))
				return false;
	}
	for (size_t i = 0; i < sluice_idt_count(idt); i++) {
		uint32_t id = sluice_idt_at(idt, i);
		const struct sluice_labels *l;
		bool sel = false;

		if (id >= SLUICE_ID_LOCAL_MIN)
			break; /* ascending: CIDR identities last */
		l = sluice_idt_labels(idt, id);
		for (int which = 0; which < 2 && l && !sel; which++) {
			const struct sluice_peer_rule *it = which ? ed->new_item : ed->old_item;

			for (size_t e = 0; e < it->nendpoints && !sel; e++)
				sel = sluice_selector_matches(&it->endpoints[e], l);
		}
		if (!sel)
			continue;
		if (ed->nsel == EDIT_MAX_IDS)
			return false;
		ed->ids[ed->nsel] = (struct sluice_cidr_ident){ .identity = id,
								 .prefixlen = EDIT_NOT_CIDR };
		ed->nsel++;
	}
	ed->nids = ed->nsel;
	return true;
}

/* A changed prefix is an API server's /32: its identity stays while the API
 * server does, whatever the policies name, which the edit's counting of
 * names does not know; the whole compile does. */
static bool compile_edit_names_apiserver(const struct sluice_identity_table *idt,
					 const struct compile_edit *ed)
{
	size_t n;
	const uint32_t *ips = sluice_idt_apiservers_external(idt, &n);

	for (size_t i = 0; i < n; i++) {
		uint8_t a[16];

		compile_addr_v4(a, ips[i]);
		for (size_t k = 0; k < ed->nchanged; k++)
			if (ed->changed[k].prefixlen == 128 && !memcmp(ed->changed[k].addr, a, 16))
				return true;
	}
	return false;
}

/* How many CIDRs of the new set name each changed prefix exactly; when the
 * item names the same prefixes as before (a port changed), all stay. */
static void compile_edit_count(const struct sluice_policy_set *set, struct compile_edit *ed)
{
	/* equal sets: the union is as large as each of them */
	struct sluice_cidr_ident tmp[EDIT_MAX_PREFIXES];
	size_t nold = 0, nnew = 0, nlist, k;

	compile_edit_prefixes(ed->old_item, tmp, &nold, EDIT_MAX_PREFIXES);
	compile_edit_prefixes(ed->new_item, tmp, &nnew, EDIT_MAX_PREFIXES);
	if (nold == ed->nchanged && nnew == ed->nchanged) {
		for (k = 0; k < ed->nchanged; k++)
			ed->counts[k] = 1;
		return;
	}
	for (size_t p = 0; p < set->n; p++)
		for (size_t r = 0; r < set->v[p].nrules; r++)
			for (enum sluice_section sec = 0; sec < SLUICE_SECTION_COUNT; sec++) {
				const struct sluice_peer_rule *v = rule_section(&set->v[p].rules[r], sec, &nlist);

				for (size_t i = 0; i < nlist; i++)
					for (size_t c = 0; c < v[i].ncidrs; c++) {
						const struct sluice_cidr *cd = &v[i].cidrs[c];

						for (size_t x = 0; x <= cd->nexcept; x++) {
							const struct sluice_cidr *e = x ? &cd->except[x - 1] : cd;

							for (k = 0; k < ed->nchanged; k++)
								if (e->prefixlen == ed->changed[k].prefixlen &&
								    !memcmp(e->addr, ed->changed[k].addr, 16))
									ed->counts[k]++;
						}
					}
			}
}

/* The new list of CIDR identities, into res: prefixes named for the first
 * time get one, prefixes no longer named lose theirs (into ed->gone).
 * When none does (a port changed), res borrows prev's list (ed->borrowed:
 * it moves to res when the edit succeeds) instead of a copy of 25,000. */
static int compile_edit_cidrs(const struct sluice_compiled *prev, struct sluice_identity_table *idt,
			      struct compile_edit *ed, struct sluice_compiled *res)
{
	bool same = true;
	int rc = 0;

	for (size_t k = 0; k < ed->nchanged && same; k++) {
		size_t at = compile_cidr_lower_bound(prev->cidrs, prev->ncidrs, &ed->changed[k]);
		bool named = at < prev->ncidrs && !sluice_cidr_ident_cmp(&prev->cidrs[at], &ed->changed[k]);

		same = named == (ed->counts[k] != 0);
	}
	if (same) {
		res->cidrs = prev->cidrs;
		res->ncidrs = prev->ncidrs;
		ed->borrowed = true;
		return 0;
	}
	/* the previous list copied, the room after it cleared (as calloc would
	 * have it, padding included): the copy is not preceded by a clear */
	res->cidrs = malloc((prev->ncidrs + ed->nchanged + 1) * sizeof(*res->cidrs));
	if (!res->cidrs)
		return -ENOMEM;
	if (prev->ncidrs) /* (no list at all: memcpy wants a pointer even for 0 bytes) */
		memcpy(res->cidrs, prev->cidrs, prev->ncidrs * sizeof(*res->cidrs));
	memset(res->cidrs + prev->ncidrs, 0, (ed->nchanged + 1) * sizeof(*res->cidrs));
	res->ncidrs = prev->ncidrs;
	for (size_t k = 0; k < ed->nchanged && !rc; k++) {
		struct sluice_cidr_ident *ch = &ed->changed[k];
		size_t at = compile_cidr_lower_bound(res->cidrs, res->ncidrs, ch);
		bool named = at < res->ncidrs && !sluice_cidr_ident_cmp(&res->cidrs[at], ch);

		if (named && !ed->counts[k]) {
			ed->gone[ed->ngone++] = res->cidrs[at]; /* its entries go */
			memmove(&res->cidrs[at], &res->cidrs[at + 1],
				(res->ncidrs - at - 1) * sizeof(*res->cidrs));
			res->ncidrs--;
			ed->idset_changed = true;
		} else if (!named && ed->counts[k]) {
			ch->identity = idt_cidr_add(idt, ch, compile_cidr_labels);
			if (!ch->identity)
				rc = -ENOSPC;
			memmove(&res->cidrs[at + 1], &res->cidrs[at],
				(res->ncidrs - at) * sizeof(*res->cidrs));
			res->cidrs[at] = *ch;
			res->ncidrs++;
			ed->idset_changed = true;
		}
	}
	if (rc)
		return rc;
	for (size_t i = 0; i < ed->ngone; i++)
		idt_cidr_drop(idt, ed->gone[i].identity);
	return 0;
}

/* The CIDR identities recompiled, after the pod ones in ed->ids: every
 * named prefix inside a changed one (a contiguous run of the sorted list,
 * from the prefix's first address). */
static int compile_edit_inside(const struct sluice_compiled *res, struct compile_edit *ed)
{
	for (size_t k = 0; k < ed->nchanged; k++) {
		const struct sluice_cidr_ident *ch = &ed->changed[k];
		struct sluice_cidr_ident first = { .prefixlen = 0 };

		for (unsigned int b = 0; b < 16; b++) {
			unsigned int plen = ch->prefixlen, bits = plen >= (b + 1) * 8 ? 8
							: plen > b * 8 ? plen - b * 8 : 0;

			first.addr[b] = ch->addr[b] & (uint8_t)(bits ? 0xffu << (8 - bits) : 0);
		}
		for (size_t i = compile_cidr_lower_bound(res->cidrs, res->ncidrs, &first);
		     i < res->ncidrs && compile_prefix_inside(ch->addr, ch->prefixlen,
							      res->cidrs[i].addr, 128); i++) {
			if (!compile_prefix_inside(ch->addr, ch->prefixlen, res->cidrs[i].addr,
						   res->cidrs[i].prefixlen) ||
			    compile_edit_has_id(ed->ids, ed->nids, res->cidrs[i].identity))
				continue;
			if (ed->nids - ed->nsel == EDIT_MAX_PREFIXES)
				return -E2BIG;
			ed->ids[ed->nids++] = res->cidrs[i];
		}
	}
	return 0;
}

/*
 * Every endpoint's result into res: the endpoints the edited rule selects
 * (all of them when the CIDR identities changed) are recompiled, in the
 * item's direction (both when they changed), for the identities in idset
 * only, and merged into their previous result; the others are copied.
 */
static int compile_edit_endpoints(struct compile_state *st, const struct sluice_compiled *prev,
				  size_t pi, size_t ri, const struct compile_edit *ed,
				  const struct compile_peers_fn *fn, const struct compile_idset *idset,
				  struct sluice_compiled *res, struct sluice_diags *errors)
{
	const struct compile_idset noids = { 0 };
	int rc = compile_setup_endpoints(st);

	if (!rc)
		rc = compile_subjects(st);
	if (!rc && !(res->eps = calloc(prev->neps + 1, sizeof(*res->eps))))
		rc = -ENOMEM;
	for (size_t i = 0, j = 0; i < st->neps && !rc; i++) {
		const struct compile_ep_rules *er = &st->ep_rules[i];
		struct compile_out o = { 0 };
		uint32_t flags = 0;
		bool touched = ed->idset_changed;

		if (st->eps[i].peer_only)
			continue;
		for (size_t x = 0; x < er->n && !touched; x++)
			touched = er->v[x].policy == pi && er->v[x].rule == ri;
		if (touched && (ed->idset_changed || ed->dir == SLUICE_DIR_INGRESS))
			rc = compile_direction_with(st, i, true, &o, &flags, fn);
		if (!rc && touched && (ed->idset_changed || ed->dir == SLUICE_DIR_EGRESS))
			rc = compile_direction_with(st, i, false, &o, &flags, fn);
		if (!rc)
			rc = compile_edit_merge(&prev->eps[j],
						touched ? (ed->idset_changed ? 0xff : ed->dir) : 0,
						touched ? idset : &noids, &o, &res->eps[j]);
		compile_out_free(&o);
		res->neps = ++j;
		if (!rc && res->eps[j - 1].nentries > SLUICE_POLICY_INNER_MAX)
			rc = compile_too_big(errors, &st->eps[i], res->eps[j - 1].nentries);
	}
	return rc;
}

int sluice_policy_compile_edit(const struct sluice_policy_set *set,
			       struct sluice_identity_table *idt,
			       const struct sluice_compile_endpoint *eps, size_t neps,
			       struct sluice_compiled *prev, size_t pi, size_t ri,
			       enum sluice_section section, size_t index,
			       const struct sluice_peer_rule *old_item,
			       struct sluice_compiled *out, bool *handled,
			       struct sluice_diags *errors)
{
	struct compile_state st = { .set = set, .idt = idt, .eps = eps, .neps = neps };
	struct compile_edit ed = { .old_item = old_item };
	struct compile_edit_ctx ctx = { 0 };
	struct compile_idset idset = { 0 };
	struct compile_peers_fn fn = { compile_edit_peers, &ctx, NULL, 0 };
	struct compile_item_ref edited = { (uint32_t)pi, (uint32_t)ri, (uint32_t)index, (uint8_t)section };
	struct compile_item_ref *cand = NULL;
	struct sluice_item_index *items = NULL;
	struct sluice_compiled res = { 0 };
	const char *cluster = SLUICE_CLUSTER_NAME;
	int rc;

	*handled = false;
	if (!set || !idt || !prev || !out)
		return 0;
	ed.new_item = compile_edit_item(set, eps, neps, prev, pi, ri, section, index, old_item);
	if (!ed.new_item)
		return 0;
	ed.dir = sluice_section_is_ingress(section) ? SLUICE_DIR_INGRESS : SLUICE_DIR_EGRESS;
	if (compile_edit_prefixes(old_item, ed.changed, &ed.nchanged, EDIT_MAX_PREFIXES) ||
	    compile_edit_prefixes(ed.new_item, ed.changed, &ed.nchanged, EDIT_MAX_PREFIXES) ||
	    compile_edit_names_apiserver(idt, &ed))
		return 0;
	ed.ids = calloc(EDIT_MAX_IDS + EDIT_MAX_PREFIXES, sizeof(*ed.ids));
	ed.labels = calloc(EDIT_MAX_IDS + EDIT_MAX_PREFIXES, sizeof(*ed.labels));
	if (!ed.ids || !ed.labels || !compile_edit_pick_pods(idt, &ed)) {
		free(ed.ids);
		free(ed.labels);
		return 0;
	}
	compile_edit_count(set, &ed);

	rc = compile_edit_cidrs(prev, idt, &ed, &res);
	if (!rc)
		rc = compile_edit_inside(&res, &ed);
	if (rc)
		goto fail;
	/* items are asked about the live ones; the entries of all go */
	ctx.ids = ed.ids;
	ctx.labels = ed.labels;
	ctx.n = ed.nids;
	for (size_t i = 0; i < ed.nids; i++)
		ed.labels[i] = sluice_idt_labels(idt, ed.ids[i].identity);
	memcpy(ed.ids + ed.nids, ed.gone, ed.ngone * sizeof(*ed.gone));
	ed.nids += ed.ngone;
	idset.v = calloc(ed.nids + 1, sizeof(*idset.v));
	if (!idset.v ||
	    selector_add_req(&ctx.cluster, "k8s", SLUICE_LABEL_CLUSTER, SLUICE_SEL_IN, &cluster, 1)) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < ed.nids; i++)
		idset.v[idset.n++] = ed.ids[i].identity;
	qsort(idset.v, idset.n, sizeof(*idset.v), compile_u32_cmp);

	/* the items that may select the live ones (compile_items.c): the
	 * previous result's index still files the edited item under its old
	 * prefixes, so that item is asked in any case; without an index (none
	 * could be made) every item is asked */
	items = prev->items ? prev->items : compile_items_build(set);
	if (items && compile_items_candidates(items, ctx.ids, ctx.n, &edited, &cand, &fn.ncand) == 0)
		fn.cand = cand;

	st.cidrs = res.cidrs;
	st.ncidrs = res.ncidrs;
	rc = compile_edit_endpoints(&st, prev, pi, ri, &ed, &fn, &idset, &res, errors);
	st.cidrs = NULL; /* res's */
	compile_state_free(&st);
	free(cand);
	if (rc)
		goto fail;
	/* the index moves to the result, the edited item filed anew (a
	 * fresh one was made from the set as it is now) */
	if (items && items == prev->items) {
		prev->items = NULL;
		if (compile_items_update(items, &edited, old_item, ed.new_item)) {
			compile_items_free(items);
			items = NULL;
		}
	}
	res.items = items;
	if (ed.borrowed) { /* the list is the result's now */
		prev->cidrs = NULL;
		prev->ncidrs = 0;
		res.cidrs_kept = true;
	}
	selector_free(&ctx.cluster);
	free(idset.v);
	free(ed.ids);
	free(ed.labels);
	*out = res;
	*handled = true;
	return 0;
fail:
	if (items != prev->items)
		compile_items_free(items);
	if (ed.borrowed) { /* prev's, not to be freed with res */
		res.cidrs = NULL;
		res.ncidrs = 0;
	}
	selector_free(&ctx.cluster);
	free(idset.v);
	free(ed.ids);
	free(ed.labels);
	if (rc != -E2BIG)
		sluice_diags_add(errors, "policy compile failed: %s", strerror(-rc));
	sluice_compiled_free(&res);
	return rc;
}
