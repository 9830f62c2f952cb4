#include "merge.h"

#include <stdlib.h>
#include <string.h>

static void acc_add(stack_acc *a, const stack_acc *b)
{
    int64_t r;
    a->size = __builtin_add_overflow(a->size, b->size, &r) ? INT64_MAX : r;
    a->traces += b->traces;
    a->count += b->count;
    a->var += b->var;
}

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : a > b;
}

/* A (domain value, stack) entry, before domains get their indexes. */
typedef struct entry {
    int64_t domain;
    int32_t stack;
    stack_acc acc;
} entry;

static int cmp_entry(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    if (a->domain != b->domain)
        return a->domain < b->domain ? -1 : 1;
    return a->stack < b->stack ? -1 : a->stack > b->stack;
}

/* The distinct domains of the inputs, ascending. */
static int merge_domains(snapshot *out, const snapshot *const *inputs, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += inputs[i]->ndomains;
    int64_t *vals = malloc((total ? total : 1) * sizeof *vals);
    if (!vals)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < inputs[i]->ndomains; d++)
            vals[k++] = inputs[i]->domains[d].domain;
    qsort(vals, k, sizeof *vals, cmp_i64);
    size_t nd = 0;
    for (size_t i = 0; i < k; i++)
        if (!nd || vals[nd - 1] != vals[i])
            vals[nd++] = vals[i];
    out->domains = calloc(nd ? nd : 1, sizeof *out->domains);
    if (!out->domains) {
        free(vals);
        return -1;
    }
    for (size_t d = 0; d < nd; d++)
        out->domains[d].domain = vals[d];
    out->ndomains = nd;
    free(vals);
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < inputs[i]->ndomains; d++) {
            const domain_total *t = &inputs[i]->domains[d];
            size_t lo = 0, hi = nd; /* the domain is there: binary search */
            while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (out->domains[mid].domain <= t->domain)
                    lo = mid;
                else
                    hi = mid;
            }
            acc_add(&out->domains[lo].sum, &t->sum);
        }
    return 0;
}

/* With several domains: the per (domain, stack) sums of every input, summed. */
static int merge_stack_domains(snapshot *out, const snapshot *const *inputs, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < inputs[i]->ndomains; d++)
            total += snapshot_domain_nentries(inputs[i], d);
    entry *e = malloc((total ? total : 1) * sizeof *e);
    out->sd = malloc((total ? total : 1) * sizeof *out->sd);
    out->sd_begin = calloc(out->ndomains + 1, sizeof *out->sd_begin);
    if (!e || !out->sd || !out->sd_begin) {
        free(e);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < inputs[i]->ndomains; d++) {
            size_t ne = snapshot_domain_nentries(inputs[i], d);
            for (size_t j = 0; j < ne; j++) {
                int32_t st;
                const stack_acc *a = snapshot_domain_entry(inputs[i], d, j, &st);
                if (a->traces)
                    e[k++] = (entry){inputs[i]->domains[d].domain, st, *a};
            }
        }
    qsort(e, k, sizeof *e, cmp_entry);
    size_t m = 0, d = 0;
    for (size_t i = 0; i < k; i++) {
        if (m && out->sd[m - 1].stack == e[i].stack &&
            out->domains[out->sd[m - 1].domain].domain == e[i].domain) {
            acc_add(&out->sd[m - 1].acc, &e[i].acc);
            continue;
        }
        while (out->domains[d].domain != e[i].domain)
            d++;
        out->sd[m++] = (stack_domain_acc){.stack = e[i].stack, .domain = (uint32_t)d, .acc = e[i].acc};
        out->sd_begin[d + 1]++;
    }
    for (size_t j = 0; j < out->ndomains; j++)
        out->sd_begin[j + 1] += out->sd_begin[j];
    free(e);
    return 0;
}

/* Distinct native frames among the merged stacks (each input counted its own). */
static int count_native_frames(snapshot *out, const intern *in)
{
    size_t nframes = intern_nframes(in);
    uint8_t *seen = calloc(nframes ? nframes : 1, 1);
    if (!seen)
        return -1;
    for (size_t st = 0; st < out->nacc && st < intern_nstacks(in); st++) {
        if (!out->acc[st].traces)
            continue;
        size_t nf;
        const int32_t *frames = intern_stack_frames(in, (int32_t)st, &nf);
        for (size_t k = 0; k < nf; k++) {
            if (seen[frames[k]] || !snapshot_native_file(out, in, intern_frame_file(in, frames[k])))
                continue;
            seen[frames[k]] = 1;
            out->native_frames++;
        }
    }
    free(seen);
    return 0;
}

int snapshot_merge(snapshot *out, const snapshot *const *inputs, size_t n, const intern *in)
{
    memset(out, 0, sizeof *out);
    out->sample_rate = 1;
    size_t nacc = 0;
    int dropped = 1;
    for (size_t i = 0; i < n; i++) {
        const snapshot *s = inputs[i];
        if (s->nacc > nacc)
            nacc = s->nacc;
        if (s->sample_rate > out->sample_rate)
            out->sample_rate = s->sample_rate;
        if (s->has_traceback_limit &&
            (!out->has_traceback_limit || s->traceback_limit > out->traceback_limit)) {
            out->traceback_limit = s->traceback_limit;
            out->has_traceback_limit = 1;
        }
        out->ntraces += s->ntraces;
        if (s->mixed) {
            out->mixed = 1;
            dropped &= s->native_dropped;
            /* Frames already dropped cannot be told apart any more: the
             * count of the input that had most stands for them. */
            if (s->native_dropped && s->native_frames > out->native_frames)
                out->native_frames = s->native_frames;
        }
    }
    out->native_dropped = out->mixed && dropped;
    if (!out->native_dropped)
        out->native_frames = 0;
    out->acc = calloc(nacc ? nacc : 1, sizeof *out->acc);
    if (!out->acc)
        goto fail;
    out->nacc = nacc;
    for (size_t i = 0; i < n; i++)
        for (size_t st = 0; st < inputs[i]->nacc; st++)
            acc_add(&out->acc[st], &inputs[i]->acc[st]);
    if (merge_domains(out, inputs, n) < 0)
        goto fail;
    if (out->ndomains > 1 && merge_stack_domains(out, inputs, n) < 0)
        goto fail;
    if (out->mixed && !out->native_dropped && count_native_frames(out, in) < 0)
        goto fail;
    return 0;
fail:
    snapshot_free(out);
    return -1;
}

int64_t snapshot_pid(const snapshot *snap, int *has)
{
    const meta_entry *m = snapshot_meta(snap, "pid");
    *has = m && m->kind == META_INT;
    return *has ? m->i : 0;
}
