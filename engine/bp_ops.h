/* bp_ops.h: the kernels, each forward with its backward right below it.
 *
 * Dimensions, used as the letters of every loop:
 *   B = batch (rows of every matrix are samples), I = inputs of a layer,
 *   O = outputs (neurons) of a layer, F = features of a batch norm, n =
 *   values of an elementwise op of any shape.
 * Matrices are row-major: x is B x I, h and o are B x O, W is O x I with
 * W[n*I + i] the lecture's w_{l,n+1,i+1}, b has O entries.
 * Argument order is outputs, inputs, sizes. Every backward ADDS into the
 * gradients it is given, so callers zero them first (or accumulate on purpose),
 * except the fused layer kernels at the end, which say what they overwrite.
 * No kernel allocates or fails: sizes are checked by bp_net.
 *
 * Every kernel exists for doubles (the name as written) and for floats (the
 * same name ending in _f32), with the same contract; losses are summed in
 * double for both.
 *
 * The activations and losses are tables (below), the one place their
 * formulas are written. The kernels are built in two files: ops_ref.h, the
 * reference kernels in plain loops, and ops_fast.h, the BLAS and fused
 * paths a training step takes, each of which names the reference it must
 * equal and the test that holds it to that. */
#ifndef BP_OPS_H
#define BP_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"
#include "bp_rng.h"
#include "bp_types.h"

/* The activations, one row each:
 *   ACT(NAME, "name", f, df)
 * f is o = f(v) of a pre-activation v; df is dLoss/dh given d = dLoss/do,
 * the pre-activation h and the activation o (whichever makes it cheaper:
 * sigmoid's o (1 - o) is the lecture's do11/dh11), and a, the layer's
 * alpha: leaky_relu's slope below zero, elu's scale. The ReLUs' df is a
 * choice between two values both computed (d is loaded either way), which
 * the compiler makes a select: a load of d under the condition would keep
 * the loop scalar, with a branch that the signs of h, as good as random,
 * mispredict half the time.
 * softmax is a function of a sample's whole row of O values, not of one:
 *   ROW(NAME, "name", f_rows, df_rows)
 * names the two functions of ops_ref.h that hold its formulas, over B rows,
 * o_n = exp(h_n) / sum_k exp(h_k) and dh_n = o_n (d_n - sum_k d_k o_k);
 * log_softmax (PyTorch's LogSoftmax, nll's input) is the same row's log,
 * o_n = h_n - log sum_k exp(h_k), with dh_n = d_n - exp(o_n) sum_k d_k.
 * gelu is PyTorch's exact GELU, v Phi(v) with Phi the standard normal CDF
 * (erf, not the tanh approximation), and phi its density (real.h). elu is
 * PyTorch's ELU: a (exp(v) - 1) below zero, through expm1, exact near 0
 * where exp(v) - 1 would cancel; its df takes a exp(h) as o + a, as
 * PyTorch's backward does from the result, so that backward needs no exp.
 *
 * The enum, the names, bp_act_parse, bp_act_expected and every kernel's
 * switch are made from this table, so a row added here is an activation
 * everywhere (append it: saved networks store the enum's numbers). The
 * kernels expand each row into a loop of its own (an X-macro, not a table
 * of function pointers): the activation is chosen once, outside the loop,
 * and each loop is straight arithmetic the compiler vectorises, where a
 * call through a pointer per value would keep it scalar. The formulas are
 * compiled for double and for float, with SIGMOID, TANH, EXPM1, NORM_CDF
 * and NORM_PDF the type's (real.h); each is written here and nowhere
 * else. */
#define BP_ACT_TABLE(ACT, ROW)                                            \
    ACT(IDENTITY, "identity", v, d)                                       \
    ACT(SIGMOID, "sigmoid", SIGMOID(v), d *o *(1 - o))                    \
    ACT(TANH, "tanh", TANH(v), d *(1 - o * o))                            \
    ACT(RELU, "relu", v > 0 ? v : 0, h > 0 ? d : 0)                       \
    ACT(LEAKY_RELU, "leaky_relu", v > 0 ? v : a * v, h > 0 ? d : a * d)   \
    ROW(SOFTMAX, "softmax", softmax_rows, softmax_grad_rows)              \
    ACT(GELU, "gelu", v *NORM_CDF(v), d *(NORM_CDF(h) + h * NORM_PDF(h))) \
    ACT(ELU, "elu", v > 0 ? v : a * EXPM1(v), h > 0 ? d : d * (o + a))    \
    ROW(LOG_SOFTMAX, "log_softmax", log_softmax_rows, log_softmax_grad_rows)

#define BP_ACT_ENUM_(N, name, f, df) BP_ACT_##N,
typedef enum bp_act { BP_ACT_TABLE(BP_ACT_ENUM_, BP_ACT_ENUM_) BP_ACT_COUNT } bp_act;
#undef BP_ACT_ENUM_

/* Whether a is a ROW of the table (softmax, log_softmax): a function of a
 * sample's whole row, which the one-value loops of the fast paths cannot
 * run. */
#define BP_ACT_NOT_ROW_(N, name, f, df)
#define BP_ACT_IS_ROW_(N, name, f, df) || a == BP_ACT_##N
static inline int bp_act_is_row(bp_act a) {
    return 0 BP_ACT_TABLE(BP_ACT_NOT_ROW_, BP_ACT_IS_ROW_);
}
#undef BP_ACT_NOT_ROW_
#undef BP_ACT_IS_ROW_

/* The losses, one row each:
 *   LOSS(NAME, "name", p, term, grad, div, labels, param, def)
 * Of one output out and its target y: p is what the formulas see of out;
 * term is the output's share of its sample's loss (summed in double);
 * grad is dLoss/dout for a loss that is the mean over B samples of O
 * outputs each; a sample's loss is the sum of its O terms divided by div
 * (1: a sum over the outputs, O: a mean). A batch's loss is the mean of
 * its samples'. a is the loss's parameter: param names it (NULL: the loss
 * has none) and def is its default, PyTorch's. bce takes probabilities: p
 * is out clamped to [BCE_EPS, 1 - BCE_EPS] (real.h), which keeps log
 * finite when a sigmoid saturates to exactly 0 or 1, and its gradient uses
 * the same p. l1's gradient at y = out is 0, as PyTorch's sign. huber is
 * PyTorch's HuberLoss: quadratic within a = delta of the target, linear
 * beyond, its gradient the difference clamped to [-a, a]. nll takes
 * log-probabilities (a log_softmax layer's) and is PyTorch's NLLLoss.
 * softmax_ce takes logits and couples a row through the softmax:
 *   ROW(NAME, "name", loss_row, grad_row, labels)
 * names the two functions of ops_ref.h that hold its formulas,
 * sum_n y_n (lse - out_n) with lse = log sum_n exp(out_n), and
 * (softmax(out)_n sum_k y_k - y_n) / B.
 * labels 1: a sample's target may be its class c in 1..O instead of O
 * values (bp_crit), as PyTorch's cross_entropy and nll_loss take class
 * indexes. Such a row is the one-hot row's loss, whose terms vanish where
 * y = 0: only class c's term is computed (PyTorch reads only it), and the
 * gradient is the one-hot row's, so a label and its one-hot row give the
 * same bits for finite outputs.
 * As with the activations, the enum, names, parsing, bp_loss_expected and
 * every kernel's switch come from this table, and each formula is written
 * here only. Append new rows: saved files and run logs name losses, but
 * tests count them in order. */
#define BP_LOSS_TABLE(LOSS, ROW)                                                        \
    LOSS(HALF_SE, "half_se", out, 0.5 * (y - p) * (y - p), -(y - p) / B, 1, 0, NULL, 0) \
    LOSS(MSE, "mse", out, (y - p) * (y - p), -2.0 * (y - p) / ((double)B * O), O, 0,    \
         NULL, 0)                                                                       \
    LOSS(BCE, "bce", CLAMP_P(out), -(y * LOG(p) + (1 - y) * LOG(1 - p)),                \
         (p - y) / (p * (1 - p)) / ((double)B * O), O, 0, NULL, 0)                      \
    ROW(SOFTMAX_CE, "softmax_ce", softmax_ce_row, softmax_ce_grad_row, 1)               \
    LOSS(NLL, "nll", out, -y *p, -y / B, 1, 1, NULL, 0)                                 \
    LOSS(L1, "l1", out, fabs(y - p), ((p > y) - (p < y)) / ((double)B * O), O, 0, NULL, \
         0)                                                                             \
    LOSS(HUBER, "huber", out, HUBER_TERM(p - y, a),                                     \
         HUBER_GRAD(p - y, a) / ((double)B * O), O, 0, "delta", 1.0)

#define BP_LOSS_ENUM_(N, ...) BP_LOSS_##N,
typedef enum bp_loss {
    BP_LOSS_TABLE(BP_LOSS_ENUM_, BP_LOSS_ENUM_) BP_LOSS_COUNT
} bp_loss;
#undef BP_LOSS_ENUM_

/* A criterion (Torch7's word): a loss with what it is told besides its
 * outputs and targets, which every function taking a bp_crit reads:
 *   param   the loss's parameter (huber's delta), finite and > 0; 0 means
 *           the table's default (1.0 for huber). Ignored by a loss without
 *           one.
 *   labels  0: y is B x O targets; 1: y is B x 1, each row a class number
 *           1..O as a script writes it (a double holding an integer), for a
 *           loss whose row says labels (softmax_ce, nll) and O >= 2.
 * bp_crit_of(loss) is {.loss = loss}: the loss as a plain bp_loss means
 * it. */
typedef struct bp_crit {
    bp_loss loss;
    int labels;
    double param; /* (after labels: 16 bytes, passed in two registers) */
} bp_crit;

static inline bp_crit bp_crit_of(bp_loss loss) { return (bp_crit){.loss = loss}; }

/* Whether the loss's targets may be class labels, and its parameter's name
 * (NULL when it takes none) with its default in *def (def may be NULL). */
int bp_loss_takes_labels(bp_loss l);
const char *bp_loss_param(bp_loss l, double *def);

/* The criterion's parameter as the kernels use it: param, or the default
 * when param is 0. */
double bp_crit_param(const bp_crit *c);

/* Checks a criterion and its targets before a kernel runs (the kernels
 * assume both are right), -1 with a sentence naming what is wrong:
 *   "unknown loss 9"; "huber's delta must be a finite number > 0 (got -1)";
 *   "mse takes no class labels: give 3 targets per row"; "class labels
 *   need 2 or more outputs (the network gives 1)";
 * and, when y is not NULL (B rows of targets, labels or not), each label:
 *   "label 4 in row 2 is not a class in 1..3" (rows from 1). */
int bp_crit_check(const bp_crit *c, const double *y, int B, int O, bp_err *e);

/* Names as scripts write them ("sigmoid", "leaky_relu", "half_se", ...),
 * and back. The parse functions return -1 for an unknown name. The
 * expected functions give the names as an error message lists them:
 * "identity, sigmoid, tanh, relu, leaky_relu, softmax, gelu, elu or
 * log_softmax" and
 * "half_se, mse, bce, softmax_ce, nll, l1 or huber" (static strings). */
const char *bp_act_name(bp_act a);
int bp_act_parse(const char *name);
const char *bp_act_expected(void);
const char *bp_loss_name(bp_loss l);
int bp_loss_parse(const char *name);
const char *bp_loss_expected(void);

/* Dense layer: h = x W^T + b. Large products go to OpenBLAS, tiny ones stay
 * in plain loops (a BLAS call costs more than the lecture's whole network). */
void bp_dense_forward(double *h, const double *x, const double *W, const double *b, int B,
                      int I, int O);
/* dW += dh^T x, db += column sums of dh, dx += dh W (dx may be NULL: the
 * first layer has nobody to pass its input gradient to; dW or db NULL: a
 * frozen tensor's, skipped). */
void bp_dense_backward(double *dx, double *dW, double *db, const double *dh,
                       const double *x, const double *W, int B, int I, int O);
/* The same with add 0: dx overwritten with dh W, not added to. */
void bp_dense_backward_to(double *dx, double *dW, double *db, const double *dh,
                          const double *x, const double *W, int B, int I, int O, int add);
/* Its db and dx for B rows of a batch of `whole` rows taken in blocks, by
 * the path bp_dense_backward_to takes for all whole rows (the blocks then
 * give its bits: each row's dx, and db's sums row after row); dW is left
 * to a call on all rows. */
void bp_dense_backward_block(double *dx, double *db, const double *dh, const double *x,
                             const double *W, int B, int I, int O, int add, int whole);

/* Activation: o = f(h), elementwise except softmax (per row). */
void bp_act_forward(double *o, const double *h, int B, int O, bp_act act, double alpha);
/* dh += dLoss/dh given dout = dLoss/do. Uses the h and o that forward kept. */
void bp_act_backward(double *dh, const double *dout, const double *h, const double *o,
                     int B, int O, bp_act act, double alpha);

/* Dropout, inverted (PyTorch's nn.Dropout in training), over n values of
 * any shape, 0 <= p <= 1: keep[k] = 1 when bp_rng_uniform(r) >= p, one draw
 * per value in order, whatever the dtype (so float64 and float32 networks
 * with one seed drop the same values); y = x * s where kept and 0 where not,
 * s = 1 / (1 - p) rounded once to the type. p = 0 keeps everything and
 * p = 1 drops everything, neither drawing (as PyTorch). Evaluation mode is
 * the identity and calls neither kernel. */
void bp_dropout_forward(double *y, uint8_t *keep, const double *x, size_t n, double p,
                        bp_rng *r);
/* dx += dy * s where kept (the same s as forward's), with the forward's
 * keep and p. */
void bp_dropout_backward(double *dx, const double *dy, const uint8_t *keep, size_t n,
                         double p);

/* Batch normalisation over B rows of F features (PyTorch's BatchNorm1d on
 * a B x F input), x and y B x F, gamma (weight), beta (bias), the running
 * mean and variance and invstd F each.
 *   training forward, B >= 2 (the caller checks, as PyTorch refuses 1):
 *     mean and biased variance var of each feature over the B rows;
 *     invstd = 1 / sqrt(var + eps); xhat = (x - mean) invstd (both kept
 *     for backward); y = gamma xhat + beta; run_mean = (1 - m) run_mean +
 *     m mean and run_var = (1 - m) run_var + m var B / (B - 1) (the
 *     unbiased variance), m = momentum (PyTorch's default 0.1, eps 1e-5;
 *     its cumulative average, momentum None, is m = 1 / batches so far).
 *   evaluation forward, any B >= 1: the same with run_mean and run_var in
 *     place of the batch's statistics, which are not updated; xhat and
 *     invstd are kept as in training.
 * The statistics and the sums of backward are taken in double for both
 * dtypes (float's own sums over a large batch lose digits), and rounded
 * once to the type where they are stored. */
void bp_batchnorm_forward_train(double *y, double *xhat, double *invstd, double *run_mean,
                                double *run_var, const double *x, const double *gamma,
                                const double *beta, int B, int F, double eps,
                                double momentum);
void bp_batchnorm_forward_eval(double *y, double *xhat, double *invstd, const double *x,
                               const double *gamma, const double *beta,
                               const double *run_mean, const double *run_var, int B,
                               int F, double eps);
/* Backward of the training forward, with its xhat and invstd, adding into
 * dx, dgamma and dbeta:
 *   dbeta += sum_s dy; dgamma += sum_s dy xhat;
 *   dx += gamma invstd / B (B dy - sum_s dy - xhat sum_s dy xhat)
 * (the batch's mean and variance depend on every row). */
void bp_batchnorm_backward_train(double *dx, double *dgamma, double *dbeta,
                                 const double *dy, const double *xhat,
                                 const double *invstd, const double *gamma, int B, int F);
/* Backward of the evaluation forward (the statistics are constants):
 * dbeta and dgamma as in training, dx += dy gamma invstd. */
void bp_batchnorm_backward_eval(double *dx, double *dgamma, double *dbeta,
                                const double *dy, const double *xhat,
                                const double *invstd, const double *gamma, int B, int F);

/* Layer normalisation (nn.LayerNorm(F)) of R rows of F values (x, y and
 * xhat R x F): each row by its own mean and biased variance, summed in
 * double, xhat = (x - mean) / sqrt(var + eps), y = w xhat + b (w, b: F);
 * rstd (R) keeps each row's 1 / sqrt(var + eps). Backward adds:
 *   db += sum_r dy, dw += sum_r dy xhat,
 *   dx += rstd (g - mean_f g - xhat mean_f (g xhat)), g = dy w
 * (dx NULL: skipped). */
void bp_layernorm_forward(double *y, double *xhat, double *rstd, const double *x,
                          const double *w, const double *b, int R, int F, double eps);
void bp_layernorm_backward(double *dx, double *dw, double *db, const double *dy,
                           const double *xhat, const double *rstd, const double *w, int R,
                           int F);

/* Batch normalisation of B samples of F channels of S values each
 * (PyTorch's BatchNorm2d on B x F x H x W, S = H W), x, y and xhat
 * B x F x S: the kernels above with each feature's statistics over its
 * N = B S values (the running variance's unbiased factor N / (N - 1); the
 * caller checks N >= 2 in training). The kernels above are these with
 * S = 1, to the bit. */
void bp_batchnorm2d_forward_train(double *y, double *xhat, double *invstd,
                                  double *run_mean, double *run_var, const double *x,
                                  const double *gamma, const double *beta, int B, int F,
                                  int S, double eps, double momentum);
void bp_batchnorm2d_forward_eval(double *y, double *xhat, double *invstd, const double *x,
                                 const double *gamma, const double *beta,
                                 const double *run_mean, const double *run_var, int B,
                                 int F, int S, double eps);
void bp_batchnorm2d_backward_train(double *dx, double *dgamma, double *dbeta,
                                   const double *dy, const double *xhat,
                                   const double *invstd, const double *gamma, int B,
                                   int F, int S);
void bp_batchnorm2d_backward_eval(double *dx, double *dgamma, double *dbeta,
                                  const double *dy, const double *xhat,
                                  const double *invstd, const double *gamma, int B, int F,
                                  int S);

/* Gradient descent on one weight, the lecture's w_new = w_old - lr * dLoss/dw,
 * in double (a float weight is rounded to float once, by the caller, so that
 * a float network's step is the one bp_optim computes). Every plain SGD
 * step of the engine is this expression: bp_sgd_update, the fused layer
 * kernels below, the single-sample path and bp_optim's sgd. */
static inline double bp_sgd_step(double w, double dw, double lr) { return w - lr * dw; }

/* bp_sgd_step over N weights: w[k] = bp_sgd_step(w[k], dw[k], lr). */
void bp_sgd_update(double *w, const double *dw, size_t N, double lr);

/* Loss over a batch: the mean over the B samples of each sample's loss, so a
 * single sample gives exactly the lecture's loss. out and y are B x O. */
double bp_loss_forward(const double *out, const double *y, int B, int O, bp_loss loss);
/* dout += dLoss/dout. For BP_LOSS_SOFTMAX_CE this is softmax(out) - y over B:
 * the softmax is fused in, stable for any logit size. */
void bp_loss_backward(double *dout, const double *out, const double *y, int B, int O,
                      bp_loss loss);

/* The loss and dLoss/dout together: returns bp_loss_forward's value and
 * OVERWRITES dout with what bp_loss_backward would add to zeros. */
double bp_loss_grad(double *dout, const double *out, const double *y, int B, int O,
                    bp_loss loss);

/* The same three for a criterion (bp_crit): its parameter, and y as B x 1
 * class labels when it says labels. The three above are these with
 * bp_crit_of(loss). The criterion and the labels are checked first
 * (bp_crit_check): these do not. */
double bp_loss_forward_crit(const double *out, const double *y, int B, int O, bp_crit c);
void bp_loss_backward_crit(double *dout, const double *out, const double *y, int B, int O,
                           bp_crit c);
double bp_loss_grad_crit(double *dout, const double *out, const double *y, int B, int O,
                         bp_crit c);

/* The same kernels on floats. */
void bp_sgd_update_f32(float *w, const float *dw, size_t N, double lr);
void bp_dense_forward_f32(float *h, const float *x, const float *W, const float *b, int B,
                          int I, int O);
void bp_dense_backward_f32(float *dx, float *dW, float *db, const float *dh,
                           const float *x, const float *W, int B, int I, int O);
void bp_dense_backward_to_f32(float *dx, float *dW, float *db, const float *dh,
                              const float *x, const float *W, int B, int I, int O, int add);
void bp_dense_backward_block_f32(float *dx, float *db, const float *dh, const float *x,
                                 const float *W, int B, int I, int O, int add, int whole);
void bp_act_forward_f32(float *o, const float *h, int B, int O, bp_act act, double alpha);
void bp_act_backward_f32(float *dh, const float *dout, const float *h, const float *o,
                         int B, int O, bp_act act, double alpha);
double bp_loss_forward_f32(const float *out, const float *y, int B, int O, bp_loss loss);
void bp_loss_backward_f32(float *dout, const float *out, const float *y, int B, int O,
                          bp_loss loss);
double bp_loss_grad_f32(float *dout, const float *out, const float *y, int B, int O,
                        bp_loss loss);
double bp_loss_forward_crit_f32(const float *out, const float *y, int B, int O,
                                bp_crit c);
void bp_loss_backward_crit_f32(float *dout, const float *out, const float *y, int B,
                               int O, bp_crit c);
double bp_loss_grad_crit_f32(float *dout, const float *out, const float *y, int B, int O,
                             bp_crit c);
void bp_dropout_forward_f32(float *y, uint8_t *keep, const float *x, size_t n, double p,
                            bp_rng *r);
void bp_dropout_backward_f32(float *dx, const float *dy, const uint8_t *keep, size_t n,
                             double p);
/* The same, bit for bit, in blocks: the draws by bp_rng_fill_uniform, the
 * mask and values without a branch (ops_fast.h; what a float32 graph runs). */
void bp_dropout_forward_fast_f32(float *y, uint8_t *keep, const float *x, size_t n, double p,
                                 bp_rng *r);
void bp_dropout_backward_fast_f32(float *dx, const float *dy, const uint8_t *keep, size_t n,
                                  double p);
void bp_batchnorm_forward_train_f32(float *y, float *xhat, float *invstd, float *run_mean,
                                    float *run_var, const float *x, const float *gamma,
                                    const float *beta, int B, int F, double eps,
                                    double momentum);
void bp_batchnorm_forward_eval_f32(float *y, float *xhat, float *invstd, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *run_mean, const float *run_var, int B,
                                   int F, double eps);
void bp_batchnorm_backward_train_f32(float *dx, float *dgamma, float *dbeta,
                                     const float *dy, const float *xhat,
                                     const float *invstd, const float *gamma, int B,
                                     int F);
void bp_batchnorm_backward_eval_f32(float *dx, float *dgamma, float *dbeta,
                                    const float *dy, const float *xhat,
                                    const float *invstd, const float *gamma, int B,
                                    int F);
void bp_layernorm_forward_f32(float *y, float *xhat, float *rstd, const float *x,
                              const float *w, const float *b, int R, int F, double eps);
void bp_layernorm_backward_f32(float *dx, float *dw, float *db, const float *dy,
                               const float *xhat, const float *rstd, const float *w, int R,
                               int F);

void bp_batchnorm2d_forward_train_f32(float *y, float *xhat, float *invstd,
                                      float *run_mean, float *run_var, const float *x,
                                      const float *gamma, const float *beta, int B, int F,
                                      int S, double eps, double momentum);
void bp_batchnorm2d_forward_eval_f32(float *y, float *xhat, float *invstd, const float *x,
                                     const float *gamma, const float *beta,
                                     const float *run_mean, const float *run_var, int B,
                                     int F, int S, double eps);
void bp_batchnorm2d_backward_train_f32(float *dx, float *dgamma, float *dbeta,
                                       const float *dy, const float *xhat,
                                       const float *invstd, const float *gamma, int B,
                                       int F, int S);
void bp_batchnorm2d_backward_eval_f32(float *dx, float *dgamma, float *dbeta,
                                      const float *dy, const float *xhat,
                                      const float *invstd, const float *gamma, int B,
                                      int F, int S);

/* A dense layer and its activation fused, as bp_net's training step runs
 * them: each makes one pass over the B x O values where the kernels above
 * make two or three, and overwrites instead of adding, so that nothing
 * needs zeroing first.
 *   forward:  h = x W^T + b, o = f(h).
 *   backward: dh = dLoss/dh from dout (overwritten); dW = dh^T x and
 *             db = column sums of dh, overwritten when acc is 0 and added
 *             into when it is 1; dx = dh W, overwritten (NULL: skipped);
 *             then, when lr >= 0, gradient descent on the layer:
 *             W -= lr * dW, b -= lr * db (in double, rounded once to the
 *             layer's type). dx is computed with the weights before the step.
 * The sums are the kernels' above in the same order, so the results agree
 * with theirs to the last bit on the plain-loop path (taken below
 * BP_BLAS_MIN_WORK multiply-adds) and to BLAS's rounding on the other. */
#define BP_BLAS_MIN_WORK 4096

void bp_layer_forward(double *h, double *o, const double *x, const double *W,
                      const double *b, int B, int I, int O, bp_act act, double alpha);
void bp_layer_backward(double *dx, double *dW, double *db, double *dh, const double *dout,
                       const double *h, const double *o, const double *x, double *W,
                       double *b, int B, int I, int O, bp_act act, double alpha, int acc,
                       double lr);
void bp_layer_forward_f32(float *h, float *o, const float *x, const float *W,
                          const float *b, int B, int I, int O, bp_act act, double alpha);
void bp_layer_backward_f32(float *dx, float *dW, float *db, float *dh, const float *dout,
                           const float *h, const float *o, const float *x, float *W,
                           float *b, int B, int I, int O, bp_act act, double alpha,
                           int acc, double lr);

/* The same step split between the members of a team of threads (bp_net.h):
 * S = a member's rows, n0 .. n1-1 its neurons.
 *   loss_grad_rows: S rows' dLoss/dout for a mean over B rows, overwritten,
 *     and each row's loss into row_loss[0 .. S-1] (bp_loss_grad's total is
 *     their sum in row order over B); y is the S rows' targets (S x 1 with
 *     labels, the _crit form).
 *   forward_cols: bp_layer_forward's h and o for neurons n0 .. n1-1 only,
 *     over all B rows (an elementwise activation's layer).
 *   backward_rows: dh and dx = dh W (NULL: skipped) of S rows, overwritten.
 *   backward_cols: after every member's backward_rows, dW and db of neurons
 *     n0 .. n1-1 over all B rows, overwritten, then their step if lr >= 0.
 * backward_rows over all rows then backward_cols over all neurons is
 * bp_layer_backward with acc 0, which is how it runs its BLAS-sized layers.
 * dense_backward_cols: bp_dense_backward's dW and db (NULL: skipped) for
 * neurons n0 .. n1-1 only, added as it adds them, over all B rows: a graph's
 * linear split between a team (its dx by rows is bp_dense_backward's with
 * dW and db NULL). */
void bp_loss_grad_rows(double *dout, double *row_loss, const double *out, const double *y,
                       int S, int B, int O, bp_loss loss);
void bp_loss_grad_rows_crit(double *dout, double *row_loss, const double *out,
                            const double *y, int S, int B, int O, bp_crit c);
void bp_layer_forward_cols(double *h, double *o, const double *x, const double *W,
                           const double *b, int B, int I, int O, int n0, int n1,
                           bp_act act, double alpha);
void bp_layer_backward_rows(double *dx, double *dh, const double *dout, const double *h,
                            const double *o, const double *W, int S, int I, int O,
                            bp_act act, double alpha);
void bp_layer_backward_cols(double *dW, double *db, double *W, double *b,
                            const double *dh, const double *x, int B, int I, int O,
                            int n0, int n1, double lr);
void bp_dense_backward_cols(double *dW, double *db, const double *dh, const double *x,
                            int B, int I, int O, int n0, int n1);
void bp_loss_grad_rows_f32(float *dout, double *row_loss, const float *out,
                           const float *y, int S, int B, int O, bp_loss loss);
void bp_loss_grad_rows_crit_f32(float *dout, double *row_loss, const float *out,
                                const float *y, int S, int B, int O, bp_crit c);
void bp_layer_forward_cols_f32(float *h, float *o, const float *x, const float *W,
                               const float *b, int B, int I, int O, int n0, int n1,
                               bp_act act, double alpha);
void bp_layer_backward_rows_f32(float *dx, float *dh, const float *dout, const float *h,
                                const float *o, const float *W, int S, int I, int O,
                                bp_act act, double alpha);
void bp_layer_backward_cols_f32(float *dW, float *db, float *W, float *b, const float *dh,
                                const float *x, int B, int I, int O, int n0, int n1,
                                double lr);
void bp_dense_backward_cols_f32(float *dW, float *db, const float *dh, const float *x,
                                int B, int I, int O, int n0, int n1);

/* A float32 layer's plain SGD step fused into its dW product, and that
 * product alone (ops_fast.h says when each applies):
 *   backward_cols_sgd: backward_cols with lr >= 0 for neurons n0 .. n1-1,
 *     but W -= lr dh^T x as one product into W, dW left unwritten; W's
 *     rounding differs from bp_sgd_update's (test_fit.c's bound).
 *   dw: neurons n0 .. n1-1 of dW = dh^T x, backward_cols' bits. */
void bp_layer_backward_cols_sgd_f32(float *db, float *W, float *b, const float *dh,
                                    const float *x, int B, int I, int O, int n0, int n1,
                                    double lr);
void bp_layer_dw_f32(float *dW, const float *dh, const float *x, int B, int I, int O,
                     int n0, int n1);

/* Threads a step may use: OpenBLAS's count for one product, and the size of
 * a network's team for a large mini-batch step (bp_net.h). The default is
 * OpenBLAS's own: OPENBLAS_NUM_THREADS when set, else the number of cores.
 * bp_set_threads returns -1 for n < 1. Plain-loop layers of a step that is
 * not the team's run on the calling thread. */
int bp_threads(void);
int bp_set_threads(int n, bp_err *e);

#endif
