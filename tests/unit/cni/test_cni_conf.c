/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cni_conf.c - the conflist writer (agent/cni_conf.c) on temp dirs:
 * which file it picks, what it writes, that a second install writes
 * nothing, that uninstall gives back what was there, and its errors.
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

#include "../../../common/util.h"
#include "cni.h"

static char dir[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-cni-conf-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char *cmd = sl_strdupf("rm -rf '%s'", dir);

	(void)state;
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static void put(const char *name, const char *text)
{
	char *path = sl_strdupf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	free(path);
}

static json_t *get(const char *name)
{
	char *path = sl_strdupf("%s/%s", dir, name);
	json_t *j = json_load_file(path, 0, NULL);

	free(path);
	return j;
}

static bool exists(const char *name)
{
	char *path = sl_strdupf("%s/%s", dir, name);
	bool r = access(path, F_OK) == 0;

	free(path);
	return r;
}

static ino_t inode(const char *name)
{
	char *path = sl_strdupf("%s/%s", dir, name);
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	free(path);
	return st.st_ino;
}

static const char *plugin_type(json_t *j, size_t i)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(j, "plugins"), i), "type"));
}

static void install(const char *target, const char *socket, bool want_changed)
{
	char *err = NULL, *path = NULL;
	bool changed = !want_changed;

	assert_int_equal(cni_conf_install(dir, target, socket, &changed, &path, &err), 0);
	assert_null(err);
	assert_true(changed == want_changed);
	free(path);
}

/* the lexically first conflist gets sluice-cni last; the rest stays */
static void test_conflist_first(void **state)
{
	json_t *j;
	ino_t ino;

	(void)state;
	put("10-net.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":"
			       "[{\"type\":\"bridge\"},{\"type\":\"portmap\"}]}");
	put("20-other.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"other\",\"plugins\":[{\"type\":\"ptp\"}]}");
	put("README", "not a config");
	install(NULL, SLUICE_CNI_DEFAULT_SOCKET, true);
	j = get("10-net.conflist");
	assert_int_equal(json_array_size(json_object_get(j, "plugins")), 3);
	assert_string_equal(plugin_type(j, 0), "bridge");
	assert_string_equal(plugin_type(j, 1), "portmap");
	assert_string_equal(plugin_type(j, 2), "sluice-cni");
	/* the default socket is not written into the entry */
	assert_null(json_object_get(json_array_get(json_object_get(j, "plugins"), 2), "socket"));
	json_decref(j);
	j = get("20-other.conflist");
	assert_int_equal(json_array_size(json_object_get(j, "plugins")), 1);
	json_decref(j);

	/* an agent restart: nothing to write, the file is the same file */
	ino = inode("10-net.conflist");
	install("auto", SLUICE_CNI_DEFAULT_SOCKET, false);
	assert_true(inode("10-net.conflist") == ino);

	/* another socket: the entry is updated, still once and last */
	install(NULL, "/run/other/sluice.sock", true);
	j = get("10-net.conflist");
	assert_int_equal(json_array_size(json_object_get(j, "plugins")), 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "plugins"), 2), "socket")),
			    "/run/other/sluice.sock");
	json_decref(j);

	/* uninstall: the list as it was */
	assert_int_equal(cni_conf_uninstall(dir, NULL), 0);
	j = get("10-net.conflist");
	assert_int_equal(json_array_size(json_object_get(j, "plugins")), 2);
	json_decref(j);
}

/* a single .conf becomes a conflist; uninstall brings the .conf back */
static void test_conf_converted(void **state)
{
	const char *conf = "{\"cniVersion\":\"0.3.1\",\"name\":\"br\",\"type\":\"bridge\",\"bridge\":\"cni0\"}";
	json_t *j, *p0;
	char *orig;

	(void)state;
	put("05-br.conf", conf);
	install(NULL, NULL, true);
	assert_false(exists("05-br.conf"));
	assert_true(exists("05-br.conf.sluice_bak"));
	j = get("05-br.conflist");
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), "0.3.1");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "br");
	p0 = json_array_get(json_object_get(j, "plugins"), 0);
	assert_string_equal(json_string_value(json_object_get(p0, "bridge")), "cni0");
	assert_null(json_object_get(p0, "cniVersion"));
	assert_string_equal(plugin_type(j, 1), "sluice-cni");
	json_decref(j);
	/* the conflist now sorts first: a restart finds its entry there */
	install(NULL, NULL, false);
	assert_int_equal(cni_conf_uninstall(dir, NULL), 0);
	assert_false(exists("05-br.conflist"));
	assert_false(exists("05-br.conf.sluice_bak"));
	orig = sl_strdupf("%s/05-br.conf", dir);
	{
		char *text = NULL;
		size_t len;

		assert_int_equal(sl_read_file(orig, 4096, &text, &len), 0);
		assert_string_equal(text, conf);
		free(text);
	}
	free(orig);
	/* nothing left to remove: still fine */
	assert_int_equal(cni_conf_uninstall(dir, NULL), 0);
}

/* a target by network name or file name, not the first file */
static void test_target(void **state)
{
	json_t *j;
	char *err = NULL, *path = NULL;
	bool changed;

	(void)state;
	put("10-a.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"a\",\"plugins\":[{\"type\":\"bridge\"}]}");
	put("20-b.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"b\",\"plugins\":[{\"type\":\"ptp\"}]}");
	install("b", NULL, true);
	j = get("20-b.conflist");
	assert_string_equal(plugin_type(j, 1), "sluice-cni");
	json_decref(j);
	j = get("10-a.conflist");
	assert_int_equal(json_array_size(json_object_get(j, "plugins")), 1);
	json_decref(j);
	install("10-a.conflist", NULL, true);
	j = get("10-a.conflist");
	assert_string_equal(plugin_type(j, 1), "sluice-cni");
	json_decref(j);
	assert_int_equal(cni_conf_install(dir, "nope", NULL, &changed, &path, &err), -ENOENT);
	assert_non_null(strstr(err, "nope"));
	free(err);
}

static void test_errors(void **state)
{
	char *err = NULL, *path = NULL;
	bool changed;

	(void)state;
	/* no primary network yet: the agent retries later */
	assert_int_equal(cni_conf_install(dir, NULL, NULL, &changed, &path, &err), -ENOENT);
	free(err);
	err = NULL;
	/* a broken file: named, with its line */
	put("10-bad.conflist", "{\n\"cniVersion\": \"1.0.0\",\n\"plugins\": [\n");
	assert_int_not_equal(cni_conf_install(dir, NULL, NULL, &changed, &path, &err), 0);
	assert_non_null(strstr(err, "10-bad.conflist: line"));
	free(err);
	err = NULL;
	/* a version without chaining: not chained, every pod would fail */
	put("10-bad.conflist", "{\"cniVersion\":\"0.2.0\",\"name\":\"x\",\"plugins\":[{\"type\":\"bridge\"}]}");
	assert_int_equal(cni_conf_install(dir, NULL, NULL, &changed, &path, &err), -ENOTSUP);
	assert_non_null(strstr(err, "0.2.0"));
	free(err);
	err = NULL;
	put("10-bad.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":{}}");
	assert_int_equal(cni_conf_install(dir, NULL, NULL, &changed, &path, &err), -EINVAL);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_conflist_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_converted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
