/* Unit tests of the output formats.  Expected strings come from Python
 * 3.11's tracemalloc (_format_size, str(Statistic), str(StatisticDiff)). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "pickle_builder.h"

static void size_is(double v, int sign, const char *want)
{
    char buf[64];
    format_size(buf, sizeof buf, v, sign);
    assert_string_equal(buf, want);
}

static void test_format__size_like_tracemalloc(void **state)
{
    (void)state;
    size_is(0, 0, "0 B");
    size_is(0, 1, "+0 B");
    size_is(99, 0, "99 B");
    size_is(10239, 1, "+10239 B");
    size_is(10240, 0, "10.0 KiB");
    size_is(102400, 1, "+100 KiB");
    size_is(104805171.2, 0, "100.0 MiB");
    size_is(123456789, 0, "118 MiB");
    size_is(5497558138880.0, 0, "5120 GiB");
    size_is(3377699720527872.0, 1, "+3072 TiB");
    size_is(-5, 1, "-5 B");
    size_is(-10240, 0, "-10.0 KiB");
    size_is(-123456, 1, "-121 KiB");
    size_is(102348.8, 0, "100.0 KiB");
    size_is(10238.5, 0, "10238 B");
}

static const pb_frame S0[] = {{"x/a.py", 12}, {"main.py", 3}};
static const pb_frame S1[] = {{"b;c.py", 7}, {"main.py", 4}};

typedef struct fx {
    intern *in;
    snapshot s, old;
} fx;

static void load(intern *in, snapshot *s, const int64_t *sizes, const size_t *of, size_t n, int64_t rate)
{
    pb_stack stacks[] = {{S0, 2}, {S1, 2}};
    pb b = {0};
    pb_snapshot(&b, stacks, 2, sizes, of, n, rate);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

static char *render(const report *rep, int (*fn)(FILE *, const report *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(fn(f, rep), 0);
    fclose(f);
    return buf;
}

static void test_format__text_rows_are_str_statistic(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    static const int64_t sizes[] = {1000, 24, 3000000};
    static const size_t of[] = {0, 0, 1};
    load(in, &s, sizes, of, 3, 0);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n, .top = 10};
    char line[256];
    format_row_text(line, sizeof line, &rep, &rows[1]);
    assert_string_equal(line, "size=1024 B, count=2, average=512 B");
    char *text = render(&rep, format_text);
    assert_non_null(strstr(text, "\nb;c.py:7: size=2930 KiB, count=1, average=2930 KiB\n"
                                 "x/a.py:12: size=1024 B, count=2, average=512 B\n"));
    assert_null(strstr(text, "rse="));
    free(text);
    rep.top = 1;
    text = render(&rep, format_text);
    assert_null(strstr(text, "x/a.py:12: size"));
    assert_non_null(strstr(text, "# 1 other rows"));
    free(text);
    free(rows);

    /* --diff: str(StatisticDiff) */
    snapshot old;
    static const int64_t osizes[] = {2048};
    static const size_t oof[] = {0};
    load(in, &old, osizes, oof, 1, 0);
    assert_int_equal(aggregate_diff(&old, &s, in, &o, &rows, &n), 0);
    rep = (report){.in = in, .snap = &s, .old_snap = &old, .opts = &o, .rows = rows, .nrows = n};
    text = render(&rep, format_text);
    assert_non_null(strstr(text, "\nb;c.py:7: size=2930 KiB (+2930 KiB), count=1 (+1), average=2930 KiB\n"
                                 "x/a.py:12: size=1024 B (-1024 B), count=2 (+1), average=512 B\n"));
    free(text);
    free(rows);
    snapshot_free(&old);
    snapshot_free(&s);
    intern_free(in);
}

static void test_format__traceback_rows_show_oldest_frame_then_frames(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    static const int64_t sizes[] = {10};
    static const size_t of[] = {0};
    load(in, &s, sizes, of, 1, 0);
    agg_opts o = {.group = GROUP_TRACEBACK};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n};
    char *text = render(&rep, format_text);
    assert_non_null(strstr(text, "\nmain.py:3: size=10 B, count=1, average=10 B\n"
                                 "  File \"main.py\", line 3\n  File \"x/a.py\", line 12\n"));
    free(text);
    free(rows);
    snapshot_free(&s);
    intern_free(in);
}

static void test_format__sampled_rows_add_rse_and_header(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    static const int64_t sizes[] = {1500, 1500};
    static const size_t of[] = {0, 0};
    load(in, &s, sizes, of, 2, 1000);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n};
    char *text = render(&rep, format_text);
    assert_non_null(strstr(text, "# sampled: sample_rate=1000 bytes"));
    assert_non_null(strstr(text, ", rse="));
    free(text);
    char *json = render(&rep, format_json);
    assert_non_null(strstr(json, "\"estimated\": true"));
    assert_non_null(strstr(json, "\"sample_rate\": 1000"));
    assert_null(strstr(json, "\"rse\": null"));
    free(json);
    free(rows);
    snapshot_free(&s);
    intern_free(in);
}

static void test_format__json_and_collapsed(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    static const int64_t sizes[] = {100, 23};
    static const size_t of[] = {0, 1};
    load(in, &s, sizes, of, 2, 0);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n};
    char *json = render(&rep, format_json);
    assert_non_null(strstr(json, "\"schema\": \"mprofile-report/1\""));
    assert_non_null(strstr(json, "{\"size\": 100, \"count\": 1, \"count_estimate\": 1, \"average\": 100, "
                                 "\"rse\": null, \"frames\": [{\"filename\": \"x/a.py\", \"lineno\": 12, \"function\": null}], "
                                 "\"text\": \"x/a.py:12: size=100 B, count=1, average=100 B\"}"));
    free(json);
    char *folded = render(&rep, format_collapsed);
    assert_string_equal(folded, "main.py:3;x/a.py:12 100\nmain.py:4;b:c.py:7 23\n");
    free(folded);
    free(rows);
    snapshot_free(&s);
    intern_free(in);
}

/* S0 and S1 with function names: main.py:4 has none, and b;c.py:7 a
 * forged one with the characters each format must escape. */
static const pb_name NAMES[] = {
    {"x/a.py", 12, "Cache.get"}, {"main.py", 3, "<module>"}, {"b;c.py", 7, "odd;name\n(x)"}};

static void load_named(intern *in, snapshot *s, int named)
{
    pb_stack stacks[] = {{S0, 2}, {S1, 2}};
    static const int64_t sizes[] = {100, 23};
    static const size_t of[] = {0, 1};
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_traces(&b, stacks, 2, NULL, sizes, of, 2);
    pb_snapshot_traces_done(&b, 10);
    if (named)
        pb_frame_names(&b, NAMES, 3);
    pb_snapshot_end(&b);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

/* The text report of a snapshot with or without names, and --names. */
static char *render_named(int named, group_by g, int names)
{
    intern *in = intern_new();
    snapshot s;
    load_named(in, &s, named);
    agg_opts o = {.group = g};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n, .names = names};
    char *text = render(&rep, format_text);
    free(rows);
    snapshot_free(&s);
    intern_free(in);
    return text;
}

static void test_format__text_names(void **state)
{
    (void)state;
    /* Without --names the rows are tracemalloc's, names or not. */
    for (group_by g = GROUP_LINENO; g <= GROUP_TRACEBACK; g++) {
        char *plain = render_named(0, g, 0), *named = render_named(1, g, 0);
        char *plain_names = render_named(0, g, 1);
        assert_string_equal(plain, named);
        assert_string_equal(plain, plain_names);
        free(plain);
        free(named);
        free(plain_names);
    }
    char *text = render_named(1, GROUP_LINENO, 1);
    assert_string_equal(text, "# : 2 traces, traceback_limit=10, total size=123 B, count=2\n"
                              "# top 2 of 2 rows, group by lineno\n"
                              "x/a.py:12 (Cache.get): size=100 B, count=1, average=100 B\n"
                              "b;c.py:7 (odd;name??x?): size=23 B, count=1, average=23 B\n");
    free(text);
    /* A file has no function. */
    text = render_named(1, GROUP_FILENAME, 1);
    assert_non_null(strstr(text, "\nx/a.py:0: size=100 B"));
    free(text);
    /* str(Traceback) is the oldest frame; the frames are in Python's
     * traceback form. */
    text = render_named(1, GROUP_TRACEBACK, 1);
    assert_non_null(strstr(text, "\nmain.py:3 (<module>): size=100 B, count=1, average=100 B\n"
                                 "  File \"main.py\", line 3, in <module>\n"
                                 "  File \"x/a.py\", line 12, in Cache.get\n"
                                 "main.py:4: size=23 B, count=1, average=23 B\n"
                                 "  File \"main.py\", line 4\n"
                                 "  File \"b;c.py\", line 7, in odd;name??x?\n"));
    free(text);
}

/* A trace without frames is the row "<unknown>:0", which has no name and,
 * with -g traceback, no frame at all. */
static void test_format__names_of_an_empty_traceback(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    pb_stack stacks[] = {{S0, 2}, {NULL, 0}};
    static const int64_t sizes[] = {100, 7};
    static const size_t of[] = {0, 1};
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_traces(&b, stacks, 2, NULL, sizes, of, 2);
    pb_snapshot_traces_done(&b, 10);
    pb_frame_names(&b, NAMES, 3);
    pb_snapshot_end(&b);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
    for (group_by g = GROUP_LINENO; g <= GROUP_TRACEBACK; g++) {
        agg_opts o = {.group = g};
        row *rows;
        size_t n;
        assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
        assert_int_equal(n, 2);
        report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n, .names = 1};
        char *text = render(&rep, format_text);
        assert_non_null(strstr(text, g == GROUP_FILENAME ? "\n<unknown>:0: size=7 B"
                                                         : "\n<unknown>:0: size=7 B, count=1"));
        free(text);
        char *json = render(&rep, format_json);
        assert_non_null(strstr(json, g == GROUP_TRACEBACK ? "\"frames\": []"
                                                          : "\"lineno\": 0, \"function\": null}]"));
        free(json);
        free(rows);
    }
    snapshot_free(&s);
    intern_free(in);
}

static void test_format__json_and_collapsed_names(void **state)
{
    (void)state;
    for (int named = 0; named < 2; named++) {
        intern *in = intern_new();
        snapshot s;
        load_named(in, &s, named);
        agg_opts o = {.group = GROUP_TRACEBACK};
        row *rows;
        size_t n;
        assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
        report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n};
        char *json = render(&rep, format_json);
        assert_non_null(strstr(json, named ? "\"frames\": [{\"filename\": \"main.py\", \"lineno\": 4, "
                                             "\"function\": null}, {\"filename\": \"b;c.py\", "
                                             "\"lineno\": 7, \"function\": \"odd;name\\u000a(x)\"}]"
                                           : "\"frames\": [{\"filename\": \"main.py\", \"lineno\": 4, "
                                             "\"function\": null}, {\"filename\": \"b;c.py\", "
                                             "\"lineno\": 7, \"function\": null}]"));
        free(json);
        char *folded = render(&rep, format_collapsed);
        /* "function (file:line)", ';' as ':' and a newline as a space. */
        assert_string_equal(folded, named ? "<module> (main.py:3);Cache.get (x/a.py:12) 100\n"
                                            "main.py:4;odd:name (x) (b:c.py:7) 23\n"
                                          : "main.py:3;x/a.py:12 100\nmain.py:4;b:c.py:7 23\n");
        free(folded);
        free(rows);
        /* A filename key names no function. */
        o.group = GROUP_FILENAME;
        assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
        rep.rows = rows;
        rep.nrows = n;
        json = render(&rep, format_json);
        assert_non_null(strstr(json, "[{\"filename\": \"x/a.py\", \"lineno\": 0, \"function\": null}]"));
        free(json);
        free(rows);
        snapshot_free(&s);
        intern_free(in);
    }
}

/* Sampled --diff rows: str(StatisticDiff), then the standard error of the
 * size difference and "noise" within 2 of them; exact rows unchanged. */
static void test_format__sampled_diff_rows_have_standard_errors(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s, old;
    /* S0: blocks far above the rate, always sampled (no variance);
     * S1: a small block, its weight one sample of many. */
    static const int64_t sizes[] = {100000, 100000, 1500}, osizes[] = {100000, 1600};
    static const size_t of[] = {0, 0, 1}, oof[] = {0, 1};
    load(in, &s, sizes, of, 3, 1000);
    load(in, &old, osizes, oof, 2, 1000);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_diff(&old, &s, in, &o, &rows, &n), 0);
    assert_int_equal(n, 2);
    report rep = {.in = in, .snap = &s, .old_snap = &old, .opts = &o, .rows = rows, .nrows = n};
    char want[256], se[32], line[256];
    assert_false(report_diff_is_noise(&rows[0]));
    assert_true(report_diff_is_noise(&rows[1]));
    format_size(se, sizeof se, sqrt(rows[1].var), 0);
    assert_true(sqrt(rows[1].var) > 50);
    format_row_text(line, sizeof line, &rep, &rows[1]);
    snprintf(want, sizeof want, ", se=%s, noise", se);
    assert_non_null(strstr(line, want));
    assert_int_equal(strlen(strstr(line, want)), strlen(want));
    char *text = render(&rep, format_text);
    assert_non_null(strstr(text, "\n# se = standard error of the size difference"));
    format_size(se, sizeof se, sqrt(rows[0].var), 0);
    snprintf(want, sizeof want, "x/a.py:12: size=195 KiB (+97.7 KiB), count=2 (+1), "
                                "average=97.7 KiB, se=%s\n", se);
    assert_non_null(strstr(text, want));
    free(text);
    char *json = render(&rep, format_json);
    assert_non_null(strstr(json, "\"noise\": false"));
    assert_non_null(strstr(json, "\"noise\": true"));
    free(json);
    free(rows);
    snapshot_free(&old);
    snapshot_free(&s);
    /* Exact snapshots: no standard error, no noise. */
    load(in, &s, sizes, of, 3, 0);
    load(in, &old, osizes, oof, 2, 0);
    assert_int_equal(aggregate_diff(&old, &s, in, &o, &rows, &n), 0);
    rep = (report){.in = in, .snap = &s, .old_snap = &old, .opts = &o, .rows = rows, .nrows = n};
    text = render(&rep, format_text);
    assert_null(strstr(text, "se="));
    assert_null(strstr(text, "noise"));
    free(text);
    json = render(&rep, format_json);
    assert_non_null(strstr(json, "\"noise\": null"));
    free(json);
    free(rows);
    snapshot_free(&old);
    snapshot_free(&s);
    intern_free(in);
}

static void test_format__inclusive_and_hidden_imports_in_headers(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    static const int64_t sizes[] = {100, 23};
    static const size_t of[] = {0, 1};
    load(in, &s, sizes, of, 2, 0);
    agg_opts o = {.group = GROUP_FILENAME, .inclusive = 1};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n, .hide_imports = 1};
    char *text = render(&rep, format_text);
    assert_non_null(strstr(text, "\n# top 3 of 3 rows, group by filename, inclusive, imports hidden\n"));
    free(text);
    char *json = render(&rep, format_json);
    assert_non_null(strstr(json, "\"cumulative\": false, \"inclusive\": true, \"python_only\": false, "
                                 "\"hide_imports\": true,"));
    free(json);
    free(rows);
    snapshot_free(&s);
    intern_free(in);
}

static const pb_frame S2[] = {{"np.py", 9}, {"main.py", 5}};

/* S0: python and native; S1: native; S2: numpy's domain. */
static void load_domains(intern *in, snapshot *s)
{
    pb_stack stacks[] = {{S0, 2}, {S1, 2}, {S2, 2}};
    static const int64_t doms[] = {0, 1297108545, 1297108545, 389047};
    static const int64_t sizes[] = {100, 4096, 8192, 80000};
    static const size_t of[] = {0, 0, 1, 2};
    pb b = {0};
    pb_snapshot_domains(&b, stacks, 3, doms, sizes, of, 4, 0);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

static void test_format__text_domains_header_and_markers(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    load_domains(in, &s);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n};
    char *text = render(&rep, format_text);
    assert_string_equal(text, "# : 4 traces, traceback_limit=10, total size=90.2 KiB, count=4\n"
                              "# domain python: 1 traces, size=100 B, count=1\n"
                              "# domain tracked:389047: 1 traces, size=78.1 KiB, count=1\n"
                              "# domain native: 2 traces, size=12.0 KiB, count=2\n"
                              "# top 3 of 3 rows, group by lineno\n"
                              "np.py:9: size=78.1 KiB, count=1, average=78.1 KiB [tracked:389047]\n"
                              "b;c.py:7: size=8192 B, count=1, average=8192 B [native]\n"
                              "x/a.py:12: size=4196 B, count=2, average=2098 B [python+native]\n");
    free(text);
    free(rows);

    /* --domain native: only native rows, all marked; the header keeps
     * the totals of every domain. */
    domain_spec spec;
    assert_int_equal(domain_spec_parse("native", 1, &spec), 0);
    o.domains = &spec;
    o.ndomains = 1;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    rep = (report){.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n};
    text = render(&rep, format_text);
    assert_non_null(strstr(text, "# domain python: 1 traces"));
    assert_non_null(strstr(text, "# top 2 of 2 rows, group by lineno, filtered\n"
                                 "b;c.py:7: size=8192 B, count=1, average=8192 B [native]\n"
                                 "x/a.py:12: size=4096 B, count=1, average=4096 B [native]\n"));
    free(text);
    free(rows);

    /* --diff against an ordinary snapshot: only the new one has domain
     * lines; rows of both snapshots' domains are marked. */
    snapshot old;
    static const int64_t osizes[] = {2048};
    static const size_t oof[] = {1};
    load(in, &old, osizes, oof, 1, 0);
    o.ndomains = 0;
    assert_int_equal(aggregate_diff(&old, &s, in, &o, &rows, &n), 0);
    rep = (report){.in = in, .snap = &s, .old_snap = &old, .opts = &o, .rows = rows, .nrows = n};
    text = render(&rep, format_text);
    assert_non_null(strstr(text, "# old : 1 traces, traceback_limit=10, total size=2048 B, count=1\n"
                                 "# new : 4 traces"));
    assert_non_null(strstr(text, "\nb;c.py:7: size=8192 B (+6144 B), count=1 (+0), average=8192 B "
                                 "[python+native]\n"));
    free(text);
    free(rows);
    snapshot_free(&old);
    snapshot_free(&s);
    intern_free(in);
}

static void test_format__json_domains(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    load_domains(in, &s);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n};
    char *json = render(&rep, format_json);
    assert_non_null(strstr(json, "\"domains\": [{\"domain\": 0, \"name\": \"python\", \"traces\": 1, "
                                 "\"size\": 100, \"count\": 1, \"size_rse\": null}, "
                                 "{\"domain\": 389047, \"name\": \"tracked:389047\", \"traces\": 1, "
                                 "\"size\": 80000, \"count\": 1, \"size_rse\": null}, "
                                 "{\"domain\": 1297108545, \"name\": \"native\", \"traces\": 2, "
                                 "\"size\": 12288, \"count\": 2, \"size_rse\": null}], \"metadata\": {}}"));
    assert_non_null(strstr(json, "\"rse\": null, \"domain\": 389047, \"frames\": [{\"filename\": \"np.py\""));
    assert_non_null(strstr(json, "\"rse\": null, \"domain\": 1297108545, \"frames\": [{\"filename\": \"b;c.py\""));
    assert_non_null(strstr(json, "\"rse\": null, \"domains\": [0, 1297108545], \"frames\": [{\"filename\": \"x/a.py\""));
    /* The text of a row stays str(Statistic), without the marker. */
    assert_non_null(strstr(json, "\"text\": \"np.py:9: size=78.1 KiB, count=1, average=78.1 KiB\"}"));
    free(json);
    free(rows);
    snapshot_free(&s);

    /* An ordinary snapshot: one python domain, no per-row field. */
    static const int64_t sizes[] = {100};
    static const size_t of[] = {0};
    load(in, &s, sizes, of, 1, 0);
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    rep = (report){.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n};
    json = render(&rep, format_json);
    assert_non_null(strstr(json, "\"domains\": [{\"domain\": 0, \"name\": \"python\", \"traces\": 1, "
                                 "\"size\": 100, \"count\": 1, \"size_rse\": null}]"));
    assert_null(strstr(json, "\"domain\": 0, \"frames\""));
    free(json);
    free(rows);
    snapshot_free(&s);
    intern_free(in);
}

static void test_format__collapsed_with_domains(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    load_domains(in, &s);
    agg_opts o = {.group = GROUP_LINENO};
    report rep = {.in = in, .snap = &s, .opts = &o};
    char *folded = render(&rep, format_collapsed);
    assert_string_equal(folded, "main.py:3;x/a.py:12 4196\nmain.py:4;b:c.py:7 8192\n"
                                "main.py:5;np.py:9 80000\n");
    free(folded);
    rep.domain_roots = 1;
    folded = render(&rep, format_collapsed);
    assert_string_equal(folded, "python;main.py:3;x/a.py:12 100\n"
                                "tracked:389047;main.py:5;np.py:9 80000\n"
                                "native;main.py:3;x/a.py:12 4096\n"
                                "native;main.py:4;b:c.py:7 8192\n");
    free(folded);
    domain_spec spec;
    assert_int_equal(domain_spec_parse("native", 0, &spec), 0);
    o.domains = &spec;
    o.ndomains = 1;
    rep.domain_roots = 0;
    folded = render(&rep, format_collapsed);
    assert_string_equal(folded, "main.py:3;x/a.py:12 100\nmain.py:5;np.py:9 80000\n");
    free(folded);

    /* --diff: old and new bytes per (domain, stack). */
    snapshot old;
    static const int64_t osizes[] = {2048};
    static const size_t oof[] = {1};
    load(in, &old, osizes, oof, 1, 0);
    o.ndomains = 0;
    rep = (report){.in = in, .snap = &s, .old_snap = &old, .opts = &o, .domain_roots = 1};
    folded = render(&rep, format_collapsed);
    assert_string_equal(folded, "python;main.py:3;x/a.py:12 0 100\n"
                                "python;main.py:4;b:c.py:7 2048 0\n"
                                "tracked:389047;main.py:5;np.py:9 0 80000\n"
                                "native;main.py:3;x/a.py:12 0 4096\n"
                                "native;main.py:4;b:c.py:7 0 8192\n");
    free(folded);
    snapshot_free(&old);
    snapshot_free(&s);
    intern_free(in);
}

/* A mixed snapshot: native frames around and inside S0's Python frames. */
static const pb_frame M0[] = {{"<native> deflate (libz.so.1)", 0},
                              {"x/a.py", 12},
                              {"main.py", 3},
                              {"<native> main (python3)", 0}};

static void load_mixed(intern *in, snapshot *s, unsigned flags)
{
    pb_stack stacks[] = {{M0, 4}};
    static const int64_t sizes[] = {100};
    static const size_t of[] = {0};
    pb b = {0};
    pb_snapshot_stacks(&b, stacks, 1, sizes, of, 1, "mixed");
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, flags, &err), 0);
    free(b.buf);
}

static char *render_mixed(unsigned flags, group_by g, int (*fn)(FILE *, const report *))
{
    intern *in = intern_new();
    snapshot s;
    load_mixed(in, &s, flags);
    agg_opts o = {.group = g};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in,
                  .snap = &s,
                  .opts = &o,
                  .rows = rows,
                  .nrows = n,
                  .python_only = (flags & SNAPSHOT_PYTHON_ONLY) != 0};
    char *out = render(&rep, fn);
    free(rows);
    snapshot_free(&s);
    intern_free(in);
    return out;
}

static void test_format__text_mixed_stacks(void **state)
{
    (void)state;
    char *text = render_mixed(0, GROUP_LINENO, format_text);
    assert_string_equal(text,
                        "# : 1 traces, traceback_limit=10, total size=100 B, count=1\n"
                        "# stacks: mixed, 2 distinct native frames\n"
                        "# top 1 of 1 rows, group by lineno\n"
                        "<native> deflate (libz.so.1):0: size=100 B, count=1, average=100 B\n");
    free(text);
    text = render_mixed(SNAPSHOT_PYTHON_ONLY, GROUP_TRACEBACK, format_text);
    assert_string_equal(text, "# : 1 traces, traceback_limit=10, total size=100 B, count=1\n"
                              "# stacks: mixed, 2 distinct native frames dropped (--python-only)\n"
                              "# top 1 of 1 rows, group by traceback\n"
                              "main.py:3: size=100 B, count=1, average=100 B\n"
                              "  File \"main.py\", line 3\n  File \"x/a.py\", line 12\n");
    free(text);
    text = render_mixed(0, GROUP_LINENO, format_collapsed);
    assert_string_equal(text, "<native> main (python3):0;main.py:3;x/a.py:12;"
                              "<native> deflate (libz.so.1):0 100\n");
    free(text);
    text = render_mixed(SNAPSHOT_PYTHON_ONLY, GROUP_LINENO, format_collapsed);
    assert_string_equal(text, "main.py:3;x/a.py:12 100\n");
    free(text);
}

static void test_format__json_mixed_stacks(void **state)
{
    (void)state;
    char *json = render_mixed(0, GROUP_TRACEBACK, format_json);
    assert_non_null(strstr(json, "\"cumulative\": false, \"inclusive\": false, \"python_only\": false,"));
    assert_non_null(
        strstr(json, "\"stacks\": \"mixed\", \"distinct_native_frames\": 2, \"domains\""));
    assert_non_null(strstr(json, "\"metadata\": {\"stacks\": \"mixed\"}"));
    assert_non_null(
        strstr(json, "\"frames\": [{\"filename\": \"<native> main (python3)\", \"lineno\": 0, "
                     "\"function\": null, \"native\": true}, {\"filename\": \"main.py\", "
                     "\"lineno\": 3, \"function\": null}, "
                     "{\"filename\": \"x/a.py\", \"lineno\": 12, \"function\": null}, "
                     "{\"filename\": \"<native> deflate (libz.so.1)\", \"lineno\": 0, "
                     "\"function\": null, \"native\": true}]"));
    free(json);
    json = render_mixed(SNAPSHOT_PYTHON_ONLY, GROUP_TRACEBACK, format_json);
    assert_non_null(strstr(json, "\"python_only\": true"));
    assert_non_null(strstr(json, "\"frames\": [{\"filename\": \"main.py\", \"lineno\": 3, "
                                 "\"function\": null}, "
                                 "{\"filename\": \"x/a.py\", \"lineno\": 12, \"function\": null}]"));
    assert_null(strstr(json, "\"native\": true"));
    free(json);

    /* A Python snapshot: "stacks": "python", and a "<native> " name is
     * an ordinary file name. */
    intern *in = intern_new();
    snapshot s;
    pb_stack stacks[] = {{M0, 4}};
    static const int64_t sizes[] = {100};
    static const size_t of[] = {0};
    pb b = {0};
    pb_snapshot(&b, stacks, 1, sizes, of, 1, 0);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, SNAPSHOT_PYTHON_ONLY, &err), 0);
    free(b.buf);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n, .python_only = 1};
    json = render(&rep, format_json);
    assert_non_null(strstr(json, "\"stacks\": \"python\", \"distinct_native_frames\": 0"));
    assert_non_null(
        strstr(json, "[{\"filename\": \"<native> deflate (libz.so.1)\", \"lineno\": 0, \"function\": null}]"));
    free(json);
    char *text = render(&rep, format_text);
    assert_null(strstr(text, "# stacks"));
    free(text);
    free(rows);
    snapshot_free(&s);
    intern_free(in);
}

/* Snapshots with libmprofile's metadata: PEAK_KEYS adds trigger, is_peak,
 * peak_time and timeline (the keys of newer versions), IS_PEAK makes it a
 * peak snapshot. */
enum { PEAK_KEYS = 1, IS_PEAK = 2, EMPTY_TIMELINE = 4 };

static const pb_point TL[] = {
    {1796018928.5, 94878, 94878, 5156864},
    {1796018929.0, 56000000, 56141679, 60000000},
    {1796018929.25, 38649019, 56141679, 54243328},
};

static void load_mprofile(intern *in, snapshot *s, unsigned how, const char *trigger)
{
    pb_stack stacks[] = {{S0, 2}, {S1, 2}};
    static const int64_t sizes[] = {1000, 24, 3000000};
    static const size_t of[] = {0, 0, 1};
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_traces(&b, stacks, 2, NULL, sizes, of, 3);
    pb_snapshot_traces_done(&b, 10);
    if (how & PEAK_KEYS)
        pb_peak_metadata(&b, trigger, (how & IS_PEAK) != 0, 1796018929.0, TL,
                         how & EMPTY_TIMELINE ? 0 : 3);
    pb_str(&b, "stacks");
    pb_str(&b, "python");
    pb_str(&b, "pid");
    pb_int(&b, 4242);
    pb_str(&b, "time");
    pb_float(&b, 1796018929.75);
    pb_str(&b, "python_version");
    pb_str(&b, "3.11.2");
    pb_str(&b, "mprofile_version");
    pb_str(&b, "0.1.0");
    static const char *const keys[] = {"live_bytes", "peak_bytes", "dropped_samples",
                                       "profiler_memory", "samples", "dump_failures"};
    const int64_t vals[] = {how & IS_PEAK ? 56000000 : 3001024, 56141679, 0, 65536, 3, 0};
    for (int i = 0; i < 6; i++) {
        pb_str(&b, keys[i]);
        pb_int(&b, vals[i]);
    }
    pb_str(&b, "memory_budget_reached");
    pb_none(&b);
    pb_snapshot_end(&b);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

static char *render_mprofile(unsigned how, const char *trigger, unsigned old_how,
                             int (*fn)(FILE *, const report *))
{
    intern *in = intern_new();
    snapshot s, old;
    load_mprofile(in, &s, how, trigger);
    if (old_how != UINT32_MAX)
        load_mprofile(in, &old, old_how, "api");
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    if (old_how != UINT32_MAX)
        assert_int_equal(aggregate_diff(&old, &s, in, &o, &rows, &n), 0);
    else
        assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .old_snap = old_how != UINT32_MAX ? &old : NULL,
                  .opts = &o, .rows = rows, .nrows = n};
    char *out = render(&rep, fn);
    free(rows);
    if (old_how != UINT32_MAX)
        snapshot_free(&old);
    snapshot_free(&s);
    intern_free(in);
    return out;
}

static const char ROWS[] = "# top 2 of 2 rows, group by lineno\n"
                           "b;c.py:7: size=2930 KiB, count=1, average=2930 KiB\n"
                           "x/a.py:12: size=1024 B, count=2, average=512 B\n";

static void test_format__text_peak_snapshot(void **state)
{
    (void)state;
    char *text = render_mprofile(PEAK_KEYS | IS_PEAK, "exit", UINT32_MAX, format_text);
    char want[2048];
    snprintf(want, sizeof want, "%s%s",
             "# : 3 traces, traceback_limit=10, total size=2931 KiB, count=3\n"
             "# pid=4242, time=2026-11-30 06:08:49 UTC, trigger=exit, python_version=3.11.2, "
             "mprofile_version=0.1.0\n"
             "# peak snapshot: the live set at the peak, 2026-11-30 06:08:49 UTC "
             "(peak_bytes=53.5 MiB)\n"
             "# live_bytes=53.4 MiB, peak_bytes=53.5 MiB, profiler_memory=64.0 KiB, samples=3, "
             "dropped_samples=0\n"
             "# timeline: 3 points over 0.75 s, live from 92.7 KiB to 36.9 MiB, highest 53.4 MiB "
             "at +0.50 s\n",
             ROWS);
    assert_string_equal(text, want);
    free(text);
}

static void test_format__text_snapshot_with_trigger_and_timeline(void **state)
{
    (void)state;
    char *text = render_mprofile(PEAK_KEYS, "signal", UINT32_MAX, format_text);
    char want[2048];
    snprintf(want, sizeof want, "%s%s",
             "# : 3 traces, traceback_limit=10, total size=2931 KiB, count=3\n"
             "# pid=4242, time=2026-11-30 06:08:49 UTC, trigger=signal, python_version=3.11.2, "
             "mprofile_version=0.1.0\n"
             "# live_bytes=2931 KiB, peak_bytes=53.5 MiB, profiler_memory=64.0 KiB, samples=3, "
             "dropped_samples=0\n"
             "# timeline: 3 points over 0.75 s, live from 92.7 KiB to 36.9 MiB, highest 53.4 MiB "
             "at +0.50 s\n",
             ROWS);
    assert_string_equal(text, want);
    free(text);

    /* An empty timeline (the first snapshot of a run) prints no line; a
     * trigger with control characters stays on its line. */
    text = render_mprofile(PEAK_KEYS | EMPTY_TIMELINE, "a\nb\x7f", UINT32_MAX, format_text);
    assert_non_null(strstr(text, ", trigger=a?b?, python_version="));
    assert_null(strstr(text, "# timeline"));
    assert_null(strstr(text, "# peak snapshot"));
    free(text);

    /* --diff: each header has its own lines. */
    text = render_mprofile(PEAK_KEYS | IS_PEAK, "exit", PEAK_KEYS | EMPTY_TIMELINE, format_text);
    const char *old = strstr(text, "# old : 3 traces");
    const char *new = strstr(text, "# new : 3 traces");
    assert_non_null(old);
    assert_non_null(new);
    assert_true(old < new);
    const char *peak = strstr(text, "# peak snapshot: the live set at the peak");
    assert_true(peak > new);
    assert_true(strstr(text, ", trigger=api, ") < new);
    assert_true(strstr(text, ", trigger=exit, ") > new);
    assert_true(strstr(text, "# timeline: 3 points") > new);
    free(text);
}

/* Snapshots of older libmprofile versions: exactly the header they always
 * had. */
static void test_format__text_snapshot_without_peak_keys(void **state)
{
    (void)state;
    char *text = render_mprofile(0, NULL, UINT32_MAX, format_text);
    char want[2048];
    snprintf(want, sizeof want, "%s%s",
             "# : 3 traces, traceback_limit=10, total size=2931 KiB, count=3\n"
             "# pid=4242, time=2026-11-30 06:08:49 UTC, python_version=3.11.2, "
             "mprofile_version=0.1.0\n"
             "# live_bytes=2931 KiB, peak_bytes=53.5 MiB, profiler_memory=64.0 KiB, samples=3, "
             "dropped_samples=0\n",
             ROWS);
    assert_string_equal(text, want);
    free(text);
    /* The keys without trigger: no trigger= either. */
    text = render_mprofile(PEAK_KEYS, NULL, UINT32_MAX, format_text);
    assert_non_null(strstr(text, "UTC, python_version=3.11.2, mprofile_version=0.1.0\n"));
    free(text);
}

static void test_format__json_peak_and_timeline(void **state)
{
    (void)state;
    char *json = render_mprofile(PEAK_KEYS | IS_PEAK, "growth", UINT32_MAX, format_json);
    assert_non_null(strstr(
        json, "\"metadata\": {\"trigger\": \"growth\", \"is_peak\": true, \"peak_time\": 1796018929, "
              "\"timeline\": [[1796018928.5, 94878, 94878, 5156864], "
              "[1796018929, 56000000, 56141679, 60000000], "
              "[1796018929.25, 38649019, 56141679, 54243328]], \"stacks\": \"python\", "
              "\"pid\": 4242, \"time\": 1796018929.75, "));
    assert_non_null(strstr(json, "\"memory_budget_reached\": null}}"));
    free(json);
    json = render_mprofile(PEAK_KEYS | EMPTY_TIMELINE, "terminate", UINT32_MAX, format_json);
    assert_non_null(strstr(json, "{\"trigger\": \"terminate\", \"is_peak\": false, "
                                 "\"peak_time\": 1796018929, \"timeline\": [], \"stacks\": "));
    free(json);
    json = render_mprofile(0, NULL, UINT32_MAX, format_json);
    assert_non_null(strstr(json, "\"metadata\": {\"stacks\": \"python\", \"pid\": 4242, "));
    assert_null(strstr(json, "timeline"));
    assert_null(strstr(json, "is_peak"));
    free(json);
    json = render_mprofile(PEAK_KEYS | IS_PEAK, "exit", PEAK_KEYS, format_json);
    const char *old = strstr(json, "\"old_snapshot\": ");
    const char *new = strstr(json, "\"snapshot\": ");
    assert_non_null(old);
    assert_true(new > old);
    assert_true(strstr(json, "\"is_peak\": false") < new);
    assert_true(strstr(json, "\"is_peak\": true") > new);
    free(json);
}

/* The timeline first, alone or last among the metadata: one comma between
 * members, none around. */
static void test_format__json_timeline_position(void **state)
{
    (void)state;
    static const char *const want[] = {
        "\"metadata\": {\"timeline\": [[1796018928.5, 94878, 94878, 5156864]]}}",
        "\"metadata\": {\"timeline\": [[1796018928.5, 94878, 94878, 5156864]], \"pid\": 7}}",
        "\"metadata\": {\"pid\": 7, \"timeline\": [[1796018928.5, 94878, 94878, 5156864]]}}",
    };
    for (int v = 0; v < 3; v++) {
        pb_stack stacks[] = {{S0, 2}};
        static const int64_t sizes[] = {10};
        static const size_t of[] = {0};
        pb b = {0};
        pb_snapshot_begin(&b);
        pb_traces(&b, stacks, 1, NULL, sizes, of, 1);
        pb_snapshot_traces_done(&b, 10);
        if (v == 2) {
            pb_str(&b, "pid");
            pb_int(&b, 7);
        }
        pb_str(&b, "timeline");
        pb_timeline(&b, TL, 1);
        if (v == 1) {
            pb_str(&b, "pid");
            pb_int(&b, 7);
        }
        pb_snapshot_end(&b);
        intern *in = intern_new();
        snapshot s;
        snapshot_error err;
        assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
        free(b.buf);
        agg_opts o = {.group = GROUP_LINENO};
        row *rows;
        size_t n;
        assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
        report rep = {.in = in, .snap = &s, .opts = &o, .rows = rows, .nrows = n};
        char *json = render(&rep, format_json);
        if (!strstr(json, want[v]))
            fail_msg("variant %d: %s", v, json);
        free(json);
        char *text = render(&rep, format_text);
        assert_non_null(strstr(text, "# timeline: 1 point, live 92.7 KiB\n"));
        free(text);
        free(rows);
        snapshot_free(&s);
        intern_free(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format__size_like_tracemalloc),
        cmocka_unit_test(test_format__text_rows_are_str_statistic),
        cmocka_unit_test(test_format__traceback_rows_show_oldest_frame_then_frames),
        cmocka_unit_test(test_format__sampled_rows_add_rse_and_header),
        cmocka_unit_test(test_format__json_and_collapsed),
        cmocka_unit_test(test_format__text_names),
        cmocka_unit_test(test_format__json_and_collapsed_names),
        cmocka_unit_test(test_format__names_of_an_empty_traceback),
        cmocka_unit_test(test_format__sampled_diff_rows_have_standard_errors),
        cmocka_unit_test(test_format__inclusive_and_hidden_imports_in_headers),
        cmocka_unit_test(test_format__text_domains_header_and_markers),
        cmocka_unit_test(test_format__json_domains),
        cmocka_unit_test(test_format__collapsed_with_domains),
        cmocka_unit_test(test_format__text_mixed_stacks),
        cmocka_unit_test(test_format__json_mixed_stacks),
        cmocka_unit_test(test_format__text_peak_snapshot),
        cmocka_unit_test(test_format__text_snapshot_with_trigger_and_timeline),
        cmocka_unit_test(test_format__text_snapshot_without_peak_keys),
        cmocka_unit_test(test_format__json_peak_and_timeline),
        cmocka_unit_test(test_format__json_timeline_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
