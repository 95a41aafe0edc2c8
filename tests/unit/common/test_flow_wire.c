/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_wire.c - the binary observe stream: every flow of flow_cases.h
 * survives encode + decode with the same JSON line (NULL and "" kept
 * apart), peers go once per stream and again after a slot was reused,
 * lost counts add up, and cut, corrupt or random frames fail cleanly
 * (ASan and UBSan watch the decoder in the sanitizer build).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow_cases.h"
#include "flow_wire.h"

struct sink {
	char **lines;
	size_t n;
};

static int collect(void *ctx, const struct sl_flow_view *f, const char *node)
{
	struct sink *s = ctx;
	char *line = malloc(sl_flow_json_max(f, node));

	assert_non_null(line);
	sl_flow_json(f, node, line);
	s->lines = realloc(s->lines, (s->n + 1) * sizeof(*s->lines));
	s->lines[s->n++] = line;
	return 0;
}

static void sink_free(struct sink *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	free(s->lines);
	memset(s, 0, sizeof(*s));
}

static char *direct(const struct sl_flow_view *f, const char *node)
{
	char *line = malloc(sl_flow_json_max(f, node));

	assert_non_null(line);
	sl_flow_json(f, node, line);
	return line;
}

/* peer ids as the agent gives them: one per distinct end */
static uint64_t id_of(int i, int end)
{
	return (uint64_t)(2 * i + end + 1);
}

#define BOOT 0x1122334455667788ull

/* the case with a uuid (every other one: the number travels, 0 means none) */
static struct sl_flow_view uuid_case(int i)
{
	struct sl_flow_view f = flow_case(i);

	f.uuid_boot = BOOT;
	f.uuid_seq = i % 2 ? 0 : (uint64_t)i * 1000003 + 1;
	return f;
}

static size_t encode_all(struct sl_wire_enc *e, uint8_t *buf, const char *node)
{
	size_t n = sl_wire_put_node(buf, node, BOOT);

	for (int i = 0; i < FLOW_CASES; i++) {
		struct sl_flow_view f = uuid_case(i);
		size_t max = sl_wire_flow_max(&f), got = sl_wire_put_flow(e, buf + n, &f, id_of(i, 0), id_of(i, 1));

		assert_true(got <= max);
		n += got;
	}
	return n;
}

static void test_round_trip_every_case(void **state)
{
	struct sl_wire_enc *e = calloc(1, sizeof(*e));
	struct sl_wire_dec *d = calloc(1, sizeof(*d));
	uint8_t *buf = malloc(1 << 20);
	struct sink s = { 0 };
	char *err = NULL;
	size_t n;

	(void)state;
	n = encode_all(e, buf, "sluice-bench");
	assert_int_equal(sl_wire_decode(d, buf, n, collect, &s, &err), 0);
	assert_int_equal(s.n, FLOW_CASES);
	for (int i = 0; i < FLOW_CASES; i++) {
		struct sl_flow_view f = uuid_case(i);
		char *want = direct(&f, "sluice-bench");

		/* Hubble's uuid, version 4 form, on the flows that have one */
		assert_true(!f.uuid_seq == !strstr(s.lines[i], "\"uuid\":\""));

		if (strcmp(s.lines[i], want))
			fail_msg("case %d:\n got  %s\n want %s", i, s.lines[i], want);
		free(want);
	}
	sink_free(&s);
	sl_wire_dec_free(d);
	free(d);
	free(e);
	free(buf);
}

/* the second flow between the same ends carries no peer records: that is
 * what makes a flow ~80 bytes; a reused slot sends the new peer again */
static void test_peers_sent_once_per_slot(void **state)
{
	struct sl_wire_enc *e = calloc(1, sizeof(*e));
	struct sl_wire_dec *d = calloc(1, sizeof(*d));
	struct sl_flow_view f = flow_case(0), g = flow_case(5);
	uint8_t buf[65536];
	size_t first, second, third, n = 0;
	struct sink s = { 0 };
	char *err = NULL, *want_f, *want_g;

	(void)state;
	g.src = (struct sl_flow_end){ .identity = 9, .ns = "other", .pod = "x", .labels = "[\"k8s:app=x\"]" };
	first = sl_wire_put_flow(e, buf, &f, 7, 8);
	second = sl_wire_put_flow(e, buf + first, &f, 7, 8);
	assert_true(second < first);
	assert_true(second <= 80);
	n = first + second;
	/* 7 + SL_WIRE_PEERS lands in 7's slot: sent, and 7 must come again */
	third = sl_wire_put_flow(e, buf + n, &g, 7 + SL_WIRE_PEERS, 8);
	/* g's source went along (7's slot was taken), its destination (8) not */
	assert_true(third > second + 20);
	n += third;
	n += sl_wire_put_flow(e, buf + n, &f, 7, 8);
	assert_int_equal(sl_wire_decode(d, buf, n, collect, &s, &err), 0);
	assert_int_equal(s.n, 4);
	want_f = direct(&f, NULL);
	want_g = direct(&g, NULL);
	assert_string_equal(s.lines[0], want_f);
	assert_string_equal(s.lines[1], want_f);
	assert_string_equal(s.lines[2], want_g);
	assert_string_equal(s.lines[3], want_f);
	free(want_f);
	free(want_g);
	sink_free(&s);
	sl_wire_dec_free(d);
	free(d);
	free(e);
}

static void test_lost_records_add_up(void **state)
{
	struct sl_wire_dec *d = calloc(1, sizeof(*d));
	uint8_t buf[64];
	size_t n;
	struct sink s = { 0 };
	char *err = NULL;

	(void)state;
	n = sl_wire_put_lost(buf, 3);
	n += sl_wire_put_lost(buf + n, 1ull << 40);
	assert_int_equal(n, 2 * SL_WIRE_LOST_SIZE);
	assert_int_equal(sl_wire_decode(d, buf, n, collect, &s, &err), 0);
	assert_true(d->lost == 3 + (1ull << 40));
	assert_int_equal(s.n, 0);
	sl_wire_dec_free(d);
	free(d);
}

static void test_frame_header(void **state)
{
	uint8_t h[SL_WIRE_HEADER];

	(void)state;
	sl_wire_frame_header(h, 0x01020304);
	assert_int_equal(h[0], SL_WIRE_MAGIC);
	assert_int_equal(h[1], 4);
	assert_int_equal(h[4], 1);
	assert_true(SL_WIRE_MAGIC != '{');
}

/* every cut of a valid stream decodes what came before the cut and then
 * fails or ends cleanly, never reading past the payload */
static void test_cut_frames_fail_cleanly(void **state)
{
	struct sl_wire_enc *e = calloc(1, sizeof(*e));
	uint8_t *buf = malloc(1 << 20);
	size_t n;

	(void)state;
	n = encode_all(e, buf, "node");
	for (size_t cut = 0; cut < n; cut++) {
		struct sl_wire_dec *d = calloc(1, sizeof(*d));
		uint8_t *copy = malloc(cut ? cut : 1);
		struct sink s = { 0 };
		char *err = NULL;
		int rc;

		memcpy(copy, buf, cut);
		rc = sl_wire_decode(d, copy, cut, collect, &s, &err);
		assert_true(rc == 0 || rc == -EPROTO);
		assert_true(s.n <= FLOW_CASES);
		if (rc)
			assert_non_null(err);
		free(err);
		sink_free(&s);
		sl_wire_dec_free(d);
		free(d);
		free(copy);
	}
	free(e);
	free(buf);
}

static void test_malformed_records(void **state)
{
	struct sl_wire_enc *e = calloc(1, sizeof(*e));
	struct sl_flow_view f = flow_case(0);
	uint8_t buf[4096];
	size_t n;
	struct sink s = { 0 };
	char *err = NULL;

	(void)state;
	/* a flow whose peers were never described (another stream's encoder) */
	{
		struct sl_wire_dec *d = calloc(1, sizeof(*d));
		struct sl_wire_enc *other = calloc(1, sizeof(*other));

		sl_wire_put_flow(other, buf, &f, 1, 2); /* peers go to the void */
		n = sl_wire_put_flow(other, buf, &f, 1, 2);
		assert_int_equal(sl_wire_decode(d, buf, n, collect, &s, &err), -EPROTO);
		assert_non_null(strstr(err, "peer"));
		free(err);
		err = NULL;
		sl_wire_dec_free(d);
		free(d);
		free(other);
	}
	/* an unknown record type */
	{
		struct sl_wire_dec *d = calloc(1, sizeof(*d));

		buf[0] = 'Z';
		assert_int_equal(sl_wire_decode(d, buf, 1, collect, &s, &err), -EPROTO);
		assert_non_null(strstr(err, "unknown record"));
		free(err);
		err = NULL;
		free(d);
	}
	/* a string without its NUL */
	{
		struct sl_wire_dec *d = calloc(1, sizeof(*d));

		n = sl_wire_put_node(buf, "abc", 7);
		buf[n - 1 - 8] = 'x'; /* the NUL before the boot id */
		assert_int_equal(sl_wire_decode(d, buf, n, collect, &s, &err), -EPROTO);
		free(err);
		err = NULL;
		sl_wire_dec_free(d);
		free(d);
	}
	/* a flow whose kind says L3/L4 but carries L7 strings */
	{
		struct sl_wire_dec *d = calloc(1, sizeof(*d));

		/* an L3/L4 flow record is 78 bytes, its kind 17 bytes in */
		n = sl_wire_put_flow(e, buf, &f, 1, 2);
		assert_int_equal(buf[n - 78], 'F');
		buf[n - 78 + 17] = SL_FLOW_L7_REQUEST;
		assert_int_equal(sl_wire_decode(d, buf, n, collect, &s, &err), -EPROTO);
		free(err);
		err = NULL;
		sl_wire_dec_free(d);
		free(d);
	}
	assert_int_equal(s.n, 0);
	free(e);
}

/* A peer's labels go into every line as they are: the decoder takes only a
 * JSON array of strings (found by the flow_wire fuzzer: a raw newline in a
 * label split the CLI's output line in two). */
static void test_peer_labels_checked(void **state)
{
	static const char *const bad[] = {
		"[\"k8s:a\nb\"]", "\"k8s:a\"", "[\"a\",]", "[\"a\"]x", "[\"a\\q\"]", "[\"a\\u12\"]",
		"[\"a\"", "[", "[\"a\" ,\"b\"]", "",
		/* not UTF-8 (a JSON reader refuses the line): a stray continuation
		 * byte, an overlong '/', a cut sequence, an escaped surrogate */
		"[\"k8\x8ds:a\"]", "[\"\xc0\xaf\"]", "[\"\xe6\x97\"]", "[\"a\\ud800\"]", "[\"a\\uDC00\"]",
	};
	static const char *const good[] = {
		"[]", "[\"k8s:app=a\"]", "[\"a\\\"b\",\"c\\u0001\\n\\\\\"]",
		"[\"k8s:caf\xc3\xa9=\xf0\x9f\x98\x80\",\"\\u00e9\\uD7FF\"]",
	};
	struct sl_flow_view f = flow_case(0);
	uint8_t buf[4096];
	char *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + sizeof(good) / sizeof(good[0]); i++) {
		bool ok = i >= sizeof(bad) / sizeof(bad[0]);
		struct sl_wire_enc *e = calloc(1, sizeof(*e));
		struct sl_wire_dec *d = calloc(1, sizeof(*d));
		struct sink s = { 0 };
		size_t n;

		f.src.labels = ok ? good[i - sizeof(bad) / sizeof(bad[0])] : bad[i];
		n = sl_wire_put_flow(e, buf, &f, 1, 2);
		if (!ok) {
			assert_int_equal(sl_wire_decode(d, buf, n, collect, &s, &err), -EPROTO);
			assert_int_equal(s.n, 0);
			free(err);
			err = NULL;
		} else {
			char *want = direct(&f, NULL);

			assert_int_equal(sl_wire_decode(d, buf, n, collect, &s, &err), 0);
			assert_int_equal(s.n, 1);
			assert_string_equal(s.lines[0], want);
			free(want);
		}
		sink_free(&s);
		sl_wire_dec_free(d);
		free(d);
		free(e);
	}
}

/* random bytes, and random corruptions of a valid stream */
static void test_random_input(void **state)
{
	struct sl_wire_enc *e = calloc(1, sizeof(*e));
	uint8_t *good = malloc(1 << 20), *buf = malloc(1 << 20);
	size_t n;
	unsigned seed = 12345;

	(void)state;
	n = encode_all(e, good, "node");
	/* one decoder, emptied after each round (sl_wire_dec_free leaves it
	 * ready for a new stream): 3000 allocations of its peer table made
	 * this test most of a minute under ASan on a loaded machine */
	struct sl_wire_dec *d = calloc(1, sizeof(*d));

	for (int round = 0; round < 3000; round++) {
		struct sink s = { 0 };
		char *err = NULL;
		size_t len;
		int rc;

		if (round % 2) {
			len = (size_t)(rand_r(&seed) % 512);
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rand_r(&seed);
			/* mostly valid record types, so the decoder goes deep */
			if (len)
				buf[0] = "NPFL"[rand_r(&seed) % 4];
		} else {
			len = n;
			memcpy(buf, good, n);
			for (int k = 0; k < 4; k++)
				buf[(size_t)rand_r(&seed) % n] = (uint8_t)rand_r(&seed);
		}
		rc = sl_wire_decode(d, buf, len, collect, &s, &err);
		assert_true(rc == 0 || rc == -EPROTO);
		free(err);
		sink_free(&s);
		sl_wire_dec_free(d);
		d->boot = d->lost = 0;
	}
	free(d);
	free(e);
	free(good);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_case),
		cmocka_unit_test(test_peers_sent_once_per_slot),
		cmocka_unit_test(test_lost_records_add_up),
		cmocka_unit_test(test_frame_header),
		cmocka_unit_test(test_cut_frames_fail_cleanly),
		cmocka_unit_test(test_malformed_records),
		cmocka_unit_test(test_peer_labels_checked),
		cmocka_unit_test(test_random_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
