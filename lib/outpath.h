/*
 * Whether snapshots can be written where an output pattern says, checked before a program runs
 * (the library's constructor, the launcher's validation of its options).
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

#endif
