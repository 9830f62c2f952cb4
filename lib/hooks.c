#include "hooks.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "log.h"
#include "profiler.h"
#include "sampled.h"

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
        seed ^= mp_sampler_entropy();
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

uint64_t
mp_hooks_resolve(void)
{
    mp_thread_t *t = &mp_thread;
    if (t->sampler.rng == 0) {
        seed_thread(t);
    }
    if (!atomic_load_explicit(&mp_profiler.enabled, memory_order_relaxed)) {
        mp_hooks_park_thread();
        return 0;
    }
    uint64_t rate = atomic_load_explicit(&mp_profiler.rate, memory_order_relaxed);
    return mp_sampler_resolve(&t->sampler, rate) ? rate : 0;
}

/* Slow path: the countdown ran out on an allocation of size bytes at ptr. */
__attribute__((noinline, cold, unused)) static void
on_countdown(int domain, void *ptr, size_t size)
{
    mp_thread_t *t = &mp_thread;
    int saved_errno = errno; /* the allocator's, success or failure */
    t->busy = 1;
    uint64_t rate = mp_hooks_resolve();
    if (rate != 0 && ptr != NULL) {
        mp_sampled(domain, ptr, size, rate);
    }
    t->busy = 0;
    errno = saved_errno;
}

static inline int
domain_of(void *ctx)
{
    return (int)((mp_allocator_t *)ctx - saved);
}

#ifndef MP_FLOOR_HOOKS

/*
 * Two sets of allocation hooks, chosen when they are installed.
 *
 * Nesting-aware hooks (the general case) check the busy flag first and set it around every
 * call into the saved allocator, so that an allocation the allocator makes through another
 * hooked domain is not counted a second time. pymalloc does that for requests over 512 bytes,
 * and for small ones too whenever it needs bookkeeping memory: the arena table
 * (PyMem_RawRealloc in new_arena) and the nodes of its address radix tree (PyMem_RawCalloc),
 * whose number depends on where the kernel maps each arena. Counting those would attribute
 * pymalloc's own memory to the program's lines, differ from tracemalloc, and make the samples
 * of a seeded run depend on the address-space layout.
 *
 * Stock hooks, used when every domain holds one of CPython's stock allocators (malloc,
 * pymalloc, their debug wrappers). Then MEM and OBJ are never entered with the flag raised (no
 * stock allocator calls into MEM or OBJ, and the profiler's only Python calls, the exit-dump
 * registration, run as a pending call with the flag down), so their hooks need not test it:
 * they tick the countdown before the call and raise the flag around it in one function, with no
 * branch besides the countdown's. RAW never re-enters a hooked domain, so its hook ticks and
 * tail-calls the saved allocator: no flag stores, no stack frame, no registers to save. A
 * countdown that runs out takes the nesting-aware path, which samples.
 */

/* Out of line: busy around the call, then the slow path if the countdown (already ticked) ran
 * out. */
__attribute__((noinline)) static void *
malloc_nested(void *ctx, size_t size)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    t->busy = 1;
    void *p = a->malloc(a->ctx, size);
    t->busy = 0;
    if (MP_UNLIKELY(t->sampler.countdown <= 0)) {
        on_countdown(domain_of(ctx), p, size);
    }
    return p;
}

__attribute__((noinline)) static void *
calloc_nested(void *ctx, size_t nelem, size_t elsize)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    t->busy = 1;
    void *p = a->calloc(a->ctx, nelem, elsize);
    t->busy = 0;
    if (MP_UNLIKELY(t->sampler.countdown <= 0)) {
        /* CPython checks nelem * elsize for overflow before it calls the allocator. */
        on_countdown(domain_of(ctx), p, nelem * elsize);
    }
    return p;
}

/* Nesting-aware hooks; out of line, as they are the stock hooks' slow path too. */
__attribute__((noinline)) static void *
hook_malloc(void *ctx, size_t size)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    if (t->busy) {
        return a->malloc(a->ctx, size);
    }
    mp_sampler_tick(&t->sampler, size);
    return malloc_nested(ctx, size);
}

__attribute__((noinline)) static void *
hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    if (t->busy) {
        return a->calloc(a->ctx, nelem, elsize);
    }
    mp_sampler_tick(&t->sampler, nelem * elsize);
    return calloc_nested(ctx, nelem, elsize);
}

/* Stock MEM and OBJ hooks: tick, then the flag around the call. The flag is counted up and down
 * rather than set and cleared, so that an unexpected call from inside a hook or the profiler
 * leaves the caller's flag as it was. */
static void *
hook_stock_malloc(void *ctx, size_t size)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    int64_t left = t->sampler.countdown - (int64_t)size;
    if (MP_UNLIKELY(left <= 0)) {
        return hook_malloc(ctx, size);
    }
    t->sampler.countdown = left;
    t->busy++;
    void *p = a->malloc(a->ctx, size);
    t->busy--;
    return p;
}

static void *
hook_stock_calloc(void *ctx, size_t nelem, size_t elsize)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    int64_t left = t->sampler.countdown - (int64_t)(nelem * elsize);
    if (MP_UNLIKELY(left <= 0)) {
        return hook_calloc(ctx, nelem, elsize);
    }
    t->sampler.countdown = left;
    t->busy++;
    void *p = a->calloc(a->ctx, nelem, elsize);
    t->busy--;
    return p;
}

/* Stock RAW hooks: malloc never re-enters a hooked domain. */
static void *
hook_stock_raw_malloc(void *ctx, size_t size)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    if (MP_LIKELY(!t->busy)) {
        if (MP_UNLIKELY(mp_sampler_tick(&t->sampler, size))) {
            return malloc_nested(ctx, size);
        }
    }
    return a->malloc(a->ctx, size);
}

static void *
hook_stock_raw_calloc(void *ctx, size_t nelem, size_t elsize)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    if (MP_LIKELY(!t->busy)) {
        if (MP_UNLIKELY(mp_sampler_tick(&t->sampler, nelem * elsize))) {
            return calloc_nested(ctx, nelem, elsize);
        }
    }
    return a->calloc(a->ctx, nelem, elsize);
}

/* Out of line: the filter said the block may be sampled. */
__attribute__((noinline)) static void
free_sampled(void *ctx, void *ptr)
{
    mp_allocator_t *a = ctx;
    if (ptr != NULL) {
        mp_profiler_forget(ptr, NULL);
    }
    a->free(a->ctx, ptr);
}

/* The general realloc: forgets the old block if it was sampled, and puts it back if the
 * allocator fails. Out of line: the hooks only call it when the filter says
 * the old block may be sampled. */
__attribute__((noinline)) static void *
realloc_sampled(void *ctx, void *ptr, size_t size)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    /* Forget the old block before the allocator can hand its address to another thread. */
    mp_forgotten_t old;
    int had = ptr != NULL && mp_profiler_forget(ptr, &old);
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
    if (p == NULL && had) {
        mp_profiler_restore(&old);
    }
    /* A realloc is the free of the old block and the allocation of the new one (ticked even
     * when it failed, as in realloc_nested). */
    if (MP_UNLIKELY(mp_sampler_tick(&t->sampler, size))) {
        on_countdown(domain_of(ctx), p, size);
    }
    return p;
}

/* An unsampled old block: busy around the call (pymalloc's realloc can ask RAW), then the tick. */
__attribute__((noinline)) static void *
realloc_nested(void *ctx, void *ptr, size_t size)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    t->busy = 1;
    void *p = a->realloc(a->ctx, ptr, size);
    t->busy = 0;
    /* Ticked whether or not the call failed, as malloc is: the stock hook has already looked
     * at the countdown, so skipping failures would leave it biased. on_countdown records
     * nothing for NULL. */
    if (MP_UNLIKELY(mp_sampler_tick(&t->sampler, size))) {
        on_countdown(domain_of(ctx), p, size);
    }
    return p;
}

__attribute__((noinline)) static void *
hook_realloc(void *ctx, void *ptr, size_t size)
{
    mp_allocator_t *a = ctx;
    /* realloc(NULL, n) hashes to slot 0 and is sorted out in realloc_sampled. */
    if (MP_UNLIKELY(mp_heap_maybe_sampled_bit(mp_profiler.heap.bits, ptr))) {
        return realloc_sampled(ctx, ptr, size);
    }
    if (mp_thread.busy) {
        return a->realloc(a->ctx, ptr, size);
    }
    return realloc_nested(ctx, ptr, size);
}

/* Stock MEM and OBJ realloc: an unsampled old block, ticked before the call like malloc (a
 * failed realloc then used up part of the countdown, which changes no probability: the process
 * is memoryless). */
static void *
hook_stock_realloc(void *ctx, void *ptr, size_t size)
{
    mp_allocator_t *a = ctx;
    mp_thread_t *t = &mp_thread;
    int64_t left = t->sampler.countdown - (int64_t)size;
    if (MP_UNLIKELY(left <= 0) ||
        MP_UNLIKELY(mp_heap_maybe_sampled_bit(mp_profiler.heap.bits, ptr))) {
        return hook_realloc(ctx, ptr, size);
    }
    t->sampler.countdown = left;
    t->busy++;
    void *p = a->realloc(a->ctx, ptr, size);
    t->busy--;
    return p;
}

/* One multiply, shift and load; free(NULL) hashes to slot 0 and is sorted out of line. */
static void
hook_free(void *ctx, void *ptr)
{
    mp_allocator_t *a = ctx;
    if (MP_UNLIKELY(mp_heap_maybe_sampled_bit(mp_profiler.heap.bits, ptr))) {
        free_sampled(ctx, ptr);
        return;
    }
    a->free(a->ctx, ptr);
}

#else /* MP_FLOOR_HOOKS */

/*
 * The floor build: hooks that only forward to the saved allocator. It measures what the
 * allocator interface itself costs (CPython calls through the domain's function pointers and
 * loses its inlined pymalloc path once any hook is installed); the benchmarks compare the real
 * hooks against it. It never samples.
 */
static void *
hook_malloc(void *ctx, size_t size)
{
    mp_allocator_t *a = ctx;
    return a->malloc(a->ctx, size);
}

static void *
hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    mp_allocator_t *a = ctx;
    return a->calloc(a->ctx, nelem, elsize);
}

static void *
hook_realloc(void *ctx, void *ptr, size_t size)
{
    mp_allocator_t *a = ctx;
    return a->realloc(a->ctx, ptr, size);
}

static void
hook_free(void *ctx, void *ptr)
{
    mp_allocator_t *a = ctx;
    a->free(a->ctx, ptr);
}

#define hook_stock_raw_malloc hook_malloc
#define hook_stock_raw_calloc hook_calloc
#define hook_stock_malloc     hook_malloc
#define hook_stock_calloc     hook_calloc
#define hook_stock_realloc    hook_realloc

#endif /* MP_FLOOR_HOOKS */

/* Whether fn is code of the interpreter itself (the executable or libpython), not of another
 * library that hooked the allocators before us. */
static int
interpreter_code(const void *fn, const void *fbase)
{
    Dl_info info;
    return fn != NULL && dladdr(fn, &info) != 0 && info.dli_fbase == fbase;
}

/*
 * Whether every domain holds a stock CPython allocator (the stock hooks' condition).
 * Before the interpreter starts, no Python code has run, so the domains hold the compiled-in
 * allocators unless another preloaded library hooked them: their functions must all be the
 * interpreter's own. (_PyMem_GetCurrentAllocatorName takes a lock that 3.12 creates only when
 * the runtime starts.) In a running interpreter, tracemalloc's hooks are the interpreter's own
 * code too: _PyMem_GetCurrentAllocatorName names only stock allocators.
 */
static int
stock_allocators(void)
{
    const mp_pyapi_t *api = &mp_profiler.api;
    if (api->Py_IsInitialized() != 0) {
        return api->_PyMem_GetCurrentAllocatorName != NULL &&
               api->_PyMem_GetCurrentAllocatorName() != NULL;
    }
    Dl_info self;
    if (dladdr((const void *)api->PyMem_SetAllocator, &self) == 0) {
        return 0;
    }
    for (int d = 0; d < MP_DOMAINS; d++) {
        mp_allocator_t a;
        api->PyMem_GetAllocator(d, &a);
        if (!interpreter_code((const void *)a.malloc, self.dli_fbase) ||
            !interpreter_code((const void *)a.calloc, self.dli_fbase) ||
            !interpreter_code((const void *)a.realloc, self.dli_fbase) ||
            !interpreter_code((const void *)a.free, self.dli_fbase)) {
            return 0;
        }
    }
    return 1;
}

static void
install_domain(int domain, int stock)
{
    mp_allocator_t hook = {&saved[domain], hook_malloc, hook_calloc, hook_realloc, hook_free};
    /* With the native heap on, RAW's malloc reaches the native layer, which must see the busy
     * flag: RAW takes the MEM and OBJ form then. */
    if (stock && domain == MP_DOMAIN_RAW && !mp_profiler.config.native) {
        hook.malloc = hook_stock_raw_malloc;
        hook.calloc = hook_stock_raw_calloc;
    } else if (stock) {
        hook.malloc = hook_stock_malloc;
        hook.calloc = hook_stock_calloc;
        hook.realloc = hook_stock_realloc;
    }
    mp_profiler.api.PyMem_GetAllocator(domain, &saved[domain]);
    mp_profiler.api.PyMem_SetAllocator(domain, &hook);
}

static int
domain_on_top(int domain)
{
    mp_allocator_t current;
    mp_profiler.api.PyMem_GetAllocator(domain, &current);
    return current.free == hook_free; /* every set of hooks shares hook_free */
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
            install_domain(d, 1); /* the allocator name above says: stock allocators */
            mp_log(MP_LOG_DEBUG, "re-installed the hooks on allocator domain %d", d);
        }
    }
}

/* Arenas are pymalloc's, not the program's: the busy flag keeps their mmap and munmap out of
 * the native heap. */
static void *
arena_alloc(void *ctx, size_t size)
{
    if (!mp_thread.busy) {
        reinstall_dropped_hooks();
    }
    mp_thread.busy++;
    void *p = saved_arena.alloc(saved_arena.ctx, size);
    mp_thread.busy--;
    return p;
}

static void
arena_free(void *ctx, void *ptr, size_t size)
{
    mp_thread.busy++;
    saved_arena.free(saved_arena.ctx, ptr, size);
    mp_thread.busy--;
}

void
mp_hooks_install(void)
{
    mp_profiler.hook_free = hook_free;
    int stock = stock_allocators();
    mp_log(MP_LOG_DEBUG, "%s hooks", stock ? "stock" : "nesting-aware");
    for (int d = 0; d < MP_DOMAINS; d++) {
        install_domain(d, stock);
    }
    if (!arena_installed && mp_profiler.api.PyObject_GetArenaAllocator != NULL &&
        mp_profiler.api.PyObject_SetArenaAllocator != NULL &&
        (mp_profiler.api.Py_IsInitialized() == 0 || mp_profiler.config.native)) {
        mp_arena_allocator_t sentinel = {NULL, arena_alloc, arena_free};
        mp_profiler.api.PyObject_GetArenaAllocator(&saved_arena);
        mp_profiler.api.PyObject_SetArenaAllocator(&sentinel);
        arena_installed = 1;
    }
}
