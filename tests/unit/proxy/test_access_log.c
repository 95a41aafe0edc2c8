/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The access-log line (proxy/access_log.c): exact bytes for the shapes a
 * line takes (names known or not, IPv4 and IPv6, escapes, TLS on either
 * side, dates across years), the agent's variant with its fields first,
 * and truncation at every buffer size: a cut line is the line's first
 * cap - 2 bytes and '\n', never more than cap - 1 bytes, never two lines.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "access_case.h"
#include "access_log.h"

struct log_case {
	struct rec_case r; /* access_case.h: flow, exchange, event */
	struct proxy_tls_info ctls, utls;
};

static void log_case_init(struct log_case *c)
{
	memset(c, 0, sizeof(*c));
	rec_case_init(&c->r, "/public", 403);
	c->r.flow.src.pod = "client2";
	c->r.flow.src.ns = "ns";
	c->r.flow.dst.pod = "echo";
	c->r.flow.dst.ns = "ns";
	c->r.x.reason = HTTP_R_POLICY_DENIED;
	c->r.x.upstream_sent_ns = 0; /* denied: never sent */
	c->r.ev.wall_start_us = 1795615323123456; /* 2026-11-25T14:02:03.123456Z */
}

static const char line_basic[] =
	"{\"time\":\"2026-11-25T14:02:03.123456Z\","
	"\"source\":{\"pod\":\"client2\",\"namespace\":\"ns\",\"identity\":4097,\"ip\":\"10.244.0.3\",\"port\":41234},"
	"\"destination\":{\"pod\":\"echo\",\"namespace\":\"ns\",\"identity\":4098,\"ip\":\"10.244.0.2\",\"port\":8080},"
	"\"method\":\"GET\",\"path\":\"/public\",\"host\":\"backend:8080\",\"protocol\":\"HTTP/1.1\","
	"\"status\":403,\"verdict\":\"denied\",\"reason\":\"policy_denied\","
	"\"bytes_in\":78,\"bytes_out\":98,\"duration_us\":42,\"upstream_latency_us\":0}\n";

static const char line_odd[] =
	"{\"time\":\"2000-02-29T23:59:59.000001Z\","
	"\"source\":{\"pod\":null,\"namespace\":null,\"identity\":0,\"ip\":\"fd00::1:2\",\"port\":65535},"
	"\"destination\":{\"pod\":\"w\\\"eb\",\"namespace\":\"n\\\\s\",\"identity\":4294967295,\"ip\":\"255.255.255.0\",\"port\":0},"
	"\"method\":\"\",\"path\":\"/a\\\"b\\\\c\\u0001\\ufffd\\u007f\",\"host\":\"\",\"protocol\":\"HTTP/1.0\","
	"\"status\":0,\"verdict\":\"error\",\"reason\":\"bad_path\","
	"\"bytes_in\":18446744073709551615,\"bytes_out\":0,\"duration_us\":0,\"upstream_latency_us\":1234567}\n";

static const char line_tls[] =
	"{\"time\":\"1970-01-01T00:00:00.000000Z\","
	"\"source\":{\"pod\":\"client2\",\"namespace\":\"ns\",\"identity\":4097,\"ip\":\"10.244.0.3\",\"port\":41234},"
	"\"destination\":{\"pod\":\"echo\",\"namespace\":\"ns\",\"identity\":4098,\"ip\":\"10.244.0.2\",\"port\":8080},"
	"\"method\":\"POST\",\"path\":\"/api/users/42\",\"host\":\"api.example.com\","
	"\"tls\":{\"version\":\"TLSv1.3\",\"sni\":\"api.example.com\","
	"\"upstream\":{\"version\":null,\"sni\":\"api.example.com\",\"verify\":\"certificate has expired\"}},"
	"\"protocol\":\"HTTP/1.1\",\"status\":502,\"verdict\":\"allowed\",\"reason\":\"upstream_tls\","
	"\"bytes_in\":78,\"bytes_out\":98,\"duration_us\":42,\"upstream_latency_us\":0}\n";

static void log_case_odd(struct log_case *c)
{
	log_case_init(c);
	c->r.flow.src.pod = NULL;
	c->r.flow.src.ns = NULL;
	c->r.flow.src.identity = 0;
	c->r.flow.src.addr.in6.sin6_family = AF_INET6;
	c->r.flow.src.addr.in6.sin6_port = htons(65535);
	inet_pton(AF_INET6, "fd00::1:2", &c->r.flow.src.addr.in6.sin6_addr);
	c->r.flow.dst.pod = "w\"eb";
	c->r.flow.dst.ns = "n\\s";
	c->r.flow.dst.identity = 4294967295u;
	c->r.flow.dst.addr.in.sin_port = 0;
	inet_pton(AF_INET, "255.255.255.0", &c->r.flow.dst.addr.in.sin_addr);
	c->r.x.method = NULL;
	c->r.x.method_len = 0;
	c->r.x.path = "/a\"b\\c\x01\xff\x7f";
	c->r.x.path_len = 9;
	c->r.x.host = NULL;
	c->r.x.host_len = 0;
	c->r.x.http_minor = 0;
	c->r.x.status = 0;
	c->r.x.verdict = HTTP_VERDICT_ERROR;
	c->r.x.reason = HTTP_R_PATH;
	c->r.x.bytes_in = UINT64_MAX;
	c->r.x.bytes_out = 0;
	c->r.x.end_ns = c->r.x.start_ns;
	c->r.x.upstream_sent_ns = 1000;
	c->r.x.upstream_first_ns = 1000 + 1234567000ull;
	c->r.ev.wall_start_us = 951868799000001; /* a leap day, last second */
}

static void log_case_tls(struct log_case *c)
{
	log_case_init(c);
	c->r.x.method = "POST";
	c->r.x.method_len = 4;
	c->r.x.path = "/api/users/42";
	c->r.x.path_len = 13;
	c->r.x.host = "api.example.com";
	c->r.x.host_len = 15;
	c->r.x.status = 502;
	c->r.x.verdict = HTTP_VERDICT_ALLOWED;
	c->r.x.reason = HTTP_R_UPSTREAM_TLS;
	c->r.x.upstream_sent_ns = 5;
	c->r.x.upstream_first_ns = 0; /* no answer: latency 0 */
	c->ctls.version = "TLSv1.3";
	c->ctls.sni = "api.example.com";
	c->utls.sni = "api.example.com";
	c->utls.verify = "certificate has expired";
	c->r.ev.tls = &c->ctls;
	c->r.ev.upstream_tls = &c->utls;
	c->r.ev.wall_start_us = 0;
}

static void expect_line(const struct proxy_event *ev, const char *want)
{
	char buf[4096];
	size_t n = proxy_access_log_format(ev, buf, sizeof(buf));

	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);
}

static void expect_truncation(const struct proxy_event *ev, const char *full);

static const struct {
	void (*init)(struct log_case *c);
	const char *line;
} log_cases[] = {
	{ log_case_init, line_basic },
	{ log_case_odd, line_odd },
	{ log_case_tls, line_tls },
};

static void test_lines(void **state)
{
	struct log_case c;
	char buf[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(log_cases) / sizeof(log_cases[0]); i++) {
		char ends[1024];
		size_t n;

		log_cases[i].init(&c);
		expect_line(&c.r.ev, log_cases[i].line);
		expect_truncation(&c.r.ev, log_cases[i].line);
		/* the ends rendered once (per connection): the same lines */
		n = proxy_access_log_ends(&c.r.flow, ends, sizeof(ends));
		assert_int_equal(n, strlen(ends));
		assert_non_null(strstr(log_cases[i].line, ends));
		c.r.ev.ends = ends;
		c.r.ev.ends_len = n;
		expect_line(&c.r.ev, log_cases[i].line);
		expect_truncation(&c.r.ev, log_cases[i].line);
	}
	/* before the epoch: the epoch (no negative dates in logs) */
	log_case_init(&c);
	c.r.ev.wall_start_us = -5;
	proxy_access_log_format(&c.r.ev, buf, sizeof(buf));
	assert_memory_equal(buf, "{\"time\":\"1970-01-01T00:00:00.000000Z\"", 37);
}

/* Ends that do not fit: 0, the caller renders them per line. */
static void test_ends_small(void **state)
{
	struct log_case c;
	char ends[1024];
	size_t n;

	(void)state;
	log_case_odd(&c);
	n = proxy_access_log_ends(&c.r.flow, ends, sizeof(ends));
	assert_memory_equal(ends, "\"source\":{\"pod\":null,", 21);
	assert_int_equal(proxy_access_log_ends(&c.r.flow, ends, n + 1), 0);
	assert_int_equal(proxy_access_log_ends(&c.r.flow, ends, n + 2), n);
	assert_int_equal(proxy_access_log_ends(&c.r.flow, ends, 1), 0);
}

/* The agent's line: its fields first, then the same object. */
static void test_agent_line(void **state)
{
	struct log_case c;
	char buf[4096], want[4096];
	size_t n;

	(void)state;
	log_case_init(&c);
	n = proxy_access_log_format_agent(&c.r.ev, buf, sizeof(buf));
	snprintf(want, sizeof(want), "{\"ep_id\":7,\"direction\":\"egress\",\"latency_ns\":42000,%s",
		 line_basic + 1);
	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);
	c.r.flow.direction = 0;
	c.r.flow.ep_id = 4294967295u;
	c.r.x.end_ns = 0; /* before the start: 0 */
	proxy_access_log_format_agent(&c.r.ev, buf, sizeof(buf));
	{
		static const char head[] =
			"{\"ep_id\":4294967295,\"direction\":\"ingress\",\"latency_ns\":0,\"time\":";
		assert_memory_equal(buf, head, sizeof(head) - 1);
	}
	/* cut like the plain line */
	n = proxy_access_log_format_agent(&c.r.ev, buf, 40);
	assert_int_equal(n, 39);
	assert_int_equal(buf[38], '\n');
	assert_int_equal(proxy_access_log_format_agent(&c.r.ev, buf, 1), 0);
}

/* Every cap from the smallest up: the first cap - 2 bytes and '\n'. */
static void expect_truncation(const struct proxy_event *ev, const char *full)
{
	size_t len = strlen(full);
	char buf[4096 + 8];

	assert_int_equal(proxy_access_log_format(ev, buf, 1), 0);
	for (size_t cap = 2; cap <= len + 2; cap++) {
		size_t n;

		memset(buf, 'Z', sizeof(buf));
		n = proxy_access_log_format(ev, buf, cap);
		if (len + 1 <= cap) {
			assert_int_equal(n, len);
			assert_string_equal(buf, full);
		} else {
			assert_int_equal(n, cap - 1);
			assert_memory_equal(buf, full, cap - 2);
			assert_int_equal(buf[cap - 2], '\n');
			assert_int_equal(buf[cap - 1], '\0');
		}
		assert_int_equal(buf[cap], 'Z'); /* nothing past cap */
	}
}

/* A path of escapes only: six bytes out per byte in, cut to the buffer. */
static void test_long_escaped_path(void **state)
{
	struct log_case c;
	static char path[3000];
	static char buf[4096], big[20000];
	size_t n;

	(void)state;
	memset(path, 0x01, sizeof(path));
	log_case_init(&c);
	c.r.x.path = path;
	c.r.x.path_len = sizeof(path);
	n = proxy_access_log_format(&c.r.ev, buf, sizeof(buf));
	assert_int_equal(n, sizeof(buf) - 1);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1));
	n = proxy_access_log_format(&c.r.ev, big, sizeof(big));
	assert_true(n > 6 * sizeof(path));
	assert_memory_equal(big, buf, sizeof(buf) - 2);
	assert_string_equal(big + n - 3, "0}\n");
}

/*
 * Text a client sent in UTF-8 comes back to a JSON reader as it was: each
 * character as its \\uXXXX escape (a surrogate pair above U+FFFF; the line
 * stays ASCII), and a byte that starts no valid sequence (stray, overlong,
 * surrogate, above U+10FFFF, or cut by the field's end) as U+FFFD.
 */
static void test_utf8_path(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{ "/caf\xc3\xa9", 6, "\"path\":\"/caf\\u00e9\"" },
		{ "/\xe6\x97\xa5\xf0\x9f\x98\x80", 8, "\"path\":\"/\\u65e5\\ud83d\\ude00\"" },
		{ "/\xc3\xa9", 2, "\"path\":\"/\\ufffd\"" },
		{ "/\xc0\xaf\xed\xa0\x80", 6, "\"path\":\"/\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"" },
		{ "/\xf4\x90\x80\x80x", 6, "\"path\":\"/\\ufffd\\ufffd\\ufffd\\ufffdx\"" },
		{ "/\xef\xbf\xbd\x7f", 5, "\"path\":\"/\\ufffd\\u007f\"" },
	};
	struct log_case c;
	char buf[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_case_init(&c);
		c.r.x.path = cases[i].in;
		c.r.x.path_len = cases[i].len;
		proxy_access_log_format(&c.r.ev, buf, sizeof(buf));
		if (!strstr(buf, cases[i].want))
			fail_msg("case %zu: %s lacks %s", i, buf, cases[i].want);
		for (const char *p = buf; *p; p++)
			assert_true((unsigned char)*p < 0x80);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_agent_line),
		cmocka_unit_test(test_ends_small),
		cmocka_unit_test(test_long_escaped_path),
		cmocka_unit_test(test_utf8_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
