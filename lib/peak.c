#include "peak.h"

#include <string.h>

#include "alloc.h"

void
mp_peak_init(mp_peak_t *p)
{
    memset(p, 0, sizeof(*p));
}

void
mp_peak_destroy(mp_peak_t *p)
{
    mp_alloc_release(p->blocks, p->capacity * sizeof(mp_block_t));
    memset(p, 0, sizeof(*p));
}

static uint64_t
threshold(uint64_t bytes)
{
    return bytes + bytes / MP_PEAK_MARGIN;
}

int
mp_peak_take(mp_peak_t *p, const mp_heap_t *h, double now)
{
    if (h->count > p->capacity) {
        /* Room for the growth the next copy needs at least, so that copies rarely remap. */
        size_t capacity = h->count + h->count / 4 + 64;
        mp_block_t *blocks = mp_alloc_zeroed(capacity * sizeof(mp_block_t));
        if (blocks == NULL) {
            p->failures++;
            p->next = threshold(h->live_bytes);
            return -1;
        }
        mp_alloc_release(p->blocks, p->capacity * sizeof(mp_block_t));
        p->blocks = blocks;
        p->capacity = capacity;
    }
    p->n = mp_heap_copy(h, p->blocks, p->capacity);
    p->bytes = h->live_bytes;
    p->time = now;
    p->next = threshold(h->live_bytes);
    return 0;
}

int
mp_peak_reset(mp_peak_t *p, const mp_heap_t *h, double now)
{
    if (h->count == 0) {
        /* Nothing to keep: give the copy's memory back (clear_traces()). */
        mp_alloc_release(p->blocks, p->capacity * sizeof(mp_block_t));
        p->blocks = NULL;
        p->capacity = 0;
    }
    return mp_peak_take(p, h, now);
}
