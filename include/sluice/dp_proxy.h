/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dp_proxy.h - what the L7 proxy process needs from the kernel datapath:
 * the maps the agent pinned under its --bpf-root, opened by path, and the
 * socket set-up of its upstream leg for egress.
 *
 * The proxy learns, per accepted connection:
 *   ingress (sk_lookup steered it): getsockname() is the original
 *     destination (podIP:port), getpeername() the real client; the peer's
 *     identity is sluice_dp_proxy_identity(client address). Upstream: connect
 *     from inside the pod's netns to podIP:port (reaches the real server).
 *   egress (connect4 steered it): getpeername() is 127.0.0.1:port of the
 *     client in the pod; sluice_dp_proxy_orig_dst() with that and the
 *     listener's netns cookie gives the original destination and identity.
 *     Upstream: sluice_dp_proxy_upstream_socket() from the pod's netns, with
 *     the pod's address, registered in proxy_flows so tc lets it out.
 *
 * Functions return 0 or a negative errno; -ENOENT means "no entry".
 */
#ifndef SLUICE_DP_PROXY_H
#define SLUICE_DP_PROXY_H

#include <stdint.h>

#include "sluice/abi.h"

struct sluice_dp_proxy;

/* Opens the pinned maps; *err (malloc'd) says which one failed and why. */
int sluice_dp_proxy_open(struct sluice_dp_proxy **out, const char *bpf_root, char **err);
void sluice_dp_proxy_close(struct sluice_dp_proxy *p);

/* The identity of an address (IPv4-mapped), as the datapath judges it:
 * the longest ipcache prefix, world (2) when none matches. */
uint32_t sluice_dp_proxy_identity(struct sluice_dp_proxy *p, const uint8_t addr[16]);

/* The original destination of an egress connection the proxy accepted. */
int sluice_dp_proxy_orig_dst(struct sluice_dp_proxy *p, const uint8_t client_addr[16],
			     uint16_t client_port, uint64_t netns_cookie,
			     struct sluice_orig_dst *out);

/* Registers / forgets an upstream connection (the tuple as the pod sends it). */
int sluice_dp_proxy_flow_add(struct sluice_dp_proxy *p, const struct sluice_proxy_flow_key *k);
int sluice_dp_proxy_flow_del(struct sluice_dp_proxy *p, const struct sluice_proxy_flow_key *k);

/*
 * For a proxy that owns its in-pod listeners (instead of receiving them from
 * the agent): a non-blocking socket listening on 127.0.0.1:SLUICE_PROXY_PORT
 * in the pod's netns (netns_fd; the calling thread enters it and leaves it
 * again), registered as the pod's listener. When the proxy exits, the socket
 * closes and its entry disappears: the pod's L7 flows fail closed at once.
 * The agent must still have attached sk_lookup to that netns first.
 */
int sluice_dp_proxy_listener_add(struct sluice_dp_proxy *p, uint32_t ep_id, int netns_fd,
				 int *fd_out);
int sluice_dp_proxy_listener_del(struct sluice_dp_proxy *p, uint32_t ep_id);

/*
 * Takes a connected socket of the proxy out of the sk_msg fast path (the
 * socks SOCKHASH), e.g. one that carries TLS: the redirect must never be
 * a way around encryption (with kTLS it would see plaintext). 0 when it is
 * out (or the agent runs without the fast path), -errno otherwise.
 */
int sluice_dp_proxy_sock_forget(struct sluice_dp_proxy *p, int fd);

/* The netns cookie of the netns a socket lives in (e.g. a pod listener). */
int sluice_dp_proxy_sock_netns_cookie(int fd, uint64_t *out);

/*
 * The upstream leg of an egress connection: a non-blocking TCP socket made
 * in the pod's netns (netns_fd), bound to the pod's address (src_v4, network
 * order) and an ephemeral port, registered in proxy_flows under its tuple to
 * dst_v4:dport, and connecting (EINPROGRESS is the normal case: wait for
 * writability). *key_out is the tuple to pass to sluice_dp_proxy_flow_del
 * after close. The calling thread enters the netns and leaves it again.
 */
int sluice_dp_proxy_upstream_socket(struct sluice_dp_proxy *p, int netns_fd, uint32_t src_v4,
				    uint32_t dst_v4, uint16_t dport, int *fd_out,
				    struct sluice_proxy_flow_key *key_out);

/*
 * The response splice (abi.h, "Response splice"): the slots, mmap'd (NULL
 * while the agent has not pinned the splice maps: each call looks again,
 * a proxy may start before the agent has loaded everything), and the entry
 * naming an upstream socket's slot. Proxies claim slots (proxy/splice.c).
 */
struct sluice_splice_slot *sluice_dp_proxy_splice_slots(struct sluice_dp_proxy *p);
int sluice_dp_proxy_splice_bind(struct sluice_dp_proxy *p, const struct sluice_sock_key *up,
				uint32_t slot, uint32_t gen);
int sluice_dp_proxy_splice_unbind(struct sluice_dp_proxy *p, const struct sluice_sock_key *up);
/*
 * The request splice (abi.h, "Request splice"): the rings and their
 * records, mmap'd (false while the agent has not pinned them, or an older
 * agent has none), and writing a verdict.
 */
bool sluice_dp_proxy_req_maps(struct sluice_dp_proxy *p, struct sluice_rq_ring **rings,
			      struct sluice_rq_rec **recs);
int sluice_dp_proxy_req_allow(struct sluice_dp_proxy *p, const struct sluice_rq_key *k);

#endif /* SLUICE_DP_PROXY_H */
