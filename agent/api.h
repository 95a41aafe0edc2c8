/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.h - the agent's local API server: newline-delimited JSON over a unix
 * socket, dispatched through one command table (commands.c). A handler
 * answers with one JSON object; a streaming command (observe) keeps the
 * client and writes to it until the client goes, which calls the close
 * callback the command registered.
 */
#ifndef SLUICE_AGENT_API_H
#define SLUICE_AGENT_API_H

#include <jansson.h>
#include "agent.h"

struct api_client;

/* A streaming handler returns this once it registered the stream. */
#define API_STREAMING ((json_t *)1)

enum api_command_flags {
	API_CMD_STREAMING = 1u << 0, /* may answer API_STREAMING (api_client_stream) */
};

struct api_command {
	const char *name; /* "pod.create", ... */
	/* The answer (an object; "ok" is added), or NULL with *err set. */
	json_t *(*handler)(struct agent *a, struct api_client *c, json_t *req, char **err);
	unsigned flags;   /* enum api_command_flags */
};

/* commands.c: the table the server dispatches through */
extern const struct api_command agent_commands[];
extern const size_t agent_ncommands;


int api_client_send(struct api_client *c, json_t *msg);
/* Sends a malloc'd JSON text as one line; takes ownership. */
int api_client_send_text(struct api_client *c, char *text);
/* Sends raw bytes (copied if they cannot go at once). */
int api_client_write(struct api_client *c, const void *buf, size_t len);
size_t api_client_queued(struct api_client *c);
void api_client_close(struct api_client *c);
/* Makes c a stream: on_close(ctx) runs once when the client goes away
 * (disconnects, or the agent stops). */
void api_client_stream(struct api_client *c, void *ctx, void (*on_close)(void *ctx));
/* Sets the socket's send buffer (a stream's bursts go in one write). */
void api_client_sndbuf(struct api_client *c, int bytes);

#endif
