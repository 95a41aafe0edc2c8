/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules.h - compiled L7 (HTTP) rule sets and the table the proxy looks them up in.
 *
 * Semantics (Cilium S1, S2, S5):
 *  - a rule set is an OR over its rules; inside one rule, method, path, host
 *    and every header requirement are ANDed; an empty rule allows everything;
 *    allow_all (an L4-only allow on an L7 port) allows every request;
 *  - method, path and host are PCRE2 regexes that must match the WHOLE
 *    subject (anchored at both ends), compiled with JIT and run with a match
 *    limit; hitting the limit counts as "no match" (fail closed);
 *  - path is the canonical path without the query (see path.h);
 *    host is the Host header value as sent (port included when present);
 *  - headers: "Name" requires the header to be present (name compared
 *    case-insensitively); "Name: value" requires its value, after trimming
 *    optional whitespace, to equal value exactly. Several instances of one
 *    header are compared joined with "," (as Envoy does).
 *
 * A table maps (ep_id, direction, port range, peer identity) to a rule set.
 * A lookup takes the narrowest entry whose [port, end_port] contains the
 * port, for the exact peer identity first, then for SLUICE_ID_ANY (0). The
 * table producer (the agent) must put the complete union of rules that apply
 * to a peer into that peer's entry; entries are never merged at lookup time,
 * so rules for one peer cannot widen another's (cilium S11). No entry means
 * deny. An entry whose regex failed to compile denies everything (S7).
 *
 * Tables are immutable once built. The proxy swaps whole tables (proxy.h);
 * a swap takes effect at the next request, also on open connections.
 */
#ifndef SLUICE_PROXY_RULES_H
#define SLUICE_PROXY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sluice_l7_policy;

/* One request header as the parser saw it (value already trimmed). */
struct proxy_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* What rules look at. Strings are not NUL-terminated. */
struct proxy_request_view {
	const char *method;
	size_t method_len;
	const char *path; /* canonical, no query */
	size_t path_len;
	const char *host; /* "" when absent (HTTP/1.0) */
	size_t host_len;
	const struct proxy_header *headers;
	size_t nheaders;
};

struct proxy_rule_set;
struct proxy_rules_table;

/* The key of one table entry. */
struct proxy_rules_key {
	uint32_t ep_id;
	uint32_t peer_identity; /* 0 (SLUICE_ID_ANY) = any peer */
	uint16_t port;          /* destination port, host order */
	uint8_t direction;      /* SLUICE_DIR_INGRESS / SLUICE_DIR_EGRESS */
	uint16_t end_port;      /* entries: last port covered (a policy port
				 * range); 0 = port alone. Ignored by lookup. */
};

/* One HTTP rule as input to the builder; NULL fields match anything. */
struct proxy_rule_spec {
	const char *method;
	const char *path;
	const char *host;
	const char *const *headers;
	size_t nheaders;
};

/* Match outcome. */
enum proxy_match {
	PROXY_MATCH_DENY = 0,
	PROXY_MATCH_ALLOW = 1,
	PROXY_MATCH_NO_POLICY = 2,    /* no entry for the key */
	PROXY_MATCH_INVALID = 3,      /* entry failed to compile: deny */
	PROXY_MATCH_REGEX_LIMIT = 4,  /* a regex hit its match limit: deny */
};

/* Builder: add entries, then finish into an immutable table. */
struct proxy_rules_builder;

struct proxy_rules_builder *proxy_rules_builder_new(void);
/*
 * Adds one entry. Returns 0, or -EINVAL when a regex does not compile (the
 * entry is still added, marked invalid, so it denies; *err, when not NULL,
 * gets a malloc'd message naming the rule and field), -EEXIST for a
 * duplicate key, -ENOMEM.
 */
int proxy_rules_builder_add(struct proxy_rules_builder *b,
			    const struct proxy_rules_key *key, bool allow_all,
			    const struct proxy_rule_spec *rules, size_t nrules,
			    char **err);
/* Attaches a TLS spec (tls.h; a new reference) to the entry added last. */
struct proxy_tls_spec;
int proxy_rules_builder_set_tls(struct proxy_rules_builder *b, struct proxy_tls_spec *spec);
/*
 * Consumes the builder (also on error). Returns 0 and the table, -EEXIST
 * when two entries have the same key (*err names it), or -ENOMEM.
 */
int proxy_rules_builder_finish(struct proxy_rules_builder *b,
			       struct proxy_rules_table **out, char **err);
void proxy_rules_builder_free(struct proxy_rules_builder *b);

/* Builds a table straight from the policy compiler's output. */
int proxy_rules_table_from_l7(const struct sluice_l7_policy *pol, size_t n,
			      struct proxy_rules_table **out, char **err);

void proxy_rules_table_free(struct proxy_rules_table *t);
size_t proxy_rules_table_size(const struct proxy_rules_table *t);

/* Finds the rule set for key->port (narrowest range containing it; exact
 * peer, then any peer); NULL = none. */
const struct proxy_rule_set *proxy_rules_lookup(const struct proxy_rules_table *t,
						const struct proxy_rules_key *key);

/* The entry's TLS spec (terminating / originating / serverNames), or NULL. */
struct proxy_tls_spec *proxy_rule_set_tls(const struct proxy_rule_set *rs);

/* Evaluates a request; rs NULL gives PROXY_MATCH_NO_POLICY. */
enum proxy_match proxy_rule_set_match(const struct proxy_rule_set *rs,
				      const struct proxy_request_view *req);

#endif /* SLUICE_PROXY_RULES_H */
