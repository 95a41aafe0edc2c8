// SPDX-License-Identifier: Apache-2.0
/*
 * test_yaml_doc.c - the loader's documents (policy/yaml_doc.c) are the ones
 * libyaml's own loader makes: every node's type, tag, value, style, items
 * and marks, and the same errors, on hand-picked cases (anchors, aliases,
 * tags, flow and block styles, several documents, syntax and composer
 * errors), on a document of 100,000 nodes (many chunks and arena blocks),
 * and on every YAML file of the source tree. The fast reader
 * (policy/yaml_fast.c) gives the same documents wherever it takes a text,
 * and it takes the common shapes (asserted, or a reader that declines
 * everything would pass).
 */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../../policy/yaml_doc_diff.h"

static void same(const char *text, size_t len, int min_docs)
{
	char why[256] = "";
	int docs = -1;

	if (!yaml_doc_diff(text, len, why, sizeof(why), &docs))
		fail_msg("%s\n--- input:\n%.*s", why, (int)(len > 400 ? 400 : len), text);
	assert_true(docs >= min_docs);
}

/* the fast reader takes text, and gives libyaml's documents */
static void fast_takes(const char *text)
{
	char why[256] = "";
	int taken = 0;

	if (!yaml_doc_diff_fast(text, strlen(text), why, sizeof(why), &taken))
		fail_msg("%s\n--- input:\n%s", why, text);
	if (!taken)
		fail_msg("the fast reader declined:\n%s", text);
}

static void test_fast_shapes(void **state)
{
	static const char *const taken[] = {
		"a: 1\n",
		"a: 1",
		"a: 1\n---\n# c\nb:\n- x\n- \"y\"\n-\n  - z\nc:\n  d: [1, {e: f}]\n  g: {}\n---\n",
		"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: x # why\n"
		"spec:\n  endpointSelector:\n    matchLabels: {app: web}\n  ingress:\n"
		"  - fromEndpoints:\n    - matchLabels:\n        app: client\n    toPorts:\n"
		"    - ports:\n      - port: \"80\"\n        protocol: TCP\n      rules:\n"
		"        http:\n        - method: GET\n          path: '/api/.*'\n",
		"k:\n  - a\n  -   b: 1\n      c: 2\n  -\nz: \n",
		"- a\n- b:\n  - c\n",
		"a:\n  b:\n    c: 1\n  d:   \n",  /* an empty value, trailing spaces */
		"a:\n  b:\n    c: 1\n   ",         /* the end in spaces, no line feed */
		"x: http://a.b/c#d e\ny: -1\n",
		"---\n---\n",
		"  a: 1\n  b: 2\n",
		"[a, 'b', \"c\", [d], {e: f}]\n",
	};
	static const char *const declined[] = {
		"a: |\n  x\n", "a: &x 1\n", "a: !t 1\n", "a: b\n  c\n", "a:\tb\n", "a: 1\r\n",
		"a: [1,\n 2]\n", "a: \"x\\ty\"\n", "%YAML 1.1\n---\na: 1\n", "? a\n: b\n",
		"a: 'it''s'\n", "a: caf\xc3\xa9\n", "a: b: c\n", "- - a\n", "a: 1\n...\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		fast_takes(taken[i]);
	/* keys over libyaml's simple-key limit (1024), block and flow: declined
	 * (libyaml refuses them) */
	for (i = 0; i < 2; i++) {
		char t[1200], why[256] = "";
		int took = 1;

		memset(t, 'k', sizeof(t));
		memcpy(t, i ? "{" : "", i);
		memcpy(t + 1100, i ? ": v}\n" : ": v\n\0", 6);
		t[1106] = '\0';
		assert_true(yaml_doc_diff_fast(t, strlen(t), why, sizeof(why), &took));
		assert_false(took);
	}
	for (i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
		char why[256] = "";
		int t = 1;

		assert_true(yaml_doc_diff_fast(declined[i], strlen(declined[i]), why, sizeof(why), &t));
		if (t)
			fail_msg("the fast reader took:\n%s", declined[i]);
	}
}

static void test_cases(void **state)
{
	static const struct {
		const char *text;
		int docs;
	} cases[] = {
		{ "", 0 },
		{ "---\n", 1 },
		{ "a: 1\n", 1 },
		{ "a: 1\n---\nb: [x, y, {c: d}]\n---\n- 1\n- two\n-\n", 3 },
		{ "kind: CiliumNetworkPolicy\nspec:\n  ingress:\n  - fromCIDR:\n    - 10.0.0.0/8\n", 1 },
		{ "a: &x {p: 1, q: [2, 3]}\nb: *x\nc: *x\n", 1 },
		{ "a: &x 1\nb: &y [*x, *x]\nc: *y\n", 1 },
		{ "a: &x 1\nb: &x 2\n", 0 },       /* duplicate anchor */
		{ "a: *nope\n", 0 },                /* undefined alias */
		{ "a: !!str 1\nb: !custom x\nc: ! y\nd: !!map {e: f}\ne: !!seq []\n", 1 },
		{ "%YAML 1.1\n%TAG !e! tag:example.com,2000:\n--- !e!thing\na: 1\n...\n", 1 },
		{ "a: 'single ''quoted'''\nb: \"double \\\"q\\\" \\t \\u00e9 \\0 end\"\n", 1 },
		{ "a: |\n  literal\n  text\nb: >-\n  folded\n  text\n", 1 },
		{ "? complex key\n: value\n? [a, b]\n: c\n", 1 },
		{ "{a: 1, b: [1, 2, {c: ~}], d: }\n", 1 },
		{ "a: [1, 2\n", 0 },                /* syntax error */
		{ "a: b: c\n", 0 },
		{ "a:\n  - 1\n   - 2\n", 0 },
		{ "- a\n---\n- b: [\n", 1 },        /* an error in the second document */
		{ "a: 1\n\tb: 2\n", 0 },
		{ "\xef\xbb\xbf" "a: 1\n", 1 },      /* a BOM */
		{ "a: \xff\n", 0 },                 /* not UTF-8 */
		{ "# only a comment\n", 0 },
		{ "---\n---\n---\n", 3 },
		{ "a: null\nb: ~\nc:\nd: ''\n", 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		same(cases[i].text, strlen(cases[i].text), cases[i].docs);
	/* a NUL inside a double-quoted scalar's value */
	same("a: \"x\\0y\"\n", 10, 1);
}

/* 25,000 rules' shape, smaller: crosses node chunks and arena blocks */
static void test_large(void **state)
{
	size_t cap = 8u << 20, n = 0;
	char *t = malloc(cap);
	int i;

	(void)state;
	assert_non_null(t);
	n += (size_t)snprintf(t + n, cap - n, "spec:\n  ingress:\n");
	for (i = 0; i < 12000; i++)
		n += (size_t)snprintf(t + n, cap - n,
				      "  - fromCIDR:\n    - 10.%d.%d.0/24\n    toPorts: [{ports: "
				      "[{port: \"%d\", protocol: TCP}]}]\n",
				      i >> 8, i & 255, 1000 + i);
	{
		char why[256] = "";
		int taken = 0;

		/* as generated: the fast reader takes it */
		assert_true(yaml_doc_diff_fast(t, n, why, sizeof(why), &taken));
		assert_true(taken);
	}
	n += (size_t)snprintf(t + n, cap - n, "  - &last {a: 1}\n  - *last\n");
	same(t, n, 1);
	free(t);
}

static int files_checked, files_taken;

static void walk(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d || depth > 8) {
		if (d)
			closedir(d);
		return;
	}
	while ((de = readdir(d))) {
		char path[4096];
		const char *dot = strrchr(de->d_name, '.');
		struct stat st;

		if (de->d_name[0] == '.' || !strncmp(de->d_name, "build", 5))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(path, depth + 1);
		} else if (S_ISREG(st.st_mode) && dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))) {
			FILE *f = fopen(path, "rb");
			char *text = malloc((size_t)st.st_size + 1);
			size_t len;
			char why[256] = "";

			assert_non_null(f);
			assert_non_null(text);
			len = fread(text, 1, (size_t)st.st_size, f);
			fclose(f);
			if (!yaml_doc_diff(text, len, why, sizeof(why), NULL))
				fail_msg("%s: %s", path, why);
			{
				int taken = 0;

				yaml_doc_diff_fast(text, len, why, sizeof(why), &taken);
				files_taken += taken;
			}
			files_checked++;
			free(text);
		}
	}
	closedir(d);
}

static void test_source_tree(void **state)
{
	(void)state;
	walk(SLUICE_SOURCE_DIR, 0);
	/* deploy/, examples/, tests/ hold dozens */
	assert_true(files_checked >= 20);
	/* most are policies in the common shape */
	assert_true(files_taken >= files_checked / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_fast_shapes),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_source_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
