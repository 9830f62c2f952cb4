/* Series per site: every snapshot is grouped as for its own report
 * (aggregate_rows, so filters, domains, --cumulative and --python-only
 * apply), and the rows are matched across snapshots by key, which the
 * shared intern table makes comparable. */
#include "trend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"

static double *sort_times;

static int cmp_by_time(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return sort_times[a] < sort_times[b] ? -1 : sort_times[a] > sort_times[b];
}

static int cmp_site(const void *pa, const void *pb)
{
    const trend_site *a = pa, *b = pb;
    if (a->leak != b->leak)
        return a->leak ? -1 : 1;
    if (a->fit.slope != b->fit.slope)
        return a->fit.slope > b->fit.slope ? -1 : 1;
    return a->key.key < b->key.key ? -1 : a->key.key > b->key.key;
}

/* The snapshots in time order; an error for a missing or repeated time or
 * for several processes. */
static int order_snapshots(const snapshot *const *snaps, size_t n, trend_result *out, char *err,
                           size_t errlen)
{
    size_t *idx = malloc(n * sizeof *idx);
    double *times = malloc(n * sizeof *times);
    out->order = malloc(n * sizeof *out->order);
    out->time = malloc(n * sizeof *out->time);
    if (!idx || !times || !out->order || !out->time) {
        free(idx);
        free(times);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1, has_pid0 = 0;
    int64_t pid0 = snapshot_pid(snaps[0], &has_pid0);
    for (size_t i = 0; i < n; i++) {
        const meta_entry *m = snapshot_meta(snaps[i], "time");
        if (!m || (m->kind != META_FLOAT && m->kind != META_INT) ||
            !isfinite(m->kind == META_FLOAT ? m->f : (double)m->i)) {
            snprintf(err, errlen, "%s: no time in its metadata (--trend orders the snapshots by it)",
                     snaps[i]->path);
            goto out;
        }
        times[i] = m->kind == META_FLOAT ? m->f : (double)m->i;
        idx[i] = i;
        int has;
        int64_t pid = snapshot_pid(snaps[i], &has);
        if (has != has_pid0 || pid != pid0) {
            snprintf(err, errlen, "%s and %s are snapshots of different processes: --trend "
                                  "follows one process (--by-pid: one trend per process)",
                     snaps[0]->path, snaps[i]->path);
            goto out;
        }
    }
    sort_times = times;
    qsort(idx, n, sizeof *idx, cmp_by_time);
    for (size_t i = 0; i < n; i++) {
        out->order[i] = snaps[idx[i]];
        out->time[i] = times[idx[i]];
        if (i && out->time[i] == out->time[i - 1]) {
            snprintf(err, errlen, "%s and %s have the same time", out->order[i - 1]->path,
                     out->order[i]->path);
            goto out;
        }
    }
    rc = 0;
out:
    free(idx);
    free(times);
    return rc;
}

static int is_peak(const snapshot *s)
{
    const meta_entry *m = snapshot_meta(s, "is_peak");
    return m && m->kind == META_BOOL && m->i;
}

int trend_compute(const snapshot *const *all, size_t nall, intern *in, const agg_opts *opts,
                  trend_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* Peak companions hold the live set of another moment than their
     * time: they are left out of the series. */
    const snapshot **snaps = malloc((nall ? nall : 1) * sizeof *snaps);
    if (!snaps) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < nall; i++) {
        if (is_peak(all[i]))
            out->skipped_peaks++;
        else
            snaps[n++] = all[i];
    }
    out->n = n;
    if (n < 3) {
        snprintf(err, errlen, "--trend needs at least three snapshots that are not peak snapshots "
                              "(%zu given, %zu of them peak)", nall, out->skipped_peaks);
        free(snaps);
        return -1;
    }
    if (order_snapshots(snaps, n, out, err, errlen) < 0) {
        free(snaps);
        trend_free(out);
        return -1;
    }
    free(snaps);
    row **rows = calloc(n, sizeof *rows);
    size_t *nrows = calloc(n, sizeof *nrows);
    int32_t *slot = NULL;
    double *hours = malloc(n * sizeof *hours);
    int rc = -1;
    if (!rows || !nrows || !hours)
        goto out;
    for (size_t i = 0; i < n; i++) {
        out->sampled |= snapshot_is_sampled(out->order[i]);
        if (aggregate_rows(out->order[i], in, opts, &rows[i], &nrows[i]) < 0)
            goto out;
        hours[i] = (out->time[i] - out->time[0]) / 3600.0;
    }
    /* Keys are counted once every snapshot is grouped: grouping may intern
     * the "<unknown>" key. */
    size_t nkeys = opts->group == GROUP_LINENO ? intern_nframes(in)
                 : opts->group == GROUP_FILENAME ? intern_nfiles(in) : intern_nstacks(in);
    slot = malloc((nkeys ? nkeys : 1) * sizeof *slot);
    if (!slot)
        goto out;
    memset(slot, 0xff, nkeys * sizeof *slot);
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < nrows[i]; j++) {
            const row *r = &rows[i][j];
            int32_t s = slot[r->key];
            if (s < 0) {
                if (out->nsites == cap) {
                    cap = cap ? 2 * cap : 64;
                    trend_site *q = realloc(out->sites, cap * sizeof *q);
                    if (!q)
                        goto out;
                    out->sites = q;
                }
                s = (int32_t)out->nsites;
                trend_site *site = &out->sites[out->nsites++];
                *site = (trend_site){.key = *r};
                site->bytes = calloc(n, sizeof *site->bytes);
                site->var = calloc(n, sizeof *site->var);
                if (!site->bytes || !site->var)
                    goto out;
                slot[r->key] = s;
            }
            trend_site *site = &out->sites[s];
            if (r->mixed || r->domain != site->key.domain)
                site->key.mixed = 1;
            site->bytes[i] = (double)r->size;
            site->var[i] = r->var;
        }
    }
    for (size_t k = 0; k < out->nsites; k++) {
        trend_site *site = &out->sites[k];
        trend_fit_series(hours, site->bytes, site->var, n, &site->fit);
    }
    rc = 0;
out:
    for (size_t i = 0; rows && i < n; i++)
        free(rows[i]);
    free(rows);
    free(nrows);
    free(slot);
    free(hours);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        trend_free(out);
    }
    return rc;
}

int trend_decide(trend_result *results, size_t nresults, double false_leak_rate)
{
    size_t m = 0;
    for (size_t r = 0; r < nresults; r++)
        m += results[r].nsites;
    double *p = calloc(m ? m : 1, sizeof *p);
    uint8_t *reject = malloc(m ? m : 1);
    if (!p || !reject) {
        free(p);
        free(reject);
        return -1;
    }
    size_t k = 0;
    for (size_t r = 0; r < nresults; r++)
        for (size_t s = 0; s < results[r].nsites; s++)
            p[k++] = results[r].sites[s].fit.p;
    /* One family: every site of every process, so that the whole report
     * holds the false-leak rate. */
    if (trend_holm(p, m, false_leak_rate, reject) < 0) {
        free(p);
        free(reject);
        return -1;
    }
    k = 0;
    for (size_t r = 0; r < nresults; r++) {
        trend_result *t = &results[r];
        t->false_leak_rate = false_leak_rate;
        t->family_sites = m;
        t->nleaks = 0;
        for (size_t s = 0; s < t->nsites; s++) {
            const trend_fit *f = &t->sites[s].fit;
            /* Exact snapshots have no sampling noise to lean on: a leak
             * must also have grown in at least half of the steps. */
            int steady = t->sampled || 2 * f->rises >= t->n - 1;
            t->sites[s].leak = reject[k++] && f->slope > 0 && f->growth > 0 && steady;
            t->nleaks += (size_t)t->sites[s].leak;
        }
        if (t->nsites > 1)
            qsort(t->sites, t->nsites, sizeof *t->sites, cmp_site);
    }
    free(p);
    free(reject);
    return 0;
}

size_t trend_series_length(const snapshot *const *snaps, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += !is_peak(snaps[i]);
    return k;
}

void trend_free(trend_result *r)
{
    for (size_t s = 0; s < r->nsites; s++) {
        free(r->sites[s].bytes);
        free(r->sites[s].var);
    }
    free(r->sites);
    free(r->order);
    free(r->time);
    memset(r, 0, sizeof *r);
}
