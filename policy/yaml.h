/* SPDX-License-Identifier: Apache-2.0 */
/*
 * yaml.h - the loader's view of a libyaml document: typed access to nodes
 * with their line numbers, and the field path used in error messages.
 * Internal to the policy library.
 */
#ifndef SLUICE_POLICY_YAML_H
#define SLUICE_POLICY_YAML_H

#include "internal.h"

#include <yaml.h>

#include "yaml_doc.h"

struct yctx {
	const char *file;
	struct y_doc *doc;
	struct sluice_diags *errors;
	struct sluice_diags *warnings;
	int nerrors;
	char path[1024]; /* ".spec.ingress[0]": printed without the first '.' */
	size_t plen;
	/* a NetworkPolicy's selectors: label keys are Kubernetes', where a ':'
	 * is refused, not Cilium's "source:name" */
	bool k8s_label_keys;
};

/* Appends ".name" or "[i]" to the path; returns the length to pop back to. */
size_t y_push_field(struct yctx *c, const char *name);
size_t y_push_index(struct yctx *c, size_t i);
void y_pop(struct yctx *c, size_t len);

/* "file:line: path: reason" into errors (or warnings) */
void y_error(struct yctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void y_warn(struct yctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int y_line(const y_node_t *n);
bool y_is_null(const y_node_t *n);
y_node_t *y_node(struct yctx *c, int index);

/* Scalar text, or NULL after "expected a string". A null scalar is "". */
const char *y_string(struct yctx *c, y_node_t *n);
/* Checks n is a mapping (error otherwise). */
bool y_mapping(struct yctx *c, y_node_t *n);
/* Number of items of a sequence; null counts as empty. -1 after an error. */
long y_sequence(struct yctx *c, y_node_t *n);
y_node_t *y_item(struct yctx *c, y_node_t *seq, long i);
/* true / false; -1 after "expected a boolean" */
int y_bool(struct yctx *c, y_node_t *n);

/*
 * Checks the keys of a mapping: each must be a string, appear once and be
 * in known (NULL-terminated); keys in unsupported (Cilium fields sluice does
 * not implement) get their own message. Returns false when any was wrong.
 */
bool y_check_fields(struct yctx *c, y_node_t *map, const char *const *known,
		    const char *const *unsupported);
/* Value of field name, or NULL when absent; *key_line gets the key's line. */
/* y_check_fields(), and vals[i] the value of known[i]'s first pair (NULL:
 * none), lines[i] its key's line (when lines is not NULL): one pass instead
 * of a y_field() per name (a 25,000-item policy asks 300,000 of them) */
bool y_check_fields_get(struct yctx *c, y_node_t *map, const char *const *known,
			const char *const *unsupported, y_node_t **vals, int *lines);
y_node_t *y_field(struct yctx *c, y_node_t *map, const char *name, int *key_line);

/* Allocation that counts a failure as a load error ("out of memory"). */
char *y_strdup(struct yctx *c, const char *s);
void *y_calloc(struct yctx *c, size_t n, size_t size);

#endif /* SLUICE_POLICY_YAML_H */
