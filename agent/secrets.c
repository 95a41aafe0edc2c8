/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secrets.c - the agent's secret store (secrets.h): the TLS material that
 * policies name, its persistence, the checks at policy apply, what the
 * proxy gets, and the `secret.*` API commands.
 *
 * Persistence: one JSON file per secret, <state-dir>/secrets/NS/NAME.json
 * ({"type", "created", "data": {key: base64}}), written whole to a
 * temporary file (0600) and renamed, in folders of mode 0700.
 */
#include "secrets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/names.h"
#include "../common/util.h"
#include "agent.h"
#include "api.h"

#define SECRET_MAX_BYTES (1024u * 1024u) /* as Kubernetes: 1 MiB of data */

struct agent_secrets {
	struct agent_secret *v;
	size_t n;
};

/* ---- base64 (OpenSSL's EVP block codec) --------------------------------- */

static char *b64_encode(const unsigned char *p, size_t n)
{
	char *out = sl_xcalloc(4 * ((n + 2) / 3) + 1, 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static int b64_decode(const char *s, unsigned char **out, size_t *len)
{
	size_t sl = strlen(s);
	unsigned char *buf;
	int n;

	if (sl % 4 || sl > 4 * (SECRET_MAX_BYTES / 3 + 1))
		return -EINVAL;
	buf = sl_xcalloc(sl / 4 * 3 + 1, 1);
	n = sl ? EVP_DecodeBlock(buf, (const unsigned char *)s, (int)sl) : 0;
	if (n < 0) {
		free(buf);
		return -EINVAL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (sl && s[sl - 1] == '=')
		n--;
	if (sl > 1 && s[sl - 2] == '=')
		n--;
	*out = buf;
	*len = (size_t)n;
	return 0;
}

/* ---- the store ---------------------------------------------------------- */

static struct agent_secrets *store(struct agent *a)
{
	if (!a->secrets)
		a->secrets = sl_xcalloc(1, sizeof(*a->secrets));
	return a->secrets;
}

static void secret_clear(struct agent_secret *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->items[i].key);
		if (s->items[i].data)
			OPENSSL_cleanse(s->items[i].data, s->items[i].len);
		free(s->items[i].data);
	}
	free(s->items);
	free(s->ns);
	free(s->name);
	free(s->type);
	memset(s, 0, sizeof(*s));
}

void agent_secrets_free(struct agent *a)
{
	if (!a->secrets)
		return;
	for (size_t i = 0; i < a->secrets->n; i++)
		secret_clear(&a->secrets->v[i]);
	free(a->secrets->v);
	free(a->secrets);
	a->secrets = NULL;
}

const struct agent_secret *agent_secret_find(struct agent *a, const char *ns, const char *name)
{
	struct agent_secrets *st = store(a);

	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->v[i].ns, ns) && !strcmp(st->v[i].name, name))
			return &st->v[i];
	return NULL;
}

static const struct agent_secret_item *secret_item(const struct agent_secret *s, const char *key)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!strcmp(s->items[i].key, key))
			return &s->items[i];
	return NULL;
}

/* ---- checks ------------------------------------------------------------- */

/* Kubernetes' secret key rule: [-._a-zA-Z0-9]+, at most 253, not "." or "..". */
static int check_key(const char *k, char **err)
{
	size_t n = strlen(k);

	if (!n || n > 253 || !strcmp(k, ".") || !strcmp(k, ".."))
		return sl_fail(err, EINVAL, "invalid key name \"%s\": 1-253 of [-._a-zA-Z0-9]", k);
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
		      (k[i] >= '0' && k[i] <= '9') || strchr("-._", k[i])))
			return sl_fail(err, EINVAL, "invalid key name \"%s\": 1-253 of [-._a-zA-Z0-9]", k);
	return 0;
}

/* kubernetes.io/tls: tls.crt a PEM certificate, tls.key its private key. */
static int check_tls_pair(const struct agent_secret_item *crt, const struct agent_secret_item *key,
			  char **err)
{
	BIO *cb = BIO_new_mem_buf(crt->data, (int)crt->len);
	BIO *kb = BIO_new_mem_buf(key->data, (int)key->len);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int rc = 0;

	if (!x)
		rc = sl_fail(err, EINVAL, "tls.crt: no PEM certificate");
	else if (!k)
		rc = sl_fail(err, EINVAL, "tls.key: no PEM private key (an encrypted key is not supported)");
	else if (X509_check_private_key(x, k) != 1)
		rc = sl_fail(err, EINVAL, "tls.key does not belong to the certificate in tls.crt");
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return rc;
}

static int check_secret(const char *ns, const char *name, const char *type,
			const struct agent_secret_item *items, size_t n, char **err)
{
	size_t total = 0;

	if (sl_check_namespace(ns, err) || sl_check_pod_name(name, err))
		return -EINVAL;
	if (strcmp(type, AGENT_SECRET_TLS) && strcmp(type, AGENT_SECRET_OPAQUE))
		return sl_fail(err, EINVAL, "unknown secret type \"%s\" (want %s or %s)", type,
			       AGENT_SECRET_TLS, AGENT_SECRET_OPAQUE);
	for (size_t i = 0; i < n; i++) {
		if (check_key(items[i].key, err))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(items[i].key, items[j].key))
				return sl_fail(err, EINVAL, "key \"%s\" given twice", items[i].key);
		total += items[i].len;
	}
	if (total > SECRET_MAX_BYTES)
		return sl_fail(err, E2BIG, "secret data is %zu bytes, more than 1 MiB", total);
	if (!strcmp(type, AGENT_SECRET_TLS)) {
		const struct agent_secret_item *crt = NULL, *key = NULL;

		for (size_t i = 0; i < n; i++) {
			if (!strcmp(items[i].key, "tls.crt"))
				crt = &items[i];
			if (!strcmp(items[i].key, "tls.key"))
				key = &items[i];
		}
		if (!crt || !key)
			return sl_fail(err, EINVAL, "a %s secret needs tls.crt and tls.key", AGENT_SECRET_TLS);
		return check_tls_pair(crt, key, err);
	}
	return 0;
}

/* ---- persistence -------------------------------------------------------- */

static char *secret_path(struct agent *a, const char *ns, const char *name)
{
	return name ? sl_strdupf("%s/secrets/%s/%s.json", a->cfg.state_dir, ns, name)
		    : sl_strdupf("%s/secrets/%s", a->cfg.state_dir, ns);
}

static int secret_save(struct agent *a, const struct agent_secret *s, char **err)
{
	char *dir = sl_strdupf("%s/secrets", a->cfg.state_dir), *nsdir = secret_path(a, s->ns, NULL);
	char *path = secret_path(a, s->ns, s->name), *tmp = sl_strdupf("%s.tmp", path);
	json_t *data = json_object(), *doc;
	char *text;
	int fd = -1, rc = 0;
	size_t len;

	for (size_t i = 0; i < s->n; i++) {
		char *b = b64_encode(s->items[i].data, s->items[i].len);

		json_object_set_new(data, s->items[i].key, json_string(b));
		free(b);
	}
	doc = json_pack("{s:s,s:I,s:o}", "type", s->type, "created", (json_int_t)s->created,
			"data", data);
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if ((mkdir(dir, 0700) && errno != EEXIST) || (mkdir(nsdir, 0700) && errno != EEXIST)) {
		rc = sl_fail(err, errno, "%s: %s", nsdir, strerror(errno));
		goto out;
	}
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) || rename(tmp, path)) {
		rc = sl_fail(err, errno ? errno : EIO, "%s: %s", path, strerror(errno ? errno : EIO));
		unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	if (text)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
	free(dir);
	free(nsdir);
	free(path);
	free(tmp);
	return rc;
}

static int secret_parse(json_t *doc, const char *ns, const char *name, struct agent_secret *out,
			char **err)
{
	json_t *data = json_object_get(doc, "data"), *v;
	const char *type = json_string_value(json_object_get(doc, "type")), *key;

	memset(out, 0, sizeof(*out));
	if (!type || !json_is_object(data))
		return sl_fail(err, EINVAL, "want {type, data}");
	out->ns = sl_xstrdup(ns);
	out->name = sl_xstrdup(name);
	out->type = sl_xstrdup(type);
	out->created = json_integer_value(json_object_get(doc, "created"));
	out->items = sl_xcalloc(json_object_size(data) + 1, sizeof(*out->items));
	json_object_foreach(data, key, v) {
		struct agent_secret_item *it = &out->items[out->n];

		if (!json_is_string(v) || b64_decode(json_string_value(v), &it->data, &it->len)) {
			secret_clear(out);
			return sl_fail(err, EINVAL, "data.%s: not base64", key);
		}
		it->key = sl_xstrdup(key);
		out->n++;
	}
	return 0;
}

int agent_secrets_load(struct agent *a, char **err)
{
	char *root = sl_strdupf("%s/secrets", a->cfg.state_dir);
	DIR *d = opendir(root), *nd;
	struct dirent *e, *f;

	(void)err;
	store(a);
	while (d && (e = readdir(d))) {
		char *nsdir;

		if (e->d_name[0] == '.')
			continue;
		nsdir = secret_path(a, e->d_name, NULL);
		nd = opendir(nsdir);
		while (nd && (f = readdir(nd))) {
			size_t l = strlen(f->d_name);
			char *path, *text = NULL, *name, *perr = NULL;
			struct agent_secret s;
			json_t *doc;

			if (f->d_name[0] == '.' || l < 6 || strcmp(f->d_name + l - 5, ".json"))
				continue;
			name = sl_strdupf("%.*s", (int)(l - 5), f->d_name);
			path = secret_path(a, e->d_name, name);
			doc = sl_read_file(path, 4 * SECRET_MAX_BYTES, &text, NULL) ? NULL :
			      json_loads(text, 0, NULL);
			if (!doc || secret_parse(doc, e->d_name, name, &s, &perr)) {
				fprintf(stderr, "sluiced: secret %s skipped: %s\n", path,
					perr ? perr : "unreadable");
			} else {
				struct agent_secrets *st = store(a);

				st->v = realloc(st->v, (st->n + 1) * sizeof(*st->v));
				if (!st->v)
					abort();
				st->v[st->n++] = s;
			}
			json_decref(doc);
			if (text)
				OPENSSL_cleanse(text, strlen(text));
			free(text);
			free(perr);
			free(path);
			free(name);
		}
		if (nd)
			closedir(nd);
		free(nsdir);
	}
	if (d)
		closedir(d);
	free(root);
	return 0;
}

/* ---- changes ------------------------------------------------------------ */

/* The proxy's next connections see the change: a regeneration resends
 * its document (only when it differs; unchanged maps are not rewritten). */
static void secrets_changed(struct agent *a)
{
	char *err = NULL;

	if (agent_regenerate(a, &err))
		fprintf(stderr, "sluiced: secret change: %s\n", err ? err : "regenerate failed");
	free(err);
}

int agent_secret_set(struct agent *a, const char *ns, const char *name, const char *type,
		     const struct agent_secret_item *items, size_t n, bool overwrite, bool persist,
		     char **err)
{
	struct agent_secrets *st = store(a);
	struct agent_secret s = { 0 }, *old = (struct agent_secret *)agent_secret_find(a, ns, name);
	int rc;

	if ((rc = check_secret(ns, name, type, items, n, err)))
		return rc;
	if (old && !overwrite)
		return sl_fail(err, EEXIST, "secret \"%s\" already exists in namespace %s", name, ns);
	s.ns = sl_xstrdup(ns);
	s.name = sl_xstrdup(name);
	s.type = sl_xstrdup(type);
	s.created = old ? old->created : (int64_t)time(NULL);
	s.items = sl_xcalloc(n + 1, sizeof(*s.items));
	for (size_t i = 0; i < n; i++) {
		s.items[i].key = sl_xstrdup(items[i].key);
		s.items[i].data = sl_xcalloc(items[i].len + 1, 1);
		memcpy(s.items[i].data, items[i].data, items[i].len);
		s.items[i].len = items[i].len;
	}
	s.n = n;
	if (persist && (rc = secret_save(a, &s, err))) {
		secret_clear(&s);
		return rc;
	}
	if (old) {
		secret_clear(old);
		*old = s;
	} else {
		st->v = realloc(st->v, (st->n + 1) * sizeof(*st->v));
		if (!st->v)
			abort();
		st->v[st->n++] = s;
	}
	secrets_changed(a);
	return 0;
}

int agent_secret_delete(struct agent *a, const char *ns, const char *name, char **err)
{
	struct agent_secrets *st = store(a);
	struct agent_secret *s = (struct agent_secret *)agent_secret_find(a, ns, name);
	char *path;

	if (!s)
		return sl_fail(err, ENOENT, "secret \"%s\" not found in namespace %s", name, ns);
	path = secret_path(a, ns, name);
	if (unlink(path) && errno != ENOENT) {
		int rc = sl_fail(err, errno, "%s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	free(path);
	secret_clear(s);
	*s = st->v[--st->n];
	/* policies naming it stay; the proxy refuses their new connections
	 * (fail closed) until the secret is back */
	secrets_changed(a);
	return 0;
}

/* ---- policy checks ------------------------------------------------------ */

static size_t check_context(struct agent *a, const struct sluice_tls_context *t,
			    enum agent_secret_use use, struct sluice_diags *errors)
{
	const struct agent_secret *s;
	const char *need[2];
	size_t nneed = 0, bad = 0;
	bool terminating = use == AGENT_SECRET_TERMINATING;

	if (!t || !t->secret_name || use == AGENT_SECRET_HEADER)
		return 0;
	s = agent_secret_find(a, t->secret_ns ? t->secret_ns : "default", t->secret_name);
	if (!s) {
		/* in Kubernetes mode the Secret comes from the API (k8s_secrets.c) */
		sluice_diags_add(errors, "%s.secret: secret %s/%s not found%s",
				 t->where ? t->where : "?", t->secret_ns ? t->secret_ns : "default",
				 t->secret_name,
				 a->k8s ? "" : " (create it first: sluice secret create ...)");
		return 1;
	}
	if (terminating) {
		need[nneed++] = t->certificate ? t->certificate : "tls.crt";
		need[nneed++] = t->private_key ? t->private_key : "tls.key";
	} else {
		need[nneed++] = t->trusted_ca ? t->trusted_ca : "ca.crt";
	}
	for (size_t i = 0; i < nneed; i++)
		if (!secret_item(s, need[i])) {
			sluice_diags_add(errors, "%s: secret %s/%s has no key %s (%s TLS context is missing %s)",
					 t->where ? t->where : "?", s->ns, s->name, need[i],
					 terminating ? "terminating" : "originating",
					 terminating ? "certs" : "CA certs");
			bad++;
		}
	return bad;
}

/* calls fn for both TLS contexts of every port of one allow item, and for
 * its header matches' secrets */
static void walk_item(const struct sluice_peer_rule *item, agent_secret_ref_fn fn, void *ctx)
{
	for (size_t i = 0; i < item->nto_ports; i++) {
		const struct sluice_port_rule *pr = &item->to_ports[i];

		fn(ctx, pr->terminating_tls, AGENT_SECRET_TERMINATING);
		fn(ctx, pr->originating_tls, AGENT_SECRET_ORIGINATING);
		for (size_t h = 0; h < pr->nhttp; h++)
			for (size_t k = 0; k < pr->http[h].nheader_matches; k++)
				if (pr->http[h].header_matches[k].secret)
					fn(ctx, pr->http[h].header_matches[k].secret, AGENT_SECRET_HEADER);
	}
}

void agent_secrets_walk(const struct sluice_policy *p, agent_secret_ref_fn fn, void *ctx)
{
	for (size_t r = 0; r < p->nrules; r++) {
		const struct sluice_rule *rule = &p->rules[r];

		for (size_t i = 0; i < rule->ningress; i++)
			walk_item(&rule->ingress[i], fn, ctx);
		for (size_t i = 0; i < rule->negress; i++)
			walk_item(&rule->egress[i], fn, ctx);
	}
}

struct check_walk {
	struct agent *a;
	struct sluice_diags *errors;
	size_t bad;
};

static void check_one(void *ctx, const struct sluice_tls_context *t, enum agent_secret_use use)
{
	struct check_walk *w = ctx;

	w->bad += check_context(w->a, t, use, w->errors);
}

size_t agent_secrets_check_item(struct agent *a, const struct sluice_peer_rule *item,
				struct sluice_diags *errors)
{
	struct check_walk w = { a, errors, 0 };

	walk_item(item, check_one, &w);
	return w.bad;
}

size_t agent_secrets_check(struct agent *a, const struct sluice_policy_set *set,
			   struct sluice_diags *errors)
{
	struct check_walk w = { a, errors, 0 };

	for (size_t p = 0; p < set->n; p++)
		agent_secrets_walk(&set->v[p], check_one, &w);
	return w.bad;
}

/* ---- the proxy feed ----------------------------------------------------- */

static json_t *context_json(const struct sluice_tls_context *t, bool terminating)
{
	json_t *o = json_object();

	json_object_set_new(o, "secret", json_sprintf("%s/%s", t->secret_ns ? t->secret_ns : "default",
						       t->secret_name));
	if (terminating) {
		json_object_set_new(o, "certificate", json_string(t->certificate ? t->certificate : "tls.crt"));
		json_object_set_new(o, "privateKey", json_string(t->private_key ? t->private_key : "tls.key"));
	} else {
		json_object_set_new(o, "trustedCA", json_string(t->trusted_ca ? t->trusted_ca : "ca.crt"));
	}
	return o;
}

json_t *agent_secrets_tls_json(const struct sluice_l7_policy *l)
{
	const struct sluice_port_rule *pr = l->tls;
	json_t *o, *names;

	if (!sluice_port_rule_has_tls(pr))
		return NULL;
	o = json_object();
	if (pr->terminating_tls && pr->terminating_tls->secret_name)
		json_object_set_new(o, "terminating", context_json(pr->terminating_tls, true));
	if (pr->originating_tls && pr->originating_tls->secret_name)
		json_object_set_new(o, "originating", context_json(pr->originating_tls, false));
	/* every rule's names for this peer and port (compile_emit merges
	 * them), not only those of the rule whose TLS contexts apply */
	if (l->nserver_names) {
		names = json_array();
		for (size_t i = 0; i < l->nserver_names; i++)
			json_array_append_new(names, json_string(l->server_names[i]));
		json_object_set_new(o, "server_names", names);
	}
	return o;
}

static void add_secret_json(struct agent *a, json_t *out, const struct sluice_tls_context *t)
{
	const struct agent_secret *s;
	char *ref;
	json_t *items;

	if (!t || !t->secret_name)
		return;
	ref = sl_strdupf("%s/%s", t->secret_ns ? t->secret_ns : "default", t->secret_name);
	if (!json_object_get(out, ref) &&
	    (s = agent_secret_find(a, t->secret_ns ? t->secret_ns : "default", t->secret_name))) {
		items = json_object();
		/* PEM is text; anything else (not UTF-8) is of no use to the proxy */
		for (size_t i = 0; i < s->n; i++) {
			json_t *v = json_stringn((const char *)s->items[i].data, s->items[i].len);

			if (v)
				json_object_set_new(items, s->items[i].key, v);
		}
		json_object_set_new(out, ref, items);
	}
	free(ref);
}

json_t *agent_secrets_proxy_json(struct agent *a, const struct sluice_compiled *c)
{
	json_t *out = json_object();

	for (size_t i = 0; i < c->neps; i++)
		for (size_t j = 0; j < c->eps[i].nl7; j++) {
			const struct sluice_l7_policy *l = &c->eps[i].l7[j];
			const struct sluice_port_rule *pr = l->tls;

			if (pr) {
				add_secret_json(a, out, pr->terminating_tls);
				add_secret_json(a, out, pr->originating_tls);
			}
			for (size_t r = 0; r < l->nrules; r++)
				for (size_t k = 0; k < l->rules[r]->nheader_matches; k++)
					add_secret_json(a, out, l->rules[r]->header_matches[k].secret);
		}
	return out;
}

/* ---- API ---------------------------------------------------------------- */

static bool is_private(const struct agent_secret_item *it)
{
	static const char marker[] = "PRIVATE KEY";

	if (!strcmp(it->key, "tls.key"))
		return true;
	for (size_t i = 0; i + sizeof(marker) - 1 <= it->len; i++)
		if (!memcmp(it->data + i, marker, sizeof(marker) - 1))
			return true;
	return false;
}

/* What list and get show: never a private key's bytes. */
static json_t *secret_json(const struct agent_secret *s, bool values)
{
	json_t *data = json_object();

	for (size_t i = 0; i < s->n; i++) {
		const struct agent_secret_item *it = &s->items[i];
		json_t *o = json_pack("{s:I}", "size", (json_int_t)it->len);

		if (is_private(it)) {
			json_object_set_new(o, "redacted", json_true());
		} else if (values) {
			char *b = b64_encode(it->data, it->len);

			json_object_set_new(o, "value", json_string(b));
			free(b);
		}
		json_object_set_new(data, it->key, o);
	}
	return json_pack("{s:s,s:s,s:s,s:I,s:o}", "namespace", s->ns, "name", s->name, "type",
			 s->type, "created", (json_int_t)s->created, "data", data);
}

static int cmp_secret(const void *x, const void *y)
{
	const struct agent_secret *const *a = x, *const *b = y;
	int r = strcmp((*a)->ns, (*b)->ns);

	return r ? r : strcmp((*a)->name, (*b)->name);
}

json_t *agent_secrets_cmd(struct agent *a, struct api_client *c, json_t *req, char **err)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	const char *ns = json_string_value(json_object_get(req, "namespace"));
	const char *name = json_string_value(json_object_get(req, "name"));
	struct agent_secrets *st = store(a);

	(void)c;
	if (!strcmp(cmd, "secret.list")) {
		const struct agent_secret **v = sl_xcalloc(st->n + 1, sizeof(*v));
		json_t *arr = json_array();
		size_t n = 0;

		for (size_t i = 0; i < st->n; i++)
			if (!ns || !strcmp(st->v[i].ns, ns))
				v[n++] = &st->v[i];
		qsort(v, n, sizeof(*v), cmp_secret);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, secret_json(v[i], false));
		free(v);
		return json_pack("{s:o}", "secrets", arr);
	}
	if (!ns || !name) {
		sl_fail(err, EINVAL, "%s: namespace and name are required", cmd);
		return NULL;
	}
	if (!strcmp(cmd, "secret.get")) {
		const struct agent_secret *s = agent_secret_find(a, ns, name);

		if (!s) {
			sl_fail(err, ENOENT, "secret \"%s\" not found in namespace %s", name, ns);
			return NULL;
		}
		return secret_json(s, true);
	}
	if (!strcmp(cmd, "secret.delete")) {
		if (agent_secret_delete(a, ns, name, err))
			return NULL;
		return json_object();
	}
	if (!strcmp(cmd, "secret.create")) {
		json_t *data = json_object_get(req, "data"), *v;
		const char *type = json_string_value(json_object_get(req, "type"));
		struct agent_secret_item *items;
		const char *key;
		size_t n = 0;
		int rc = 0;

		if (!type || !json_is_object(data)) {
			sl_fail(err, EINVAL, "secret.create: type and data are required");
			return NULL;
		}
		items = sl_xcalloc(json_object_size(data) + 1, sizeof(*items));
		json_object_foreach(data, key, v) {
			if (!json_is_string(v) ||
			    b64_decode(json_string_value(v), &items[n].data, &items[n].len)) {
				rc = sl_fail(err, EINVAL, "data.%s: not base64", key);
				break;
			}
			items[n++].key = (char *)key;
		}
		if (!rc)
			rc = agent_secret_set(a, ns, name, type, items, n,
					      json_is_true(json_object_get(req, "overwrite")), true, err);
		for (size_t i = 0; i < n; i++) {
			OPENSSL_cleanse(items[i].data, items[i].len);
			free(items[i].data);
		}
		free(items);
		if (rc)
			return NULL;
		return json_pack("{s:s}", "secret", name);
	}
	sl_fail(err, EINVAL, "unknown command %s", cmd);
	return NULL;
}
