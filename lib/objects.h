/*
 * The objects (the executable, shared libraries, the vDSO) loaded in the process, for native
 * frames (MPROFILE_STACKS=mixed). A native frame is recorded as (object, offset): it keeps its
 * meaning after the object is unloaded and another one takes its addresses, and it is named
 * from the object's file when a snapshot is written (elfsym.h), never at sample time. Objects
 * are numbered in the order they are first seen and never forgotten, so a snapshot names the
 * frames of a library unloaded before it.
 *
 * The list comes from dl_iterate_phdr, which takes a lock of the loader's: it is read outside
 * the profiler's lock (mp_objects_poll), and only when the loader's load and unload counters
 * moved, then applied under it (mp_objects_apply).
 */
#ifndef MP_OBJECTS_H
#define MP_OBJECTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "strtab.h"
#include "vec.h"

/* The object of an address that lies in none. */
#define MP_OBJECTS_NONE 0x7fffffffu
#define MP_BUILD_ID_MAX 32

typedef struct {
    uintptr_t bias;   /* dlpi_addr: an address minus bias is the address in the file's terms */
    uintptr_t lo, hi; /* the span of its executable segments */
    uint32_t path;    /* string id in mp_objects_t.paths */
    uint8_t build_id_len;
    uint8_t build_id[MP_BUILD_ID_MAX];
    uint8_t loaded;
} mp_object_t;

typedef struct {
    mp_strtab_t paths;
    mp_vec_t objects;      /* of mp_object_t, append-only: readers bound by a count */
    uint32_t *by_address;  /* ids of the loaded objects, by lo */
    uint32_t nloaded;
    uint32_t cap;
    _Atomic uint64_t adds; /* the loader's counters when the table was brought up to date */
    _Atomic uint64_t subs;
    /* An object was loaded over the addresses of an unloaded one that was not the same file
     * at the same place: return addresses seen before may now mean other code. */
    atomic_int reused;
} mp_objects_t;

/* One loaded object as dl_iterate_phdr listed it. */
typedef struct {
    uintptr_t bias, lo, hi;
    uint32_t name_at, name_len; /* in the scan's names */
    uint8_t build_id_len;
    uint8_t build_id[MP_BUILD_ID_MAX];
} mp_objects_entry_t;

typedef struct {
    uint64_t adds, subs;
    mp_objects_entry_t *entries;
    size_t n;
    char *names;
    void *mem; /* scratch memory holding entries and names */
    size_t mem_size;
} mp_objects_scan_t;

/* Constructor: an empty table, and the executable's path (its dl_iterate_phdr name is ""). */
void mp_objects_init(mp_objects_t *o);

/*
 * Slow path, without the profiler's lock: whether objects were loaded or unloaded since the
 * table was brought up to date. Returns 1 and fills scan (release it with
 * mp_objects_scan_release), 0 when nothing changed, -1 when out of memory.
 */
int mp_objects_poll(const mp_objects_t *o, mp_objects_scan_t *scan);
void mp_objects_scan_release(mp_objects_scan_t *scan);

/* Under the profiler's lock: brings the table up to date with a scan (an older scan than the
 * table's is ignored). Returns 0, or -1 when out of memory. */
int mp_objects_apply(mp_objects_t *o, const mp_objects_scan_t *scan);

/* Under the profiler's lock: the loaded object whose executable segments hold the instruction
 * at addr, or MP_OBJECTS_NONE. */
uint32_t mp_objects_find(const mp_objects_t *o, uintptr_t addr);

static inline const mp_object_t *
mp_objects_at(const mp_objects_t *o, uint32_t id)
{
    return mp_vec_at(&o->objects, id);
}

#endif
