/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_secrets.c - the Secrets that TLS policies name, from the API, into
 * the agent's secret store (secrets.c), where the policy checks and the
 * proxy find them as they find `sluice secret create`'s.
 *
 * The agent reads no Secret it does not need: one watch per Secret named
 * by a loaded CiliumNetworkPolicy or CCNP (terminatingTLS/originatingTLS
 * .secret), LIST+WATCH of /api/v1/namespaces/NS/secrets with
 * fieldSelector=metadata.name=NAME. RBAC grants it Secrets only in the
 * namespaces an operator listed (a Role per namespace, chart value
 * tls.secretsNamespaces), so a watch elsewhere gets 403: the policy
 * naming that Secret does not load (status, metric, Event; its previous
 * version stays), and the reflector keeps listing with backoff, so a Role
 * or a Secret made later makes the policy load.
 *
 * Watches follow the policies: each commit recomputes the set of named
 * Secrets from the policy caches, starts the new watches and stops the
 * ones no policy names any more (their Secrets leave the store). A policy
 * whose Secrets are still being listed waits (k8s_secrets_ready) instead
 * of failing for a Secret that is merely not read yet; a Secret's change
 * re-queues the policies that name it, so one that failed for want of it
 * loads, while a rotated certificate reaches the proxy's next connections
 * through the store without touching the policy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"
#include "secrets.h"

struct k8s_secret_watch {
	struct agent_k8s *k;
	char *ns, *name;
	struct k8s_watch *w;
	bool synced;       /* listed at least once */
	bool refused;      /* the last LIST failed (403: no Role in that namespace) */
	bool in_store;     /* the store holds it from here */
	bool wanted;       /* scratch: named by a policy in this round */
	char *error;       /* why the last list/object did not give a Secret */
};

/* ---- what the policies name ----------------------------------------------------- */

typedef void (*ref_fn)(void *ctx, const char *ns, const char *name);

/* every terminatingTLS/originatingTLS .secret under v; ns: the default */
static void walk_refs(json_t *v, const char *dflt_ns, ref_fn fn, void *ctx)
{
	const char *key;
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			walk_refs(x, dflt_ns, fn, ctx);
		return;
	}
	if (!json_is_object(v))
		return;
	json_object_foreach(v, key, x) {
		if (!strcmp(key, "terminatingTLS") || !strcmp(key, "originatingTLS")) {
			json_t *sec = json_object_get(x, "secret");
			const char *name = json_string_value(json_object_get(sec, "name"));
			const char *ns = json_string_value(json_object_get(sec, "namespace"));

			/* as the loader does (load_cilium.c): the policy's namespace */
			if (name && *name)
				fn(ctx, ns && *ns ? ns : dflt_ns, name);
			continue;
		}
		walk_refs(x, dflt_ns, fn, ctx);
	}
}

static void policy_refs(json_t *obj, ref_fn fn, void *ctx)
{
	const char *ns = k8s_meta(obj, "namespace");

	if (!ns || !*ns)
		ns = "default";
	walk_refs(json_object_get(obj, "spec"), ns, fn, ctx);
	walk_refs(json_object_get(obj, "specs"), ns, fn, ctx);
}

/* the Secrets of the API's policies in force: a new version that does not
 * load leaves the previous one, which still needs its Secrets */
struct force_walk {
	ref_fn fn;
	void *ctx;
};

static void force_ref(void *ctx, const struct sluice_tls_context *t, bool terminating)
{
	struct force_walk *w = ctx;

	(void)terminating;
	if (t && t->secret_name)
		w->fn(w->ctx, t->secret_ns ? t->secret_ns : "default", t->secret_name);
}

static void in_force_refs(struct agent *a, ref_fn fn, void *ctx)
{
	struct force_walk w = { fn, ctx };

	for (size_t p = 0; p < a->policies.n; p++) {
		const struct sluice_policy *pol = &a->policies.v[p];

		if (pol->file && !strncmp(pol->file, "k8s:", 4))
			agent_secrets_walk(pol, force_ref, &w);
	}
}

static struct k8s_secret_watch *sw_find(struct agent_k8s *k, const char *ns, const char *name)
{
	for (size_t i = 0; i < k->nsecrets; i++)
		if (!strcmp(k->secrets[i]->ns, ns) && !strcmp(k->secrets[i]->name, name))
			return k->secrets[i];
	return NULL;
}

/* ---- the store ------------------------------------------------------------------ */

static void sw_seterr(struct k8s_secret_watch *sw, char *msg)
{
	free(sw->error);
	sw->error = msg;
}

static void store_drop(struct k8s_secret_watch *sw)
{
	char *err = NULL;

	if (!sw->in_store)
		return;
	sw->in_store = false;
	if (agent_secret_delete(sw->k->a, sw->ns, sw->name, &err))
		free(err);
}

/* a Secret object into the store; false (and sw->error) when it cannot be */
static void store_put(struct k8s_secret_watch *sw, json_t *obj)
{
	json_t *data = json_object_get(obj, "data"), *v;
	const char *type = json_string_value(json_object_get(obj, "type"));
	size_t n = json_object_size(data), i = 0;
	struct agent_secret_item *items = sl_xcalloc(n + 1, sizeof(*items));
	const char *key;
	char *err = NULL;
	int rc = 0;

	json_object_foreach(data, key, v) {
		const char *b64 = json_string_value(v);
		char *bytes = b64 ? k8s_b64_decode(b64, &items[i].len) : NULL;

		if (!bytes) {
			rc = sl_fail(&err, EINVAL, "data.%s: not base64", key);
			break;
		}
		items[i].key = (char *)key;
		items[i].data = (unsigned char *)bytes;
		i++;
	}
	if (!rc)
		rc = agent_secret_set(sw->k->a, sw->ns, sw->name, type ? type : AGENT_SECRET_OPAQUE, items,
				      i, true, false, &err);
	for (size_t j = 0; j < i; j++)
		free(items[j].data);
	free(items);
	if (rc) {
		/* a Secret the store refuses (not a certificate and key that
		 * belong together...): the policies naming it do not load */
		sw_seterr(sw, sl_strdupf("Secret %s/%s: %s", sw->ns, sw->name, err ? err : "refused"));
		k8s_note_error(sw->k, "%s", sw->error);
		free(err);
		store_drop(sw);
		return;
	}
	sw->in_store = true;
	sw_seterr(sw, NULL);
}

/* ---- re-evaluating the policies that name one Secret -------------------------------- */

struct requeue {
	struct agent_k8s *k;
	int kind;
	const char *ns, *name;
	json_t *obj;
	bool hit;
};

static void requeue_ref(void *ctx, const char *ns, const char *name)
{
	struct requeue *r = ctx;

	if (!strcmp(ns, r->ns) && !strcmp(name, r->name))
		r->hit = true;
}

static void requeue_obj(void *ctx, json_t *obj)
{
	struct requeue *r = ctx;

	r->hit = false;
	policy_refs(obj, requeue_ref, r);
	if (r->hit)
		k8s_policies_event(r->k, r->kind, K8S_MODIFIED, obj);
}

static void requeue(struct agent_k8s *k, const char *ns, const char *name)
{
	struct requeue r = { .k = k, .ns = ns, .name = name };

	if (k->coll[K8S_C_CNP].w) {
		r.kind = SLUICE_KIND_CNP;
		k8s_watch_foreach(k->coll[K8S_C_CNP].w, requeue_obj, &r);
	}
	if (k->coll[K8S_C_CCNP].w) {
		r.kind = SLUICE_KIND_CCNP;
		k8s_watch_foreach(k->coll[K8S_C_CCNP].w, requeue_obj, &r);
	}
	k8s_schedule_commit(k);
}

/* ---- one watch per Secret --------------------------------------------------------- */

static void on_secret_event(void *ctx, enum k8s_event_type type, json_t *obj)
{
	struct k8s_secret_watch *sw = ctx;
	const char *name = k8s_meta(obj, "name");

	if (sw->k->stopping || !name || strcmp(name, sw->name))
		return;
	sw->k->secret_events++;
	if (type == K8S_DELETED) {
		/* policies naming it stay in force; the proxy refuses their
		 * new TLS connections until it is back (fail closed) */
		store_drop(sw);
		sw_seterr(sw, sl_strdupf("Secret %s/%s not found", sw->ns, sw->name));
	} else {
		store_put(sw, obj);
	}
	requeue(sw->k, sw->ns, sw->name);
}

static void on_secret_synced(void *ctx)
{
	struct k8s_secret_watch *sw = ctx;

	if (sw->k->stopping)
		return;
	sw->synced = true;
	sw->refused = false;
	if (!sw->in_store && !sw->error)
		sw_seterr(sw, sl_strdupf("Secret %s/%s not found", sw->ns, sw->name));
	/* the policies that waited for this list (or failed without it) */
	requeue(sw->k, sw->ns, sw->name);
}

static void on_secret_failed(void *ctx, int status, const char *msg)
{
	struct k8s_secret_watch *sw = ctx;
	bool first = !sw->refused;

	if (sw->k->stopping)
		return;
	sw->refused = true;
	sw_seterr(sw, sl_strdupf("Secret %s/%s: %s%s", sw->ns, sw->name,
				 msg && *msg ? msg : "cannot be listed",
				 status == 403 ? " (the agent may read Secrets only in the namespaces of "
						 "tls.secretsNamespaces)"
					       : ""));
	if (first)
		k8s_note_error(sw->k, "%s", sw->error);
	/* the reflector lists again with backoff; until then, what waited
	 * for this Secret fails with this reason */
	requeue(sw->k, sw->ns, sw->name);
}

static const struct k8s_watch_ops secret_ops = {
	.event = on_secret_event,
	.synced = on_secret_synced,
	.failed = on_secret_failed,
};

static void sw_start(struct agent_k8s *k, const char *ns, const char *name)
{
	struct k8s_secret_watch *sw = sl_xcalloc(1, sizeof(*sw));
	char *path = sl_strdupf("/api/v1/namespaces/%s/secrets", ns);
	char *query = sl_strdupf("fieldSelector=metadata.name%%3D%s", name);
	char *err = NULL;

	sw->k = k;
	sw->ns = sl_xstrdup(ns);
	sw->name = sl_xstrdup(name);
	sw->wanted = true;
	k->secrets = realloc(k->secrets, (k->nsecrets + 1) * sizeof(*k->secrets));
	if (!k->secrets)
		abort();
	k->secrets[k->nsecrets++] = sw;
	if (k8s_watch_start(k->client, path, query, &secret_ops, sw, &sw->w, &err)) {
		sw->refused = true;
		sw_seterr(sw, sl_strdupf("Secret %s/%s: %s", ns, name, err ? err : "cannot watch"));
		k8s_note_error(k, "%s", sw->error);
		free(err);
	} else {
		k->secret_watch_starts++;
		fprintf(stderr, "sluiced: kubernetes: watching Secret %s/%s (named by a TLS policy)\n", ns,
			name);
	}
	free(path);
	free(query);
}

static void sw_free(struct k8s_secret_watch *sw, bool drop)
{
	if (sw->w)
		k8s_watch_stop(sw->w);
	if (drop)
		store_drop(sw);
	free(sw->ns);
	free(sw->name);
	free(sw->error);
	free(sw);
}

static void want_ref(void *ctx, const char *ns, const char *name)
{
	struct agent_k8s *k = ctx;
	struct k8s_secret_watch *sw = sw_find(k, ns, name);

	if (sw)
		sw->wanted = true;
	else
		sw_start(k, ns, name);
}

static void want_obj(void *ctx, json_t *obj)
{
	policy_refs(obj, want_ref, ctx);
}

void k8s_secrets_sync(struct agent_k8s *k)
{
	const char *key;
	json_t *obj;
	size_t i;

	if (k->stopping)
		return;
	for (i = 0; i < k->nsecrets; i++)
		k->secrets[i]->wanted = false;
	if (k->coll[K8S_C_CNP].w)
		k8s_watch_foreach(k->coll[K8S_C_CNP].w, want_obj, k);
	if (k->coll[K8S_C_CCNP].w)
		k8s_watch_foreach(k->coll[K8S_C_CCNP].w, want_obj, k);
	in_force_refs(k->a, want_ref, k);
	/* and what waits in the commit queue (deferred for its Secrets) */
	json_object_foreach(k->policy_pending, key, obj)
		if (!json_is_null(obj))
			policy_refs(obj, want_ref, k);
	for (i = 0; i < k->nsecrets;) {
		struct k8s_secret_watch *sw = k->secrets[i];

		if (sw->wanted) {
			i++;
			continue;
		}
		fprintf(stderr, "sluiced: kubernetes: Secret %s/%s no longer named by a policy: watch stopped\n",
			sw->ns, sw->name);
		k->secret_watch_stops++;
		k->secrets[i] = k->secrets[--k->nsecrets];
		sw_free(sw, true);
	}
}

/* ---- for the policies' commit ----------------------------------------------------- */

struct ready {
	struct agent_k8s *k;
	bool ready;
	char *why;
};

static void ready_ref(void *ctx, const char *ns, const char *name)
{
	struct ready *r = ctx;
	struct k8s_secret_watch *sw = sw_find(r->k, ns, name);

	if (!sw) {
		/* named by a version the caches do not hold (any more): watch
		 * it anyway; its list re-queues the policy */
		sw_start(r->k, ns, name);
		r->ready = false;
		return;
	}
	if (!sw->synced && !sw->refused)
		r->ready = false;
	if (sw->error && !sw->in_store && !r->why)
		r->why = sl_xstrdup(sw->error);
}

bool k8s_secrets_ready(struct agent_k8s *k, json_t *obj, char **why)
{
	struct ready r = { .k = k, .ready = true };

	policy_refs(obj, ready_ref, &r);
	if (why)
		*why = r.why;
	else
		free(r.why);
	return r.ready;
}

json_t *k8s_secrets_status(struct agent_k8s *k)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < k->nsecrets; i++) {
		struct k8s_secret_watch *sw = k->secrets[i];

		json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:b,s:s?}", "namespace", sw->ns, "name",
						     sw->name, "synced", sw->synced, "present",
						     sw->in_store, "error", sw->error));
	}
	return arr;
}

void k8s_secrets_free(struct agent_k8s *k)
{
	/* before the client goes; the store keeps what it holds until the
	 * agent stops (a restart lists them again) */
	for (size_t i = 0; i < k->nsecrets; i++)
		sw_free(k->secrets[i], false);
	free(k->secrets);
	k->secrets = NULL;
	k->nsecrets = 0;
}
