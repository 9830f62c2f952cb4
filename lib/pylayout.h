/*
 * What the profiler knows of one CPython minor version's internal layout: where the newest
 * frame of a thread is, how frames chain, where a code object keeps its file name and line
 * table, and how a str stores its characters. The numbers are written in the project (one file
 * per version, pylayout_3XX.c) and checked against the real headers by tests/unit/test_pylayout.
 * An offset of -1 means "this version has no such field".
 */
#ifndef MP_PYLAYOUT_H
#define MP_PYLAYOUT_H

#include <stdint.h>

typedef enum {
    /* 3.11: complete unless owned by a thread or frame object and before _co_firsttraceable. */
    MP_INCOMPLETE_FIRSTTRACEABLE_311,
} mp_incomplete_rule_t;

typedef struct {
    unsigned minor; /* 11 for 3.11 */

    /* PyThreadState -> newest _PyInterpreterFrame */
    int tstate_cframe;        /* offset of the _PyCFrame pointer, or -1 */
    int cframe_current_frame; /* offset of current_frame in _PyCFrame */
    int tstate_current_frame; /* offset of current_frame in PyThreadState, or -1 */

    /* _PyInterpreterFrame */
    int frame_code;        /* f_code / f_executable */
    int frame_previous;    /* previous */
    int frame_instr;       /* prev_instr (3.11, 3.12) or instr_ptr (3.13+) */
    int frame_owner;       /* owner (one byte) */
    int owner_generator;   /* FRAME_OWNED_BY_GENERATOR */
    mp_incomplete_rule_t incomplete_rule;

    /* PyCodeObject */
    int code_filename;
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
} mp_pylayout_t;

/* The layout for a PY_VERSION_HEX, or NULL when the version is not supported. */
const mp_pylayout_t *mp_pylayout_for(unsigned long version_hex);

extern const mp_pylayout_t mp_pylayout_311;

#endif
