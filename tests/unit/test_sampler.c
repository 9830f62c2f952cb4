#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "sampler.h"

#define RATE 131072

static void
test_sampler__mean_interval_is_the_rate(void **state)
{
    mp_sampler_t s = {0};
    mp_sampler_seed(&s, 42);
    const int n = 200000;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        sum += (double)mp_sampler_next_interval(&s, RATE);
    }
    double mean = sum / n;
    /* Exponential: standard deviation = mean, so the standard error is RATE / sqrt(n). */
    double se = RATE / sqrt(n);
    assert_true(fabs(mean - RATE) < 4 * se);
}

/* Runs allocations of size bytes through the countdown and returns the fraction sampled. */
static double
sampled_fraction(uint64_t size, int n, uint64_t seed)
{
    mp_sampler_t s = {0};
    mp_sampler_seed(&s, seed);
    int sampled = 0;
    for (int i = 0; i < n; i++) {
        if (mp_sampler_tick(&s, size) && mp_sampler_resolve(&s, RATE)) {
            sampled++;
        }
    }
    return (double)sampled / n;
}

static void
test_sampler__probability_matches_poisson(void **state)
{
    const uint64_t sizes[] = {16, 512, 8192, 65536, 131072, 1 << 20};
    const int n = 200000;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        double p = mp_sampler_probability(sizes[i], RATE);
        double got = sampled_fraction(sizes[i], n, 7 + i);
        double se = sqrt(p * (1 - p) / n);
        assert_true(fabs(got - p) <= 4 * se + 1e-9);
    }
}

static void
test_sampler__weights_are_unbiased(void **state)
{
    /* Sum of weights of the sampled allocations estimates the bytes allocated. */
    mp_sampler_t s = {0};
    mp_sampler_seed(&s, 3);
    const uint64_t size = 1000;
    const int n = 2000000;
    double estimate = 0;
    for (int i = 0; i < n; i++) {
        if (mp_sampler_tick(&s, size) && mp_sampler_resolve(&s, RATE)) {
            estimate += (double)mp_sampler_weight(size, RATE);
        }
    }
    double truth = (double)size * n;
    double se = sqrt((double)RATE * truth);
    assert_true(fabs(estimate - truth) < 4 * se);
}

static void
test_sampler__exact_mode_takes_everything(void **state)
{
    mp_sampler_t s = {0};
    mp_sampler_seed(&s, 1);
    for (uint64_t size = 0; size < 100; size++) {
        assert_true(mp_sampler_tick(&s, size));
        assert_true(mp_sampler_resolve(&s, MP_RATE_EXACT));
        assert_int_equal(mp_sampler_weight(size, MP_RATE_EXACT), size);
    }
}

static void
test_sampler__same_seed_same_draws(void **state)
{
    mp_sampler_t a = {0}, b = {0};
    mp_sampler_seed(&a, 99);
    mp_sampler_seed(&b, 99);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(mp_sampler_next_interval(&a, RATE), mp_sampler_next_interval(&b, RATE));
    }
}

static void
test_sampler__weight_of_large_blocks_is_their_size(void **state)
{
    assert_int_equal(mp_sampler_weight(64 << 20, RATE), 64 << 20);
    /* Small blocks stand for about RATE bytes each. */
    uint64_t w = mp_sampler_weight(16, RATE);
    assert_true(w >= RATE && w <= RATE + 16);
    assert_int_equal(mp_sampler_weight(0, RATE), 0);
}

static void
test_sampler__parked_countdown_rechecks(void **state)
{
    mp_sampler_t s = {0};
    mp_sampler_seed(&s, 5);
    mp_sampler_park(&s, 1000);
    assert_false(mp_sampler_tick(&s, 999));
    assert_true(mp_sampler_tick(&s, 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampler__mean_interval_is_the_rate),
        cmocka_unit_test(test_sampler__probability_matches_poisson),
        cmocka_unit_test(test_sampler__weights_are_unbiased),
        cmocka_unit_test(test_sampler__exact_mode_takes_everything),
        cmocka_unit_test(test_sampler__same_seed_same_draws),
        cmocka_unit_test(test_sampler__weight_of_large_blocks_is_their_size),
        cmocka_unit_test(test_sampler__parked_countdown_rechecks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
