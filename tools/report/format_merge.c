/* Output of merged snapshots (several snapshots without --diff or
 * --trend): every input's header, then the rows of the merged traces, one
 * section per process with --by-pid (docs/report.md, "Merging snapshots"). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

static report section_report(const merge_report *m, const merge_section *s, const char *root)
{
    return (report){.in = m->in, .snap = &s->merged, .opts = m->opts, .rows = s->rows,
                    .nrows = s->nrows, .top = m->top, .domain_roots = m->domain_roots,
                    .python_only = m->python_only, .hide_imports = m->hide_imports,
                    .names = m->names, .root = root};
}

static void pid_text(char *buf, size_t len, const merge_section *s, int json)
{
    if (s->has_pid)
        snprintf(buf, len, "%" PRId64, s->pid);
    else
        snprintf(buf, len, json ? "null" : "?");
}

/* "N snapshots, T traces, total size=S, count=C" of a merged snapshot. */
static void totals_text(FILE *out, const snapshot *merged, size_t ninputs)
{
    int64_t size;
    double count, var;
    char sz[32];
    snapshot_totals(merged, &size, &count, &var);
    format_size(sz, sizeof sz, (double)size, 0);
    fprintf(out, "%zu snapshot%s, %zu traces, total size=%s, count=%lld", ninputs,
            ninputs == 1 ? "" : "s", merged->ntraces, sz, llround(count));
}

static void sample_rates(const merge_report *m, int64_t *lo, int64_t *hi)
{
    *lo = *hi = m->inputs[0]->sample_rate;
    for (size_t i = 1; i < m->ninputs; i++) {
        int64_t r = m->inputs[i]->sample_rate;
        *lo = r < *lo ? r : *lo;
        *hi = r > *hi ? r : *hi;
    }
}

int format_merge_text(FILE *out, const merge_report *m)
{
    if (!m->by_pid) {
        fputs("# merged: ", out);
        totals_text(out, &m->sections[0].merged, m->ninputs);
        fputc('\n', out);
    }
    int64_t lo, hi;
    sample_rates(m, &lo, &hi);
    if (lo != hi)
        fprintf(out, "# sample rates differ (%" PRId64 " to %" PRId64 " bytes): each trace's weight "
                     "is unbiased at its own rate, so sizes, counts and variances add\n", lo, hi);
    for (size_t i = 0; i < m->ninputs; i++) {
        char label[64];
        snprintf(label, sizeof label, "%zu/%zu ", i + 1, m->ninputs);
        format_text_header(out, m->inputs[i], label);
    }
    for (size_t k = 0; k < m->nsections; k++) {
        const merge_section *s = &m->sections[k];
        report rep = section_report(m, s, NULL);
        if (m->by_pid) {
            char pid[32];
            pid_text(pid, sizeof pid, s, 0);
            fprintf(out, "# pid %s: ", pid);
            totals_text(out, &s->merged, s->ninputs);
            fputc('\n', out);
        }
        if (format_text_rows(out, &rep) < 0)
            return -1;
    }
    return ferror(out) ? -1 : 0;
}

/* Totals of a merged snapshot as JSON members (after "{"). */
static void totals_json(FILE *out, const snapshot *merged, size_t ninputs)
{
    int64_t size;
    double count, var;
    snapshot_totals(merged, &size, &count, &var);
    fprintf(out, "\"snapshots\": %zu, \"traces\": %zu, \"total_size\": %" PRId64 ", \"total_count\": ",
            ninputs, merged->ntraces, size);
    format_json_double(out, count);
    fputs(", \"total_size_rse\": ", out);
    if (snapshot_is_sampled(merged) && size > 0)
        format_json_double(out, sqrt(var) / (double)size);
    else
        fputs("null", out);
}

int format_merge_json(FILE *out, const merge_report *m)
{
    const agg_opts *o = m->opts;
    int sampled = 0;
    for (size_t i = 0; i < m->ninputs; i++)
        sampled |= snapshot_is_sampled(m->inputs[i]);
    fprintf(out, "{\"schema\": \"mprofile-report/1\", \"mode\": \"merge\", \"group_by\": \"%s\", "
                 "\"cumulative\": %s, \"inclusive\": %s, \"python_only\": %s, "
                 "\"hide_imports\": %s, \"estimated\": %s, \"by_pid\": %s,\n"
                 " \"snapshots\": [",
            group_by_name(o->group), o->cumulative ? "true" : "false",
            o->inclusive ? "true" : "false", m->python_only ? "true" : "false",
            m->hide_imports ? "true" : "false", sampled ? "true" : "false",
            m->by_pid ? "true" : "false");
    for (size_t i = 0; i < m->ninputs; i++) {
        fputs(i ? ",\n  " : "\n  ", out);
        format_json_snapshot(out, m->inputs[i]);
    }
    fputs("\n ],\n", out);
    if (!m->by_pid) {
        fputs(" \"merged\": {", out);
        totals_json(out, &m->sections[0].merged, m->ninputs);
        fputs("}", out);
        report rep = section_report(m, &m->sections[0], NULL);
        if (format_json_rows(out, &rep, NULL) < 0)
            return -1;
        fputs("}\n", out);
        return ferror(out) ? -1 : 0;
    }
    fputs(" \"processes\": [", out);
    for (size_t k = 0; k < m->nsections; k++) {
        const merge_section *s = &m->sections[k];
        char pid[32];
        pid_text(pid, sizeof pid, s, 1);
        fprintf(out, "%s{\"pid\": %s, \"files\": [", k ? ",\n " : "\n ", pid);
        for (size_t i = 0; i < s->ninputs; i++) {
            if (i)
                fputs(", ", out);
            const char *path = s->inputs[i]->path ? s->inputs[i]->path : "";
            format_json_string(out, path, strlen(path));
        }
        fputs("], ", out);
        totals_json(out, &s->merged, s->ninputs);
        report rep = section_report(m, s, NULL);
        if (format_json_rows(out, &rep, pid) < 0)
            return -1;
        fputc('}', out);
    }
    fputs(m->nsections ? "\n ]}\n" : "]}\n", out);
    return ferror(out) ? -1 : 0;
}

int format_merge_collapsed(FILE *out, const merge_report *m)
{
    for (size_t k = 0; k < m->nsections; k++) {
        char root[48];
        if (m->by_pid) {
            char pid[32];
            pid_text(pid, sizeof pid, &m->sections[k], 0);
            snprintf(root, sizeof root, "pid %s", pid);
        }
        report rep = section_report(m, &m->sections[k], m->by_pid ? root : NULL);
        if (format_collapsed(out, &rep) < 0)
            return -1;
    }
    return ferror(out) ? -1 : 0;
}
