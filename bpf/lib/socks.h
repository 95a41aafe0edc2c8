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

#endif /* SLUICE_BPF_SOCKS_H */
