/* vmath.h: float exp and erf as straight-line code that GCC vectorizes,
 * for the engine's float fast paths (seq_cell.c's LSTM cell, ops_vec.c's
 * GELU, attention softmax rows and loss).
 *
 * Why: glibc's expf and erff are called a value at a time; on W8 and W9
 * those calls cost more than the products they sit between
 * (scripts/bench/NOTES.md, issue 26). glibc 2.35's libmvec does have
 * vector erff and expf, but it declares them only under -ffast-math, and
 * its SSE, AVX2 and AVX-512 variants and the scalar function a loop's tail
 * falls back to are different code with no promise of the same bits:
 * determinism (the same inputs give the same outputs on any machine, and
 * whatever a value's place in its array) would go. Here every operation is
 * one of IEEE's (+ - * / and comparisons, -ffp-contract=off, no reciprocal
 * estimate), so each clone GCC makes (VM_CLONES) gives the same bits as the
 * plain C. GELU's polynomials (vm_erf, vm_exp_minus_sq) take their
 * multiply-adds fused, written out as fmaf: IEEE's fusedMultiplyAdd, one
 * rounding, so the same bits again in every clone (VM_CLONES_FMA: an
 * instruction in the AVX-512 and x86-64-v3 clones, glibc's exact fmaf in
 * the default one, slow but equal), at half the vector operations of a
 * multiply then an add (a compiler's contraction, by contrast, would fuse
 * in some clones and not others).
 *
 * A file that includes this must be compiled with -fno-trapping-math
 * (CMakeLists.txt): without it GCC keeps the clamps and selects as
 * branches (a comparison might raise a flag nobody reads) and vectorizes
 * nothing. Not part of the engine's API. */
#ifndef BP_VMATH_H
#define BP_VMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_THREAD__)
#define VM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define VM_CLONES_FMA \
    __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define VM_CLONES
#define VM_CLONES_FMA
#endif
#define VM_INLINE static inline __attribute__((always_inline))

/* e^x for |x| <= 87 (clamped there, so that 2^n stays a normal float):
 * Cephes's expf, a round to the nearest multiple of ln 2, a degree-6
 * polynomial, 2^n built in the exponent's bits. Within 2 units in the last
 * place of libm's (tests/test_seq.c, test_cell_f32_bound). */
/* Its steps, on a float or on a vector of them (vm_exp16): n = round(x /
 * ln 2), r = x - n ln 2 in two parts, and the polynomial of r, by Horner's
 * rule from its highest term. */
#define VM_EXP_REDUCE(n, r, x)                                   \
    n = ((x) * 1.44269504088896341f + 12582912.f) - 12582912.f; \
    r = (x) - n * 0.693359375f;                                   \
    r = r - n * -2.12194440e-4f
#define VM_EXP_POLY(r)                                                                  \
    (((((1.9875691500e-4f * (r) + 1.3981999507e-3f) * (r) + 8.3334519073e-3f) * (r) + \
       4.1665795894e-2f) * (r) + 1.6666665459e-1f) * (r) + 5.0000001201e-1f)
VM_INLINE float vm_exp(float x) {
    x = x < -87.f ? -87.f : x > 87.f ? 87.f : x;
    float n, r;
    VM_EXP_REDUCE(n, r, x);
    float p = VM_EXP_POLY(r);
    p = p * r * r + r + 1.f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float s;
    memcpy(&s, &bits, sizeof s);
    return p * s;
}

/* e^(-x^2) for 0 <= x <= 9.3 (the callers clamp; e^-87 is float's
 * smallest normal), vm_exp's steps with their multiply-adds fused, with
 * x^2 taken exactly: x = xh + xl, xh x's top 12
 * bits, so that xh^2 is a float and e^(-x^2) = e^(-xh^2) e^(-c),
 * c = xl (x + xh) < 0.08, e^(-c) by its series to c^4. Rounding x^2
 * instead would cost up to 43 ulp of it in the exponent, 5e-6 relative in
 * the result. Within 2e-7 relative of double: test_ops.c, test_vec_erf. */
VM_INLINE float vm_exp_minus_sq(float x) {
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    bits &= (int32_t)0xfffff000;
    float xh;
    memcpy(&xh, &bits, sizeof xh);
    float c = (x - xh) * (x + xh);
    float series = 1.f - c * (1.f - c * (0.5f - c * (0.166666667f - c * 0.0416666667f)));
    float y = -(xh * xh); /* in [-87, 0]: vm_exp's steps with fused multiply-adds */
    y = y < -87.f ? -87.f : y;
    float n = (y * 1.44269504088896341f + 12582912.f) - 12582912.f;
    float r = __builtin_fmaf(n, -0.693359375f, y);
    r = __builtin_fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = __builtin_fmaf(p, r, 1.3981999507e-3f);
    p = __builtin_fmaf(p, r, 8.3334519073e-3f);
    p = __builtin_fmaf(p, r, 4.1665795894e-2f);
    p = __builtin_fmaf(p, r, 1.6666665459e-1f);
    p = __builtin_fmaf(p, r, 5.0000001201e-1f);
    p = __builtin_fmaf(p * r, r, r) + 1.f;
    /* 2^n's bits by a shift: GCC kept the multiply (vpmulld, two uops) */
    int32_t eb = (int32_t)((uint32_t)((int32_t)n + 127) << 23);
    float s;
    memcpy(&s, &eb, sizeof s);
    return p * s * series;
}

/* erf(x) for x >= 0. Below 1, x (1 + P(x^2)); from 1 to 4, 1 - Q(u) with
 * u = (x - 2.5) / 1.5 in [-1, 1]; from 4 on, 1 (erf(4) is 1 - 1.5e-8). P
 * (degree 6) and Q (degree 14) are Chebyshev fits (mpmath's chebyfit, 40
 * digits) of erf(x)/x - 1 on x^2 in [0, 1] and of erfc on [1, 4], off by at
 * most 1.3e-9 and 1.1e-8 before float's rounding; P's constant term .128...
 * is 1.128... less its 1, added apart, whose rounding would cost 16 times
 * more, and Q in u rather than x keeps Horner's terms below 0.05 (in x
 * they would cancel from 1e8). No exponential and no division: straight
 * fused multiply-adds. Against double erf 8.5e-8 off at most (glibc's erff:
 * 5.8e-8): tests/test_ops.c, test_vec_erf. NaN gives NaN. */
VM_INLINE float vm_poly(const float *c, int n, float x) { /* Horner's, c[0] highest */
    float p = c[0];
    for (int k = 1; k < n; k++) p = __builtin_fmaf(p, x, c[k]);
    return p;
}
VM_INLINE float vm_erf(float x) {
    static const float P[7] = {7.87587506269e-5f, -8.01686428717e-4f, 5.18908742343e-3f,
                               -2.68542120106e-2f, 1.12835947152e-1f,  -3.76126266667e-1f,
                               1.2837916585e-1f};
    static const float Q[15] = {-2.58006098801e-4f, -9.4972383513e-5f, 2.03279877448e-3f,
                                -1.54291107477e-3f, -4.66702880669e-3f, 1.04118452365e-2f,
                                -6.6378641387e-3f,  -9.57930563355e-3f, 3.18684507334e-2f,
                                -4.63895837328e-2f, 4.36514785728e-2f,  -2.81874062662e-2f,
                                1.22528304099e-2f,  -3.26727035531e-3f, 4.06952017445e-4f};
    float small = __builtin_fmaf(x, vm_poly(P, 7, x * x), x);
    float xc = x < 4.f ? x : 4.f;
    float q = vm_poly(Q, 15, (xc - 2.5f) * 0.666666667f);
    float large = x < 4.f ? 1.f - q : 1.f;
    large = x != x ? x : large; /* NaN: the clamp above would have made it 4 */
    return x < 1.f ? small : large;
}

/* vm_exp on 16 floats at once by GCC's vector extension, the same
 * operations in the same order lane by lane, so the same bits as vm_exp
 * on each (tests/test_ops.c test_vec_softmax_rows holds the rows that use
 * it to vm_exp's, bit for bit). For loops GCC's
 * vectorizer leaves scalar (rows with a per-lane mask and lane sums):
 * a clone without AVX-512 runs the vector as narrower ones. C has no
 * vector ?:, so selects are bitwise (vm_sel). */
#pragma GCC diagnostic push
/* always inlined: no call passes these vectors, so no ABI to change */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float vm_f16 __attribute__((vector_size(64)));
typedef int32_t vm_i16 __attribute__((vector_size(64)));
VM_INLINE vm_f16 vm_sel(vm_i16 m, vm_f16 a, vm_f16 b) { /* m ? a : b, m 0 or -1 */
    return (vm_f16)((m & (vm_i16)a) | (~m & (vm_i16)b));
}
VM_INLINE vm_f16 vm_splat(float x) {
    return (vm_f16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}
VM_INLINE vm_f16 vm_exp16(vm_f16 x) {
    x = vm_sel(x < -87.f, vm_splat(-87.f), x);
    x = vm_sel(x > 87.f, vm_splat(87.f), x);
    vm_f16 n, r;
    VM_EXP_REDUCE(n, r, x);
    vm_f16 p = VM_EXP_POLY(r);
    p = p * r * r + r + 1.f;
    vm_i16 bits = (__builtin_convertvector(n, vm_i16) + 127) * (1 << 23);
    return p * (vm_f16)bits;
}

#pragma GCC diagnostic pop

#endif
