/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_ctx.c - secrets and the SSL_CTX built from them (tls.h).
 *
 * One context per (secret, role, key names), built on first use and cached;
 * replacing or deleting a secret drops its contexts from the cache, so the
 * next connection is built from the new data while open connections keep
 * the context they hold (SSL_CTX is refcounted). Session tickets: a server
 * context keeps its ticket keys for its lifetime (resumption works as long
 * as the secret does not change); a client context keeps the last tickets
 * per upstream in a small cache of its own.
 *
 * Choices, each against a known failure:
 *  - a terminating context never asks for a client certificate, even when
 *    the secret holds a ca.crt (cilium#31761: Envoy did, and clients broke);
 *  - ALPN: both sides speak http/1.1 and say so, so a client never falls
 *    back to a protocol the proxy cannot inspect (cilium#30794);
 *  - TLS 1.2 minimum, no renegotiation (SSL_OP_NO_RENEGOTIATION), OpenSSL 3
 *    default cipher suites (AEAD with forward secrecy first).
 */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TLS_SESS_SLOTS 64

struct tls_secret {
	char *name;
	struct proxy_secret_item *items;
	size_t n;
};

struct tls_cache_entry {
	char *secret;
	char *id;            /* role + key names */
	SSL_CTX *ctx;
};

struct proxy_tls_store {
	struct tls_secret *secrets;
	size_t nsecrets;
	struct tls_cache_entry *cache;
	size_t ncache;
	SSL_CTX *sniff;      /* serverNames without termination */
};

struct tls_sess_cache {
	char *key[TLS_SESS_SLOTS];
	SSL_SESSION *sess[TLS_SESS_SLOTS];
	unsigned next;
};

static int tls_sess_idx = -1;

/* OpenSSL's reason for the last failure (the queue is cleared by callers). */
static const char *tls_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r ? r : "unknown TLS error";
}

/* ---- specs -------------------------------------------------------------- */

struct proxy_tls_spec *proxy_tls_spec_new(void)
{
	struct proxy_tls_spec *s = calloc(1, sizeof(*s));

	if (s)
		s->refs = 1;
	return s;
}

struct proxy_tls_spec *proxy_tls_spec_ref(struct proxy_tls_spec *s)
{
	if (s)
		s->refs++;
	return s;
}

static void tls_ref_clear(struct proxy_tls_ref *r)
{
	free(r->secret);
	free(r->ca_key);
	free(r->cert_key);
	free(r->key_key);
	memset(r, 0, sizeof(*r));
}

void proxy_tls_spec_unref(struct proxy_tls_spec *s)
{
	if (!s || --s->refs)
		return;
	tls_ref_clear(&s->term);
	tls_ref_clear(&s->orig);
	for (size_t i = 0; i < s->nserver_names; i++)
		free(s->server_names[i]);
	free(s->server_names);
	free(s);
}

int proxy_tls_ref_set(struct proxy_tls_ref *r, const char *secret, const char *ca_key,
		      const char *cert_key, const char *key_key)
{
	tls_ref_clear(r);
	r->secret = strdup(secret);
	r->ca_key = strdup(ca_key && *ca_key ? ca_key : "ca.crt");
	r->cert_key = strdup(cert_key && *cert_key ? cert_key : "tls.crt");
	r->key_key = strdup(key_key && *key_key ? key_key : "tls.key");
	if (!r->secret || !r->ca_key || !r->cert_key || !r->key_key) {
		tls_ref_clear(r);
		return -ENOMEM;
	}
	return 0;
}

int proxy_tls_spec_add_server_name(struct proxy_tls_spec *s, const char *pattern)
{
	char **v = realloc(s->server_names, (s->nserver_names + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->server_names = v;
	if (!(v[s->nserver_names] = strdup(pattern)))
		return -ENOMEM;
	s->nserver_names++;
	return 0;
}

/* ---- store -------------------------------------------------------------- */

static void tls_secret_clear(struct tls_secret *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free((char *)s->items[i].key);
		if (s->items[i].data)
			OPENSSL_cleanse((char *)s->items[i].data, s->items[i].len);
		free((char *)s->items[i].data);
	}
	free(s->items);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

static void tls_cache_drop(struct proxy_tls_store *st, const char *name)
{
	size_t j = 0;

	for (size_t i = 0; i < st->ncache; i++) {
		struct tls_cache_entry *e = &st->cache[i];

		if (!name || !strcmp(e->secret, name)) {
			SSL_CTX_free(e->ctx);
			free(e->secret);
			free(e->id);
			continue;
		}
		st->cache[j++] = *e;
	}
	st->ncache = j;
}

struct proxy_tls_store *proxy_tls_store_new(void)
{
	return calloc(1, sizeof(struct proxy_tls_store));
}

void proxy_tls_store_free(struct proxy_tls_store *st)
{
	if (!st)
		return;
	proxy_tls_store_clear(st);
	free(st->secrets);
	free(st->cache);
	SSL_CTX_free(st->sniff);
	free(st);
}

static struct tls_secret *tls_store_find(struct proxy_tls_store *st, const char *name)
{
	for (size_t i = 0; i < st->nsecrets; i++)
		if (!strcmp(st->secrets[i].name, name))
			return &st->secrets[i];
	return NULL;
}

static bool tls_secret_equal(const struct tls_secret *a, const struct tls_secret *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->items[i].key, b->items[i].key) || a->items[i].len != b->items[i].len ||
		    memcmp(a->items[i].data, b->items[i].data, a->items[i].len))
			return false;
	return true;
}

int proxy_tls_store_retain(struct proxy_tls_store *st, const char *const *names, size_t n)
{
	for (size_t i = 0; i < st->nsecrets;) {
		bool keep = false;

		for (size_t j = 0; j < n && !keep; j++)
			keep = !strcmp(st->secrets[i].name, names[j]);
		if (keep)
			i++;
		else
			proxy_tls_store_delete(st, st->secrets[i].name);
	}
	return 0;
}

int proxy_tls_store_set(struct proxy_tls_store *st, const char *name,
			const struct proxy_secret_item *items, size_t n)
{
	struct tls_secret ns = { 0 }, *old;

	if (!(ns.name = strdup(name)) || !(ns.items = calloc(n ? n : 1, sizeof(*ns.items))))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		char *d = malloc(items[i].len + 1);

		ns.items[i].key = strdup(items[i].key);
		ns.items[i].data = d;
		ns.n++;
		if (!d || !ns.items[i].key)
			goto oom;
		memcpy(d, items[i].data, items[i].len);
		d[items[i].len] = '\0';
		ns.items[i].len = items[i].len;
	}
	if ((old = tls_store_find(st, name)) && tls_secret_equal(old, &ns)) {
		/* unchanged: keep its contexts (and their ticket keys) */
		tls_secret_clear(&ns);
		return 0;
	}
	tls_cache_drop(st, name);
	if (old) {
		tls_secret_clear(old);
		*old = ns;
		return 0;
	}
	{
		struct tls_secret *v = realloc(st->secrets, (st->nsecrets + 1) * sizeof(*v));
		if (!v)
			goto oom;
		st->secrets = v;
		v[st->nsecrets++] = ns;
	}
	return 0;
oom:
	tls_secret_clear(&ns);
	return -ENOMEM;
}

int proxy_tls_store_delete(struct proxy_tls_store *st, const char *name)
{
	struct tls_secret *s = tls_store_find(st, name);

	if (!s)
		return -ENOENT;
	tls_cache_drop(st, name);
	tls_secret_clear(s);
	*s = st->secrets[--st->nsecrets];
	return 0;
}

int proxy_tls_store_clear(struct proxy_tls_store *st)
{
	tls_cache_drop(st, NULL);
	for (size_t i = 0; i < st->nsecrets; i++)
		tls_secret_clear(&st->secrets[i]);
	st->nsecrets = 0;
	return 0;
}

size_t proxy_tls_store_size(const struct proxy_tls_store *st)
{
	return st->nsecrets;
}

static const struct proxy_secret_item *tls_item(const struct tls_secret *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->items[i].key, key))
			return &s->items[i];
	return NULL;
}

/* ---- the ClientHello callback ------------------------------------------ */

/*
 * Runs on every ClientHello, before certificate selection: reads the SNI
 * (OpenSSL parsed the message; only the extension body is ours to read) and
 * checks it against serverNames. A missing or non-matching SNI aborts with
 * unrecognized_name and the proxy closes the connection. In sniff mode an
 * allowed hello suspends the handshake (RETRY): the proxy forwards the
 * original bytes instead of answering.
 */
static int tls_client_hello_cb(SSL *ssl, int *alert, void *arg)
{
	struct proxy_tls_conn *t = SSL_get_app_data(ssl);
	const unsigned char *ext = NULL;
	size_t len = 0;
	bool ok;

	(void)arg;
	if (!t)
		return SSL_CLIENT_HELLO_ERROR;
	t->sni[0] = '\0';
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) == 1 &&
	    proxy_tls_sni_parse(ext, len, t->sni, sizeof(t->sni)) < 0) {
		t->sni[0] = '\0';
		snprintf(t->reason, sizeof(t->reason), "malformed server_name extension");
		t->sni_denied = true;
		*alert = SSL_AD_DECODE_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	ok = !t->spec || !t->spec->nserver_names;
	for (size_t i = 0; !ok && t->sni[0] && i < t->spec->nserver_names; i++)
		ok = proxy_tls_sni_match(t->spec->server_names[i], t->sni);
	if (!ok) {
		snprintf(t->reason, sizeof(t->reason), t->sni[0] ?
			 "server name %s not allowed by serverNames" : "no server name (SNI) sent",
			 t->sni);
		t->sni_denied = true;
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (t->sniff_only) {
		t->state = PROXY_TLS_SNIFFED;
		return SSL_CLIENT_HELLO_RETRY;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

static int tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			   const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x08http/1.1";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, ours, sizeof(ours) - 1, in,
				  inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	/* no overlap (e.g. h2 only): no ALPN; the client may still speak
	 * HTTP/1.1, and anything else fails the strict HTTP/1 parser */
	return SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *tls_ctx_base(bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				 (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
	/* no SSL_MODE_RELEASE_BUFFERS: it costs an allocation and a free of
	 * each record buffer per request; the proxy releases the buffers of
	 * idle connections itself (proxy_tls_conn_release) */
	return ctx;
}

static int tls_sniff_ctx(struct proxy_tls_store *st)
{
	if (st->sniff)
		return 0;
	if (!(st->sniff = tls_ctx_base(true)))
		return -ENOMEM;
	SSL_CTX_set_client_hello_cb(st->sniff, tls_client_hello_cb, NULL);
	return 0;
}

static SSL_CTX *tls_cache_get(struct proxy_tls_store *st, const char *secret, const char *id)
{
	for (size_t i = 0; i < st->ncache; i++)
		if (!strcmp(st->cache[i].secret, secret) && !strcmp(st->cache[i].id, id)) {
			SSL_CTX_up_ref(st->cache[i].ctx);
			return st->cache[i].ctx;
		}
	return NULL;
}

static void tls_cache_put(struct proxy_tls_store *st, const char *secret, const char *id,
			  SSL_CTX *ctx)
{
	struct tls_cache_entry *v = realloc(st->cache, (st->ncache + 1) * sizeof(*v));
	char *s = strdup(secret), *i = strdup(id);

	if (!v || !s || !i) {
		if (v)
			st->cache = v;
		free(s);
		free(i);
		return; /* uncached: built again next time */
	}
	st->cache = v;
	SSL_CTX_up_ref(ctx);
	v[st->ncache++] = (struct tls_cache_entry){ .secret = s, .id = i, .ctx = ctx };
}

static int tls_use_chain(SSL_CTX *ctx, const struct proxy_secret_item *it, const char *where,
			 char **err)
{
	BIO *bio = BIO_new_mem_buf(it->data, (int)it->len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int r = 0;

	if (!x || SSL_CTX_use_certificate(ctx, x) != 1) {
		r = sl_fail(err, EINVAL, "%s: not a PEM certificate: %s", where, tls_reason());
		goto out;
	}
	for (X509 *extra; (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL));)
		if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
			X509_free(extra);
			r = sl_fail(err, ENOMEM, "%s: chain certificate", where);
			goto out;
		}
out:
	ERR_clear_error();
	X509_free(x);
	BIO_free(bio);
	return r;
}

static int tls_use_key(SSL_CTX *ctx, const struct proxy_secret_item *it, const char *where,
		       char **err)
{
	BIO *bio = BIO_new_mem_buf(it->data, (int)it->len);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	int r = 0;

	if (!k || SSL_CTX_use_PrivateKey(ctx, k) != 1) {
		r = sl_fail(err, EINVAL, "%s: not a PEM private key: %s", where, tls_reason());
	} else if (SSL_CTX_check_private_key(ctx) != 1) {
		r = sl_fail(err, EINVAL, "%s: the key does not match the certificate: %s", where, tls_reason());
	}
	ERR_clear_error();
	EVP_PKEY_free(k);
	BIO_free(bio);
	return r;
}

static int tls_use_ca(SSL_CTX *ctx, const struct proxy_secret_item *it, const char *where,
		      char **err)
{
	BIO *bio = BIO_new_mem_buf(it->data, (int)it->len);
	STACK_OF(X509_INFO) *infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	int n = 0, r = 0;

	if (!infos) {
		r = sl_fail(err, EINVAL, "%s: not a PEM certificate bundle: %s", where, tls_reason());
		goto out;
	}
	for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *info = sk_X509_INFO_value(infos, i);

		if (info->x509 && X509_STORE_add_cert(store, info->x509) == 1)
			n++;
	}
	if (!n)
		r = sl_fail(err, EINVAL, "%s: no certificate in the bundle", where);
out:
	ERR_clear_error();
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	return r;
}

/* The item for key of the referenced secret, or an error naming both. */
static const struct proxy_secret_item *tls_ref_item(struct proxy_tls_store *st,
						    const struct proxy_tls_ref *ref,
						    const char *key, char *where, size_t wsz,
						    char **err)
{
	struct tls_secret *s = tls_store_find(st, ref->secret);
	const struct proxy_secret_item *it;

	snprintf(where, wsz, "secret %s, key %s", ref->secret, key);
	if (!s) {
		sl_fail(err, ENOENT, "secret %s not found", ref->secret);
		return NULL;
	}
	if (!(it = tls_item(s, key)))
		sl_fail(err, ENOENT, "%s: no such key in the secret", where);
	return it;
}

SSL_CTX *proxy_tls_server_ctx(struct proxy_tls_store *st, const struct proxy_tls_spec *spec,
			      char **err)
{
	const struct proxy_tls_ref *ref = &spec->term;
	const struct proxy_secret_item *crt, *key;
	char id[512], where[600];
	SSL_CTX *ctx;

	if (!ref->secret) {
		if (tls_sniff_ctx(st)) {
			sl_fail(err, ENOMEM, "out of memory");
			return NULL;
		}
		SSL_CTX_up_ref(st->sniff);
		return st->sniff;
	}
	snprintf(id, sizeof(id), "server/%s/%s", ref->cert_key, ref->key_key);
	if ((ctx = tls_cache_get(st, ref->secret, id)))
		return ctx;
	if (!(crt = tls_ref_item(st, ref, ref->cert_key, where, sizeof(where), err)) ||
	    !(key = tls_ref_item(st, ref, ref->key_key, where, sizeof(where), err)))
		return NULL;
	if (!(ctx = tls_ctx_base(true))) {
		sl_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(where, sizeof(where), "secret %s, key %s", ref->secret, ref->cert_key);
	if (tls_use_chain(ctx, crt, where, err))
		goto fail;
	snprintf(where, sizeof(where), "secret %s, key %s", ref->secret, ref->key_key);
	if (tls_use_key(ctx, key, where, err))
		goto fail;
	/* never a CertificateRequest, whatever the secret also holds */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_client_hello_cb(ctx, tls_client_hello_cb, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sluice", 6);
	/* TLS 1.3: one ticket per full handshake is enough for one client */
	SSL_CTX_set_num_tickets(ctx, 1);
	tls_cache_put(st, ref->secret, id, ctx);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- client contexts and their session cache --------------------------- */

static void tls_sess_cache_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
				long argl, void *argp)
{
	struct tls_sess_cache *c = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (!c)
		return;
	for (unsigned i = 0; i < TLS_SESS_SLOTS; i++) {
		free(c->key[i]);
		SSL_SESSION_free(c->sess[i]);
	}
	free(c);
}

SSL_SESSION *proxy_tls_session_get(SSL_CTX *ctx, const char *key)
{
	struct tls_sess_cache *c = tls_sess_idx >= 0 ? SSL_CTX_get_ex_data(ctx, tls_sess_idx) : NULL;

	for (unsigned i = 0; c && i < TLS_SESS_SLOTS; i++)
		if (c->key[i] && !strcmp(c->key[i], key)) {
			SSL_SESSION *s = c->sess[i];

			if (!SSL_SESSION_is_resumable(s))
				return NULL;
			SSL_SESSION_up_ref(s);
			return s;
		}
	return NULL;
}

void proxy_tls_session_put(SSL_CTX *ctx, const char *key, SSL_SESSION *sess)
{
	struct tls_sess_cache *c = tls_sess_idx >= 0 ? SSL_CTX_get_ex_data(ctx, tls_sess_idx) : NULL;
	unsigned slot;
	char *k;

	if (!c || !(k = strdup(key))) {
		SSL_SESSION_free(sess);
		return;
	}
	for (slot = 0; slot < TLS_SESS_SLOTS; slot++)
		if (c->key[slot] && !strcmp(c->key[slot], key))
			break;
	if (slot == TLS_SESS_SLOTS)
		slot = c->next++ % TLS_SESS_SLOTS; /* oldest first */
	free(c->key[slot]);
	SSL_SESSION_free(c->sess[slot]);
	c->key[slot] = k;
	c->sess[slot] = sess;
}

/* A ticket arrived (TLS 1.3: after the handshake): keep it for next time. */
static int tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct proxy_tls_conn *t = SSL_get_app_data(ssl);

	if (!t || !t->sess_key[0])
		return 0;
	proxy_tls_session_put(SSL_get_SSL_CTX(ssl), t->sess_key, sess);
	return 1; /* we took the reference */
}

SSL_CTX *proxy_tls_client_ctx(struct proxy_tls_store *st, const struct proxy_tls_spec *spec,
			      char **err)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	const struct proxy_tls_ref *ref = &spec->orig;
	const struct proxy_secret_item *ca;
	struct tls_sess_cache *sc;
	char id[512], where[600];
	SSL_CTX *ctx;

	if (!ref->secret) {
		sl_fail(err, EINVAL, "no originating TLS context");
		return NULL;
	}
	snprintf(id, sizeof(id), "client/%s", ref->ca_key);
	if ((ctx = tls_cache_get(st, ref->secret, id)))
		return ctx;
	if (!(ca = tls_ref_item(st, ref, ref->ca_key, where, sizeof(where), err)))
		return NULL;
	if (tls_sess_idx < 0)
		tls_sess_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_sess_cache_free);
	if (!(ctx = tls_ctx_base(false)) || tls_sess_idx < 0 ||
	    !(sc = calloc(1, sizeof(*sc)))) {
		SSL_CTX_free(ctx);
		sl_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	SSL_CTX_set_ex_data(ctx, tls_sess_idx, sc);
	if (tls_use_ca(ctx, ca, where, err)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tls_new_session);
	tls_cache_put(st, ref->secret, id, ctx);
	return ctx;
}
