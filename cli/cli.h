/* SPDX-License-Identifier: Apache-2.0 */
/* cli.h - commands of the sluice CLI, one file per command family. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <jansson.h>

json_t *cli_request(json_t *req);
int cli_split_ref(const char *ref, char **buf, const char **ns, const char **name);
int cli_parse_labels(const char *text, json_t *set, json_t *remove);

int cli_policy(int argc, char **argv);  /* policy.c */
int cli_observe(int argc, char **argv); /* observe.c */

#endif
