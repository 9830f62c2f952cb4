/*
 * The profiler's own memory. Everything the profiler keeps comes from here: anonymous mmap for
 * tables, never the Python allocator, so nothing the profiler does re-enters its own hooks.
 * Every byte is counted, so snapshots can report what the profiler itself costs.
 */
#ifndef MP_ALLOC_H
#define MP_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Zero-filled memory of at least size bytes, or NULL. Thread-safe. */
void *mp_alloc_zeroed(size_t size);

/* Returns memory from mp_alloc_zeroed; size must be the size that was asked for. */
void mp_alloc_release(void *ptr, size_t size);

/* Bytes currently held (rounded up to pages). */
uint64_t mp_alloc_in_use(void);

#endif
