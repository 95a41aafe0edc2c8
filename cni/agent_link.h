/* SPDX-License-Identifier: Apache-2.0 */
/* agent_link.h - the plugin's calls to the agent, and its delete queue. */
#ifndef SLUICE_CNI_AGENT_LINK_H
#define SLUICE_CNI_AGENT_LINK_H

#include <jansson.h>
#include "sluice/cni.h"
#include <stdbool.h>


int agent_connect(const char *socket_path);
/* One request, one answer within timeout_ms. -errno: the agent could not
 * be reached (connect) or did not answer. */
int agent_call(const char *socket_path, json_t *req, int timeout_ms, json_t **res);
char *queue_dir_for(const char *socket_path);
/* Under the queue lock: the agent once more (then *answered), else the
 * deletion goes into the queue. -ENOSPC when the queue is full. */
int queue_delete(const char *socket_path, const char *container_id, const char *ifname,
		 json_t *detach_req, bool *answered, char **err);

#endif
