/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h - what the agent knows about endpoints: namespaces and their
 * labels, local pods, pods of other nodes (remote endpoints) and the
 * identity table their labels map to.
 *
 * The registry is data only. Its functions never write a map, a file or a
 * netns: sources (the local API, the Kubernetes source, the CNI attach
 * path, the state restore) change it, and the commit step (commit.c) makes
 * the datapath and the state directory follow. That is what lets it be
 * unit-tested without a kernel (tests/unit/agent/test_registry.c).
 */
#ifndef SLUICE_AGENT_REGISTRY_H
#define SLUICE_AGENT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/abi.h"
#include "sluice/identity.h"
#include "sluice/policy_api.h"
#include "pod_net.h"
#include "workload.h"

/* set on every namespace, like Kubernetes does; users cannot change it */
#define AGENT_NS_NAME_LABEL "kubernetes.io/metadata.name"

struct agent_namespace {
	char *name;
	struct sluice_labels labels; /* includes kubernetes.io/metadata.name */
};

/* What the agent keeps about a pod the CNI plugin attached. */
struct agent_cni_attachment {
	char *container_id;
	char *network;      /* the CNI network name, for GC */
	char *ifname;       /* the pod-side interface */
	char *netns_source; /* CNI_NETNS as the runtime gave it */
};

struct agent_pod {
	char *ns;
	char *name;
	struct sluice_labels labels;
	struct sluice_named_port *ports;
	size_t nports;
	uint32_t ep_id;
	uint32_t identity;
	struct pod_net net;
	uint64_t created_ns;
	bool remote;
	uint64_t netns_cookie;
	int proxy_listener_fd;    /* in-pod listener for the L7 proxy, or -1 */
	/* what was last written to the datapath for this endpoint */
	struct sluice_policy_map_entry *written;
	size_t nwritten;
	uint32_t written_flags;
	uint32_t written_identity;
	bool written_valid;
	bool reval_dirty;         /* its policy changed: revalidate its flows */
	/* set for a pod attached by the CNI plugin (agent_endpoint_attach):
	 * its netns and veth belong to the container runtime */
	struct agent_cni_attachment *cni;
	/* Kubernetes mode: the workload the pod's owners name (flows show it) */
	struct agent_workload workload;
};

struct agent_registry {
	/* identities of pods (from their labels and their namespace's), of
	 * the cluster (Kubernetes mode) and of CIDRs (policy compile) */
	struct sluice_identity_table *idt;
	struct agent_namespace *nss;
	size_t nnss;
	struct agent_pod **pods;
	size_t npods;
	/* pods on other nodes: only their identity and address are known here */
	struct agent_pod **remotes;
	size_t nremotes;
	uint32_t next_ep_id;     /* endpoint numbers are never reused */
	uint32_t next_ip_offset; /* next-fit cursor in the pod CIDR */
};

/* An empty registry with a new identity table; registry_free() frees the
 * records and the table (nothing in the datapath). */
void registry_init(struct agent_registry *r);
void registry_free(struct agent_registry *r);

/* The namespace record, made (with its name label) when create is set. */
struct agent_namespace *registry_ns_get(struct agent_registry *r, const char *name, bool create);
struct agent_pod *registry_pod_find(const struct agent_registry *r, const char *ns, const char *name);
struct agent_pod *registry_remote_find(const struct agent_registry *r, const char *ns,
				       const char *name);
/* The pod (local, or remote when with_remote) that has this address, or NULL. */
struct agent_pod *registry_pod_by_addr(const struct agent_registry *r, const uint8_t addr[16],
				       bool with_remote);
/* local pods first, then remote ones: i < npods + nremotes */
struct agent_pod *registry_at(const struct agent_registry *r, size_t i);

/* A pod record, not yet in the registry; registry_pod_free() frees one
 * that is not (or no longer) in it. */
struct agent_pod *registry_pod_new(const char *ns, const char *name, const struct sluice_labels *labels,
				   const struct sluice_named_port *ports, size_t nports);
void registry_pod_free(struct agent_pod *p);
/* Lists p among the local pods, or among the remote ones when p->remote. */
void registry_pod_add(struct agent_registry *r, struct agent_pod *p);
/* Takes p out of its list (not freed, its identity still held); false if
 * it was not listed. */
bool registry_pod_remove(struct agent_registry *r, struct agent_pod *p);

/* A reference on the identity of these pod labels in namespace ns (the
 * namespace's labels included; the namespace is made if new), 0 when no
 * identity is left. registry_identity_release() gives it back. */
uint32_t registry_identity(struct agent_registry *r, const char *ns, const struct sluice_labels *labels);
void registry_identity_release(struct agent_registry *r, uint32_t id);
/* A reference on the identity a pod record says it has: a cluster
 * identity the table knows (Kubernetes mode) is kept by number, anything
 * else follows the labels. 0 when no identity is left. */
uint32_t registry_identity_of(struct agent_registry *r, const struct agent_pod *p, uint32_t known);

/* The next free address of the pod CIDR (host order), next-fit: a freed
 * address is not handed out again at once, so a recreated pod gets a new
 * IP. -ENOSPC when the CIDR is full. */
int registry_ipam_next(struct agent_registry *r, uint32_t cidr_net, unsigned prefixlen, uint32_t *ip);

/* Sets and removes "k8s" labels. */
void registry_labels_edit(struct sluice_labels *l, const struct sluice_labels *set,
			  char *const *remove, size_t nremove);
/* The same on a namespace's labels (the namespace is made if new), which
 * keep their name label: -EINVAL (and the message) when set names it, no
 * label changed then. */
int registry_ns_labels_edit(struct agent_registry *r, const char *ns, const struct sluice_labels *set,
			    char *const *remove, size_t nremove, char **err);

#endif
