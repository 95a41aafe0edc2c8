/* SPDX-License-Identifier: Apache-2.0 */
/*
 * splice.c - the proxy's half of the response splice (splice.h).
 *
 * The slots live in an mmap'd BPF array shared with the sk_msg program, so
 * arming one and reading it back cost no system call; only attaching and
 * detaching an upstream connection (once per connection, which the pool
 * keeps for many requests) touch the splice hash. Ordering: the proxy
 * writes the client key before the state (release), the program takes
 * ARMED with a compare-and-swap and writes status and counts before the
 * state it ends in; the proxy reads the state first (acquire).
 *
 * Ownership: a replaced proxy drains its connections while the new one
 * serves, and both map the same slots. A proxy uses only slots it claimed
 * (owner 0 -> its pid, compare-and-swap), keeps them for its life and
 * frees them when it exits; a slot whose owner died without freeing it is
 * claimed again. Every claim and every detach raises the slot's generation,
 * so no hash entry written before (by this proxy or another) can reach it.
 */
#include "splice.h"

#include "../common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

struct proxy_splice {
	struct proxy_splice_maps maps;
	struct sluice_splice_slot *slots;
	uint32_t pid;
	uint32_t cursor;                                  /* where claiming goes on */
	uint32_t nfree;                                   /* claimed, not in use */
	uint32_t free[SLUICE_SPLICE_SLOTS];
	bool mine[SLUICE_SPLICE_SLOTS];                   /* claimed by us */
	struct sluice_sock_key keys[SLUICE_SPLICE_SLOTS]; /* each slot's upstream */
};

struct proxy_splice *proxy_splice_new(struct sluice_splice_slot *slots,
				      const struct proxy_splice_maps *maps)
{
	struct proxy_splice *sp;

	if (!slots || !(sp = calloc(1, sizeof(*sp))))
		return NULL;
	sp->maps = *maps;
	sp->slots = slots;
	sp->pid = (uint32_t)getpid();
	return sp;
}

/* The next generation of a slot we own: never 0 (a fresh map's value). */
static void splice_next_gen(struct sluice_splice_slot *s)
{
	uint32_t g = __atomic_load_n(&s->gen, __ATOMIC_RELAXED) + 1;

	__atomic_store_n(&s->gen, g ? g : 1, __ATOMIC_RELEASE);
}

void proxy_splice_free(struct proxy_splice *sp)
{
	if (!sp)
		return;
	for (uint32_t i = 0; i < SLUICE_SPLICE_SLOTS; i++) {
		struct sluice_splice_slot *s = &sp->slots[i];

		if (!sp->mine[i])
			continue;
		splice_next_gen(s);
		__atomic_store_n(&s->state, SLUICE_SPLICE_IDLE, __ATOMIC_RELAXED);
		__atomic_store_n(&s->owner, 0, __ATOMIC_RELEASE);
	}
	free(sp);
}

/* A slot owned by nobody, or by a proxy that is gone (or by an earlier
 * process with our pid: a restarted container's). */
static bool splice_claim(struct proxy_splice *sp, uint32_t i)
{
	struct sluice_splice_slot *s = &sp->slots[i];
	uint32_t owner = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);

	if (sp->mine[i])
		return false;
	if (owner && owner != sp->pid && !(kill((pid_t)owner, 0) < 0 && errno == ESRCH))
		return false;
	if (!__atomic_compare_exchange_n(&s->owner, &owner, sp->pid, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return false;
	sp->mine[i] = true;
	splice_next_gen(s);
	__atomic_store_n(&s->state, SLUICE_SPLICE_IDLE, __ATOMIC_RELEASE);
	__atomic_store_n(&s->rq, SLUICE_RQ_OFF, __ATOMIC_RELEASE);
	return true;
}

/* A slot of ours that no connection uses: from the free list, else one more
 * claimed (a bounded scan from where the last one stopped). */
static int64_t splice_take(struct proxy_splice *sp)
{
	if (sp->nfree)
		return sp->free[--sp->nfree];
	for (uint32_t n = 0; n < SLUICE_SPLICE_SLOTS; n++) {
		uint32_t i = sp->cursor;

		sp->cursor = (sp->cursor + 1) % SLUICE_SPLICE_SLOTS;
		if (splice_claim(sp, i))
			return i;
	}
	return -1;
}

static bool splice_loopback(const struct sockaddr *sa)
{
	return sl_ipv4_loopback(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
}

static bool splice_v4(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET && !splice_loopback(sa);
}

/* The key of the socket whose own addresses are local and remote. */
static void splice_key(struct sluice_sock_key *k, const struct sockaddr *local,
		       const struct sockaddr *remote, uint64_t netns_cookie)
{
	const struct sockaddr_in *l = (const struct sockaddr_in *)local;
	const struct sockaddr_in *r = (const struct sockaddr_in *)remote;

	sl_sock_key_v4(k, ntohl(l->sin_addr.s_addr), ntohs(l->sin_port), ntohl(r->sin_addr.s_addr),
		       ntohs(r->sin_port), netns_cookie);
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

bool proxy_splice_client_key(int fd, const struct sockaddr *peer, const struct sockaddr *local,
			     struct sluice_sock_key *out)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	if (peer->sa_family != AF_INET || local->sa_family != AF_INET)
		return false;
	if (splice_loopback(peer) != splice_loopback(local))
		return false;
	/* egress: the client connected to the proxy's listener on loopback
	 * in its own pod (connect4), so its key holds that netns's cookie,
	 * which the accepted socket shares */
	if (splice_loopback(peer) &&
	    getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
		return false;
	/* the client's own key: its address is our peer, its peer our address */
	splice_key(out, peer, local, cookie);
	return true;
}

uint32_t proxy_splice_attach(struct proxy_splice *sp, int fd)
{
	struct sockaddr_in local, remote;
	socklen_t l1 = sizeof(local), l2 = sizeof(remote);
	struct sluice_splice_slot *s;
	int64_t i;

	if (!sp || fd < 0)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&local, &l1) < 0 ||
	    getpeername(fd, (struct sockaddr *)&remote, &l2) < 0 ||
	    !splice_v4((struct sockaddr *)&local) || !splice_v4((struct sockaddr *)&remote))
		return 0;
	if ((i = splice_take(sp)) < 0)
		return 0;
	s = &sp->slots[i];
	__atomic_store_n(&s->state, SLUICE_SPLICE_IDLE, __ATOMIC_RELEASE);
	splice_key(&sp->keys[i], (struct sockaddr *)&local, (struct sockaddr *)&remote, 0);
	if (sp->maps.bind(sp->maps.ctx, &sp->keys[i], (uint32_t)i,
			  __atomic_load_n(&s->gen, __ATOMIC_RELAXED))) {
		sp->free[sp->nfree++] = (uint32_t)i;
		return 0;
	}
	return (uint32_t)i + 1;
}

void proxy_splice_detach(struct proxy_splice *sp, uint32_t h)
{
	struct sluice_splice_slot *s;

	if (!sp || !h || h > SLUICE_SPLICE_SLOTS || !sp->mine[h - 1])
		return;
	s = &sp->slots[h - 1];
	/* the generation first: from here on the program leaves this slot
	 * alone, even if the hash entry outlives this call */
	splice_next_gen(s);
	__atomic_store_n(&s->state, SLUICE_SPLICE_IDLE, __ATOMIC_RELEASE);
	__atomic_store_n(&s->rq, SLUICE_RQ_OFF, __ATOMIC_RELEASE);
	sp->maps.unbind(sp->maps.ctx, &sp->keys[h - 1]);
	sp->free[sp->nfree++] = h - 1;
}

void proxy_splice_arm(struct proxy_splice *sp, uint32_t h, const struct sluice_sock_key *client)
{
	struct sluice_splice_slot *s = &sp->slots[h - 1];

	s->client = *client;
	s->body_left = 0;
	__atomic_store_n(&s->state, SLUICE_SPLICE_ARMED, __ATOMIC_RELEASE);
}

bool proxy_splice_disarm(struct proxy_splice *sp, uint32_t h)
{
	__u64 armed = SLUICE_SPLICE_ARMED;

	return __atomic_compare_exchange_n(&sp->slots[h - 1].state, &armed, SLUICE_SPLICE_IDLE,
					   false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

const struct sluice_splice_slot *proxy_splice_slot(struct proxy_splice *sp, uint32_t h,
						    uint64_t *state)
{
	const struct sluice_splice_slot *s = &sp->slots[h - 1];

	*state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	return s;
}

void proxy_splice_reset(struct proxy_splice *sp, uint32_t h)
{
	__atomic_store_n(&sp->slots[h - 1].state, SLUICE_SPLICE_IDLE, __ATOMIC_RELEASE);
}

struct sluice_splice_slot *proxy_splice_slot_mut(struct proxy_splice *sp, uint32_t h)
{
	if (!sp || !h || h > SLUICE_SPLICE_SLOTS || !sp->mine[h - 1])
		return NULL;
	return &sp->slots[h - 1];
}

const struct sluice_sock_key *proxy_splice_up_key(const struct proxy_splice *sp, uint32_t h)
{
	return &sp->keys[h - 1];
}

int proxy_splice_bind_key(struct proxy_splice *sp, const struct sluice_sock_key *k, uint32_t ref,
			  uint32_t gen)
{
	return sp->maps.bind(sp->maps.ctx, k, ref, gen);
}

void proxy_splice_unbind_key(struct proxy_splice *sp, const struct sluice_sock_key *k)
{
	sp->maps.unbind(sp->maps.ctx, k);
}

uint32_t proxy_splice_pid(const struct proxy_splice *sp)
{
	return sp->pid;
}
