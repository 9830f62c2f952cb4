/* Unit tests of command-line parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cli.h"

static int parse(cli_opts *o, char *err, int argc, char **argv)
{
    FILE *devnull = fopen("/dev/null", "w");
    int rc = cli_parse(argc, argv, o, devnull, err, 256);
    fclose(devnull);
    return rc;
}

#define PARSE(o, err, ...)                                                                     \
    ({                                                                                         \
        char *argv_[] = {"mprofile-report", __VA_ARGS__, NULL};                                \
        parse(o, err, (int)(sizeof argv_ / sizeof argv_[0]) - 1, argv_);                        \
    })

static void test_cli__defaults(void **state)
{
    (void)state;
    cli_opts o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "snap.pickle"), CLI_RUN);
    assert_int_equal(o.top, 10);
    assert_int_equal(o.group, GROUP_LINENO);
    assert_int_equal(o.format, FORMAT_TEXT);
    assert_false(o.diff || o.cumulative || o.all_frames);
    assert_string_equal(o.files[0], "snap.pickle");
    cli_opts_free(&o);
}

static void test_cli__all_options(void **state)
{
    (void)state;
    cli_opts o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "--diff", "-n", "0", "--group-by=filename", "--cumulative",
                           "--include", "*a*", "--exclude=*b*", "--all-frames", "--format", "json",
                           "-o", "out.json", "old", "new"),
                     CLI_RUN);
    assert_true(o.diff && o.cumulative && o.all_frames);
    assert_int_equal(o.top, 0);
    assert_int_equal(o.group, GROUP_FILENAME);
    assert_int_equal(o.format, FORMAT_JSON);
    assert_string_equal(o.output, "out.json");
    assert_int_equal(o.nfilters, 2);
    assert_true(o.filters[0].inclusive && !o.filters[1].inclusive);
    assert_string_equal(o.filters[1].pattern, "*b*");
    assert_string_equal(o.files[0], "old");
    assert_string_equal(o.files[1], "new");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "-gtraceback", "--top=3", "--format=collapsed", "s"), CLI_RUN);
    assert_int_equal(o.group, GROUP_TRACEBACK);
    assert_int_equal(o.top, 3);
    assert_int_equal(o.format, FORMAT_COLLAPSED);
    cli_opts_free(&o);
}

static void test_cli__usage_errors(void **state)
{
    (void)state;
    cli_opts o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "-n", "-1", "s"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "-n", "ten", "s"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "-g", "function", "s"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--cumulative", "-g", "traceback", "s"), CLI_USAGE);
    assert_non_null(strstr(err, "cumulative"));
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--diff", "s"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "a", "b"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--nope", "s"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "s", "--top"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--help"), CLI_EXIT_OK);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--version"), CLI_EXIT_OK);
    cli_opts_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli__defaults),
        cmocka_unit_test(test_cli__all_options),
        cmocka_unit_test(test_cli__usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
