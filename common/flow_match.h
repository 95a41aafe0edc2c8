/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_match.h - Hubble's FlowFilters (flow.proto), parsed once and matched
 * against flows: the agent's observe streams and `sluice observe
 * --input-file` select flows with the same code.
 *
 * An observe request holds an allowlist and a denylist of FlowFilters
 * (cli/observe_filter.c builds them from the flags as `hubble observe`
 * does). Inside one FlowFilter every field given must match, and a field
 * matches when one of its values does. A flow is shown when no allowlist
 * was given or one of its FlowFilters matches, and none of the denylist's
 * does.
 */
#ifndef SLUICE_COMMON_FLOW_MATCH_H
#define SLUICE_COMMON_FLOW_MATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "flow_json.h"

struct sl_flow_filters;

/*
 * The "allowlist" and "denylist" of req (lists of FlowFilter objects; both
 * optional). NULL with *err (malloc'd) for a field sluice does not know or a
 * value it does not take.
 */
struct sl_flow_filters *sl_flow_filters_parse(json_t *req, char **err);
/* No allowlist and no denylist: every flow. */
bool sl_flow_filters_empty(const struct sl_flow_filters *fs);
void sl_flow_filters_free(struct sl_flow_filters *fs);
/*
 * Whether f is shown. node: the name of the node the flow was seen on (the
 * node_name filter); uuid: the flow's uuid text when it has one that is not
 * f's uuid_boot and uuid_seq (a flow read from a file), else NULL.
 */
bool sl_flow_filters_match(const struct sl_flow_filters *fs, const struct sl_flow_view *f, const char *node,
			   const char *uuid);

#endif
