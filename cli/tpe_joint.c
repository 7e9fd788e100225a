/* tpe_joint.c: the multivariate Tree-structured Parzen Estimator
 * (bp_tpe.h, bp_tpe_propose_joint).
 *
 * Apart from tpe.c because its estimator is another object: one mixture
 * over every parameter at once, each component a product of one kernel
 * per parameter, so that a proposal keeps together values that worked
 * together (Falkner et al. 2018; Optuna's TPESampler(multivariate=True)).
 * The pieces that are the same as the independent sampler's (gamma, the
 * observations' weights, the split, one kernel) are tpe_int.h's.
 *
 * Everything that does not depend on the candidate (each component's log
 * weight less its kernels' constants, a categorical row's two values) is
 * computed once per mixture, so that a candidate costs one pass of
 * squares over k x d and one log-sum-exp with the independent sampler's
 * cut-off (tpe_sweep_overhead measures it after 1,000 trials). */
#include <math.h>
#include <stdlib.h>

#include "bp_alloc.h"
#include "bp_tpe.h"
#include "tpe_int.h"

/* k = m + 1 components (the m observations, then the prior) over d
 * parameters: w[i], component i's weight; c[i], its log weight less its
 * kernels' constants;
 * for parameter j its mean mu[i*d + j] (a categorical's observed index, the
 * prior's -1 for uniform) and sigma[j] (a real's: one for every
 * observation; the prior's is HI - LO); hit[j], miss[j]: a categorical
 * observation row's log-probabilities of its own value and of another;
 * scratch, k terms of a log-sum-exp. */
typedef struct joint {
    int k, d, m;
    double *w, *c, *mu, *sigma, *hit, *miss, *scratch;
} joint;

static void joint_free(joint *jt) {
    bp_free(jt->c);
    bp_free(jt->mu);
}

/* Builds the mixture of the m observations obs[i*d + j]. Real sigmas are
 * Optuna's multivariate ones, 0.2 (HI - LO) m^(-1/(d + 4)), then clipped
 * to [(HI - LO) / min(100, m + 2), HI - LO]. */
static int joint_build(joint *jt, const bp_tpe_space *sp, int d, const double *obs, int m) {
    jt->k = m + 1, jt->d = d, jt->m = m;
    jt->c = bp_malloc(sizeof *jt->c * (size_t)(3 * jt->k + 3 * d));
    jt->mu = bp_malloc(sizeof *jt->mu * (size_t)(jt->k * d));
    if (!jt->c || !jt->mu) return -1;
    jt->w = jt->c + jt->k, jt->scratch = jt->w + jt->k, jt->sigma = jt->scratch + jt->k;
    jt->hit = jt->sigma + d, jt->miss = jt->hit + d;
    double total = 1.0;
    for (int i = 0; i < m; i++) total += jt->w[i] = bp_tpe_weight(i, m);
    jt->w[m] = 1.0;
    for (int i = 0; i <= m; i++) jt->w[i] /= total, jt->c[i] = log(jt->w[i]);
    for (int j = 0; j < d; j++) {
        double range = sp[j].hi - sp[j].lo;
        double s = 0.2 * range * pow(m > 1 ? m : 1, -1.0 / (d + 4));
        jt->sigma[j] = fmin(fmax(s, range / fmin(100.0, m + 2.0)), range);
        for (int i = 0; i < m; i++) jt->mu[i * d + j] = obs[i * d + j];
        jt->mu[m * d + j] = sp[j].n > 0 ? -1 : 0.5 * (sp[j].lo + sp[j].hi);
        if (sp[j].n > 0) { /* a row: prior weight 1 spread over k rows and n values */
            double base = 1.0 / jt->k, sum = base * sp[j].n + 1.0;
            jt->hit[j] = log((base + 1.0) / sum), jt->miss[j] = log(base / sum);
            jt->c[m] -= log((double)sp[j].n);
            continue;
        }
        for (int i = 0; i < m; i++)
            jt->c[i] -= tpe_kernel_const(&sp[j], obs[i * d + j], jt->sigma[j]);
        jt->c[m] -= tpe_kernel_const(&sp[j], jt->mu[m * d + j], range);
    }
    return 0;
}

/* The sigma of component i's kernel for real parameter j. */
static double sigma_of(const joint *jt, const bp_tpe_space *sp, int i, int j) {
    return i == jt->m ? sp[j].hi - sp[j].lo : jt->sigma[j];
}

/* Component i's log term at x: its constant plus each kernel's variable
 * part (a real's -z^2/2 or cell mass, a categorical's row value). */
static double component_log(const joint *jt, const bp_tpe_space *sp, int i,
                            const double *x) {
    double l = jt->c[i];
    const double *mu = jt->mu + (size_t)i * jt->d;
    for (int j = 0; j < jt->d; j++) {
        if (sp[j].n > 0) {
            if (i < jt->m) l += (int)x[j] == (int)mu[j] ? jt->hit[j] : jt->miss[j];
        } else {
            l += tpe_kernel_log(&sp[j], mu[j], sigma_of(jt, sp, i, j), 0, x[j]);
        }
    }
    return l;
}

static double joint_logpdf(const joint *jt, const bp_tpe_space *sp, const double *x) {
    double best = -INFINITY, s = 0;
    for (int i = 0; i < jt->k; i++) {
        jt->scratch[i] = component_log(jt, sp, i, x);
        if (jt->scratch[i] > best) best = jt->scratch[i];
    }
    for (int i = 0; i < jt->k; i++) /* the cut-off of tpe.c's mixture_logpdf */
        if (jt->scratch[i] - best > -50) s += exp(jt->scratch[i] - best);
    return best + log(s);
}

/* A draw: a component by weight, then each parameter from its kernel. */
static void joint_draw(double *x, const joint *jt, const bp_tpe_space *sp, bp_rng *r) {
    double u = bp_rng_uniform(r), acc = 0;
    int c = jt->m;
    for (int i = 0; i < jt->k; i++)
        if (u < (acc += jt->w[i])) {
            c = i;
            break;
        }
    for (int j = 0; j < jt->d; j++) {
        double mu = jt->mu[c * jt->d + j];
        if (sp[j].n == 0) {
            x[j] = tpe_kernel_draw(&sp[j], mu, sigma_of(jt, sp, c, j), r);
            continue;
        }
        double v = bp_rng_uniform(r), p = 0;
        x[j] = sp[j].n - 1;
        for (int a = 0; a < sp[j].n; a++)
            if (v < (p += mu < 0 ? 1.0 / sp[j].n
                                 : exp(a == (int)mu ? jt->hit[j] : jt->miss[j]))) {
                x[j] = a;
                break;
            }
    }
}

/* The complete rows (no NaN) of the below and above trials (tpe_split),
 * each group in trial order: rows of d in b and a. */
static void gather(double *b, int *nb, double *a, int *na, int d, const double *xs,
                   const char *good, int n) {
    *nb = *na = 0;
    for (int i = 0; i < n; i++) {
        int full = 1;
        for (int j = 0; j < d; j++) full &= !isnan(xs[i * d + j]);
        if (!full) continue;
        double *to = good[i] ? b + (*nb)++ * d : a + (*na)++ * d;
        for (int j = 0; j < d; j++) to[j] = xs[i * d + j];
    }
}

/* 24 candidates from l, the best by log l - log g into out. */
static void propose_from(double *out, double *x, const joint *l, const joint *g,
                         const bp_tpe_space *sp, bp_rng *r) {
    double best = -INFINITY;
    for (int t = 0; t < BP_TPE_CANDIDATES; t++) {
        joint_draw(x, l, sp, r);
        double score = joint_logpdf(l, sp, x) - joint_logpdf(g, sp, x);
        if (t == 0 || score > best) {
            best = score;
            for (int j = 0; j < l->d; j++) out[j] = x[j];
        }
    }
}

int bp_tpe_propose_joint(double *out, const bp_tpe_space *sp, int d, const double *xs,
                         const double *losses, int n, bp_rng *r, bp_err *e) {
    for (int j = 0; j < d; j++)
        if (!tpe_space_ok(&sp[j]))
            return bp_err_set(e, "tpe: invalid space %d (n %d, bounds %g..%g)", j, sp[j].n,
                              sp[j].lo, sp[j].hi);
    size_t rows = (size_t)(n > 0 ? n : 1) * (size_t)d;
    double *b = bp_malloc(sizeof *b * rows), *a = bp_malloc(sizeof *a * rows);
    double *x = bp_malloc(sizeof *x * (size_t)d);
    char *good = bp_malloc((size_t)(n > 0 ? n : 1));
    joint l = {0}, g = {0};
    int nb = 0, na = 0, finished = 0, rc = -1;
    if (!b || !a || !x || !good || tpe_split(good, &finished, losses, n)) goto end;
    if (finished < BP_TPE_STARTUP) {
        for (int j = 0; j < d; j++) out[j] = tpe_uniform(&sp[j], r);
        rc = 0;
        goto end;
    }
    gather(b, &nb, a, &na, d, xs, good, n);
    if (joint_build(&l, sp, d, b, nb) || joint_build(&g, sp, d, a, na)) goto end;
    propose_from(out, x, &l, &g, sp, r);
    rc = 0;
end:
    if (rc) bp_err_set(e, "tpe: out of memory");
    bp_free(b);
    bp_free(a);
    bp_free(x);
    bp_free(good);
    joint_free(&l);
    joint_free(&g);
    return rc;
}
