/* CPython 3.11 (checked against 3.11.2 and 3.11.7 headers by tests/unit/test_pylayout_headers.c). */
#include "pylayout.h"

const mp_pylayout_t mp_pylayout_311 = {
    .minor = 11,
    /* tracemalloc 3.11 (Modules/_tracemalloc.c) walks PyGILState_GetThisThreadState(). */
    .tstate_source = MP_TSTATE_GILSTATE,
    .tstate_cframe = 56,
    .cframe_current_frame = 8,
    .tstate_current_frame = -1,
    .frame_code = 32,
    .code_tag_bits = 0,
    .frame_previous = 48,
    .frame_instr = 56,
    .frame_owner = 69,
    .frame_is_entry = 68,
    .cframe_previous = 16,
    .owner_generator = 1,
    /* 3.11 frames are owned by a thread, a generator or a frame object; entry frames are not
     * on the chain (they live in _PyCFrame). */
    .owner_shim = 256,
    .incomplete_rule = MP_INCOMPLETE_FIRSTTRACEABLE_311,
    .code_filename = 112,
    .code_qualname = 128,
    .code_firsttraceable = 168,
    .code_code_adaptive = 184,
    .object_type = 8,
    .type_flags = 168,
    .str_length = 16,
    .str_state = 32,
    .str_ascii_size = 48,
    .str_compact_size = 72,
    .str_data_any = 72,
    .str_kind_shift = 2,
    .str_compact_bit = 5,
    .str_ascii_bit = 6,
    .str_ready_bit = 7,
    MP_PYLAYOUT_NO_DEBUG_OFFSETS,
};
