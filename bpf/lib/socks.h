/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socks.h - the SOCKHASH of established local TCP sockets that sk_msg uses
 * to hand bytes straight to the peer socket, skipping both TCP/IP stacks
 * and the veth.
 *
 * Key: the socket's own {local, remote} addresses and ports. A sender finds
 * its peer under the reversed tuple. Loopback tuples (127/8) repeat in every
 * pod, so they also carry the netns cookie: without it two pods using the
 * same 127.0.0.1 tuple would receive each other's bytes (and an insert
 * under an existing key silently evicts the older socket). Other addresses
 * are unique on the node and must match across namespaces (pod <-> pod,
 * pod <-> host), so their cookie is 0.
 */
#ifndef SLUICE_BPF_SOCKS_H
#define SLUICE_BPF_SOCKS_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SLUICE_SOCKS_MAX);
	__type(key, struct sluice_sock_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_sock_v1 SEC(".maps");

/* A plain hash, not LRU: its entries are idle by design (written once when a
 * socket is established, removed when it closes), exactly what an LRU map
 * evicts first, and losing one would let a revoked flow live on. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_SOCKS_MAX);
	__type(key, struct sluice_sock_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_sdir_v1 SEC(".maps");

/* Ports in host order; netns_cookie used only for loopback tuples. */
static __always_inline void sock_key_fill(struct sluice_sock_key *k, __be32 local_ip,
					  __u16 local_port, __be32 remote_ip,
					  __u16 remote_port, __u64 netns_cookie)
{
	addr_from_ipv4(k->local_addr, local_ip);
	addr_from_ipv4(k->remote_addr, remote_ip);
	k->local_port = local_port;
	k->remote_port = remote_port;
	k->pad = 0;
	k->netns_cookie = 0;
	if ((bpf_ntohl(local_ip) >> 24) == 127 || (bpf_ntohl(remote_ip) >> 24) == 127)
		k->netns_cookie = netns_cookie;
}

/*
 * The IPv4 addresses of a socket (bpf_sock_ops or sk_msg_md): AF_INET, or
 * AF_INET6 with both addresses IPv4-mapped, i.e. a dual-stack socket (a
 * server listening on [::], the default of many runtimes) carrying an IPv4
 * connection: IPv4 on the wire, judged by tc like any other, and found by
 * the IPv4 lookups (SOCK_DESTROY too). Its key is the same as an AF_INET
 * socket's would be. False for anything else (real IPv6).
 */
#define SOCK_LD(ctx, f) (*(volatile __u32 *)&(ctx)->f)
#define sock_v4_addrs(ctx, lip, rip)                                                       \
	({                                                                                  \
		/* every field read as it is, then chosen: a compiler that picks \
		 * between field addresses makes a ctx pointer the verifier refuses */ \
		__u32 fam_ = SOCK_LD(ctx, family), l4_ = SOCK_LD(ctx, local_ip4);           \
		__u32 r4_ = SOCK_LD(ctx, remote_ip4);                                       \
		__u32 l0_ = SOCK_LD(ctx, local_ip6[0]), l1_ = SOCK_LD(ctx, local_ip6[1]);   \
		__u32 l2_ = SOCK_LD(ctx, local_ip6[2]), l3_ = SOCK_LD(ctx, local_ip6[3]);   \
		__u32 r0_ = SOCK_LD(ctx, remote_ip6[0]), r1_ = SOCK_LD(ctx, remote_ip6[1]); \
		__u32 r2_ = SOCK_LD(ctx, remote_ip6[2]), r3_ = SOCK_LD(ctx, remote_ip6[3]); \
		int ok_ = 0;                                                                \
		if (fam_ == 2 /* AF_INET */) {                                              \
			*(lip) = l4_;                                                       \
			*(rip) = r4_;                                                       \
			ok_ = 1;                                                            \
		} else if (fam_ == 10 /* AF_INET6 */ && !(l0_ | l1_ | r0_ | r1_) &&        \
			   l2_ == bpf_htonl(0x0000ffff) && r2_ == bpf_htonl(0x0000ffff)) { \
			*(lip) = l3_;                                                       \
			*(rip) = r3_;                                                       \
			ok_ = 1;                                                            \
		}                                                                           \
		ok_;                                                                        \
	})

#endif /* SLUICE_BPF_SOCKS_H */
