/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bpf_sock_svc.c - the rest of the socket-level Service translation
 * (connect4 is in bpf_connect.c, where it runs before L7 steering):
 *
 *   sendmsg4     an unconnected UDP socket's sendto(ClusterIP:port) goes to
 *                a backend; no backend: the datagram is dropped, counted,
 *                and sendto() fails with ECONNREFUSED
 *   recvmsg4     a reply from that backend shows the ClusterIP as its
 *                source, so resolvers that check it (dig, glibc) accept it
 *   getpeername4 a translated socket's peer is the ClusterIP
 *
 * All three are attached to the pods' cgroup, like connect4, never to the
 * cgroup root. They only act on addresses the agent put in sluice_svc_v1;
 * every other socket is left alone.
 */
#include "lib/common.h"
#include "lib/proxy.h"
#include "lib/service.h"

char LICENSE[] SEC("license") = "GPL";

#define SOCK_GO 1

SEC("cgroup/sendmsg4")
int sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	__u8 backend[16];
	__u32 svc_id = 0;
	__u64 netns_cookie;
	const __u32 *ep;
	__u16 bport = 0;
	enum svc_result svc;

	if (ctx->protocol != IPPROTO_UDP)
		return SOCK_GO;
	svc = svc_translate(ctx, IPPROTO_UDP, &svc_id, backend, &bport);
	if (svc == SVC_NO_BACKEND)
		return svc_refuse(IPPROTO_UDP);
	if (svc != SVC_TRANSLATED)
		return SOCK_GO;
	netns_cookie = bpf_get_netns_cookie(ctx);
	ep = bpf_map_lookup_elem(&sluice_nsep_v1, &netns_cookie);
	if (ep)
		svc_flow_note(*ep, backend, bport, IPPROTO_UDP, svc_id);
	return SOCK_GO;
}

SEC("cgroup/recvmsg4")
int sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol == IPPROTO_UDP)
		svc_reverse(ctx, IPPROTO_UDP);
	return SOCK_GO;
}

SEC("cgroup/getpeername4")
int sock_getpeername4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol == IPPROTO_UDP || ctx->protocol == IPPROTO_TCP)
		svc_reverse(ctx, (__u8)ctx->protocol);
	return SOCK_GO;
}
