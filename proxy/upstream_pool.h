/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upstream_pool.h - idle upstream connections kept for the next request,
 * as a data structure only (no I/O, no clock): proxy.c owns the sockets,
 * watches them while they wait here and closes what this says to close.
 *
 * Two upstream connections are interchangeable only when everything the
 * server (and the datapath) can tell about them is the same: the key holds
 * the resolver's scope (agent mode: the endpoint, i.e. the pod's netns and
 * the source address its sockets are bound to), the endpoint id and
 * direction (which decide the steering and the egress registration), and
 * the destination address and port. TLS-originating upstreams are never
 * pooled (proxy.c), so no TLS parameters are in the key.
 *
 * An entry is embedded in its connection (intrusive lists): a bucket list
 * per key hash, newest first (a connection taken is the one that waited the
 * least: warm, and the others age out), and one list of all entries oldest
 * first for the idle timeout.
 */
#ifndef SLUICE_PROXY_UPSTREAM_POOL_H
#define SLUICE_PROXY_UPSTREAM_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "resolver.h"

#define PROXY_POOL_BUCKETS 256u

struct proxy_pool_key {
	const void *scope;      /* resolver's (flow->up_scope); NULL in static mode */
	uint32_t ep_id;
	uint8_t direction;
	union proxy_sockaddr dst;
};

struct proxy_pool_entry {
	struct proxy_pool_entry *bprev, *bnext; /* in its bucket, newest first */
	struct proxy_pool_entry *older, *newer; /* in the pool, for expiry */
	struct proxy_pool_key key;
	uint32_t hash;
	uint64_t idle_since_ms;
	bool pooled;
};

struct proxy_pool {
	struct proxy_pool_entry *buckets[PROXY_POOL_BUCKETS];
	uint32_t nbucket[PROXY_POOL_BUCKETS]; /* entries per bucket */
	struct proxy_pool_entry *oldest, *newest;
	uint32_t count;
	uint32_t max_per_key, max_total;
};

void proxy_pool_init(struct proxy_pool *p, uint32_t max_per_key, uint32_t max_total);
/* The key of a flow's upstream connection. */
void proxy_pool_key_of(struct proxy_pool_key *k, const struct proxy_flow *flow);
/* Adds e under k; false (and e not added) when k already has max_per_key
 * idle connections or the pool max_total: the caller closes it instead. */
bool proxy_pool_put(struct proxy_pool *p, struct proxy_pool_entry *e,
		    const struct proxy_pool_key *k, uint64_t now_ms);
/* The newest idle entry for k, removed from the pool; NULL if none. */
struct proxy_pool_entry *proxy_pool_take(struct proxy_pool *p, const struct proxy_pool_key *k);
/* Removes e (pooled) from the pool. */
void proxy_pool_remove(struct proxy_pool *p, struct proxy_pool_entry *e);
static inline struct proxy_pool_entry *proxy_pool_oldest(const struct proxy_pool *p)
{
	return p->oldest;
}

#endif /* SLUICE_PROXY_UPSTREAM_POOL_H */
