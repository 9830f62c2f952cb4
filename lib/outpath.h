/*
 * Snapshot paths: whether snapshots can be written where an output pattern says, checked before
 * a program runs (the library's constructor, the launcher's validation of its options), and
 * the names made from a pattern.
 */
#ifndef MP_OUTPATH_H
#define MP_OUTPATH_H

#include <stddef.h>

/*
 * Constructor or tool: whether snapshots can be written where the pattern (already absolute)
 * says: the directory exists and is writable, and the path does not name a directory. Returns
 * 0, or -1 with a one-line message in err.
 */
int mp_outpath_check(const char *pattern, char *err, size_t err_size);

/*
 * Any context (pure): the name of snapshot number seq of process pid, made at Unix time time,
 * from an output pattern (mp_config_expand_path); with peak, of its peak companion: ".peak"
 * before the extension ("x.snap": "x.peak.snap"), or at the end when the name has none (a dot
 * that starts the name is not an extension). 0, or -1 when it does not fit.
 */
int mp_outpath_name(const char *pattern, long pid, unsigned long seq, long time, int peak,
                    char *out, size_t size);

/* Any context (pure): path's peak companion, as above. 0, or -1 when it does not fit. */
int mp_outpath_peak(const char *path, char *out, size_t size);

#endif
