/* CPython 3.12 (checked against 3.12.1 headers by tests/unit/test_pylayout_headers.c). */
#include "pylayout.h"

const mp_pylayout_t mp_pylayout_312 = {
    .minor = 12,
    /* tracemalloc 3.12 (Python/tracemalloc.c, traceback_get_frames) still walks
     * PyGILState_GetThisThreadState(). */
    .tstate_source = MP_TSTATE_GILSTATE,
    .tstate_cframe = 56,
    .cframe_current_frame = 0, /* _PyCFrame lost use_tracing: current_frame comes first */
    .tstate_current_frame = -1,
    .frame_code = 0, /* f_code moved to the front of _PyInterpreterFrame */
    .code_tag_bits = 0,
    .frame_previous = 8,
    .frame_instr = 56, /* prev_instr, as in 3.11 */
    .frame_owner = 70, /* after stacktop and the new uint16_t return_offset */
    .frame_is_entry = -1,
    .cframe_previous = -1,
    .owner_generator = 1,
    /* FRAME_OWNED_BY_CSTACK: the entry frame _PyEval_EvalFrameDefault pushes, running the
     * interpreter trampoline. Its prev_instr sits before the trampoline's RESUME, so the
     * _co_firsttraceable rule already skips it; the owner test says so directly. */
    .owner_shim = 3,
    .incomplete_rule = MP_INCOMPLETE_SHIM_OR_FIRSTTRACEABLE,
    .code_filename = 112,
    .code_qualname = 128,
    .code_firsttraceable = 176,
    .code_code_adaptive = 192,
    .object_type = 8,
    .type_flags = 168,
    .str_length = 16,
    .str_state = 32,
    .str_ascii_size = 40,   /* no wstr any more */
    .str_compact_size = 56, /* no wstr_length any more */
    .str_data_any = 56,
    .str_kind_shift = 2,
    .str_compact_bit = 5,
    .str_ascii_bit = 6,
    .str_ready_bit = -1, /* strings are always ready; bit 7 is now statically_allocated */
    MP_PYLAYOUT_NO_DEBUG_OFFSETS,
};
