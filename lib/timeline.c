#include "timeline.h"

#include <string.h>

void
mp_timeline_init(mp_timeline_t *t)
{
    memset(t, 0, sizeof(*t));
    t->spacing_ns = MP_TIMELINE_FIRST_SPACING_NS;
}

/* Keeps the higher of every two neighbours (the first point, the start, always stays). */
static void
thin(mp_timeline_t *t)
{
    int kept = 1;
    for (int i = 1; i < t->n; i += 2) {
        const mp_timeline_point_t *a = &t->points[i];
        const mp_timeline_point_t *b = i + 1 < t->n ? &t->points[i + 1] : a;
        t->points[kept++] = b->live_bytes > a->live_bytes ? *b : *a;
    }
    t->n = kept;
    t->spacing_ns *= 2;
}

void
mp_timeline_add(mp_timeline_t *t, uint64_t now_ns, const mp_timeline_point_t *point)
{
    if (t->n == MP_TIMELINE_POINTS) {
        thin(t);
    }
    t->points[t->n++] = *point;
    t->last_ns = now_ns;
}
