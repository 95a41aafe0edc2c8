/* SPDX-License-Identifier: Apache-2.0 */
/*
 * splice.h - the response splice's maps (see "Response splice" in
 * include/sluice/abi.h); the reader of a response head is splice_head.h.
 */
#ifndef SLUICE_BPF_SPLICE_H
#define SLUICE_BPF_SPLICE_H

#include "common.h"
#include "splice_head.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_SPLICE_SLOTS);
	__type(key, struct sluice_sock_key);
	__type(value, struct sluice_splice_ref);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_splc_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_SPLICE_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sluice_splice_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_spls_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct splice_head);
} sluice_splh_v1 SEC(".maps");

#endif /* SLUICE_BPF_SPLICE_H */
