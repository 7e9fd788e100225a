/* ops_ref.h: the reference kernels, the lecture's mathematics in plain loops.
 *
 * Each op is here once, in the simplest loops that compute it, each formula
 * in one place: the dense layer's three sums, the activations and losses
 * expanded from their tables (bp_ops.h), and the gradient-descent step. They
 * are what the fast paths of ops_fast.h must equal, and they are the small
 * layers' path itself. Each op's forward is followed by its backward, as in
 * llm.c's train_gpt2.c, whose CPU reference kernels sit beside the fast ones
 * in the same way.
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
    for (int s = 0; s < B; s++) {
        const REAL *dhs = dh + (size_t)s * O;
        for (int n = 0; n < O; n++) db[n] += dhs[n];
    }
}

/* dLoss/dw_{n,i} = sum_s dLoss/dh_{s,n} * x_{s,i}   (dh/dw = the input)
 * dLoss/db_n     = sum_s dLoss/dh_{s,n}            (dh/db = 1)
 * dLoss/dx_{s,i} = sum_n dLoss/dh_{s,n} * w_{n,i}   (dh/dx = the weight)
 * each added into dW, db and dx (dx NULL: skipped). */
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

/* softmax over each of B rows of O values: o_n = exp(h_n - m) /
 * sum_k exp(h_k - m), shifted by the row's largest m so that exp never
 * overflows. */
static void SFX(softmax_rows)(REAL *o, const REAL *h, int B, int O) {
    for (int s = 0; s < B; s++, o += O, h += O) {
        REAL m = h[0];
        for (int n = 1; n < O; n++)
            if (h[n] > m) m = h[n];
        REAL sum = 0;
        for (int n = 0; n < O; n++) sum += (o[n] = EXP(h[n] - m));
        for (int n = 0; n < O; n++) o[n] /= sum;
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
/* Losses: the mean over the batch of each sample's loss, summed in double   */
/*                                                                           */
/* B = samples, O = outputs of a sample; out, y and dout are B x O.          */

/* log(sum_n exp(z_n)) without overflow: shift by the largest logit. */
static REAL SFX(logsumexp)(const REAL *z, int O) {
    REAL m = z[0];
    for (int n = 1; n < O; n++)
        if (z[n] > m) m = z[n];
    REAL sum = 0;
    for (int n = 0; n < O; n++) sum += EXP(z[n] - m);
    return m + LOG(sum);
}

/* softmax_ce's loss of one row of logits z:
 * -sum_n y_n log softmax(z)_n = sum_n y_n (lse - z_n). */
static double SFX(softmax_ce_row)(const REAL *z, const REAL *y, int O) {
    REAL lse = SFX(logsumexp)(z, O);
    double l = 0.0;
    for (int n = 0; n < O; n++) l += y[n] * (lse - z[n]);
    return l;
}

/* One row's loss, by the table. */
static double SFX(loss_of_row)(const REAL *os, const REAL *ys, int O, bp_loss loss) {
    double l = 0.0;
#define ROW_CASE(N, name, loss_row, grad_row) \
    case BP_LOSS_##N:                         \
        return SFX(loss_row)(os, ys, O);
#define CASE(N, name, p, term, grad, div)                           \
    case BP_LOSS_##N:                                               \
        for (int n = 0; n < O; n++)                                 \
            l += SFX(loss_term_##N)(ys[n], SFX(loss_p_##N)(os[n])); \
        return SFX(loss_div_##N)(l, O);
    LOSS_SWITCH(loss, CASE, ROW_CASE, return l)
#undef CASE
#undef ROW_CASE
}

double SFX(bp_loss_forward)(const REAL *out, const REAL *y, int B, int O, bp_loss loss) {
    double total = 0.0;
    for (int s = 0; s < B; s++)
        total += SFX(loss_of_row)(out + (size_t)s * O, y + (size_t)s * O, O, loss);
    return total / B;
}

/* softmax_ce's dLoss/dz for a mean over B rows, added into ds:
 * (softmax(z)_n sum_k y_k - y_n) / B, the softmax fused in and stable for
 * any size of logit. */
static void SFX(softmax_ce_grad_row)(REAL *ds, const REAL *z, const REAL *y, int B,
                                     int O) {
    REAL lse = SFX(logsumexp)(z, O), ysum = 0;
    for (int n = 0; n < O; n++) ysum += y[n];
    for (int n = 0; n < O; n++) ds[n] += (EXP(z[n] - lse) * ysum - y[n]) / B;
}

/* One row's share of dLoss/dout added into ds, for a mean over B rows. */
static void SFX(grad_of_row)(REAL *ds, const REAL *os, const REAL *ys, int B, int O,
                             bp_loss loss) {
#define ROW_CASE(N, name, loss_row, grad_row) \
    case BP_LOSS_##N:                         \
        SFX(grad_row)(ds, os, ys, B, O);      \
        break;
#define CASE(N, name, p, term, grad, div)                                     \
    case BP_LOSS_##N:                                                         \
        for (int n = 0; n < O; n++)                                           \
            ds[n] += SFX(loss_grad_##N)(ys[n], SFX(loss_p_##N)(os[n]), B, O); \
        break;
    LOSS_SWITCH(loss, CASE, ROW_CASE, break)
#undef CASE
#undef ROW_CASE
}

void SFX(bp_loss_backward)(REAL *dout, const REAL *out, const REAL *y, int B, int O,
                           bp_loss loss) {
    for (int s = 0; s < B; s++) SFX(grad_of_row)
    (dout + (size_t)s * O, out + (size_t)s * O, y + (size_t)s * O, B, O, loss);
}

/* ------------------------------------------------------------------------ */
/* Update: gradient descent, w -= lr * dLoss/dw (bp_sgd_step)                */
/*                                                                           */
/* N = weights (O * I for a layer's W, O for its b).                         */

SGD_CLONES
void SFX(bp_sgd_update)(REAL *w, const REAL *dw, size_t N, double lr) {
    for (size_t k = 0; k < N; k++) w[k] = (REAL)bp_sgd_step(w[k], dw[k], lr);
}
