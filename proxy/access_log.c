/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access_log.c - formats the per-request JSON line (fields in access_log.h).
 * Hand-rolled into a caller's buffer: no allocation per request.
 */
#include "access_log.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

static void alog_lit(struct alog_buf *b, const char *s)
{
	alog_raw(b, s, strlen(s));
}

static void alog_fmt(struct alog_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void alog_fmt(struct alog_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len + 1 >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - 1 - b->len;
}

/* A JSON string; bytes >= 0x80 and controls are escaped as \u00XX so the
 * line stays valid JSON whatever a client sent. */
static void alog_str(struct alog_buf *b, const char *s, size_t n)
{
	alog_raw(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			alog_raw(b, e, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			alog_fmt(b, "\\u%04x", c);
		} else {
			alog_raw(b, (const char *)&c, 1);
		}
	}
	alog_raw(b, "\"", 1);
}

static void alog_end(struct alog_buf *b, const char *key, const struct proxy_flow_end *e)
{
	char ip[INET6_ADDRSTRLEN] = "";
	uint16_t port = proxy_sockaddr_port(&e->addr);

	if (e->addr.sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &e->addr.in.sin_addr, ip, sizeof(ip));
	else if (e->addr.sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &e->addr.in6.sin6_addr, ip, sizeof(ip));
	alog_fmt(b, "\"%s\":{\"pod\":", key);
	if (e->pod)
		alog_str(b, e->pod, strlen(e->pod));
	else
		alog_lit(b, "null");
	alog_lit(b, ",\"namespace\":");
	if (e->ns)
		alog_str(b, e->ns, strlen(e->ns));
	else
		alog_lit(b, "null");
	alog_fmt(b, ",\"identity\":%" PRIu32 ",\"ip\":\"%s\",\"port\":%u}", e->identity, ip, port);
}

static void alog_opt_str(struct alog_buf *b, const char *key, const char *v)
{
	alog_fmt(b, "\"%s\":", key);
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
	time_t sec = (time_t)(ev->wall_start_us / 1000000);
	struct tm tm;
	char ts[32];
	uint64_t lat = 0;

	if (cap < 2)
		return 0;
	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	alog_fmt(&b, "{\"time\":\"%s.%06dZ\",", ts, (int)(ev->wall_start_us % 1000000));
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
	alog_fmt(&b, ",\"protocol\":\"HTTP/1.%u\",\"status\":%d,\"verdict\":\"%s\","
		 "\"reason\":\"%s\",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
		 ",\"duration_us\":%" PRIu64 ",\"upstream_latency_us\":%" PRIu64 "}\n",
		 x->http_minor, x->status, verdicts[x->verdict % 3],
		 http_reason_name(x->reason), x->bytes_in, x->bytes_out,
		 x->end_ns > x->start_ns ? (x->end_ns - x->start_ns) / 1000 : 0, lat);
	if (b.len && buf[b.len - 1] != '\n')
		buf[b.len - 1] = '\n'; /* truncated: still one line */
	buf[b.len] = '\0';
	return b.len;
}
