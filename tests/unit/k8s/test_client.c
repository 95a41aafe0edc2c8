// SPDX-License-Identifier: Apache-2.0
/*
 * test_client.c - the client handle without a server: server URLs (https,
 * http, IPv6 literals, default ports, path prefixes) and their errors, and
 * the request bytes it sends (request line, Host, User-Agent, Accept,
 * bearer token, body headers, Connection: close), the refusal backoff's
 * knob and how failed answers are counted (403/404 apart from errors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_impl.h"

static struct k8s_client *client(const char *server, const char *token)
{
	struct k8s_config cfg = {.server = (char *)server, .token = (char *)token};
	struct k8s_client *c = NULL;
	char *err = NULL;
	int r = k8s_client_new(uv_default_loop(), &cfg, &c, &err);
	if (r)
		fail_msg("%s: %s", server, err);
	return c;
}

static char *request_ka(struct k8s_client *c, const char *method, const char *path,
			const char *body, bool keepalive)
{
	size_t len;
	return k8s_client_build_request(c, method, path, NULL, body, body ? strlen(body) : 0,
					keepalive, &len);
}

static char *request(struct k8s_client *c, const char *method, const char *path, const char *body)
{
	return request_ka(c, method, path, body, false);
}

static void test_request_bytes(void **state)
{
	(void)state;
	struct k8s_client *c = client("http://127.0.0.1:8080", "tok");
	char *r = request(c, "GET", "/api/v1/pods?watch=1", NULL);
	assert_string_equal(r, "GET /api/v1/pods?watch=1 HTTP/1.1\r\n"
			       "Host: 127.0.0.1:8080\r\n"
			       "User-Agent: sluice/" SLUICE_K8S_TEST_VERSION "\r\n"
			       "Accept: application/json\r\n"
			       "Authorization: Bearer tok\r\n"
			       "Connection: close\r\n\r\n");
	free(r);
	/* one-shot requests keep the connection (HTTP/1.1's default) */
	r = request_ka(c, "GET", "/api/v1/pods", NULL, true);
	assert_null(strstr(r, "Connection:"));
	assert_non_null(strstr(r, "Authorization: Bearer tok\r\n\r\n"));
	free(r);
	r = request(c, "POST", "/api/v1/namespaces", "{\"a\":1}");
	assert_non_null(strstr(r, "Content-Type: application/json\r\nContent-Length: 7\r\n"));
	assert_non_null(strstr(r, "\r\n\r\n{\"a\":1}"));
	free(r);
	k8s_client_free(c);
}

static void test_servers(void **state)
{
	(void)state;
	struct k8s_client *c = client("https://[fd00::1]:6443/prefix/", NULL);
	assert_string_equal(c->host, "[fd00::1]");
	assert_string_equal(c->port, "6443");
	char *r = request(c, "GET", "/api", NULL);
	assert_non_null(strstr(r, "GET /prefix/api HTTP/1.1\r\nHost: [fd00::1]:6443\r\n"));
	assert_null(strstr(r, "Authorization"));
	free(r);
	k8s_client_free(c);

	c = client("https://kubernetes.default.svc", NULL);
	assert_string_equal(c->port, "443");
	assert_string_equal(c->host_header, "kubernetes.default.svc");
	k8s_client_free(c);
	c = client("http://localhost", NULL);
	assert_string_equal(c->port, "80");
	k8s_client_free(c);

	static const char *const bad[] = {"ftp://x", "https://", "https://h:0", "https://h:99999",
					  "https://h:x", "https://[::1", "https://[::1]x", "127.0.0.1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct k8s_config cfg = {.server = (char *)bad[i]};
		char *err = NULL;
		c = NULL;
		assert_true(k8s_client_new(uv_default_loop(), &cfg, &c, &err) < 0);
		assert_null(c);
		if (!strstr(err, "server") && !strstr(err, bad[i]))
			fail_msg("%s: %s", bad[i], err);
		free(err);
	}
}

static void test_tls_config_errors(void **state)
{
	(void)state;
	struct k8s_config cfg = {.server = "https://127.0.0.1:1", .ca_file = "/nonexistent/ca.crt"};
	struct k8s_client *c = NULL;
	char *err = NULL;
	assert_true(k8s_client_new(uv_default_loop(), &cfg, &c, &err) < 0);
	assert_non_null(strstr(err, "/nonexistent/ca.crt"));
	free(err);
	err = NULL;
	struct k8s_config cfg2 = {.server = "https://127.0.0.1:1", .ca_data = "not pem"};
	assert_true(k8s_client_new(uv_default_loop(), &cfg2, &c, &err) < 0);
	assert_non_null(strstr(err, "certificate-authority-data"));
	free(err);
	err = NULL;
	struct k8s_config cfg3 = {.server = "https://127.0.0.1:1", .token_file = "/nonexistent/tok"};
	assert_true(k8s_client_new(uv_default_loop(), &cfg3, &c, &err) < 0);
	assert_non_null(strstr(err, "/nonexistent/tok"));
	free(err);
}

/* a request to a closed port reports through the callback, from the loop */
static int cb_calls;
static int cb_status;
static char cb_msg[256];
static void on_resp(void *ctx, int status, json_t *body, const char *errmsg)
{
	(void)ctx;
	(void)body;
	cb_calls++;
	cb_status = status;
	snprintf(cb_msg, sizeof(cb_msg), "%s", errmsg ? errmsg : "");
}

static void test_unreachable(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct k8s_config cfg = {.server = "http://127.0.0.1:1"};
	struct k8s_client *c = NULL;
	char *err = NULL;
	assert_int_equal(k8s_client_new(&loop, &cfg, &c, &err), 0);
	assert_int_equal(k8s_request(c, "GET", "/api", NULL, NULL, on_resp, NULL), 0);
	assert_int_equal(cb_calls, 0); /* never before k8s_request returns */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(cb_calls, 1);
	assert_int_equal(cb_status, 0);
	assert_non_null(strstr(cb_msg, "connect to 127.0.0.1:1"));
	struct k8s_client_stats st;
	k8s_client_stats(c, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.errors, 1);
	/* freeing with a request in flight: no callback, nothing left */
	assert_int_equal(k8s_request(c, "GET", "/api", NULL, NULL, on_resp, NULL), 0);
	k8s_client_free(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(cb_calls, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* SLUICE_K8S_REFUSED_RETRY_MS: "BASE,CAP" in ms, anything else keeps 1 s / 30 s */
static void test_refused_retry_knob(void **state)
{
	static const struct {
		const char *env;
		uint64_t base, cap;
	} cases[] = {
		{ NULL, 1000, 30000 },     { "500,4000", 500, 4000 }, { "200,200", 200, 200 },
		{ "4000,500", 1000, 30000 }, { "500", 1000, 30000 },    { "0,100", 1000, 30000 },
		{ "5,x", 1000, 30000 },     { "", 1000, 30000 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].env)
			setenv("SLUICE_K8S_REFUSED_RETRY_MS", cases[i].env, 1);
		else
			unsetenv("SLUICE_K8S_REFUSED_RETRY_MS");
		struct k8s_client *c = client("https://127.0.0.1:6443", NULL);
		assert_int_equal(c->refused_base_ms, cases[i].base);
		assert_int_equal(c->refused_cap_ms, cases[i].cap);
		k8s_client_free(c);
	}
	unsetenv("SLUICE_K8S_REFUSED_RETRY_MS");
}

/* an RBAC gap or an absent CRD is not an unhealthy server */
static void test_count_status(void **state)
{
	(void)state;
	struct k8s_client *c = client("https://127.0.0.1:6443", NULL);
	struct k8s_client_stats st;
	static const int statuses[] = { 403, 403, 404, 401, 500, 429, 0 };
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		k8s_client_count_status(c, statuses[i]);
	k8s_client_stats(c, &st);
	assert_int_equal(st.forbidden, 2);
	assert_int_equal(st.not_found, 1);
	assert_int_equal(st.errors, 4);
	k8s_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_bytes),
		cmocka_unit_test(test_servers),
		cmocka_unit_test(test_tls_config_errors),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_refused_retry_knob),
		cmocka_unit_test(test_count_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
