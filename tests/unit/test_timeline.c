#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "timeline.h"

static void
add(mp_timeline_t *t, uint64_t ns, uint64_t live)
{
    mp_timeline_point_t p = {.time = (double)ns / 1e9, .live_bytes = live, .peak_bytes = live};
    mp_timeline_add(t, ns, &p);
}

static void
test_timeline__spacing(void **state)
{
    mp_timeline_t t;
    mp_timeline_init(&t);
    assert_true(mp_timeline_due(&t, 0));
    add(&t, 1000, 1);
    assert_false(mp_timeline_due(&t, 1000 + MP_TIMELINE_FIRST_SPACING_NS - 1));
    assert_true(mp_timeline_due(&t, 1000 + MP_TIMELINE_FIRST_SPACING_NS));
}

static void
test_timeline__thinning_covers_the_run_and_keeps_highs(void **state)
{
    mp_timeline_t t;
    mp_timeline_init(&t);
    uint64_t step = MP_TIMELINE_FIRST_SPACING_NS;
    uint64_t ns = 0;
    /* A long run with one spike at point 777. */
    for (int i = 0; i < 5000; i++) {
        if (!mp_timeline_due(&t, ns)) {
            ns += step;
            i--;
            continue;
        }
        add(&t, ns, i == 777 ? 1000000 : (uint64_t)i);
        ns += step;
    }
    assert_true(t.n <= MP_TIMELINE_POINTS);
    assert_true(t.n > MP_TIMELINE_POINTS / 2);
    /* The first point stays, times only grow, and the spike survived every thinning. */
    assert_true(t.points[0].time == 0);
    int spike = 0;
    for (int i = 1; i < t.n; i++) {
        assert_true(t.points[i].time > t.points[i - 1].time);
        spike |= t.points[i].live_bytes == 1000000;
    }
    assert_true(spike);
    assert_true(t.spacing_ns > MP_TIMELINE_FIRST_SPACING_NS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline__spacing),
        cmocka_unit_test(test_timeline__thinning_covers_the_run_and_keeps_highs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
