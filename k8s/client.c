/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client.c - the client handle (see client.h): where the server is, the TLS
 * context, the token source, counters, and the requests it builds.
 *
 * The handle is reference counted: the owner holds one reference, and every
 * one-shot call and watch alive holds one, because their libuv handles close
 * asynchronously and may still need the loop pointer and the counters after
 * k8s_client_free() returned. Nothing outside this file sees the count.
 *
 * Two environment variables exist for tests and are read once here:
 * SLUICE_K8S_WATCH_TIMEOUT (fixed timeoutSeconds for every watch instead of
 * a random 300-600 s) and SLUICE_K8S_PAGE_SIZE (the LIST limit, 500);
 * SLUICE_K8S_DEBUG=1 prints every watch transition on stderr.
 */
#include "client_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"
#include "util.h"

#ifndef SLUICE_K8S_VERSION
#define SLUICE_K8S_VERSION "0"
#endif

void k8s_client_ref(struct k8s_client *c)
{
	c->refs++;
}

void k8s_client_unref(struct k8s_client *c)
{
	if (--c->refs > 0)
		return;
	k8s_http_pool_close(&c->pool);
	if (c->ssl_ctx)
		SSL_CTX_free(c->ssl_ctx);
	k8s_token_free(&c->token);
	free(c->host);
	free(c->port);
	free(c->host_header);
	free(c->base_path);
	free(c);
}

static unsigned client_env_uint(const char *name, unsigned dflt, unsigned max)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return dflt;
	unsigned long n = strtoul(v, &end, 10);
	if (*end || n == 0 || n > max)
		return dflt;
	return (unsigned)n;
}

/* The backoff of collections answered 403/404: client-go's reflector
 * backs off from 800 ms to a 30 s cap; ours from 1 s. "BASE,CAP" in ms
 * from the environment (tests); a bad value keeps the defaults. */
static void client_refused_retry(struct k8s_client *c)
{
	const char *v = getenv("SLUICE_K8S_REFUSED_RETRY_MS");
	unsigned long base, cap;
	char *end;

	c->refused_base_ms = 1000;
	c->refused_cap_ms = 30000;
	if (!v || !*v)
		return;
	base = strtoul(v, &end, 10);
	if (*end != ',' || !base)
		return;
	cap = strtoul(end + 1, &end, 10);
	if (*end || cap < base || cap > 3600000)
		return;
	c->refused_base_ms = base;
	c->refused_cap_ms = cap;
}

void k8s_client_count_status(struct k8s_client *c, int status)
{
	if (status == 403)
		c->stats.forbidden++;
	else if (status == 404)
		c->stats.not_found++;
	else
		c->stats.errors++;
}

/* "https://host[:port][/prefix]" -> parts; IPv6 literals in brackets. */
static int client_parse_server(struct k8s_client *c, const char *server, bool *tls, char **err)
{
	const char *p;
	if (!server || !*server)
		return sl_fail(err, EINVAL, "no server address in the configuration");
	if (strncmp(server, "https://", 8) == 0) {
		*tls = true;
		p = server + 8;
	} else if (strncmp(server, "http://", 7) == 0) {
		*tls = false;
		p = server + 7;
	} else {
		return sl_fail(err, EINVAL, "server %s: must start with https:// or http://", server);
	}
	const char *slash = strchr(p, '/');
	size_t authlen = slash ? (size_t)(slash - p) : strlen(p);
	char *auth = sl_strdupf("%.*s", (int)authlen, p);
	const char *port = NULL;
	int r = 0;
	if (auth[0] == '[') {
		char *close = strchr(auth, ']');
		if (!close || (close[1] && close[1] != ':')) {
			r = sl_fail(err, EINVAL, "server %s: bad IPv6 address", server);
			goto out;
		}
		if (close[1] == ':')
			port = close + 2;
		c->host = sl_strdupf("%.*s", (int)(close - auth + 1), auth);
	} else {
		char *colon = strchr(auth, ':');
		if (colon)
			port = colon + 1;
		c->host = sl_strdupf("%.*s", (int)(colon ? (size_t)(colon - auth) : strlen(auth)),
				     auth);
	}
	if (!c->host[0] || (port && (!*port || strspn(port, "0123456789") != strlen(port) ||
				     atoi(port) <= 0 || atoi(port) > 65535))) {
		r = sl_fail(err, EINVAL, "server %s: bad host or port", server);
		goto out;
	}
	c->port = sl_xstrdup(port ? port : (*tls ? "443" : "80"));
	c->host_header = port ? sl_xstrdup(auth) : sl_xstrdup(c->host);
	/* "https://host/prefix/" -> "/prefix" */
	c->base_path = sl_xstrdup(slash ? slash : "");
	size_t bl = strlen(c->base_path);
	while (bl && c->base_path[bl - 1] == '/')
		c->base_path[--bl] = 0;
out:
	free(auth);
	return r;
}

int k8s_client_new(uv_loop_t *loop, const struct k8s_config *cfg, struct k8s_client **out,
		   char **err)
{
	struct k8s_client *c = sl_xcalloc(1, sizeof(*c));
	bool tls = false;
	int r;

	*out = NULL;
	c->loop = loop;
	c->refs = 1;
	r = client_parse_server(c, cfg->server, &tls, err);
	if (r)
		goto fail;
	if (tls) {
		r = k8s_tls_ctx_new(cfg, &c->ssl_ctx, err);
		if (r)
			goto fail;
	}
	c->verify = !cfg->insecure;
	r = k8s_token_init(&c->token, cfg->token, cfg->token_file, err);
	if (r)
		goto fail;
	k8s_backoff_init(&c->rng, 0, 0, 0);
	k8s_http_pool_init(&c->pool, K8S_POOL_MAX_IDLE, K8S_POOL_IDLE_MS);
	c->watch_timeout_s = client_env_uint("SLUICE_K8S_WATCH_TIMEOUT", 0, 86400);
	c->page_size = client_env_uint("SLUICE_K8S_PAGE_SIZE", 500, 100000);
	client_refused_retry(c);
	c->debug = client_env_uint("SLUICE_K8S_DEBUG", 0, 1) == 1;
	/* tests that rotate tokens need the 401 path, not a periodic re-read
	 * that may or may not fall between the rotation and the next request */
	unsigned age = client_env_uint("SLUICE_K8S_TOKEN_MAX_AGE", 0, 86400);
	if (age)
		c->token.max_age_ns = (uint64_t)age * 1000000000ull;
	*out = c;
	return 0;
fail:
	k8s_client_unref(c);
	return r;
}

void k8s_client_free(struct k8s_client *c)
{
	if (!c || c->freed)
		return;
	c->freed = true;
	while (c->calls)
		k8s_call_cancel(c->calls);
	k8s_watch_stop_all(c);
	k8s_http_pool_close(&c->pool);
	k8s_client_unref(c);
}

void k8s_client_stats(const struct k8s_client *c, struct k8s_client_stats *out)
{
	*out = c->stats;
	out->token_reloads = c->token.reloads;
	out->connections = c->pool.opened;
	out->reused = c->pool.reused;
}

char *k8s_client_build_request(struct k8s_client *c, const char *method, const char *path,
			       const char *content_type, const char *body, size_t body_len,
			       bool keepalive, size_t *len_out)
{
	const char *token = k8s_token_get(&c->token);
	char *auth = token ? sl_strdupf("Authorization: Bearer %s\r\n", token) : sl_xstrdup("");
	char *ctype = body ? sl_strdupf("Content-Type: %s\r\nContent-Length: %zu\r\n",
					 content_type ? content_type : "application/json", body_len)
			   : sl_xstrdup("");
	char *head = sl_strdupf("%s %s%s HTTP/1.1\r\n"
				"Host: %s\r\n"
				"User-Agent: sluice/" SLUICE_K8S_VERSION "\r\n"
				"Accept: application/json\r\n"
				"%s%s%s\r\n",
				method, c->base_path, path, c->host_header, auth, ctype,
				keepalive ? "" : "Connection: close\r\n");
	size_t hl = strlen(head);
	char *req = realloc(head, hl + body_len + 1);
	if (!req)
		abort();
	if (body_len)
		memcpy(req + hl, body, body_len);
	req[hl + body_len] = 0;
	*len_out = hl + body_len;
	free(auth);
	free(ctype);
	return req;
}

int k8s_client_http(struct k8s_client *c, const char *method, const char *path,
		    const char *content_type, const char *body, size_t body_len,
		    bool keepalive, uint64_t idle_ms, const struct k8s_http_ops *ops, void *ctx,
		    struct k8s_http **out, char **err)
{
	size_t len;
	char *req = k8s_client_build_request(c, method, path, content_type, body, body_len,
					     keepalive, &len);
	struct k8s_http_target t = {.host = c->host, .port = c->port, .tls = c->ssl_ctx,
				    .verify = c->verify, .pool = keepalive ? &c->pool : NULL};
	c->stats.requests++;
	int r = k8s_http_start(c->loop, &t, req, len, idle_ms, ops, ctx, out, err);
	if (r)
		c->stats.errors++;
	return r;
}

void k8s_client_debug(const struct k8s_client *c, const char *fmt, ...)
{
	va_list ap;
	if (!c->debug)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "k8s: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

const char *k8s_status_message(json_t *body)
{
	if (!json_is_object(body))
		return NULL;
	const char *kind = json_string_value(json_object_get(body, "kind"));
	if (kind && strcmp(kind, "Status") != 0)
		return NULL;
	return json_string_value(json_object_get(body, "message"));
}
