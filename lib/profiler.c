#include "profiler.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "mprofile/mprofile.h"
#include "snapshot.h"

mp_profiler_t mp_profiler = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

int
mp_profiler_init(void)
{
    mp_profiler_t *P = &mp_profiler;
    if (mp_stacks_init(&P->stacks) < 0 || mp_heap_init(&P->heap) < 0) {
        return -1;
    }
    mp_linecache_init(&P->lines, &P->heap); /* optional: without it every frame asks CPython */
    P->frame_ids = mp_alloc_zeroed((MPROFILE_MAX_FRAMES + 1) * sizeof(uint32_t));
    int64_t unknown = mp_stacks_frame(&P->stacks, "<unknown>", 9, 0);
    if (P->frame_ids == NULL || unknown < 0) {
        return -1;
    }
    P->unknown_frame = (uint32_t)unknown;
    return 0;
}

typedef struct {
    uint32_t n;
    int failed;
} walk_state_t;

static int
add_frame(void *ctx, const char *filename, size_t len, unsigned lineno)
{
    walk_state_t *w = ctx;
    int64_t id = mp_stacks_frame(&mp_profiler.stacks, filename, len, lineno);
    if (id < 0) {
        w->failed = 1;
        return -1;
    }
    mp_profiler.frame_ids[w->n++] = (uint32_t)id;
    return 0;
}

void
mp_profiler_record(int domain, void *ptr, size_t size, uint64_t rate)
{
    mp_profiler_t *P = &mp_profiler;
    int max_frames = atomic_load_explicit(&P->max_frames, memory_order_relaxed);
    mp_block_t block = {
        .ptr = (uintptr_t)ptr,
        .weight = mp_sampler_weight(size, rate),
        .domain = (uint8_t)domain,
    };

    pthread_mutex_lock(&P->lock);
    walk_state_t w = {0, 0};
    int total = mp_pyapi_walk_cached(&P->api, max_frames, add_frame, &w, P->name_scratch,
                                     sizeof(P->name_scratch), &P->lines);
    if (w.n == 0 && !w.failed) {
        /* No Python frame (a thread without Python state, start-up, shutdown): tracemalloc's
         * ("<unknown>", 0) with one frame in all. */
        P->frame_ids[w.n++] = P->unknown_frame;
        total = 1;
    }
    int64_t node = w.failed ? -1 : mp_stacks_intern(&P->stacks, P->frame_ids, w.n);
    int rc = -1;
    if (node >= 0) {
        block.node = (uint32_t)node;
        block.total_nframe = (uint16_t)total;
        rc = mp_heap_insert(&P->heap, &block);
    }
    pthread_mutex_unlock(&P->lock);

    if (rc < 0) {
        atomic_fetch_add_explicit(&P->dropped, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&P->samples, 1, memory_order_relaxed);
    }
}

int
mp_profiler_forget(const void *ptr, mp_block_t *saved)
{
    pthread_mutex_lock(&mp_profiler.lock);
    int found = mp_heap_remove(&mp_profiler.heap, (uintptr_t)ptr, saved);
    /* A code object being freed (itself sampled or not): its cached lines go. */
    mp_linecache_forget(&mp_profiler.lines, ptr);
    pthread_mutex_unlock(&mp_profiler.lock);
    return found;
}

void
mp_profiler_restore(const mp_block_t *block)
{
    pthread_mutex_lock(&mp_profiler.lock);
    int rc = mp_heap_insert(&mp_profiler.heap, block);
    pthread_mutex_unlock(&mp_profiler.lock);
    if (rc < 0) {
        atomic_fetch_add_explicit(&mp_profiler.dropped, 1, memory_order_relaxed);
    }
}

void
mp_profiler_clear(void)
{
    pthread_mutex_lock(&mp_profiler.lock);
    mp_heap_clear(&mp_profiler.heap);
    pthread_mutex_unlock(&mp_profiler.lock);
}

uint64_t
mp_profiler_memory(void)
{
    /* The free-path bitmap lives in the heap struct, not in memory from alloc.c. */
    return mp_alloc_in_use() + sizeof(mp_profiler.heap.bits);
}

int
mp_profiler_write_snapshot(mp_pickle_t *p)
{
    mp_profiler_t *P = &mp_profiler;
    mp_snapshot_meta_t meta = {
        .sample_rate = atomic_load(&P->rate),
        .traceback_limit = atomic_load(&P->max_frames),
        .pid = getpid(),
        .python_version = P->python_version[0] ? P->python_version : NULL,
    };
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    meta.time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;

    /* Copy the live table under the lock; build the document without it. */
    pthread_mutex_lock(&P->lock);
    size_t capacity = P->heap.count + 1;
    size_t bytes = capacity * sizeof(mp_block_t);
    mp_block_t *blocks = mp_alloc_zeroed(bytes);
    size_t n = blocks != NULL ? mp_heap_copy(&P->heap, blocks, capacity) : 0;
    mp_stacks_extent_t extent = mp_stacks_extent(&P->stacks);
    meta.live_bytes = P->heap.live_bytes;
    meta.peak_bytes = P->heap.peak_bytes;
    pthread_mutex_unlock(&P->lock);
    if (blocks == NULL) {
        return -ENOMEM;
    }
    meta.dropped_samples = atomic_load(&P->dropped);
    meta.samples = atomic_load(&P->samples);
    meta.profiler_memory = mp_profiler_memory();

    int rc = mp_snapshot_write(p, &P->stacks, extent, blocks, n, &meta);
    mp_alloc_release(blocks, bytes);
    return rc;
}
