/* tpe_overhead.c: what one TPE proposal costs after N finished trials
 * (issue 16's target: under 50 ms after 1,000).
 *
 * One real parameter on [-10, 10], N observations of a quadratic drawn
 * uniformly with seed 1; one proposal (24 candidates, each scored under
 * both mixtures) timed REPS times. Prints
 *   trials <N> ms_per_proposal <median>
 *
 * Usage: tpe_overhead [N [repetitions]]  (default 1000 and 21) */
#include <stdio.h>
#include <stdlib.h>

#include "bp_tpe.h"
#include "bp_util.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000, reps = argc > 2 ? atoi(argv[2]) : 21;
    if (n < 1 || reps < 1) return 2;
    double *xs = malloc(sizeof *xs * (size_t)n), *ls = malloc(sizeof *ls * (size_t)n);
    double *ms = malloc(sizeof *ms * (size_t)reps), out = 0;
    bp_tpe_space sp = {0, -10, 10, 0};
    bp_rng r;
    bp_err e = {0};
    int rc = 1;
    if (!xs || !ls || !ms) goto end;
    bp_rng_seed(&r, 1);
    for (int i = 0; i < n; i++) {
        xs[i] = -10 + 20 * bp_rng_uniform(&r);
        ls[i] = (xs[i] - 3) * (xs[i] - 3);
    }
    for (int k = 0; k < reps; k++) {
        double t0 = bp_clock();
        if (bp_tpe_propose(&out, &sp, xs, ls, n, &r, &e)) goto end;
        ms[k] = (bp_clock() - t0) * 1e3;
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp);
    printf("trials %d ms_per_proposal %.3f (last proposal %.3f)\n", n, ms[reps / 2], out);
    rc = 0;
end:
    free(xs);
    free(ls);
    free(ms);
    return rc;
}
