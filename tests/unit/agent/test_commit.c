/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_commit.c - the agent's commit step (agent/commit.c) against counting
 * stand-ins for the steps it orders (regenerate, state save), which are
 * tested for real by the integration scenarios: what a commit runs for each
 * kind of change, batches (nested) that merge their commits into one at the
 * end, a failed regeneration that saves nothing and is returned, or logged
 * and left when nobody can be told, failed saves counted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent.h"

/* what the steps were asked to do, and how they answer */
static struct {
	int regenerations, regenerations_after, saves, policy_saves, relabel_finishes;
	int regenerate_rc, save_rc;
	char order[16];
} calls;

static void step(char c)
{
	size_t n = strlen(calls.order);

	if (n + 1 < sizeof(calls.order))
		calls.order[n] = c;
}

int agent_regenerate(struct agent *a, char **err)
{
	(void)a;
	calls.regenerations++;
	step('R');
	if (calls.regenerate_rc && err)
		*err = strdup("policy map full");
	return calls.regenerate_rc;
}

void agent_regenerate_after(struct agent *a, const char *what, bool rollback)
{
	(void)a;
	(void)what;
	(void)rollback;
	calls.regenerations_after++;
	step('A');
}

int agent_state_save(struct agent *a)
{
	(void)a;
	calls.saves++;
	step('S');
	return calls.save_rc;
}

int agent_state_save_policies(struct agent *a)
{
	(void)a;
	calls.policy_saves++;
	step('P');
	return calls.save_rc;
}

/* endpoints.c's deferred relabels: stands in for what the real one leaves
 * to the commit (it regenerates the new identities in itself: 'L') */
int agent_relabels_finish(struct agent *a, char **err)
{
	(void)err;
	calls.relabel_finishes++;
	step('L');
	a->commit.relabels = NULL;
	a->commit.nrelabels = 0;
	a->commit.pending |= AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_REGISTRY;
	return 0;
}

static int setup(void **state)
{
	static struct agent a;

	memset(&a, 0, sizeof(a));
	a.cfg.state_dir = "/nonexistent";
	memset(&calls, 0, sizeof(calls));
	*state = &a;
	return 0;
}

static void test_kinds(void **state)
{
	struct agent *a = *state;

	/* a registry change: regenerate first, then save */
	assert_int_equal(agent_commit(a, AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_REGISTRY, "pod", NULL), 0);
	assert_string_equal(calls.order, "AS");
	assert_int_equal(agent_commit(a, AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_POLICIES, "pol", NULL), 0);
	assert_string_equal(calls.order, "ASAP");
	/* with someone to tell: the plain regeneration, its error returned */
	{
		char *err = NULL;

		assert_int_equal(agent_commit(a, AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_POLICIES, "pol", &err), 0);
		assert_null(err);
	}
	assert_string_equal(calls.order, "ASAPRP");
	/* the change regenerated itself (ordered): save only */
	assert_int_equal(agent_commit(a, AGENT_COMMIT_SAVE_REGISTRY, "pod", NULL), 0);
	assert_string_equal(calls.order, "ASAPRPS");
	/* a registry save writes the policies too: no second save */
	assert_int_equal(agent_commit(a, AGENT_COMMIT_SAVE_REGISTRY | AGENT_COMMIT_SAVE_POLICIES, "both", NULL), 0);
	assert_string_equal(calls.order, "ASAPRPSS");
	assert_int_equal(a->counters.commits, 5);
}

static void test_batch(void **state)
{
	struct agent *a = *state;
	int i;

	agent_commit_begin(a);
	for (i = 0; i < 100; i++)
		assert_int_equal(agent_commit(a, AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_REGISTRY, "pod delete", NULL), 0);
	agent_commit_begin(a); /* nested: e.g. a sync inside an initial list */
	assert_int_equal(agent_commit(a, AGENT_COMMIT_SAVE_POLICIES, "policy", NULL), 0);
	assert_int_equal(agent_commit_end(a, "inner", NULL), 0);
	assert_string_equal(calls.order, ""); /* nothing until the outer end */
	assert_int_equal(a->commit.pending,
			 AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_REGISTRY | AGENT_COMMIT_SAVE_POLICIES);
	assert_int_equal(agent_commit_end(a, "batch", NULL), 0);
	assert_string_equal(calls.order, "AS"); /* one regeneration, one save */
	assert_int_equal(a->commit.pending, 0);
	assert_int_equal(a->commit.depth, 0);
	/* an empty batch commits nothing */
	agent_commit_begin(a);
	assert_int_equal(agent_commit_end(a, "empty", NULL), 0);
	assert_string_equal(calls.order, "AS");
	assert_int_equal(a->counters.commits, 1);
}

/* pods relabelled in a batch move together at its outermost end: the
 * relabel step once, then one commit (one regeneration, one save) */
static void test_batch_relabels(void **state)
{
	struct agent *a = *state;
	struct agent_relabel r[3] = { { NULL, 0 } };
	int i;

	agent_commit_begin(a);
	a->commit.relabels = r; /* as endpoints.c leaves three deferred relabels */
	a->commit.nrelabels = 3;
	for (i = 0; i < 3; i++)
		assert_int_equal(agent_commit(a, AGENT_COMMIT_SAVE_REGISTRY, "pod relabel", NULL), 0);
	agent_commit_begin(a);
	assert_int_equal(agent_commit_end(a, "inner", NULL), 0);
	assert_string_equal(calls.order, "");
	assert_int_equal(agent_commit_end(a, "batch", NULL), 0);
	assert_string_equal(calls.order, "LAS");
	assert_int_equal(calls.relabel_finishes, 1);
	assert_int_equal(a->commit.nrelabels, 0);
	/* a batch without relabels never calls the step */
	agent_commit_begin(a);
	assert_int_equal(agent_commit(a, AGENT_COMMIT_SAVE_REGISTRY, "pod", NULL), 0);
	assert_int_equal(agent_commit_end(a, "batch", NULL), 0);
	assert_int_equal(calls.relabel_finishes, 1);
}

static void test_batch_reports_failure(void **state)
{
	struct agent *a = *state;
	char *err = NULL;

	agent_commit_begin(a);
	assert_int_equal(agent_commit(a, AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_REGISTRY, "x", NULL), 0);
	calls.regenerate_rc = -ENOSPC;
	assert_int_equal(agent_commit_end(a, "batch", &err), -ENOSPC);
	assert_non_null(err);
	assert_string_equal(err, "policy map full");
	free(err);
	/* nothing saved: the caller rolls back, then commits again */
	assert_string_equal(calls.order, "R");
	assert_int_equal(a->counters.commits, 0);
}

static void test_regenerate_failure(void **state)
{
	struct agent *a = *state;
	char *err = NULL;

	calls.regenerate_rc = -ENOSPC;
	assert_int_equal(agent_commit(a, AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_POLICIES, "apply", &err), -ENOSPC);
	assert_string_equal(err, "policy map full");
	free(err);
	assert_int_equal(calls.policy_saves, 0);
	/* done and nobody to tell (a delete): logged by regenerate_after, saved */
	assert_int_equal(agent_commit(a, AGENT_COMMIT_REGENERATE | AGENT_COMMIT_SAVE_REGISTRY, "pod delete", NULL), 0);
	assert_int_equal(calls.regenerations_after, 1);
	assert_int_equal(calls.saves, 1);
}

static void test_save_failure_counted(void **state)
{
	struct agent *a = *state;

	calls.save_rc = -ENOSPC;
	assert_int_equal(agent_commit(a, AGENT_COMMIT_SAVE_POLICIES, "apply", NULL), 0);
	assert_int_equal(a->counters.state_save_failures, 1);
	calls.save_rc = 0;
	assert_int_equal(agent_commit(a, AGENT_COMMIT_SAVE_POLICIES, "apply", NULL), 0);
	assert_int_equal(a->counters.state_save_failures, 1);
	assert_int_equal(a->counters.commits, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_kinds, setup),
		cmocka_unit_test_setup(test_batch, setup),
		cmocka_unit_test_setup(test_batch_relabels, setup),
		cmocka_unit_test_setup(test_batch_reports_failure, setup),
		cmocka_unit_test_setup(test_regenerate_failure, setup),
		cmocka_unit_test_setup(test_save_failure_counted, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
