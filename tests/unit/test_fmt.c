#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "fmt.h"

static void
test_fmt__strings_and_numbers(void **state)
{
    char buf[64];
    mp_fmt_t f;
    mp_fmt_init(&f, buf, sizeof(buf));
    mp_fmt_str(&f, "pid ");
    mp_fmt_i64(&f, 12345);
    mp_fmt_str(&f, " ");
    mp_fmt_i64(&f, -7);
    mp_fmt_str(&f, " ");
    mp_fmt_u64(&f, 0);
    mp_fmt_str(&f, " ");
    mp_fmt_u64(&f, UINT64_MAX);
    mp_fmt_str(&f, " ");
    mp_fmt_i64(&f, INT64_MIN);
    assert_int_equal(mp_fmt_end(&f), 0);
    assert_string_equal(buf, "pid 12345 -7 0 18446744073709551615 -9223372036854775808");
}

static void
test_fmt__hex_is_padded(void **state)
{
    char buf[40];
    mp_fmt_t f;
    mp_fmt_init(&f, buf, sizeof(buf));
    mp_fmt_hex(&f, 0xabcULL, 16);
    mp_fmt_str(&f, ".");
    mp_fmt_hex(&f, 0xfedcba9876543210ULL, 16);
    assert_int_equal(mp_fmt_end(&f), 0);
    assert_string_equal(buf, "0000000000000abc.fedcba9876543210");
}

static void
test_fmt__overflow_cuts_and_reports(void **state)
{
    char buf[8];
    memset(buf, 'z', sizeof(buf));
    mp_fmt_t f;
    mp_fmt_init(&f, buf, sizeof(buf));
    mp_fmt_str(&f, "abcdef");
    mp_fmt_u64(&f, 123456);
    assert_int_equal(mp_fmt_end(&f), -1);
    assert_string_equal(buf, "abcdef1"); /* 7 characters and the terminator, nothing past */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt__strings_and_numbers),
        cmocka_unit_test(test_fmt__hex_is_padded),
        cmocka_unit_test(test_fmt__overflow_cuts_and_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
