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
    assert_int_equal(mp_heap_find(h, 0x5000, NULL), 0);
    assert_int_equal(mp_heap_insert(h, &b), 0);
    assert_int_equal(mp_heap_find(h, 0x5000, &out), 1);
    assert_int_equal(out.weight, 100);
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
        mp_block_t b;
        assert_int_equal(mp_heap_find(h, ptr, &b), live[i]);
        if (live[i]) {
            assert_int_equal(b.weight, (uint64_t)i + 1);
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
    assert_int_equal(mp_heap_find(h, ptr, NULL), 0);
}

/* mp_heap_spread: the granules of one region take distinct indices, and an aligned run of 16
 * granules stays in one aligned run of 16 indices (a cache line of buckets); blocks spread
 * over many regions fill the indices about evenly. */
static void
test_heap__spread_keeps_neighbours_and_fills_evenly(void **state)
{
    (void)state;
    enum { BITS = 12, N = 1 << BITS };
    static uint8_t seen[N];
    uintptr_t region = UINT64_C(0x7f3a12000000);
    memset(seen, 0, sizeof(seen));
    for (uintptr_t g = 0; g < N; g++) {
        uint64_t i = mp_heap_spread(region + 16 * g, BITS);
        assert_true(i < N);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        assert_int_equal(i / 16, mp_heap_spread(region + 16 * (g & ~(uintptr_t)15), BITS) / 16);
    }
    /* Another region: another arrangement of the same indices. */
    assert_int_not_equal(mp_heap_spread(region, BITS), mp_heap_spread(region + 16 * N, BITS));

    /* 64-byte blocks in 256 KiB arenas 1 MiB apart, 4 * N of them over N indices: each index
     * gets about 4, none more than 3 times that. */
    static uint16_t count[N];
    memset(count, 0, sizeof(count));
    size_t placed = 0;
    for (uintptr_t arena = 0; placed < 4 * N; arena++) {
        for (uintptr_t b = 0; b < (256 << 10) / 64 && placed < 4 * N; b++, placed++) {
            count[mp_heap_spread(UINT64_C(0x7f0000000000) + (arena << 20) + 64 * b, BITS)]++;
        }
    }
    uint16_t most = 0;
    for (size_t i = 0; i < N; i++) {
        most = count[i] > most ? count[i] : most;
    }
    assert_true(most <= 12);
}

/* Every field survives the packing; a weight over 1 TiB is counted as MP_HEAP_MAX_WEIGHT on the
 * way in and on the way out, so live_bytes returns to zero. */
static void
test_heap__entries_keep_every_field(void **state)
{
    mp_heap_t *h = *state;
    mp_block_t b = {.ptr = mp_heap_key(0x7f0000001230, 200), .weight = 123456789,
                    .node = 0xfffffffe, .total_nframe = 65535, .origin = 200};
    mp_block_t big = {.ptr = 0x4000, .weight = UINT64_C(1) << 50, .node = 3, .origin = 3};
    assert_int_equal(mp_heap_insert(h, &b), 0);
    assert_int_equal(mp_heap_insert(h, &big), 0);
    mp_block_t out;
    assert_int_equal(mp_heap_find(h, b.ptr, &out), 1);
    assert_memory_equal(&out, &b, offsetof(mp_block_t, origin) + 1);
    assert_int_equal(h->live_bytes, 123456789 + MP_HEAP_MAX_WEIGHT);
    assert_int_equal(mp_heap_remove(h, 0x4000, &out), 1);
    assert_int_equal(out.weight, MP_HEAP_MAX_WEIGHT);
    assert_int_equal(out.origin, 3);
    assert_int_equal(h->live_bytes, 123456789);
}

/* A growth moves the chains a few buckets at a time: blocks are found, replaced and removed
 * wherever their chain is meanwhile, and the old buckets go once all have moved. */
static void
test_heap__growth_is_incremental(void **state)
{
    mp_heap_t *h = *state;
    enum { N = 1024 }; /* the first bucket array's size */
    for (uintptr_t i = 1; i <= N; i++) {
        mp_block_t b = block(i * 16, i);
        assert_int_equal(mp_heap_insert(h, &b), 0);
    }
    assert_null(h->old_buckets);
    mp_block_t one_more = block((N + 1) * 16, N + 1);
    assert_int_equal(mp_heap_insert(h, &one_more), 0);
    assert_non_null(h->old_buckets); /* under way: one insert moved two buckets */
    assert_int_equal(h->moved, 2);
    for (uintptr_t i = 1; i <= N + 1; i++) {
        mp_block_t out;
        assert_int_equal(mp_heap_find(h, i * 16, &out), 1);
        assert_int_equal(out.weight, i);
    }
    /* Replacing and removing while under way. */
    mp_block_t again = block(5 * 16, 500);
    assert_int_equal(mp_heap_insert(h, &again), 0);
    for (uintptr_t i = 2; i <= N + 1; i += 2) {
        assert_int_equal(mp_heap_remove(h, i * 16, NULL), 1);
    }
    assert_null(h->old_buckets);
    assert_int_equal(h->nbuckets, 2 * N);
    assert_int_equal(h->count, (N + 2) / 2);
    uint64_t expect = 0;
    for (uintptr_t i = 1; i <= N + 1; i++) {
        mp_block_t out;
        assert_int_equal(mp_heap_find(h, i * 16, &out), i % 2);
        if (i % 2) {
            assert_int_equal(out.weight, i == 5 ? 500 : i);
            expect += out.weight;
        }
    }
    assert_int_equal(h->live_bytes, expect);
}

/* Removed entries are reused before the array grows, and copies skip the free ones. */
static void
test_heap__copy_skips_free_entries(void **state)
{
    mp_heap_t *h = *state;
    for (uintptr_t i = 1; i <= 100; i++) {
        mp_block_t b = block(i * 32, i);
        assert_int_equal(mp_heap_insert(h, &b), 0);
    }
    for (uintptr_t i = 1; i <= 100; i += 3) {
        assert_int_equal(mp_heap_remove(h, i * 32, NULL), 1);
    }
    mp_block_t copy[100];
    size_t n = mp_heap_copy(h, copy, 100);
    assert_int_equal(n, h->count);
    uint64_t sum = 0;
    for (size_t k = 0; k < n; k++) {
        assert_int_not_equal(copy[k].ptr / 32 % 3, 1);
        sum += copy[k].weight;
    }
    assert_int_equal(sum, h->live_bytes);
    uint32_t len = h->entries.len;
    mp_block_t b = block(0x100000, 1);
    assert_int_equal(mp_heap_insert(h, &b), 0);
    assert_int_equal(h->entries.len, len); /* a free entry was taken */
    assert_int_equal(mp_heap_copy(h, copy, 2), 2); /* at most max */
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
        cmocka_unit_test_setup_teardown(test_heap__entries_keep_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap__growth_is_incremental, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap__copy_skips_free_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap__spread_keeps_neighbours_and_fills_evenly, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
