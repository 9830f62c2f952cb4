#include "sampler.h"

#include <math.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "index.h"

void
mp_sampler_seed(mp_sampler_t *s, uint64_t seed)
{
    /* splitmix64 turns any seed, 0 included, into a nonzero xorshift state. */
    uint64_t state = mp_hash_u64(seed + 0x9e3779b97f4a7c15ULL);
    s->rng = state ? state : 1;
}

static uint64_t
next_random(mp_sampler_t *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

int64_t
mp_sampler_next_interval(mp_sampler_t *s, uint64_t rate)
{
    if (rate <= MP_RATE_EXACT) {
        return 0;
    }
    /* u is uniform in (0, 1): 53 random bits, offset by half a step so log(u) is finite. */
    double u = ((double)(next_random(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double interval = -log(u) * (double)rate;
    if (interval < 1.0) {
        return 1;
    }
    if (interval > 9.0e18) {
        return INT64_MAX;
    }
    return (int64_t)interval;
}

int
mp_sampler_resolve(mp_sampler_t *s, uint64_t rate)
{
    if (rate <= MP_RATE_EXACT) {
        s->countdown = 0;
        s->armed = 1;
        return 1;
    }
    if (!s->armed) {
        s->armed = 1;
        s->countdown += mp_sampler_next_interval(s, rate);
        if (s->countdown > 0) {
            return 0;
        }
    }
    /* Memoryless: the next point is a fresh draw from the end of this allocation. */
    s->countdown = mp_sampler_next_interval(s, rate);
    return 1;
}

void
mp_sampler_park(mp_sampler_t *s, int64_t bytes)
{
    s->countdown = bytes;
    s->armed = 0;
}

double
mp_sampler_probability(uint64_t size, uint64_t rate)
{
    if (rate <= MP_RATE_EXACT) {
        return 1.0;
    }
    return -expm1(-(double)size / (double)rate);
}

uint64_t
mp_sampler_weight(uint64_t size, uint64_t rate)
{
    if (rate <= MP_RATE_EXACT || size == 0) {
        return size;
    }
    double w = (double)size / mp_sampler_probability(size, rate);
    return (uint64_t)llround(w);
}

uint64_t
mp_sampler_entropy(void)
{
    uint64_t bits = 0;
    if (getrandom(&bits, sizeof(bits), GRND_NONBLOCK) != (ssize_t)sizeof(bits)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        bits = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16);
    }
    return bits;
}
