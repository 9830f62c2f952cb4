/* JSON output: one object, schema "mprofile-report/1" (docs/report.md). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

void format_json_string(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc((int)c, out);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else if (c == 0xed && i + 2 < len && (p[i + 1] & 0xe0) == 0xa0) {
            /* An encoded surrogate (Python's surrogatepass) is not valid
             * UTF-8 in JSON text: write it as an escape. */
            unsigned cp = ((c & 0x0fu) << 12) | ((p[i + 1] & 0x3fu) << 6) | (p[i + 2] & 0x3fu);
            fprintf(out, "\\u%04x", cp);
            i += 2;
        } else {
            fputc((int)c, out);
        }
    }
    fputc('"', out);
}

static void json_cstr(FILE *out, const char *s)
{
    format_json_string(out, s, strlen(s));
}

void format_json_double(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.17g", v);
    else
        fputs("null", out);
}

/* "timeline": [[time, live_bytes, peak_bytes, rss_bytes], ...], the
 * tuples of the metadata as JSON arrays. */
static void json_timeline(FILE *out, const snapshot *s, int comma)
{
    fputs(comma ? ", \"timeline\": [" : "\"timeline\": [", out);
    for (size_t i = 0; i < s->ntimeline; i++) {
        const timeline_point *p = &s->timeline[i];
        fputs(i ? ", [" : "[", out);
        format_json_double(out, p->time);
        fprintf(out, ", %" PRId64 ", %" PRId64 ", %" PRId64 "]", p->live_bytes, p->peak_bytes,
                p->rss_bytes);
    }
    fputc(']', out);
}

void format_json_snapshot(FILE *out, const snapshot *s)
{
    int64_t size;
    double count, var;
    snapshot_totals(s, &size, &count, &var);
    fputs("{\"file\": ", out);
    json_cstr(out, s->path ? s->path : "");
    fprintf(out, ", \"traces\": %zu, \"traceback_limit\": ", s->ntraces);
    if (s->has_traceback_limit)
        fprintf(out, "%" PRId64, s->traceback_limit);
    else
        fputs("null", out);
    fprintf(out, ", \"sample_rate\": %" PRId64 ", \"estimated\": %s, \"total_size\": %" PRId64
                 ", \"total_count\": ",
            s->sample_rate, snapshot_is_sampled(s) ? "true" : "false", size);
    format_json_double(out, count);
    fputs(", \"total_size_rse\": ", out);
    if (snapshot_is_sampled(s) && size > 0)
        format_json_double(out, sqrt(var) / (double)size);
    else
        fputs("null", out);
    fprintf(out, ", \"stacks\": \"%s\", \"distinct_native_frames\": %zu",
            s->mixed ? "mixed" : "python", s->native_frames);
    fputs(", \"domains\": [", out);
    for (size_t d = 0; d < s->ndomains; d++) {
        const domain_total *t = &s->domains[d];
        char name[32];
        domain_name(name, sizeof name, t->domain);
        fprintf(out, "%s{\"domain\": %" PRId64 ", \"name\": \"%s\", \"traces\": %" PRId64
                     ", \"size\": %" PRId64 ", \"count\": ",
                d ? ", " : "", t->domain, name, t->sum.traces, t->sum.size);
        format_json_double(out, t->sum.count);
        fputs(", \"size_rse\": ", out);
        if (snapshot_is_sampled(s) && t->sum.size > 0)
            format_json_double(out, sqrt(t->sum.var) / (double)t->sum.size);
        else
            fputs("null", out);
        fputc('}', out);
    }
    fputs("], \"metadata\": {", out);
    for (size_t i = 0; i <= s->nmeta; i++) {
        if (s->has_timeline && s->timeline_meta_pos == i)
            json_timeline(out, s, i > 0);
        if (i == s->nmeta)
            break;
        const meta_entry *m = &s->meta[i];
        if (i || (s->has_timeline && s->timeline_meta_pos == 0))
            fputs(", ", out);
        json_cstr(out, m->key);
        fputs(": ", out);
        switch (m->kind) {
        case META_INT: fprintf(out, "%" PRId64, m->i); break;
        case META_FLOAT: format_json_double(out, m->f); break;
        case META_BOOL: fputs(m->i ? "true" : "false", out); break;
        case META_STR: format_json_string(out, m->s, m->slen); break;
        default: fputs("null", out); break;
        }
    }
    fputs("}}", out);
}

void format_json_function(FILE *out, const intern *in, group_by g, const row *key, size_t i)
{
    int32_t frame = row_frame_id(in, g, key, i);
    size_t len;
    const char *function = frame >= 0 ? intern_frame_name(in, frame, &len) : NULL;
    fputs(", \"function\": ", out);
    if (function)
        format_json_string(out, function, len);
    else
        fputs("null", out);
}

/* Only native frames carry "native": the frames of Python snapshots are
 * written as they always were. */
static int frame_is_native(const report *rep, int32_t file)
{
    return snapshot_native_file(rep->snap, rep->in, file) ||
           (rep->old_snap && snapshot_native_file(rep->old_snap, rep->in, file));
}

int format_json(FILE *out, const report *rep)
{
    const agg_opts *o = rep->opts;
    int sampled = snapshot_is_sampled(rep->snap) || (rep->old_snap && snapshot_is_sampled(rep->old_snap));
    fprintf(out, "{\"schema\": \"mprofile-report/1\", \"mode\": \"%s\", \"group_by\": \"%s\", "
                 "\"cumulative\": %s, \"inclusive\": %s, \"python_only\": %s, "
                 "\"hide_imports\": %s, \"estimated\": %s,\n",
            rep->old_snap ? "diff" : "top", group_by_name(o->group), o->cumulative ? "true" : "false",
            o->inclusive ? "true" : "false", rep->python_only ? "true" : "false",
            rep->hide_imports ? "true" : "false", sampled ? "true" : "false");
    if (rep->old_snap) {
        fputs(" \"old_snapshot\": ", out);
        format_json_snapshot(out, rep->old_snap);
        fputs(",\n", out);
    }
    fputs(" \"snapshot\": ", out);
    format_json_snapshot(out, rep->snap);
    if (format_json_rows(out, rep, NULL) < 0)
        return -1;
    fputs("}\n", out);
    return ferror(out) ? -1 : 0;
}

int format_json_rows(FILE *out, const report *rep, const char *pid)
{
    const agg_opts *o = rep->opts;
    int sampled = snapshot_is_sampled(rep->snap) || (rep->old_snap && snapshot_is_sampled(rep->old_snap));
    size_t shown = report_shown_rows(rep);
    int has_domains = report_has_domains(rep);
    int64_t *doms;
    size_t *begin;
    if (report_row_domains(rep, &doms, &begin) < 0)
        return -1;
    fprintf(out, ",\n \"total_rows\": %zu,\n \"rows\": [", rep->nrows);
    char buf[512];
    for (size_t i = 0; i < shown; i++) {
        const row *r = &rep->rows[i];
        long long count = report_count(rep->snap, r->count);
        fputs(i ? ",\n  {" : "\n  {", out);
        if (pid)
            fprintf(out, "\"pid\": %s, ", pid);
        fprintf(out, "\"size\": %" PRId64 ", \"count\": %lld, \"count_estimate\": ", r->size, count);
        format_json_double(out, r->count);
        fputs(", \"average\": ", out);
        if (r->count != 0)
            format_json_double(out, (double)r->size / (sampled ? r->count : (double)count));
        else
            fputs("null", out);
        if (rep->old_snap) {
            fprintf(out, ", \"size_diff\": %" PRId64 ", \"count_diff\": %lld", r->size_diff,
                    llround(r->count_diff));
            fputs(", \"size_diff_stderr\": ", out);
            if (sampled)
                format_json_double(out, sqrt(r->var));
            else
                fputs("null", out);
            fputs(", \"noise\": ", out);
            fputs(!sampled ? "null" : report_diff_is_noise(r) ? "true" : "false", out);
        } else {
            fputs(", \"rse\": ", out);
            if (sampled)
                format_json_double(out, report_rse(r));
            else
                fputs("null", out);
        }
        if (has_domains && !r->mixed) {
            fprintf(out, ", \"domain\": %" PRId64, r->domain);
        } else if (has_domains) {
            fputs(", \"domains\": [", out);
            for (size_t k = begin[i]; k < begin[i + 1]; k++)
                fprintf(out, "%s%" PRId64, k > begin[i] ? ", " : "", doms[k]);
            fputc(']', out);
        }
        fputs(", \"frames\": [", out);
        size_t nf = row_nframes(rep->in, o->group, r);
        for (size_t k = 0; k < nf; k++) {
            int32_t file;
            int64_t lineno;
            size_t len;
            row_frame(rep->in, o->group, r, k, &file, &lineno);
            const char *name = intern_file_name(rep->in, file, &len);
            fputs(k ? ", {\"filename\": " : "{\"filename\": ", out);
            format_json_string(out, name, len);
            fprintf(out, ", \"lineno\": %" PRId64, lineno);
            format_json_function(out, rep->in, o->group, r, k);
            fprintf(out, "%s}", frame_is_native(rep, file) ? ", \"native\": true" : "");
        }
        fputs("], \"text\": ", out);
        /* The text line, as tracemalloc would print it. */
        char *tb = NULL;
        size_t tblen = 0;
        FILE *mem = open_memstream(&tb, &tblen);
        if (mem) {
            format_traceback_str(mem, rep, r);
            format_row_text(buf, sizeof buf, rep, r);
            fprintf(mem, ": %s", buf);
            fclose(mem);
            format_json_string(out, tb, tblen);
        } else {
            fputs("null", out);
        }
        free(tb);
        fputc('}', out);
    }
    free(doms);
    free(begin);
    fputs(shown ? "\n ]" : "]", out);
    return ferror(out) ? -1 : 0;
}
