/* Unit tests of grouping, cumulative mode, filters, ordering and diff. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "aggregate.h"
#include "pickle_builder.h"

/* Stacks, most recent frame first. */
static const pb_frame S0[] = {{"b.py", 5}, {"a.py", 1}};
static const pb_frame S1[] = {{"b.py", 5}, {"c.py", 9}};
static const pb_frame S2[] = {{"r.py", 3}, {"r.py", 3}, {"r.py", 7}}; /* recursion */
static const pb_frame S3[] = {{"a.py", 2}, {"a.py", 1}};

typedef struct fixture {
    intern *in;
    snapshot s;
} fixture;

static void load(fixture *f, const int64_t *sizes, const size_t *of, size_t n)
{
    pb_stack stacks[] = {{S0, 2}, {S1, 2}, {S2, 3}, {S3, 2}};
    pb b = {0};
    pb_snapshot(&b, stacks, 4, sizes, of, n, 0);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&f->s, f->in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->in = intern_new();
    static const int64_t sizes[] = {100, 200, 30, 30, 5};
    static const size_t of[] = {0, 1, 2, 2, 3};
    load(f, sizes, of, 5);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    snapshot_free(&f->s);
    intern_free(f->in);
    free(f);
    return 0;
}

static void frame_of(fixture *f, group_by g, const row *r, size_t i, const char *file, int64_t lineno)
{
    int32_t fid;
    int64_t l;
    size_t len;
    row_frame(f->in, g, r, i, &fid, &l);
    const char *name = intern_file_name(f->in, fid, &len);
    assert_int_equal(len, strlen(file));
    assert_memory_equal(name, file, len);
    assert_int_equal(l, lineno);
}

static void test_aggregate__lineno_groups_by_most_recent_frame(void **state)
{
    fixture *f = *state;
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].size, 300);
    assert_true(rows[0].count == 2);
    frame_of(f, o.group, &rows[0], 0, "b.py", 5);
    assert_int_equal(rows[1].size, 60);
    frame_of(f, o.group, &rows[1], 0, "r.py", 3);
    frame_of(f, o.group, &rows[2], 0, "a.py", 2);
    free(rows);
}

static void test_aggregate__filename_and_traceback_keys(void **state)
{
    fixture *f = *state;
    agg_opts o = {.group = GROUP_FILENAME};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    frame_of(f, o.group, &rows[0], 0, "b.py", 0);
    free(rows);
    o.group = GROUP_TRACEBACK;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rows[0].size, 200);
    assert_int_equal(row_nframes(f->in, o.group, &rows[0]), 2);
    /* oldest frame first, as tracemalloc.Traceback */
    frame_of(f, o.group, &rows[0], 0, "c.py", 9);
    frame_of(f, o.group, &rows[0], 1, "b.py", 5);
    free(rows);
}

static void test_aggregate__cumulative_counts_every_frame(void **state)
{
    fixture *f = *state;
    agg_opts o = {.group = GROUP_LINENO, .cumulative = 1};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    /* r.py:3 appears twice in S2: 2 traces x 2 frames */
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t file;
        int64_t lineno;
        size_t len;
        row_frame(f->in, o.group, &rows[i], 0, &file, &lineno);
        const char *name = intern_file_name(f->in, file, &len);
        if (len == 4 && memcmp(name, "r.py", 4) == 0 && lineno == 3) {
            assert_int_equal(rows[i].size, 120);
            assert_true(rows[i].count == 4);
            found = 1;
        }
    }
    assert_true(found);
    free(rows);
    o.group = GROUP_FILENAME;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(rows[0].size, 300); /* b.py */
    frame_of(f, o.group, &rows[1], 0, "c.py", 0);
    frame_of(f, o.group, &rows[2], 0, "r.py", 0);
    assert_int_equal(rows[2].size, 180); /* 3 frames x 60 */
    frame_of(f, o.group, &rows[3], 0, "a.py", 0);
    assert_int_equal(rows[3].size, 110); /* S0 once, S3 twice */
    free(rows);
}

/* --inclusive: a key once per trace, however often its stack repeats it. */
static void test_aggregate__inclusive_counts_each_key_once_per_trace(void **state)
{
    fixture *f = *state;
    agg_opts o = {.group = GROUP_LINENO, .inclusive = 1};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    /* b.py:5 300, c.py:9 200, a.py:1 105, r.py:3 60, r.py:7 60, a.py:2 5:
     * r.py:3 is twice in S2 (recursion) but adds its 2 traces once. */
    assert_int_equal(n, 6);
    frame_of(f, o.group, &rows[0], 0, "b.py", 5);
    assert_int_equal(rows[0].size, 300);
    frame_of(f, o.group, &rows[2], 0, "a.py", 1);
    assert_int_equal(rows[2].size, 105);
    frame_of(f, o.group, &rows[3], 0, "r.py", 7);
    frame_of(f, o.group, &rows[4], 0, "r.py", 3);
    assert_int_equal(rows[4].size, 60);
    assert_true(rows[4].count == 2);
    int64_t total;
    double count, var;
    snapshot_totals(&f->s, &total, &count, &var);
    for (size_t i = 0; i < n; i++)
        assert_true(rows[i].size <= total);
    free(rows);
    o.group = GROUP_FILENAME;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 4);
    frame_of(f, o.group, &rows[2], 0, "a.py", 0);
    assert_int_equal(rows[2].size, 105); /* S3 has a.py twice: once */
    frame_of(f, o.group, &rows[3], 0, "r.py", 0);
    assert_int_equal(rows[3].size, 60); /* 3 frames of r.py: once */
    free(rows);
}

/* A 4 MiB heap of one deeply recursive stack: no inclusive row exceeds
 * 4 MiB, where cumulative rows count each recursion level; with sampling
 * the variance is that of a single count, not k^2 times it. */
static void test_aggregate__inclusive_recursion_never_exceeds_the_heap(void **state)
{
    (void)state;
    static const pb_frame deep[] = {{"walk.py", 4}, {"walk.py", 4}, {"walk.py", 4},
                                    {"walk.py", 4}, {"walk.py", 9}, {"main.py", 1}};
    pb_stack stacks[] = {{deep, 6}};
    static const int64_t sizes[] = {1 << 20, 1 << 20, 1 << 20, 1 << 20};
    static const size_t of[] = {0, 0, 0, 0};
    for (int sampled = 0; sampled < 2; sampled++) {
        intern *in = intern_new();
        snapshot s;
        pb b = {0};
        pb_snapshot(&b, stacks, 1, sizes, of, 4, sampled ? 65536 : 0);
        snapshot_error err;
        assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
        free(b.buf);
        for (group_by g = GROUP_LINENO; g <= GROUP_FILENAME; g++) {
            agg_opts o = {.group = g, .inclusive = 1};
            row *rows;
            size_t n;
            assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
            assert_int_equal(n, g == GROUP_LINENO ? 3 : 2);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(rows[i].size, 4 << 20);
                assert_true(rows[i].var == s.acc[0].var);
            }
            free(rows);
            o = (agg_opts){.group = g, .cumulative = 1};
            assert_int_equal(aggregate_rows(&s, in, &o, &rows, &n), 0);
            assert_int_equal(rows[0].size, (g == GROUP_LINENO ? 4 : 5) * (4 << 20));
            free(rows);
        }
        /* --diff of inclusive rows: the old snapshot had one trace. */
        snapshot old;
        b = (pb){0};
        pb_snapshot(&b, stacks, 1, sizes, of, 1, sampled ? 65536 : 0);
        assert_int_equal(snapshot_from_buffer(&old, in, b.buf, b.len, 0, &err), 0);
        free(b.buf);
        agg_opts o = {.group = GROUP_LINENO, .inclusive = 1};
        row *rows;
        size_t n;
        assert_int_equal(aggregate_diff(&old, &s, in, &o, &rows, &n), 0);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(rows[i].size_diff, 3 << 20);
        free(rows);
        snapshot_free(&old);
        snapshot_free(&s);
        intern_free(in);
    }
}

static void test_aggregate__ties_break_on_traceback_descending(void **state)
{
    (void)state;
    fixture f = {.in = intern_new()};
    static const int64_t sizes[] = {10, 10, 10};
    static const size_t of[] = {0, 1, 3};
    load(&f, sizes, of, 3);
    agg_opts o = {.group = GROUP_TRACEBACK};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&f.s, f.in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    /* equal (size, count): reverse order of (oldest frame, ...) tuples:
     * (c.py,9),(b.py,5) > (a.py,1),(b.py,5) > (a.py,1),(a.py,2) */
    frame_of(&f, o.group, &rows[0], 0, "c.py", 9);
    frame_of(&f, o.group, &rows[1], 1, "b.py", 5);
    frame_of(&f, o.group, &rows[2], 1, "a.py", 2);
    free(rows);
    snapshot_free(&f.s);
    intern_free(f.in);
}

static void test_aggregate__filters_match_tracemalloc(void **state)
{
    fixture *f = *state;
    report_filter flt[2] = {{glob_compile("a.py", 4), 1}, {glob_compile("r*", 2), 0}};
    agg_opts o = {.group = GROUP_LINENO, .filters = flt, .nfilters = 1};
    row *rows;
    size_t n;
    /* include a.py on the most recent frame only: S3 */
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].size, 5);
    free(rows);
    /* any frame: S0 and S3 */
    o.all_frames = 1;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 2);
    free(rows);
    /* exclude r*: everything but S2 */
    o.filters = &flt[1];
    o.all_frames = 0;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].size + rows[1].size, 305);
    free(rows);
    glob_free(flt[0].glob);
    glob_free(flt[1].glob);
}

static void test_aggregate__diff_against_old(void **state)
{
    fixture *f = *state;
    fixture old = {.in = f->in};
    static const int64_t sizes[] = {150, 30, 999};
    static const size_t of[] = {0, 2, 3};
    load(&old, sizes, of, 3);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_diff(&old.s, &f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    /* sorted by abs(size_diff): a.py:2 (-994), b.py:5 (+150), r.py:3 (+30) */
    frame_of(f, o.group, &rows[0], 0, "a.py", 2);
    assert_int_equal(rows[0].size, 5);
    assert_int_equal(rows[0].size_diff, -994);
    assert_true(rows[0].count_diff == 0);
    assert_int_equal(rows[1].size_diff, 150);
    assert_true(rows[1].count_diff == 1);
    assert_int_equal(rows[2].size_diff, 30);
    free(rows);
    snapshot_free(&old.s);
}

/* Domains: S0 python and native, S1 native, S2 numpy's, S3 python. */
#define NATIVE 1297108545
#define NUMPY 389047

static void load_domains(fixture *f, const int64_t *doms, const int64_t *sizes, const size_t *of,
                         size_t n)
{
    pb_stack stacks[] = {{S0, 2}, {S1, 2}, {S2, 3}, {S3, 2}};
    pb b = {0};
    pb_snapshot_domains(&b, stacks, 4, doms, sizes, of, n, 0);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&f->s, f->in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

static int setup_domains(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->in = intern_new();
    static const int64_t doms[] = {0, NATIVE, NATIVE, NUMPY, NUMPY, 0};
    static const int64_t sizes[] = {100, 1000, 200, 30, 30, 5};
    static const size_t of[] = {0, 0, 1, 2, 2, 3};
    load_domains(f, doms, sizes, of, 6);
    *state = f;
    return 0;
}

static agg_opts with_domains(group_by g, domain_spec *specs, const char *const *text,
                             const int *inclusive, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(domain_spec_parse(text[i], inclusive[i], &specs[i]), 0);
    return (agg_opts){.group = g, .domains = specs, .ndomains = n};
}

static void row_is(fixture *f, const row *r, const char *file, int64_t lineno, int64_t size,
                   int mixed, int64_t domain)
{
    frame_of(f, GROUP_LINENO, r, 0, file, lineno);
    assert_int_equal(r->size, size);
    assert_int_equal(r->mixed, mixed);
    if (!mixed)
        assert_true(r->domain == domain);
}

static void test_aggregate__rows_know_their_domains(void **state)
{
    fixture *f = *state;
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    row_is(f, &rows[0], "b.py", 5, 1300, 1, 0);
    row_is(f, &rows[1], "r.py", 3, 60, 0, NUMPY);
    row_is(f, &rows[2], "a.py", 2, 5, 0, 0);
    int64_t *doms;
    size_t *begin;
    assert_int_equal(aggregate_row_domains(&f->s, NULL, f->in, &o, rows, n, &doms, &begin), 0);
    assert_int_equal(begin[1] - begin[0], 2);
    assert_true(doms[begin[0]] == 0 && doms[begin[0] + 1] == NATIVE);
    assert_int_equal(begin[2], begin[1]);
    assert_int_equal(begin[3], begin[2]);
    free(doms);
    free(begin);
    free(rows);

    /* Cumulative: a.py gets S0 (python and native) and S3 twice. */
    o = (agg_opts){.group = GROUP_FILENAME, .cumulative = 1};
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    size_t a = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        int32_t file;
        int64_t lineno;
        size_t len;
        row_frame(f->in, o.group, &rows[i], 0, &file, &lineno);
        if (memcmp(intern_file_name(f->in, file, &len), "a.py", 4) == 0)
            a = i;
    }
    assert_true(a < n);
    assert_int_equal(rows[a].size, 1110);
    assert_true(rows[a].mixed);
    assert_int_equal(aggregate_row_domains(&f->s, NULL, f->in, &o, rows, n, &doms, &begin), 0);
    assert_int_equal(begin[a + 1] - begin[a], 2);
    assert_true(doms[begin[a]] == 0 && doms[begin[a] + 1] == NATIVE);
    free(doms);
    free(begin);
    free(rows);
}

static void test_aggregate__domain_filters_apply_before_grouping(void **state)
{
    fixture *f = *state;
    domain_spec specs[4];
    row *rows;
    size_t n;
    static const int inc[] = {1, 1}, exc[] = {0};

    static const char *const native[] = {"native"};
    agg_opts o = with_domains(GROUP_LINENO, specs, native, inc, 1);
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 1);
    row_is(f, &rows[0], "b.py", 5, 1200, 0, NATIVE);
    free(rows);

    o = with_domains(GROUP_LINENO, specs, native, exc, 1);
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    row_is(f, &rows[0], "b.py", 5, 100, 0, 0);
    row_is(f, &rows[1], "r.py", 3, 60, 0, NUMPY);
    free(rows);

    static const char *const tracked[] = {"tracked"};
    o = with_domains(GROUP_LINENO, specs, tracked, inc, 1);
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 1);
    row_is(f, &rows[0], "r.py", 3, 60, 0, NUMPY);
    free(rows);

    /* Inclusive specs are ORed. */
    static const char *const two[] = {"python", "389047"};
    o = with_domains(GROUP_LINENO, specs, two, inc, 2);
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    row_is(f, &rows[0], "b.py", 5, 100, 0, 0);
    free(rows);

    /* A domain that no trace has: no rows. */
    static const char *const none[] = {"7"};
    o = with_domains(GROUP_LINENO, specs, none, inc, 1);
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 0);
    free(rows);

    /* With file filters: both must let the trace through. */
    report_filter flt = {glob_compile("c.py", 4), 1};
    o = with_domains(GROUP_LINENO, specs, native, inc, 1);
    o.filters = &flt;
    o.nfilters = 1;
    o.all_frames = 1;
    assert_int_equal(aggregate_rows(&f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 1);
    row_is(f, &rows[0], "b.py", 5, 200, 0, NATIVE);
    free(rows);
    glob_free(flt.glob);

    /* The per-stack view: the sums of the kept domains only. */
    o = with_domains(GROUP_LINENO, specs, two, inc, 2);
    acc_view v;
    assert_int_equal(aggregate_view(&f->s, &o, &v), 0);
    assert_int_equal(v.acc[0].size, 100);
    assert_int_equal(v.acc[1].traces, 0);
    assert_int_equal(v.acc[2].size, 60);
    assert_non_null(v.dom);
    assert_true(v.dom[2] == NUMPY && !v.mixed[2]);
    aggregate_view_free(&v);
    o = (agg_opts){.group = GROUP_LINENO};
    assert_int_equal(aggregate_view(&f->s, &o, &v), 0);
    assert_ptr_equal(v.acc, f->s.acc); /* nothing filtered: no copy */
    assert_true(v.mixed[0] && !v.mixed[1] && v.dom[1] == NATIVE);
    aggregate_view_free(&v);
}

static void test_aggregate__diff_with_domains(void **state)
{
    fixture *f = *state;
    fixture old = {.in = f->in};
    static const int64_t doms[] = {NATIVE, 0};
    static const int64_t sizes[] = {999, 30};
    static const size_t of[] = {3, 2};
    load_domains(&old, doms, sizes, of, 2);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_diff(&old.s, &f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    /* b.py:5 (+1300), a.py:2 (-994), r.py:3 (+30): all mixed across the
     * two snapshots. */
    frame_of(f, o.group, &rows[0], 0, "b.py", 5);
    frame_of(f, o.group, &rows[1], 0, "a.py", 2);
    frame_of(f, o.group, &rows[2], 0, "r.py", 3);
    assert_true(rows[0].mixed && rows[1].mixed && rows[2].mixed);
    int64_t *dl;
    size_t *begin;
    assert_int_equal(aggregate_row_domains(&f->s, &old.s, f->in, &o, rows, n, &dl, &begin), 0);
    assert_int_equal(begin[2] - begin[1], 2);
    assert_true(dl[begin[1]] == 0 && dl[begin[1] + 1] == NATIVE);
    assert_int_equal(begin[3] - begin[2], 2);
    assert_true(dl[begin[2]] == 0 && dl[begin[2] + 1] == NUMPY);
    free(dl);
    free(begin);
    free(rows);

    /* --domain native on both: a.py:2 only in the old snapshot. */
    domain_spec spec;
    assert_int_equal(domain_spec_parse("native", 1, &spec), 0);
    o.domains = &spec;
    o.ndomains = 1;
    assert_int_equal(aggregate_diff(&old.s, &f->s, f->in, &o, &rows, &n), 0);
    assert_int_equal(n, 2);
    frame_of(f, o.group, &rows[0], 0, "b.py", 5);
    assert_int_equal(rows[0].size_diff, 1200);
    frame_of(f, o.group, &rows[1], 0, "a.py", 2);
    assert_int_equal(rows[1].size, 0);
    assert_int_equal(rows[1].size_diff, -999);
    assert_false(rows[0].mixed || rows[1].mixed);
    assert_true(rows[0].domain == NATIVE && rows[1].domain == NATIVE);
    free(rows);
    snapshot_free(&old.s);
}

/* Mixed stacks: S0 and S1 with native frames at the top, the bottom and
 * in the middle, and a stack of native frames only. */
static const pb_frame N0[] = {
    {"<native> deflate (libz.so.1)", 0}, {"b.py", 5}, {"a.py", 1}, {"<native> main (python3)", 0}};
static const pb_frame N1[] = {
    {"b.py", 5}, {"<native> PyObject_Call (libpython3.so)", 0}, {"c.py", 9}};
static const pb_frame N2[] = {{"<native> worker (libx.so)", 0}};

static void load_mixed(fixture *f, unsigned flags)
{
    pb_stack stacks[] = {{N0, 4}, {N1, 3}, {N2, 1}};
    static const int64_t sizes[] = {100, 200, 7, 50};
    static const size_t of[] = {0, 1, 2, 0};
    pb b = {0};
    pb_snapshot_stacks(&b, stacks, 3, sizes, of, 4, "mixed");
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&f->s, f->in, b.buf, b.len, flags, &err), 0);
    free(b.buf);
}

/* Without --python-only a mixed snapshot is grouped as tracemalloc groups
 * it: by its most recent frame, native or not. */
static void test_aggregate__mixed_rows_keep_tracemalloc_semantics(void **state)
{
    (void)state;
    fixture f = {.in = intern_new()};
    load_mixed(&f, 0);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&f.s, f.in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    frame_of(&f, o.group, &rows[0], 0, "b.py", 5);
    assert_int_equal(rows[0].size, 200);
    frame_of(&f, o.group, &rows[1], 0, "<native> deflate (libz.so.1)", 0);
    assert_int_equal(rows[1].size, 150);
    frame_of(&f, o.group, &rows[2], 0, "<native> worker (libx.so)", 0);
    free(rows);
    o.cumulative = 1; /* one row per distinct frame, native ones included */
    assert_int_equal(aggregate_rows(&f.s, f.in, &o, &rows, &n), 0);
    assert_int_equal(n, 7);
    free(rows);
    snapshot_free(&f.s);
    intern_free(f.in);
}

/* --python-only: native frames are gone before grouping and filters. */
static void test_aggregate__python_only_rows(void **state)
{
    (void)state;
    fixture f = {.in = intern_new()};
    load_mixed(&f, SNAPSHOT_PYTHON_ONLY);
    agg_opts o = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&f.s, f.in, &o, &rows, &n), 0);
    assert_int_equal(n, 2);
    frame_of(&f, o.group, &rows[0], 0, "b.py", 5);
    assert_int_equal(rows[0].size, 350);
    frame_of(&f, o.group, &rows[1], 0, "<unknown>", 0);
    assert_int_equal(rows[1].size, 7);
    free(rows);
    o.group = GROUP_TRACEBACK;
    assert_int_equal(aggregate_rows(&f.s, f.in, &o, &rows, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(row_nframes(f.in, o.group, &rows[0]), 2);
    frame_of(&f, o.group, &rows[0], 0, "c.py", 9);
    frame_of(&f, o.group, &rows[0], 1, "b.py", 5);
    free(rows);
    /* The most recent frame of every trace is a Python one for filters. */
    report_filter flt = {glob_compile("b.py", 4), 1};
    o = (agg_opts){.group = GROUP_LINENO, .filters = &flt, .nfilters = 1};
    assert_int_equal(aggregate_rows(&f.s, f.in, &o, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].size, 350);
    free(rows);
    glob_free(flt.glob);

    /* --diff against a Python-only recording of the same blocks. */
    fixture old = {.in = f.in};
    static const int64_t sizes[] = {150, 200};
    static const size_t of[] = {0, 1};
    load(&old, sizes, of, 2);
    o = (agg_opts){.group = GROUP_LINENO};
    assert_int_equal(aggregate_diff(&old.s, &f.s, f.in, &o, &rows, &n), 0);
    assert_int_equal(n, 2);
    frame_of(&f, o.group, &rows[0], 0, "<unknown>", 0);
    assert_int_equal(rows[0].size_diff, 7);
    frame_of(&f, o.group, &rows[1], 0, "b.py", 5);
    assert_int_equal(rows[1].size_diff, 0);
    free(rows);
    snapshot_free(&old.s);
    snapshot_free(&f.s);
    intern_free(f.in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_aggregate__lineno_groups_by_most_recent_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregate__filename_and_traceback_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregate__cumulative_counts_every_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregate__inclusive_counts_each_key_once_per_trace,
                                        setup, teardown),
        cmocka_unit_test(test_aggregate__inclusive_recursion_never_exceeds_the_heap),
        cmocka_unit_test(test_aggregate__ties_break_on_traceback_descending),
        cmocka_unit_test_setup_teardown(test_aggregate__filters_match_tracemalloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregate__diff_against_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregate__rows_know_their_domains, setup_domains, teardown),
        cmocka_unit_test_setup_teardown(test_aggregate__domain_filters_apply_before_grouping,
                                        setup_domains, teardown),
        cmocka_unit_test_setup_teardown(test_aggregate__diff_with_domains, setup_domains, teardown),
        cmocka_unit_test(test_aggregate__mixed_rows_keep_tracemalloc_semantics),
        cmocka_unit_test(test_aggregate__python_only_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
