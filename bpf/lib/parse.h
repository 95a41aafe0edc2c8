/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse.h - turns the start of an Ethernet frame into a flow tuple.
 *
 * Headers are copied with bpf_skb_load_bytes() rather than read in place:
 * it works whether or not the headers sit in the linear part of the skb
 * (GRO'd packets on a veth may not), and keeps the verifier simple. The cost
 * is a few dozen bytes copied per packet.
 */
#ifndef SLUICE_BPF_PARSE_H
#define SLUICE_BPF_PARSE_H

#include <linux/ip.h>
#include <linux/ipv6.h>

#include "common.h"

struct flow {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;     /* host order; 0 for protocols without ports */
	__u16 dport;     /* host order */
	__u8 protocol;
	__u8 tcp_flags;  /* byte 13 of the TCP header: FIN 0x01 SYN 0x02 RST 0x04 ACK 0x10 */
	__u8 icmp_type;  /* ICMP: the message's type and code (policy_port()) */
	__u8 icmp_code;
	__u32 len;
} __attribute__((aligned(4)));

/*
 * ICMP queries and their replies share one conntrack entry: the query is
 * keyed (sport = identifier, dport = query type), its reply (daddr, saddr,
 * sport = query type, dport = identifier), which is the query's key
 * reversed (ct_key_fill). Other messages (errors, router and redirect
 * messages) get (0, type): a flow of their own, judged by policy.
 */
static __always_inline void parse_icmp_ports(struct flow *fl, __u16 id)
{
	__u16 query = sluice_icmp_query_of(fl->icmp_type);

	if (sluice_icmp_is_query(fl->icmp_type)) {
		fl->sport = id;
		fl->dport = fl->icmp_type;
	} else if (query != 0xffff) {
		fl->sport = query;
		fl->dport = id;
	} else {
		fl->sport = 0;
		fl->dport = fl->icmp_type;
	}
}

/* The port a policy key is looked up with: ICMP's is the message type, as
 * Cilium's icmps rules write it (fields[].type); the others' the dport. */
static __always_inline __u16 flow_policy_port(const struct flow *fl)
{
	return fl->protocol == IPPROTO_ICMP ? fl->icmp_type : fl->dport;
}

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

enum parse_result {
	PARSE_IPV4 = 0,
	PARSE_NOT_IP,   /* ARP and the like: not ours to judge */
	PARSE_IPV6,     /* addresses filled, ports not */
	PARSE_INVALID,
};

/*
 * Fills fl from the packet. Only the first fragment of a fragmented datagram
 * carries the L4 header: later fragments get ports 0, so only L3-only rules
 * (and no conntrack entry) match them. Pods rarely fragment (PMTU discovery,
 * TCP MSS); a fragment tracking map is the fix if that ever matters.
 */
static __always_inline int parse_packet(struct __sk_buff *skb, struct flow *fl)
{
	struct ethhdr eth;
	struct iphdr ip;
	__u32 l4_off;

	fl->len = skb->len;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return PARSE_INVALID;

	if (eth.h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, sizeof(eth), &ip6, sizeof(ip6)) < 0)
			return PARSE_INVALID;
		__builtin_memcpy(fl->saddr, &ip6.saddr, 16);
		__builtin_memcpy(fl->daddr, &ip6.daddr, 16);
		fl->protocol = ip6.nexthdr;
		return PARSE_IPV6;
	}
	if (eth.h_proto != bpf_htons(ETH_P_IP))
		return PARSE_NOT_IP;

	if (bpf_skb_load_bytes(skb, sizeof(eth), &ip, sizeof(ip)) < 0)
		return PARSE_INVALID;
	if (ip.version != 4 || ip.ihl < 5)
		return PARSE_INVALID;
	addr_from_ipv4(fl->saddr, ip.saddr);
	addr_from_ipv4(fl->daddr, ip.daddr);
	fl->protocol = ip.protocol;

	/* non-first fragment: no L4 header here */
	if (ip.frag_off & bpf_htons(0x1fff))
		return PARSE_IPV4;

	l4_off = sizeof(eth) + ip.ihl * 4;
	/* SCTP's common header starts with the two ports too, as TCP's and
	 * UDP's: without them an SCTP rule on a port (a NetworkPolicy's
	 * "protocol: SCTP") would never match, its traffic seen as port 0. */
	if (ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP ||
	    ip.protocol == IPPROTO_SCTP) {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, l4_off, ports, sizeof(ports)) < 0)
			return PARSE_INVALID;
		fl->sport = bpf_ntohs(ports[0]);
		fl->dport = bpf_ntohs(ports[1]);
		if (ip.protocol == IPPROTO_TCP &&
		    bpf_skb_load_bytes(skb, l4_off + 13, &fl->tcp_flags, 1) < 0)
			return PARSE_INVALID;
	}
	if (ip.protocol == IPPROTO_ICMP) {
		__u8 h[6];

		if (bpf_skb_load_bytes(skb, l4_off, h, sizeof(h)) < 0)
			return PARSE_INVALID;
		fl->icmp_type = h[0];
		fl->icmp_code = h[1];
		parse_icmp_ports(fl, (__u16)(h[4] << 8 | h[5]));
	}
	/* everything else: a protocol with port 0 */
	return PARSE_IPV4;
}

#endif /* SLUICE_BPF_PARSE_H */
