/* Strict, non-executing reader for the pickle subset of tracemalloc
 * snapshots (protocols 2 to 5).  See pickle_reader.h. */
#define _DEFAULT_SOURCE /* madvise */
#include "pickle_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Python's pickler nests at most a handful of MARKs for a snapshot
 * (dict items, list items, trace tuple, frames tuple); anything deeper is
 * not a snapshot and is refused before it costs anything. */
#define MAX_MARK_DEPTH 64
/* Memory budget: generous for real snapshots (about 4 bytes per input byte)
 * yet bounded for adversarial ones. */
#define BUDGET_PER_BYTE 48
#define BUDGET_BASE (1u << 20)
#define ARENA_CHUNK_MIN (4u << 10)
#define ARENA_CHUNK_MAX (4u << 20)
#define HUGE_PAGE (2u << 20)
#define RELEASE_STEP ((size_t)1 << 20)

/* Packed 8-byte values, used for list/dict items and the memo.  Arena
 * allocations are 16-byte aligned, which leaves the low 4 bits of their
 * addresses for a tag; scalars other than small ints are boxed. */
enum { PK_TRACE = 0, PK_TUPLE, PK_LIST, PK_DICT, PK_OBJECT, PK_BOX, PK_INT, PK_NONE };
#define PK_TAG(x) ((unsigned)((x) & 15u))
#define PK_PTR(x) ((void *)(uintptr_t)((x) & ~(uint64_t)15))
#define PK_UNSET 0 /* a NULL trace pointer: never a real value */
#define PK_INT_LIMIT ((int64_t)1 << 59)

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct pickle_doc {
    struct arena_chunk *chunks;
    struct pv_list **lists; /* every list/dict, to free their item arrays */
    size_t nlists, caplists;
    size_t budget, spent;
    int64_t domains[PV_DOMAIN_CODES]; /* the first distinct domains, by code */
    unsigned ndomains;
    pv root;
};

typedef struct reader {
    const uint8_t *data;
    size_t len, pos, op_offset;
    int release_consumed;
    size_t released;
    pickle_doc *doc;
    pv *stack;
    size_t nstack, capstack;
    size_t marks[MAX_MARK_DEPTH];
    size_t nmarks;
    uint64_t *memo;
    size_t capmemo, nmemo_next; /* nmemo_next: index used by MEMOIZE */
    size_t memo_init;           /* memo[0 .. memo_init) initialized */
    unsigned last_code;         /* domain code of the previous trace */
    pickle_error *err;
} reader;

static int fail(reader *r, const char *fmt, ...)
{
    va_list ap;
    r->err->offset = r->op_offset;
    va_start(ap, fmt);
    vsnprintf(r->err->message, sizeof r->err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int charge(reader *r, size_t bytes)
{
    pickle_doc *d = r->doc;
    if (bytes > d->budget - d->spent)
        return fail(r, "input needs more memory than its size justifies");
    d->spent += bytes;
    return 0;
}

static void *arena_alloc(reader *r, size_t size)
{
    pickle_doc *d = r->doc;
    size = (size + 15) & ~(size_t)15;
    struct arena_chunk *c = d->chunks;
    if (!c || c->cap - c->used < size) {
        /* Chunks double from 4 KiB so that small inputs stay small. */
        size_t cap = c ? c->cap * 2 : ARENA_CHUNK_MIN;
        if (cap > ARENA_CHUNK_MAX)
            cap = ARENA_CHUNK_MAX;
        if (cap < size)
            cap = size;
        if (charge(r, cap) < 0)
            return NULL;
        /* Big chunks are aligned for transparent huge pages: far fewer
         * page faults when a snapshot has millions of traces. */
        if (cap >= ARENA_CHUNK_MAX) {
            c = aligned_alloc(HUGE_PAGE, (sizeof *c + cap + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1));
            if (c)
                madvise(c, sizeof *c + cap, MADV_HUGEPAGE);
        } else {
            c = malloc(sizeof *c + cap);
        }
        if (!c) {
            fail(r, "out of memory");
            return NULL;
        }
        c->next = d->chunks;
        c->used = 0;
        c->cap = cap;
        d->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

/* Grow an array to hold at least need elements, charging the budget. */
static int grow(reader *r, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    if (charge(r, (ncap - *cap) * elem) < 0)
        return -1;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return fail(r, "out of memory");
    *arr = p;
    *cap = ncap;
    return 0;
}

static inline int pack(reader *r, const pv *v, uint64_t *out)
{
    switch (v->kind) {
    case PV_TRACE: *out = (uint64_t)(uintptr_t)v->u.tr | PK_TRACE; return 0;
    case PV_TUPLE: *out = (uint64_t)(uintptr_t)v->u.t | PK_TUPLE; return 0;
    case PV_LIST: *out = (uint64_t)(uintptr_t)v->u.l | PK_LIST; return 0;
    case PV_DICT: *out = (uint64_t)(uintptr_t)v->u.l | PK_DICT; return 0;
    case PV_OBJECT: *out = (uint64_t)(uintptr_t)v->u.o | PK_OBJECT; return 0;
    case PV_NONE: *out = PK_NONE; return 0;
    case PV_INT:
        if (v->u.i >= -PK_INT_LIMIT && v->u.i < PK_INT_LIMIT) {
            *out = ((uint64_t)v->u.i << 4) | PK_INT;
            return 0;
        }
        break;
    default:
        break;
    }
    pv *box = arena_alloc(r, sizeof *box);
    if (!box)
        return -1;
    *box = *v;
    *out = (uint64_t)(uintptr_t)box | PK_BOX;
    return 0;
}

static inline pv unpack(uint64_t x)
{
    pv v = {.kind = PV_NONE};
    switch (PK_TAG(x)) {
    case PK_TRACE: v.kind = PV_TRACE; v.u.tr = PK_PTR(x); break;
    case PK_TUPLE: v.kind = PV_TUPLE; v.u.t = PK_PTR(x); break;
    case PK_LIST: v.kind = PV_LIST; v.u.l = PK_PTR(x); break;
    case PK_DICT: v.kind = PV_DICT; v.u.l = PK_PTR(x); break;
    case PK_OBJECT: v.kind = PV_OBJECT; v.u.o = PK_PTR(x); break;
    case PK_BOX: v = *(const pv *)PK_PTR(x); break;
    case PK_INT: {
        /* arithmetic shift written portably */
        uint64_t u = x >> 4;
        if (u & ((uint64_t)1 << 59))
            u |= ~(uint64_t)0 << 60;
        memcpy(&v.u.i, &u, sizeof u);
        v.kind = PV_INT;
        break;
    }
    default: break;
    }
    return v;
}

static inline int push(reader *r, pv v)
{
    if (r->nstack == r->capstack &&
        grow(r, (void **)&r->stack, &r->capstack, r->nstack + 1, sizeof(pv)) < 0)
        return -1;
    r->stack[r->nstack++] = v;
    return 0;
}

static int need_stack(reader *r, size_t n)
{
    size_t floor = r->nmarks ? r->marks[r->nmarks - 1] : 0;
    if (r->nstack - floor < n)
        return fail(r, "stack underflow");
    return 0;
}

static int need_bytes(reader *r, size_t n)
{
    if (r->len - r->pos < n)
        return fail(r, "truncated input (needs %zu more bytes)", n - (r->len - r->pos));
    return 0;
}

static inline uint64_t read_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int pop_mark(reader *r, size_t *start)
{
    if (r->nmarks == 0)
        return fail(r, "no MARK on the stack");
    *start = r->marks[--r->nmarks];
    return 0;
}

/* Python decodes pickled str with 'surrogatepass': well-formed UTF-8 where
 * encoded surrogates are allowed.  Checked so that JSON output is valid. */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) { k = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { k = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { k = 3; cp = c & 0x07; }
        else return 0;
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += k + 1;
    }
    return 1;
}

static int op_string(reader *r, size_t lenbytes)
{
    if (need_bytes(r, lenbytes) < 0)
        return -1;
    uint64_t n = read_le(r->data + r->pos, lenbytes);
    r->pos += lenbytes;
    if (n > r->len - r->pos || n > UINT32_MAX)
        return fail(r, "string length %llu exceeds the input", (unsigned long long)n);
    const uint8_t *s = r->data + r->pos;
    if (!utf8_valid(s, (size_t)n))
        return fail(r, "string is not valid UTF-8");
    r->pos += (size_t)n;
    pv v = {.kind = PV_STR, .len = (uint32_t)n, .u.s = (const char *)s};
    return push(r, v);
}

static int op_long(reader *r, size_t lenbytes)
{
    if (need_bytes(r, lenbytes) < 0)
        return -1;
    uint64_t n = read_le(r->data + r->pos, lenbytes);
    if (lenbytes == 4 && (n & 0x80000000u))
        return fail(r, "negative LONG4 length");
    r->pos += lenbytes;
    if (n > r->len - r->pos)
        return fail(r, "integer length %llu exceeds the input", (unsigned long long)n);
    const uint8_t *p = r->data + r->pos;
    /* Two's complement, little endian.  Bytes beyond the eighth must only
     * be sign extension, otherwise the value does not fit in 64 bits. */
    int64_t v = 0;
    if (n > 0) {
        int neg = (p[n - 1] & 0x80) != 0;
        for (size_t i = 8; i < n; i++)
            if (p[i] != (neg ? 0xff : 0x00))
                return fail(r, "integer does not fit in 64 bits");
        size_t m = n < 8 ? (size_t)n : 8;
        uint64_t u = read_le(p, m);
        if (m < 8 && neg)
            u |= ~(uint64_t)0 << (8 * m);
        if (n > 8 && ((u >> 63) != (uint64_t)neg))
            return fail(r, "integer does not fit in 64 bits");
        memcpy(&v, &u, sizeof v);
    }
    r->pos += (size_t)n;
    pv val = {.kind = PV_INT, .u.i = v};
    return push(r, val);
}

/* The code of a domain that differs from the previous trace's. */
static unsigned domain_code(reader *r, int64_t domain)
{
    pickle_doc *d = r->doc;
    unsigned code;
    for (code = 0; code < d->ndomains && d->domains[code] != domain; code++)
        ;
    if (code == d->ndomains && code < PV_DOMAIN_CODES)
        d->domains[d->ndomains++] = domain;
    r->last_code = code; /* PV_DOMAIN_EXT when the table is full */
    return code;
}

/* A compact trace; see struct pv_trace for the domain code. */
static inline struct pv_trace *new_trace(reader *r, int64_t domain, int64_t size,
                                         struct pv_tuple *frames)
{
    pickle_doc *d = r->doc;
    unsigned code = r->last_code;
    if (__builtin_expect(code >= d->ndomains || d->domains[code] != domain, 0))
        code = domain_code(r, domain);
    struct pv_trace *t;
    if (code == PV_DOMAIN_EXT) {
        struct pv_trace_ext *e = arena_alloc(r, sizeof *e);
        if (!e)
            return NULL;
        e->domain = domain;
        t = &e->t;
    } else {
        t = arena_alloc(r, sizeof *t);
        if (!t)
            return NULL;
    }
    t->size = size;
    t->frames_code = (uintptr_t)frames | code;
    return t;
}

static pv make_tuple(reader *r, const pv *items, size_t n, int *ok)
{
    pv v = {.kind = PV_TUPLE};
    *ok = 0;
    /* Compact form for trace tuples: (int, int, tuple[, int]). */
    if ((n == 4 || n == 3) && items[0].kind == PV_INT && items[1].kind == PV_INT &&
        items[2].kind == PV_TUPLE && (n == 3 || items[3].kind == PV_INT)) {
        struct pv_trace *t = new_trace(r, items[0].u.i, items[1].u.i, items[2].u.t);
        if (!t)
            return v;
        v.kind = PV_TRACE;
        v.u.tr = t;
        *ok = 1;
        return v;
    }
    struct pv_tuple *t = arena_alloc(r, sizeof *t + n * sizeof(pv));
    if (!t)
        return v;
    t->len = (uint32_t)n;
    t->cache = -1;
    if (n)
        memcpy(t->items, items, n * sizeof(pv));
    v.u.t = t;
    *ok = 1;
    return v;
}

static int build_tuple(reader *r, size_t start)
{
    size_t n = r->nstack - start;
    int ok;
    pv v = make_tuple(r, r->stack + start, n, &ok);
    if (!ok)
        return -1;
    r->nstack = start;
    return push(r, v);
}

static int new_container(reader *r, uint32_t kind)
{
    struct pv_list *l = arena_alloc(r, sizeof *l);
    if (!l)
        return -1;
    l->len = l->cap = 0;
    l->items = NULL;
    pickle_doc *d = r->doc;
    if (grow(r, (void **)&d->lists, &d->caplists, d->nlists + 1, sizeof *d->lists) < 0)
        return -1;
    d->lists[d->nlists++] = l;
    pv v = {.kind = kind, .u.l = l};
    return push(r, v);
}

/* Move stack[start..] into the list or dict just below start. */
static int extend(reader *r, size_t start, uint32_t kind)
{
    if (start == 0)
        return fail(r, "stack underflow");
    size_t n = r->nstack - start;
    pv *target = &r->stack[start - 1];
    if (target->kind != kind)
        return fail(r, kind == PV_LIST ? "append to a non-list" : "setitem on a non-dict");
    if (kind == PV_DICT && n % 2)
        return fail(r, "odd number of items for a dict");
    struct pv_list *l = target->u.l;
    if (grow(r, (void **)&l->items, &l->cap, l->len + n, sizeof *l->items) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (pack(r, &r->stack[start + i], &l->items[l->len + i]) < 0)
            return -1;
    l->len += n;
    r->nstack = start;
    return 0;
}

static int memo_put(reader *r, uint64_t idx)
{
    if (r->nstack == 0 || (r->nmarks && r->marks[r->nmarks - 1] == r->nstack))
        return fail(r, "memoize with an empty stack");
    /* Picklers number memo entries from 0 upwards, so an index beyond the
     * input size cannot come from a real snapshot. */
    if (idx > r->len)
        return fail(r, "memo index %llu too large", (unsigned long long)idx);
    if (grow(r, (void **)&r->memo, &r->capmemo, (size_t)idx + 1, sizeof *r->memo) < 0)
        return -1;
    /* Initialize lazily: untouched capacity costs no resident memory. */
    for (; r->memo_init <= idx; r->memo_init++)
        r->memo[r->memo_init] = PK_UNSET;
    return pack(r, &r->stack[r->nstack - 1], &r->memo[idx]);
}

static int memo_get(reader *r, uint64_t idx)
{
    if (idx >= r->memo_init || r->memo[idx] == PK_UNSET)
        return fail(r, "memo index %llu was never stored", (unsigned long long)idx);
    return push(r, unpack(r->memo[idx]));
}

static int make_global(reader *r, const char *mod, size_t modlen, const char *name, size_t namelen)
{
    int cls = 0;
    if (modlen == 11 && memcmp(mod, "tracemalloc", 11) == 0) {
        if (namelen == 8 && memcmp(name, "Snapshot", 8) == 0)
            cls = PV_CLASS_SNAPSHOT;
        else if (namelen == 7 && memcmp(name, "_Traces", 7) == 0)
            cls = PV_CLASS_TRACES;
    }
    if (!cls) {
        int ml = modlen > 40 ? 40 : (int)modlen, nl = namelen > 40 ? 40 : (int)namelen;
        for (int i = 0; i < ml; i++)
            if ((unsigned char)mod[i] < 32 || (unsigned char)mod[i] >= 127)
                ml = i;
        for (int i = 0; i < nl; i++)
            if ((unsigned char)name[i] < 32 || (unsigned char)name[i] >= 127)
                nl = i;
        return fail(r, "refusing global %.*s.%.*s (only tracemalloc.Snapshot and "
                       "tracemalloc._Traces are allowed)", ml, mod, nl, name);
    }
    if (cls == PV_CLASS_SNAPSHOT)
        r->err->saw_snapshot = 1;
    pv v = {.kind = PV_CLASS, .u.i = cls};
    return push(r, v);
}

static int op_global_text(reader *r)
{
    const uint8_t *p = r->data + r->pos, *end = r->data + r->len;
    const uint8_t *nl1 = memchr(p, '\n', (size_t)(end - p));
    if (!nl1)
        return fail(r, "truncated GLOBAL");
    const uint8_t *nl2 = memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1));
    if (!nl2)
        return fail(r, "truncated GLOBAL");
    r->pos = (size_t)(nl2 + 1 - r->data);
    return make_global(r, (const char *)p, (size_t)(nl1 - p), (const char *)nl1 + 1,
                       (size_t)(nl2 - nl1 - 1));
}

static void release_pages(reader *r)
{
    if (!r->release_consumed || r->pos - r->released < RELEASE_STEP)
        return;
    long page = sysconf(_SC_PAGESIZE);
    size_t upto = r->pos & ~((size_t)page - 1);
    if (upto > r->released) {
        /* Read-only private file mapping: pages come back from the file
         * if a string inside them is read later. */
        madvise((void *)(r->data + r->released), upto - r->released, MADV_DONTNEED);
        r->released = upto;
    }
}

static inline int small_int(const uint8_t **pp, const uint8_t *end, int64_t *v)
{
    const uint8_t *p = *pp;
    size_t left = (size_t)(end - p);
    if (left >= 2 && p[0] == 'K') {
        *v = p[1];
        *pp = p + 2;
    } else if (left >= 3 && p[0] == 'M') {
        *v = (int64_t)read_le(p + 1, 2);
        *pp = p + 3;
    } else if (left >= 5 && p[0] == 'J') {
        *v = (int64_t)(int32_t)(uint32_t)read_le(p + 1, 4);
        *pp = p + 5;
    } else {
        return 0;
    }
    return 1;
}

/* Fast path for the opcodes of nearly every trace once its stack has been
 * seen:  MARK int int BINGET(stack) int TUPLE.  Gives exactly what the
 * generic path would; anything else (or any doubt) returns 0 and the
 * generic path runs, with its error messages.  r->pos is after the MARK. */
static int fast_trace(reader *r, int *rc)
{
    const uint8_t *p = r->data + r->pos, *end = r->data + r->len;
    int64_t domain, size, nframe;
    uint64_t idx;
    if (r->nmarks == MAX_MARK_DEPTH || !small_int(&p, end, &domain) || !small_int(&p, end, &size))
        return 0;
    if (end - p >= 2 && p[0] == 'h') {
        idx = p[1];
        p += 2;
    } else if (end - p >= 5 && p[0] == 'j') {
        idx = read_le(p + 1, 4);
        p += 5;
    } else {
        return 0;
    }
    if (idx >= r->memo_init || PK_TAG(r->memo[idx]) != PK_TUPLE || !small_int(&p, end, &nframe) ||
        p >= end || *p != 't')
        return 0;
    (void)nframe;
    struct pv_trace *t = new_trace(r, domain, size, PK_PTR(r->memo[idx]));
    if (!t) {
        *rc = -1;
        return 1;
    }
    r->pos = (size_t)(p + 1 - r->data);
    *rc = push(r, (pv){.kind = PV_TRACE, .u.tr = t});
    /* Python memoizes every tuple: take the MEMOIZE that follows too. */
    if (*rc == 0 && r->pos < r->len && r->data[r->pos] == 0x94) {
        r->op_offset = r->pos++;
        *rc = memo_put(r, r->nmemo_next++);
    }
    return 1;
}

static int step(reader *r, int *done)
{
    r->op_offset = r->pos;
    if (r->pos >= r->len)
        return fail(r, "truncated input (no STOP opcode)");
    uint8_t op = r->data[r->pos++];
    size_t start = 0;
    pv v;
    switch (op) {
    case 0x80: /* PROTO */
        if (need_bytes(r, 1) < 0)
            return -1;
        if (r->data[r->pos] < 2 || r->data[r->pos] > 5)
            return fail(r, "unsupported pickle protocol %u", r->data[r->pos]);
        r->pos++;
        return 0;
    case 0x95: { /* FRAME: only a hint for buffered readers */
        if (need_bytes(r, 8) < 0)
            return -1;
        uint64_t n = read_le(r->data + r->pos, 8);
        r->pos += 8;
        if (n > r->len - r->pos)
            return fail(r, "frame of %llu bytes exceeds the input", (unsigned long long)n);
        return 0;
    }
    case '.': /* STOP */
        if (r->nmarks)
            return fail(r, "STOP with an open MARK");
        if (r->nstack != 1)
            return fail(r, "STOP with %zu values on the stack", r->nstack);
        r->doc->root = r->stack[0];
        *done = 1;
        return 0;
    case '(': { /* MARK */
        int rc;
        if (fast_trace(r, &rc))
            return rc;
        if (r->nmarks == MAX_MARK_DEPTH)
            return fail(r, "nesting deeper than %d", MAX_MARK_DEPTH);
        r->marks[r->nmarks++] = r->nstack;
        return 0;
    }
    case '0': /* POP */
        if (need_stack(r, 1) < 0)
            return -1;
        r->nstack--;
        return 0;
    case '1': /* POP_MARK */
        if (pop_mark(r, &start) < 0)
            return -1;
        r->nstack = start;
        return 0;
    case 'N':
        v = (pv){.kind = PV_NONE};
        return push(r, v);
    case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
        v = (pv){.kind = PV_BOOL, .u.i = op == 0x88};
        return push(r, v);
    case 'K': case 'M': case 'J': { /* BININT1, BININT2, BININT */
        size_t n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        if (need_bytes(r, n) < 0)
            return -1;
        uint64_t u = read_le(r->data + r->pos, n);
        r->pos += n;
        v = (pv){.kind = PV_INT, .u.i = op == 'J' ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u};
        return push(r, v);
    }
    case 0x8a: return op_long(r, 1); /* LONG1 */
    case 0x8b: return op_long(r, 4); /* LONG4 */
    case 'G': { /* BINFLOAT, big endian */
        if (need_bytes(r, 8) < 0)
            return -1;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = (u << 8) | r->data[r->pos + i];
        r->pos += 8;
        v = (pv){.kind = PV_FLOAT};
        memcpy(&v.u.f, &u, sizeof u);
        return push(r, v);
    }
    case 0x8c: return op_string(r, 1); /* SHORT_BINUNICODE */
    case 'X': return op_string(r, 4);  /* BINUNICODE */
    case 0x8d: return op_string(r, 8); /* BINUNICODE8 */
    case ')': {
        int ok;
        v = make_tuple(r, NULL, 0, &ok);
        return ok ? push(r, v) : -1;
    }
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        size_t n = (size_t)(op - 0x84);
        if (need_stack(r, n) < 0)
            return -1;
        return build_tuple(r, r->nstack - n);
    }
    case 't':
        if (pop_mark(r, &start) < 0)
            return -1;
        return build_tuple(r, start);
    case ']': return new_container(r, PV_LIST);
    case '}': return new_container(r, PV_DICT);
    case 'l': case 'd': { /* LIST, DICT from marked items */
        if (pop_mark(r, &start) < 0)
            return -1;
        if (op == 'd' && (r->nstack - start) % 2)
            return fail(r, "odd number of items for a dict");
        /* Keep the items above a fresh container, then move them in. */
        size_t n = r->nstack - start;
        if (push(r, (pv){.kind = PV_NONE}) < 0 ||
            new_container(r, op == 'l' ? PV_LIST : PV_DICT) < 0)
            return -1;
        pv c = r->stack[r->nstack - 1];
        r->nstack -= 2;
        memmove(r->stack + start + 1, r->stack + start, n * sizeof(pv));
        r->stack[start] = c;
        r->nstack += 1;
        return extend(r, start + 1, c.kind);
    }
    case 'a': /* APPEND */
        if (need_stack(r, 2) < 0)
            return -1;
        return extend(r, r->nstack - 1, PV_LIST);
    case 'e': /* APPENDS */
        if (pop_mark(r, &start) < 0)
            return -1;
        return extend(r, start, PV_LIST);
    case 's': /* SETITEM */
        if (need_stack(r, 3) < 0)
            return -1;
        return extend(r, r->nstack - 2, PV_DICT);
    case 'u': /* SETITEMS */
        if (pop_mark(r, &start) < 0)
            return -1;
        return extend(r, start, PV_DICT);
    case 0x94: /* MEMOIZE */
        return memo_put(r, r->nmemo_next++);
    case 'q': case 'r': { /* BINPUT, LONG_BINPUT */
        size_t n = op == 'q' ? 1 : 4;
        if (need_bytes(r, n) < 0)
            return -1;
        uint64_t idx = read_le(r->data + r->pos, n);
        r->pos += n;
        return memo_put(r, idx);
    }
    case 'h': case 'j': { /* BINGET, LONG_BINGET */
        size_t n = op == 'h' ? 1 : 4;
        if (need_bytes(r, n) < 0)
            return -1;
        uint64_t idx = read_le(r->data + r->pos, n);
        r->pos += n;
        return memo_get(r, idx);
    }
    case 'c': return op_global_text(r);
    case 0x93: { /* STACK_GLOBAL */
        if (need_stack(r, 2) < 0)
            return -1;
        pv *m = &r->stack[r->nstack - 2], *nm = &r->stack[r->nstack - 1];
        if (m->kind != PV_STR || nm->kind != PV_STR)
            return fail(r, "STACK_GLOBAL needs two strings");
        const char *ms = m->u.s, *ns = nm->u.s;
        size_t ml = m->len, nl = nm->len;
        r->nstack -= 2;
        return make_global(r, ms, ml, ns, nl);
    }
    case 0x81: { /* NEWOBJ: cls, args -> cls.__new__(cls, *args) */
        if (need_stack(r, 2) < 0)
            return -1;
        pv *cls = &r->stack[r->nstack - 2], *args = &r->stack[r->nstack - 1];
        if (cls->kind != PV_CLASS)
            return fail(r, "NEWOBJ on something that is not an allowed class");
        if (args->kind != PV_TUPLE || args->u.t->len != 0)
            return fail(r, "NEWOBJ with arguments");
        struct pv_object *o = arena_alloc(r, sizeof *o);
        if (!o)
            return -1;
        o->cls = (int)cls->u.i;
        o->has_state = 0;
        o->build_offset = r->op_offset;
        o->state = (pv){.kind = PV_NONE};
        r->nstack -= 2;
        v = (pv){.kind = PV_OBJECT, .u.o = o};
        return push(r, v);
    }
    case 'b': { /* BUILD: obj.__dict__.update(state) */
        if (need_stack(r, 2) < 0)
            return -1;
        pv *obj = &r->stack[r->nstack - 2], *state = &r->stack[r->nstack - 1];
        if (obj->kind != PV_OBJECT)
            return fail(r, "BUILD on something that is not a tracemalloc object");
        if (state->kind != PV_DICT)
            return fail(r, "BUILD with a state that is not a dict");
        if (obj->u.o->has_state)
            return fail(r, "BUILD applied twice to the same object");
        obj->u.o->state = *state;
        obj->u.o->has_state = 1;
        obj->u.o->build_offset = r->op_offset;
        r->nstack--;
        return 0;
    }
    default:
        return fail(r, "unsupported pickle opcode 0x%02x", op);
    }
}

int pickle_read(const uint8_t *data, size_t len, int release_consumed,
                pickle_doc **out, pickle_error *err)
{
    *out = NULL;
    err->saw_snapshot = 0;
    pickle_doc *doc = calloc(1, sizeof *doc);
    if (!doc) {
        err->offset = 0;
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    doc->budget = (len > (SIZE_MAX - BUDGET_BASE) / BUDGET_PER_BYTE)
                      ? SIZE_MAX
                      : len * BUDGET_PER_BYTE + BUDGET_BASE;
    reader r = {.data = data, .len = len, .doc = doc, .err = err,
                .release_consumed = release_consumed};
    int rc = 0, done = 0;
    if (len == 0) {
        r.op_offset = 0;
        rc = fail(&r, "empty file");
    }
    while (rc == 0 && !done) {
        rc = step(&r, &done);
        release_pages(&r);
    }
    if (rc == 0 && r.pos != len) {
        r.op_offset = r.pos;
        rc = fail(&r, "%zu trailing bytes after STOP", len - r.pos);
    }
    free(r.stack);
    free(r.memo);
    if (rc < 0) {
        pickle_doc_free(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

const pv *pickle_doc_root(const pickle_doc *doc)
{
    return &doc->root;
}

int64_t pv_trace_domain(const pickle_doc *doc, const struct pv_trace *t)
{
    unsigned code = (unsigned)(t->frames_code & 15);
    if (code == PV_DOMAIN_EXT)
        return ((const struct pv_trace_ext *)t)->domain;
    return doc->domains[code];
}

void pickle_doc_free(pickle_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->nlists; i++)
        free(doc->lists[i]->items);
    free(doc->lists);
    struct arena_chunk *c = doc->chunks;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

int pv_dict_get(const pv *dict, const char *key, pv *out)
{
    if (dict->kind != PV_DICT)
        return 0;
    size_t klen = strlen(key);
    const struct pv_list *l = dict->u.l;
    for (size_t i = l->len; i >= 2; i -= 2) {
        pv k = unpack(l->items[i - 2]);
        if (k.kind == PV_STR && k.len == klen && memcmp(k.u.s, key, klen) == 0) {
            *out = unpack(l->items[i - 1]);
            return 1;
        }
    }
    return 0;
}

size_t pv_dict_len(const pv *dict)
{
    return dict->kind == PV_DICT ? dict->u.l->len / 2 : 0;
}

void pv_dict_item(const pv *dict, size_t i, pv *key, pv *value)
{
    *key = unpack(dict->u.l->items[2 * i]);
    *value = unpack(dict->u.l->items[2 * i + 1]);
}

size_t pv_seq_len(const pv *seq)
{
    if (seq->kind == PV_LIST)
        return seq->u.l->len;
    if (seq->kind == PV_TUPLE)
        return seq->u.t->len;
    return 0;
}

pv pv_seq_get(const pv *seq, size_t i)
{
    if (seq->kind == PV_LIST)
        return unpack(seq->u.l->items[i]);
    return seq->u.t->items[i];
}
