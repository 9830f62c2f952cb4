/* pprof output (--format pprof): the live memory of a snapshot as a gzipped
 * profile.proto (github.com/google/pprof, proto/profile.proto), the format
 * of go tool pprof and of continuous profiling servers (docs/report.md,
 * "pprof").  Like collapsed stacks it wants whole stacks: one sample per
 * distinct stack, and per domain when the snapshot has domains other than
 * python (label "domain"); domain and filename filters and --python-only
 * select the traces, grouping options do not apply.
 *
 * - Sample types inuse_objects/count and inuse_space/bytes: the profiler
 *   only knows live memory.  Values are already unsampled (the snapshot's
 *   sizes are estimates, counts are the report's estimates), with
 *   period_type space/bytes and period = sample_rate, as Go heap profiles.
 * - A Function per (name, file): the frame's function from frame_names,
 *   else "file:lineno" ("file" for line 0); a Location per frame, with one
 *   Line (function, line number), leaf first in each sample.
 * - Native frames of mixed snapshots: a Function named after the frame
 *   ("deflate (libz.so.1)", without "<native> "), whose Location lies in
 *   the Mapping of its object (one per valid entry of native_objects) at
 *   the frame's offset (native_frames).  Python frames have no mapping:
 *   they have no address and no object file, and pprof needs neither; an
 *   invented mapping would only invite pprof to look for a binary.
 *
 * Ids of mappings, locations and functions are 1, 2, 3 ... in the order
 * they are written; string 0 is "". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "gzip_write.h"
#include "protobuf.h"
#include "strtab.h"

/* Field numbers of profile.proto. */
enum {
    PROFILE_SAMPLE_TYPE = 1,
    PROFILE_SAMPLE = 2,
    PROFILE_MAPPING = 3,
    PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5,
    PROFILE_STRING_TABLE = 6,
    PROFILE_TIME_NANOS = 9,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_COMMENT = 13,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3 };
enum { LABEL_KEY = 1, LABEL_STR = 2 };
enum {
    MAPPING_ID = 1,
    MAPPING_MEMORY_START = 2,
    MAPPING_MEMORY_LIMIT = 3,
    MAPPING_FILENAME = 5,
    MAPPING_BUILD_ID = 6,
    MAPPING_HAS_FUNCTIONS = 7,
};
enum { LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4 };
enum { LINE_FUNCTION_ID = 1, LINE_LINE = 2 };
enum { FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_FILENAME = 4 };

#define NATIVE_PREFIX_LEN 9 /* "<native> " */

typedef struct pprof_sample {
    int32_t stack;
    int64_t domain;
    int64_t size;
    double count;
} pprof_sample;

typedef struct pprof_mapping {
    uint64_t start, limit;
    int64_t filename, build_id;
} pprof_mapping;

typedef struct pprof_location {
    uint64_t mapping_id, address, function_id;
    int64_t line;
} pprof_location;

typedef struct pprof_function {
    int64_t name, filename;
} pprof_function;

typedef struct builder {
    const snapshot *snap;
    intern *in;
    strtab strings;
    /* (name, filename) string indexes of each function: id = index + 1. */
    strtab function_keys;
    pprof_function *functions;
    size_t capfunctions;
    uint64_t *frame_location; /* per frame id: its location id, 0 = none yet */
    pprof_location *locations;
    size_t nlocations, caplocations;
    uint64_t unknown_location; /* of a stack without frames, 0 = none yet */
    uint64_t *object_mapping;  /* per index of native_objects: mapping id, 0 = none */
    pprof_mapping *mappings;
    size_t nmappings;
    pprof_sample *samples;
    size_t nsamples, capsamples;
} builder;

static void builder_free(builder *b)
{
    strtab_free(&b->strings);
    strtab_free(&b->function_keys);
    free(b->functions);
    free(b->frame_location);
    free(b->locations);
    free(b->object_mapping);
    free(b->mappings);
    free(b->samples);
}

static int64_t str(builder *b, const char *s, size_t len)
{
    return strtab_add(&b->strings, s, len);
}

static int64_t cstr(builder *b, const char *s)
{
    return str(b, s, strlen(s));
}

/* The id of the function (name, filename), added when new; 0 when out of memory. */
static uint64_t function_id(builder *b, int64_t name, int64_t filename)
{
    if (name < 0 || filename < 0)
        return 0;
    int64_t key[2] = {name, filename};
    size_t before = strtab_count(&b->function_keys);
    int64_t idx = strtab_add(&b->function_keys, key, sizeof key);
    if (idx < 0)
        return 0;
    if ((size_t)idx == before) {
        if (before == b->capfunctions) {
            size_t cap = b->capfunctions ? 2 * b->capfunctions : 64;
            pprof_function *f = realloc(b->functions, cap * sizeof *f);
            if (!f)
                return 0;
            b->functions = f;
            b->capfunctions = cap;
        }
        b->functions[idx] = (pprof_function){name, filename};
    }
    return (uint64_t)idx + 1;
}

static uint64_t add_location(builder *b, pprof_location loc)
{
    if (b->nlocations == b->caplocations) {
        size_t cap = b->caplocations ? 2 * b->caplocations : 64;
        pprof_location *p = realloc(b->locations, cap * sizeof *p);
        if (!p)
            return 0;
        b->locations = p;
        b->caplocations = cap;
    }
    b->locations[b->nlocations++] = loc;
    return b->nlocations;
}

/* The name of a Python frame's function: from frame_names, else
 * "file:lineno", or the file alone for line 0 ("<unknown>"). */
static int64_t python_function_name(builder *b, int32_t frame, const char *file, size_t flen,
                                     int64_t lineno)
{
    size_t len;
    const char *name = intern_frame_name(b->in, frame, &len);
    if (name)
        return str(b, name, len);
    if (lineno == 0)
        return str(b, file, flen);
    char *buf = malloc(flen + 24);
    if (!buf)
        return -1;
    memcpy(buf, file, flen);
    int n = snprintf(buf + flen, 24, ":%lld", (long long)lineno);
    int64_t idx = n > 0 ? str(b, buf, flen + (size_t)n) : -1;
    free(buf);
    return idx;
}

/* The location of a frame, added the first time; 0 when out of memory. */
static uint64_t frame_location(builder *b, int32_t frame)
{
    if (b->frame_location[frame])
        return b->frame_location[frame];
    int32_t file = intern_frame_file(b->in, frame);
    int64_t lineno = intern_frame_lineno(b->in, frame);
    size_t flen;
    const char *fname = intern_file_name(b->in, file, &flen);
    pprof_location loc = {.line = lineno};
    if (snapshot_native_file(b->snap, b->in, file)) {
        /* No source file: the object is the mapping's. */
        int64_t name = str(b, fname + NATIVE_PREFIX_LEN, flen - NATIVE_PREFIX_LEN);
        loc.function_id = function_id(b, name, 0);
        const native_address *a = snapshot_native_address(b->snap, file);
        if (a) {
            loc.address = a->offset;
            if (a->object >= 0 && (uint64_t)a->object < b->snap->nnative_objects)
                loc.mapping_id = b->object_mapping[a->object];
        }
    } else {
        loc.function_id = function_id(b, python_function_name(b, frame, fname, flen, lineno),
                                      str(b, fname, flen));
    }
    if (!loc.function_id)
        return 0;
    return b->frame_location[frame] = add_location(b, loc);
}

/* A stack recorded without any frame (hostile or hand-made input). */
static uint64_t unknown_location(builder *b)
{
    if (!b->unknown_location) {
        int64_t name = cstr(b, "<unknown>");
        pprof_location loc = {.function_id = function_id(b, name, name)};
        if (loc.function_id)
            b->unknown_location = add_location(b, loc);
    }
    return b->unknown_location;
}

/* One mapping per valid object of native_objects, in their order, when the
 * snapshot's native frames are kept. */
static int add_mappings(builder *b)
{
    const snapshot *s = b->snap;
    if (!s->mixed || s->native_dropped || !s->nnative_objects)
        return 0;
    b->object_mapping = calloc(s->nnative_objects, sizeof *b->object_mapping);
    b->mappings = calloc(s->nnative_objects, sizeof *b->mappings);
    if (!b->object_mapping || !b->mappings)
        return -1;
    for (size_t i = 0; i < s->nnative_objects; i++) {
        const native_object *o = snapshot_native_object(s, (int64_t)i);
        if (!o)
            continue;
        pprof_mapping *m = &b->mappings[b->nmappings];
        *m = (pprof_mapping){.start = o->start, .limit = o->end,
                             .filename = str(b, o->path, o->path_len),
                             .build_id = o->build_id ? str(b, o->build_id, o->build_id_len) : 0};
        if (m->filename < 0 || m->build_id < 0)
            return -1;
        b->object_mapping[i] = ++b->nmappings;
    }
    return 0;
}

static int add_sample(void *ctx, int64_t domain, int32_t stack, const stack_acc *a)
{
    builder *b = ctx;
    if (b->nsamples == b->capsamples) {
        size_t cap = b->capsamples ? 2 * b->capsamples : 256;
        pprof_sample *p = realloc(b->samples, cap * sizeof *p);
        if (!p)
            return -1;
        b->samples = p;
        b->capsamples = cap;
    }
    b->samples[b->nsamples++] = (pprof_sample){stack, domain, a->size, a->count};
    return 0;
}

static void write_value_type(proto_buf *out, proto_buf *msg, uint32_t field, int64_t type,
                             int64_t unit)
{
    proto_reset(msg);
    proto_int64(msg, VALUE_TYPE_TYPE, type);
    proto_int64(msg, VALUE_TYPE_UNIT, unit);
    proto_message(out, field, msg);
}

/* Nanoseconds since the epoch of the metadata "time" (seconds), or 0 when
 * absent or out of range. */
static int64_t time_nanos(const snapshot *s)
{
    const meta_entry *m = snapshot_meta(s, "time");
    double t = !m ? 0 : m->kind == META_FLOAT ? m->f : m->kind == META_INT ? (double)m->i : 0;
    if (!isfinite(t) || t <= 0 || t >= 9e9)
        return 0;
    /* Whole seconds apart: t * 1e9 would round to a multiple of 256 ns. */
    double whole = floor(t);
    return (int64_t)whole * 1000000000 + llround((t - whole) * 1e9);
}

/* The samples, leaf first, with counts rounded so that every prefix of
 * the list sums to its rounded estimate: each value is within 1 of its
 * estimate and the total is the report's rounded total. */
static void write_samples(proto_buf *out, proto_buf *msg, proto_buf *label, builder *b, int labeled,
                          int64_t domain_key, uint64_t *ids)
{
    double cum = 0;
    long long shown = 0;
    for (size_t i = 0; i < b->nsamples && !proto_failed(out); i++) {
        const pprof_sample *smp = &b->samples[i];
        size_t nf;
        const int32_t *frames = intern_stack_frames(b->in, smp->stack, &nf);
        size_t n = 0;
        if (nf == 0)
            ids[n++] = unknown_location(b);
        for (size_t k = 0; k < nf; k++)
            ids[n++] = frame_location(b, frames[k]);
        for (size_t k = 0; k < n; k++)
            if (!ids[k])
                out->failed = 1;
        cum += smp->count;
        /* Counts are at most the sizes, whose total fits in 64 bits; the
         * bound keeps llround in range even so (rounding may reach 2^63). */
        long long upto = cum < 9e18 ? llround(cum) : 9000000000000000000LL;
        int64_t values[2] = {upto - shown, smp->size};
        shown = upto;
        proto_reset(msg);
        proto_packed_uint64(msg, SAMPLE_LOCATION_ID, ids, n);
        proto_packed_int64(msg, SAMPLE_VALUE, values, 2);
        if (labeled) {
            char name[32];
            domain_name(name, sizeof name, smp->domain);
            int64_t value = cstr(b, name);
            if (value < 0)
                out->failed = 1;
            proto_reset(label);
            proto_int64(label, LABEL_KEY, domain_key);
            proto_int64(label, LABEL_STR, value);
            proto_message(msg, SAMPLE_LABEL, label);
        }
        proto_message(out, PROFILE_SAMPLE, msg);
    }
}

static void write_tables(proto_buf *out, proto_buf *msg, proto_buf *line, const builder *b)
{
    for (size_t i = 0; i < b->nmappings; i++) {
        const pprof_mapping *m = &b->mappings[i];
        proto_reset(msg);
        proto_uint64(msg, MAPPING_ID, i + 1);
        proto_uint64(msg, MAPPING_MEMORY_START, m->start);
        proto_uint64(msg, MAPPING_MEMORY_LIMIT, m->limit);
        proto_int64(msg, MAPPING_FILENAME, m->filename);
        proto_int64(msg, MAPPING_BUILD_ID, m->build_id);
        /* Its locations carry their functions: nothing to symbolize. */
        proto_bool(msg, MAPPING_HAS_FUNCTIONS, 1);
        proto_message(out, PROFILE_MAPPING, msg);
    }
    for (size_t i = 0; i < b->nlocations; i++) {
        const pprof_location *l = &b->locations[i];
        proto_reset(line);
        proto_uint64(line, LINE_FUNCTION_ID, l->function_id);
        proto_int64(line, LINE_LINE, l->line);
        proto_reset(msg);
        proto_uint64(msg, LOCATION_ID, i + 1);
        proto_uint64(msg, LOCATION_MAPPING_ID, l->mapping_id);
        proto_uint64(msg, LOCATION_ADDRESS, l->address);
        proto_message(msg, LOCATION_LINE, line);
        proto_message(out, PROFILE_LOCATION, msg);
    }
    for (size_t i = 0; i < strtab_count(&b->function_keys); i++) {
        proto_reset(msg);
        proto_uint64(msg, FUNCTION_ID, i + 1);
        /* No system_name: pprof demangles a function whose system_name is
         * its name, and its heuristic for C++ names would cut "<listcomp>"
         * or "<module>" down to nothing.  The name is final. */
        proto_int64(msg, FUNCTION_NAME, b->functions[i].name);
        proto_int64(msg, FUNCTION_FILENAME, b->functions[i].filename);
        proto_message(out, PROFILE_FUNCTION, msg);
    }
}

/* Free-form lines that go tool pprof shows above its reports. */
static int add_comments(builder *b, const report *rep, int64_t *ids, size_t *n)
{
    char buf[256];
    const snapshot *s = b->snap;
    *n = 0;
    ids[(*n)++] = cstr(b, "mprofile snapshot, live memory");
    if (snapshot_is_sampled(s)) {
        snprintf(buf, sizeof buf, "sampled: sample_rate=%lld bytes, values are estimates",
                 (long long)s->sample_rate);
        ids[(*n)++] = cstr(b, buf);
    }
    if (s->native_dropped)
        ids[(*n)++] = cstr(b, "native frames dropped (--python-only)");
    if (rep->opts->nfilters || rep->opts->ndomains)
        ids[(*n)++] = cstr(b, "filtered: only the traces selected by the report's options");
    for (size_t i = 0; i < *n; i++)
        if (ids[i] < 0)
            return -1;
    return 0;
}

/* The whole Profile message into out. */
static int encode(proto_buf *out, builder *b, const report *rep)
{
    proto_buf msg = {0}, sub = {0};
    uint64_t *ids = NULL;
    int64_t comments[4];
    size_t ncomments;
    int rc = -1;
    int64_t empty = cstr(b, ""), objects = cstr(b, "inuse_objects"), count = cstr(b, "count"),
            space = cstr(b, "inuse_space"), bytes = cstr(b, "bytes"), space_type = cstr(b, "space"),
            domain_key = cstr(b, "domain");
    if (empty != 0 || objects < 0 || count < 0 || space < 0 || bytes < 0 || space_type < 0 ||
        domain_key < 0 || add_comments(b, rep, comments, &ncomments) < 0 || add_mappings(b) < 0)
        goto out;
    size_t maxframes = 1;
    for (size_t i = 0; i < b->nsamples; i++) {
        size_t nf;
        intern_stack_frames(b->in, b->samples[i].stack, &nf);
        maxframes = nf > maxframes ? nf : maxframes;
    }
    ids = malloc(maxframes * sizeof *ids);
    b->frame_location = calloc(intern_nframes(b->in) + 1, sizeof *b->frame_location);
    if (!ids || !b->frame_location)
        goto out;
    write_value_type(out, &msg, PROFILE_SAMPLE_TYPE, objects, count);
    write_value_type(out, &msg, PROFILE_SAMPLE_TYPE, space, bytes);
    write_samples(out, &msg, &sub, b, snapshot_has_domains(b->snap), domain_key, ids);
    write_tables(out, &msg, &sub, b);
    for (size_t i = 0; i < strtab_count(&b->strings); i++) {
        size_t len;
        const char *s = strtab_get(&b->strings, i, &len);
        proto_bytes(out, PROFILE_STRING_TABLE, s, len);
    }
    proto_int64(out, PROFILE_TIME_NANOS, time_nanos(b->snap));
    write_value_type(out, &msg, PROFILE_PERIOD_TYPE, space_type, bytes);
    proto_int64(out, PROFILE_PERIOD, b->snap->sample_rate);
    proto_packed_int64(out, PROFILE_COMMENT, comments, ncomments);
    proto_int64(out, PROFILE_DEFAULT_SAMPLE_TYPE, space);
    rc = proto_failed(out) || proto_failed(&msg) || proto_failed(&sub) ? -1 : 0;
out:
    free(ids);
    proto_free(&msg);
    proto_free(&sub);
    return rc;
}

int format_pprof(FILE *out, const report *rep)
{
    builder b = {.snap = rep->snap, .in = rep->in};
    uint8_t *pass = NULL;
    proto_buf profile = {0};
    int rc = -1;
    if (aggregate_stack_filter(rep->snap, rep->in, rep->opts, &pass) < 0 ||
        report_each_stack(rep, rep->snap, pass, add_sample, &b) < 0 ||
        encode(&profile, &b, rep) < 0)
        goto out;
    rc = gzip_write(out, profile.data, profile.len);
out:
    free(pass);
    proto_free(&profile);
    builder_free(&b);
    return rc < 0 || ferror(out) ? -1 : 0;
}
