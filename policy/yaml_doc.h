/* SPDX-License-Identifier: Apache-2.0 */
/*
 * yaml_doc.h - loading one YAML document into arena memory (yaml_doc.c).
 * Internal to the policy library.
 */
#ifndef SLUICE_POLICY_YAML_DOC_H
#define SLUICE_POLICY_YAML_DOC_H

#include <yaml.h>

#include <stdint.h>

/*
 * A node as the loader reads it: libyaml's yaml_node_t without what nobody
 * reads (the tag, the columns, a collection's style), 40 bytes instead of
 * 96. The names are libyaml's, so the loader reads either the same way.
 * Why it matters: a policy of 25,000 rules is 350,000 nodes, and every
 * page of them is a page fault the first time (about 10 µs each on the
 * VMs sluice runs on).
 */
typedef struct y_node {
	yaml_node_type_t type;
	union {
		struct {
			yaml_char_t *value; /* NUL-terminated (length excludes it) */
			uint32_t length;
			yaml_scalar_style_t style;
		} scalar;
		struct {
			struct {
				yaml_node_item_t *start, *top;
			} items;
		} sequence;
		struct {
			struct {
				yaml_node_pair_t *start, *top;
			} pairs;
		} mapping;
	} data;
	struct y_mark {
		uint32_t index; /* in characters, as libyaml counts (see edit.c) */
		uint32_t line;  /* from 0 */
	} start_mark, end_mark;
} y_node_t;

/* One document: its nodes, numbered from 1, in chunks of an arena. */
struct y_doc {
	y_node_t **chunks;
	size_t capchunks;
	int nnodes;
	struct y_block *blocks;
};

/* As yaml_parser_load(): 1 with the next document in d (no root node at the
 * end of the stream), 0 with the error in the parser's fields. */
int y_doc_load(yaml_parser_t *parser, struct y_doc *d);
void y_doc_free(struct y_doc *d);
/* Node number index (1 is the root), NULL when there is none. */
y_node_t *y_doc_node(const struct y_doc *d, int index);
y_node_t *y_doc_root(const struct y_doc *d);

/* The builder alone, for another source of events (yaml_fast.c): the
 * content events of one document (scalars, collection starts and ends);
 * errors go to the fields of *errors. */
struct y_build;
struct y_build *y_build_new(struct y_doc *d, yaml_parser_t *errors);
int y_build_event(struct y_build *b, const yaml_event_t *ev);
void y_build_free(struct y_build *b);

/* yaml_fast.c: every document of text, when it keeps to the common shape
 * yaml_fast.c reads (1, *docs to y_doc_free and free), else 0 (nothing
 * made: read it with libyaml), or -ENOMEM. */
int y_fast_load(const char *text, size_t len, struct y_doc **docs, size_t *ndocs);

#endif /* SLUICE_POLICY_YAML_DOC_H */
