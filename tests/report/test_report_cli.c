/* Unit tests of command-line parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
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
    assert_false(o.diff || o.cumulative || o.all_frames || o.python_only);
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
                           "-o", "out.json", "--python-only", "old", "new"),
                     CLI_RUN);
    assert_true(o.diff && o.cumulative && o.all_frames && o.python_only);
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
    assert_int_equal(PARSE(&o, err, "--diff", "a", "b", "c"), CLI_USAGE);
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

static void test_cli__merge_and_trend(void **state)
{
    (void)state;
    cli_opts o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "a", "b", "c"), CLI_RUN);
    assert_int_equal(o.nfiles, 3);
    assert_string_equal(o.files[2], "c");
    assert_false(o.trend || o.by_pid || o.diff);
    assert_true(o.false_leak_rate == 0.01);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--by-pid", "--format", "collapsed", "a"), CLI_RUN);
    assert_true(o.by_pid);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--trend", "--false-leak-rate", "0.001", "a", "b", "c"),
                     CLI_RUN);
    assert_true(o.trend && o.false_leak_rate == 0.001);
    cli_opts_free(&o);

    assert_int_equal(PARSE(&o, err, "--trend", "a", "b"), CLI_USAGE);
    assert_string_equal(err, "--trend needs at least three snapshots");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--trend", "--diff", "a", "b", "c"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--trend", "--by-pid", "a", "b", "c"), CLI_RUN);
    assert_true(o.trend && o.by_pid);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--diff", "--by-pid", "a", "b"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--trend", "--format", "collapsed", "a", "b", "c"), CLI_USAGE);
    cli_opts_free(&o);
    static const char *const bad[] = {"0", "1", "-0.1", "x", "0.5x", "nan", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(PARSE(&o, err, "--trend", "--false-leak-rate", (char *)bad[i], "a", "b",
                               "c"),
                         CLI_USAGE);
        assert_non_null(strstr(err, "--false-leak-rate"));
        cli_opts_free(&o);
    }
    assert_int_equal(PARSE(&o, err, "--top", "3"), CLI_USAGE);
    assert_string_equal(err, "expected a snapshot file");
    cli_opts_free(&o);
}

static void test_cli__pprof(void **state)
{
    (void)state;
    cli_opts o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "--format", "pprof", "-o", "p.pb.gz", "--python-only",
                           "--domain", "native", "--include", "*.py", "s"),
                     CLI_RUN);
    assert_int_equal(o.format, FORMAT_PPROF);
    assert_string_equal(o.output, "p.pb.gz");
    cli_opts_free(&o);
    /* One snapshot per profile: go tool pprof -diff_base compares two. */
    assert_int_equal(PARSE(&o, err, "--format=pprof", "--diff", "a", "b"), CLI_USAGE);
    assert_non_null(strstr(err, "-diff_base"));
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--format", "pprof", "--domain-roots", "s"), CLI_USAGE);
    cli_opts_free(&o);
    /* Several snapshots: pprof merges profiles itself; a trend is no profile. */
    assert_int_equal(PARSE(&o, err, "--format", "pprof", "a", "b"), CLI_USAGE);
    assert_non_null(strstr(err, "one snapshot"));
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--format", "pprof", "--by-pid", "a"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--format", "pprof", "--trend", "a", "b", "c"), CLI_USAGE);
    assert_string_equal(err, "--trend writes text or json, not a pprof profile");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--format", "proto", "s"), CLI_USAGE);
    assert_string_equal(err, "unknown --format 'proto' (text, json, collapsed, pprof or html)");
    cli_opts_free(&o);
}

static void test_cli__domains(void **state)
{
    (void)state;
    cli_opts o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "--domain", "native", "--domain=389047", "--exclude-domain",
                           "tracked", "--exclude-domain=0x10", "s"),
                     CLI_RUN);
    assert_int_equal(o.ndomains, 4);
    assert_true(o.domains[0].inclusive && o.domains[0].domain == 1297108545);
    assert_true(o.domains[1].inclusive && o.domains[1].domain == 389047);
    assert_true(!o.domains[2].inclusive && o.domains[2].tracked);
    assert_true(!o.domains[3].inclusive && o.domains[3].domain == 16);
    assert_false(o.domain_roots);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--domain", "python", "--format", "collapsed", "--domain-roots",
                           "s"),
                     CLI_RUN);
    assert_true(o.domain_roots && o.domains[0].domain == 0);
    cli_opts_free(&o);

    assert_int_equal(PARSE(&o, err, "--domain", "numpy", "s"), CLI_USAGE);
    assert_string_equal(err, "invalid --domain 'numpy' (python, native, tracked or a domain number)");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--exclude-domain", "", "s"), CLI_USAGE);
    assert_string_equal(err, "invalid --exclude-domain '' (python, native, tracked or a domain number)");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--domain", "1e3", "s"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "s", "--domain"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--domain-roots", "s"), CLI_USAGE);
    assert_non_null(strstr(err, "--format collapsed"));
    cli_opts_free(&o);
}

static void test_cli__html(void **state)
{
    (void)state;
    cli_opts o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "--format", "html", "-o", "r.html", "s"), CLI_RUN);
    assert_int_equal(o.format, FORMAT_HTML);
    assert_null(o.peak);
    assert_false(o.timeline);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--format=html", "--peak", "p.snap", "s"), CLI_RUN);
    assert_string_equal(o.peak, "p.snap");
    assert_string_equal(o.files[0], "s");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--format=html", "--diff", "old", "new"), CLI_RUN);
    cli_opts_free(&o);
    /* --timeline: every positional argument is a snapshot of the plot. */
    assert_int_equal(PARSE(&o, err, "--timeline", "--format", "html", "c", "a", "b"), CLI_RUN);
    assert_true(o.timeline);
    assert_int_equal(o.nfiles, 3);
    assert_string_equal(o.files[0], "c");
    assert_string_equal(o.files[2], "b");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--timeline", "--format", "html", "--peak", "p", "a"), CLI_RUN);
    assert_int_equal(o.nfiles, 1);
    cli_opts_free(&o);

    assert_int_equal(PARSE(&o, err, "--format", "svg", "s"), CLI_USAGE);
    assert_string_equal(err, "unknown --format 'svg' (text, json, collapsed, pprof or html)");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--peak", "p.snap", "s"), CLI_USAGE);
    assert_string_equal(err, "--peak needs --format html (and no --diff)");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--format=html", "--diff", "--peak", "p", "a", "b"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--timeline", "a", "b"), CLI_USAGE);
    assert_string_equal(err, "--timeline needs --format html (and no --diff or --trend)");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--timeline", "--format=html", "--diff", "a", "b"), CLI_USAGE);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--timeline", "--format=html"), CLI_USAGE);
    cli_opts_free(&o);
    /* One page shows one snapshot: merging, --trend and --by-pid are the
     * text, JSON and collapsed reports'. */
    assert_int_equal(PARSE(&o, err, "--format=html", "a", "b"), CLI_USAGE);
    assert_string_equal(err, "--format html shows one snapshot (several with --timeline)");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--format=html", "--trend", "a", "b", "c"), CLI_USAGE);
    assert_string_equal(err, "--format html does not show --trend or --by-pid");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--format=html", "--by-pid", "a"), CLI_USAGE);
    cli_opts_free(&o);
}

static void test_cli__report_options(void **state)
{
    (void)state;
    cli_opts o;
    char err[256];
    assert_int_equal(PARSE(&o, err, "s"), CLI_RUN);
    assert_false(o.inclusive || o.hide_imports || o.names);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--inclusive", "--hide-imports", "--names", "-g", "filename",
                           "s"),
                     CLI_RUN);
    assert_true(o.inclusive && o.hide_imports && o.names && !o.cumulative);
    cli_opts_free(&o);
    /* Names are always in JSON and collapsed output: --names is accepted there. */
    assert_int_equal(PARSE(&o, err, "--names", "--format", "json", "s"), CLI_RUN);
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--inclusive", "--cumulative", "s"), CLI_USAGE);
    assert_string_equal(err, "--inclusive and --cumulative exclude each other");
    cli_opts_free(&o);
    assert_int_equal(PARSE(&o, err, "--inclusive", "-g", "traceback", "s"), CLI_USAGE);
    assert_string_equal(err, "--inclusive cannot be used with --group-by traceback");
    cli_opts_free(&o);
}

static void test_cli__version_line(void **state)
{
    (void)state;
    cli_opts o;
    char err[256], *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    char *argv[] = {"mprofile-report", "--version", NULL};
    assert_int_equal(cli_parse(2, argv, &o, out, err, sizeof err), CLI_EXIT_OK);
    fclose(out);
    /* "mprofile-report X.Y.Z\n", the project's version. */
    assert_string_equal(text, "mprofile-report " MPROFILE_TEST_VERSION "\n");
    free(text);
    cli_opts_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli__defaults),
        cmocka_unit_test(test_cli__all_options),
        cmocka_unit_test(test_cli__usage_errors),
        cmocka_unit_test(test_cli__merge_and_trend),
        cmocka_unit_test(test_cli__domains),
        cmocka_unit_test(test_cli__pprof),
        cmocka_unit_test(test_cli__html),
        cmocka_unit_test(test_cli__report_options),
        cmocka_unit_test(test_cli__version_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
