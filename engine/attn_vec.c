/* attn_vec.c: one head of one sample of float attention (attn_fast.h's
 * per-head products, softmax rows between them) in register blocks of
 * GCC's vector extension, for heads whose T and D are whole vectors of 16.
 *
 * Why: W9 (issue 26's character GPT) makes 1,536 products of 64 x 64 x 32
 * an iteration through oneDNN's sgemm, some 2.4 us each of which about
 * 0.8 us is the call (its checks, a malloc and free of packing buffers),
 * and under the causal mask half of each is arithmetic on scores the
 * softmax throws away (scripts/bench/NOTES.md, issue 26). Here a block of
 * R rows by up to 4 vectors of columns is summed in registers, one fused
 * multiply-add a term, and a causal head computes only the blocks the mask
 * leaves: the scores and dP left of the diagonal's vector, the products
 * by P or dS over the keys (or queries) the mask lets through. The masked
 * scores above the diagonal are left unwritten: ops_vec.c's rows select
 * them away; P's and dS's values past each row's last vector of 16 are not
 * written at all (37% of W9's P, a quarter of a head's 16 KB stream to
 * memory and back), as nothing here reads them.
 *
 * Each sum runs over its terms in ascending order with fmaf (IEEE's one
 * rounding: an instruction in the AVX-512 and x86-64-v3 clones, glibc's
 * exact fmaf in the default one), so every clone gives the same bits; on
 * this machine they are also oneDNN sgemm's for these shapes (W9's loss to
 * the bit), whose kernels sum the same way. tests/test_attention.c's
 * test_vec_head holds a head to its products written plainly (all terms,
 * ascending, by fmaf), test_fast_matches_ref the path to attn_ref.h's
 * kernels (W9's heads among its cases). Float only; attn_fast.h calls
 * these where bp_attn_head_vec_ok says so, GEMM otherwise. */
#include "ops_vec.h"

#include <string.h>

#include "vmath.h"

#pragma GCC diagnostic ignored "-Wpsabi" /* inlined vectors only: no ABI */

#define V 16   /* floats a vector */
#define RB 8   /* rows a register block, at most */
#define MAXV 4 /* vectors of columns a register block */

VM_INLINE vm_f16 ld_(const float *p) {
    vm_f16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
VM_INLINE void st(float *p, vm_f16 v) { memcpy(p, &v, sizeof v); }
VM_INLINE vm_f16 fma16(vm_f16 a, vm_f16 b, vm_f16 c) {
    vm_f16 r;
#pragma GCC unroll 16
    for (int l = 0; l < V; l++) r[l] = __builtin_fmaf(a[l], b[l], c[l]);
    return r;
}

/* C[r][c] = alpha sum_{k0 <= k < k1} A(r, k) B[k][c] for r < R and c < V NV,
 * A(r, k) = A[r ar + k ak] (a row-major A, or one transposed), B's rows
 * ldb apart. R and NV are constants where it is inlined: the R NV sums
 * stay in registers. The terms' loop unrolled twice (k1 - k0 is a multiple
 * of 4 here): half the loop's own instructions beside the FMAs, the terms
 * still in ascending order. With alpha 1 (every product but the scores)
 * the sums are stored as they are, without a multiply by 1 a vector: x 1
 * is x, NaN's quiet payload too, so the same bits. */
VM_INLINE void block(float *C, int ldc, const float *A, int ar, int ak, const float *B,
                     int ldb, int k0, int k1, int R, int NV, float alpha) {
    vm_f16 acc[RB][MAXV] = {{{0}}};
#pragma GCC unroll 2
    for (int k = k0; k < k1; k++) {
        vm_f16 b[MAXV];
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) b[c] = ld_(B + (size_t)k * ldb + c * V);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const vm_f16 a = vm_splat(A[(size_t)r * ar + (size_t)k * ak]);
#pragma GCC unroll 4
            for (int c = 0; c < NV; c++) acc[r][c] = fma16(a, b[c], acc[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++)
            st(C + (size_t)r * ldc + c * V, alpha == 1 ? acc[r][c] : alpha * acc[r][c]);
}

/* The same for R and NV given at run time, each case inlined: 8 rows of
 * 1 or 2 vectors, 4 of 1 to 4 (at most 16 sums, so that they, B's vectors
 * and A's broadcast fit AVX-512's 32 registers) */
VM_INLINE void block_nv(float *C, int ldc, const float *A, int ar, int ak, const float *B,
                        int ldb, int k0, int k1, int R, int NV, float alpha) {
#define CASE(r, nv) \
    case (r) * 8 + (nv): block(C, ldc, A, ar, ak, B, ldb, k0, k1, r, nv, alpha); break;
    switch (R * 8 + NV) {
        CASE(8, 1) CASE(8, 2) CASE(4, 1) CASE(4, 2) CASE(4, 3) CASE(4, 4)
    }
#undef CASE
}

/* C (M x N, ldc) = alpha A B, A(r, k) as in block, M and N multiples of V;
 * for each block of rows from i0, k in [0, K), or with lower (upper) only
 * up to (from) the block's rows: a causal P or dS (its transpose) is zero
 * past them. With tri, only the columns up to the vector of the block's
 * last row (a causal block of scores). Cloned, the blocks inlined in each
 * clone. */
VM_CLONES_FMA static void product(float *C, int ldc, const float *A, int ar, int ak,
                                  const float *B, int ldb, int M, int N, int K, float alpha,
                                  int tri, int lower, int upper) {
    for (int i0 = 0; i0 < M; i0 += RB) {
        const int cols8 = tri ? ((i0 + RB - 1) / V + 1) * V : N;
        for (int c0 = 0; c0 < cols8; c0 += MAXV * V) {
            const int nv8 = (cols8 - c0) / V < MAXV ? (cols8 - c0) / V : MAXV;
            if (nv8 <= 2) {
                const int k0 = upper ? i0 : 0, k1 = lower ? i0 + RB : K;
                block_nv(C + (size_t)i0 * ldc + c0, ldc, A + (size_t)i0 * ar, ar, ak, B + c0,
                         ldb, k0, k1, RB, nv8, alpha);
                continue;
            }
            for (int i = i0; i < i0 + RB; i += RB / 2) { /* halves of 4 rows */
                const int cols = tri ? ((i + RB / 2 - 1) / V + 1) * V : N;
                if (c0 >= cols) continue;
                const int nv = (cols - c0) / V < MAXV ? (cols - c0) / V : MAXV;
                const int k0 = upper ? i : 0, k1 = lower ? i + RB / 2 : K;
                block_nv(C + (size_t)i * ldc + c0, ldc, A + (size_t)i * ar, ar, ak, B + c0,
                         ldb, k0, k1, RB / 2, nv, alpha);
            }
        }
    }
}

typedef float f8 __attribute__((vector_size(32))); /* a transpose's row of 8 */

/* The 8 x 8 transpose of r (r[i][k] becomes r[k][i]) in three rounds of
 * shuffles (__builtin_shufflevector, GCC 12's and clang's alike): pairs of
 * rows interleaved, then pairs of pairs, then the halves exchanged. Only
 * moves: the same values whatever the clone. */
VM_INLINE void transpose8(f8 r[8]) {
    f8 t[8], u[8];
    for (int m = 0; m < 8; m += 2) {
        t[m] = __builtin_shufflevector(r[m], r[m + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[m + 1] = __builtin_shufflevector(r[m], r[m + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int m = 0; m < 8; m += 4)
        for (int j = 0; j < 2; j++) { /* u[m + 2 j]: columns 2 j, 2 j + 4 of rows m .. m + 3 */
            u[m + 2 * j] =
                __builtin_shufflevector(t[m + j], t[m + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[m + 2 * j + 1] =
                __builtin_shufflevector(t[m + j], t[m + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int c = 0; c < 4; c++) { /* u[c], u[c + 4]: column c's and c + 4's halves */
        r[c] = __builtin_shufflevector(u[c], u[c + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[c + 4] = __builtin_shufflevector(u[c], u[c + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* x's T rows of D (ld apart) transposed into t, D rows of T, in 8 x 8
 * blocks: each block's 8 row loads independent (where a value at a time
 * waited on each row's cache miss), the transpose in registers rather than
 * a value at a time through a copy of the rows (scripts/bench/NOTES.md,
 * i26-w9g). T and D multiples of 8. Cloned: the default clone runs the
 * vectors as pairs. */
VM_CLONES static void transpose(float *t, const float *x, int ld, int T, int D) {
    for (int i0 = 0; i0 < T; i0 += 8)
        for (int d0 = 0; d0 < D; d0 += 8) {
            f8 r[8];
            for (int m = 0; m < 8; m++) memcpy(&r[m], x + (size_t)(i0 + m) * ld + d0, sizeof r[m]);
            transpose8(r);
            for (int c = 0; c < 8; c++) memcpy(t + (size_t)(d0 + c) * T + i0, &r[c], sizeof r[c]);
        }
}

int bp_attn_head_vec_ok(int T, int D) {
    return T % V == 0 && D % V == 0 && (size_t)T * D <= BP_ATTN_VEC_MAX;
}

/* K^T and V^T on the stack (T D <= BP_ATTN_VEC_MAX floats, 32 KB): the
 * products read B's rows as vectors */
void bp_attn_head_forward_vec(float *out, int ldo, float *P, const float *q, const float *k,
                              const float *v, int ld, int T, int D, float scale, int causal) {
    float kt[BP_ATTN_VEC_MAX];
    transpose(kt, k, ld, T, D);
    product(P, T, q, ld, 1, kt, T, T, T, D, scale, causal, 0, 0);
    bp_attn_softmax_rows16_vec(P, T, causal);
    product(out, ldo, P, T, 1, v, ld, T, D, T, 1, 0, causal, 0);
}

void bp_attn_head_backward_vec(float *dq, float *dk, float *dv, float *dp, const float *P,
                               const float *dO, int ldo, const float *q, const float *k,
                               const float *v, int ld, int T, int D, float scale, int causal) {
    float vt[BP_ATTN_VEC_MAX];
    transpose(vt, v, ld, T, D);
    /* dS before dv: the softmax's backward reads P's rows in order (a stream
     * the prefetchers follow, where P comes from memory), so that dv's
     * strips of P's columns then come from L1; the same sums */
    product(dp, T, dO, ldo, 1, vt, T, T, T, D, 1, causal, 0, 0);   /* dP = dO v^T */
    bp_attn_softmax_backward_rows16_vec(dp, P, T, causal, scale);  /* dS */
    product(dv, ld, P, 1, T, dO, ldo, T, D, T, 1, 0, 0, causal);   /* dv = P^T dO */
    product(dq, ld, dp, T, 1, k, ld, T, D, T, 1, 0, causal, 0);    /* dq = dS k */
    product(dk, ld, dp, 1, T, q, ld, T, D, T, 1, 0, 0, causal);    /* dk = dS^T q */
}
