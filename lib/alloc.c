/*
 * Page allocator for the profiler's tables. Tables are few and large, so plain anonymous
 * mappings are enough: they are zero-filled, never touch libc's heap locks (which a fork or a
 * signal could leave held) and never reach PyMem.
 */
#include "alloc.h"

#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

static _Atomic uint64_t bytes_in_use;

static size_t
round_to_pages(size_t size)
{
    size_t page = 4096;
    return (size + page - 1) & ~(page - 1);
}

void *
mp_alloc_zeroed(size_t size)
{
    if (size == 0 || size > ((size_t)1 << 46)) {
        return NULL;
    }
    size = round_to_pages(size);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return NULL;
    }
    atomic_fetch_add_explicit(&bytes_in_use, size, memory_order_relaxed);
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
    atomic_fetch_sub_explicit(&bytes_in_use, size, memory_order_relaxed);
}

uint64_t
mp_alloc_in_use(void)
{
    return atomic_load_explicit(&bytes_in_use, memory_order_relaxed);
}
