/*
 * Interned stacks. A frame is (file name id, line); a stack is a node of a trie whose root is
 * the empty stack and whose edges go from older to newer frames, so stacks that share their
 * outer frames share storage, and a sampled block stores one 32-bit node id. Frames and nodes
 * never move (see vec.h). Not thread-safe: callers hold the profiler's lock.
 */
#ifndef MP_STACKS_H
#define MP_STACKS_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "strtab.h"
#include "vec.h"

#define MP_STACKS_ROOT 0u

/* A native frame (mixed stacks) has this bit in its filename: the other bits are an object id
 * (objects.h), and its lineno is the offset of the return address in that object's terms. */
#define MP_FRAME_NATIVE 0x80000000u

/* The deepest stack: MPROFILE_MAX_FRAMES Python frames and MP_MAX_NATIVE_FRAMES native ones
 * (profiler.c checks both), with room to spare. */
#define MP_STACK_MAX_DEPTH 65792

typedef struct {
    uint32_t filename; /* string id */
    uint32_t lineno;
    /* String id + 1 of the function (co_qualname) of a Python frame; 0 while unknown. Not part
     * of the frame's identity: it is set after the frame exists, under the lock, and read by
     * snapshot writers without it (mp_stacks_frame_name). */
    uint32_t name;
} mp_frame_t;

typedef struct {
    uint32_t parent; /* node id of the stack without its newest frame */
    uint32_t frame;  /* frame id of the newest frame */
    uint32_t depth;  /* number of frames; 0 for the root */
} mp_node_t;

typedef struct {
    mp_strtab_t strings;
    mp_vec_t frames; /* of mp_frame_t */
    mp_index_t frame_index;
    mp_vec_t nodes; /* of mp_node_t */
    mp_index_t node_index;

    /* The nodes of the last stack are reused for the oldest frames the next stack shares with
     * it (nodes are never removed, so ids stay good). Frame lookups need no cache here: the
     * profiler's frame cache (framecache.h) answers for the frames it has seen. */
    uint32_t *last_frames;       /* the last stack interned, oldest frame first */
    uint32_t *last_nodes;        /* last_nodes[k]: node of its k + 1 oldest frames */
    uint32_t last_n;             /* valid entries in both */
    uint32_t last_cap;
} mp_stacks_t;

/* Returns 0, or -1 when out of memory. */
int mp_stacks_init(mp_stacks_t *s);
void mp_stacks_destroy(mp_stacks_t *s);

/* Id of the frame (filename of len bytes, lineno), added if new; -1 when out of memory. */
int64_t mp_stacks_frame(mp_stacks_t *s, const char *filename, size_t len, uint32_t lineno);

/*
 * Names the function of frame (a Python frame): name of len bytes. Several code objects can
 * share a file and line (a function and a lambda in it), which makes them one frame: the name
 * first in byte order stays, so the result does not depend on which ran first. 0, or -1 when out
 * of memory (the frame keeps its name).
 */
int mp_stacks_name_frame(mp_stacks_t *s, uint32_t frame, const char *name, size_t len);

/* The string id of frame's function, or -1 while unknown. Any context: the value is read
 * atomically, and a reader without the lock must check that the id is below its extent. */
static inline int64_t
mp_stacks_frame_name(const mp_stacks_t *s, uint32_t frame)
{
    const mp_frame_t *f = mp_vec_at(&s->frames, frame);
    return (int64_t)__atomic_load_n(&f->name, __ATOMIC_ACQUIRE) - 1;
}

/* Id of the native frame (object, offset), added if new; -1 when out of memory. */
int64_t mp_stacks_native_frame(mp_stacks_t *s, uint32_t object, uint32_t offset);

/* Node of the stack frames[0..n-1], newest frame first; -1 when out of memory. */
int64_t mp_stacks_intern(mp_stacks_t *s, const uint32_t *frames, uint32_t n);

static inline const mp_node_t *
mp_stacks_node(const mp_stacks_t *s, uint32_t node)
{
    return mp_vec_at(&s->nodes, node);
}

static inline const mp_frame_t *
mp_stacks_frame_at(const mp_stacks_t *s, uint32_t frame)
{
    return mp_vec_at(&s->frames, frame);
}

/* How many strings, frames and nodes exist: taken under the lock, it bounds what a reader
 * without the lock may look at (those entries never change). */
typedef struct {
    uint32_t strings;
    uint32_t frames;
    uint32_t nodes;
} mp_stacks_extent_t;

mp_stacks_extent_t mp_stacks_extent(const mp_stacks_t *s);

#endif
