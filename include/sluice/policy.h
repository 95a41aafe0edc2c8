/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h - sluice's policy model: what the YAML loader produces and the
 * compiler consumes. Parsing (policy/load_*.c) turns CiliumNetworkPolicy,
 * CiliumClusterwideNetworkPolicy and Kubernetes NetworkPolicy documents into
 * this one model, so the compiler knows a single set of semantics.
 *
 * Labels carry a source, as in Cilium: "k8s", "reserved", "any".
 * A selector key "app" means "any:app" (matches any source); "k8s:app" only
 * the k8s source.
 */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SLUICE_LABEL_NAMESPACE   "io.kubernetes.pod.namespace"
#define SLUICE_LABEL_CLUSTER     "io.cilium.k8s.policy.cluster"
#define SLUICE_LABEL_SERVICE_ACCOUNT "io.cilium.k8s.policy.serviceaccount"
#define SLUICE_LABEL_NS_PREFIX   "io.cilium.k8s.namespace.labels."
#define SLUICE_CLUSTER_NAME      "default"

struct sluice_label {
	char *source; /* "k8s", "reserved", ... never NULL */
	char *key;
	char *value;  /* "" when the label has no value */
};

/* A sorted (by source, key), duplicate-free set of labels. */
struct sluice_labels {
	struct sluice_label *v;
	size_t n;
};

enum sluice_sel_op {
	SLUICE_SEL_IN,
	SLUICE_SEL_NOT_IN,
	SLUICE_SEL_EXISTS,
	SLUICE_SEL_DOES_NOT_EXIST,
};

struct sluice_sel_req {
	char *source;   /* "any" when the key had no "source:" prefix */
	char *key;
	enum sluice_sel_op op;
	char **values;
	size_t nvalues;
};

/* A label selector: requirements ANDed; none = selects everything. */
struct sluice_selector {
	struct sluice_sel_req *reqs;
	size_t nreqs;
};

/* Entities, as a bit set. */
enum sluice_entity {
	SLUICE_ENTITY_WORLD = 1u << 0,
	SLUICE_ENTITY_HOST = 1u << 1,
	SLUICE_ENTITY_CLUSTER = 1u << 2,
	SLUICE_ENTITY_ALL = 1u << 3,
	SLUICE_ENTITY_REMOTE_NODE = 1u << 4,
	SLUICE_ENTITY_INIT = 1u << 5,
	SLUICE_ENTITY_HEALTH = 1u << 6,
	SLUICE_ENTITY_UNMANAGED = 1u << 7,
	SLUICE_ENTITY_KUBE_APISERVER = 1u << 8,
	SLUICE_ENTITY_INGRESS = 1u << 9,
	/* the pods of the subject's own namespace: resolved per subject, so one
	 * clusterwide rule allows intra-namespace traffic in every namespace */
	SLUICE_ENTITY_NAMESPACE = 1u << 10,
};

struct sluice_cidr {
	uint8_t addr[16];  /* IPv4-mapped for IPv4 */
	uint8_t prefixlen; /* in bits of the 16-byte form (IPv4 /24 = 120) */
	struct sluice_cidr *except;
	size_t nexcept;
};

/* One port or port range. protocol 0 = ANY (TCP, UDP and SCTP). */
struct sluice_port {
	uint16_t port;     /* 0 = all ports */
	uint16_t end_port; /* 0 = single port */
	uint8_t protocol;  /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP or 0 */
	char *name;        /* named port (resolved per endpoint), or NULL */
	int line;
};

/*
 * headerMatches[].mismatch, Cilium's MismatchAction: what a rule does when
 * the header is absent or has another value. A match always continues.
 */
enum sluice_mismatch {
	SLUICE_MISMATCH_FAIL = 0, /* "" (the default): the rule does not match */
	SLUICE_MISMATCH_LOG,      /* LOG: the rule matches; the miss is logged */
	SLUICE_MISMATCH_ADD,      /* ADD: one more field "name: value" is added */
	SLUICE_MISMATCH_DELETE,   /* DELETE: a field of that name is removed */
	SLUICE_MISMATCH_REPLACE,  /* REPLACE: the field is set to value */
	SLUICE_MISMATCH_COUNT,
};

/* The actions' names as policies and the proxy's rules document write
 * them ("" = deny): the one table of the loader, the serializer and the
 * proxy's reader. */
static inline const char *sluice_mismatch_name(unsigned m)
{
	static const char *const names[SLUICE_MISMATCH_COUNT] = {
		"", "LOG", "ADD", "DELETE", "REPLACE",
	};

	return m < SLUICE_MISMATCH_COUNT ? names[m] : NULL;
}

/* The action named s (enum sluice_mismatch), or -1. */
static inline int sluice_mismatch_parse(const char *s)
{
	for (unsigned m = 0; m < SLUICE_MISMATCH_COUNT; m++)
		if (!strcmp(s, sluice_mismatch_name(m)))
			return (int)m;
	return -1;
}

struct sluice_tls_context;

/* One headerMatches entry. The value to compare is the secret's lone item
 * when it names one that exists, else value; neither: presence. */
struct sluice_header_match {
	char *name;
	char *value;                      /* NULL: none written */
	struct sluice_tls_context *secret; /* only secret_ns/secret_name/where/line */
	uint8_t mismatch;                 /* enum sluice_mismatch */
	int line;
};

struct sluice_http_rule {
	char *method;  /* full-match regex or NULL */
	char *path;    /* full-match regex or NULL */
	char *host;    /* full-match regex or NULL */
	char **headers; /* "Name" (presence) or "Name: value" (exact) */
	size_t nheaders;
	struct sluice_header_match *header_matches;
	size_t nheader_matches;
	int line;
};

/*
 * Cilium's TLSContext (toPorts[].terminatingTLS / originatingTLS): a secret
 * and the names of its keys. Key names are NULL when not written (defaults
 * ca.crt, tls.crt, tls.key). Whether the secret exists and holds the keys is
 * checked where secrets are known (the agent, at apply).
 */
struct sluice_tls_context {
	char *secret_ns;            /* defaults to the policy's namespace */
	char *secret_name;
	char *trusted_ca, *certificate, *private_key;
	char *where;                /* "file:line: field.path", for messages */
	int line;
};

struct sluice_port_rule {
	struct sluice_port *ports;  /* none = all ports (unless no_ports) */
	size_t nports;
	/* a CNP toPorts entry (or icmps) written without ports: Cilium makes
	 * no port of it, so it allows (or denies) nothing */
	bool no_ports;
	bool has_http;              /* rules.http present (even if empty) */
	struct sluice_http_rule *http;
	size_t nhttp;
	int line;
	/* TLS interception and SNI rules; any of them sends the port to the
	 * proxy, even without http rules */
	struct sluice_tls_context *terminating_tls, *originating_tls;
	char **server_names;        /* serverNames (patterns), n == 0: none */
	size_t nserver_names;
};

static inline bool sluice_port_rule_has_tls(const struct sluice_port_rule *pr)
{
	return pr && (pr->terminating_tls || pr->originating_tls || pr->nserver_names);
}

/*
 * A toServices entry: one Service by name (k8sService), or the Services
 * whose own labels a selector matches (k8sServiceSelector). namespace NULL:
 * any namespace (a clusterwide policy without one).
 */
struct sluice_service_ref {
	bool by_selector;
	char *name;                      /* k8sService.serviceName */
	char *namespace;
	struct sluice_selector selector; /* k8sServiceSelector.selector */
	int line;
};

/*
 * A toCIDRSet / fromCIDRSet entry naming CiliumCIDRGroups: one by name
 * (cidrGroupRef) or those whose labels a selector matches
 * (cidrGroupSelector), minus the except prefixes, as Cilium reads it: an
 * except that holds a group's prefix removes it, one inside it is cut out.
 */
struct sluice_cidr_group_ref {
	bool by_selector;
	char *name;
	struct sluice_selector selector;
	struct sluice_cidr *except;
	size_t nexcept;
	int line;
};

/* One element of ingress / egress / ingressDeny / egressDeny. */
struct sluice_peer_rule {
	/* Peers. has_l3 == false means "any peer" (an L4-only rule). */
	bool has_l3;
	/* a CNP peer list written empty ("fromEndpoints: []"): the item
	 * selects no peer whatever else it names, as in Cilium */
	bool no_peers;
	struct sluice_selector *endpoints; /* fromEndpoints / toEndpoints */
	size_t nendpoints;
	uint32_t entities;                 /* enum sluice_entity bits */
	struct sluice_cidr *cidrs;         /* fromCIDR(Set) / ipBlock */
	size_t ncidrs;
	/* Kubernetes ipBlock: the CIDRs also select local pods whose addresses
	 * lie inside (Cilium's fromCIDR never selects managed pods). */
	bool cidrs_select_pods;
	/*
	 * toServices. The compiler does not know services: before each
	 * compile the agent resolves them (agent/services.c) into peers it
	 * appends to endpoints and cidrs, as Cilium does: a service with a
	 * selector stands for the pods it selects in its namespace, one
	 * without (endpoints given) for its endpoints' addresses. nsvc_* count
	 * those appended entries (the last ones), replaced at each resolve.
	 */
	struct sluice_service_ref *services;
	size_t nservices;
	size_t nsvc_endpoints, nsvc_cidrs;
	/*
	 * CIDR sets naming CiliumCIDRGroups (cidrGroupRef, cidrGroupSelector).
	 * Resolved before each compile (sluice_policy_set_resolve_cidr_groups())
	 * into the groups' prefixes, with the set's excepts: ngroup_cidrs entries
	 * of cidrs, just before the toServices ones. A group that does not exist
	 * (yet) stands for no prefix; the item still names peers (has_l3), so it
	 * never widens into an L4-only rule.
	 */
	struct sluice_cidr_group_ref *groups;
	size_t ngroups;
	size_t ngroup_cidrs;
	struct sluice_port_rule *to_ports; /* none = all ports */
	size_t nto_ports;
	int line;
	/* where the item's text lies in the document it was loaded from (byte
	 * offsets; both 0 when unknown): sluice_policy_edit_prepare(). After
	 * edits, moved by its policy's span_shifts from span_gen on (edit.c) */
	size_t src_start, src_end;
	unsigned span_gen;
};

enum sluice_tristate { SLUICE_UNSET = -1, SLUICE_FALSE = 0, SLUICE_TRUE = 1 };

#define SLUICE_SPAN_SHIFTS 8 /* struct sluice_policy's pending span shifts */

/* The four peer-rule lists of a rule (its "sections"), in the order the
 * API and the state files number them. */
enum sluice_section {
	SLUICE_SECTION_INGRESS = 0,
	SLUICE_SECTION_EGRESS = 1,
	SLUICE_SECTION_INGRESS_DENY = 2,
	SLUICE_SECTION_EGRESS_DENY = 3,
};
#define SLUICE_SECTION_COUNT 4

/* A number read from outside (state files, the API) that names a section. */
static inline bool sluice_section_valid(int s)
{
	return s >= 0 && s < SLUICE_SECTION_COUNT;
}

static inline bool sluice_section_is_ingress(enum sluice_section s)
{
	return s == SLUICE_SECTION_INGRESS || s == SLUICE_SECTION_INGRESS_DENY;
}

static inline bool sluice_section_is_deny(enum sluice_section s)
{
	return s == SLUICE_SECTION_INGRESS_DENY || s == SLUICE_SECTION_EGRESS_DENY;
}

/* The YAML key: "ingress", "egress", "ingressDeny", "egressDeny"; "?" when
 * s is not a section. */
static inline const char *sluice_section_name(enum sluice_section s)
{
	static const char *const names[SLUICE_SECTION_COUNT] = { "ingress", "egress", "ingressDeny",
								  "egressDeny" };

	return sluice_section_valid((int)s) ? names[s] : "?";
}

/* One rule (a Cilium "spec" or one of "specs", or one k8s NetworkPolicy). */
struct sluice_rule {
	struct sluice_selector subject; /* endpointSelector (namespace added) */
	/* A section is "present" when the document had the key, even empty:
	 * for k8s policies policyTypes makes a section present. */
	bool has_ingress, has_egress, has_ingress_deny, has_egress_deny;
	struct sluice_peer_rule *ingress, *egress, *ingress_deny, *egress_deny;
	size_t ningress, negress, ningress_deny, negress_deny;
	int default_deny_ingress; /* enum sluice_tristate (enableDefaultDeny) */
	int default_deny_egress;
	int line;
	int specs_index; /* -1: the document's "spec", else its index in "specs" */
};

enum sluice_policy_kind {
	SLUICE_KIND_CNP,   /* cilium.io/v2 CiliumNetworkPolicy */
	SLUICE_KIND_CCNP,  /* cilium.io/v2 CiliumClusterwideNetworkPolicy */
	SLUICE_KIND_K8S,   /* networking.k8s.io/v1 NetworkPolicy */
	SLUICE_KIND_CCG,   /* cilium.io/v2alpha1 (or v2) CiliumCIDRGroup: no rules */
};

struct sluice_policy {
	enum sluice_policy_kind kind;
	char *name;
	char *namespace;   /* NULL for clusterwide */
	struct sluice_rule *rules;
	size_t nrules;
	char *file;        /* where it was loaded from */
	int line;          /* line of the document start */
	/* the caller's number for it, kept while it exists, written as the
	 * rule_ref of the entries it decides (the agent: flows name the
	 * policy that allowed or denied them); 0: 1 + its index in the set */
	uint32_t ref_id;
	bool has_http;     /* some rule has http rules (the edit path's lint) */
	/* One-item edits that moved the text after the item by some bytes
	 * (and no lines), not yet written into the items' spans: an item's
	 * span is its src_start/src_end moved by span_shifts[k].delta for each
	 * k from its span_gen on whose at its start (so moved) reaches. Writing
	 * every span after the edited item was a pass over all of them per
	 * edit (0.3 ms at 25,000 items); edit.c writes them all only when the
	 * list is full or an edit moves lines. */
	struct sluice_span_shift {
		size_t at;
		ptrdiff_t delta;
	} span_shifts[SLUICE_SPAN_SHIFTS];
	unsigned nspan_shifts;
	/* some item names CIDR groups: the others' policies are skipped by
	 * sluice_policy_set_resolve_cidr_groups(), a pass over every item */
	bool has_groups;
	/* the text it came from has no byte above 0x7f: libyaml's marks count
	 * characters, so only then are the items' source spans byte offsets,
	 * which the one-item edit path (edit.c) needs */
	bool text_ascii;
	/* SLUICE_KIND_CCG: spec.externalCIDRs and metadata.labels (source
	 * "cidrgroup", what cidrGroupSelector matches) */
	struct sluice_cidr *group_cidrs;
	size_t ngroup_cidrs;
	struct sluice_labels group_labels;
};

struct sluice_policy_set {
	struct sluice_policy *v;
	size_t n;
};

/* One warning or error, "file:line: field: reason". */
struct sluice_diag {
	char *msg;
};

struct sluice_diags {
	struct sluice_diag *v;
	size_t n;
};

#endif /* SLUICE_POLICY_H */
