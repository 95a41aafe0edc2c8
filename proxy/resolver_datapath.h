/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolver_datapath.h - the resolver for agent mode: who is talking to whom,
 * from the kernel datapath (the maps the agent pinned, dp_proxy.h) and the
 * endpoints and names the agent sends over the control channel.
 *
 * Per accepted socket (docs/proxy-control.md, "Resolving a connection"):
 *  - local address podIP:port (sk_lookup, no NAT): ingress of that pod; the
 *    peer's identity from the ipcache; upstream = a socket made in the pod's
 *    netns connecting to podIP:port.
 *  - local address 127.0.0.1:15001 (connect4): egress of the pod whose
 *    listener accepted it; original destination and its identity from the
 *    orig_dst map; upstream = a socket made in the pod's netns, bound to the
 *    pod's address, registered in proxy_flows (removed when it closes).
 * Anything else, or a lookup that fails, is refused (reset): fail closed.
 */
#ifndef SLUICE_PROXY_RESOLVER_DATAPATH_H
#define SLUICE_PROXY_RESOLVER_DATAPATH_H

#include <stddef.h>
#include <stdint.h>

#include "proxy.h"

struct sluice_dp_proxy;

/* Takes ownership of dp (closed with the resolver). NULL on ENOMEM. */
struct proxy_resolver *proxy_resolver_datapath_new(struct sluice_dp_proxy *dp);

/* An endpoint as the agent describes it. */
struct proxy_dp_endpoint_info {
	uint32_t ep_id;
	uint32_t identity;
	uint32_t ip_be;      /* the pod's IPv4 address, network order */
	const char *ns, *pod;
};

/*
 * Adds (or replaces: the old listener stops accepting, its connections carry
 * on) an endpoint and starts accepting on listener_fd in srv. Takes both fds,
 * also on error. 0 or a negative errno, *err (malloc'd) says why.
 */
int proxy_resolver_datapath_endpoint_set(struct proxy_resolver *r, struct proxy_server *srv,
					 const struct proxy_dp_endpoint_info *info,
					 int listener_fd, int netns_fd, char **err);
/* Stops accepting for ep_id and forgets it; -ENOENT when unknown. */
int proxy_resolver_datapath_endpoint_delete(struct proxy_resolver *r, uint32_t ep_id);

/* The known endpoints: calls cb for each with its listening socket (owned
 * by the proxy: dup it to hand it out). */
void proxy_resolver_datapath_endpoints(struct proxy_resolver *r,
				       void (*cb)(void *ctx, uint32_t ep_id, int listener_fd),
				       void *ctx);
size_t proxy_resolver_datapath_endpoint_count(struct proxy_resolver *r);

/* The listeners are gone (the server closes them when it drains). */
void proxy_resolver_datapath_forget_listeners(struct proxy_resolver *r);

/* Pod names for access logs: replaces the whole table (strings copied). */
struct proxy_dp_name {
	uint32_t ip_be;
	const char *ns, *pod;
};
int proxy_resolver_datapath_set_names(struct proxy_resolver *r, const struct proxy_dp_name *names,
				      size_t n);

#endif /* SLUICE_PROXY_RESOLVER_DATAPATH_H */
