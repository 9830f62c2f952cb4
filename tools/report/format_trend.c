/* Output of --trend: the growing sites, by decreasing slope, each with its
 * slope, growth, test statistic and series (docs/report.md); with
 * --by-pid one block per process. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "trend.h"

static void utc(char *buf, size_t len, double t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    snprintf(buf, len, "?");
    if (fabs(t) < 1e15 && gmtime_r(&tt, &tm))
        strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void duration(char *buf, size_t len, double sec)
{
    if (sec < 120)
        snprintf(buf, len, "%.1f s", sec);
    else if (sec < 7200)
        snprintf(buf, len, "%.1f min", sec / 60);
    else
        snprintf(buf, len, "%.1f h", sec / 3600);
}

static void pid_text(char *buf, size_t len, const trend_group *g, const char *none)
{
    if (g->has_pid)
        snprintf(buf, len, "%" PRId64, g->pid);
    else
        snprintf(buf, len, "%s", none);
}

static report site_report(const trend_report *r, const trend_result *t)
{
    return (report){.in = r->in, .snap = t->order[t->n - 1], .opts = r->opts, .names = r->names};
}

static size_t shown_sites(const trend_result *t, size_t top)
{
    return top && top < t->nleaks ? top : t->nleaks;
}

static void site_text(FILE *out, const trend_report *r, const trend_result *t, const trend_site *s)
{
    char slope[32], growth[32], from[32], to[32], sz[32];
    format_size(slope, sizeof slope, s->fit.slope, 1);
    format_size(growth, sizeof growth, s->fit.growth, 1);
    format_size(from, sizeof from, s->bytes[0], 0);
    format_size(to, sizeof to, s->bytes[t->n - 1], 0);
    report rep = site_report(r, t);
    format_traceback_str(out, &rep, &s->key);
    format_frame_name(out, &rep, &s->key, 0, " (", ")");
    fprintf(out, ": slope=%s/h, growth=%s (%s -> %s), ", slope, growth, from, to);
    if (isinf(s->fit.t))
        fputs("t=inf", out);
    else
        fprintf(out, "t=%.1f", s->fit.t);
    fprintf(out, ", p=%.2g\n  series:", s->fit.p);
    for (size_t i = 0; i < t->n; i++) {
        format_size(sz, sizeof sz, s->bytes[i], 0);
        fprintf(out, "%s %s", i ? "," : "", sz);
    }
    fputc('\n', out);
    if (r->opts->group != GROUP_TRACEBACK)
        return;
    size_t nf = row_nframes(r->in, r->opts->group, &s->key);
    for (size_t f = 0; f < nf; f++) {
        int32_t file;
        int64_t lineno;
        size_t len;
        row_frame(r->in, r->opts->group, &s->key, f, &file, &lineno);
        const char *name = intern_file_name(r->in, file, &len);
        fputs("  File \"", out);
        fwrite(name, 1, len, out);
        fprintf(out, "\", line %" PRId64, lineno);
        format_frame_name(out, &rep, &s->key, f, ", in ", "");
        fputc('\n', out);
    }
}

/* The block of one process: its series, the test, the growing sites. */
static void group_text(FILE *out, const trend_report *r, const trend_group *g)
{
    const trend_result *t = g->result;
    const agg_opts *opts = r->opts;
    char a[64], b[64], d[32], sz[32];
    duration(d, sizeof d, t->time[t->n - 1] - t->time[0]);
    utc(a, sizeof a, t->time[0]);
    utc(b, sizeof b, t->time[t->n - 1]);
    fprintf(out, "# trend: %zu snapshots", t->n);
    if (g->has_pid)
        fprintf(out, " of pid %" PRId64, g->pid);
    fprintf(out, " over %s, %s to %s", d, a, b);
    if (t->skipped_peaks)
        fprintf(out, " (%zu peak snapshot%s left out)", t->skipped_peaks,
                t->skipped_peaks == 1 ? "" : "s");
    fputc('\n', out);
    for (size_t i = 0; i < t->n; i++) {
        const snapshot *s = t->order[i];
        int64_t size;
        double count, var;
        snapshot_totals(s, &size, &count, &var);
        format_size(sz, sizeof sz, (double)size, 0);
        duration(d, sizeof d, t->time[i] - t->time[0]);
        fprintf(out, "# %zu/%zu %s: +%s, %zu traces, total size=%s, count=%lld", i + 1, t->n,
                s->path ? s->path : "", d, s->ntraces, sz, llround(count));
        if (snapshot_is_sampled(s))
            fprintf(out, ", sample_rate=%" PRId64, s->sample_rate);
        fputc('\n', out);
    }
    fprintf(out, "# test: slope > 0, one-sided t test on the increments (%s), false-leak rate "
                 "%g%% over %zu sites%s (Holm)\n",
            t->sampled ? "scatter and sampling variance" : "exact: scatter, rising in half the steps",
            100 * r->false_leak_rate, r->family_sites, r->by_pid ? " of every process" : "");
    fprintf(out, "# %zu growing site%s of %zu, group by %s%s%s\n", t->nleaks,
            t->nleaks == 1 ? "" : "s", t->nsites, group_by_name(opts->group),
            opts->cumulative ? ", cumulative" : "", opts->nfilters || opts->ndomains ? ", filtered" : "");
    size_t shown = shown_sites(t, r->top);
    for (size_t k = 0; k < shown; k++)
        site_text(out, r, t, &t->sites[k]);
}

int format_trend_text(FILE *out, const trend_report *r)
{
    if (r->by_pid)
        fprintf(out, "# trend by process: %zu process%s\n", r->ngroups, r->ngroups == 1 ? "" : "es");
    for (size_t k = 0; k < r->ngroups; k++) {
        const trend_group *g = &r->groups[k];
        if (g->result) {
            group_text(out, r, g);
            continue;
        }
        char pid[32];
        pid_text(pid, sizeof pid, g, "?");
        fprintf(out, "# pid %s: %zu snapshot%s, too few for a trend (3 needed besides peak "
                     "snapshots)\n", pid, g->ninputs, g->ninputs == 1 ? "" : "s");
    }
    return ferror(out) ? -1 : 0;
}

static void json_series(FILE *out, const char *name, const double *v, size_t n, int root)
{
    fprintf(out, ", \"%s\": [", name);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", out);
        format_json_double(out, root ? sqrt(v[i]) : v[i]);
    }
    fputc(']', out);
}

static void site_json(FILE *out, const trend_report *r, const trend_result *t, const trend_site *s,
                      const char *pid)
{
    if (pid)
        fprintf(out, "\"pid\": %s, ", pid);
    fputs("\"slope\": ", out);
    format_json_double(out, s->fit.slope);
    fputs(", \"slope_stderr\": ", out);
    format_json_double(out, s->fit.slope_se);
    fputs(", \"t\": ", out);
    format_json_double(out, s->fit.t);
    fprintf(out, ", \"dof\": %.0f, \"p_value\": ", s->fit.dof);
    format_json_double(out, s->fit.p);
    fprintf(out, ", \"growth\": %.0f, \"first\": %.0f, \"last\": %.0f, \"rises\": %zu",
            s->fit.growth, s->bytes[0], s->bytes[t->n - 1], s->fit.rises);
    json_series(out, "series", s->bytes, t->n, 0);
    json_series(out, "series_stderr", s->var, t->n, 1);
    fputs(", \"frames\": [", out);
    size_t nf = row_nframes(r->in, r->opts->group, &s->key);
    for (size_t f = 0; f < nf; f++) {
        int32_t file;
        int64_t lineno;
        size_t len;
        row_frame(r->in, r->opts->group, &s->key, f, &file, &lineno);
        const char *name = intern_file_name(r->in, file, &len);
        fputs(f ? ", {\"filename\": " : "{\"filename\": ", out);
        format_json_string(out, name, len);
        fprintf(out, ", \"lineno\": %" PRId64, lineno);
        format_json_function(out, r->in, r->opts->group, &s->key, f);
        fputc('}', out);
    }
    fputs("], \"text\": ", out);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (mem) {
        report rep = site_report(r, t);
        format_traceback_str(mem, &rep, &s->key);
        fclose(mem);
        format_json_string(out, buf, len);
    } else {
        fputs("null", out);
    }
    free(buf);
}

/* The members of one group's trend (after "{" or a comma). */
static void group_json(FILE *out, const trend_report *r, const trend_result *t, const char *pid,
                       const char *indent)
{
    fprintf(out, "\"snapshots\": [");
    for (size_t i = 0; i < t->n; i++) {
        fprintf(out, "%s%s  ", i ? "," : "", "\n");
        fputs(indent, out);
        format_json_snapshot(out, t->order[i]);
    }
    fprintf(out, "\n%s ],\n%s \"times\": [", indent, indent);
    for (size_t i = 0; i < t->n; i++) {
        if (i)
            fputs(", ", out);
        format_json_double(out, t->time[i]);
    }
    fprintf(out, "], \"skipped_peaks\": %zu, \"sites_tested\": %zu, \"total_rows\": %zu,\n%s "
                 "\"rows\": [",
            t->skipped_peaks, t->nsites, t->nleaks, indent);
    size_t shown = shown_sites(t, r->top);
    for (size_t k = 0; k < shown; k++) {
        fprintf(out, "%s\n%s  {", k ? "," : "", indent);
        site_json(out, r, t, &t->sites[k], pid);
        fputc('}', out);
    }
    if (shown)
        fprintf(out, "\n%s ", indent);
    fputc(']', out);
}

int format_trend_json(FILE *out, const trend_report *r)
{
    int sampled = 0;
    for (size_t k = 0; k < r->ngroups; k++)
        sampled |= r->groups[k].result && r->groups[k].result->sampled;
    fprintf(out, "{\"schema\": \"mprofile-report/1\", \"mode\": \"trend\", \"group_by\": \"%s\", "
                 "\"cumulative\": %s, \"inclusive\": %s, \"python_only\": %s, "
                 "\"hide_imports\": %s, \"estimated\": %s, \"by_pid\": %s, "
                 "\"false_leak_rate\": ",
            group_by_name(r->opts->group), r->opts->cumulative ? "true" : "false",
            r->opts->inclusive ? "true" : "false", r->python_only ? "true" : "false",
            r->hide_imports ? "true" : "false", sampled ? "true" : "false",
            r->by_pid ? "true" : "false");
    format_json_double(out, r->false_leak_rate);
    if (!r->by_pid) {
        fputs(",\n ", out);
        group_json(out, r, r->groups[0].result, NULL, "");
        fputs("}\n", out);
        return ferror(out) ? -1 : 0;
    }
    fprintf(out, ", \"family_sites\": %zu,\n \"processes\": [", r->family_sites);
    for (size_t k = 0; k < r->ngroups; k++) {
        const trend_group *g = &r->groups[k];
        char pid[32];
        pid_text(pid, sizeof pid, g, "null");
        fprintf(out, "%s\n  {\"pid\": %s, \"files\": [", k ? "," : "", pid);
        for (size_t i = 0; i < g->ninputs; i++) {
            const char *path = g->inputs[i]->path ? g->inputs[i]->path : "";
            if (i)
                fputs(", ", out);
            format_json_string(out, path, strlen(path));
        }
        fprintf(out, "], \"too_few_snapshots\": %s", g->result ? "false" : "true");
        if (g->result) {
            fputs(",\n   ", out);
            group_json(out, r, g->result, pid, "  ");
        }
        fputc('}', out);
    }
    fputs(r->ngroups ? "\n ]}\n" : "]}\n", out);
    return ferror(out) ? -1 : 0;
}
