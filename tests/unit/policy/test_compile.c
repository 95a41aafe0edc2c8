// SPDX-License-Identifier: Apache-2.0
/*
 * test_compile.c - the compiler: trie keys, precedence, default deny and the
 * L7 table, each a small story: these pods, this policy, these entries.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <time.h>

#define IN SLUICE_DIR_INGRESS
#define EG SLUICE_DIR_EGRESS

struct fixture {
	struct sluice_identity_table *idt;
	uint32_t web, client, clientb, db, dns;
	struct sluice_named_port web_ports[1];
	struct sluice_compile_endpoint eps[3];
	struct sluice_policy_set set;
	struct sluice_compiled out;
};

static uint32_t pod(struct fixture *f, const char *ns, const char *labels)
{
	struct sluice_labels l = { 0 }, id = { 0 };
	uint32_t r;

	assert_int_equal(sluice_labels_parse(&l, labels, "k8s", NULL), 0);
	assert_int_equal(sluice_pod_identity_labels(&id, ns, &l, NULL), 0);
	r = sluice_idt_acquire(f->idt, &id);
	assert_true(r >= 256);
	sluice_labels_free(&l);
	sluice_labels_free(&id);
	return r;
}

static uint32_t pod_ns(struct fixture *f, const char *ns, const char *labels,
		       const char *ns_labels)
{
	struct sluice_labels l = { 0 }, nl = { 0 }, id = { 0 };
	uint32_t r;

	assert_int_equal(sluice_labels_parse(&l, labels, "k8s", NULL), 0);
	assert_int_equal(sluice_labels_parse(&nl, ns_labels, "k8s", NULL), 0);
	assert_int_equal(sluice_pod_identity_labels(&id, ns, &l, &nl), 0);
	r = sluice_idt_acquire(f->idt, &id);
	sluice_labels_free(&l);
	sluice_labels_free(&nl);
	sluice_labels_free(&id);
	return r;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->idt = sluice_idt_new();
	f->web = pod(f, "default", "app=web,kind=echo");
	f->client = pod(f, "default", "app=client,other=client");
	f->clientb = pod(f, "default", "app=clientb");
	f->db = pod(f, "other", "app=db");
	f->dns = pod_ns(f, "kube-system", "k8s-app=kube-dns", "team=dns");
	f->web_ports[0] = (struct sluice_named_port){ "http-8080", 8080, IPPROTO_TCP };
	f->eps[0] = (struct sluice_compile_endpoint){
		.ep_id = 11, .identity = f->web, .namespace = "default", .named_ports = f->web_ports, .nnamed_ports = 1 };
	f->eps[1] = (struct sluice_compile_endpoint){ .ep_id = 12, .identity = f->client, .namespace = "default" };
	f->eps[2] = (struct sluice_compile_endpoint){ .ep_id = 13, .identity = f->clientb, .namespace = "default" };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sluice_compiled_free(&f->out);
	sluice_policy_set_free(&f->set);
	sluice_idt_free(f->idt);
	free(f);
	return 0;
}

/* compiles the CNP "spec" body (indented by 2) for the three endpoints */
static const struct sluice_ep_compiled *compile_spec(struct fixture *f, const char *spec)
{
	char y[8192];
	struct sluice_diags errs = { 0 };

	snprintf(y, sizeof(y),
		 "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n"
		 "spec:\n%s", spec);
	sluice_compiled_free(&f->out);
	sluice_policy_set_free(&f->set);
	load_ok(&f->set, y);
	assert_int_equal(sluice_policy_compile(&f->set, f->idt, f->eps, 3, &f->out, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(f->out.neps, 3);
	/* always sorted by key bytes */
	for (size_t e = 0; e < f->out.neps; e++)
		for (size_t i = 1; i < f->out.eps[e].nentries; i++)
			assert_true(memcmp(&f->out.eps[e].entries[i - 1].key,
					   &f->out.eps[e].entries[i].key,
					   sizeof(struct sluice_policy_key)) < 0);
	return &f->out.eps[0];
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

static const struct sluice_l7_policy *l7(const struct sluice_ep_compiled *e, uint8_t dir,
					 uint16_t port, uint32_t id)
{
	for (size_t i = 0; i < e->nl7; i++)
		if (e->l7[i].direction == dir && e->l7[i].port == port &&
		    e->l7[i].peer_identity == id)
			return &e->l7[i];
	return NULL;
}

static void test_l3_only(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress: [{fromEndpoints: [{matchLabels: {app: client}}]}]\n");
	const struct sluice_policy_entry *v;

	assert_int_equal(e->ep_id, 11);
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS);
	assert_int_equal(e->nentries, 1);
	v = entry(e, IN, f->client, 0, 40, 0);
	assert_non_null(v);
	assert_int_equal(v->flags, 0);
	assert_int_equal(v->match_kind, SLUICE_MATCH_L3_ONLY);
	assert_int_equal(v->rule_ref, 1);
	/* not selected: nothing */
	assert_int_equal(f->out.eps[1].flags, 0);
	assert_int_equal(f->out.eps[1].nentries, 0);

	/* a policy with the caller's number is named by it */
	{
		struct sluice_diags errs = { 0 };

		f->set.v[0].ref_id = 4242;
		sluice_compiled_free(&f->out);
		assert_int_equal(sluice_policy_compile(&f->set, f->idt, f->eps, 3, &f->out, &errs), 0);
		v = entry(&f->out.eps[0], IN, f->client, 0, 40, 0);
		assert_non_null(v);
		assert_int_equal(v->rule_ref, 4242);
	}
}

static void test_l4_and_any_protocol(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n"
		"  - toPorts: [{ports: [{port: \"53\"}, {port: \"0\", protocol: UDP}]}]\n"
		"  egress:\n"
		"  - toEndpoints: [{matchLabels: {app: db, io.kubernetes.pod.namespace: other}}]\n"
		"    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]\n");

	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 64, 80)->match_kind, SLUICE_MATCH_L3_L4);
	assert_int_equal(entry(e, IN, 0, IPPROTO_TCP, 64, 53)->match_kind, SLUICE_MATCH_L4_ONLY);
	assert_non_null(entry(e, IN, 0, IPPROTO_UDP, 64, 53));
	assert_non_null(entry(e, IN, 0, IPPROTO_SCTP, 64, 53));
	assert_non_null(entry(e, IN, 0, IPPROTO_UDP, 48, 0));
	assert_int_equal(count_dir(e, IN), 5);
	assert_non_null(entry(e, EG, f->db, IPPROTO_TCP, 64, 5432));
	assert_int_equal(count_dir(e, EG), 1);
}

static void test_port_ranges(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts: [{ports: [{port: \"1\", endPort: 65535, protocol: TCP},\n"
		"                       {port: \"5\", endPort: 10, protocol: UDP},\n"
		"                       {port: \"4096\", endPort: 8191, protocol: SCTP}]}]\n");

	/* 1-65535: 1/64, 2/63, 4/62, ..., 32768/49 */
	for (unsigned int bits = 0; bits < 16; bits++)
		assert_non_null(entry(e, IN, f->client, IPPROTO_TCP, (uint8_t)(64 - bits),
				      (uint16_t)(1u << bits)));
	/* 5-10: 5, 6-7, 8-9, 10 */
	assert_non_null(entry(e, IN, f->client, IPPROTO_UDP, 64, 5));
	assert_non_null(entry(e, IN, f->client, IPPROTO_UDP, 63, 6));
	assert_non_null(entry(e, IN, f->client, IPPROTO_UDP, 63, 8));
	assert_non_null(entry(e, IN, f->client, IPPROTO_UDP, 64, 10));
	/* an aligned range is one block */
	assert_non_null(entry(e, IN, f->client, IPPROTO_SCTP, 52, 4096));
	assert_int_equal(e->nentries, 16 + 4 + 1);
}

static void test_deny_precedence(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts: [{ports: [{port: \"80\", protocol: TCP}, {port: \"8080\", protocol: TCP}]}]\n"
		"  - fromEndpoints: [{matchLabels: {app: clientb}}]\n"
		"    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n"
		"  ingressDeny:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts: [{ports: [{port: \"8000\", endPort: 8191, protocol: TCP}]}]\n"
		"  - toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n");

	/* 8080 is inside the denied 8000-8191 for client: written as deny */
	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 64, 8080)->flags, SLUICE_POL_F_DENY);
	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 57, 8064)->flags, SLUICE_POL_F_DENY);
	/* 80: the deny is on ANY; the datapath lets it win over client's allow */
	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 64, 80)->flags, 0);
	assert_int_equal(entry(e, IN, 0, IPPROTO_TCP, 64, 80)->flags, SLUICE_POL_F_DENY);
	assert_int_equal(entry(e, IN, f->clientb, IPPROTO_TCP, 64, 80)->flags, 0);
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS);
}

static void test_deny_l3_covers_everything(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"80\", protocol: TCP}]\n"
		"      rules: {http: [{method: GET}]}\n"
		"    - ports: [{port: \"0\", protocol: UDP}]\n"
		"  ingressDeny: [{fromEndpoints: [{matchLabels: {app: client}}]}]\n");

	assert_int_equal(entry(e, IN, f->client, 0, 40, 0)->flags, SLUICE_POL_F_DENY);
	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 64, 80)->flags, SLUICE_POL_F_DENY);
	assert_int_equal(entry(e, IN, f->client, IPPROTO_UDP, 48, 0)->flags, SLUICE_POL_F_DENY);
	assert_int_equal(e->nl7, 0);
}

static void test_default_deny_flags(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e;

	/* egress only */
	e = compile_spec(f, "  endpointSelector: {matchLabels: {app: web}}\n"
			    "  egress: [{toEntities: [world]}]\n");
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_EGRESS);
	assert_int_equal(entry(e, EG, SLUICE_ID_WORLD, 0, 40, 0)->match_kind, SLUICE_MATCH_L3_ONLY);

	/* deny only still enables default deny */
	e = compile_spec(f, "  endpointSelector: {matchLabels: {app: web}}\n"
			    "  ingressDeny: [{fromEntities: [world]}]\n");
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS);
	assert_int_equal(e->nentries, 1);
	assert_int_equal(entry(e, IN, SLUICE_ID_WORLD, 0, 40, 0)->flags, SLUICE_POL_F_DENY);

	/* enableDefaultDeny false: enforced for denies (and L7 redirects, whose
	 * rules then allow every request), the rest allowed */
	e = compile_spec(f, "  endpointSelector: {matchLabels: {app: web}}\n"
			    "  enableDefaultDeny: {ingress: false}\n"
			    "  ingressDeny: [{fromEntities: [world]}]\n");
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS);
	assert_int_equal(entry(e, IN, SLUICE_ID_WORLD, 0, 40, 0)->flags, SLUICE_POL_F_DENY);
	assert_int_equal(entry(e, IN, 0, 0, 40, 0)->flags, 0);
	assert_int_equal(entry(e, IN, 0, 0, 40, 0)->match_kind, SLUICE_MATCH_ALL);

	/* a second, normal policy selecting the endpoint: default deny again */
	char y[] = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: q}\n"
		   "spec: {endpointSelector: {}, ingress: [{fromEntities: [host]}]}\n";
	load_ok(&f->set, y);
	sluice_compiled_free(&f->out);
	assert_int_equal(sluice_policy_compile(&f->set, f->idt, f->eps, 3, &f->out, NULL), 0);
	e = &f->out.eps[0];
	assert_null(entry(e, IN, 0, 0, 40, 0));
	assert_non_null(entry(e, IN, SLUICE_ID_HOST, 0, 40, 0));
	assert_int_equal(f->out.eps[1].flags, SLUICE_EP_F_ENFORCE_INGRESS); /* client, via {} */
}

static void test_entities(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress: [{fromEntities: [cluster]}]\n"
		"  egress: [{toEntities: [all]}, {toEntities: [host, remote-node, kube-apiserver]},\n"
		"           {toCIDR: [0.0.0.0/0]}, {toCIDR: [10.0.0.0/8]}]\n");
	uint32_t cluster[] = { 1, 3, 4, 5, 6, 7, 8, f->web, f->client, f->clientb, f->db, f->dns };

	for (size_t i = 0; i < sizeof(cluster) / sizeof(cluster[0]); i++)
		assert_non_null(entry(e, IN, cluster[i], 0, 40, 0));
	assert_null(entry(e, IN, SLUICE_ID_WORLD, 0, 40, 0));
	assert_int_equal(count_dir(e, IN), sizeof(cluster) / sizeof(cluster[0]));
	assert_int_equal(entry(e, EG, 0, 0, 40, 0)->match_kind, SLUICE_MATCH_ALL);
	assert_non_null(entry(e, EG, SLUICE_ID_HOST, 0, 40, 0));
	assert_non_null(entry(e, EG, SLUICE_ID_REMOTE_NODE, 0, 40, 0));
	assert_non_null(entry(e, EG, SLUICE_ID_KUBE_APISERVER, 0, 40, 0));
	assert_non_null(entry(e, EG, SLUICE_ID_WORLD, 0, 40, 0)); /* 0.0.0.0/0 */
	/* 10.0.0.0/8 is a CIDR identity of its own */
	assert_int_equal(f->out.ncidrs, 1);
	assert_non_null(entry(e, EG, f->out.cidrs[0].identity, 0, 40, 0));
	assert_int_equal(count_dir(e, EG), 6);

	/* entities select by label, as in Cilium: 7 (the API server on a
	 * node) is remote-node too; the host is kube-apiserver only while the
	 * API server listens on one of its addresses */
	e = compile_spec(f, "  endpointSelector: {matchLabels: {app: web}}\n"
			    "  egress: [{toEntities: [remote-node]}, {toPorts: [{ports: [{port: \"443\"}]}],\n"
			    "            toEntities: [kube-apiserver]}]\n");
	assert_non_null(entry(e, EG, SLUICE_ID_REMOTE_NODE, 0, 40, 0));
	assert_non_null(entry(e, EG, SLUICE_ID_KUBE_APISERVER, 0, 40, 0));
	assert_non_null(entry(e, EG, SLUICE_ID_KUBE_APISERVER, IPPROTO_TCP, 64, 443));
	assert_null(entry(e, EG, SLUICE_ID_HOST, IPPROTO_TCP, 64, 443));
	sluice_idt_set_apiserver_on_host(f->idt, true);
	e = compile_spec(f, "  endpointSelector: {matchLabels: {app: web}}\n"
			    "  egress: [{toPorts: [{ports: [{port: \"443\"}]}], toEntities: [kube-apiserver]}]\n");
	assert_non_null(entry(e, EG, SLUICE_ID_HOST, IPPROTO_TCP, 64, 443));
	assert_non_null(entry(e, EG, SLUICE_ID_KUBE_APISERVER, IPPROTO_TCP, 64, 443));
	assert_null(entry(e, EG, SLUICE_ID_REMOTE_NODE, IPPROTO_TCP, 64, 443));
	assert_int_equal(count_dir(e, EG), 6); /* host and 7, TCP, UDP, SCTP */
	sluice_idt_set_apiserver_on_host(f->idt, false);
}

/* An API server outside the cluster (a managed control plane): a CIDR
 * identity of its own, labelled kube-apiserver and world, as Cilium gives
 * it; selected by both entities and by CIDRs covering it, one identity when
 * a policy names its /32 too, gone with the API server. */
static void test_apiserver_outside(void **state)
{
	struct fixture *f = *state;
	const uint32_t ext = 0xc6336462; /* 198.51.100.98 */
	const struct sluice_ep_compiled *e;
	const struct sluice_labels *l;
	uint32_t id;

	assert_int_equal(sluice_idt_set_apiservers_external(f->idt, &ext, 1), 0);
	e = compile_spec(f, "  endpointSelector: {matchLabels: {app: web}}\n"
			    "  egress: [{toPorts: [{ports: [{port: \"443\"}]}], toEntities: [kube-apiserver]}]\n");
	assert_int_equal(f->out.ncidrs, 1);
	assert_int_equal(f->out.cidrs[0].prefixlen, 128);
	assert_int_equal(f->out.cidrs[0].addr[15], 98);
	assert_int_equal(f->out.cidrs[0].flags, SLUICE_CIDR_F_APISERVER);
	id = f->out.cidrs[0].identity;
	assert_true(id >= SLUICE_ID_LOCAL_MIN);
	l = sluice_idt_labels(f->idt, id);
	assert_non_null(l);
	assert_true(sluice_labels_find(l, "reserved", "kube-apiserver") != NULL);
	assert_true(sluice_labels_find(l, "reserved", "world") != NULL);
	assert_true(sluice_labels_find(l, "cidr", "198.51.100.98/32") != NULL);
	assert_non_null(entry(e, EG, id, IPPROTO_TCP, 64, 443));
	assert_non_null(entry(e, EG, SLUICE_ID_KUBE_APISERVER, IPPROTO_TCP, 64, 443));
	assert_null(entry(e, EG, SLUICE_ID_WORLD, IPPROTO_TCP, 64, 443));
	assert_int_equal(count_dir(e, EG), 6); /* 7 and the CIDR identity, TCP, UDP, SCTP */

	/* world and a covering CIDR select it too; a policy naming its /32
	 * shares the one identity */
	e = compile_spec(f, "  endpointSelector: {matchLabels: {app: web}}\n"
			    "  egress: [{toEntities: [world]}, {toCIDR: [198.51.100.96/30], toPorts: [{ports: [{port: \"80\"}]}]},\n"
			    "           {toCIDR: [198.51.100.98/32], toPorts: [{ports: [{port: \"81\"}]}]}]\n");
	assert_int_equal(f->out.ncidrs, 2);
	assert_int_equal(f->out.cidrs[1].identity, id); /* /32 after /30: sorted by address, then length */
	assert_non_null(entry(e, EG, id, 0, 40, 0));
	assert_non_null(entry(e, EG, id, IPPROTO_TCP, 64, 80));
	assert_non_null(entry(e, EG, id, IPPROTO_TCP, 64, 81));

	/* the API server gone: so is its identity's kube-apiserver label */
	assert_int_equal(sluice_idt_set_apiservers_external(f->idt, NULL, 0), 0);
	e = compile_spec(f, "  endpointSelector: {matchLabels: {app: web}}\n"
			    "  egress: [{toPorts: [{ports: [{port: \"443\"}]}], toEntities: [kube-apiserver]}]\n");
	assert_int_equal(f->out.ncidrs, 0);
	assert_null(sluice_idt_labels(f->idt, id));
	assert_int_equal(count_dir(e, EG), 3);
}

static void test_namespace_scoping(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {}\n"
		"  ingress: [{fromEndpoints: [{}]}]\n"
		"  egress: [{toEndpoints: [{matchLabels: {\"k8s:io.kubernetes.pod.namespace\": kube-system}}]}]\n");

	/* {} in a CNP: the pods of the namespace, not world or other namespaces */
	assert_non_null(entry(e, IN, f->web, 0, 40, 0));
	assert_non_null(entry(e, IN, f->client, 0, 40, 0));
	assert_non_null(entry(e, IN, f->clientb, 0, 40, 0));
	assert_int_equal(count_dir(e, IN), 3);
	assert_non_null(entry(e, EG, f->dns, 0, 40, 0));
	assert_int_equal(count_dir(e, EG), 1);
	/* every endpoint of the namespace is selected */
	assert_int_equal(f->out.eps[2].flags, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	/* namespaces chosen by their labels: still scoped to the own namespace */
	e = compile_spec(f,
		"  endpointSelector: {}\n"
		"  ingress: [{fromEndpoints: [{matchLabels: {\"io.cilium.k8s.namespace.labels.team\": dns}}]}]\n");
	assert_int_equal(count_dir(e, IN), 0);
	/* ... unless the namespace key is named */
	e = compile_spec(f,
		"  endpointSelector: {}\n"
		"  ingress: [{fromEndpoints: [{matchLabels: {\"io.cilium.k8s.namespace.labels.team\": dns},\n"
		"                              matchExpressions: [{key: io.kubernetes.pod.namespace, operator: Exists}]}]}]\n");
	assert_non_null(entry(e, IN, f->dns, 0, 40, 0));
	assert_int_equal(count_dir(e, IN), 1);
}

/*
 * Cilium's namespace entity (the connectivity test's
 * allow-intra-namespace-entity-ccnp.yaml): the pods of the subject's own
 * namespace, found per subject in a clusterwide rule, so each pod's peers
 * are its own namespace's and no other; in a CNP, the policy's namespace.
 */
static void test_namespace_entity(void **state)
{
	struct fixture *f = *state;
	uint32_t dbclient = pod(f, "other", "app=dbclient");
	struct sluice_compile_endpoint eps[2] = {
		f->eps[0],
		{ .ep_id = 14, .identity = f->db, .namespace = "other" },
	};
	struct sluice_diags errs = { 0 };
	const struct sluice_ep_compiled *web, *db, *e;

	load_ok(&f->set, "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
			 "metadata: {name: allow-intra-namespace-entity}\n"
			 "spec:\n  endpointSelector: {}\n"
			 "  ingress: [{fromEntities: [namespace]}]\n"
			 "  egress: [{toEntities: [namespace]}]\n");
	assert_int_equal(sluice_policy_compile(&f->set, f->idt, eps, 2, &f->out, &errs), 0);
	assert_int_equal(errs.n, 0);
	web = &f->out.eps[0];
	db = &f->out.eps[1];
	for (int dir = IN; dir <= EG; dir++) {
		/* web, in default: default's three pods, nothing else */
		assert_non_null(entry(web, (uint8_t)dir, f->web, 0, 40, 0));
		assert_non_null(entry(web, (uint8_t)dir, f->client, 0, 40, 0));
		assert_non_null(entry(web, (uint8_t)dir, f->clientb, 0, 40, 0));
		assert_int_equal(count_dir(web, (uint8_t)dir), 3);
		/* db, in other: other's two pods */
		assert_non_null(entry(db, (uint8_t)dir, f->db, 0, 40, 0));
		assert_non_null(entry(db, (uint8_t)dir, dbclient, 0, 40, 0));
		assert_int_equal(count_dir(db, (uint8_t)dir), 2);
	}
	assert_int_equal(db->flags, SLUICE_EP_F_ENFORCE_INGRESS | SLUICE_EP_F_ENFORCE_EGRESS);
	/* a CNP: the namespace of the policy, which is its subjects' */
	e = compile_spec(f, "  endpointSelector: {matchLabels: {app: web}}\n"
			    "  egress: [{toEntities: [namespace, host]}]\n");
	assert_non_null(entry(e, EG, f->client, 0, 40, 0));
	assert_non_null(entry(e, EG, SLUICE_ID_HOST, 0, 40, 0));
	assert_null(entry(e, EG, f->db, 0, 40, 0));
	assert_null(entry(e, EG, f->dns, 0, 40, 0));
	assert_null(entry(e, EG, SLUICE_ID_WORLD, 0, 40, 0));
	assert_int_equal(count_dir(e, EG), 4);
}

static void test_l7_union_and_allow_all(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"80\", protocol: TCP}]\n"
		"      rules: {http: [{method: GET, path: /a}]}\n"
		"    - ports: [{port: \"80\", protocol: TCP}]\n"
		"      rules: {http: [{method: GET, path: /b}]}\n"
		"  - fromEndpoints: [{matchLabels: {app: clientb}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"80\", protocol: TCP}]\n"
		"      rules: {http: [{method: POST}]}\n"
		"  - fromEndpoints: [{matchLabels: {app: clientb}}]\n"
		"    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n");
	const struct sluice_l7_policy *p;

	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 64, 80)->flags, SLUICE_POL_F_REDIRECT);
	assert_int_equal(entry(e, IN, f->clientb, IPPROTO_TCP, 64, 80)->flags, SLUICE_POL_F_REDIRECT);
	assert_int_equal(e->nl7, 2);
	p = l7(e, IN, 80, f->client);
	assert_non_null(p);
	assert_int_equal(p->ep_id, 11);
	assert_int_equal(p->protocol, IPPROTO_TCP);
	assert_int_equal(p->end_port, 80);
	assert_false(p->allow_all);
	assert_int_equal(p->nrules, 2);
	assert_string_equal(p->rules[0]->path, "/a");
	assert_string_equal(p->rules[1]->path, "/b");
	/* an L4-only allow on the L7 port: every request, still via the proxy */
	p = l7(e, IN, 80, f->clientb);
	assert_true(p->allow_all);
	assert_int_equal(p->nrules, 1);
	assert_string_equal(p->rules[0]->method, "POST");
}

/* TLS fields send the port to the proxy (issue #15): with http rules the
 * entry carries both; TLS alone allows every request (a TLS-aware TCP proxy) */
static void test_tls_redirect(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"443\", protocol: TCP}]\n"
		"      terminatingTLS: {secret: {name: front}}\n"
		"      rules: {http: [{method: GET}]}\n"
		"  - fromEndpoints: [{matchLabels: {app: clientb}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"8443\", protocol: TCP}]\n"
		"      serverNames: [a.example.com]\n");
	const struct sluice_l7_policy *p;

	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 64, 443)->flags, SLUICE_POL_F_REDIRECT);
	assert_int_equal(entry(e, IN, f->clientb, IPPROTO_TCP, 64, 8443)->flags, SLUICE_POL_F_REDIRECT);
	p = l7(e, IN, 443, f->client);
	assert_non_null(p);
	assert_non_null(p->tls);
	assert_string_equal(p->tls->terminating_tls->secret_name, "front");
	assert_false(p->allow_all);
	assert_int_equal(p->nrules, 1);
	p = l7(e, IN, 8443, f->clientb);
	assert_non_null(p);
	assert_non_null(p->tls);
	assert_int_equal(p->tls->nserver_names, 1);
	assert_true(p->allow_all);
	assert_null(l7(e, IN, 443, f->clientb));
}

/* Two rules for one peer and port: their serverNames are merged (Cilium's
 * mergePortProto: "any SNI from all applicable rules is allowed"), and the
 * TLS contexts come from the rule that has them, not from a rule of
 * serverNames alone met first */
static void test_tls_server_names_merged(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"8443\", protocol: TCP}]\n"
		"      serverNames: [b.example.com]\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"8443\", protocol: TCP}]\n"
		"      serverNames: [a.example.com, b.example.com]\n"
		"      terminatingTLS: {secret: {name: front}}\n"
		"      rules: {http: [{method: GET}]}\n"
		"  - fromEndpoints: [{matchLabels: {app: clientb}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"8443\", protocol: TCP}]\n"
		"      serverNames: [c.example.com]\n");
	const struct sluice_l7_policy *p = l7(e, IN, 8443, f->client);

	assert_non_null(p);
	assert_int_equal(p->nserver_names, 2);
	assert_string_equal(p->server_names[0], "a.example.com");
	assert_string_equal(p->server_names[1], "b.example.com");
	assert_non_null(p->tls);
	assert_non_null(p->tls->terminating_tls);
	assert_string_equal(p->tls->terminating_tls->secret_name, "front");
	/* another peer keeps its own */
	p = l7(e, IN, 8443, f->clientb);
	assert_non_null(p);
	assert_int_equal(p->nserver_names, 1);
	assert_string_equal(p->server_names[0], "c.example.com");
}

/* CVE-2023-30851: an L3 allow of peer B must not widen the L7 rules of A or B */
static void test_cve_s11(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}, {matchLabels: {app: clientb}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"8080\", protocol: TCP}]\n"
		"      rules: {http: [{method: GET, path: /public}]}\n"
		"  - fromEndpoints: [{matchLabels: {app: clientb}}]\n");
	const struct sluice_l7_policy *a = l7(e, IN, 8080, f->client);
	const struct sluice_l7_policy *b = l7(e, IN, 8080, f->clientb);

	assert_non_null(a);
	assert_non_null(b);
	assert_false(a->allow_all);
	assert_false(b->allow_all);
	assert_int_equal(a->nrules, 1);
	assert_int_equal(b->nrules, 1);
	assert_null(entry(e, IN, f->client, 0, 40, 0));
	assert_int_equal(entry(e, IN, f->clientb, 0, 40, 0)->flags, 0);
	assert_int_equal(entry(e, IN, f->clientb, IPPROTO_TCP, 64, 8080)->flags, SLUICE_POL_F_REDIRECT);
	assert_int_equal(e->nl7, 2);
}

static void test_redirect_covers_narrower_allow(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e = compile_spec(f,
		"  endpointSelector: {matchLabels: {app: web}}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts:\n"
		"    - ports: [{port: \"64\", endPort: 127, protocol: TCP}]\n"
		"      rules: {http: [{path: /x}]}\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n"
		"  - toPorts:\n"
		"    - ports: [{port: \"443\", protocol: TCP}]\n"
		"      rules: {http: [{method: GET}]}\n"
		"  - fromEndpoints: [{matchLabels: {app: clientb}}]\n"
		"    toPorts: [{ports: [{port: \"0\", protocol: TCP}]}]\n");
	const struct sluice_l7_policy *p;

	/* same trie: 80 inside the redirected 64-127 must not skip the proxy */
	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 58, 64)->flags, SLUICE_POL_F_REDIRECT);
	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 64, 80)->flags, SLUICE_POL_F_REDIRECT);
	p = l7(e, IN, 64, f->client);
	assert_int_equal(p->end_port, 127);
	assert_false(p->allow_all);
	p = l7(e, IN, 80, f->client);
	assert_true(p->allow_all);
	assert_int_equal(p->nrules, 1);
	/* ANY redirects 443; clientb allows all TCP: materialized (clientb, 443) */
	assert_int_equal(entry(e, IN, 0, IPPROTO_TCP, 64, 443)->flags, SLUICE_POL_F_REDIRECT);
	assert_int_equal(entry(e, IN, f->clientb, IPPROTO_TCP, 64, 443)->flags, SLUICE_POL_F_REDIRECT);
	assert_int_equal(entry(e, IN, f->clientb, IPPROTO_TCP, 48, 0)->flags, 0);
	p = l7(e, IN, 443, f->clientb);
	assert_true(p->allow_all);
	p = l7(e, IN, 443, 0);
	assert_false(p->allow_all);
	assert_string_equal(p->rules[0]->method, "GET");
	/* client has no port-level key overlapping 443: ANY's entry applies */
	assert_null(l7(e, IN, 443, f->client));
	/* what the proxy looks up */
	assert_ptr_equal(sluice_l7_lookup(e, IN, IPPROTO_TCP, 443, f->client), l7(e, IN, 443, 0));
	assert_ptr_equal(sluice_l7_lookup(e, IN, IPPROTO_TCP, 443, f->clientb), l7(e, IN, 443, f->clientb));
	assert_ptr_equal(sluice_l7_lookup(e, IN, IPPROTO_TCP, 80, f->client), l7(e, IN, 80, f->client));
	assert_ptr_equal(sluice_l7_lookup(e, IN, IPPROTO_TCP, 100, f->client), l7(e, IN, 64, f->client));
	assert_null(sluice_l7_lookup(e, IN, IPPROTO_TCP, 128, f->client));
	assert_null(sluice_l7_lookup(e, EG, IPPROTO_TCP, 80, f->client));
}

static void test_named_ports(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *e;

	e = compile_spec(f,
		"  endpointSelector: {}\n"
		"  ingress:\n"
		"  - fromEndpoints: [{matchLabels: {app: client}}]\n"
		"    toPorts: [{ports: [{port: http-8080}]}]\n"
		"  egress:\n"
		"  - toEndpoints: [{matchLabels: {app: web}}]\n"
		"    toPorts: [{ports: [{port: http-8080, protocol: TCP}]}]\n");
	/* web has the name: 8080/TCP; the other endpoints don't: no entry */
	assert_int_equal(entry(e, IN, f->client, IPPROTO_TCP, 64, 8080)->match_kind, SLUICE_MATCH_L3_L4);
	assert_int_equal(count_dir(e, IN), 1);
	assert_int_equal(count_dir(&f->out.eps[1], IN), 0);
	/* egress: resolved on the peer (web) */
	assert_non_null(entry(&f->out.eps[1], EG, f->web, IPPROTO_TCP, 64, 8080));
	assert_int_equal(count_dir(&f->out.eps[1], EG), 1);
}

/*
 * Egress named ports without a peer restriction (#10 item 7; upstream e2e
 * "should allow egress access on one named port"): the name resolves on
 * every destination pod that declares it, at its own port; numeric ports
 * of the same rule stay open to any peer.
 */
static void test_named_ports_egress_any(void **state)
{
	struct fixture *f = *state;
	const struct sluice_ep_compiled *c;
	struct sluice_diags errs = { 0 };

	compile_spec(f,
		"  endpointSelector: {matchLabels: {app: client}}\n"
		"  egress:\n"
		"  - toPorts: [{ports: [{port: http-8080}, {port: \"9090\", protocol: TCP}]}]\n");
	c = &f->out.eps[1];
	assert_non_null(entry(c, EG, f->web, IPPROTO_TCP, 64, 8080));
	assert_non_null(entry(c, EG, SLUICE_ID_ANY, IPPROTO_TCP, 64, 9090));
	/* no other pod declares the name, and no wildcard port 8080 */
	assert_null(entry(c, EG, SLUICE_ID_ANY, IPPROTO_TCP, 64, 8080));
	assert_null(entry(c, EG, f->clientb, IPPROTO_TCP, 64, 8080));
	assert_int_equal(count_dir(c, EG), 2);

	/* the same as a Kubernetes NetworkPolicy: egress: [{ports: [{port: name}]}] */
	sluice_compiled_free(&f->out);
	sluice_policy_set_free(&f->set);
	load_ok(&f->set,
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		"metadata: {name: np, namespace: default}\n"
		"spec:\n"
		"  podSelector: {matchLabels: {app: client}}\n"
		"  policyTypes: [Egress]\n"
		"  egress:\n"
		"  - ports: [{port: http-8080}]\n");
	assert_int_equal(sluice_policy_compile(&f->set, f->idt, f->eps, 3, &f->out, &errs), 0);
	c = &f->out.eps[1];
	assert_non_null(entry(c, EG, f->web, IPPROTO_TCP, 64, 8080));
	assert_null(entry(c, EG, SLUICE_ID_ANY, IPPROTO_TCP, 64, 8080));
	assert_int_equal(count_dir(c, EG), 1);

	/* a declared name with another protocol than the rule's: no entry */
	compile_spec(f,
		"  endpointSelector: {matchLabels: {app: client}}\n"
		"  egress:\n"
		"  - toPorts: [{ports: [{port: http-8080, protocol: UDP}]}]\n");
	assert_int_equal(count_dir(&f->out.eps[1], EG), 0);
}

static void test_deterministic_and_perf(void **state)
{
	struct fixture *f = *state;
	struct sluice_identity_table *t = sluice_idt_new();
	struct sluice_compile_endpoint eps[50];
	struct sluice_compiled a = { 0 }, b = { 0 };
	struct sluice_policy_set set = { 0 };
	char *y = malloc(16u << 20), *w = y;
	struct timespec t0, t1;

	sluice_idt_free(f->idt);
	f->idt = t;
	/* 5000 identities in 50 namespaces, 50 local endpoints */
	for (int i = 0; i < 5000; i++) {
		char buf[96], ns[16];

		snprintf(buf, sizeof(buf), "app=app%d,tier=t%d", i % 500, i % 7);
		snprintf(ns, sizeof(ns), "ns%d", i % 50);
		uint32_t id = pod(f, ns, buf);
		if (i < 50)
			eps[i] = (struct sluice_compile_endpoint){ .ep_id = (uint32_t)i + 1, .identity = id };
	}
	/* 25000 rules in 5000 policies */
	for (int i = 0; i < 5000; i++) {
		w += sprintf(w,
			"---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			"metadata: {name: p%d, namespace: ns%d}\nspecs:\n", i, i % 50);
		for (int r = 0; r < 5; r++)
			w += sprintf(w,
				"- endpointSelector: {matchLabels: {app: app%d}}\n"
				"  ingress:\n"
				"  - fromEndpoints: [{matchLabels: {tier: t%d}}]\n"
				"    toPorts: [{ports: [{port: \"%d\", protocol: TCP}]}]\n"
				"  egress: [{toEndpoints: [{matchLabels: {app: app%d}}]}]\n",
				(i * 5 + r) % 500, r, 1000 + r, (i + r) % 500);
	}
	load_ok(&set, y);
	free(y);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sluice_policy_compile(&set, t, eps, 50, &a, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "compile: 25000 rules, 5000 identities, 50 endpoints: %.1f ms\n",
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	assert_int_equal(sluice_policy_compile(&set, t, eps, 50, &b, NULL), 0);
	size_t total = 0;
	for (size_t i = 0; i < 50; i++) {
		assert_int_equal(a.eps[i].nentries, b.eps[i].nentries);
		assert_memory_equal(a.eps[i].entries, b.eps[i].entries,
				    a.eps[i].nentries * sizeof(a.eps[i].entries[0]));
		total += a.eps[i].nentries;
	}
	assert_true(total > 0);
	sluice_compiled_free(&a);
	sluice_compiled_free(&b);
	sluice_policy_set_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_l3_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_l4_and_any_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_l3_covers_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_deny_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_entity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apiserver_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_scoping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_l7_union_and_allow_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_redirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_server_names_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cve_s11, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_covers_narrower_allow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_ports_egress_any, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deterministic_and_perf, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
