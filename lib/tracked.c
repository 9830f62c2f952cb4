#include "tracked.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hooks.h"
#include "profiler.h"
#include "relocs.h"

static int (*real_track)(unsigned int domain, uintptr_t ptr, size_t size);
static int (*real_untrack)(unsigned int domain, uintptr_t ptr);

static int
maybe_sampled(uintptr_t key)
{
    return mp_heap_maybe_sampled_bit(mp_profiler.heap.bits, (const void *)key);
}

/*
 * Slow path (busy raised). A Track replaces the trace the address may have in that domain, as
 * in tracemalloc, then decides afresh. When the native layer has just allocated this block on
 * this thread (numpy: malloc, then Track), its decision stands: a sampled native block moves
 * into the tracked domain, weighted for the tracked size, and nothing is sampled twice. A block
 * the native layer did not just allocate (native heap off, or numpy handing out a buffer from
 * its own cache) is sampled here, on the thread's countdown.
 */
static void
track(unsigned int domain, uintptr_t ptr, size_t size, uintptr_t last_native)
{
    int origin = mp_profiler_tracked_origin(domain);
    if (origin < 0) {
        return; /* more domains than origins: not recorded (docs/design.md) */
    }
    uintptr_t key = mp_heap_key(ptr, (unsigned)origin);
    if (maybe_sampled(key)) {
        mp_profiler_forget((const void *)key, NULL);
    }
    mp_thread_t *t = &mp_thread;
    if (last_native == ptr && ptr != 0) {
        if (t->last_sampled == ptr && maybe_sampled(ptr)) {
            mp_profiler_move(ptr, MP_ORIGIN_NATIVE, key, (unsigned)origin, t->last_sampled_size,
                             size);
        }
        return;
    }
    if (mp_sampler_tick(&t->sampler, size)) {
        uint64_t rate = mp_hooks_resolve();
        if (rate != 0) {
            mp_profiler_record((unsigned)origin, key, size, rate);
        }
    }
}

/* Reached through the callers' GOT slots: any thread, with or without the GIL (tracemalloc's
 * own function takes it). */
static int
hook_track(unsigned int domain, uintptr_t ptr, size_t size)
{
    /* Read first: tracemalloc's own function may allocate before returning. */
    mp_thread_t *t = &mp_thread;
    uintptr_t last_native = t->last_native;
    t->last_native = 0;
    int rc = real_track(domain, ptr, size);
    if (atomic_load_explicit(&mp_profiler.active, memory_order_relaxed) && !t->busy) {
        int saved_errno = errno;
        t->busy = 1;
        track(domain, ptr, size, last_native);
        t->busy = 0;
        errno = saved_errno;
    }
    return rc;
}

static int
hook_untrack(unsigned int domain, uintptr_t ptr)
{
    int rc = real_untrack(domain, ptr);
    mp_thread_t *t = &mp_thread;
    int n = atomic_load_explicit(&mp_profiler.tracked_count, memory_order_acquire);
    if (!atomic_load_explicit(&mp_profiler.active, memory_order_relaxed) || t->busy || n == 0) {
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (mp_profiler.tracked_domains[i] == domain) {
            uintptr_t key = mp_heap_key(ptr, (unsigned)(MP_ORIGIN_TRACKED + i));
            if (maybe_sampled(key)) {
                t->busy = 1;
                mp_profiler_forget((const void *)key, NULL);
                t->busy = 0;
            }
            break;
        }
    }
    return rc;
}

int
mp_tracked_install(void)
{
    static int installed;
    if (installed) {
        return 0;
    }
    mp_reloc_hook_t hooks[] = {
        {"PyTraceMalloc_Track", (void *)hook_track, (void **)&real_track, NULL, NULL},
        {"PyTraceMalloc_Untrack", (void *)hook_untrack, (void **)&real_untrack, NULL, NULL},
    };
    if (mp_relocs_install(hooks, 2) < 0 || real_track == NULL || real_untrack == NULL) {
        return -1;
    }
    installed = 1;
    return 0;
}
