/*
 * The names native frames get in a snapshot (mixed stacks), made when the snapshot is written
 * (docs/format.md, "Native frames"):
 *   "<native> FUNCTION (OBJECT)"  a function symbol of the object's file contains the call;
 *   "<native> OBJECT+0xOFFSET"    none does (no symbol table, a stripped static function);
 *   "<native> ??"                 the address was in no loaded object (generated code).
 * OBJECT is the base name of the object's path and OFFSET the return address in the file's
 * terms. Names come from the files on disk (elfsym.h), which outlive an unloaded object; a
 * file rebuilt since it was loaded (another build id) gives no names.
 */
#ifndef MP_NATIVE_NAMES_H
#define MP_NATIVE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "objects.h"
#include "stacks.h"

typedef struct mp_names_chunk mp_names_chunk_t;

typedef struct {
    const char **names; /* by frame id: a native frame's name, NUL-terminated; NULL otherwise */
    uint32_t nframes;
    mp_names_chunk_t *chunks;
} mp_native_names_t;

/*
 * Names the native frames among the first extent.frames frames, whose objects are among the
 * first nobjects of objects (both counts taken under the lock; those entries never change).
 * Returns 0 (release with mp_native_names_release, also after an error) or -ENOMEM. Dump
 * writer: profiler scratch memory and system calls only.
 */
int mp_native_names_make(mp_native_names_t *nn, const mp_stacks_t *stacks,
                         mp_stacks_extent_t extent, const mp_objects_t *objects,
                         uint32_t nobjects);
void mp_native_names_release(mp_native_names_t *nn);

/* The base name of an object's path. Any context. */
const char *mp_native_names_basename(const char *path);

#endif
