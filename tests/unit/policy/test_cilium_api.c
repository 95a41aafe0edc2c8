// SPDX-License-Identifier: Apache-2.0
/*
 * test_cilium_api.c - Cilium's policy API tests (pkg/policy/api and the
 * CRD validator of pkg/k8s/apis/cilium.io/v2), replayed as policies: each
 * case names the upstream test it comes from and says what Cilium does
 * with the same YAML, which sluice must do too (load, refuse, or select
 * these peers). Cases of rule_validation_test.go live in test_load.c.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#define IN SLUICE_DIR_INGRESS
#define EG SLUICE_DIR_EGRESS

/* A CNP in namespace ns-2 whose spec body (indented by 2) is spec. */
#define CNP                            \
	"apiVersion: cilium.io/v2\n"   \
	"kind: CiliumNetworkPolicy\n"  \
	"metadata:\n"                  \
	"  name: t\n"                  \
	"  namespace: ns-2\n"          \
	"spec:\n"                      \
	"  endpointSelector: {}\n"
/* any document of kind, metadata fields meta (indented by 2) */
#define DOC(kind, meta, rest) "apiVersion: cilium.io/v2\nkind: " kind "\nmetadata:\n" meta rest
/* the first line of the spec's own fields */
#define L8 "bad.yaml:8: spec."

/* Loads the spec (after CNP) with no error. */
static void api_ok(const char *spec)
{
	struct sluice_policy_set set = { 0 };
	char *y = subst(CNP "@", "@", spec);

	load_ok(&set, y);
	sluice_policy_set_free(&set);
	free(y);
}

static void api_fails(const char *spec, const char *msg)
{
	char *y = subst(CNP "@", "@", spec);

	load_fails(y, msg);
	free(y);
}

/* ---- compiled results -------------------------------------------------- */

/* One pod "app=web,role=backend" in ns-2 that the policies select, and
 * peers in ns-2 and in another namespace. */
struct api_world {
	struct sluice_identity_table *idt;
	uint32_t web, client, other_ns, frontend, other_frontend;
	struct sluice_policy_set set;
	struct sluice_compiled out;
};

static int api_setup(void **state)
{
	struct api_world *w = calloc(1, sizeof(*w));

	w->idt = sluice_idt_new();
	w->web = pod_identity_ns(w->idt, "ns-2", "app=web,role=backend");
	w->client = pod_identity_ns(w->idt, "ns-2", "app=client,bar=");
	w->other_ns = pod_identity_ns(w->idt, "other", "app=client");
	w->frontend = pod_identity_ns(w->idt, "ns-2", "role=frontend");
	w->other_frontend = pod_identity_ns(w->idt, "other", "role=frontend");
	*state = w;
	return 0;
}

/* forgets the last policy and its result */
static void api_clear(struct api_world *w)
{
	sluice_compiled_free(&w->out);
	sluice_policy_set_free(&w->set);
}

static int api_teardown(void **state)
{
	struct api_world *w = *state;

	api_clear(w);
	sluice_idt_free(w->idt);
	free(w);
	return 0;
}

/* The web pod's entries under the policy spec (after CNP). */
static const struct sluice_ep_compiled *api_compile_doc(struct api_world *w, const char *doc)
{
	struct sluice_compile_endpoint ep = { .ep_id = 1, .identity = w->web, .namespace = "ns-2" };
	struct sluice_diags errs = { 0 };

	api_clear(w);
	load_ok(&w->set, doc);
	assert_int_equal(sluice_policy_compile(&w->set, w->idt, &ep, 1, &w->out, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(w->out.neps, 1);
	return &w->out.eps[0];
}

static const struct sluice_ep_compiled *api_compile(struct api_world *w, const char *spec)
{
	char *y = subst(CNP "@", "@", spec);
	const struct sluice_ep_compiled *e = api_compile_doc(w, y);

	free(y);
	return e;
}

/* the entry for (direction, peer identity, protocol, port) with any
 * prefix length, or NULL */
static const struct sluice_policy_entry *api_entry(const struct sluice_ep_compiled *e, uint8_t dir,
						   uint32_t id, uint8_t proto, uint16_t port)
{
	for (size_t i = 0; i < e->nentries; i++) {
		const struct sluice_policy_key *k = &e->entries[i].key;

		if (k->direction == dir && ntohl(k->identity_be) == id && k->protocol == proto &&
		    ntohs(k->dport_be) == port)
			return &e->entries[i].value;
	}
	return NULL;
}

/* the CIDR identity of prefix (as "a.b.c.d/len"), or 0 */
static uint32_t api_cidr_id(const struct api_world *w, const char *prefix)
{
	char buf[64];
	const char *slash = strchr(prefix, '/');
	uint8_t a4[4];

	snprintf(buf, sizeof(buf), "%.*s", (int)(slash - prefix), prefix);
	assert_int_equal(inet_pton(AF_INET, buf, a4), 1);
	for (size_t i = 0; i < w->out.ncidrs; i++)
		if (!memcmp(&w->out.cidrs[i].addr[12], a4, 4) &&
		    w->out.cidrs[i].prefixlen == 96 + atoi(slash + 1))
			return w->out.cidrs[i].identity;
	return 0;
}

/* The policy spec enforces direction dir on the web pod and allows (or
 * denies) nothing there. */
static void api_selects_nothing(struct api_world *w, const char *spec, uint8_t dir)
{
	const struct sluice_ep_compiled *e = api_compile(w, spec);

	assert_int_equal(e->flags, dir == IN ? SLUICE_EP_F_ENFORCE_INGRESS : SLUICE_EP_F_ENFORCE_EGRESS);
	assert_int_equal(count_dir(e, dir), 0);
}

/* ---- entity_test.go ---------------------------------------------------- */

/* TestEntityMatches: EntityNone matches no identity (reserved:none is a
 * label nothing has), and the CRD lists "none" among the entities. A rule
 * naming it still names peers: with toPorts it is no L4-only rule. */
static void test_entity_none(void **state)
{
	struct api_world *w = *state;
	const struct sluice_ep_compiled *e;

	api_selects_nothing(w, "  ingress: [{fromEntities: [none]}]\n", IN);
	e = api_compile(w, "  ingress: [{fromEntities: [none], toPorts: [{ports: [{port: \"80\"}]}]}]\n");
	assert_int_equal(count_dir(e, IN), 0);
	/* TestEntitySliceMatches: a slice is the union of its entities */
	e = api_compile(w, "  egress: [{toEntities: [none, host]}]\n");
	assert_non_null(api_entry(e, EG, SLUICE_ID_HOST, 0, 0));
	assert_int_equal(count_dir(e, EG), 1);
	/* in a deny section: denies nothing */
	e = api_compile(w, "  egressDeny: [{toEntities: [none]}]\n  egress: [{toEntities: [all]}]\n");
	assert_non_null(api_entry(e, EG, 0, 0, 0));
	assert_int_equal(count_dir(e, EG), 1);
	api_fails("  ingress: [{fromEntities: [nothing]}]\n",
		  L8 "ingress[0].fromEntities[0]: unknown entity \"nothing\" (want world, host, cluster, all, remote-node, init, health, unmanaged, kube-apiserver, ingress, namespace or none)");
}

/* TestEntitySliceMatches: [host, world] selects host and world, not
 * health; [host, health] host and health, not world. */
static void test_entity_slices(void **state)
{
	struct api_world *w = *state;
	const struct sluice_ep_compiled *e;

	e = api_compile(w, "  ingress: [{fromEntities: [host, world]}]\n");
	assert_non_null(api_entry(e, IN, SLUICE_ID_HOST, 0, 0));
	assert_non_null(api_entry(e, IN, SLUICE_ID_WORLD, 0, 0));
	assert_null(api_entry(e, IN, SLUICE_ID_HEALTH, 0, 0));
	e = api_compile(w, "  ingress: [{fromEntities: [host, health]}]\n");
	assert_non_null(api_entry(e, IN, SLUICE_ID_HOST, 0, 0));
	assert_non_null(api_entry(e, IN, SLUICE_ID_HEALTH, 0, 0));
	assert_null(api_entry(e, IN, SLUICE_ID_WORLD, 0, 0));
	/* TestEntityMatches: all matches everything (one ANY entry) */
	e = api_compile(w, "  ingress: [{fromEntities: [all]}]\n");
	assert_non_null(api_entry(e, IN, 0, 0, 0));
	assert_int_equal(count_dir(e, IN), 1);
}

/* ---- ingress_test.go / egress_test.go ---------------------------------- */

/*
 * TestIngressCommonRuleDeepEqual, TestEgressCommonRuleDeepEqual,
 * TestEgressCommonRuleMarshalling ("ToCIDRSet is empty" stays
 * {"toCIDRSet":[]}): Cilium keeps an empty peer list apart from a missing
 * one, and its rule parser (mergeEndpointSelectors) makes a rule with an
 * empty list select no peer, with toPorts too, in allow and deny sections.
 */
static void test_empty_peer_lists(void **state)
{
	struct api_world *w = *state;
	static const char *const lists[] = { "fromEndpoints", "fromEntities", "fromCIDR",
					     "fromCIDRSet" };
	const struct sluice_ep_compiled *e;
	char spec[256];

	for (size_t i = 0; i < 4; i++) {
		snprintf(spec, sizeof(spec),
			 "  ingress: [{%s: [], toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]}]\n",
			 lists[i]);
		api_selects_nothing(w, spec, IN);
	}
	/* left out or null: an L4-only rule for every peer */
	e = api_compile(w, "  ingress: [{fromEndpoints: null, toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]}]\n");
	assert_non_null(api_entry(e, IN, 0, IPPROTO_TCP, 80));
	/* an empty list beside a non-empty one of another kind: still nothing
	 * (the one-kind check counts non-empty lists only, as Cilium's) */
	api_selects_nothing(w, "  egress: [{toEndpoints: [{matchLabels: {app: client}}], toCIDR: []}]\n", EG);
	/* a deny rule with an empty list denies nothing */
	e = api_compile(w, "  egressDeny: [{toCIDRSet: [], toPorts: [{ports: [{port: \"53\"}]}]}]\n"
			   "  egress: [{toEntities: [all]}]\n");
	assert_non_null(api_entry(e, EG, 0, 0, 0));
	assert_int_equal(count_dir(e, EG), 1);
}

/*
 * Cilium's mergeIngress/mergeEgress (pkg/policy/rule.go) make one filter
 * per port a toPorts entry lists (GetPortProtocols()): an entry without
 * ports, or icmps without fields, is no port at all, in allow and deny
 * sections, where an item without toPorts is every port.
 */
static void test_port_rule_without_ports(void **state)
{
	struct api_world *w = *state;
	const struct sluice_ep_compiled *e;

	api_selects_nothing(w, "  ingress: [{fromEndpoints: [{matchLabels: {app: client}}], toPorts: [{}]}]\n", IN);
	e = api_compile(w, "  ingress: [{toPorts: [{ports: []}, {ports: [{port: \"80\", protocol: TCP}]}]}]\n");
	assert_non_null(api_entry(e, IN, 0, IPPROTO_TCP, 80));
	assert_int_equal(count_dir(e, IN), 1);
	e = api_compile(w, "  egress: [{toEntities: [all]}]\n"
			   "  egressDeny: [{toEntities: [world], toPorts: [{}]}]\n");
	assert_int_equal(count_dir(e, EG), 1);
	e = api_compile(w, "  ingress: [{fromEntities: [host], icmps: [{fields: []}]}]\n");
	assert_int_equal(count_dir(e, IN), 0);
	/* the item without toPorts: every port */
	e = api_compile(w, "  ingress: [{fromEndpoints: [{matchLabels: {app: client}}]}]\n");
	assert_non_null(api_entry(e, IN, w->client, 0, 0));
}

/* TestIsLabelBasedIngress / TestIsLabelBasedEgress: every rule there
 * passes sanitize; fromRequires/toRequires and toFQDNs are Cilium's but
 * not sluice's, refused by name. */
static void test_is_label_based(void **state)
{
	(void)state;
	api_ok("  ingress: [{fromEndpoints: [{matchLabels: {test: \"true\"}}]}]\n");
	api_ok("  ingress: [{fromCIDR: [192.0.0.0/3]}]\n");
	api_ok("  ingress: [{fromCIDRSet: [{cidr: 192.0.0.0/3}]}]\n");
	api_ok("  ingress: [{fromEntities: [host]}]\n");
	api_ok("  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]}]\n");
	api_ok("  ingress: [{toPorts: [{ports: [{port: port-80, protocol: TCP}]}]}]\n");
	api_ok("  ingress: [{icmps: [{fields: [{type: 8}]}]}]\n");
	api_ok("  ingress: [{icmps: [{fields: [{family: IPv6, type: 128}]}]}]\n");
	api_ok("  egress: [{toServices: [{k8sServiceSelector: {selector: {matchLabels: {app: tested-service}}, namespace: \"\"}}]}]\n");
	api_fails("  ingress: [{fromRequires: [{matchLabels: {test: \"true\"}}]}]\n",
		  L8 "ingress[0].fromRequires: field not supported by sluice");
	api_fails("  egress: [{toRequires: [{matchLabels: {test: \"true\"}}]}]\n",
		  L8 "egress[0].toRequires: field not supported by sluice");
	api_fails("  egress: [{toFQDNs: [{matchName: cilium.io}]}]\n",
		  L8 "egress[0].toFQDNs: field not supported by sluice");
}

/* Loads the spec into set, no error; returns the warnings (caller frees). */
static struct sluice_diags api_load_warn(struct sluice_policy_set *set, const char *spec)
{
	struct sluice_diags errs = { 0 }, warns = { 0 };
	char *y = subst(CNP "@", "@", spec);

	assert_int_equal(sluice_policy_load("t.yaml", y, strlen(y), set, &errs, &warns), 0);
	free(y);
	sluice_diags_free(&errs);
	return warns;
}

/* ---- service_test.go ----------------------------------------------------- */

/* The toServices entry of the first egress item of the last policy. */
static const struct sluice_service_ref *api_service(const struct sluice_policy_set *set)
{
	const struct sluice_rule *r = &set->v[set->n - 1].rules[0];

	assert_int_equal(r->egress[0].nservices, 1);
	return &r->egress[0].services[0];
}

/*
 * TestK8sServiceMatches: a Service with both k8sService and
 * k8sServiceSelector loads (Cilium's rule translator then matches by the
 * selector alone); TestK8sServiceSelectorNamespaceMatches: no namespace
 * is the policy's in a CNP (ParseToCiliumRule), any in a CCNP.
 */
static void test_services(void **state)
{
	struct sluice_policy_set set = { 0 };
	struct sluice_diags warns;
	const struct sluice_service_ref *svc;

	(void)state;
	warns = api_load_warn(&set, "  egress: [{toServices: [{k8sService: {serviceName: svc1, namespace: default},\n"
				    "                          k8sServiceSelector: {namespace: default, selector: {matchLabels: {foo: bar}}}}]}]\n");
	assert_true(diags_have(&warns, "t.yaml:8: spec.egress[0].toServices[0]: k8sService is ignored beside k8sServiceSelector (Cilium selects by the selector alone): write two toServices entries for both"));
	sluice_diags_free(&warns);
	svc = api_service(&set);
	assert_true(svc->by_selector);
	assert_null(svc->name);
	assert_string_equal(svc->namespace, "default");
	warns = api_load_warn(&set, "  egress: [{toServices: [{k8sServiceSelector: {namespace: \"\", selector: {matchLabels: {foo: bar}}}}]}]\n");
	sluice_diags_free(&warns);
	assert_string_equal(api_service(&set)->namespace, "ns-2");
	warns = api_load_warn(&set, "  egress: [{toServices: [{k8sService: {serviceName: svc1}}]}]\n");
	sluice_diags_free(&warns);
	assert_string_equal(api_service(&set)->name, "svc1");
	assert_string_equal(api_service(&set)->namespace, "ns-2");
	load_ok(&set, DOC("CiliumClusterwideNetworkPolicy", "  name: c\n",
			  "spec:\n  endpointSelector: {}\n  egress: [{toServices: [{k8sService: {serviceName: svc1}}]}]\n"));
	assert_null(api_service(&set)->namespace);
	sluice_policy_set_free(&set);
	api_fails("  egress: [{toServices: [{}]}]\n", L8 "egress[0].toServices[0]: want one of k8sService and k8sServiceSelector");
}

/* ---- selector_test.go / cidr_test.go ----------------------------------- */

/* TestSelectsAllEndpoints: a wildcard selector in a slice selects all,
 * whatever else the slice holds; an empty slice selects none (above). In a
 * CNP the wildcard is the policy's namespace (ParseToCiliumRule). */
static void test_selects_all_endpoints(void **state)
{
	struct api_world *w = *state;
	const struct sluice_ep_compiled *e;

	e = api_compile(w, "  ingress: [{fromEndpoints: [{}, {matchLabels: {bar: \"\"}}]}]\n");
	assert_non_null(api_entry(e, IN, w->web, 0, 0));
	assert_non_null(api_entry(e, IN, w->client, 0, 0));
	assert_null(api_entry(e, IN, w->other_ns, 0, 0));
	e = api_compile(w, "  ingress: [{fromEndpoints: [{matchLabels: {bar: \"\"}}, {matchLabels: {foo: \"\"}}]}]\n");
	assert_non_null(api_entry(e, IN, w->client, 0, 0));
	assert_int_equal(count_dir(e, IN), 1);
}

/*
 * EndpointSelector.Sanitize: Kubernetes' ValidateLabelSelector on Cilium's
 * spelling of each key ("source.name", "any.name" without a source) and on
 * every value, matchExpressions' too. TestLabelSelectorToRequirements'
 * selector loads.
 */
static void test_selector_validation(void **state)
{
	static const char *const good[] = {
		"matchLabels: {any.foo: bar, k8s.baz: alice}, matchExpressions: [{key: any.foo, operator: NotIn, values: [default]}]",
		"matchLabels: {\"k8s:io.kubernetes.pod.namespace\": kube-system, \"reserved:world\": \"\"}",
		"matchLabels: {\"app.kubernetes.io/name\": web, \"foo:bar\": \"\", \"cidr:10.0.0.0/8\": \"\"}",
		"matchExpressions: [{key: \"example.com/tier\", operator: In, values: [a-b, c.d, e_f, \"\"]}]",
		/* 63 characters: a Kubernetes label name (this loader reads
		 * NetworkPolicies too; Cilium's "any." would make it 67) */
		"matchLabels: {aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: x}",
	};
	static const struct {
		const char *sel, *msg;
	} bad[] = {
		{ "matchLabels: {app: \"foo bar\"}", "matchLabels.app: invalid label value \"foo bar\"" },
		{ "matchLabels: {app: \"-x\"}", "matchLabels.app: invalid label value \"-x\"" },
		{ "matchLabels: {\"a b\": x}", "matchLabels.a b: invalid label key \"a b\"" },
		{ "matchLabels: {\"Example.com/app\": x}", "matchLabels.Example.com/app: invalid label key \"Example.com/app\"" },
		{ "matchLabels: {\"a/b/c\": x}", "matchLabels.a/b/c: invalid label key \"a/b/c\"" },
		{ "matchLabels: {\"k8s:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": x}",
		  "matchLabels.k8s:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: invalid label key \"k8s:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"" },
		{ "matchExpressions: [{key: \"app*\", operator: Exists}]", "matchExpressions[0].key: invalid label key \"app*\"" },
		{ "matchExpressions: [{key: app, operator: In, values: [ok, \"no way\"]}]", "matchExpressions[0].values[1]: invalid label value \"no way\"" },
	};
	char spec[300], msg[300];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(spec, sizeof(spec), "  ingress: [{fromEndpoints: [{%s}]}]\n", good[i]);
		api_ok(spec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sluice_policy_set set = { 0 };
		struct sluice_diags errs = { 0 }, warns = { 0 };
		char *y;
		bool found = false;

		snprintf(spec, sizeof(spec), "  ingress: [{fromEndpoints: [{%s}]}]\n", bad[i].sel);
		snprintf(msg, sizeof(msg), L8 "ingress[0].fromEndpoints[0].%s: ", bad[i].msg);
		y = subst(CNP "@", "@", spec);
		assert_int_equal(sluice_policy_load("bad.yaml", y, strlen(y), &set, &errs, &warns), -22);
		for (size_t k = 0; k < errs.n; k++)
			found |= !strncmp(errs.v[k].msg, msg, strlen(msg));
		if (!found)
			print_diags(&errs);
		assert_true(found);
		sluice_diags_free(&errs);
		sluice_diags_free(&warns);
		free(y);
	}
}

/* TestGetAsEndpointSelectorsWithExceptions "exclude-cidr": 1.0.0.0/24
 * except 1.0.0.4/30 selects the /24 and what lies inside it outside the
 * except, never the except's own identity. "no exclude": the /24 only. */
static void test_cidr_set_excepts(void **state)
{
	struct api_world *w = *state;
	const struct sluice_ep_compiled *e;

	e = api_compile(w, "  egress: [{toCIDRSet: [{cidr: 1.0.0.0/24, except: [1.0.0.4/30]}]}]\n"
			   "  ingress: [{fromCIDR: [1.0.0.0/25, 2.0.0.0/24]}]\n");
	assert_non_null(api_entry(e, EG, api_cidr_id(w, "1.0.0.0/24"), 0, 0));
	assert_non_null(api_entry(e, EG, api_cidr_id(w, "1.0.0.0/25"), 0, 0));
	assert_null(api_entry(e, EG, api_cidr_id(w, "1.0.0.4/30"), 0, 0));
	assert_null(api_entry(e, EG, api_cidr_id(w, "2.0.0.0/24"), 0, 0));
	assert_null(api_entry(e, EG, SLUICE_ID_WORLD, 0, 0));
	/* CIDRRule.Validate: the except's address inside the cidr suffices;
	 * an except wider than the cidr leaves it nothing */
	e = api_compile(w, "  egress: [{toCIDRSet: [{cidr: 10.0.0.0/16, except: [10.0.0.0/8]}]}]\n");
	assert_int_equal(count_dir(e, EG), 0);
	api_fails("  egress: [{toCIDRSet: [{cidr: 10.1.0.0/16, except: [10.0.0.0/8]}]}]\n",
		  L8 "egress[0].toCIDRSet[0].except[0]: \"10.0.0.0/8\" is not inside cidr \"10.1.0.0/16\"");
	/* TestGetAsEndpointSelectors: 0.0.0.0/0 is world */
	e = api_compile(w, "  egress: [{toCIDR: [0.0.0.0/0]}]\n");
	assert_non_null(api_entry(e, EG, SLUICE_ID_WORLD, 0, 0));
}

/* TestCIDRRegex: the prefixes a CIDR set entry takes. The bad ones that
 * are not prefixes at all are refused; a bare address is fromCIDR's. */
static void test_cidr_forms(void **state)
{
	static const char *const good[] = {
		"192.0.2.3/32", "192.0.2.0/24", "0.0.0.0/0", "::/0", "::cafe/128",
		"::f00d:cafe/128", "0:0:0:0:0:0:0:cafe/128",
		"cafe:cafe:cafe:cafe:cafe:cafe:cafe:cafe/128", "bad:f00d:cafe:0:0:0:0:add/64",
		"bad:f00d:cafe::bad/64", "f00d::/64", "f00d::0:0/120", "f00d:cafe::1:2/120",
	};
	static const char *const bad[] = {
		"192.0.2.3/", "abcdef", "0.0.0.0/0/0", ":/", "0:0", "::cafe/128/12",
		"abc:def/64", "f00d::/", "bad.f00d.cafe.0.0.0.0.add/20", "abcd:192.0.2.3/128",
		":abcd:192.0.2.3/128", ":abcd::192.0.2.3/128", "bad::f00d::cafe/1",
		":bad::f00d::cafe/1", "::bad::f00d::cafe/1", "::bad::food::cafe/1",
		/* and what Cilium's netip.ParsePrefix refuses besides */
		"10.0.0.0/08", "10.0.0.0/33", "::/129", "010.0.0.0/8",
	};
	char spec[160], msg[200];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(spec, sizeof(spec), "  ingress: [{fromCIDRSet: [{cidr: \"%s\"}]}]\n", good[i]);
		api_ok(spec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(spec, sizeof(spec), "  ingress: [{fromCIDRSet: [{cidr: \"%s\"}]}]\n", bad[i]);
		snprintf(msg, sizeof(msg), L8 "ingress[0].fromCIDRSet[0].cidr: invalid CIDR \"%s\"", bad[i]);
		api_fails(spec, msg);
	}
	api_fails("  ingress: [{fromCIDRSet: [{cidr: \"192.0.2.3\"}]}]\n",
		  L8 "ingress[0].fromCIDRSet[0].cidr: invalid CIDR \"192.0.2.3\": want ADDRESS/LENGTH (a bare address goes in toCIDR/fromCIDR)");
}

/* ---- icmp_test.go / utils_test.go --------------------------------------- */

/* TestICMPFieldUnmarshal: a number or a name of the family; "ICMP Node
 * Information Query is only for IPv6". */
static void test_icmp_fields(void **state)
{
	(void)state;
	api_ok("  ingress: [{icmps: [{fields: [{family: IPv4, type: 8}]}]}]\n");
	api_ok("  ingress: [{icmps: [{fields: [{family: IPv4, type: EchoRequest}]}]}]\n");
	api_ok("  ingress: [{icmps: [{fields: [{family: IPv6, type: ICMPNodeInformationQuery}]}]}]\n");
	api_fails("  ingress: [{icmps: [{fields: [{family: IPv4, type: ICMPNodeInformationQuery}]}]}]\n",
		  L8 "ingress[0].icmps[0].fields[0].type: unknown IPv4 ICMP type \"ICMPNodeInformationQuery\"");
}

/* TestValidateL4Proto: TCP, UDP, ANY; not TCP2 or t. TestParseL4Proto
 * reads "tcp" and "Any" too, but the CRD's enum (TCP;UDP;SCTP;ANY) refuses
 * them before Cilium's parser sees them: so does sluice. */
static void test_l4_protocols(void **state)
{
	static const char *const good[] = { "TCP", "UDP", "SCTP", "ANY", "\"\"" };
	static const char *const bad[] = { "TCP2", "t", "tcp", "Any" };
	char spec[160], msg[200];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(spec, sizeof(spec), "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: %s}]}]}]\n", good[i]);
		api_ok(spec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(spec, sizeof(spec), "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: %s}]}]}]\n", bad[i]);
		snprintf(msg, sizeof(msg), L8 "ingress[0].toPorts[0].ports[0].protocol: unknown protocol \"%s\" (want TCP, UDP, SCTP or ANY)", bad[i]);
		api_fails(spec, msg);
	}
}


/* rule_validation.go PortProtocol.sanitize: a port that is an IANA service
 * name is a name (iana.IsSvcName first, so "80a" and "0x10" name container
 * ports), else a number up to 65535; the name is compared in lower case. */
static void test_port_names(void **state)
{
	static const struct {
		const char *port, *name;
	} named[] = { { "80a", "80a" }, { "0x10", "0x10" }, { "HTTP-Alt", "http-alt" } };
	static const char *const bad[] = { "65536", "-http", "http-", "a--b", "80_a", "" };
	struct sluice_policy_set set = { 0 };
	char spec[160], msg[200];

	(void)state;
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		struct sluice_diags warns;

		snprintf(spec, sizeof(spec), "  ingress: [{toPorts: [{ports: [{port: \"%s\"}]}]}]\n", named[i].port);
		warns = api_load_warn(&set, spec);
		sluice_diags_free(&warns);
		assert_string_equal(set.v[i].rules[0].ingress[0].to_ports[0].ports[0].name, named[i].name);
	}
	/* l4.go PortProtocol: "EndPort is ignored if Port is a named port" */
	{
		struct sluice_diags warns = api_load_warn(&set, "  ingress: [{toPorts: [{ports: [{port: http, endPort: 90}]}]}]\n");
		const struct sluice_port *p = &set.v[set.n - 1].rules[0].ingress[0].to_ports[0].ports[0];

		assert_string_equal(p->name, "http");
		assert_int_equal(p->end_port, 0);
		assert_true(diags_have(&warns, "t.yaml:8: spec.ingress[0].toPorts[0].ports[0].endPort: endPort is ignored with a named port (as Cilium ignores it): the rule is for port \"http\" alone"));
		sluice_diags_free(&warns);
	}
	sluice_policy_set_free(&set);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(spec, sizeof(spec), "  ingress: [{toPorts: [{ports: [{port: \"%s\"}]}]}]\n", bad[i]);
		snprintf(msg, sizeof(msg), L8 "ingress[0].toPorts[0].ports[0].port: invalid port \"%s\"", bad[i]);
		api_fails(spec, msg);
	}
}

/* ---- http.go: PortRuleHTTP.Sanitize ------------------------------------ */

#define HTTP_RULE(r) "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [" r "]}}]}]\n"
#define HTTP_AT L8 "ingress[0].toPorts[0].rules.http[0]."

/* TestHTTPEqual's rules load; Sanitize refuses a path or method that is
 * no regex, a headerMatches entry without a name, an unknown mismatch
 * action and a secret without a name. */
static void test_http_sanitize(void **state)
{
	(void)state;
	api_ok(HTTP_RULE("{path: \"/foo$\", method: GET, headers: [\"X-Test: Foo\"]}"));
	api_ok(HTTP_RULE("{path: \"/bar$\", method: GET, headers: [\"X-Test: Bar\"]}"));
	api_ok(HTTP_RULE("{headerMatches: [{name: X-Token, value: a, mismatch: LOG}, {name: X-B, secret: {name: s}}]}"));
	api_fails(HTTP_RULE("{path: \"/(foo\"}"),
		  HTTP_AT "path: invalid regex \"/(foo\": missing closing parenthesis at offset 5");
	api_fails(HTTP_RULE("{headerMatches: [{value: x}]}"), HTTP_AT "headerMatches[0].name: missing required field");
	api_fails(HTTP_RULE("{headerMatches: [{name: X, mismatch: FOO}]}"),
		  HTTP_AT "headerMatches[0].mismatch: unknown action \"FOO\" (want LOG, ADD, DELETE, REPLACE, or none to deny)");
	api_fails(HTTP_RULE("{headerMatches: [{name: X, secret: {namespace: a}}]}"),
		  HTTP_AT "headerMatches[0].secret: name: missing required field");
}

/*
 * PortRuleHTTP.Sanitize compiles path and method with Go's regexp (RE2,
 * Envoy's engine too): what RE2 lacks is refused, what it has loads.
 */
static void test_http_regex_re2(void **state)
{
	static const char *const good[] = {
		"/foo$", "GET|POST", "(?i)get", "(?P<n>/a)", "(?<n>/a)", "/[\\\\d(?=]+",
		"/a{2,1000}", "/\\\\Q.*+\\\\E", "/a*?", "/a+?", "/(?s:.)", "/\\\\x41\\\\pL",
	};
	static const struct {
		const char *re, *why;
	} bad[] = {
		{ "/(?=a)", "a lookaround \"(?=\"" },
		{ "/(?!a)", "a lookaround \"(?!\"" },
		{ "/(?<=a)b", "a lookaround \"(?<=\"" },
		{ "/(?<!a)b", "a lookaround \"(?<!\"" },
		{ "/(?>a)", "an atomic group \"(?>\"" },
		{ "/(a)\\\\1", "a backreference (\\\\1)" },
		{ "/(?<n>a)\\\\k<n>", "escape \\\\k" },
		{ "/a++", "a possessive quantifier \"++\"" },
		{ "/a*+", "a possessive quantifier \"*+\"" },
		{ "/a{2}+", "a possessive quantifier \"{2}+\"" },
		{ "/a{1001}", "a repetition count above 1000" },
		{ "/(a|(?R))", "group \"(?R\"" },
		{ "/a(*FAIL)|/b", "a PCRE verb \"(*...)\"" },
		{ "/a\\\\K", "escape \\\\K" },
		{ "/a\\\\Z", "escape \\\\Z" },
		{ "(?x)/a b", "group \"(?x\"" },
	};
	char spec[256], msg[400];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(spec, sizeof(spec), HTTP_RULE("{path: \"%s\"}"), good[i]);
		api_ok(spec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(spec, sizeof(spec), HTTP_RULE("{path: \"%s\"}"), bad[i].re);
		/* the message shows the regex as YAML read it (one backslash) */
		snprintf(msg, sizeof(msg), HTTP_AT "path: invalid regex \"%s\": RE2, the engine of Cilium's and Envoy's http rules, does not support %s",
			 bad[i].re, bad[i].why);
		for (char *b; (b = strstr(msg, "\\\\"));)
			memmove(b, b + 1, strlen(b));
		api_fails(spec, msg);
	}
}


/* The header of the first http rule of the first ingress item. */
static const char *api_header(const struct sluice_policy_set *set, size_t i)
{
	const struct sluice_rule *r = &set->v[set->n - 1].rules[0];

	assert_true(i < r->ingress[0].to_ports[0].http[0].nheaders);
	return r->ingress[0].to_ports[0].http[0].headers[i];
}

/* Headers are not sanitized in Cilium ("Headers are not sanitized."); its
 * proxy configuration splits each at the first space and trims a ':' off
 * the name: "X-Key true" and "X-Key: true" both want X-Key equal to true. */
static void test_http_headers(void **state)
{
	struct sluice_policy_set set = { 0 };
	struct sluice_diags warns;

	(void)state;
	warns = api_load_warn(&set, HTTP_RULE("{headers: [\"X-Key true\", \"X-Test: Foo\", X-Present]}"));
	assert_int_equal(warns.n, 0);
	sluice_diags_free(&warns);
	assert_string_equal(api_header(&set, 0), "X-Key: true");
	assert_string_equal(api_header(&set, 1), "X-Test: Foo");
	assert_string_equal(api_header(&set, 2), "X-Present");
	/* a name with a space in it is read as Cilium reads it, with a warning */
	warns = api_load_warn(&set, HTTP_RULE("{headers: [\"Bad Name: x\"]}"));
	assert_string_equal(api_header(&set, 0), "Bad: Name: x");
	assert_true(diags_have(&warns, "t.yaml:8: spec.ingress[0].toPorts[0].rules.http[0].headers[0]: header \"Bad Name: x\" wants Bad: Name: x (split at the first space, as Cilium does); a header name has no spaces"));
	sluice_diags_free(&warns);
	/* no space: Cilium wants a header named "X-Key:true" (never there);
	 * sluice keeps its reading, X-Key equal to true, and says so; so for
	 * "X-Key:a b" (Cilium: "X-Key:a" equal to "b") */
	warns = api_load_warn(&set, HTTP_RULE("{headers: [\"X-Key:true\"]}"));
	assert_string_equal(api_header(&set, 0), "X-Key: true");
	assert_int_equal(warns.n, 1);
	assert_true(diags_have(&warns, "t.yaml:8: spec.ingress[0].toPorts[0].rules.http[0].headers[0]: header \"X-Key:true\" is read as \"X-Key: true\"; Cilium reads it as \"X-Key:true\" (it splits at the first space only): write \"X-Key: true\" for both to agree"));
	sluice_diags_free(&warns);
	warns = api_load_warn(&set, HTTP_RULE("{headers: [\"X-Key:a b\", \"X-Ok:  two\"]}"));
	assert_string_equal(api_header(&set, 0), "X-Key: a b");
	assert_true(diags_have(&warns, "t.yaml:8: spec.ingress[0].toPorts[0].rules.http[0].headers[0]: header \"X-Key:a b\" is read as \"X-Key: a b\"; Cilium reads it as \"X-Key:a: b\" (it splits at the first space only): write \"X-Key: a b\" for both to agree"));
	sluice_diags_free(&warns);
	sluice_policy_set_free(&set);
}

/* ---- cnp_types_test.go: CiliumNetworkPolicy.Parse ----------------------- */

/* TestParseSpec's rawRule (JSON is YAML), in the policy's namespace. */
#define RAW_RULE                                                                                   \
	"{\"endpointSelector\": {\"matchLabels\": {\"role\": \"backend\"},\n"                       \
	"   \"matchExpressions\": [{\"key\": \"role\", \"operator\": \"NotIn\", \"values\": [\"production\"]}]},\n" \
	" \"ingress\": [{\"fromEndpoints\": [{\"matchLabels\": {\"role\": \"frontend\"}},\n"            \
	"                                {\"matchLabels\": {\"reserved:world\": \"\"}}],\n"              \
	"              \"toPorts\": [{\"ports\": [{\"port\": \"80\", \"protocol\": \"TCP\"}],\n"          \
	"                           \"rules\": {\"http\": [{\"path\": \"/public\", \"method\": \"GET\"}]}}]}],\n" \
	" \"egress\": [{\"toPorts\": [{\"ports\": [{\"port\": \"80\", \"protocol\": \"TCP\"}],\n"         \
	"                           \"rules\": {\"http\": [{\"path\": \"/public\", \"method\": \"GET\"}]}}]},\n" \
	"            {\"toCIDR\": [\"10.0.0.1\"]},\n"                                                   \
	"            {\"toCIDRSet\": [{\"cidr\": \"10.0.0.0/8\", \"except\": [\"10.96.0.0/12\"]}]}],\n"  \
	" \"labels\": [{\"key\": \"uuid\", \"value\": \"98678-9868976-78687678887678\"}]}"

/*
 * TestParseSpec, TestParseRules: the subject and the label peers get the
 * policy's namespace, a reserved:world peer does not; "spec" and "specs"
 * parse alike; a bare address in toCIDR is a /32; neither spec nor specs is
 * ErrEmptyCNP (and ErrEmptyCCNP).
 */
static void test_parse_spec(void **state)
{
	struct api_world *w = *state;
	static const char *const docs[] = {
		"{\"apiVersion\": \"cilium.io/v2\", \"kind\": \"CiliumNetworkPolicy\",\n"
		" \"metadata\": {\"namespace\": \"ns-2\", \"name\": \"rule1\", \"uid\": \"98678\"},\n"
		" \"spec\": " RAW_RULE "}\n",
		"{\"apiVersion\": \"cilium.io/v2\", \"kind\": \"CiliumNetworkPolicy\",\n"
		" \"metadata\": {\"namespace\": \"ns-2\", \"name\": \"rule1\"},\n"
		" \"specs\": [" RAW_RULE ", " RAW_RULE "]}\n",
	};

	for (size_t i = 0; i < 2; i++) {
		const struct sluice_ep_compiled *e = api_compile_doc(w, docs[i]);
		const struct sluice_l7_policy *l7 = NULL;

		assert_int_equal(w->set.v[0].nrules, i + 1);
		assert_non_null(api_entry(e, IN, w->frontend, IPPROTO_TCP, 80));
		assert_null(api_entry(e, IN, w->other_frontend, IPPROTO_TCP, 80));
		assert_non_null(api_entry(e, IN, SLUICE_ID_WORLD, IPPROTO_TCP, 80));
		assert_int_equal(count_dir(e, IN), 2 + w->out.ncidrs); /* world's CIDRs too */
		for (size_t k = 0; k < e->nl7 && !l7; k++)
			if (e->l7[k].direction == IN && e->l7[k].port == 80 &&
			    e->l7[k].peer_identity == w->frontend)
				l7 = &e->l7[k];
		assert_non_null(l7);
		assert_non_null(api_entry(e, EG, 0, IPPROTO_TCP, 80));
		assert_non_null(api_entry(e, EG, api_cidr_id(w, "10.0.0.1/32"), 0, 0));
		assert_non_null(api_entry(e, EG, api_cidr_id(w, "10.0.0.0/8"), 0, 0));
		assert_null(api_entry(e, EG, api_cidr_id(w, "10.96.0.0/12"), 0, 0));
	}
	load_fails("{\"apiVersion\": \"cilium.io/v2\", \"kind\": \"CiliumNetworkPolicy\",\n"
		   " \"metadata\": {\"namespace\": \"default\", \"name\": \"rule1\"}}\n",
		   "bad.yaml:1: spec: missing required field (spec or specs)");
	load_fails("{\"apiVersion\": \"cilium.io/v2\", \"kind\": \"CiliumNetworkPolicy\",\n"
		   " \"metadata\": {\"namespace\": \"default\", \"name\": \"rule1\"}, \"specs\": null}\n",
		   "bad.yaml:1: spec: missing required field (spec or specs)");
	/* Parse errs only when spec and specs are both nil: "specs: []" is a
	 * policy of no rule, enforcing nothing (the web pod stays open) */
	{
		const struct sluice_ep_compiled *e = api_compile_doc(w,
			"{\"apiVersion\": \"cilium.io/v2\", \"kind\": \"CiliumNetworkPolicy\",\n"
			" \"metadata\": {\"namespace\": \"ns-2\", \"name\": \"none\"}, \"specs\": []}\n");

		assert_int_equal(w->set.v[0].nrules, 0);
		assert_int_equal(e->flags, 0);
		assert_int_equal(e->nentries, 0);
	}
	load_fails("{\"apiVersion\": \"cilium.io/v2\", \"kind\": \"CiliumClusterwideNetworkPolicy\",\n"
		   " \"metadata\": {\"name\": \"rule1\"}}\n",
		   "bad.yaml:1: spec: missing required field (spec or specs)");
}

/* TestParseWithNodeSelector: a CNP with a nodeSelector is an error
 * ("rule cannot have NodeSelector"); a CCNP may have one, but host
 * policies are not sluice's: refused by name in both. */
static void test_parse_node_selector(void **state)
{
	(void)state;
	load_fails(DOC("CiliumNetworkPolicy", "  name: rule\n  namespace: default\n",
		       "spec:\n  nodeSelector: {}\n  egress: [{toCIDR: [10.0.0.1]}]\n"),
		   "bad.yaml:7: spec.nodeSelector: host policies (nodeSelector) are not supported by sluice; use endpointSelector");
	load_fails(DOC("CiliumClusterwideNetworkPolicy", "  name: rule\n",
		       "spec:\n  nodeSelector: {}\n  egress: [{toCIDR: [10.0.0.1]}]\n"),
		   "bad.yaml:6: spec.nodeSelector: host policies (nodeSelector) are not supported by sluice; use endpointSelector");
}

/* ---- validator_test.go: the CRD's schema -------------------------------- */

/* Test_GoodCNP, Test_GoodCCNP: matchLabels whose keys happen to be
 * "key" and "operator" are plain labels. Test_BadMatchLabels: a list as a
 * label value is refused. Test_GH10643: ports written as strings. */
static void test_validator_cases(void **state)
{
	static const char *const good_spec =
		"spec:\n"
		"  egress:\n"
		"  - toServices:\n"
		"    - k8sService:\n"
		"        namespace: default\n"
		"        serviceName: kubernetes\n"
		"  endpointSelector:\n"
		"    matchLabels:\n"
		"      key: app\n"
		"      operator: In\n";
	struct sluice_policy_set set = { 0 };
	char *y;

	(void)state;
	y = subst(DOC("CiliumNetworkPolicy", "  name: cnp-test-1\n  namespace: ns-2\n", "@"), "@", good_spec);
	load_ok(&set, y);
	free(y);
	y = subst(DOC("CiliumClusterwideNetworkPolicy", "  name: cnp-test-1\n", "@"), "@", good_spec);
	load_ok(&set, y);
	free(y);
	sluice_policy_set_free(&set);
	load_fails(DOC("CiliumNetworkPolicy", "  name: cnp-test-1\n  namespace: ns-2\n",
		       "spec:\n"
		       "  endpointSelector:\n"
		       "    matchLabels:\n"
		       "      key: app\n"
		       "      values:\n"
		       "      - prometheus\n"
		       "  egress: [{}]\n"),
		   "bad.yaml:11: spec.endpointSelector.matchLabels.values: expected a string");
	load_fails(DOC("CiliumNetworkPolicy", "  name: exampleapp\n  namespace: examplens\n",
		       "spec:\n"
		       "  endpointSelector: {}\n"
		       "  egress:\n"
		       "  - toPorts:\n"
		       "    - ports:\n"
		       "      - port \"8050\"\n"
		       "      - protocol TCP\n"),
		   "bad.yaml:11: spec.egress[0].toPorts[0].ports[0]: expected a mapping");
	/* Test_BadCCNP: endpointSelector and nodeSelector (host policies are
	 * not sluice's at all) */
	load_fails(DOC("CiliumClusterwideNetworkPolicy", "  name: cnp-test-1\n",
		       "spec:\n"
		       "  egress: [{}]\n"
		       "  endpointSelector: {}\n"
		       "  nodeSelector: {}\n"),
		   "bad.yaml:8: spec.nodeSelector: host policies (nodeSelector) are not supported by sluice; use endpointSelector");
}

/*
 * rules_test.go TestRuleMarshalling: a rule needs a selector ("Empty
 * JSON"), one of endpointSelector and nodeSelector (host policies are not
 * sluice's), and a section ("With valid EndpointSelector and no Rules":
 * Rule.Validate's "rule must have at least one of Ingress, IngressDeny,
 * Egress, EgressDeny", an empty list counting as none).
 */
static void test_rule_marshalling(void **state)
{
	static const char *const head = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: r}\nspec: ";
	static const char *const none = "rule must have at least one of ingress, ingressDeny, egress or egressDeny: a rule without one enforces nothing (use `ingress: [{}]` to deny all ingress)";
	struct sluice_policy_set set = { 0 };
	char y[512], msg[300];

	(void)state;
	snprintf(y, sizeof(y), "%s{\"endpointSelector\":{},\"ingress\":[{\"fromEndpoints\":[{}]}]}\n", head);
	load_ok(&set, y);
	snprintf(y, sizeof(y), "%s{\"endpointSelector\":{\"matchLabels\":{\"app\":\"frontend\"}},\"ingress\":[{\"fromEndpoints\":[{}]}]}\n", head);
	load_ok(&set, y);
	sluice_policy_set_free(&set);
	snprintf(y, sizeof(y), "%s{\"ingress\":[{}]}\n", head);
	load_fails(y, "bad.yaml:4: spec.endpointSelector: missing required field");
	snprintf(y, sizeof(y), "%s{\"endpointSelector\":{}}\n", head);
	snprintf(msg, sizeof(msg), "bad.yaml:4: spec: %s", none);
	load_fails(y, msg);
	snprintf(y, sizeof(y), "%s{\"endpointSelector\":{},\"ingress\":[],\"egressDeny\":[]}\n", head);
	load_fails(y, msg);
	snprintf(y, sizeof(y), "%s{}\n", head);
	load_fails(y, "bad.yaml:4: spec.endpointSelector: missing required field");
	snprintf(y, sizeof(y), "%s{\"endpointSelector\":{},\"nodeSelector\":{},\"ingress\":[{\"fromEndpoints\":[{}]}]}\n", head);
	load_fails(y, "bad.yaml:4: spec.nodeSelector: host policies (nodeSelector) are not supported by sluice; use endpointSelector");
}

/* Test_UnknownFieldDetection: the metadata a cluster returns loads (GH-14526);
 * a top-level description or unknown fields do not; "specs" holds rules. */
static void test_validator_unknown_fields(void **state)
{
	struct sluice_policy_set set = { 0 };

	(void)state;
	load_ok(&set, DOC("CiliumNetworkPolicy",
			  "  annotations:\n"
			  "    kubectl.kubernetes.io/last-applied-configuration: |\n"
			  "      {\"apiVersion\":\"cilium.io/v2\",\"kind\":\"CiliumNetworkPolicy\"}\n"
			  "  creationTimestamp: \"2021-01-07T00:26:34Z\"\n"
			  "  generation: 1\n"
			  "  managedFields:\n"
			  "  - apiVersion: cilium.io/v2\n"
			  "    fieldsType: FieldsV1\n"
			  "    fieldsV1:\n"
			  "      f:spec:\n"
			  "        .: {}\n"
			  "    manager: kubectl-client-side-apply\n"
			  "    operation: Update\n"
			  "    time: \"2021-01-07T00:26:34Z\"\n"
			  "  name: ccnp-default-deny-egress\n"
			  "  resourceVersion: \"7849\"\n"
			  "  selfLink: /apis/cilium.io/v2/ciliumnetworkpolicies/x\n"
			  "  uid: f776ca84-86dc-4589-ab91-64fccdec468a\n",
			  "spec:\n  egress:\n  - {}\n  endpointSelector: {}\n"));
	load_ok(&set, DOC("CiliumNetworkPolicy", "  name: cnp-specs\n",
			  "specs:\n"
			  "  - description: \"Policy to test multiple rules in a single file\"\n"
			  "    endpointSelector: {matchLabels: {app: ratings, version: v1}}\n"
			  "    ingress:\n"
			  "    - fromEndpoints: [{matchLabels: {app: reviews, track: stable, version: v1}}]\n"
			  "      toPorts:\n"
			  "      - ports: [{port: \"9080\", protocol: TCP}]\n"
			  "        rules: {http: [{method: GET, path: /health}]}\n"
			  "  - endpointSelector: {matchLabels: {app: details, track: stable, version: v1}}\n"
			  "    ingress:\n"
			  "    - fromEndpoints: [{matchLabels: {app: productpage, track: stable, version: v1}}]\n"
			  "      toPorts:\n"
			  "      - ports: [{port: \"9080\", protocol: TCP}]\n"
			  "        rules: {http: [{method: GET, path: \"/.*\"}]}\n"));
	assert_int_equal(set.n, 2);
	assert_int_equal(set.v[1].nrules, 2);
	sluice_policy_set_free(&set);
	load_fails("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\ndescription: \"default deny policy\"\n"
		   "metadata:\n  name: cnp-test-1\nspec:\n  endpointSelector: {}\n",
		   "bad.yaml:3: description: unknown field");
	load_fails("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nfoo: bar\n"
		   "metadata:\n  name: ccnp-test-1\nspec:\n  endpointSelector: {}\n  bar: baz\n",
		   "bad.yaml:8: spec.bar: unknown field");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entity_none, api_setup, api_teardown),
		cmocka_unit_test_setup_teardown(test_entity_slices, api_setup, api_teardown),
		cmocka_unit_test_setup_teardown(test_empty_peer_lists, api_setup, api_teardown),
		cmocka_unit_test_setup_teardown(test_port_rule_without_ports, api_setup, api_teardown),
		cmocka_unit_test(test_is_label_based),
		cmocka_unit_test(test_services),
		cmocka_unit_test_setup_teardown(test_selects_all_endpoints, api_setup, api_teardown),
		cmocka_unit_test(test_selector_validation),
		cmocka_unit_test_setup_teardown(test_cidr_set_excepts, api_setup, api_teardown),
		cmocka_unit_test(test_cidr_forms),
		cmocka_unit_test(test_icmp_fields),
		cmocka_unit_test(test_l4_protocols),
		cmocka_unit_test(test_port_names),
		cmocka_unit_test(test_http_sanitize),
		cmocka_unit_test(test_http_headers),
		cmocka_unit_test(test_http_regex_re2),
		cmocka_unit_test_setup_teardown(test_parse_spec, api_setup, api_teardown),
		cmocka_unit_test(test_parse_node_selector),
		cmocka_unit_test(test_rule_marshalling),
		cmocka_unit_test(test_validator_cases),
		cmocka_unit_test(test_validator_unknown_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
