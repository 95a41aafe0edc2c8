/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bpf_lxc.c - L3/L4 policy enforcement for pods, on the host side of each
 * pod's veth.
 *
 * Why tc on the host-side veth: every packet a pod sends or receives crosses
 * its veth, whatever the CNI routes it to (another pod on this node, another
 * node, the host). Attaching on the host side keeps the programs out of the
 * pod's reach (a pod with NET_ADMIN can change its own netns, not ours), and
 * the ifindex of the host-side veth identifies the pod without parsing the
 * packet. Seen from that veth the directions are mirrored:
 *   tc ingress of the host veth = what the pod sends     = the pod's EGRESS
 *   tc egress of the host veth  = what is delivered to it = the pod's INGRESS
 *
 * Per packet: find the endpoint by ifindex (not an endpoint: pass), parse,
 * look up conntrack (a live flow passes without policy; its SYN-ACK, FINs and
 * RSTs are reported as TRACE events, lib/trace.h), else judge the first
 * packet by policy, record the flow and report one POLICY_VERDICT event, or
 * drop with a reason and report (rate limited) a DROP event.
 */
#include "lib/common.h"
#include "lib/parse.h"
#include "lib/endpoint.h"
#include "lib/ipcache.h"
#include "lib/policy.h"
#include "lib/conntrack.h"
#include "lib/proxy.h"
#include "lib/events.h"
#include "lib/trace.h"
#include "lib/version.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * A flow allowed at L4 whose port has L7 rules: it must go through the proxy.
 * Fails closed: when it cannot, the flow is dropped with PROXY_UNAVAILABLE,
 * the HTTP rules are never skipped.
 *
 * INGRESS: tc does not steer, it only lets the packet on with a CT entry
 * flagged REDIRECT; the sk_lookup program in the pod's netns (bpf_sklookup.c)
 * finds that entry and hands the connection to the proxy's in-pod listener.
 * So tc passes only when that listener exists and a proxy serves it, and
 * only when the flagged CT entry could be written.
 *
 * EGRESS: a pod's TCP connect() needing the proxy was already rewritten to
 * the in-pod proxy listener by cgroup/connect4 and never reaches this veth.
 * What does reach it with a REDIRECT verdict is either the proxy's upstream
 * leg (a connection the proxy opened from the pod's netns, with the pod's
 * address, after checking the request; it registered the tuple in
 * proxy_flows) or traffic that skipped connect4 (UDP, raw sockets, a socket
 * connected before the hook was attached): the latter is dropped.
 */
static __always_inline int lxc_redirect(const struct event_ctx *ec,
					const struct policy_verdict *pv)
{
	const struct flow *fl = ec->fl;
	int ok;

	if (fl->protocol != IPPROTO_TCP)
		ok = 0;
	else if (ec->direction == SLUICE_DIR_INGRESS)
		ok = proxy_ready(ec->ep_id);
	else
		ok = proxy_flow_known(fl);
	if (!ok)
		return drop_packet(ec, SLUICE_DROP_PROXY_UNAVAILABLE, pv->match_kind);

	if (ct_create(fl, ec->direction, ec->ep_id, ec->peer_identity, pv->match_kind,
		      SLUICE_CT_F_REDIRECT, pv->proxy_port) != 0)
		return drop_packet(ec, SLUICE_DROP_PROXY_UNAVAILABLE, pv->match_kind);
	stat_inc(SLUICE_STAT_CT_CREATED);
	stat_inc(SLUICE_STAT_REDIRECTED);
	event_emit(ec, SLUICE_EVENT_POLICY_VERDICT, SLUICE_VERDICT_REDIRECTED, pv->match_kind,
		   SLUICE_DROP_NONE);
	return forward_packet(ec->direction);
}

static __always_inline int lxc_handle(struct __sk_buff *skb, __u8 direction)
{
	const struct sluice_endpoint *ep;
	struct sluice_ct_entry *ct;
	struct policy_verdict pv;
	struct event_ctx ec;
	struct flow fl = {};
	int ret;

	/*
	 * Not an endpoint (yet): pass. The agent writes the endpoint before
	 * attaching and deletes it after detaching, so this only happens for a
	 * device someone attached us to by hand, or for a moment while an
	 * endpoint is torn down.
	 */
	ep = endpoint_lookup(skb->ifindex);
	if (!ep)
		return SLUICE_TC_PASS;

	ec.fl = &fl;
	ec.ep_id = ep->ep_id;
	ec.ep_identity = ep->identity;
	ec.peer_identity = SLUICE_ID_ANY;
	ec.ifindex = skb->ifindex;
	ec.direction = direction;
	ec.trace = 0;
	ec.rule_ref = 0;

	ret = parse_packet(skb, &fl);
	if (ret == PARSE_NOT_IP)
		return forward_packet(direction);
	if (ret == PARSE_IPV6)
		return drop_packet(&ec, SLUICE_DROP_UNSUPPORTED_L3, SLUICE_MATCH_NONE);
	if (ret != PARSE_IPV4)
		return drop_packet(&ec, SLUICE_DROP_INVALID_PACKET, SLUICE_MATCH_NONE);

	/*
	 * Anti-spoofing: a pod may only send from its own address, otherwise
	 * it could borrow another pod's identity at the receiver's ingress
	 * check. Skipped while the agent has not filled in the address.
	 */
	if (direction == SLUICE_DIR_EGRESS && !addr_is_zero(ep->addr) &&
	    !addr_equal(fl.saddr, ep->addr))
		return drop_packet(&ec, SLUICE_DROP_INVALID_SOURCE, SLUICE_MATCH_NONE);

	ret = ct_lookup(&fl, direction, ep->ep_id, &ct);
	if (ret != CT_NEW) {
		trace_packet(&ec, ct, ret == CT_REPLY);
		return forward_packet(direction);
	}

	/*
	 * First packet of a flow, or a packet of a flow we do not remember
	 * (agent restart with a CT flush, LRU eviction). TCP packets without
	 * SYN are judged like a SYN rather than dropped as "not established":
	 * a connection that the current policy still allows survives a lost
	 * conntrack. One that is no longer allowed breaks, as it should.
	 */
	ec.peer_identity = ipcache_identity(direction == SLUICE_DIR_EGRESS ? fl.daddr : fl.saddr);
	policy_decide(ep->ep_id, ec.peer_identity, direction, fl.protocol, flow_policy_port(&fl),
		      sluice_ep_enforced(ep->flags, direction, ec.peer_identity), &pv);
	ec.rule_ref = pv.rule_ref;

	switch (pv.action) {
	case POLICY_DENY:
		return drop_packet(&ec, SLUICE_DROP_POLICY_DENY, pv.match_kind);
	case POLICY_DENIED:
		return drop_packet(&ec, SLUICE_DROP_POLICY_DENIED, pv.match_kind);
	case POLICY_REDIRECT:
		return lxc_redirect(&ec, &pv);
	default:
		break;
	}

	/* A failed insert only costs a policy lookup on the next packet. */
	if (ct_create(&fl, direction, ep->ep_id, ec.peer_identity, pv.match_kind, 0, 0) == 0)
		stat_inc(SLUICE_STAT_CT_CREATED);
	event_emit(&ec, SLUICE_EVENT_POLICY_VERDICT, SLUICE_VERDICT_FORWARDED,
		   pv.match_kind, SLUICE_DROP_NONE);
	return forward_packet(direction);
}

/* tc ingress of the host-side veth: packets the pod sends (its egress). */
SEC("tc")
int from_container(struct __sk_buff *skb)
{
	return lxc_handle(skb, SLUICE_DIR_EGRESS);
}

/* tc egress of the host-side veth: packets delivered to the pod (its ingress). */
SEC("tc")
int to_container(struct __sk_buff *skb)
{
	return lxc_handle(skb, SLUICE_DIR_INGRESS);
}
