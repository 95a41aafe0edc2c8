/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoint.h - the endpoints map: which pod sits behind a host-side veth.
 *
 * Keyed by the ifindex of the host-side veth, i.e. skb->ifindex as seen by
 * the programs attached there (in the host netns).
 */
#ifndef SLUICE_BPF_ENDPOINT_H
#define SLUICE_BPF_ENDPOINT_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_ENDPOINTS_MAX);
	__type(key, __u32);
	__type(value, struct sluice_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_ep_v1 SEC(".maps");

static __always_inline const struct sluice_endpoint *endpoint_lookup(__u32 ifindex)
{
	return bpf_map_lookup_elem(&sluice_ep_v1, &ifindex);
}

#endif /* SLUICE_BPF_ENDPOINT_H */
