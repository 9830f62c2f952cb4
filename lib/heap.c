#include "heap.h"

#include <string.h>

#include "alloc.h"
#include "index.h"

#define INITIAL_CAPACITY 1024

int
mp_heap_init(mp_heap_t *h)
{
    memset(h, 0, sizeof(*h));
    mp_vec_init(&h->entries, sizeof(mp_block_t));
    /* The filter's pages are touched where counters change: a few while samples are few, all of
     * them once churn has spread samples over the address space. */
    h->filter = mp_alloc_zeroed(MP_HEAP_FILTER_SLOTS * sizeof(uint16_t));
    return h->filter != NULL ? 0 : -1;
}

void
mp_heap_destroy(mp_heap_t *h)
{
    mp_alloc_release(h->index, h->capacity * sizeof(uint32_t));
    mp_vec_destroy(&h->entries);
    mp_alloc_release(h->filter, MP_HEAP_FILTER_SLOTS * sizeof(uint16_t));
    memset(h, 0, sizeof(*h));
}

static inline mp_block_t *
entry_at(const mp_heap_t *h, uint32_t pos)
{
    return mp_vec_at(&h->entries, pos);
}

static size_t
home_slot(uintptr_t ptr, size_t capacity)
{
    return mp_hash_u64(ptr) & (capacity - 1);
}

/* The index slot of the block at ptr, or SIZE_MAX. */
static size_t
lookup(const mp_heap_t *h, uintptr_t ptr)
{
    if (h->capacity == 0 || ptr == 0) {
        return SIZE_MAX;
    }
    size_t mask = h->capacity - 1;
    for (size_t i = home_slot(ptr, h->capacity);; i = (i + 1) & mask) {
        uint32_t at = h->index[i];
        if (at == 0) {
            return SIZE_MAX;
        }
        if (entry_at(h, at - 1)->ptr == ptr) {
            return i;
        }
    }
}

static void
place(uint32_t *index, size_t capacity, uintptr_t ptr, uint32_t at)
{
    size_t mask = capacity - 1;
    size_t i = home_slot(ptr, capacity);
    while (index[i] != 0) {
        i = (i + 1) & mask;
    }
    index[i] = at;
}

static int
grow(mp_heap_t *h)
{
    size_t capacity = h->capacity ? h->capacity * 2 : INITIAL_CAPACITY;
    if (capacity > ((size_t)1 << 32)) {
        return -1;
    }
    uint32_t *index = mp_alloc_zeroed(capacity * sizeof(*index));
    if (index == NULL) {
        return -1;
    }
    for (size_t pos = 0; pos < h->count; pos++) {
        place(index, capacity, entry_at(h, (uint32_t)pos)->ptr, (uint32_t)pos + 1);
    }
    mp_alloc_release(h->index, h->capacity * sizeof(*index));
    h->index = index;
    h->capacity = capacity;
    return 0;
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
    size_t slot = lookup(h, block->ptr);
    if (slot != SIZE_MAX) {
        mp_block_t *old = entry_at(h, h->index[slot] - 1);
        h->live_bytes -= old->weight;
        *old = *block;
    } else {
        /* Load at most 3/4: linear probing with backward-shift deletion copes well there. */
        if ((h->count + 1) * 4 > h->capacity * 3 && grow(h) < 0) {
            return -1;
        }
        int64_t pos = mp_vec_push(&h->entries);
        if (pos < 0) {
            return -1;
        }
        *entry_at(h, (uint32_t)pos) = *block;
        place(h->index, h->capacity, block->ptr, (uint32_t)pos + 1);
        h->count++;
        filter_add(h, block->ptr, 1);
    }
    h->live_bytes += block->weight;
    if (h->live_bytes > h->peak_bytes) {
        h->peak_bytes = h->live_bytes;
    }
    return 0;
}

int
mp_heap_remove(mp_heap_t *h, uintptr_t ptr, mp_block_t *out)
{
    size_t hole = lookup(h, ptr);
    if (hole == SIZE_MAX) {
        return 0;
    }
    uint32_t at = h->index[hole];
    mp_block_t *e = entry_at(h, at - 1);
    if (out != NULL) {
        *out = *e;
    }
    h->live_bytes -= e->weight;
    filter_add(h, ptr, -1);

    /* Backward shift: pull later entries of the probe run into the hole. */
    size_t mask = h->capacity - 1;
    for (size_t i = (hole + 1) & mask; h->index[i] != 0; i = (i + 1) & mask) {
        size_t home = home_slot(entry_at(h, h->index[i] - 1)->ptr, h->capacity);
        /* Move entry i into the hole unless its home lies cyclically in (hole, i]. */
        int home_after_hole = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!home_after_hole) {
            h->index[hole] = h->index[i];
            hole = i;
        }
    }
    h->index[hole] = 0;

    /* Keep the entries dense: the last one moves into the freed position. */
    uint32_t last = (uint32_t)h->count;
    if (at != last) {
        mp_block_t *moved = entry_at(h, last - 1);
        for (size_t i = home_slot(moved->ptr, h->capacity);; i = (i + 1) & mask) {
            if (h->index[i] == last) {
                h->index[i] = at;
                break;
            }
        }
        *e = *moved;
    }
    h->count--;
    h->entries.len--;
    return 1;
}

const mp_block_t *
mp_heap_find(const mp_heap_t *h, uintptr_t ptr)
{
    size_t slot = lookup(h, ptr);
    if (slot == SIZE_MAX) {
        return NULL;
    }
    return entry_at(h, h->index[slot] - 1);
}

void
mp_heap_clear(mp_heap_t *h)
{
    for (size_t pos = 0; pos < h->count; pos++) {
        filter_add(h, entry_at(h, (uint32_t)pos)->ptr, -1);
    }
    /* Give the table's memory back: after clear_traces() a program that held millions of blocks
     * should not keep paying for them. The filter keeps its fixed size. */
    mp_alloc_release(h->index, h->capacity * sizeof(uint32_t));
    mp_vec_destroy(&h->entries);
    mp_vec_init(&h->entries, sizeof(mp_block_t));
    h->index = NULL;
    h->capacity = 0;
    h->count = 0;
    h->live_bytes = 0;
    h->peak_bytes = 0;
}

size_t
mp_heap_copy(const mp_heap_t *h, mp_block_t *out, size_t max)
{
    size_t n = h->count < max ? h->count : max;
    /* The entries are dense: one memcpy per segment of the array. */
    for (size_t pos = 0; pos < n;) {
        size_t run = mp_vec_run(&h->entries, (uint32_t)pos);
        if (run > n - pos) {
            run = n - pos;
        }
        memcpy(&out[pos], entry_at(h, (uint32_t)pos), run * sizeof(mp_block_t));
        pos += run;
    }
    return n;
}
