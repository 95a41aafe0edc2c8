/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_sink.c - non-blocking access-log writer (see log_sink.h).
 *
 * Writes to a pipe go out at most PIPE_BUF bytes at a time, cut at a line
 * end: such a write is atomic (all or EAGAIN, never half a line) and two
 * proxies draining into one pipe during a handover never interleave within
 * a line. A regular file is written as is (it never waits for a reader).
 */
#include "log_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SINK_WRITE_AT (64u * 1024u)  /* write without waiting for a flush */
#define SINK_KEEP (256u * 1024u)     /* buffer kept while empty */

enum sink_kind { SINK_FILE, SINK_SOCKET, SINK_STREAM };

struct proxy_log_sink {
	uv_loop_t *loop;
	uv_poll_t poll;
	int fd;
	uint8_t kind;
	bool poll_init, polling, closing;
	char *buf;
	size_t off, len, cap, max;   /* queued: buf[off, len) */
	uint64_t dropped;
};

/* A pipe or terminal of our own, non-blocking; others as they are. */
static int sink_own_fd(int fd, uint8_t *kind)
{
	struct stat st;
	char path[64];
	int nfd, fl;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		*kind = SINK_FILE;
		return fd;
	}
	if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
		*kind = SINK_SOCKET; /* MSG_DONTWAIT per send */
		return fd;
	}
	*kind = SINK_STREAM;
	/* a new open file description: O_NONBLOCK on it leaves the fd the
	 * agent (or a shell) writes to blocking */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd >= 0) {
		close(fd);
		return nfd;
	}
	/* no /proc, or no reader left: the shared description it is */
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fd;
}

struct proxy_log_sink *proxy_log_sink_new(uv_loop_t *loop, int fd, size_t queue_max)
{
	struct proxy_log_sink *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		return NULL;
	}
	s->loop = loop;
	s->max = queue_max ? queue_max : PROXY_LOG_SINK_QUEUE_DEFAULT;
	s->fd = sink_own_fd(fd, &s->kind);
	return s;
}

static uint64_t sink_lines(const char *p, size_t n)
{
	uint64_t k = 0;

	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
		k++;
	return k;
}

static void sink_on_writable(uv_poll_t *h, int status, int events);

static void sink_wait(struct proxy_log_sink *s, bool want)
{
	if (want == s->polling || s->closing)
		return;
	if (want && !s->poll_init) {
		if (uv_poll_init(s->loop, &s->poll, s->fd) < 0)
			return; /* retried at the next flush */
		s->poll.data = s;
		s->poll_init = true;
	}
	if (want) {
		uv_poll_start(&s->poll, UV_WRITABLE, sink_on_writable);
		uv_unref((uv_handle_t *)&s->poll); /* never keeps the loop alive */
	} else {
		uv_poll_stop(&s->poll);
	}
	s->polling = want;
}

/* Writes until done or the fd is full; true when the fd is full. */
static bool sink_write(struct proxy_log_sink *s)
{
	while (s->off < s->len && s->fd >= 0) {
		const char *p = s->buf + s->off;
		size_t n = s->len - s->off;
		ssize_t w;

		if (s->kind != SINK_FILE && n > PIPE_BUF) {
			const char *nl = memrchr(p, '\n', PIPE_BUF);

			n = nl ? (size_t)(nl - p) + 1 : n;
		}
		if (s->kind == SINK_SOCKET)
			w = send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = write(s->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (w <= 0) {
			/* the reader is gone: what is queued is lost */
			s->dropped += sink_lines(p, s->len - s->off);
			s->off = s->len;
			break;
		}
		s->off += (size_t)w;
	}
	s->off = s->len = 0;
	if (s->cap > SINK_KEEP) {
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
	return false;
}

void proxy_log_sink_flush(struct proxy_log_sink *s)
{
	if (!s || s->off == s->len)
		return;
	sink_wait(s, sink_write(s));
}

static void sink_on_writable(uv_poll_t *h, int status, int events)
{
	struct proxy_log_sink *s = h->data;

	(void)status;
	(void)events;
	/* an error shows in the write itself */
	sink_wait(s, sink_write(s));
}

void proxy_log_sink_put(struct proxy_log_sink *s, const char *line, size_t n)
{
	if (!s || !n)
		return;
	if (s->len - s->off + n > s->max) {
		s->dropped++;
		return;
	}
	if (s->len + n > s->cap) {
		size_t ncap = s->cap ? s->cap : 64u * 1024u;
		char *nb;

		if (s->off) { /* written bytes first make room */
			memmove(s->buf, s->buf + s->off, s->len - s->off);
			s->len -= s->off;
			s->off = 0;
		}
		while (ncap < s->len + n)
			ncap *= 2;
		if (ncap != s->cap) {
			nb = realloc(s->buf, ncap);
			if (!nb) {
				s->dropped++;
				return;
			}
			s->buf = nb;
			s->cap = ncap;
		}
	}
	memcpy(s->buf + s->len, line, n);
	s->len += n;
	if (s->len - s->off >= SINK_WRITE_AT && !s->polling)
		proxy_log_sink_flush(s);
}

uint64_t proxy_log_sink_dropped(const struct proxy_log_sink *s)
{
	return s ? s->dropped : 0;
}

size_t proxy_log_sink_queued(const struct proxy_log_sink *s)
{
	return s ? s->len - s->off : 0;
}

static void sink_free(struct proxy_log_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s);
}

static void sink_on_close(uv_handle_t *h)
{
	sink_free(h->data);
}

static uint64_t sink_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t proxy_log_sink_close(struct proxy_log_sink *s, unsigned wait_ms)
{
	uint64_t end = sink_now_ms() + wait_ms, dropped;

	if (!s)
		return 0;
	while (sink_write(s)) {
		uint64_t now = sink_now_ms();

		if (now >= end) {
			s->dropped += sink_lines(s->buf + s->off, s->len - s->off);
			break;
		}
		poll(&(struct pollfd){ .fd = s->fd, .events = POLLOUT }, 1, (int)(end - now));
	}
	sink_wait(s, false);
	s->closing = true;
	dropped = s->dropped;
	if (s->poll_init)
		uv_close((uv_handle_t *)&s->poll, sink_on_close);
	else
		sink_free(s);
	return dropped;
}
