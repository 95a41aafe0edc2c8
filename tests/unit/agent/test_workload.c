/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_workload.c - the workload a pod object names (agent/workload.c), by
 * Cilium's heuristics: a generated name and a controlling owner; a
 * ReplicaSet with the pod's pod-template-hash is its Deployment's, a Job
 * named NAME-<8 to 10 digits> a CronJob's, a ReplicationController with a
 * deploymentconfig label a DeploymentConfig's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "workload.h"

/* A pod: generateName (NULL: none), labels (JSON object text), owners
 * (JSON array text). */
static json_t *pod(const char *gen, const char *labels, const char *owners)
{
	char text[2048];
	json_error_t e;
	json_t *p;

	snprintf(text, sizeof(text),
		 "{\"kind\": \"Pod\", \"metadata\": {\"name\": \"p-x1\", %s%s%s \"labels\": %s, "
		 "\"ownerReferences\": %s}}",
		 gen ? "\"generateName\": \"" : "", gen ? gen : "", gen ? "\"," : "", labels, owners);
	p = json_loads(text, 0, &e);
	if (!p)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return p;
}

/* "KIND/NAME" of what the pod names, or "" */
static void expect(const char *gen, const char *labels, const char *owners, const char *want)
{
	json_t *p = pod(gen, labels, owners);
	struct agent_workload w;
	char got[256] = "";
	bool found = agent_workload_of_pod(p, &w);

	if (found)
		snprintf(got, sizeof(got), "%s/%s", w.kind, w.name);
	else
		assert_null(w.kind);
	if (strcmp(got, want))
		fail_msg("generateName %s, labels %s, owners %s:\n got  \"%s\"\n want \"%s\"", gen ? gen : "(none)",
			 labels, owners, got, want);
	agent_workload_free(&w);
	json_decref(p);
}

#define RS(name) "[{\"apiVersion\": \"apps/v1\", \"kind\": \"ReplicaSet\", \"name\": \"" name "\", " \
		 "\"uid\": \"u1\", \"controller\": true}]"
#define OWNER(kind, name) "[{\"kind\": \"" kind "\", \"name\": \"" name "\", \"controller\": true}]"

static void test_deployment(void **state)
{
	(void)state;
	expect("web-7f9c8d6b5-", "{\"app\": \"web\", \"pod-template-hash\": \"7f9c8d6b5\"}", RS("web-7f9c8d6b5"),
	       "Deployment/web");
	/* a Deployment whose own name has dashes */
	expect("my-api-v2-5d4c-", "{\"pod-template-hash\": \"5d4c\"}", RS("my-api-v2-5d4c"), "Deployment/my-api-v2");
	/* the hash ends the name without its dash: Go's TrimSuffix of "-"+hash
	 * cuts nothing, the kind still becomes Deployment (as Cilium) */
	expect("web5d4c-", "{\"pod-template-hash\": \"5d4c\"}", RS("web5d4c"), "Deployment/web5d4c");
	/* a bare ReplicaSet: no hash label, or a name without the hash */
	expect("rs-", "{\"app\": \"x\"}", RS("rs"), "ReplicaSet/rs");
	expect("rs-", "{\"pod-template-hash\": \"abc\"}", RS("rs-def"), "ReplicaSet/rs-def");
	expect("rs-", "{\"pod-template-hash\": \"\"}", RS("rs-def"), "ReplicaSet/rs-def");
}

static void test_jobs(void **state)
{
	(void)state;
	expect("nightly-28901234-", "{}", OWNER("Job", "nightly-28901234"), "CronJob/nightly");
	expect("n-", "{}", OWNER("Job", "back-up-1733472000"), "CronJob/back-up");
	/* 7 or 11 digits, letters, nothing before the dash: a plain Job */
	expect("n-", "{}", OWNER("Job", "job-1234567"), "Job/job-1234567");
	expect("n-", "{}", OWNER("Job", "job-12345678901"), "Job/job-12345678901");
	expect("n-", "{}", OWNER("Job", "job-1234567a"), "Job/job-1234567a");
	expect("n-", "{}", OWNER("Job", "-12345678"), "Job/-12345678");
	expect("n-", "{}", OWNER("Job", "migrate"), "Job/migrate");
}

static void test_other_owners(void **state)
{
	(void)state;
	expect("db-", "{}", OWNER("StatefulSet", "db"), "StatefulSet/db");
	expect("agent-", "{}", OWNER("DaemonSet", "agent"), "DaemonSet/agent");
	expect("rc-", "{\"deploymentconfig\": \"frontend\"}", OWNER("ReplicationController", "frontend-3"),
	       "DeploymentConfig/frontend");
	expect("rc-", "{}", OWNER("ReplicationController", "frontend-3"), "ReplicationController/frontend-3");
	/* the controlling owner, not the first one */
	expect("x-",
	       "{}",
	       "[{\"kind\": \"ConfigMap\", \"name\": \"cm\"}, {\"kind\": \"Foo\", \"name\": \"f\", \"controller\": false},"
	       " {\"kind\": \"StatefulSet\", \"name\": \"db\", \"controller\": true}]",
	       "StatefulSet/db");
}

static void test_none(void **state)
{
	(void)state;
	/* a pod named by hand names no workload, whatever its owners */
	expect(NULL, "{\"pod-template-hash\": \"7f9c\"}", RS("web-7f9c"), "");
	expect("", "{}", OWNER("StatefulSet", "db"), "");
	/* no controlling owner, or one without a kind or a name */
	expect("x-", "{}", "[]", "");
	expect("x-", "{}", "[{\"kind\": \"StatefulSet\", \"name\": \"db\"}]", "");
	expect("x-", "{}", "[{\"name\": \"db\", \"controller\": true}]", "");
	expect("x-", "{}", "[{\"kind\": \"StatefulSet\", \"controller\": true}]", "");
	expect("x-", "{}", "null", "");
}

static void test_equal(void **state)
{
	struct agent_workload none = { 0 }, a = { "Deployment", "web" }, b = { "Deployment", "web" };
	struct agent_workload c = { "StatefulSet", "web" };

	(void)state;
	assert_true(agent_workload_equal(&none, &none));
	assert_true(agent_workload_equal(&a, &b));
	assert_false(agent_workload_equal(&a, &c));
	assert_false(agent_workload_equal(&a, &none));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_other_owners),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
