/* net_real.h: the four stages over a whole network, for one number type.
 *
 * Included only by net.c, twice: with REAL double, SFX(name) as name and
 * F(field) as the layer's double arrays (W, h, ...); then with REAL float,
 * _f32 names and the float arrays (W32, h32, ...). Everything that checks
 * arguments or allocates is in net.c: these run once the sizes are known to
 * be right and the buffers to be there.
 *
 * Dimensions: B = batch, I = inputs of a layer, O = outputs of a layer. */

/* Every layer's h and o from the input already in the net's x. */
static void SFX(forward_layers)(bp_net *net, int B) {
    const REAL *in = net->F(x);
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        SFX(bp_layer_forward)
        (L->F(h), L->F(o), in, L->F(W), L->F(b), B, L->I, L->O, L->act, L->alpha);
        in = L->F(o);
    }
}

/* w -= lr * dLoss/dw over one layer (bp_sgd_update). */
static void SFX(sgd_layer)(bp_layer *L, double lr) {
    SFX(bp_sgd_update)(L->F(W), L->F(dW), (size_t)L->O * L->I, lr);
    SFX(bp_sgd_update)(L->F(b), L->F(db), (size_t)L->O, lr);
}

/* Backpropagation from the top layer's dout, which the caller has filled.
 * acc: add into dW and db rather than overwrite them. lr >= 0: gradient
 * descent on each layer as soon as its gradients are known (the layers below
 * need its dout, computed with the weights before the step, and never its
 * weights), which saves a second pass over every layer; lr < 0: no update. */
static void SFX(backward_layers)(bp_net *net, int acc, double lr) {
    int B = net->B;
    for (int l = net->n_layers - 1; l >= 0; l--) {
        bp_layer *L = &net->layers[l];
        const REAL *in = l > 0 ? net->layers[l - 1].F(o) : net->F(x);
        REAL *din = l > 0 ? net->layers[l - 1].F(dout) : NULL;
        SFX(bp_layer_backward)
        (din, L->F(dW), L->F(db), L->F(dh), L->F(dout), L->F(h), L->F(o), in, L->F(W),
         L->F(b), B, L->I, L->O, L->act, L->alpha, acc, lr);
    }
}

/* The loss of the last forward against y (B x outputs) into *loss_out when
 * it is not NULL, and its gradient into the top layer's dout. */
static void SFX(loss_grad)(bp_net *net, const REAL *y, bp_loss loss, double *loss_out) {
    bp_layer *top = &net->layers[net->n_layers - 1];
    double l = SFX(bp_loss_grad)(top->F(dout), top->F(o), y, net->B, top->O, loss);
    if (loss_out) *loss_out = l;
}

/* ------------------------------------------------------------------------ */
/* A step split between the net's team of threads (take_team in net.c)       */

/* Member t of T: rows r0 .. r1-1 of the batch and neurons n0 .. n1-1 of
 * each layer. The forward and each layer's backward_rows touch the member's
 * own rows only, so the team meets once per layer, between backward_rows
 * (which every row of dh must have passed) and backward_cols, whose sums run
 * over all rows. A member steps its own neurons' weights as soon as it has
 * their gradients: no member reads them after that meeting, since dx, the
 * only use of the weights in backward, is computed before it. The loss is
 * summed by every member alike from the rows' losses, in row order (the
 * single thread's sum), so that all decide the same about a step that
 * diverged. */
static void SFX(team_member)(void *arg, int t, int T) {
    team_job *j = arg;
    bp_net *net = j->net;
    bp_layer *Ls = net->layers;
    const int B = j->B, r0 = (int)((long)B * t / T), r1 = (int)((long)B * (t + 1) / T);
    const int S = r1 - r0, top = net->n_layers - 1, K = Ls[top].O;
    REAL *x = net->F(x);
    const int D = net->inputs;
    const size_t zx = bp_dtype_size(j->xt);
    for (int s = r0; s < r1; s++)
        take_in(x + (size_t)s * D, net->dtype,
                (const char *)j->x + zx * D * (size_t)(j->rows ? j->rows[s] : s), j->xt,
                (size_t)D);
    const REAL *in = x;
    for (int l = 0; l <= top; l++) {
        bp_layer *L = &Ls[l];
        const size_t at = (size_t)r0 * L->O;
        SFX(bp_layer_forward)
        (L->F(h) + at, L->F(o) + at, in + (size_t)r0 * L->I, L->F(W), L->F(b), S, L->I,
         L->O, L->act, L->alpha);
        in = L->F(o);
    }
    const REAL *y = j->y;
    SFX(bp_loss_grad_rows)
    (Ls[top].F(dout) + (size_t)r0 * K, net->row_loss + r0, Ls[top].F(o) + (size_t)r0 * K,
     y + (size_t)r0 * K, S, B, K, j->kind);
    double lr = j->lr;
    for (int l = top; l >= 0; l--) {
        bp_layer *L = &Ls[l];
        const int I = L->I, O = L->O;
        const size_t at = (size_t)r0 * O;
        REAL *din = l > 0 ? Ls[l - 1].F(dout) + (size_t)r0 * I : NULL;
        SFX(bp_layer_backward_rows)
        (din, L->F(dh) + at, L->F(dout) + at, L->F(h) + at, L->F(o) + at, L->F(W), S, I,
         O, L->act, L->alpha);
        bp_team_sync(net->team);
        if (l == top) {
            double total = 0.0;
            for (int s = 0; s < B; s++) total += net->row_loss[s];
            total /= B;
            if (t == 0) j->loss = total;
            if (j->guard && !isfinite(total)) lr = -1;
        }
        SFX(bp_layer_backward_cols)
        (L->F(dW), L->F(db), L->F(W), L->F(b), L->F(dh), l > 0 ? Ls[l - 1].F(o) : x, B, I,
         O, (int)((long)O * t / T), (int)((long)O * (t + 1) / T), lr);
    }
}

/* ------------------------------------------------------------------------ */
/* The single-sample path (bp_net_set_fast)                                  */

/* One sample through a net of small layers, the whole step in one function.
 * Its arithmetic is the general path's, operation for operation (the
 * one-sample loops of bp_layer_forward and backward_one in ops_real.h, and
 * bp_loss_grad's sums with B = 1), which is what makes its results the same
 * to the last bit; test_net.c holds the two paths to that. What it leaves
 * out is what the profile of the lecture's 2-3-1 showed to cost at this
 * size: checks and conversions on every call, a kernel call of 17 arguments
 * per layer, tests inside every loop (accumulate? update? a dx?), a switch
 * per neuron for the activation and per sample for the loss, loops of two
 * or three turns that the compiler vectorises at a loss, and values stored
 * by one pass to be loaded by the next (each such trip through memory
 * lengthens the chain of dependent operations a step is). Here each switch
 * is taken once per layer (as a few compares, not a jump through a
 * table), each neuron is finished while its values are in registers, and
 * GCC does not vectorise. (Loops of constant length for
 * layers of 1 to 4 inputs, which the compiler unrolls, took 20% fewer
 * instructions and no less time: the step is a chain of dependent
 * operations, and latency, not throughput, sets its time.) */
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
static void SFX(forward_one)(bp_layer *L, const REAL *restrict in) {
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
static void SFX(backward_one_fast)(bp_layer *L, const REAL *restrict in,
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
static double SFX(top_one)(bp_layer *L, const REAL *restrict in, REAL *restrict din,
                           const REAL *restrict y, int half, double lr) {
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
            l += SFX(loss_term_HALF_SE)(y[n], p);                           \
            d = SFX(loss_grad_HALF_SE)(y[n], p, 1, O);                      \
        } else {                                                            \
            const REAL p = SFX(loss_p_MSE)(on);                             \
            l += SFX(loss_term_MSE)(y[n], p);                               \
            d = SFX(loss_grad_MSE)(y[n], p, 1, O);                          \
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

/* The step on the sample in the net's x and the targets y; returns the
 * loss. lr < 0: no update (bp_net_compute_grads). The squared errors fuse
 * the top layer with the loss; bce and softmax_ce are bp_loss_grad between
 * the top layer's forward and backward, as in the general path. */
static double SFX(step_one)(bp_net *net, const REAL *y, bp_loss loss, double lr) {
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
        v = SFX(bp_loss_grad)(Ls[top].F(dout), Ls[top].F(o), y, 1, Ls[top].O, loss);
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
