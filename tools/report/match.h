/* Filename patterns with the semantics of tracemalloc.Filter: fnmatch on
 * POSIX (case-sensitive, '*' also matches '/'), after mapping a trailing
 * ".pyc" to ".py" on both the pattern and the filename. */
#ifndef MPROFILE_REPORT_MATCH_H
#define MPROFILE_REPORT_MATCH_H

#include <stddef.h>

typedef struct glob_pattern glob_pattern;

/* Compile a UTF-8 pattern; NULL when out of memory. */
glob_pattern *glob_compile(const char *pattern, size_t len);
void glob_free(glob_pattern *g);
/* 1 when the filename matches, 0 otherwise, -1 when out of memory. */
int glob_match(const glob_pattern *g, const char *name, size_t len);

#endif
