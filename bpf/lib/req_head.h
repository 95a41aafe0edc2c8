/* SPDX-License-Identifier: Apache-2.0 */
/*
 * req_head.h - the request splice's reader of a request head (see "Request
 * splice" in include/sluice/abi.h). Plain C over a buffer, like
 * splice_head.h, so that tests/unit/proxy/test_req_head.c and
 * proxy/fuzz_req_head.c run this very code against the proxy itself.
 *
 * It takes only a request head that proxy/http_conn.c would send upstream
 * byte for byte as it came, without a body, kept alive, with its rules
 * seeing exactly the method, target and Host bytes this reader reports:
 *  - "METHOD SP target SP HTTP/1.1 CRLF", METHOD one of GET POST PUT DELETE
 *    OPTIONS PATCH (http_head_plain()'s list without HEAD, whose response
 *    has no body to count);
 *  - the target: '/', then ALPHA DIGIT and "-._~!$&'()*+,;=:@/?"; before
 *    its first '?', no "//" and no segment that starts with '.': such a
 *    target is its own canonical form (proxy/path.h), and a rule sees it
 *    as it is;
 *  - fields "name: value": tchar names, values of SP, HTAB and visible
 *    ASCII; none named Content-Length, Transfer-Encoding, Connection,
 *    Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, HTTP2-Settings or
 *    Expect (framing, hop-by-hop, or a body to come); at most
 *    REQ_FIELDS_MAX of them;
 *  - exactly one Host, a reg-name of ALPHA DIGIT "-._~" with an optional
 *    ":" and 1 to 5 digits.
 * It may refuse more than the proxy would (it does: '%' anywhere, any
 * other byte, a longer head); it must never take more.
 *
 * Why a global function per byte (or per run of bytes that are only
 * checked): see splice_head.h.
 */
#ifndef SLUICE_BPF_REQ_HEAD_H
#define SLUICE_BPF_REQ_HEAD_H

#include <linux/types.h>

#include "sluice/abi.h"
#include "http_chars.h"

#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define REQ_FIELDS_MAX 32

/* The reader's state, in a per-CPU scratch slot with the head's bytes. */
struct req_head {
	__u8 buf[SLUICE_REQ_HEAD_MAX];
	__u32 n;               /* bytes in buf */
	__u32 st;              /* RQ_* */
	__u32 k;               /* RQ_VERSION: bytes of " HTTP/1.1\r\n" seen */
	__u32 nfields;
	struct http_name nm;   /* the field's name (the method first, as it is) */
	__u32 prev;            /* the target's previous byte */
	__u32 query;           /* the target's '?' was seen */
	__u32 is_host, nhost;
	__u32 hs;              /* the Host value: HV_* */
	__u32 port_digits;
	__u32 method_len;
	__u32 target_off, target_len;
	__u32 host_off, host_end;
	__u32 head_len;        /* set when the head ends */
};

enum {
	RQ_METHOD, RQ_TARGET, RQ_VERSION, RQ_LINE, RQ_NAME, RQ_VALUE, RQ_VALUE_LF, RQ_END_LF,
	RQ_DONE, RQ_FAIL,
};

/* the Host value: leading OWS, the name, the port, trailing OWS */
enum { HV_LEAD, HV_NAME, HV_PORT, HV_TRAIL };

/* a byte of a target the reader takes: pchar without '%', '/' and '?' */
static __always_inline int req_target_byte(__u8 c)
{
	if (http_alpha(c) || http_digit(c))
		return 1;
	switch (c) {
	case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'':
	case '(': case ')': case '*': case '+': case ',': case ';': case '=': case ':':
	case '@': case '/': case '?':
		return 1;
	}
	return 0;
}

/* The method (packed as it is, uppercase): one of those the reader takes. */
static __always_inline int req_method_ok(const struct req_head *h)
{
	__u32 n = h->nm.len;
	__u64 w = h->nm.w0;

	return (n == 3 && (w == http_pack_at("GET", 3, 0) || w == http_pack_at("PUT", 3, 0))) ||
	       (n == 4 && w == http_pack_at("POST", 4, 0)) ||
	       (n == 5 && w == http_pack_at("PATCH", 5, 0)) ||
	       (n == 6 && w == http_pack_at("DELETE", 6, 0)) ||
	       (n == 7 && w == http_pack_at("OPTIONS", 7, 0));
}

/* A field name (lowercased) the reader refuses: the request leaves it to
 * the proxy. */
static __always_inline int req_name_refused(const struct req_head *h)
{
	return HTTP_NAME_IS(&h->nm, "content-length") || HTTP_NAME_IS(&h->nm, "transfer-encoding") ||
	       HTTP_NAME_IS(&h->nm, "connection") || HTTP_NAME_IS(&h->nm, "keep-alive") ||
	       HTTP_NAME_IS(&h->nm, "proxy-connection") || HTTP_NAME_IS(&h->nm, "te") ||
	       HTTP_NAME_IS(&h->nm, "trailer") || HTTP_NAME_IS(&h->nm, "upgrade") ||
	       HTTP_NAME_IS(&h->nm, "http2-settings") || HTTP_NAME_IS(&h->nm, "expect");
}

/* One byte of the Host value (not CR). 0: go on, -1: refused. */
static __always_inline int req_host_byte(struct req_head *h, __u8 c, __u32 i)
{
	if (c == ' ' || c == '\t') {
		if (h->hs == HV_PORT && !h->port_digits)
			return -1;
		if (h->hs != HV_LEAD)
			h->hs = HV_TRAIL;
		return 0;
	}
	if (c == ':') {
		if (h->hs != HV_NAME)
			return -1;
		h->hs = HV_PORT;
	} else if (http_digit(c) && h->hs == HV_PORT) {
		if (++h->port_digits > 5)
			return -1;
	} else if (http_alpha(c) || http_digit(c) || c == '-' || c == '.' || c == '_' || c == '~') {
		if (h->hs == HV_LEAD) {
			h->hs = HV_NAME;
			h->host_off = i;
		} else if (h->hs != HV_NAME) {
			return -1;
		}
	} else {
		return -1;
	}
	h->host_end = i + 1;
	return 0;
}

/* The byte at i. Returns where to go on (a run may be consumed at once), or
 * -1 when the reader is done (RQ_DONE or RQ_FAIL). */
__noinline int req_head_step(struct req_head *h, __u32 i)
{
	__u8 c;

	if (!h || i >= SLUICE_REQ_HEAD_MAX)
		return -1;
	c = h->buf[i & (SLUICE_REQ_HEAD_MAX - 1)];
	switch (h->st) {
	case RQ_METHOD:
		if (c == ' ') {
			if (!req_method_ok(h))
				goto fail;
			h->method_len = i;
			h->target_off = i + 1;
			h->prev = 0;
			h->st = RQ_TARGET;
			return (int)i + 1;
		}
		if (c < 'A' || c > 'Z' || i >= 8)
			goto fail;
		h->nm.w0 |= (__u64)c << ((i & 7) * 8);
		h->nm.len = i + 1;
		return (int)i + 1;
	case RQ_TARGET:
		if (c == ' ' && i > h->target_off) {
			h->target_len = i - h->target_off;
			h->k = 0;
			h->st = RQ_VERSION;
			return (int)i + 1;
		}
		if (i == h->target_off ? c != '/' : !req_target_byte(c))
			goto fail;
		if (!h->query) {
			if (c == '?')
				h->query = 1;
			else if (h->prev == '/' && (c == '/' || c == '.'))
				goto fail;
		}
		h->prev = c;
		if (http_target_plain(c))
			return http_run(h->buf, h->n, i + 1, HTTP_RUN_TARGET, &h->nm); /* prev stays a plain byte */
		return (int)i + 1;
	case RQ_VERSION:
		/* "HTTP/1.1\r\n", packed little-endian in two words */
		if (h->k < 8 ? c != (__u8)(0x312e312f50545448ull >> ((h->k & 7) * 8)) :
			       c != (h->k == 8 ? '\r' : '\n'))
			goto fail;
		if (++h->k == 10)
			h->st = RQ_LINE;
		return (int)i + 1;
	case RQ_LINE:
		if (c == '\r') {
			h->st = RQ_END_LF;
			return (int)i + 1;
		}
		if (++h->nfields > REQ_FIELDS_MAX)
			goto fail;
		h->nm.len = 0;
		h->nm.w0 = h->nm.w1 = h->nm.w2 = 0;
		h->st = RQ_NAME;
		/* the line's first byte is the name's */
		__attribute__((fallthrough));
	case RQ_NAME:
		if (c == ':') {
			if (!h->nm.len || req_name_refused(h))
				goto fail;
			h->is_host = HTTP_NAME_IS(&h->nm, "host");
			if (h->is_host) {
				if (h->nhost++)
					goto fail;
				h->hs = HV_LEAD;
				h->port_digits = 0;
			}
			h->st = RQ_VALUE;
			return (int)i + 1;
		}
		if (!http_tchar_b(c))
			goto fail;
		http_name_add(&h->nm, c);
		return http_run(h->buf, h->n, i + 1, HTTP_RUN_NAME, &h->nm);
	case RQ_VALUE:
		if (c == '\r') {
			if (h->is_host &&
			    (h->hs == HV_LEAD || (h->hs == HV_PORT && !h->port_digits)))
				goto fail;
			h->st = RQ_VALUE_LF;
			return (int)i + 1;
		}
		if (!http_text_b(c))
			goto fail;
		if (!h->is_host)
			return http_run(h->buf, h->n, i + 1, HTTP_RUN_TEXT, &h->nm);
		if (req_host_byte(h, c, i))
			goto fail;
		return (int)i + 1;
	case RQ_VALUE_LF:
		if (c != '\n')
			goto fail;
		h->st = RQ_LINE;
		return (int)i + 1;
	case RQ_END_LF:
		if (c != '\n' || h->nhost != 1)
			goto fail;
		h->head_len = i + 1;
		h->st = RQ_DONE;
		return -1;
	default:
		return -1;
	}
fail:
	h->st = RQ_FAIL;
	return -1;
}

/* Reads the head in h->buf[0, n): true when it is a whole request head the
 * reader takes (head_len, and the method, target and Host spans). */
static __always_inline int req_head_read(struct req_head *h, __u32 n)
{
	h->n = n;
	h->st = RQ_METHOD;
	h->nm.len = h->nfields = 0;
	h->nm.w0 = h->nm.w1 = h->nm.w2 = 0;
	h->query = h->nhost = h->is_host = 0;
	h->head_len = 0;
	http_read_steps(req_head_step, h, n, SLUICE_REQ_HEAD_MAX);
	return h->st == RQ_DONE && h->head_len <= n;
}

#endif /* SLUICE_BPF_REQ_HEAD_H */
