/* test_graph.c: networks as graphs of modules (bp_graph.h, bp_net.h).
 *
 * Finite differences for every op in both dtypes, with batches of 1 and
 * several, also inside a residual block, a concatenation and a graph whose
 * input feeds two branches: every trainable value's gradient and
 * dLoss/d(input) against central differences of the loss. A graph of
 * linear and act modules against the stack of the same layers, to the
 * bit: forward, gradients, SGD steps, every optimiser, dLoss/d(input).
 * Every bad construction's exact message. The parameter list (names,
 * shapes, buffers), dropout's and batch norm's modes, and fit and
 * evaluate setting the mode and putting it back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_fit.h"
#include "bp_graph.h"
#include "bp_net.h"
#include "bp_ops.h"
#include "bp_optim.h"
#include "bp_save.h"
#include "check.h"
#include "fd_check.h"
#include "ops_vec.h"

/* ------------------------------------------------------------------------ */
/* Building graphs in a line each                                            */

static bp_graph *G;
static bp_rng R;

static void begin(bp_dtype t, int seed) {
    G = bp_graph_new(t, NULL);
    bp_rng_seed(&R, (uint64_t)seed);
}

static int add(bp_op op, const int *in, int n, bp_node_opts *o) {
    bp_err e;
    int id = bp_graph_add(G, op, in, n, o, &e);
    if (id < 0) fprintf(stderr, "add: %s\n", e.msg);
    CHECK(id >= 0);
    return id;
}

static int input(int ndim, int a, int b) {
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = ndim, o.shape[0] = a, o.shape[1] = b;
    return add(BP_OP_INPUT, NULL, 0, &o);
}

static int linear(int x, int I, int O, const char *name) {
    bp_node_opts o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = I, o.out = O, o.name = name, o.rng = &R;
    return add(BP_OP_LINEAR, &x, 1, &o);
}

static int act(int x, bp_act a, double alpha) {
    bp_node_opts o = bp_node_opts_default(BP_OP_ACT);
    o.act = a, o.alpha = alpha;
    return add(BP_OP_ACT, &x, 1, &o);
}

static int dropout(int x, double p) {
    bp_node_opts o = bp_node_opts_default(BP_OP_DROPOUT);
    o.p = p;
    return add(BP_OP_DROPOUT, &x, 1, &o);
}

static int batchnorm(int x, int F, const char *name) {
    bp_node_opts o = bp_node_opts_default(BP_OP_BATCHNORM1D);
    o.in = F, o.name = name;
    return add(BP_OP_BATCHNORM1D, &x, 1, &o);
}

static int flatten(int x) { return add(BP_OP_FLATTEN, &x, 1, NULL); }

static int reshape(int x, int a, int b) {
    bp_node_opts o = bp_node_opts_default(BP_OP_RESHAPE);
    o.ndim = 2, o.shape[0] = a, o.shape[1] = b;
    return add(BP_OP_RESHAPE, &x, 1, &o);
}

static int join(bp_op op, int a, int b, const char *name) {
    bp_node_opts o = bp_node_opts_default(op);
    o.name = name;
    int in[2] = {a, b};
    return add(op, in, 2, &o);
}

/* The net of G with output out. */
static bp_net *finish(int out) {
    bp_err e;
    if (bp_graph_finish(G, out, &e)) fprintf(stderr, "finish: %s\n", e.msg);
    bp_net *net = bp_net_from_graph(G, &e);
    CHECK(net != NULL);
    if (net) net->rng = &R;
    return net;
}

/* Every activation between two linears, on samples of one dimension and
 * of two (the linears and softmax on the last, then a flatten). */
static void test_fd_acts(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int a = 0; a < BP_ACT_COUNT; a++) {
            begin(t, 3 + a);
            int x = input(1, 3, 0);
            int o = linear(act(linear(x, 3, 4, NULL), a, 0.1), 4, 2, NULL);
            bp_net *net = finish(o);
            char what[64];
            snprintf(what, sizeof what, "linear-%s-linear", bp_act_name(a));
            fd_run(net, 1, BP_LOSS_MSE, what);
            fd_run(net, 4, BP_LOSS_MSE, what);
            bp_net_free(net);

            begin(t, 30 + a + 50 * t); /* weights with no kink within h */
            x = input(2, 2, 3);
            o = linear(flatten(act(linear(x, 3, 4, NULL), a, 0.1)), 8, 2, NULL);
            net = finish(o);
            snprintf(what, sizeof what, "2x3 linear-%s-flatten-linear", bp_act_name(a));
            fd_run(net, 1, BP_LOSS_HALF_SE, what);
            fd_run(net, 3, BP_LOSS_HALF_SE, what);
            bp_net_free(net);
        }
}

/* reshape, and a linear without bias. */
static void test_fd_reshape(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 5);
        int x = input(1, 6, 0);
        bp_node_opts o = bp_node_opts_default(BP_OP_LINEAR);
        o.in = 3, o.out = 2, o.no_bias = 1, o.rng = &R;
        int r = reshape(x, 2, 3);
        int l = add(BP_OP_LINEAR, &r, 1, &o);
        bp_net *net = finish(linear(act(flatten(l), BP_ACT_TANH, 0), 4, 1, NULL));
        int n;
        const bp_param *p = bp_net_param_list(net, &n);
        CHECK(n == 3);
        CHECK_STR(p[0].name, "2.weight");
        CHECK_STR(p[1].name, "5.weight");
        fd_run(net, 1, BP_LOSS_MSE, "reshape-linear(no bias)");
        fd_run(net, 5, BP_LOSS_MSE, "reshape-linear(no bias)");
        bp_net_free(net);
    }
}

/* dropout in training (the masks held fixed) and in evaluation. */
static void test_fd_dropout(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 6);
        int x = input(1, 4, 0);
        bp_net *net = finish(linear(dropout(linear(x, 4, 6, NULL), 0.3), 6, 2, NULL));
        fd_run(net, 1, BP_LOSS_MSE, "dropout (training)");
        fd_run(net, 4, BP_LOSS_MSE, "dropout (training)");
        bp_net_set_training(net, 0);
        fd_run(net, 1, BP_LOSS_MSE, "dropout (evaluation)");
        fd_run(net, 4, BP_LOSS_MSE, "dropout (evaluation)");
        bp_net_free(net);
    }
}

/* batchnorm1d in training (B >= 2) and in evaluation, after running
 * statistics of a few steps. */
static void test_fd_batchnorm(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 7);
        int x = input(1, 3, 0);
        int h = act(batchnorm(linear(x, 3, 4, NULL), 4, "bn"), BP_ACT_TANH, 0);
        bp_net *net = finish(linear(h, 4, 2, NULL));
        fd_run(net, 2, BP_LOSS_MSE, "batchnorm (training)");
        fd_run(net, 5, BP_LOSS_MSE, "batchnorm (training)");
        /* gamma and beta away from 1 and 0 */
        const bp_param *g = bp_net_param_find(net, "bn.weight", NULL);
        for (size_t k = 0; k < g->count; k++)
            t ? (((float *)g->data)[k] = 0.5f + k) : (((double *)g->data)[k] = 0.5 + k);
        fd_run(net, 4, BP_LOSS_MSE, "batchnorm (training, scaled)");
        bp_net_set_training(net, 0);
        fd_run(net, 1, BP_LOSS_MSE, "batchnorm (evaluation)");
        fd_run(net, 4, BP_LOSS_MSE, "batchnorm (evaluation)");
        bp_net_free(net);
    }
}

/* A residual block x + f(x), x a linear's output (so an identity module
 * and a branch meet in an add); a concatenation of two branches that both
 * read the input; the input itself in a sum. */
static void test_fd_branches(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 8);
        int x = input(1, 4, 0);
        int a = linear(x, 4, 4, "in");
        int f = linear(act(a, BP_ACT_TANH, 0), 4, 4, "f");
        int s = join(BP_OP_ADD, act(a, BP_ACT_IDENTITY, 0), f, "res");
        bp_net *net = finish(linear(act(s, BP_ACT_RELU, 0), 4, 2, "out"));
        fd_run(net, 1, BP_LOSS_MSE, "residual");
        fd_run(net, 4, BP_LOSS_MSE, "residual");
        bp_net_free(net);

        begin(t, 9);
        x = input(1, 3, 0);
        int b1 = act(linear(x, 3, 2, "a"), BP_ACT_SIGMOID, 0);
        int b2 = act(linear(x, 3, 4, "b"), BP_ACT_LEAKY_RELU, 0.2);
        int c = join(BP_OP_CONCAT, b1, b2, "cat");
        net = finish(linear(c, 6, 3, "out"));
        fd_run(net, 1, BP_LOSS_SOFTMAX_CE, "concat of two branches of the input");
        fd_run(net, 4, BP_LOSS_SOFTMAX_CE, "concat of two branches of the input");
        bp_net_free(net);

        begin(t, 10);
        x = input(1, 4, 0);
        s = join(BP_OP_ADD, x, linear(x, 4, 4, NULL), NULL);
        net = finish(linear(dropout(s, 0.2), 4, 2, NULL));
        fd_run(net, 1, BP_LOSS_MSE, "input + linear(input), dropout");
        fd_run(net, 3, BP_LOSS_MSE, "input + linear(input), dropout");
        bp_net_free(net);
    }
}

/* Gradients that a backward stores into rather than adds to, unzeroed
 * (graph.c's mark_writers): a linear's output read by a GELU and, later
 * in the order, by an add (which writes first, and stores); a GELU's
 * output read twice by one add (its first slot stores, its second adds);
 * a layer norm's output through a flatten into a linear. Twice in a row on
 * the same buffers, so that a gradient left from the last backward would
 * show as an error of the second. */
static void test_fd_stored_gradients(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 12);
        int x = input(2, 2, 3);
        int a = linear(x, 3, 3, "a");
        int d = join(BP_OP_ADD, act(a, BP_ACT_GELU, 0), act(a, BP_ACT_IDENTITY, 0), "d");
        d = join(BP_OP_ADD, d, d, "twice");
        bp_node_opts lo = bp_node_opts_default(BP_OP_LAYERNORM);
        lo.in = 3;
        int ln = add(BP_OP_LAYERNORM, &d, 1, &lo);
        int f = reshape(linear(flatten(ln), 6, 6, "f"), 2, 3);
        int s = join(BP_OP_ADD, a, f, "res");
        bp_net *net = finish(linear(flatten(s), 6, 2, "out"));
        for (int k = 0; k < 2; k++) fd_run(net, 3, BP_LOSS_MSE, "stored gradients");
        bp_net_free(net);
    }
}

static int seq_op(bp_op op, int x, int C, int block) {
    bp_node_opts o = bp_node_opts_default(op);
    if (op == BP_OP_ATTENTION) o.in = C, o.heads = 2, o.causal = 1, o.block = block;
    else o.out = C, o.in = block; /* position */
    o.rng = &R;
    return add(op, &x, 1, &o);
}

/* Attention and position store their input's gradient where they write it
 * first (attention by its dx product's beta 0, position by a copy), and
 * add to it otherwise: a linear read by the position alone (stored), a
 * layer norm read by the first attention alone (stored), a position read
 * by the second attention and then by an add (the add stores, the
 * attention adds). Finite differences twice on the same buffers, as
 * test_fd_stored_gradients: a store turned off without the zeroing, or an
 * add where the buffer is not zeroed, leaves the first backward's values
 * in the second's. */
static void test_fd_stored_attention(void) {
    enum { T = 4, C = 8 };
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 13);
        int x = input(2, T, C);
        int p = seq_op(BP_OP_POSITION, linear(x, C, C, "a"), C, T);
        bp_node_opts lo = bp_node_opts_default(BP_OP_LAYERNORM);
        lo.in = C;
        int ln = add(BP_OP_LAYERNORM, &p, 1, &lo);
        int r = join(BP_OP_ADD, p, seq_op(BP_OP_ATTENTION, ln, C, T), "r1");
        int q = seq_op(BP_OP_POSITION, r, C, T);
        r = join(BP_OP_ADD, q, seq_op(BP_OP_ATTENTION, q, C, T), "r2");
        bp_net *net = finish(linear(flatten(r), T * C, 2, "out"));
        for (int k = 0; k < 2; k++) fd_run(net, 3, BP_LOSS_MSE, "stored by attention");
        bp_net_free(net);
    }
}

/* The same values, == (a stored gradient may be -0 where an added one is
 * +0). */
static int same_floats(const float *a, const float *b, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (!(a[k] == b[k])) return 0;
    return 1;
}

/* The backward of x -> linear -> GELU (the output, its gradient given):
 * the linear makes the GELU's backward too, in the same blocks
 * (mark_writers' gelu_back), from the derivative its training forward left
 * in dh's buffer (gelu_d), and gives what the unfused kernels give on all
 * rows at once: bp_gelu_backward_vec, then bp_dense_backward_to_f32 (13
 * checks fail if the forward leaves no derivative there). */
static void linear_gelu_backward_case(int S, int M, int I, int O) {
    begin(BP_F32, 22);
    int x = input(2, M, I), h = act(linear(x, I, O, "fc"), BP_ACT_GELU, 0);
    bp_net *net = finish(h);
    int n, lin = h - 1;
    const bp_param *t = bp_graph_params(G, &n);
    size_t nx = (size_t)S * M * I, nh = (size_t)S * M * O, nw = (size_t)O * I;
    bp_err e;
    float *xv = malloc(sizeof(float) * nx), *dh = malloc(sizeof(float) * nh);
    float *dx = malloc(sizeof(float) * nx), *dW = calloc(nw, sizeof(float)),
          *db = calloc((size_t)O, sizeof(float));
    for (size_t k = 0; k < nx; k++) xv[k] = (float)(2 * bp_rng_uniform(&R) - 1);
    CHECK(bp_graph_reserve(G, S, &e) == 0);
    CHECK(bp_graph_forward(G, xv, S, 1, &R, &e) == 0);
    float *dout = bp_graph_output_grad(G);
    for (size_t k = 0; k < nh; k++) dout[k] = (float)(2 * bp_rng_uniform(&R) - 1);
    memset(t[0].grad, 0, sizeof(float) * nw);
    memset(t[1].grad, 0, sizeof(float) * (size_t)O);
    CHECK(bp_graph_backward(G, 1, &e) == 0);
    bp_gelu_backward_vec(dh, dout, bp_graph_node_value(G, lin), bp_graph_node_value(G, h), nh,
                         0);
    bp_dense_backward_to_f32(dx, dW, db, dh, xv, t[0].data, S * M, I, O, 0);
    CHECK(same_floats(bp_graph_input_grad(G), dx, nx));
    CHECK(same_floats(t[0].grad, dW, nw));
    CHECK(same_floats(t[1].grad, db, (size_t)O));
    free(xv), free(dh), free(dx), free(dW), free(db);
    bp_net_free(net);
}

/* A float32 linear feeding a GELU makes the GELU's values itself, a block
 * of 128 rows (65536 / 512 outputs) at a time (graph.c fuse_linear_gelus):
 * over 3 samples of 70 rows (two blocks, the second short) both outputs
 * are the bits of the unfused kernels on all 210 rows at once,
 * bp_dense_forward_f32 then bp_gelu_forward_vec, on a second forward from
 * other inputs too (stale values would show). The backward likewise
 * (linear_gelu_backward_case), with W9's MLP shape and with blocks of
 * 4096 rows of 16 outputs and a tail of 1 row, and below BLAS_MIN_WORK
 * (plain loops); through a graph's walk,
 * test_fd_acts's finite differences (every activation between two
 * linears, float32 too). */
static void test_linear_gelu_fused(void) {
    enum { S = 3, M = 70, I = 64, O = 512 };
    begin(BP_F32, 21);
    int x = input(2, M, I), h = linear(x, I, O, "fc"), o = act(h, BP_ACT_GELU, 0);
    bp_net *net = finish(linear(o, O, 8, "out"));
    int n;
    const bp_param *t = bp_graph_params(G, &n);
    size_t nx = (size_t)S * M * I, nh = (size_t)S * M * O;
    bp_err e;
    float *xv = malloc(sizeof(float) * nx), *h_ref = malloc(sizeof(float) * nh),
          *o_ref = malloc(sizeof(float) * nh);
    for (int round = 0; round < 2; round++) {
        for (size_t k = 0; k < nx; k++) xv[k] = (float)(2 * bp_rng_uniform(&R) - 1);
        CHECK(bp_graph_reserve(G, S, &e) == 0);
        CHECK(bp_graph_forward(G, xv, S, 1, &R, &e) == 0);
        bp_dense_forward_f32(h_ref, xv, t[0].data, t[1].data, S * M, I, O);
        bp_gelu_forward_vec(o_ref, h_ref, nh);
        CHECK(!memcmp(bp_graph_node_value(G, h), h_ref, sizeof(float) * nh));
        CHECK(!memcmp(bp_graph_node_value(G, o), o_ref, sizeof(float) * nh));
    }
    free(xv), free(h_ref), free(o_ref);
    bp_net_free(net);
    linear_gelu_backward_case(3, 70, 128, 512);
    linear_gelu_backward_case(4097, 1, 3, 16);
    linear_gelu_backward_case(3, 2, 2, 4); /* below BLAS_MIN_WORK: the loops */
}

/* ------------------------------------------------------------------------ */
/* A graph of linear and act modules is the stack of the same layers        */

static bp_net *lecture_stack(bp_dtype t, const int *sizes, int L, const bp_act *acts) {
    bp_net *net = bp_net_new_dtype(sizes[0], t, NULL);
    bp_rng r;
    bp_rng_seed(&r, 11);
    for (int l = 1; l <= L; l++) {
        bp_net_add(net, sizes[l], acts[l - 1], 0.05, NULL);
        bp_net_init(net, l, 'w', BP_INIT_XAVIER, 0, 0, &r, NULL);
        bp_net_init(net, l, 'b', BP_INIT_UNIFORM, -0.5, 0.5, &r, NULL);
    }
    return net;
}

static int same_params(const bp_net *a, const bp_net *b) {
    size_t P = bp_net_param_count(a);
    if (P != bp_net_param_count(b)) return 0;
    double *pa = malloc(sizeof(double) * P), *pb = malloc(sizeof(double) * P);
    bp_net_params_get(a, pa);
    bp_net_params_get(b, pb);
    int same = memcmp(pa, pb, sizeof(double) * P) == 0;
    free(pa);
    free(pb);
    return same;
}

/* The gradients, value for value (== rather than memcmp: the stack's fused
 * kernels overwrite where the graph adds into zeros, so a gradient of zero
 * may be -0 in one and +0 in the other; every step then gives the same
 * bits, w - lr * (+-0) being w). */
static int same_grads(const bp_net *a, const bp_net *b) {
    int na, nb;
    const bp_param *ta = bp_net_param_list(a, &na), *tb = bp_net_param_list(b, &nb);
    if (na != nb) return 0;
    for (int k = 0; k < na; k++) {
        if (ta[k].count != tb[k].count) return 0;
        for (size_t j = 0; j < ta[k].count; j++) {
            double ga =
                a->dtype == BP_F32 ? ((float *)ta[k].grad)[j] : ((double *)ta[k].grad)[j];
            double gb =
                b->dtype == BP_F32 ? ((float *)tb[k].grad)[j] : ((double *)tb[k].grad)[j];
            if (ga != gb) return 0;
        }
    }
    return 1;
}

static void same_as_stack(bp_dtype t, const int *sizes, int L, const bp_act *acts, int B,
                          bp_loss loss) {
    bp_net *s = lecture_stack(t, sizes, L, acts), *g = lecture_stack(t, sizes, L, acts);
    bp_err e;
    CHECK(bp_net_to_graph(g, &e) == 0);
    CHECK(bp_net_is_graph(g) && !bp_net_is_graph(s));
    CHECK(g->inputs == s->inputs && bp_net_outputs(g) == bp_net_outputs(s));
    CHECK(same_params(s, g));
    int I = sizes[0], O = sizes[L];
    double x[8 * 16], y[8 * 16], dxs[8 * 16], dxg[8 * 16];
    bp_rng r;
    bp_rng_seed(&r, 12);
    for (int k = 0; k < B * I; k++) x[k] = 2 * bp_rng_uniform(&r) - 1;
    for (int k = 0; k < B * O; k++) y[k] = bp_rng_uniform(&r);
    if (loss == BP_LOSS_SOFTMAX_CE)
        for (int s0 = 0; s0 < B; s0++) {
            double sum = 0;
            for (int n = 0; n < O; n++) sum += y[s0 * O + n];
            for (int n = 0; n < O; n++) y[s0 * O + n] /= sum;
        }
    const double *os = bp_net_forward(s, x, B, &e);
    double out_s[8 * 16];
    memcpy(out_s, os, sizeof(double) * (size_t)B * O);
    const double *og = bp_net_forward(g, x, B, &e);
    CHECK(memcmp(out_s, og, sizeof(double) * (size_t)B * O) == 0);
    double ls, lg;
    CHECK(bp_net_compute_grads(s, x, y, B, loss, &ls, &e) == 0);
    CHECK(bp_net_compute_grads(g, x, y, B, loss, &lg, &e) == 0);
    CHECK(ls == lg);
    CHECK(same_grads(s, g));
    if (!same_grads(s, g))
        fprintf(stderr, "grads differ: %s, %d layers, act 1 %s, B=%d, loss %s\n",
                bp_dtype_name(t), L, bp_act_name(acts[0]), B, bp_loss_name(loss));
    for (int k = 0; k < 5; k++) {
        CHECK(bp_net_train_step(s, x, y, B, loss, 0.1, &ls, &e) == 0);
        CHECK(bp_net_train_step(g, x, y, B, loss, 0.1, &lg, &e) == 0);
        CHECK(ls == lg);
    }
    CHECK(same_params(s, g));
    /* dLoss/d(input) */
    double dout[8 * 16];
    for (int k = 0; k < B * O; k++) dout[k] = y[k] - 0.5;
    bp_net_forward(s, x, B, &e);
    bp_net_forward(g, x, B, &e);
    CHECK(bp_net_backward_input(s, dout, dxs, &e) == 0);
    CHECK(bp_net_backward_input(g, dout, dxg, &e) == 0);
    CHECK(memcmp(dxs, dxg, sizeof(double) * (size_t)B * I) == 0);
    /* the lecture's numbers reach the same values */
    if (t == BP_F64) {
        double *ws = bp_net_weight(s, 1, 2, 1, &e), *wg = bp_net_weight(g, 1, 2, 1, &e);
        CHECK(ws && wg && *ws == *wg);
        CHECK(*bp_net_grad_bias(s, L, 1, &e) == *bp_net_grad_bias(g, L, 1, &e));
    }
    CHECK(bp_net_param_index(g, L, 1, 2, &e) == 1);
    CHECK(bp_net_weight(g, L + 1, 1, 1, &e) == NULL);
    char want[64];
    snprintf(want, sizeof want, "layer %d out of range 1..%d", L + 1, L);
    CHECK_STR(e.msg, want);
    bp_net_free(s);
    bp_net_free(g);
}

static void test_same_as_stack(void) {
    static const int lecture[] = {2, 3, 1};
    static const bp_act lacts[] = {BP_ACT_SIGMOID, BP_ACT_IDENTITY};
    static const int deep[] = {5, 8, 6, 4};
    static const bp_act dacts[] = {BP_ACT_RELU, BP_ACT_LEAKY_RELU, BP_ACT_IDENTITY};
    static const bp_act sacts[] = {BP_ACT_TANH, BP_ACT_SIGMOID, BP_ACT_SOFTMAX};
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int B = 1; B <= 8; B += 7) {
            same_as_stack(t, lecture, 2, lacts, B, BP_LOSS_HALF_SE);
            same_as_stack(t, deep, 3, dacts, B, BP_LOSS_SOFTMAX_CE);
            same_as_stack(t, deep, 3, sacts, B, BP_LOSS_MSE);
        }
}

/* The parameter names of a stack, and of the graph it becomes. */
static void test_stack_names(void) {
    static const int sizes[] = {2, 3, 1};
    static const bp_act acts[] = {BP_ACT_SIGMOID, BP_ACT_IDENTITY};
    bp_net *net = lecture_stack(BP_F64, sizes, 2, acts);
    static const char *names[] = {"1.weight", "1.bias", "2.weight", "2.bias"};
    static const int shapes[][2] = {{3, 2}, {3, 0}, {1, 3}, {1, 0}};
    for (int form = 0; form < 2; form++) {
        int n;
        const bp_param *p = bp_net_param_list(net, &n);
        CHECK(n == 4);
        for (int k = 0; k < n && k < 4; k++) {
            CHECK_STR(p[k].name, names[k]);
            CHECK(p[k].ndim == (k % 2 ? 1 : 2) && p[k].trainable && p[k].grad);
            CHECK(p[k].shape[0] == shapes[k][0]);
            if (p[k].ndim == 2) CHECK(p[k].shape[1] == shapes[k][1]);
        }
        CHECK(bp_net_param_find(net, "2.weight", NULL) == &p[2]);
        bp_err e;
        CHECK(bp_net_param_find(net, "3.weight", &e) == NULL);
        CHECK_STR(e.msg, "no parameter named '3.weight'");
        CHECK(bp_net_to_graph(net, NULL) == 0);
    }
    CHECK_STR(bp_graph_node_name(net->graph, 2), "1.act");
    bp_net_free(net);
}

/* Every optimiser gives a graph the bits it gives the stack, and an
 * optimiser made for the stack goes on with the graph it becomes. */
static void test_optimisers(void) {
    static const int sizes[] = {3, 5, 2};
    static const bp_act acts[] = {BP_ACT_TANH, BP_ACT_IDENTITY};
    double x[4 * 3] = {0.1, -0.2, 0.3, 0.5, 0.4, -0.6, -0.7, 0.8, 0.9, 0.2, 0.1, 0};
    double y[4 * 2] = {1, 0, 0, 1, 0.5, 0.5, 1, 1};
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int k = 0; k < BP_OPTIM_COUNT; k++) {
            bp_net *s = lecture_stack(t, sizes, 2, acts),
                   *g = lecture_stack(t, sizes, 2, acts);
            bp_optim_config c = bp_optim_config_default(k);
            c.lr = 0.05, c.momentum = k == BP_OPTIM_ADAM ? 0 : 0.9, c.clip_norm = 0.5;
            c.weight_decay = 0.01;
            bp_err e;
            bp_optim *os = bp_optim_new(s, &c, &e), *og = bp_optim_new(g, &c, &e);
            for (int step = 0; step < 6; step++) {
                if (step == 3) CHECK(bp_net_to_graph(g, &e) == 0);
                CHECK(bp_net_compute_grads(s, x, y, 4, BP_LOSS_MSE, NULL, &e) == 0);
                CHECK(bp_net_compute_grads(g, x, y, 4, BP_LOSS_MSE, NULL, &e) == 0);
                CHECK(bp_optim_step(os, s, &e) == 0);
                CHECK(bp_optim_step(og, g, &e) == 0);
            }
            CHECK(same_params(s, g));
            size_t n1, n2;
            const double *m1 = bp_optim_state(os, bp_optim_state_name(os, 0), &n1);
            const double *m2 = bp_optim_state(og, bp_optim_state_name(og, 0), &n2);
            CHECK(n1 == n2 && n1 == 3 * 5 + 5 + 5 * 2 + 2);
            CHECK(m1 && m2 && memcmp(m1, m2, sizeof(double) * n1) == 0);
            bp_optim_free(os);
            bp_optim_free(og);
            bp_net_free(s);
            bp_net_free(g);
        }
}

/* An optimiser walks the trainable tensors only: batch norm's buffers are
 * saved with the rest (params_get) but never stepped; and a net of another
 * shape is refused by name. */
static void test_optimiser_buffers(void) {
    begin(BP_F64, 13);
    int x = input(1, 2, 0);
    bp_net *net = finish(linear(batchnorm(x, 2, "bn"), 2, 1, "fc"));
    CHECK(bp_net_param_count(net) == 2 + 2 + 2 + 2 + 1 + 2 + 1);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAM);
    c.lr = 0.1;
    bp_err e;
    bp_optim *o = bp_optim_new(net, &c, &e);
    size_t n;
    bp_optim_state(o, "m", &n);
    CHECK(n == 2 + 2 + 2 + 1);
    CHECK(bp_optim_state_size(o) == 1 + 2 * n);
    double xs[3 * 2] = {1, 2, 3, 5, 4, 0}, ys[3] = {1, 0, 1};
    CHECK(bp_net_compute_grads(net, xs, ys, 3, BP_LOSS_MSE, NULL, &e) == 0);
    const bp_param *rm = bp_net_param_find(net, "bn.running_mean", &e);
    const bp_param *nbt = bp_net_param_find(net, "bn.num_batches_tracked", &e);
    CHECK(!rm->trainable && !rm->grad && rm->ndim == 1 && nbt->ndim == 0);
    double before[2] = {((double *)rm->data)[0], ((double *)rm->data)[1]};
    CHECK_NEAR(before[0], 0.1 * 8 / 3.0, 1e-15);
    CHECK_NEAR(before[1], 0.1 * 7 / 3.0, 1e-15);
    CHECK(((double *)nbt->data)[0] == 1);
    CHECK(bp_optim_step(o, net, &e) == 0);
    CHECK(((double *)rm->data)[0] == before[0] && ((double *)rm->data)[1] == before[1]);

    begin(BP_F64, 13);
    x = input(1, 2, 0);
    bp_net *other = finish(linear(batchnorm(x, 2, "bn"), 2, 3, "fc"));
    CHECK(bp_optim_step(o, other, &e) == -1);
    CHECK_STR(e.msg, "parameter fc.weight has 6 values but the optimiser was made for 2");
    bp_optim_free(o);
    bp_net_free(net);
    bp_net_free(other);
}

/* ------------------------------------------------------------------------ */
/* Modes                                                                     */

/* Inverted dropout at the graph: the fraction dropped, the scaling, the
 * same masks from the same seed in both dtypes, the identity in
 * evaluation. */
static void test_dropout(void) {
    enum { N = 4000 };
    static double x[N];
    for (int k = 0; k < N; k++) x[k] = 1 + (k % 7);
    double *first = malloc(sizeof(double) * N);
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 1);
        int in = input(1, N, 0);
        bp_net *net = finish(dropout(in, 0.25));
        bp_rng_seed(&R, 99);
        const double *out = bp_net_forward(net, x, 1, NULL);
        int dropped = 0, scaled = 1;
        for (int k = 0; k < N; k++) {
            dropped += out[k] == 0;
            if (out[k] != 0) scaled &= fabs(out[k] - x[k] / 0.75) <= 1e-6 * x[k];
        }
        /* 1000 expected; 5 standard deviations of Binomial(4000, 0.25) is 137 */
        CHECK(dropped > 1000 - 137 && dropped < 1000 + 137);
        CHECK(scaled);
        if (t == 0) memcpy(first, out, sizeof(double) * N);
        else
            for (int k = 0; k < N; k++) CHECK((first[k] == 0) == (out[k] == 0));
        bp_rng_seed(&R, 99);
        out = bp_net_forward(net, x, 1, NULL);
        if (t == 0) CHECK(memcmp(first, out, sizeof(double) * N) == 0);
        CHECK(bp_net_set_training(net, 0) == 1);
        bp_rng before = R;
        out = bp_net_forward(net, x, 1, NULL);
        CHECK(memcmp(out, x, sizeof(double) * N) == 0);
        CHECK(memcmp(&before, &R, sizeof R) == 0); /* no draw */
        bp_net_free(net);
    }
    free(first);
}

/* Batch norm's running statistics after three training steps on one
 * batch (PyTorch's update, by hand), then evaluation with them. */
static void test_batchnorm_running(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 2);
        int in = input(1, 2, 0);
        bp_net *net = finish(batchnorm(in, 2, NULL));
        double x[3 * 2] = {1, 10, 2, 20, 6, 60};
        for (int k = 0; k < 3; k++) CHECK(bp_net_forward(net, x, 3, NULL) != NULL);
        /* mean (3, 30), biased var (14/3, 1400/3), unbiased (7, 700) */
        double keep = 0.9 * 0.9 * 0.9, tol = t ? 1e-4 : 1e-12;
        double rm[2] = {(1 - keep) * 3, (1 - keep) * 30};
        double rv[2] = {keep + (1 - keep) * 7, keep + (1 - keep) * 700};
        double p[2 + 2 + 2 + 2 + 1];
        bp_net_params_get(net, p);
        CHECK_NEAR(p[4], rm[0], tol * 3);
        CHECK_NEAR(p[5], rm[1], tol * 30);
        CHECK_NEAR(p[6], rv[0], tol * 7);
        CHECK_NEAR(p[7], rv[1], tol * 700);
        CHECK(p[8] == 3);
        bp_net_set_training(net, 0);
        const double *out = bp_net_forward(net, x, 1, NULL);
        CHECK_NEAR(out[0], (1 - rm[0]) / sqrt(rv[0] + 1e-5), t ? 1e-5 : 1e-12);
        CHECK_NEAR(out[1], (10 - rm[1]) / sqrt(rv[1] + 1e-5), t ? 1e-5 : 1e-12);
        bp_net_params_get(net, p);
        CHECK(p[8] == 3); /* evaluation tracks nothing */
        bp_net_free(net);
    }
}

static int count_steps(void *ud, int64_t step, double loss) {
    (void)loss;
    *(int64_t *)ud = step;
    return 0;
}

/* fit trains in training mode and evaluate evaluates in evaluation mode,
 * each putting back the mode it found. */
static void test_fit_modes(void) {
    begin(BP_F64, 3);
    int in = input(1, 2, 0);
    int h = dropout(act(batchnorm(linear(in, 2, 4, NULL), 4, "bn"), BP_ACT_RELU, 0), 0.1);
    bp_net *net = finish(linear(h, 4, 1, NULL));
    double xs[8 * 2], ys[8];
    for (int k = 0; k < 8; k++) xs[2 * k] = k, xs[2 * k + 1] = k % 3, ys[k] = k % 2;
    bp_err e;
    bp_data *d = bp_data_new(8, 2, 1, 0, &e);
    CHECK(d != NULL);
    memcpy(d->x, xs, sizeof xs);
    memcpy(d->y, ys, sizeof ys);
    int64_t steps = 0;
    bp_fit_config c = {
        .batch = 4, .loss = BP_LOSS_MSE, .lr = 0.1, .on_step = count_steps, .ud = &steps};
    bp_fit *f = bp_fit_new(d, &c, &e);
    const bp_param *nbt = bp_net_param_find(net, "bn.num_batches_tracked", NULL);
    bp_net_set_training(net, 0);
    double loss;
    CHECK(bp_fit_epoch(f, net, d, &loss, &e) == 0);
    CHECK(steps == 2 && ((double *)nbt->data)[0] == 2); /* trained in training mode */
    CHECK(net->training == 0);
    bp_net_set_training(net, 1);
    CHECK(bp_fit_evaluate(net, d, 3, BP_LOSS_MSE, &loss, NULL, NULL, &e) == 0);
    CHECK(isfinite(loss));
    CHECK(((double *)nbt->data)[0] == 2); /* evaluated in evaluation mode */
    CHECK(net->training == 1);
    /* a batch of 1 trains no batch norm, as in PyTorch */
    bp_fit_config c1 = c;
    c1.batch = 7;
    bp_fit *f1 = bp_fit_new(d, &c1, &e);
    CHECK(bp_fit_epoch(f1, net, d, &loss, &e) == -1);
    CHECK_STR(e.msg, "batchnorm1d (module 'bn'): training needs a batch of at least 2 "
                     "samples (got 1); evaluation mode takes any");
    bp_fit_free(f1);
    bp_fit_free(f);
    bp_data_free(d);
    bp_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Bad constructions                                                         */

static bp_err E;

static int try_add(bp_op op, const int *in, int n, const bp_node_opts *o) {
    return bp_graph_add(G, op, in, n, o, &E);
}

static void test_errors(void) {
    begin(BP_F64, 1);
    int x = input(1, 4, 0);
    /* mismatched widths, by name and by path */
    int a = linear(x, 4, 8, NULL);
    int b = linear(a, 4, 2, "fc2");
    CHECK(bp_graph_finish(G, b, &E) == -1);
    CHECK_STR(E.msg, "linear (module 'fc2'): takes 4 features, its input has shape 8");
    CHECK(!bp_graph_finished(G));
    CHECK(bp_graph_truncate(G, b, a, &E) == 0);
    /* a sum of unequal shapes */
    int s = join(BP_OP_ADD, a, x, "res1");
    CHECK(bp_graph_finish(G, s, &E) == -1);
    CHECK_STR(E.msg, "add (module 'res1'): its inputs have shapes 8 and 4");
    /* a concatenation that differs past the first dimension */
    bp_graph_truncate(G, s, a, &E);
    int r1 = reshape(a, 2, 4), r2 = reshape(x, 4, 1);
    int c = join(BP_OP_CONCAT, r1, r2, NULL);
    CHECK(bp_graph_finish(G, c, &E) == -1);
    CHECK_STR(E.msg,
              "concat (module '4'): its inputs have shapes 2x4 and 4x1, which differ "
              "past the first dimension");
    bp_graph_truncate(G, r1, a, &E);
    /* reshape to another count */
    int r = reshape(a, 3, 3);
    CHECK(bp_graph_finish(G, r, &E) == -1);
    CHECK_STR(E.msg,
              "reshape (module '2'): cannot make 8 values (shape 8) into shape 3x3");
    bp_graph_truncate(G, r, a, &E);
    /* batch norm of the wrong width */
    int bn = batchnorm(a, 4, "bn1");
    CHECK(bp_graph_finish(G, bn, &E) == -1);
    CHECK_STR(E.msg,
              "batchnorm1d (module 'bn1'): takes 4 features, its input has shape 8");
    bp_graph_truncate(G, bn, a, &E);
    /* a module not on the way to the output */
    int unused = act(x, BP_ACT_RELU, 0);
    CHECK(bp_graph_finish(G, a, &E) == -1);
    CHECK_STR(E.msg, "relu (module '2'): its output is not used on the way to the "
                     "network's output (module '1')");
    bp_graph_truncate(G, unused, a, &E);
    /* an input that is not used: a second input */
    bp_node_opts xo = bp_node_opts_default(BP_OP_INPUT);
    xo.ndim = 1, xo.shape[0] = 4, xo.name = "x2";
    int x2 = add(BP_OP_INPUT, NULL, 0, &xo);
    CHECK(bp_graph_finish(G, a, &E) == -1);
    CHECK_STR(E.msg, "the graph has 2 input modules (it needs exactly 1)");
    bp_graph_truncate(G, x2, a, &E);
    /* an unknown id */
    int nine = 9;
    int bad = add(BP_OP_ACT, &nine, 1, NULL);
    CHECK(bp_graph_finish(G, bad, &E) == -1);
    CHECK_STR(E.msg,
              "identity (module '2'): its input 9 is not one of the graph's modules "
              "(ids 0..2)");
    bp_graph_truncate(G, bad, a, &E);
    /* a cycle: p reads q, q reads p */
    int q_id = bp_graph_nodes(G) + 1;
    bp_node_opts o = bp_node_opts_default(BP_OP_ACT);
    o.name = "p";
    int p = try_add(BP_OP_ACT, &q_id, 1, &o);
    o.name = "q";
    int q = try_add(BP_OP_ACT, &p, 1, &o);
    CHECK(q == q_id);
    int in2[2] = {a, q};
    int sum = try_add(BP_OP_ADD, in2, 2, NULL);
    CHECK(bp_graph_finish(G, sum, &E) == -1);
    CHECK_STR(E.msg, "the graph has a cycle: identity (module 'q') is its own input, "
                     "through module 'p'");
    CHECK(bp_graph_truncate(G, p, a, &E) == 0);
    CHECK(bp_graph_finished(G));
    bp_graph_free(G);
}

static void test_option_errors(void) {
    begin(BP_F64, 1);
    int x = input(1, 4, 0);
    bp_node_opts o = bp_node_opts_default(BP_OP_DROPOUT);
    o.p = 1.5;
    CHECK(try_add(BP_OP_DROPOUT, &x, 1, &o) == -1);
    CHECK_STR(E.msg, "dropout (module '1'): p must be in [0, 1] (got 1.5)");
    o = bp_node_opts_default(BP_OP_BATCHNORM1D);
    o.in = 4, o.eps = 0;
    CHECK(try_add(BP_OP_BATCHNORM1D, &x, 1, &o) == -1);
    CHECK_STR(E.msg, "batchnorm1d (module '1'): eps must be a finite number > 0 (got 0)");
    o.eps = 1e-5, o.momentum = 2;
    CHECK(try_add(BP_OP_BATCHNORM1D, &x, 1, &o) == -1);
    CHECK_STR(E.msg, "batchnorm1d (module '1'): momentum must be in [0, 1] (got 2)");
    o = bp_node_opts_default(BP_OP_ACT);
    o.act = (bp_act)42;
    CHECK(try_add(BP_OP_ACT, &x, 1, &o) == -1);
    char want[256];
    snprintf(want, sizeof want, "act (module '1'): unknown activation 42 (expected %s)",
             bp_act_expected());
    CHECK_STR(E.msg, want);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 0, o.out = 3;
    CHECK(try_add(BP_OP_LINEAR, &x, 1, &o) == -1);
    CHECK_STR(E.msg, "linear (module '1'): needs in >= 1 and out >= 1 (got 0 and 3)");
    o = bp_node_opts_default(BP_OP_RESHAPE);
    o.ndim = 0;
    CHECK(try_add(BP_OP_RESHAPE, &x, 1, &o) == -1);
    CHECK_STR(E.msg,
              "reshape (module '1'): a shape needs 1 to 4 dimensions of at least 1 "
              "(and fewer than 2^31 values)");
    CHECK(try_add(BP_OP_ADD, &x, 1, NULL) == -1);
    CHECK_STR(E.msg, "add (module '1'): needs 2 to 64 inputs (got 1)");
    int two[2] = {x, x};
    CHECK(try_add(BP_OP_FLATTEN, two, 2, NULL) == -1);
    CHECK_STR(E.msg, "flatten (module '1'): takes 1 input (got 2)");
    CHECK(try_add(BP_OP_INPUT, two, 1, NULL) == -1);
    CHECK_STR(E.msg, "input (module 'input'): takes 0 inputs (got 1)");
    CHECK(try_add((bp_op)99, &x, 1, NULL) == -1);
    CHECK_STR(E.msg, "unknown module kind 99 (expected input, linear, act, dropout, "
                     "batchnorm1d, flatten, reshape, add, concat, conv2d, maxpool2d, "
                     "avgpool2d, batchnorm2d, host, embedding, lstm, rnn, gru, layernorm, "
                     "attention or position)");
    o = bp_node_opts_default(BP_OP_ACT);
    o.name = "a name of more than forty-eight characters, which is too long";
    CHECK(try_add(BP_OP_ACT, &x, 1, &o) == -1);
    CHECK_STR(E.msg, "act: a module's name needs 1 to 48 characters (got 61)");
    o.name = "input";
    CHECK(try_add(BP_OP_ACT, &x, 1, &o) == -1);
    CHECK_STR(E.msg, "identity (module 'input'): the name is taken by module 0");
    CHECK(bp_graph_nodes(G) == 1); /* nothing was added */
    CHECK(bp_graph_finish(G, 7, &E) == -1);
    CHECK_STR(E.msg, "the graph's output 7 is not one of its modules (ids 0..0)");
    bp_graph_free(G);

    /* modes a forward refuses, before anything runs */
    begin(BP_F64, 1);
    x = input(1, 2, 0);
    bp_net *net = finish(dropout(batchnorm(x, 2, "bn"), 0.5));
    double xs[4] = {1, 2, 3, 4};
    CHECK(bp_net_forward(net, xs, 1, &E) == NULL);
    CHECK_STR(E.msg, "batchnorm1d (module 'bn'): training needs a batch of at least 2 "
                     "samples (got 1); evaluation mode takes any");
    double y[2] = {0};
    CHECK(bp_net_backward(net, y, &E) == -1);
    CHECK_STR(E.msg, "backward needs a forward first");
    net->rng = NULL;
    CHECK(bp_net_forward(net, xs, 2, &E) == NULL);
    CHECK_STR(E.msg,
              "dropout (module '2'): training needs a random generator for its masks");
    const bp_param *nbt = bp_net_param_find(net, "bn.num_batches_tracked", NULL);
    CHECK(((double *)nbt->data)[0] == 0);
    bp_net_set_training(net, 0);
    CHECK(bp_net_forward(net, xs, 1, &E) != NULL);
    /* softmax_ce after a softmax module, as after a softmax layer */
    CHECK(bp_net_add_module(net, BP_OP_ACT, &(bp_node_opts){.act = BP_ACT_SOFTMAX}, &E) ==
          0);
    CHECK(bp_net_check_loss(net, BP_LOSS_SOFTMAX_CE, &E) == -1);
    CHECK_STR(E.msg,
              "softmax_ce takes logits: make the last layer 'identity' (softmax_ce "
              "applies the softmax itself)");
    /* a graph is saved as version 2 of the file (test_save.c has the rest) */
    unsigned char *buf;
    size_t len;
    CHECK(bp_net_encode(net, &buf, &len, &E) == 0);
    CHECK(len > 12 && buf[8] == 2);
    bp_free(buf);
    bp_net_free(net);
}

/* Appending to a net: a failed append leaves it as it was; bp_net_add on
 * a graph appends a linear and an act; a module on a stack makes it a
 * graph with the same values. */
static void test_append(void) {
    static const int sizes[] = {2, 3, 1};
    static const bp_act acts[] = {BP_ACT_SIGMOID, BP_ACT_IDENTITY};
    bp_net *net = lecture_stack(BP_F64, sizes, 2, acts);
    bp_net *ref = lecture_stack(BP_F64, sizes, 2, acts);
    bp_node_opts o = bp_node_opts_default(BP_OP_BATCHNORM1D);
    o.in = 5;
    CHECK(bp_net_add_module(net, BP_OP_BATCHNORM1D, &o, &E) == -1);
    CHECK_STR(E.msg, "batchnorm1d (module '5'): takes 5 features, its input has shape 1");
    CHECK(bp_net_is_graph(net) && bp_graph_nodes(net->graph) == 5);
    CHECK(same_params(net, ref));
    o = bp_node_opts_default(BP_OP_DROPOUT);
    o.p = 0;
    CHECK(bp_net_add_module(net, BP_OP_DROPOUT, &o, &E) == 0);
    CHECK(bp_net_add(net, 4, BP_ACT_TANH, 0, &E) == 0);
    CHECK(bp_net_outputs(net) == 4);
    int n;
    const bp_param *p = bp_net_param_list(net, &n);
    CHECK(n == 6);
    CHECK_STR(p[4].name, "6.weight");
    CHECK(p[4].shape[0] == 4 && p[4].shape[1] == 1);
    CHECK(bp_net_add(net, 0, BP_ACT_TANH, 0, &E) == -1);
    CHECK_STR(E.msg, "a layer needs at least 1 neuron (got 0)");
    double x[2] = {1, 2};
    const double *out = bp_net_forward(net, x, 1, &E);
    CHECK(out && out[0] == tanh(0) && out[3] == 0); /* zero weights, as bp_net_add's */
    CHECK(bp_net_init(net, 3, 'w', BP_INIT_CONSTANT, 0.5, 0, NULL, &E) == 0);
    out = bp_net_forward(net, x, 1, &E);
    const double *o2 = bp_net_forward(ref, x, 1, &E);
    CHECK_NEAR(out[0], tanh(0.5 * o2[0]), 1e-15);
    bp_net_free(net);
    bp_net_free(ref);
}

/* Initial weights: nn.Linear's bounds, drawn in the order of the adds;
 * explicit values draw nothing. */
static void test_init(void) {
    begin(BP_F64, 21);
    int x = input(1, 16, 0);
    int a = linear(x, 16, 8, NULL);
    bp_node_opts o = bp_node_opts_default(BP_OP_LINEAR);
    double w[2 * 8], b[2] = {0.5, -0.5};
    for (int k = 0; k < 16; k++) w[k] = k;
    o.in = 8, o.out = 2, o.weight = w, o.bias = b, o.rng = &R;
    bp_rng before = R;
    int c = add(BP_OP_LINEAR, &a, 1, &o);
    CHECK(memcmp(&before, &R, sizeof R) == 0);
    bp_net *net = finish(c);
    const bp_param *wa = bp_net_param_find(net, "1.weight", NULL);
    const bp_param *bc = bp_net_param_find(net, "2.bias", NULL);
    double lo = 1, hi = -1;
    for (size_t k = 0; k < wa->count; k++) {
        double v = ((double *)wa->data)[k];
        lo = fmin(lo, v), hi = fmax(hi, v);
    }
    CHECK(lo >= -0.25 && hi < 0.25 && hi - lo > 0.4); /* U(-1/sqrt(16), 1/sqrt(16)) */
    bp_rng r;
    bp_rng_seed(&r, 21);
    CHECK(((double *)wa->data)[0] == -0.25 + 0.5 * bp_rng_uniform(&r));
    CHECK(((double *)bc->data)[1] == -0.5);
    CHECK(((double *)bp_net_param_find(net, "2.weight", NULL)->data)[15] == 15);
    bp_net_free(net);
}

/* A stop flag set while a layer's initial weights are drawn (SIGINT in
 * bp.sequential{bp.linear(4096, 4096)}) ends the add with "interrupted"
 * and leaves the graph as it was. */
static void test_init_stop(void) {
    begin(BP_F64, 22);
    int x = input(1, 300, 0);
    volatile sig_atomic_t stop = 1;
    bp_node_opts o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 300, o.out = 300, o.rng = &R, o.stop = &stop;
    bp_err e = {0};
    CHECK(bp_graph_add(G, BP_OP_LINEAR, &x, 1, &o, &e) == -1);
    CHECK_STR(e.msg, "interrupted");
    CHECK(bp_graph_nodes(G) == 1);
    stop = 0;
    int a = add(BP_OP_LINEAR, &x, 1, &o);
    CHECK(a == 1);
    bp_net_free(finish(a));
}

int main(void) {
    test_fd_acts();
    test_fd_reshape();
    test_fd_dropout();
    test_fd_batchnorm();
    test_fd_branches();
    test_fd_stored_gradients();
    test_fd_stored_attention();
    test_linear_gelu_fused();
    test_same_as_stack();
    test_stack_names();
    test_optimisers();
    test_optimiser_buffers();
    test_dropout();
    test_batchnorm_running();
    test_fit_modes();
    test_errors();
    test_option_errors();
    test_append();
    test_init();
    test_init_stop();
    return check_report("test_graph");
}
