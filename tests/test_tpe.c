/* test_tpe.c: the TPE sampler (cli/tpe.c) against hand computations, and
 * its proposals on known objectives with fixed seeds.
 *
 * The densities are checked against the formulas of bp_tpe.h worked by hand
 * (the figures computed once with Python's math.erfc); the searches assert
 * where the proposals land and that TPE's best beats random search's with
 * the same budget and seeds, on the actual results of those seeds. */
#include <math.h>

#include "bp_tpe.h"
#include "check.h"
#include "tpe_int.h"

static void test_gamma_weights(void) {
    CHECK(bp_tpe_gamma(1) == 1);
    CHECK(bp_tpe_gamma(10) == 1);
    CHECK(bp_tpe_gamma(11) == 2);
    CHECK(bp_tpe_gamma(1000) == 25);
    CHECK(bp_tpe_weight(0, 24) == 1.0);
    /* n = 27: linspace(1/27, 1, 2) for the two oldest, then ones */
    CHECK_NEAR(bp_tpe_weight(0, 27), 1.0 / 27, 1e-15);
    CHECK(bp_tpe_weight(1, 27) == 1.0);
    CHECK(bp_tpe_weight(26, 27) == 1.0);
    /* n = 35: ten ramped, the fifth at 1/35 + (34/35) * 4/9 */
    CHECK_NEAR(bp_tpe_weight(4, 35), 1.0 / 35 + (34.0 / 35) * 4 / 9, 1e-15);
}

static void test_densities(void) {
    bp_tpe_space u = {0, 0.0, 1.0, 0};
    /* one observation at 0.2 with the prior at 0.5: the observation's
     * sigma is 0.3 clipped up to 1/min(100, 3); the prior's 1; weights 1/2;
     * each kernel scored as phi(z) / (its mass in the bounds), Optuna 3.1's
     * score: 0.5 phi(0.9) / (Phi(2.4) - Phi(-0.6)) + 0.5 phi(0) /
     * (Phi(0.5) - Phi(-0.5)) */
    double x1[] = {0.2};
    CHECK_NEAR(bp_tpe_logpdf(&u, x1, 1, 0.5), -0.34767697869252351, 1e-12);
    /* 0.1, 0.4, 0.9 and the prior 0.5: sigmas 0.3, 0.3, 0.4 (the last
     * takes its one neighbour), 1; the clip floor 1/5 leaves them; weights
     * 1/4: the sum of 0.25 phi((0.3 - mu) / s) / (Phi((1 - mu) / s) -
     * Phi(-mu / s)) */
    double x3[] = {0.1, 0.4, 0.9};
    CHECK_NEAR(bp_tpe_logpdf(&u, x3, 3, 0.3), -0.60896348984566528, 1e-12);
    /* no observations: the prior alone, a normal truncated to one sigma
     * each side; at the middle phi(0) / (Phi(.5) - Phi(-.5)) whatever the
     * width (here 4): the score leaves out the density's 1/sigma */
    bp_tpe_space w4 = {0, 0.0, 4.0, 0};
    CHECK_NEAR(bp_tpe_logpdf(&w4, x1, 0, 2.0), 0.040977800490949463, 1e-12);
    /* categorical: an observation's row 1/4 on each value plus 1 on its
     * own, over 7/4; the prior's 1/3 each; weights 1 each over 4:
     * (1/3 + 2 (5/7) + 1/7) / 4 = 10/21, (1/3 + 3/7) / 4 = 4/21, 7/21 */
    bp_tpe_space c = {3, 0, 0, 0};
    double xc[] = {0, 0, 2};
    CHECK_NEAR(exp(bp_tpe_logpdf(&c, xc, 3, 0)), 10.0 / 21, 1e-15);
    CHECK_NEAR(exp(bp_tpe_logpdf(&c, xc, 3, 1)), 4.0 / 21, 1e-15);
    CHECK_NEAR(exp(bp_tpe_logpdf(&c, xc, 3, 2)), 7.0 / 21, 1e-15);
    /* int:1:3 (0.5 to 3.5, step 1), one observation at 2, the prior at 2
     * too (ties: the observation first, gap 0, clipped up to 3/3 = 1; the
     * prior's sigma 3): P(3) is each kernel's mass on [2.5, 3.5] over its
     * mass in the bounds, 0.5 (Phi(1.5) - Phi(.5)) / (Phi(1.5) - Phi(-1.5))
     * + 0.5 (Phi(.5) - Phi(1/6)) / (Phi(.5) - Phi(-.5)); a point off the
     * grid is scored at its integer; the three sum to 1 */
    bp_tpe_space si = {0, 0.5, 3.5, 1};
    double xi[] = {2};
    CHECK_NEAR(bp_tpe_logpdf(&si, xi, 1, 3), -1.1937378850182974, 1e-12);
    CHECK(bp_tpe_logpdf(&si, xi, 1, 3.2) == bp_tpe_logpdf(&si, xi, 1, 3));
    double total = 0;
    for (int v = 1; v <= 3; v++) total += exp(bp_tpe_logpdf(&si, xi, 1, v));
    CHECK_NEAR(total, 1.0, 1e-14);
}

/* A cell's log-mass far in a tail, where Phi's difference underflows
 * (the references computed once with mpmath at 50 digits); either tail
 * alike; the middle by erf. */
static void test_log_mass(void) {
    CHECK_NEAR(tpe_log_mass(40, 41), -804.60844201375378817, 1e-9);
    CHECK_NEAR(tpe_log_mass(-41, -40), -804.60844201375378817, 1e-9);
    CHECK_NEAR(tpe_log_mass(36, 36.5), -652.50322760705496896, 1e-9);
    CHECK_NEAR(tpe_log_mass(38, 38.0001), -732.13117830514621122, 1e-8);
    CHECK_NEAR(tpe_log_mass(-1, 1), -0.38171514630212616, 1e-15);
}

/* A sequential search of n trials over one space with loss f; tpe 0 draws
 * uniformly throughout (random search). Fills xs, losses; returns the best. */
static double search(double *xs, double *losses, int n, const bp_tpe_space *sp,
                     double (*f)(double), uint64_t seed, int tpe) {
    bp_rng r;
    bp_err e = {0};
    bp_rng_seed(&r, seed);
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        if (tpe) CHECK(bp_tpe_propose(&xs[i], sp, xs, losses, i, &r, &e) == 0);
        else xs[i] = sp->n ? (double)bp_rng_below(&r, (uint64_t)sp->n)
                           : sp->lo + (sp->hi - sp->lo) * bp_rng_uniform(&r);
        losses[i] = f(xs[i]);
        if (losses[i] < best) best = losses[i];
    }
    return best;
}

static double quadratic(double x) { return (x - 3) * (x - 3); }
static double int_loss(double x) { return fabs(round(x) - 4); }
static double cat_loss(double x) { return x == 2 ? 0 : 1 + x; }

static void test_concentrates(void) {
    bp_tpe_space sp = {0, -10, 10, 0};
    double xs[60], ls[60];
    search(xs, ls, 60, &sp, quadratic, 1, 1);
    int near = 0;
    for (int i = BP_TPE_STARTUP; i < 60; i++) near += fabs(xs[i] - 3) < 2;
    /* uniform proposals land within 2 of the minimum a fifth of the time */
    printf("quadratic: %d of 50 model proposals within 2 of the minimum\n", near);
    CHECK(near >= 20); /* seed 1 gives 35 */
    /* the same seed, the same proposals, bit for bit */
    double ys[60], ms[60];
    search(ys, ms, 60, &sp, quadratic, 1, 1);
    CHECK(!memcmp(xs, ys, sizeof xs));
}

static void test_int_and_choice(void) {
    bp_tpe_space si = {0, 0.5, 8.5, 1}; /* int:1:8 */
    double xs[40], ls[40];
    search(xs, ls, 40, &si, int_loss, 2, 1);
    int hits = 0;
    for (int i = BP_TPE_STARTUP; i < 40; i++) hits += round(xs[i]) == 4;
    printf("int: %d of 30 model proposals at the minimum\n", hits);
    CHECK(hits >= 8); /* uniform: 1 in 8, so 3.75; seed 2 gives 12 */
    bp_tpe_space sc = {4, 0, 0, 0};
    search(xs, ls, 40, &sc, cat_loss, 3, 1);
    hits = 0;
    for (int i = BP_TPE_STARTUP; i < 40; i++) {
        CHECK(xs[i] == 0 || xs[i] == 1 || xs[i] == 2 || xs[i] == 3);
        hits += xs[i] == 2;
    }
    printf("choice: %d of 30 model proposals at the best value\n", hits);
    CHECK(hits >= 15); /* uniform: 1 in 4; seed 3 gives 19 */
}

static void test_conditional(void) {
    /* start-up counts finished trials, used or not (Optuna's n): 9 finished
     * and one running (+INFINITY, the constant liar) is one uniform draw */
    bp_tpe_space sp = {0, -10, 10, 0};
    double xs[20], ls[20];
    for (int i = 0; i < 20; i++) xs[i] = i % 2 ? NAN : i - 9.0, ls[i] = quadratic(i - 9.0);
    ls[9] = INFINITY;
    bp_rng r, q;
    bp_err e = {0};
    double x, y;
    bp_rng_seed(&r, 5);
    q = r;
    CHECK(bp_tpe_propose(&x, &sp, xs, ls, 10, &r, &e) == 0);
    y = -10 + 20 * bp_rng_uniform(&q); /* start-up: one uniform draw */
    CHECK(x == y);
    /* with 19 finished the model proposes, inside the bounds, from the
     * 9 of them that used it */
    ls[9] = quadratic(0);
    CHECK(bp_tpe_propose(&x, &sp, xs, ls, 20, &r, &e) == 0);
    CHECK(x >= -10 && x <= 10);
    /* the split is over every finished trial, then the absent are left
     * out: 10 trials with losses 0..9, a 3-valued choice used by the odd
     * ones only, all at value 0. gamma(10) = 1: below is trial 0, which
     * did not use it, so l is the prior alone (1/3 each); g's rows are
     * 1/6 + [v = 0] over 3/2, with the prior: P(0) = (1/3 + 5 (7/6) /
     * (3/2)) / 6 = 38/54, P(1) = P(2) = 8/54; l/g is largest away from 0 */
    bp_tpe_space c3 = {3, 0, 0, 0};
    double xc[10], lc[10];
    for (int i = 0; i < 10; i++) xc[i] = i % 2 ? 0 : NAN, lc[i] = i;
    double odd[] = {0, 0, 0, 0, 0};
    CHECK_NEAR(exp(bp_tpe_logpdf(&c3, odd, 5, 0)), 38.0 / 54, 1e-15);
    for (uint64_t seed = 1; seed <= 5; seed++) {
        bp_rng_seed(&r, seed);
        CHECK(bp_tpe_propose(&x, &c3, xc, lc, 10, &r, &e) == 0);
        CHECK(x == 1 || x == 2);
    }
    bp_tpe_space bad = {0, 1, 1, 0};
    CHECK(bp_tpe_propose(&x, &bad, xs, ls, 20, &r, &e) == -1);
    CHECK_STR(e.msg, "tpe: invalid space (n 0, bounds 1..1)");
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Branin over [-5, 10] x [0, 15], minimum 0.397887; each coordinate
 * proposed independently from the same trials. */
static double branin(double x, double y) {
    double pi = 3.141592653589793, b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
    double a = y - b * x * x + c * x - 6;
    return a * a + 10 * (1 - t) * cos(x) + 10;
}

static double branin_best(uint64_t seed, int tpe) {
    bp_tpe_space sx = {0, -5, 10, 0}, sy = {0, 0, 15, 0};
    double xs[40], ys[40], ls[40], best = INFINITY;
    bp_rng r;
    bp_err e = {0};
    bp_rng_seed(&r, seed);
    for (int i = 0; i < 40; i++) {
        if (tpe) {
            CHECK(bp_tpe_propose(&xs[i], &sx, xs, ls, i, &r, &e) == 0);
            CHECK(bp_tpe_propose(&ys[i], &sy, ys, ls, i, &r, &e) == 0);
        } else {
            xs[i] = -5 + 15 * bp_rng_uniform(&r);
            ys[i] = 15 * bp_rng_uniform(&r);
        }
        ls[i] = branin(xs[i], ys[i]);
        if (ls[i] < best) best = ls[i];
    }
    return best;
}

static double median9(double *v) {
    qsort(v, 9, sizeof *v, cmp);
    return v[4];
}

/* 40 trials, seeds 1..9: TPE's median best below random search's (with
 * these seeds 0.925 against 1.214; two seeds tie, their best found while
 * both still draw the same start-up trials). */
static void test_branin(void) {
    double t[9], r[9];
    for (uint64_t s = 1; s <= 9; s++) {
        t[s - 1] = branin_best(s, 1), r[s - 1] = branin_best(s, 0);
        printf("branin seed %d: tpe %.4f random %.4f\n", (int)s, t[s - 1], r[s - 1]);
    }
    double mt = median9(t), mr = median9(r);
    printf("branin medians: tpe %.4f random %.4f\n", mt, mr);
    CHECK(mt < mr);
    CHECK_NEAR(mt, 0.9254, 1e-4);
}


/* Joint searches over (x, y, c): x, y real in [-10, 10], c one of 3; the
 * loss (x - 3)^2 + (y + 2)^2 + 5 [c != 1]. n trials from seed. */
static void joint_search(double *xs, double *ls, int n, uint64_t seed) {
    bp_tpe_space sp[3] = {{0, -10, 10, 0}, {0, -10, 10, 0}, {3, 0, 0, 0}};
    bp_rng r;
    bp_err e = {0};
    bp_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        double *x = xs + 3 * i;
        CHECK(bp_tpe_propose_joint(x, sp, 3, xs, ls, i, &r, &e) == 0);
        ls[i] = (x[0] - 3) * (x[0] - 3) + (x[1] + 2) * (x[1] + 2) + 5.0 * (x[2] != 1);
    }
}

static void test_joint(void) {
    enum { N = 60 };
    double xs[3 * N], ls[N];
    joint_search(xs, ls, N, 7);
    int near = 0, cat = 0;
    for (int i = BP_TPE_STARTUP; i < N; i++) {
        near += fabs(xs[3 * i] - 3) < 2 && fabs(xs[3 * i + 1] + 2) < 2;
        cat += xs[3 * i + 2] == 1;
        CHECK(xs[3 * i + 2] == 0 || xs[3 * i + 2] == 1 || xs[3 * i + 2] == 2);
    }
    /* uniform proposals land in that 4 x 4 square 1 time in 25 */
    printf("joint: %d of 50 in the square around the minimum, %d at the best value\n", near,
           cat);
    CHECK(near >= 12); /* seed 7 gives 14 */
    CHECK(cat >= 25);  /* uniform: 1 in 3; seed 7 gives 28 */
    double ys[3 * N], ms[N];
    joint_search(ys, ms, N, 7);
    CHECK(!memcmp(xs, ys, sizeof xs));
    /* start-up: before 10 finished trials (a running one, +INFINITY, does
     * not count), one uniform draw per parameter */
    bp_tpe_space sp[2] = {{0, -10, 10, 0}, {4, 0, 0, 0}};
    double obs[20], loss[10], out[2];
    for (int i = 0; i < 10; i++) obs[2 * i] = i, obs[2 * i + 1] = i % 4, loss[i] = i;
    loss[9] = INFINITY;
    bp_rng r, q;
    bp_err e = {0};
    bp_rng_seed(&r, 11);
    q = r;
    CHECK(bp_tpe_propose_joint(out, sp, 2, obs, loss, 10, &r, &e) == 0);
    CHECK(out[0] == -10 + 20 * bp_rng_uniform(&q));
    CHECK(out[1] == (double)bp_rng_below(&q, 4));
    /* 10 finished: the model, from the complete rows (trial 3's NaN, a
     * parameter it did not use, leaves it out after the split) */
    loss[9] = 9, obs[6] = NAN;
    CHECK(bp_tpe_propose_joint(out, sp, 2, obs, loss, 10, &r, &e) == 0);
    CHECK(out[0] >= -10 && out[0] <= 10 && out[1] == floor(out[1]) && out[1] < 4);
    sp[0].hi = -10;
    CHECK(bp_tpe_propose_joint(out, sp, 2, obs, loss, 10, &r, &e) == -1);
    CHECK_STR(e.msg, "tpe: invalid space 0 (n 0, bounds -10..-10)");
}

int main(void) {
    test_gamma_weights();
    test_densities();
    test_log_mass();
    test_concentrates();
    test_int_and_choice();
    test_conditional();
    test_branin();
    test_joint();
    return check_report("test_tpe");
}
