/*
 * The frames (stacks.h frame ids, each a file name and a line) of (code object, instruction
 * offset) pairs, so that a sampled stack pays one lookup for each frame it has seen: no
 * PyCode_Addr2Line (a scan of the code object's line table from its start, a few thousand
 * instructions per frame on real code), no read of the code object's file name, no frame lookup
 * in the stacks.
 *
 * A code object can die and another be created at the same address with other lines or another
 * file, so every cached code object is "pinned" in the heap's free-path filter: its counter is
 * raised, which sends the free of that address down the slow path, where mp_framecache_forget()
 * drops the code object. Entries carry the generation their code object got when it entered the
 * cache; a code object that left the cache (freed, or the table was reset) never matches old
 * entries. No generation is given twice while entries made with it remain, so an entry finds its
 * code object by the generation and the code table slot it had: a hit reads that one slot instead
 * of searching the table (a code object that a removal moved misses once, and is cached again).
 * A frame id is good only in the stacks that made it: whoever starts the stacks over calls
 * mp_framecache_clear().
 *
 * Every function runs under the profiler's lock.
 */
#ifndef MP_FRAMECACHE_H
#define MP_FRAMECACHE_H

#include <stdint.h>

#include "heap.h"

#define MP_FRAMECACHE_CODES_BITS   12 /* code objects pinned at most: half of 2^12 */
#define MP_FRAMECACHE_ENTRIES_BITS 14 /* direct-mapped (code, offset) entries */

typedef struct {
    uintptr_t code; /* 0: empty */
    uint32_t gen;
} mp_framecache_code_t;

typedef struct {
    uint32_t gen;     /* its code object's generation; 0: empty */
    uint32_t code_at; /* the slot of its code object in the code table */
    int32_t offset;
    uint32_t frame;   /* stacks.h frame id */
} mp_framecache_entry_t;

typedef struct {
    mp_heap_t *heap; /* whose filter pins the cached code objects */
    mp_framecache_code_t *codes;
    mp_framecache_entry_t *entries;
    uint32_t ncodes;
    uint32_t gen;
    /* How many times cached code objects were unpinned (forgotten, or the cache cleared): a
     * caller that kept (code, offset, frame) triples itself trusts them while this stays put,
     * since a pinned code object cannot die unseen. */
    uint64_t unpinned;
} mp_framecache_t;

/* Whether the cache is on (it pins what it caches). */
static inline int
mp_framecache_on(const mp_framecache_t *c)
{
    return c->entries != NULL;
}

/* At start-up. Returns 0, or -1 when out of memory (the cache is then off: lookups miss, stores
 * do nothing). */
int mp_framecache_init(mp_framecache_t *c, mp_heap_t *heap);
void mp_framecache_destroy(mp_framecache_t *c);

/* Sampling slow path: the frame id cached for offset in code, or -1. */
int64_t mp_framecache_get(const mp_framecache_t *c, const void *code, int offset);

/* Sampling slow path: caches the frame of offset in code (pinning code). */
void mp_framecache_put(mp_framecache_t *c, const void *code, int offset, uint32_t frame);

/* Free slow path: the block at ptr is being freed; if it is a cached code object, unpins it and
 * drops its frames. */
void mp_framecache_forget(mp_framecache_t *c, const void *ptr);

/* When the stacks start over (their frame ids die), and when the code table is full: unpins
 * every code object and empties the cache. */
void mp_framecache_clear(mp_framecache_t *c);

#endif
