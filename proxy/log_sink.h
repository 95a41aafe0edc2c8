/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_sink.h - where the proxy's access-log lines go: an fd (its stdout, the
 * agent's stdout, a file) written without ever blocking the event loop.
 *
 * Lines wait in a bounded queue and are written when the fd takes them (a
 * uv_poll on writability); a line that does not fit in the queue is dropped
 * and counted, so a stalled reader (a stopped `kubectl logs`, a full
 * container-runtime pipe) costs log lines, never request serving.
 *
 *   s = proxy_log_sink_new(loop, fd, 0);     // takes fd
 *   proxy_log_sink_put(s, line, n);          // one whole line, '\n' included
 *   proxy_log_sink_flush(s);                 // at the end of a batch
 *   proxy_log_sink_dropped(s);               // lines lost so far
 *   proxy_log_sink_close(s);                 // frees once the loop ran
 */
#ifndef SLUICE_PROXY_LOG_SINK_H
#define SLUICE_PROXY_LOG_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define PROXY_LOG_SINK_QUEUE_DEFAULT (4u << 20)

struct proxy_log_sink;

/* Takes fd (closed on failure too). queue_max 0: the default. NULL: no
 * memory. A pipe or terminal is reopened privately non-blocking (through
 * /proc/self/fd), so the writer that passed the fd keeps its blocking one. */
struct proxy_log_sink *proxy_log_sink_new(uv_loop_t *loop, int fd, size_t queue_max);

/* Queues one line (dropped and counted when the queue is full); writes at
 * once when enough is queued. */
void proxy_log_sink_put(struct proxy_log_sink *s, const char *line, size_t n);

/* Writes what the fd takes now; the rest when it becomes writable. */
void proxy_log_sink_flush(struct proxy_log_sink *s);

uint64_t proxy_log_sink_dropped(const struct proxy_log_sink *s);
size_t proxy_log_sink_queued(const struct proxy_log_sink *s);

/* A last flush that may wait up to wait_ms for a slow reader (what is still
 * queued then is dropped), then closes the fd; the memory goes once the
 * loop has run. Returns the lines dropped in all. NULL is fine. */
uint64_t proxy_log_sink_close(struct proxy_log_sink *s, unsigned wait_ms);

#endif /* SLUICE_PROXY_LOG_SINK_H */
