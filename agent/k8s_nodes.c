/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_nodes.c - the other nodes of the cluster, from their Node objects:
 * their IPv4 InternalIP and ExternalIP addresses (status.addresses) get the
 * reserved remote-node identity (remote_nodes.c), as Cilium gives them.
 * This node's own Node is left out: its addresses are the host's.
 *
 * Watch events only mark the list dirty; the commit reads the whole watch
 * cache and hands the full list over, so a missed delete cannot leave an
 * address behind. Nothing is removed before the first list is complete.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"

void k8s_nodes_event(struct agent_k8s *k, int type, json_t *obj)
{
	(void)type;
	(void)obj;
	k->nodes_dirty = true;
	k8s_schedule_commit(k);
}

struct node_collect {
	const char *self;
	uint32_t *v;
	size_t n, cap;
};

static void collect_node(void *ctx, json_t *node)
{
	struct node_collect *c = ctx;
	const char *name = k8s_meta(node, "name");
	json_t *addrs = json_object_get(json_object_get(node, "status"), "addresses"), *ad;
	size_t i;

	if (!name || (c->self && !strcmp(name, c->self)))
		return;
	json_array_foreach(addrs, i, ad) {
		const char *type = json_string_value(json_object_get(ad, "type"));
		const char *text = json_string_value(json_object_get(ad, "address"));
		struct in_addr in;

		if (!type || !text || (strcmp(type, "InternalIP") && strcmp(type, "ExternalIP")) ||
		    inet_pton(AF_INET, text, &in) != 1)
			continue;
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 16;
			c->v = realloc(c->v, c->cap * sizeof(*c->v));
			if (!c->v)
				abort();
		}
		c->v[c->n++] = ntohl(in.s_addr);
	}
}

void k8s_nodes_commit(struct agent_k8s *k)
{
	struct k8s_coll_state *cs = &k->coll[K8S_C_NODES];
	struct node_collect c = { .self = k->node };

	if (!k->nodes_dirty || !cs->w || !cs->synced)
		return;
	k->nodes_dirty = false;
	k8s_watch_foreach(cs->w, collect_node, &c);
	agent_remote_nodes_set(k->a, c.v, c.n);
	free(c.v);
}
