/* SPDX-License-Identifier: Apache-2.0 */
/*
 * list_diff.h - the reflector's cache of one collection, and the diff of a
 * fresh LIST against it (pure functions, no I/O).
 */
#ifndef SLUICE_K8S_LIST_DIFF_H
#define SLUICE_K8S_LIST_DIFF_H

#include <jansson.h>

#include "client.h"

/* "ns/name", or "name" for cluster-scoped objects; malloc'd, NULL when the
 * object has no metadata.name. */
char *k8s_object_key(json_t *obj);
/* metadata.resourceVersion or NULL (borrowed). */
const char *k8s_object_rv(json_t *obj);

typedef void (*k8s_diff_emit)(void *ctx, enum k8s_event_type type, json_t *obj);

/* Replaces the cache (a JSON object: key -> object) with `items` (a JSON
 * array of objects, as in a List) and emits what changed, as a watch would
 * have: DELETED (with the cached state) for every key no longer listed,
 * then ADDED for new keys and MODIFIED for keys whose resourceVersion
 * changed, in list order. Unchanged objects emit nothing. Items without a
 * name are skipped; returns how many. */
size_t k8s_list_diff(json_t *cache, json_t *items, k8s_diff_emit emit, void *ctx);

#endif
