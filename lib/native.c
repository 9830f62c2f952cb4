#include "native.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "hooks.h"
#include "native_maps.h"
#include "profiler.h"
#include "relocs.h"

#define MP_LIKELY(x)   __builtin_expect(!!(x), 1)
#define MP_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* What the callers reached before: the C library's functions, or a sanitizer's. */
static struct {
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t nelem, size_t elsize);
    void *(*realloc)(void *ptr, size_t size);
    void *(*reallocarray)(void *ptr, size_t nelem, size_t elsize);
    void (*free)(void *ptr);
    int (*posix_memalign)(void **out, size_t alignment, size_t size);
    void *(*aligned_alloc)(size_t alignment, size_t size);
    void *(*memalign)(size_t alignment, size_t size);
    void *(*valloc)(size_t size);
    void *(*pvalloc)(size_t size);
} real;

static atomic_int installed;

int
mp_native_installed(void)
{
    return atomic_load_explicit(&installed, memory_order_relaxed);
}


/* Slow path: the countdown ran out on a native block of size bytes at p. */
__attribute__((noinline, cold)) static void
sample(mp_thread_t *t, void *p, size_t size)
{
    if (p == NULL || mp_profiler_held_here()) {
        return;
    }
    int saved_errno = errno; /* a successful malloc leaves errno as it was */
    t->busy = 1;
    uint64_t rate = mp_hooks_resolve();
    if (rate != 0) {
        mp_profiler_record(MP_ORIGIN_NATIVE, (uintptr_t)p, size, rate);
        t->last_sampled = (uintptr_t)p;
        t->last_sampled_size = size;
    }
    t->busy = 0;
    errno = saved_errno;
}

/* After the real allocation: remember it for a Track, and sample it if the countdown ran out.
 * Not for a thread that is busy (the block is PyMem's or the profiler's). */
static inline void *
allocated(mp_thread_t *t, void *p, size_t size, int fired)
{
    t->last_native = (uintptr_t)p;
    if (MP_UNLIKELY(fired)) {
        sample(t, p, size);
    }
    return p;
}

/* Slow path: a block that may be sampled is freed or moved. */
__attribute__((noinline)) static int
forget(void *p, mp_forgotten_t *saved)
{
    if (p == NULL || mp_profiler_held_here()) {
        return 0;
    }
    return mp_profiler_forget(p, saved); /* which leaves errno alone, as free() must */
}

static inline int
maybe_sampled(const void *p)
{
    return mp_heap_maybe_sampled_bit(mp_profiler.heap.bits, p);
}

static void *
native_malloc(size_t size)
{
    mp_thread_t *t = &mp_thread;
    if (MP_UNLIKELY(t->busy)) {
        return real.malloc(size);
    }
    int fired = mp_sampler_tick(&t->sampler, size);
    return allocated(t, real.malloc(size), size, fired);
}

static void *
native_calloc(size_t nelem, size_t elsize)
{
    mp_thread_t *t = &mp_thread;
    size_t size;
    if (MP_UNLIKELY(t->busy) || __builtin_mul_overflow(nelem, elsize, &size)) {
        return real.calloc(nelem, elsize); /* an overflow fails there, with errno */
    }
    int fired = mp_sampler_tick(&t->sampler, size);
    return allocated(t, real.calloc(nelem, elsize), size, fired);
}

static void
native_free(void *p)
{
    if (MP_UNLIKELY(maybe_sampled(p))) {
        forget(p, NULL);
    }
    real.free(p);
}

/* realloc is the free of the old block and the allocation of the new one. The old block is
 * forgotten before the call, so another thread cannot be handed its address while it is still
 * recorded, and put back if the call fails. realloc(p, 0) frees p and returns NULL. */
static void *
resize(void *p, size_t size, void *(*call)(void *, size_t, size_t), size_t nelem, size_t elsize)
{
    mp_thread_t *t = &mp_thread;
    mp_forgotten_t old;
    int had = MP_UNLIKELY(maybe_sampled(p)) && forget(p, &old);
    if (MP_UNLIKELY(t->busy)) {
        void *q = call(p, nelem, elsize);
        if (q == NULL && size != 0 && had) {
            mp_profiler_restore(&old);
        }
        return q;
    }
    int fired = mp_sampler_tick(&t->sampler, size);
    void *q = call(p, nelem, elsize);
    if (q == NULL && size != 0 && had) {
        mp_profiler_restore(&old);
    }
    return allocated(t, q, size, fired);
}

static void *
call_realloc(void *p, size_t size, size_t unused)
{
    (void)unused;
    return real.realloc(p, size);
}

static void *
call_reallocarray(void *p, size_t nelem, size_t elsize)
{
    return real.reallocarray(p, nelem, elsize);
}

static void *
native_realloc(void *p, size_t size)
{
    return resize(p, size, call_realloc, size, 0);
}

static void *
native_reallocarray(void *p, size_t nelem, size_t elsize)
{
    size_t size;
    if (__builtin_mul_overflow(nelem, elsize, &size)) {
        return real.reallocarray(p, nelem, elsize); /* fails there, with errno */
    }
    return resize(p, size, call_reallocarray, nelem, elsize);
}

static int
native_posix_memalign(void **out, size_t alignment, size_t size)
{
    mp_thread_t *t = &mp_thread;
    if (MP_UNLIKELY(t->busy)) {
        return real.posix_memalign(out, alignment, size);
    }
    int fired = mp_sampler_tick(&t->sampler, size);
    int rc = real.posix_memalign(out, alignment, size);
    allocated(t, rc == 0 ? *out : NULL, size, fired);
    return rc;
}

/* The aligned forms: the size asked for is what is counted (pvalloc's rounding to a page is
 * the allocator's, as malloc's own rounding is). */
#define ALIGNED(name, params, args, size)                                                         \
    static void *native_##name params                                                             \
    {                                                                                             \
        mp_thread_t *t = &mp_thread;                                                              \
        if (MP_UNLIKELY(t->busy)) {                                                               \
            return real.name args;                                                                \
        }                                                                                         \
        int fired = mp_sampler_tick(&t->sampler, size);                                           \
        return allocated(t, real.name args, size, fired);                                         \
    }
ALIGNED(aligned_alloc, (size_t alignment, size_t size), (alignment, size), size)
ALIGNED(memalign, (size_t alignment, size_t size), (alignment, size), size)
ALIGNED(valloc, (size_t size), (size), size)
ALIGNED(pvalloc, (size_t size), (size), size)

int
mp_native_install(void)
{
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer's runtime starts a thread by calling the C library, which frees memory
     * through the executable's canonical PLT entry, before the thread's sanitizer state exists:
     * no instrumented code may run there, and the native hooks would. The ThreadSanitizer
     * build has no native layer (docs/design.md, "Sanitizers"). */
    return -1;
#endif
    if (mp_native_installed()) {
        return 0;
    }
    mp_reloc_hook_t hooks[] = {
        {"malloc", (void *)native_malloc, (void **)&real.malloc, NULL, NULL},
        {"calloc", (void *)native_calloc, (void **)&real.calloc, NULL, NULL},
        {"realloc", (void *)native_realloc, (void **)&real.realloc, NULL, NULL},
        {"reallocarray", (void *)native_reallocarray, (void **)&real.reallocarray, NULL, NULL},
        {"free", (void *)native_free, (void **)&real.free, NULL, NULL},
        {"posix_memalign", (void *)native_posix_memalign, (void **)&real.posix_memalign, NULL, NULL},
        {"aligned_alloc", (void *)native_aligned_alloc, (void **)&real.aligned_alloc, NULL, NULL},
        {"memalign", (void *)native_memalign, (void **)&real.memalign, NULL, NULL},
        {"valloc", (void *)native_valloc, (void **)&real.valloc, NULL, NULL},
        {"pvalloc", (void *)native_pvalloc, (void **)&real.pvalloc, NULL, NULL},
    };
    int n = (int)(sizeof(hooks) / sizeof(hooks[0]));
    /* Set before any slot points here: the RAW hooks raise the busy flag from now on. */
    atomic_store(&installed, 1);
    if (mp_relocs_install(hooks, n) < 0) {
        return -1;
    }
    /* The allocator's own mappings (an LD_PRELOADed jemalloc's or tcmalloc's chunks) are not
     * the program's blocks a second time. */
    return mp_native_maps_install((const void *)real.malloc);
}
