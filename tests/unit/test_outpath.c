#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "outpath.h"

static void
expect_peak(const char *path, const char *expected)
{
    char out[256];
    assert_int_equal(mp_outpath_peak(path, out, sizeof(out)), 0);
    assert_string_equal(out, expected);
}

static void
test_outpath__peak_companion_names(void **state)
{
    expect_peak("/d/mprofile.12.1.snap", "/d/mprofile.12.1.peak.snap");
    expect_peak("one.snap", "one.peak.snap");
    expect_peak("/d/noext", "/d/noext.peak");
    expect_peak("/d.x/noext", "/d.x/noext.peak"); /* a dot in a directory is no extension */
    expect_peak("/d/.hidden", "/d/.hidden.peak"); /* nor one that starts the name */
    expect_peak("/d/.hidden.snap", "/d/.hidden.peak.snap");
    char small[8];
    assert_int_equal(mp_outpath_peak("/d/long.snap", small, sizeof(small)), -1);
}

static void
test_outpath__names_from_the_pattern(void **state)
{
    char out[256];
    assert_int_equal(mp_outpath_name("/d/m.%p.%n.snap", 42, 7, 1000, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "/d/m.42.7.snap");
    assert_int_equal(mp_outpath_name("/d/m.%p.%n.snap", 42, 7, 1000, 1, out, sizeof(out)), 0);
    assert_string_equal(out, "/d/m.42.7.peak.snap");
    assert_int_equal(mp_outpath_name("/d/%t", 1, 1, 1000, 1, out, sizeof(out)), 0);
    assert_string_equal(out, "/d/1000.peak");
    assert_int_equal(mp_outpath_name("/d/m.%p.snap", 42, 7, 1000, 0, out, 8), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outpath__peak_companion_names),
        cmocka_unit_test(test_outpath__names_from_the_pattern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
