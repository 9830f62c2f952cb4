#include "trend_stats.h"

#include <math.h>
#include <stdlib.h>

void trend_fit_series(const double *t, const double *x, const double *v, size_t n, trend_fit *out)
{
    double tb = 0, sxx = 0, slope = 0;
    for (size_t i = 0; i < n; i++)
        tb += t[i];
    tb /= (double)n;
    for (size_t i = 0; i < n; i++)
        sxx += (t[i] - tb) * (t[i] - tb);
    /* Relative to the first value: a flat series has a slope of exactly 0
     * (the c_i sum to 0 only up to rounding). */
    for (size_t i = 0; i < n; i++)
        slope += (t[i] - tb) / sxx * (x[i] - x[0]);
    /* Increments around the slope: their scatter per unit of time.
     * Residuals at the level of rounding (an exactly linear series) count
     * as none, so that such a series has no noise at all. */
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fabs(x[i]) > scale ? fabs(x[i]) : scale;
    double tau2 = 0;
    size_t rises = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        double dt = t[k + 1] - t[k], d = x[k + 1] - x[k];
        double r = d - slope * dt;
        if (fabs(r) <= 1e-12 * scale)
            r = 0;
        tau2 += r * r / dt;
        rises += d > 0;
    }
    tau2 /= (double)(n - 2);
    /* slope = sum_i c_i x_i = -sum_k C_k (x[k+1] - x[k]), with C_k the
     * partial sums of c_i = (t_i - tb) / sxx, all <= 0. */
    double var = 0, ck = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        ck += (t[k] - tb) / sxx;
        double dt = t[k + 1] - t[k];
        double vk = tau2 * dt, floor_k = fabs(v[k + 1] - v[k]);
        var += ck * ck * (vk > floor_k ? vk : floor_k);
    }
    out->slope = slope;
    out->slope_se = sqrt(var);
    out->dof = (double)(n - 2);
    if (out->slope_se > 0)
        out->t = slope / out->slope_se;
    else
        out->t = slope > 0 ? INFINITY : slope < 0 ? -INFINITY : 0;
    out->p = trend_student_sf(out->t, out->dof);
    out->rises = rises;
    out->growth = x[n - 1] - x[0];
}

/* Continued fraction of the incomplete beta function (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 300; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15)
            break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b). */
static double beta_inc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2))
        return exp(lbt) * beta_cf(a, b, x) / a;
    return 1 - exp(lbt) * beta_cf(b, a, 1 - x) / b;
}

double trend_student_sf(double t, double dof)
{
    if (isnan(t))
        return 1;
    if (isinf(t))
        return t > 0 ? 0 : 1;
    /* P(|T| > t) = I_{dof / (dof + t^2)}(dof / 2, 1 / 2). */
    double tail = 0.5 * beta_inc(dof / 2, 0.5, dof / (dof + t * t));
    return t >= 0 ? tail : 1 - tail;
}

static const double *holm_p;

static int cmp_index_by_p(const void *pa, const void *pb)
{
    double a = holm_p[*(const size_t *)pa], b = holm_p[*(const size_t *)pb];
    if (a != b)
        return a < b ? -1 : 1;
    return *(const size_t *)pa < *(const size_t *)pb ? -1 : 1;
}

int trend_holm(const double *p, size_t m, double alpha, uint8_t *reject)
{
    size_t *order = malloc((m ? m : 1) * sizeof *order);
    if (!order)
        return -1;
    for (size_t i = 0; i < m; i++) {
        order[i] = i;
        reject[i] = 0;
    }
    holm_p = p;
    qsort(order, m, sizeof *order, cmp_index_by_p);
    /* The j-th smallest p-value (from 0) is compared with alpha / (m - j);
     * the first that fails stops the procedure. */
    for (size_t j = 0; j < m && p[order[j]] <= alpha / (double)(m - j); j++)
        reject[order[j]] = 1;
    free(order);
    return 0;
}
