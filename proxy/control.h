/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control.h - the proxy's side of the agent <-> proxy control channel
 * (docs/proxy-control.md): a unix SOCK_SEQPACKET socket at PATH (0600), one
 * agent at a time (a new one replaces the old), one JSON object per
 * datagram, fds as SCM_RIGHTS.
 *
 * The agent configures endpoints, names and rules (into the datapath
 * resolver and the server); the proxy answers, sends the access records
 * (binary batches, or one "access" message per request to an agent that did
 * not ask for batches), writes the access log on the fd the agent gave it,
 * and sends "stats" every second. Without an agent the access
 * records go to stdout as plain access-log lines (nothing is lost silently),
 * and the configuration in place keeps serving until the next agent or the
 * end of the orphan grace period, whichever comes first.
 */
#ifndef SLUICE_PROXY_CONTROL_H
#define SLUICE_PROXY_CONTROL_H

#include <uv.h>

#include "proxy.h"

struct proxy_control;

/*
 * Listens on path (replacing a stale socket file) and takes over srv's event
 * hook. res must be the datapath resolver srv was made with. on_drain is
 * called when the agent asks for a drain (the caller drains the server and,
 * once it is gone, calls proxy_control_close()). 0 or a negative errno with
 * *err (malloc'd).
 */
int proxy_control_start(uv_loop_t *loop, struct proxy_server *srv, struct proxy_resolver *res,
			const char *path, const char *node, void (*on_drain)(void *ctx),
			void *drain_ctx, struct proxy_control **out, char **err);

/*
 * Without an agent for ms milliseconds (from now if none is connected, or
 * from the moment one disconnects) the proxy fails closed: on_drain is
 * called, as for the agent's "drain". 0 (the default) serves without an
 * agent forever.
 */
void proxy_control_set_orphan_grace(struct proxy_control *c, uint32_t ms);

/* For the proxy's /readyz (health.h): serving a configuration that a
 * connected agent gave it; otherwise *why says what is missing. */
bool proxy_control_ready(void *ctx, const char **why);

/* The server is draining: configuration messages are ignored from now on,
 * new agents are not accepted; access records and stats still flow. */
void proxy_control_draining(struct proxy_control *c);

/* Closes the channel (after a last flush) and frees c once its handles are
 * closed. The server and resolver may already be gone. */
void proxy_control_close(struct proxy_control *c);

#endif /* SLUICE_PROXY_CONTROL_H */
