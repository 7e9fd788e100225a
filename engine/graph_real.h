/* graph_real.h: the graph's executor for one number type.
 *
 * Each op's forward, and right below it its backward, over the node's
 * buffers, calling the kernels of bp_ops.h; then the two walks over the
 * graph's order. Included only by graph.c, twice (real.h: REAL double with
 * names as written, then float with _f32 names), after every check: the
 * shapes are right and the buffers there.
 *
 * Dimensions: B = rows of the batch; a node's count = values of a sample;
 * I, O = a linear's in and out; F = batch norm's features; rows = B times
 * the leading dimensions a linear or softmax treats as more samples; an
 * image's C, H, W and the rest of bp_conv.h's, in a bp_conv_shape; a
 * sequence's T, a recurrent op's H (bp_seq.h).
 *
 * On a team (bp_graph_set_team) every member walks the order, and the
 * members meet after each node: an op that splits (graph.c's splits) runs
 * on each member's samples (a part), the others whole on member 0, the
 * calling thread. The ops below take a part where they split, {0, B, 0, 1}
 * on one thread, where they run the same kernels on the same values as
 * before the team existed: one thread's bits do not depend on it. */

/* ------------------------------------------------------------------------ */
/* The ops                                                                   */

/* Node j's output and gradient, as REAL (a view's are its store's). */
static REAL *SFX(y_of)(bp_graph *g, int j) { return g->nodes[g->nodes[j].store].y; }
static REAL *SFX(dy_of)(bp_graph *g, int j) { return g->nodes[g->nodes[j].store].dy; }

/* Where input k of nd sends its gradient: its store's dy, or NULL when
 * that is the network's input and nobody asked for dLoss/d(input) (the
 * product a stack's first layer skips too). */
static REAL *SFX(din_of)(bp_graph *g, const node *nd, int k, int want_dx) {
    (void)want_dx; /* the input's needs (mark_needs) says it */
    int s = g->nodes[nd->in[k]].store;
    return g->nodes[s].needs ? g->nodes[s].dy : NULL;
}

#define T_(nd, k) ((REAL *)(nd)->t[k].data)
#define G_(nd, k) ((REAL *)(nd)->t[k].grad)
/* A tensor's gradient, NULL when it is frozen: not computed (linear and
 * conv2d, whose kernels skip a NULL one). */
#define GF_(nd, k) ((nd)->t[k].frozen ? NULL : G_(nd, k))

/* linear: y = x W^T + b over rows of I values (bp_dense_forward), a
 * sample's m = count / I rows each; a part's rows. */
static void SFX(linear_forward)(bp_graph *g, node *nd, part p) {
    const node *x = &g->nodes[nd->in[0]];
    int I = nd->o.in, O = nd->o.out;
    size_t m = x->count / I, r0 = (size_t)p.r0 * m;
    const REAL *b = nd->nb_b ? (const REAL *)nd->nb_b : T_(nd, 1);
    REAL *h = (REAL *)nd->y + r0 * O;
    const REAL *xv = SFX(y_of)(g, nd->in[0]) + r0 * I;
    int rows = (int)(p.S * m);
#if BP_REAL_F32
    /* and its GELU's (fuse_linear_gelus), a block of rows at a time: the
     * block's GELU reads h from the cache its product just wrote */
    if (nd->gelu_by) {
        REAL *o = (REAL *)g->nodes[nd->gelu_by - 1].y + r0 * O;
        const int block = 65536 / O > 0 ? 65536 / O : 1;
        /* training, the whole batch here: the derivative too, while h is
         * in the cache (gelu_d), into the dy buffer the backward stores */
        REAL *d = g->fwd_training && p.T == 1 && nd->gelu_alone && nd->dy ? nd->dy : NULL;
        nd->gelu_d = d != NULL;
        for (int s = 0; s < rows; s += block) {
            int n = rows - s < block ? rows - s : block;
            size_t at = (size_t)s * O;
            SFX(bp_dense_forward)(h + at, xv + (size_t)s * I, T_(nd, 0), b, n, I, O);
            if (d) bp_gelu_forward_d_vec(o + at, d + at, h + at, (size_t)n * O);
            else bp_gelu_forward_vec(o + at, h + at, (size_t)n * O);
        }
        return;
    }
#endif
    SFX(bp_dense_forward)(h, xv, T_(nd, 0), b, rows, I, O);
}
/* dW += dy^T x, db += column sums of dy, dx += dy W (bp_dense_backward);
 * on a team, dx of the member's rows and dW, db of its neurons
 * (bp_dense_backward_cols), over every row. */
#if BP_REAL_F32
/* A linear's backward with its GELU's (graph.c gelu_back, whose comment
 * says why), in the forward's blocks of rows: the same kernels on the same
 * rows as the GELU's backward and then the linear's (test_graph.c,
 * test_linear_gelu_fused). */
static void linear_gelu_backward(bp_graph *g, node *nd, REAL *dx, REAL *db, int rows) {
    const node *a = &g->nodes[nd->gelu_by - 1];
    int I = nd->o.in, O = nd->o.out, add = !(nd->dy_store & 1u);
    const REAL *xv = SFX(y_of)(g, nd->in[0]), *h = nd->y, *o = a->y, *dout = a->dy;
    REAL *dh = nd->dy;
    const int block = 65536 / O > 0 ? 65536 / O : 1;
    for (int s = 0; s < rows; s += block) {
        int n = rows - s < block ? rows - s : block;
        size_t at = (size_t)s * O;
        REAL *bdb = db; /* the bias's sums, if not made with dh */
        if (nd->gelu_d && db)
            bp_gelu_backward_d_bias_vec(dh + at, db, dout + at, dh + at, n, O), bdb = NULL;
        else if (nd->gelu_d)
            bp_gelu_backward_d_vec(dh + at, dout + at, dh + at, (size_t)n * O);
        else bp_gelu_backward_vec(dh + at, dout + at, h + at, o + at, (size_t)n * O, 0);
        SFX(bp_dense_backward_block)
        (dx ? dx + (size_t)s * I : NULL, bdb, dh + at, xv + (size_t)s * I, T_(nd, 0), n, I, O,
         add, rows);
    }
    SFX(bp_dense_backward_to)(NULL, GF_(nd, 0), NULL, dh, xv, T_(nd, 0), rows, I, O, 1);
    nd->gelu_d = 0; /* dh is in its buffer now */
}
#endif

static void SFX(linear_backward)(bp_graph *g, node *nd, part p, int want_dx) {
    const node *x = &g->nodes[nd->in[0]];
    int I = nd->o.in, O = nd->o.out, B = g->B;
    size_t m = x->count / I, r0 = (size_t)p.r0 * m;
    int rows = (int)(B * m);
    REAL *db = nd->nb_db ? NULL : GF_(nd, 1), *dx = SFX(din_of)(g, nd, 0, want_dx);
    const REAL *xv = SFX(y_of)(g, nd->in[0]), *dy = nd->dy;
#if BP_REAL_F32
    if (nd->gelu_by && g->nodes[nd->gelu_by - 1].gelu_back) {
        linear_gelu_backward(g, nd, dx, db, rows);
        return;
    }
#endif
    if (p.T == 1) {
        SFX(bp_dense_backward_to)
        (dx, GF_(nd, 0), db, dy, xv, T_(nd, 0), rows, I, O, !(nd->dy_store & 1u));
        return;
    }
    if (dx) SFX(bp_dense_backward)
    (dx + r0 * I, NULL, NULL, dy + r0 * O, xv + r0 * I, T_(nd, 0), (int)(p.S * m), I, O);
    SFX(bp_dense_backward_cols)
    (GF_(nd, 0), db, dy, xv, rows, I, O, (int)((long)O * p.t / p.T),
     (int)((long)O * (p.t + 1) / p.T));
}

/* act: o = f(h), h the input; softmax over rows of the last dimension. */
static void SFX(act_forward)(bp_graph *g, node *nd, part p) {
    int last = nd->shape[nd->ndim - 1], rows = (int)(p.S * (nd->count / last));
    size_t at = (size_t)p.r0 * nd->count;
#if BP_REAL_F32
    if (nd->gelu_by) return; /* its linear made it (fuse_linear_gelus) */
    if (nd->o.act == BP_ACT_GELU) { /* ops_vec.h's, held to bp_act_forward_f32 */
        bp_gelu_forward_vec((REAL *)nd->y + at, SFX(y_of)(g, nd->in[0]) + at,
                            (size_t)rows * last);
        return;
    }
#endif
    SFX(bp_act_forward)
    ((REAL *)nd->y + at, SFX(y_of)(g, nd->in[0]) + at, rows, last, nd->o.act,
     nd->o.alpha);
}
/* Its backward stores into din when it is din's first writer (dy_store,
 * graph.c's mark_writers), else adds. */
static void SFX(act_backward)(bp_graph *g, node *nd, part p, int want_dx) {
    REAL *din = SFX(din_of)(g, nd, 0, want_dx);
    if (!din || nd->fused) return; /* fused: its max pool's backward did it */
    if (nd->gelu_back) return; /* its linear's backward makes it (graph.c) */
    int last = nd->shape[nd->ndim - 1], rows = (int)(p.S * (nd->count / last));
    size_t at = (size_t)p.r0 * nd->count, n = (size_t)rows * last;
    const int add = !(nd->dy_store & 1u);
#if BP_REAL_F32
    if (nd->o.act == BP_ACT_GELU) {
        bp_gelu_backward_vec(din + at, (REAL *)nd->dy + at, SFX(y_of)(g, nd->in[0]) + at,
                             (REAL *)nd->y + at, n, add);
        return;
    }
#endif
    if (!add) memset(din + at, 0, sizeof(REAL) * n);
    SFX(bp_act_backward)
    (din + at, (REAL *)nd->dy + at, SFX(y_of)(g, nd->in[0]) + at, (REAL *)nd->y + at,
     rows, last, nd->o.act, nd->o.alpha);
}

/* dropout: in training a mask drawn from r, kept values scaled by
 * 1 / (1 - p); in evaluation a copy. A part of a split walk draws the
 * values of its rows where the whole would have: from r (the member's
 * copy of the walk's generator) skipped to its first value, and r is then
 * skipped past the node (a draw per value, none at p = 0 or 1): the same
 * bits as one thread's. */
static void SFX(dropout_forward)(bp_graph *g, node *nd, part p, bp_rng *r) {
    size_t F = nd->count, at = (size_t)p.r0 * F, n = (size_t)p.S * F;
    const REAL *x = SFX(y_of)(g, nd->in[0]) + at;
    REAL *y = (REAL *)nd->y + at;
    if (!g->fwd_training) {
        memcpy(y, x, sizeof(REAL) * n);
        return;
    }
    int draws = nd->o.p > 0 && nd->o.p < 1; /* else r may be NULL */
    bp_rng mine = draws ? *r : (bp_rng){{0}};
    if (draws && at) bp_rng_skip(&mine, jump_of(nd, p.t, at));
#if BP_REAL_F32
    bp_dropout_forward_fast_f32(y, nd->keep + at, x, n, nd->o.p, &mine);
#else
    bp_dropout_forward(y, nd->keep + at, x, n, nd->o.p, &mine);
#endif
    if (!draws) return;
    if (p.r0 + p.S == g->B) *r = mine; /* the last part ends where the whole does */
    else bp_rng_skip(r, jump_of(nd, p.t, (uint64_t)g->B * F));
}
/* A part's values of the mask drawn by the forward. */
static void SFX(dropout_backward)(bp_graph *g, node *nd, part p, int want_dx) {
    REAL *din = SFX(din_of)(g, nd, 0, want_dx);
    size_t n = (size_t)p.S * nd->count, at = (size_t)p.r0 * nd->count;
    if (!din) return;
    const REAL *dy = (const REAL *)nd->dy + at;
    din += at;
    if (g->fwd_training) {
#if BP_REAL_F32
        bp_dropout_backward_fast_f32(din, dy, nd->keep + at, n, nd->o.p);
#else
        bp_dropout_backward(din, dy, nd->keep + at, n, nd->o.p);
#endif
    } else {
        for (size_t k = 0; k < n; k++) din[k] += dy[k];
    }
}

/* batchnorm1d: tensors weight, bias, running_mean, running_var,
 * num_batches_tracked (0 .. 4). */
static void SFX(batchnorm_forward)(bp_graph *g, node *nd, int B) {
    const REAL *x = SFX(y_of)(g, nd->in[0]);
    int F = nd->o.in;
    if (g->fwd_training && !bn_frozen(nd)) {
        SFX(bp_batchnorm_forward_train)
        (nd->y, nd->xhat, nd->invstd, T_(nd, 2), T_(nd, 3), x, T_(nd, 0), T_(nd, 1), B, F,
         nd->o.eps, nd->o.momentum);
        T_(nd, 4)[0] += 1;
    } else {
        SFX(bp_batchnorm_forward_eval)
        (nd->y, nd->xhat, nd->invstd, x, T_(nd, 0), T_(nd, 1), T_(nd, 2), T_(nd, 3), B, F,
         nd->o.eps);
    }
}
/* Its dx always goes somewhere: into the input's dy even when nobody asked
 * for dLoss/d(input) (the kernel computes it with the parameters'). */
static void SFX(batchnorm_backward)(bp_graph *g, node *nd, int B, int want_dx) {
    (void)want_dx;
    REAL *din = SFX(dy_of)(g, nd->in[0]);
    int F = nd->o.in;
    if (g->fwd_training && !bn_frozen(nd)) SFX(bp_batchnorm_backward_train)
    (din, G_(nd, 0), G_(nd, 1), nd->dy, nd->xhat, nd->invstd, T_(nd, 0), B, F);
    else SFX(bp_batchnorm_backward_eval)(din, G_(nd, 0), G_(nd, 1), nd->dy, nd->xhat,
                                         nd->invstd, T_(nd, 0), B, F);
}

/* batchnorm2d: batchnorm1d's tensors, each channel's statistics over its
 * B H W values. */
static void SFX(batchnorm2d_forward)(bp_graph *g, node *nd, int B) {
    const REAL *x = SFX(y_of)(g, nd->in[0]);
    int C = nd->o.in, S = nd->shape[1] * nd->shape[2];
    if (g->fwd_training && !bn_frozen(nd)) {
        SFX(bp_batchnorm2d_forward_train)
        (nd->y, nd->xhat, nd->invstd, T_(nd, 2), T_(nd, 3), x, T_(nd, 0), T_(nd, 1), B, C,
         S, nd->o.eps, nd->o.momentum);
        T_(nd, 4)[0] += 1;
    } else {
        SFX(bp_batchnorm2d_forward_eval)
        (nd->y, nd->xhat, nd->invstd, x, T_(nd, 0), T_(nd, 1), T_(nd, 2), T_(nd, 3), B, C,
         S, nd->o.eps);
    }
}
/* As batchnorm1d's, its dx always goes into the input's dy. */
static void SFX(batchnorm2d_backward)(bp_graph *g, node *nd, int B, int want_dx) {
    (void)want_dx;
    REAL *din = SFX(dy_of)(g, nd->in[0]);
    int C = nd->o.in, S = nd->shape[1] * nd->shape[2];
    if (g->fwd_training && !bn_frozen(nd)) SFX(bp_batchnorm2d_backward_train)
    (din, G_(nd, 0), G_(nd, 1), nd->dy, nd->xhat, nd->invstd, T_(nd, 0), B, C, S);
    else SFX(bp_batchnorm2d_backward_eval)(din, G_(nd, 0), G_(nd, 1), nd->dy, nd->xhat,
                                           nd->invstd, T_(nd, 0), B, C, S);
}

/* conv2d: weight and bias (tensors 0, 1; a zero bias never listed without
 * one). In float32 with oneDNN, on its primitives (bp_conv_dnnl, the
 * member's own cache); else, or if oneDNN cannot, through im2col and GEMM
 * (bp_conv2d_forward, conv_fast.h), a part's samples in the member's
 * columns (member t > 0: its own in tcol). */
static REAL *SFX(conv_col)(node *nd, const bp_conv_shape *s, int t) {
    return t ? (REAL *)nd->tcol + (size_t)(t - 1) * bp_conv_cols(s) : (REAL *)nd->col;
}
static void SFX(conv2d_forward)(bp_graph *g, node *nd, part p) {
    bp_conv_shape s = conv_shape(g, nd);
    const REAL *b = nd->nb_b ? NULL : T_(nd, 1);
    size_t xs = (size_t)s.C * s.H * s.W, ys = (size_t)s.O * s.P * s.Q;
    REAL *y = (REAL *)nd->y + p.r0 * ys;
    const REAL *x = SFX(y_of)(g, nd->in[0]) + p.r0 * xs;
#if BP_REAL_F32
    bp_conv_dnnl *c = conv_dnnl(nd, p.t);
    if (c && !bp_conv2d_forward_dnnl(c, y, x, T_(nd, 0), b, p.S, &s)) return;
#endif
    SFX(bp_conv2d_forward)(y, SFX(conv_col)(nd, &s, p.t), x, T_(nd, 0), b, p.S, &s);
}

static void SFX(maxpool2d_backward)(bp_graph *g, node *nd, part p, int want_dx);

#if BP_REAL_F32
/* A chain's backward (chain_forward) from its pool's dy, on c: dw, db,
 * dx (oneDNN's where it takes dx, else im2col's from the convolution's dy
 * stored by the chain); 1. When the chain's forward did not run on oneDNN,
 * the pool's backward with its ReLU's into the convolution's dy (which
 * zero_dy left), and 0: the caller's path goes on from there. */
static int SFX(chain_backward)(bp_graph *g, node *nd, part p, bp_conv_dnnl *c, REAL *dxp,
                               REAL *dw, REAL *db, int want_dx) {
    bp_conv_shape s = conv_shape(g, nd);
    node *pool = &g->nodes[nd->chain - 1];
    size_t xs = (size_t)s.C * s.H * s.W, ys = (size_t)s.O * s.P * s.Q;
    REAL *dy = (REAL *)nd->dy + p.r0 * ys, *col = SFX(conv_col)(nd, &s, p.t);
    const REAL *x = SFX(y_of)(g, nd->in[0]) + p.r0 * xs;
    int own_dx = c && bp_conv_dnnl_takes_dx(&s);
    if (c && bp_conv_chain_backward_dnnl(c, own_dx ? dxp : NULL, dw, db,
                                         dxp && !own_dx ? dy : NULL,
                                         (REAL *)pool->dy + p.r0 * pool->count, x, T_(nd, 0),
                                         p.S, &s) != -1) {
        if (dxp && !own_dx) SFX(bp_conv2d_backward)(dxp, NULL, NULL, col, dy, x, T_(nd, 0),
                                                    p.S, &s);
        return 1;
    }
    memset(dy, 0, sizeof(REAL) * p.S * ys);
    SFX(maxpool2d_backward)(g, pool, p, want_dx);
    return 0;
}
#endif

/* dx of the part's samples; dW and db of them summed by member 0 into the
 * gradients, by member t > 0 into its own partial sums (zeroed first),
 * which conv2d_reduce then adds in member order. */
static void SFX(conv2d_backward)(bp_graph *g, node *nd, part p, int want_dx) {
    bp_conv_shape s = conv_shape(g, nd);
    REAL *dw = GF_(nd, 0), *db = nd->nb_db ? NULL : GF_(nd, 1),
         *dx = SFX(din_of)(g, nd, 0, want_dx);
    size_t xs = (size_t)s.C * s.H * s.W, ys = (size_t)s.O * s.P * s.Q,
           nw = (size_t)s.O * s.C * s.KH * s.KW;
    if (p.t) {
        REAL *own = (REAL *)nd->tgrad + (size_t)(p.t - 1) * (nw + s.O);
        if (dw) memset(own, 0, sizeof(REAL) * nw), dw = own;
        if (db) memset(own + nw, 0, sizeof(REAL) * s.O), db = own + nw;
    }
    REAL *col = SFX(conv_col)(nd, &s, p.t), *dxp = dx ? dx + p.r0 * xs : NULL;
    REAL *dy = (REAL *)nd->dy + p.r0 * ys;
    const REAL *x = SFX(y_of)(g, nd->in[0]) + p.r0 * xs;
#if BP_REAL_F32
    /* oneDNN's dx only for images of many channels (bp_conv_dnnl_takes_dx);
     * -2 (a made primitive failed to run) does not happen on the CPU */
    bp_conv_dnnl *c = conv_dnnl(nd, p.t);
    int own_dx = c && bp_conv_dnnl_takes_dx(&s);
    if (nd->chain && SFX(chain_backward)(g, nd, p, c, dxp, dw, db, want_dx)) return;
    if (c && bp_conv2d_backward_dnnl(c, own_dx ? dxp : NULL, dw, db, dy, x, T_(nd, 0), p.S,
                                     &s) != -1) {
        if (dxp && !own_dx) SFX(bp_conv2d_backward)(dxp, NULL, NULL, col, dy, x, T_(nd, 0),
                                                    p.S, &s);
        return;
    }
#endif
    SFX(bp_conv2d_backward)(dxp, dw, db, col, dy, x, T_(nd, 0), p.S, &s);
}
/* After every member's conv2d_backward: member t's share of the values of
 * dW then db, each the gradient plus members 1 .. T-1's partial sums in
 * that order, so that the bits depend on T and not on timing. */
static void SFX(conv2d_reduce)(bp_graph *g, node *nd, int t, int T) {
    bp_conv_shape s = conv_shape(g, nd);
    REAL *dw = GF_(nd, 0), *db = nd->nb_db ? NULL : GF_(nd, 1);
    const REAL *sums = nd->tgrad;
    size_t nw = (size_t)s.O * s.C * s.KH * s.KW, n = nw + s.O;
    size_t e0 = n * t / T, e1 = n * (t + 1) / T;
    for (size_t k = e0; k < e1; k++) {
        REAL *v = k < nw ? (dw ? dw + k : NULL) : (db ? db + (k - nw) : NULL);
        if (!v) continue;
        REAL acc = *v;
        for (int u = 1; u < T; u++) acc += sums[(size_t)(u - 1) * n + k];
        *v = acc;
    }
}

/* maxpool2d: the winners kept in arg for backward; avgpool2d. */
/* The winners' places are within a sample's plane, so a part's samples
 * are a pool of their own. xs, ys: a sample's input and output values. */
static void SFX(maxpool2d_forward)(bp_graph *g, node *nd, part p) {
    bp_conv_shape s = conv_shape(g, nd);
    size_t xs = (size_t)s.C * s.H * s.W, ys = (size_t)s.O * s.P * s.Q;
    SFX(bp_maxpool2d_forward)
    ((REAL *)nd->y + p.r0 * ys, nd->arg + p.r0 * ys, SFX(y_of)(g, nd->in[0]) + p.r0 * xs,
     p.S, &s);
}
/* Fused with the ReLU before it (graph.c, fuse_relu_pools): dy times the
 * ReLU's derivative at each winner, added into the ReLU's input's
 * gradient; the ReLU's needs are the pool's. */
static void SFX(maxpool2d_backward)(bp_graph *g, node *nd, part p, int want_dx) {
    bp_conv_shape s = conv_shape(g, nd);
    size_t xs = (size_t)s.C * s.H * s.W, ys = (size_t)s.O * s.P * s.Q;
    const REAL *dy = (REAL *)nd->dy + p.r0 * ys;
    const int32_t *arg = nd->arg + p.r0 * ys;
    if (nd->fused) {
        node *relu = &g->nodes[nd->in[0]];
        REAL *din = SFX(din_of)(g, relu, 0, want_dx);
        if (din) SFX(bp_maxpool2d_relu_backward)
        (din + p.r0 * xs, dy, arg, SFX(y_of)(g, relu->in[0]) + p.r0 * xs, p.S, &s);
        return;
    }
    REAL *din = SFX(din_of)(g, nd, 0, want_dx);
    if (din) SFX(bp_maxpool2d_backward)(din + p.r0 * xs, dy, arg, p.S, &s);
}
/* conv2d -> ReLU -> max pool as one, run by the conv2d (graph.c's
 * set_chains): in float32 on oneDNN in its blocked layouts, the pool's
 * output alone written (bp_conv_chain_forward_dnnl); if oneDNN cannot,
 * the three forwards in turn (and conv2d_backward then the three
 * backwards). The chain's backward is conv2d_backward's. */
static void SFX(chain_forward)(bp_graph *g, node *nd, part p) {
    node *pool = &g->nodes[nd->chain - 1], *relu = &g->nodes[pool->in[0]];
#if BP_REAL_F32
    bp_conv_shape s = conv_shape(g, nd), ps = conv_shape(g, pool);
    size_t xs = (size_t)s.C * s.H * s.W;
    bp_conv_dnnl *c = conv_dnnl(nd, p.t);
    if (c && !bp_conv_chain_forward_dnnl(c, (REAL *)pool->y + p.r0 * pool->count,
                                         SFX(y_of)(g, nd->in[0]) + p.r0 * xs, T_(nd, 0),
                                         nd->nb_b ? NULL : T_(nd, 1), p.S, &s, &ps))
        return;
#endif
    SFX(conv2d_forward)(g, nd, p);
    SFX(act_forward)(g, relu, p);
    SFX(maxpool2d_forward)(g, pool, p);
}
static void SFX(avgpool2d_forward)(bp_graph *g, node *nd, part p) {
    bp_conv_shape s = conv_shape(g, nd);
    size_t xs = (size_t)s.C * s.H * s.W, ys = (size_t)s.O * s.P * s.Q;
    SFX(bp_avgpool2d_forward)
    ((REAL *)nd->y + p.r0 * ys, SFX(y_of)(g, nd->in[0]) + p.r0 * xs, p.S, &s);
}
static void SFX(avgpool2d_backward)(bp_graph *g, node *nd, part p, int want_dx) {
    REAL *din = SFX(din_of)(g, nd, 0, want_dx);
    bp_conv_shape s = conv_shape(g, nd);
    size_t xs = (size_t)s.C * s.H * s.W, ys = (size_t)s.O * s.P * s.Q;
    if (din)
        SFX(bp_avgpool2d_backward)(din + p.r0 * xs, (REAL *)nd->dy + p.r0 * ys, p.S, &s);
}

/* layernorm: rows of the last dimension, the same in both modes; float
 * on ops_vec.h's kernels, held to the reference's. Backward stores into
 * din as act_backward does. */
static void SFX(layernorm_forward)(bp_graph *g, node *nd, int B) {
    int F = nd->o.in, R = (int)((size_t)B * nd->count / F);
#if BP_REAL_F32
    bp_layernorm_forward_vec
#else
    bp_layernorm_forward
#endif
        (nd->y, nd->xhat, nd->rstd, SFX(y_of)(g, nd->in[0]), T_(nd, 0), T_(nd, 1), R, F,
         nd->o.eps);
}
static void SFX(layernorm_backward)(bp_graph *g, node *nd, int B, int want_dx) {
    int F = nd->o.in, R = (int)((size_t)B * nd->count / F);
    REAL *din = SFX(din_of)(g, nd, 0, want_dx);
    const int add = !(nd->dy_store & 1u);
#if BP_REAL_F32
    bp_layernorm_backward_vec(din, G_(nd, 0), G_(nd, 1), nd->dy, nd->xhat, nd->rstd,
                              T_(nd, 0), R, F, add);
#else
    if (din && !add) memset(din, 0, sizeof(REAL) * (size_t)R * F);
    bp_layernorm_backward(din, G_(nd, 0), G_(nd, 1), nd->dy, nd->xhat, nd->rstd, T_(nd, 0),
                          R, F);
#endif
}

/* embedding: each id's row of the weight (ids checked by check_ids), a
 * part's samples. */
static void SFX(embedding_forward)(bp_graph *g, node *nd, part p) {
    size_t T = (size_t)nd->shape[0], n = (size_t)p.S * T, at = (size_t)p.r0 * T;
    SFX(bp_embedding_forward)
    ((REAL *)nd->y + at * nd->o.out, SFX(y_of)(g, nd->in[0]) + at, T_(nd, 0), n, nd->o.out);
}
/* The ids have no gradient: the input's dy stays as it is. On a team,
 * member t adds into its share of the weight's rows (ids lo .. hi - 1)
 * from every row of the batch, in the batch's order: each row of the
 * gradient gets one thread's additions in one thread's order. */
static void SFX(embedding_backward)(bp_graph *g, node *nd, part p, int want_dx) {
    (void)want_dx;
    const size_t n = (size_t)g->B * nd->shape[0];
    const int D = nd->o.out, V = nd->o.in;
    const REAL *ids = SFX(y_of)(g, nd->in[0]), *dy = nd->dy;
    if (p.T == 1) {
        SFX(bp_embedding_backward)(G_(nd, 0), dy, ids, n, D);
        return;
    }
    const size_t lo = (size_t)((long)V * p.t / p.T), hi = (size_t)((long)V * (p.t + 1) / p.T);
    for (size_t k = 0; k < n; k++) {
        size_t id = (size_t)ids[k] - 1;
        if (id < lo || id >= hi) continue;
        REAL *row = G_(nd, 0) + id * D;
        for (int d = 0; d < D; d++) row[d] += dy[k * D + d];
    }
}

/* lstm, rnn, gru: layer l's buffers in the node's work (rec_work in
 * graph.c): its input x, outputs h, an lstm's cell states c, the gates a
 * (an rnn has none: its h), a gru's hidden sums gh, and dh = dLoss/dh; the
 * last layer's h and dh are the node's y and dy, the first's x the
 * input's. */
typedef struct SFX(rec_bufs) {
    REAL *x, *h, *c, *a, *gh, *dh;
} SFX(rec_bufs);

static SFX(rec_bufs) SFX(rec_layer)(bp_graph *g, node *nd, int B, int l) {
    size_t BTH = (size_t)B * nd->shape[0] * nd->o.out;
    rec_layout r = rec_of(nd->op);
    REAL *w = (REAL *)nd->work + (size_t)l * r.per_layer * BTH;
    SFX(rec_bufs)
    s = {.h = w + r.h * BTH,
         .dh = w + r.dh * BTH,
         .c = r.c < 0 ? NULL : w + r.c * BTH,
         .a = r.a < 0 ? NULL : w + r.a * BTH,
         .gh = r.gh < 0 ? NULL : w + r.gh * BTH};
    s.x = l ? (REAL *)nd->work + ((size_t)(l - 1) * r.per_layer + r.h) * BTH
            : SFX(y_of)(g, nd->in[0]);
    if (l == nd->o.layers - 1) s.h = nd->y, s.dh = nd->dy;
    return s;
}

/* Part p (h 0, c 1) of layer l's initial state in v (the node's state or
 * dstate, parts x layers x B x H), or NULL when the state is zeros. */
static REAL *SFX(state_at)(const node *nd, void *v, int B, int p, int l) {
    if (!nd->state_B) return NULL;
    return (REAL *)v + ((size_t)p * nd->o.layers + l) * B * nd->o.out;
}

/* With lengths (bp_graph_set_lengths), zeros at the steps of v (B x T x
 * H) past each sequence's length, for a part's sequences: a layer's
 * outputs after its forward, and the node's dy before its backward. The
 * kernels run every step (the padded ones from whatever ids fill them);
 * once the outputs and their gradients are zeros there, a padded step
 * passes nothing back (its dz is 0 times finite values), so the kernels,
 * reference and fast alike, need not know the lengths. */
static void SFX(mask_steps)(const bp_graph *g, REAL *v, part p, int T, int H) {
    for (int b = p.r0; b < p.r0 + p.S && b < g->len_B; b++)
        memset(v + ((size_t)b * T + g->len[b]) * H, 0,
               sizeof(REAL) * (size_t)(T - g->len[b]) * H);
}

/* Layer l's buffers from row r0 of the batch (rec_layer's; I its
 * inputs, G its gates' values a step). */
static SFX(rec_bufs) SFX(rec_rows)(SFX(rec_bufs) s, size_t r0, int T, int I, int H, int G) {
    const size_t tH = (size_t)T * H, tG = (size_t)T * G;
    s.x += r0 * T * I, s.h += r0 * tH, s.dh += r0 * tH;
    if (s.c) s.c += r0 * tH;
    if (s.a) s.a += r0 * tG;
    if (s.gh) s.gh += r0 * tG;
    return s;
}

/* Row r0 of part k (h 0, c 1) of layer l's initial state in v, or NULL. */
static REAL *SFX(state_row)(const node *nd, void *v, int B, int k, int l, int r0) {
    REAL *s = SFX(state_at)(nd, v, B, k, l);
    return s ? s + (size_t)r0 * nd->o.out : NULL;
}

/* Each layer on the one below's outputs (seq_fast.h's kernels), from the
 * node's initial state, for a part's sequences: rows of a batch never
 * meet through time, so a member takes its own through every layer
 * without waiting for the others. Outputs past a sequence's length
 * zeros. */
static void SFX(rec_forward)(bp_graph *g, node *nd, part p) {
    const int B = g->B, T = nd->shape[0], H = nd->o.out, G = bp_op_gates(nd->op) * H,
              relu = nd->o.act == BP_ACT_RELU, S = p.S, r0 = p.r0;
    for (int l = 0; l < nd->o.layers; l++) {
        int I = l ? H : nd->o.in;
        SFX(rec_bufs) s = SFX(rec_rows)(SFX(rec_layer)(g, nd, B, l), (size_t)r0, T, I, H, G);
        REAL *h0 = SFX(state_row)(nd, nd->state, B, 0, l, r0);
        const REAL *wih = T_(nd, 4 * l), *whh = T_(nd, 4 * l + 1),
                   *bih = T_(nd, 4 * l + 2), *bhh = T_(nd, 4 * l + 3);
        if (nd->op == BP_OP_LSTM)
            SFX(bp_lstm_forward)
            (s.h, s.c, s.a, s.x, h0, SFX(state_row)(nd, nd->state, B, 1, l, r0), wih, whh,
             bih, bhh, S, T, I, H);
        else if (nd->op == BP_OP_GRU)
            SFX(bp_gru_forward)(s.h, s.a, s.gh, s.x, h0, wih, whh, bih, bhh, S, T, I, H);
        else SFX(bp_rnn_forward)(s.h, s.x, h0, wih, whh, bih, bhh, relu, S, T, I, H);
        SFX(mask_steps)(g, SFX(rec_layer)(g, nd, B, l).h, p, T, H);
    }
}

/* Layer l's first half of backward (bp_seq.h's _steps kernels) on a
 * part's sequences: dz (a gru's dgi, then dgh at dz + 3 B T H), the
 * carry (its rows' own), dx and the initial state's gradient of its
 * rows. */
static void SFX(rec_steps)(bp_graph *g, node *nd, part p, int l, REAL *dz, REAL *carry,
                           REAL *dx) {
    const int B = g->B, T = nd->shape[0], H = nd->o.out, G = bp_op_gates(nd->op) * H,
              I = l ? H : nd->o.in, r0 = p.r0, S = p.S;
    const size_t BTH = (size_t)B * T * H, at = (size_t)r0 * T * G;
    SFX(rec_bufs) s = SFX(rec_rows)(SFX(rec_layer)(g, nd, B, l), (size_t)r0, T, I, H, G);
    REAL *h0 = SFX(state_row)(nd, nd->state, B, 0, l, r0),
         *dh0 = SFX(state_row)(nd, nd->dstate, B, 0, l, r0);
    const REAL *wih = T_(nd, 4 * l), *whh = T_(nd, 4 * l + 1);
    carry += (size_t)rec_of(nd->op).carry * r0 * H;
    if (dx) dx += (size_t)r0 * T * I;
    if (nd->op == BP_OP_LSTM)
        SFX(bp_lstm_backward_steps)
        (dx, dh0, SFX(state_row)(nd, nd->dstate, B, 1, l, r0), dz + at, carry, s.dh,
         SFX(state_row)(nd, nd->state, B, 1, l, r0), s.c, s.a, wih, whh, S, T, I, H);
    else if (nd->op == BP_OP_GRU)
        SFX(bp_gru_backward_steps)
        (dx, dh0, dz + at, dz + 3 * BTH + at, carry, s.dh, h0, s.h, s.a, s.gh, wih, whh, S,
         T, I, H);
    else
        SFX(bp_rnn_backward_steps)
        (dx, dh0, dz + at, carry, s.dh, s.h, wih, whh, nd->o.act == BP_ACT_RELU, S, T, I, H);
}

/* From the last layer down, each layer's dx the dh of the one below; the
 * initial state's gradient into dstate when there is a state. On a team
 * each member takes its own sequences back through time (rec_steps),
 * then, once all have (a meeting), its rows of the weights' gradients
 * over every sequence (bp_rec_backward_weights). Layers take turns
 * between two sets of dz (rec_work), so that the next layer's steps may
 * start while other members still read this one's: the meeting after
 * those steps is after every member's weights of this layer, before the
 * layer after next writes this set again. */
static void SFX(rec_backward)(bp_graph *g, node *nd, part p, int want_dx) {
    const int B = g->B, T = nd->shape[0], H = nd->o.out, G = bp_op_gates(nd->op) * H;
    const size_t BTH = (size_t)B * T * H;
    rec_layout r = rec_of(nd->op);
    REAL *dzs = (REAL *)nd->work + (size_t)nd->o.layers * r.per_layer * BTH,
         *carry = dzs + (size_t)r.dz * dz_sets(nd) * BTH;
    SFX(mask_steps)(g, nd->dy, p, T, H);
    for (int l = nd->o.layers - 1; l >= 0; l--) {
        REAL *dz = dzs + (size_t)(l % 2) * r.dz * BTH;
        REAL *dx =
            l ? SFX(rec_layer)(g, nd, B, l - 1).dh : SFX(din_of)(g, nd, 0, want_dx);
        if (l) memset(dx + (size_t)p.r0 * T * H, 0, sizeof(REAL) * (size_t)p.S * T * H);
        SFX(rec_steps)(g, nd, p, l, dz, carry, dx);
        if (p.T > 1) bp_team_sync(g->team);
        SFX(rec_bufs) s = SFX(rec_layer)(g, nd, B, l);
        SFX(bp_rec_backward_weights)
        (G_(nd, 4 * l), G_(nd, 4 * l + 1), G_(nd, 4 * l + 2), G_(nd, 4 * l + 3), dz,
         nd->op == BP_OP_GRU ? dz + 3 * BTH : dz, s.x, s.h,
         SFX(state_at)(nd, nd->state, B, 0, l), B, T, l ? H : nd->o.in, H, G,
         (int)((long)G * p.t / p.T), (int)((long)G * (p.t + 1) / p.T));
    }
}

/* attention: its buffers in the node's work (attn_work in graph.c): qkv,
 * att and the weights p, which the forward writes and the backward reads,
 * then the backward's workspaces datt, dqkv and dp. */
typedef struct SFX(attn_bufs) {
    REAL *qkv, *att, *p, *datt, *dqkv, *dp;
} SFX(attn_bufs);

static SFX(attn_bufs) SFX(attn_of)(const node *nd, int B) {
    size_t T = (size_t)nd->shape[0], BTC = (size_t)B * T * nd->o.in;
    SFX(attn_bufs) s;
    s.qkv = nd->work, s.att = s.qkv + 3 * BTC, s.p = s.att + BTC;
    s.datt = s.p + (size_t)B * nd->o.heads * T * T, s.dqkv = s.datt + BTC;
    s.dp = s.dqkv + 3 * BTC;
    return s;
}

/* Tensors c_attn.weight, c_attn.bias, c_proj.weight, c_proj.bias (0 .. 3);
 * the products' path (attn_fast.h). */
static void SFX(attention_forward)(bp_graph *g, node *nd, int B) {
    SFX(attn_bufs) s = SFX(attn_of)(nd, B);
    SFX(bp_attention_forward)
    (nd->y, s.qkv, s.p, s.att, SFX(y_of)(g, nd->in[0]), T_(nd, 0), T_(nd, 1), T_(nd, 2),
     T_(nd, 3), B, nd->shape[0], nd->o.in, nd->o.heads, nd->o.causal);
}
static void SFX(attention_backward)(bp_graph *g, node *nd, int B, int want_dx) {
    SFX(attn_bufs) s = SFX(attn_of)(nd, B);
    SFX(bp_attention_backward_store)
    (SFX(din_of)(g, nd, 0, want_dx), G_(nd, 0), G_(nd, 1), G_(nd, 2), G_(nd, 3), s.datt,
     s.dqkv, s.dp, nd->dy, SFX(y_of)(g, nd->in[0]), s.qkv, s.p, s.att, T_(nd, 0),
     T_(nd, 2), B, nd->shape[0], nd->o.in, nd->o.heads, nd->o.causal, nd->dy_store & 1u);
}

/* position: y[b][t] = x[b][t] + weight[t] over T x C values a sample (T
 * the sequence's, at most the block's rows). */
static void SFX(position_forward)(bp_graph *g, node *nd, int B) {
    const REAL *x = SFX(y_of)(g, nd->in[0]), *w = T_(nd, 0);
    REAL *y = nd->y;
    const size_t n = nd->count;
    for (size_t b = 0; b < (size_t)B; b++)
        for (size_t k = 0; k < n; k++) y[b * n + k] = x[b * n + k] + w[k];
}
/* dx += dy; dweight[t] += the sum over the batch of dy[b][t]. */
static void SFX(position_backward)(bp_graph *g, node *nd, int B, int want_dx) {
    REAL *din = SFX(din_of)(g, nd, 0, want_dx), *dw = G_(nd, 0);
    const REAL *dy = nd->dy;
    const int store = nd->dy_store & 1u; /* this backward writes din first (mark_writers) */
    for (size_t b = 0; b < (size_t)B; b++)
        for (size_t k = 0; k < nd->count; k++) {
            const size_t j = b * nd->count + k;
            dw[k] += dy[j];
            if (din) din[j] = store ? dy[j] : din[j] + dy[j];
        }
}

/* add: y = the sum of the inputs, in their order; each gets dy. */
static void SFX(add_forward)(bp_graph *g, node *nd, int B) {
    size_t n = (size_t)B * nd->count;
    REAL *y = nd->y;
    const REAL *x0 = SFX(y_of)(g, nd->in[0]);
    if (nd->n_in < 2) memcpy(y, x0, sizeof(REAL) * n);
    else { /* the first sum in the pass that copies: one pass less */
        const REAL *x1 = SFX(y_of)(g, nd->in[1]);
        for (size_t j = 0; j < n; j++) y[j] = x0[j] + x1[j];
    }
    for (int k = 2; k < nd->n_in; k++) {
        const REAL *x = SFX(y_of)(g, nd->in[k]);
        for (size_t j = 0; j < n; j++) y[j] += x[j];
    }
}
static void SFX(add_backward)(bp_graph *g, node *nd, int B, int want_dx) {
    size_t n = (size_t)B * nd->count;
    const REAL *dy = nd->dy;
    for (int k = 0; k < nd->n_in; k++) {
        REAL *din = SFX(din_of)(g, nd, k, want_dx);
        if (din && k < 32 && (nd->dy_store >> k & 1u)) memcpy(din, dy, sizeof(REAL) * n);
        else if (din)
            for (size_t j = 0; j < n; j++) din[j] += dy[j];
    }
}

/* concat: each sample's values are its inputs' in their order (along the
 * first dimension of a row-major sample, a block of each input's). */
static void SFX(concat_forward)(bp_graph *g, node *nd, int B) {
    size_t at = 0;
    for (int k = 0; k < nd->n_in; k++) {
        size_t c = g->nodes[nd->in[k]].count;
        const REAL *x = SFX(y_of)(g, nd->in[k]);
        for (int s = 0; s < B; s++)
            memcpy((REAL *)nd->y + s * nd->count + at, x + s * c, sizeof(REAL) * c);
        at += c;
    }
}
static void SFX(concat_backward)(bp_graph *g, node *nd, int B, int want_dx) {
    size_t at = 0;
    for (int k = 0; k < nd->n_in; k++) {
        size_t c = g->nodes[nd->in[k]].count;
        REAL *din = SFX(din_of)(g, nd, k, want_dx);
        for (int s = 0; din && s < B; s++) {
            const REAL *dy = (const REAL *)nd->dy + s * nd->count + at;
            for (size_t j = 0; j < c; j++) din[s * c + j] += dy[j];
        }
        at += c;
    }
}

#undef T_
#undef G_
#undef GF_

/* ------------------------------------------------------------------------ */
/* The walks                                                                 */

/* One node's forward: a part of the batch for an op that splits, else the
 * whole. A host's failure returns -1 with its message. */
static int SFX(forward_node)(bp_graph *g, node *nd, part p, bp_rng *r, bp_err *e) {
    const int B = g->B;
    switch (nd->op) {
        case BP_OP_LINEAR: SFX(linear_forward)(g, nd, p); break;
        case BP_OP_ACT: /* no y: an identity's view; chained: its conv2d's */
            if (nd->y && !nd->chained) SFX(act_forward)(g, nd, p);
            break;
        case BP_OP_DROPOUT: SFX(dropout_forward)(g, nd, p, r); break;
        case BP_OP_BATCHNORM1D: SFX(batchnorm_forward)(g, nd, B); break;
        case BP_OP_ADD: SFX(add_forward)(g, nd, B); break;
        case BP_OP_CONCAT: SFX(concat_forward)(g, nd, B); break;
        case BP_OP_CONV2D:
            if (nd->chain) SFX(chain_forward)(g, nd, p);
            else SFX(conv2d_forward)(g, nd, p);
            break;
        case BP_OP_MAXPOOL2D:
            if (!nd->chained) SFX(maxpool2d_forward)(g, nd, p);
            break;
        case BP_OP_AVGPOOL2D: SFX(avgpool2d_forward)(g, nd, p); break;
        case BP_OP_BATCHNORM2D: SFX(batchnorm2d_forward)(g, nd, B); break;
        case BP_OP_HOST: return host_run(g, nd, 0, 0, e);
        case BP_OP_EMBEDDING: SFX(embedding_forward)(g, nd, p); break;
        case BP_OP_LSTM:
        case BP_OP_RNN:
        case BP_OP_GRU: SFX(rec_forward)(g, nd, p); break;
        case BP_OP_LAYERNORM: SFX(layernorm_forward)(g, nd, B); break;
        case BP_OP_ATTENTION: SFX(attention_forward)(g, nd, B); break;
        case BP_OP_POSITION: SFX(position_forward)(g, nd, B); break;
        default: break;
    }
    return 0;
}

/* One node's backward, as forward_node. */
static int SFX(backward_node)(bp_graph *g, node *nd, part p, int want_dx, bp_err *e) {
    const int B = g->B;
    switch (nd->op) {
        case BP_OP_LINEAR: SFX(linear_backward)(g, nd, p, want_dx); break;
        case BP_OP_ACT:
            if (nd->dy) SFX(act_backward)(g, nd, p, want_dx);
            break;
        case BP_OP_DROPOUT: SFX(dropout_backward)(g, nd, p, want_dx); break;
        case BP_OP_BATCHNORM1D: SFX(batchnorm_backward)(g, nd, B, want_dx); break;
        case BP_OP_ADD: SFX(add_backward)(g, nd, B, want_dx); break;
        case BP_OP_CONCAT: SFX(concat_backward)(g, nd, B, want_dx); break;
        case BP_OP_CONV2D: SFX(conv2d_backward)(g, nd, p, want_dx); break;
        case BP_OP_MAXPOOL2D: /* chained: its conv2d's backward does it */
            if (!nd->chained) SFX(maxpool2d_backward)(g, nd, p, want_dx);
            break;
        case BP_OP_AVGPOOL2D: SFX(avgpool2d_backward)(g, nd, p, want_dx); break;
        case BP_OP_BATCHNORM2D: SFX(batchnorm2d_backward)(g, nd, B, want_dx); break;
        case BP_OP_HOST: return host_run(g, nd, 1, want_dx, e);
        case BP_OP_EMBEDDING: SFX(embedding_backward)(g, nd, p, want_dx); break;
        case BP_OP_LSTM:
        case BP_OP_RNN:
        case BP_OP_GRU: SFX(rec_backward)(g, nd, p, want_dx); break;
        case BP_OP_LAYERNORM: SFX(layernorm_backward)(g, nd, B, want_dx); break;
        case BP_OP_ATTENTION: SFX(attention_backward)(g, nd, B, want_dx); break;
        case BP_OP_POSITION: SFX(position_backward)(g, nd, B, want_dx); break;
        default: break;
    }
    return 0;
}

/* Every node in order, from the input already in place. input, flatten and
 * reshape have nothing to do: their values are another node's. A host's
 * failure stops the walk, with its message. */
static int SFX(forward_nodes)(bp_graph *g, bp_rng *r, bp_err *e) {
    const part whole = {0, g->B, 0, 1};
    for (int k = 0; k < g->n_order; k++)
        if (SFX(forward_node)(g, &g->nodes[g->order[k]], whole, r, e)) return -1;
    return 0;
}

/* Every node in reverse order, from the output's dy (the loss's), each
 * adding into its inputs' dy and its parameters' gradients. */
static int SFX(backward_nodes)(bp_graph *g, int want_dx, bp_err *e) {
    const part whole = {0, g->B, 0, 1};
    for (int k = g->n_order - 1; k >= 0; k--) {
        node *nd = &g->nodes[g->order[k]];
        if (!nd->needs) continue; /* frozen, and nothing before it trains */
        count_grads(g, nd);
        if (SFX(backward_node)(g, nd, whole, want_dx, e)) return -1;
    }
    return 0;
}

/* Member t of T's forward (bp_team_fn; the graph holds no host op, so no
 * node fails): each node split or whole on member 0. The members meet
 * only where one reads what others wrote since they last met: before a
 * whole node (it reads every row of its input) unless nothing split ran
 * since, and after it (every member reads its output). A run of split
 * nodes needs no meeting: each reads the rows its member wrote. */
static void SFX(forward_member)(void *arg, int t, int T) {
    bp_graph *g = arg;
    const part mine = part_of(g->B, t, T), whole = {0, g->B, 0, 1};
    bp_rng r = g->walk_rng ? *g->walk_rng : (bp_rng){{0}}; /* the member's own */
    int dirty = 0; /* a split node ran since the last meeting */
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        if (is_view(nd->op)) continue;
        int split = splits(nd->op);
        if (!split && dirty) bp_team_sync(g->team);
        if (split || t == 0) SFX(forward_node)(g, nd, split ? mine : whole, &r, NULL);
        if (!split) bp_team_sync(g->team);
        dirty = split;
    }
    if (t == 0) g->walk_end = r; /* read once the run has ended */
}

/* Member t of T's backward, meeting as forward_member does, and also
 * before a linear and an embedding (their weights' gradients sum over
 * every row of their dy). The members first zero their own rows of the
 * gradients (and their shares of the tensors' when fresh), and meet. A conv2d's partial sums of dW and db are added at
 * the end, after a last meeting (the one after a whole node, when one ran
 * last); without a conv2d the run's end is the last meeting. */
static void SFX(backward_member)(void *arg, int t, int T) {
    bp_graph *g = arg;
    const part mine = part_of(g->B, t, T), whole = {0, g->B, 0, 1};
    int dirty = 0;
    if (g->walk_fresh) zero_grads(g, t, T);
    zero_dy(g, mine.r0, mine.S);
    bp_team_sync(g->team);
    for (int k = g->n_order - 1; k >= 0; k--) {
        node *nd = &g->nodes[g->order[k]];
        if (!nd->needs || is_view(nd->op)) continue;
        int split = splits(nd->op);
        if ((!split || nd->op == BP_OP_LINEAR || nd->op == BP_OP_EMBEDDING) && dirty)
            bp_team_sync(g->team);
        if (t == 0) count_grads(g, nd);
        if (split || t == 0)
            SFX(backward_node)(g, nd, split ? mine : whole, g->walk_dx, NULL);
        if (!split) bp_team_sync(g->team);
        dirty = split;
    }
    int reduce = 0; /* a conv2d's partial sums to add (else the run's end meets) */
    for (int k = 0; k < g->n_order; k++) {
        const node *nd = &g->nodes[g->order[k]];
        reduce |= nd->needs && nd->op == BP_OP_CONV2D;
    }
    if (!reduce) return;
    if (dirty) bp_team_sync(g->team);
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        if (nd->needs && nd->op == BP_OP_CONV2D) SFX(conv2d_reduce)(g, nd, t, T);
    }
}
