/* Collapsed stacks ("folded" format of flamegraph.pl, also read by
 * speedscope and inferno): one line per stack, root frame first, frames
 * separated by ';', then a space and the bytes.  With --diff each line has
 * the old and the new bytes, the input of flamegraph.pl's differential
 * mode.  Grouping options do not apply: a flame graph wants whole stacks. */
#include <inttypes.h>
#include <stdlib.h>

#include "format.h"

static intern *sort_in;

static int cmp_stack(const void *a, const void *b)
{
    return aggregate_compare_stacks_root_first(sort_in, *(const int32_t *)a, *(const int32_t *)b);
}

static void write_frame(FILE *out, intern *in, int32_t frame)
{
    size_t len;
    const char *name = intern_file_name(in, intern_frame_file(in, frame), &len);
    /* ';' separates frames and a newline ends the record: neither may
     * appear inside a frame name. */
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        fputc(c == ';' ? ':' : (c == '\n' || c == '\r') ? ' ' : c, out);
    }
    fprintf(out, ":%" PRId64, intern_frame_lineno(in, frame));
}

static int64_t stack_size(const snapshot *s, const uint8_t *pass, size_t st)
{
    if (!s || st >= s->nacc || !pass[st])
        return 0;
    return s->acc[st].size;
}

int format_collapsed(FILE *out, const report *rep)
{
    uint8_t *pass_new = NULL, *pass_old = NULL;
    if (aggregate_stack_filter(rep->snap, rep->in, rep->opts, &pass_new) < 0)
        return -1;
    if (rep->old_snap && aggregate_stack_filter(rep->old_snap, rep->in, rep->opts, &pass_old) < 0) {
        free(pass_new);
        return -1;
    }
    size_t nst = intern_nstacks(rep->in), n = 0;
    int32_t *ids = malloc((nst ? nst : 1) * sizeof *ids);
    if (!ids) {
        free(pass_new);
        free(pass_old);
        return -1;
    }
    for (size_t st = 0; st < nst; st++) {
        int64_t a = stack_size(rep->snap, pass_new, st);
        int64_t b = rep->old_snap ? stack_size(rep->old_snap, pass_old, st) : 0;
        int listed = (st < rep->snap->nacc && rep->snap->acc[st].traces && pass_new[st]) ||
                     (rep->old_snap && st < rep->old_snap->nacc && rep->old_snap->acc[st].traces &&
                      pass_old[st]);
        if (listed && (a || b || rep->old_snap))
            ids[n++] = (int32_t)st;
    }
    sort_in = rep->in;
    qsort(ids, n, sizeof *ids, cmp_stack);
    for (size_t i = 0; i < n; i++) {
        size_t nf;
        const int32_t *frames = intern_stack_frames(rep->in, ids[i], &nf);
        if (nf == 0)
            fputs("<unknown>:0", out);
        for (size_t k = nf; k-- > 0;) {
            write_frame(out, rep->in, frames[k]);
            if (k)
                fputc(';', out);
        }
        if (rep->old_snap)
            fprintf(out, " %" PRId64 " %" PRId64 "\n", stack_size(rep->old_snap, pass_old, (size_t)ids[i]),
                    stack_size(rep->snap, pass_new, (size_t)ids[i]));
        else
            fprintf(out, " %" PRId64 "\n", stack_size(rep->snap, pass_new, (size_t)ids[i]));
    }
    free(ids);
    free(pass_new);
    free(pass_old);
    return ferror(out) ? -1 : 0;
}
