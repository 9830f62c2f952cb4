/*
 * The allocator hooks on CPython's RAW, MEM and OBJ domains: the hot path of the profiler.
 *
 * Unsampled allocation: subtract the size from the thread's countdown, test it, and call the
 * saved allocator (over CPython's stock allocators: on MEM and OBJ with the busy flag counted up
 * and down around the call, on RAW as a tail call). Free: one relaxed load from the heap
 * filter, then a tail call. Neither takes a lock, allocates, or calls Python. The thread-local
 * busy flag marks a thread that is inside a hook, so the allocations an allocator makes through
 * another domain (pymalloc asks RAW for big blocks and for its own bookkeeping) are not counted
 * twice, as in tracemalloc (see hooks.c).
 */
#ifndef MP_HOOKS_H
#define MP_HOOKS_H

#include "pyapi.h"
#include "sampler.h"

typedef struct {
    mp_sampler_t sampler;
    int busy; /* nonzero inside a hook or the profiler: allocations pass straight through */
    /* The native heap's last allocation on this thread, until a PyTraceMalloc_Track of it:
     * tells a tracked block the native layer has already decided on (see tracked.c). */
    uintptr_t last_native;
    uintptr_t last_sampled; /* the native layer's last sampled block on this thread */
    size_t last_sampled_size;
} mp_thread_t;

/* initial-exec: a plain %fs-relative access, no __tls_get_addr on the hot path. */
extern __thread mp_thread_t mp_thread __attribute__((tls_model("initial-exec")));

/* Installs the hooks on the three domains and the arena sentinel. Caller holds the GIL or runs
 * before the interpreter starts. */
void mp_hooks_install(void);

/* Slow path, once the calling thread's countdown ran out (mp_sampler_tick): whether the
 * allocation is sampled. Returns the rate it was sampled at, or 0. Re-arms the countdown. For
 * the other interposers too (tracked blocks, the native heap). */
uint64_t mp_hooks_resolve(void);

/* Called by the slow path when sampling is not enabled: parks the countdown. */
void mp_hooks_park_thread(void);

/* Re-arms the calling thread's countdown (after start, or in a forked child). */
void mp_hooks_reset_thread(void);

#endif
