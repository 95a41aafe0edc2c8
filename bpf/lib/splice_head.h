/* SPDX-License-Identifier: Apache-2.0 */
/*
 * splice_head.h - the response splice's reader of a response head (see
 * "Response splice" in include/sluice/abi.h). Plain C over a buffer, so
 * that tests/unit/proxy/test_splice_head.c and proxy/fuzz_splice_head.c
 * run this very code in user space against the proxy itself.
 *
 * The reader mirrors proxy/http_conn.c's http_resp_simple() rule for rule:
 * what it takes, the proxy would have framed by the same Content-Length and
 * sent on with the same lines dropped; what it refuses goes to the proxy,
 * which decides as before. It may refuse more (a head beyond
 * SLUICE_SPLICE_HEAD_MAX); it must never take more.
 *
 * Why a global function per byte: the verifier checks a global function once
 * with unknown arguments, so the caller's loop over up to 512 bytes stays a
 * few instructions per round instead of every path of a parser per byte.
 * The bytes nothing depends on (a reason phrase, the value of a field the
 * reader does not look at) are only checked, in runs of one call each: the
 * reader runs in the server's send, once per response.
 */
#ifndef SLUICE_BPF_SPLICE_HEAD_H
#define SLUICE_BPF_SPLICE_HEAD_H

#include <linux/types.h>

#include "sluice/abi.h"
#include "http_chars.h"

#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define SPLICE_DROP_MAX 4

/* The reader's state, in a per-CPU scratch slot with the head's bytes
 * (splice.h). */
struct splice_head {
	__u8 buf[SLUICE_SPLICE_HEAD_MAX];
	__u32 n;               /* bytes in buf */
	__u32 st;              /* HS_* */
	__u32 line;            /* offset of the current field line */
	__u32 vlen;
	struct http_name nm;   /* the current field's name */
	__u64 v0, v1;          /* the value, lowercased, packed (10 bytes) */
	__u64 cl;              /* the value as digits */
	__u32 cl_bad;          /* a byte of the value is not a digit */
	__u32 has_cl, has_conn;
	__u32 boring;          /* the field's value needs no look but its bytes */
	__u32 status;
	__u32 head_len;        /* set when the head ends */
	__u32 ndrop;
	__u32 drop_off[SPLICE_DROP_MAX], drop_end[SPLICE_DROP_MAX];
	__u64 content_length;
};


enum {
	HS_STATUS, HS_REASON, HS_REASON_LF, HS_LINE, HS_END_LF, HS_NAME, HS_OWS, HS_VALUE,
	HS_VALUE_LF, HS_DONE, HS_FAIL,
};

/* The end of a field line: what its name means. */
static __always_inline int splice_field_end(struct splice_head *h, __u32 end)
{
	const struct http_name *nm = &h->nm;

	if (HTTP_NAME_IS(nm, "content-length")) {
		if (h->has_cl || !h->vlen || h->vlen > 18 || h->cl_bad)
			return -1;
		h->has_cl = 1;
		h->content_length = h->cl;
		return 0;
	}
	if (HTTP_NAME_IS(nm, "connection")) {
		if (h->has_conn || h->vlen != 10 || h->v0 != http_pack_at("keep-ali", 8, 0) ||
		    h->v1 != http_pack_at("ve", 2, 0))
			return -1;
		h->has_conn = 1;
		goto drop;
	}
	if (HTTP_NAME_IS(nm, "keep-alive"))
		goto drop;
	if (HTTP_NAME_IS(nm, "proxy-connection") || HTTP_NAME_IS(nm, "transfer-encoding") ||
	    HTTP_NAME_IS(nm, "upgrade"))
		return -1;
	return 0;
drop:
	switch (h->ndrop) {
	case 0: h->drop_off[0] = h->line; h->drop_end[0] = end; break;
	case 1: h->drop_off[1] = h->line; h->drop_end[1] = end; break;
	case 2: h->drop_off[2] = h->line; h->drop_end[2] = end; break;
	case 3: h->drop_off[3] = h->line; h->drop_end[3] = end; break;
	default: return -1;
	}
	h->ndrop++;
	return 0;
}

/* The field just named is one splice_field_end() looks at. */
static __always_inline int splice_name_matters(const struct splice_head *h)
{
	const struct http_name *nm = &h->nm;

	return HTTP_NAME_IS(nm, "content-length") || HTTP_NAME_IS(nm, "connection") ||
	       HTTP_NAME_IS(nm, "keep-alive") || HTTP_NAME_IS(nm, "proxy-connection") ||
	       HTTP_NAME_IS(nm, "transfer-encoding") || HTTP_NAME_IS(nm, "upgrade");
}

/* The byte at i. Returns where to go on (a run may be consumed at once), or
 * -1 when the reader is done (HS_DONE or HS_FAIL). */
__noinline int splice_head_step(struct splice_head *h, __u32 i)
{
	__u8 c;

	if (!h || i >= SLUICE_SPLICE_HEAD_MAX)
		return -1;
	c = h->buf[i & (SLUICE_SPLICE_HEAD_MAX - 1)];
	switch (h->st) {
	case HS_STATUS:
		/* "HTTP/1.1 NNN " */
		if (i < 8) {
			/* "HTTP/1.1", packed little-endian */
			if (c != (__u8)(0x312e312f50545448ull >> ((i & 7) * 8)))
				goto fail;
		} else if (i == 8) {
			if (c != ' ')
				goto fail;
		} else if (i < 12) {
			if (c < '0' || c > '9')
				goto fail;
			h->status = h->status * 10 + (c - '0');
		} else {
			if (c != ' ' || h->status < 200 || h->status > 599 || h->status == 204 ||
			    h->status == 304)
				goto fail;
			h->st = HS_REASON;
		}
		return (int)i + 1;
	case HS_REASON:
		if (c == '\r') {
			h->st = HS_REASON_LF;
			return (int)i + 1;
		}
		if (!http_text_b(c))
			goto fail;
		return http_run(h->buf, h->n, i + 1, HTTP_RUN_TEXT, &h->nm);
	case HS_REASON_LF:
	case HS_VALUE_LF:
		if (c != '\n')
			goto fail;
		if (h->st == HS_VALUE_LF && splice_field_end(h, i + 1))
			goto fail;
		h->st = HS_LINE;
		h->line = i + 1;
		return (int)i + 1;
	case HS_LINE:
		if (c == '\r') {
			h->st = HS_END_LF;
			return (int)i + 1;
		}
		h->nm.len = 0;
		h->nm.w0 = h->nm.w1 = h->nm.w2 = 0;
		h->st = HS_NAME;
		/* the line's first byte is the name's */
		__attribute__((fallthrough));
	case HS_NAME:
		if (c == ':') {
			if (!h->nm.len)
				goto fail;
			h->vlen = 0;
			h->v0 = h->v1 = 0;
			h->cl = 0;
			h->cl_bad = 0;
			h->boring = !splice_name_matters(h);
			h->st = HS_OWS;
			return (int)i + 1;
		}
		if (!http_tchar_b(c))
			goto fail;
		http_name_add(&h->nm, c);
		return http_run(h->buf, h->n, i + 1, HTTP_RUN_NAME, &h->nm);
	case HS_OWS:
		if (c == ' ' || c == '\t')
			return (int)i + 1;
		h->st = HS_VALUE;
		__attribute__((fallthrough));
	case HS_VALUE:
		if (c == '\r') {
			h->st = HS_VALUE_LF;
			return (int)i + 1;
		}
		if (!http_text_b(c))
			goto fail;
		if (h->boring)
			return http_run(h->buf, h->n, i + 1, HTTP_RUN_TEXT, &h->nm);
		{
			__u64 lc = c | 0x20;
			__u32 k = h->vlen;

			if (k < 8)
				h->v0 |= lc << ((k & 7) * 8);
			else if (k < 10)
				h->v1 |= lc << ((k & 7) * 8);
			if (c < '0' || c > '9')
				h->cl_bad = 1;
			else if (k < 18)
				h->cl = h->cl * 10 + (c - '0');
			if (k < 0xffff)
				h->vlen = k + 1;
		}
		return (int)i + 1;
	case HS_END_LF:
		if (c != '\n' || !h->has_cl)
			goto fail;
		h->head_len = i + 1;
		h->st = HS_DONE;
		return -1;
	default:
		return -1;
	}
fail:
	h->st = HS_FAIL;
	return -1;
}

/* Reads the head in h->buf[0, n): true when it is a simple response's
 * whole head (h->head_len, status, content_length, the lines to drop). */
static __always_inline int splice_head_read(struct splice_head *h, __u32 n)
{
	h->n = n;
	h->st = HS_STATUS;
	h->status = 0;
	h->has_cl = h->has_conn = 0;
	h->ndrop = 0;
	h->head_len = 0;
	http_read_steps(splice_head_step, h, n, SLUICE_SPLICE_HEAD_MAX);
	return h->st == HS_DONE && h->head_len <= n;
}

#endif /* SLUICE_BPF_SPLICE_HEAD_H */
