/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_flow_print.c - `sluice observe`'s text forms (cli/flow_print.c):
 * every case of flow_print_cases.h in each form, with and without colour,
 * against flow_print.golden (Hubble's layouts; a change of the printer
 * shows there line by line; SLUICE_GOLDEN_UPDATE=FILE writes what is
 * printed now). Also: each flow printed from its JSON line (--input-file,
 * an agent without the binary form) is the same text as printed from the
 * decoded flow; the JSON line read back into a view renders the same line;
 * a cut that would split a UTF-8 character; --time-format; and Hubble's own
 * printer tests, their flow and the text they expect.
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
			flow_print_flush(&p, f);
			flow_printer_free(&p);
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
	if (getenv("SLUICE_GOLDEN_UPDATE")) { /* write what is printed now, to read it */
		FILE *f = fopen(getenv("SLUICE_GOLDEN_UPDATE"), "wb");

		assert_non_null(f);
		fwrite(got, 1, len, f);
		fclose(f);
	}
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

/* one flow in one form (a table with its header), from the view or,
 * when json is not NULL, from its Flow object */
static char *print_one(const struct sl_flow_view *v, json_t *json, enum flow_print_form form)
{
	struct flow_printer p = { .form = form, .count = 1, .policy_names = true };
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	if (json)
		flow_print_json(&p, f, json);
	else
		flow_print(&p, f, v);
	flow_print_flush(&p, f);
	flow_printer_free(&p);
	fclose(f);
	return out;
}

/*
 * An agent without the binary form sends the JSON line, and --input-file
 * reads it: printed from its Flow object as Hubble would print it, it is
 * the same text as the flow printed from the view (with
 * --print-policy-names).
 */
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
			char *want = print_one(&v, NULL, (enum flow_print_form)form);
			char *got = print_one(NULL, json_object_get(msg, "flow"), (enum flow_print_form)form);

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
	out = print_one(&v, NULL, FLOW_PRINT_COMPACT);
	assert_non_null(strstr(out, "default/src:40000 (ID:256) -> default/dst:1024 (ID:257) http-request FORWARDED "
				    "(HTTP/1.1 \xc3\xa9\xc3\xa9"));
	assert_null(strstr(out, "(unknown)"));
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
		flow_printer_free(&p);
		fclose(f);
		if (strncmp(out, cases[i].want, strlen(cases[i].want)) || out[strlen(cases[i].want)] != ':')
			fail_msg("%s: %s", cases[i].name, out);
		free(out);
	}
}

/*
 * Hubble's own printer tests (hubble/pkg/printer/printer_test.go,
 * TestPrinter_WriteProtoFlow): their flow, as the JSON it prints, and the
 * text they expect, byte for byte (they compare with the whitespace at
 * both ends trimmed; so do these).
 */
static json_t *hubble_flow(const char *change)
{
	json_t *f = json_loads("{\"time\":\"1970-01-01T00:20:34.567800Z\",\"verdict\":\"DROPPED\","
			       "\"IP\":{\"source\":\"1.1.1.1\",\"destination\":\"2.2.2.2\"},"
			       "\"l4\":{\"TCP\":{\"source_port\":31793,\"destination_port\":8080}},"
			       "\"source\":{\"identity\":4},\"destination\":{\"identity\":12345},"
			       "\"Type\":\"L3_L4\",\"node_name\":\"k8s1\","
			       "\"event_type\":{\"type\":1,\"sub_type\":133},"
			       "\"is_reply\":false,\"Summary\":\"TCP Flags: SYN\"}",
			       0, NULL);
	json_t *c = json_loads(change, 0, NULL);
	const char *k;
	json_t *v;

	assert_non_null(f);
	assert_non_null(c);
	json_object_foreach(c, k, v) {
		if (json_is_null(v))
			json_object_del(f, k);
		else
			json_object_set(f, k, v);
	}
	json_decref(c);
	return f;
}

static void test_hubble_printer(void **state)
{
#define POLICY_DENIED "{\"event_type\":{\"type\":5},\"is_reply\":null,\"traffic_direction\":\"EGRESS\"," \
		      "\"egress_denied_by\":[{\"name\":\"my-policy\",\"namespace\":\"my-policy-namespace\"," \
		      "\"kind\":\"CiliumNetworkPolicy\"}]}"
#define POLICY_ALLOWED "{\"event_type\":{\"type\":5},\"verdict\":\"FORWARDED\",\"is_reply\":null," \
		       "\"traffic_direction\":\"INGRESS\",\"ingress_allowed_by\":[{\"name\":\"my-policy\"," \
		       "\"namespace\":\"my-policy-namespace\",\"kind\":\"CiliumNetworkPolicy\"},{\"name\":" \
		       "\"my-policy-2\",\"kind\":\"CiliumClusterwideNetworkPolicy\"}],\"policy_match_type\":1}"
#define POLICY_AUDITED "{\"event_type\":{\"type\":5},\"verdict\":\"AUDIT\",\"is_reply\":null," \
		       "\"traffic_direction\":\"EGRESS\",\"egress_denied_by\":[{\"name\":\"my-policy\"," \
		       "\"namespace\":\"my-policy-namespace\",\"kind\":\"CiliumNetworkPolicy\"}]}"
	static const struct {
		const char *name;
		enum flow_print_form form;
		bool node, policy_names;
		const char *change, *want;
	} cases[] = {
		{ "tabular", FLOW_PRINT_TABLE, false, false, "{}",
		  "TIMESTAMP             SOURCE          DESTINATION    TYPE            VERDICT   SUMMARY\n"
		  "Jan  1 00:20:34.567   1.1.1.1:31793   2.2.2.2:8080   Policy denied   DROPPED   TCP Flags: SYN" },
		{ "tabular-with-node", FLOW_PRINT_TABLE, true, false, "{}",
		  "TIMESTAMP             NODE   SOURCE          DESTINATION    TYPE            VERDICT   SUMMARY\n"
		  "Jan  1 00:20:34.567   k8s1   1.1.1.1:31793   2.2.2.2:8080   Policy denied   DROPPED   TCP Flags: SYN" },
		{ "compact", FLOW_PRINT_COMPACT, false, false, "{}",
		  "Jan  1 00:20:34.567: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) Policy denied DROPPED "
		  "(TCP Flags: SYN)" },
		{ "compact-with-node", FLOW_PRINT_COMPACT, true, false, "{}",
		  "Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) Policy denied "
		  "DROPPED (TCP Flags: SYN)" },
		{ "compact-with-trace-id", FLOW_PRINT_COMPACT, true, false,
		  "{\"ip_trace_id\":{\"trace_id\":\"1234\"}}",
		  "Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) Policy denied "
		  "DROPPED (IP Trace ID: 1234; TCP Flags: SYN)" },
		{ "compact-reply", FLOW_PRINT_COMPACT, true, false, "{\"is_reply\":true}",
		  "Jan  1 00:20:34.567 [k8s1]: 2.2.2.2:8080 (ID:12345) <- 1.1.1.1:31793 (health) Policy denied "
		  "DROPPED (TCP Flags: SYN)" },
		{ "compact-policy-verdict-denied", FLOW_PRINT_COMPACT, true, false, POLICY_DENIED,
		  "Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) "
		  "policy-verdict:none EGRESS DENIED (TCP Flags: SYN)" },
		{ "compact-policy-verdict-denied-with-policy-name", FLOW_PRINT_COMPACT, true, true, POLICY_DENIED,
		  "Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) "
		  "policy-verdict:none EGRESS DENIED BY my-policy (CiliumNetworkPolicy) (TCP Flags: SYN)" },
		{ "compact-policy-verdict-allowed-with-policy-name", FLOW_PRINT_COMPACT, true, true, POLICY_ALLOWED,
		  "Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) "
		  "policy-verdict:L3-Only INGRESS ALLOWED BY my-policy (CiliumNetworkPolicy), my-policy-2 "
		  "(CiliumClusterwideNetworkPolicy) (TCP Flags: SYN)" },
		{ "compact-policy-verdict-audited-with-policy-name", FLOW_PRINT_COMPACT, true, true, POLICY_AUDITED,
		  "Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) "
		  "policy-verdict:none EGRESS AUDITED BY my-policy (CiliumNetworkPolicy) (TCP Flags: SYN)" },
		{ "compact-direction-unknown", FLOW_PRINT_COMPACT, true, false, "{\"is_reply\":null}",
		  "Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) Policy denied "
		  "DROPPED (TCP Flags: SYN)" },
		{ "dict", FLOW_PRINT_DICT, false, false, "{}",
		  "  TIMESTAMP: Jan  1 00:20:34.567\n     SOURCE: 1.1.1.1:31793\nDESTINATION: 2.2.2.2:8080\n"
		  "       TYPE: Policy denied\n    VERDICT: DROPPED\n    SUMMARY: TCP Flags: SYN" },
		{ "dict-with-node", FLOW_PRINT_DICT, true, false, "{}",
		  "  TIMESTAMP: Jan  1 00:20:34.567\n       NODE: k8s1\n     SOURCE: 1.1.1.1:31793\n"
		  "DESTINATION: 2.2.2.2:8080\n       TYPE: Policy denied\n    VERDICT: DROPPED\n"
		  "    SUMMARY: TCP Flags: SYN" },
		{ "dict-with-policy-name", FLOW_PRINT_DICT, false, true, POLICY_DENIED,
		  "  TIMESTAMP: Jan  1 00:20:34.567\n     SOURCE: 1.1.1.1:31793\nDESTINATION: 2.2.2.2:8080\n"
		  "       TYPE: policy-verdict:none EGRESS\n    VERDICT: DENIED BY my-policy (CiliumNetworkPolicy)\n"
		  "    SUMMARY: TCP Flags: SYN" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flow_printer p = { .form = cases[i].form, .policy_names = cases[i].policy_names };
		json_t *flow = hubble_flow(cases[i].change);
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);

		assert_non_null(f);
		p.node = cases[i].node ? json_string_value(json_object_get(flow, "node_name")) : NULL;
		flow_print_json(&p, f, flow);
		flow_print_flush(&p, f);
		flow_printer_free(&p);
		fclose(f);
		while (len && out[len - 1] == '\n')
			out[--len] = 0;
		if (strcmp(out, cases[i].want))
			fail_msg("%s:\nwant: %s\ngot:  %s", cases[i].name, cases[i].want, out);
		free(out);
		json_decref(flow);
	}
#undef POLICY_DENIED
#undef POLICY_ALLOWED
#undef POLICY_AUDITED
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_cut_character),
		cmocka_unit_test(test_time_formats),
		cmocka_unit_test(test_hubble_printer),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s GOLDEN\n", argv[0]);
		return 2;
	}
	golden_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
