/* SPDX-License-Identifier: Apache-2.0 */
/*
 * version.h - a one-slot array holding SLUICE_ABI_VERSION, pinned next to
 * the other maps. The loader writes it; on adopt it compares it with its own
 * and starts from fresh maps when they differ. Map names carry the layout
 * version (_v1) already; this catches a change of meaning without a change
 * of layout. No program reads it.
 */
#ifndef SLUICE_BPF_VERSION_H
#define SLUICE_BPF_VERSION_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_abi SEC(".maps");

#endif /* SLUICE_BPF_VERSION_H */
