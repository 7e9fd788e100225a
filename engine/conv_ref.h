/* conv_ref.h: the reference kernels of images (bp_conv.h), the definitions
 * in direct loops.
 *
 * Each sum is written as its formula reads, one output (or one gradient
 * term) at a time, with the bounds test for the zeros of the padding in
 * the innermost loop: slow, and plain to check against the definition.
 * The fast paths (conv_fast.h) must equal these: the convolution to
 * rounding, max pooling's forward exactly; the other pool kernels have no
 * other build. A template, compiled twice by conv.c (real.h).
 *
 * B = batch, C = input channels, H x W input, O = output channels, P x Q
 * output, KH x KW kernel, SH, SW strides, PH, PW padding (bp_conv.h). */

/* The input row (or column) under kernel row i of output row p, which may
 * fall in the padding (< 0 or >= the image's size). */
#define IN_AT(p, S, Pad, i) ((p) * (S) - (Pad) + (i))

/* ------------------------------------------------------------------------ */
/* Convolution                                                               */

void SFX(bp_conv2d_forward_ref)(REAL *y, const REAL *x, const REAL *w, const REAL *b,
                                int B, const bp_conv_shape *s) {
    const int C = s->C, H = s->H, W = s->W, P = s->P, Q = s->Q, KH = s->KH, KW = s->KW;
    for (int n = 0; n < B; n++)
        for (int o = 0; o < s->O; o++)
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    REAL acc = b ? b[o] : 0;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < KH; i++)
                            for (int j = 0; j < KW; j++) {
                                int h = IN_AT(p, s->SH, s->PH, i);
                                int v = IN_AT(q, s->SW, s->PW, j);
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                acc += w[((size_t)(o * C + c) * KH + i) * KW + j] *
                                       x[((size_t)(n * C + c) * H + h) * W + v];
                            }
                    y[((size_t)(n * s->O + o) * P + p) * Q + q] = acc;
                }
}

/* Each output's dy reaches its bias (dy/db = 1), each weight of its window
 * (dy/dw = the input under it) and each input under it (dy/dx = the
 * weight). */
void SFX(bp_conv2d_backward_ref)(REAL *dx, REAL *dw, REAL *db, const REAL *dy,
                                 const REAL *x, const REAL *w, int B,
                                 const bp_conv_shape *s) {
    const int C = s->C, H = s->H, W = s->W, P = s->P, Q = s->Q, KH = s->KH, KW = s->KW;
    for (int n = 0; n < B; n++)
        for (int o = 0; o < s->O; o++)
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    REAL g = dy[((size_t)(n * s->O + o) * P + p) * Q + q];
                    if (db) db[o] += g;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < KH; i++)
                            for (int j = 0; j < KW; j++) {
                                int h = IN_AT(p, s->SH, s->PH, i);
                                int v = IN_AT(q, s->SW, s->PW, j);
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                size_t wk = ((size_t)(o * C + c) * KH + i) * KW + j;
                                size_t xk = ((size_t)(n * C + c) * H + h) * W + v;
                                dw[wk] += g * x[xk];
                                if (dx) dx[xk] += g * w[wk];
                            }
                }
}

/* ------------------------------------------------------------------------ */
/* Pooling: one window per output, channel by channel                        */

void SFX(bp_maxpool2d_forward_ref)(REAL *y, int32_t *arg, const REAL *x, int B,
                                   const bp_conv_shape *s) {
    const int H = s->H, W = s->W, P = s->P, Q = s->Q;
    for (int n = 0; n < B; n++)
        for (int c = 0; c < s->C; c++) {
            const REAL *xc = x + (size_t)(n * s->C + c) * H * W;
            size_t at = (size_t)(n * s->C + c) * P * Q;
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    int best = -1;
                    for (int i = 0; i < s->KH; i++)
                        for (int j = 0; j < s->KW; j++) {
                            int h = IN_AT(p, s->SH, s->PH, i);
                            int v = IN_AT(q, s->SW, s->PW, j);
                            if (h < 0 || h >= H || v < 0 || v >= W) continue;
                            int k = h * W + v;
                            /* strictly greater: the first of equals stays
                             * (PyTorch's test, NaN included) */
                            if (best < 0 || xc[k] > xc[best] || isnan(xc[k])) best = k;
                        }
                    y[at + (size_t)p * Q + q] = xc[best];
                    arg[at + (size_t)p * Q + q] = best;
                }
        }
}

void SFX(bp_maxpool2d_backward)(REAL *dx, const REAL *dy, const int32_t *arg, int B,
                                const bp_conv_shape *s) {
    size_t plane = (size_t)s->H * s->W, out = (size_t)s->P * s->Q;
    for (size_t nc = 0; nc < (size_t)B * s->C; nc++)
        for (size_t k = 0; k < out; k++)
            dx[nc * plane + (size_t)arg[nc * out + k]] += dy[nc * out + k];
}

/* bp_maxpool2d_backward then bp_act_backward's ReLU (bp_ops.h's df: h > 0
 * ? d : 0) in one pass, for windows that do not overlap, dx starting at
 * zero with no other writer: at each winner dx += (h > 0 ? dy : 0), the
 * value the two passes give, and nothing elsewhere, where they add +0. */
void SFX(bp_maxpool2d_relu_backward)(REAL *dx, const REAL *dy, const int32_t *arg,
                                     const REAL *h, int B, const bp_conv_shape *s) {
    size_t plane = (size_t)s->H * s->W, out = (size_t)s->P * s->Q;
    for (size_t nc = 0; nc < (size_t)B * s->C; nc++)
        for (size_t k = 0; k < out; k++) {
            size_t at = nc * plane + (size_t)arg[nc * out + k];
            dx[at] += SFX(act_df_RELU)(dy[nc * out + k], h[at], 0, 0);
        }
}

void SFX(bp_avgpool2d_forward)(REAL *y, const REAL *x, int B, const bp_conv_shape *s) {
    const int H = s->H, W = s->W, P = s->P, Q = s->Q;
    const REAL div = (REAL)(s->KH * s->KW);
    for (int n = 0; n < B; n++)
        for (int c = 0; c < s->C; c++) {
            const REAL *xc = x + (size_t)(n * s->C + c) * H * W;
            REAL *yc = y + (size_t)(n * s->C + c) * P * Q;
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    REAL acc = 0;
                    for (int i = 0; i < s->KH; i++)
                        for (int j = 0; j < s->KW; j++) {
                            int h = IN_AT(p, s->SH, s->PH, i);
                            int v = IN_AT(q, s->SW, s->PW, j);
                            if (h >= 0 && h < H && v >= 0 && v < W) acc += xc[h * W + v];
                        }
                    yc[p * Q + q] = acc / div;
                }
        }
}

void SFX(bp_avgpool2d_backward)(REAL *dx, const REAL *dy, int B, const bp_conv_shape *s) {
    const int H = s->H, W = s->W, P = s->P, Q = s->Q;
    const REAL div = (REAL)(s->KH * s->KW);
    for (int n = 0; n < B; n++)
        for (int c = 0; c < s->C; c++) {
            REAL *dxc = dx + (size_t)(n * s->C + c) * H * W;
            const REAL *dyc = dy + (size_t)(n * s->C + c) * P * Q;
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    REAL g = dyc[p * Q + q] / div;
                    for (int i = 0; i < s->KH; i++)
                        for (int j = 0; j < s->KW; j++) {
                            int h = IN_AT(p, s->SH, s->PH, i);
                            int v = IN_AT(q, s->SW, s->PW, j);
                            if (h >= 0 && h < H && v >= 0 && v < W) dxc[h * W + v] += g;
                        }
                }
        }
}
