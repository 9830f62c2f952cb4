#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pylayout.h"

static void
test_pylayout__one_layout_per_supported_minor(void **state)
{
    (void)state;
    for (unsigned minor = 11; minor <= 15; minor++) {
        const mp_pylayout_t *L = mp_pylayout_for(0x03000000UL | (minor << 16) | 0x02F0);
        assert_non_null(L);
        assert_int_equal(L->minor, minor);
    }
    assert_null(mp_pylayout_for(0x030A0DF0));  /* 3.10 */
    assert_null(mp_pylayout_for(0x031000A1));  /* 3.16 alpha: unknown future */
    assert_null(mp_pylayout_for(0x02070000));  /* 2.7 */
}

static void
test_pylayout__frame_chain_head_per_version(void **state)
{
    (void)state;
    for (unsigned minor = 11; minor <= 15; minor++) {
        const mp_pylayout_t *L = mp_pylayout_for(0x03000000UL | (minor << 16));
        /* _PyCFrame up to 3.12, PyThreadState.current_frame from 3.13. */
        assert_true((L->tstate_cframe >= 0) == (minor <= 12));
        assert_true((L->tstate_current_frame >= 0) == (minor >= 13));
        /* Tagged f_executable from 3.14; strings always ready from 3.12. */
        assert_true((L->code_tag_bits != 0) == (minor >= 14));
        assert_true((L->str_ready_bit >= 0) == (minor == 11));
        assert_true((L->dbg_version >= 0) == (minor >= 13));
        assert_true((L->tstate_source == MP_TSTATE_ATTACHED) == (minor >= 14));
    }
}

/* A _Py_DebugOffsets image as the interpreter would hold it, built from a layout. */
static void
fill_debug_offsets(const mp_pylayout_t *L, unsigned char *buf, uint64_t version)
{
    memset(buf, 0, 1024);
    memcpy(buf, "xdebugpy", 8);
#define PUT(pos, value)                                                                        \
    do {                                                                                       \
        uint64_t v_ = (uint64_t)(value);                                                       \
        memcpy(buf + (pos), &v_, 8);                                                           \
    } while (0)
    PUT(L->dbg_version, version);
    PUT(L->dbg_free_threaded, 0);
    PUT(L->dbg_tstate_current_frame, L->tstate_current_frame);
    PUT(L->dbg_frame_previous, L->frame_previous);
    PUT(L->dbg_frame_code, L->frame_code);
    PUT(L->dbg_frame_instr, L->frame_instr);
    PUT(L->dbg_frame_owner, L->frame_owner);
    PUT(L->dbg_code_filename, L->code_filename);
    PUT(L->dbg_code_qualname, L->code_qualname);
    PUT(L->dbg_code_code_adaptive, L->code_code_adaptive);
    PUT(L->dbg_object_type, L->object_type);
    PUT(L->dbg_type_flags, L->type_flags);
    PUT(L->dbg_str_length, L->str_length);
    PUT(L->dbg_str_state, L->str_state);
    PUT(L->dbg_str_ascii_size, L->str_ascii_size);
}

static void
test_pylayout__debug_offsets_checked(void **state)
{
    (void)state;
    static unsigned char buf[1024];
    char why[160];
    for (unsigned minor = 13; minor <= 15; minor++) {
        unsigned long version = 0x03000000UL | (minor << 16) | 0x02F0;
        const mp_pylayout_t *L = mp_pylayout_for(version);

        fill_debug_offsets(L, buf, version);
        assert_int_equal(mp_pylayout_check_debug_offsets(L, buf, version, why, sizeof(why)), 0);

        /* Another patch release of the same minor: fine. */
        assert_int_equal(
            mp_pylayout_check_debug_offsets(L, buf, version + 0x0100, why, sizeof(why)), 0);

        /* A moved field. */
        uint64_t moved = (uint64_t)L->frame_owner + 8;
        memcpy(buf + L->dbg_frame_owner, &moved, 8);
        assert_int_equal(mp_pylayout_check_debug_offsets(L, buf, version, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "frame_owner"));

        /* A free-threaded build. */
        fill_debug_offsets(L, buf, version);
        uint64_t one = 1;
        memcpy(buf + L->dbg_free_threaded, &one, 8);
        assert_int_equal(mp_pylayout_check_debug_offsets(L, buf, version, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "free-threaded"));

        /* Offsets of another minor version. */
        fill_debug_offsets(L, buf, version + 0x10000);
        assert_int_equal(mp_pylayout_check_debug_offsets(L, buf, version, why, sizeof(why)), -1);

        /* No cookie, no runtime. */
        fill_debug_offsets(L, buf, version);
        buf[0] = 'y';
        assert_int_equal(mp_pylayout_check_debug_offsets(L, buf, version, why, sizeof(why)), -1);
        assert_int_equal(mp_pylayout_check_debug_offsets(L, NULL, version, why, sizeof(why)), -1);
    }
    /* 3.11 and 3.12 have nothing to check against. */
    assert_int_equal(mp_pylayout_check_debug_offsets(&mp_pylayout_312, NULL, 0x030C01F0, why,
                                                     sizeof(why)),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pylayout__one_layout_per_supported_minor),
        cmocka_unit_test(test_pylayout__frame_chain_head_per_version),
        cmocka_unit_test(test_pylayout__debug_offsets_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
