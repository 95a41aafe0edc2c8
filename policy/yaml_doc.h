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

#endif /* SLUICE_POLICY_YAML_DOC_H */
