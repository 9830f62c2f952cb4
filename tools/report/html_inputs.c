#include "html_inputs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *html_peak_companion(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - path) : strlen(path);
    size_t len = strlen(path);
    char *out = malloc(len + sizeof ".peak");
    if (!out)
        return NULL;
    memcpy(out, path, stem);
    memcpy(out + stem, ".peak", 5);
    memcpy(out + stem + 5, path + stem, len - stem + 1);
    return out;
}

static int append_point(timeline_series *ts, size_t *cap, series_point p)
{
    if (ts->npoints == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        series_point *q = realloc(ts->points, c * sizeof *q);
        if (!q)
            return -1;
        ts->points = q;
        *cap = c;
    }
    ts->points[ts->npoints++] = p;
    return 0;
}

static int cmp_point(const void *pa, const void *pb)
{
    const series_point *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->has_detail != b->has_detail)
        return a->has_detail - b->has_detail;
    if (a->live_bytes != b->live_bytes)
        return a->live_bytes < b->live_bytes ? -1 : 1;
    if (a->peak_bytes != b->peak_bytes)
        return a->peak_bytes < b->peak_bytes ? -1 : 1;
    return (a->rss_bytes > b->rss_bytes) - (a->rss_bytes < b->rss_bytes);
}

static int cmp_snap(const void *pa, const void *pb)
{
    const series_snapshot *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    return strcmp(a->path, b->path);
}

/* Successive snapshots of one process repeat the points of the earlier
 * ones: equal points are kept once. */
static void sort_unique(timeline_series *ts)
{
    if (ts->npoints > 1)
        qsort(ts->points, ts->npoints, sizeof *ts->points, cmp_point);
    size_t k = 0;
    for (size_t i = 0; i < ts->npoints; i++)
        if (k == 0 || cmp_point(&ts->points[k - 1], &ts->points[i]) != 0)
            ts->points[k++] = ts->points[i];
    ts->npoints = k;
    if (ts->nsnaps > 1)
        qsort(ts->snaps, ts->nsnaps, sizeof *ts->snaps, cmp_snap);
}

int timeline_series_build(timeline_series *ts, const snapshot *const *snaps, size_t n, char *msg,
                          size_t msglen)
{
    size_t cap = 0;
    *ts = (timeline_series){0};
    ts->snaps = calloc(n ? n : 1, sizeof *ts->snaps);
    if (!ts->snaps) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const snapshot *s = snaps[i];
        const char *path = s->path ? s->path : "";
        const meta_entry *t = snapshot_meta(s, "time");
        const meta_entry *live = snapshot_meta(s, "live_bytes");
        if (!t || (t->kind != META_FLOAT && t->kind != META_INT) ||
            (t->kind == META_FLOAT && !isfinite(t->f))) {
            snprintf(msg, msglen,
                     "%s: no numeric 'time' metadata: --timeline orders snapshots by it", path);
            return -1;
        }
        series_snapshot *ss = &ts->snaps[ts->nsnaps++];
        ss->path = path;
        ss->snap = s;
        ss->time = t->kind == META_FLOAT ? t->f : (double)t->i;
        if (live && live->kind == META_INT) {
            ss->live_bytes = live->i;
        } else {
            double count, var;
            snapshot_totals(s, &ss->live_bytes, &count, &var);
        }
        int rc = append_point(ts, &cap, (series_point){ss->time, ss->live_bytes, 0, 0, 0});
        for (size_t k = 0; rc == 0 && k < s->ntimeline; k++) {
            const timeline_point *p = &s->timeline[k];
            rc = append_point(ts, &cap, (series_point){p->time, p->live_bytes, p->peak_bytes,
                                                       p->rss_bytes, 1});
        }
        if (rc < 0) {
            snprintf(msg, msglen, "out of memory");
            return -1;
        }
    }
    sort_unique(ts);
    return 0;
}

void timeline_series_free(timeline_series *ts)
{
    free(ts->points);
    free(ts->snaps);
    *ts = (timeline_series){0};
}
