/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compile.h - what the files of the policy compiler share; not part of the
 * public interface (sluice_policy_compile() and sluice_policy_compile_edit()
 * in include/sluice/policy_api.h).
 *
 * The compiler, one concept per file:
 *   compile.c        the driver: set-up, per endpoint and direction, the
 *                    public entry points and the L7 lookup
 *   compile_index.c  the identity index (identities by label) and selectors
 *   compile_peers.c  the identities a peer rule names: selectors, entities,
 *                    CIDRs, and the CIDR identities of the policy set
 *   compile_ports.c  port keys: ports, ranges and named ports as trie keys
 *   compile_emit.c   contributions per (peer, key), precedence, emitting
 *                    the trie entries and L7 entries
 *   compile_edit.c   the incremental path after one list item changed
 */
#ifndef SLUICE_POLICY_COMPILE_H
#define SLUICE_POLICY_COMPILE_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "hash.h"
#include "compile_ports.h"

/* ---- small vectors (compile_index.c) --------------------------------- */

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

int u32vec_push(struct u32vec *a, uint32_t x);

/* pointers (port rules, names), in the order pushed */
struct ptrvec {
	const void **v;
	size_t n, cap;
};

/* pushes p unless it is there already (these lists stay short) */
int ptrvec_push_unique(struct ptrvec *a, const void *p);
int compile_u32_cmp(const void *a, const void *b);
void u32vec_sort_unique(struct u32vec *a);

/* ---- identity index (compile_index.c) -------------------------------- */

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

int compile_index_init(struct compile_index *x, size_t cap);
int compile_index_add(struct compile_index *x, uint32_t id, const struct sluice_labels *labels);
void compile_index_free(struct compile_index *x);
/* The identities of x that s selects, appended to out (ascending). */
int compile_select(const struct compile_index *x, const struct sluice_selector *s,
		   struct u32vec *out);

/* ---- per-compile state (compile.c) ----------------------------------- */

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
	/* the rule being compiled says enableDefaultDeny: false for the
	 * direction: its http rules allow every request (compile_contribute()) */
	bool l7_open;
	struct compile_ep_rules *ep_rules;
};

int compile_http_ordinals(struct compile_state *st);
int compile_setup_endpoints(struct compile_state *st);
int compile_subjects(struct compile_state *st);
/* qsort(), after one pass that finds the array already in order (as a
 * policy listing its prefixes in order makes them: 25,000 of them sorted
 * again cost more than that pass) */
void compile_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
/* An endpoint's policy is more than its trie holds: says so, naming the
 * pod when the caller gave its name; -E2BIG. */
int compile_too_big(struct sluice_diags *errors, const struct sluice_compile_endpoint *ep, size_t n);
void compile_state_free(struct compile_state *st);
int compile_entry_cmp(const void *a, const void *b);
int compile_l7_cmp(const void *a, const void *b);

/* ---- peers (compile_peers.c) ----------------------------------------- */

/* the 16-byte form's first (i 0) or second (i 1) half, as a number whose
 * high bit is the half's first bit */
static inline uint64_t compile_addr_half(const uint8_t *a, int i)
{
	uint64_t v;

	memcpy(&v, a + 8 * i, sizeof(v));
	return be64toh(v);
}

/* an IPv4 address (host order) in the 16-byte form (IPv4-mapped) */
static inline void compile_addr_v4(uint8_t out[16], uint32_t ip)
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	out[12] = (uint8_t)(ip >> 24);
	out[13] = (uint8_t)(ip >> 16);
	out[14] = (uint8_t)(ip >> 8);
	out[15] = (uint8_t)ip;
}

/* The identities a peer rule names (sorted; ANY alone when it covers all). */
int compile_peer_ids(struct compile_state *st, const struct sluice_peer_rule *pr,
		     const struct sluice_compile_endpoint *subject, struct u32vec *out);
/* reserved identities the entities name (as compile_peer_ids() does) */
bool compile_edit_entity_names(const struct sluice_identity_table *idt, uint32_t entities,
			       uint32_t id);
bool compile_entity_label_names(const struct sluice_identity_table *idt, uint32_t entities,
				uint32_t id);
/* addr/plen lies inside net/net_plen (both in the 16-byte form) */
bool compile_prefix_inside(const uint8_t *net, unsigned int net_plen, const uint8_t *addr,
			   unsigned int plen);
/* 0.0.0.0/0 or ::/0: the whole (IPv4 or IPv6) world */
bool compile_cidr_is_world(const struct sluice_cidr *c);
bool compile_cidr_selects(const struct sluice_cidr *c, const uint8_t *addr, unsigned int plen);
/* "cidr:10.0.0.0/8,reserved:world"; IPv6 as Cilium writes it, ':' -> '-' */
int compile_cidr_labels(const struct sluice_cidr_ident *ci, struct sluice_labels *out);
int compile_cidr_identities(struct compile_state *st, struct sluice_identity_table *idt);
bool compile_selector_may_pick_cidr(const struct sluice_selector *s);
bool compile_index_cidrs(const struct sluice_policy_set *set);

/* ---- trie keys: compile_ports.h ------------------------------------ */

/* ---- the per-direction map, precedence, emit (compile_emit.c) -------- */

struct centry {
	uint64_t key;
	bool deny, allow, allow_l4, http;
	const struct sluice_port_rule *tls; /* the first contribution with TLS fields */
	struct ptrvec tlsv;            /* every contribution with TLS fields */
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

struct compile_out {
	struct sluice_policy_map_entry *entries;
	size_t nentries, capentries;
	struct sluice_l7_policy *l7;
	size_t nl7, capl7;
};

struct centry *cmap_get(const struct cmap *m, uint64_t key);
struct centry *cmap_upsert(struct cmap *m, uint64_t key);
void cmap_free(struct cmap *m);
/* One peer rule's contributions (for the peers given, or for those it
 * names) to the map of one direction. */
int compile_peer_rule_for(struct compile_state *st, struct cmap *m, size_t ep_index,
			  const struct sluice_peer_rule *prl, bool ingress, bool deny,
			  uint32_t ref, const struct u32vec *peers, struct compile_keys *keys);
int compile_peer_rule(struct compile_state *st, struct cmap *m, size_t ep_index,
		      const struct sluice_peer_rule *prl, bool ingress, bool deny,
		      uint32_t ref, struct u32vec *peers, struct compile_keys *keys);
/* Resolves precedence in m and appends the entries of direction dir. */
int compile_emit(struct compile_state *st, const struct sluice_compile_endpoint *ep,
		 uint8_t dir, struct cmap *m, struct compile_out *out);

/* ---- one endpoint, one direction (compile.c) ------------------------- */

/* The peers of one item: compile_peer_ids(), or for an edit only those it
 * recompiles (compile_edit_peers()). */
struct compile_peers_fn {
	int (*fn)(struct compile_state *st, const struct sluice_peer_rule *pr,
		  const struct sluice_compile_endpoint *subject, struct u32vec *out,
		  const void *ctx);
	const void *ctx;
	/* the items to ask, sorted (compile_item_ref_cmp); NULL: every item */
	const struct compile_item_ref *cand;
	size_t ncand;
};

/* ---- the edit path's item index (compile_items.c) -------------------- */

/* one item of a set: set->v[policy].rules[rule], section, index */
struct compile_item_ref {
	uint32_t policy, rule, index;
	uint8_t section;
};

int compile_item_ref_cmp(const void *a, const void *b);
/* first position of the sorted v[0, n) not before r */
size_t compile_item_refs_lower_bound(const struct compile_item_ref *v, size_t n,
				     const struct compile_item_ref *r);
/* NULL on allocation failure */
struct sluice_item_index *compile_items_build(const struct sluice_policy_set *set);
/* the item at r changed from old_item to new_item; -ENOMEM leaves the
 * index unusable (free it) */
int compile_items_update(struct sluice_item_index *x, const struct compile_item_ref *r,
			 const struct sluice_peer_rule *old_item, const struct sluice_peer_rule *new_item);
/* The items that may select one of ids (CIDR identities by prefix; the
 * others match only always-asked items), and also (when not NULL), sorted
 * and unique, into a malloc'd *out. */
int compile_items_candidates(const struct sluice_item_index *x, const struct sluice_cidr_ident *ids,
			     size_t n, const struct compile_item_ref *also,
			     struct compile_item_ref **out, size_t *nout);
void compile_items_free(struct sluice_item_index *x);


/* only: NULL for every peer (the whole compile) */
int compile_direction_with(struct compile_state *st, size_t ep_index, bool ingress,
			   struct compile_out *out, uint32_t *flags,
			   const struct compile_peers_fn *only);

#endif /* SLUICE_POLICY_COMPILE_H */
