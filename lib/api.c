/* The public C API (include/mprofile/mprofile.h). Every entry point runs in the API context:
 * a normal thread of the program (the GIL held when called from Python), never a signal handler. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "init.h"
#include "output.h"
#include "profiler.h"
#include "mprofile/mprofile.h"

MPROFILE_API int
mprofile_start(uint64_t sample_rate, int max_frames)
{
    if (sample_rate == 0 || max_frames < 1 || max_frames > MPROFILE_MAX_FRAMES) {
        return -EINVAL;
    }
    if (mp_profiler.api.layout == NULL) {
        return -ENOTSUP;
    }
    if (atomic_load(&mp_profiler.enabled)) {
        return -EALREADY;
    }
    int rc = mp_init_late_start();
    if (rc < 0) {
        return rc;
    }
    atomic_store(&mp_profiler.rate, sample_rate);
    atomic_store(&mp_profiler.max_frames, max_frames);
    mp_profiler_reset_peak(); /* the peak of this run, as tracemalloc's after start() */
    atomic_store(&mp_profiler.enabled, 1);
    /* This thread samples from its next allocation; others within MP_IDLE_RECHECK_BYTES. */
    mp_hooks_reset_thread();
    return 0;
}

MPROFILE_API int
mprofile_stop(void)
{
    atomic_store(&mp_profiler.enabled, 0);
    return 0;
}

MPROFILE_API int
mprofile_is_tracing(void)
{
    return atomic_load(&mp_profiler.enabled);
}

MPROFILE_API void
mprofile_clear_traces(void)
{
    if (atomic_load(&mp_profiler.active)) {
        mp_profiler_clear();
    }
}

MPROFILE_API uint64_t
mprofile_get_sample_rate(void)
{
    return atomic_load(&mp_profiler.rate);
}

MPROFILE_API int
mprofile_get_traceback_limit(void)
{
    return atomic_load(&mp_profiler.max_frames);
}

MPROFILE_API void
mprofile_get_traced_memory(uint64_t *current, uint64_t *peak)
{
    *current = *peak = 0;
    if (!atomic_load(&mp_profiler.active)) {
        return;
    }
    mp_profiler_lock();
    *current = mp_profiler.heap.live_bytes;
    *peak = mp_profiler.heap.peak_bytes;
    mp_profiler_unlock();
}

MPROFILE_API void
mprofile_reset_peak(void)
{
    if (!atomic_load(&mp_profiler.active)) {
        return;
    }
    mp_profiler_reset_peak();
}

MPROFILE_API void
mprofile_get_counters(struct mprofile_counters *out)
{
    memset(out, 0, sizeof(*out));
    out->samples = atomic_load(&mp_profiler.samples);
    out->dropped = atomic_load(&mp_profiler.dropped);
    out->dumps = atomic_load(&mp_profiler.dumps);
    out->dump_failures = atomic_load(&mp_profiler.dump_failures);
    out->overhead_bytes = mp_profiler_memory();
    if (!atomic_load(&mp_profiler.active)) {
        return;
    }
    mp_profiler_lock();
    out->live_blocks = mp_profiler.heap.count;
    out->live_bytes = mp_profiler.heap.live_bytes;
    out->peak_bytes = mp_profiler.heap.peak_bytes;
    out->stacks = mp_profiler.stacks.nodes.len - 1;
    out->frames = mp_profiler.stacks.frames.len;
    mp_profiler_unlock();
}

MPROFILE_API int
mprofile_dump(const char *path)
{
    if (!atomic_load(&mp_profiler.active)) {
        return -ENOTSUP;
    }
    return mp_output_write(path, MP_OUTPUT_TRIGGER(MP_TRIGGER_API));
}

/* The live snapshot, or the peak's, serialised in memory. */
static int
snapshot_to_buffer(int peak, void **buf, size_t *len)
{
    if (!atomic_load(&mp_profiler.active)) {
        return -ENOTSUP;
    }
    mp_pickle_t p;
    int rc = mp_pickle_open(&p, -1);
    if (rc < 0) {
        return rc;
    }
    mp_capture_t capture;
    rc = mp_profiler_capture(&capture, peak ? MP_CAPTURE_PEAK : MP_CAPTURE_LIVE);
    if (rc == 0 && peak && capture.peak_blocks == NULL) {
        mp_profiler_release(&capture);
        rc = -ENODATA;
    } else if (rc == 0) {
        mp_snapshot_meta_t peak_meta;
        if (peak) {
            mp_profiler_peak_meta(&capture, &peak_meta);
        }
        rc = mp_snapshot_write(&p, &mp_profiler.stacks, capture.extent,
                               peak ? capture.peak_blocks : capture.blocks,
                               peak ? capture.peak_n : capture.n,
                               peak ? &peak_meta : &capture.meta);
        mp_profiler_release(&capture);
    }
    if (rc < 0) {
        mp_pickle_discard(&p);
        return rc;
    }
    return mp_pickle_finish(&p, buf, len);
}

MPROFILE_API int
mprofile_snapshot(void **buf, size_t *len)
{
    return snapshot_to_buffer(0, buf, len);
}

MPROFILE_API int
mprofile_peak_snapshot(void **buf, size_t *len)
{
    return snapshot_to_buffer(1, buf, len);
}

MPROFILE_API int
mprofile_block_stack(const void *ptr, char *names, size_t names_size, const char **filenames,
                     unsigned int *linenos, int max)
{
    if (!atomic_load(&mp_profiler.active)) {
        return 0;
    }
    mp_profiler_lock();
    mp_block_t found;
    const mp_block_t *b = mp_heap_find(&mp_profiler.heap, (uintptr_t)ptr, &found) ? &found : NULL;
    int n = 0;
    size_t used = 0;
    if (b != NULL) {
        const mp_stacks_t *s = &mp_profiler.stacks;
        for (uint32_t at = b->node; at != MP_STACKS_ROOT && n < max;
             at = mp_stacks_node(s, at)->parent) {
            const mp_frame_t *f = mp_stacks_frame_at(s, mp_stacks_node(s, at)->frame);
            if (f->filename & MP_FRAME_NATIVE) {
                continue; /* named only when a snapshot is written: the Python frames here */
            }
            const mp_str_t *name = mp_strtab_get(&s->strings, f->filename);
            if (names_size - used < (size_t)name->len + 1) {
                n = -ENOSPC;
                break;
            }
            memcpy(names + used, name->data, (size_t)name->len + 1);
            filenames[n] = names + used;
            used += (size_t)name->len + 1;
            linenos[n] = f->lineno;
            n++;
        }
    }
    mp_profiler_unlock();
    return n;
}
