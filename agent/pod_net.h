/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pod_net.h - local "pods" for standalone mode: a network namespace with a
 * veth to the node, one IPv4 address from the node's pod CIDR, and a cgroup
 * of its own under the agent's cgroup root.
 */
#ifndef SLUICE_POD_NET_H
#define SLUICE_POD_NET_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct pod_net_config {
	const char *netns_prefix; /* e.g. "sluice-" */
	const char *cgroup_dir;   /* <cgroup-root>/sluice-pods */
	uint32_t cidr_net;        /* host order */
	unsigned cidr_prefixlen;
	/* standalone: the agent is the node's pod network, so it turns on
	 * forwarding and blackholes the pod CIDR. Kubernetes: the CNI plugins
	 * and the node own both; the agent touches neither. */
	bool node_routing;
};

struct pod_net {
	char netns[64];        /* name under /run/netns */
	char host_ifname[16];
	int host_ifindex;
	uint32_t ip;           /* host order */
	char cgroup[PATH_MAX];
	/* the netns and the veth belong to someone else (a CNI runtime):
	 * netns is then only the agent's own handle on it (a bind mount), and
	 * deleting the pod drops that handle, never the veth or the netns */
	bool foreign;
};

/* Node-wide setup: the pods' cgroup; with node_routing also IPv4
 * forwarding and a blackhole route for the pod CIDR, so that traffic for a
 * pod that is gone never leaves the machine. */
int pod_net_node_setup(const struct pod_net_config *cfg, char **err);
void pod_net_node_teardown(const struct pod_net_config *cfg);

/* Creates the pod's netns, veth, address, routes and cgroup. On failure
 * everything created so far is removed. */
int pod_net_create(const struct pod_net_config *cfg, uint32_t ep_id, uint32_t ip,
		   struct pod_net *out, char **err);
/* Kills the pod's processes and removes its cgroup, netns and veth (for a
 * foreign pod: only the agent's netns handle). */
void pod_net_delete(const struct pod_net *p);
/* ifindex of the host-side veth, or -1 if it is gone. */
int pod_net_host_ifindex(const struct pod_net *p);

#endif
