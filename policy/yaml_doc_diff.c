// SPDX-License-Identifier: Apache-2.0
/*
 * yaml_doc_diff.c - loads a text with libyaml's own loader and with
 * y_doc_load() (yaml_doc.c), document by document, and says where the two
 * differ. Used by tests/unit/policy/test_yaml_doc.c and by the
 * fuzz_yaml_doc target; not linked into the agent.
 */
#include "yaml_doc_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool mark_same(const yaml_mark_t *a, const yaml_mark_t *b)
{
	return a->index == b->index && a->line == b->line && a->column == b->column;
}

/* what y_node_t keeps of a mark */
static bool ymark_same(const yaml_mark_t *a, const struct y_mark *b)
{
	return a->index == b->index && a->line == b->line;
}

static bool node_same(const yaml_node_t *a, const y_node_t *b, char *why, size_t len, int i)
{
	long k, n;

	if (a->type != b->type || !ymark_same(&a->start_mark, &b->start_mark) ||
	    !ymark_same(&a->end_mark, &b->end_mark)) {
		snprintf(why, len, "node %d: type or marks", i);
		return false;
	}
	switch (a->type) {
	case YAML_SCALAR_NODE:
		if (a->data.scalar.length != b->data.scalar.length ||
		    a->data.scalar.style != b->data.scalar.style ||
		    memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length + 1)) {
			snprintf(why, len, "node %d: scalar", i);
			return false;
		}
		return true;
	case YAML_SEQUENCE_NODE:
		n = a->data.sequence.items.top - a->data.sequence.items.start;
		if (n != b->data.sequence.items.top - b->data.sequence.items.start) {
			snprintf(why, len, "node %d: sequence", i);
			return false;
		}
		for (k = 0; k < n; k++)
			if (a->data.sequence.items.start[k] != b->data.sequence.items.start[k]) {
				snprintf(why, len, "node %d: item %ld", i, k);
				return false;
			}
		return true;
	case YAML_MAPPING_NODE:
		n = a->data.mapping.pairs.top - a->data.mapping.pairs.start;
		if (n != b->data.mapping.pairs.top - b->data.mapping.pairs.start) {
			snprintf(why, len, "node %d: mapping", i);
			return false;
		}
		for (k = 0; k < n; k++)
			if (a->data.mapping.pairs.start[k].key != b->data.mapping.pairs.start[k].key ||
			    a->data.mapping.pairs.start[k].value != b->data.mapping.pairs.start[k].value) {
				snprintf(why, len, "node %d: pair %ld", i, k);
				return false;
			}
		return true;
	default:
		snprintf(why, len, "node %d: no type", i);
		return false;
	}
}

static bool error_same(const yaml_parser_t *a, const yaml_parser_t *b)
{
	return a->error == b->error && !a->problem == !b->problem &&
	       (!a->problem || !strcmp(a->problem, b->problem)) && !a->context == !b->context &&
	       (!a->context || !strcmp(a->context, b->context)) &&
	       mark_same(&a->problem_mark, &b->problem_mark) &&
	       mark_same(&a->context_mark, &b->context_mark);
}

/*
 * The fast reader (yaml_fast.c), when it takes the text: libyaml must load
 * every document without an error, and the same nodes.
 */
static bool fast_same(const char *text, size_t len, char *why, size_t whylen, int *taken)
{
	struct y_doc *fd = NULL;
	size_t nfd = 0, k;
	yaml_parser_t pa;
	bool same = true;
	int rc = y_fast_load(text, len, &fd, &nfd);

	*taken = rc == 1;
	if (rc != 1)
		return true;
	yaml_parser_initialize(&pa);
	yaml_parser_set_input_string(&pa, (const unsigned char *)text, len);
	for (k = 0; same; k++) {
		yaml_document_t a;
		int n;

		if (!yaml_parser_load(&pa, &a)) {
			snprintf(why, whylen, "fast reader took a text libyaml refuses (document %zu: %s)",
				 k, pa.problem ? pa.problem : "?");
			same = false;
			break;
		}
		n = (int)(a.nodes.top - a.nodes.start);
		if (!n) {
			yaml_document_delete(&a);
			if (k != nfd) {
				snprintf(why, whylen, "fast reader: %zu documents, libyaml %zu", nfd, k);
				same = false;
			}
			break;
		}
		if (k >= nfd || n != fd[k].nnodes) {
			snprintf(why, whylen, "fast reader, document %zu: %d nodes / %d", k, n,
				 k < nfd ? fd[k].nnodes : -1);
			same = false;
		}
		for (int i = 1; same && i <= n; i++)
			same = node_same(yaml_document_get_node(&a, i), y_doc_node(&fd[k], i), why,
					 whylen, i);
		if (!same) {
			size_t l = strlen(why);

			snprintf(why + l, whylen - l, " (fast reader, document %zu)", k);
		}
		yaml_document_delete(&a);
	}
	yaml_parser_delete(&pa);
	for (k = 0; k < nfd; k++)
		y_doc_free(&fd[k]);
	free(fd);
	return same;
}

bool yaml_doc_diff_fast(const char *text, size_t len, char *why, size_t whylen, int *taken)
{
	return fast_same(text, len, why, whylen, taken);
}

bool yaml_doc_diff(const char *text, size_t len, char *why, size_t whylen, int *ndocs)
{
	int taken;

	if (!fast_same(text, len, why, whylen, &taken))
		return false;

	yaml_parser_t pa, pb;
	bool same = true;
	int docs = 0;

	yaml_parser_initialize(&pa);
	yaml_parser_initialize(&pb);
	yaml_parser_set_input_string(&pa, (const unsigned char *)text, len);
	yaml_parser_set_input_string(&pb, (const unsigned char *)text, len);
	while (same) {
		yaml_document_t a;
		struct y_doc b;
		int oka = yaml_parser_load(&pa, &a), okb = y_doc_load(&pb, &b);
		int n = 0, i;

		if (oka != okb) {
			snprintf(why, whylen, "document %d: libyaml %s, y_doc_load %s", docs,
				 oka ? "loads it" : "fails", okb ? "loads it" : "fails");
			same = false;
		} else if (!oka) {
			if (!error_same(&pa, &pb)) {
				snprintf(why, whylen, "document %d: errors differ: \"%s\" / \"%s\"", docs,
					 pa.problem ? pa.problem : "", pb.problem ? pb.problem : "");
				same = false;
			}
		} else {
			n = (int)(a.nodes.top - a.nodes.start);
			if (n != b.nnodes) {
				snprintf(why, whylen, "document %d: %d nodes / %d", docs, n, b.nnodes);
				same = false;
			}
			for (i = 1; same && i <= n; i++)
				same = node_same(yaml_document_get_node(&a, i), y_doc_node(&b, i), why,
						 whylen, i);
			if (!same) {
				size_t l = strlen(why);

				snprintf(why + l, whylen - l, " (document %d)", docs);
			}
		}
		if (oka)
			yaml_document_delete(&a);
		if (okb)
			y_doc_free(&b);
		if (!oka || !okb || !n)
			break;
		docs++;
	}
	yaml_parser_delete(&pa);
	yaml_parser_delete(&pb);
	if (ndocs)
		*ndocs = docs;
	return same;
}
