/*
 * The profiler's shared state and the slow paths: recording a sampled block, forgetting a
 * freed one, and capturing the live table for a snapshot.
 *
 * The slow paths leave errno as they found it: they run inside the program's malloc and free.
 *
 * One lock (mp_profiler.lock) guards the tables. It is taken on sampled allocations, frees that
 * pass the filter, API calls and the capture step of a dump, never on the unsampled hot path,
 * and never held across anything that can wait for the program (no Python call, no libc lock,
 * no I/O). Contexts that must not wait (signal handlers, _exit) only try it: see
 * mp_profiler_trylock(). Whoever unlocks runs the work those contexts deferred
 * (mp_profiler_set_deferred()), so a request made while the lock was busy is served as soon as
 * it is free, by a thread that was in the profiler anyway.
 *
 * The lock is biased (biaslock.h): the thread that takes it most (the one holding the GIL, in
 * exact mode) takes and releases it for a sample or a free without an atomic instruction; any
 * other hold revokes that bias.
 */
#ifndef MP_PROFILER_H
#define MP_PROFILER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "biaslock.h"
#include "config.h"
#include "framecache.h"
#include "heap.h"
#include "mixed.h"
#include "objects.h"
#include "peak.h"
#include "pickle.h"
#include "pyapi.h"
#include "sampler.h"
#include "snapshot.h"
#include "stacks.h"
#include "timeline.h"
#include "unwind.h"

/* Bytes a thread allocates between checks while sampling is off. */
#define MP_IDLE_RECHECK_BYTES (1 << 20)

/* A frame of a walk and its frame id (profiler.c, intern_frames). */
typedef struct {
    const void *code;
    int32_t offset;
    uint32_t frame;
} mp_walked_frame_t;

typedef struct {
    mp_biaslock_t lock;
    _Atomic pthread_t owner; /* holder of lock, 0 when free: tells a signal handler "it is you" */
    mp_config_t config;
    mp_pyapi_t api;
    char python_version[32];

    atomic_int active;       /* hooks installed and tables ready */
    atomic_int enabled;      /* sampling (mprofile_start/stop) */
    _Atomic uint64_t rate;   /* bytes between samples; 1 = exact */
    atomic_int max_frames;
    atomic_int mixed;        /* MPROFILE_STACKS=mixed, with libunwind loaded */

    /* Under lock. */
    mp_stacks_t stacks;
    mp_heap_t heap;
    mp_framecache_t framecache; /* the frames of the (code, offset) pairs seen (may be off) */
    mp_pyframe_t *pyframes; /* scratch: the frames of the stack being recorded */
    int pyframes_cap;
    /* The previous walk's frames, oldest first, pyframes_cap of room (profiler.c,
     * intern_frames): last_walk_n of them are good while framecache.unpinned equals
     * last_walk_unpinned. */
    mp_walked_frame_t *last_walk;
    int last_walk_n;
    uint64_t last_walk_unpinned;
    uint32_t *frame_ids;    /* scratch: the frame ids of the stack being recorded */
    mp_objects_t objects;   /* the loaded objects, for native frames */
    uint32_t *mixed_ids;    /* scratch: a mixed stack's frame ids */
    uintptr_t anchors[MP_UNWIND_MAX];          /* scratch: mixed.h */
    int evals[MP_UNWIND_MAX];
    mp_mixed_item_t items[2 * MP_UNWIND_MAX];
    uint32_t unknown_frame;
    char name_scratch[4096];
    mp_peak_t peak;         /* MPROFILE_PEAK: the live set at its high-water mark (peak.h) */
    mp_timeline_t timeline; /* memory over time (timeline.h) */
    uint64_t growth_next;   /* MPROFILE_DUMP_GROWTH: the live estimate that asks for a snapshot */
    uint32_t clock_skips;   /* samples since the clock was last read (profiler.c, after_insert) */

    /* Captures being written without the lock: the stacks they read must not be reset. */
    atomic_int captures_in_flight;
    atomic_int deferred; /* work for the next unlock (mp_profiler_defer) */
    void (*deferred_fn)(int nonblocking);
    /* A signal snapshot is asked for (sigdump.c): cleared under the lock by the snapshot that
     * serves it, so that requests made until then are served by it. */
    atomic_int dump_requested;
    atomic_int growth_requested; /* MPROFILE_DUMP_GROWTH passed: a snapshot is due */
    void (*hook_free)(void *ctx, void *ptr); /* the hooks' free: tells them apart from others' */
    atomic_int budget_reported;
    atomic_int reuse_reported; /* the warning of objects.h's "reused", once */
    /* The domains passed to PyTraceMalloc_Track, by origin - MP_ORIGIN_TRACKED. Append-only
     * (added under lock, read without it), so a snapshot can read it after its capture. */
    unsigned tracked_domains[MP_ORIGINS - MP_ORIGIN_TRACKED];
    atomic_int tracked_count;
    uint64_t generation; /* under lock: how many times the stacks were started over */

    _Atomic uint64_t samples;
    _Atomic uint64_t dropped;
    _Atomic uint64_t dumps;
    _Atomic uint64_t dump_failures;
    _Atomic uint64_t thread_seq; /* seeds per-thread samplers */
} mp_profiler_t;

extern mp_profiler_t mp_profiler;

/* Allocates the tables. Returns 0, or -1 when out of memory. Constructor or API (GIL held). */
int mp_profiler_init(void);

/* The lock, for every normal context (slow path, API, dump writer outside signal handlers,
 * the fork prepare handler), through its mutex: the slow path's short sections take it through
 * the bias instead (profiler.c). Unlocking runs the deferred work. */
void mp_profiler_lock(void);
void mp_profiler_unlock(void);

/* Fork child handler: releases the lock the fork's prepare handler took on this thread. */
void mp_profiler_unlock_in_child(void);

/* Any context: takes the lock if it is free. Returns 0, -EBUSY, or -EDEADLK when the calling
 * thread holds it already (a signal handler that interrupted the profiler). */
int mp_profiler_trylock(void);

/* Registers the work to run at the next unlock once mp_profiler.deferred is set. Constructor.
 * The flag is cleared before fn runs: fn finds what to do in its own flags, and whatever it
 * cannot do now it asks for again with mp_profiler_defer(). fn runs in the unlocking thread's
 * context: with nonblocking, the lock had been taken by mp_profiler_trylock (a signal handler,
 * _exit), and fn must only try it; otherwise a normal context (slow path, API, fork parent). */
void mp_profiler_set_deferred(void (*fn)(int nonblocking));

/* Any context: asks for the deferred work. */
void mp_profiler_defer(void);

/* Any context: whether the calling thread holds the lock (a C library function that allocates
 * while the profiler runs, a signal handler that interrupted it). */
int mp_profiler_held_here(void);

/* The calling thread's unlocks leave the deferred work to others while holds > unholds: for a
 * thread that holds a lock of its own (native_maps.c), which a snapshot written now would keep
 * everyone else waiting on. Slow path. */
void mp_profiler_hold_requests(int delta);

/* The native part of a sampled allocation's stack (mixed stacks), taken before any lock. */
typedef struct {
    uintptr_t pcs[MP_UNWIND_MAX]; /* return addresses, newest first */
    int n;
    uintptr_t stack_lo, stack_hi; /* the thread's stack: where the merge may read */
} mp_native_stack_t;

/* Slow path, with no lock held (the unwinder and the object list may take the loader's): the
 * calling thread's native stack in mixed mode; nothing otherwise. The object list is brought
 * up to date first (it takes the profiler's lock then), so that return addresses are only
 * unwound while libunwind's caches can be trusted (objects.h, "reused"). */
void mp_profiler_native_stack(mp_native_stack_t *ns);

/* Slow path: records a sampled block of size bytes under key (mp_heap_key), from origin (an
 * allocator domain or MP_ORIGIN_*), with the caller's stack. */
void mp_profiler_record(unsigned origin, uintptr_t key, size_t size, uint64_t rate);

/* Slow path: mp_profiler_record with the native stack taken before (NULL: Python frames only),
 * for a caller that holds a lock of its own by now. */
void mp_profiler_record_with(unsigned origin, uintptr_t key, size_t size, uint64_t rate,
                             mp_native_stack_t *ns);

/* Slow path: the origin of a PyTraceMalloc_Track domain, numbered on first sight; -1 once
 * MP_ORIGINS - MP_ORIGIN_TRACKED domains are numbered. */
int mp_profiler_tracked_origin(unsigned domain);

/* Slow path: the sampled block under from, if it has the origin from_origin, becomes a block
 * under key to, of origin, standing for to_size bytes where it was sampled as from_size: its
 * weight is scaled by to_size / from_size, which keeps the estimate unbiased. Returns 1 if a
 * block moved. */
int mp_profiler_move(uintptr_t from, unsigned from_origin, uintptr_t to, unsigned origin,
                     size_t from_size, size_t to_size);

/* A block taken out of the table by a realloc, to put back if the realloc fails. */
typedef struct {
    mp_block_t block;
    uint64_t generation; /* of the tables its stack id belongs to */
} mp_forgotten_t;

/* Slow path: removes the block at ptr, if sampled. Returns 1 and fills *saved (if not NULL)
 * if it was. */
int mp_profiler_forget(const void *ptr, mp_forgotten_t *saved);

/* Slow path: puts back a block that mp_profiler_forget removed (a realloc that failed), unless
 * clear_traces() started the tables over in between (its stack id would mean nothing). */
void mp_profiler_restore(const mp_forgotten_t *saved);

/* API: forgets every block, resets the peak, and gives the tables' memory back (strings,
 * frames and stacks too, unless a snapshot is being written from them right now). */
void mp_profiler_clear(void);

/* The live blocks and metadata of one snapshot, copied under the lock, and the peak's. */
typedef struct {
    mp_block_t *blocks; /* scratch memory */
    size_t n;
    size_t bytes;
    mp_block_t *peak_blocks; /* scratch memory; NULL when the peak was not asked for */
    size_t peak_n;
    size_t peak_room; /* bytes of peak_blocks */
    mp_timeline_point_t *timeline; /* scratch memory, meta.timeline_count points */
    mp_stacks_extent_t extent;
    mp_snapshot_meta_t meta;
} mp_capture_t;

/* What mp_profiler_capture copies. */
#define MP_CAPTURE_LIVE 1
#define MP_CAPTURE_PEAK 2 /* only with MPROFILE_PEAK on and a peak copied */
#define MP_CAPTURE_NONBLOCKING 4 /* only try the lock (signal handlers, _exit) */
/* A snapshot under MPROFILE_OUT's names: the signal requests are cleared under the lock, since
 * this snapshot serves them. */
#define MP_CAPTURE_SERVES_REQUESTS 8

/*
 * Dump writer: copies the live blocks' entries (address, weight, stack id), those of the peak
 * and the metadata, as flags (MP_CAPTURE_*) ask. The lock is held for the copy only; the
 * scratch memory is mapped before it is taken. Returns 0 (release the capture with
 * mp_profiler_release once written), -EBUSY / -EDEADLK (see mp_profiler_trylock) or -ENOMEM.
 */
int mp_profiler_capture(mp_capture_t *c, int flags);

/* Dump writer (any context): the metadata of the peak snapshot of a capture made with
 * MP_CAPTURE_PEAK. */
void mp_profiler_peak_meta(const mp_capture_t *c, mp_snapshot_meta_t *out);
void mp_profiler_release(mp_capture_t *c);

/* API: the peak starts over from the current live set. */
void mp_profiler_reset_peak(void);

/* Slow path or interval thread: adds a point to the timeline now. RSS is read first, without
 * the lock: with fresh_rss (the interval thread) always, else at most once a second (the
 * sampling path: the last value in between). */
void mp_profiler_timeline_point(int fresh_rss);

/* Memory held by the profiler (tables, scratch, the free-path bitmap). Any context. */
uint64_t mp_profiler_memory(void);

/* Whether the hooks are still every domain's allocator (nobody replaced them). GIL held. */
int mp_profiler_hooks_on_top(void);

#endif
