/*
 * The peak: a copy of the live sampled blocks taken when the estimated live bytes reach a new
 * high-water mark, so that a snapshot of "what was in memory at the peak" can be written at any
 * later time (docs/format.md, "Peak snapshots").
 *
 * Copying the table at every new maximum would copy it once per sample while memory grows.
 * Instead a copy is taken only when the estimate passes the last copy by a margin of
 * 1/MP_PEAK_MARGIN (6.25%): a program that grows from a to b bytes is copied about
 * log(b / a) / log(1 + 1/16) times, and the copies move about 17 times the table's final size
 * in all. The price is the bound on the peak snapshot's error: the copy was taken when the
 * estimate stood at no less than 16/17 of its highest value (it holds at least 94.1% of the
 * estimated peak bytes, and every block in it was live at that moment).
 *
 * Under the profiler's lock (slow path, API, dump writer's capture).
 */
#ifndef MP_PEAK_H
#define MP_PEAK_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"

#define MP_PEAK_MARGIN 16

typedef struct {
    mp_block_t *blocks; /* the copy (memory from alloc.h), n of them */
    size_t n;
    size_t capacity;    /* blocks room */
    uint64_t bytes;     /* the estimated live bytes when the copy was taken */
    double time;        /* Unix time of the copy; 0 before the first */
    uint64_t next;      /* the next copy is taken when the estimate passes this */
    uint64_t failures;  /* copies that found no memory (the previous copy stays) */
} mp_peak_t;

void mp_peak_init(mp_peak_t *p);
void mp_peak_destroy(mp_peak_t *p);

/* Whether the live estimate calls for a new copy: one comparison, on every sampled block. */
static inline int
mp_peak_due(const mp_peak_t *p, uint64_t live_bytes)
{
    return live_bytes > p->next;
}

/* Copies h's live blocks as the new peak, taken at time now. Returns 0, or -1 when out of memory
 * (counted; the previous copy stays, and the next attempt waits for the next margin). */
int mp_peak_take(mp_peak_t *p, const mp_heap_t *h, double now);

/* Starts the peak over from the current live set (reset_peak(), clear_traces()). */
int mp_peak_reset(mp_peak_t *p, const mp_heap_t *h, double now);

#endif
