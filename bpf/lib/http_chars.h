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

#endif /* SLUICE_BPF_HTTP_CHARS_H */
