/* Estimators for Poisson byte sampling (see docs/report.md).
 *
 * An allocation of s bytes is sampled with p(s) = 1 - exp(-s/R) and
 * recorded with the weight w = round(s / p(s)), so the recorded sizes
 * already sum to an unbiased estimate of the bytes.  What the snapshot does
 * not carry is s itself, which the count estimate (1/p per sample) and the
 * variance need: it is recovered here by inverting w(s). */
#ifndef MPROFILE_REPORT_SAMPLING_H
#define MPROFILE_REPORT_SAMPLING_H

#include <stdint.h>

/* Expected recorded weight of an allocation of s bytes (unrounded). */
double sampling_weight(double s, double rate);
/* Size s >= 1 whose rounded weight is w; w <= rate gives 1. */
double sampling_size_from_weight(int64_t w, double rate);
/* Probability that an allocation of s bytes is sampled. */
double sampling_probability(double s, double rate);

#endif
