/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h - the L3/L4 policy decision for the first packet of a flow.
 *
 * Per endpoint, one LPM trie of sluice_policy_key (see abi.h for the bit
 * layout) hangs off a hash-of-maps keyed by ep_id. The agent replaces an
 * endpoint's whole trie in one update of the outer map, so a packet is
 * judged either by the old policy or by the new one, never by a mix.
 */
#ifndef SLUICE_BPF_POLICY_H
#define SLUICE_BPF_POLICY_H

#include "common.h"
#include "ipcache.h"
#include "sluice/verdict.h"

/*
 * The inner map template. Every trie the agent puts into the outer map must
 * match it exactly (type, key/value size, flags, max_entries): the kernel
 * checks this on insert, and the verifier checks our lookups against it.
 * Sizes rather than __type(): clang emits only forward declarations for
 * types reached through the outer map's pointer array, and libbpf 1.1 then
 * cannot size the key ("can't determine key size").
 */
struct sluice_policy_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SLUICE_POLICY_INNER_MAX);
	__uint(key_size, sizeof(struct sluice_policy_key));
	__uint(value_size, sizeof(struct sluice_policy_entry));
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, SLUICE_POLICY_OUTER_MAX);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sluice_policy_inner);
} sluice_pol_v1 SEC(".maps");

/* the actions of include/sluice/verdict.h, under the datapath's names */
enum policy_action {
	POLICY_ALLOW = SLUICE_POLICY_ALLOW,
	POLICY_DENY = SLUICE_POLICY_DENY,
	POLICY_DENIED = SLUICE_POLICY_DENIED,
	POLICY_REDIRECT = SLUICE_POLICY_REDIRECT,
};

struct policy_verdict {
	__u8 action;      /* enum policy_action */
	__u8 match_kind;  /* enum sluice_match_kind of the deciding entry */
	__u16 proxy_port; /* for POLICY_REDIRECT */
	__u32 rule_ref;   /* the deciding entry's (0: none decided) */
};

/*
 * Judges (peer identity, direction, protocol, dport) against an endpoint.
 *
 * Why two lookups: a rule can select its peers by identity (fromEndpoints,
 * toEntities, toCIDR) or select every peer (an L4-only rule, toPorts without
 * from/to). Writing the "every peer" entries once under identity ANY, rather
 * than once per known identity, keeps the trie small and keeps it valid when
 * new identities appear; the price is a second lookup, paid only on the first
 * packet of a flow.
 *
 * Which entry decides, and how (deny, then redirect, then allow; no entry:
 * the enforcement flag): sluice_policy_order() in include/sluice/verdict.h,
 * shared with user space.
 */
static __always_inline void policy_decide(__u32 ep_id, __u32 peer_identity,
					  __u8 direction, __u8 protocol,
					  __u16 dport, int enforced,
					  struct policy_verdict *v)
{
	struct sluice_policy_key key = {
		.prefixlen = SLUICE_POLICY_PREFIX_FULL,
		.identity_be = bpf_htonl(peer_identity),
		.direction = direction,
		.protocol = protocol,
		.dport_be = bpf_htons(dport),
	};
	const struct sluice_policy_entry *by_peer = 0, *by_any = 0, *deciding;
	void *inner;

	v->match_kind = SLUICE_MATCH_NONE;
	v->proxy_port = 0;
	v->rule_ref = 0;

	inner = bpf_map_lookup_elem(&sluice_pol_v1, &ep_id);
	if (inner) {
		by_peer = bpf_map_lookup_elem(inner, &key);
		key.identity_be = bpf_htonl(SLUICE_ID_ANY);
		by_any = bpf_map_lookup_elem(inner, &key);
	}

	v->action = sluice_policy_order(by_peer, by_any, enforced, &deciding);
	if (deciding) {
		v->match_kind = deciding->match_kind;
		v->proxy_port = deciding->proxy_port;
		v->rule_ref = deciding->rule_ref;
	}
}

/*
 * The whole decision for one flow seen from an endpoint: the peer's identity
 * (ipcache) and the policy verdict for it. tc (every first packet) and
 * cgroup/connect4 (a pod's connect(), for L7 steering) share it, so a
 * connect() is steered to the proxy exactly when tc would have asked for the
 * proxy, deny still winning over redirect.
 */
static __always_inline __u32 policy_judge(__u32 ep_id, const __u8 peer_addr[16],
					  __u8 direction, __u8 protocol, __u16 dport,
					  int enforced, struct policy_verdict *v)
{
	__u32 peer_identity = ipcache_identity(peer_addr);

	policy_decide(ep_id, peer_identity, direction, protocol, dport, enforced, v);
	return peer_identity;
}

#endif /* SLUICE_BPF_POLICY_H */
