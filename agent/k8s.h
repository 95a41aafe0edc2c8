/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s.h - the agent's Kubernetes source: what sluiced does when started
 * with --kubernetes or --kubeconfig. The API server is the source of truth
 * for pods, namespaces, policies, identities and the pods of other nodes;
 * this source turns its watch events into registry changes.
 *
 *   k8s_source.c     options, client, watches, the batch commit, status
 *   k8s_pods.c       pods of this node and namespaces, the pod_meta hook
 *   k8s_policies.c   NetworkPolicy, CiliumNetworkPolicy, CCNP objects
 *   k8s_identity.c   cluster-wide identities (SluiceIdentity objects)
 *   k8s_endpoints.c  SluiceEndpoint: publish local pods, learn remote ones
 *   k8s_gc.c         identity garbage collection under a Lease
 *   k8s_node.c       the node's agent-not-ready taint
 *   k8s_nodes.c      the other nodes' addresses (the remote-node identity)
 *   k8s_services.c   Services and EndpointSlices (v1 or v1beta1, discovered)
 *   k8s_secrets.c    the Secrets TLS policies name, one watch each
 *
 * Everything lives in struct agent_k8s, owned by struct agent (a->k8s).
 */
#ifndef SLUICE_AGENT_K8S_H
#define SLUICE_AGENT_K8S_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/identity.h"
#include "sluice/policy_api.h"
#include "workload.h"

struct agent;
struct k8s_client;
struct k8s_watch;

/* what main.c collects from the command line */
struct agent_k8s_options {
	bool in_cluster;          /* --kubernetes */
	const char *kubeconfig;   /* --kubeconfig FILE */
	const char *sa_dir;       /* --k8s-sa-dir (tests): in-cluster secrets folder */
	unsigned gc_interval_s;   /* --identity-gc-interval (default 900) */
	unsigned gc_grace_s;      /* --identity-gc-grace: marked this long, then deleted (default 1800) */
	unsigned ep_throttle_ms;  /* SluiceEndpoint updates at most this often (default 500) */
};

enum k8s_coll {
	K8S_C_PODS,
	K8S_C_NAMESPACES,
	K8S_C_NETPOL,
	K8S_C_CNP,
	K8S_C_CCNP,
	K8S_C_CCG,        /* CiliumCIDRGroups: policy-set items without rules */
	K8S_C_IDENTITIES,
	K8S_C_ENDPOINTS,
	K8S_C_SERVICES,
	K8S_C_EPSLICES,   /* started once discovery chose the API version */
	K8S_C_NODES,      /* the other nodes' addresses: remote-node */
	K8S_C_MAX,
};

struct agent_k8s;
struct k8s_coll_state {
	struct agent_k8s *k;
	enum k8s_coll id;
	const char *name;
	struct k8s_watch *w;
	bool synced;       /* the first list was delivered */
	bool absent;       /* 404/403: not served or not allowed */
	bool refused;      /* the last LIST was answered 403/404 (logged once) */
	uint64_t events;
	char *last_error;
};

/* an identity allocation in flight: the labels, who waits for it */
struct k8s_id_alloc;
/* the watch of one Secret a TLS policy names (k8s_secrets.c) */
struct k8s_secret_watch;

/* the last SluiceEndpoint this agent wrote for one local pod */
struct k8s_published {
	char *ns, *name;
	char *json;        /* what was written, to skip unchanged updates */
	bool inflight;
};

/* a policy object that failed to load: the previous version stays */
struct k8s_policy_status {
	int kind;
	char *ns, *name;
	char *error;       /* NULL: loaded */
	char *rv;          /* resourceVersion the error is about (one Event each) */
};

struct agent_k8s {
	struct agent *a;
	struct agent_k8s_options opt;
	const char *node;
	char *server;
	char *namespace;   /* the agent's own namespace (Lease, Events of CCNPs) */
	struct k8s_client *client;
	struct k8s_coll_state coll[K8S_C_MAX];
	bool all_synced;
	bool stopping;

	/* the batch commit: events mark what changed, one commit per loop turn */
	uv_timer_t commit_timer;
	bool commit_scheduled;
	json_t *policy_pending; /* "kind|ns|name" -> object or null (deleted) */
	bool pods_dirty, remotes_dirty, nss_dirty;
	uint64_t commits;

	/* policies */
	struct k8s_policy_status *pstat;
	size_t npstat;
	uint64_t policy_failures; /* loads that failed (metric) */
	uint64_t events_posted;
	uint64_t policy_status_writes; /* Valid conditions written (the lease holder) */

	/* identities */
	struct k8s_id_alloc *allocs;
	uint64_t ids_allocated, id_conflicts, id_alloc_errors;
	json_t *id_local;       /* "labels text" -> id created here, not yet in the cache */
	json_t *id_by_key;      /* index of the cache: labels text -> { "id": created } */
	json_t *id_by_id;       /* "id" -> labels text */
	json_t *id_unmarking;   /* "name@resourceVersion" of GC marks being removed */

	/* endpoints */
	struct k8s_published *pubs;
	size_t npubs;
	uv_timer_t ep_timer;
	bool ep_scheduled;
	uint64_t ep_writes;

	/* identity GC */
	uv_timer_t gc_timer;
	bool leader;
	char *lease_rv;
	uint64_t gc_marked, gc_deleted, gc_rounds;
	uint64_t last_gc_ns;

	/* other nodes (k8s_nodes.c) */
	bool nodes_dirty;

	/* node taint */
	bool taint_done;
	json_t *node_pod_cidrs; /* the Node's spec.podCIDRs once read, NULL before */

	/* services */
	const char *slice_version; /* "discovery.k8s.io/v1" or "/v1beta1", NULL: not yet */
	size_t slice_try;          /* the version discovery asks about */
	uv_timer_t slice_timer;
	bool services_dirty;

	/* Secrets named by TLS policies */
	struct k8s_secret_watch **secrets;
	size_t nsecrets;
	uint64_t secret_events, secret_watch_starts, secret_watch_stops;
	json_t *secret_missing;           /* "kind|ns|name" of policies in force -> why */
	uint64_t secret_missing_reports;  /* TLSSecretMissing reports (log, Event) */

	uint64_t errors;
};

/* k8s_source.c */
int agent_k8s_start(struct agent *a, const struct agent_k8s_options *opt, char **err);
void agent_k8s_stop(struct agent *a);
json_t *agent_k8s_status(struct agent *a);
/* why the Kubernetes source keeps /readyz at 503 (malloc'd), NULL: it does not */
char *agent_k8s_not_ready(struct agent *a);
/* Prometheus lines for /metrics (malloc'd) */
char *agent_k8s_metrics(struct agent *a);
/* asks for one commit on the next loop turn */
void k8s_schedule_commit(struct agent_k8s *k);
void k8s_note_error(struct agent_k8s *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "ns/name" of an object (ns NULL or "" for cluster-scoped objects) */
const char *k8s_meta(json_t *obj, const char *field);
char *k8s_key(const char *ns, const char *name);
/* RFC 3339 "2026-12-05T09:45:01Z" -> seconds since the epoch, 0 if bad */
int64_t k8s_time_parse(const char *s);
char *k8s_time_now(void);
/* starts the reflector of a collection whose path is known only later */
int k8s_start_collection(struct agent_k8s *k, struct k8s_coll_state *cs, const char *path,
			 const char *query, char **err);
/* the server does not serve this collection: synced and empty */
void k8s_coll_absent(struct agent_k8s *k, struct k8s_coll_state *cs, const char *why);

/* k8s_pods.c */
/* a Kubernetes label map ({"app": "web"}) as "k8s" labels, added to out */
void k8s_labels_from_json(json_t *map, struct sluice_labels *out);
void k8s_pods_event(struct agent_k8s *k, int type, json_t *obj);
void k8s_namespaces_event(struct agent_k8s *k, int type, json_t *obj);
void k8s_pods_commit(struct agent_k8s *k);
int k8s_pod_meta(struct agent *a, const char *ns, const char *name, struct sluice_labels *labels_out,
		 struct sluice_named_port **ports_out, size_t *nports_out, struct agent_workload *workload_out);
/* the identity labels of a pod object, with its namespace's labels;
 * -EAGAIN while the namespace is not known */
int k8s_pod_identity_labels(struct agent_k8s *k, json_t *pod, struct sluice_labels *out);

/* k8s_policies.c */
void k8s_policies_event(struct agent_k8s *k, int kind, int type, json_t *obj);
void k8s_policies_commit(struct agent_k8s *k);
/* The lease holder writes the Valid condition of every CNP and CCNP
 * (after each commit for what it looked at; all of them when it wins). */
void k8s_policies_status_all(struct agent_k8s *k);
/* `sluice policy list`: status of one policy, NULL when fine */
const char *k8s_policy_error(struct agent_k8s *k, int kind, const char *ns, const char *name);
/* objects that failed to load and have no previous version in force */
void k8s_policies_list_failed(struct agent_k8s *k, json_t *arr);
void k8s_policies_free(struct agent_k8s *k);
/* an Event on the policy object (found in the watch cache; nothing if it
 * is not there): Warning or Normal, with this reason and message */
void k8s_policy_event(struct agent_k8s *k, int kind, const char *ns, const char *name, bool warning,
		      const char *reason, const char *msg);

/* k8s_identity.c */
void k8s_identity_event(struct agent_k8s *k, int type, json_t *obj);
void k8s_identity_synced(struct agent_k8s *k);
/* The cluster's number for these identity labels, made known to the local
 * identity table: > 0 when it is ready, 0 while an allocation runs (the
 * caller tries again after the next commit), < 0 on error. */
int64_t k8s_identity_resolve(struct agent_k8s *k, const struct sluice_labels *idl);
/* labels of a cluster identity from the cache (restored locally), NULL if unknown */
const struct sluice_labels *k8s_identity_labels(struct agent_k8s *k, uint32_t id);
void k8s_identity_free(struct agent_k8s *k);
char *k8s_labels_key(const struct sluice_labels *l);
/* identities still referenced by this agent's pods (local and remote) */
bool k8s_identity_used_locally(struct agent_k8s *k, uint32_t id);

/* k8s_endpoints.c */
void k8s_endpoints_event(struct agent_k8s *k, int type, json_t *obj);
void k8s_endpoints_commit(struct agent_k8s *k);
void k8s_endpoints_schedule(struct agent_k8s *k);
void k8s_endpoints_free(struct agent_k8s *k);

/* k8s_gc.c */
int k8s_gc_start(struct agent_k8s *k);
void k8s_gc_stop(struct agent_k8s *k);

/* k8s_services.c */
int k8s_services_start(struct agent_k8s *k);
void k8s_services_stop(struct agent_k8s *k);
void k8s_services_event(struct agent_k8s *k, int type, json_t *obj);
void k8s_services_commit(struct agent_k8s *k);
json_t *k8s_services_status(struct agent_k8s *k);

/* k8s_secrets.c */
/* starts a watch for each Secret the policy caches name, stops the others */
void k8s_secrets_sync(struct agent_k8s *k);
/* Whether every Secret the policy object names has been listed (or refused):
 * false means wait. *why (malloc'd, may be NULL): what is wrong with one. */
bool k8s_secrets_ready(struct agent_k8s *k, json_t *obj, char **why);
json_t *k8s_secrets_status(struct agent_k8s *k);
void k8s_secrets_free(struct agent_k8s *k);
/* after each commit: the policies in force whose TLS Secrets are missing
 * (deleted, refused or not usable): status, log, Events when it changes */
void k8s_secrets_check(struct agent_k8s *k);
/* why the policy in force lacks a TLS Secret, NULL when it lacks none */
const char *k8s_secrets_policy_missing(struct agent_k8s *k, int kind, const char *ns, const char *name);
/* watched Secrets listed (or refused) and absent; those named by the
 * policies in force and not listed yet (just after a restart) */
size_t k8s_secrets_missing(struct agent_k8s *k);
size_t k8s_secrets_waiting(struct agent_k8s *k);

/* k8s_nodes.c: the other nodes' addresses into remote_nodes.c */
void k8s_nodes_event(struct agent_k8s *k, int type, json_t *obj);
void k8s_nodes_commit(struct agent_k8s *k);

/* k8s_node.c */
void k8s_node_ready(struct agent_k8s *k);
/* the Node's spec.podCIDRs (a new reference), JSON null while not read */
json_t *agent_k8s_node_pod_cidrs(struct agent *a);

#endif
