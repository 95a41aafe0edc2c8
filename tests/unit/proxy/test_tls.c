/* SPDX-License-Identifier: Apache-2.0 */
/* serverNames patterns (Cilium's wildcard rules), the server_name extension
 * reader, TLS specs in the rules JSON, and the secret store's contexts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rules.h"
#include "rules_json.h"
#include "tls.h"

static void test_sni_match(void **state)
{
	static const struct { const char *pat, *name; bool want; } cases[] = {
		{ "api.example.com", "api.example.com", true },
		{ "api.example.com", "API.Example.COM", true },
		{ "API.example.com", "api.example.com", true },
		{ "api.example.com", "api.example.com.", true },
		{ "api.example.com", "xapi.example.com", false },
		{ "api.example.com", "example.com", false },
		{ "*", "anything.at.all", true },
		{ "*.example.com", "a.example.com", true },
		{ "*.example.com", "a.b.example.com", false },
		{ "*.example.com", "example.com", false },
		{ "*.example.com", ".example.com", false },
		{ "api-*.example.com", "api-v2.example.com", true },
		{ "api-*.example.com", "api-.example.com", true },
		{ "api-*.example.com", "web-v2.example.com", false },
		{ "*-api.example.com", "v1-api.example.com", true },
		{ "a*b*c.example.com", "aXXbYYc.example.com", true },
		{ "a*b*c.example.com", "aXXbYY.example.com", false },
		{ "**.example.com", "a.example.com", true },
		{ "**.example.com", "a.b.c.example.com", true },
		{ "**.example.com", "example.com", false },
		{ "**.example.com", "a.example.org", false },
		{ "api.**.com", "api.x.y.com", true },
		{ "api.**.com", "api.com", false },
		{ "*.*.example.com", "a.b.example.com", true },
		{ "*.*.example.com", "a.example.com", false },
		{ "example.com", "", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = proxy_tls_sni_match(cases[i].pat, cases[i].name);
		if (got != cases[i].want)
			fail_msg("%s vs %s: got %d", cases[i].pat, cases[i].name, got);
	}
}

static void test_sni_pattern_valid(void **state)
{
	(void)state;
	assert_true(proxy_tls_sni_pattern_valid("api.example.com"));
	assert_true(proxy_tls_sni_pattern_valid("*.example.com"));
	assert_true(proxy_tls_sni_pattern_valid("**.example.com"));
	assert_true(proxy_tls_sni_pattern_valid("example.com."));
	assert_false(proxy_tls_sni_pattern_valid(""));
	assert_false(proxy_tls_sni_pattern_valid("a..b"));
	assert_false(proxy_tls_sni_pattern_valid(".a"));
	assert_false(proxy_tls_sni_pattern_valid("a b"));
	assert_false(proxy_tls_sni_pattern_valid("a/b"));
}

static void test_sni_parse(void **state)
{
	char out[PROXY_TLS_MAX_NAME + 1];
	/* list of one host_name "Ab.Test" */
	static const unsigned char good[] = { 0, 10, 0, 0, 7, 'A', 'b', '.', 'T', 'e', 's', 't' };
	static const unsigned char short_list[] = { 0, 11, 0, 0, 7, 'A', 'b', '.', 'T', 'e', 's', 't' };
	static const unsigned char long_name[] = { 0, 10, 0, 0, 9, 'A', 'b', '.', 'T', 'e', 's', 't' };
	static const unsigned char bad_byte[] = { 0, 6, 0, 0, 3, 'a', '/', 'b' };
	static const unsigned char empty_name[] = { 0, 3, 0, 0, 0 };
	static const unsigned char other_type[] = { 0, 6, 1, 0, 3, 'a', 'b', 'c' };

	(void)state;
	assert_int_equal(proxy_tls_sni_parse(good, sizeof(good), out, sizeof(out)), 0);
	assert_string_equal(out, "ab.test");
	assert_int_equal(proxy_tls_sni_parse(short_list, sizeof(short_list), out, sizeof(out)), -EINVAL);
	assert_int_equal(proxy_tls_sni_parse(long_name, sizeof(long_name), out, sizeof(out)), -EINVAL);
	assert_int_equal(proxy_tls_sni_parse(bad_byte, sizeof(bad_byte), out, sizeof(out)), -EINVAL);
	assert_int_equal(proxy_tls_sni_parse(empty_name, sizeof(empty_name), out, sizeof(out)), -EINVAL);
	assert_int_equal(proxy_tls_sni_parse(other_type, sizeof(other_type), out, sizeof(out)), -ENOENT);
	assert_int_equal(proxy_tls_sni_parse(good, 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(proxy_tls_sni_parse(good, sizeof(good), out, 10), -EINVAL);
}

static void test_rules_json_tls(void **state)
{
	static const char doc[] =
		"{\"version\":1,\"policies\":[{\"ep_id\":7,\"direction\":\"egress\",\"port\":443,"
		"\"peer_identity\":0,\"allow_all\":true,\"tls\":{"
		"\"terminating\":{\"secret\":\"ns/front\"},"
		"\"originating\":{\"secret\":\"ns/ca\",\"trustedCA\":\"bundle.pem\"},"
		"\"server_names\":[\"*.example.com\"]}}]}";
	static const char bad[] =
		"{\"allow_all\":true,\"tls\":{\"terminating\":{\"certificate\":\"x\"}}}";
	static const char bad_name[] =
		"{\"allow_all\":true,\"tls\":{\"server_names\":[\"a b\"]}}";
	struct proxy_rules_key key = { .ep_id = 7, .port = 443, .direction = 1 };
	struct proxy_rules_table *t = NULL;
	struct proxy_tls_spec *spec;
	char *err = NULL;

	(void)state;
	assert_int_equal(proxy_rules_json_load(doc, strlen(doc), NULL, &t, &err), 0);
	spec = proxy_rule_set_tls(proxy_rules_lookup(t, &key));
	assert_non_null(spec);
	assert_string_equal(spec->term.secret, "ns/front");
	assert_string_equal(spec->term.cert_key, "tls.crt");
	assert_string_equal(spec->term.key_key, "tls.key");
	assert_string_equal(spec->orig.secret, "ns/ca");
	assert_string_equal(spec->orig.ca_key, "bundle.pem");
	assert_int_equal(spec->nserver_names, 1);
	assert_true(proxy_tls_spec_client_side(spec));
	proxy_rules_table_free(t);

	t = NULL;
	assert_int_equal(proxy_rules_json_load(bad, strlen(bad), &key, &t, &err), -EINVAL);
	assert_non_null(strstr(err, "tls.terminating.secret"));
	free(err);
	err = NULL;
	proxy_rules_table_free(t);
	t = NULL;
	assert_int_equal(proxy_rules_json_load(bad_name, strlen(bad_name), &key, &t, &err), -EINVAL);
	assert_non_null(strstr(err, "server_names[0]"));
	free(err);
	proxy_rules_table_free(t);
}

static void test_store_errors(void **state)
{
	struct proxy_tls_store *st = proxy_tls_store_new();
	struct proxy_tls_spec *spec = proxy_tls_spec_new();
	struct proxy_secret_item junk[] = {
		{ "tls.crt", "not pem", 7 }, { "tls.key", "nope", 4 },
	};
	char *err = NULL;

	(void)state;
	assert_int_equal(proxy_tls_ref_set(&spec->term, "ns/site", NULL, NULL, NULL), 0);
	assert_int_equal(proxy_tls_ref_set(&spec->orig, "ns/site", NULL, NULL, NULL), 0);
	/* missing secret */
	assert_null(proxy_tls_server_ctx(st, spec, &err));
	assert_non_null(strstr(err, "secret ns/site not found"));
	free(err);
	err = NULL;
	/* present, but not PEM */
	assert_int_equal(proxy_tls_store_set(st, "ns/site", junk, 2), 0);
	assert_null(proxy_tls_server_ctx(st, spec, &err));
	assert_non_null(strstr(err, "key tls.crt"));
	free(err);
	err = NULL;
	/* no ca.crt for originating */
	assert_null(proxy_tls_client_ctx(st, spec, &err));
	assert_non_null(strstr(err, "key ca.crt"));
	free(err);
	assert_int_equal(proxy_tls_store_delete(st, "ns/site"), 0);
	assert_int_equal(proxy_tls_store_delete(st, "ns/site"), -ENOENT);
	proxy_tls_spec_unref(spec);
	proxy_tls_store_free(st);
}

/* a sniff-mode session fed nothing, then bytes (the fuzzer's first find:
 * realloc(sniff, len + 0) freed the buffer) */
static void test_sniff_empty_feed(void **state)
{
	struct proxy_tls_store *st = proxy_tls_store_new();
	struct proxy_tls_spec *spec = proxy_tls_spec_new();
	struct proxy_tls_conn t;
	SSL_CTX *ctx;
	char buf[64];

	(void)state;
	assert_int_equal(proxy_tls_spec_add_server_name(spec, "a.test"), 0);
	ctx = proxy_tls_server_ctx(st, spec, NULL);
	assert_non_null(ctx);
	assert_int_equal(proxy_tls_conn_server(&t, ctx, spec, NULL), 0);
	SSL_CTX_free(ctx);
	assert_int_equal(proxy_tls_conn_feed(&t, "", 0), 0);
	assert_int_equal(proxy_tls_conn_feed(&t, "\x16\x03\x01", 3), 0);
	assert_int_equal(proxy_tls_conn_feed(&t, "", 0), 0);
	assert_int_equal(t.sniff_len, 3);
	assert_int_equal(proxy_tls_conn_read(&t, buf, sizeof(buf)), 0); /* waits for more */
	proxy_tls_conn_free(&t);
	proxy_tls_spec_unref(spec);
	proxy_tls_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sni_match),
		cmocka_unit_test(test_sni_pattern_valid),
		cmocka_unit_test(test_sni_parse),
		cmocka_unit_test(test_rules_json_tls),
		cmocka_unit_test(test_store_errors),
		cmocka_unit_test(test_sniff_empty_feed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
