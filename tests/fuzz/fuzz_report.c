/* libFuzzer target: any byte string through the whole report pipeline
 * (reader, snapshot model, every grouping, filters, domain filters, every
 * output format, names, inclusive rows, hidden imports, filter hints).
 * It must never crash, hang or use unbounded memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "filter_hint.h"
#include "format.h"
#include "match.h"
#include "merge.h"
#include "snapshot_model.h"
#include "trend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_reports(intern *in, const snapshot *s, const snapshot *old)
{
    static const char *const pats[] = {"*.py", "*[a-c]*", "<*", "?"};
    report_filter filters[4];
    for (int i = 0; i < 4; i++) {
        filters[i].glob = glob_compile(pats[i], strlen(pats[i]));
        filters[i].inclusive = i != 2;
    }
    /* Domain filters: none; include native and 1; exclude tracked. */
    domain_spec domains[3];
    domain_spec_parse("native", 1, &domains[0]);
    domain_spec_parse("1", 1, &domains[1]);
    domain_spec_parse("tracked", 0, &domains[2]);
    FILE *out = fopen("/dev/null", "w");
    for (int g = 0; g < 3 && out; g++) {
        for (int variant = 0; variant < 7; variant++) {
            agg_opts o = {.group = (group_by)g, .cumulative = variant == 1 && g != GROUP_TRACEBACK,
                          .inclusive = variant == 6 && g != GROUP_TRACEBACK,
                          .all_frames = variant == 3, .filters = filters,
                          .nfilters = variant >= 2 && variant <= 3 ? 4 : 0,
                          .domains = variant == 4 ? domains : &domains[2],
                          .ndomains = variant == 4 ? 2 : variant == 5 ? 1 : 0};
            row *rows = NULL;
            size_t n = 0;
            int rc = old ? aggregate_diff(old, s, in, &o, &rows, &n) : aggregate_rows(s, in, &o, &rows, &n);
            if (rc == 0) {
                report rep = {.in = in, .snap = s, .old_snap = old, .opts = &o, .rows = rows,
                              .nrows = n, .top = (size_t)variant, .domain_roots = variant == 5,
                              .names = variant % 2};
                format_text(out, &rep);
                format_json(out, &rep);
                format_collapsed(out, &rep);
                /* Whole stacks: grouping, cumulative mode and filename
                 * filters (aggregate_stack_filter, as collapsed) add nothing
                 * to a profile but time; --format pprof refuses --diff. */
                if (!old && g == 0 && (variant == 0 || variant == 4))
                    format_pprof(out, &rep);
                format_html(out, &rep);
            }
            free(rows);
        }
    }
    /* The hint for filters that match no frame. */
    const snapshot *snaps[2] = {s, old};
    uint8_t *used = filter_hint_used_files(snaps, old ? 2 : 1, in);
    for (int i = 0; i < 4 && used && out; i++)
        filter_hint(out, pats[i], 1, filters[i].glob, used, in);
    free(used);
    if (out)
        fclose(out);
    for (int i = 0; i < 4; i++)
        glob_free(filters[i].glob);
}

/* Several snapshots: merged (the input with itself, in one section and by
 * pid), and --trend over them (one time twice: an error, reported). */
static void run_merged(intern *in, const snapshot *a, const snapshot *b)
{
    const snapshot *inputs[] = {a, b, a};
    FILE *out = fopen("/dev/null", "w");
    if (!out)
        return;
    for (int by_pid = 0; by_pid < 2; by_pid++) {
        agg_opts o = {.group = by_pid ? GROUP_TRACEBACK : GROUP_LINENO, .cumulative = !by_pid};
        merge_section sec = {.inputs = inputs, .ninputs = 2};
        sec.pid = snapshot_pid(a, &sec.has_pid);
        if (snapshot_merge(&sec.merged, inputs, 2, in) == 0 &&
            aggregate_rows(&sec.merged, in, &o, &sec.rows, &sec.nrows) == 0) {
            merge_report m = {.in = in, .opts = &o, .inputs = inputs, .ninputs = 2,
                              .sections = &sec, .nsections = 1, .by_pid = by_pid, .top = 3};
            format_merge_text(out, &m);
            format_merge_json(out, &m);
            format_merge_collapsed(out, &m);
        }
        free(sec.rows);
        snapshot_free(&sec.merged);
    }
    agg_opts o = {.group = GROUP_LINENO};
    trend_result t;
    char err[256];
    if (trend_compute(inputs, 3, in, &o, &t, err, sizeof err) == 0) {
        if (trend_decide(&t, 1, 0.01) == 0) {
            trend_group g = {.inputs = inputs, .ninputs = 3, .result = &t};
            trend_report r = {.in = in, .opts = &o, .false_leak_rate = 0.01,
                              .family_sites = t.nsites, .groups = &g, .ngroups = 1};
            format_trend_text(out, &r);
            format_trend_json(out, &r);
        }
        trend_free(&t);
    }
    fclose(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    intern *in = intern_new();
    if (!in)
        return 0;
    snapshot s, old;
    snapshot_error err;
    if (snapshot_from_buffer(&s, in, data, size, 0, &err) == 0) {
        run_reports(in, &s, NULL);
        /* The snapshot against itself exercises --diff. */
        if (snapshot_from_buffer(&old, in, data, size, 0, &err) == 0) {
            run_reports(in, &s, &old);
            run_merged(in, &s, &old);
            snapshot_free(&old);
        }
        snapshot_free(&s);
        /* And read as --python-only does, native frames dropped as the traces are read. */
        if (snapshot_from_buffer(&s, in, data, size, SNAPSHOT_PYTHON_ONLY, &err) == 0) {
            run_reports(in, &s, NULL);
            snapshot_free(&s);
        }
        /* And with the import machinery's frames hidden (--hide-imports). */
        if (snapshot_from_buffer(&s, in, data, size, SNAPSHOT_PYTHON_ONLY | SNAPSHOT_HIDE_IMPORTS,
                                 &err) == 0) {
            run_reports(in, &s, NULL);
            snapshot_free(&s);
        }
    } else if (err.offset > size) {
        abort(); /* error offsets must point inside the input */
    }
    /* Also the glob compiler on raw bytes. */
    glob_pattern *g = glob_compile((const char *)data, size < 64 ? size : 64);
    if (g) {
        glob_match(g, (const char *)data, size < 200 ? size : 200);
        glob_free(g);
    }
    intern_free(in);
    return 0;
}
