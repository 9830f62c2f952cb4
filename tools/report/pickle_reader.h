/* Strict reader for the pickle subset used by tracemalloc snapshots.
 *
 * The reader never executes anything: it builds an inert value tree from the
 * opcodes below and rejects everything else.  Only the two tracemalloc
 * classes may be named by GLOBAL/STACK_GLOBAL.  All memory comes from one
 * budget that is a small multiple of the input size, so hostile input can
 * neither exhaust memory nor make the reader recurse (it never does). */
#ifndef MPROFILE_REPORT_PICKLE_READER_H
#define MPROFILE_REPORT_PICKLE_READER_H

#include <stddef.h>
#include <stdint.h>

enum pv_kind {
    PV_NONE = 0,
    PV_BOOL,
    PV_INT,
    PV_FLOAT,
    PV_STR,    /* u.s points at UTF-8 bytes (not NUL-terminated), len bytes */
    PV_TUPLE,  /* u.t */
    PV_TRACE,  /* compact (domain, size, frames[, total_nframe]) tuple: u.tr */
    PV_LIST,   /* u.l */
    PV_DICT,   /* u.l, items are key, value, key, value ... */
    PV_CLASS,  /* u.i is a pv_class */
    PV_OBJECT, /* u.o */
};

enum pv_class { PV_CLASS_SNAPSHOT = 1, PV_CLASS_TRACES = 2 };

struct pv_tuple;
struct pv_list;
struct pv_object;
struct pv_trace;

typedef struct pv {
    uint32_t kind;
    uint32_t len; /* string length in bytes */
    union {
        int64_t i;
        double f;
        const char *s;
        struct pv_tuple *t;
        struct pv_list *l;
        struct pv_object *o;
        struct pv_trace *tr;
    } u;
} pv;

struct pv_tuple {
    uint32_t len;
    /* Free for the consumer: the snapshot model caches the interned id of a
     * stack or frame here, so memoized (shared) tuples are interned once. */
    int32_t cache;
    pv items[];
};

/* Trace tuples are by far the most numerous objects: a tuple
 * (int domain, int size, tuple frames[, int total_nframe]) is stored in 16
 * bytes instead of 72.  total_nframe is checked to be an integer and
 * dropped (tracemalloc's statistics ignore it).  The domain is kept as a
 * 4-bit code in the low bits of the frames pointer (tuples are 16-byte
 * aligned): an index into the document's table of its first 15 distinct
 * domains, or PV_DOMAIN_EXT for a trace allocated as a struct pv_trace_ext,
 * which holds the domain itself.  Read them with pv_trace_frames and
 * pv_trace_domain. */
struct pv_trace {
    int64_t size;
    uintptr_t frames_code;
};

#define PV_DOMAIN_CODES 15
#define PV_DOMAIN_EXT 15

struct pv_trace_ext {
    struct pv_trace t;
    int64_t domain;
};

static inline struct pv_tuple *pv_trace_frames(const struct pv_trace *t)
{
    return (struct pv_tuple *)(t->frames_code & ~(uintptr_t)15);
}

/* Traces of one document whose codes are equal and below PV_DOMAIN_EXT
 * have the same domain. */
static inline unsigned pv_trace_domain_code(const struct pv_trace *t)
{
    return (unsigned)(t->frames_code & 15);
}

/* Lists and dicts hold packed 8-byte values (see pv_seq_get): the trace
 * list of a big snapshot is the largest array the reader builds. */
struct pv_list {
    size_t len, cap;
    uint64_t *items;
};

struct pv_object {
    int cls;
    int has_state;
    size_t build_offset; /* offset of the BUILD opcode, for error messages */
    pv state;
};

typedef struct pickle_doc pickle_doc;

/* Error details filled by pickle_read on failure. */
typedef struct pickle_error {
    size_t offset;
    char message[160];
    /* The input named tracemalloc.Snapshot before the error: it looks like
     * a (damaged) snapshot rather than some other file. */
    int saw_snapshot;
} pickle_error;

/* Parse a complete pickle held in data[0..len).  On success returns 0 and
 * stores the document (owner of every value) in *out; the top-level value
 * is pickle_doc_root(*out).  String values point into data, which must
 * outlive the document.  On failure returns a negative value and fills
 * *err.  release_consumed: advise the kernel to drop already parsed pages
 * (only for read-only file mappings, where they are refetched on demand). */
int pickle_read(const uint8_t *data, size_t len, int release_consumed,
                pickle_doc **out, pickle_error *err);
const pv *pickle_doc_root(const pickle_doc *doc);
/* The domain of a trace of doc: any 64-bit integer, as pickled. */
int64_t pv_trace_domain(const pickle_doc *doc, const struct pv_trace *t);
void pickle_doc_free(pickle_doc *doc);

/* Lookup a string key in a PV_DICT value: 1 and *out when found, else 0.
 * The last occurrence wins, as in Python. */
int pv_dict_get(const pv *dict, const char *key, pv *out);
/* Pairs of a PV_DICT, in insertion order. */
size_t pv_dict_len(const pv *dict);
void pv_dict_item(const pv *dict, size_t i, pv *key, pv *value);
/* Number of items of a PV_LIST or PV_TUPLE value and item access. */
size_t pv_seq_len(const pv *seq);
pv pv_seq_get(const pv *seq, size_t i);

#endif
