/* conv.c: the kernels of images (bp_conv.h), convolution and pooling, in
 * double and float.
 *
 * Templates compiled here twice (real.h), as ops.c compiles its own:
 * conv_ref.h, the definitions in direct loops, and conv_fast.h, the
 * convolution as im2col and matrix products, held to the reference by
 * tests/test_conv.c. This file holds what has no number type: the output
 * sizes and the workspace's.
 *
 * Dimensions: B, C, H, W, O, P, Q, KH, KW, SH, SW, PH, PW, K (bp_conv.h). */
#include <math.h>
#include <string.h>

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I is nobody's here. */
#undef I

#include "bp_conv.h"
#include "bp_gemm.h"
#include "bp_ops.h"

/* floor((n + 2 pad - k) / stride) + 1, or 0 when the kernel is wider than
 * the padded image. */
static int out_size(int n, int k, int stride, int pad) {
    int span = n + 2 * pad - k;
    return span < 0 || stride < 1 ? 0 : span / stride + 1;
}

void bp_conv_shape_outputs(bp_conv_shape *s) {
    s->P = out_size(s->H, s->KH, s->SH, s->PH);
    s->Q = out_size(s->W, s->KW, s->SW, s->PW);
}

size_t bp_conv_cols(const bp_conv_shape *s) {
    return (size_t)s->C * s->KH * s->KW * (size_t)s->P * s->Q;
}

#define BP_REAL_F32 0
#include "real.h"
#include "conv_ref.h"
#include "conv_fast.h"
#undef BP_REAL_F32

#define BP_REAL_F32 1
#include "real.h"
#include "conv_ref.h"
#include "conv_fast.h"
#undef BP_REAL_F32
