/* conv_fast.h: the convolution as matrix products (im2col), the path the
 * graph runs.
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
 * rounding: tests/test_conv.c, test_fast_matches_ref. Why im2col rather
 * than oneDNN's convolution primitives: scripts/bench/NOTES.md (W5).
 *
 * B, C, H, W, O, P, Q, KH, KW, SH, SW, PH, PW, K as in bp_conv.h. */

/* Whether x_n is its own col (1x1, stride 1, no padding). */
static int SFX(cols_are_x)(const bp_conv_shape *s) {
    return s->KH == 1 && s->KW == 1 && s->SH == 1 && s->SW == 1 && s->PH == 0 &&
           s->PW == 0;
}

/* col (K x PQ) from one sample's x (C x H x W). */
static void SFX(im2col)(REAL *col, const REAL *x, const bp_conv_shape *s) {
    const int H = s->H, W = s->W, P = s->P, Q = s->Q;
    for (int c = 0; c < s->C; c++)
        for (int i = 0; i < s->KH; i++)
            for (int j = 0; j < s->KW; j++) {
                REAL *row = col + ((size_t)(c * s->KH + i) * s->KW + j) * P * Q;
                const REAL *xc = x + (size_t)c * H * W;
                for (int p = 0; p < P; p++) {
                    int h = IN_AT(p, s->SH, s->PH, i);
                    REAL *r = row + (size_t)p * Q;
                    if (h < 0 || h >= H) {
                        memset(r, 0, sizeof(REAL) * (size_t)Q);
                        continue;
                    }
                    for (int q = 0; q < Q; q++) {
                        int v = IN_AT(q, s->SW, s->PW, j);
                        r[q] = v >= 0 && v < W ? xc[h * W + v] : 0;
                    }
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
        if (!direct) {
            SFX(im2col)(col, cn, s);
            cn = col;
        }
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, PQ, 1, dyn, PQ, cn, PQ, 1, dw,
             K);
        if (!dx) continue;
        REAL *dxn = dx + n * xs;
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, K, PQ, O, 1, w, K, dyn, PQ,
             direct ? 1 : 0, direct ? dxn : col, PQ);
        if (!direct) SFX(col2im)(dxn, col, s);
    }
}
