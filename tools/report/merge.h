/* Merging snapshots: several snapshots reported as one, as if their traces
 * had been dumped together (the workers of one server, say). */
#ifndef MPROFILE_REPORT_MERGE_H
#define MPROFILE_REPORT_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot_model.h"

/* Sums the per-stack (and per stack and domain) sums of inputs[0..n) into
 * out: sizes, trace counts, estimated counts and variances add, since the
 * snapshots of different processes are independent samples and each
 * weight is unbiased at its own sample rate.  out has no path and no
 * metadata; its sample_rate is the largest one (so it is sampled when any
 * input is), its traceback_limit the largest, it is mixed when an input is.
 * The inputs stay untouched.  0, or -1 when out of memory. */
int snapshot_merge(snapshot *out, const snapshot *const *inputs, size_t n, const intern *in);

/* The process of a snapshot: its metadata pid (an integer), or 0 with
 * *has set to 0 when it has none. */
int64_t snapshot_pid(const snapshot *snap, int *has);

#endif
