/* SPDX-License-Identifier: Apache-2.0 */
/* api.h - what other agent parts (observe, metrics) need from the API server. */
#ifndef SLUICE_AGENT_API_H
#define SLUICE_AGENT_API_H

#include <jansson.h>
#include "agent.h"

struct api_client;

/* A command handler returns this when it answers by streaming. */
#define API_STREAMING ((json_t *)1)

int api_client_send(struct api_client *c, json_t *msg);
/* Sends a malloc'd JSON text as one line; takes ownership. */
int api_client_send_text(struct api_client *c, char *text);
size_t api_client_queued(struct api_client *c);
void api_client_close(struct api_client *c);
void **api_client_stream_ctx(struct api_client *c);

/* Implemented by the parts that add commands (flows.c): returns NULL with
 * *err unset when the command is not theirs. */
json_t *api_dispatch_extra(struct agent *a, struct api_client *c, const char *cmd,
			   json_t *req, char **err);
/* Called when a client goes away, so a stream can stop. */
void api_stream_closed(struct api_client *c);
/* Adds the extra parts' fields to `sluice status`. */
void api_status_extend(struct agent *a, json_t *status);

#endif
