/* test_conv.c: the modules of images, conv2d, maxpool2d, avgpool2d and
 * batchnorm2d (bp_conv.h, bp_graph.h).
 *
 * A convolution computed by hand (a 4x4 image, a 3x3 filter, padding 1:
 * every output, every weight's gradient and the input's, written out);
 * the fast path (im2col and GEMM) against the reference loops on shapes
 * of every kind, and max pooling's fast forward against its reference bit
 * for bit; oneDNN's convolutions, and the chain conv2d -> ReLU -> max pool
 * in its blocked layout, against the references; finite differences of networks through each op in both
 * dtypes (strides 1 and 2, paddings 0 to 2, kernels 1, 3 and 5, one and
 * several channels, non-square images and kernels, pools overlapping and
 * not, batchnorm2d in both modes); max pooling's ties going to the first
 * maximum as PyTorch's; nn.Conv2d's default initialisation; and the exact
 * message of every bad construction. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_conv.h"
#include "bp_graph.h"
#include "bp_net.h"
#include "check.h"
#include "fd_check.h"
#include "graph_build.h"

static int image(int C, int H, int W) {
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 3, o.shape[0] = C, o.shape[1] = H, o.shape[2] = W;
    return add(BP_OP_INPUT, 0, &o);
}

/* The options of a window: kernel kh x kw, stride sh x sw, padding ph x pw. */
static bp_node_opts window(bp_op op, int kh, int kw, int sh, int sw, int ph, int pw) {
    bp_node_opts o = bp_node_opts_default(op);
    o.kh = kh, o.kw = kw, o.sh = sh, o.sw = sw, o.ph = ph, o.pw = pw, o.rng = &R;
    return o;
}

static int conv(int x, int C, int O, int k, int stride, int pad) {
    bp_node_opts o = window(BP_OP_CONV2D, k, k, stride, stride, pad, pad);
    o.in = C, o.out = O;
    return add(BP_OP_CONV2D, x, &o);
}

static int pool(bp_op op, int x, int k, int stride, int pad) {
    bp_node_opts o = window(op, k, k, stride, stride, pad, pad);
    return add(op, x, &o);
}

/* x, then a tanh, a flatten and a linear to 2 outputs: a loss of every
 * value of x through weights of its own. */
static bp_net *head(int x) {
    bp_node_opts o = bp_node_opts_default(BP_OP_ACT);
    o.act = BP_ACT_TANH;
    int h = add(BP_OP_FLATTEN, add(BP_OP_ACT, x, &o), NULL);
    int n = 0, shape[BP_GRAPH_MAX_DIMS];
    if (bp_graph_finish(G, h, &E)) fprintf(stderr, "finish: %s\n", E.msg);
    bp_graph_node_shape(G, h, &n, shape);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = shape[0], o.out = 2, o.rng = &R;
    int out = add(BP_OP_LINEAR, h, &o);
    return as_net(out);
}

/* ------------------------------------------------------------------------ */
/* By hand                                                                   */

/* x = 1..16 row by row, w = [1 0 2; 0 1 0; -1 0 3], b = 0.5, padding 1, and
 * the loss the sum of the outputs (dy = 1 everywhere). Each output is
 * b + sum_{i,j} w[i][j] x[p-1+i][q-1+j], zeros outside: y[0][0] = 0.5 +
 * 1*1 + 3*6 = 19.5. dw[i][j] sums the inputs w[i][j] ever multiplies: the
 * image with row i-1 .. i+2 and column j-1 .. j+2 kept, so dw[1][1] is the
 * whole image's sum, 136, and dw[0][0] the top-left 3x3's, 54. dx[h][v]
 * sums the weights that ever reach it: the middle four inputs are reached
 * by every weight but the zeros, 1 + 2 + 1 - 1 + 3 = 6. db = 16 outputs. */
static const double hand_x[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const double hand_w[9] = {1, 0, 2, 0, 1, 0, -1, 0, 3};
static const double hand_y[16] = {19.5, 18.5, 21.5, -2.5, 39.5, 37.5, 43.5, 0.5,
                                  63.5, 61.5, 67.5, 4.5,  33.5, 45.5, 49.5, 27.5};
static const double hand_dw[9] = {54, 78, 63, 96, 136, 108, 90, 126, 99};
static const double hand_dx[16] = {2, 4, 4, 3, 1, 6, 6, 6, 1, 6, 6, 6, 0, 3, 3, 4};

static void check_hand(const double *y, const double *dw, double db, const double *dx,
                       const char *what) {
    int bad = 0;
    for (int k = 0; k < 16; k++) bad += y[k] != hand_y[k] || dx[k] != hand_dx[k];
    for (int k = 0; k < 9; k++) bad += dw[k] != hand_dw[k];
    bad += db != 16;
    if (bad) fprintf(stderr, "hand computation (%s): %d values off\n", what, bad);
    CHECK(bad == 0);
}

static void test_hand(void) {
    bp_conv_shape s = {.C = 1, .H = 4, .W = 4, .O = 1, .KH = 3, .KW = 3,
                       .SH = 1, .SW = 1, .PH = 1, .PW = 1};
    bp_conv_shape_outputs(&s);
    CHECK(s.P == 4 && s.Q == 4);
    double b = 0.5, y[16], dy[16], dx[16] = {0}, dw[9] = {0}, db = 0, col[9 * 16];
    for (int k = 0; k < 16; k++) dy[k] = 1;
    bp_conv2d_forward_ref(y, hand_x, hand_w, &b, 1, &s);
    bp_conv2d_backward_ref(dx, dw, &db, dy, hand_x, hand_w, 1, &s);
    check_hand(y, dw, db, dx, "reference");
    memset(dx, 0, sizeof dx), memset(dw, 0, sizeof dw), db = 0;
    bp_conv2d_forward(y, col, hand_x, hand_w, &b, 1, &s);
    bp_conv2d_backward(dx, dw, &db, col, dy, hand_x, hand_w, 1, &s);
    check_hand(y, dw, db, dx, "im2col");
    /* float32: every value is an integer or a half, exact in float */
    float xf[16], wf[9], yf[16], dyf[16], dxf[16] = {0}, dwf[9] = {0}, dbf = 0, bf = 0.5f,
                                               colf[9 * 16];
    for (int k = 0; k < 16; k++) xf[k] = (float)hand_x[k], dyf[k] = 1;
    for (int k = 0; k < 9; k++) wf[k] = (float)hand_w[k];
    bp_conv2d_forward_f32(yf, colf, xf, wf, &bf, 1, &s);
    bp_conv2d_backward_f32(dxf, dwf, &dbf, colf, dyf, xf, wf, 1, &s);
    for (int k = 0; k < 16; k++) y[k] = yf[k], dx[k] = dxf[k];
    for (int k = 0; k < 9; k++) dw[k] = dwf[k];
    check_hand(y, dw, dbf, dx, "float32 im2col");
    /* the same through a network: its forward, and its weight's gradient
     * of the loss sum(y) (dout = 1) */
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 1);
        bp_node_opts o = window(BP_OP_CONV2D, 3, 3, 1, 1, 1, 1);
        o.in = 1, o.out = 1, o.weight = hand_w, o.bias = &b, o.name = "c";
        int c = add(BP_OP_CONV2D, image(1, 4, 4), &o);
        CHECK(bp_graph_finish(G, c, &E) == 0);
        bp_net *net = bp_net_from_graph(G, &E);
        const double *out = bp_net_forward(net, hand_x, 1, &E);
        CHECK(out && memcmp(out, hand_y, sizeof hand_y) == 0);
        bp_net_zero_grad(net);
        CHECK(bp_net_backward_input(net, dy, dx, &E) == 0);
        const bp_param *w = bp_net_param_find(net, "c.weight", NULL);
        CHECK(w && w->ndim == 4 && w->shape[0] == 1 && w->shape[1] == 1 &&
              w->shape[2] == 3 && w->shape[3] == 3);
        for (int k = 0; w && k < 9; k++)
            CHECK((t ? ((float *)w->grad)[k] : ((double *)w->grad)[k]) == hand_dw[k]);
        CHECK(memcmp(dx, hand_dx, sizeof hand_dx) == 0);
        bp_net_free(net);
    }
}

/* ------------------------------------------------------------------------ */
/* The fast path against the reference                                       */

/* One case of test_dnnl_matches_ref: B samples of shape s, with a bias,
 * dx wanted, dw wanted (0: a frozen weight). */
typedef struct dnnl_case {
    int B;
    bp_conv_shape s;
    int bias, dx, dw;
} dnnl_case;

/* Random x, w, b and dy of shape s for B samples; the fast path's y, dx,
 * dw and db against the reference's, in double and float. */
static void match(int B, bp_conv_shape s, int bias) {
    bp_conv_shape_outputs(&s);
    size_t nx = (size_t)B * s.C * s.H * s.W, ny = (size_t)B * s.O * s.P * s.Q,
           nw = (size_t)s.O * s.C * s.KH * s.KW;
    size_t n = 2 * (nx + ny + nw + s.O) + bp_conv_cols(&s);
    double *m = calloc(3 * n, sizeof(double));
    double *x = m, *w = x + nx, *b = w + nw, *dy = b + s.O, *col = dy + ny;
    double *ya = col + bp_conv_cols(&s), *yb = ya + ny, *dxa = yb + ny, *dxb = dxa + nx;
    double *dwa = dxb + nx, *dwb = dwa + nw, *dba = dwb + nw, *dbb = dba + s.O;
    bp_rng r;
    bp_rng_seed(&r, 11);
    for (double *p = x; p < col; p++) *p = 2 * bp_rng_uniform(&r) - 1;
    const double *bb = bias ? b : NULL;
    bp_conv2d_forward_ref(ya, x, w, bb, B, &s);
    bp_conv2d_backward_ref(dxa, dwa, bias ? dba : NULL, dy, x, w, B, &s);
    bp_conv2d_forward(yb, col, x, w, bb, B, &s);
    bp_conv2d_backward(dxb, dwb, bias ? dbb : NULL, col, dy, x, w, B, &s);
    double worst = 0;
    for (double *p = ya, *q = yb; p < yb; p++, q++) worst = fmax(worst, fabs(*p - *q));
    for (size_t k = 0; k < nx; k++) worst = fmax(worst, fabs(dxa[k] - dxb[k]));
    for (size_t k = 0; k < nw; k++) worst = fmax(worst, fabs(dwa[k] - dwb[k]));
    for (int k = 0; k < s.O; k++) worst = fmax(worst, fabs(dba[k] - dbb[k]));
    CHECK(worst < 1e-12);
    /* float: the same arrays rounded, against the float reference */
    float *f = (float *)(dbb + s.O), *fx = f, *fw = fx + nx, *fb = fw + nw, *fdy = fb + s.O;
    float *fcol = fdy + ny, *fya = fcol + bp_conv_cols(&s), *fyb = fya + ny;
    float *fdxa = fyb + ny, *fdxb = fdxa + nx, *fdwa = fdxb + nx, *fdwb = fdwa + nw;
    float *fdba = fdwb + nw, *fdbb = fdba + s.O;
    for (size_t k = 0; k < nx + nw + s.O + ny; k++) fx[k] = (float)x[k];
    const float *fbb = bias ? fb : NULL;
    bp_conv2d_forward_ref_f32(fya, fx, fw, fbb, B, &s);
    bp_conv2d_backward_ref_f32(fdxa, fdwa, bias ? fdba : NULL, fdy, fx, fw, B, &s);
    bp_conv2d_forward_f32(fyb, fcol, fx, fw, fbb, B, &s);
    bp_conv2d_backward_f32(fdxb, fdwb, bias ? fdbb : NULL, fcol, fdy, fx, fw, B, &s);
    /* sums of up to K (or B P Q) terms of size 1, in another order */
    double fworst = 0, K = (double)s.C * s.KH * s.KW + (double)B * s.P * s.Q;
    for (size_t k = 0; k < ny; k++) fworst = fmax(fworst, fabs(fya[k] - fyb[k]));
    for (size_t k = 0; k < nx; k++) fworst = fmax(fworst, fabs(fdxa[k] - fdxb[k]));
    for (size_t k = 0; k < nw; k++) fworst = fmax(fworst, fabs(fdwa[k] - fdwb[k]));
    for (int k = 0; k < s.O; k++) fworst = fmax(fworst, fabs(fdba[k] - fdbb[k]));
    if (!(fworst < 4e-7 * K)) fprintf(stderr, "float32: off by %g\n", fworst);
    CHECK(fworst < 4e-7 * K);
    free(m);
}

static void test_fast_matches_ref(void) {
    /* C, H, W, O, then KH, KW, SH, SW, PH, PW */
    match(2, (bp_conv_shape){1, 4, 4, 1, 0, 0, 3, 3, 1, 1, 1, 1}, 1);
    match(3, (bp_conv_shape){3, 7, 5, 4, 0, 0, 3, 3, 2, 2, 0, 0}, 1);
    match(2, (bp_conv_shape){2, 6, 9, 3, 0, 0, 5, 5, 1, 1, 2, 2}, 0);
    match(2, (bp_conv_shape){4, 5, 6, 3, 0, 0, 1, 1, 1, 1, 0, 0}, 1); /* x is col */
    match(1, (bp_conv_shape){2, 5, 6, 2, 0, 0, 1, 1, 2, 1, 1, 0}, 1);
    match(2, (bp_conv_shape){3, 8, 7, 5, 0, 0, 3, 2, 2, 1, 1, 0}, 1);
    match(4, (bp_conv_shape){32, 14, 14, 64, 0, 0, 3, 3, 1, 1, 1, 1}, 1); /* W5's 2nd */
}

/* oneDNN's float32 primitives (bp_conv_dnnl, the path a float32 graph
 * runs) against the float reference on B samples of shape s: y written;
 * dx (when dx, and when the shape's dx goes to oneDNN), dw (when dw) and
 * db (when bias) added into gradients that hold values already; the bound
 * is test_fast_matches_ref's, sums of up to K terms in another order. A
 * second call, on the cached primitives, gives the same bits. Skipped
 * in a build without oneDNN (no cache). */
static void dnnl_match(dnnl_case k) {
    bp_conv_shape s = k.s;
    int B = k.B;
    bp_conv_shape_outputs(&s);
    size_t nx = (size_t)B * s.C * s.H * s.W, ny = (size_t)B * s.O * s.P * s.Q,
           nw = (size_t)s.O * s.C * s.KH * s.KW, n = nx + nw + s.O + ny;
    float *m = malloc(sizeof(float) * 3 * n);
    float *x = m, *w = x + nx, *b = w + nw, *dy = b + s.O; /* inputs */
    float *a = m + n, *c = m + 2 * n; /* the reference's y, dx, dw, db; oneDNN's */
    bp_rng r;
    bp_rng_seed(&r, 12);
    for (size_t j = 0; j < 3 * n; j++) m[j] = (float)(2 * bp_rng_uniform(&r) - 1);
    memcpy(c, a, sizeof(float) * n); /* the gradients' values before */
    float *ya = a, *dxa = a + ny, *dwa = dxa + nx, *dba = dwa + nw;
    float *yc = c, *dxc = c + ny, *dwc = dxc + nx, *dbc = dwc + nw;
    bp_conv_dnnl *cache = bp_conv_dnnl_new();
    if (!cache) {
        free(m);
        return;
    }
    int own_dx = k.dx && bp_conv_dnnl_takes_dx(&s);
    bp_conv2d_forward_ref_f32(ya, x, w, k.bias ? b : NULL, B, &s);
    bp_conv2d_backward_ref_f32(own_dx ? dxa : NULL, dwa, k.bias ? dba : NULL, dy, x, w, B,
                               &s);
    if (!k.dw) memcpy(dwa, dwc, sizeof(float) * nw); /* not wanted: untouched */
    CHECK(bp_conv2d_forward_dnnl(cache, yc, x, w, k.bias ? b : NULL, B, &s) == 0);
    CHECK(bp_conv2d_backward_dnnl(cache, own_dx ? dxc : NULL, k.dw ? dwc : NULL,
                                  k.bias ? dbc : NULL, dy, x, w, B, &s) == 0);
    double worst = 0, K = (double)s.C * s.KH * s.KW + (double)B * s.P * s.Q;
    for (size_t j = 0; j < n - ny; j++) worst = fmax(worst, fabs(a[j] - c[j]));
    if (!(worst < 4e-7 * K)) fprintf(stderr, "oneDNN: off by %g\n", worst);
    CHECK(worst < 4e-7 * K);
    /* again from the same values: the same bits */
    float *again = malloc(sizeof(float) * ny);
    CHECK(bp_conv2d_forward_dnnl(cache, again, x, w, k.bias ? b : NULL, B, &s) == 0);
    CHECK(memcmp(again, yc, sizeof(float) * ny) == 0);
    /* dx not taken (few channels): refused, nothing added */
    if (k.dx && !own_dx) {
        memcpy(again, dxc, sizeof(float) * (nx < ny ? nx : ny));
        CHECK(bp_conv2d_backward_dnnl(cache, dxc, dwc, NULL, dy, x, w, B, &s) == -1);
        CHECK(memcmp(again, dxc, sizeof(float) * (nx < ny ? nx : ny)) == 0);
    }
    free(again);
    bp_conv_dnnl_free(cache);
    free(m);
}

static void test_dnnl_matches_ref(void) {
    /* B, then C, H, W, O, KH, KW, SH, SW, PH, PW; bias, dx, dw */
    const dnnl_case cases[] = {
        {2, {1, 4, 4, 1, 0, 0, 3, 3, 1, 1, 1, 1}, 1, 1, 1},
        {3, {3, 7, 5, 4, 0, 0, 3, 3, 2, 2, 0, 0}, 1, 0, 1},
        {2, {2, 6, 9, 3, 0, 0, 5, 5, 1, 1, 2, 2}, 0, 0, 1},
        {2, {16, 5, 6, 3, 0, 0, 1, 1, 1, 1, 0, 0}, 1, 1, 1},
        {1, {20, 5, 6, 2, 0, 0, 1, 1, 2, 1, 1, 0}, 1, 1, 0}, /* dw frozen */
        {2, {17, 8, 7, 5, 0, 0, 3, 2, 2, 1, 1, 0}, 0, 1, 1},
        {5, {1, 28, 28, 32, 0, 0, 3, 3, 1, 1, 1, 1}, 1, 0, 1},   /* W5's 1st */
        {4, {32, 14, 14, 64, 0, 0, 3, 3, 1, 1, 1, 1}, 1, 1, 1}, /* W5's 2nd */
        {3, {32, 14, 14, 64, 0, 0, 3, 3, 1, 1, 1, 1}, 1, 1, 1}, /* another batch */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) dnnl_match(cases[k]);
}

/* One case of test_chain_matches_ref: B samples of conv shape s, a max
 * pool of kernel k and stride st on its ReLU, with a bias, dx wanted, dw
 * wanted; nan: a NaN in the first sample's input. */
typedef struct chain_case {
    int B;
    bp_conv_shape s;
    int k, st, bias, dx, dw, nan;
} chain_case;

/* Equal as numbers (-0 == +0), or both NaN. */
static int same_value(float a, float b) { return a == b || (isnan(a) && isnan(b)); }

/* The chain on cache for chain_match: y, dx, dw, db of case k into c
 * (laid out as there); dh, the convolution's dy when im2col makes dx. */
static int chain_run(bp_conv_dnnl *cache, float *c, chain_case k, const float *x,
                     const float *w, const float *dy, float *dh, int B, const bp_conv_shape *s,
                     const bp_conv_shape *ps) {
    size_t ny = (size_t)B * s->O * ps->P * ps->Q, nx = (size_t)B * s->C * s->H * s->W,
           nw = (size_t)s->O * s->C * s->KH * s->KW;
    float *dx = c + ny, *dw = dx + nx, *db = dw + nw;
    const float *b = k.bias ? w + nw : NULL; /* chain_match's layout: b after w */
    int own_dx = bp_conv_dnnl_takes_dx(s), rc = 0;
    if (bp_conv_chain_forward_dnnl(cache, c, x, w, b, B, s, ps)) return -1;
    rc |= bp_conv_chain_backward_dnnl(cache, k.dx && own_dx ? dx : NULL, k.dw ? dw : NULL,
                                      k.bias ? db : NULL, k.dx && !own_dx ? dh : NULL, dy, x, w,
                                      B, s);
    if (k.dx && !own_dx) {
        float *col = malloc(sizeof(float) * bp_conv_cols(s));
        bp_conv2d_backward_f32(dx, NULL, NULL, col, dh, x, w, B, s);
        free(col);
    }
    return rc;
}

/* The chain conv2d -> ReLU -> max pool on oneDNN (bp_conv_chain_forward_
 * dnnl and _backward_dnnl, what a float32 graph runs for that pattern)
 * against the reference chain: bp_conv2d_forward_ref_f32, bp_act_forward_f32
 * (ReLU), bp_maxpool2d_forward_ref_f32, then their backwards, the pool's
 * and the ReLU's into zeroed buffers and the convolution's adding into
 * gradients that hold values already. Every value is a small multiple of a
 * power of 2 (x in -2..2, w and b in quarters, dy in eighths with -0.0
 * among them), so every sum is exact in any order: the bound is equality
 * (as numbers: a zero's sign may differ), which also holds the winners to
 * the reference's, ties to the first maximum included (windows of equal
 * values and of ReLU's zeros are common with so few values). dx through
 * oneDNN for 16 or more channels, else the chain stores the convolution's
 * dy and im2col makes dx (as the graph does). A second forward and
 * backward on the cache give the same bits. Run with DNNL_MAX_CPU_ISA=AVX2
 * too (nChw8c, the 8-lane blocks) it passes the same; held to SSE4.1,
 * oneDNN's layouts are not the chain's and it refuses (-1, the backward
 * too), which a graph answers with the three ops (test_graph_team). */
static void chain_match(chain_case k) {
    bp_conv_shape s = k.s;
    int B = k.B;
    bp_conv_shape_outputs(&s);
    bp_conv_shape ps = (bp_conv_shape){s.O, s.P, s.Q, s.O, 0, 0, k.k, k.k, k.st, k.st, 0, 0};
    bp_conv_shape_outputs(&ps);
    size_t nx = (size_t)B * s.C * s.H * s.W, nh = (size_t)B * s.O * s.P * s.Q,
           ny = (size_t)B * s.O * ps.P * ps.Q, nw = (size_t)s.O * s.C * s.KH * s.KW;
    size_t n = nx + nw + s.O + ny; /* x, w, b, dy; then each side's y, dx, dw, db */
    float *m = calloc(n + 2 * (ny + nx + nw + s.O) + 4 * nh, sizeof(float));
    float *x = m, *w = x + nx, *b = w + nw, *dy = b + s.O;
    float *a = dy + ny, *c = a + (ny + nx + nw + s.O), *h = c + (ny + nx + nw + s.O);
    float *r = h + nh, *dr = r + nh, *dh = dr + nh; /* the reference's h, relu, grads */
    int32_t *arg = malloc(sizeof(int32_t) * ny);
    bp_rng g;
    bp_rng_seed(&g, 13);
    for (size_t j = 0; j < n; j++) {
        double v = (double)(bp_rng_next(&g) % 5) - 2;
        m[j] = (float)(j < nx ? v : j < nx + nw + s.O ? v / 4 : v / 8);
        if (j >= nx + nw + s.O && bp_rng_next(&g) % 7 == 0) m[j] = -0.0f;
    }
    if (k.nan) x[3] = NAN;
    size_t all = ny + nx + nw + s.O;
    for (size_t j = 0; j < all; j++) /* the gradients' values before */
        a[j] = c[j] = (float)((double)(j % 33) / 16 - 1);
    float *ya = a, *dxa = a + ny, *dwa = dxa + nx, *dba = dwa + nw;
    bp_conv_dnnl *cache = bp_conv_dnnl_new();
    if (!cache || !bp_conv_chain_takes(&ps)) { /* a build without oneDNN */
        free(m), free(arg), bp_conv_dnnl_free(cache);
        return;
    }
    const float *bb = k.bias ? b : NULL;
    bp_conv2d_forward_ref_f32(h, x, w, bb, B, &s);
    bp_act_forward_f32(r, h, (int)(nh / s.Q), s.Q, BP_ACT_RELU, 0);
    bp_maxpool2d_forward_ref_f32(ya, arg, r, B, &ps);
    bp_maxpool2d_backward_f32(dr, dy, arg, B, &ps);
    bp_act_backward_f32(dh, dr, h, r, (int)(nh / s.Q), s.Q, BP_ACT_RELU, 0);
    float *spare = calloc(nw, sizeof(float)); /* the reference always makes dw */
    bp_conv2d_backward_ref_f32(k.dx ? dxa : NULL, k.dw ? dwa : spare, k.bias ? dba : NULL,
                               dh, x, w, B, &s);
    free(spare);
    float *first = malloc(sizeof(float) * all);
    int rc = chain_run(cache, c, k, x, w, dy, r, B, &s, &ps);
    if (rc == -1) { /* layouts the chain does not take (oneDNN held to SSE4.1) */
        CHECK(bp_conv_chain_backward_dnnl(cache, NULL, c, NULL, NULL, dy, x, w, B, &s) == -1);
        free(first), free(arg), free(m);
        bp_conv_dnnl_free(cache);
        return;
    }
    for (int call = 0; call < 2; call++) {
        if (call) rc = chain_run(cache, c, k, x, w, dy, r, B, &s, &ps);
        CHECK(rc == 0);
        if (call) CHECK(memcmp(first, c, sizeof(float) * all) == 0); /* the same bits */
        memcpy(first, c, sizeof(float) * all);
        for (size_t j = ny; j < all; j++) c[j] = (float)((double)(j % 33) / 16 - 1);
    }
    size_t bad = 0;
    for (size_t j = 0; j < all; j++) bad += !same_value(a[j], first[j]);
    if (bad) fprintf(stderr, "chain: %zu of %zu values differ\n", bad, all);
    CHECK(bad == 0);
    free(first), free(arg), free(m);
    bp_conv_dnnl_free(cache);
}

static void test_chain_matches_ref(void) {
    /* B, then C, H, W, O, KH, KW, SH, SW, PH, PW; pool k, stride; bias, dx, dw, nan */
    const chain_case cases[] = {
        {5, {1, 28, 28, 32, 0, 0, 3, 3, 1, 1, 1, 1}, 2, 2, 1, 0, 1, 0},   /* W5's 1st */
        {4, {32, 14, 14, 64, 0, 0, 3, 3, 1, 1, 1, 1}, 2, 2, 1, 1, 1, 0}, /* W5's 2nd */
        {3, {32, 14, 14, 64, 0, 0, 3, 3, 1, 1, 1, 1}, 2, 2, 0, 1, 0, 0}, /* frozen dw */
        {2, {2, 9, 7, 8, 0, 0, 3, 3, 1, 1, 1, 1}, 2, 2, 1, 1, 1, 0},     /* im2col dx */
        {2, {3, 11, 10, 20, 0, 0, 5, 3, 2, 1, 2, 0}, 3, 3, 1, 1, 1, 0},  /* odd sizes */
        {3, {16, 8, 8, 16, 0, 0, 1, 1, 1, 1, 0, 0}, 2, 3, 0, 1, 1, 0},   /* stride > k */
        {2, {1, 6, 6, 4, 0, 0, 3, 3, 1, 1, 1, 1}, 2, 2, 1, 1, 1, 1},     /* a NaN */
        /* forwards in parts (conv_dnnl.c's part_size): 3 parts of 4, 7 of
         * 1, 2 of 9 */
        {12, {1, 28, 28, 32, 0, 0, 3, 3, 1, 1, 1, 1}, 2, 2, 1, 0, 1, 0},
        {7, {1, 28, 28, 32, 0, 0, 3, 3, 1, 1, 1, 1}, 2, 2, 1, 0, 1, 1},
        {18, {32, 14, 14, 64, 0, 0, 3, 3, 1, 1, 1, 1}, 2, 2, 1, 1, 1, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) chain_match(cases[k]);
}

/* The chain's forward, which runs its convolution a part of the batch at a
 * time (a few samples, so that the pool reads them from the cache), gives
 * the bits of the convolution over the whole batch in one call
 * (bp_conv2d_forward_dnnl), then the ReLU and the reference pool: random
 * values, so that the sums round, on W5's two shapes at its batch of 64 and
 * a team member's 32, and at 7 (parts of 1). What keeps a float32 graph's
 * values those of a chain run whole. */
static void chain_parts_bits(int B, bp_conv_shape s) {
    bp_conv_shape_outputs(&s);
    bp_conv_shape ps = (bp_conv_shape){s.O, s.P, s.Q, s.O, 0, 0, 2, 2, 2, 2, 0, 0};
    bp_conv_shape_outputs(&ps);
    size_t nx = (size_t)B * s.C * s.H * s.W, nh = (size_t)B * s.O * s.P * s.Q,
           ny = (size_t)B * s.O * ps.P * ps.Q, nw = (size_t)s.O * s.C * s.KH * s.KW;
    float *m = malloc(sizeof(float) * (nx + nw + s.O + 2 * nh + 2 * ny));
    float *x = m, *w = x + nx, *b = w + nw, *h = b + s.O, *r = h + nh, *ya = r + nh,
          *yb = ya + ny;
    int32_t *arg = malloc(sizeof(int32_t) * ny);
    bp_rng g;
    bp_rng_seed(&g, 29);
    for (size_t j = 0; j < nx + nw + s.O; j++) m[j] = (float)(2 * bp_rng_uniform(&g) - 1);
    bp_conv_dnnl *whole = bp_conv_dnnl_new(), *parts = bp_conv_dnnl_new();
    if (whole && parts && bp_conv_chain_takes(&ps)) {
        CHECK(bp_conv2d_forward_dnnl(whole, h, x, w, b, B, &s) == 0);
        bp_act_forward_f32(r, h, (int)(nh / s.Q), s.Q, BP_ACT_RELU, 0);
        bp_maxpool2d_forward_ref_f32(ya, arg, r, B, &ps);
        int rc = bp_conv_chain_forward_dnnl(parts, yb, x, w, b, B, &s, &ps);
        size_t bad = 0;
        for (size_t j = 0; rc == 0 && j < ny; j++) bad += ya[j] != yb[j];
        if (bad) fprintf(stderr, "chain in parts: %zu of %zu values differ\n", bad, ny);
        CHECK(rc == -1 || bad == 0); /* -1: oneDNN held to SSE4.1, no chain */
    }
    bp_conv_dnnl_free(whole), bp_conv_dnnl_free(parts);
    free(m), free(arg);
}

static void test_chain_parts_bits(void) {
    const bp_conv_shape c1 = {1, 28, 28, 32, 0, 0, 3, 3, 1, 1, 1, 1},
                        c2 = {32, 14, 14, 64, 0, 0, 3, 3, 1, 1, 1, 1};
    const int batches[] = {64, 32, 7};
    for (int k = 0; k < 3; k++) chain_parts_bits(batches[k], c1), chain_parts_bits(batches[k], c2);
}

/* Max pooling's fast forward against the reference, exactly (values and
 * winners), in both types: inputs drawn from five values so that windows
 * hold ties, and a NaN now and then (a NaN wins, as PyTorch's). */
static void pool_match(bp_conv_shape s, int B) {
    bp_conv_shape_outputs(&s);
    size_t nx = (size_t)B * s.C * s.H * s.W, ny = (size_t)B * s.C * s.P * s.Q;
    double *x = malloc(sizeof(double) * nx), *ya = malloc(sizeof(double) * ny),
           *yb = malloc(sizeof(double) * ny);
    float *fx = malloc(sizeof(float) * nx), *fya = malloc(sizeof(float) * ny),
          *fyb = malloc(sizeof(float) * ny);
    int32_t *aa = malloc(sizeof(int32_t) * ny), *ab = malloc(sizeof(int32_t) * ny);
    for (size_t k = 0; k < nx; k++) {
        x[k] = (double)(bp_rng_next(&R) % 5) - 2;
        if (bp_rng_next(&R) % 97 == 0) x[k] = NAN;
        fx[k] = (float)x[k];
    }
    bp_maxpool2d_forward_ref(ya, aa, x, B, &s);
    bp_maxpool2d_forward(yb, ab, x, B, &s);
    CHECK(memcmp(ya, yb, sizeof(double) * ny) == 0);
    CHECK(memcmp(aa, ab, sizeof(int32_t) * ny) == 0);
    bp_maxpool2d_forward_ref_f32(fya, aa, fx, B, &s);
    bp_maxpool2d_forward_f32(fyb, ab, fx, B, &s);
    CHECK(memcmp(fya, fyb, sizeof(float) * ny) == 0);
    CHECK(memcmp(aa, ab, sizeof(int32_t) * ny) == 0);
    free(x), free(ya), free(yb), free(fx), free(fya), free(fyb), free(aa), free(ab);
}

static void test_pool_fast_matches_ref(void) {
    /* C, H, W, O, then KH, KW, SH, SW, PH, PW */
    pool_match((bp_conv_shape){32, 28, 28, 32, 0, 0, 2, 2, 2, 2, 0, 0}, 3); /* W5's */
    pool_match((bp_conv_shape){2, 5, 5, 2, 0, 0, 2, 2, 2, 2, 0, 0}, 2);  /* one left out */
    pool_match((bp_conv_shape){3, 7, 6, 3, 0, 0, 3, 2, 2, 1, 0, 0}, 2);  /* overlapping */
    pool_match((bp_conv_shape){2, 6, 7, 2, 0, 0, 3, 3, 2, 2, 1, 1}, 2);  /* padded: the ref */
}

/* The max pool's backward fused with the ReLU before it (what a graph runs
 * for conv -> relu -> maxpool, graph.c's fuse_relu_pools) against the two
 * passes it replaces, the pool's into a zeroed buffer and the ReLU's
 * bp_act_backward into a zeroed dx, bit for bit, in both types: inputs
 * from five values (ties, zeros, negatives: windows whose winner the ReLU
 * stops), a NaN now and then, and dy with -0.0 among its values. */
static void relu_pool_match(bp_conv_shape s, int B) {
    bp_conv_shape_outputs(&s);
    size_t nx = (size_t)B * s.C * s.H * s.W, ny = (size_t)B * s.C * s.P * s.Q;
    for (int t = 0; t < 2; t++) {
        size_t z = t ? sizeof(float) : sizeof(double);
        char *m = calloc(5 * nx + 2 * ny, z);
        int32_t *arg = malloc(sizeof(int32_t) * ny);
        char *h = m, *r = m + nx * z, *a = r + nx * z, *b = a + nx * z, *tmp = b + nx * z;
        char *dy = tmp + nx * z, *y = dy + ny * z;
        for (size_t k = 0; k < nx + ny; k++) {
            double v = (double)(bp_rng_next(&R) % 5) - 2;
            if (k < nx && bp_rng_next(&R) % 97 == 0) v = NAN;
            if (k >= nx) v = k % 5 == 1 ? -0.0 : 2 * bp_rng_uniform(&R) - 1;
            char *at = k < nx ? h + k * z : dy + (k - nx) * z;
            if (t) *(float *)at = (float)v;
            else *(double *)at = v;
        }
        if (t) {
            bp_act_forward_f32((float *)r, (float *)h, (int)(nx / s.W), s.W, BP_ACT_RELU, 0);
            bp_maxpool2d_forward_f32((float *)y, arg, (float *)r, B, &s);
            bp_maxpool2d_backward_f32((float *)tmp, (float *)dy, arg, B, &s);
            bp_act_backward_f32((float *)a, (float *)tmp, (float *)h, (float *)r,
                                (int)(nx / s.W), s.W, BP_ACT_RELU, 0);
            bp_maxpool2d_relu_backward_f32((float *)b, (float *)dy, arg, (float *)h, B, &s);
        } else {
            bp_act_forward((double *)r, (double *)h, (int)(nx / s.W), s.W, BP_ACT_RELU, 0);
            bp_maxpool2d_forward((double *)y, arg, (double *)r, B, &s);
            bp_maxpool2d_backward((double *)tmp, (double *)dy, arg, B, &s);
            bp_act_backward((double *)a, (double *)tmp, (double *)h, (double *)r,
                            (int)(nx / s.W), s.W, BP_ACT_RELU, 0);
            bp_maxpool2d_relu_backward((double *)b, (double *)dy, arg, (double *)h, B, &s);
        }
        CHECK(memcmp(a, b, nx * z) == 0);
        free(m), free(arg);
    }
}

static void test_relu_pool_fused(void) {
    /* C, H, W, O, then KH, KW, SH, SW, PH, PW */
    relu_pool_match((bp_conv_shape){32, 28, 28, 32, 0, 0, 2, 2, 2, 2, 0, 0}, 3); /* W5's */
    relu_pool_match((bp_conv_shape){2, 5, 5, 2, 0, 0, 2, 2, 2, 2, 0, 0}, 2);
    relu_pool_match((bp_conv_shape){2, 7, 6, 2, 0, 0, 3, 2, 3, 2, 1, 0}, 2); /* padded */
}

/* ------------------------------------------------------------------------ */
/* Finite differences                                                        */

/* conv2d C -> O with a square kernel k, stride and padding, on B samples
 * of C x H x W, then head(). */
static void fd_conv(bp_dtype t, int C, int H, int W, int O, int k, int stride, int pad) {
    begin(t, 20 + k + stride + pad);
    bp_net *net = head(conv(image(C, H, W), C, O, k, stride, pad));
    char what[96];
    snprintf(what, sizeof what, "conv2d %d->%d %dx%d k%d s%d p%d", C, O, H, W, k, stride,
             pad);
    fd_run(net, 1, BP_LOSS_MSE, what);
    fd_run(net, 2, BP_LOSS_MSE, what);
    bp_net_free(net);
}

static void test_fd_conv(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        fd_conv(t, 1, 4, 4, 1, 3, 1, 1);
        fd_conv(t, 1, 5, 4, 2, 3, 2, 0);
        fd_conv(t, 3, 6, 5, 2, 3, 1, 2);
        fd_conv(t, 2, 5, 7, 3, 1, 1, 0);
        fd_conv(t, 2, 4, 6, 2, 1, 2, 1);
        fd_conv(t, 2, 6, 5, 2, 5, 1, 2);
        fd_conv(t, 1, 7, 6, 2, 5, 2, 0);
        fd_conv(t, 3, 5, 5, 2, 5, 2, 1);
        /* a kernel of 3x2, strides 2 and 1, paddings 1 and 0, no bias; the
         * conv's input another conv's output */
        begin(t, 9);
        bp_node_opts o = window(BP_OP_CONV2D, 3, 2, 2, 1, 1, 0);
        o.in = 2, o.out = 3, o.no_bias = 1;
        int c = add(BP_OP_CONV2D, conv(image(1, 5, 4), 1, 2, 3, 1, 1), &o);
        bp_net *net = head(c);
        CHECK(bp_net_param_find(net, "2.bias", NULL) == NULL);
        fd_run(net, 3, BP_LOSS_MSE, "conv2d 3x2 s2x1 p1x0, no bias");
        bp_net_free(net);
    }
}

/* Inputs for the pools: a permutation of an even grid on [-1, 1), so that
 * no two values of a window are within a finite difference's step of each
 * other (max pooling's gradient jumps where two are equal). */
static void spread(double *x, int n) {
    for (int k = 0; k < n; k++) x[k] = -1 + 2.0 * ((k * 7919) % n) / n;
}

static void fd_pool(bp_dtype t, bp_op op, int C, int H, int W, int k, int stride,
                    int pad) {
    begin(t, 30 + k);
    bp_net *net = head(pool(op, image(C, H, W), k, stride, pad));
    int B = 2, I = C * H * W;
    double *x = malloc(sizeof(double) * (size_t)B * I), y[4] = {0.1, -0.3, 0.7, 0.2};
    spread(x, B * I);
    char what[96];
    snprintf(what, sizeof what, "%s %dx%dx%d k%d s%d p%d (%s)", bp_op_name(op), C, H, W,
             k, stride, pad, bp_dtype_name(t));
    fd_check(net, x, y, B, BP_LOSS_MSE, what);
    free(x);
    bp_net_free(net);
}

static void test_fd_pools(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (bp_op op = BP_OP_MAXPOOL2D; op <= BP_OP_AVGPOOL2D; op++) {
            fd_pool(t, op, 1, 4, 6, 2, 2, 0); /* not overlapping */
            fd_pool(t, op, 2, 5, 5, 2, 2, 0); /* the last row and column left out */
            fd_pool(t, op, 2, 5, 6, 3, 2, 0); /* overlapping */
            fd_pool(t, op, 1, 5, 4, 3, 1, 1); /* overlapping, padded */
            fd_pool(t, op, 2, 6, 7, 3, 2, 1);
        }
}

/* batchnorm2d after a conv, in training (its statistics over B H W values:
 * a batch of 1 is enough) and in evaluation. */
static void test_fd_batchnorm2d(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        begin(t, 40);
        bp_node_opts o = bp_node_opts_default(BP_OP_BATCHNORM2D);
        o.in = 3, o.name = "bn";
        int bn = add(BP_OP_BATCHNORM2D, conv(image(2, 4, 5), 2, 3, 3, 1, 1), &o);
        bp_net *net = head(bn);
        fd_run(net, 1, BP_LOSS_MSE, "batchnorm2d (training)");
        fd_run(net, 3, BP_LOSS_MSE, "batchnorm2d (training)");
        const bp_param *g = bp_net_param_find(net, "bn.weight", NULL);
        for (size_t k = 0; k < g->count; k++)
            t ? (((float *)g->data)[k] = 0.5f + k) : (((double *)g->data)[k] = 0.5 + k);
        fd_run(net, 2, BP_LOSS_MSE, "batchnorm2d (training, scaled)");
        bp_net_set_training(net, 0);
        fd_run(net, 1, BP_LOSS_MSE, "batchnorm2d (evaluation)");
        fd_run(net, 3, BP_LOSS_MSE, "batchnorm2d (evaluation)");
        bp_net_free(net);
    }
}

/* ------------------------------------------------------------------------ */
/* Max pooling's ties, PyTorch's initialisation, batchnorm2d's statistics    */

/* Of equal maxima the first in the window's row-major order takes the
 * gradient, as PyTorch's max_pool2d (whose test is val > max). */
static void test_ties(void) {
    bp_conv_shape s = {.C = 1, .H = 2, .W = 4, .O = 1, .KH = 2, .KW = 2,
                       .SH = 2, .SW = 2};
    bp_conv_shape_outputs(&s);
    /* window 1: all equal; window 2: two 3s, at (0, 3) and (1, 2) */
    const double x[8] = {5, 5, 1, 3, 5, 5, 3, 2}, dy[2] = {10, 20};
    double y[2], dx[8] = {0};
    int32_t arg[2];
    bp_maxpool2d_forward(y, arg, x, 1, &s);
    CHECK(y[0] == 5 && y[1] == 3 && arg[0] == 0 && arg[1] == 3);
    bp_maxpool2d_backward(dx, dy, arg, 1, &s);
    const double want[8] = {10, 0, 0, 20, 0, 0, 0, 0};
    CHECK(memcmp(dx, want, sizeof want) == 0);
    /* padding never wins, even over values below 0 */
    bp_conv_shape p = {.C = 1, .H = 2, .W = 2, .O = 1, .KH = 2, .KW = 2,
                       .SH = 1, .SW = 1, .PH = 1, .PW = 1};
    bp_conv_shape_outputs(&p);
    CHECK(p.P == 3 && p.Q == 3);
    const double neg[4] = {-4, -3, -2, -1};
    double py[9];
    int32_t parg[9];
    bp_maxpool2d_forward(py, parg, neg, 1, &p);
    const double pwant[9] = {-4, -3, -3, -2, -1, -1, -2, -1, -1};
    CHECK(memcmp(py, pwant, sizeof pwant) == 0);
    /* average pooling counts the padding as zeros (count_include_pad) */
    bp_avgpool2d_forward(py, neg, 1, &p);
    CHECK(py[0] == -1 && py[1] == -7 / 4.0 && py[4] == -10 / 4.0);
}

/* nn.Conv2d's default: weight then bias, each U(-1/sqrt(K), 1/sqrt(K)),
 * K = in kh kw, from the generator in order. */
static void test_init(void) {
    begin(BP_F64, 5);
    bp_node_opts o = window(BP_OP_CONV2D, 3, 2, 1, 1, 0, 0);
    o.in = 2, o.out = 4;
    int c = add(BP_OP_CONV2D, image(2, 5, 5), &o);
    CHECK(bp_graph_finish(G, c, &E) == 0);
    int n;
    const bp_param *t = bp_graph_node_params(G, c, &n);
    CHECK(n == 2 && t[0].count == 48 && t[1].count == 4 && t[0].ndim == 4);
    CHECK_STR(t[0].name, "1.weight");
    bp_rng r;
    bp_rng_seed(&r, 5);
    double k = 1 / sqrt(12.0);
    int same = 1;
    for (size_t j = 0; j < 48; j++)
        same &= ((double *)t[0].data)[j] == -k + 2 * k * bp_rng_uniform(&r);
    for (size_t j = 0; j < 4; j++)
        same &= ((double *)t[1].data)[j] == -k + 2 * k * bp_rng_uniform(&r);
    CHECK(same);
    int ndim, shape[BP_GRAPH_MAX_DIMS];
    bp_graph_node_shape(G, c, &ndim, shape);
    CHECK(ndim == 3 && shape[0] == 4 && shape[1] == 3 && shape[2] == 4);
    bp_graph_free(G);
}

/* batchnorm2d on samples of C x 1 x 1 is batchnorm1d on C features, to
 * the bit, outputs and running statistics; on larger images a channel's
 * running variance takes the unbiased factor N / (N - 1) of N = B H W. */
static void test_batchnorm2d_stats(void) {
    double x[12], yb[12];
    for (int k = 0; k < 12; k++) x[k] = sin(k + 1.0);
    bp_net *nets[2];
    for (int d = 0; d < 2; d++) {
        begin(BP_F64, 3);
        bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
        o.ndim = d ? 3 : 1, o.shape[0] = 3, o.shape[1] = o.shape[2] = 1;
        int in = add(BP_OP_INPUT, 0, &o);
        o = bp_node_opts_default(d ? BP_OP_BATCHNORM2D : BP_OP_BATCHNORM1D);
        o.in = 3, o.name = "bn";
        int bn = add(d ? BP_OP_BATCHNORM2D : BP_OP_BATCHNORM1D, in, &o);
        CHECK(bp_graph_finish(G, bn, &E) == 0);
        nets[d] = bp_net_from_graph(G, &E);
        const double *y = bp_net_forward(nets[d], x, 4, &E);
        if (!d) memcpy(yb, y, sizeof yb);
        else CHECK(memcmp(y, yb, sizeof yb) == 0);
    }
    const bp_param *v1 = bp_net_param_find(nets[0], "bn.running_var", NULL);
    const bp_param *v2 = bp_net_param_find(nets[1], "bn.running_var", NULL);
    CHECK(memcmp(v1->data, v2->data, 3 * sizeof(double)) == 0);
    bp_net_free(nets[0]);
    bp_net_free(nets[1]);
    /* one channel of 2x2, a batch of 1: mean 2.5, biased variance 1.25 */
    begin(BP_F64, 3);
    bp_node_opts o = bp_node_opts_default(BP_OP_BATCHNORM2D);
    o.in = 1, o.name = "bn";
    int bn = add(BP_OP_BATCHNORM2D, image(1, 2, 2), &o);
    CHECK(bp_graph_finish(G, bn, &E) == 0);
    bp_net *net = bp_net_from_graph(G, &E);
    const double four[4] = {1, 2, 3, 4};
    const double *y = bp_net_forward(net, four, 1, &E);
    CHECK_NEAR(y[0], -1.5 / sqrt(1.25 + 1e-5), 1e-15);
    CHECK_NEAR(((double *)bp_net_param_find(net, "bn.running_mean", NULL)->data)[0], 0.25,
               1e-16);
    CHECK_NEAR(((double *)bp_net_param_find(net, "bn.running_var", NULL)->data)[0],
               0.9 + 0.1 * 1.25 * 4 / 3, 1e-15);
    bp_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Bad constructions                                                         */

static int try_add(bp_op op, int x, const bp_node_opts *o) {
    return bp_graph_add(G, op, &x, 1, o, &E);
}

static void test_option_errors(void) {
    begin(BP_F64, 1);
    int x = image(1, 28, 28);
    bp_node_opts o = window(BP_OP_CONV2D, 3, 3, 1, 1, 0, 0);
    o.in = 0, o.out = 4;
    CHECK(try_add(BP_OP_CONV2D, x, &o) == -1);
    CHECK_STR(E.msg, "conv2d (module '1'): needs in and out channels >= 1 (got 0 and 4)");
    o.in = 1, o.kw = 0;
    CHECK(try_add(BP_OP_CONV2D, x, &o) == -1);
    CHECK_STR(E.msg, "conv2d (module '1'): a kernel of 3x0 (each side 1 to 65535)");
    o.kw = 3, o.sh = 0;
    CHECK(try_add(BP_OP_CONV2D, x, &o) == -1);
    CHECK_STR(E.msg, "conv2d (module '1'): a stride of 0x1 (each 1 to 65535)");
    o.sh = 1, o.pw = -1, o.name = "c1";
    CHECK(try_add(BP_OP_CONV2D, x, &o) == -1);
    CHECK_STR(E.msg, "conv2d (module 'c1'): a padding of 0x-1 (each 0 to 65535)");
    o = window(BP_OP_CONV2D, 65535, 65535, 1, 1, 0, 0);
    o.in = 4096, o.out = 4096;
    CHECK(try_add(BP_OP_CONV2D, x, &o) == -1);
    CHECK_STR(E.msg, "conv2d (module '1'): 4096 x 4096 x 65535 x 65535 weights are too "
                     "many");
    o = window(BP_OP_MAXPOOL2D, 3, 3, 1, 1, 2, 1);
    CHECK(try_add(BP_OP_MAXPOOL2D, x, &o) == -1);
    CHECK_STR(E.msg, "maxpool2d (module '1'): a padding of 2x1 is more than half the "
                     "kernel of 3x3");
    o = bp_node_opts_default(BP_OP_BATCHNORM2D);
    CHECK(try_add(BP_OP_BATCHNORM2D, x, &o) == -1);
    CHECK_STR(E.msg, "batchnorm2d (module '1'): needs at least 1 channel (got 0)");
    bp_graph_free(G);
}

/* The shapes, checked by finish: each message names the module and the
 * input's shape. */
static void test_shape_errors(void) {
    begin(BP_F64, 1);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = 784;
    int flat = add(BP_OP_INPUT, 0, &o);
    o = window(BP_OP_CONV2D, 3, 3, 1, 1, 1, 1);
    o.in = 1, o.out = 8, o.name = "c1";
    int c = add(BP_OP_CONV2D, flat, &o);
    CHECK(bp_graph_finish(G, c, &E) == -1);
    CHECK_STR(E.msg,
              "conv2d (module 'c1'): takes samples of C x H x W, its input has shape 784");
    bp_graph_free(G);

    begin(BP_F64, 1);
    int x = image(1, 28, 28);
    o = window(BP_OP_CONV2D, 3, 3, 1, 1, 1, 1);
    o.in = 3, o.out = 8;
    c = add(BP_OP_CONV2D, x, &o);
    CHECK(bp_graph_finish(G, c, &E) == -1);
    CHECK_STR(E.msg, "conv2d (module '1'): takes 3 channels, its input has shape 1x28x28");
    CHECK(bp_graph_truncate(G, c, x, &E) == 0);
    int p = pool(BP_OP_MAXPOOL2D, x, 2, 2, 0);
    int p2 = pool(BP_OP_AVGPOOL2D, p, 2, 2, 0);
    int p3 = pool(BP_OP_AVGPOOL2D, p2, 2, 2, 0);
    int p4 = pool(BP_OP_AVGPOOL2D, p3, 5, 1, 0);
    CHECK(bp_graph_finish(G, p4, &E) == -1);
    CHECK_STR(E.msg, "avgpool2d (module '4'): a kernel of 5x5 with a padding of 0x0 does "
                     "not fit its input of shape 1x3x3");
    CHECK(bp_graph_truncate(G, p4, p3, &E) == 0);
    o = bp_node_opts_default(BP_OP_BATCHNORM2D);
    o.in = 2, o.name = "bn";
    int bn = add(BP_OP_BATCHNORM2D, p3, &o);
    CHECK(bp_graph_finish(G, bn, &E) == -1);
    CHECK_STR(E.msg, "batchnorm2d (module 'bn'): takes 2 channels (samples of C x H x W), "
                     "its input has shape 1x3x3");
    bp_graph_free(G);

    /* training needs 2 values a channel: a batch of 1 of 1x1 has one */
    begin(BP_F64, 1);
    o = bp_node_opts_default(BP_OP_BATCHNORM2D);
    o.in = 2, o.name = "bn";
    bn = add(BP_OP_BATCHNORM2D, image(2, 1, 1), &o);
    CHECK(bp_graph_finish(G, bn, &E) == 0);
    bp_net *net = bp_net_from_graph(G, &E);
    const double two[4] = {1, 2, 3, 4};
    CHECK(bp_net_forward(net, two, 1, &E) == NULL);
    CHECK_STR(E.msg, "batchnorm2d (module 'bn'): training needs at least 2 values a "
                     "channel (got a batch of 1 of 1x1); evaluation mode takes any");
    CHECK(bp_net_forward(net, two, 2, &E) != NULL);
    bp_net_free(net);
}

int main(void) {
    test_hand();
    test_fast_matches_ref();
    test_pool_fast_matches_ref();
    test_dnnl_matches_ref();
    test_chain_matches_ref();
    test_chain_parts_bits();
    test_relu_pool_fused();
    test_fd_conv();
    test_fd_pools();
    test_fd_batchnorm2d();
    test_ties();
    test_init();
    test_batchnorm2d_stats();
    test_option_errors();
    test_shape_errors();
    return check_report("test_conv");
}
