/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commit.c - the one step that makes the datapath and the state directory
 * follow a change of the registry or of the policy set.
 *
 * A source (the local API, the Kubernetes source, the CNI attach path, the
 * policy dir) changes the registry or the policy set, then calls
 * agent_commit() saying what it changed. The commit runs, in this order:
 * regenerate (compile, ipcache, policy maps, endpoint records; regenerate.c)
 * -> proxy sync (the L7 rules) -> revalidate (scheduled on the loop) ->
 * state save (pods.json when the registry changed, state.json and the
 * policy texts when the policy set did).
 *
 * A batch (agent_commit_begin/_end) defers the commits inside it to one at
 * its end: a source applying many changes at once (a policy-dir scan, a
 * Kubernetes relist) regenerates and saves once. Changes whose order matters to
 * traffic regenerate at that point themselves and tell the commit only
 * what is left (AGENT_COMMIT_SAVE_*): a pod's programs are attached only
 * once its policy is in place, and an identity is known to every map before
 * an address carries it (endpoints.c). Relabels inside a batch keep that
 * order for all of them at once: the batch's end regenerates with every new
 * identity (the old ones still held), moves the addresses, releases the old
 * identities, and its commit regenerates them away: two regenerations for
 * any number of pods (agent_relabels_finish).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "agent.h"

void agent_commit_begin(struct agent *a)
{
	a->commit.depth++;
}

int agent_commit_end(struct agent *a, const char *why, char **err)
{
	unsigned pending;
	int rc;

	if (!a->commit.depth)
		abort(); /* an end without its begin: a bug in the caller */
	if (--a->commit.depth)
		return 0;
	/* relabels first: they add what the commit below must do (and a
	 * failed one has rolled itself back, the rest still commits) */
	rc = a->commit.nrelabels ? agent_relabels_finish(a, err) : 0;
	pending = a->commit.pending;
	a->commit.pending = 0;
	if (pending) {
		int crc = agent_commit(a, pending, why, rc ? NULL : err);

		if (!rc)
			rc = crc;
	}
	return rc;
}

/* Saves what the commit says changed; a failure is logged (the datapath
 * and the registry are right, only a restart would adopt older state). */
static void commit_save(struct agent *a, unsigned changed)
{
	int rc;

	if (changed & AGENT_COMMIT_SAVE_REGISTRY)
		rc = agent_state_save(a);
	else if (changed & AGENT_COMMIT_SAVE_POLICIES)
		rc = agent_state_save_policies(a);
	else
		return;
	a->counters.commits++;
	if (rc) {
		a->counters.state_save_failures++;
		fprintf(stderr, "sluiced: WARNING: state save to %s failed: %s; a restarted agent would adopt older state\n",
			a->cfg.state_dir, strerror(-rc));
	}
}

int agent_commit(struct agent *a, unsigned changed, const char *why, char **err)
{
	int rc = 0;

	if (a->commit.depth) {
		a->commit.pending |= changed;
		return 0;
	}
	if (changed & AGENT_COMMIT_REGENERATE) {
		if (err)
			rc = agent_regenerate(a, err);
		else /* the change is done and nobody can be told: said loudly */
			agent_regenerate_after(a, why, false);
	}
	/* a failure is the caller's to roll back, and to commit again */
	if (rc)
		return rc;
	commit_save(a, changed);
	return 0;
}
