/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipcache.h - peer address -> security identity.
 *
 * An LPM trie so that one map holds both pod /32s and CIDR identities
 * (toCIDR rules): the longest prefix wins, so a pod inside an allowed CIDR
 * still gets its own pod identity. An address nobody told us about is
 * "world" (identity 2), which is what a toEntities: world rule selects.
 */
#ifndef SLUICE_BPF_IPCACHE_H
#define SLUICE_BPF_IPCACHE_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SLUICE_IPCACHE_MAX);
	__type(key, struct sluice_ipcache_key);
	__type(value, struct sluice_ipcache_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_ipc_v1 SEC(".maps");

static __always_inline __u32 ipcache_identity(const __u8 addr[16])
{
	struct sluice_ipcache_key key = { .prefixlen = 128 };
	struct sluice_ipcache_value *v;

	__builtin_memcpy(key.addr, addr, 16);
	v = bpf_map_lookup_elem(&sluice_ipc_v1, &key);
	return v ? v->identity : SLUICE_ID_WORLD;
}

#endif /* SLUICE_BPF_IPCACHE_H */
