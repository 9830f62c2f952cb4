/* Unit tests of the sampling estimators. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "sampling.h"

static void test_sampling__weight_limits(void **state)
{
    (void)state;
    assert_true(fabs(sampling_weight(1e-9, 1000) - 1000) < 1e-3);
    assert_true(fabs(sampling_weight(1e7, 1000) - 1e7) < 1e-3);
    assert_true(sampling_probability(1000, 1000) > 0.63 && sampling_probability(1000, 1000) < 0.64);
}

static void test_sampling__recovers_integer_sizes_from_rounded_weights(void **state)
{
    (void)state;
    static const double rates[] = {512, 4096, 524288};
    for (int r = 0; r < 3; r++) {
        for (int64_t s = 1; s < 3000000; s = s < 100 ? s + 1 : s * 3 / 2) {
            int64_t w = llround(sampling_weight((double)s, rates[r]));
            double got = sampling_size_from_weight(w, rates[r]);
            /* Exact where the rounded weight identifies s; else within the
             * width of one rounding step (dw/ds >= 1/2). */
            if (fabs(got - (double)s) > 2.0 + 1e-9 * (double)s)
                fail_msg("rate %g s %lld: w %lld gives %g", rates[r], (long long)s, (long long)w, got);
            assert_int_equal(llround(sampling_weight(got, rates[r])), w);
        }
    }
}

static void test_sampling__weight_at_or_below_rate_means_tiny(void **state)
{
    (void)state;
    assert_true(sampling_size_from_weight(1000, 1000) == 1.0);
    assert_true(sampling_size_from_weight(3, 1000) == 1.0);
    assert_true(sampling_size_from_weight(0, 1000) == 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampling__weight_limits),
        cmocka_unit_test(test_sampling__recovers_integer_sizes_from_rounded_weights),
        cmocka_unit_test(test_sampling__weight_at_or_below_rate_means_tiny),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
