/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_identity.c - cluster-wide identities: one SluiceIdentity object per
 * label set (cluster-scoped, sluice.io/v1alpha1, named by the decimal
 * number, the labels in "security-labels"), as Cilium's CRD identity mode.
 *
 * Lookup goes through an index over the watch cache (labels -> numbers).
 * A label set the cache does not hold gets a random number in 256-65535
 * that neither the cache nor this node uses, created with POST: the API
 * server's name uniqueness is the lock, 409 AlreadyExists means another
 * node took that number first, so another is tried (16 times at most).
 * Two agents creating the same labels at once under different numbers
 * both succeed; every node then uses the oldest object (creationTimestamp,
 * then the lower number), so they agree once the watch shows both, and the
 * other object is collected as unused.
 *
 * The number is never derived from the labels: a hash would give two label
 * sets one number without anybody noticing. CIDR identities stay
 * node-local (the identity table numbers them from SLUICE_ID_LOCAL_MIN).
 *
 * The GC leader marks an unused identity with the sluice.io/heartbeat
 * annotation before deleting it with a resourceVersion precondition; an
 * agent that uses (or is about to use) a marked identity removes the
 * annotation first, which changes the resourceVersion and so makes that
 * delete fail (k8s_gc.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../common/util.h"
#include "../k8s/client.h"
#include "agent.h"
#include "k8s.h"

#define ID_MIN 256
#define ID_MAX 65535
#define ALLOC_ATTEMPTS 16
#define HEARTBEAT_ANNOTATION "sluice.io/heartbeat"
#define IDS_PATH "/apis/sluice.io/v1alpha1/sluiceidentities"

struct k8s_id_alloc {
	struct k8s_id_alloc *next;
	struct agent_k8s *k;
	char *key;
	struct sluice_labels idl;
	uint32_t trying;
	unsigned attempts;
	bool done;      /* the request came back: free on the next sweep */
	bool cancelled; /* the source stopped while the request ran */
};

char *k8s_labels_key(const struct sluice_labels *l)
{
	return sluice_labels_format(l);
}

/* "k8s:app" -> source "k8s", key "app" (Cilium's security-labels) */
static int labels_from_security(json_t *sec, struct sluice_labels *out)
{
	const char *key;
	json_t *v;

	if (!json_is_object(sec) || !json_object_size(sec))
		return -EINVAL;
	json_object_foreach(sec, key, v) {
		const char *colon = strchr(key, ':');
		char *src;

		if (!colon || !json_is_string(v))
			return -EINVAL;
		src = strndup(key, (size_t)(colon - key));
		sluice_labels_add(out, src, colon + 1, json_string_value(v));
		free(src);
	}
	return 0;
}

static json_t *labels_to_security(const struct sluice_labels *l)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < l->n; i++) {
		char *k = sl_strdupf("%s:%s", l->v[i].source, l->v[i].key);

		json_object_set_new(o, k, json_string(l->v[i].value));
		free(k);
	}
	return o;
}

static uint32_t object_id(json_t *obj)
{
	const char *name = k8s_meta(obj, "name");
	char *end;
	unsigned long v;

	if (!name || !*name)
		return 0;
	v = strtoul(name, &end, 10);
	if (*end || v < ID_MIN || v > ID_MAX)
		return 0;
	return (uint32_t)v;
}

static void index_remove(struct agent_k8s *k, uint32_t id)
{
	char ids[16];
	json_t *key;

	snprintf(ids, sizeof(ids), "%u", id);
	key = json_object_get(k->id_by_id, ids);
	if (key) {
		json_t *set = json_object_get(k->id_by_key, json_string_value(key));

		json_object_del(set, ids);
		if (set && !json_object_size(set))
			json_object_del(k->id_by_key, json_string_value(key));
		json_object_del(k->id_by_id, ids);
	}
}

static void index_add(struct agent_k8s *k, uint32_t id, const char *key, int64_t created)
{
	char ids[16];
	json_t *set;

	snprintf(ids, sizeof(ids), "%u", id);
	index_remove(k, id);
	set = json_object_get(k->id_by_key, key);
	if (!set) {
		set = json_object();
		json_object_set_new(k->id_by_key, key, set);
	}
	json_object_set_new(set, ids, json_integer(created));
	json_object_set_new(k->id_by_id, ids, json_string(key));
}

/* the oldest object for a label set (then the lowest number), 0 if none */
static uint32_t index_lookup(struct agent_k8s *k, const char *key)
{
	json_t *set = json_object_get(k->id_by_key, key), *v;
	const char *ids;
	uint32_t best = 0;
	json_int_t best_t = 0;

	json_object_foreach(set, ids, v) {
		uint32_t id = (uint32_t)strtoul(ids, NULL, 10);
		json_int_t t = json_integer_value(v);

		if (!best || t < best_t || (t == best_t && id < best)) {
			best = id;
			best_t = t;
		}
	}
	return best;
}

bool k8s_identity_used_locally(struct agent_k8s *k, uint32_t id)
{
	struct agent *a = k->a;
	size_t i;

	for (i = 0; i < a->reg.npods; i++)
		if (a->reg.pods[i]->identity == id)
			return true;
	return false;
}

static void on_unmarked(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct agent_k8s *k = ctx;

	(void)body;
	if (!k->stopping && status != 200)
		k8s_note_error(k, "removing the GC mark of an identity: HTTP %d %s", status,
			       errmsg ? errmsg : "");
	/* the MODIFIED (or DELETED) event that follows decides */
}

/* Takes the GC leader's mark off an identity this node uses or is about to
 * use: the new resourceVersion makes the leader's delete fail. */
static void unmark(struct agent_k8s *k, json_t *obj)
{
	const char *name = k8s_meta(obj, "name");
	const char *rv = k8s_meta(obj, "resourceVersion");
	char *path, *mark;
	json_t *patch;

	mark = sl_strdupf("%s@%s", name, rv ? rv : "");
	if (json_object_get(k->id_unmarking, mark)) {
		free(mark);
		return;
	}
	json_object_set_new(k->id_unmarking, mark, json_true());
	free(mark);
	path = sl_strdupf(IDS_PATH "/%s", name);
	patch = json_pack("{s:{s:{s:n}}}", "metadata", "annotations", HEARTBEAT_ANNOTATION);
	if (k8s_request(k->client, "PATCH", path, "application/merge-patch+json", patch, on_unmarked, k))
		k8s_note_error(k, "cannot send the PATCH of identity %s", name);
	json_decref(patch);
	free(path);
}

static bool marked(json_t *obj)
{
	return json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
			       HEARTBEAT_ANNOTATION) != NULL;
}

static void recreate(struct agent_k8s *k, uint32_t id, const struct sluice_labels *idl);

void k8s_identity_event(struct agent_k8s *k, int type, json_t *obj)
{
	uint32_t id = object_id(obj);
	struct sluice_labels l = { 0 };
	char *key;

	if (!id)
		return; /* not one of ours: a name that is no number in range */
	k->remotes_dirty = true; /* remote pods may wait for this identity */
	if (type == K8S_DELETED) {
		index_remove(k, id);
		/* an identity that local pods still use must exist for the other
		 * nodes: put it back, as Cilium's agents re-create missing keys */
		if (k8s_identity_used_locally(k, id) && sluice_idt_labels(k->a->reg.idt, id))
			recreate(k, id, sluice_idt_labels(k->a->reg.idt, id));
		return;
	}
	if (labels_from_security(json_object_get(obj, "security-labels"), &l)) {
		k8s_note_error(k, "SluiceIdentity %u: no usable security-labels", id);
		return;
	}
	key = k8s_labels_key(&l);
	index_add(k, id, key, k8s_time_parse(k8s_meta(obj, "creationTimestamp")));
	json_object_del(k->id_local, key);
	if (marked(obj) && k8s_identity_used_locally(k, id))
		unmark(k, obj);
	free(key);
	sluice_labels_free(&l);
}

void k8s_identity_synced(struct agent_k8s *k)
{
	struct agent *a = k->a;
	size_t i;

	/* identities deleted while this agent was down, still used here */
	for (i = 0; i < a->reg.npods; i++) {
		char ids[16];
		const struct sluice_labels *l = sluice_idt_labels(a->reg.idt, a->reg.pods[i]->identity);

		snprintf(ids, sizeof(ids), "%u", a->reg.pods[i]->identity);
		if (l && !json_object_get(k->id_by_id, ids) && a->reg.pods[i]->identity < SLUICE_ID_LOCAL_MIN)
			recreate(k, a->reg.pods[i]->identity, l);
	}
}

/* ---- allocation ---------------------------------------------------------------- */

static uint32_t random_free_id(struct agent_k8s *k)
{
	unsigned tries;

	for (tries = 0; tries < 1000; tries++) {
		uint32_t r, id;
		char ids[16];
		const char *key;
		json_t *v;
		bool mine = false;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)rand();
		id = ID_MIN + r % (ID_MAX - ID_MIN + 1);
		snprintf(ids, sizeof(ids), "%u", id);
		if (json_object_get(k->id_by_id, ids) || sluice_idt_labels(k->a->reg.idt, id))
			continue;
		json_object_foreach(k->id_local, key, v)
			mine |= json_integer_value(v) == id;
		if (!mine)
			return id;
	}
	return 0;
}

static json_t *identity_object(uint32_t id, const struct sluice_labels *idl)
{
	const struct sluice_label *ns = sluice_labels_find(idl, "k8s", SLUICE_LABEL_NAMESPACE);
	json_t *o = json_pack("{s:s,s:s,s:{s:s},s:o}", "apiVersion", "sluice.io/v1alpha1", "kind",
			      "SluiceIdentity", "metadata", "name", "", "security-labels",
			      labels_to_security(idl));
	char ids[16];

	snprintf(ids, sizeof(ids), "%u", id);
	json_object_set_new(json_object_get(o, "metadata"), "name", json_string(ids));
	if (ns)
		json_object_set_new(json_object_get(o, "metadata"), "labels",
				    json_pack("{s:s}", "io.kubernetes.pod.namespace", ns->value));
	return o;
}

static void alloc_try(struct k8s_id_alloc *al);

static void on_created(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct k8s_id_alloc *al = ctx;
	struct agent_k8s *k = al->k;

	(void)body;
	if (al->cancelled) {
		al->done = true;
		return;
	}
	if (status == 201 || status == 200) {
		k->ids_allocated++;
		json_object_set_new(k->id_local, al->key, json_integer(al->trying));
		fprintf(stderr, "sluiced: kubernetes: identity %u allocated for %s\n", al->trying, al->key);
		al->done = true;
	} else if (status == 409 && ++al->attempts < ALLOC_ATTEMPTS) {
		/* taken meanwhile: by these labels (the cache tells soon) or others */
		k->id_conflicts++;
		if (!index_lookup(k, al->key)) {
			alloc_try(al);
			return;
		}
		al->done = true;
	} else {
		k->id_alloc_errors++;
		k8s_note_error(k, "allocating an identity for %s: HTTP %d %s", al->key, status,
			       errmsg ? errmsg : "");
		al->done = true;
	}
	k8s_schedule_commit(k);
}

static void alloc_try(struct k8s_id_alloc *al)
{
	struct agent_k8s *k = al->k;
	json_t *o;

	al->trying = random_free_id(k);
	if (!al->trying) {
		k8s_note_error(k, "no free identity number left");
		al->done = true;
		return;
	}
	o = identity_object(al->trying, &al->idl);
	if (k8s_request(k->client, "POST", IDS_PATH, NULL, o, on_created, al)) {
		k8s_note_error(k, "cannot send an identity allocation");
		al->done = true;
	}
	json_decref(o);
}

static void allocs_sweep(struct agent_k8s *k)
{
	struct k8s_id_alloc **pp = &k->allocs;

	while (*pp) {
		struct k8s_id_alloc *al = *pp;

		if (!al->done) {
			pp = &al->next;
			continue;
		}
		*pp = al->next;
		free(al->key);
		sluice_labels_free(&al->idl);
		free(al);
	}
}

static void on_recreated(void *ctx, int status, json_t *body, const char *errmsg)
{
	struct k8s_id_alloc *al = ctx;

	(void)body;
	if (!al->cancelled && status != 201 && status != 409)
		k8s_note_error(al->k, "re-creating identity %u: HTTP %d %s", al->trying, status,
			       errmsg ? errmsg : "");
	/* Until the watch brings the object back, the labels resolve to this
	 * number: without it, a resolve between this answer and that event
	 * found neither an allocation in flight nor the object, allocated a
	 * second number, and the pod moved to it (test_k8s_restart, once).
	 * A 409 says only that the name is taken, maybe for other labels: the
	 * watch decides then. */
	if (!al->cancelled && status == 201) {
		json_object_set_new(al->k->id_local, al->key, json_integer(al->trying));
		k8s_schedule_commit(al->k);
	}
	al->done = true;
}

static void recreate(struct agent_k8s *k, uint32_t id, const struct sluice_labels *idl)
{
	struct k8s_id_alloc *al;
	json_t *o;

	if (k->stopping)
		return;
	al = sl_xcalloc(1, sizeof(*al));
	al->k = k;
	al->key = k8s_labels_key(idl);
	sluice_labels_copy(&al->idl, idl);
	al->trying = id;
	al->next = k->allocs;
	k->allocs = al;
	fprintf(stderr, "sluiced: kubernetes: identity %u is used here but gone from the API: re-creating it\n", id);
	o = identity_object(id, idl);
	if (k8s_request(k->client, "POST", IDS_PATH, NULL, o, on_recreated, al))
		al->done = true;
	json_decref(o);
}

/* the number this node's table has for the labels, 0 if none */
static uint32_t local_number(struct agent *a, const struct sluice_labels *idl)
{
	size_t i, n = sluice_idt_count(a->reg.idt);

	for (i = 0; i < n; i++) {
		uint32_t id = sluice_idt_at(a->reg.idt, i);
		const struct sluice_labels *l;

		if (id < SLUICE_ID_CLUSTER_MIN || id >= SLUICE_ID_LOCAL_MIN)
			continue;
		l = sluice_idt_labels(a->reg.idt, id);
		if (l && sluice_labels_equal(l, idl))
			return id;
	}
	return 0;
}

/* The identity table learns the cluster's number (it holds no reference
 * until a pod acquires the labels). */
static int64_t make_known(struct agent_k8s *k, uint32_t id, const struct sluice_labels *idl)
{
	struct agent *a = k->a;
	const struct sluice_labels *have = sluice_idt_labels(a->reg.idt, id);
	uint32_t other;
	int rc;

	if (have)
		return sluice_labels_equal(have, idl) ? (int64_t)id : -EEXIST;
	other = local_number(a, idl);
	if (other && sluice_idt_refcount(a->reg.idt, other) == 0) {
		sluice_idt_release(a->reg.idt, other); /* frees an unreferenced entry */
		other = 0;
	}
	/* pods here may still carry another number for these labels (two
	 * nodes allocated them at once, the oldest object won): new acquires
	 * get the winner, the pods move on the next commit (k8s_pods.c) */
	rc = other ? sluice_idt_rebind(a->reg.idt, id, idl) : sluice_idt_restore(a->reg.idt, id, idl);
	if (rc) {
		k8s_note_error(k, "identity %u: the local table refuses it (%s)", id, strerror(-rc));
		return rc;
	}
	return id;
}

int64_t k8s_identity_resolve(struct agent_k8s *k, const struct sluice_labels *idl)
{
	char *key = k8s_labels_key(idl);
	struct k8s_id_alloc *al;
	uint32_t id;
	int64_t rc;

	allocs_sweep(k);
	id = index_lookup(k, key);
	if (id) {
		char ids[16];
		json_t *obj;

		snprintf(ids, sizeof(ids), "%u", id);
		obj = k8s_watch_get(k->coll[K8S_C_IDENTITIES].w, NULL, ids);
		if (obj && marked(obj)) {
			/* marked for deletion: take the mark off before anybody uses it */
			unmark(k, obj);
			free(key);
			return 0;
		}
		free(key);
		return make_known(k, id, idl);
	}
	id = (uint32_t)json_integer_value(json_object_get(k->id_local, key));
	if (id) {
		free(key);
		return make_known(k, id, idl);
	}
	for (al = k->allocs; al; al = al->next)
		if (!al->done && !strcmp(al->key, key)) {
			free(key);
			return 0;
		}
	if (!k->coll[K8S_C_IDENTITIES].synced) {
		free(key);
		return 0; /* the cache must be complete before a number is chosen */
	}
	al = sl_xcalloc(1, sizeof(*al));
	al->k = k;
	al->key = key;
	sluice_labels_copy(&al->idl, idl);
	al->next = k->allocs;
	k->allocs = al;
	alloc_try(al);
	rc = 0;
	return rc;
}

const struct sluice_labels *k8s_identity_labels(struct agent_k8s *k, uint32_t id)
{
	char ids[16];
	json_t *obj;
	struct sluice_labels l = { 0 };
	const struct sluice_labels *have = sluice_idt_labels(k->a->reg.idt, id);

	if (have)
		return have;
	snprintf(ids, sizeof(ids), "%u", id);
	obj = k8s_watch_get(k->coll[K8S_C_IDENTITIES].w, NULL, ids);
	if (!obj || labels_from_security(json_object_get(obj, "security-labels"), &l)) {
		sluice_labels_free(&l);
		return NULL;
	}
	make_known(k, id, &l);
	sluice_labels_free(&l);
	return sluice_idt_labels(k->a->reg.idt, id);
}

void k8s_identity_free(struct agent_k8s *k)
{
	struct k8s_id_alloc *al;

	/* requests in flight were dropped by k8s_client_free (no callback) */
	for (al = k->allocs; al; al = al->next)
		al->done = true;
	allocs_sweep(k);
}
