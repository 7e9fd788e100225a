/* tpe.c: the Tree-structured Parzen Estimator (bp_tpe.h).
 *
 * Plain math over arrays the caller owns, so that it can be tested against
 * hand computations without a run log or a sweep: the sweep runner gathers
 * the finished trials' values and losses and asks for one proposal per
 * parameter. Densities are computed in log space so that a candidate far
 * in the tail of g(x) still ranks instead of dividing by zero. */
#include "bp_tpe.h"

#include <math.h>
#include <stdlib.h>

#include "bp_alloc.h"
#include "tpe_int.h"

int bp_tpe_gamma(int n) {
    int g = (n + 9) / 10; /* ceil(0.1 n) */
    return g < 25 ? g : 25;
}

double bp_tpe_weight(int i, int n) {
    if (n < 25 || i >= n - 25) return 1.0;
    int k = n - 25; /* linspace(1/n, 1, k) */
    return k == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * i / (k - 1);
}

/* The normal cumulative distribution. */
static double ncdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The sigma of sorted mean j of m (the prior among them), before clipping. */
static double neighbour_sigma(const double *mu, int j, int m) {
    if (m == 1) return 0;
    if (j == 0) return mu[1] - mu[0];
    if (j == m - 1) return mu[m - 1] - mu[m - 2];
    double l = mu[j] - mu[j - 1], r = mu[j + 1] - mu[j];
    return l > r ? l : r;
}

/* log of one truncated normal's density at x in [lo, hi]. */
/* 2.5066... is sqrt(2 pi). */
static double trunc_logpdf(double x, double mu, double sigma, double lo, double hi) {
    double z = (x - mu) / sigma;
    double mass = ncdf((hi - mu) / sigma) - ncdf((lo - mu) / sigma);
    return -0.5 * z * z - log(sigma * 2.5066282746310002 * mass);
}

/* The real mixture's components: mu, sigma and (normalised) weight of the
 * m observations followed by the prior; arrays of m + 1. */
static int real_mixture(double *mu, double *sigma, double *w, const bp_tpe_space *sp,
                        const double *xs, int m) {
    double range = sp->hi - sp->lo, total = 1.0;
    double *sorted = bp_malloc(sizeof *sorted * (size_t)(m + 1));
    if (!sorted) return -1;
    for (int i = 0; i < m; i++) sorted[i] = mu[i] = xs[i];
    sorted[m] = mu[m] = 0.5 * (sp->lo + sp->hi);
    qsort(sorted, (size_t)m + 1, sizeof *sorted, cmp_double);
    double min_sigma = range / fmin(100.0, 1.0 + (m + 1));
    for (int i = 0; i <= m; i++) {
        /* the sigma of the first sorted mean equal to mu[i]: ties share it */
        int j = 0, hi = m; /* binary search: m can be thousands */
        while (j < hi) {
            int mid = j + (hi - j) / 2;
            if (sorted[mid] < mu[i]) j = mid + 1;
            else hi = mid;
        }
        double s = i == m ? range : neighbour_sigma(sorted, j, m + 1);
        sigma[i] = fmin(fmax(s, min_sigma), range);
        w[i] = i == m ? 1.0 : bp_tpe_weight(i, m);
        if (i < m) total += w[i];
    }
    for (int i = 0; i <= m; i++) w[i] /= total;
    bp_free(sorted);
    return 0;
}

static double cat_logp(const bp_tpe_space *sp, const double *xs, int m, int c) {
    double num = 1.0 / sp->n, den = 1.0;
    for (int i = 0; i < m; i++) {
        double w = bp_tpe_weight(i, m);
        den += w;
        if ((int)xs[i] == c) num += w;
    }
    return log(num / den);
}

/* A real mixture built once for many evaluations: k = m + 1 components,
 * c[i] the constant part of component i's log-density (its log weight
 * less the log of its truncated normal's normaliser), computed once
 * because erfc of a far tail is slow and the same for every x. */
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
    if (real_mixture(mx->mu, mx->sigma, mx->w, sp, xs, m)) return -1;
    for (int i = 0; i < mx->k; i++)
        mx->c[i] = log(mx->w[i]) + trunc_logpdf(mx->mu[i], mx->mu[i], mx->sigma[i], sp->lo, sp->hi);
    return 0;
}

/* log-sum-exp over the components; a term 50 nats below the largest adds
 * less than 2e-22 of it and is skipped (exp of it would be denormal-slow). */
static double mixture_logpdf(const mixture *mx, double x) {
    double best = -INFINITY, s = 0;
    for (int i = 0; i < mx->k; i++) {
        double z = (x - mx->mu[i]) / mx->sigma[i], l = mx->c[i] - 0.5 * z * z;
        if (l > best) best = l;
    }
    for (int i = 0; i < mx->k; i++) {
        double z = (x - mx->mu[i]) / mx->sigma[i], d = mx->c[i] - 0.5 * z * z - best;
        if (d > -50) s += exp(d);
    }
    return best + log(s);
}

/* A draw from the mixture: a component by weight, then its normal until the
 * draw falls inside the bounds (a hundred tries, then uniform: only a
 * component almost wholly outside the bounds gets there). */
static double mixture_draw(const mixture *mx, const bp_tpe_space *sp, bp_rng *r) {
    double u = bp_rng_uniform(r), acc = 0;
    int c = mx->k - 1;
    for (int i = 0; i < mx->k; i++)
        if (u < (acc += mx->w[i])) {
            c = i;
            break;
        }
    for (int t = 0; t < 100; t++) {
        double x = bp_rng_normal(r, mx->mu[c], mx->sigma[c]);
        if (x >= sp->lo && x <= sp->hi) return x;
    }
    return sp->lo + (sp->hi - sp->lo) * bp_rng_uniform(r);
}

double bp_tpe_logpdf(const bp_tpe_space *sp, const double *xs, int m, double x) {
    if (sp->n > 0) return cat_logp(sp, xs, m, (int)x);
    mixture mx = {0};
    double r = NAN;
    if (!mixture_build(&mx, sp, xs, m)) r = mixture_logpdf(&mx, x);
    bp_free(mx.mu);
    return r;
}

int tpe_cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->loss != y->loss) return x->loss < y->loss ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Splits the m used observations into below (the gamma(m) best) and above,
 * each in trial order, written to xs_b[0..nb-1] and xs_a[0..m-nb-1]. */
static int split(double *xs_b, double *xs_a, int *nb, const double *xs, const double *losses,
                 int n, int m) {
    ranked *rk = bp_malloc(sizeof *rk * (size_t)m);
    char *good = bp_calloc((size_t)n, 1);
    int k = 0, b = 0, a = 0, rc = -1;
    if (!rk || !good) goto end;
    for (int i = 0; i < n; i++)
        if (!isnan(xs[i])) rk[k++] = (ranked){isnan(losses[i]) ? INFINITY : losses[i], i};
    qsort(rk, (size_t)m, sizeof *rk, tpe_cmp_ranked);
    *nb = bp_tpe_gamma(m);
    for (int j = 0; j < *nb; j++) good[rk[j].i] = 1;
    for (int i = 0; i < n; i++)
        if (!isnan(xs[i])) {
            if (good[i]) xs_b[b++] = xs[i];
            else xs_a[a++] = xs[i];
        }
    rc = 0;
end:
    bp_free(rk);
    bp_free(good);
    return rc;
}

/* The categorical proposal: the value of the largest l/g among
 * candidates drawn from l's probabilities. */
static double propose_choice(const bp_tpe_space *sp, const double *b, int nb, const double *a,
                             int na, bp_rng *r) {
    double best = -INFINITY, out = 0;
    for (int t = 0; t < BP_TPE_CANDIDATES; t++) {
        double u = bp_rng_uniform(r), acc = 0;
        int c = sp->n - 1;
        for (int v = 0; v < sp->n; v++)
            if (u < (acc += exp(cat_logp(sp, b, nb, v)))) {
                c = v;
                break;
            }
        double score = cat_logp(sp, b, nb, c) - cat_logp(sp, a, na, c);
        if (score > best) best = score, out = c;
    }
    return out;
}

static double propose_real(const mixture *l, const mixture *g, const bp_tpe_space *sp,
                           bp_rng *r) {
    double best = -INFINITY, out = l->mu[l->k - 1];
    for (int t = 0; t < BP_TPE_CANDIDATES; t++) {
        double x = mixture_draw(l, sp, r);
        double score = mixture_logpdf(l, x) - mixture_logpdf(g, x);
        if (score > best) best = score, out = x;
    }
    return out;
}

int bp_tpe_propose(double *out, const bp_tpe_space *sp, const double *xs, const double *losses,
                   int n, bp_rng *r, bp_err *e) {
    if (sp->n < 0 || (sp->n == 0 && !(sp->lo < sp->hi)))
        return bp_err_set(e, "tpe: invalid space (n %d, bounds %g..%g)", sp->n, sp->lo, sp->hi);
    int m = 0, nb = 0, rc = -1;
    for (int i = 0; i < n; i++) m += !isnan(xs[i]);
    if (m < BP_TPE_STARTUP) {
        *out = sp->n > 0 ? (double)bp_rng_below(r, (uint64_t)sp->n)
                         : sp->lo + (sp->hi - sp->lo) * bp_rng_uniform(r);
        return 0;
    }
    double *b = bp_malloc(sizeof *b * (size_t)m), *a = bp_malloc(sizeof *a * (size_t)m);
    mixture l = {0}, g = {0};
    if (!b || !a || split(b, a, &nb, xs, losses, n, m)) goto end;
    if (sp->n > 0) {
        *out = propose_choice(sp, b, nb, a, m - nb, r);
    } else {
        if (mixture_build(&l, sp, b, nb) || mixture_build(&g, sp, a, m - nb)) goto end;
        *out = propose_real(&l, &g, sp, r);
    }
    rc = 0;
end:
    if (rc) bp_err_set(e, "tpe: out of memory");
    bp_free(b);
    bp_free(a);
    bp_free(l.mu);
    bp_free(g.mu);
    return rc;
}
