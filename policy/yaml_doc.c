// SPDX-License-Identifier: Apache-2.0
/*
 * yaml_doc.c - one YAML document as the loader reads it (y_node_t, a lean
 * yaml_node_t), built from libyaml's events into a few large blocks
 * instead of by libyaml's own loader.
 *
 * Why: yaml_parser_load() makes four allocations per node (the node's
 * tag, its value or its item stack, and the growth of each stack) and
 * yaml_document_delete() frees them one by one. On a 2.6 MB policy of
 * 25,000 rules (350,000 nodes) that was 155 ms to load and 70 ms to free,
 * while libyaml's parser alone, which reads the same text and checks the
 * same syntax, needs about 33 ms. Here the nodes live in chunks of an
 * arena with every scalar's text and collection's items, freed in a few
 * calls.
 *
 * The nodes are the ones yaml_parser_load() would make, field by field
 * where y_node_t keeps the field (tests/unit/policy/test_yaml_doc.c and the
 * fuzz_yaml_doc target compare the two): the same numbering (a node is
 * numbered when it starts, a collection before its items), aliases
 * resolved to the anchored node's number, a collection's end mark taken
 * from its end event, and libyaml's composer errors ("found undefined
 * alias", "found duplicate anchor; first occurrence") in the parser's
 * error fields. Syntax errors are the parser's own.
 */
#include "yaml_doc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* arena blocks: most documents fit the first one; the largest stay below
 * glibc's mmap threshold, so a large document's blocks come from the heap
 * and the next load reuses them (memory touched once already) */
#define Y_BLOCK_MIN (64u * 1024)
#define Y_BLOCK_MAX (4u << 20)
/* nodes per chunk of the node table */
#define Y_CHUNK_SHIFT 10
#define Y_CHUNK (1u << Y_CHUNK_SHIFT)

struct y_block {
	struct y_block *next;
	size_t used, size;
	max_align_t data[];
};

static void *y_alloc(struct y_doc *d, size_t n)
{
	struct y_block *b = d->blocks;

	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!b || b->size - b->used < n) {
		/* each block twice the last, so a large document makes a few */
		size_t size = b ? b->size * 2 : Y_BLOCK_MIN;

		if (size > Y_BLOCK_MAX)
			size = Y_BLOCK_MAX;
		if (size < n)
			size = n;
		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->next = d->blocks;
		b->used = 0;
		b->size = size;
		d->blocks = b;
	}
	b->used += n;
	return (char *)b->data + b->used - n;
}

static yaml_char_t *y_copy(struct y_doc *d, const yaml_char_t *s, size_t len)
{
	yaml_char_t *p = y_alloc(d, len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* an open collection: its node, and where its items start on the kids stack */
struct y_open {
	int node;
	size_t kids;
};

struct y_build {
	struct y_doc *d;
	yaml_parser_t *parser;
	int *kids; /* items of the open collections, innermost last */
	size_t nkids, capkids;
	struct y_open *open;
	size_t nopen, capopen;
	struct y_anchor {
		const yaml_char_t *name; /* in the arena */
		int node;
		yaml_mark_t mark;
	} *anchors;
	size_t nanchors, capanchors;
};

static bool y_grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	p = realloc(*v, c * size);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

static int y_memory_error(yaml_parser_t *parser)
{
	parser->error = YAML_MEMORY_ERROR;
	return 0;
}

y_node_t *y_doc_node(const struct y_doc *d, int index)
{
	size_t i = (size_t)index - 1;

	if (index < 1 || index > d->nnodes)
		return NULL;
	return &d->chunks[i >> Y_CHUNK_SHIFT][i & (Y_CHUNK - 1)];
}

y_node_t *y_doc_root(const struct y_doc *d)
{
	return y_doc_node(d, 1);
}

static struct y_mark y_mark_of(const yaml_mark_t *m)
{
	return (struct y_mark){ .index = (uint32_t)m->index, .line = (uint32_t)m->line };
}

/*
 * A new node, numbered from 1 as libyaml numbers them. The table is a list
 * of fixed chunks in the arena, not one array: growing one array of node
 * structs by realloc copies it again and again, and every copy lands on
 * memory never touched before (page faults, the cost of a large load).
 */
static int y_node_add(struct y_build *b, yaml_node_type_t type, const yaml_mark_t *start,
		      const yaml_mark_t *end)
{
	struct y_doc *d = b->d;
	size_t n = (size_t)d->nnodes;
	y_node_t *node;

	/* marks are 32-bit here: a text over 4 GB is libyaml's alone (and no
	 * policy file is allowed near that) */
	if (n >= (size_t)INT32_MAX - 1 || end->index > UINT32_MAX || end->line > UINT32_MAX)
		return y_memory_error(b->parser);
	if (!(n & (Y_CHUNK - 1))) {
		size_t k = n >> Y_CHUNK_SHIFT;

		if (!y_grow((void **)&d->chunks, &d->capchunks, k + 1, sizeof(*d->chunks)) ||
		    !(d->chunks[k] = y_alloc(d, Y_CHUNK * sizeof(y_node_t))))
			return y_memory_error(b->parser);
	}
	d->nnodes++;
	node = y_doc_node(d, (int)n + 1);
	memset(node, 0, sizeof(*node));
	node->type = type;
	node->start_mark = y_mark_of(start);
	node->end_mark = y_mark_of(end);
	return (int)n + 1;
}

static int y_anchor_add(struct y_build *b, const yaml_char_t *anchor, int node,
			const yaml_mark_t *mark)
{
	size_t i;

	if (!anchor)
		return 1;
	for (i = 0; i < b->nanchors; i++) {
		if (!strcmp((const char *)b->anchors[i].name, (const char *)anchor)) {
			b->parser->error = YAML_COMPOSER_ERROR;
			b->parser->context = "found duplicate anchor; first occurrence";
			b->parser->context_mark = b->anchors[i].mark;
			b->parser->problem = "second occurrence";
			b->parser->problem_mark = *mark;
			return 0;
		}
	}
	if (!y_grow((void **)&b->anchors, &b->capanchors, b->nanchors + 1, sizeof(*b->anchors)))
		return y_memory_error(b->parser);
	b->anchors[b->nanchors].name = y_copy(b->d, anchor, strlen((const char *)anchor));
	if (!b->anchors[b->nanchors].name)
		return y_memory_error(b->parser);
	b->anchors[b->nanchors].node = node;
	b->anchors[b->nanchors].mark = *mark;
	b->nanchors++;
	return 1;
}

static int y_alias(struct y_build *b, const yaml_event_t *ev)
{
	size_t i;

	for (i = 0; i < b->nanchors; i++)
		if (!strcmp((const char *)b->anchors[i].name, (const char *)ev->data.alias.anchor))
			return b->anchors[i].node;
	b->parser->error = YAML_COMPOSER_ERROR;
	b->parser->problem = "found undefined alias";
	b->parser->problem_mark = ev->start_mark;
	return 0;
}

/* a finished node: an item of the innermost open collection */
static int y_kid(struct y_build *b, int node)
{
	if (!y_grow((void **)&b->kids, &b->capkids, b->nkids + 1, sizeof(*b->kids)))
		return y_memory_error(b->parser);
	b->kids[b->nkids++] = node;
	return 1;
}

static int y_open(struct y_build *b, int node)
{
	if (!y_grow((void **)&b->open, &b->capopen, b->nopen + 1, sizeof(*b->open)))
		return y_memory_error(b->parser);
	b->open[b->nopen].node = node;
	b->open[b->nopen].kids = b->nkids;
	b->nopen++;
	return 1;
}

/* the innermost collection ends: its items move from the stack to the arena */
static int y_close(struct y_build *b, const yaml_event_t *ev)
{
	struct y_open *o = &b->open[--b->nopen];
	y_node_t *n = y_doc_node(b->d, o->node);
	size_t k = b->nkids - o->kids, i;
	const int *kid = b->kids + o->kids;

	n->end_mark = y_mark_of(&ev->end_mark);
	if (n->type == YAML_SEQUENCE_NODE) {
		/* at least one slot, so start is never NULL (libyaml's never is) */
		yaml_node_item_t *v = y_alloc(b->d, (k ? k : 1) * sizeof(*v));

		if (!v)
			return y_memory_error(b->parser);
		memcpy(v, kid, k * sizeof(*v));
		n->data.sequence.items.start = v;
		n->data.sequence.items.top = v + k;
	} else {
		yaml_node_pair_t *v = y_alloc(b->d, (k / 2 ? k / 2 : 1) * sizeof(*v));

		if (!v)
			return y_memory_error(b->parser);
		for (i = 0; i + 1 < k; i += 2) {
			v[i / 2].key = kid[i];
			v[i / 2].value = kid[i + 1];
		}
		n->data.mapping.pairs.start = v;
		n->data.mapping.pairs.top = v + k / 2;
	}
	b->nkids = o->kids;
	return y_kid(b, o->node);
}

/* one event of the document's content; 0 on an error (in the parser) */
static int y_event(struct y_build *b, const yaml_event_t *ev)
{
	int node;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		node = y_alias(b, ev);
		return node ? y_kid(b, node) : 0;
	case YAML_SCALAR_EVENT:
		node = y_node_add(b, YAML_SCALAR_NODE, &ev->start_mark, &ev->end_mark);
		if (!node)
			return 0;
		{
			y_node_t *n = y_doc_node(b->d, node);

			n->data.scalar.value = y_copy(b->d, ev->data.scalar.value, ev->data.scalar.length);
			if (!n->data.scalar.value)
				return y_memory_error(b->parser);
			n->data.scalar.length = (uint32_t)ev->data.scalar.length;
			n->data.scalar.style = ev->data.scalar.style;
		}
		return y_anchor_add(b, ev->data.scalar.anchor, node, &ev->start_mark) && y_kid(b, node);
	case YAML_SEQUENCE_START_EVENT:
		node = y_node_add(b, YAML_SEQUENCE_NODE, &ev->start_mark, &ev->end_mark);
		if (!node)
			return 0;
		return y_anchor_add(b, ev->data.sequence_start.anchor, node, &ev->start_mark) && y_open(b, node);
	case YAML_MAPPING_START_EVENT:
		node = y_node_add(b, YAML_MAPPING_NODE, &ev->start_mark, &ev->end_mark);
		if (!node)
			return 0;
		return y_anchor_add(b, ev->data.mapping_start.anchor, node, &ev->start_mark) && y_open(b, node);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return y_close(b, ev);
	default:
		/* the parser gives no other event inside a document */
		b->parser->error = YAML_COMPOSER_ERROR;
		b->parser->problem = "unexpected event";
		b->parser->problem_mark = ev->start_mark;
		return 0;
	}
}

/* the builder's stacks (not the document it built) */
static void y_build_release(struct y_build *b)
{
	free(b->kids);
	free(b->open);
	free(b->anchors);
}

/* the document's events, after DOCUMENT-START, to DOCUMENT-END */
static int y_document(struct y_build *b)
{
	yaml_event_t ev;
	int ok;

	for (;;) {
		if (!yaml_parser_parse(b->parser, &ev))
			return 0;
		if (ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			return 1;
		}
		ok = y_event(b, &ev);
		yaml_event_delete(&ev);
		if (!ok)
			return 0;
	}
}

int y_doc_load(yaml_parser_t *parser, struct y_doc *d)
{
	struct y_build b = { .d = d, .parser = parser };
	yaml_event_t ev;
	int ok = 0;

	memset(d, 0, sizeof(*d));
	if (!parser->stream_start_produced) {
		if (!yaml_parser_parse(parser, &ev))
			return 0;
		yaml_event_delete(&ev); /* STREAM-START */
	}
	if (parser->stream_end_produced)
		return 1;
	if (!yaml_parser_parse(parser, &ev))
		return 0;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 1;
	}
	ok = ev.type == YAML_DOCUMENT_START_EVENT && y_document(&b);
	yaml_event_delete(&ev);
	y_build_release(&b);
	if (!ok)
		y_doc_free(d);
	return ok;
}

struct y_build *y_build_new(struct y_doc *d, yaml_parser_t *errors)
{
	struct y_build *b = calloc(1, sizeof(*b));

	memset(d, 0, sizeof(*d));
	if (b) {
		b->d = d;
		b->parser = errors;
	}
	return b;
}

int y_build_event(struct y_build *b, const yaml_event_t *ev)
{
	return y_event(b, ev);
}

void y_build_free(struct y_build *b)
{
	if (!b)
		return;
	y_build_release(b);
	free(b);
}

void y_doc_free(struct y_doc *d)
{
	struct y_block *b = d->blocks, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	free(d->chunks);
	memset(d, 0, sizeof(*d));
}
