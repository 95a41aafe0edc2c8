/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bpf_connect.c - steers a pod's outbound TCP connections that need the L7
 * proxy to the proxy's listener inside the pod's netns (127.0.0.1:
 * SLUICE_PROXY_PORT), and remembers where they were going.
 *
 * Why cgroup/connect4: it runs in connect(), before any packet exists, with
 * the destination still writable, so no NAT state and no packet rewriting
 * are needed, and a refusal is an immediate EPERM rather than a timeout.
 * It follows the socket's cgroup, not its netns: it is attached to the
 * pods' parent cgroup only (every pod, nothing else), so the proxy and the
 * agent, in the system cgroup, are never redirected, not even when the
 * proxy connects upstream from inside a pod's netns.
 *
 * The decision is tc's (policy_judge, EGRESS): only a REDIRECT verdict is
 * acted on here; deny and allow are left to tc, which judges the SYN as
 * before and reports it. The original destination goes to orig_dst_sk under
 * the socket cookie; sock_ops moves it at ACTIVE_ESTABLISHED to a key the
 * proxy can build from its accepted socket (bpf_sockops.c).
 *
 * Services come first (lib/service.h): a ClusterIP:port is replaced by one
 * of its backends, so the policy question below is asked about the backend
 * pod, and an L7 port of the backend is steered like a direct connection
 * (the proxy sees the backend as the original destination). A service with
 * no backend refuses with ECONNREFUSED at once.
 */
#include "lib/common.h"
#include "lib/parse.h"
#include "lib/ipcache.h"
#include "lib/policy.h"
#include "lib/events.h"
#include "lib/proxy.h"
#include "lib/service.h"

char LICENSE[] SEC("license") = "GPL";

#define CONNECT_REFUSE 0 /* connect() fails with EPERM */
#define CONNECT_GO     1

/* Tells observe why a connect() was refused (no source port yet: 0). */
static __always_inline void connect_report_refusal(__u32 ep_id, __u32 peer_identity,
						   const __u8 daddr[16], __u16 dport,
						   __u8 match_kind)
{
	struct flow fl = {};
	struct event_ctx ec = {};

	__builtin_memcpy(fl.daddr, daddr, 16);
	fl.dport = dport;
	fl.protocol = IPPROTO_TCP;
	fl.tcp_flags = TCP_FLAG_SYN;
	ec.fl = &fl;
	ec.ep_id = ep_id;
	ec.peer_identity = peer_identity;
	ec.direction = SLUICE_DIR_EGRESS;
	drop_packet(&ec, SLUICE_DROP_PROXY_UNAVAILABLE, match_kind);
}

SEC("cgroup/connect4")
int sock_connect4(struct bpf_sock_addr *ctx)
{
	struct sluice_orig_dst od = {};
	struct policy_verdict pv;
	__u64 netns_cookie, sock_cookie;
	__u8 backend[16], protocol;
	__be32 dst = ctx->user_ip4;
	__u32 svc_id = 0, svc_port = 0;
	const __u32 *ep;
	__u32 peer_identity, ep_id;
	__u16 dport, bport = 0;
	enum svc_result svc;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return CONNECT_GO;
	protocol = (__u8)ctx->protocol;
	svc_port = ctx->user_port;
	svc = svc_translate(ctx, protocol, &svc_id, backend, &bport);
	if (svc == SVC_NO_BACKEND)
		return svc_refuse(protocol);

	/* the pod's own loopback never crosses its veth: not policy's business */
	if (ipv4_is_loopback(ctx->user_ip4))
		return CONNECT_GO;
	netns_cookie = bpf_get_netns_cookie(ctx);
	ep = bpf_map_lookup_elem(&sluice_nsep_v1, &netns_cookie);
	if (!ep)
		return CONNECT_GO;
	ep_id = *ep;
	if (svc == SVC_TRANSLATED)
		svc_flow_note(ep_id, backend, bport, protocol, svc_id);
	if (protocol != IPPROTO_TCP)
		return CONNECT_GO;

	dport = bpf_ntohs((__u16)ctx->user_port);
	addr_from_ipv4(od.addr, ctx->user_ip4);
	peer_identity = policy_judge(ep_id, od.addr, SLUICE_DIR_EGRESS, IPPROTO_TCP, dport, 0,
				     &pv);
	if (pv.action != POLICY_REDIRECT)
		return CONNECT_GO;

	if (!proxy_ready(ep_id)) {
		connect_report_refusal(ep_id, peer_identity, od.addr, dport, pv.match_kind);
		return CONNECT_REFUSE;
	}
	od.port = dport;
	od.ep_id = ep_id;
	od.peer_identity = peer_identity;
	sock_cookie = bpf_get_socket_cookie(ctx);
	/* without its original destination the proxy could not serve it */
	if (bpf_map_update_elem(&sluice_odsk_v1, &sock_cookie, &od, BPF_ANY) != 0) {
		connect_report_refusal(ep_id, peer_identity, od.addr, dport, pv.match_kind);
		return CONNECT_REFUSE;
	}
	ctx->user_ip4 = bpf_htonl(0x7f000001);
	ctx->user_port = bpf_htons(SLUICE_PROXY_PORT);
	/* getpeername() shows where the pod meant to go, not the proxy */
	if (svc == SVC_TRANSLATED)
		svc_revnat_note(sock_cookie, ctx->user_ip4, SLUICE_PROXY_PORT, dst,
				bpf_ntohs((__u16)svc_port), svc_id);
	return CONNECT_GO;
}
