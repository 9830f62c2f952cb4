/* Unit tests of tracemalloc.Filter filename matching.  Expected values were
 * produced by Python 3.11's fnmatch.fnmatch (with _normalize_filename). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "match.h"

static int m(const char *name, const char *pat)
{
    glob_pattern *g = glob_compile(pat, strlen(pat));
    assert_non_null(g);
    int r = glob_match(g, name, strlen(name));
    glob_free(g);
    return r;
}

static void test_match__wildcards(void **state)
{
    (void)state;
    assert_true(m("a.py", "*.py"));
    assert_true(m("dir/a.py", "*a.py"));
    assert_true(m("/usr/lib/x.py", "*/lib/*"));
    assert_true(m("x.py", "?.py"));
    assert_false(m("xy.py", "?.py"));
    assert_true(m("\xc3\xa9.py", "?.py")); /* ? is one code point */
    assert_true(m("ab", "a*b*"));
    assert_true(m("", "*"));
    assert_false(m("", "?"));
    assert_true(m("aaa", "a**a"));
    assert_false(m("A.py", "a.py")); /* case-sensitive on POSIX */
}

static void test_match__pyc_is_normalized(void **state)
{
    (void)state;
    assert_true(m("a.pyc", "*.py"));
    assert_true(m("a.py", "a.pyc"));
    assert_false(m("a.pyc", "*.pyc?"));
}

static void test_match__brackets_follow_python(void **state)
{
    (void)state;
    assert_true(m("b", "[abc]"));
    assert_false(m("d", "[abc]"));
    assert_true(m("d", "[!abc]"));
    assert_true(m("]", "[]]"));
    assert_false(m("a", "]"));
    assert_true(m("[", "["));
    assert_true(m("[a", "[a"));
    assert_true(m("-", "[a-]"));
    assert_true(m("b", "[a-c]"));
    assert_false(m("b", "[c-a]")); /* reversed range is empty */
    assert_false(m("!", "[!]"));  /* unterminated: literal "[!]" */
    assert_true(m("[!]", "[!]"));
    assert_true(m("\\", "[\\]"));
    assert_false(m("-", "[!-a]"));
    assert_false(m("a", "[!-a]"));
    assert_false(m("m", "[a-c-z]"));
    assert_true(m("-", "[a-c-z]"));
    assert_true(m("b", "[a-c-z]"));
    assert_true(m("z", "[a-c-z]"));
    assert_false(m("y", "[a-c-z]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match__wildcards),
        cmocka_unit_test(test_match__pyc_is_normalized),
        cmocka_unit_test(test_match__brackets_follow_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
