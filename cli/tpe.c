/* tpe.c: the Tree-structured Parzen Estimator (bp_tpe.h), and the pieces
 * of it that the multivariate one (tpe_joint.c) shares (tpe_int.h).
 *
 * Plain math over arrays the caller owns, so that it can be tested against
 * hand computations without a run log or a sweep: the sweep runner gathers
 * the finished trials' values and losses and asks for one proposal per
 * parameter. Scores are computed in log space so that a candidate far in
 * the tail of g(x) still ranks instead of dividing by zero, and a cell's
 * mass far in a tail is a log of its own, not a difference of two ones. */
#include "bp_tpe.h"

#include <math.h>
#include <stdlib.h>

#include "bp_alloc.h"
#include "tpe_int.h"

#define LOG_SQRT_2PI 0.91893853320467274178

int bp_tpe_gamma(int n) {
    int g = (n + 9) / 10; /* ceil(0.1 n) */
    return g < 25 ? g : 25;
}

double bp_tpe_weight(int i, int n) {
    if (n < 25 || i >= n - 25) return 1.0;
    int k = n - 25; /* linspace(1/n, 1, k) */
    return k == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * i / (k - 1);
}

/* log Q(z), Q(z) = 1 - Phi(z) the upper tail. erfc is exact to where it
 * underflows (z near 38); beyond, the asymptotic series, whose next term
 * is below 1e-9 of the sum there. */
static double log_upper(double z) {
    if (z < 37) return log(0.5 * erfc(z / sqrt(2.0)));
    double r = 1 / (z * z);
    return -0.5 * z * z - log(z) - LOG_SQRT_2PI + log1p(-r * (1 - 3 * r * (1 - 5 * r)));
}

double tpe_log_mass(double a, double b) {
    if (a < 0 && b > 0) /* the middle: erf of either sign adds, no cancelling */
        return log(0.5 * (erf(b / sqrt(2.0)) - erf(a / sqrt(2.0))));
    if (b <= 0) { /* Phi(b) - Phi(a) = Q(-b) - Q(-a) */
        double t = -a;
        a = -b, b = t;
    }
    double la = log_upper(a), lb = log_upper(b); /* Q(a) - Q(b), a >= 0 */
    return la + log1p(-exp(lb - la));
}

double tpe_kernel_const(const bp_tpe_space *sp, double mu, double sigma) {
    double m = tpe_log_mass((sp->lo - mu) / sigma, (sp->hi - mu) / sigma);
    return sp->step > 0 ? m : m + LOG_SQRT_2PI;
}

double tpe_kernel_log(const bp_tpe_space *sp, double mu, double sigma, double c,
                      double x) {
    if (sp->step > 0) {
        double a = fmax(x - 0.5 * sp->step, sp->lo), b = fmin(x + 0.5 * sp->step, sp->hi);
        return tpe_log_mass((a - mu) / sigma, (b - mu) / sigma) - c;
    }
    double z = (x - mu) / sigma;
    return -0.5 * z * z - c;
}

/* x put on sp's grid: the nearest of lo + step/2 + k step inside. */
static double snap(const bp_tpe_space *sp, double x) {
    if (!(sp->step > 0)) return x;
    double first = sp->lo + 0.5 * sp->step, last = sp->hi - 0.5 * sp->step;
    return fmin(fmax(first + round((x - first) / sp->step) * sp->step, first), last);
}

double tpe_kernel_draw(const bp_tpe_space *sp, double mu, double sigma, bp_rng *r) {
    for (int t = 0; t < 100; t++) {
        double x = bp_rng_normal(r, mu, sigma);
        if (x >= sp->lo && x <= sp->hi) return snap(sp, x);
    }
    return snap(sp, sp->lo + (sp->hi - sp->lo) * bp_rng_uniform(r));
}

double tpe_uniform(const bp_tpe_space *sp, bp_rng *r) {
    if (sp->n > 0) return (double)bp_rng_below(r, (uint64_t)sp->n);
    return snap(sp, sp->lo + (sp->hi - sp->lo) * bp_rng_uniform(r));
}

int tpe_space_ok(const bp_tpe_space *sp) {
    return sp->n > 0 || (sp->n == 0 && sp->lo < sp->hi && !(sp->step < 0));
}

int tpe_cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->loss != y->loss) return x->loss < y->loss ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int tpe_split(char *good, int *finished, const double *losses, int n) {
    ranked *rk = bp_malloc(sizeof *rk * (size_t)(n > 0 ? n : 1));
    if (!rk) return -1;
    *finished = 0;
    for (int i = 0; i < n; i++) {
        double l = isnan(losses[i]) ? INFINITY : losses[i];
        *finished += isfinite(l);
        rk[i] = (ranked){l, i};
        good[i] = 0;
    }
    qsort(rk, (size_t)n, sizeof *rk, tpe_cmp_ranked);
    for (int j = 0, g = bp_tpe_gamma(*finished); j < g; j++) good[rk[j].i] = 1;
    bp_free(rk);
    return 0;
}

/* The sigmas of the m observations xs and the prior (mu[m], the middle),
 * into sigma[0..m]: each sorted mean's larger gap to its neighbours (the
 * ends their one gap), ties in trial order and the prior after its ties,
 * clipped; the prior's HI - LO. */
static int neighbour_sigmas(double *sigma, const bp_tpe_space *sp, const double *mu,
                            int m) {
    double range = sp->hi - sp->lo, floor_ = range / fmin(100.0, 1.0 + (m + 1));
    ranked *rk = bp_malloc(sizeof *rk * (size_t)(m + 1));
    if (!rk) return -1;
    for (int i = 0; i <= m; i++) rk[i] = (ranked){mu[i], i};
    qsort(rk, (size_t)m + 1, sizeof *rk, tpe_cmp_ranked);
    for (int j = 0; j <= m; j++) {
        double l = j > 0 ? rk[j].loss - rk[j - 1].loss : -INFINITY;
        double r = j < m ? rk[j + 1].loss - rk[j].loss : -INFINITY;
        double s = m == 0 ? 0 : fmax(l, r); /* one mean: only the prior */
        sigma[rk[j].i] = fmin(fmax(s, floor_), range);
    }
    sigma[m] = range;
    bp_free(rk);
    return 0;
}

/* A real mixture built once for many evaluations: k = m + 1 components
 * (the observations, then the prior), c[i] its log weight less its
 * kernel's constant, computed once because erfc of a far tail is slow and
 * the same for every x. */
typedef struct mixture {
    int k;
    double *mu, *sigma, *w, *c;
} mixture;

static int mixture_build(mixture *mx, const bp_tpe_space *sp, const double *xs, int m) {
    mx->k = m + 1;
    mx->mu = bp_malloc(sizeof *mx->mu * 4 * (size_t)mx->k);
    if (!mx->mu) return -1;
    mx->sigma = mx->mu + mx->k;
    mx->w = mx->sigma + mx->k;
    mx->c = mx->w + mx->k;
    double total = 1.0;
    for (int i = 0; i < m; i++)
        mx->mu[i] = xs[i], total += mx->w[i] = bp_tpe_weight(i, m);
    mx->mu[m] = 0.5 * (sp->lo + sp->hi), mx->w[m] = 1.0;
    if (neighbour_sigmas(mx->sigma, sp, mx->mu, m)) return -1;
    for (int i = 0; i <= m; i++) {
        mx->w[i] /= total;
        mx->c[i] = log(mx->w[i]) - tpe_kernel_const(sp, mx->mu[i], mx->sigma[i]);
    }
    return 0;
}

/* log-sum-exp over the components, each term computed once into
 * scratch[0..k-1]; a term 50 nats below the largest adds less than 2e-22
 * of it and is skipped (exp of it would be denormal-slow). */
static double mixture_logpdf(const mixture *mx, const bp_tpe_space *sp, double *scratch,
                             double x) {
    double best = -INFINITY, s = 0;
    for (int i = 0; i < mx->k; i++) {
        scratch[i] = mx->c[i] + tpe_kernel_log(sp, mx->mu[i], mx->sigma[i], 0, x);
        if (scratch[i] > best) best = scratch[i];
    }
    for (int i = 0; i < mx->k; i++)
        if (scratch[i] - best > -50) s += exp(scratch[i] - best);
    return best + log(s);
}

/* A draw from the mixture: a component by weight, then its kernel. */
static double mixture_draw(const mixture *mx, const bp_tpe_space *sp, bp_rng *r) {
    double u = bp_rng_uniform(r), acc = 0;
    int c = mx->k - 1;
    for (int i = 0; i < mx->k; i++)
        if (u < (acc += mx->w[i])) {
            c = i;
            break;
        }
    return tpe_kernel_draw(sp, mx->mu[c], mx->sigma[c], r);
}

/* A categorical parameter's log-probabilities of its n values from the m
 * observations xs, into lp[0..n-1]. */
static void cat_logp(double *lp, const bp_tpe_space *sp, const double *xs, int m) {
    double total = 1.0, row = sp->n / (m + 1.0) + 1.0;   /* an observation's row sum */
    for (int v = 0; v < sp->n; v++) lp[v] = 1.0 / sp->n; /* the prior's row, weight 1 */
    for (int i = 0; i < m; i++) {
        double w = bp_tpe_weight(i, m);
        total += w;
        for (int v = 0; v < sp->n; v++)
            lp[v] += w * (1.0 / (m + 1) + ((int)xs[i] == v)) / row;
    }
    for (int v = 0; v < sp->n; v++) lp[v] = log(lp[v] / total);
}

double bp_tpe_logpdf(const bp_tpe_space *sp, const double *xs, int m, double x) {
    double r = NAN;
    if (sp->n > 0) {
        double *lp = bp_malloc(sizeof *lp * (size_t)sp->n);
        if (lp) cat_logp(lp, sp, xs, m), r = lp[(int)x];
        bp_free(lp);
        return r;
    }
    mixture mx = {0};
    double *scratch = bp_malloc(sizeof *scratch * (size_t)(m + 1));
    if (scratch && !mixture_build(&mx, sp, xs, m))
        r = mixture_logpdf(&mx, sp, scratch, snap(sp, x));
    bp_free(scratch);
    bp_free(mx.mu);
    return r;
}

/* The categorical proposal: the value of the largest l/g among
 * candidates drawn from l's probabilities. */
static int propose_choice(double *out, const bp_tpe_space *sp, const double *b, int nb,
                          const double *a, int na, bp_rng *r) {
    double *lb = bp_malloc(sizeof *lb * 2 * (size_t)sp->n), *la = lb + sp->n,
           best = -INFINITY;
    if (!lb) return -1;
    cat_logp(lb, sp, b, nb);
    cat_logp(la, sp, a, na);
    for (int t = 0; t < BP_TPE_CANDIDATES; t++) {
        double u = bp_rng_uniform(r), acc = 0;
        int c = sp->n - 1;
        for (int v = 0; v < sp->n; v++)
            if (u < (acc += exp(lb[v]))) {
                c = v;
                break;
            }
        if (lb[c] - la[c] > best) best = lb[c] - la[c], *out = c;
    }
    bp_free(lb);
    return 0;
}

static int propose_real(double *out, const bp_tpe_space *sp, const double *b, int nb,
                        const double *a, int na, bp_rng *r) {
    mixture l = {0}, g = {0};
    int rc = -1, k = (nb > na ? nb : na) + 1;
    double *scratch = bp_malloc(sizeof *scratch * (size_t)k), best = -INFINITY;
    if (!scratch || mixture_build(&l, sp, b, nb) || mixture_build(&g, sp, a, na))
        goto end;
    *out = l.mu[l.k - 1];
    for (int t = 0; t < BP_TPE_CANDIDATES; t++) {
        double x = mixture_draw(&l, sp, r);
        double score =
            mixture_logpdf(&l, sp, scratch, x) - mixture_logpdf(&g, sp, scratch, x);
        if (score > best) best = score, *out = x;
    }
    rc = 0;
end:
    bp_free(scratch);
    bp_free(l.mu);
    bp_free(g.mu);
    return rc;
}

int bp_tpe_propose(double *out, const bp_tpe_space *sp, const double *xs, const double *losses,
                   int n, bp_rng *r, bp_err *e) {
    if (!tpe_space_ok(sp))
        return bp_err_set(e, "tpe: invalid space (n %d, bounds %g..%g)", sp->n, sp->lo, sp->hi);
    int finished = 0, nb = 0, na = 0, rc = -1;
    size_t size = (size_t)(n > 0 ? n : 1);
    double *b = bp_malloc(sizeof *b * size), *a = bp_malloc(sizeof *a * size);
    char *good = bp_malloc(size);
    if (!b || !a || !good || tpe_split(good, &finished, losses, n)) goto end;
    if (finished < BP_TPE_STARTUP) {
        *out = tpe_uniform(sp, r);
        rc = 0;
        goto end;
    }
    for (int i = 0; i < n; i++) /* each group in trial order, those that used it */
        if (!isnan(xs[i])) {
            if (good[i]) b[nb++] = xs[i];
            else a[na++] = xs[i];
        }
    rc = sp->n > 0 ? propose_choice(out, sp, b, nb, a, na, r)
                   : propose_real(out, sp, b, nb, a, na, r);
end:
    if (rc) bp_err_set(e, "tpe: out of memory");
    bp_free(b);
    bp_free(a);
    bp_free(good);
    return rc;
}
