/* SPDX-License-Identifier: Apache-2.0 */
/*
 * yaml_doc.h - loading one YAML document into arena memory (yaml_doc.c).
 * Internal to the policy library.
 */
#ifndef SLUICE_POLICY_YAML_DOC_H
#define SLUICE_POLICY_YAML_DOC_H

#include <yaml.h>

/* One document: its nodes, numbered from 1, in chunks of an arena. */
struct y_doc {
	yaml_node_t **chunks;
	size_t capchunks;
	int nnodes;
	struct y_block *blocks;
};

/* As yaml_parser_load(): 1 with the next document in d (no root node at the
 * end of the stream), 0 with the error in the parser's fields. */
int y_doc_load(yaml_parser_t *parser, struct y_doc *d);
void y_doc_free(struct y_doc *d);
/* Node number index (1 is the root), NULL when there is none. */
yaml_node_t *y_doc_node(const struct y_doc *d, int index);
yaml_node_t *y_doc_root(const struct y_doc *d);

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
