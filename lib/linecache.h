/*
 * Line numbers of (code object, instruction offset) pairs, so that a sampled stack does not ask
 * PyCode_Addr2Line (a scan of the code object's line table from its start, a few thousand
 * instructions per frame on real code) again for frames it has seen.
 *
 * A code object can die and another be created at the same address with other line numbers, so
 * every cached code object is "pinned" in the heap's free-path filter: its counter is raised,
 * which sends the free of that address down the slow path, where mp_linecache_forget() drops the
 * code object. Entries carry the generation their code object got when it entered the cache; a
 * code object that left the cache (freed, or the table was reset) never matches old entries.
 * All calls are made under the profiler's lock.
 */
#ifndef MP_LINECACHE_H
#define MP_LINECACHE_H

#include <stdint.h>

#include "heap.h"

#define MP_LINECACHE_CODES_BITS 12 /* code objects pinned at most: half of 2^12 */
#define MP_LINECACHE_LINES_BITS 14 /* direct-mapped (code, offset) entries */

typedef struct {
    uintptr_t code; /* 0: empty */
    uint32_t gen;
} mp_linecache_code_t;

typedef struct {
    uintptr_t code;
    uint32_t gen;
    int32_t offset;
    int32_t line;
} mp_linecache_line_t;

typedef struct {
    mp_heap_t *heap; /* whose filter pins the cached code objects */
    mp_linecache_code_t *codes;
    mp_linecache_line_t *lines;
    uint32_t ncodes;
    uint32_t gen;
} mp_linecache_t;

/* Returns 0, or -1 when out of memory (the cache is then off: lookups miss, stores do nothing). */
int mp_linecache_init(mp_linecache_t *c, mp_heap_t *heap);
void mp_linecache_destroy(mp_linecache_t *c);

/* The cached line of offset in code, or -1. */
int mp_linecache_get(const mp_linecache_t *c, const void *code, int offset);

/* Caches the line of offset in code (pinning code). */
void mp_linecache_put(mp_linecache_t *c, const void *code, int offset, int line);

/* The block at ptr is being freed: if it is a cached code object, unpins it and drops its lines. */
void mp_linecache_forget(mp_linecache_t *c, const void *ptr);

/* Unpins every code object and empties the cache. */
void mp_linecache_clear(mp_linecache_t *c);

#endif
