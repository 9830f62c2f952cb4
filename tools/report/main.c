/* mprofile-report: top allocation sites of a snapshot or of several merged,
 * what grew between two, or which sites grow across a series; or all of a
 * snapshot on one HTML page.
 * Exit status: 0 success, 1 bad input or I/O error, 2 usage. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "filter_hint.h"
#include "format.h"
#include "merge.h"
#include "trend.h"

/* The order of processes under --by-pid: pids ascending, snapshots
 * without a pid last. */
static int cmp_pid(const snapshot *a, const snapshot *b)
{
    int ha, hb;
    int64_t pa = snapshot_pid(a, &ha), pb = snapshot_pid(b, &hb);
    if (ha != hb)
        return ha ? -1 : 1;
    return pa < pb ? -1 : pa > pb;
}

/* The inputs in groups: all in one, or with by_pid one per process.
 * *sorted holds the inputs group after group (files in command line order
 * within a group), group k being (*sorted)[begin[k] .. begin[k + 1]).
 * Returns the number of groups, or -1 when out of memory. */
static ptrdiff_t group_inputs(const snapshot **inputs, size_t n, int by_pid,
                              const snapshot ***sorted, size_t **begin)
{
    *sorted = malloc((n ? n : 1) * sizeof **sorted);
    *begin = malloc((n + 1) * sizeof **begin);
    if (!*sorted || !*begin) {
        free(*sorted);
        free(*begin);
        return -1;
    }
    const snapshot **s = *sorted;
    memcpy(s, inputs, n * sizeof *s);
    if (by_pid) {
        /* Insertion sort: stable, so files keep their command line order. */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && cmp_pid(s[j - 1], s[j]) > 0; j--) {
                const snapshot *t = s[j];
                s[j] = s[j - 1];
                s[j - 1] = t;
            }
    }
    size_t ngroups = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || (by_pid && cmp_pid(s[i - 1], s[i]) != 0))
            (*begin)[ngroups++] = i;
    (*begin)[ngroups] = n;
    return (ptrdiff_t)ngroups;
}

static int build_sections(merge_report *m, const snapshot **inputs, size_t n, intern *in)
{
    const snapshot **sorted;
    size_t *begin;
    ptrdiff_t ngroups = group_inputs(inputs, n, m->by_pid, &sorted, &begin);
    if (ngroups < 0)
        return -1;
    m->sections = calloc((size_t)ngroups + 1, sizeof *m->sections);
    if (!m->sections) {
        free(sorted);
        free(begin);
        return -1;
    }
    /* sections[0].inputs owns the sorted array. */
    int rc = 0;
    for (ptrdiff_t k = 0; k < ngroups && rc == 0; k++) {
        merge_section *s = &m->sections[m->nsections++];
        s->inputs = sorted + begin[k];
        s->ninputs = begin[k + 1] - begin[k];
        s->pid = snapshot_pid(s->inputs[0], &s->has_pid);
        if (snapshot_merge(&s->merged, s->inputs, s->ninputs, in) < 0 ||
            aggregate_rows(&s->merged, in, m->opts, &s->rows, &s->nrows) < 0)
            rc = -1;
    }
    if (!m->nsections)
        free(sorted);
    free(begin);
    return rc;
}

static void free_sections(merge_report *m)
{
    for (size_t k = 0; k < m->nsections; k++) {
        snapshot_free(&m->sections[k].merged);
        free(m->sections[k].rows);
    }
    if (m->nsections)
        free((void *)m->sections[0].inputs);
    free(m->sections);
}

/* --trend: one trend, or with --by-pid one per process, decided together.
 * Returns as write_report. */
static int write_trend(FILE *out, const cli_opts *o, intern *in, const agg_opts *ao,
                       const snapshot **snaps, char *msg, size_t msglen)
{
    const snapshot **sorted;
    size_t *begin;
    ptrdiff_t ngroups = group_inputs(snaps, o->nfiles, o->by_pid, &sorted, &begin);
    if (ngroups < 0) {
        snprintf(msg, msglen, "out of memory");
        return -2;
    }
    trend_group *groups = calloc((size_t)ngroups + 1, sizeof *groups);
    trend_result *results = calloc((size_t)ngroups + 1, sizeof *results);
    size_t nresults = 0;
    int rc = -2;
    if (!groups || !results) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    for (ptrdiff_t k = 0; k < ngroups; k++) {
        trend_group *g = &groups[k];
        g->inputs = sorted + begin[k];
        g->ninputs = begin[k + 1] - begin[k];
        g->pid = snapshot_pid(g->inputs[0], &g->has_pid);
        /* A process with too few snapshots is said so, not an error, when
         * others may have their trend. */
        if (o->by_pid && trend_series_length(g->inputs, g->ninputs) < 3)
            continue;
        if (trend_compute(g->inputs, g->ninputs, in, ao, &results[nresults], msg, msglen) < 0)
            goto out;
        g->result = &results[nresults++];
    }
    if (trend_decide(results, nresults, o->false_leak_rate) < 0) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    trend_report r = {.in = in, .opts = ao, .top = o->top, .python_only = o->python_only,
                      .hide_imports = o->hide_imports, .names = o->names,
                      .by_pid = o->by_pid, .false_leak_rate = o->false_leak_rate,
                      .family_sites = nresults ? results[0].family_sites : 0, .groups = groups,
                      .ngroups = (size_t)ngroups};
    rc = o->format == FORMAT_JSON ? format_trend_json(out, &r) : format_trend_text(out, &r);
out:
    for (size_t k = 0; k < nresults; k++)
        trend_free(&results[k]);
    free(results);
    free(groups);
    free(sorted);
    free(begin);
    return rc;
}

/* The HTML page's peak: --peak FILE, else the peak companion of snap when
 * it exists (and snap is not itself a peak snapshot).  *loaded is set when
 * peak holds a snapshot to free.  Returns as write_report. */
static int load_peak(const cli_opts *o, intern *in, const snapshot *snap, snapshot *peak,
                     int *loaded, char *msg, size_t msglen)
{
    const meta_entry *is_peak = snapshot_meta(snap, "is_peak");
    char *companion = NULL;
    const char *path = o->peak;
    if (!path && snap->path && !(is_peak && is_peak->kind == META_BOOL && is_peak->i)) {
        companion = html_peak_companion(snap->path);
        if (!companion) {
            snprintf(msg, msglen, "out of memory");
            return -2;
        }
        if (access(companion, F_OK) == 0)
            path = companion;
    }
    int rc = 0;
    if (path) {
        /* The same view of the frames as the snapshot's. */
        unsigned flags = (o->python_only ? SNAPSHOT_PYTHON_ONLY : 0) |
                         (o->hide_imports ? SNAPSHOT_HIDE_IMPORTS : 0);
        rc = snapshot_load_file(peak, in, path, flags, msg, msglen) < 0 ? -2 : 0;
        *loaded = rc == 0;
    }
    free(companion);
    return rc;
}

/* --format html: the snapshot (NEW with --diff; with --timeline the latest
 * of the series, which the plot shows whole) and its peak.  Returns as
 * write_report. */
static int write_html(FILE *out, const cli_opts *o, intern *in, const agg_opts *ao,
                      const snapshot **snaps, char *msg, size_t msglen)
{
    timeline_series series = {0};
    const snapshot *snap = o->diff ? snaps[1] : snaps[0];
    snapshot peak = {0};
    int peak_loaded = 0, rc = -2;
    row *rows = NULL;
    size_t nrows = 0;
    if (o->timeline) {
        if (timeline_series_build(&series, snaps, o->nfiles, msg, msglen) < 0)
            goto out;
        snap = series.snaps[series.nsnaps - 1].snap;
    }
    if (!o->diff && load_peak(o, in, snap, &peak, &peak_loaded, msg, msglen) < 0)
        goto out;
    if ((o->diff ? aggregate_diff(snaps[0], snaps[1], in, ao, &rows, &nrows)
                 : aggregate_rows(snap, in, ao, &rows, &nrows)) < 0) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    report rep = {.in = in, .snap = snap, .old_snap = o->diff ? snaps[0] : NULL, .opts = ao,
                  .rows = rows, .nrows = nrows, .top = o->top, .python_only = o->python_only,
                  .hide_imports = o->hide_imports, .names = o->names,
                  .peak_snap = peak_loaded ? &peak : NULL, .series = o->timeline ? &series : NULL};
    rc = format_html(out, &rep);
out:
    free(rows);
    if (peak_loaded)
        snapshot_free(&peak);
    timeline_series_free(&series);
    return rc;
}

/* The report the options ask for: 0, -1 on a write error, -2 with a
 * message in msg for input that cannot make it or when out of memory. */
static int write_report(FILE *out, const cli_opts *o, intern *in, const agg_opts *ao,
                        const snapshot **snaps, char *msg, size_t msglen)
{
    int rc;
    if (o->format == FORMAT_HTML)
        return write_html(out, o, in, ao, snaps, msg, msglen);
    if (o->trend)
        return write_trend(out, o, in, ao, snaps, msg, msglen);
    if (o->diff || (o->nfiles == 1 && !o->by_pid)) {
        row *rows = NULL;
        size_t nrows = 0;
        rc = o->diff ? aggregate_diff(snaps[0], snaps[1], in, ao, &rows, &nrows)
                     : aggregate_rows(snaps[0], in, ao, &rows, &nrows);
        if (rc < 0) {
            snprintf(msg, msglen, "out of memory");
            return -2;
        }
        report rep = {.in = in, .snap = o->diff ? snaps[1] : snaps[0],
                      .old_snap = o->diff ? snaps[0] : NULL, .opts = ao, .rows = rows,
                      .nrows = nrows, .top = o->top, .domain_roots = o->domain_roots,
                      .python_only = o->python_only, .hide_imports = o->hide_imports,
                      .names = o->names};
        rc = o->format == FORMAT_JSON ? format_json(out, &rep)
           : o->format == FORMAT_COLLAPSED ? format_collapsed(out, &rep)
           : o->format == FORMAT_PPROF ? format_pprof(out, &rep)
           : format_text(out, &rep);
        free(rows);
        return rc;
    }
    merge_report m = {.in = in, .opts = ao, .inputs = snaps, .ninputs = o->nfiles,
                      .by_pid = o->by_pid, .top = o->top, .domain_roots = o->domain_roots,
                      .python_only = o->python_only, .hide_imports = o->hide_imports,
                      .names = o->names};
    if (build_sections(&m, snaps, o->nfiles, in) < 0) {
        free_sections(&m);
        snprintf(msg, msglen, "out of memory");
        return -2;
    }
    rc = o->format == FORMAT_JSON ? format_merge_json(out, &m)
       : o->format == FORMAT_COLLAPSED ? format_merge_collapsed(out, &m)
       : format_merge_text(out, &m);
    free_sections(&m);
    return rc;
}

/* A hint on stderr for each relative filter pattern that matched no frame
 * of any snapshot (filter_hint.h); the report itself is unchanged. */
static int hint_filters(const cli_opts *o, const snapshot **snaps, size_t nsnaps,
                        const intern *in, const report_filter *filters)
{
    if (!o->nfilters)
        return 0;
    uint8_t *used = filter_hint_used_files(snaps, nsnaps, in);
    if (!used)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < o->nfilters && rc >= 0; i++)
        rc = filter_hint(stderr, o->filters[i].pattern, o->filters[i].inclusive, filters[i].glob,
                         used, in);
    free(used);
    return rc < 0 ? -1 : 0;
}

static int run(const cli_opts *o)
{
    int status = 1;
    intern *in = intern_new();
    snapshot *snaps = calloc(o->nfiles, sizeof *snaps);
    const snapshot **ptrs = calloc(o->nfiles, sizeof *ptrs);
    size_t loaded = 0;
    report_filter *filters = calloc(o->nfilters + 1, sizeof *filters);
    char msg[1024];
    FILE *out = stdout;
    if (!in || !filters || !snaps || !ptrs) {
        fputs("mprofile-report: out of memory\n", stderr);
        goto done;
    }
    for (size_t i = 0; i < o->nfilters; i++) {
        filters[i].inclusive = o->filters[i].inclusive;
        filters[i].glob = glob_compile(o->filters[i].pattern, strlen(o->filters[i].pattern));
        if (!filters[i].glob) {
            fputs("mprofile-report: out of memory\n", stderr);
            goto done;
        }
    }
    unsigned flags = (o->python_only ? SNAPSHOT_PYTHON_ONLY : 0) |
                     (o->hide_imports ? SNAPSHOT_HIDE_IMPORTS : 0);
    for (; loaded < o->nfiles; loaded++) {
        if (snapshot_load_file(&snaps[loaded], in, o->files[loaded], flags, msg, sizeof msg) < 0) {
            fprintf(stderr, "mprofile-report: %s\n", msg);
            goto done;
        }
        ptrs[loaded] = &snaps[loaded];
    }
    if (hint_filters(o, ptrs, o->nfiles, in, filters) < 0) {
        fputs("mprofile-report: out of memory\n", stderr);
        goto done;
    }
    agg_opts ao = {.group = o->group, .cumulative = o->cumulative, .inclusive = o->inclusive,
                   .all_frames = o->all_frames,
                   .filters = filters, .nfilters = o->nfilters, .domains = o->domains,
                   .ndomains = o->ndomains};
    if (o->output) {
        out = fopen(o->output, "w");
        if (!out) {
            fprintf(stderr, "mprofile-report: %s: %s\n", o->output, strerror(errno));
            out = stdout;
            goto done;
        }
    }
    int rc = write_report(out, o, in, &ao, ptrs, msg, sizeof msg);
    if (rc == -2) {
        fprintf(stderr, "mprofile-report: %s\n", msg);
        goto done;
    }
    if (fflush(out) != 0 || rc < 0 || ferror(out)) {
        fprintf(stderr, "mprofile-report: %s: write error\n", o->output ? o->output : "stdout");
        goto done;
    }
    status = 0;
done:
    if (out != stdout && fclose(out) != 0 && status == 0) {
        fprintf(stderr, "mprofile-report: %s: write error\n", o->output);
        status = 1;
    }
    for (size_t i = 0; i < loaded; i++)
        snapshot_free(&snaps[i]);
    free(snaps);
    free(ptrs);
    for (size_t i = 0; filters && i < o->nfilters; i++)
        glob_free(filters[i].glob);
    free(filters);
    intern_free(in);
    return status;
}

int main(int argc, char **argv)
{
    cli_opts o;
    char err[256];
    int rc = cli_parse(argc, argv, &o, stdout, err, sizeof err);
    if (rc == CLI_EXIT_OK) {
        cli_opts_free(&o);
        return 0;
    }
    if (rc == CLI_USAGE) {
        fprintf(stderr, "mprofile-report: %s\n", err);
        fputs("Try 'mprofile-report --help' for more information.\n", stderr);
        cli_opts_free(&o);
        return 2;
    }
    if (o.format == FORMAT_PPROF && !o.output && isatty(STDOUT_FILENO)) {
        /* As gzip does: compressed bytes would only garble the terminal. */
        fputs("mprofile-report: --format pprof writes binary data: give -o FILE or redirect "
              "stdout\n", stderr);
        cli_opts_free(&o);
        return 2;
    }
    int status = run(&o);
    cli_opts_free(&o);
    return status;
}
