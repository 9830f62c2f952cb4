/*
 * A growable array whose elements never move. Segment k holds 2^(k + MP_VEC_BASE_SHIFT)
 * elements, so the array grows without copying, and a reader that learned the length under the
 * profiler's lock can keep reading elements below it after the lock is released (the dump
 * thread does that while the program goes on allocating).
 */
#ifndef MP_VEC_H
#define MP_VEC_H

#include <stddef.h>
#include <stdint.h>

#define MP_VEC_BASE_SHIFT 8
#define MP_VEC_SEGMENTS   24

typedef struct {
    size_t elem_size;
    uint32_t len;
    char *segments[MP_VEC_SEGMENTS];
} mp_vec_t;

void mp_vec_init(mp_vec_t *v, size_t elem_size);
void mp_vec_destroy(mp_vec_t *v);

/* Appends a zeroed element; returns its index, or -1 when out of memory. Caller serialises. */
int64_t mp_vec_push(mp_vec_t *v);

/* Address of element i (i < len). */
static inline void *
mp_vec_at(const mp_vec_t *v, uint32_t i)
{
    uint64_t biased = (uint64_t)i + ((uint64_t)1 << MP_VEC_BASE_SHIFT);
    int top = 63 - __builtin_clzll(biased);
    int seg = top - MP_VEC_BASE_SHIFT;
    uint64_t offset = biased - ((uint64_t)1 << top);
    return v->segments[seg] + offset * v->elem_size;
}

/* How many elements from i on share i's segment (contiguous in memory). */
static inline size_t
mp_vec_run(const mp_vec_t *v, uint32_t i)
{
    (void)v;
    uint64_t biased = (uint64_t)i + ((uint64_t)1 << MP_VEC_BASE_SHIFT);
    int top = 63 - __builtin_clzll(biased);
    return (size_t)(((uint64_t)1 << (top + 1)) - biased);
}

#endif
