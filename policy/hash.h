/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash.h - two small open-addressing hash maps used inside the policy
 * library: string -> size_t and u64 -> size_t. Internal, not installed.
 */
#ifndef SLUICE_POLICY_HASH_H
#define SLUICE_POLICY_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	char *key;     /* owned; NULL = empty slot */
	size_t value;
	uint64_t hash; /* of key: a probe compares it before the string */
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;  /* power of two or 0 */
	size_t n;
};

/* Returns a pointer to the value of key, or NULL. */
size_t *strmap_get(const struct strmap *m, const char *key);
/* Inserts or replaces; copies key. 0 or -ENOMEM. */
int strmap_put(struct strmap *m, const char *key, size_t value);
/* Removes key; returns true when it was there. */
bool strmap_del(struct strmap *m, const char *key);
void strmap_free(struct strmap *m);

/* The same with key's strmap_hash() given: a caller asking several maps
 * about one key hashes it once. */
uint64_t strmap_hash(const char *key);
size_t *strmap_get_h(const struct strmap *m, const char *key, uint64_t h);
int strmap_put_h(struct strmap *m, const char *key, uint64_t h, size_t value);
bool strmap_del_h(struct strmap *m, const char *key, uint64_t h);

/* key, value and the slot's use side by side: a probe touches one line */
struct u64map_slot {
	uint64_t key;
	size_t value;
	bool used;
};

struct u64map {
	struct u64map_slot *slots;
	size_t cap;
	size_t n;
};

size_t *u64map_get(const struct u64map *m, uint64_t key);
/* Returns the value slot of key, inserting it with *inserted = true and
 * value init when it is new. NULL on allocation failure. */
size_t *u64map_upsert(struct u64map *m, uint64_t key, size_t init, bool *inserted);
void u64map_free(struct u64map *m);

uint64_t hash_bytes(const void *p, size_t len);

#endif /* SLUICE_POLICY_HASH_H */
