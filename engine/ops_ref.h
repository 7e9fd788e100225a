/* ops_ref.h: the reference kernels, the lecture's mathematics in plain loops.
 *
 * Each op is here once, in the simplest loops that compute it, each formula
 * in one place: the dense layer's three sums, the activations and losses
 * expanded from their tables (bp_ops.h), dropout and batch norm (the
 * modules of a graph, which have no fast path), and the gradient-descent
 * step. They are what the fast paths of ops_fast.h must equal, and they are
 * the small layers' path itself. Each op's forward is followed by its
 * backward, as in llm.c's train_gpt2.c, whose CPU reference kernels sit
 * beside the fast ones in the same way.
 *
 * A template, compiled twice by ops.c (real.h: REAL double, then float with
 * _f32 names); not to be included anywhere else. Every backward here ADDS
 * into the gradients it is given, as bp_ops.h says. */

/* ------------------------------------------------------------------------ */
/* Dense layer: h[s][n] = b[n] + sum_i W[n][i] x[s][i]                       */
/*                                                                           */
/* B = rows of the batch (s), I = inputs of the layer (i), O = its outputs   */
/* or neurons (n). x is B x I, h and dh are B x O, W is O x I, b has O.      */

static void SFX(dense_forward_ref)(REAL *h, const REAL *x, const REAL *W, const REAL *b,
                                   int B, int I, int O) {
    for (int s = 0; s < B; s++) {
        const REAL *xs = x + (size_t)s * I;
        REAL *hs = h + (size_t)s * O;
        for (int n = 0; n < O; n++) {
            const REAL *wn = W + (size_t)n * I;
            REAL acc = b[n];
            for (int i = 0; i < I; i++) acc += wn[i] * xs[i];
            hs[n] = acc;
        }
    }
}

/* dLoss/db_n = sum_s dLoss/dh_{s,n}   (dh/db = 1), added into db. */
static void SFX(bias_backward_ref)(REAL *db, const REAL *dh, int B, int O) {
    if (!db) return;
    for (int s = 0; s < B; s++) {
        const REAL *dhs = dh + (size_t)s * O;
        for (int n = 0; n < O; n++) db[n] += dhs[n];
    }
}

/* dLoss/dw_{n,i} = sum_s dLoss/dh_{s,n} * x_{s,i}   (dh/dw = the input)
 * dLoss/db_n     = sum_s dLoss/dh_{s,n}            (dh/db = 1)
 * dLoss/dx_{s,i} = sum_n dLoss/dh_{s,n} * w_{n,i}   (dh/dx = the weight)
 * each added into dW, db and dx (any of them NULL: skipped, a frozen
 * tensor's or an input nobody needs). */
static void SFX(dense_backward_ref)(REAL *dx, REAL *dW, REAL *db, const REAL *dh,
                                    const REAL *x, const REAL *W, int B, int I, int O) {
    SFX(bias_backward_ref)(db, dh, B, O);
    for (int s = 0; s < B; s++) {
        const REAL *xs = x + (size_t)s * I;
        const REAL *dhs = dh + (size_t)s * O;
        REAL *dxs = dx ? dx + (size_t)s * I : NULL;
        for (int n = 0; n < O; n++) {
            const REAL g = dhs[n];
            REAL *dwn = dW + (size_t)n * I;
            const REAL *wn = W + (size_t)n * I;
            if (dW)
                for (int i = 0; i < I; i++) dwn[i] += g * xs[i];
            if (dxs)
                for (int i = 0; i < I; i++) dxs[i] += g * wn[i];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Activations: o = f(h), and dLoss/dh from dLoss/do                          */
/*                                                                           */
/* B = rows of the batch, O = values of a row (the layer's outputs). h, o,   */
/* dout and dh are B x O; the elementwise functions see them as B * O values.*/

/* The largest of a row's O values: the shift that keeps exp from
 * overflowing in the row functions below. */
static REAL SFX(row_max)(const REAL *h, int O) {
    REAL m = h[0];
    for (int n = 1; n < O; n++)
        if (h[n] > m) m = h[n];
    return m;
}

/* softmax over each of B rows of O values: o_n = exp(h_n - m) /
 * sum_k exp(h_k - m), shifted by the row's largest m so that exp never
 * overflows. */
static void SFX(softmax_rows)(REAL *o, const REAL *h, int B, int O) {
    for (int s = 0; s < B; s++, o += O, h += O) {
        const REAL m = SFX(row_max)(h, O);
        REAL sum = 0;
        for (int n = 0; n < O; n++) sum += (o[n] = EXP(h[n] - m));
        for (int n = 0; n < O; n++) o[n] /= sum;
    }
}

/* log_softmax over each of B rows of O values: o_n = (h_n - m) - log sum_k
 * exp(h_k - m), shifted by the row's largest m as softmax, and finite for
 * any h (where log(softmax) would give -inf once exp underflows). */
static void SFX(log_softmax_rows)(REAL *o, const REAL *h, int B, int O) {
    for (int s = 0; s < B; s++, o += O, h += O) {
        const REAL m = SFX(row_max)(h, O);
        REAL sum = 0;
        for (int n = 0; n < O; n++) sum += EXP(h[n] - m);
        const REAL ls = LOG(sum);
        for (int n = 0; n < O; n++) o[n] = (h[n] - m) - ls;
    }
}

void SFX(bp_act_forward)(REAL *o, const REAL *h, int B, int O, bp_act act, double alpha) {
    const REAL a = (REAL)alpha;
    const size_t N = (size_t)B * O;
#define CASE(N_, name, f, df)                                           \
    case BP_ACT_##N_:                                                   \
        for (size_t k = 0; k < N; k++) o[k] = SFX(act_f_##N_)(h[k], a); \
        break;
#define ROW_CASE(N_, name, f, df) \
    case BP_ACT_##N_: SFX(f)(o, h, B, O); break;
    ACT_SWITCH(act, CASE, ROW_CASE)
#undef CASE
#undef ROW_CASE
}

/* softmax's dLoss/dh over each of B rows of O values: dh_n = o_n (d_n -
 * sum_k d_k o_k), since softmax couples the row. add: dh += it, else
 * dh = it; with db, also db += it (the fused layer's bias gradient,
 * ops_fast.h). */
static void SFX(softmax_grad_rows)(REAL *dh, REAL *db, const REAL *d, const REAL *o,
                                   int B, int O, int add) {
    for (int s = 0; s < B; s++, dh += O, d += O, o += O) {
        REAL dot = 0;
        for (int n = 0; n < O; n++) dot += d[n] * o[n];
        for (int n = 0; n < O; n++) {
            REAL g = o[n] * (d[n] - dot);
            if (add) dh[n] += g;
            else dh[n] = g;
            if (db) db[n] += g;
        }
    }
}

/* log_softmax's dLoss/dh over each of B rows: dh_n = d_n - exp(o_n) sum_k
 * d_k (exp(o) is the row's softmax). add, db: as softmax_grad_rows. */
static void SFX(log_softmax_grad_rows)(REAL *dh, REAL *db, const REAL *d, const REAL *o,
                                       int B, int O, int add) {
    for (int s = 0; s < B; s++, dh += O, d += O, o += O) {
        REAL sum = 0;
        for (int n = 0; n < O; n++) sum += d[n];
        for (int n = 0; n < O; n++) {
            REAL g = d[n] - EXP(o[n]) * sum;
            if (add) dh[n] += g;
            else dh[n] = g;
            if (db) db[n] += g;
        }
    }
}

/* dLoss/dh = dLoss/do * do/dh, added into dh. */
void SFX(bp_act_backward)(REAL *dh, const REAL *dout, const REAL *h, const REAL *o, int B,
                          int O, bp_act act, double alpha) {
    const REAL a = (REAL)alpha;
    const size_t N = (size_t)B * O;
#define CASE(N_, name, f, df)                                  \
    case BP_ACT_##N_:                                          \
        for (size_t k = 0; k < N; k++)                         \
            dh[k] += SFX(act_df_##N_)(dout[k], h[k], o[k], a); \
        break;
#define ROW_CASE(N_, name, f, df) \
    case BP_ACT_##N_: SFX(df)(dh, NULL, dout, o, B, O, 1); break;
    ACT_SWITCH(act, CASE, ROW_CASE)
#undef CASE
#undef ROW_CASE
}

/* ------------------------------------------------------------------------ */
/* Dropout: y = x * keep / (1 - p), inverted dropout in training             */
/*                                                                           */
/* n = values (any shape, seen flat: k). x, y, dy and dx have n, keep n      */
/* bytes, 1 where the value is kept. p = the probability of dropping one.    */

/* The mask is drawn in double from r, one draw per value and none at p = 0
 * or 1, so that both dtypes drop the same values from one seed. The scale
 * is rounded once to the type, and y is x times it (PyTorch multiplies by
 * its mask of 1 / (1 - p) likewise), so that backward's dy times the same
 * scale is the exact derivative of what forward computed. */
void SFX(bp_dropout_forward)(REAL *y, uint8_t *keep, const REAL *x, size_t n, double p,
                             bp_rng *r) {
    if (p <= 0 || p >= 1) { /* nothing drawn */
        for (size_t k = 0; k < n; k++) {
            keep[k] = p <= 0;
            y[k] = p <= 0 ? x[k] : 0;
        }
        return;
    }
    const REAL scale = (REAL)(1.0 / (1.0 - p));
    for (size_t k = 0; k < n; k++) {
        keep[k] = bp_rng_uniform(r) >= p;
        y[k] = keep[k] ? x[k] * scale : 0;
    }
}

/* dLoss/dx = dLoss/dy * scale where kept, 0 where dropped, added into dx.
 * (At p = 1 nothing is kept and 1 / (1 - p) is never formed.) */
void SFX(bp_dropout_backward)(REAL *dx, const REAL *dy, const uint8_t *keep, size_t n,
                              double p) {
    if (p <= 0) {
        for (size_t k = 0; k < n; k++) dx[k] += dy[k];
        return;
    }
    if (p >= 1) return;
    const REAL scale = (REAL)(1.0 / (1.0 - p));
    for (size_t k = 0; k < n; k++)
        if (keep[k]) dx[k] += dy[k] * scale;
}

/* ------------------------------------------------------------------------ */
/* Batch norm: y = gamma (x - mean) / sqrt(var + eps) + beta, per feature    */
/*                                                                           */
/* B = rows of the batch (s), F = features or channels (f), S = values of a  */
/* feature in a sample (j): 1 for batchnorm1d, H W for batchnorm2d. x, y,    */
/* xhat, dy and dx are B x F x S; gamma, beta, their gradients, the running  */
/* mean and variance and invstd have F. A feature's N = B S values are S in  */
/* a row, F S apart: the loops go feature by feature, each sum over s then j */
/* in double, in memory order. batchnorm1d is the case S = 1.                */

/* Where value j of feature f of row s is. */
#define BN_AT(s, f, j) (((size_t)(s) * F + (f)) * S + (j))

/* y = gamma xhat + beta from xhat, and xhat = (x - mu) * invstd, for one
 * feature of statistics mu and invstd (in double). */
static void SFX(bn_normalise)(REAL *y, REAL *xhat, const REAL *x, double mu, REAL invstd,
                              REAL gamma, REAL beta, int B, int F, int S, int f) {
    for (int s = 0; s < B; s++)
        for (int j = 0; j < S; j++) {
            size_t k = BN_AT(s, f, j);
            xhat[k] = (REAL)((x[k] - mu) * invstd);
            y[k] = gamma * xhat[k] + beta;
        }
}

/* The batch's mean, then its biased variance around it (two passes: one
 * pass's E[x^2] - mean^2 cancels when the mean is large); the running
 * variance takes the unbiased one, var N / (N - 1). */
void SFX(bp_batchnorm2d_forward_train)(REAL *y, REAL *xhat, REAL *invstd, REAL *run_mean,
                                       REAL *run_var, const REAL *x, const REAL *gamma,
                                       const REAL *beta, int B, int F, int S, double eps,
                                       double momentum) {
    const double N = (double)B * S;
    for (int f = 0; f < F; f++) {
        double mu = 0, var = 0;
        for (int s = 0; s < B; s++)
            for (int j = 0; j < S; j++) mu += x[BN_AT(s, f, j)];
        mu /= N;
        for (int s = 0; s < B; s++)
            for (int j = 0; j < S; j++) {
                double c = x[BN_AT(s, f, j)] - mu;
                var += c * c;
            }
        var /= N;
        invstd[f] = (REAL)(1 / sqrt(var + eps));
        SFX(bn_normalise)(y, xhat, x, mu, invstd[f], gamma[f], beta[f], B, F, S, f);
        run_mean[f] = (REAL)((1 - momentum) * run_mean[f] + momentum * mu);
        run_var[f] = (REAL)((1 - momentum) * run_var[f] + momentum * var * N / (N - 1));
    }
}

/* dbeta = sum dy, dgamma = sum dy xhat (y's dependence on the parameters),
 * and, since mean and variance are functions of every value of the
 * feature, dx = gamma invstd / N (N dy - sum dy - xhat sum dy xhat). */
void SFX(bp_batchnorm2d_backward_train)(REAL *dx, REAL *dgamma, REAL *dbeta,
                                        const REAL *dy, const REAL *xhat,
                                        const REAL *invstd, const REAL *gamma, int B,
                                        int F, int S) {
    const double N = (double)B * S;
    for (int f = 0; f < F; f++) {
        double sum_dy = 0, sum_dy_xhat = 0;
        for (int s = 0; s < B; s++)
            for (int j = 0; j < S; j++) {
                size_t k = BN_AT(s, f, j);
                sum_dy += dy[k];
                sum_dy_xhat += (double)dy[k] * xhat[k];
            }
        dbeta[f] += (REAL)sum_dy;
        dgamma[f] += (REAL)sum_dy_xhat;
        double g = (double)gamma[f] * invstd[f] / N;
        for (int s = 0; s < B; s++)
            for (int j = 0; j < S; j++) {
                size_t k = BN_AT(s, f, j);
                dx[k] += (REAL)(g * (N * dy[k] - sum_dy - xhat[k] * sum_dy_xhat));
            }
    }
}

/* The running statistics in place of the batch's: a fixed affine map of x. */
void SFX(bp_batchnorm2d_forward_eval)(REAL *y, REAL *xhat, REAL *invstd, const REAL *x,
                                      const REAL *gamma, const REAL *beta,
                                      const REAL *run_mean, const REAL *run_var, int B,
                                      int F, int S, double eps) {
    for (int f = 0; f < F; f++) {
        invstd[f] = (REAL)(1 / sqrt((double)run_var[f] + eps));
        SFX(bn_normalise)
        (y, xhat, x, run_mean[f], invstd[f], gamma[f], beta[f], B, F, S, f);
    }
}

/* dbeta and dgamma as in training; dx = dy gamma invstd, the statistics
 * being constants. */
void SFX(bp_batchnorm2d_backward_eval)(REAL *dx, REAL *dgamma, REAL *dbeta,
                                       const REAL *dy, const REAL *xhat,
                                       const REAL *invstd, const REAL *gamma, int B,
                                       int F, int S) {
    for (int f = 0; f < F; f++) {
        double sum_dy = 0, sum_dy_xhat = 0, g = (double)gamma[f] * invstd[f];
        for (int s = 0; s < B; s++)
            for (int j = 0; j < S; j++) {
                size_t k = BN_AT(s, f, j);
                sum_dy += dy[k];
                sum_dy_xhat += (double)dy[k] * xhat[k];
                dx[k] += (REAL)(g * dy[k]);
            }
        dbeta[f] += (REAL)sum_dy;
        dgamma[f] += (REAL)sum_dy_xhat;
    }
}

#undef BN_AT

/* batchnorm1d: the same with S = 1. */
void SFX(bp_batchnorm_forward_train)(REAL *y, REAL *xhat, REAL *invstd, REAL *run_mean,
                                     REAL *run_var, const REAL *x, const REAL *gamma,
                                     const REAL *beta, int B, int F, double eps,
                                     double momentum) {
    SFX(bp_batchnorm2d_forward_train)
    (y, xhat, invstd, run_mean, run_var, x, gamma, beta, B, F, 1, eps, momentum);
}
void SFX(bp_batchnorm_backward_train)(REAL *dx, REAL *dgamma, REAL *dbeta, const REAL *dy,
                                      const REAL *xhat, const REAL *invstd,
                                      const REAL *gamma, int B, int F) {
    SFX(bp_batchnorm2d_backward_train)(dx, dgamma, dbeta, dy, xhat, invstd, gamma, B, F, 1);
}
void SFX(bp_batchnorm_forward_eval)(REAL *y, REAL *xhat, REAL *invstd, const REAL *x,
                                    const REAL *gamma, const REAL *beta,
                                    const REAL *run_mean, const REAL *run_var, int B,
                                    int F, double eps) {
    SFX(bp_batchnorm2d_forward_eval)
    (y, xhat, invstd, x, gamma, beta, run_mean, run_var, B, F, 1, eps);
}
void SFX(bp_batchnorm_backward_eval)(REAL *dx, REAL *dgamma, REAL *dbeta, const REAL *dy,
                                     const REAL *xhat, const REAL *invstd,
                                     const REAL *gamma, int B, int F) {
    SFX(bp_batchnorm2d_backward_eval)(dx, dgamma, dbeta, dy, xhat, invstd, gamma, B, F, 1);
}

/* layernorm: each row's own mean and biased variance, summed in double as
 * batch norm's statistics are. */
void SFX(bp_layernorm_forward)(REAL *y, REAL *xhat, REAL *rstd, const REAL *x, const REAL *w,
                               const REAL *b, int R, int F, double eps) {
    for (int r = 0; r < R; r++) {
        const REAL *xr = x + (size_t)r * F;
        double mean = 0, var = 0;
        for (int f = 0; f < F; f++) mean += xr[f];
        mean /= F;
        for (int f = 0; f < F; f++) var += (xr[f] - mean) * (xr[f] - mean);
        REAL rs = (REAL)(1 / sqrt(var / F + eps));
        rstd[r] = rs;
        for (int f = 0; f < F; f++) {
            size_t k = (size_t)r * F + f;
            xhat[k] = (REAL)((xr[f] - mean) * rs);
            y[k] = w[f] * xhat[k] + b[f];
        }
    }
}
void SFX(bp_layernorm_backward)(REAL *dx, REAL *dw, REAL *db, const REAL *dy,
                                const REAL *xhat, const REAL *rstd, const REAL *w, int R,
                                int F) {
    for (int r = 0; r < R; r++) {
        const REAL *dyr = dy + (size_t)r * F, *xr = xhat + (size_t)r * F;
        double s1 = 0, s2 = 0; /* sums of dxhat and dxhat xhat */
        for (int f = 0; f < F; f++) {
            double g = dyr[f] * w[f];
            s1 += g, s2 += g * xr[f];
            dw[f] += dyr[f] * xr[f];
            db[f] += dyr[f];
        }
        for (int f = 0; dx && f < F; f++)
            dx[(size_t)r * F + f] +=
                (REAL)(rstd[r] * (dyr[f] * w[f] - s1 / F - xr[f] * s2 / F));
    }
}

/* ------------------------------------------------------------------------ */
/* Losses: the mean over the batch of each sample's loss, summed in double   */
/*                                                                           */
/* B = samples, O = outputs of a sample; out, y and dout are B x O.          */

/* log(sum_n exp(z_n)) without overflow: shift by the largest logit. */
static REAL SFX(logsumexp)(const REAL *z, int O) {
    const REAL m = SFX(row_max)(z, O);
    REAL sum = 0;
    for (int n = 0; n < O; n++) sum += EXP(z[n] - m);
    return m + LOG(sum);
}

/* The target of one row, for the loops below: its O values ys (c < 0), or
 * its class c (0-based, from the label 1..O the row holds) and y_n the
 * one-hot row's (REAL)(n == c). K is a row's width in y: 1 or O. */
static inline int SFX(row_class)(const REAL *y, int s, int labels) {
    return labels ? (int)y[s] - 1 : -1;
}

/* softmax_ce's loss of one row of logits z:
 * -sum_n y_n log softmax(z)_n = sum_n y_n (lse - z_n); of class c, the
 * one-hot row's, lse - z_c (the other terms are zeros). */
static double SFX(softmax_ce_row)(const REAL *z, const REAL *y, int c, int O) {
    REAL lse = SFX(logsumexp)(z, O);
    if (c >= 0) return (REAL)(lse - z[c]);
    double l = 0.0;
    for (int n = 0; n < O; n++) l += y[n] * (lse - z[n]);
    return l;
}

/* One row's loss, by the table; a the loss's parameter. A labelled row of
 * an elementwise loss is its class's term, the one-hot row's only non-zero
 * one (the table's labels column). */
static double SFX(loss_of_row)(const REAL *os, const REAL *ys, int c, int O, bp_loss loss,
                               double a) {
    double l = 0.0;
#define ROW_CASE(N, name, loss_row, grad_row, ...) \
    case BP_LOSS_##N:                              \
        return SFX(loss_row)(os, ys, c, O);
#define CASE(N, name, p, term, grad, div, ...)                                         \
    case BP_LOSS_##N:                                                                  \
        if (c >= 0)                                                                    \
            return SFX(loss_div_##N)(SFX(loss_term_##N)(1, SFX(loss_p_##N)(os[c]), a), \
                                     O);                                               \
        for (int n = 0; n < O; n++)                                                    \
            l += SFX(loss_term_##N)(ys[n], SFX(loss_p_##N)(os[n]), a);                 \
        return SFX(loss_div_##N)(l, O);
    LOSS_SWITCH(loss, CASE, ROW_CASE, return l)
#undef CASE
#undef ROW_CASE
}

double SFX(bp_loss_forward_crit)(const REAL *out, const REAL *y, int B, int O,
                                 bp_crit crit) {
    const int K = crit.labels ? 1 : O;
    const double a = bp_crit_param(&crit);
    double total = 0.0;
    for (int s = 0; s < B; s++)
        total += SFX(loss_of_row)(out + (size_t)s * O, y + (size_t)s * K,
                                  SFX(row_class)(y, s, crit.labels), O, crit.loss, a);
    return total / B;
}

double SFX(bp_loss_forward)(const REAL *out, const REAL *y, int B, int O, bp_loss loss) {
    return SFX(bp_loss_forward_crit)(out, y, B, O, bp_crit_of(loss));
}

/* softmax_ce's dLoss/dz for a mean over B rows, added into ds:
 * (softmax(z)_n sum_k y_k - y_n) / B, the softmax fused in and stable for
 * any size of logit; of class c, the one-hot row's (softmax(z)_n -
 * (n == c)) / B, its sum of y being exactly 1. */
static void SFX(softmax_ce_grad_row)(REAL *ds, const REAL *z, const REAL *y, int c, int B,
                                     int O) {
    REAL lse = SFX(logsumexp)(z, O), ysum = 0;
    if (c >= 0) {
        for (int n = 0; n < O; n++) ds[n] += (EXP(z[n] - lse) - (REAL)(n == c)) / B;
        return;
    }
    for (int n = 0; n < O; n++) ysum += y[n];
    for (int n = 0; n < O; n++) ds[n] += (EXP(z[n] - lse) * ysum - y[n]) / B;
}

/* One row's share of dLoss/dout added into ds, for a mean over B rows; a
 * labelled row's is the one-hot row's. */
static void SFX(grad_of_row)(REAL *ds, const REAL *os, const REAL *ys, int c, int B,
                             int O, bp_loss loss, double a) {
#define ROW_CASE(N, name, loss_row, grad_row, ...) \
    case BP_LOSS_##N:                              \
        SFX(grad_row)(ds, os, ys, c, B, O);        \
        break;
#define CASE(N, name, p, term, grad, div, ...)                                           \
    case BP_LOSS_##N:                                                                    \
        if (c >= 0)                                                                      \
            for (int n = 0; n < O; n++)                                                  \
                ds[n] +=                                                                 \
                    SFX(loss_grad_##N)((REAL)(n == c), SFX(loss_p_##N)(os[n]), B, O, a); \
        else                                                                             \
            for (int n = 0; n < O; n++)                                                  \
                ds[n] += SFX(loss_grad_##N)(ys[n], SFX(loss_p_##N)(os[n]), B, O, a);     \
        break;
    LOSS_SWITCH(loss, CASE, ROW_CASE, break)
#undef CASE
#undef ROW_CASE
}

void SFX(bp_loss_backward_crit)(REAL *dout, const REAL *out, const REAL *y, int B, int O,
                                bp_crit crit) {
    const int K = crit.labels ? 1 : O;
    const double a = bp_crit_param(&crit);
    for (int s = 0; s < B; s++) SFX(grad_of_row)
    (dout + (size_t)s * O, out + (size_t)s * O, y + (size_t)s * K,
     SFX(row_class)(y, s, crit.labels), B, O, crit.loss, a);
}

void SFX(bp_loss_backward)(REAL *dout, const REAL *out, const REAL *y, int B, int O,
                           bp_loss loss) {
    SFX(bp_loss_backward_crit)(dout, out, y, B, O, bp_crit_of(loss));
}

/* ------------------------------------------------------------------------ */
/* Update: gradient descent, w -= lr * dLoss/dw (bp_sgd_step)                */
/*                                                                           */
/* N = weights (O * I for a layer's W, O for its b).                         */

SGD_CLONES
void SFX(bp_sgd_update)(REAL *w, const REAL *dw, size_t N, double lr) {
    for (size_t k = 0; k < N; k++) w[k] = (REAL)bp_sgd_step(w[k], dw[k], lr);
}
