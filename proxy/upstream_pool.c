/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upstream_pool.c - the idle upstream connections' index (upstream_pool.h).
 */
#include "upstream_pool.h"

#include <stddef.h>
#include <string.h>

void proxy_pool_init(struct proxy_pool *p, uint32_t max_per_key, uint32_t max_total)
{
	memset(p, 0, sizeof(*p));
	p->max_per_key = max_per_key;
	p->max_total = max_total;
}

void proxy_pool_key_of(struct proxy_pool_key *k, const struct proxy_flow *flow)
{
	/* zeroed whole: sockaddr padding never makes two equal keys differ */
	memset(k, 0, sizeof(*k));
	k->scope = flow->up_scope;
	k->ep_id = flow->ep_id;
	k->direction = flow->direction;
	k->dst.sa.sa_family = flow->orig_dst.sa.sa_family;
	if (flow->orig_dst.sa.sa_family == AF_INET6) {
		k->dst.in6.sin6_addr = flow->orig_dst.in6.sin6_addr;
		k->dst.in6.sin6_port = flow->orig_dst.in6.sin6_port;
		k->dst.in6.sin6_scope_id = flow->orig_dst.in6.sin6_scope_id;
	} else {
		k->dst.in.sin_addr = flow->orig_dst.in.sin_addr;
		k->dst.in.sin_port = flow->orig_dst.in.sin_port;
	}
}

static bool proxy_pool_key_eq(const struct proxy_pool_key *a, const struct proxy_pool_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* Over the key's 8-byte words (keys are zeroed before they are filled):
 * a multiply-rotate mix per word, then a final avalanche. A byte-wise hash
 * cost ~200 instructions per call here, twice per proxied request. */
static uint32_t proxy_pool_hash(const struct proxy_pool_key *k)
{
	uint64_t w[sizeof(*k) / sizeof(uint64_t)], h = 0x9e3779b97f4a7c15ull;

	_Static_assert(sizeof(*k) % sizeof(uint64_t) == 0, "the key is whole words");
	memcpy(w, k, sizeof(w));
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		h ^= w[i] * 0xff51afd7ed558ccdull;
		h = (h << 31 | h >> 33) * 0xc4ceb9fe1a85ec53ull;
	}
	h ^= h >> 29;
	return (uint32_t)(h ^ h >> 32);
}

bool proxy_pool_put(struct proxy_pool *p, struct proxy_pool_entry *e,
		    const struct proxy_pool_key *k, uint64_t now_ms)
{
	uint32_t h = proxy_pool_hash(k), same = 0, bi = h % PROXY_POOL_BUCKETS;
	struct proxy_pool_entry **b = &p->buckets[bi];

	if (e->pooled || p->count >= p->max_total)
		return false;
	/* entries of one key share a bucket: fewer in the bucket than the
	 * bound, and the key cannot be at it (no walk for a busy key's put) */
	if (p->nbucket[bi] >= p->max_per_key)
		for (struct proxy_pool_entry *x = *b; x; x = x->bnext)
			if (x->hash == h && proxy_pool_key_eq(&x->key, k) && ++same >= p->max_per_key)
				return false;
	e->key = *k;
	e->hash = h;
	e->idle_since_ms = now_ms;
	e->bprev = NULL;
	e->bnext = *b;
	if (*b)
		(*b)->bprev = e;
	*b = e;
	p->nbucket[bi]++;
	e->newer = NULL;
	e->older = p->newest;
	if (p->newest)
		p->newest->newer = e;
	else
		p->oldest = e;
	p->newest = e;
	e->pooled = true;
	p->count++;
	return true;
}

void proxy_pool_remove(struct proxy_pool *p, struct proxy_pool_entry *e)
{
	if (!e->pooled)
		return;
	if (e->bprev)
		e->bprev->bnext = e->bnext;
	else
		p->buckets[e->hash % PROXY_POOL_BUCKETS] = e->bnext;
	p->nbucket[e->hash % PROXY_POOL_BUCKETS]--;
	if (e->bnext)
		e->bnext->bprev = e->bprev;
	if (e->older)
		e->older->newer = e->newer;
	else
		p->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		p->newest = e->older;
	e->bprev = e->bnext = e->older = e->newer = NULL;
	e->pooled = false;
	p->count--;
}

struct proxy_pool_entry *proxy_pool_take(struct proxy_pool *p, const struct proxy_pool_key *k)
{
	uint32_t h = proxy_pool_hash(k);

	for (struct proxy_pool_entry *x = p->buckets[h % PROXY_POOL_BUCKETS]; x; x = x->bnext) {
		if (x->hash == h && proxy_pool_key_eq(&x->key, k)) {
			proxy_pool_remove(p, x);
			return x;
		}
	}
	return NULL;
}
