/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.h - sluiced's state: the endpoint registry (local pods and their
 * namespaces), the identity table, the policies in force and what was last
 * written to the datapath. Every change goes through agent_regenerate(),
 * the one path from "what the user declared" to "what the maps hold".
 */
#ifndef SLUICE_AGENT_H
#define SLUICE_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/datapath.h"
#include "sluice/identity.h"
#include "sluice/policy_api.h"
#include "pod_net.h"
#include "registry.h"

struct agent_config {
	const char *bpf_root;
	const char *cgroup_root;
	const char *socket_path;
	const char *state_dir;
	const char *pod_cidr;
	const char *netns_prefix;
	const char *policy_dir;
	const char *metrics_addr;
	const char *health_addr;  /* --health: /healthz, /readyz (health.c) */
	const char *log_format;   /* --log-format text|json (log_format.c) */
	const char *node_name;
	const char *proxy_bin;
	/* --proxy-control: the proxy runs on its own (the chart's sluice-proxy
	 * DaemonSet) at this control socket; never started or signalled here */
	const char *proxy_control;
	unsigned flow_buffer;
	size_t observer_queue; /* bytes queued for an observe client before it loses flows */
	unsigned proxy_restart_delay_ms;
	unsigned proxy_orphan_grace_ms; /* a proxy without an agent fails closed after */
	bool no_proxy;
	const char *pods_cgroup; /* where connect4 attaches; NULL: <cgroup-root>/<prefix>pods */
	/* CNI (agent/cni*.c): the conflist to chain sluice-cni into, and
	 * whether to take the entry out again when the agent stops */
	const char *cni_conf_dir;
	const char *cni_chain_target; /* file or network name; NULL/"auto": lexically first */
	bool cni_remove_on_exit;
	/* Services (services.c): ClusterIPs come from service_cidr; the
	 * service and backend maps are sized by the two limits */
	const char *service_cidr;
	uint32_t service_max_entries;
	uint32_t backend_max_entries;
	/* --allow-localhost auto|always|policy, resolved at start: the node
	 * reaches local pods whatever their ingress policy (verdict.h's
	 * sluice_ep_enforced); auto = always in Kubernetes mode, as Cilium */
	const char *allow_localhost_opt;
	bool allow_localhost;
};

/* One policy document as the user gave it, kept for `policy get` and for
 * re-loading after an agent restart. */
struct agent_policy_src {
	int kind;
	char *ns;   /* NULL for clusterwide */
	char *name;
	char *file;
	char *text; /* the YAML document */
	size_t text_len;
	char *text_file; /* where the state directory keeps it; NULL: not yet */
	size_t journal_bytes; /* edits appended to text_file's journal */
	bool whole_file; /* text is all the file held, so the policy's item
			  * spans are offsets into it (policy/edit.c) */
};

/* What a one-item edit changed: item index of list section of rule ri of
 * policies.v[pi], which held old_item before. */
struct agent_edit_hint {
	size_t pi, ri, index;
	enum sluice_section section;
	const struct sluice_peer_rule *old_item;
};

#define AGENT_PHASES 10
struct agent_services;
struct agent_phases {
	uint64_t mark;
	size_t n;
	const char *name[AGENT_PHASES];
	uint64_t ns[AGENT_PHASES];
};

/* Every counter the agent keeps, in one place: `sluice status` and
 * /metrics read them here; the modules that count write them here. */
struct agent_counters {
	uint64_t regenerations;
	uint64_t policy_swaps;     /* inner policy maps swapped whole */
	uint64_t policy_swaps_prepared; /* of which filled while the ipcache was written */
	uint64_t policy_patches;   /* inner policy maps patched in place */
	uint64_t policy_edits;     /* applies that parsed one changed item only */
	uint64_t compile_edits;    /* compiles that updated the last result only */
	uint64_t rollbacks_failed; /* a failed change whose undo failed too */
	uint64_t commits;          /* commit.c: commits that saved state */
	uint64_t state_save_failures;
	uint64_t connections_cut;  /* revalidate.c */
	uint64_t reval_walks;      /* revalidate.c: walks, and the last one's */
	uint64_t reval_last_entries; /* conntrack entries and sockets looked at */
	uint64_t reval_last_lookups; /* verdicts asked of the kernel's maps */
	uint64_t reval_last_ns;
	/* flows.c: every flow seen, by [enum flow_kind][verdict], and the
	 * datapath's drops by [reason][direction] */
	uint64_t flows_seen;
	uint64_t flows_by_kind_verdict[5][4];
	uint64_t drops_by_reason_dir[256][2];
	uint64_t observer_flows_lost; /* not sent to a slow `sluice observe` */
	uint64_t flows_near_duplicates; /* unenforced ends of flows another end judged */
};

/* Module state the agent owns (each defined in its own .c file, created
 * by its *_start, freed when its handles are closed). */
struct api_server;
struct flows;
struct metrics;
struct policy_dir;
struct revalidate;
struct agent_secrets;

struct agent {
	struct agent_config cfg;
	uv_loop_t *loop;
	struct sluice_datapath *dp;
	struct pod_net_config podcfg;
	char pod_cgroup_dir[4096];

	/* namespaces, pods, remote endpoints, identities (registry.c) */
	struct agent_registry reg;

	struct sluice_policy_set policies;
	/* the ref_id the next new policy gets (regenerate.c): the datapath's
	 * events name the policy that decided by it (flows.c) */
	uint32_t next_policy_ref;
	/* the last compile's result, for the next one-item edit to update
	 * (sluice_policy_compile_edit); invalid when the set changed otherwise */
	struct sluice_compiled compiled;
	bool compiled_valid;
	struct agent_policy_src *srcs;
	size_t nsrcs;
	/* state.c: policy texts are files of their own, written once; the ones
	 * replaced are removed after the next save */
	uint64_t next_text_id;
	char **stale_texts;
	size_t nstale_texts;
	uint64_t saved_idt_generation; /* CIDR identities file is this recent */
	bool pods_saved;               /* pods.json written by this agent */
	bool saved_idt_valid;
	/* state.json as this agent last wrote it: a save that would write the
	 * same bytes again (a one-rule edit of a file applied under the same
	 * name: its text goes to the journal) leaves the file as it is */
	char *saved_state_json;

	uint8_t (*host_addrs)[16];
	size_t nhost_addrs;
	/* the other nodes' addresses, sorted (remote_nodes.c: remote-node) */
	uint32_t *remote_nodes;
	size_t nremote_nodes;
	bool remote_nodes_checked; /* leftovers of an earlier agent removed */
	uint32_t *apiservers;      /* the API server's addresses, sorted */
	size_t napiservers;

	/* CIDR prefixes last written to the ipcache (cidr.c) */
	struct sluice_cidr_ident *cidrs;
	size_t ncidrs;
	bool cidrs_checked;       /* leftovers of an earlier agent removed */

	uint64_t started_ns;
	uint64_t last_apply_ns;   /* duration of the last policy apply */
	struct agent_phases phases;      /* of the apply in progress */
	struct agent_phases last_phases; /* of the last policy apply */
	struct agent_counters counters;
	/* commit.c: open batches, and what their commits will do at the end */
	struct {
		unsigned depth;
		unsigned pending; /* enum agent_commit_what */
		/* pods relabelled inside the batch (endpoints.c): each carries
		 * its new identity in the registry while its address still
		 * carries the old one (held here) in the ipcache, until the
		 * batch's end moves them all with two regenerations */
		struct agent_relabel {
			struct agent_pod *pod;
			uint32_t old;
		} *relabels;
		size_t nrelabels;
	} commit;
	bool adopted;             /* pinned state was adopted at start */
	bool reval_all;           /* identities moved: revalidate every flow */
	bool cidr_pods_changed;   /* a pod address was freed: rewrite CIDR /32s */
	char cgroup_pods[4096];   /* <cgroup-root>/<prefix>pods: connect4 lives here */
	char cgroup_system[4096]; /* <cgroup-root>/<prefix>system: agent and proxy */
	struct proxy_ctl *proxy;
	struct api_server *api;
	struct flows *flows;
	struct metrics *metrics;
	struct policy_dir *policy_dir;
	struct revalidate *reval;
	struct health *health;    /* health.c */
	/* memory.c: gives freed heap back once requests stop */
	uv_timer_t memory_timer;
	bool memory_timer_on;
	/* Kubernetes mode (k8s_source.c), NULL in standalone mode */
	struct agent_k8s *k8s;

	/*
	 * Kubernetes mode: the labels and named ports of a local pod come from
	 * the API. Set by the Kubernetes source; NULL in standalone mode (a pod
	 * attached by CNI then has no labels until `sluice pod label`). Returns
	 * 0 and fills the outputs (the caller frees them; the workload its
	 * owners name, if any), -EAGAIN while the
	 * pod is not yet in the watch cache (CNI ADD waits, bounded, and
	 * retries), another -errno on error.
	 */
	int (*pod_meta)(struct agent *a, const char *ns, const char *name,
			struct sluice_labels *labels_out, struct sluice_named_port **ports_out,
			size_t *nports_out, struct agent_workload *workload_out);
	void *pod_meta_ctx;
	/* Sources still loading their initial state (e.g. the Kubernetes
	 * source before its first lists): while > 0 the agent is not ready,
	 * CNI ADD waits and CNI STATUS fails, so no pod starts without its
	 * policy. */
	unsigned sources_syncing;
	bool serving;             /* the event loop runs: startup is over */
	struct agent_cni *cnis;   /* cni.c: conflist writer state */
	struct agent_services *services; /* services.c: the Service registry */
	struct agent_secrets *secrets; /* secrets.c: what TLS contexts name */
};

/* phases.c: where the time of a policy apply goes (`sluice status`) */
void agent_phase_start(struct agent *a);
/* adds the time since the previous mark to phase `name` */
void agent_phase(struct agent *a, const char *name);
json_t *agent_phases_json(const struct agent_phases *ph);

/* endpoints.c: the endpoint lifecycle (registry change, then the datapath);
 * lookups are in registry.h */
int agent_pod_create(struct agent *a, const char *ns, const char *name,
		     const struct sluice_labels *labels, const struct sluice_named_port *ports,
		     size_t nports, struct agent_pod **out, char **err);
int agent_pod_delete(struct agent *a, const char *ns, const char *name, char **err);
int agent_remote_create(struct agent *a, const char *ns, const char *name,
			const struct sluice_labels *labels, uint32_t ip, struct agent_pod **out,
			char **err);
struct agent_remote_spec {
	const char *ns, *name;
	const struct sluice_labels *labels;
	uint32_t ip;
	uint32_t identity; /* a cluster identity the table knows; 0: from labels */
};
int agent_remotes_create(struct agent *a, const struct agent_remote_spec *v, size_t n, char **err);
int agent_pod_relabel(struct agent *a, struct agent_pod *p, const struct sluice_labels *set,
		      char *const *remove, size_t nremove, char **err);
int agent_ns_relabel(struct agent *a, const char *ns, const struct sluice_labels *set,
		     char *const *remove, size_t nremove, char **err);
void agent_pods_delete_all(struct agent *a);
/* The registration of a pod record (registry_pod_new) whose network is in
 * place (p->net filled): identity, registry, ipcache, policy, programs,
 * steering, state. On failure p's network is released
 * (pod_net_delete) and p freed. */
int agent_pod_enroll(struct agent *a, struct agent_pod *p, char **err);
int agent_pod_attach_steering(struct agent *a, struct agent_pod *p, char **err);
int agent_refresh_host_addrs(struct agent *a);
/* remote_nodes.c: the other nodes' IPv4 addresses (host order), whole; they
 * get the remote-node identity in the ipcache */
int agent_remote_nodes_set(struct agent *a, const uint32_t *ips, size_t n);
bool agent_is_remote_node(const struct agent *a, uint32_t ip);
/* the API server's IPv4 addresses (default/kubernetes' endpoints), whole */
int agent_apiservers_set(struct agent *a, const uint32_t *ips, size_t n);
/* after the host's addresses changed: is the API server on the host? */
void agent_apiservers_refresh(struct agent *a);
/* cidr.c: deletes the pinned ipcache's entries gone() says an earlier
 * agent left (once per run, before the first write of their kind) */
void agent_ipcache_prune(struct agent *a,
			 bool (*gone)(const void *ctx, const struct sluice_ipcache_key *k,
				      const struct sluice_ipcache_value *v),
			 const void *ctx);

/* cni.c: pods that the agent did not create (CNI plugin, Kubernetes). */
struct agent_attach_req {
	const char *container_id; /* CNI_CONTAINERID */
	const char *network;      /* the CNI network name ("" if unknown) */
	const char *netns_path;   /* CNI_NETNS: /var/run/netns/..., /proc/PID/ns/net */
	const char *ifname;       /* CNI_IFNAME, inside the pod */
	const char *host_ifname;  /* the host side of the pod's veth */
	uint32_t ip;              /* the pod's IPv4 address, host order */
	const char *ns, *name;    /* K8S_POD_NAMESPACE / K8S_POD_NAME */
};
/*
 * Puts a pod that lives in a netns and veth someone else made into the
 * registry, exactly like a standalone pod: tc programs on the host-side
 * veth, sk_lookup steering in its netns, identity, policy. Returns once the
 * datapath is in place; idempotent for the same container and interface.
 * -EAGAIN: the pod's metadata is not known yet (pod_meta), try again.
 * Persisted: a restarted agent adopts it; agent_endpoint_detach() removes
 * it (never the netns or the veth, which belong to the runtime).
 */
int agent_endpoint_attach(struct agent *a, const struct agent_attach_req *req,
			  struct agent_pod **out, char **err);
/* 0 also when there is no such attachment; ifname NULL: any */
int agent_endpoint_detach(struct agent *a, const char *container_id, const char *ifname,
			  char **err);
/* NULL when ready to attach pods, else why not */
const char *agent_not_ready(const struct agent *a);
/* cni.c: NULL once the conflist entry is in place (or no --cni-conf-dir),
 * else why not: readiness and the node's taint wait for it, so a Ready
 * agent always has its chain. Here rather than in cni.h: the Kubernetes
 * source asks it, and cni.c calls that source's k8s_node_ready() (an
 * include of cni.h from k8s_source.c made a cycle, see maintainer.md) */
const char *agent_cni_conf_pending(const struct agent *a);

/*
 * commit.c: the one step after a change of the registry or the policy set:
 * regenerate (datapath, proxy sync, revalidate) and save the state. The
 * source says what it changed; inside a batch (begin ... end, nestable) the
 * commits are merged into one at the end. err NULL: the change is done and
 * nobody can be told of a failed regeneration (it is logged loudly). A
 * failed regeneration saves nothing and returns the error: rolling back is
 * the caller's, and so is committing again.
 */
enum agent_commit_what {
	AGENT_COMMIT_REGENERATE = 1u << 0,     /* the datapath must follow */
	AGENT_COMMIT_SAVE_REGISTRY = 1u << 1,  /* pods.json (and state.json) */
	AGENT_COMMIT_SAVE_POLICIES = 1u << 2,  /* state.json and policy texts */
};
int agent_commit(struct agent *a, unsigned what, const char *why, char **err);
void agent_commit_begin(struct agent *a);
int agent_commit_end(struct agent *a, const char *why, char **err);
/* endpoints.c: the relabels a batch deferred, done at its end (commit.c
 * calls it before the batch's commit, which it asks to regenerate) */
int agent_relabels_finish(struct agent *a, char **err);

/* state.c: agent_state_save() writes pods.json and state.json,
 * agent_state_save_policies() state.json only (pods.json when never
 * written); the commit calls them */
int agent_state_save_policies(struct agent *a);
/* removes every file the agent keeps in its state directory */
void agent_state_remove(struct agent *a);
/* The text file of a policy source that is replaced or deleted goes. */
void agent_state_forget_text(struct agent *a, struct agent_policy_src *s);
/* s->text[at, +old_len) becomes repl[0, len): changed in memory and
 * appended to the text file's journal (instead of the whole text written
 * again) while the journal stays small. */
void agent_state_edit_text(struct agent *a, struct agent_policy_src *s, size_t at, size_t old_len,
			   const char *repl, size_t len);

/* regenerate.c */
int agent_regenerate(struct agent *a, char **err);
/* Regenerates where no caller can be told of a failure: after a rollback
 * (rollback: counted in status as rollbacks_failed) or after a removal that
 * is already done; a failure is logged loudly. */
void agent_regenerate_after(struct agent *a, const char *what, bool rollback);
/* The same after a one-item edit: the last compile is updated when it can be. */
int agent_regenerate_edit(struct agent *a, const struct agent_edit_hint *h, char **err);

/* cidr.c: writes the compiled CIDR identities into the ipcache, removes
 * the ones no longer named */
int agent_cidrs_sync(struct agent *a, const struct sluice_compiled *c, char **err);

/* policies.c */
int agent_policy_apply(struct agent *a, json_t *files, bool dry_run, json_t *result, char **err);
/* kind -1: every kind of that name (a clusterwide NAME may be a
 * CiliumClusterwideNetworkPolicy and a CiliumCIDRGroup) */
int agent_policy_delete(struct agent *a, const char *ref, int kind, char **err);
/* one policy of one kind (ns NULL: clusterwide) */
int agent_policy_delete_kind(struct agent *a, int kind, const char *ns, const char *name, char **err);
json_t *agent_policy_list(struct agent *a);
json_t *agent_policy_get(struct agent *a, const char *ref, char **err);

/* state.c: persistence across agent restarts */
int agent_state_save(struct agent *a);
int agent_state_restore(struct agent *a, char **err);

/* api.c: the local API server (commands in commands.c) */
int agent_api_start(struct agent *a, char **err);
void agent_api_stop(struct agent *a);

#endif
