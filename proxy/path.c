/* SPDX-License-Identifier: Apache-2.0 */
/*
 * path.c - request-target canonicalisation (see path.h for the rules).
 * Two passes over the path: escapes and byte checks, then slash merging and
 * dot-segment removal in place. Most targets need neither: one scan finds
 * out (path_plain()) and the target is copied as it is.
 */
#include "path.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* 1: never the shortcut (the unit test's reference build) */
#ifndef PROXY_PATH_ALWAYS_FULL
#define PROXY_PATH_ALWAYS_FULL 0
#endif

static int path_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int path_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0. */
static size_t path_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

int proxy_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t k = path_utf8_seq(s + i, len - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* Checks the bytes every part of the target shares: CTL, SP, DEL, '#', UTF-8. */
static int path_check_byte(const unsigned char *s, size_t n, size_t *adv)
{
	unsigned char c = s[0];

	*adv = 1;
	if (c <= 0x20 || c == 0x7f)
		return PROXY_PATH_ERR_CTL;
	if (c == '#')
		return PROXY_PATH_ERR_FRAGMENT;
	if (c >= 0x80) {
		*adv = path_utf8_seq(s, n);
		if (!*adv)
			return PROXY_PATH_ERR_BAD_UTF8;
	}
	return 0;
}

/* Pass 1: escapes; writes the decoded path to out, returns its length or <0. */
static long path_decode(const unsigned char *p, size_t n, char *out)
{
	size_t w = 0;

	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t adv;
		int err;

		if (c == '%') {
			int hi, lo, v;

			if (i + 2 >= n)
				return PROXY_PATH_ERR_BAD_ESCAPE;
			hi = path_hex(p[i + 1]);
			lo = path_hex(p[i + 2]);
			if (hi < 0 || lo < 0)
				return PROXY_PATH_ERR_BAD_ESCAPE;
			v = hi << 4 | lo;
			if (v == '/')
				return PROXY_PATH_ERR_ENCODED_SLASH;
			if (v == '\\')
				return PROXY_PATH_ERR_ENCODED_BACKSLASH;
			if (v == 0)
				return PROXY_PATH_ERR_ENCODED_NUL;
			if (v == '%' && i + 4 < n && path_hex(p[i + 3]) >= 0 &&
			    path_hex(p[i + 4]) >= 0)
				return PROXY_PATH_ERR_DOUBLE_ENCODING;
			if (path_unreserved((unsigned char)v)) {
				out[w++] = (char)v;
			} else {
				out[w++] = '%';
				out[w++] = "0123456789ABCDEF"[hi];
				out[w++] = "0123456789ABCDEF"[lo];
			}
			i += 3;
			continue;
		}
		if (c == '\\')
			return PROXY_PATH_ERR_BACKSLASH;
		err = path_check_byte(p + i, n - i, &adv);
		if (err)
			return err;
		memcpy(out + w, p + i, adv);
		w += adv;
		i += adv;
	}
	/* "%25" followed by two hex digits, also when the digits were escaped
	 * themselves ("%25%34%31" -> "%2541"): a second decoding by the server
	 * would turn it into another character */
	for (size_t i = 0; i + 4 < w; i++)
		if (out[i] == '%' && out[i + 1] == '2' && out[i + 2] == '5' &&
		    path_hex((unsigned char)out[i + 3]) >= 0 &&
		    path_hex((unsigned char)out[i + 4]) >= 0)
			return PROXY_PATH_ERR_DOUBLE_ENCODING;
	return (long)w;
}

/* Pass 2: merge slashes, remove dot segments; in place, d[0] == '/'. */
static long path_resolve(char *d, size_t n)
{
	size_t w = 1, r = 1;

	while (r < n) {
		size_t s = r, len;
		int more;

		while (r < n && d[r] != '/')
			r++;
		len = r - s;
		more = r < n;
		r++; /* past the '/' */
		if (len == 0)
			continue; /* "//" or trailing "/" (already written) */
		if (len == 1 && d[s] == '.')
			continue;
		if (len == 2 && d[s] == '.' && d[s + 1] == '.') {
			if (w > 1) {
				w--; /* drop the '/' ending the last segment */
				while (w > 1 && d[w - 1] != '/')
					w--;
			}
			continue;
		}
		{
			const char *semi = memchr(d + s, ';', len);
			if (semi) {
				size_t k = (size_t)(semi - (d + s));
				if ((k == 1 && d[s] == '.') ||
				    (k == 2 && d[s] == '.' && d[s + 1] == '.'))
					return PROXY_PATH_ERR_DOT_PARAM;
			}
		}
		memmove(d + w, d + s, len);
		w += len;
		if (more)
			d[w++] = '/';
	}
	return (long)w;
}

/* Bytes that pass both passes unchanged, whatever surrounds them: printable
 * ASCII but '%' (escapes), '\\' and '#'. '/' and '.' too, unless together
 * (see path_plain()). */
static const unsigned char path_plain_byte[256] = {
	[0x21 ... 0x22] = 1, [0x24] = 1, [0x26 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};

/*
 * True when [p, p+n) is its own canonical form: plain bytes only, and no
 * "//" (merged) and no "/." (a dot segment, or a dot-parameter segment, or
 * a plain name starting with a dot such as "/.well-known": those take the
 * full passes, which keep them). Then pass 1 copies byte for byte, no
 * "%25" can appear, and pass 2 finds no empty or dot segment.
 */
static bool path_plain(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!path_plain_byte[p[i]])
			return false;
		if (p[i] == '/' && i + 1 < n && (p[i + 1] == '/' || p[i + 1] == '.'))
			return false;
	}
	return true;
}

int proxy_path_canon(const char *target, size_t len, char *out, size_t cap,
		     size_t *path_len, size_t *total_len)
{
	const unsigned char *t = (const unsigned char *)target;
	const char *q;
	size_t plen, qlen = 0;
	long n;

	if (len == 0 || t[0] != '/')
		return PROXY_PATH_ERR_NOT_ORIGIN;
	if (cap < len)
		return PROXY_PATH_ERR_NOSPACE;
	q = memchr(target, '?', len);
	plen = q ? (size_t)(q - target) : len;
	if (!PROXY_PATH_ALWAYS_FULL && path_plain(t, plen)) {
		memcpy(out, target, plen);
		n = (long)plen;
	} else {
		n = path_decode(t, plen, out);
		if (n < 0)
			return (int)n;
		n = path_resolve(out, (size_t)n);
		if (n < 0)
			return (int)n;
	}
	*path_len = (size_t)n;
	if (q) {
		const unsigned char *qs = t + plen + 1;
		qlen = len - plen - 1;
		for (size_t i = 0; i < qlen;) {
			size_t adv;
			int err = path_check_byte(qs + i, qlen - i, &adv);
			if (err)
				return err;
			i += adv;
		}
		out[n] = '?';
		memcpy(out + n + 1, qs, qlen);
		*total_len = (size_t)n + 1 + qlen;
	} else {
		*total_len = (size_t)n;
	}
	return PROXY_PATH_OK;
}

const char *proxy_path_strerror(int err)
{
	switch (err) {
	case PROXY_PATH_OK: return "ok";
	case PROXY_PATH_ERR_NOT_ORIGIN: return "path_not_origin_form";
	case PROXY_PATH_ERR_FRAGMENT: return "path_fragment";
	case PROXY_PATH_ERR_ENCODED_SLASH: return "path_encoded_slash";
	case PROXY_PATH_ERR_ENCODED_BACKSLASH: return "path_encoded_backslash";
	case PROXY_PATH_ERR_ENCODED_NUL: return "path_encoded_nul";
	case PROXY_PATH_ERR_DOUBLE_ENCODING: return "path_double_encoding";
	case PROXY_PATH_ERR_BAD_ESCAPE: return "path_bad_escape";
	case PROXY_PATH_ERR_BACKSLASH: return "path_backslash";
	case PROXY_PATH_ERR_BAD_UTF8: return "path_bad_utf8";
	case PROXY_PATH_ERR_CTL: return "path_control_byte";
	case PROXY_PATH_ERR_DOT_PARAM: return "path_dot_parameter";
	case PROXY_PATH_ERR_NOSPACE: return "path_too_long";
	}
	return "path_invalid";
}
