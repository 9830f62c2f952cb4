#include "vec.h"

#include "alloc.h"

static size_t
segment_elems(int seg)
{
    return (size_t)1 << (seg + MP_VEC_BASE_SHIFT);
}

void
mp_vec_init(mp_vec_t *v, size_t elem_size)
{
    *v = (mp_vec_t){.elem_size = elem_size};
}

void
mp_vec_destroy(mp_vec_t *v)
{
    for (int seg = 0; seg < MP_VEC_SEGMENTS; seg++) {
        mp_alloc_release(v->segments[seg], segment_elems(seg) * v->elem_size);
    }
    mp_vec_init(v, v->elem_size);
}

int64_t
mp_vec_push(mp_vec_t *v)
{
    uint32_t i = v->len;
    uint64_t biased = (uint64_t)i + ((uint64_t)1 << MP_VEC_BASE_SHIFT);
    int seg = 63 - __builtin_clzll(biased) - MP_VEC_BASE_SHIFT;
    if (seg >= MP_VEC_SEGMENTS) {
        return -1;
    }
    if (v->segments[seg] == NULL) {
        v->segments[seg] = mp_alloc_zeroed(segment_elems(seg) * v->elem_size);
        if (v->segments[seg] == NULL) {
            return -1;
        }
    }
    /* The caller fills the element before it releases the profiler's lock; readers without the
     * lock only look below a length they read under it. */
    v->len = i + 1;
    return i;
}
