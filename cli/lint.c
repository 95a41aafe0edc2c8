/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lint.c - `sluice policy lint`: checks policy files locally, without an
 * agent, with the same loader the agent uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "sluice/policy_api.h"
#include "cli.h"

int cli_policy_lint(int argc, char **argv)
{
	int i, bad = 0;

	if (argc < 2)
		return usage_error("policy", "lint", "FILE...");
	for (i = 1; i < argc; i++) {
		struct sluice_policy_set set = { 0 };
		struct sluice_diags errors = { 0 }, warnings = { 0 };
		char *text = NULL;
		size_t len = 0, k;

		if (sl_read_file(argv[i], 32u << 20, &text, &len)) {
			fprintf(stderr, "sluice: cannot read %s\n", argv[i]);
			bad = 1;
			continue;
		}
		if (sluice_policy_load(argv[i], text, len, &set, &errors, &warnings) ||
		    sluice_policy_set_check(&set, &errors))
			bad = 1;
		if (!errors.n && !set.n) {
			sluice_diags_add(&errors, "%s: no policy found", argv[i]);
			bad = 1;
		}
		for (k = 0; k < errors.n; k++)
			printf("error: %s\n", errors.v[k].msg);
		for (k = 0; k < warnings.n; k++)
			printf("warning: %s\n", warnings.v[k].msg);
		if (!errors.n && !warnings.n)
			printf("%s: ok (%zu policies)\n", argv[i], set.n);
		sluice_policy_set_free(&set);
		sluice_diags_free(&errors);
		sluice_diags_free(&warnings);
		free(text);
	}
	return bad;
}
