/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_journal.c - a policy text's edit journal (agent/journal.c): edits
 * spliced in place, records written and replayed, torn and bad records.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "journal.h"

static char *xdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/* appends one record (header and bytes) for an edit to the journal buffer */
static size_t record(char *j, size_t jlen, size_t at, size_t old_len, const char *repl)
{
	int n = journal_record_head(j + jlen, 96, at, old_len, strlen(repl));

	memcpy(j + jlen + n, repl, strlen(repl));
	return jlen + (size_t)n + strlen(repl);
}

static void test_splice(void **state)
{
	char *t = xdup("port: 80\n");

	(void)state;
	t = journal_splice(t, strlen(t), 6, 2, "8080", 4);  /* grows */
	assert_string_equal(t, "port: 8080\n");
	t = journal_splice(t, strlen(t), 6, 4, "1", 1);     /* shrinks */
	assert_string_equal(t, "port: 1\n");
	t = journal_splice(t, strlen(t), 0, 0, "# x\n", 4); /* inserts */
	assert_string_equal(t, "# x\nport: 1\n");
	t = journal_splice(t, strlen(t), 0, 4, "", 0);      /* deletes */
	assert_string_equal(t, "port: 1\n");
	free(t);
}

static void test_replay(void **state)
{
	char j[1024];
	size_t jlen = 0, used;
	char *t = xdup("a: 1\nb: 2\n");

	(void)state;
	jlen = record(j, jlen, 3, 1, "10");   /* a: 10 */
	jlen = record(j, jlen, 9, 1, "20\n"); /* b: 20, and a newline more */
	t = journal_replay(t, j, jlen, &used);
	assert_string_equal(t, "a: 10\nb: 20\n\n");
	assert_int_equal(used, jlen);
	free(t);
}

static void test_replay_torn_record(void **state)
{
	char j[1024];
	size_t jlen = 0, first, used;
	char *t = xdup("a: 1\n");

	(void)state;
	first = jlen = record(j, jlen, 3, 1, "2");
	jlen = record(j, jlen, 3, 1, "345");
	/* the agent died while writing the second record's bytes */
	t = journal_replay(t, j, jlen - 2, &used);
	assert_string_equal(t, "a: 2\n");
	assert_int_equal(used, first);
	/* ... or its header */
	t = journal_replay(t, j, first + 4, &used);
	assert_int_equal(used, first);
	free(t);
}

static void test_replay_bad_record(void **state)
{
	char j[1024];
	size_t jlen = 0, used;
	char *t = xdup("a: 1\n");

	(void)state;
	/* an edit past the end of the text stops the replay: nothing after it */
	jlen = record(j, jlen, 50, 1, "x");
	jlen = record(j, jlen, 0, 1, "b");
	t = journal_replay(t, j, jlen, &used);
	assert_string_equal(t, "a: 1\n");
	assert_int_equal(used, 0);
	/* garbage */
	t = journal_replay(t, "HELLO\n", 6, &used);
	assert_string_equal(t, "a: 1\n");
	assert_int_equal(used, 0);
	/* an empty journal */
	t = journal_replay(t, "", 0, &used);
	assert_int_equal(used, 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splice),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_replay_torn_record),
		cmocka_unit_test(test_replay_bad_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
