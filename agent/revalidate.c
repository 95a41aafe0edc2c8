/* SPDX-License-Identifier: Apache-2.0 */
/*
 * revalidate.c - cutting connections whose right was revoked.
 *
 * Policy is decided on a flow's first packet; after that conntrack lets the
 * flow through. So when a change (policy apply or delete, a relabelled pod
 * or namespace, a deleted pod) revokes a right, the established flows that
 * relied on it must be found and cut, while flows that stay allowed are not
 * touched. After each regeneration the agent walks the conntrack map and
 * asks, for every entry, the question the datapath asks a new flow, with
 * today's identities and today's policy. For a flow that is now denied:
 *  1. its conntrack entry is deleted, so its next packet is judged again
 *     (and dropped);
 *  2. its sockets leave the sk_msg fast path (whose bytes skip tc);
 *  3. the pod's socket is destroyed with an inet_diag SOCK_DESTROY request
 *     made from inside the pod's netns (what `ss -K` does), which aborts it
 *     and resets the peer at once instead of leaving both ends to time out.
 * Entries of flows that already closed (FIN/RST seen) are simply removed.
 * The walk runs right after the change is written (a zero timer), not inside
 * the apply call, so applying stays fast; it is bounded by the CT map size.
 * The timer runs before the loop polls again, so the walk is done before the
 * agent reads any request sent after the change was answered: such a call
 * (tests use `status`) comes back with the change's cuts made.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "agent.h"
#include "revalidate.h"
#include "sluice/verdict.h"

/* a->reval: the zero timer a walk runs from (created on first use, freed
 * when closed); the walks' count is a->counters.connections_cut. */
struct revalidate {
	uv_timer_t timer;
	struct agent *agent;
};

struct cut {
	bool mirror;      /* the peer pod's end of a cut flow */
	uint64_t cookie;  /* the pod socket's cookie, 0 = unknown: never destroyed */
	char netns[64];
	uint8_t local[16], remote[16];
	uint16_t lport, rport;
	uint8_t protocol;
};

/*
 * A small exact-key hash set with a one-byte value per key (linear probing,
 * power-of-two capacity, grown at 50% load, never shrunk: it lives for one
 * walk). Slot layout: [used][value][key bytes].
 */
struct ktab {
	uint8_t *slots;
	size_t cap, n, ksize;
};

static uint64_t ktab_hash(const void *p, size_t len)
{
	const uint8_t *s = p;
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

/* the value byte of key, or NULL */
static uint8_t *ktab_get(const struct ktab *t, const void *key)
{
	size_t stride = 2 + t->ksize, mask = t->cap - 1, i;

	if (!t->cap)
		return NULL;
	for (i = ktab_hash(key, t->ksize) & mask; t->slots[i * stride]; i = (i + 1) & mask)
		if (!memcmp(t->slots + i * stride + 2, key, t->ksize))
			return t->slots + i * stride + 1;
	return NULL;
}

static void ktab_put(struct ktab *t, const void *key, uint8_t value)
{
	size_t stride = 2 + t->ksize, mask, i;
	uint8_t *v = ktab_get(t, key);

	if (v) {
		*v = value;
		return;
	}
	if ((t->n + 1) * 2 > t->cap) {
		struct ktab g = { .cap = t->cap ? t->cap * 2 : 256, .ksize = t->ksize };

		g.slots = sl_xcalloc(g.cap, stride);
		for (i = 0; i < t->cap; i++)
			if (t->slots[i * stride])
				ktab_put(&g, t->slots + i * stride + 2, t->slots[i * stride + 1]);
		free(t->slots);
		*t = g;
	}
	mask = t->cap - 1;
	for (i = ktab_hash(key, t->ksize) & mask; t->slots[i * stride]; i = (i + 1) & mask)
		;
	t->slots[i * stride] = 1;
	t->slots[i * stride + 1] = value;
	memcpy(t->slots + i * stride + 2, key, t->ksize);
	t->n++;
}

/* what a verdict depends on, besides the endpoint's policy map */
struct verdict_key {
	uint32_t ep_id;
	uint8_t peer[16];
	uint8_t direction, protocol;
	uint16_t port;
};

/* a cut flow's socket, from its own side */
struct cut_key {
	uint8_t local[16], remote[16];
	uint16_t lport, rport;
};

struct walk {
	struct agent *a;
	bool all;
	struct cut *cuts;
	size_t ncuts, cuts_cap;
	/*
	 * Per walk: the verdict of each (endpoint, peer, direction, protocol,
	 * port) asked once (a burst of connections between two pods shares
	 * one; each answer costs three map lookups in the kernel), and the
	 * cut sockets as a set (a revocation may cut thousands).
	 */
	struct ktab verdicts, cut_set;
	uint64_t entries, lookups;
	/* inner policy map fds, one per endpoint, for the length of a walk */
	uint32_t *fd_ep;
	int *fds;
	size_t nfds;
};

static int walk_inner_fd(struct walk *w, uint32_t ep_id)
{
	size_t i;

	for (i = 0; i < w->nfds; i++)
		if (w->fd_ep[i] == ep_id)
			return w->fds[i];
	w->fd_ep = realloc(w->fd_ep, (w->nfds + 1) * sizeof(*w->fd_ep));
	w->fds = realloc(w->fds, (w->nfds + 1) * sizeof(*w->fds));
	if (!w->fd_ep || !w->fds)
		abort();
	w->fd_ep[w->nfds] = ep_id;
	w->fds[w->nfds] = sluice_dp_policy_inner_fd(w->a->dp, ep_id);
	return w->fds[w->nfds++];
}

static struct agent_pod *pod_by_ep(struct agent *a, uint32_t ep_id)
{
	size_t i;

	for (i = 0; i < a->reg.npods; i++)
		if (a->reg.pods[i]->ep_id == ep_id)
			return a->reg.pods[i];
	return NULL;
}

/* Does the endpoint's policy, as written now, deny this flow? */
static bool walk_denied(struct walk *w, const struct agent_pod *p, const uint8_t *peer,
			uint8_t direction, uint8_t protocol, uint16_t port)
{
	uint32_t identity;
	struct verdict_key k = { .ep_id = p->ep_id, .direction = direction, .protocol = protocol, .port = port };
	const uint8_t *cached;
	bool allowed = true, denied;

	memcpy(k.peer, peer, 16);
	cached = ktab_get(&w->verdicts, &k);
	if (cached)
		return *cached;
	w->lookups++;
	sluice_dp_ipcache_lookup(w->a->dp, peer, &identity);
	denied = !sluice_dp_policy_verdict_fd(walk_inner_fd(w, p->ep_id), identity, direction, protocol,
					      port, sluice_ep_enforced(p->written_flags, direction, identity),
					      &allowed) &&
		 !allowed;
	ktab_put(&w->verdicts, &k, denied);
	return denied;
}

static struct cut_key cut_key_of(const uint8_t *local, uint16_t lport, const uint8_t *remote, uint16_t rport)
{
	struct cut_key k = { .lport = lport, .rport = rport };

	memcpy(k.local, local, 16);
	memcpy(k.remote, remote, 16);
	return k;
}

static bool cut_seen(const struct walk *w, const uint8_t *local, uint16_t lport, const uint8_t *remote,
		     uint16_t rport)
{
	struct cut_key k = cut_key_of(local, lport, remote, rport);

	return ktab_get(&w->cut_set, &k) != NULL;
}

static void cut_remember(struct walk *w, const struct cut *c)
{
	struct cut_key k = cut_key_of(c->local, c->lport, c->remote, c->rport);

	ktab_put(&w->cut_set, &k, 1);
}

/* room for one more cut (a revocation may cut thousands: grown by half) */
static struct cut *walk_next_cut(struct walk *w)
{
	if (w->ncuts == w->cuts_cap) {
		w->cuts_cap = w->cuts_cap ? w->cuts_cap + w->cuts_cap / 2 : 64;
		w->cuts = realloc(w->cuts, w->cuts_cap * sizeof(*w->cuts));
		if (!w->cuts)
			abort();
	}
	return &w->cuts[w->ncuts++];
}

/* a new cut of one of pod p's flows, the rest to be filled in */
static struct cut *walk_add_cut(struct walk *w, const struct agent_pod *p, uint8_t protocol)
{
	struct cut *c = walk_next_cut(w);

	memset(c, 0, sizeof(*c));
	snprintf(c->netns, sizeof(c->netns), "%s", p->net.netns);
	c->protocol = protocol;
	return c;
}

static bool check_entry(void *ctx, const struct sluice_ct_key *k, const struct sluice_ct_entry *v)
{
	struct walk *w = ctx;
	struct agent_pod *p = pod_by_ep(w->a, k->ep_id);
	bool ingress = k->direction == SLUICE_DIR_INGRESS;
	struct cut *c;

	w->entries++;
	if (!p || !(w->all || p->reval_dirty))
		return false; /* not ours, or nothing changed for it */
	if (!walk_denied(w, p, ingress ? k->saddr : k->daddr, k->direction, k->protocol,
			 k->protocol == IPPROTO_ICMP ? sluice_ct_icmp_type(k->sport, k->dport) : k->dport))
		return false;
	if (v->flags & SLUICE_CT_F_SEEN_FIN)
		return true; /* already closing: only the entry goes */
	if (ingress ? cut_seen(w, k->daddr, k->dport, k->saddr, k->sport)
		    : cut_seen(w, k->saddr, k->sport, k->daddr, k->dport))
		return true; /* cut on the fast path already: only the entry goes */
	c = walk_add_cut(w, p, k->protocol);
	/* the pod's own side of the flow */
	if (ingress) {
		memcpy(c->local, k->daddr, 16);
		c->lport = k->dport;
		memcpy(c->remote, k->saddr, 16);
		c->rport = k->sport;
	} else {
		memcpy(c->local, k->saddr, 16);
		c->lport = k->sport;
		memcpy(c->remote, k->daddr, 16);
		c->rport = k->dport;
	}
	c->cookie = 0;
	if (c->protocol == IPPROTO_TCP)
		sluice_dp_socks_cookie(w->a->dp, c->local, c->lport, c->remote, c->rport, &c->cookie);
	cut_remember(w, c);
	return true;
}

/* One SOCK_DESTROY request for the pod's side of a flow (TCP, or a
 * connected UDP socket); nlfd is a NETLINK_SOCK_DIAG socket created inside
 * the pod's netns. */
static void destroy_socket(int nlfd, const struct cut *c)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 req;
	} msg = { 0 };
	char ack[512];

	msg.nh.nlmsg_len = sizeof(msg);
	msg.nh.nlmsg_type = SOCK_DESTROY;
	msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	msg.req.sdiag_family = AF_INET;
	msg.req.sdiag_protocol = c->protocol;
	msg.req.idiag_states = ~0u;
	msg.req.id.idiag_sport = htons(c->lport);
	msg.req.id.idiag_dport = htons(c->rport);
	memcpy(&msg.req.id.idiag_src[0], c->local + 12, 4);
	memcpy(&msg.req.id.idiag_dst[0], c->remote + 12, 4);
	/* with the exact cookie the kernel destroys that socket or nothing:
	 * a tuple alone would fall back to the listener on the port */
	msg.req.id.idiag_cookie[0] = (uint32_t)c->cookie;
	msg.req.id.idiag_cookie[1] = (uint32_t)(c->cookie >> 32);
	if (send(nlfd, &msg, sizeof(msg), 0) > 0)
		(void)!recv(nlfd, ack, sizeof(ack), 0); /* the ack; ENOENT: already gone */
}

/* A NETLINK_SOCK_DIAG socket inside the pod netns /run/netns/NAME (what
 * SOCK_DESTROY and dumps act on), with a bounded receive; -1 if none. */
static int diag_socket_in(const char *name, int self)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	char path[128];
	int nsfd, nlfd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return -1;
	nlfd = sl_socket_in_netns(nsfd, self, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
				  NETLINK_SOCK_DIAG);
	close(nsfd);
	if (nlfd >= 0)
		setsockopt(nlfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return nlfd;
}

/* Destroys the sockets of every cut flow, one netns at a time. */
static void destroy_sockets(struct cut *cuts, size_t n)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	size_t i, j;

	if (self < 0)
		return;
	for (i = 0; i < n; i++) {
		int nlfd;

		if (!cuts[i].netns[0] || cuts[i].protocol != IPPROTO_TCP || !cuts[i].cookie)
			continue;
		nlfd = diag_socket_in(cuts[i].netns, self);
		if (nlfd < 0)
			continue;
		/* every later cut of the same pod goes through this socket */
		for (j = i; j < n; j++) {
			if (strcmp(cuts[j].netns, cuts[i].netns) || cuts[j].protocol != IPPROTO_TCP ||
			    !cuts[j].cookie)
				continue;
			destroy_socket(nlfd, &cuts[j]);
			if (j != i)
				cuts[j].netns[0] = 0;
		}
		close(nlfd);
	}
	close(self);
}

/* The connected UDP sockets of the dump on nlfd whose peer is one of
 * peers[0..np), each with that peer's index in *which. */
static size_t udp_peers_of(int nlfd, const struct revalidate_udp_peer *peers, size_t np,
			   struct cut **out, size_t **which)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 req;
	} msg = { 0 };
	const size_t bufsize = 32768;
	char *buf = sl_xcalloc(1, bufsize);
	struct cut *v = NULL;
	size_t n = 0, cap = 0, *w = NULL, round, p;
	bool done = false;

	msg.nh.nlmsg_len = sizeof(msg);
	msg.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.req.sdiag_family = AF_INET;
	msg.req.sdiag_protocol = IPPROTO_UDP;
	/* a connected UDP socket is TCP_ESTABLISHED (1) in the diag's terms;
	 * an unconnected one (TCP_CLOSE) picks a backend per datagram */
	msg.req.idiag_states = 1u << 1;
	if (send(nlfd, &msg, sizeof(msg), 0) < 0)
		done = true;
	for (round = 0; !done && round < 4096; round++) {
		ssize_t len = recv(nlfd, buf, bufsize, 0);
		const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
		int left = (int)len;

		if (len <= 0)
			break;
		for (; NLMSG_OK(nh, (unsigned)left); nh = NLMSG_NEXT(nh, left)) {
			const struct inet_diag_msg *r = NLMSG_DATA(nh);
			struct cut *c;

			if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			for (p = 0; p < np && (r->id.idiag_dst[0] != htonl(peers[p].ip) ||
					       ntohs(r->id.idiag_dport) != peers[p].port); p++)
				;
			if (p == np)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				v = realloc(v, cap * sizeof(*v));
				w = realloc(w, cap * sizeof(*w));
				if (!v || !w)
					abort();
			}
			w[n] = p;
			c = &v[n++];
			memset(c, 0, sizeof(*c));
			sl_addr_from_ipv4(c->local, ntohl(r->id.idiag_src[0]));
			sl_addr_from_ipv4(c->remote, peers[p].ip);
			c->lport = ntohs(r->id.idiag_sport);
			c->rport = peers[p].port;
			c->protocol = IPPROTO_UDP;
			c->cookie = (uint64_t)r->id.idiag_cookie[1] << 32 | r->id.idiag_cookie[0];
		}
	}
	free(buf);
	*out = v;
	*which = w;
	return n;
}

size_t revalidate_cut_udp_peers(const char *netns, const struct revalidate_udp_peer *peers, size_t np,
				bool (*only)(void *ctx, uint64_t cookie,
					     const struct revalidate_udp_peer *peer),
				void *ctx)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), nlfd;
	struct cut *v = NULL;
	size_t n = 0, i, cut = 0, *which = NULL;

	if (self < 0)
		return 0;
	nlfd = diag_socket_in(netns, self);
	if (nlfd >= 0) {
		/* the dump first, whole: destroying while it runs would skip
		 * sockets of the same hash chain */
		n = udp_peers_of(nlfd, peers, np, &v, &which);
		for (i = 0; i < n; i++)
			if (v[i].cookie && only(ctx, v[i].cookie, &peers[which[i]])) {
				destroy_socket(nlfd, &v[i]);
				cut++;
			}
		close(nlfd);
	}
	close(self);
	free(v);
	free(which);
	return cut;
}

/*
 * The fast path's sockets, judged from their own side: an accepted socket
 * is its pod's ingress (the port is its own), a connected one its egress
 * (the port is the peer's). This finds accelerated flows whose conntrack
 * entry was evicted while their bytes skipped tc.
 */
static bool check_sock(void *ctx, const struct sluice_sock_key *k, uint8_t side)
{
	struct walk *w = ctx;
	struct agent_pod *p = k->netns_cookie ? NULL : registry_pod_by_addr(&w->a->reg, k->local_addr, false);
	bool ingress = side == SLUICE_SOCK_PASSIVE;
	uint64_t cookie = 0;
	struct cut *c;

	w->entries++;
	/* a pod talking to itself (the proxy's upstream leg for ingress is one)
	 * never crosses the veth: no policy applies to it */
	if (!p || !(w->all || p->reval_dirty) || !memcmp(k->remote_addr, k->local_addr, 16) ||
	    cut_seen(w, k->local_addr, k->local_port, k->remote_addr, k->remote_port))
		return false;
	/* closed sockets leave the sockhash by themselves: forget their side */
	if (sluice_dp_socks_cookie(w->a->dp, k->local_addr, k->local_port, k->remote_addr, k->remote_port,
				   &cookie))
		return true;
	if (!walk_denied(w, p, k->remote_addr, ingress ? SLUICE_DIR_INGRESS : SLUICE_DIR_EGRESS,
			 IPPROTO_TCP, ingress ? k->local_port : k->remote_port))
		return false;
	c = walk_add_cut(w, p, IPPROTO_TCP);
	memcpy(c->local, k->local_addr, 16);
	memcpy(c->remote, k->remote_addr, 16);
	c->lport = k->local_port;
	c->rport = k->remote_port;
	c->cookie = cookie;
	cut_remember(w, c);
	return true;
}

/* Destroys the sockets of cuts[from..), their peers' too, and takes them
 * off the fast path. */
static void cut_flows(struct walk *w, size_t from)
{
	size_t i, n = w->ncuts;

	/*
	 * Both ends: when the peer is a local pod too, its socket is destroyed
	 * as well, so neither application waits on a connection that is gone
	 * (a reader on the sk_msg fast path is not always woken by an RST).
	 */
	for (i = from; i < n; i++) {
		struct agent_pod *peer = registry_pod_by_addr(&w->a->reg, w->cuts[i].remote, false);
		uint64_t cookie = 0;
		struct cut *m;

		if (!peer || w->cuts[i].protocol != IPPROTO_TCP || !w->cuts[i].cookie ||
		    sluice_dp_socks_cookie(w->a->dp, w->cuts[i].remote, w->cuts[i].rport, w->cuts[i].local,
					   w->cuts[i].lport, &cookie))
			continue;
		m = walk_next_cut(w);
		*m = w->cuts[i];
		snprintf(m->netns, sizeof(m->netns), "%s", peer->net.netns);
		memcpy(m->local, w->cuts[i].remote, 16);
		memcpy(m->remote, w->cuts[i].local, 16);
		m->lport = w->cuts[i].rport;
		m->rport = w->cuts[i].lport;
		m->cookie = cookie;
		m->mirror = true;
		cut_remember(w, m);
	}
	destroy_sockets(w->cuts + from, w->ncuts - from);
	/* off the fast path: only sockets the sockhash held have an entry */
	for (i = from; i < w->ncuts; i++) {
		const struct cut *c = &w->cuts[i];

		if (c->cookie)
			sluice_dp_socks_delete(w->a->dp, c->local, c->lport, c->remote, c->rport);
	}
}

static void run(uv_timer_t *t)
{
	struct walk w = { .a = ((struct revalidate *)t->data)->agent,
			  .verdicts = { .ksize = sizeof(struct verdict_key) },
			  .cut_set = { .ksize = sizeof(struct cut_key) } };
	uint64_t t0 = sl_mono_ns();
	size_t i, live = 0, after_socks;

	w.all = w.a->reval_all;
	/* 1. live fast-path sockets: few, and they include the long-lived
	 *    accelerated flows, which a revocation is most about: cut at once */
	sluice_dp_sock_sides_foreach(w.a->dp, check_sock, &w);
	cut_flows(&w, 0);
	after_socks = w.ncuts;
	/* 2. conntrack: flows off the fast path (UDP, not yet established...) */
	sluice_dp_ct_foreach(w.a->dp, check_entry, &w);
	cut_flows(&w, after_socks);
	w.a->reval_all = false;
	for (i = 0; i < w.a->reg.npods; i++)
		w.a->reg.pods[i]->reval_dirty = false;
	for (i = 0; i < w.nfds; i++)
		if (w.fds[i] >= 0)
			close(w.fds[i]);
	free(w.fds);
	free(w.fd_ep);
	for (i = 0; i < w.ncuts; i++)
		live += !w.cuts[i].mirror && (w.cuts[i].cookie != 0 || w.cuts[i].protocol != IPPROTO_TCP);
	if (live)
		fprintf(stderr, "sluiced: cut %zu connection(s) whose right was revoked (%.1f ms)\n", live,
			(double)(sl_mono_ns() - t0) / 1e6);
	w.a->counters.connections_cut += live;
	w.a->counters.reval_walks++;
	w.a->counters.reval_last_entries = w.entries;
	w.a->counters.reval_last_lookups = w.lookups;
	w.a->counters.reval_last_ns = sl_mono_ns() - t0;
	free(w.cuts);
	free(w.verdicts.slots);
	free(w.cut_set.slots);
}

void revalidate_soon(struct agent *a)
{
	if (!a->reval) {
		a->reval = sl_xcalloc(1, sizeof(*a->reval));
		a->reval->agent = a;
		uv_timer_init(a->loop, &a->reval->timer);
		a->reval->timer.data = a->reval;
	}
	uv_timer_start(&a->reval->timer, run, 0, 0);
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void revalidate_stop(struct agent *a)
{
	if (a->reval) {
		uv_timer_stop(&a->reval->timer);
		uv_close((uv_handle_t *)&a->reval->timer, on_timer_closed);
		a->reval = NULL;
	}
}
