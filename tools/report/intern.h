/* Interning of filenames, frames and stacks by content.
 *
 * One table is shared by every snapshot of a run, so ids are comparable
 * across the two snapshots of --diff.  Ids are dense (0, 1, 2, ...), which
 * lets the aggregation use plain arrays indexed by id instead of hashing. */
#ifndef MPROFILE_REPORT_INTERN_H
#define MPROFILE_REPORT_INTERN_H

#include <stddef.h>
#include <stdint.h>

typedef struct intern intern;

intern *intern_new(void);
void intern_free(intern *in);

/* Each returns the id (>= 0) or -1 when out of memory. */
int32_t intern_file(intern *in, const char *name, size_t len);
int32_t intern_frame(intern *in, int32_t file, int64_t lineno);
int32_t intern_stack(intern *in, const int32_t *frames, size_t nframes);

size_t intern_nfiles(const intern *in);
size_t intern_nframes(const intern *in);
size_t intern_nstacks(const intern *in);

const char *intern_file_name(const intern *in, int32_t file, size_t *len);
int32_t intern_frame_file(const intern *in, int32_t frame);
int64_t intern_frame_lineno(const intern *in, int32_t frame);
/* The function of a frame (metadata "frame_names"): its name and length, or NULL when no
 * snapshot named it. */
const char *intern_frame_name(const intern *in, int32_t frame, size_t *len);
/* Names frame's function.  Snapshots may name one frame differently (two functions on one
 * line, such as a function and a lambda in it): the name first in byte order stays, so the
 * answer does not depend on the order of the files.  0, or -1 when out of memory. */
int intern_set_frame_name(intern *in, int32_t frame, const char *name, size_t len);
/* Frames of a stack, most recent first (as in the snapshot). */
const int32_t *intern_stack_frames(const intern *in, int32_t stack, size_t *n);

/* Rank of each file in Python's str ordering (code point order, which is
 * byte order of UTF-8).  Valid until the next intern_file call. Returns
 * NULL when out of memory. */
const int32_t *intern_file_ranks(intern *in);

#endif
