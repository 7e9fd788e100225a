/* attn_fast.h: multi-head self-attention through matrix products, the
 * path the graph runs.
 *
 * The projections are one product over all B T steps each (seq_fast.h's
 * input_forward and input_backward, a linear's product); the scores of a
 * head of a sample are one product of its T queries by its T keys (S = q
 * k^T scale), then the rows' softmax (attn_ref.h's, masking the future),
 * then one product for the outputs (O = P v). Backward likewise: dP = dO
 * v^T, dv += P^T dO, the rows' softmax backward, dq += dS k, dk += dS^T q,
 * a product each. A head's columns of q, k, v lie 3C apart from a step to
 * the next and its outputs C apart, which GEMM's leading dimensions say
 * without a copy. Under a causal mask the products compute the masked
 * scores too (T^2 instead of T(T+1)/2 sums) and the softmax zeroes them:
 * one product beats the ragged rows the mask would leave. In float, a head
 * whose T and D are multiples of 16 (W9's 64 and 32) instead runs
 * attn_vec.c's register blocks, which skip the masked blocks and GEMM's
 * call (test_attention.c test_vec_head). Each must equal
 * attn_ref.h's kernel of the same name with _ref to rounding:
 * tests/test_attention.c, test_fast_matches_ref.
 *
 * B, T, C, D as in bp_seq.h and attn_ref.h. */

/* The rows' softmax of a head's T x T scores, and its backward: float on
 * ops_vec.h's vectorized rows (exp by vmath.h), held to attn_ref.h's by
 * the same test. */
static void SFX(softmax_rows)(REAL *P, int T, int causal) {
#if BP_REAL_F32
    bp_attn_softmax_rows_vec(P, T, causal);
#else
    for (int i = 0; i < T; i++) SFX(attn_softmax)(P + (size_t)i * T, causal ? i + 1 : T, T);
#endif
}
static void SFX(softmax_rows_backward)(REAL *dP, const REAL *P, int T, int causal,
                                       REAL scale) {
#if BP_REAL_F32
    bp_attn_softmax_backward_rows_vec(dP, P, T, causal, scale);
#else
    for (int i = 0; i < T; i++)
        SFX(attn_softmax_backward)
        (dP + (size_t)i * T, P + (size_t)i * T, causal ? i + 1 : T, T, scale);
#endif
}

void SFX(bp_attention_forward)(REAL *y, REAL *qkv, REAL *p, REAL *att, const REAL *x,
                               const REAL *wqkv, const REAL *bqkv, const REAL *wo,
                               const REAL *bo, int B, int T, int C, int heads,
                               int causal) {
    const int D = C / heads, C3 = 3 * C, BT = B * T;
    const REAL scale = SFX(attn_scale)(C, heads);
    SFX(input_forward)(qkv, x, wqkv, bqkv, NULL, BT, C3, C);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++) {
            const REAL *q = qkv + (size_t)b * T * C3 + (size_t)h * D, *k = q + C,
                       *v = q + 2 * C;
            REAL *P = p + ((size_t)b * heads + h) * T * T;
#if BP_REAL_F32
            if (bp_attn_head_vec_ok(T, D)) {
                bp_attn_head_forward_vec(att + (size_t)b * T * C + (size_t)h * D, C, P, q, k,
                                         v, C3, T, D, scale, causal);
                continue;
            }
#endif
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, q, C3, k, C3, 0,
                 P, T);
            SFX(softmax_rows)(P, T, causal);
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1, P, T, v, C3, 0,
                 att + (size_t)b * T * C + (size_t)h * D, C);
        }
    SFX(input_forward)(y, att, wo, bo, NULL, BT, C, C);
}

/* dx stored (GEMM's beta 0: no zeroing before, no read of dx) where the
 * graph's backward writes it first (graph.c mark_writers), added
 * otherwise; datt is a workspace, stored the same way. */
void SFX(bp_attention_backward_store)(REAL *dx, REAL *dwqkv, REAL *dbqkv, REAL *dwo,
                                      REAL *dbo, REAL *datt, REAL *dqkv, REAL *dp,
                                      const REAL *dy, const REAL *x, const REAL *qkv,
                                      const REAL *p, const REAL *att, const REAL *wqkv,
                                      const REAL *wo, int B, int T, int C, int heads,
                                      int causal, int dx_store) {
    const int D = C / heads, C3 = 3 * C, BT = B * T;
    const REAL scale = SFX(attn_scale)(C, heads);
    SFX(input_backward)(datt, dwo, dbo, NULL, dy, att, wo, BT, C, C, 0);
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < heads; h++) {
            const size_t at = (size_t)b * T * C3 + (size_t)h * D;
            const REAL *q = qkv + at, *k = q + C, *v = q + 2 * C;
            const REAL *P = p + ((size_t)b * heads + h) * T * T;
            const REAL *dO = datt + (size_t)b * T * C + (size_t)h * D;
            REAL *dq = dqkv + at, *dk = dq + C, *dv = dq + 2 * C;
#if BP_REAL_F32
            if (bp_attn_head_vec_ok(T, D)) {
                bp_attn_head_backward_vec(dq, dk, dv, dp, P, dO, C, q, k, v, C3, T, D, scale,
                                          causal);
                continue;
            }
#endif
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1, dO, C, v, C3, 0, dp,
                 T);
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1, P, T, dO, C, 0, dv,
                 C3);
            SFX(softmax_rows_backward)(dp, P, T, causal, scale);
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1, dp, T, k, C3, 0,
                 dq, C3);
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1, dp, T, q, C3, 0, dk,
                 C3);
        }
        /* dbqkv's sums over the sample's rows while they are in L2 (98 KB in
         * W9, where the whole batch's dqkv came back from L3): each column's
         * terms still in ascending rows, so input_backward's bits */
        SFX(column_sums)(dbqkv, dqkv + (size_t)b * T * C3, T, C3, 0, C3);
    }
    SFX(input_backward)(dx, dwqkv, NULL, NULL, dqkv, x, wqkv, BT, C3, C, dx_store ? 0 : 1);
}

void SFX(bp_attention_backward)(REAL *dx, REAL *dwqkv, REAL *dbqkv, REAL *dwo, REAL *dbo,
                                REAL *datt, REAL *dqkv, REAL *dp, const REAL *dy,
                                const REAL *x, const REAL *qkv, const REAL *p,
                                const REAL *att, const REAL *wqkv, const REAL *wo, int B,
                                int T, int C, int heads, int causal) {
    SFX(bp_attention_backward_store)
    (dx, dwqkv, dbqkv, dwo, dbo, datt, dqkv, dp, dy, x, qkv, p, att, wqkv, wo, B, T, C, heads,
     causal, 0);
}
