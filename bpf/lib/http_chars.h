/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_chars.h - the byte classes of HTTP/1.1 (RFC 9110) that the kernel's
 * head readers (splice_head.h, req_head.h) share. Plain C, as they are.
 */
#ifndef SLUICE_BPF_HTTP_CHARS_H
#define SLUICE_BPF_HTTP_CHARS_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Keeps v as computed (in a register): no strength reduction of an index
 * into a walking pointer, which the verifier could not bound. */
#define http_barrier_var(v) __asm__ __volatile__("" : "+r"(v))

static __always_inline int http_alpha(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static __always_inline int http_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

/* tchar: "!#$%&'*+-.^_`|~", digits, letters */
static __always_inline int http_tchar_b(__u8 c)
{
	if (http_alpha(c) || http_digit(c))
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return 1;
	}
	return 0;
}

/* SP, HTAB and visible ASCII */
static __always_inline int http_text_b(__u8 c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\t';
}

/*
 * A field name as the readers keep it: its first 17 bytes, letters
 * lowercased, packed little-endian into w0 (bytes 0-7), w1 (8-15) and w2
 * (16), and its length.
 */
struct http_name {
	__u64 w0, w1, w2;
	__u32 len;
	__u32 pad;
};

static __always_inline void http_name_add(struct http_name *nm, __u8 c)
{
	__u64 lc = http_alpha(c) ? c | 0x20 : c;
	__u32 k = nm->len;

	if (k < 8)
		nm->w0 |= lc << ((k & 7) * 8);
	else if (k < 16)
		nm->w1 |= lc << ((k & 7) * 8);
	else if (k == 16)
		nm->w2 = lc;
	if (k < 0xffff)
		nm->len = k + 1;
}

/* Bytes [off, off + 8) of the lowercase name s of n bytes, packed as above. */
static __always_inline __u64 http_pack_at(const char *s, int n, int off)
{
	__u64 w = 0;

	for (int i = off; i < n && i < off + 8; i++)
		w |= (__u64)(__u8)s[i] << (8 * (i - off));
	return w;
}

/* The name kept is s (a lowercase literal of at most 17 bytes). */
#define HTTP_NAME_IS(nm, s)                                                              \
	((nm)->len == sizeof(s) - 1 && (nm)->w0 == http_pack_at(s, sizeof(s) - 1, 0) &&  \
	 (nm)->w1 == http_pack_at(s, sizeof(s) - 1, 8) &&                                \
	 (nm)->w2 == http_pack_at(s, sizeof(s) - 1, 16))

/*
 * Runs of bytes that are only checked (or, for a name, packed), from i on
 * in buf[0, n) of 512 bytes, at most HTTP_RUN of them: where the run ends.
 * A call per run rather than per byte: the readers run in the sender's
 * sendmsg, once per message. The index is kept masked (http_barrier_var)
 * so that the verifier bounds it.
 */
#define HTTP_RUN 64
#define HTTP_BUF_MASK 511u

enum { HTTP_RUN_TEXT, HTTP_RUN_NAME, HTTP_RUN_TARGET };

/* a target byte with no meaning of its own to the request reader
 * ('/', '.', '?' and '%' have one): pchar without them */
static __always_inline int http_target_plain(__u8 c)
{
	if (http_alpha(c) || http_digit(c))
		return 1;
	switch (c) {
	case '-': case '_': case '~': case '!': case '$': case '&': case '\'':
	case '(': case ')': case '*': case '+': case ',': case ';': case '=': case ':':
	case '@':
		return 1;
	}
	return 0;
}

static __always_inline int http_run(const __u8 *buf, __u32 n, __u32 i, int kind,
				    struct http_name *nm)
{
	for (int k = 0; k < HTTP_RUN; k++) {
		__u32 j = i & HTTP_BUF_MASK;
		__u8 c;

		http_barrier_var(j);
		if (i >= n || i > HTTP_BUF_MASK)
			break;
		c = buf[j];
		if (kind == HTTP_RUN_NAME) {
			if (!http_tchar_b(c))
				break;
			http_name_add(nm, c);
		} else if (kind == HTTP_RUN_TARGET ? !http_target_plain(c) : !http_text_b(c)) {
			break;
		}
		i++;
	}
	return (int)i;
}

/*
 * Drives a reader over its buffer's first n bytes: step(h, i) from i = 0,
 * each call returning where to go on, or -1 when the reader is done; at
 * most max calls (the bound the verifier sees: every call consumes one
 * byte at least).
 */
#define http_read_steps(step, h, n, max)                                       \
	do {                                                                    \
		__u32 i_ = 0;                                                   \
		for (__u32 k_ = 0; k_ < (max); k_++) {                          \
			int next_;                                              \
			if (i_ >= (n))                                          \
				break;                                          \
			next_ = step((h), i_);                                  \
			if (next_ < 0)                                          \
				break;                                          \
			i_ = (__u32)next_;                                      \
		}                                                               \
	} while (0)

#endif /* SLUICE_BPF_HTTP_CHARS_H */
