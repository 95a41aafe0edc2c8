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
	__u32 nlen, vlen;
	__u64 w0, w1, w2;      /* the name, lowercased, packed (17 bytes) */
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

/* up to 8 bytes of a lowercase name, packed as the reader packs them */
static __always_inline __u64 splice_pack(const char *s, int n)
{
	__u64 w = 0;

	for (int i = 0; i < n && i < 8; i++)
		w |= (__u64)(__u8)s[i] << (8 * i);
	return w;
}

/* The end of a field line: what its name means (the names' bytes are
 * lowercase letters and '-'; b | 0x20 is one of those only for itself or
 * its uppercase form, or CR for '-', which a name never holds). */
static __always_inline int splice_field_end(struct splice_head *h, __u32 end)
{
	__u32 nlen = h->nlen;

	if (nlen == 14 && h->w0 == splice_pack("content-", 8) && h->w1 == splice_pack("length", 6)) {
		if (h->has_cl || !h->vlen || h->vlen > 18 || h->cl_bad)
			return -1;
		h->has_cl = 1;
		h->content_length = h->cl;
		return 0;
	}
	if (nlen == 10 && h->w0 == splice_pack("connecti", 8) && h->w1 == splice_pack("on", 2)) {
		if (h->has_conn || h->vlen != 10 || h->v0 != splice_pack("keep-ali", 8) ||
		    h->v1 != splice_pack("ve", 2))
			return -1;
		h->has_conn = 1;
		goto drop;
	}
	if (nlen == 10 && h->w0 == splice_pack("keep-ali", 8) && h->w1 == splice_pack("ve", 2))
		goto drop;
	if (nlen == 16 && h->w0 == splice_pack("proxy-co", 8) && h->w1 == splice_pack("nnection", 8))
		return -1;
	if (nlen == 17 && h->w0 == splice_pack("transfer", 8) &&
	    h->w1 == splice_pack("-encodin", 8) && h->w2 == 'g')
		return -1;
	if (nlen == 7 && h->w0 == splice_pack("upgrade", 7))
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

/*
 * A run of SP, HTAB and visible ASCII from i on (at most SPLICE_RUN bytes):
 * where it ends. A reason phrase or the value of a field nothing depends on
 * is only checked, so it goes in runs rather than a call per byte.
 */
#define SPLICE_RUN 64

static __always_inline int splice_text_run(const struct splice_head *h, __u32 i)
{
	for (int k = 0; k < SPLICE_RUN; k++) {
		__u32 j = i & (SLUICE_SPLICE_HEAD_MAX - 1);

		/* the index as masked, not a pointer the compiler walks (the
		 * verifier could not bound that) */
		http_barrier_var(j);
		if (i >= h->n || i >= SLUICE_SPLICE_HEAD_MAX || !http_text_b(h->buf[j]))
			break;
		i++;
	}
	return (int)i;
}

/* One more byte of a field name, lowercased and packed (17 bytes kept). */
static __always_inline void splice_name_add(struct splice_head *h, __u8 c)
{
	__u64 lc = c | 0x20;
	__u32 k = h->nlen;

	if (k < 8)
		h->w0 |= lc << ((k & 7) * 8);
	else if (k < 16)
		h->w1 |= lc << ((k & 7) * 8);
	else if (k == 16)
		h->w2 = lc;
	if (k < 0xffff)
		h->nlen = k + 1;
}

/* A run of name bytes from i on (at most SPLICE_RUN): packed, and where
 * the run ends. */
static __always_inline int splice_name_run(struct splice_head *h, __u32 i)
{
	for (int k = 0; k < SPLICE_RUN; k++) {
		__u32 j = i & (SLUICE_SPLICE_HEAD_MAX - 1);
		__u8 c;

		http_barrier_var(j);
		if (i >= h->n || i >= SLUICE_SPLICE_HEAD_MAX)
			break;
		c = h->buf[j];
		if (!http_tchar_b(c))
			break;
		splice_name_add(h, c);
		i++;
	}
	return (int)i;
}

/* The field just named is one splice_field_end() looks at. */
static __always_inline int splice_name_matters(const struct splice_head *h)
{
	__u32 nlen = h->nlen;

	return (nlen == 14 && h->w0 == splice_pack("content-", 8)) ||
	       (nlen == 10 && (h->w0 == splice_pack("connecti", 8) ||
			       h->w0 == splice_pack("keep-ali", 8))) ||
	       (nlen == 16 && h->w0 == splice_pack("proxy-co", 8)) ||
	       (nlen == 17 && h->w0 == splice_pack("transfer", 8)) ||
	       (nlen == 7 && h->w0 == splice_pack("upgrade", 7));
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
		return splice_text_run(h, i + 1);
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
		h->nlen = 0;
		h->w0 = h->w1 = h->w2 = 0;
		h->st = HS_NAME;
		/* the line's first byte is the name's */
		__attribute__((fallthrough));
	case HS_NAME:
		if (c == ':') {
			if (!h->nlen)
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
		splice_name_add(h, c);
		return splice_name_run(h, i + 1);
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
			return splice_text_run(h, i + 1);
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
	__u32 i;

	h->n = n;
	h->st = HS_STATUS;
	h->status = 0;
	h->has_cl = h->has_conn = 0;
	h->ndrop = 0;
	h->head_len = 0;
	i = 0;
	for (__u32 k = 0; k < SLUICE_SPLICE_HEAD_MAX; k++) {
		int next;

		if (i >= n)
			break;
		next = splice_head_step(h, i);
		if (next < 0)
			break;
		i = (__u32)next;
	}
	return h->st == HS_DONE && h->head_len <= n;
}

#endif /* SLUICE_BPF_SPLICE_HEAD_H */
