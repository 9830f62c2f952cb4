/* Unit tests of merging: the rows of merged snapshots are those of one
 * snapshot holding all their traces; sums, estimated counts, variances and
 * domains add, whatever the sample rates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "aggregate.h"
#include "format.h"
#include "merge.h"
#include "pickle_builder.h"

static const pb_frame S0[] = {{"b.py", 5}, {"a.py", 1}};
static const pb_frame S1[] = {{"b.py", 5}, {"c.py", 9}};
static const pb_frame S2[] = {{"r.py", 3}, {"r.py", 3}, {"r.py", 7}};

#define NATIVE 1297108545

static void load(snapshot *s, intern *in, const int64_t *doms, const int64_t *sizes,
                 const size_t *of, size_t n, int64_t rate)
{
    pb_stack stacks[] = {{S0, 2}, {S1, 2}, {S2, 3}};
    pb b = {0};
    pb_snapshot_domains(&b, stacks, 3, doms, sizes, of, n, rate);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

static void same_rows(const row *a, size_t na, const row *b, size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(a[i].key, b[i].key);
        assert_int_equal(a[i].size, b[i].size);
        assert_true(fabs(a[i].count - b[i].count) < 1e-9 * (1 + b[i].count));
        assert_true(fabs(a[i].var - b[i].var) < 1e-6 * (1 + b[i].var));
        assert_int_equal(a[i].mixed, b[i].mixed);
        assert_int_equal(a[i].domain, b[i].domain);
    }
}

/* Two snapshots of several domains merged = one snapshot of all their
 * traces, for every key type, cumulative mode and domain filter. */
static void test_merge__as_one_snapshot(void **state)
{
    (void)state;
    intern *in = intern_new();
    static const int64_t da[] = {0, NATIVE, 0}, sa[] = {100, 1000, 30};
    static const size_t oa[] = {0, 0, 2};
    static const int64_t db[] = {0, 0, 7}, sb[] = {200, 5, 40};
    static const size_t ob[] = {1, 0, 2};
    static const int64_t dall[] = {0, NATIVE, 0, 0, 0, 7}, sall[] = {100, 1000, 30, 200, 5, 40};
    static const size_t oall[] = {0, 0, 2, 1, 0, 2};
    for (int rate = 1; rate <= 4096; rate *= 4096) {
        snapshot a, b, all, merged;
        load(&a, in, da, sa, oa, 3, rate);
        load(&b, in, db, sb, ob, 3, rate);
        load(&all, in, dall, sall, oall, 6, rate);
        const snapshot *inputs[] = {&a, &b};
        assert_int_equal(snapshot_merge(&merged, inputs, 2, in), 0);
        assert_int_equal(merged.ntraces, 6);
        assert_int_equal(merged.sample_rate, rate);
        assert_int_equal(merged.ndomains, 3);
        for (size_t d = 0; d < 3; d++) {
            assert_int_equal(merged.domains[d].domain, all.domains[d].domain);
            assert_int_equal(merged.domains[d].sum.size, all.domains[d].sum.size);
            assert_int_equal(merged.domains[d].sum.traces, all.domains[d].sum.traces);
        }
        static const domain_spec python = {0, 0, 1}, native = {0, NATIVE, 0};
        for (int g = GROUP_LINENO; g <= GROUP_TRACEBACK; g++)
            for (int cum = 0; cum <= (g != GROUP_TRACEBACK); cum++)
                for (int f = 0; f < 3; f++) {
                    agg_opts o = {.group = (group_by)g, .cumulative = cum,
                                  .domains = f == 1 ? &python : &native, .ndomains = f != 0};
                    row *r1, *r2;
                    size_t n1, n2;
                    assert_int_equal(aggregate_rows(&merged, in, &o, &r1, &n1), 0);
                    assert_int_equal(aggregate_rows(&all, in, &o, &r2, &n2), 0);
                    same_rows(r1, n1, r2, n2);
                    free(r1);
                    free(r2);
                }
        snapshot_free(&merged);
        snapshot_free(&a);
        snapshot_free(&b);
        snapshot_free(&all);
    }
    intern_free(in);
}

/* Different sample rates: each stack's sums are the sums of the inputs';
 * the merged snapshot is sampled, at the largest rate. */
static void test_merge__different_rates(void **state)
{
    (void)state;
    intern *in = intern_new();
    static const int64_t sa[] = {70000, 65536}, sb[] = {600000, 4096};
    static const size_t oa[] = {0, 1}, ob[] = {0, 1};
    snapshot a, b, c, merged;
    load(&a, in, NULL, sa, oa, 2, 65536);
    load(&b, in, NULL, sb, ob, 2, 1);
    load(&c, in, NULL, sb, ob, 2, 524288);
    const snapshot *inputs[] = {&a, &b, &c};
    assert_int_equal(snapshot_merge(&merged, inputs, 3, in), 0);
    assert_int_equal(merged.sample_rate, 524288);
    assert_true(snapshot_is_sampled(&merged));
    for (size_t st = 0; st < merged.nacc; st++) {
        stack_acc sum = {0};
        for (int i = 0; i < 3; i++) {
            if (st >= inputs[i]->nacc)
                continue;
            sum.size += inputs[i]->acc[st].size;
            sum.traces += inputs[i]->acc[st].traces;
            sum.count += inputs[i]->acc[st].count;
            sum.var += inputs[i]->acc[st].var;
        }
        assert_int_equal(merged.acc[st].size, sum.size);
        assert_int_equal(merged.acc[st].traces, sum.traces);
        assert_true(fabs(merged.acc[st].count - sum.count) < 1e-9 * (1 + sum.count));
        assert_true(fabs(merged.acc[st].var - sum.var) < 1e-6 * (1 + sum.var));
    }
    /* The exact snapshot adds no variance. */
    assert_true(b.acc[0].var == 0);
    assert_true(merged.acc[0].var > 0);
    assert_int_equal(merged.ndomains, 1);
    assert_null(merged.sd);
    snapshot_free(&merged);
    snapshot_free(&a);
    snapshot_free(&b);
    snapshot_free(&c);
    intern_free(in);
}

static void test_merge__pid(void **state)
{
    (void)state;
    intern *in = intern_new();
    pb_stack stacks[] = {{S0, 2}};
    static const int64_t sizes[] = {10};
    static const size_t of[] = {0};
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_traces(&b, stacks, 1, NULL, sizes, of, 1);
    pb_snapshot_traces_done(&b, 10);
    pb_str(&b, "pid");
    pb_int(&b, 4321);
    pb_snapshot_end(&b);
    snapshot s, t;
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(&s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
    int has;
    assert_int_equal(snapshot_pid(&s, &has), 4321);
    assert_true(has);
    load(&t, in, NULL, sizes, of, 1, 0);
    assert_int_equal(snapshot_pid(&t, &has), 0);
    assert_false(has);
    /* Merging nothing gives an empty snapshot. */
    snapshot none;
    assert_int_equal(snapshot_merge(&none, NULL, 0, in), 0);
    assert_int_equal(none.ntraces, 0);
    assert_int_equal(none.ndomains, 0);
    snapshot_free(&none);
    snapshot_free(&s);
    snapshot_free(&t);
    intern_free(in);
}

/* A snapshot of S0 traces with a pid (< 0: none) and a sample rate. */
static void load_pid(snapshot *s, intern *in, const char *path, int64_t pid, int64_t rate,
                     const int64_t *sizes, size_t n)
{
    pb_stack stacks[] = {{S0, 2}, {S1, 2}};
    size_t of[] = {0, 1, 0, 1};
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_traces(&b, stacks, 2, NULL, sizes, of, n);
    pb_snapshot_traces_done(&b, 10);
    if (pid >= 0) {
        pb_str(&b, "pid");
        pb_int(&b, pid);
    }
    pb_str(&b, "sample_rate");
    pb_int(&b, rate);
    pb_snapshot_end(&b);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
    s->path = strdup(path);
}

/* The whole text of a merged report, in one section and by pid, and
 * collapsed stacks with their pid roots. */
static void test_merge__output(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot a, b, c;
    static const int64_t sa[] = {100, 200}, sb[] = {1000}, sc[] = {5, 6};
    load_pid(&a, in, "a.snap", 7, 1, sa, 2);
    load_pid(&b, in, "b.snap", -1, 1, sb, 1);
    load_pid(&c, in, "c.snap", 3, 1, sc, 2);
    const snapshot *inputs[] = {&a, &b, &c};
    agg_opts o = {.group = GROUP_LINENO};
    merge_section one = {.inputs = inputs, .ninputs = 3};
    assert_int_equal(snapshot_merge(&one.merged, inputs, 3, in), 0);
    assert_int_equal(aggregate_rows(&one.merged, in, &o, &one.rows, &one.nrows), 0);
    merge_report m = {.in = in, .opts = &o, .inputs = inputs, .ninputs = 3, .sections = &one,
                      .nsections = 1, .top = 1};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(format_merge_text(out, &m), 0);
    fclose(out);
    assert_string_equal(buf,
        "# merged: 3 snapshots, 5 traces, total size=1311 B, count=5\n"
        "# 1/3 a.snap: 2 traces, traceback_limit=10, total size=300 B, count=2\n"
        "# pid=7\n"
        "# 2/3 b.snap: 1 traces, traceback_limit=10, total size=1000 B, count=1\n"
        "# 3/3 c.snap: 2 traces, traceback_limit=10, total size=11 B, count=2\n"
        "# pid=3\n"
        "# top 1 of 1 rows, group by lineno\n"
        "b.py:5: size=1311 B, count=5, average=262 B\n");
    free(buf);
    /* By pid: 3, 7, then ?. */
    const snapshot *sorted[] = {&c, &a, &b};
    merge_section secs[3] = {{.inputs = &sorted[0], .ninputs = 1, .has_pid = 1, .pid = 3},
                             {.inputs = &sorted[1], .ninputs = 1, .has_pid = 1, .pid = 7},
                             {.inputs = &sorted[2], .ninputs = 1}};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(snapshot_merge(&secs[k].merged, secs[k].inputs, 1, in), 0);
        assert_int_equal(aggregate_rows(&secs[k].merged, in, &o, &secs[k].rows, &secs[k].nrows), 0);
    }
    m.sections = secs;
    m.nsections = 3;
    m.by_pid = 1;
    buf = NULL;
    out = open_memstream(&buf, &len);
    assert_int_equal(format_merge_collapsed(out, &m), 0);
    fclose(out);
    assert_string_equal(buf, "pid 3;a.py:1;b.py:5 5\npid 3;c.py:9;b.py:5 6\n"
                             "pid 7;a.py:1;b.py:5 100\npid 7;c.py:9;b.py:5 200\n"
                             "pid ?;a.py:1;b.py:5 1000\n");
    free(buf);
    buf = NULL;
    out = open_memstream(&buf, &len);
    assert_int_equal(format_merge_text(out, &m), 0);
    fclose(out);
    assert_non_null(strstr(buf, "# pid 3: 1 snapshot, 2 traces, total size=11 B, count=2\n"
                                "# top 1 of 1 rows, group by lineno\n"
                                "b.py:5: size=11 B, count=2, average=6 B\n"
                                "# pid 7: 1 snapshot, 2 traces, total size=300 B, count=2\n"));
    assert_non_null(strstr(buf, "# pid ?: 1 snapshot, 1 traces, total size=1000 B, count=1\n"));
    free(buf);
    for (int k = 0; k < 3; k++) {
        snapshot_free(&secs[k].merged);
        free(secs[k].rows);
    }
    snapshot_free(&one.merged);
    free(one.rows);
    snapshot_free(&a);
    snapshot_free(&b);
    snapshot_free(&c);
    intern_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge__as_one_snapshot),
        cmocka_unit_test(test_merge__different_rates),
        cmocka_unit_test(test_merge__pid),
        cmocka_unit_test(test_merge__output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
