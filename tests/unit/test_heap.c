#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "heap.h"

/* The filter counter of ptr (the hooks read only its bit). */
static uint32_t
filter_count(const uint16_t *filter, const void *ptr)
{
    return filter[mp_heap_filter_slot((uintptr_t)ptr)];
}

static int
setup(void **state)
{
    static mp_heap_t h;
    assert_int_equal(mp_heap_init(&h), 0);
    *state = &h;
    return 0;
}

static int
teardown(void **state)
{
    mp_heap_destroy(*state);
    return 0;
}

static mp_block_t
block(uintptr_t ptr, uint64_t weight)
{
    return (mp_block_t){.ptr = ptr, .weight = weight, .node = 1};
}

static void
test_heap__filter_rejects_unsampled_blocks(void **state)
{
    mp_heap_t *h = *state;
    for (uintptr_t p = 0x1000; p < 0x1000 + 16 * 10000; p += 16) {
        assert_int_equal(filter_count(h->filter, (void *)p), 0);
    }
    mp_block_t b = block(0x7f0000001230, 64);
    assert_int_equal(mp_heap_insert(h, &b), 0);
    assert_int_not_equal(filter_count(h->filter, (void *)b.ptr), 0);
    /* The hooks read the bitmap of nonzero counters. */
    assert_int_equal(mp_heap_maybe_sampled_bit(h->bits, (void *)b.ptr), 1);
    assert_int_equal(mp_heap_remove(h, b.ptr, NULL), 1);
    assert_int_equal(filter_count(h->filter, (void *)b.ptr), 0);
    assert_int_equal(mp_heap_maybe_sampled_bit(h->bits, (void *)b.ptr), 0);
}

static void
test_heap__insert_find_remove(void **state)
{
    mp_heap_t *h = *state;
    mp_block_t b = block(0x5000, 100), out;
    assert_null(mp_heap_find(h, 0x5000));
    assert_int_equal(mp_heap_insert(h, &b), 0);
    assert_non_null(mp_heap_find(h, 0x5000));
    assert_int_equal(h->live_bytes, 100);
    assert_int_equal(mp_heap_remove(h, 0x5000, &out), 1);
    assert_int_equal(out.weight, 100);
    assert_int_equal(mp_heap_remove(h, 0x5000, NULL), 0);
    assert_int_equal(h->live_bytes, 0);
    assert_int_equal(h->peak_bytes, 100);
}

static void
test_heap__stale_entry_is_overwritten(void **state)
{
    mp_heap_t *h = *state;
    mp_block_t a = block(0x9000, 10), b = block(0x9000, 30);
    assert_int_equal(mp_heap_insert(h, &a), 0);
    assert_int_equal(mp_heap_insert(h, &b), 0);
    assert_int_equal(h->count, 1);
    assert_int_equal(h->live_bytes, 30);
    assert_int_equal(mp_heap_remove(h, 0x9000, NULL), 1);
    /* One entry, one filter count: the filter is clear again. */
    assert_int_equal(filter_count(h->filter, (void *)0x9000), 0);
}

/* Random inserts and removes against a plain array as the model. */
static void
test_heap__matches_a_model_under_churn(void **state)
{
    mp_heap_t *h = *state;
    enum { N = 20000 };
    static uint8_t live[N];
    memset(live, 0, sizeof(live));
    uint64_t expect_bytes = 0;
    srand(1234);
    for (int step = 0; step < 400000; step++) {
        int i = rand() % N;
        uintptr_t ptr = 0x10000 + (uintptr_t)i * 48;
        if (live[i]) {
            assert_int_equal(mp_heap_remove(h, ptr, NULL), 1);
            live[i] = 0;
            expect_bytes -= (uint64_t)i + 1;
        } else {
            mp_block_t b = block(ptr, (uint64_t)i + 1);
            assert_int_equal(mp_heap_insert(h, &b), 0);
            live[i] = 1;
            expect_bytes += (uint64_t)i + 1;
        }
    }
    size_t count = 0;
    for (int i = 0; i < N; i++) {
        uintptr_t ptr = 0x10000 + (uintptr_t)i * 48;
        const mp_block_t *b = mp_heap_find(h, ptr);
        assert_int_equal(b != NULL, live[i]);
        if (live[i]) {
            assert_int_equal(b->weight, (uint64_t)i + 1);
            assert_int_not_equal(filter_count(h->filter, (void *)ptr), 0);
            assert_int_equal(mp_heap_maybe_sampled_bit(h->bits, (void *)ptr), 1);
            count++;
        }
    }
    assert_int_equal(h->count, count);
    assert_int_equal(h->live_bytes, expect_bytes);
    mp_block_t *copy = calloc(count + 1, sizeof(mp_block_t));
    assert_int_equal(mp_heap_copy(h, copy, count + 1), count);
    free(copy);
}

static void
test_heap__clear_empties_table_and_filter(void **state)
{
    mp_heap_t *h = *state;
    for (uintptr_t p = 1; p <= 1000; p++) {
        mp_block_t b = block(p * 4096, 1);
        assert_int_equal(mp_heap_insert(h, &b), 0);
    }
    mp_heap_clear(h);
    assert_int_equal(h->count, 0);
    assert_int_equal(h->live_bytes, 0);
    for (uint32_t i = 0; i < MP_HEAP_FILTER_SLOTS; i++) {
        assert_int_equal(h->filter[i], 0);
    }
}

static void
test_heap__saturated_counter_stays_set(void **state)
{
    mp_heap_t *h = *state;
    uintptr_t ptr = 0x7000;
    for (uint32_t n = 0; n < MP_HEAP_FILTER_STUCK; n++) {
        mp_heap_pin(h, ptr, 1);
    }
    mp_heap_pin(h, ptr, 1); /* one past saturation: no wrap to zero */
    assert_int_equal(filter_count(h->filter, (void *)ptr), MP_HEAP_FILTER_STUCK);
    for (uint32_t n = 0; n <= MP_HEAP_FILTER_STUCK; n++) {
        mp_heap_pin(h, ptr, -1);
    }
    /* Stuck: frees that hash here keep taking the slow path, which finds nothing. */
    assert_int_not_equal(filter_count(h->filter, (void *)ptr), 0);
    assert_int_not_equal(mp_heap_maybe_sampled_bit(h->bits, (void *)ptr), 0);
    assert_null(mp_heap_find(h, ptr));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heap__filter_rejects_unsampled_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap__insert_find_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap__stale_entry_is_overwritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap__matches_a_model_under_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap__clear_empties_table_and_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap__saturated_counter_stays_set, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
