/* SPDX-License-Identifier: Apache-2.0 */
/*
 * service.h - Services translated at the socket (kube-proxy replacement):
 * a pod's connect() or sendto() to a ClusterIP:port gets a backend's
 * address instead, before any packet exists. tc then sees, and policy then
 * judges, the backend pod itself; no per-packet NAT and no conntrack of the
 * translation are needed.
 *
 * What the socket must not notice: replies and getpeername() show the
 * ClusterIP again (svc_revnat, keyed by the socket's cookie, written at
 * translation and read by recvmsg4/getpeername4).
 *
 * Maps: sluice_svc_v1 (frontend + slot), sluice_be_v1 (backends),
 * sluice_srev_v1 (reverse translation per socket), sluice_sflw_v1 (the last
 * service an endpoint used to reach a backend: observe names it),
 * sluice_saff_v1 and sluice_safm_v1 (ClientIP session affinity).
 * The sizes of the services, backends and affinity match maps are the
 * agent's options (set before load).
 */
#ifndef SLUICE_BPF_SERVICE_H
#define SLUICE_BPF_SERVICE_H

#include <linux/errno.h>

#include "common.h"
#include "events.h"
#include "ipcache.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_SERVICES_MAX);
	__type(key, struct sluice_svc_key);
	__type(value, struct sluice_svc_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_svc_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_BACKENDS_MAX);
	__type(key, __u32);
	__type(value, struct sluice_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_be_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_SVC_REVNAT_MAX);
	__type(key, struct sluice_svc_revnat_key);
	__type(value, struct sluice_svc_revnat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_srev_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_SVC_FLOWS_MAX);
	__type(key, struct sluice_svc_flow_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_sflw_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_SVC_AFFINITY_MAX);
	__type(key, struct sluice_svc_aff_key);
	__type(value, struct sluice_svc_aff);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_saff_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_SERVICES_MAX);
	__type(key, struct sluice_svc_aff_match_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_safm_v1 SEC(".maps");

/* A reverse translation for a socket whose peer is addr:port (host order). */
static __always_inline void svc_revnat_note(__u64 cookie, __be32 addr, __u16 port, __be32 front,
					    __u16 front_port, __u32 svc_id)
{
	struct sluice_svc_revnat_key rk = {};
	struct sluice_svc_revnat rv = {};
	const struct sluice_svc_revnat *have;

	rk.cookie = cookie;
	addr_from_ipv4(rk.addr, addr);
	rk.port = port;
	addr_from_ipv4(rv.addr, front);
	rv.port = front_port;
	rv.svc_id = svc_id;
	/* sendmsg4 passes here per datagram: write only what changed */
	have = bpf_map_lookup_elem(&sluice_srev_v1, &rk);
	if (have && have->svc_id == svc_id && have->port == front_port && addr_equal(have->addr, rv.addr))
		return;
	bpf_map_update_elem(&sluice_srev_v1, &rk, &rv, BPF_ANY);
}

enum svc_result {
	SVC_NONE = 0,       /* not a service address: leave the socket alone */
	SVC_TRANSLATED = 1, /* ctx now points at a backend */
	SVC_NO_BACKEND = 2, /* a service with no backend: refuse */
};

/*
 * A node port: a Service's nodePort is reachable on every node's address
 * (kube-proxy's NodePort). The agent keeps it under the wildcard address
 * (all zero) and the node port; a connect to an address that is a node's
 * (this host's or another node's, as the ipcache says) and a port with
 * such a frontend is translated like a ClusterIP. A pod's own loopback is
 * never a node.
 */
static __always_inline const struct sluice_svc_entry *svc_node_port(struct sluice_svc_key *key,
								   __be32 daddr)
{
	const struct sluice_svc_entry *svc;
	__u8 addr[16];
	__u32 id;

	if ((bpf_ntohl(daddr) >> 24) == 127)
		return NULL;
	__builtin_memcpy(addr, key->addr, 16);
	__builtin_memset(key->addr, 0, 16);
	svc = bpf_map_lookup_elem(&sluice_svc_v1, key);
	if (!svc)
		return NULL;
	id = ipcache_identity(addr);
	if (id != SLUICE_ID_HOST && id != SLUICE_ID_REMOTE_NODE && id != SLUICE_ID_KUBE_APISERVER)
		return NULL;
	return svc;
}

/* An affinity is refreshed at most this often: sendmsg4 passes here per
 * datagram, and the timeout is in seconds anyway. */
#define SVC_AFF_REFRESH_NS (100ull * 1000 * 1000)

/*
 * ClientIP session affinity: the backend the client's netns last reached
 * this frontend through, if that use is younger than the timeout and the
 * backend is still one of the frontend's; NULL otherwise (pick anew).
 */
static __always_inline const struct sluice_backend *
svc_affinity_backend(const struct sluice_svc_entry *svc, const struct sluice_svc_aff *aff,
		     __u64 now, __u32 *backend_id)
{
	struct sluice_svc_aff_match_key mk = {};

	if (!aff || now - aff->last_ns > (__u64)svc->affinity_timeout * 1000000000ull)
		return NULL;
	mk.svc_id = svc->svc_id;
	mk.backend_id = aff->backend_id;
	if (!bpf_map_lookup_elem(&sluice_safm_v1, &mk))
		return NULL; /* the backend left the frontend */
	*backend_id = mk.backend_id;
	return bpf_map_lookup_elem(&sluice_be_v1, &mk.backend_id);
}

/* Records (or refreshes) the client's affinity to backend_id; have is its
 * entry as svc_translate() found it (NULL: none). */
static __always_inline void svc_affinity_note(const struct sluice_svc_aff_key *ak,
					      const struct sluice_svc_aff *have, __u64 now,
					      __u32 backend_id)
{
	struct sluice_svc_aff v = {};

	if (have && have->backend_id == backend_id && now - have->last_ns < SVC_AFF_REFRESH_NS)
		return;
	v.last_ns = now;
	v.backend_id = backend_id;
	bpf_map_update_elem(&sluice_saff_v1, ak, &v, BPF_ANY);
}

/*
 * Picks a backend of the service behind ctx's destination and rewrites the
 * destination to it. Random choice, as kube-proxy's iptables mode and
 * Cilium's socket LB make it: bpf_get_prandom_u32() is per-CPU and cheap;
 * with ClientIP affinity, the pod's earlier choice while it is fresh.
 */
static __always_inline enum svc_result svc_translate(struct bpf_sock_addr *ctx, __u8 protocol,
						       __u32 *svc_id_out, __u8 backend_out[16],
						       __u16 *bport_out)
{
	struct sluice_svc_key key = {};
	struct sluice_svc_aff_key ak = {};
	const struct sluice_svc_aff *aff = NULL;
	const struct sluice_svc_entry *svc, *slot;
	const struct sluice_backend *be = NULL;
	__be32 front = ctx->user_ip4;
	__u32 backend_id = 0;
	__u64 now = 0;
	__u16 count;
	int affinity;

	addr_from_ipv4(key.addr, ctx->user_ip4);
	key.port = bpf_ntohs((__u16)ctx->user_port);
	key.protocol = protocol;
	svc = bpf_map_lookup_elem(&sluice_svc_v1, &key);
	if (!svc)
		svc = svc_node_port(&key, ctx->user_ip4); /* key.addr: the wildcard now */
	if (!svc)
		return SVC_NONE;
	*svc_id_out = svc->svc_id;
	count = svc->count;
	if (count == 0)
		return SVC_NO_BACKEND;
	affinity = (svc->flags & SLUICE_SVC_F_AFFINITY) != 0;
	if (affinity) {
		ak.netns_cookie = bpf_get_netns_cookie(ctx);
		ak.svc_id = svc->svc_id;
		now = bpf_ktime_get_ns();
		aff = bpf_map_lookup_elem(&sluice_saff_v1, &ak);
		be = svc_affinity_backend(svc, aff, now, &backend_id);
	}
	if (!be) {
		key.slot = (__u16)(bpf_get_prandom_u32() % count) + 1;
		slot = bpf_map_lookup_elem(&sluice_svc_v1, &key);
		if (!slot)
			return SVC_NO_BACKEND; /* only while the agent shrinks the set */
		backend_id = slot->backend_id;
		be = bpf_map_lookup_elem(&sluice_be_v1, &backend_id);
		if (!be)
			return SVC_NO_BACKEND;
	}
	if (affinity)
		svc_affinity_note(&ak, aff, now, backend_id);

	/* best effort: without it a reply shows the backend's address */
	svc_revnat_note(bpf_get_socket_cookie(ctx), ((const __u32 *)be->addr)[3], be->port, front,
			key.port, svc->svc_id);

	__builtin_memcpy(backend_out, be->addr, 16);
	*bport_out = be->port;
	ctx->user_ip4 = ((const __u32 *)be->addr)[3];
	ctx->user_port = bpf_htons(be->port);
	stat_inc(protocol == IPPROTO_TCP ? SLUICE_STAT_SVC_TRANSLATED_TCP
					  : SLUICE_STAT_SVC_TRANSLATED_UDP);
	return SVC_TRANSLATED;
}

/* Refuses the call: connect() or sendmsg() fails with ECONNREFUSED at once. */
static __always_inline int svc_refuse(__u8 protocol)
{
	stat_inc(protocol == IPPROTO_TCP ? SLUICE_STAT_SVC_NO_BACKEND_TCP
					  : SLUICE_STAT_SVC_NO_BACKEND_UDP);
	bpf_set_retval(-ECONNREFUSED);
	return 0;
}

/* Remembers which service endpoint ep_id used for this backend (observe). */
static __always_inline void svc_flow_note(__u32 ep_id, const __u8 backend[16], __u16 port,
					  __u8 protocol, __u32 svc_id)
{
	struct sluice_svc_flow_key fk = {};
	const __u32 *have;

	__builtin_memcpy(fk.addr, backend, 16);
	fk.ep_id = ep_id;
	fk.port = port;
	fk.protocol = protocol;
	have = bpf_map_lookup_elem(&sluice_sflw_v1, &fk);
	if (have && *have == svc_id)
		return; /* the common case: no write, no LRU churn */
	bpf_map_update_elem(&sluice_sflw_v1, &fk, &svc_id, BPF_ANY);
}

/*
 * Rewrites the peer address that recvmsg()/getpeername() report back to the
 * frontend the socket was translated from. Only while that frontend still
 * exists: a deleted service no longer hides its backends.
 */
static __always_inline void svc_reverse(struct bpf_sock_addr *ctx, __u8 protocol)
{
	struct sluice_svc_revnat_key rk = {};
	struct sluice_svc_key key = {};
	const struct sluice_svc_revnat *rv;
	const struct sluice_svc_entry *svc;

	rk.cookie = bpf_get_socket_cookie(ctx);
	addr_from_ipv4(rk.addr, ctx->user_ip4);
	rk.port = bpf_ntohs((__u16)ctx->user_port);
	rv = bpf_map_lookup_elem(&sluice_srev_v1, &rk);
	if (!rv)
		return;
	__builtin_memcpy(key.addr, rv->addr, 16);
	key.port = rv->port;
	key.protocol = protocol;
	svc = bpf_map_lookup_elem(&sluice_svc_v1, &key);
	if (!svc) { /* a node port: its frontend is the wildcard address */
		__builtin_memset(key.addr, 0, 16);
		svc = bpf_map_lookup_elem(&sluice_svc_v1, &key);
	}
	if (!svc || svc->svc_id != rv->svc_id)
		return;
	ctx->user_ip4 = ((const __u32 *)rv->addr)[3];
	ctx->user_port = bpf_htons(rv->port);
}

#endif /* SLUICE_BPF_SERVICE_H */
