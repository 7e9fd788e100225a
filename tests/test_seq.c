/* test_seq.c: the modules of sequences, embedding, lstm, gru, rnn and
 * layernorm (bp_seq.h, bp_graph.h).
 *
 * An LSTM of one unit computed by hand (two steps whose gates are known
 * numbers); the fast path (products over all steps) against the reference
 * loops, with and without an initial state, in both dtypes, and the
 * float path's vectorized sigmoid and tanh against libm's; finite
 * differences of networks through each op in both dtypes at several batch
 * sizes, sequence lengths and layer counts (an embedding's ids have no
 * gradient: its weights are checked); nn.Embedding's and nn.LSTM's default
 * initialisation and PyTorch's parameter names and shapes; and the exact
 * message of every bad construction and of ids out of range, a refused
 * forward leaving the weights as they were. The state (truncated
 * backpropagation through time): a sequence run in two chunks, the state
 * carried, gives the outputs and final state of the whole run in one
 * piece; a chunk's gradients from a given state, and the state's own,
 * against finite differences with the state held; and its errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_graph.h"
#include "bp_net.h"
#include "bp_seq.h"
#include "check.h"
#include "fd_check.h"
#include "graph_build.h"
#include "seq_int.h"

/* An input of shape T (ids) or T x I. */
static int seq_input(int T, int I) {
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = I ? 2 : 1, o.shape[0] = T, o.shape[1] = I;
    return add(BP_OP_INPUT, 0, &o);
}

static int embedding(int x, int V, int D) {
    bp_node_opts o = bp_node_opts_default(BP_OP_EMBEDDING);
    o.in = V, o.out = D, o.rng = &R;
    return add(BP_OP_EMBEDDING, x, &o);
}

static int lstm(int x, int I, int H, int layers) {
    bp_node_opts o = bp_node_opts_default(BP_OP_LSTM);
    o.in = I, o.out = H, o.layers = layers, o.rng = &R;
    return add(BP_OP_LSTM, x, &o);
}

static void expect(int rc, const char *msg) {
    CHECK(rc == -1);
    if (strcmp(E.msg, msg) != 0) fprintf(stderr, "got:      %s\nexpected: %s\n", E.msg, msg);
    CHECK(strcmp(E.msg, msg) == 0);
}

/* x (T x I) -> a recurrent op of `layers`, named "rnn", every weight
 * from seed 9. */
static bp_net *rec_net(bp_op op, bp_dtype t, int T, int I, int H, int layers) {
    begin(t, 9);
    bp_node_opts o = bp_node_opts_default(op);
    o.in = I, o.out = H, o.layers = layers, o.rng = &R, o.name = "rnn";
    return as_net(add(op, seq_input(T, I), &o));
}
static bp_net *lstm_net(bp_dtype t, int T, int I, int H, int layers) {
    return rec_net(BP_OP_LSTM, t, T, I, H, layers);
}

/* ------------------------------------------------------------------------ */
/* By hand                                                                   */

/* One unit, x = 0.5 at both steps, every weight 0 but weight_ih's g row
 * (1), every bias 0: z = (0, 0, x, 0), so i = f = o = sigmoid(0) = 1/2 and
 * g = tanh(0.5) at each step. c1 = i g = tanh(0.5) / 2, h1 = o tanh(c1);
 * c2 = f c1 + i g = 3/4 tanh(0.5), h2 = o tanh(c2). */
static void test_hand(void) {
    const double x[2] = {0.5, 0.5}, wih[4] = {0, 0, 1, 0}, whh[4] = {0}, b[4] = {0};
    const double c1 = 0.23105857863000487, h1 = 0.11351630435872714,
                 c2 = 0.3465878679450073, h2 = 0.1666730122653704;
    double h[2], c[2], a[8];
    for (int fast = 0; fast < 2; fast++) {
        if (fast) bp_lstm_forward(h, c, a, x, NULL, NULL, wih, whh, b, b, 1, 2, 1, 1);
        else bp_lstm_forward_ref(h, c, a, x, NULL, NULL, wih, whh, b, b, 1, 2, 1, 1);
        CHECK(fabs(c[0] - c1) < 1e-15 && fabs(c[1] - c2) < 1e-15);
        CHECK(fabs(h[0] - h1) < 1e-15 && fabs(h[1] - h2) < 1e-15);
        CHECK(a[0] == 0.5 && a[1] == 0.5 && a[3] == 0.5 && a[6] == a[2]);
    }
    /* an embedding: rows 2 and 1 of a 3 x 2 table, and back */
    const double ids[2] = {2, 1}, w[6] = {1, 2, 3, 4, 5, 6}, dy[4] = {1, 10, 100, 1000};
    double y[4], dw[6] = {0};
    bp_embedding_forward(y, ids, w, 2, 2);
    CHECK(y[0] == 3 && y[1] == 4 && y[2] == 1 && y[3] == 2);
    bp_embedding_backward(dw, dy, ids, 2, 2);
    CHECK(dw[0] == 100 && dw[1] == 1000 && dw[2] == 1 && dw[3] == 10 && dw[4] == 0);
}

/* ------------------------------------------------------------------------ */
/* The fast path against the reference                                       */

/* Both builds of one layer on the same random numbers: h, c, a, and every
 * gradient; in float, the same kernels on the numbers rounded. */
static void fast_vs_ref(int B, int T, int I, int H, int state, int f32) {
    const int G = 4 * H;
    size_t nx = (size_t)B * T * I, nh = (size_t)B * T * H, na = (size_t)B * T * G,
           ns = (size_t)B * H, nwi = (size_t)G * I, nwh = (size_t)G * H;
    double *in[7] = {randoms(nx, 1), randoms(ns, 1), randoms(ns, 1), randoms(nwi, 0.5),
                     randoms(nwh, 0.5), randoms(G, 0.5), randoms(G, 0.5)};
    double *dh = randoms(nh, 1);
    size_t z = f32 ? sizeof(float) : sizeof(double);
    size_t sizes[12] = {nh, nh, na, nx, ns, ns, nwi, nwh, G, G, na, 2 * ns};
    void *out[2][12];
    void *fin[7], *fdh = f32 ? (void *)floats(dh, nh) : (void *)dh;
    size_t nin[7] = {nx, ns, ns, nwi, nwh, G, G};
    for (int k = 0; k < 7; k++) fin[k] = f32 ? (void *)floats(in[k], nin[k]) : in[k];
    const void *h0 = state ? fin[1] : NULL, *c0 = state ? fin[2] : NULL;
    for (int v = 0; v < 2; v++) {
        for (int k = 0; k < 12; k++) out[v][k] = calloc(sizes[k], z);
        void **o = out[v];
        if (f32) {
            (v ? bp_lstm_forward_f32 : bp_lstm_forward_ref_f32)(
                o[0], o[1], o[2], fin[0], h0, c0, fin[3], fin[4], fin[5], fin[6], B, T, I, H);
            (v ? bp_lstm_backward_f32 : bp_lstm_backward_ref_f32)(
                o[3], state ? o[4] : NULL, state ? o[5] : NULL, o[6], o[7], o[8], o[9],
                o[10], o[11], fdh, fin[0], h0, c0, o[0], o[1], o[2], fin[3], fin[4], B, T,
                I, H);
        } else {
            (v ? bp_lstm_forward : bp_lstm_forward_ref)(
                o[0], o[1], o[2], fin[0], h0, c0, fin[3], fin[4], fin[5], fin[6], B, T, I, H);
            (v ? bp_lstm_backward : bp_lstm_backward_ref)(
                o[3], state ? o[4] : NULL, state ? o[5] : NULL, o[6], o[7], o[8], o[9],
                o[10], o[11], dh, fin[0], h0, c0, o[0], o[1], o[2], fin[3], fin[4], B, T,
                I, H);
        }
    }
    double tol = f32 ? 2e-5 : 1e-12;
    for (int k = 0; k < 10; k++) {
        double d = diff(out[0][k], out[1][k], sizes[k], f32);
        if (d > tol)
            fprintf(stderr, "fast vs ref B=%d T=%d I=%d H=%d state=%d f32=%d: output %d off by %g\n",
                    B, T, I, H, state, f32, k, d);
        CHECK(d <= tol);
    }
    for (int v = 0; v < 2; v++)
        for (int k = 0; k < 12; k++) free(out[v][k]);
    for (int k = 0; k < 7; k++) {
        if (f32) free(fin[k]);
        free(in[k]);
    }
    if (f32) free(fdh);
    free(dh);
}

static void test_fast_matches_ref(void) {
    bp_rng_seed(&R, 5);
    /* H = 37: the float cell's vector loop and its scalar tail */
    const int shapes[][4] = {{1, 1, 1, 1}, {3, 5, 2, 4}, {2, 7, 6, 3}, {4, 2, 9, 8}, {3, 6, 5, 37}};
    for (int s = 0; s < 5; s++)
        for (int state = 0; state < 2; state++)
            for (int f32 = 0; f32 < 2; f32++)
                fast_vs_ref(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], state,
                            f32);
}

/* The float fast path's activations (engine/seq_cell.c) against libm's
 * in double over [-30, 30] in steps of 3e-5 (2 million values, 0 among
 * them): sigmoid within 3e-7 of the true value relative (5 units of
 * float's last place; 1.5e-7 measured), tanh within 3e-7 relative (1.3e-7
 * measured); symmetric as they must be (tanh(-v) = -tanh v exactly,
 * sigmoid(-v) = 1 - sigmoid v to 1.2e-7, two units of the last place
 * near 1; 9e-8 measured); past the clamp at 87 the limits
 * 0, 1 and +-1. */
static void test_cell_f32_bound(void) {
    enum { N = 2000001 };
    float *v = malloc(sizeof(float) * N), *s = malloc(sizeof(float) * N),
          *th = malloc(sizeof(float) * N);
    for (int k = 0; k < N; k++) v[k] = (float)(60.0 * (k - N / 2) / (N - 1)); /* odd in k */
    bp_cell_act_f32(s, th, v, N);
    double es = 0, et = 0, eo = 0;
    for (int k = 0; k < N; k++) {
        double x = v[k], S = 1 / (1 + exp(-x)), Th = tanh(x);
        es = fmax(es, fabs(s[k] - S) / S);
        if (Th != 0) et = fmax(et, fabs(th[k] - Th) / fabs(Th));
        else CHECK(th[k] == 0);
        CHECK(th[N - 1 - k] == -th[k]);
        eo = fmax(eo, fabs((double)s[N - 1 - k] - (1 - (double)s[k])));
    }
    CHECK(es <= 3e-7 && et <= 3e-7 && eo <= 1.2e-7);
    const float far[4] = {-100, 100, -1e30f, 1e30f};
    float fs[4], ft[4];
    bp_cell_act_f32(fs, ft, far, 4);
    CHECK(fs[0] >= 0 && fs[0] < 1e-37f && fs[1] == 1 && ft[0] == -1 && ft[1] == 1);
    CHECK(fs[2] >= 0 && fs[2] < 1e-37f && fs[3] == 1 && ft[2] == -1 && ft[3] == 1);
    free(v);
    free(s);
    free(th);
}

/* The RNN's and GRU's builds likewise, on doubles then floats (kind 0:
 * tanh RNN, 1: relu RNN, 2: GRU), from a random state or zeros: every
 * output and gradient. Arrays: 0 h, 1 a, 2 gh, 3 dx, 4 dh0, 5 dwih, 6
 * dwhh, 7 dbih, 8 dbhh, then workspaces. */
static void rnn_fast_vs_ref(int kind, int B, int T, int I, int H, int state, int f32) {
    const int G = kind == 2 ? 3 * H : H;
    size_t nx = (size_t)B * T * I, nh = (size_t)B * T * H, na = (size_t)B * T * G,
           ns = (size_t)B * H;
    size_t nin[7] = {nx, ns, (size_t)G * I, (size_t)G * H, G, G, nh};
    double *in[7];
    void *fin[7];
    for (int k = 0; k < 7; k++) {
        in[k] = randoms(nin[k], k >= 2 && k <= 5 ? 0.5 : 1);
        fin[k] = f32 ? (void *)floats(in[k], nin[k]) : in[k];
    }
    size_t z = f32 ? sizeof(float) : sizeof(double);
    size_t sizes[12] = {nh, na, na, nx, ns, (size_t)G * I, (size_t)G * H, G, G, na, na, ns};
    void *out[2][12];
    const void *h0 = state ? fin[1] : NULL;
    int relu = kind == 1;
    for (int v = 0; v < 2; v++) {
        void **o = out[v];
        for (int k = 0; k < 12; k++) o[k] = calloc(sizes[k], z);
        void *dh0 = state ? o[4] : NULL;
#define ARGS_RNN_F o[0], fin[0], h0, fin[2], fin[3], fin[4], fin[5], relu, B, T, I, H
#define ARGS_RNN_B o[3], dh0, o[5], o[6], o[7], o[8], o[9], o[11], fin[6], fin[0], h0, o[0], \
                   fin[2], fin[3], relu, B, T, I, H
#define ARGS_GRU_F o[0], o[1], o[2], fin[0], h0, fin[2], fin[3], fin[4], fin[5], B, T, I, H
#define ARGS_GRU_B o[3], dh0, o[5], o[6], o[7], o[8], o[9], o[10], o[11], fin[6], fin[0], h0, \
                   o[0], o[1], o[2], fin[2], fin[3], B, T, I, H
        if (kind < 2 && f32) {
            (v ? bp_rnn_forward_f32 : bp_rnn_forward_ref_f32)(ARGS_RNN_F);
            (v ? bp_rnn_backward_f32 : bp_rnn_backward_ref_f32)(ARGS_RNN_B);
        } else if (kind < 2) {
            (v ? bp_rnn_forward : bp_rnn_forward_ref)(ARGS_RNN_F);
            (v ? bp_rnn_backward : bp_rnn_backward_ref)(ARGS_RNN_B);
        } else if (f32) {
            (v ? bp_gru_forward_f32 : bp_gru_forward_ref_f32)(ARGS_GRU_F);
            (v ? bp_gru_backward_f32 : bp_gru_backward_ref_f32)(ARGS_GRU_B);
        } else {
            (v ? bp_gru_forward : bp_gru_forward_ref)(ARGS_GRU_F);
            (v ? bp_gru_backward : bp_gru_backward_ref)(ARGS_GRU_B);
        }
    }
    double tol = f32 ? 2e-5 : 1e-12;
    for (int k = 0; k < 9; k++) {
        if (kind < 2 && (k == 1 || k == 2)) continue;
        double d = diff(out[0][k], out[1][k], sizes[k], f32);
        if (d > tol)
            fprintf(stderr, "%s fast vs ref B=%d T=%d state=%d f32=%d: output %d off by %g\n",
                    kind == 2 ? "gru" : "rnn", B, T, state, f32, k, d);
        CHECK(d <= tol);
    }
    for (int v = 0; v < 2; v++)
        for (int k = 0; k < 12; k++) free(out[v][k]);
    for (int k = 0; k < 7; k++) {
        if (f32) free(fin[k]);
        free(in[k]);
    }
}

static void test_rnn_gru_fast_matches_ref(void) {
    bp_rng_seed(&R, 6);
    const int shapes[][4] = {{1, 1, 1, 1}, {3, 5, 2, 4}, {2, 7, 6, 3}};
    for (int kind = 0; kind < 3; kind++)
        for (int s = 0; s < 3; s++)
            for (int state = 0; state < 2; state++)
                for (int f32 = 0; f32 < 2; f32++)
                    rnn_fast_vs_ref(kind, shapes[s][0], shapes[s][1], shapes[s][2],
                                    shapes[s][3], state, f32);
}

/* One unit by hand. RNN: x = (1, -1), w_ih = 2, w_hh = 0.5, b_ih = 0.1,
 * b_hh = -0.1: h1 = tanh(2), h2 = tanh(-2 + 0.5 tanh 2). GRU from h0 =
 * 0.5 with every weight 0 and b_ih = (0, 0, 1), b_hh = (0, 0, 2): r = z
 * = 1/2, n = tanh(1 + 2 / 2) = tanh 2, h1 = n / 2 + 0.25. */
static void test_rnn_gru_hand(void) {
    const double x[2] = {1, -1}, w = 2, u = 0.5, bi = 0.1, bh = -0.1;
    double h[2], h3[1], a[3], gh[3];
    for (int fast = 0; fast < 2; fast++) {
        (fast ? bp_rnn_forward : bp_rnn_forward_ref)(h, x, NULL, &w, &u, &bi, &bh, 0, 1, 2, 1, 1);
        CHECK(fabs(h[0] - tanh(2)) < 1e-15 && fabs(h[1] - tanh(-2 + 0.5 * tanh(2))) < 1e-15);
        (fast ? bp_rnn_forward : bp_rnn_forward_ref)(h, x, NULL, &w, &u, &bi, &bh, 1, 1, 2, 1, 1);
        CHECK(h[0] == 2 && h[1] == 0);
        const double w3[3] = {0}, bih[3] = {0, 0, 1}, bhh[3] = {0, 0, 2}, h0 = 0.5;
        (fast ? bp_gru_forward : bp_gru_forward_ref)(h3, a, gh, x, &h0, w3, w3, bih, bhh, 1, 1,
                                                     1, 1);
        CHECK(a[0] == 0.5 && a[1] == 0.5 && gh[2] == 2);
        CHECK(fabs(h3[0] - (tanh(2) / 2 + 0.25)) < 1e-15);
    }
}

/* ------------------------------------------------------------------------ */
/* Finite differences                                                        */

/* x (T x I) -> lstm -> flatten -> linear to 2, half_se: every weight and
 * every input. */
static void test_fd_lstm(void) {
    const int cases[][4] = {{1, 1, 1, 1}, {3, 4, 2, 1}, {2, 5, 3, 2}, {5, 3, 2, 3}};
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 4; k++) {
            int B = cases[k][0], T = cases[k][1], H = cases[k][2], L = cases[k][3];
            begin(t ? BP_F32 : BP_F64, 11 + k);
            int h = add(BP_OP_FLATTEN, lstm(seq_input(T, 3), 3, H, L), NULL);
            bp_node_opts o = bp_node_opts_default(BP_OP_LINEAR);
            o.in = T * H, o.out = 2, o.rng = &R;
            bp_net *net = as_net(add(BP_OP_LINEAR, h, &o));
            char what[64];
            snprintf(what, sizeof what, "lstm T=%d H=%d layers=%d", T, H, L);
            if (net) fd_run(net, B, BP_LOSS_HALF_SE, what);
            bp_net_free(net);
        }
}

/* x (T x 3) -> rnn (tanh, relu) or gru -> flatten -> linear to 2,
 * half_se: every weight and every input, several layer counts. */
static void test_fd_rnn_gru(void) {
    const int cases[][4] = {{1, 1, 1, 1}, {3, 4, 2, 1}, {2, 5, 3, 2}, {5, 3, 2, 3}};
    for (int kind = 0; kind < 3; kind++)
        for (int t = 0; t < 2; t++)
            for (int k = 0; k < 4; k++) {
                int B = cases[k][0], T = cases[k][1], H = cases[k][2], L = cases[k][3];
                bp_op op = kind == 2 ? BP_OP_GRU : BP_OP_RNN;
                begin(t ? BP_F32 : BP_F64, 31 + k);
                bp_node_opts r = bp_node_opts_default(op);
                r.in = 3, r.out = H, r.layers = L, r.rng = &R;
                if (kind == 1) r.act = BP_ACT_RELU;
                int h = add(BP_OP_FLATTEN, add(op, seq_input(T, 3), &r), NULL);
                bp_node_opts o = bp_node_opts_default(BP_OP_LINEAR);
                o.in = T * H, o.out = 2, o.rng = &R;
                bp_net *net = as_net(add(BP_OP_LINEAR, h, &o));
                char what[64];
                snprintf(what, sizeof what, "%s T=%d H=%d layers=%d",
                         kind == 2 ? "gru" : kind ? "rnn relu" : "rnn tanh", T, H, L);
                if (net) fd_run(net, B, BP_LOSS_HALF_SE, what);
                bp_net_free(net);
            }
}

/* layernorm (nn.LayerNorm(F)): rows (1, 2, 3) and (4, 4, 10) by hand
 * (mean 2, variance 2/3: xhat = -+1 / sqrt(2/3 + eps), 0; mean 6,
 * variance 8: xhat = -2 / sqrt(8 + eps) twice, 4 / sqrt(8 + eps)), weight
 * 1 and bias 0 at start; then finite differences of x (T x F) ->
 * layernorm -> flatten -> linear in both dtypes, every weight and input;
 * and a shape whose last dimension is not F refused. */
static void test_layernorm(void) {
    begin(BP_F64, 1);
    bp_node_opts o = bp_node_opts_default(BP_OP_LAYERNORM);
    o.in = 3;
    bp_net *net = as_net(add(BP_OP_LAYERNORM, seq_input(2, 3), &o));
    const double x[6] = {1, 2, 3, 4, 4, 10};
    const double *y = bp_net_forward(net, x, 1, &E);
    double a = 1 / sqrt(2.0 / 3 + 1e-5), b = 1 / sqrt(8 + 1e-5);
    const double want[6] = {-a, 0, a, -2 * b, -2 * b, 4 * b};
    for (int k = 0; y && k < 6; k++) CHECK(fabs(y[k] - want[k]) < 1e-15);
    bp_net_free(net);
    for (int t = 0; t < 2; t++)
        for (int B = 1; B <= 3; B += 2) {
            begin(t ? BP_F32 : BP_F64, 40 + B);
            o.in = 4;
            int h = add(BP_OP_FLATTEN, add(BP_OP_LAYERNORM, seq_input(3, 4), &o), NULL);
            bp_node_opts l = bp_node_opts_default(BP_OP_LINEAR);
            l.in = 12, l.out = 3, l.rng = &R;
            net = as_net(add(BP_OP_LINEAR, h, &l));
            /* weight and bias away from 1 and 0, so that theirs are checked too */
            int n;
            const bp_param *p = bp_net_param_list(net, &n);
            for (int k = 0; k < 4; k++) {
                double w = 0.5 + 0.25 * k, c = 0.1 * k - 0.2;
                if (t) ((float *)p[0].data)[k] = (float)w, ((float *)p[1].data)[k] = (float)c;
                else ((double *)p[0].data)[k] = w, ((double *)p[1].data)[k] = c;
            }
            fd_run(net, B, BP_LOSS_HALF_SE, "layernorm");
            bp_net_free(net);
        }
    begin(BP_F64, 1);
    o.in = 5;
    expect(bp_graph_finish(G, add(BP_OP_LAYERNORM, seq_input(2, 3), &o), &E),
           "layernorm (module '1'): takes rows of 5 features, its input has shape 2x3");
    bp_graph_free(G);
    begin(BP_F64, 1);
    o.eps = 0;
    int in = seq_input(2, 3);
    expect(bp_graph_add(G, BP_OP_LAYERNORM, &in, 1, &o, &E),
           "layernorm (module '1'): eps must be a finite number > 0 (got 0)");
    bp_graph_free(G);
}

/* ids (T) -> embedding -> lstm -> linear to V on every step, softmax_ce
 * over the flattened steps against random targets: every weight. */
static void test_fd_embedding(void) {
    const int cases[][3] = {{1, 1, 1}, {2, 6, 1}, {4, 3, 2}};
    const int V = 5, D = 3, H = 2;
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 3; k++) {
            int B = cases[k][0], T = cases[k][1], L = cases[k][2];
            begin(t ? BP_F32 : BP_F64, 21 + k);
            int h = lstm(embedding(seq_input(T, 0), V, D), D, H, L);
            bp_node_opts o = bp_node_opts_default(BP_OP_LINEAR);
            o.in = H, o.out = V, o.rng = &R;
            bp_net *net = as_net(add(BP_OP_FLATTEN, add(BP_OP_LINEAR, h, &o), NULL));
            double *x = malloc(sizeof(double) * (size_t)B * T);
            double *y = malloc(sizeof(double) * (size_t)B * T * V);
            for (int j = 0; j < B * T; j++) x[j] = 1 + (double)bp_rng_below(&R, V);
            for (int j = 0; j < B * T * V; j++) y[j] = bp_rng_uniform(&R);
            char what[96];
            snprintf(what, sizeof what, "embedding (%s, B=%d T=%d layers=%d)",
                     t ? "float32" : "float64", B, T, L);
            if (net) fd_check_some(net, x, y, B, BP_LOSS_HALF_SE, what, 0);
            free(x);
            free(y);
            bp_net_free(net);
        }
}

/* ------------------------------------------------------------------------ */
/* Initialisation and names                                                  */

static double value(const bp_param *p, size_t k, bp_dtype t) {
    return t == BP_F32 ? ((const float *)p->data)[k] : ((const double *)p->data)[k];
}

static void test_init(void) {
    begin(BP_F64, 3);
    bp_node_opts o = bp_node_opts_default(BP_OP_LSTM);
    o.in = 4, o.out = 16, o.layers = 2, o.rng = &R, o.name = "rnn";
    int x = add(BP_OP_EMBEDDING, seq_input(3, 0),
                &(bp_node_opts){.in = 50, .out = 4, .rng = &R, .name = "emb", .layers = 1});
    bp_net *net = as_net(add(BP_OP_LSTM, x, &o));
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    const char *names[9] = {"emb.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0",
                            "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_ih_l1",
                            "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1"};
    const int rows[9] = {50, 64, 64, 64, 64, 64, 64, 64, 64},
              cols[9] = {4, 4, 16, 0, 0, 16, 16, 0, 0};
    CHECK(n == 9);
    for (int k = 0; k < n && k < 9; k++) {
        CHECK(strcmp(t[k].name, names[k]) == 0);
        CHECK(t[k].shape[0] == rows[k] && t[k].ndim == (cols[k] ? 2 : 1));
        if (cols[k]) CHECK(t[k].shape[1] == cols[k]);
    }
    /* drawn in the list's order from the seed: N(0, 1), then U(-1/4, 1/4) */
    bp_rng r;
    bp_rng_seed(&r, 3);
    int bad = 0;
    for (size_t k = 0; k < t[0].count; k++) bad += value(&t[0], k, BP_F64) != bp_rng_normal(&r, 0, 1);
    for (int p = 1; p < n; p++)
        for (size_t k = 0; k < t[p].count; k++)
            bad += value(&t[p], k, BP_F64) != -0.25 + 0.5 * bp_rng_uniform(&r);
    CHECK(bad == 0);
    bp_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */


/* nn.GRU's and nn.RNN's names and shapes (3H and H rows), drawn
 * U(-1/sqrt(H), 1/sqrt(H)) in the list's order. */
static void test_init_rnn_gru(void) {
    for (int gru = 0; gru < 2; gru++) {
        bp_net *net = rec_net(gru ? BP_OP_GRU : BP_OP_RNN, BP_F64, 2, 3, 4, 2);
        int n;
        const bp_param *t = bp_net_param_list(net, &n);
        const char *names[8] = {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                                "rnn.bias_hh_l0",   "rnn.weight_ih_l1", "rnn.weight_hh_l1",
                                "rnn.bias_ih_l1",   "rnn.bias_hh_l1"};
        const int cols[8] = {3, 4, 0, 0, 4, 4, 0, 0}, rows = gru ? 12 : 4;
        CHECK(n == 8);
        bp_rng r;
        bp_rng_seed(&r, 9);
        int bad = 0;
        for (int k = 0; k < n && k < 8; k++) {
            CHECK(strcmp(t[k].name, names[k]) == 0 && t[k].shape[0] == rows);
            CHECK(t[k].ndim == (cols[k] ? 2 : 1) && (!cols[k] || t[k].shape[1] == cols[k]));
            for (size_t j = 0; j < t[k].count; j++)
                bad += value(&t[k], j, BP_F64) != -0.5 + 1.0 * bp_rng_uniform(&r);
        }
        CHECK(bad == 0);
        bp_net_free(net);
    }
}

static void test_errors(void) {
    begin(BP_F64, 1);
    {
        int in = seq_input(4, 3);
        bp_node_opts r = bp_node_opts_default(BP_OP_RNN);
        r.in = 3, r.out = 2, r.act = BP_ACT_SIGMOID;
        expect(bp_graph_add(G, BP_OP_RNN, &in, 1, &r, &E),
               "rnn (module '1'): nonlinearity must be tanh or relu (got sigmoid)");
        r = bp_node_opts_default(BP_OP_GRU);
        r.in = 3, r.out = 2, r.layers = 9;
        expect(bp_graph_add(G, BP_OP_GRU, &in, 1, &r, &E),
               "gru (module '1'): needs 1 to 8 layers (got 9)");
    }
    bp_graph_free(G);
    begin(BP_F64, 1);
    int x = seq_input(4, 0);
    bp_node_opts o = bp_node_opts_default(BP_OP_LSTM);
    o.in = 3, o.out = 2, o.layers = 0;
    expect(bp_graph_add(G, BP_OP_LSTM, &x, 1, &o, &E), "lstm (module '1'): needs 1 to 8 layers (got 0)");
    o.layers = 1, o.out = 0;
    expect(bp_graph_add(G, BP_OP_LSTM, &x, 1, &o, &E),
           "lstm (module '1'): needs in >= 1 and hidden >= 1 (got 3 and 0)");
    o = bp_node_opts_default(BP_OP_EMBEDDING);
    expect(bp_graph_add(G, BP_OP_EMBEDDING, &x, 1, &o, &E),
           "embedding (module '1'): needs V >= 1 ids and D >= 1 values (got 0 and 0)");
    /* an lstm on ids of shape 4; an embedding after another module */
    int l = lstm(x, 3, 2, 1);
    expect(bp_graph_finish(G, l, &E), "lstm (module '1'): takes sequences of T x 3, its input has shape 4");
    bp_graph_free(G);
    begin(BP_F64, 1);
    int e1 = embedding(seq_input(4, 0), 6, 2);
    int fl = add(BP_OP_FLATTEN, e1, NULL);
    expect(bp_graph_finish(G, embedding(fl, 6, 2), &E),
           "embedding (module '3'): reads the network's input (its ids), not module '2''s output");
    bp_graph_free(G);
    begin(BP_F64, 1);
    expect(bp_graph_finish(G, embedding(seq_input(4, 2), 6, 2), &E),
           "embedding (module '1'): takes a sequence of ids (shape T), its input has shape 4x2");
    bp_graph_free(G);
    /* ids out of range, in both dtypes: refused before anything runs */
    for (int t = 0; t < 2; t++) {
        begin(t ? BP_F32 : BP_F64, 1);
        bp_net *net = as_net(embedding(seq_input(3, 0), 6, 2));
        const double good[6] = {1, 2, 3, 4, 5, 6};
        CHECK(bp_net_forward(net, good, 2, &E) != NULL);
        double before = value(&bp_net_param_list(net, &(int){0})[0], 0, t ? BP_F32 : BP_F64);
        const double ids[4][6] = {{1, 2, 3, 4, 7, 6}, {0, 2, 3, 4, 5, 6}, {1, 2.5, 3, 4, 5, 6},
                                  {1, 2, 3, -1, 5, 6}};
        const char *msgs[4] = {
            "embedding (module '1'): id 7 in sample 2 at step 2 is not in 1..6",
            "embedding (module '1'): id 0 in sample 1 at step 1 is not in 1..6",
            "embedding (module '1'): id 2.5 in sample 1 at step 2 is not in 1..6",
            "embedding (module '1'): id -1 in sample 2 at step 1 is not in 1..6"};
        for (int k = 0; k < 4; k++) {
            CHECK(bp_net_forward(net, ids[k], 2, &E) == NULL);
            if (strstr(E.msg, msgs[k]) == NULL)
                fprintf(stderr, "got:      %s\nexpected: %s\n", E.msg, msgs[k]);
            CHECK(strstr(E.msg, msgs[k]) != NULL);
        }
        CHECK(value(&bp_net_param_list(net, &(int){0})[0], 0, t ? BP_F32 : BP_F64) == before);
        bp_net_free(net);
    }
}

/* ------------------------------------------------------------------------ */
/* State carried across chunks                                               */


/* Steps t0 .. t0+n-1 of each of B sequences of T steps of w values. */
static void steps(double *dst, const double *src, int B, int T, int w, int t0, int n) {
    for (int b = 0; b < B; b++)
        memcpy(dst + (size_t)b * n * w, src + ((size_t)b * T + t0) * w,
               sizeof(double) * (size_t)n * w);
}

/* Two sequences of 8 steps in one piece, then in two chunks of 4 by a net
 * of T = 4 with the same weights, the state carried from the first chunk
 * to the second. Outputs and final states agree (to the rounding of
 * products of another shape: the one-piece net's input product has twice
 * the rows), and the carried state is the first chunk's final one. */
static void carry(bp_op op) {
    const int B = 2, T = 8, C = 4, I = 3, H = 5, L = 2, P = op == BP_OP_LSTM ? 2 : 1;
    for (int f32 = 0; f32 < 2; f32++) {
        bp_dtype t = f32 ? BP_F32 : BP_F64;
        double tol = f32 ? 1e-5 : 1e-12;
        bp_rng_seed(&R, 4);
        double *x = randoms((size_t)B * T * I, 1), part[2 * 4 * 3], whole[2 * 8 * 5],
               chunk[2 * 4 * 5], fin_whole[2 * 2 * 2 * 5], fin[2 * 2 * 2 * 5 * 2];
        bp_net *one = rec_net(op, t, T, I, H, L), *two = rec_net(op, t, C, I, H, L);
        const size_t S = (size_t)P * L * B * H; /* a state's values */
        const double *y = bp_net_forward(one, x, B, &E);
        CHECK(y != NULL);
        memcpy(whole, y, sizeof whole);
        CHECK(bp_graph_state_get(one->graph, 1, BP_STATE_FINAL, fin_whole, &E) == B);
        for (int c = 0; c < 2; c++) {
            steps(part, x, B, T, I, c * C, C);
            y = bp_net_forward(two, part, B, &E);
            CHECK(y != NULL);
            steps(chunk, whole, B, T, H, c * C, C);
            CHECK(diff(chunk, y, (size_t)B * C * H, 0) <= tol);
            if (c == 0) {
                CHECK(bp_graph_state_get(two->graph, 1, BP_STATE_FINAL, fin, &E) == B);
                CHECK(bp_graph_state_carry(two->graph, &E) == 0);
                CHECK(bp_graph_state_get(two->graph, 1, BP_STATE_INITIAL, fin + S, &E) == B);
                CHECK(memcmp(fin, fin + S, sizeof(double) * S) == 0);
            }
        }
        CHECK(bp_graph_state_get(two->graph, 1, BP_STATE_FINAL, fin, &E) == B);
        CHECK(diff(fin_whole, fin, S, 0) <= tol);
        bp_net_free(one);
        bp_net_free(two);
        free(x);
    }
}

static void test_carry(void) {
    carry(BP_OP_LSTM);
    carry(BP_OP_GRU);
    carry(BP_OP_RNN);
}

/* The loss of a forward from initial state s (half_se against y). */
static double loss_from(bp_net *net, const double *s, int B, const double *x,
                        const double *y) {
    CHECK(bp_graph_state_set(net->graph, 1, s, B, &E) == 0);
    const double *out = bp_net_forward(net, x, B, &E);
    return bp_loss_forward(out, y, B, bp_net_outputs(net), BP_LOSS_HALF_SE);
}

/* From a given state, the weights' gradients are the chunk's alone (the
 * state is a constant: fd_check's differences hold it), and dLoss/d(state)
 * matches differences of the loss in each state value. */
static void state_grad(bp_op op) {
    const int B = 2, T = 3, I = 2, H = 3, L = 2;
    for (int f32 = 0; f32 < 2; f32++) {
        bp_net *net = rec_net(op, f32 ? BP_F32 : BP_F64, T, I, H, L);
        bp_rng_seed(&R, 8);
        size_t ns = (size_t)(op == BP_OP_LSTM ? 2 : 1) * L * B * H, O = (size_t)B * T * H;
        double *s = randoms(ns, 0.8), *x = randoms((size_t)B * T * I, 1), *y = randoms(O, 1);
        double *ds = malloc(sizeof(double) * ns), *dout = calloc(O, sizeof(double));
        CHECK(bp_graph_state_set(net->graph, 1, s, B, &E) == 0);
        char what[64];
        snprintf(what, sizeof what, "%s from a state (%s)", bp_op_name(op),
                 f32 ? "float32" : "float64");
        fd_check(net, x, y, B, BP_LOSS_HALF_SE, what);
        const double *out = bp_net_forward(net, x, B, &E);
        bp_loss_backward(dout, out, y, B, (int)(O / B), BP_LOSS_HALF_SE);
        CHECK(bp_net_backward(net, dout, &E) == 0);
        CHECK(bp_graph_state_get(net->graph, 1, BP_STATE_GRAD, ds, &E) == B);
        const double h = f32 ? 1e-3 : 1e-6, atol = f32 ? 2e-3 : 1e-7, rtol = f32 ? 2e-2 : 1e-5;
        int bad = 0;
        for (size_t k = 0; k < ns; k++) {
            double v = s[k];
            s[k] = v + h;
            double lp = loss_from(net, s, B, x, y);
            s[k] = v - h;
            double lm = loss_from(net, s, B, x, y);
            s[k] = v;
            double num = (lp - lm) / (2 * h);
            if (!close_to(ds[k], num, atol, rtol) && bad++ < 5)
                report(what, "state", k, ds[k], num);
        }
        CHECK(bad == 0);
        free(s), free(x), free(y), free(ds), free(dout);
        bp_net_free(net);
    }
}

static void test_state_grad(void) {
    state_grad(BP_OP_LSTM);
    state_grad(BP_OP_GRU);
    state_grad(BP_OP_RNN);
}

static void test_state_errors(void) {
    bp_net *net = lstm_net(BP_F64, 2, 1, 1, 1);
    const double x[4] = {1, 2, 3, 4}, s[4] = {0};
    double out[8];
    expect(bp_graph_state_get(net->graph, 1, BP_STATE_FINAL, out, &E),
           "lstm (module 'rnn'): no final state: run a forward first");
    expect(bp_graph_state_carry(net->graph, &E), "no state to carry: run a forward first");
    expect(bp_graph_state_get(net->graph, 0, BP_STATE_FINAL, out, &E),
           "input (module 'input'): has no state (only lstm, rnn and gru have)");
    CHECK(bp_net_forward(net, x, 2, &E) != NULL);
    CHECK(bp_net_backward(net, (double[4]){1, 1, 1, 1}, &E) == 0);
    expect(bp_graph_state_get(net->graph, 1, BP_STATE_GRAD, out, &E),
           "lstm (module 'rnn'): its initial state is zeros, which have no gradient: set "
           "one first");
    CHECK(bp_graph_state_set(net->graph, 1, s, 2, &E) == 0);
    expect(bp_net_backward(net, (double[4]){1, 1, 1, 1}, &E),
           "backward needs a forward first");
    CHECK(bp_net_forward(net, x, 1, &E) == NULL);
    CHECK(strcmp(E.msg, "lstm (module 'rnn'): its initial state holds 2 sequences, the "
                        "batch has 1 (set one of 1, or zeros)") == 0);
    CHECK(bp_net_forward(net, x, 2, &E) != NULL);
    expect(bp_graph_state_get(net->graph, 1, BP_STATE_GRAD, out, &E),
           "lstm (module 'rnn'): no gradient of the state: run a backward first");
    bp_graph_state_reset(net->graph);
    CHECK(bp_graph_state_info(net->graph, 1, &(int){0}, &(int){0}, &(int){0}, &E) == 0);
    CHECK(bp_net_forward(net, x, 1, &E) != NULL);
    bp_net_free(net);
}

int main(void) {
    test_hand();
    test_carry();
    test_state_grad();
    test_state_errors();
    test_fast_matches_ref();
    test_cell_f32_bound();
    test_rnn_gru_hand();
    test_rnn_gru_fast_matches_ref();
    test_fd_lstm();
    test_fd_rnn_gru();
    test_layernorm();
    test_fd_embedding();
    test_init();
    test_init_rnn_gru();
    test_errors();
    return check_report("test_seq");
}
