/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verdict.h - the verdict order: which of an endpoint's two policy lookups
 * (the peer's identity, and SLUICE_ID_ANY) decides, and how. One copy,
 * used by the kernel (bpf/lib/policy.h, on a flow's first packet) and by
 * user space (datapath/query.c, when revalidation asks the same question
 * of an established flow), so the two can never disagree.
 *
 * Deny wins across the lookups: the two tries answer different questions,
 * and LPM only resolves precedence inside one (the compiler makes sure a
 * deny covering a more specific allow is written as a deny there too).
 * Across them an explicit deny must beat any allow, as in Cilium: a "deny
 * world" rule must not be undone by an "allow any peer on port 80" rule.
 * Redirect beats plain allow because an L7 rule on a port is a
 * restriction: allowing the port at L4 elsewhere must not let traffic skip
 * the proxy. Enforcement only changes what "no entry" means: an enforced
 * direction drops (default deny), a direction no policy selects allows.
 */
#ifndef SLUICE_VERDICT_H
#define SLUICE_VERDICT_H

#include "sluice/abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

enum sluice_policy_action {
	SLUICE_POLICY_ALLOW = 0,
	SLUICE_POLICY_DENY,     /* an explicit deny entry matched */
	SLUICE_POLICY_DENIED,   /* nothing matched and the direction is enforced */
	SLUICE_POLICY_REDIRECT, /* allowed at L4, the L7 proxy must see it */
};

/* The action for the entries the two lookups found (NULL: none); *deciding
 * is the entry that decided, NULL when none did. */
static __always_inline __u8 sluice_policy_order(const struct sluice_policy_entry *by_peer,
						const struct sluice_policy_entry *by_any,
						int enforced,
						const struct sluice_policy_entry **deciding)
{
	if (by_peer && (by_peer->flags & SLUICE_POL_F_DENY)) {
		*deciding = by_peer;
		return SLUICE_POLICY_DENY;
	}
	if (by_any && (by_any->flags & SLUICE_POL_F_DENY)) {
		*deciding = by_any;
		return SLUICE_POLICY_DENY;
	}
	if (by_peer && (by_peer->flags & SLUICE_POL_F_REDIRECT)) {
		*deciding = by_peer;
		return SLUICE_POLICY_REDIRECT;
	}
	if (by_any && (by_any->flags & SLUICE_POL_F_REDIRECT)) {
		*deciding = by_any;
		return SLUICE_POLICY_REDIRECT;
	}
	if (by_peer || by_any) {
		*deciding = by_peer ? by_peer : by_any;
		return SLUICE_POLICY_ALLOW;
	}
	*deciding = 0;
	return enforced ? SLUICE_POLICY_DENIED : SLUICE_POLICY_ALLOW;
}

/*
 * Whether "no entry" drops for this peer and direction (the `enforced`
 * sluice_policy_order() takes). Kubernetes wants the node to reach its own
 * pods whatever their NetworkPolicies say (kubelet's probes), so Cilium,
 * in Kubernetes mode, allows reserved:host on every local endpoint's
 * ingress (allow-localhost=always): the host's traffic then meets the
 * pod's policy as if ingress were not enforced. An explicit deny of the
 * host still drops, and an L7 rule that selects the host still sends it to
 * the proxy, as Cilium's L3 allow-all entry for the host leaves them.
 */
static __always_inline int sluice_ep_enforced(__u32 ep_flags, __u8 direction, __u32 peer_identity)
{
	if (direction == SLUICE_DIR_INGRESS) {
		if (peer_identity == SLUICE_ID_HOST && (ep_flags & SLUICE_EP_F_ALLOW_LOCALHOST))
			return 0;
		return (ep_flags & SLUICE_EP_F_ENFORCE_INGRESS) != 0;
	}
	return (ep_flags & SLUICE_EP_F_ENFORCE_EGRESS) != 0;
}
#endif
