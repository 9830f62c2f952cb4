#include "native_maps.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "hooks.h"
#include "profiler.h"
#include "relocs.h"

/* One mapped range of a sampled mapping; its trace is keyed by the lowest of its pieces. */
typedef struct {
    uintptr_t lo, hi, key;
} piece_t;

/* Lock order: maps_lock, then the profiler's lock. Held with the busy flag raised, so that a
 * signal handler that unmaps on the same thread passes straight through instead of waiting. */
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static piece_t *pieces; /* MP_NATIVE_MAPS_MAX */
static atomic_int npieces;
/* All pieces lie within [span_lo, span_hi): most unmaps miss it and take no lock. Only grows
 * while pieces live; reset when the last goes. */
static _Atomic uintptr_t span_lo = UINTPTR_MAX, span_hi;
static uintptr_t page_mask;

static struct {
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    void *(*mmap64)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags, ...);
    int (*munmap)(void *addr, size_t len);
} real;

/* Under maps_lock: the bytes of key's pieces, and the lowest of them. */
static uintptr_t
bytes_of(uintptr_t key, uintptr_t *lowest)
{
    uintptr_t bytes = 0;
    *lowest = UINTPTR_MAX;
    int n = atomic_load_explicit(&npieces, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        if (pieces[i].key == key) {
            bytes += pieces[i].hi - pieces[i].lo;
            *lowest = pieces[i].lo < *lowest ? pieces[i].lo : *lowest;
        }
    }
    return bytes;
}

static void
remove_piece(int i)
{
    int n = atomic_load_explicit(&npieces, memory_order_relaxed) - 1;
    pieces[i] = pieces[n];
    atomic_store_explicit(&npieces, n, memory_order_relaxed);
}

/* Under maps_lock: cuts [a, b) out of key's pieces. */
static void
cut_key(uintptr_t key, uintptr_t a, uintptr_t b)
{
    for (int i = 0; i < atomic_load_explicit(&npieces, memory_order_relaxed); i++) {
        piece_t p = pieces[i];
        if (p.key != key || p.hi <= a || p.lo >= b) {
            continue;
        }
        int left = p.lo < a, right = p.hi > b;
        if (left) {
            pieces[i].hi = a;
        } else if (right) {
            pieces[i].lo = b;
        } else {
            remove_piece(i--);
            continue;
        }
        int n = atomic_load_explicit(&npieces, memory_order_relaxed);
        if (left && right && n < MP_NATIVE_MAPS_MAX) {
            pieces[n] = (piece_t){b, p.hi, key}; /* a full list loses this part: under-counted */
            atomic_store_explicit(&npieces, n + 1, memory_order_relaxed);
        }
    }
}

/* Under maps_lock: [a, b) is no longer mapped as it was; every trace it touches shrinks. */
static void
cut(uintptr_t a, uintptr_t b)
{
    for (;;) {
        int n = atomic_load_explicit(&npieces, memory_order_relaxed);
        int i = 0;
        while (i < n && (pieces[i].hi <= a || pieces[i].lo >= b)) {
            i++;
        }
        if (i == n) {
            return;
        }
        uintptr_t key = pieces[i].key, lowest;
        uintptr_t before = bytes_of(key, &lowest);
        cut_key(key, a, b);
        uintptr_t after = bytes_of(key, &lowest);
        if (after == 0) {
            mp_profiler_forget((const void *)key, NULL);
            continue;
        }
        mp_profiler_move(key, MP_ORIGIN_NATIVE, lowest, MP_ORIGIN_NATIVE, before, after);
        for (int j = 0; j < atomic_load_explicit(&npieces, memory_order_relaxed); j++) {
            if (pieces[j].key == key) {
                pieces[j].key = lowest;
            }
        }
    }
}

/* maps_lock (the caller raised the busy flag), with the deferred snapshots left to others: one
 * written now would hold up every munmap of the process. */
static void
lock_maps(void)
{
    mp_profiler_hold_requests(1);
    pthread_mutex_lock(&maps_lock);
}

static void
unlock_maps(void)
{
    if (atomic_load_explicit(&npieces, memory_order_relaxed) == 0) {
        atomic_store_explicit(&span_lo, UINTPTR_MAX, memory_order_relaxed);
        atomic_store_explicit(&span_hi, 0, memory_order_relaxed);
    }
    pthread_mutex_unlock(&maps_lock);
    mp_profiler_hold_requests(-1);
}

/* Slow path: [addr, addr + len) changes; nothing to do while no sampled mapping lives there. A
 * thread that holds the profiler's lock (a signal handler that unmaps) passes: its pieces stay
 * until the next change. */
static void
unmapped(mp_thread_t *t, void *addr, size_t len)
{
    uintptr_t a = (uintptr_t)addr & ~page_mask;
    uintptr_t b = ((uintptr_t)addr + len + page_mask) & ~page_mask;
    if (atomic_load_explicit(&npieces, memory_order_relaxed) == 0 || len == 0 ||
        b <= atomic_load_explicit(&span_lo, memory_order_relaxed) ||
        a >= atomic_load_explicit(&span_hi, memory_order_relaxed) || mp_profiler_held_here()) {
        return;
    }
    int saved_errno = errno;
    t->busy = 1;
    lock_maps();
    cut(a, b);
    unlock_maps();
    t->busy = 0;
    errno = saved_errno;
}

/* Slow path: the countdown ran out on a new mapping of len bytes at p. */
__attribute__((noinline, cold)) static void
sample(mp_thread_t *t, void *p, size_t len)
{
    if (p == MAP_FAILED || mp_profiler_held_here()) {
        return;
    }
    int saved_errno = errno;
    t->busy = 1;
    uint64_t rate = mp_hooks_resolve();
    if (rate != 0) {
        /* Unwound before maps_lock: the unwinder may wait for the loader, which maps. */
        mp_native_stack_t ns;
        mp_profiler_native_stack(&ns);
        lock_maps();
        int n = atomic_load_explicit(&npieces, memory_order_relaxed);
        if (n < MP_NATIVE_MAPS_MAX) {
            uintptr_t lo = (uintptr_t)p, hi = (lo + len + page_mask) & ~page_mask;
            pieces[n] = (piece_t){lo, hi, lo};
            atomic_store_explicit(&npieces, n + 1, memory_order_relaxed);
            if (lo < atomic_load_explicit(&span_lo, memory_order_relaxed)) {
                atomic_store_explicit(&span_lo, lo, memory_order_relaxed);
            }
            if (hi > atomic_load_explicit(&span_hi, memory_order_relaxed)) {
                atomic_store_explicit(&span_hi, hi, memory_order_relaxed);
            }
            mp_profiler_record_with(MP_ORIGIN_NATIVE, lo, len, rate, &ns);
        } else {
            atomic_fetch_add(&mp_profiler.dropped, 1);
        }
        unlock_maps();
    }
    t->busy = 0;
    errno = saved_errno;
}

/* Anonymous memory that is the program's: not a reservation of address space (PROT_NONE,
 * MAP_NORESERVE: runtimes reserve gigabytes that way and commit pieces later with MAP_FIXED,
 * which is seen) nor a thread stack. */
static int
heap_mapping(int prot, int flags)
{
    return (flags & MAP_ANONYMOUS) && prot != PROT_NONE && !(flags & (MAP_NORESERVE | MAP_STACK));
}

static void *
map(void *(*call)(void *, size_t, int, int, int, off_t), void *addr, size_t len, int prot,
    int flags, int fd, off_t off)
{
    mp_thread_t *t = &mp_thread;
    if (t->busy) {
        return call(addr, len, prot, flags, fd, off);
    }
    if (flags & MAP_FIXED) {
        unmapped(t, addr, len); /* the kernel replaces whatever was there */
    }
    int fired = heap_mapping(prot, flags) && mp_sampler_tick(&t->sampler, len);
    void *p = call(addr, len, prot, flags, fd, off);
    if (fired) {
        sample(t, p, len);
    }
    return p;
}

static void *
native_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return map(real.mmap, addr, len, prot, flags, fd, off);
}

static void *
native_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return map(real.mmap64, addr, len, prot, flags, fd, off);
}

static int
native_munmap(void *addr, size_t len)
{
    mp_thread_t *t = &mp_thread;
    if (!t->busy) {
        /* Before the call: once unmapped, another thread may be given the range. */
        unmapped(t, addr, len);
    }
    return real.munmap(addr, len);
}

static void *
native_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *target = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
    }
    mp_thread_t *t = &mp_thread;
    if (t->busy) {
        return real.mremap(old, old_len, new_len, flags, target);
    }
    /* A realloc of pages: the old range goes (also when the call then fails: see
     * docs/design.md), the result is a new mapping. */
    unmapped(t, old, old_len);
    if (flags & MREMAP_FIXED) {
        unmapped(t, target, new_len);
    }
    int fired = mp_sampler_tick(&t->sampler, new_len);
    void *p = real.mremap(old, old_len, new_len, flags, target);
    if (fired) {
        sample(t, p, new_len);
    }
    return p;
}

/* Fork handlers: the list is not half-changed when the process is copied, and the child's only
 * thread, which took the lock in the prepare handler, releases it. Registered after the
 * profiler's, so the prepare handler runs before the profiler's (the lock order). */
static void
before_fork(void)
{
    pthread_mutex_lock(&maps_lock);
}

static void
after_fork(void)
{
    pthread_mutex_unlock(&maps_lock);
}

int
mp_native_maps_install(const void *allocator)
{
    page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
    pieces = mp_alloc_zeroed(MP_NATIVE_MAPS_MAX * sizeof(piece_t));
    if (pieces == NULL) {
        return -1;
    }
    mp_reloc_hook_t hooks[] = {
        {"mmap", (void *)native_mmap, (void **)&real.mmap, allocator, NULL},
        {"mmap64", (void *)native_mmap64, (void **)&real.mmap64, allocator, NULL},
        {"mremap", (void *)native_mremap, (void **)&real.mremap, allocator, NULL},
        {"munmap", (void *)native_munmap, (void **)&real.munmap, allocator, NULL},
    };
    pthread_atfork(before_fork, after_fork, after_fork);
    return mp_relocs_install(hooks, 4);
}
