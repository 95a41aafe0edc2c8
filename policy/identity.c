// SPDX-License-Identifier: Apache-2.0
/*
 * identity.c - the identity allocator: one number per distinct label set.
 *
 * Identities are kept in an array sorted by number (sluice_idt_at() walks
 * it in order) and a map from the formatted label set to the number. New
 * numbers come from a next-fit cursor that only wraps around to
 * SLUICE_ID_CLUSTER_MIN after reaching the top, so a number that was just
 * released is the last one to be handed out again to other labels.
 *
 * A released identity leaves its number behind in a "freed" map: when the
 * same label set comes back (a pod deleted and recreated, relabelled and
 * labelled back) it gets its old number again if nobody took it meanwhile,
 * as Cilium keeps an unused identity until it is garbage collected. This
 * never makes a number name different labels earlier than next-fit would.
 *
 * Label sets with a "cidr:" label are CIDR identities: numbered from
 * SLUICE_ID_LOCAL_MIN with their own cursor, node-local as in Cilium, and
 * owned by the compiler, which keeps exactly the ones the policy set
 * references (idt_cidr_sync()).
 */
#include "internal.h"
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IDT_POD_MAX (SLUICE_ID_LOCAL_MIN - 1)
#define IDT_LOCAL_MAX (SLUICE_ID_LOCAL_MIN + 0xffffffu)

struct idt_entry {
	uint32_t id;
	uint32_t refs;
	bool reserved;
	struct sluice_labels labels;
	char *text; /* sluice_labels_format(labels): the map key */
	uint8_t prefix[18]; /* CIDR identities: address, prefix length, flags */
	bool has_prefix;
	uint64_t mark;      /* last idt_cidr_sync() that named it */
};

struct sluice_identity_table {
	struct idt_entry *v; /* sorted by id */
	size_t n, cap;
	struct strmap by_labels; /* text -> id */
	struct strmap freed;     /* text -> id of released identities */
	uint32_t next;           /* next-fit cursor */
	uint32_t next_local;     /* next-fit cursor of CIDR identities */
	uint64_t generation;     /* bumped when an identity comes or goes */
	bool apiserver_on_host;  /* the host carries reserved:kube-apiserver */
	uint32_t *apiservers_ext; /* API servers outside the cluster (IPv4, host order, sorted) */
	size_t napiservers_ext;
	struct u64map by_prefix; /* hash of a CIDR identity's prefix -> id
				  * (checked against the entry: may be stale) */
	uint64_t mark;
};

#define IDT_FREED_MAX 65536 /* forget old numbers beyond this many */

static const char *const idt_reserved_names[] = {
	[SLUICE_ID_HOST] = "host",
	[SLUICE_ID_WORLD] = "world",
	[SLUICE_ID_UNMANAGED] = "unmanaged",
	[SLUICE_ID_HEALTH] = "health",
	[SLUICE_ID_INIT] = "init",
	[SLUICE_ID_REMOTE_NODE] = "remote-node",
	[SLUICE_ID_KUBE_APISERVER] = "kube-apiserver",
	[SLUICE_ID_INGRESS] = "ingress",
};

static size_t idt_search(const struct sluice_identity_table *t, uint32_t id, bool *found)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->v[mid].id == id) {
			*found = true;
			return mid;
		}
		if (t->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct idt_entry *idt_find(const struct sluice_identity_table *t, uint32_t id)
{
	bool found;
	size_t i = idt_search(t, id, &found);

	return found ? &t->v[i] : NULL;
}

/* Inserts (id, copy of labels); the id must be free. */
static int idt_insert_text(struct sluice_identity_table *t, uint32_t id,
			   struct sluice_labels *labels, char *text, uint64_t h, bool reserved)
{
	struct idt_entry e = { .id = id, .refs = 1, .reserved = reserved };
	bool found;
	size_t i;

	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		struct idt_entry *v = realloc(t->v, ncap * sizeof(*v));

		if (!v) {
			free(text);
			return -ENOMEM;
		}
		t->v = v;
		t->cap = ncap;
	}
	if (strmap_put_h(&t->by_labels, text, h, id)) {
		free(text);
		return -ENOMEM;
	}
	e.labels = *labels; /* moved */
	*labels = (struct sluice_labels){ 0 };
	e.text = text;
	i = idt_search(t, id, &found);
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(t->v[0]));
	t->v[i] = e;
	t->n++;
	t->generation++;
	return 0;
}

/* Inserts (id, copy of labels); the id must be free. */
static int idt_insert(struct sluice_identity_table *t, uint32_t id,
		      const struct sluice_labels *labels, bool reserved)
{
	struct sluice_labels copy = { 0 };
	char *text;
	int rc;

	if (sluice_labels_copy(&copy, labels))
		return -ENOMEM;
	text = sluice_labels_format(&copy);
	rc = text ? idt_insert_text(t, id, &copy, text, strmap_hash(text), reserved) : -ENOMEM;
	sluice_labels_free(&copy);
	return rc;
}

struct sluice_identity_table *sluice_idt_new(void)
{
	struct sluice_identity_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->next = SLUICE_ID_CLUSTER_MIN;
	t->next_local = SLUICE_ID_LOCAL_MIN;
	for (uint32_t id = SLUICE_ID_HOST; id <= SLUICE_ID_INGRESS; id++) {
		struct sluice_labels l = { 0 };
		int rc = sluice_labels_add(&l, "reserved", idt_reserved_names[id], "");

		/* Cilium's 7 is the API server on a (remote) node: both labels */
		if (!rc && id == SLUICE_ID_KUBE_APISERVER)
			rc = sluice_labels_add(&l, "reserved", idt_reserved_names[SLUICE_ID_REMOTE_NODE], "");
		if (!rc)
			rc = idt_insert(t, id, &l, true);
		sluice_labels_free(&l);
		if (rc) {
			sluice_idt_free(t);
			return NULL;
		}
	}
	return t;
}

void sluice_idt_free(struct sluice_identity_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		sluice_labels_free(&t->v[i].labels);
		free(t->v[i].text);
	}
	free(t->v);
	strmap_free(&t->by_labels);
	strmap_free(&t->freed);
	u64map_free(&t->by_prefix);
	free(t->apiservers_ext);
	free(t);
}

static bool idt_labels_local(const struct sluice_labels *labels)
{
	for (size_t i = 0; i < labels->n; i++)
		if (!strcmp(labels->v[i].source, "cidr"))
			return true;
	return false;
}

/* next free number of the range at or after its cursor, wrapping once; 0 when full */
static uint32_t idt_next_free(struct sluice_identity_table *t, bool local)
{
	uint32_t lo = local ? SLUICE_ID_LOCAL_MIN : SLUICE_ID_CLUSTER_MIN;
	uint32_t hi = local ? IDT_LOCAL_MAX : IDT_POD_MAX;
	uint32_t id = local ? t->next_local : t->next;

	for (uint64_t tries = 0; tries <= hi - lo; tries++) {
		if (id > hi || id < lo)
			id = lo;
		if (!idt_find(t, id))
			return id;
		id++;
	}
	return 0;
}

/*
 * sluice_idt_acquire() for labels already formatted as text (taken, freed
 * here). With take_labels, labels move into a new entry instead of being
 * copied (left empty then): a policy naming 25,000 new prefixes made each
 * CIDR identity format its labels three times and copy them once.
 */
static uint32_t idt_acquire_absent(struct sluice_identity_table *t, struct sluice_labels *labels,
				   char *text, uint64_t h, bool take_labels);

static uint32_t idt_acquire_text(struct sluice_identity_table *t, struct sluice_labels *labels,
				 char *text, uint64_t h, bool take_labels)
{
	size_t *known = strmap_get_h(&t->by_labels, text, h);

	if (known) {
		struct idt_entry *e = idt_find(t, (uint32_t)*known);

		free(text);
		if (e && !e->reserved)
			e->refs++;
		return (uint32_t)*known;
	}
	return idt_acquire_absent(t, labels, text, h, take_labels);
}

/* idt_acquire_text() for labels known not to have an identity */
static uint32_t idt_acquire_absent(struct sluice_identity_table *t, struct sluice_labels *labels,
				   char *text, uint64_t h, bool take_labels)
{
	struct sluice_labels copy = { 0 };
	size_t *known = strmap_get_h(&t->freed, text, h);
	uint32_t id;
	bool local;

	if (known && !idt_find(t, (uint32_t)*known)) {
		id = (uint32_t)*known;
		strmap_del_h(&t->freed, text, h);
	} else {
		if (known)
			strmap_del_h(&t->freed, text, h);
		local = idt_labels_local(labels);
		id = idt_next_free(t, local);
		if (!id) {
			free(text);
			return 0;
		}
		if (local)
			t->next_local = id + 1;
		else
			t->next = id + 1;
	}
	if (!take_labels) {
		if (sluice_labels_copy(&copy, labels)) {
			free(text);
			return 0;
		}
		labels = &copy;
	}
	if (idt_insert_text(t, id, labels, text, h, false))
		id = 0;
	sluice_labels_free(&copy);
	return id;
}

uint32_t sluice_idt_acquire(struct sluice_identity_table *t,
			    const struct sluice_labels *labels)
{
	char *text;

	if (!t || !labels)
		return 0;
	text = sluice_labels_format(labels);
	if (!text)
		return 0;
	return idt_acquire_text(t, (struct sluice_labels *)labels, text, strmap_hash(text), false);
}

void sluice_idt_release(struct sluice_identity_table *t, uint32_t id)
{
	bool found;
	size_t i;

	if (!t)
		return;
	i = idt_search(t, id, &found);
	if (!found || t->v[i].reserved)
		return;
	if (t->v[i].refs && --t->v[i].refs)
		return;
	if (t->freed.n >= IDT_FREED_MAX)
		strmap_free(&t->freed);
	{
		uint64_t h = strmap_hash(t->v[i].text);
		/* a rebound label set maps to its newer number: keep that */
		size_t *cur = strmap_get_h(&t->by_labels, t->v[i].text, h);

		strmap_put_h(&t->freed, t->v[i].text, h, id); /* best effort */
		if (cur && *cur == id)
			strmap_del_h(&t->by_labels, t->v[i].text, h);
	}
	free(t->v[i].text);
	sluice_labels_free(&t->v[i].labels);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
	t->n--;
	t->generation++;
}

uint64_t sluice_idt_generation(const struct sluice_identity_table *t)
{
	return t->generation;
}

void sluice_idt_set_apiserver_on_host(struct sluice_identity_table *t, bool on)
{
	if (t->apiserver_on_host != on)
		t->generation++;
	t->apiserver_on_host = on;
}

bool sluice_idt_apiserver_on_host(const struct sluice_identity_table *t)
{
	return t && t->apiserver_on_host;
}

static int idt_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int sluice_idt_set_apiservers_external(struct sluice_identity_table *t, const uint32_t *ips, size_t n)
{
	uint32_t *v = NULL;
	size_t m = 0;

	if (n) {
		v = malloc(n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memcpy(v, ips, n * sizeof(*v));
		qsort(v, n, sizeof(*v), idt_u32_cmp);
		for (size_t i = 0; i < n; i++)
			if (!m || v[m - 1] != v[i])
				v[m++] = v[i];
	}
	if (m != t->napiservers_ext || (m && memcmp(v, t->apiservers_ext, m * sizeof(*v))))
		t->generation++;
	free(t->apiservers_ext);
	t->apiservers_ext = v;
	t->napiservers_ext = m;
	return 0;
}

const uint32_t *sluice_idt_apiservers_external(const struct sluice_identity_table *t, size_t *n)
{
	*n = t ? t->napiservers_ext : 0;
	return t ? t->apiservers_ext : NULL;
}

const struct sluice_labels *sluice_idt_labels(const struct sluice_identity_table *t,
					      uint32_t id)
{
	struct idt_entry *e = t ? idt_find(t, id) : NULL;

	return e ? &e->labels : NULL;
}

uint32_t sluice_idt_refcount(const struct sluice_identity_table *t, uint32_t id)
{
	struct idt_entry *e = t ? idt_find(t, id) : NULL;

	return e ? e->refs : 0;
}

size_t sluice_idt_count(const struct sluice_identity_table *t)
{
	return t ? t->n : 0;
}

uint32_t sluice_idt_at(const struct sluice_identity_table *t, size_t i)
{
	return t && i < t->n ? t->v[i].id : 0;
}

const char *sluice_idt_text_at(const struct sluice_identity_table *t, size_t i)
{
	return t && i < t->n ? t->v[i].text : NULL;
}

/* The restored identity holds no reference until its labels are acquired. */
int sluice_idt_restore(struct sluice_identity_table *t, uint32_t id,
		       const struct sluice_labels *labels)
{
	size_t *known;
	char *text;
	int rc;

	if (!t || !labels || id < SLUICE_ID_CLUSTER_MIN ||
	    id > (idt_labels_local(labels) ? IDT_LOCAL_MAX : IDT_POD_MAX) ||
	    (idt_labels_local(labels) && id < SLUICE_ID_LOCAL_MIN))
		return -EINVAL;
	if (idt_find(t, id))
		return -EEXIST;
	text = sluice_labels_format(labels);
	if (!text)
		return -ENOMEM;
	known = strmap_get(&t->by_labels, text);
	free(text);
	if (known)
		return -EEXIST;
	rc = idt_insert(t, id, labels, false);
	if (!rc)
		idt_find(t, id)->refs = 0;
	return rc;
}

int sluice_idt_rebind(struct sluice_identity_table *t, uint32_t id,
		      const struct sluice_labels *labels)
{
	int rc;

	if (!t || !labels || id < SLUICE_ID_CLUSTER_MIN || id > IDT_POD_MAX || idt_labels_local(labels))
		return -EINVAL;
	if (idt_find(t, id))
		return -EEXIST;
	/* idt_insert maps the labels to id, the old entry stays as it is */
	rc = idt_insert(t, id, labels, false);
	if (!rc)
		idt_find(t, id)->refs = 0;
	return rc;
}

/* the CIDR identity of want, by prefix (no labels formatted), or NULL */
static struct idt_entry *idt_cidr_lookup(struct sluice_identity_table *t, const uint8_t *pfx,
					 uint64_t h)
{
	size_t *at = u64map_get(&t->by_prefix, h);
	struct idt_entry *e = at ? idt_find(t, (uint32_t)*at) : NULL;

	return e && e->has_prefix && !memcmp(e->prefix, pfx, sizeof(e->prefix)) ? e : NULL;
}

/* The CIDR identity of one prefix, found or made; NULL with *rc on failure. */
static struct idt_entry *idt_cidr_get(struct sluice_identity_table *t,
				      const struct sluice_cidr_ident *want,
				      int (*labels_of)(const struct sluice_cidr_ident *,
						       struct sluice_labels *),
				      int *rc)
{
	uint8_t pfx[18];
	uint64_t h, th = 0;
	struct idt_entry *e;
	struct sluice_labels l = { 0 };
	char *text = NULL;
	size_t *known = NULL;
	bool inserted;
	uint32_t id = 0;

	memcpy(pfx, want->addr, 16);
	pfx[16] = want->prefixlen;
	pfx[17] = want->flags; /* other labels: another identity */
	h = hash_bytes(pfx, sizeof(pfx));
	e = idt_cidr_lookup(t, pfx, h);
	if (e)
		goto found;
	/* first time in this table: by labels (an identity restored after an
	 * agent restart has them), else a new one */
	*rc = labels_of(want, &l);
	if (!*rc && !(text = sluice_labels_format(&l)))
		*rc = -ENOMEM;
	if (!*rc)
		th = strmap_hash(text);
	if (!*rc && (known = strmap_get_h(&t->by_labels, text, th)) &&
	    (e = idt_find(t, (uint32_t)*known))) {
		id = e->id;
		free(text);
	} else if (!*rc) {
		/* takes text and l; a stale by_labels entry (no identity of that
		 * number) is the full path's */
		id = known ? idt_acquire_text(t, &l, text, th, true)
			   : idt_acquire_absent(t, &l, text, th, true);
		e = id >= SLUICE_ID_LOCAL_MIN ? idt_find(t, id) : NULL;
		if (!e)
			*rc = -ENOSPC;
	} else {
		free(text);
	}
	sluice_labels_free(&l);
	if (*rc)
		return NULL;
	memcpy(e->prefix, pfx, sizeof(pfx));
	e->has_prefix = true;
	if (!u64map_upsert(&t->by_prefix, h, id, &inserted)) {
		*rc = -ENOMEM;
		return NULL;
	}
	if (!inserted)
		*u64map_get(&t->by_prefix, h) = id;
found:
	if (!e->refs)
		e->refs = 1; /* restored after an agent restart */
	return e;
}

int idt_cidr_sync(struct sluice_identity_table *t, const struct sluice_cidr_ident *want, size_t n,
		  uint32_t *ids, int (*labels_of)(const struct sluice_cidr_ident *, struct sluice_labels *))
{
	uint64_t mark = ++t->mark;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		struct idt_entry *e = idt_cidr_get(t, &want[i], labels_of, &rc);

		if (e) {
			e->mark = mark;
			ids[i] = e->id;
		}
	}
	if (!rc) {
		/* the table is sorted: CIDR identities are at its end */
		for (size_t i = t->n; i-- > 0 && t->v[i].id >= SLUICE_ID_LOCAL_MIN;) {
			if (t->v[i].mark == mark)
				continue;
			t->v[i].refs = 1;
			sluice_idt_release(t, t->v[i].id);
		}
	}
	return rc;
}

uint32_t idt_cidr_add(struct sluice_identity_table *t, const struct sluice_cidr_ident *want,
		      int (*labels_of)(const struct sluice_cidr_ident *, struct sluice_labels *))
{
	int rc = 0;
	struct idt_entry *e = idt_cidr_get(t, want, labels_of, &rc);

	return e ? e->id : 0;
}

void idt_cidr_drop(struct sluice_identity_table *t, uint32_t id)
{
	struct idt_entry *e = idt_find(t, id);

	if (!e || id < SLUICE_ID_LOCAL_MIN)
		return;
	e->refs = 1;
	sluice_idt_release(t, id);
}
