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

#include "sluice/abi.h"
#include "util.h"

/* Where the line goes: p the next byte, end the last byte a line may use
 * (the NUL's place). Appends that fit are plain stores; one that does not
 * is cut and everything after it is dropped, so a long line is its first
 * cap - 2 bytes and a '\n'. */
struct alog_buf {
	char *p, *end;
};

static void alog_raw_cut(struct alog_buf *b, const char *s, size_t n)
{
	size_t room = (size_t)(b->end - b->p);

	n = n < room ? n : room;
	memcpy(b->p, s, n);
	b->p += n;
}

/* inline so that a literal's memcpy has a constant size (a few moves, no
 * call): a line is about fifty appends */
static inline __attribute__((always_inline)) void alog_raw(struct alog_buf *b, const char *s,
							   size_t n)
{
	if (__builtin_expect((size_t)(b->end - b->p) >= n, 1)) {
		memcpy(b->p, s, n);
		b->p += n;
	} else {
		alog_raw_cut(b, s, n);
	}
}

/* a string literal: its length is known at compile time */
#define alog_lit(b, s) alog_raw((b), "" s, sizeof(s) - 1)

static const char alog_d2[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* v written right-aligned ending at t (exclusive), two digits at a time;
 * returns its first byte */
static char *alog_digits(char *t, uint64_t v)
{
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		t -= 2;
		memcpy(t, alog_d2 + 2 * r, 2);
	}
	if (v >= 10) {
		t -= 2;
		memcpy(t, alog_d2 + 2 * v, 2);
	} else {
		*--t = (char)('0' + v);
	}
	return t;
}

/* counts the digits first, then writes them in place */
static void alog_u64(struct alog_buf *b, uint64_t v)
{
	static const uint64_t p10[19] = {
		10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
		100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
		1000000000000ull, 10000000000000ull, 100000000000000ull,
		1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
		1000000000000000000ull, 10000000000000000000ull,
	};
	size_t n = 1;

	while (n < 20 && v >= p10[n - 1])
		n++;
	if ((size_t)(b->end - b->p) < n) {
		char t[20], *s = alog_digits(t + sizeof(t), v);

		alog_raw_cut(b, s, n);
		return;
	}
	alog_digits(b->p + n, v);
	b->p += n;
}

/* Bytes a JSON string cannot carry as they are: '"', '\\', controls, DEL
 * and everything >= 0x80 (escaped, so the line stays valid JSON and ASCII
 * whatever a client sent). */
static const unsigned char alog_esc[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f ... 0xff] = 1,
};

static void alog_u16(struct alog_buf *b, uint32_t u)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\', 'u', hex[u >> 12 & 15], hex[u >> 8 & 15], hex[u >> 4 & 15], hex[u & 15] };

	alog_raw(b, e, 6);
}

/*
 * A JSON string. Runs of plain bytes are copied at once. A valid UTF-8
 * character is written as its \uXXXX escape (a surrogate pair above
 * U+FFFF), so a JSON reader gets the client's text back; a byte that starts
 * no valid sequence as U+FFFD, as the flows' JSON (common/flow_json.c) and
 * Go's encoding/json write it.
 */
static void alog_str(struct alog_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0;

	alog_lit(b, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = u[i];
		uint32_t cp;
		size_t len;

		if (!alog_esc[c])
			continue;
		alog_raw(b, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			alog_raw(b, e, 2);
		} else if (c < 0x80) {
			alog_u16(b, c);
		} else if ((len = sl_utf8_decode(u + i, n - i, &cp)) == 0) {
			alog_u16(b, 0xfffd);
		} else {
			if (cp >= 0x10000) {
				alog_u16(b, 0xd800 | ((cp - 0x10000) >> 10));
				alog_u16(b, 0xdc00 | ((cp - 0x10000) & 0x3ff));
			} else {
				alog_u16(b, cp);
			}
			i += len - 1;
			run = i + 1;
		}
	}
	alog_raw(b, s + run, n - run);
	alog_lit(b, "\"");
}

static void alog_cstr_or_null(struct alog_buf *b, const char *s)
{
	if (s)
		alog_str(b, s, strlen(s));
	else
		alog_lit(b, "null");
}

static void alog_ipv4(struct alog_buf *b, const struct in_addr *a)
{
	const unsigned char *o = (const unsigned char *)&a->s_addr;
	char t[16], *w = t;

	for (int i = 0; i < 4; i++) {
		char d[3], *s = alog_digits(d + 3, o[i]);

		if (i)
			*w++ = '.';
		while (s < d + 3)
			*w++ = *s++;
	}
	alog_raw(b, t, (size_t)(w - t));
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
	unsigned frac = (unsigned)(us % 1000000);
	char t[27];

	if (us < 0 || rem < 0) {
		alog_lit(b, "1970-01-01T00:00:00.000000Z");
		return;
	}
	memcpy(t, alog_d2 + 2 * (y / 100 % 100), 2);
	memcpy(t + 2, alog_d2 + 2 * (y % 100), 2);
	t[4] = '-';
	memcpy(t + 5, alog_d2 + 2 * m, 2);
	t[7] = '-';
	memcpy(t + 8, alog_d2 + 2 * d, 2);
	t[10] = 'T';
	memcpy(t + 11, alog_d2 + 2 * (rem / 3600), 2);
	t[13] = ':';
	memcpy(t + 14, alog_d2 + 2 * (rem / 60 % 60), 2);
	t[16] = ':';
	memcpy(t + 17, alog_d2 + 2 * (rem % 60), 2);
	t[19] = '.';
	memcpy(t + 20, alog_d2 + 2 * (frac / 10000), 2);
	memcpy(t + 22, alog_d2 + 2 * (frac / 100 % 100), 2);
	memcpy(t + 24, alog_d2 + 2 * (frac % 100), 2);
	t[26] = 'Z';
	alog_raw(b, t, sizeof(t));
}

/* "key":{"pod":..,"namespace":..,"identity":..,"ip":"..","port":..}; key
 * comes with its quotes and colon */
#define alog_end(b, key, e) \
	alog_end_((b), "\"" key "\":{\"pod\":", sizeof("\"" key "\":{\"pod\":") - 1, (e))

static void alog_end_(struct alog_buf *b, const char *key, size_t key_len,
		      const struct proxy_flow_end *e)
{
	alog_raw(b, key, key_len);
	alog_cstr_or_null(b, e->pod);
	alog_lit(b, ",\"namespace\":");
	alog_cstr_or_null(b, e->ns);
	alog_lit(b, ",\"identity\":");
	alog_u64(b, e->identity);
	alog_lit(b, ",\"ip\":\"");
	if (e->addr.sa.sa_family == AF_INET) {
		alog_ipv4(b, &e->addr.in.sin_addr);
	} else if (e->addr.sa.sa_family == AF_INET6) {
		char ip[INET6_ADDRSTRLEN] = "";

		inet_ntop(AF_INET6, &e->addr.in6.sin6_addr, ip, sizeof(ip));
		alog_raw(b, ip, strlen(ip));
	}
	alog_lit(b, "\",\"port\":");
	alog_u64(b, proxy_sockaddr_port(&e->addr));
	alog_lit(b, "}");
}

/* "key":"v" or "key":null; key comes with its quotes and colon */
#define alog_opt_str(b, key, v) do { alog_lit((b), "\"" key "\":"); alog_cstr_or_null((b), (v)); } while (0)

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

/* The line after its opening '{' (the caller wrote it and maybe more). */
static size_t alog_line(const struct proxy_event *ev, struct alog_buf *b, char *buf)
{
	static const struct { const char *s; size_t n; } verdicts[] = {
		{ "allowed\",\"reason\":\"", 19 }, { "denied\",\"reason\":\"", 18 },
		{ "error\",\"reason\":\"", 17 },
	};
	const struct http_exchange *x = ev->x;
	const char *reason = http_reason_name(x->reason);
	uint64_t lat = 0;

	alog_lit(b, "\"time\":\"");
	alog_time(b, ev->wall_start_us);
	alog_lit(b, "\",");
	if (ev->ends) {
		alog_raw(b, ev->ends, ev->ends_len);
	} else {
		alog_end(b, "source", &ev->flow->src);
		alog_lit(b, ",");
		alog_end(b, "destination", &ev->flow->dst);
	}
	alog_lit(b, ",\"method\":");
	alog_str(b, x->method ? x->method : "", x->method ? x->method_len : 0);
	alog_lit(b, ",\"path\":");
	alog_str(b, x->path ? x->path : "", x->path ? x->path_len : 0);
	alog_lit(b, ",\"host\":");
	alog_str(b, x->host ? x->host : "", x->host ? x->host_len : 0);
	if (x->upstream_sent_ns && x->upstream_first_ns > x->upstream_sent_ns)
		lat = (x->upstream_first_ns - x->upstream_sent_ns) / 1000;
	alog_tls(b, ev);
	alog_lit(b, ",\"protocol\":\"HTTP/1.");
	alog_u64(b, x->http_minor);
	alog_lit(b, "\",\"status\":");
	if (x->status < 0) {
		alog_lit(b, "-");
		alog_u64(b, (uint64_t)-(int64_t)x->status);
	} else {
		alog_u64(b, (uint64_t)x->status);
	}
	alog_lit(b, ",\"verdict\":\"");
	alog_raw(b, verdicts[x->verdict % 3].s, verdicts[x->verdict % 3].n);
	alog_raw(b, reason, strlen(reason));
	alog_lit(b, "\",\"bytes_in\":");
	alog_u64(b, x->bytes_in);
	alog_lit(b, ",\"bytes_out\":");
	alog_u64(b, x->bytes_out);
	alog_lit(b, ",\"duration_us\":");
	alog_u64(b, x->end_ns > x->start_ns ? (x->end_ns - x->start_ns) / 1000 : 0);
	alog_lit(b, ",\"upstream_latency_us\":");
	alog_u64(b, lat);
	alog_lit(b, "}\n");
	if (b->p > buf && b->p[-1] != '\n')
		b->p[-1] = '\n'; /* truncated: still one line */
	*b->p = '\0';
	return (size_t)(b->p - buf);
}

size_t proxy_access_log_format(const struct proxy_event *ev, char *buf, size_t cap)
{
	struct alog_buf b = { buf, buf + cap - 1 };

	if (cap < 2)
		return 0;
	alog_lit(&b, "{");
	return alog_line(ev, &b, buf);
}

size_t proxy_access_log_ends(const struct proxy_flow *flow, char *buf, size_t cap)
{
	struct alog_buf b = { buf, buf + cap - 1 };

	if (cap < 2)
		return 0;
	alog_end(&b, "source", &flow->src);
	alog_lit(&b, ",");
	alog_end(&b, "destination", &flow->dst);
	if (b.p == b.end)
		return 0; /* maybe cut */
	*b.p = '\0';
	return (size_t)(b.p - buf);
}

size_t proxy_access_log_format_agent(const struct proxy_event *ev, char *buf, size_t cap)
{
	const struct http_exchange *x = ev->x;
	struct alog_buf b = { buf, buf + cap - 1 };

	if (cap < 2)
		return 0;
	alog_lit(&b, "{\"ep_id\":");
	alog_u64(&b, ev->flow->ep_id);
	if (ev->flow->direction == SLUICE_DIR_EGRESS)
		alog_lit(&b, ",\"direction\":\"egress\",\"latency_ns\":");
	else
		alog_lit(&b, ",\"direction\":\"ingress\",\"latency_ns\":");
	alog_u64(&b, x->end_ns > x->start_ns ? x->end_ns - x->start_ns : 0);
	alog_lit(&b, ",");
	return alog_line(ev, &b, buf);
}
