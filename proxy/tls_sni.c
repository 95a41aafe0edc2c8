/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_sni.c - serverNames: Cilium's SNI patterns, and the server_name
 * extension reader the ClientHello callback uses (rules in tls.h).
 *
 * The ClientHello itself is parsed by OpenSSL (SSL_CTX_set_client_hello_cb);
 * only the body of the server_name extension it hands over is read here,
 * bounded by its own length fields. The fuzz target fuzz_tls_client_hello.c
 * runs both this reader and OpenSSL's parser on arbitrary bytes.
 */
#include "tls.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define SNI_MAX_LABELS 128

struct sni_labels {
	const char *p[SNI_MAX_LABELS];
	size_t len[SNI_MAX_LABELS];
	size_t n;
};

/* Splits a name into labels; a single trailing dot is dropped. */
static int sni_split(const char *s, struct sni_labels *out)
{
	size_t len = strlen(s);
	const char *p = s, *end;

	if (len && s[len - 1] == '.')
		len--;
	if (!len)
		return -EINVAL;
	end = s + len;
	out->n = 0;
	while (p <= end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		const char *le = dot ? dot : end;

		if (out->n == SNI_MAX_LABELS || le == p)
			return -EINVAL;
		out->p[out->n] = p;
		out->len[out->n++] = (size_t)(le - p);
		if (!dot)
			break;
		p = dot + 1;
	}
	return 0;
}

static bool sni_label_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_';
}

/* One label against one pattern label; `*` matches [-a-z0-9_]*. */
static bool sni_label_match(const char *pat, size_t plen, const char *name, size_t nlen)
{
	size_t pi = 0, ni = 0, star_p = (size_t)-1, star_n = 0;

	while (ni < nlen) {
		if (pi < plen && pat[pi] == '*') {
			star_p = pi++;
			star_n = ni;
		} else if (pi < plen &&
			   tolower((unsigned char)pat[pi]) == tolower((unsigned char)name[ni])) {
			pi++;
			ni++;
		} else if (star_p != (size_t)-1 && sni_label_char((unsigned char)name[star_n])) {
			/* let the last star take one more character */
			pi = star_p + 1;
			ni = ++star_n;
		} else {
			return false;
		}
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}

static bool sni_labels_match(const struct sni_labels *pat, size_t pi,
			     const struct sni_labels *name, size_t ni)
{
	if (pi == pat->n)
		return ni == name->n;
	if (pat->len[pi] == 2 && !memcmp(pat->p[pi], "**", 2)) {
		/* one or more whole labels, leaving enough for the rest */
		for (size_t k = ni + 1; k <= name->n; k++)
			if (sni_labels_match(pat, pi + 1, name, k))
				return true;
		return false;
	}
	if (ni == name->n)
		return false;
	return sni_label_match(pat->p[pi], pat->len[pi], name->p[ni], name->len[ni]) &&
	       sni_labels_match(pat, pi + 1, name, ni + 1);
}

bool proxy_tls_sni_match(const char *pattern, const char *name)
{
	struct sni_labels pl, nl;

	if (!pattern || !name || !*name)
		return false;
	if (!strcmp(pattern, "*"))
		return true;
	if (sni_split(pattern, &pl) || sni_split(name, &nl))
		return false;
	return sni_labels_match(&pl, 0, &nl, 0);
}

bool proxy_tls_sni_pattern_valid(const char *pattern)
{
	size_t len = pattern ? strlen(pattern) : 0;
	bool label = false;

	if (!len || len > PROXY_TLS_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pattern[i];

		if (c == '.') {
			if (!label)
				return false; /* empty label */
			label = false;
		} else if (sni_label_char(c) || c == '*') {
			label = true;
		} else {
			return false;
		}
	}
	return true;
}

int proxy_tls_sni_parse(const unsigned char *ext, size_t len, char *out, size_t outsz)
{
	size_t list, off = 2;

	if (len < 2 || outsz < PROXY_TLS_MAX_NAME + 1)
		return -EINVAL;
	list = (size_t)ext[0] << 8 | ext[1];
	if (list + 2 != len || list == 0)
		return -EINVAL;
	while (off < len) {
		unsigned type;
		size_t nlen;

		if (len - off < 3)
			return -EINVAL;
		type = ext[off];
		nlen = (size_t)ext[off + 1] << 8 | ext[off + 2];
		off += 3;
		if (nlen > len - off)
			return -EINVAL;
		if (type == 0) { /* host_name; RFC 6066: at most one */
			if (!nlen || nlen > PROXY_TLS_MAX_NAME)
				return -EINVAL;
			for (size_t i = 0; i < nlen; i++) {
				unsigned char c = ext[off + i];

				if (!sni_label_char(c) && c != '.')
					return -EINVAL;
				out[i] = (char)tolower(c);
			}
			out[nlen] = '\0';
			return 0;
		}
		off += nlen;
	}
	return -ENOENT;
}
