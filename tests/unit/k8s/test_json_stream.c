// SPDX-License-Identifier: Apache-2.0
/*
 * test_json_stream.c - the watch body framer: a watch transcript cut at
 * every byte (two pieces), fed a byte at a time, and in random pieces gives
 * the same objects as fed whole; several objects per read; strings holding
 * braces, brackets and escaped quotes; garbage, stray closers and bad JSON
 * are errors that say where.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_stream.h"

/* As kube-apiserver 1.20 writes it: one object per event, then "\n". */
static const char transcript[] =
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
	"{\"name\":\"web-1\",\"namespace\":\"default\",\"uid\":\"7c1c2a3e-0d5b-4b1e-9a53-5f0b0e0c1d2e\","
	"\"resourceVersion\":\"1042\",\"creationTimestamp\":\"2026-12-05T09:00:00Z\","
	"\"labels\":{\"app\":\"web\",\"tier\":\"{front}\"},\"annotations\":{\"note\":"
	"\"a \\\"quoted\\\" }] value with \\\\ and \\u007b\"},\"managedFields\":[{\"manager\":"
	"\"kubectl-create\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"fieldsType\":\"FieldsV1\","
	"\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}}}}]},\"spec\":"
	"{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\",\"ports\":[{\"name\":\"http\","
	"\"containerPort\":80,\"protocol\":\"TCP\"}]}],\"nodeName\":\"node1\"},\"status\":"
	"{\"phase\":\"Pending\"}}}\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
	"{\"resourceVersion\":\"1050\",\"creationTimestamp\":null},\"spec\":{\"containers\":null},"
	"\"status\":{}}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
	"{\"name\":\"web-1\",\"namespace\":\"default\",\"resourceVersion\":\"1061\",\"labels\":"
	"{\"app\":\"web\"}},\"status\":{\"podIP\":\"10.200.0.5\",\"podIPs\":[{\"ip\":\"10.200.0.5\"}]}}}\n"
	"{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
	"{\"name\":\"web-1\",\"namespace\":\"default\",\"resourceVersion\":\"1077\"}}}\n"
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	"\"status\":\"Failure\",\"message\":\"too old resource version: 1 (196)\",\"reason\":"
	"\"Expired\",\"code\":410}}\n";

struct sink {
	json_t *objs; /* array of what came out */
	int stop_after; /* return 7 after this many objects (0: never) */
};

static int sink_cb(void *ctx, json_t *obj)
{
	struct sink *s = ctx;
	json_array_append(s->objs, obj);
	if (s->stop_after && (int)json_array_size(s->objs) == s->stop_after)
		return 7;
	return 0;
}

/* Feeds data in the pieces `cuts` (ascending offsets) describes. */
static int feed_cut(const char *data, size_t len, const size_t *cuts, size_t ncuts, json_t **out,
		    char **err)
{
	struct k8s_json_stream st;
	struct sink s = {.objs = json_array()};
	size_t at = 0;
	int r = 0;
	k8s_json_stream_init(&st, 0);
	for (size_t i = 0; i <= ncuts && !r; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		r = k8s_json_stream_feed(&st, data + at, end - at, sink_cb, &s, err);
		at = end;
	}
	if (!r && k8s_json_stream_pending(&st))
		r = -1;
	k8s_json_stream_free(&st);
	*out = s.objs;
	return r;
}

static json_t *whole(void)
{
	json_t *objs;
	char *err = NULL;
	assert_int_equal(feed_cut(transcript, sizeof(transcript) - 1, NULL, 0, &objs, &err), 0);
	assert_null(err);
	return objs;
}

static void test_whole_transcript(void **state)
{
	(void)state;
	json_t *objs = whole();
	assert_int_equal(json_array_size(objs), 5);
	json_t *ann = json_object_get(json_object_get(json_object_get(json_array_get(objs, 0), "object"),
						      "metadata"),
				      "annotations");
	assert_string_equal(json_string_value(json_object_get(ann, "note")),
			    "a \"quoted\" }] value with \\ and {");
	assert_string_equal(json_string_value(json_object_get(json_array_get(objs, 4), "type")),
			    "ERROR");
	json_decref(objs);
}

static void test_every_split_point(void **state)
{
	(void)state;
	size_t len = sizeof(transcript) - 1;
	json_t *ref = whole();
	for (size_t cut = 0; cut <= len; cut++) {
		json_t *objs;
		char *err = NULL;
		assert_int_equal(feed_cut(transcript, len, &cut, 1, &objs, &err), 0);
		if (!json_equal(objs, ref))
			fail_msg("split at byte %zu gives different objects", cut);
		json_decref(objs);
	}
	json_decref(ref);
}

static void test_byte_at_a_time_and_random(void **state)
{
	(void)state;
	size_t len = sizeof(transcript) - 1;
	json_t *ref = whole();
	size_t *cuts = malloc(len * sizeof(*cuts));
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	json_t *objs;
	char *err = NULL;
	assert_int_equal(feed_cut(transcript, len, cuts, len - 1, &objs, &err), 0);
	assert_true(json_equal(objs, ref));
	json_decref(objs);

	/* random pieces, a fixed seed so a failure repeats */
	uint32_t seed = 12345;
	for (int round = 0; round < 300; round++) {
		size_t n = 0, at = 0;
		while (at < len) {
			seed = seed * 1103515245u + 12345u;
			at += 1 + (seed >> 16) % 97;
			if (at < len)
				cuts[n++] = at;
		}
		assert_int_equal(feed_cut(transcript, len, cuts, n, &objs, &err), 0);
		assert_true(json_equal(objs, ref));
		json_decref(objs);
	}
	free(cuts);
	json_decref(ref);
}

static void test_many_per_read_and_whitespace(void **state)
{
	(void)state;
	const char *data = "  {\"a\":1}{\"b\":[1,{\"c\":\"}\"}]}\r\n\t{\"d\":\"\\\\\"}\n\n";
	json_t *objs;
	char *err = NULL;
	assert_int_equal(feed_cut(data, strlen(data), NULL, 0, &objs, &err), 0);
	assert_int_equal(json_array_size(objs), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(objs, 2), "d")), "\\");
	json_decref(objs);
}

static void test_callback_stops(void **state)
{
	(void)state;
	struct k8s_json_stream st;
	struct sink s = {.objs = json_array(), .stop_after = 2};
	char *err = NULL;
	k8s_json_stream_init(&st, 0);
	assert_int_equal(k8s_json_stream_feed(&st, transcript, sizeof(transcript) - 1, sink_cb, &s, &err),
			 7);
	assert_int_equal(json_array_size(s.objs), 2);
	k8s_json_stream_free(&st);
	json_decref(s.objs);
}

static void expect_error(const char *data, const char *needle)
{
	json_t *objs;
	char *err = NULL;
	int r = feed_cut(data, strlen(data), NULL, 0, &objs, &err);
	assert_true(r < 0);
	if (needle) {
		assert_non_null(err);
		if (!strstr(err, needle))
			fail_msg("error \"%s\" does not say \"%s\"", err, needle);
	}
	free(err);
	json_decref(objs);
}

static void test_garbage(void **state)
{
	(void)state;
	expect_error("hello", "expected '{' at byte 0");
	expect_error("{\"a\":1}\n]", "expected '{' at byte 8");
	expect_error("[1,2]", "expected '{'");
	expect_error("{\"a\":}", "bad JSON object at byte 0");
	expect_error("{\"a\":1]", "bad JSON object");
	expect_error("{\"a\":1}{\"b\":tru}", "bad JSON object at byte 7");
	/* a cut mid-object is left pending (the caller reports the cut) */
	expect_error("{\"a\":\"}", NULL);
	/* nesting bomb */
	char *deep = malloc(5000);
	memset(deep, '[', 4999);
	deep[0] = '{';
	deep[4999] = 0;
	expect_error(deep, "nesting deeper than 1000");
	free(deep);
}

static void test_size_limit(void **state)
{
	(void)state;
	struct k8s_json_stream st;
	struct sink s = {.objs = json_array()};
	char *err = NULL;
	k8s_json_stream_init(&st, 64);
	const char *big = "{\"a\":\"0123456789012345678901234567890123456789012345678901234567890123\"}";
	assert_int_equal(k8s_json_stream_feed(&st, big, strlen(big), sink_cb, &s, &err), -EMSGSIZE);
	assert_non_null(strstr(err, "larger than 64 bytes"));
	free(err);
	k8s_json_stream_free(&st);
	json_decref(s.objs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_transcript),
		cmocka_unit_test(test_every_split_point),
		cmocka_unit_test(test_byte_at_a_time_and_random),
		cmocka_unit_test(test_many_per_read_and_whitespace),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_size_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
