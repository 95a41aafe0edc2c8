/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.c - see health.h: two routes on the local HTTP server the agent
 * uses for its own probes (common/http_local.c). /healthz answers from the
 * event loop itself, so a wedged loop fails the liveness probe; /readyz asks
 * the control channel whether the proxy serves a configuration an agent
 * gave it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "http_local.h"
#include "util.h"

struct proxy_health {
	struct http_local *srv;
	proxy_health_ready_fn ready;
	void *ctx;
};

static int health_route(void *ctx, const char *method, const char *path, struct http_reply *r)
{
	struct proxy_health *h = ctx;
	const char *why = NULL;

	r->ctype = "text/plain";
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		r->status = "405 Method Not Allowed";
		r->body = sl_xstrdup("GET only\n");
	} else if (!strcmp(path, "/healthz")) {
		r->status = "200 OK";
		r->body = sl_xstrdup("ok\n");
	} else if (!strcmp(path, "/readyz")) {
		if (h->ready(h->ctx, &why)) {
			r->status = "200 OK";
			r->body = sl_xstrdup("ready\n");
		} else {
			r->status = "503 Service Unavailable";
			r->body = sl_strdupf("not ready: %s\n", why ? why : "?");
		}
	} else {
		return -ENOENT;
	}
	return 0;
}

int proxy_health_start(uv_loop_t *loop, const char *addr, proxy_health_ready_fn ready, void *ctx,
		       struct proxy_health **out, char **err)
{
	struct proxy_health *h = sl_xcalloc(1, sizeof(*h));
	int rc;

	*out = NULL;
	h->ready = ready;
	h->ctx = ctx;
	rc = http_local_start(loop, addr, "--health", health_route, h, &h->srv, err);
	if (rc) {
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void proxy_health_stop(struct proxy_health *h)
{
	if (!h)
		return;
	http_local_stop(h->srv);
	free(h);
}
