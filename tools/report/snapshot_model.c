#define _DEFAULT_SOURCE
#include "snapshot_model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pickle_reader.h"
#include "sampling.h"

/* pv_tuple.cache tags: a tuple may be (ab)used both as a frame and as a
 * stack by hostile input, so the cached id records which one it is. */
#define CACHE_FRAME(id) ((int32_t)((id) << 1))
#define CACHE_STACK(id) ((int32_t)(((id) << 1) | 1))

/* Metadata keys kept (known ones come first in libmprofile's snapshots);
 * further unknown keys are ignored, so a state dict with millions of keys
 * costs linear time. */
#define MAX_META 256

/* Open addressing hash map from 64-bit keys to 32-bit values. */
typedef struct u64map {
    uint64_t *keys;
    uint32_t *vals; /* UINT32_MAX: empty slot */
    size_t cap, n;
} u64map;

typedef struct loader {
    snapshot *snap;
    intern *in;
    const pickle_doc *doc;
    snapshot_error *err;
    int32_t *tmp;
    size_t captmp;
    /* Domains in order of appearance, and the index of each. */
    int64_t *dvals;
    size_t nd, capd;
    u64map dmap;
    /* The domain index of each of the reader's domain codes, + 1. */
    uint32_t code_di[PV_DOMAIN_CODES];
    /* Per (stack, domain) sums, once a second domain shows up, and per
     * stack the entry of the last trace (+ 1): a stack's traces are
     * mostly of one domain. */
    stack_domain_acc *sd;
    size_t nsd, capsd;
    u64map sdmap;
    uint32_t *stack_last;
    size_t capstack_last;
    /* Mixed snapshots: the native frames already counted, by frame id. */
    uint8_t *native_seen;
    size_t capnative;
} loader;

static int fail(loader *l, size_t offset, const char *fmt, ...)
{
    va_list ap;
    l->err->offset = offset;
    va_start(ap, fmt);
    vsnprintf(l->err->message, sizeof l->err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int add_meta(loader *l, const pv *key, const pv *val, size_t offset)
{
    snapshot *s = l->snap;
    meta_entry e = {0};
    switch (val->kind) {
    case PV_INT: e.kind = META_INT; e.i = val->u.i; break;
    case PV_FLOAT: e.kind = META_FLOAT; e.f = val->u.f; break;
    case PV_BOOL: e.kind = META_BOOL; e.i = val->u.i; break;
    case PV_NONE: e.kind = META_NONE; break;
    case PV_STR: e.kind = META_STR; break;
    default: return 0; /* unknown structured keys are ignored */
    }
    e.key = dup_bytes(key->u.s, key->len);
    if (!e.key)
        return fail(l, offset, "out of memory");
    if (e.kind == META_STR) {
        e.s = dup_bytes(val->u.s, val->len);
        e.slen = val->len;
        if (!e.s) {
            free(e.key);
            return fail(l, offset, "out of memory");
        }
    }
    for (size_t i = 0; i < s->nmeta; i++) {
        if (strcmp(s->meta[i].key, e.key) == 0) { /* later key wins */
            free(s->meta[i].key);
            free(s->meta[i].s);
            s->meta[i] = e;
            return 0;
        }
    }
    if (s->nmeta >= MAX_META) { /* keeps the duplicate check above cheap */
        free(e.key);
        free(e.s);
        return 0;
    }
    meta_entry *m = realloc(s->meta, (s->nmeta + 1) * sizeof *m);
    if (!m) {
        free(e.key);
        free(e.s);
        return fail(l, offset, "out of memory");
    }
    s->meta = m;
    s->meta[s->nmeta++] = e;
    return 0;
}

static int32_t frame_id(loader *l, const pv *f, size_t offset, size_t trace_index)
{
    if (f->kind == PV_TUPLE && f->u.t->cache >= 0 && !(f->u.t->cache & 1))
        return f->u.t->cache >> 1;
    if (f->kind != PV_TUPLE || f->u.t->len != 2 || f->u.t->items[0].kind != PV_STR ||
        f->u.t->items[1].kind != PV_INT)
        return fail(l, offset, "trace #%zu: a frame is not a (filename, lineno) tuple", trace_index);
    const pv *name = &f->u.t->items[0];
    int32_t file = intern_file(l->in, name->u.s, name->len);
    int32_t id = file < 0 ? -1 : intern_frame(l->in, file, f->u.t->items[1].u.i);
    if (id < 0 || id >= (1 << 29))
        return fail(l, offset, "out of memory");
    f->u.t->cache = CACHE_FRAME(id);
    return id;
}

/* A point of the timeline: (time, live_bytes, peak_bytes, rss_bytes). */
static int timeline_point_of(const pv *item, timeline_point *pt)
{
    if (item->kind != PV_TUPLE || item->u.t->len != 4)
        return 0;
    const pv *f = item->u.t->items;
    if (f[0].kind == PV_FLOAT)
        pt->time = f[0].u.f;
    else if (f[0].kind == PV_INT)
        pt->time = (double)f[0].u.i;
    else
        return 0;
    if (!isfinite(pt->time))
        return 0;
    for (int i = 1; i < 4; i++)
        if (f[i].kind != PV_INT || f[i].u.i < 0)
            return 0;
    pt->live_bytes = f[1].u.i;
    pt->peak_bytes = f[2].u.i;
    pt->rss_bytes = f[3].u.i;
    return 1;
}

/* Metadata "timeline": kept when well formed (see snapshot.timeline),
 * else ignored; a later key replaces an earlier one either way. */
static int read_timeline(loader *l, const pv *val, size_t offset)
{
    snapshot *s = l->snap;
    free(s->timeline);
    s->timeline = NULL;
    s->ntimeline = 0;
    s->has_timeline = 0;
    size_t n = pv_seq_len(val);
    if (val->kind != PV_LIST || n > SNAPSHOT_MAX_TIMELINE)
        return 0;
    timeline_point *pts = n ? malloc(n * sizeof *pts) : NULL;
    if (n && !pts)
        return fail(l, offset, "out of memory");
    for (size_t i = 0; i < n; i++) {
        pv item = pv_seq_get(val, i);
        if (!timeline_point_of(&item, &pts[i])) {
            free(pts);
            return 0;
        }
    }
    s->timeline = pts;
    s->ntimeline = n;
    s->has_timeline = 1;
    s->timeline_meta_pos = s->nmeta;
    return 0;
}

/* Metadata "frame_names": a list of ((filename, lineno), name) pairs that
 * name the function of frames.  Entries of another shape are ignored, as
 * tracemalloc would ignore the key. */
static int read_frame_names(loader *l, const pv *val, size_t offset)
{
    if (val->kind != PV_LIST)
        return 0;
    size_t n = pv_seq_len(val);
    for (size_t i = 0; i < n; i++) {
        pv item = pv_seq_get(val, i);
        if (item.kind != PV_TUPLE || item.u.t->len != 2 || item.u.t->items[1].kind != PV_STR)
            continue;
        const pv *f = &item.u.t->items[0];
        if (f->kind != PV_TUPLE || f->u.t->len != 2 || f->u.t->items[0].kind != PV_STR ||
            f->u.t->items[1].kind != PV_INT)
            continue;
        int32_t frame = frame_id(l, f, offset, 0);
        if (frame < 0)
            return -1;
        const pv *name = &item.u.t->items[1];
        if (intern_set_frame_name(l->in, frame, name->u.s, name->len) < 0)
            return fail(l, offset, "out of memory");
    }
    return 0;
}

static void free_native_objects(snapshot *s)
{
    for (size_t i = 0; i < s->nnative_objects; i++) {
        free(s->native_objects[i].path);
        free(s->native_objects[i].build_id);
    }
    free(s->native_objects);
    s->native_objects = NULL;
    s->nnative_objects = 0;
}

/* A (path, build_id, start, end) tuple of native_objects into o; o->valid
 * stays 0 for any other shape. */
static int native_object_of(loader *l, const pv *item, native_object *o, size_t offset)
{
    if (item->kind != PV_TUPLE || item->u.t->len != 4)
        return 0;
    const pv *f = item->u.t->items;
    if (f[0].kind != PV_STR || (f[1].kind != PV_STR && f[1].kind != PV_NONE) ||
        f[2].kind != PV_INT || f[3].kind != PV_INT || f[2].u.i < 0 || f[3].u.i < f[2].u.i)
        return 0;
    o->path = dup_bytes(f[0].u.s, f[0].len);
    o->build_id = f[1].kind == PV_STR ? dup_bytes(f[1].u.s, f[1].len) : NULL;
    if (!o->path || (f[1].kind == PV_STR && !o->build_id))
        return fail(l, offset, "out of memory");
    o->path_len = f[0].len;
    o->build_id_len = f[1].kind == PV_STR ? f[1].len : 0;
    o->start = (uint64_t)f[2].u.i;
    o->end = (uint64_t)f[3].u.i;
    o->valid = 1;
    return 0;
}

/* Metadata "native_objects": kept when it is a list (a later key replaces
 * an earlier one), entry by entry, each at its index. */
static int read_native_objects(loader *l, const pv *val, size_t offset)
{
    snapshot *s = l->snap;
    free_native_objects(s);
    size_t n = pv_seq_len(val);
    if (val->kind != PV_LIST || n == 0)
        return 0;
    s->native_objects = calloc(n, sizeof *s->native_objects);
    if (!s->native_objects)
        return fail(l, offset, "out of memory");
    s->nnative_objects = n;
    for (size_t i = 0; i < n; i++) {
        pv item = pv_seq_get(val, i);
        if (native_object_of(l, &item, &s->native_objects[i], offset) < 0)
            return -1;
    }
    return 0;
}

static int cmp_native_address(const void *pa, const void *pb)
{
    const native_address *a = pa, *b = pb;
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Metadata "native_frames": (filename, object, offset) tuples; entries of
 * another shape are left out, as tracemalloc would ignore the key. */
static int read_native_frames(loader *l, const pv *val, size_t offset)
{
    snapshot *s = l->snap;
    free(s->native_addresses);
    s->native_addresses = NULL;
    s->nnative_addresses = 0;
    size_t n = pv_seq_len(val);
    if (val->kind != PV_LIST || n == 0)
        return 0;
    native_address *a = malloc(n * sizeof *a);
    if (!a)
        return fail(l, offset, "out of memory");
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        pv item = pv_seq_get(val, i);
        if (item.kind != PV_TUPLE || item.u.t->len != 3)
            continue;
        const pv *f = item.u.t->items;
        if (f[0].kind != PV_STR || (f[1].kind != PV_INT && f[1].kind != PV_NONE) ||
            (f[1].kind == PV_INT && f[1].u.i < 0) || f[2].kind != PV_INT || f[2].u.i < 0)
            continue;
        int32_t file = intern_file(l->in, f[0].u.s, f[0].len);
        if (file < 0) {
            free(a);
            return fail(l, offset, "out of memory");
        }
        a[kept++] = (native_address){file, f[1].kind == PV_INT ? f[1].u.i : -1, (uint64_t)f[2].u.i};
    }
    qsort(a, kept, sizeof *a, cmp_native_address);
    s->native_addresses = a;
    s->nnative_addresses = kept;
    return 0;
}

/* A key of the snapshot's state besides traces and traceback_limit: the
 * ones the report interprets are checked, and every other one is
 * metadata. */
static int read_meta(loader *l, const pv *key, const pv *val, size_t offset)
{
    snapshot *s = l->snap;
    if (key->len == 8 && memcmp(key->u.s, "timeline", 8) == 0)
        return read_timeline(l, val, offset);
    if (key->len == 11 && memcmp(key->u.s, "frame_names", 11) == 0)
        return read_frame_names(l, val, offset);
    /* Kept for --format pprof, then passed on to add_meta like any key
     * (which leaves lists out of the metadata). */
    if (key->len == 14 && memcmp(key->u.s, "native_objects", 14) == 0 &&
        read_native_objects(l, val, offset) < 0)
        return -1;
    if (key->len == 13 && memcmp(key->u.s, "native_frames", 13) == 0 &&
        read_native_frames(l, val, offset) < 0)
        return -1;
    if (key->len == 11 && memcmp(key->u.s, "sample_rate", 11) == 0) {
        if (val->kind != PV_INT || val->u.i < 1)
            return fail(l, offset, "sample_rate is not a positive integer");
        s->sample_rate = val->u.i;
    } else if (key->len == 6 && memcmp(key->u.s, "stacks", 6) == 0) {
        if (val->kind != PV_STR)
            return fail(l, offset, "stacks is not a string");
        /* "python", or a value this reader does not know: no frame is
         * native, whatever its name. */
        s->mixed = val->len == 5 && memcmp(val->u.s, "mixed", 5) == 0;
    }
    return add_meta(l, key, val, offset);
}

#define NATIVE_PREFIX "<native> "
#define NATIVE_PREFIX_LEN 9

/* A native frame's file name; only frames of mixed snapshots are native. */
static int native_name(const char *name, size_t len)
{
    return len >= NATIVE_PREFIX_LEN && memcmp(name, NATIVE_PREFIX, NATIVE_PREFIX_LEN) == 0;
}

static int frame_is_native(const intern *in, int32_t frame)
{
    size_t len;
    const char *name = intern_file_name(in, intern_frame_file(in, frame), &len);
    return native_name(name, len);
}

int snapshot_import_file(const char *name, size_t len)
{
    static const char *const files[] = {"<frozen importlib._bootstrap>",
                                        "<frozen importlib._bootstrap_external>",
                                        "<frozen zipimport>"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (len == strlen(files[i]) && memcmp(name, files[i], len) == 0)
            return 1;
    return 0;
}

static int frame_is_import(const intern *in, int32_t frame)
{
    size_t len;
    const char *name = intern_file_name(in, intern_frame_file(in, frame), &len);
    return snapshot_import_file(name, len);
}

/* Counts a native frame of the snapshot's traces, once per distinct frame. */
static int note_native(loader *l, int32_t frame, size_t offset)
{
    if ((size_t)frame >= l->capnative) {
        size_t cap = l->capnative ? 2 * l->capnative : 64;
        while (cap <= (size_t)frame)
            cap *= 2;
        uint8_t *p = realloc(l->native_seen, cap);
        if (!p)
            return fail(l, offset, "out of memory");
        memset(p + l->capnative, 0, cap - l->capnative);
        l->native_seen = p;
        l->capnative = cap;
    }
    l->snap->native_frames += !l->native_seen[frame];
    l->native_seen[frame] = 1;
    return 0;
}

/* The frame ids of a stack into l->tmp, without the native ones when they
 * are dropped and without the import machinery's when it is hidden.
 * Returns how many, or -1. */
static ptrdiff_t stack_frames(loader *l, const struct pv_tuple *frames, size_t offset,
                              size_t trace_index)
{
    size_t n = frames->len, kept = 0;
    if (n > l->captmp) {
        int32_t *t = realloc(l->tmp, n * sizeof *t);
        if (!t)
            return fail(l, offset, "out of memory");
        l->tmp = t;
        l->captmp = n;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t id = frame_id(l, &frames->items[i], offset, trace_index);
        if (id < 0)
            return -1;
        if (l->snap->mixed && frame_is_native(l->in, id)) {
            if (note_native(l, id, offset) < 0)
                return -1;
            if (l->snap->native_dropped)
                continue;
        }
        if (l->snap->imports_hidden && frame_is_import(l->in, id))
            continue;
        l->tmp[kept++] = id;
    }
    if (n && !kept) {
        /* Only native frames (a C thread, start-up) or import machinery:
         * what a Python-only recording gives a block allocated without
         * Python frames. */
        int32_t file = intern_file(l->in, "<unknown>", 9);
        int32_t id = file < 0 ? -1 : intern_frame(l->in, file, 0);
        if (id < 0)
            return fail(l, offset, "out of memory");
        l->tmp[kept++] = id;
    }
    return (ptrdiff_t)kept;
}

static int32_t stack_id(loader *l, struct pv_tuple *frames, size_t offset, size_t trace_index)
{
    if (frames->cache >= 0 && (frames->cache & 1))
        return frames->cache >> 1;
    ptrdiff_t n = stack_frames(l, frames, offset, trace_index);
    if (n < 0)
        return -1;
    int32_t id = intern_stack(l->in, l->tmp, (size_t)n);
    if (id < 0 || id >= (1 << 29))
        return fail(l, offset, "out of memory");
    frames->cache = CACHE_STACK(id);
    return id;
}

static uint32_t *map_slot(u64map *m, uint64_t key)
{
    size_t mask = m->cap - 1, i = (size_t)((key * 0x9e3779b97f4a7c15u) >> 32) & mask;
    while (m->vals[i] != UINT32_MAX && m->keys[i] != key)
        i = (i + 1) & mask;
    m->keys[i] = key;
    return &m->vals[i];
}

/* The value of key, or add it with value val.  NULL when out of memory. */
static uint32_t *map_get(u64map *m, uint64_t key, uint32_t val)
{
    if (2 * (m->n + 1) > m->cap) {
        u64map g = {.cap = m->cap ? 2 * m->cap : 64, .n = m->n};
        g.keys = malloc(g.cap * sizeof *g.keys);
        g.vals = malloc(g.cap * sizeof *g.vals);
        if (!g.keys || !g.vals) {
            free(g.keys);
            free(g.vals);
            return NULL;
        }
        memset(g.vals, 0xff, g.cap * sizeof *g.vals);
        for (size_t i = 0; i < m->cap; i++)
            if (m->vals[i] != UINT32_MAX)
                *map_slot(&g, m->keys[i]) = m->vals[i];
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    uint32_t *v = map_slot(m, key);
    if (*v == UINT32_MAX) {
        *v = val;
        m->n++;
    }
    return v;
}

static void map_free(u64map *m)
{
    free(m->keys);
    free(m->vals);
}

static int ensure_acc(loader *l, size_t need, size_t offset)
{
    snapshot *s = l->snap;
    if (need <= s->nacc)
        return 0;
    size_t ncap = s->nacc ? s->nacc : 64;
    while (ncap < need)
        ncap *= 2;
    stack_acc *a = realloc(s->acc, ncap * sizeof *a);
    if (!a)
        return fail(l, offset, "out of memory");
    memset(a + s->nacc, 0, (ncap - s->nacc) * sizeof *a);
    s->acc = a;
    s->nacc = ncap;
    return 0;
}

static void acc_add(stack_acc *a, int64_t size, double count, double var)
{
    a->size += size;
    a->traces++;
    a->count += count;
    a->var += var;
}

static void acc_merge(stack_acc *a, const stack_acc *b)
{
    a->size += b->size;
    a->traces += b->traces;
    a->count += b->count;
    a->var += b->var;
}

/* The sums of stack sid in domain index di (several domains only). */
static stack_acc *sd_acc(loader *l, int32_t sid, uint32_t di, size_t offset)
{
    if ((size_t)sid >= l->capstack_last) {
        size_t cap = l->capstack_last ? 2 * l->capstack_last : 64;
        while (cap <= (size_t)sid)
            cap *= 2;
        uint32_t *p = realloc(l->stack_last, cap * sizeof *p);
        if (!p) {
            fail(l, offset, "out of memory");
            return NULL;
        }
        memset(p + l->capstack_last, 0, (cap - l->capstack_last) * sizeof *p);
        l->stack_last = p;
        l->capstack_last = cap;
    }
    if (l->nsd == l->capsd) {
        size_t cap = l->capsd ? 2 * l->capsd : 64;
        stack_domain_acc *p = cap < UINT32_MAX ? realloc(l->sd, cap * sizeof *p) : NULL;
        if (!p) {
            fail(l, offset, "out of memory");
            return NULL;
        }
        l->sd = p;
        l->capsd = cap;
    }
    uint32_t *idx = map_get(&l->sdmap, ((uint64_t)(uint32_t)sid << 32) | di, (uint32_t)l->nsd);
    if (!idx) {
        fail(l, offset, "out of memory");
        return NULL;
    }
    if (*idx == l->nsd)
        l->sd[l->nsd++] = (stack_domain_acc){.stack = sid, .domain = di};
    l->stack_last[sid] = *idx + 1;
    return &l->sd[*idx].acc;
}

/* Index of a domain; when it is the second one, the sums so far (all of
 * the first domain, in acc) become per (stack, domain) sums, and acc is
 * only computed from those at the end.  -1 on failure. */
static int64_t domain_index(loader *l, int64_t domain, size_t offset)
{
    uint32_t *idx = map_get(&l->dmap, (uint64_t)domain, (uint32_t)l->nd);
    if (!idx)
        return fail(l, offset, "out of memory");
    if (*idx < l->nd)
        return *idx;
    if (l->nd == l->capd) {
        size_t cap = l->capd ? 2 * l->capd : 8;
        int64_t *p = realloc(l->dvals, cap * sizeof *p);
        if (!p)
            return fail(l, offset, "out of memory");
        l->dvals = p;
        l->capd = cap;
    }
    l->dvals[l->nd++] = domain;
    if (l->nd == 2) {
        const snapshot *s = l->snap;
        for (size_t st = 0; st < s->nacc; st++) {
            if (!s->acc[st].traces)
                continue;
            stack_acc *a = sd_acc(l, (int32_t)st, 0, offset);
            if (!a)
                return -1;
            *a = s->acc[st];
        }
    }
    return *idx;
}

static const int64_t *sort_dvals;

static int cmp_domain_index(const void *pa, const void *pb)
{
    int64_t a = sort_dvals[*(const uint32_t *)pa], b = sort_dvals[*(const uint32_t *)pb];
    return a < b ? -1 : a > b;
}

static int cmp_sd(const void *pa, const void *pb)
{
    const stack_domain_acc *a = pa, *b = pb;
    if (a->domain != b->domain)
        return a->domain < b->domain ? -1 : 1;
    return a->stack < b->stack ? -1 : a->stack > b->stack;
}

/* Domain totals, sorted by domain; the per (stack, domain) sums move to
 * the snapshot, sorted the same way. */
static int finish_domains(loader *l, size_t offset)
{
    snapshot *s = l->snap;
    size_t nd = l->nd;
    if (nd == 0)
        return 0;
    s->domains = calloc(nd, sizeof *s->domains);
    uint32_t *order = malloc(nd * sizeof *order), *rank = malloc(nd * sizeof *rank);
    if (!s->domains || !order || !rank) {
        free(order);
        free(rank);
        return fail(l, offset, "out of memory");
    }
    for (uint32_t i = 0; i < nd; i++)
        order[i] = i;
    sort_dvals = l->dvals;
    qsort(order, nd, sizeof *order, cmp_domain_index);
    for (uint32_t i = 0; i < nd; i++) {
        rank[order[i]] = i;
        s->domains[i].domain = l->dvals[order[i]];
    }
    free(order);
    s->ndomains = nd;
    if (nd == 1) {
        for (size_t st = 0; st < s->nacc; st++)
            acc_merge(&s->domains[0].sum, &s->acc[st]);
        free(rank);
        return 0;
    }
    s->sd_begin = calloc(nd + 1, sizeof *s->sd_begin);
    if (!s->sd_begin) {
        free(rank);
        return fail(l, offset, "out of memory");
    }
    memset(s->acc, 0, s->nacc * sizeof *s->acc);
    for (size_t i = 0; i < l->nsd; i++) {
        stack_domain_acc *e = &l->sd[i];
        e->domain = rank[e->domain];
        acc_merge(&s->domains[e->domain].sum, &e->acc);
        acc_merge(&s->acc[e->stack], &e->acc);
        s->sd_begin[e->domain + 1]++;
    }
    free(rank);
    for (size_t d = 0; d < nd; d++)
        s->sd_begin[d + 1] += s->sd_begin[d];
    qsort(l->sd, l->nsd, sizeof *l->sd, cmp_sd);
    s->sd = l->sd;
    l->sd = NULL;
    return 0;
}

static int load_traces(loader *l, const pv *list, size_t offset)
{
    snapshot *s = l->snap;
    size_t n = pv_seq_len(list);
    int sampled = s->sample_rate > 1;
    double rate = (double)s->sample_rate;
    int64_t last_w = INT64_MIN, total = 0;
    double last_count = 0, last_q = 0;
    uint32_t di = 0;
    for (size_t i = 0; i < n; i++) {
        pv item = pv_seq_get(list, i);
        if (item.kind != PV_TRACE)
            return fail(l, offset, "trace #%zu is not a (domain, size, frames, total_nframe) tuple", i);
        const struct pv_trace *t = item.u.tr;
        int32_t sid = stack_id(l, pv_trace_frames(t), offset, i);
        if (sid < 0)
            return -1;
        if ((size_t)sid >= s->nacc && ensure_acc(l, (size_t)sid + 1, offset) < 0)
            return -1;
        /* Sizes are size_t in tracemalloc; keeping them non-negative with
         * a bounded total means no later sum of a subset can overflow. */
        if (t->size < 0)
            return fail(l, offset, "trace #%zu has a negative size", i);
        if (__builtin_add_overflow(total, t->size, &total))
            return fail(l, offset, "trace #%zu: sizes overflow 64 bits", i);
        unsigned code = pv_trace_domain_code(t);
        if (code < PV_DOMAIN_CODES && l->code_di[code]) {
            di = l->code_di[code] - 1;
        } else {
            int64_t d = domain_index(l, pv_trace_domain(l->doc, t), offset);
            if (d < 0)
                return -1;
            di = (uint32_t)d;
            if (code < PV_DOMAIN_CODES)
                l->code_di[code] = di + 1;
        }
        double count = 1.0, var = 0.0;
        int64_t w = t->size;
        if (sampled) {
            if (w != last_w) {
                /* Sampled traces repeat sizes a lot; one inversion per run. */
                last_w = w;
                if (w <= 0) {
                    last_count = 0;
                    last_q = 0;
                } else {
                    double sz = sampling_size_from_weight(w, rate);
                    double p = sampling_probability(sz, rate);
                    last_count = 1.0 / p;
                    last_q = 1.0 - p;
                }
            }
            count = last_count;
            var = (double)w * (double)w * last_q;
        }
        if (l->nd == 1) {
            acc_add(&s->acc[sid], w, count, var);
            continue;
        }
        /* Several domains: per (stack, domain) sums, added up per stack at
         * the end.  Most traces of a stack share its last trace's domain. */
        uint32_t last = (size_t)sid < l->capstack_last ? l->stack_last[sid] : 0;
        stack_acc *a;
        if (last && l->sd[last - 1].domain == di)
            a = &l->sd[last - 1].acc;
        else if (!(a = sd_acc(l, sid, di, offset)))
            return -1;
        acc_add(a, w, count, var);
    }
    s->ntraces = n;
    return finish_domains(l, offset);
}

/* Whether the first bytes name tracemalloc.Snapshot, as every snapshot's do
 * (GLOBAL or two short strings, after PROTO and FRAME): a truncated file
 * fails on its FRAME length before the reader gets to the class, yet it is
 * a damaged snapshot, not some other file. */
static int names_snapshot_class(const uint8_t *data, size_t len)
{
    static const char module[] = "tracemalloc", name[] = "Snapshot";
    size_t head = len < 64 ? len : 64;
    if (!len || data[0] != 0x80) /* PROTO */
        return 0;
    const uint8_t *m = memmem(data, head, module, sizeof module - 1);
    if (!m)
        return 0;
    size_t rest = head - (size_t)(m - data);
    return memmem(m, rest, name, sizeof name - 1) != NULL;
}

/* What a pickle that is no snapshot holds, for its error message. */
static const char *root_kind(const pv *root)
{
    switch (root->kind) {
    case PV_NONE: return "None";
    case PV_BOOL: return "a bool";
    case PV_INT: return "an int";
    case PV_FLOAT: return "a float";
    case PV_STR: return "a str";
    case PV_TUPLE: case PV_TRACE: return "a tuple";
    case PV_LIST: return "a list";
    case PV_DICT: return "a dict";
    case PV_CLASS: return "a class";
    default:
        if (root->u.o->cls == PV_CLASS_TRACES)
            return "a tracemalloc._Traces";
        return "a tracemalloc.Snapshot without state";
    }
}

int snapshot_from_buffer(snapshot *snap, intern *in, const uint8_t *data, size_t len,
                         unsigned flags, snapshot_error *err)
{
    memset(snap, 0, sizeof *snap);
    snap->sample_rate = 1;
    loader l = {.snap = snap, .in = in, .err = err};
    pickle_doc *doc;
    pickle_error perr;
    err->not_snapshot = 0;
    if (pickle_read(data, len, (flags & SNAPSHOT_RELEASE_CONSUMED) != 0, &doc, &perr) < 0) {
        err->offset = perr.offset;
        snprintf(err->message, sizeof err->message, "%s", perr.message);
        err->not_snapshot = !perr.saw_snapshot && !names_snapshot_class(data, len);
        return -1;
    }
    int rc = 0;
    l.doc = doc;
    const pv *root = pickle_doc_root(doc);
    const pv *state;
    pv traces_v, *traces = NULL;
    size_t offset = len ? len - 1 : 0, traces_offset;
    if (root->kind != PV_OBJECT || root->u.o->cls != PV_CLASS_SNAPSHOT || !root->u.o->has_state) {
        rc = fail(&l, offset, "the pickle holds %s, not a tracemalloc.Snapshot",
                  root_kind(root));
        err->not_snapshot = 1;
        goto out;
    }
    offset = root->u.o->build_offset;
    state = &root->u.o->state;
    pv kv, vv;
    const pv *k = &kv, *v = &vv;
    for (size_t i = 0; rc == 0 && i < pv_dict_len(state); i++) {
        pv_dict_item(state, i, &kv, &vv);
        if (k->kind != PV_STR) {
            rc = fail(&l, offset, "snapshot state has a non-string key");
        } else if (k->len == 6 && memcmp(k->u.s, "traces", 6) == 0) {
            traces_v = *v;
            traces = &traces_v;
        } else if (k->len == 15 && memcmp(k->u.s, "traceback_limit", 15) == 0) {
            if (v->kind != PV_INT)
                rc = fail(&l, offset, "traceback_limit is not an integer");
            snap->traceback_limit = v->u.i;
            snap->has_traceback_limit = 1;
        } else {
            rc = read_meta(&l, k, v, offset);
        }
    }
    if (rc < 0)
        goto out;
    if (!traces) {
        rc = fail(&l, offset, "snapshot has no traces");
        goto out;
    }
    traces_offset = offset;
    if (traces->kind == PV_OBJECT && traces->u.o->cls == PV_CLASS_TRACES) {
        traces_offset = traces->u.o->build_offset;
        if (!traces->u.o->has_state || !pv_dict_get(&traces->u.o->state, "_traces", &traces_v)) {
            rc = fail(&l, traces_offset, "tracemalloc._Traces object without _traces");
            goto out;
        }
    }
    if (traces->kind != PV_LIST && traces->kind != PV_TUPLE) {
        rc = fail(&l, traces_offset, "traces are not a list");
        goto out;
    }
    snap->native_dropped = snap->mixed && (flags & SNAPSHOT_PYTHON_ONLY);
    snap->imports_hidden = (flags & SNAPSHOT_HIDE_IMPORTS) != 0;
    rc = load_traces(&l, traces, traces_offset);
out:
    free(l.tmp);
    free(l.native_seen);
    free(l.dvals);
    free(l.sd);
    free(l.stack_last);
    map_free(&l.dmap);
    map_free(&l.sdmap);
    pickle_doc_free(doc);
    if (rc < 0) {
        snapshot_free(snap);
        return -1;
    }
    return 0;
}

int snapshot_load_file(snapshot *snap, intern *in, const char *path, unsigned flags, char *msg,
                       size_t msglen)
{
    memset(snap, 0, sizeof *snap);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(msg, msglen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(msg, msglen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    const uint8_t *data = NULL;
    void *map = NULL;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(msg, msglen, "%s: cannot map: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        madvise(map, len, MADV_SEQUENTIAL);
        data = map;
    } else {
        data = (const uint8_t *)"";
    }
    close(fd);
    snapshot_error err;
    /* Snapshots are pickles of protocol 2 or more: they start with PROTO. */
    int no_pickle_header = len > 0 && data[0] != 0x80;
    int rc = snapshot_from_buffer(snap, in, data, len, flags | SNAPSHOT_RELEASE_CONSUMED, &err);
    if (map)
        munmap(map, len);
    if (rc < 0 && err.not_snapshot) {
        /* Say what the file is not before the parser's detail, which alone
         * (an opcode at some offset) reads like a damaged snapshot. */
        snprintf(msg, msglen, "%s: not a tracemalloc snapshot (%soffset %zu: %s)", path,
                 no_pickle_header ? "not a pickle of protocol 2 to 5; " : "", err.offset,
                 err.message);
        return -1;
    }
    if (rc < 0) {
        snprintf(msg, msglen, "%s: offset %zu: %s", path, err.offset, err.message);
        return -1;
    }
    snap->path = dup_bytes(path, strlen(path));
    if (!snap->path) {
        snapshot_free(snap);
        snprintf(msg, msglen, "%s: out of memory", path);
        return -1;
    }
    return 0;
}

void snapshot_free(snapshot *snap)
{
    for (size_t i = 0; i < snap->nmeta; i++) {
        free(snap->meta[i].key);
        free(snap->meta[i].s);
    }
    free(snap->meta);
    free(snap->timeline);
    free_native_objects(snap);
    free(snap->native_addresses);
    free(snap->acc);
    free(snap->domains);
    free(snap->sd);
    free(snap->sd_begin);
    free(snap->path);
    memset(snap, 0, sizeof *snap);
    snap->sample_rate = 1;
}

const meta_entry *snapshot_meta(const snapshot *snap, const char *key)
{
    for (size_t i = 0; i < snap->nmeta; i++)
        if (strcmp(snap->meta[i].key, key) == 0)
            return &snap->meta[i];
    return NULL;
}

int snapshot_native_file(const snapshot *snap, const intern *in, int32_t file)
{
    size_t len;
    const char *name = intern_file_name(in, file, &len);
    return snap->mixed && !snap->native_dropped && native_name(name, len);
}

const native_address *snapshot_native_address(const snapshot *snap, int32_t file)
{
    size_t lo = 0, hi = snap->nnative_addresses;
    while (lo < hi) { /* the first entry of file, the lowest offset */
        size_t mid = lo + (hi - lo) / 2;
        if (snap->native_addresses[mid].file < file)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < snap->nnative_addresses && snap->native_addresses[lo].file == file)
        return &snap->native_addresses[lo];
    return NULL;
}

const native_object *snapshot_native_object(const snapshot *snap, int64_t i)
{
    if (i < 0 || (uint64_t)i >= snap->nnative_objects || !snap->native_objects[i].valid)
        return NULL;
    return &snap->native_objects[i];
}

int snapshot_is_sampled(const snapshot *snap)
{
    return snap->sample_rate > 1;
}

void snapshot_totals(const snapshot *snap, int64_t *size, double *count, double *var)
{
    int64_t s = 0;
    double c = 0, v = 0;
    for (size_t i = 0; i < snap->nacc; i++) {
        s += snap->acc[i].size;
        c += snap->acc[i].count;
        v += snap->acc[i].var;
    }
    *size = s;
    *count = c;
    *var = v;
}

int snapshot_has_domains(const snapshot *snap)
{
    return snap->ndomains > 1 || (snap->ndomains == 1 && snap->domains[0].domain != 0);
}

size_t snapshot_domain_nentries(const snapshot *snap, size_t d)
{
    if (!snap->sd)
        return d < snap->ndomains ? snap->nacc : 0;
    return snap->sd_begin[d + 1] - snap->sd_begin[d];
}

const stack_acc *snapshot_domain_entry(const snapshot *snap, size_t d, size_t i, int32_t *stack)
{
    if (!snap->sd) {
        *stack = (int32_t)i;
        return &snap->acc[i];
    }
    const stack_domain_acc *e = &snap->sd[snap->sd_begin[d] + i];
    *stack = e->stack;
    return &e->acc;
}
