/* A hint for --include/--exclude patterns that match nothing because they
 * are relative: tracemalloc's file names are mostly absolute paths
 * (co_filename of imported modules), and Filter patterns match the whole
 * name, so 'app.py' never matches '/srv/app.py'. */
#ifndef MPROFILE_REPORT_FILTER_HINT_H
#define MPROFILE_REPORT_FILTER_HINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "intern.h"
#include "match.h"
#include "snapshot_model.h"

/* A pattern that can only match a relative name: it starts neither with
 * '/' nor with '*'.  Names such as "<frozen zipimport>" or "<unknown>" are
 * not paths: a pattern starting with '<' is not relative either. */
int filter_hint_relative(const char *pattern);

/* The files of the frames of the traces of snaps[0..n): used[file] is 1
 * for each of them (file ids < intern_nfiles).  Caller frees; NULL when out
 * of memory. */
uint8_t *filter_hint_used_files(const snapshot *const *snaps, size_t n, const intern *in);

/* When pattern is relative and g matches none of the used files (there
 * being at least one), writes
 * "mprofile-report: --include 'P' matched no frame; ..., try '*\/P'" on
 * err and returns 1; otherwise 0.  -1 when out of memory. */
int filter_hint(FILE *err, const char *pattern, int inclusive, const glob_pattern *g,
                const uint8_t *used, const intern *in);

#endif
