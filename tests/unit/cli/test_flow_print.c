/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_print.c - `sluice observe`'s text forms (cli/flow_print.c),
 * printed from the decoded flow, against flow_print.golden: what the CLI
 * printed for the same flows when it rendered each one to its JSON line and
 * parsed that back (the printer before this one, run on
 * flow_print_cases.h), byte for byte, in each form, with and without
 * colour. The trace flows (flow_cases.h 14-18) came after that path was
 * gone: their lines were read and added when the trace events came. Also: an older agent's JSON line, read back into a view
 * (flow_view_from_json), prints as the flow itself does; and a line the old
 * path could not parse (its cut splits a UTF-8 character) prints its flow.
 *
 * Usage: test_cli_flow_print GOLDEN
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow_print.h"
#include "flow_print_cases.h"

static const char *golden_path;

static const char *const form_names[] = { "compact", "dict", "table" };

/* every case in every form, as the golden has them */
static char *print_all(size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);

	assert_non_null(f);
	for (int color = 0; color < 2; color++)
		for (int form = 0; form < 3; form++) {
			struct flow_printer p = { .form = (enum flow_print_form)form, .color = color };

			fprintf(f, "# %s%s\n", form_names[form], color ? ", colour" : "");
			for (int i = 0; i < PRINT_CASES; i++) {
				struct sl_flow_view v = print_case(i);

				flow_print(&p, f, &v);
			}
		}
	fclose(f);
	return out;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_golden(void **state)
{
	size_t glen, len, line = 1, i;
	char *want = read_file(golden_path, &glen), *got = print_all(&len);

	(void)state;
	for (i = 0; i < glen && i < len && want[i] == got[i]; i++)
		if (want[i] == '\n')
			line++;
	if (i < glen || i < len) {
		const char *w = want + i, *g = got + i;

		while (w > want && w[-1] != '\n')
			w--, g--;
		fail_msg("golden line %zu differs:\nwant: %.*s\ngot:  %.*s", line, (int)strcspn(w, "\n"), w,
			 (int)strcspn(g, "\n"), g);
	}
	free(want);
	free(got);
}

static char *print_one(const struct sl_flow_view *v, enum flow_print_form form)
{
	struct flow_printer p = { .form = form, .count = 1 };
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	flow_print(&p, f, v);
	fclose(f);
	return out;
}

/* an agent without the binary form sends the JSON line: the same text */
static void test_json_line(void **state)
{
	(void)state;
	for (int i = 0; i < PRINT_CASES; i++) {
		struct sl_flow_view v = print_case(i);
		char *line = malloc(sl_flow_json_max(&v, "node-1"));
		size_t n = sl_flow_json(&v, "node-1", line);
		json_t *msg = json_loadb(line, n, 0, NULL);
		struct flow_json_view back;

		assert_non_null(msg);
		flow_view_from_json(json_object_get(msg, "flow"), &back);
		for (int form = 0; form < 3; form++) {
			char *want = print_one(&v, (enum flow_print_form)form);
			char *got = print_one(&back.f, (enum flow_print_form)form);

			if (strcmp(want, got))
				fail_msg("case %d, %s:\nwant: %sgot:  %s", i, form_names[form], want, got);
			free(want);
			free(got);
		}
		/* everything a filter of --input-file looks at comes back: the
		 * line rendered from the view read back is the line */
		{
			char *again = malloc(sl_flow_json_max(&back.f, "node-1"));

			again[sl_flow_json(&back.f, "node-1", again)] = 0;
			line[n] = 0;
			if (strcmp(line, again)) {
				fprintf(stderr, "case %d read back:\nwant: %s\ngot:  %s\n", i, line, again);
				fail_msg("case %d read back differs", i);
			}
			free(again);
		}
		flow_json_view_free(&back);
		json_decref(msg);
		free(line);
	}
}

/*
 * A method of 40 'é': the line used to keep 57 bytes of it, the last one
 * half of a character, and jansson refused the line; the old path printed
 * "identity 0 → identity 0(?)" for it. The line now stops before a
 * character it cannot keep whole (common_flow_json), and the flow is
 * printed.
 */
static void test_cut_character(void **state)
{
	struct sl_flow_view v = print_case(5);
	char method[81], *out;

	(void)state;
	for (int i = 0; i < 40; i++)
		memcpy(method + 2 * i, "\xc3\xa9", 2);
	method[80] = 0;
	v.method = method;
	out = print_one(&v, FLOW_PRINT_COMPACT);
	assert_non_null(strstr(out, "default/src → default/dst:1024  http-request ALLOWED (\xc3\xa9\xc3\xa9"));
	assert_null(strstr(out, "identity 0"));
	free(out);
}

/* --time-format: Hubble's names, Go's layouts, in UTC (case 0 is
 * 2025-12-05T16:00:00.123456789Z, a Friday) */
static void test_time_formats(void **state)
{
	static const struct {
		const char *name, *want;
		uint64_t frac; /* the flow's nanoseconds instead, when not 0 */
	} cases[] = {
		{ "StampMilli", "Dec  5 16:00:00.123", 0 },
		{ "YearMonthDay", "2025-12-05", 0 },
		{ "YearMonthDayHour", "2025-12-05T16Z", 0 },
		{ "YearMonthDayHourMinute", "2025-12-05T16:00Z", 0 },
		{ "RFC3339", "2025-12-05T16:00:00Z", 0 },
		{ "RFC3339Milli", "2025-12-05T16:00:00.123Z", 0 },
		{ "RFC3339Micro", "2025-12-05T16:00:00.123456Z", 0 },
		{ "RFC3339Nano", "2025-12-05T16:00:00.123456789Z", 0 },
		{ "RFC1123Z", "Fri, 05 Dec 2025 16:00:00 +0000", 0 },
		/* Go's .999: trailing zeros go, and the dot with them */
		{ "RFC3339Milli", "2025-12-05T16:00:00.12Z", 120000000 },
		{ "RFC3339Nano", "2025-12-05T16:00:00Z", 1000000000 },
	};

	(void)state;
	assert_int_equal(flow_time_format_parse("Kitchen"), -1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flow_printer p = { .form = FLOW_PRINT_COMPACT };
		struct sl_flow_view v = print_case(0);
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		int tf = flow_time_format_parse(cases[i].name);

		assert_true(tf >= 0);
		p.time_format = (enum flow_time_format)tf;
		if (cases[i].frac)
			v.time_ns = v.time_ns / 1000000000ull * 1000000000ull + cases[i].frac % 1000000000ull;
		flow_print(&p, f, &v);
		fclose(f);
		if (strncmp(out, cases[i].want, strlen(cases[i].want)) || out[strlen(cases[i].want)] != ' ')
			fail_msg("%s: %s", cases[i].name, out);
		free(out);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_cut_character),
		cmocka_unit_test(test_time_formats),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s GOLDEN\n", argv[0]);
		return 2;
	}
	golden_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
