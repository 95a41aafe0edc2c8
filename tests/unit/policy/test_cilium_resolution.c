// SPDX-License-Identifier: Apache-2.0
/*
 * test_cilium_resolution.c - Cilium's policy resolution semantics, replayed
 * against sluice's compiler.
 *
 * The cases come from cilium/cilium pkg/policy: distillery_test.go (the
 * 256-way matrix of L3 / L4 / L7 allows and L3 / L4 denies, the same with
 * named ports, deny precedence between CIDRs), l4_filter_test.go (merging
 * L7 rules of several rules on one port) and repository_test.go. Cilium
 * checks its own map state; sluice's entries have another shape (an LPM
 * trie per peer plus one for ANY, see compile_emit.c), so every case here
 * is checked by what decides a flow: the datapath's two lookups and
 * sluice_policy_order() (include/sluice/verdict.h), then, for a redirect,
 * the L7 entry the proxy would use (sluice_l7_lookup()). A verdict is one
 * of
 *   "drop"        denied (explicit deny, or nothing allows and the
 *                 direction is enforced)
 *   "allow"       allowed without the proxy
 *   "l7:*"        through the proxy, every request allowed
 *   "l7:GET /|…"  through the proxy, these http rules (method path), or
 *   "l7:"         through the proxy, no rule: every request gets 403
 * The expectations are Cilium's, derived per case from its tests (the
 * matrix has an oracle written from Cilium's semantics, as upstream's
 * testCaseToMapState is). docs/cilium-policy-semantics.md maps each
 * upstream case to where it is checked.
 *
 * The matrix also runs through the one-item edit path: the policy written
 * as one CNP whose items start as placeholders and are edited in one at a
 * time; each handled edit must give what a whole compile gives.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/verdict.h"

#define IN SLUICE_DIR_INGRESS
#define EG SLUICE_DIR_EGRESS
#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define SCTP IPPROTO_SCTP

struct world {
	struct sluice_identity_table *idt;
	uint32_t foo, bar, baz;
	struct sluice_named_port foo_ports[2];
	struct sluice_compile_endpoint eps[2];
	struct sluice_policy_set set;
	struct sluice_compiled out;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	w->idt = sluice_idt_new();
	w->foo = pod_identity(w->idt, "app=foo,color=blue");
	w->bar = pod_identity(w->idt, "app=bar,color=blue");
	w->baz = pod_identity(w->idt, "app=baz");
	w->foo_ports[0] = (struct sluice_named_port){ "port-80", 80, IPPROTO_TCP };
	w->foo_ports[1] = (struct sluice_named_port){ "http", 80, IPPROTO_TCP };
	/* the subject (foo) and one more pod, bar, for bar's own policies */
	w->eps[0] = (struct sluice_compile_endpoint){ .ep_id = 1, .identity = w->foo, .namespace = "default",
						      .named_ports = w->foo_ports, .nnamed_ports = 2 };
	w->eps[1] = (struct sluice_compile_endpoint){ .ep_id = 2, .identity = w->bar, .namespace = "default" };
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

/* compiles the documents in yaml (replacing the set); foo's result */
static const struct sluice_ep_compiled *compile_docs(struct world *w, const char *yaml)
{
	struct sluice_diags errs = { 0 };

	sluice_compiled_free(&w->out);
	sluice_policy_set_free(&w->set);
	load_ok(&w->set, yaml);
	if (sluice_policy_compile(&w->set, w->idt, w->eps, 2, &w->out, &errs)) {
		print_diags(&errs);
		fail();
	}
	sluice_diags_free(&errs);
	assert_int_equal(w->out.neps, 2);
	return &w->out.eps[0];
}

/* the most specific entry of identity id that holds (dir, proto, port), as
 * the kernel's LPM trie finds it */
static const struct sluice_policy_entry *lpm(const struct sluice_ep_compiled *e, uint8_t dir,
					     uint32_t id, uint8_t proto, uint16_t port)
{
	const struct sluice_policy_map_entry *best = NULL;

	for (size_t i = 0; i < e->nentries; i++) {
		const struct sluice_policy_key *k = &e->entries[i].key;
		uint32_t plen = k->prefixlen;

		if (ntohl(k->identity_be) != id || k->direction != dir)
			continue;
		if (plen >= SLUICE_POLICY_PREFIX_PROTO && k->protocol != proto)
			continue;
		if (plen > SLUICE_POLICY_PREFIX_PROTO) {
			unsigned bits = plen - SLUICE_POLICY_PREFIX_PROTO;
			uint16_t mask = (uint16_t)(0xffffu << (16 - bits));

			if ((ntohs(k->dport_be) & mask) != (port & mask))
				continue;
		}
		if (!best || plen > best->key.prefixlen)
			best = &e->entries[i];
	}
	return best ? &best->value : NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* what the datapath and the proxy make of one flow (see the top comment) */
static const char *judge(const struct sluice_ep_compiled *e, uint8_t dir, uint32_t peer,
			 uint8_t proto, uint16_t port)
{
	static char buf[1024];
	const struct sluice_policy_entry *deciding;
	const struct sluice_l7_policy *l7;
	bool enforced = e->flags & (dir == IN ? SLUICE_EP_F_ENFORCE_INGRESS : SLUICE_EP_F_ENFORCE_EGRESS);
	uint8_t a = sluice_policy_order(lpm(e, dir, peer, proto, port), lpm(e, dir, SLUICE_ID_ANY, proto, port),
					enforced, &deciding);
	char *names[64];
	size_t n = 0;

	if (a == SLUICE_POLICY_DENY || a == SLUICE_POLICY_DENIED)
		return "drop";
	if (a == SLUICE_POLICY_ALLOW)
		return "allow";
	l7 = sluice_l7_lookup(e, dir, proto, port, peer);
	if (l7 && l7->allow_all)
		return "l7:*";
	strcpy(buf, "l7:");
	for (size_t i = 0; l7 && i < l7->nrules && n < 64; i++) {
		const struct sluice_http_rule *r = l7->rules[i];
		char one[256];

		snprintf(one, sizeof(one), "%s %s%s%s", r->method ? r->method : "*", r->path ? r->path : "*",
			 r->nheaders ? " +" : "", r->nheaders ? r->headers[0] : "");
		names[n++] = strdup(one);
	}
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		/* Cilium keeps one copy of equal rules; the proxy's answer is
		 * the same either way */
		if (!i || strcmp(names[i], names[i - 1])) {
			if (i && strlen(buf) > 3)
				strncat(buf, "|", sizeof(buf) - strlen(buf) - 1);
			strncat(buf, names[i], sizeof(buf) - strlen(buf) - 1);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return buf;
}

static int failures;

static void expect_at(const char *file, int line, const char *what, const struct sluice_ep_compiled *e,
		      uint8_t dir, uint32_t peer, uint8_t proto, uint16_t port, const char *want)
{
	const char *got = judge(e, dir, peer, proto, port);

	if (strcmp(got, want)) {
		fprintf(stderr, "%s:%d: %s: %s peer %u proto %u port %u: got %s, want %s\n", file, line, what,
			dir == IN ? "ingress" : "egress", peer, proto, port, got, want);
		failures++;
	}
}
#define expect(what, e, dir, peer, proto, port, want) \
	expect_at(__FILE__, __LINE__, what, e, dir, peer, proto, port, want)

static void no_failures(void)
{
	int n = failures;

	failures = 0;
	assert_int_equal(n, 0);
}

/* ---- distillery_test.go: Test_MergeRules, Test_MergeRulesWithNamedPorts ---- */

/*
 * The eight rules of upstream's generateRule(), bit i of a case number
 * naming rule i: five allows (L3, L4, L3L4, L4L7, L3L4L7 for peer foo on
 * port 80/TCP with http GET /) and three denies (L3, L4, L3L4). An absent
 * rule is a rule "ingress: [{}]" (it turns ingress enforcement on, as
 * upstream's rule____NoAllow does).
 */
enum { M_L3 = 1, M_L4 = 2, M_L3L4 = 4, M_L4L7 = 8, M_L3L4L7 = 16, M_DL3 = 32, M_DL4 = 64, M_DL3L4 = 128 };

static const char *const matrix_items[8] = {
	"- fromEndpoints: [{matchLabels: {app: foo}}]\n",
	"- toPorts: [{ports: [{port: \"%s\", protocol: TCP}]}]\n",
	"- fromEndpoints: [{matchLabels: {app: foo}}]\n    toPorts: [{ports: [{port: \"%s\", protocol: TCP}]}]\n",
	"- toPorts: [{ports: [{port: \"%s\", protocol: TCP}], rules: {http: [{method: GET, path: /}]}}]\n",
	"- fromEndpoints: [{matchLabels: {app: foo}}]\n"
	"    toPorts: [{ports: [{port: \"%s\", protocol: TCP}], rules: {http: [{method: GET, path: /}]}}]\n",
	"- fromEndpoints: [{matchLabels: {app: foo}}]\n",
	"- toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n",
	"- fromEndpoints: [{matchLabels: {app: foo}}]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n",
};

/* Cilium's verdict for case c, peer foo or not, at (proto, port): the
 * semantics upstream's testCaseToMapState encodes, spelled as verdicts */
static const char *matrix_oracle(unsigned c, bool foo, uint8_t proto, uint16_t port)
{
	bool p80 = proto == TCP && port == 80;
	bool plain = false, http = false;

	if ((c & M_DL3 && foo) || (c & M_DL4 && p80) || (c & M_DL3L4 && foo && p80))
		return "drop";
	/* the allows that name the port: their L7 rules are merged per peer;
	 * one of them without http rules makes the peer's http unrestricted */
	if (p80) {
		plain = (c & M_L4) || (c & M_L3L4 && foo);
		http = (c & M_L4L7) || (c & M_L3L4L7 && foo);
	}
	if (http)
		return plain ? "l7:*" : "l7:GET /";
	/* an L3-only allow lets the port through, but never widens the L7
	 * rules of a port (CVE-2023-30851): it only decides when no port-level
	 * allow redirects */
	if (plain || (c & M_L3 && foo))
		return "allow";
	return "drop";
}

static char *matrix_yaml(unsigned c, const char *port)
{
	size_t cap = 16384, len = 0;
	char *y = malloc(cap);

	assert_non_null(y);
	y[0] = 0;
	for (unsigned i = 0; i < 8; i++) {
		char item[512];

		snprintf(item, sizeof(item), matrix_items[i], port);
		len += (size_t)snprintf(y + len, cap - len,
				       "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
				       "metadata: {name: r%u, namespace: default}\nspec:\n"
				       "  endpointSelector: {matchLabels: {app: foo}}\n",
				       i);
		if (c & (1u << i))
			len += (size_t)snprintf(y + len, cap - len, "  %s:\n  %s", i >= 5 ? "ingressDeny" : "ingress",
					       item);
		else
			len += (size_t)snprintf(y + len, cap - len, "  ingress: [{}]\n");
	}
	return y;
}

static void matrix_check(struct world *w, unsigned c, const struct sluice_ep_compiled *e, const char *how)
{
	static const struct { uint8_t proto; uint16_t port; } probes[] = {
		{ TCP, 80 }, { TCP, 81 }, { UDP, 80 }, { SCTP, 80 }, { TCP, 8080 },
	};
	char what[96];

	snprintf(what, sizeof(what), "%s case %u", how, c);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		expect(what, e, IN, w->foo, probes[i].proto, probes[i].port,
		       matrix_oracle(c, true, probes[i].proto, probes[i].port));
		expect(what, e, IN, w->bar, probes[i].proto, probes[i].port,
		       matrix_oracle(c, false, probes[i].proto, probes[i].port));
	}
	/* the proxy is never asked about egress: nothing selects it */
	assert_int_equal(e->flags & SLUICE_EP_F_ENFORCE_EGRESS, 0);
}

static void test_merge_rules(void **state)
{
	struct world *w = *state;

	for (unsigned c = 0; c < 256; c++) {
		char *y = matrix_yaml(c, "80");

		matrix_check(w, c, compile_docs(w, y), "Test_MergeRules");
		free(y);
	}
	no_failures();
}

/* the same five allows with the port named ("port-80" is foo's 80/TCP;
 * ingress resolves it on the subject) */
static void test_merge_rules_named_ports(void **state)
{
	struct world *w = *state;

	for (unsigned c = 0; c < 256; c++) {
		char *y = matrix_yaml(c, "port-80");

		matrix_check(w, c, compile_docs(w, y), "Test_MergeRulesWithNamedPorts");
		free(y);
	}
	no_failures();
}

/* ---- the matrix through the one-item edit path ---- */

/* a placeholder item that selects no peer */
#define NOBODY "- fromEndpoints: [{matchLabels: {app: nobody}}]\n"

static char *one_cnp(const char *const items[8])
{
	size_t cap = 8192, len = 0;
	char *y = malloc(cap);

	assert_non_null(y);
	len += (size_t)snprintf(y + len, cap - len,
				"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
				"metadata: {name: one, namespace: default}\nspec:\n"
				"  endpointSelector: {matchLabels: {app: foo}}\n  ingress:\n");
	for (unsigned i = 0; i < 5; i++)
		len += (size_t)snprintf(y + len, cap - len, "  %s", items[i]);
	len += (size_t)snprintf(y + len, cap - len, "  ingressDeny:\n");
	for (unsigned i = 5; i < 8; i++)
		len += (size_t)snprintf(y + len, cap - len, "  %s", items[i]);
	return y;
}

/*
 * w's first policy, loaded from old_text and compiled into w->out, is
 * edited into new_text (one item changed): the edit path's result, when it
 * handles the edit, must be the whole compile's, which then becomes
 * w->out. Returns whether the edit path handled it.
 */
static bool edit_agrees(struct world *w, const char *old_text, const char *new_text)
{
	struct sluice_diags e = { 0 }, wr = { 0 };
	struct sluice_policy_edit ed;
	struct sluice_compiled inc = { 0 }, whole = { 0 };
	bool handled;

	assert_int_equal(sluice_policy_edit_prepare(&w->set.v[0], "t.yaml", old_text, strlen(old_text), new_text,
						    strlen(new_text), &ed, &e, &wr),
			 1);
	sluice_policy_edit_swap(&w->set.v[0], &ed);
	assert_int_equal(sluice_policy_compile_edit(&w->set, w->idt, w->eps, 2, &w->out, 0, ed.rule, ed.section,
						    ed.index, &ed.item, &inc, &handled, &e),
			 0);
	assert_int_equal(sluice_policy_compile(&w->set, w->idt, w->eps, 2, &whole, &e), 0);
	if (handled) {
		assert_compiled_same(&inc, &whole);
		sluice_compiled_free(&inc);
	}
	sluice_compiled_free(&w->out);
	w->out = whole;
	sluice_policy_edit_free(&ed);
	sluice_diags_free(&e);
	sluice_diags_free(&wr);
	return handled;
}

static void test_merge_rules_edit_path(void **state)
{
	struct world *w = *state;
	unsigned handled_edits = 0;

	for (unsigned c = 0; c < 256; c++) {
		const char *items[8];
		char real[8][512];
		char *text;

		for (unsigned i = 0; i < 8; i++) {
			snprintf(real[i], sizeof(real[i]), matrix_items[i], "80");
			items[i] = NOBODY;
		}
		text = one_cnp(items);
		compile_docs(w, text);
		for (unsigned i = 0; i < 8; i++) {
			char *next;

			if (!(c & (1u << i)))
				continue;
			items[i] = real[i];
			next = one_cnp(items);
			handled_edits += edit_agrees(w, text, next);
			free(text);
			text = next;
		}
		/* one CNP with the items, or eight CNPs: the same verdicts */
		matrix_check(w, c, &w->out.eps[0], "one CNP, edited");
		free(text);
	}
	assert_true(handled_edits > 256); /* the L3 / L4 items are edits */
	no_failures();
}

/* ---- small cases: one CNP (or more documents) per case ---- */

/* a CNP "c<n>" in namespace default selecting foo, its spec after the
 * endpointSelector (indented by 2) */
static const struct sluice_ep_compiled *cnp(struct world *w, const char *spec)
{
	char y[8192];

	snprintf(y, sizeof(y),
		 "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
		 "metadata: {name: c, namespace: default}\nspec:\n"
		 "  endpointSelector: {matchLabels: {app: foo}}\n%s",
		 spec);
	return compile_docs(w, y);
}

/* the CIDR identity of an IPv4 prefix ("192.0.2.0/24"); 0 when none */
static uint32_t cidr4(const struct world *w, const char *text)
{
	char a[32];
	const char *slash = strchr(text, '/');
	uint8_t v4[4];

	assert_non_null(slash);
	memcpy(a, text, (size_t)(slash - text));
	a[slash - text] = 0;
	assert_int_equal(inet_pton(AF_INET, a, v4), 1);
	for (size_t i = 0; i < w->out.ncidrs; i++) {
		const struct sluice_cidr_ident *c = &w->out.cidrs[i];

		if (c->prefixlen == 96 + atoi(slash + 1) && c->addr[10] == 0xff && c->addr[11] == 0xff &&
		    !memcmp(c->addr + 12, v4, 4))
			return c->identity;
	}
	return 0;
}

/* distillery_test.go Test_MergeL3 (the cases without authentication) */
static void test_merge_l3(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;

	/* 0: L3 foo + L3 bar: both, every port */
	e = cnp(w, "  ingress:\n"
		   "  - fromEndpoints: [{matchLabels: {app: foo}}]\n"
		   "  - fromEndpoints: [{matchLabels: {app: bar}}]\n");
	expect("MergeL3 0", e, IN, w->foo, TCP, 80, "allow");
	expect("MergeL3 0", e, IN, w->bar, UDP, 53, "allow");
	expect("MergeL3 0", e, IN, w->baz, TCP, 80, "drop");
	/* 1: L3 foo + L3L4 foo: the L3 allow already holds the port */
	e = cnp(w, "  ingress:\n"
		   "  - fromEndpoints: [{matchLabels: {app: foo}}]\n"
		   "  - fromEndpoints: [{matchLabels: {app: foo}}]\n"
		   "    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n");
	expect("MergeL3 1", e, IN, w->foo, TCP, 80, "allow");
	expect("MergeL3 1", e, IN, w->foo, TCP, 81, "allow");
	expect("MergeL3 1", e, IN, w->bar, TCP, 80, "drop");
	/* 8 (auth left out): allow-all + L3 bar + L4 80: everything */
	e = cnp(w, "  ingress:\n"
		   "  - fromEntities: [all]\n"
		   "  - fromEndpoints: [{matchLabels: {app: bar}}]\n"
		   "  - toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n");
	expect("MergeL3 8", e, IN, w->baz, TCP, 81, "allow");
	expect("MergeL3 8", e, IN, SLUICE_ID_WORLD, UDP, 9, "allow");
	no_failures();
}

/* distillery_test.go Test_AllowAll */
static void test_allow_all(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;

	/* 0: the rule selects no endpoint: foo's ingress is not enforced */
	e = compile_docs(w, "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			    "metadata: {name: c, namespace: default}\nspec:\n"
			    "  endpointSelector: {matchLabels: {app: nobody}}\n"
			    "  ingress: [{fromEntities: [all]}]\n");
	assert_int_equal(e->flags, 0);
	expect("AllowAll 0", e, IN, SLUICE_ID_WORLD, TCP, 1, "allow");
	/* 1: every endpoint, from every peer (an empty selector in a CNP is
	 * the namespace's pods; the wildcard of Cilium's API is "all") */
	e = compile_docs(w, "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			    "metadata: {name: c, namespace: default}\nspec:\n"
			    "  endpointSelector: {}\n"
			    "  ingress: [{fromEntities: [all]}]\n");
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_INGRESS);
	expect("AllowAll 1", e, IN, SLUICE_ID_WORLD, TCP, 1, "allow");
	expect("AllowAll 1", e, IN, w->bar, SCTP, 9, "allow");
	no_failures();
}

/* distillery_test.go Test_EnsureDeniesPrecedeAllows: CIDR identities
 * 192.0.2.3/32 ("ip", inside) and 192.0.2.0/24 ("sn"), and world; the
 * rules select every endpoint, and each probe is checked in the
 * directions it names */
enum { P_IP, P_SN, P_WORLD };
#define BOTH 3 /* both directions */
#define ING 1  /* ingress only */

struct probe {
	int peer, dirs;
	uint8_t proto;
	uint16_t port;
	const char *want;
};

static const struct {
	const char *name, *rules;
	struct probe probes[20];
} precedence_cases[] = {
	{ "deny_world",
	  "  ingressDeny: [{fromEntities: [world]}]\n  egressDeny: [{toEntities: [world]}]\n"
	  "  ingress: [{fromCIDR: [192.0.2.3/32]}]\n  egress: [{toCIDR: [192.0.2.3/32]}]\n",
	  { { P_WORLD, BOTH, TCP, 80, "drop" }, { P_IP, BOTH, TCP, 80, "drop" }, { P_SN, BOTH, UDP, 53, "drop" } } },
	{ "deny_one_ip_with_a_larger_subnet",
	  "  ingressDeny: [{fromCIDRSet: [{cidr: 192.0.2.0/24}]}]\n"
	  "  egressDeny: [{toCIDRSet: [{cidr: 192.0.2.0/24}]}]\n"
	  "  ingress: [{fromCIDR: [192.0.2.3/32]}]\n  egress: [{toCIDR: [192.0.2.3/32]}]\n",
	  { { P_IP, BOTH, TCP, 80, "drop" }, { P_SN, BOTH, TCP, 80, "drop" } } },
	{ "deny_part_of_a_subnet_with_an_ip",
	  "  ingressDeny: [{fromCIDRSet: [{cidr: 192.0.2.3/32}]}]\n"
	  "  egressDeny: [{toCIDRSet: [{cidr: 192.0.2.3/32}]}]\n"
	  "  ingress: [{fromCIDRSet: [{cidr: 192.0.2.0/24}]}]\n"
	  "  egress: [{toCIDRSet: [{cidr: 192.0.2.0/24}]}]\n",
	  { { P_IP, BOTH, TCP, 80, "drop" }, { P_SN, BOTH, TCP, 80, "allow" }, { P_WORLD, BOTH, TCP, 80, "drop" } } },
	{ "broad_cidr_deny_is_a_portproto_subset_of_a_specific_cidr_allow",
	  "  ingressDeny: [{fromEntities: [world], toPorts: [{ports: [{port: \"8080\", protocol: ANY}]}]}]\n"
	  "  egressDeny: [{toEntities: [world], toPorts: [{ports: [{port: \"8080\", protocol: ANY}]}]}]\n"
	  "  ingress: [{fromCIDR: [192.0.2.3/32]}]\n  egress: [{toCIDR: [192.0.2.3/32]}]\n",
	  { { P_IP, BOTH, TCP, 8080, "drop" }, { P_IP, BOTH, UDP, 8080, "drop" }, { P_IP, BOTH, SCTP, 8080, "drop" },
	    { P_IP, BOTH, TCP, 8081, "allow" }, { P_IP, BOTH, UDP, 53, "allow" }, { P_SN, BOTH, TCP, 8081, "drop" } } },
	{ "broad_cidr_allow_is_a_portproto_subset_of_a_specific_cidr_deny",
	  "  ingress: [{fromCIDR: [192.0.2.0/24], toPorts: [{ports: [{port: \"8080\", protocol: ANY}]}]}]\n"
	  "  egress: [{toCIDR: [192.0.2.0/24], toPorts: [{ports: [{port: \"8080\", protocol: ANY}]}]}]\n"
	  "  ingressDeny: [{fromCIDR: [192.0.2.3/32]}]\n  egressDeny: [{toCIDR: [192.0.2.3/32]}]\n",
	  { { P_SN, BOTH, TCP, 8080, "allow" }, { P_SN, BOTH, UDP, 8080, "allow" }, { P_SN, BOTH, SCTP, 8080, "allow" },
	    { P_SN, BOTH, TCP, 8081, "drop" }, { P_IP, BOTH, TCP, 8080, "drop" }, { P_IP, BOTH, UDP, 8080, "drop" } } },
	/* "http" is foo's 80/TCP */
	{ "named_port_world_subnet",
	  "  ingress: [{fromCIDR: [192.0.2.0/24], toPorts: [{ports: [{port: http, protocol: TCP}]}]}]\n",
	  { { P_SN, ING, TCP, 80, "allow" }, { P_IP, ING, TCP, 80, "allow" }, { P_IP, ING, TCP, 81, "drop" },
	    { P_IP, ING, UDP, 80, "drop" } } },
	{ "port_range_world_subnet",
	  "  ingress: [{fromCIDR: [192.0.2.0/24], toPorts: [{ports: [{port: \"64\", endPort: 127, protocol: TCP},"
	  " {port: \"5\", endPort: 10, protocol: TCP}]}]}]\n",
	  { { P_SN, ING, TCP, 5, "allow" }, { P_IP, ING, TCP, 6, "allow" }, { P_SN, ING, TCP, 7, "allow" },
	    { P_IP, ING, TCP, 8, "allow" }, { P_SN, ING, TCP, 9, "allow" }, { P_IP, ING, TCP, 10, "allow" },
	    { P_SN, ING, TCP, 64, "allow" }, { P_IP, ING, TCP, 100, "allow" }, { P_SN, ING, TCP, 127, "allow" },
	    { P_IP, ING, TCP, 4, "drop" }, { P_SN, ING, TCP, 11, "drop" }, { P_IP, ING, TCP, 63, "drop" },
	    { P_SN, ING, TCP, 128, "drop" } } },
};

static void test_denies_precede_allows(void **state)
{
	struct world *w = *state;

	for (size_t c = 0; c < sizeof(precedence_cases) / sizeof(precedence_cases[0]); c++) {
		char y[8192];
		const struct sluice_ep_compiled *e;
		uint32_t ids[3];

		/* bar's policy names both prefixes (so both get an identity)
		 * without touching foo */
		snprintf(y, sizeof(y),
			 "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			 "metadata: {name: c, namespace: default}\nspec:\n  endpointSelector: {}\n%s"
			 "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			 "metadata: {name: names, namespace: default}\nspec:\n"
			 "  endpointSelector: {matchLabels: {app: bar}}\n"
			 "  egress: [{toCIDR: [192.0.2.3/32, 192.0.2.0/24]}]\n",
			 precedence_cases[c].rules);
		e = compile_docs(w, y);
		ids[P_IP] = cidr4(w, "192.0.2.3/32");
		ids[P_SN] = cidr4(w, "192.0.2.0/24");
		ids[P_WORLD] = SLUICE_ID_WORLD;
		assert_true(ids[P_IP] && ids[P_SN]);
		for (const struct probe *p = precedence_cases[c].probes; p->want; p++)
			for (uint8_t d = 0; d < 2; d++)
				if (p->dirs & (1 << d))
					expect(precedence_cases[c].name, e, d == 0 ? IN : EG, ids[p->peer], p->proto,
					       p->port, p->want);
	}
	no_failures();
}

/*
 * l4_filter_test.go: two ingress rules for one port, their L3 (peers) and
 * L7 merged; the table at the top of that file. "*" at L3 is every peer
 * (fromEntities: [all] here: in a CNP fromEndpoints [{}] is the policy
 * namespace's pods), at L7 no http rules.
 */
#define P80 "    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n"
#define P80GET "    toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{method: GET, path: /}]}}]\n"
#define ALL "  - fromEntities: [all]\n"
#define FOO "  - fromEndpoints: [{matchLabels: {app: foo}}]\n"
#define BAR "  - fromEndpoints: [{matchLabels: {app: bar}}]\n"

static void test_l4_filter_merge(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;

	/* 1A: *, * on 80, no L7: every peer on 80 */
	e = cnp(w, "  ingress:\n" ALL P80 ALL P80);
	expect("1A", e, IN, w->bar, TCP, 80, "allow");
	expect("1A", e, IN, SLUICE_ID_WORLD, TCP, 80, "allow");
	expect("1A", e, IN, w->bar, TCP, 81, "drop");
	/* 1B: an empty fromEndpoints selects nobody */
	e = cnp(w, "  ingress:\n  - fromEndpoints: []\n" P80 "  - fromEndpoints: []\n" P80);
	expect("1B", e, IN, w->bar, TCP, 80, "drop");
	expect("1B", e, IN, w->foo, TCP, 80, "drop");
	/* 2A / 2B: one of the two allows every request: all through the proxy */
	e = cnp(w, "  ingress:\n" ALL P80 ALL P80GET);
	expect("2A", e, IN, w->bar, TCP, 80, "l7:*");
	expect("2A", e, IN, SLUICE_ID_WORLD, TCP, 80, "l7:*");
	e = cnp(w, "  ingress:\n" ALL P80GET ALL P80);
	expect("2B", e, IN, w->bar, TCP, 80, "l7:*");
	/* 3: the same http rule twice */
	e = cnp(w, "  ingress:\n" ALL P80GET ALL P80GET);
	expect("3", e, IN, w->bar, TCP, 80, "l7:GET /");
	/* 6A / 6B: one peer and every peer, no L7 */
	e = cnp(w, "  ingress:\n" FOO P80 ALL P80);
	expect("6A", e, IN, w->foo, TCP, 80, "allow");
	expect("6A", e, IN, w->baz, TCP, 80, "allow");
	e = cnp(w, "  ingress:\n" ALL P80 FOO P80);
	expect("6B", e, IN, w->foo, TCP, 80, "allow");
	/* 7A / 7B: L7 for foo, every peer at L4: all allowed, foo's through
	 * the proxy with every request allowed */
	e = cnp(w, "  ingress:\n" FOO P80GET ALL P80);
	expect("7A", e, IN, w->foo, TCP, 80, "l7:*");
	expect("7A", e, IN, w->bar, TCP, 80, "allow");
	e = cnp(w, "  ingress:\n" ALL P80 FOO P80GET);
	expect("7B", e, IN, w->foo, TCP, 80, "l7:*");
	expect("7B", e, IN, w->bar, TCP, 80, "allow");
	/* 8A / 8B: the same http rule for foo and for every peer */
	e = cnp(w, "  ingress:\n" FOO P80GET ALL P80GET);
	expect("8A", e, IN, w->foo, TCP, 80, "l7:GET /");
	expect("8A", e, IN, w->bar, TCP, 80, "l7:GET /");
	e = cnp(w, "  ingress:\n" ALL P80GET FOO P80GET);
	expect("8B", e, IN, w->foo, TCP, 80, "l7:GET /");
	/* 10: L7 for two disjoint peers */
	e = cnp(w, "  ingress:\n" FOO P80GET BAR P80GET);
	expect("10", e, IN, w->foo, TCP, 80, "l7:GET /");
	expect("10", e, IN, w->bar, TCP, 80, "l7:GET /");
	expect("10", e, IN, w->baz, TCP, 80, "drop");
	/* 11: L4 for two disjoint peers */
	e = cnp(w, "  ingress:\n" FOO P80 BAR P80);
	expect("11", e, IN, w->foo, TCP, 80, "allow");
	expect("11", e, IN, w->bar, TCP, 80, "allow");
	expect("11", e, IN, w->baz, TCP, 80, "drop");
	/* L7 for foo, L4 only for bar, one port: bar's requests are not
	 * filtered, foo's are, nobody else gets in */
	e = cnp(w, "  ingress:\n" FOO P80GET BAR P80);
	expect("L7 A + L4 B", e, IN, w->foo, TCP, 80, "l7:GET /");
	expect("L7 A + L4 B", e, IN, w->bar, TCP, 80, "allow");
	expect("L7 A + L4 B", e, IN, w->baz, TCP, 80, "drop");
	/* 13: an empty toEndpoints selects nobody */
	e = cnp(w, "  egress:\n  - toEndpoints: []\n" P80);
	expect("13", e, EG, w->bar, TCP, 80, "drop");
	expect("13", e, EG, SLUICE_ID_WORLD, TCP, 80, "drop");
	/* TestEntitiesL3: egress to entity all: every peer, port, protocol */
	e = cnp(w, "  egress: [{toEntities: [all]}]\n");
	expect("EntitiesL3", e, EG, SLUICE_ID_WORLD, UDP, 53, "allow");
	expect("EntitiesL3", e, EG, w->bar, TCP, 1, "allow");
	no_failures();
}

/*
 * l4_filter_test.go cases 14-18, TestDefaultAllowL7Rules: a rule with
 * enableDefaultDeny: false for a direction gets an allow-all added to its
 * L7 rules (cilium/cilium#38676, fixed in 1.18): it may never deny, not
 * even with a 403. Its port still goes through the proxy.
 */
static void test_default_allow_l7(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;

	/* 15: http rules, default-allow ingress */
	e = cnp(w, "  enableDefaultDeny: {ingress: false}\n"
		   "  ingress:\n" ALL
		   "    toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{method: GET, path: /api}]}}]\n");
	expect("15", e, IN, w->bar, TCP, 80, "l7:*");
	expect("15", e, IN, w->bar, TCP, 81, "allow"); /* the added L3 allow-all */
	/* 17 (http rather than dns): an L3 peer: only that peer's rules are
	 * widened, the others are allowed by the added allow-all */
	e = cnp(w, "  enableDefaultDeny: {ingress: false}\n"
		   "  ingress:\n" BAR P80GET);
	expect("17", e, IN, w->bar, TCP, 80, "l7:*");
	expect("17", e, IN, w->baz, TCP, 80, "allow");
	/* a default-deny rule beside it keeps its own L7 rules: the
	 * allow-all is added to the default-allow rule's peers alone */
	e = compile_docs(w, "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			    "metadata: {name: open, namespace: default}\nspec:\n"
			    "  endpointSelector: {matchLabels: {app: foo}}\n"
			    "  enableDefaultDeny: {ingress: false}\n"
			    "  ingress:\n" BAR P80GET
			    "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			    "metadata: {name: closed, namespace: default}\nspec:\n"
			    "  endpointSelector: {matchLabels: {app: foo}}\n"
			    "  ingress:\n" FOO P80GET);
	expect("default-allow beside default-deny", e, IN, w->bar, TCP, 80, "l7:*");
	expect("default-allow beside default-deny", e, IN, w->foo, TCP, 80, "l7:GET /");
	expect("default-allow beside default-deny", e, IN, w->baz, TCP, 80, "drop");
	/* egress, and ingress left default-deny by the same rule */
	e = cnp(w, "  enableDefaultDeny: {egress: false}\n"
		   "  egress:\n  - toEntities: [all]\n" P80GET
		   "  ingress:\n" ALL P80GET);
	expect("egress default-allow", e, EG, SLUICE_ID_WORLD, TCP, 80, "l7:*");
	expect("egress default-allow", e, IN, w->bar, TCP, 80, "l7:GET /");
	/* the edit path: an item edited beside the http rules of a
	 * default-allow rule gives what the whole compile gives */
	{
		char *text = strdup("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
				    "metadata: {name: c, namespace: default}\nspec:\n"
				    "  endpointSelector: {matchLabels: {app: foo}}\n"
				    "  enableDefaultDeny: {ingress: false}\n"
				    "  ingress:\n" BAR P80GET FOO P80);
		char *next = subst(text, "{app: foo}}]\n    toPorts", "{app: bar}}]\n    toPorts");

		compile_docs(w, text);
		assert_true(edit_agrees(w, text, next));
		expect("default-allow, edited", &w->out.eps[0], IN, w->bar, TCP, 80, "l7:*");
		expect("default-allow, edited", &w->out.eps[0], IN, w->foo, TCP, 80, "allow");
		free(text);
		free(next);
	}
	/* 18: denies are never widened: a deny beside the default-allow rule
	 * still drops */
	e = cnp(w, "  enableDefaultDeny: {ingress: false}\n"
		   "  ingress:\n" ALL P80GET
		   "  ingressDeny:\n" BAR P80);
	expect("18", e, IN, w->bar, TCP, 80, "drop");
	expect("18", e, IN, w->baz, TCP, 80, "l7:*");
	no_failures();
}

/*
 * Ports: ANY against TCP, port 0 (every port), ranges, named ports in
 * denies (l4_filter_test.go / rule_test.go / mapstate_test.go, as verdicts).
 */
static void test_ports_and_protocols(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;

	/* 80/ANY at L4 and 80/TCP with http for the same peer: TCP's L7
	 * rules get the L4 allow's wildcard; UDP and SCTP stay plain */
	e = cnp(w, "  ingress:\n" FOO "    toPorts: [{ports: [{port: \"80\", protocol: ANY}]}]\n" FOO P80GET);
	expect("ANY + TCP L7, one peer", e, IN, w->foo, TCP, 80, "l7:*");
	expect("ANY + TCP L7, one peer", e, IN, w->foo, UDP, 80, "allow");
	expect("ANY + TCP L7, one peer", e, IN, w->foo, SCTP, 80, "allow");
	expect("ANY + TCP L7, one peer", e, IN, w->bar, TCP, 80, "drop");
	/* the same with the ANY allow for every peer */
	e = cnp(w, "  ingress:\n" ALL "    toPorts: [{ports: [{port: \"80\"}]}]\n" FOO P80GET);
	expect("ANY for all + TCP L7", e, IN, w->foo, TCP, 80, "l7:*");
	expect("ANY for all + TCP L7", e, IN, w->bar, TCP, 80, "allow");
	expect("ANY for all + TCP L7", e, IN, w->bar, UDP, 80, "allow");
	/* a deny of 80/ANY beats L7 allows on 80/TCP */
	e = cnp(w, "  ingress:\n" ALL P80GET "  ingressDeny:\n" BAR "    toPorts: [{ports: [{port: \"80\", protocol: ANY}]}]\n");
	expect("deny 80/ANY", e, IN, w->bar, TCP, 80, "drop");
	expect("deny 80/ANY", e, IN, w->bar, UDP, 80, "drop");
	expect("deny 80/ANY", e, IN, w->foo, TCP, 80, "l7:GET /");
	/* rule_test.go TestL4Policy: one port rule, two ports, http rules for
	 * both; egress 3000/ANY is TCP, UDP and SCTP */
	e = cnp(w, "  ingress:\n"
		   "  - toPorts: [{ports: [{port: \"80\", protocol: TCP}, {port: \"8080\", protocol: TCP}],"
		   " rules: {http: [{method: GET, path: /}]}}]\n"
		   "  egress:\n  - toPorts: [{ports: [{port: \"3000\", protocol: ANY}]}]\n");
	expect("TestL4Policy", e, IN, w->bar, TCP, 80, "l7:GET /");
	expect("TestL4Policy", e, IN, w->bar, TCP, 8080, "l7:GET /");
	expect("TestL4Policy", e, IN, w->bar, TCP, 81, "drop");
	expect("TestL4Policy", e, EG, w->bar, TCP, 3000, "allow");
	expect("TestL4Policy", e, EG, w->bar, UDP, 3000, "allow");
	expect("TestL4Policy", e, EG, w->bar, SCTP, 3000, "allow");
	expect("TestL4Policy", e, EG, w->bar, IPPROTO_ICMP, 8, "drop");
	/* port 0: every port of the protocol */
	e = cnp(w, "  ingress:\n" FOO "    toPorts: [{ports: [{port: \"0\", protocol: TCP}]}]\n");
	expect("port 0/TCP", e, IN, w->foo, TCP, 1, "allow");
	expect("port 0/TCP", e, IN, w->foo, TCP, 65535, "allow");
	expect("port 0/TCP", e, IN, w->foo, UDP, 53, "drop");
	/* every TCP port at L4 and L7 on 80 for the same peer: the proxy
	 * lets every request through (the wildcard port's rule matches) */
	e = cnp(w, "  ingress:\n" FOO "    toPorts: [{ports: [{port: \"0\", protocol: TCP}]}]\n" FOO P80GET);
	expect("0/TCP + L7 80", e, IN, w->foo, TCP, 80, "l7:*");
	expect("0/TCP + L7 80", e, IN, w->foo, TCP, 81, "allow");
	/* a deny of every port (port 0, any protocol) is an L3 deny */
	e = cnp(w, "  ingress:\n" ALL P80GET FOO "  ingressDeny:\n" FOO "    toPorts: [{ports: [{port: \"0\"}]}]\n");
	expect("deny 0/ANY", e, IN, w->foo, TCP, 80, "drop");
	expect("deny 0/ANY", e, IN, w->foo, UDP, 9, "drop");
	expect("deny 0/ANY", e, IN, w->bar, TCP, 80, "l7:GET /");
	/* Cilium's 0/ANY filter is the L3 key (protocol 0): ICMP too */
	expect("deny 0/ANY", e, IN, w->foo, IPPROTO_ICMP, 8, "drop");
	expect("deny 0/ANY", e, IN, w->foo, IPPROTO_ICMPV6, 128, "drop");
	/* a deny of every TCP port */
	e = cnp(w, "  ingress:\n" ALL "  ingressDeny:\n" BAR "    toPorts: [{ports: [{port: \"0\", protocol: TCP}]}]\n");
	expect("deny 0/TCP", e, IN, w->bar, TCP, 443, "drop");
	expect("deny 0/TCP", e, IN, w->bar, UDP, 443, "allow");
	/* a deny of a range holding an L7 port */
	e = cnp(w, "  ingress:\n" ALL P80GET "  ingressDeny:\n" BAR
		   "    toPorts: [{ports: [{port: \"70\", endPort: 90, protocol: TCP}]}]\n");
	expect("deny range", e, IN, w->bar, TCP, 80, "drop");
	expect("deny range", e, IN, w->foo, TCP, 80, "l7:GET /");
	/* a named port in a deny ("http" is foo's 80/TCP) */
	e = cnp(w, "  ingress:\n" ALL "  ingressDeny:\n" FOO "    toPorts: [{ports: [{port: http, protocol: TCP}]}]\n");
	expect("deny named port", e, IN, w->foo, TCP, 80, "drop");
	expect("deny named port", e, IN, w->foo, TCP, 81, "allow");
	expect("deny named port", e, IN, w->bar, TCP, 80, "allow");
	/* a named port in a deny with no protocol: the name's own (TCP) */
	e = cnp(w, "  ingress:\n" ALL "  ingressDeny:\n" FOO "    toPorts: [{ports: [{port: http}]}]\n");
	expect("deny named port, ANY", e, IN, w->foo, TCP, 80, "drop");
	expect("deny named port, ANY", e, IN, w->foo, UDP, 80, "allow");
	/* a named port the endpoint does not have: no entry (allow nothing,
	 * deny nothing) */
	e = cnp(w, "  ingress:\n" ALL "  ingressDeny:\n" FOO "    toPorts: [{ports: [{port: nosuch}]}]\n");
	expect("deny unknown named port", e, IN, w->foo, TCP, 80, "allow");
	/* icmps: the type is the "port" of protocol ICMP (ICMPv6) */
	e = cnp(w, "  ingress:\n" FOO "  - fromEndpoints: [{matchLabels: {app: bar}}]\n"
		   "    icmps: [{fields: [{type: EchoRequest, family: IPv4}]}]\n"
		   "  ingressDeny:\n" FOO "    icmps: [{fields: [{type: 8}, {type: 128, family: IPv6}]}]\n");
	expect("icmps", e, IN, w->foo, IPPROTO_ICMP, 8, "drop");
	expect("icmps", e, IN, w->foo, IPPROTO_ICMPV6, 128, "drop");
	expect("icmps", e, IN, w->foo, IPPROTO_ICMP, 0, "allow");
	expect("icmps", e, IN, w->foo, TCP, 80, "allow");
	expect("icmps", e, IN, w->bar, IPPROTO_ICMP, 8, "allow");
	expect("icmps", e, IN, w->bar, IPPROTO_ICMP, 0, "drop");
	expect("icmps", e, IN, w->bar, TCP, 80, "drop");
	/* L7 on a range and a plain allow of one port inside it, one peer */
	e = cnp(w, "  ingress:\n" FOO
		   "    toPorts: [{ports: [{port: \"80\", endPort: 90, protocol: TCP}], rules: {http: [{method: GET, path: /}]}}]\n"
		   FOO "    toPorts: [{ports: [{port: \"85\", protocol: TCP}]}]\n");
	expect("L7 range + L4 port", e, IN, w->foo, TCP, 85, "l7:*");
	expect("L7 range + L4 port", e, IN, w->foo, TCP, 86, "l7:GET /");
	expect("L7 range + L4 port", e, IN, w->foo, TCP, 91, "drop");
	/* two port rules for one port in one rule: their http rules are
	 * unioned (the proxy's DuplicatePort cases) */
	e = cnp(w, "  ingress:\n" FOO
		   "    toPorts:\n"
		   "    - {ports: [{port: \"80\", protocol: TCP}], rules: {http: [{path: /a}]}}\n"
		   "    - {ports: [{port: \"80\", protocol: TCP}], rules: {http: [{path: /b}]}}\n");
	expect("two port rules", e, IN, w->foo, TCP, 80, "l7:* /a|* /b");
	no_failures();
}

/* a CCNP denying egress to 10.1.0.0/16 (with block_extra) and a CNP of
 * foo with the spec open (GHSA-3wwx-63fv-pfq6's shape) */
static const struct sluice_ep_compiled *block_and_open(struct world *w, const char *block_extra,
							 const char *open)
{
	char y[4096];

	snprintf(y, sizeof(y),
		 "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
		 "metadata: {name: block}\nspec:\n  endpointSelector: {}\n%s"
		 "  egressDeny: [{toCIDRSet: [{cidr: 10.1.0.0/16}]}]\n"
		 "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
		 "metadata: {name: open, namespace: default}\nspec:\n"
		 "  endpointSelector: {matchLabels: {app: foo}}\n%s",
		 block_extra, open);
	return compile_docs(w, y);
}

/* peers: entities, CIDRs against endpoints, deny precedence across them
 * (repository_test.go, selectorcache / mapstate_test.go) */
static void test_peers_and_denies(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;
	char y[8192];
	static const char names[] =
		"---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
		"metadata: {name: names, namespace: default}\nspec:\n"
		"  endpointSelector: {matchLabels: {app: bar}}\n"
		"  egress: [{toCIDR: [10.1.2.0/24, 10.2.0.0/16, 10.1.0.0/16]}]\n";

#define DOCS(spec) \
	(snprintf(y, sizeof(y), "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n" \
		  "metadata: {name: c, namespace: default}\nspec:\n" \
		  "  endpointSelector: {matchLabels: {app: foo}}\n%s%s", spec, names), \
	 compile_docs(w, y))

	/* a deny with an except: what the except cuts out stays allowed */
	e = DOCS("  ingressDeny: [{fromCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]}]\n"
		 "  ingress: [{fromEntities: [world]}]\n");
	expect("deny except", e, IN, cidr4(w, "10.1.2.0/24"), TCP, 80, "allow");
	expect("deny except", e, IN, cidr4(w, "10.1.0.0/16"), TCP, 80, "allow");
	expect("deny except", e, IN, cidr4(w, "10.2.0.0/16"), TCP, 80, "drop");
	expect("deny except", e, IN, cidr4(w, "10.0.0.0/8"), TCP, 80, "drop");
	expect("deny except", e, IN, SLUICE_ID_WORLD, TCP, 80, "allow");
	/* deny world, allow 0.0.0.0/0: world and every CIDR dropped */
	e = DOCS("  ingressDeny: [{fromEntities: [world]}]\n"
		 "  ingress: [{fromCIDR: [0.0.0.0/0]}]\n");
	expect("deny world, allow /0", e, IN, SLUICE_ID_WORLD, TCP, 80, "drop");
	expect("deny world, allow /0", e, IN, cidr4(w, "10.2.0.0/16"), TCP, 80, "drop");
	/* allow world, deny a prefix: the prefix (and what lies inside) drops */
	e = DOCS("  ingress: [{fromEntities: [world]}]\n"
		 "  ingressDeny: [{fromCIDR: [10.1.0.0/16]}]\n");
	expect("allow world, deny /16", e, IN, cidr4(w, "10.1.0.0/16"), TCP, 80, "drop");
	expect("allow world, deny /16", e, IN, cidr4(w, "10.1.2.0/24"), TCP, 80, "drop");
	expect("allow world, deny /16", e, IN, cidr4(w, "10.2.0.0/16"), TCP, 80, "allow");
	expect("allow world, deny /16", e, IN, SLUICE_ID_WORLD, TCP, 80, "allow");
	/* CIDR rules never select pods: 0.0.0.0/0 is world, not bar */
	e = DOCS("  ingress: [{fromCIDR: [0.0.0.0/0]}]\n");
	expect("CIDR vs pods", e, IN, w->bar, TCP, 80, "drop");
	expect("CIDR vs pods", e, IN, SLUICE_ID_WORLD, TCP, 80, "allow");
	expect("CIDR vs pods", e, IN, SLUICE_ID_HOST, TCP, 80, "drop");
	/* a CNP's label selectors are its namespace's; entities are not */
	{
		uint32_t far_bar = pod_identity_ns(w->idt, "other", "app=bar");

		e = DOCS("  ingress:\n" BAR);
		expect("namespace scoping", e, IN, w->bar, TCP, 80, "allow");
		expect("namespace scoping", e, IN, far_bar, TCP, 80, "drop");
		e = DOCS("  ingress: [{fromEntities: [cluster]}]\n  ingressDeny:\n" BAR);
		expect("cluster entity", e, IN, far_bar, TCP, 80, "allow");
		expect("deny namespace scoping", e, IN, w->bar, TCP, 80, "drop");
	}
	/* deny the cluster entity, allow all: pods, host, remote nodes drop */
	e = DOCS("  ingress: [{fromEntities: [all]}]\n  ingressDeny: [{fromEntities: [cluster]}]\n");
	expect("deny cluster", e, IN, w->bar, TCP, 80, "drop");
	expect("deny cluster", e, IN, SLUICE_ID_HOST, TCP, 80, "drop");
	expect("deny cluster", e, IN, SLUICE_ID_REMOTE_NODE, TCP, 80, "drop");
	expect("deny cluster", e, IN, SLUICE_ID_WORLD, TCP, 80, "allow");
	expect("deny cluster", e, IN, cidr4(w, "10.2.0.0/16"), TCP, 80, "allow");
	/* deny all (the entity) beats every allow, L7 included */
	e = DOCS("  ingress:\n" ALL P80GET "  ingressDeny: [{fromEntities: [all]}]\n");
	expect("deny all", e, IN, w->bar, TCP, 80, "drop");
	expect("deny all", e, IN, SLUICE_ID_WORLD, TCP, 80, "drop");
	/* egress: deny a CIDR on a port, allow world on every port */
	e = DOCS("  egress: [{toEntities: [world]}]\n"
		 "  egressDeny: [{toCIDR: [10.1.0.0/16], toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]}]\n");
	expect("egress deny port", e, EG, cidr4(w, "10.1.2.0/24"), TCP, 443, "drop");
	expect("egress deny port", e, EG, cidr4(w, "10.1.2.0/24"), TCP, 80, "allow");
	expect("egress deny port", e, EG, SLUICE_ID_WORLD, TCP, 443, "allow");
	/*
	 * GHSA-3wwx-63fv-pfq6: a deny of a prefix broader than /32 was lost
	 * in Cilium when a narrower prefix was allowed by a rule with
	 * enableDefaultDeny: false or beside toEntities: all. The deny wins.
	 */
	e = block_and_open(w, "", "  egress: [{toCIDRSet: [{cidr: 10.1.2.0/24}]}, {toEntities: [all]}]\n");
	expect("GHSA-3wwx all", e, EG, cidr4(w, "10.1.2.0/24"), TCP, 443, "drop");
	expect("GHSA-3wwx all", e, EG, SLUICE_ID_WORLD, TCP, 443, "allow");
	e = block_and_open(w, "  enableDefaultDeny: {egress: false}\n",
			   "  enableDefaultDeny: {egress: false}\n  egress: [{toCIDRSet: [{cidr: 10.1.2.0/24}]}]\n");
	expect("GHSA-3wwx default-allow", e, EG, cidr4(w, "10.1.2.0/24"), TCP, 443, "drop");
	expect("GHSA-3wwx default-allow", e, EG, SLUICE_ID_WORLD, TCP, 443, "allow");
	/* a deny-only rule turns the direction's default deny on (Cilium's
	 * "pods enter default-deny mode as soon as a single policy selects
	 * them", deny policies included) unless it says otherwise */
	e = compile_docs(w, "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
			    "metadata: {name: block}\nspec:\n  endpointSelector: {}\n"
			    "  egressDeny: [{toCIDRSet: [{cidr: 10.1.0.0/16}]}]\n");
	assert_int_equal(e->flags, SLUICE_EP_F_ENFORCE_EGRESS);
	expect("deny-only", e, EG, SLUICE_ID_WORLD, TCP, 443, "drop");
#undef DOCS
	no_failures();
}

/* L7 rules of several policies of different kinds on one port */
static void test_l7_across_policies(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;

	/* CNP and CCNP, both http for bar: the union */
	e = compile_docs(w, "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			    "metadata: {name: a, namespace: default}\nspec:\n"
			    "  endpointSelector: {matchLabels: {app: foo}}\n"
			    "  ingress:\n" BAR
			    "    toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{path: /a}]}}]\n"
			    "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
			    "metadata: {name: b}\nspec:\n"
			    "  endpointSelector: {matchLabels: {app: foo}}\n"
			    "  ingress:\n  - fromEndpoints: [{matchLabels: {app: bar, io.kubernetes.pod.namespace: default}}]\n"
			    "    toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{path: /b}]}}]\n");
	expect("CNP + CCNP", e, IN, w->bar, TCP, 80, "l7:* /a|* /b");
	expect("CNP + CCNP", e, IN, w->baz, TCP, 80, "drop");
	/* a Kubernetes NetworkPolicy allowing bar on 80 beside a CNP with
	 * http rules for bar on 80: bar's requests are all allowed */
	e = compile_docs(w, "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			    "metadata: {name: a, namespace: default}\nspec:\n"
			    "  endpointSelector: {matchLabels: {app: foo}}\n"
			    "  ingress:\n" BAR P80GET
			    "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			    "metadata: {name: np, namespace: default}\nspec:\n"
			    "  podSelector: {matchLabels: {app: foo}}\n"
			    "  ingress: [{from: [{podSelector: {matchLabels: {app: bar}}}], ports: [{port: 80}]}]\n");
	expect("NP + CNP L7", e, IN, w->bar, TCP, 80, "l7:*");
	/* a CNP deny beats a NetworkPolicy allow */
	e = compile_docs(w, "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			    "metadata: {name: np, namespace: default}\nspec:\n"
			    "  podSelector: {matchLabels: {app: foo}}\n"
			    "  ingress: [{from: [{podSelector: {matchLabels: {app: bar}}}]}]\n"
			    "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			    "metadata: {name: d, namespace: default}\nspec:\n"
			    "  endpointSelector: {matchLabels: {app: foo}}\n"
			    "  ingressDeny:\n" BAR P80);
	expect("NP + CNP deny", e, IN, w->bar, TCP, 80, "drop");
	expect("NP + CNP deny", e, IN, w->bar, TCP, 81, "allow");
	expect("NP + CNP deny", e, IN, w->baz, TCP, 81, "drop");
	/* CVE-2023-30851: L7 for bar and baz, an L3-only allow of bar: baz's
	 * requests are still filtered, and so are bar's on that port */
	e = cnp(w, "  ingress:\n"
		   "  - fromEndpoints: [{matchLabels: {app: bar}}, {matchLabels: {app: baz}}]\n" P80GET BAR);
	expect("CVE-2023-30851", e, IN, w->baz, TCP, 80, "l7:GET /");
	expect("CVE-2023-30851", e, IN, w->bar, TCP, 80, "l7:GET /");
	expect("CVE-2023-30851", e, IN, w->bar, TCP, 81, "allow");
	/* the same with the L3-only allow of every peer (entity all) */
	e = cnp(w, "  ingress:\n"
		   "  - fromEndpoints: [{matchLabels: {app: bar}}, {matchLabels: {app: baz}}]\n" P80GET ALL);
	expect("CVE-2023-30851 all", e, IN, w->baz, TCP, 80, "l7:GET /");
	expect("CVE-2023-30851 all", e, IN, SLUICE_ID_WORLD, TCP, 80, "allow");
	no_failures();
}

/* l4_filter_test.go TestMergeTLSTCPPolicy / TestMergeTLSHTTPPolicy /
 * TestMergeTLSSNIPolicy: egress 443 to bar at L4, to baz with TLS */
static void test_tls_merge(void **state)
{
	struct world *w = *state;
	const struct sluice_ep_compiled *e;
	/* the second: TLS with an empty http rule */
	static const char *const baz_rules[] = { "", "      rules: {http: [{}]}\n" };
	static const char *const baz_want[] = { "l7:*", "l7:* *" };

	for (int i = 0; i < 2; i++) {
		const struct sluice_l7_policy *l7;
		char spec[2048];

		/* TLS without http rules: bar is not redirected, baz is, and
		 * every request of baz's passes */
		snprintf(spec, sizeof(spec),
			 "  egress:\n  - toEndpoints: [{matchLabels: {app: bar}}]\n"
			 "    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n"
			 "  - toEndpoints: [{matchLabels: {app: baz}}]\n"
			 "    toPorts:\n    - ports: [{port: \"443\", protocol: TCP}]\n"
			 "      terminatingTLS: {secret: {name: tls-cert}}\n"
			 "      originatingTLS: {secret: {name: tls-ca-certs}}\n%s",
			 baz_rules[i]);
		e = cnp(w, spec);
		expect("TLS", e, EG, w->bar, TCP, 443, "allow");
		expect("TLS", e, EG, w->baz, TCP, 443, baz_want[i]);
		l7 = sluice_l7_lookup(e, EG, TCP, 443, w->baz);
		assert_non_null(l7);
		assert_non_null(l7->tls);
		assert_non_null(l7->tls->terminating_tls);
	}
	no_failures();
}

/*
 * Random policies against the semantics the matrix's oracle spells out,
 * generalised: peers (rpeers[]: pods, entities, CIDRs, an except) or L3
 * only, TCP / UDP / ANY, single ports, ranges and port 0 around 78-92, the
 * named port "http" (the subject's on ingress, each peer's on egress),
 * http rules (each its own path) on TCP, denies; ingress and egress; a
 * quarter of the rules with enableDefaultDeny: false (an L3 allow-all
 * added, and http rules that allow every request). The verdict for
 * (peer, protocol, port):
 *   - drop if a deny covers it;
 *   - else, of the allows covering it, the ones naming ports decide the
 *     proxy: through it if one has http rules, every request allowed if
 *     one has none (else the union of their rules), and an L3-only allow
 *     never widens them;
 *   - else allow if an (L3-only) allow covers it, drop if none.
 * The trie keys sluice writes for this (LPM blocks of ranges, two tries,
 * materialized keys, compile_emit.c) are where a mistake would let
 * traffic through, so they are checked against this brute force.
 */
/* The probed peers: pods foo, bar, baz, world, and the CIDR identities of
 * 10.0.0.0/8, 10.1.0.0/16, 10.1.2.0/24 and 10.2.0.0/16 (bits, in this
 * order); each kind of peer an item may name, and which of them it selects */
enum { R_FOO = 1, R_BAR = 2, R_BAZ = 4, R_WORLD = 8, R_C8 = 16, R_C16 = 32, R_C24 = 64, R_C16B = 128 };
#define NRPROBES 8
static const struct {
	const char *yaml;
	unsigned selects;
} rpeers[] = {
	{ "  - fromEndpoints: [{matchLabels: {app: foo}}]\n", R_FOO },
	{ "  - fromEndpoints: [{matchLabels: {app: bar}}]\n", R_BAR },
	{ "  - fromEntities: [all]\n", 255 },
	{ "  - fromEntities: [cluster]\n", R_FOO | R_BAR | R_BAZ },
	/* world is every address outside the cluster: every CIDR identity */
	{ "  - fromEntities: [world]\n", R_WORLD | R_C8 | R_C16 | R_C24 | R_C16B },
	{ "  - fromCIDR: [0.0.0.0/0]\n", R_WORLD | R_C8 | R_C16 | R_C24 | R_C16B },
	{ "  - fromCIDR: [10.1.0.0/16]\n", R_C16 | R_C24 },
	{ "  - fromCIDR: [10.1.2.0/24]\n", R_C24 },
	/* an except cuts out every prefix inside it */
	{ "  - fromCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]\n", R_C8 | R_C16B },
};
#define NRPEERS ((unsigned)(sizeof(rpeers) / sizeof(rpeers[0])))

struct ritem {
	bool deny, http, l3only;
	bool named;      /* port "http": foo's 80/TCP (only foo declares it) */
	int peer;        /* index into rpeers[] */
	uint8_t proto;   /* TCP, UDP, or 0 = ANY */
	uint16_t lo, hi; /* lo == 0: every port */
	int path;        /* http: the rule's path is /p<path> */
};

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

static void ritem_random(struct ritem *it, int path)
{
	memset(it, 0, sizeof(*it));
	it->deny = rnd(10) < 3;
	it->peer = (int)rnd(NRPEERS);
	it->l3only = rnd(10) < 2;
	if (it->l3only)
		return;
	it->proto = rnd(3) == 0 ? 0 : rnd(2) ? TCP : UDP;
	switch (rnd(5)) {
	case 4:
		it->named = true;
		it->lo = it->hi = 80;
		it->proto = rnd(2) ? TCP : 0;
		break;
	case 0:
		it->lo = 0; /* every port */
		it->proto = it->proto ? it->proto : TCP; /* (port 0 of ANY is L3) */
		break;
	case 1:
	case 2:
		it->lo = it->hi = (uint16_t)(78 + rnd(15));
		break;
	default:
		it->lo = (uint16_t)(78 + rnd(15));
		it->hi = (uint16_t)(it->lo + rnd(10));
	}
	/* http rules: allows on TCP, a port or a range (not every port) */
	if (!it->deny && it->proto == TCP && it->lo && rnd(2)) {
		it->http = true;
		it->path = path;
	}
}

static int ritem_yaml(const struct ritem *it, char *buf, size_t len)
{
	char port[96] = "", rules[96] = "";

	if (it->l3only)
		return snprintf(buf, len, "%s", rpeers[it->peer].yaml);
	if (it->named)
		snprintf(port, sizeof(port), "{port: http%s}", it->proto ? ", protocol: TCP" : "");
	else if (it->lo && it->hi > it->lo)
		snprintf(port, sizeof(port), "{port: \"%u\", endPort: %u%s%s}", it->lo, it->hi,
			 it->proto ? ", protocol: " : "", it->proto == TCP ? "TCP" : it->proto == UDP ? "UDP" : "");
	else
		snprintf(port, sizeof(port), "{port: \"%u\"%s%s}", it->lo, it->proto ? ", protocol: " : "",
			 it->proto == TCP ? "TCP" : it->proto == UDP ? "UDP" : "");
	if (it->http)
		snprintf(rules, sizeof(rules), ", rules: {http: [{path: /p%d}]}", it->path);
	return snprintf(buf, len, "%s    toPorts: [{ports: [%s]%s}]\n", rpeers[it->peer].yaml, port, rules);
}

static bool ritem_covers(const struct ritem *it, bool egress, int peer, uint8_t proto, uint16_t port)
{
	if (!(rpeers[it->peer].selects & (1u << peer)))
		return false;
	if (it->l3only)
		return true;
	/* a named port is the subject's (ingress) or each peer's (egress):
	 * only foo declares "http" */
	if (it->named)
		return proto == TCP && port == 80 && (!egress || peer == 0);
	if (it->proto && it->proto != proto)
		return false;
	return !it->lo || (port >= it->lo && port <= it->hi);
}

static const char *ritem_oracle(const struct ritem *v, size_t n, bool egress, bool open, int peer,
				uint8_t proto, uint16_t port)
{
	static char buf[512];
	bool l3 = false, plain = false, http = false;
	bool seen[64] = { false };

	for (size_t i = 0; i < n; i++)
		if (v[i].deny && ritem_covers(&v[i], egress, peer, proto, port))
			return "drop";
	for (size_t i = 0; i < n; i++) {
		if (v[i].deny || !ritem_covers(&v[i], egress, peer, proto, port))
			continue;
		if (v[i].l3only)
			l3 = true;
		else if (v[i].http) {
			http = seen[v[i].path] = true;
			/* a default-allow rule's http rules deny nothing */
			plain |= open;
		} else
			plain = true;
	}
	if (http && plain)
		return "l7:*";
	if (http) {
		strcpy(buf, "l7:");
		for (int p = 0; p < 64; p++)
			if (seen[p])
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s* /p%d", strlen(buf) > 3 ? "|" : "", p);
		return buf;
	}
	/* default-allow: an allow-all (L3, it widens no L7 rule) */
	return plain || l3 || open ? "allow" : "drop";
}

/* every "from" of text becomes "to" and every "ingress" "egress" (in
 * place: both get shorter) */
static void to_egress(char *text)
{
	static const char *const words[][2] = { { "from", "to" }, { "ingress", "egress" } };

	for (size_t w = 0; w < 2; w++)
		for (char *at; (at = strstr(text, words[w][0]));) {
			size_t lf = strlen(words[w][0]), lt = strlen(words[w][1]);

			memcpy(at, words[w][1], lt);
			memmove(at + lt, at + lf, strlen(at + lf) + 1);
		}
}

/* one CNP of foo with the items: allows, then denies (two lists, each
 * led by an item that allows / denies nothing, so that every item can be
 * edited alone); open: the rule says enableDefaultDeny false */
static void ritems_yaml(const struct ritem *items, size_t n, bool egress, bool open, char *y, size_t cap)
{
	size_t len = (size_t)snprintf(y, cap,
				      "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
				      "metadata: {name: r, namespace: default}\nspec:\n"
				      "  endpointSelector: {matchLabels: {app: foo}}\n%s  ingress:\n  - {}\n",
				      open ? "  enableDefaultDeny: {ingress: false}\n" : "");

	for (int deny = 0; deny < 2; deny++) {
		if (deny)
			len += (size_t)snprintf(y + len, cap - len, "  ingressDeny:\n  - {fromEndpoints: []}\n");
		for (size_t i = 0; i < n; i++)
			if (items[i].deny == deny)
				len += (size_t)ritem_yaml(&items[i], y + len, cap - len);
	}
	if (egress)
		to_egress(y);
}

static void test_random_against_oracle(void **state)
{
	struct world *w = *state;
	static const uint16_t ports[] = { 1, 77, 78, 79, 80, 81, 84, 85, 86, 87, 88, 90, 91, 92, 95, 100, 101, 1000 };
	uint32_t ids[NRPROBES] = { w->foo, w->bar, w->baz, SLUICE_ID_WORLD };
	unsigned edits = 0;

	/* even rounds ingress, odd ones the same kind of items as egress */
	for (int round = 0; round < 3000; round++) {
		struct ritem items[6];
		size_t n = 1 + rnd(6);
		bool egress = round & 1, open = rnd(4) == 0;
		char y[4096], y2[8192];
		const struct sluice_ep_compiled *e;
		size_t k;

		for (size_t i = 0; i < n; i++)
			ritem_random(&items[i], (int)i);
		ritems_yaml(items, n, egress, open, y, sizeof(y));
		/* bar's policy names every probed prefix: each has its
		 * identity whatever foo's items name */
		snprintf(y2, sizeof(y2), "%s---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
			 "metadata: {name: names, namespace: default}\nspec:\n"
			 "  endpointSelector: {matchLabels: {app: bar}}\n"
			 "  egress: [{toCIDR: [10.0.0.0/8, 10.1.0.0/16, 10.1.2.0/24, 10.2.0.0/16]}]\n", y);
		e = compile_docs(w, y2);
		ids[4] = cidr4(w, "10.0.0.0/8");
		ids[5] = cidr4(w, "10.1.0.0/16");
		ids[6] = cidr4(w, "10.1.2.0/24");
		ids[7] = cidr4(w, "10.2.0.0/16");
		for (int peer = 0; peer < NRPROBES; peer++)
			for (size_t pi = 0; pi < sizeof(ports) / sizeof(ports[0]); pi++)
				for (int pr = 0; pr < 3; pr++) {
					uint8_t proto = pr == 0 ? TCP : pr == 1 ? UDP : SCTP;
					const char *want = ritem_oracle(items, n, egress, open, peer, proto, ports[pi]);
					int before = failures;

					expect("random", e, egress ? EG : IN, ids[peer], proto, ports[pi], want);
					if (failures != before && failures < 4)
						fprintf(stderr, "policy:\n%s\n", y);
				}
		/*
		 * The one-item edit path on the same policies: an item without
		 * http rules becomes another one of the same list (and kind);
		 * when compile_edit handles it, it must give the whole compile.
		 */
		k = rnd((unsigned)n);
		if (items[k].http)
			continue;
		{
			struct ritem old = items[k];

			do
				ritem_random(&items[k], (int)k);
			while (items[k].http || items[k].deny != old.deny);
			ritems_yaml(items, n, egress, open, y2, sizeof(y2));
			if (strcmp(y, y2))
				edits += edit_agrees(w, y, y2);
		}
	}
	assert_true(edits > 200);
	no_failures();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_merge_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_rules_named_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_rules_edit_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_l3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allow_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denies_precede_allows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_l4_filter_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_allow_l7, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_and_protocols, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peers_and_denies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_l7_across_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_against_oracle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
