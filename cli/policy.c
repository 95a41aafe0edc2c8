/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c - `sluice policy`: apply, delete, list, get. The CLI reads the
 * files and sends their text; the agent parses, validates and applies them
 * all or none, and its errors name file:line: field: reason.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/util.h"
#include "cli.h"
#include "client.h"

#define POLICY_MAX_FILE (32u << 20)

/* file texts travel as attachments, not escaped into the request line */
static char **texts;
static size_t *text_lens, ntexts;

static int add_file(json_t *files, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int rc = sl_read_file(path, POLICY_MAX_FILE, &text, &len);

	if (rc) {
		fprintf(stderr, "sluice: cannot read %s: %s\n", !strcmp(path, "-") ? "standard input" : path,
			strerror(-rc));
		return rc;
	}
	if (strlen(text) != len) {
		fprintf(stderr, "sluice: %s: contains a NUL byte, not a YAML file\n", path);
		free(text);
		return -EINVAL;
	}
	texts = realloc(texts, (ntexts + 1) * sizeof(*texts));
	text_lens = realloc(text_lens, (ntexts + 1) * sizeof(*text_lens));
	if (!texts || !text_lens)
		abort();
	texts[ntexts] = text;
	text_lens[ntexts] = len;
	json_array_append_new(files, json_pack("{s:s,s:I}", "name", !strcmp(path, "-") ? "<stdin>" : path,
					       "content_attachment", (json_int_t)ntexts));
	ntexts++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_path(json_t *files, const char *path)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	DIR *d;
	int rc = 0;

	if (!strcmp(path, "-") || stat(path, &st) || !S_ISDIR(st.st_mode))
		return add_file(files, path);
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "sluice: cannot open %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!sl_is_policy_file(de->d_name))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = sl_strdupf("%s/%s", path, de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		if (!rc)
			rc = add_file(files, names[i]);
		free(names[i]);
	}
	free(names);
	return rc;
}

static void print_strings(FILE *f, json_t *arr, const char *prefix)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		fprintf(f, "%s%s\n", prefix, json_string_value(v));
}

static int policy_apply(int argc, char **argv)
{
	json_t *files = json_array(), *res;
	bool dry = false;
	int i, nfiles = 0;

	for (i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--filename")) && i + 1 < argc) {
			if (add_path(files, argv[++i]))
				return 1;
			nfiles++;
		} else if (!strcmp(argv[i], "--dry-run")) {
			dry = true;
		} else {
			fprintf(stderr, "sluice: unexpected argument \"%s\" (usage: sluice policy apply -f FILE|DIR|- [--dry-run])\n",
				argv[i]);
			return 2;
		}
	}
	if (!nfiles) {
		fprintf(stderr, "sluice: usage: sluice policy apply -f FILE|DIR|- [--dry-run]\n");
		return 2;
	}
	if (!json_array_size(files)) {
		fprintf(stderr, "sluice: no policy files found\n");
		return 1;
	}
	{
		json_t *req = json_pack("{s:s,s:o,s:b}", "cmd", "policy.apply", "files", files, "dry_run", dry);

		res = client_call_attached(req, texts, text_lens, ntexts);
		json_decref(req);
		for (size_t k = 0; k < ntexts; k++)
			free(texts[k]);
		free(texts);
		free(text_lens);
	}
	if (!res)
		return 1;
	print_strings(stderr, json_object_get(res, "warnings"), "warning: ");
	if (!json_is_true(json_object_get(res, "ok"))) {
		json_t *errs = json_object_get(res, "errors");

		if (json_array_size(errs))
			print_strings(stderr, errs, "error: ");
		else
			fprintf(stderr, "error: %s\n", json_string_value(json_object_get(res, "error")));
		fprintf(stderr, "sluice: policy rejected; the policy in force is unchanged\n");
		json_decref(res);
		return 1;
	}
	print_strings(stdout, json_object_get(res, "applied"), "");
	json_decref(res);
	return 0;
}

static int policy_ref_cmd(const char *cmd, int argc, char **argv)
{
	json_t *res, *d;
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "sluice: usage: sluice policy %s NAMESPACE/NAME (or NAME for clusterwide)\n",
			cmd + 7);
		return 2;
	}
	res = cli_request(json_pack("{s:s,s:s}", "cmd", cmd, "ref", argv[1]));
	if (!res)
		return 1;
	if (!strcmp(cmd, "policy.delete"))
		printf("policy %s deleted\n", argv[1]);
	json_array_foreach(json_object_get(res, "documents"), i, d) {
		const char *y = json_string_value(json_object_get(d, "yaml"));

		printf("%s%s%s", i ? "---\n" : "", y, y[0] && y[strlen(y) - 1] != '\n' ? "\n" : "");
	}
	json_decref(res);
	return 0;
}

static int policy_list(void)
{
	json_t *res = cli_request(json_pack("{s:s}", "cmd", "policy.list")), *p;
	size_t i;

	if (!res)
		return 1;
	printf("%-32s %-40s %-6s %-48s %s\n", "KIND", "NAME", "RULES", "FILE", "STATUS");
	json_array_foreach(json_object_get(res, "policies"), i, p) {
		char name[256];
		const char *ns = json_string_value(json_object_get(p, "namespace"));
		const char *status = json_string_value(json_object_get(p, "status"));

		snprintf(name, sizeof(name), "%s%s%s", ns ? ns : "", ns ? "/" : "",
			 json_string_value(json_object_get(p, "name")));
		/* STATUS: "ok", or why the object's current version is not in force */
		printf("%-32s %-40s %-6lld %-48s %s\n", json_string_value(json_object_get(p, "kind")), name,
		       (long long)json_integer_value(json_object_get(p, "rules")),
		       json_string_value(json_object_get(p, "file")), status ? status : "ok");
	}
	json_decref(res);
	return 0;
}

int cli_policy_lint(int argc, char **argv);

int cli_policy(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    (argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")))) {
		printf("Usage: sluice policy COMMAND\n\n"
		       "CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and Kubernetes\n"
		       "NetworkPolicy documents, applied live.\n\n"
		       "  apply -f FILE|DIR|- [--dry-run]  create or replace the policies in the\n"
		       "                                   files, all or none\n"
		       "  delete NAMESPACE/NAME            delete a policy (NAME for clusterwide)\n"
		       "  list                             policies in force\n"
		       "  get NAMESPACE/NAME               the YAML of a policy in force\n"
		       "  lint FILE...                     check files without an agent: errors,\n"
		       "                                   and regexes that look like globs\n");
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "apply"))
		return policy_apply(argc - 1, argv + 1);
	if (!strcmp(argv[1], "delete"))
		return policy_ref_cmd("policy.delete", argc - 1, argv + 1);
	if (!strcmp(argv[1], "get"))
		return policy_ref_cmd("policy.get", argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return policy_list();
	if (!strcmp(argv[1], "lint"))
		return cli_policy_lint(argc - 1, argv + 1);
	fprintf(stderr, "sluice: unknown policy command \"%s\" (see sluice policy --help)\n", argv[1]);
	return 2;
}
