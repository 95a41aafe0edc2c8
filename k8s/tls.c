/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.c - OpenSSL 3 client sessions on memory BIOs (see tls.h).
 *
 * OpenSSL never touches the socket: bytes read by libuv are written into
 * the `in` BIO, and whatever OpenSSL wants to send (handshake records,
 * application data, alerts, TLS 1.3 key updates) is drained from the `out`
 * BIO after every call and written with uv_write. This is why every public
 * function here is followed by k8s_tls_take_output() in http.c.
 *
 * Verification is OpenSSL's chain check plus an explicit name check set up
 * before the handshake: SSL_set1_host for DNS names (which also matches
 * wildcards and ignores the CN when SANs exist) or X509_VERIFY_PARAM_set1_ip
 * for an IP literal, because the API server is very often addressed by IP
 * (KUBERNETES_SERVICE_HOST is the service's ClusterIP) and SNI must not
 * carry an IP address (RFC 6066).
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The last OpenSSL error queue entry as text (the queue is cleared). */
static void tls_errstr(char *buf, size_t len)
{
	unsigned long e, last = 0;
	while ((e = ERR_get_error()))
		last = e;
	if (last)
		ERR_error_string_n(last, buf, len);
	else
		snprintf(buf, len, "unknown TLS error");
}

/* Adds every certificate of a PEM bundle in memory to the store. */
static int tls_add_ca_pem(X509_STORE *store, const char *pem, char **err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	STACK_OF(X509_INFO) *infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
	int n = 0, r = 0;
	char e[256];

	if (!infos) {
		tls_errstr(e, sizeof(e));
		r = sl_fail(err, EINVAL, "certificate-authority-data: not a PEM certificate bundle: %s", e);
		goto out;
	}
	for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *info = sk_X509_INFO_value(infos, i);
		if (info->x509 && X509_STORE_add_cert(store, info->x509) == 1)
			n++;
	}
	if (n == 0)
		r = sl_fail(err, EINVAL, "certificate-authority-data: no certificate in the PEM data");
out:
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

static int tls_use_cert_data(SSL_CTX *ctx, const char *pem, char **err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int r = 0;
	char e[256];

	if (!x || SSL_CTX_use_certificate(ctx, x) != 1) {
		tls_errstr(e, sizeof(e));
		r = sl_fail(err, EINVAL, "client-certificate-data: %s", e);
		goto out;
	}
	/* the rest of the PEM is the chain to send along */
	X509 *extra;
	while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1)
			X509_free(extra);
	ERR_clear_error();
out:
	X509_free(x);
	BIO_free(bio);
	return r;
}

static int tls_use_key_data(SSL_CTX *ctx, const char *pem, char **err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	int r = 0;
	char e[256];

	if (!k || SSL_CTX_use_PrivateKey(ctx, k) != 1) {
		tls_errstr(e, sizeof(e));
		r = sl_fail(err, EINVAL, "client-key-data: %s", e);
	}
	EVP_PKEY_free(k);
	BIO_free(bio);
	return r;
}

int k8s_tls_ctx_new(const struct k8s_config *cfg, SSL_CTX **out, char **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char e[256];
	int r = 0;

	*out = NULL;
	if (!ctx) {
		tls_errstr(e, sizeof(e));
		return sl_fail(err, ENOMEM, "TLS: %s", e);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* the body is HTTP/1.1: say so, or a server that prefers h2 could pick it */
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);

	if (cfg->ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
			tls_errstr(e, sizeof(e));
			r = sl_fail(err, EINVAL, "certificate authority %s: %s", cfg->ca_file, e);
			goto fail;
		}
	} else if (cfg->ca_data) {
		r = tls_add_ca_pem(SSL_CTX_get_cert_store(ctx), cfg->ca_data, err);
		if (r)
			goto fail;
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_errstr(e, sizeof(e));
		r = sl_fail(err, EINVAL, "TLS: system certificate authorities: %s", e);
		goto fail;
	}

	if (cfg->cert_file) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
			tls_errstr(e, sizeof(e));
			r = sl_fail(err, EINVAL, "client certificate %s: %s", cfg->cert_file, e);
			goto fail;
		}
	} else if (cfg->cert_data) {
		r = tls_use_cert_data(ctx, cfg->cert_data, err);
		if (r)
			goto fail;
	}
	if (cfg->key_file) {
		if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
			tls_errstr(e, sizeof(e));
			r = sl_fail(err, EINVAL, "client key %s: %s", cfg->key_file, e);
			goto fail;
		}
	} else if (cfg->key_data) {
		r = tls_use_key_data(ctx, cfg->key_data, err);
		if (r)
			goto fail;
	}
	if ((cfg->cert_file || cfg->cert_data) != (cfg->key_file || cfg->key_data)) {
		r = sl_fail(err, EINVAL, "client certificate and client key must be given together");
		goto fail;
	}
	if ((cfg->cert_file || cfg->cert_data) && SSL_CTX_check_private_key(ctx) != 1) {
		tls_errstr(e, sizeof(e));
		r = sl_fail(err, EINVAL, "client key does not match the client certificate: %s", e);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, cfg->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int k8s_tls_start(struct k8s_tls *t, SSL_CTX *ctx, const char *host, bool verify, char **err)
{
	char h[256], e[256];
	size_t hl = strlen(host);
	unsigned char ip[16];

	memset(t, 0, sizeof(*t));
	if (hl >= sizeof(h))
		return sl_fail(err, EINVAL, "TLS: host name too long");
	/* "[::1]" -> "::1" */
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		memcpy(h, host + 1, hl - 2);
		h[hl - 2] = 0;
	} else {
		memcpy(h, host, hl + 1);
	}
	bool is_ip = inet_pton(AF_INET, h, ip) == 1 || inet_pton(AF_INET6, h, ip) == 1;

	t->ssl = SSL_new(ctx);
	t->in = BIO_new(BIO_s_mem());
	t->out = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->in || !t->out) {
		BIO_free(t->in);
		BIO_free(t->out);
		t->in = t->out = NULL;
		k8s_tls_free(t);
		return sl_fail(err, ENOMEM, "TLS: out of memory");
	}
	/* an empty memory BIO means "retry later", not EOF */
	BIO_set_mem_eof_return(t->in, -1);
	BIO_set_mem_eof_return(t->out, -1);
	SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both now */
	SSL_set_connect_state(t->ssl);
	int ok = 1;
	if (!is_ip)
		ok = SSL_set_tlsext_host_name(t->ssl, h) == 1;
	if (ok && verify) {
		if (is_ip)
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), h) == 1;
		else
			ok = SSL_set1_host(t->ssl, h) == 1;
	}
	if (!ok) {
		tls_errstr(e, sizeof(e));
		k8s_tls_free(t);
		return sl_fail(err, EINVAL, "TLS: server name %s: %s", h, e);
	}
	return 0;
}

void k8s_tls_free(struct k8s_tls *t)
{
	if (t->ssl)
		SSL_free(t->ssl);
	t->ssl = NULL;
	t->in = t->out = NULL;
	t->established = false;
}

int k8s_tls_feed(struct k8s_tls *t, const char *data, size_t len, char **err)
{
	while (len) {
		int n = BIO_write(t->in, data, len > INT32_MAX ? INT32_MAX : (int)len);
		if (n <= 0)
			return sl_fail(err, ENOMEM, "TLS: cannot buffer input");
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Turns an SSL_get_error result into our convention. */
static int tls_result(struct k8s_tls *t, int ret, char **err)
{
	int code = SSL_get_error(t->ssl, ret);
	char e[256];

	switch (code) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		ERR_clear_error();
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		return -EPIPE;
	default:
		break;
	}
	long vr = SSL_get_verify_result(t->ssl);
	if (vr != X509_V_OK) {
		ERR_clear_error();
		return sl_fail(err, EPROTO, "TLS: server certificate not trusted: %s",
			       X509_verify_cert_error_string(vr));
	}
	tls_errstr(e, sizeof(e));
	return sl_fail(err, EPROTO, "TLS: %s", e);
}

int k8s_tls_write(struct k8s_tls *t, const char *data, size_t len, char **err)
{
	if (!len)
		return 0;
	int n = SSL_write(t->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0) {
		t->established = true;
		return n;
	}
	return tls_result(t, n, err);
}

int k8s_tls_read(struct k8s_tls *t, char *buf, size_t len, char **err)
{
	int n = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	return tls_result(t, n, err);
}

size_t k8s_tls_take_output(struct k8s_tls *t, char **out)
{
	size_t n = (size_t)BIO_ctrl_pending(t->out);
	*out = NULL;
	if (!n)
		return 0;
	char *buf = malloc(n);
	if (!buf)
		abort();
	int got = BIO_read(t->out, buf, (int)n);
	if (got <= 0) {
		free(buf);
		return 0;
	}
	*out = buf;
	return (size_t)got;
}
