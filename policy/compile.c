// SPDX-License-Identifier: Apache-2.0
/*
 * compile.c - sluice_policy_compile(): turns the policy set into, for each
 * endpoint, the entries of its inner LPM trie (see abi.h) and the table of
 * L7 rules that the proxy enforces on redirected flows, plus the CIDR
 * identities the agent writes into the ipcache.
 *
 * The work is split so that nothing is O(rules x identities x labels):
 *   1. identities are indexed by label key and by key=value, so a selector
 *      with an In or Exists requirement only checks its candidates;
 *   2. each rule's subject is matched once against the (few) endpoint
 *      identities of this node, giving every endpoint its list of rules;
 *   3. each peer selector is resolved to identities once and cached;
 *   4. per endpoint and direction, every (peer, port) contribution is
 *      merged into a hash map keyed like the trie, then precedence is
 *      resolved (compile_emit.c, the long comment above compile_materialize()).
 *
 * This file is the driver; compile.h lists the files of the other steps.
 */
#include "compile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compile_direction(struct compile_state *st, size_t ep_index, bool ingress,
			     struct compile_out *out, uint32_t *flags)
{
	return compile_direction_with(st, ep_index, ingress, out, flags, NULL);
}

/* items ahead whose CIDR arrays are fetched early (see below) */
#define PREFETCH_AHEAD 8

/* An item asked through only (the edit path): the recompiled identities
 * it names, then their keys. */
static int compile_item_only(struct compile_state *st, struct cmap *m, size_t ep_index,
			     const struct sluice_peer_rule *item, bool ingress, bool deny, uint32_t ref,
			     struct u32vec *peers, struct compile_keys *keys,
			     const struct compile_peers_fn *only)
{
	int rc = only->fn(st, item, &st->eps[ep_index], peers, only->ctx);

	if (!rc && peers->n)
		rc = compile_peer_rule_for(st, m, ep_index, item, ingress, deny, ref, peers, keys);
	return rc;
}

int compile_direction_with(struct compile_state *st, size_t ep_index, bool ingress,
			   struct compile_out *out, uint32_t *flags,
			   const struct compile_peers_fn *only)
{
	const struct compile_ep_rules *er = &st->ep_rules[ep_index];
	struct u32vec peers = { 0 };
	struct compile_keys keys = { 0 };
	struct cmap m = { 0 };
	bool enabled = false, default_deny = false;
	int rc = 0;

	for (size_t i = 0; i < er->n && !rc; i++) {
		const struct sluice_policy *p = &st->set->v[er->v[i].policy];
		const struct sluice_rule *r = &p->rules[er->v[i].rule];
		bool has = ingress ? r->has_ingress || r->has_ingress_deny
				   : r->has_egress || r->has_egress_deny;
		int dd = ingress ? r->default_deny_ingress : r->default_deny_egress;
		const struct sluice_peer_rule *allow = ingress ? r->ingress : r->egress;
		const struct sluice_peer_rule *deny = ingress ? r->ingress_deny : r->egress_deny;
		size_t nallow = ingress ? r->ningress : r->negress;
		size_t ndeny = ingress ? r->ningress_deny : r->negress_deny;
		uint32_t ref = p->ref_id ? p->ref_id : (uint32_t)er->v[i].policy + 1;

		if (!has)
			continue;
		enabled = true;
		if (dd != SLUICE_FALSE)
			default_deny = true;
		st->l7_open = dd == SLUICE_FALSE;
		if (only && only->cand) {
			/* the edit path: only the items its index names, in
			 * the same order (allow items, then deny ones) */
			struct compile_item_ref lo = { .policy = er->v[i].policy, .rule = er->v[i].rule };
			size_t a = compile_item_refs_lower_bound(only->cand, only->ncand, &lo);

			for (; a < only->ncand && !rc && only->cand[a].policy == lo.policy &&
			       only->cand[a].rule == lo.rule; a++) {
				const struct compile_item_ref *c = &only->cand[a];
				bool is_deny = sluice_section_is_deny((enum sluice_section)c->section);
				const struct sluice_peer_rule *item;

				if (sluice_section_is_ingress((enum sluice_section)c->section) != ingress ||
				    c->index >= (is_deny ? ndeny : nallow))
					continue;
				item = is_deny ? &deny[c->index] : &allow[c->index];
				rc = compile_item_only(st, &m, ep_index, item, ingress, is_deny, ref, &peers,
						       &keys, only);
			}
			continue;
		}
		for (size_t j = 0; j < nallow + ndeny && !rc; j++) {
			const struct sluice_peer_rule *item = j < nallow ? &allow[j] : &deny[j - nallow];
			size_t k = j + PREFETCH_AHEAD;

			/* Every item is asked about its peers, and most of that
			 * time is the cache miss on the item's own CIDR array
			 * (allocated apart from the items): a one-rule edit at
			 * 25,000 items spent 22 % of its time on that one load.
			 * Ask for an item's array a few items before it is read. */
			if (k < nallow + ndeny) {
				const struct sluice_peer_rule *ahead = k < nallow ? &allow[k] : &deny[k - nallow];

				if (ahead->ncidrs)
					__builtin_prefetch(ahead->cidrs);
			}
			if (!only) {
				rc = compile_peer_rule(st, &m, ep_index, item, ingress, j >= nallow, ref,
						       &peers, &keys);
				continue;
			}
			rc = compile_item_only(st, &m, ep_index, item, ingress, j >= nallow, ref, &peers,
					       &keys, only);
		}
	}
	/*
	 * Cilium: when every rule that turns a direction on says
	 * enableDefaultDeny: false, the direction is still enforced (so deny
	 * rules and L7 redirects work) but an allow-all is added for the rest.
	 */
	if (!rc && enabled && !default_deny) {
		struct centry *e = cmap_upsert(&m, KEY_PACK(SLUICE_ID_ANY, 0, 40, 0));

		if (!e) {
			rc = -ENOMEM;
		} else {
			e->allow = true;
			m.allow_plens |= 1u;
		}
	}
	if (!rc && enabled)
		*flags |= ingress ? SLUICE_EP_F_ENFORCE_INGRESS : SLUICE_EP_F_ENFORCE_EGRESS;
	if (!rc)
		rc = compile_emit(st, &st->eps[ep_index],
				  ingress ? SLUICE_DIR_INGRESS : SLUICE_DIR_EGRESS, &m, out);
	cmap_free(&m);
	free(peers.v);
	free(keys.v);
	return rc;
}

int compile_entry_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct sluice_policy_map_entry *)a)->key,
		      &((const struct sluice_policy_map_entry *)b)->key,
		      sizeof(struct sluice_policy_key));
}

int compile_l7_cmp(const void *a, const void *b)
{
	const struct sluice_l7_policy *x = a, *y = b;

	if (x->direction != y->direction)
		return x->direction < y->direction ? -1 : 1;
	if (x->protocol != y->protocol)
		return x->protocol < y->protocol ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->end_port != y->end_port)
		return x->end_port > y->end_port ? -1 : 1; /* wider first */
	if (x->peer_identity != y->peer_identity)
		return x->peer_identity < y->peer_identity ? -1 : 1;
	return 0;
}

static int compile_endpoint(struct compile_state *st, size_t i, struct sluice_ep_compiled *out)
{
	struct compile_out o = { 0 };
	int rc;

	out->ep_id = st->eps[i].ep_id;
	rc = compile_direction(st, i, true, &o, &out->flags);
	if (!rc)
		rc = compile_direction(st, i, false, &o, &out->flags);
	if (o.nentries)
		compile_sort(o.entries, o.nentries, sizeof(*o.entries), compile_entry_cmp);
	if (o.nl7)
		qsort(o.l7, o.nl7, sizeof(*o.l7), compile_l7_cmp);
	out->entries = o.entries;
	out->nentries = o.nentries;
	out->l7 = o.l7;
	out->nl7 = o.nl7;
	return rc;
}

/* ---- setup ------------------------------------------------------------ */

int compile_http_ordinals(struct compile_state *st)
{
	size_t total = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t pi = 0; pi < st->set->n; pi++) {
			const struct sluice_policy *p = &st->set->v[pi];

			for (size_t ri = 0; ri < p->nrules; ri++) {
				const struct sluice_rule *r = &p->rules[ri];
				const struct sluice_peer_rule *lists[] = { r->ingress, r->egress };
				size_t counts[] = { r->ningress, r->negress };

				for (size_t l = 0; l < 2; l++)
					for (size_t j = 0; j < counts[l]; j++)
						for (size_t t = 0; t < lists[l][j].nto_ports; t++) {
							const struct sluice_port_rule *pr = &lists[l][j].to_ports[t];
							bool ins;

							if (!pr->nhttp)
								continue;
							if (pass == 0) {
								total += pr->nhttp;
								continue;
							}
							if (!u64map_upsert(&st->http_base, (uint64_t)(uintptr_t)pr,
									   st->nhttp, &ins))
								return -ENOMEM;
							for (size_t h = 0; h < pr->nhttp; h++)
								st->http[st->nhttp++] = &pr->http[h];
						}
			}
		}
		if (pass == 0 && total && !(st->http = calloc(total, sizeof(*st->http))))
			return -ENOMEM;
	}
	return 0;
}

/* What the endpoints given need: by identity, the local index, the http
 * ordinals. */
int compile_setup_endpoints(struct compile_state *st)
{
	int rc = compile_index_init(&st->local, st->neps);

	st->ep_next = calloc(st->neps ? st->neps : 1, sizeof(*st->ep_next));
	st->ep_rules = calloc(st->neps ? st->neps : 1, sizeof(*st->ep_rules));
	if (!rc && (!st->ep_next || !st->ep_rules))
		rc = -ENOMEM;
	/* endpoints by identity, in the order given (list built backwards) */
	for (size_t i = st->neps; i-- > 0 && !rc;) {
		bool inserted;
		size_t *first = u64map_upsert(&st->ep_by_identity, st->eps[i].identity, i, &inserted);

		if (!first) {
			rc = -ENOMEM;
			break;
		}
		st->ep_next[i] = inserted ? SIZE_MAX : *first;
		*first = i;
	}
	/* the local index: one entry per distinct endpoint identity, ascending */
	if (!rc) {
		struct u32vec ids = { 0 };

		for (size_t i = 0; i < st->neps && !rc; i++) {
			rc = u32vec_push(&st->pod_ids, st->eps[i].identity);
			if (!rc && !st->eps[i].peer_only)
				rc = u32vec_push(&ids, st->eps[i].identity);
		}
		u32vec_sort_unique(&ids);
		u32vec_sort_unique(&st->pod_ids);
		for (size_t i = 0; i < ids.n && !rc; i++) {
			const struct sluice_labels *l = sluice_idt_labels(st->idt, ids.v[i]);

			if (l)
				rc = compile_index_add(&st->local, ids.v[i], l);
		}
		free(ids.v);
	}
	return rc;
}

static int compile_setup(struct compile_state *st, struct sluice_identity_table *idt)
{
	size_t nid;
	int rc;
	bool index_cidrs = compile_index_cidrs(st->set);

	rc = compile_cidr_identities(st, idt);
	nid = sluice_idt_count(st->idt);
	if (!rc)
		rc = compile_index_init(&st->all, nid);
	for (size_t i = 0; i < nid && !rc; i++) {
		uint32_t id = sluice_idt_at(st->idt, i);
		const struct sluice_labels *l = sluice_idt_labels(st->idt, id);

		if (l && id >= SLUICE_ID_LOCAL_MIN && !index_cidrs) {
			st->all.ids[st->all.n] = id;
			st->all.labels[st->all.n++] = l;
		} else if (l) {
			rc = compile_index_add(&st->all, id, l);
		}
	}
	return rc ? rc : compile_setup_endpoints(st);
}

void compile_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	const char *p = base;

	for (size_t i = 1; i < n; i++)
		if (cmp(p + (i - 1) * size, p + i * size) > 0) {
			qsort(base, n, size, cmp);
			return;
		}
}

int compile_too_big(struct sluice_diags *errors, const struct sluice_compile_endpoint *ep, size_t n)
{
	if (ep->name)
		sluice_diags_add(errors, "policy map full: endpoint %s/%s would need %zu entries, the map holds %u",
				 ep->namespace ? ep->namespace : "", ep->name, n, SLUICE_POLICY_INNER_MAX);
	else
		sluice_diags_add(errors, "endpoint %u: %zu policy entries exceed the map size %u", ep->ep_id,
				 n, SLUICE_POLICY_INNER_MAX);
	return -E2BIG;
}

/* Gives every endpoint the list of rules whose subject selects it. */
int compile_subjects(struct compile_state *st)
{
	struct u32vec ids = { 0 };
	int rc = 0;

	for (size_t pi = 0; pi < st->set->n && !rc; pi++) {
		const struct sluice_policy *p = &st->set->v[pi];

		for (size_t ri = 0; ri < p->nrules && !rc; ri++) {
			ids.n = 0;
			rc = compile_select(&st->local, &p->rules[ri].subject, &ids);
			for (size_t k = 0; k < ids.n && !rc; k++) {
				size_t *first = u64map_get(&st->ep_by_identity, ids.v[k]);

				for (size_t e = first ? *first : SIZE_MAX; e != SIZE_MAX && !rc;
				     e = st->ep_next[e]) {
					struct compile_ep_rules *er = &st->ep_rules[e];

					if (st->eps[e].peer_only)
						continue;
					if (er->n == er->cap) {
						size_t ncap = er->cap ? er->cap * 2 : 8;
						void *v = realloc(er->v, ncap * sizeof(*er->v));

						if (!v) {
							rc = -ENOMEM;
							break;
						}
						er->v = v;
						er->cap = ncap;
					}
					er->v[er->n++] = (struct compile_rule_ref){
						(uint32_t)pi, (uint32_t)ri };
				}
			}
		}
	}
	free(ids.v);
	return rc;
}

void compile_state_free(struct compile_state *st)
{
	compile_index_free(&st->all);
	compile_index_free(&st->local);
	u64map_free(&st->ep_by_identity);
	free(st->ep_next);
	u64map_free(&st->peer_cache);
	for (size_t i = 0; i < st->npeer_sets; i++)
		free(st->peer_sets[i].v);
	free(st->peer_sets);
	free(st->cluster.v);
	free(st->pod_ids.v);
	free(st->cidrs);
	u64map_free(&st->cidr_cache);
	u64map_free(&st->http_base);
	free(st->http);
	for (size_t i = 0; st->ep_rules && i < st->neps; i++)
		free(st->ep_rules[i].v);
	free(st->ep_rules);
}

int sluice_policy_compile(const struct sluice_policy_set *set,
			  struct sluice_identity_table *idt,
			  const struct sluice_compile_endpoint *eps, size_t neps,
			  struct sluice_compiled *out, struct sluice_diags *errors)
{
	struct compile_state st = { .set = set, .idt = idt, .eps = eps, .neps = neps };
	struct sluice_compiled res = { 0 };
	int rc;

	if (!set || !idt || (neps && !eps) || !out)
		return -EINVAL;
	rc = compile_setup(&st, idt);
	if (!rc)
		rc = compile_subjects(&st);
	if (!rc && neps && !(res.eps = calloc(neps, sizeof(*res.eps))))
		rc = -ENOMEM;
	for (size_t i = 0; i < neps && !rc; i++) {
		struct sluice_ep_compiled *e = &res.eps[res.neps];

		if (eps[i].peer_only)
			continue;
		rc = compile_endpoint(&st, i, e);
		res.neps++;
		/* fail closed: a policy that does not fit is not half applied */
		if (!rc && e->nentries > SLUICE_POLICY_INNER_MAX)
			rc = compile_too_big(errors, &eps[i], e->nentries);
	}
	if (!rc) {
		res.cidrs = st.cidrs;
		res.ncidrs = st.ncidrs;
		st.cidrs = NULL;
		/* for the edits that may follow (compile_items.c); none when
		 * it cannot be made: they then ask every item */
		res.items = compile_items_build(set);
	}
	compile_state_free(&st);
	if (rc) {
		if (rc != -E2BIG)
			sluice_diags_add(errors, "policy compile failed: %s", strerror(-rc));
		sluice_compiled_free(&res);
		return rc;
	}
	*out = res;
	return 0;
}

static const struct sluice_l7_policy *compile_l7_find(const struct sluice_ep_compiled *ep,
						     uint8_t dir, uint8_t proto,
						     uint16_t port, uint32_t id)
{
	const struct sluice_l7_policy *best = NULL;

	for (size_t i = 0; i < ep->nl7; i++) {
		const struct sluice_l7_policy *p = &ep->l7[i];

		if (p->direction != dir || p->protocol != proto || p->peer_identity != id ||
		    port < p->port || port > p->end_port)
			continue;
		if (!best || p->end_port - p->port < best->end_port - best->port)
			best = p;
	}
	return best;
}

const struct sluice_l7_policy *sluice_l7_lookup(const struct sluice_ep_compiled *ep,
						uint8_t direction, uint8_t protocol,
						uint16_t port, uint32_t peer_identity)
{
	const struct sluice_l7_policy *p = NULL;

	if (!ep)
		return NULL;
	if (peer_identity != SLUICE_ID_ANY)
		p = compile_l7_find(ep, direction, protocol, port, peer_identity);
	return p ? p : compile_l7_find(ep, direction, protocol, port, SLUICE_ID_ANY);
}

void sluice_compiled_free(struct sluice_compiled *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->neps; i++) {
		struct sluice_ep_compiled *e = &c->eps[i];

		free(e->entries);
		for (size_t j = 0; j < e->nl7; j++) {
			free(e->l7[j].rules);
			free(e->l7[j].server_names);
		}
		free(e->l7);
	}
	free(c->eps);
	c->eps = NULL;
	c->neps = 0;
	free(c->cidrs);
	c->cidrs = NULL;
	c->ncidrs = 0;
	compile_items_free(c->items);
	c->items = NULL;
}
