/* test_modules.c: the kernels of the graph's own modules, dropout and batch
 * norm (bp_ops.h), in both dtypes, against oracles that do not share their
 * code.
 *
 *  - Gradients by central finite differences of a loss L = sum_k w_k y_k
 *    (random w, so that no direction is special) with respect to every
 *    input and parameter: batch norm in training (B = 2, 3, 5) and in
 *    evaluation (B = 1 and 4), dropout with its mask held.
 *  - Batch norm's forward and backward on a 3 x 2 batch worked out by hand;
 *    its running statistics after three steps; evaluation mode.
 *  - Dropout's statistics (the fraction dropped within binomial bounds, the
 *    scaling, the mean kept), its masks (the same from the same seed in
 *    both dtypes, one draw per value), p = 0 and p = 1.
 *
 * Every check runs once per dtype: the float32 kernels are called through
 * adapters that round the inputs to float and widen the outputs, so that
 * the tests are written once, in double, with each dtype's tolerance.
 *
 * Dimensions: B = rows of the batch, F = features, n = values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_ops.h"
#include "bp_rng.h"
#include "check.h"

enum { F64, F32, DTYPES };
static const char *const dtype_name[DTYPES] = {"float64", "float32"};

/* ------------------------------------------------------------------------ */
/* The float32 kernels behind double arrays                                  */

static float *to_f(const double *v, size_t n) {
    float *f = malloc(sizeof(float) * (n ? n : 1));
    for (size_t k = 0; k < n; k++) f[k] = (float)v[k];
    return f;
}

/* Room for a kernel's output that it overwrites. */
static float *new_f(size_t n) { return malloc(sizeof(float) * (n ? n : 1)); }

static void from_f(double *v, float *f, size_t n) {
    for (size_t k = 0; k < n; k++) v[k] = f[k];
    free(f);
}

static void dropout_fwd(int t, double *y, uint8_t *keep, const double *x, size_t n,
                        double p, bp_rng *r) {
    if (t == F64) {
        bp_dropout_forward(y, keep, x, n, p, r);
        return;
    }
    float *yf = new_f(n), *xf = to_f(x, n);
    bp_dropout_forward_f32(yf, keep, xf, n, p, r);
    from_f(y, yf, n);
    free(xf);
}

static void dropout_bwd(int t, double *dx, const double *dy, const uint8_t *keep,
                        size_t n, double p) {
    if (t == F64) {
        bp_dropout_backward(dx, dy, keep, n, p);
        return;
    }
    float *dxf = to_f(dx, n), *dyf = to_f(dy, n);
    bp_dropout_backward_f32(dxf, dyf, keep, n, p);
    from_f(dx, dxf, n);
    free(dyf);
}

/* Batch norm's forward, training (train 1: updates rm and rv) or
 * evaluation (train 0: reads them). */
static void bn_fwd(int t, int train, double *y, double *xhat, double *invstd, double *rm,
                   double *rv, const double *x, const double *g, const double *b, int B,
                   int F, double eps, double momentum) {
    size_t N = (size_t)B * F;
    if (t == F64) {
        if (train)
            bp_batchnorm_forward_train(y, xhat, invstd, rm, rv, x, g, b, B, F, eps,
                                       momentum);
        else bp_batchnorm_forward_eval(y, xhat, invstd, x, g, b, rm, rv, B, F, eps);
        return;
    }
    float *yf = new_f(N), *xhf = new_f(N), *isf = new_f(F);
    float *rmf = to_f(rm, F), *rvf = to_f(rv, F), *xf = to_f(x, N);
    float *gf = to_f(g, F), *bf = to_f(b, F);
    if (train)
        bp_batchnorm_forward_train_f32(yf, xhf, isf, rmf, rvf, xf, gf, bf, B, F, eps,
                                       momentum);
    else bp_batchnorm_forward_eval_f32(yf, xhf, isf, xf, gf, bf, rmf, rvf, B, F, eps);
    from_f(y, yf, N), from_f(xhat, xhf, N), from_f(invstd, isf, F);
    from_f(rm, rmf, F), from_f(rv, rvf, F);
    free(xf), free(gf), free(bf);
}

static void bn_bwd(int t, int train, double *dx, double *dg, double *db, const double *dy,
                   const double *xhat, const double *invstd, const double *g, int B,
                   int F) {
    size_t N = (size_t)B * F;
    if (t == F64) {
        if (train) bp_batchnorm_backward_train(dx, dg, db, dy, xhat, invstd, g, B, F);
        else bp_batchnorm_backward_eval(dx, dg, db, dy, xhat, invstd, g, B, F);
        return;
    }
    float *dxf = to_f(dx, N), *dgf = to_f(dg, F), *dbf = to_f(db, F);
    float *dyf = to_f(dy, N), *xhf = to_f(xhat, N), *isf = to_f(invstd, F);
    float *gf = to_f(g, F);
    if (train) bp_batchnorm_backward_train_f32(dxf, dgf, dbf, dyf, xhf, isf, gf, B, F);
    else bp_batchnorm_backward_eval_f32(dxf, dgf, dbf, dyf, xhf, isf, gf, B, F);
    from_f(dx, dxf, N), from_f(dg, dgf, F), from_f(db, dbf, F);
    free(dyf), free(xhf), free(isf), free(gf);
}

/* ------------------------------------------------------------------------ */
/* Batch norm by hand                                                        */

#define EPS 1e-5
/* Per dtype: how close a hand figure must be (relative to max(1, |figure|)). */
static const double hand_tol[DTYPES] = {4e-16, 3e-7};

static void check_near_all(const double *got, const double *want, size_t n, double tol,
                           const char *what, int t) {
    for (size_t k = 0; k < n; k++) {
        double lim = tol * fmax(1, fabs(want[k]));
        if (!(fabs(got[k] - want[k]) <= lim))
            fprintf(stderr, "%s %s[%zu] = %.17g, want %.17g\n", dtype_name[t], what, k,
                    got[k], want[k]);
        CHECK(fabs(got[k] - want[k]) <= lim);
    }
}

/* The 3 x 2 batch
 *     x = | 1  0 |    gamma = (2, 0.5), beta = (1, -1),
 *         | 3  0 |    dy = | 1  0 |
 *         | 5  3 |         | 0  1 |
 *                          | 2 -1 |
 * Feature 1: mean 3, biased variance (4 + 0 + 4) / 3 = 8/3, unbiased 4;
 * feature 2: mean 1, biased variance (1 + 1 + 4) / 3 = 2, unbiased 3. With
 * i1 = 1 / sqrt(8/3 + eps) and i2 = 1 / sqrt(2 + eps):
 *   xhat = | -2 i1  -i2  |    y = | 1 + 2 xhat11  -1 + xhat12 / 2 |
 *          |  0     -i2  |        | ...                           |
 *          |  2 i1  2 i2 |
 * running mean from 0 and variance from 1, momentum 0.1: (0.3, 0.1) and
 * (0.9 + 0.1 * 4, 0.9 + 0.1 * 3) = (1.3, 1.2).
 * Backward, dx = gamma i / 3 (3 dy - sum dy - xhat sum dy xhat):
 *   feature 1: sum dy = 3, sum dy xhat = (-2 + 4) i1 = 2 i1, so
 *     dbeta = 3, dgamma = 2 i1, dx = (2 i1 / 3) (3 dy - 3 - 2 i1 xhat)
 *     = (2 i1 / 3) (4 i1^2, -3, 3 - 4 i1^2)   [i1^2 = 3/8 without eps:
 *     i1 (1, -2, 1)];
 *   feature 2: sum dy = 0, sum dy xhat = (-1 - 2) i2 = -3 i2, so
 *     dbeta = 0, dgamma = -3 i2, dx = (i2 / 6) (3 dy + 3 i2 xhat)
 *     = (i2 / 6) (-3 i2^2, 3 - 3 i2^2, -3 + 6 i2^2)   [i2^2 = 1/2:
 *     i2 (-1/4, 1/4, 0)].
 * Backward adds: dx, dgamma and dbeta start at 1 here. */
static void test_batchnorm_by_hand(void) {
    const double x[6] = {1, 0, 3, 0, 5, 3}, g[2] = {2, 0.5}, b[2] = {1, -1};
    const double dy[6] = {1, 0, 0, 1, 2, -1};
    const double i1 = 1 / sqrt(8.0 / 3 + EPS), i2 = 1 / sqrt(2 + EPS);
    const double want_xhat[6] = {-2 * i1, -i2, 0, -i2, 2 * i1, 2 * i2};
    double want_y[6];
    for (int k = 0; k < 6; k++) want_y[k] = b[k % 2] + g[k % 2] * want_xhat[k];
    const double want_dx[6] = {1 + 2 * i1 / 3 * 4 * i1 * i1,
                               1 + i2 / 6 * -3 * i2 * i2,
                               1 + 2 * i1 / 3 * -3,
                               1 + i2 / 6 * (3 - 3 * i2 * i2),
                               1 + 2 * i1 / 3 * (3 - 4 * i1 * i1),
                               1 + i2 / 6 * (-3 + 6 * i2 * i2)};
    const double want_dg[2] = {1 + 2 * i1, 1 - 3 * i2}, want_db[2] = {1 + 3, 1 + 0};
    const double want_rm[2] = {0.3, 0.1}, want_rv[2] = {1.3, 1.2};
    const double want_is[2] = {i1, i2};
    for (int t = 0; t < DTYPES; t++) {
        double y[6], xhat[6], is[2], rm[2] = {0, 0}, rv[2] = {1, 1};
        bn_fwd(t, 1, y, xhat, is, rm, rv, x, g, b, 3, 2, EPS, 0.1);
        check_near_all(y, want_y, 6, hand_tol[t], "y", t);
        check_near_all(xhat, want_xhat, 6, hand_tol[t], "xhat", t);
        check_near_all(is, want_is, 2, hand_tol[t], "invstd", t);
        check_near_all(rm, want_rm, 2, hand_tol[t], "running_mean", t);
        check_near_all(rv, want_rv, 2, hand_tol[t], "running_var", t);
        double dx[6] = {1, 1, 1, 1, 1, 1}, dg[2] = {1, 1}, db[2] = {1, 1};
        bn_bwd(t, 1, dx, dg, db, dy, xhat, is, g, 3, 2);
        check_near_all(dx, want_dx, 6, hand_tol[t], "dx", t);
        check_near_all(dg, want_dg, 2, hand_tol[t], "dgamma", t);
        check_near_all(db, want_db, 2, hand_tol[t], "dbeta", t);
        /* The normalised columns have mean 0 and biased variance 1 / (1 +
         * eps / var): y's columns have mean beta. */
        for (int f = 0; f < 2; f++)
            CHECK_NEAR((y[f] + y[2 + f] + y[4 + f]) / 3, b[f], hand_tol[t] * 4);
    }
}

/* Three training steps from running mean 0 and variance 1 (momentum 0.1):
 * the batch above (means 3, 1; unbiased variances 4, 3), then
 *   | 0 2 |  means 2, 4;          | -1 1 |  means 0, 1;
 *   | 2 2 |  unbiased variances   | -1 1 |  unbiased variances
 *   | 4 8 |  4, 12;               |  2 1 |  3, 0 (a constant feature).
 * running_mean = 0.9^2 0.1 m1 + 0.9 0.1 m2 + 0.1 m3 = (0.423, 0.541);
 * running_var = 0.9^3 + 0.9^2 0.1 u1 + 0.9 0.1 u2 + 0.1 u3
 *             = (0.729 + 0.324 + 0.36 + 0.3, 0.729 + 0.243 + 1.08 + 0)
 *             = (1.713, 2.052).
 * The constant feature normalises to 0 (invstd 1 / sqrt(eps)), not NaN. */
static void test_batchnorm_running_stats(void) {
    const double xs[3][6] = {
        {1, 0, 3, 0, 5, 3}, {0, 2, 2, 2, 4, 8}, {-1, 1, -1, 1, 2, 1}};
    const double g[2] = {1, 1}, b[2] = {0, 0};
    const double want_rm[2] = {0.423, 0.541}, want_rv[2] = {1.713, 2.052};
    for (int t = 0; t < DTYPES; t++) {
        double y[6], xhat[6], is[2], rm[2] = {0, 0}, rv[2] = {1, 1};
        for (int step = 0; step < 3; step++)
            bn_fwd(t, 1, y, xhat, is, rm, rv, xs[step], g, b, 3, 2, EPS, 0.1);
        check_near_all(rm, want_rm, 2, 4 * hand_tol[t], "running_mean", t);
        check_near_all(rv, want_rv, 2, 4 * hand_tol[t], "running_var", t);
        CHECK(xhat[1] == 0 && xhat[3] == 0 && xhat[5] == 0);
        CHECK_NEAR(is[1], 1 / sqrt(EPS), hand_tol[t] / sqrt(EPS));
        /* momentum 1: the last batch's statistics alone */
        double rm1[2] = {7, 7}, rv1[2] = {7, 7};
        bn_fwd(t, 1, y, xhat, is, rm1, rv1, xs[1], g, b, 3, 2, EPS, 1);
        CHECK(rm1[0] == 2 && rm1[1] == 4 && rv1[0] == 4 && rv1[1] == 12);
    }
}

/* Evaluation mode: the running statistics in place of the batch's, left
 * as they are; any B, one included. Running mean (2, -1), variance
 * (4, 0.25), gamma (2, 0.5), beta (1, -1); the row (1, 0):
 *   xhat = ((1 - 2) / sqrt(4 + eps), (0 + 1) / sqrt(0.25 + eps)),
 *   y = (1 + 2 xhat1, -1 + 0.5 xhat2);
 * backward of dy = (1, -2) onto 0: dx = dy gamma invstd =
 * (2 / sqrt(4 + eps), -1 / sqrt(0.25 + eps)), dgamma = dy xhat, dbeta = dy.
 * The second row (2, -1) is at the mean: xhat 0, y = beta. */
static void test_batchnorm_eval(void) {
    const double g[2] = {2, 0.5}, b[2] = {1, -1}, x[4] = {1, 0, 2, -1};
    const double j1 = 1 / sqrt(4 + EPS), j2 = 1 / sqrt(0.25 + EPS);
    const double want_xhat[4] = {-j1, j2, 0, 0};
    const double want_y[4] = {1 - 2 * j1, -1 + 0.5 * j2, 1, -1};
    for (int t = 0; t < DTYPES; t++)
        for (int B = 1; B <= 2; B++) {
            double y[4], xhat[4], is[2], rm[2] = {2, -1}, rv[2] = {4, 0.25};
            bn_fwd(t, 0, y, xhat, is, rm, rv, x, g, b, B, 2, EPS, 0.1);
            CHECK(rm[0] == 2 && rm[1] == -1 && rv[0] == 4 && rv[1] == 0.25);
            check_near_all(y, want_y, (size_t)2 * B, hand_tol[t], "eval y", t);
            check_near_all(xhat, want_xhat, (size_t)2 * B, hand_tol[t], "eval xhat", t);
            double dy[4] = {1, -2, 3, 3}, dx[4] = {0, 0, 0, 0}, dg[2] = {0, 0},
                   db[2] = {0, 0};
            bn_bwd(t, 0, dx, dg, db, dy, xhat, is, g, B, 2);
            const double want_dx[4] = {2 * j1, -j2, 6 * j1, 1.5 * j2};
            const double want_dg[2] = {-j1, -2 * j2};
            const double want_db[2][2] = {{1, -2}, {4, 1}};
            check_near_all(dx, want_dx, (size_t)2 * B, hand_tol[t], "eval dx", t);
            check_near_all(dg, want_dg, 2, hand_tol[t], "eval dgamma", t);
            check_near_all(db, want_db[B - 1], 2, hand_tol[t], "eval dbeta", t);
        }
}

/* ------------------------------------------------------------------------ */
/* Finite differences                                                        */

/* Central differences of L = sum_k w_k y_k. In double a step of 1e-5 is
 * held to a relative 1e-6 (above a floor of 1e-4, the differences' own
 * rounding); in float the loss's rounding (~1e-7 of the sum of |w y|) over
 * a step of 1e-2 is ~1e-5, held to a relative 1e-2 above a floor of 1e-2.
 * A wrong derivative, even a missing term of the mean's or the variance's,
 * shows as a relative error of order 1e-1 or more. */
static const double fd_h[DTYPES] = {1e-5, 1e-2};
static const double fd_tol[DTYPES] = {1e-6, 1e-2};
static const double fd_floor[DTYPES] = {1e-4, 1e-2};

static double rel_err(double a, double b, double floor) {
    return fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), floor);
}

typedef struct bn_case {
    int t, train, B, F;
    double *x, *g, *b, *rm, *rv, *w; /* inputs, parameters, statistics, loss weights */
} bn_case;

/* L of the batch norm at c's x, gamma and beta (the running statistics put
 * back: a training forward moves them). */
static double bn_loss(const bn_case *c) {
    size_t N = (size_t)c->B * c->F;
    double *y = malloc(sizeof(double) * N), *xh = malloc(sizeof(double) * N);
    double *is = malloc(sizeof(double) * c->F), *rm = malloc(sizeof(double) * c->F),
           *rv = malloc(sizeof(double) * c->F);
    memcpy(rm, c->rm, sizeof(double) * c->F);
    memcpy(rv, c->rv, sizeof(double) * c->F);
    bn_fwd(c->t, c->train, y, xh, is, rm, rv, c->x, c->g, c->b, c->B, c->F, EPS, 0.1);
    double L = 0;
    for (size_t k = 0; k < N; k++) L += c->w[k] * y[k];
    free(y), free(xh), free(is), free(rm), free(rv);
    return L;
}

/* dL/d*v by central differences, *v restored; the step actually taken is
 * between the two values the dtype holds. */
static double fd(const bn_case *c, double *v) {
    double saved = *v, h = fd_h[c->t], up = saved + h, down = saved - h;
    if (c->t == F32) up = (float)up, down = (float)down;
    *v = up;
    double lp = bn_loss(c);
    *v = down;
    double lm = bn_loss(c);
    *v = saved;
    return (lp - lm) / (up - down);
}

static void bn_gradcheck(int t, int train, int B, int F, bp_rng *r) {
    size_t N = (size_t)B * F;
    double x[5 * 4], g[4], b[4], rm[4], rv[4], w[5 * 4];
    for (size_t k = 0; k < N; k++) {
        x[k] = 4 * bp_rng_uniform(r) - 2;
        w[k] = 2 * bp_rng_uniform(r) - 1;
        if (t == F32) x[k] = (float)x[k], w[k] = (float)w[k];
    }
    for (int f = 0; f < F; f++) {
        g[f] = 0.5 + bp_rng_uniform(r), b[f] = bp_rng_uniform(r) - 0.5;
        rm[f] = bp_rng_uniform(r) - 0.5, rv[f] = 0.5 + bp_rng_uniform(r);
        if (t == F32)
            g[f] = (float)g[f], b[f] = (float)b[f], rm[f] = (float)rm[f],
            rv[f] = (float)rv[f];
    }
    bn_case c = {t, train, B, F, x, g, b, rm, rv, w};
    double y[5 * 4], xhat[5 * 4], is[4], rm2[4], rv2[4];
    memcpy(rm2, rm, sizeof rm), memcpy(rv2, rv, sizeof rv);
    bn_fwd(t, train, y, xhat, is, rm2, rv2, x, g, b, B, F, EPS, 0.1);
    double dx[5 * 4] = {0}, dg[4] = {0}, db[4] = {0};
    bn_bwd(t, train, dx, dg, db, w, xhat, is, g, B, F); /* dL/dy = w */
    double worst = 0, floor = fd_floor[t] * fmax(1, fabs(bn_loss(&c)));
    int nonzero = 0;
    for (size_t k = 0; k < N; k++) {
        worst = fmax(worst, rel_err(dx[k], fd(&c, &x[k]), floor));
        nonzero += fabs(dx[k]) > floor;
    }
    for (int f = 0; f < F; f++) {
        worst = fmax(worst, rel_err(dg[f], fd(&c, &g[f]), floor));
        worst = fmax(worst, rel_err(db[f], fd(&c, &b[f]), floor));
    }
    if (!(worst < fd_tol[t]))
        fprintf(stderr, "batchnorm %s %s B=%d F=%d: relative error %.3g\n", dtype_name[t],
                train ? "train" : "eval", B, F, worst);
    if (getenv("BP_VERBOSE"))
        printf("batchnorm %s %s B=%d F=%d: %.3g\n", dtype_name[t],
               train ? "train" : "eval", B, F, worst);
    CHECK(worst < fd_tol[t]);
    /* The comparison was of something. (Except for dx in training on two
     * rows: they normalise to -1 and 1 whatever x is, up to eps, so dx is
     * next to 0; gamma's and beta's gradients are checked there.) */
    if (!train || B > 2) CHECK(2 * nonzero > (int)N);
}

static void test_batchnorm_gradients(void) {
    bp_rng r;
    bp_rng_seed(&r, 13);
    for (int t = 0; t < DTYPES; t++) {
        static const int train_B[] = {2, 3, 5}, eval_B[] = {1, 4};
        for (int k = 0; k < 3; k++) bn_gradcheck(t, 1, train_B[k], 3, &r);
        for (int k = 0; k < 2; k++) bn_gradcheck(t, 0, eval_B[k], 4, &r);
    }
}

/* Dropout's gradient with its mask held (the generator restored before each
 * forward): the kept values scaled, the dropped ones 0. */
static void test_dropout_gradients(void) {
    enum { N = 40 };
    for (int t = 0; t < DTYPES; t++) {
        bp_rng r0;
        bp_rng_seed(&r0, 21);
        double x[N], w[N], y[N], dx[N] = {0};
        uint8_t keep[N];
        for (int k = 0; k < N; k++) {
            x[k] = 2 * bp_rng_uniform(&r0) - 1;
            w[k] = 2 * bp_rng_uniform(&r0) - 1;
        }
        bp_rng r = r0;
        dropout_fwd(t, y, keep, x, N, 0.4, &r);
        dropout_bwd(t, dx, w, keep, N, 0.4);
        double worst = 0;
        int kept = 0;
        for (int k = 0; k < N; k++) {
            double saved = x[k], h = fd_h[t], L[2];
            for (int side = 0; side < 2; side++) {
                x[k] = saved + (side ? -h : h);
                r = r0;
                dropout_fwd(t, y, keep, x, N, 0.4, &r);
                L[side] = 0;
                for (int j = 0; j < N; j++) L[side] += w[j] * y[j];
            }
            x[k] = saved;
            worst = fmax(worst, rel_err(dx[k], (L[0] - L[1]) / (2 * h), fd_floor[t]));
            kept += keep[k];
        }
        CHECK(worst < fd_tol[t]);
        CHECK(kept > 0 && kept < N);
    }
}

/* ------------------------------------------------------------------------ */
/* Dropout's masks                                                           */

/* Over 100000 values the number dropped is Binomial(n, p): within 5
 * standard deviations of n p (a false alarm once in 1.7 million runs, and
 * the seed is fixed). Kept values are x / (1 - p) to the bit (the scale
 * rounded once to the dtype), dropped ones exactly 0, and the mean of y
 * over x = 1 is 1 within 5 of its standard deviations, sqrt(p / (1 - p) /
 * n): inverted dropout leaves the expectation alone. */
static void test_dropout_statistics(void) {
    enum { N = 100000 };
    static const double ps[] = {0.1, 0.5, 0.9};
    double *x = malloc(sizeof(double) * N), *y = malloc(sizeof(double) * N);
    double *ones = malloc(sizeof(double) * N);
    uint8_t *keep = malloc(N);
    bp_rng r;
    bp_rng_seed(&r, 99);
    for (int k = 0; k < N; k++) x[k] = 4 * bp_rng_uniform(&r) - 2, ones[k] = 1;
    for (int t = 0; t < DTYPES; t++) {
        if (t == F32)
            for (int k = 0; k < N; k++) x[k] = (float)x[k];
        for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
            double p = ps[i], sd = sqrt(N * p * (1 - p));
            dropout_fwd(t, y, keep, x, N, p, &r);
            int dropped = 0, exact = 1;
            for (int k = 0; k < N; k++) {
                dropped += !keep[k];
                double want = !keep[k]   ? 0
                              : t == F64 ? x[k] * (1 / (1 - p))
                                         : (double)((float)x[k] * (float)(1 / (1 - p)));
                exact &= memcmp(&y[k], &want, sizeof want) == 0;
            }
            CHECK(fabs(dropped - N * p) <= 5 * sd);
            CHECK(exact);
            dropout_fwd(t, y, keep, ones, N, p, &r);
            double mean = 0;
            for (int k = 0; k < N; k++) mean += y[k];
            mean /= N;
            CHECK(fabs(mean - 1) <= 5 * sqrt(p / (1 - p) / N));
        }
    }
    free(x), free(y), free(ones), free(keep);
}

/* The same seed gives the same masks, in both dtypes: each value takes one
 * draw, in order, so the generator ends where n draws of its own would, and
 * keep[k] is whether the k-th draw is >= p. Another seed gives other masks.
 * p = 0 and p = 1 draw nothing: y = x and all kept, y = 0 and none kept;
 * their backward passes dy on whole or adds nothing. Backward adds. */
static void test_dropout_masks(void) {
    enum { N = 1000 };
    double x[N], y[N], dx[N], dy[N];
    uint8_t keep[DTYPES][N], other[N];
    bp_rng r;
    bp_rng_seed(&r, 5);
    for (int k = 0; k < N; k++) x[k] = (float)(bp_rng_uniform(&r) + 0.5), dy[k] = 2;
    bp_rng after[DTYPES];
    for (int t = 0; t < DTYPES; t++) {
        bp_rng_seed(&after[t], 1234);
        dropout_fwd(t, y, keep[t], x, N, 0.3, &after[t]);
        bp_rng own;
        bp_rng_seed(&own, 1234);
        int same = 1;
        for (int k = 0; k < N; k++) same &= keep[t][k] == (bp_rng_uniform(&own) >= 0.3);
        CHECK(same);
        CHECK(memcmp(&own, &after[t], sizeof own) == 0);
        /* backward adds into dx = 1: 1 + 2 / 0.7 where kept, 1 where not */
        for (int k = 0; k < N; k++) dx[k] = 1;
        dropout_bwd(t, dx, dy, keep[t], N, 0.3);
        int ok = 1;
        for (int k = 0; k < N; k++) {
            double s = t == F64 ? 1 / 0.7 : (float)(1 / 0.7);
            double want =
                keep[t][k] ? (t == F64 ? 1 + 2 * s : (float)(1 + (float)(2 * (float)s)))
                           : 1;
            ok &= dx[k] == want;
        }
        CHECK(ok);
    }
    CHECK(memcmp(keep[F64], keep[F32], N) == 0);
    bp_rng r2;
    bp_rng_seed(&r2, 1235);
    dropout_fwd(F64, y, other, x, N, 0.3, &r2);
    CHECK(memcmp(other, keep[F64], N) != 0);

    for (int t = 0; t < DTYPES; t++)
        for (int one = 0; one < 2; one++) {
            bp_rng before, rr;
            bp_rng_seed(&rr, 77);
            before = rr;
            memset(other, 7, N);
            dropout_fwd(t, y, other, x, N, one ? 1.0 : 0.0, &rr);
            CHECK(memcmp(&before, &rr, sizeof rr) == 0);
            int ok = 1;
            for (int k = 0; k < N; k++) {
                ok &= other[k] == !one;
                ok &= one ? y[k] == 0 : y[k] == x[k];
            }
            CHECK(ok);
            for (int k = 0; k < N; k++) dx[k] = 1;
            dropout_bwd(t, dx, dy, other, N, one ? 1.0 : 0.0);
            ok = 1;
            for (int k = 0; k < N; k++) ok &= dx[k] == (one ? 1 : 3);
            CHECK(ok);
        }
}

int main(void) {
    test_batchnorm_by_hand();
    test_batchnorm_running_stats();
    test_batchnorm_eval();
    test_batchnorm_gradients();
    test_dropout_gradients();
    test_dropout_statistics();
    test_dropout_masks();
    return check_report("test_modules");
}
