/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tls_client_hello.c - libFuzzer target for what reads a ClientHello:
 * OpenSSL's parser driving our client-hello callback (serverNames check,
 * server_name extension reader) in sniff mode, and the extension reader
 * alone on the raw input. The input is also fed in two pieces, as a socket
 * would deliver it.
 *
 *   cmake -DSLUICE_FUZZ=ON -DCMAKE_C_COMPILER=clang ...; ./fuzz_tls_client_hello
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

static struct proxy_tls_store *fz_store;
static struct proxy_tls_spec *fz_spec;

static void fz_run(const uint8_t *data, size_t size, size_t cut)
{
	struct proxy_tls_conn t;
	char buf[4096];
	size_t fed;
	SSL_CTX *ctx = proxy_tls_server_ctx(fz_store, fz_spec, NULL);

	if (!ctx || proxy_tls_conn_server(&t, ctx, fz_spec, NULL)) {
		SSL_CTX_free(ctx);
		return;
	}
	SSL_CTX_free(ctx);
	proxy_tls_conn_feed(&t, (const char *)data, cut);
	proxy_tls_conn_read(&t, buf, sizeof(buf));
	fed = cut;
	/* as proxy_client_tls_in does: once sniffed (or failed) the session is
	 * handed over and sees no more bytes */
	if (t.state == PROXY_TLS_HANDSHAKE) {
		proxy_tls_conn_feed(&t, (const char *)data + cut, size - cut);
		proxy_tls_conn_read(&t, buf, sizeof(buf));
		fed = size;
	}
	while (proxy_tls_conn_take(&t, buf, sizeof(buf)))
		;
	if (t.state == PROXY_TLS_SNIFFED && t.sniff_len != fed)
		abort(); /* sniff mode must keep every byte it was given */
	proxy_tls_conn_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[PROXY_TLS_MAX_NAME + 1];

	if (!fz_store) {
		fz_store = proxy_tls_store_new();
		fz_spec = proxy_tls_spec_new();
		proxy_tls_spec_add_server_name(fz_spec, "*.example.com");
		proxy_tls_spec_add_server_name(fz_spec, "**.deep.test");
	}
	if (proxy_tls_sni_parse(data, size, name, sizeof(name)) == 0 &&
	    strlen(name) > PROXY_TLS_MAX_NAME)
		abort();
	if (size > 2 * PROXY_TLS_SNIFF_MAX)
		return 0;
	fz_run(data, size, size);
	fz_run(data, size, size / 2);
	return 0;
}
