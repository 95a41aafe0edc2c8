/* SPDX-License-Identifier: Apache-2.0 */
/* client.c - see client.h. */
#include "client.h"

#include "../common/flow_wire.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/sluice/sluice.sock"

static const char *socket_path;
/* A small per-process read buffer; the CLI talks to one agent at a time. */
static char *rbuf;
static size_t rlen, rcap, roff;

void client_set_socket(const char *path)
{
	socket_path = path;
}

const char *client_socket(void)
{
	if (socket_path)
		return socket_path;
	if (getenv("SLUICE_SOCKET") && *getenv("SLUICE_SOCKET"))
		return getenv("SLUICE_SOCKET");
	return DEFAULT_SOCKET;
}

static int do_connect(bool quiet)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = client_socket();
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sluice: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	rlen = roff = 0; /* nothing left over from an earlier connection */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		if (!quiet)
			fprintf(stderr, "sluice: agent not reachable at %s: %s (is sluiced running?)\n", path,
				strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int client_connect(void)
{
	return do_connect(false);
}

int client_connect_quiet(void)
{
	return do_connect(true);
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* the first len bytes of file to the socket; -EIO when the file is shorter
 * now than when it was measured */
static int send_file(int fd, int file, size_t len)
{
	off_t off = 0;

	while ((size_t)off < len) {
		ssize_t n = sendfile(fd, file, &off, len - (size_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
	}
	return 0;
}

int client_send(int fd, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	size_t len;
	int rc;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n'; /* the NUL becomes the line end; it is not sent */
	rc = send_all(fd, text, len + 1);
	free(text);
	return rc;
}


/* Reads more into rbuf, with room for at least `need` unread bytes after
 * roff; output is flushed before blocking, so a pipe sees lines promptly.
 * Returns the bytes read, 0 at EOF, -1 on error. */
static ssize_t fill(int fd, size_t need)
{
	ssize_t n;

	/* consumed bytes are dropped only when the buffer needs room, so a
	 * burst of lines costs no quadratic copying */
	if (roff && (rcap - rlen < 65536 || rcap - roff < need)) {
		memmove(rbuf, rbuf + roff, rlen - roff);
		rlen -= roff;
		roff = 0;
	}
	while (rcap - rlen < 65536 || rcap - roff < need) {
		rcap = rcap ? rcap * 2 : 262144;
		rbuf = realloc(rbuf, rcap);
		if (!rbuf)
			abort();
	}
	fflush(stdout);
	do
		n = read(fd, rbuf + rlen, rcap - rlen);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		rlen += (size_t)n;
	return n;
}

const char *client_read_msg(int fd, size_t *len, bool *binary)
{
	for (;;) {
		size_t avail = rlen - roff;

		if (avail && (uint8_t)rbuf[roff] == SL_WIRE_MAGIC) {
			/* a binary frame: magic, 32-bit little-endian length, payload */
			if (avail >= SL_WIRE_HEADER) {
				const uint8_t *h = (const uint8_t *)rbuf + roff;
				size_t flen = (size_t)h[1] | (size_t)h[2] << 8 | (size_t)h[3] << 16 | (size_t)h[4] << 24;

				if (flen > SL_WIRE_FRAME_MAX)
					return NULL;
				if (avail >= SL_WIRE_HEADER + flen) {
					const char *payload = rbuf + roff + SL_WIRE_HEADER;

					roff += SL_WIRE_HEADER + flen;
					*len = flen;
					*binary = true;
					return payload;
				}
				if (fill(fd, SL_WIRE_HEADER + flen) <= 0)
					return NULL;
				continue;
			}
		} else if (avail) {
			char *nl = memchr(rbuf + roff, '\n', avail);

			if (nl) {
				char *line = rbuf + roff;

				*nl = 0;
				roff = (size_t)(nl + 1 - rbuf);
				*len = (size_t)(nl - line);
				*binary = false;
				return line;
			}
		}
		if (fill(fd, avail + 65536) <= 0)
			return NULL;
	}
}

/* The next line (without its newline), valid until the next read; NULL at
 * EOF (or at a binary frame, which only observe asks for). */
const char *client_read_raw(int fd)
{
	size_t len;
	bool binary;
	const char *msg = client_read_msg(fd, &len, &binary);

	return msg && !binary ? msg : NULL;
}

json_t *client_read(int fd)
{
	const char *line = client_read_raw(fd);

	return line ? json_loads(line, 0, NULL) : NULL;
}

json_t *client_call(json_t *req)
{
	return client_call_attached(req, NULL, 0);
}

json_t *client_call_attached(json_t *req, const struct client_attachment *att, size_t n)
{
	int fd = client_connect(), rc;
	json_t *res;
	size_t i;

	if (fd < 0)
		return NULL;
	if (n) {
		json_t *arr = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_integer((json_int_t)att[i].len));
		json_object_set_new(req, "attach", arr);
	}
	rc = client_send(fd, req);
	for (i = 0; i < n && !rc; i++)
		rc = att[i].data ? send_all(fd, att[i].data, att[i].len) : send_file(fd, att[i].fd, att[i].len);
	if (rc) {
		fprintf(stderr, "sluice: cannot send request to %s\n", client_socket());
		close(fd);
		return NULL;
	}
	res = client_read(fd);
	close(fd);
	rlen = roff = 0;
	if (!res)
		fprintf(stderr, "sluice: agent at %s closed the connection without an answer\n",
			client_socket());
	return res;
}
