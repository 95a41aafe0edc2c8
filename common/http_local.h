/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_local.h - small local HTTP/1.1 servers (the agent's /metrics, /healthz,
 * /readyz; the proxy's --health): one GET per connection, answered from a
 * route callback, then closed. Meant for scrapers and kubelet probes, not
 * for browsers.
 */
#ifndef SLUICE_HTTP_LOCAL_H
#define SLUICE_HTTP_LOCAL_H

#include <uv.h>

struct http_local;

struct http_reply {
	const char *status;  /* "200 OK" */
	const char *ctype;   /* Content-Type */
	char *body;          /* malloc'd; the server frees it */
};

/* Fills *r for `method path` (path without the query). Return 0 when the
 * route is known, -ENOENT for a 404. */
typedef int (*http_local_route)(void *ctx, const char *method, const char *path,
				struct http_reply *r);

/* Serves on ADDR (HOST:PORT, IPv4 or IPv6 without brackets); `what` names
 * the option in errors ("--metrics"). */
int http_local_start(uv_loop_t *loop, const char *addr, const char *what, http_local_route route,
		     void *ctx, struct http_local **out, char **err);
/* Closes the listener; the handle frees itself once closed. NULL is fine. */
void http_local_stop(struct http_local *h);
/* Parses HOST:PORT into a socket address. */
int http_local_parse_addr(const char *addr, const char *what, struct sockaddr_storage *ss,
			  char **err);

#endif
