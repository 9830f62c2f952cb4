#include "heap.h"

#include <string.h>

#include "alloc.h"
#include "index.h"

#define INITIAL_CAPACITY 1024

int
mp_heap_init(mp_heap_t *h)
{
    memset(h, 0, sizeof(*h));
    /* The filter's pages are only touched where counters change, so most of it stays virtual. */
    h->filter = mp_alloc_zeroed(MP_HEAP_FILTER_SLOTS * sizeof(uint32_t));
    return h->filter != NULL ? 0 : -1;
}

void
mp_heap_destroy(mp_heap_t *h)
{
    mp_alloc_release(h->slots, h->capacity * sizeof(mp_block_t));
    mp_alloc_release(h->filter, MP_HEAP_FILTER_SLOTS * sizeof(uint32_t));
    memset(h, 0, sizeof(*h));
}

static size_t
home_slot(uintptr_t ptr, size_t capacity)
{
    return mp_hash_u64(ptr) & (capacity - 1);
}

static mp_block_t *
lookup(const mp_heap_t *h, uintptr_t ptr)
{
    if (h->capacity == 0 || ptr == 0) {
        return NULL;
    }
    size_t mask = h->capacity - 1;
    for (size_t i = home_slot(ptr, h->capacity);; i = (i + 1) & mask) {
        mp_block_t *b = &h->slots[i];
        if (b->ptr == ptr) {
            return b;
        }
        if (b->ptr == 0) {
            return NULL;
        }
    }
}

static void
place(mp_block_t *slots, size_t capacity, const mp_block_t *block)
{
    size_t mask = capacity - 1;
    size_t i = home_slot(block->ptr, capacity);
    while (slots[i].ptr != 0) {
        i = (i + 1) & mask;
    }
    slots[i] = *block;
}

static int
grow(mp_heap_t *h)
{
    size_t capacity = h->capacity ? h->capacity * 2 : INITIAL_CAPACITY;
    mp_block_t *slots = mp_alloc_zeroed(capacity * sizeof(*slots));
    if (slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < h->capacity; i++) {
        if (h->slots[i].ptr != 0) {
            place(slots, capacity, &h->slots[i]);
        }
    }
    mp_alloc_release(h->slots, h->capacity * sizeof(*slots));
    h->slots = slots;
    h->capacity = capacity;
    return 0;
}

static void
filter_add(mp_heap_t *h, uintptr_t ptr, int32_t delta)
{
    uint32_t *slot = &h->filter[mp_heap_filter_slot(ptr)];
    __atomic_store_n(slot, __atomic_load_n(slot, __ATOMIC_RELAXED) + (uint32_t)delta,
                     __ATOMIC_RELAXED);
}

int
mp_heap_insert(mp_heap_t *h, const mp_block_t *block)
{
    mp_block_t *old = lookup(h, block->ptr);
    if (old != NULL) {
        h->live_bytes -= old->weight;
        *old = *block;
    } else {
        /* Load at most 3/4: linear probing with backward-shift deletion copes well there. */
        if ((h->count + 1) * 4 > h->capacity * 3 && grow(h) < 0) {
            return -1;
        }
        place(h->slots, h->capacity, block);
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
    mp_block_t *b = lookup(h, ptr);
    if (b == NULL) {
        return 0;
    }
    if (out != NULL) {
        *out = *b;
    }
    h->live_bytes -= b->weight;
    h->count--;
    filter_add(h, ptr, -1);

    /* Backward shift: pull later entries of the probe run into the hole. */
    size_t mask = h->capacity - 1;
    size_t hole = (size_t)(b - h->slots);
    for (size_t i = (hole + 1) & mask; h->slots[i].ptr != 0; i = (i + 1) & mask) {
        size_t home = home_slot(h->slots[i].ptr, h->capacity);
        /* Move entry i into the hole unless its home lies cyclically in (hole, i]. */
        int home_after_hole = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!home_after_hole) {
            h->slots[hole] = h->slots[i];
            hole = i;
        }
    }
    memset(&h->slots[hole], 0, sizeof(mp_block_t));
    return 1;
}

const mp_block_t *
mp_heap_find(const mp_heap_t *h, uintptr_t ptr)
{
    return lookup(h, ptr);
}

void
mp_heap_clear(mp_heap_t *h)
{
    for (size_t i = 0; i < h->capacity; i++) {
        if (h->slots[i].ptr != 0) {
            filter_add(h, h->slots[i].ptr, -1);
        }
    }
    if (h->slots != NULL) {
        memset(h->slots, 0, h->capacity * sizeof(mp_block_t));
    }
    h->count = 0;
    h->live_bytes = 0;
    h->peak_bytes = 0;
}

size_t
mp_heap_copy(const mp_heap_t *h, mp_block_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < h->capacity && n < max; i++) {
        if (h->slots[i].ptr != 0) {
            out[n++] = h->slots[i];
        }
    }
    return n;
}

size_t
mp_heap_memory(const mp_heap_t *h)
{
    return h->capacity * sizeof(mp_block_t) + MP_HEAP_FILTER_SLOTS * sizeof(uint32_t);
}
