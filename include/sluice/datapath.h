/* SPDX-License-Identifier: Apache-2.0 */
/*
 * datapath.h - user-space side of the kernel datapath: loading the BPF
 * objects, pinning and adopting maps under the agent's --bpf-root,
 * attaching to endpoints, and writing the maps.
 *
 * All functions return 0 or a negative errno; those that take char **err
 * set it to a malloc'd human-readable message on failure.
 */
#ifndef SLUICE_DATAPATH_H
#define SLUICE_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/abi.h"

struct sluice_datapath;

/*
 * Loads the programs and creates or adopts the pinned maps under bpf_root
 * (a directory on bpffs, created if missing). Pinned maps whose layout
 * does not match this build's are detected, reported in *err as a warning
 * line, and replaced: on success *err is NULL or holds warnings (log them,
 * free them). *adopted tells whether existing pins were reused. After open,
 * re-attach every endpoint: filters left by a previous agent still run the
 * previous programs until replaced.
 */
int sluice_dp_open(struct sluice_datapath **out, const char *bpf_root,
		   bool *adopted, char **err);
/* Closes fds; pins and tc filters stay, so enforcement continues. */
void sluice_dp_close(struct sluice_datapath *dp);
/* Removes every pin under bpf_root (used by tests and `sluiced --cleanup`). */
int sluice_dp_unpin_all(const char *bpf_root);

/*
 * tc clsact on the pod's host-side veth: ingress = from pod, egress = to pod.
 * ifindex is the host-side veth's, in the agent's netns; it is also the key
 * of the endpoint map, so write the endpoint before attaching (until then
 * the programs pass its traffic). Attach replaces our filter if present;
 * detach removes only our filter and is idempotent.
 */
int sluice_dp_attach_endpoint(struct sluice_datapath *dp, int ifindex, char **err);
int sluice_dp_detach_endpoint(struct sluice_datapath *dp, int ifindex);

int sluice_dp_endpoint_update(struct sluice_datapath *dp, int ifindex,
			      const struct sluice_endpoint *ep);
int sluice_dp_endpoint_delete(struct sluice_datapath *dp, int ifindex);

int sluice_dp_ipcache_update(struct sluice_datapath *dp, const uint8_t addr[16],
			     unsigned prefixlen, uint32_t identity, uint32_t flags);
int sluice_dp_ipcache_delete(struct sluice_datapath *dp, const uint8_t addr[16],
			     unsigned prefixlen);

/*
 * Replaces an endpoint's whole policy in one atomic step: a new inner map
 * is built and filled aside, then swapped into the outer map with one
 * update, so no packet is judged by a half-written policy.
 */
int sluice_dp_policy_replace(struct sluice_datapath *dp, uint32_t ep_id,
			     const struct sluice_policy_map_entry *entries,
			     size_t n, char **err);
int sluice_dp_policy_delete(struct sluice_datapath *dp, uint32_t ep_id);

/* Deletes CT entries of an endpoint (all of them when ep_id == 0). */
int sluice_dp_ct_flush(struct sluice_datapath *dp, uint32_t ep_id);

/* Events: fd to poll, and a drain call that invokes cb per record. */
typedef void (*sluice_dp_event_cb)(void *ctx, const struct sluice_flow_event *ev);
int sluice_dp_events_fd(struct sluice_datapath *dp);
int sluice_dp_events_drain(struct sluice_datapath *dp, sluice_dp_event_cb cb, void *ctx);

/* Sums of the per-CPU counters. */
int sluice_dp_stats(struct sluice_datapath *dp, uint64_t out[SLUICE_STAT_MAX]);

struct sluice_dp_map_fill {
	const char *name;
	uint32_t entries;
	uint32_t max_entries;
};
/* Fills up to n records; returns the number of maps. */
int sluice_dp_map_fill(struct sluice_datapath *dp, struct sluice_dp_map_fill *out, size_t n);

/* Names of attached programs, for `sluice status`. */
int sluice_dp_programs(struct sluice_datapath *dp, char ***names, size_t *n);

/*
 * Raw fds, for tests (BPF_PROG_TEST_RUN) and diagnostics (dumping CT):
 * a program by name ("from_container", "to_container"), a map by its
 * SLUICE_MAP_* name. -ENOENT if unknown. The fd stays owned by dp.
 */
int sluice_dp_program_fd(struct sluice_datapath *dp, const char *name);
int sluice_dp_map_fd(struct sluice_datapath *dp, const char *name);

#endif /* SLUICE_DATAPATH_H */
