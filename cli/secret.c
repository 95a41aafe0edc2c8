/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secret.c - `sluice secret ...`: the secrets policies name (TLS contexts,
 * headerMatches), kubectl style (standalone mode; on Kubernetes they are
 * ordinary secrets).
 *
 *   sluice secret create tls NS/NAME --cert FILE --key FILE [--ca FILE]
 *   sluice secret create generic NS/NAME --from-file=[KEY=]FILE... --from-literal=KEY=VALUE...
 *   sluice secret list [-n NS] [-o json|yaml|wide|name]
 *   sluice secret get NS/NAME [-o json|yaml|wide|name]
 *   sluice secret delete NS/NAME
 *
 * Files are read here and sent base64-encoded to the agent, which checks
 * them (a tls secret needs a certificate and its key) and keeps them 0600
 * in its state directory. Private keys are never printed: the agent does
 * not return them, and `get -o yaml` marks them as redacted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/util.h"
#include "cli.h"
#include "format.h"

#define SECRET_FILE_MAX (1024u * 1024u)

static char *b64(const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = sl_xcalloc(4 * ((n + 2) / 3) + 1, 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	return out;
}

/* data[key] = base64(file); prints why not. */
static int add_bytes(json_t *data, const char *key, const char *p, size_t len)
{
	char *enc;

	if (json_object_get(data, key)) {
		fprintf(stderr, "sluice: key %s given twice\n", key);
		return 1;
	}
	enc = b64((const unsigned char *)p, len);
	json_object_set_new(data, key, json_string(enc));
	free(enc);
	return 0;
}

static int add_file(json_t *data, const char *key, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int rc = sl_read_file(path, SECRET_FILE_MAX, &text, &len);

	if (rc) {
		fprintf(stderr, "sluice: %s: %s\n", path, strerror(-rc));
		return 1;
	}
	rc = add_bytes(data, key, text, len);
	free(text);
	return rc;
}

/* kubectl's --from-literal=KEY=VALUE */
static int add_literal(json_t *data, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *key;
	int rc;

	if (!eq || eq == kv) {
		fprintf(stderr, "sluice: --from-literal=%s: want KEY=VALUE\n", kv);
		return 2;
	}
	key = sl_strdupf("%.*s", (int)(eq - kv), kv);
	rc = add_bytes(data, key, eq + 1, strlen(eq + 1));
	free(key);
	return rc;
}

/* --opt FILE or --opt=FILE at argv[*i]; NULL when argv[*i] is not --opt. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt)
{
	size_t n = strlen(opt);

	if (!strncmp(argv[*i], opt, n) && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (!strcmp(argv[*i], opt) && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static const char create_usage[] =
	"create tls NAMESPACE/NAME --cert FILE --key FILE [--ca FILE] [--overwrite]\n"
	"       sluice secret create generic NAMESPACE/NAME [--from-file=[KEY=]FILE]... [--from-literal=KEY=VALUE]... [--overwrite]";

static int secret_create(int argc, char **argv)
{
	const char *kind, *ns, *name, *v;
	json_t *data, *res;
	bool overwrite = false, tls;
	char *buf;
	int rc = 0;

	if (argc < 3)
		return usage_error("secret", "create", create_usage);
	kind = argv[1];
	tls = !strcmp(kind, "tls");
	if (!tls && strcmp(kind, "generic"))
		return usage_error("secret", "create", create_usage);
	if (cli_split_ref(argv[2], &buf, &ns, &name))
		return 2;
	data = json_object();
	for (int i = 3; i < argc && !rc; i++) {
		if (!strcmp(argv[i], "--overwrite")) {
			overwrite = true;
		} else if (tls && (v = opt_value(argc, argv, &i, "--cert"))) {
			rc = add_file(data, "tls.crt", v);
		} else if (tls && (v = opt_value(argc, argv, &i, "--key"))) {
			rc = add_file(data, "tls.key", v);
		} else if (tls && (v = opt_value(argc, argv, &i, "--ca"))) {
			rc = add_file(data, "ca.crt", v);
		} else if (!tls && (v = opt_value(argc, argv, &i, "--from-file"))) {
			const char *eq = strchr(v, '='), *base = strrchr(v, '/');
			char *key = eq ? sl_strdupf("%.*s", (int)(eq - v), v)
				       : sl_xstrdup(base ? base + 1 : v);

			rc = add_file(data, key, eq ? eq + 1 : v);
			free(key);
		} else if (!tls && (v = opt_value(argc, argv, &i, "--from-literal"))) {
			rc = add_literal(data, v);
		} else {
			fprintf(stderr, "sluice: secret create %s: unexpected argument %s\n", kind, argv[i]);
			rc = 2;
		}
	}
	if (!rc && tls && (!json_object_get(data, "tls.crt") || !json_object_get(data, "tls.key"))) {
		fprintf(stderr, "sluice: secret create tls: --cert and --key are required\n");
		rc = 2;
	}
	if (!rc && !tls && !json_object_size(data)) {
		fprintf(stderr, "sluice: secret create generic: at least one --from-file or --from-literal\n");
		rc = 2;
	}
	if (rc) {
		json_decref(data);
		free(buf);
		return rc;
	}
	res = cli_request(json_pack("{s:s,s:s,s:s,s:s,s:o,s:b}", "cmd", "secret.create", "namespace", ns,
				    "name", name, "type", tls ? "kubernetes.io/tls" : "Opaque",
				    "data", data, "overwrite", overwrite));
	if (res)
		printf("secret/%s %s\n", name, overwrite ? "configured" : "created");
	json_decref(res);
	free(buf);
	return res ? 0 : 1;
}

static void age(int64_t created, char *out, size_t len)
{
	int64_t s = (int64_t)time(NULL) - created;

	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, len, "%llds", (long long)s);
	else if (s < 2 * 3600)
		snprintf(out, len, "%lldm", (long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(out, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, len, "%lldd", (long long)(s / 86400));
}

static void table(json_t *secrets, bool with_ns)
{
	json_t *s;
	size_t i;
	char a[32], c1[256], c2[256], c3[64];

	if (with_ns)
		printf("%-16s ", "NAMESPACE");
	printf("%-28s %-20s %-5s %s\n", "NAME", "TYPE", "DATA", "AGE");
	json_array_foreach(secrets, i, s) {
		age(json_integer_value(json_object_get(s, "created")), a, sizeof(a));
		if (with_ns)
			printf("%-16s ", cli_cell(json_string_value(json_object_get(s, "namespace")), c1, sizeof(c1)));
		printf("%-28s %-20s %-5zu %s\n",
		       cli_cell(json_string_value(json_object_get(s, "name")), c2, sizeof(c2)),
		       cli_cell(json_string_value(json_object_get(s, "type")), c3, sizeof(c3)),
		       json_object_size(json_object_get(s, "data")), a);
	}
}

/* The agent's record as kubectl prints a Secret; private keys left out. */
static json_t *k8s_object(json_t *s)
{
	json_t *data = json_object(), *v, *meta;
	const char *key;
	char ts[32], *redacted = NULL;
	time_t t = (time_t)json_integer_value(json_object_get(s, "created"));
	struct tm tm;

	json_object_foreach(json_object_get(s, "data"), key, v) {
		if (json_is_true(json_object_get(v, "redacted"))) {
			char *r = sl_strdupf("%s%s%s", redacted ? redacted : "", redacted ? "," : "", key);
			free(redacted);
			redacted = r;
		} else if (json_object_get(v, "value")) {
			json_object_set(data, key, json_object_get(v, "value"));
		}
	}
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	meta = json_pack("{s:O,s:O,s:s}", "name", json_object_get(s, "name"), "namespace",
			 json_object_get(s, "namespace"), "creationTimestamp", ts);
	if (redacted) {
		json_object_set_new(meta, "annotations",
				    json_pack("{s:s}", "sluice.io/redacted-keys", redacted));
		free(redacted);
	}
	return json_pack("{s:s,s:s,s:o,s:O,s:o}", "apiVersion", "v1", "kind", "Secret", "metadata",
			 meta, "type", json_object_get(s, "type"), "data", data);
}

static int secret_list(int argc, char **argv)
{
	enum cli_fmt fmt;
	const char *ns = NULL;
	json_t *res, *items, *s, *req;
	size_t i;
	int rc = cli_take_output(&argc, argv, CLI_FMT_GET, &fmt);

	if (!rc)
		rc = cli_take_namespace(&argc, argv, &ns);
	if (rc)
		return rc;
	if (argc != 1)
		return usage_error("secret", "list", "[-n NAMESPACE|-A] [-o json|yaml|wide|name]");
	req = json_pack("{s:s}", "cmd", "secret.list");
	if (ns)
		json_object_set_new(req, "namespace", json_string(ns));
	res = cli_request(req);
	if (!res)
		return 1;
	if (fmt == CLI_FMT_TABLE || fmt == CLI_FMT_WIDE) { /* kubectl's -o wide: the same columns */
		if (!json_array_size(json_object_get(res, "secrets")))
			fprintf(stderr, "No resources found%s%s.\n", ns ? " in " : "", ns ? ns : "");
		else
			table(json_object_get(res, "secrets"), !ns);
	} else {
		json_t *list;

		items = json_array();
		json_array_foreach(json_object_get(res, "secrets"), i, s)
			json_array_append_new(items, k8s_object(s));
		list = cli_list(items);
		cli_print(list, fmt);
		json_decref(list);
	}
	json_decref(res);
	return 0;
}

static int secret_get(int argc, char **argv)
{
	enum cli_fmt fmt;
	const char *ns, *name;
	json_t *res, *arr;
	char *buf;
	int rc = cli_take_output(&argc, argv, CLI_FMT_GET, &fmt);

	if (rc)
		return rc;
	if (argc != 2)
		return usage_error("secret", "get", "NAMESPACE/NAME [-o json|yaml|wide|name]");
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	res = cli_request(json_pack("{s:s,s:s,s:s}", "cmd", "secret.get", "namespace", ns, "name", name));
	free(buf);
	if (!res)
		return 1;
	if (fmt == CLI_FMT_TABLE || fmt == CLI_FMT_WIDE) { /* kubectl's -o wide: the same columns */
		arr = json_array();
		json_array_append(arr, res);
		table(arr, false);
		json_decref(arr);
	} else {
		json_t *o = k8s_object(res);

		cli_print(o, fmt);
		json_decref(o);
	}
	json_decref(res);
	return 0;
}

static int secret_delete(int argc, char **argv)
{
	const char *ns, *name;
	json_t *res;
	char *buf;

	if (argc != 2)
		return usage_error("secret", "delete", "NAMESPACE/NAME");
	if (cli_split_ref(argv[1], &buf, &ns, &name))
		return 2;
	res = cli_request(json_pack("{s:s,s:s,s:s}", "cmd", "secret.delete", "namespace", ns, "name", name));
	if (res)
		printf("secret \"%s\" deleted\n", name);
	json_decref(res);
	free(buf);
	return res ? 0 : 1;
}

static const struct subcmd secret_cmds[] = {
	{ "create", secret_create, create_usage,
	  "Creates a secret from files. tls: a certificate (chain) and its private\n"
	  "key (tls.crt, tls.key; --ca adds ca.crt), for terminatingTLS. generic:\n"
	  "any keys, e.g. --from-file=ca.crt=bundle.pem for originatingTLS, or one\n"
	  "key for headerMatches' value: --from-literal=value='Bearer 123456'.\n"
	  "--overwrite replaces an existing secret; new connections use the new data.\n"
	  "Making the files: certs/README.md.\n" },
	{ "list", secret_list, "list [-n NAMESPACE|-A] [-o json|yaml|wide|name]",
	  "Secrets: name, type, number of keys, age. -o json|yaml prints a\n"
	  "kubectl-style List (private keys are never printed).\n" },
	{ "get", secret_get, "get NAMESPACE/NAME [-o json|yaml|wide|name]",
	  "One secret; -o yaml|json shows the object with its public data\n"
	  "(base64); private keys are left out and named in an annotation.\n" },
	{ "delete", secret_delete, "delete NAMESPACE/NAME",
	  "Deletes a secret. Policies naming it stay; their new TLS connections are\n"
	  "refused until it exists again.\n" },
};

int cli_secret(int argc, char **argv)
{
	return cli_dispatch("secret", "Secrets for TLS interception (terminatingTLS, originatingTLS).",
			    secret_cmds, sizeof(secret_cmds) / sizeof(secret_cmds[0]), argc, argv);
}
