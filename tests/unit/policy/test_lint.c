// SPDX-License-Identifier: Apache-2.0
/*
 * test_lint.c - warnings for policies that load but probably do not say
 * what their author meant: glob-like http regexes, regexes that can never
 * match, and http rules that an L4 allow of the same peers and port makes
 * moot. Each warning names file:line: field.
 */
#include "testutil.h"

#include <stdlib.h>

#define HDR "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n" \
	    "spec:\n  endpointSelector: {matchLabels: {app: web}}\n"

/* loads yaml (it must load) and returns its warnings */
static struct sluice_diags warnings_of(const char *yaml)
{
	struct sluice_policy_set set = { 0 };
	struct sluice_diags errs = { 0 }, warns = { 0 };
	int rc = sluice_policy_load("t.yaml", yaml, strlen(yaml), &set, &errs, &warns);

	if (rc)
		print_diags(&errs);
	assert_int_equal(rc, 0);
	sluice_policy_set_free(&set);
	sluice_diags_free(&errs);
	return warns;
}

static bool diags_contain(const struct sluice_diags *d, const char *part)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->v[i].msg, part))
			return true;
	return false;
}

/* one http rule "{FIELD: VALUE}" on port 80 */
static struct sluice_diags http_warnings(const char *field, const char *value)
{
	char y[1024];

	snprintf(y, sizeof(y), HDR "  ingress:\n  - toPorts:\n    - ports: [{port: \"80\", protocol: TCP}]\n"
		 "      rules:\n        http:\n        - %s: '%s'\n", field, value);
	return warnings_of(y);
}

static void expect_warning(const char *field, const char *value, const char *msg)
{
	struct sluice_diags w = http_warnings(field, value);
	char want[1024];

	snprintf(want, sizeof(want), "t.yaml:11: spec.ingress[0].toPorts[0].rules.http[0].%s: %s",
		 field, msg);
	if (!diags_have(&w, want)) {
		fprintf(stderr, "want: %s\n", want);
		print_diags(&w);
		fail();
	}
	sluice_diags_free(&w);
}

static void expect_quiet(const char *field, const char *value)
{
	struct sluice_diags w = http_warnings(field, value);

	if (w.n) {
		fprintf(stderr, "%s '%s' should not warn:\n", field, value);
		print_diags(&w);
		fail();
	}
	sluice_diags_free(&w);
}

static void test_glob_like_regexes(void **state)
{
	(void)state;
	expect_warning("path", "/api/users/*",
		       "\"/api/users/*\" looks like a glob: in a regex \"/*\" repeats the slash, so it "
		       "matches \"/api/users\" followed by slashes only; did you mean \"/api/users/.*\"?");
	expect_warning("path", "/api/*/items",
		       "\"/api/*/items\" looks like a glob: in a regex \"/*\" repeats the slash, so it "
		       "matches \"/api\" followed by slashes only; did you mean \"/api/.*/items\"?");
	expect_quiet("path", "/api/users/.*");
	expect_quiet("path", "/api/users/[^/]*");
	expect_quiet("path", "/files\\/*");       /* an escaped slash: written on purpose */
	expect_quiet("path", "/a[/*]b");           /* inside a class */

	/* "*" first is not a regex at all: the error says what was meant */
	load_fails(HDR "  ingress:\n  - toPorts:\n    - ports: [{port: \"80\"}]\n"
		   "      rules: {http: [{host: '*.example.com'}]}\n",
		   "bad.yaml:9: spec.ingress[0].toPorts[0].rules.http[0].host: invalid regex "
		   "\"*.example.com\": quantifier does not follow a repeatable item at offset 0 (it looks "
		   "like a glob: in a regex, \"any characters\" is \".*\"; did you mean \".*\\.example\\.com\"?)");
	load_fails(HDR "  ingress:\n  - toPorts:\n    - ports: [{port: \"80\"}]\n"
		   "      rules: {http: [{method: '*'}]}\n",
		   "bad.yaml:9: spec.ingress[0].toPorts[0].rules.http[0].method: invalid regex "
		   "\"*\": quantifier does not follow a repeatable item at offset 0 (it looks "
		   "like a glob: in a regex, \"any characters\" is \".*\"; did you mean \".*\"?)");
}

static void test_never_matching_regexes(void **state)
{
	(void)state;
	expect_warning("path", "/api$/v1",
		       "\"/api$/v1\" can never match: \"$\" (end of input) is followed by more pattern");
	expect_warning("path", "/api/^v1",
		       "\"/api/^v1\" can never match: \"^\" (start of input) follows other pattern");
	expect_warning("path", "api/v1",
		       "\"api/v1\" can never match: request paths start with \"/\"");
	expect_warning("path", "^api",
		       "\"^api\" can never match: request paths start with \"/\"");
	expect_warning("method", "get",
		       "\"get\" can never match: HTTP methods are case-sensitive (GET, not get)");
	expect_quiet("path", "/api$");
	expect_quiet("path", "(/a$|/b)");
	expect_quiet("path", "^/api");
	expect_quiet("path", "(^/a|^/b)");
	expect_quiet("path", "/price[$]/x");
	expect_quiet("path", "/cost\\$/x");
	expect_quiet("path", ".*/health");
	expect_quiet("path", "(/v1|/v2)/.*");
	expect_quiet("path", "[/]api");
	expect_quiet("method", "GET|POST");
	expect_quiet("method", "G.T");
	expect_quiet("host", "api\\.example\\.com");
}

/* ingress: the L7 rule is ingress[0]; ingress[1] is OTHER */
static struct sluice_diags shadow_warnings(const char *l7_peer, const char *other)
{
	char y[2048];

	snprintf(y, sizeof(y), HDR "  ingress:\n"
		 "  - %s\n"
		 "    toPorts:\n"
		 "    - ports: [{port: \"80\", protocol: TCP}]\n"
		 "      rules:\n"
		 "        http: [{method: GET}]\n"
		 "  - %s\n", l7_peer, other);
	return warnings_of(y);
}

static void expect_shadow(const char *l7_peer, const char *other, bool warned)
{
	struct sluice_diags w = shadow_warnings(l7_peer, other);
	const char *want = "t.yaml:11: spec.ingress[0].toPorts[0].rules.http: these http rules "
			   "restrict nothing on port 80/TCP: ingress[1].toPorts[0] allows the same peers "
			   "on that port without http rules, so every request passes the proxy (as in "
			   "Cilium); add the http rules there too or drop the port from it";

	if (diags_have(&w, want) != warned) {
		fprintf(stderr, "%s / %s: want %s\n", l7_peer, other, warned ? want : "no warning");
		print_diags(&w);
		fail();
	}
	sluice_diags_free(&w);
}

static void test_l7_shadowed_by_l4(void **state)
{
	const char *a = "fromEndpoints: [{matchLabels: {app: a}}]";

	(void)state;
	/* same peers, same port, no http rules */
	expect_shadow(a, "fromEndpoints: [{matchLabels: {app: a}}]\n"
		      "    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]", true);
	/* "http: []" is an L4 allow too */
	expect_shadow(a, "fromEndpoints: [{matchLabels: {app: a}}]\n"
		      "    toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: []}}]", true);
	/* any peer, a range holding 80, ANY protocol, all TCP ports */
	expect_shadow(a, "toPorts: [{ports: [{port: \"80\", protocol: ANY}]}]", true);
	expect_shadow(a, "fromEndpoints: [{matchLabels: {app: a}}]\n"
		      "    toPorts: [{ports: [{port: \"1\", endPort: 1024, protocol: TCP}]}]", true);
	expect_shadow(a, "fromEntities: [all]\n"
		      "    toPorts: [{ports: [{port: \"0\", protocol: TCP}]}]", true);
	/* other peers, other ports, UDP, or no port at all: nothing to say */
	expect_shadow(a, "fromEndpoints: [{matchLabels: {app: b}}]\n"
		      "    toPorts: [{ports: [{port: \"80\"}]}]", false);
	expect_shadow(a, "fromEndpoints: [{matchLabels: {app: a}}]\n"
		      "    toPorts: [{ports: [{port: \"81\"}]}]", false);
	expect_shadow(a, "fromEndpoints: [{matchLabels: {app: a}}]\n"
		      "    toPorts: [{ports: [{port: \"80\", protocol: UDP}]}]", false);
	expect_shadow(a, "fromEndpoints: [{matchLabels: {app: a}}]", false);
	/* the L4 allow names fewer peers than the L7 rule: partly shadowed only */
	expect_shadow("fromEndpoints: [{matchLabels: {app: a}}, {matchLabels: {app: b}}]",
		      "fromEndpoints: [{matchLabels: {app: a}}]\n"
		      "    toPorts: [{ports: [{port: \"80\"}]}]", false);
	/* two toPorts of one peer rule */
	{
		struct sluice_diags w = warnings_of(HDR "  egress:\n"
			"  - toEndpoints: [{matchLabels: {app: db}}]\n"
			"    toPorts:\n"
			"    - ports: [{port: \"8080\", protocol: TCP}]\n"
			"      rules: {http: [{path: /api/.*}]}\n"
			"    - ports: [{port: \"8000\", endPort: 9000}]\n");

		assert_true(diags_contain(&w, "t.yaml:10: spec.egress[0].toPorts[0].rules.http: these http "
					      "rules restrict nothing on port 8080/TCP: egress[0].toPorts[1]"));
		sluice_diags_free(&w);
	}
}

/* http rules of a rule with enableDefaultDeny: false for their direction
 * deny nothing (Cilium 1.18 adds an allow-all http rule); said by the
 * whole load and by the one-item edit path alike */
static void test_l7_in_default_allow_rule(void **state)
{
	static const char text[] =
		HDR "  enableDefaultDeny: {ingress: false}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: a}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"80\", protocol: TCP}]\n"
		"      rules: {http: [{method: GET}]}\n"
		"  egress:\n"
		"  - toEndpoints: [{matchLabels: {app: b}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"80\", protocol: TCP}]\n"
		"      rules: {http: [{method: GET}]}\n";
	const char *want = "t.yaml:11: spec.ingress[0].toPorts[0].rules.http: these http rules deny no "
			   "request: the rule says enableDefaultDeny: {ingress: false}, so every request "
			   "passes the proxy (Cilium adds an allow-all http rule there); the port still "
			   "goes through the proxy, for visibility";
	struct sluice_diags w = warnings_of(text);
	struct sluice_policy_set set = { 0 };
	struct sluice_diags e = { 0 }, we = { 0 };
	struct sluice_policy_edit ed;
	char *edited = subst(text, "{app: a}", "{app: c}");

	(void)state;
	if (!diags_have(&w, want)) {
		print_diags(&w);
		fail();
	}
	/* egress is default deny: its http rules restrict */
	assert_false(diags_contain(&w, "spec.egress[0].toPorts[0].rules.http: these http rules deny no"));
	sluice_diags_free(&w);
	/* the edit path, the item edited, says it again */
	load_ok(&set, text);
	assert_int_equal(sluice_policy_edit_prepare(&set.v[0], "t.yaml", text, strlen(text), edited,
						    strlen(edited), &ed, &e, &we),
			 1);
	assert_true(diags_have(&we, want));
	sluice_policy_edit_free(&ed);
	sluice_diags_free(&e);
	sluice_diags_free(&we);
	sluice_policy_set_free(&set);
	free(edited);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_like_regexes),
		cmocka_unit_test(test_never_matching_regexes),
		cmocka_unit_test(test_l7_shadowed_by_l4),
		cmocka_unit_test(test_l7_in_default_allow_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
