/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_api.h - loading, validating and compiling policies.
 *
 * The loader is strict: an unknown field, a wrong type, a bad selector
 * operator, an invalid port or regex, a duplicate name are errors that name
 * "file:line: field: reason", e.g.
 *   "deny.yaml:12: spec.ingress[0].toPorts[0].ports[0].port: invalid port \"80a\"".
 * A load either succeeds whole or changes nothing.
 */
#ifndef SLUICE_POLICY_API_H
#define SLUICE_POLICY_API_H

#include "sluice/abi.h"
#include "sluice/identity.h"
#include "sluice/policy.h"

/* diags.c */
void sluice_diags_add(struct sluice_diags *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sluice_diags_free(struct sluice_diags *d);

/*
 * load.c: parses one file's text (one or more YAML documents) and appends
 * its policies to out. Returns 0, or -EINVAL with errors in diags and out
 * unchanged. Warnings (e.g. a policy that selects endpoints but has no
 * ingress or egress section and so denies nothing) go to warnings.
 */
int sluice_policy_load(const char *file, const char *text, size_t len,
		       struct sluice_policy_set *out, struct sluice_diags *errors,
		       struct sluice_diags *warnings);
/* Rejects two policies with the same kind, namespace and name. */
int sluice_policy_set_check(const struct sluice_policy_set *set,
			    struct sluice_diags *errors);
void sluice_policy_free(struct sluice_policy *p);
void sluice_policy_set_free(struct sluice_policy_set *s);
/* Moves policies of src into dst, replacing same kind/namespace/name (a
 * replacing policy without a ref_id takes the replaced one's). */
int sluice_policy_set_merge(struct sluice_policy_set *dst, struct sluice_policy_set *src);
/* The same, moving the policies src replaces into replaced (when not NULL)
 * instead of freeing them. */
int sluice_policy_set_replace(struct sluice_policy_set *dst, struct sluice_policy_set *src,
			      struct sluice_policy_set *replaced);
/* Moves one policy from s to the end of out; -ENOENT if absent. */
int sluice_policy_set_take(struct sluice_policy_set *s, int kind, const char *ns,
			   const char *name, struct sluice_policy_set *out);
/* Removes one policy; returns -ENOENT if absent. kind -1 = any kind. */
int sluice_policy_set_remove(struct sluice_policy_set *s, int kind,
			     const char *ns, const char *name);
/* "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "NetworkPolicy",
 * "CiliumCIDRGroup"; "?" for another number. */
const char *sluice_policy_kind_name(int kind);
/* A kind as kubectl takes it: its name or plural (any case) or short name
 * (cnp, ccnp, netpol, ccg); -1 when none. */
int sluice_policy_kind_parse(const char *s);

/* cidr_group.c: spells every CIDR set entry that names CiliumCIDRGroups as
 * the prefixes of the set's groups it names now (struct sluice_peer_rule's
 * ngroup_cidrs). Call before each compile; true when some entry names
 * groups (a group change then changes what such entries select). */
bool sluice_policy_set_resolve_cidr_groups(struct sluice_policy_set *set);

/* edit.c: no byte of text[0, len) is above 0x7f */
bool sluice_text_is_ascii(const char *text, size_t len);

/* edit.c: one list item of a policy changed (see policy/edit.c) */
struct sluice_policy_edit {
	bool unchanged;  /* the texts are equal: nothing to do */
	size_t rule;     /* the item: p->rules[rule], list section, index */
	enum sluice_section section;
	size_t index;
	struct sluice_peer_rule item; /* the new item (the old one once swapped in) */
	ptrdiff_t delta; /* text after the item moved by this many bytes */
	int lines;       /* and by this many lines */
	size_t old_end;  /* end of the item in the old text */
	bool applied;
	/* the text change: old_text[text_at, +text_old_len) became
	 * new_text[text_at, +text_new_len) */
	size_t text_at, text_old_len, text_new_len;
};
/*
 * When new_text differs from old_text (the single document p was loaded
 * from) only inside one item of a section list of a CiliumNetworkPolicy
 * or CiliumClusterwideNetworkPolicy, parses that item alone: 1 with *e
 * filled (or e->unchanged), -EINVAL with the errors a whole load of
 * new_text would report for the item, or 0 when the change is not such an
 * edit and the caller must load the whole text. Warnings for the item and
 * its list go to warnings.
 */
int sluice_policy_edit_prepare(const struct sluice_policy *p, const char *file,
			       const char *old_text, size_t old_len,
			       const char *new_text, size_t new_len,
			       struct sluice_policy_edit *e, struct sluice_diags *errors,
			       struct sluice_diags *warnings);
/* Puts the edit's item in place (and the old one into the edit); calling
 * it again, before any other edit of p, undoes it. */
void sluice_policy_edit_swap(struct sluice_policy *p, struct sluice_policy_edit *e);
void sluice_policy_edit_free(struct sluice_policy_edit *e);
/* Where item `it` of p lies in the text p holds now (byte offsets; both 0
 * when unknown): its src_start/src_end moved by the shifts edits left. */
void sluice_policy_item_span(const struct sluice_policy *p, const struct sluice_peer_rule *it,
			     size_t *start, size_t *end);

/* compile.c */
struct sluice_named_port {
	char *name;
	uint16_t port;
	uint8_t protocol;
};

/* An endpoint as the compiler sees it. */
struct sluice_compile_endpoint {
	uint32_t ep_id;
	uint32_t identity;
	const char *namespace;
	const char *name; /* the pod's, for messages (NULL: the ep_id names it) */
	const struct sluice_named_port *named_ports;
	size_t nnamed_ports;
	uint8_t addr[16]; /* the pod's address (IPv4-mapped); all zero = unknown.
			   * Kubernetes ipBlock peers select pods by it. */
	bool peer_only;   /* a pod on another node: only a peer (ipBlock by
			   * address); no policy is compiled for it */
};

/*
 * The L7 rules that apply to one (endpoint, direction, port, protocol, peer
 * identity): the union of every http rule list from every rule that allows
 * this peer on this port; allow_all is set when some rule allowing the peer
 * on the port has no http rules (Cilium: an L4-only allow on an L7 port
 * allows every request, still through the proxy).
 */
struct sluice_l7_policy {
	uint32_t ep_id;
	uint8_t direction;
	uint8_t protocol;
	uint16_t port;
	uint32_t peer_identity; /* SLUICE_ID_ANY = any peer */
	uint16_t end_port;      /* last port of the trie key's block (== port
				 * for one port); the proxy uses the narrowest
				 * entry containing the port, for the peer, else
				 * for SLUICE_ID_ANY */
	bool allow_all;
	const struct sluice_http_rule **rules; /* point into the policy set */
	size_t nrules;
	/* the port rule whose terminatingTLS / originatingTLS apply (into the
	 * policy set), NULL = plaintext */
	const struct sluice_port_rule *tls;
	/* serverNames: those of every rule with TLS fields for this peer and
	 * port, merged (Cilium: any SNI of the applicable rules is allowed);
	 * sorted, malloc'd array of names in the policy set; 0: no SNI check */
	const char **server_names;
	size_t nserver_names;
};

struct sluice_ep_compiled {
	uint32_t ep_id;
	uint32_t flags; /* SLUICE_EP_F_ENFORCE_INGRESS / _EGRESS */
	struct sluice_policy_map_entry *entries;
	size_t nentries;
	struct sluice_l7_policy *l7;
	size_t nl7;
};

/*
 * A CIDR identity: the prefixes that policies name (fromCIDR, toCIDR,
 * CIDR sets, ipBlock, and their excepts) each get one, labelled
 * "cidr:10.0.0.0/8,reserved:world", numbered from SLUICE_ID_LOCAL_MIN and
 * kept while the policy set names the prefix. The agent writes them into
 * the ipcache; a pod's or the host's /32 there is more specific and wins.
 */
struct sluice_cidr_ident {
	uint8_t addr[16];  /* IPv4-mapped for IPv4, host bits clear */
	uint8_t prefixlen; /* bits of the 16-byte form (IPv4 /8 = 104) */
	uint8_t flags;     /* SLUICE_CIDR_F_*: labels beyond cidr: and world */
	uint32_t identity;
};
/* an API server outside the cluster (Cilium labels its CIDR identity
 * reserved:kube-apiserver too: the kube-apiserver entity selects it) */
#define SLUICE_CIDR_F_APISERVER 0x01

/* The order of sluice_compiled.cidrs: address, then prefix length (qsort). */
int sluice_cidr_ident_cmp(const void *a, const void *b);

struct sluice_item_index; /* the edit path's, opaque (policy/compile_items.c) */

struct sluice_compiled {
	struct sluice_ep_compiled *eps; /* one per endpoint that is not peer_only */
	size_t neps;
	struct sluice_cidr_ident *cidrs; /* sorted by address, then prefixlen */
	size_t ncidrs;
	/* an edit's result whose CIDR list is the previous result's, moved
	 * unchanged (no prefix came or went): the ipcache has nothing to do */
	bool cidrs_kept;
	/* the set's items by prefix: NULL after a whole compile, made by the
	 * first edit and moved from result to result while edits follow */
	struct sluice_item_index *items;
};

/*
 * Compiles the policy set for the given endpoints against the identities
 * currently in the table. The table's CIDR identities are made to match
 * the prefixes the set names (new ones allocated, unnamed ones released,
 * the others keep their numbers), so recompiling an unchanged set changes
 * nothing. Deterministic: the same input gives the same
 * entries in the same order (sorted by key bytes). Each entry's rule_ref
 * names the policy that decided its verdict: its ref_id, or without one
 * 1 + its index in set (the lowest when several did; 0 for the allow-all
 * that enableDefaultDeny: false adds). The precedence rules
 * are explained above compile_materialize() in policy/compile_emit.c.
 */
int sluice_policy_compile(const struct sluice_policy_set *set,
			  struct sluice_identity_table *idt,
			  const struct sluice_compile_endpoint *eps, size_t neps,
			  struct sluice_compiled *out, struct sluice_diags *errors);
void sluice_compiled_free(struct sluice_compiled *c);

/*
 * After item `index` of list `section` of rule ri of policy pi in set
 * changed from old_item (see
 * sluice_policy_edit_swap()), computes into out what
 * sluice_policy_compile() would give, from prev (the result for the set
 * before the change, the same endpoints and identities), touching only
 * what the item can change. Returns 0 or a negative errno (errors say
 * why). *handled says which of the two successes it was: true, out holds
 * the result; false, the change is not one it handles (the caller compiles
 * the whole set; out and prev are untouched). When handled, some of prev's
 * arrays may have moved into out (its item index, its CIDR list when no
 * prefix changed): prev is then only to be freed. See
 * policy/compile_edit.c.
 */
int sluice_policy_compile_edit(const struct sluice_policy_set *set,
			       struct sluice_identity_table *idt,
			       const struct sluice_compile_endpoint *eps, size_t neps,
			       struct sluice_compiled *prev, size_t pi, size_t ri,
			       enum sluice_section section,
			       size_t index, const struct sluice_peer_rule *old_item,
			       struct sluice_compiled *out, bool *handled,
			       struct sluice_diags *errors);

/*
 * The L7 policy the proxy applies to a redirected flow: the entry for the
 * peer identity with the narrowest port block containing port, else the
 * one for SLUICE_ID_ANY; NULL when there is none (deny the request).
 */
const struct sluice_l7_policy *sluice_l7_lookup(const struct sluice_ep_compiled *ep,
						uint8_t direction, uint8_t protocol,
						uint16_t port, uint32_t peer_identity);

#endif /* SLUICE_POLICY_API_H */
