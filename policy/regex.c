// SPDX-License-Identifier: Apache-2.0
/*
 * regex.c - validation of the http regexes of a policy. They are full-match
 * regexes (Envoy safe_regex semantics), so they are compiled the way the
 * proxy compiles them: anchored at the start and wrapped as (?:re)\z.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "{n}", "{n,}" or "{n,m}" at re: its length, 0 when re is no repetition */
static size_t regex_repeat_len(const char *re, unsigned long *max)
{
	const char *p = re + 1;
	char *end;

	*max = 0;
	while (*p && *p != '}') {
		if (!isdigit((unsigned char)*p) && *p != ',')
			return 0;
		p++;
	}
	if (*p != '}' || !isdigit((unsigned char)re[1]))
		return 0;
	for (const char *q = re + 1; q < p; q = end + (*end == ',')) {
		unsigned long v = strtoul(q, &end, 10);

		if (v > *max)
			*max = v;
		if (end == q)
			break;
	}
	return (size_t)(p - re) + 1;
}

/*
 * Cilium compiles http paths and methods with Go's regexp and Envoy
 * matches them with RE2: a construct PCRE2 has and RE2 lacks makes Cilium
 * refuse the rule (PortRuleHTTP.Sanitize), so sluice refuses it too
 * rather than enforce a rule Cilium never would. The text of a valid PCRE2
 * regex is scanned (escapes, \Q...\E and classes skipped); what RE2 lacks
 * is named into why.
 */
static bool regex_re2_lacks(const char *re, char *why, size_t len)
{
	bool in_class = false;

	for (size_t i = 0; re[i]; i++) {
		char c = re[i], e = re[i + 1];
		unsigned long max;
		size_t n;

		if (c == '\\' && e == 'Q') {
			const char *end = strstr(re + i + 2, "\\E");

			if (!end)
				return false;
			i = (size_t)(end - re) + 1;
		} else if (c == '\\') {
			if (!in_class && e >= '1' && e <= '9') {
				snprintf(why, len, "a backreference (\\%c)", e);
				return true;
			}
			if (isalpha((unsigned char)e) && !strchr("afnrtvdDsSwWbBAzpPxE", e)) {
				snprintf(why, len, "escape \\%c", e);
				return true;
			}
			i++;
		} else if (in_class) {
			in_class = c != ']';
		} else if (c == '[') {
			in_class = true;
			i += re[i + 1] == '^';
			i += re[i + 1] == ']'; /* "[]...]": a literal ']' first */
		} else if (c == '(' && e == '*') {
			snprintf(why, len, "a PCRE verb \"(*...)\"");
			return true;
		} else if (c == '(' && e == '?') {
			const char *p = re + i + 2;
			size_t flags = strspn(p, "imsU-");

			if (*p == ':' || (*p == 'P' && p[1] == '<') ||
			    (*p == '<' && (isalpha((unsigned char)p[1]) || p[1] == '_')) ||
			    (flags && (p[flags] == ')' || p[flags] == ':'))) {
				i += 1 + (size_t)(*p == ':');
				continue;
			}
			if (*p == '=' || *p == '!' || (*p == '<' && (p[1] == '=' || p[1] == '!')))
				snprintf(why, len, "a lookaround \"(?%.*s\"", *p == '<' ? 2 : 1, p);
			else if (*p == '>')
				snprintf(why, len, "an atomic group \"(?>\"");
			else
				snprintf(why, len, "group \"(?%c\"", *p);
			return true;
		} else if (c == '{' && (n = regex_repeat_len(re + i, &max))) {
			if (max > 1000) {
				snprintf(why, len, "a repetition count above 1000");
				return true;
			}
			i += n - 1;
			if (re[i + 1] == '+') {
				snprintf(why, len, "a possessive quantifier \"%.*s+\"", (int)n, re + i + 1 - n);
				return true;
			}
		} else if ((c == '*' || c == '+' || c == '?') && e == '+') {
			snprintf(why, len, "a possessive quantifier \"%c+\"", c);
			return true;
		}
	}
	return false;
}

int regex_validate(const char *re, char **err)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *code;
	char *wrapped = NULL;
	int rc;

	*err = NULL;
	/* alone first: "a)|(b" must not pass because the wrapping balances it */
	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
			     &rc, &off, NULL);
	if (code) {
		pcre2_code_free(code);
		if (asprintf(&wrapped, "(?:%s)\\z", re) < 0)
			return -ENOMEM;
		code = pcre2_compile((PCRE2_SPTR)wrapped, PCRE2_ZERO_TERMINATED,
				     PCRE2_ANCHORED | PCRE2_UTF, &rc, &off, NULL);
		free(wrapped);
		if (code) {
			char why[64];

			pcre2_code_free(code);
			if (!regex_re2_lacks(re, why, sizeof(why)))
				return 0;
			if (asprintf(err, "RE2, the engine of Cilium's and Envoy's http rules, does not support %s",
				     why) < 0)
				*err = NULL;
			return -EINVAL;
		}
		off = 0;
	}
	pcre2_get_error_message(rc, msg, sizeof(msg));
	if (asprintf(err, "%s at offset %zu", (char *)msg, (size_t)off) < 0)
		*err = NULL;
	return -EINVAL;
}

/*
 * Lint of valid http regexes: cheap, syntactic checks for mistakes that
 * compile fine but do not do what their author meant. The scanner knows
 * escapes ("\x") and character classes ("[...]") and nothing else, so it
 * only speaks up on forms it can judge without a regex engine.
 */
struct regex_tok {
	char c;
	bool literal; /* escaped or inside a class */
};

static size_t regex_scan(const char *re, struct regex_tok *out)
{
	size_t n = 0;
	bool in_class = false;

	for (size_t i = 0; re[i]; i++) {
		if (re[i] == '\\' && re[i + 1]) {
			out[n++] = (struct regex_tok){ re[++i], true };
			continue;
		}
		if (in_class) {
			if (re[i] == ']')
				in_class = false;
			out[n++] = (struct regex_tok){ re[i], true };
			continue;
		}
		if (re[i] == '[') {
			in_class = true;
			out[n++] = (struct regex_tok){ re[i], false };
			if (re[i + 1] == '^')
				out[n++] = (struct regex_tok){ re[++i], true };
			if (re[i + 1] == ']') /* "[]...]": a literal ']' first */
				out[n++] = (struct regex_tok){ re[++i], true };
			continue;
		}
		out[n++] = (struct regex_tok){ re[i], false };
	}
	return n;
}

static bool regex_is_op(const struct regex_tok *t, char c)
{
	return !t->literal && t->c == c;
}

/* re with every glob-like '*' (first, or after '/') written as ".*" */
static char *regex_glob_fix(const char *re, bool host)
{
	size_t len = strlen(re);
	char *out = malloc(3 * len + 1), *w = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (re[i] == '*' && (i == 0 || re[i - 1] == '/' || host)) {
			*w++ = '.';
			*w++ = '*';
		} else if (host && re[i] == '.') {
			*w++ = '\\';
			*w++ = '.';
		} else {
			*w++ = re[i];
		}
	}
	*w = '\0';
	return out;
}

char *regex_glob_hint(const char *field, const char *re)
{
	char *fix, *msg = NULL;

	if (re[0] != '*')
		return NULL;
	fix = regex_glob_fix(re, !strcmp(field, "host"));
	if (fix && asprintf(&msg, " (it looks like a glob: in a regex, \"any characters\" is \".*\"; did you mean \"%s\"?)",
			    fix) < 0)
		msg = NULL;
	free(fix);
	return msg;
}

char *regex_lint(const char *field, const char *re)
{
	size_t len = strlen(re), n;
	struct regex_tok *t = calloc(len + 1, sizeof(*t));
	char *msg = NULL;
	bool method = !strcmp(field, "method"), path = !strcmp(field, "path");

	if (!t)
		return NULL;
	n = regex_scan(re, t);
	for (size_t i = 1; i < n && !msg; i++) {
		if (path && regex_is_op(&t[i], '*') && t[i - 1].c == '/' && !t[i - 1].literal) {
			char *fix = regex_glob_fix(re, false);
			const char *star = strstr(re, "/*");

			if (fix && asprintf(&msg, "\"%s\" looks like a glob: in a regex \"/*\" repeats the slash, so it matches \"%.*s\" followed by slashes only; did you mean \"%s\"?",
					    re, (int)(star - re), re, fix) < 0)
				msg = NULL;
			free(fix);
		}
	}
	for (size_t i = 0; i < n && !msg; i++) {
		/* "$" then more pattern (not a quantifier, ')' or '|'): the
		 * input cannot go on after its end (paths hold no newline) */
		if (regex_is_op(&t[i], '$') && i + 1 < n &&
		    !(t[i + 1].literal == false && strchr(")|?*+{", t[i + 1].c))) {
			if (asprintf(&msg, "\"%s\" can never match: \"$\" (end of input) is followed by more pattern",
				     re) < 0)
				msg = NULL;
		}
		/* "^" after pattern (not after '(' or '|'): nothing can precede the start */
		if (!msg && regex_is_op(&t[i], '^') && i > 0 &&
		    !(t[i - 1].literal == false && strchr("(|:", t[i - 1].c))) {
			if (asprintf(&msg, "\"%s\" can never match: \"^\" (start of input) follows other pattern",
				     re) < 0)
				msg = NULL;
		}
	}
	if (!msg && path && n) {
		size_t i = regex_is_op(&t[0], '^') ? 1 : 0;

		/* a request path starts with '/': a literal first character that
		 * is not '/' never matches (origin-form, RFC 9112 3.2.1) */
		if (i < n && !t[i].literal &&
		    (isalnum((unsigned char)t[i].c) || strchr("-_~%", t[i].c)) &&
		    asprintf(&msg, "\"%s\" can never match: request paths start with \"/\"", re) < 0)
			msg = NULL;
	}
	if (!msg && method && n) {
		bool letters = true, lower = false;

		for (size_t i = 0; i < n; i++) {
			letters &= (!t[i].literal && isalpha((unsigned char)t[i].c)) ||
				   regex_is_op(&t[i], '|');
			lower |= islower((unsigned char)t[i].c) != 0;
		}
		if (letters && lower &&
		    asprintf(&msg, "\"%s\" can never match: HTTP methods are case-sensitive (GET, not get)",
			     re) < 0)
			msg = NULL;
	}
	free(t);
	return msg;
}
