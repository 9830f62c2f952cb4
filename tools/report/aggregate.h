/* Grouping of per-stack sums into report rows, with tracemalloc's exact
 * semantics for key types, cumulative mode, filters and ordering. */
#ifndef MPROFILE_REPORT_AGGREGATE_H
#define MPROFILE_REPORT_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "domain.h"
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
    /* Each distinct key of a trace's stack once: a recursive function's
     * frame counts once per trace, so no row exceeds the total. */
    int inclusive;
    int all_frames;
    const report_filter *filters;
    size_t nfilters;
    /* --domain / --exclude-domain, applied before everything else. */
    const domain_spec *domains;
    size_t ndomains;
} agg_opts;

typedef struct row {
    /* GROUP_LINENO: frame id; GROUP_FILENAME: file id; GROUP_TRACEBACK:
     * stack id.  A trace without frames is keyed as "<unknown>", line 0. */
    int32_t key;
    /* The traces of the row come from several domains (with --diff: of
     * either snapshot); otherwise all of them are in domain. */
    int32_t mixed;
    int64_t domain;
    int64_t size;
    double count;
    double var;
    int64_t size_diff;  /* --diff only: size - old size */
    double count_diff;  /* --diff only */
} row;

/* The per-stack sums of the traces of a snapshot whose domain passes the
 * domain filters, and the domain of each stack's traces. */
typedef struct acc_view {
    const stack_acc *acc; /* indexed by stack id */
    size_t nacc;
    int64_t uniform;   /* with dom NULL: the domain of every trace */
    int64_t *dom;      /* per stack: the domain of its traces, unless mixed */
    uint8_t *mixed;    /* per stack: its traces come from several domains */
    stack_acc *owned;  /* acc, when built for the view */
} acc_view;

int aggregate_view(const snapshot *snap, const agg_opts *opts, acc_view *v);
void aggregate_view_free(acc_view *v);

/* Rows of one snapshot, in Snapshot.statistics() order. */
int aggregate_rows(const snapshot *snap, intern *in, const agg_opts *opts, row **rows, size_t *n);
/* Rows of new against old, in Snapshot.compare_to() order. */
int aggregate_diff(const snapshot *old_snap, const snapshot *new_snap, intern *in,
                   const agg_opts *opts, row **rows, size_t *n);
/* Per-stack pass/fail of the filters for the stacks of snap: out[stack]
 * for every stack id < intern_nstacks.  Caller frees. */
int aggregate_stack_filter(const snapshot *snap, intern *in, const agg_opts *opts, uint8_t **out);

/* The domains of the mixed rows among rows[0..n) (computed from their
 * keys, snap and old_snap, NULL without --diff): those of row i are
 * (*doms)[(*begin)[i] .. (*begin)[i + 1]), ascending; the range is empty
 * for a row of a single domain (row.domain).  Caller frees both. */
int aggregate_row_domains(const snapshot *snap, const snapshot *old_snap, intern *in,
                          const agg_opts *opts, const row *rows, size_t n, int64_t **doms,
                          size_t **begin);

/* Frames of a row's key, OLDEST first (tracemalloc's Traceback order);
 * for lineno/filename keys a single frame.  Sets file and lineno of frame i. */
size_t row_nframes(const intern *in, group_by g, const row *r);
void row_frame(const intern *in, group_by g, const row *r, size_t i, int32_t *file, int64_t *lineno);
/* The frame id of frame i of a row's key (same order as row_frame), or -1
 * for a filename key, which is a file and names no function, and for an
 * empty traceback (printed as "<unknown>:0"). */
int32_t row_frame_id(const intern *in, group_by g, const row *r, size_t i);

/* Compare two stacks root first (for collapsed output). */
int aggregate_compare_stacks_root_first(intern *in, int32_t a, int32_t b);

#endif
