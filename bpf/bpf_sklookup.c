/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bpf_sklookup.c - steers inbound TCP connections that need the L7 proxy to
 * the proxy's listener inside the pod's netns.
 *
 * Why sk_lookup: it runs in the receiving netns when the kernel looks for a
 * listening socket for a SYN, and may pick any listener of that netns
 * instead. The connection keeps its addresses (no NAT): the proxy's accepted
 * socket has getsockname() = podIP:port, the original destination, and
 * getpeername() = the real client. One program per pod netns, attached with
 * a bpf_link by the agent (sluice_dp_attach_netns).
 *
 * Which connections: tc (to_container) judged the SYN and, for a port with
 * L7 rules, recorded the flow in conntrack with SLUICE_CT_F_REDIRECT. Here:
 * pod = ep_addr[local address], CT entry {pod, INGRESS, remote -> local}:
 *   - flagged REDIRECT: the proxy's listener of this pod, or SK_DROP when
 *     there is none or no proxy serves (fail closed);
 *   - not flagged: SK_PASS, the normal lookup (the real server);
 *   - no CT entry: the flow did not cross tc just now. From the pod itself
 *     (its own address or loopback), that is local traffic, including the
 *     proxy's upstream leg for ingress: it connects to podIP:port from
 *     inside the pod, never crosses the veth, has no REDIRECT entry, and so
 *     reaches the real server. That is why ingress needs no exemption map.
 *     From elsewhere it means the CT entry was lost between tc and here
 *     (LRU eviction): judge by policy again rather than fail open.
 */
#include "lib/common.h"
#include "lib/parse.h"
#include "lib/ipcache.h"
#include "lib/policy.h"
#include "lib/conntrack.h"
#include "lib/proxy.h"

char LICENSE[] SEC("license") = "GPL";

/* Whether this connection must reach the proxy, by CT entry or by policy. */
static __always_inline int sklookup_needs_proxy(struct bpf_sk_lookup *ctx, __u32 ep_id,
						const __u8 local[16], const __u8 remote[16])
{
	struct sluice_ct_key key = {};
	struct sluice_ct_entry *e;
	struct policy_verdict pv;

	__builtin_memcpy(key.saddr, remote, 16);
	__builtin_memcpy(key.daddr, local, 16);
	key.sport = bpf_ntohs(ctx->remote_port);
	key.dport = (__u16)ctx->local_port;
	key.protocol = IPPROTO_TCP;
	key.direction = SLUICE_DIR_INGRESS;
	key.ep_id = ep_id;
	e = bpf_map_lookup_elem(&sluice_ct_v1, &key);
	/* a closed flow's entry says nothing about a new connection on its
	 * tuple (tc normally replaced it already: see ct_carries) */
	if (e && ct_is_live(e, IPPROTO_TCP, bpf_ktime_get_ns()) &&
	    !(e->flags & SLUICE_CT_F_SEEN_FIN))
		return (e->flags & SLUICE_CT_F_REDIRECT) != 0;

	if (ipv4_is_loopback(ctx->remote_ip4) || ctx->remote_ip4 == ctx->local_ip4)
		return 0;
	policy_judge(ep_id, remote, SLUICE_DIR_INGRESS, IPPROTO_TCP, (__u16)ctx->local_port, 0,
		     &pv);
	return pv.action == POLICY_REDIRECT;
}

SEC("sk_lookup")
int sk_lookup_proxy(struct bpf_sk_lookup *ctx)
{
	__u8 local[16], remote[16];
	struct bpf_sock *sk;
	const __u32 *ep;
	__u32 ep_id;
	long err;

	if (ctx->family != 2 /* AF_INET */ || ctx->protocol != IPPROTO_TCP)
		return SK_PASS;
	addr_from_ipv4(local, ctx->local_ip4);
	addr_from_ipv4(remote, ctx->remote_ip4);
	ep = proxy_ep_by_addr(local);
	if (!ep)
		return SK_PASS;
	ep_id = *ep;
	if (!sklookup_needs_proxy(ctx, ep_id, local, remote))
		return SK_PASS;

	if (!proxy_is_up())
		return SK_DROP;
	sk = bpf_map_lookup_elem(&sluice_plsn_v1, &ep_id);
	if (!sk)
		return SK_DROP;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	return err ? SK_DROP : SK_PASS;
}
