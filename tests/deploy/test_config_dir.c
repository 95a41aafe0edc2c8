/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config_dir.c - sluiced --config-dir: a ConfigMap-shaped directory
 * (keys as symlinks to ..data/KEY, as the kubelet writes them) becomes
 * options, before the command line's; bad names and values are refused with
 * the file's path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../agent/config_dir.h"

static char dir[64];

static void put(const char *name, const char *value)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/..data/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(value, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	{
		char target[256];

		snprintf(target, sizeof(target), "..data/%s", name);
		assert_int_equal(symlink(target, path), 0);
	}
}

static int setup(void **state)
{
	char path[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-config-dir.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/..data", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static char *argv_join(const struct config_argv *c)
{
	static char buf[1024];
	int i;

	buf[0] = 0;
	for (i = 0; i < c->argc; i++) {
		strcat(buf, i ? " " : "");
		strcat(buf, c->argv[i]);
	}
	assert_null(c->argv[c->argc]);
	return buf;
}

static void test_expands_sorted_before_command_line(void **state)
{
	char opt[128], *err = NULL;
	struct config_argv c;

	(void)state;
	put("metrics", "0.0.0.0:9962\n");
	put("kubernetes", "true\n");
	put("no-proxy", "false");
	put("cni-chaining-target", "");
	put("bpf-root", "/sys/fs/bpf/sluice  \n");
	snprintf(opt, sizeof(opt), "--config-dir=%s", dir);
	{
		char *argv[] = { "sluiced", opt, "--metrics=off", NULL };

		assert_int_equal(config_dir_expand(3, argv, &c, &err), 0);
	}
	assert_null(err);
	/* sorted names, "true" = bare flag, "false" and "" left out, the command line last */
	assert_string_equal(argv_join(&c),
			    "sluiced --bpf-root=/sys/fs/bpf/sluice --kubernetes --metrics=0.0.0.0:9962 --metrics=off");
	config_argv_free(&c);

	/* the two-word form, and nothing else touched */
	{
		char *argv[] = { "sluiced", "--flows", "7", "--config-dir", dir, "--no-proxy", NULL };

		assert_int_equal(config_dir_expand(6, argv, &c, &err), 0);
	}
	assert_string_equal(argv_join(&c), "sluiced --bpf-root=/sys/fs/bpf/sluice --kubernetes "
					   "--metrics=0.0.0.0:9962 --flows 7 --no-proxy");
	config_argv_free(&c);
}

static void test_no_config_dir_is_identity(void **state)
{
	char *argv[] = { "sluiced", "--metrics", "off", NULL }, *err = NULL;
	struct config_argv c;

	(void)state;
	assert_int_equal(config_dir_expand(3, argv, &c, &err), 0);
	assert_string_equal(argv_join(&c), "sluiced --metrics off");
	config_argv_free(&c);
}

static void test_errors_name_the_file(void **state)
{
	char opt[128], *err = NULL;
	struct config_argv c;
	char *argv[] = { "sluiced", opt, NULL };

	(void)state;
	snprintf(opt, sizeof(opt), "--config-dir=%s", dir);
	put("Bad_Name", "x");
	assert_int_equal(config_dir_expand(2, argv, &c, &err), -EINVAL);
	assert_non_null(strstr(err, "Bad_Name: not an option name"));
	assert_non_null(strstr(err, dir));
	free(err);
	err = NULL;
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/Bad_Name", dir);
		unlink(path);
	}
	put("metrics", "a\nb\n");
	assert_int_equal(config_dir_expand(2, argv, &c, &err), -EINVAL);
	assert_non_null(strstr(err, "metrics: the value must be one line"));
	free(err);
	err = NULL;

	snprintf(opt, sizeof(opt), "--config-dir=/nonexistent/sluice");
	assert_int_equal(config_dir_expand(2, argv, &c, &err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/sluice"));
	free(err);
	err = NULL;
	{
		char *argv2[] = { "sluiced", "--config-dir", NULL };

		assert_int_equal(config_dir_expand(2, argv2, &c, &err), -EINVAL);
		assert_non_null(strstr(err, "needs a directory"));
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_expands_sorted_before_command_line, setup, teardown),
		cmocka_unit_test(test_no_config_dir_is_identity),
		cmocka_unit_test_setup_teardown(test_errors_name_the_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
