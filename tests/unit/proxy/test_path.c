/* SPDX-License-Identifier: Apache-2.0 */
/* Path canonicalisation: a table of targets and what they become (or why
 * not); the shortcut for targets that are already canonical against the
 * full passes on random targets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "path.h"

/* the reference: path.c again, always through both passes, renamed */
#define PROXY_PATH_ALWAYS_FULL 1
#define proxy_path_canon ref_path_canon
#define proxy_path_strerror ref_path_strerror
#define proxy_utf8_valid ref_utf8_valid
#include "path.c"
#undef proxy_path_canon
#undef proxy_path_strerror
#undef proxy_utf8_valid

struct path_case {
	const char *in;
	const char *out;  /* canonical path + query, NULL when rejected */
	int err;
	const char *path; /* path part alone, NULL = same as out */
};

static const struct path_case path_cases[] = {
	{ "/", "/", 0, NULL },
	{ "/public", "/public", 0, NULL },
	{ "/public/", "/public/", 0, NULL },
	{ "/a/b/c", "/a/b/c", 0, NULL },
	/* query split off, forwarded unchanged */
	{ "/public?x=1", "/public?x=1", 0, "/public" },
	{ "/a?%2F=..//", "/a?%2F=..//", 0, "/a" },
	{ "/?", "/?", 0, "/" },
	{ "/a/../b?q=/../", "/b?q=/../", 0, "/b" },
	/* unreserved escapes decoded, others uppercased */
	{ "/%61%62c", "/abc", 0, NULL },
	{ "/%7euser", "/~user", 0, NULL },
	{ "/%2d%2E%5f%7E", "/-._~", 0, NULL },
	{ "/a%3bb", "/a%3Bb", 0, NULL },
	{ "/a%20b", "/a%20b", 0, NULL },
	{ "/%c3%a9", "/%C3%A9", 0, NULL },
	{ "/%25", "/%25", 0, NULL },
	{ "/%25zz", "/%25zz", 0, NULL },
	/* slashes merged */
	{ "//a///b//", "/a/b/", 0, NULL },
	{ "//", "/", 0, NULL },
	/* dot segments */
	{ "/a/./b", "/a/b", 0, NULL },
	{ "/a/../b", "/b", 0, NULL },
	{ "/a/b/..", "/a/", 0, NULL },
	{ "/a/b/.", "/a/b/", 0, NULL },
	{ "/..", "/", 0, NULL },
	{ "/../../etc/passwd", "/etc/passwd", 0, NULL },
	{ "/public/../admin", "/admin", 0, NULL },
	{ "/public/%2e%2e/admin", "/admin", 0, NULL },
	{ "/public/%2E%2E/admin", "/admin", 0, NULL },
	{ "/public/.%2e/admin", "/admin", 0, NULL },
	{ "/public/%2e/x", "/public/x", 0, NULL },
	{ "/a/...", "/a/...", 0, NULL },
	{ "/a/..b", "/a/..b", 0, NULL },
	{ "/a//../b", "/b", 0, NULL },
	{ "/a;x=1/b", "/a;x=1/b", 0, NULL },
	/* valid UTF-8 kept */
	{ "/caf\xc3\xa9", "/caf\xc3\xa9", 0, NULL },
	{ "/\xf0\x9f\x98\x80", "/\xf0\x9f\x98\x80", 0, NULL },
	/* rejects */
	{ "", NULL, PROXY_PATH_ERR_NOT_ORIGIN, NULL },
	{ "a/b", NULL, PROXY_PATH_ERR_NOT_ORIGIN, NULL },
	{ "http://x/a", NULL, PROXY_PATH_ERR_NOT_ORIGIN, NULL },
	{ "/a#b", NULL, PROXY_PATH_ERR_FRAGMENT, NULL },
	{ "/a?b#c", NULL, PROXY_PATH_ERR_FRAGMENT, NULL },
	{ "/a%2fb", NULL, PROXY_PATH_ERR_ENCODED_SLASH, NULL },
	{ "/a%2Fb", NULL, PROXY_PATH_ERR_ENCODED_SLASH, NULL },
	{ "/a%5cb", NULL, PROXY_PATH_ERR_ENCODED_BACKSLASH, NULL },
	{ "/a%5Cb", NULL, PROXY_PATH_ERR_ENCODED_BACKSLASH, NULL },
	{ "/a%00", NULL, PROXY_PATH_ERR_ENCODED_NUL, NULL },
	{ "/%252e%252e/admin", NULL, PROXY_PATH_ERR_DOUBLE_ENCODING, NULL },
	{ "/a%252F", NULL, PROXY_PATH_ERR_DOUBLE_ENCODING, NULL },
	{ "/a%2541", NULL, PROXY_PATH_ERR_DOUBLE_ENCODING, NULL },
	{ "/a%25%34%31", NULL, PROXY_PATH_ERR_DOUBLE_ENCODING, NULL },
	{ "/be%25%44f25", NULL, PROXY_PATH_ERR_DOUBLE_ENCODING, NULL }, /* found by the fuzzer */
	{ "/a%", NULL, PROXY_PATH_ERR_BAD_ESCAPE, NULL },
	{ "/a%4", NULL, PROXY_PATH_ERR_BAD_ESCAPE, NULL },
	{ "/a%zz", NULL, PROXY_PATH_ERR_BAD_ESCAPE, NULL },
	{ "/a%g1", NULL, PROXY_PATH_ERR_BAD_ESCAPE, NULL },
	{ "/a\\..\\admin", NULL, PROXY_PATH_ERR_BACKSLASH, NULL },
	{ "/\xc3", NULL, PROXY_PATH_ERR_BAD_UTF8, NULL },
	{ "/\xc0\xaf", NULL, PROXY_PATH_ERR_BAD_UTF8, NULL },       /* overlong '/' */
	{ "/\xe0\x80\xaf", NULL, PROXY_PATH_ERR_BAD_UTF8, NULL },   /* overlong */
	{ "/\xed\xa0\x80", NULL, PROXY_PATH_ERR_BAD_UTF8, NULL },   /* surrogate */
	{ "/\xff", NULL, PROXY_PATH_ERR_BAD_UTF8, NULL },
	{ "/a?\xff", NULL, PROXY_PATH_ERR_BAD_UTF8, NULL },
	{ "/a b", NULL, PROXY_PATH_ERR_CTL, NULL },
	{ "/a\tb", NULL, PROXY_PATH_ERR_CTL, NULL },
	{ "/a\x7f", NULL, PROXY_PATH_ERR_CTL, NULL },
	{ "/a?x=\x01", NULL, PROXY_PATH_ERR_CTL, NULL },
	{ "/public/..;/admin", NULL, PROXY_PATH_ERR_DOT_PARAM, NULL },
	{ "/public/.;x/admin", NULL, PROXY_PATH_ERR_DOT_PARAM, NULL },
	{ "/public/%2e%2e;/admin", NULL, PROXY_PATH_ERR_DOT_PARAM, NULL },
};

static void test_path_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *pc = &path_cases[i];
		size_t len = strlen(pc->in), plen = 0, tlen = 0;
		char *out = malloc(len + 1);
		int rc = proxy_path_canon(pc->in, len, out, len, &plen, &tlen);

		if (rc != pc->err)
			fail_msg("case %zu \"%s\": rc %d (%s), want %d", i, pc->in, rc,
				 proxy_path_strerror(rc), pc->err);
		if (pc->out) {
			const char *want_path = pc->path ? pc->path : pc->out;
			if (tlen != strlen(pc->out) || memcmp(out, pc->out, tlen))
				fail_msg("case %zu \"%s\": got \"%.*s\", want \"%s\"", i, pc->in,
					 (int)tlen, out, pc->out);
			if (plen != strlen(want_path) || memcmp(out, want_path, plen))
				fail_msg("case %zu \"%s\": path \"%.*s\", want \"%s\"", i, pc->in,
					 (int)plen, out, want_path);
		}
		free(out);
	}
}

static void test_path_names(void **state)
{
	(void)state;
	assert_string_equal(proxy_path_strerror(PROXY_PATH_ERR_ENCODED_SLASH), "path_encoded_slash");
	for (int e = 0; e >= PROXY_PATH_ERR_NOSPACE; e--)
		assert_non_null(proxy_path_strerror(e));
}

static void test_path_nospace(void **state)
{
	char out[4];
	size_t a, b;

	(void)state;
	assert_int_equal(proxy_path_canon("/abcdef", 7, out, sizeof(out), &a, &b),
			 PROXY_PATH_ERR_NOSPACE);
}

/* Random targets over the bytes that matter (slashes, dots, escapes,
 * ';', '?', '#', controls, non-ASCII): the same answer either way. */
static void test_path_shortcut(void **state)
{
	static const char alphabet[] = "//..aZ9-_~%%2eEfF5c;?#\\ \t\x01\x7f\xc3\xa9!$&'()*+,=:@";
	uint32_t seed = 12345;
	unsigned plain = 0;

	(void)state;
	for (int k = 0; k < 200000; k++) {
		char in[24], out[24], ref[24];
		size_t len, a = 0, b = 0, ra = 0, rb = 0;
		int rc, rrc;

		seed = seed * 1103515245u + 12345u;
		len = 1 + (seed >> 16) % (sizeof(in) - 1);
		in[0] = '/';
		for (size_t i = 1; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			/* mostly plain bytes, so that the shortcut is taken too */
			in[i] = (seed >> 24) < 200 ? "abc/-x.yz"[(seed >> 16) % 9]
						   : alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		rc = proxy_path_canon(in, len, out, len, &a, &b);
		rrc = ref_path_canon(in, len, ref, len, &ra, &rb);
		if (rc != rrc || (rc == 0 && (a != ra || b != rb || memcmp(out, ref, b))))
			fail_msg("\"%.*s\": %d \"%.*s\" vs reference %d \"%.*s\"", (int)len, in,
				 rc, rc ? 0 : (int)b, out, rrc, rrc ? 0 : (int)rb, ref);
		plain += rc == 0 && b == len && !memcmp(out, in, len);
	}
	assert_true(plain > 10000); /* the shortcut was exercised */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_table),
		cmocka_unit_test(test_path_names),
		cmocka_unit_test(test_path_nospace),
		cmocka_unit_test(test_path_shortcut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
