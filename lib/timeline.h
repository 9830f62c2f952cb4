/*
 * The memory timeline: a small ring of (time, estimated live bytes, estimated peak, RSS) points
 * kept in every snapshot (docs/format.md, "timeline"), so that one file says how memory moved.
 *
 * Points are taken on sampled allocations no closer than a spacing apart (and at every interval
 * snapshot). When the ring is full it is thinned: of every two neighbouring points the one with
 * more live bytes stays, and the spacing doubles. The points therefore always cover the whole
 * run, at most MP_TIMELINE_POINTS of them, at a resolution that halves as the run doubles, and
 * no high point is lost to the thinning.
 *
 * Pure: the caller passes the clocks and RSS, and holds the profiler's lock.
 */
#ifndef MP_TIMELINE_H
#define MP_TIMELINE_H

#include <stdint.h>

#define MP_TIMELINE_POINTS 512
/* The first spacing: 10 ms, so that a program's first seconds are seen in detail. */
#define MP_TIMELINE_FIRST_SPACING_NS 10000000ull

typedef struct {
    double time;         /* Unix time */
    uint64_t live_bytes; /* the profiler's estimate */
    uint64_t peak_bytes;
    uint64_t rss_bytes;  /* resident set of the process; 0 when unknown */
} mp_timeline_point_t;

typedef struct {
    mp_timeline_point_t points[MP_TIMELINE_POINTS];
    int n;
    uint64_t spacing_ns;
    uint64_t last_ns; /* monotonic time of the last point */
} mp_timeline_t;

void mp_timeline_init(mp_timeline_t *t);

/* Whether a sample at monotonic time now_ns should add a point. */
static inline int
mp_timeline_due(const mp_timeline_t *t, uint64_t now_ns)
{
    return t->n == 0 || now_ns - t->last_ns >= t->spacing_ns;
}

/* Adds a point taken at monotonic time now_ns, thinning the ring first when it is full. */
void mp_timeline_add(mp_timeline_t *t, uint64_t now_ns, const mp_timeline_point_t *point);

#endif
