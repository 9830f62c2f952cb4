/* --trend: the sites (report rows) whose live bytes grow across a series
 * of snapshots of one process, ordered by their time metadata. */
#ifndef MPROFILE_REPORT_TREND_H
#define MPROFILE_REPORT_TREND_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "trend_stats.h"

typedef struct trend_site {
    row key;       /* the row of the site (key, domain), as in the other reports */
    double *bytes; /* per snapshot, in time order */
    double *var;   /* sampling variance of each */
    trend_fit fit; /* slope in bytes per hour */
    int leak;      /* significant and growing */
} trend_site;

typedef struct trend_result {
    size_t n;                /* snapshots of the series */
    size_t skipped_peaks;    /* peak snapshots given and left out */
    const snapshot **order;  /* the snapshots by time */
    double *time;            /* their Unix times */
    int sampled;             /* some snapshot is sampled */
    trend_site *sites;       /* after trend_decide: leaks first, by decreasing slope */
    size_t nsites;           /* sites tested: rows of some snapshot */
    /* Set by trend_decide: */
    double false_leak_rate;  /* family-wise, over family_sites */
    size_t family_sites;     /* the sites of every result decided together */
    size_t nleaks;
} trend_result;

/* The series and fits of the rows of snaps[0..n) (any order; peak
 * snapshots are left out, at least 3 must remain) grouped and filtered by
 * opts.  0; -1 with a message in err for input that cannot make a trend
 * (a snapshot without a time, two at the same time, several processes)
 * or when out of memory. */
int trend_compute(const snapshot *const *snaps, size_t n, intern *in, const agg_opts *opts,
                  trend_result *out, char *err, size_t errlen);
/* Which sites grow: Holm's procedure at false_leak_rate over the sites of
 * all the results together (one per process with --by-pid), a positive
 * slope and growth, and in exact mode rises in half of the steps.  Sorts
 * each result's sites.  0, or -1 when out of memory. */
int trend_decide(trend_result *results, size_t nresults, double false_leak_rate);
/* The snapshots of snaps[0..n) that are not peak snapshots. */
size_t trend_series_length(const snapshot *const *snaps, size_t n);
void trend_free(trend_result *r);

#endif
