/* conv_fast.h: the convolution as matrix products (im2col), and max
 * pooling without bounds tests: the paths the graph runs.
 *
 * A sample's convolution is one product once its input is laid out as
 * columns: col (K x PQ, K = C KH KW) holds in column pq the K inputs under
 * output pq's window, zeros for the padding, so that
 *   y_n (O x PQ) = w (O x K) col + b,
 *   dw (O x K) += dy_n (O x PQ) col^T,
 *   dcol (K x PQ) = w^T dy_n, added back into dx_n where each column came
 *                   from (col2im).
 * The products go to GEMM (OpenBLAS for double, bp_sgemm, oneDNN, for
 * float), where nearly all the work is; im2col and col2im only copy. A
 * 1x1 kernel of stride 1 without padding needs no columns: x_n is col.
 * Each must equal conv_ref.h's kernel of the same name with _ref to
 * rounding: tests/test_conv.c, test_fast_matches_ref. im2col is float64's
 * path and float32's in a build without oneDNN; with it, float32 goes to
 * oneDNN's own primitives (conv_dnnl.c; scripts/bench/NOTES.md, W5).
 *
 * B, C, H, W, O, P, Q, KH, KW, SH, SW, PH, PW, K as in bp_conv.h. */

/* Whether x_n is its own col (1x1, stride 1, no padding). */
static int SFX(cols_are_x)(const bp_conv_shape *s) {
    return s->KH == 1 && s->KW == 1 && s->SH == 1 && s->SW == 1 && s->PH == 0 &&
           s->PW == 0;
}

/* The outputs q0 <= q < q1 of a row whose input column q SW - PW + j is
 * inside the image (0 <= v < W). */
static void SFX(inside)(int *q0, int *q1, int j, const bp_conv_shape *s) {
    int lo = 0, hi = s->Q;
    while (lo < hi && IN_AT(lo, s->SW, s->PW, j) < 0) lo++;
    while (hi > lo && IN_AT(hi - 1, s->SW, s->PW, j) >= s->W) hi--;
    *q0 = lo, *q1 = hi;
}

/* col (K x PQ) from one sample's x (C x H x W): zeros where the window
 * leaves the image, and in between a run of inputs, copied at once when
 * the stride is 1. */
static void SFX(im2col)(REAL *col, const REAL *x, const bp_conv_shape *s) {
    const int H = s->H, W = s->W, P = s->P, Q = s->Q, SW = s->SW;
    for (int c = 0; c < s->C; c++)
        for (int i = 0; i < s->KH; i++)
            for (int j = 0; j < s->KW; j++) {
                REAL *row = col + ((size_t)(c * s->KH + i) * s->KW + j) * P * Q;
                const REAL *xc = x + (size_t)c * H * W;
                int q0, q1;
                SFX(inside)(&q0, &q1, j, s);
                for (int p = 0; p < P; p++) {
                    int h = IN_AT(p, s->SH, s->PH, i);
                    REAL *r = row + (size_t)p * Q;
                    if (h < 0 || h >= H || q0 >= q1) {
                        memset(r, 0, sizeof(REAL) * (size_t)Q);
                        continue;
                    }
                    const REAL *xr = xc + (size_t)h * W + IN_AT(q0, SW, s->PW, j);
                    for (int q = 0; q < q0; q++) r[q] = 0;
                    if (SW == 1) memcpy(r + q0, xr, sizeof(REAL) * (size_t)(q1 - q0));
                    else
                        for (int q = q0; q < q1; q++) r[q] = xr[(q - q0) * SW];
                    for (int q = q1; q < Q; q++) r[q] = 0;
                }
            }
}

/* dx (one sample's, C x H x W) += each entry of dcol where im2col took it. */
static void SFX(col2im)(REAL *dx, const REAL *dcol, const bp_conv_shape *s) {
    const int H = s->H, W = s->W, P = s->P, Q = s->Q;
    for (int c = 0; c < s->C; c++)
        for (int i = 0; i < s->KH; i++)
            for (int j = 0; j < s->KW; j++) {
                const REAL *row = dcol + ((size_t)(c * s->KH + i) * s->KW + j) * P * Q;
                REAL *dxc = dx + (size_t)c * H * W;
                for (int p = 0; p < P; p++) {
                    int h = IN_AT(p, s->SH, s->PH, i);
                    if (h < 0 || h >= H) continue;
                    for (int q = 0; q < Q; q++) {
                        int v = IN_AT(q, s->SW, s->PW, j);
                        if (v >= 0 && v < W) dxc[h * W + v] += row[(size_t)p * Q + q];
                    }
                }
            }
}

void SFX(bp_conv2d_forward)(REAL *y, REAL *col, const REAL *x, const REAL *w,
                            const REAL *b, int B, const bp_conv_shape *s) {
    const int O = s->O, PQ = s->P * s->Q, K = s->C * s->KH * s->KW;
    const size_t xs = (size_t)s->C * s->H * s->W, ys = (size_t)O * PQ;
    for (int n = 0; n < B; n++) {
        REAL *yn = y + n * ys;
        const REAL *cn = x + n * xs;
        if (!SFX(cols_are_x)(s)) {
            SFX(im2col)(col, cn, s);
            cn = col;
        }
        for (int o = 0; o < O; o++)
            for (int k = 0; k < PQ; k++) yn[(size_t)o * PQ + k] = b ? b[o] : 0;
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, PQ, K, 1, w, K, cn, PQ, 1, yn,
             PQ);
    }
}

/* Per sample: db, then dw from the sample's columns, then (when dx is
 * wanted) the columns' gradient into the same workspace, scattered back. */
void SFX(bp_conv2d_backward)(REAL *dx, REAL *dw, REAL *db, REAL *col, const REAL *dy,
                             const REAL *x, const REAL *w, int B,
                             const bp_conv_shape *s) {
    const int O = s->O, PQ = s->P * s->Q, K = s->C * s->KH * s->KW;
    const size_t xs = (size_t)s->C * s->H * s->W, ys = (size_t)O * PQ;
    const int direct = SFX(cols_are_x)(s);
    for (int n = 0; n < B; n++) {
        const REAL *dyn = dy + n * ys, *cn = x + n * xs;
        for (int o = 0; db && o < O; o++) {
            REAL acc = 0;
            for (int k = 0; k < PQ; k++) acc += dyn[(size_t)o * PQ + k];
            db[o] += acc;
        }
        if (dw) { /* NULL: a frozen weight, no columns needed for it */
            if (!direct) {
                SFX(im2col)(col, cn, s);
                cn = col;
            }
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, PQ, 1, dyn, PQ, cn, PQ, 1,
                 dw, K);
        }
        if (!dx) continue;
        REAL *dxn = dx + n * xs;
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, K, PQ, O, 1, w, K, dyn, PQ,
             direct ? 1 : 0, direct ? dxn : col, PQ);
        if (!direct) SFX(col2im)(dxn, col, s);
    }
}

/* ------------------------------------------------------------------------ */
/* Max pooling                                                               */

/* bp_maxpool2d_forward_ref (conv_ref.h) without its bounds tests, which a
 * window never needs without padding (the output sizes keep every window
 * inside the image), a row of outputs at a time. Each output sees the
 * same test in the same order (strictly greater, or a NaN: u != u is
 * isnan(u), the build never using -ffast-math), so the winners and values
 * are the same bit for bit: tests/test_conv.c, test_pool_fast_matches_ref. */
/* The 2x2 window of stride 2 (W5's, and most CNNs'): the window's four
 * places in the reference's order, the same tests, each output's two
 * input rows read once, an output at a time: a third of the general loop's
 * time on W5's pools, whose rows (14 and 7 outputs) are too short for
 * vectors across a row (NOTES.md, W5). */
static void SFX(maxpool_2x2)(REAL *y, int32_t *arg, const REAL *x, size_t planes,
                                  const bp_conv_shape *s) {
    const int W = s->W, P = s->P, Q = s->Q;
    for (size_t nc = 0; nc < planes; nc++)
        for (int p = 0; p < P; p++) {
            const REAL *restrict r0 = x + nc * s->H * W + (size_t)2 * p * W, *restrict r1 = r0 + W;
            REAL *restrict yr = y + (nc * P + p) * Q;
            int32_t *restrict ar = arg + (nc * P + p) * Q;
            const int32_t top = 2 * p * W;
            for (int q = 0; q < Q; q++) {
                REAL m = r0[2 * q], u;
                int32_t at = top + 2 * q, take;
                u = r0[2 * q + 1], take = (u > m) | (u != u);
                m = take ? u : m, at = take ? top + 2 * q + 1 : at;
                u = r1[2 * q], take = (u > m) | (u != u);
                m = take ? u : m, at = take ? top + W + 2 * q : at;
                u = r1[2 * q + 1], take = (u > m) | (u != u);
                m = take ? u : m, at = take ? top + W + 2 * q + 1 : at;
                yr[q] = m, ar[q] = at;
            }
        }
}

void SFX(bp_maxpool2d_forward)(REAL *y, int32_t *arg, const REAL *x, int B,
                               const bp_conv_shape *s) {
    if (s->PH || s->PW) {
        SFX(bp_maxpool2d_forward_ref)(y, arg, x, B, s);
        return;
    }
    if (s->KH == 2 && s->KW == 2 && s->SH == 2 && s->SW == 2) {
        SFX(maxpool_2x2)(y, arg, x, (size_t)B * s->C, s);
        return;
    }
    const int H = s->H, W = s->W, P = s->P, Q = s->Q, KH = s->KH, KW = s->KW;
    for (size_t nc = 0; nc < (size_t)B * s->C; nc++) {
        const REAL *xc = x + nc * H * W;
        REAL *yc = y + nc * P * Q;
        int32_t *ac = arg + nc * P * Q;
        for (int p = 0; p < P; p++) {
            REAL *restrict yr = yc + (size_t)p * Q;
            int32_t *restrict ar = ac + (size_t)p * Q;
            const int top = p * s->SH * W, SW = s->SW;
            for (int q = 0; q < Q; q++) yr[q] = xc[top + q * SW], ar[q] = top + q * SW;
            /* the window's places in turn, each over the whole output row:
             * selects the compiler vectorises, where a branch per test
             * mispredicted half the time on random data (NOTES.md, W5) */
            for (int i = 0; i < KH; i++)
                for (int j = 0; j < KW; j++) {
                    const int at = top + i * W + j;
                    const REAL *restrict xr = xc + at;
                    for (int q = 0; q < Q; q++) {
                        REAL u = xr[q * SW];
                        int take = (u > yr[q]) | (u != u);
                        yr[q] = take ? u : yr[q];
                        ar[q] = take ? at + q * SW : ar[q];
                    }
                }
        }
    }
}
