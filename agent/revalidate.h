/* SPDX-License-Identifier: Apache-2.0 */
/* revalidate.h - cut established connections whose right was revoked. */
#ifndef SLUICE_REVALIDATE_H
#define SLUICE_REVALIDATE_H

#include "agent.h"

/* Schedules a walk over conntrack right after the current change. */
void revalidate_soon(struct agent *a);
void revalidate_stop(struct agent *a);

/* A UDP peer, host order */
struct revalidate_udp_peer {
	uint32_t ip;
	uint16_t port;
};

/*
 * Destroys (SOCK_DESTROY) the connected UDP sockets inside the pod netns
 * /run/netns/NETNS whose peer is one of peers[0..n) and which only(ctx,
 * cookie, that peer) accepts: their next call fails with ECONNABORTED. One
 * dump of the netns' sockets for all the peers. Returns how many it
 * destroyed.
 */
size_t revalidate_cut_udp_peers(const char *netns, const struct revalidate_udp_peer *peers, size_t n,
				bool (*only)(void *ctx, uint64_t cookie,
					     const struct revalidate_udp_peer *peer),
				void *ctx);

#endif
