/* SPDX-License-Identifier: Apache-2.0 */
/* client.h - the CLI's connection to the agent's API socket. */
#ifndef SLUICE_CLI_CLIENT_H
#define SLUICE_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Socket path from --socket, else $SLUICE_SOCKET, else the default. */
void client_set_socket(const char *path);
const char *client_socket(void);
/* Connects; returns an fd or -errno (with a one-line reason printed). */
int client_connect(void);
/* The same without the printed reason (retry loops). */
int client_connect_quiet(void);
/* Sends one request, waits for one answer. NULL (reason printed) on failure. */
json_t *client_call(json_t *req);
/* The same with n attachments: raw bytes sent after the request line, which
 * names their lengths ("attach"); see agent/api.c. */
/* One attachment: len bytes at data, or (data NULL) the first len bytes of
 * the open file fd, which go to the socket with sendfile(2) and are never
 * read into this process (a 2.6 MB policy file is 650 pages the CLI would
 * touch, a page fault each). */
struct client_attachment {
	const char *data;
	int fd;
	size_t len;
};
json_t *client_call_attached(json_t *req, const struct client_attachment *att, size_t n);
/* Reads the next JSON line from fd; NULL at EOF or error. */
json_t *client_read(int fd);
const char *client_read_raw(int fd);
/* The next message: a JSON line (*binary false: NUL-terminated, without its
 * newline) or a binary frame's payload (*binary true, common/flow_wire.h),
 * len bytes, valid until the next read. NULL at EOF, on error or on a frame
 * over SL_WIRE_FRAME_MAX. */
const char *client_read_msg(int fd, size_t *len, bool *binary);
int client_send(int fd, json_t *req);

#endif
