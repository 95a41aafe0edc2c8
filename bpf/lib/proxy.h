/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy.h - what the programs know about the node-local L7 proxy: which pod
 * an address or a network namespace belongs to, the proxy's listener in each
 * pod netns, whether the proxy is serving, the original destinations of
 * redirected connections, and the proxy's own upstream connections.
 *
 * Fail closed everywhere: a flow that needs the proxy and cannot reach it is
 * dropped (tc, sk_lookup) or refused (connect4), never let through unseen.
 */
#ifndef SLUICE_BPF_PROXY_H
#define SLUICE_BPF_PROXY_H

#include "common.h"
#include "parse.h"

/* pod address -> ep_id (sk_lookup sees addresses, not devices) */
struct ep_addr_key {
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_EP_ADDR_MAX);
	__type(key, struct ep_addr_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_epip_v1 SEC(".maps");

/* pod netns cookie -> ep_id (connect4 sees a netns, not a device) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_NETNS_EP_MAX);
	__type(key, __u64);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_nsep_v1 SEC(".maps");

/* ep_id -> the proxy's listening socket inside that pod's netns. A listener
 * from another netns would be accepted by bpf_sk_assign but its SYNs dropped,
 * hence one listener per pod. Closing the socket removes the entry. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SLUICE_PROXY_LISTENERS_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_plsn_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_proxy_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_pst_v1 SEC(".maps");

/* connect4 -> sock_ops: socket cookie -> original destination */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_ORIG_DST_MAX);
	__type(key, __u64);
	__type(value, struct sluice_orig_dst);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_odsk_v1 SEC(".maps");

/* sock_ops -> proxy: {client addr, port, netns cookie} -> original destination */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_ORIG_DST_MAX);
	__type(key, struct sluice_orig_dst_key);
	__type(value, struct sluice_orig_dst);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_odst_v1 SEC(".maps");

/* the proxy's upstream connections, registered by the proxy before connect() */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_PROXY_FLOWS_MAX);
	__type(key, struct sluice_proxy_flow_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_pflw_v1 SEC(".maps");

static __always_inline int proxy_is_up(void)
{
	__u32 zero = 0;
	struct sluice_proxy_state *st = bpf_map_lookup_elem(&sluice_pst_v1, &zero);

	return st && st->up;
}

/*
 * Whether a flow of this endpoint can be handed to the proxy right now: a
 * proxy serves, and its listener sits in the pod's netns. The agent inserts
 * the listener only after attaching sk_lookup to that netns, so "listener
 * present" also means "the steering is in place": without this check a flow
 * let through by tc could reach the real server unseen.
 */
static __always_inline int proxy_ready(__u32 ep_id)
{
	struct bpf_sock *sk;

	if (!proxy_is_up())
		return 0;
	sk = bpf_map_lookup_elem(&sluice_plsn_v1, &ep_id);
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

static __always_inline const __u32 *proxy_ep_by_addr(const __u8 addr[16])
{
	return bpf_map_lookup_elem(&sluice_epip_v1, addr);
}

/* The packet belongs to a connection the proxy opened from a pod's netns. */
static __always_inline int proxy_flow_known(const struct flow *fl)
{
	struct sluice_proxy_flow_key key = {};

	__builtin_memcpy(key.saddr, fl->saddr, 16);
	__builtin_memcpy(key.daddr, fl->daddr, 16);
	key.sport = fl->sport;
	key.dport = fl->dport;
	key.protocol = fl->protocol;
	return bpf_map_lookup_elem(&sluice_pflw_v1, &key) != 0;
}

static __always_inline int ipv4_is_loopback(__be32 ip)
{
	return (bpf_ntohl(ip) >> 24) == 127;
}

#endif /* SLUICE_BPF_PROXY_H */
