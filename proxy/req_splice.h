/* SPDX-License-Identifier: Apache-2.0 */
/*
 * req_splice.h - the proxy's half of the request splice
 * (include/sluice/abi.h, "Request splice"): pairing a client connection
 * with its upstream connection's splice slot, handing the next request to
 * the kernel when idle, remembering what was allowed, and reading back
 * the exchanges the kernel carried.
 *
 * Handles are the splice handles of splice.h (slot + 1).
 */
#ifndef SLUICE_PROXY_REQ_SPLICE_H
#define SLUICE_PROXY_REQ_SPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/abi.h"

struct proxy_splice;
struct proxy_rq;

struct proxy_rq_maps {
	/* writes a verdict (agent mode: dp_proxy.h); 0 or a negative errno */
	int (*allow)(void *ctx, const struct sluice_rq_key *k);
	void *ctx;
};

/* What the rules of a connection are looked up by (proxy_rules_key). */
struct proxy_rq_ctx {
	uint32_t ep_id;
	uint32_t peer_identity;
	uint16_t port;
	uint8_t direction;
};

/* Claims a ring of rings[SLUICE_RQ_RINGS] (records: recs). NULL when none
 * is free, or without the maps. */
struct proxy_rq *proxy_rq_new(struct proxy_splice *sp, struct sluice_rq_ring *rings,
			      struct sluice_rq_rec *recs, const struct proxy_rq_maps *maps);
void proxy_rq_free(struct proxy_rq *rq);

/* A new rules table: no verdict remembered before counts any more. */
void proxy_rq_new_epoch(struct proxy_rq *rq);

/*
 * Pairs the client connection whose socket's key is client (the client's
 * own key, as the response splice has it) with the upstream connection of
 * slot h; rq stays OFF until proxy_rq_grant(). False when the entry could
 * not be written.
 */
bool proxy_rq_pair(struct proxy_rq *rq, uint32_t h, const struct sluice_sock_key *client,
		   const struct proxy_rq_ctx *ctx);
/* Undoes it (the proxy's socket is about to close, or the upstream is
 * given up): no request goes the kernel's way any more. An exchange the
 * kernel still carries is given up (its record ends unlogged as such). */
void proxy_rq_unpair(struct proxy_rq *rq, uint32_t h, const struct sluice_sock_key *client);

/* n bytes were read from the paired client's socket. */
void proxy_rq_read(struct proxy_rq *rq, uint32_t h, uint64_t n);
/* Idle, nothing buffered: the kernel may send the next request on
 * (OFF -> READY when every byte passed to the proxy was read). 1: now
 * READY, 0: it was already, -1: not now. */
int proxy_rq_grant(struct proxy_rq *rq, uint32_t h);
/*
 * Before the proxy handles client bytes of a paired connection: 0 when it
 * may (rq is OFF now), 1 when it must wait (the kernel carries an exchange
 * of this connection: the bytes come after it).
 */
int proxy_rq_reclaim(struct proxy_rq *rq, uint32_t h);
/* Before the proxy writes a request whose response it armed (splice.h),
 * every client byte read: once that response is DONE the kernel records
 * it (own) and may take the next request itself (OFF -> AFTER). */
bool proxy_rq_grant_after(struct proxy_rq *rq, uint32_t h);
/* rq as it is now (SLUICE_RQ_*). */
uint64_t proxy_rq_state(const struct proxy_rq *rq, uint32_t h);
/* Requests the kernel sent on for this pair so far (activity). */
uint64_t proxy_rq_taken(const struct proxy_rq *rq, uint32_t h);

/* An allowed request whose verdict depends on ctx, method, path and Host
 * alone: the kernel may send the same one on by itself from now on. */
void proxy_rq_allow(struct proxy_rq *rq, const struct proxy_rq_ctx *ctx, const char *method,
		    size_t mlen, const char *path, size_t plen, const char *host, size_t hlen);

/* The exchanges the kernel ended, in ring order as far as they are over;
 * returns how many were given to cb. A record of outcome 0 was given up
 * by proxy_rq_unpair(). */
typedef void (*proxy_rq_rec_cb)(void *ctx, const struct sluice_rq_rec *rec);
size_t proxy_rq_poll(struct proxy_rq *rq, proxy_rq_rec_cb cb, void *ctx);

#endif /* SLUICE_PROXY_REQ_SPLICE_H */
