// SPDX-License-Identifier: Apache-2.0
/*
 * test_list_diff.c - the relist diff: what a watch missed is delivered as
 * events (deletions with the cached state, new objects as ADDED, changed
 * resourceVersions as MODIFIED, nothing for unchanged ones), and the cache
 * ends equal to the list; keys are namespace/name or name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "list_diff.h"

static json_t *obj(const char *ns, const char *name, const char *rv)
{
	json_t *md = json_pack("{s:s, s:s}", "name", name, "resourceVersion", rv);
	if (ns)
		json_object_set_new(md, "namespace", json_string(ns));
	return json_pack("{s:o}", "metadata", md);
}

struct log {
	char lines[32][96];
	int n;
};

static void log_emit(void *ctx, enum k8s_event_type type, json_t *o)
{
	struct log *l = ctx;
	char *key = k8s_object_key(o);
	static const char *const names[] = {"ADDED", "MODIFIED", "DELETED"};
	assert_true(l->n < 32);
	snprintf(l->lines[l->n++], 96, "%s %s %s", names[type], key, k8s_object_rv(o));
	free(key);
}

static void test_keys(void **state)
{
	(void)state;
	json_t *a = obj("ns1", "web", "1"), *b = obj(NULL, "node-a", "2");
	json_t *c = json_pack("{s:{s:s}}", "metadata", "namespace", "x");
	char *k = k8s_object_key(a);
	assert_string_equal(k, "ns1/web");
	free(k);
	k = k8s_object_key(b);
	assert_string_equal(k, "node-a");
	free(k);
	assert_null(k8s_object_key(c));
	assert_string_equal(k8s_object_rv(a), "1");
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void test_diff(void **state)
{
	(void)state;
	json_t *cache = json_object();
	json_object_set_new(cache, "a/keep", obj("a", "keep", "10"));
	json_object_set_new(cache, "a/change", obj("a", "change", "11"));
	json_object_set_new(cache, "a/gone", obj("a", "gone", "12"));
	json_object_set_new(cache, "cluster-gone", obj(NULL, "cluster-gone", "13"));

	json_t *items = json_array();
	json_array_append_new(items, obj("a", "new", "20"));
	json_array_append_new(items, obj("a", "keep", "10"));
	json_array_append_new(items, obj("a", "change", "21"));
	json_array_append_new(items, obj(NULL, "cluster-new", "22"));
	json_array_append_new(items, json_pack("{s:{}}", "metadata")); /* no name: skipped */

	struct log l = {0};
	assert_int_equal(k8s_list_diff(cache, items, log_emit, &l), 1);
	assert_int_equal(l.n, 5);
	/* deletions first (hash order among them), with the cached version */
	char del[2][96];
	memcpy(del[0], l.lines[0], 96);
	memcpy(del[1], l.lines[1], 96);
	assert_true((strcmp(del[0], "DELETED a/gone 12") == 0 &&
		     strcmp(del[1], "DELETED cluster-gone 13") == 0) ||
		    (strcmp(del[1], "DELETED a/gone 12") == 0 &&
		     strcmp(del[0], "DELETED cluster-gone 13") == 0));
	/* then the list, in list order */
	assert_string_equal(l.lines[2], "ADDED a/new 20");
	assert_string_equal(l.lines[3], "MODIFIED a/change 21");
	assert_string_equal(l.lines[4], "ADDED cluster-new 22");

	assert_int_equal(json_object_size(cache), 4);
	assert_non_null(json_object_get(cache, "a/keep"));
	assert_string_equal(k8s_object_rv(json_object_get(cache, "a/change")), "21");
	assert_null(json_object_get(cache, "a/gone"));

	/* the same list again: nothing to say */
	struct log l2 = {0};
	k8s_list_diff(cache, items, log_emit, &l2);
	assert_int_equal(l2.n, 0);

	/* an empty list deletes everything */
	json_t *none = json_array();
	struct log l3 = {0};
	k8s_list_diff(cache, none, log_emit, &l3);
	assert_int_equal(l3.n, 4);
	for (int i = 0; i < 4; i++)
		assert_non_null(strstr(l3.lines[i], "DELETED"));
	assert_int_equal(json_object_size(cache), 0);

	json_decref(none);
	json_decref(items);
	json_decref(cache);
}

static void test_duplicate_in_list(void **state)
{
	(void)state;
	json_t *cache = json_object();
	json_t *items = json_array();
	json_array_append_new(items, obj("a", "x", "1"));
	json_array_append_new(items, obj("a", "x", "2"));
	struct log l = {0};
	k8s_list_diff(cache, items, log_emit, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.lines[0], "ADDED a/x 2");
	json_decref(items);
	json_decref(cache);
}

/* resourceVersions are opaque: "9" -> "10" is a change, not a step back */
static void test_rv_opaque(void **state)
{
	(void)state;
	json_t *cache = json_object();
	json_object_set_new(cache, "a/x", obj("a", "x", "9"));
	json_t *items = json_array();
	json_array_append_new(items, obj("a", "x", "10"));
	struct log l = {0};
	k8s_list_diff(cache, items, log_emit, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.lines[0], "MODIFIED a/x 10");
	json_decref(items);
	json_decref(cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_duplicate_in_list),
		cmocka_unit_test(test_rv_opaque),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
