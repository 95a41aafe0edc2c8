// SPDX-License-Identifier: Apache-2.0
/*
 * test_token.c - bearer tokens: a token file is read at start (an unreadable
 * one is an error naming it), kept for a minute, re-read on demand (401) by
 * path, so a kubelet-style "..data" symlink swap is seen; a file that is
 * momentarily empty keeps the last good token; a fixed token never changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "token.h"

static char dir[] = "/tmp/sluice-k8s-token-XXXXXX";

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* kubelet's AtomicWriter: a new timestamped folder, then ..data swapped */
static void swap_to(const char *version, const char *token)
{
	char p[256], link[256], tmp[256];
	snprintf(p, sizeof(p), "%s/%s", dir, version);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/token", version);
	put(p, token);
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", dir);
	snprintf(link, sizeof(link), "%s/..data", dir);
	unlink(tmp);
	assert_int_equal(symlink(version, tmp), 0);
	assert_int_equal(rename(tmp, link), 0);
}

static int setup(void **state)
{
	(void)state;
	char p[256], t[256];
	if (!mkdtemp(dir))
		return -1;
	swap_to("v1", "token-one\n");
	snprintf(p, sizeof(p), "%s/token", dir);
	snprintf(t, sizeof(t), "..data/token");
	return symlink(t, p);
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_file_rotation(void **state)
{
	(void)state;
	struct k8s_token t;
	char path[256];
	char *err = NULL;
	snprintf(path, sizeof(path), "%s/token", dir);
	assert_int_equal(k8s_token_init(&t, NULL, path, &err), 0);
	assert_string_equal(k8s_token_get(&t), "token-one");

	swap_to("v2", "token-two");
	/* within the minute: the cached token */
	assert_string_equal(k8s_token_get(&t), "token-one");
	/* a 401: re-read now, through the new symlink target */
	assert_true(k8s_token_reload(&t));
	assert_string_equal(k8s_token_get(&t), "token-two");
	assert_int_equal(t.reloads, 1);

	/* the periodic re-read */
	swap_to("v3", "token-three");
	t.max_age_ns = 0;
	assert_string_equal(k8s_token_get(&t), "token-three");
	assert_int_equal(t.reloads, 2);

	/* an empty file (a writer caught mid-way) keeps the last good token */
	put("v3/token", "");
	assert_true(k8s_token_reload(&t));
	assert_string_equal(k8s_token_get(&t), "token-three");
	assert_int_equal(t.reloads, 2);
	k8s_token_free(&t);
}

static void test_fixed_and_missing(void **state)
{
	(void)state;
	struct k8s_token t;
	char *err = NULL;
	assert_int_equal(k8s_token_init(&t, "fixed", NULL, &err), 0);
	assert_string_equal(k8s_token_get(&t), "fixed");
	assert_false(k8s_token_reload(&t)); /* nothing to re-read: no retry */
	k8s_token_free(&t);

	assert_int_equal(k8s_token_init(&t, NULL, NULL, &err), 0);
	assert_null(k8s_token_get(&t));
	k8s_token_free(&t);

	assert_true(k8s_token_init(&t, NULL, "/nonexistent/token", &err) < 0);
	assert_non_null(strstr(err, "/nonexistent/token"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_rotation),
		cmocka_unit_test(test_fixed_and_missing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
