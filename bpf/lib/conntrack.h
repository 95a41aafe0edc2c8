/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conntrack.h - per-endpoint flow memory, so only a flow's first packet
 * pays for the policy lookups, and replies pass without a rule of their own.
 *
 * One entry per (endpoint, flow), keyed in the direction of the flow's first
 * packet as that endpoint saw it. Two pods on this node talking to each other
 * get two entries: the client's EGRESS one and the server's INGRESS one, each
 * judged by its own endpoint's policy.
 */
#ifndef SLUICE_BPF_CONNTRACK_H
#define SLUICE_BPF_CONNTRACK_H

#include "common.h"
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_CT_MAX);
	__type(key, struct sluice_ct_key);
	__type(value, struct sluice_ct_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_ct_v1 SEC(".maps");

/*
 * Lifetimes since the last packet. There is no garbage collector: LRU
 * eviction reclaims space, and an idle entry past its lifetime counts as
 * a miss, so a reused tuple is judged again by the current policy.
 */
#define CT_LIFETIME_TCP_NS    (6ULL * 3600 * NSEC_PER_SEC)
#define CT_LIFETIME_CLOSED_NS (10ULL * NSEC_PER_SEC)
#define CT_LIFETIME_OTHER_NS  (60ULL * NSEC_PER_SEC)

enum ct_state {
	CT_NEW = 0,   /* no live entry: judge by policy */
	CT_ESTABLISHED, /* same direction as the first packet */
	CT_REPLY,     /* opposite direction */
};

static __always_inline void ct_key_fill(struct sluice_ct_key *k, const struct flow *fl,
					__u8 direction, __u32 ep_id, int reverse)
{
	if (reverse) {
		__builtin_memcpy(k->saddr, fl->daddr, 16);
		__builtin_memcpy(k->daddr, fl->saddr, 16);
		k->sport = fl->dport;
		k->dport = fl->sport;
	} else {
		__builtin_memcpy(k->saddr, fl->saddr, 16);
		__builtin_memcpy(k->daddr, fl->daddr, 16);
		k->sport = fl->sport;
		k->dport = fl->dport;
	}
	k->protocol = fl->protocol;
	k->direction = direction;
	k->pad = 0;
	k->ep_id = ep_id;
}

static __always_inline int ct_is_live(const struct sluice_ct_entry *e, __u8 protocol,
				      __u64 now)
{
	__u64 life = CT_LIFETIME_OTHER_NS;

	if (protocol == IPPROTO_TCP)
		life = (e->flags & SLUICE_CT_F_SEEN_FIN) ? CT_LIFETIME_CLOSED_NS
							 : CT_LIFETIME_TCP_NS;
	return now - e->last_seen_ns < life;
}

static __always_inline void ct_account(struct sluice_ct_entry *e, const struct flow *fl,
				       int reply, __u64 now)
{
	e->last_seen_ns = now;
	if (reply) {
		__sync_fetch_and_add(&e->packets_rev, 1);
		__sync_fetch_and_add(&e->bytes_rev, fl->len);
	} else {
		__sync_fetch_and_add(&e->packets_fwd, 1);
		__sync_fetch_and_add(&e->bytes_fwd, fl->len);
	}
	if (fl->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		e->flags |= SLUICE_CT_F_SEEN_FIN;
}

/*
 * Whether entry e carries this packet. A closed entry (FIN or RST seen) stays
 * live for CT_LIFETIME_CLOSED_NS, for the flow's last packets; a SYN without
 * ACK on it is not one of them but a new connection that reuses the tuple
 * (the client's ephemeral port came round again, which happens within
 * seconds when a client opens connections to one server in a loop and the
 * server closes first). Such a SYN must be judged by today's policy like
 * any new flow, not ride on the closed flow's verdict: the agent's
 * revocation walk removes closed entries only as it reaches them, and a
 * connection established meanwhile on such an entry (a client reconnecting
 * the moment its revoked connection was cut) would otherwise skip policy
 * and, once on the sk_msg fast path, never be seen by tc again.
 */
static __always_inline int ct_carries(const struct sluice_ct_entry *e, const struct flow *fl,
				      __u64 now)
{
	if (!e || !ct_is_live(e, fl->protocol, now))
		return 0;
	if (fl->protocol == IPPROTO_TCP && (e->flags & SLUICE_CT_F_SEEN_FIN) &&
	    (fl->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN)
		return 0;
	return 1;
}

/*
 * Direction handling: a packet at from_container is the endpoint's EGRESS.
 * It either continues a flow the endpoint started ({ep, EGRESS, tuple}) or
 * answers a flow a peer started ({ep, INGRESS, reversed tuple}, the key that
 * flow's first packet created at to_container). to_container is the mirror
 * image. A SYN is looked up too: a retransmitted SYN of an allowed flow must
 * keep passing even if the policy changed in between, like its first copy
 * (a SYN on a closed flow's entry is a new connection: see ct_carries).
 */
static __always_inline int ct_lookup(const struct flow *fl, __u8 direction, __u32 ep_id,
				     struct sluice_ct_entry **out)
{
	struct sluice_ct_key key;
	struct sluice_ct_entry *e;
	__u64 now = bpf_ktime_get_ns();

	ct_key_fill(&key, fl, direction, ep_id, 0);
	e = bpf_map_lookup_elem(&sluice_ct_v1, &key);
	if (ct_carries(e, fl, now)) {
		ct_account(e, fl, 0, now);
		*out = e;
		return CT_ESTABLISHED;
	}
	ct_key_fill(&key, fl, direction ^ 1, ep_id, 1);
	e = bpf_map_lookup_elem(&sluice_ct_v1, &key);
	if (ct_carries(e, fl, now)) {
		ct_account(e, fl, 1, now);
		*out = e;
		return CT_REPLY;
	}
	*out = 0;
	return CT_NEW;
}

/* Records a new allowed flow; returns 0 or a negative errno (map full is not
 * possible with LRU, but the update can still fail under memory pressure). */
static __always_inline int ct_create(const struct flow *fl, __u8 direction, __u32 ep_id,
				     __u32 peer_identity, __u8 match_kind, __u8 flags,
				     __u16 proxy_port)
{
	struct sluice_ct_key key;
	struct sluice_ct_entry e = {};
	__u64 now = bpf_ktime_get_ns();

	ct_key_fill(&key, fl, direction, ep_id, 0);
	e.created_ns = now;
	e.last_seen_ns = now;
	e.packets_fwd = 1;
	e.bytes_fwd = fl->len;
	e.peer_identity = peer_identity;
	e.flags = flags;
	if (fl->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		e.flags |= SLUICE_CT_F_SEEN_FIN;
	/* the POLICY_VERDICT event of this first packet tells its SYN (and a
	 * UDP or ICMP flow's first packet, lib/trace.h) */
	if (fl->protocol != IPPROTO_TCP || (fl->tcp_flags & TCP_FLAG_SYN))
		e.flags |= SLUICE_CT_F_TRACED_SYN << SLUICE_CT_F_TRACED_SHIFT_FWD;
	e.match_kind = match_kind;
	e.proxy_port = proxy_port;
	return bpf_map_update_elem(&sluice_ct_v1, &key, &e, BPF_ANY);
}

#endif /* SLUICE_BPF_CONNTRACK_H */
