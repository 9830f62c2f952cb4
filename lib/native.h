/*
 * The native heap (MPROFILE_NATIVE=1): malloc, calloc, realloc, reallocarray, free,
 * posix_memalign, aligned_alloc, memalign, valloc and pvalloc called by any loaded object but
 * the profiler, and anonymous mmap, mremap and munmap (see native_maps.h). Reached through the
 * callers' GOT slots (relocs.h), so a process where the profiler is dormant, or one without
 * MPROFILE_NATIVE, runs the C library's functions with no wrapper at all.
 *
 * Hot path, as the PyMem hooks: an allocation subtracts its size from the thread's countdown,
 * tests it and remembers the address for a PyTraceMalloc_Track that may follow (tracked.c); a
 * free reads one bit of the heap filter. Counted once: while the thread's busy flag is raised
 * (inside a PyMem hook, so under PYTHONMALLOC=malloc too, pymalloc's arenas, or the profiler)
 * the calls pass straight through. Sampled blocks are recorded in the native domain
 * (MPROFILE_NATIVE_DOMAIN), with the Python stack of the allocating thread.
 */
#ifndef MP_NATIVE_H
#define MP_NATIVE_H

/* Installs the interposers on every loaded object and on those loaded later. Constructor or
 * API, once the profiler's tables exist. Returns 0, or -1 (the C library lacks one of them). */
int mp_native_install(void);

/* Whether the native layer is installed (the PyMem RAW hooks must then raise the busy flag
 * around the allocator they call). Any context. */
int mp_native_installed(void);

#endif
