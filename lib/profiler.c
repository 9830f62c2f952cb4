#include "profiler.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "mixed.h"
#include "mprofile/mprofile.h"

_Static_assert(MPROFILE_MAX_FRAMES + MP_MAX_NATIVE_FRAMES < MP_STACK_MAX_DEPTH,
               "a mixed stack fits in MP_STACK_MAX_DEPTH");

/* The benchmarks' variants of the library (lib/CMakeLists.txt) leave out the stack walk, or the
 * block kept in the table, or both. */
#ifdef MP_PART_NO_WALK
#define WALK_STACKS 0
#else
#define WALK_STACKS 1
#endif
#ifdef MP_PART_NO_TABLE
#define KEEP_BLOCKS 0
#else
#define KEEP_BLOCKS 1
#endif

mp_profiler_t mp_profiler = {
    .lock = MP_BIASLOCK_INITIALIZER,
};

static int
intern_unknown_frame(mp_profiler_t *P)
{
    int64_t unknown = mp_stacks_frame(&P->stacks, "<unknown>", 9, 0);
    if (unknown < 0) {
        return -1;
    }
    P->unknown_frame = (uint32_t)unknown;
    return 0;
}

int
mp_profiler_init(void)
{
    mp_profiler_t *P = &mp_profiler;
    mp_alloc_set_budget(P->config.max_memory ? P->config.max_memory : MP_DEFAULT_MAX_MEMORY);
    mp_biaslock_enable(); /* without it, the lock is a plain mutex */
    if (mp_stacks_init(&P->stacks) < 0 || mp_heap_init(&P->heap) < 0) {
        return -1;
    }
    /* Optional: without it every frame of every sample is made as on a miss. */
    mp_framecache_init(&P->framecache, &P->heap);
    P->frame_ids = mp_alloc_zeroed((MPROFILE_MAX_FRAMES + 1) * sizeof(uint32_t));
    P->mixed_ids = mp_alloc_zeroed(MP_STACK_MAX_DEPTH * sizeof(uint32_t));
    mp_objects_init(&P->objects);
    mp_peak_init(&P->peak);
    mp_timeline_init(&P->timeline);
    P->growth_next = P->config.dump_growth;
    if (P->frame_ids == NULL || P->mixed_ids == NULL || intern_unknown_frame(P) < 0) {
        return -1;
    }
    return 0;
}

/* Nonzero from the moment the calling thread starts taking the lock until it has released it:
 * unlike the owner field, it also covers the instants inside pthread_mutex_lock and
 * pthread_mutex_unlock, where a signal handler that allocates on this thread would otherwise
 * wait for the lock its own thread holds. */
static __thread int lock_depth __attribute__((tls_model("initial-exec")));
/* Holds minus unholds of the calling thread (mp_profiler_hold_requests). */
static __thread int requests_held __attribute__((tls_model("initial-exec")));
/* The calling thread holds the lock through mp_profiler_trylock: a context that must not wait
 * (signal handler, _exit), which the deferred work is told about. */
static __thread int tried_hold __attribute__((tls_model("initial-exec")));

void
mp_profiler_lock(void)
{
    lock_depth++;
    mp_biaslock_lock(&mp_profiler.lock);
    atomic_store_explicit(&mp_profiler.owner, pthread_self(), memory_order_relaxed);
}

/* Slow path: the lock for a short section (a sample, a free), through this thread's bias if it
 * has it (biaslock.h). */
static void
lock_briefly(void)
{
    lock_depth++;
    mp_biaslock_lock_biased(&mp_profiler.lock);
    atomic_store_explicit(&mp_profiler.owner, pthread_self(), memory_order_relaxed);
}

/* Runs the deferred work if some was asked for (the lock is not held by this thread). */
static void
run_deferred(int nonblocking)
{
    if (atomic_load_explicit(&mp_profiler.deferred, memory_order_relaxed) &&
        mp_profiler.deferred_fn != NULL && requests_held == 0 &&
        atomic_exchange(&mp_profiler.deferred, 0)) {
        /* The program's errno survives the snapshot written here (files, renames): the thread
         * came here from an allocation or a free, which must not change it. */
        int saved_errno = errno;
        mp_profiler.deferred_fn(nonblocking);
        errno = saved_errno;
    }
}

void
mp_profiler_hold_requests(int delta)
{
    requests_held += delta;
    if (delta < 0 && requests_held == 0 && lock_depth == 0) {
        run_deferred(0); /* what arrived while the requests were held (a termination) */
    }
}

int
mp_profiler_held_here(void)
{
    return lock_depth > 0;
}

void
mp_profiler_unlock_in_child(void)
{
    atomic_store_explicit(&mp_profiler.owner, (pthread_t)0, memory_order_relaxed);
    mp_biaslock_unlock_in_child(&mp_profiler.lock);
    lock_depth = 0;
    tried_hold = 0;
}

void
mp_profiler_unlock(void)
{
    atomic_store_explicit(&mp_profiler.owner, (pthread_t)0, memory_order_relaxed);
    int nonblocking = tried_hold;
    tried_hold = 0;
    mp_biaslock_unlock(&mp_profiler.lock);
    lock_depth--;
    /* Pairs with the store in mp_profiler_defer(), made before that context tried the lock:
     * either it sees the lock free, or this thread sees its request. Through the mutex, glibc's
     * unlock on x86-64 is a locked exchange, a full barrier already; through the bias, the
     * context whose try failed had called membarrier after its request (biaslock.h). An mfence
     * on every sampled allocation of exact mode would be paid for nothing. */
#if defined(__x86_64__)
    atomic_signal_fence(memory_order_seq_cst);
#else
    atomic_thread_fence(memory_order_seq_cst);
#endif
    run_deferred(nonblocking);
}

int
mp_profiler_trylock(void)
{
    /* Only this thread ever stores its own id here, so reading it back is exact. lock_depth
     * also covers the instants inside this thread's lock and unlock calls, where the owner is
     * not set yet or any more: this thread's own unlock serves whatever is deferred now. */
    if (lock_depth > 0 ||
        pthread_equal(atomic_load_explicit(&mp_profiler.owner, memory_order_relaxed),
                      pthread_self())) {
        return -EDEADLK;
    }
    lock_depth++;
    if (mp_biaslock_trylock(&mp_profiler.lock) != 0) {
        lock_depth--;
        return -EBUSY;
    }
    atomic_store_explicit(&mp_profiler.owner, pthread_self(), memory_order_relaxed);
    tried_hold = 1;
    return 0;
}

void
mp_profiler_set_deferred(void (*fn)(int nonblocking))
{
    mp_profiler.deferred_fn = fn;
}

void
mp_profiler_defer(void)
{
    atomic_store(&mp_profiler.deferred, 1);
}

/* Under the lock: names frame id after code's co_qualname (docs/format.md, "Function names").
 * A name that cannot be read or stored leaves the frame unnamed: readers then show its line. */
static void
name_frame(mp_profiler_t *P, uint32_t id, const void *code)
{
    const char *name;
    size_t len;
    if (mp_pyapi_qualname(&P->api, code, P->name_scratch, sizeof(P->name_scratch), &name, &len) ==
        0) {
        mp_stacks_name_frame(&P->stacks, id, name, len);
    }
}

/* Under the lock, on the sampling slow path, for a (code object, offset) the cache has not
 * seen: its frame (the line from CPython, the file name from the code object), named after the
 * code object's function and then cached. Returns the frame id, or -1 when out of memory. */
static int64_t
make_frame(mp_profiler_t *P, const mp_pyframe_t *f)
{
    int line = mp_pyapi_code_line(&P->api, f->code, f->offset);
    const char *file;
    size_t len;
    mp_pyapi_filename(&P->api, f->code, P->name_scratch, sizeof(P->name_scratch), &file, &len);
    int64_t id = mp_stacks_frame(&P->stacks, file, len, (uint32_t)line);
    if (id < 0) {
        return -1;
    }
    name_frame(P, (uint32_t)id, f->code);
    mp_framecache_put(&P->framecache, f->code, f->offset, (uint32_t)id);
    return id;
}

/* Under the lock, on the sampling slow path: the frame id of f, from the cache, or made on a
 * miss; -1 when out of memory. */
static int64_t
frame_of(mp_profiler_t *P, const mp_pyframe_t *f)
{
    int64_t id = mp_framecache_get(&P->framecache, f->code, f->offset);
    return id >= 0 ? id : make_frame(P, f);
}

/* Under the lock, on the sampling slow path: the frame ids of the n frames walked (newest
 * first) into P->frame_ids, from the cache, or made on a miss. Functions are named once per
 * (code object, offset), when its frame is made: two code objects on one line each get their
 * say, and a hit costs nothing more. Every frame the cache hands out was made (and named) on a
 * miss, since only made frames are cached and reset_stacks empties the cache with the frames.
 *
 * The oldest frames of a stack change little between two samples (the caller of the caller is
 * the same): those whose (code object, offset) equal the previous walk's, counted from the
 * oldest, take its frame ids without a lookup. That walk's code objects were all pinned by the
 * cache then; while none has been unpinned since, none can have died and been replaced at its
 * address, so its triples still hold (reset_stacks clears the cache, which unpins). A walk
 * whose own lookups unpinned anything (a full code table is cleared) is not kept. Returns 0, or
 * -1 when out of memory. */
static int
intern_frames(mp_profiler_t *P, const mp_pyframe_t *frames, int n)
{
    mp_walked_frame_t *last = P->last_walk;
    uint64_t unpinned = P->framecache.unpinned;
    int same = 0;
    if (last != NULL && P->last_walk_unpinned == unpinned && mp_framecache_on(&P->framecache)) {
        int shared = n < P->last_walk_n ? n : P->last_walk_n;
        while (same < shared && frames[n - 1 - same].code == last[same].code &&
               frames[n - 1 - same].offset == last[same].offset) {
            P->frame_ids[n - 1 - same] = last[same].frame;
            same++;
        }
    }
    for (int k = same; k < n; k++) {
        const mp_pyframe_t *f = &frames[n - 1 - k];
        int64_t id = frame_of(P, f);
        if (id < 0) {
            P->last_walk_n = 0;
            return -1;
        }
        P->frame_ids[n - 1 - k] = (uint32_t)id;
        if (last != NULL) {
            last[k] = (mp_walked_frame_t){f->code, f->offset, (uint32_t)id};
        }
    }
    P->last_walk_n = P->framecache.unpinned == unpinned ? n : 0;
    P->last_walk_unpinned = P->framecache.unpinned;
    return 0;
}

static double
unix_time(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static uint64_t
coarse_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* Samples at rates under this many bytes read the clock for the timeline once in
 * CLOCK_SKIPS + 1: exact mode takes millions of samples a second, and the clock read was 2% of
 * its time, where the timeline's finest spacing is 10 ms. */
#define CLOCK_EVERY_SAMPLE_RATE 4096
#define CLOCK_SKIPS             31

/*
 * Under the lock, after a sampled block went into the table: a new peak copy, a growth
 * snapshot asked for, and whether the timeline wants a point (taken once the lock is released:
 * it reads a file). Costs one comparison per feature on most samples.
 */
static int
after_insert(mp_profiler_t *P, uint64_t rate)
{
    uint64_t live = P->heap.live_bytes;
    if (P->config.peak && mp_peak_due(&P->peak, live)) {
        /* A copy that finds no memory keeps the previous one: only at MPROFILE_MAX_MEMORY,
         * whose line and memory_budget_reached say so already (docs/format.md). */
        mp_peak_take(&P->peak, &P->heap, unix_time());
    }
    if (P->config.dump_growth != 0 && live >= P->growth_next) {
        P->growth_next = live + P->config.dump_growth;
        atomic_store(&P->growth_requested, 1);
        mp_profiler_defer(); /* written by this thread as it unlocks */
    }
    if (rate < CLOCK_EVERY_SAMPLE_RATE && P->clock_skips++ < CLOCK_SKIPS) {
        return 0;
    }
    P->clock_skips = 0;
    uint64_t now = coarse_ns();
    if (!mp_timeline_due(&P->timeline, now)) {
        return 0;
    }
    P->timeline.last_ns = now; /* claimed: other threads wait for the next spacing */
    return 1;
}

/* The resident set size, from /proc/self/statm; 0 when it cannot be read. Any context (system
 * calls only). The descriptor lives for three system calls, at the lowest free number: a
 * program thread that forks or reuses descriptors at that instant could meet it, so the
 * sampling path reads it at most once a second (mp_profiler_timeline_point). */
static uint64_t
read_rss(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    char buf[128];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    /* "size resident shared ...", in pages */
    const char *at = buf;
    while (*at != ' ' && *at != '\0') {
        at++;
    }
    uint64_t pages = 0;
    for (at++; *at >= '0' && *at <= '9'; at++) {
        pages = pages * 10 + (uint64_t)(*at - '0');
    }
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The last RSS read and when (coarse monotonic ns). */
static _Atomic uint64_t rss_known, rss_known_ns;

static uint64_t
rss_bytes(int fresh)
{
    uint64_t now = coarse_ns();
    uint64_t last = atomic_load_explicit(&rss_known_ns, memory_order_relaxed);
    if (fresh || last == 0 || now - last >= 1000000000u) {
        atomic_store_explicit(&rss_known_ns, now, memory_order_relaxed);
        atomic_store_explicit(&rss_known, read_rss(), memory_order_relaxed);
    }
    return atomic_load_explicit(&rss_known, memory_order_relaxed);
}

void
mp_profiler_timeline_point(int fresh_rss)
{
    mp_profiler_t *P = &mp_profiler;
    mp_timeline_point_t point = {.time = unix_time(), .rss_bytes = rss_bytes(fresh_rss)};
    lock_briefly();
    point.live_bytes = P->heap.live_bytes;
    point.peak_bytes = P->heap.peak_bytes;
    mp_timeline_add(&P->timeline, coarse_ns(), &point);
    mp_profiler_unlock();
}

void
mp_profiler_reset_peak(void)
{
    mp_profiler_t *P = &mp_profiler;
    mp_profiler_lock();
    P->heap.peak_bytes = P->heap.live_bytes;
    if (P->config.peak) {
        mp_peak_reset(&P->peak, &P->heap, unix_time());
    }
    mp_profiler_unlock();
}

static void
count_drop(void)
{
    mp_profiler_t *P = &mp_profiler;
    atomic_fetch_add_explicit(&P->dropped, 1, memory_order_relaxed);
    if (mp_alloc_budget_reached() != 0 && !atomic_exchange(&P->budget_reported, 1)) {
        mp_log(MP_LOG_WARN,
               "the profiler's tables reached MPROFILE_MAX_MEMORY (%llu KiB); new samples are "
               "dropped and counted in the snapshots",
               (unsigned long long)(mp_alloc_budget() >> 10));
    }
}

/* Under the lock: room for n walked frames (MPROFILE_FRAMES can grow with mprofile.start()). */
static int
reserve_pyframes(mp_profiler_t *P, int n)
{
    mp_pyframe_t *frames = mp_alloc_zeroed((size_t)n * sizeof(mp_pyframe_t));
    mp_walked_frame_t *walked = mp_alloc_zeroed((size_t)n * sizeof(mp_walked_frame_t));
    if (frames == NULL || walked == NULL) {
        mp_alloc_release(frames, (size_t)n * sizeof(mp_pyframe_t));
        mp_alloc_release(walked, (size_t)n * sizeof(mp_walked_frame_t));
        return -1;
    }
    mp_alloc_release(P->pyframes, (size_t)P->pyframes_cap * sizeof(mp_pyframe_t));
    mp_alloc_release(P->last_walk, (size_t)P->pyframes_cap * sizeof(mp_walked_frame_t));
    P->pyframes = frames;
    P->last_walk = walked;
    P->last_walk_n = 0;
    P->pyframes_cap = n;
    return 0;
}

void
mp_profiler_native_stack(mp_native_stack_t *ns)
{
    ns->n = 0;
    ns->stack_lo = ns->stack_hi = 0;
    mp_profiler_t *P = &mp_profiler;
    if (!atomic_load_explicit(&P->mixed, memory_order_relaxed) || mp_unwind_enter() < 0) {
        return;
    }
    mp_objects_scan_t scan;
    if (mp_objects_poll(&P->objects, &scan) > 0) {
        mp_profiler_lock();
        mp_objects_apply(&P->objects, &scan); /* on failure, the next sample tries again */
        mp_profiler_unlock();
        mp_objects_scan_release(&scan);
    }
    if (atomic_load_explicit(&P->objects.reused, memory_order_relaxed)) {
        /* libunwind's per-thread caches cannot be flushed, and may now describe other code. */
        if (!atomic_exchange(&P->reuse_reported, 1)) {
            mp_log(MP_LOG_WARN, "MPROFILE_STACKS=mixed: a library was loaded where an unloaded "
                                "one had been; native frames are no longer recorded");
        }
    } else {
        ns->n = mp_unwind_capture(ns->pcs, MP_UNWIND_MAX);
        if (mp_unwind_thread_stack(&ns->stack_lo, &ns->stack_hi) < 0) {
            ns->stack_lo = ns->stack_hi = 0; /* nothing is read: the calls stay unplaced */
        }
    }
    mp_unwind_leave();
}

/* Under the lock: the native frame of a return address. */
static int64_t
native_frame(mp_profiler_t *P, uintptr_t pc)
{
    uint32_t object = mp_objects_find(&P->objects, pc - 1);
    uint64_t offset = 0;
    if (object != MP_OBJECTS_NONE) {
        offset = pc - mp_objects_at(&P->objects, object)->bias;
        if (offset > UINT32_MAX) {
            object = MP_OBJECTS_NONE;
            offset = 0;
        }
    }
    return mp_stacks_native_frame(&P->stacks, object, (uint32_t)offset);
}

/*
 * Under the lock: the mixed stack of the calling thread into P->mixed_ids, from the native
 * stack taken before and the Python frames walked now (mixed.h). Returns the frame count, or -1
 * when out of memory; *total is tracemalloc's total_nframe (every frame, before any cut).
 */
static int
mixed_stack(mp_profiler_t *P, int max_frames, const mp_native_stack_t *ns, int *total)
{
    int n = 0, ngroups = 0;
    int py_total = mp_pyapi_walk_groups(&P->api, max_frames, P->pyframes, &n, P->anchors,
                                        MP_UNWIND_MAX, &ngroups);
    if (intern_frames(P, P->pyframes, n) < 0) {
        return -1;
    }
    mp_mixed_place(ns->pcs, ns->n, P->anchors, ngroups, ns->stack_lo, ns->stack_hi, P->evals);
    int nitems = mp_mixed_order(ns->n, P->evals, ngroups, P->config.native_frames,
                                py_total > n, P->items, 2 * MP_UNWIND_MAX);
    int count = 0, next_py = 0;
    for (int i = 0; i < nitems; i++) {
        const mp_mixed_item_t *item = &P->items[i];
        if (item->group >= 0) {
            while (next_py < n && (int)P->pyframes[next_py].group <= item->group) {
                P->mixed_ids[count++] = P->frame_ids[next_py++];
            }
            continue;
        }
        int64_t id = native_frame(P, ns->pcs[item->native]);
        if (id < 0) {
            return -1;
        }
        P->mixed_ids[count++] = (uint32_t)id;
    }
    /* Frames of groups past the anchors' room: the oldest, where no native frame is left. */
    while (next_py < n) {
        P->mixed_ids[count++] = P->frame_ids[next_py++];
    }
    int cut = py_total - n;
    *total = count + cut > MPROFILE_MAX_FRAMES ? MPROFILE_MAX_FRAMES : count + cut;
    return count;
}

/* Out of line: the native stack's room is taken on the thread's stack only in mixed mode. */
__attribute__((noinline)) static void
record_mixed(unsigned origin, uintptr_t key, size_t size, uint64_t rate)
{
    mp_native_stack_t ns;
    mp_profiler_native_stack(&ns);
    mp_profiler_record_with(origin, key, size, rate, &ns);
}

void
mp_profiler_record(unsigned origin, uintptr_t key, size_t size, uint64_t rate)
{
    if (atomic_load_explicit(&mp_profiler.mixed, memory_order_relaxed)) {
        record_mixed(origin, key, size, rate);
    } else {
        mp_profiler_record_with(origin, key, size, rate, NULL);
    }
}

void
mp_profiler_record_with(unsigned origin, uintptr_t key, size_t size, uint64_t rate,
                        mp_native_stack_t *ns)
{
    mp_profiler_t *P = &mp_profiler;
    int max_frames = atomic_load_explicit(&P->max_frames, memory_order_relaxed);
    mp_block_t block = {
        .ptr = key,
        .weight = mp_sampler_weight(size, rate),
        .origin = (uint8_t)origin,
    };

    int saved_errno = errno;
    lock_briefly();
    mp_heap_prefetch(&P->heap, key); /* its misses overlap with the walk */
    if (P->pyframes_cap < max_frames && reserve_pyframes(P, max_frames) < 0) {
        mp_profiler_unlock();
        count_drop();
        errno = saved_errno;
        return;
    }
    int n = 0, total = 0, failed = 0;
    const uint32_t *ids = P->frame_ids;
    if (ns != NULL && atomic_load_explicit(&P->mixed, memory_order_relaxed)) {
        n = mixed_stack(P, max_frames, ns, &total);
        failed = n < 0;
        ids = P->mixed_ids;
    } else if (WALK_STACKS) {
        total = mp_pyapi_walk(&P->api, max_frames, P->pyframes, &n);
        failed = intern_frames(P, P->pyframes, n) < 0;
    }
    if (n == 0) {
        /* No frame at all (a thread without Python state, start-up, shutdown): tracemalloc's
         * ("<unknown>", 0) with one frame in all. */
        P->frame_ids[0] = P->unknown_frame;
        ids = P->frame_ids;
        n = 1;
        total = 1;
    }
    int64_t node = failed ? -1 : mp_stacks_intern(&P->stacks, ids, (uint32_t)n);
    int rc = -1, timeline = 0;
    if (node >= 0) {
        block.node = (uint32_t)node;
        block.total_nframe = (uint16_t)total;
        rc = KEEP_BLOCKS ? mp_heap_insert(&P->heap, &block) : 0;
        if (rc == 0) {
            timeline = after_insert(P, rate);
            /* Only changed under the lock: a plain store, where an atomic add after the unlock
             * cost 3% of exact mode's time. Readers load it atomically. */
            atomic_store_explicit(&P->samples,
                                  atomic_load_explicit(&P->samples, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
        }
    }
    mp_profiler_unlock();

    if (rc < 0) {
        count_drop();
    }
    if (timeline) {
        mp_profiler_timeline_point(0);
    }
    errno = saved_errno;
}

int
mp_profiler_tracked_origin(unsigned domain)
{
    mp_profiler_t *P = &mp_profiler;
    int n = atomic_load_explicit(&P->tracked_count, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        if (P->tracked_domains[i] == domain) {
            return MP_ORIGIN_TRACKED + i;
        }
    }
    mp_profiler_lock();
    n = atomic_load_explicit(&P->tracked_count, memory_order_relaxed);
    int found = -1;
    for (int i = 0; i < n && found < 0; i++) {
        if (P->tracked_domains[i] == domain) {
            found = MP_ORIGIN_TRACKED + i;
        }
    }
    if (found < 0 && n < MP_ORIGINS - MP_ORIGIN_TRACKED) {
        P->tracked_domains[n] = domain;
        atomic_store_explicit(&P->tracked_count, n + 1, memory_order_release);
        found = MP_ORIGIN_TRACKED + n;
    }
    mp_profiler_unlock();
    return found;
}

int
mp_profiler_move(uintptr_t from, unsigned from_origin, uintptr_t to, unsigned origin,
                 size_t from_size, size_t to_size)
{
    int saved_errno = errno;
    lock_briefly();
    mp_block_t block;
    int found = mp_heap_find(&mp_profiler.heap, from, &block) && block.origin == from_origin &&
                mp_heap_remove(&mp_profiler.heap, from, &block);
    int rc = 0, timeline = 0;
    if (found) {
        block.ptr = to;
        block.origin = (uint8_t)origin;
        if (from_size != to_size && from_size != 0) {
            block.weight = (uint64_t)((double)block.weight * (double)to_size / (double)from_size);
        }
        rc = mp_heap_insert(&mp_profiler.heap, &block);
        if (rc == 0) {
            /* A block that grew may make a peak, or be due a timeline point (which after_insert
             * has claimed: it is taken here, as on a sample). */
            timeline = after_insert(&mp_profiler, atomic_load_explicit(&mp_profiler.rate,
                                                                       memory_order_relaxed));
        }
    }
    mp_profiler_unlock();
    if (rc < 0) {
        count_drop();
    }
    if (timeline) {
        mp_profiler_timeline_point(0);
    }
    errno = saved_errno;
    return found;
}

int
mp_profiler_forget(const void *ptr, mp_forgotten_t *saved)
{
    int saved_errno = errno;
    lock_briefly();
    int found = mp_heap_remove(&mp_profiler.heap, (uintptr_t)ptr,
                               saved != NULL ? &saved->block : NULL);
    if (saved != NULL) {
        saved->generation = mp_profiler.generation;
    }
    /* A code object being freed (itself sampled or not): its cached frames go. */
    mp_framecache_forget(&mp_profiler.framecache, ptr);
    mp_profiler_unlock();
    errno = saved_errno;
    return found;
}

void
mp_profiler_restore(const mp_forgotten_t *saved)
{
    int saved_errno = errno; /* the failed realloc's */
    lock_briefly();
    int rc = saved->generation == mp_profiler.generation
                 ? mp_heap_insert(&mp_profiler.heap, &saved->block)
                 : 0; /* cleared in between: the block is forgotten like the others */
    mp_profiler_unlock();
    if (rc < 0) {
        count_drop();
    }
    errno = saved_errno;
}

/* Under the lock, with no capture in flight and no live block: strings, frames and stacks
 * start over. The new tables are made before the old ones go, so a failure keeps the old. */
static void
reset_stacks(mp_profiler_t *P)
{
    mp_stacks_t fresh;
    int64_t unknown = -1;
    if (mp_stacks_init(&fresh) == 0) {
        unknown = mp_stacks_frame(&fresh, "<unknown>", 9, 0);
    }
    if (unknown < 0) {
        mp_stacks_destroy(&fresh);
        return;
    }
    mp_stacks_destroy(&P->stacks);
    P->stacks = fresh;
    /* The cached frame ids are the old stacks'. Emptied, the cache makes every new frame on a
     * miss, where it is named: each code object on a line shared by two functions gets its say
     * again, not only the first that runs (docs/format.md, "Function names"). */
    mp_framecache_clear(&P->framecache);
    P->unknown_frame = (uint32_t)unknown;
    P->generation++;
}

void
mp_profiler_clear(void)
{
    mp_profiler_t *P = &mp_profiler;
    /* A snapshot being written reads the stacks without the lock. Captures are short-lived, so
     * wait a little for them (they never wait for this thread); if one outlasts that, the
     * stacks are kept until the next clear. */
    for (int i = 0; i < 2000 && atomic_load(&P->captures_in_flight) > 0; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    mp_profiler_lock();
    mp_heap_clear(&P->heap);
    mp_peak_reset(&P->peak, &P->heap, unix_time());
    P->growth_next = P->config.dump_growth;
    if (atomic_load(&P->captures_in_flight) == 0) {
        reset_stacks(P);
    }
    mp_alloc_budget_rearm();
    atomic_store(&P->budget_reported, 0);
    mp_profiler_unlock();
}

uint64_t
mp_profiler_memory(void)
{
    /* The free-path bitmap lives in the heap struct, not in memory from alloc.c. */
    return mp_alloc_in_use() + sizeof(mp_profiler.heap.bits);
}

static int
take_lock(int nonblocking)
{
    if (nonblocking) {
        return mp_profiler_trylock();
    }
    mp_profiler_lock();
    return 0;
}

/* Dump writer (any context): scratch memory only. */
static void
release_scratch(mp_capture_t *c)
{
    mp_alloc_release_scratch(c->blocks, c->bytes);
    mp_alloc_release_scratch(c->peak_blocks, c->peak_room);
    c->blocks = c->peak_blocks = NULL;
    c->bytes = c->peak_room = 0;
}

/* Dump writer (any context): scratch room for live and peak entries (the peak only when
 * peak_count is not 0). */
static int
map_scratch(mp_capture_t *c, size_t live_count, size_t peak_count)
{
    c->bytes = (live_count + live_count / 8 + 64) * sizeof(mp_block_t);
    c->blocks = mp_alloc_scratch(c->bytes);
    if (peak_count > 0) {
        c->peak_room = peak_count * sizeof(mp_block_t);
        c->peak_blocks = mp_alloc_scratch(c->peak_room);
    }
    if (c->blocks == NULL || (peak_count > 0 && c->peak_blocks == NULL)) {
        release_scratch(c);
        return -ENOMEM;
    }
    return 0;
}

int
mp_profiler_capture(mp_capture_t *c, int flags)
{
    mp_profiler_t *P = &mp_profiler;
    int nonblocking = (flags & MP_CAPTURE_NONBLOCKING) != 0;
    memset(c, 0, sizeof(*c));
    mp_snapshot_meta_t *meta = &c->meta;
    meta->sample_rate = atomic_load(&P->rate);
    meta->traceback_limit = atomic_load(&P->max_frames);
    meta->pid = getpid();
    meta->python_version = P->python_version[0] ? P->python_version : NULL;
    meta->time = unix_time();
    c->timeline = mp_alloc_scratch(sizeof(P->timeline.points));
    if (c->timeline == NULL) {
        return -ENOMEM;
    }

    /* Map the copy's memory before taking the lock, so that the lock is held for the copy
     * alone; if the tables grew past the room in the meantime, try again with more. The peak
     * copy only changes under the lock, and its size is known exactly. */
    int rc = take_lock(nonblocking);
    if (rc < 0) {
        mp_alloc_release_scratch(c->timeline, sizeof(P->timeline.points));
        return rc;
    }
    int want_peak = (flags & MP_CAPTURE_PEAK) && P->config.peak && P->peak.time > 0;
    size_t count = (flags & MP_CAPTURE_LIVE) ? P->heap.count : 0;
    size_t peak_count = want_peak ? P->peak.n + P->peak.n / 8 + 64 : 0;
    mp_profiler_unlock();
    for (int attempt = 0;; attempt++) {
        if (map_scratch(c, count, peak_count) < 0) { /* peak_count includes its headroom */
            if (flags & MP_CAPTURE_SERVES_REQUESTS) {
                atomic_store(&P->dump_requested, 0); /* not retried at every unlock */
            }
            mp_alloc_release_scratch(c->timeline, sizeof(P->timeline.points));
            return -ENOMEM;
        }
        rc = take_lock(nonblocking);
        if (rc < 0) {
            release_scratch(c);
            mp_alloc_release_scratch(c->timeline, sizeof(P->timeline.points));
            return rc;
        }
        size_t live_needed = (flags & MP_CAPTURE_LIVE) ? P->heap.count : 0;
        size_t peak_needed = want_peak ? P->peak.n : 0;
        if ((live_needed * sizeof(mp_block_t) <= c->bytes && peak_needed <= peak_count) ||
            attempt == 3) {
            break;
        }
        count = live_needed;
        peak_count = peak_needed + peak_needed / 8 + 64;
        mp_profiler_unlock();
        release_scratch(c);
    }
    if (flags & MP_CAPTURE_LIVE) {
        c->n = mp_heap_copy(&P->heap, c->blocks, c->bytes / sizeof(mp_block_t));
    }
    if (c->peak_blocks != NULL) {
        c->peak_n = P->peak.n < peak_count ? P->peak.n : peak_count;
        memcpy(c->peak_blocks, P->peak.blocks, c->peak_n * sizeof(mp_block_t));
        meta->peak_bytes_at_copy = P->peak.bytes;
    }
    if (flags & MP_CAPTURE_SERVES_REQUESTS) {
        /* This snapshot serves every signal request made until now. */
        atomic_store(&P->dump_requested, 0);
    }
    c->extent = mp_stacks_extent(&P->stacks);
    meta->tracked_domains = P->tracked_domains;
    meta->tracked_count = (unsigned)atomic_load(&P->tracked_count);
    if (atomic_load_explicit(&P->mixed, memory_order_relaxed)) {
        meta->objects = &P->objects;
        meta->objects_count = P->objects.objects.len;
    }
    meta->live_bytes = P->heap.live_bytes;
    meta->peak_bytes = P->heap.peak_bytes;
    meta->peak_time = P->config.peak ? P->peak.time : 0;
    memcpy(c->timeline, P->timeline.points, (size_t)P->timeline.n * sizeof(mp_timeline_point_t));
    meta->timeline = c->timeline;
    meta->timeline_count = P->timeline.n;
    atomic_fetch_add(&P->captures_in_flight, 1);
    mp_profiler_unlock();

    meta->dropped_samples = atomic_load(&P->dropped);
    meta->samples = atomic_load(&P->samples);
    meta->dump_failures = atomic_load(&P->dump_failures);
    meta->profiler_memory = mp_profiler_memory();
    meta->memory_budget = mp_alloc_budget();
    int64_t reached = mp_alloc_budget_reached();
    meta->memory_budget_reached = reached != 0 ? (double)reached / 1e9 : -1.0;
    return 0;
}

void
mp_profiler_peak_meta(const mp_capture_t *c, mp_snapshot_meta_t *out)
{
    *out = c->meta;
    out->is_peak = 1;
    out->live_bytes = c->meta.peak_bytes_at_copy;
}

void
mp_profiler_release(mp_capture_t *c)
{
    release_scratch(c);
    mp_alloc_release_scratch(c->timeline, sizeof(mp_profiler.timeline.points));
    c->timeline = NULL;
    atomic_fetch_sub(&mp_profiler.captures_in_flight, 1);
}

int
mp_profiler_hooks_on_top(void)
{
    for (int d = 0; d < MP_DOMAINS; d++) {
        mp_allocator_t current;
        mp_profiler.api.PyMem_GetAllocator(d, &current);
        if (current.free != mp_profiler.hook_free) {
            return 0;
        }
    }
    return 1;
}
