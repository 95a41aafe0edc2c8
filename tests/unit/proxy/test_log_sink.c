/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The access-log sink (log_sink.h): a reader that stops reading never
 * blocks the writer, lines that do not fit are dropped and counted, what is
 * written is whole lines in order, the writer's own fd stays blocking, and
 * a reader that goes away costs lines (counted), not the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log_sink.h"

#define LINES 4000
#define QUEUE (32u * 1024u)

static size_t line_of(unsigned i, char *buf, size_t cap)
{
	/* about 100 bytes, like a short access-log line */
	return (size_t)snprintf(buf, cap, "{\"seq\":%u,\"pad\":\"%070u\"}\n", i, i);
}

static void on_keep(uv_timer_t *t)
{
	(void)t;
}

static void test_stalled_reader(void **state)
{
	uv_loop_t loop;
	uv_timer_t keep;
	struct proxy_log_sink *s;
	int p[2], fl;
	unsigned next = 0, whole = 0;
	char buf[256], rd[65536], part[512];
	size_t plen = 0;
	uint64_t dropped;
	bool in_order = true;

	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	s = proxy_log_sink_new(&loop, fcntl(p[1], F_DUPFD_CLOEXEC, 3), QUEUE);
	assert_non_null(s);
	/* the fd the writer passed (here p[1]) is still a blocking one */
	fl = fcntl(p[1], F_GETFL);
	assert_true(fl >= 0 && !(fl & O_NONBLOCK));

	/* nobody reads: every put returns (a blocking write would hang here
	 * until ctest's timeout), the queue stays bounded */
	for (unsigned i = 0; i < LINES; i++) {
		proxy_log_sink_put(s, buf, line_of(i, buf, sizeof(buf)));
		if (i % 50 == 0)
			proxy_log_sink_flush(s);
		assert_true(proxy_log_sink_queued(s) <= QUEUE);
	}
	proxy_log_sink_flush(s);
	dropped = proxy_log_sink_dropped(s);
	assert_true(dropped > 0);
	assert_true(dropped < LINES);

	/* the reader wakes up: the queue drains through the loop's poll (the
	 * sink's handle does not keep a loop alive; in the proxy the server
	 * does, here a timer) */
	uv_timer_init(&loop, &keep);
	uv_timer_start(&keep, on_keep, 1000, 1000);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (int rounds = 0; rounds < 10000; rounds++) {
		ssize_t n = read(p[0], rd, sizeof(rd));

		for (ssize_t k = 0; k < n; k++) {
			if (plen < sizeof(part) - 1)
				part[plen++] = rd[k];
			if (rd[k] != '\n')
				continue;
			part[plen] = 0;
			{
				unsigned seq;

				if (sscanf(part, "{\"seq\":%u,", &seq) == 1 && plen > 80) {
					whole++;
					in_order &= seq >= next;
					next = seq + 1;
				}
			}
			plen = 0;
		}
		if (n <= 0 && proxy_log_sink_queued(s) == 0)
			break;
		uv_run(&loop, UV_RUN_NOWAIT);
		if (n <= 0)
			usleep(1000);
	}
	uv_close((uv_handle_t *)&keep, NULL);
	assert_int_equal(proxy_log_sink_queued(s), 0);
	assert_int_equal(plen, 0); /* no half line */
	assert_true(in_order);
	assert_int_equal(whole + dropped, LINES);
	assert_int_equal(proxy_log_sink_dropped(s), dropped); /* nothing lost meanwhile */

	/* the reader goes: what cannot be written is counted, no SIGPIPE death */
	close(p[0]);
	proxy_log_sink_put(s, buf, line_of(LINES, buf, sizeof(buf)));
	proxy_log_sink_flush(s);
	assert_int_equal(proxy_log_sink_close(s, 0), dropped + 1);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stalled_reader),
	};

	signal(SIGPIPE, SIG_IGN); /* as sluice-proxy does */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
