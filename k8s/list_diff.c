/* SPDX-License-Identifier: Apache-2.0 */
/*
 * list_diff.c - cache keys and the relist diff (see list_diff.h).
 *
 * A relist happens when the watch could not resume (410: the server's
 * history no longer reaches our resourceVersion). Whatever happened in the
 * gap is only visible as the difference between what we hold and the new
 * list; in particular a deletion in the gap never produces an event, so
 * unless we synthesise it the consumer would enforce a deleted policy
 * forever. resourceVersions are opaque strings: equal means unchanged,
 * anything else means changed (never compare them as numbers).
 */
#include "list_diff.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

char *k8s_object_key(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	if (!name || !*name)
		return NULL;
	if (ns && *ns)
		return sl_strdupf("%s/%s", ns, name);
	return sl_xstrdup(name);
}

const char *k8s_object_rv(json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static int diff_same_rv(json_t *a, json_t *b)
{
	const char *ra = k8s_object_rv(a), *rb = k8s_object_rv(b);
	return ra && rb && strcmp(ra, rb) == 0;
}

size_t k8s_list_diff(json_t *cache, json_t *items, k8s_diff_emit emit, void *ctx)
{
	size_t skipped = 0, i;
	json_t *fresh = json_object(), *item;

	json_array_foreach(items, i, item) {
		char *key = k8s_object_key(item);
		if (!key) {
			skipped++;
			continue;
		}
		json_object_set(fresh, key, item);
		free(key);
	}

	/* deletions first: a consumer that keys something unique on a field
	 * (an identity number, an IP) sees the old holder go before the new
	 * one arrives */
	const char *key;
	json_t *old;
	void *tmp;
	json_object_foreach_safe(cache, tmp, key, old) {
		if (json_object_get(fresh, key))
			continue;
		json_incref(old);
		json_object_del(cache, key);
		emit(ctx, K8S_DELETED, old);
		json_decref(old);
	}

	json_array_foreach(items, i, item) {
		char *k = k8s_object_key(item);
		if (!k)
			continue;
		/* a list with one name twice: the later entry wins, once */
		if (json_object_get(fresh, k) != item) {
			free(k);
			continue;
		}
		old = json_object_get(cache, k);
		if (!old) {
			json_object_set(cache, k, item);
			emit(ctx, K8S_ADDED, item);
		} else if (!diff_same_rv(old, item)) {
			json_object_set(cache, k, item);
			emit(ctx, K8S_MODIFIED, item);
		} else if (old != item) {
			/* same version: keep the new copy (identical content) quietly */
			json_object_set(cache, k, item);
		}
		free(k);
	}
	json_decref(fresh);
	return skipped;
}
