#include "framecache.h"

#include <string.h>

#include "alloc.h"
#include "index.h"

#define CODES   (1u << MP_FRAMECACHE_CODES_BITS)
#define ENTRIES (1u << MP_FRAMECACHE_ENTRIES_BITS)

int
mp_framecache_init(mp_framecache_t *c, mp_heap_t *heap)
{
    memset(c, 0, sizeof(*c));
    c->heap = heap;
    c->codes = mp_alloc_zeroed(CODES * sizeof(mp_framecache_code_t));
    c->entries = mp_alloc_zeroed(ENTRIES * sizeof(mp_framecache_entry_t));
    if (c->codes == NULL || c->entries == NULL) {
        mp_framecache_destroy(c);
        return -1;
    }
    return 0;
}

void
mp_framecache_destroy(mp_framecache_t *c)
{
    mp_alloc_release(c->codes, CODES * sizeof(mp_framecache_code_t));
    mp_alloc_release(c->entries, ENTRIES * sizeof(mp_framecache_entry_t));
    c->codes = NULL;
    c->entries = NULL;
}

static size_t
code_home(uintptr_t code)
{
    return mp_hash_u64(code) & (CODES - 1);
}

/* The slot of code in the code table, or SIZE_MAX. */
static size_t
code_slot(const mp_framecache_t *c, uintptr_t code)
{
    for (size_t i = code_home(code);; i = (i + 1) & (CODES - 1)) {
        if (c->codes[i].code == code) {
            return i;
        }
        if (c->codes[i].code == 0) {
            return SIZE_MAX;
        }
    }
}

static size_t
entry_slot(uintptr_t code, int offset)
{
    return mp_hash_u64(code ^ ((uint64_t)(uint32_t)offset << 40)) & (ENTRIES - 1);
}

int64_t
mp_framecache_get(const mp_framecache_t *c, const void *code, int offset)
{
    if (c->entries == NULL) {
        return -1;
    }
    const mp_framecache_entry_t *e = &c->entries[entry_slot((uintptr_t)code, offset)];
    const mp_framecache_code_t *k = &c->codes[e->code_at];
    if (e->gen == 0 || k->gen != e->gen || k->code != (uintptr_t)code || e->offset != offset) {
        return -1;
    }
    return e->frame;
}

void
mp_framecache_clear(mp_framecache_t *c)
{
    if (c->codes == NULL) {
        return;
    }
    for (size_t i = 0; i < CODES; i++) {
        if (c->codes[i].code != 0) {
            mp_heap_pin(c->heap, c->codes[i].code, -1);
        }
    }
    memset(c->codes, 0, CODES * sizeof(mp_framecache_code_t));
    c->ncodes = 0;
    c->unpinned++;
    /* Entries are left in place: their generations match no code object any more. */
}

void
mp_framecache_put(mp_framecache_t *c, const void *code, int offset, uint32_t frame)
{
    if (c->entries == NULL || code == NULL) {
        return;
    }
    uintptr_t key = (uintptr_t)code;
    size_t slot = code_slot(c, key);
    if (slot == SIZE_MAX) {
        if (c->ncodes + 1 > CODES / 2) {
            mp_framecache_clear(c);
        }
        if (++c->gen == 0) {
            /* 2^32 code objects later: start over so that no old entry can match. */
            memset(c->entries, 0, ENTRIES * sizeof(mp_framecache_entry_t));
            mp_framecache_clear(c);
            c->gen = 1;
        }
        for (slot = code_home(key); c->codes[slot].code != 0; slot = (slot + 1) & (CODES - 1)) {
        }
        c->codes[slot] = (mp_framecache_code_t){key, c->gen};
        c->ncodes++;
        mp_heap_pin(c->heap, key, 1);
    }
    c->entries[entry_slot(key, offset)] =
        (mp_framecache_entry_t){c->codes[slot].gen, (uint32_t)slot, offset, frame};
}

void
mp_framecache_forget(mp_framecache_t *c, const void *ptr)
{
    /* A cached code object holds its filter bit up (pinned): a clear bit answers without a
     * probe of the code table, which was a cache miss on every sampled free of exact mode. */
    if (c->codes == NULL || c->ncodes == 0 || !mp_heap_maybe_sampled_bit(c->heap->bits, ptr)) {
        return;
    }
    size_t hole = code_slot(c, (uintptr_t)ptr);
    if (hole == SIZE_MAX) {
        return;
    }
    mp_heap_pin(c->heap, (uintptr_t)ptr, -1);
    c->ncodes--;
    c->unpinned++;
    /* Backward shift, as in heap.c. */
    size_t mask = CODES - 1;
    for (size_t i = (hole + 1) & mask; c->codes[i].code != 0; i = (i + 1) & mask) {
        size_t home = code_home(c->codes[i].code);
        int home_after_hole = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!home_after_hole) {
            c->codes[hole] = c->codes[i];
            hole = i;
        }
    }
    c->codes[hole] = (mp_framecache_code_t){0, 0};
}
