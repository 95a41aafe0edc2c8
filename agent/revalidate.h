/* SPDX-License-Identifier: Apache-2.0 */
/* revalidate.h - cut established connections whose right was revoked. */
#ifndef SLUICE_REVALIDATE_H
#define SLUICE_REVALIDATE_H

#include "agent.h"

/* Schedules a walk over conntrack right after the current change. */
void revalidate_soon(struct agent *a);
void revalidate_stop(struct agent *a);

/*
 * Destroys (SOCK_DESTROY) the connected UDP sockets inside the pod netns
 * /run/netns/NETNS whose peer is ip:port (host order) and which only(ctx,
 * cookie) accepts: their next call fails with ECONNABORTED. Returns how
 * many it destroyed.
 */
size_t revalidate_cut_udp_peer(const char *netns, uint32_t ip, uint16_t port,
			       bool (*only)(void *ctx, uint64_t cookie), void *ctx);

#endif
