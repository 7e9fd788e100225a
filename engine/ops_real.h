/* ops_real.h: the kernels of bp_ops.h, written once for one number type.
 *
 * Not a header to include anywhere but ops.c, which includes it twice: with
 * REAL double and names as written, then with REAL float and names ending in
 * _f32 (SFX). The includer also defines GEMM (cblas_dgemm or cblas_sgemm),
 * EXP, LOG, TANH and BCE_EPS for the type. A template header keeps the two
 * types' kernels from drifting apart: a fix made here is made for both.
 *
 * The loops read like the chain rule on paper; only the dense products go to
 * OpenBLAS, because that is the one place where the work grows as B x I x O.
 *
 * Dimensions: B = batch, I = inputs of a layer, O = outputs of a layer. */

/* ------------------------------------------------------------------------ */
/* Dense layer: h[b][n] = b[n] + sum_i W[n][i] x[b][i]                       */

void SFX(bp_dense_forward)(REAL *h, const REAL *x, const REAL *W, const REAL *b, int B,
                           int I, int O) {
    if ((long)B * I * O >= BLAS_MIN_WORK) {
        for (int s = 0; s < B; s++)
            memcpy(h + (size_t)s * O, b, sizeof(REAL) * (size_t)O);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, O, I, 1, x, I, W, I, 1, h, O);
        return;
    }
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

/* dLoss/dw_{n,i} = sum_b dLoss/dh_{b,n} * x_{b,i}   (dh/dw = the input)
 * dLoss/db_n     = sum_b dLoss/dh_{b,n}            (dh/db = 1)
 * dLoss/dx_{b,i} = sum_n dLoss/dh_{b,n} * w_{n,i}   (dh/dx = the weight) */
void SFX(bp_dense_backward)(REAL *dx, REAL *dW, REAL *db, const REAL *dh, const REAL *x,
                            const REAL *W, int B, int I, int O) {
    for (int s = 0; s < B; s++) {
        const REAL *dhs = dh + (size_t)s * O;
        for (int n = 0; n < O; n++) db[n] += dhs[n];
    }
    if ((long)B * I * O >= BLAS_MIN_WORK) {
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, B, 1, dh, O, x, I, 1, dW, I);
        if (dx)
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, I, O, 1, dh, O, W, I, 1,
                 dx, I);
        return;
    }
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
/* Activations: o = f(h)                                                     */

static void SFX(softmax_row)(REAL *o, const REAL *h, int O) {
    REAL m = h[0];
    for (int n = 1; n < O; n++)
        if (h[n] > m) m = h[n];
    REAL sum = 0;
    for (int n = 0; n < O; n++) sum += (o[n] = EXP(h[n] - m));
    for (int n = 0; n < O; n++) o[n] /= sum;
}

/* o = f(h) over B rows; with b, first h += b in the same pass (the fused
 * layer's bias), so each value is read and written once. EACH(F) is that
 * pass, F an expression of v, the value of h. */
static void SFX(bias_act)(REAL *o, REAL *h, const REAL *b, int B, int O, bp_act act,
                          double alpha) {
    const REAL a = (REAL)alpha;
#define EACH(F)                                                \
    for (int s = 0; s < B; s++) {                              \
        REAL *hs = h + (size_t)s * O, *os = o + (size_t)s * O; \
        if (b)                                                 \
            for (int n = 0; n < O; n++) {                      \
                REAL v = hs[n] + b[n];                         \
                hs[n] = v;                                     \
                os[n] = (F);                                   \
            }                                                  \
        else                                                   \
            for (int n = 0; n < O; n++) {                      \
                REAL v = hs[n];                                \
                os[n] = (F);                                   \
            }                                                  \
    }
#define CASE(N, name, f, df)        \
    case BP_ACT_##N:                \
        EACH(SFX(act_f_##N)(v, a)); \
        break;
#define ROW_CASE(N, name, f, df)                                                     \
    case BP_ACT_##N:                                                                 \
        if (b) EACH(v);                                                              \
        for (int s = 0; s < B; s++) SFX(f)(o + (size_t)s * O, h + (size_t)s * O, O); \
        break;
    switch (act) {
        BP_ACT_TABLE(CASE, ROW_CASE)
        default: break;
    }
#undef CASE
#undef ROW_CASE
#undef EACH
}

void SFX(bp_act_forward)(REAL *o, const REAL *h, int B, int O, bp_act act, double alpha) {
    if (act == BP_ACT_IDENTITY) {
        if (o != h) memcpy(o, h, sizeof(REAL) * (size_t)B * O);
        return;
    }
    /* Without a bias h is only read. */
    SFX(bias_act)(o, (REAL *)h, NULL, B, O, act, alpha);
}

/* softmax's dLoss/dh over one row of O values: dh_n = o_n (d_n - sum_k
 * d_k o_k), since softmax couples the row. add: dh += it, else dh = it;
 * with db, also db += it (the fused layer's bias gradient). */
static void SFX(softmax_grad_row)(REAL *dh, REAL *db, const REAL *d, const REAL *o, int O,
                                  int add) {
    REAL dot = 0;
    for (int n = 0; n < O; n++) dot += d[n] * o[n];
    for (int n = 0; n < O; n++) {
        REAL g = o[n] * (d[n] - dot);
        if (add) dh[n] += g;
        else dh[n] = g;
        if (db) db[n] += g;
    }
}

/* dLoss/dh = dLoss/do * do/dh over B rows, by the table's df.
 * add: dh += g, else dh = g; with db, also db += g in the same pass (the
 * fused layer's bias gradient). */

static void SFX(act_grad)(REAL *dh, REAL *db, const REAL *dout, const REAL *h,
                          const REAL *o, int B, int O, bp_act act, double alpha,
                          int add) {
    const REAL a = (REAL)alpha;
    /* One loop per case of add and db, so that none tests them per value
     * and each can be vectorised over n. */
#define ROWS(STORE)                   \
    for (int s = 0; s < B; s++) {     \
        size_t r = (size_t)s * O;     \
        for (int n = 0; n < O; n++) { \
            size_t k = r + n;         \
            STORE;                    \
        }                             \
    }
#define EACH(G)                                               \
    if (add && db) ROWS(REAL g = (G); dh[k] += g; db[n] += g) \
    else if (add) ROWS(dh[k] += (G))                          \
    else if (db) ROWS(REAL g = (G); dh[k] = g; db[n] += g)    \
    else ROWS(dh[k] = (G))
#define CASE(N, name, f, df)                           \
    case BP_ACT_##N:                                   \
        EACH(SFX(act_df_##N)(dout[k], h[k], o[k], a)); \
        break;
#define ROW_CASE(N, name, f, df)                          \
    case BP_ACT_##N:                                      \
        for (int s = 0; s < B; s++) {                     \
            size_t r = (size_t)s * O;                     \
            SFX(df)(dh + r, db, dout + r, o + r, O, add); \
        }                                                 \
        break;
    switch (act) {
        BP_ACT_TABLE(CASE, ROW_CASE)
        default: break;
    }
#undef CASE
#undef ROW_CASE
#undef EACH
#undef ROWS
}

void SFX(bp_act_backward)(REAL *dh, const REAL *dout, const REAL *h, const REAL *o, int B,
                          int O, bp_act act, double alpha) {
    SFX(act_grad)(dh, NULL, dout, h, o, B, O, act, alpha, 1);
}

/* ------------------------------------------------------------------------ */
/* The fused layer (see bp_ops.h)                                            */

/* f(v) and df for one value of an elementwise activation, for the
 * one-sample loops below. */
static REAL SFX(act_one)(REAL v, bp_act act, REAL a) {
#define NO_CASE(N, name, f, df)
#define CASE(N, name, f, df) \
    case BP_ACT_##N: return SFX(act_f_##N)(v, a);
    switch (act) {
        BP_ACT_TABLE(CASE, NO_CASE)
        default: return v;
    }
#undef CASE
}

static REAL SFX(act_df_one)(REAL d, REAL h, REAL o, bp_act act, REAL a) {
#define CASE(N, name, f, df) \
    case BP_ACT_##N: return SFX(act_df_##N)(d, h, o, a);
    switch (act) {
        BP_ACT_TABLE(CASE, NO_CASE)
        default: return d;
    }
#undef CASE
#undef NO_CASE
}

void SFX(bp_layer_forward)(REAL *h, REAL *o, const REAL *x, const REAL *W, const REAL *b,
                           int B, int I, int O, bp_act act, double alpha) {
    if ((long)B * I * O >= BLAS_MIN_WORK) {
        /* beta 0: the product overwrites h, and the bias joins the
         * activation's pass instead of a pass of its own. */
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, O, I, 1, x, I, W, I, 0, h, O);
        SFX(bias_act)(o, h, b, B, O, act, alpha);
        return;
    }
    if (B == 1 && act != BP_ACT_SOFTMAX) {
        /* One sample through a small layer (the lecture's case): each neuron
         * in one go, with no pass of its own for the activation. */
        for (int n = 0; n < O; n++) {
            const REAL *wn = W + (size_t)n * I;
            REAL acc = b[n];
            for (int i = 0; i < I; i++) acc += wn[i] * x[i];
            h[n] = acc;
            o[n] = SFX(act_one)(acc, act, (REAL)alpha);
        }
        return;
    }
    SFX(bp_dense_forward)(h, x, W, b, B, I, O); /* the plain loops, below BLAS */
    SFX(bias_act)(o, h, NULL, B, O, act, alpha);
}

/* w -= lr * dLoss/dw over N values (see bp_sgd_step). */
SGD_CLONES
void SFX(bp_sgd_update)(REAL *w, const REAL *dw, size_t N, double lr) {
    for (size_t k = 0; k < N; k++) w[k] = (REAL)bp_sgd_step(w[k], dw[k], lr);
}

/* One sample back through a small layer, and its update: everything about
 * neuron n (its dh, its row of dW, its share of dx, its step) in one go. The
 * sums and products are the general loops', in the same order. */
static void SFX(backward_one)(REAL *restrict dx, REAL *restrict dW, REAL *restrict db,
                              REAL *restrict dh, const REAL *restrict dout,
                              const REAL *restrict h, const REAL *restrict o,
                              const REAL *restrict x, REAL *restrict W, REAL *restrict b,
                              int I, int O, bp_act act, REAL a, int acc, double lr) {
    for (int n = 0; n < O; n++) {
        const REAL g = SFX(act_df_one)(dout[n], h[n], o[n], act, a);
        dh[n] = g;
        db[n] = acc ? db[n] + g : g;
        REAL *wn = W + (size_t)n * I, *dwn = dW + (size_t)n * I;
        for (int i = 0; i < I; i++) {
            dwn[i] = acc ? dwn[i] + g * x[i] : g * x[i];
            if (dx) dx[i] = n ? dx[i] + g * wn[i] : g * wn[i];
            if (lr >= 0) wn[i] = (REAL)bp_sgd_step(wn[i], dwn[i], lr);
        }
        if (lr >= 0) b[n] = (REAL)bp_sgd_step(b[n], db[n], lr);
    }
}

/* The two halves of a layer's backward that a team of threads splits
 * (bp_net.h's threads): S = a member's rows of the batch, n0 .. n1-1 its
 * neurons. The first half needs the member's own rows only; the second
 * sums over every row of dh, so the team meets between them. */

/* Rows: dh = dLoss/dh from dout, and dx = dh W (with the weights before the
 * step; NULL: skipped), both overwritten, over S rows. */
void SFX(bp_layer_backward_rows)(REAL *dx, REAL *dh, const REAL *dout, const REAL *h,
                                 const REAL *o, const REAL *W, int S, int I, int O,
                                 bp_act act, double alpha) {
    SFX(act_grad)(dh, NULL, dout, h, o, S, O, act, alpha, 0);
    if (!dx) return;
    if ((long)S * I * O >= BLAS_MIN_WORK) {
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, I, O, 1, dh, O, W, I, 0, dx,
             I);
        return;
    }
    for (int s = 0; s < S; s++) {
        const REAL *dhs = dh + (size_t)s * O;
        REAL *dxs = dx + (size_t)s * I;
        for (int n = 0; n < O; n++) {
            const REAL g = dhs[n], *wn = W + (size_t)n * I;
            if (n == 0)
                for (int i = 0; i < I; i++) dxs[i] = g * wn[i];
            else
                for (int i = 0; i < I; i++) dxs[i] += g * wn[i];
        }
    }
}

/* Neurons n0 .. n1-1: their rows of dW = dh^T x and their db = the sums of
 * their columns of dh, over all B rows, overwritten; then, if lr >= 0, their
 * step. No other neuron's weights are read, so members can step their own
 * while the others still compute. */
void SFX(bp_layer_backward_cols)(REAL *dW, REAL *db, REAL *W, REAL *b, const REAL *dh,
                                 const REAL *x, int B, int I, int O, int n0, int n1,
                                 double lr) {
    const int N = n1 - n0;
    if (N < 1) return;
    for (int n = n0; n < n1; n++) db[n] = 0;
    for (int s = 0; s < B; s++) {
        const REAL *dhs = dh + (size_t)s * O;
        for (int n = n0; n < n1; n++) db[n] += dhs[n];
    }
    if ((long)B * I * N >= BLAS_MIN_WORK) {
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, N, I, B, 1, dh + n0, O, x, I, 0,
             dW + (size_t)n0 * I, I);
    } else {
        for (int s = 0; s < B; s++) {
            const REAL *xs = x + (size_t)s * I, *dhs = dh + (size_t)s * O;
            for (int n = n0; n < n1; n++) {
                const REAL g = dhs[n];
                REAL *dwn = dW + (size_t)n * I;
                if (s == 0)
                    for (int i = 0; i < I; i++) dwn[i] = g * xs[i];
                else
                    for (int i = 0; i < I; i++) dwn[i] += g * xs[i];
            }
        }
    }
    if (lr >= 0) {
        SFX(bp_sgd_update)(W + (size_t)n0 * I, dW + (size_t)n0 * I, (size_t)N * I, lr);
        SFX(bp_sgd_update)(b + n0, db + n0, (size_t)N, lr);
    }
}

void SFX(bp_layer_backward)(REAL *dx, REAL *dW, REAL *db, REAL *dh, const REAL *dout,
                            const REAL *h, const REAL *o, const REAL *x, REAL *W, REAL *b,
                            int B, int I, int O, bp_act act, double alpha, int acc,
                            double lr) {
    int blas = (long)B * I * O >= BLAS_MIN_WORK;
    if (B == 1 && !blas && act != BP_ACT_SOFTMAX) {
        SFX(backward_one)
        (dx, dW, db, dh, dout, h, o, x, W, b, I, O, act, (REAL)alpha, acc, lr);
        return;
    }
    if (blas && !acc) {
        /* dx before the step, which the halves' order gives. */
        SFX(bp_layer_backward_rows)(dx, dh, dout, h, o, W, B, I, O, act, alpha);
        SFX(bp_layer_backward_cols)(dW, db, W, b, dh, x, B, I, O, 0, O, lr);
        return;
    }
    if (!acc) memset(db, 0, sizeof(REAL) * (size_t)O);
    SFX(act_grad)(dh, db, dout, h, o, B, O, act, alpha, 0);
    if (blas) {
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, B, 1, dh, O, x, I, 1, dW, I);
        if (dx)
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, I, O, 1, dh, O, W, I, 0,
                 dx, I);
    } else {
        /* The first term of each sum is stored rather than added to a zero,
         * so no buffer needs clearing first. */
        for (int s = 0; s < B; s++) {
            const REAL *xs = x + (size_t)s * I;
            const REAL *dhs = dh + (size_t)s * O;
            REAL *dxs = dx ? dx + (size_t)s * I : NULL;
            const int store = s == 0 && !acc;
            for (int n = 0; n < O; n++) {
                const REAL g = dhs[n];
                REAL *dwn = dW + (size_t)n * I;
                const REAL *wn = W + (size_t)n * I;
                if (store)
                    for (int i = 0; i < I; i++) dwn[i] = g * xs[i];
                else
                    for (int i = 0; i < I; i++) dwn[i] += g * xs[i];
                if (!dxs) continue;
                if (n == 0)
                    for (int i = 0; i < I; i++) dxs[i] = g * wn[i];
                else
                    for (int i = 0; i < I; i++) dxs[i] += g * wn[i];
            }
        }
    }
    if (lr >= 0) {
        SFX(bp_sgd_update)(W, dW, (size_t)O * I, lr);
        SFX(bp_sgd_update)(b, db, (size_t)O, lr);
    }
}

/* ------------------------------------------------------------------------ */
/* Losses: the mean over the batch of each sample's loss, summed in double   */

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

/* Its dLoss/dz for a mean over B rows, added into ds:
 * (softmax(z)_n sum_k y_k - y_n) / B, the softmax fused in and stable for
 * any size of logit. */
static void SFX(softmax_ce_grad_row)(REAL *ds, const REAL *z, const REAL *y, int B,
                                     int O) {
    REAL lse = SFX(logsumexp)(z, O), ysum = 0;
    for (int n = 0; n < O; n++) ysum += y[n];
    for (int n = 0; n < O; n++) ds[n] += (EXP(z[n] - lse) * ysum - y[n]) / B;
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
    switch (loss) {
        BP_LOSS_TABLE(CASE, ROW_CASE)
        default: return l;
    }
#undef CASE
#undef ROW_CASE
}

double SFX(bp_loss_forward)(const REAL *out, const REAL *y, int B, int O, bp_loss loss) {
    double total = 0.0;
    for (int s = 0; s < B; s++)
        total += SFX(loss_of_row)(out + (size_t)s * O, y + (size_t)s * O, O, loss);
    return total / B;
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
    switch (loss) {
        BP_LOSS_TABLE(CASE, ROW_CASE)
        default: break;
    }
#undef CASE
#undef ROW_CASE
}

void SFX(bp_loss_backward)(REAL *dout, const REAL *out, const REAL *y, int B, int O,
                           bp_loss loss) {
    for (int s = 0; s < B; s++) SFX(grad_of_row)
    (dout + (size_t)s * O, out + (size_t)s * O, y + (size_t)s * O, B, O, loss);
}

/* One row's loss returned and its dLoss/dout stored into ds, for a mean
 * over B rows: an elementwise loss in one pass over the row, each output's
 * p, term and gradient together; softmax_ce's two functions on a cleared
 * row. */
static double SFX(loss_grad_row)(REAL *ds, const REAL *os, const REAL *ys, int B, int O,
                                 bp_loss loss) {
    double l = 0.0;
#define ROW_CASE(N, name, loss_row, grad_row)    \
    case BP_LOSS_##N:                            \
        memset(ds, 0, sizeof(REAL) * (size_t)O); \
        SFX(grad_row)(ds, os, ys, B, O);         \
        return SFX(loss_row)(os, ys, O);
#define CASE(N, name, p_of_out, term, grad, div)        \
    case BP_LOSS_##N:                                   \
        for (int n = 0; n < O; n++) {                   \
            const REAL p = SFX(loss_p_##N)(os[n]);      \
            l += SFX(loss_term_##N)(ys[n], p);          \
            ds[n] = SFX(loss_grad_##N)(ys[n], p, B, O); \
        }                                               \
        return SFX(loss_div_##N)(l, O);
    switch (loss) {
        BP_LOSS_TABLE(CASE, ROW_CASE)
        default: return l;
    }
#undef CASE
#undef ROW_CASE
}

/* The loss and its gradient (see bp_ops.h): each row in one pass. */
double SFX(bp_loss_grad)(REAL *dout, const REAL *out, const REAL *y, int B, int O,
                         bp_loss loss) {
    double total = 0.0;
    for (int s = 0; s < B; s++)
        total += SFX(loss_grad_row)(dout + (size_t)s * O, out + (size_t)s * O,
                                    y + (size_t)s * O, B, O, loss);
    return total / B;
}

void SFX(bp_loss_grad_rows)(REAL *dout, double *row_loss, const REAL *out, const REAL *y,
                            int S, int B, int O, bp_loss loss) {
    for (int s = 0; s < S; s++)
        row_loss[s] = SFX(loss_grad_row)(dout + (size_t)s * O, out + (size_t)s * O,
                                         y + (size_t)s * O, B, O, loss);
}
