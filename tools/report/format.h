/* Output formats.  Text reproduces tracemalloc's str(Statistic) and
 * str(StatisticDiff) byte for byte; JSON and collapsed stacks are for
 * scripts and flame graph tools, pprof for go tool pprof and continuous
 * profiling servers (schemas in docs/report.md). */
#ifndef MPROFILE_REPORT_FORMAT_H
#define MPROFILE_REPORT_FORMAT_H

#include <stddef.h>
#include <stdio.h>

#include "aggregate.h"
#include "html_inputs.h"

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
    const char *root; /* collapsed: a first frame of every stack ("pid N" with --by-pid) */
    /* HTML only: the peak companion (or --peak), NULL without one; the
     * --timeline series, NULL without --timeline. */
    const snapshot *peak_snap;
    const timeline_series *series;
    int hide_imports; /* the snapshots were loaded with SNAPSHOT_HIDE_IMPORTS */
    int names;        /* text: the function after each frame (--names) */
} report;

/* tracemalloc._format_size(size, sign) into buf. */
void format_size(char *buf, size_t buflen, double size, int sign);
/* str(Statistic) or str(StatisticDiff) of a row (without newline). */
void format_row_text(char *buf, size_t buflen, const report *rep, const row *r);
/* --names (rep->names): before, the function of frame i of a row's key
 * (row_frame order) and after, when the snapshots name it; nothing
 * otherwise.  Control characters and parentheses are written as '?'. */
void format_frame_name(FILE *out, const report *rep, const row *r, size_t i, const char *before,
                       const char *after);
/* JSON: ', "function": NAME' of frame i of a row's key, null when unknown. */
void format_json_function(FILE *out, const intern *in, group_by g, const row *key, size_t i);
/* Write "filename:lineno" of a traceback's first (oldest) frame. */
void format_traceback_str(FILE *out, const report *rep, const row *r);

/* Each returns 0, or -1 on a write error. */
int format_text(FILE *out, const report *rep);
/* Pieces of format_text: the header lines of one snapshot (its first line
 * starts with "# " label), and the "# top" line with the rows. */
void format_text_header(FILE *out, const snapshot *s, const char *label);
int format_text_rows(FILE *out, const report *rep);
int format_json(FILE *out, const report *rep);
/* Pieces of format_json: a string, the object of one snapshot, and the
 * "total_rows" and "rows" members (after a comma; each row with "pid"
 * when pid is not NULL, a number or null). */
void format_json_string(FILE *out, const char *s, size_t len);
void format_json_double(FILE *out, double v);
void format_json_snapshot(FILE *out, const snapshot *s);
int format_json_rows(FILE *out, const report *rep, const char *pid);
int format_collapsed(FILE *out, const report *rep);
/* A gzipped pprof profile (profile.proto); -1 also when out of memory. */
int format_pprof(FILE *out, const report *rep);
int format_html(FILE *out, const report *rep);

/* Merged snapshots: one section per process with --by-pid, else one. */
typedef struct merge_section {
    snapshot merged;          /* the sum of its inputs (snapshot_merge) */
    const snapshot **inputs;  /* its snapshots, in command line order */
    size_t ninputs;
    int has_pid;              /* metadata pid of its inputs; 0: none ("pid ?") */
    int64_t pid;
    row *rows;
    size_t nrows;
} merge_section;

typedef struct merge_report {
    intern *in;
    const agg_opts *opts;
    const snapshot *const *inputs; /* every snapshot, in command line order */
    size_t ninputs;
    merge_section *sections;
    size_t nsections;
    int by_pid;
    size_t top;
    int domain_roots;
    int python_only;
    int hide_imports; /* as in report */
    int names;
} merge_report;

int format_merge_text(FILE *out, const merge_report *m);
int format_merge_json(FILE *out, const merge_report *m);
int format_merge_collapsed(FILE *out, const merge_report *m);

struct trend_result;
/* --trend: one group, or with --by-pid one per process (pids ascending,
 * none last). */
typedef struct trend_group {
    int has_pid;
    int64_t pid;
    const snapshot **inputs;       /* its files, in command line order */
    size_t ninputs;
    struct trend_result *result;   /* NULL: fewer than 3 snapshots besides peak ones */
} trend_group;

typedef struct trend_report {
    intern *in;
    const agg_opts *opts;
    size_t top;       /* growing sites shown per group; 0 = all */
    int python_only;
    int hide_imports;
    int names; /* text: the function after each frame */
    int by_pid;
    double false_leak_rate;
    size_t family_sites; /* sites of every group, tested together */
    trend_group *groups;
    size_t ngroups;
} trend_report;

/* docs/report.md, "Leaks across snapshots". */
int format_trend_text(FILE *out, const trend_report *r);
int format_trend_json(FILE *out, const trend_report *r);

/* Helpers shared by the formatters. */
const char *group_by_name(group_by g);
size_t report_shown_rows(const report *rep);
long long report_count(const snapshot *snap, double count);
double report_rse(const row *r);
/* --diff of sampled snapshots: the size difference is within 2 standard
 * errors of 0 (sqrt(r->var), an upper bound: see docs/report.md). */
int report_diff_is_noise(const row *r);
/* Calls fn for the sums of each (domain, stack) of snap with traces whose
 * domain passes the report's domain filters and whose stack passes pass
 * (per stack id, from aggregate_stack_filter).  Returns 0, or -1 as soon
 * as fn does. */
int report_each_stack(const report *rep, const snapshot *snap, const uint8_t *pass,
                      int (*fn)(void *ctx, int64_t domain, int32_t stack, const stack_acc *a),
                      void *ctx);
/* Whether a snapshot of the report has a domain other than python. */
int report_has_domains(const report *rep);
/* Domains of the mixed rows among the shown ones (aggregate_row_domains),
 * or both NULL when no shown row is mixed.  -1 when out of memory. */
int report_row_domains(const report *rep, int64_t **doms, size_t **begin);

#endif
