// SPDX-License-Identifier: Apache-2.0
/*
 * edit.c - a policy document applied again with one list item changed is
 * parsed again only there.
 *
 * A user who changes one rule of a 25,000-rule policy re-applies the whole
 * file; parsing it all again costs far more than the change. When the old
 * and the new text differ only inside the text of one item of an ingress,
 * egress, ingressDeny or egressDeny list (the spans the loader recorded),
 * that item's lines are parsed on their own, with the same decoder and the
 * same messages (file, line and field path as a whole parse gives), and
 * swapped into the policy in force. The item is a block mapping ("- " and
 * its lines), or a flow mapping in braces: the JSON text of a Kubernetes
 * object, so that one rule changed in a CiliumNetworkPolicy of the API is
 * parsed and compiled alone too. Anything else (a change that touches two
 * items, the list structure, the metadata, anchors or aliases reaching
 * across items, a Kubernetes NetworkPolicy) is left to a whole parse:
 * prepare returns 0.
 */
#include "internal.h"
#include "load.h"
#include "yaml_doc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool sluice_text_is_ascii(const char *text, size_t len)
{
	const uint64_t high = UINT64_C(0x8080808080808080);
	uint64_t any = 0, w;
	size_t i = 0;

	/* eight bytes at a time: a 2.6 MB text in a fraction of a millisecond */
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, text + i, 8);
		any |= w;
	}
	for (; i < len; i++)
		any |= (uint8_t)text[i];
	return !(any & high);
}

static size_t edit_common_prefix(const char *a, const char *b, size_t n)
{
	size_t i = 0;

	while (i + 4096 <= n && !memcmp(a + i, b + i, 4096))
		i += 4096;
	while (i + 64 <= n && !memcmp(a + i, b + i, 64))
		i += 64;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

static size_t edit_common_suffix(const char *a, size_t na, const char *b, size_t nb, size_t max)
{
	size_t i = 0;

	while (i + 4096 <= max && !memcmp(a + na - i - 4096, b + nb - i - 4096, 4096))
		i += 4096;
	while (i + 64 <= max && !memcmp(a + na - i - 64, b + nb - i - 64, 64))
		i += 64;
	while (i < max && a[na - i - 1] == b[nb - i - 1])
		i++;
	return i;
}

/* the item's span in the text as it is now: its stored one moved by the
 * policy's pending shifts it has not taken (struct sluice_policy) */
static void edit_span(const struct sluice_policy *p, const struct sluice_peer_rule *it, size_t *start,
		      size_t *end)
{
	size_t s = it->src_start, e = it->src_end;

	for (unsigned k = it->span_gen; k < p->nspan_shifts; k++)
		if (s >= p->span_shifts[k].at) {
			s = (size_t)((ptrdiff_t)s + p->span_shifts[k].delta);
			e = (size_t)((ptrdiff_t)e + p->span_shifts[k].delta);
		}
	*start = s;
	*end = e;
}

void sluice_policy_item_span(const struct sluice_policy *p, const struct sluice_peer_rule *it,
			     size_t *start, size_t *end)
{
	if (!it->src_end) {
		*start = *end = 0;
		return;
	}
	edit_span(p, it, start, end);
}

/* every item's span written as it is now; no shift pending */
static void edit_spans_settle(struct sluice_policy *p)
{
	if (!p->nspan_shifts)
		return;
	for (size_t ri = 0; ri < p->nrules; ri++)
		for (enum sluice_section s = 0; s < SLUICE_SECTION_COUNT; s++) {
			size_t n;
			struct sluice_peer_rule *w = rule_section(&p->rules[ri], s, &n);

			for (size_t i = 0; i < n; i++) {
				edit_span(p, &w[i], &w[i].src_start, &w[i].src_end);
				w[i].span_gen = 0;
			}
		}
	p->nspan_shifts = 0;
}

/* the item whose span holds [lo, hi) of the old text */
static bool edit_find(const struct sluice_policy *p, size_t lo, size_t hi, struct sluice_policy_edit *e)
{
	for (size_t ri = 0; ri < p->nrules; ri++)
		for (enum sluice_section s = 0; s < SLUICE_SECTION_COUNT; s++) {
			size_t n, a = 0, b, st, en;
			struct sluice_peer_rule *v = rule_section(&p->rules[ri], s, &n);

			/* items are in text order: the last one starting at or before lo */
			b = n;
			while (a < b) {
				size_t m = a + (b - a) / 2;

				edit_span(p, &v[m], &st, &en);
				if (st <= lo)
					a = m + 1;
				else
					b = m;
			}
			if (!a || !v[a - 1].src_end) /* no span known */
				continue;
			edit_span(p, &v[a - 1], &st, &en);
			if (st <= lo && hi <= en) {
				e->rule = ri;
				e->section = s;
				e->index = a - 1;
				return true;
			}
		}
	return false;
}

static void edit_shift_lines(struct sluice_peer_rule *r, int dl)
{
	r->line += dl;
	for (size_t i = 0; i < r->nto_ports; i++) {
		struct sluice_port_rule *pr = &r->to_ports[i];

		pr->line += dl;
		for (size_t j = 0; j < pr->nports; j++)
			pr->ports[j].line += dl;
		for (size_t j = 0; j < pr->nhttp; j++) {
			pr->http[j].line += dl;
			for (size_t k = 0; k < pr->http[j].nheader_matches; k++) {
				pr->http[j].header_matches[k].line += dl;
				if (pr->http[j].header_matches[k].secret)
					pr->http[j].header_matches[k].secret->line += dl;
			}
		}
		/* "where" keeps its text: a TLS context's line in messages is
		 * that of the edit's own document */
		if (pr->terminating_tls)
			pr->terminating_tls->line += dl;
		if (pr->originating_tls)
			pr->originating_tls->line += dl;
	}
}

/* only indentation lies between the last line start before end and end */
static bool edit_ends_line(const char *text, size_t len, size_t end)
{
	if (end > len)
		return false;
	while (end > 0 && text[end - 1] == ' ')
		end--;
	return end == 0 || text[end - 1] == '\n';
}

/* spaces right before end */
static size_t edit_indent_before(const char *text, size_t end)
{
	size_t n = 0;

	while (end > n && text[end - n - 1] == ' ')
		n++;
	return n;
}

static int edit_count_lines(const char *s, size_t n)
{
	int lines = 0;

	for (const char *q = s; (q = memchr(q, '\n', n - (size_t)(q - s))); q++)
		lines++;
	return lines;
}

/*
 * Where the fragment that is parsed alone starts, for an item whose old
 * text spans [start, end) and whose new text ends at frag_end
 * (SIZE_MAX: the item cannot be parsed alone).
 *
 * A flow mapping in a flow sequence (JSON, as the agent keeps a Kubernetes
 * object's text): its braces delimit it wherever the lines break, and
 * inside them the fragment parses alone as it does in place (flow context
 * either way); both texts must still close it where the item ends.
 */
static size_t edit_flow_fragment(size_t start, size_t end, const char *old_text,
				 const char *new_text, size_t new_len, size_t frag_end)
{
	if (frag_end <= start || frag_end > new_len || new_text[start] != '{' ||
	    old_text[end - 1] != '}' || new_text[frag_end - 1] != '}')
		return SIZE_MAX;
	return start;
}

/* A block item: its line, "<spaces>- <item>", from the line's start. */
static size_t edit_block_fragment(size_t start, size_t end, const char *old_text, size_t old_len,
				  const char *new_text, size_t new_len, size_t frag_end)
{
	size_t line_start, k;

	for (line_start = start; line_start && old_text[line_start - 1] != '\n'; line_start--)
		;
	k = line_start;
	while (k < start && old_text[k] == ' ')
		k++;
	if (k >= start || old_text[k] != '-')
		return SIZE_MAX;
	for (k++; k < start; k++)
		if (old_text[k] != ' ')
			return SIZE_MAX;
	/* the item must end where a line of the next token starts, in both
	 * texts: a fragment cut inside a line would parse differently alone */
	if (!edit_ends_line(old_text, old_len, end) || !edit_ends_line(new_text, new_len, frag_end))
		return SIZE_MAX;
	/* ... and the next token's indentation must be as it was (what follows
	 * it is the common suffix) */
	if (edit_indent_before(old_text, end) != edit_indent_before(new_text, frag_end))
		return SIZE_MAX;
	return line_start;
}

int sluice_policy_edit_prepare(const struct sluice_policy *p, const char *file,
			       const char *old_text, size_t old_len,
			       const char *new_text, size_t new_len,
			       struct sluice_policy_edit *e, struct sluice_diags *errors,
			       struct sluice_diags *warnings)
{
	struct sluice_peer_rule *item;
	size_t pre, suf, max, n, line_start, frag_end, item_start, item_end;
	yaml_parser_t parser;
	struct y_doc doc;
	y_node_t *root, *node;
	struct yctx c = { .file = file ? file : "<input>", .errors = errors, .warnings = warnings };
	bool have_doc = false, flow;
	int rc = 0;

	memset(e, 0, sizeof(*e));
	if (p->kind != SLUICE_KIND_CNP && p->kind != SLUICE_KIND_CCNP)
		return 0;
	/* the common prefix also says whether anything changed: an edit that
	 * keeps the length (8080 -> 9090) read the texts twice before */
	max = old_len < new_len ? old_len : new_len;
	pre = edit_common_prefix(old_text, new_text, max);
	if (old_len == new_len && pre == old_len) {
		e->unchanged = true;
		return 1;
	}
	/* the items' spans are byte offsets only in an ASCII text (see
	 * struct sluice_policy): anything else is loaded whole */
	if (!p->text_ascii)
		return 0;
	suf = edit_common_suffix(old_text, old_len, new_text, new_len, max - pre);
	if (!sluice_text_is_ascii(new_text + pre, new_len - suf - pre))
		return 0;
	if (!edit_find(p, pre, old_len - suf, e))
		return 0;
	item = &rule_section(&p->rules[e->rule], e->section, &n)[e->index];
	edit_span(p, item, &item_start, &item_end);
	if (pre < item_start)
		return 0;
	e->delta = (ptrdiff_t)new_len - (ptrdiff_t)old_len;
	frag_end = (size_t)((ptrdiff_t)item_end + e->delta);
	flow = old_text[item_start] == '{';
	line_start = flow ? edit_flow_fragment(item_start, item_end, old_text, new_text, new_len, frag_end)
			  : edit_block_fragment(item_start, item_end, old_text, old_len, new_text, new_len,
						frag_end);
	if (line_start == SIZE_MAX)
		return 0;
	/* an anchor in the item may be used by others: they change too */
	if (memchr(old_text + line_start, '&', item_end - line_start) ||
	    memchr(new_text + line_start, '&', frag_end - line_start))
		return 0;
	e->lines = edit_count_lines(new_text + line_start, frag_end - line_start) -
		   edit_count_lines(old_text + line_start, item_end - line_start);

	/* the fragment alone: a block sequence with exactly one mapping, or
	 * that flow mapping */
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)new_text + line_start,
				     frag_end - line_start);
	if (!y_doc_load(&parser, &doc))
		goto whole; /* the whole parse gives the message, with its context */
	have_doc = true;
	root = y_doc_root(&doc);
	/* the item's mapping: the flow mapping itself, or the sequence's one item */
	if (flow)
		node = root;
	else if (root && root->type == YAML_SEQUENCE_NODE &&
		 root->data.sequence.items.top - root->data.sequence.items.start == 1)
		node = y_doc_node(&doc, root->data.sequence.items.start[0]);
	else
		node = NULL;
	if (!node || node->type != YAML_MAPPING_NODE)
		goto whole;
	{
		struct y_doc next;
		bool more;

		if (!y_doc_load(&parser, &next))
			goto whole;
		more = y_doc_root(&next) != NULL;
		y_doc_free(&next);
		if (more)
			goto whole;
	}
	/* marks as if the fragment had been parsed in place */
	for (int i = 1; i <= doc.nnodes; i++) {
		y_node_t *m = y_doc_node(&doc, i);

		m->start_mark.line += (size_t)item->line - 1;
		m->end_mark.line += (size_t)item->line - 1;
		m->start_mark.index += line_start;
		m->end_mark.index += line_start;
	}
	c.doc = &doc;
	{
		const struct sluice_rule *r = &p->rules[e->rule];
		const char *ns = p->kind == SLUICE_KIND_CNP ? p->namespace : NULL;

		if (r->specs_index < 0) {
			y_push_field(&c, "spec");
		} else {
			y_push_field(&c, "specs");
			y_push_index(&c, (size_t)r->specs_index);
		}
		y_push_field(&c, sluice_section_name(e->section));
		y_push_index(&c, e->index);
		cilium_peer_item(&c, node, e->section, ns, &e->item);
		c.plen = 0;
		c.path[0] = '\0';
		if (r->specs_index >= 0) {
			y_push_field(&c, "specs");
			y_push_index(&c, (size_t)r->specs_index);
		} else {
			y_push_field(&c, "spec");
		}
	}
	if (c.nerrors) {
		load_peer_rule_free(&e->item);
		rc = -EINVAL;
		goto out;
	}
	/* the list-wide lint (about http rules), with the new item in its place */
	if (p->has_http || cilium_item_has_http(&e->item)) {
		const struct sluice_rule *r = &p->rules[e->rule];
		struct sluice_peer_rule *v = rule_section(&p->rules[e->rule], e->section, &n);
		struct sluice_peer_rule saved = v[e->index];
		int dd = e->section == SLUICE_SECTION_INGRESS ? r->default_deny_ingress
			 : e->section == SLUICE_SECTION_EGRESS ? r->default_deny_egress : SLUICE_UNSET;

		v[e->index] = e->item;
		cilium_lint_shadowed(&c, sluice_section_name(e->section), v, n, dd == SLUICE_FALSE);
		v[e->index] = saved;
	}
	e->old_end = item_end;
	e->text_at = pre;
	e->text_old_len = old_len - suf - pre;
	e->text_new_len = new_len - suf - pre;
	rc = 1;
	goto out;
whole:
	memset(e, 0, sizeof(*e));
	rc = 0;
out:
	if (have_doc)
		y_doc_free(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

void sluice_policy_edit_swap(struct sluice_policy *p, struct sluice_policy_edit *e)
{
	struct sluice_peer_rule *v, tmp;
	size_t n, end;

	if (e->unchanged)
		return;
	/* An edit that moves lines shifts every later item's lines (and span)
	 * here and now, from spans written whole; one that moves bytes only
	 * leaves a pending shift (struct sluice_policy), spans written whole
	 * first when no room is left. Swapping back follows at once (the
	 * agent's rollback): it takes its shift back. */
	if (!e->applied && (e->lines || p->nspan_shifts == SLUICE_SPAN_SHIFTS))
		edit_spans_settle(p);
	v = rule_section(&p->rules[e->rule], e->section, &n);
	tmp = v[e->index];
	v[e->index] = e->item;
	e->item = tmp;
	if (cilium_item_has_http(&v[e->index]))
		p->has_http = true;
	if (v[e->index].ngroups)
		p->has_groups = true;
	/* what follows the item moves by delta bytes and lines; swapping back
	 * moves it back */
	end = e->applied ? (size_t)((ptrdiff_t)e->old_end + e->delta) : e->old_end;
	if (!e->delta && !e->lines) {
		; /* nothing after the item moved */
	} else if (!e->lines && !e->applied) {
		p->span_shifts[p->nspan_shifts++] = (struct sluice_span_shift){ end, e->delta };
	} else if (!e->lines && p->nspan_shifts &&
		   p->span_shifts[p->nspan_shifts - 1].at == e->old_end &&
		   p->span_shifts[p->nspan_shifts - 1].delta == e->delta) {
		p->nspan_shifts--; /* swapped back: the shift it left is taken back */
	} else {
		/* lines moved, or (not done by the agent) a swap back whose
		 * shift is no longer the last one: every span written here */
		edit_spans_settle(p);
		for (size_t ri = 0; ri < p->nrules; ri++) {
			struct sluice_rule *r = &p->rules[ri];

			for (enum sluice_section s = 0; s < SLUICE_SECTION_COUNT; s++) {
				struct sluice_peer_rule *w = rule_section(r, s, &n);

				for (size_t i = 0; i < n; i++) {
					if (&w[i] == &v[e->index] || w[i].src_start < end)
						continue;
					w[i].src_start = (size_t)((ptrdiff_t)w[i].src_start +
								  (e->applied ? -e->delta : e->delta));
					w[i].src_end = (size_t)((ptrdiff_t)w[i].src_end +
								(e->applied ? -e->delta : e->delta));
					if (e->lines) /* most edits keep the line count */
						edit_shift_lines(&w[i], e->applied ? -e->lines : e->lines);
				}
			}
		}
	}
	/* the new item's span was read from the text as it is now: no shift
	 * pending is its (the old one, swapped back, keeps its own) */
	if (!e->applied)
		v[e->index].span_gen = p->nspan_shifts;
	e->applied = !e->applied;
}

void sluice_policy_edit_free(struct sluice_policy_edit *e)
{
	load_peer_rule_free(&e->item);
	memset(e, 0, sizeof(*e));
}
