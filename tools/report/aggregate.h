/* Grouping of per-stack sums into report rows, with tracemalloc's exact
 * semantics for key types, cumulative mode, filters and ordering. */
#ifndef MPROFILE_REPORT_AGGREGATE_H
#define MPROFILE_REPORT_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "intern.h"
#include "match.h"
#include "snapshot_model.h"

typedef enum { GROUP_LINENO, GROUP_FILENAME, GROUP_TRACEBACK } group_by;

typedef struct report_filter {
    glob_pattern *glob;
    int inclusive;
} report_filter;

typedef struct agg_opts {
    group_by group;
    int cumulative;
    int all_frames;
    const report_filter *filters;
    size_t nfilters;
} agg_opts;

typedef struct row {
    /* GROUP_LINENO: frame id; GROUP_FILENAME: file id; GROUP_TRACEBACK:
     * stack id.  A trace without frames is keyed as "<unknown>", line 0. */
    int32_t key;
    int64_t size;
    double count;
    double var;
    int64_t size_diff;  /* --diff only: size - old size */
    double count_diff;  /* --diff only */
} row;

/* Rows of one snapshot, in Snapshot.statistics() order. */
int aggregate_rows(const snapshot *snap, intern *in, const agg_opts *opts, row **rows, size_t *n);
/* Rows of new against old, in Snapshot.compare_to() order. */
int aggregate_diff(const snapshot *old_snap, const snapshot *new_snap, intern *in,
                   const agg_opts *opts, row **rows, size_t *n);
/* Per-stack pass/fail of the filters for the stacks of snap: out[stack]
 * for every stack id < intern_nstacks.  Caller frees. */
int aggregate_stack_filter(const snapshot *snap, intern *in, const agg_opts *opts, uint8_t **out);

/* Frames of a row's key, OLDEST first (tracemalloc's Traceback order);
 * for lineno/filename keys a single frame.  Sets file and lineno of frame i. */
size_t row_nframes(const intern *in, group_by g, const row *r);
void row_frame(const intern *in, group_by g, const row *r, size_t i, int32_t *file, int64_t *lineno);

/* Compare two stacks root first (for collapsed output). */
int aggregate_compare_stacks_root_first(intern *in, int32_t a, int32_t b);

#endif
