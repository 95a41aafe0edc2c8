/* SPDX-License-Identifier: Apache-2.0 */
/*
 * services.h - the agent's Service registry: ClusterIP services, their
 * ports and their backends, and what the datapath holds for them
 * (bpf/lib/service.h translates a ClusterIP at the socket).
 *
 * Two kinds of backends:
 *   - selector services (the CLI, a Kubernetes Service with a selector
 *     when no EndpointSlices feed it): the pods of the service's namespace
 *     whose labels match, recomputed on every pod create, delete and
 *     relabel (agent_services_sync(), called by agent_regenerate() before
 *     the policy compile, so toServices sees the same backends);
 *   - explicit endpoints (Kubernetes EndpointSlices): set whole with
 *     agent_service_set_endpoints(); the selector is then ignored.
 *
 * Every call returns 0 or -errno with a message in *err, and changes
 * nothing on failure.
 */
#ifndef SLUICE_AGENT_SERVICES_H
#define SLUICE_AGENT_SERVICES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent.h"

/* One port of a service: PORT -> TARGETPORT (a number or a named port). */
struct agent_svc_port_spec {
	const char *name;        /* "" or NULL: unnamed (only with one port) */
	uint16_t port;
	uint8_t protocol;        /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t target_port;    /* 0: target_name */
	const char *target_name; /* a named container port of the backends */
	uint32_t id;             /* 0: a new one (restore keeps the old ids) */
	/* NodePort: also reachable on every node's address at this port, from
	 * this node's pods (connect4 translates it as the ClusterIP); 0: none */
	uint16_t node_port;
};

struct agent_svc_spec {
	const char *ns, *name;
	uint32_t cluster_ip;     /* host order; 0: allocate from --service-cidr */
	const struct sluice_labels *labels;   /* the Service's own labels (k8sServiceSelector) */
	const struct sluice_labels *selector; /* NULL: no selector (endpoints given) */
	const struct agent_svc_port_spec *ports;
	size_t nports;
	const char *note;        /* what of it is not served (Kubernetes mode), or NULL */
	/* sessionAffinity ClientIP: a client pod keeps its backend while its
	 * last use is younger than this many seconds (1..86400); 0: None */
	uint32_t affinity_timeout;
	/* "NodePort" or "LoadBalancer": ports without a node_port get one from
	 * AGENT_SVC_NODE_PORT_MIN..MAX (an update keeps the old one); NULL or
	 * "ClusterIP": none */
	const char *type;
	bool node_ports_fixed;   /* the source allocates them (Kubernetes): none is made up */
};

/* the API server's default --service-node-port-range */
#define AGENT_SVC_NODE_PORT_MIN 30000
#define AGENT_SVC_NODE_PORT_MAX 32767

/* Kubernetes' limits and default for sessionAffinityConfig.clientIP.timeoutSeconds */
#define AGENT_SVC_AFFINITY_MAX_S     86400u
#define AGENT_SVC_AFFINITY_DEFAULT_S 10800u

/* One ready backend address of an EndpointSlice, for one port name. */
struct agent_svc_endpoint {
	uint32_t ip;             /* host order */
	const char *port_name;   /* the service port it serves ("" unnamed) */
	uint16_t port;
	uint8_t protocol;
};

/* Options (main.c) and start: parses --service-cidr, sizes. */
int agent_services_init(struct agent *a, const char *cidr, uint32_t max_entries,
			uint32_t max_backends, char **err);
void agent_services_free(struct agent *a);

/*
 * Standalone mode: a blackhole route for --service-cidr, like the pod CIDR's
 * (a ClusterIP is translated at the socket and must never be routed: a
 * socket that escaped translation, e.g. from the host, fails at once instead
 * of leaking to the default gateway). Teardown is for --cleanup.
 */
int agent_services_node_setup(struct agent *a, char **err);
void agent_services_node_teardown(struct agent *a, bool say);

/* Creates a service (or replaces one of the same name: Kubernetes updates). */
int agent_service_upsert(struct agent *a, const struct agent_svc_spec *spec, char **err);
int agent_service_delete(struct agent *a, const char *ns, const char *name, char **err);
/* Explicit backends (EndpointSlices of the service, merged by the caller). */
int agent_service_set_endpoints(struct agent *a, const char *ns, const char *name,
				const struct agent_svc_endpoint *eps, size_t n, char **err);

/* Recomputes selector backends and writes what changed (agent_regenerate). */
int agent_services_sync(struct agent *a, char **err);

/*
 * toServices: replaces the peers every toServices entry of the policy set
 * stands for (struct sluice_peer_rule's nsvc_* entries) with what the
 * services are now. Called by agent_regenerate() after the sync, before
 * the compile. Returns whether some policy names services at all, so that
 * a service change knows to regenerate.
 */
bool agent_services_resolve_policies(struct agent *a);
/* Whether some policy names services (toServices): a service change from
 * a source (Kubernetes) must then regenerate. */
bool agent_services_named_by_policies(const struct agent *a);

/*
 * For the policy compiler (toServices): the backend addresses of the
 * services a peer names. A service is named by namespace and name, or by a
 * label selector over the services' own labels in one namespace (ns NULL:
 * every namespace). Calls cb once per backend address.
 */
struct agent_service;
struct api_client;
const struct agent_service *agent_service_find(const struct agent *a, const char *ns,
					       const char *name);
/* The service a frontend id stands for (observe), with its port; NULL if none. */
const struct agent_service *agent_service_by_id(const struct agent *a, uint32_t svc_id,
						uint16_t *port, const char **port_name);
/*
 * The service a client endpoint reached backend:port through, as connect4
 * and sendmsg4 noted it (observe's destination_service); false if none.
 * The last translation wins: a later direct connection from the same pod
 * to the same backend port is still named after the service.
 */
bool agent_service_for_flow(const struct agent *a, uint32_t client_ep, const uint8_t backend[16],
			    uint16_t port, uint8_t protocol, const struct agent_service **svc,
			    uint16_t *svc_port);
const char *agent_service_ns(const struct agent_service *s);
const char *agent_service_name(const struct agent_service *s);

/* JSON for the API (list/get), and the counts for status and metrics. */
json_t *agent_service_json(const struct agent *a, const struct agent_service *s);
json_t *agent_services_list_json(const struct agent *a);
struct agent_services_counts {
	uint64_t services, frontends, backends, entries, max_entries;
	uint64_t udp_sockets_cut; /* connected UDP sockets of removed backends destroyed */
};
void agent_services_counts(const struct agent *a, struct agent_services_counts *out);

/*
 * <state-dir>/services.json: the declared services (not their backends,
 * which follow the pods). Saved shortly after a change (one write for a
 * burst of creates) and when the agent stops; restored at start, after the
 * pods.
 */
void agent_services_save_later(struct agent *a);
int agent_services_restore(struct agent *a, char **err);

/* The API's commands (commands.c's table) */
json_t *services_cmd_create(struct agent *a, struct api_client *c, json_t *req, char **err);
json_t *services_cmd_update(struct agent *a, struct api_client *c, json_t *req, char **err);
json_t *services_cmd_delete(struct agent *a, struct api_client *c, json_t *req, char **err);
json_t *services_cmd_list(struct agent *a, struct api_client *c, json_t *req, char **err);
json_t *services_cmd_get(struct agent *a, struct api_client *c, json_t *req, char **err);

#endif
