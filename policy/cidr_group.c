// SPDX-License-Identifier: Apache-2.0
/*
 * cidr_group.c - CiliumCIDRGroup: the document (a named, labelled list of
 * external CIDRs, cluster-scoped) and the resolution of the CIDR sets that
 * name groups (cidrGroupRef, cidrGroupSelector) into prefixes.
 *
 * Cilium gives every prefix of a group the label
 * cidrgroup:io.cilium.policy.cidrgroupname/NAME (and the group's own
 * labels) and compiles a group reference as a selector of those labels,
 * with one "does not have label cidr:EXCEPT" requirement per except. Here
 * the same set of addresses is spelled as prefixes before each compile:
 * each prefix of each group the entry names, dropped when an except holds
 * it, with the excepts that lie inside it cut out. The compiler then treats
 * them as it treats fromCIDRSet entries (CIDR identities, LPM), so a group
 * edit costs one compile, like a policy edit.
 *
 * Groups are items of the policy set (kind SLUICE_KIND_CCG): applied,
 * listed, deleted and stored like policies, from files or the API. A
 * reference to a group that does not exist stands for no address, and
 * starts to allow (or deny) once the group is created, as in Cilium.
 */
#include "internal.h"
#include "load.h"

#include <stdlib.h>
#include <string.h>

/* ---- the document -------------------------------------------------------- */

static void group_labels(struct yctx *c, y_node_t *root, struct sluice_policy *p)
{
	y_node_t *meta = y_field(c, root, "metadata", NULL), *n;
	yaml_node_pair_t *pr;

	if (!meta || meta->type != YAML_MAPPING_NODE)
		return; /* load_metadata() said why */
	n = y_field(c, meta, "labels", NULL);
	if (!n || y_is_null(n) || n->type != YAML_MAPPING_NODE)
		return;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		const char *k = y_string(c, y_node(c, pr->key));
		const char *v = y_string(c, y_node(c, pr->value));

		if (k && v && sluice_labels_add(&p->group_labels, "cidrgroup", k, v))
			y_error(c, y_line(n), "out of memory");
	}
}

void cilium_load_cidr_group(struct yctx *c, y_node_t *root, struct sluice_policy *p)
{
	static const char *const spec_known[] = { "externalCIDRs", NULL };
	y_node_t *spec, *list;
	size_t base;
	long n;
	int line;

	load_metadata(c, root, p, false);
	group_labels(c, root, p);
	base = y_push_field(c, "spec");
	spec = y_field(c, root, "spec", &line);
	if (!spec || y_is_null(spec)) {
		y_error(c, spec ? y_line(spec) : y_line(root), "missing required field");
		goto out;
	}
	if (!y_mapping(c, spec))
		goto out;
	y_check_fields(c, spec, spec_known, NULL);
	y_push_field(c, "externalCIDRs");
	list = y_field(c, spec, "externalCIDRs", &line);
	if (!list) {
		y_error(c, y_line(spec), "missing required field");
		goto out;
	}
	n = y_sequence(c, list);
	if (n > 0 && (p->group_cidrs = y_calloc(c, (size_t)n, sizeof(*p->group_cidrs))))
		p->ngroup_cidrs = (size_t)n;
	for (size_t i = 0; i < p->ngroup_cidrs; i++) {
		size_t old = y_push_index(c, i);

		load_cidr(c, y_item(c, list, (long)i), &p->group_cidrs[i]);
		y_pop(c, old);
	}
out:
	y_pop(c, base);
}

/* ---- resolving references ------------------------------------------------ */

static bool ref_names(const struct sluice_cidr_group_ref *g, const struct sluice_policy *q)
{
	if (q->kind != SLUICE_KIND_CCG || !q->name)
		return false;
	if (!g->by_selector)
		return g->name && !strcmp(g->name, q->name);
	return sluice_selector_matches(&g->selector, &q->group_labels);
}

static void cidr_free_excepts(struct sluice_cidr *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].except);
		v[i].except = NULL;
		v[i].nexcept = 0;
	}
}

/* Appends prefix g of a group minus the excepts of ref to out[*n]
 * (capacity known); false when an except holds all of it. */
static bool add_prefix(const struct sluice_cidr_group_ref *ref, const struct sluice_cidr *g,
		       struct sluice_cidr *out, size_t *n)
{
	struct sluice_cidr *c;
	size_t k, inside = 0;

	for (k = 0; k < ref->nexcept; k++) {
		const struct sluice_cidr *e = &ref->except[k];

		if (e->prefixlen <= g->prefixlen && load_cidr_contains(e, g))
			return false;
		if (load_cidr_contains(g, e))
			inside++;
	}
	/* the same prefix from two groups (or twice in one) is named once */
	for (k = 0; k < *n; k++)
		if (out[k].prefixlen == g->prefixlen && !memcmp(out[k].addr, g->addr, 16) &&
		    !out[k].nexcept && !inside)
			return true;
	c = &out[(*n)++];
	memset(c, 0, sizeof(*c));
	memcpy(c->addr, g->addr, 16);
	c->prefixlen = g->prefixlen;
	if (!inside)
		return true;
	c->except = calloc(inside, sizeof(*c->except));
	if (!c->except)
		abort();
	for (k = 0; k < ref->nexcept; k++)
		if (load_cidr_contains(g, &ref->except[k])) {
			memcpy(c->except[c->nexcept].addr, ref->except[k].addr, 16);
			c->except[c->nexcept++].prefixlen = ref->except[k].prefixlen;
		}
	return true;
}

/* Replaces the group prefixes of pr (the ngroup_cidrs entries before the
 * nsvc_cidrs toServices ones at the end of cidrs) with what its
 * references name in set now. */
static void resolve_item(const struct sluice_policy_set *set, struct sluice_peer_rule *pr)
{
	size_t own = pr->ncidrs - pr->nsvc_cidrs - pr->ngroup_cidrs;
	size_t cap = 0, n = 0, gi, qi, k;
	struct sluice_cidr *fresh, *v;

	for (gi = 0; gi < pr->ngroups; gi++)
		for (qi = 0; qi < set->n; qi++)
			if (ref_names(&pr->groups[gi], &set->v[qi]))
				cap += set->v[qi].ngroup_cidrs;
	fresh = calloc(cap ? cap : 1, sizeof(*fresh));
	if (!fresh)
		abort();
	for (gi = 0; gi < pr->ngroups; gi++)
		for (qi = 0; qi < set->n; qi++)
			if (ref_names(&pr->groups[gi], &set->v[qi]))
				for (k = 0; k < set->v[qi].ngroup_cidrs; k++)
					add_prefix(&pr->groups[gi], &set->v[qi].group_cidrs[k], fresh, &n);

	cidr_free_excepts(pr->cidrs + own, pr->ngroup_cidrs);
	v = realloc(pr->cidrs, (own + n + pr->nsvc_cidrs + 1) * sizeof(*v));
	if (!v)
		abort();
	/* toServices' entries stay last: services.c drops them from the end */
	memmove(v + own + n, v + own + pr->ngroup_cidrs, pr->nsvc_cidrs * sizeof(*v));
	memcpy(v + own, fresh, n * sizeof(*v));
	free(fresh);
	pr->cidrs = v;
	pr->ncidrs = own + n + pr->nsvc_cidrs;
	pr->ngroup_cidrs = n;
}

bool sluice_policy_set_resolve_cidr_groups(struct sluice_policy_set *set)
{
	bool used = false;

	for (size_t pi = 0; pi < set->n; pi++) {
		struct sluice_policy *p = &set->v[pi];

		if (!p->has_groups)
			continue;
		for (size_t ri = 0; ri < p->nrules; ri++)
			for (int s = 0; s < SLUICE_SECTION_COUNT; s++) {
				size_t n;
				struct sluice_peer_rule *v = rule_section(&p->rules[ri], s, &n);

				for (size_t i = 0; i < n; i++)
					if (v[i].ngroups) {
						used = true;
						resolve_item(set, &v[i]);
					}
			}
	}
	return used;
}
