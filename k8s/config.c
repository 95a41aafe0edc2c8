/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - where the API server is and how to authenticate: a kubeconfig
 * file, or the in-cluster ServiceAccount (see client.h).
 *
 * The kubeconfig is walked as a libyaml document so that every error can
 * name the file, the line and the field (`users["admin"].user.token`), the
 * way kubectl users expect to find their mistake. Paths inside a kubeconfig
 * are relative to the kubeconfig's own folder, as in client-go. Fields that
 * would change who we are or how we verify the server and that we do not
 * implement (exec plugins, auth providers, basic auth, proxies, a TLS
 * server name) are refused by name rather than ignored.
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "client.h"
#include "util.h"

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

void k8s_config_free(struct k8s_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->ca_file);
	free(cfg->ca_data);
	free(cfg->token_file);
	free(cfg->token);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->cert_data);
	free(cfg->key_data);
	free(cfg->namespace);
	memset(cfg, 0, sizeof(*cfg));
}

/* --- base64 (the *-data fields) ----------------------------------------- */

static int b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

char *k8s_b64_decode(const char *in, size_t *len_out)
{
	size_t n = strlen(in), o = 0;
	char *out = malloc(n / 4 * 3 + 4);
	unsigned acc = 0;
	int bits = 0, pad = 0;
	if (!out)
		abort();
	for (const char *p = in; *p; p++) {
		if (isspace((unsigned char)*p))
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		int v = b64_value((unsigned char)*p);
		if (v < 0 || pad) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (bits >= 6 || pad > 2) { /* a lone trailing character */
		free(out);
		return NULL;
	}
	out[o] = 0;
	if (len_out)
		*len_out = o;
	return out;
}

/* --- the kubeconfig walk ------------------------------------------------- */

struct kubeconfig {
	const char *path;
	char *dir;
	yaml_document_t doc;
	char **err;
};

static int kc_fail(struct kubeconfig *kc, yaml_node_t *at, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int kc_fail(struct kubeconfig *kc, yaml_node_t *at, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at)
		return sl_fail(kc->err, EINVAL, "kubeconfig %s: line %zu: %s: %s", kc->path,
			       at->start_mark.line + 1, field, msg);
	return sl_fail(kc->err, EINVAL, "kubeconfig %s: %s: %s", kc->path, field, msg);
}

static yaml_node_t *kc_get(struct kubeconfig *kc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&kc->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
		    memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
			return yaml_document_get_node(&kc->doc, p->value);
	}
	return NULL;
}

static bool kc_is_null(yaml_node_t *n)
{
	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)n->data.scalar.value;
	return !*v || strcmp(v, "null") == 0 || strcmp(v, "~") == 0;
}

/* A string field: *out is NULL when absent (or null), else a copy. */
static int kc_string(struct kubeconfig *kc, yaml_node_t *map, const char *key, const char *where,
		     char **out)
{
	yaml_node_t *n = kc_get(kc, map, key);
	char field[512];
	*out = NULL;
	if (kc_is_null(n))
		return 0;
	snprintf(field, sizeof(field), "%s%s%s", where, strcmp(where, key) ? "." : "",
		 strcmp(where, key) ? key : "");
	if (n->type != YAML_SCALAR_NODE)
		return kc_fail(kc, n, field, "must be a string");
	*out = sl_strdupf("%.*s", (int)n->data.scalar.length, (const char *)n->data.scalar.value);
	return 0;
}

static int kc_bool(struct kubeconfig *kc, yaml_node_t *map, const char *key, const char *where,
		   bool *out)
{
	yaml_node_t *n = kc_get(kc, map, key);
	*out = false;
	if (kc_is_null(n))
		return 0;
	const char *v = n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	char field[512];
	snprintf(field, sizeof(field), "%s.%s", where, key);
	return kc_fail(kc, n, field, "must be true or false");
}

/* The entry `name` of a named list (clusters, contexts, users): its inner
 * mapping (`cluster`, `context`, `user`). */
static int kc_named(struct kubeconfig *kc, yaml_node_t *root, const char *list, const char *inner,
		    const char *name, yaml_node_t **out)
{
	char where[256];
	yaml_node_t *seq = kc_get(kc, root, list);
	*out = NULL;
	if (seq && seq->type != YAML_SEQUENCE_NODE && !kc_is_null(seq))
		return kc_fail(kc, seq, list, "must be a list");
	if (seq && seq->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = seq->data.sequence.items.start;
		     it < seq->data.sequence.items.top; it++) {
			yaml_node_t *e = yaml_document_get_node(&kc->doc, *it);
			yaml_node_t *nn = kc_get(kc, e, "name");
			if (!nn || nn->type != YAML_SCALAR_NODE ||
			    strcmp((const char *)nn->data.scalar.value, name) != 0)
				continue;
			yaml_node_t *in = kc_get(kc, e, inner);
			snprintf(where, sizeof(where), "%s[\"%s\"].%s", list, name, inner);
			if (!in || in->type != YAML_MAPPING_NODE)
				return kc_fail(kc, in ? in : e, where, "missing or not a mapping");
			*out = in;
			return 0;
		}
	}
	return kc_fail(kc, seq, list, "no entry named \"%s\"", name);
}

/* A path field: made absolute against the kubeconfig's folder, and checked
 * to be readable now (a typo should fail at start, naming the field). */
static int kc_path(struct kubeconfig *kc, yaml_node_t *map, const char *key, const char *where,
		   char **out)
{
	char field[512];
	int r = kc_string(kc, map, key, where, out);
	snprintf(field, sizeof(field), "%s.%s", where, key);
	if (r || !*out)
		return r;
	if ((*out)[0] != '/') {
		char *abs = sl_strdupf("%s/%s", kc->dir, *out);
		free(*out);
		*out = abs;
	}
	if (access(*out, R_OK) != 0) {
		int e = errno;
		r = kc_fail(kc, kc_get(kc, map, key), field, "%s: %s", *out, strerror(e));
		free(*out);
		*out = NULL;
	}
	return r;
}

/* A *-data field: base64 of PEM text. */
static int kc_data(struct kubeconfig *kc, yaml_node_t *map, const char *key, const char *where,
		   char **out)
{
	char field[512];
	char *b64 = NULL;
	int r = kc_string(kc, map, key, where, &b64);
	snprintf(field, sizeof(field), "%s.%s", where, key);
	*out = NULL;
	if (r || !b64)
		return r;
	size_t len = 0;
	*out = k8s_b64_decode(b64, &len);
	free(b64);
	if (!*out)
		return kc_fail(kc, kc_get(kc, map, key), field, "not valid base64");
	if (len == 0 || strlen(*out) != len || !strstr(*out, "-----BEGIN ")) {
		free(*out);
		*out = NULL;
		return kc_fail(kc, kc_get(kc, map, key), field, "does not decode to PEM data");
	}
	return 0;
}

static int kc_refuse(struct kubeconfig *kc, yaml_node_t *map, const char *key, const char *where,
		     const char *why)
{
	char field[512];
	yaml_node_t *n = kc_get(kc, map, key);
	if (kc_is_null(n))
		return 0;
	snprintf(field, sizeof(field), "%s.%s", where, key);
	return kc_fail(kc, n, field, "not supported (%s)", why);
}

static int kc_cluster(struct kubeconfig *kc, yaml_node_t *cl, const char *where,
		      struct k8s_config *out)
{
	char field[512];
	int r;
	if ((r = kc_string(kc, cl, "server", where, &out->server)))
		return r;
	snprintf(field, sizeof(field), "%s.server", where);
	if (!out->server || !*out->server)
		return kc_fail(kc, cl, field, "missing");
	if (strncmp(out->server, "https://", 8) && strncmp(out->server, "http://", 7))
		return kc_fail(kc, kc_get(kc, cl, "server"), field,
			       "\"%s\" must start with https:// or http://", out->server);
	if ((r = kc_path(kc, cl, "certificate-authority", where, &out->ca_file)) ||
	    (r = kc_data(kc, cl, "certificate-authority-data", where, &out->ca_data)) ||
	    (r = kc_bool(kc, cl, "insecure-skip-tls-verify", where, &out->insecure)) ||
	    (r = kc_refuse(kc, cl, "tls-server-name", where, "the certificate must name the server")) ||
	    (r = kc_refuse(kc, cl, "proxy-url", where, "connect to the API server directly")))
		return r;
	/* client-go prefers the data; a file beside it is a mistake to say */
	if (out->ca_file && out->ca_data) {
		snprintf(field, sizeof(field), "%s.certificate-authority", where);
		return kc_fail(kc, kc_get(kc, cl, "certificate-authority"), field,
			       "give either certificate-authority or certificate-authority-data");
	}
	return 0;
}

static int kc_user(struct kubeconfig *kc, yaml_node_t *u, const char *where,
		   struct k8s_config *out)
{
	char field[512];
	int r;
	if ((r = kc_string(kc, u, "token", where, &out->token)) ||
	    (r = kc_path(kc, u, "tokenFile", where, &out->token_file)) ||
	    (r = kc_path(kc, u, "client-certificate", where, &out->cert_file)) ||
	    (r = kc_data(kc, u, "client-certificate-data", where, &out->cert_data)) ||
	    (r = kc_path(kc, u, "client-key", where, &out->key_file)) ||
	    (r = kc_data(kc, u, "client-key-data", where, &out->key_data)) ||
	    (r = kc_refuse(kc, u, "exec", where, "use token, tokenFile or a client certificate")) ||
	    (r = kc_refuse(kc, u, "auth-provider", where,
			   "use token, tokenFile or a client certificate")) ||
	    (r = kc_refuse(kc, u, "username", where, "basic authentication")) ||
	    (r = kc_refuse(kc, u, "password", where, "basic authentication")) ||
	    (r = kc_refuse(kc, u, "as", where, "impersonation")))
		return r;
	if (out->cert_file && out->cert_data) {
		snprintf(field, sizeof(field), "%s.client-certificate", where);
		return kc_fail(kc, kc_get(kc, u, "client-certificate"), field,
			       "give either client-certificate or client-certificate-data");
	}
	if (out->key_file && out->key_data) {
		snprintf(field, sizeof(field), "%s.client-key", where);
		return kc_fail(kc, kc_get(kc, u, "client-key"), field,
			       "give either client-key or client-key-data");
	}
	bool cert = out->cert_file || out->cert_data, key = out->key_file || out->key_data;
	if (cert != key) {
		snprintf(field, sizeof(field), "%s.%s", where, cert ? "client-key" : "client-certificate");
		return kc_fail(kc, u, field, "missing (a client certificate needs its key)");
	}
	return 0;
}

int k8s_config_from_kubeconfig(const char *path, const char *context, struct k8s_config *out,
			       char **err)
{
	struct kubeconfig kc = {.path = path, .err = err};
	yaml_parser_t parser;
	char *text = NULL, *ctx_name = NULL, *cluster = NULL, *user = NULL;
	size_t len = 0;
	bool have_doc = false;
	char where[320];
	int r;

	memset(out, 0, sizeof(*out));
	if (!path)
		return sl_fail(err, EINVAL, "kubeconfig: no file given");
	r = sl_read_file(path, 16 << 20, &text, &len);
	if (r)
		return sl_fail(err, -r, "kubeconfig %s: %s", path, strerror(-r));
	char *copy = sl_xstrdup(path);
	kc.dir = sl_xstrdup(dirname(copy));
	free(copy);

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &kc.doc)) {
		r = sl_fail(err, EINVAL, "kubeconfig %s: line %zu: not YAML: %s", path,
			    parser.problem_mark.line + 1, parser.problem ? parser.problem : "error");
		yaml_parser_delete(&parser);
		goto out;
	}
	yaml_parser_delete(&parser);
	have_doc = true;
	yaml_node_t *root = yaml_document_get_root_node(&kc.doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		r = kc_fail(&kc, root, "(top level)", "not a kubeconfig (expected a mapping)");
		goto out;
	}
	if (context) {
		ctx_name = sl_xstrdup(context);
	} else {
		if ((r = kc_string(&kc, root, "current-context", "current-context", &ctx_name)))
			goto out;
		if (!ctx_name || !*ctx_name) {
			r = kc_fail(&kc, NULL, "current-context", "not set (and no context given)");
			goto out;
		}
	}
	yaml_node_t *cx, *cl, *u = NULL;
	if ((r = kc_named(&kc, root, "contexts", "context", ctx_name, &cx)))
		goto out;
	snprintf(where, sizeof(where), "contexts[\"%s\"].context", ctx_name);
	if ((r = kc_string(&kc, cx, "cluster", where, &cluster)) ||
	    (r = kc_string(&kc, cx, "user", where, &user)) ||
	    (r = kc_string(&kc, cx, "namespace", where, &out->namespace)))
		goto out;
	if (!cluster || !*cluster) {
		snprintf(where, sizeof(where), "contexts[\"%s\"].context.cluster", ctx_name);
		r = kc_fail(&kc, cx, where, "missing");
		goto out;
	}
	if ((r = kc_named(&kc, root, "clusters", "cluster", cluster, &cl)))
		goto out;
	snprintf(where, sizeof(where), "clusters[\"%s\"].cluster", cluster);
	if ((r = kc_cluster(&kc, cl, where, out)))
		goto out;
	if (user && *user) {
		if ((r = kc_named(&kc, root, "users", "user", user, &u)))
			goto out;
		snprintf(where, sizeof(where), "users[\"%s\"].user", user);
		if ((r = kc_user(&kc, u, where, out)))
			goto out;
	}
	if (!out->namespace || !*out->namespace) {
		free(out->namespace);
		out->namespace = sl_xstrdup("default");
	}
	r = 0;
out:
	if (r)
		k8s_config_free(out);
	if (have_doc)
		yaml_document_delete(&kc.doc);
	free(text);
	free(kc.dir);
	free(ctx_name);
	free(cluster);
	free(user);
	return r;
}

int k8s_config_in_cluster(const char *sa_dir, struct k8s_config *out, char **err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = sa_dir ? sa_dir : SA_DIR_DEFAULT;
	char *ns = NULL;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (!host || !*host || !port || !*port)
		return sl_fail(err, ENOENT,
			       "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
			       "must be set (not running in a pod? use --kubeconfig)");
	if (strspn(port, "0123456789") != strlen(port))
		return sl_fail(err, EINVAL, "in-cluster config: KUBERNETES_SERVICE_PORT=%s: not a port",
			       port);
	/* an IPv6 ClusterIP needs brackets in the URL (net.JoinHostPort) */
	if (strchr(host, ':') && host[0] != '[')
		out->server = sl_strdupf("https://[%s]:%s", host, port);
	else
		out->server = sl_strdupf("https://%s:%s", host, port);
	out->token_file = sl_strdupf("%s/token", dir);
	out->ca_file = sl_strdupf("%s/ca.crt", dir);
	if (access(out->token_file, R_OK) != 0) {
		r = sl_fail(err, errno, "in-cluster config: token %s: %s", out->token_file,
			    strerror(errno));
		goto fail;
	}
	if (access(out->ca_file, R_OK) != 0) {
		r = sl_fail(err, errno, "in-cluster config: CA %s: %s", out->ca_file, strerror(errno));
		goto fail;
	}
	char *nspath = sl_strdupf("%s/namespace", dir);
	if (sl_read_file(nspath, 4096, &ns, &len) == 0) {
		while (len && isspace((unsigned char)ns[len - 1]))
			ns[--len] = 0;
	}
	free(nspath);
	if (ns && *ns) {
		out->namespace = ns;
	} else {
		free(ns);
		out->namespace = sl_xstrdup("default");
	}
	return 0;
fail:
	k8s_config_free(out);
	return r;
}
