// SPDX-License-Identifier: Apache-2.0
/*
 * hash.c - the library's internal hash maps: linear probing, power-of-two
 * capacity, grown at 50% load. Deletion re-inserts the rest of the cluster
 * so lookups never need tombstones.
 */
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static size_t strmap_find(const struct strmap *m, const char *key, bool *found)
{
	size_t mask = m->cap - 1;
	size_t i = hash_bytes(key, strlen(key)) & mask;

	while (m->slots[i].key) {
		if (strcmp(m->slots[i].key, key) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

size_t *strmap_get(const struct strmap *m, const char *key)
{
	bool found;
	size_t i;

	if (!m->cap)
		return NULL;
	i = strmap_find(m, key, &found);
	return found ? &m->slots[i].value : NULL;
}

static int strmap_grow(struct strmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	struct strmap_slot *old = m->slots;
	size_t ocap = m->cap;

	m->slots = calloc(ncap, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		bool found;

		if (!old[i].key)
			continue;
		m->slots[strmap_find(m, old[i].key, &found)] = old[i];
	}
	free(old);
	return 0;
}

int strmap_put(struct strmap *m, const char *key, size_t value)
{
	bool found;
	size_t i;
	char *copy;

	if ((m->n + 1) * 2 > m->cap && strmap_grow(m))
		return -ENOMEM;
	i = strmap_find(m, key, &found);
	if (found) {
		m->slots[i].value = value;
		return 0;
	}
	copy = strdup(key);
	if (!copy)
		return -ENOMEM;
	m->slots[i].key = copy;
	m->slots[i].value = value;
	m->n++;
	return 0;
}

bool strmap_del(struct strmap *m, const char *key)
{
	size_t mask, i, j;
	bool found;

	if (!m->cap)
		return false;
	i = strmap_find(m, key, &found);
	if (!found)
		return false;
	mask = m->cap - 1;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->n--;
	/* re-insert the rest of the cluster */
	for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		struct strmap_slot s = m->slots[j];
		size_t k;

		m->slots[j].key = NULL;
		k = strmap_find(m, s.key, &found);
		m->slots[k] = s;
	}
	return true;
}

void strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static size_t u64map_find(const struct u64map *m, uint64_t key, bool *found)
{
	size_t mask = m->cap - 1;
	size_t i = hash_u64(key) & mask;

	while (m->used[i]) {
		if (m->keys[i] == key) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

size_t *u64map_get(const struct u64map *m, uint64_t key)
{
	bool found;
	size_t i;

	if (!m->cap)
		return NULL;
	i = u64map_find(m, key, &found);
	return found ? &m->values[i] : NULL;
}

static int u64map_grow(struct u64map *m)
{
	struct u64map n = { 0 };

	n.cap = m->cap ? m->cap * 2 : 64;
	n.keys = malloc(n.cap * sizeof(*n.keys));
	n.values = malloc(n.cap * sizeof(*n.values));
	n.used = calloc(n.cap, 1);
	if (!n.keys || !n.values || !n.used) {
		u64map_free(&n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		bool found;
		size_t k;

		if (!m->used[i])
			continue;
		k = u64map_find(&n, m->keys[i], &found);
		n.used[k] = 1;
		n.keys[k] = m->keys[i];
		n.values[k] = m->values[i];
	}
	n.n = m->n;
	u64map_free(m);
	*m = n;
	return 0;
}

size_t *u64map_upsert(struct u64map *m, uint64_t key, size_t init, bool *inserted)
{
	bool found;
	size_t i;

	if ((m->n + 1) * 2 > m->cap && u64map_grow(m))
		return NULL;
	i = u64map_find(m, key, &found);
	*inserted = !found;
	if (!found) {
		m->used[i] = 1;
		m->keys[i] = key;
		m->values[i] = init;
		m->n++;
	}
	return &m->values[i];
}

void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->values);
	free(m->used);
	memset(m, 0, sizeof(*m));
}
