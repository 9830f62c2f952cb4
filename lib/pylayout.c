#include "pylayout.h"

#include <stdio.h>
#include <string.h>

const mp_pylayout_t *
mp_pylayout_for(unsigned long version_hex)
{
    unsigned major = (unsigned)(version_hex >> 24) & 0xff;
    unsigned minor = (unsigned)(version_hex >> 16) & 0xff;
    if (major != 3) {
        return NULL;
    }
    switch (minor) {
    case 11:
        return &mp_pylayout_311;
    case 12:
        return &mp_pylayout_312;
    case 13:
        return &mp_pylayout_313;
    case 14:
        return &mp_pylayout_314;
    case 15:
        return &mp_pylayout_315;
    default:
        return NULL;
    }
}

static uint64_t
u64_at(const void *base, int pos)
{
    uint64_t v;
    memcpy(&v, (const char *)base + pos, sizeof(v));
    return v;
}

int
mp_pylayout_check_debug_offsets(const mp_pylayout_t *L, const void *debug_offsets,
                                unsigned long version_hex, char *why, size_t why_size)
{
    if (L->dbg_version < 0) {
        return 0;
    }
    if (debug_offsets == NULL) {
        snprintf(why, why_size, "_PyRuntime not found");
        return -1;
    }
    if (memcmp(debug_offsets, "xdebugpy", 8) != 0) {
        snprintf(why, why_size, "_Py_DebugOffsets cookie missing");
        return -1;
    }
    uint64_t built = u64_at(debug_offsets, L->dbg_version);
    if ((built >> 16) != (version_hex >> 16)) {
        snprintf(why, why_size, "_Py_DebugOffsets version %#llx does not match Py_Version %#lx",
                 (unsigned long long)built, version_hex);
        return -1;
    }
    if (u64_at(debug_offsets, L->dbg_free_threaded) != 0) {
        snprintf(why, why_size, "free-threaded build");
        return -1;
    }
    /* Every offset the walker reads and the debug offsets also describe. */
    static const struct {
        const char *name;
        size_t value; /* offsetof(mp_pylayout_t, the offset) */
        size_t pos;   /* offsetof(mp_pylayout_t, its position in _Py_DebugOffsets) */
    } checks[] = {
#define CHECK(field) {#field, offsetof(mp_pylayout_t, field), offsetof(mp_pylayout_t, dbg_##field)}
        CHECK(tstate_current_frame), CHECK(frame_previous), CHECK(frame_code),
        CHECK(frame_instr),          CHECK(frame_owner),    CHECK(code_filename),
        CHECK(code_qualname),        CHECK(code_code_adaptive),   CHECK(object_type),    CHECK(type_flags),
        CHECK(str_length),           CHECK(str_state),      CHECK(str_ascii_size),
#undef CHECK
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        int expected = *(const int *)((const char *)L + checks[i].value);
        int pos = *(const int *)((const char *)L + checks[i].pos);
        if (pos < 0) {
            continue;
        }
        uint64_t actual = u64_at(debug_offsets, pos);
        if (expected < 0 || actual != (uint64_t)expected) {
            snprintf(why, why_size, "_Py_DebugOffsets has %s = %llu, expected %d", checks[i].name,
                     (unsigned long long)actual, expected);
            return -1;
        }
    }
    return 0;
}
