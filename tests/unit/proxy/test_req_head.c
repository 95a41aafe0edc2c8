/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_req_head.c - the request splice's head reader (the kernel's,
 * bpf/lib/req_head.h) against the proxy on the same bytes
 * (proxy/req_diff.h): the requests it must take and those it must leave to
 * the proxy, then 500,000 mutations of them (fixed seed), none of which may
 * make the two disagree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "head_mutate.h"
#include "req_diff.h"

static int diff(const char *r)
{
	const char *why;
	int rc = req_diff(r, strlen(r), &why);

	if (rc < 0)
		fail_msg("%s for:\n%s", why, r);
	return rc;
}

#define WRK "GET /api/users/1 HTTP/1.1\r\nHost: 10.0.0.2:80\r\n\r\n"

static void test_taken(void **state)
{
	(void)state;
	assert_int_equal(diff(WRK), 1);
	assert_int_equal(diff("GET / HTTP/1.1\r\nhost: a\r\n\r\n"), 1);
	assert_int_equal(diff("DELETE /a/b.c/d-e_f~g HTTP/1.1\r\nHOST:\tsvc.ns.svc.cluster.local \r\n"
			      "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"), 1);
	assert_int_equal(diff("OPTIONS /x;p=1/y:z@w!$&'()*+,= HTTP/1.1\r\nX-Empty:\r\n"
			      "Host: a-b.c_d~e:65535\r\nX: \"quoted\" ; q=0.5\r\n\r\n"), 1);
	assert_int_equal(diff("PATCH /q?a=1&b=/../x?y//z HTTP/1.1\r\nHost: 1\r\n\r\n"), 1);
	assert_int_equal(diff("POST /a. HTTP/1.1\r\nHost: x\r\nTE: trailers-x\r\n\r\n"), 0);
	assert_int_equal(diff("PUT /a.b/c.. HTTP/1.1\r\nHost: x\r\nTEE: y\r\n\r\n"), 1);
}

static void test_left_to_the_proxy(void **state)
{
	static const char *const heads[] = {
		/* methods */
		"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
		"CONNECT a:80 HTTP/1.1\r\nHost: a:80\r\n\r\n",
		"get / HTTP/1.1\r\nHost: a\r\n\r\n",
		"PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GETS / HTTP/1.1\r\nHost: a\r\n\r\n",
		/* versions, lines */
		"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\n\r\n",
		"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r",
		/* targets the proxy changes or refuses, or that are not origin-form */
		"GET //a HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a//b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /./a HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a/.. HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /..;/admin HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /%61 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a?b=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
		/* framing, hop-by-hop, bodies */
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nconnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: 5\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTrailer: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
		/* Host */
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: :80\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a%2e\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n",
		/* values */
		"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
		/* more than the head: a body or the next request in the same send */
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nx",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		if (diff(heads[i]) != 0)
			fail_msg("taken: %s", heads[i]);
}

static void test_limits(void **state)
{
	char r[SLUICE_REQ_HEAD_MAX + 64];
	size_t n;

	(void)state;
	/* REQ_FIELDS_MAX fields are taken, one more is not */
	for (int extra = 0; extra < 2; extra++) {
		n = (size_t)sprintf(r, "GET / HTTP/1.1\r\nHost: a\r\n");
		for (int i = 0; i < REQ_FIELDS_MAX - 1 + extra; i++)
			n += (size_t)sprintf(r + n, "X%d: y\r\n", i);
		n += (size_t)sprintf(r + n, "\r\n");
		assert_int_equal(diff(r), extra ? 0 : 1);
	}
	/* a head of SLUICE_REQ_HEAD_MAX bytes is taken, one byte more is not */
	for (int extra = 0; extra < 2; extra++) {
		const char *pre = "GET /", *post = " HTTP/1.1\r\nHost: a\r\n\r\n";
		size_t t = SLUICE_REQ_HEAD_MAX - strlen(pre) - strlen(post) + (size_t)extra;

		n = (size_t)sprintf(r, "%s", pre);
		memset(r + n, 'a', t);
		n += t;
		n += (size_t)sprintf(r + n, "%s", post);
		assert_int_equal(n, SLUICE_REQ_HEAD_MAX + (size_t)extra);
		assert_int_equal(diff(r), extra ? 0 : 1);
	}
}

/* Mutations of real requests: bytes changed to those that matter to a
 * parser or to the canonical path, lines inserted, bytes dropped, the end
 * cut. */
static void test_mutations(void **state)
{
	static const char *const seeds[] = {
		WRK,
		"GET /api/v1/items?id=7&x=/a HTTP/1.1\r\nHost: svc:8080\r\nUser-Agent: curl/7.88.1\r\n"
		"Accept: */*\r\n\r\n",
		"POST /a/b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
		"DELETE /x/y.z HTTP/1.1\r\nhost:  b.c  \r\nX-Id: 1\r\n\r\n",
	};
	static const char bytes[] = " \t:\r\n-A0\x7f\x80\x01,;=/.?%#\\@[]*";
	static const char *const lines[] = {
		"Connection: keep-alive\r\n", "Content-Length: 0\r\n", "Host: x\r\n",
		"Transfer-Encoding: chunked\r\n", "X: y\r\n", "Connection: close\r\n",
		"Upgrade: h2c\r\n", "TE: trailers\r\n", "Expect: 100-continue\r\n", "\r\n",
		"Keep-Alive: 1\r\n", "host:\t[::1]\r\n", "X-Forwarded-For: 1.2.3.4\r\n",
	};
	struct head_mutator m = { 0x9e3779b97f4a7c15ull, bytes, lines,
				   sizeof(lines) / sizeof(lines[0]) };

	(void)state;
	head_mutate_run(&m, seeds, sizeof(seeds) / sizeof(seeds[0]), 500000, req_diff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taken),
		cmocka_unit_test(test_left_to_the_proxy),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
