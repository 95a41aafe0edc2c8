// SPDX-License-Identifier: Apache-2.0
/* test_load.c - the YAML loader: valid documents, scoping and every error. */
#include "testutil.h"

#include <netinet/in.h>

static const char *req_value(const struct sluice_sel_req *r, size_t i)
{
	return i < r->nvalues ? r->values[i] : NULL;
}

/* the requirement on key (any source) or NULL */
static const struct sluice_sel_req *find_req(const struct sluice_selector *s, const char *key)
{
	for (size_t i = 0; i < s->nreqs; i++)
		if (!strcmp(s->reqs[i].key, key))
			return &s->reqs[i];
	return NULL;
}

static void test_valid_cnp(void **state)
{
	(void)state;
	struct sluice_policy_set set = { 0 };
	const struct sluice_sel_req *r;

	load_ok(&set,
		"apiVersion: cilium.io/v2\n"
		"kind: CiliumNetworkPolicy\n"
		"metadata:\n"
		"  name: echo-ingress\n"
		"  namespace: shop\n"
		"  labels: {team: a}\n"
		"spec:\n"
		"  description: allow client\n"
		"  endpointSelector:\n"
		"    matchLabels:\n"
		"      kind: echo\n"
		"  ingress:\n"
		"  - fromEndpoints:\n"
		"    - matchLabels:\n"
		"        other: client\n"
		"    toPorts:\n"
		"    - ports:\n"
		"      - port: \"8080\"\n"
		"        protocol: TCP\n"
		"      - port: 9000\n"
		"        endPort: 9010\n"
		"        protocol: TCP\n"
		"      - port: HTTP-alt\n"
		"        protocol: TCP\n"
		"      - port: \"0X10\"\n" /* Cilium's example: a name, not 16 */
		"        protocol: TCP\n"
		"      rules:\n"
		"        http:\n"
		"        - method: GET\n"
		"          path: \"/public$\"\n"
		"        - method: GET\n"
		"          path: /private\n"
		"          headers: [\"X-Very-Secret-Token: 42\", \"X-Other:1\", X-Present]\n");
	assert_int_equal(set.n, 1);
	const struct sluice_policy *p = &set.v[0];
	assert_int_equal(p->kind, SLUICE_KIND_CNP);
	assert_string_equal(p->name, "echo-ingress");
	assert_string_equal(p->namespace, "shop");
	assert_string_equal(p->file, "t.yaml");
	assert_int_equal(p->line, 1);
	assert_int_equal(p->nrules, 1);
	const struct sluice_rule *rule = &p->rules[0];
	assert_true(rule->has_ingress);
	assert_false(rule->has_egress);
	assert_int_equal(rule->default_deny_ingress, SLUICE_UNSET);
	/* subject: kind=echo plus the namespace */
	assert_int_equal(rule->subject.nreqs, 2);
	r = find_req(&rule->subject, "kind");
	assert_string_equal(r->source, "any");
	assert_int_equal(r->op, SLUICE_SEL_IN);
	assert_string_equal(req_value(r, 0), "echo");
	r = find_req(&rule->subject, SLUICE_LABEL_NAMESPACE);
	assert_string_equal(r->source, "k8s");
	assert_string_equal(req_value(r, 0), "shop");
	/* the peer is scoped to the namespace too */
	const struct sluice_peer_rule *pr = &rule->ingress[0];
	assert_true(pr->has_l3);
	assert_int_equal(pr->nendpoints, 1);
	r = find_req(&pr->endpoints[0], SLUICE_LABEL_NAMESPACE);
	assert_non_null(r);
	assert_string_equal(req_value(r, 0), "shop");
	assert_int_equal(pr->nto_ports, 1);
	const struct sluice_port_rule *ports = &pr->to_ports[0];
	assert_int_equal(ports->nports, 4);
	assert_int_equal(ports->ports[0].port, 8080);
	assert_int_equal(ports->ports[0].protocol, IPPROTO_TCP);
	assert_int_equal(ports->ports[1].port, 9000);
	assert_int_equal(ports->ports[1].end_port, 9010);
	assert_int_equal(ports->ports[1].protocol, IPPROTO_TCP);
	assert_string_equal(ports->ports[2].name, "http-alt");
	assert_string_equal(ports->ports[3].name, "0x10");
	assert_int_equal(ports->ports[3].port, 0);
	assert_true(ports->has_http);
	assert_int_equal(ports->nhttp, 2);
	assert_string_equal(ports->http[0].method, "GET");
	assert_string_equal(ports->http[0].path, "/public$");
	assert_int_equal(ports->http[1].nheaders, 3);
	assert_string_equal(ports->http[1].headers[0], "X-Very-Secret-Token: 42");
	assert_string_equal(ports->http[1].headers[1], "X-Other: 1");
	assert_string_equal(ports->http[1].headers[2], "X-Present");
	sluice_policy_set_free(&set);
}

static void test_default_namespace_and_sections(void **state)
{
	(void)state;
	struct sluice_policy_set set = { 0 };

	load_ok(&set,
		"apiVersion: cilium.io/v2\n"
		"kind: CiliumNetworkPolicy\n"
		"metadata: {name: p}\n"
		"spec:\n"
		"  endpointSelector: {}\n"
		"  ingress: [{}]\n"
		"  egress: []\n"
		"  egressDeny:\n"
		"  - toEntities: [world]\n"
		"    toPorts: [{ports: [{port: \"25\"}]}]\n"
		"  enableDefaultDeny: {ingress: false}\n");
	const struct sluice_rule *r = &set.v[0].rules[0];
	assert_string_equal(set.v[0].namespace, "default");
	assert_true(r->has_ingress);
	assert_false(r->has_egress); /* Cilium: an empty list is no section */
	assert_true(r->has_egress_deny);
	assert_int_equal(r->default_deny_ingress, SLUICE_FALSE);
	assert_int_equal(r->default_deny_egress, SLUICE_UNSET);
	/* "- {}" selects no peer */
	assert_true(r->ingress[0].has_l3);
	assert_int_equal(r->ingress[0].nendpoints, 0);
	assert_int_equal(r->egress_deny[0].entities, SLUICE_ENTITY_WORLD);
	sluice_policy_set_free(&set);
}

static void test_ccnp_and_multidoc(void **state)
{
	(void)state;
	struct sluice_policy_set set = { 0 };

	load_ok(&set,
		"---\n"
		"apiVersion: cilium.io/v2\n"
		"kind: CiliumClusterwideNetworkPolicy\n"
		"metadata:\n"
		"  name: cw\n"
		"spec:\n"
		"  endpointSelector: {matchLabels: {app: db}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{}, {matchLabels: {\"k8s:io.kubernetes.pod.namespace\": prod}},\n"
		"                    {matchLabels: {\"reserved:host\": \"\"}}]\n"
		"  - toPorts: [{ports: [{port: \"53\", protocol: UDP}]}]\n"
		"---\n"
		"---\n"
		"apiVersion: cilium.io/v2\n"
		"kind: CiliumNetworkPolicy\n"
		"metadata: {name: two, namespace: ns2}\n"
		"specs:\n"
		"- endpointSelector: {}\n"
		"  egress: [{toEntities: [cluster, kube-apiserver]}]\n"
		"- endpointSelector: {matchExpressions: [{key: tier, operator: Exists}]}\n"
		"  ingressDeny: [{fromCIDR: [10.0.0.0/8, \"2001:db8::/32\"]}, {fromCIDRSet: [{cidr: 192.168.0.0/16, except: [192.168.1.0/24]}]}]\n");
	assert_int_equal(set.n, 2);
	const struct sluice_policy *cw = &set.v[0];
	assert_int_equal(cw->kind, SLUICE_KIND_CCNP);
	assert_null(cw->namespace);
	assert_int_equal(cw->line, 2);
	/* subject of a CCNP is not scoped */
	assert_int_equal(cw->rules[0].subject.nreqs, 1);
	const struct sluice_peer_rule *pr = &cw->rules[0].ingress[0];
	/* {} becomes "any pod": namespace Exists */
	assert_int_equal(pr->endpoints[0].nreqs, 1);
	assert_int_equal(pr->endpoints[0].reqs[0].op, SLUICE_SEL_EXISTS);
	/* an explicit namespace is kept as is */
	assert_int_equal(pr->endpoints[1].nreqs, 1);
	assert_string_equal(pr->endpoints[1].reqs[0].source, "k8s");
	/* reserved selectors are never scoped */
	assert_int_equal(pr->endpoints[2].nreqs, 1);
	assert_string_equal(pr->endpoints[2].reqs[0].source, "reserved");
	assert_string_equal(pr->endpoints[2].reqs[0].key, "host");
	/* ports only: any peer */
	assert_false(cw->rules[0].ingress[1].has_l3);

	const struct sluice_policy *two = &set.v[1];
	assert_int_equal(two->nrules, 2);
	assert_int_equal(two->rules[0].egress[0].entities,
			 SLUICE_ENTITY_CLUSTER | SLUICE_ENTITY_KUBE_APISERVER);
	const struct sluice_peer_rule *d = &two->rules[1].ingress_deny[0];
	assert_int_equal(d->ncidrs, 2);
	assert_int_equal(d->cidrs[0].prefixlen, 104);
	assert_int_equal(d->cidrs[0].addr[12], 10);
	assert_int_equal(d->cidrs[0].addr[10], 0xff);
	assert_int_equal(d->cidrs[1].prefixlen, 32);
	d = &two->rules[1].ingress_deny[1];
	assert_int_equal(d->ncidrs, 1);
	assert_int_equal(d->cidrs[0].nexcept, 1);
	assert_int_equal(d->cidrs[0].except[0].prefixlen, 120);
	const struct sluice_sel_req *r = find_req(&two->rules[1].subject, "tier");
	assert_int_equal(r->op, SLUICE_SEL_EXISTS);
	sluice_policy_set_free(&set);
}

static void test_source_prefixes(void **state)
{
	(void)state;
	struct sluice_policy_set set = { 0 };

	load_ok(&set,
		"apiVersion: cilium.io/v2\n"
		"kind: CiliumNetworkPolicy\n"
		"metadata: {name: p}\n"
		"spec:\n"
		"  endpointSelector:\n"
		"    matchLabels: {\"k8s:app\": a, \"any:b\": x, \"foo:bar\": y, \"example.com/c:d\": z}\n"
		"    matchExpressions:\n"
		"    - {key: \"container:e\", operator: NotIn, values: [q]}\n"
		"  ingress: [{fromEntities: [all]}]\n");
	const struct sluice_selector *s = &set.v[0].rules[0].subject;
	const struct sluice_sel_req *r;
	r = find_req(s, "app");
	assert_string_equal(r->source, "k8s");
	r = find_req(s, "b");
	assert_string_equal(r->source, "any");
	r = find_req(s, "foo:bar");
	assert_string_equal(r->source, "any");
	r = find_req(s, "example.com/c:d");
	assert_string_equal(r->source, "any");
	r = find_req(s, "e");
	assert_string_equal(r->source, "container");
	assert_int_equal(r->op, SLUICE_SEL_NOT_IN);
	sluice_policy_set_free(&set);
}

#define HDR "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: p\nspec:\n  endpointSelector: {}\n"

static void test_errors(void **state)
{
	(void)state;
	load_fails(HDR "  ingres: []\n", "bad.yaml:7: spec.ingres: unknown field");
	load_fails(HDR "  ingress: {}\n", "bad.yaml:7: spec.ingress: expected a list");
	load_fails(HDR "  ingress: [[]]\n", "bad.yaml:7: spec.ingress[0]: expected a mapping");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: [1]}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].ports[0].port: expected a string");
	load_fails(HDR
		   "  ingress:\n"
		   "  - fromEndpoints:\n"
		   "    - matchExpressions:\n"
		   "      - key: app\n"
		   "        operator: Equals\n"
		   "        values: [a]\n",
		   "bad.yaml:11: spec.ingress[0].fromEndpoints[0].matchExpressions[0].operator: unknown operator \"Equals\" (want In, NotIn, Exists, DoesNotExist)");
	load_fails(HDR "  ingress: [{fromEndpoints: [{matchExpressions: [{key: a, operator: In}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].fromEndpoints[0].matchExpressions[0].values: operator In needs at least one value");
	load_fails(HDR "  ingress: [{fromEndpoints: [{matchExpressions: [{key: a, operator: Exists, values: [x]}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].fromEndpoints[0].matchExpressions[0].values: operator Exists takes no values");
	load_fails(HDR
		   "  ingress:\n"
		   "  - toPorts:\n"
		   "    - ports:\n"
		   "      - port: \"80_a\"\n",
		   "bad.yaml:10: spec.ingress[0].toPorts[0].ports[0].port: invalid port \"80_a\"");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"65536\"}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].ports[0].port: invalid port \"65536\"");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"-http\"}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].ports[0].port: invalid port \"-http\"");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"80\", endPort: 79}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].ports[0].endPort: endPort 79 is lower than port 80");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: tcp}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].ports[0].protocol: unknown protocol \"tcp\" (want TCP, UDP, SCTP or ANY)");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{path: \"/a(\"}]}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].rules.http[0].path: invalid regex \"/a(\": missing closing parenthesis at offset 3");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{method: \"a)|(b\"}]}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].rules.http[0].method: invalid regex \"a)|(b\": unmatched closing parenthesis at offset 1");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{headers: [\"Bad@Name: x\"]}]}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].rules.http[0].headers[0]: invalid header \"Bad@Name: x\" (want \"Name\" or \"Name: value\")");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{headers: [\": x\"]}]}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].rules.http[0].headers[0]: invalid header \": x\" (want \"Name\" or \"Name: value\")");
	load_fails(HDR "  ingressDeny:\n  - toPorts:\n    - ports: [{port: \"80\"}]\n      rules: {http: [{}]}\n",
		   "bad.yaml:10: spec.ingressDeny[0].toPorts[0].rules: L7 rules are not allowed in a deny section");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"53\", protocol: UDP}], rules: {http: [{}]}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].rules.http: L7 rules can only apply to TCP (ports[0] is UDP)");
	/* Cilium's PortRule and CIDRRule validation */
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: ANY}], rules: {http: [{}]}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].rules.http: L7 rules can only apply to TCP (ports[0] is ANY: write protocol: TCP)");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"80\"}], rules: {http: [{}]}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].rules.http: L7 rules can only apply to TCP (ports[0] is ANY: write protocol: TCP)");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"0\", protocol: TCP}], rules: {http: [{}]}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].rules.http: L7 rules can not be used when a port is 0 (ports[0])");
	load_fails(HDR "  egress: [{toPorts: [{ports: [{port: \"443\", protocol: TCP}], serverNames: [a.com], rules: {http: [{}]}}]}]\n",
		   "bad.yaml:7: spec.egress[0].toPorts[0].rules.http: serverNames are not allowed with L7 rules without TLS termination (terminatingTLS)");
	load_fails(HDR "  egress: [{toCIDRSet: [{cidr: 10.0.0.1}]}]\n",
		   "bad.yaml:7: spec.egress[0].toCIDRSet[0].cidr: invalid CIDR \"10.0.0.1\": want ADDRESS/LENGTH (a bare address goes in toCIDR/fromCIDR)");
	load_fails(HDR "  egress: [{toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.0.0.1]}]}]\n",
		   "bad.yaml:7: spec.egress[0].toCIDRSet[0].except[0]: invalid CIDR \"10.0.0.1\": want ADDRESS/LENGTH");
	{
		char y[4096];
		int n = snprintf(y, sizeof(y), "%s", HDR "  ingress: [{toPorts: [{ports: [");

		for (int i = 0; i < 41; i++)
			n += snprintf(y + n, sizeof(y) - (size_t)n, "%s{port: \"%d\"}", i ? "," : "", 100 + i);
		snprintf(y + n, sizeof(y) - (size_t)n, "]}]}]\n");
		load_fails(y, "bad.yaml:7: spec.ingress[0].toPorts[0].ports: too many ports (41), the max is 40");
	}
	load_fails(HDR "  egress: [{toFQDNs: [{matchName: a.com}]}]\n",
		   "bad.yaml:7: spec.egress[0].toFQDNs: field not supported by sluice");
	load_fails(HDR "  ingress: [{fromEntities: [everything]}]\n",
		   "bad.yaml:7: spec.ingress[0].fromEntities[0]: unknown entity \"everything\" (want world, host, cluster, all, remote-node, init, health, unmanaged, kube-apiserver, ingress, namespace or none)");
	load_fails(HDR "  ingress: [{fromCIDR: [10.0.0.0/33]}]\n",
		   "bad.yaml:7: spec.ingress[0].fromCIDR[0]: invalid CIDR \"10.0.0.0/33\"");
	load_fails(HDR "  ingress: [{fromCIDRSet: [{cidr: 10.0.0.0/8, except: [11.0.0.0/16]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].fromCIDRSet[0].except[0]: \"11.0.0.0/16\" is not inside cidr \"10.0.0.0/8\"");
	/* Cilium's rule validation: one kind of peer selector per rule, in
	 * every section; empty lists do not count */
	load_fails(HDR "  ingress: [{fromEndpoints: [{}], fromCIDR: [10.0.0.0/8]}]\n",
		   "bad.yaml:7: spec.ingress[0]: combining fromEndpoints and fromCIDR in one rule is not supported (Cilium refuses it too): write them as two rules");
	load_fails(HDR "  ingressDeny: [{fromEntities: [world], fromCIDRSet: [{cidr: 10.0.0.0/8}]}]\n",
		   "bad.yaml:7: spec.ingressDeny[0]: combining fromEntities and fromCIDRSet in one rule is not supported (Cilium refuses it too): write them as two rules");
	load_fails(HDR "  egress: [{toEndpoints: [{}], toServices: [{k8sService: {serviceName: s}}]}]\n",
		   "bad.yaml:7: spec.egress[0]: combining toEndpoints and toServices in one rule is not supported (Cilium refuses it too): write them as two rules");
	load_fails(HDR "  egressDeny: [{toCIDR: [10.0.0.0/8], toEntities: [world]}]\n",
		   "bad.yaml:7: spec.egressDeny[0]: combining toEntities and toCIDR in one rule is not supported (Cilium refuses it too): write them as two rules");
	load_fails(HDR "  egress: [{toEndpoints: [], toCIDR: [10.0.0.0/8], toEntities: [world]}]\n",
		   "bad.yaml:7: spec.egress[0]: combining toEntities and toCIDR in one rule is not supported (Cilium refuses it too): write them as two rules");
	/* DNS rules: egress only, on explicit ports that are not ranges, alone
	 * in their rules block */
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"53\", protocol: ANY}], rules: {dns: [{matchName: a.com}]}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].rules.dns: DNS rules are not allowed on ingress");
	load_fails(HDR "  egress: [{toPorts: [{rules: {dns: [{matchName: a.com}]}}]}]\n",
		   "bad.yaml:7: spec.egress[0].toPorts[0].rules.dns: port 53 must be specified for DNS rules (toPorts[].ports)");
	load_fails(HDR "  egress: [{toPorts: [{ports: [{port: \"443\", endPort: 445, protocol: TCP}], rules: {dns: [{matchName: a.com}]}}]}]\n",
		   "bad.yaml:7: spec.egress[0].toPorts[0].rules.dns: DNS rules do not support port ranges (ports[0] has endPort)");
	load_fails(HDR "  egress: [{toPorts: [{ports: [{port: \"53\", protocol: TCP}], rules: {http: [{}], dns: [{matchName: a.com}]}}]}]\n",
		   "bad.yaml:7: spec.egress[0].toPorts[0].rules.dns: multiple L7 protocol rule types (http and dns) in one rules block: write two toPorts entries");
	load_fails(HDR "  enableDefaultDeny: {ingress: maybe}\n",
		   "bad.yaml:7: spec.enableDefaultDeny.ingress: expected a boolean");
	load_fails("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n"
		   "spec:\n  nodeSelector: {}\n  ingress: [{}]\n",
		   "bad.yaml:5: spec.nodeSelector: host policies (nodeSelector) are not supported by sluice; use endpointSelector");
	load_fails("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n"
		   "spec:\n  ingress: [{}]\n",
		   "bad.yaml:5: spec.endpointSelector: missing required field");
	load_fails("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {namespace: x}\n"
		   "spec: {endpointSelector: {}, ingress: [{}]}\n",
		   "bad.yaml:3: metadata.name: missing required field");
	load_fails("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: Bad_Name}\n"
		   "spec: {endpointSelector: {}, ingress: [{}]}\n",
		   "bad.yaml:3: metadata.name: invalid name \"Bad_Name\" (want a DNS-1123 subdomain: lower case letters, digits, '-' and '.')");
	load_fails("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, owner: me}\n"
		   "spec: {endpointSelector: {}, ingress: [{}]}\n",
		   "bad.yaml:3: metadata.owner: unknown field");
	load_fails("apiVersion: cilium.io/v1\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n",
		   "bad.yaml:1: apiVersion: unsupported apiVersion \"cilium.io/v1\" for CiliumNetworkPolicy (want cilium.io/v2)");
	load_fails("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
		   "bad.yaml:2: kind: unsupported kind \"Pod\" (want CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, CiliumCIDRGroup or NetworkPolicy)");
	load_fails("apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p, namespace: x}\n"
		   "spec: {endpointSelector: {}, ingress: [{}]}\n",
		   "bad.yaml:3: metadata.namespace: a CiliumClusterwideNetworkPolicy has no namespace");
	load_fails(HDR "  ingress: [{}]\n  ingress: [{}]\n",
		   "bad.yaml:8: spec.ingress: duplicate field (first at line 7)");
	/* YAML syntax: the line libyaml reports */
	load_fails("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: p\n"
		   "spec:\n  endpointSelector: {}\n  ingress: [{]\n",
		   "bad.yaml:7: yaml syntax error: did not find expected node content while parsing a flow node");
}

static void test_collects_all_errors(void **state)
{
	(void)state;
	struct sluice_policy_set set = { 0 };
	struct sluice_diags errs = { 0 }, warns = { 0 };
	const char *y = HDR
		"  ingres: []\n"
		"  egress: [{toPorts: [{ports: [{port: \"x-\"}, {port: \"1\", endPort: 0}]}]}]\n";

	assert_int_equal(sluice_policy_load("bad.yaml", y, strlen(y), &set, &errs, &warns), -22);
	assert_int_equal(errs.n, 2);
	assert_true(diags_have(&errs, "bad.yaml:7: spec.ingres: unknown field"));
	assert_true(diags_have(&errs, "bad.yaml:8: spec.egress[0].toPorts[0].ports[0].port: invalid port \"x-\""));
	sluice_diags_free(&errs);
	sluice_diags_free(&warns);
}

static void test_all_or_nothing(void **state)
{
	(void)state;
	struct sluice_policy_set set = { 0 };
	struct sluice_diags errs = { 0 }, warns = { 0 };
	const char *y = HDR "  ingress: [{}]\n---\n" HDR "  ingress: [{fromEntities: [nope]}]\n";

	load_ok(&set, HDR "  ingress: [{}]\n");
	assert_int_equal(set.n, 1);
	/* same name in a valid doc, then an invalid doc: nothing changes */
	assert_int_equal(sluice_policy_load("bad.yaml", y, strlen(y), &set, &errs, &warns), -22);
	assert_int_equal(set.n, 1);
	assert_int_equal(errs.n, 1);
	sluice_diags_free(&errs);
	sluice_policy_set_free(&set);
}

static void test_duplicates(void **state)
{
	(void)state;
	struct sluice_policy_set a = { 0 }, b = { 0 };
	struct sluice_diags errs = { 0 };

	load_fails(HDR "  ingress: [{}]\n---\n" HDR "  ingress: [{}]\n",
		   "bad.yaml:9: metadata.name: duplicate CiliumNetworkPolicy \"default/p\" (first defined at bad.yaml:1)");
	/* same name in another namespace or kind is fine */
	load_ok(&a, HDR "  ingress: [{}]\n---\n"
		"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: o}\n"
		"spec: {endpointSelector: {}, ingress: [{}]}\n---\n"
		"apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\n"
		"spec: {endpointSelector: {}, ingress: [{}]}\n");
	assert_int_equal(a.n, 3);
	assert_int_equal(sluice_policy_set_check(&a, &errs), 0);
	/* two loads into one set: set_check finds it */
	load_ok(&a, HDR "  egress: [{}]\n");
	assert_int_equal(sluice_policy_set_check(&a, &errs), -22);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0].msg,
			    "t.yaml:1: metadata.name: duplicate CiliumNetworkPolicy \"default/p\" (first defined at t.yaml:1)");
	sluice_diags_free(&errs);

	/* merge replaces same kind/ns/name, remove deletes */
	load_ok(&b, HDR "  egress: [{}]\n---\n"
		"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: q}\n"
		"spec: {endpointSelector: {}, ingress: [{}]}\n");
	a.n--; /* drop the duplicate again */
	sluice_policy_free(&a.v[a.n]);
	a.v[0].ref_id = 7; /* the caller's number for default/p */
	a.v[1].ref_id = 8;
	b.v[1].ref_id = 0;
	assert_int_equal(sluice_policy_set_merge(&a, &b), 0);
	assert_int_equal(a.n, 4);
	assert_int_equal(b.n, 0);
	assert_true(a.v[0].rules[0].has_egress);
	/* the new version of default/p keeps the number; q is new, without one */
	assert_int_equal(a.v[0].ref_id, 7);
	assert_int_equal(a.v[1].ref_id, 8);
	assert_int_equal(a.v[3].ref_id, 0);
	assert_int_equal(sluice_policy_set_remove(&a, SLUICE_KIND_CNP, "o", "p"), 0);
	assert_int_equal(sluice_policy_set_remove(&a, SLUICE_KIND_CNP, "o", "p"), -2);
	assert_int_equal(sluice_policy_set_remove(&a, -1, NULL, "p"), 0); /* the CCNP */
	assert_int_equal(a.n, 2);
	sluice_policy_set_free(&a);
	sluice_policy_set_free(&b);
}

/* Cilium's Rule.Validate: "rule must have at least one of Ingress,
 * IngressDeny, Egress, EgressDeny" (an empty list is none) */
static void test_rule_without_sections(void **state)
{
	(void)state;
	load_fails(HDR "  ingress: []\n",
		   "bad.yaml:6: spec: rule must have at least one of ingress, ingressDeny, egress or egressDeny: a rule without one enforces nothing (use `ingress: [{}]` to deny all ingress)");
}

/* terminatingTLS / originatingTLS / serverNames (issue #15) */
static void test_tls_fields(void **state)
{
	struct sluice_policy_set set = { 0 };
	const struct sluice_port_rule *pr;

	(void)state;
	load_ok(&set,
		"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: web}\n"
		"spec:\n  endpointSelector: {}\n"
		"  egress:\n"
		"  - toPorts:\n"
		"    - ports: [{port: \"443\", protocol: TCP}]\n"
		"      terminatingTLS: {secret: {name: front}, certificate: my.crt}\n"
		"      originatingTLS: {secret: {namespace: ops, name: ca}}\n"
		"      serverNames: [\"api.example.com\", \"*.example.com\", \"**.deep.test\"]\n");
	pr = &set.v[0].rules[0].egress[0].to_ports[0];
	assert_true(sluice_port_rule_has_tls(pr));
	assert_string_equal(pr->terminating_tls->secret_ns, "web"); /* the policy's namespace */
	assert_string_equal(pr->terminating_tls->secret_name, "front");
	assert_string_equal(pr->terminating_tls->certificate, "my.crt");
	assert_null(pr->terminating_tls->private_key); /* default tls.key */
	assert_string_equal(pr->originating_tls->secret_ns, "ops");
	assert_int_equal(pr->nserver_names, 3);
	assert_non_null(strstr(pr->terminating_tls->where, "spec.egress[0].toPorts[0].terminatingTLS"));
	sluice_policy_set_free(&set);

	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"443\"}], terminatingTLS: {}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].terminatingTLS.secret: missing required field");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"443\"}], originatingTLS: {secret: {namespace: x}}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].originatingTLS.secret: name: missing required field");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"443\"}], serverNames: [\"a b\"]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].serverNames[0]: invalid server name \"a b\" (letters, digits, '-', '_', '*' and dots)");
	load_fails(HDR "  ingress: [{toPorts: [{serverNames: [a.com]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0]: TLS (terminatingTLS, originatingTLS, serverNames) needs at least one port");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"53\", protocol: UDP}], serverNames: [a.com]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0]: TLS can only apply to TCP (ports[0] is UDP)");
	load_fails(HDR "  ingressDeny: [{toPorts: [{ports: [{port: \"443\"}], serverNames: [a.com]}]}]\n",
		   "bad.yaml:7: spec.ingressDeny[0].toPorts[0].serverNames: TLS is not allowed in a deny section");
	load_fails(HDR "  ingress: [{toPorts: [{ports: [{port: \"443\"}], terminatingTLS: {secret: {name: a}, bogus: 1}}]}]\n",
		   "bad.yaml:7: spec.ingress[0].toPorts[0].terminatingTLS.bogus: unknown field");
}

static void test_header_matches(void **state)
{
	struct sluice_policy_set set = { 0 };
	const struct sluice_http_rule *r;

	(void)state;
	/* the CLI's client-egress-l7-http-matchheader-secret */
	load_ok(&set,
		"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
		"metadata: {name: p, namespace: cilium-test-1}\n"
		"spec:\n  endpointSelector: {matchLabels: {other: client}}\n"
		"  egress:\n"
		"  - toEndpoints: [{matchLabels: {kind: echo}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"8080\", protocol: TCP}]\n"
		"      rules:\n"
		"        http:\n"
		"        - method: \"POST\"\n"
		"          path: \"/auth-header-required$\"\n"
		"          headerMatches:\n"
		"          - name: Authorization\n"
		"            mismatch: REPLACE\n"
		"            secret:\n"
		"              name: header-match\n"
		"          - {name: X-Log, value: \"1\", mismatch: LOG}\n"
		"          - {name: X-Need, value: \"2\", mismatch: \"\"}\n"
		"          - {name: X-Present}\n"
		"          - {name: X-Other, secret: {namespace: ops, name: s}, value: v, mismatch: DELETE}\n"
		"          - {name: X-Add, value: a, mismatch: ADD}\n");
	r = &set.v[0].rules[0].egress[0].to_ports[0].http[0];
	assert_int_equal(r->nheader_matches, 6);
	assert_string_equal(r->header_matches[0].name, "Authorization");
	assert_null(r->header_matches[0].value);
	assert_int_equal(r->header_matches[0].mismatch, SLUICE_MISMATCH_REPLACE);
	assert_string_equal(r->header_matches[0].secret->secret_ns, "cilium-test-1");
	assert_string_equal(r->header_matches[0].secret->secret_name, "header-match");
	assert_int_equal(r->header_matches[0].line, 15);
	assert_int_equal(r->header_matches[1].mismatch, SLUICE_MISMATCH_LOG);
	assert_int_equal(r->header_matches[2].mismatch, SLUICE_MISMATCH_FAIL);
	assert_string_equal(r->header_matches[2].value, "2");
	assert_null(r->header_matches[3].value);
	assert_null(r->header_matches[3].secret);
	assert_string_equal(r->header_matches[4].secret->secret_ns, "ops");
	assert_int_equal(r->header_matches[4].mismatch, SLUICE_MISMATCH_DELETE);
	assert_int_equal(r->header_matches[5].mismatch, SLUICE_MISMATCH_ADD);
	sluice_policy_set_free(&set);

#define HM(x) HDR "  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{headerMatches: [" x "]}]}}]}]\n"
#define HM_AT "bad.yaml:7: spec.ingress[0].toPorts[0].rules.http[0].headerMatches[0]"
	load_fails(HM("{value: x}"), HM_AT ".name: missing required field");
	load_fails(HM("{name: \"Bad Name\"}"), HM_AT ".name: invalid header name \"Bad Name\"");
	load_fails(HM("{name: X, mismatch: DROP}"),
		   HM_AT ".mismatch: unknown action \"DROP\" (want LOG, ADD, DELETE, REPLACE, or none to deny)");
	load_fails(HM("{name: X, mismatch: replace}"),
		   HM_AT ".mismatch: unknown action \"replace\" (want LOG, ADD, DELETE, REPLACE, or none to deny)");
	load_fails(HM("{name: X, secret: {namespace: a}}"), HM_AT ".secret: name: missing required field");
	load_fails(HM("{name: X, secret: {name: a, key: b}}"), HM_AT ".secret.key: unknown field");
	load_fails(HM("{name: X, bogus: 1}"), HM_AT ".bogus: unknown field");
	load_fails(HM("{name: Content-Length, value: \"0\", mismatch: REPLACE}"),
		   HM_AT ": REPLACE cannot change Content-Length: it frames the request or describes one hop, so an edit could make the server read another request than the one the rules judged");
	load_fails(HM("{name: transfer-encoding, mismatch: DELETE}"),
		   HM_AT ": DELETE cannot change transfer-encoding: it frames the request or describes one hop, so an edit could make the server read another request than the one the rules judged");
	{
		struct sluice_diags errs = { 0 }, warns = { 0 };
		const char *y = HM("{name: X-Empty, mismatch: ADD}");

		assert_int_equal(sluice_policy_load("w.yaml", y, strlen(y), &set, &errs, &warns), 0);
		assert_int_equal(warns.n, 1);
		assert_string_equal(warns.v[0].msg, "w.yaml:7: spec.ingress[0].toPorts[0].rules.http[0].headerMatches[0]: "
				    "ADD without a value or a secret sets X-Empty to an empty value");
		sluice_diags_free(&warns);
		sluice_policy_set_free(&set);
	}
	/* comparing a framing field is fine */
	load_ok(&set, HM("{name: Content-Length, value: \"0\"}, {name: Host, value: a, mismatch: LOG}"));
	sluice_policy_set_free(&set);
#undef HM
#undef HM_AT
}

/* icmps (Cilium's ICMPRule): each type a "port" of protocol ICMP or ICMPv6 */
static void test_icmps(void **state)
{
	struct sluice_policy_set set = { 0 };
	const struct sluice_peer_rule *r;

	(void)state;
	load_ok(&set, HDR
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {other: client}}]\n"
		"    icmps:\n"
		"    - fields:\n"
		"      - {family: IPv4, type: 8}\n"
		"      - {family: IPv6, type: 128}\n"
		"    - fields: [{type: EchoReply}, {type: TimeExceeded}, {family: IPv6, type: NeighborSolicitation}]\n"
		"  ingressDeny:\n"
		"  - icmps: [{fields: [{type: \"13\"}]}]\n");
	r = &set.v[0].rules[0].ingress[0];
	assert_true(r->has_l3);
	assert_int_equal(r->nto_ports, 1);
	assert_int_equal(r->to_ports[0].nports, 5);
	assert_int_equal(r->to_ports[0].ports[0].protocol, IPPROTO_ICMP);
	assert_int_equal(r->to_ports[0].ports[0].port, 8);
	assert_int_equal(r->to_ports[0].ports[1].protocol, IPPROTO_ICMPV6);
	assert_int_equal(r->to_ports[0].ports[1].port, 128);
	assert_int_equal(r->to_ports[0].ports[2].port, 0);
	assert_int_equal(r->to_ports[0].ports[3].port, 11);
	assert_int_equal(r->to_ports[0].ports[4].port, 135);
	assert_int_equal(r->to_ports[0].ports[4].protocol, IPPROTO_ICMPV6);
	r = &set.v[0].rules[0].ingress_deny[0];
	assert_false(r->has_l3 && r->nendpoints); /* no peer: every peer */
	assert_int_equal(r->to_ports[0].ports[0].port, 13);
	sluice_policy_set_free(&set);

	load_fails(HDR "  ingress: [{icmps: [{fields: [{type: 8}]}], toPorts: [{ports: [{port: \"80\"}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].icmps: the icmps block may only be present without toPorts (define a separate rule to use toPorts)");
	load_fails(HDR "  ingress: [{icmps: [{fields: [{type: 300}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].icmps[0].fields[0].type: invalid ICMP type \"300\" (0-255 or a name)");
	load_fails(HDR "  ingress: [{icmps: [{fields: [{type: Ping}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].icmps[0].fields[0].type: unknown IPv4 ICMP type \"Ping\"");
	load_fails(HDR "  ingress: [{icmps: [{fields: [{type: EchoRequest, family: IPv4}, {type: PacketTooBig}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].icmps[0].fields[1].type: unknown IPv4 ICMP type \"PacketTooBig\"");
	load_fails(HDR "  ingress: [{icmps: [{fields: [{family: IPv4}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].icmps[0].fields[0].type: missing required field");
	load_fails(HDR "  ingress: [{icmps: [{}]}]\n",
		   "bad.yaml:7: spec.ingress[0].icmps[0].fields: missing required field");
	load_fails(HDR "  ingress: [{icmps: [{fields: [{type: 8, code: 0}]}]}]\n",
		   "bad.yaml:7: spec.ingress[0].icmps[0].fields[0].code: unknown field");
}

static void test_accepts_cilium_extras(void **state)
{
	(void)state;
	struct sluice_policy_set set = { 0 };

	/* kubectl get -o yaml output and the dns-only policy of the CLI tests */
	load_ok(&set,
		"apiVersion: cilium.io/v2\n"
		"kind: CiliumNetworkPolicy\n"
		"metadata:\n"
		"  name: client-egress-only-dns\n"
		"  namespace: cilium-test-1\n"
		"  uid: 1234\n"
		"  resourceVersion: \"5\"\n"
		"  annotations: {a: b}\n"
		"spec:\n"
		"  endpointSelector: {matchLabels: {kind: client}}\n"
		"  egress:\n"
		"  - toEndpoints:\n"
		"    - matchExpressions:\n"
		"      - {key: k8s-app, operator: In, values: [kube-dns, coredns]}\n"
		"      - {key: io.kubernetes.pod.namespace, operator: In, values: [kube-system]}\n"
		"    toPorts:\n"
		"    - ports: [{port: \"53\", protocol: UDP}, {port: \"53\", protocol: TCP}]\n"
		"      rules:\n"
		"        dns: [{matchPattern: \"*\"}]\n"
		"status: {}\n");
	const struct sluice_selector *s = &set.v[0].rules[0].egress[0].endpoints[0];
	/* has its own namespace requirement: not scoped */
	assert_int_equal(s->nreqs, 2);
	sluice_policy_set_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_cnp),
		cmocka_unit_test(test_default_namespace_and_sections),
		cmocka_unit_test(test_ccnp_and_multidoc),
		cmocka_unit_test(test_source_prefixes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_collects_all_errors),
		cmocka_unit_test(test_all_or_nothing),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_rule_without_sections),
		cmocka_unit_test(test_accepts_cilium_extras),
		cmocka_unit_test(test_tls_fields),
		cmocka_unit_test(test_header_matches),
		cmocka_unit_test(test_icmps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
