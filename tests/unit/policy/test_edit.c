// SPDX-License-Identifier: Apache-2.0
/*
 * test_edit.c - a document applied again with one list item changed is
 * parsed again only there (policy/edit.c). Every edit is checked against a
 * whole load of the new text: the compiled entries and L7 tables, the
 * errors (file, line, field path) and, after several edits in a row, the
 * line numbers that later messages use.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char base[] =
	"apiVersion: cilium.io/v2\n"
	"kind: CiliumNetworkPolicy\n"
	"metadata:\n"
	"  name: edits\n"
	"  namespace: default\n"
	"spec:\n"
	"  endpointSelector:\n"
	"    matchLabels:\n"
	"      app: web\n"
	"  ingress:\n"
	"  - fromEndpoints:\n"
	"    - matchLabels:\n"
	"        app: client\n"
	"    toPorts:\n"
	"    - ports:\n"
	"      - port: \"80\"\n"
	"        protocol: TCP\n"
	"      rules:\n"
	"        http:\n"
	"        - method: GET\n"
	"          path: \"/api/.*\"\n"
	"  - fromCIDR:\n"
	"    - 10.250.0.1/32\n"
	"    toPorts:\n"
	"    - ports:\n"
	"      - port: \"10001\"\n"
	"        protocol: TCP\n"
	"  - fromCIDR:\n"
	"    - 10.250.0.2/32\n"
	"    toPorts:\n"
	"    - ports:\n"
	"      - port: \"10002\"\n"
	"        protocol: TCP\n"
	"  egress:\n"
	"  - toEndpoints:\n"
	"    - matchLabels:\n"
	"        app: db\n"
	"    toPorts:\n"
	"    - ports:\n"
	"      - port: \"5432\"\n"
	"        protocol: TCP\n";

struct fixture {
	struct sluice_identity_table *idt;
	struct sluice_compile_endpoint eps[3];
	char *text; /* the text the policy in force was loaded (or edited) from */
	struct sluice_policy_set set;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->idt = sluice_idt_new();
	f->eps[0] = (struct sluice_compile_endpoint){ .ep_id = 1, .identity = pod_identity(f->idt, "app=web"),
						      .namespace = "default" };
	f->eps[1] = (struct sluice_compile_endpoint){ .ep_id = 2, .identity = pod_identity(f->idt, "app=client"),
						      .namespace = "default" };
	f->eps[2] = (struct sluice_compile_endpoint){ .ep_id = 3, .identity = pod_identity(f->idt, "app=db"),
						      .namespace = "default" };
	f->text = strdup(base);
	load_ok(&f->set, f->text);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sluice_policy_set_free(&f->set);
	sluice_idt_free(f->idt);
	free(f->text);
	free(f);
	return 0;
}

/* the compiled form of two sets is the same */
static void assert_same_compiled(struct fixture *f, const struct sluice_policy_set *a,
				 const struct sluice_policy_set *b)
{
	struct sluice_compiled ca = { 0 }, cb = { 0 };
	struct sluice_diags e = { 0 };

	assert_int_equal(sluice_policy_compile(a, f->idt, f->eps, 3, &ca, &e), 0);
	assert_int_equal(sluice_policy_compile(b, f->idt, f->eps, 3, &cb, &e), 0);
	assert_int_equal(ca.neps, cb.neps);
	for (size_t i = 0; i < ca.neps; i++) {
		assert_int_equal(ca.eps[i].flags, cb.eps[i].flags);
		assert_int_equal(ca.eps[i].nentries, cb.eps[i].nentries);
		assert_memory_equal(ca.eps[i].entries, cb.eps[i].entries,
				    ca.eps[i].nentries * sizeof(*ca.eps[i].entries));
		assert_int_equal(ca.eps[i].nl7, cb.eps[i].nl7);
		for (size_t j = 0; j < ca.eps[i].nl7; j++) {
			assert_int_equal(ca.eps[i].l7[j].port, cb.eps[i].l7[j].port);
			assert_int_equal(ca.eps[i].l7[j].nrules, cb.eps[i].l7[j].nrules);
			assert_int_equal(ca.eps[i].l7[j].allow_all, cb.eps[i].l7[j].allow_all);
		}
	}
	assert_int_equal(ca.ncidrs, cb.ncidrs);
	sluice_compiled_free(&ca);
	sluice_compiled_free(&cb);
	sluice_diags_free(&e);
}

static const struct sluice_peer_rule *section_items(const struct sluice_rule *r, int s, size_t *n)
{
	switch (s) {
	case SLUICE_SECTION_INGRESS:
		*n = r->ningress;
		return r->ingress;
	case SLUICE_SECTION_EGRESS:
		*n = r->negress;
		return r->egress;
	case SLUICE_SECTION_INGRESS_DENY:
		*n = r->ningress_deny;
		return r->ingress_deny;
	default:
		*n = r->negress_deny;
		return r->egress_deny;
	}
}

/* every item of a lies where (and on the line) the same item of b does:
 * the spans edits moved (some of them pending, see struct sluice_policy)
 * against those of a whole load of the same text */
static void assert_same_spans(const struct sluice_policy *a, const struct sluice_policy *b)
{
	assert_int_equal(a->nrules, b->nrules);
	for (size_t r = 0; r < a->nrules; r++)
		for (int s = 0; s < SLUICE_SECTION_COUNT; s++) {
			size_t na, nb, sa, ea, sb, eb;
			const struct sluice_peer_rule *va = section_items(&a->rules[r], s, &na);
			const struct sluice_peer_rule *vb = section_items(&b->rules[r], s, &nb);

			assert_int_equal(na, nb);
			for (size_t i = 0; i < na; i++) {
				sluice_policy_item_span(a, &va[i], &sa, &ea);
				sluice_policy_item_span(b, &vb[i], &sb, &eb);
				assert_int_equal(sa, sb);
				assert_int_equal(ea, eb);
				assert_int_equal(va[i].line, vb[i].line);
			}
		}
}

/* text with the first occurrence of from replaced by to */
/* edits f's policy into new_text: must be a one-item edit that a whole
 * load agrees with */
static void edit_ok(struct fixture *f, char *new_text)
{
	struct sluice_diags e = { 0 }, w = { 0 };
	struct sluice_policy_edit ed;
	struct sluice_policy_set whole = { 0 };

	assert_int_equal(sluice_policy_edit_prepare(&f->set.v[0], "p.yaml", f->text, strlen(f->text),
						    new_text, strlen(new_text), &ed, &e, &w),
			 1);
	assert_int_equal(e.n, 0);
	sluice_policy_edit_swap(&f->set.v[0], &ed);
	sluice_policy_edit_free(&ed);
	load_ok(&whole, new_text);
	assert_same_compiled(f, &f->set, &whole);
	assert_same_spans(&f->set.v[0], &whole.v[0]);
	sluice_policy_set_free(&whole);
	sluice_diags_free(&e);
	sluice_diags_free(&w);
	free(f->text);
	f->text = new_text;
}

/* the edit is rejected with the message a whole load gives */
static void edit_rejected(struct fixture *f, char *new_text)
{
	struct sluice_diags e = { 0 }, w = { 0 }, we = { 0 }, ww = { 0 };
	struct sluice_policy_edit ed;
	struct sluice_policy_set whole = { 0 };

	assert_int_equal(sluice_policy_edit_prepare(&f->set.v[0], "p.yaml", f->text, strlen(f->text),
						    new_text, strlen(new_text), &ed, &e, &w),
			 -EINVAL);
	assert_int_equal(sluice_policy_load("p.yaml", new_text, strlen(new_text), &whole, &we, &ww),
			 -EINVAL);
	assert_int_equal(e.n, we.n);
	for (size_t i = 0; i < e.n; i++)
		assert_string_equal(e.v[i].msg, we.v[i].msg);
	sluice_diags_free(&e);
	sluice_diags_free(&w);
	sluice_diags_free(&we);
	sluice_diags_free(&ww);
	free(new_text);
}

/* not a one-item edit: the caller must load the whole text */
static void edit_declined(struct fixture *f, char *new_text)
{
	struct sluice_diags e = { 0 }, w = { 0 };
	struct sluice_policy_edit ed;

	assert_int_equal(sluice_policy_edit_prepare(&f->set.v[0], "p.yaml", f->text, strlen(f->text),
						    new_text, strlen(new_text), &ed, &e, &w),
			 0);
	assert_int_equal(e.n, 0);
	sluice_diags_free(&e);
	sluice_diags_free(&w);
	free(new_text);
}

/*
 * libyaml's marks count characters, the edit path's spans are bytes: a
 * text with a byte above 0x7f is loaded whole. Before, a comment of as
 * many two-byte characters as an item has bytes shifted every span by
 * one item: changing item 0's port gave item 1 that port (and left item 0
 * and its old port in force), unlike the file.
 */
static void test_non_ascii(void **state)
{
	static const char item0[] =
		"  - fromCIDR: [10.1.0.0/16]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n";
	static const char item1[] =
		"  - fromCIDR: [10.2.0.0/16]\n    toPorts: [{ports: [{port: \"81\", protocol: TCP}]}]\n";
	struct sluice_policy_set set = { 0 }, whole = { 0 };
	struct sluice_diags e = { 0 }, w = { 0 };
	struct sluice_policy_edit ed;
	char text[4096], *changed, *ascii_text;
	size_t n = 0, i;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "# ");
	for (i = 0; i < strlen(item0); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "\xc3\xa9");
	snprintf(text + n, sizeof(text) - n,
		 "\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
		 "metadata: {name: web, namespace: default}\nspec:\n"
		 "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n%s%s",
		 item0, item1);
	assert_false(sluice_text_is_ascii(text, strlen(text)));
	load_ok(&set, text);
	assert_false(set.v[0].text_ascii);
	changed = subst(text, "\"80\"", "\"89\"");
	assert_int_equal(sluice_policy_edit_prepare(&set.v[0], "p.yaml", text, strlen(text), changed,
						    strlen(changed), &ed, &e, &w),
			 0);
	/* what the whole load (the path taken) says */
	load_ok(&whole, changed);
	assert_int_equal(whole.v[0].rules[0].ingress[0].to_ports[0].ports[0].port, 89);
	assert_int_equal(whole.v[0].rules[0].ingress[1].to_ports[0].ports[0].port, 81);
	free(changed);
	sluice_policy_set_free(&whole);
	sluice_policy_set_free(&set);

	/* an ASCII text whose changed item brings a non-ASCII byte: whole too */
	ascii_text = strchr(text, '\n') + 1;
	load_ok(&set, ascii_text);
	assert_true(set.v[0].text_ascii);
	changed = subst(ascii_text, "[10.1.0.0/16]\n", "[10.1.0.0/16] # \xc3\xa9\n");
	assert_int_equal(sluice_policy_edit_prepare(&set.v[0], "p.yaml", ascii_text, strlen(ascii_text),
						    changed, strlen(changed), &ed, &e, &w),
			 0);
	assert_int_equal(e.n, 0);
	free(changed);
	sluice_policy_set_free(&set);
	sluice_diags_free(&w);

	/* the check itself, at every length around a word */
	for (i = 0; i < 20; i++) {
		char b[32];

		memset(b, 'a', sizeof(b));
		assert_true(sluice_text_is_ascii(b, i));
		if (i) {
			b[i - 1] = (char)0x80;
			assert_false(sluice_text_is_ascii(b, i));
		}
	}
}

static void test_one_port(void **state)
{
	struct fixture *f = *state;

	edit_ok(f, subst(f->text, "\"10001\"", "\"9000\""));
	/* and back, and the other CIDR rule, one after the other */
	edit_ok(f, subst(f->text, "\"9000\"", "\"10001\""));
	edit_ok(f, subst(f->text, "10.250.0.2/32", "10.250.7.0/24"));
	edit_ok(f, subst(f->text, "\"5432\"", "\"5433\""));
}

/* Edits that move bytes but no lines leave their shifts pending (struct
 * sluice_policy): more of them than there is room for, each checked
 * against a whole load, spans included; one swapped back at once, as the
 * agent's rollback does, takes its shift back */
static void test_spans_follow(void **state)
{
	struct fixture *f = *state;
	struct sluice_diags e = { 0 }, w = { 0 };
	struct sluice_policy_edit ed;
	struct sluice_policy_set whole = { 0 };
	static const char *const ports[] = { "\"10001\"", "\"9\"", "\"1000\"", "\"77\"" };
	char *next;

	for (int i = 0; i < 3 * SLUICE_SPAN_SHIFTS; i++) {
		/* the first CIDR item's port, then the egress one's: later
		 * items move, earlier ones do not */
		if (i % 2 == 0)
			edit_ok(f, subst(f->text, ports[(i / 2) % 4], ports[(i / 2 + 1) % 4]));
		else
			edit_ok(f, subst(f->text, i % 4 == 1 ? "\"5432\"" : "\"54321\"",
					 i % 4 == 1 ? "\"54321\"" : "\"5432\""));
		if (i == SLUICE_SPAN_SHIFTS) /* lines move: every span written */
			edit_ok(f, subst(f->text, "    - 10.250.0.2/32\n",
					 "    - 10.250.0.2/32\n    - 10.250.0.5/32\n"));
	}
	assert_true(f->set.v[0].nspan_shifts > 0);
	/* applied and swapped back: as it was */
	next = subst(f->text, "10.250.0.2/32", "10.250.100.2/32");
	assert_int_equal(sluice_policy_edit_prepare(&f->set.v[0], "p.yaml", f->text, strlen(f->text),
						    next, strlen(next), &ed, &e, &w),
			 1);
	sluice_policy_edit_swap(&f->set.v[0], &ed);
	sluice_policy_edit_swap(&f->set.v[0], &ed);
	sluice_policy_edit_free(&ed);
	free(next);
	load_ok(&whole, f->text);
	assert_same_compiled(f, &f->set, &whole);
	assert_same_spans(&f->set.v[0], &whole.v[0]);
	sluice_policy_set_free(&whole);
	sluice_diags_free(&e);
	sluice_diags_free(&w);
	/* and the next edit finds its item */
	edit_ok(f, subst(f->text, "\"10002\"", "\"10003\""));
}

static void test_unchanged(void **state)
{
	struct fixture *f = *state;
	struct sluice_diags e = { 0 }, w = { 0 };
	struct sluice_policy_edit ed;

	assert_int_equal(sluice_policy_edit_prepare(&f->set.v[0], "p.yaml", f->text, strlen(f->text),
						    f->text, strlen(f->text), &ed, &e, &w),
			 1);
	assert_true(ed.unchanged);
	sluice_policy_edit_free(&ed);
}

/* an item that grows by lines moves the lines of what follows: a later
 * error must name the line a whole load names */
static void test_lines_move(void **state)
{
	struct fixture *f = *state;

	edit_ok(f, subst(f->text, "    - 10.250.0.1/32\n",
			 "    - 10.250.0.1/32\n    - 10.250.0.3/32\n    - 10.250.0.4/32\n"));
	edit_ok(f, subst(f->text, "          path: \"/api/.*\"\n",
			 "          path: \"/api/.*\"\n        - method: POST\n          path: \"/upload\"\n"));
	edit_rejected(f, subst(f->text, "\"10002\"", "\"70000\""));
	edit_rejected(f, subst(f->text, "app: db", "app: [db]"));
	edit_rejected(f, subst(f->text, "path: \"/upload\"", "path: \"/up(load\""));
	edit_rejected(f, subst(f->text, "    - 10.250.0.3/32\n", "    - 10.250.0.300/32\n"));
	edit_rejected(f, subst(f->text, "      - port: \"10002\"\n", "      - port: \"10002\"\n        bogus: 1\n"));
	/* the one in force is unchanged by the rejections, and still edits */
	edit_ok(f, subst(f->text, "\"10002\"", "\"10003\""));
}

static void test_specs_path(void **state)
{
	struct fixture *f = *state;
	char *text = subst(base, "spec:\n  endpointSelector:",
			   "specs:\n- endpointSelector:\n    matchLabels:\n      app: db\n"
			   "  ingress:\n  - {}\n- endpointSelector:");

	/* indentation of the second spec stays as it is: YAML allows it */
	sluice_policy_set_free(&f->set);
	free(f->text);
	f->text = text;
	load_ok(&f->set, f->text);
	edit_ok(f, subst(f->text, "\"10001\"", "\"10011\""));
	edit_rejected(f, subst(f->text, "\"10011\"", "\"-1\""));
}

static void test_declined(void **state)
{
	struct fixture *f = *state;

	/* a new item, an item gone, two items, metadata, the selector */
	edit_declined(f, subst(f->text, "  egress:\n",
			       "  - fromCIDR:\n    - 10.250.0.9/32\n  egress:\n"));
	edit_declined(f, subst(f->text, "  - fromCIDR:\n    - 10.250.0.2/32\n    toPorts:\n    - ports:\n"
				       "      - port: \"10002\"\n        protocol: TCP\n", ""));
	{
		char *t = subst(f->text, "\"10001\"", "\"1\"");
		char *t2 = subst(t, "\"10002\"", "\"2\"");

		free(t);
		edit_declined(f, t2);
	}
	edit_declined(f, subst(f->text, "name: edits", "name: other"));
	edit_declined(f, subst(f->text, "      app: web\n", "      app: web2\n"));
	/* a change that swallows the next item's line into this one (found by
	 * fuzz_policy_edit): parsed alone, the item would look fine */
	edit_declined(f, subst(f->text, "\"10001\"\n        protocol: TCP\n", "\"10009\"\n        protocol: TCPJ"));
	/* a change inside the item that also moves the next item's "- " one
	 * column left (found by fuzz_policy_edit) */
	edit_declined(f, subst(f->text, "        protocol: TCP\n  - fromCIDR:\n    - 10.250.0.2/32",
			       "        protocol:  TCP\n - fromCIDR:\n    - 10.250.0.2/32"));
	/* an anchor in the item, a dedent that ends the list inside the item */
	edit_declined(f, subst(f->text, "    - 10.250.0.1/32\n", "    - &a 10.250.0.1/32\n"));
	edit_declined(f, subst(f->text, "    toPorts:\n    - ports:\n      - port: \"10001\"",
			       "  egressDeny: []\n    toPorts:\n    - ports:\n      - port: \"10001\""));
}

/* the policy as the agent keeps a Kubernetes object's text: JSON, as
 * jansson indents it (agent/k8s_policies.c) */
static const char json_base[] =
	"{\n"
	"  \"apiVersion\": \"cilium.io/v2\",\n"
	"  \"kind\": \"CiliumNetworkPolicy\",\n"
	"  \"metadata\": {\n"
	"    \"name\": \"edits\",\n"
	"    \"namespace\": \"default\"\n"
	"  },\n"
	"  \"spec\": {\n"
	"    \"endpointSelector\": {\n"
	"      \"matchLabels\": {\n"
	"        \"app\": \"web\"\n"
	"      }\n"
	"    },\n"
	"    \"ingress\": [\n"
	"      {\n"
	"        \"fromEndpoints\": [\n"
	"          {\n"
	"            \"matchLabels\": {\n"
	"              \"app\": \"client\"\n"
	"            }\n"
	"          }\n"
	"        ],\n"
	"        \"toPorts\": [\n"
	"          {\n"
	"            \"ports\": [\n"
	"              {\n"
	"                \"port\": \"80\",\n"
	"                \"protocol\": \"TCP\"\n"
	"              }\n"
	"            ],\n"
	"            \"rules\": {\n"
	"              \"http\": [\n"
	"                {\n"
	"                  \"method\": \"GET\",\n"
	"                  \"path\": \"/api/.*\"\n"
	"                }\n"
	"              ]\n"
	"            }\n"
	"          }\n"
	"        ]\n"
	"      },\n"
	"      {\n"
	"        \"fromCIDR\": [\n"
	"          \"10.250.0.1/32\"\n"
	"        ],\n"
	"        \"toPorts\": [\n"
	"          {\n"
	"            \"ports\": [\n"
	"              {\n"
	"                \"port\": \"10001\",\n"
	"                \"protocol\": \"TCP\"\n"
	"              }\n"
	"            ]\n"
	"          }\n"
	"        ]\n"
	"      },\n"
	"      {\n"
	"        \"fromCIDR\": [\n"
	"          \"10.250.0.2/32\"\n"
	"        ],\n"
	"        \"toPorts\": [\n"
	"          {\n"
	"            \"ports\": [\n"
	"              {\n"
	"                \"port\": \"10002\",\n"
	"                \"protocol\": \"TCP\"\n"
	"              }\n"
	"            ]\n"
	"          }\n"
	"        ]\n"
	"      }\n"
	"    ],\n"
	"    \"egress\": [\n"
	"      {\n"
	"        \"toEndpoints\": [\n"
	"          {\n"
	"            \"matchLabels\": {\n"
	"              \"app\": \"db\"\n"
	"            }\n"
	"          }\n"
	"        ],\n"
	"        \"toPorts\": [\n"
	"          {\n"
	"            \"ports\": [\n"
	"              {\n"
	"                \"port\": \"5432\",\n"
	"                \"protocol\": \"TCP\"\n"
	"              }\n"
	"            ]\n"
	"          }\n"
	"        ]\n"
	"      }\n"
	"    ]\n"
	"  }\n"
	"}\n";

/* a policy in force loaded from text */
static void fixture_text(struct fixture *f, char *text)
{
	sluice_policy_set_free(&f->set);
	free(f->text);
	f->text = text;
	load_ok(&f->set, f->text);
}

/* flow mappings: JSON items edited one at a time, as a block list's */
static void test_json(void **state)
{
	struct fixture *f = *state;

	fixture_text(f, strdup(json_base));
	edit_ok(f, subst(f->text, "\"10001\"", "\"9000\""));
	edit_ok(f, subst(f->text, "\"10.250.0.2/32\"", "\"10.250.7.0/24\""));
	/* lines added inside an item move what follows */
	edit_ok(f, subst(f->text, "\"10.250.0.1/32\"\n", "\"10.250.0.1/32\",\n\"10.250.0.3/32\",\n\"10.250.0.4/32\"\n"));
	edit_rejected(f, subst(f->text, "\"10002\"", "\"70000\""));
	edit_rejected(f, subst(f->text, "\"10.250.0.3/32\"", "\"10.250.0.300/32\""));
	edit_ok(f, subst(f->text, "\"5432\"", "\"5433\""));
	/* the HTTP rule's item too (compiled whole by the caller) */
	edit_ok(f, subst(f->text, "\"/api/.*\"", "\"/v2/.*\""));
	/* two items; the comma between two items; a change that closes the
	 * item early and opens another inside it: parsed alone it is no
	 * longer one mapping */
	{
		char *t = subst(f->text, "\"9000\"", "\"1\"");
		char *t2 = subst(t, "\"10.250.7.0/24\"", "\"10.250.8.0/24\"");

		free(t);
		edit_declined(f, t2);
	}
	edit_declined(f, subst(f->text, "      },\n      {\n        \"fromCIDR\": [\n          \"10.250.7.0/24\"",
			       "      }\n      {\n        \"fromCIDR\": [\n          \"10.250.7.0/24\""));
	edit_declined(f, subst(f->text, "\"port\": \"9000\"", "\"port\": \"9000\"}]}]}, {\"toPorts\": [{\"ports\": [{\"x\": \"1\""));
	/* the policy in force still edits */
	edit_ok(f, subst(f->text, "\"9000\"", "\"9001\""));

	/* a flow mapping as an item of a block list */
	fixture_text(f, subst(base, "  - fromCIDR:\n    - 10.250.0.2/32\n    toPorts:\n    - ports:\n"
				    "      - port: \"10002\"\n        protocol: TCP\n",
			      "  - {fromCIDR: [10.250.0.2/32], toPorts: [{ports: [{port: \"10002\", protocol: TCP}]}]}\n"));
	edit_ok(f, subst(f->text, "\"10002\"", "\"10012\""));
	edit_rejected(f, subst(f->text, "\"10012\"", "\"-3\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spans_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_specs_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_declined, setup, teardown),
		cmocka_unit_test(test_non_ascii),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
