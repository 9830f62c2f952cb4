/* Unit tests of the HTML report's C side: JSON strings that hostile names
 * cannot break out of, peak companion names, the icicle tree (merging,
 * --diff weights, Python-only), the page around the data and the
 * --timeline series (order, repeated points, live bytes, errors). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flame.h"
#include "format.h"
#include "html_json.h"
#include "pickle_builder.h"

static char *json_of(const char *s, size_t len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    html_json_string(f, s, len);
    fclose(f);
    return buf;
}

static void json_is(const char *s, size_t len, const char *want)
{
    char *got = json_of(s, len);
    assert_string_equal(got, want);
    free(got);
}

static void test_html__json_escapes_what_ends_a_script_element(void **state)
{
    (void)state;
    static const char tag[] = "</script><script>alert(1)</script>";
    json_is(tag, strlen(tag),
            "\"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\"");
    static const char comment[] = "<!-- a & b -->";
    json_is(comment, strlen(comment), "\"\\u003c!-- a \\u0026 b --\\u003e\"");
    static const char quotes[] = "say \"hi\" \\ 'there'";
    json_is(quotes, strlen(quotes), "\"say \\\"hi\\\" \\\\ 'there'\"");
    static const char controls[] = "a\nb\tc\x01\x7f";
    json_is(controls, strlen(controls), "\"a\\u000ab\\u0009c\\u0001\\u007f\"");
    json_is("nul\0byte", 8, "\"nul\\u0000byte\"");
}

static void test_html__json_utf8(void **state)
{
    (void)state;
    /* Valid sequences are copied: é, €, an emoji. */
    json_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* U+2028 and U+2029 end lines in older JavaScript parsers. */
    json_is("a\xe2\x80\xa8" "b\xe2\x80\xa9", 8, "\"a\\u2028b\\u2029\"");
    /* Python's surrogatepass: an encoded lone surrogate becomes its escape. */
    json_is("x\xed\xb3\x80y", 5, "\"x\\udcc0y\"");
    /* Bytes that start no valid sequence: a lone continuation, an overlong
     * '/', a sequence cut by the end, a byte above F4. */
    json_is("\x80", 1, "\"\\ufffd\"");
    json_is("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
    json_is("ab\xe2\x82", 4, "\"ab\\ufffd\\ufffd\"");
    json_is("\xf5\x80\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* A code point above U+10FFFF. */
    json_is("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void companion_is(const char *path, const char *want)
{
    char *got = html_peak_companion(path);
    assert_string_equal(got, want);
    free(got);
}

static void test_html__peak_companion_names(void **state)
{
    (void)state;
    companion_is("mprofile.1234.1.snap", "mprofile.1234.1.peak.snap");
    companion_is("dir/app.snap", "dir/app.peak.snap");
    companion_is("dir.d/app", "dir.d/app.peak");
    companion_is(".hidden", ".hidden.peak");
    companion_is("a/.hidden", "a/.hidden.peak");
}

/* Stacks, most recent frame first. */
static const pb_frame SA[] = {{"a.py", 2}, {"main.py", 1}};
static const pb_frame SB[] = {{"b.py", 3}, {"main.py", 1}};
static const pb_frame SC[] = {{"c.py", 4}, {"main.py", 1}};
static const pb_frame SN[] = {{"<native> deflate (libz.so.1)", 0}, {"a.py", 2},
                              {"<native> PyObject_Call (python3.11)", 0}, {"main.py", 1}};
static const pb_frame SNN[] = {{"<native> worker (libx.so)", 0}};

static void load(intern *in, snapshot *s, const pb_stack *stacks, size_t nstacks,
                 const int64_t *sizes, const size_t *of, size_t n, const char *kind)
{
    pb b = {0};
    pb_snapshot_stacks(&b, stacks, nstacks, sizes, of, n, kind);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

static const char *node_file(intern *in, const flame_node *n)
{
    size_t len;
    return intern_file_name(in, intern_frame_file(in, n->frame), &len);
}

static void test_html__tree_merges_small_children(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    pb_stack stacks[] = {{SA, 2}, {SB, 2}, {SC, 2}};
    static const int64_t sizes[] = {600, 400, 500, 1};
    static const size_t of[] = {0, 0, 1, 2};
    load(in, &s, stacks, 3, sizes, of, 4, NULL);
    agg_opts ao = {.group = GROUP_LINENO};
    flame_opts fo = {.agg = &ao, .min_fraction = 0.001};
    flame_tree t;
    assert_int_equal(flame_build(&t, in, &s, NULL, &fo), 0);
    /* root, main.py:1, a.py:2 (1000), b.py:3 (500), others (c.py:4, 1 byte
     * under ceil(1501 * 0.001) = 2). */
    assert_int_equal(t.n, 5);
    assert_int_equal(t.min_weight, 2);
    assert_int_equal(t.merged_nodes, 1);
    assert_int_equal(t.nodes[0].frame, FLAME_ROOT);
    assert_int_equal(t.nodes[0].size, 1501);
    assert_string_equal(node_file(in, &t.nodes[1]), "main.py");
    assert_int_equal(t.nodes[1].parent, 0);
    assert_string_equal(node_file(in, &t.nodes[2]), "a.py");
    assert_int_equal(t.nodes[2].size, 1000);
    assert_true(t.nodes[2].count == 2.0);
    assert_string_equal(node_file(in, &t.nodes[3]), "b.py");
    assert_int_equal(t.nodes[4].frame, FLAME_OTHERS);
    assert_int_equal(t.nodes[4].parent, 1);
    assert_int_equal(t.nodes[4].size, 1);
    assert_int_equal(t.nodes[4].merged, 1);
    flame_tree_free(&t);
    /* Nothing merged without a threshold. */
    fo.min_fraction = 0;
    assert_int_equal(flame_build(&t, in, &s, NULL, &fo), 0);
    assert_int_equal(t.n, 5);
    assert_int_equal(t.nodes[4].frame, intern_frame(in, intern_file(in, "c.py", 4), 4));
    flame_tree_free(&t);
    snapshot_free(&s);
    intern_free(in);
}

static void test_html__diff_tree_weighs_the_larger_side(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot old, now;
    pb_stack stacks[] = {{SA, 2}, {SB, 2}};
    static const int64_t old_sizes[] = {100, 900};
    static const int64_t new_sizes[] = {700, 300};
    static const size_t of[] = {0, 1};
    load(in, &old, stacks, 2, old_sizes, of, 2, NULL);
    load(in, &now, stacks, 2, new_sizes, of, 2, NULL);
    agg_opts ao = {.group = GROUP_LINENO};
    flame_opts fo = {.agg = &ao, .min_fraction = 0.001};
    flame_tree t;
    assert_int_equal(flame_build(&t, in, &now, &old, &fo), 0);
    assert_int_equal(t.n, 4);
    /* max(100, 700) + max(900, 300): children never outgrow their parent. */
    assert_int_equal(t.nodes[0].weight, 1600);
    assert_int_equal(t.nodes[0].size, 1000);
    assert_int_equal(t.nodes[0].old_size, 1000);
    assert_string_equal(node_file(in, &t.nodes[2]), "b.py");
    assert_int_equal(t.nodes[2].weight, 900);
    assert_int_equal(t.nodes[2].size, 300);
    assert_int_equal(t.nodes[2].old_size, 900);
    assert_int_equal(t.nodes[3].weight, 700);
    flame_tree_free(&t);
    snapshot_free(&old);
    snapshot_free(&now);
    intern_free(in);
}

static void test_html__python_only_tree_skips_native_frames(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot s;
    pb_stack stacks[] = {{SN, 4}, {SNN, 1}};
    static const int64_t sizes[] = {1000, 10};
    static const size_t of[] = {0, 1};
    load(in, &s, stacks, 2, sizes, of, 2, "mixed");
    agg_opts ao = {.group = GROUP_LINENO};
    flame_opts fo = {.agg = &ao, .min_fraction = 0.001};
    flame_tree t;
    assert_int_equal(flame_build(&t, in, &s, NULL, &fo), 0);
    assert_int_equal(t.n, 6); /* root, 4 frames of SN, 1 of SNN */
    flame_tree_free(&t);
    fo.python_only = 1;
    assert_int_equal(flame_build(&t, in, &s, NULL, &fo), 0);
    /* root, main.py:1, a.py:2, and <unknown>:0 for the stack without Python frames. */
    assert_int_equal(t.n, 4);
    assert_string_equal(node_file(in, &t.nodes[1]), "main.py");
    assert_string_equal(node_file(in, &t.nodes[2]), "a.py");
    assert_int_equal(t.nodes[2].parent, 1);
    assert_string_equal(node_file(in, &t.nodes[3]), "<unknown>");
    assert_int_equal(t.nodes[3].size, 10);
    flame_tree_free(&t);
    snapshot_free(&s);
    intern_free(in);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_html__page_keeps_hostile_names_inside_the_data(void **state)
{
    (void)state;
    static const pb_frame HOSTILE[] = {{"</script><script>alert(1)</script>.py", 7},
                                       {"main.py", 1}};
    intern *in = intern_new();
    snapshot s;
    pb_stack stacks[] = {{HOSTILE, 2}};
    static const int64_t sizes[] = {100};
    static const size_t of[] = {0};
    load(in, &s, stacks, 1, sizes, of, 1, NULL);
    static const char name[] = "f</SCRIPT ><!--";
    int32_t frame = intern_frame(in, intern_file(in, "main.py", 7), 1);
    assert_int_equal(intern_set_frame_name(in, frame, name, strlen(name)), 0);
    agg_opts ao = {.group = GROUP_LINENO};
    row *rows;
    size_t n;
    assert_int_equal(aggregate_rows(&s, in, &ao, &rows, &n), 0);
    report rep = {.in = in, .snap = &s, .opts = &ao, .rows = rows, .nrows = n, .top = 10};
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    assert_int_equal(format_html(f, &rep), 0);
    fclose(f);
    assert_true(strncmp(page, "<!DOCTYPE html>", 15) == 0);
    /* The page's own two script elements, nothing more. */
    assert_int_equal(count_of(page, "</script>"), 2);
    assert_null(strstr(page, "</SCRIPT"));
    assert_int_equal(count_of(page, "<!--"), 0);
    const char *data = strstr(page, "<script type=\"application/json\" id=\"report-data\">");
    assert_non_null(data);
    data = strchr(data, '>') + 1;
    const char *end = strstr(data, "</script>");
    assert_non_null(end);
    for (const char *p = data; p < end; p++)
        assert_true(*p != '<' && *p != '>' && *p != '&');
    assert_non_null(strstr(data, "\"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"));
    assert_non_null(strstr(data, "\"f\\u003c/SCRIPT \\u003e\\u003c!--\""));
    assert_non_null(strstr(data, "\"schema\": \"mprofile-html/1\""));
    free(page);
    free(rows);
    snapshot_free(&s);
    intern_free(in);
}

/* A snapshot file with its time (none when time < 0), live_bytes (none
 * when live < 0) and timeline; returns its path in dir. */
static char *write_series_snapshot(const char *dir, const char *name, double time, int64_t live,
                                   const pb_point *pts, size_t npts)
{
    pb_stack stacks[] = {{SA, 2}};
    static const int64_t sizes[] = {300, 200};
    static const size_t of[] = {0, 0};
    pb b = {0};
    pb_snapshot_begin(&b);
    pb_traces(&b, stacks, 1, NULL, sizes, of, 2);
    pb_snapshot_traces_done(&b, 10);
    if (time >= 0) {
        pb_str(&b, "time");
        pb_float(&b, time);
    }
    if (live >= 0) {
        pb_str(&b, "live_bytes");
        pb_int(&b, live);
    }
    pb_peak_metadata(&b, "api", 0, 0, pts, npts);
    pb_snapshot_end(&b);
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.buf, 1, b.len, f), b.len);
    fclose(f);
    free(b.buf);
    return path;
}

/* Load the files into snaps (one table, as mprofile-report does). */
static void load_files(intern *in, char **paths, size_t n, snapshot *snaps,
                       const snapshot **ptrs)
{
    char msg[256];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(snapshot_load_file(&snaps[i], in, paths[i], 0, msg, sizeof msg), 0);
        ptrs[i] = &snaps[i];
    }
}

static void test_html__timeline_series(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_report_html.XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* A later snapshot of one process repeats the earlier one's points. */
    static const pb_point early[] = {{100.0, 10, 10, 4096}, {101.0, 50, 50, 4096}};
    static const pb_point late[] = {{100.0, 10, 10, 4096}, {101.0, 50, 50, 4096},
                                    {102.0, 30, 60, 8192}};
    char *paths[3];
    paths[0] = write_series_snapshot(dir, "late.snap", 102.5, 35, late, 3);
    paths[1] = write_series_snapshot(dir, "early.snap", 101.5, -1, early, 2);
    paths[2] = write_series_snapshot(dir, "plain.snap", 99.0, 77, NULL, 0);
    intern *in = intern_new();
    snapshot snaps[4];
    const snapshot *ptrs[4];
    load_files(in, paths, 3, snaps, ptrs);
    timeline_series ts;
    char msg[256];
    assert_int_equal(timeline_series_build(&ts, ptrs, 3, msg, sizeof msg), 0);
    /* By time: plain, early, late; early has no live_bytes: its traces' sum. */
    assert_int_equal(ts.nsnaps, 3);
    assert_string_equal(ts.snaps[0].path, paths[2]);
    assert_int_equal(ts.snaps[0].live_bytes, 77);
    assert_string_equal(ts.snaps[1].path, paths[1]);
    assert_int_equal(ts.snaps[1].live_bytes, 500);
    assert_string_equal(ts.snaps[2].path, paths[0]);
    assert_ptr_equal(ts.snaps[2].snap, &snaps[0]);
    /* 3 snapshot points and 3 distinct timeline points, by time. */
    assert_int_equal(ts.npoints, 6);
    static const double times[] = {99.0, 100.0, 101.0, 101.5, 102.0, 102.5};
    static const int details[] = {0, 1, 1, 0, 1, 0};
    for (size_t i = 0; i < 6; i++) {
        assert_true(ts.points[i].time == times[i]);
        assert_int_equal(ts.points[i].has_detail, details[i]);
    }
    assert_int_equal(ts.points[4].rss_bytes, 8192);
    timeline_series_free(&ts);
    /* A snapshot without a time stops the series, naming the file. */
    char *untimed = write_series_snapshot(dir, "untimed.snap", -1, 5, NULL, 0);
    load_files(in, &untimed, 1, &snaps[3], &ptrs[3]);
    assert_int_equal(timeline_series_build(&ts, &ptrs[2], 2, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "untimed.snap: no numeric 'time' metadata"));
    timeline_series_free(&ts);
    for (size_t i = 0; i < 4; i++)
        snapshot_free(&snaps[i]);
    intern_free(in);
    for (size_t i = 0; i < 3; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    unlink(untimed);
    free(untimed);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html__json_escapes_what_ends_a_script_element),
        cmocka_unit_test(test_html__json_utf8),
        cmocka_unit_test(test_html__peak_companion_names),
        cmocka_unit_test(test_html__tree_merges_small_children),
        cmocka_unit_test(test_html__diff_tree_weighs_the_larger_side),
        cmocka_unit_test(test_html__python_only_tree_skips_native_frames),
        cmocka_unit_test(test_html__page_keeps_hostile_names_inside_the_data),
        cmocka_unit_test(test_html__timeline_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
