/*
 * A streaming writer for the subset of pickle protocol 4 that snapshots need. Output goes to a
 * file descriptor through a fixed buffer, or into a growing memory buffer. Errors are sticky:
 * after the first failure every call does nothing and mp_pickle_finish() reports it, so callers
 * write a whole document and check once. A file sink allocates nothing but its buffer, from the
 * profiler's own memory, and only calls write(2): it may run in any context.
 */
#ifndef MP_PICKLE_H
#define MP_PICKLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int fd;         /* -1: memory sink */
    char *buf;      /* owned: scratch memory (alloc.h) for a file, libc memory for a memory sink */
    size_t len;
    size_t cap;
    int error;      /* 0 or a positive errno */
    uint32_t memo;  /* next memo index */
} mp_pickle_t;

/* fd >= 0 writes there; fd < 0 collects the bytes in memory. Returns 0 or -errno. */
int mp_pickle_open(mp_pickle_t *p, int fd);

/* Writes STOP and flushes. Returns 0 or -errno. For a memory sink, *out and *len receive the
 * bytes (caller frees *out with free()); otherwise they may be NULL. */
int mp_pickle_finish(mp_pickle_t *p, void **out, size_t *len);

/* Releases the buffer without writing more (after an error). */
void mp_pickle_discard(mp_pickle_t *p);

void mp_pickle_global(mp_pickle_t *p, const char *module, const char *name);
void mp_pickle_int(mp_pickle_t *p, int64_t v);
void mp_pickle_uint(mp_pickle_t *p, uint64_t v);
void mp_pickle_float(mp_pickle_t *p, double v);
void mp_pickle_str(mp_pickle_t *p, const char *s, size_t len);
void mp_pickle_cstr(mp_pickle_t *p, const char *s);
void mp_pickle_none(mp_pickle_t *p);
void mp_pickle_bool(mp_pickle_t *p, int v);

/* Single-byte opcodes, named as in Lib/pickle.py. */
#define MP_PICKLE_MARK        '('
#define MP_PICKLE_EMPTY_TUPLE ')'
#define MP_PICKLE_EMPTY_LIST  ']'
#define MP_PICKLE_EMPTY_DICT  '}'
#define MP_PICKLE_APPENDS     'e'
#define MP_PICKLE_SETITEM     's'
#define MP_PICKLE_SETITEMS    'u'
#define MP_PICKLE_TUPLE       't'
#define MP_PICKLE_TUPLE1      '\x85'
#define MP_PICKLE_TUPLE2      '\x86'
#define MP_PICKLE_TUPLE3      '\x87'
#define MP_PICKLE_NEWOBJ      '\x81'
#define MP_PICKLE_BUILD       'b'

void mp_pickle_op(mp_pickle_t *p, char opcode);

/* A tuple of the n items on top of the stack (after a MARK when n > 3). */
void mp_pickle_tuple(mp_pickle_t *p, unsigned n);

/* Memoizes the object on top of the stack; returns its memo index. */
uint32_t mp_pickle_memoize(mp_pickle_t *p);

/* Pushes the memoized object with that index. */
void mp_pickle_get(mp_pickle_t *p, uint32_t index);

#endif
