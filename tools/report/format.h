/* Output formats.  Text reproduces tracemalloc's str(Statistic) and
 * str(StatisticDiff) byte for byte; JSON and collapsed stacks are for
 * scripts and flame graph tools (schemas in docs/report.md). */
#ifndef MPROFILE_REPORT_FORMAT_H
#define MPROFILE_REPORT_FORMAT_H

#include <stddef.h>
#include <stdio.h>

#include "aggregate.h"

typedef struct report {
    intern *in;
    const snapshot *snap;     /* the snapshot, or NEW for --diff */
    const snapshot *old_snap; /* --diff only, else NULL */
    const agg_opts *opts;
    const row *rows;
    size_t nrows;
    size_t top; /* rows to print; 0 = all */
    int domain_roots; /* collapsed: the domain name as the root frame */
    int python_only;  /* the snapshots were loaded with SNAPSHOT_PYTHON_ONLY */
} report;

/* tracemalloc._format_size(size, sign) into buf. */
void format_size(char *buf, size_t buflen, double size, int sign);
/* str(Statistic) or str(StatisticDiff) of a row (without newline). */
void format_row_text(char *buf, size_t buflen, const report *rep, const row *r);
/* Write "filename:lineno" of a traceback's first (oldest) frame. */
void format_traceback_str(FILE *out, const report *rep, const row *r);

/* Each returns 0, or -1 on a write error. */
int format_text(FILE *out, const report *rep);
int format_json(FILE *out, const report *rep);
int format_collapsed(FILE *out, const report *rep);

/* Helpers shared by the formatters. */
const char *group_by_name(group_by g);
size_t report_shown_rows(const report *rep);
long long report_count(const snapshot *snap, double count);
double report_rse(const row *r);
/* Whether a snapshot of the report has a domain other than python. */
int report_has_domains(const report *rep);
/* Domains of the mixed rows among the shown ones (aggregate_row_domains),
 * or both NULL when no shown row is mixed.  -1 when out of memory. */
int report_row_domains(const report *rep, int64_t **doms, size_t **begin);

#endif
