/* plot_smooth.c: `backprop plot --smooth W`, TensorBoard's smoothing of a
 * curve (plot_int.h).
 *
 * An exponential moving average with its bias corrected, as TensorBoard's
 * scalar dashboard computes it (and `backprop ui`'s chart, ui_assets/app.js):
 *
 *     last_0 = 0
 *     last_k = w * last_{k-1} + (1 - w) * y_k      (k counts finite values)
 *     smoothed_k = last_k / (1 - w^k)
 *
 * w in [0, 1) is the weight of the past: 0 leaves the curve as it is, 0.9
 * averages over about the last 1 / (1 - w) = 10 values. Dividing by
 * 1 - w^k (the sum of the weights so far) removes the pull toward the
 * starting 0, so the first smoothed value is the first value. A NaN or
 * infinite value is passed through and leaves the average as it was (it
 * is left out of the plot anyway). Computed in the metric's own units,
 * before a log axis takes log10. */
#include <math.h>

#include "plot_int.h"

void plot_smooth(double *out, const double *in, size_t n, double w) {
    double last = 0, weight = 1; /* weight: w^k */
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(in[i])) {
            out[i] = in[i];
            continue;
        }
        last = last * w + (1 - w) * in[i];
        weight *= w;
        out[i] = last / (1 - weight);
    }
}
