/* Test helper: writes tracemalloc-like snapshot pickles byte by byte. */
#ifndef MPROFILE_REPORT_TEST_PICKLE_BUILDER_H
#define MPROFILE_REPORT_TEST_PICKLE_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pb {
    uint8_t *buf;
    size_t len, cap;
    uint32_t memo;
} pb;

typedef struct pb_frame {
    const char *file;
    int lineno;
} pb_frame;

typedef struct pb_stack {
    const pb_frame *frames; /* most recent first */
    size_t n;
} pb_stack;

static inline void pb_bytes(pb *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->buf = realloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static inline void pb_op(pb *b, uint8_t op) { pb_bytes(b, &op, 1); }

static inline void pb_le(pb *b, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pb_op(b, (uint8_t)(v >> (8 * i)));
}

static inline void pb_str(pb *b, const char *s)
{
    size_t n = strlen(s);
    if (n < 256) {
        pb_op(b, 0x8c);
        pb_le(b, n, 1);
    } else {
        pb_op(b, 'X');
        pb_le(b, n, 4);
    }
    pb_bytes(b, s, n);
}

static inline void pb_int(pb *b, int64_t v)
{
    if (v >= 0 && v < 256) {
        pb_op(b, 'K');
        pb_le(b, (uint64_t)v, 1);
    } else if (v >= 0 && v < 65536) {
        pb_op(b, 'M');
        pb_le(b, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        pb_op(b, 'J');
        pb_le(b, (uint64_t)v, 4);
    } else {
        pb_op(b, 0x8a);
        pb_op(b, 8);
        pb_le(b, (uint64_t)v, 8);
    }
}

/* An integer as Python pickles one that BININT cannot hold: LONG1 with
 * the fewest two's complement bytes (2**31 takes 5). */
static inline void pb_long1_min(pb *b, int64_t v)
{
    uint8_t bytes[8];
    size_t n = 0;
    for (;;) {
        bytes[n] = (uint8_t)((uint64_t)v >> (8 * n));
        n++;
        int64_t rest = n < 8 ? v >> (8 * n) : (v < 0 ? -1 : 0);
        int top_neg = (bytes[n - 1] & 0x80) != 0;
        if (n == 8 || (rest == 0 && !top_neg) || (rest == -1 && top_neg))
            break;
    }
    pb_op(b, 0x8a);
    pb_op(b, (uint8_t)n);
    pb_bytes(b, bytes, n);
}

/* BINFLOAT: 8 bytes, big endian. */
static inline void pb_float(pb *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    pb_op(b, 'G');
    for (int i = 7; i >= 0; i--)
        pb_op(b, (uint8_t)(u >> (8 * i)));
}

static inline void pb_bool(pb *b, int v) { pb_op(b, v ? 0x88 : 0x89); }

static inline void pb_none(pb *b) { pb_op(b, 'N'); }

static inline uint32_t pb_memoize(pb *b)
{
    pb_op(b, 0x94);
    return b->memo++;
}

static inline void pb_get(pb *b, uint32_t idx)
{
    if (idx < 256) {
        pb_op(b, 'h');
        pb_le(b, idx, 1);
    } else {
        pb_op(b, 'j');
        pb_le(b, idx, 4);
    }
}

/* Everything up to and including the EMPTY_LIST + MARK of the trace list. */
static inline void pb_snapshot_begin(pb *b)
{
    pb_op(b, 0x80);
    pb_op(b, 4);
    pb_str(b, "tracemalloc");
    pb_memoize(b);
    pb_str(b, "Snapshot");
    pb_memoize(b);
    pb_op(b, 0x93);
    pb_memoize(b);
    pb_op(b, ')');
    pb_op(b, 0x81);
    pb_memoize(b);
    pb_op(b, '}');
    pb_memoize(b);
    pb_op(b, '(');
    pb_str(b, "traces");
    pb_memoize(b);
    pb_get(b, 0);
    pb_str(b, "_Traces");
    pb_memoize(b);
    pb_op(b, 0x93);
    pb_memoize(b);
    pb_op(b, ')');
    pb_op(b, 0x81);
    pb_memoize(b);
    pb_op(b, '}');
    pb_memoize(b);
    pb_str(b, "_traces");
    pb_memoize(b);
    pb_op(b, ']');
    pb_memoize(b);
    pb_op(b, '(');
}

/* Closes the trace list and the _Traces object; then state keys may be
 * added (key, value pairs) before pb_snapshot_end. */
static inline void pb_snapshot_traces_done(pb *b, int traceback_limit)
{
    pb_op(b, 'e'); /* APPENDS */
    pb_op(b, 's'); /* SETITEM _traces */
    pb_op(b, 'b'); /* BUILD _Traces */
    pb_str(b, "traceback_limit");
    pb_int(b, traceback_limit);
}

static inline void pb_snapshot_end(pb *b)
{
    pb_op(b, 'u'); /* SETITEMS */
    pb_op(b, 'b'); /* BUILD Snapshot */
    pb_op(b, '.');
}

/* Emit the frames tuple of a stack, memoized once per stack in memo[]
 * (UINT32_MAX = not yet written) when share is set. */
static inline void pb_frames(pb *b, const pb_stack *st, uint32_t *memo, int share)
{
    if (share && *memo != UINT32_MAX) {
        pb_get(b, *memo);
        return;
    }
    pb_op(b, '(');
    for (size_t i = 0; i < st->n; i++) {
        pb_str(b, st->frames[i].file);
        pb_int(b, st->frames[i].lineno);
        pb_op(b, 0x86);
    }
    pb_op(b, 't');
    *memo = pb_memoize(b);
}

/* A trace of a domain, written with pb_int (libmprofile's encoding). */
static inline void pb_trace_domain(pb *b, int64_t domain, int64_t size, const pb_stack *st,
                                   uint32_t *memo, int share)
{
    pb_op(b, '(');
    pb_int(b, domain);
    pb_int(b, size);
    pb_frames(b, st, memo, share);
    pb_int(b, (int64_t)st->n);
    pb_op(b, 't');
    pb_memoize(b);
}

static inline void pb_trace(pb *b, int64_t size, const pb_stack *st, uint32_t *memo, int share)
{
    pb_op(b, '(');
    pb_int(b, 0);
    pb_int(b, size);
    pb_frames(b, st, memo, share);
    pb_int(b, (int64_t)st->n);
    pb_op(b, 't');
    pb_memoize(b);
}

/* The traces of a snapshot, each stack's frames memoized once; domains
 * NULL puts every trace in domain 0. */
static inline void pb_traces(pb *b, const pb_stack *stacks, size_t nstacks, const int64_t *domains,
                             const int64_t *sizes, const size_t *stack_of, size_t ntraces)
{
    uint32_t *memo = malloc((nstacks + 1) * sizeof *memo);
    for (size_t i = 0; i < nstacks; i++)
        memo[i] = UINT32_MAX;
    for (size_t i = 0; i < ntraces; i++)
        pb_trace_domain(b, domains ? domains[i] : 0, sizes[i], &stacks[stack_of[i]],
                        &memo[stack_of[i]], 1);
    free(memo);
}

/* A whole snapshot; sample_rate 0 leaves the key out; domains NULL puts
 * every trace in domain 0. */
static inline void pb_snapshot_domains(pb *b, const pb_stack *stacks, size_t nstacks,
                                       const int64_t *domains, const int64_t *sizes,
                                       const size_t *stack_of, size_t ntraces, int64_t sample_rate)
{
    pb_snapshot_begin(b);
    pb_traces(b, stacks, nstacks, domains, sizes, stack_of, ntraces);
    pb_snapshot_traces_done(b, 10);
    if (sample_rate) {
        pb_str(b, "sample_rate");
        pb_int(b, sample_rate);
    }
    pb_snapshot_end(b);
}

/* A snapshot of domain 0 whose metadata has stacks = value ("mixed":
 * frames named "<native> ..." are native); NULL leaves the key out. */
static inline void pb_snapshot_stacks(pb *b, const pb_stack *stacks, size_t nstacks,
                                      const int64_t *sizes, const size_t *stack_of, size_t ntraces,
                                      const char *value)
{
    pb_snapshot_begin(b);
    pb_traces(b, stacks, nstacks, NULL, sizes, stack_of, ntraces);
    pb_snapshot_traces_done(b, 10);
    if (value) {
        pb_str(b, "stacks");
        pb_str(b, value);
    }
    pb_snapshot_end(b);
}

/* A point of libmprofile's timeline metadata. */
typedef struct pb_point {
    double time;
    int64_t live, peak, rss;
} pb_point;

/* The value of the "timeline" key as lib/snapshot.c writes it: EMPTY_LIST,
 * then MARK, one MARK float int int int TUPLE per point, APPENDS. */
static inline void pb_timeline(pb *b, const pb_point *pts, size_t n)
{
    pb_op(b, ']');
    if (!n)
        return;
    pb_op(b, '(');
    for (size_t i = 0; i < n; i++) {
        pb_op(b, '(');
        pb_float(b, pts[i].time);
        pb_int(b, pts[i].live);
        pb_int(b, pts[i].peak);
        pb_int(b, pts[i].rss);
        pb_op(b, 't');
    }
    pb_op(b, 'e');
}

/* State keys of libmprofile's peak and timeline metadata, in its order:
 * trigger (NULL: left out), is_peak, peak_time (<= 0: None), timeline. */
static inline void pb_peak_metadata(pb *b, const char *trigger, int is_peak, double peak_time,
                                    const pb_point *pts, size_t n)
{
    if (trigger) {
        pb_str(b, "trigger");
        pb_str(b, trigger);
    }
    pb_str(b, "is_peak");
    pb_bool(b, is_peak);
    pb_str(b, "peak_time");
    if (peak_time > 0)
        pb_float(b, peak_time);
    else
        pb_none(b);
    pb_str(b, "timeline");
    pb_timeline(b, pts, n);
}

/* An entry of the frame_names metadata: ((file, lineno), name). */
typedef struct pb_name {
    const char *file;
    int lineno;
    const char *name;
} pb_name;

/* The state key "frame_names" and its list, as docs/format.md describes it. */
static inline void pb_frame_names(pb *b, const pb_name *names, size_t n)
{
    pb_str(b, "frame_names");
    pb_op(b, ']');
    if (!n)
        return;
    pb_op(b, '(');
    for (size_t i = 0; i < n; i++) {
        pb_str(b, names[i].file);
        pb_int(b, names[i].lineno);
        pb_op(b, 0x86); /* TUPLE2 */
        pb_str(b, names[i].name);
        pb_op(b, 0x86);
    }
    pb_op(b, 'e');
}

static inline void pb_snapshot(pb *b, const pb_stack *stacks, size_t nstacks, const int64_t *sizes,
                               const size_t *stack_of, size_t ntraces, int64_t sample_rate)
{
    pb_snapshot_domains(b, stacks, nstacks, NULL, sizes, stack_of, ntraces, sample_rate);
}

#endif
