/*
 * The profiler's own memory: anonymous mappings, never libc's heap or the Python allocator, so
 * nothing the profiler does re-enters its own hooks, takes a lock that a fork or a signal could
 * leave held, or is unsafe in a signal handler (mmap and munmap are plain system calls). Every
 * function here may run in any context.
 *
 * Two kinds of memory are counted apart: tables (what the profiler keeps while the program
 * runs), which are held to a budget (MPROFILE_MAX_MEMORY), and scratch (what one snapshot needs
 * while it is written), which is not, so that a profiler at its budget can still write out
 * what it has.
 */
#ifndef MP_ALLOC_H
#define MP_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Zero-filled table memory of at least size bytes, or NULL (out of memory, or the budget would
 * be passed; the first refusal is noted, see mp_alloc_budget_reached). */
void *mp_alloc_zeroed(size_t size);

/* Returns memory from mp_alloc_zeroed; size must be the size that was asked for. */
void mp_alloc_release(void *ptr, size_t size);

/* Zero-filled scratch memory for a snapshot being written, or NULL; not held to the budget. */
void *mp_alloc_scratch(size_t size);
void mp_alloc_release_scratch(void *ptr, size_t size);

/* Bytes currently held, tables and scratch, rounded up to pages. */
uint64_t mp_alloc_in_use(void);

/* The most table memory there may be at once (UINT64_MAX: no limit). Set before use. */
void mp_alloc_set_budget(uint64_t bytes);
uint64_t mp_alloc_budget(void);

/* 0 while the budget was never in the way; else when it first was (CLOCK_REALTIME ns). */
int64_t mp_alloc_budget_reached(void);

/* Forgets that the budget was reached (after the tables shrank). */
void mp_alloc_budget_rearm(void);

#endif
