/* SPDX-License-Identifier: Apache-2.0 */
/*
 * req_splice.h - the request splice's maps (see "Request splice" in
 * include/sluice/abi.h); the reader of a request head is req_head.h.
 */
#ifndef SLUICE_BPF_REQ_SPLICE_H
#define SLUICE_BPF_REQ_SPLICE_H

#include "common.h"
#include "req_head.h"

/* LRU: a verdict the kernel no longer has sends the request to the proxy,
 * which writes it again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_RQ_VERDICTS);
	__type(key, struct sluice_rq_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_rqv_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_RQ_RINGS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sluice_rq_ring);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_rqr_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_RQ_RINGS * SLUICE_RQ_RING_LEN);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sluice_rq_rec);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_rql_v1 SEC(".maps");

/* The head being read and the key being built. pad: the spans are copied
 * with masked offsets and lengths, which the verifier bounds by the value's
 * size, not by the array's. */
struct req_scratch {
	struct req_head h;
	struct sluice_rq_key key;
	__u8 pad[SLUICE_RQ_TEXT_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct req_scratch);
} sluice_rqh_v1 SEC(".maps");

#endif /* SLUICE_BPF_REQ_SPLICE_H */
