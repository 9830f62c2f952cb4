#include "snapshot.h"

#include <errno.h>
#include <stdlib.h>

#include "alloc.h"
#include "native_names.h"

#include "mprofile/mprofile.h"

/* Items per APPENDS: pickle's own batch size, which bounds the unpickler's stack. */
#define APPENDS_BATCH 1000

/* Memo indexes are stored plus one, so that zero means "not written yet". */
typedef struct {
    uint32_t *strings;
    uint32_t *frames;
    uint32_t *nodes;
    uint32_t *path; /* scratch: frame ids of one stack, newest first */
    const mp_native_names_t *native; /* NULL with Python stacks */
} memo_t;

static void
write_frame(mp_pickle_t *p, const mp_stacks_t *stacks, memo_t *memo, uint32_t frame_id)
{
    if (memo->frames[frame_id] != 0) {
        mp_pickle_get(p, memo->frames[frame_id] - 1);
        return;
    }
    const mp_frame_t *f = mp_stacks_frame_at(stacks, frame_id);
    if (f->filename & MP_FRAME_NATIVE) {
        const char *name = memo->native != NULL ? memo->native->names[frame_id] : NULL;
        mp_pickle_cstr(p, name != NULL ? name : "<native> ??");
        mp_pickle_int(p, 0);
        mp_pickle_tuple(p, 2);
        memo->frames[frame_id] = mp_pickle_memoize(p) + 1;
        return;
    }
    if (memo->strings[f->filename] != 0) {
        mp_pickle_get(p, memo->strings[f->filename] - 1);
    } else {
        const mp_str_t *s = mp_strtab_get(&stacks->strings, f->filename);
        mp_pickle_str(p, s->data, s->len);
        memo->strings[f->filename] = mp_pickle_memoize(p) + 1;
    }
    mp_pickle_int(p, f->lineno);
    mp_pickle_tuple(p, 2);
    memo->frames[frame_id] = mp_pickle_memoize(p) + 1;
}

/* Pushes the tuple of frames of a stack, newest first. */
static void
write_stack(mp_pickle_t *p, const mp_stacks_t *stacks, memo_t *memo, uint32_t node)
{
    if (memo->nodes[node] != 0) {
        mp_pickle_get(p, memo->nodes[node] - 1);
        return;
    }
    uint32_t n = 0;
    for (uint32_t at = node; at != MP_STACKS_ROOT; at = mp_stacks_node(stacks, at)->parent) {
        memo->path[n++] = mp_stacks_node(stacks, at)->frame;
    }
    if (n > 3) {
        mp_pickle_op(p, MP_PICKLE_MARK);
    }
    for (uint32_t i = 0; i < n; i++) {
        write_frame(p, stacks, memo, memo->path[i]);
    }
    mp_pickle_tuple(p, n);
    memo->nodes[node] = mp_pickle_memoize(p) + 1;
}

/* The function of every Python frame the traces used (docs/format.md, "Function names"):
 * ((filename, lineno), name) pairs, the frame and the name memoized. A name interned after the
 * extent was taken is left out: it has no memo slot, and the frame was named by another code
 * object already or is named in the next snapshot. */
static void
write_frame_names(mp_pickle_t *p, const mp_stacks_t *stacks, mp_stacks_extent_t extent,
                  memo_t *memo)
{
    mp_pickle_cstr(p, "frame_names");
    mp_pickle_op(p, MP_PICKLE_EMPTY_LIST);
    uint32_t batch = 0;
    for (uint32_t f = 0; f < extent.frames; f++) {
        int64_t name = mp_stacks_frame_name(stacks, f);
        if (memo->frames[f] == 0 || name < 0 || name >= extent.strings) {
            continue;
        }
        if (batch == 0) {
            mp_pickle_op(p, MP_PICKLE_MARK);
        }
        mp_pickle_get(p, memo->frames[f] - 1);
        if (memo->strings[name] != 0) {
            mp_pickle_get(p, memo->strings[name] - 1);
        } else {
            const mp_str_t *str = mp_strtab_get(&stacks->strings, (uint32_t)name);
            mp_pickle_str(p, str->data, str->len);
            memo->strings[name] = mp_pickle_memoize(p) + 1;
        }
        mp_pickle_tuple(p, 2);
        if (++batch == APPENDS_BATCH) {
            mp_pickle_op(p, MP_PICKLE_APPENDS);
            batch = 0;
        }
    }
    if (batch != 0) {
        mp_pickle_op(p, MP_PICKLE_APPENDS);
    }
}

/* The objects of native frames, and where each native frame is in its object: what a pprof
 * profile needs for its mappings and locations (docs/format.md). */
static void
write_native_metadata(mp_pickle_t *p, const mp_stacks_t *stacks, mp_stacks_extent_t extent,
                      const mp_native_names_t *names, const mp_snapshot_meta_t *meta)
{
    mp_pickle_cstr(p, "native_objects");
    mp_pickle_op(p, MP_PICKLE_EMPTY_LIST);
    mp_pickle_op(p, MP_PICKLE_MARK);
    for (uint32_t i = 0; i < meta->objects_count; i++) {
        const mp_object_t *obj = mp_objects_at(meta->objects, i);
        mp_pickle_op(p, MP_PICKLE_MARK);
        mp_pickle_cstr(p, mp_strtab_get(&meta->objects->paths, obj->path)->data);
        if (obj->build_id_len > 0) {
            char hex[2 * MP_BUILD_ID_MAX + 1];
            for (int k = 0; k < obj->build_id_len; k++) {
                hex[2 * k] = "0123456789abcdef"[obj->build_id[k] >> 4];
                hex[2 * k + 1] = "0123456789abcdef"[obj->build_id[k] & 15];
            }
            mp_pickle_str(p, hex, 2 * (size_t)obj->build_id_len);
        } else {
            mp_pickle_none(p);
        }
        mp_pickle_uint(p, obj->lo - obj->bias);
        mp_pickle_uint(p, obj->hi - obj->bias);
        mp_pickle_op(p, MP_PICKLE_TUPLE);
    }
    mp_pickle_op(p, MP_PICKLE_APPENDS);
    mp_pickle_cstr(p, "native_frames");
    mp_pickle_op(p, MP_PICKLE_EMPTY_LIST);
    mp_pickle_op(p, MP_PICKLE_MARK);
    for (uint32_t f = 0; f < extent.frames; f++) {
        const mp_frame_t *fr = mp_stacks_frame_at(stacks, f);
        if (!(fr->filename & MP_FRAME_NATIVE) || names->names[f] == NULL) {
            continue;
        }
        uint32_t object = fr->filename & ~MP_FRAME_NATIVE;
        mp_pickle_op(p, MP_PICKLE_MARK);
        mp_pickle_cstr(p, names->names[f]);
        if (object < meta->objects_count) {
            mp_pickle_uint(p, object);
        } else {
            mp_pickle_none(p);
        }
        mp_pickle_uint(p, fr->lineno);
        mp_pickle_op(p, MP_PICKLE_TUPLE);
    }
    mp_pickle_op(p, MP_PICKLE_APPENDS);
}

const char *
mp_snapshot_trigger_name(mp_trigger_t trigger)
{
    static const char *const names[MP_TRIGGERS] = {"api",       "exit",     "signal",
                                                   "terminate", "interval", "growth"};
    return trigger < MP_TRIGGERS ? names[trigger] : "api";
}

/* [(time, live_bytes, peak_bytes, rss_bytes), ...], oldest first. */
static void
write_timeline(mp_pickle_t *p, const mp_snapshot_meta_t *meta)
{
    mp_pickle_cstr(p, "timeline");
    mp_pickle_op(p, MP_PICKLE_EMPTY_LIST);
    if (meta->timeline_count == 0) {
        return;
    }
    mp_pickle_op(p, MP_PICKLE_MARK);
    for (int i = 0; i < meta->timeline_count; i++) {
        const mp_timeline_point_t *pt = &meta->timeline[i];
        mp_pickle_op(p, MP_PICKLE_MARK);
        mp_pickle_float(p, pt->time);
        mp_pickle_uint(p, pt->live_bytes);
        mp_pickle_uint(p, pt->peak_bytes);
        mp_pickle_uint(p, pt->rss_bytes);
        mp_pickle_op(p, MP_PICKLE_TUPLE);
    }
    mp_pickle_op(p, MP_PICKLE_APPENDS);
}

static void
write_metadata(mp_pickle_t *p, const mp_snapshot_meta_t *meta)
{
    mp_pickle_cstr(p, "trigger");
    mp_pickle_cstr(p, mp_snapshot_trigger_name(meta->trigger));
    mp_pickle_cstr(p, "is_peak");
    mp_pickle_bool(p, meta->is_peak);
    mp_pickle_cstr(p, "peak_time");
    if (meta->peak_time > 0) {
        mp_pickle_float(p, meta->peak_time);
    } else {
        mp_pickle_none(p);
    }
    write_timeline(p, meta);
    mp_pickle_cstr(p, "stacks");
    mp_pickle_cstr(p, meta->objects != NULL ? "mixed" : "python");
    mp_pickle_cstr(p, "traceback_limit");
    mp_pickle_int(p, meta->traceback_limit);
    mp_pickle_cstr(p, "pid");
    mp_pickle_int(p, meta->pid);
    mp_pickle_cstr(p, "time");
    mp_pickle_float(p, meta->time);
    mp_pickle_cstr(p, "python_version");
    if (meta->python_version != NULL) {
        mp_pickle_cstr(p, meta->python_version);
    } else {
        mp_pickle_none(p);
    }
    mp_pickle_cstr(p, "mprofile_version");
    mp_pickle_cstr(p, MPROFILE_VERSION);
    const struct {
        const char *key;
        uint64_t value;
    } counts[] = {
        {"sample_rate", meta->sample_rate},         {"live_bytes", meta->live_bytes},
        {"peak_bytes", meta->peak_bytes},           {"dropped_samples", meta->dropped_samples},
        {"profiler_memory", meta->profiler_memory}, {"samples", meta->samples},
        {"dump_failures", meta->dump_failures},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        mp_pickle_cstr(p, counts[i].key);
        mp_pickle_uint(p, counts[i].value);
    }
    mp_pickle_cstr(p, "memory_budget");
    mp_pickle_uint(p, meta->memory_budget);
    mp_pickle_cstr(p, "memory_budget_reached");
    if (meta->memory_budget_reached >= 0) {
        mp_pickle_float(p, meta->memory_budget_reached);
    } else {
        mp_pickle_none(p);
    }
}

unsigned
mp_snapshot_domain(const mp_snapshot_meta_t *meta, unsigned origin)
{
    if (origin < MP_ORIGIN_NATIVE) {
        return 0; /* tracemalloc's DEFAULT_DOMAIN for all three allocator domains */
    }
    if (origin == MP_ORIGIN_NATIVE) {
        return MPROFILE_NATIVE_DOMAIN;
    }
    unsigned i = origin - MP_ORIGIN_TRACKED;
    return meta->tracked_domains != NULL && i < meta->tracked_count ? meta->tracked_domains[i]
                                                                      : 0;
}

int
mp_snapshot_write(mp_pickle_t *p, const mp_stacks_t *stacks, mp_stacks_extent_t extent,
                  const mp_block_t *blocks, size_t n, const mp_snapshot_meta_t *meta)
{
    size_t sizes[4] = {
        ((size_t)extent.strings + 1) * sizeof(uint32_t),
        ((size_t)extent.frames + 1) * sizeof(uint32_t),
        ((size_t)extent.nodes + 1) * sizeof(uint32_t),
        MP_STACK_MAX_DEPTH * sizeof(uint32_t),
    };
    memo_t memo = {
        .strings = mp_alloc_scratch(sizes[0]),
        .frames = mp_alloc_scratch(sizes[1]),
        .nodes = mp_alloc_scratch(sizes[2]),
        .path = mp_alloc_scratch(sizes[3]),
    };
    mp_native_names_t names = {0};
    int rc = 0;
    if (!memo.strings || !memo.frames || !memo.nodes || !memo.path) {
        rc = -ENOMEM;
        goto out;
    }
    if (meta->objects != NULL) {
        rc = mp_native_names_make(&names, stacks, extent, meta->objects, meta->objects_count);
        if (rc < 0) {
            goto out;
        }
        memo.native = &names;
    }

    mp_pickle_global(p, "tracemalloc", "Snapshot");
    mp_pickle_op(p, MP_PICKLE_EMPTY_TUPLE);
    mp_pickle_op(p, MP_PICKLE_NEWOBJ);
    mp_pickle_op(p, MP_PICKLE_EMPTY_DICT);
    mp_pickle_op(p, MP_PICKLE_MARK);

    mp_pickle_cstr(p, "traces");
    mp_pickle_global(p, "tracemalloc", "_Traces");
    mp_pickle_op(p, MP_PICKLE_EMPTY_TUPLE);
    mp_pickle_op(p, MP_PICKLE_NEWOBJ);
    mp_pickle_op(p, MP_PICKLE_EMPTY_DICT);
    mp_pickle_cstr(p, "_traces");
    /* A list, not a tuple: Snapshot.filter_traces() copies it with list methods. */
    mp_pickle_op(p, MP_PICKLE_EMPTY_LIST);
    for (size_t i = 0; i < n; i++) {
        if (i % APPENDS_BATCH == 0) {
            mp_pickle_op(p, MP_PICKLE_MARK);
        }
        const mp_block_t *b = &blocks[i];
        mp_pickle_op(p, MP_PICKLE_MARK);
        mp_pickle_uint(p, mp_snapshot_domain(meta, b->origin));
        mp_pickle_uint(p, b->weight);
        write_stack(p, stacks, &memo, b->node);
        mp_pickle_int(p, b->total_nframe);
        mp_pickle_op(p, MP_PICKLE_TUPLE);
        if (i % APPENDS_BATCH == APPENDS_BATCH - 1 || i == n - 1) {
            mp_pickle_op(p, MP_PICKLE_APPENDS);
        }
    }
    mp_pickle_op(p, MP_PICKLE_SETITEM); /* {'_traces': list} */
    mp_pickle_op(p, MP_PICKLE_BUILD);

    write_metadata(p, meta);
    write_frame_names(p, stacks, extent, &memo);
    if (meta->objects != NULL) {
        write_native_metadata(p, stacks, extent, &names, meta);
    }
    mp_pickle_op(p, MP_PICKLE_SETITEMS);
    mp_pickle_op(p, MP_PICKLE_BUILD);
out:
    mp_native_names_release(&names);
    mp_alloc_release_scratch(memo.strings, sizes[0]);
    mp_alloc_release_scratch(memo.frames, sizes[1]);
    mp_alloc_release_scratch(memo.nodes, sizes[2]);
    mp_alloc_release_scratch(memo.path, sizes[3]);
    return rc;
}
