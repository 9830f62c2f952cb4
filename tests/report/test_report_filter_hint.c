/* Unit tests of the hint for relative --include/--exclude patterns that
 * match no frame. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "filter_hint.h"
#include "pickle_builder.h"

static const pb_frame S0[] = {{"/srv/app/app.py", 12}, {"/srv/app/main.py", 3}};
static const pb_frame S1[] = {{"<frozen importlib._bootstrap>", 241}, {"main.py", 1}};

static void load(intern *in, snapshot *s, size_t stack)
{
    pb_stack stacks[] = {{S0, 2}, {S1, 2}};
    static const int64_t sizes[] = {100};
    size_t of[] = {stack};
    pb b = {0};
    pb_snapshot(&b, stacks, 2, sizes, of, 1, 0);
    snapshot_error err;
    assert_int_equal(snapshot_from_buffer(s, in, b.buf, b.len, 0, &err), 0);
    free(b.buf);
}

/* The hint filter_hint writes for pattern, or "" when none. */
static char *hint(const char *pattern, int inclusive, const uint8_t *used, const intern *in)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    glob_pattern *g = glob_compile(pattern, strlen(pattern));
    int rc = filter_hint(out, pattern, inclusive, g, used, in);
    fclose(out);
    glob_free(g);
    assert_int_equal(rc, text[0] != '\0');
    return text;
}

static void test_filter_hint__relative_patterns(void **state)
{
    (void)state;
    assert_true(filter_hint_relative("app.py"));
    assert_true(filter_hint_relative("app/*"));
    assert_true(filter_hint_relative("?pp.py"));
    assert_false(filter_hint_relative("/srv/app.py"));
    assert_false(filter_hint_relative("*/app.py"));
    assert_false(filter_hint_relative("<frozen *>"));
}

static void test_filter_hint__only_when_nothing_matched(void **state)
{
    (void)state;
    intern *in = intern_new();
    snapshot old, new_;
    load(in, &old, 1);
    load(in, &new_, 0);
    const snapshot *both[] = {&old, &new_};
    uint8_t *used = filter_hint_used_files(both, 2, in);
    assert_non_null(used);
    char *text = hint("app.py", 1, used, in);
    assert_string_equal(text, "mprofile-report: --include 'app.py' matched no frame; file names "
                              "are usually absolute paths, try '*/app.py'\n");
    free(text);
    text = hint("app/*.py", 0, used, in);
    assert_string_equal(text, "mprofile-report: --exclude 'app/*.py' matched no frame; file names "
                              "are usually absolute paths, try '*/app/*.py'\n");
    free(text);
    /* Any frame of any snapshot counts, not only the most recent one. */
    text = hint("main.py", 1, used, in);
    assert_string_equal(text, "");
    free(text);
    /* Absolute, '*' and '<' patterns never get the hint. */
    const char *quiet[] = {"/nowhere.py", "*/nowhere.py", "<frozen nowhere>"};
    for (size_t i = 0; i < 3; i++) {
        text = hint(quiet[i], 1, used, in);
        assert_string_equal(text, "");
        free(text);
    }
    free(used);
    /* The files of the old snapshot alone: main.py but not app.py. */
    const snapshot *old_only[] = {&old};
    used = filter_hint_used_files(old_only, 1, in);
    text = hint("main.p[y]", 1, used, in);
    assert_string_equal(text, "");
    free(text);
    free(used);
    /* Snapshots without traces have no frame: no hint. */
    used = filter_hint_used_files(old_only, 0, in);
    text = hint("app.py", 1, used, in);
    assert_string_equal(text, "");
    free(text);
    free(used);
    snapshot_free(&old);
    snapshot_free(&new_);
    intern_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_hint__relative_patterns),
        cmocka_unit_test(test_filter_hint__only_when_nothing_matched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
