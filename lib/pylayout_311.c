/* CPython 3.11 (checked against 3.11.2 and 3.11.7 headers by tests/unit/test_pylayout.c). */
#include "pylayout.h"

const mp_pylayout_t mp_pylayout_311 = {
    .minor = 11,
    .tstate_cframe = 56,
    .cframe_current_frame = 8,
    .tstate_current_frame = -1,
    .frame_code = 32,
    .frame_previous = 48,
    .frame_instr = 56,
    .frame_owner = 69,
    .owner_generator = 1,
    .incomplete_rule = MP_INCOMPLETE_FIRSTTRACEABLE_311,
    .code_filename = 112,
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
};
