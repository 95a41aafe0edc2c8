// SPDX-License-Identifier: Apache-2.0
/*
 * yaml_fast.c - the common shape of policy YAML read without libyaml's
 * scanner, or not at all.
 *
 * Why: libyaml's scanner and parser were 60 % of loading a policy of
 * 25,000 rules (a token and an event allocated and freed per scalar). The
 * files users write, and the ones tools generate, use a small part of
 * YAML: block mappings and sequences, one-line plain or quoted scalars,
 * one-line flow collections, comments, "---" between documents. This file
 * reads exactly that part and hands the same events libyaml's parser
 * would give (same values, styles and marks) to the document builder of
 * yaml_doc.c. Anything else - a tab, a byte above 0x7f, a carriage
 * return, an anchor, a tag, a block scalar, a scalar over two lines, a
 * flow collection over two lines, an escape, a directive, a key over 1000
 * bytes, anything libyaml would call an error - makes it decline the
 * whole text, and libyaml reads it as before (errors are always
 * libyaml's). test_yaml_doc and the fuzz_yaml_doc target compare both
 * readers on every text this one accepts.
 */
#include "yaml_doc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define YF_KEY_MAX 1000 /* libyaml refuses a simple key over 1024 characters */
#define YF_DEPTH_MAX 200

struct yf {
	const char *t;
	size_t len;
	size_t p;       /* position */
	size_t line;    /* of p (0-based) */
	size_t ls;      /* start of p's line */
	struct y_build *b;
	yaml_parser_t errors; /* the builder's (only out of memory here) */
	bool no;        /* declined (or out of memory: nomem) */
	bool nomem;
	int depth;
};

static yaml_mark_t yf_mark_at(const struct yf *f, size_t at)
{
	/* only positions on the current line are asked for */
	return (yaml_mark_t){ .index = at, .line = f->line, .column = at - f->ls };
}

/* where libyaml's scanner is at the end of the text (it forces a line end) */
static yaml_mark_t yf_end_mark(const struct yf *f)
{
	yaml_mark_t m = { .index = f->len, .line = f->line, .column = 0 };

	if (f->len > f->ls)
		m.line++;
	return m;
}

static int yf_col(const struct yf *f)
{
	return (int)(f->p - f->ls);
}

static char yf_at(const struct yf *f, size_t i)
{
	return i < f->len ? f->t[i] : '\0';
}

static bool yf_blankz(const struct yf *f, size_t i)
{
	char c = yf_at(f, i);

	return c == ' ' || c == '\n' || c == '\0';
}

static void yf_spaces(struct yf *f)
{
	while (yf_at(f, f->p) == ' ')
		f->p++;
}

static void yf_decline(struct yf *f)
{
	f->no = true;
}

static void yf_emit(struct yf *f, yaml_event_t *ev)
{
	if (f->no)
		return;
	if (!y_build_event(f->b, ev)) {
		f->no = true;
		f->nomem = true;
	}
}

static void yf_emit_scalar(struct yf *f, size_t start, size_t end, size_t vstart, size_t vlen,
			   yaml_scalar_style_t style)
{
	yaml_event_t ev = { .type = YAML_SCALAR_EVENT };

	ev.start_mark = yf_mark_at(f, start);
	ev.end_mark = yf_mark_at(f, end);
	ev.data.scalar.value = (yaml_char_t *)(f->t + vstart);
	ev.data.scalar.length = vlen;
	ev.data.scalar.plain_implicit = style == YAML_PLAIN_SCALAR_STYLE;
	ev.data.scalar.quoted_implicit = style != YAML_PLAIN_SCALAR_STYLE;
	ev.data.scalar.style = style;
	yf_emit(f, &ev);
}

static void yf_emit_empty(struct yf *f, yaml_mark_t m)
{
	yaml_event_t ev = { .type = YAML_SCALAR_EVENT, .start_mark = m, .end_mark = m };

	ev.data.scalar.value = (yaml_char_t *)"";
	ev.data.scalar.plain_implicit = 1;
	ev.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
	yf_emit(f, &ev);
}

static void yf_emit_collection(struct yf *f, yaml_event_type_t type, yaml_mark_t start,
			       yaml_mark_t end, bool flow)
{
	yaml_event_t ev = { .type = type, .start_mark = start, .end_mark = end };

	if (type == YAML_SEQUENCE_START_EVENT) {
		ev.data.sequence_start.implicit = 1;
		ev.data.sequence_start.style = flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE;
	} else if (type == YAML_MAPPING_START_EVENT) {
		ev.data.mapping_start.implicit = 1;
		ev.data.mapping_start.style = flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE;
	}
	yf_emit(f, &ev);
}

/* Every byte is printable ASCII or a line feed (no tab, no CR, no byte
 * above 0x7f: marks count characters, columns tabs). */
static bool yf_plain_bad(unsigned char c)
{
	return (c < 0x20 && c != '\n') || c > 0x7e;
}

static bool yf_plain_text(const char *t, size_t len)
{
	size_t at = 0;

	/* whole blocks of a constant size, no early exit inside one: the
	 * compiler vectorizes them (a 2.6 MB policy took 13M instructions
	 * byte by byte) */
	for (; at + 4096 <= len; at += 4096) {
		unsigned char bad = 0;

		for (size_t i = 0; i < 4096; i++) {
			unsigned char c = (unsigned char)t[at + i];

			bad |= (unsigned char)(((unsigned char)(c - 0x20) > 0x5e) & (c != '\n'));
		}
		if (bad)
			return false;
	}
	for (; at < len; at++)
		if (yf_plain_bad((unsigned char)t[at]))
			return false;
	return true;
}

/* spaces, then a comment or nothing, to the end of the line */
static bool yf_rest_blank(struct yf *f)
{
	yf_spaces(f);
	if (yf_at(f, f->p) == '#' && (f->p == f->ls || f->t[f->p - 1] == ' ')) {
		while (f->p < f->len && f->t[f->p] != '\n')
			f->p++;
	}
	return f->p >= f->len || f->t[f->p] == '\n';
}

/* past spaces, comments and line ends, to the next token (or the end) */
static void yf_next_token(struct yf *f)
{
	for (;;) {
		if (!yf_rest_blank(f) || f->p >= f->len)
			return;
		f->p++; /* the line feed */
		f->line++;
		f->ls = f->p;
	}
}

/* "---" or "..." at column 0, then a blank or the end */
static bool yf_doc_marker(const struct yf *f)
{
	const char *s = f->t + f->p;

	return f->p == f->ls && f->p + 3 <= f->len &&
	       (!memcmp(s, "---", 3) || !memcmp(s, "...", 3)) && yf_blankz(f, f->p + 3);
}

static bool yf_at_end(const struct yf *f)
{
	return f->p >= f->len || yf_doc_marker(f);
}

/* the mark the next token (or the end of the stream) has */
static yaml_mark_t yf_token_mark(const struct yf *f)
{
	return f->p >= f->len ? yf_end_mark(f) : yf_mark_at(f, f->p);
}

/*
 * The mark the end of a block collection at column col gets: the next
 * token's. At the end of the text, libyaml first closes the collections
 * more indented than where the text ends (a last line of spaces, no line
 * feed) at that point, and the others after it forces a line end.
 */
static yaml_mark_t yf_block_end_mark(const struct yf *f, int col)
{
	if (f->p >= f->len && (size_t)col > f->len - f->ls)
		return yf_mark_at(f, f->len);
	return yf_token_mark(f);
}

/* a scalar's first character: an indicator starts something else */
/* the bytes a plain scalar's scan must look at (yf_scalar()) */
static const bool yf_special[256] = {
	['\n'] = true, [' '] = true, [':'] = true, ['#'] = true, [','] = true,
	['['] = true, [']'] = true, ['{'] = true, ['}'] = true,
};

/* the bytes that cannot start a plain scalar here (NUL: the end) */
static const bool yf_no_plain_start[256] = {
	['\0'] = true, ['?'] = true, [':'] = true, [','] = true, ['['] = true, [']'] = true,
	['{'] = true, ['}'] = true, ['#'] = true, ['&'] = true, ['*'] = true, ['!'] = true,
	['|'] = true, ['>'] = true, ['\''] = true, ['"'] = true, ['%'] = true, ['@'] = true,
	['`'] = true, ['\n'] = true, [' '] = true,
};

static bool yf_plain_start(const struct yf *f)
{
	char c = yf_at(f, f->p);

	if (c == '-')
		return !yf_blankz(f, f->p + 1);
	return !yf_no_plain_start[(unsigned char)c];
}

/*
 * A scalar at p: a one-line plain one (in flow context it also ends at ,
 * [ ] { }), or one quoted without escapes. *end is after its last
 * character; p is left there. false (declined) for anything else.
 */
static bool yf_scalar(struct yf *f, bool flow, size_t *end, size_t *vstart, size_t *vlen,
		      yaml_scalar_style_t *style)
{
	size_t i = f->p;
	char q = yf_at(f, i);

	if (q == '\'' || q == '"') {
		for (i++; i < f->len && f->t[i] != q; i++)
			if (f->t[i] == '\n' || f->t[i] == '\\')
				return false;
		/* '' is a quote inside single quotes: left to libyaml */
		if (i >= f->len || (q == '\'' && yf_at(f, i + 1) == '\''))
			return false;
		*vstart = f->p + 1;
		*vlen = i - f->p - 1;
		*style = q == '\'' ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		*end = f->p = i + 1;
		return true;
	}
	if (!yf_plain_start(f))
		return false;
	/* a byte of no meaning here (most of them) costs one table lookup;
	 * the text holds no byte below 0x20 but the line feed (yf_plain_text) */
	size_t e = i;

	for (; i < f->len; i++) {
		unsigned char c = (unsigned char)f->t[i];

		if (!yf_special[c]) {
			e = i + 1;
			continue;
		}
		if (c == '\n')
			break;
		if (c == ':' && yf_blankz(f, i + 1))
			break;
		if (c == '#' && f->t[i - 1] == ' ')
			break;
		if (flow && (c == ',' || c == '[' || c == ']' || c == '{' || c == '}'))
			break;
		/* ':' before a flow indicator, '?' and the like: libyaml's */
		if (flow && c == ':')
			return false;
		if (c != ' ')
			e = i + 1;
	}
	*end = e;
	*vstart = f->p;
	*vlen = *end - f->p;
	*style = YAML_PLAIN_SCALAR_STYLE;
	f->p = *end;
	return true;
}

/* ':' then a blank: the value indicator after a key */
static bool yf_colon(const struct yf *f)
{
	return yf_at(f, f->p) == ':' && yf_blankz(f, f->p + 1);
}

static void yf_flow(struct yf *f);

/* a flow node: a scalar, or a nested flow collection */
static void yf_flow_node(struct yf *f)
{
	size_t start = f->p, end, vs, vl;
	yaml_scalar_style_t st;

	if (yf_at(f, f->p) == '[' || yf_at(f, f->p) == '{') {
		yf_flow(f);
		return;
	}
	if (!yf_scalar(f, true, &end, &vs, &vl, &st))
		return yf_decline(f);
	yf_emit_scalar(f, start, end, vs, vl, st);
}

/* a one-line flow sequence or mapping at p */
static void yf_flow(struct yf *f)
{
	bool map = f->t[f->p] == '{';
	char close = map ? '}' : ']';

	if (++f->depth > YF_DEPTH_MAX)
		return yf_decline(f);
	yf_emit_collection(f, map ? YAML_MAPPING_START_EVENT : YAML_SEQUENCE_START_EVENT,
			   yf_mark_at(f, f->p), yf_mark_at(f, f->p + 1), true);
	f->p++;
	for (bool first = true; !f->no; first = false) {
		yf_spaces(f);
		if (yf_at(f, f->p) == close)
			break;
		if (!first) {
			if (yf_at(f, f->p) != ',')
				return yf_decline(f);
			f->p++;
			yf_spaces(f);
			/* a trailing comma, an empty entry: libyaml's */
			if (yf_at(f, f->p) == close || yf_at(f, f->p) == ',')
				return yf_decline(f);
		}
		if (map) {
			/* a key: one scalar, short enough to be a simple key */
			size_t key = f->p;

			if (yf_at(f, f->p) == '[' || yf_at(f, f->p) == '{')
				return yf_decline(f);
			yf_flow_node(f);
			if (f->p - key > YF_KEY_MAX)
				return yf_decline(f);
		} else {
			yf_flow_node(f);
		}
		yf_spaces(f);
		if (map) {
			/* key: value, both present */
			if (!yf_colon(f) || yf_at(f, f->p + 1) != ' ')
				return yf_decline(f);
			f->p += 2;
			yf_spaces(f);
			if (strchr(",}#\n", yf_at(f, f->p)))
				return yf_decline(f);
			yf_flow_node(f);
			yf_spaces(f);
		} else if (yf_at(f, f->p) == ':') {
			return yf_decline(f); /* a single pair in a sequence */
		}
	}
	if (f->no)
		return;
	yf_emit_collection(f, map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT,
			   yf_mark_at(f, f->p), yf_mark_at(f, f->p + 1), true);
	f->p++;
	f->depth--;
}

static void yf_block(struct yf *f, int indent);
static void yf_block_mapping(struct yf *f, int col, size_t key_start);
static void yf_block_sequence(struct yf *f, int col, int indent, bool indentless);

/*
 * After a node that ended its line: the next token. A line more indented
 * than the innermost block collection (indent) would continue a plain
 * scalar in libyaml, or be an error: declined.
 */
static void yf_after_line(struct yf *f, int indent)
{
	if (!yf_rest_blank(f))
		return yf_decline(f);
	yf_next_token(f);
	if (!yf_at_end(f) && yf_col(f) > indent)
		yf_decline(f);
}

/*
 * A value or item on the line of its key or dash, at p: a scalar, a flow
 * collection, or (after a dash) a mapping whose first key is here.
 * indent: the innermost block collection's column.
 */
static void yf_inline_node(struct yf *f, int indent, bool after_dash)
{
	size_t start = f->p, end, vs, vl;
	yaml_scalar_style_t st;
	char c = yf_at(f, f->p);

	if (c == '[' || c == '{') {
		yf_flow(f);
		if (yf_colon(f))
			return yf_decline(f); /* a flow key */
		return yf_after_line(f, indent);
	}
	if (c == '-' && yf_blankz(f, f->p + 1))
		return yf_decline(f); /* "- - a", "k: - a" */
	if (!yf_scalar(f, false, &end, &vs, &vl, &st))
		return yf_decline(f);
	yf_spaces(f);
	if (yf_colon(f)) {
		if (!after_dash)
			return yf_decline(f); /* "a: b: c" */
		f->p = start;
		return yf_block_mapping(f, yf_col(f), start);
	}
	yf_emit_scalar(f, start, end, vs, vl, st);
	yf_after_line(f, indent);
}

/*
 * What follows a key's ':' or an item's '-' when the line ends there: a
 * nested node on the next lines, or an empty scalar at mark. col: the
 * column of the key or dash; mapping: after a key (whose indentless
 * sequence may follow at the same column).
 */
static void yf_nested(struct yf *f, int col, yaml_mark_t mark, bool mapping)
{
	if (!yf_rest_blank(f))
		return yf_decline(f);
	yf_next_token(f);
	if (yf_at_end(f) || yf_col(f) < col) {
		yf_emit_empty(f, mark);
		return;
	}
	if (yf_col(f) == col) {
		if (mapping && yf_at(f, f->p) == '-' && yf_blankz(f, f->p + 1))
			return yf_block_sequence(f, col, col, true);
		yf_emit_empty(f, mark);
		return;
	}
	yf_block(f, col);
}

/* a block mapping whose first key starts at key_start (column col) */
static void yf_block_mapping(struct yf *f, int col, size_t key_start)
{
	yaml_mark_t m = yf_mark_at(f, key_start);

	if (++f->depth > YF_DEPTH_MAX)
		return yf_decline(f);
	yf_emit_collection(f, YAML_MAPPING_START_EVENT, m, m, false);
	while (!f->no) {
		size_t start = f->p, end, vs, vl;
		yaml_scalar_style_t st;
		yaml_mark_t after_colon;

		if (yf_at(f, f->p) == '[' || yf_at(f, f->p) == '{' ||
		    !yf_scalar(f, false, &end, &vs, &vl, &st) || end - start > YF_KEY_MAX)
			return yf_decline(f);
		yf_spaces(f);
		if (!yf_colon(f))
			return yf_decline(f);
		yf_emit_scalar(f, start, end, vs, vl, st);
		f->p++;
		after_colon = yf_mark_at(f, f->p);
		yf_spaces(f);
		if (yf_at(f, f->p) == '\n' || yf_at(f, f->p) == '\0' ||
		    (yf_at(f, f->p) == '#' && f->t[f->p - 1] == ' '))
			yf_nested(f, col, after_colon, true);
		else
			yf_inline_node(f, col, false);
		if (f->no || yf_at_end(f) || yf_col(f) < col)
			break;
		/* the next key, at the same column */
		if (yf_col(f) > col || (yf_at(f, f->p) == '-' && yf_blankz(f, f->p + 1)))
			return yf_decline(f);
	}
	if (f->no)
		return;
	m = yf_block_end_mark(f, col);
	yf_emit_collection(f, YAML_MAPPING_END_EVENT, m, m, false);
	f->depth--;
}

/*
 * A block sequence whose first dash is at p (column col). indent: the
 * innermost block collection's column once it is open (col, or for an
 * indentless sequence under a key, that key's mapping column).
 */
static void yf_block_sequence(struct yf *f, int col, int indent, bool indentless)
{
	yaml_mark_t m = yf_mark_at(f, f->p);

	if (++f->depth > YF_DEPTH_MAX)
		return yf_decline(f);
	yf_emit_collection(f, YAML_SEQUENCE_START_EVENT, m, m, false);
	while (!f->no) {
		yaml_mark_t after_dash;

		f->p++; /* the dash */
		after_dash = yf_mark_at(f, f->p);
		yf_spaces(f);
		if (yf_at(f, f->p) == '\n' || yf_at(f, f->p) == '\0' ||
		    (yf_at(f, f->p) == '#' && f->t[f->p - 1] == ' '))
			yf_nested(f, col, after_dash, false);
		else
			yf_inline_node(f, indent, true);
		if (f->no || yf_at_end(f) || yf_col(f) < col)
			break;
		if (yf_col(f) > col)
			return yf_decline(f);
		if (yf_at(f, f->p) != '-' || !yf_blankz(f, f->p + 1)) {
			if (!indentless)
				return yf_decline(f); /* a key where a dash should be */
			break; /* the mapping around it goes on */
		}
	}
	if (f->no)
		return;
	m = yf_block_end_mark(f, col);
	yf_emit_collection(f, YAML_SEQUENCE_END_EVENT, m, m, false);
	f->depth--;
}

/* a block node starting at p, more indented than indent */
static void yf_block(struct yf *f, int indent)
{
	size_t start = f->p, end, vs, vl;
	yaml_scalar_style_t st;
	char c = yf_at(f, f->p);

	if (c == '-' && yf_blankz(f, f->p + 1))
		return yf_block_sequence(f, yf_col(f), yf_col(f), false);
	if (c == '[' || c == '{') {
		yf_flow(f);
		if (yf_colon(f))
			return yf_decline(f);
		return yf_after_line(f, indent);
	}
	if (!yf_scalar(f, false, &end, &vs, &vl, &st))
		return yf_decline(f);
	yf_spaces(f);
	if (yf_colon(f)) {
		f->p = start;
		return yf_block_mapping(f, yf_col(f), start);
	}
	yf_emit_scalar(f, start, end, vs, vl, st);
	yf_after_line(f, indent);
}

/* one document, its content (or none) after an optional "---" at p */
static void yf_document(struct yf *f, struct y_doc *d)
{
	f->b = y_build_new(d, &f->errors);
	if (!f->b) {
		f->no = f->nomem = true;
		return;
	}
	if (yf_doc_marker(f)) {
		if (f->t[f->p] == '.')
			return yf_decline(f);
		f->p += 3;
		if (!yf_rest_blank(f))
			return yf_decline(f); /* "--- value", "--- !tag" */
		yf_next_token(f);
	}
	if (yf_at_end(f))
		yf_emit_empty(f, yf_token_mark(f));
	else
		yf_block(f, -1);
	if (!f->no && !yf_at_end(f))
		yf_decline(f);
	if (!f->no && f->p < f->len && f->t[f->p] == '.')
		yf_decline(f); /* "..." */
}

int y_fast_load(const char *text, size_t len, struct y_doc **docs, size_t *ndocs)
{
	struct yf f = { .t = text, .len = len };
	struct y_doc *v = NULL;
	size_t n = 0;

	*docs = NULL;
	*ndocs = 0;
	if (!yf_plain_text(text, len))
		return 0;
	yf_next_token(&f);
	/* no document at all (empty, only comments): as libyaml, none */
	while (!f.no && f.p < f.len) {
		struct y_doc *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			f.no = f.nomem = true;
			break;
		}
		v = nv;
		yf_document(&f, &v[n]);
		y_build_free(f.b);
		f.b = NULL;
		n++;
	}
	if (f.no) {
		for (size_t i = 0; i < n; i++)
			y_doc_free(&v[i]);
		free(v);
		return f.nomem ? -ENOMEM : 0;
	}
	*docs = v;
	*ndocs = n;
	return 1;
}
