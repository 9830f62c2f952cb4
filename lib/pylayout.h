/*
 * What the profiler knows of one CPython minor version's internal layout: where the newest
 * frame of a thread is, how frames chain, where a code object keeps its file name and line
 * table, and how a str stores its characters. The numbers are written in the project (one file
 * per version, pylayout_3XX.c) because the library is built where only one version's headers
 * may be installed; tests/unit/test_pylayout_headers.c checks them against each version's real
 * headers when those are installed, and for 3.13+ the library also compares them at load time
 * with the interpreter's own _Py_DebugOffsets.
 * An offset of -1 means "this version has no such field".
 */
#ifndef MP_PYLAYOUT_H
#define MP_PYLAYOUT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    /* 3.11: complete unless owned by a thread or frame object and before _co_firsttraceable. */
    MP_INCOMPLETE_FIRSTTRACEABLE_311,
    /* 3.12+: as 3.11, and frames whose owner is >= owner_shim (the C-stack entry frames of
     * 3.12/3.13, the interpreter- and C-stack-owned frames of 3.14+) are never complete. */
    MP_INCOMPLETE_SHIM_OR_FIRSTTRACEABLE,
} mp_incomplete_rule_t;

/* Which thread state tracemalloc walks in this version (docs/compatibility.md). */
typedef enum {
    /* PyGILState_GetThisThreadState(): this thread's own state, attached or not (3.11-3.13). */
    MP_TSTATE_GILSTATE,
    /* PyThreadState_GetUnchecked(): the attached state (3.14+); PyGILState_GetThisThreadState()
     * when the thread is detached, which is the state tracemalloc's RAW hook attaches. */
    MP_TSTATE_ATTACHED,
} mp_tstate_source_t;

typedef struct {
    unsigned minor; /* 11 for 3.11 */
    mp_tstate_source_t tstate_source;

    /* PyThreadState -> newest _PyInterpreterFrame */
    int tstate_cframe;        /* offset of the _PyCFrame pointer, or -1 */
    int cframe_current_frame; /* offset of current_frame in _PyCFrame */
    int tstate_current_frame; /* offset of current_frame in PyThreadState, or -1 */

    /* _PyInterpreterFrame */
    int frame_code;        /* f_code / f_executable */
    uintptr_t code_tag_bits; /* 3.14+: f_executable is a _PyStackRef; these low bits are tags */
    int frame_previous;    /* previous */
    int frame_instr;       /* prev_instr (3.11, 3.12) or instr_ptr (3.13+) */
    int frame_owner;       /* owner (one byte) */
    /* Where one C-level call of the evaluation loop ends in the frame chain (mixed stacks):
     * 3.11 marks the oldest frame of each call with is_entry, and each call keeps a _PyCFrame
     * on its C stack, chained from the thread state; 3.12+ push an entry frame (owner >=
     * owner_shim) on the C stack below the call's oldest frame. -1 where a field is absent. */
    int frame_is_entry;    /* 3.11: is_entry (one byte) */
    int cframe_previous;   /* 3.11: previous in _PyCFrame */
    int owner_generator;   /* FRAME_OWNED_BY_GENERATOR */
    int owner_shim;        /* lowest owner value of frames that are never complete, or 256 */
    mp_incomplete_rule_t incomplete_rule;

    /* PyCodeObject */
    int code_filename;
    int code_qualname;
    int code_firsttraceable;
    int code_code_adaptive;

    /* PyObject, PyTypeObject */
    int object_type;
    int type_flags;

    /* str */
    int str_length;
    int str_state;
    int str_ascii_size;   /* sizeof(PyASCIIObject): ASCII characters follow it */
    int str_compact_size; /* sizeof(PyCompactUnicodeObject): other compact data follows it */
    int str_data_any;     /* PyUnicodeObject.data.any, for non-compact strings */
    int str_kind_shift;   /* state bit field positions */
    int str_compact_bit;
    int str_ascii_bit;
    int str_ready_bit; /* -1 when strings are always ready (3.12+) */

    /*
     * 3.13+: byte positions, inside _Py_DebugOffsets (the first member of _PyRuntime), of the
     * uint64_t values that must equal the offsets above; -1 when the version has none.
     */
    int dbg_version;
    int dbg_free_threaded;
    int dbg_tstate_current_frame;
    int dbg_frame_previous;
    int dbg_frame_code;
    int dbg_frame_instr;
    int dbg_frame_owner;
    int dbg_code_filename;
    int dbg_code_qualname;
    int dbg_code_code_adaptive;
    int dbg_object_type;
    int dbg_type_flags;
    int dbg_str_length;
    int dbg_str_state;
    int dbg_str_ascii_size;
} mp_pylayout_t;

/* The layout for a PY_VERSION_HEX, or NULL when the version is not supported. */
const mp_pylayout_t *mp_pylayout_for(unsigned long version_hex);

/*
 * Compares a 3.13+ layout with the _Py_DebugOffsets at debug_offsets (the address of
 * _PyRuntime), for an interpreter whose Py_Version is version_hex. Returns 0 when they agree
 * (or the version has no debug offsets), -1 with a reason in why otherwise: wrong cookie,
 * another minor version, a free-threaded build, or any offset the walker uses that differs.
 */
int mp_pylayout_check_debug_offsets(const mp_pylayout_t *L, const void *debug_offsets,
                                    unsigned long version_hex, char *why, size_t why_size);

extern const mp_pylayout_t mp_pylayout_311;
extern const mp_pylayout_t mp_pylayout_312;
extern const mp_pylayout_t mp_pylayout_313;
extern const mp_pylayout_t mp_pylayout_314;
extern const mp_pylayout_t mp_pylayout_315;

/* No _Py_DebugOffsets in this version (3.11, 3.12). */
#define MP_PYLAYOUT_NO_DEBUG_OFFSETS                                                           \
    .dbg_version = -1, .dbg_free_threaded = -1, .dbg_tstate_current_frame = -1,                \
    .dbg_frame_previous = -1, .dbg_frame_code = -1, .dbg_frame_instr = -1,                     \
    .dbg_frame_owner = -1, .dbg_code_filename = -1, .dbg_code_qualname = -1,                    \
    .dbg_code_code_adaptive = -1,                                                              \
    .dbg_object_type = -1, .dbg_type_flags = -1, .dbg_str_length = -1, .dbg_str_state = -1,    \
    .dbg_str_ascii_size = -1

#endif
