/*
 * mprofile: a low-overhead sampling memory profiler for CPython.
 *
 * The public C API of libmprofile.so, for embedders and for the mprofile Python package.
 * Every function is safe to call from any thread, with or without the GIL, and never calls
 * into Python. Functions returning int return 0 on success and a negative errno value on
 * failure; they never abort the process.
 */
#ifndef MPROFILE_MPROFILE_H
#define MPROFILE_MPROFILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#    define MPROFILE_API __attribute__((visibility("default")))
#else
#    define MPROFILE_API
#endif

#define MPROFILE_VERSION "0.1.0"

/* Largest number of frames kept per stack (tracemalloc's limit). */
#define MPROFILE_MAX_FRAMES 65535

/* The tracemalloc domain of native heap blocks (MPROFILE_NATIVE=1) in snapshots: "MPNA" in
 * ASCII, far from the domains extensions pass to PyTraceMalloc_Track (numpy's is 389047). */
#define MPROFILE_NATIVE_DOMAIN 0x4D504E41u

/* Counters of the profiler's own activity, for health checks and snapshot metadata. */
struct mprofile_counters {
    uint64_t samples;         /* sampled allocations recorded since start-up */
    uint64_t dropped;         /* samples lost: the profiler's tables were out of memory */
    uint64_t live_blocks;     /* sampled blocks currently live */
    uint64_t live_bytes;      /* estimated live bytes (sum of weights) */
    uint64_t peak_bytes;      /* estimated peak of live_bytes since start or reset_peak */
    uint64_t dumps;           /* snapshots written */
    uint64_t dump_failures;   /* snapshots that could not be written */
    uint64_t overhead_bytes;  /* memory held by the profiler's own tables */
    uint64_t stacks;          /* distinct stacks interned */
    uint64_t frames;          /* distinct (filename, line) frames interned */
};

/*
 * Starts sampling in this process. sample_rate is the mean number of bytes between samples
 * (1 = every allocation with its exact size); max_frames is 1..MPROFILE_MAX_FRAMES. When the
 * library was loaded after the interpreter started (dlopen), this installs the allocator hooks,
 * and the caller must hold the GIL. Returns -EINVAL for bad arguments, -EALREADY when already
 * sampling, -ENOTSUP when this process has no supported Python interpreter.
 */
MPROFILE_API int mprofile_start(uint64_t sample_rate, int max_frames);

/* Stops sampling. The hooks stay installed as pass-through; recorded blocks are kept. */
MPROFILE_API int mprofile_stop(void);

/* 1 while sampling, else 0. */
MPROFILE_API int mprofile_is_tracing(void);

/* Forgets every recorded block (what tracemalloc.clear_traces does). */
MPROFILE_API void mprofile_clear_traces(void);

/* The current sample rate in bytes (0 when never started) and frames per stack. */
MPROFILE_API uint64_t mprofile_get_sample_rate(void);
MPROFILE_API int mprofile_get_traceback_limit(void);

/* Estimated live and peak bytes of the recorded blocks; mprofile_reset_peak() sets the peak to
 * the current size, and the peak snapshot to the current live blocks. */
MPROFILE_API void mprofile_get_traced_memory(uint64_t *current, uint64_t *peak);
MPROFILE_API void mprofile_reset_peak(void);

MPROFILE_API void mprofile_get_counters(struct mprofile_counters *out);

/*
 * Writes a snapshot of the live sampled blocks to path (NULL: the MPROFILE_OUT pattern),
 * atomically (temporary file, then rename). Returns 0 or a negative errno.
 */
MPROFILE_API int mprofile_dump(const char *path);

/*
 * Serialises a snapshot into a buffer allocated with malloc(); the caller frees it with free().
 * Returns 0 or a negative errno.
 */
MPROFILE_API int mprofile_snapshot(void **buf, size_t *len);

/*
 * mprofile_snapshot() of the peak: the blocks that were live when the estimated live bytes were
 * at their highest (within 1/16 of it, see docs/format.md) since the start, the last
 * mprofile_reset_peak() or mprofile_clear_traces(). -ENODATA when peak tracking is off
 * (MPROFILE_PEAK=0) or nothing was sampled yet.
 */
MPROFILE_API int mprofile_peak_snapshot(void **buf, size_t *len);

/*
 * The stack of the sampled block at address ptr, newest frame first. Writes at most max
 * frames into filenames/linenos and returns the number written, 0 when the block was not
 * sampled, or a negative errno: -ENOSPC when the file names do not fit in names. The file
 * names are copied into names (names_size bytes, each NUL-terminated) and filenames[i] point
 * there: the profiler's own tables may be freed by mprofile_clear_traces() at any time.
 */
MPROFILE_API int mprofile_block_stack(const void *ptr, char *names, size_t names_size,
                                      const char **filenames, unsigned int *linenos, int max);

#ifdef __cplusplus
}
#endif

#endif
