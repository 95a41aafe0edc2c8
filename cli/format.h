/* SPDX-License-Identifier: Apache-2.0 */
/*
 * format.h - output formats shared by every get and list, the way kubectl
 * has them: a table by default, `-o wide` (more columns, where a command
 * has them), `-o json`, `-o yaml` and `-o name` (RESOURCE/NAME lines). A
 * list prints as kubectl prints one:
 * {"apiVersion": "v1", "kind": "List", "items": [...], "metadata": {...}};
 * a get prints the object alone. An unknown format is an error (exit 2).
 */
#ifndef SLUICE_CLI_FORMAT_H
#define SLUICE_CLI_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum cli_fmt {
	CLI_FMT_TABLE = 1 << 0,
	CLI_FMT_WIDE = 1 << 1,
	CLI_FMT_JSON = 1 << 2,
	CLI_FMT_YAML = 1 << 3,
	CLI_FMT_NAME = 1 << 4,
};
#define CLI_FMT_DATA (CLI_FMT_TABLE | CLI_FMT_JSON | CLI_FMT_YAML)
/* what every get and list takes, as kubectl get does */
#define CLI_FMT_GET (CLI_FMT_DATA | CLI_FMT_WIDE | CLI_FMT_NAME)
/* the formats cli_print prints (the others are the commands' tables) */
#define CLI_FMT_OBJECT (CLI_FMT_JSON | CLI_FMT_YAML | CLI_FMT_NAME)

/*
 * Finds -o X, -oX, --output X or --output=X in argv[1..] (before a "--"),
 * removes it and sets *fmt (CLI_FMT_TABLE when absent). Returns 0, or 2
 * after printing why (an unknown or unsupported value, a missing one).
 */
int cli_take_output(int *argc, char **argv, unsigned allowed, enum cli_fmt *fmt);

/* Prints an object (or a list built by cli_list) as JSON or YAML. */
void cli_print(json_t *obj, enum cli_fmt fmt);
/*
 * The same, and -o name as kubectl prints it: RESOURCE/NAME, one line per
 * object (per item of a list). An object with its own kind and apiVersion
 * (a policy, a secret) is named by them (ciliumnetworkpolicy.cilium.io,
 * networkpolicy.networking.k8s.io, secret); others by resource ("pod").
 * NAME: metadata.name, else "name", else "identity".
 */
void cli_print_as(json_t *obj, enum cli_fmt fmt, const char *resource);
/* kubectl's list envelope around items (stolen). */
json_t *cli_list(json_t *items);
/* JSON to YAML (block style), printed to f. */
void cli_yaml_dump(FILE *f, json_t *v);
/*
 * The first YAML document of text as JSON (plain scalars typed as YAML 1.2's
 * core schema types them: null, booleans, integers, floats; everything else
 * a string). NULL with a message in *err when it does not parse.
 */
json_t *cli_yaml_load(const char *text, size_t len, char **err);
/* A table cell: control characters escaped (common/names.h). */
const char *cli_cell(const char *s, char *buf, size_t len);

#endif
