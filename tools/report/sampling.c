#include "sampling.h"

#include <math.h>

double sampling_probability(double s, double rate)
{
    return -expm1(-s / rate);
}

double sampling_weight(double s, double rate)
{
    if (s <= 0)
        return rate;
    return s / sampling_probability(s, rate);
}

double sampling_size_from_weight(int64_t w, double rate)
{
    double wd = (double)w;
    if (wd <= rate + 0.5)
        return 1.0;
    /* w(s) increases from R (s -> 0) with slope between 1/2 and 1, so
     * s lies in [w - R, 2 (w - R)]: bisect there, then Newton-polish. */
    double lo = wd - rate, hi = 2.0 * (wd - rate) + 1.0;
    if (lo < 0)
        lo = 0;
    double s = 0.5 * (lo + hi);
    for (int i = 0; i < 100; i++) {
        double p = sampling_probability(s, rate);
        double f = s / p - wd;
        if (fabs(f) < 1e-9 * wd)
            break;
        if (f > 0)
            hi = s;
        else
            lo = s;
        /* dw/ds = (p - (s/R) e^{-s/R}) / p^2 */
        double d = (p - (s / rate) * (1.0 - p)) / (p * p);
        double ns = s - f / d;
        s = (d > 0 && ns > lo && ns < hi) ? ns : 0.5 * (lo + hi);
        if (hi - lo < 1e-12 * hi)
            break;
    }
    /* Allocation sizes are integers: prefer the integer whose rounded
     * weight is exactly w, which removes the rounding noise for small s. */
    double fl = floor(s), ce = ceil(s);
    if (fl >= 1 && llround(sampling_weight(fl, rate)) == w)
        return fl;
    if (ce >= 1 && llround(sampling_weight(ce, rate)) == w)
        return ce;
    return s < 1 ? 1.0 : s;
}
