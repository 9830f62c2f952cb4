#include "filter_hint.h"

#include <stdlib.h>

int filter_hint_relative(const char *pattern)
{
    return pattern[0] != '/' && pattern[0] != '*' && pattern[0] != '<';
}

uint8_t *filter_hint_used_files(const snapshot *const *snaps, size_t n, const intern *in)
{
    size_t nfiles = intern_nfiles(in), nstacks = intern_nstacks(in);
    uint8_t *used = calloc(nfiles ? nfiles : 1, 1);
    if (!used)
        return NULL;
    for (size_t s = 0; s < n; s++) {
        const snapshot *snap = snaps[s];
        for (size_t st = 0; st < snap->nacc && st < nstacks; st++) {
            if (!snap->acc[st].traces)
                continue;
            size_t nf;
            const int32_t *frames = intern_stack_frames(in, (int32_t)st, &nf);
            for (size_t k = 0; k < nf; k++)
                used[intern_frame_file(in, frames[k])] = 1;
        }
    }
    return used;
}

int filter_hint(FILE *err, const char *pattern, int inclusive, const glob_pattern *g,
                const uint8_t *used, const intern *in)
{
    if (!filter_hint_relative(pattern))
        return 0;
    int any = 0;
    for (size_t f = 0; f < intern_nfiles(in); f++) {
        if (!used[f])
            continue;
        any = 1;
        size_t len;
        const char *name = intern_file_name(in, (int32_t)f, &len);
        int r = glob_match(g, name, len);
        if (r != 0)
            return r < 0 ? -1 : 0;
    }
    if (!any) /* no frame at all (no traces): no pattern could match */
        return 0;
    fprintf(err, "mprofile-report: %s '%s' matched no frame; file names are usually absolute "
                 "paths, try '*/%s'\n", inclusive ? "--include" : "--exclude", pattern, pattern);
    return 1;
}
