/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote_nodes.c - the other nodes' addresses carry the reserved
 * "remote-node" identity, as in Cilium: a policy names them with
 * toEntities/fromEntities remote-node (or cluster), and they are no longer
 * "world". Without it a node-to-pod flow (a hostNetwork agent on another
 * node, node-port traffic a node forwards) matched no remote-node rule and
 * any world rule.
 *
 * The source of the list is Kubernetes' Node objects (k8s_nodes.c); this
 * file keeps the ipcache in step with it. An address that is also this
 * host's, or a pod's, keeps that entry (the more specific meaning); a CIDR
 * /32 of a policy naming a node's address is not written over it (cidr.c
 * asks agent_is_remote_node()), and comes back when the node goes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "agent.h"

static int u32_cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

bool agent_is_remote_node(const struct agent *a, uint32_t ip)
{
	return a->nremote_nodes &&
	       bsearch(&ip, a->remote_nodes, a->nremote_nodes, sizeof(ip), u32_cmp) != NULL;
}

/* a pod's (of any node) or the host's own address: its entry stays */
static bool address_taken(const struct agent *a, uint32_t ip)
{
	uint8_t addr[16];
	size_t i;

	sl_addr_from_ipv4(addr, ip);
	if (registry_pod_by_addr(&a->reg, addr, true))
		return true;
	for (i = 0; i < a->nhost_addrs; i++)
		if (!memcmp(a->host_addrs[i], addr, 16))
			return true;
	return false;
}

struct nodes_kept {
	const uint32_t *v;
	size_t n;
};

/* a remote-node entry an earlier agent left for an address that is not a
 * node any more (the pinned ipcache outlives the agent) */
static bool node_leftover(void *ctx, const struct sluice_ipcache_key *k,
			  const struct sluice_ipcache_value *v)
{
	const struct nodes_kept *kept = ctx;
	uint32_t ip;

	if (v->identity != SLUICE_ID_REMOTE_NODE || k->prefixlen != 128 || !sl_addr_is_ipv4(k->addr))
		return false;
	ip = sl_addr_ipv4(k->addr);
	return !kept->n || !bsearch(&ip, kept->v, kept->n, sizeof(ip), u32_cmp);
}

int agent_remote_nodes_set(struct agent *a, const uint32_t *ips, size_t n)
{
	uint32_t *v = sl_xcalloc(n + 1, sizeof(*v));
	size_t i, j, m = 0;
	bool changed = false;
	uint8_t addr[16];

	if (n)
		memcpy(v, ips, n * sizeof(*v));
	qsort(v, n, sizeof(*v), u32_cmp);
	for (i = 0; i < n; i++)
		if (!m || v[m - 1] != v[i])
			v[m++] = v[i];
	if (a->dp && !a->remote_nodes_checked) {
		struct nodes_kept kept = { v, m };

		agent_ipcache_prune(a, node_leftover, &kept);
		a->remote_nodes_checked = true;
	}
	/* both sorted: the ones that went, then the ones that came */
	for (i = 0, j = 0; i < a->nremote_nodes; i++) {
		while (j < m && v[j] < a->remote_nodes[i])
			j++;
		if (j < m && v[j] == a->remote_nodes[i])
			continue;
		changed = true;
		if (a->dp && !address_taken(a, a->remote_nodes[i])) {
			sl_addr_from_ipv4(addr, a->remote_nodes[i]);
			sluice_dp_ipcache_delete(a->dp, addr, 128);
		}
	}
	for (j = 0, i = 0; j < m; j++) {
		bool known;

		while (i < a->nremote_nodes && a->remote_nodes[i] < v[j])
			i++;
		known = i < a->nremote_nodes && a->remote_nodes[i] == v[j];
		changed |= !known;
		/* every time, not only when new: a pod that had the address may
		 * have gone meanwhile */
		if (a->dp && !address_taken(a, v[j])) {
			sl_addr_from_ipv4(addr, v[j]);
			sluice_dp_ipcache_update(a->dp, addr, 128, SLUICE_ID_REMOTE_NODE, 0);
		}
	}
	free(a->remote_nodes);
	a->remote_nodes = v;
	a->nremote_nodes = m;
	if (changed) {
		/* a policy's CIDR /32 that is a node's address that went comes
		 * back at the next CIDR sync */
		a->cidr_pods_changed = true;
		agent_commit(a, AGENT_COMMIT_REGENERATE, "remote nodes", NULL);
	}
	return 0;
}
