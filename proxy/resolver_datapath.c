/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolver_datapath.c - the agent-mode resolver (resolver_datapath.h): the
 * endpoint table, the names table, and per connection the flow, from the
 * accepted socket's addresses and the pinned datapath maps.
 *
 * Lifetimes: an endpoint is referenced by the table and by every connection
 * accepted for it (its netns fd is needed for each upstream (re)connect), so
 * replacing or deleting it never pulls the netns from under a connection in
 * flight. The names table is swapped whole and referenced the same way: the
 * strings in a flow stay valid until release().
 */
#include "resolver_datapath.h"

#include "../common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/dp_proxy.h"

#define DPR_SPARES 8

struct dpr_endpoint {
	unsigned refs;
	uint32_t ep_id;
	uint32_t identity;
	uint32_t ip_be;
	int netns_fd;
	int listener_fd;          /* owned by the listener's uv handle */
	uint64_t netns_cookie;    /* of the listener: the orig_dst key */
	struct proxy_listener *listener;
	char *ns, *pod;
	/* upstream sockets made ahead in the pod's netns: entering a netns
	 * and coming back costs more than the socket itself, so it is done
	 * once per DPR_SPARES connections, not per connection */
	int spare[DPR_SPARES];
	unsigned nspare;
};

struct dpr_name {
	uint32_t ip;              /* host order, the sort key */
	char *ns, *pod;
};

struct dpr_names {
	unsigned refs;
	size_t n;
	struct dpr_name v[];
};

/* What one connection holds (flow->resolver_data). */
struct dpr_conn {
	struct dpr_endpoint *ep;
	struct dpr_names *names;
};

/* What one upstream connection holds (its up_data): it may outlive the
 * client connection that made it (the proxy's pool), so it keeps its own
 * reference on the endpoint (flow->up_scope) and its registration. */
struct dpr_up {
	struct dpr_endpoint *ep;
	struct sluice_proxy_flow_key key; /* the registered upstream tuple */
	bool registered;
};

struct resolver_datapath {
	struct proxy_resolver base;   /* first: the proxy holds &base */
	struct sluice_dp_proxy *dp;
	int self_netns_fd;            /* to come back after making a socket */
	struct dpr_endpoint **eps;
	size_t neps, cap;
	struct dpr_names *names;
	struct proxy_server *srv;     /* of the listeners, for its upstream pool */
};

static void dpr_endpoint_unref(struct dpr_endpoint *ep)
{
	if (!ep || --ep->refs)
		return;
	if (ep->netns_fd >= 0)
		close(ep->netns_fd);
	while (ep->nspare)
		close(ep->spare[--ep->nspare]);
	free(ep->ns);
	free(ep->pod);
	free(ep);
}

static void dpr_names_unref(struct dpr_names *n)
{
	if (!n || --n->refs)
		return;
	for (size_t i = 0; i < n->n; i++) {
		free(n->v[i].ns);
		free(n->v[i].pod);
	}
	free(n);
}

static const struct dpr_name *dpr_name_of(const struct dpr_names *n, uint32_t ip_be)
{
	uint32_t ip = ntohl(ip_be);
	size_t lo = 0, hi = n ? n->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n->v[mid].ip == ip)
			return &n->v[mid];
		if (n->v[mid].ip < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void dpr_addr_v4(uint8_t out[16], uint32_t ip_be)
{
	memset(out, 0, 16);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, &ip_be, 4);
}

static void dpr_sockaddr_v4(union proxy_sockaddr *out, uint32_t ip_be, uint16_t port)
{
	memset(out, 0, sizeof(*out));
	out->in.sin_family = AF_INET;
	out->in.sin_addr.s_addr = ip_be;
	out->in.sin_port = htons(port);
}

static struct dpr_endpoint *dpr_endpoint_by_ip(struct resolver_datapath *d, uint32_t ip_be)
{
	for (size_t i = 0; i < d->neps; i++)
		if (d->eps[i]->ip_be == ip_be)
			return d->eps[i];
	return NULL;
}

static void dpr_set_end(struct proxy_flow_end *e, const struct dpr_names *names,
			uint32_t identity, const union proxy_sockaddr *addr)
{
	const struct dpr_name *nm = dpr_name_of(names, addr->in.sin_addr.s_addr);

	e->pod = nm ? nm->pod : NULL;
	e->ns = nm ? nm->ns : NULL;
	e->identity = identity;
	e->addr = *addr;
}

static int dpr_resolve(struct proxy_resolver *r, int fd, void *listener_data,
		       const union proxy_sockaddr *peer, const union proxy_sockaddr *local,
		       struct proxy_flow *out)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;
	struct dpr_endpoint *ep = listener_data;
	struct dpr_conn *c;
	uint8_t addr[16];

	(void)fd;
	memset(out, 0, sizeof(*out));
	if (local->sa.sa_family != AF_INET || peer->sa.sa_family != AF_INET)
		return -EAFNOSUPPORT; /* L7 steering is IPv4 only */
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (local->in.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
	    proxy_sockaddr_port(local) == SLUICE_PROXY_PORT) {
		/* egress: connect4 sent the pod's connect() to its listener */
		struct sluice_orig_dst od;
		uint32_t dst_be;

		if (!ep)
			goto refuse;
		dpr_addr_v4(addr, peer->in.sin_addr.s_addr);
		if (sluice_dp_proxy_orig_dst(d->dp, addr, proxy_sockaddr_port(peer),
					     ep->netns_cookie, &od) < 0)
			goto refuse; /* no record of where it was going */
		if (od.ep_id != ep->ep_id || od.addr[10] != 0xff || od.addr[11] != 0xff)
			goto refuse;
		memcpy(&dst_be, od.addr + 12, 4);
		out->direction = SLUICE_DIR_EGRESS;
		out->peer_identity = od.peer_identity ? od.peer_identity
						      : sluice_dp_proxy_identity(d->dp, od.addr);
		dpr_sockaddr_v4(&out->orig_dst, dst_be, od.port);
		out->src.pod = ep->pod;
		out->src.ns = ep->ns;
		out->src.identity = ep->identity;
		dpr_sockaddr_v4(&out->src.addr, ep->ip_be, proxy_sockaddr_port(peer));
		dpr_set_end(&out->dst, d->names, out->peer_identity, &out->orig_dst);
	} else {
		/* ingress: sk_lookup handed over a connection to podIP:port */
		if (!ep || ep->ip_be != local->in.sin_addr.s_addr)
			ep = dpr_endpoint_by_ip(d, local->in.sin_addr.s_addr);
		if (!ep)
			goto refuse;
		dpr_addr_v4(addr, peer->in.sin_addr.s_addr);
		out->direction = SLUICE_DIR_INGRESS;
		out->peer_identity = sluice_dp_proxy_identity(d->dp, addr);
		out->orig_dst = *local;
		dpr_set_end(&out->src, d->names, out->peer_identity, peer);
		out->dst.pod = ep->pod;
		out->dst.ns = ep->ns;
		out->dst.identity = ep->identity;
		out->dst.addr = *local;
	}
	out->ep_id = ep->ep_id;
	out->up_scope = ep;
	c->ep = ep;
	ep->refs++;
	c->names = d->names;
	if (c->names)
		c->names->refs++;
	out->resolver_data = c;
	return 0;
refuse:
	free(c);
	return -ENOENT;
}

static void dpr_upstream_closed(struct proxy_resolver *r, void *up_data)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;
	struct dpr_up *u = up_data;

	if (!u)
		return;
	if (u->registered)
		sluice_dp_proxy_flow_del(d->dp, &u->key);
	dpr_endpoint_unref(u->ep);
	free(u);
}

static int dpr_upstream_socket(struct proxy_resolver *r, struct proxy_flow *flow, void **up_data)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;
	struct dpr_conn *c = flow->resolver_data;
	struct sockaddr_in src = { .sin_family = AF_INET };
	socklen_t len = sizeof(src);
	struct dpr_up *u;
	int fd, e;

	if (!c->ep->nspare) {
		int n = sl_sockets_in_netns(c->ep->netns_fd, d->self_netns_fd, AF_INET,
					    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, c->ep->spare,
					    DPR_SPARES);

		if (n < 0)
			return n;
		c->ep->nspare = (unsigned)n;
	}
	if (!(u = calloc(1, sizeof(*u))))
		return -ENOMEM;
	fd = c->ep->spare[--c->ep->nspare];
	u->ep = c->ep;
	c->ep->refs++;
	if (flow->direction == SLUICE_DIR_INGRESS) {
		*up_data = u;
		return fd; /* connects to podIP:port inside the pod: never crosses tc */
	}

	/*
	 * Egress leaves through the pod's veth and is judged by its egress
	 * policy (REDIRECT): the tuple goes into proxy_flows before the SYN, so
	 * the port must be known first. sluice_dp_proxy_upstream_socket() does
	 * the same but also connects, which libuv cannot adopt.
	 */
	src.sin_addr.s_addr = c->ep->ip_be;
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&src, &len) < 0) {
		e = -errno;
		goto fail;
	}
	u->key.protocol = IPPROTO_TCP;
	dpr_addr_v4(u->key.saddr, c->ep->ip_be);
	dpr_addr_v4(u->key.daddr, flow->orig_dst.in.sin_addr.s_addr);
	u->key.sport = ntohs(src.sin_port);
	u->key.dport = proxy_sockaddr_port(&flow->orig_dst);
	e = sluice_dp_proxy_flow_add(d->dp, &u->key);
	if (e)
		goto fail;
	u->registered = true;
	*up_data = u;
	return fd;
fail:
	close(fd);
	dpr_upstream_closed(r, u);
	return e;
}

static void dpr_release(struct proxy_resolver *r, struct proxy_flow *flow)
{
	struct dpr_conn *c = flow->resolver_data;

	(void)r;
	if (!c)
		return;
	dpr_endpoint_unref(c->ep);
	dpr_names_unref(c->names);
	free(c);
	flow->resolver_data = NULL;
}

static void dpr_destroy(struct proxy_resolver *r)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;

	for (size_t i = 0; i < d->neps; i++)
		dpr_endpoint_unref(d->eps[i]);
	free(d->eps);
	dpr_names_unref(d->names);
	if (d->self_netns_fd >= 0)
		close(d->self_netns_fd);
	sluice_dp_proxy_close(d->dp);
	free(d);
}

static void dpr_tls_socket(struct proxy_resolver *r, int fd)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;
	int rc = sluice_dp_proxy_sock_forget(d->dp, fd);

	if (rc)
		fprintf(stderr, "sluice-proxy: TLS socket left in the sk_msg map: %s\n", strerror(-rc));
}

struct proxy_resolver *proxy_resolver_datapath_new(struct sluice_dp_proxy *dp)
{
	struct resolver_datapath *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->self_netns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (d->self_netns_fd < 0) {
		free(d);
		return NULL;
	}
	d->dp = dp;
	d->base.resolve = dpr_resolve;
	d->base.upstream_socket = dpr_upstream_socket;
	d->base.upstream_closed = dpr_upstream_closed;
	d->base.tls_socket = dpr_tls_socket;
	d->base.release = dpr_release;
	d->base.destroy = dpr_destroy;
	return &d->base;
}

static ssize_t dpr_endpoint_index(struct resolver_datapath *d, uint32_t ep_id)
{
	for (size_t i = 0; i < d->neps; i++)
		if (d->eps[i]->ep_id == ep_id)
			return (ssize_t)i;
	return -1;
}

int proxy_resolver_datapath_endpoint_set(struct proxy_resolver *r, struct proxy_server *srv,
					 const struct proxy_dp_endpoint_info *info,
					 int listener_fd, int netns_fd, char **err)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;
	struct dpr_endpoint *ep = calloc(1, sizeof(*ep));
	ssize_t old;
	int e;

	if (ep)
		ep->netns_fd = -1;
	if (!ep || !(ep->ns = strdup(info->ns ? info->ns : "")) ||
	    !(ep->pod = strdup(info->pod ? info->pod : ""))) {
		e = -ENOMEM;
		sl_fail(err, 0, "out of memory");
		goto fail;
	}
	ep->refs = 1;
	ep->ep_id = info->ep_id;
	ep->identity = info->identity;
	ep->ip_be = info->ip_be;
	ep->netns_fd = netns_fd;
	netns_fd = -1;
	e = sluice_dp_proxy_sock_netns_cookie(listener_fd, &ep->netns_cookie);
	if (e) {
		sl_fail(err, 0, "listener of endpoint %u: netns cookie: %s", info->ep_id, strerror(-e));
		goto fail;
	}
	old = dpr_endpoint_index(d, info->ep_id);
	if (old < 0 && d->neps == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 16;
		struct dpr_endpoint **nv = realloc(d->eps, ncap * sizeof(*nv));

		if (!nv) {
			e = -ENOMEM;
			sl_fail(err, 0, "out of memory");
			goto fail;
		}
		d->eps = nv;
		d->cap = ncap;
	}
	ep->listener_fd = listener_fd;
	d->srv = srv;
	e = proxy_server_listen_fd(srv, listener_fd, ep, &ep->listener);
	listener_fd = -1; /* the server's now, also on failure */
	if (e) {
		sl_fail(err, 0, "accepting on the listener of endpoint %u: %s", info->ep_id,
			 uv_strerror(e));
		e = -EINVAL;
		goto fail;
	}
	if (old >= 0) {
		/* the old listener stops; its connections keep their reference */
		struct dpr_endpoint *prev = d->eps[old];

		if (prev->listener)
			proxy_listener_close(prev->listener);
		proxy_server_upstream_forget(srv, prev); /* new flows get new sockets */
		d->eps[old] = ep;
		dpr_endpoint_unref(prev);
	} else {
		d->eps[d->neps++] = ep;
	}
	return 0;
fail:
	if (listener_fd >= 0)
		close(listener_fd);
	if (netns_fd >= 0)
		close(netns_fd);
	if (ep) {
		ep->refs = 1;
		dpr_endpoint_unref(ep);
	}
	return e;
}

int proxy_resolver_datapath_endpoint_delete(struct proxy_resolver *r, uint32_t ep_id)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;
	ssize_t i = dpr_endpoint_index(d, ep_id);
	struct dpr_endpoint *ep;

	if (i < 0)
		return -ENOENT;
	ep = d->eps[i];
	if (ep->listener)
		proxy_listener_close(ep->listener);
	ep->listener = NULL;
	if (d->srv)
		proxy_server_upstream_forget(d->srv, ep); /* the pod is gone */
	d->eps[i] = d->eps[--d->neps];
	dpr_endpoint_unref(ep);
	return 0;
}

void proxy_resolver_datapath_endpoints(struct proxy_resolver *r,
				       void (*cb)(void *ctx, uint32_t ep_id, int listener_fd),
				       void *ctx)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;

	for (size_t i = 0; i < d->neps; i++)
		cb(ctx, d->eps[i]->ep_id, d->eps[i]->listener ? d->eps[i]->listener_fd : -1);
}

size_t proxy_resolver_datapath_endpoint_count(struct proxy_resolver *r)
{
	return ((struct resolver_datapath *)r)->neps;
}

void proxy_resolver_datapath_forget_listeners(struct proxy_resolver *r)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;

	for (size_t i = 0; i < d->neps; i++)
		d->eps[i]->listener = NULL;
}

static int dpr_name_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct dpr_name *)a)->ip, y = ((const struct dpr_name *)b)->ip;

	return x < y ? -1 : x > y;
}

int proxy_resolver_datapath_set_names(struct proxy_resolver *r, const struct proxy_dp_name *names,
				      size_t n)
{
	struct resolver_datapath *d = (struct resolver_datapath *)r;
	struct dpr_names *t = calloc(1, sizeof(*t) + n * sizeof(t->v[0]));

	if (!t)
		return -ENOMEM;
	t->refs = 1;
	for (size_t i = 0; i < n; i++) {
		struct dpr_name *v = &t->v[t->n];

		v->ip = ntohl(names[i].ip_be);
		v->ns = strdup(names[i].ns ? names[i].ns : "");
		v->pod = strdup(names[i].pod ? names[i].pod : "");
		t->n++;
		if (!v->ns || !v->pod) {
			dpr_names_unref(t);
			return -ENOMEM;
		}
	}
	qsort(t->v, t->n, sizeof(t->v[0]), dpr_name_cmp);
	dpr_names_unref(d->names);
	d->names = t;
	return 0;
}
