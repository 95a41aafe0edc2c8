/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules_json.h - the serialized form of a rules table (agent -> proxy).
 *
 *   {"version": 1,
 *    "policies": [
 *      {"ep_id": 12, "direction": "ingress", "port": 8080, "end_port": 8080,
 *       "protocol": 6, "peer_identity": 4097,
 *       "allow_all": false,
 *       "rules": [{"method": "GET", "path": "/api/users/.*",
 *                  "host": null, "headers": ["X-Token: 42"]}]}]}
 *
 * - one object per (ep_id, direction, port, peer_identity) holding the full
 *   union of HTTP rules for it (struct sluice_l7_policy); peer_identity 0
 *   means any peer; direction "ingress" or "egress"; port 1..65535;
 * - end_port (optional, >= port): the entry covers ports port..end_port (a
 *   policy port range); a lookup takes the narrowest entry containing the
 *   port, exact peer first, then peer 0; protocol (optional) must be 6;
 * - a rule's method/path/host are full-match regexes, absent or null = any;
 *   headers are "Name" (presence) or "Name: value" (exact);
 * - allow_all true: every request is allowed (an L4-only allow on the port);
 * - unknown keys are errors, so a producer/consumer mismatch is loud.
 *
 * TLS: a policy may carry "tls": {"terminating": {"secret": "ns/name",
 * "certificate": "tls.crt", "privateKey": "tls.key"}, "originating":
 * {"secret": "ns/name", "trustedCA": "ca.crt"}, "server_names": ["*.x.com"]}
 * (key names optional; "tcp": true when the entry has no HTTP rules: after
 * the handshakes the proxy passes bytes both ways instead of parsing HTTP);
 * the table document may carry the secrets named:
 * "secrets": {"ns/name": {"tls.crt": "PEM...", "tls.key": "PEM..."}}.
 *
 * The single-policy form, used by `sluice-proxy --rules` in static mode, is
 * just one policy body: {"allow_all": false, "rules": [...]}.
 */
#ifndef SLUICE_PROXY_RULES_JSON_H
#define SLUICE_PROXY_RULES_JSON_H

#include <stddef.h>

#include "rules.h"

/*
 * Parses a table document. When the document has no "policies" key and
 * single_key is not NULL, it is read as the single-policy form under that
 * key. Returns 0; -EINVAL with *err (malloc'd, "policies[3].rules[0].path:
 * ...") for a malformed document (no table is built: the caller keeps the old
 * one); an entry whose regex fails to compile is kept and denies everything,
 * the call then returns -EINVAL too but *out is set.
 */
int proxy_rules_json_load(const char *text, size_t len,
			  const struct proxy_rules_key *single_key,
			  struct proxy_rules_table **out, char **err);

/*
 * The document's "secrets" into the store: each one set (unchanged ones
 * keep their contexts), every other secret of the store deleted. 0, or
 * -EINVAL with *err for a malformed "secrets".
 */
struct proxy_tls_store;
int proxy_rules_json_secrets(const char *text, size_t len, struct proxy_tls_store *st,
			     char **err);

/* Serializes the policy compiler's output; malloc'd string or NULL. */
char *proxy_rules_json_from_l7(const struct sluice_l7_policy *pol, size_t n);

#endif /* SLUICE_PROXY_RULES_JSON_H */
