/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_secrets.c - the Secrets that policies name (TLS contexts, headerMatches), from the API, into
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
 * version stays), and the reflector keeps listing with backoff (1 s
 * doubling to 30 s, as client-go does), so a Role or a Secret made later
 * makes the policy load. Two things the agent can see short-cut that
 * backoff: a new version of a policy naming the Secret, and another
 * Secret of the same namespace listed (a Role granted there).
 *
 * A Secret deleted (or refused) while a policy naming it is in force:
 * the policy stays in force and the proxy refuses the new TLS connections
 * that need that Secret (fail closed, as Envoy resets connections whose
 * SDS secret is not supplied, and as after an agent restart, when the
 * keys are not on disk). k8s_secrets_check says so once per change: the
 * policy's status in `sluice policy list`, a TLSSecretMissing Warning
 * Event on the policy, the gauges sluice_k8s_policies_secret_missing and
 * sluice_k8s_secrets_missing, and a TLSSecretRestored Normal Event when
 * it is back (which the next connections use at once).
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
	json_t *seen;      /* "kind|ns|name" of the policies naming it -> resourceVersion */
};

/* ---- what the policies name ----------------------------------------------------- */

typedef void (*ref_fn)(void *ctx, const char *ns, const char *name);

/* every terminatingTLS/originatingTLS .secret and headerMatches[].secret
 * under v; ns: the default */
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
		if (!strcmp(key, "headerMatches")) {
			json_t *hm;
			size_t k;

			/* [{name, secret: {namespace, name}, ...}] */
			json_array_foreach(x, k, hm) {
				json_t *sec = json_object_get(hm, "secret");
				const char *name = json_string_value(json_object_get(sec, "name"));
				const char *ns = json_string_value(json_object_get(sec, "namespace"));

				if (name && *name)
					fn(ctx, ns && *ns ? ns : dflt_ns, name);
			}
			continue;
		}
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

static void force_ref(void *ctx, const struct sluice_tls_context *t, enum agent_secret_use use)
{
	struct force_walk *w = ctx;

	(void)use;
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

/* The agent cannot read Roles; a Secret of this namespace listed after
 * others were refused there is the sign that one was granted: those list
 * again now rather than at the end of their backoff. */
static void retry_namespace(struct k8s_secret_watch *ok)
{
	struct agent_k8s *k = ok->k;

	for (size_t i = 0; i < k->nsecrets; i++) {
		struct k8s_secret_watch *sw = k->secrets[i];

		if (sw != ok && sw->refused && !strcmp(sw->ns, ok->ns) && k8s_watch_retry_now(sw->w))
			fprintf(stderr,
				"sluiced: kubernetes: Secret %s/%s listed: listing %s/%s again now (refused "
				"before; the namespace's RBAC may have changed)\n",
				ok->ns, ok->name, sw->ns, sw->name);
	}
}

static void on_secret_synced(void *ctx)
{
	struct k8s_secret_watch *sw = ctx;
	bool was_refused = sw->refused;

	if (sw->k->stopping)
		return;
	sw->synced = true;
	sw->refused = false;
	if (was_refused)
		retry_namespace(sw);
	/* absent (a refusal's message is stale now; a Secret the store
	 * refused keeps its reason) */
	if (!sw->in_store && (was_refused || !sw->error))
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
	sw->seen = json_object();
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
		fprintf(stderr, "sluiced: kubernetes: watching Secret %s/%s (named by a policy)\n", ns,
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
	json_decref(sw->seen);
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

/* A policy version in the commit queue names the Secret: a version not
 * seen before (a user's change, not our own re-queue) may be what fixes a
 * refusal (a Secret moved to a namespace the agent may read, or RBAC
 * fixed alongside): list it again now. */
struct pending {
	struct agent_k8s *k;
	const char *key, *rv;
};

static void pending_ref(void *ctx, const char *ns, const char *name)
{
	struct pending *p = ctx;
	struct k8s_secret_watch *sw;
	const char *old;

	want_ref(p->k, ns, name);
	sw = sw_find(p->k, ns, name);
	if (!sw)
		return;
	old = json_string_value(json_object_get(sw->seen, p->key));
	if ((!old || strcmp(old, p->rv)) && sw->refused && k8s_watch_retry_now(sw->w))
		fprintf(stderr,
			"sluiced: kubernetes: Secret %s/%s: a policy naming it changed, listing it again now\n",
			sw->ns, sw->name);
	json_object_set_new(sw->seen, p->key, json_string(p->rv));
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
	json_object_foreach(k->policy_pending, key, obj) {
		struct pending p = { k, key, k8s_meta(obj, "resourceVersion") ?: "" };

		if (!json_is_null(obj))
			policy_refs(obj, pending_ref, &p);
	}
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

/* ---- policies in force whose Secrets are missing -------------------------------- */

/* listed (or refused) and not in the store: missing, not merely not read yet */
static bool sw_missing(const struct k8s_secret_watch *sw)
{
	return sw && !sw->in_store && (sw->synced || sw->refused);
}

struct missing {
	struct agent_k8s *k;
	char *msg;              /* the first missing Secret of one policy */
	const char *ns, *name;  /* or: which Secret's policies to list */
	json_t *names;          /* ... into this array */
	const struct sluice_policy *pol;
};

static void missing_ref(void *ctx, const struct sluice_tls_context *t, enum agent_secret_use use)
{
	struct missing *m = ctx;
	struct k8s_secret_watch *sw;

	/* t: NULL for a port without TLS */
	if (!t || !t->secret_name || m->msg)
		return;
	sw = sw_find(m->k, t->secret_ns ? t->secret_ns : "default", t->secret_name);
	if (!sw_missing(sw))
		return;
	if (use == AGENT_SECRET_HEADER)
		m->msg = sl_strdupf("Secret %s/%s is missing (%s): this version stays in force and the "
				    "HTTP rules whose headerMatches compare its value deny until the "
				    "Secret is back", sw->ns, sw->name,
				    sw->error ? sw->error : "not in the agent's store");
	else
		m->msg = sl_strdupf("TLS Secret %s/%s is missing (%s): this version stays in force and "
				    "the new TLS connections its %s needs are refused until the Secret "
				    "is back", sw->ns, sw->name,
				    sw->error ? sw->error : "not in the agent's store",
				    use == AGENT_SECRET_TERMINATING ? "terminatingTLS" : "originatingTLS");
}

static char *policy_key(const struct sluice_policy *pol)
{
	return sl_strdupf("%d|%s|%s", (int)pol->kind, pol->namespace ? pol->namespace : "", pol->name);
}

void k8s_secrets_check(struct agent_k8s *k)
{
	struct agent *a = k->a;
	json_t *now = json_object(), *v;
	const char *key;
	void *tmp;

	if (k->stopping)
		return;
	for (size_t p = 0; p < a->policies.n; p++) {
		const struct sluice_policy *pol = &a->policies.v[p];
		struct missing m = { .k = k };
		const char *old;
		char *pk;

		if (!pol->file || strncmp(pol->file, "k8s:", 4))
			continue;
		agent_secrets_walk(pol, missing_ref, &m);
		if (!m.msg)
			continue;
		pk = policy_key(pol);
		old = json_string_value(json_object_get(k->secret_missing, pk));
		if (!old || strcmp(old, m.msg)) {
			k->secret_missing_reports++;
			fprintf(stderr, "sluiced: kubernetes: policy %s%s%s: %s\n",
				pol->namespace ? pol->namespace : "", pol->namespace ? "/" : "", pol->name,
				m.msg);
			k8s_policy_event(k, (int)pol->kind, pol->namespace, pol->name, true,
					 "TLSSecretMissing", m.msg);
		}
		json_object_set_new(now, pk, json_string(m.msg));
		free(pk);
		free(m.msg);
	}
	/* back (or the policy changed so that it needs it no more) */
	json_object_foreach_safe(k->secret_missing, tmp, key, v) {
		int kind = atoi(key);
		char *dup, *ns, *name;

		if (json_object_get(now, key))
			continue;
		dup = sl_xstrdup(key);
		ns = strchr(dup, '|') + 1;
		name = strchr(ns, '|');
		*name++ = 0;
		for (size_t p = 0; p < a->policies.n; p++) {
			const struct sluice_policy *pol = &a->policies.v[p];

			if ((int)pol->kind != kind || strcmp(pol->name, name) ||
			    strcmp(pol->namespace ? pol->namespace : "", ns))
				continue;
			fprintf(stderr, "sluiced: kubernetes: policy %s%s%s: its TLS Secrets are all present again\n",
				ns, *ns ? "/" : "", name);
			k8s_policy_event(k, kind, *ns ? ns : NULL, name, false, "TLSSecretRestored",
					 "every TLS Secret this policy names is present again: new TLS "
					 "connections use it");
			break;
		}
		free(dup);
	}
	json_decref(k->secret_missing);
	k->secret_missing = now;
}

const char *k8s_secrets_policy_missing(struct agent_k8s *k, int kind, const char *ns, const char *name)
{
	char *key;
	const char *msg;

	if (!k->secret_missing)
		return NULL;
	key = sl_strdupf("%d|%s|%s", kind, ns ? ns : "", name);
	msg = json_string_value(json_object_get(k->secret_missing, key));
	free(key);
	return msg;
}

size_t k8s_secrets_missing(struct agent_k8s *k)
{
	size_t n = 0;

	for (size_t i = 0; i < k->nsecrets; i++)
		n += sw_missing(k->secrets[i]);
	return n;
}

struct named {
	const char *ns, *name;
	bool hit;
};

static void named_ref(void *ctx, const char *ns, const char *name)
{
	struct named *nm = ctx;

	if (!strcmp(ns, nm->ns) && !strcmp(name, nm->name))
		nm->hit = true;
}

/* only those of policies in force: their TLS ports refuse connections
 * until then (a new policy merely waits to load) */
size_t k8s_secrets_waiting(struct agent_k8s *k)
{
	size_t n = 0;

	for (size_t i = 0; i < k->nsecrets; i++) {
		struct k8s_secret_watch *sw = k->secrets[i];
		struct named nm = { sw->ns, sw->name, false };

		if (sw->synced || sw->refused)
			continue;
		in_force_refs(k->a, named_ref, &nm);
		n += nm.hit;
	}
	return n;
}

static void names_ref(void *ctx, const struct sluice_tls_context *t, enum agent_secret_use use)
{
	struct missing *m = ctx;
	const struct sluice_policy *pol = m->pol;
	char *s;
	size_t i;
	json_t *x;

	(void)use;
	if (!t || !t->secret_name || strcmp(t->secret_name, m->name) ||
	    strcmp(t->secret_ns ? t->secret_ns : "default", m->ns))
		return;
	s = sl_strdupf("%s %s%s%s", sluice_policy_kind_name((int)pol->kind), pol->namespace ? pol->namespace : "",
		       pol->namespace ? "/" : "", pol->name);
	json_array_foreach(m->names, i, x)
		if (!strcmp(json_string_value(x), s)) {
			free(s);
			return;
		}
	json_array_append_new(m->names, json_string(s));
	free(s);
}

json_t *k8s_secrets_status(struct agent_k8s *k)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < k->nsecrets; i++) {
		struct k8s_secret_watch *sw = k->secrets[i];
		struct missing m = { .k = k, .ns = sw->ns, .name = sw->name, .names = json_array() };
		unsigned refusals;
		uint64_t delay;

		/* the policies in force that name it (those it leaves without
		 * their TLS when missing) */
		for (size_t p = 0; p < k->a->policies.n; p++) {
			m.pol = &k->a->policies.v[p];
			if (m.pol->file && !strncmp(m.pol->file, "k8s:", 4))
				agent_secrets_walk(m.pol, names_ref, &m);
		}
		k8s_watch_refusals(sw->w, &refusals, &delay);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:b,s:b,s:s?,s:o,s:i,s:I}", "namespace",
						     sw->ns, "name", sw->name, "synced", sw->synced,
						     "present", sw->in_store, "missing", sw_missing(sw),
						     "error", sw->error, "in_force_policies", m.names,
						     "refusals", (int)refusals, "retry_delay_ms",
						     (json_int_t)delay));
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
