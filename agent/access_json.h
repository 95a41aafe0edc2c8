/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_json.h - a proxy's "access" message (its access-log record as JSON,
 * what a proxy sends an agent that did not ask for binary batches) as the
 * L7 flow the agent adds: addresses, identities, the URL's parts and its
 * scheme.
 */
#ifndef SLUICE_ACCESS_JSON_H
#define SLUICE_ACCESS_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "flows.h"

/*
 * Fills ev (kind left to the caller) from m; ev's strings point into m.
 * Returns whether the exchange has a response flow: a serverNames refusal
 * (reason tls_server_name) was never answered.
 */
bool access_json_flow(json_t *m, struct flow_l7 *ev);

#endif
