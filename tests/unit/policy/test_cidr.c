// SPDX-License-Identifier: Apache-2.0
/*
 * test_cidr.c - CIDR identities: every prefix a policy names gets one,
 * stable across recompiles; a CIDR peer selects the identities of the
 * prefixes inside it and not inside an except; world covers them all; a
 * Kubernetes ipBlock also selects local pods by address, Cilium's
 * fromCIDR does not.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#define IN SLUICE_DIR_INGRESS
#define EG SLUICE_DIR_EGRESS

struct world {
	struct sluice_identity_table *idt;
	uint32_t web, a, b, c;
	struct sluice_compile_endpoint eps[8];
	size_t neps;
	struct sluice_policy_set set;
	struct sluice_compiled out;
};

static uint32_t pod(struct world *w, const char *ns, const char *labels)
{
	struct sluice_labels l = { 0 }, id = { 0 };
	uint32_t r;

	assert_int_equal(sluice_labels_parse(&l, labels, "k8s", NULL), 0);
	assert_int_equal(sluice_pod_identity_labels(&id, ns, &l, NULL), 0);
	r = sluice_idt_acquire(w->idt, &id);
	sluice_labels_free(&l);
	sluice_labels_free(&id);
	return r;
}

static void ep(struct world *w, uint32_t identity, const char *ip)
{
	struct sluice_compile_endpoint *e = &w->eps[w->neps];

	memset(e, 0, sizeof(*e));
	e->ep_id = (uint32_t)++w->neps;
	e->identity = identity;
	e->namespace = "shop";
	if (ip) {
		e->addr[10] = e->addr[11] = 0xff;
		assert_int_equal(inet_pton(AF_INET, ip, &e->addr[12]), 1);
	}
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	w->idt = sluice_idt_new();
	w->web = pod(w, "shop", "app=web");
	w->a = pod(w, "shop", "app=a");
	w->b = pod(w, "shop", "app=b");
	w->c = pod(w, "shop", "app=c");
	ep(w, w->web, "10.244.0.2");
	ep(w, w->a, "10.244.0.5");
	ep(w, w->b, "10.244.1.7");
	ep(w, w->c, NULL); /* address not known */
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	sluice_compiled_free(&w->out);
	sluice_policy_set_free(&w->set);
	sluice_idt_free(w->idt);
	free(w);
	return 0;
}

static const struct sluice_ep_compiled *compile(struct world *w, const char *yaml)
{
	struct sluice_diags errs = { 0 };

	sluice_compiled_free(&w->out);
	sluice_policy_set_free(&w->set);
	load_ok(&w->set, yaml);
	assert_int_equal(sluice_policy_compile(&w->set, w->idt, w->eps, w->neps, &w->out, &errs), 0);
	assert_int_equal(errs.n, 0);
	return &w->out.eps[0];
}

static bool has(const struct sluice_ep_compiled *e, uint8_t dir, uint32_t id, bool deny)
{
	for (size_t i = 0; i < e->nentries; i++) {
		const struct sluice_policy_map_entry *m = &e->entries[i];

		if (m->key.direction == dir && ntohl(m->key.identity_be) == id &&
		    !!(m->value.flags & SLUICE_POL_F_DENY) == deny)
			return true;
	}
	return false;
}

/* identity of the compiled prefix text/len, 0 when absent */
static uint32_t cidr_id(const struct world *w, const char *text)
{
	struct sluice_labels want = { 0 };
	uint32_t id = 0;

	assert_int_equal(sluice_labels_add(&want, "cidr", text, ""), 0);
	assert_int_equal(sluice_labels_add(&want, "reserved", "world", ""), 0);
	for (size_t i = 0; i < w->out.ncidrs; i++) {
		const struct sluice_labels *l = sluice_idt_labels(w->idt, w->out.cidrs[i].identity);

		assert_non_null(l);
		if (sluice_labels_equal(l, &want))
			id = w->out.cidrs[i].identity;
	}
	sluice_labels_free(&want);
	return id;
}

#define CNP "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
#define NP "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: shop}\n"

static void test_cidr_identities(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e = compile(w, CNP
		"spec:\n"
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  egress:\n"
		"  - toCIDR: [10.0.0.0/8]\n"
		"  - toCIDRSet: [{cidr: 192.168.0.0/16, except: [192.168.1.0/24]}]\n"
		"  ingressDeny:\n"
		"  - fromCIDR: [172.16.0.0/12, \"2001:db8::/32\"]\n");
	uint32_t ten = cidr_id(w, "10.0.0.0/8"), c192 = cidr_id(w, "192.168.0.0/16");
	uint32_t ex = cidr_id(w, "192.168.1.0/24"), c172 = cidr_id(w, "172.16.0.0/12");
	uint32_t v6 = cidr_id(w, "2001-db8--/32");

	/* one identity per prefix, excepts included, sorted by address */
	assert_int_equal(w->out.ncidrs, 5);
	for (size_t i = 0; i < w->out.ncidrs; i++)
		assert_true(w->out.cidrs[i].identity >= SLUICE_ID_LOCAL_MIN);
	assert_true(ten && c192 && ex && c172 && v6);
	assert_int_equal(w->out.cidrs[0].prefixlen, 96 + 8); /* ::ffff:10.0.0.0 first */
	assert_int_equal(w->out.cidrs[0].addr[12], 10);
	assert_int_equal(w->out.cidrs[0].identity, ten);
	assert_int_equal(w->out.cidrs[4].prefixlen, 32); /* 2001:db8::/32 last */
	assert_int_equal(w->out.cidrs[4].identity, v6);
	/* the except is not allowed, and world is not named at all */
	assert_true(has(e, EG, ten, false));
	assert_true(has(e, EG, c192, false));
	assert_false(has(e, EG, ex, false));
	assert_false(has(e, EG, SLUICE_ID_WORLD, false));
	assert_int_equal(count_dir(e, EG), 2);
	/* a CIDR deny denies that prefix only (no more "all of world") */
	assert_true(has(e, IN, c172, true));
	assert_true(has(e, IN, v6, true));
	assert_false(has(e, IN, SLUICE_ID_WORLD, true));
	/* fromCIDR never selects managed pods, even when their address is inside */
	compile(w, CNP
		"spec:\n"
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress: [{fromCIDR: [10.244.0.0/16]}]\n");
	assert_int_equal(count_dir(&w->out.eps[0], IN), 1);
	assert_true(has(&w->out.eps[0], IN, cidr_id(w, "10.244.0.0/16"), false));
}

static void test_stable_across_recompiles(void **state)
{
	struct world *w = *state;
	uint32_t ten, c192, again;

	compile(w, CNP "spec:\n  endpointSelector: {}\n  egress: [{toCIDR: [10.0.0.0/8, 192.168.0.0/16]}]\n");
	ten = cidr_id(w, "10.0.0.0/8");
	c192 = cidr_id(w, "192.168.0.0/16");
	assert_int_equal(sluice_idt_refcount(w->idt, ten), 1);
	/* the same set again: same numbers, still held once */
	compile(w, CNP "spec:\n  endpointSelector: {}\n  egress: [{toCIDR: [10.0.0.0/8, 192.168.0.0/16]}]\n");
	assert_int_equal(cidr_id(w, "10.0.0.0/8"), ten);
	assert_int_equal(cidr_id(w, "192.168.0.0/16"), c192);
	assert_int_equal(sluice_idt_refcount(w->idt, ten), 1);
	/* a prefix added: the others keep theirs; one dropped: released */
	compile(w, CNP "spec:\n  endpointSelector: {}\n  egress: [{toCIDR: [10.0.0.0/8, 10.1.0.0/16]}]\n");
	assert_int_equal(cidr_id(w, "10.0.0.0/8"), ten);
	assert_int_equal(w->out.ncidrs, 2);
	assert_null(sluice_idt_labels(w->idt, c192));
	/* named again: its old number comes back */
	compile(w, CNP "spec:\n  endpointSelector: {}\n  egress: [{toCIDR: [192.168.0.0/16]}]\n");
	again = cidr_id(w, "192.168.0.0/16");
	assert_int_equal(again, c192);
	/* pods never get numbers from the CIDR range */
	assert_true(pod(w, "shop", "app=new") < SLUICE_ID_LOCAL_MIN);
	/* no CIDR named: none left */
	compile(w, CNP "spec:\n  endpointSelector: {}\n  egress: [{toEntities: [world]}]\n");
	assert_int_equal(w->out.ncidrs, 0);
	assert_null(sluice_idt_labels(w->idt, again));
}

/* an agent restart restores CIDR identities: the compiler takes them over */
static void test_restored_cidr_identity(void **state)
{
	struct world *w = *state;
	struct sluice_labels l = { 0 }, pod_l = { 0 };

	assert_int_equal(sluice_labels_add(&l, "cidr", "10.0.0.0/8", ""), 0);
	assert_int_equal(sluice_labels_add(&l, "reserved", "world", ""), 0);
	assert_int_equal(sluice_labels_add(&pod_l, "k8s", "app", "x"), 0);
	/* CIDR labels only in the CIDR range, pod labels never there */
	assert_int_equal(sluice_idt_restore(w->idt, 300, &l), -22);
	assert_int_equal(sluice_idt_restore(w->idt, SLUICE_ID_LOCAL_MIN + 1, &pod_l), -22);
	assert_int_equal(sluice_idt_restore(w->idt, SLUICE_ID_LOCAL_MIN + 7, &l), 0);
	compile(w, CNP "spec:\n  endpointSelector: {}\n  egress: [{toCIDR: [10.0.0.0/8, 11.0.0.0/8]}]\n");
	assert_int_equal(cidr_id(w, "10.0.0.0/8"), SLUICE_ID_LOCAL_MIN + 7);
	assert_int_equal(sluice_idt_refcount(w->idt, SLUICE_ID_LOCAL_MIN + 7), 1);
	assert_int_equal(cidr_id(w, "11.0.0.0/8"), SLUICE_ID_LOCAL_MIN); /* new: from the bottom */
	sluice_labels_free(&l);
	sluice_labels_free(&pod_l);
}

static void test_world_covers_cidrs(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;
	char y[2048];

	snprintf(y, sizeof(y), "%s%s---\n%s%s", CNP,
		 "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  egress: [{toEntities: [world]}]\n",
		 "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: q, namespace: shop}\n",
		 "spec:\n  endpointSelector: {matchLabels: {app: a}}\n"
		 "  egressDeny: [{toCIDRSet: [{cidr: 0.0.0.0/0, except: [10.0.0.0/8]}]}]\n"
		 "  egress: [{toCIDR: [10.1.0.0/16]}]\n");
	e = compile(w, y);
	/* web: world is the reserved identity and every CIDR identity */
	assert_true(has(e, EG, SLUICE_ID_WORLD, false));
	assert_true(has(e, EG, cidr_id(w, "10.0.0.0/8"), false));
	assert_true(has(e, EG, cidr_id(w, "10.1.0.0/16"), false));
	assert_int_equal(count_dir(e, EG), 3);
	/* a: 0.0.0.0/0 except 10/8 denies world, not 10/8 nor what lies inside */
	e = &w->out.eps[1];
	assert_true(has(e, EG, SLUICE_ID_WORLD, true));
	assert_false(has(e, EG, cidr_id(w, "10.0.0.0/8"), true));
	assert_true(has(e, EG, cidr_id(w, "10.1.0.0/16"), false));
}

static size_t count_id(const struct sluice_ep_compiled *e, uint8_t dir, uint32_t id)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nentries; i++)
		n += e->entries[i].key.direction == dir && ntohl(e->entries[i].key.identity_be) == id;
	return n;
}

/* label selectors reach CIDR identities by their labels, as in Cilium (the
 * compiler leaves them out of its label index unless a selector asks) */
static void test_selectors_pick_cidr_identities(void **state)
{
	struct world *w = *state;
	const char *ccnp = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
			   "metadata: {name: c}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n"
			   "  ingress:\n  - fromCIDR: [10.9.0.0/16]\n"
			   "    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n"
			   "  - fromEndpoints: [{matchLabels: {%s: \"\"}}]\n"
			   "    toPorts: [{ports: [{port: \"81\", protocol: TCP}]}]\n";
	const char *keys[] = { "\"reserved:world\"", "app" };
	size_t want[] = { 2, 1 };

	for (size_t i = 0; i < 2; i++) {
		char yaml[1024];
		const struct sluice_ep_compiled *e;

		snprintf(yaml, sizeof(yaml), ccnp, keys[i]);
		e = compile(w, yaml);
		assert_int_equal(count_id(e, IN, cidr_id(w, "10.9.0.0/16")), want[i]);
	}
}

static void test_ipblock_selects_pods(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e = compile(w, NP
		"spec:\n"
		"  podSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - from: [{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.1.0/24]}}]\n");

	/* a (10.244.0.5) is inside; b (10.244.1.7) is in the except; c has no
	 * known address; web itself (10.244.0.2) is inside too */
	assert_true(has(e, IN, w->a, false));
	assert_true(has(e, IN, w->web, false));
	assert_false(has(e, IN, w->b, false));
	assert_false(has(e, IN, w->c, false));
	assert_true(has(e, IN, cidr_id(w, "10.244.0.0/16"), false));
	assert_false(has(e, IN, cidr_id(w, "10.244.1.0/24"), false));
	assert_int_equal(count_dir(e, IN), 3);

	/* a /32 block names one pod */
	e = compile(w, NP "spec:\n  podSelector: {matchLabels: {app: web}}\n"
		       "  ingress: [{from: [{ipBlock: {cidr: 10.244.1.7/32}}]}]\n");
	assert_true(has(e, IN, w->b, false));
	assert_false(has(e, IN, w->a, false));

	/* 0.0.0.0/0: world, and every pod with a known address */
	e = compile(w, NP "spec:\n  podSelector: {matchLabels: {app: web}}\n"
		       "  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]\n");
	assert_true(has(e, IN, SLUICE_ID_WORLD, false));
	assert_true(has(e, IN, w->a, false) && has(e, IN, w->b, false));
	assert_false(has(e, IN, w->c, false));
	assert_int_equal(w->out.ncidrs, 0);
}

static void test_ipblock_split_identity(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;

	/* a second pod with a's labels, outside the block */
	ep(w, w->a, "10.245.0.9");
	assert_int_equal(sluice_idt_acquire(w->idt, sluice_idt_labels(w->idt, w->a)), w->a);
	e = compile(w, NP "spec:\n  podSelector: {matchLabels: {app: web}}\n"
		       "  ingress: [{from: [{ipBlock: {cidr: 10.244.0.0/16}}]}]\n");
	/* split: not selected (fail closed, documented in compile_peers.c) */
	assert_false(has(e, IN, w->a, false));
	/* a block holding both selects it */
	e = compile(w, NP "spec:\n  podSelector: {matchLabels: {app: web}}\n"
		       "  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]\n");
	assert_true(has(e, IN, w->a, false));
}

/* pods of other nodes are peers only: selected by address, never compiled */
static void test_ipblock_remote_pods(void **state)
{
	struct world *w = *state;
	uint32_t remote = pod(w, "lab", "app=remote");
	const struct sluice_ep_compiled *e;

	ep(w, remote, "10.244.9.9");
	w->eps[w->neps - 1].peer_only = true;
	e = compile(w, NP "spec:\n  podSelector: {}\n"
		       "  ingress: [{from: [{ipBlock: {cidr: 10.244.8.0/22}}]}]\n");
	assert_int_equal(w->out.neps, 4); /* the local endpoints only */
	for (size_t i = 0; i < w->out.neps; i++)
		assert_int_not_equal(w->out.eps[i].ep_id, w->eps[w->neps - 1].ep_id);
	assert_true(has(e, IN, remote, false));
	assert_false(has(e, IN, w->a, false));
	/* a's identity on another node, outside the block: a stays unselected
	 * by a block holding only the local a */
	ep(w, w->a, "10.99.0.1");
	w->eps[w->neps - 1].peer_only = true;
	e = compile(w, NP "spec:\n  podSelector: {}\n"
		       "  ingress: [{from: [{ipBlock: {cidr: 10.244.0.0/24}}]}]\n");
	assert_false(has(e, IN, w->a, false));
	assert_true(has(e, IN, w->web, false));
}

static void test_ipblock_errors(void **state)
{
	(void)state;
	load_fails(NP "spec:\n  podSelector: {}\n"
		   "  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]\n",
		   "bad.yaml:6: spec.ingress[0].from[0].ipBlock.except[0]: \"11.0.0.0/16\" is not a strict subset of cidr \"10.0.0.0/8\"");
	load_fails(NP "spec:\n  podSelector: {}\n"
		   "  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]\n",
		   "bad.yaml:6: spec.ingress[0].from[0].ipBlock.except[0]: \"10.0.0.0/8\" is not a strict subset of cidr \"10.0.0.0/8\"");
	load_fails(NP "spec:\n  podSelector: {}\n  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/40}}]}]\n",
		   "bad.yaml:6: spec.egress[0].to[0].ipBlock.cidr: invalid CIDR \"10.0.0.0/40\"");
}

/* ---- CiliumCIDRGroup --------------------------------------------------- */

#define CCG(name, labels, cidrs) \
	"apiVersion: cilium.io/v2alpha1\nkind: CiliumCIDRGroup\nmetadata: {name: " name \
	", labels: {" labels "}}\nspec: {externalCIDRs: [" cidrs "]}\n---\n"

static const struct sluice_ep_compiled *compile_groups(struct world *w, const char *yaml)
{
	struct sluice_diags errs = { 0 };

	sluice_compiled_free(&w->out);
	sluice_policy_set_free(&w->set);
	load_ok(&w->set, yaml);
	sluice_policy_set_resolve_cidr_groups(&w->set);
	assert_int_equal(sluice_policy_compile(&w->set, w->idt, w->eps, w->neps, &w->out, &errs), 0);
	assert_int_equal(errs.n, 0);
	return &w->out.eps[0];
}

/* the CNP of the set (groups come first in these documents) */
static struct sluice_policy *cnp_of(struct world *w)
{
	for (size_t i = 0; i < w->set.n; i++)
		if (w->set.v[i].kind == SLUICE_KIND_CNP)
			return &w->set.v[i];
	fail();
	return NULL;
}

static void test_cidr_groups(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;
	struct sluice_peer_rule *pr;
	uint32_t ten, c192, ex;

	/* cilium-cli's client-egress-to-cidrgroup-deny: deny the group but one
	 * address, allow the world */
	e = compile_groups(w, CCG("ext", "destination: external", "10.0.0.0/8, 192.168.0.0/16")
		CNP "spec:\n"
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  egress: [{toEntities: [world]}]\n"
		"  egressDeny:\n"
		"  - toCIDRSet: [{cidrGroupRef: ext, except: [10.1.2.3/32]}]\n");
	ten = cidr_id(w, "10.0.0.0/8");
	c192 = cidr_id(w, "192.168.0.0/16");
	ex = cidr_id(w, "10.1.2.3/32");
	assert_true(ten && c192 && ex);
	assert_true(has(e, EG, ten, true));
	assert_true(has(e, EG, c192, true));
	assert_false(has(e, EG, ex, true));
	assert_true(has(e, EG, ex, false)); /* world's allow still reaches it */
	/* resolving again replaces, it does not add */
	pr = &cnp_of(w)->rules[0].egress_deny[0];
	assert_int_equal(pr->ncidrs, 2);
	assert_int_equal(pr->ngroup_cidrs, 2);
	assert_true(sluice_policy_set_resolve_cidr_groups(&w->set));
	assert_int_equal(pr->ncidrs, 2);
	assert_int_equal(pr->cidrs[0].nexcept, 1);
	assert_int_equal(pr->cidrs[1].nexcept, 0);

	/* by label (-by-label variant): the same; a group without the label is
	 * not named */
	e = compile_groups(w, CCG("ext", "destination: external", "10.0.0.0/8")
		CCG("other", "destination: internal", "172.16.0.0/12")
		CNP "spec:\n"
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  egress: [{toEntities: [world]}]\n"
		"  egressDeny:\n"
		"  - toCIDRSet: [{cidrGroupSelector: {matchLabels: {destination: external}},\n"
		"                 except: [10.1.2.3/32]}]\n");
	assert_true(has(e, EG, cidr_id(w, "10.0.0.0/8"), true));
	assert_false(has(e, EG, cidr_id(w, "10.1.2.3/32"), true));
	assert_int_equal(cidr_id(w, "172.16.0.0/12"), 0);
	e = compile_groups(w, CCG("ext", "destination: external", "10.0.0.0/8")
		CCG("other", "destination: internal", "172.16.0.0/12")
		CNP "spec:\n"
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress: [{fromCIDRSet: [{cidrGroupSelector: {matchExpressions:\n"
		"      [{key: destination, operator: In, values: [external, internal]}]}}]}]\n");
	assert_true(has(e, IN, cidr_id(w, "10.0.0.0/8"), false));
	assert_true(has(e, IN, cidr_id(w, "172.16.0.0/12"), false));
	assert_int_equal(count_dir(e, IN), 2);

	/* a group that does not exist names no address: the rule with ports
	 * allows nothing (it must not become an L4 rule for every peer) */
	e = compile_groups(w, CNP "spec:\n"
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  egress:\n"
		"  - toCIDRSet: [{cidrGroupRef: not-yet}]\n"
		"    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n");
	assert_true(cnp_of(w)->rules[0].egress[0].has_l3);
	assert_int_equal(count_dir(e, EG), 0);
	/* created: it allows */
	e = compile_groups(w, CCG("not-yet", "", "203.0.113.0/24")
		CNP "spec:\n"
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  egress:\n"
		"  - toCIDRSet: [{cidrGroupRef: not-yet}]\n"
		"    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n");
	assert_true(has(e, EG, cidr_id(w, "203.0.113.0/24"), false));
	assert_int_equal(count_dir(e, EG), 1);

	/* an except that holds a group's prefix removes it; the same prefix in
	 * two groups is named once */
	e = compile_groups(w, CCG("a", "", "10.1.0.0/16, 11.0.0.0/8")
		CCG("b", "", "11.0.0.0/8")
		CNP "spec:\n"
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress: [{fromCIDRSet: [{cidrGroupRef: a, except: [10.0.0.0/8]}, {cidrGroupRef: b}]}]\n");
	assert_int_equal(cidr_id(w, "10.1.0.0/16"), 0);
	assert_true(has(e, IN, cidr_id(w, "11.0.0.0/8"), false));
	assert_int_equal(count_dir(e, IN), 1);
}

static void test_cidr_group_errors(void **state)
{
	(void)state;
	load_fails(CNP "spec:\n  endpointSelector: {}\n"
		   "  egress: [{toCIDRSet: [{cidr: 10.0.0.0/8, cidrGroupRef: g}]}]\n",
		   "bad.yaml:6: spec.egress[0].toCIDRSet[0]: cidr, cidrGroupRef and cidrGroupSelector are exclusive: give one");
	load_fails(CNP "spec:\n  endpointSelector: {}\n"
		   "  egress: [{toCIDRSet: [{except: [10.0.0.0/8]}]}]\n",
		   "bad.yaml:6: spec.egress[0].toCIDRSet[0]: missing required field: one of cidr, cidrGroupRef or cidrGroupSelector");
	load_fails(CNP "spec:\n  endpointSelector: {}\n"
		   "  egress: [{toCIDRSet: [{cidrGroupRef: Bad_Name}]}]\n",
		   "bad.yaml:6: spec.egress[0].toCIDRSet[0].cidrGroupRef: invalid CiliumCIDRGroup name \"Bad_Name\" (want a DNS-1123 subdomain)");
	load_fails(CNP "spec:\n  endpointSelector: {}\n"
		   "  egress: [{toCIDRSet: [{cidrGroupRef: g, except: [10.0.0.0/33]}]}]\n",
		   "bad.yaml:6: spec.egress[0].toCIDRSet[0].except[0]: invalid CIDR \"10.0.0.0/33\"");
	load_fails("apiVersion: cilium.io/v2alpha1\nkind: CiliumCIDRGroup\nmetadata: {name: g}\n"
		   "spec:\n  externalCIDRs:\n  - 10.0.0.0/8\n  - 10.0.0/8\n",
		   "bad.yaml:7: spec.externalCIDRs[1]: invalid CIDR \"10.0.0/8\"");
	load_fails("apiVersion: cilium.io/v2alpha1\nkind: CiliumCIDRGroup\nmetadata: {name: g}\nspec: {}\n",
		   "bad.yaml:4: spec.externalCIDRs: missing required field");
	load_fails("apiVersion: cilium.io/v2alpha1\nkind: CiliumCIDRGroup\nmetadata: {name: g}\n"
		   "spec: {externalCIDRs: [], cidrs: []}\n",
		   "bad.yaml:4: spec.cidrs: unknown field");
	load_fails("apiVersion: cilium.io/v2alpha1\nkind: CiliumCIDRGroup\nmetadata: {name: g, namespace: x}\n"
		   "spec: {externalCIDRs: []}\n",
		   "bad.yaml:3: metadata.namespace: a CiliumCIDRGroup has no namespace");
	load_fails("apiVersion: cilium.io/v1\nkind: CiliumCIDRGroup\nmetadata: {name: g}\n"
		   "spec: {externalCIDRs: []}\n",
		   "bad.yaml:1: apiVersion: unsupported apiVersion \"cilium.io/v1\" for CiliumCIDRGroup (want cilium.io/v2alpha1 or cilium.io/v2)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cidr_identities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stable_across_recompiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restored_cidr_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_world_covers_cidrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selectors_pick_cidr_identities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipblock_selects_pods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipblock_split_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipblock_remote_pods, setup, teardown),
		cmocka_unit_test(test_ipblock_errors),
		cmocka_unit_test_setup_teardown(test_cidr_groups, setup, teardown),
		cmocka_unit_test(test_cidr_group_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
