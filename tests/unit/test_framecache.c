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
#include "framecache.h"
#include "index.h"

typedef struct {
    mp_heap_t heap;
    mp_framecache_t cache;
} fixture_t;

static int
setup(void **state)
{
    static fixture_t f;
    assert_int_equal(mp_heap_init(&f.heap), 0);
    assert_int_equal(mp_framecache_init(&f.cache, &f.heap), 0);
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    mp_framecache_destroy(&f->cache);
    mp_heap_destroy(&f->heap);
    return 0;
}

static void
test_framecache__remembers_frames(void **state)
{
    fixture_t *f = *state;
    const void *code = (const void *)0x7f0000010000;
    assert_int_equal(mp_framecache_get(&f->cache, code, 10), -1);
    mp_framecache_put(&f->cache, code, 10, 42);
    mp_framecache_put(&f->cache, code, 12, 43);
    assert_int_equal(mp_framecache_get(&f->cache, code, 10), 42);
    assert_int_equal(mp_framecache_get(&f->cache, code, 12), 43);
    assert_int_equal(mp_framecache_get(&f->cache, code, 14), -1);
}

static void
test_framecache__frame_ids_round_trip_whole(void **state)
{
    fixture_t *f = *state;
    /* Frame 0 is a frame like any other, and ids use all 32 bits: a hit is not confused with a
     * miss. */
    const void *code = (const void *)0x7f0000015000;
    mp_framecache_put(&f->cache, code, 0, 0);
    mp_framecache_put(&f->cache, code, 2, UINT32_MAX);
    assert_int_equal(mp_framecache_get(&f->cache, code, 0), 0);
    assert_true(mp_framecache_get(&f->cache, code, 2) == (int64_t)UINT32_MAX);
}

static void
test_framecache__cached_code_objects_are_pinned_in_the_filter(void **state)
{
    fixture_t *f = *state;
    const void *code = (const void *)0x7f0000020000;
    assert_int_equal(filter_count(f->heap.filter, code), 0);
    mp_framecache_put(&f->cache, code, 0, 1);
    /* Its free must reach the slow path, which calls mp_framecache_forget. */
    assert_int_not_equal(filter_count(f->heap.filter, code), 0);
    mp_framecache_forget(&f->cache, code);
    assert_int_equal(filter_count(f->heap.filter, code), 0);
}

static void
test_framecache__a_freed_code_object_forgets_its_frames(void **state)
{
    fixture_t *f = *state;
    const void *code = (const void *)0x7f0000030000;
    const void *other = (const void *)0x7f0000031000;
    mp_framecache_put(&f->cache, code, 6, 100);
    mp_framecache_put(&f->cache, other, 6, 101);
    mp_framecache_forget(&f->cache, code);
    /* Another code object at the same address must not see the old frame. */
    assert_int_equal(mp_framecache_get(&f->cache, code, 6), -1);
    mp_framecache_put(&f->cache, code, 8, 7);
    assert_int_equal(mp_framecache_get(&f->cache, code, 6), -1);
    assert_int_equal(mp_framecache_get(&f->cache, code, 8), 7);
    /* The code objects still alive keep theirs. */
    assert_int_equal(mp_framecache_get(&f->cache, other, 6), 101);
}

static void
test_framecache__clear_forgets_every_frame(void **state)
{
    fixture_t *f = *state;
    /* What reset_stacks relies on: the frame ids of the old stacks never come back. */
    const void *code = (const void *)0x7f0000040000;
    const void *other = (const void *)0x7f0000041000;
    mp_framecache_put(&f->cache, code, 4, 5);
    mp_framecache_put(&f->cache, other, 4, 6);
    mp_framecache_clear(&f->cache);
    assert_int_equal(mp_framecache_get(&f->cache, code, 4), -1);
    assert_int_equal(mp_framecache_get(&f->cache, other, 4), -1);
    assert_int_equal(filter_count(f->heap.filter, code), 0);
    /* Taken in again, a code object gets a new generation: only the new frame is found. */
    mp_framecache_put(&f->cache, code, 6, 9);
    assert_int_equal(mp_framecache_get(&f->cache, code, 4), -1);
    assert_int_equal(mp_framecache_get(&f->cache, code, 6), 9);
}

/* What intern_frames trusts its previous walk by: unpinned moves whenever a cached code object
 * stops being pinned, and only then. */
static void
test_framecache__unpinned_counts_every_unpinning(void **state)
{
    fixture_t *f = *state;
    const void *code = (const void *)0x7f0000050000;
    const void *other = (const void *)0x7f0000051000;
    assert_true(mp_framecache_on(&f->cache));
    uint64_t before = f->cache.unpinned;
    mp_framecache_put(&f->cache, code, 2, 1);
    mp_framecache_put(&f->cache, code, 4, 2);
    mp_framecache_forget(&f->cache, (const void *)0x7f0000052000); /* not cached */
    assert_int_equal(f->cache.unpinned, before);
    mp_framecache_forget(&f->cache, code);
    assert_int_equal(f->cache.unpinned, before + 1);
    mp_framecache_put(&f->cache, other, 2, 3);
    mp_framecache_clear(&f->cache);
    assert_int_equal(f->cache.unpinned, before + 2);
}

/* The first page above after whose home slot in the code table is that of home_of (found as
 * framecache.c finds it). */
static const void *
same_home(uintptr_t after, uintptr_t home_of)
{
    uint64_t mask = (1u << MP_FRAMECACHE_CODES_BITS) - 1;
    uintptr_t code = after + 4096;
    while ((mp_hash_u64(code) & mask) != (mp_hash_u64(home_of) & mask)) {
        code += 4096;
    }
    return (const void *)code;
}

static void
test_framecache__a_code_object_moved_by_a_removal_never_answers_wrongly(void **state)
{
    fixture_t *f = *state;
    /* a and b share a home slot: b sits one further. Freeing a moves b back, where its entries
     * do not look; then c takes b's old slot with a generation of its own. */
    uintptr_t a = 0x7f0000050000;
    const void *b = same_home(a, a);
    const void *c = same_home((uintptr_t)b, a);
    mp_framecache_put(&f->cache, (const void *)a, 0, 1);
    mp_framecache_put(&f->cache, b, 0, 2);
    mp_framecache_forget(&f->cache, (const void *)a);
    int64_t moved = mp_framecache_get(&f->cache, b, 0);
    assert_true(moved == -1 || moved == 2);
    mp_framecache_put(&f->cache, c, 0, 3);
    moved = mp_framecache_get(&f->cache, b, 0);
    assert_true(moved == -1 || moved == 2);
    assert_int_equal(mp_framecache_get(&f->cache, c, 0), 3);
    /* Cached again, b is found where it is now. */
    mp_framecache_put(&f->cache, b, 0, 2);
    assert_int_equal(mp_framecache_get(&f->cache, b, 0), 2);
    assert_int_equal(mp_framecache_get(&f->cache, (const void *)a, 0), -1);
}

static void
test_framecache__many_code_objects_stay_consistent(void **state)
{
    fixture_t *f = *state;
    /* More code objects than the table pins at once: it resets, and never answers wrongly. */
    for (uintptr_t i = 1; i <= 10000; i++) {
        mp_framecache_put(&f->cache, (const void *)(i * 4096), (int)(i % 50), (uint32_t)i);
        int64_t frame = mp_framecache_get(&f->cache, (const void *)(i * 4096), (int)(i % 50));
        assert_int_equal(frame, (int64_t)i);
    }
    for (uintptr_t i = 1; i <= 10000; i++) {
        int64_t frame = mp_framecache_get(&f->cache, (const void *)(i * 4096), (int)(i % 50));
        assert_true(frame == -1 || frame == (int64_t)i);
    }
    mp_framecache_clear(&f->cache);
    for (uint32_t slot = 0; slot < MP_HEAP_FILTER_SLOTS; slot++) {
        assert_int_equal(f->heap.filter[slot], 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_framecache__remembers_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_framecache__frame_ids_round_trip_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_framecache__cached_code_objects_are_pinned_in_the_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_framecache__a_freed_code_object_forgets_its_frames,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_framecache__unpinned_counts_every_unpinning, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framecache__clear_forgets_every_frame, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_framecache__a_code_object_moved_by_a_removal_never_answers_wrongly, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_framecache__many_code_objects_stay_consistent, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
