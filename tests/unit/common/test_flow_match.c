/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_match.c - Hubble's FlowFilters against flows (common/
 * flow_match.c), the code both the agent and `observe --input-file` use:
 * OR of values inside a field, AND of fields, OR of allowlist filters, a
 * denylist that hides; each field's matching on the flow cases; refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow_cases.h"
#include "flow_match.h"

/* which of the flow cases match the request text, as a bit mask */
static uint32_t cases_matching(const char *req_text, const char *node)
{
	json_error_t e;
	json_t *req = json_loads(req_text, 0, &e);
	char *err = NULL;
	struct sl_flow_filters *fs;
	uint32_t mask = 0;

	if (!req)
		fail_msg("bad test JSON %s: %s", req_text, e.text);
	fs = sl_flow_filters_parse(req, &err);
	if (!fs)
		fail_msg("%s: %s", req_text, err);
	for (int i = 0; i < FLOW_CASES; i++) {
		struct sl_flow_view f = flow_case(i);

		if (sl_flow_filters_match(fs, &f, node, NULL))
			mask |= 1u << i;
	}
	sl_flow_filters_free(fs);
	json_decref(req);
	return mask;
}

#define ALL ((1u << FLOW_CASES) - 1)
#define C(i) (1u << (i))

static void test_fields(void **state)
{
	(void)state;
	assert_int_equal(cases_matching("{}", "n"), ALL);
	/* L7 cases: 5, 6, 7, 11 */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"protocol\": [\"http\"]}]}", "n"),
			 C(5) | C(6) | C(7) | C(11));
	assert_int_equal(cases_matching("{\"allowlist\": [{\"http_method\": [\"get\"]}]}", "n"), C(5));
	assert_int_equal(cases_matching("{\"allowlist\": [{\"http_path\": [\"^/api/users/[0-9]+\"]}]}", "n"), C(5));
	assert_int_equal(cases_matching("{\"allowlist\": [{\"http_status_code\": [\"4+\"]}]}", "n"), C(6));
	/* a pod is [namespace/]name prefix; case 10's source pod has control characters */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"source_pod\": [\"default/s\"]}]}", "n") & C(0), C(0));
	assert_int_equal(cases_matching("{\"allowlist\": [{\"source_pod\": [\"other/s\"]}]}", "n"), 0);
	/* labels: selector syntax, source prefix optional */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"destination_label\": [\"k8s:app in (dst, x)\"]}]}", "n") & C(0),
			 C(0));
	assert_int_equal(cases_matching("{\"allowlist\": [{\"destination_label\": [\"app notin (dst)\"]}]}", "n") & C(0), 0);
	/* workloads: kind and name, each if given (case 19: Deployment src, CronJob nightly\) */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"source_workload\": [{\"name\": \"src\"}]}]}", "n"), C(19));
	assert_int_equal(cases_matching("{\"allowlist\": [{\"source_workload\": [{\"kind\": \"StatefulSet\"}]}]}", "n"), 0);
	assert_int_equal(
		cases_matching("{\"allowlist\": [{\"destination_workload\": [{\"kind\": \"StatefulSet\"}]}]}", "n"), C(20));
	/* cluster names, exactly (cases 19 and 20: source "default"; 19's
	 * destination c"1, 20's "") */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"source_cluster_name\": [\"default\"]}]}", "n"),
			 C(19) | C(20));
	assert_int_equal(cases_matching("{\"allowlist\": [{\"destination_cluster_name\": [\"c\\\"1\"]}]}", "n"), C(19));
	assert_int_equal(cases_matching("{\"allowlist\": [{\"source_cluster_name\": [\"defaul\"]}]}", "n"), 0);
	/* the node is the caller's: a glob */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"node_name\": [\"node-*\"]}]}", "node-a"), ALL);
	assert_int_equal(cases_matching("{\"allowlist\": [{\"node_name\": [\"node-*\"]}]}", "other"), 0);
	assert_int_equal(cases_matching("{\"allowlist\": [{\"node_name\": [\"node-*\"]}]}", NULL), 0);
	/* a uuid: the flow's text (the cases have none) */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"uuid\": [\"01234567-89ab-4def-8000-000000000001\"]}]}", "n"), 0);
}

static void test_combining(void **state)
{
	uint32_t tcp, ingress;

	(void)state;
	tcp = cases_matching("{\"allowlist\": [{\"protocol\": [\"tcp\"]}]}", "n");
	ingress = cases_matching("{\"allowlist\": [{\"traffic_direction\": [\"INGRESS\"]}]}", "n");
	assert_true(tcp && ingress && tcp != ALL && ingress != ALL);
	/* fields AND */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"protocol\": [\"tcp\"], \"traffic_direction\": [\"INGRESS\"]}]}",
					"n"),
			 tcp & ingress);
	/* filters OR */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"protocol\": [\"tcp\"]}, {\"traffic_direction\": [\"INGRESS\"]}]}",
					"n"),
			 tcp | ingress);
	/* values OR */
	assert_int_equal(cases_matching("{\"allowlist\": [{\"verdict\": [\"DROPPED\", \"FORWARDED\"]}]}", "n"),
			 cases_matching("{\"allowlist\": [{\"verdict\": [\"DROPPED\"]}, {\"verdict\": [\"FORWARDED\"]}]}",
					"n"));
	/* the denylist hides */
	assert_int_equal(cases_matching("{\"denylist\": [{\"protocol\": [\"tcp\"]}]}", "n"), ALL & ~tcp);
	assert_int_equal(cases_matching("{\"allowlist\": [{\"protocol\": [\"tcp\"]}], \"denylist\": [{\"traffic_direction\": "
					"[\"INGRESS\"]}]}",
					"n"),
			 tcp & ~ingress);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"{\"allowlist\": [{\"no_such_field\": [\"x\"]}]}",
		"{\"allowlist\": [{\"http_path\": [\"(\"]}]}",
		"{\"allowlist\": [{\"source_port\": [\"99999\"]}]}",
		"{\"allowlist\": [{\"verdict\": [\"SIDEWAYS\"]}]}",
		"{\"allowlist\": [{\"source_label\": [\"a in b\"]}]}",
		"{\"allowlist\": {\"verdict\": [\"DROPPED\"]}}",
		"{\"allowlist\": [], \"denylist\": 3}",
		"{\"filters\": []}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *req = json_loads(bad[i], 0, NULL);
		char *err = NULL;

		assert_non_null(req);
		if (sl_flow_filters_parse(req, &err))
			fail_msg("accepted %s", bad[i]);
		assert_non_null(err);
		free(err);
		json_decref(req);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_combining),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
