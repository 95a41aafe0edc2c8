/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c - `sluice policy`: apply, delete, list, get. The CLI sends the
 * files' text; the agent parses, validates and applies them
 * all or none, and its errors name file:line: field: reason.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "sluice/policy_api.h"
#include "cli.h"
#include "client.h"
#include "format.h"

#define POLICY_MAX_FILE (32u << 20)

/* file texts travel as attachments, not escaped into the request line: a
 * regular file as its open descriptor (sent with sendfile, see client.h),
 * standard input or a pipe as the bytes read */
static struct client_attachment *atts;
static size_t natts;

static int add_file(json_t *files, const char *path)
{
	struct client_attachment at = { .fd = -1 };
	bool in = !strcmp(path, "-");
	struct stat st;
	char *text = NULL;
	int rc = 0;

	if (!in) {
		at.fd = open(path, O_RDONLY | O_CLOEXEC);
		if (at.fd < 0) /* out of descriptors (a large directory): read it */
			rc = errno == EMFILE || errno == ENFILE ? 0 : -errno;
		else if (fstat(at.fd, &st))
			rc = -errno;
		else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > POLICY_MAX_FILE)
			rc = -EFBIG;
		else if (S_ISREG(st.st_mode))
			at.len = (size_t)st.st_size;
		/* not a regular file, or one that says it is empty (procfs and
		 * the like say so of files with content): read it */
		if (at.fd >= 0 && (rc || !S_ISREG(st.st_mode) || !at.len)) {
			close(at.fd);
			at.fd = -1;
		}
	}
	/* the NUL check of a sent file is the agent's (it names the file) */
	if (!rc && at.fd < 0) {
		rc = sl_read_file(path, POLICY_MAX_FILE, &text, &at.len);
		if (!rc && strlen(text) != at.len) {
			fprintf(stderr, "sluice: %s: contains a NUL byte, not a YAML file\n", path);
			free(text);
			return -EINVAL;
		}
		at.data = text;
	}
	if (rc) {
		fprintf(stderr, "sluice: cannot read %s: %s\n", in ? "standard input" : path, strerror(-rc));
		return rc;
	}
	atts = realloc(atts, (natts + 1) * sizeof(*atts));
	if (!atts)
		abort();
	atts[natts] = at;
	json_array_append_new(files, json_pack("{s:s,s:I}", "name", in ? "<stdin>" : path,
					       "content_attachment", (json_int_t)natts));
	natts++;
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

/* kubectl's "-f FILE", "--filename FILE", "-f=FILE" and "--filename=FILE"
 * at argv[*i] (moved past a separate value); NULL when it is none of them */
static const char *filename_arg(int argc, char **argv, int *i)
{
	if ((!strcmp(argv[*i], "-f") || !strcmp(argv[*i], "--filename")) && *i + 1 < argc)
		return argv[++*i];
	if (!strncmp(argv[*i], "-f=", 3) || !strncmp(argv[*i], "--filename=", 11))
		return strchr(argv[*i], '=') + 1;
	return NULL;
}

static int policy_apply(int argc, char **argv)
{
	json_t *files = json_array(), *res;
	bool dry = false;
	int i, nfiles = 0;

	for (i = 1; i < argc; i++) {
		const char *path = filename_arg(argc, argv, &i);

		if (path) {
			if (add_path(files, path))
				return 1;
			nfiles++;
		} else if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "--dry-run=client") ||
			   !strcmp(argv[i], "--dry-run=server")) {
			/* kubectl's forms: both check without applying here (the
			 * checks are the agent's, so "client" is "server" too) */
			dry = true;
		} else if (!strcmp(argv[i], "--dry-run=none")) {
			dry = false;
		} else if (!strncmp(argv[i], "--dry-run=", 10)) {
			fprintf(stderr, "sluice: invalid --dry-run value \"%s\" (want none, client or server)\n",
				argv[i] + 10);
			return usage_error("policy", "apply", "-f FILE|DIR|- [--dry-run[=client|server]]");
		} else {
			fprintf(stderr, "sluice: unexpected argument \"%s\"\n", argv[i]);
			return usage_error("policy", "apply", "-f FILE|DIR|- [--dry-run[=client|server]]");
		}
	}
	if (!nfiles)
		return usage_error("policy", "apply", "-f FILE|DIR|- [--dry-run[=client|server]]");
	if (!json_array_size(files)) {
		fprintf(stderr, "sluice: no policy files found\n");
		return 1;
	}
	{
		json_t *req = json_pack("{s:s,s:o,s:b}", "cmd", "policy.apply", "files", files, "dry_run", dry);

		res = client_call_attached(req, atts, natts);
		json_decref(req);
		for (size_t k = 0; k < natts; k++) {
			free((char *)atts[k].data);
			if (atts[k].fd >= 0)
				close(atts[k].fd);
		}
		free(atts);
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

/* Stored documents of a policy reference ("NS/NAME" or "NAME"); NULL printed. */
static json_t *policy_docs(const char *ref)
{
	json_t *res = cli_request(json_pack("{s:s,s:s}", "cmd", "policy.get", "ref", ref)), *docs;

	if (!res)
		return NULL;
	docs = json_incref(json_object_get(res, "documents"));
	json_decref(res);
	return docs;
}

/*
 * A stored document as kubectl shows an object: parsed, with
 * apiVersion, kind and metadata first and metadata.namespace filled in.
 */
static json_t *doc_object(json_t *doc, const char *ns)
{
	const char *yaml = json_string_value(json_object_get(doc, "yaml")) ?: "";
	char *err = NULL;
	json_t *parsed = cli_yaml_load(yaml, strlen(yaml), &err), *out, *meta, *v;
	const char *k;

	if (!json_is_object(parsed)) {
		free(err);
		json_decref(parsed);
		return json_pack("{s:s}", "text", yaml);
	}
	out = json_object();
	if ((v = json_object_get(parsed, "apiVersion")))
		json_object_set(out, "apiVersion", v);
	if ((v = json_object_get(parsed, "kind")))
		json_object_set(out, "kind", v);
	meta = json_object_get(parsed, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(parsed, "metadata", meta);
	}
	if (ns && !json_object_get(meta, "namespace"))
		json_object_set_new(meta, "namespace", json_string(ns));
	json_object_set(out, "metadata", meta);
	json_object_foreach(parsed, k, v)
		if (!json_object_get(out, k))
			json_object_set(out, k, v);
	json_decref(parsed);
	return out;
}

static void policy_table_head(void)
{
	printf("%-32s %-40s %-6s %-48s %s\n", "KIND", "NAME", "RULES", "FILE", "STATUS");
}

static void policy_table_row(json_t *p)
{
	char name[600], nb[300], fb[600], sb[600];
	const char *ns = json_string_value(json_object_get(p, "namespace"));
	const char *status = json_string_value(json_object_get(p, "status"));

	snprintf(name, sizeof(name), "%s%s%s", ns ? ns : "", ns ? "/" : "",
		 cli_cell(json_string_value(json_object_get(p, "name")), nb, sizeof(nb)));
	/* STATUS: "ok", or why the object's current version is not in force */
	printf("%-32s %-40s %-6lld %-48s %s\n", json_string_value(json_object_get(p, "kind")), name,
	       (long long)json_integer_value(json_object_get(p, "rules")),
	       cli_cell(json_string_value(json_object_get(p, "file")), fb, sizeof(fb)),
	       status ? cli_cell(status, sb, sizeof(sb)) : "ok");
}

static json_t *policy_entries(void)
{
	json_t *res = cli_request(json_pack("{s:s}", "cmd", "policy.list")), *l;

	if (!res)
		return NULL;
	l = json_incref(json_object_get(res, "policies"));
	json_decref(res);
	return l;
}

static int policy_get(int argc, char **argv)
{
	enum cli_fmt fmt;
	json_t *docs, *d, *entries, *p;
	const char *slash;
	char *ns = NULL;
	size_t i;
	int rc = cli_take_output(&argc, argv, CLI_FMT_GET, &fmt);

	if (rc)
		return rc;
	if (argc != 2)
		return usage_error("policy", "get", "NAMESPACE/NAME|NAME [-o json|yaml|wide|name]");
	if (fmt == CLI_FMT_TABLE || fmt == CLI_FMT_WIDE) {
		bool any = false;

		entries = policy_entries();
		if (!entries)
			return 1;
		json_array_foreach(entries, i, p) {
			const char *pns = json_string_value(json_object_get(p, "namespace"));
			char *ref = sl_strdupf("%s%s%s", pns ? pns : "", pns ? "/" : "",
					       json_string_value(json_object_get(p, "name")));

			if (!strcmp(ref, argv[1])) {
				if (!any)
					policy_table_head();
				policy_table_row(p);
				any = true;
			}
			free(ref);
		}
		json_decref(entries);
		if (!any) {
			fprintf(stderr, "sluice: policy %s not found\n", argv[1]);
			return 1;
		}
		return 0;
	}
	docs = policy_docs(argv[1]);
	if (!docs)
		return 1;
	slash = strchr(argv[1], '/');
	if (slash)
		ns = strndup(argv[1], (size_t)(slash - argv[1]));
	if (json_array_size(docs) == 1) {
		json_t *o = doc_object(json_array_get(docs, 0), ns);

		cli_print(o, fmt);
		json_decref(o);
	} else { /* the same name in two kinds: both, as a list */
		json_t *items = json_array();

		json_array_foreach(docs, i, d)
			json_array_append_new(items, doc_object(d, ns));
		d = cli_list(items);
		cli_print(d, fmt);
		json_decref(d);
	}
	free(ns);
	json_decref(docs);
	return 0;
}

#define DELETE_USAGE \
	"[--kind KIND] [-n NAMESPACE] NAMESPACE/NAME|NAME | -f FILE... [--ignore-not-found]"

/* one delete request; 0 done (or missing and ignore_missing), else 1 */
static int delete_one(const char *ref, const char *kind, bool ignore_missing)
{
	json_t *req = json_pack("{s:s,s:s}", "cmd", "policy.delete", "ref", ref), *res;
	int rc = 1;

	if (kind)
		json_object_set_new(req, "kind", json_string(kind));
	res = client_call(req);
	json_decref(req);
	if (res && json_is_true(json_object_get(res, "ok"))) {
		printf("policy %s deleted\n", ref);
		rc = 0;
	} else if (res) {
		const char *e = json_string_value(json_object_get(res, "error")) ?: "request failed";
		size_t n = strlen(e);

		/* the agent's ENOENT answer is "policy REF not found" */
		if (ignore_missing && n >= 10 && !strcmp(e + n - 10, " not found"))
			rc = 0;
		else
			fprintf(stderr, "sluice: %s\n", e);
	}
	json_decref(res);
	return rc;
}

/*
 * kubectl's "delete -f FILE": every object the file names, by its kind and
 * name, one request each (as kubectl, not all or none); a file the loader
 * refuses deletes nothing of it. 0 when every delete was done.
 */
static int delete_file(const char *path, bool ignore_missing)
{
	struct sluice_policy_set set = { 0 };
	struct sluice_diags errors = { 0 }, warnings = { 0 };
	char *text = NULL;
	size_t len = 0;
	int rc = 0;

	if (sl_read_file(path, 32u << 20, &text, &len)) {
		fprintf(stderr, "sluice: cannot read %s\n", path);
		return 1;
	}
	if (sluice_policy_load(path, text, len, &set, &errors, &warnings)) {
		for (size_t k = 0; k < errors.n; k++)
			fprintf(stderr, "error: %s\n", errors.v[k].msg);
		fprintf(stderr, "sluice: %s: cannot read its policies; nothing of it deleted\n", path);
		rc = 1;
	}
	for (size_t i = 0; !rc && i < set.n; i++) {
		const struct sluice_policy *p = &set.v[i];
		char *ref = p->namespace ? sl_strdupf("%s/%s", p->namespace, p->name) : sl_strdupf("%s", p->name);

		rc |= delete_one(ref, sluice_policy_kind_name(p->kind), ignore_missing);
		free(ref);
	}
	sluice_policy_set_free(&set);
	sluice_diags_free(&errors);
	sluice_diags_free(&warnings);
	free(text);
	return rc;
}

static int policy_delete(int argc, char **argv)
{
	const char *kind = NULL, *ref = NULL, *ns = NULL;
	const char **files = calloc((size_t)argc, sizeof(*files));
	bool ignore_missing = false;
	size_t nfiles = 0;
	char *nsref = NULL;
	int rc = cli_take_namespace(&argc, argv, &ns);

	for (int i = 1; i < argc && files && !rc; i++) {
		const char *path = filename_arg(argc, argv, &i);

		if (path)
			files[nfiles++] = path;
		else if (!strcmp(argv[i], "--kind") && i + 1 < argc)
			kind = argv[++i];
		else if (!strncmp(argv[i], "--kind=", 7))
			kind = argv[i] + 7;
		else if (!strcmp(argv[i], "--ignore-not-found") || !strcmp(argv[i], "--ignore-not-found=true"))
			ignore_missing = true;
		else if (!ref && argv[i][0] != '-')
			ref = argv[i];
		else
			rc = 2;
	}
	/* a name or files, not both; -n and --kind only with a name */
	if (!files || rc || !ref == !nfiles || (nfiles && (ns || kind))) {
		free(files);
		return usage_error("policy", "delete", DELETE_USAGE);
	}
	for (size_t i = 0; i < nfiles; i++)
		rc |= delete_file(files[i], ignore_missing);
	free(files);
	if (nfiles)
		return rc ? 1 : 0;
	/* kubectl's "delete cnp NAME -n NS" */
	if (ns) {
		if (strchr(ref, '/')) {
			fprintf(stderr, "sluice: give the namespace once: -n %s or %s, not both\n", ns, ref);
			return 2;
		}
		nsref = sl_strdupf("%s/%s", ns, ref);
		ref = nsref;
	}
	rc = delete_one(ref, kind, ignore_missing);
	free(nsref);
	return rc;
}

static int policy_list(int argc, char **argv)
{
	enum cli_fmt fmt;
	json_t *entries, *p;
	size_t i;
	const char *ns;
	int rc = cli_take_output(&argc, argv, CLI_FMT_GET, &fmt);

	if (!rc)
		rc = cli_take_namespace(&argc, argv, &ns);
	if (rc)
		return rc;
	if (argc != 1)
		return usage_error("policy", "list", "[-n NAMESPACE|-A] [-o json|yaml|wide|name]");
	entries = policy_entries();
	if (!entries)
		return 1;
	if (ns) { /* -n: that namespace's policies (clusterwide ones have none) */
		json_t *in = json_array();

		json_array_foreach(entries, i, p)
			if (cli_in_namespace(p, ns))
				json_array_append(in, p);
		json_decref(entries);
		entries = in;
	}
	if (fmt == CLI_FMT_TABLE || fmt == CLI_FMT_WIDE) {
		policy_table_head();
		json_array_foreach(entries, i, p)
			policy_table_row(p);
	} else {
		/* the stored objects, one per entry (a reference names all its kinds once) */
		json_t *items = json_array(), *seen = json_object(), *list;

		json_array_foreach(entries, i, p) {
			const char *pns = json_string_value(json_object_get(p, "namespace"));
			char *ref = sl_strdupf("%s%s%s", pns ? pns : "", pns ? "/" : "",
					       json_string_value(json_object_get(p, "name")));
			json_t *docs, *d;
			size_t k;

			if (!json_object_get(seen, ref)) {
				json_object_set_new(seen, ref, json_true());
				docs = policy_docs(ref);
				json_array_foreach(docs, k, d)
					json_array_append_new(items, doc_object(d, pns));
				json_decref(docs);
			}
			free(ref);
		}
		list = cli_list(items);
		cli_print(list, fmt);
		json_decref(list);
		json_decref(seen);
	}
	json_decref(entries);
	return 0;
}

int cli_policy_lint(int argc, char **argv);

static const struct subcmd policy_cmds[] = {
	{ "apply", policy_apply, "apply -f FILE|DIR|- [--dry-run[=client|server]]",
	  "Creates or replaces the policies in the files (a directory: its *.yaml,\n"
	  "*.yml and *.json files), all or none. --dry-run checks without applying.\n"
	  "A file with no policy in it is an error.\n" },
	{ "delete", policy_delete, "delete " DELETE_USAGE,
	  "Deletes a policy (NAME alone for a clusterwide one or a CiliumCIDRGroup,\n"
	  "-n NAMESPACE NAME as kubectl), of every kind of that name unless --kind\n"
	  "says which (cnp, ccnp, netpol, ccg, or the kind's name); or, with -f,\n"
	  "every object the files name, one by one. --ignore-not-found: a missing\n"
	  "policy is no error.\n" },
	{ "list", policy_list, "list [-n NAMESPACE|-A] [-o json|yaml|wide|name]",
	  "Policies in force: kind, name, rules, file. -o json and -o yaml print a\n"
	  "kubectl-style List of the stored objects.\n" },
	{ "get", policy_get, "get NAMESPACE/NAME|NAME [-o json|yaml|wide|name]",
	  "A policy in force: a table row, or the stored object (-o yaml, -o json)\n"
	  "as kubectl get prints it.\n" },
	{ "lint", cli_policy_lint, "lint FILE...",
	  "Checks files without an agent, with the agent's loader: errors, and\n"
	  "regexes that look like globs. Exit 1 when a file has errors.\n" },
};

int cli_policy(int argc, char **argv)
{
	return cli_dispatch("policy",
			    "CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, CiliumCIDRGroup and\n"
			    "Kubernetes NetworkPolicy documents, applied live.",
			    policy_cmds, sizeof(policy_cmds) / sizeof(policy_cmds[0]), argc, argv);
}
