/* net_team_real.h: a mini-batch step split between the net's team of
 * threads (bp_net.h's Threads; take_team in net.c decides when).
 *
 * A fast path. Reference: the same step on one thread, the stages of
 * net_real.h (bp_net_step_rows, bp_net_train_step, bp_net_compute_grads
 * without a team). The same bits for the same team size; against one
 * thread, the library's rounding of products of fewer rows, or (the first
 * layer's forward by neurons) of fewer neurons. Pinned by test_net.c
 * test_team_step (and test_net_tsan, under ThreadSanitizer) and, for the
 * kernels' halves, test_ops.c test_split_backward and test_split_forward.
 *
 * Included only by net.c, after net_real.h, once per number type (real.h).
 *
 * Dimensions: B = rows of the batch, T = members, t = a member, S = its
 * rows r0 .. r1-1; per layer I = inputs, O = outputs, and n0 .. n1-1 the
 * member's neurons; D = the net's inputs, K = its outputs. */

/* Whether the first layer's forward goes by neurons (forward_cols over the
 * whole batch) rather than by rows: a layer of an elementwise activation
 * with at least as many neurons as the batch has rows, each member's part
 * a product. By rows, every member reads every neuron's weights, half of
 * them (T-1 of T) stepped by another member's core the step before, so
 * they cross between the cores' caches twice a step (read there, then
 * taken back to be written); by neurons, a member reads and steps its own
 * only, and what crosses is the other members' rows of the input, which
 * backward_cols reads anyway and then finds in the cache. That is fewer
 * bytes where O >= B; the price is two more meetings. scripts/bench/NOTES.md,
 * issue 24 (i24-w2d). */
static int SFX(forward_by_neurons)(const bp_net *net, int B, int T) {
    const bp_layer *L = &net->layers[0];
    return !bp_act_is_row(L->act) && L->O >= B &&
           (long)B * L->I * (L->O / T) >= BP_BLAS_MIN_WORK;
}

/* Member t of T: rows r0 .. r1-1 of the batch and neurons n0 .. n1-1 of
 * each layer. The forward and every layer's backward_rows touch the
 * member's own rows only (a layer's rows need the rows above it and the
 * weights before the step, never another member's rows), so the team meets
 * once a step, after the last backward_rows, before the backward_cols,
 * whose sums run over all rows: one meeting rather than one a layer, each a
 * wait for the slower member (scripts/bench/NOTES.md, issue 24). The first
 * layer's forward may go by neurons instead (forward_by_neurons), with a
 * meeting before it (every member's rows of the input taken) and one after
 * it (every neuron's values, which the next layer's rows read). A member
 * steps its own neurons' weights as soon as it has their gradients: no
 * member reads weights after that meeting, since dx, the only use of them
 * in backward, is computed before it. The loss is summed by every member
 * alike from the rows' losses, in row order (the single thread's sum), so
 * that all decide the same about a step that diverged. */
static void SFX(team_member)(void *arg, int t, int T) {
    team_job *j = arg;
    bp_net *net = j->net;
    bp_layer *Ls = net->layers;
    const int B = j->B, r0 = (int)((long)B * t / T), r1 = (int)((long)B * (t + 1) / T);
    const int S = r1 - r0, top = net->n_layers - 1, K = Ls[top].O;
    REAL *x = net->F(x);
    const int D = net->inputs;
    if (j->rows) take_rows(net, x, j->x, j->xt, j->rows, r0, r1);
    else
        take_in_net(net, x + (size_t)r0 * D, (const char *)j->x + in_size(j->xt) * D * r0,
                    j->xt, (size_t)S * D);
    int l0 = 0;
    if (SFX(forward_by_neurons)(net, B, T)) {
        /* each member's neurons from a 64-byte line of h and o (net.c
         * line_alloc): no line of them written by two members */
        bp_layer *L = &Ls[0];
        const long q = 64 / sizeof(REAL);
        const int n0 = (int)((L->O * t / T + q / 2) / q * q),
                  n1 = t == T - 1 ? L->O : (int)((L->O * (t + 1) / T + q / 2) / q * q);
        bp_team_sync(net->team);
        SFX(bp_layer_forward_cols)
        (L->F(h), L->F(o), x, L->F(W), L->F(b), B, L->I, L->O, n0 < L->O ? n0 : L->O,
         n1 < L->O ? n1 : L->O, L->act, L->alpha);
        bp_team_sync(net->team);
        l0 = 1;
    }
    const REAL *in = l0 ? Ls[0].F(o) : x;
    for (int l = l0; l <= top; l++) {
        bp_layer *L = &Ls[l];
        const size_t at = (size_t)r0 * L->O;
        SFX(bp_layer_forward)
        (L->F(h) + at, L->F(o) + at, in + (size_t)r0 * L->I, L->F(W), L->F(b), S, L->I,
         L->O, L->act, L->alpha);
        in = L->F(o);
    }
    const REAL *y = j->y; /* rows of K targets, or of 1 label */
    SFX(bp_loss_grad_rows_crit)
    (Ls[top].F(dout) + (size_t)r0 * K, net->row_loss + r0, Ls[top].F(o) + (size_t)r0 * K,
     y + (size_t)r0 * (j->crit.labels ? 1 : K), S, B, K, j->crit);
    for (int l = top; l >= 0; l--) {
        bp_layer *L = &Ls[l];
        const int I = L->I, O = L->O;
        const size_t at = (size_t)r0 * O;
        REAL *din = l > 0 ? Ls[l - 1].F(dout) + (size_t)r0 * I : NULL;
        SFX(bp_layer_backward_rows)
        (din, L->F(dh) + at, L->F(dout) + at, L->F(h) + at, L->F(o) + at, L->F(W), S, I,
         O, L->act, L->alpha);
    }
    bp_team_sync(net->team);
    double lr = j->lr, total = 0.0;
    for (int s = 0; s < B; s++) total += net->row_loss[s];
    total /= B;
    if (t == 0) j->loss = total;
    if (j->guard && !isfinite(total)) lr = -1;
    for (int l = top; l >= 0; l--) {
        bp_layer *L = &Ls[l];
        const int O = L->O, n0 = (int)((long)O * t / T), n1 = (int)((long)O * (t + 1) / T);
        const REAL *in = l > 0 ? Ls[l - 1].F(o) : x;
        /* every member decides alike; member 0 says so for settle_grads */
        const int fused = lr >= 0 && SFX(fuses)(net, B, L->I, O, T);
        if (t == 0) L->dw_lazy = fused ? T : 0;
#if BP_REAL_F32
        if (fused) {
            bp_layer_backward_cols_sgd_f32(L->db32, L->W32, L->b32, L->dh32, in, B, L->I, O,
                                           n0, n1, lr);
            continue;
        }
#endif
        SFX(bp_layer_backward_cols)
        (L->F(dW), L->F(db), L->F(W), L->F(b), L->F(dh), in, B, L->I, O, n0, n1, lr);
    }
}
