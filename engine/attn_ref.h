/* attn_ref.h: multi-head self-attention (bp_seq.h) a sum at a time, the
 * reference, and the softmax of a row of scores and its backward, which
 * the fast path (attn_fast.h) shares.
 *
 * The two builds differ only in how they make the sums (here a loop per
 * sum, a query at a time, as the equations read; there matrix products);
 * the row's softmax, its mask and its backward are written once, below. A
 * template, compiled twice by seq.c (real.h), after seq_ref.h, whose
 * affine maps of one row it reuses for the two projections.
 *
 * B = batch, T = steps, C = a step's values, D = C / heads a head's
 * (bp_seq.h). A row of qkv is q (C), k (C), v (C); head h reads columns
 * h D .. h D + D - 1 of each, as nanoGPT's split and view. */

/* Row i of the weights: p holds its n scores (n = i + 1 keys when causal,
 * else all T) on entry and softmax over them on return, stabilised by the
 * largest; the masked keys' weights, from n on, are zeros. */
static void SFX(attn_softmax)(REAL *p, int n, int T) {
    REAL m = p[0], sum = 0;
    for (int j = 1; j < n; j++) m = p[j] > m ? p[j] : m;
    for (int j = 0; j < n; j++) {
        p[j] = EXP(p[j] - m);
        sum += p[j];
    }
    for (int j = 0; j < n; j++) p[j] /= sum;
    for (int j = n; j < T; j++) p[j] = 0;
}

/* Its backward, scaled: from dp = dLoss/dp of the row (n of them), the
 * scores' gradient times scale (the scores were the dot products times
 * scale), in place: ds_j = scale p_j (dp_j - sum_k p_k dp_k); zeros past
 * n (a masked key's score is no function of the inputs). */
static void SFX(attn_softmax_backward)(REAL *dp, const REAL *p, int n, int T,
                                       REAL scale) {
    REAL dot = 0;
    for (int j = 0; j < n; j++) dot += p[j] * dp[j];
    for (int j = 0; j < n; j++) dp[j] = scale * p[j] * (dp[j] - dot);
    for (int j = n; j < T; j++) dp[j] = 0;
}

/* 1 / sqrt(D), the scores' scale. */
static REAL SFX(attn_scale)(int C, int heads) {
    return (REAL)(1 / sqrt((double)(C / heads)));
}

void SFX(bp_attention_forward_ref)(REAL *y, REAL *qkv, REAL *p, REAL *att, const REAL *x,
                                   const REAL *wqkv, const REAL *bqkv, const REAL *wo,
                                   const REAL *bo, int B, int T, int C, int heads,
                                   int causal) {
    const int D = C / heads, C3 = 3 * C;
    const REAL scale = SFX(attn_scale)(C, heads);
    for (size_t bt = 0; bt < (size_t)B * T; bt++)
        SFX(affine)(qkv + bt * C3, wqkv, bqkv, NULL, x + bt * C, C3, C);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < T; i++) {
                const int n = causal ? i + 1 : T;
                const REAL *q = qkv + ((size_t)b * T + i) * C3 + (size_t)h * D;
                REAL *pi = p + (((size_t)b * heads + h) * T + i) * T;
                for (int j = 0; j < n; j++) {
                    const REAL *k = qkv + ((size_t)b * T + j) * C3 + C + (size_t)h * D;
                    REAL s = 0;
                    for (int d = 0; d < D; d++) s += q[d] * k[d];
                    pi[j] = scale * s;
                }
                SFX(attn_softmax)(pi, n, T);
                REAL *o = att + ((size_t)b * T + i) * C + (size_t)h * D;
                for (int d = 0; d < D; d++) {
                    REAL s = 0;
                    for (int j = 0; j < n; j++)
                        s += pi[j] *
                             qkv[((size_t)b * T + j) * C3 + 2 * C + (size_t)h * D + d];
                    o[d] = s;
                }
            }
    for (size_t bt = 0; bt < (size_t)B * T; bt++)
        SFX(affine)(y + bt * C, wo, bo, NULL, att + bt * C, C, C);
}

/* One query's backward (row i of head h of sample b): dv_j += p_ij do_i,
 * the row's dp through the softmax (dp holds T values), then dq_i +=
 * sum_j ds_ij k_j and dk_j += ds_ij q_i. */
static void SFX(attn_query_backward)(REAL *dqkv, REAL *dp, const REAL *datt,
                                     const REAL *qkv, const REAL *pi, int b, int h, int i,
                                     int n, int T, int C, int D, REAL scale) {
    const size_t C3 = 3 * (size_t)C, hd = (size_t)h * D;
    const REAL *dO = datt + ((size_t)b * T + i) * C + hd;
    for (int j = 0; j < n; j++) {
        const REAL *v = qkv + ((size_t)b * T + j) * C3 + 2 * C + hd;
        REAL *dv = dqkv + ((size_t)b * T + j) * C3 + 2 * C + hd;
        REAL s = 0;
        for (int d = 0; d < D; d++) s += dO[d] * v[d], dv[d] += pi[j] * dO[d];
        dp[j] = s;
    }
    SFX(attn_softmax_backward)(dp, pi, n, T, scale);
    const REAL *q = qkv + ((size_t)b * T + i) * C3 + hd;
    REAL *dq = dqkv + ((size_t)b * T + i) * C3 + hd;
    for (int j = 0; j < n; j++) {
        const REAL *k = qkv + ((size_t)b * T + j) * C3 + C + hd;
        REAL *dk = dqkv + ((size_t)b * T + j) * C3 + C + hd;
        for (int d = 0; d < D; d++) dq[d] += dp[j] * k[d], dk[d] += dp[j] * q[d];
    }
}

void SFX(bp_attention_backward_ref)(REAL *dx, REAL *dwqkv, REAL *dbqkv, REAL *dwo,
                                    REAL *dbo, REAL *datt, REAL *dqkv, REAL *dp,
                                    const REAL *dy, const REAL *x, const REAL *qkv,
                                    const REAL *p, const REAL *att, const REAL *wqkv,
                                    const REAL *wo, int B, int T, int C, int heads,
                                    int causal) {
    const int D = C / heads, C3 = 3 * C;
    const REAL scale = SFX(attn_scale)(C, heads);
    const size_t BT = (size_t)B * T;
    memset(datt, 0, sizeof(REAL) * BT * C);
    memset(dqkv, 0, sizeof(REAL) * BT * C3);
    for (size_t bt = 0; bt < BT; bt++)
        SFX(affine_backward)
        (datt + bt * C, dwo, dbo, NULL, dy + bt * C, att + bt * C, wo, C, C);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < T; i++)
                SFX(attn_query_backward)
                (dqkv, dp, datt, qkv, p + (((size_t)b * heads + h) * T + i) * T, b, h, i,
                 causal ? i + 1 : T, T, C, D, scale);
    for (size_t bt = 0; bt < BT; bt++)
        SFX(affine_backward)
        (dx ? dx + bt * C : NULL, dwqkv, dbqkv, NULL, dqkv + bt * C3, x + bt * C, wqkv,
         C3, C);
}
