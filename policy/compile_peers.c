// SPDX-License-Identifier: Apache-2.0
/*
 * compile_peers.c - the identities a peer rule names: label selectors
 * (through the index, cached per selector), entities, CIDR prefixes (with
 * their excepts, and Kubernetes ipBlocks that select pods by address); and
 * the CIDR identities of every prefix the policy set names.
 */
#include "compile.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- peers ------------------------------------------------------------ */

/*
 * The cached peer set of key (a selector's or a CIDR's address) in cache:
 * *out is the set; *fresh says it is new and empty, to be filled by the
 * caller. 0 or -ENOMEM.
 */
static int compile_peer_set(struct compile_state *st, struct u64map *cache, const void *key,
			    struct u32vec **out, bool *fresh)
{
	size_t *slot = u64map_upsert(cache, (uint64_t)(uintptr_t)key, 0, fresh);

	if (!slot)
		return -ENOMEM;
	if (!*fresh) {
		*out = &st->peer_sets[*slot];
		return 0;
	}
	if (st->npeer_sets == st->cappeer_sets) {
		size_t ncap = st->cappeer_sets ? st->cappeer_sets * 2 : 64;
		struct u32vec *v = realloc(st->peer_sets, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		st->peer_sets = v;
		st->cappeer_sets = ncap;
	}
	memset(&st->peer_sets[st->npeer_sets], 0, sizeof(st->peer_sets[0]));
	*slot = st->npeer_sets++;
	*out = &st->peer_sets[*slot];
	return 0;
}

static int compile_selector_ids(struct compile_state *st, const struct sluice_selector *s,
				const struct u32vec **out)
{
	struct u32vec *ids;
	bool fresh;
	int rc = compile_peer_set(st, &st->peer_cache, s, &ids, &fresh);

	*out = ids;
	if (rc || !fresh)
		return rc;
	if (sluice_selector_is_wildcard(s))
		return u32vec_push(ids, SLUICE_ID_ANY);
	return compile_select(&st->all, s, ids);
}

/* the reserved identities the cluster entity holds, besides its pods */
static const uint32_t compile_cluster_reserved[] = {
	SLUICE_ID_HOST, SLUICE_ID_UNMANAGED, SLUICE_ID_HEALTH, SLUICE_ID_INIT,
	SLUICE_ID_REMOTE_NODE, SLUICE_ID_KUBE_APISERVER, SLUICE_ID_INGRESS,
};

static int compile_cluster_ids(struct compile_state *st)
{	struct sluice_selector sel = { 0 };
	const char *v = SLUICE_CLUSTER_NAME;
	int rc = 0;

	if (st->cluster_done)
		return 0;
	for (size_t i = 0; i < sizeof(compile_cluster_reserved) / sizeof(compile_cluster_reserved[0]) && !rc; i++)
		rc = u32vec_push(&st->cluster, compile_cluster_reserved[i]);
	if (!rc)
		rc = selector_add_req(&sel, "k8s", SLUICE_LABEL_CLUSTER, SLUICE_SEL_IN, &v, 1);
	if (!rc)
		rc = compile_select(&st->all, &sel, &st->cluster);
	selector_free(&sel);
	st->cluster_done = !rc;
	return rc;
}

/* ---- CIDR peers ------------------------------------------------------- */

/* addr/plen lies inside net/net_plen (both in the 16-byte form). Asked
 * about every CIDR of an endpoint's rules: the first net_plen bits are
 * compared as two 64-bit words, not by a memcmp call of a varying length. */
bool compile_prefix_inside(const uint8_t *net, unsigned int net_plen,
			   const uint8_t *addr, unsigned int plen)
{
	uint64_t hi, lo;

	if (plen < net_plen)
		return false;
	if (net_plen == 0)
		return true;
	if (net_plen > 128)
		return false; /* not a prefix of the 16-byte form */
	hi = compile_addr_half(net, 0) ^ compile_addr_half(addr, 0);
	if (net_plen <= 64)
		return !(hi & (~UINT64_C(0) << (64 - net_plen)));
	lo = compile_addr_half(net, 1) ^ compile_addr_half(addr, 1);
	return !hi && !(lo & (~UINT64_C(0) << (128 - net_plen)));
}

/* 0.0.0.0/0 or ::/0: the whole (IPv4 or IPv6) world */
bool compile_cidr_is_world(const struct sluice_cidr *c)
{
	static const uint8_t v4[12] = { [10] = 0xff, [11] = 0xff };

	return c->prefixlen == 0 || (c->prefixlen == 96 && !memcmp(c->addr, v4, 12));
}

bool compile_cidr_selects(const struct sluice_cidr *c, const uint8_t *addr,
			  unsigned int plen)
{
	if (!compile_prefix_inside(c->addr, c->prefixlen, addr, plen))
		return false;
	for (size_t i = 0; i < c->nexcept; i++)
		if (compile_prefix_inside(c->except[i].addr, c->except[i].prefixlen, addr, plen))
			return false;
	return true;
}

/*
 * The identities one CIDR (with its excepts) selects, cached per CIDR:
 *   - world when it is 0.0.0.0/0 or ::/0: addresses without a more
 *     specific ipcache entry are world (an except has its own entry);
 *   - every CIDR identity whose prefix lies inside it and not inside an
 *     except: LPM gives an address the identity of the most specific
 *     prefix named by any policy, so selecting the prefixes inside is
 *     exact, whatever other policies name;
 *   - for a Kubernetes ipBlock (select_pods), every identity of known pods
 *     (this node's, and peer_only ones of other nodes) whose addresses all
 *     lie inside it and outside the excepts. The ipcache maps a pod's /32
 *     to its identity, which wins over any CIDR, and policy entries are
 *     per identity, not per address: when pods of
 *     one identity are split (some inside, some outside), the identity is
 *     not selected (an allow never reaches a pod the block does not name;
 *     such a pod loses the allow instead). A pod without a known address
 *     is never selected. Kubernetes' own conformance pods all have
 *     distinct labels, hence distinct identities, so there it is exact.
 */
static int compile_cidr_ids(struct compile_state *st, const struct sluice_cidr *c,
			    bool select_pods, const struct u32vec **out)
{
	static const uint8_t zero[16];
	struct u32vec *ids = NULL;
	bool fresh;
	int rc = compile_peer_set(st, &st->cidr_cache, c, &ids, &fresh);

	*out = ids;
	if (rc || !fresh)
		return rc;
	if (compile_cidr_is_world(c))
		rc = u32vec_push(ids, SLUICE_ID_WORLD);
	{
		/*
		 * st->cidrs is sorted by address: the prefixes inside c are a
		 * contiguous run between c's first and last address, found by
		 * binary search, so this costs log(n) plus what c selects, not a
		 * pass over every CIDR identity per CIDR (n x n at 25k rules).
		 */
		uint8_t lo[16], hi[16];
		size_t a = 0, b = st->ncidrs;
		unsigned int plen = c->prefixlen > 128 ? 128 : c->prefixlen;

		for (unsigned int byte = 0; byte < 16; byte++) {
			unsigned int bits = plen >= (byte + 1) * 8 ? 8 : plen > byte * 8 ? plen - byte * 8 : 0;
			uint8_t mask = bits ? (uint8_t)(0xffu << (8 - bits)) : 0;

			lo[byte] = c->addr[byte] & mask;
			hi[byte] = (uint8_t)(c->addr[byte] | (uint8_t)~mask);
		}
		while (a < b) {
			size_t mid = a + (b - a) / 2;

			if (memcmp(st->cidrs[mid].addr, lo, 16) < 0)
				a = mid + 1;
			else
				b = mid;
		}
		for (size_t i = a; i < st->ncidrs && !rc && memcmp(st->cidrs[i].addr, hi, 16) <= 0; i++)
			if (compile_cidr_selects(c, st->cidrs[i].addr, st->cidrs[i].prefixlen))
				rc = u32vec_push(ids, st->cidrs[i].identity);
	}
	for (size_t i = 0; select_pods && i < st->pod_ids.n && !rc; i++) {
		uint32_t id = st->pod_ids.v[i];
		size_t *first = u64map_get(&st->ep_by_identity, id);
		bool all = first != NULL;

		for (size_t e = first ? *first : SIZE_MAX; e != SIZE_MAX && all; e = st->ep_next[e])
			all = memcmp(st->eps[e].addr, zero, 16) &&
			      compile_cidr_selects(c, st->eps[e].addr, 128);
		if (all)
			rc = u32vec_push(ids, id);
	}
	return rc;
}

/* ---- peers ------------------------------------------------------------ */

/* the identities of the entities that name one identity each */
static const struct {
	uint32_t bit, id;
} compile_entity_ids[] = {
	{ SLUICE_ENTITY_WORLD, SLUICE_ID_WORLD },
	{ SLUICE_ENTITY_HOST, SLUICE_ID_HOST },
	{ SLUICE_ENTITY_ALL, SLUICE_ID_ANY },
	{ SLUICE_ENTITY_REMOTE_NODE, SLUICE_ID_REMOTE_NODE },
	{ SLUICE_ENTITY_INIT, SLUICE_ID_INIT },
	{ SLUICE_ENTITY_HEALTH, SLUICE_ID_HEALTH },
	{ SLUICE_ENTITY_UNMANAGED, SLUICE_ID_UNMANAGED },
	{ SLUICE_ENTITY_KUBE_APISERVER, SLUICE_ID_KUBE_APISERVER },
	{ SLUICE_ENTITY_INGRESS, SLUICE_ID_INGRESS },
};

/*
 * The namespace entity: the pods of the subject's own namespace (Cilium's
 * "namespace" entity). In a clusterwide rule the subjects span namespaces,
 * so the peers differ from one subject to the next and stay out of the
 * per-selector cache; the index finds them by the namespace label alone.
 */
static int compile_namespace_ids(struct compile_state *st,
				 const struct sluice_compile_endpoint *subject, struct u32vec *out)
{
	struct sluice_selector sel = { 0 };
	const char *ns = subject ? subject->namespace : NULL;
	int rc;

	if (!ns || !*ns)
		return 0;
	rc = selector_add_req(&sel, "k8s", SLUICE_LABEL_NAMESPACE, SLUICE_SEL_IN, &ns, 1);
	if (!rc)
		rc = compile_select(&st->all, &sel, out);
	selector_free(&sel);
	return rc;
}

/* The identities a peer rule names for one subject (sorted; ANY alone when
 * it covers all). */
int compile_peer_ids(struct compile_state *st, const struct sluice_peer_rule *pr,
		     const struct sluice_compile_endpoint *subject, struct u32vec *out)
{
	int rc = 0;

	out->n = 0;
	if (!pr->has_l3)
		return u32vec_push(out, SLUICE_ID_ANY);
	if (pr->no_peers)
		return 0;
	for (size_t i = 0; i < pr->nendpoints && !rc; i++) {
		const struct u32vec *ids;

		rc = compile_selector_ids(st, &pr->endpoints[i], &ids);
		for (size_t j = 0; !rc && j < ids->n; j++)
			rc = u32vec_push(out, ids->v[j]);
	}
	for (size_t i = 0; i < sizeof(compile_entity_ids) / sizeof(compile_entity_ids[0]) && !rc; i++)
		if (pr->entities & compile_entity_ids[i].bit)
			rc = u32vec_push(out, compile_entity_ids[i].id);
	/* (only the two entities that name a second label: a 25,000-rule
	 * compile passes here once per peer rule) */
	for (uint32_t id = SLUICE_ID_HOST; id <= SLUICE_ID_INGRESS && !rc &&
	     (pr->entities & (SLUICE_ENTITY_REMOTE_NODE | SLUICE_ENTITY_KUBE_APISERVER)); id++)
		if (compile_entity_label_names(st->idt, pr->entities, id))
			rc = u32vec_push(out, id);
	/* world is every address outside the cluster: CIDR identities too;
	 * an API server outside the cluster is kube-apiserver as well */
	for (size_t i = 0; (pr->entities & (SLUICE_ENTITY_WORLD | SLUICE_ENTITY_KUBE_APISERVER)) &&
			   i < st->ncidrs && !rc; i++)
		if ((pr->entities & SLUICE_ENTITY_WORLD) || (st->cidrs[i].flags & SLUICE_CIDR_F_APISERVER))
			rc = u32vec_push(out, st->cidrs[i].identity);
	if (!rc && (pr->entities & SLUICE_ENTITY_CLUSTER)) {
		rc = compile_cluster_ids(st);
		for (size_t j = 0; !rc && j < st->cluster.n; j++)
			rc = u32vec_push(out, st->cluster.v[j]);
	}
	if (!rc && (pr->entities & SLUICE_ENTITY_NAMESPACE))
		rc = compile_namespace_ids(st, subject, out);
	for (size_t i = 0; i < pr->ncidrs && !rc; i++) {
		const struct u32vec *ids;

		rc = compile_cidr_ids(st, &pr->cidrs[i], pr->cidrs_select_pods, &ids);
		for (size_t j = 0; !rc && j < ids->n; j++)
			rc = u32vec_push(out, ids->v[j]);
	}
	if (rc)
		return rc;
	u32vec_sort_unique(out);
	if (out->n && out->v[0] == SLUICE_ID_ANY) /* ANY covers every other peer */
		out->n = 1;
	return 0;
}

/*
 * Entities are label selectors in Cilium, and two reserved identities carry
 * a second label: 7 (the API server on another node) is also remote-node,
 * and the host is also kube-apiserver while the API server listens on one
 * of its addresses.
 */
bool compile_entity_label_names(const struct sluice_identity_table *idt, uint32_t entities,
				uint32_t id)
{
	if (id == SLUICE_ID_KUBE_APISERVER && (entities & SLUICE_ENTITY_REMOTE_NODE))
		return true;
	return id == SLUICE_ID_HOST && (entities & SLUICE_ENTITY_KUBE_APISERVER) &&
	       sluice_idt_apiserver_on_host(idt);
}

/* reserved identities the entities name (as compile_peer_ids() does) */
bool compile_edit_entity_names(const struct sluice_identity_table *idt, uint32_t entities,
			       uint32_t id)
{
	if (compile_entity_label_names(idt, entities, id))
		return true;
	for (size_t i = 0; i < sizeof(compile_entity_ids) / sizeof(compile_entity_ids[0]); i++)
		if ((entities & compile_entity_ids[i].bit) && compile_entity_ids[i].id == id &&
		    id != SLUICE_ID_ANY)
			return true;
	for (size_t i = 0; (entities & SLUICE_ENTITY_CLUSTER) &&
			   i < sizeof(compile_cluster_reserved) / sizeof(compile_cluster_reserved[0]); i++)
		if (compile_cluster_reserved[i] == id)
			return true;
	return false;
}

int sluice_cidr_ident_cmp(const void *a, const void *b)
{
	const struct sluice_cidr_ident *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	return c ? c : x->prefixlen < y->prefixlen ? -1 : x->prefixlen > y->prefixlen;
}

static int compile_cidr_push(struct compile_state *st, size_t *cap, const struct sluice_cidr *c)
{
	struct sluice_cidr_ident *ci;

	if (compile_cidr_is_world(c))
		return 0; /* the world identity itself */
	if (st->ncidrs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *v = realloc(st->cidrs, ncap * sizeof(*st->cidrs));

		if (!v)
			return -ENOMEM;
		st->cidrs = v;
		*cap = ncap;
	}
	ci = &st->cidrs[st->ncidrs++];
	memset(ci, 0, sizeof(*ci));
	memcpy(ci->addr, c->addr, 16);
	ci->prefixlen = c->prefixlen;
	return 0;
}

/* The API servers outside the cluster: a /32 each, named or not by a
 * policy, so that the kube-apiserver entity has an identity to select. */
static int compile_apiservers_push(struct compile_state *st, size_t *cap,
				   const struct sluice_identity_table *idt)
{
	size_t n;
	const uint32_t *ips = sluice_idt_apiservers_external(idt, &n);
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		struct sluice_cidr c = { .prefixlen = 128 };

		compile_addr_v4(c.addr, ips[i]);
		rc = compile_cidr_push(st, cap, &c);
		if (!rc)
			st->cidrs[st->ncidrs - 1].flags = SLUICE_CIDR_F_APISERVER;
	}
	return rc;
}

/* "cidr:10.0.0.0/8,reserved:world"; IPv6 as Cilium writes it, ':' -> '-';
 * an API server outside the cluster adds reserved:kube-apiserver */
int compile_cidr_labels(const struct sluice_cidr_ident *ci, struct sluice_labels *out)
{
	static const uint8_t v4[12] = { [10] = 0xff, [11] = 0xff };
	char addr[INET6_ADDRSTRLEN], key[INET6_ADDRSTRLEN + 8];
	bool is4 = ci->prefixlen >= 96 && !memcmp(ci->addr, v4, 12);
	int rc;

	if (is4) {
		/* by hand: a policy of 25,000 new prefixes formats 25,000 of
		 * these, and inet_ntop + snprintf were a fifth of its compile */
		char *p = key;

		for (int i = 0; i < 5; i++) {
			unsigned v = i < 4 ? ci->addr[12 + i] : ci->prefixlen - 96u;

			if (i)
				*p++ = i < 4 ? '.' : '/';
			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
		}
		*p = '\0';
	} else {
		if (!inet_ntop(AF_INET6, ci->addr, addr, sizeof(addr)))
			return -EINVAL;
		snprintf(key, sizeof(key), "%s/%u", addr, ci->prefixlen);
	}
	for (char *p = key; *p; p++)
		if (*p == ':')
			*p = '-';
	{
		/* in the set's order: cidr < reserved, kube-apiserver < world */
		const char *const all[3][3] = {
			{ "cidr", key, "" }, { "reserved", "kube-apiserver", "" }, { "reserved", "world", "" },
		};
		const char *const plain[2][3] = { { "cidr", key, "" }, { "reserved", "world", "" } };

		sluice_labels_free(out);
		rc = (ci->flags & SLUICE_CIDR_F_APISERVER) ? labels_build_sorted(out, all, 3)
							   : labels_build_sorted(out, plain, 2);
	}
	return rc;
}

/*
 * Every prefix a policy names (peers and excepts, all sections) gets a
 * CIDR identity in the table, the ones no longer named are released.
 */
int compile_cidr_identities(struct compile_state *st, struct sluice_identity_table *idt)
{
	uint32_t *ids = NULL;
	size_t cap = 0, w = 0;
	int rc = 0;

	for (size_t pi = 0; pi < st->set->n && !rc; pi++) {
		const struct sluice_policy *p = &st->set->v[pi];

		for (size_t ri = 0; ri < p->nrules && !rc; ri++) {
			const struct sluice_rule *r = &p->rules[ri];
			const struct sluice_peer_rule *lists[] = { r->ingress, r->egress,
								   r->ingress_deny, r->egress_deny };
			size_t counts[] = { r->ningress, r->negress, r->ningress_deny, r->negress_deny };

			for (size_t l = 0; l < 4 && !rc; l++)
				for (size_t j = 0; j < counts[l] && !rc; j++)
					for (size_t c = 0; c < lists[l][j].ncidrs && !rc; c++) {
						const struct sluice_cidr *cidr = &lists[l][j].cidrs[c];

						rc = compile_cidr_push(st, &cap, cidr);
						for (size_t e = 0; e < cidr->nexcept && !rc; e++)
							rc = compile_cidr_push(st, &cap, &cidr->except[e]);
					}
		}
	}
	if (!rc)
		rc = compile_apiservers_push(st, &cap, idt);
	if (!rc && st->ncidrs) {
		compile_sort(st->cidrs, st->ncidrs, sizeof(*st->cidrs), sluice_cidr_ident_cmp);
		for (size_t i = 1; i < st->ncidrs; i++) {
			if (sluice_cidr_ident_cmp(&st->cidrs[i], &st->cidrs[w]))
				st->cidrs[++w] = st->cidrs[i];
			else /* a policy names an API server's /32 too: one identity */
				st->cidrs[w].flags |= st->cidrs[i].flags;
		}
		st->ncidrs = w + 1;
		ids = calloc(st->ncidrs, sizeof(*ids));
		rc = ids ? 0 : -ENOMEM;
	}
	if (!rc)
		rc = idt_cidr_sync(idt, st->cidrs, st->ncidrs, ids, compile_cidr_labels);
	for (size_t i = 0; i < st->ncidrs && !rc; i++)
		st->cidrs[i].identity = ids[i];
	free(ids);
	return rc;
}

bool compile_selector_may_pick_cidr(const struct sluice_selector *s)
{
	for (size_t i = 0; i < s->nreqs; i++)
		if (!strcmp(s->reqs[i].key, "world") || strchr(s->reqs[i].key, '/') ||
		    !strcmp(s->reqs[i].source, "cidr"))
			return true;
	return false;
}

/*
 * CIDR identities carry the labels cidr:<prefix> and reserved:world. Only a
 * selector with a requirement on such a key can pick one through the
 * label index; without one, they are left out of the index lists (with
 * tens of thousands of prefixes that is most of the index's cost) and
 * still checked by selectors without an In or Exists requirement.
 */
bool compile_index_cidrs(const struct sluice_policy_set *set)
{
	for (size_t pi = 0; pi < set->n; pi++)
		for (size_t ri = 0; ri < set->v[pi].nrules; ri++) {
			const struct sluice_rule *r = &set->v[pi].rules[ri];

			if (compile_selector_may_pick_cidr(&r->subject))
				return true;
			for (enum sluice_section sec = 0; sec < SLUICE_SECTION_COUNT; sec++) {
				size_t n;
				const struct sluice_peer_rule *v = rule_section(r, sec, &n);

				for (size_t j = 0; j < n; j++)
					for (size_t k = 0; k < v[j].nendpoints; k++)
						if (compile_selector_may_pick_cidr(&v[j].endpoints[k]))
							return true;
			}
		}
	return false;
}
