/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_splice_head.c - the response splice's head reader (the kernel's,
 * bpf/lib/splice_head.h) against the proxy on the same bytes
 * (proxy/splice_diff.h): the heads it must take and those it must leave to
 * the proxy, then 500,000 mutations of them (fixed seed), none of which may
 * make the two disagree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "head_mutate.h"
#include "splice_diff.h"

static int diff(const char *r)
{
	const char *why;
	int rc = splice_diff(r, strlen(r), &why);

	if (rc < 0)
		fail_msg("%s for:\n%s", why, r);
	return rc;
}

#define NGINX "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 04:30:00 GMT\r\n" \
	      "Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n"

static void test_taken(void **state)
{
	(void)state;
	assert_int_equal(diff(NGINX "ok\n"), 1);
	assert_int_equal(diff(NGINX), 1); /* the body in a later send */
	assert_int_equal(diff(NGINX "o"), 1);
	assert_int_equal(diff("HTTP/1.1 201 Created\r\nCONTENT-LENGTH: 2\r\nconnection: Keep-Alive\r\n"
			      "KEEP-ALIVE: timeout=5\r\n\r\nhi"), 1);
	assert_int_equal(diff("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"), 1);
	assert_int_equal(diff("HTTP/1.1 599 x\r\nContent-Length:\t007\r\nX: \t\r\n\r\n1234567"), 1);
	assert_int_equal(diff("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n"), 1);
}

static void test_left_to_the_proxy(void **state)
{
	static const char *const heads[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
		"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\n\r\nclose-delimited",
		"HTTP/1.1 200 OK\r\nContent-Length: 3 \r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA",
		"HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n folded\r\n\r\nabc",
		"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nProxy-Connection: keep-alive\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive, Upgrade\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX: caf\xc3\xa9\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r",
		"HTTP/1.1 600 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 20x OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		assert_int_equal(diff(heads[i]), 0);
}

/* Mutations of real heads (head_mutate.h). */
static void test_mutations(void **state)
{
	static const char *const seeds[] = {
		NGINX "ok\n",
		"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nhi",
		"HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-Length: 10\r\n\r\n0123456789",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	};
	static const char bytes[] = " \t:\r\n-A0\x7f\x80\x01,;=";
	static const char *const lines[] = {
		"Connection: keep-alive\r\n", "Content-Length: 0\r\n", "keep-alive: x\r\n",
		"Transfer-Encoding: chunked\r\n", "X: y\r\n", "Connection:keep-alive\r\n",
		"CONTENT-LENGTH:  5\r\n", "Connection: close\r\n", "Upgrade: h2c\r\n",
		"Content-Length: 2\r\n", "Proxy-Connection: close\r\n", "\r\n",
	};
	struct head_mutator m = { 0x9e3779b97f4a7c15ull, bytes, lines,
				   sizeof(lines) / sizeof(lines[0]) };

	(void)state;
	head_mutate_run(&m, seeds, sizeof(seeds) / sizeof(seeds[0]), 500000, splice_diff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taken),
		cmocka_unit_test(test_left_to_the_proxy),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
