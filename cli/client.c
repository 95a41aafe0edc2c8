/* SPDX-License-Identifier: Apache-2.0 */
/* client.c - see client.h. */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int client_connect(void)
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

		fprintf(stderr, "sluice: agent not reachable at %s: %s (is sluiced running?)\n", path,
			strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int client_send(int fd, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	size_t len, off = 0;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n'; /* the NUL becomes the line end; it is not sent */
	while (off < len + 1) {
		ssize_t n = write(fd, text + off, len + 1 - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(text);
			return -errno;
		}
		off += (size_t)n;
	}
	free(text);
	return 0;
}


/* The next line (without its newline), valid until the next read; NULL at
 * EOF. Output is flushed before blocking, so a pipe sees lines promptly. */
const char *client_read_raw(int fd)
{
	/* lines are consumed from rbuf[roff..rlen); compacted only when the
	 * buffer needs room, so a burst of lines costs no quadratic copying */
	for (;;) {
		char *nl = rlen > roff ? memchr(rbuf + roff, '\n', rlen - roff) : NULL;
		ssize_t n;

		if (nl) {
			char *line = rbuf + roff;

			*nl = 0;
			roff = (size_t)(nl + 1 - rbuf);
			return line;
		}
		if (roff) {
			memmove(rbuf, rbuf + roff, rlen - roff);
			rlen -= roff;
			roff = 0;
		}
		if (rcap - rlen < 65536) {
			rcap = rcap ? rcap * 2 : 131072;
			rbuf = realloc(rbuf, rcap);
			if (!rbuf)
				abort();
		}
		fflush(stdout);
		n = read(fd, rbuf + rlen, rcap - rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		rlen += (size_t)n;
	}
}

json_t *client_read(int fd)
{
	const char *line = client_read_raw(fd);

	return line ? json_loads(line, 0, NULL) : NULL;
}

json_t *client_call(json_t *req)
{
	int fd = client_connect();
	json_t *res;

	if (fd < 0)
		return NULL;
	if (client_send(fd, req)) {
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
