/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_gc.c - garbage collection of unused SluiceIdentity objects, run by
 * one agent of the cluster: the holder of the coordination.k8s.io Lease
 * "sluice-identity-gc" in the agent's namespace.
 *
 * As Cilium's operator does it: an identity that no SluiceEndpoint uses
 * (and no pod of this node) is first marked with the sluice.io/heartbeat
 * annotation (the time); one still unused and marked for the grace period
 * is deleted with preconditions on its uid and resourceVersion. An agent
 * that starts using a marked identity removes the mark first
 * (k8s_identity.c), which changes the resourceVersion: the delete then
 * fails with 409 and the identity lives. Identities younger than the grace
 * period are left alone, so a pod's own SluiceEndpoint has time to appear.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"

#define LEASE_NAME "sluice-identity-gc"
#define LEASE_SECONDS 15
#define HEARTBEAT_ANNOTATION "sluice.io/heartbeat"
#define IDS_PATH "/apis/sluice.io/v1alpha1/sluiceidentities"

static char *micro_now(void)
{
	char buf[64];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return sl_strdupf("%s.%06ldZ", buf, ts.tv_nsec / 1000);
}

static char *lease_path(struct agent_k8s *k, bool item)
{
	return item ? sl_strdupf("/apis/coordination.k8s.io/v1/namespaces/%s/leases/" LEASE_NAME,
				 k->namespace)
		    : sl_strdupf("/apis/coordination.k8s.io/v1/namespaces/%s/leases", k->namespace);
}

/* ---- the collection round --------------------------------------------------- */

struct gc_ctx {
	struct agent_k8s *k;
	json_t *used; /* "id" -> true, from every SluiceEndpoint */
	json_t *todo; /* identities to mark or delete */
};

static void collect_used(void *ctx, json_t *obj)
{
	struct gc_ctx *g = ctx;
	json_int_t id = json_integer_value(json_object_get(json_object_get(obj, "spec"), "identity"));
	char ids[32];

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	json_object_set_new(g->used, ids, json_true());
}

static void collect_unused(void *ctx, json_t *obj)
{
	struct gc_ctx *g = ctx;
	const char *name = k8s_meta(obj, "name");
	uint32_t id = name ? (uint32_t)strtoul(name, NULL, 10) : 0;
	int64_t created = k8s_time_parse(k8s_meta(obj, "creationTimestamp"));

	if (!id || json_object_get(g->used, name) || k8s_identity_used_locally(g->k, id))
		return;
	if (created && (int64_t)time(NULL) - created < (int64_t)g->k->opt.gc_grace_s)
		return; /* too young: its pods may not have published yet */
	json_array_append(g->todo, obj);
}

static void on_gc_done(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;

	(void)body;
	if (k->stopping)
		return;
	/* 409: changed since we looked (a node took the mark off); 404: gone */
	if (status >= 300 && status != 409 && status != 404)
		k8s_note_error(k, "identity GC: HTTP %d %s", status, errmsg ? errmsg : "");
}

static void on_gc_deleted(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;

	if (!k->stopping && (status == 200 || status == 202))
		k->gc_deleted++;
	on_gc_done(ctx, status, body, errmsg);
}

static void gc_round(struct agent_k8s *k)
{
	struct gc_ctx g = { .k = k, .used = json_object(), .todo = json_array() };
	json_t *obj;
	size_t i;
	int64_t now = (int64_t)time(NULL);

	k->gc_rounds++;
	k8s_watch_foreach(k->coll[K8S_C_ENDPOINTS].w, collect_used, &g);
	k8s_watch_foreach(k->coll[K8S_C_IDENTITIES].w, collect_unused, &g);
	json_array_foreach(g.todo, i, obj) {
		const char *name = k8s_meta(obj, "name");
		const char *mark = json_string_value(json_object_get(
			json_object_get(json_object_get(obj, "metadata"), "annotations"), HEARTBEAT_ANNOTATION));
		char *path = sl_strdupf(IDS_PATH "/%s", name);
		json_t *body;

		if (!mark) {
			char *t = k8s_time_now();

			body = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", HEARTBEAT_ANNOTATION, t);
			/* the patch carries the resourceVersion seen: a change since
			 * (a node started using it) makes it fail */
			json_object_set_new(json_object_get(body, "metadata"), "resourceVersion",
					    json_string(k8s_meta(obj, "resourceVersion") ?: ""));
			if (!k8s_request(k->client, "PATCH", path, "application/merge-patch+json", body,
					 on_gc_done, k))
				k->gc_marked++;
			json_decref(body);
			free(t);
		} else if (now - k8s_time_parse(mark) >= (int64_t)k->opt.gc_grace_s) {
			body = json_pack("{s:s,s:s,s:{s:s,s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
					 "preconditions", "uid", k8s_meta(obj, "uid") ?: "", "resourceVersion",
					 k8s_meta(obj, "resourceVersion") ?: "");
			fprintf(stderr, "sluiced: kubernetes: identity GC: deleting unused identity %s\n", name);
			k8s_request(k->client, "DELETE", path, NULL, body, on_gc_deleted, k);
			json_decref(body);
		}
		free(path);
	}
	json_decref(g.used);
	json_decref(g.todo);
}

/* ---- the Lease -------------------------------------------------------------- */

static void lease_won(struct agent_k8s *k, json_t *lease)
{
	uint64_t now = sl_mono_ns();

	bool won = !k->leader;

	if (won)
		fprintf(stderr, "sluiced: kubernetes: this agent now runs the identity GC and writes the policies' status (lease %s/%s)\n",
			k->namespace, LEASE_NAME);
	k->leader = true;
	if (won)
		k8s_policies_status_all(k);
	free(k->lease_rv);
	k->lease_rv = sl_xstrdup(k8s_meta(lease, "resourceVersion") ?: "");
	if (k->coll[K8S_C_IDENTITIES].synced && k->coll[K8S_C_ENDPOINTS].synced &&
	    (!k->last_gc_ns || now - k->last_gc_ns >= (uint64_t)k->opt.gc_interval_s * 1000000000ull)) {
		k->last_gc_ns = now;
		gc_round(k);
	}
}

static void on_lease_written(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;

	(void)errmsg;
	if (k->stopping)
		return;
	if ((status == 200 || status == 201) && body)
		lease_won(k, body);
	else
		k->leader = false;
}

static void on_lease(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;
	char *now, *path;
	json_t *spec, *lease;

	if (k->stopping)
		return;
	now = micro_now();
	if (status == 404) {
		lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s,s:s,s:i}}", "apiVersion",
				  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", LEASE_NAME,
				  "namespace", k->namespace, "spec", "holderIdentity", k->node,
				  "leaseDurationSeconds", LEASE_SECONDS, "acquireTime", now, "renewTime", now,
				  "leaseTransitions", 0);
		path = lease_path(k, false);
		k8s_request(k->client, "POST", path, NULL, lease, on_lease_written, k);
		json_decref(lease);
		free(path);
		free(now);
		return;
	}
	if (status != 200 || !body) {
		if (status)
			k8s_note_error(k, "lease %s/%s: HTTP %d %s", k->namespace, LEASE_NAME, status,
				       errmsg ? errmsg : "");
		k->leader = false;
		free(now);
		return;
	}
	spec = json_object_get(body, "spec");
	{
		const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
		int64_t renew = k8s_time_parse(json_string_value(json_object_get(spec, "renewTime")));
		json_int_t dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds")) ?: LEASE_SECONDS;
		bool mine = holder && !strcmp(holder, k->node);

		if (!mine && holder && *holder && renew + dur >= (int64_t)time(NULL)) {
			k->leader = false; /* another agent holds it */
			free(now);
			return;
		}
		lease = json_deep_copy(body);
		spec = json_object_get(lease, "spec");
		if (!mine) {
			json_object_set_new(spec, "holderIdentity", json_string(k->node));
			json_object_set_new(spec, "acquireTime", json_string(now));
			json_object_set_new(spec, "leaseTransitions",
					    json_integer(json_integer_value(json_object_get(spec, "leaseTransitions")) + 1));
		}
		json_object_set_new(spec, "leaseDurationSeconds", json_integer(LEASE_SECONDS));
		json_object_set_new(spec, "renewTime", json_string(now));
	}
	/* PUT with the resourceVersion read: two agents taking over at once,
	 * one wins (the other gets 409) */
	path = lease_path(k, true);
	k8s_request(k->client, "PUT", path, NULL, lease, on_lease_written, k);
	json_decref(lease);
	free(path);
	free(now);
}

static void on_gc_timer(uv_timer_t *t)
{
	struct agent_k8s *k = t->data;
	char *path;

	if (k->stopping)
		return;
	path = lease_path(k, true);
	k8s_request(k->client, "GET", path, NULL, NULL, on_lease, k);
	free(path);
}

int k8s_gc_start(struct agent_k8s *k)
{
	unsigned period = k->opt.gc_interval_s < 5 ? k->opt.gc_interval_s : 5;

	return uv_timer_start(&k->gc_timer, on_gc_timer, 1000, (uint64_t)(period ? period : 1) * 1000);
}

void k8s_gc_stop(struct agent_k8s *k)
{
	if (k->gc_timer.loop)
		uv_timer_stop(&k->gc_timer);
}
