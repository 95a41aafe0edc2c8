/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_conn.c - one TLS session on memory BIOs (tls.h).
 *
 * OpenSSL never touches a socket: ciphertext the loop read is written into
 * net_in, and what OpenSSL produces (handshake records, application data,
 * alerts, tickets) waits in net_out until the proxy takes it right before
 * writing to the socket. Plaintext from the HTTP engine is held in `plain`
 * and sealed in one SSL_write per flush, so the many small pieces of one
 * response become full-size records rather than one record each.
 *
 * Upstream verification is OpenSSL's chain check against the originating
 * CA plus the name check set before the handshake: SSL_set1_host for a DNS
 * name (SAN, wildcards per RFC 6125), the IP SAN for an address (never sent
 * as SNI, RFC 6066). A failure never falls back to anything: the session is
 * FAILED with the reason, and the proxy answers 502.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int tls_conn_bios(struct proxy_tls_conn *t, SSL_CTX *ctx)
{
	t->ssl = SSL_new(ctx);
	t->net_in = BIO_new(BIO_s_mem());
	t->net_out = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->net_in || !t->net_out) {
		SSL_free(t->ssl);
		BIO_free(t->net_in);
		BIO_free(t->net_out);
		memset(t, 0, sizeof(*t));
		return -ENOMEM;
	}
	/* an empty BIO means "wait for more", never EOF */
	BIO_set_mem_eof_return(t->net_in, -1);
	BIO_set_mem_eof_return(t->net_out, -1);
	SSL_set_bio(t->ssl, t->net_in, t->net_out); /* the SSL owns both */
	SSL_set_app_data(t->ssl, t);
	return 0;
}

int proxy_tls_conn_server(struct proxy_tls_conn *t, SSL_CTX *ctx, struct proxy_tls_spec *spec,
			  char **err)
{
	memset(t, 0, sizeof(*t));
	if (tls_conn_bios(t, ctx))
		return sl_fail(err, ENOMEM, "out of memory");
	t->server = true;
	t->spec = proxy_tls_spec_ref(spec);
	t->sniff_only = !spec || !spec->term.secret;
	SSL_set_accept_state(t->ssl);
	return 0;
}

int proxy_tls_conn_client(struct proxy_tls_conn *t, SSL_CTX *ctx, const char *host,
			  const char *sess_key, char **err)
{
	unsigned char ip[16];
	bool is_ip;
	SSL_SESSION *sess;

	memset(t, 0, sizeof(*t));
	if (tls_conn_bios(t, ctx))
		return sl_fail(err, ENOMEM, "out of memory");
	SSL_set_connect_state(t->ssl);
	snprintf(t->sni, sizeof(t->sni), "%s", host ? host : "");
	snprintf(t->sess_key, sizeof(t->sess_key), "%s", sess_key ? sess_key : "");
	is_ip = inet_pton(AF_INET, t->sni, ip) == 1 || inet_pton(AF_INET6, t->sni, ip) == 1;
	if (!t->sni[0] ||
	    (is_ip && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), t->sni) != 1) ||
	    (!is_ip && (SSL_set_tlsext_host_name(t->ssl, t->sni) != 1 ||
			SSL_set1_host(t->ssl, t->sni) != 1))) {
		ERR_clear_error();
		proxy_tls_conn_free(t);
		return sl_fail(err, EINVAL, "cannot verify the upstream as \"%s\"", host ? host : "");
	}
	if (t->sess_key[0] && (sess = proxy_tls_session_get(ctx, t->sess_key))) {
		SSL_set_session(t->ssl, sess);
		SSL_SESSION_free(sess);
	}
	return 0;
}

void proxy_tls_conn_free(struct proxy_tls_conn *t)
{
	if (!t)
		return;
	/* A healthy session closed without close_notify (we close the socket
	 * between requests) would be dropped as "bad" by SSL_free, and its
	 * tickets with it: mark it shut down. */
	if (t->ssl && (t->state == PROXY_TLS_ESTABLISHED || t->state == PROXY_TLS_CLOSED))
		SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(t->ssl); /* and both BIOs */
	proxy_tls_spec_unref(t->spec);
	free(t->plain);
	free(t->sniff);
	memset(t, 0, sizeof(*t));
}

int proxy_tls_conn_feed(struct proxy_tls_conn *t, const char *p, size_t n)
{
	if (!n)
		return 0; /* realloc(sniff, len + 0) could free it (found by the fuzzer) */
	if (t->sniff_only && t->state == PROXY_TLS_HANDSHAKE) {
		/* keep the bytes as sent: they are forwarded once allowed */
		char *v;

		if (t->sniff_len + n > PROXY_TLS_SNIFF_MAX) {
			snprintf(t->reason, sizeof(t->reason), "ClientHello larger than %u bytes",
				 PROXY_TLS_SNIFF_MAX);
			t->state = PROXY_TLS_FAILED;
			return 0;
		}
		if (!(v = realloc(t->sniff, t->sniff_len + n)))
			return -ENOMEM;
		memcpy(v + t->sniff_len, p, n);
		t->sniff = v;
		t->sniff_len += n;
	}
	while (n) {
		int w = BIO_write(t->net_in, p, n > INT32_MAX ? INT32_MAX : (int)n);

		if (w <= 0)
			return -ENOMEM;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Whether an error reason is an alert a client sends when it does not
 * accept the server's certificate (OpenSSL reports a received alert as
 * SSL_AD_REASON_OFFSET + its code): bad_certificate (42) through
 * certificate_unknown (46), and unknown_ca (48), which is what a client
 * without the interception CA in its trust store sends.
 */
static bool tls_alert_untrusted(int reason)
{
	int alert = reason - SSL_AD_REASON_OFFSET;

	return (alert >= SSL3_AD_BAD_CERTIFICATE && alert <= SSL3_AD_CERTIFICATE_UNKNOWN) ||
	       alert == TLS1_AD_UNKNOWN_CA;
}

/* Records why the session failed. */
static int tls_conn_fail(struct proxy_tls_conn *t, int ssl_err)
{
	unsigned long e = ERR_peek_last_error();
	long vr = t->server ? X509_V_OK : SSL_get_verify_result(t->ssl);

	t->state = PROXY_TLS_FAILED;
	if (t->reason[0]) {
		/* set by the ClientHello callback */
	} else if (t->server && ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST) {
		t->plain_http = true;
		snprintf(t->reason, sizeof(t->reason), "plain HTTP request on a TLS port");
	} else if (t->server && tls_alert_untrusted(ERR_GET_REASON(e))) {
		char buf[120];

		t->peer_untrusted = true;
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(t->reason, sizeof(t->reason), "the client rejected the certificate: %s", buf);
	} else if (vr != X509_V_OK) {
		t->verify_failed = true;
		snprintf(t->reason, sizeof(t->reason), "certificate verify failed: %s",
			 X509_verify_cert_error_string(vr));
	} else if (e) {
		char buf[120];

		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(t->reason, sizeof(t->reason), "%s", buf);
	} else if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN) {
		snprintf(t->reason, sizeof(t->reason), "peer closed during the handshake");
	} else {
		snprintf(t->reason, sizeof(t->reason), "TLS error %d", ssl_err);
	}
	ERR_clear_error();
	return -EPROTO;
}

/* 1 done, 0 in progress (or sniffed), -EPROTO failed. */
static int tls_conn_handshake(struct proxy_tls_conn *t)
{
	int r, e;

	if (t->state == PROXY_TLS_ESTABLISHED)
		return 1;
	if (t->state == PROXY_TLS_SNIFFED)
		return 0;
	if (t->state != PROXY_TLS_HANDSHAKE)
		return -EPROTO;
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->state = PROXY_TLS_ESTABLISHED;
		t->resumed = SSL_session_reused(t->ssl);
		return 1;
	}
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_CLIENT_HELLO_CB && t->state == PROXY_TLS_SNIFFED)
		return 0;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return 0;
	}
	return tls_conn_fail(t, e);
}

int proxy_tls_conn_read(struct proxy_tls_conn *t, char *buf, size_t cap)
{
	int r, e;

	if (t->state == PROXY_TLS_CLOSED)
		return -EPIPE;
	r = tls_conn_handshake(t);
	if (r <= 0)
		return r;
	/*
	 * Nothing buffered in the session and no ciphertext waiting: SSL_read
	 * could only say "want read". The callers read until 0, so without
	 * this every record read cost a second, empty SSL_read (about a tenth
	 * of the proxy's user-space instructions per keep-alive request).
	 */
	if (!SSL_has_pending(t->ssl) && !BIO_ctrl_pending(t->net_in))
		return 0;
	r = SSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (r > 0)
		return r;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0; /* no error was queued for these: nothing to clear */
	if (e == SSL_ERROR_ZERO_RETURN) {
		t->state = PROXY_TLS_CLOSED;
		return -EPIPE;
	}
	return tls_conn_fail(t, e);
}

int proxy_tls_conn_queue(struct proxy_tls_conn *t, const char *p, size_t n)
{
	if (t->plen + n > t->pcap) {
		size_t ncap = t->pcap ? t->pcap : 4096;
		char *v;

		while (ncap < t->plen + n)
			ncap *= 2;
		if (!(v = realloc(t->plain, ncap)))
			return -ENOMEM;
		t->plain = v;
		t->pcap = ncap;
	}
	memcpy(t->plain + t->plen, p, n);
	t->plen += n;
	return 0;
}

int proxy_tls_conn_seal(struct proxy_tls_conn *t)
{
	int r;

	if (t->state != PROXY_TLS_HANDSHAKE && t->state != PROXY_TLS_ESTABLISHED)
		return 0; /* nothing to seal; an alert may still be waiting */
	r = tls_conn_handshake(t);

	if (r < 0)
		return r;
	if (r == 0 || !t->plen)
		return 0;
	/* memory BIOs grow: SSL_write takes everything at once */
	r = SSL_write(t->ssl, t->plain, t->plen > INT32_MAX ? INT32_MAX : (int)t->plen);
	if (r <= 0)
		return tls_conn_fail(t, SSL_get_error(t->ssl, r));
	memmove(t->plain, t->plain + r, t->plen - (size_t)r);
	t->plen -= (size_t)r;
	if (!t->plen && t->pcap > 64u * 1024u) {
		free(t->plain);
		t->plain = NULL;
		t->pcap = 0;
	}
	return 0;
}

void proxy_tls_conn_shutdown(struct proxy_tls_conn *t)
{
	if (t->ssl && t->state == PROXY_TLS_ESTABLISHED) {
		SSL_shutdown(t->ssl);
		ERR_clear_error();
	}
}

bool proxy_tls_conn_release(struct proxy_tls_conn *t)
{
	if (!t->ssl || t->state != PROXY_TLS_ESTABLISHED)
		return true; /* a handshake keeps its buffers until it ends */
	return SSL_free_buffers(t->ssl) == 1;
}

size_t proxy_tls_conn_out_pending(const struct proxy_tls_conn *t)
{
	return t->net_out ? (size_t)BIO_ctrl_pending(t->net_out) : 0;
}

size_t proxy_tls_conn_take(struct proxy_tls_conn *t, char *dst, size_t cap)
{
	int r;

	if (!cap || !t->net_out)
		return 0;
	r = BIO_read(t->net_out, dst, cap > INT32_MAX ? INT32_MAX : (int)cap);
	return r > 0 ? (size_t)r : 0;
}

void proxy_tls_conn_info(const struct proxy_tls_conn *t, struct proxy_tls_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!t->ssl)
		return;
	if (t->state == PROXY_TLS_ESTABLISHED || t->state == PROXY_TLS_CLOSED)
		out->version = SSL_get_version(t->ssl);
	out->sni = t->sni[0] ? t->sni : NULL;
	if (!t->server)
		out->verify = t->verify_failed ? t->reason :
			      t->state == PROXY_TLS_ESTABLISHED ? "ok" : NULL;
}
