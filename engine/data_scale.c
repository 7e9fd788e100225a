/* data_scale.c: scaling a data set's inputs (bp_scaler): standard,
 * min-max or fixed, fitted on the training rows and applied to any set.
 *
 * Statistics and scaling go through doubles for both dtypes (a float32
 * set's values are read as doubles and the result rounded once), so a
 * float32 set scales to the float64 figures rounded.
 *
 * Dimensions: n = samples, d = inputs. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_alloc.h"
#include "bp_data.h"
#include "bp_util.h"

static const char *const scale_names[BP_SCALE_COUNT] = {"standard", "minmax", "fixed"};

const char *bp_scale_name(bp_scale s) {
    return bp_name_of(scale_names, BP_SCALE_COUNT, (int)s);
}
int bp_scale_parse(const char *name) {
    return bp_name_find(scale_names, BP_SCALE_COUNT, name);
}

static bp_scaler *scaler_new(bp_scale kind, int d, bp_err *e) {
    bp_scaler *s = bp_calloc(1, sizeof *s);
    if (s) {
        s->kind = kind;
        s->d = d;
        s->shift = bp_calloc((size_t)d, sizeof(double));
        s->scale = bp_calloc((size_t)d, sizeof(double));
    }
    if (!s || !s->shift || !s->scale) {
        bp_scaler_free(s);
        bp_err_set(e, "out of memory");
        return NULL;
    }
    return s;
}

/* Row r of data's inputs as doubles: where it lies in float64 data, else
 * converted into buf (d values). */
static const double *row_f64(const bp_data *data, int r, double *buf) {
    if (data->x8) {
        const unsigned char *c = data->x8 + (size_t)r * data->d;
        for (int i = 0; i < data->d; i++) buf[i] = data->table[c[i]];
        return buf;
    }
    if (data->dtype == BP_F64) return data->x + (size_t)r * data->d;
    const float *xr = data->x32 + (size_t)r * data->d;
    for (int i = 0; i < data->d; i++) buf[i] = xr[i];
    return buf;
}

bp_scaler *bp_scaler_fit(const bp_data *train, bp_scale kind, bp_err *e) {
    if (kind != BP_SCALE_STANDARD && kind != BP_SCALE_MINMAX) {
        bp_err_set(e, "a scaler is fitted as standard or minmax, not %s",
                   bp_scale_name(kind));
        return NULL;
    }
    if (train->n < 1) {
        bp_err_set(e, "cannot fit a scaler to 0 samples");
        return NULL;
    }
    int n = train->n, d = train->d;
    bp_scaler *s = scaler_new(kind, d, e);
    double *lo = s ? bp_malloc(sizeof(double) * 2 * (size_t)d) : NULL;
    if (!lo) {
        if (s) bp_err_set(e, "out of memory");
        bp_scaler_free(s);
        return NULL;
    }
    double *hi = lo + d, *sum = s->shift, *sq = s->scale; /* calloc'd: 0 */
    double *buf = s ? bp_malloc(sizeof(double) * (size_t)d) : NULL;
    if (!buf) {
        bp_free(lo);
        bp_scaler_free(s);
        bp_err_set(e, "out of memory");
        return NULL;
    }
    /* Row by row, accumulating every column at once: x is row-major, and a
     * walk down one column at a time would stride through all of it d times
     * (seconds instead of a fraction of one on Fashion-MNIST). */
    memcpy(lo, row_f64(train, 0, buf), sizeof(double) * (size_t)d);
    memcpy(hi, lo, sizeof(double) * (size_t)d);
    for (int r = 0; r < n; r++) {
        const double *xr = row_f64(train, r, buf);
        for (int i = 0; i < d; i++) {
            lo[i] = xr[i] < lo[i] ? xr[i] : lo[i];
            hi[i] = xr[i] > hi[i] ? xr[i] : hi[i];
            sum[i] += xr[i];
        }
    }
    for (int i = 0; i < d; i++) s->shift[i] = sum[i] / n; /* the mean */
    if (kind == BP_SCALE_STANDARD)
        for (int r = 0; r < n; r++) {
            const double *xr = row_f64(train, r, buf);
            for (int i = 0; i < d; i++) {
                double dv = xr[i] - s->shift[i];
                sq[i] += dv * dv;
            }
        }
    for (int i = 0; i < d; i++) {
        /* A constant column maps to exactly 0: the mean of n equal values
         * need not round back to that value, and 1/tiny would blow it up. */
        if (lo[i] == hi[i]) {
            s->shift[i] = lo[i];
            s->scale[i] = 1.0;
        } else if (kind == BP_SCALE_MINMAX) {
            s->shift[i] = lo[i];
            s->scale[i] = hi[i] - lo[i];
        } else {
            s->scale[i] = sqrt(sq[i] / n);
        }
    }
    bp_free(lo);
    bp_free(buf);
    return s;
}

bp_scaler *bp_scaler_fixed(int d, double shift, double scale, bp_err *e) {
    if (d < 1 || !isfinite(shift) || !isfinite(scale) || scale == 0) {
        bp_err_set(e,
                   "a fixed scaler needs d >= 1 and a finite shift and non-zero "
                   "scale (got %d, %g, %g)",
                   d, shift, scale);
        return NULL;
    }
    bp_scaler *s = scaler_new(BP_SCALE_FIXED, d, e);
    if (!s) return NULL;
    for (int i = 0; i < d; i++) {
        s->shift[i] = shift;
        s->scale[i] = scale;
    }
    return s;
}

int bp_scaler_apply(const bp_scaler *s, bp_data *data, bp_err *e) {
    int d = data->d;
    if (s->d != d)
        return bp_err_set(e, "the scaler was fitted to %d columns, the data has %d", s->d,
                          d);
    /* the same shift and scale, to the bit (signed zeros too), everywhere */
    int uniform = 1;
    for (int i = 1; i < d; i++)
        uniform &= !memcmp(&s->shift[i], &s->shift[0], sizeof(double)) &&
                   !memcmp(&s->scale[i], &s->scale[0], sizeof(double));
    if (data->x8 && uniform) {
        /* each x[k] below is its code's value: the loop's formula on the
         * 256 values (a float32 set's are floats) */
        double *t = data->table;
        for (int v = 0; v < 256; v++) {
            double scaled = (t[v] - s->shift[0]) / s->scale[0];
            t[v] = data->dtype == BP_F32 ? (float)scaled : scaled;
        }
        return 0;
    }
    if (bp_data_materialize(data, e)) return -1;
    for (int r = 0; r < data->n; r++) {
        if (data->dtype == BP_F32) {
            float *xr = data->x32 + (size_t)r * d;
            for (int i = 0; i < d; i++)
                xr[i] = (float)(((double)xr[i] - s->shift[i]) / s->scale[i]);
        } else {
            double *xr = data->x + (size_t)r * d;
            for (int i = 0; i < d; i++) xr[i] = (xr[i] - s->shift[i]) / s->scale[i];
        }
    }
    return 0;
}

void bp_scaler_free(bp_scaler *s) {
    if (!s) return;
    bp_free(s->shift);
    bp_free(s->scale);
    bp_free(s);
}
