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
 * does not match this build's are detected, replaced, and reported as a
 * warning line: on success *warnings (when not NULL) is NULL or holds
 * newline-separated warnings for the caller to log and free; a failure
 * returns -errno with the reason in *err and never sets *warnings.
 * *adopted tells whether existing pins were reused. After open, re-attach
 * every endpoint: filters left by a previous agent still run the previous
 * programs until replaced.
 */
int sluice_dp_open(struct sluice_datapath **out, const char *bpf_root,
		   bool *adopted, char **warnings, char **err);
/* The same with the sizes of the maps the agent chooses (0: the default). */
struct sluice_dp_options {
	uint32_t service_max_entries; /* SLUICE_MAP_SERVICES */
	uint32_t backend_max_entries; /* SLUICE_MAP_BACKENDS */
};
int sluice_dp_open_opts(struct sluice_datapath **out, const char *bpf_root,
			const struct sluice_dp_options *opts, bool *adopted, char **warnings,
			char **err);
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
/* 1 when both programs of this datapath are attached to ifindex, else 0 */
int sluice_dp_endpoint_attached(struct sluice_datapath *dp, int ifindex);

int sluice_dp_endpoint_update(struct sluice_datapath *dp, int ifindex,
			      const struct sluice_endpoint *ep);
int sluice_dp_endpoint_delete(struct sluice_datapath *dp, int ifindex);

int sluice_dp_ipcache_update(struct sluice_datapath *dp, const uint8_t addr[16],
			     unsigned prefixlen, uint32_t identity, uint32_t flags);
/* n entries (flags 0) in one batch where the kernel allows, else one by one */
int sluice_dp_ipcache_update_many(struct sluice_datapath *dp, const uint8_t (*addrs)[16],
				  const uint8_t *prefixlens, const uint32_t *identities, size_t n);
int sluice_dp_ipcache_delete(struct sluice_datapath *dp, const uint8_t addr[16],
			     unsigned prefixlen);
/* The same for n prefixes, in as few calls as the kernel allows; prefixes
 * already gone are skipped. */
int sluice_dp_ipcache_delete_many(struct sluice_datapath *dp, const uint8_t (*addrs)[16],
				  const uint8_t *prefixlens, size_t n);

/*
 * Replaces an endpoint's whole policy in one atomic step: a new inner map
 * is built and filled aside, then swapped into the outer map with one
 * update, so no packet is judged by a half-written policy.
 */
int sluice_dp_policy_replace(struct sluice_datapath *dp, uint32_t ep_id,
			     const struct sluice_policy_map_entry *entries,
			     size_t n, char **err);
/*
 * The two halves of sluice_dp_policy_replace(). prepare builds and fills
 * the new inner map aside (*fd_out; nothing any packet sees, and it touches
 * no datapath state, so it may run on another thread); install_many swaps
 * prepared maps in. A prepared map that is not installed is dropped by
 * closing its fd.
 */
int sluice_dp_policy_prepare(uint32_t ep_id, const struct sluice_policy_map_entry *entries, size_t n,
			     int *fd_out, char **err);
/* n prepared maps installed in one update call (the kernel's grace-period
 * wait is paid once, not per endpoint); every fd is closed. A failure may
 * leave the first ones installed, each whole. */
int sluice_dp_policy_install_many(struct sluice_datapath *dp, const uint32_t *ep_ids, const int *fds,
				  size_t n, char **err);
/*
 * Changes the endpoint's live trie entry by entry: dels removed, then sets
 * written. Each write is atomic on its own, so the caller uses this only
 * when no packet's verdict depends on two of the changed keys (see
 * agent/regenerate.c); otherwise sluice_dp_policy_replace() swaps.
 */
int sluice_dp_policy_patch(struct sluice_datapath *dp, uint32_t ep_id,
			   const struct sluice_policy_key *dels, size_t ndels,
			   const struct sluice_policy_map_entry *sets, size_t nsets, char **err);
int sluice_dp_policy_delete(struct sluice_datapath *dp, uint32_t ep_id);

/* Deletes CT entries of an endpoint (all of them when ep_id == 0). */
int sluice_dp_ct_flush(struct sluice_datapath *dp, uint32_t ep_id);

/*
 * L7 steering (see bpf/README.md). What each piece is for:
 *   ep_addr      pod address -> ep_id            (sk_lookup: whose netns is this)
 *   netns_ep     pod netns cookie -> ep_id       (connect4: whose socket is this)
 *   listener     ep_id -> the proxy's listening socket in the pod's netns,
 *                127.0.0.1:SLUICE_PROXY_PORT (sluice_dp_proxy_listen_in_netns)
 *   proxy up     whether a proxy serves the listeners; 0 = fail closed
 *
 * Order for a new pod (each step is idempotent):
 *   1. sluice_dp_ep_addr_update, sluice_dp_netns_ep_update (cookie from
 *      sluice_dp_netns_cookie), the endpoint, ipcache and policy as today;
 *   2. sluice_dp_attach_netns (sk_lookup), then sluice_dp_proxy_listener_set:
 *      tc lets a redirected flow in only while the listener is in the map,
 *      so the listener must come after the steering that uses it;
 *   3. once per agent: sluice_dp_attach_cgroups, sluice_dp_proxy_set_up(true)
 *      when the proxy serves, (false) when it stops.
 * Removal: sluice_dp_detach_netns (deletes the listener first), then the
 * rest. Without step 2 or with the proxy down, L7 flows are dropped
 * (ingress) or refused with EPERM (egress connect), never let through.
 */

/*
 * connect4 on pods_cgroup (the parent of every pod's cgroup; refused on a
 * cgroup2 root) and sock_ops on root_cgroup (an ancestor of pods_cgroup and
 * of the cgroup the proxy runs in). Links pinned under bpf_root/links/;
 * called again with the same cgroups it swaps programs in place, with
 * another cgroup it moves the link without a gap.
 */
int sluice_dp_attach_cgroups(struct sluice_datapath *dp, const char *pods_cgroup,
			     const char *root_cgroup, char **err);
int sluice_dp_detach_cgroups(struct sluice_datapath *dp);

/* sk_lookup in a pod's netns (netns_path: /proc/PID/ns/net or a bind
 * mount), pinned as links/sk_lookup_<ep_id>. Detach also deletes the pod's
 * proxy listener entry, first. Both idempotent. */
int sluice_dp_attach_netns(struct sluice_datapath *dp, uint32_t ep_id, const char *netns_path,
			   char **err);
int sluice_dp_detach_netns(struct sluice_datapath *dp, uint32_t ep_id);

int sluice_dp_ep_addr_update(struct sluice_datapath *dp, const uint8_t addr[16], uint32_t ep_id);
int sluice_dp_ep_addr_delete(struct sluice_datapath *dp, const uint8_t addr[16]);
int sluice_dp_netns_ep_update(struct sluice_datapath *dp, uint64_t netns_cookie, uint32_t ep_id);
int sluice_dp_netns_ep_delete(struct sluice_datapath *dp, uint64_t netns_cookie);
/* listen_fd: a listening TCP socket in the pod's netns. The map keeps its
 * own reference; closing the socket everywhere removes the entry. */
int sluice_dp_proxy_listener_set(struct sluice_datapath *dp, uint32_t ep_id, int listen_fd);
int sluice_dp_proxy_listener_delete(struct sluice_datapath *dp, uint32_t ep_id);
int sluice_dp_proxy_set_up(struct sluice_datapath *dp, bool up);

/* The cookie (SO_NETNS_COOKIE) of the netns behind netns_fd. Enters it with
 * setns() in the calling thread only, and returns. */
int sluice_dp_netns_cookie(int netns_fd, uint64_t *out);
/* A non-blocking TCP socket listening on 127.0.0.1:port inside the netns
 * behind netns_fd (same setns dance): the proxy's in-pod listener. */
int sluice_dp_proxy_listen_in_netns(int netns_fd, uint16_t port, int *out_fd);

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
/* Fills up to n records; returns the number of maps (never more than
 * SLUICE_DP_MAPS_MAX, the size for a caller's array). */
#define SLUICE_DP_MAPS_MAX 32
int sluice_dp_map_fill(struct sluice_datapath *dp, struct sluice_dp_map_fill *out, size_t n);

/* Names of attached programs, for `sluice status`. */
int sluice_dp_programs(struct sluice_datapath *dp, char ***names, size_t *n);

/*
 * Raw fds, for tests (BPF_PROG_TEST_RUN) and diagnostics (dumping CT):
 * a program by name ("from_container", "to_container", "sk_lookup_proxy",
 * "sock_connect4", "sock_ops_established", "sk_msg_redirect"), a map by its
 * SLUICE_MAP_* name. -ENOENT if unknown. The fd stays owned by dp.
 */
int sluice_dp_program_fd(struct sluice_datapath *dp, const char *name);
int sluice_dp_map_fd(struct sluice_datapath *dp, const char *name);

/*
 * Revalidation after a policy or identity change: the identity the datapath
 * gives an address (a miss is world), the verdict it would give a new flow
 * now, a walk over the conntrack entries (the callback returns true to
 * delete one), and taking a socket off the sk_msg fast path.
 */
int sluice_dp_ipcache_lookup(struct sluice_datapath *dp, const uint8_t addr[16], uint32_t *identity);
int sluice_dp_policy_verdict(struct sluice_datapath *dp, uint32_t ep_id, uint32_t peer_identity,
			     uint8_t direction, uint8_t protocol, uint16_t dport, bool enforced,
			     bool *allowed);
/* The same, against an inner map fd the caller keeps (one per endpoint for
 * a whole walk); sluice_dp_policy_inner_fd returns a new fd, or -ENOENT. */
int sluice_dp_policy_inner_fd(struct sluice_datapath *dp, uint32_t ep_id);
int sluice_dp_policy_verdict_fd(int inner_fd, uint32_t peer_identity, uint8_t direction,
				uint8_t protocol, uint16_t dport, bool enforced, bool *allowed);
typedef bool (*sluice_dp_ct_cb)(void *ctx, const struct sluice_ct_key *key,
				const struct sluice_ct_entry *val);
int sluice_dp_ct_foreach(struct sluice_datapath *dp, sluice_dp_ct_cb cb, void *ctx);
/* Walks the established sockets of the fast path with their side
 * (SLUICE_SOCK_ACTIVE / _PASSIVE); the callback returns true to forget one. */
typedef bool (*sluice_dp_sock_cb)(void *ctx, const struct sluice_sock_key *key, uint8_t side);
int sluice_dp_sock_sides_foreach(struct sluice_datapath *dp, sluice_dp_sock_cb cb, void *ctx);
int sluice_dp_socks_cookie(struct sluice_datapath *dp, const uint8_t local[16], uint16_t lport,
			   const uint8_t remote[16], uint16_t rport, uint64_t *cookie);
int sluice_dp_socks_delete(struct sluice_datapath *dp, const uint8_t local[16], uint16_t lport,
			   const uint8_t remote[16], uint16_t rport);

#endif /* SLUICE_DATAPATH_H */
