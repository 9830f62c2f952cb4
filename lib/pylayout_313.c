/* CPython 3.13 (checked against 3.13.0 headers by tests/unit/test_pylayout_headers.c, and at
 * load time against the interpreter's _Py_DebugOffsets). */
#include "pylayout.h"

const mp_pylayout_t mp_pylayout_313 = {
    .minor = 13,
    /* tracemalloc 3.13 (Python/tracemalloc.c, traceback_get_frames) still walks
     * PyGILState_GetThisThreadState(). */
    .tstate_source = MP_TSTATE_GILSTATE,
    .tstate_cframe = -1, /* _PyCFrame is gone */
    .cframe_current_frame = -1,
    .tstate_current_frame = 72,
    .frame_code = 0, /* f_executable: a code object, or None in C-stack entry frames */
    .code_tag_bits = 0,
    .frame_previous = 8,
    .frame_instr = 56, /* instr_ptr: the instruction being executed, not the one before */
    .frame_owner = 70,
    .frame_is_entry = -1,
    .cframe_previous = -1,
    .owner_generator = 1,
    /* _PyFrame_IsIncomplete returns true for FRAME_OWNED_BY_CSTACK before looking at the code
     * (f_executable is None there). */
    .owner_shim = 3,
    .incomplete_rule = MP_INCOMPLETE_SHIM_OR_FIRSTTRACEABLE,
    .code_filename = 112,
    .code_qualname = 128,
    .code_firsttraceable = 184,
    .code_code_adaptive = 200,
    .object_type = 8,
    .type_flags = 168,
    .str_length = 16,
    .str_state = 32,
    .str_ascii_size = 40,
    .str_compact_size = 56,
    .str_data_any = 56,
    .str_kind_shift = 2,
    .str_compact_bit = 5,
    .str_ascii_bit = 6,
    .str_ready_bit = -1,
    /* Positions in the 3.13 _Py_DebugOffsets (internal/pycore_runtime.h). */
    .dbg_version = 8,
    .dbg_free_threaded = 16,
    .dbg_tstate_current_frame = 184,
    .dbg_frame_previous = 232,
    .dbg_frame_code = 240,
    .dbg_frame_instr = 248,
    .dbg_frame_owner = 264,
    .dbg_code_filename = 280,
    .dbg_code_qualname = 296,
    .dbg_code_code_adaptive = 344,
    .dbg_object_type = 360,
    .dbg_type_flags = 392,
    .dbg_str_length = 552,
    .dbg_str_state = 544,
    .dbg_str_ascii_size = 560,
};
