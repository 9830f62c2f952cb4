/* The statistics of --trend (docs/report.md, "Leaks across snapshots"):
 * a least-squares slope over the snapshots' times and its significance
 * under the increments model of successive dumps. */
#ifndef MPROFILE_REPORT_TREND_STATS_H
#define MPROFILE_REPORT_TREND_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct trend_fit {
    double slope;  /* least-squares slope, bytes per unit of time */
    double slope_se; /* its standard error (0: no noise at all) */
    double t;      /* slope / slope_se, +-inf when slope_se is 0 and the slope is not */
    double dof;    /* degrees of freedom of the Student t test: n - 2 */
    double p;      /* one-sided p-value of "the slope is > 0" */
    size_t rises;  /* steps whose bytes went up */
    double growth; /* last - first */
} trend_fit;

/* Fits the series x[0..n) (n >= 3) at the strictly increasing times
 * t[0..n), whose estimates have the sampling variances v[0..n) (all 0 in
 * exact mode).  The increments x[k+1] - x[k] are taken as independent
 * (which overstates the slope's variance, never understates it: see the
 * derivation in docs/report.md), each with variance
 *     max(tau2 * (t[k+1] - t[k]), |v[k+1] - v[k]|)
 * where tau2 is the scatter per unit of time of the increments around the
 * slope, with n - 2 degrees of freedom. */
void trend_fit_series(const double *t, const double *x, const double *v, size_t n, trend_fit *out);

/* P(T > t) for Student's t with dof degrees of freedom (dof > 0). */
double trend_student_sf(double t, double dof);

/* Holm's step-down procedure: reject[i] set for the hypotheses rejected at
 * family-wise error rate alpha among the m p-values. 0, or -1 when out of
 * memory. */
int trend_holm(const double *p, size_t m, double alpha, uint8_t *reject);

#endif
