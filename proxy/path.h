/* SPDX-License-Identifier: Apache-2.0 */
/*
 * path.h - request-target canonicalisation, done before any rule matches.
 *
 * The canonical form (path plus the original query) is what rules see and
 * what goes upstream, so the proxy and the server agree on the resource a
 * request names. Steps, in order, on an origin-form target:
 *
 *  1. Split off the query at the first '?'. Only the path is canonicalised;
 *     the query is kept unchanged, only checked for '#', control bytes and
 *     invalid UTF-8. Rules match path and query together, as Envoy's
 *     ":path" (Cilium S3): a rule "/public" does not allow "/public?x=1".
 *  2. Percent-escapes: an escape of an unreserved character (ALPHA DIGIT
 *     "-" "." "_" "~") is decoded; any other valid escape is kept with its
 *     hex digits uppercased ("%3b" -> "%3B").
 *  3. Rejected (the request gets 400): "%2F" (encoded '/'), "%5C" (encoded
 *     '\'), "%00", "%25" followed by two hex digits (double encoding, e.g.
 *     "%252e"; checked after decoding, so "%25%34%31" counts too), an
 *     invalid escape ("%zz", "%4"), a raw '\', '#' (fragment), control bytes
 *     and space, non-ASCII bytes that are not valid UTF-8 (overlong forms and
 *     surrogates included), and a path segment whose part before ';' is "."
 *     or ".." ("/..;/admin", Tomcat-style path parameters that some servers
 *     resolve as "..").
 *  4. Consecutive slashes are merged ("//a///b" -> "/a/b").
 *  5. "." and ".." segments (also decoded ones, "%2e%2E") are removed as in
 *     RFC 3986 5.2.4, never climbing above the root ("/../a" -> "/a").
 *     A trailing "." or ".." leaves a trailing slash ("/a/b/.." -> "/a/").
 *
 * The output is never longer than the input. (Through the proxy, raw
 * non-ASCII bytes in a request target never get here: the strict parser
 * rejects them, so UTF-8 paths must be percent-encoded.)
 */
#ifndef SLUICE_PROXY_PATH_H
#define SLUICE_PROXY_PATH_H

#include <stddef.h>

enum proxy_path_error {
	PROXY_PATH_OK = 0,
	PROXY_PATH_ERR_NOT_ORIGIN = -1,      /* empty or not starting with '/' */
	PROXY_PATH_ERR_FRAGMENT = -2,        /* '#' */
	PROXY_PATH_ERR_ENCODED_SLASH = -3,   /* %2F */
	PROXY_PATH_ERR_ENCODED_BACKSLASH = -4, /* %5C */
	PROXY_PATH_ERR_ENCODED_NUL = -5,     /* %00 */
	PROXY_PATH_ERR_DOUBLE_ENCODING = -6, /* %25 + two hex digits */
	PROXY_PATH_ERR_BAD_ESCAPE = -7,      /* '%' not followed by two hex digits */
	PROXY_PATH_ERR_BACKSLASH = -8,       /* raw '\' */
	PROXY_PATH_ERR_BAD_UTF8 = -9,        /* non-ASCII, not valid UTF-8 */
	PROXY_PATH_ERR_CTL = -10,            /* control byte, space or DEL */
	PROXY_PATH_ERR_DOT_PARAM = -11,      /* "..;x" or ".;x" segment */
	PROXY_PATH_ERR_NOSPACE = -12,        /* out too small */
};

/*
 * Canonicalises the origin-form target [target, target+len) into out
 * (cap >= len is always enough). On success returns PROXY_PATH_OK, sets
 * *path_len to the length of the canonical path and *total_len to the length
 * of path + "?" + query (the query only when the target had one). out is not
 * NUL-terminated. On error returns a negative enum proxy_path_error.
 */
int proxy_path_canon(const char *target, size_t len, char *out, size_t cap,
		     size_t *path_len, size_t *total_len);

/* A short reason for logs, e.g. "path_encoded_slash". */
const char *proxy_path_strerror(int err);

/* Returns 1 when [s, s+len) is valid UTF-8 (no overlongs, no surrogates). */
int proxy_utf8_valid(const unsigned char *s, size_t len);

#endif /* SLUICE_PROXY_PATH_H */
