/*
 * The profiler's shared state and the slow paths: recording a sampled block, forgetting a
 * freed one, and copying the live table for a snapshot. Everything here runs under one lock
 * (mp_profiler.lock), taken only on sampled allocations, frees that pass the filter, dumps and
 * API calls; the unsampled hot path in hooks.c never touches it.
 */
#ifndef MP_PROFILER_H
#define MP_PROFILER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "heap.h"
#include "linecache.h"
#include "pickle.h"
#include "pyapi.h"
#include "sampler.h"
#include "stacks.h"

/* Bytes a thread allocates between checks while sampling is off. */
#define MP_IDLE_RECHECK_BYTES (1 << 20)

typedef struct {
    pthread_mutex_t lock;
    mp_config_t config;
    mp_pyapi_t api;
    char python_version[32];

    atomic_int active;       /* hooks installed and tables ready */
    atomic_int enabled;      /* sampling (mprofile_start/stop) */
    _Atomic uint64_t rate;   /* bytes between samples; 1 = exact */
    atomic_int max_frames;

    /* Under lock. */
    mp_stacks_t stacks;
    mp_heap_t heap;
    mp_linecache_t lines; /* line numbers of the frames seen (off if it could not be mapped) */
    uint32_t *frame_ids; /* scratch: frame ids of the stack being recorded */
    uint32_t unknown_frame;
    char name_scratch[4096];

    _Atomic uint64_t samples;
    _Atomic uint64_t dropped;
    _Atomic uint64_t dumps;
    _Atomic uint64_t dump_failures;
    _Atomic uint64_t thread_seq; /* seeds per-thread samplers */
} mp_profiler_t;

extern mp_profiler_t mp_profiler;

/* Allocates the tables. Returns 0, or -1 when out of memory. */
int mp_profiler_init(void);

/* Records a sampled block of size bytes at ptr, allocated in domain, with the caller's stack. */
void mp_profiler_record(int domain, void *ptr, size_t size, uint64_t rate);

/* Removes the block at ptr, if sampled. Returns 1 and fills *saved if it was. */
int mp_profiler_forget(const void *ptr, mp_block_t *saved);

/* Puts back a block that mp_profiler_forget removed (a realloc that failed). */
void mp_profiler_restore(const mp_block_t *block);

/* Forgets every block and resets the peak. */
void mp_profiler_clear(void);

/* Writes a snapshot of the live blocks into p (opened). Returns 0 or -errno. */
int mp_profiler_write_snapshot(mp_pickle_t *p);

/* Memory held by the profiler's tables. */
uint64_t mp_profiler_memory(void);

#endif
