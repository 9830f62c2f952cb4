/* Collapsed stacks ("folded" format of flamegraph.pl, also read by
 * speedscope and inferno): one line per stack, root frame first, frames
 * separated by ';', then a space and the bytes.  A frame is
 * "function (file:line)", or "file:line" when its function is unknown.  With --diff each line has
 * the old and the new bytes, the input of flamegraph.pl's differential
 * mode.  Grouping options do not apply: a flame graph wants whole stacks.
 * With --domain-roots each line starts with the name of its traces'
 * domain, one line per (domain, stack). */
#include <inttypes.h>
#include <stdlib.h>

#include "format.h"

static intern *sort_in;

static int cmp_stack(const void *a, const void *b)
{
    return aggregate_compare_stacks_root_first(sort_in, *(const int32_t *)a, *(const int32_t *)b);
}

/* ';' separates frames and a newline ends the record: neither may appear
 * inside a frame, so ';' is written as ':' and CR or LF as a space. */
static void write_escaped(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        fputc(c == ';' ? ':' : (c == '\n' || c == '\r') ? ' ' : c, out);
    }
}

/* "function (file:line)" when the function is known (the form of py-spy's
 * collapsed stacks), else "file:line". */
static void write_frame(FILE *out, intern *in, int32_t frame)
{
    size_t len, flen;
    const char *function = intern_frame_name(in, frame, &flen);
    const char *name = intern_file_name(in, intern_frame_file(in, frame), &len);
    if (function) {
        write_escaped(out, function, flen);
        fputs(" (", out);
    }
    write_escaped(out, name, len);
    fprintf(out, ":%" PRId64 "%s", intern_frame_lineno(in, frame), function ? ")" : "");
}

static int64_t stack_size(const acc_view *v, const uint8_t *pass, size_t st)
{
    if (!v || st >= v->nacc || !pass[st])
        return 0;
    return v->acc[st].size;
}

static int listed(const acc_view *v, const uint8_t *pass, size_t st)
{
    return v && st < v->nacc && v->acc[st].traces && pass[st];
}

/* root: a first frame for the whole stack (the "pid N" of --by-pid), or NULL. */
static void write_root(FILE *out, const char *root)
{
    if (root)
        fprintf(out, "%s;", root);
}

static void write_stack(FILE *out, intern *in, int32_t stack)
{
    size_t nf;
    const int32_t *frames = intern_stack_frames(in, stack, &nf);
    if (nf == 0)
        fputs("<unknown>:0", out);
    for (size_t k = nf; k-- > 0;) {
        write_frame(out, in, frames[k]);
        if (k)
            fputc(';', out);
    }
}

/* --domain-roots: one line per (domain, stack), the domain name first. */
typedef struct dom_stack {
    int64_t domain;
    int32_t stack;
    int is_new;
    int64_t size;
} dom_stack;

static int cmp_dom_stack(const void *pa, const void *pb)
{
    const dom_stack *a = pa, *b = pb;
    if (a->domain != b->domain)
        return a->domain < b->domain ? -1 : 1;
    if (a->stack != b->stack)
        return cmp_stack(&a->stack, &b->stack);
    return a->is_new - b->is_new;
}

/* The stacks of one snapshot, appended to a growing array. */
typedef struct collector {
    dom_stack *items;
    size_t n, cap;
    int is_new;
} collector;

static int collect_one(void *ctx, int64_t domain, int32_t stack, const stack_acc *a)
{
    collector *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        dom_stack *p = realloc(c->items, cap * sizeof *p);
        if (!p)
            return -1;
        c->items = p;
        c->cap = cap;
    }
    c->items[c->n++] = (dom_stack){domain, stack, c->is_new, a->size};
    return 0;
}

static int format_domain_roots(FILE *out, const report *rep, const uint8_t *pass_new,
                               const uint8_t *pass_old)
{
    collector c = {.is_new = 1};
    int rc = report_each_stack(rep, rep->snap, pass_new, collect_one, &c);
    c.is_new = 0;
    if (rc < 0 ||
        (rep->old_snap && report_each_stack(rep, rep->old_snap, pass_old, collect_one, &c) < 0)) {
        free(c.items);
        return -1;
    }
    dom_stack *items = c.items;
    size_t n = c.n;
    sort_in = rep->in;
    if (n > 1)
        qsort(items, n, sizeof *items, cmp_dom_stack);
    for (size_t i = 0; i < n;) {
        int64_t sizes[2] = {0, 0};
        size_t j = i;
        for (; j < n && items[j].domain == items[i].domain && items[j].stack == items[i].stack; j++)
            sizes[items[j].is_new] = items[j].size;
        if (rep->old_snap || sizes[1]) {
            char name[32];
            domain_name(name, sizeof name, items[i].domain);
            write_root(out, rep->root);
            fprintf(out, "%s;", name);
            write_stack(out, rep->in, items[i].stack);
            if (rep->old_snap)
                fprintf(out, " %" PRId64 " %" PRId64 "\n", sizes[0], sizes[1]);
            else
                fprintf(out, " %" PRId64 "\n", sizes[1]);
        }
        i = j;
    }
    free(items);
    return 0;
}

int format_collapsed(FILE *out, const report *rep)
{
    uint8_t *pass_new = NULL, *pass_old = NULL;
    acc_view vnew = {0}, vold = {0};
    int32_t *ids = NULL;
    int rc = -1;
    if (aggregate_stack_filter(rep->snap, rep->in, rep->opts, &pass_new) < 0 ||
        (rep->old_snap && aggregate_stack_filter(rep->old_snap, rep->in, rep->opts, &pass_old) < 0))
        goto out;
    if (rep->domain_roots) {
        rc = format_domain_roots(out, rep, pass_new, pass_old);
        goto out;
    }
    if (aggregate_view(rep->snap, rep->opts, &vnew) < 0 ||
        (rep->old_snap && aggregate_view(rep->old_snap, rep->opts, &vold) < 0))
        goto out;
    const acc_view *vo = rep->old_snap ? &vold : NULL;
    size_t nst = intern_nstacks(rep->in), n = 0;
    ids = malloc((nst ? nst : 1) * sizeof *ids);
    if (!ids)
        goto out;
    for (size_t st = 0; st < nst; st++) {
        int64_t a = stack_size(&vnew, pass_new, st);
        int64_t b = stack_size(vo, pass_old, st);
        if ((listed(&vnew, pass_new, st) || listed(vo, pass_old, st)) && (a || b || rep->old_snap))
            ids[n++] = (int32_t)st;
    }
    sort_in = rep->in;
    qsort(ids, n, sizeof *ids, cmp_stack);
    for (size_t i = 0; i < n; i++) {
        write_root(out, rep->root);
        write_stack(out, rep->in, ids[i]);
        if (rep->old_snap)
            fprintf(out, " %" PRId64 " %" PRId64 "\n", stack_size(vo, pass_old, (size_t)ids[i]),
                    stack_size(&vnew, pass_new, (size_t)ids[i]));
        else
            fprintf(out, " %" PRId64 "\n", stack_size(&vnew, pass_new, (size_t)ids[i]));
    }
    rc = 0;
out:
    free(ids);
    free(pass_new);
    free(pass_old);
    aggregate_view_free(&vnew);
    aggregate_view_free(&vold);
    return rc < 0 || ferror(out) ? -1 : 0;
}
