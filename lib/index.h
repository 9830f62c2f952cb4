/*
 * An open-addressing hash index from 64-bit hashes to 32-bit ids. It stores only (hash, id);
 * the owner keeps the keys and answers equality through a callback, so the same index interns
 * strings, frames and trie nodes. Not thread-safe: callers hold the profiler's lock.
 */
#ifndef MP_INDEX_H
#define MP_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t hash;
    uint32_t id_plus_one; /* 0 marks an empty slot */
} mp_index_slot_t;

typedef struct {
    mp_index_slot_t *slots;
    size_t capacity; /* power of two, or 0 */
    size_t count;
} mp_index_t;

/* Does the key behind id equal the key being looked up? */
typedef int (*mp_index_eq_fn)(const void *key, uint32_t id, const void *owner);

void mp_index_init(mp_index_t *ix);
void mp_index_destroy(mp_index_t *ix);

/* Returns the id stored for a key with this hash that eq() accepts, or -1. */
int64_t mp_index_find(const mp_index_t *ix, uint64_t hash, const void *key, mp_index_eq_fn eq,
                      const void *owner);

/* Adds (hash, id). Returns 0, or -1 when out of memory (nothing changed). */
int mp_index_add(mp_index_t *ix, uint64_t hash, uint32_t id);

/* A fast 64-bit hash of bytes, and a mixer for integers. */
uint64_t mp_hash_bytes(const void *data, size_t len);

static inline uint64_t
mp_hash_u64(uint64_t x)
{
    /* splitmix64's finaliser: a bijection with good avalanche. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

#endif
