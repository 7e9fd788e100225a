/* ops_vec.c: a GPT block's float kernels outside its products (GELU, layer
 * norm, attention's softmax rows, softmax_ce on labels) and the decode of
 * byte-backed rows by arithmetic, written so that GCC vectorizes them; the
 * float graph (graph_real.h), attn_fast.h's float build and net.c's step
 * run these in place of the reference kernels (ops_vec.h names each
 * one's).
 *
 * Why: on W9 (issue 26's character GPT) exact GELU through libm's erff and
 * expf a value at a time was a fifth of the iteration, layer norm's sums
 * (each a chain of dependent double additions), the softmax rows' expf and
 * the loss's (three exponentials a logit) a tenth more
 * (scripts/bench/NOTES.md). Here erf and exp are vmath.h's,
 * and each row's sums are taken in lanes: lane l sums the values at
 * l, l + L, l + 2L, ..., the lanes then added in a fixed order, so that
 * every clone (vmath.h's VM_CLONES) adds the same numbers in the same
 * order and gives the same bits. The formulas are the references', but
 * for the order of the sums, the functions erf and exp, GELU's backward
 * taking Phi as o / h and the loss's one exponential a logit (each
 * function's comment says): each within the bounds that tests/test_ops.c's
 * test_vec_erf, test_vec_gelu, test_vec_layernorm and test_vec_softmax_ce,
 * and test_attention.c's test_fast_matches_ref, state.
 *
 * Compiled with -fno-trapping-math (CMakeLists.txt; vmath.h says why).
 * Float only: double networks keep the reference kernels. */
#include "ops_vec.h"

#include <math.h>

#include "vmath.h"

/* Lanes of the row sums: a float vector of AVX-512, two of AVX2. */
#define LANES 16
#define DLANES 8

/* The sum of a lane array, in a fixed order (a halving tree). */
VM_INLINE float lanes_total(float *acc) {
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}
VM_INLINE double dlanes_total(double *acc) {
    for (int w = DLANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

/* GELU: o = v Phi(v), Phi(v) = (1 + erf(v / sqrt 2)) / 2. */
VM_CLONES_FMA void bp_gelu_forward_vec(float *o, const float *h, size_t n) {
    for (size_t k = 0; k < n; k++) {
        float v = h[k], erf = vm_erf((v < 0 ? -v : v) * 0.70710678118654752440f);
        o[k] = v * (0.5f * (1.f + (v < 0 ? -erf : erf)));
    }
}

/* The backward from forward's output o = h Phi(h): Phi(h) = o / h, so that
 * only the density's exponential is left to compute (half the forward's
 * work); at h = 0, or where o underflowed (h below -13, Phi(h) < 1e-38),
 * Phi is taken as 0.5 and 0. One loop for each case of add, so that
 * neither tests it per value. */
#define GELU_GRAD(STORE)                                                            \
    for (size_t k = 0; k < n; k++) {                                                \
        float v = h[k], x = (v < 0 ? -v : v) * 0.70710678118654752440f;            \
        float xc = x < 9.3f ? x : 9.3f;                                             \
        float e = x < 9.3f ? vm_exp_minus_sq(xc) : 0.f;                             \
        float cdf = v != 0 ? o[k] / v : 0.5f;                                       \
        float g = dout[k] * (cdf + v * (0.39894228040143267794f * e));              \
        STORE;                                                                      \
    }
VM_CLONES_FMA void bp_gelu_backward_vec(float *dh, const float *dout, const float *h,
                                    const float *o, size_t n, int add) {
    if (add) GELU_GRAD(dh[k] += g)
    else GELU_GRAD(dh[k] = g)
}
#undef GELU_GRAD

/* The forward, then in d the factor GELU_GRAD multiplies dout by, the same
 * expression of the same h and o, so that bp_gelu_backward_d_vec's dout d
 * is bp_gelu_backward_vec's value to the bit (test_ops.c
 * test_vec_gelu_d). */
VM_CLONES_FMA void bp_gelu_forward_d_vec(float *o, float *d, const float *h, size_t n) {
    for (size_t k = 0; k < n; k++) {
        float v = h[k], x = (v < 0 ? -v : v) * 0.70710678118654752440f, erf = vm_erf(x);
        float ok = v * (0.5f * (1.f + (v < 0 ? -erf : erf)));
        float xc = x < 9.3f ? x : 9.3f;
        float e = x < 9.3f ? vm_exp_minus_sq(xc) : 0.f;
        float cdf = v != 0 ? ok / v : 0.5f;
        o[k] = ok;
        d[k] = cdf + v * (0.39894228040143267794f * e);
    }
}
/* dh = dout d (dh may be d). */
VM_CLONES_FMA void bp_gelu_backward_d_vec(float *dh, const float *dout, const float *d,
                                      size_t n) {
    for (size_t k = 0; k < n; k++) dh[k] = dout[k] * d[k];
}
/* The same over R rows of O, each row's dh added into db in that pass
 * (db[j] += dh[r][j], rows ascending: bias_backward_ref's order, so its
 * bits), instead of a second pass reading dh back for the linear's bias
 * (graph_real.h linear_gelu_backward; test_ops.c test_vec_gelu_d_bias). */
VM_CLONES void bp_gelu_backward_d_bias_vec(float *dh, float *db, const float *dout,
                                           const float *d, int R, int O) {
    for (int r = 0; r < R; r++) {
        float *dhr = dh + (size_t)r * O;
        const float *dor = dout + (size_t)r * O, *dr = d + (size_t)r * O;
        for (int j = 0; j < O; j++) {
            const float g = dor[j] * dr[j];
            dhr[j] = g;
            db[j] += g;
        }
    }
}

/* Layer norm's rows 8 values at a time by GCC's vector extension (float
 * vectors of 8, their double lanes: GCC's vectorizer had left the double
 * sums and the backward's last loop largely scalar), the tail a value at a
 * time into the same lanes: lane l sums the values at l, l + 8, ..., as
 * before, so the bits are the loops' that were here (test_vec_layernorm:
 * the reference to 2 ulp, F = 133 for the tail). */
#pragma GCC diagnostic ignored "-Wpsabi" /* inlined vectors only: no ABI */
typedef float vf8 __attribute__((vector_size(32)));
typedef double vd8 __attribute__((vector_size(64)));
VM_INLINE vf8 load8(const float *p) {
    vf8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
VM_INLINE void store8(float *p, vf8 v) { memcpy(p, &v, sizeof v); }
VM_INLINE vd8 wide8(vf8 v) { return __builtin_convertvector(v, vd8); }
VM_INLINE double dtotal8(vd8 v) {
    double acc[DLANES];
    memcpy(acc, &v, sizeof acc);
    return dlanes_total(acc);
}

/* The sum of x[0 .. F-1] and of (x - mean)^2, in double lanes. */
VM_INLINE double row_sum(const float *x, int F, double mean, int squares) {
    vd8 acc = {0};
    int f = 0;
    for (; f + DLANES <= F; f += DLANES) {
        const vd8 d = wide8(load8(x + f)) - mean;
        acc += squares ? d * d : d;
    }
    for (int l = 0; f + l < F; l++) {
        double d = x[f + l] - mean;
        acc[l] += squares ? d * d : d;
    }
    return dtotal8(acc);
}

VM_CLONES void bp_layernorm_forward_vec(float *y, float *xhat, float *rstd, const float *x,
                                        const float *w, const float *b, int R, int F,
                                        double eps) {
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * F;
        float *yr = y + (size_t)r * F, *hr = xhat + (size_t)r * F;
        double mean = row_sum(xr, F, 0, 0) / F;
        double var = row_sum(xr, F, mean, 1);
        float rs = (float)(1 / sqrt(var / F + eps));
        rstd[r] = rs;
        int f = 0;
        for (; f + DLANES <= F; f += DLANES) {
            const vf8 h = __builtin_convertvector((wide8(load8(xr + f)) - mean) * (double)rs, vf8);
            store8(hr + f, h);
            store8(yr + f, load8(w + f) * h + load8(b + f));
        }
        for (; f < F; f++) {
            hr[f] = (float)((xr[f] - mean) * rs);
            yr[f] = w[f] * hr[f] + b[f];
        }
    }
}

VM_CLONES void bp_layernorm_backward_vec(float *dx, float *dw, float *db, const float *dy,
                                         const float *xhat, const float *rstd,
                                         const float *w, int R, int F, int add) {
    for (int r = 0; r < R; r++) {
        const float *dyr = dy + (size_t)r * F, *xr = xhat + (size_t)r * F;
        vd8 a1 = {0}, a2 = {0}; /* dxhat, dxhat xhat */
        int f0 = 0;
        for (; f0 + DLANES <= F; f0 += DLANES) {
            const vf8 d = load8(dyr + f0), xh = load8(xr + f0);
            const vd8 g = wide8(d * load8(w + f0));
            a1 += g, a2 += g * wide8(xh);
            store8(dw + f0, load8(dw + f0) + d * xh);
            store8(db + f0, load8(db + f0) + d);
        }
        for (int f = f0; f < F; f++) {
            double g = dyr[f] * w[f];
            a1[f - f0] += g, a2[f - f0] += g * xr[f];
            dw[f] += dyr[f] * xr[f];
            db[f] += dyr[f];
        }
        if (!dx) continue;
        /* the means of the sums once a row, not a division a value */
        const double m1 = dtotal8(a1) / F, m2 = dtotal8(a2) / F, rs = rstd[r];
        float *dxr = dx + (size_t)r * F;
        int f = 0;
        for (; f + DLANES <= F; f += DLANES) {
            const vd8 dh = wide8(load8(dyr + f) * load8(w + f));
            const vf8 g = __builtin_convertvector(rs * (dh - m1 - wide8(load8(xr + f)) * m2), vf8);
            store8(dxr + f, add ? load8(dxr + f) + g : g);
        }
        for (; f < F; f++) {
            float g = (float)(rstd[r] * (dyr[f] * w[f] - m1 - xr[f] * m2));
            dxr[f] = add ? dxr[f] + g : g;
        }
    }
}

/* e = exp(z - max z) over a row of n values (e may be z), in lanes;
 * returns their sum, and the max in *m. */
VM_INLINE float exp_row(float *e, const float *z, int n, float *m) {
    float mx[LANES], acc[LANES] = {0};
    int j0;
    for (int l = 0; l < LANES; l++) mx[l] = z[0];
#define MAX(L) \
    for (int l = 0; l < (L); l++) mx[l] = z[j0 + l] > mx[l] ? z[j0 + l] : mx[l];
    for (j0 = 0; j0 + LANES <= n; j0 += LANES) MAX(LANES)
    MAX(n - j0)
#undef MAX
    *m = mx[0];
    for (int l = 1; l < LANES; l++) *m = mx[l] > *m ? mx[l] : *m;
    const float mm = *m;
#define EXPS(L)                                   \
    for (int l = 0; l < (L); l++) {               \
        float v = vm_exp(z[j0 + l] - mm);         \
        e[j0 + l] = v;                            \
        acc[l] += v;                              \
    }
    for (j0 = 0; j0 + LANES <= n; j0 += LANES) EXPS(LANES)
    EXPS(n - j0)
#undef EXPS
    return lanes_total(acc);
}

/* Attention's rows, 16 lanes at a time by vmath.h's vector type (GCC's
 * vectorizer left these loops scalar, a row's ragged end and lane sums
 * defeating it). Every loop runs whole vectors up to n rounded up to
 * them, the masked values in the last (j >= n) selected away (a max that
 * keeps its lane, an exponential of 0 not kept, a sum that adds +0),
 * rather than stopping at n and finishing a value at a time; the vectors
 * wholly past n are zeros without arithmetic, so a causal row does the
 * exponentials of its own length, not of T. The masked scores (which GEMM
 * computed, or may not have: any bits) never reach a kept result. Lane l
 * still sums the values at l, l + LANES, ... below n in that order, so the
 * bits are those of the loops over n values that were here:
 * tests/test_ops.c test_vec_softmax_rows holds them to that definition
 * written a value at a time. */
/* vmath.h's vectors pass through inlined functions only: no ABI to change
 * (GCC reports it at the file's end, so not popped) */
#pragma GCC diagnostic ignored "-Wpsabi"
static const vm_i16 iota16 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* k <= 16 floats at p into a vector's first lanes (the rest 0), and back */
VM_INLINE vm_f16 load16(const float *p, int k) {
    vm_f16 v = {0};
    if (k == LANES) memcpy(&v, p, sizeof v); /* one load, not a call */
    else memcpy(&v, p, sizeof(float) * (size_t)k);
    return v;
}
VM_INLINE void store16(float *p, vm_f16 v, int k) {
    if (k == LANES) memcpy(p, &v, sizeof v);
    else memcpy(p, &v, sizeof(float) * (size_t)k);
}

VM_INLINE float total16(vm_f16 v) {
    float acc[LANES];
    memcpy(acc, &v, sizeof acc);
    return lanes_total(acc);
}

/* n rounded up to whole lanes, at most T: the vectors past it are masked
 * wholly */
VM_INLINE int lanes_end(int n, int T) {
    const int end = n + (LANES - 1 - (n - 1) % LANES);
    return end < T ? end : T;
}

/* One row: softmax over its n scores of T, zeros from n to T. The vectors
 * wholly past n are zeros without an exponential. */
VM_INLINE void softmax_row(float *p, int n, int T) {
    const int end = lanes_end(n, T);
    vm_f16 mx = vm_splat(p[0]), acc = {0};
    for (int j0 = 0; j0 < end; j0 += LANES) {
        const int k = end - j0 < LANES ? end - j0 : LANES;
        const vm_f16 z = vm_sel(iota16 + j0 < n, load16(p + j0, k), mx);
        mx = vm_sel(z > mx, z, mx);
    }
    float m = mx[0];
    for (int l = 1; l < LANES; l++) m = mx[l] > m ? mx[l] : m;
    for (int j0 = 0; j0 < end; j0 += LANES) {
        const int k = end - j0 < LANES ? end - j0 : LANES;
        const vm_i16 in = iota16 + j0 < n;
        const vm_f16 zero = {0};
        const vm_f16 v = vm_sel(in, vm_exp16(vm_sel(in, load16(p + j0, k) - m, zero)), zero);
        store16(p + j0, v, k);
        acc += v;
    }
    const float sum = total16(acc);
    for (int j = 0; j < end; j++) p[j] = p[j] / sum; /* masked: 0 / sum = 0 */
    for (int j = end; j < T; j++) p[j] = 0;
}

VM_CLONES void bp_attn_softmax_rows_vec(float *p, int T, int causal) {
    for (int i = 0; i < T; i++) softmax_row(p + (size_t)i * T, causal ? i + 1 : T, T);
}

/* The backward of each row, in whole vectors as softmax_row (the masked
 * dp, any bits, selected away: p there is 0, but 0 times inf is not). */
VM_CLONES void bp_attn_softmax_backward_rows_vec(float *dp, const float *p, int T,
                                                 int causal, float scale) {
    const vm_f16 zero = {0};
    for (int i = 0; i < T; i++) {
        float *d = dp + (size_t)i * T;
        const float *pi = p + (size_t)i * T;
        const int n = causal ? i + 1 : T, end = lanes_end(n, T);
        vm_f16 acc = {0};
        for (int j0 = 0; j0 < end; j0 += LANES) {
            const int k = end - j0 < LANES ? end - j0 : LANES;
            acc += vm_sel(iota16 + j0 < n, load16(pi + j0, k) * load16(d + j0, k), zero);
        }
        const float dot = total16(acc);
        for (int j0 = 0; j0 < end; j0 += LANES) {
            const int k = end - j0 < LANES ? end - j0 : LANES;
            const vm_f16 g = scale * load16(pi + j0, k) * (load16(d + j0, k) - dot);
            store16(d + j0, vm_sel(iota16 + j0 < n, g, zero), k);
        }
        for (int j = end; j < T; j++) d[j] = 0;
    }
}

/* The 16 x 16 transpose of w (w[i][l] becomes w[l][i]): at each step b
 * (8, 4, 2, 1) rows i and i + b, for i without the bit b, exchange their
 * off-diagonal blocks of b lanes, which transposes every 2 b x 2 b block
 * of b x b blocks; after the four steps, the whole. 64 two-vector
 * shuffles (__builtin_shufflevector, GCC 12's and clang's alike), only
 * moves: the same values whatever the clone. */
#define SHUF(b, ...)                                                                   \
    for (int i = 0; i < LANES; i++)                                                    \
        if (!(i & (b))) {                                                              \
            const vm_f16 x = w[i], y = w[i + (b)];                                     \
            w[i] = __builtin_shufflevector(x, y, __VA_ARGS__);                         \
            w[i + (b)] = __builtin_shufflevector(x, y, OTHER##b);                      \
        }
#define OTHER8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define OTHER4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define OTHER2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define OTHER1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
VM_INLINE void transpose16(vm_f16 w[LANES]) {
    SHUF(8, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
    SHUF(4, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27)
    SHUF(2, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29)
    SHUF(1, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30)
}
#undef SHUF
#undef OTHER8
#undef OTHER4
#undef OTHER2
#undef OTHER1

/* lanes_total of each of 16 rows' lane sums w[r], as one vector (lane r
 * row r's): w transposed, then the same halving tree on whole vectors, so
 * each row's additions are lanes_total's, in its order. */
VM_INLINE vm_f16 rows_total16(vm_f16 w[LANES]) {
    transpose16(w);
    for (int h = LANES / 2; h > 0; h /= 2)
        for (int l = 0; l < h; l++) w[l] += w[l + h];
    return w[0];
}

/* bp_attn_softmax_rows_vec's rows 16 at a time, for T a multiple of 16
 * (attn_vec.c's heads): the same operations on each row, but a row's two
 * reductions across its lanes (the maximum, a chain of 15 dependent
 * compares, and lanes_total's tree) done for 16 rows at once on their
 * lanes transposed, where one row's chain of latencies (some 150 cycles a
 * row of W9) left the units idle. Each row's maximum still takes its
 * lanes 0 .. 15 in that order, its sum lanes_total's tree: the same bits
 * (tests/test_ops.c test_vec_softmax_rows16). Under a causal mask a
 * group's 16 rows end at the same vector (i0 + 16); the values past it
 * are not written (softmax_row writes zeros there): attn_vec.c's products
 * read no further (test_attention.c test_vec_head). */
VM_CLONES void bp_attn_softmax_rows16_vec(float *p, int T, int causal) {
    const vm_f16 zero = {0};
    for (int i0 = 0; i0 < T; i0 += LANES) {
        const int end = causal ? i0 + LANES : T;
        vm_f16 w[LANES];
        for (int r = 0; r < LANES; r++) {
            const float *row = p + (size_t)(i0 + r) * T;
            const int n = causal ? i0 + r + 1 : T;
            vm_f16 mx = vm_splat(row[0]);
            for (int j0 = 0; j0 < end; j0 += LANES) {
                const vm_f16 z = vm_sel(iota16 + j0 < n, load16(row + j0, LANES), mx);
                mx = vm_sel(z > mx, z, mx);
            }
            w[r] = mx;
        }
        transpose16(w);
        vm_f16 m = w[0];
        for (int l = 1; l < LANES; l++) m = vm_sel(w[l] > m, w[l], m);
        for (int r = 0; r < LANES; r++) {
            float *row = p + (size_t)(i0 + r) * T;
            const int n = causal ? i0 + r + 1 : T;
            const float mr = m[r];
            vm_f16 acc = {0};
            for (int j0 = 0; j0 < end; j0 += LANES) {
                const vm_i16 in = iota16 + j0 < n;
                const vm_f16 v =
                    vm_sel(in, vm_exp16(vm_sel(in, load16(row + j0, LANES) - mr, zero)), zero);
                store16(row + j0, v, LANES);
                acc += v;
            }
            w[r] = acc;
        }
        const vm_f16 sum = rows_total16(w);
        for (int r = 0; r < LANES; r++) {
            float *row = p + (size_t)(i0 + r) * T;
            const float s = sum[r];
            for (int j0 = 0; j0 < end; j0 += LANES)
                store16(row + j0, load16(row + j0, LANES) / s, LANES);
        }
    }
}

/* bp_attn_softmax_backward_rows_vec's rows 16 at a time likewise (T a
 * multiple of 16): each row's dot product's lanes summed by lanes_total's
 * tree on the 16 rows' lanes transposed; the same bits, the values past a
 * causal group's last vector not written. */
VM_CLONES void bp_attn_softmax_backward_rows16_vec(float *dp, const float *p, int T,
                                                   int causal, float scale) {
    const vm_f16 zero = {0};
    for (int i0 = 0; i0 < T; i0 += LANES) {
        const int end = causal ? i0 + LANES : T;
        vm_f16 w[LANES];
        for (int r = 0; r < LANES; r++) {
            const float *d = dp + (size_t)(i0 + r) * T, *pi = p + (size_t)(i0 + r) * T;
            const int n = causal ? i0 + r + 1 : T;
            vm_f16 acc = {0};
            for (int j0 = 0; j0 < end; j0 += LANES)
                acc += vm_sel(iota16 + j0 < n, load16(pi + j0, LANES) * load16(d + j0, LANES),
                              zero);
            w[r] = acc;
        }
        const vm_f16 dot = rows_total16(w);
        for (int r = 0; r < LANES; r++) {
            float *d = dp + (size_t)(i0 + r) * T;
            const float *pi = p + (size_t)(i0 + r) * T;
            const int n = causal ? i0 + r + 1 : T;
            const float dt = dot[r];
            for (int j0 = 0; j0 < end; j0 += LANES) {
                const vm_f16 g = scale * load16(pi + j0, LANES) * (load16(d + j0, LANES) - dt);
                store16(d + j0, vm_sel(iota16 + j0 < n, g, zero), LANES);
            }
        }
    }
}

/* softmax_ce over R rows of O logits z, each with its label (1 .. O, as
 * float, checked by the caller): the rows' mean loss returned, and
 * dLoss/dz = (softmax(z) - onehot) / R stored into ds. One exponential a
 * logit (the reference takes three: two log-sum-exps and the gradient's),
 * e = exp(z - max) kept in ds, then ds = (e / sum - onehot) / R. */
VM_CLONES double bp_softmax_ce_labels_vec(float *ds, const float *z, const float *y, int R,
                                          int O) {
    double total = 0;
    for (int r = 0; r < R; r++) {
        const float *zr = z + (size_t)r * O;
        float *dr = ds + (size_t)r * O, m;
        const int c = (int)y[r] - 1;
        const float sum = exp_row(dr, zr, O, &m), lse = m + logf(sum);
        total += (float)(lse - zr[c]);
        for (int n = 0; n < O; n++) dr[n] = dr[n] / sum / (float)R;
        dr[c] -= 1.f / (float)R;
    }
    return total / R;
}

/* A byte-backed batch's rows decoded by arithmetic: 16 codes a vector,
 * where a table look-up takes one byte at a time (on W2 the look-ups were
 * the largest of the step's passes outside its products: NOTES.md, issue
 * 24, i24-w2e). The conversion of a byte is exact and the multiply and
 * the add are IEEE's, so every clone gives the same bits. */
VM_CLONES void bp_codes_affine_vec(float *dst, const unsigned char *codes, size_t n, float c,
                                   float a) {
    for (size_t k = 0; k < n; k++) dst[k] = (float)codes[k] * c + a;
}

int bp_codes_affine_of(float *c, float *a, const float *table) {
    unsigned char codes[256];
    float d[256];
    for (int v = 0; v < 256; v++) codes[v] = (unsigned char)v;
    bp_codes_affine_vec(d, codes, 256, table[1] - table[0], table[0]);
    if (memcmp(d, table, sizeof d)) return 0;
    *c = table[1] - table[0];
    *a = table[0];
    return 1;
}
