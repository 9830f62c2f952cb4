#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "pickle.h"
#include "pyrun.h"

/* Python prints repr() of what it loads; the expectation is that repr. */
static const char *LOAD = "import pickle,sys; print(repr(pickle.load(open(sys.argv[1],'rb'))))";

static const char *
load(mp_pickle_t *p)
{
    void *buf;
    size_t len;
    assert_int_equal(mp_pickle_finish(p, &buf, &len), 0);
    const char *path = pyrun_write_temp(buf, len);
    free(buf);
    assert_non_null(path);
    const char *out = pyrun(LOAD, path);
    unlink(path);
    return out;
}

static void
test_pickle__integers_of_every_width(void **state)
{
    mp_pickle_t p;
    assert_int_equal(mp_pickle_open(&p, -1), 0);
    mp_pickle_op(&p, MP_PICKLE_MARK);
    const int64_t values[] = {0, 255, 256, 65535, 65536, -1, INT32_MIN, INT32_MAX,
                              (int64_t)1 << 40, INT64_MIN};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        mp_pickle_int(&p, values[i]);
    }
    mp_pickle_uint(&p, UINT64_MAX);
    mp_pickle_op(&p, MP_PICKLE_TUPLE);
    assert_string_equal(load(&p), "(0, 255, 256, 65535, 65536, -1, -2147483648, 2147483647, "
                                  "1099511627776, -9223372036854775808, 18446744073709551615)\n");
}

static void
test_pickle__strings_floats_and_constants(void **state)
{
    mp_pickle_t p;
    assert_int_equal(mp_pickle_open(&p, -1), 0);
    static char long_name[300];
    memset(long_name, 'a', 299);
    mp_pickle_op(&p, MP_PICKLE_MARK);
    mp_pickle_cstr(&p, "h\xc3\xa9llo");
    mp_pickle_str(&p, long_name, 299);
    mp_pickle_float(&p, 1.5);
    mp_pickle_none(&p);
    mp_pickle_bool(&p, 1);
    mp_pickle_bool(&p, 0);
    mp_pickle_op(&p, MP_PICKLE_TUPLE);
    const char *out = load(&p);
    assert_non_null(strstr(out, "('héllo', 'aaaa"));
    assert_non_null(strstr(out, "a', 1.5, None, True, False)"));
}

static void
test_pickle__memo_shares_objects(void **state)
{
    mp_pickle_t p;
    assert_int_equal(mp_pickle_open(&p, -1), 0);
    mp_pickle_op(&p, MP_PICKLE_EMPTY_LIST);
    mp_pickle_op(&p, MP_PICKLE_MARK);
    for (int i = 0; i < 300; i++) {
        mp_pickle_int(&p, i);
        uint32_t idx = mp_pickle_memoize(&p);
        assert_int_equal(idx, (uint32_t)i);
    }
    mp_pickle_get(&p, 7);
    mp_pickle_get(&p, 299); /* LONG_BINGET */
    mp_pickle_op(&p, MP_PICKLE_APPENDS);
    const char *out = load(&p);
    assert_non_null(strstr(out, "298, 299, 7, 299]"));
}

static void
test_pickle__dicts_and_small_tuples(void **state)
{
    mp_pickle_t p;
    assert_int_equal(mp_pickle_open(&p, -1), 0);
    mp_pickle_op(&p, MP_PICKLE_EMPTY_DICT);
    mp_pickle_op(&p, MP_PICKLE_MARK);
    mp_pickle_cstr(&p, "t");
    mp_pickle_int(&p, 1);
    mp_pickle_int(&p, 2);
    mp_pickle_tuple(&p, 2);
    mp_pickle_cstr(&p, "e");
    mp_pickle_tuple(&p, 0);
    mp_pickle_op(&p, MP_PICKLE_SETITEMS);
    assert_string_equal(load(&p), "{'t': (1, 2), 'e': ()}\n");
}

static void
test_pickle__writes_through_a_file_descriptor(void **state)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/mp_unit_fd_%d.pickle", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    mp_pickle_t p;
    assert_int_equal(mp_pickle_open(&p, fd), 0);
    /* More than the writer's buffer, so it flushes several times. */
    mp_pickle_op(&p, MP_PICKLE_EMPTY_LIST);
    for (int i = 0; i < 100000; i++) {
        if (i % 1000 == 0) {
            mp_pickle_op(&p, MP_PICKLE_MARK);
        }
        mp_pickle_cstr(&p, "/some/long/file/name/for/padding.py");
        if (i % 1000 == 999) {
            mp_pickle_op(&p, MP_PICKLE_APPENDS);
        }
    }
    assert_int_equal(mp_pickle_finish(&p, NULL, NULL), 0);
    close(fd);
    assert_string_equal(pyrun("import pickle,sys; print(len(pickle.load(open(sys.argv[1],'rb'))))", path),
                        "100000\n");
    unlink(path);
}

static void
test_pickle__write_errors_are_reported(void **state)
{
    mp_pickle_t p;
    assert_int_equal(mp_pickle_open(&p, 1000000), 0); /* not an open descriptor */
    mp_pickle_int(&p, 1);
    assert_int_equal(mp_pickle_finish(&p, NULL, NULL), -EBADF);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pickle__integers_of_every_width),
        cmocka_unit_test(test_pickle__strings_floats_and_constants),
        cmocka_unit_test(test_pickle__memo_shares_objects),
        cmocka_unit_test(test_pickle__dicts_and_small_tuples),
        cmocka_unit_test(test_pickle__writes_through_a_file_descriptor),
        cmocka_unit_test(test_pickle__write_errors_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
