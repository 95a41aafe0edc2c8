/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_source.c - the Kubernetes source's frame: the client from the
 * kubeconfig or the in-cluster config, one reflector per collection, and
 * the batch commit.
 *
 * Watch events only mark what changed (a pending policy object, a dirty
 * flag); one commit per loop turn then turns every mark into registry
 * changes and one regeneration, so a LIST of 500 objects costs one
 * compile, not 500. Nothing is removed before its collection's first list
 * is complete: after a restart the pinned datapath and the restored state
 * keep enforcing while the agent catches up.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"

#define COMMIT_DELAY_MS 5

static const struct {
	const char *name, *path;
	bool node_scoped;
} colls[K8S_C_MAX] = {
	[K8S_C_PODS] = { "pods", "/api/v1/pods", true },
	[K8S_C_NAMESPACES] = { "namespaces", "/api/v1/namespaces", false },
	[K8S_C_NETPOL] = { "networkpolicies", "/apis/networking.k8s.io/v1/networkpolicies", false },
	[K8S_C_CNP] = { "ciliumnetworkpolicies", "/apis/cilium.io/v2/ciliumnetworkpolicies", false },
	[K8S_C_CCNP] = { "ciliumclusterwidenetworkpolicies",
			 "/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies", false },
	[K8S_C_CCG] = { "ciliumcidrgroups", "/apis/cilium.io/v2alpha1/ciliumcidrgroups", false },
	[K8S_C_IDENTITIES] = { "sluiceidentities", "/apis/sluice.io/v1alpha1/sluiceidentities", false },
	[K8S_C_ENDPOINTS] = { "sluiceendpoints", "/apis/sluice.io/v1alpha1/sluiceendpoints", false },
	[K8S_C_SERVICES] = { "services", "/api/v1/services", false },
	/* the path comes from discovery (k8s_services.c) */
	[K8S_C_EPSLICES] = { "endpointslices", NULL, false },
	[K8S_C_NODES] = { "nodes", "/api/v1/nodes", false },
};

const char *k8s_meta(json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

char *k8s_key(const char *ns, const char *name)
{
	return sl_strdupf("%s/%s", ns ? ns : "", name ? name : "");
}

int64_t k8s_time_parse(const char *s)
{
	uint64_t ns;

	return sl_parse_rfc3339(s, &ns) ? 0 : (int64_t)(ns / 1000000000ull);
}

char *k8s_time_now(void)
{
	char buf[64];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return sl_xstrdup(buf);
}

void k8s_note_error(struct agent_k8s *k, const char *fmt, ...)
{
	va_list ap;

	k->errors++;
	fprintf(stderr, "sluiced: kubernetes: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- the batch commit ------------------------------------------------------ */

static void on_commit(uv_timer_t *t)
{
	struct agent_k8s *k = t->data;

	k->commit_scheduled = false;
	if (k->stopping)
		return;
	k->commits++;
	/* one batch (commit.c): what the steps below leave to the commit
	 * (saves, the services' regeneration) happens once, at its end */
	agent_commit_begin(k->a);
	/* the Secrets the policies name: watches follow the policy caches */
	k8s_secrets_sync(k);
	/* policies first: a pod that moves identity finds the policy that
	 * selects its new labels already in force */
	k8s_policies_commit(k);
	k8s_pods_commit(k);
	/* after the pods: an address that is also a pod's keeps the pod's;
	 * before the services: the API server's addresses are read against
	 * the nodes' */
	k8s_nodes_commit(k);
	k8s_services_commit(k);
	k8s_endpoints_commit(k);
	/* and again: a policy gone (or replaced) with this commit may have
	 * been the last to name a Secret */
	k8s_secrets_sync(k);
	agent_commit_end(k->a, "kubernetes", NULL);
	/* what the policies now in force lack */
	k8s_secrets_check(k);
	k8s_endpoints_schedule(k);
	/* the taint goes once the node enforces and new pods are chained
	 * through sluice-cni (cni.c calls this again when it has chained) */
	if (k->all_synced && !agent_cni_conf_pending(k->a))
		k8s_node_ready(k);
}

void k8s_schedule_commit(struct agent_k8s *k)
{
	if (k->commit_scheduled || k->stopping)
		return;
	k->commit_scheduled = true;
	uv_timer_start(&k->commit_timer, on_commit, COMMIT_DELAY_MS, 0);
}

/* ---- reflectors ------------------------------------------------------------ */

static void on_event(void *ctx, enum k8s_event_type type, json_t *obj)
{
	struct k8s_coll_state *cs = ctx;
	struct agent_k8s *k = cs->k;

	cs->events++;
	switch (cs->id) {
	case K8S_C_PODS: k8s_pods_event(k, type, obj); break;
	case K8S_C_NAMESPACES: k8s_namespaces_event(k, type, obj); break;
	case K8S_C_NETPOL: k8s_policies_event(k, SLUICE_KIND_K8S, type, obj); break;
	case K8S_C_CNP: k8s_policies_event(k, SLUICE_KIND_CNP, type, obj); break;
	case K8S_C_CCNP: k8s_policies_event(k, SLUICE_KIND_CCNP, type, obj); break;
	case K8S_C_CCG: k8s_policies_event(k, SLUICE_KIND_CCG, type, obj); break;
	case K8S_C_IDENTITIES: k8s_identity_event(k, type, obj); break;
	case K8S_C_ENDPOINTS: k8s_endpoints_event(k, type, obj); break;
	case K8S_C_SERVICES:
	case K8S_C_EPSLICES: k8s_services_event(k, type, obj); break;
	case K8S_C_NODES: k8s_nodes_event(k, type, obj); break;
	case K8S_C_MAX: break;
	}
	k8s_schedule_commit(k);
}

static void check_all_synced(struct agent_k8s *k)
{
	size_t i;

	for (i = 0; i < K8S_C_MAX; i++)
		if (!k->coll[i].synced && !k->coll[i].absent)
			return;
	if (!k->all_synced) {
		fprintf(stderr, "sluiced: kubernetes: every collection synced\n");
		/* CNI ADD waits until now: no pod starts before its policy */
		k->a->sources_syncing--;
	}
	k->all_synced = true;
}

static void on_synced(void *ctx)
{
	struct k8s_coll_state *cs = ctx;

	if (!cs->synced)
		fprintf(stderr, "sluiced: kubernetes: %s synced (%zu events)\n", cs->name,
			(size_t)cs->events);
	cs->synced = true;
	cs->refused = false;
	/* a (re)list may have removed things: every consumer looks again */
	cs->k->remotes_dirty = cs->k->pods_dirty = cs->k->nss_dirty = true;
	cs->k->nodes_dirty = true;
	if (cs->id == K8S_C_IDENTITIES)
		k8s_identity_synced(cs->k);
	check_all_synced(cs->k);
	k8s_schedule_commit(cs->k);
}

static void on_failed(void *ctx, int status, const char *msg)
{
	struct k8s_coll_state *cs = ctx;
	char *e = sl_strdupf("HTTP %d: %s", status, msg ? msg : "");

	/* said once: the reflector retries with backoff, and the same
	 * refusal every 30 s is not news (the client's counters count each) */
	if (!cs->refused || !cs->last_error || strcmp(cs->last_error, e))
		k8s_note_error(cs->k, "%s: %s", cs->name, e);
	cs->refused = true;
	free(cs->last_error);
	cs->last_error = e;
	/* a collection the server does not serve (no Cilium CRDs) holds
	 * nothing: treat it as synced and empty; so do Nodes when the role
	 * may not list them (an older ClusterRole: remote-node then matches
	 * no address, said above and in status) */
	if (status == 404 || (status == 403 && cs->id == K8S_C_NODES)) {
		cs->absent = true;
		check_all_synced(cs->k);
		k8s_schedule_commit(cs->k);
	}
}

void k8s_coll_absent(struct agent_k8s *k, struct k8s_coll_state *cs, const char *why)
{
	free(cs->last_error);
	cs->last_error = sl_xstrdup(why);
	cs->absent = true;
	check_all_synced(k);
	k8s_schedule_commit(k);
}

static const struct k8s_watch_ops watch_ops = {
	.event = on_event,
	.synced = on_synced,
	.failed = on_failed,
};

int k8s_start_collection(struct agent_k8s *k, struct k8s_coll_state *cs, const char *path,
			 const char *query, char **err)
{
	return k8s_watch_start(k->client, path, query, &watch_ops, cs, &cs->w, err);
}

static int load_config(struct agent_k8s *k, struct k8s_config *cfg, char **err)
{
	int rc;

	if (k->opt.kubeconfig)
		rc = k8s_config_from_kubeconfig(k->opt.kubeconfig, NULL, cfg, err);
	else
		rc = k8s_config_in_cluster(k->opt.sa_dir, cfg, err);
	return rc;
}

int agent_k8s_start(struct agent *a, const struct agent_k8s_options *opt, char **err)
{
	struct agent_k8s *k = sl_xcalloc(1, sizeof(*k));
	struct k8s_config cfg = { 0 };
	size_t i;
	int rc;

	k->a = a;
	k->opt = *opt;
	if (!k->opt.gc_interval_s)
		k->opt.gc_interval_s = 900;
	if (!k->opt.gc_grace_s)
		k->opt.gc_grace_s = 1800;
	if (!k->opt.ep_throttle_ms)
		k->opt.ep_throttle_ms = 500;
	k->node = a->cfg.node_name;
	k->policy_pending = json_object();
	k->id_local = json_object();
	k->id_by_key = json_object();
	k->id_by_id = json_object();
	k->id_unmarking = json_object();
	a->k8s = k;
	a->sources_syncing++;
	rc = load_config(k, &cfg, err);
	if (rc)
		goto fail;
	k->server = sl_xstrdup(cfg.server);
	k->namespace = sl_xstrdup(cfg.namespace && *cfg.namespace ? cfg.namespace : "kube-system");
	rc = k8s_client_new(a->loop, &cfg, &k->client, err);
	k8s_config_free(&cfg);
	if (rc)
		goto fail;
	uv_timer_init(a->loop, &k->commit_timer);
	k->commit_timer.data = k;
	uv_timer_init(a->loop, &k->ep_timer);
	k->ep_timer.data = k;
	uv_timer_init(a->loop, &k->gc_timer);
	k->gc_timer.data = k;
	a->pod_meta = k8s_pod_meta;
	for (i = 0; i < K8S_C_MAX; i++) {
		struct k8s_coll_state *cs = &k->coll[i];
		char *query = NULL;

		cs->k = k;
		cs->id = (enum k8s_coll)i;
		cs->name = colls[i].name;
		if (!colls[i].path)
			continue;
		if (colls[i].node_scoped)
			query = sl_strdupf("fieldSelector=spec.nodeName%%3D%s", k->node);
		rc = k8s_watch_start(k->client, colls[i].path, query, &watch_ops, cs, &cs->w, err);
		free(query);
		if (rc)
			goto fail;
	}
	k8s_services_start(k);
	rc = k8s_gc_start(k);
	if (rc) {
		sl_fail(err, rc, "identity GC timer: %s", strerror(-rc));
		goto fail;
	}
	fprintf(stderr, "sluiced: kubernetes source: server %s, node %s\n", k->server, k->node);
	return 0;
fail:
	agent_k8s_stop(a);
	return rc;
}

static void on_timer_closed(uv_handle_t *h)
{
	(void)h;
}

void agent_k8s_stop(struct agent *a)
{
	struct agent_k8s *k = a->k8s;
	size_t i;

	if (!k)
		return;
	k->stopping = true;
	a->pod_meta = NULL;
	if (!k->all_synced)
		a->sources_syncing--;
	k8s_gc_stop(k);
	k8s_services_stop(k);
	k8s_secrets_free(k);
	for (i = 0; i < K8S_C_MAX; i++) {
		if (k->coll[i].w)
			k8s_watch_stop(k->coll[i].w);
		free(k->coll[i].last_error);
	}
	if (k->client)
		k8s_client_free(k->client);
	if (k->commit_timer.loop) {
		uv_close((uv_handle_t *)&k->commit_timer, on_timer_closed);
		uv_close((uv_handle_t *)&k->ep_timer, on_timer_closed);
		uv_close((uv_handle_t *)&k->gc_timer, on_timer_closed);
		if (k->slice_timer.loop)
			uv_close((uv_handle_t *)&k->slice_timer, on_timer_closed);
		uv_run(a->loop, UV_RUN_NOWAIT);
	}
	k8s_policies_free(k);
	k8s_identity_free(k);
	k8s_endpoints_free(k);
	json_decref(k->policy_pending);
	json_decref(k->id_local);
	json_decref(k->id_by_key);
	json_decref(k->id_by_id);
	json_decref(k->id_unmarking);
	json_decref(k->secret_missing);
	json_decref(k->node_pod_cidrs);
	free(k->server);
	free(k->namespace);
	free(k->lease_rv);
	free(k);
	a->k8s = NULL;
}

json_t *agent_k8s_status(struct agent *a)
{
	struct agent_k8s *k = a->k8s;
	struct k8s_client_stats st = { 0 };
	json_t *o, *colls_j;
	size_t i;

	if (!k)
		return json_null();
	k8s_client_stats(k->client, &st);
	colls_j = json_object();
	for (i = 0; i < K8S_C_MAX; i++) {
		struct k8s_coll_state *cs = &k->coll[i];

		json_object_set_new(colls_j, cs->name,
				    json_pack("{s:b,s:b,s:I,s:s?}", "synced", cs->synced, "absent", cs->absent,
					      "events", (json_int_t)cs->events, "last_error",
					      cs->last_error));
	}
	o = json_pack("{s:s,s:s,s:s,s:b,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:I,s:I}",
		      "server", k->server, "node", k->node, "namespace", k->namespace, "synced",
		      k->all_synced, "collections", colls_j, "client", "requests",
		      (json_int_t)st.requests, "errors", (json_int_t)st.errors, "forbidden",
		      (json_int_t)st.forbidden, "not_found", (json_int_t)st.not_found, "relists",
		      (json_int_t)st.relists, "rewatches", (json_int_t)st.rewatches, "events",
		      (json_int_t)st.events, "token_reloads", (json_int_t)st.token_reloads,
		      "connections", (json_int_t)st.connections, "reused", (json_int_t)st.reused,
		      "commits", (json_int_t)k->commits, "errors", (json_int_t)k->errors);
	json_object_set_new(o, "services", k8s_services_status(k));
	/* the other nodes' addresses with the remote-node identity */
	json_object_set_new(o, "remote_node_addresses", json_integer((json_int_t)a->nremote_nodes));
	json_object_set_new(o, "secrets", k8s_secrets_status(k));
	json_object_set_new(o, "secrets_waiting", json_integer((json_int_t)k8s_secrets_waiting(k)));
	json_object_set_new(o, "policies_secret_missing",
			    json_integer((json_int_t)(k->secret_missing ? json_object_size(k->secret_missing) : 0)));
	json_object_set_new(o, "identities",
			    json_pack("{s:I,s:I,s:I}", "allocated", (json_int_t)k->ids_allocated, "conflicts",
				      (json_int_t)k->id_conflicts, "errors", (json_int_t)k->id_alloc_errors));
	json_object_set_new(o, "policy_load_failures", json_integer((json_int_t)k->policy_failures));
	json_object_set_new(o, "events_posted", json_integer((json_int_t)k->events_posted));
	json_object_set_new(o, "policy_status_writes", json_integer((json_int_t)k->policy_status_writes));
	json_object_set_new(o, "endpoint_writes", json_integer((json_int_t)k->ep_writes));
	json_object_set_new(o, "identity_gc",
			    json_pack("{s:b,s:I,s:I,s:I}", "leader", k->leader, "rounds",
				      (json_int_t)k->gc_rounds, "marked", (json_int_t)k->gc_marked,
				      "deleted", (json_int_t)k->gc_deleted));
	return o;
}

char *agent_k8s_not_ready(struct agent *a)
{
	struct agent_k8s *k = a->k8s;
	size_t n = k ? k8s_secrets_waiting(k) : 0;

	/* after a restart: the keys are not on disk, so the TLS ports of the
	 * policies in force refuse connections (and the HTTP rules whose
	 * headerMatches compare a Secret's value deny) until the Secrets are
	 * listed */
	if (!n)
		return NULL;
	return sl_strdupf("waiting for %zu Secret%s to be listed (the TLS connections and header matches "
			  "that need them are refused meanwhile)",
			  n, n == 1 ? "" : "s");
}

char *agent_k8s_metrics(struct agent *a)
{
	struct agent_k8s *k = a->k8s;
	struct k8s_client_stats st = { 0 };
	char *out;
	size_t i, failing = 0;

	if (!k)
		return sl_xstrdup("");
	k8s_client_stats(k->client, &st);
	for (i = 0; i < k->npstat; i++)
		failing += k->pstat[i].error != NULL;
	out = sl_strdupf(
		"# HELP sluice_k8s_policy_load_failures_total Policy objects from the API that failed to load (the previous version stays in force).\n"
		"# TYPE sluice_k8s_policy_load_failures_total counter\n"
		"sluice_k8s_policy_load_failures_total %llu\n"
		"# HELP sluice_k8s_policies_failing Policy objects whose current version does not load.\n"
		"# TYPE sluice_k8s_policies_failing gauge\n"
		"sluice_k8s_policies_failing %zu\n"
		"# HELP sluice_k8s_api_requests_total Requests made to the Kubernetes API server.\n"
		"# TYPE sluice_k8s_api_requests_total counter\n"
		"sluice_k8s_api_requests_total %llu\n"
		"# HELP sluice_k8s_api_errors_total Failed requests to the Kubernetes API server (transport, 5xx, 429, 401...; 403 and 404 are in sluice_k8s_api_refusals_total).\n"
		"# TYPE sluice_k8s_api_errors_total counter\n"
		"sluice_k8s_api_errors_total %llu\n"
		"# HELP sluice_k8s_api_refusals_total Requests the API server refused: forbidden (403, RBAC) or not_found (404: a CRD not installed, an object that does not exist).\n"
		"# TYPE sluice_k8s_api_refusals_total counter\n"
		"sluice_k8s_api_refusals_total{reason=\"forbidden\"} %llu\n"
		"sluice_k8s_api_refusals_total{reason=\"not_found\"} %llu\n"
		"# HELP sluice_k8s_relists_total Collections listed again (410 Gone, expired watch).\n"
		"# TYPE sluice_k8s_relists_total counter\n"
		"sluice_k8s_relists_total %llu\n"
		"# HELP sluice_k8s_watch_events_total Watch events received.\n"
		"# TYPE sluice_k8s_watch_events_total counter\n"
		"sluice_k8s_watch_events_total %llu\n"
		"# HELP sluice_k8s_identities_allocated_total Cluster identities created by this agent.\n"
		"# TYPE sluice_k8s_identities_allocated_total counter\n"
		"sluice_k8s_identities_allocated_total %llu\n"
		"# HELP sluice_k8s_api_connections_total Connections opened for one-shot requests (the others reuse a kept-alive one).\n"
		"# TYPE sluice_k8s_api_connections_total counter\n"
		"sluice_k8s_api_connections_total %llu\n"
		"# HELP sluice_k8s_token_reloads_total Re-reads of the token file that found a new token.\n"
		"# TYPE sluice_k8s_token_reloads_total counter\n"
		"sluice_k8s_token_reloads_total %llu\n"
		"# HELP sluice_k8s_secret_watches Secrets watched because a TLS policy names them.\n"
		"# TYPE sluice_k8s_secret_watches gauge\n"
		"sluice_k8s_secret_watches %zu\n"
		"# HELP sluice_k8s_secrets_missing Watched Secrets that are absent, refused or not usable.\n"
		"# TYPE sluice_k8s_secrets_missing gauge\n"
		"sluice_k8s_secrets_missing %zu\n"
		"# HELP sluice_k8s_secrets_waiting Watched Secrets not listed yet (their TLS connections are refused meanwhile).\n"
		"# TYPE sluice_k8s_secrets_waiting gauge\n"
		"sluice_k8s_secrets_waiting %zu\n"
		"# HELP sluice_k8s_policies_secret_missing Policies in force that name a missing TLS Secret (their new TLS connections are refused).\n"
		"# TYPE sluice_k8s_policies_secret_missing gauge\n"
		"sluice_k8s_policies_secret_missing %zu\n"
		"# HELP sluice_k8s_synced Whether every watched collection has been listed.\n"
		"# TYPE sluice_k8s_synced gauge\n"
		"sluice_k8s_synced %d\n",
		(unsigned long long)k->policy_failures, failing, (unsigned long long)st.requests,
		(unsigned long long)st.errors, (unsigned long long)st.forbidden,
		(unsigned long long)st.not_found, (unsigned long long)st.relists,
		(unsigned long long)st.events, (unsigned long long)k->ids_allocated,
		(unsigned long long)st.connections, (unsigned long long)st.token_reloads, k->nsecrets,
		k8s_secrets_missing(k), k8s_secrets_waiting(k),
		k->secret_missing ? json_object_size(k->secret_missing) : 0, k->all_synced ? 1 : 0);
	return out;
}
