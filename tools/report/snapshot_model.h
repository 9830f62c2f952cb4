/* A loaded snapshot, reduced to what the reports need: metadata and, per
 * distinct stack, the sums over its traces.  Traces themselves are not
 * kept: every report (grouping, filters, cumulative, diff, collapsed) is a
 * function of these per-stack sums, which is what makes huge snapshots
 * cheap. */
#ifndef MPROFILE_REPORT_SNAPSHOT_MODEL_H
#define MPROFILE_REPORT_SNAPSHOT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "intern.h"

typedef struct stack_acc {
    int64_t size;   /* sum of recorded sizes (estimated bytes when sampled) */
    int64_t traces; /* number of traces */
    double count;   /* estimated allocations (= traces when exact) */
    double var;     /* variance of the size estimate (0 when exact) */
} stack_acc;

enum meta_kind { META_INT, META_FLOAT, META_STR, META_BOOL, META_NONE };

typedef struct meta_entry {
    char *key;
    int kind;
    int64_t i;
    double f;
    char *s; /* META_STR: NUL-terminated copy (may contain no NUL) */
    size_t slen;
} meta_entry;

typedef struct snapshot {
    char *path;
    int64_t traceback_limit;
    int has_traceback_limit;
    int64_t sample_rate; /* 1 when absent */
    meta_entry *meta;    /* every scalar key of the state besides traces */
    size_t nmeta;
    size_t ntraces;
    stack_acc *acc; /* indexed by stack id; nacc may be < intern_nstacks */
    size_t nacc;
} snapshot;

typedef struct snapshot_error {
    size_t offset;
    char message[200];
} snapshot_error;

/* Build a snapshot from a pickle held in memory. Returns 0 or -1. */
int snapshot_from_buffer(snapshot *snap, intern *in, const uint8_t *data, size_t len,
                         int release_consumed, snapshot_error *err);
/* Load a file (mapped read-only).  On failure formats the complete
 * "FILE: offset N: message" text into msg. */
int snapshot_load_file(snapshot *snap, intern *in, const char *path, char *msg, size_t msglen);
void snapshot_free(snapshot *snap);

const meta_entry *snapshot_meta(const snapshot *snap, const char *key);
int snapshot_is_sampled(const snapshot *snap);
/* Totals over all stacks. */
void snapshot_totals(const snapshot *snap, int64_t *size, double *count, double *var);

#endif
