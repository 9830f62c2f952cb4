#include "alloc.h"

#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

static _Atomic uint64_t table_bytes;
static _Atomic uint64_t scratch_bytes;
static _Atomic uint64_t budget = UINT64_MAX;
static _Atomic int64_t budget_reached_ns;

static size_t
round_to_pages(size_t size)
{
    size_t page = 4096;
    return (size + page - 1) & ~(page - 1);
}

static void *
map(size_t size, int populate)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void
note_budget_reached(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    int64_t expected = 0;
    atomic_compare_exchange_strong(&budget_reached_ns, &expected, ns > 0 ? ns : 1);
}

void *
mp_alloc_zeroed(size_t size)
{
    if (size == 0 || size > ((size_t)1 << 46)) {
        return NULL;
    }
    size = round_to_pages(size);
    uint64_t before = atomic_fetch_add_explicit(&table_bytes, size, memory_order_relaxed);
    if (before + size > atomic_load_explicit(&budget, memory_order_relaxed)) {
        atomic_fetch_sub_explicit(&table_bytes, size, memory_order_relaxed);
        note_budget_reached();
        return NULL;
    }
    void *p = map(size, 0);
    if (p == NULL) {
        atomic_fetch_sub_explicit(&table_bytes, size, memory_order_relaxed);
    }
    return p;
}

void
mp_alloc_release(void *ptr, size_t size)
{
    if (ptr == NULL) {
        return;
    }
    size = round_to_pages(size);
    munmap(ptr, size);
    atomic_fetch_sub_explicit(&table_bytes, size, memory_order_relaxed);
}

void *
mp_alloc_scratch(size_t size)
{
    if (size == 0 || size > ((size_t)1 << 46)) {
        return NULL;
    }
    size = round_to_pages(size);
    /* Faulted in now: a snapshot's copy runs under the profiler's lock, and page faults on fresh
     * pages there would hold up every sampled allocation of the program. */
    void *p = map(size, 1);
    if (p != NULL) {
        atomic_fetch_add_explicit(&scratch_bytes, size, memory_order_relaxed);
    }
    return p;
}

void
mp_alloc_release_scratch(void *ptr, size_t size)
{
    if (ptr == NULL) {
        return;
    }
    size = round_to_pages(size);
    munmap(ptr, size);
    atomic_fetch_sub_explicit(&scratch_bytes, size, memory_order_relaxed);
}

uint64_t
mp_alloc_in_use(void)
{
    return atomic_load_explicit(&table_bytes, memory_order_relaxed) +
           atomic_load_explicit(&scratch_bytes, memory_order_relaxed);
}

void
mp_alloc_set_budget(uint64_t bytes)
{
    atomic_store(&budget, bytes);
}

uint64_t
mp_alloc_budget(void)
{
    return atomic_load(&budget);
}

int64_t
mp_alloc_budget_reached(void)
{
    return atomic_load_explicit(&budget_reached_ns, memory_order_relaxed);
}

void
mp_alloc_budget_rearm(void)
{
    atomic_store(&budget_reached_ns, 0);
}
