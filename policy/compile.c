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
 *      resolved (the long comment above compile_resolve()).
 */
#include "internal.h"
#include "hash.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small vectors ---------------------------------------------------- */

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

static int u32vec_push(struct u32vec *a, uint32_t x)
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

static int compile_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void u32vec_sort_unique(struct u32vec *a)
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

/* ---- identity index ----------------------------------------------------- */

/*
 * Identities by label: "key" and "key\x1fvalue" map to a list of positions
 * in ids[]. Sources are not part of the index key (a requirement with
 * source "any" must find every source); candidates are verified with
 * sluice_selector_matches() anyway.
 */
struct compile_index {
	uint32_t *ids;
	const struct sluice_labels **labels;
	size_t n;
	struct strmap by_key, by_kv; /* -> position in lists */
	struct u32vec *lists;        /* positions into ids[] */
	size_t nlists, caplists;
};

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

static int compile_index_add(struct compile_index *x, uint32_t id,
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

static void compile_index_free(struct compile_index *x)
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

static int compile_index_init(struct compile_index *x, size_t cap)
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
static int compile_select(const struct compile_index *x, const struct sluice_selector *s,
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

/* ---- per-compile state ------------------------------------------------ */

struct compile_rule_ref {
	uint32_t policy; /* index in the set */
	uint32_t rule;
};

struct compile_ep_rules {
	struct compile_rule_ref *v;
	size_t n, cap;
};

struct compile_state {
	const struct sluice_policy_set *set;
	const struct sluice_identity_table *idt;
	const struct sluice_compile_endpoint *eps;
	size_t neps;
	struct compile_index all;   /* every identity */
	struct compile_index local; /* identities of the endpoints given */
	struct u64map ep_by_identity; /* identity -> first endpoint index */
	size_t *ep_next;              /* next endpoint with the same identity */
	struct u64map peer_cache;     /* selector pointer -> index in peer_sets */
	struct u32vec *peer_sets;
	size_t npeer_sets, cappeer_sets;
	struct u32vec cluster;        /* identities of the "cluster" entity */
	bool cluster_done;
	struct u32vec pod_ids;        /* identities of every endpoint, peer_only too */
	struct sluice_cidr_ident *cidrs; /* CIDR identities, sorted */
	size_t ncidrs;
	struct u64map cidr_cache;     /* struct sluice_cidr pointer -> index in peer_sets */
	struct u64map http_base;      /* port rule pointer -> first ordinal */
	bool http_done;               /* built on the first http rule met */
	const struct sluice_http_rule **http; /* by ordinal */
	size_t nhttp;
	struct compile_ep_rules *ep_rules;
};

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

/* addr/plen lies inside net/net_plen (both in the 16-byte form) */
static bool compile_prefix_inside(const uint8_t *net, unsigned int net_plen,
				  const uint8_t *addr, unsigned int plen)
{
	unsigned int full = net_plen / 8, rest = net_plen % 8;

	if (plen < net_plen || memcmp(net, addr, full))
		return false;
	return !rest || !((net[full] ^ addr[full]) & (uint8_t)(0xffu << (8 - rest)));
}

/* 0.0.0.0/0 or ::/0: the whole (IPv4 or IPv6) world */
static bool compile_cidr_is_world(const struct sluice_cidr *c)
{
	static const uint8_t v4[12] = { [10] = 0xff, [11] = 0xff };

	return c->prefixlen == 0 || (c->prefixlen == 96 && !memcmp(c->addr, v4, 12));
}

static bool compile_cidr_selects(const struct sluice_cidr *c, const uint8_t *addr,
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

/* The identities a peer rule names (sorted; ANY alone when it covers all). */
static int compile_peer_ids(struct compile_state *st, const struct sluice_peer_rule *pr,
			    struct u32vec *out)
{
	int rc = 0;

	out->n = 0;
	if (!pr->has_l3)
		return u32vec_push(out, SLUICE_ID_ANY);
	for (size_t i = 0; i < pr->nendpoints && !rc; i++) {
		const struct u32vec *ids;

		rc = compile_selector_ids(st, &pr->endpoints[i], &ids);
		for (size_t j = 0; !rc && j < ids->n; j++)
			rc = u32vec_push(out, ids->v[j]);
	}
	for (size_t i = 0; i < sizeof(compile_entity_ids) / sizeof(compile_entity_ids[0]) && !rc; i++)
		if (pr->entities & compile_entity_ids[i].bit)
			rc = u32vec_push(out, compile_entity_ids[i].id);
	/* world is every address outside the cluster: CIDR identities too */
	for (size_t i = 0; (pr->entities & SLUICE_ENTITY_WORLD) && i < st->ncidrs && !rc; i++)
		rc = u32vec_push(out, st->cidrs[i].identity);
	if (!rc && (pr->entities & SLUICE_ENTITY_CLUSTER)) {
		rc = compile_cluster_ids(st);
		for (size_t j = 0; !rc && j < st->cluster.n; j++)
			rc = u32vec_push(out, st->cluster.v[j]);
	}
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

/* ---- trie keys -------------------------------------------------------- */

#define KEY_PACK(id, proto, plen, port) \
	(((uint64_t)(id) << 32) | ((uint64_t)(proto) << 24) | ((uint64_t)(plen) << 16) | (uint64_t)(port))
#define KEY_ID(k)    ((uint32_t)((k) >> 32))
#define KEY_PROTO(k) ((uint8_t)((k) >> 24))
#define KEY_PLEN(k)  ((uint8_t)((k) >> 16))
#define KEY_PORT(k)  ((uint16_t)(k))

/* port with only the first (plen - 48) bits kept */
static uint16_t compile_port_mask(uint16_t port, unsigned int plen)
{
	unsigned int bits = plen > 48 ? plen - 48 : 0;

	return bits >= 16 ? port : (uint16_t)(bits ? port & (0xffffu << (16 - bits)) : 0);
}

/* last port of the block of key k */
static uint16_t compile_block_end(uint64_t k)
{
	unsigned int plen = KEY_PLEN(k);

	if (plen <= 48)
		return 65535;
	return (uint16_t)(KEY_PORT(k) | (0xffffu >> (plen - 48)));
}

struct compile_keys {
	uint64_t *v; /* packed with id 0 */
	size_t n, cap;
};

static int compile_keys_push(struct compile_keys *k, uint8_t proto, uint8_t plen, uint16_t port)
{
	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 16;
		uint64_t *v = realloc(k->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = ncap;
	}
	k->v[k->n++] = KEY_PACK(0, proto, plen, port);
	return 0;
}

/* [lo, hi] as aligned power-of-two blocks, largest first */
static int compile_range_keys(struct compile_keys *k, uint8_t proto, uint32_t lo, uint32_t hi)
{
	int rc = 0;

	while (lo <= hi && !rc) {
		unsigned int bits = 0;

		while (bits < 16 && !(lo & ((1u << (bits + 1)) - 1)) &&
		       lo + (1u << (bits + 1)) - 1 <= hi)
			bits++;
		rc = compile_keys_push(k, proto, (uint8_t)(64 - bits), (uint16_t)lo);
		lo += 1u << bits;
	}
	return rc;
}

/*
 * Keys for one port (number, range or resolved name) and protocol. ANY is
 * TCP, UDP and SCTP, except with L7 rules: HTTP only runs over TCP.
 */
static int compile_port_keys(struct compile_keys *k, uint8_t protocol, uint16_t port,
			     uint16_t end, bool l7)
{
	static const uint8_t any[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
	int rc = 0;

	if (protocol == 0 && port == 0 && !l7)
		return compile_keys_push(k, 0, SLUICE_POLICY_PREFIX_L3, 0);
	for (size_t i = 0; i < 3 && !rc; i++) {
		uint8_t proto = protocol ? protocol : any[i];

		if (protocol && i > 0)
			break;
		if (l7 && proto != IPPROTO_TCP)
			continue;
		if (port == 0)
			rc = compile_keys_push(k, proto, SLUICE_POLICY_PREFIX_PROTO, 0);
		else if (end > port)
			rc = compile_range_keys(k, proto, port, end);
		else
			rc = compile_keys_push(k, proto, SLUICE_POLICY_PREFIX_FULL, port);
	}
	return rc;
}

static const struct sluice_named_port *
compile_find_named(const struct sluice_compile_endpoint *ep, const char *name)
{
	for (size_t i = 0; i < ep->nnamed_ports; i++)
		if (ep->named_ports[i].name && !strcmp(ep->named_ports[i].name, name))
			return &ep->named_ports[i];
	return NULL;
}

/* ---- the per-direction map -------------------------------------------- */

struct centry {
	uint64_t key;
	bool deny, allow, allow_l4, http;
	uint32_t deny_ref, allow_ref; /* 1 + policy index, smallest wins */
	struct u32vec hord;            /* http rule ordinals contributed here */
};

struct cmap {
	struct u64map index; /* key -> position in v */
	struct centry *v;
	size_t n, cap;
	uint32_t deny_plens;  /* bit (plen - 40): prefix lengths with a deny */
	uint32_t allow_plens; /* ... with an allow */
	bool any_http;
};

static struct centry *cmap_get(const struct cmap *m, uint64_t key)
{
	size_t *pos = u64map_get(&m->index, key);

	return pos ? &m->v[*pos] : NULL;
}

static struct centry *cmap_upsert(struct cmap *m, uint64_t key)
{
	bool inserted;
	size_t *pos = u64map_upsert(&m->index, key, m->n, &inserted);

	if (!pos)
		return NULL;
	if (!inserted)
		return &m->v[*pos];
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct centry *v = realloc(m->v, ncap * sizeof(*v));

		if (!v)
			return NULL; /* the index now names a missing entry: fatal anyway */
		m->v = v;
		m->cap = ncap;
	}
	memset(&m->v[m->n], 0, sizeof(m->v[0]));
	m->v[m->n].key = key;
	return &m->v[m->n++];
}

static void cmap_free(struct cmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].hord.v);
	free(m->v);
	u64map_free(&m->index);
	memset(m, 0, sizeof(*m));
}

static void compile_ref(uint32_t *ref, uint32_t r)
{
	if (!*ref || r < *ref)
		*ref = r;
}

/* One contribution: peer id at key k (packed with id 0). */
static int compile_contribute(struct cmap *m, uint32_t id, uint64_t k, bool deny,
			      const struct sluice_port_rule *pr, uint32_t http_base,
			      uint32_t ref)
{
	struct centry *e = cmap_upsert(m, k | ((uint64_t)id << 32));
	bool l7 = pr && pr->nhttp;

	if (!e)
		return -ENOMEM;
	if (deny) {
		e->deny = true;
		m->deny_plens |= 1u << (KEY_PLEN(k) - 40);
		compile_ref(&e->deny_ref, ref);
		return 0;
	}
	e->allow = true;
	m->allow_plens |= 1u << (KEY_PLEN(k) - 40);
	compile_ref(&e->allow_ref, ref);
	if (!l7) {
		if (KEY_PLEN(k) >= SLUICE_POLICY_PREFIX_PROTO)
			e->allow_l4 = true;
		return 0;
	}
	e->http = true;
	m->any_http = true;
	for (size_t i = 0; i < pr->nhttp; i++)
		if (u32vec_push(&e->hord, http_base + (uint32_t)i))
			return -ENOMEM;
	return 0;
}

/* Keys of one port rule; named ports are resolved on named_from (the
 * endpoint itself for ingress, the destination pod for egress) and skipped
 * without it; with named_only, numeric ports are skipped. */
static int compile_rule_keys(const struct sluice_port_rule *pr,
			     const struct sluice_compile_endpoint *named_from, bool named_only,
			     struct compile_keys *k)
{
	bool l7 = pr && pr->nhttp;
	int rc = 0;

	if (!pr || !pr->nports)
		return compile_port_keys(k, 0, 0, 0, l7);
	for (size_t i = 0; i < pr->nports && !rc; i++) {
		const struct sluice_port *p = &pr->ports[i];

		if (p->name) {
			const struct sluice_named_port *np =
				named_from ? compile_find_named(named_from, p->name) : NULL;

			if (!np || (p->protocol && np->protocol && p->protocol != np->protocol))
				continue;
			rc = compile_port_keys(k, p->protocol ? p->protocol : np->protocol,
					       np->port, 0, l7);
		} else if (!named_only) {
			rc = compile_port_keys(k, p->protocol, p->port, p->end_port, l7);
		}
	}
	return rc;
}

static bool compile_rule_has_named(const struct sluice_port_rule *pr)
{
	for (size_t i = 0; pr && i < pr->nports; i++)
		if (pr->ports[i].name)
			return true;
	return false;
}

static int compile_http_ordinals(struct compile_state *st);

/* Adds one peer rule's contributions, for the peers given, to the map of
 * one direction. */
static int compile_peer_rule_for(struct compile_state *st, struct cmap *m, size_t ep_index,
				 const struct sluice_peer_rule *prl, bool ingress, bool deny,
				 uint32_t ref, const struct u32vec *peers, struct compile_keys *keys)
{
	const struct sluice_compile_endpoint *ep = &st->eps[ep_index];
	size_t nrules = prl->nto_ports ? prl->nto_ports : 1;
	int rc = 0;

	for (size_t r = 0; r < nrules && !rc; r++) {
		const struct sluice_port_rule *pr = prl->nto_ports ? &prl->to_ports[r] : NULL;
		size_t *base;
		uint32_t hb;

		if (pr && pr->nhttp && !st->http_done) {
			rc = compile_http_ordinals(st);
			st->http_done = true;
			if (rc)
				break;
		}
		base = pr ? u64map_get(&st->http_base, (uint64_t)(uintptr_t)pr) : NULL;
		hb = base ? (uint32_t)*base : 0;

		if (!ingress && compile_rule_has_named(pr)) {
			/*
			 * egress: numeric ports apply to the peers as given; a
			 * named port is each destination pod's own port of that
			 * name. Without a peer restriction (ANY) that is every
			 * pod that declares the name, at its port (upstream e2e
			 * "should allow egress access on one named port").
			 */
			keys->n = 0;
			rc = compile_rule_keys(pr, NULL, false, keys);
			for (size_t i = 0; i < peers->n && !rc; i++)
				for (size_t k = 0; k < keys->n && !rc; k++)
					rc = compile_contribute(m, peers->v[i], keys->v[k], deny, pr,
								hb, ref);
			for (size_t i = 0; i < peers->n && !rc; i++) {
				bool any = peers->v[i] == SLUICE_ID_ANY;
				size_t *first = any ? NULL : u64map_get(&st->ep_by_identity, peers->v[i]);
				size_t e = any ? 0 : first ? *first : SIZE_MAX;

				for (; !rc && (any ? e < st->neps : e != SIZE_MAX);
				     e = any ? e + 1 : st->ep_next[e]) {
					keys->n = 0;
					rc = compile_rule_keys(pr, &st->eps[e], true, keys);
					for (size_t k = 0; k < keys->n && !rc; k++)
						rc = compile_contribute(m, st->eps[e].identity,
									keys->v[k], deny, pr, hb, ref);
				}
			}
			continue;
		}
		keys->n = 0;
		rc = compile_rule_keys(pr, ingress ? ep : NULL, false, keys);
		for (size_t i = 0; i < peers->n && !rc; i++)
			for (size_t k = 0; k < keys->n && !rc; k++)
				rc = compile_contribute(m, peers->v[i], keys->v[k], deny, pr, hb, ref);
	}
	return rc;
}

/* Adds one peer rule's contributions to the map of one direction. */
static int compile_peer_rule(struct compile_state *st, struct cmap *m, size_t ep_index,
			     const struct sluice_peer_rule *prl, bool ingress, bool deny,
			     uint32_t ref, struct u32vec *peers, struct compile_keys *keys)
{
	int rc = compile_peer_ids(st, prl, peers);

	return rc ? rc : compile_peer_rule_for(st, m, ep_index, prl, ingress, deny, ref, peers, keys);
}

/* ---- precedence --------------------------------------------------------- */

/*
 * Iterates the keys of identity id that cover k (k itself included), from
 * the least specific, starting at *plen and only at the prefix lengths in
 * mask; NULL at the end.
 */
static struct centry *compile_cover_next(const struct cmap *m, uint64_t k, uint32_t id,
					 unsigned int *plen, uint32_t mask)
{
	uint8_t proto = KEY_PROTO(k);
	uint16_t port = KEY_PORT(k);
	unsigned int max = KEY_PLEN(k);

	for (; *plen <= max; (*plen)++) {
		unsigned int p = *plen;
		struct centry *e;

		if (!(mask & (1u << (p - 40))) || (p > 40 && p < 48))
			continue;
		e = cmap_get(m, p == 40 ? KEY_PACK(id, 0, 40, 0)
				       : KEY_PACK(id, proto, p, compile_port_mask(port, p)));
		if (e) {
			(*plen)++;
			return e;
		}
	}
	return NULL;
}

/*
 * Why the entries look the way they do.
 *
 * The datapath makes two LPM lookups for a packet: one in the trie of the
 * peer's identity and one in the trie of SLUICE_ID_ANY, and combines them:
 * deny wins, then redirect, then allow; nothing found means default deny
 * (when the direction is enforced). The verdict we want for (peer X,
 * protocol, port) is Cilium's:
 *
 *   - denied if any deny rule covers it, for X or for any peer, however
 *     wide the deny and however narrow the allow;
 *   - otherwise allowed if an allow covers it, and redirected to the proxy
 *     if one of the allows covering it at port level carries http rules.
 *     The proxy then applies the union of the http rules of every allow
 *     covering the port for X or for any peer; an allow without http rules
 *     that names the port (a port, a range containing it or "all ports of
 *     TCP") makes it allow_all. An L3-only allow (no port) does not widen
 *     L7 rules: that was CVE-2023-30851, where an allow-all rule for one
 *     peer appended a wildcard http rule for every peer of the L7 rule.
 *
 * LPM only returns the most specific key, so the compiler writes each key
 * with the verdict it must have after considering the keys that cover it:
 *
 *   1. Inside one trie, a key covered by a less specific DENY is written as
 *      DENY (otherwise the more specific allow would hide the deny). Across
 *      the two tries the datapath's "deny wins" does this for us.
 *   2. A key covered (in its own trie or in ANY's) by a port-level key with
 *      http rules is written as REDIRECT, even if its own rules are plain
 *      L4 allows: otherwise LPM would pick the more specific plain allow
 *      and the flow would skip the proxy. Its L7 entry gets allow_all.
 *   3. A REDIRECT key gets the union of the http rules of every port-level
 *      allow covering it, in its own trie and in ANY's, and allow_all when
 *      one of those is a plain L4 allow.
 *   4. Cross-trie materialization: when X and ANY have overlapping
 *      port-level keys and one of them has http rules, X gets a key at the
 *      more specific of the two (if it is not already there), so that the
 *      most specific X key seen by the proxy carries the union of both.
 *      Example: ANY redirects port 80 with GET /, X allows ports 0-1023:
 *      the X trie gets (X, TCP, 80) REDIRECT with allow_all, and the proxy
 *      finds that entry for X instead of ANY's GET-only one.
 *
 * The proxy looks up the L7 entry of (endpoint, direction, protocol, port,
 * peer) with the most specific block containing the port, and falls back
 * to the one of SLUICE_ID_ANY. X keys that are L3-only (no port) never get
 * an L7 entry: for them ANY's entry applies, unwidened.
 */
static int compile_materialize(struct cmap *m)
{
	struct u32vec anyp = { 0 }; /* positions of ANY's port-level keys */
	size_t n = m->n;
	int rc = 0;

	if (!m->any_http)
		return 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct centry *e = &m->v[i];

		if (KEY_ID(e->key) == SLUICE_ID_ANY && KEY_PLEN(e->key) >= 48 && e->allow)
			rc = u32vec_push(&anyp, (uint32_t)i);
	}
	for (size_t i = 0; i < n && anyp.n && !rc; i++) {
		uint64_t k = m->v[i].key;
		uint32_t id = KEY_ID(k);

		if (id == SLUICE_ID_ANY || KEY_PLEN(k) < 48 || !m->v[i].allow)
			continue;
		for (size_t j = 0; j < anyp.n && !rc; j++) {
			const struct centry *a = &m->v[anyp.v[j]];
			uint64_t ak = a->key;
			unsigned int small;

			if (KEY_PROTO(ak) != KEY_PROTO(k) || !(a->http || m->v[i].http))
				continue;
			/* aligned blocks overlap only when one contains the other */
			small = KEY_PLEN(ak) < KEY_PLEN(k) ? KEY_PLEN(ak) : KEY_PLEN(k);
			if (compile_port_mask(KEY_PORT(ak), small) != compile_port_mask(KEY_PORT(k), small))
				continue;
			if (KEY_PLEN(ak) > KEY_PLEN(k)) {
				uint64_t nk = KEY_PACK(id, KEY_PROTO(ak), KEY_PLEN(ak), KEY_PORT(ak));

				if (!cmap_upsert(m, nk))
					rc = -ENOMEM;
			}
		}
	}
	free(anyp.v);
	return rc;
}

static uint8_t compile_match_kind(uint64_t k)
{
	bool any = KEY_ID(k) == SLUICE_ID_ANY, l3 = KEY_PLEN(k) == SLUICE_POLICY_PREFIX_L3;

	if (any)
		return l3 ? SLUICE_MATCH_ALL : SLUICE_MATCH_L4_ONLY;
	return l3 ? SLUICE_MATCH_L3_ONLY : SLUICE_MATCH_L3_L4;
}

struct compile_out {
	struct sluice_policy_map_entry *entries;
	size_t nentries, capentries;
	struct sluice_l7_policy *l7;
	size_t nl7, capl7;
};

static int compile_emit(struct compile_state *st, const struct sluice_compile_endpoint *ep,
			uint8_t dir, struct cmap *m, struct compile_out *out)
{
	struct u32vec hord = { 0 };
	int rc = compile_materialize(m);

	for (size_t i = 0; i < m->n && !rc; i++) {
		const struct centry *e = &m->v[i];
		uint64_t k = e->key;
		uint32_t id = KEY_ID(k);
		bool deny = e->deny, redirect = false, allow_all = false;
		uint32_t ref = e->deny ? e->deny_ref : e->allow_ref;
		struct sluice_policy_map_entry *me;
		const struct centry *c;
		unsigned int plen;

		/* 1: a less specific deny in the same trie */
		for (plen = 40; !deny && (c = compile_cover_next(m, k, id, &plen, m->deny_plens));) {
			if (c != e && c->deny) {
				deny = true;
				ref = c->deny_ref;
			}
		}
		hord.n = 0;
		if (!deny) {
			/* 2 and 3: port-level allows covering k, here and in ANY */
			for (int pass = 0; m->any_http && pass < (id == SLUICE_ID_ANY ? 1 : 2); pass++) {
				uint32_t cid = pass ? SLUICE_ID_ANY : id;

				for (plen = 48; (c = compile_cover_next(m, k, cid, &plen, m->allow_plens));) {
					if (!c->allow)
						continue;
					if (!ref)
						ref = c->allow_ref;
					redirect |= c->http;
					allow_all |= c->allow_l4;
					for (size_t h = 0; h < c->hord.n && !rc; h++)
						rc = u32vec_push(&hord, c->hord.v[h]);
				}
			}
			if (!e->allow && !redirect)
				continue; /* materialized, nothing to add */
		}
		if (out->nentries == out->capentries) {
			size_t ncap = out->capentries ? out->capentries * 2 : 64;
			void *v = realloc(out->entries, ncap * sizeof(*out->entries));

			if (!v) {
				rc = -ENOMEM;
				break;
			}
			out->entries = v;
			out->capentries = ncap;
		}
		me = &out->entries[out->nentries++];
		memset(me, 0, sizeof(*me));
		me->key.prefixlen = KEY_PLEN(k);
		me->key.identity_be = htonl(id);
		me->key.direction = dir;
		me->key.protocol = KEY_PROTO(k);
		me->key.dport_be = htons(KEY_PORT(k));
		me->value.flags = deny ? SLUICE_POL_F_DENY : redirect ? SLUICE_POL_F_REDIRECT : 0;
		me->value.match_kind = compile_match_kind(k);
		me->value.rule_ref = ref;
		if (deny || !redirect)
			continue;

		struct sluice_l7_policy *l7;

		if (out->nl7 == out->capl7) {
			size_t ncap = out->capl7 ? out->capl7 * 2 : 16;
			void *v = realloc(out->l7, ncap * sizeof(*out->l7));

			if (!v) {
				rc = -ENOMEM;
				break;
			}
			out->l7 = v;
			out->capl7 = ncap;
		}
		l7 = &out->l7[out->nl7++];
		memset(l7, 0, sizeof(*l7));
		l7->ep_id = ep->ep_id;
		l7->direction = dir;
		l7->protocol = KEY_PROTO(k);
		l7->port = KEY_PORT(k);
		l7->end_port = KEY_PLEN(k) == 64 ? KEY_PORT(k) : compile_block_end(k);
		l7->peer_identity = id;
		l7->allow_all = allow_all;
		u32vec_sort_unique(&hord);
		if (hord.n) {
			l7->rules = calloc(hord.n, sizeof(*l7->rules));
			if (!l7->rules) {
				rc = -ENOMEM;
				break;
			}
			for (size_t h = 0; h < hord.n; h++)
				l7->rules[h] = st->http[hord.v[h]];
			l7->nrules = hord.n;
		}
	}
	free(hord.v);
	return rc;
}

/* ---- one endpoint ----------------------------------------------------- */

/* The peers of one item: compile_peer_ids(), or for an edit only those it
 * recompiles (compile_edit_peers()). */
struct compile_peers_fn {
	int (*fn)(struct compile_state *st, const struct sluice_peer_rule *pr, struct u32vec *out,
		  const void *ctx);
	const void *ctx;
};

static int compile_direction_with(struct compile_state *st, size_t ep_index, bool ingress,
				  struct compile_out *out, uint32_t *flags,
				  const struct compile_peers_fn *only);

static int compile_direction(struct compile_state *st, size_t ep_index, bool ingress,
			     struct compile_out *out, uint32_t *flags)
{
	return compile_direction_with(st, ep_index, ingress, out, flags, NULL);
}

static int compile_direction_with(struct compile_state *st, size_t ep_index, bool ingress,
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
		uint32_t ref = er->v[i].policy + 1;

		if (!has)
			continue;
		enabled = true;
		if (dd != SLUICE_FALSE)
			default_deny = true;
		for (size_t j = 0; j < nallow + ndeny && !rc; j++) {
			const struct sluice_peer_rule *item = j < nallow ? &allow[j] : &deny[j - nallow];

			if (!only) {
				rc = compile_peer_rule(st, &m, ep_index, item, ingress, j >= nallow, ref,
						       &peers, &keys);
				continue;
			}
			rc = only->fn(st, item, &peers, only->ctx);
			if (!rc && peers.n)
				rc = compile_peer_rule_for(st, &m, ep_index, item, ingress, j >= nallow,
							   ref, &peers, &keys);
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

static int compile_entry_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct sluice_policy_map_entry *)a)->key,
		      &((const struct sluice_policy_map_entry *)b)->key,
		      sizeof(struct sluice_policy_key));
}

static int compile_l7_cmp(const void *a, const void *b)
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
		qsort(o.entries, o.nentries, sizeof(*o.entries), compile_entry_cmp);
	if (o.nl7)
		qsort(o.l7, o.nl7, sizeof(*o.l7), compile_l7_cmp);
	out->entries = o.entries;
	out->nentries = o.nentries;
	out->l7 = o.l7;
	out->nl7 = o.nl7;
	return rc;
}

/* ---- setup ------------------------------------------------------------ */

static int compile_http_ordinals(struct compile_state *st)
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

/* "cidr:10.0.0.0/8,reserved:world"; IPv6 as Cilium writes it, ':' -> '-' */
static int compile_cidr_labels(const struct sluice_cidr_ident *ci, struct sluice_labels *out)
{
	static const uint8_t v4[12] = { [10] = 0xff, [11] = 0xff };
	char addr[INET6_ADDRSTRLEN], key[INET6_ADDRSTRLEN + 8];
	bool is4 = ci->prefixlen >= 96 && !memcmp(ci->addr, v4, 12);
	int rc;

	if (!inet_ntop(is4 ? AF_INET : AF_INET6, is4 ? ci->addr + 12 : ci->addr, addr, sizeof(addr)))
		return -EINVAL;
	snprintf(key, sizeof(key), "%s/%u", addr, is4 ? ci->prefixlen - 96u : ci->prefixlen);
	for (char *p = key; *p; p++)
		if (*p == ':')
			*p = '-';
	rc = sluice_labels_add(out, "cidr", key, "");
	if (!rc)
		rc = sluice_labels_add(out, "reserved", "world", "");
	return rc;
}

/*
 * Every prefix a policy names (peers and excepts, all sections) gets a
 * CIDR identity in the table, the ones no longer named are released.
 */
static int compile_cidr_identities(struct compile_state *st, struct sluice_identity_table *idt)
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
	if (!rc && st->ncidrs) {
		qsort(st->cidrs, st->ncidrs, sizeof(*st->cidrs), sluice_cidr_ident_cmp);
		for (size_t i = 1; i < st->ncidrs; i++)
			if (sluice_cidr_ident_cmp(&st->cidrs[i], &st->cidrs[w]))
				st->cidrs[++w] = st->cidrs[i];
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

static bool compile_selector_may_pick_cidr(const struct sluice_selector *s)
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
static bool compile_index_cidrs(const struct sluice_policy_set *set)
{
	for (size_t pi = 0; pi < set->n; pi++)
		for (size_t ri = 0; ri < set->v[pi].nrules; ri++) {
			const struct sluice_rule *r = &set->v[pi].rules[ri];

			if (compile_selector_may_pick_cidr(&r->subject))
				return true;
			for (int sec = 0; sec < 4; sec++) {
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

/* What the endpoints given need: by identity, the local index, the http
 * ordinals. */
static int compile_setup_endpoints(struct compile_state *st)
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

/* Gives every endpoint the list of rules whose subject selects it. */
static int compile_subjects(struct compile_state *st)
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

static void compile_state_free(struct compile_state *st)
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
		if (!rc && e->nentries > SLUICE_POLICY_INNER_MAX) {
			sluice_diags_add(errors, "endpoint %u: %zu policy entries exceed the map size %u",
					 e->ep_id, e->nentries, SLUICE_POLICY_INNER_MAX);
			rc = -E2BIG;
		}
	}
	if (!rc) {
		res.cidrs = st.cidrs;
		res.ncidrs = st.ncidrs;
		st.cidrs = NULL;
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
 * label selectors (not the wildcard), no entities, no http rules. */
static bool compile_edit_item_ok(const struct sluice_peer_rule *it)
{
	if (!it->has_l3 || it->entities || it->cidrs_select_pods || (!it->ncidrs && !it->nendpoints))
		return false;
	for (size_t i = 0; i < it->ncidrs; i++)
		if (it->cidrs[i].nexcept || compile_cidr_is_world(&it->cidrs[i]))
			return false;
	for (size_t i = 0; i < it->nendpoints; i++)
		if (sluice_selector_is_wildcard(&it->endpoints[i]))
			return false;
	for (size_t i = 0; i < it->nto_ports; i++)
		if (it->to_ports[i].has_http || it->to_ports[i].nhttp)
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

/* reserved identities the entities name (as compile_peer_ids() does) */
static bool compile_edit_entity_names(uint32_t entities, uint32_t id)
{
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

/* The recompiled identities an item names, or ANY (see compile_peer_ids()). */
static int compile_edit_peers(struct compile_state *st, const struct sluice_peer_rule *pr,
			      struct u32vec *out, const void *ctx)
{
	const struct compile_edit_ctx *c = ctx;
	int rc = 0;

	out->n = 0;
	if (!pr->has_l3 || (pr->entities & SLUICE_ENTITY_ALL))
		return u32vec_push(out, SLUICE_ID_ANY);
	for (size_t k = 0; k < pr->nendpoints; k++)
		if (sluice_selector_is_wildcard(&pr->endpoints[k]))
			return u32vec_push(out, SLUICE_ID_ANY); /* ANY covers the others */
	for (size_t i = 0; i < c->n && !rc; i++) {
		const struct sluice_cidr_ident *x = &c->ids[i];
		const struct sluice_labels *l = c->labels[i];
		bool cidr_id = x->prefixlen != EDIT_NOT_CIDR, sel;

		sel = cidr_id ? (pr->entities & SLUICE_ENTITY_WORLD) != 0
			      : compile_edit_entity_names(pr->entities, x->identity);
		if (!sel && !cidr_id && (pr->entities & SLUICE_ENTITY_CLUSTER) && l)
			sel = sluice_selector_matches(&c->cluster, l);
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
	return s->n && bsearch(&id, s->v, s->n, sizeof(*s->v), compile_u32_cmp);
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

/* ep's previous result with the entries (and L7 entries) of the identities
 * in ids, direction dir (both when dir is 0xff), replaced by o's */
static int compile_edit_merge(const struct sluice_ep_compiled *prev, uint8_t dir,
			      const struct compile_idset *ids,
			      struct compile_out *o, struct sluice_ep_compiled *out)
{
	size_t ne = 0, nl = 0;

	out->ep_id = prev->ep_id;
	out->flags = prev->flags;
	out->entries = calloc(prev->nentries + o->nentries + 1, sizeof(*out->entries));
	out->l7 = calloc(prev->nl7 + o->nl7 + 1, sizeof(*out->l7));
	if (!out->entries || !out->l7)
		return -ENOMEM;
	/* both sides are sorted: one merge, the recompiled identities' old
	 * entries left out */
	if (o->nentries)
		qsort(o->entries, o->nentries, sizeof(*o->entries), compile_entry_cmp);
	for (size_t i = 0, j = 0; i < prev->nentries || j < o->nentries;) {
		const struct sluice_policy_map_entry *e;

		if (j == o->nentries ||
		    (i < prev->nentries && compile_entry_cmp(&prev->entries[i], &o->entries[j]) < 0)) {
			e = &prev->entries[i++];
			if ((dir == 0xff || e->key.direction == dir) &&
			    compile_idset_has(ids, ntohl(e->key.identity_be)))
				continue;
		} else {
			e = &o->entries[j++];
			if (!compile_idset_has(ids, ntohl(e->key.identity_be)))
				continue;
		}
		out->entries[ne++] = *e;
	}
	for (size_t i = 0; i < prev->nl7; i++) {
		const struct sluice_l7_policy *l = &prev->l7[i];

		if ((dir == 0xff || l->direction == dir) && compile_idset_has(ids, l->peer_identity))
			continue;
		out->l7[nl] = *l;
		out->l7[nl].rules = NULL;
		if (l->nrules) {
			out->l7[nl].rules = calloc(l->nrules, sizeof(*l->rules));
			if (!out->l7[nl].rules)
				return -ENOMEM;
			memcpy(out->l7[nl].rules, l->rules, l->nrules * sizeof(*l->rules));
		}
		nl++;
	}
	for (size_t i = 0; i < o->nl7; i++) {
		if (!compile_idset_has(ids, o->l7[i].peer_identity))
			continue;
		out->l7[nl++] = o->l7[i]; /* takes its rules array */
		o->l7[i].rules = NULL;
	}
	out->nentries = ne;
	out->nl7 = nl;
	if (nl)
		qsort(out->l7, nl, sizeof(*out->l7), compile_l7_cmp);
	return 0;
}

static void compile_out_free(struct compile_out *o)
{
	for (size_t i = 0; i < o->nl7; i++)
		free(o->l7[i].rules);
	free(o->l7);
	free(o->entries);
	memset(o, 0, sizeof(*o));
}

int sluice_policy_compile_edit(const struct sluice_policy_set *set,
			       struct sluice_identity_table *idt,
			       const struct sluice_compile_endpoint *eps, size_t neps,
			       const struct sluice_compiled *prev, size_t pi, size_t ri, int section,
			       size_t index, const struct sluice_peer_rule *old_item,
			       struct sluice_compiled *out, struct sluice_diags *errors)
{
	struct sluice_cidr_ident changed[EDIT_MAX_PREFIXES], *ids = NULL;
	struct sluice_cidr_ident gone[EDIT_MAX_PREFIXES];
	size_t counts[EDIT_MAX_PREFIXES] = { 0 }, nchanged = 0, nids = 0, ngone = 0, nsel = 0, nlist, k;
	const struct sluice_peer_rule *new_item, *list;
	struct compile_state st = { .set = set, .idt = idt, .eps = eps, .neps = neps };
	const struct sluice_labels **labels = NULL;
	struct compile_edit_ctx ctx = { 0 };
	struct compile_idset idset = { 0 }, noids = { 0 };
	struct compile_peers_fn fn = { compile_edit_peers, &ctx };
	struct sluice_compiled res = { 0 };
	bool idset_changed = false;
	uint8_t dir = section == 0 || section == 2 ? SLUICE_DIR_INGRESS : SLUICE_DIR_EGRESS;
	int rc = 0;

	if (!set || !idt || !prev || !out || pi >= set->n || ri >= set->v[pi].nrules ||
	    section < 0 || section > 3)
		return 0;
	list = rule_section(&set->v[pi].rules[ri], section, &nlist);
	if (index >= nlist)
		return 0;
	new_item = &list[index];
	if (!compile_edit_item_ok(old_item) || !compile_edit_item_ok(new_item))
		return 0;
	/* the previous result must be for these endpoints, in this order */
	for (size_t i = 0; i < neps; i++)
		if (!eps[i].peer_only && (nchanged >= prev->neps || prev->eps[nchanged++].ep_id != eps[i].ep_id))
			return 0;
	if (nchanged != prev->neps)
		return 0;
	nchanged = 0;
	if (compile_edit_prefixes(old_item, changed, &nchanged, EDIT_MAX_PREFIXES) ||
	    compile_edit_prefixes(new_item, changed, &nchanged, EDIT_MAX_PREFIXES))
		return 0;
	ids = calloc(EDIT_MAX_IDS + EDIT_MAX_PREFIXES, sizeof(*ids));
	labels = calloc(EDIT_MAX_IDS + EDIT_MAX_PREFIXES, sizeof(*labels));
	if (!ids || !labels)
		goto declined;
	/* the pod (and reserved) identities the old and the new selectors pick;
	 * found before anything changes, so that declining leaves all as it was */
	for (int which = 0; which < 2; which++) {
		const struct sluice_peer_rule *it = which ? new_item : old_item;

		for (size_t e = 0; e < it->nendpoints; e++)
			if (compile_selector_may_pick_cidr(&it->endpoints[e]))
				goto declined;
	}
	for (size_t i = 0; i < sluice_idt_count(idt); i++) {
		uint32_t id = sluice_idt_at(idt, i);
		const struct sluice_labels *l;
		bool sel = false;

		if (id >= SLUICE_ID_LOCAL_MIN)
			break; /* ascending: CIDR identities last */
		l = sluice_idt_labels(idt, id);
		for (int which = 0; which < 2 && l && !sel; which++) {
			const struct sluice_peer_rule *it = which ? new_item : old_item;

			for (size_t e = 0; e < it->nendpoints && !sel; e++)
				sel = sluice_selector_matches(&it->endpoints[e], l);
		}
		if (!sel)
			continue;
		if (nsel == EDIT_MAX_IDS)
			goto declined;
		ids[nsel] = (struct sluice_cidr_ident){ .identity = id, .prefixlen = EDIT_NOT_CIDR };
		nsel++;
	}
	nids = nsel;

	/* how many CIDRs of the new set name each changed prefix exactly; when
	 * the item names the same prefixes as before (a port changed), all stay */
	{
		/* equal sets: the union is as large as each of them */
		struct sluice_cidr_ident tmp[EDIT_MAX_PREFIXES];
		size_t nold = 0, nnew = 0;

		compile_edit_prefixes(old_item, tmp, &nold, EDIT_MAX_PREFIXES);
		compile_edit_prefixes(new_item, tmp, &nnew, EDIT_MAX_PREFIXES);
		if (nold == nchanged && nnew == nchanged) {
			for (k = 0; k < nchanged; k++)
				counts[k] = 1;
			goto counted;
		}
	}
	for (size_t p = 0; p < set->n; p++)
		for (size_t r = 0; r < set->v[p].nrules; r++)
			for (int sec = 0; sec < 4; sec++) {
				const struct sluice_peer_rule *v = rule_section(&set->v[p].rules[r], sec, &nlist);

				for (size_t i = 0; i < nlist; i++)
					for (size_t c = 0; c < v[i].ncidrs; c++) {
						const struct sluice_cidr *cd = &v[i].cidrs[c];

						for (size_t x = 0; x <= cd->nexcept; x++) {
							const struct sluice_cidr *e = x ? &cd->except[x - 1] : cd;

							for (k = 0; k < nchanged; k++)
								if (e->prefixlen == changed[k].prefixlen &&
								    !memcmp(e->addr, changed[k].addr, 16))
									counts[k]++;
						}
					}
			}
counted:

	/* the new list of CIDR identities: prefixes named for the first time
	 * get one, prefixes no longer named lose theirs */
	res.cidrs = calloc(prev->ncidrs + nchanged + 1, sizeof(*res.cidrs));
	if (!res.cidrs) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(res.cidrs, prev->cidrs, prev->ncidrs * sizeof(*res.cidrs));
	res.ncidrs = prev->ncidrs;
	for (k = 0; k < nchanged && !rc; k++) {
		size_t at = compile_cidr_lower_bound(res.cidrs, res.ncidrs, &changed[k]);
		bool named = at < res.ncidrs && !sluice_cidr_ident_cmp(&res.cidrs[at], &changed[k]);

		if (named && !counts[k]) {
			gone[ngone++] = res.cidrs[at]; /* its entries go */
			memmove(&res.cidrs[at], &res.cidrs[at + 1], (res.ncidrs - at - 1) * sizeof(*res.cidrs));
			res.ncidrs--;
			idset_changed = true;
		} else if (!named && counts[k]) {
			changed[k].identity = idt_cidr_add(idt, &changed[k], compile_cidr_labels);
			if (!changed[k].identity)
				rc = -ENOSPC;
			memmove(&res.cidrs[at + 1], &res.cidrs[at], (res.ncidrs - at) * sizeof(*res.cidrs));
			res.cidrs[at] = changed[k];
			res.ncidrs++;
			idset_changed = true;
		}
	}
	if (rc)
		goto fail;
	for (size_t i = 0; i < ngone; i++)
		idt_cidr_drop(idt, gone[i].identity);
	/* the identities recompiled: every named prefix inside a changed one
	 * (a contiguous run of the sorted list, from the prefix's first address) */
	for (k = 0; k < nchanged; k++) {
		struct sluice_cidr_ident first = { .prefixlen = 0 };

		for (unsigned int b = 0; b < 16; b++) {
			unsigned int plen = changed[k].prefixlen, bits = plen >= (b + 1) * 8 ? 8
							: plen > b * 8 ? plen - b * 8 : 0;

			first.addr[b] = changed[k].addr[b] & (uint8_t)(bits ? 0xffu << (8 - bits) : 0);
		}
		for (size_t i = compile_cidr_lower_bound(res.cidrs, res.ncidrs, &first);
		     i < res.ncidrs && compile_prefix_inside(changed[k].addr, changed[k].prefixlen,
							     res.cidrs[i].addr, 128); i++) {
			if (!compile_prefix_inside(changed[k].addr, changed[k].prefixlen, res.cidrs[i].addr,
						   res.cidrs[i].prefixlen) ||
			    compile_edit_has_id(ids, nids, res.cidrs[i].identity))
				continue;
			if (nids - nsel == EDIT_MAX_PREFIXES) {
				rc = -E2BIG;
				goto fail;
			}
			ids[nids++] = res.cidrs[i];
		}
	}
	/* items are asked about the live ones; the entries of all go */
	ctx.ids = ids;
	ctx.labels = labels;
	ctx.n = nids;
	for (size_t i = 0; i < nids; i++)
		labels[i] = sluice_idt_labels(idt, ids[i].identity);
	memcpy(ids + nids, gone, ngone * sizeof(*gone));
	nids += ngone;
	idset.v = calloc(nids + 1, sizeof(*idset.v));
	if (!idset.v) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < nids; i++)
		idset.v[idset.n++] = ids[i].identity;
	qsort(idset.v, idset.n, sizeof(*idset.v), compile_u32_cmp);
	{
		const char *v = SLUICE_CLUSTER_NAME;

		if (selector_add_req(&ctx.cluster, "k8s", SLUICE_LABEL_CLUSTER, SLUICE_SEL_IN, &v, 1)) {
			rc = -ENOMEM;
			goto fail;
		}
	}

	st.cidrs = res.cidrs;
	st.ncidrs = res.ncidrs;
	rc = compile_setup_endpoints(&st);
	if (!rc)
		rc = compile_subjects(&st);
	if (!rc && !(res.eps = calloc(prev->neps + 1, sizeof(*res.eps))))
		rc = -ENOMEM;
	for (size_t i = 0, j = 0; i < neps && !rc; i++) {
		const struct sluice_compile_endpoint *ep = &eps[i];
		const struct compile_ep_rules *er = &st.ep_rules[i];
		struct compile_out o = { 0 };
		uint32_t flags = 0;
		bool touched = idset_changed;

		if (ep->peer_only)
			continue;
		for (size_t x = 0; x < er->n && !touched; x++)
			touched = er->v[x].policy == pi && er->v[x].rule == ri;
		if (touched && (idset_changed || dir == SLUICE_DIR_INGRESS))
			rc = compile_direction_with(&st, i, true, &o, &flags, &fn);
		if (!rc && touched && (idset_changed || dir == SLUICE_DIR_EGRESS))
			rc = compile_direction_with(&st, i, false, &o, &flags, &fn);
		if (!rc)
			rc = compile_edit_merge(&prev->eps[j], touched ? (idset_changed ? 0xff : dir) : 0,
						touched ? &idset : &noids, &o, &res.eps[j]);
		compile_out_free(&o);
		res.neps = ++j;
		if (!rc && res.eps[j - 1].nentries > SLUICE_POLICY_INNER_MAX) {
			sluice_diags_add(errors, "endpoint %u: %zu policy entries exceed the map size %u",
					 res.eps[j - 1].ep_id, res.eps[j - 1].nentries, SLUICE_POLICY_INNER_MAX);
			rc = -E2BIG;
		}
	}
	st.cidrs = NULL;
	compile_state_free(&st);
	if (rc)
		goto fail;
	selector_free(&ctx.cluster);
	free(idset.v);
	free(ids);
	free(labels);
	*out = res;
	return 1;
declined:
	free(ids);
	free(labels);
	return 0;
fail:
	st.cidrs = NULL;
	selector_free(&ctx.cluster);
	free(idset.v);
	free(ids);
	free(labels);
	if (rc != -E2BIG)
		sluice_diags_add(errors, "policy compile failed: %s", strerror(-rc));
	sluice_compiled_free(&res);
	return rc;
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
		for (size_t j = 0; j < e->nl7; j++)
			free(e->l7[j].rules);
		free(e->l7);
	}
	free(c->eps);
	c->eps = NULL;
	c->neps = 0;
	free(c->cidrs);
	c->cidrs = NULL;
	c->ncidrs = 0;
}
