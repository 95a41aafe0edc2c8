/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regenerate.c - the one path from declared state to the datapath.
 *
 * Compile the policy set for every local endpoint, then write only what
 * changed: a changed rule set replaces the endpoint's inner policy map in
 * one atomic swap (a new map filled aside, all the endpoints' swaps in one
 * update of the outer map: sluice_dp_policy_install_many()), or, when only
 * a few keys changed and no packet depends on two of them, is patched in
 * place key by key (regen_write_or_fill()); a changed identity or
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
 * Carries out a decision of regen_plan() for one endpoint: nothing; a small
 * change into the live trie when every packet sees at most one changed key
 * (PATCH_KEYS); else (or when the patch fails: half written, the swap
 * replaces it all) a new trie built and filled aside, *fd, for the caller
 * to swap in (*how PATCH_SWAP). 0 or a negative errno.
 */
static int regen_write_or_fill(struct agent *a, struct agent_pod *p, const struct sluice_ep_compiled *c,
			       const struct patch_plan *plan, enum patch_decision *how, int *fd,
			       char **err)
{
	*fd = -1;
	if (*how == PATCH_NOTHING)
		return 0;
	if (*how == PATCH_KEYS && sluice_dp_policy_patch(a->dp, p->ep_id, plan->dels, plan->ndels,
							 plan->sets, plan->nsets, NULL) == 0)
		return 0;
	*how = PATCH_SWAP;
	return sluice_dp_policy_prepare(p->ep_id, c->entries, c->nentries, fd, err);
}

/*
 * Swaps prepared aside: an endpoint whose new trie is large and replaced
 * whole (regen_plan() says swap) gets it built and filled on a second
 * thread while this one writes the ipcache. Both are tens of thousands of
 * LPM inserts in the kernel (a 25,000-rule apply: about 30 ms each on this
 * project's VMs), and neither depends on the other until the swap, which
 * stays here, after the ipcache, in endpoint order: what packets see is
 * unchanged, and a failure anywhere still leaves the old policy in force
 * (a prepared map that is not installed is closed).
 */
#define REGEN_PREPARE_MIN 4096 /* entries; smaller tries are filled inline */

struct regen_prep {
	uint32_t ep_id;
	enum patch_decision how; /* regen_plan()'s: only PATCH_SWAP is filled aside */
	struct patch_plan plan;  /* for PATCH_KEYS */
	const struct sluice_policy_map_entry *entries;
	size_t n;
	int fd; /* the filled map; -1 when not (yet) made */
	int rc;
	char *err;
};

struct regen_preps {
	struct regen_prep *v;
	size_t n;
	pthread_t thread;
	bool running;
};

static void *regen_prepare_run(void *arg)
{
	struct regen_preps *ps = arg;

	for (size_t i = 0; i < ps->n; i++) {
		struct regen_prep *r = &ps->v[i];

		if (r->how == PATCH_SWAP)
			r->rc = sluice_dp_policy_prepare(r->ep_id, r->entries, r->n, &r->fd, &r->err);
	}
	return NULL;
}

static const struct sluice_ep_compiled *regen_compiled_of(const struct sluice_compiled *out, uint32_t ep_id)
{
	for (size_t j = 0; j < out->neps; j++)
		if (out->eps[j].ep_id == ep_id)
			return &out->eps[j];
	return NULL;
}

/*
 * Plans every large endpoint's write here (the plan is kept for the write)
 * and starts filling the swaps' tries; without a thread, fills them here.
 */
static void regen_prepare_start(struct agent *a, const struct sluice_compiled *out, struct regen_preps *ps)
{
	bool swaps = false;
	size_t nbig = 0;
	sigset_t all, old;

	for (size_t j = 0; j < out->neps; j++)
		nbig += out->eps[j].nentries >= REGEN_PREPARE_MIN;
	if (!nbig)
		return;
	ps->v = sl_xcalloc(nbig, sizeof(*ps->v));
	for (size_t i = 0; i < a->reg.npods && ps->n < nbig; i++) {
		const struct sluice_ep_compiled *c = regen_compiled_of(out, a->reg.pods[i]->ep_id);
		struct regen_prep *r;

		if (!c || c->nentries < REGEN_PREPARE_MIN)
			continue;
		r = &ps->v[ps->n++];
		r->ep_id = c->ep_id;
		r->entries = c->entries;
		r->n = c->nentries;
		r->fd = -1;
		r->how = regen_plan(a->reg.pods[i], c, &r->plan);
		swaps |= r->how == PATCH_SWAP;
	}
	if (!swaps)
		return;
	/* the thread takes no signal: libuv's handlers belong to the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ps->running = pthread_create(&ps->thread, NULL, regen_prepare_run, ps) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ps->running)
		regen_prepare_run(ps);
}

static void regen_prepare_wait(struct regen_preps *ps)
{
	if (ps->running)
		pthread_join(ps->thread, NULL);
	ps->running = false;
}

static struct regen_prep *regen_prepared(struct regen_preps *ps, uint32_t ep_id)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].ep_id == ep_id)
			return &ps->v[i];
	return NULL;
}

/* Drops what was not installed. */
static void regen_prepare_free(struct regen_preps *ps)
{
	regen_prepare_wait(ps);
	for (size_t i = 0; i < ps->n; i++) {
		if (ps->v[i].fd >= 0)
			close(ps->v[i].fd);
		free(ps->v[i].err);
	}
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

/* A prepared swap's filled trie (*fd, taken from it), or why it failed. */
static int regen_take_prepared(struct regen_prep *r, int *fd, char **err)
{
	*fd = -1;
	if (r->rc) {
		sl_fail(err, r->rc, "%s", r->err ? r->err : strerror(-r->rc));
		return r->rc;
	}
	*fd = r->fd;
	r->fd = -1;
	return 0;
}

/* One endpoint's write, between the two loops of agent_regenerate_edit(). */
struct regen_write {
	const struct sluice_ep_compiled *c;
	enum patch_decision how;
	size_t head, tail; /* the plan's, for a patch */
	bool prepared;     /* its trie was filled on the second thread */
};

static const struct sluice_ep_compiled regen_empty;

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
	struct regen_preps preps = { 0 };
	struct regen_write *writes = NULL;
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

	/* Check capacity before writing anything: a policy that does not fit is
	 * rejected whole and the one in force stays. */
	for (j = 0; j < out.neps; j++) {
		if (out.eps[j].nentries > SLUICE_POLICY_INNER_MAX) {
			for (i = 0; i < a->reg.npods && a->reg.pods[i]->ep_id != out.eps[j].ep_id; i++)
				;
			rc = sl_fail(err, ENOSPC,
				     "policy map full: endpoint %s/%s would need %zu entries, the map holds %u",
				     i < a->reg.npods ? a->reg.pods[i]->ns : "?", i < a->reg.npods ? a->reg.pods[i]->name : "?",
				     out.eps[j].nentries, SLUICE_POLICY_INNER_MAX);
			goto out;
		}
	}

	/* addresses learn their CIDR identities before policies name them
	 * (large new tries are filled meanwhile, swapped in after) */
	regen_prepare_start(a, &out, &preps);
	rc = agent_cidrs_sync(a, &out, err);
	regen_prepare_wait(&preps);
	agent_phase(a, "ipcache");
	if (rc)
		goto out;

	/* Every endpoint's entries: patches at once, swaps (filled aside or
	 * here) installed together after the loop, in one update of the
	 * outer map; then each endpoint's record, after its policy. */
	writes = sl_xcalloc(a->reg.npods + 1, sizeof(*writes));
	swap_ids = sl_xcalloc(a->reg.npods + 1, sizeof(*swap_ids));
	swap_fds = sl_xcalloc(a->reg.npods + 1, sizeof(*swap_fds));
	for (i = 0; i < a->reg.npods; i++) {
		struct agent_pod *p = a->reg.pods[i];
		const struct sluice_ep_compiled *c = regen_compiled_of(&out, p->ep_id);
		struct regen_prep *prep = regen_prepared(&preps, p->ep_id);
		struct regen_write *w = &writes[i];
		struct patch_plan own;
		int fd = -1;

		own.head = own.tail = 0; /* (patch_plan() sets them; a first write does not ask it) */
		w->c = c ? c : &regen_empty;
		if (prep && prep->how == PATCH_SWAP) {
			w->how = PATCH_SWAP;
			rc = regen_take_prepared(prep, &fd, err);
			w->prepared = true;
		} else {
			const struct patch_plan *plan = prep ? &prep->plan : &own;

			w->how = prep ? prep->how : regen_plan(p, w->c, &own);
			w->head = plan->head;
			w->tail = plan->tail;
			rc = regen_write_or_fill(a, p, w->c, plan, &w->how, &fd, err);
		}
		if (rc)
			goto out;
		if (fd >= 0) {
			swap_ids[nswaps] = p->ep_id;
			swap_fds[nswaps++] = fd;
		}
	}
	rc = sluice_dp_policy_install_many(a->dp, swap_ids, swap_fds, nswaps, err);
	nswaps = 0; /* closed, installed or not */
	if (rc)
		goto out;
	for (i = 0; i < a->reg.npods; i++) {
		struct agent_pod *p = a->reg.pods[i];
		const struct regen_write *w = &writes[i];
		const struct sluice_ep_compiled *c = w->c;

		if (w->prepared)
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
				size_t lo = w->head, hi = c->nentries - w->tail;

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
	free(writes);
	free(swap_ids);
	free(swap_fds);
	regen_prepare_free(&preps);
	if (rc)
		a->compiled_valid = false;
	sluice_compiled_free(&out);
	agent_phase(a, "compile");
	return rc;
}
