/* mprofile-report: top allocation sites of a snapshot or of several merged,
 * what grew between two, or which sites grow across a series.
 * Exit status: 0 success, 1 bad input or I/O error, 2 usage. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "merge.h"
#include "trend.h"

/* Sections of a merged report: every input in one, or with --by-pid one
 * per process, ascending, snapshots without a pid last. */
static int cmp_pid(const snapshot *a, const snapshot *b)
{
    int ha, hb;
    int64_t pa = snapshot_pid(a, &ha), pb = snapshot_pid(b, &hb);
    if (ha != hb)
        return ha ? -1 : 1;
    return pa < pb ? -1 : pa > pb;
}

static int build_sections(merge_report *m, const snapshot **inputs, size_t n, intern *in)
{
    m->sections = calloc(n, sizeof *m->sections);
    const snapshot **sorted = malloc(n * sizeof *sorted);
    if (!m->sections || !sorted) {
        free(sorted);
        return -1;
    }
    memcpy(sorted, inputs, n * sizeof *sorted);
    if (m->by_pid) {
        /* Insertion sort: stable, so files keep their command line order. */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && cmp_pid(sorted[j - 1], sorted[j]) > 0; j--) {
                const snapshot *t = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = t;
            }
    }
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && (!m->by_pid || cmp_pid(sorted[i], sorted[j]) == 0))
            j++;
        merge_section *s = &m->sections[m->nsections++];
        s->inputs = sorted + i;
        s->ninputs = j - i;
        s->pid = snapshot_pid(sorted[i], &s->has_pid);
        if (snapshot_merge(&s->merged, s->inputs, s->ninputs, in) < 0 ||
            aggregate_rows(&s->merged, in, m->opts, &s->rows, &s->nrows) < 0)
            return -1;
        i = j;
    }
    /* sections[0].inputs owns the sorted array. */
    return 0;
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

static int write_report(FILE *out, const cli_opts *o, intern *in, const agg_opts *ao,
                        const snapshot **snaps, char *msg, size_t msglen)
{
    int rc;
    if (o->trend) {
        trend_result t;
        if (trend_compute(snaps, o->nfiles, in, ao, o->false_leak_rate, &t, msg, msglen) < 0)
            return -2;
        rc = o->format == FORMAT_JSON ? format_trend_json(out, &t, in, ao, o->top, o->python_only)
                                      : format_trend_text(out, &t, in, ao, o->top);
        trend_free(&t);
        return rc;
    }
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
                      .python_only = o->python_only};
        rc = o->format == FORMAT_JSON ? format_json(out, &rep)
           : o->format == FORMAT_COLLAPSED ? format_collapsed(out, &rep)
           : format_text(out, &rep);
        free(rows);
        return rc;
    }
    merge_report m = {.in = in, .opts = ao, .inputs = snaps, .ninputs = o->nfiles,
                      .by_pid = o->by_pid, .top = o->top, .domain_roots = o->domain_roots,
                      .python_only = o->python_only};
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
    unsigned flags = o->python_only ? SNAPSHOT_PYTHON_ONLY : 0;
    for (; loaded < o->nfiles; loaded++) {
        if (snapshot_load_file(&snaps[loaded], in, o->files[loaded], flags, msg, sizeof msg) < 0) {
            fprintf(stderr, "mprofile-report: %s\n", msg);
            goto done;
        }
        ptrs[loaded] = &snaps[loaded];
    }
    agg_opts ao = {.group = o->group, .cumulative = o->cumulative, .all_frames = o->all_frames,
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
    int status = run(&o);
    cli_opts_free(&o);
    return status;
}
