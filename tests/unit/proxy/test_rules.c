/* SPDX-License-Identifier: Apache-2.0 */
/* Rule matching semantics (cilium S1, S2, S5, S7, S8, S11) and the JSON form. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules.h"
#include "rules_json.h"
#include "sluice/policy_api.h"

#define KEY(ep_, port_, peer_) (&(struct proxy_rules_key){ .ep_id = (ep_), .port = (port_), .peer_identity = (peer_) })

struct req {
	const char *method, *path, *host;
	const char *hdrs[8]; /* "Name", "value" pairs */
};

/* Matches r; ed: where header edits go (NULL: a caller that applies none). */
static enum proxy_match match_into(const struct proxy_rule_set *rs, const struct req *r,
				   struct proxy_header_edits *ed)
{
	struct proxy_header h[4];
	size_t n = 0;
	struct proxy_request_view v = {
		.method = r->method, .method_len = strlen(r->method),
		.path = r->path, .path_len = strlen(r->path),
		.host = r->host ? r->host : "", .host_len = r->host ? strlen(r->host) : 0,
		.headers = h, .edits = ed,
	};
	for (; n < 4 && r->hdrs[2 * n]; n++) {
		h[n].name = r->hdrs[2 * n];
		h[n].name_len = strlen(r->hdrs[2 * n]);
		h[n].value = r->hdrs[2 * n + 1];
		h[n].value_len = strlen(r->hdrs[2 * n + 1]);
	}
	v.nheaders = n;
	return proxy_rule_set_match(rs, &v);
}

static enum proxy_match match(const struct proxy_rule_set *rs, const struct req *r)
{
	return match_into(rs, r, NULL);
}

static struct proxy_rules_table *load(const char *json, int want_rc)
{
	struct proxy_rules_table *t = NULL;
	char *err = NULL;
	int rc = proxy_rules_json_load(json, strlen(json), KEY(1, 80, 7), &t, &err);

	if (rc != want_rc)
		fail_msg("load rc %d want %d: %s", rc, want_rc, err ? err : "");
	free(err);
	return t;
}

#define ALLOW(rs, ...) assert_int_equal(match(rs, &(struct req){ __VA_ARGS__ }), PROXY_MATCH_ALLOW)
#define DENY(rs, ...) assert_int_equal(match(rs, &(struct req){ __VA_ARGS__ }), PROXY_MATCH_DENY)

static void test_full_match(void **state)
{
	struct proxy_rules_table *t = load(
		"{\"rules\":[{\"method\":\"GET\",\"path\":\"/public\"},"
		"{\"method\":\"GET\",\"path\":\"/api/users/.*\"},"
		"{\"path\":\".*public$\"},"
		"{\"method\":\"PUT|POST\",\"path\":\"/w\"}]}", 0);
	const struct proxy_rule_set *rs = proxy_rules_lookup(t, KEY(1, 80, 7));

	(void)state;
	assert_non_null(rs);
	ALLOW(rs, "GET", "/public");
	DENY(rs, "GET", "/public/x");      /* full match */
	DENY(rs, "GET", "/publicx");
	DENY(rs, "GET", "/xpublic/");
	ALLOW(rs, "DELETE", "/maybe/public"); /* ".*public$" */
	ALLOW(rs, "GET", "/api/users/");
	ALLOW(rs, "GET", "/api/users/42");
	DENY(rs, "GET", "/api/users");
	DENY(rs, "POST", "/api/users/42");
	DENY(rs, "GETX", "/api/users/42");
	DENY(rs, "XGET", "/api/users/42");
	ALLOW(rs, "PUT", "/w");
	ALLOW(rs, "POST", "/w");
	DENY(rs, "PATCH", "/w");
	DENY(rs, "PUTPOST", "/w");
	proxy_rules_table_free(t);
}

static void test_host_and_headers(void **state)
{
	struct proxy_rules_table *t = load(
		"{\"rules\":[{\"method\":\"GET\",\"path\":\"/private\",\"headers\":[\"X-Very-Secret-Token: 42\"]},"
		"{\"host\":\"api\\\\.example\\\\.com(:[0-9]+)?\",\"path\":\"/h\"},"
		"{\"path\":\"/p\",\"headers\":[\"X-Present\",\"X-Two:  a b \"]}]}", 0);
	const struct proxy_rule_set *rs = proxy_rules_lookup(t, KEY(1, 80, 7));

	(void)state;
	DENY(rs, "GET", "/private");
	ALLOW(rs, "GET", "/private", NULL, { "X-Very-Secret-Token", "42" });
	ALLOW(rs, "GET", "/private", NULL, { "x-very-secret-token", "42" }); /* names: any case */
	DENY(rs, "GET", "/private", NULL, { "X-Very-Secret-Token", "43" });
	DENY(rs, "GET", "/private", NULL, { "X-Very-Secret-Token", "420" });
	DENY(rs, "GET", "/private", NULL, { "X-Very-Secret-Token", "4" });
	/* two instances compare joined with ",": "42,42" != "42" */
	DENY(rs, "GET", "/private", NULL, { "X-Very-Secret-Token", "42", "X-Very-Secret-Token", "42" });
	DENY(rs, "POST", "/private", NULL, { "X-Very-Secret-Token", "42" });
	ALLOW(rs, "GET", "/h", "api.example.com");
	ALLOW(rs, "GET", "/h", "api.example.com:8080");
	DENY(rs, "GET", "/h", "api.example.com.evil");
	DENY(rs, "GET", "/h", "apixexample.com");
	DENY(rs, "GET", "/h", NULL);
	/* AND over header requirements; presence-only accepts any value */
	ALLOW(rs, "GET", "/p", NULL, { "X-Present", "", "X-Two", "a b" });
	DENY(rs, "GET", "/p", NULL, { "X-Present", "1" });
	DENY(rs, "GET", "/p", NULL, { "X-Two", "a b" });
	DENY(rs, "GET", "/p", NULL, { "X-Present", "1", "X-Two", "a  b" });
	proxy_rules_table_free(t);
}

static void test_empty_rule_allow_all_and_deny(void **state)
{
	struct proxy_rules_table *t;
	const struct proxy_rule_set *rs;

	(void)state;
	t = load("{\"rules\":[{}]}", 0);
	rs = proxy_rules_lookup(t, KEY(1, 80, 7));
	ALLOW(rs, "DELETE", "/anything");
	proxy_rules_table_free(t);

	t = load("{\"allow_all\":true}", 0);
	rs = proxy_rules_lookup(t, KEY(1, 80, 7));
	ALLOW(rs, "POST", "/x");
	proxy_rules_table_free(t);

	/* an entry with no rules and no allow_all denies */
	t = load("{\"rules\":[]}", 0);
	rs = proxy_rules_lookup(t, KEY(1, 80, 7));
	DENY(rs, "GET", "/");
	/* no entry at all: no policy, deny */
	assert_null(proxy_rules_lookup(t, KEY(1, 81, 7)));
	assert_int_equal(match(NULL, &(struct req){ "GET", "/" }), PROXY_MATCH_NO_POLICY);
	proxy_rules_table_free(t);
}

static void test_table_keys_and_any_peer(void **state)
{
	/* peer 7 has its own entry (the agent's full union), others fall back to any */
	struct proxy_rules_table *t = load(
		"{\"version\":1,\"policies\":["
		"{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"peer_identity\":7,"
		" \"rules\":[{\"path\":\"/only-7\"}]},"
		"{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"peer_identity\":0,"
		" \"rules\":[{\"path\":\"/any\"}]},"
		"{\"ep_id\":1,\"direction\":\"egress\",\"port\":80,\"peer_identity\":0,\"allow_all\":true},"
		"{\"ep_id\":2,\"direction\":\"ingress\",\"port\":8080,\"peer_identity\":9,\"protocol\":6,"
		" \"rules\":[{\"method\":\"GET\"}]}]}", 0);
	struct proxy_rules_key k = { .ep_id = 1, .port = 80, .peer_identity = 7 };

	(void)state;
	assert_int_equal(proxy_rules_table_size(t), 4);
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/only-7");
	/* S11: peer 7's rules are not widened by the any-peer entry */
	DENY(proxy_rules_lookup(t, &k), "GET", "/any");
	k.peer_identity = 8;
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/any");
	DENY(proxy_rules_lookup(t, &k), "GET", "/only-7");
	k.direction = 1;
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/whatever");
	k = (struct proxy_rules_key){ .ep_id = 2, .port = 8080, .peer_identity = 9 };
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/x");
	k.peer_identity = 10;
	assert_null(proxy_rules_lookup(t, &k));
	proxy_rules_table_free(t);
}

static void test_port_ranges(void **state)
{
	/* the agent's entries carry end_port (a policy port range): the
	 * narrowest entry containing the port wins, exact peer before any */
	struct proxy_rules_table *t = load(
		"{\"version\":1,\"policies\":["
		"{\"ep_id\":1,\"direction\":\"ingress\",\"port\":8000,\"end_port\":8999,"
		" \"protocol\":6,\"peer_identity\":0,\"rules\":[{\"path\":\"/wide\"}]},"
		"{\"ep_id\":1,\"direction\":\"ingress\",\"port\":8080,\"end_port\":8083,"
		" \"protocol\":6,\"peer_identity\":0,\"rules\":[{\"path\":\"/narrow\"}]},"
		"{\"ep_id\":1,\"direction\":\"ingress\",\"port\":8081,\"end_port\":8081,"
		" \"protocol\":6,\"peer_identity\":0,\"rules\":[{\"path\":\"/one\"}]},"
		"{\"ep_id\":1,\"direction\":\"ingress\",\"port\":7000,\"end_port\":9999,"
		" \"protocol\":6,\"peer_identity\":7,\"rules\":[{\"path\":\"/seven\"}]}]}", 0);
	struct proxy_rules_key k = { .ep_id = 1, .port = 8500 };

	(void)state;
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/wide");
	k.port = 8080;
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/narrow");
	DENY(proxy_rules_lookup(t, &k), "GET", "/wide");
	k.port = 8081;
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/one");
	k.port = 8083;
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/narrow");
	k.port = 8084;
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/wide");
	k.port = 9000;
	assert_null(proxy_rules_lookup(t, &k));
	/* peer 7 has its own (wider) entry: it is used, never merged */
	k.peer_identity = 7;
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/seven");
	k.port = 8081;
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/seven");
	DENY(proxy_rules_lookup(t, &k), "GET", "/one");
	k.port = 6999;
	assert_null(proxy_rules_lookup(t, &k));
	proxy_rules_table_free(t);
}

static void test_invalid_regex_fails_closed(void **state)
{
	/* S7: the broken entry denies everything, the others still work */
	struct proxy_rules_table *t = load(
		"{\"policies\":["
		"{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"peer_identity\":0,"
		" \"rules\":[{\"path\":\"/ok\"},{\"path\":\"/(unclosed\"}]},"
		"{\"ep_id\":1,\"direction\":\"ingress\",\"port\":81,\"peer_identity\":0,"
		" \"rules\":[{\"path\":\"/ok\"}]}]}", -EINVAL);

	(void)state;
	assert_non_null(t);
	assert_int_equal(match(proxy_rules_lookup(t, KEY(1, 80, 0)), &(struct req){ "GET", "/ok" }),
			 PROXY_MATCH_INVALID);
	ALLOW(proxy_rules_lookup(t, KEY(1, 81, 0)), "GET", "/ok");
	proxy_rules_table_free(t);
}

/* The request splice may remember a verdict only where it depends on
 * method, path and Host alone. */
static void test_request_only(void **state)
{
	static const struct { const char *json; bool want; } cases[] = {
		{ "{\"rules\":[{\"method\":\"GET\",\"path\":\"/api/.*\"}]}", true },
		{ "{\"rules\":[{\"host\":\"a\\\\.b\",\"path\":\"/p\"},{}]}", true },
		{ "{\"allow_all\":true}", true },
		{ "{\"rules\":[{\"path\":\"/p\"},{\"path\":\"/q\",\"headers\":[\"X-Token: 1\"]}]}", false },
		{ "{\"rules\":[{\"path\":\"/p\",\"header_matches\":[{\"name\":\"x\",\"value\":\"1\"}]}]}", false },
		{ "{\"rules\":[{\"path\":\"(\"}]}", false },
	};

	(void)state;
	assert_false(proxy_rule_set_request_only(NULL));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy_rules_table *t = NULL;
		char *err = NULL;

		proxy_rules_json_load(cases[i].json, strlen(cases[i].json), KEY(1, 80, 7), &t, &err);
		free(err);
		assert_non_null(t);
		if (proxy_rule_set_request_only(proxy_rules_lookup(t, KEY(1, 80, 7))) != cases[i].want)
			fail_msg("request_only(%s) != %d", cases[i].json, cases[i].want);
		proxy_rules_table_free(t);
	}
}

static void test_bad_documents(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"policies\":{}}",
		"{\"policies\":[{\"ep_id\":1,\"direction\":\"sideways\",\"port\":80,\"peer_identity\":0}]}",
		"{\"policies\":[{\"ep_id\":1,\"direction\":\"ingress\",\"port\":0,\"peer_identity\":0}]}",
		"{\"policies\":[{\"ep_id\":1,\"direction\":\"ingress\",\"port\":70000,\"peer_identity\":0}]}",
		"{\"policies\":[{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"peer_identity\":0,\"protocol\":17}]}",
		"{\"policies\":[{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"peer_identity\":0,\"bogus\":1}]}",
		"{\"policies\":[{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"peer_identity\":0,\"rules\":[{\"paht\":\"/\"}]}]}",
		"{\"policies\":[{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"peer_identity\":0,\"rules\":[{\"headers\":[1]}]}]}",
		("{\"policies\":[{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"peer_identity\":0},"
		 "{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"peer_identity\":0}]}"), /* duplicate key */
		"{\"version\":2,\"policies\":[]}",
		"{\"policies\":[{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"end_port\":79,\"peer_identity\":0}]}",
		"{\"policies\":[{\"ep_id\":1,\"direction\":\"ingress\",\"port\":80,\"end_port\":70000,\"peer_identity\":0}]}",
		"{\"rules\":[{\"method\":5}]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct proxy_rules_table *t = NULL;
		char *err = NULL;
		int rc = proxy_rules_json_load(bad[i], strlen(bad[i]), KEY(1, 80, 0), &t, &err);
		if (rc == 0 || t)
			fail_msg("case %zu accepted: %s", i, bad[i]);
		assert_non_null(err);
		free(err);
	}
}

static void test_regex_limit(void **state)
{
	/* catastrophic backtracking hits the match limit: denied, not hung */
	struct proxy_rules_table *t = load("{\"rules\":[{\"path\":\"/(a+)+b\"}]}", 0);
	char path[64] = "/";
	enum proxy_match m;

	(void)state;
	memset(path + 1, 'a', 40);
	m = match(proxy_rules_lookup(t, KEY(1, 80, 7)), &(struct req){ "GET", path });
	assert_true(m == PROXY_MATCH_REGEX_LIMIT || m == PROXY_MATCH_DENY);
	proxy_rules_table_free(t);
}

static void test_from_l7_and_json_roundtrip(void **state)
{
	char *hdrs[] = { "X-Token: 42" };
	struct sluice_http_rule r1 = { .method = "GET", .path = "/api/users/.*" };
	struct sluice_http_rule r2 = { .method = "POST", .path = "/p", .headers = hdrs, .nheaders = 1 };
	const struct sluice_http_rule *rules[] = { &r1, &r2 };
	struct sluice_l7_policy pol[] = {
		{ .ep_id = 3, .direction = SLUICE_DIR_EGRESS, .protocol = 6, .port = 8080,
		  .peer_identity = 4097, .rules = rules, .nrules = 2 },
		{ .ep_id = 3, .direction = SLUICE_DIR_INGRESS, .protocol = 6, .port = 80,
		  .peer_identity = SLUICE_ID_ANY, .allow_all = true },
	};
	struct proxy_rules_key k = { .ep_id = 3, .direction = 1, .port = 8080, .peer_identity = 4097 };
	struct proxy_rules_table *t = NULL;
	char *err = NULL, *json;

	(void)state;
	assert_int_equal(proxy_rules_table_from_l7(pol, 2, &t, &err), 0);
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/api/users/1");
	DENY(proxy_rules_lookup(t, &k), "POST", "/p");
	ALLOW(proxy_rules_lookup(t, &k), "POST", "/p", NULL, { "X-Token", "42" });
	proxy_rules_table_free(t);
	t = NULL;

	json = proxy_rules_json_from_l7(pol, 2);
	assert_non_null(json);
	assert_int_equal(proxy_rules_json_load(json, strlen(json), NULL, &t, &err), 0);
	ALLOW(proxy_rules_lookup(t, &k), "GET", "/api/users/1");
	DENY(proxy_rules_lookup(t, &k), "GET", "/api/users");
	ALLOW(proxy_rules_lookup(t, &k), "POST", "/p", NULL, { "X-Token", "42" });
	ALLOW(proxy_rules_lookup(t, KEY(3, 80, 55)), "DELETE", "/");
	proxy_rules_table_free(t);
	free(json);
}

/* ---- headerMatches (cilium/proxy's HEADER_ACTION_POLICY cases, as a
 * CiliumNetworkPolicy can write them: a match always continues) ---------- */

static struct proxy_header_edits g_ed;

/* Matches with an edits buffer; *edits gets them rendered as
 * "-name" and "+name: value" joined by " " (or ""). */
static enum proxy_match match_ed(const struct proxy_rule_set *rs, const struct req *r,
				 char *edits, size_t cap)
{
	size_t off = 0;
	enum proxy_match m;

	g_ed.n = 99; /* the matcher resets it */
	m = match_into(rs, r, &g_ed);
	edits[0] = 0;
	for (size_t i = 0; i < g_ed.n; i++) {
		const struct proxy_header_edit *e = &g_ed.v[i];
		off += (size_t)snprintf(edits + off, cap - off, "%s%s%.*s%s%.*s", i ? " " : "",
					e->value ? "+" : "-", (int)e->name_len, e->name,
					e->value ? ": " : "", e->value ? (int)e->value_len : 0,
					e->value ? e->value : "");
	}
	return m;
}

#define EXPECT(rs, want, want_edits, ...) do { \
		char ed_[512]; \
		assert_int_equal(match_ed(rs, &(struct req){ __VA_ARGS__ }, ed_, sizeof(ed_)), want); \
		assert_string_equal(ed_, want_edits); \
	} while (0)

static void test_header_matches(void **state)
{
	struct proxy_rules_table *t = load(
		"{\"rules\":["
		/* R1: the bearer token from a secret, replaced when wrong */
		"{\"path\":\"/allowed\",\"header_matches\":[{\"name\":\"bearer-token\","
		"\"secret\":\"default/tok\",\"mismatch\":\"REPLACE\"}]},"
		/* R2: a wrong User-Agent is deleted */
		"{\"path\":\".*public$\",\"header_matches\":[{\"name\":\"user-agent\",\"value\":\"CuRL\","
		"\"mismatch\":\"DELETE\"}]},"
		/* R3: header2 added when missing */
		"{\"host\":\"allowedHOST\",\"header_matches\":[{\"name\":\"header2\",\"value\":\"value2\","
		"\"mismatch\":\"ADD\"}]},"
		/* R4: a wrong header42 is deleted */
		"{\"host\":\".*REGEX.*\",\"header_matches\":[{\"name\":\"header42\",\"value\":\"42\","
		"\"mismatch\":\"DELETE\"}]},"
		"{\"method\":\"PUT\",\"path\":\"/public/opinions\"},"
		/* deny on mismatch (the default), presence, LOG */
		"{\"path\":\"/deny\",\"header_matches\":[{\"name\":\"X-Token\",\"value\":\"42\"}]},"
		"{\"path\":\"/present\",\"header_matches\":[{\"name\":\"X-Present\"}]},"
		"{\"path\":\"/log\",\"header_matches\":[{\"name\":\"X-Token\",\"value\":\"42\","
		"\"mismatch\":\"LOG\"}]},"
		/* a secret that is not there, with and without a value to fall back on */
		"{\"path\":\"/nosecret\",\"header_matches\":[{\"name\":\"X-S\","
		"\"secret\":\"default/gone\",\"mismatch\":\"REPLACE\"}]},"
		"{\"path\":\"/fallback\",\"header_matches\":[{\"name\":\"X-S\",\"value\":\"v\","
		"\"secret\":\"default/gone\"}]},"
		/* a secret of two items is no value either */
		"{\"path\":\"/two\",\"header_matches\":[{\"name\":\"X-S\",\"secret\":\"default/two\","
		"\"mismatch\":\"LOG\"}]}],"
		"\"secrets\":{\"default/tok\":{\"value\":\"d4ef0f5011f163ac\"},"
		"\"default/two\":{\"a\":\"1\",\"b\":\"2\"}}}", 0);
	const struct proxy_rule_set *rs = proxy_rules_lookup(t, KEY(1, 80, 7));

	(void)state;
	assert_non_null(rs);
	/* DeniedPathPrefix, AllowedPathPrefix, AllowedPathPrefixWrongHeader */
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/prefix", "host");
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/allowed", "host", { "bearer-token", "d4ef0f5011f163ac" });
	EXPECT(rs, PROXY_MATCH_ALLOW, "-bearer-token +bearer-token: d4ef0f5011f163ac",
	       "GET", "/allowed", "host", { "Bearer-Token", "wrong-value" });
	EXPECT(rs, PROXY_MATCH_ALLOW, "-bearer-token +bearer-token: d4ef0f5011f163ac",
	       "GET", "/allowed", "host");
	/* AllowedPathRegex (no User-Agent: nothing to delete), ...DeleteHeader */
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/maybe/public", "host");
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/maybe/public", "host", { "User-Agent", "CuRL" });
	EXPECT(rs, PROXY_MATCH_ALLOW, "-user-agent", "GET", "/maybe/public", "host",
	       { "User-Agent", "curl/7.88" });
	/* AllowedHostRegexDeleteHeader, DeniedPath, AllowedHostString, AllowedHostRegex */
	EXPECT(rs, PROXY_MATCH_ALLOW, "-header42", "GET", "/maybe/private", "hostREGEXname",
	       { "header42", "test" });
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/maybe/private", "host");
	EXPECT(rs, PROXY_MATCH_ALLOW, "+header2: value2", "GET", "/maybe/private", "allowedHOST");
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/maybe/private", "allowedHOST", { "header2", "value2" });
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/maybe/private", "hostREGEXname");
	/* DeniedMethod, AcceptedMethod */
	EXPECT(rs, PROXY_MATCH_DENY, "", "POST", "/maybe/private", "host");
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "PUT", "/public/opinions", "host");
	/* every matching rule runs its actions, in order, on what the earlier
	 * ones left: R2 and R4 both match here */
	EXPECT(rs, PROXY_MATCH_ALLOW, "-user-agent -header42", "GET", "/x/public", "aREGEXb",
	       { "User-Agent", "x", "header42", "41" });
	/* deny on mismatch; presence; LOG continues without an edit */
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/deny", "h", { "x-token", "42" });
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/deny", "h", { "X-Token", "43" });
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/deny", "h", { "X-Token", "4" });
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/deny", "h", { "X-Token", "42", "X-Token", "42" });
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/deny", "h");
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/present", "h", { "X-Present", "" });
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/present", "h");
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/log", "h", { "X-Token", "1" });
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/log", "h");
	/* a secret named but missing fails the rule, whatever its action (fail
	 * closed); with a value written, that value is compared */
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/nosecret", "h", { "X-S", "anything" });
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/nosecret", "h");
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/fallback", "h", { "X-S", "v" });
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/fallback", "h", { "X-S", "w" });
	EXPECT(rs, PROXY_MATCH_DENY, "", "GET", "/two", "h", { "X-S", "1" });
	/* a caller that cannot apply edits gets a deny when one is needed */
	DENY(rs, "GET", "/allowed", "host", { "bearer-token", "wrong" });
	ALLOW(rs, "GET", "/allowed", "host", { "bearer-token", "d4ef0f5011f163ac" });
	proxy_rules_table_free(t);

	/* malformed header matches are load errors that name the field */
	{
		struct proxy_rules_table *bad = NULL;
		char *err = NULL;
		const char *doc = "{\"rules\":[{\"header_matches\":[{\"name\":\"X\",\"mismatch\":\"DROP\"}]}]}";

		assert_int_equal(proxy_rules_json_load(doc, strlen(doc), KEY(1, 80, 7), &bad, &err), -EINVAL);
		assert_non_null(strstr(err, "policy.rules[0].header_matches[0].mismatch"));
		free(err);
		err = NULL;
		doc = "{\"rules\":[{\"header_matches\":[{\"value\":\"v\"}]}]}";
		assert_int_equal(proxy_rules_json_load(doc, strlen(doc), KEY(1, 80, 7), &bad, &err), -EINVAL);
		assert_non_null(strstr(err, "header_matches[0].name"));
		free(err);
		assert_null(bad);
	}
}

/* An L4 allow of the same peer (allow_all) allows every request, and the
 * rules' header actions still run, as Cilium's wildcard rule does not
 * short-circuit a set with headerMatches. */
static void test_header_matches_allow_all(void **state)
{
	struct proxy_rules_table *t = load(
		"{\"allow_all\":true,\"rules\":[{\"path\":\"/auth\",\"header_matches\":["
		"{\"name\":\"Authorization\",\"value\":\"Bearer 1\",\"mismatch\":\"REPLACE\"}]},"
		"{\"path\":\"/need\",\"header_matches\":[{\"name\":\"X\",\"value\":\"1\"}]}]}", 0);
	const struct proxy_rule_set *rs = proxy_rules_lookup(t, KEY(1, 80, 7));

	(void)state;
	EXPECT(rs, PROXY_MATCH_ALLOW, "-Authorization +Authorization: Bearer 1", "GET", "/auth", "h");
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/need", "h");
	EXPECT(rs, PROXY_MATCH_ALLOW, "", "GET", "/other", "h");
	DENY(rs, "GET", "/auth", "h"); /* an edit that cannot be made: fail closed */
	proxy_rules_table_free(t);
}

/* A rule with header matches through the compiler's form and the JSON
 * serializer the agent uses: the same answers. */
static void test_header_matches_from_l7(void **state)
{
	struct sluice_tls_context sec = { .secret_ns = "default", .secret_name = "tok" };
	struct sluice_header_match hm[] = {
		{ .name = "X-Token", .value = "42", .mismatch = SLUICE_MISMATCH_REPLACE },
		{ .name = "X-Secret", .secret = &sec, .mismatch = SLUICE_MISMATCH_LOG },
	};
	struct sluice_http_rule r = { .path = "/p", .header_matches = hm, .nheader_matches = 2 };
	const struct sluice_http_rule *rules[] = { &r };
	struct sluice_l7_policy pol = { .ep_id = 1, .port = 80, .peer_identity = 7, .protocol = 6,
					.rules = rules, .nrules = 1 };
	struct proxy_rules_table *t = NULL;
	char *err = NULL, *json = proxy_rules_json_from_l7(&pol, 1);

	(void)state;
	assert_non_null(strstr(json, "\"header_matches\":[{\"name\":\"X-Token\",\"value\":\"42\",\"mismatch\":\"REPLACE\"},"
				     "{\"name\":\"X-Secret\",\"secret\":\"default/tok\",\"mismatch\":\"LOG\"}]"));
	free(json);
	assert_int_equal(proxy_rules_table_from_l7(&pol, 1, &t, &err), 0);
	/* no secrets document: X-Secret's secret is missing, the rule fails */
	EXPECT(proxy_rules_lookup(t, KEY(1, 80, 7)), PROXY_MATCH_DENY, "", "GET", "/p", "h",
	       { "X-Token", "42" });
	proxy_rules_table_free(t);
	hm[1].secret = NULL;
	assert_int_equal(proxy_rules_table_from_l7(&pol, 1, &t, &err), 0);
	EXPECT(proxy_rules_lookup(t, KEY(1, 80, 7)), PROXY_MATCH_ALLOW, "-X-Token +X-Token: 42",
	       "GET", "/p", "h", { "X-Token", "41" });
	proxy_rules_table_free(t);
}

/* Literal and literal-".*" patterns are answered without PCRE2: the same
 * answers as PCRE2 itself on subjects with line ends, NUL, high bytes,
 * escapes and other patterns as controls. */
static void test_literal_shortcut(void **state)
{
	static const char *const patterns[] = {
		"GET", "/api/users/.*", ".*", "/a", "", "/a.b", "/a.*b", "/a\\.*", "/x/.*.*",
		"(GET|PUT)", "/a]}", "caf\xc3\xa9.*",
	};
	static const char *const subjects[] = {
		"", "GET", "GETX", "get", "/api/users/", "/api/users/42", "/api/users",
		"/api/users/4\n2", "/api/users/\r", "/api/users/\x0b", "/api/users/\x0c",
		"/api/users/\x85", "/api/users/\xc4\x85", "/a", "/a.", "/a.b", "/axb", "/a]}",
		"/a\\.x", "/x/", "/x/..", "caf\xc3\xa9", "caf\xc3\xa9/\t", "\n", "PUT",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		char json[256];
		struct proxy_rules_table *t;
		const struct proxy_rule_set *rs;
		int ecode;
		PCRE2_SIZE eoff;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
					       PCRE2_ANCHORED | PCRE2_ENDANCHORED, &ecode, &eoff, NULL);
		pcre2_match_data *md = pcre2_match_data_create(1, NULL);

		assert_non_null(re);
		snprintf(json, sizeof(json), "{\"rules\": [{\"path\": \"%s\"}]}", patterns[i]);
		for (char *q = json; (q = strstr(q, "\\")); q += 2)
			memmove(q + 1, q, strlen(q) + 1); /* a JSON string: \ for \ */
		t = load(json, 0);
		rs = proxy_rules_lookup(t, KEY(1, 80, 7));
		assert_non_null(rs);
		for (size_t k = 0; k < sizeof(subjects) / sizeof(subjects[0]); k++) {
			struct proxy_request_view v = {
				.method = "GET", .method_len = 3,
				.path = subjects[k], .path_len = strlen(subjects[k]),
				.host = "", .host_len = 0,
			};
			bool want = pcre2_match(re, (PCRE2_SPTR)subjects[k], strlen(subjects[k]),
						0, 0, md, NULL) >= 0;
			enum proxy_match got = proxy_rule_set_match(rs, &v);

			if (got != (want ? PROXY_MATCH_ALLOW : PROXY_MATCH_DENY))
				fail_msg("pattern \"%s\" subject %zu: %d, PCRE2 says %d", patterns[i],
					 k, got, want);
		}
		pcre2_match_data_free(md);
		pcre2_code_free(re);
		proxy_rules_table_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_match),
		cmocka_unit_test(test_request_only),
		cmocka_unit_test(test_host_and_headers),
		cmocka_unit_test(test_header_matches),
		cmocka_unit_test(test_header_matches_from_l7),
		cmocka_unit_test(test_header_matches_allow_all),
		cmocka_unit_test(test_empty_rule_allow_all_and_deny),
		cmocka_unit_test(test_table_keys_and_any_peer),
		cmocka_unit_test(test_port_ranges),
		cmocka_unit_test(test_invalid_regex_fails_closed),
		cmocka_unit_test(test_bad_documents),
		cmocka_unit_test(test_regex_limit),
		cmocka_unit_test(test_from_l7_and_json_roundtrip),
		cmocka_unit_test(test_literal_shortcut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
