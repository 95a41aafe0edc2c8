/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.h - the proxy's TLS, without any I/O (OpenSSL 3 on memory BIOs).
 *
 *  - tls_sni.c: serverNames patterns (Cilium's wildcard rules) and the
 *    server_name extension reader used in the ClientHello callback;
 *  - tls_ctx.c: secrets (name -> PEM items), the SSL_CTX built from each,
 *    cached and dropped when the secret changes, and the per-port TLS spec
 *    (terminating / originating secret references, serverNames);
 *  - tls_conn.c: one TLS session: ciphertext in, plaintext out and back.
 *
 * proxy.c drives sessions from libuv (the transport hook): bytes read from a
 * socket go through proxy_tls_conn_feed()/read(), plaintext the HTTP engine
 * produces is queued with proxy_tls_conn_queue() and sealed into records
 * just before the socket write. Proxy sockets carrying TLS never enter the
 * sk_msg redirect: the redirect would hand plaintext across before any
 * encryption (this kernel has no kTLS, CONFIG_TLS off, so sessions stay in
 * user space).
 */
#ifndef SLUICE_PROXY_TLS_H
#define SLUICE_PROXY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define PROXY_TLS_MAX_NAME 253u          /* a DNS name */
/* "ADDR:PORT/NAME", the client-side resumption key: an IPv6 text address
 * (46 with its NUL), a colon, a port (5), a slash and a name */
#define PROXY_TLS_SESS_KEY_MAX (PROXY_TLS_MAX_NAME + 64u)
#define PROXY_TLS_SNIFF_MAX (16u * 1024u) /* ClientHello bytes held when not terminating */

/* ---- serverNames (tls_sni.c) ------------------------------------------ */

/*
 * Cilium's serverNames semantics: names compare case-insensitively; `*`
 * alone matches any name; inside a label `*` matches [-a-z0-9_]* (so
 * "*.example.com" matches "a.example.com", not "a.b.example.com" nor
 * "example.com"); a `**` label matches one or more whole labels
 * ("**.example.com" matches "a.b.example.com"). A trailing dot is ignored.
 */
bool proxy_tls_sni_match(const char *pattern, const char *name);
/* A pattern's shape as the CRD allows it: ^([-a-zA-Z0-9_*]+[.]?)+$ */
bool proxy_tls_sni_pattern_valid(const char *pattern);
/*
 * Reads the host_name out of a server_name extension body (RFC 6066 3):
 * returns 0 and a NUL-terminated lower-case name in out (size >= 254),
 * -ENOENT when the list has no host_name, -EINVAL when it is malformed or
 * the name is not a plausible DNS name (empty, too long, bytes outside
 * [-a-zA-Z0-9_.]).
 */
int proxy_tls_sni_parse(const unsigned char *ext, size_t len, char *out, size_t outsz);

/* ---- secrets and contexts (tls_ctx.c) ---------------------------------- */

struct proxy_secret_item {
	const char *key;     /* "tls.crt", "tls.key", "ca.crt", ... */
	const char *data;    /* PEM */
	size_t len;
};

/* A reference from a policy port to a secret (Cilium's TLSContext). */
struct proxy_tls_ref {
	char *secret;        /* "namespace/name"; NULL = not set */
	char *ca_key;        /* trustedCA, default "ca.crt" */
	char *cert_key;      /* certificate, default "tls.crt" */
	char *key_key;       /* privateKey, default "tls.key" */
};

/* The TLS part of one rules-table entry; refcounted, immutable once built. */
struct proxy_tls_spec {
	unsigned refs;
	struct proxy_tls_ref term;   /* terminatingTLS: the client's session */
	struct proxy_tls_ref orig;   /* originatingTLS: the upstream session */
	char **server_names;         /* serverNames; n == 0: any SNI (or none) */
	size_t nserver_names;
	bool tcp;                    /* no HTTP rules: after TLS, bytes both ways
				      * (a TLS-aware TCP proxy, as Cilium) */
};

struct proxy_tls_spec *proxy_tls_spec_new(void);
struct proxy_tls_spec *proxy_tls_spec_ref(struct proxy_tls_spec *s);
void proxy_tls_spec_unref(struct proxy_tls_spec *s);
/* Sets a reference (NULL key names take the defaults). */
int proxy_tls_ref_set(struct proxy_tls_ref *r, const char *secret, const char *ca_key,
		      const char *cert_key, const char *key_key);
int proxy_tls_spec_add_server_name(struct proxy_tls_spec *s, const char *pattern);
/* Whether the spec makes the proxy handle TLS on the client side. */
static inline bool proxy_tls_spec_client_side(const struct proxy_tls_spec *s)
{
	return s && (s->term.secret || s->nserver_names);
}

struct proxy_tls_store;

struct proxy_tls_limits {
	uint32_t handshake_timeout_ms; /* client-side handshake deadline; 10000 */
	uint32_t max_handshakes;       /* concurrent client-side handshakes; 1024 */
};

struct proxy_tls_store *proxy_tls_store_new(void);
void proxy_tls_store_free(struct proxy_tls_store *st);
/*
 * Adds or replaces a secret (identical data: nothing changes, contexts
 * stay). Contexts built from the previous version are
 * dropped from the cache (connections holding them keep them); the next
 * connection builds its context from the new data.
 */
int proxy_tls_store_set(struct proxy_tls_store *st, const char *name,
			const struct proxy_secret_item *items, size_t n);
int proxy_tls_store_clear(struct proxy_tls_store *st);
/* Deletes every secret not named (after a full snapshot was set). */
int proxy_tls_store_retain(struct proxy_tls_store *st, const char *const *names, size_t n);
int proxy_tls_store_delete(struct proxy_tls_store *st, const char *name);
size_t proxy_tls_store_size(const struct proxy_tls_store *st);

/*
 * The server context for a spec: the terminating certificate and key (no
 * client certificate is ever requested, whatever else the secret holds:
 * cilium#31761), or, without terminatingTLS, a context that only reads the
 * ClientHello (serverNames without interception). A new reference
 * (SSL_CTX_free it), or NULL with *err naming the secret and key.
 */
SSL_CTX *proxy_tls_server_ctx(struct proxy_tls_store *st, const struct proxy_tls_spec *spec,
			      char **err);
/* The client context for spec->orig: the trusted CA bundle, verification,
 * ALPN http/1.1, a client session cache (tickets). New reference or NULL. */
SSL_CTX *proxy_tls_client_ctx(struct proxy_tls_store *st, const struct proxy_tls_spec *spec,
			      char **err);

/* The client contexts' resumption cache (tls_ctx.c): a new reference or
 * NULL; put takes the caller's reference. */
SSL_SESSION *proxy_tls_session_get(SSL_CTX *ctx, const char *key);
void proxy_tls_session_put(SSL_CTX *ctx, const char *key, SSL_SESSION *sess);

/* ---- sessions (tls_conn.c) --------------------------------------------- */

enum proxy_tls_state {
	PROXY_TLS_HANDSHAKE = 0,
	PROXY_TLS_ESTABLISHED,
	PROXY_TLS_SNIFFED,     /* ClientHello read and allowed; not terminating */
	PROXY_TLS_FAILED,      /* see conn->reason */
	PROXY_TLS_CLOSED,      /* close_notify received */
};

/* What the access log shows about a session. */
struct proxy_tls_info {
	const char *version;   /* "TLSv1.3", NULL before the handshake */
	const char *sni;       /* NULL when none */
	const char *verify;    /* upstream: "ok" or the failure reason */
};

struct proxy_tls_conn {
	SSL *ssl;
	BIO *net_in, *net_out;          /* ciphertext from / to the socket */
	struct proxy_tls_spec *spec;    /* server side: for the SNI check */
	char *plain;                    /* plaintext waiting for the handshake */
	size_t plen, pcap;
	char *sniff;                    /* ClientHello bytes as received (sniff mode) */
	size_t sniff_len;
	char sni[PROXY_TLS_MAX_NAME + 1];
	char sess_key[PROXY_TLS_SESS_KEY_MAX]; /* client side: resumption cache key */
	char reason[160];               /* why it failed */
	uint8_t state;                  /* enum proxy_tls_state */
	bool server, sniff_only, sni_denied, resumed, verify_failed;
	bool plain_http;                /* the client sent plaintext HTTP */
	bool peer_untrusted;            /* server side: the client rejected our
					 * certificate (a certificate alert) */
};

/*
 * Server side of the client's connection. With spec->term unset, the
 * session only reads the ClientHello (sniff mode): once the SNI is checked
 * the state is PROXY_TLS_SNIFFED and the bytes received so far are in
 * t->sniff, to be passed on as they are.
 */
int proxy_tls_conn_server(struct proxy_tls_conn *t, SSL_CTX *ctx, struct proxy_tls_spec *spec,
			  char **err);
/*
 * Client side toward the upstream. host (the request's Host without its
 * port, or the original destination's address) is sent as SNI when it is a
 * name and is what the certificate must name (SAN, or IP SAN for an
 * address). sess_key names the upstream (address, port, host) in the
 * context's session cache: a ticket kept from an earlier session to it is
 * offered, and new tickets are kept there.
 */
int proxy_tls_conn_client(struct proxy_tls_conn *t, SSL_CTX *ctx, const char *host,
			  const char *sess_key, char **err);
void proxy_tls_conn_free(struct proxy_tls_conn *t);

/* Ciphertext from the network; < 0 only on allocation failure. */
int proxy_tls_conn_feed(struct proxy_tls_conn *t, const char *p, size_t n);
/* Plaintext out: > 0 bytes, 0 nothing more for now (check t->state: the
 * handshake may have failed or finished), -EPIPE after close_notify,
 * -EPROTO on failure (t->reason). Drives the handshake. */
int proxy_tls_conn_read(struct proxy_tls_conn *t, char *buf, size_t cap);
/* Plaintext to send; held until sealed. */
int proxy_tls_conn_queue(struct proxy_tls_conn *t, const char *p, size_t n);
static inline size_t proxy_tls_conn_held(const struct proxy_tls_conn *t)
{
	return t->plen;
}
/* Drives the handshake and turns held plaintext into records (once the
 * handshake is done). 0, or -EPROTO (t->reason). */
int proxy_tls_conn_seal(struct proxy_tls_conn *t);
/* Queues close_notify. */
void proxy_tls_conn_shutdown(struct proxy_tls_conn *t);
/*
 * Frees an established session's record buffers (about 17 KB each way);
 * the next record allocates them again. False while a partial record is
 * held (try again later). The proxy calls it for connections idle a while,
 * instead of SSL_MODE_RELEASE_BUFFERS, which freed and allocated them
 * again for every request of a busy keep-alive connection.
 */
bool proxy_tls_conn_release(struct proxy_tls_conn *t);
/* Ciphertext waiting to be written, and taking it. */
size_t proxy_tls_conn_out_pending(const struct proxy_tls_conn *t);
size_t proxy_tls_conn_take(struct proxy_tls_conn *t, char *dst, size_t cap);
void proxy_tls_conn_info(const struct proxy_tls_conn *t, struct proxy_tls_info *out);

#endif /* SLUICE_PROXY_TLS_H */
