/* test_attention.c: multi-head self-attention and the position embedding
 * (bp_seq.h's attention kernels, bp_graph.h's attention and position ops).
 *
 * By hand: two steps of two values, one head, q = k = v = x, the weights
 * and outputs written out, with and without the causal mask, through both
 * kernels and through a graph. The fast path (products) against the
 * reference (a sum at a time) in both dtypes, causal or not, several
 * heads; the biases' gradient a sample at a time equal to the whole
 * batch's column sums. Finite differences in both dtypes: attention alone, the position
 * embedding, and a pre-norm GPT block (layernorm, attention, add;
 * layernorm, linear 4C, gelu, linear C, add) after token and position
 * embeddings. Causality: changing the steps after t leaves every output
 * up to t as it was (to the bit), and without the mask it does not. The
 * exact messages of bad constructions and of a sequence longer than the
 * block; nanoGPT's parameter names and shapes, nn.Linear's initial range. */
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
#include "ops_vec.h"

/* An input of shape T x C. */
static int seq_input(int T, int C) {
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 2, o.shape[0] = T, o.shape[1] = C;
    return add(BP_OP_INPUT, 0, &o);
}

static int attention(int x, int C, int heads, int causal, int block) {
    bp_node_opts o = bp_node_opts_default(BP_OP_ATTENTION);
    o.in = C, o.heads = heads, o.causal = causal, o.block = block, o.rng = &R;
    return add(BP_OP_ATTENTION, x, &o);
}

static int position(int x, int block, int C) {
    bp_node_opts o = bp_node_opts_default(BP_OP_POSITION);
    o.in = block, o.out = C, o.rng = &R;
    return add(BP_OP_POSITION, x, &o);
}

/* ------------------------------------------------------------------------ */
/* By hand                                                                   */

/* x = (1, 0), (0, 1); c_attn makes q = k = v = x (three identities, no
 * bias); c_proj.weight ((2, 1), (0, 1)), bias (0.5, -0.5): y = (2 a0 + a1 +
 * 0.5, a1 - 0.5) from a step's attention output a. One head: D = 2, the
 * scale 1/sqrt(2). With e = exp(1/sqrt(2)), P = e / (1 + e) and Q = 1 / (1
 * + e):
 *   causal: step 1 sees itself only, p = (1, 0), a = v1 = (1, 0), y = (2.5,
 *     -0.5); step 2's scores (q2.k1, q2.k2) / sqrt(2) = (0, 1/sqrt(2)),
 *     p = (Q, P), a = Q v1 + P v2 = (Q, P), y = (2Q + P + 0.5, P - 0.5).
 *   not causal: step 1's scores (1/sqrt(2), 0), p = (P, Q), a = (P, Q),
 *     y = (2P + Q + 0.5, Q - 0.5); step 2 as causal's. */
static const double hand_x[4] = {1, 0, 0, 1},
                    hand_wqkv[12] = {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1},
                    hand_bqkv[6] = {0}, hand_wo[4] = {2, 1, 0, 1},
                    hand_bo[2] = {0.5, -0.5};
static const double P_ = 0.6697615493266569, Q_ = 0.3302384506733431;

static void hand_expected(int causal, double *p, double *y) {
    const double pc[4] = {1, 0, Q_, P_}, pn[4] = {P_, Q_, Q_, P_};
    const double yc[4] = {2.5, -0.5, 1.8302384506733431, 0.16976154932665688},
                 yn[4] = {2.169761549326657, -0.16976154932665688, 1.8302384506733431,
                          0.16976154932665688};
    memcpy(p, causal ? pc : pn, sizeof pc);
    memcpy(y, causal ? yc : yn, sizeof yc);
}

static void test_hand_kernels(void) {
    for (int causal = 0; causal < 2; causal++)
        for (int fast = 0; fast < 2; fast++) {
            double y[4], qkv[12], p[4], att[4], wp[4], wy[4];
            hand_expected(causal, wp, wy);
            (fast ? bp_attention_forward : bp_attention_forward_ref)(
                y, qkv, p, att, hand_x, hand_wqkv, hand_bqkv, hand_wo, hand_bo, 1, 2, 2,
                1, causal);
            for (int k = 0; k < 4; k++) {
                CHECK_NEAR(p[k], wp[k], 1e-15);
                CHECK_NEAR(y[k], wy[k], 1e-15);
                CHECK_NEAR(att[k], wp[k], 1e-15); /* v = x: a = the row of weights */
            }
            /* q, k, v of each step are the step's x */
            for (int t = 0; t < 2; t++)
                for (int j = 0; j < 6; j++)
                    CHECK(qkv[t * 6 + j] == hand_x[t * 2 + j % 2]);
        }
}

/* The same through a graph (weights set by hand, both dtypes). */
static void test_hand_graph(void) {
    for (int t = 0; t < 2; t++)
        for (int causal = 0; causal < 2; causal++) {
            begin(t ? BP_F32 : BP_F64, 1);
            bp_net *net = as_net(attention(seq_input(2, 2), 2, 1, causal, 2));
            int n;
            const bp_param *ps = bp_graph_node_params(net->graph, 1, &n);
            CHECK(n == 4);
            const double *vals[4] = {hand_wqkv, hand_bqkv, hand_wo, hand_bo};
            for (int k = 0; k < n; k++)
                for (size_t j = 0; j < ps[k].count; j++) {
                    if (t) ((float *)ps[k].data)[j] = (float)vals[k][j];
                    else ((double *)ps[k].data)[j] = vals[k][j];
                }
            double wp[4], wy[4];
            hand_expected(causal, wp, wy);
            const double *y = bp_net_forward(net, hand_x, 1, &E);
            CHECK(y != NULL);
            for (int k = 0; y && k < 4; k++) CHECK_NEAR(y[k], wy[k], t ? 1e-6 : 1e-15);
            bp_net_free(net);
        }
}

/* ------------------------------------------------------------------------ */
/* The fast path against the reference                                       */

/* Both builds on the same random numbers: y, qkv, p, att, and every
 * gradient; in float, the same kernels on the numbers rounded. */
static void fast_vs_ref(int B, int T, int C, int heads, int causal, int f32) {
    const size_t nx = (size_t)B * T * C, nw = 3 * (size_t)C * C,
                 np = (size_t)B * heads * T * T;
    /* inputs: x, wqkv, bqkv, wo, bo, dy */
    size_t nin[6] = {nx, nw, 3 * (size_t)C, (size_t)C * C, (size_t)C, nx};
    double *in[6];
    void *fin[6];
    /* the weights in nn.Linear's range from C = 32 on: of range 1 there,
     * W9's C = 128 makes scores of tens, whose softmax turns float's
     * rounding of them (either path's) into 1e-3 */
    const double ws = C >= 32 ? 1 / sqrt((double)C) : 1;
    for (int k = 0; k < 6; k++) {
        in[k] = randoms(nin[k], k == 1 || k == 3 ? ws : 1);
        fin[k] = f32 ? (void *)floats(in[k], nin[k]) : (void *)in[k];
    }
    /* outputs: y, qkv, p, att | dx, dwqkv, dbqkv, dwo, dbo | datt, dqkv, dp */
    size_t sizes[12] = {
        nx,        3 * nx, np,     nx,           nx, nw, 3 * (size_t)C, (size_t)C * C,
        (size_t)C, nx,     3 * nx, (size_t)T * T};
    size_t z = f32 ? sizeof(float) : sizeof(double);
    void *out[2][12];
    for (int v = 0; v < 2; v++) {
        void **o = out[v];
        for (int k = 0; k < 12; k++) o[k] = calloc(sizes[k], z);
        if (f32) {
            (v ? bp_attention_forward_f32 : bp_attention_forward_ref_f32)(
                o[0], o[1], o[2], o[3], fin[0], fin[1], fin[2], fin[3], fin[4], B, T, C,
                heads, causal);
            (v ? bp_attention_backward_f32 : bp_attention_backward_ref_f32)(
                o[4], o[5], o[6], o[7], o[8], o[9], o[10], o[11], fin[5], fin[0], o[1],
                o[2], o[3], fin[1], fin[3], B, T, C, heads, causal);
        } else {
            (v ? bp_attention_forward
               : bp_attention_forward_ref)(o[0], o[1], o[2], o[3], in[0], in[1], in[2],
                                           in[3], in[4], B, T, C, heads, causal);
            (v ? bp_attention_backward : bp_attention_backward_ref)(
                o[4], o[5], o[6], o[7], o[8], o[9], o[10], o[11], in[5], in[0], o[1],
                o[2], o[3], in[1], in[3], B, T, C, heads, causal);
        }
    }
    double tol = f32 ? 2e-5 : 1e-12;
    for (int k = 0; k < 9; k++) {
        double d = diff(out[0][k], out[1][k], sizes[k], f32);
        if (d > tol)
            fprintf(stderr,
                    "attention fast vs ref B=%d T=%d C=%d heads=%d causal=%d f32=%d: "
                    "output %d off by %g\n",
                    B, T, C, heads, causal, f32, k, d);
        CHECK(d <= tol);
    }
    for (int v = 0; v < 2; v++)
        for (int k = 0; k < 12; k++) free(out[v][k]);
    for (int k = 0; k < 6; k++) {
        if (f32) free(fin[k]);
        free(in[k]);
    }
}

static void test_fast_matches_ref(void) {
    bp_rng_seed(&R, 5);
    /* T = 37: float's softmax rows (ops_vec.c) in two whole lanes and a tail;
     * T = 64, D = 32 (W9's heads) and T = 32, D = 16: float's heads by
     * attn_vec.c's register blocks */
    const int shapes[][4] = {{1, 1, 1, 1},   {2, 5, 8, 2},   {3, 7, 6, 3},  {2, 16, 16, 4},
                             {2, 37, 8, 2},  {2, 64, 128, 4}, {3, 32, 32, 2}};
    for (int f32 = 0; f32 < 2; f32++)
        for (int s = 0; s < 7; s++)
            for (int causal = 0; causal < 2; causal++)
                fast_vs_ref(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                            causal, f32);
}

/* The query, key and value biases' gradient (attn_fast.h sums dqkv's
 * columns a sample at a time, after its heads): equal (==) to dqkv's
 * columns summed over all B T rows in ascending order onto what dbqkv held,
 * in both dtypes, on the register blocks' heads (T 64, D 32) and GEMM's (T
 * 37). A sample left out or summed twice, or a column's terms taken in
 * another order, fails. */
static void bias_sums(int B, int T, int C, int heads, int f32) {
    const size_t nx = (size_t)B * T * C, C3 = 3 * (size_t)C, z = f32 ? 4 : 8;
    const double ws = 1 / sqrt((double)C);
    double *in[6];
    void *fin[6];
    size_t nin[6] = {nx, C3 * C, C3, (size_t)C * C, (size_t)C, nx};
    for (int k = 0; k < 6; k++) {
        in[k] = randoms(nin[k], k == 1 || k == 3 ? ws : 1);
        fin[k] = f32 ? (void *)floats(in[k], nin[k]) : (void *)in[k];
    }
    void *y = calloc(nx, z), *qkv = calloc(3 * nx, z), *p = calloc((size_t)B * heads * T * T, z),
         *att = calloc(nx, z), *dx = calloc(nx, z), *dw = calloc(C3 * C, z),
         *db = calloc(C3, z), *dwo = calloc((size_t)C * C, z), *dbo = calloc(C, z),
         *datt = calloc(nx, z), *dqkv = calloc(3 * nx, z), *dp = calloc((size_t)T * T, z);
    int bad = 0;
    if (f32) {
        float *b = db, *g = dqkv, e[3 * 128];
        for (size_t r = 0; r < C3; r++) b[r] = e[r] = (float)in[2][r];
        bp_attention_forward_f32(y, qkv, p, att, fin[0], fin[1], fin[2], fin[3], fin[4], B, T, C,
                                 heads, 1);
        bp_attention_backward_f32(dx, dw, db, dwo, dbo, datt, dqkv, dp, fin[5], fin[0], qkv, p,
                                  att, fin[1], fin[3], B, T, C, heads, 1);
        for (size_t bt = 0; bt < (size_t)B * T; bt++)
            for (size_t r = 0; r < C3; r++) e[r] += g[bt * C3 + r];
        for (size_t r = 0; r < C3; r++) bad += !(b[r] == e[r]);
    } else {
        double *b = db, *g = dqkv, e[3 * 128];
        for (size_t r = 0; r < C3; r++) b[r] = e[r] = in[2][r];
        bp_attention_forward(y, qkv, p, att, in[0], in[1], in[2], in[3], in[4], B, T, C, heads, 1);
        bp_attention_backward(dx, dw, db, dwo, dbo, datt, dqkv, dp, in[5], in[0], qkv, p, att,
                              in[1], in[3], B, T, C, heads, 1);
        for (size_t bt = 0; bt < (size_t)B * T; bt++)
            for (size_t r = 0; r < C3; r++) e[r] += g[bt * C3 + r];
        for (size_t r = 0; r < C3; r++) bad += !(b[r] == e[r]);
    }
    if (bad) fprintf(stderr, "attention bias sums B=%d T=%d f32=%d: %d differ\n", B, T, f32, bad);
    CHECK(bad == 0);
    void *all[] = {y, qkv, p, att, dx, dw, db, dwo, dbo, datt, dqkv, dp};
    for (int k = 0; k < 12; k++) free(all[k]);
    for (int k = 0; k < 6; k++) {
        if (f32) free(fin[k]);
        free(in[k]);
    }
}
static void test_bias_sums(void) {
    bp_rng_seed(&R, 43);
    for (int f32 = 0; f32 < 2; f32++) {
        bias_sums(3, 64, 128, 4, f32);
        bias_sums(4, 37, 8, 2, f32);
    }
}

/* attn_vec.c's heads against their products written plainly: each sum over
 * all its terms in ascending order by fmaf, as GEMM's definition (the
 * masked terms, zeros, included), then the same softmax rows: every value
 * equal (==: the kernel skips only exact zeros, which can change a zero's
 * sign and nothing else), forward (P, out) and backward (dS, dq, dk, dv),
 * causal or not, for W9's heads (T 64, D 32) and T 32, D 16, inside rows ld
 * apart as in qkv. A block summed in another order, a causal range cut one
 * term short or a score left unwritten that the softmax reads, fails. P's
 * and dS's values past each row's last kept vector must stay unwritten
 * (NaN), and no product may read them (the NaN would reach its sums). */
static float dot_ref(const float *a, int as, const float *b, int bs, int n) {
    float s = 0;
    for (int k = 0; k < n; k++) s = fmaf(a[(size_t)k * as], b[(size_t)k * bs], s);
    return s;
}
/* the end of row i's last vector of 16 holding a kept value */
static int row_end(int i, int T, int causal) { return causal ? (i / 16 + 1) * 16 : T; }
static void test_vec_head(void) {
    bp_rng_seed(&R, 41);
    const int shapes[2][2] = {{64, 32}, {32, 16}};
    for (int s = 0; s < 2; s++)
        for (int causal = 0; causal < 2; causal++) {
            const int T = shapes[s][0], D = shapes[s][1], ld = 3 * D + 5, ldo = D + 3;
            const float scale = 1 / sqrtf((float)D);
            CHECK(bp_attn_head_vec_ok(T, D));
            float *qkv = calloc((size_t)T * ld, sizeof(float)),
                  *dO = calloc((size_t)T * ldo, sizeof(float)),
                  *out = calloc((size_t)T * ldo, sizeof(float)),
                  *P = malloc(sizeof(float) * T * T), *Pr = malloc(sizeof(float) * T * T),
                  *dp = malloc(sizeof(float) * T * T), *dpr = malloc(sizeof(float) * T * T),
                  *dqkv = calloc((size_t)T * ld, sizeof(float));
            for (int i = 0; i < T; i++) {
                for (int c = 0; c < 3 * D; c++)
                    qkv[(size_t)i * ld + c] = (float)(4 * bp_rng_uniform(&R) - 2);
                for (int c = 0; c < D; c++)
                    dO[(size_t)i * ldo + c] = (float)(2 * bp_rng_uniform(&R) - 1);
            }
            for (int k = 0; k < T * T; k++) P[k] = dp[k] = NAN; /* unwritten: NaN */
            const float *q = qkv, *k = qkv + D, *v = qkv + 2 * D;
            bp_attn_head_forward_vec(out, ldo, P, q, k, v, ld, T, D, scale, causal);
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++)
                    Pr[i * T + j] = scale * dot_ref(q + (size_t)i * ld, 1, k + (size_t)j * ld, 1, D);
            bp_attn_softmax_rows_vec(Pr, T, causal);
            int bad = 0;
            /* P's values past each row's last kept vector are not written
             * (still NaN), nor read: a NaN read reaches out */
            for (int x = 0; x < T * T; x++)
                bad += x % T < row_end(x / T, T, causal) ? !(P[x] == Pr[x]) : !isnan(P[x]);
            for (int i = 0; i < T; i++)
                for (int c = 0; c < D; c++)
                    bad += !(out[(size_t)i * ldo + c] == dot_ref(Pr + i * T, 1, v + c, ld, T));
            /* backward */
            bp_attn_head_backward_vec(dqkv, dqkv + D, dqkv + 2 * D, dp, P, dO, ldo, q, k, v,
                                      ld, T, D, scale, causal);
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++)
                    dpr[i * T + j] = dot_ref(dO + (size_t)i * ldo, 1, v + (size_t)j * ld, 1, D);
            for (int j = 0; j < T; j++)
                for (int c = 0; c < D; c++)
                    bad += !(dqkv[(size_t)j * ld + 2 * D + c] ==
                             dot_ref(Pr + j, T, dO + c, ldo, T));
            bp_attn_softmax_backward_rows_vec(dpr, Pr, T, causal, scale);
            for (int x = 0; x < T * T; x++)
                bad += x % T < row_end(x / T, T, causal) ? !(dp[x] == dpr[x]) : !isnan(dp[x]);
            for (int i = 0; i < T; i++)
                for (int c = 0; c < D; c++) {
                    bad += !(dqkv[(size_t)i * ld + c] == dot_ref(dpr + i * T, 1, k + c, ld, T));
                    bad += !(dqkv[(size_t)i * ld + D + c] == dot_ref(dpr + i, T, q + c, ld, T));
                }
            if (bad) fprintf(stderr, "vec head T=%d D=%d causal=%d: %d values differ\n", T, D, causal, bad);
            CHECK(bad == 0);
            free(qkv), free(dO), free(out), free(P), free(Pr), free(dp), free(dpr), free(dqkv);
        }
    CHECK(!bp_attn_head_vec_ok(37, 32) && !bp_attn_head_vec_ok(64, 8) &&
          !bp_attn_head_vec_ok(1024, 32));
}

/* ------------------------------------------------------------------------ */
/* Finite differences                                                        */

/* x (T x C) -> attention -> flatten -> linear to 3, half_se: every weight
 * and every input. */
static void test_fd_attention(void) {
    const int cases[][5] = {{1, 1, 1, 1, 1},
                            {2, 3, 4, 1, 1},
                            {3, 4, 6, 2, 1},
                            {2, 5, 6, 3, 0},
                            {2, 4, 8, 4, 1}};
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 5; k++) {
            int B = cases[k][0], T = cases[k][1], C = cases[k][2], heads = cases[k][3];
            begin(t ? BP_F32 : BP_F64, 21 + k);
            int h = attention(seq_input(T, C), C, heads, cases[k][4], 8);
            h = add(BP_OP_FLATTEN, h, NULL);
            bp_node_opts o = bp_node_opts_default(BP_OP_LINEAR);
            o.in = T * C, o.out = 3, o.rng = &R;
            bp_net *net = as_net(add(BP_OP_LINEAR, h, &o));
            char what[80];
            snprintf(what, sizeof what, "attention T=%d C=%d heads=%d causal=%d", T, C,
                     heads, cases[k][4]);
            if (net) fd_run(net, B, BP_LOSS_HALF_SE, what);
            bp_net_free(net);
        }
}

/* x (T x C) -> position (block 6) -> tanh, half_se: the weight (its rows
 * past T get no gradient) and every input. */
static void test_fd_position(void) {
    for (int t = 0; t < 2; t++) {
        begin(t ? BP_F32 : BP_F64, 31);
        int h = position(seq_input(4, 3), 6, 3);
        bp_node_opts a = bp_node_opts_default(BP_OP_ACT);
        a.act = BP_ACT_TANH;
        bp_net *net = as_net(add(BP_OP_ACT, h, &a));
        fd_run(net, 3, BP_LOSS_HALF_SE, "position");
        int n;
        const bp_param *w = bp_graph_node_params(net->graph, 1, &n);
        CHECK(n == 1 && w[0].shape[0] == 6 && w[0].shape[1] == 3);
        for (size_t j = 12; j < 18; j++)
            CHECK((t ? ((float *)w[0].grad)[j] : ((double *)w[0].grad)[j]) == 0);
        bp_net_free(net);
    }
}

/* One pre-norm GPT block on h (T x C): h + attn(ln1(h)), then that + mlp(ln2(.)),
 * mlp = linear 4C, gelu, linear C. Returns the block's output. */
static int gpt_block(int h, int C, int heads) {
    bp_node_opts o = bp_node_opts_default(BP_OP_LAYERNORM);
    o.in = C;
    int a = attention(add(BP_OP_LAYERNORM, h, &o), C, heads, 1, 0);
    int in[2] = {h, a};
    h = bp_graph_add(G, BP_OP_ADD, in, 2, NULL, &E);
    int m = add(BP_OP_LAYERNORM, h, &o);
    bp_node_opts l = bp_node_opts_default(BP_OP_LINEAR);
    l.in = C, l.out = 4 * C, l.rng = &R;
    m = add(BP_OP_LINEAR, m, &l);
    bp_node_opts g = bp_node_opts_default(BP_OP_ACT);
    g.act = BP_ACT_GELU;
    m = add(BP_OP_ACT, m, &g);
    l.in = 4 * C, l.out = C;
    m = add(BP_OP_LINEAR, m, &l);
    in[0] = h, in[1] = m;
    return bp_graph_add(G, BP_OP_ADD, in, 2, NULL, &E);
}

/* Moves every trainable value of net a little from its start (layer
 * norms start at 1 and 0, where some gradients are special). */
static void perturb(bp_net *net) {
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int p = 0; p < n; p++)
        for (size_t k = 0; t[p].trainable && k < t[p].count; k++) {
            double d = 0.1 * (2 * bp_rng_uniform(&R) - 1);
            if (net->dtype == BP_F32) ((float *)t[p].data)[k] += (float)d;
            else ((double *)t[p].data)[k] += d;
        }
}

/* x (T x C) -> position -> two GPT blocks -> layernorm -> flatten ->
 * linear to 2 (the input's gradient through all of it); and ids (T) ->
 * embedding -> position -> a block -> linear to V, as char_gpt.lua
 * builds it, softmax_ce over the steps' scores read as rows. */
static void test_fd_gpt_block(void) {
    for (int t = 0; t < 2; t++) {
        const int T = 3, C = 4;
        begin(t ? BP_F32 : BP_F64, 41);
        int h = position(seq_input(T, C), 5, C);
        h = gpt_block(gpt_block(h, C, 2), C, 2);
        bp_node_opts o = bp_node_opts_default(BP_OP_LAYERNORM);
        o.in = C;
        h = add(BP_OP_FLATTEN, add(BP_OP_LAYERNORM, h, &o), NULL);
        bp_node_opts l = bp_node_opts_default(BP_OP_LINEAR);
        l.in = T * C, l.out = 2, l.rng = &R;
        bp_net *net = as_net(add(BP_OP_LINEAR, h, &l));
        perturb(net);
        fd_run(net, 2, BP_LOSS_HALF_SE, "gpt blocks");
        bp_net_free(net);
    }
}

/* ------------------------------------------------------------------------ */
/* Causality                                                                 */

/* Two GPT blocks on B = 2 sequences of 6 steps: the outputs at steps 1..t
 * are the same bits when the inputs after t change; without the mask the
 * earlier outputs move. */
static void causal_case(bp_dtype dt, int causal) {
    const int T = 6, C = 4, B = 2, n = B * T * C;
    begin(dt, 51);
    int x = seq_input(T, C);
    bp_node_opts o = bp_node_opts_default(BP_OP_ATTENTION);
    o.in = C, o.heads = 2, o.causal = causal, o.rng = &R;
    int h = add(BP_OP_ATTENTION, x, &o);
    bp_net *net = as_net(gpt_block(h, C, 2));
    double in[2 * 6 * 4], y0[2 * 6 * 4];
    for (int k = 0; k < n; k++) in[k] = sin(0.7 * k + 0.1);
    memcpy(y0, bp_net_forward(net, in, B, &E), sizeof y0);
    for (int t = 1; t < T; t++) {
        double moved[2 * 6 * 4];
        memcpy(moved, in, sizeof moved);
        for (int b = 0; b < B; b++)
            for (int s = t; s < T; s++)
                for (int c = 0; c < C; c++) moved[(b * T + s) * C + c] += 0.5 + s + c;
        const double *y = bp_net_forward(net, moved, B, &E);
        int same = 1;
        for (int b = 0; b < B; b++)
            same = same && !memcmp(y + b * T * C, y0 + b * T * C, sizeof(double) * t * C);
        CHECK(same == causal);
    }
    bp_net_free(net);
}

static void test_causal(void) {
    for (int t = 0; t < 2; t++) {
        causal_case(t ? BP_F32 : BP_F64, 1);
        causal_case(t ? BP_F32 : BP_F64, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* Parameters and errors                                                     */

/* nanoGPT's names and shapes, nn.Linear's range U(-1/sqrt(C), 1/sqrt(C))
 * for every tensor, nn.Embedding's N(0, 1) for the position's. */
static void test_params(void) {
    begin(BP_F64, 61);
    const int C = 16;
    bp_node_opts o = bp_node_opts_default(BP_OP_ATTENTION);
    o.in = C, o.heads = 4, o.rng = &R, o.name = "attn";
    int h = add(BP_OP_ATTENTION, seq_input(8, C), &o);
    o = bp_node_opts_default(BP_OP_POSITION);
    o.in = 8, o.out = C, o.rng = &R, o.name = "wpe";
    bp_net *net = as_net(add(BP_OP_POSITION, h, &o));
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    const char *names[5] = {"attn.c_attn.weight", "attn.c_attn.bias",
                            "attn.c_proj.weight", "attn.c_proj.bias", "wpe.weight"};
    const int shapes[5][2] = {{3 * C, C}, {3 * C, 0}, {C, C}, {C, 0}, {8, C}};
    CHECK(n == 5);
    for (int k = 0; k < n && k < 5; k++) {
        CHECK_STR(t[k].name, names[k]);
        CHECK(t[k].ndim == (shapes[k][1] ? 2 : 1) && t[k].shape[0] == shapes[k][0]);
        CHECK(t[k].ndim == 1 || t[k].shape[1] == shapes[k][1]);
        double lo = 0, hi = 0, sum = 0, sq = 0;
        for (size_t j = 0; j < t[k].count; j++) {
            double v = ((double *)t[k].data)[j];
            lo = fmin(lo, v), hi = fmax(hi, v), sum += v, sq += v * v;
        }
        if (k < 4) {
            CHECK(lo >= -0.25 && hi <= 0.25 && lo < -0.2 && hi > 0.2);
        } else {
            double m = sum / t[k].count, sd = sqrt(sq / t[k].count - m * m);
            CHECK(fabs(m) < 0.2 && sd > 0.8 && sd < 1.2);
        }
    }
    bp_net_free(net);
}

static void expect(int rc, const char *msg) {
    CHECK(rc == -1);
    CHECK_STR(E.msg, msg);
}

static void test_errors(void) {
    begin(BP_F64, 71);
    int x = seq_input(8, 6);
    bp_node_opts o = bp_node_opts_default(BP_OP_ATTENTION);
    o.in = 6, o.heads = 4, o.name = "attn";
    expect(
        bp_graph_add(G, BP_OP_ATTENTION, &x, 1, &o, &E),
        "attention (module 'attn'): 4 heads do not divide C = 6 (C % heads must be 0)");
    o.heads = 0;
    expect(bp_graph_add(G, BP_OP_ATTENTION, &x, 1, &o, &E),
           "attention (module 'attn'): needs C >= 1 and heads >= 1 (got 6 and 0)");
    o.heads = 2, o.block = -1;
    expect(bp_graph_add(G, BP_OP_ATTENTION, &x, 1, &o, &E),
           "attention (module 'attn'): a block of -1 (>= 1, or 0 for any length)");
    o.block = 4;
    int a = bp_graph_add(G, BP_OP_ATTENTION, &x, 1, &o, &E);
    CHECK(a == 1);
    expect(
        bp_graph_finish(G, a, &E),
        "attention (module 'attn'): a sequence of 8 steps is longer than its block of 4");
    CHECK(bp_graph_truncate(G, 1, 0, &E) == 0);
    o.in = 5, o.heads = 1, o.block = 0;
    int b = bp_graph_add(G, BP_OP_ATTENTION, &x, 1, &o, &E);
    expect(
        bp_graph_finish(G, b, &E),
        "attention (module 'attn'): takes sequences of T x 5, its input has shape 8x6");
    CHECK(bp_graph_truncate(G, 1, 0, &E) == 0);
    bp_graph_free(G);
    /* 50,000 steps of 2 heads: 5e9 weights a sample */
    begin(BP_F32, 71);
    x = seq_input(50000, 2);
    o.in = 2, o.heads = 2;
    b = bp_graph_add(G, BP_OP_ATTENTION, &x, 1, &o, &E);
    expect(bp_graph_finish(G, b, &E),
           "attention (module 'attn'): 2 heads of 50000 x 50000 weights a sample are too "
           "many");
    bp_graph_free(G);
    begin(BP_F64, 71);
    x = seq_input(8, 6);
    bp_node_opts p = bp_node_opts_default(BP_OP_POSITION);
    p.in = 5, p.out = 6, p.name = "wpe";
    int w = bp_graph_add(G, BP_OP_POSITION, &x, 1, &p, &E);
    expect(
        bp_graph_finish(G, w, &E),
        "position (module 'wpe'): a sequence of 8 steps is longer than its block of 5");
    CHECK(bp_graph_truncate(G, 1, 0, &E) == 0);
    p.in = 0;
    expect(bp_graph_add(G, BP_OP_POSITION, &x, 1, &p, &E),
           "position (module 'wpe'): needs a block >= 1 and C >= 1 (got 0 and 6)");
    bp_graph_free(G);
}

int main(void) {
    test_hand_kernels();
    test_hand_graph();
    test_fast_matches_ref();
    test_vec_head();
    test_bias_sums();
    test_fd_attention();
    test_fd_position();
    test_fd_gpt_block();
    test_causal();
    test_params();
    test_errors();
    return check_report("test_attention");
}
