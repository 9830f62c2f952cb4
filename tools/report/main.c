/* mprofile-report: top allocation sites of a snapshot, or what grew
 * between two.  Exit status: 0 success, 1 bad input or I/O error, 2 usage. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"

static int run(const cli_opts *o)
{
    int status = 1;
    intern *in = intern_new();
    snapshot snaps[2] = {{0}};
    int loaded = 0;
    report_filter *filters = calloc(o->nfilters + 1, sizeof *filters);
    row *rows = NULL;
    size_t nrows = 0;
    char msg[1024];
    FILE *out = stdout;
    if (!in || !filters) {
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
    int nfiles = o->diff ? 2 : 1;
    unsigned flags = o->python_only ? SNAPSHOT_PYTHON_ONLY : 0;
    for (; loaded < nfiles; loaded++) {
        if (snapshot_load_file(&snaps[loaded], in, o->files[loaded], flags, msg, sizeof msg) < 0) {
            fprintf(stderr, "mprofile-report: %s\n", msg);
            goto done;
        }
    }
    agg_opts ao = {.group = o->group, .cumulative = o->cumulative, .all_frames = o->all_frames,
                   .filters = filters, .nfilters = o->nfilters, .domains = o->domains,
                   .ndomains = o->ndomains};
    int rc = o->diff ? aggregate_diff(&snaps[0], &snaps[1], in, &ao, &rows, &nrows)
                     : aggregate_rows(&snaps[0], in, &ao, &rows, &nrows);
    if (rc < 0) {
        fputs("mprofile-report: out of memory\n", stderr);
        goto done;
    }
    if (o->output) {
        out = fopen(o->output, "w");
        if (!out) {
            fprintf(stderr, "mprofile-report: %s: %s\n", o->output, strerror(errno));
            out = stdout;
            goto done;
        }
    }
    report rep = {.in = in, .snap = o->diff ? &snaps[1] : &snaps[0],
                  .old_snap = o->diff ? &snaps[0] : NULL, .opts = &ao, .rows = rows,
                  .nrows = nrows, .top = o->top, .domain_roots = o->domain_roots,
                  .python_only = o->python_only};
    rc = o->format == FORMAT_JSON ? format_json(out, &rep)
       : o->format == FORMAT_COLLAPSED ? format_collapsed(out, &rep)
       : format_text(out, &rep);
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
    free(rows);
    for (int i = 0; i < loaded; i++)
        snapshot_free(&snaps[i]);
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
