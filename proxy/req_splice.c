/* SPDX-License-Identifier: Apache-2.0 */
/*
 * req_splice.c - the proxy's half of the request splice (req_splice.h).
 *
 * Ring: one of SLUICE_RQ_RINGS, claimed by pid as splice slots are (a
 * replaced proxy drains on its own ring while the new one serves). The
 * kernel reserves records by fetch-and-add on head and never past
 * tail + SLUICE_RQ_RING_LEN - SLUICE_RQ_RING_SLACK; a record is over when
 * its done word says seq + 1. Records end out of order (a long response
 * holds its record while shorter ones behind it end): the poll hands over
 * every ended one once (seen[]) and moves tail over the ended prefix, so
 * the kernel never reuses a record not yet read.
 *
 * Ordering: the proxy writes rq only by compare-and-swap (OFF <-> READY)
 * and the counts of bytes it read with release stores; the program moves
 * rq READY -> BUSY -> TAKEN/OFF and completes a record (fields, then done
 * by compare-and-swap) before it moves rq on.
 */
#include "req_splice.h"

#include "splice.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define RQ_DEDUP 4096 /* verdicts written this epoch, by key hash (direct-mapped) */

struct proxy_rq {
	struct proxy_splice *sp;
	struct proxy_rq_maps maps;
	struct sluice_rq_ring *ring;
	struct sluice_rq_rec *recs;   /* this ring's SLUICE_RQ_RING_LEN records */
	uint32_t index;
	uint64_t epoch;
	uint64_t dedup[RQ_DEDUP];
	uint8_t seen[SLUICE_RQ_RING_LEN]; /* ended records already handed over */
};

/* The epoch: the ring and the pid in the high bits, so that no two
 * proxies (nor two lives of one pid's ring) share one. */
static uint64_t rq_epoch_first(uint32_t pid, uint32_t index)
{
	return ((uint64_t)pid << 32) | ((uint64_t)index << 28) | 1;
}

struct proxy_rq *proxy_rq_new(struct proxy_splice *sp, struct sluice_rq_ring *rings,
			      struct sluice_rq_rec *recs, const struct proxy_rq_maps *maps)
{
	uint32_t pid;

	if (!sp || !rings || !recs)
		return NULL;
	pid = proxy_splice_pid(sp);
	/* a proxy that died (kill -9) left its verdicts behind: void them now,
	 * before anything else, whatever ring this one gets (its connections'
	 * clients may still send into the half-closed sockets) */
	for (uint32_t i = 0; i < SLUICE_RQ_RINGS; i++) {
		uint32_t owner = __atomic_load_n(&rings[i].owner, __ATOMIC_ACQUIRE);

		if (owner && owner != pid && kill((pid_t)owner, 0) < 0 && errno == ESRCH)
			__atomic_store_n(&rings[i].epoch, 0, __ATOMIC_RELEASE);
	}
	for (uint32_t i = 0; i < SLUICE_RQ_RINGS; i++) {
		struct sluice_rq_ring *r = &rings[i];
		uint32_t owner = __atomic_load_n(&r->owner, __ATOMIC_ACQUIRE);
		struct proxy_rq *rq;

		if (owner && owner != pid && !(kill((pid_t)owner, 0) < 0 && errno == ESRCH))
			continue;
		if (!__atomic_compare_exchange_n(&r->owner, &owner, pid, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		if (!(rq = calloc(1, sizeof(*rq)))) {
			__atomic_store_n(&r->owner, 0, __ATOMIC_RELEASE);
			return NULL;
		}
		rq->sp = sp;
		rq->maps = *maps;
		rq->ring = r;
		rq->index = i;
		rq->recs = recs + (size_t)i * SLUICE_RQ_RING_LEN;
		/* a dead owner's records are nobody's: start where the kernel is */
		__atomic_store_n(&r->tail, __atomic_load_n(&r->head, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
		rq->epoch = rq_epoch_first(pid, i);
		__atomic_store_n(&r->epoch, rq->epoch, __ATOMIC_RELEASE);
		return rq;
	}
	return NULL;
}

void proxy_rq_free(struct proxy_rq *rq)
{
	if (!rq)
		return;
	/* no key of ours matches any more */
	__atomic_store_n(&rq->ring->epoch, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&rq->ring->owner, 0, __ATOMIC_RELEASE);
	free(rq);
}

void proxy_rq_new_epoch(struct proxy_rq *rq)
{
	if (!rq)
		return;
	rq->epoch++;
	memset(rq->dedup, 0, sizeof(rq->dedup));
	__atomic_store_n(&rq->ring->epoch, rq->epoch, __ATOMIC_RELEASE);
}

/* The key of the socket at the other end of the one whose key is k. */
static void rq_key_reverse(struct sluice_sock_key *out, const struct sluice_sock_key *k)
{
	*out = *k;
	memcpy(out->local_addr, k->remote_addr, 16);
	memcpy(out->remote_addr, k->local_addr, 16);
	out->local_port = k->remote_port;
	out->remote_port = k->local_port;
}

bool proxy_rq_pair(struct proxy_rq *rq, uint32_t h, const struct sluice_sock_key *client,
		   const struct proxy_rq_ctx *ctx)
{
	struct sluice_splice_slot *s;
	struct sluice_sock_key ours;

	if (!rq || !(s = proxy_splice_slot_mut(rq->sp, h)))
		return false;
	__atomic_store_n(&s->rq, SLUICE_RQ_OFF, __ATOMIC_RELAXED);
	s->client = *client;
	rq_key_reverse(&s->server, proxy_splice_up_key(rq->sp, h));
	s->ep_id = ctx->ep_id;
	s->peer_identity = ctx->peer_identity;
	s->port = ctx->port;
	s->direction = ctx->direction;
	s->ring = (uint8_t)rq->index;
	s->self = h - 1;
	s->rq_passed = 0;
	__atomic_store_n(&s->rq_read, 0, __ATOMIC_RELEASE);
	/* the client sends to our socket: its key is the client's reversed */
	rq_key_reverse(&ours, client);
	return proxy_splice_bind_key(rq->sp, &ours, (h - 1) | SLUICE_SPLICE_REF_CLIENT,
				     __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE)) == 0;
}

void proxy_rq_unpair(struct proxy_rq *rq, uint32_t h, const struct sluice_sock_key *client)
{
	struct sluice_splice_slot *s;
	struct sluice_sock_key ours;
	__u64 st;

	if (!rq || !(s = proxy_splice_slot_mut(rq->sp, h)))
		return;
	rq_key_reverse(&ours, client);
	proxy_splice_unbind_key(rq->sp, &ours);
	/* READY or OFF: nothing under way; else give the exchange up */
	st = __atomic_load_n(&s->rq, __ATOMIC_ACQUIRE);
	if (st == SLUICE_RQ_TAKEN || st == SLUICE_RQ_HOLD || st == SLUICE_RQ_BUSY) {
		__u64 seq = s->rq_seq, zero = 0;
		struct sluice_rq_rec *rec = &rq->recs[seq & (SLUICE_RQ_RING_LEN - 1)];

		if (__atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) == seq)
			__atomic_compare_exchange_n(&rec->done, &zero, seq + 1, false,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
	__atomic_store_n(&s->rq, SLUICE_RQ_OFF, __ATOMIC_RELEASE);
}

void proxy_rq_read(struct proxy_rq *rq, uint32_t h, uint64_t n)
{
	struct sluice_splice_slot *s = rq ? proxy_splice_slot_mut(rq->sp, h) : NULL;

	if (s)
		__atomic_store_n(&s->rq_read, s->rq_read + n, __ATOMIC_RELEASE);
}

int proxy_rq_grant(struct proxy_rq *rq, uint32_t h)
{
	struct sluice_splice_slot *s = rq ? proxy_splice_slot_mut(rq->sp, h) : NULL;
	__u64 off = SLUICE_RQ_OFF;

	if (!s || __atomic_load_n(&s->rq_passed, __ATOMIC_ACQUIRE) != s->rq_read ||
	    __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SLUICE_SPLICE_IDLE)
		return -1;
	if (__atomic_compare_exchange_n(&s->rq, &off, SLUICE_RQ_READY, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return 1;
	return off == SLUICE_RQ_READY ? 0 : -1;
}

int proxy_rq_reclaim(struct proxy_rq *rq, uint32_t h)
{
	struct sluice_splice_slot *s = rq ? proxy_splice_slot_mut(rq->sp, h) : NULL;
	__u64 st;

	if (!s)
		return 0;
	st = __atomic_load_n(&s->rq, __ATOMIC_ACQUIRE);
	if ((st == SLUICE_RQ_READY || st == SLUICE_RQ_AFTER) &&
	    __atomic_compare_exchange_n(&s->rq, &st, SLUICE_RQ_OFF, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return 0;
	return st == SLUICE_RQ_OFF ? 0 : 1;
}

bool proxy_rq_grant_after(struct proxy_rq *rq, uint32_t h)
{
	struct sluice_splice_slot *s = rq ? proxy_splice_slot_mut(rq->sp, h) : NULL;
	__u64 off = SLUICE_RQ_OFF;

	if (!s || __atomic_load_n(&s->rq_passed, __ATOMIC_ACQUIRE) != s->rq_read)
		return false;
	return __atomic_compare_exchange_n(&s->rq, &off, SLUICE_RQ_AFTER, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

uint64_t proxy_rq_state(const struct proxy_rq *rq, uint32_t h)
{
	struct sluice_splice_slot *s = rq ? proxy_splice_slot_mut(rq->sp, h) : NULL;

	return s ? __atomic_load_n(&s->rq, __ATOMIC_ACQUIRE) : SLUICE_RQ_OFF;
}

uint64_t proxy_rq_taken(const struct proxy_rq *rq, uint32_t h)
{
	struct sluice_splice_slot *s = rq ? proxy_splice_slot_mut(rq->sp, h) : NULL;

	return s ? __atomic_load_n(&s->rq_taken, __ATOMIC_RELAXED) : 0;
}

/* FNV-1a over the key's used bytes */
static uint64_t rq_key_hash(const struct sluice_rq_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	size_t n = offsetof(struct sluice_rq_key, text) + k->method_len + k->target_len +
		   k->host_len;
	uint64_t x = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		x = (x ^ p[i]) * 0x100000001b3ull;
	return x | 1;
}

void proxy_rq_allow(struct proxy_rq *rq, const struct proxy_rq_ctx *ctx, const char *method,
		    size_t mlen, const char *path, size_t plen, const char *host, size_t hlen)
{
	struct sluice_rq_key k;
	uint64_t x;

	if (!rq || mlen > 7 || plen > SLUICE_RQ_TEXT_MAX || hlen > SLUICE_RQ_TEXT_MAX ||
	    mlen + plen + hlen > SLUICE_RQ_TEXT_MAX)
		return;
	memset(&k, 0, sizeof(k));
	k.epoch = rq->epoch;
	k.ep_id = ctx->ep_id;
	k.peer_identity = ctx->peer_identity;
	k.port = ctx->port;
	k.direction = ctx->direction;
	k.method_len = (uint16_t)mlen;
	k.target_len = (uint16_t)plen;
	k.host_len = (uint16_t)hlen;
	memcpy(k.text, method, mlen);
	memcpy(k.text + mlen, path, plen);
	memcpy(k.text + mlen + plen, host, hlen);
	x = rq_key_hash(&k);
	if (rq->dedup[x % RQ_DEDUP] == x)
		return; /* written this epoch already (as far as we know: LRU) */
	if (rq->maps.allow(rq->maps.ctx, &k) == 0)
		rq->dedup[x % RQ_DEDUP] = x;
}

size_t proxy_rq_poll(struct proxy_rq *rq, proxy_rq_rec_cb cb, void *ctx)
{
	uint64_t tail, head, seq;
	size_t n = 0;

	if (!rq)
		return 0;
	tail = __atomic_load_n(&rq->ring->tail, __ATOMIC_RELAXED);
	head = __atomic_load_n(&rq->ring->head, __ATOMIC_ACQUIRE);
	/* head can run past what the ring holds only by racing reservations
	 * (SLUICE_RQ_RING_SLACK); never look at more than the ring */
	if (head - tail > SLUICE_RQ_RING_LEN)
		head = tail + SLUICE_RQ_RING_LEN;
	for (seq = tail; seq != head; seq++) {
		uint32_t i = (uint32_t)(seq & (SLUICE_RQ_RING_LEN - 1));
		const struct sluice_rq_rec *rec = &rq->recs[i];

		if (rq->seen[i] || __atomic_load_n(&rec->done, __ATOMIC_ACQUIRE) != seq + 1)
			continue;
		rq->seen[i] = 1;
		cb(ctx, rec);
		n++;
	}
	/* tail over the prefix handed over */
	for (seq = tail; seq != head; seq++) {
		uint32_t i = (uint32_t)(seq & (SLUICE_RQ_RING_LEN - 1));

		if (!rq->seen[i])
			break;
		rq->seen[i] = 0;
	}
	if (seq != tail)
		__atomic_store_n(&rq->ring->tail, seq, __ATOMIC_RELEASE);
	return n;
}
