/* bp_tpe.h: the Tree-structured Parzen Estimator, one parameter at a time.
 *
 * Bergstra et al. 2011, as Optuna 3.1's TPESampler computes it (its
 * defaults; independent sampling): the finished trials are ranked by loss
 * and the best gamma(n) = min(ceil(0.1 n), 25) of the n finished ones are
 * "below", the rest "above"; of each group, the trials that used the
 * parameter become a mixture l(x), g(x); 24 candidates are drawn from l and
 * the one with the largest log l(x) - log g(x) is proposed. Fewer than 10
 * finished trials: a uniform draw (start-up). A running trial (loss
 * +INFINITY: the constant liar) ranks after every finished one and does not
 * count in n.
 *
 * The sampler works in an internal space the caller maps to: a real
 * parameter's bounds and observations as they are (uniform), as logarithms
 * (loguniform), or for an integer from LO - 0.5 to HI + 0.5 with step 1
 * (proposals on the integers); a categorical parameter as the index 0..n-1
 * of its value.
 *
 * A real parameter's mixture: one normal per observation at the observation,
 * plus a prior normal at the middle of the bounds with sigma HI - LO and
 * weight 1; each truncated to [LO, HI]. An observation's sigma is the larger
 * distance to its neighbours among the sorted means (prior included, ties in
 * trial order with the prior last; the first and last take the distance to
 * their one neighbour), clipped to [(HI - LO) / min(100, 1 + m), HI - LO]
 * for m normals (Optuna's "magic clip"). What is ranked is Optuna 3.1's
 * score, kernel by kernel: a continuous kernel counts as phi(z) / mass, its
 * truncated normal's density times its sigma (Optuna 3.1 leaves the 1/sigma
 * out; later versions put it in), which weights a wide kernel (the prior's,
 * a lone observation's) up by its width. Kept on purpose: it explores more,
 * and with the 1/sigma this sampler's best values over 300 seeds were
 * worse on Branin and Hartmann6 (scripts/bench/NOTES.md). A kernel with a step counts as the
 * mass of the step's cell around x, over the mass inside the bounds. A
 * categorical parameter's probabilities: each observation's row is 1/(m+1)
 * on every value plus 1 on its own, normalised; the prior's row uniform;
 * mixed with the weights. The observations' weights: 1 each when fewer than
 * 25, else the oldest m - 25 ramp linearly from 1/m up to 1 (Optuna's
 * default_weights); the prior's 1.
 *
 * No allocation that outlives a call, no globals: the same observations and
 * generator state give the same proposal on any machine (the generator is
 * the engine's bit-exact one; exp, log and erfc are libm's, so bit-identity
 * holds between machines with the same libm). */
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
    double step;   /* real: 0, or the grid step (an integer's 1; lo and hi
                    * half a step outside the first and last point) */
} bp_tpe_space;

/* The number of observations in the good group for n observations. */
int bp_tpe_gamma(int n);

/* The weight of observation i (0 = oldest) of n. */
double bp_tpe_weight(int i, int n);

/* The log of the score density at x (rounded to the grid for a space with
 * a step) of the mixture built from the m observations xs (internal space,
 * in trial order) with the prior, as described above. For a categorical
 * space x is an index and the result a log-probability. */
double bp_tpe_logpdf(const bp_tpe_space *sp, const double *xs, int m, double x);

/* A proposal, written to *out (internal space; an index for a categorical
 * space), from n trials: xs[i] the parameter's internal value in trial i,
 * NaN where trial i did not use it (a conditional parameter: such a trial
 * ranks, and is left out of the mixtures after the split, as in Optuna),
 * losses[i] its loss (lower is better; +INFINITY or NaN: running). Draws
 * from r. Returns -1 with a message if memory runs out or the space is
 * invalid. */
int bp_tpe_propose(double *out, const bp_tpe_space *sp, const double *xs, const double *losses,
                   int n, bp_rng *r, bp_err *e);

/* The multivariate proposal (tpe:multivariate, in tpe_joint.c): out[0..d-1]
 * for d parameters at once, from n trials, xs[i*d + j] trial i's internal
 * value of parameter j and losses[i] (ranked and split as above; a trial
 * with a NaN anywhere is then left out of the mixtures). Start-up as above,
 * one uniform draw per parameter. Else one mixture over all d: a component
 * per observation, the product of a kernel per parameter (a real's normal
 * at the observation with Optuna's multivariate sigma, 0.2 (HI - LO)
 * m^(-1/(d + 4)) magic-clipped as above, scored as above; a categorical's
 * row as above), weighted as above, plus the prior component (normals at
 * the middles with sigma HI - LO, uniform categoricals); the candidates
 * are drawn jointly from l and ranked by log l - log g. Returns -1 with a
 * message if memory runs out or a space is invalid. */
int bp_tpe_propose_joint(double *out, const bp_tpe_space *sp, int d, const double *xs,
                         const double *losses, int n, bp_rng *r, bp_err *e);

#endif
