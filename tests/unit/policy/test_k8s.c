// SPDX-License-Identifier: Apache-2.0
/* test_k8s.c - Kubernetes NetworkPolicy: decoding and compiled semantics. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#define IN SLUICE_DIR_INGRESS
#define EG SLUICE_DIR_EGRESS
#define NP "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: shop}\n"

struct world {
	struct sluice_identity_table *idt;
	uint32_t web, api, other_ns_api, prod_db;
	struct sluice_named_port web_ports[1];
	struct sluice_compile_endpoint eps[2];
	struct sluice_policy_set set;
	struct sluice_compiled out;
};

static uint32_t pod(struct world *w, const char *ns, const char *labels, const char *ns_labels)
{
	struct sluice_labels l = { 0 }, nl = { 0 }, id = { 0 };
	uint32_t r;

	assert_int_equal(sluice_labels_parse(&l, labels, "k8s", NULL), 0);
	assert_int_equal(sluice_labels_parse(&nl, ns_labels, "k8s", NULL), 0);
	assert_int_equal(sluice_pod_identity_labels(&id, ns, &l, &nl), 0);
	r = sluice_idt_acquire(w->idt, &id);
	sluice_labels_free(&l);
	sluice_labels_free(&nl);
	sluice_labels_free(&id);
	return r;
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	w->idt = sluice_idt_new();
	w->web = pod(w, "shop", "app=web", "kubernetes.io/metadata.name=shop");
	w->api = pod(w, "shop", "app=api", "kubernetes.io/metadata.name=shop");
	w->other_ns_api = pod(w, "lab", "app=api", "kubernetes.io/metadata.name=lab,env=dev");
	w->prod_db = pod(w, "data", "app=db", "kubernetes.io/metadata.name=data,env=prod");
	w->web_ports[0] = (struct sluice_named_port){ "http", 8080, IPPROTO_TCP };
	w->eps[0] = (struct sluice_compile_endpoint){
		.ep_id = 1, .identity = w->web, .namespace = "shop", .named_ports = w->web_ports, .nnamed_ports = 1 };
	w->eps[1] = (struct sluice_compile_endpoint){ .ep_id = 2, .identity = w->api, .namespace = "shop" };
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

static const struct sluice_ep_compiled *compile(struct world *w, const char *spec)
{
	char y[4096];

	snprintf(y, sizeof(y), NP "spec:\n%s", spec);
	sluice_compiled_free(&w->out);
	sluice_policy_set_free(&w->set);
	load_ok(&w->set, y);
	assert_int_equal(sluice_policy_compile(&w->set, w->idt, w->eps, 2, &w->out, NULL), 0);
	return &w->out.eps[0];
}

static const struct sluice_policy_entry *entry(const struct sluice_ep_compiled *e, uint8_t dir,
					       uint32_t id, uint8_t proto, uint8_t plen, uint16_t port)
{
	for (size_t i = 0; i < e->nentries; i++) {
		const struct sluice_policy_key *k = &e->entries[i].key;

		if (k->direction == dir && ntohl(k->identity_be) == id && k->protocol == proto &&
		    k->prefixlen == plen && ntohs(k->dport_be) == port)
			return &e->entries[i].value;
	}
	return NULL;
}

static void test_decode(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e = compile(w,
		"  podSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - from:\n"
		"    - podSelector: {matchLabels: {app: api}}\n"
		"    - namespaceSelector: {matchLabels: {env: prod}}\n"
		"      podSelector: {matchLabels: {app: db}}\n"
		"    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n"
		"    ports:\n"
		"    - port: 8080\n"
		"    - port: dns\n"
		"      protocol: UDP\n"
		"    - port: 9000\n"
		"      endPort: 9001\n");
	const struct sluice_policy *p = &w->set.v[0];
	const struct sluice_rule *r = &p->rules[0];

	assert_int_equal(p->kind, SLUICE_KIND_K8S);
	assert_string_equal(p->namespace, "shop");
	assert_true(r->has_ingress);
	assert_false(r->has_egress); /* policyTypes defaults to Ingress only */
	assert_int_equal(r->subject.nreqs, 2);
	assert_string_equal(r->subject.reqs[0].source, "k8s");
	const struct sluice_peer_rule *pr = &r->ingress[0];
	assert_true(pr->has_l3);
	assert_int_equal(pr->nendpoints, 2);
	assert_int_equal(pr->ncidrs, 1);
	assert_int_equal(pr->cidrs[0].nexcept, 1);
	assert_int_equal(pr->nto_ports, 1);
	assert_int_equal(pr->to_ports[0].nports, 3);
	assert_int_equal(pr->to_ports[0].ports[0].protocol, IPPROTO_TCP); /* default TCP */
	assert_string_equal(pr->to_ports[0].ports[1].name, "dns");
	assert_int_equal(pr->to_ports[0].ports[2].end_port, 9001);
	/* api of shop and db of a prod namespace; not api of another namespace */
	assert_non_null(entry(e, IN, w->api, IPPROTO_TCP, 64, 8080));
	assert_non_null(entry(e, IN, w->prod_db, IPPROTO_TCP, 64, 8080));
	assert_non_null(entry(e, IN, w->api, IPPROTO_TCP, 63, 9000));
	assert_null(entry(e, IN, w->other_ns_api, IPPROTO_TCP, 64, 8080));
	assert_null(entry(e, IN, w->api, IPPROTO_UDP, 64, 8080)); /* "dns" unresolved on web */
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS);
	assert_int_equal(w->out.eps[1].flags, 0); /* api is not selected */
}

static void test_empty_selector_and_namespace_selector(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e = compile(w,
		"  podSelector: {}\n"
		"  egress:\n"
		"  - to:\n"
		"    - namespaceSelector: {}\n"
		"  - to:\n"
		"    - namespaceSelector:\n"
		"        matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [shop]}]\n"
		"    ports: [{port: http}]\n");

	/* both pods of shop are selected, ingress and egress isolated */
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	assert_int_equal(w->out.eps[1].flags, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	/* namespaceSelector {}: every pod, no world */
	assert_non_null(entry(e, EG, w->prod_db, 0, 40, 0));
	assert_non_null(entry(e, EG, w->other_ns_api, 0, 40, 0));
	assert_non_null(entry(e, EG, w->web, 0, 40, 0));
	assert_null(entry(e, EG, SLUICE_ID_WORLD, 0, 40, 0));
	assert_null(entry(e, EG, 0, 0, 40, 0));
	/* ingress isolated with no rule: nothing allowed */
	size_t n_in = 0;
	for (size_t i = 0; i < e->nentries; i++)
		n_in += e->entries[i].key.direction == IN;
	assert_int_equal(n_in, 0);
	/* api (eps[1]) egress to web's named port "http" */
	assert_non_null(entry(&w->out.eps[1], EG, w->web, IPPROTO_TCP, 64, 8080));
}

static void test_allow_all_and_deny_all(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;

	/* ingress: [{}] allows everything */
	e = compile(w, "  podSelector: {matchLabels: {app: web}}\n  ingress: [{}]\n");
	assert_int_equal(e->nentries, 1);
	assert_int_equal(entry(e, IN, 0, 0, 40, 0)->match_kind, SLUICE_MATCH_ALL);
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS);

	/* ingress: [] (or none) denies everything */
	e = compile(w, "  podSelector: {matchLabels: {app: web}}\n  ingress: []\n");
	assert_int_equal(e->nentries, 0);
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS);

	/* policyTypes [Egress] with no egress: deny all egress, ingress untouched */
	e = compile(w, "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n"
		       "  ingress: [{}]\n");
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_EGRESS);
	assert_int_equal(e->nentries, 0);
	assert_int_equal(w->set.v[0].rules[0].ningress, 0);

	/* ports only: any peer on those ports */
	e = compile(w, "  podSelector: {matchLabels: {app: web}}\n"
		       "  ingress: [{ports: [{port: 80}, {protocol: UDP}]}]\n");
	assert_int_equal(entry(e, IN, 0, IPPROTO_TCP, 64, 80)->match_kind, SLUICE_MATCH_L4_ONLY);
	assert_non_null(entry(e, IN, 0, IPPROTO_UDP, 48, 0));
	assert_int_equal(e->nentries, 2);
}

/* podSelector left out is the empty selector, every pod of the namespace
 * (the e2e suite's legacy "should work with Ingress,Egress specified
 * together" policy has it so), and spec left out the empty spec: Kubernetes
 * decodes them so. */
static void test_missing_pod_selector(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e = compile(w,
		"  policyTypes: [Ingress, Egress]\n"
		"  ingress: [{ports: [{port: 80}]}]\n");

	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	assert_int_equal(w->out.eps[1].flags, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	assert_non_null(entry(e, IN, 0, IPPROTO_TCP, 64, 80));
	assert_int_equal(e->nentries, 1);

	/* podSelector: null is the same */
	e = compile(w, "  podSelector:\n  ingress: [{}]\n");
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS);
	assert_int_equal(w->out.eps[1].flags, SLUICE_EP_F_ENFORCE_INGRESS);

	/* no spec (or spec: null) is the empty spec: every pod of the
	 * namespace, ingress isolated and nothing allowed */
	for (int i = 0; i < 2; i++) {
		sluice_compiled_free(&w->out);
		sluice_policy_set_free(&w->set);
		load_ok(&w->set, i ? NP "spec:\n" : NP);
		assert_int_equal(sluice_policy_compile(&w->set, w->idt, w->eps, 2, &w->out, NULL), 0);
		assert_int_equal(w->out.eps[0].flags, SLUICE_EP_F_ENFORCE_INGRESS);
		assert_int_equal(w->out.eps[1].flags, SLUICE_EP_F_ENFORCE_INGRESS);
		assert_int_equal(w->out.eps[0].nentries, 0);
	}
}

static void test_errors(void **state)
{
	(void)state;
	load_fails(NP "spec:\n  podSelector: {}\n  policyTypes: [Ingres]\n",
		   "bad.yaml:6: spec.policyTypes[0]: unknown policy type \"Ingres\" (want Ingress or Egress)");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]\n",
		   "bad.yaml:6: spec.ingress[0].from[0]: ipBlock may not be combined with podSelector or namespaceSelector");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{from: [{}]}]\n",
		   "bad.yaml:6: spec.ingress[0].from[0]: must specify podSelector, namespaceSelector or ipBlock");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{ports: [{port: 0}]}]\n",
		   "bad.yaml:6: spec.ingress[0].ports[0].port: invalid port \"0\"");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{ports: [{port: 80, endPort: 70}]}]\n",
		   "bad.yaml:6: spec.ingress[0].ports[0].endPort: endPort 70 is lower than port 80");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{ports: [{port: web, endPort: 90}]}]\n",
		   "bad.yaml:6: spec.ingress[0].ports[0].endPort: endPort needs a numeric port");
	/* the e2e suite's "should support creating NetworkPolicy API with
	 * endport field": endPort without port is refused too */
	load_fails(NP "spec:\n  podSelector: {}\n  egress: [{ports: [{endPort: 20000}]}]\n",
		   "bad.yaml:6: spec.egress[0].ports[0].endPort: endPort needs a numeric port");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{ports: [{protocol: ANY}]}]\n",
		   "bad.yaml:6: spec.ingress[0].ports[0].protocol: unknown protocol \"ANY\" (want TCP, UDP or SCTP)");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{fromEndpoints: []}]\n",
		   "bad.yaml:6: spec.ingress[0].fromEndpoints: unknown field");
	/* the API server's ValidateNetworkPolicySpec (pkg/apis/networking/validation) */
	load_fails(NP "spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress, Ingress]\n",
		   "bad.yaml:6: spec.policyTypes: may not specify more than two policyTypes");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.1}}]}]\n",
		   "bad.yaml:6: spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR \"10.0.0.1\": want ADDRESS/LENGTH");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.1]}}]}]\n",
		   "bad.yaml:6: spec.ingress[0].from[0].ipBlock.except[0]: invalid CIDR \"10.1.0.1\": want ADDRESS/LENGTH");
	load_fails(NP "spec:\n  podSelector: {matchLabels: {\"NoUppercaseOrSpecialCharsLike=Equals\": b}}\n",
		   "bad.yaml:5: spec.podSelector.matchLabels.NoUppercaseOrSpecialCharsLike=Equals: invalid label key \"NoUppercaseOrSpecialCharsLike=Equals\": a label name is 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
	/* a Cilium source is no Kubernetes label key: "reserved:host" must not
	 * select the host */
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{from: [{podSelector: {matchLabels: {\"reserved:host\": \"\"}}}]}]\n",
		   "bad.yaml:6: spec.ingress[0].from[0].podSelector.matchLabels.reserved:host: invalid label key \"reserved:host\": ':' is not allowed in a Kubernetes label key (sources such as \"reserved:\" or \"k8s:\" are Cilium's, not a NetworkPolicy's)");
	load_fails(NP "spec:\n  podSelector: {matchExpressions: [{key: \"k8s:app\", operator: Exists}]}\n",
		   "bad.yaml:5: spec.podSelector.matchExpressions[0].key: invalid label key \"k8s:app\": ':' is not allowed in a Kubernetes label key (sources such as \"reserved:\" or \"k8s:\" are Cilium's, not a NetworkPolicy's)");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [\"a b\"]}]}}]}]\n",
		   "bad.yaml:6: spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values[0]: invalid label value \"a b\": a label value is at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
	load_fails(NP "spec:\n  podSelector: {}\n  ingress: [{ports: [{port: \"!@#$\"}]}]\n",
		   "bad.yaml:6: spec.ingress[0].ports[0].port: invalid port \"!@#$\"");
	load_fails("apiVersion: networking.k8s.io/v1beta1\nkind: NetworkPolicy\nmetadata: {name: a}\n",
		   "bad.yaml:1: apiVersion: unsupported apiVersion \"networking.k8s.io/v1beta1\" for NetworkPolicy (want networking.k8s.io/v1)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_selector_and_namespace_selector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allow_all_and_deny_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_pod_selector, setup, teardown),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
