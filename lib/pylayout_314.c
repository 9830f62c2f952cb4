/* CPython 3.14, builds with the GIL (checked against Debian's 3.14 headers by
 * tests/unit/test_pylayout_headers.c, and at load time against _Py_DebugOffsets). */
#include "pylayout.h"

const mp_pylayout_t mp_pylayout_314 = {
    .minor = 14,
    /* tracemalloc walks _PyThreadState_GET(), the attached thread state, from 3.14 on. */
    .tstate_source = MP_TSTATE_ATTACHED,
    .tstate_cframe = -1,
    .cframe_current_frame = -1,
    .tstate_current_frame = 72,
    .frame_code = 0,
    /* f_executable is a _PyStackRef: Py_TAG_BITS is 3 in default builds, and code objects
     * are at least 8-aligned, so clearing both bits gives the object. */
    .code_tag_bits = 3,
    .frame_previous = 8,
    .frame_instr = 56, /* instr_ptr */
    .frame_owner = 74, /* after stackpointer and return_offset (no tlbc_index with the GIL) */
    .frame_is_entry = -1,
    .cframe_previous = -1,
    .owner_generator = 1,
    /* _PyFrame_IsIncomplete: owner >= FRAME_OWNED_BY_INTERPRETER, which covers
     * FRAME_OWNED_BY_INTERPRETER (3) and FRAME_OWNED_BY_CSTACK (4). */
    .owner_shim = 3,
    .incomplete_rule = MP_INCOMPLETE_SHIM_OR_FIRSTTRACEABLE,
    .code_filename = 112,
    .code_qualname = 128,
    .code_firsttraceable = 192,
    .code_code_adaptive = 208, /* _PyFrame_GetBytecode is co_code_adaptive with the GIL */
    .object_type = 8,
    .type_flags = 168,
    .str_length = 16,
    .str_state = 32,
    .str_ascii_size = 40,
    .str_compact_size = 56,
    .str_data_any = 56,
    .str_kind_shift = 2, /* free-threaded builds widen "interned"; they are not supported */
    .str_compact_bit = 5,
    .str_ascii_bit = 6,
    .str_ready_bit = -1,
    /* Positions in the 3.14 _Py_DebugOffsets (internal/pycore_debug_offsets.h). */
    .dbg_version = 8,
    .dbg_free_threaded = 16,
    .dbg_tstate_current_frame = 208,
    .dbg_frame_previous = 256,
    .dbg_frame_code = 264,
    .dbg_frame_instr = 272,
    .dbg_frame_owner = 288,
    .dbg_code_filename = 320,
    .dbg_code_qualname = 336,
    .dbg_code_code_adaptive = 384,
    .dbg_object_type = 408,
    .dbg_type_flags = 440,
    .dbg_str_length = 632,
    .dbg_str_state = 624,
    .dbg_str_ascii_size = 640,
};
