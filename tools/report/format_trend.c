/* Output of --trend: the growing sites, by decreasing slope, each with its
 * slope, growth, test statistic and series (docs/report.md). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "merge.h"
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

static report site_report(intern *in, const agg_opts *opts, const trend_result *t)
{
    return (report){.in = in, .snap = t->order[t->n - 1], .opts = opts};
}

static size_t shown_sites(const trend_result *t, size_t top)
{
    return top && top < t->nleaks ? top : t->nleaks;
}

int format_trend_text(FILE *out, const trend_result *t, intern *in, const agg_opts *opts,
                      size_t top)
{
    char a[64], b[64], d[32], sz[32];
    int has_pid;
    int64_t pid = snapshot_pid(t->order[0], &has_pid);
    duration(d, sizeof d, t->time[t->n - 1] - t->time[0]);
    utc(a, sizeof a, t->time[0]);
    utc(b, sizeof b, t->time[t->n - 1]);
    fprintf(out, "# trend: %zu snapshots", t->n);
    if (has_pid)
        fprintf(out, " of pid %" PRId64, pid);
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
                 "%g%% over %zu sites (Holm)\n",
            t->sampled ? "scatter and sampling variance" : "exact: scatter, rising in half the steps",
            100 * t->false_leak_rate, t->nsites);
    size_t shown = shown_sites(t, top);
    fprintf(out, "# %zu growing site%s of %zu, group by %s%s%s\n", t->nleaks,
            t->nleaks == 1 ? "" : "s", t->nsites, group_by_name(opts->group),
            opts->cumulative ? ", cumulative" : "", opts->nfilters || opts->ndomains ? ", filtered" : "");
    report rep = site_report(in, opts, t);
    for (size_t k = 0; k < shown; k++) {
        const trend_site *s = &t->sites[k];
        char slope[32], growth[32], from[32], to[32];
        format_size(slope, sizeof slope, s->fit.slope, 1);
        format_size(growth, sizeof growth, s->fit.growth, 1);
        format_size(from, sizeof from, s->bytes[0], 0);
        format_size(to, sizeof to, s->bytes[t->n - 1], 0);
        format_traceback_str(out, &rep, &s->key);
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
        if (opts->group == GROUP_TRACEBACK) {
            size_t nf = row_nframes(in, opts->group, &s->key);
            for (size_t f = 0; f < nf; f++) {
                int32_t file;
                int64_t lineno;
                size_t len;
                row_frame(in, opts->group, &s->key, f, &file, &lineno);
                const char *name = intern_file_name(in, file, &len);
                fputs("  File \"", out);
                fwrite(name, 1, len, out);
                fprintf(out, "\", line %" PRId64 "\n", lineno);
            }
        }
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

int format_trend_json(FILE *out, const trend_result *t, intern *in, const agg_opts *opts,
                      size_t top, int python_only)
{
    fprintf(out, "{\"schema\": \"mprofile-report/1\", \"mode\": \"trend\", \"group_by\": \"%s\", "
                 "\"cumulative\": %s, \"python_only\": %s, \"estimated\": %s, "
                 "\"false_leak_rate\": ",
            group_by_name(opts->group), opts->cumulative ? "true" : "false",
            python_only ? "true" : "false", t->sampled ? "true" : "false");
    format_json_double(out, t->false_leak_rate);
    fputs(",\n \"snapshots\": [", out);
    for (size_t i = 0; i < t->n; i++) {
        fputs(i ? ",\n  " : "\n  ", out);
        format_json_snapshot(out, t->order[i]);
    }
    fputs("\n ],\n \"times\": [", out);
    for (size_t i = 0; i < t->n; i++) {
        if (i)
            fputs(", ", out);
        format_json_double(out, t->time[i]);
    }
    fprintf(out, "], \"skipped_peaks\": %zu", t->skipped_peaks);
    fprintf(out, ",\n \"sites_tested\": %zu, \"total_rows\": %zu,\n \"rows\": [", t->nsites,
            t->nleaks);
    size_t shown = shown_sites(t, top);
    report rep = site_report(in, opts, t);
    for (size_t k = 0; k < shown; k++) {
        const trend_site *s = &t->sites[k];
        fputs(k ? ",\n  {" : "\n  {", out);
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
        size_t nf = row_nframes(in, opts->group, &s->key);
        for (size_t f = 0; f < nf; f++) {
            int32_t file;
            int64_t lineno;
            size_t len;
            row_frame(in, opts->group, &s->key, f, &file, &lineno);
            const char *name = intern_file_name(in, file, &len);
            fputs(f ? ", {\"filename\": " : "{\"filename\": ", out);
            format_json_string(out, name, len);
            fprintf(out, ", \"lineno\": %" PRId64 "}", lineno);
        }
        fputs("], \"text\": ", out);
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (mem) {
            format_traceback_str(mem, &rep, &s->key);
            fclose(mem);
            format_json_string(out, buf, len);
        } else {
            fputs("null", out);
        }
        free(buf);
        fputc('}', out);
    }
    fputs(shown ? "\n ]}\n" : "]}\n", out);
    return ferror(out) ? -1 : 0;
}
