/*
 * Poisson byte sampling, as in tcmalloc, jemalloc and Go.
 *
 * Think of the bytes a thread allocates as one long stream, and drop sample points on it as a
 * Poisson process with one point per R bytes on average (R = MPROFILE_RATE). An allocation of s
 * bytes is sampled when at least one point falls inside its s bytes, which happens with
 * probability p(s) = 1 - exp(-s/R). The distances between points are independent exponential
 * draws of mean R, so each thread only keeps a countdown of the bytes left to the next point:
 * the hot path subtracts and tests. The process is memoryless, so after a sampled allocation the
 * next point is a fresh draw measured from its end, whatever other points fell inside it.
 *
 * A sampled allocation stands for 1/p(s) allocations and s/p(s) bytes (the Horvitz-Thompson
 * weight): sums of weights over any grouping of blocks are unbiased estimates of the true
 * counts and bytes. With R = 1 (exact mode) every allocation is taken with weight s.
 */
#ifndef MP_SAMPLER_H
#define MP_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#define MP_RATE_EXACT 1

typedef struct {
    int64_t countdown; /* bytes left before the next sample point */
    uint64_t rng;      /* xorshift64* state; 0 until seeded */
    int armed;         /* the countdown holds a real draw (not the idle value) */
} mp_sampler_t;

/* Hot path: subtracts size; returns nonzero when the countdown ran out. */
static inline int
mp_sampler_tick(mp_sampler_t *s, size_t size)
{
    s->countdown -= (int64_t)size;
    return s->countdown <= 0;
}

/* Seeds the generator (any seed, 0 included, gives a valid state). */
void mp_sampler_seed(mp_sampler_t *s, uint64_t seed);

/* An exponential draw of mean rate bytes, at least 1 (always 0 in exact mode). */
int64_t mp_sampler_next_interval(mp_sampler_t *s, uint64_t rate);

/*
 * Slow path after mp_sampler_tick() fired: decides whether the allocation is sampled and re-arms
 * the countdown. A countdown that was not armed (a new thread, or sampling just started) gets
 * its first draw here, and the allocation is sampled only if it reaches that first point, so no
 * allocation is favoured for being a thread's first. Returns nonzero when sampled.
 */
int mp_sampler_resolve(mp_sampler_t *s, uint64_t rate);

/* Parks the countdown at bytes, so the slow path runs again after that many (while idle). */
void mp_sampler_park(mp_sampler_t *s, int64_t bytes);

/* Probability that an allocation of size bytes is sampled at this rate. */
double mp_sampler_probability(uint64_t size, uint64_t rate);

/* Estimated bytes that a sampled allocation of size bytes stands for: size / p(size). */
uint64_t mp_sampler_weight(uint64_t size, uint64_t rate);

/* Some bits that differ between processes and runs, for seeding when MPROFILE_SEED is unset.
 * Slow path. */
uint64_t mp_sampler_entropy(void);

#endif
