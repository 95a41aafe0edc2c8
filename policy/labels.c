// SPDX-License-Identifier: Apache-2.0
/*
 * labels.c - label sets (sorted by source and key, one value per key) and
 * the identity-relevant labels of a pod, built the way Cilium builds them.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const labels_sources[] = {
	"k8s", "any", "reserved", "cidr", "unspec", "container", "cidrgroup",
};

bool labels_is_known_source(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(labels_sources) / sizeof(labels_sources[0]); i++)
		if (strlen(labels_sources[i]) == len && !strncmp(s, labels_sources[i], len))
			return true;
	return false;
}

int labels_split_key(const char *text, const char *default_source,
		     char **source, char **key)
{
	const char *colon = strchr(text, ':');

	if (colon && labels_is_known_source(text, (size_t)(colon - text))) {
		*source = strndup(text, (size_t)(colon - text));
		*key = strdup(colon + 1);
	} else {
		*source = strdup(default_source);
		*key = strdup(text);
	}
	if (!*source || !*key) {
		free(*source);
		free(*key);
		*source = *key = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int labels_cmp(const char *s1, const char *k1, const char *s2, const char *k2)
{
	int c = strcmp(s1, s2);

	return c ? c : strcmp(k1, k2);
}

/* index of (source, key) or of where it would be inserted */
static size_t labels_search(const struct sluice_labels *l, const char *source,
			    const char *key, bool *found)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = labels_cmp(l->v[mid].source, l->v[mid].key, source, key);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/*
 * A label's three strings live in one block, "source\0key\0value\0", which
 * source points to: one allocation instead of three (a policy of 25,000
 * prefixes makes 50,000 labels), and free(source) frees them all. Only this
 * file allocates and frees label strings.
 */
static int label_make(struct sluice_label *out, const char *source, const char *key,
		      const char *value)
{
	size_t ls = strlen(source) + 1, lk = strlen(key) + 1, lv = strlen(value) + 1;
	char *b = malloc(ls + lk + lv);

	if (!b)
		return -ENOMEM;
	memcpy(b, source, ls);
	memcpy(b + ls, key, lk);
	memcpy(b + ls + lk, value, lv);
	out->source = b;
	out->key = b + ls;
	out->value = b + ls + lk;
	return 0;
}

static void label_free(struct sluice_label *l)
{
	free(l->source);
	l->source = l->key = l->value = NULL;
}

int labels_build_sorted(struct sluice_labels *out, const char *const (*triples)[3], size_t n)
{
	struct sluice_labels l = { 0 };

	if (n && !(l.v = malloc(n * sizeof(*l.v))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (label_make(&l.v[i], triples[i][0], triples[i][1], triples[i][2])) {
			sluice_labels_free(&l);
			return -ENOMEM;
		}
		l.n++;
	}
	*out = l;
	return 0;
}

int sluice_labels_add(struct sluice_labels *l, const char *source,
		      const char *key, const char *value)
{
	struct sluice_label nl = { 0 }, *v;
	bool found;
	size_t i;

	if (!source || !key)
		return -EINVAL;
	i = labels_search(l, source, key, &found);
	if (found) {
		if (label_make(&nl, source, key, value ? value : ""))
			return -ENOMEM;
		label_free(&l->v[i]);
		l->v[i] = nl;
		return 0;
	}
	if (label_make(&nl, source, key, value ? value : ""))
		return -ENOMEM;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v) {
		label_free(&nl);
		return -ENOMEM;
	}
	l->v = v;
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(*v));
	l->v[i] = nl;
	l->n++;
	return 0;
}

int sluice_labels_remove(struct sluice_labels *l, const char *source, const char *key)
{
	bool found;
	size_t i = labels_search(l, source, key, &found);

	if (!found)
		return -ENOENT;
	label_free(&l->v[i]);
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
	l->n--;
	return 0;
}

const struct sluice_label *sluice_labels_find(const struct sluice_labels *l,
					      const char *source, const char *key)
{
	bool found;
	size_t i = labels_search(l, source, key, &found);

	return found ? &l->v[i] : NULL;
}

int sluice_labels_copy(struct sluice_labels *dst, const struct sluice_labels *src)
{
	struct sluice_labels n = { 0 };

	if (src->n) {
		n.v = calloc(src->n, sizeof(*n.v));
		if (!n.v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < src->n; i++) {
		if (label_make(&n.v[i], src->v[i].source, src->v[i].key, src->v[i].value)) {
			sluice_labels_free(&n);
			return -ENOMEM;
		}
		n.n++;
	}
	*dst = n;
	return 0;
}

int sluice_labels_equal(const struct sluice_labels *a, const struct sluice_labels *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].source, b->v[i].source) ||
		    strcmp(a->v[i].key, b->v[i].key) ||
		    strcmp(a->v[i].value, b->v[i].value))
			return 0;
	return 1;
}

void sluice_labels_free(struct sluice_labels *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		label_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* A label without value prints as "source:key" (e.g. "reserved:host"). */
char *sluice_labels_format(const struct sluice_labels *l)
{
	size_t len = 1, i;
	char *buf, *w;

	for (i = 0; i < l->n; i++)
		len += strlen(l->v[i].source) + strlen(l->v[i].key) + strlen(l->v[i].value) + 3;
	buf = malloc(len);
	if (!buf)
		return NULL;
	w = buf;
	for (i = 0; i < l->n; i++) {
		size_t n;

		if (i)
			*w++ = ',';
		n = strlen(l->v[i].source);
		memcpy(w, l->v[i].source, n);
		w += n;
		*w++ = ':';
		n = strlen(l->v[i].key);
		memcpy(w, l->v[i].key, n);
		w += n;
		if (l->v[i].value[0]) {
			*w++ = '=';
			n = strlen(l->v[i].value);
			memcpy(w, l->v[i].value, n);
			w += n;
		}
	}
	*w = '\0';
	return buf;
}

int sluice_labels_parse(struct sluice_labels *out, const char *text,
			const char *default_source, char **err)
{
	struct sluice_labels l = { 0 };
	char *copy = strdup(text ? text : ""), *save = NULL, *tok;
	int rc = 0;

	if (err)
		*err = NULL;
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *source = NULL, *key = NULL;
		const char *value = "";

		while (*tok == ' ')
			tok++;
		if (eq) {
			*eq = '\0';
			value = eq + 1;
		}
		if (!*tok) {
			if (err && asprintf(err, "empty label key in \"%s\"", text) < 0)
				*err = NULL;
			rc = -EINVAL;
			goto out;
		}
		rc = labels_split_key(tok, default_source ? default_source : "k8s",
				      &source, &key);
		if (!rc)
			rc = sluice_labels_add(&l, source, key, value);
		free(source);
		free(key);
		if (rc)
			goto out;
	}
out:
	free(copy);
	if (rc) {
		sluice_labels_free(&l);
		return rc;
	}
	sluice_labels_free(out);
	*out = l;
	return 0;
}

/*
 * Labels that Cilium's default label filter leaves out of identities because
 * they differ per ReplicaSet, revision or pod and would only multiply
 * identities without carrying meaning for policy.
 */
static bool labels_identity_relevant(const char *key)
{
	static const char *const skip[] = {
		"pod-template-hash", "controller-revision-hash",
		"pod-template-generation", "statefulset.kubernetes.io/pod-name",
	};

	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strcmp(key, skip[i]))
			return false;
	return true;
}

int sluice_pod_identity_labels(struct sluice_labels *out, const char *ns,
			       const struct sluice_labels *pod_labels,
			       const struct sluice_labels *ns_labels)
{
	struct sluice_labels l = { 0 };
	int rc = 0;

	for (size_t i = 0; pod_labels && i < pod_labels->n && !rc; i++)
		if (labels_identity_relevant(pod_labels->v[i].key))
			rc = sluice_labels_add(&l, "k8s", pod_labels->v[i].key,
					       pod_labels->v[i].value);
	for (size_t i = 0; ns_labels && i < ns_labels->n && !rc; i++) {
		char *key;

		if (asprintf(&key, "%s%s", SLUICE_LABEL_NS_PREFIX, ns_labels->v[i].key) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = sluice_labels_add(&l, "k8s", key, ns_labels->v[i].value);
		free(key);
	}
	if (!rc)
		rc = sluice_labels_add(&l, "k8s", SLUICE_LABEL_NAMESPACE, ns ? ns : "default");
	if (!rc)
		rc = sluice_labels_add(&l, "k8s", SLUICE_LABEL_CLUSTER, SLUICE_CLUSTER_NAME);
	if (rc) {
		sluice_labels_free(&l);
		return rc;
	}
	sluice_labels_free(out);
	*out = l;
	return 0;
}
