// SPDX-License-Identifier: Apache-2.0
/* test_labels.c - label sets, pod identity labels and selector matching. */
#include "testutil.h"

#include <stdlib.h>

static void test_label_set(void **state)
{
	(void)state;
	struct sluice_labels l = { 0 }, c = { 0 };
	char *s;

	assert_int_equal(sluice_labels_add(&l, "k8s", "b", "2"), 0);
	assert_int_equal(sluice_labels_add(&l, "k8s", "a", "1"), 0);
	assert_int_equal(sluice_labels_add(&l, "reserved", "host", NULL), 0);
	assert_int_equal(sluice_labels_add(&l, "k8s", "a", "3"), 0); /* replaces */
	assert_int_equal(l.n, 3);
	s = sluice_labels_format(&l);
	assert_string_equal(s, "k8s:a=3,k8s:b=2,reserved:host");
	free(s);
	assert_non_null(sluice_labels_find(&l, "k8s", "b"));
	assert_null(sluice_labels_find(&l, "any", "b"));
	assert_int_equal(sluice_labels_copy(&c, &l), 0);
	assert_true(sluice_labels_equal(&c, &l));
	assert_int_equal(sluice_labels_remove(&c, "k8s", "b"), 0);
	assert_int_equal(sluice_labels_remove(&c, "k8s", "b"), -2);
	assert_false(sluice_labels_equal(&c, &l));
	sluice_labels_free(&c);

	char *err = NULL;
	assert_int_equal(sluice_labels_parse(&c, "app=web, k8s:tier=db,reserved:host,flag", "k8s", &err), 0);
	assert_int_equal(c.n, 4);
	s = sluice_labels_format(&c);
	assert_string_equal(s, "k8s:app=web,k8s:flag,k8s:tier=db,reserved:host");
	free(s);
	assert_int_equal(sluice_labels_parse(&c, "a=1,=2", "k8s", &err), -22);
	assert_non_null(err);
	free(err);
	assert_int_equal(c.n, 4); /* unchanged on error */
	sluice_labels_free(&c);
	sluice_labels_free(&l);
}

static void test_pod_identity_labels(void **state)
{
	(void)state;
	struct sluice_labels pod = { 0 }, ns = { 0 }, out = { 0 };
	char *s;

	sluice_labels_add(&pod, "k8s", "app", "web");
	sluice_labels_add(&pod, "k8s", "pod-template-hash", "abc123");
	sluice_labels_add(&ns, "k8s", "kubernetes.io/metadata.name", "shop");
	sluice_labels_add(&ns, "k8s", "env", "prod");
	assert_int_equal(sluice_pod_identity_labels(&out, "shop", &pod, &ns), 0);
	s = sluice_labels_format(&out);
	assert_string_equal(s, "k8s:app=web,"
			       "k8s:io.cilium.k8s.namespace.labels.env=prod,"
			       "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop,"
			       "k8s:io.cilium.k8s.policy.cluster=default,"
			       "k8s:io.kubernetes.pod.namespace=shop");
	free(s);
	sluice_labels_free(&out);
	sluice_labels_free(&pod);
	sluice_labels_free(&ns);
}

/* a selector from one CNP endpointSelector */
static struct sluice_policy_set selector_set(const char *sel)
{
	struct sluice_policy_set set = { 0 };
	char y[2048];

	snprintf(y, sizeof(y),
		 "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
		 "metadata: {name: p}\nspec:\n  endpointSelector: %s\n  ingress: [{}]\n", sel);
	load_ok(&set, y);
	return set;
}

static bool matches(const char *sel, const char *labels)
{
	struct sluice_policy_set set = selector_set(sel);
	struct sluice_labels l = { 0 };
	bool m;

	assert_int_equal(sluice_labels_parse(&l, labels, "k8s", NULL), 0);
	m = sluice_selector_matches(&set.v[0].rules[0].subject, &l);
	sluice_labels_free(&l);
	sluice_policy_set_free(&set);
	return m;
}

static void test_selectors(void **state)
{
	(void)state;
	/* matchLabels */
	assert_true(matches("{matchLabels: {app: web}}", "app=web,tier=x"));
	assert_false(matches("{matchLabels: {app: web}}", "app=db"));
	assert_false(matches("{matchLabels: {app: web, tier: x}}", "app=web"));
	assert_true(matches("{}", "app=web"));
	assert_true(matches("{}", ""));
	/* operators */
	assert_true(matches("{matchExpressions: [{key: app, operator: In, values: [a, b]}]}", "app=b"));
	assert_false(matches("{matchExpressions: [{key: app, operator: In, values: [a, b]}]}", "app=c"));
	assert_false(matches("{matchExpressions: [{key: app, operator: In, values: [a]}]}", "x=a"));
	assert_true(matches("{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}", "app=b"));
	assert_true(matches("{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}", "x=1"));
	assert_false(matches("{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}", "app=a"));
	assert_true(matches("{matchExpressions: [{key: app, operator: Exists}]}", "app="));
	assert_false(matches("{matchExpressions: [{key: app, operator: Exists}]}", "apps=1"));
	assert_true(matches("{matchExpressions: [{key: app, operator: DoesNotExist}]}", "x=1"));
	assert_false(matches("{matchExpressions: [{key: app, operator: DoesNotExist}]}", "app=1"));
	/* sources: no source = any; k8s: only k8s; reserved: only reserved */
	assert_true(matches("{matchLabels: {app: web}}", "container:app=web"));
	assert_true(matches("{matchLabels: {\"k8s:app\": web}}", "k8s:app=web"));
	assert_false(matches("{matchLabels: {\"k8s:app\": web}}", "container:app=web"));
	assert_true(matches("{matchLabels: {\"any:app\": web}}", "container:app=web"));
	assert_true(matches("{matchLabels: {\"reserved:host\": \"\"}}", "reserved:host"));
	assert_false(matches("{matchLabels: {\"reserved:host\": \"\"}}", "k8s:host"));
	/* an unknown prefix stays in the key */
	assert_true(matches("{matchLabels: {\"foo:bar\": x}}", "k8s:foo:bar=x"));
	/* any-source NotIn: every label with the key must pass */
	assert_false(matches("{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}",
			     "k8s:app=b,container:app=a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_set),
		cmocka_unit_test(test_pod_identity_labels),
		cmocka_unit_test(test_selectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
