#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"

void format_size(char *buf, size_t buflen, double size, int sign)
{
    /* Lib/tracemalloc.py _format_size: at most 3 significant digits with
     * one decimal below 100 units, integers up to 10 * 1024 units. */
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    for (int u = 0; u < 5; u++) {
        if (fabs(size) < 100 && u != 0) {
            snprintf(buf, buflen, sign ? "%+.1f %s" : "%.1f %s", size, units[u]);
            return;
        }
        if (fabs(size) < 10 * 1024 || u == 4) {
            snprintf(buf, buflen, sign ? "%+.0f %s" : "%.0f %s", size, units[u]);
            return;
        }
        size /= 1024;
    }
}

const char *group_by_name(group_by g)
{
    return g == GROUP_FILENAME ? "filename" : g == GROUP_TRACEBACK ? "traceback" : "lineno";
}

size_t report_shown_rows(const report *rep)
{
    return rep->top && rep->top < rep->nrows ? rep->top : rep->nrows;
}

/* Counts are integers in tracemalloc; estimated ones are rounded. */
long long report_count(const snapshot *snap, double count)
{
    (void)snap;
    return llround(count);
}

double report_rse(const row *r)
{
    return r->size > 0 ? sqrt(r->var) / (double)r->size : 0.0;
}

int report_diff_is_noise(const row *r)
{
    /* Without variance (exact snapshots) a difference is exact: never noise. */
    return r->var > 0 && fabs((double)r->size_diff) <= 2.0 * sqrt(r->var);
}

int report_has_domains(const report *rep)
{
    return snapshot_has_domains(rep->snap) || (rep->old_snap && snapshot_has_domains(rep->old_snap));
}

int report_each_stack(const report *rep, const snapshot *snap, const uint8_t *pass,
                      int (*fn)(void *ctx, int64_t domain, int32_t stack, const stack_acc *a),
                      void *ctx)
{
    size_t nst = intern_nstacks(rep->in);
    for (size_t d = 0; d < snap->ndomains; d++) {
        int64_t domain = snap->domains[d].domain;
        if (!domain_passes(rep->opts->domains, rep->opts->ndomains, domain))
            continue;
        size_t ne = snapshot_domain_nentries(snap, d);
        for (size_t i = 0; i < ne; i++) {
            int32_t st;
            const stack_acc *a = snapshot_domain_entry(snap, d, i, &st);
            if (a->traces && (size_t)st < nst && pass[st] && fn(ctx, domain, st, a) < 0)
                return -1;
        }
    }
    return 0;
}

int report_row_domains(const report *rep, int64_t **doms, size_t **begin)
{
    *doms = NULL;
    *begin = NULL;
    size_t shown = report_shown_rows(rep);
    for (size_t i = 0; i < shown; i++)
        if (rep->rows[i].mixed)
            return aggregate_row_domains(rep->snap, rep->old_snap, rep->in, rep->opts, rep->rows,
                                         shown, doms, begin);
    return 0;
}

static int is_sampled(const report *rep)
{
    return snapshot_is_sampled(rep->snap) || (rep->old_snap && snapshot_is_sampled(rep->old_snap));
}

static size_t frame_text(char *buf, size_t buflen, const report *rep, const row *r)
{
    if (row_nframes(rep->in, rep->opts->group, r) == 0)
        return (size_t)snprintf(buf, buflen, "<unknown>:0");
    int32_t file;
    int64_t lineno;
    row_frame(rep->in, rep->opts->group, r, 0, &file, &lineno);
    size_t len;
    const char *name = intern_file_name(rep->in, file, &len);
    return (size_t)snprintf(buf, buflen, "%.*s:%" PRId64, (int)len, name, lineno);
}

void format_traceback_str(FILE *out, const report *rep, const row *r)
{
    char buf[4096];
    size_t n = frame_text(buf, sizeof buf, rep, r);
    if (n < sizeof buf) {
        fputs(buf, out);
        return;
    }
    int32_t file;
    int64_t lineno;
    row_frame(rep->in, rep->opts->group, r, 0, &file, &lineno);
    size_t len;
    const char *name = intern_file_name(rep->in, file, &len);
    fwrite(name, 1, len, out);
    fprintf(out, ":%" PRId64, lineno);
}

void format_row_text(char *buf, size_t buflen, const report *rep, const row *r)
{
    char size[32], diff[32], avg[32];
    long long count = report_count(rep->snap, r->count);
    format_size(size, sizeof size, (double)r->size, 0);
    size_t n = 0;
    buf[0] = '\0';
    if (rep->old_snap) {
        format_size(diff, sizeof diff, (double)r->size_diff, 1);
        n = (size_t)snprintf(buf, buflen, "size=%s (%s), count=%lld (%+lld)", size, diff, count,
                             llround(r->count_diff));
    } else {
        n = (size_t)snprintf(buf, buflen, "size=%s, count=%lld", size, count);
    }
    if (count && n < buflen) {
        /* Statistic: average = self.size / self.count, with the count
         * shown (exact) or estimated. */
        double c = is_sampled(rep) ? r->count : (double)count;
        format_size(avg, sizeof avg, (double)r->size / c, 0);
        n += (size_t)snprintf(buf + n, buflen - n, ", average=%s", avg);
    }
    if (is_sampled(rep) && !rep->old_snap && n < buflen)
        snprintf(buf + n, buflen - n, ", rse=%.1f%%", 100.0 * report_rse(r));
    if (is_sampled(rep) && rep->old_snap && n < buflen) {
        /* After str(StatisticDiff), so the tracemalloc part stays a prefix. */
        char se[32];
        format_size(se, sizeof se, sqrt(r->var), 0);
        snprintf(buf + n, buflen - n, ", se=%s%s", se, report_diff_is_noise(r) ? ", noise" : "");
    }
}

/* A Unix time of the metadata (float or int) as "YYYY-MM-DD HH:MM:SS
 * UTC", or "?" when out of range.  0 when m is not a number. */
static int meta_time(const meta_entry *m, char *buf, size_t buflen)
{
    if (m->kind != META_FLOAT && m->kind != META_INT)
        return 0;
    double t = m->kind == META_FLOAT ? m->f : (double)m->i;
    snprintf(buf, buflen, "?");
    if (isfinite(t) && fabs(t) < 1e15) {
        time_t tt = (time_t)t;
        struct tm tm;
        if (gmtime_r(&tt, &tm))
            strftime(buf, buflen, "%Y-%m-%d %H:%M:%S UTC", &tm);
    }
    return 1;
}

/* A metadata string inside a header line: control characters would break
 * the one-line-per-header form, they are written as '?'. */
static void header_string(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
    }
}

/* A duration in seconds: two decimals below 10 s, one below 1000 s. */
static void format_seconds(char *buf, size_t buflen, double sec)
{
    double a = fabs(sec);
    snprintf(buf, buflen, a < 10 ? "%.2f s" : a < 1000 ? "%.1f s" : "%.0f s", sec);
}

/* A peak snapshot (is_peak = True): its traces are the live set when the
 * estimated live bytes were at their highest. */
static void header_peak(FILE *out, const snapshot *s)
{
    const meta_entry *m;
    char tb[64], sz[32];
    fputs("# peak snapshot: the live set at the peak", out);
    if ((m = snapshot_meta(s, "peak_time")) && meta_time(m, tb, sizeof tb))
        fprintf(out, ", %s", tb);
    if ((m = snapshot_meta(s, "peak_bytes")) && m->kind == META_INT) {
        format_size(sz, sizeof sz, (double)m->i, 0);
        fprintf(out, " (peak_bytes=%s)", sz);
    }
    fputc('\n', out);
}

/* One line summing up the timeline (at least one point). */
static void header_timeline(FILE *out, const snapshot *s)
{
    const timeline_point *p = s->timeline;
    size_t n = s->ntimeline, hi = 0;
    char a[32], b[32], h[32], d[32], t[32];
    format_size(a, sizeof a, (double)p[0].live_bytes, 0);
    if (n == 1) {
        fprintf(out, "# timeline: 1 point, live %s\n", a);
        return;
    }
    for (size_t i = 1; i < n; i++)
        if (p[i].live_bytes > p[hi].live_bytes)
            hi = i;
    format_size(b, sizeof b, (double)p[n - 1].live_bytes, 0);
    format_size(h, sizeof h, (double)p[hi].live_bytes, 0);
    format_seconds(d, sizeof d, p[n - 1].time - p[0].time);
    format_seconds(t, sizeof t, p[hi].time - p[0].time);
    fprintf(out, "# timeline: %zu points over %s, live from %s to %s, highest %s at +%s\n", n, d,
            a, b, h, t);
}

void format_text_header(FILE *out, const snapshot *s, const char *label)
{
    int64_t size;
    double count, var;
    char sz[32];
    snapshot_totals(s, &size, &count, &var);
    format_size(sz, sizeof sz, (double)size, 0);
    fprintf(out, "# %s%s: %zu traces", label, s->path ? s->path : "", s->ntraces);
    if (s->has_traceback_limit)
        fprintf(out, ", traceback_limit=%" PRId64, s->traceback_limit);
    fprintf(out, ", total size=%s, count=%lld\n", sz, llround(count));
    const meta_entry *m;
    int any = 0;
    if ((m = snapshot_meta(s, "pid")) && m->kind == META_INT) {
        fprintf(out, "# pid=%" PRId64, m->i);
        any = 1;
    }
    char tb[64];
    if ((m = snapshot_meta(s, "time")) && meta_time(m, tb, sizeof tb)) {
        fprintf(out, "%stime=%s", any ? ", " : "# ", tb);
        any = 1;
    }
    /* trigger: only libmprofile's newer snapshots have it. */
    static const char *const strs[] = {"trigger", "python_version", "mprofile_version"};
    for (int i = 0; i < 3; i++) {
        if ((m = snapshot_meta(s, strs[i])) && m->kind == META_STR) {
            fprintf(out, "%s%s=", any ? ", " : "# ", strs[i]);
            header_string(out, m->s, m->slen);
            any = 1;
        }
    }
    if (any)
        fputc('\n', out);
    if ((m = snapshot_meta(s, "is_peak")) && m->kind == META_BOOL && m->i)
        header_peak(out, s);
    if (snapshot_is_sampled(s)) {
        fprintf(out, "# sampled: sample_rate=%" PRId64 " bytes; sizes and counts are estimates, "
                     "rse = relative standard error\n", s->sample_rate);
    }
    any = 0;
    static const char *const sizes[] = {"live_bytes", "peak_bytes", "profiler_memory"};
    for (int i = 0; i < 3; i++) {
        if ((m = snapshot_meta(s, sizes[i])) && m->kind == META_INT) {
            format_size(sz, sizeof sz, (double)m->i, 0);
            fprintf(out, "%s%s=%s", any ? ", " : "# ", sizes[i], sz);
            any = 1;
        }
    }
    static const char *const ints[] = {"samples", "dropped_samples"};
    for (int i = 0; i < 2; i++) {
        if ((m = snapshot_meta(s, ints[i])) && m->kind == META_INT) {
            fprintf(out, "%s%s=%" PRId64, any ? ", " : "# ", ints[i], m->i);
            any = 1;
        }
    }
    if (any)
        fputc('\n', out);
    if (s->has_timeline && s->ntimeline)
        header_timeline(out, s);
    if (s->mixed) {
        /* Python snapshots print no such line: their header is unchanged. */
        fprintf(out, "# stacks: mixed, %zu distinct native frames%s\n", s->native_frames,
                s->native_dropped ? " dropped (--python-only)" : "");
    }
    if (snapshot_has_domains(s)) {
        for (size_t d = 0; d < s->ndomains; d++) {
            const domain_total *t = &s->domains[d];
            char name[32];
            domain_name(name, sizeof name, t->domain);
            format_size(sz, sizeof sz, (double)t->sum.size, 0);
            fprintf(out, "# domain %s: %" PRId64 " traces, size=%s, count=%lld\n", name,
                    t->sum.traces, sz, llround(t->sum.count));
        }
    }
}

/* --names: " (NAME)" after a frame whose function is known.  Python's
 * qualified names have neither parentheses nor control characters; a
 * forged name's are written as '?', so that the name always ends at the
 * first ')' and the row stays on one line. */
void format_frame_name(FILE *out, const report *rep, const row *r, size_t i, const char *before,
                       const char *after)
{
    int32_t frame = rep->names ? row_frame_id(rep->in, rep->opts->group, r, i) : -1;
    size_t len;
    const char *name = frame >= 0 ? intern_frame_name(rep->in, frame, &len) : NULL;
    if (!name)
        return;
    fputs(before, out);
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)name[k];
        fputc(c < 0x20 || c == 0x7f || c == '(' || c == ')' ? '?' : c, out);
    }
    fputs(after, out);
}

/* " [native]", " [tracked:N]" or " [python+native]" after a row that is
 * not all python. */
static void row_marker(FILE *out, const row *r, const int64_t *doms, const size_t *begin, size_t i)
{
    char name[32];
    if (!r->mixed) {
        if (r->domain == DOMAIN_PYTHON)
            return;
        domain_name(name, sizeof name, r->domain);
        fprintf(out, " [%s]", name);
        return;
    }
    fputs(" [", out);
    for (size_t k = begin[i]; k < begin[i + 1]; k++) {
        domain_name(name, sizeof name, doms[k]);
        fprintf(out, "%s%s", k > begin[i] ? "+" : "", name);
    }
    fputc(']', out);
}

int format_text(FILE *out, const report *rep)
{
    if (rep->old_snap)
        format_text_header(out, rep->old_snap, "old ");
    format_text_header(out, rep->snap, rep->old_snap ? "new " : "");
    return format_text_rows(out, rep);
}

int format_text_rows(FILE *out, const report *rep)
{
    const agg_opts *o = rep->opts;
    if (rep->old_snap && is_sampled(rep))
        fputs("# se = standard error of the size difference (the samples taken as independent: "
              "an upper bound); noise = within 2 se of no change\n", out);
    size_t shown = report_shown_rows(rep);
    fprintf(out, "# %s %zu of %zu rows, group by %s%s%s%s%s\n",
            rep->old_snap ? "differences:" : "top", shown, rep->nrows, group_by_name(o->group),
            o->cumulative ? ", cumulative" : "", o->inclusive ? ", inclusive" : "",
            rep->hide_imports ? ", imports hidden" : "",
            o->nfilters || o->ndomains ? ", filtered" : "");
    int64_t *doms;
    size_t *begin;
    if (report_row_domains(rep, &doms, &begin) < 0)
        return -1;
    char buf[512];
    for (size_t i = 0; i < shown; i++) {
        const row *r = &rep->rows[i];
        format_traceback_str(out, rep, r);
        /* str(Traceback) is its oldest frame: frame 0 in every key type. */
        format_frame_name(out, rep, r, 0, " (", ")");
        format_row_text(buf, sizeof buf, rep, r);
        fprintf(out, ": %s", buf);
        row_marker(out, r, doms, begin, i);
        fputc('\n', out);
        if (o->group == GROUP_TRACEBACK) {
            /* Traceback.format(): oldest frame first. */
            size_t nf = row_nframes(rep->in, o->group, r);
            for (size_t k = 0; k < nf; k++) {
                int32_t file;
                int64_t lineno;
                size_t len;
                row_frame(rep->in, o->group, r, k, &file, &lineno);
                const char *name = intern_file_name(rep->in, file, &len);
                fputs("  File \"", out);
                fwrite(name, 1, len, out);
                fprintf(out, "\", line %" PRId64, lineno);
                /* Python's own traceback form: '  File "f", line N, in name'. */
                format_frame_name(out, rep, r, k, ", in ", "");
                fputc('\n', out);
            }
        }
    }
    if (shown < rep->nrows) {
        double size = 0, count = 0;
        for (size_t i = shown; i < rep->nrows; i++) {
            size += (double)rep->rows[i].size;
            count += rep->rows[i].count;
        }
        char sz[32];
        format_size(sz, sizeof sz, size, 0);
        fprintf(out, "# %zu other rows: size=%s, count=%lld\n", rep->nrows - shown, sz, llround(count));
    }
    free(doms);
    free(begin);
    return ferror(out) ? -1 : 0;
}
