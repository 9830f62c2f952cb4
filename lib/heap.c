#include "heap.h"

#include <string.h>

#include "alloc.h"

#define INITIAL_BUCKETS 1024

int
mp_heap_init(mp_heap_t *h)
{
    memset(h, 0, sizeof(*h));
    mp_vec_init(&h->entries, sizeof(mp_heap_entry_t));
    /* The filter's pages are touched where counters change: a few while samples are few, all of
     * them once churn has spread samples over the address space. */
    h->filter = mp_alloc_zeroed(MP_HEAP_FILTER_SLOTS * sizeof(uint16_t));
    return h->filter != NULL ? 0 : -1;
}

void
mp_heap_destroy(mp_heap_t *h)
{
    mp_alloc_release(h->buckets, h->nbuckets * sizeof(uint32_t));
    mp_alloc_release(h->old_buckets, h->old_nbuckets * sizeof(uint32_t));
    mp_vec_destroy(&h->entries);
    mp_alloc_release(h->filter, MP_HEAP_FILTER_SLOTS * sizeof(uint16_t));
    memset(h, 0, sizeof(*h));
}

static inline mp_heap_entry_t *
entry_at(const mp_heap_t *h, uint32_t pos)
{
    return mp_vec_at(&h->entries, pos);
}

static inline uint64_t
pack(const mp_block_t *b)
{
    uint64_t weight = b->weight < MP_HEAP_MAX_WEIGHT ? b->weight : MP_HEAP_MAX_WEIGHT;
    return weight | (uint64_t)b->origin << 40 | (uint64_t)b->total_nframe << 48;
}

static inline uint64_t
weight_of(const mp_heap_entry_t *e)
{
    return e->packed & MP_HEAP_MAX_WEIGHT;
}

static void
unpack(const mp_heap_entry_t *e, mp_block_t *out)
{
    *out = (mp_block_t){
        .ptr = e->key,
        .weight = weight_of(e),
        .node = e->node,
        .total_nframe = (uint16_t)(e->packed >> 48),
        .origin = (uint8_t)(e->packed >> 40),
    };
}

/* The head of the chain that holds key: in the old array while its bucket there has not moved. */
static uint32_t *
chain_of(const mp_heap_t *h, uintptr_t key)
{
    if (h->old_buckets != NULL) {
        size_t old = mp_heap_bucket(key, h->old_nbuckets);
        if (old >= h->moved) {
            return &h->old_buckets[old];
        }
    }
    return &h->buckets[mp_heap_bucket(key, h->nbuckets)];
}

/* The link (a bucket or an entry's next) that points at key's entry, or NULL. */
static uint32_t *
link_to(const mp_heap_t *h, uintptr_t key)
{
    if (h->nbuckets == 0 || key == 0) {
        return NULL;
    }
    for (uint32_t *link = chain_of(h, key); *link != 0;) {
        mp_heap_entry_t *e = entry_at(h, *link - 1);
        if (e->key == key) {
            return link;
        }
        link = &e->next;
    }
    return NULL;
}

/* Moves up to two old buckets' chains into the new array; the old array goes once empty. */
static void
grow_step(mp_heap_t *h)
{
    for (int i = 0; i < 2 && h->moved < h->old_nbuckets; i++, h->moved++) {
        uint32_t at = h->old_buckets[h->moved];
        while (at != 0) {
            mp_heap_entry_t *e = entry_at(h, at - 1);
            uint32_t next = e->next;
            uint32_t *head = &h->buckets[mp_heap_bucket(e->key, h->nbuckets)];
            e->next = *head;
            *head = at;
            at = next;
        }
    }
    if (h->moved == h->old_nbuckets) {
        mp_alloc_release(h->old_buckets, h->old_nbuckets * sizeof(uint32_t));
        h->old_buckets = NULL;
        h->old_nbuckets = 0;
    }
}

/* Starts a growth once the blocks fill the buckets. A growth that finds no memory is tried
 * again at the next insert: chains only get longer meanwhile. 0, or -1 when there is no bucket
 * at all. */
static int
maybe_grow(mp_heap_t *h)
{
    if (h->old_buckets != NULL || h->count < h->nbuckets) {
        return 0;
    }
    size_t n = h->nbuckets ? h->nbuckets * 2 : INITIAL_BUCKETS;
    if (n > ((size_t)1 << 32)) {
        return 0;
    }
    uint32_t *buckets = mp_alloc_zeroed(n * sizeof(uint32_t));
    if (buckets == NULL) {
        return h->nbuckets ? 0 : -1;
    }
    if (h->nbuckets != 0) {
        h->old_buckets = h->buckets;
        h->old_nbuckets = h->nbuckets;
        h->moved = 0;
    }
    h->buckets = buckets;
    h->nbuckets = n;
    return 0;
}

/* A free entry's position, reused first, or a new one; -1 when out of memory. */
static int64_t
take_entry(mp_heap_t *h)
{
    if (h->free_list != 0) {
        uint32_t pos = h->free_list - 1;
        h->free_list = entry_at(h, pos)->next;
        return pos;
    }
    return mp_vec_push(&h->entries);
}

/* Whether a block with this key may be in the table: its filter counter is raised while it is,
 * which the bitmap mirrors (32 KiB that stay in the cache, where the counter is a miss). */
static inline int
maybe_present(const mp_heap_t *h, uintptr_t key)
{
    return mp_heap_maybe_sampled_bit(h->bits, (const void *)key);
}

static void
filter_add(mp_heap_t *h, uintptr_t ptr, int32_t delta)
{
    uint32_t i = mp_heap_filter_slot(ptr);
    uint16_t old = __atomic_load_n(&h->filter[i], __ATOMIC_RELAXED);
    if (old == MP_HEAP_FILTER_STUCK) {
        return;
    }
    uint16_t now = (uint16_t)(old + delta);
    __atomic_store_n(&h->filter[i], now, __ATOMIC_RELAXED);
    if ((old == 0) != (now == 0)) {
        uint64_t *word = &h->bits[i >> 6];
        __atomic_store_n(word, __atomic_load_n(word, __ATOMIC_RELAXED) ^ ((uint64_t)1 << (i & 63)),
                         __ATOMIC_RELAXED);
    }
}

void
mp_heap_pin(mp_heap_t *h, uintptr_t ptr, int delta)
{
    filter_add(h, ptr, delta);
}

int
mp_heap_insert(mp_heap_t *h, const mp_block_t *block)
{
    /* Most new blocks' filter counters are zero (exact mode: about 4 in 5 with 50,000 live
     * blocks): no chain to walk for a stale entry, whose entries are cache misses. */
    uint32_t *link = maybe_present(h, block->ptr) ? link_to(h, block->ptr) : NULL;
    if (link != NULL) {
        mp_heap_entry_t *old = entry_at(h, *link - 1);
        h->live_bytes -= weight_of(old);
        old->packed = pack(block);
        old->node = block->node;
    } else {
        if (maybe_grow(h) < 0) {
            return -1;
        }
        int64_t pos = take_entry(h);
        if (pos < 0) {
            return -1;
        }
        uint32_t *head = chain_of(h, block->ptr);
        *entry_at(h, (uint32_t)pos) = (mp_heap_entry_t){
            .key = block->ptr, .packed = pack(block), .node = block->node, .next = *head};
        *head = (uint32_t)pos + 1;
        h->count++;
        filter_add(h, block->ptr, 1);
    }
    if (h->old_buckets != NULL) {
        grow_step(h);
    }
    h->live_bytes += block->weight < MP_HEAP_MAX_WEIGHT ? block->weight : MP_HEAP_MAX_WEIGHT;
    if (h->live_bytes > h->peak_bytes) {
        h->peak_bytes = h->live_bytes;
    }
    return 0;
}

int
mp_heap_remove(mp_heap_t *h, uintptr_t ptr, mp_block_t *out)
{
    uint32_t *link = link_to(h, ptr);
    if (link == NULL) {
        return 0;
    }
    uint32_t at = *link;
    mp_heap_entry_t *e = entry_at(h, at - 1);
    if (out != NULL) {
        unpack(e, out);
    }
    h->live_bytes -= weight_of(e);
    filter_add(h, ptr, -1);
    *link = e->next;
    e->key = 0;
    e->next = h->free_list;
    h->free_list = at;
    h->count--;
    if (h->old_buckets != NULL) {
        grow_step(h);
    }
    return 1;
}

int
mp_heap_find(const mp_heap_t *h, uintptr_t ptr, mp_block_t *out)
{
    uint32_t *link = link_to(h, ptr);
    if (link == NULL) {
        return 0;
    }
    if (out != NULL) {
        unpack(entry_at(h, *link - 1), out);
    }
    return 1;
}

void
mp_heap_clear(mp_heap_t *h)
{
    for (uint32_t pos = 0; pos < h->entries.len; pos++) {
        const mp_heap_entry_t *e = entry_at(h, pos);
        if (e->key != 0) {
            filter_add(h, e->key, -1);
        }
    }
    /* Give the table's memory back: after clear_traces() a program that held millions of blocks
     * should not keep paying for them. The filter keeps its fixed size. */
    mp_alloc_release(h->buckets, h->nbuckets * sizeof(uint32_t));
    mp_alloc_release(h->old_buckets, h->old_nbuckets * sizeof(uint32_t));
    mp_vec_destroy(&h->entries);
    mp_vec_init(&h->entries, sizeof(mp_heap_entry_t));
    h->buckets = h->old_buckets = NULL;
    h->nbuckets = h->old_nbuckets = h->moved = 0;
    h->free_list = 0;
    h->count = 0;
    h->live_bytes = 0;
    h->peak_bytes = 0;
}

size_t
mp_heap_copy(const mp_heap_t *h, mp_block_t *out, size_t max)
{
    size_t n = 0;
    for (uint32_t pos = 0; pos < h->entries.len && n < max; pos++) {
        const mp_heap_entry_t *e = entry_at(h, pos);
        if (e->key != 0) {
            unpack(e, &out[n++]);
        }
    }
    return n;
}
