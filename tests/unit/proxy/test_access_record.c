/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Binary access records (proxy/access_record.c, read by the agent with
 * sluice_access_next()): fields survive the trip, long strings are cut,
 * a full buffer is refused, malformed records stop the walk, a serverNames
 * refusal is flagged.
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
#include "access_record.h"

static void test_round_trip(void **state)
{
	_Alignas(8) char buf[SLUICE_ACCESS_BATCH_MAX];
	struct rec_case a, b;
	const struct sluice_access_rec *r;
	size_t len = 0, off = 0, n;
	char *long_path = malloc(SLUICE_ACCESS_PATH_MAX + 100);

	(void)state;
	memset(long_path, 'x', SLUICE_ACCESS_PATH_MAX + 99);
	long_path[0] = '/';
	long_path[SLUICE_ACCESS_PATH_MAX + 99] = 0;
	rec_case_init(&a, "/api/users/1", 200);
	rec_case_init(&b, long_path, 403);
	n = proxy_access_record_put(&a.ev, buf, sizeof(buf));
	assert_true(n > 0 && n % 8 == 0);
	len += n;
	n = proxy_access_record_put(&b.ev, buf + len, sizeof(buf) - len);
	assert_int_equal(n, sluice_access_rec_size(3, 12, SLUICE_ACCESS_PATH_MAX));
	len += n;

	r = sluice_access_next(buf, len, &off);
	assert_non_null(r);
	assert_int_equal(r->ep_id, 7);
	assert_int_equal(r->direction, 1);
	assert_int_equal(r->verdict, SLUICE_ACCESS_ALLOWED);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->http_minor, 1);
	assert_int_equal(r->src_identity, 4097);
	assert_int_equal(r->dst_identity, 4098);
	assert_int_equal(r->src_port, 41234);
	assert_int_equal(r->dst_port, 8080);
	assert_int_equal(r->src_addr[10], 0xff);
	assert_int_equal(r->src_addr[15], 3);
	assert_int_equal(r->dst_addr[15], 2);
	assert_int_equal(r->time_us, 1764950000123456ull);
	assert_int_equal(r->duration_ns, 42000);
	assert_int_equal(r->upstream_latency_ns, 10000);
	assert_int_equal(r->bytes_in, 78);
	assert_int_equal(r->bytes_out, 98);
	assert_memory_equal((const char *)(r + 1), "GETbackend:8080/api/users/1", 27);
	assert_int_equal(r->path_len, 12);

	r = sluice_access_next(buf, len, &off);
	assert_non_null(r);
	assert_int_equal(r->verdict, SLUICE_ACCESS_DENIED);
	assert_int_equal(r->path_len, SLUICE_ACCESS_PATH_MAX); /* cut */
	assert_null(sluice_access_next(buf, len, &off));
	assert_int_equal(off, len);

	/* no room: nothing written */
	assert_int_equal(proxy_access_record_put(&a.ev, buf, 64), 0);
	free(long_path);
}

/* A connection serverNames closed: one denied record, flagged TLS (the
 * flow shows https://) and refused (the agent makes no response flow). */
static void test_refused(void **state)
{
	_Alignas(8) char buf[1024];
	struct proxy_tls_info tls = { .sni = "other.test" };
	const struct sluice_access_rec *r;
	struct rec_case a;
	size_t off = 0, n;

	(void)state;
	rec_case_init(&a, "", 0);
	a.x.method = "";
	a.x.method_len = 0;
	a.x.host = "other.test";
	a.x.host_len = 10;
	a.x.verdict = HTTP_VERDICT_DENIED;
	a.x.reason = HTTP_R_TLS_SERVER_NAME;
	a.ev.tls = &tls; /* no version: the handshake never finished */
	n = proxy_access_record_put(&a.ev, buf, sizeof(buf));
	r = sluice_access_next(buf, n, &off);
	assert_non_null(r);
	assert_int_equal(r->flags, 0); /* not refused: no flag, and no version: not TLS */
	a.ev.refused = true;
	off = 0;
	n = proxy_access_record_put(&a.ev, buf, sizeof(buf));
	r = sluice_access_next(buf, n, &off);
	assert_non_null(r);
	assert_int_equal(r->flags, SLUICE_ACCESS_F_TLS | SLUICE_ACCESS_F_REFUSED);
	assert_int_equal(r->verdict, SLUICE_ACCESS_DENIED);
	assert_int_equal(r->reason, HTTP_R_TLS_SERVER_NAME);
	assert_int_equal(r->status, 0);
	assert_int_equal(r->method_len, 0);
	assert_memory_equal((const char *)(r + 1), "other.test", 10);
	assert_string_equal(http_reason_name(HTTP_R_TLS_SERVER_NAME), "tls_server_name");
}

static void test_malformed(void **state)
{
	_Alignas(8) char buf[1024];
	struct rec_case a;
	struct sluice_access_rec *r = (struct sluice_access_rec *)buf;
	size_t n, off;

	(void)state;
	rec_case_init(&a, "/x", 200);
	n = proxy_access_record_put(&a.ev, buf, sizeof(buf));
	/* cut short */
	off = 0;
	assert_null(sluice_access_next(buf, n - 8, &off));
	/* a size that does not match the strings */
	r->size = (uint16_t)(n + 8);
	off = 0;
	assert_null(sluice_access_next(buf, sizeof(buf), &off));
	/* not a multiple of 8 */
	r->size = (uint16_t)(n - 1);
	off = 0;
	assert_null(sluice_access_next(buf, sizeof(buf), &off));
	/* a string length beyond the record */
	r->size = (uint16_t)n;
	r->path_len = 900;
	off = 0;
	assert_null(sluice_access_next(buf, sizeof(buf), &off));
	assert_int_equal(off, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
