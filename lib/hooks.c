#include "hooks.h"

#include <stdatomic.h>
#include <string.h>

#include "dump.h"
#include "log.h"
#include "profiler.h"

__thread mp_thread_t mp_thread __attribute__((tls_model("initial-exec")));

#define MP_LIKELY(x)   __builtin_expect(!!(x), 1)
#define MP_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The allocators found under the hooks; a hook's ctx points at its domain's entry. */
static mp_allocator_t saved[MP_DOMAINS];
static mp_arena_allocator_t saved_arena;
static int arena_installed;

static void
seed_thread(mp_thread_t *t)
{
    uint64_t seq = atomic_fetch_add(&mp_profiler.thread_seq, 1);
    uint64_t seed = mp_profiler.config.has_seed ? mp_profiler.config.seed
                                                : (uint64_t)(uintptr_t)t ^ (uint64_t)seq << 32;
    if (!mp_profiler.config.has_seed) {
        seed ^= mp_dump_entropy();
    }
    mp_sampler_seed(&t->sampler, seed + seq * 0x9e3779b97f4a7c15ULL);
}

void
mp_hooks_park_thread(void)
{
    mp_sampler_park(&mp_thread.sampler, MP_IDLE_RECHECK_BYTES);
}

void
mp_hooks_reset_thread(void)
{
    mp_sampler_park(&mp_thread.sampler, 0);
}

/* The slow path: the countdown ran out on an allocation of size bytes at ptr. */
__attribute__((noinline, cold)) static void
on_countdown(int domain, void *ptr, size_t size)
{
    mp_thread_t *t = &mp_thread;
    t->busy = 1;
    if (t->sampler.rng == 0) {
        seed_thread(t);
    }
    if (!atomic_load_explicit(&mp_profiler.enabled, memory_order_relaxed)) {
        mp_hooks_park_thread();
    } else {
        uint64_t rate = atomic_load_explicit(&mp_profiler.rate, memory_order_relaxed);
        if (mp_sampler_resolve(&t->sampler, rate) && ptr != NULL) {
            mp_profiler_record(domain, ptr, size, rate);
            /* The GIL is held on MEM and OBJ: a safe moment for the exit-dump set-up. */
            if (domain != MP_DOMAIN_RAW) {
                mp_dump_on_python_sample();
            }
            mp_dump_ensure_thread();
        }
    }
    t->busy = 0;
}

static inline int
domain_of(void *ctx)
{
    return (int)((mp_allocator_t *)ctx - saved);
}

static inline void
forget_if_sampled(const void *ptr)
{
    if (ptr != NULL && MP_UNLIKELY(mp_heap_maybe_sampled(mp_profiler.heap.filter, ptr))) {
        mp_profiler_forget(ptr, NULL);
    }
}

static void *
hook_malloc(void *ctx, size_t size)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    if (t->busy) {
        return a->malloc(a->ctx, size);
    }
    t->busy = 1;
    void *p = a->malloc(a->ctx, size);
    t->busy = 0;
    if (MP_UNLIKELY(mp_sampler_tick(&t->sampler, size))) {
        on_countdown(domain_of(ctx), p, size);
    }
    return p;
}

static void *
hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    if (t->busy) {
        return a->calloc(a->ctx, nelem, elsize);
    }
    t->busy = 1;
    void *p = a->calloc(a->ctx, nelem, elsize);
    t->busy = 0;
    /* CPython checks nelem * elsize for overflow before it calls the allocator. */
    size_t size = nelem * elsize;
    if (MP_UNLIKELY(mp_sampler_tick(&t->sampler, size))) {
        on_countdown(domain_of(ctx), p, size);
    }
    return p;
}

static void *
hook_realloc(void *ctx, void *ptr, size_t size)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    /* Forget the old block before the allocator can hand its address to another thread. */
    mp_block_t old;
    int had = ptr != NULL && MP_UNLIKELY(mp_heap_maybe_sampled(mp_profiler.heap.filter, ptr)) &&
              mp_profiler_forget(ptr, &old);
    if (t->busy) {
        void *p = a->realloc(a->ctx, ptr, size);
        if (p == NULL && had) {
            mp_profiler_restore(&old);
        }
        return p;
    }
    t->busy = 1;
    void *p = a->realloc(a->ctx, ptr, size);
    t->busy = 0;
    if (p == NULL) {
        if (had) {
            mp_profiler_restore(&old);
        }
        return NULL;
    }
    /* A realloc is the free of the old block and the allocation of the new one. */
    if (MP_UNLIKELY(mp_sampler_tick(&t->sampler, size))) {
        on_countdown(domain_of(ctx), p, size);
    }
    return p;
}

static void
hook_free(void *ctx, void *ptr)
{
    mp_allocator_t *a = ctx;
    forget_if_sampled(ptr);
    a->free(a->ctx, ptr);
}

static void
install_domain(int domain)
{
    mp_allocator_t hook = {&saved[domain], hook_malloc, hook_calloc, hook_realloc, hook_free};
    mp_profiler.api.PyMem_GetAllocator(domain, &saved[domain]);
    mp_profiler.api.PyMem_SetAllocator(domain, &hook);
}

static int
domain_on_top(int domain)
{
    mp_allocator_t current;
    mp_profiler.api.PyMem_GetAllocator(domain, &current);
    return current.malloc == hook_malloc;
}

int
mp_hooks_on_top(void)
{
    for (int d = 0; d < MP_DOMAINS; d++) {
        if (!domain_on_top(d)) {
            return 0;
        }
    }
    return 1;
}

/*
 * PYTHONMALLOC and -X dev make CPython reset every domain to a stock allocator during
 * pre-initialisation, dropping hooks installed at load. It leaves the arena allocator alone, and
 * pymalloc asks it for an arena soon after, so this is where dropped hooks are put back. Only a
 * domain that holds a stock allocator again is re-hooked: one that someone else wrapped
 * (tracemalloc, another profiler) is left to them.
 */
static void
reinstall_dropped_hooks(void)
{
    const mp_pyapi_t *api = &mp_profiler.api;
    if (api->_PyMem_GetCurrentAllocatorName == NULL || api->Py_IsInitialized() != 0 ||
        api->_PyMem_GetCurrentAllocatorName() == NULL) {
        return;
    }
    for (int d = 0; d < MP_DOMAINS; d++) {
        if (!domain_on_top(d)) {
            install_domain(d);
            mp_log(MP_LOG_DEBUG, "re-installed the hooks on allocator domain %d", d);
        }
    }
}

static void *
arena_alloc(void *ctx, size_t size)
{
    if (!mp_thread.busy) {
        reinstall_dropped_hooks();
    }
    return saved_arena.alloc(saved_arena.ctx, size);
}

static void
arena_free(void *ctx, void *ptr, size_t size)
{
    saved_arena.free(saved_arena.ctx, ptr, size);
}

void
mp_hooks_install(void)
{
    for (int d = 0; d < MP_DOMAINS; d++) {
        install_domain(d);
    }
    if (!arena_installed && mp_profiler.api.PyObject_GetArenaAllocator != NULL &&
        mp_profiler.api.PyObject_SetArenaAllocator != NULL &&
        mp_profiler.api.Py_IsInitialized() == 0) {
        mp_arena_allocator_t sentinel = {NULL, arena_alloc, arena_free};
        mp_profiler.api.PyObject_GetArenaAllocator(&saved_arena);
        mp_profiler.api.PyObject_SetArenaAllocator(&sentinel);
        arena_installed = 1;
    }
}
