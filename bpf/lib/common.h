/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common.h - includes and small helpers shared by every sluice BPF program.
 *
 * The programs build against the uapi headers and libbpf's bpf_helpers.h
 * only (no vmlinux.h, no CO-RE): they touch nothing but __sk_buff and packet
 * bytes, whose layout is stable uapi.
 */
#ifndef SLUICE_BPF_COMMON_H
#define SLUICE_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sluice/abi.h"

#define NSEC_PER_SEC 1000000000ULL

/*
 * What a program returns for a packet it lets through.
 *
 * TC_ACT_UNSPEC, not TC_ACT_OK: with direct-action filters, TC_ACT_OK ends
 * the filter chain of the hook, so a CNI that put its own tc program on the
 * same veth (Calico does) would silently stop seeing traffic. UNSPEC hands
 * the packet to the next filter, or lets it continue when there is none.
 * Our filter is attached at priority 1 so that it runs first: a filter before
 * ours returning TC_ACT_OK would bypass policy.
 */
#define SLUICE_TC_PASS TC_ACT_UNSPEC
#define SLUICE_TC_DROP TC_ACT_SHOT

static __always_inline void addr_from_ipv4(__u8 out[16], __be32 ip)
{
	__u32 *w = (__u32 *)out;

	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0x0000ffff);
	w[3] = ip;
}

static __always_inline int addr_equal(const __u8 a[16], const __u8 b[16])
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

static __always_inline int addr_is_zero(const __u8 a[16])
{
	const __u32 *x = (const __u32 *)a;

	return (x[0] | x[1] | x[2] | x[3]) == 0;
}

#endif /* SLUICE_BPF_COMMON_H */
