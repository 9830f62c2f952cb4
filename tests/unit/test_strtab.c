#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "strtab.h"

static int
setup(void **state)
{
    static mp_strtab_t t;
    mp_strtab_init(&t);
    *state = &t;
    return 0;
}

static int
teardown(void **state)
{
    mp_strtab_destroy(*state);
    return 0;
}

static void
test_strtab__same_content_same_id(void **state)
{
    mp_strtab_t *t = *state;
    char a[] = "/app/main.py", b[] = "/app/main.py";
    int64_t ia = mp_strtab_intern(t, a, strlen(a));
    int64_t ib = mp_strtab_intern(t, b, strlen(b));
    assert_true(ia >= 0);
    assert_int_equal(ia, ib);
    assert_string_equal(mp_strtab_get(t, (uint32_t)ia)->data, "/app/main.py");
    /* The table keeps its own copy. */
    a[0] = 'X';
    assert_string_equal(mp_strtab_get(t, (uint32_t)ia)->data, "/app/main.py");
}

static void
test_strtab__different_content_different_id(void **state)
{
    mp_strtab_t *t = *state;
    int64_t a = mp_strtab_intern(t, "a.py", 4);
    int64_t b = mp_strtab_intern(t, "b.py", 4);
    int64_t prefix = mp_strtab_intern(t, "a.py", 3);
    int64_t empty = mp_strtab_intern(t, "", 0);
    assert_true(a != b && a != prefix && b != prefix && empty != a);
    assert_int_equal(mp_strtab_get(t, (uint32_t)prefix)->len, 3);
    assert_string_equal(mp_strtab_get(t, (uint32_t)empty)->data, "");
}

static void
test_strtab__many_strings_keep_their_address(void **state)
{
    mp_strtab_t *t = *state;
    const char *first = NULL;
    char name[64];
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(name, sizeof(name), "/usr/lib/python3.11/module_%d.py", i);
        int64_t id = mp_strtab_intern(t, name, (size_t)n);
        assert_int_equal(id, i);
        if (i == 0) {
            first = mp_strtab_get(t, 0)->data;
        }
    }
    assert_ptr_equal(first, mp_strtab_get(t, 0)->data);
    for (int i = 0; i < 50000; i += 997) {
        int n = snprintf(name, sizeof(name), "/usr/lib/python3.11/module_%d.py", i);
        assert_int_equal(mp_strtab_intern(t, name, (size_t)n), i);
    }
}

static void
test_strtab__long_string_gets_its_own_chunk(void **state)
{
    mp_strtab_t *t = *state;
    static char big[200000];
    memset(big, 'x', sizeof(big) - 1);
    int64_t id = mp_strtab_intern(t, big, sizeof(big) - 1);
    assert_true(id >= 0);
    assert_int_equal(mp_strtab_get(t, (uint32_t)id)->len, sizeof(big) - 1);
    assert_int_equal(mp_strtab_intern(t, big, sizeof(big) - 1), id);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strtab__same_content_same_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strtab__different_content_different_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strtab__many_strings_keep_their_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strtab__long_string_gets_its_own_chunk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
