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
 *  - path is the canonical path with its query, as Envoy's ":path" (path.h);
 *    host is the Host header value as sent (port included when present);
 *  - headers: "Name" requires the header to be present (name compared
 *    case-insensitively); "Name: value" requires its value, after trimming
 *    optional whitespace, to equal value exactly. Several instances of one
 *    header are compared joined with "," (as Envoy does).
 *  - headerMatches (Cilium S5, Envoy's cilium.HeaderMatch): each compares
 *    one header, joined as above, with a value (a secret's lone item when
 *    the policy names one: constant-time; no value = presence). A match
 *    continues; a mismatch does what the entry says: deny (the rule does
 *    not match), LOG (continue), ADD (one more field "name: value"),
 *    DELETE (drop the fields of that name, when present with another
 *    value), REPLACE (drop them and add "name: value"). A secret that is
 *    named but missing (or not of exactly one item), with no value to fall
 *    back on, fails the rule whatever its action (fail closed). As in
 *    Cilium's filter, a rule set with such actions is not short-circuited:
 *    every rule whose method, path, host and headers match runs its
 *    actions, in order, on the request as the earlier ones left it, and the
 *    request is allowed when any of them accepted it. The edits go out with
 *    the request (struct proxy_header_edits). With allow_all too, every
 *    request is allowed and the actions are still made.
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

/*
 * The header edits a matching rule set made, in order: add "name: value",
 * or remove every field named name. Strings point into the rule set (valid
 * until the table is swapped: copy them to keep them).
 */
#define PROXY_EDITS_MAX 32u

struct proxy_header_edit {
	const char *name;
	size_t name_len;
	const char *value; /* add: the value; remove: NULL */
	size_t value_len;
};

struct proxy_header_edits {
	struct proxy_header_edit v[PROXY_EDITS_MAX];
	size_t n;
};

/* Whether an edit removes the fields named name that came before edit
 * `from` (from = 0: the request's own fields). */
bool proxy_header_edits_remove(const struct proxy_header_edits *ed, size_t from,
			       const char *name, size_t name_len);

/* What rules look at. Strings are not NUL-terminated. */
struct proxy_request_view {
	const char *method;
	size_t method_len;
	const char *path; /* canonical, with the query (Envoy's :path) */
	size_t path_len;
	const char *host; /* "" when absent (HTTP/1.0) */
	size_t host_len;
	const struct proxy_header *headers;
	size_t nheaders;
	/* out: the edits of headerMatches' actions (n = 0: none); NULL: the
	 * caller cannot apply edits, and a rule set that would make some
	 * denies instead (PROXY_MATCH_DENY) */
	struct proxy_header_edits *edits;
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

/* One headerMatches entry as input to the builder. */
struct proxy_header_match_spec {
	const char *name;
	const char *value;        /* NULL: none written */
	bool secret;              /* the policy named a secret ... */
	const char *secret_value; /* ... holding this (NULL: missing) */
	size_t secret_len;
	uint8_t mismatch;         /* enum sluice_mismatch */
};

/* One HTTP rule as input to the builder; NULL fields match anything. */
struct proxy_rule_spec {
	const char *method;
	const char *path;
	const char *host;
	const char *const *headers;
	size_t nheaders;
	const struct proxy_header_match_spec *matches;
	size_t nmatches;
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

/* Builds a table from the policy compiler's output, through the one
 * serialized form the agent sends (rules_json.c; no secrets: a header
 * match naming one is missing). */
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

/*
 * True when rs's verdict on a request depends on its method, path and Host
 * alone: no header rules, no headerMatches, no TLS, not invalid. The
 * request splice may then remember an allowed request by those
 * (include/sluice/abi.h, "Request splice").
 */
bool proxy_rule_set_request_only(const struct proxy_rule_set *rs);

#endif /* SLUICE_PROXY_RULES_H */
