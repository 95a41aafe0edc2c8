/* SPDX-License-Identifier: Apache-2.0 */
/*
 * yaml_doc_diff.h - y_doc_load() against libyaml's loader (yaml_doc_diff.c),
 * for tests and fuzzing.
 */
#ifndef SLUICE_POLICY_YAML_DOC_DIFF_H
#define SLUICE_POLICY_YAML_DOC_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "yaml_doc.h"

/* true when every document of text loads the same both ways (or fails with
 * the same error), and the fast reader (yaml_fast.c), if it takes the text,
 * gives the same documents; else false with why. *ndocs: documents
 * compared. */
bool yaml_doc_diff(const char *text, size_t len, char *why, size_t whylen, int *ndocs);

/* The fast reader's part alone; *taken: it took the text. */
bool yaml_doc_diff_fast(const char *text, size_t len, char *why, size_t whylen, int *taken);

#endif /* SLUICE_POLICY_YAML_DOC_DIFF_H */
