/* test_graph_team.c: a graph's steps split between the network's team of
 * threads (bp_graph_set_team, net.c's lend_team).
 *
 * A CNN with every op the team splits (conv2d with and without bias,
 * stride 1 and 2, max and average pooling, relu, linear) and the ones it
 * runs whole on the calling thread (batchnorm2d), large
 * enough for the team (about 2 M multiply-adds a step), in both dtypes:
 *   - the same thread count gives the same bits: two nets trained alike
 *     at 2 and at 3 threads end with the same weights to the bit;
 *   - against one thread, 2 and 3 threads (3 members on 2 cores, an
 *     uneven split of the batch) give the same losses, outputs, gradients
 *     (of the weights and of the input) and weights to rounding: 1e-12 relative in float64, 1e-6 in
 *     float32, where only the order of sums differs;
 *   - the team was used (made, of the size asked) and the thread count put
 *     back; a small batch stays on one thread;
 *   - dropout's masks drawn in parts, each member's from the generator
 *     skipped to its rows: one thread's masks and end state to the bit;
 *   - a step's gradients zeroed by the members at the backward's start;
 *   - frozen tensors: not moved, their gradients not computed, the rest
 *     as on one thread;
 *   - float32 chains conv2d -> relu -> max pool on oneDNN (graph.c's
 *     set_chains): the same bits at the same thread count, one thread's
 *     values to rounding, and at one thread the unchained ops' bits;
 *   - a graph with a host op is refused, with the reason, and its steps
 *     run on the calling thread;
 *   - an lstm, gru and rnn of 2 layers, each member taking its sequences
 *     through time and its rows of the weights' gradients: the same bits
 *     at the same thread count, one thread's values to rounding (with
 *     lengths and an initial state too, and their gradients), char-rnn's
 *     embedding, lstm and linear likewise, and finite differences of a
 *     split graph's loss.
 * ThreadSanitizer runs it too (test_graph_team_tsan, tests/CMakeLists.txt). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_graph.h"
#include "bp_net.h"
#include "bp_team.h"
#include "check.h"
#include "fd_check.h"
#include "graph_build.h"

enum { B = 40, C0 = 2, HW = 12, K = 5 };

static int node(bp_op op, int x, bp_node_opts o) { return add(op, x, &o); }

static bp_node_opts window(bp_op op, int k, int stride, int pad) {
    bp_node_opts o = bp_node_opts_default(op);
    o.kh = o.kw = k, o.sh = o.sw = stride, o.ph = o.pw = pad, o.rng = &R;
    return o;
}

static bp_node_opts act(bp_act a) {
    bp_node_opts o = bp_node_opts_default(BP_OP_ACT);
    o.act = a;
    return o;
}

/* 2x12x12 images: conv 2->8 3x3 padding 1, batchnorm2d, relu, max pool 2;
 * conv 8->12 3x3 padding 1 without bias, relu, average pool 2; conv 12->6
 * 3x3 stride 2 padding 1 (3x3 to 2x2), relu; flatten, dropout 0.25, linear
 * 24->16, relu, linear 16->K (modules 1 to 14). Weights drawn from seed,
 * dropout's masks from *r. */
static bp_net *cnn(bp_dtype t, int seed, bp_rng *r) {
    begin(t, seed);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 3, o.shape[0] = C0, o.shape[1] = o.shape[2] = HW;
    int h = add(BP_OP_INPUT, 0, &o);
    o = window(BP_OP_CONV2D, 3, 1, 1), o.in = C0, o.out = 8;
    h = node(BP_OP_CONV2D, h, o);
    o = bp_node_opts_default(BP_OP_BATCHNORM2D), o.in = 8;
    h = node(BP_OP_ACT, node(BP_OP_BATCHNORM2D, h, o), act(BP_ACT_RELU));
    h = node(BP_OP_MAXPOOL2D, h, window(BP_OP_MAXPOOL2D, 2, 2, 0));
    o = window(BP_OP_CONV2D, 3, 1, 1), o.in = 8, o.out = 12, o.no_bias = 1;
    h = node(BP_OP_ACT, node(BP_OP_CONV2D, h, o), act(BP_ACT_RELU));
    h = node(BP_OP_AVGPOOL2D, h, window(BP_OP_AVGPOOL2D, 2, 2, 0));
    o = window(BP_OP_CONV2D, 3, 2, 1), o.in = 12, o.out = 6;
    h = node(BP_OP_ACT, node(BP_OP_CONV2D, h, o), act(BP_ACT_RELU));
    h = add(BP_OP_FLATTEN, h, NULL);
    o = bp_node_opts_default(BP_OP_DROPOUT), o.p = 0.25;
    h = node(BP_OP_DROPOUT, h, o);
    o = bp_node_opts_default(BP_OP_LINEAR), o.in = 24, o.out = 16, o.rng = &R;
    h = node(BP_OP_ACT, node(BP_OP_LINEAR, h, o), act(BP_ACT_RELU));
    o.in = 16, o.out = K;
    bp_net *net = as_net(node(BP_OP_LINEAR, h, o));
    net->rng = r;
    return net;
}

static double x[B * C0 * HW * HW], y[B * K];

static void data(void) {
    bp_rng r;
    bp_rng_seed(&r, 3);
    for (size_t k = 0; k < sizeof x / sizeof x[0]; k++) x[k] = bp_rng_uniform(&r) - 0.5;
    memset(y, 0, sizeof y);
    for (int s = 0; s < B; s++) y[s * K + (s * 7) % K] = 1;
}

/* Value j of tensor p, in doubles. */
static double value(const bp_param *p, bp_dtype t, size_t j) {
    return t == BP_F32 ? ((const float *)p->data)[j] : ((const double *)p->data)[j];
}

/* The largest |a - b| / (1 + |b|) over every parameter tensor's values
 * (grads: their gradients), in doubles. */
static double worst(bp_net *a, bp_net *b, int grads) {
    int n, m;
    const bp_param *pa = bp_net_param_list(a, &n), *pb = bp_net_param_list(b, &m);
    CHECK(n == m);
    double w = 0;
    for (int k = 0; k < n && k < m; k++) {
        const void *u = grads ? pa[k].grad : pa[k].data,
                   *v = grads ? pb[k].grad : pb[k].data;
        if (!u || !v) continue;
        for (size_t j = 0; j < pa[k].count; j++) {
            double p =
                a->dtype == BP_F32 ? ((const float *)u)[j] : ((const double *)u)[j];
            double q =
                b->dtype == BP_F32 ? ((const float *)v)[j] : ((const double *)v)[j];
            double d = fabs(p - q) / (1 + fabs(q));
            if (!(d <= w)) w = d;
        }
    }
    return w;
}

/* Every parameter's values (and gradients) the same bits in a and b; the
 * first difference printed in hex. */
static int same_bits(bp_net *a, bp_net *b) {
    int n, m;
    const bp_param *pa = bp_net_param_list(a, &n), *pb = bp_net_param_list(b, &m);
    if (n != m) return 0;
    size_t z = bp_dtype_size(a->dtype);
    for (int k = 0; k < n; k++) {
        size_t bytes = pa[k].count * z;
        if (memcmp(pa[k].data, pb[k].data, bytes) ||
            (pa[k].grad && memcmp(pa[k].grad, pb[k].grad, bytes))) {
            for (size_t j = 0; j < pa[k].count; j++) {
                double p = value(&pa[k], a->dtype, j), q = value(&pb[k], a->dtype, j);
                if (memcmp(&p, &q, sizeof p))
                    fprintf(stderr, "%s[%zu]: %a against %a\n", pa[k].name, j, p, q);
                if (memcmp(&p, &q, sizeof p)) break;
            }
            return 0;
        }
    }
    return 1;
}

/* Three SGD steps of softmax cross-entropy at T threads; the last loss. */
static double train(bp_net *net, int T) {
    bp_err e;
    double loss = NAN;
    CHECK(bp_set_threads(T, &e) == 0);
    for (int s = 0; s < 3; s++)
        CHECK(bp_net_train_step(net, x, y, B, BP_LOSS_SOFTMAX_CE, 0.05, &loss, &e) == 0);
    CHECK(bp_threads() == T); /* put back after each step */
    return loss;
}

static void test_same_bits(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int T = 2; T <= 3; T++) {
            bp_rng ra, rb;
            bp_rng_seed(&ra, 9), bp_rng_seed(&rb, 9);
            bp_net *a = cnn(t, 5, &ra), *b = cnn(t, 5, &rb);
            double la = train(a, T), lb = train(b, T);
            CHECK(memcmp(&la, &lb, sizeof la) == 0);
            CHECK(a->team != NULL && bp_team_size(a->team) == T);
            CHECK(same_bits(a, b));
            bp_net_free(a);
            bp_net_free(b);
        }
}

/* Against one thread: steps, then the gradients alone and an evaluation
 * forward. */
static void test_against_one(void) {
    bp_err e;
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        double tol = t == BP_F64 ? 1e-12 : 1e-6;
        for (int T = 2; T <= 3; T++) {
            bp_rng r1, rT;
            bp_rng_seed(&r1, 4), bp_rng_seed(&rT, 4);
            bp_net *one = cnn(t, 6, &r1), *many = cnn(t, 6, &rT), *fresh = cnn(t, 6, &r1);
            double l1 = train(one, 1), lT = train(many, T);
            CHECK(one->team == NULL && many->team != NULL);
            CHECK_NEAR(lT, l1, tol * (1 + fabs(l1)));
            CHECK(worst(many, one, 0) <= tol);
            CHECK(worst(many, fresh, 0) > 1e-4); /* the steps moved the weights */

            double g1, gT;
            CHECK(bp_set_threads(1, &e) == 0);
            CHECK(bp_net_compute_grads(one, x, y, B, BP_LOSS_SOFTMAX_CE, &g1, &e) == 0);
            CHECK(bp_set_threads(T, &e) == 0);
            CHECK(bp_net_compute_grads(many, x, y, B, BP_LOSS_SOFTMAX_CE, &gT, &e) == 0);
            CHECK_NEAR(gT, g1, tol * (1 + fabs(g1)));
            CHECK(worst(many, one, 1) <= tol);
            CHECK(worst(many, fresh, 1) > 1e-4); /* gradients there to compare */

            bp_net_set_training(one, 0), bp_net_set_training(many, 0);
            CHECK(bp_set_threads(1, &e) == 0);
            const double *o1 = bp_net_forward(one, x, B, &e);
            double out1[B * K];
            memcpy(out1, o1, sizeof out1);
            CHECK(bp_set_threads(T, &e) == 0);
            const double *oT = bp_net_forward(many, x, B, &e);
            double w = 0;
            for (int k = 0; k < B * K; k++)
                w = fmax(w, fabs(oT[k] - out1[k]) / (1 + fabs(out1[k])));
            CHECK(w <= tol);

            /* dLoss/d(input) of that forward for dLoss/d(output) = y: the
             * first convolution's dx too, split by rows. */
            static double dx1[sizeof x / sizeof x[0]], dxT[sizeof x / sizeof x[0]];
            CHECK(bp_set_threads(1, &e) == 0);
            CHECK(bp_net_forward(one, x, B, &e) != NULL);
            CHECK(bp_net_backward_input(one, y, dx1, &e) == 0);
            CHECK(bp_set_threads(T, &e) == 0);
            CHECK(bp_net_backward_input(many, y, dxT, &e) == 0);
            w = 0;
            double size = 0;
            for (size_t k = 0; k < sizeof x / sizeof x[0]; k++) {
                w = fmax(w, fabs(dxT[k] - dx1[k]) / (1 + fabs(dx1[k])));
                size = fmax(size, fabs(dx1[k]));
            }
            CHECK(w <= tol && size > 1e-3);
            bp_net_free(one);
            bp_net_free(many);
            bp_net_free(fresh);
        }
    }
}

/* Two dropouts in a row (p 0.5, then 0.25) before a linear 288 -> 96 (B
 * 40, work enough for a team), each member drawing its rows' masks from
 * the stream skipped to them (graph.c jump_of): at 2 and 3 threads (parts
 * of 20 and of 13, 13, 14 rows) both dropouts' values are one thread's to
 * the bit, over two training forwards (the second from the first's
 * generator state, with the jumps kept from the first), and the generator
 * ends where one thread's does. */
static void test_dropout_parts(void) {
    enum { F = 288 };
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        bp_net *nets[3];
        int d1 = 0, d2 = 0;
        bp_rng rs[3];
        for (int T = 1; T <= 3; T++) {
            begin(t, 3);
            bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
            o.ndim = 1, o.shape[0] = F;
            int h = add(BP_OP_INPUT, 0, &o);
            o = bp_node_opts_default(BP_OP_DROPOUT), o.p = 0.5;
            d1 = h = node(BP_OP_DROPOUT, h, o);
            o.p = 0.25;
            d2 = h = node(BP_OP_DROPOUT, h, o);
            o = bp_node_opts_default(BP_OP_LINEAR), o.in = F, o.out = 96, o.rng = &R;
            nets[T - 1] = as_net(node(BP_OP_LINEAR, h, o));
            bp_rng_seed(&rs[T - 1], 17);
            nets[T - 1]->rng = &rs[T - 1];
            bp_net_set_training(nets[T - 1], 1);
        }
        size_t z = bp_dtype_size(t), bytes = (size_t)B * F * z;
        for (int pass = 0; pass < 2; pass++) {
            void *v1[2] = {malloc(bytes), malloc(bytes)};
            for (int T = 1; T <= 3; T++) {
                bp_err e;
                CHECK(bp_set_threads(T, &e) == 0);
                CHECK(bp_net_forward(nets[T - 1], x, B, &e) != NULL);
                CHECK(T == 1 || nets[T - 1]->team != NULL);
                bp_graph *g = nets[T - 1]->graph;
                const void *a = bp_graph_node_value(g, d1), *b = bp_graph_node_value(g, d2);
                if (T == 1) {
                    memcpy(v1[0], a, bytes);
                    memcpy(v1[1], b, bytes);
                } else {
                    CHECK(memcmp(a, v1[0], bytes) == 0);
                    CHECK(memcmp(b, v1[1], bytes) == 0);
                    CHECK(memcmp(&rs[T - 1], &rs[0], sizeof rs[0]) == 0);
                }
            }
            free(v1[0]);
            free(v1[1]);
        }
        for (int T = 0; T < 3; T++) bp_net_free(nets[T]);
    }
}

/* A step's gradients start from zero whatever they held (graph_pass's
 * bp_graph_backward_fresh: each member zeroes its share of every tensor's
 * at the backward's start): gradients filled with 7 first give the bits
 * of gradients left at 0, at 1 thread and at 3 (a tensor's shares cut at
 * 64-byte lines, conv 2's 96 weights' in uneven parts). */
static void test_fresh_grads(void) {
    bp_err e;
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int T = 1; T <= 3; T += 2) {
            bp_rng ra, rb;
            bp_rng_seed(&ra, 12), bp_rng_seed(&rb, 12);
            bp_net *a = cnn(t, 13, &ra), *b = cnn(t, 13, &rb);
            int n;
            const bp_param *p = bp_net_param_list(a, &n);
            for (int k = 0; k < n; k++)
                for (size_t j = 0; p[k].grad && j < p[k].count; j++)
                    if (t == BP_F32) ((float *)p[k].grad)[j] = 7;
                    else ((double *)p[k].grad)[j] = 7;
            double la, lb;
            CHECK(bp_set_threads(T, &e) == 0);
            CHECK(bp_net_compute_grads(a, x, y, B, BP_LOSS_SOFTMAX_CE, &la, &e) == 0);
            CHECK(bp_net_compute_grads(b, x, y, B, BP_LOSS_SOFTMAX_CE, &lb, &e) == 0);
            CHECK(T == 1 ? a->team == NULL : a->team != NULL);
            CHECK(la == lb && same_bits(a, b));
            bp_net_free(a);
            bp_net_free(b);
        }
}

/* A batch of fewer than 2 rows a member stays on the calling thread: no
 * team is made for it, and it gives one thread's bits. */
static void test_small_batch(void) {
    bp_rng r1, r2;
    bp_rng_seed(&r1, 2), bp_rng_seed(&r2, 2);
    bp_net *a = cnn(BP_F64, 7, &r1), *b = cnn(BP_F64, 7, &r2);
    bp_err e;
    double la, lb;
    CHECK(bp_set_threads(1, &e) == 0);
    CHECK(bp_net_train_step(a, x, y, 5, BP_LOSS_SOFTMAX_CE, 0.05, &la, &e) == 0);
    CHECK(bp_set_threads(3, &e) == 0);
    CHECK(bp_net_train_step(b, x, y, 5, BP_LOSS_SOFTMAX_CE, 0.05, &lb, &e) == 0);
    CHECK(b->team == NULL);
    CHECK(la == lb && same_bits(a, b));
    bp_net_free(a);
    bp_net_free(b);
}

/* conv 1's weight and bias and the first linear's weight frozen: on a
 * team they stay as they were, their gradients are not computed (the
 * counter as one thread's), and the rest trains as on one thread. */
static void test_frozen(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        double tol = t == BP_F64 ? 1e-12 : 1e-6;
        bp_rng r1, r2;
        bp_rng_seed(&r1, 8), bp_rng_seed(&r2, 8);
        bp_net *nets[3] = {cnn(t, 3, &r1), cnn(t, 3, &r2), cnn(t, 3, &r2)};
        int n;
        const bp_param *list = bp_net_param_list(nets[0], &n);
        int frozen[3] = {-1, -1, -1}, f = 0;
        for (int k = 0; k < n; k++)
            if (!strcmp(list[k].name, "1.weight") || !strcmp(list[k].name, "1.bias") ||
                !strcmp(list[k].name, "12.weight"))
                frozen[f++] = k;
        CHECK(f == 3);
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < f; k++) bp_graph_set_frozen(nets[j]->graph, frozen[k], 1);
        train(nets[0], 1);
        int64_t g1 = bp_graph_grads_computed(nets[0]->graph);
        train(nets[1], 2);
        CHECK(nets[1]->team != NULL);
        CHECK(bp_graph_grads_computed(nets[1]->graph) == g1);
        CHECK(worst(nets[1], nets[0], 0) <= tol);
        const bp_param *l1 = bp_net_param_list(nets[1], &n),
                       *l2 = bp_net_param_list(nets[2], &n);
        for (int k = 0; k < f; k++) /* nets[2] never trained: the initial values */
            CHECK(memcmp(l1[frozen[k]].data, l2[frozen[k]].data,
                         l1[frozen[k]].count * bp_dtype_size(t)) == 0);
        for (int j = 0; j < 3; j++) bp_net_free(nets[j]);
    }
}

/* float32 2x12x12 images through two chains conv2d -> relu -> max pool
 * (graph.c's set_chains: on oneDNN in its blocked layouts): conv 2->16 3x3
 * padding 1 (its dx by im2col), relu, max pool 2; conv 16->16 3x3 padding
 * 1 (its dx oneDNN's), relu, max pool 2; flatten, linear 144->K (modules
 * 1 to 8). plain: the convolutions' values asked for before the first
 * forward, which keeps them out of chains (the three ops one by one). */
static bp_net *chain_cnn(int seed, bp_rng *r, int plain) {
    begin(BP_F32, seed);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 3, o.shape[0] = C0, o.shape[1] = o.shape[2] = HW;
    int h = add(BP_OP_INPUT, 0, &o);
    for (int c = C0; c <= 16; c += 16 - C0) {
        o = window(BP_OP_CONV2D, 3, 1, 1), o.in = c, o.out = 16;
        h = node(BP_OP_ACT, node(BP_OP_CONV2D, h, o), act(BP_ACT_RELU));
        h = node(BP_OP_MAXPOOL2D, h, window(BP_OP_MAXPOOL2D, 2, 2, 0));
    }
    h = add(BP_OP_FLATTEN, h, NULL);
    o = bp_node_opts_default(BP_OP_LINEAR), o.in = 144, o.out = K, o.rng = &R;
    bp_net *net = as_net(node(BP_OP_LINEAR, h, o));
    net->rng = r;
    if (plain) CHECK(bp_graph_node_value(net->graph, 1) == NULL);
    if (plain) CHECK(bp_graph_node_value(net->graph, 4) == NULL);
    return net;
}

/* The chains on a team: each member its own primitives and buffers. The
 * same bits at the same thread count (2 and 3); against one thread, to
 * test_against_one's float32 bound; at one thread, the same bits as the
 * three ops one by one (the chain's sums are the unchained oneDNN
 * convolution's, its pool picks the same winners); the input's gradient
 * (the first convolution's im2col dx from the chain's stored dy) too; and
 * a chained forward leaves the convolution's values unwritten: asked for,
 * NULL, then there after the next forward. */
static void test_chain_team(void) {
    bp_err e;
    static double dx1[sizeof x / sizeof x[0]], dxT[sizeof x / sizeof x[0]];
    for (int T = 2; T <= 3; T++) {
        bp_rng ra, rb, r1;
        bp_rng_seed(&ra, 9), bp_rng_seed(&rb, 9), bp_rng_seed(&r1, 9);
        bp_net *a = chain_cnn(5, &ra, 0), *b = chain_cnn(5, &rb, 0), *one = chain_cnn(5, &r1, 0);
        double la = train(a, T), lb = train(b, T), l1 = train(one, 1);
        CHECK(memcmp(&la, &lb, sizeof la) == 0 && same_bits(a, b));
        CHECK(a->team != NULL);
        CHECK_NEAR(la, l1, 1e-6 * (1 + fabs(l1)));
        CHECK(worst(a, one, 0) <= 1e-6);
        CHECK(bp_net_forward(one, x, B, &e) != NULL);
        CHECK(bp_net_backward_input(one, y, dx1, &e) == 0);
        CHECK(bp_set_threads(T, &e) == 0);
        CHECK(bp_net_forward(a, x, B, &e) != NULL);
        CHECK(bp_net_backward_input(a, y, dxT, &e) == 0);
        double w = 0, size = 0;
        for (size_t k = 0; k < sizeof x / sizeof x[0]; k++) {
            w = fmax(w, fabs(dxT[k] - dx1[k]) / (1 + fabs(dx1[k])));
            size = fmax(size, fabs(dx1[k]));
        }
        CHECK(w <= 1e-6 && size > 1e-4);
        bp_net_free(a), bp_net_free(b), bp_net_free(one);
    }
    bp_rng rc, rp;
    bp_rng_seed(&rc, 4), bp_rng_seed(&rp, 4);
    bp_net *chained = chain_cnn(6, &rc, 0), *plain = chain_cnn(6, &rp, 1);
    double lc = train(chained, 1), lp = train(plain, 1);
    CHECK(memcmp(&lc, &lp, sizeof lc) == 0 && same_bits(chained, plain));
    CHECK(bp_graph_node_value(plain->graph, 2) != NULL);
    CHECK(bp_graph_node_value(chained->graph, 1) == NULL);   /* not written */
    CHECK(bp_graph_node_value(chained->graph, 3) != NULL);   /* the pool's output */
    CHECK(bp_net_forward(chained, x, B, &e) != NULL);        /* no chain for module 1 */
    CHECK(bp_graph_node_value(chained->graph, 1) != NULL);
    bp_net_free(chained), bp_net_free(plain);
}

/* The identity on 8 values a sample, as a host's callbacks. */
static int host_forward(void *ctx, const bp_host_call *c, bp_err *e) {
    (void)ctx, (void)e;
    memcpy(c->out, c->x, (size_t)c->B * 8 * sizeof(double));
    return 0;
}
static int host_backward(void *ctx, const bp_host_call *c, bp_err *e) {
    (void)ctx, (void)e;
    for (size_t k = 0; c->dx && k < (size_t)c->B * 8; k++)
        ((double *)c->dx)[k] += ((const double *)c->dy)[k];
    return 0;
}

/* bp_graph_set_team refuses a team of 2 for net's graph, saying msg. */
static void refused(bp_net *net, const char *msg) {
    bp_team *team = bp_team_new(2, &E);
    CHECK(team != NULL);
    CHECK(bp_graph_set_team(net->graph, team, &E) == -1);
    CHECK_STR(E.msg, msg);
    bp_team_free(team);
}

/* 4096 inputs, a linear to 8, the host identity named "same". */
static bp_net *host_net(const bp_host *cb) {
    begin(BP_F64, 1);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = 4096;
    int h = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_LINEAR), o.in = 4096, o.out = 8, o.rng = &R;
    h = node(BP_OP_LINEAR, h, o);
    o = bp_node_opts_default(BP_OP_HOST), o.name = "same", o.host = cb;
    return as_net(node(BP_OP_HOST, h, o));
}

/* A host op's callbacks run on the calling thread: its graph refuses a
 * team, and its net, whose step would take one (2 M multiply-adds), steps
 * on the calling thread, the same bits each time. */
static void test_host_refused(void) {
    bp_host cb = {.forward = host_forward, .backward = host_backward};
    bp_net *net = host_net(&cb), *again = host_net(&cb);
    refused(net, "host (module 'same'): runs on the calling thread, so the graph "
                 "cannot be split between a team");
    static double hx[64 * 4096], hy[64 * 8];
    for (size_t k = 0; k < sizeof hx / sizeof hx[0]; k++) hx[k] = (double)(k % 13) / 13;
    double loss, l1;
    CHECK(bp_set_threads(2, &E) == 0);
    CHECK(bp_net_train_step(again, hx, hy, 64, BP_LOSS_MSE, 0.1, &l1, &E) == 0);
    CHECK(bp_net_train_step(net, hx, hy, 64, BP_LOSS_MSE, 0.1, &loss, &E) == 0);
    CHECK(bp_threads() == 2);
    CHECK(isfinite(loss) && loss == l1 && same_bits(net, again));
    bp_net_free(net);
    bp_net_free(again);
}

/* ------------------------------------------------------------------------ */
/* Recurrent ops on a team                                                   */

enum { RT = 8, RI = 16, RH = 32, RK = 3 };

/* x (RT x RI) -> op (lstm, gru, rnn) of 2 layers of RH, named "enc" ->
 * linear to RK on every step (an output of RT x RK, a label a step): 1.1
 * M multiply-adds a forward of B rows for the rnn (3.4 M the gru's, 4.6 M
 * the lstm's), enough for the team (net.c's lend_team). */
static bp_net *seq_net(bp_dtype t, bp_op op, int seed) {
    begin(t, seed);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 2, o.shape[0] = RT, o.shape[1] = RI;
    int h = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(op);
    o.in = RI, o.out = RH, o.layers = 2, o.rng = &R, o.name = "enc";
    h = node(op, h, o);
    o = bp_node_opts_default(BP_OP_LINEAR), o.in = RH, o.out = RK, o.rng = &R;
    return as_net(node(BP_OP_LINEAR, h, o));
}

static double sx[B * RT * RI], sy[B * RT * RK], slab[B * RT];

static void seq_data(void) {
    bp_rng r;
    bp_rng_seed(&r, 5);
    for (size_t k = 0; k < sizeof sx / sizeof sx[0]; k++) sx[k] = 2 * bp_rng_uniform(&r) - 1;
    for (size_t k = 0; k < sizeof sy / sizeof sy[0]; k++) sy[k] = bp_rng_uniform(&r);
    for (size_t k = 0; k < sizeof slab / sizeof slab[0]; k++) slab[k] = 1 + (k * 7) % RK;
}

/* Three SGD steps of cross-entropy on (sx, slab) at T threads, with lengths
 * (every third sequence shorter) and an initial state when `more`; the
 * last loss. */
static double seq_train(bp_net *net, int T, int more) {
    const bp_crit ce = {.loss = BP_LOSS_SOFTMAX_CE, .labels = 1};
    bp_err e;
    double loss = NAN;
    if (more) {
        int len[B], parts, layers, H;
        for (int b = 0; b < B; b++) len[b] = b % 3 ? RT : 1 + b % RT;
        CHECK(bp_graph_set_lengths(net->graph, len, B, &e) == 0);
        CHECK(bp_graph_state_info(net->graph, 1, &parts, &layers, &H, &e) == 0);
        static double st[2 * 2 * B * RH];
        for (int k = 0; k < parts * layers * B * H; k++) st[k] = 0.5 * sin(k);
        CHECK(bp_graph_state_set(net->graph, 1, st, B, &e) == 0);
    }
    CHECK(bp_set_threads(T, &e) == 0);
    for (int s = 0; s < 3; s++)
        CHECK(bp_net_train_step_crit(net, sx, slab, B, ce, 0.1, &loss, &e) == 0);
    CHECK(bp_threads() == T);
    return loss;
}

/* An lstm, gru and rnn graph split between a team: the same bits from two
 * nets at the same thread count (2, and 3 on 2 cores, an uneven split),
 * and against one thread the same losses, weights, gradients, dLoss/dx
 * and dLoss/d(initial state) to rounding (only the products' rows
 * differ): 1e-12 relative in float64, 2e-6 in float32; with lengths and
 * an initial state too (each member masks and reads its own rows). */
static void test_recurrent_team(void) {
    static const bp_op ops[] = {BP_OP_LSTM, BP_OP_GRU, BP_OP_RNN};
    bp_err e;
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int o = 0; o < 3; o++)
            for (int T = 2; T <= 3; T++)
                for (int more = 0; more < 2; more++) {
                    double tol = t == BP_F64 ? 1e-12 : 2e-6;
                    bp_net *a = seq_net(t, ops[o], 3), *b = seq_net(t, ops[o], 3),
                           *one = seq_net(t, ops[o], 3);
                    double la = seq_train(a, T, more), lb = seq_train(b, T, more),
                           l1 = seq_train(one, 1, more);
                    CHECK(a->team != NULL && bp_team_size(a->team) == T);
                    CHECK(memcmp(&la, &lb, sizeof la) == 0 && same_bits(a, b));
                    CHECK(one->team == NULL);
                    CHECK_NEAR(la, l1, tol * (1 + fabs(l1)));
                    CHECK(worst(a, one, 0) <= tol && worst(a, one, 1) <= tol);

                    /* dLoss/dx and dLoss/d(initial state) of a forward */
                    static double dx1[sizeof sx / sizeof sx[0]], dxT[sizeof sx / sizeof sx[0]];
                    static double ds1[2 * 2 * B * RH], dsT[2 * 2 * B * RH];
                    CHECK(bp_set_threads(1, &e) == 0);
                    CHECK(bp_net_forward(one, sx, B, &e) != NULL);
                    CHECK(bp_net_backward_input(one, sy, dx1, &e) == 0);
                    CHECK(bp_set_threads(T, &e) == 0);
                    CHECK(bp_net_forward(a, sx, B, &e) != NULL);
                    CHECK(bp_net_backward_input(a, sy, dxT, &e) == 0);
                    CHECK(check_worst(dxT, dx1, sizeof sx / sizeof sx[0]) <= tol);
                    CHECK(fabs(dx1[0]) + fabs(dx1[B * RT * RI - 1]) > 1e-6);
                    if (more) {
                        int n1 = bp_graph_state_get(one->graph, 1, BP_STATE_GRAD, ds1, &e),
                            nT = bp_graph_state_get(a->graph, 1, BP_STATE_GRAD, dsT, &e);
                        CHECK(n1 == B && nT == B);
                        int parts = ops[o] == BP_OP_LSTM ? 2 : 1;
                        CHECK(check_worst(dsT, ds1, (size_t)parts * 2 * B * RH) <= tol);
                    }
                    bp_net_free(a);
                    bp_net_free(b);
                    bp_net_free(one);
                }
}

/* char-rnn's shape: ids (RT) -> embedding(RV, RI) -> lstm -> linear to
 * RK on every step; the embedding's forward split by samples, its
 * gradient by its weight's rows (ids). */
enum { RV = 20 };

static bp_net *char_net(bp_dtype t) {
    begin(t, 6);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = RT;
    int h = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_EMBEDDING), o.in = RV, o.out = RI, o.rng = &R;
    h = node(BP_OP_EMBEDDING, h, o);
    o = bp_node_opts_default(BP_OP_LSTM);
    o.in = RI, o.out = RH, o.layers = 2, o.rng = &R;
    h = node(BP_OP_LSTM, h, o);
    o = bp_node_opts_default(BP_OP_LINEAR), o.in = RH, o.out = RK, o.rng = &R;
    return as_net(node(BP_OP_LINEAR, h, o));
}

/* Three steps at 2 threads twice and at 1: the same bits, and one
 * thread's weights to rounding. */
static void test_embedding_team(void) {
    const bp_crit ce = {.loss = BP_LOSS_SOFTMAX_CE, .labels = 1};
    static double ids[B * RT];
    for (int k = 0; k < B * RT; k++) ids[k] = 1 + (k * 13) % RV;
    bp_err e;
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        double tol = t == BP_F64 ? 1e-12 : 2e-6, loss[3];
        bp_net *nets[3] = {char_net(t), char_net(t), char_net(t)};
        for (int j = 0; j < 3; j++) {
            CHECK(bp_set_threads(j < 2 ? 2 : 1, &e) == 0);
            for (int s = 0; s < 3; s++)
                CHECK(bp_net_train_step_crit(nets[j], ids, slab, B, ce, 0.1, &loss[j], &e) == 0);
        }
        CHECK(nets[0]->team != NULL && nets[2]->team == NULL);
        CHECK(memcmp(&loss[0], &loss[1], sizeof loss[0]) == 0 && same_bits(nets[0], nets[1]));
        CHECK_NEAR(loss[0], loss[2], tol * (1 + fabs(loss[2])));
        CHECK(worst(nets[0], nets[2], 0) <= tol && worst(nets[0], nets[2], 1) <= tol);
        for (int j = 0; j < 3; j++) bp_net_free(nets[j]);
    }
}

/* Finite differences of every weight and input of a small lstm, gru and
 * rnn graph (4 sequences, 2 layers; the lstm 3, so that a set of dz is
 * used again), its walks on a team of 2 set by hand (the net's rule
 * would keep so small a step on one thread): the split forward and
 * backward are the gradient of the split forward's loss. */
static void test_recurrent_fd(void) {
    static const bp_op ops[] = {BP_OP_LSTM, BP_OP_GRU, BP_OP_RNN};
    bp_err e;
    CHECK(bp_set_threads(1, &e) == 0);
    bp_team *team = bp_team_new(2, &e);
    CHECK(team != NULL);
    for (int t = 0; t < BP_DTYPE_COUNT && team; t++)
        for (int o = 0; o < 3; o++) {
            begin(t, 40 + o);
            bp_node_opts n = bp_node_opts_default(BP_OP_INPUT);
            n.ndim = 2, n.shape[0] = 3, n.shape[1] = 2;
            int h = add(BP_OP_INPUT, 0, &n);
            n = bp_node_opts_default(ops[o]);
            n.in = 2, n.out = 3, n.layers = o ? 2 : 3, n.rng = &R;
            h = add(BP_OP_FLATTEN, node(ops[o], h, n), NULL);
            n = bp_node_opts_default(BP_OP_LINEAR), n.in = 9, n.out = 2, n.rng = &R;
            bp_net *net = as_net(node(BP_OP_LINEAR, h, n));
            CHECK(bp_graph_set_team(net->graph, team, &e) == 0);
            fd_run(net, 4, BP_LOSS_HALF_SE, bp_op_name(ops[o]));
            bp_graph_set_team(net->graph, NULL, NULL);
            bp_net_free(net);
        }
    bp_team_free(team);
}

int main(void) {
    int before = bp_threads();
    data();
    test_same_bits();
    test_against_one();
    test_small_batch();
    test_dropout_parts();
    test_fresh_grads();
    test_frozen();
    test_chain_team();
    test_host_refused();
    seq_data();
    test_recurrent_team();
    test_embedding_team();
    test_recurrent_fd();
    bp_set_threads(before, NULL);
    return check_report("test_graph_team");
}
