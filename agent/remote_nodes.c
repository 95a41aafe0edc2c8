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
 * file keeps the ipcache in step with it. A node the API server listens on
 * gets Cilium's identity 7 instead (remote-node and kube-apiserver at
 * once), and the host carries kube-apiserver when it listens here (see
 * agent_apiservers_set()). An address that is also this host's, or a
 * pod's, keeps that entry (the more specific meaning); a CIDR /32 of a
 * policy naming a node's address is not written over it (cidr.c asks
 * agent_is_remote_node()), and comes back when the node goes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "agent.h"

static bool in_sorted(const uint32_t *v, size_t n, uint32_t ip)
{
	return n && bsearch(&ip, v, n, sizeof(ip), sl_u32_cmp) != NULL;
}

bool agent_is_remote_node(const struct agent *a, uint32_t ip)
{
	return in_sorted(a->remote_nodes, a->nremote_nodes, ip);
}

static bool host_has(const struct agent *a, uint32_t ip)
{
	uint8_t addr[16];
	size_t i;

	sl_addr_from_ipv4(addr, ip);
	for (i = 0; i < a->nhost_addrs; i++)
		if (!memcmp(a->host_addrs[i], addr, 16))
			return true;
	return false;
}

/* a sorted, duplicate-free copy of ips */
static uint32_t *sorted_set(const uint32_t *ips, size_t n, size_t *m)
{
	uint32_t *v = sl_xcalloc(n + 1, sizeof(*v));
	size_t i;

	if (n)
		memcpy(v, ips, n * sizeof(*v));
	qsort(v, n, sizeof(*v), sl_u32_cmp);
	for (i = 0, *m = 0; i < n; i++)
		if (!*m || v[*m - 1] != v[i])
			v[(*m)++] = v[i];
	return v;
}

/* a pod's (of any node) or the host's own address: its entry stays */
static bool address_taken(const struct agent *a, uint32_t ip)
{
	uint8_t addr[16];

	sl_addr_from_ipv4(addr, ip);
	return registry_pod_by_addr(&a->reg, addr, true) || host_has(a, ip);
}

/* Cilium's 7 is a node the API server listens on: remote-node and
 * kube-apiserver at once */
static uint32_t node_identity(const struct agent *a, uint32_t ip)
{
	return in_sorted(a->apiservers, a->napiservers, ip) ? SLUICE_ID_KUBE_APISERVER
							    : SLUICE_ID_REMOTE_NODE;
}

struct nodes_kept {
	const uint32_t *v;
	size_t n;
};

/* a remote-node entry an earlier agent left for an address that is not a
 * node any more (the pinned ipcache outlives the agent) */
static bool node_leftover(const void *ctx, const struct sluice_ipcache_key *k,
			  const struct sluice_ipcache_value *v)
{
	const struct nodes_kept *kept = ctx;
	uint32_t ip;

	if ((v->identity != SLUICE_ID_REMOTE_NODE && v->identity != SLUICE_ID_KUBE_APISERVER) ||
	    k->prefixlen != 128 || !sl_addr_is_ipv4(k->addr))
		return false;
	ip = sl_addr_ipv4(k->addr);
	return !in_sorted(kept->v, kept->n, ip);
}

/* The node list, whole; the ipcache entries of the addresses that came
 * (every one with all: their identity, 6 or 7, may have changed). Node
 * objects change with every status update of every node, so an unchanged
 * list writes nothing. */
static void nodes_apply(struct agent *a, const uint32_t *ips, size_t n, bool all)
{
	size_t i, j, m;
	uint32_t *v = sorted_set(ips, n, &m);
	bool changed = false;
	uint8_t addr[16];

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
		if ((all || !known) && a->dp && !address_taken(a, v[j])) {
			sl_addr_from_ipv4(addr, v[j]);
			sluice_dp_ipcache_update(a->dp, addr, 128, node_identity(a, v[j]), 0);
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
}

int agent_remote_nodes_set(struct agent *a, const uint32_t *ips, size_t n)
{
	nodes_apply(a, ips, n, false);
	/* an API server's address may have become, or stopped being, a node's */
	if (a->napiservers)
		agent_apiservers_refresh(a);
	return 0;
}

/*
 * The API server's addresses (the default/kubernetes Service's endpoints),
 * Cilium's kube-apiserver entity:
 *   - one of this host's addresses: the host identity carries the label
 *     (the identity table's flag: the entity then names the host);
 *   - another node's: that address gets identity 7 instead of 6;
 *   - any other address (an API server outside the cluster, a managed
 *     control plane): a CIDR identity of its own labelled kube-apiserver
 *     (and world), as Cilium gives it; the compiler makes it
 *     (sluice_idt_set_apiservers_external()).
 * Which of the three an address is can change when nodes come and go:
 * every call looks again (agent_apiservers_refresh()).
 */
int agent_apiservers_set(struct agent *a, const uint32_t *ips, size_t n)
{
	size_t m, i;
	uint32_t *v = sorted_set(ips, n, &m);
	bool on_host = false, same = m == a->napiservers &&
				      (!m || !memcmp(v, a->apiservers, m * sizeof(*v)));

	for (i = 0; i < m && !on_host; i++)
		on_host = host_has(a, v[i]);
	if (a->reg.idt && sluice_idt_apiserver_on_host(a->reg.idt) != on_host) {
		sluice_idt_set_apiserver_on_host(a->reg.idt, on_host);
		agent_commit(a, AGENT_COMMIT_REGENERATE, "kube-apiserver on the host", NULL);
	}
	if (a->reg.idt) {
		uint32_t *ext = sl_xcalloc(m + 1, sizeof(*ext));
		uint64_t gen = sluice_idt_generation(a->reg.idt);
		size_t next = 0;

		for (i = 0; i < m; i++)
			if (!host_has(a, v[i]) && !agent_is_remote_node(a, v[i]))
				ext[next++] = v[i];
		/* the table's generation moves when the list changed */
		if (!sluice_idt_set_apiservers_external(a->reg.idt, ext, next) &&
		    sluice_idt_generation(a->reg.idt) != gen) {
			for (i = 0; i < next; i++) {
				char text[64];
				uint8_t addr[16];

				sl_addr_from_ipv4(addr, ext[i]);
				fprintf(stderr, "sluiced: the API server's address %s is not a node's: a CIDR "
					"identity labelled kube-apiserver (and world) names it\n",
					sl_addr_str(addr, text, sizeof(text)));
			}
			agent_commit(a, AGENT_COMMIT_REGENERATE, "kube-apiserver outside the cluster", NULL);
		}
		free(ext);
	}
	if (same) {
		free(v);
		return 0;
	}
	free(a->apiservers);
	a->apiservers = v;
	a->napiservers = m;
	/* the nodes' identities (6 or 7) again */
	if (a->nremote_nodes) {
		uint32_t *nodes = sl_xcalloc(a->nremote_nodes, sizeof(*nodes));
		size_t k = a->nremote_nodes;

		memcpy(nodes, a->remote_nodes, k * sizeof(*nodes));
		nodes_apply(a, nodes, k, true);
		free(nodes);
		agent_commit(a, AGENT_COMMIT_REGENERATE, "kube-apiserver", NULL);
	}
	return 0;
}

void agent_apiservers_refresh(struct agent *a)
{
	uint32_t *v = sl_xcalloc(a->napiservers + 1, sizeof(*v));
	size_t n = a->napiservers;

	if (n)
		memcpy(v, a->apiservers, n * sizeof(*v));
	/* the same list: only whether one is the host's is looked at again */
	agent_apiservers_set(a, v, n);
	free(v);
}
