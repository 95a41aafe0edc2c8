/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON access record (a proxy's "access" message) as the agent's L7
 * flow: the records are written by the proxy's own formatter
 * (proxy_access_log_format), so a change of the log's shape shows here.
 * The scheme is https for a client that spoke TLS, a serverNames refusal
 * included (its record has no TLS version: the handshake never finished),
 * and http for a plain client, even with a TLS upstream.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../proxy/access_case.h"
#include "access_json.h"
#include "access_log.h"

/* rec_case_init's exchange, as an egress request to server.test:8443 */
static void rec_init(struct rec_case *c, const char *method, const char *path, int status)
{
	rec_case_init(c, path, status);
	c->flow.direction = SLUICE_DIR_EGRESS;
	c->flow.dst.addr.in.sin_port = htons(8443);
	c->x.method = method;
	c->x.method_len = strlen(method);
	c->x.host = "server.test";
	c->x.host_len = strlen(c->x.host);
	c->x.verdict = status == 200 ? HTTP_VERDICT_ALLOWED : HTTP_VERDICT_DENIED;
}

/* the record as the proxy's control channel sends it: the log line plus
 * the channel's keys (proxy/control.c) */
static json_t *rec_json(struct rec_case *c, char *line, size_t cap)
{
	size_t n = proxy_access_log_format(&c->ev, line, cap);
	json_t *m;

	assert_true(n > 2);
	m = json_loadb(line, n, 0, NULL);
	assert_non_null(m);
	json_object_set_new(m, "type", json_string("access"));
	json_object_set_new(m, "direction", json_string("egress"));
	json_object_set_new(m, "latency_ns", json_integer(42000));
	return m;
}

static void test_tls_request(void **state)
{
	struct proxy_tls_info tls = { .version = "TLSv1.3", .sni = "server.test" };
	struct flow_l7 ev = { 0 };
	struct rec_case c;
	char line[4096];
	json_t *m;

	(void)state;
	rec_init(&c, "GET", "/api/users/42", 200);
	c.ev.tls = &tls;
	m = rec_json(&c, line, sizeof(line));
	assert_true(access_json_flow(m, &ev));
	assert_true(ev.https);
	assert_true(ev.allowed);
	assert_int_equal(ev.direction, SLUICE_DIR_EGRESS);
	assert_string_equal(ev.method, "GET");
	assert_string_equal(ev.url, "/api/users/42");
	assert_string_equal(ev.host, "server.test");
	assert_int_equal(ev.code, 200);
	assert_int_equal(ev.sport, 41234);
	assert_int_equal(ev.dport, 8443);
	assert_int_equal(ev.src_identity, 4097);
	assert_int_equal(ev.dst_identity, 4098);
	assert_int_equal(ev.latency_ns, 42000);
	assert_int_equal(ev.time_ns, 1764950000123456ull * 1000);
	assert_int_equal(ev.saddr[12], 10);
	assert_int_equal(ev.daddr[15], 2);
	json_decref(m);
}

/* serverNames closed it: no version (the handshake never finished), still
 * a TLS client: https, and no response flow */
static void test_refusal(void **state)
{
	struct proxy_tls_info tls = { .sni = "other.test" };
	struct flow_l7 ev = { 0 };
	struct rec_case c;
	char line[4096];
	json_t *m;

	(void)state;
	rec_init(&c, "", "", 0);
	c.x.host = "other.test";
	c.x.host_len = strlen(c.x.host);
	c.x.reason = HTTP_R_TLS_SERVER_NAME;
	c.ev.tls = &tls;
	c.ev.refused = true;
	m = rec_json(&c, line, sizeof(line));
	assert_true(json_is_null(json_object_get(json_object_get(m, "tls"), "version")));
	assert_false(access_json_flow(m, &ev));
	assert_true(ev.https);
	assert_false(ev.allowed);
	assert_string_equal(ev.host, "other.test");
	assert_string_equal(ev.reason, "tls_server_name");
	json_decref(m);

	/* no SNI at all: refused the same way */
	tls.sni = NULL;
	c.x.host = "";
	c.x.host_len = 0;
	m = rec_json(&c, line, sizeof(line));
	memset(&ev, 0, sizeof(ev));
	assert_false(access_json_flow(m, &ev));
	assert_true(ev.https);
	json_decref(m);
}

/* plain client, TLS upstream (originatingTLS): the client asked for http:// */
static void test_plain_client(void **state)
{
	struct proxy_tls_info up = { .version = "TLSv1.3", .sni = "server.test", .verify = "ok" };
	struct flow_l7 ev = { 0 };
	struct rec_case c;
	char line[4096];
	json_t *m;

	(void)state;
	rec_init(&c, "DELETE", "/api/x", 403);
	m = rec_json(&c, line, sizeof(line));
	assert_true(access_json_flow(m, &ev));
	assert_false(ev.https);
	assert_false(ev.allowed);
	assert_int_equal(ev.code, 403);
	json_decref(m);
	c.ev.upstream_tls = &up;
	m = rec_json(&c, line, sizeof(line));
	assert_non_null(json_object_get(m, "tls"));
	memset(&ev, 0, sizeof(ev));
	assert_true(access_json_flow(m, &ev));
	assert_false(ev.https);
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_request),
		cmocka_unit_test(test_refusal),
		cmocka_unit_test(test_plain_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
