/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.h - what the datapath tells user space: flow events through a ring
 * buffer, and per-CPU counters.
 *
 * Events are best effort. A full ring buffer never blocks or drops a packet:
 * the lost event is counted (SLUICE_STAT_EVENTS_LOST) so `sluice status`
 * can say that observe missed some. Drops are rate limited per flow, because
 * a client retransmitting a denied SYN would otherwise flood the buffer with
 * copies of the same story.
 */
#ifndef SLUICE_BPF_EVENTS_H
#define SLUICE_BPF_EVENTS_H

#include "common.h"
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SLUICE_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_ev_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_stat_v1 SEC(".maps");

/*
 * Drop aggregation: flow tuple (as the dropped packet carried it, plus
 * endpoint and direction) -> time of the last DROP event for it. LRU, so
 * a scan over many tuples only evicts old memories, and worst case an extra
 * event is sent.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_DROPAGG_MAX);
	__type(key, struct sluice_ct_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_dagg_v1 SEC(".maps");

#define DROP_REPORT_INTERVAL_NS NSEC_PER_SEC

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&sluice_stat_v1, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

/* Who and what an event is about: the endpoint side of a packet. */
struct event_ctx {
	const struct flow *fl;
	__u32 ep_id;
	__u32 ep_identity;
	__u32 peer_identity;
	__u32 ifindex;
	__u8 direction;
	__u8 trace;   /* TRACE events: SLUICE_TRACE_*; else 0 */
	__u32 rule_ref; /* the deciding policy entry's, once judged; else 0 */
};

static __always_inline void event_emit(const struct event_ctx *ec, __u32 type,
				       __u8 verdict, __u8 match_kind,
				       __u16 drop_reason)
{
	struct sluice_flow_event *ev;

	ev = bpf_ringbuf_reserve(&sluice_ev_v1, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(SLUICE_STAT_EVENTS_LOST);
		return;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->type = type;
	ev->ep_id = ec->ep_id;
	ev->ep_identity = ec->ep_identity;
	ev->peer_identity = ec->peer_identity;
	__builtin_memcpy(ev->saddr, ec->fl->saddr, 16);
	__builtin_memcpy(ev->daddr, ec->fl->daddr, 16);
	ev->sport = ec->fl->sport;
	ev->dport = ec->fl->dport;
	if (ec->fl->protocol == IPPROTO_ICMP) {
		/* what Hubble shows of ICMP (abi.h) */
		ev->sport = ec->fl->icmp_type;
		ev->dport = ec->fl->icmp_code;
	}
	ev->protocol = ec->fl->protocol;
	ev->direction = ec->direction;
	ev->verdict = verdict;
	ev->match_kind = match_kind;
	ev->drop_reason = drop_reason;
	ev->tcp_flags = ec->fl->tcp_flags;
	ev->trace = ec->trace;
	ev->ifindex = ec->ifindex;
	ev->len = ec->fl->len;
	ev->rule_ref = ec->rule_ref;
	bpf_ringbuf_submit(ev, 0);
}

/* True when this flow has not had a DROP event in the last second. */
static __always_inline int drop_should_report(const struct event_ctx *ec)
{
	struct sluice_ct_key key = {};
	__u64 now = bpf_ktime_get_ns();
	__u64 *last;

	__builtin_memcpy(key.saddr, ec->fl->saddr, 16);
	__builtin_memcpy(key.daddr, ec->fl->daddr, 16);
	key.sport = ec->fl->sport;
	key.dport = ec->fl->dport;
	key.protocol = ec->fl->protocol;
	key.direction = ec->direction;
	key.ep_id = ec->ep_id;

	last = bpf_map_lookup_elem(&sluice_dagg_v1, &key);
	if (last && now - *last < DROP_REPORT_INTERVAL_NS)
		return 0;
	bpf_map_update_elem(&sluice_dagg_v1, &key, &now, BPF_ANY);
	return 1;
}

static __always_inline __u32 drop_reason_stat(__u16 reason)
{
	switch (reason) {
	case SLUICE_DROP_POLICY_DENIED:
		return SLUICE_STAT_DROP_POLICY_DENIED;
	case SLUICE_DROP_POLICY_DENY:
		return SLUICE_STAT_DROP_POLICY_DENY;
	case SLUICE_DROP_PROXY_UNAVAILABLE:
		return SLUICE_STAT_DROP_PROXY_UNAVAILABLE;
	default:
		return SLUICE_STAT_DROP_OTHER;
	}
}

/* Counts, maybe reports, and returns the tc verdict for a drop. */
static __always_inline int drop_packet(const struct event_ctx *ec, __u16 reason,
				       __u8 match_kind)
{
	stat_inc(ec->direction == SLUICE_DIR_EGRESS ? SLUICE_STAT_DROPPED_EGRESS
						    : SLUICE_STAT_DROPPED_INGRESS);
	stat_inc(drop_reason_stat(reason));
	if (drop_should_report(ec))
		event_emit(ec, SLUICE_EVENT_DROP, SLUICE_VERDICT_DROPPED,
			   match_kind, reason);
	return SLUICE_TC_DROP;
}

static __always_inline int forward_packet(__u8 direction)
{
	stat_inc(direction == SLUICE_DIR_EGRESS ? SLUICE_STAT_FORWARDED_EGRESS
						: SLUICE_STAT_FORWARDED_INGRESS);
	return SLUICE_TC_PASS;
}

#endif /* SLUICE_BPF_EVENTS_H */
