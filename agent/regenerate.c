/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regenerate.c - the one path from declared state to the datapath.
 *
 * Compile the policy set for every local endpoint, then write only what
 * changed: a changed rule set replaces the endpoint's inner policy map in
 * one atomic swap (a new map filled aside, all the endpoints' swaps in one
 * update of the outer map: sluice_dp_policy_install_many()), or, when only
 * a few keys changed and no packet depends on two of them, is patched in
 * place key by key (regen_write()); a changed identity or
 * default-deny flag rewrites its endpoint record, after its policy. An
 * endpoint whose compiled result did not change is not touched, so adding
 * a pod with an existing identity costs no map writes for the others.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"
#include "agent.h"
#include "patch_plan.h"
#include "proxy_ctl.h"
#include "revalidate.h"
#include "services.h"

/* How an endpoint's new entries are written (patch_plan() over what is
 * written now): nothing, patched in place, or swapped whole (PATCH_SWAP
 * also when nothing is written yet). */
static enum patch_decision regen_plan(const struct agent_pod *p, const struct sluice_ep_compiled *c,
				      struct patch_plan *plan)
{
	return p->written_valid ? patch_plan(p->written, p->nwritten, c->entries, c->nentries, plan)
				: PATCH_SWAP;
}

/*
 * One endpoint's write, planned before the ipcache is written and carried
 * out after it. A swap of a large trie is filled "aside": on a second
 * thread while this one writes the ipcache. Both are tens of thousands of
 * LPM inserts in the kernel (a 25,000-rule apply: about 30 ms each on this
 * project's VMs), and neither depends on the other until the swap, which
 * stays here, after the ipcache: what packets see is unchanged, and a
 * failure anywhere still leaves the old policy in force (a filled map that
 * is not installed is closed).
 */
#define REGEN_ASIDE_MIN 4096 /* entries; smaller tries are filled inline */

struct regen_write {
	struct agent_pod *p;
	const struct sluice_ep_compiled *c;
	enum patch_decision how;
	struct patch_plan *plan; /* PATCH_KEYS: the keys to write (owned) */
	bool aside;              /* a swap filled on the second thread */
	int fd;                  /* the swap's filled trie; -1: none (yet) */
	int rc;                  /* the fill's, when aside */
	char *err;
};

struct regen_writes {
	struct regen_write *v;
	size_t n;
	pthread_t thread;
	bool running;
};

static const struct sluice_ep_compiled regen_empty;

static const struct sluice_ep_compiled *regen_compiled_of(const struct sluice_compiled *out, uint32_t ep_id)
{
	for (size_t j = 0; j < out->neps; j++)
		if (out->eps[j].ep_id == ep_id)
			return &out->eps[j];
	return &regen_empty;
}

static void *regen_fill_aside(void *arg)
{
	struct regen_writes *ws = arg;

	for (size_t i = 0; i < ws->n; i++) {
		struct regen_write *w = &ws->v[i];

		if (w->aside)
			w->rc = sluice_dp_policy_prepare(w->p->ep_id, w->c->entries, w->c->nentries, &w->fd,
							 &w->err);
	}
	return NULL;
}

/*
 * Plans every endpoint's write (regen_plan()) and starts filling the large
 * swaps' tries on a second thread; without a thread, fills them here.
 */
static void regen_plan_all(struct agent *a, const struct sluice_compiled *out, struct regen_writes *ws)
{
	bool aside = false;
	sigset_t all, old;

	ws->v = sl_xcalloc(a->reg.npods + 1, sizeof(*ws->v));
	ws->n = a->reg.npods;
	for (size_t i = 0; i < ws->n; i++) {
		struct regen_write *w = &ws->v[i];
		struct patch_plan plan;

		w->p = a->reg.pods[i];
		w->c = regen_compiled_of(out, w->p->ep_id);
		w->fd = -1;
		w->how = regen_plan(w->p, w->c, &plan);
		if (w->how == PATCH_KEYS) {
			w->plan = sl_xmalloc(sizeof(*w->plan));
			*w->plan = plan;
		}
		w->aside = w->how == PATCH_SWAP && w->c->nentries >= REGEN_ASIDE_MIN;
		aside |= w->aside;
	}
	if (!aside)
		return;
	/* the thread takes no signal: libuv's handlers belong to the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ws->running = pthread_create(&ws->thread, NULL, regen_fill_aside, ws) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ws->running)
		regen_fill_aside(ws);
}

static void regen_fill_wait(struct regen_writes *ws)
{
	if (ws->running)
		pthread_join(ws->thread, NULL);
	ws->running = false;
}

/* Drops what was not installed. */
static void regen_writes_free(struct regen_writes *ws)
{
	regen_fill_wait(ws);
	for (size_t i = 0; i < ws->n; i++) {
		if (ws->v[i].fd >= 0)
			close(ws->v[i].fd);
		free(ws->v[i].plan);
		free(ws->v[i].err);
	}
	free(ws->v);
	memset(ws, 0, sizeof(*ws));
}

/*
 * Carries out one endpoint's planned write: nothing; a patch of the live
 * trie (PATCH_KEYS); else (or when the patch fails: half written, the swap
 * replaces it all) the swap's filled trie in w->fd, from the second thread
 * or filled here, for the caller to install (w->how PATCH_SWAP). 0 or a
 * negative errno.
 */
static int regen_write(struct agent *a, struct regen_write *w, char **err)
{
	if (w->aside) {
		if (w->rc)
			return sl_fail(err, w->rc, "%s", w->err ? w->err : strerror(-w->rc));
		return 0;
	}
	if (w->how == PATCH_NOTHING)
		return 0;
	if (w->how == PATCH_KEYS && sluice_dp_policy_patch(a->dp, w->p->ep_id, w->plan->dels, w->plan->ndels,
							   w->plan->sets, w->plan->nsets, NULL) == 0)
		return 0;
	w->how = PATCH_SWAP;
	return sluice_dp_policy_prepare(w->p->ep_id, w->c->entries, w->c->nentries, &w->fd, err);
}

int agent_regenerate(struct agent *a, char **err)
{
	return agent_regenerate_edit(a, NULL, err);
}

void agent_regenerate_after(struct agent *a, const char *what, bool rollback)
{
	char *err = NULL;

	if (!agent_regenerate(a, &err))
		return;
	/* Nobody can be told: say it loudly. After a failed rollback the
	 * datapath holds what the failed change wrote (each map whole, old or
	 * new), not what the registry and the policy set say. */
	fprintf(stderr, "sluiced: ERROR: %s: %s failed: %s; the datapath may not match the declared state until the next successful change\n",
		what, rollback ? "rollback" : "regeneration", err ? err : "unknown error");
	if (rollback)
		a->counters.rollbacks_failed++;
	free(err);
}

int agent_regenerate_edit(struct agent *a, const struct agent_edit_hint *h, char **err)
{
	struct sluice_compile_endpoint *eps = sl_xcalloc(a->reg.npods + a->reg.nremotes, sizeof(*eps));
	struct sluice_compiled out = { 0 };
	struct sluice_diags diags = { 0 };
	struct regen_writes ws = { 0 };
	uint32_t *swap_ids = NULL;
	int *swap_fds = NULL;
	size_t nswaps = 0;
	/* Cilium's allow-localhost=always, on every endpoint (verdict.h) */
	const uint32_t localhost = a->cfg.allow_localhost ? SLUICE_EP_F_ALLOW_LOCALHOST : 0;
	bool edited = false;
	size_t i, j;
	int rc;

	/* backends follow pods at once, and toServices below sees them */
	rc = agent_services_sync(a, err);
	if (rc) {
		free(eps);
		return rc;
	}
	/* groups first: their prefixes go before the toServices ones */
	if (sluice_policy_set_resolve_cidr_groups(&a->policies))
		h = NULL; /* a group may have changed: compile whole */
	if (agent_services_resolve_policies(a))
		h = NULL; /* resolved peers may have moved: compile whole */
	for (i = 0; i < a->reg.npods; i++) {
		eps[i].ep_id = a->reg.pods[i]->ep_id;
		eps[i].identity = a->reg.pods[i]->identity;
		eps[i].namespace = a->reg.pods[i]->ns;
		eps[i].name = a->reg.pods[i]->name;
		eps[i].named_ports = a->reg.pods[i]->ports;
		eps[i].nnamed_ports = a->reg.pods[i]->nports;
		sl_addr_from_ipv4(eps[i].addr, a->reg.pods[i]->net.ip);
	}
	/* pods of other nodes: peers only (an ipBlock selects them by address) */
	for (j = 0; j < a->reg.nremotes; j++, i++) {
		eps[i].identity = a->reg.remotes[j]->identity;
		eps[i].namespace = a->reg.remotes[j]->ns;
		eps[i].peer_only = true;
		sl_addr_from_ipv4(eps[i].addr, a->reg.remotes[j]->net.ip);
	}
	/* a policy new to the set gets its number before it decides an entry;
	 * one that replaced another of its name kept that one's */
	for (j = 0; j < a->policies.n; j++)
		if (!a->policies.v[j].ref_id)
			a->policies.v[j].ref_id = ++a->next_policy_ref;
	rc = 0;
	if (h && a->compiled_valid) {
		rc = sluice_policy_compile_edit(&a->policies, a->reg.idt, eps, i, &a->compiled, h->pi, h->ri,
						h->section, h->index, h->old_item, &out, &edited, &diags);
		if (!rc && edited)
			a->counters.compile_edits++;
	}
	if (!rc && !edited) /* no edit to follow, or one the edit path declined */
		rc = sluice_policy_compile(&a->policies, a->reg.idt, eps, i, &out, &diags);
	free(eps);
	agent_phase(a, "compile");
	if (rc) {
		sl_fail(err, rc, "policy compilation failed: %s",
			diags.n ? diags.v[0].msg : strerror(-rc));
		sluice_diags_free(&diags);
		return rc;
	}
	sluice_diags_free(&diags);

	/* (a policy that does not fit an endpoint's trie was refused by the
	 * compile, naming the pod: compile_too_big()) */

	/* addresses learn their CIDR identities before policies name them
	 * (large new tries are filled meanwhile, swapped in after) */
	regen_plan_all(a, &out, &ws);
	rc = agent_cidrs_sync(a, &out, err);
	regen_fill_wait(&ws);
	agent_phase(a, "ipcache");
	if (rc)
		goto out;

	/* Every endpoint's entries: patches at once, swaps (filled aside or
	 * here) installed together after the loop, in one update of the
	 * outer map; then each endpoint's record, after its policy. */
	swap_ids = sl_xcalloc(ws.n + 1, sizeof(*swap_ids));
	swap_fds = sl_xcalloc(ws.n + 1, sizeof(*swap_fds));
	for (i = 0; i < ws.n; i++) {
		struct regen_write *w = &ws.v[i];

		rc = regen_write(a, w, err);
		if (rc)
			goto out;
		if (w->fd >= 0) {
			swap_ids[nswaps] = w->p->ep_id;
			swap_fds[nswaps++] = w->fd;
			w->fd = -1; /* the install's now */
		}
	}
	rc = sluice_dp_policy_install_many(a->dp, swap_ids, swap_fds, nswaps, err);
	nswaps = 0; /* closed, installed or not */
	if (rc)
		goto out;
	for (i = 0; i < ws.n; i++) {
		const struct regen_write *w = &ws.v[i];
		struct agent_pod *p = w->p;
		const struct sluice_ep_compiled *c = w->c;

		if (w->aside)
			a->counters.policy_swaps_prepared++;
		if (w->how != PATCH_NOTHING) {
			if (w->how == PATCH_KEYS)
				a->counters.policy_patches++;
			else
				a->counters.policy_swaps++;
			p->reval_dirty = true;
			/* a patch that kept the count: only what lies between
			 * the plan's equal head and tail (a one-rule change of
			 * 25,000 entries: a few, not 600 KB); otherwise copied
			 * whole, not zeroed first, into the same buffer when the
			 * count is kept (no new pages to fault in) */
			if (w->how == PATCH_KEYS && p->written && p->nwritten == c->nentries) {
				size_t lo = w->plan->head, hi = c->nentries - w->plan->tail;

				memcpy(p->written + lo, c->entries + lo, (hi - lo) * sizeof(*p->written));
			} else {
				if (!p->written || p->nwritten != c->nentries) {
					free(p->written);
					p->written = sl_xmalloc(c->nentries * sizeof(*p->written));
				}
				if (c->nentries)
					memcpy(p->written, c->entries, c->nentries * sizeof(*p->written));
			}
			p->nwritten = c->nentries;
		}
		if (!p->written_valid || p->written_flags != (c->flags | localhost) ||
		    p->written_identity != p->identity) {
			struct sluice_endpoint ep = {
				.ep_id = p->ep_id,
				.identity = p->identity,
				.flags = c->flags | localhost,
			};

			sl_addr_from_ipv4(ep.addr, p->net.ip);
			rc = sluice_dp_endpoint_update(a->dp, p->net.host_ifindex, &ep);
			if (rc) {
				sl_fail(err, rc, "endpoint map update failed: %s", strerror(-rc));
				goto out;
			}
			p->written_flags = ep.flags;
			p->written_identity = p->identity;
			p->reval_dirty = true;
		}
		p->written_valid = true;
	}
	agent_phase(a, "policy_maps");
	proxy_ctl_rules(a, &out);
	agent_phase(a, "proxy_rules");
	if (a->loop)
		revalidate_soon(a);
	a->counters.regenerations++;
	rc = 0;
	/* kept for the next one-item edit */
	sluice_compiled_free(&a->compiled);
	a->compiled = out;
	a->compiled_valid = true;
	memset(&out, 0, sizeof(out));
out:
	for (i = 0; i < nswaps; i++) /* filled, never installed */
		close(swap_fds[i]);
	free(swap_ids);
	free(swap_fds);
	regen_writes_free(&ws);
	if (rc)
		a->compiled_valid = false;
	sluice_compiled_free(&out);
	agent_phase(a, "compile");
	return rc;
}
