/*
 * The live sampled blocks, and the filter that lets free() skip them cheaply.
 *
 * Table: a chained hash table on the block's key. Every operation costs a few instructions and
 * touches few cache lines, at any load and in exact mode (every allocation a block):
 * - Entries (24 bytes, packed: see mp_heap_entry_t) sit in a segmented array that never moves;
 *   a removed entry's position goes on a free list and is the next one reused, so the entries
 *   of short-lived blocks stay in the cache. A chain is linked through the entries.
 * - The buckets are 32-bit heads of the chains, at least one per live block (a chain holds
 *   one block or less on average).
 * - An insert walks its chain for a stale entry at the same address only when the address's
 *   filter bit is set: a block in the table holds its counter up, and most new blocks find
 *   their bit clear.
 * - Removal unlinks the entry from its chain: nothing moves (the open-addressed index this
 *   replaces shifted its probe run back and moved the last entry into the hole, reading an
 *   entry per step).
 * - Growth is incremental: when the blocks reach the bucket count, a bucket array twice as big
 *   is mapped and every later insert and removal moves two old buckets' chains into it, so no
 *   operation does work in proportion to the table (the old index rehashed everything at once
 *   under the lock). A key is looked up in the old array while its old bucket has not moved.
 * Memory: 24 bytes per entry (up to the most blocks ever live since the last clear) and 4 to 8
 * per live block of buckets (up to 12 while a growth is under way): 28 to 32 bytes per block,
 * where the open-addressed index took 29 to 35.
 *
 * Filter: MP_HEAP_FILTER_SLOTS counters indexed by the block's 16-byte granule
 * (mp_heap_filter_slot); a counter holds how many live sampled blocks map to it, and a bitmap
 * mirrors which counters are nonzero. The free path of every block reads one bit with a relaxed
 * load (the bitmap is 32 KiB and stays in the cache): clear means "certainly not sampled" and the
 * hook returns without a lock or a table lookup. Only a nonzero counter (a sampled block, or a rare
 * collision) takes the lock. The counter and its bit are raised before the sampled block's address
 * is returned to the program, and the program can only free the block after it got the address, so
 * the freeing thread always sees the bit set. Counters and bits only change under the profiler's
 * lock. The counters are 16 bits (512 KiB: churn touches every page of them, in exact mode and at
 * 128 KiB alike, so their size is resident memory). One that reaches 65535 stays there for good:
 * its bit stays set and the frees that hash to it keep taking the slow path, which is always safe;
 * reaching it takes tens of thousands of live blocks in one slot.
 *
 * A block freed around the hooks (CPython swaps allocators in a few places) leaves a stale entry;
 * a later sampled allocation at the same address overwrites it, and a later unsampled free of
 * that address removes it, so the table heals itself and never holds two entries per address.
 *
 * Not thread-safe: callers hold the profiler's lock (the filter's bits are read without it).
 */
#ifndef MP_HEAP_H
#define MP_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "vec.h"

#define MP_HEAP_FILTER_BITS  18
#define MP_HEAP_FILTER_SLOTS (1u << MP_HEAP_FILTER_BITS)
#define MP_HEAP_FILTER_STUCK UINT16_MAX /* a saturated counter */

/*
 * Where a block came from (mp_block_t.origin): one of CPython's three allocator domains (RAW,
 * MEM, OBJ: tracemalloc's domain 0), the native heap (MPROFILE_NATIVE), or a domain passed to
 * PyTraceMalloc_Track, numbered in the order they were first seen (see profiler.h).
 */
enum {
    MP_ORIGIN_NATIVE = 3,
    MP_ORIGIN_TRACKED = 4, /* the first tracked domain */
    MP_ORIGINS = 256,
};

/*
 * The table's key of a block. tracemalloc keys a trace by (domain, address): a tracked block
 * never collides with an allocator's block at the same address, nor with another domain's.
 * PyMem and native blocks share plain addresses (a block is only ever one of them); a tracked
 * domain's blocks carry its origin in the address's top byte, which no user-space address uses.
 */
static inline uintptr_t
mp_heap_key(uintptr_t ptr, unsigned origin)
{
    return origin >= MP_ORIGIN_TRACKED ? ptr ^ ((uintptr_t)origin << 56) : ptr;
}

typedef struct {
    uintptr_t ptr;         /* key (mp_heap_key); 0 marks an empty slot */
    uint64_t weight;       /* estimated bytes this sample stands for */
    uint32_t node;         /* stack (stacks.h node id) */
    uint16_t total_nframe; /* frames on the stack when sampled, capped at 65535 */
    uint8_t origin;        /* MP_DOMAIN_RAW, MEM or OBJ, or an MP_ORIGIN_* */
} mp_block_t;

/* A block's weight is kept in 40 bits: a larger one (a single block over 1 TiB) is counted as
 * this much. */
#define MP_HEAP_MAX_WEIGHT ((UINT64_C(1) << 40) - 1)

/* A live block in the table: mp_block_t packed into 24 bytes with the chain link. */
typedef struct {
    uint64_t key; /* mp_heap_key; 0 while the entry is free */
    /* Position + 1 of the next entry of the chain or of the free list; 0 ends it. Next to the
     * key, so that a chain walk reads one cache line per entry (but for 1 entry in 8). */
    uint32_t next;
    uint32_t node;
    uint64_t packed; /* weight (40 bits), origin (8), total_nframe (16) */
} mp_heap_entry_t;

typedef struct {
    uint32_t *buckets;     /* position + 1 of each chain's first entry; 0 for none */
    size_t nbuckets;       /* a power of two, or 0 before the first insert */
    uint32_t *old_buckets; /* while growing: the array being moved into buckets, else NULL */
    size_t old_nbuckets;
    size_t moved;          /* old buckets moved so far */
    mp_vec_t entries;      /* of mp_heap_entry_t, live and free */
    uint32_t free_list;    /* position + 1 of a free entry, 0 for none */
    size_t count;          /* live blocks */
    uint64_t live_bytes; /* sum of weights */
    uint64_t peak_bytes;
    uint16_t *filter;    /* MP_HEAP_FILTER_SLOTS counters */
    /* Bit i set when filter[i] is not zero: what the free path reads. In the struct, not behind a
     * pointer, so that the hooks find it at a fixed address (one dependent load fewer). */
    uint64_t bits[MP_HEAP_FILTER_SLOTS / 64];
} mp_heap_t;

/* Returns 0, or -1 when out of memory. */
int mp_heap_init(mp_heap_t *h);
void mp_heap_destroy(mp_heap_t *h);

/*
 * An index of `bits` bits (1 to 63) for a key, which keeps neighbouring blocks neighbours: the
 * 16-byte granules of one region of 2^(bits + 4) bytes take distinct indices, XORed with a hash
 * of the region's number. XOR keeps aligned runs together, so the blocks a program allocates
 * and frees together (one pool, one arena) share the cache lines of the buckets, where a hash of
 * the whole address made every insert and remove a miss there. Regions far apart collide no
 * more than at random (Fibonacci hashing of their numbers): without it, 64-byte blocks of every
 * region would pile onto the same quarter of the buckets. Two live blocks never share a granule.
 */
static inline uint64_t
mp_heap_spread(uint64_t key, unsigned bits)
{
    uint64_t granule = key >> 4;
    uint64_t region = (granule >> bits) * 0x9e3779b97f4a7c15ULL >> (64 - bits);
    return (granule ^ region) & ((UINT64_C(1) << bits) - 1);
}

/* The filter slot of ptr: its granule modulo the slots, which keeps neighbours neighbours as
 * mp_heap_spread does, in the two instructions of the free path's hash it replaced (a shift and
 * a mask, where a Fibonacci hash was a multiply and a shift). Regions 4 MiB apart are not mixed
 * here: their blocks at the same offset share a counter, as blocks in random slots share one now
 * and then, which costs an unsampled free the slow path and nothing else. */
static inline uint32_t
mp_heap_filter_slot(uintptr_t ptr)
{
    return (uint32_t)(ptr >> 4) & (MP_HEAP_FILTER_SLOTS - 1);
}

/* The bucket of key among n buckets (a power of two). */
static inline size_t
mp_heap_bucket(uint64_t key, size_t n)
{
    return (size_t)mp_heap_spread(key, (unsigned)__builtin_ctzll(n));
}

/* Lock-free: zero when ptr is certainly not a live sampled block (the hooks read the bits below:
 * 32 KiB that stay in the cache, where a random counter of the 512 KiB array would be a cache
 * miss on every free once samples have touched its pages). */
static inline int
mp_heap_maybe_sampled_bit(const uint64_t *bits, const void *ptr)
{
    uint32_t slot = mp_heap_filter_slot((uintptr_t)ptr);
    return (int)((__atomic_load_n(&bits[slot >> 6], __ATOMIC_RELAXED) >> (slot & 63)) & 1);
}

/* Raises (delta 1) or lowers (-1) the filter counter of ptr without a block: frees of a pinned
 * address take the slow path (framecache.h pins the code objects it caches). */
void mp_heap_pin(mp_heap_t *h, uintptr_t ptr, int delta);

/* Asks the CPU for the cache lines an insert or remove of key will touch (its filter counter,
 * its bucket, the entry an insert would take), so that their misses overlap with the caller's
 * work until then. Changes nothing; under the lock. */
static inline void
mp_heap_prefetch(const mp_heap_t *h, uintptr_t key)
{
    __builtin_prefetch(&h->filter[mp_heap_filter_slot(key)], 1);
    if (h->nbuckets != 0) {
        __builtin_prefetch(&h->buckets[mp_heap_bucket(key, h->nbuckets)], 1);
    }
    if (h->free_list != 0) {
        __builtin_prefetch(mp_vec_at(&h->entries, h->free_list - 1), 1);
    }
}

/* Records a block, replacing a stale entry at the same address. 0, or -1 when out of memory. */
int mp_heap_insert(mp_heap_t *h, const mp_block_t *block);

/* Removes the block at ptr into *out (if out is not NULL). Returns 1 if found, else 0. */
int mp_heap_remove(mp_heap_t *h, uintptr_t ptr, mp_block_t *out);

/* Copies the block at ptr into *out (if out is not NULL). Returns 1 if found, else 0. */
int mp_heap_find(const mp_heap_t *h, uintptr_t ptr, mp_block_t *out);

/* Forgets every block and gives the table's memory back (the filter stays). */
void mp_heap_clear(mp_heap_t *h);

/* Copies up to max live blocks into out; returns how many were copied. */
size_t mp_heap_copy(const mp_heap_t *h, mp_block_t *out, size_t max);

#endif
