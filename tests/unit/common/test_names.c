/* SPDX-License-Identifier: Apache-2.0 */
/* test_names.c - Kubernetes' name and label rules (common/names.h), on the
 * cases apimachinery's own validation tests use, and control-character
 * escaping for tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>

#include "names.h"

static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = 0;
	return s;
}

static int ok(int (*fn)(const char *, char **), const char *s)
{
	char *err = NULL;
	int rc = fn(s, &err);

	free(err);
	return rc;
}

static void test_namespace(void **state)
{
	static const char *good[] = { "a", "default", "kube-system", "a1", "1a", "0", "a-b-c" };
	static const char *bad[] = { "", "A", "Default", "a_b", "a.b", "-a", "a-", "a b", "ü", "a\n" };
	char *s63 = rep('a', 63), *s64 = rep('a', 64);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(ok(sl_check_namespace, good[i]), 0);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(ok(sl_check_namespace, bad[i]), -EINVAL);
	assert_int_equal(ok(sl_check_namespace, s63), 0);
	assert_int_equal(ok(sl_check_namespace, s64), -EINVAL);
	free(s63);
	free(s64);
}

static void test_pod_name(void **state)
{
	static const char *good[] = { "web", "web.v1", "a.b.c", "a-1.b-2", "0.0" };
	static const char *bad[] = { "", "Web", "a..b", ".a", "a.", "a_b", "a/b", "a.-b", "a b" };
	char *lbl = rep('x', 63), name[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(ok(sl_check_pod_name, good[i]), 0);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(ok(sl_check_pod_name, bad[i]), -EINVAL);
	/* 253 = 63.63.63.61 is the longest; one more is refused */
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", lbl, lbl, lbl, lbl);
	assert_int_equal(strlen(name), 253);
	assert_int_equal(ok(sl_check_pod_name, name), 0);
	strcat(name, "x");
	assert_int_equal(ok(sl_check_pod_name, name), -EINVAL);
	/* as in Kubernetes (IsDNS1123Subdomain), only the whole name is
	 * limited, not each dot-separated part */
	snprintf(name, sizeof(name), "%sx.a", lbl);
	assert_int_equal(ok(sl_check_pod_name, name), 0);
	free(lbl);
}

static void test_label_key(void **state)
{
	static const char *good[] = { "app", "App", "a.b", "a_b", "a-b", "example.com/app", "k8s.io/x_Y.z",
				      "security.level", "A1", "io.cilium.k8s.policy.name" };
	static const char *bad[] = { "", "a$", "a b", "a=b", "ü", "-a", "a-", "_a", "/a", "a/", "Example.com/a",
				     "a..b/c", "reserved:host", "k8s:app", "reserved:x/y", "a/b/c", "a\n" };
	char *n63 = rep('k', 63), *n64 = rep('k', 64), buf[400];
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(ok(sl_check_label_key, good[i]), 0);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(ok(sl_check_label_key, bad[i]), -EINVAL);
	assert_int_equal(ok(sl_check_label_key, n63), 0);
	assert_int_equal(ok(sl_check_label_key, n64), -EINVAL);
	snprintf(buf, sizeof(buf), "example.com/%s", n63);
	assert_int_equal(ok(sl_check_label_key, buf), 0);
	/* the message names the key and the reserved source */
	assert_int_equal(sl_check_label_key("reserved:host", &err), -EINVAL);
	assert_non_null(strstr(err, "\"reserved:host\""));
	free(err);
	free(n63);
	free(n64);
}

static void test_label_value(void **state)
{
	static const char *good[] = { "", "x", "X", "a.b_c-d", "1", "trusted" };
	static const char *bad[] = { "a b", "$", "a=b", "-a", "a-", "ü", "a\nb", "a\x1b[31m", "a/b" };
	char *v63 = rep('v', 63), *v64 = rep('v', 64), *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(sl_check_label_value("k", good[i], NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(sl_check_label_value("k", bad[i], &err), -EINVAL);
		free(err);
		err = NULL;
	}
	assert_int_equal(sl_check_label_value("k", v63, NULL), 0);
	assert_int_equal(sl_check_label_value("k", v64, NULL), -EINVAL);
	/* a newline in the message is escaped, never raw */
	assert_int_equal(sl_check_label_value("app", "x\nforged", &err), -EINVAL);
	assert_non_null(strstr(err, "x\\nforged"));
	assert_null(strchr(err, '\n'));
	free(err);
	free(v63);
	free(v64);
}

static void test_escape(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(sl_escape_ctl("plain", buf, sizeof(buf)), "plain");
	assert_string_equal(sl_escape_ctl("a\nb\tc\rd", buf, sizeof(buf)), "a\\nb\\tc\\rd");
	assert_string_equal(sl_escape_ctl("\x1b[31mred\x7f", buf, sizeof(buf)), "\\x1b[31mred\\x7f");
	assert_string_equal(sl_escape_ctl("back\\slash", buf, sizeof(buf)), "back\\\\slash");
	assert_string_equal(sl_escape_ctl(NULL, buf, sizeof(buf)), "");
	/* cut to the buffer, and says so */
	sl_escape_ctl("0123456789abcdefghij", buf, 12);
	assert_true(strlen(buf) < 12);
	assert_non_null(strstr(buf, "..."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_namespace),   cmocka_unit_test(test_pod_name),
		cmocka_unit_test(test_label_key),   cmocka_unit_test(test_label_value),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
