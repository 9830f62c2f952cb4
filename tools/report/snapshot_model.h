/* A loaded snapshot, reduced to what the reports need: metadata and, per
 * distinct stack (and per domain, when there are several), the sums over
 * its traces.  Traces themselves are not kept: every report (grouping,
 * filters, domains, cumulative, diff, collapsed) is a function of these
 * per-stack sums, which is what makes huge snapshots cheap. */
#ifndef MPROFILE_REPORT_SNAPSHOT_MODEL_H
#define MPROFILE_REPORT_SNAPSHOT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "intern.h"

typedef struct stack_acc {
    int64_t size;   /* sum of recorded sizes (estimated bytes when sampled) */
    int64_t traces; /* number of traces */
    double count;   /* estimated allocations (= traces when exact) */
    double var;     /* variance of the size estimate (0 when exact) */
} stack_acc;

/* Totals of one tracemalloc domain (the first item of a trace). */
typedef struct domain_total {
    int64_t domain;
    stack_acc sum;
} domain_total;

/* Sums of the traces of one stack in one domain. */
typedef struct stack_domain_acc {
    int32_t stack;
    uint32_t domain; /* index in snapshot.domains */
    stack_acc acc;
} stack_domain_acc;

enum meta_kind { META_INT, META_FLOAT, META_STR, META_BOOL, META_NONE };

typedef struct meta_entry {
    char *key;
    int kind;
    int64_t i;
    double f;
    char *s; /* META_STR: NUL-terminated copy (may contain no NUL) */
    size_t slen;
} meta_entry;

/* One point of the memory timeline (metadata "timeline"): the estimated
 * live bytes, their highest value so far and the process's RSS at a Unix
 * time. */
typedef struct timeline_point {
    double time;
    int64_t live_bytes, peak_bytes, rss_bytes;
} timeline_point;

/* An object of metadata "native_objects" (docs/format.md, "Native
 * frames"): its path, GNU build id (NULL when it has none) and the span of
 * its executable segments in the file's terms.  An entry of another shape
 * keeps its index (frames refer to objects by index) with valid = 0. */
typedef struct native_object {
    int valid;
    char *path;
    size_t path_len;
    char *build_id;
    size_t build_id_len;
    uint64_t start, end;
} native_object;

/* An entry of metadata "native_frames": the file id of a native frame's
 * name, the index of its object in native_objects (-1 for none) and its
 * return address in the object's terms. */
typedef struct native_address {
    int32_t file;
    int64_t object;
    uint64_t offset;
} native_address;

/* Longest timeline kept: libmprofile writes at most 512 points. */
#define SNAPSHOT_MAX_TIMELINE 65536

typedef struct snapshot {
    char *path;
    int64_t traceback_limit;
    int has_traceback_limit;
    int64_t sample_rate; /* 1 when absent */
    meta_entry *meta;    /* every scalar key of the state besides traces */
    size_t nmeta;
    /* Metadata "timeline" when it is a list of at most SNAPSHOT_MAX_TIMELINE
     * (time, live_bytes, peak_bytes, rss_bytes) tuples (time a finite
     * number, the sizes non-negative integers): has_timeline is set and
     * timeline holds ntimeline points, possibly none.  A timeline of any
     * other shape is ignored, as if absent.  timeline_meta_pos: the number
     * of meta entries before it, to list the metadata in file order. */
    int has_timeline;
    timeline_point *timeline;
    size_t ntimeline;
    size_t timeline_meta_pos;
    size_t ntraces;
    /* stacks == "mixed": frames named "<native> ..." are native (C) frames,
     * and native_frames counts the distinct ones of the traces. */
    int mixed;
    size_t native_frames;
    /* Loaded with SNAPSHOT_PYTHON_ONLY from a mixed snapshot: its stacks
     * have no native frame left. */
    int native_dropped;
    /* Metadata "native_objects" and "native_frames", when they are lists
     * (ill-formed entries of native_frames are left out); the addresses
     * are sorted by file id, then offset. */
    native_object *native_objects;
    size_t nnative_objects;
    native_address *native_addresses;
    size_t nnative_addresses;
    /* Loaded with SNAPSHOT_HIDE_IMPORTS. */
    int imports_hidden;
    stack_acc *acc; /* indexed by stack id, every domain; nacc may be < intern_nstacks */
    size_t nacc;
    domain_total *domains; /* the domains of the traces, ascending; none without traces */
    size_t ndomains;
    /* With more than one domain: per (domain, stack) sums, sorted by domain
     * then stack, those of domains[d] at sd[sd_begin[d] .. sd_begin[d + 1]).
     * NULL with a single domain, whose sums are acc. */
    stack_domain_acc *sd;
    size_t *sd_begin;
} snapshot;

typedef struct snapshot_error {
    size_t offset;
    char message[200];
    /* The input is no tracemalloc snapshot at all (an empty or text file,
     * other bytes, a pickle of something else), as opposed to a damaged
     * or invalid one. */
    int not_snapshot;
} snapshot_error;

/* Flags of snapshot_from_buffer and snapshot_load_file. */
enum {
    /* Let the kernel drop parsed pages of data (read-only file mappings). */
    SNAPSHOT_RELEASE_CONSUMED = 1,
    /* --python-only: remove the native frames of a mixed snapshot from
     * every stack as it is read; a stack left without frames becomes
     * ("<unknown>", 0), tracemalloc's stack of a block without Python
     * frames.  No effect on other snapshots. */
    SNAPSHOT_PYTHON_ONLY = 2,
    /* --hide-imports: remove the frames of the interpreter's import
     * machinery (snapshot_import_file) from every stack as it is read; a
     * stack left without frames becomes ("<unknown>", 0). */
    SNAPSHOT_HIDE_IMPORTS = 4,
};

/* Build a snapshot from a pickle held in memory. Returns 0 or -1. */
int snapshot_from_buffer(snapshot *snap, intern *in, const uint8_t *data, size_t len,
                         unsigned flags, snapshot_error *err);
/* Load a file (mapped read-only).  On failure formats the complete
 * "FILE: offset N: message" text into msg, or "FILE: not a tracemalloc
 * snapshot (offset N: message)" when the file is no snapshot at all. */
int snapshot_load_file(snapshot *snap, intern *in, const char *path, unsigned flags, char *msg,
                       size_t msglen);
void snapshot_free(snapshot *snap);

/* Whether the frames of this file are native frames of snap: snap is
 * mixed, kept its native frames and the name starts with "<native> ". */
int snapshot_native_file(const snapshot *snap, const intern *in, int32_t file);

/* Where a native frame's name was recorded (metadata "native_frames"):
 * the entry of that file id with the lowest offset (calls from several
 * places in one function share a name), or NULL when it has none. */
const native_address *snapshot_native_address(const snapshot *snap, int32_t file);
/* The object of index i of native_objects, or NULL when there is no valid one. */
const native_object *snapshot_native_object(const snapshot *snap, int64_t i);

/* Whether a file name is one of the import machinery's frozen modules:
 * <frozen importlib._bootstrap>, <frozen importlib._bootstrap_external>
 * and <frozen zipimport>, whose frames sit between an import statement and
 * the module code it runs. */
int snapshot_import_file(const char *name, size_t len);

const meta_entry *snapshot_meta(const snapshot *snap, const char *key);
int snapshot_is_sampled(const snapshot *snap);
/* Totals over all stacks. */
void snapshot_totals(const snapshot *snap, int64_t *size, double *count, double *var);
/* Whether the snapshot has traces in a domain other than 0 (tracemalloc's
 * default domain, Python's allocators). */
int snapshot_has_domains(const snapshot *snap);
/* The per-stack sums of domain index d: *n entries, each a stack id and its
 * sums.  With a single domain the entries are built from acc on the fly
 * by snapshot_domain_entry. */
size_t snapshot_domain_nentries(const snapshot *snap, size_t d);
const stack_acc *snapshot_domain_entry(const snapshot *snap, size_t d, size_t i, int32_t *stack);

#endif
