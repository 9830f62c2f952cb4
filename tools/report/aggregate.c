/* Grouping follows tracemalloc.Snapshot._group_by: the key of a trace is
 * its most recent frame (lineno), that frame's file with line 0 (filename)
 * or the whole traceback; in cumulative mode a trace counts once for every
 * frame of its traceback, repeated frames included.  Inclusive mode (not
 * tracemalloc's) counts a trace once for every distinct key of its
 * traceback.  Because the key only
 * depends on the stack, rows are built from the per-stack sums (of the
 * domains that pass the domain filters, which tracemalloc's DomainFilter
 * applies per trace). */
#include "aggregate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Key of one frame for lineno/filename grouping. */
static int32_t frame_key(const intern *in, group_by g, int32_t frame)
{
    return g == GROUP_FILENAME ? intern_frame_file(in, frame) : frame;
}

static int32_t unknown_key(intern *in, group_by g)
{
    int32_t file = intern_file(in, "<unknown>", 9);
    if (file < 0 || g == GROUP_FILENAME)
        return file;
    return intern_frame(in, file, 0);
}

int aggregate_view(const snapshot *snap, const agg_opts *opts, acc_view *v)
{
    *v = (acc_view){0};
    size_t nd = snap->ndomains, npass = 0, last = 0;
    uint8_t *pass = malloc(nd ? nd : 1);
    if (!pass)
        return -1;
    for (size_t d = 0; d < nd; d++) {
        pass[d] = (uint8_t)domain_passes(opts->domains, opts->ndomains, snap->domains[d].domain);
        if (pass[d]) {
            npass++;
            last = d;
        }
    }
    if (npass == 0) {
        free(pass);
        return 0;
    }
    if (npass == 1)
        v->uniform = snap->domains[last].domain;
    if (nd == 1 || npass == nd) {
        v->acc = snap->acc;
        v->nacc = snap->nacc;
    } else {
        v->owned = calloc(snap->nacc ? snap->nacc : 1, sizeof *v->owned);
        if (!v->owned)
            goto fail;
        v->acc = v->owned;
        v->nacc = snap->nacc;
    }
    if (npass > 1) {
        v->dom = malloc((snap->nacc ? snap->nacc : 1) * sizeof *v->dom);
        v->mixed = calloc(snap->nacc ? snap->nacc : 1, 1);
        if (!v->dom || !v->mixed)
            goto fail;
    }
    if (!v->owned && !v->dom) {
        free(pass);
        return 0;
    }
    for (size_t d = 0; d < nd; d++) {
        if (!pass[d])
            continue;
        int64_t domain = snap->domains[d].domain;
        size_t ne = snapshot_domain_nentries(snap, d);
        for (size_t i = 0; i < ne; i++) {
            int32_t st;
            const stack_acc *a = snapshot_domain_entry(snap, d, i, &st);
            if (!a->traces)
                continue;
            if (v->owned) {
                stack_acc *o = &v->owned[st];
                o->size += a->size;
                o->traces += a->traces;
                o->count += a->count;
                o->var += a->var;
            }
            if (v->dom) {
                /* Domains come in ascending order: the first one of a
                 * stack sets it, any other makes the stack mixed. */
                if (!v->mixed[st] || (v->mixed[st] == 1 && v->dom[st] != domain)) {
                    v->mixed[st] = v->mixed[st] ? 2 : 1;
                    if (v->mixed[st] == 1)
                        v->dom[st] = domain;
                }
            }
        }
    }
    if (v->mixed)
        for (size_t st = 0; st < snap->nacc; st++)
            v->mixed[st] = v->mixed[st] == 2;
    free(pass);
    return 0;
fail:
    free(pass);
    aggregate_view_free(v);
    return -1;
}

void aggregate_view_free(acc_view *v)
{
    free(v->owned);
    free(v->dom);
    free(v->mixed);
    *v = (acc_view){0};
}

static int64_t view_domain(const acc_view *v, size_t st, int32_t *mixed)
{
    *mixed = v->mixed ? v->mixed[st] : 0;
    return v->dom ? v->dom[st] : v->uniform;
}

int aggregate_stack_filter(const snapshot *snap, intern *in, const agg_opts *opts, uint8_t **out)
{
    size_t nstacks = intern_nstacks(in), nfiles = intern_nfiles(in);
    uint8_t *pass = malloc(nstacks ? nstacks : 1);
    /* match[f * nfiles + file]: 0 unknown, 1 no match, 2 match */
    uint8_t *match = calloc(opts->nfilters * nfiles + 1, 1);
    if (!pass || !match) {
        free(pass);
        free(match);
        return -1;
    }
    int has_include = 0;
    for (size_t f = 0; f < opts->nfilters; f++)
        has_include |= opts->filters[f].inclusive;
    for (size_t st = 0; st < nstacks; st++) {
        pass[st] = 1;
        if (!opts->nfilters || st >= snap->nacc || snap->acc[st].traces == 0)
            continue;
        size_t n;
        const int32_t *frames = intern_stack_frames(in, (int32_t)st, &n);
        /* Filter._match_traceback: frames[0] only, or any frame. */
        size_t nconsidered = opts->all_frames ? n : (n ? 1 : 0);
        int included = !has_include, excluded = 0;
        for (size_t f = 0; f < opts->nfilters; f++) {
            const report_filter *flt = &opts->filters[f];
            if (flt->inclusive ? included : excluded)
                continue;
            int any = 0;
            for (size_t k = 0; k < nconsidered && !any; k++) {
                int32_t file = intern_frame_file(in, frames[k]);
                uint8_t *m = &match[f * nfiles + (size_t)file];
                if (!*m) {
                    size_t len;
                    const char *name = intern_file_name(in, file, &len);
                    int r = glob_match(flt->glob, name, len);
                    if (r < 0) {
                        free(pass);
                        free(match);
                        return -1;
                    }
                    *m = r ? 2 : 1;
                }
                any = *m == 2;
            }
            if (any) {
                if (flt->inclusive)
                    included = 1;
                else
                    excluded = 1;
            }
        }
        pass[st] = included && !excluded;
    }
    free(match);
    *out = pass;
    return 0;
}

typedef struct grouper {
    int32_t *slot;      /* key -> row index, -1 when none */
    int32_t *seen;      /* inclusive: key -> last stack that added it */
    int32_t *last_stack; /* cumulative: last stack that touched the row */
    double *mult;        /* cumulative: occurrences of the key in that stack */
    size_t nkeys;
    row *rows;
    size_t nrows, caprows;
} grouper;

static int add_to_key(grouper *gr, int32_t key, int32_t stack, const stack_acc *a, int cumulative,
                      int64_t domain, int32_t mixed)
{
    int32_t idx = gr->slot[key];
    if (idx < 0) {
        if (gr->nrows == gr->caprows) {
            size_t cap = gr->caprows ? gr->caprows * 2 : 64;
            row *r = realloc(gr->rows, cap * sizeof *r);
            if (!r)
                return -1;
            gr->rows = r;
            gr->caprows = cap;
        }
        idx = (int32_t)gr->nrows++;
        gr->rows[idx] = (row){.key = key, .domain = domain, .mixed = mixed};
        gr->slot[key] = idx;
        if (gr->last_stack)
            gr->last_stack[idx] = -1; /* no stack has counted this row yet */
    }
    row *r = &gr->rows[idx];
    if (mixed || domain != r->domain)
        r->mixed = 1;
    r->size = sat_add(r->size, a->size);
    r->count += a->count;
    if (!cumulative) {
        r->var += a->var;
    } else {
        /* A key seen k times in one stack adds k * size, whose variance is
         * k^2 * var: add (2k - 1) * var for the k-th occurrence. */
        if (gr->last_stack[idx] != stack) {
            gr->last_stack[idx] = stack;
            gr->mult[idx] = 0;
        }
        gr->mult[idx] += 1;
        r->var += (2 * gr->mult[idx] - 1) * a->var;
    }
    return 0;
}

static int group(const snapshot *snap, intern *in, const agg_opts *opts, row **rows, size_t *n)
{
    grouper gr = {0};
    uint8_t *pass = NULL;
    int rc = -1;
    int32_t unknown = -1;
    acc_view view;
    if (aggregate_view(snap, opts, &view) < 0)
        return -1;
    /* The key of an empty traceback must exist before sizing tables. */
    for (size_t st = 0; st < view.nacc && st < intern_nstacks(in); st++) {
        size_t nf;
        intern_stack_frames(in, (int32_t)st, &nf);
        if (view.acc[st].traces && nf == 0) {
            unknown = unknown_key(in, opts->group);
            if (unknown < 0) {
                aggregate_view_free(&view);
                return -1;
            }
            break;
        }
    }
    if (aggregate_stack_filter(snap, in, opts, &pass) < 0) {
        aggregate_view_free(&view);
        return -1;
    }
    gr.nkeys = opts->group == GROUP_LINENO ? intern_nframes(in)
             : opts->group == GROUP_FILENAME ? intern_nfiles(in) : intern_nstacks(in);
    gr.slot = malloc((gr.nkeys ? gr.nkeys : 1) * sizeof *gr.slot);
    if (!gr.slot)
        goto out;
    memset(gr.slot, 0xff, gr.nkeys * sizeof *gr.slot);
    if (opts->cumulative) {
        /* One row per key at most: size the side arrays by keys. */
        gr.last_stack = malloc((gr.nkeys ? gr.nkeys : 1) * sizeof *gr.last_stack);
        gr.mult = malloc((gr.nkeys ? gr.nkeys : 1) * sizeof *gr.mult);
        if (!gr.last_stack || !gr.mult)
            goto out;
    }
    if (opts->inclusive) {
        gr.seen = malloc((gr.nkeys ? gr.nkeys : 1) * sizeof *gr.seen);
        if (!gr.seen)
            goto out;
        memset(gr.seen, 0xff, gr.nkeys * sizeof *gr.seen);
    }
    size_t nst = view.nacc < intern_nstacks(in) ? view.nacc : intern_nstacks(in);
    for (size_t st = 0; st < nst; st++) {
        const stack_acc *a = &view.acc[st];
        if (!a->traces || !pass[st])
            continue;
        int32_t mixed;
        int64_t dom = view_domain(&view, st, &mixed);
        size_t nf;
        const int32_t *frames = intern_stack_frames(in, (int32_t)st, &nf);
        if (opts->group == GROUP_TRACEBACK) {
            if (add_to_key(&gr, (int32_t)st, (int32_t)st, a, 0, dom, mixed) < 0)
                goto out;
        } else if (nf == 0) {
            if (add_to_key(&gr, unknown, (int32_t)st, a, opts->cumulative, dom, mixed) < 0)
                goto out;
        } else if (opts->inclusive) {
            for (size_t k = 0; k < nf; k++) {
                int32_t key = frame_key(in, opts->group, frames[k]);
                if (gr.seen[key] == (int32_t)st)
                    continue;
                gr.seen[key] = (int32_t)st;
                if (add_to_key(&gr, key, (int32_t)st, a, 0, dom, mixed) < 0)
                    goto out;
            }
        } else if (!opts->cumulative) {
            if (add_to_key(&gr, frame_key(in, opts->group, frames[0]), (int32_t)st, a, 0, dom, mixed) < 0)
                goto out;
        } else {
            for (size_t k = 0; k < nf; k++)
                if (add_to_key(&gr, frame_key(in, opts->group, frames[k]), (int32_t)st, a, 1, dom,
                               mixed) < 0)
                    goto out;
        }
    }
    rc = 0;
    *rows = gr.rows;
    *n = gr.nrows;
    gr.rows = NULL;
out:
    free(gr.rows);
    free(gr.slot);
    free(gr.last_stack);
    free(gr.mult);
    free(gr.seen);
    free(pass);
    aggregate_view_free(&view);
    return rc;
}

typedef struct row_domain {
    size_t row;
    int64_t domain;
} row_domain;

static int cmp_row_domain(const void *pa, const void *pb)
{
    const row_domain *a = pa, *b = pb;
    if (a->row != b->row)
        return a->row < b->row ? -1 : 1;
    return a->domain < b->domain ? -1 : a->domain > b->domain;
}

static int push_row_domain(row_domain **p, size_t *n, size_t *cap, size_t r, int64_t domain)
{
    /* Entries come domain by domain: skip the repeat of the last one. */
    if (*n && (*p)[*n - 1].row == r && (*p)[*n - 1].domain == domain)
        return 0;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        row_domain *q = realloc(*p, c * sizeof *q);
        if (!q)
            return -1;
        *p = q;
        *cap = c;
    }
    (*p)[(*n)++] = (row_domain){r, domain};
    return 0;
}

/* Adds (row, domain) for every mixed row that the traces of each (stack,
 * domain) of snap reach, with the key logic of group(). */
static int collect_row_domains(const snapshot *snap, intern *in, const agg_opts *opts,
                               const int32_t *slot, size_t nkeys, row_domain **p, size_t *n,
                               size_t *cap)
{
    uint8_t *pass;
    if (aggregate_stack_filter(snap, in, opts, &pass) < 0)
        return -1;
    size_t nstacks = intern_nstacks(in);
    int rc = 0;
    for (size_t d = 0; d < snap->ndomains && rc == 0; d++) {
        int64_t domain = snap->domains[d].domain;
        if (!domain_passes(opts->domains, opts->ndomains, domain))
            continue;
        size_t ne = snapshot_domain_nentries(snap, d);
        for (size_t i = 0; i < ne && rc == 0; i++) {
            int32_t st;
            const stack_acc *a = snapshot_domain_entry(snap, d, i, &st);
            if (!a->traces || (size_t)st >= nstacks || !pass[st])
                continue;
            size_t nf;
            const int32_t *frames = intern_stack_frames(in, st, &nf);
            /* Repeated keys of an inclusive stack push the same pair, which
             * is dropped as a duplicate below. */
            int every_frame = opts->cumulative || opts->inclusive;
            size_t nk = opts->group == GROUP_TRACEBACK || nf == 0 || !every_frame ? 1 : nf;
            for (size_t k = 0; k < nk && rc == 0; k++) {
                int32_t key;
                if (opts->group == GROUP_TRACEBACK)
                    key = st;
                else if (nf == 0)
                    key = unknown_key(in, opts->group); /* exists since group() */
                else
                    key = frame_key(in, opts->group, frames[k]);
                if (key >= 0 && (size_t)key < nkeys && slot[key] >= 0)
                    rc = push_row_domain(p, n, cap, (size_t)slot[key], domain);
            }
        }
    }
    free(pass);
    return rc;
}

int aggregate_row_domains(const snapshot *snap, const snapshot *old_snap, intern *in,
                          const agg_opts *opts, const row *rows, size_t n, int64_t **doms,
                          size_t **begin)
{
    *doms = NULL;
    *begin = calloc(n + 1, sizeof **begin);
    if (!*begin)
        return -1;
    size_t nkeys = opts->group == GROUP_LINENO ? intern_nframes(in)
                 : opts->group == GROUP_FILENAME ? intern_nfiles(in) : intern_nstacks(in);
    int32_t *slot = malloc((nkeys ? nkeys : 1) * sizeof *slot);
    row_domain *p = NULL;
    size_t np = 0, cap = 0;
    int rc = -1;
    if (!slot)
        goto out;
    memset(slot, 0xff, nkeys * sizeof *slot);
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].mixed && rows[i].key >= 0 && (size_t)rows[i].key < nkeys) {
            slot[rows[i].key] = (int32_t)i;
            any = 1;
        }
    }
    if (any && (collect_row_domains(snap, in, opts, slot, nkeys, &p, &np, &cap) < 0 ||
                (old_snap && collect_row_domains(old_snap, in, opts, slot, nkeys, &p, &np, &cap) < 0)))
        goto out;
    if (np > 1)
        qsort(p, np, sizeof *p, cmp_row_domain);
    *doms = malloc((np ? np : 1) * sizeof **doms);
    if (!*doms)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < np; i++) {
        if (i && p[i].row == p[i - 1].row && p[i].domain == p[i - 1].domain)
            continue;
        (*doms)[k++] = p[i].domain;
        (*begin)[p[i].row + 1]++;
    }
    for (size_t i = 0; i < n; i++)
        (*begin)[i + 1] += (*begin)[i];
    rc = 0;
out:
    free(slot);
    free(p);
    if (rc < 0) {
        free(*doms);
        free(*begin);
        *doms = NULL;
        *begin = NULL;
    }
    return rc;
}

size_t row_nframes(const intern *in, group_by g, const row *r)
{
    if (g != GROUP_TRACEBACK)
        return 1;
    size_t n;
    intern_stack_frames(in, r->key, &n);
    return n;
}

void row_frame(const intern *in, group_by g, const row *r, size_t i, int32_t *file, int64_t *lineno)
{
    if (g == GROUP_FILENAME) {
        *file = r->key;
        *lineno = 0;
        return;
    }
    int32_t frame = r->key;
    if (g == GROUP_TRACEBACK) {
        size_t n;
        const int32_t *frames = intern_stack_frames(in, r->key, &n);
        frame = frames[n - 1 - i]; /* oldest first */
    }
    *file = intern_frame_file(in, frame);
    *lineno = intern_frame_lineno(in, frame);
}

int32_t row_frame_id(const intern *in, group_by g, const row *r, size_t i)
{
    if (g == GROUP_FILENAME)
        return -1;
    if (g == GROUP_LINENO)
        return r->key;
    size_t n;
    const int32_t *frames = intern_stack_frames(in, r->key, &n);
    return i < n ? frames[n - 1 - i] : -1; /* an empty traceback has no frame 0 */
}

/* qsort has no context argument; reports are single threaded. */
static struct {
    const intern *in;
    const int32_t *ranks;
    group_by g;
} ctx;

static int cmp_i64(int64_t a, int64_t b) { return a < b ? -1 : a > b; }
static int cmp_dbl(double a, double b) { return a < b ? -1 : a > b; }

static int cmp_frame(int32_t fa, int64_t la, int32_t fb, int64_t lb)
{
    int c = cmp_i64(ctx.ranks[fa], ctx.ranks[fb]);
    return c ? c : cmp_i64(la, lb);
}

/* Traceback ordering: tuples of (filename, lineno), oldest first. */
static int cmp_traceback(const row *a, const row *b)
{
    size_t na = row_nframes(ctx.in, ctx.g, a), nb = row_nframes(ctx.in, ctx.g, b);
    for (size_t i = 0; i < na && i < nb; i++) {
        int32_t fa, fb;
        int64_t la, lb;
        row_frame(ctx.in, ctx.g, a, i, &fa, &la);
        row_frame(ctx.in, ctx.g, b, i, &fb, &lb);
        int c = cmp_frame(fa, la, fb, lb);
        if (c)
            return c;
    }
    return cmp_i64((int64_t)na, (int64_t)nb);
}

/* Statistic._sort_key = (size, count, traceback), sorted in reverse. */
static int cmp_stat(const void *pa, const void *pb)
{
    const row *a = pa, *b = pb;
    int c = cmp_i64(a->size, b->size);
    if (!c)
        c = cmp_dbl(a->count, b->count);
    if (!c)
        c = cmp_traceback(a, b);
    return -c;
}

/* StatisticDiff._sort_key = (abs(size_diff), size, abs(count_diff), count,
 * traceback), sorted in reverse. */
static int cmp_diff(const void *pa, const void *pb)
{
    const row *a = pa, *b = pb;
    uint64_t da = a->size_diff < 0 ? -(uint64_t)a->size_diff : (uint64_t)a->size_diff;
    uint64_t db = b->size_diff < 0 ? -(uint64_t)b->size_diff : (uint64_t)b->size_diff;
    int c = da < db ? -1 : da > db;
    if (!c)
        c = cmp_i64(a->size, b->size);
    if (!c)
        c = cmp_dbl(fabs(a->count_diff), fabs(b->count_diff));
    if (!c)
        c = cmp_dbl(a->count, b->count);
    if (!c)
        c = cmp_traceback(a, b);
    return -c;
}

static int sort_rows(intern *in, group_by g, row *rows, size_t n, int diff)
{
    ctx.in = in;
    ctx.g = g;
    ctx.ranks = intern_file_ranks(in);
    if (!ctx.ranks)
        return -1;
    if (n > 1)
        qsort(rows, n, sizeof *rows, diff ? cmp_diff : cmp_stat);
    return 0;
}

int aggregate_rows(const snapshot *snap, intern *in, const agg_opts *opts, row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    if (group(snap, in, opts, rows, n) < 0)
        return -1;
    if (sort_rows(in, opts->group, *rows, *n, 0) < 0) {
        free(*rows);
        *rows = NULL;
        return -1;
    }
    return 0;
}

int aggregate_diff(const snapshot *old_snap, const snapshot *new_snap, intern *in,
                   const agg_opts *opts, row **rows, size_t *n)
{
    row *o = NULL, *nw = NULL;
    size_t no = 0, nn = 0;
    *rows = NULL;
    *n = 0;
    if (group(old_snap, in, opts, &o, &no) < 0)
        return -1;
    if (group(new_snap, in, opts, &nw, &nn) < 0) {
        free(o);
        return -1;
    }
    size_t nkeys = opts->group == GROUP_LINENO ? intern_nframes(in)
                 : opts->group == GROUP_FILENAME ? intern_nfiles(in) : intern_nstacks(in);
    int32_t *old_slot = malloc((nkeys ? nkeys : 1) * sizeof *old_slot);
    uint8_t *used = calloc(no + 1, 1);
    row *out = malloc((no + nn + 1) * sizeof *out);
    if (!old_slot || !used || !out) {
        free(o); free(nw); free(old_slot); free(used); free(out);
        return -1;
    }
    memset(old_slot, 0xff, nkeys * sizeof *old_slot);
    for (size_t i = 0; i < no; i++)
        old_slot[o[i].key] = (int32_t)i;
    size_t k = 0;
    /* _compare_grouped_stats: new rows diffed against old, then rows that
     * only exist in the old snapshot with size 0 and count 0. */
    for (size_t i = 0; i < nn; i++) {
        row r = nw[i];
        int32_t j = old_slot[r.key];
        if (j >= 0) {
            used[j] = 1;
            if (o[j].mixed || o[j].domain != r.domain)
                r.mixed = 1;
            r.size_diff = r.size - o[j].size;
            r.count_diff = r.count - o[j].count;
            r.var += o[j].var;
        } else {
            r.size_diff = r.size;
            r.count_diff = r.count;
        }
        out[k++] = r;
    }
    for (size_t i = 0; i < no; i++) {
        if (used[i])
            continue;
        out[k++] = (row){.key = o[i].key, .mixed = o[i].mixed, .domain = o[i].domain,
                         .size = 0, .count = 0, .var = o[i].var,
                         .size_diff = -o[i].size, .count_diff = -o[i].count};
    }
    free(o);
    free(nw);
    free(old_slot);
    free(used);
    if (sort_rows(in, opts->group, out, k, 1) < 0) {
        free(out);
        return -1;
    }
    *rows = out;
    *n = k;
    return 0;
}

int aggregate_compare_stacks_root_first(intern *in, int32_t a, int32_t b)
{
    ctx.in = in;
    ctx.ranks = intern_file_ranks(in);
    row ra = {.key = a}, rb = {.key = b};
    ctx.g = GROUP_TRACEBACK;
    return cmp_traceback(&ra, &rb);
}
