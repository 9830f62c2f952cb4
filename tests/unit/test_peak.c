#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "heap.h"
#include "peak.h"

static void
insert(mp_heap_t *h, uintptr_t ptr, uint64_t weight)
{
    mp_block_t b = {.ptr = ptr, .weight = weight, .node = (uint32_t)ptr};
    assert_int_equal(mp_heap_insert(h, &b), 0);
}

/* Inserts like the profiler does: a copy whenever the estimate passes the margin. */
static int copies;

static void
insert_tracked(mp_heap_t *h, mp_peak_t *p, uintptr_t ptr, uint64_t weight, double now)
{
    insert(h, ptr, weight);
    if (mp_peak_due(p, h->live_bytes)) {
        assert_int_equal(mp_peak_take(p, h, now), 0);
        copies++;
    }
}

static uint64_t
sum(const mp_peak_t *p)
{
    uint64_t total = 0;
    for (size_t i = 0; i < p->n; i++) {
        total += p->blocks[i].weight;
    }
    return total;
}

static void
test_peak__copy_holds_the_high_water_mark_within_the_margin(void **state)
{
    mp_heap_t h;
    mp_peak_t p;
    assert_int_equal(mp_heap_init(&h), 0);
    mp_peak_init(&p);
    copies = 0;
    /* Grow to 10000 blocks of 100 bytes, then free all but 10 and grow a little again. */
    for (uintptr_t i = 1; i <= 10000; i++) {
        insert_tracked(&h, &p, i * 16, 100, (double)i);
    }
    uint64_t peak = h.peak_bytes;
    for (uintptr_t i = 11; i <= 10000; i++) {
        assert_int_equal(mp_heap_remove(&h, i * 16, NULL), 1);
    }
    for (uintptr_t i = 20001; i <= 20100; i++) {
        insert_tracked(&h, &p, i * 16, 100, (double)i);
    }
    assert_true(h.peak_bytes == peak);
    /* The copy: consistent (its blocks add up to its bytes), within the documented bound. */
    assert_int_equal(sum(&p), p.bytes);
    assert_true(p.bytes <= peak);
    assert_true(p.bytes * (MP_PEAK_MARGIN + 1) >= peak * MP_PEAK_MARGIN);
    assert_true(p.time <= 10000.0);
    /* Logarithmic in the growth: ln(10000) / ln(17/16) is about 152. */
    assert_true(copies < 160);
    mp_peak_destroy(&p);
    mp_heap_destroy(&h);
}

static void
test_peak__reset_starts_from_the_live_set(void **state)
{
    mp_heap_t h;
    mp_peak_t p;
    assert_int_equal(mp_heap_init(&h), 0);
    mp_peak_init(&p);
    for (uintptr_t i = 1; i <= 100; i++) {
        insert_tracked(&h, &p, i * 16, 1000, 1.0);
    }
    for (uintptr_t i = 1; i <= 90; i++) {
        mp_heap_remove(&h, i * 16, NULL);
    }
    assert_int_equal(mp_peak_reset(&p, &h, 2.0), 0);
    assert_int_equal(p.n, 10);
    assert_int_equal(p.bytes, 10000);
    assert_true(p.time == 2.0);
    /* Not copied again until the live set passes the new mark by the margin. */
    assert_false(mp_peak_due(&p, 10000 + 10000 / MP_PEAK_MARGIN));
    assert_true(mp_peak_due(&p, 10000 + 10000 / MP_PEAK_MARGIN + 1));
    mp_heap_clear(&h);
    assert_int_equal(mp_peak_reset(&p, &h, 3.0), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.bytes, 0);
    mp_peak_destroy(&p);
    mp_heap_destroy(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peak__copy_holds_the_high_water_mark_within_the_margin),
        cmocka_unit_test(test_peak__reset_starts_from_the_live_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
