/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_policies.c - NetworkPolicy, CiliumNetworkPolicy,
 * CiliumClusterwideNetworkPolicy and CiliumCIDRGroup objects from the API,
 * through the same loader and compiler as `sluice policy apply`.
 *
 * Each object is one policy, all or nothing: one that fails to load keeps
 * its previous version in force. The objects that changed are applied
 * together, one parse of each and one compile per commit; when one rule of
 * a lone changed object changed (a `kubectl apply` or `edit`), that item
 * alone is parsed and compiled (the object's JSON text is kept, and
 * policy/edit.c reads it as a file applied again). Only if that apply
 * fails is each object loaded alone, to refuse just the ones that do not
 * load, and the others applied together; if that compile fails (map
 * sizes), they are applied one by one so that only the culprit is refused.
 * A failure shows in `sluice policy list` (status), in the
 * sluice_k8s_policy_load_failures_total metric and as a Warning Event on
 * the object.
 *
 * A policy from the API is stored with file "k8s:<resource>/<ns>/<name>",
 * which tells the reconcile after a (re)list which stored policies came
 * from the API: those the list no longer holds are removed, and only
 * after the list is complete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"

struct kind_info {
	int kind;
	enum k8s_coll coll;
	const char *resource, *api_version, *kind_name;
};

static const struct kind_info kinds[] = {
	{ SLUICE_KIND_K8S, K8S_C_NETPOL, "networkpolicies", "networking.k8s.io/v1", "NetworkPolicy" },
	{ SLUICE_KIND_CNP, K8S_C_CNP, "ciliumnetworkpolicies", "cilium.io/v2", "CiliumNetworkPolicy" },
	{ SLUICE_KIND_CCNP, K8S_C_CCNP, "ciliumclusterwidenetworkpolicies", "cilium.io/v2",
	  "CiliumClusterwideNetworkPolicy" },
	/* a CiliumCIDRGroup is an item of the policy set too (policy/cidr_group.c):
	 * loaded, refused and removed the same way */
	{ SLUICE_KIND_CCG, K8S_C_CCG, "ciliumcidrgroups", "cilium.io/v2alpha1", "CiliumCIDRGroup" },
};

static const struct kind_info *kind_of(int kind)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].kind == kind)
			return &kinds[i];
	return NULL;
}

static char *file_name(const struct kind_info *ki, const char *ns, const char *name)
{
	return ns && *ns ? sl_strdupf("k8s:%s/%s/%s", ki->resource, ns, name)
			 : sl_strdupf("k8s:%s/%s", ki->resource, name);
}

static char *pending_key(int kind, const char *ns, const char *name)
{
	return sl_strdupf("%d|%s|%s", kind, ns ? ns : "", name);
}

void k8s_policies_event(struct agent_k8s *k, int kind, int type, json_t *obj)
{
	const char *ns = k8s_meta(obj, "namespace"), *name = k8s_meta(obj, "name");
	char *key;

	if (!name)
		return;
	key = pending_key(kind, ns, name);
	json_object_set(k->policy_pending, key, type == K8S_DELETED ? json_null() : obj);
	free(key);
}

/* ---- status of each object ------------------------------------------------------ */

static struct k8s_policy_status *pstat_find(struct agent_k8s *k, int kind, const char *ns,
					    const char *name, bool create)
{
	size_t i;
	struct k8s_policy_status *s;

	for (i = 0; i < k->npstat; i++) {
		s = &k->pstat[i];
		if (s->kind == kind && !strcmp(s->name, name) && !strcmp(s->ns ? s->ns : "", ns ? ns : ""))
			return s;
	}
	if (!create)
		return NULL;
	k->pstat = realloc(k->pstat, (k->npstat + 1) * sizeof(*k->pstat));
	if (!k->pstat)
		abort();
	s = &k->pstat[k->npstat++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->ns = ns && *ns ? sl_xstrdup(ns) : NULL;
	s->name = sl_xstrdup(name);
	return s;
}

static void pstat_drop(struct agent_k8s *k, int kind, const char *ns, const char *name)
{
	struct k8s_policy_status *s = pstat_find(k, kind, ns, name, false);

	if (!s)
		return;
	free(s->ns);
	free(s->name);
	free(s->error);
	free(s->rv);
	*s = k->pstat[--k->npstat];
}

const char *k8s_policy_error(struct agent_k8s *k, int kind, const char *ns, const char *name)
{
	struct k8s_policy_status *s = pstat_find(k, kind, ns, name, false);

	/* a newer version that does not load says more than the Secret
	 * the version in force lacks */
	return s && s->error ? s->error : k8s_secrets_policy_missing(k, kind, ns, name);
}

static bool in_force(struct agent *a, int kind, const char *ns, const char *name)
{
	size_t i;

	for (i = 0; i < a->policies.n; i++) {
		const struct sluice_policy *p = &a->policies.v[i];

		if ((int)p->kind == kind && !strcmp(p->name, name) &&
		    !strcmp(p->namespace ? p->namespace : "", ns ? ns : ""))
			return true;
	}
	return false;
}

void k8s_policies_list_failed(struct agent_k8s *k, json_t *arr)
{
	size_t i;

	for (i = 0; i < k->npstat; i++) {
		struct k8s_policy_status *s = &k->pstat[i];
		const struct kind_info *ki = kind_of(s->kind);

		if (!s->error || in_force(k->a, s->kind, s->ns, s->name))
			continue;
		json_array_append_new(arr, json_pack("{s:s,s:o,s:s,s:i,s:o,s:s}", "kind", ki->kind_name,
						     "namespace", s->ns ? json_string(s->ns) : json_null(),
						     "name", s->name, "rules", 0, "file",
						     json_string_nocheck(""), "status", s->error));
	}
}

/* ---- Events --------------------------------------------------------------------- */

static void on_event_posted(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;

	(void)body;
	if (k->stopping)
		return;
	if (status == 201)
		k->events_posted++;
	else /* 403: RBAC may not allow it; the status and metric still tell */
		k8s_note_error(k, "posting an Event: HTTP %d %s", status, errmsg ? errmsg : "");
}

static void post_event_as(struct agent_k8s *k, const struct kind_info *ki, json_t *obj, const char *type,
			  const char *reason, const char *msg)
{
	const char *ns = k8s_meta(obj, "namespace"), *name = k8s_meta(obj, "name");
	const char *evns = ns && *ns ? ns : "default";
	char *now = k8s_time_now(), *path = sl_strdupf("/api/v1/namespaces/%s/events", evns);
	char *gen = sl_strdupf("%s.", name);
	json_t *ev = json_pack(
		"{s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:i,s:s,s:s}",
		"metadata", "generateName", gen, "namespace", evns, "involvedObject", "apiVersion",
		ki->api_version, "kind", ki->kind_name, "name", name, "namespace", ns ? ns : "", "uid",
		k8s_meta(obj, "uid") ?: "", "resourceVersion", k8s_meta(obj, "resourceVersion") ?: "",
		"reason", reason, "message", msg, "type", type, "source", "component",
		"sluice-agent", "host", k->node, "firstTimestamp", now, "lastTimestamp", now, "count", 1,
		"reportingComponent", "sluice.io/agent", "reportingInstance", k->node);

	if (ev && k8s_request(k->client, "POST", path, NULL, ev, on_event_posted, k))
		k8s_note_error(k, "cannot send an Event");
	json_decref(ev);
	free(now);
	free(path);
	free(gen);
}

static void post_event(struct agent_k8s *k, const struct kind_info *ki, json_t *obj, const char *msg)
{
	post_event_as(k, ki, obj, "Warning", "PolicyLoadFailed", msg);
}

void k8s_policy_event(struct agent_k8s *k, int kind, const char *ns, const char *name, bool warning,
		      const char *reason, const char *msg)
{
	const struct kind_info *ki = kind_of(kind);
	json_t *obj = ki ? k8s_watch_get(k->coll[ki->coll].w, ns, name) : NULL;

	if (obj)
		post_event_as(k, ki, obj, warning ? "Warning" : "Normal", reason, msg);
}

/* ---- loading -------------------------------------------------------------------- */

/* The object as the loader reads it: the envelope and the spec; what the
 * server adds (status, managedFields, annotations) stays out. JSON is YAML. */
static char *policy_text(const struct kind_info *ki, json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata"), *o, *m;
	char *text;

	m = json_object();
	json_object_set(m, "name", json_object_get(meta, "name"));
	if (json_object_get(meta, "namespace"))
		json_object_set(m, "namespace", json_object_get(meta, "namespace"));
	if (json_object_get(meta, "labels"))
		json_object_set(m, "labels", json_object_get(meta, "labels"));
	o = json_pack("{s:s,s:s,s:o}", "apiVersion", ki->api_version, "kind", ki->kind_name, "metadata", m);
	if (json_object_get(obj, "spec"))
		json_object_set(o, "spec", json_object_get(obj, "spec"));
	if (json_object_get(obj, "specs"))
		json_object_set(o, "specs", json_object_get(obj, "specs"));
	text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	return text;
}

static const struct agent_policy_src *stored(struct agent *a, int kind, const char *ns, const char *name)
{
	size_t i;

	for (i = 0; i < a->nsrcs; i++) {
		const struct agent_policy_src *s = &a->srcs[i];

		if (s->kind == kind && !strcmp(s->name, name) &&
		    !strcmp(s->ns ? s->ns : "", ns ? ns : ""))
			return s;
	}
	return NULL;
}

static void failed(struct agent_k8s *k, const struct kind_info *ki, json_t *obj, const char *msg)
{
	const char *ns = k8s_meta(obj, "namespace"), *name = k8s_meta(obj, "name");
	const char *rv = k8s_meta(obj, "resourceVersion") ?: "";
	struct k8s_policy_status *s = pstat_find(k, ki->kind, ns, name, true);
	bool kept = in_force(k->a, ki->kind, ns, name);
	char *full = sl_strdupf("%s%s", msg, kept ? " (the previous version stays in force)" : "");

	if (s->rv && !strcmp(s->rv, rv) && s->error && !strcmp(s->error, full)) {
		free(full);
		return; /* this version was reported already */
	}
	k->policy_failures++;
	fprintf(stderr, "sluiced: kubernetes: %s %s%s%s not loaded: %s\n", ki->kind_name, ns ? ns : "",
		ns ? "/" : "", name, full);
	free(s->error);
	free(s->rv);
	s->error = full;
	s->rv = sl_xstrdup(rv);
	post_event(k, ki, obj, full);
}

static void loaded(struct agent_k8s *k, int kind, const char *ns, const char *name)
{
	pstat_drop(k, kind, ns, name);
}

static int apply_files(struct agent *a, json_t *files, char **err)
{
	json_t *result = json_object();
	int rc = agent_policy_apply(a, files, false, result, err);

	json_decref(result);
	return rc;
}

/* objects loaded alone and staged for one apply: file json, kind info, object */
struct staged {
	const struct kind_info *ki;
	json_t *obj;
	char *why;   /* a Secret it names is missing or refused (k8s_secrets.c) */
};

/* the loader's or the apply's message, and why a Secret it names is missing */
static void failed_why(struct agent_k8s *k, const struct kind_info *ki, json_t *obj, const char *msg,
		       const char *why)
{
	char *full = why ? sl_strdupf("%s (%s)", msg, why) : NULL;

	failed(k, ki, obj, full ? full : msg);
	free(full);
}

static void remove_policy(struct agent_k8s *k, int kind, const char *ns, const char *name)
{
	char *err = NULL;

	pstat_drop(k, kind, ns, name);
	if (!stored(k->a, kind, ns, name))
		return;
	fprintf(stderr, "sluiced: kubernetes: %s %s%s%s deleted\n", kind_of(kind)->kind_name,
		ns ? ns : "", ns ? "/" : "", name);
	if (agent_policy_delete_kind(k->a, kind, ns && *ns ? ns : NULL, name, &err)) {
		k8s_note_error(k, "removing policy %s: %s", name, err);
		free(err);
	}
}

/* Stored policies from the API that a complete list no longer holds. */
static void reconcile(struct agent_k8s *k)
{
	struct agent *a = k->a;
	size_t i, j;

	for (j = 0; j < sizeof(kinds) / sizeof(kinds[0]); j++) {
		const struct kind_info *ki = &kinds[j];
		struct k8s_coll_state *cs = &k->coll[ki->coll];
		char *prefix = sl_strdupf("k8s:%s/", ki->resource);

		if (!cs->synced && !cs->absent) {
			free(prefix);
			continue;
		}
		for (i = 0; i < a->nsrcs;) {
			struct agent_policy_src *s = &a->srcs[i];
			size_t before = a->nsrcs;

			if (s->kind == ki->kind && s->file && !strncmp(s->file, prefix, strlen(prefix)) &&
			    !(cs->w && k8s_watch_get(cs->w, s->ns, s->name))) {
				char *ns = s->ns ? sl_xstrdup(s->ns) : NULL, *name = sl_xstrdup(s->name);

				remove_policy(k, ki->kind, ns, name);
				free(ns);
				free(name);
			}
			if (a->nsrcs == before)
				i++;
		}
		free(prefix);
	}
}

/* Loads an object alone: NULL when it loads, else why not (malloc'd). */
static char *load_alone(const char *file, const char *text)
{
	struct sluice_policy_set set = { 0 };
	struct sluice_diags errors = { 0 }, warnings = { 0 };
	char *why = NULL;

	if (sluice_policy_load(file, text, strlen(text), &set, &errors, &warnings) || set.n != 1)
		why = sl_xstrdup(errors.n ? errors.v[0].msg : "not exactly one policy");
	sluice_policy_set_free(&set);
	sluice_diags_free(&errors);
	sluice_diags_free(&warnings);
	return why;
}

static void staged_loaded(struct agent_k8s *k, const struct staged *s)
{
	loaded(k, s->ki->kind, k8s_meta(s->obj, "namespace"), k8s_meta(s->obj, "name"));
}

/*
 * The objects that changed are applied together first: one parse of each
 * and one compile (and a lone object with one rule changed is a one-item
 * edit, policy/edit.c). Only when that fails for several (an object that
 * does not load, or the whole not fitting the maps) is each loaded alone,
 * the ones that load applied together, and if that fails too, one by one:
 * only the culprits are refused, the others go in.
 */
static void status_sync(struct agent_k8s *k, const struct kind_info *ki, json_t *obj);

void k8s_policies_commit(struct agent_k8s *k)
{
	struct agent *a = k->a;
	json_t *files = json_array(), *deferred = json_object(), *obj, *seen = json_array();
	struct staged *st = sl_xcalloc(json_object_size(k->policy_pending) + 1, sizeof(*st));
	size_t nst = 0, i;
	const char *key;
	char *err = NULL;

	json_object_foreach(k->policy_pending, key, obj) {
		int kind = atoi(key);
		const struct kind_info *ki = kind_of(kind);
		const char *ns, *name;
		const struct agent_policy_src *old;
		char *text, *file, *why = NULL;

		if (json_is_null(obj)) {
			char *dup = sl_xstrdup(key), *pns = strchr(dup, '|') + 1, *pname = strchr(pns, '|');

			*pname++ = 0;
			remove_policy(k, kind, *pns ? pns : NULL, pname);
			free(dup);
			continue;
		}
		/* a Secret it names is still being listed: wait for it rather
		 * than fail (k8s_secrets.c re-queues it when the list is in) */
		if (!k8s_secrets_ready(k, obj, &why)) {
			json_object_set(deferred, key, obj);
			free(why);
			continue;
		}
		ns = k8s_meta(obj, "namespace");
		name = k8s_meta(obj, "name");
		text = policy_text(ki, obj);
		file = file_name(ki, ns, name);
		old = stored(a, kind, ns, name);
		if (k->leader) /* the one that writes the status */
			json_array_append_new(seen, json_pack("{s:i,s:O}", "kind", kind, "obj", obj));
		if (old && old->text && !strcmp(old->text, text)) {
			loaded(k, kind, ns, name); /* unchanged (a relist): nothing to do */
			free(why);
		} else {
			json_array_append_new(files, json_pack("{s:s,s:s}", "name", file, "content", text));
			st[nst].ki = ki;
			st[nst].obj = json_incref(obj);
			st[nst].why = why;
			nst++;
		}
		free(text);
		free(file);
	}
	json_object_clear(k->policy_pending);
	json_object_update(k->policy_pending, deferred);
	json_decref(deferred);

	if (nst && apply_files(a, files, &err) == 0) {
		for (i = 0; i < nst; i++)
			staged_loaded(k, &st[i]);
	} else if (nst == 1) {
		/* the apply's message is the object's own (the loader's first,
		 * as a load alone would give it): no second try */
		failed_why(k, st[0].ki, st[0].obj, err ? err : "apply failed", st[0].why);
		free(err);
		err = NULL;
	} else if (nst) {
		json_t *good = json_array();
		size_t *gi = sl_xcalloc(nst, sizeof(*gi)), ng = 0;

		free(err);
		err = NULL;
		for (i = 0; i < nst; i++) {
			json_t *f = json_array_get(files, i);
			char *why = load_alone(json_string_value(json_object_get(f, "name")),
					       json_string_value(json_object_get(f, "content")));

			if (why) {
				failed_why(k, st[i].ki, st[i].obj, why, st[i].why);
				free(why);
				continue;
			}
			json_array_append(good, f);
			gi[ng++] = i;
		}
		/* all of them load alone: the whole did not fit, no use trying it again */
		if (ng && ng < nst && apply_files(a, good, &err) == 0) {
			for (i = 0; i < ng; i++)
				staged_loaded(k, &st[gi[i]]);
		} else {
			free(err);
			err = NULL;
			/* one by one: only what does not fit is refused */
			for (i = 0; i < ng; i++) {
				json_t *one = json_array();

				json_array_append(one, json_array_get(good, i));
				if (apply_files(a, one, &err)) {
					failed_why(k, st[gi[i]].ki, st[gi[i]].obj, err ? err : "apply failed",
						   st[gi[i]].why);
					free(err);
					err = NULL;
				} else {
					staged_loaded(k, &st[gi[i]]);
				}
				json_decref(one);
			}
		}
		free(gi);
		json_decref(good);
	}
	for (i = 0; i < nst; i++) {
		json_decref(st[i].obj);
		free(st[i].why);
	}
	free(st);
	json_decref(files);
	reconcile(k);
	/* what this commit looked at, now that it is in force or refused */
	json_array_foreach(seen, i, obj)
		status_sync(k, kind_of((int)json_integer_value(json_object_get(obj, "kind"))),
			    json_object_get(obj, "obj"));
	json_decref(seen);
}

/* ---- status.conditions: Valid --------------------------------------------------- */

/*
 * As Cilium's policy validator does, the "Valid" condition of each
 * CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy says whether its
 * spec loads, with the loader's message (file, line, field) when not, so
 * `kubectl get cnp` shows it in its VALID column and `kubectl describe`
 * says why. One agent writes it, the one holding the identity GC's Lease:
 * every agent would write the same thing. A version in force is valid; one
 * that is not (refused, or not fitting the maps) is loaded alone to tell a
 * spec that is wrong from a node that could not take it.
 */
static void on_status_patched(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;

	(void)body;
	if (k->stopping)
		return;
	if (status == 200)
		k->policy_status_writes++;
	else /* 403 without the status Role; 404 when the object went meanwhile */
		k8s_note_error(k, "writing a policy's status: HTTP %d %s", status, errmsg ? errmsg : "");
}

static void status_sync(struct agent_k8s *k, const struct kind_info *ki, json_t *obj)
{
	const char *ns = k8s_meta(obj, "namespace"), *name = k8s_meta(obj, "name");
	json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions"), *c, *valid = NULL;
	json_t *out, *cond, *patch;
	const struct agent_policy_src *old;
	char *text, *file, *why = NULL, *now, *path;
	const char *want, *msg;
	size_t i;

	if (!k->leader || !name || (ki->kind != SLUICE_KIND_CNP && ki->kind != SLUICE_KIND_CCNP))
		return;
	text = policy_text(ki, obj);
	file = file_name(ki, ns, name);
	old = stored(k->a, ki->kind, ns, name);
	if (!old || !old->text || strcmp(old->text, text))
		why = load_alone(file, text);
	want = why ? "False" : "True";
	msg = why ? why : "Policy validation succeeded";
	json_array_foreach(conds, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Valid"))
			valid = c;
	if (valid && !strcmp(json_string_value(json_object_get(valid, "status")) ?: "", want) &&
	    !strcmp(json_string_value(json_object_get(valid, "message")) ?: "", msg))
		goto out; /* says so already */
	now = k8s_time_now();
	cond = json_pack("{s:s,s:s,s:s,s:s}", "type", "Valid", "status", want, "lastTransitionTime",
			 /* the message alone changed: not a transition */
			 valid && !strcmp(json_string_value(json_object_get(valid, "status")) ?: "", want) &&
				 json_string_value(json_object_get(valid, "lastTransitionTime"))
			 ? json_string_value(json_object_get(valid, "lastTransitionTime"))
			 : now,
			 "message", msg);
	free(now);
	out = json_array();
	json_array_foreach(conds, i, c)
		if (c != valid)
			json_array_append(out, c);
	json_array_append_new(out, cond);
	patch = json_pack("{s:{s:o}}", "status", "conditions", out);
	path = ns && *ns ? sl_strdupf("/apis/cilium.io/v2/namespaces/%s/%s/%s/status", ns, ki->resource, name)
			 : sl_strdupf("/apis/cilium.io/v2/%s/%s/status", ki->resource, name);
	if (k8s_request(k->client, "PATCH", path, "application/merge-patch+json", patch, on_status_patched, k))
		k8s_note_error(k, "cannot write the status of %s %s", ki->kind_name, name);
	json_decref(patch);
	free(path);
out:
	free(why);
	free(text);
	free(file);
}

struct status_ctx {
	struct agent_k8s *k;
	const struct kind_info *ki;
};

static void status_sync_one(void *ctx, json_t *obj)
{
	struct status_ctx *c = ctx;

	status_sync(c->k, c->ki, obj);
}

void k8s_policies_status_all(struct agent_k8s *k)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct status_ctx c = { k, &kinds[i] };

		if (k->coll[kinds[i].coll].w && k->coll[kinds[i].coll].synced)
			k8s_watch_foreach(k->coll[kinds[i].coll].w, status_sync_one, &c);
	}
}

void k8s_policies_free(struct agent_k8s *k)
{
	size_t i;

	for (i = 0; i < k->npstat; i++) {
		free(k->pstat[i].ns);
		free(k->pstat[i].name);
		free(k->pstat[i].error);
		free(k->pstat[i].rv);
	}
	free(k->pstat);
	k->pstat = NULL;
	k->npstat = 0;
}
