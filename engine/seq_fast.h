/* seq_fast.h: the LSTM through matrix products, the path the graph runs.
 *
 * The sums of every step's gates are two products: the input's, of all
 * B T steps at once (z = x W_ih^T + b_ih + b_hh, one product of B T rows),
 * and the recurrent one, a product of B rows a step (z_t += h_{t-1}
 * W_hh^T), which must wait for the step before. Backward likewise: the
 * cell's gradients dz a step at a time and each step's dh_{t-1} = dz_t
 * W_hh as a product, then dx += dz W_ih once over all steps (the
 * _steps kernels); then the weights' gradients, dW_hh += dz_t^T h_{t-1}
 * a product a step, dW_ih += dz^T x once (bp_rec_backward_weights). The
 * products go to GEMM (OpenBLAS for double, bp_sgemm for float); a step's
 * rows are T G (or T H) values apart, which GEMM's leading dimension says
 * without a copy. The cell is seq_ref.h's in double, and in float
 * seq_cell.c's (the same formulas with vectorized activations, B rows a
 * call). Each must equal seq_ref.h's kernel of the same name with _ref to
 * rounding: tests/test_seq.c, test_fast_matches_ref.
 *
 * Why the backward is two halves: a team (graph_real.h's rec_backward)
 * runs the first on each member's block of rows (rows of a batch never
 * meet through time) and the second on each member's rows of the weights'
 * gradients (g0 .. g1 of G), every row of the batch summed in one
 * member's products, so that no partial sums are added afterwards. On
 * one thread the two halves, whole, make the products and additions the
 * single loop made, in its order: the same bits.
 *
 * B, T, I, H, G as in bp_seq.h. */

/* The input's sums of a recurrent layer over all B T steps at once: z =
 * x W_ih^T + b (+ b2, NULL: none), G a step. */
static void SFX(input_forward)(REAL *z, const REAL *x, const REAL *wih, const REAL *b,
                               const REAL *b2, int BT, int G, int I) {
#if BP_REAL_F32
    /* one bias (attention's projections): a oneDNN matmul's, bp_sgemm_bias */
    if (!b2 && !bp_sgemm_bias(z, x, wih, b, BT, G, I)) return;
#endif
    for (int r = 0; r < G; r++) z[r] = b[r] + (b2 ? b2[r] : 0);
    for (int bt = 1; bt < BT; bt++) memcpy(z + (size_t)bt * G, z, sizeof(REAL) * (size_t)G);
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, BT, G, I, 1, x, I, wih, I, 1, z, G);
}

/* The recurrent product of step t (of T) for B rows: z_t += h_{t-1} W_hh^T
 * (G sums a step), h_{t-1} the step before's h or h0 (NULL: zeros,
 * nothing to add). */
static void SFX(hidden_forward)(REAL *z, const REAL *h, const REAL *h0, const REAL *whh,
                                int t, int B, int T, int G, int H) {
    const REAL *hp = t ? h + (size_t)(t - 1) * H : h0;
    if (hp)
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, G, H, 1, hp, t ? T * H : H, whh, H,
             1, z + (size_t)t * G, T * G);
}

/* Step t's LSTM cells of all B rows, from c_{t-1} (c0 at t = 0; NULL:
 * zeros): seq_ref.h's cell a row at a time in double, seq_cell.c's
 * in float. */
static void SFX(lstm_cells)(REAL *h, REAL *c, REAL *a, const REAL *c0, int t, int B, int T,
                            int H) {
#if BP_REAL_F32
    const size_t th = (size_t)t * H;
    bp_lstm_step_f32(h + th, c + th, a + 4 * th, t ? c + th - H : c0, (size_t)(t ? T * H : H),
                   B, T, H);
#else
    for (int b = 0; b < B; b++) {
        size_t bt = (size_t)b * T + t;
        SFX(lstm_cell)(h + bt * H, c + bt * H, a + bt * 4 * H, PREV(c, c0, b, t), H);
    }
#endif
}

/* Their backward at step t: dz from dh (the layer's B x T x H), the carry
 * dhn, dcn (B x H each; dcn replaced by dLoss/dc_{t-1}). */
static void SFX(lstm_cells_backward)(REAL *dz, REAL *dcn, const REAL *dh, const REAL *dhn,
                                     const REAL *a, const REAL *c, const REAL *c0, int t,
                                     int B, int T, int H) {
#if BP_REAL_F32
    const size_t th = (size_t)t * H;
    bp_lstm_step_backward_f32(dz + 4 * th, dcn, dh + th, dhn, a + 4 * th, c + th,
                            t ? c + th - H : c0, (size_t)(t ? T * H : H), B, T, H);
#else
    for (int b = 0; b < B; b++) {
        size_t bt = (size_t)b * T + t;
        SFX(lstm_cell_backward)
        (dz + bt * 4 * H, dcn + (size_t)b * H, dh + bt * H, dhn + (size_t)b * H,
         a + bt * 4 * H, c + bt * H, PREV(c, c0, b, t), H);
    }
#endif
}

void SFX(bp_lstm_forward)(REAL *h, REAL *c, REAL *a, const REAL *x, const REAL *h0,
                          const REAL *c0, const REAL *wih, const REAL *whh,
                          const REAL *bih, const REAL *bhh, int B, int T, int I, int H) {
    const int G = 4 * H;
    SFX(input_forward)(a, x, wih, bih, bhh, B * T, G, I);
    for (int t = 0; t < T; t++) {
        SFX(hidden_forward)(a, h, h0, whh, t, B, T, G, H);
        SFX(lstm_cells)(h, c, a, c0, t, B, T, H);
    }
}

/* s[r] += the column sums of z (BT rows of G) for r in g0 .. g1 - 1, a row
 * at a time (a loop over contiguous values, which the compiler
 * vectorizes: a bias's gradient, in the reference's order). */
static void SFX(column_sums)(REAL *restrict s, const REAL *restrict z, int BT, int G, int g0,
                             int g1) {
    for (int bt = 0; bt < BT; bt++)
        for (int r = g0; r < g1; r++) s[r] += z[(size_t)bt * G + r];
}

/* The weights' gradients of a recurrent layer, rows g0 .. g1 - 1 of each
 * (bp_seq.h): dW_hh += dz_t^T h_{t-1} a step at a time from the last
 * (the order the steps' loop used to add them in), dW_ih += dzi^T x over
 * all B T steps at once, db_ih += dzi's column sums, db_hh += dzh's. */
void SFX(bp_rec_backward_weights)(REAL *dwih, REAL *dwhh, REAL *dbih, REAL *dbhh,
                                  const REAL *dzi, const REAL *dzh, const REAL *x,
                                  const REAL *h, const REAL *h0, int B, int T, int I, int H,
                                  int G, int g0, int g1) {
    const int BT = B * T, M = g1 - g0;
    if (M <= 0) return;
    for (int t = T - 1; t >= 0; t--) {
        const REAL *hp = t ? h + (size_t)(t - 1) * H : h0;
        if (hp)
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, M, H, B, 1, dzh + (size_t)t * G + g0,
                 T * G, hp, t ? T * H : H, 1, dwhh + (size_t)g0 * H, H);
    }
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, M, I, BT, 1, dzi + g0, G, x, I, 1,
         dwih + (size_t)g0 * I, I);
    SFX(column_sums)(dbih, dzi, BT, G, g0, g1);
    SFX(column_sums)(dbhh, dzh, BT, G, g0, g1);
}

/* dx = beta dx + dz W_ih over all B T steps at once (dx NULL: not wanted;
 * beta 1 adds, 0 stores without reading dx). */
static void SFX(input_dx)(REAL *dx, const REAL *dz, const REAL *wih, int BT, int G, int I,
                          REAL beta) {
    if (dx)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, I, G, 1, dz, G, wih, I, beta, dx,
             I);
}

/* A linear map's gradients over all BT rows at once (attention's,
 * attn_fast.h): dW += dz^T x, db (and db2, NULL: none) += dz's column
 * sums, dx = beta dx + dz W (NULL: not wanted). */
static void SFX(input_backward)(REAL *dx, REAL *dw, REAL *db, REAL *db2, const REAL *dz,
                                const REAL *x, const REAL *w, int BT, int G, int I,
                                REAL beta) {
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G, I, BT, 1, dz, G, x, I, 1, dw, I);
    if (db) SFX(column_sums)(db, dz, BT, G, 0, G); /* NULL: the caller summed dz */
    if (db2) SFX(column_sums)(db2, dz, BT, G, 0, G);
    SFX(input_dx)(dx, dz, w, BT, G, I, beta);
}

void SFX(bp_lstm_backward_steps)(REAL *dx, REAL *dh0, REAL *dc0, REAL *dz, REAL *carry,
                                 const REAL *dh, const REAL *c0, const REAL *c,
                                 const REAL *a, const REAL *wih, const REAL *whh, int B,
                                 int T, int I, int H) {
    const int G = 4 * H;
    REAL *dhn = carry, *dcn = carry + (size_t)B * H;
    memset(carry, 0, sizeof(REAL) * 2 * (size_t)B * H);
    for (int t = T - 1; t >= 0; t--) {
        SFX(lstm_cells_backward)(dz, dcn, dh, dhn, a, c, c0, t, B, T, H);
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, G, 1, dz + (size_t)t * G,
             T * G, whh, H, 0, dhn, H);
    }
    SFX(input_dx)(dx, dz, wih, B * T, G, I, 1);
    if (dh0) memcpy(dh0, dhn, sizeof(REAL) * (size_t)B * H);
    if (dc0) memcpy(dc0, dcn, sizeof(REAL) * (size_t)B * H);
}

void SFX(bp_lstm_backward)(REAL *dx, REAL *dh0, REAL *dc0, REAL *dwih, REAL *dwhh,
                           REAL *dbih, REAL *dbhh, REAL *dz, REAL *carry, const REAL *dh,
                           const REAL *x, const REAL *h0, const REAL *c0, const REAL *h,
                           const REAL *c, const REAL *a, const REAL *wih, const REAL *whh,
                           int B, int T, int I, int H) {
    SFX(bp_lstm_backward_steps)(dx, dh0, dc0, dz, carry, dh, c0, c, a, wih, whh, B, T, I, H);
    SFX(bp_rec_backward_weights)
    (dwih, dwhh, dbih, dbhh, dz, dz, x, h, h0, B, T, I, H, 4 * H, 0, 4 * H);
}

/* The RNN: h's sums are the input's product of all steps (into h itself)
 * and a recurrent product a step, then the cell in place. Backward: the
 * cell's dz a step at a time, dh_{t-1} = dz_t W_hh and dW_hh += dz_t^T
 * h_{t-1} as products, then the input's gradients over all steps. */
void SFX(bp_rnn_forward)(REAL *h, const REAL *x, const REAL *h0, const REAL *wih,
                         const REAL *whh, const REAL *bih, const REAL *bhh, int relu, int B,
                         int T, int I, int H) {
    SFX(input_forward)(h, x, wih, bih, bhh, B * T, H, I);
    for (int t = 0; t < T; t++) {
        SFX(hidden_forward)(h, h, h0, whh, t, B, T, H, H);
        for (int b = 0; b < B; b++) SFX(rnn_cell)(h + ((size_t)b * T + t) * H, relu, H);
    }
}

void SFX(bp_rnn_backward_steps)(REAL *dx, REAL *dh0, REAL *dz, REAL *carry, const REAL *dh,
                                const REAL *h, const REAL *wih, const REAL *whh, int relu,
                                int B, int T, int I, int H) {
    memset(carry, 0, sizeof(REAL) * (size_t)B * H);
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            size_t bt = (size_t)b * T + t;
            SFX(rnn_cell_backward)
            (dz + bt * H, dh + bt * H, carry + (size_t)b * H, h + bt * H, relu, H);
        }
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, H, 1, dz + (size_t)t * H,
             T * H, whh, H, 0, carry, H);
    }
    SFX(input_dx)(dx, dz, wih, B * T, H, I, 1);
    if (dh0) memcpy(dh0, carry, sizeof(REAL) * (size_t)B * H);
}

void SFX(bp_rnn_backward)(REAL *dx, REAL *dh0, REAL *dwih, REAL *dwhh, REAL *dbih,
                          REAL *dbhh, REAL *dz, REAL *carry, const REAL *dh, const REAL *x,
                          const REAL *h0, const REAL *h, const REAL *wih, const REAL *whh,
                          int relu, int B, int T, int I, int H) {
    SFX(bp_rnn_backward_steps)(dx, dh0, dz, carry, dh, h, wih, whh, relu, B, T, I, H);
    SFX(bp_rec_backward_weights)(dwih, dwhh, dbih, dbhh, dz, dz, x, h, h0, B, T, I, H, H, 0, H);
}

/* The GRU: the input's sums of all steps as one product (a), the hidden
 * ones a product a step (gh, from b_hh: the reset gate multiplies W_hn h
 * + b_hn whole, so they stay apart from the input's). Backward: the
 * cell's dgi and dgh a step at a time, dh_{t-1} = dh z + dgh_t W_hh and
 * dW_hh += dgh_t^T h_{t-1} as products, then the input's over all steps. */
void SFX(bp_gru_forward)(REAL *h, REAL *a, REAL *gh, const REAL *x, const REAL *h0,
                         const REAL *wih, const REAL *whh, const REAL *bih, const REAL *bhh,
                         int B, int T, int I, int H) {
    const int G = 3 * H, BT = B * T;
    SFX(input_forward)(a, x, wih, bih, NULL, BT, G, I);
    for (int bt = 0; bt < BT; bt++)
        for (int r = 0; r < G; r++) gh[(size_t)bt * G + r] = bhh[r];
    for (int t = 0; t < T; t++) {
        SFX(hidden_forward)(gh, h, h0, whh, t, B, T, G, H);
        for (int b = 0; b < B; b++) {
            size_t bt = (size_t)b * T + t;
            SFX(gru_cell)(h + bt * H, a + bt * G, gh + bt * G, PREV(h, h0, b, t), H);
        }
    }
}

void SFX(bp_gru_backward_steps)(REAL *dx, REAL *dh0, REAL *dgi, REAL *dgh, REAL *carry,
                                const REAL *dh, const REAL *h0, const REAL *h, const REAL *a,
                                const REAL *gh, const REAL *wih, const REAL *whh, int B,
                                int T, int I, int H) {
    const int G = 3 * H;
    memset(carry, 0, sizeof(REAL) * (size_t)B * H);
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            size_t bt = (size_t)b * T + t;
            SFX(gru_cell_backward)
            (dgi + bt * G, dgh + bt * G, carry + (size_t)b * H, dh + bt * H, a + bt * G,
             gh + bt * G, PREV(h, h0, b, t), H);
        }
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, G, 1, dgh + (size_t)t * G,
             T * G, whh, H, 1, carry, H);
    }
    SFX(input_dx)(dx, dgi, wih, B * T, G, I, 1);
    if (dh0) memcpy(dh0, carry, sizeof(REAL) * (size_t)B * H);
}

void SFX(bp_gru_backward)(REAL *dx, REAL *dh0, REAL *dwih, REAL *dwhh, REAL *dbih,
                          REAL *dbhh, REAL *dgi, REAL *dgh, REAL *carry, const REAL *dh,
                          const REAL *x, const REAL *h0, const REAL *h, const REAL *a,
                          const REAL *gh, const REAL *wih, const REAL *whh, int B, int T,
                          int I, int H) {
    SFX(bp_gru_backward_steps)(dx, dh0, dgi, dgh, carry, dh, h0, h, a, gh, wih, whh, B, T, I, H);
    SFX(bp_rec_backward_weights)
    (dwih, dwhh, dbih, dbhh, dgi, dgh, x, h, h0, B, T, I, H, 3 * H, 0, 3 * H);
}
