#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "alloc.h"

/* Tables are held to the budget; scratch memory for a snapshot is not, so that a profiler at
 * its budget can still write out what it has. */
static void
test_alloc__budget_refuses_tables_not_scratch(void **state)
{
    mp_alloc_set_budget((uint64_t)1 << 20);
    mp_alloc_budget_rearm();
    void *a = mp_alloc_zeroed(768 * 1024);
    assert_non_null(a);
    assert_int_equal(mp_alloc_budget_reached(), 0);
    assert_null(mp_alloc_zeroed(512 * 1024));
    int64_t when = mp_alloc_budget_reached();
    assert_true(when > 0);
    void *s = mp_alloc_scratch(4 << 20);
    assert_non_null(s);
    assert_true(mp_alloc_in_use() >= (768 + 4096) * 1024);
    mp_alloc_release_scratch(s, 4 << 20);
    /* The first refusal's time stays. */
    assert_null(mp_alloc_zeroed(512 * 1024));
    assert_true(mp_alloc_budget_reached() == when);
    mp_alloc_release(a, 768 * 1024);
    void *b = mp_alloc_zeroed(512 * 1024);
    assert_non_null(b);
    mp_alloc_release(b, 512 * 1024);
    mp_alloc_budget_rearm();
    assert_int_equal(mp_alloc_budget_reached(), 0);
    assert_int_equal(mp_alloc_in_use(), 0);
    mp_alloc_set_budget(UINT64_MAX);
}

static void
test_alloc__memory_is_zeroed(void **state)
{
    unsigned char *p = mp_alloc_zeroed(10000);
    assert_non_null(p);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(p[i], 0);
    }
    mp_alloc_release(p, 10000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc__budget_refuses_tables_not_scratch),
        cmocka_unit_test(test_alloc__memory_is_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
