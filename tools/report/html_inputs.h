/* The inputs of the HTML report besides its snapshot: the peak companion
 * (docs/format.md "Peak snapshots") and the snapshots of --timeline. */
#ifndef MPROFILE_REPORT_HTML_INPUTS_H
#define MPROFILE_REPORT_HTML_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot_model.h"

/* The name of path's peak companion, as libmprofile makes it: ".peak"
 * before the extension of the last component (a dot that starts the name
 * is not one), or at the end.  Caller frees; NULL when out of memory. */
char *html_peak_companion(const char *path);

/* One point of the plotted timeline.  Points of a snapshot's own
 * (time, live_bytes) have no peak and RSS (has_detail 0). */
typedef struct series_point {
    double time;
    int64_t live_bytes, peak_bytes, rss_bytes;
    int has_detail;
} series_point;

/* A snapshot of --timeline: its time, its live bytes (metadata live_bytes,
 * else the sum of its traces) and its file. */
typedef struct series_snapshot {
    double time;
    int64_t live_bytes;
    const char *path; /* borrowed from the snapshot */
    const snapshot *snap;
} series_snapshot;

typedef struct timeline_series {
    series_point *points; /* by time, duplicates removed */
    size_t npoints;
    series_snapshot *snaps; /* by time */
    size_t nsnaps;
} timeline_series;

/* --timeline: the time, live bytes and embedded timeline of each of the n
 * snapshots.  A snapshot without a numeric "time" is an error: the plot is
 * ordered by it.  On failure formats the message into msg and returns -1.
 * timeline_series_free in every case. */
int timeline_series_build(timeline_series *ts, const snapshot *const *snaps, size_t n, char *msg,
                          size_t msglen);
void timeline_series_free(timeline_series *ts);

#endif
