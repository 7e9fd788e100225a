/* tpe_estimator.c: the TPE estimators alone (cli/tpe.c, cli/tpe_joint.c) on
 * Branin and Hartmann6, for as many seeds as wanted: what tpe_search.sh
 * measures through whole sweeps (a process per trial, about a second per
 * 40-trial sweep), here in microseconds per trial, so that the comparison
 * with Optuna's TPE can use hundreds of seeds where 20 or 40 leave the
 * medians within each other's noise (scripts/bench/NOTES.md).
 *
 * The functions are branin.lua's and hartmann6.lua's, term for term; each
 * search is TRIALS trials (40) from the estimator's own generator seeded
 * with the seed, the start-up its uniform draws. Prints one CSV line per
 * function and seed, "function,sampler,seed,best", as tpe_search.py's
 * optuna mode does, so that `tpe_search.py table` reads both.
 *
 * Usage: tpe_estimator SEEDS [tpe|tpe:multivariate [TRIALS]] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_tpe.h"

enum { MAX_TRIALS = 1000 };

static double branin(const double *x) {
    double pi = 3.141592653589793, b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
    double a = x[1] - b * x[0] * x[0] + c * x[0] - 6;
    return a * a + 10 * (1 - t) * cos(x[0]) + 10;
}

static double hartmann6(const double *x) {
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                   {2329, 4135, 8307, 3736, 1004, 9991},
                                   {2348, 1451, 3522, 2883, 3047, 6650},
                                   {4047, 8828, 8732, 5743, 1091, 381}};
    double f = 0;
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 6; j++) s += A[i][j] * pow(x[j] - P[i][j] * 1e-4, 2);
        f -= alpha[i] * exp(-s);
    }
    return f;
}

/* One search of n trials over the d parameters sp with f; the best value. */
static double search(double (*f)(const double *), const bp_tpe_space *sp, int d, int n,
                     int joint, uint64_t seed, double *xs, double *col, double *ls) {
    bp_rng r;
    bp_err e = {0};
    bp_rng_seed(&r, seed);
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        double *x = xs + (size_t)i * (size_t)d;
        if (joint && bp_tpe_propose_joint(x, sp, d, xs, ls, i, &r, &e)) return NAN;
        for (int j = 0; j < d && !joint; j++) {
            for (int k = 0; k < i; k++) col[k] = xs[(size_t)k * (size_t)d + (size_t)j];
            if (bp_tpe_propose(&x[j], &sp[j], col, ls, i, &r, &e)) return NAN;
        }
        ls[i] = f(x);
        if (ls[i] < best) best = ls[i];
    }
    return best;
}

int main(int argc, char **argv) {
    int seeds = argc > 1 ? atoi(argv[1]) : 0, n = argc > 3 ? atoi(argv[3]) : 40;
    const char *name = argc > 2 ? argv[2] : "tpe";
    int joint = !strcmp(name, "tpe:multivariate");
    if (seeds < 1 || n < 1 || n > MAX_TRIALS || (!joint && strcmp(name, "tpe"))) {
        fprintf(stderr, "usage: tpe_estimator SEEDS [tpe|tpe:multivariate [TRIALS]]\n");
        return 2;
    }
    static double xs[MAX_TRIALS * 6], col[MAX_TRIALS], ls[MAX_TRIALS];
    bp_tpe_space br[2] = {{0, -5, 10, 0}, {0, 0, 15, 0}}, h6[6];
    for (int j = 0; j < 6; j++) h6[j] = (bp_tpe_space){0, 0, 1, 0};
    for (int fn = 0; fn < 2; fn++)
        for (int s = 1; s <= seeds; s++) {
            double best =
                fn ? search(hartmann6, h6, 6, n, joint, (uint64_t)s, xs, col, ls)
                   : search(branin, br, 2, n, joint, (uint64_t)s, xs, col, ls);
            printf("%s,estimator-%s,%d,%.17g\n", fn ? "hartmann6" : "branin", name, s,
                   best);
        }
    return 0;
}
