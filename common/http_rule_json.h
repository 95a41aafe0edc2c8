/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_rule_json.h - one HTTP rule of a compiled policy as the proxy's rules
 * document carries it (proxy/rules_json.h): the agent's feed and the
 * proxy's own serializer write it with this one function, so the two
 * cannot drift.
 *
 *   {"method": "GET", "path": "/x", "host": "h", "headers": ["X-A: 1"],
 *    "header_matches": [{"name": "Authorization", "value": "v",
 *                        "secret": "ns/name", "mismatch": "REPLACE"}]}
 *
 * A header match's secret travels by name; its value is in the document's
 * "secrets" (the agent adds the secrets its table names).
 */
#ifndef SLUICE_COMMON_HTTP_RULE_JSON_H
#define SLUICE_COMMON_HTTP_RULE_JSON_H

#include <jansson.h>

struct sluice_http_rule;

json_t *sl_http_rule_json(const struct sluice_http_rule *r);

#endif /* SLUICE_COMMON_HTTP_RULE_JSON_H */
