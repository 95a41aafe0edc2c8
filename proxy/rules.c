/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules.c - compiled HTTP rule sets (PCRE2, JIT, full match, match limits)
 * and the sorted table they are looked up in. Semantics in rules.h.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rules.h"

#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/policy_api.h"
#include "tls.h"

/* Fields a rule set with edits keeps on the stack (more: malloc). */
#define RULES_LIVE_INLINE 64u

/* Backtracking budget per regex match; hitting it means "no match". */
#define RULES_MATCH_LIMIT 100000u
#define RULES_DEPTH_LIMIT 5000u

struct rules_shared {
	pcre2_match_context *mctx;
	pcre2_match_data *md;
};

struct rules_header {
	char *name;
	size_t name_len;
	char *value; /* NULL = presence only */
	size_t value_len;
};

/* One full-match regex. Most rules are a literal ("GET") or a literal
 * followed by ".*" ("/api/users/.*"): those are answered by a compare,
 * exactly as PCRE2 would answer them; the rest go to PCRE2 (JIT when it
 * compiled). */
enum rules_re_kind { RE_ANY, RE_LITERAL, RE_PREFIX, RE_PCRE };

struct rules_re {
	pcre2_code *code;   /* always compiled: checks the pattern, and the fallback */
	char *lit;          /* RE_LITERAL / RE_PREFIX: the literal part */
	size_t lit_len;
	uint8_t kind;       /* enum rules_re_kind */
	bool jit;
};

/* One headerMatches entry, its secret resolved at build time. */
struct rules_hmatch {
	char *name;
	size_t name_len;
	char *value;        /* what is compared ("" = presence) */
	size_t value_len;
	bool missing;       /* a secret named, absent, no value: fails */
	uint8_t mismatch;   /* enum sluice_mismatch */
};

struct rules_rule {
	struct rules_re method, path, host;
	struct rules_header *headers;
	size_t nheaders;
	struct rules_hmatch *hm;
	size_t nhm;
};

struct proxy_rule_set {
	bool allow_all;
	bool invalid;
	bool edits;   /* some rule may edit headers: every rule is evaluated */
	bool headers; /* some rule looks at headers (headers, headerMatches) */
	struct rules_rule *rules;
	size_t nrules;
	struct rules_shared *shared;
	struct proxy_tls_spec *tls;  /* NULL: plaintext both ways */
};

struct rules_entry {
	struct proxy_rules_key key;
	struct proxy_rule_set set;
};

struct proxy_rules_table {
	struct rules_entry *v;
	size_t n;
	struct rules_shared *shared;
};

struct proxy_rules_builder {
	struct proxy_rules_table t;
	size_t cap;
};

static void rules_errf(char **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void rules_errf(char **err, const char *fmt, ...)
{
	va_list ap;

	if (!err || *err)
		return; /* keep the first message */
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
}

static struct rules_shared *rules_shared_new(void)
{
	struct rules_shared *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->mctx = pcre2_match_context_create(NULL);
	s->md = pcre2_match_data_create(1, NULL);
	if (!s->mctx || !s->md) {
		pcre2_match_context_free(s->mctx);
		pcre2_match_data_free(s->md);
		free(s);
		return NULL;
	}
	pcre2_set_match_limit(s->mctx, RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(s->mctx, RULES_DEPTH_LIMIT);
	return s;
}

static void rules_shared_free(struct rules_shared *s)
{
	if (!s)
		return;
	pcre2_match_context_free(s->mctx);
	pcre2_match_data_free(s->md);
	free(s);
}

/* The literal part of a pattern that is one (*prefix false) or one followed
 * by ".*" (*prefix true): no byte PCRE2 reads as syntax (no extended or
 * caseless option is set, so everything else stands for itself). */
static bool rules_regex_literal(const char *pattern, size_t *lit_len, bool *prefix)
{
	size_t n = strlen(pattern);

	*prefix = n >= 2 && !strcmp(pattern + n - 2, ".*");
	if (*prefix)
		n -= 2;
	for (size_t i = 0; i < n; i++)
		if (strchr("\\^$.[]|()?*+{}", pattern[i]))
			return false;
	*lit_len = n;
	return true;
}

/* Compiles a full-match regex; NULL pattern = match anything (returns 0). */
static int rules_regex_compile(const char *pattern, struct rules_re *out,
			       const char *field, size_t rule_idx, char **err)
{
	int ecode;
	PCRE2_SIZE eoff;
	pcre2_code *re;
	size_t lit_len;
	bool prefix;

	memset(out, 0, sizeof(*out));
	if (!pattern)
		return 0;
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			   PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_BACKSLASH_C,
			   &ecode, &eoff, NULL);
	if (!re) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		rules_errf(err, "rules[%zu].%s: invalid regex \"%s\" at offset %zu: %s",
			   rule_idx, field, pattern, (size_t)eoff, (const char *)msg);
		return -EINVAL;
	}
	/* JIT is an optimisation: without it (no exec memory) matching still works. */
	out->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
	out->code = re;
	out->kind = RE_PCRE;
	if (rules_regex_literal(pattern, &lit_len, &prefix) &&
	    (out->lit = strndup(pattern, lit_len))) {
		out->lit_len = lit_len;
		out->kind = prefix ? RE_PREFIX : RE_LITERAL;
	}
	return 0;
}

static void rules_regex_free(struct rules_re *re)
{
	pcre2_code_free(re->code);
	free(re->lit);
}

static int rules_header_parse(const char *spec, struct rules_header *h)
{
	const char *colon = strchr(spec, ':');
	size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);

	while (nlen && (spec[nlen - 1] == ' ' || spec[nlen - 1] == '\t'))
		nlen--;
	h->name = strndup(spec, nlen);
	h->name_len = nlen;
	if (!h->name)
		return -ENOMEM;
	if (colon) {
		const char *v = colon + 1;
		size_t vlen;
		while (*v == ' ' || *v == '\t')
			v++;
		vlen = strlen(v);
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		h->value = strndup(v, vlen);
		h->value_len = vlen;
		if (!h->value)
			return -ENOMEM;
	}
	return 0;
}

static void rules_set_release(struct proxy_rule_set *rs)
{
	for (size_t i = 0; i < rs->nrules; i++) {
		struct rules_rule *r = &rs->rules[i];
		rules_regex_free(&r->method);
		rules_regex_free(&r->path);
		rules_regex_free(&r->host);
		for (size_t k = 0; k < r->nheaders; k++) {
			free(r->headers[k].name);
			free(r->headers[k].value);
		}
		free(r->headers);
		for (size_t k = 0; k < r->nhm; k++) {
			free(r->hm[k].name);
			if (r->hm[k].value) /* wipe a secret's copy */
				explicit_bzero(r->hm[k].value, r->hm[k].value_len);
			free(r->hm[k].value);
		}
		free(r->hm);
	}
	free(rs->rules);
	rs->rules = NULL;
	rs->nrules = 0;
	proxy_tls_spec_unref(rs->tls);
	rs->tls = NULL;
}

static int rules_hmatch_build(struct proxy_rule_set *rs, struct rules_rule *r,
			      const struct proxy_rule_spec *sp, size_t rule_idx, char **err)
{
	r->hm = calloc(sp->nmatches, sizeof(*r->hm));
	if (!r->hm)
		return -ENOMEM;
	r->nhm = sp->nmatches;
	for (size_t k = 0; k < sp->nmatches; k++) {
		const struct proxy_header_match_spec *ms = &sp->matches[k];
		struct rules_hmatch *h = &r->hm[k];
		const char *v = ms->value ? ms->value : "";
		size_t vlen = strlen(v);

		if (!ms->name || !*ms->name || ms->mismatch > SLUICE_MISMATCH_REPLACE) {
			rules_errf(err, "rules[%zu].header_matches[%zu]: %s", rule_idx, k,
				   !ms->name || !*ms->name ? "empty header name" : "unknown mismatch action");
			return -EINVAL;
		}
		if (ms->secret && ms->secret_value) {
			v = ms->secret_value;
			vlen = ms->secret_len;
		} else if (ms->secret && !vlen) {
			h->missing = true;
		}
		h->mismatch = ms->mismatch;
		h->name_len = strlen(ms->name);
		h->name = strdup(ms->name);
		h->value = malloc(vlen + 1);
		if (!h->name || !h->value)
			return -ENOMEM;
		memcpy(h->value, v, vlen);
		h->value[vlen] = 0;
		h->value_len = vlen;
		if (h->mismatch >= SLUICE_MISMATCH_ADD)
			rs->edits = true;
	}
	return 0;
}

struct proxy_rules_builder *proxy_rules_builder_new(void)
{
	struct proxy_rules_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->t.shared = rules_shared_new();
	if (!b->t.shared) {
		free(b);
		return NULL;
	}
	return b;
}

int proxy_rules_builder_add(struct proxy_rules_builder *b,
			    const struct proxy_rules_key *key, bool allow_all,
			    const struct proxy_rule_spec *rules, size_t nrules,
			    char **err)
{
	struct rules_entry *e;
	int ret = 0;

	if (b->t.n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 8;
		struct rules_entry *nv = realloc(b->t.v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		b->t.v = nv;
		b->cap = ncap;
	}
	if (key->end_port && key->end_port < key->port) {
		rules_errf(err, "end_port %u below port %u", key->end_port, key->port);
		return -ERANGE;
	}
	e = &b->t.v[b->t.n];
	memset(e, 0, sizeof(*e));
	e->key = *key;
	if (!e->key.end_port)
		e->key.end_port = e->key.port;
	e->set.allow_all = allow_all;
	e->set.shared = b->t.shared;
	b->t.n++;
	if (nrules == 0)
		return 0; /* no rules: allow_all allows, else deny */
	if (allow_all) {
		/* allow_all needs no rules to allow, but header actions still
		 * run (Cilium's wildcard rule does not short-circuit a set with
		 * headerMatches): keep only rules that have some */
		size_t k = 0;

		for (size_t i = 0; i < nrules; i++)
			for (size_t j = 0; j < rules[i].nmatches; j++)
				if (rules[i].matches[j].mismatch >= SLUICE_MISMATCH_ADD)
					k = 1;
		if (!k)
			return 0;
	}
	e->set.rules = calloc(nrules, sizeof(*e->set.rules));
	if (!e->set.rules) {
		e->set.invalid = true;
		return -ENOMEM;
	}
	e->set.nrules = nrules;
	for (size_t i = 0; i < nrules; i++) {
		const struct proxy_rule_spec *sp = &rules[i];
		struct rules_rule *r = &e->set.rules[i];
		int rc;

		if (sp->nheaders || sp->nmatches)
			e->set.headers = true;

		rc = rules_regex_compile(sp->method, &r->method, "method", i, err);
		if (!rc)
			rc = rules_regex_compile(sp->path, &r->path, "path", i, err);
		if (!rc)
			rc = rules_regex_compile(sp->host, &r->host, "host", i, err);
		if (!rc && sp->nheaders) {
			r->headers = calloc(sp->nheaders, sizeof(*r->headers));
			if (!r->headers) {
				rc = -ENOMEM;
			} else {
				r->nheaders = sp->nheaders;
				for (size_t k = 0; k < sp->nheaders && !rc; k++) {
					rc = rules_header_parse(sp->headers[k], &r->headers[k]);
					if (!rc && r->headers[k].name_len == 0) {
						rules_errf(err, "rules[%zu].headers[%zu]: empty header name", i, k);
						rc = -EINVAL;
					}
				}
			}
		}
		if (!rc && sp->nmatches)
			rc = rules_hmatch_build(&e->set, r, sp, i, err);
		if (rc) {
			/* fail closed: the entry stays, denying everything */
			e->set.invalid = true;
			rules_set_release(&e->set);
			ret = rc;
			break;
		}
	}
	return ret;
}

int proxy_rules_builder_set_tls(struct proxy_rules_builder *b, struct proxy_tls_spec *spec)
{
	struct proxy_rule_set *rs;

	if (!b->t.n)
		return -EINVAL;
	rs = &b->t.v[b->t.n - 1].set;
	proxy_tls_spec_unref(rs->tls);
	rs->tls = proxy_tls_spec_ref(spec);
	return 0;
}

struct proxy_tls_spec *proxy_rule_set_tls(const struct proxy_rule_set *rs)
{
	return rs ? rs->tls : NULL;
}

/* Order: (ep_id, direction, peer_identity) groups, by port range inside. */
static int rules_group_cmp(const struct proxy_rules_key *a, const struct proxy_rules_key *b)
{
	if (a->ep_id != b->ep_id)
		return a->ep_id < b->ep_id ? -1 : 1;
	if (a->direction != b->direction)
		return a->direction < b->direction ? -1 : 1;
	if (a->peer_identity != b->peer_identity)
		return a->peer_identity < b->peer_identity ? -1 : 1;
	return 0;
}

static int rules_key_cmp(const struct proxy_rules_key *a, const struct proxy_rules_key *b)
{
	int c = rules_group_cmp(a, b);

	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->end_port != b->end_port)
		return a->end_port < b->end_port ? -1 : 1;
	return 0;
}

static int rules_entry_cmp(const void *a, const void *b)
{
	return rules_key_cmp(&((const struct rules_entry *)a)->key,
			     &((const struct rules_entry *)b)->key);
}

int proxy_rules_builder_finish(struct proxy_rules_builder *b,
			       struct proxy_rules_table **out, char **err)
{
	struct proxy_rules_table *t;

	*out = NULL;
	if (b->t.n > 1)
		qsort(b->t.v, b->t.n, sizeof(*b->t.v), rules_entry_cmp);
	for (size_t i = 1; i < b->t.n; i++) {
		const struct proxy_rules_key *k = &b->t.v[i].key;
		if (!rules_key_cmp(k, &b->t.v[i - 1].key)) {
			rules_errf(err, "duplicate entry ep_id=%u direction=%u port=%u-%u peer_identity=%u",
				   k->ep_id, k->direction, k->port, k->end_port, k->peer_identity);
			proxy_rules_builder_free(b);
			return -EEXIST;
		}
	}
	t = malloc(sizeof(*t));
	if (!t) {
		proxy_rules_builder_free(b);
		return -ENOMEM;
	}
	*t = b->t;
	free(b);
	*out = t;
	return 0;
}

void proxy_rules_builder_free(struct proxy_rules_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->t.n; i++)
		rules_set_release(&b->t.v[i].set);
	free(b->t.v);
	rules_shared_free(b->t.shared);
	free(b);
}

void proxy_rules_table_free(struct proxy_rules_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		rules_set_release(&t->v[i].set);
	free(t->v);
	rules_shared_free(t->shared);
	free(t);
}

size_t proxy_rules_table_size(const struct proxy_rules_table *t)
{
	return t ? t->n : 0;
}

/* The narrowest entry of one (ep_id, direction, peer) group containing port. */
static const struct rules_entry *rules_lookup_group(const struct proxy_rules_table *t,
						    const struct proxy_rules_key *key)
{
	const struct rules_entry *best = NULL;
	size_t lo = 0, hi = t->n;

	/* first entry of the group */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rules_group_cmp(&t->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < t->n; i++) {
		const struct rules_entry *e = &t->v[i];

		if (rules_group_cmp(&e->key, key) || e->key.port > key->port)
			break;
		if (key->port <= e->key.end_port &&
		    (!best || e->key.end_port - e->key.port < best->key.end_port - best->key.port))
			best = e;
	}
	return best;
}

const struct proxy_rule_set *proxy_rules_lookup(const struct proxy_rules_table *t,
						const struct proxy_rules_key *key)
{
	struct proxy_rules_key any;
	const struct rules_entry *e;

	if (!t || !t->n)
		return NULL;
	e = rules_lookup_group(t, key);
	if (!e && key->peer_identity != 0) {
		any = *key;
		any.peer_identity = 0;
		e = rules_lookup_group(t, &any);
	}
	return e ? &e->set : NULL;
}

/* Bytes some newline convention of PCRE2 counts as a line end (LF, VT, FF,
 * CR, NEL), which "." does not match: a subject with one of them after the
 * literal goes to PCRE2, whatever convention it was built with. */
static bool rules_dot_safe(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 0x0a && c <= 0x0d) || c == 0x85)
			return false;
	}
	return true;
}

static int rules_regex_match(const struct rules_shared *sh, const struct rules_re *re,
			     const char *s, size_t len)
{
	int rc;

	s = s ? s : "";
	switch (re->kind) {
	case RE_ANY:
		return 1;
	case RE_LITERAL:
		return len == re->lit_len && !memcmp(s, re->lit, len);
	case RE_PREFIX:
		if (len < re->lit_len)
			return 0;
		if (rules_dot_safe(s + re->lit_len, len - re->lit_len))
			return !memcmp(s, re->lit, re->lit_len);
		break;
	default:
		break;
	}
	if (re->jit)
		rc = pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, 0, sh->md, sh->mctx);
	else
		rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, sh->md, sh->mctx);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	return -1;
}

static bool rules_name_is(const struct proxy_header *rh, const char *name, size_t len)
{
	return rh->name_len == len && !strncasecmp(rh->name, name, len);
}

static bool rules_header_match(const struct rules_header *h,
			       const struct proxy_header *hs, size_t n)
{
	size_t pos = 0;
	bool seen = false;

	for (size_t i = 0; i < n; i++) {
		const struct proxy_header *rh = &hs[i];
		if (!rules_name_is(rh, h->name, h->name_len))
			continue;
		if (!h->value)
			return true;
		if (seen) {
			if (pos >= h->value_len || h->value[pos] != ',')
				return false;
			pos++;
		}
		if (rh->value_len > h->value_len - pos ||
		    memcmp(h->value + pos, rh->value, rh->value_len))
			return false;
		pos += rh->value_len;
		seen = true;
	}
	return seen && pos == h->value_len;
}

/* method, path, host and headers: 1 match, 0 not, -1 a regex's limit */
static int rules_rule_match(const struct proxy_rule_set *rs, const struct rules_rule *r,
			    const struct proxy_request_view *req,
			    const struct proxy_header *hs, size_t n)
{
	int m = rules_regex_match(rs->shared, &r->method, req->method, req->method_len);

	if (m == 1)
		m = rules_regex_match(rs->shared, &r->path, req->path, req->path_len);
	if (m == 1)
		m = rules_regex_match(rs->shared, &r->host, req->host, req->host_len);
	for (size_t k = 0; m == 1 && k < r->nheaders; k++)
		if (!rules_header_match(&r->headers[k], hs, n))
			m = 0;
	return m;
}

/* ---- headerMatches ------------------------------------------------------- */

/* The request's fields as the actions so far left them. */
struct rules_live {
	struct proxy_header *v;
	size_t n, cap;
	struct proxy_header_edits *ed; /* NULL: edits cannot be applied */
	bool failed;                   /* an edit could not be made: deny */
};

static void rules_live_remove(struct rules_live *L, const char *name, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < L->n; i++)
		if (!rules_name_is(&L->v[i], name, len))
			L->v[w++] = L->v[i];
	L->n = w;
}

static bool rules_live_edit(struct rules_live *L, const struct rules_hmatch *h, bool add)
{
	struct proxy_header_edit *e;

	if (!L->ed || L->ed->n == PROXY_EDITS_MAX || (add && L->n == L->cap)) {
		L->failed = true;
		return false;
	}
	e = &L->ed->v[L->ed->n++];
	*e = (struct proxy_header_edit){ .name = h->name, .name_len = h->name_len };
	if (!add) {
		rules_live_remove(L, h->name, h->name_len);
		return true;
	}
	e->value = h->value;
	e->value_len = h->value_len;
	L->v[L->n++] = (struct proxy_header){
		.name = h->name, .name_len = h->name_len,
		.value = h->value, .value_len = h->value_len,
	};
	return true;
}

/* Whether the fields named h->name, joined with ",", equal h->value,
 * without stopping at the first differing byte (the value may be a
 * secret's: Envoy compares with CRYPTO_memcmp). *present says whether
 * there is any such field. */
static bool rules_hmatch_equal(const struct rules_live *L, const struct rules_hmatch *h,
			       bool *present)
{
	unsigned char diff = 0;
	size_t pos = 0;
	bool seen = false, ok = true;

	for (size_t i = 0; i < L->n; i++) {
		const struct proxy_header *rh = &L->v[i];

		if (!rules_name_is(rh, h->name, h->name_len))
			continue;
		if (seen) {
			if (pos < h->value_len)
				diff |= (unsigned char)(h->value[pos] ^ ',');
			pos++;
		}
		for (size_t k = 0; k < rh->value_len; k++, pos++)
			if (pos < h->value_len)
				diff |= (unsigned char)(h->value[pos] ^ rh->value[k]);
		seen = true;
	}
	*present = seen;
	if (!seen || pos != h->value_len)
		ok = false;
	return ok && !diff;
}

/* One entry (Cilium's HeaderMatch::allowed): true when the rule may go on. */
static bool rules_hmatch_run(struct rules_live *L, const struct rules_hmatch *h)
{
	bool present, matches;

	if (h->missing)
		return false;
	if (!h->value_len) {
		present = false;
		for (size_t i = 0; i < L->n && !present; i++)
			present = rules_name_is(&L->v[i], h->name, h->name_len);
		matches = present;
	} else {
		matches = rules_hmatch_equal(L, h, &present);
	}
	if (matches)
		return true;
	switch (h->mismatch) {
	case SLUICE_MISMATCH_LOG:
		return true;
	case SLUICE_MISMATCH_ADD:
		return rules_live_edit(L, h, true);
	case SLUICE_MISMATCH_DELETE:
		/* a presence test that failed has nothing to remove */
		if (!h->value_len || !present)
			return true;
		return rules_live_edit(L, h, false);
	case SLUICE_MISMATCH_REPLACE:
		return rules_live_edit(L, h, false) && rules_live_edit(L, h, true);
	case SLUICE_MISMATCH_FAIL:
	default:
		return false;
	}
}

/* Every entry runs, even after one failed (their actions are made). */
static bool rules_hmatch_all(struct rules_live *L, const struct rules_rule *r)
{
	bool ok = true;

	for (size_t k = 0; k < r->nhm; k++)
		if (!rules_hmatch_run(L, &r->hm[k]))
			ok = false;
	return ok;
}

bool proxy_header_edits_remove(const struct proxy_header_edits *ed, size_t from,
			       const char *name, size_t name_len)
{
	if (!ed)
		return false;
	for (size_t i = from; i < ed->n; i++)
		if (!ed->v[i].value && ed->v[i].name_len == name_len &&
		    !strncasecmp(ed->v[i].name, name, name_len))
			return true;
	return false;
}

/* A rule set whose rules may edit: every rule whose method, path, host and
 * headers match runs its actions on the live fields (Cilium does not
 * short-circuit such a set, so that all actions are made). */
static enum proxy_match rules_match_edits(const struct proxy_rule_set *rs,
					  const struct proxy_request_view *req, bool *failed)
{
	struct proxy_header stackv[RULES_LIVE_INLINE];
	struct rules_live L = { .v = stackv, .cap = RULES_LIVE_INLINE, .ed = req->edits };
	bool allowed = false, limit = false;

	*failed = true;
	if (req->nheaders + PROXY_EDITS_MAX > L.cap) {
		L.cap = req->nheaders + PROXY_EDITS_MAX;
		L.v = malloc(L.cap * sizeof(*L.v));
		if (!L.v)
			return PROXY_MATCH_DENY;
	}
	memcpy(L.v, req->headers, req->nheaders * sizeof(*L.v));
	L.n = req->nheaders;
	if (L.ed)
		L.ed->n = 0;
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rules_rule *r = &rs->rules[i];
		int m = rules_rule_match(rs, r, req, L.v, L.n);

		if (m < 0)
			limit = true;
		if (m == 1 && rules_hmatch_all(&L, r))
			allowed = true;
	}
	if (L.v != stackv)
		free(L.v);
	*failed = L.failed;
	if (L.failed)
		return PROXY_MATCH_DENY; /* fail closed: an action not made */
	if (allowed)
		return PROXY_MATCH_ALLOW;
	return limit ? PROXY_MATCH_REGEX_LIMIT : PROXY_MATCH_DENY;
}

enum proxy_match proxy_rule_set_match(const struct proxy_rule_set *rs,
				      const struct proxy_request_view *req)
{
	bool limit = false, failed;

	if (req->edits)
		req->edits->n = 0;
	if (!rs)
		return PROXY_MATCH_NO_POLICY;
	if (rs->invalid)
		return PROXY_MATCH_INVALID;
	if (rs->allow_all && rs->edits) {
		/* allowed whatever the rules say; their actions are made
		 * (an action that could not be: denied, fail closed) */
		(void)rules_match_edits(rs, req, &failed);
		return failed ? PROXY_MATCH_DENY : PROXY_MATCH_ALLOW;
	}
	if (rs->allow_all)
		return PROXY_MATCH_ALLOW;
	if (rs->edits)
		return rules_match_edits(rs, req, &failed);
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rules_rule *r = &rs->rules[i];
		int m = rules_rule_match(rs, r, req, req->headers, req->nheaders);

		if (m < 0)
			limit = true;
		if (m != 1)
			continue;
		if (r->nhm) {
			/* deny and LOG entries only: nothing to edit */
			struct rules_live L = {
				.v = (struct proxy_header *)req->headers, .n = req->nheaders,
			};
			if (!rules_hmatch_all(&L, r))
				continue;
		}
		return PROXY_MATCH_ALLOW;
	}
	return limit ? PROXY_MATCH_REGEX_LIMIT : PROXY_MATCH_DENY;
}

bool proxy_rule_set_request_only(const struct proxy_rule_set *rs)
{
	/* allow_all with header actions has edits; without, its rules are not
	 * even kept: what is allowed does not depend on them */
	return rs && !rs->invalid && !rs->edits && !rs->tls && (rs->allow_all || !rs->headers);
}
