/*
 * The layout facts written in lib/pylayout_3XX.c, checked against one CPython version's real
 * headers (internal ones included). tests/unit/CMakeLists.txt compiles this file once per
 * version whose headers are installed, with Py_BUILD_CORE and that version's include
 * directories; nothing from libpython is linked, only offsetof and constants are used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define Py_BUILD_CORE 1
#include <Python.h>
#if PY_VERSION_HEX >= 0x030E0000
#include "internal/pycore_interpframe_structs.h"
#include "internal/pycore_debug_offsets.h"
#include "internal/pycore_stackref.h"
#else
#include "internal/pycore_frame.h"
#if PY_VERSION_HEX >= 0x030D0000
#include "internal/pycore_runtime.h"
#endif
#endif

#include <string.h>

#include "pylayout.h"

#ifdef Py_GIL_DISABLED
#error "free-threaded builds have no layout in the project"
#endif

static const mp_pylayout_t *L;

static int
setup(void **state)
{
    (void)state;
    L = mp_pylayout_for(PY_VERSION_HEX);
    return L == NULL ? -1 : 0;
}

static void
test_pylayout__version(void **state)
{
    (void)state;
    assert_int_equal(L->minor, PY_MINOR_VERSION);
    print_message("checking the 3.%u layout against %s headers\n", L->minor, PY_VERSION);
}

static void
test_pylayout__thread_state_and_frames(void **state)
{
    (void)state;
#if PY_VERSION_HEX < 0x030D0000
    assert_int_equal(L->tstate_cframe, offsetof(PyThreadState, cframe));
    assert_int_equal(L->cframe_current_frame, offsetof(_PyCFrame, current_frame));
    assert_int_equal(L->tstate_current_frame, -1);
    assert_int_equal(L->frame_code, offsetof(_PyInterpreterFrame, f_code));
    assert_int_equal(L->frame_instr, offsetof(_PyInterpreterFrame, prev_instr));
    assert_int_equal(L->code_tag_bits, 0);
#if PY_VERSION_HEX < 0x030C0000
    assert_int_equal(L->frame_is_entry, offsetof(_PyInterpreterFrame, is_entry));
    assert_int_equal(sizeof(((_PyInterpreterFrame *)0)->is_entry), 1);
    assert_int_equal(L->cframe_previous, offsetof(_PyCFrame, previous));
#else
    assert_int_equal(L->frame_is_entry, -1);
    assert_int_equal(L->cframe_previous, -1);
#endif
#else
    assert_int_equal(L->frame_is_entry, -1);
    assert_int_equal(L->cframe_previous, -1);
    assert_int_equal(L->tstate_cframe, -1);
    assert_int_equal(L->tstate_current_frame, offsetof(PyThreadState, current_frame));
    assert_int_equal(L->frame_code, offsetof(_PyInterpreterFrame, f_executable));
    assert_int_equal(L->frame_instr, offsetof(_PyInterpreterFrame, instr_ptr));
#if PY_VERSION_HEX >= 0x030E0000
    /* _PyStackRef: the tag bits cleared to find the code object. */
    assert_int_equal(sizeof(((_PyInterpreterFrame *)0)->f_executable), sizeof(uintptr_t));
    assert_int_equal(L->code_tag_bits, Py_TAG_BITS);
#else
    assert_int_equal(L->code_tag_bits, 0);
#endif
#endif
    assert_int_equal(L->frame_previous, offsetof(_PyInterpreterFrame, previous));
    assert_int_equal(L->frame_owner, offsetof(_PyInterpreterFrame, owner));
    assert_int_equal(sizeof(((_PyInterpreterFrame *)0)->owner), 1);
    assert_int_equal(L->owner_generator, FRAME_OWNED_BY_GENERATOR);
}

/* The owner values _PyFrame_IsIncomplete treats as never complete. */
static void
test_pylayout__shim_owners(void **state)
{
    (void)state;
#if PY_VERSION_HEX >= 0x030E0000
    assert_int_equal(L->incomplete_rule, MP_INCOMPLETE_SHIM_OR_FIRSTTRACEABLE);
    assert_int_equal(L->owner_shim, FRAME_OWNED_BY_INTERPRETER);
#elif PY_VERSION_HEX >= 0x030C0000
    assert_int_equal(L->incomplete_rule, MP_INCOMPLETE_SHIM_OR_FIRSTTRACEABLE);
    assert_int_equal(L->owner_shim, FRAME_OWNED_BY_CSTACK);
#else
    assert_int_equal(L->incomplete_rule, MP_INCOMPLETE_FIRSTTRACEABLE_311);
    assert_true(L->owner_shim > FRAME_OWNED_BY_FRAME_OBJECT);
#endif
    assert_true(L->owner_generator < L->owner_shim);
}

static void
test_pylayout__code_and_type(void **state)
{
    (void)state;
    assert_int_equal(L->code_filename, offsetof(PyCodeObject, co_filename));
    assert_int_equal(L->code_qualname, offsetof(PyCodeObject, co_qualname));
    assert_int_equal(L->code_firsttraceable, offsetof(PyCodeObject, _co_firsttraceable));
    assert_int_equal(sizeof(((PyCodeObject *)0)->_co_firsttraceable), sizeof(int));
    assert_int_equal(L->code_code_adaptive, offsetof(PyCodeObject, co_code_adaptive));
    assert_int_equal(sizeof(_Py_CODEUNIT), 2);
    assert_int_equal(L->object_type, offsetof(PyObject, ob_type));
    assert_int_equal(L->type_flags, offsetof(PyTypeObject, tp_flags));
    assert_int_equal(sizeof(((PyTypeObject *)0)->tp_flags), sizeof(unsigned long));
    assert_int_equal(Py_TPFLAGS_UNICODE_SUBCLASS, 1UL << 28);
}

/* The position of a one-bit (or kind's three-bit) field of PyASCIIObject.state. */
static int
first_bit(const PyASCIIObject *o)
{
    uint32_t bits;
    memcpy(&bits, &o->state, sizeof(bits));
    return bits == 0 ? -1 : __builtin_ctz(bits);
}

static void
test_pylayout__strings(void **state)
{
    (void)state;
    assert_int_equal(L->str_length, offsetof(PyASCIIObject, length));
    assert_int_equal(sizeof(((PyASCIIObject *)0)->length), 8);
    assert_int_equal(L->str_state, offsetof(PyASCIIObject, state));
    assert_int_equal(L->str_ascii_size, sizeof(PyASCIIObject));
    assert_int_equal(L->str_compact_size, sizeof(PyCompactUnicodeObject));
    assert_int_equal(L->str_data_any, offsetof(PyUnicodeObject, data.any));

    PyASCIIObject o;
    memset(&o, 0, sizeof(o));
    o.state.kind = 7;
    assert_int_equal(L->str_kind_shift, first_bit(&o));
    memset(&o, 0, sizeof(o));
    o.state.compact = 1;
    assert_int_equal(L->str_compact_bit, first_bit(&o));
    memset(&o, 0, sizeof(o));
    o.state.ascii = 1;
    assert_int_equal(L->str_ascii_bit, first_bit(&o));
#if PY_VERSION_HEX < 0x030C0000
    memset(&o, 0, sizeof(o));
    o.state.ready = 1;
    assert_int_equal(L->str_ready_bit, first_bit(&o));
#else
    assert_int_equal(L->str_ready_bit, -1);
#endif
}

static void
test_pylayout__debug_offsets(void **state)
{
    (void)state;
#if PY_VERSION_HEX >= 0x030D0000
#define POS(field) ((int)offsetof(_Py_DebugOffsets, field))
    assert_int_equal(L->dbg_version, POS(version));
    assert_int_equal(L->dbg_free_threaded, POS(free_threaded));
    assert_int_equal(L->dbg_tstate_current_frame, POS(thread_state.current_frame));
    assert_int_equal(L->dbg_frame_previous, POS(interpreter_frame.previous));
    assert_int_equal(L->dbg_frame_code, POS(interpreter_frame.executable));
    assert_int_equal(L->dbg_frame_instr, POS(interpreter_frame.instr_ptr));
    assert_int_equal(L->dbg_frame_owner, POS(interpreter_frame.owner));
    assert_int_equal(L->dbg_code_filename, POS(code_object.filename));
    assert_int_equal(L->dbg_code_qualname, POS(code_object.qualname));
    assert_int_equal(L->dbg_code_code_adaptive, POS(code_object.co_code_adaptive));
    assert_int_equal(L->dbg_object_type, POS(pyobject.ob_type));
    assert_int_equal(L->dbg_type_flags, POS(type_object.tp_flags));
    assert_int_equal(L->dbg_str_length, POS(unicode_object.length));
    assert_int_equal(L->dbg_str_state, POS(unicode_object.state));
    assert_int_equal(L->dbg_str_ascii_size, POS(unicode_object.asciiobject_size));
#undef POS
#else
    assert_int_equal(L->dbg_version, -1);
#endif
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pylayout__version),
        cmocka_unit_test(test_pylayout__thread_state_and_frames),
        cmocka_unit_test(test_pylayout__shim_owners),
        cmocka_unit_test(test_pylayout__code_and_type),
        cmocka_unit_test(test_pylayout__strings),
        cmocka_unit_test(test_pylayout__debug_offsets),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
