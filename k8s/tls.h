/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.h - TLS client sessions over memory BIOs, so that the bytes travel on
 * a libuv stream and nothing ever blocks.
 */
#ifndef SLUICE_K8S_TLS_H
#define SLUICE_K8S_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "client.h"

/* The client's context: CA (file, PEM data or system roots), client
 * certificate and key, TLS 1.2 minimum, verification unless insecure. */
int k8s_tls_ctx_new(const struct k8s_config *cfg, SSL_CTX **out, char **err);

struct k8s_tls {
	SSL *ssl;
	BIO *in, *out; /* ciphertext from / to the network */
	bool established;
};

/* host: what the certificate must name (DNS name, or an IP address,
 * brackets allowed); also sent as SNI when it is a name. */
int k8s_tls_start(struct k8s_tls *t, SSL_CTX *ctx, const char *host, bool verify, char **err);
void k8s_tls_free(struct k8s_tls *t);

/* Ciphertext arrived from the network. */
int k8s_tls_feed(struct k8s_tls *t, const char *data, size_t len, char **err);
/* Encrypts plaintext (drives the handshake first). Returns bytes taken,
 * 0 when the handshake needs the peer first, or -errno with *err. */
int k8s_tls_write(struct k8s_tls *t, const char *data, size_t len, char **err);
/* Decrypted bytes into buf: >0 bytes, 0 nothing more for now, -EPIPE on a
 * clean close_notify, other -errno on failure with *err. */
int k8s_tls_read(struct k8s_tls *t, char *buf, size_t len, char **err);
/* Ciphertext waiting to be sent: a malloc'd copy in *out (NULL: none). */
size_t k8s_tls_take_output(struct k8s_tls *t, char **out);

#endif
