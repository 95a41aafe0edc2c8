/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trace.h - TRACE events: what became of the packets of a flow after its
 * first one (the SYN-ACK, each side's FIN, a RST), as Hubble shows them.
 *
 * Aggregated as Cilium's default monitor aggregation ("medium") does: a
 * packet of a known flow is reported only when it carries SYN, FIN or RST
 * for the first time in its direction of that flow (UDP, ICMP: the first
 * packet of each direction, the first one being the policy verdict's). The
 * conntrack entry remembers what was reported (SLUICE_CT_F_TRACED_*), so a
 * connection costs about three events after its policy verdict, however
 * much data it moves, and a retransmitted SYN-ACK or FIN is not reported
 * twice.
 *
 * One report per packet on the node: a packet between two local pods
 * crosses the sender's hook and then the receiver's; only the receiver's
 * reports it (to-endpoint, or to-proxy for a connection steered to the
 * proxy). The sender's reports only packets leaving for an address that is
 * no local pod (to-stack).
 */
#ifndef SLUICE_BPF_TRACE_H
#define SLUICE_BPF_TRACE_H

#include "common.h"
#include "parse.h"
#include "events.h"
#include "proxy.h"

/* The SLUICE_CT_F_TRACED_* bits a packet's flags would set (unshifted).
 * Without TCP's flags (UDP, ICMP) the SYN bit stands for the direction's
 * first packet: a flow's first reply (a DNS answer, an echo reply) is
 * reported once, as Cilium reports it. */
static __always_inline __u8 trace_flags_of(const struct flow *fl)
{
	__u8 t = 0;

	if (fl->protocol != IPPROTO_TCP)
		return SLUICE_CT_F_TRACED_SYN;
	if (fl->tcp_flags & TCP_FLAG_SYN)
		t |= SLUICE_CT_F_TRACED_SYN;
	if (fl->tcp_flags & TCP_FLAG_FIN)
		t |= SLUICE_CT_F_TRACED_FIN;
	if (fl->tcp_flags & TCP_FLAG_RST)
		t |= SLUICE_CT_F_TRACED_RST;
	return t;
}

static __always_inline int trace_addr_is_local_pod(const __u8 addr[16])
{
	struct ep_addr_key k;

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&sluice_epip_v1, &k) != 0;
}

/*
 * A packet that ct_lookup() matched to entry ct (reply: against the flow's
 * first direction). Two CPUs handling the same flow's packets at once may
 * both see a bit unset and both report: a duplicate line, as in Cilium, and
 * never a missed one. The plain read-modify-write cannot lose another
 * writer's REDIRECT bit (set only at creation); it can lose a concurrent
 * SEEN_FIN or TRACED bit, which only costs a shorter-lived memory or one
 * more report.
 */
static __always_inline void trace_packet(struct event_ctx *ec, struct sluice_ct_entry *ct, int reply)
{
	const struct flow *fl = ec->fl;
	__u8 bits, point;

	bits = trace_flags_of(fl);
	if (!bits)
		return;
	bits <<= reply ? SLUICE_CT_F_TRACED_SHIFT_REV : SLUICE_CT_F_TRACED_SHIFT_FWD;
	if (!(bits & ~ct->flags))
		return;
	ct->flags |= bits;
	if (ec->direction == SLUICE_DIR_INGRESS)
		point = (ct->flags & SLUICE_CT_F_REDIRECT) ? SLUICE_TRACE_TO_PROXY : SLUICE_TRACE_TO_ENDPOINT;
	else if (trace_addr_is_local_pod(fl->daddr))
		return; /* its delivery to that pod reports it */
	else
		point = SLUICE_TRACE_TO_STACK;
	ec->peer_identity = ct->peer_identity;
	ec->trace = point | (reply ? SLUICE_TRACE_REPLY : 0);
	event_emit(ec, SLUICE_EVENT_TRACE, SLUICE_VERDICT_FORWARDED, ct->match_kind, SLUICE_DROP_NONE);
}

#endif /* SLUICE_BPF_TRACE_H */
