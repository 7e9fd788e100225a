/* ops_fast.h: the fast paths of the kernels, each held to a reference.
 *
 * The reference kernels (ops_ref.h) compute each op on its own, in plain
 * loops, adding into gradients the caller has zeroed. A training step is
 * faster when the big products go to OpenBLAS, when a layer and its
 * activation share their passes over the B x O values, when gradients are
 * overwritten instead of zeroed and added to, and when the step of a
 * layer's weights follows its gradients at once. Those are the paths here.
 * Each section's comment names the reference it must equal and the test
 * that holds it to that: to the last bit where the sums are the same sums
 * in the same order (every plain-loop path), to OpenBLAS's rounding where a
 * product goes to BLAS. The formulas themselves are the tables' (bp_ops.h),
 * never written here.
 *
 * A template, compiled twice by ops.c after ops_ref.h (real.h: double, then
 * float); not to be included anywhere else. */

/* ------------------------------------------------------------------------ */
/* Dense layer on OpenBLAS                                                   */
/*                                                                           */
/* B = rows of the batch, I = inputs, O = outputs; as in ops_ref.h.          */
/* Reference: dense_forward_ref and dense_backward_ref (ops_ref.h), which    */
/* these are below BLAS_MIN_WORK multiply-adds, where a BLAS call costs more */
/* than the arithmetic. Pinned by test_ops.c test_dense_reference (both      */
/* sides of the threshold against naive loops) and test_gradients.           */

void SFX(bp_dense_forward)(REAL *h, const REAL *x, const REAL *W, const REAL *b, int B,
                           int I, int O) {
    if ((long)B * I * O < BLAS_MIN_WORK) {
        SFX(dense_forward_ref)(h, x, W, b, B, I, O);
        return;
    }
#if BP_REAL_F32
    /* float: the bias as a oneDNN matmul's (bp_sgemm_bias), same test */
    if (!bp_sgemm_bias(h, x, W, b, B, O, I)) return;
#endif
    for (int s = 0; s < B; s++) memcpy(h + (size_t)s * O, b, sizeof(REAL) * (size_t)O);
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, O, I, 1, x, I, W, I, 1, h, O);
}

/* add 0: dx overwritten (beta 0), what the reference adds to zeros (a
 * graph's first writer of its input's gradient: graph.c's mark_writers;
 * pinned by test_ops.c test_dense_reference too). The path (plain loops
 * or BLAS) is the one for `whole` rows, B of them here: a block of a
 * batch then gives the whole batch's bits (bp_dense_backward_block). */
static void SFX(dense_backward_rows)(REAL *dx, REAL *dW, REAL *db, const REAL *dh,
                                     const REAL *x, const REAL *W, int B, int I, int O,
                                     int add, int whole) {
    if ((long)whole * I * O < BLAS_MIN_WORK) {
        if (dx && !add) memset(dx, 0, sizeof(REAL) * (size_t)B * I);
        SFX(dense_backward_ref)(dx, dW, db, dh, x, W, B, I, O);
        return;
    }
    SFX(bias_backward_ref)(db, dh, B, O);
    if (dW)
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, B, 1, dh, O, x, I, 1, dW, I);
    if (dx)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, I, O, 1, dh, O, W, I, add != 0,
             dx, I);
}

void SFX(bp_dense_backward_to)(REAL *dx, REAL *dW, REAL *db, const REAL *dh, const REAL *x,
                               const REAL *W, int B, int I, int O, int add) {
    SFX(dense_backward_rows)(dx, dW, db, dh, x, W, B, I, O, add, B);
}

/* db and dx of a block of B rows by whole's path (bp_ops.h; graph_real.h's
 * linear with its GELU), pinned by test_graph.c test_linear_gelu_fused. */
void SFX(bp_dense_backward_block)(REAL *dx, REAL *db, const REAL *dh, const REAL *x,
                                  const REAL *W, int B, int I, int O, int add, int whole) {
    SFX(dense_backward_rows)(dx, NULL, db, dh, x, W, B, I, O, add, whole);
}

void SFX(bp_dense_backward)(REAL *dx, REAL *dW, REAL *db, const REAL *dh, const REAL *x,
                            const REAL *W, int B, int I, int O) {
    SFX(bp_dense_backward_to)(dx, dW, db, dh, x, W, B, I, O, 1);
}

/* ------------------------------------------------------------------------ */
/* The fused layer: dense product and activation, gradients and step         */
/*                                                                           */
/* B = rows, I = inputs, O = outputs, as above. x is B x I; h, o, dout, dh   */
/* are B x O; W and dW are O x I; b and db have O.                           */
/* Reference: bp_layer_forward is bp_dense_forward then bp_act_forward;      */
/* bp_layer_backward is bp_act_backward, then bp_dense_backward into zeroed  */
/* (acc 0) or accumulated (acc 1) gradients, then bp_sgd_update on W and b.  */
/* Pinned by test_net.c test_fused_kernels (every activation, both sides of  */
/* BLAS_MIN_WORK) and test_fused_step_is_stages.                             */

/* o = f(h) over B rows; with b, first h += b in the same pass (the bias of
 * a product that BLAS made with beta 0), so each value is read and written
 * once. EACH(F) is that pass, F an expression of v, the value of h. Built
 * for AVX-512 and AVX2 too (SGD_CLONES, ops.c), as act_grad and
 * dense_cols' bias sums: the default target's vectors are four floats;
 * the same operations on each value in every clone, so the same bits
 * (test_ops.c test_act_pass_clones). */
SGD_CLONES
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
#define ROW_CASE(N, name, f, df) \
    case BP_ACT_##N:             \
        if (b) EACH(v);          \
        SFX(f)(o, h, B, O);      \
        break;
    ACT_SWITCH(act, CASE, ROW_CASE)
#undef CASE
#undef ROW_CASE
#undef EACH
}

/* dh = dLoss/dh over B rows, overwritten; with db, also db += dh in the same
 * pass (the bias gradient). One loop for each case of db, so that none
 * tests it per value and each can be vectorised over n. */
SGD_CLONES
static void SFX(act_grad)(REAL *dh, REAL *db, const REAL *dout, const REAL *h,
                          const REAL *o, int B, int O, bp_act act, double alpha) {
    const REAL a = (REAL)alpha;
#define ROWS(STORE)                   \
    for (int s = 0; s < B; s++) {     \
        size_t r = (size_t)s * O;     \
        for (int n = 0; n < O; n++) { \
            size_t k = r + n;         \
            STORE;                    \
        }                             \
    }
#define EACH(G)                                       \
    if (db) ROWS(REAL g = (G); dh[k] = g; db[n] += g) \
    else ROWS(dh[k] = (G))
#define CASE(N, name, f, df)                           \
    case BP_ACT_##N:                                   \
        EACH(SFX(act_df_##N)(dout[k], h[k], o[k], a)); \
        break;
#define ROW_CASE(N, name, f, df) \
    case BP_ACT_##N: SFX(df)(dh, db, dout, o, B, O, 0); break;
    ACT_SWITCH(act, CASE, ROW_CASE)
#undef CASE
#undef ROW_CASE
#undef EACH
#undef ROWS
}

/* f(v) and df for one value of an elementwise activation, for the
 * one-sample loops below (which never take a row: bp_act_is_row). */
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
    if (B == 1 && !bp_act_is_row(act)) {
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
    SFX(dense_forward_ref)(h, x, W, b, B, I, O);
    SFX(bias_act)(o, h, NULL, B, O, act, alpha);
}

/* Neurons n0 .. n1-1 of bp_layer_forward over all B rows: their columns of h
 * and o (rows of O values), the other columns untouched. A team's member
 * makes its own neurons' values of a whole batch so that it reads no
 * weights but those it steps itself (net_team_real.h). Elementwise
 * activations only: a row activation needs the whole row. The reference's
 * path is chosen by the whole layer's size, as bp_layer_forward chooses
 * it; on the plain loops the same sums in the same order (the bits), on
 * BLAS the product of a block of W's rows (its rounding). Pinned by
 * test_ops.c test_split_forward. */
void SFX(bp_layer_forward_cols)(REAL *h, REAL *o, const REAL *x, const REAL *W,
                                const REAL *b, int B, int I, int O, int n0, int n1,
                                bp_act act, double alpha) {
    const int N = n1 - n0;
    if (N < 1) return;
    if ((long)B * I * O >= BLAS_MIN_WORK) {
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, I, 1, x, I,
             W + (size_t)n0 * I, I, 0, h + n0, O);
        for (int s = 0; s < B; s++)
            SFX(bias_act)
            (o + (size_t)s * O + n0, h + (size_t)s * O + n0, b + n0, 1, N, act, alpha);
        return;
    }
    for (int s = 0; s < B; s++) {
        const REAL *xs = x + (size_t)s * I;
        REAL *hs = h + (size_t)s * O;
        for (int n = n0; n < n1; n++) {
            const REAL *wn = W + (size_t)n * I;
            REAL acc = b[n];
            for (int i = 0; i < I; i++) acc += wn[i] * xs[i];
            hs[n] = acc;
        }
        SFX(bias_act)(o + (size_t)s * O + n0, hs + n0, NULL, 1, N, act, alpha);
    }
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

/* dense_backward_ref's dW and dx sums over B rows, with the first term of
 * each stored rather than added to a zero, so that no buffer needs clearing
 * first: dW = dh^T x (acc: dW += it), dx = dh W (NULL: skipped). */
static void SFX(dense_backward_store)(REAL *dx, REAL *dW, const REAL *dh, const REAL *x,
                                      const REAL *W, int B, int I, int O, int acc) {
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

void SFX(bp_layer_backward)(REAL *dx, REAL *dW, REAL *db, REAL *dh, const REAL *dout,
                            const REAL *h, const REAL *o, const REAL *x, REAL *W, REAL *b,
                            int B, int I, int O, bp_act act, double alpha, int acc,
                            double lr) {
    int blas = (long)B * I * O >= BLAS_MIN_WORK;
    if (B == 1 && !blas && !bp_act_is_row(act)) {
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
    SFX(act_grad)(dh, db, dout, h, o, B, O, act, alpha);
    if (blas) {
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, B, 1, dh, O, x, I, 1, dW, I);
        if (dx)
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, I, O, 1, dh, O, W, I, 0,
                 dx, I);
    } else {
        SFX(dense_backward_store)(dx, dW, dh, x, W, B, I, O, acc);
    }
    if (lr >= 0) {
        SFX(bp_sgd_update)(W, dW, (size_t)O * I, lr);
        SFX(bp_sgd_update)(b, db, (size_t)O, lr);
    }
}

/* ------------------------------------------------------------------------ */
/* The layer's backward split between a team of threads (bp_net.h)          */
/*                                                                           */
/* B = rows of the whole batch, S = a member's rows, I and O as above,       */
/* n0 .. n1-1 = a member's neurons, N = n1 - n0 of them.                     */
/* Reference: bp_layer_backward with acc 0 (which runs its BLAS-sized layers */
/* as backward_rows over all rows, then backward_cols over all neurons).     */
/* Pinned by test_ops.c test_split_backward (bit for bit on plain loops, to  */
/* BLAS's rounding of a product of fewer rows otherwise) and test_net.c      */
/* test_team_step.                                                           */

/* Rows: dh = dLoss/dh from dout, and dx = dh W (with the weights before the
 * step; NULL: skipped), both overwritten, over S rows. The first half of a
 * layer's backward: it needs the member's own rows only. */
void SFX(bp_layer_backward_rows)(REAL *dx, REAL *dh, const REAL *dout, const REAL *h,
                                 const REAL *o, const REAL *W, int S, int I, int O,
                                 bp_act act, double alpha) {
    SFX(act_grad)(dh, NULL, dout, h, o, S, O, act, alpha);
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

/* Neurons n0 .. n1-1 of dW = dh^T x and db = dh's column sums over all B
 * rows: overwritten (acc 0) or added to (acc 1); a NULL dW or db skipped. */
SGD_CLONES
static void SFX(dense_cols)(REAL *dW, REAL *db, const REAL *dh, const REAL *x, int B,
                            int I, int O, int n0, int n1, int acc) {
    const int N = n1 - n0;
    if (N < 1) return;
    for (int n = n0; db && !acc && n < n1; n++) db[n] = 0;
    for (int s = 0; db && s < B; s++) {
        const REAL *dhs = dh + (size_t)s * O;
        for (int n = n0; n < n1; n++) db[n] += dhs[n];
    }
    if (!dW) return;
    if ((long)B * I * N >= BLAS_MIN_WORK) {
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, N, I, B, 1, dh + n0, O, x, I, acc,
             dW + (size_t)n0 * I, I);
        return;
    }
    for (int s = 0; s < B; s++) {
        const REAL *xs = x + (size_t)s * I, *dhs = dh + (size_t)s * O;
        for (int n = n0; n < n1; n++) {
            const REAL g = dhs[n];
            REAL *dwn = dW + (size_t)n * I;
            if (s == 0 && !acc)
                for (int i = 0; i < I; i++) dwn[i] = g * xs[i];
            else
                for (int i = 0; i < I; i++) dwn[i] += g * xs[i];
        }
    }
}

void SFX(bp_dense_backward_cols)(REAL *dW, REAL *db, const REAL *dh, const REAL *x, int B,
                                 int I, int O, int n0, int n1) {
    SFX(dense_cols)(dW, db, dh, x, B, I, O, n0, n1, 1);
}

/* Neurons n0 .. n1-1: their rows of dW = dh^T x and their db = the sums of
 * their columns of dh, over all B rows, overwritten; then, if lr >= 0, their
 * step. The second half: it sums over every row of dh, so the team meets
 * before it. No other neuron's weights are read, so members can step their
 * own while the others still compute. */
void SFX(bp_layer_backward_cols)(REAL *dW, REAL *db, REAL *W, REAL *b, const REAL *dh,
                                 const REAL *x, int B, int I, int O, int n0, int n1,
                                 double lr) {
    const int N = n1 - n0;
    if (N < 1) return;
    SFX(dense_cols)(dW, db, dh, x, B, I, O, n0, n1, 0);
    if (lr >= 0) {
        SFX(bp_sgd_update)(W + (size_t)n0 * I, dW + (size_t)n0 * I, (size_t)N * I, lr);
        SFX(bp_sgd_update)(b + n0, db + n0, (size_t)N, lr);
    }
}

#if BP_REAL_F32
/* Neurons n0 .. n1-1 of a float32 layer's plain SGD step with dW never
 * stored: db and its step as backward_cols makes them, then W += (-lr)
 * dh^T x as one product into W (GEMM's beta 1). A fast path: reference
 * backward_cols with lr (dense_cols' product, then bp_sgd_update in
 * double); W rounds otherwise (-lr rounded to float, the product's sums
 * added to W in float), within test_fit.c test_fused_sgd's bound. Only for
 * a BLAS-sized part (the caller's test, B I (n1 - n0) >= BLAS_MIN_WORK),
 * so that bp_layer_dw's product is dense_cols' own. */
void SFX(bp_layer_backward_cols_sgd)(REAL *db, REAL *W, REAL *b, const REAL *dh,
                                     const REAL *x, int B, int I, int O, int n0, int n1,
                                     double lr) {
    const int N = n1 - n0;
    if (N < 1) return;
    SFX(dense_cols)(NULL, db, dh, x, B, I, O, n0, n1, 0);
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, N, I, B, (REAL)-lr, dh + n0, O, x, I, 1,
         W + (size_t)n0 * I, I);
    SFX(bp_sgd_update)(b + n0, db + n0, (size_t)N, lr);
}

/* Neurons n0 .. n1-1 of dW = dh^T x over all B rows, overwritten: the
 * product of backward_cols (the same call, so the same bits), for a dW
 * that bp_layer_backward_cols_sgd's step left unwritten. */
void SFX(bp_layer_dw)(REAL *dW, const REAL *dh, const REAL *x, int B, int I, int O, int n0,
                      int n1) {
    SFX(dense_cols)(dW, NULL, dh, x, B, I, O, n0, n1, 0);
}
#endif

/* ------------------------------------------------------------------------ */
/* The loss and its gradient together                                        */
/*                                                                           */
/* B = samples of the batch, S = a member's rows of it, O = outputs.         */
/* Reference: bp_loss_forward, and bp_loss_backward into zeros. Pinned by    */
/* test_net.c test_train_step_equals_stages and tests/lua/test_net.lua's     */
/* test_train_step_is_the_four_stages (a step against the four stages), for  */
/* the rows by test_ops.c test_split_backward, and softmax_ce's fused row by */
/* test_ops.c test_softmax_ce_grad_is_stages (to the bit).                   */

/* softmax_ce's row: softmax_ce_row's loss and softmax_ce_grad_row's
 * gradient on a cleared row (0 + each term: a -0 term stores +0, as the
 * reference's add into a zero does), their logsumexp, the same number in
 * both, computed once. */
static double SFX(softmax_ce_loss_grad_row)(REAL *ds, const REAL *z, const REAL *y, int c,
                                            int B, int O) {
    const REAL lse = SFX(logsumexp)(z, O);
    if (c >= 0) {
        for (int n = 0; n < O; n++)
            ds[n] = (REAL)0 + (EXP(z[n] - lse) - (REAL)(n == c)) / B;
        return (REAL)(lse - z[c]);
    }
    REAL ysum = 0;
    double l = 0.0;
    for (int n = 0; n < O; n++) ysum += y[n];
    for (int n = 0; n < O; n++) ds[n] = (REAL)0 + (EXP(z[n] - lse) * ysum - y[n]) / B;
    for (int n = 0; n < O; n++) l += y[n] * (lse - z[n]);
    return l;
}

/* One row's loss returned and its dLoss/dout stored into ds, for a mean
 * over B rows: an elementwise loss in one pass over the row, each output's
 * p, term and gradient together; softmax_ce's above, another row loss's two
 * functions on a cleared row. c: the row's class (0-based) or -1 (row_class, ops_ref.h); a
 * labelled row's loss is its class's term, its gradient the one-hot row's,
 * as the reference's. */
static double SFX(loss_grad_row)(REAL *ds, const REAL *os, const REAL *ys, int c, int B,
                                 int O, bp_loss loss, double a) {
    double l = 0.0;
    if (loss == BP_LOSS_SOFTMAX_CE)
        return SFX(softmax_ce_loss_grad_row)(ds, os, ys, c, B, O);
#define ROW_CASE(N, name, loss_row, grad_row, ...) \
    case BP_LOSS_##N:                              \
        memset(ds, 0, sizeof(REAL) * (size_t)O);   \
        SFX(grad_row)(ds, os, ys, c, B, O);        \
        return SFX(loss_row)(os, ys, c, O);
#define CASE(N, name, p_of_out, term, grad, div, ...)                                    \
    case BP_LOSS_##N:                                                                    \
        if (c >= 0) {                                                                    \
            for (int n = 0; n < O; n++)                                                  \
                ds[n] =                                                                  \
                    SFX(loss_grad_##N)((REAL)(n == c), SFX(loss_p_##N)(os[n]), B, O, a); \
            return SFX(loss_div_##N)(SFX(loss_term_##N)(1, SFX(loss_p_##N)(os[c]), a),   \
                                     O);                                                 \
        }                                                                                \
        for (int n = 0; n < O; n++) {                                                    \
            const REAL p = SFX(loss_p_##N)(os[n]);                                       \
            l += SFX(loss_term_##N)(ys[n], p, a);                                        \
            ds[n] = SFX(loss_grad_##N)(ys[n], p, B, O, a);                               \
        }                                                                                \
        return SFX(loss_div_##N)(l, O);
    LOSS_SWITCH(loss, CASE, ROW_CASE, return l)
#undef CASE
#undef ROW_CASE
}

double SFX(bp_loss_grad_crit)(REAL *dout, const REAL *out, const REAL *y, int B, int O,
                              bp_crit crit) {
    const int K = crit.labels ? 1 : O;
    const double a = bp_crit_param(&crit);
    double total = 0.0;
    for (int s = 0; s < B; s++)
        total += SFX(loss_grad_row)(dout + (size_t)s * O, out + (size_t)s * O,
                                    y + (size_t)s * K, SFX(row_class)(y, s, crit.labels),
                                    B, O, crit.loss, a);
    return total / B;
}

double SFX(bp_loss_grad)(REAL *dout, const REAL *out, const REAL *y, int B, int O,
                         bp_loss loss) {
    return SFX(bp_loss_grad_crit)(dout, out, y, B, O, bp_crit_of(loss));
}

void SFX(bp_loss_grad_rows_crit)(REAL *dout, double *row_loss, const REAL *out,
                                 const REAL *y, int S, int B, int O, bp_crit crit) {
    const int K = crit.labels ? 1 : O;
    const double a = bp_crit_param(&crit);
    for (int s = 0; s < S; s++)
        row_loss[s] = SFX(loss_grad_row)(
            dout + (size_t)s * O, out + (size_t)s * O, y + (size_t)s * K,
            SFX(row_class)(y, s, crit.labels), B, O, crit.loss, a);
}

void SFX(bp_loss_grad_rows)(REAL *dout, double *row_loss, const REAL *out, const REAL *y,
                            int S, int B, int O, bp_loss loss) {
    SFX(bp_loss_grad_rows_crit)(dout, row_loss, out, y, S, B, O, bp_crit_of(loss));
}

/* ------------------------------------------------------------------------ */
/* Dropout in blocks (float32)                                               */
/*                                                                           */
/* Reference: bp_dropout_forward_f32 and bp_dropout_backward_f32 (ops_ref.h),*/
/* bit for bit: the same draws in the same order (bp_rng_fill_uniform), the  */
/* same test u >= p, the same product x * scale and sum dx + dy * scale.     */
/* Pinned by test_ops.c test_dropout_fast_matches_ref (tails, p = 0 and 1,   */
/* -0.0, NaN and infinities; the generator's state after).                   */

#if BP_REAL_F32
/* A block's uniforms drawn into DROP_BLOCK doubles on the stack (2 KB),
 * then its mask and values 8 at a time by GCC's vector extension: the
 * test u >= p as a lane mask, y = the bits of x * scale and'ed with it
 * (x * scale where kept, +0.0 where not: the reference's values, NaN and
 * infinities included), the mask's bytes stored; no branch on the mask
 * (mispredicted a quarter of the time at W5's p = 0.25). The draws stay
 * serial (one stream); a tail of fewer than 8 goes value by value. */
#define DROP_BLOCK 256
typedef float drop_f8 __attribute__((vector_size(32)));
typedef int32_t drop_i8 __attribute__((vector_size(32)));
typedef int64_t drop_l8 __attribute__((vector_size(64)));
typedef double drop_d8 __attribute__((vector_size(64)));

/* mk: the lanes' masks of 8 bytes of keep (0 or 1): each byte shifted down from
 * its place in one of two 32-bit words, a vector shift (AVX2's vpsrlvd),
 * not a conversion of a vector of bytes, which GCC makes a byte at a time
 * (through the stack: store-forwarding stalls, a third of the backward's
 * time). */
static inline __attribute__((always_inline)) void drop_mask(drop_i8 *mk, const uint8_t *keep) {
    uint64_t u;
    memcpy(&u, keep, sizeof u);
    const int32_t lo = (int32_t)(uint32_t)u, hi = (int32_t)(uint32_t)(u >> 32);
    drop_i8 w = {lo, lo, lo, lo, hi, hi, hi, hi};
    *mk = ((w >> (drop_i8){0, 8, 16, 24, 0, 8, 16, 24}) & 0xff) != 0;
}

/* The m values of a block from its uniforms u: y and keep at k0. */
SGD_CLONES static void drop_block(float *y, uint8_t *keep, const float *x, const double *u,
                                  size_t m, double p, float scale) {
    size_t k = 0;
    for (; k + 8 <= m; k += 8) {
        drop_d8 d;
        drop_f8 v;
        memcpy(&d, u + k, sizeof d);
        memcpy(&v, x + k, sizeof v);
        drop_i8 mk = __builtin_convertvector((drop_l8)(d >= p), drop_i8); /* u >= p */
        v = (drop_f8)((drop_i8)(v * scale) & mk);
        memcpy(y + k, &v, sizeof v);
    }
    for (size_t j = 0; j < k; j++) keep[j] = u[j] >= p; /* bytes: GCC's vectorizer */
    for (; k < m; k++) {
        keep[k] = u[k] >= p;
        y[k] = keep[k] ? x[k] * scale : 0.0f;
    }
}

void bp_dropout_forward_fast_f32(float *y, uint8_t *keep, const float *x, size_t n, double p,
                                 bp_rng *r) {
    if (p <= 0 || p >= 1) {
        bp_dropout_forward_f32(y, keep, x, n, p, r);
        return;
    }
    const float scale = (float)(1.0 / (1.0 - p));
    double u[DROP_BLOCK];
    for (size_t k0 = 0; k0 < n; k0 += DROP_BLOCK) {
        size_t m = n - k0 < DROP_BLOCK ? n - k0 : DROP_BLOCK;
        bp_rng_fill_uniform(r, u, m);
        drop_block(y + k0, keep + k0, x + k0, u, m, p, scale);
    }
}

/* dx + dy * scale where kept, dx's own bits where dropped (dx + 0 would
 * turn -0.0 into +0.0): a select between the two by the mask's lanes. */
SGD_CLONES static void drop_back(float *dx, const float *dy, const uint8_t *keep, size_t n,
                                 float scale) {
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        drop_f8 d, g;
        memcpy(&d, dx + k, sizeof d);
        memcpy(&g, dy + k, sizeof g);
        drop_i8 mk;
        drop_mask(&mk, keep + k);
        drop_i8 s = (drop_i8)(d + g * scale), o = (drop_i8)d;
        d = (drop_f8)((s & mk) | (o & ~mk));
        memcpy(dx + k, &d, sizeof d);
    }
    for (; k < n; k++)
        if (keep[k]) dx[k] += dy[k] * scale;
}

void bp_dropout_backward_fast_f32(float *dx, const float *dy, const uint8_t *keep, size_t n,
                                  double p) {
    if (p <= 0 || p >= 1) {
        bp_dropout_backward_f32(dx, dy, keep, n, p);
        return;
    }
    drop_back(dx, dy, keep, n, (float)(1.0 / (1.0 - p)));
}
#undef DROP_BLOCK
#endif
