/* HTML output: one self-contained page (docs/report.md "HTML report").
 *
 * The page is the template tools/report/html/report.html with the style
 * sheet, the data and the script put in place of its markers; the three
 * files are compiled into the binary (html_assets.h, generated at build
 * time), so the tool stays one file and the page needs no network.  The
 * data is one JSON object in a <script type="application/json"> element,
 * every string written by html_json_string so that no file name can end
 * that element; the script draws everything from it. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flame.h"
#include "format.h"
#include "html_assets.h"
#include "html_json.h"

/* Nodes lighter than this fraction of the root are merged into "others". */
#define HTML_MIN_FRACTION 0.001

enum frame_kind { KIND_PYTHON = 0, KIND_NATIVE = 1, KIND_INTERPRETER = 2 };

/* A flame graph of the page. */
typedef struct graph {
    const char *id; /* the page's name for it: its tab, "-python" for the Python-only tree */
    flame_tree tree;
} graph;

static int loaded_native(const report *rep, int32_t file)
{
    return snapshot_native_file(rep->snap, rep->in, file) ||
           (rep->old_snap && snapshot_native_file(rep->old_snap, rep->in, file)) ||
           (rep->peak_snap && snapshot_native_file(rep->peak_snap, rep->in, file));
}

static int starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* The object of a native frame's name ("<native> f (OBJ)" or
 * "<native> OBJ+0xOFF"), or NULL for "<native> ??". */
static const char *native_object_name(const char *name, size_t len, size_t *olen)
{
    const char *s = name + 9, *end = name + len;
    if (len > 9 && end[-1] == ')') {
        for (const char *p = end - 1; p > s; p--)
            if (p[-1] == ' ' && p[0] == '(') {
                *olen = (size_t)(end - 1 - (p + 1));
                return p + 1;
            }
    }
    for (const char *p = end; p - s >= 3; p--)
        if (memcmp(p - 3, "+0x", 3) == 0) {
            *olen = (size_t)(p - 3 - s);
            return s;
        }
    return NULL;
}

/* Python frames, native frames, and the interpreter's own: native frames
 * in the python executable or libpython, frozen bootstrap modules and the
 * "<unknown>" frame of blocks allocated without Python frames. */
static int frame_kind(const report *rep, int32_t frame)
{
    size_t len, olen;
    int32_t file = intern_frame_file(rep->in, frame);
    const char *name = intern_file_name(rep->in, file, &len);
    if (loaded_native(rep, file)) {
        const char *obj = native_object_name(name, len, &olen);
        if (obj && (starts_with(obj, olen, "python") || starts_with(obj, olen, "libpython")))
            return KIND_INTERPRETER;
        return KIND_NATIVE;
    }
    if (starts_with(name, len, "<frozen ") || (len == 9 && memcmp(name, "<unknown>", 9) == 0))
        return KIND_INTERPRETER;
    return KIND_PYTHON;
}

/* Counts and standard errors of the nodes: ten significant digits keep
 * exact counts exact (below 10^10) and big pages a fifth smaller than
 * seventeen. */
static void write_estimate(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.10g", v);
    else
        fputs("null", out);
}

static void write_meta_value(FILE *out, const meta_entry *m)
{
    switch (m->kind) {
    case META_INT: fprintf(out, "%" PRId64, m->i); break;
    case META_FLOAT: format_json_double(out, m->f); break;
    case META_BOOL: fputs(m->i ? "true" : "false", out); break;
    case META_STR: html_json_string(out, m->s, m->slen); break;
    default: fputs("null", out); break;
    }
}

static void write_snapshot(FILE *out, const snapshot *s)
{
    int64_t size;
    double count, var;
    snapshot_totals(s, &size, &count, &var);
    fputs("{\"file\": ", out);
    html_json_cstr(out, s->path ? s->path : "");
    fprintf(out, ", \"traces\": %zu, \"sample_rate\": %" PRId64 ", \"total_size\": %" PRId64
                 ", \"total_count\": ",
            s->ntraces, s->sample_rate, size);
    format_json_double(out, count);
    fputs(", \"total_stderr\": ", out);
    format_json_double(out, snapshot_is_sampled(s) ? sqrt(var) : 0.0);
    fprintf(out, ", \"stacks\": \"%s\", \"metadata\": [", s->mixed ? "mixed" : "python");
    for (size_t i = 0; i < s->nmeta; i++) {
        fputs(i ? ", [" : "[", out);
        html_json_cstr(out, s->meta[i].key);
        fputs(", ", out);
        write_meta_value(out, &s->meta[i]);
        fputc(']', out);
    }
    fputs("]}", out);
}

/* frames: [[name or null, file, lineno, kind], ...] for the frames used by
 * the graphs; index[frame] is the position of a frame in that list. */
static int write_frames(FILE *out, const report *rep, const graph *g, size_t ng, int32_t **index)
{
    size_t nframes = intern_nframes(rep->in);
    int32_t *idx = malloc((nframes ? nframes : 1) * sizeof *idx);
    if (!idx)
        return -1;
    memset(idx, 0xff, (nframes ? nframes : 1) * sizeof *idx);
    int32_t next = 0;
    fputs(",\n \"frames\": [", out);
    for (size_t k = 0; k < ng; k++)
        for (size_t i = 0; i < g[k].tree.n; i++) {
            int32_t f = g[k].tree.nodes[i].frame;
            if (f < 0 || idx[f] >= 0)
                continue;
            idx[f] = next++;
            size_t len;
            const char *name = intern_frame_name(rep->in, f, &len);
            fputs(idx[f] ? ",\n  [" : "\n  [", out);
            if (name)
                html_json_string(out, name, len);
            else
                fputs("null", out);
            fputs(", ", out);
            const char *file = intern_file_name(rep->in, intern_frame_file(rep->in, f), &len);
            html_json_string(out, file, len);
            fprintf(out, ", %" PRId64 ", %d]", intern_frame_lineno(rep->in, f),
                    frame_kind(rep, f));
        }
    fputs("]", out);
    *index = idx;
    return 0;
}

/* nodes: [[parent, frame index (-1 root, -2 others), size, count, stderr,
 * old_size, weight, merged], ...] in preorder. */
static void write_graph(FILE *out, const graph *g, const int32_t *index)
{
    fputs("{\"id\": ", out);
    html_json_cstr(out, g->id);
    fprintf(out, ", \"merged_nodes\": %zu, \"min_weight\": %" PRId64 ", \"nodes\": [",
            g->tree.merged_nodes, g->tree.min_weight);
    for (size_t i = 0; i < g->tree.n; i++) {
        const flame_node *n = &g->tree.nodes[i];
        int32_t f = n->frame >= 0 ? index[n->frame] : n->frame;
        fprintf(out, "%s[%" PRId32 ", %" PRId32 ", %" PRId64 ", ", i ? ",\n  " : "\n  ", n->parent,
                f, n->size);
        write_estimate(out, n->count);
        fputs(", ", out);
        write_estimate(out, sqrt(n->var));
        fprintf(out, ", %" PRId64 ", %" PRId64 ", %" PRId32 "]", n->old_size, n->weight,
                n->merged);
    }
    fputs("]}", out);
}

static int has_native(const snapshot *s)
{
    return s && s->mixed && !s->native_dropped;
}

/* The frame whose function names a row: its only frame (lineno), the
 * oldest of its traceback (the frame its text shows), none for filename. */
static int32_t row_name_frame(const report *rep, const row *r)
{
    if (rep->opts->group == GROUP_LINENO)
        return r->key;
    if (rep->opts->group == GROUP_TRACEBACK) {
        size_t n;
        const int32_t *frames = intern_stack_frames(rep->in, r->key, &n);
        return n ? frames[n - 1] : -1;
    }
    return -1;
}

static int write_rows(FILE *out, const report *rep)
{
    size_t shown = report_shown_rows(rep);
    char buf[512];
    fprintf(out, ",\n \"group_by\": \"%s\", \"cumulative\": %s, \"total_rows\": %zu, \"rows\": [",
            group_by_name(rep->opts->group), rep->opts->cumulative ? "true" : "false",
            rep->nrows);
    for (size_t i = 0; i < shown; i++) {
        const row *r = &rep->rows[i];
        char *loc = NULL;
        size_t loclen = 0;
        FILE *mem = open_memstream(&loc, &loclen);
        if (!mem)
            return -1;
        format_traceback_str(mem, rep, r);
        if (fclose(mem) != 0) {
            free(loc);
            return -1;
        }
        fputs(i ? ",\n  {\"location\": " : "\n  {\"location\": ", out);
        html_json_string(out, loc, loclen);
        free(loc);
        int32_t f = row_name_frame(rep, r);
        size_t len = 0;
        const char *name = f >= 0 ? intern_frame_name(rep->in, f, &len) : NULL;
        fputs(", \"name\": ", out);
        if (name)
            html_json_string(out, name, len);
        else
            fputs("null", out);
        fprintf(out, ", \"size\": %" PRId64 ", \"count\": %lld, \"stderr\": ", r->size,
                report_count(rep->snap, r->count));
        format_json_double(out, sqrt(r->var));
        if (rep->old_snap)
            fprintf(out, ", \"size_diff\": %" PRId64 ", \"count_diff\": %lld", r->size_diff,
                    llround(r->count_diff));
        format_row_text(buf, sizeof buf, rep, r);
        fputs(", \"text\": ", out);
        html_json_cstr(out, buf);
        fputc('}', out);
    }
    fputs("]", out);
    return 0;
}

static void write_timeline(FILE *out, const report *rep)
{
    const snapshot *s = rep->snap;
    const meta_entry *pt = snapshot_meta(rep->peak_snap ? rep->peak_snap : s, "peak_time");
    fprintf(out, ",\n \"timeline\": {\"series\": %s, \"peak_time\": ",
            rep->series ? "true" : "false");
    if (pt && pt->kind == META_FLOAT)
        format_json_double(out, pt->f);
    else if (pt && pt->kind == META_INT)
        fprintf(out, "%" PRId64, pt->i);
    else
        fputs("null", out);
    fputs(", \"points\": [", out);
    const timeline_series *ts = rep->series;
    size_t n = ts ? ts->npoints : s->ntimeline;
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", [" : "[", out);
        if (ts) {
            const series_point *p = &ts->points[i];
            format_json_double(out, p->time);
            if (p->has_detail)
                fprintf(out, ", %" PRId64 ", %" PRId64 ", %" PRId64 "]", p->live_bytes,
                        p->peak_bytes, p->rss_bytes);
            else
                fprintf(out, ", %" PRId64 ", null, null]", p->live_bytes);
        } else {
            const timeline_point *p = &s->timeline[i];
            format_json_double(out, p->time);
            fprintf(out, ", %" PRId64 ", %" PRId64 ", %" PRId64 "]", p->live_bytes,
                    p->peak_bytes, p->rss_bytes);
        }
    }
    fputs("], \"snapshots\": [", out);
    for (size_t i = 0; ts && i < ts->nsnaps; i++) {
        fputs(i ? ", [" : "[", out);
        format_json_double(out, ts->snaps[i].time);
        fprintf(out, ", %" PRId64 ", ", ts->snaps[i].live_bytes);
        html_json_cstr(out, ts->snaps[i].path);
        fputc(']', out);
    }
    /* Without --timeline, the snapshot itself marks where on its timeline
     * the flame graph was taken. */
    const meta_entry *t = snapshot_meta(s, "time"), *live = snapshot_meta(s, "live_bytes");
    if (!ts && s->ntimeline && t && (t->kind == META_FLOAT || t->kind == META_INT) && live &&
        live->kind == META_INT) {
        fputc('[', out);
        format_json_double(out, t->kind == META_FLOAT ? t->f : (double)t->i);
        fprintf(out, ", %" PRId64 ", ", live->i);
        html_json_cstr(out, s->path ? s->path : "");
        fputc(']', out);
    }
    fputs("]}", out);
}

static int write_data(FILE *out, const report *rep, const graph *g, size_t ng)
{
    int sampled = snapshot_is_sampled(rep->snap) ||
                  (rep->old_snap && snapshot_is_sampled(rep->old_snap));
    int32_t *index = NULL;
    fprintf(out, "{\"schema\": \"mprofile-html/1\", \"mode\": \"%s\", \"sampled\": %s, "
                 "\"python_only\": %s, \"min_fraction\": %g,\n \"snapshot\": ",
            rep->old_snap ? "diff" : "top", sampled ? "true" : "false",
            rep->python_only ? "true" : "false", HTML_MIN_FRACTION);
    write_snapshot(out, rep->snap);
    if (rep->old_snap) {
        fputs(",\n \"old_snapshot\": ", out);
        write_snapshot(out, rep->old_snap);
    }
    if (rep->peak_snap) {
        fputs(",\n \"peak\": ", out);
        write_snapshot(out, rep->peak_snap);
    }
    if (write_frames(out, rep, g, ng, &index) < 0)
        return -1;
    fputs(",\n \"graphs\": [", out);
    for (size_t k = 0; k < ng; k++) {
        fputs(k ? ",\n " : "\n ", out);
        write_graph(out, &g[k], index);
    }
    fputs("]", out);
    free(index);
    if (write_rows(out, rep) < 0)
        return -1;
    write_timeline(out, rep);
    fputs("}", out);
    return 0;
}

/* Write the asset up to marker, and return what follows the marker. */
static const char *write_until(FILE *out, const char *from, const char *end, const char *marker)
{
    size_t mlen = strlen(marker);
    for (const char *p = from; p + mlen <= end; p++)
        if (memcmp(p, marker, mlen) == 0) {
            fwrite(from, 1, (size_t)(p - from), out);
            return p + mlen;
        }
    fwrite(from, 1, (size_t)(end - from), out);
    return end;
}

int format_html(FILE *out, const report *rep)
{
    graph g[4];
    size_t ng = 0;
    int rc = -1;
    flame_opts fo = {.agg = rep->opts, .min_fraction = HTML_MIN_FRACTION};
    g[ng++] = (graph){rep->old_snap ? "diff" : "snapshot", {0}};
    if (flame_build(&g[0].tree, rep->in, rep->snap, rep->old_snap, &fo) < 0)
        goto out;
    if (has_native(rep->snap) || has_native(rep->old_snap)) {
        fo.python_only = 1;
        g[ng++] = (graph){rep->old_snap ? "diff-python" : "snapshot-python", {0}};
        if (flame_build(&g[ng - 1].tree, rep->in, rep->snap, rep->old_snap, &fo) < 0)
            goto out;
        fo.python_only = 0;
    }
    if (rep->peak_snap) {
        g[ng++] = (graph){"peak", {0}};
        if (flame_build(&g[ng - 1].tree, rep->in, rep->peak_snap, NULL, &fo) < 0)
            goto out;
        if (has_native(rep->peak_snap)) {
            fo.python_only = 1;
            g[ng++] = (graph){"peak-python", {0}};
            if (flame_build(&g[ng - 1].tree, rep->in, rep->peak_snap, NULL, &fo) < 0)
                goto out;
        }
    }
    const char *t = (const char *)html_asset_template;
    const char *end = t + html_asset_template_len;
    t = write_until(out, t, end, "/*@CSS@*/");
    fwrite(html_asset_css, 1, html_asset_css_len, out);
    t = write_until(out, t, end, "@DATA@");
    if (write_data(out, rep, g, ng) < 0)
        goto out;
    t = write_until(out, t, end, "/*@JS@*/");
    fwrite(html_asset_js, 1, html_asset_js_len, out);
    fwrite(t, 1, (size_t)(end - t), out);
    rc = 0;
out:
    for (size_t k = 0; k < ng; k++)
        flame_tree_free(&g[k].tree);
    return rc < 0 || ferror(out) ? -1 : 0;
}
