/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_log.c - formats the per-request JSON line (fields in access_log.h).
 * Hand-rolled into a caller's buffer: no allocation per request, and no
 * printf either (at tens of thousands of lines a second, vsnprintf and
 * gmtime/strftime were most of the line's cost).
 */
#include "access_log.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

struct alog_buf {
	char *p;
	size_t len, cap;
};

static void alog_raw(struct alog_buf *b, const char *s, size_t n)
{
	if (b->len + n >= b->cap)
		n = b->cap - 1 - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void alog_cstr(struct alog_buf *b, const char *s)
{
	alog_raw(b, s, strlen(s));
}

/* a string literal: its length is known at compile time */
#define alog_lit(b, s) alog_raw((b), "" s, sizeof(s) - 1)

/* two digits at a time (a line has about twenty numbers) */
static void alog_u64(struct alog_buf *b, uint64_t v)
{
	static const char d2[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char t[20];
	size_t i = sizeof(t);

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		t[--i] = d2[2 * r + 1];
		t[--i] = d2[2 * r];
	}
	if (v >= 10) {
		t[--i] = d2[2 * v + 1];
		t[--i] = d2[2 * v];
	} else {
		t[--i] = (char)('0' + v);
	}
	alog_raw(b, t + i, sizeof(t) - i);
}

/* v in exactly width digits, zero-padded */
static void alog_pad(struct alog_buf *b, unsigned v, unsigned width)
{
	char t[10];

	for (unsigned i = width; i-- > 0; v /= 10)
		t[i] = (char)('0' + v % 10);
	alog_raw(b, t, width);
}

/* A JSON string; bytes >= 0x80 and controls are escaped as \u00XX so the
 * line stays valid JSON whatever a client sent. Runs of plain bytes are
 * copied at once. */
static void alog_str(struct alog_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	alog_raw(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			continue;
		alog_raw(b, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			alog_raw(b, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			alog_raw(b, e, 6);
		}
	}
	alog_raw(b, s + run, n - run);
	alog_raw(b, "\"", 1);
}

static void alog_ipv4(struct alog_buf *b, const struct in_addr *a)
{
	const unsigned char *o = (const unsigned char *)&a->s_addr;

	for (int i = 0; i < 4; i++) {
		if (i)
			alog_raw(b, ".", 1);
		alog_u64(b, o[i]);
	}
}

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" from microseconds since the epoch (UTC;
 * days to a civil date as in Howard Hinnant's days_from_civil inverse) */
static void alog_time(struct alog_buf *b, int64_t us)
{
	int64_t secs = us / 1000000, days = secs / 86400, rem = secs % 86400;
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = (int64_t)yoe + era * 400 + (m <= 2);

	if (us < 0 || rem < 0) {
		alog_lit(b, "1970-01-01T00:00:00.000000Z");
		return;
	}
	alog_pad(b, (unsigned)y, 4);
	alog_raw(b, "-", 1);
	alog_pad(b, m, 2);
	alog_raw(b, "-", 1);
	alog_pad(b, d, 2);
	alog_raw(b, "T", 1);
	alog_pad(b, (unsigned)(rem / 3600), 2);
	alog_raw(b, ":", 1);
	alog_pad(b, (unsigned)(rem / 60 % 60), 2);
	alog_raw(b, ":", 1);
	alog_pad(b, (unsigned)(rem % 60), 2);
	alog_raw(b, ".", 1);
	alog_pad(b, (unsigned)(us % 1000000), 6);
	alog_raw(b, "Z", 1);
}

static void alog_end(struct alog_buf *b, const char *key, const struct proxy_flow_end *e)
{
	alog_raw(b, "\"", 1);
	alog_cstr(b, key);
	alog_lit(b, "\":{\"pod\":");
	if (e->pod)
		alog_str(b, e->pod, strlen(e->pod));
	else
		alog_lit(b, "null");
	alog_lit(b, ",\"namespace\":");
	if (e->ns)
		alog_str(b, e->ns, strlen(e->ns));
	else
		alog_lit(b, "null");
	alog_lit(b, ",\"identity\":");
	alog_u64(b, e->identity);
	alog_lit(b, ",\"ip\":\"");
	if (e->addr.sa.sa_family == AF_INET) {
		alog_ipv4(b, &e->addr.in.sin_addr);
	} else if (e->addr.sa.sa_family == AF_INET6) {
		char ip[INET6_ADDRSTRLEN] = "";

		inet_ntop(AF_INET6, &e->addr.in6.sin6_addr, ip, sizeof(ip));
		alog_cstr(b, ip);
	}
	alog_lit(b, "\",\"port\":");
	alog_u64(b, proxy_sockaddr_port(&e->addr));
	alog_raw(b, "}", 1);
}

static void alog_opt_str(struct alog_buf *b, const char *key, const char *v)
{
	alog_raw(b, "\"", 1);
	alog_cstr(b, key);
	alog_lit(b, "\":");
	if (v)
		alog_str(b, v, strlen(v));
	else
		alog_lit(b, "null");
}

/* ,"tls":{"version","sni","upstream":{"version","sni","verify"}}: only
 * for TLS connections (either side) */
static void alog_tls(struct alog_buf *b, const struct proxy_event *ev)
{
	const struct proxy_tls_info *c = ev->tls, *u = ev->upstream_tls;

	if (!c && !u)
		return;
	alog_lit(b, ",\"tls\":{");
	alog_opt_str(b, "version", c ? c->version : NULL);
	alog_lit(b, ",");
	alog_opt_str(b, "sni", c ? c->sni : NULL);
	alog_lit(b, ",\"upstream\":");
	if (u) {
		alog_lit(b, "{");
		alog_opt_str(b, "version", u->version);
		alog_lit(b, ",");
		alog_opt_str(b, "sni", u->sni);
		alog_lit(b, ",");
		alog_opt_str(b, "verify", u->verify);
		alog_lit(b, "}");
	} else {
		alog_lit(b, "null");
	}
	alog_lit(b, "}");
}

size_t proxy_access_log_format(const struct proxy_event *ev, char *buf, size_t cap)
{
	static const char *const verdicts[] = { "allowed", "denied", "error" };
	const struct http_exchange *x = ev->x;
	struct alog_buf b = { buf, 0, cap };
	uint64_t lat = 0;

	if (cap < 2)
		return 0;
	alog_lit(&b, "{\"time\":\"");
	alog_time(&b, ev->wall_start_us);
	alog_lit(&b, "\",");
	alog_end(&b, "source", &ev->flow->src);
	alog_lit(&b, ",");
	alog_end(&b, "destination", &ev->flow->dst);
	alog_lit(&b, ",\"method\":");
	alog_str(&b, x->method ? x->method : "", x->method ? x->method_len : 0);
	alog_lit(&b, ",\"path\":");
	alog_str(&b, x->path ? x->path : "", x->path ? x->path_len : 0);
	alog_lit(&b, ",\"host\":");
	alog_str(&b, x->host ? x->host : "", x->host ? x->host_len : 0);
	if (x->upstream_sent_ns && x->upstream_first_ns > x->upstream_sent_ns)
		lat = (x->upstream_first_ns - x->upstream_sent_ns) / 1000;
	alog_tls(&b, ev);
	alog_lit(&b, ",\"protocol\":\"HTTP/1.");
	alog_u64(&b, x->http_minor);
	alog_lit(&b, "\",\"status\":");
	if (x->status < 0) {
		alog_raw(&b, "-", 1);
		alog_u64(&b, (uint64_t)-(int64_t)x->status);
	} else {
		alog_u64(&b, (uint64_t)x->status);
	}
	alog_lit(&b, ",\"verdict\":\"");
	alog_cstr(&b, verdicts[x->verdict % 3]);
	alog_lit(&b, "\",\"reason\":\"");
	alog_cstr(&b, http_reason_name(x->reason));
	alog_lit(&b, "\",\"bytes_in\":");
	alog_u64(&b, x->bytes_in);
	alog_lit(&b, ",\"bytes_out\":");
	alog_u64(&b, x->bytes_out);
	alog_lit(&b, ",\"duration_us\":");
	alog_u64(&b, x->end_ns > x->start_ns ? (x->end_ns - x->start_ns) / 1000 : 0);
	alog_lit(&b, ",\"upstream_latency_us\":");
	alog_u64(&b, lat);
	alog_lit(&b, "}\n");
	if (b.len && buf[b.len - 1] != '\n')
		buf[b.len - 1] = '\n'; /* truncated: still one line */
	buf[b.len] = '\0';
	return b.len;
}
