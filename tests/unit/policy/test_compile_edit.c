// SPDX-License-Identifier: Apache-2.0
/*
 * test_compile_edit.c - sluice_policy_compile_edit(): after one item of a
 * policy changed, updating the previous result must give exactly what a
 * whole compile gives: every entry, every L7 entry, every CIDR identity
 * and its number. The policies are built so that the edited identities
 * meet the hard cases: a covering /16, a deny, an L7 rule for any peer on
 * a port, a world entity in another endpoint's policy (new and vanishing
 * CIDR identities), a prefix still named elsewhere, nested prefixes, the
 * namespace entity (the pods of the subject's namespace) beside the
 * edited items. Each edit follows the previous one's result, as the
 * agent's do, so the item index an edit carries on is checked too.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char web_policy[] =
	"apiVersion: cilium.io/v2\n"
	"kind: CiliumNetworkPolicy\n"
	"metadata: {name: web, namespace: default}\n"
	"spec:\n"
	"  endpointSelector: {matchLabels: {app: web}}\n"
	"  ingress:\n"
	"  - fromCIDR: [10.1.0.0/16]\n"
	"    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n"
	"  - fromCIDR: [10.1.2.3/32]\n"
	"    toPorts: [{ports: [{port: \"81\", protocol: TCP}]}]\n"
	"  - fromCIDR: [10.2.0.1/32]\n"
	"    toPorts: [{ports: [{port: \"82\", protocol: TCP}]}]\n"
	"  - toPorts:\n"
	"    - ports: [{port: \"8080\", protocol: TCP}]\n"
	"      rules: {http: [{method: GET}]}\n"
	"  - fromEntities: [cluster]\n"
	"    toPorts: [{ports: [{port: \"7070\", protocol: TCP}]}]\n"
	"  - fromEntities: [namespace]\n"
	"    toPorts: [{ports: [{port: \"6060\", protocol: TCP}]}]\n"
	"  ingressDeny:\n"
	"  - fromCIDR: [10.3.0.0/24]\n"
	"    toPorts: [{ports: [{port: \"83\", protocol: TCP}]}]\n"
	"  egress:\n"
	"  - toCIDR: [192.168.0.1/32]\n"
	"    toPorts: [{ports: [{port: \"53\", protocol: UDP}]}]\n";

static const char db_policy[] =
	"apiVersion: cilium.io/v2\n"
	"kind: CiliumNetworkPolicy\n"
	"metadata: {name: db, namespace: default}\n"
	"spec:\n"
	"  endpointSelector: {matchLabels: {app: db}}\n"
	"  ingress:\n"
	"  - fromCIDR: [10.1.2.3/32]\n"
	"  egress:\n"
	"  - toEntities: [world]\n"
	"    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n";

/* any peer of the cluster, through the proxy (a wildcard selector is ANY) */
static const char cluster_policy[] =
	"apiVersion: cilium.io/v2\n"
	"kind: CiliumClusterwideNetworkPolicy\n"
	"metadata: {name: everyone}\n"
	"spec:\n"
	"  endpointSelector: {matchLabels: {app: web}}\n"
	"  ingress:\n"
	"  - fromEndpoints: [{}]\n"
	"    toPorts:\n"
	"    - ports: [{port: \"9090\", protocol: TCP}]\n"
	"      rules: {http: [{path: \"/public/.*\"}]}\n";

struct fixture {
	struct sluice_identity_table *idt;
	struct sluice_compile_endpoint eps[3];
	char *text; /* web_policy as edited so far */
	struct sluice_policy_set set;
	struct sluice_compiled prev;
};

static void compile_all(struct fixture *f, struct sluice_compiled *out)
{
	struct sluice_diags e = { 0 };

	assert_int_equal(sluice_policy_compile(&f->set, f->idt, f->eps, 3, out, &e), 0);
	sluice_diags_free(&e);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->idt = sluice_idt_new();
	f->eps[0] = (struct sluice_compile_endpoint){ .ep_id = 1, .identity = pod_identity(f->idt, "app=web"),
						      .namespace = "default" };
	f->eps[1] = (struct sluice_compile_endpoint){ .ep_id = 2, .identity = pod_identity(f->idt, "app=db,tier=back"),
						      .namespace = "default" };
	f->eps[2] = (struct sluice_compile_endpoint){ .ep_id = 3, .identity = pod_identity(f->idt, "app=other,tier=back"),
						      .namespace = "default" };
	f->text = strdup(web_policy);
	load_ok(&f->set, f->text);
	load_ok(&f->set, db_policy);
	load_ok(&f->set, cluster_policy);
	compile_all(f, &f->prev);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sluice_compiled_free(&f->prev);
	sluice_policy_set_free(&f->set);
	sluice_idt_free(f->idt);
	free(f->text);
	free(f);
	return 0;
}

/* edits the web policy into new_text; want: whether compile_edit handles it
 * (1) or declines it to a whole compile (0) */
static void edit(struct fixture *f, char *new_text, int want)
{
	struct sluice_diags e = { 0 }, w = { 0 };
	struct sluice_policy_edit ed;
	struct sluice_compiled inc = { 0 }, whole = { 0 };
	bool handled;
	int rc;

	assert_int_equal(sluice_policy_edit_prepare(&f->set.v[0], "web.yaml", f->text, strlen(f->text),
						    new_text, strlen(new_text), &ed, &e, &w),
			 1);
	sluice_policy_edit_swap(&f->set.v[0], &ed);
	rc = sluice_policy_compile_edit(&f->set, f->idt, f->eps, 3, &f->prev, 0, ed.rule, ed.section,
					ed.index, &ed.item, &inc, &handled, &e);
	assert_int_equal(rc, 0);
	assert_int_equal(handled, want);
	compile_all(f, &whole);
	sluice_compiled_free(&f->prev);
	if (handled) {
		/* the next edit follows this one's result, as the agent's do:
		 * it carries the item index (compile_items.c) on */
		assert_compiled_same(&inc, &whole);
		assert_non_null(inc.items);
		sluice_compiled_free(&whole);
		f->prev = inc;
	} else {
		f->prev = whole;
	}
	sluice_policy_edit_free(&ed);
	sluice_diags_free(&e);
	sluice_diags_free(&w);
	free(f->text);
	f->text = new_text;
}

static bool has_identity_entry(const struct sluice_ep_compiled *ep, uint32_t id, uint16_t port)
{
	for (size_t i = 0; i < ep->nentries; i++)
		if (ntohl(ep->entries[i].key.identity_be) == id && ntohs(ep->entries[i].key.dport_be) == port)
			return true;
	return false;
}

static void test_port_change(void **state)
{
	struct fixture *f = *state;

	edit(f, subst(f->text, "\"82\"", "\"84\""), 1);
	edit(f, subst(f->text, "\"84\"", "\"82\""), 1);
	/* onto the port that any peer reaches through the proxy */
	edit(f, subst(f->text, "\"82\"", "\"8080\""), 1);
	edit(f, subst(f->text, "port: \"83\"", "port: \"80\""), 1); /* the deny */
	edit(f, subst(f->text, "\"53\", protocol: UDP", "\"5353\", protocol: UDP"), 1); /* egress */
	/* onto the port every peer reaches through the proxy (clusterwide) */
	edit(f, subst(f->text, "\"8080\", protocol: TCP}]}]\n  - toPorts", "\"9090\", protocol: TCP}]}]\n  - toPorts"), 1);
}

/* an identity with entries in both directions: an ingress edit replaces
 * its ingress entries and keeps its egress ones (and the other way) */
static void test_both_directions(void **state)
{
	struct fixture *f = *state;

	edit(f, subst(f->text, "toCIDR: [192.168.0.1/32]", "toCIDR: [10.2.0.1/32]"), 1);
	edit(f, subst(f->text, "\"82\"", "\"84\""), 1);
	edit(f, subst(f->text, "\"53\", protocol: UDP", "\"5353\", protocol: UDP"), 1);
	edit(f, subst(f->text, "\"84\"", "\"82\""), 1);
}

static void test_prefix_change(void **state)
{
	struct fixture *f = *state;
	size_t n0 = f->prev.ncidrs;
	uint32_t db_world = 0;

	/* a new prefix (the old one is named nowhere else): the db pod's
	 * world egress must follow the identity that comes and the one that goes */
	edit(f, subst(f->text, "10.2.0.1/32", "10.2.0.9/32"), 1);
	assert_int_equal(f->prev.ncidrs, n0);
	for (size_t i = 0; i < f->prev.ncidrs; i++)
		if (f->prev.cidrs[i].addr[12] == 10 && f->prev.cidrs[i].addr[13] == 2)
			db_world = f->prev.cidrs[i].identity;
	assert_true(db_world != 0);
	assert_true(has_identity_entry(&f->prev.eps[1], db_world, 443));
	/* 10.1.2.3 stays named by the db policy; 10.1.2.4 lies in the /16 */
	edit(f, subst(f->text, "10.1.2.3/32", "10.1.2.4/32"), 1);
	assert_int_equal(f->prev.ncidrs, n0 + 1);
	/* a prefix that holds others, and back */
	edit(f, subst(f->text, "10.2.0.9/32", "10.0.0.0/8"), 1);
	edit(f, subst(f->text, "10.0.0.0/8", "10.2.0.1/32"), 1);
	/* the deny's prefix */
	edit(f, subst(f->text, "10.3.0.0/24", "10.1.2.0/24"), 1);
	/* two prefixes in one item */
	edit(f, subst(f->text, "[10.2.0.1/32]", "[10.2.0.1/32, 10.2.0.2/32]"), 1);
	/* and one of them named nowhere any more: its identity goes */
	edit(f, subst(f->text, "[10.2.0.1/32, 10.2.0.2/32]", "[10.2.0.1/32]"), 1);
}

/* items with label selectors: the pod identities they pick are recompiled */
static void test_selector_change(void **state)
{
	struct fixture *f = *state;

	edit(f, subst(f->text, "  - fromCIDR: [10.2.0.1/32]\n", "  - fromEndpoints: [{matchLabels: {app: other}}]\n"), 1);
	edit(f, subst(f->text, "{app: other}", "{app: db}"), 1);
	edit(f, subst(f->text, "{app: db}", "{tier: back}"), 1); /* two identities */
	/* onto the port the cluster entity opens, and onto the proxy's port */
	edit(f, subst(f->text, "[{port: \"82\", protocol: TCP}]", "[{port: \"7070\", protocol: TCP}]"), 1);
	edit(f, subst(f->text, "[{port: \"7070\", protocol: TCP}]}]\n  - toPorts", "[{port: \"8080\", protocol: TCP}]}]\n  - toPorts"), 1);
	/* a selector onto CIDRs, two CIDRs, and back to one (a selector and
	 * CIDRs in one item are refused, as Cilium refuses them) */
	edit(f, subst(f->text, "  - fromEndpoints: [{matchLabels: {tier: back}}]\n",
		      "  - fromCIDR: [10.2.0.5/32, 10.2.0.6/32]\n"), 1);
	edit(f, subst(f->text, "[10.2.0.5/32, 10.2.0.6/32]", "[10.2.0.5/32]"), 1);
	/* the egress item: a selector on a named peer */
	edit(f, subst(f->text, "  - toCIDR: [192.168.0.1/32]\n", "  - toEndpoints: [{matchLabels: {app: db}}]\n"), 1);
}

/* An API server outside the cluster has a CIDR identity whatever the
 * policies name: an edit that names its /32 (or stops naming it) is a
 * whole compile; one whose prefix covers it recompiles it, flag and all. */
static void test_apiserver_outside(void **state)
{
	struct fixture *f = *state;
	const uint32_t ext = 0x0a020007; /* 10.2.0.7 */

	assert_int_equal(sluice_idt_set_apiservers_external(f->idt, &ext, 1), 0);
	sluice_compiled_free(&f->prev);
	compile_all(f, &f->prev);
	edit(f, subst(f->text, "\"82\"", "\"84\""), 1);
	edit(f, subst(f->text, "10.2.0.1/32", "10.2.0.7/32"), 0);
	edit(f, subst(f->text, "10.2.0.7/32", "10.2.0.0/24"), 0);
	edit(f, subst(f->text, "10.2.0.0/24", "10.2.0.0/16"), 1);
	edit(f, subst(f->text, "10.2.0.0/16", "10.2.0.1/32"), 1);
	assert_int_equal(sluice_idt_set_apiservers_external(f->idt, NULL, 0), 0);
}

static void test_not_handled(void **state)
{
	struct fixture *f = *state;

	/* an item with http rules, an item with entities: whole compile */
	edit(f, subst(f->text, "{method: GET}", "{method: POST}"), 0);
	edit(f, subst(f->text, "  - fromCIDR: [10.2.0.1/32]\n", "  - fromEntities: [host]\n"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_port_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_directions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selector_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apiserver_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_handled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
