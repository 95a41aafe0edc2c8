/* SPDX-License-Identifier: Apache-2.0 */
/* cli.h - commands of the sluice CLI, one file per command family. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

json_t *cli_request(json_t *req);
int cli_split_ref(const char *ref, char **buf, const char **ns, const char **name);
int cli_parse_labels(const char *text, json_t *set, json_t *remove);
/* -h or --help among argv[1..] (before a "--") */
bool cli_want_help(int argc, char **argv);

/*
 * Subcommands of a command family: each has its usage line and help, so
 * `sluice pod exec --help` is exec's own help (exit 0).
 */
struct subcmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage; /* after "sluice FAMILY " */
	const char *help;
};

/* Runs argv[1]'s subcommand (argv[0] is the family), or prints help. */
int cli_dispatch(const char *family, const char *about, const struct subcmd *cmds, size_t n, int argc,
		 char **argv);
/*
 * Finds -n NS, --namespace NS, --namespace=NS, -A or --all-namespaces among
 * argv[1..] (before a "--"), removes them and sets *ns (NULL: every
 * namespace, also when absent). Returns 0, or 2 after printing why.
 */
int cli_take_namespace(int *argc, char **argv, const char **ns);
/* Whether a list item (with a "namespace" field) is in ns (NULL: any). */
bool cli_in_namespace(json_t *item, const char *ns);
/* "sluice: usage: sluice FAMILY SUB USAGE" on stderr; returns 2. */
int usage_error(const char *family, const char *sub, const char *usage);

/* A kind whose get/list print a table (see cli_resource_get/_list):
 * family names the API commands ("pod" -> pod.get, pod.list) and the usage,
 * items the array in the list answer. */
struct cli_kind {
	const char *family, *items;
	void (*head)(bool wide);
	void (*row)(json_t *item, bool wide);
};
int cli_resource_get(int argc, char **argv, const struct cli_kind *k);
int cli_resource_list(int argc, char **argv, const struct cli_kind *k);

int cli_policy(int argc, char **argv);  /* policy.c */
int cli_observe(int argc, char **argv); /* observe.c */
int cli_service(int argc, char **argv); /* service.c */
int cli_secret(int argc, char **argv);  /* secret.c */

#endif
