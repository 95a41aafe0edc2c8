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
 *  3. the pod's socket is destroyed with SOCK_DESTROY (`ss -K` inside the
 *     pod's netns), which aborts it and resets the peer at once instead of
 *     leaving both ends to time out.
 * The walk runs right after the change is written (a zero timer), not inside
 * the apply call, so applying stays fast; it is bounded by the CT map size.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "agent.h"
#include "revalidate.h"

static uv_timer_t timer;
static bool timer_ready;
static uint64_t cut_total;

struct cut {
	char netns[64];
	uint8_t local[16], remote[16];
	uint16_t lport, rport;
	uint8_t protocol;
};

struct walk {
	struct agent *a;
	struct cut *cuts;
	size_t ncuts;
};

static struct agent_pod *pod_by_ep(struct agent *a, uint32_t ep_id)
{
	size_t i;

	for (i = 0; i < a->npods; i++)
		if (a->pods[i]->ep_id == ep_id)
			return a->pods[i];
	return NULL;
}

static bool check_entry(void *ctx, const struct sluice_ct_key *k, const struct sluice_ct_entry *v)
{
	struct walk *w = ctx;
	struct agent_pod *p = pod_by_ep(w->a, k->ep_id);
	bool ingress = k->direction == SLUICE_DIR_INGRESS, allowed = true;
	const uint8_t *peer = ingress ? k->saddr : k->daddr;
	uint32_t identity;
	uint32_t flag = ingress ? SLUICE_EP_F_ENFORCE_INGRESS : SLUICE_EP_F_ENFORCE_EGRESS;
	struct cut *c;

	(void)v;
	if (!p)
		return false; /* not ours (or the pod is being deleted) */
	sluice_dp_ipcache_lookup(w->a->dp, peer, &identity);
	if (sluice_dp_policy_verdict(w->a->dp, k->ep_id, identity, k->direction, k->protocol, k->dport,
				     p->written_flags & flag, &allowed) || allowed)
		return false;
	w->cuts = realloc(w->cuts, (w->ncuts + 1) * sizeof(*w->cuts));
	if (!w->cuts)
		abort();
	c = &w->cuts[w->ncuts++];
	snprintf(c->netns, sizeof(c->netns), "%s", p->net.netns);
	c->protocol = k->protocol;
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
	return true;
}

static void destroy_socket(const struct cut *c)
{
	char l[80], r[80], la[64], ra[64];

	snprintf(l, sizeof(l), "%s:%u", sl_addr_str(c->local, la, sizeof(la)), c->lport);
	snprintf(r, sizeof(r), "%s:%u", sl_addr_str(c->remote, ra, sizeof(ra)), c->rport);
	{
		const char *argv[] = { "ip", "netns", "exec", c->netns, "ss", "-K", "-n",
				       c->protocol == 17 ? "-u" : "-t", "src", l, "dst", r, NULL };

		sl_run_quiet(argv);
	}
}

static void run(uv_timer_t *t)
{
	struct walk w = { .a = t->data };
	size_t i;

	sluice_dp_ct_foreach(w.a->dp, check_entry, &w);
	for (i = 0; i < w.ncuts; i++) {
		const struct cut *c = &w.cuts[i];

		sluice_dp_socks_delete(w.a->dp, c->local, c->lport, c->remote, c->rport);
		sluice_dp_socks_delete(w.a->dp, c->remote, c->rport, c->local, c->lport);
		if (c->protocol == 6)
			destroy_socket(c);
	}
	if (w.ncuts)
		fprintf(stderr, "sluiced: cut %zu connection(s) whose right was revoked\n", w.ncuts);
	cut_total += w.ncuts;
	free(w.cuts);
}

void revalidate_soon(struct agent *a)
{
	if (!timer_ready) {
		uv_timer_init(a->loop, &timer);
		timer.data = a;
		timer_ready = true;
	}
	uv_timer_start(&timer, run, 0, 0);
}

void revalidate_stop(void)
{
	if (timer_ready) {
		uv_timer_stop(&timer);
		uv_close((uv_handle_t *)&timer, NULL);
		timer_ready = false;
	}
}

uint64_t revalidate_cut_total(void)
{
	return cut_total;
}
