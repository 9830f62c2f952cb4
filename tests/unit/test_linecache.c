#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "heap.h"

/* The filter counter of ptr (the hooks read only its bit). */
static uint32_t
filter_count(const uint16_t *filter, const void *ptr)
{
    return filter[mp_heap_filter_slot((uintptr_t)ptr)];
}
#include "linecache.h"

typedef struct {
    mp_heap_t heap;
    mp_linecache_t cache;
} fixture_t;

static int
setup(void **state)
{
    static fixture_t f;
    assert_int_equal(mp_heap_init(&f.heap), 0);
    assert_int_equal(mp_linecache_init(&f.cache, &f.heap), 0);
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    mp_linecache_destroy(&f->cache);
    mp_heap_destroy(&f->heap);
    return 0;
}

static void
test_linecache__remembers_lines(void **state)
{
    fixture_t *f = *state;
    const void *code = (const void *)0x7f0000010000;
    assert_int_equal(mp_linecache_get(&f->cache, code, 10), -1);
    mp_linecache_put(&f->cache, code, 10, 42);
    mp_linecache_put(&f->cache, code, 12, 43);
    assert_int_equal(mp_linecache_get(&f->cache, code, 10), 42);
    assert_int_equal(mp_linecache_get(&f->cache, code, 12), 43);
    assert_int_equal(mp_linecache_get(&f->cache, code, 14), -1);
}

static void
test_linecache__cached_code_objects_are_pinned_in_the_filter(void **state)
{
    fixture_t *f = *state;
    const void *code = (const void *)0x7f0000020000;
    assert_int_equal(filter_count(f->heap.filter, code), 0);
    mp_linecache_put(&f->cache, code, 0, 1);
    /* Its free must reach the slow path, which calls mp_linecache_forget. */
    assert_int_not_equal(filter_count(f->heap.filter, code), 0);
    mp_linecache_forget(&f->cache, code);
    assert_int_equal(filter_count(f->heap.filter, code), 0);
}

static void
test_linecache__a_freed_code_object_forgets_its_lines(void **state)
{
    fixture_t *f = *state;
    const void *code = (const void *)0x7f0000030000;
    mp_linecache_put(&f->cache, code, 6, 100);
    mp_linecache_forget(&f->cache, code);
    /* Another code object at the same address must not see the old line. */
    assert_int_equal(mp_linecache_get(&f->cache, code, 6), -1);
    mp_linecache_put(&f->cache, code, 8, 7);
    assert_int_equal(mp_linecache_get(&f->cache, code, 6), -1);
    assert_int_equal(mp_linecache_get(&f->cache, code, 8), 7);
}

static void
test_linecache__many_code_objects_stay_consistent(void **state)
{
    fixture_t *f = *state;
    /* More code objects than the table pins at once: it resets, and never answers wrongly. */
    for (uintptr_t i = 1; i <= 10000; i++) {
        mp_linecache_put(&f->cache, (const void *)(i * 4096), (int)(i % 50), (int)i);
        int line = mp_linecache_get(&f->cache, (const void *)(i * 4096), (int)(i % 50));
        assert_int_equal(line, (int)i);
    }
    for (uintptr_t i = 1; i <= 10000; i++) {
        int line = mp_linecache_get(&f->cache, (const void *)(i * 4096), (int)(i % 50));
        assert_true(line == -1 || line == (int)i);
    }
    mp_linecache_clear(&f->cache);
    for (uint32_t slot = 0; slot < MP_HEAP_FILTER_SLOTS; slot++) {
        assert_int_equal(f->heap.filter[slot], 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_linecache__remembers_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linecache__cached_code_objects_are_pinned_in_the_filter,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_linecache__a_freed_code_object_forgets_its_lines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_linecache__many_code_objects_stay_consistent, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
