/* net_one_real.h: the single-sample path (bp_net_set_fast), one sample
 * through a net of small layers, the whole step in one function.
 *
 * A fast path. Reference: the general path of net_real.h with B = 1 (the
 * one-sample loops of bp_layer_forward and backward_one in ops_fast.h, and
 * bp_loss_grad's sums with B = 1), operation for operation, which is what
 * makes its results the same to the last bit. Pinned by test_net.c
 * test_fast_path (every activation, loss and dtype, against the general
 * path, step after step) and test_train_step_equals_stages, and by
 * tests/lua/test_net.lua's test_train_step_is_the_four_stages.
 *
 * Included only by net.c, once per number type (real.h).
 *
 * Dimensions: I = inputs of a layer, O = its outputs (neurons), n a neuron,
 * i an input; the batch is one sample. */

/* What the path leaves out is what costs most at this size (a profile is in
 * scripts/bench/NOTES.md): checks and conversions on every call, a kernel
 * call of 17 arguments per layer, tests inside every loop (accumulate?
 * update? a dx?), a switch per neuron for the activation and per sample for
 * the loss, loops of two or three turns that the compiler vectorises at a
 * loss, and values stored by one pass to be loaded by the next (each such
 * trip through memory lengthens the chain of dependent operations a step is).
 * Here each switch is taken once per layer (as a few compares, not a jump
 * through a table), each neuron is finished while its values are in
 * registers, and GCC does not vectorise. Fewer instructions alone would not
 * help (loops of constant length, unrolled, were tried:
 * scripts/bench/NOTES.md): the step is a chain of dependent operations, and
 * latency, not throughput, sets its time. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-tree-vectorize", "no-jump-tables")
#endif

/* The rows of the activation table without a case here: softmax, which
 * this path does not take. */
#define NO_CASE(N, name, f, df)

/* Layer L's h and o from its input row: each neuron's sum from its bias in
 * input order, then its activation, straight from the register (a pass of
 * its own would store h and load it back, which puts a trip through memory
 * on the step's critical path). DENSE(F) is that loop, F an expression of
 * v, the sum. */
BP_STEP_PATH static void SFX(forward_one)(bp_layer *L, const REAL *restrict in) {
    const int I = L->I, O = L->O;
    const REAL *restrict W = L->F(W), *restrict b = L->F(b);
    REAL *restrict h = L->F(h), *restrict o = L->F(o);
    const REAL a = (REAL)L->alpha;
#define DENSE(F)                                        \
    for (int n = 0; n < O; n++) {                       \
        const REAL *wn = W + (size_t)n * I;             \
        REAL v = b[n];                                  \
        for (int i = 0; i < I; i++) v += wn[i] * in[i]; \
        h[n] = v;                                       \
        o[n] = (F);                                     \
    }
#define CASE(N, name, f, df) \
    case BP_ACT_##N: DENSE(SFX(act_f_##N)(v, a)); break;
    switch (L->act) {
        BP_ACT_TABLE(CASE, NO_CASE)
        default: break; /* softmax: not on this path */
    }
#undef CASE
#undef DENSE
}

/* The rest of neuron n's backward once its dh, g, is known: its row of dW,
 * its share of din (the layer below's dout: stored by the first neuron,
 * added to by the others, with the weight before the step; NULL: none), and
 * its step when lr >= 0. backward_one's inner loop, for this one neuron. */
static inline void SFX(row_back)(REAL g, int n, int I, const REAL *restrict in,
                                 REAL *restrict din, REAL *restrict wn,
                                 REAL *restrict dwn, REAL *restrict bn, double lr) {
    if (din) {
        for (int i = 0; i < I; i++) {
            const REAL d = g * in[i], w = wn[i];
            dwn[i] = d;
            din[i] = n ? din[i] + g * w : g * w;
            if (lr >= 0) wn[i] = (REAL)bp_sgd_step(w, d, lr);
        }
    } else {
        for (int i = 0; i < I; i++) {
            const REAL d = g * in[i];
            dwn[i] = d;
            if (lr >= 0) wn[i] = (REAL)bp_sgd_step(wn[i], d, lr);
        }
    }
    if (lr >= 0) *bn = (REAL)bp_sgd_step(*bn, g, lr);
}

/* Layer L backwards from its dout (filled by the layer above, or the
 * loss): dh, db and dW overwritten; din, the layer below's dout, overwritten
 * (NULL for the first layer); then, if lr >= 0, the layer's step. Neuron by
 * neuron, each finished from its dh in the register. GRAD(G) is that loop,
 * G an expression of n, the neuron's dh. */
BP_STEP_PATH static void SFX(backward_one_fast)(bp_layer *L, const REAL *restrict in,
                                                REAL *restrict din, double lr) {
    const int I = L->I, O = L->O;
    const REAL *restrict dout = L->F(dout), *restrict h = L->F(h), *restrict o = L->F(o);
    REAL *restrict dh = L->F(dh), *restrict db = L->F(db), *restrict dW = L->F(dW),
                   *restrict W = L->F(W), *restrict b = L->F(b);
    const REAL a = (REAL)L->alpha;
#define GRAD(G)                                                               \
    for (int n = 0; n < O; n++) {                                             \
        const REAL g = (G);                                                   \
        dh[n] = g;                                                            \
        db[n] = g;                                                            \
        SFX(row_back)                                                         \
        (g, n, I, in, din, W + (size_t)n * I, dW + (size_t)n * I, b + n, lr); \
    }
#define CASE(N, name, f, df) \
    case BP_ACT_##N: GRAD(SFX(act_df_##N)(dout[n], h[n], o[n], a)); break;
    switch (L->act) {
        BP_ACT_TABLE(CASE, NO_CASE)
        default: break; /* softmax: not on this path */
    }
#undef CASE
#undef GRAD
}

/* The top layer under a squared error (half: half_se, else mse), its
 * forward, the loss and its backward in one pass: each neuron's o goes from
 * the register into its loss term and its dLoss/do (bp_loss_grad's sums for
 * B = 1), and that into its dh, without the trips through memory of o to
 * the loss and of dout back. Its update can follow at once: the neurons
 * after it read their own weights only. TOP(F, G) is that loop, F the
 * activation of v and G the dh of d = dLoss/do. Returns the loss. */
BP_STEP_PATH static double SFX(top_one)(bp_layer *L, const REAL *restrict in,
                                        REAL *restrict din, const REAL *restrict y,
                                        int half, double lr) {
    const int I = L->I, O = L->O;
    REAL *restrict h = L->F(h), *restrict o = L->F(o), *restrict dout = L->F(dout);
    REAL *restrict dh = L->F(dh), *restrict db = L->F(db), *restrict dW = L->F(dW),
                   *restrict W = L->F(W), *restrict b = L->F(b);
    const REAL a = (REAL)L->alpha;
    double l = 0.0;
#define TOP(F, G)                                                           \
    for (int n = 0; n < O; n++) {                                           \
        REAL *wn = W + (size_t)n * I;                                       \
        REAL v = b[n];                                                      \
        for (int i = 0; i < I; i++) v += wn[i] * in[i];                     \
        h[n] = v;                                                           \
        const REAL on = (F);                                                \
        o[n] = on;                                                          \
        REAL d;                                                             \
        if (half) {                                                         \
            const REAL p = SFX(loss_p_HALF_SE)(on);                         \
            l += SFX(loss_term_HALF_SE)(y[n], p, 0);                        \
            d = SFX(loss_grad_HALF_SE)(y[n], p, 1, O, 0);                   \
        } else {                                                            \
            const REAL p = SFX(loss_p_MSE)(on);                             \
            l += SFX(loss_term_MSE)(y[n], p, 0);                            \
            d = SFX(loss_grad_MSE)(y[n], p, 1, O, 0);                       \
        }                                                                   \
        dout[n] = d;                                                        \
        const REAL g = (G);                                                 \
        dh[n] = g;                                                          \
        db[n] = g;                                                          \
        SFX(row_back)(g, n, I, in, din, wn, dW + (size_t)n * I, b + n, lr); \
    }
#define CASE(N, name, f, df) \
    case BP_ACT_##N: TOP(SFX(act_f_##N)(v, a), SFX(act_df_##N)(d, v, on, a)); break;
    switch (L->act) {
        BP_ACT_TABLE(CASE, NO_CASE)
        default: break; /* softmax: not on this path */
    }
#undef CASE
#undef TOP
    return half ? SFX(loss_div_HALF_SE)(l, O) : SFX(loss_div_MSE)(l, O);
}

/* The step on the sample in the net's x and the targets y (its class, with
 * labels); returns the loss. lr < 0: no update (bp_net_compute_grads). The
 * squared errors fuse the top layer with the loss; the other losses are
 * bp_loss_grad_crit between the top layer's forward and backward, as in
 * the general path. */
BP_STEP_PATH static double SFX(step_one)(bp_net *net, const REAL *y, bp_crit crit,
                                         double lr) {
    const bp_loss loss = crit.loss;
    bp_layer *Ls = net->layers;
    const int top = net->n_layers - 1;
    const REAL *in = net->F(x);
    REAL *din = top ? Ls[top - 1].F(dout) : NULL;
    double v;
    for (int l = 0; l < top; l++) {
        SFX(forward_one)(&Ls[l], in);
        in = Ls[l].F(o);
    }
    if (loss == BP_LOSS_HALF_SE || loss == BP_LOSS_MSE) {
        v = SFX(top_one)(&Ls[top], in, din, y, loss == BP_LOSS_HALF_SE, lr);
    } else {
        SFX(forward_one)(&Ls[top], in);
        v = SFX(bp_loss_grad_crit)(Ls[top].F(dout), Ls[top].F(o), y, 1, Ls[top].O, crit);
        SFX(backward_one_fast)(&Ls[top], in, din, lr);
    }
    for (int l = top - 1; l > 0; l--)
        SFX(backward_one_fast)(&Ls[l], Ls[l - 1].F(o), Ls[l - 1].F(dout), lr);
    if (top) SFX(backward_one_fast)(&Ls[0], net->F(x), NULL, lr);
    return v;
}

#undef NO_CASE

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
