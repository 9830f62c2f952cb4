/*
 * Snapshots: the live sampled blocks written as a pickle that tracemalloc.Snapshot.load()
 * opens on every supported Python. The document is a tracemalloc.Snapshot whose state holds a
 * tracemalloc._Traces of raw traces (domain, size, frames, total_nframe), frames newest first,
 * plus metadata keys that become attributes (see docs/format.md). File names, frames and whole
 * stacks are memoized, so each is written once however many blocks share it.
 */
#ifndef MP_SNAPSHOT_H
#define MP_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "objects.h"
#include "pickle.h"
#include "stacks.h"
#include "timeline.h"

/* What asked for a snapshot (its "trigger" metadata). */
typedef enum {
    MP_TRIGGER_API = 0,   /* mprofile_dump(), mprofile.dump(), take_snapshot() */
    MP_TRIGGER_EXIT,      /* the process exits */
    MP_TRIGGER_SIGNAL,    /* MPROFILE_SIGNAL */
    MP_TRIGGER_TERMINATE, /* SIGTERM or SIGHUP would end the process */
    MP_TRIGGER_INTERVAL,  /* MPROFILE_INTERVAL */
    MP_TRIGGER_GROWTH,    /* MPROFILE_DUMP_GROWTH */
    MP_TRIGGERS
} mp_trigger_t;

/* "api", "exit", ...: the metadata's spelling. */
const char *mp_snapshot_trigger_name(mp_trigger_t trigger);

typedef struct {
    uint64_t sample_rate;
    int traceback_limit;
    int64_t pid;
    double time;
    const char *python_version; /* may be NULL */
    uint64_t live_bytes;
    uint64_t peak_bytes;
    uint64_t dropped_samples;
    uint64_t profiler_memory;
    uint64_t samples;
    uint64_t dump_failures;
    uint64_t memory_budget;       /* MPROFILE_MAX_MEMORY, bytes */
    double memory_budget_reached; /* unix time the budget first refused memory; < 0: never */
    /* The domains of tracked blocks, by origin - MP_ORIGIN_TRACKED (heap.h); the blocks'
     * origins are below MP_ORIGIN_TRACKED + tracked_count. */
    const unsigned *tracked_domains;
    unsigned tracked_count;
    /* Mixed stacks: the loaded objects native frames refer to, the first objects_count of them
     * (taken under the lock). NULL with Python stacks. */
    const mp_objects_t *objects;
    uint32_t objects_count;
    mp_trigger_t trigger;
    int is_peak;      /* the blocks are the peak's copy (peak.h), live_bytes the peak's */
    double peak_time; /* Unix time the peak was copied; 0: no copy (MPROFILE_PEAK=0) */
    uint64_t peak_bytes_at_copy; /* the live estimate when the peak was copied */
    const mp_timeline_point_t *timeline;
    int timeline_count;
} mp_snapshot_meta_t;

/* The tracemalloc domain a block of this origin is written in. */
unsigned mp_snapshot_domain(const mp_snapshot_meta_t *meta, unsigned origin);

/*
 * Writes the snapshot of blocks[0..n-1] into p (opened, not finished). The blocks' stacks must
 * lie within extent (taken under the lock when the blocks were copied), so this can run
 * without the lock while other threads add stacks. Its scratch memory comes from
 * mp_alloc_scratch, so it may run in any context (signal handlers and _exit included).
 * Returns 0 or -errno (p's own errors are reported by mp_pickle_finish).
 */
int mp_snapshot_write(mp_pickle_t *p, const mp_stacks_t *stacks, mp_stacks_extent_t extent,
                      const mp_block_t *blocks, size_t n, const mp_snapshot_meta_t *meta);

#endif
