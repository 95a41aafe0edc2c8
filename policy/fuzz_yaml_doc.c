/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_yaml_doc.c - libFuzzer target: any text loads into the same nodes
 * (or fails with the same error) through y_doc_load() as through libyaml's
 * own loader (built with -DSLUICE_FUZZ=ON, clang).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "yaml_doc_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];

	if (!yaml_doc_diff((const char *)data, size, why, sizeof(why), NULL)) {
		fprintf(stderr, "y_doc_load differs from libyaml: %s\n", why);
		abort();
	}
	return 0;
}
