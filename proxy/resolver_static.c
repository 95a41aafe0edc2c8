/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolver_static.c - the resolver for static mode and tests: one upstream,
 * one peer identity (see resolver.h for the contract).
 */
#include "resolver.h"

#include <stdlib.h>
#include <string.h>

struct resolver_static {
	struct proxy_resolver base; /* first: the proxy holds &base */
	union proxy_sockaddr upstream;
	uint32_t ep_id;
	uint32_t peer_identity;
	uint8_t direction;
};

uint16_t proxy_sockaddr_port(const union proxy_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return ntohs(a->in.sin_port);
	if (a->sa.sa_family == AF_INET6)
		return ntohs(a->in6.sin6_port);
	return 0;
}

static int resolver_static_resolve(struct proxy_resolver *r, int fd, void *listener_data,
				   const union proxy_sockaddr *peer,
				   const union proxy_sockaddr *local,
				   struct proxy_flow *out)
{
	struct resolver_static *s = (struct resolver_static *)r;

	(void)fd;
	(void)listener_data;
	(void)local;
	memset(out, 0, sizeof(*out));
	out->ep_id = s->ep_id;
	out->direction = s->direction;
	out->peer_identity = s->peer_identity;
	out->orig_dst = s->upstream;
	out->src.identity = s->peer_identity;
	out->src.addr = *peer;
	out->dst.addr = s->upstream;
	return 0;
}

static void resolver_static_destroy(struct proxy_resolver *r)
{
	free(r);
}

struct proxy_resolver *proxy_resolver_static_new(const union proxy_sockaddr *upstream,
						 uint32_t ep_id, uint8_t direction,
						 uint32_t peer_identity)
{
	struct resolver_static *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.resolve = resolver_static_resolve;
	s->base.destroy = resolver_static_destroy;
	s->upstream = *upstream;
	s->ep_id = ep_id;
	s->direction = direction;
	s->peer_identity = peer_identity;
	return &s->base;
}
