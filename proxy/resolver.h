/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolver.h - THE SEAM between the proxy and the datapath steering.
 *
 * For every accepted connection the proxy asks a resolver who is talking to
 * whom: which endpoint the policy belongs to, in which direction, the peer's
 * security identity, and where the connection was originally going. The
 * proxy then connects upstream to flow.orig_dst and, per request, looks up
 * rules under (ep_id, direction, orig_dst port, peer_identity).
 *
 * Implementations:
 *  - static (resolver_static.c): one upstream, one peer identity; used by
 *    `sluice-proxy --upstream ... --peer-identity N` and by the tests.
 *  - datapath (resolver_datapath.c): endpoints, listeners and names come
 *    from the agent over the control channel (control.c); ingress flows
 *    (sk_lookup, no NAT) are recognised by getsockname() = podIP:port,
 *    egress flows (connect4) by 127.0.0.1:15001 and the original
 *    destination the datapath recorded; identities come from the pinned
 *    ipcache; upstream sockets are made inside the pod's netns.
 *
 * Contract:
 *  - resolve() runs on the proxy's loop thread, synchronously, right after
 *    accept(); it must not block. Returning < 0 refuses the connection (it is
 *    reset, counted as refused): fail closed, e.g. for an unknown flow.
 *  - Strings it puts in the flow (pod, namespace) must stay valid until
 *    release() is called for that flow (at connection close). release() may
 *    be NULL when nothing needs freeing.
 *  - The peer identity is decided here, from the connection, never from
 *    request headers such as X-Forwarded-For (cilium S6).
 */
#ifndef SLUICE_PROXY_RESOLVER_H
#define SLUICE_PROXY_RESOLVER_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

union proxy_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* One end of a flow, as the access log shows it. */
struct proxy_flow_end {
	const char *pod;       /* NULL = unknown */
	const char *ns;
	uint32_t identity;
	union proxy_sockaddr addr;
};

struct proxy_flow {
	uint32_t ep_id;          /* the endpoint whose policy applies */
	uint8_t direction;       /* SLUICE_DIR_INGRESS / SLUICE_DIR_EGRESS */
	uint32_t peer_identity;  /* the other side's identity */
	union proxy_sockaddr orig_dst; /* where the upstream connection goes */
	struct proxy_flow_end src, dst;
	void *resolver_data;     /* for release() */
	/* Where upstream_socket() makes its sockets (datapath: the endpoint,
	 * i.e. the pod's netns and the source address). With ep_id, direction
	 * and orig_dst it is the key of the proxy's idle upstream connections:
	 * a pooled connection serves any flow with the same key. It must stay
	 * valid while an upstream connection made for it lives (its up_data
	 * holds a reference). NULL: one scope (static mode). */
	const void *up_scope;
};

struct proxy_resolver {
	/* fd: the accepted socket; listener_data: what the listener was
	 * registered with (proxy_server_listen_fd()), NULL otherwise. */
	int (*resolve)(struct proxy_resolver *r, int fd, void *listener_data,
		       const union proxy_sockaddr *peer,
		       const union proxy_sockaddr *local,
		       struct proxy_flow *out);
	/* Optional. The socket for an upstream connection of flow, made by the
	 * resolver: e.g. inside the pod's netns, bound to the pod IP, registered
	 * where tc lets it out. Not connected yet; the proxy owns it and
	 * connects it to flow->orig_dst. A negative errno fails the request
	 * (503, never a fallback to a plain socket); no hook = a plain socket.
	 * Called for every new upstream connection; upstream_closed() follows
	 * every successful call, with what it put in *up_data. The connection
	 * may outlive the flow (the pool: it then serves other flows of the
	 * same up_scope, ep_id, direction and orig_dst), so what it needs is
	 * held through *up_data, not through the flow. */
	int (*upstream_socket)(struct proxy_resolver *r, struct proxy_flow *flow, void **up_data);
	/* Optional. That upstream connection is closed (unregister it). */
	void (*upstream_closed)(struct proxy_resolver *r, void *up_data);
	/* Optional. fd (the client's or an upstream socket) carries TLS: take
	 * it out of any kernel fast path that would move its bytes around the
	 * session (the sk_msg redirect). */
	void (*tls_socket)(struct proxy_resolver *r, int fd);
	/* Optional. The client connection is closed: free what resolve() set. */
	void (*release)(struct proxy_resolver *r, struct proxy_flow *flow);
	void (*destroy)(struct proxy_resolver *r);
};

/* Port of a sockaddr, host order. */
uint16_t proxy_sockaddr_port(const union proxy_sockaddr *a);

/*
 * resolver_static.c: every connection goes to upstream; the flow has the
 * given ep_id, direction and peer identity; src is the client's address.
 */
struct proxy_resolver *proxy_resolver_static_new(const union proxy_sockaddr *upstream,
						 uint32_t ep_id, uint8_t direction,
						 uint32_t peer_identity);

#endif /* SLUICE_PROXY_RESOLVER_H */
