/*
 * The string table: file names copied out of the interpreter as UTF-8 and interned by content,
 * so snapshots never need the GIL or live Python objects, and a code object whose memory is
 * reused can never rename a frame. Strings never move and are never freed while the process
 * lives. Not thread-safe: callers hold the profiler's lock.
 */
#ifndef MP_STRTAB_H
#define MP_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "vec.h"

typedef struct {
    const char *data; /* NUL-terminated */
    uint32_t len;
} mp_str_t;

typedef struct mp_strtab_chunk mp_strtab_chunk_t;

typedef struct {
    mp_vec_t strings; /* of mp_str_t */
    mp_index_t index;
    mp_strtab_chunk_t *chunks;
    size_t chunk_used;
} mp_strtab_t;

void mp_strtab_init(mp_strtab_t *t);
void mp_strtab_destroy(mp_strtab_t *t);

/* Returns the id of the string (len bytes at s), adding it if new; -1 when out of memory. */
int64_t mp_strtab_intern(mp_strtab_t *t, const char *s, size_t len);

static inline const mp_str_t *
mp_strtab_get(const mp_strtab_t *t, uint32_t id)
{
    return mp_vec_at(&t->strings, id);
}

#endif
