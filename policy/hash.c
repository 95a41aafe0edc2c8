// SPDX-License-Identifier: Apache-2.0
/*
 * hash.c - the library's internal hash maps: linear probing, power-of-two
 * capacity, grown at 50% load. Deletion re-inserts the rest of the cluster
 * so lookups never need tombstones.
 *
 * Why the string map keeps each key's hash: a probe that meets another key
 * compares two words instead of following the key's pointer to a string
 * compare (a cache miss per probe: 25,000 new CIDR identities made four
 * lookups each), and growing or re-inserting a cluster never hashes again.
 */
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/*
 * Eight bytes per step, each word folded into the state by a multiply, then
 * the finalizer above: every output bit depends on every input bit, which
 * FNV-1a's low bits (a table's index) did not for keys that differ early
 * and share a long tail ("cidr:10.250.3.7/32,reserved:world").
 */
uint64_t hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, len);
	return hash_u64(h ^ w);
}

uint64_t strmap_hash(const char *key)
{
	return hash_bytes(key, strlen(key));
}

static size_t strmap_find(const struct strmap *m, const char *key, uint64_t h, bool *found)
{
	size_t mask = m->cap - 1;
	size_t i = h & mask;

	while (m->slots[i].key) {
		if (m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

/* the free slot a key of hash h goes to (the key is known to be absent) */
static size_t strmap_free_slot(const struct strmap *m, uint64_t h)
{
	size_t mask = m->cap - 1;
	size_t i = h & mask;

	while (m->slots[i].key)
		i = (i + 1) & mask;
	return i;
}

size_t *strmap_get_h(const struct strmap *m, const char *key, uint64_t h)
{
	bool found;
	size_t i;

	if (!m->cap)
		return NULL;
	i = strmap_find(m, key, h, &found);
	return found ? &m->slots[i].value : NULL;
}

size_t *strmap_get(const struct strmap *m, const char *key)
{
	return m->cap ? strmap_get_h(m, key, strmap_hash(key)) : NULL;
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
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key)
			m->slots[strmap_free_slot(m, old[i].hash)] = old[i];
	free(old);
	return 0;
}

int strmap_put_h(struct strmap *m, const char *key, uint64_t h, size_t value)
{
	bool found;
	size_t i;
	char *copy;

	if ((m->n + 1) * 2 > m->cap && strmap_grow(m))
		return -ENOMEM;
	i = strmap_find(m, key, h, &found);
	if (found) {
		m->slots[i].value = value;
		return 0;
	}
	copy = strdup(key);
	if (!copy)
		return -ENOMEM;
	m->slots[i].key = copy;
	m->slots[i].value = value;
	m->slots[i].hash = h;
	m->n++;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, size_t value)
{
	return strmap_put_h(m, key, strmap_hash(key), value);
}

bool strmap_del_h(struct strmap *m, const char *key, uint64_t h)
{
	size_t mask, i, j;
	bool found;

	if (!m->cap)
		return false;
	i = strmap_find(m, key, h, &found);
	if (!found)
		return false;
	mask = m->cap - 1;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->n--;
	/* re-insert the rest of the cluster */
	for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		struct strmap_slot s = m->slots[j];

		m->slots[j].key = NULL;
		m->slots[strmap_free_slot(m, s.hash)] = s;
	}
	return true;
}

bool strmap_del(struct strmap *m, const char *key)
{
	return m->cap ? strmap_del_h(m, key, strmap_hash(key)) : false;
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

	while (m->slots[i].used) {
		if (m->slots[i].key == key) {
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
	return found ? &m->slots[i].value : NULL;
}

static int u64map_grow(struct u64map *m)
{
	struct u64map n = { 0 };

	n.cap = m->cap ? m->cap * 2 : 64;
	n.slots = calloc(n.cap, sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		bool found;

		if (m->slots[i].used)
			n.slots[u64map_find(&n, m->slots[i].key, &found)] = m->slots[i];
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
		m->slots[i] = (struct u64map_slot){ .key = key, .value = init, .used = true };
		m->n++;
	}
	return &m->slots[i].value;
}

void u64map_free(struct u64map *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
