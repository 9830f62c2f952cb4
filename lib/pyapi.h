/*
 * The interpreter's C API, found at run time with dlsym (the library never links libpython, so
 * it loads into any process and stays dormant where there is no Python), and the frame walker.
 */
#ifndef MP_PYAPI_H
#define MP_PYAPI_H

#include <stddef.h>
#include <stdint.h>

#include "pylayout.h"

/* PyMemAllocatorEx, a stable part of CPython's public C API. */
typedef struct {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} mp_allocator_t;

/* PyObjectArenaAllocator. */
typedef struct {
    void *ctx;
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr, size_t size);
} mp_arena_allocator_t;

/* PyMemAllocatorDomain */
enum { MP_DOMAIN_RAW = 0, MP_DOMAIN_MEM = 1, MP_DOMAIN_OBJ = 2, MP_DOMAINS = 3 };

typedef struct {
    unsigned long version; /* PY_VERSION_HEX of the running interpreter */
    const mp_pylayout_t *layout;

    void (*PyMem_GetAllocator)(int domain, mp_allocator_t *allocator);
    void (*PyMem_SetAllocator)(int domain, mp_allocator_t *allocator);
    void (*PyObject_GetArenaAllocator)(mp_arena_allocator_t *allocator);
    void (*PyObject_SetArenaAllocator)(mp_arena_allocator_t *allocator);
    int (*Py_IsInitialized)(void);
    const char *(*Py_GetVersion)(void);
    void *(*PyGILState_GetThisThreadState)(void);
    /* 3.13+: the thread state attached to this thread, NULL when detached (no check, no abort). */
    void *(*PyThreadState_GetUnchecked)(void);
    int (*PyCode_Addr2Line)(void *code, int byte_offset);
    int (*Py_AddPendingCall)(int (*func)(void *), void *arg);
    /* Non-NULL only while every domain holds a stock allocator (so our hooks were dropped). */
    const char *(*_PyMem_GetCurrentAllocatorName)(void);

    /* Used only from a pending call (main thread, GIL held) to register the exit dump. */
    void *(*PyImport_ImportModule)(const char *name);
    void *(*PyImport_GetModuleDict)(void);
    void *(*PyDict_GetItemString)(void *dict, const char *key);
    void *(*PyObject_GetAttrString)(void *obj, const char *name);
    void *(*PyCFunction_NewEx)(void *def, void *self, void *module);
    void *(*PyObject_CallFunctionObjArgs)(void *callable, ...);
    void (*Py_DecRef)(void *obj);
    void (*PyErr_Clear)(void);
    void (*Py_IncRef)(void *obj);
    void *Py_None;
    /* &PyCode_Type: frames whose code is anything else are skipped (3.13+ entry frames). */
    const void *PyCode_Type;
    /* Why the interpreter is MP_PYAPI_UNSUPPORTED (a static string), or NULL. */
    const char *unsupported_reason;
} mp_pyapi_t;

typedef enum {
    MP_PYAPI_OK = 0,
    MP_PYAPI_NO_PYTHON = 1,   /* not a Python process: stay dormant, silently */
    MP_PYAPI_UNSUPPORTED = 2, /* a Python the profiler cannot read: warn once, stay dormant */
} mp_pyapi_status_t;

/* Fills api from the running process. */
mp_pyapi_status_t mp_pyapi_resolve(mp_pyapi_t *api);

/* "3.11.2" from a PY_VERSION_HEX. */
void mp_pyapi_version_string(unsigned long version, char *buf, size_t size);

/* One frame found by the walk: its code object and the byte offset that tracemalloc asks
 * PyCode_Addr2Line about. The walk reads of the code object only what tells complete frames
 * apart: the caller resolves the line (mp_pyapi_code_line) and the file name
 * (mp_pyapi_filename) for the frames it has not seen, and may cache what it made of them. */
typedef struct {
    const void *code;
    int32_t offset;
    uint32_t group; /* mp_pyapi_walk_groups only: the C-level evaluation call it runs in */
} mp_pyframe_t;

/*
 * Walks the calling thread's Python frames, newest first, as tracemalloc does: incomplete
 * frames are skipped; the first max frames go into out. Returns the number of frames on the
 * stack (capped at 65535), and in *stored how many were written to out; 0 when the thread has
 * no Python frame. Reads memory only: no allocation, no lock, no reference count, nothing that
 * can run Python code, so it may run in any context where the thread's own frames are stable
 * (slow path, signal handler, _exit).
 */
int mp_pyapi_walk(const mp_pyapi_t *api, int max, mp_pyframe_t *out, int *stored);

/*
 * mp_pyapi_walk, and the C-level evaluation calls the stored frames run in (mixed stacks): each
 * stored frame's group is the index of its call, newest first, and anchors[g] is the address
 * of something the call keeps on its C stack (3.11: its _PyCFrame; 3.12+: its entry frame), or
 * 0 when unknown. Groups beyond max_groups get no anchor; *ngroups is the number of groups the
 * stored frames span (at most max_groups). Same contexts as the walk.
 */
int mp_pyapi_walk_groups(const mp_pyapi_t *api, int max, mp_pyframe_t *out, int *stored,
                         uintptr_t *anchors, int max_groups, int *ngroups);

/* The file name of a frame's code object as UTF-8: in place when ASCII, else converted into
 * scratch (cut at a character boundary when it does not fit). "<unknown>" when it is not a
 * ready str, as in tracemalloc. Same contexts as the walk. */
void mp_pyapi_filename(const mp_pyapi_t *api, const void *code, char *scratch,
                       size_t scratch_size, const char **name, size_t *len);

/* The function of a frame's code object, its co_qualname as UTF-8 (in place when ASCII, else
 * converted into scratch): 0, or -1 when it is not a ready str. Same contexts as the walk. */
int mp_pyapi_qualname(const mp_pyapi_t *api, const void *code, char *scratch,
                      size_t scratch_size, const char **name, size_t *len);

/* The line of a frame reported by the walk (PyCode_Addr2Line; 0 when unknown). Slow path. */
int mp_pyapi_code_line(const mp_pyapi_t *api, const void *code, int offset);

/* Where the calling thread's Python code is: its newest complete frame and that frame's
 * instruction pointer, both NULL without one. Any context (reads memory only). */
typedef struct {
    const void *frame;
    const void *instr;
} mp_pyapi_position_t;

mp_pyapi_position_t mp_pyapi_position(const mp_pyapi_t *api);

#endif
