/* net_real.h: the four stages over a whole network, for one number type.
 *
 * The general path of a step: each stage a loop over the layers calling
 * the kernels of bp_ops.h, which is the reference the network's two fast
 * paths must equal (net_team_real.h, a step split between threads, and
 * net_one_real.h, one sample through small layers).
 *
 * Included only by net.c, twice (real.h): with REAL double, SFX(name) as
 * name and F(field) as the layer's double arrays (W, h, ...); then with
 * REAL float, _f32 names and the float arrays (W32, h32, ...). Everything
 * that checks arguments or allocates is in net.c: these run once the sizes
 * are known to be right and the buffers to be there.
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

/* w -= lr * dLoss/dw over one layer (bp_sgd_update): its weights when w,
 * its biases when b (a frozen tensor is left alone). */
static void SFX(sgd_layer)(bp_layer *L, double lr, int w, int b) {
    if (w) SFX(bp_sgd_update)(L->F(W), L->F(dW), (size_t)L->O * L->I, lr);
    if (b) SFX(bp_sgd_update)(L->F(b), L->F(db), (size_t)L->O, lr);
}

/* Whether a layer of I inputs and O neurons takes its step fused into its
 * dW product (bp_net_set_fused_sgd) in a step of B rows split between T
 * members: float32, the fused steps on, and the smallest member's part
 * (O / T neurons) BLAS-sized, so that every part's product is GEMM's. */
static int SFX(fuses)(const bp_net *net, int B, int I, int O, int T) {
    return BP_REAL_F32 && net->fuse_sgd && (long)B * I * (O / T) >= BP_BLAS_MIN_WORK;
}

/* Backpropagation from the top layer's dout, which the caller has filled,
 * down to layer first (0: all; the layers below have nothing to train).
 * acc: add into dW and db rather than overwrite them. lr >= 0: gradient
 * descent on each layer as soon as its gradients are known (the layers below
 * need its dout, computed with the weights before the step, and never its
 * weights), which saves a second pass over every layer; lr < 0: no update. */
static void SFX(backward_layers)(bp_net *net, int acc, double lr, int first) {
    int B = net->B;
    for (int l = net->n_layers - 1; l >= first; l--) {
        bp_layer *L = &net->layers[l];
        const REAL *in = l > 0 ? net->layers[l - 1].F(o) : net->F(x);
        REAL *din = l > first ? net->layers[l - 1].F(dout) : NULL;
        L->dw_lazy = !acc && lr >= 0 && SFX(fuses)(net, B, L->I, L->O, 1);
#if BP_REAL_F32
        if (L->dw_lazy) {
            /* bp_layer_backward's BLAS-sized halves, the step fused into
             * the second */
            bp_layer_backward_rows_f32(din, L->dh32, L->dout32, L->h32, L->o32, L->W32, B,
                                       L->I, L->O, L->act, L->alpha);
            bp_layer_backward_cols_sgd_f32(L->db32, L->W32, L->b32, L->dh32, in, B, L->I,
                                           L->O, 0, L->O, lr);
            continue;
        }
#endif
        SFX(bp_layer_backward)
        (din, L->F(dW), L->F(db), L->F(dh), L->F(dout), L->F(h), L->F(o), in, L->F(W),
         L->F(b), B, L->I, L->O, L->act, L->alpha, acc, lr);
    }
}

/* Makes every dW a fused step left unwritten (bp_net_set_fused_sgd), part
 * by part as that step split the layer's neurons. */
static void SFX(settle_grads)(bp_net *net) {
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        const int T = L->dw_lazy;
        L->dw_lazy = 0;
#if BP_REAL_F32
        const float *in = l > 0 ? net->layers[l - 1].o32 : net->x32;
        for (int t = 0; t < T; t++)
            bp_layer_dw_f32(L->dW32, L->dh32, in, net->B, L->I, L->O,
                            (int)((long)L->O * t / T), (int)((long)L->O * (t + 1) / T));
#else
        (void)T;
#endif
    }
}

/* The loss of the last forward against y (B x outputs, or B labels) into
 * *loss_out when it is not NULL, and its gradient into the top layer's
 * dout. */
static void SFX(loss_grad)(bp_net *net, const REAL *y, bp_crit crit, double *loss_out) {
    bp_layer *top = &net->layers[net->n_layers - 1];
    double l = SFX(bp_loss_grad_crit)(top->F(dout), top->F(o), y, net->B, top->O, crit);
    if (loss_out) *loss_out = l;
}
