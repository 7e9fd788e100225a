/* tpe_joint.c: the multivariate Tree-structured Parzen Estimator
 * (bp_tpe.h, bp_tpe_propose_joint).
 *
 * Apart from tpe.c because its estimator is another object: one mixture
 * over every parameter at once, each component a product of one kernel
 * per parameter, so that a proposal keeps together values that worked
 * together (Falkner et al. 2018; Optuna's TPESampler(multivariate=True)).
 * The pieces that are the same as the independent sampler's (gamma, the
 * observations' weights, the magic clip) are tpe.c's public functions. */
#include <math.h>
#include <stdlib.h>

#include "bp_alloc.h"
#include "bp_tpe.h"
#include "tpe_int.h"

/* k = m + 1 components (the m observations, then the prior) over d
 * parameters: weight w[c], and for parameter j its mean mu[c*d + j] and
 * sigma[c*d + j] (a real's; a categorical's mean is the observed index,
 * the prior's -1 for uniform). */
typedef struct joint {
    int k, d, m;
    double *w, *mu, *sigma;
} joint;

static void joint_free(joint *jt) {
    bp_free(jt->w);
    bp_free(jt->mu);
    bp_free(jt->sigma);
}

/* Builds the mixture of the m observations obs[i*d + j]. Real sigmas are
 * Optuna's multivariate ones, 0.2 (HI - LO) m^(-1/(d + 4)), then clipped
 * to [(HI - LO) / min(100, m + 2), HI - LO]. */
static int joint_build(joint *jt, const bp_tpe_space *sp, int d, const double *obs, int m) {
    jt->k = m + 1, jt->d = d, jt->m = m;
    jt->w = bp_malloc(sizeof *jt->w * (size_t)jt->k);
    jt->mu = bp_malloc(sizeof *jt->mu * (size_t)(jt->k * d));
    jt->sigma = bp_malloc(sizeof *jt->sigma * (size_t)(jt->k * d));
    if (!jt->w || !jt->mu || !jt->sigma) return -1;
    double total = 1.0;
    for (int c = 0; c < m; c++) total += jt->w[c] = bp_tpe_weight(c, m);
    jt->w[m] = 1.0;
    for (int c = 0; c <= m; c++) jt->w[c] /= total;
    for (int j = 0; j < d; j++) {
        double range = sp[j].hi - sp[j].lo;
        double s = 0.2 * range * pow(m > 1 ? m : 1, -1.0 / (d + 4));
        s = fmin(fmax(s, range / fmin(100.0, m + 2.0)), range);
        for (int c = 0; c < m; c++) {
            jt->mu[c * d + j] = obs[c * d + j];
            jt->sigma[c * d + j] = s;
        }
        jt->mu[m * d + j] = sp[j].n > 0 ? -1 : 0.5 * (sp[j].lo + sp[j].hi);
        jt->sigma[m * d + j] = range;
    }
    return 0;
}

static double ncdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* log of kernel (c, j) at x: a truncated normal's density, or a
 * categorical probability: prior weight 1 spread over the k kernels and
 * the n values, plus 1 at the observed value, normalised (Optuna's). */
static double kernel_log(const joint *jt, const bp_tpe_space *sp, int c, int j, double x) {
    double mu = jt->mu[c * jt->d + j];
    if (sp[j].n > 0) {
        if (mu < 0) return -log((double)sp[j].n);
        double base = 1.0 / jt->k;
        return log((base + ((int)x == (int)mu)) / (base * sp[j].n + 1.0));
    }
    double s = jt->sigma[c * jt->d + j], z = (x - mu) / s;
    double mass = ncdf((sp[j].hi - mu) / s) - ncdf((sp[j].lo - mu) / s);
    return -0.5 * z * z - log(s * 2.5066282746310002 * mass);
}

static double joint_logpdf(const joint *jt, const bp_tpe_space *sp, const double *x) {
    double best = -INFINITY, s = 0;
    double *l = bp_malloc(sizeof *l * (size_t)jt->k);
    if (!l) return NAN;
    for (int c = 0; c < jt->k; c++) {
        l[c] = log(jt->w[c]);
        for (int j = 0; j < jt->d; j++) l[c] += kernel_log(jt, sp, c, j, x[j]);
        if (l[c] > best) best = l[c];
    }
    for (int c = 0; c < jt->k; c++)
        if (l[c] - best > -50) s += exp(l[c] - best);
    bp_free(l);
    return best + log(s);
}

/* A draw: a component by weight, then each parameter from its kernel (a
 * normal until inside the bounds, a hundred tries, then uniform). */
static void joint_draw(double *x, const joint *jt, const bp_tpe_space *sp, bp_rng *r) {
    double u = bp_rng_uniform(r), acc = 0;
    int c = jt->k - 1;
    for (int i = 0; i < jt->k; i++)
        if (u < (acc += jt->w[i])) {
            c = i;
            break;
        }
    for (int j = 0; j < jt->d; j++) {
        if (sp[j].n > 0) {
            double v = bp_rng_uniform(r), p = 0;
            x[j] = sp[j].n - 1;
            for (int a = 0; a < sp[j].n; a++)
                if (v < (p += exp(kernel_log(jt, sp, c, j, a)))) {
                    x[j] = a;
                    break;
                }
            continue;
        }
        double mu = jt->mu[c * jt->d + j], s = jt->sigma[c * jt->d + j];
        int t = 0;
        for (; t < 100; t++)
            if ((x[j] = bp_rng_normal(r, mu, s)) >= sp[j].lo && x[j] <= sp[j].hi) break;
        if (t == 100) x[j] = sp[j].lo + (sp[j].hi - sp[j].lo) * bp_rng_uniform(r);
    }
}

/* The complete observations (no NaN) split by loss into below (the
 * gamma(m) best) and above, each in trial order: rows of d in b and a. */
static int split(double *b, int *nb, double *a, int *na, int d, const double *xs,
                 const double *losses, int n) {
    ranked *rk = bp_malloc(sizeof *rk * (size_t)(n > 0 ? n : 1));
    char *good = bp_calloc((size_t)(n > 0 ? n : 1), 1);
    int m = 0, rc = -1;
    if (!rk || !good) goto end;
    for (int i = 0; i < n; i++) {
        int full = 1;
        for (int j = 0; j < d; j++) full &= !isnan(xs[i * d + j]);
        if (full) rk[m++] = (ranked){isnan(losses[i]) ? INFINITY : losses[i], i};
    }
    qsort(rk, (size_t)m, sizeof *rk, tpe_cmp_ranked);
    int g = bp_tpe_gamma(m);
    for (int k = 0; k < g; k++) good[rk[k].i] = 1;
    *nb = *na = 0;
    for (int k = 0; k < m; k++) rk[k].loss = rk[k].i; /* back to trial order */
    qsort(rk, (size_t)m, sizeof *rk, tpe_cmp_ranked);
    for (int k = 0; k < m; k++) {
        double *to = good[rk[k].i] ? b + (*nb)++ * d : a + (*na)++ * d;
        for (int j = 0; j < d; j++) to[j] = xs[rk[k].i * d + j];
    }
    rc = 0;
end:
    bp_free(rk);
    bp_free(good);
    return rc;
}

int bp_tpe_propose_joint(double *out, const bp_tpe_space *sp, int d, const double *xs,
                         const double *losses, int n, bp_rng *r, bp_err *e) {
    for (int j = 0; j < d; j++)
        if (sp[j].n < 0 || (sp[j].n == 0 && !(sp[j].lo < sp[j].hi)))
            return bp_err_set(e, "tpe: invalid space %d (n %d, bounds %g..%g)", j, sp[j].n,
                              sp[j].lo, sp[j].hi);
    size_t rows = (size_t)(n > 0 ? n : 1) * (size_t)d;
    double *b = bp_malloc(sizeof *b * rows), *a = bp_malloc(sizeof *a * rows);
    double *x = bp_malloc(sizeof *x * (size_t)d);
    joint l = {0}, g = {0};
    int nb = 0, na = 0, rc = -1;
    if (!b || !a || !x || split(b, &nb, a, &na, d, xs, losses, n)) goto end;
    if (nb + na < BP_TPE_STARTUP) {
        for (int j = 0; j < d; j++)
            out[j] = sp[j].n > 0 ? (double)bp_rng_below(r, (uint64_t)sp[j].n)
                                 : sp[j].lo + (sp[j].hi - sp[j].lo) * bp_rng_uniform(r);
        rc = 0;
        goto end;
    }
    if (joint_build(&l, sp, d, b, nb) || joint_build(&g, sp, d, a, na)) goto end;
    double best = -INFINITY;
    for (int t = 0; t < BP_TPE_CANDIDATES; t++) {
        joint_draw(x, &l, sp, r);
        double score = joint_logpdf(&l, sp, x) - joint_logpdf(&g, sp, x);
        if (t == 0 || score > best) {
            best = score;
            for (int j = 0; j < d; j++) out[j] = x[j];
        }
    }
    rc = 0;
end:
    if (rc) bp_err_set(e, "tpe: out of memory");
    bp_free(b);
    bp_free(a);
    bp_free(x);
    joint_free(&l);
    joint_free(&g);
    return rc;
}
