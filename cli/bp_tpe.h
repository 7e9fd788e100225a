/* bp_tpe.h: the Tree-structured Parzen Estimator, one parameter at a time.
 *
 * Bergstra et al. 2011, with the defaults and the Parzen estimator of
 * Optuna's TPESampler (independent sampling): the finished trials that used
 * the parameter are split by loss into the best gamma(n) = min(ceil(0.1 n),
 * 25) ("below") and the rest ("above"); each group becomes a mixture l(x),
 * g(x); 24 candidates are drawn from l and the one with the largest
 * log l(x) - log g(x) is proposed. Fewer than 10 such trials: a uniform draw
 * (start-up).
 *
 * The sampler works in an internal space the caller maps to: a real
 * parameter's bounds and observations as they are (uniform), as logarithms
 * (loguniform), or from LO - 0.5 to HI + 0.5 for an integer (round the
 * proposal); a categorical parameter as the index 0..n-1 of its value.
 *
 * A real parameter's mixture: one normal per observation at the observation,
 * plus a prior normal at the middle of the bounds with sigma HI - LO and
 * weight 1; each truncated to [LO, HI]. An observation's sigma is the larger
 * distance to its neighbours among the sorted means (prior included; the
 * first and last take the distance to their one neighbour), clipped to
 * [(HI - LO) / min(100, 1 + m), HI - LO] for m normals (Optuna's "magic
 * clip"). A categorical parameter's probabilities: (1/n + sum of the weights
 * of the observations of that value) / (1 + sum of all weights). The
 * observations' weights: 1 each when fewer than 25, else the oldest n - 25
 * ramp linearly from 1/n up to 1 (Optuna's default_weights).
 *
 * No allocation that outlives a call, no globals: the same observations and
 * generator state give the same proposal on any machine (the generator is
 * the engine's bit-exact one; exp and log are libm's, so bit-identity holds
 * between machines with the same libm). */
#ifndef BP_TPE_H
#define BP_TPE_H

#include "bp_err.h"
#include "bp_rng.h"

enum {
    BP_TPE_STARTUP = 10,    /* trials drawn uniformly before the model */
    BP_TPE_CANDIDATES = 24, /* candidates drawn from l(x) per proposal */
};

typedef struct bp_tpe_space {
    int n;         /* categorical: the number of values; 0 for a real */
    double lo, hi; /* real: internal-space bounds, lo < hi */
} bp_tpe_space;

/* The number of observations in the good group for n observations. */
int bp_tpe_gamma(int n);

/* The weight of observation i (0 = oldest) of n. */
double bp_tpe_weight(int i, int n);

/* The log-density at x of the mixture built from the m observations xs
 * (internal space, in trial order) with the prior, as described above.
 * For a categorical space x is an index and the result a log-probability. */
double bp_tpe_logpdf(const bp_tpe_space *sp, const double *xs, int m, double x);

/* A proposal, written to *out (internal space; an index for a categorical
 * space), from n observations: xs[i] the parameter's internal value in
 * trial i, NaN where trial i did not use it (conditional parameters: such
 * trials are left out), losses[i] its loss (lower is better). Draws from r.
 * Returns -1 with a message if memory runs out or the space is invalid. */
int bp_tpe_propose(double *out, const bp_tpe_space *sp, const double *xs, const double *losses,
                   int n, bp_rng *r, bp_err *e);

/* The multivariate proposal (tpe:multivariate, in tpe_joint.c): out[0..d-1]
 * for d parameters at once, from n observations, xs[i*d + j] trial i's
 * internal value of parameter j (a trial with a NaN anywhere is left out)
 * and losses[i]. Start-up as above, one uniform draw per parameter. Else
 * one mixture over all d: a component per observation, the product of a
 * kernel per parameter (a real's normal at the observation with Optuna's
 * multivariate sigma, 0.2 (HI - LO) m^(-1/(d + 4)) magic-clipped as above;
 * a categorical's probabilities, 1/(m + 1) on each value plus 1 on the
 * observed one, normalised), weighted as above, plus the prior component
 * (normals at the middles with sigma HI - LO, uniform categoricals); the
 * candidates are drawn jointly from l and ranked by log l - log g. Returns
 * -1 with a message if memory runs out or a space is invalid. */
int bp_tpe_propose_joint(double *out, const bp_tpe_space *sp, int d, const double *xs,
                         const double *losses, int n, bp_rng *r, bp_err *e);

#endif
