/* seq_ref.h: the reference kernels of sequences (bp_seq.h), and the LSTM
 * cell both builds share.
 *
 * The cell (the gates from their sums, the new state, and back) is written
 * once, here, and called by the reference and by the fast path alike: the
 * two differ only in how they make the sums and the weights' gradients,
 * the reference with a loop per sum, a sample and a step at a time, the
 * fast path (seq_fast.h) with matrix products. A template, compiled twice
 * by seq.c (real.h).
 *
 * B = batch, T = steps, V = vocabulary, D = an embedding's values, I = an
 * LSTM layer's inputs, H = its hidden values, G = 4 H gates (bp_seq.h). */

/* ------------------------------------------------------------------------ */
/* Embedding                                                                 */

void SFX(bp_embedding_forward)(REAL *y, const REAL *ids, const REAL *w, size_t n, int D) {
    for (size_t k = 0; k < n; k++)
        memcpy(y + k * D, w + ((size_t)ids[k] - 1) * D, sizeof(REAL) * (size_t)D);
}
void SFX(bp_embedding_backward)(REAL *dw, const REAL *dy, const REAL *ids, size_t n,
                                int D) {
    for (size_t k = 0; k < n; k++) {
        REAL *row = dw + ((size_t)ids[k] - 1) * D;
        for (int d = 0; d < D; d++) row[d] += dy[k * D + d];
    }
}

/* ------------------------------------------------------------------------ */
/* The LSTM cell                                                             */

/* One sample's step: a holds the G sums z on entry and the activated
 * gates i, f, g, o on return; c = f cprev + i g, h = o tanh(c). cprev
 * NULL: zeros. */
static void SFX(lstm_cell)(REAL *h, REAL *c, REAL *a, const REAL *cprev, int H) {
    for (int j = 0; j < H; j++) {
        REAL i = SIGMOID(a[j]), f = SIGMOID(a[H + j]), g = TANH(a[2 * H + j]),
             o = SIGMOID(a[3 * H + j]);
        a[j] = i, a[H + j] = f, a[2 * H + j] = g, a[3 * H + j] = o;
        c[j] = f * (cprev ? cprev[j] : 0) + i * g;
        h[j] = o * TANH(c[j]);
    }
}

/* Its backward: from dh = dh_above + dh_next (what reaches h_t from the
 * layer's output and from step t + 1) and dc (dLoss/dc_t from step t + 1,
 * replaced by dLoss/dc_{t-1}), the sums' gradients dz (G):
 *   dc_t = dc + dh o (1 - tanh^2 c_t),  do = dh tanh c_t,
 *   di = dc_t g, df = dc_t c_{t-1}, dg = dc_t i, dc_{t-1} = dc_t f,
 * each through its gate's derivative (s (1 - s), or 1 - g^2 for tanh). */
static void SFX(lstm_cell_backward)(REAL *dz, REAL *dc, const REAL *dh_above,
                                    const REAL *dh_next, const REAL *a, const REAL *c,
                                    const REAL *cprev, int H) {
    for (int j = 0; j < H; j++) {
        REAL i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
        REAL dh = dh_above[j] + dh_next[j], tc = TANH(c[j]);
        REAL dct = dc[j] + dh * o * (1 - tc * tc);
        dz[j] = dct * g * i * (1 - i);
        dz[H + j] = dct * (cprev ? cprev[j] : 0) * f * (1 - f);
        dz[2 * H + j] = dct * i * (1 - g * g);
        dz[3 * H + j] = dh * tc * o * (1 - o);
        dc[j] = dct * f;
    }
}

/* Sample b's h_{t-1} and c_{t-1} (the initial state's at t = 0, NULL when
 * that is zeros). */
#define PREV(v, v0, b, t) ((t) ? (v) + ((size_t)(b) * T + (t) - 1) * H : (v0) ? (v0) + (size_t)(b) * H : NULL)

/* ------------------------------------------------------------------------ */
/* The LSTM, a sum at a time                                                 */

void SFX(bp_lstm_forward_ref)(REAL *h, REAL *c, REAL *a, const REAL *x, const REAL *h0,
                              const REAL *c0, const REAL *wih, const REAL *whh,
                              const REAL *bih, const REAL *bhh, int B, int T, int I,
                              int H) {
    const int G = 4 * H;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t bt = (size_t)b * T + t;
            const REAL *xt = x + bt * I, *hp = PREV(h, h0, b, t);
            REAL *at = a + bt * G;
            for (int r = 0; r < G; r++) {
                REAL z = bih[r] + bhh[r];
                for (int k = 0; k < I; k++) z += wih[(size_t)r * I + k] * xt[k];
                for (int k = 0; hp && k < H; k++) z += whh[(size_t)r * H + k] * hp[k];
                at[r] = z;
            }
            SFX(lstm_cell)(h + bt * H, c + bt * H, at, PREV(c, c0, b, t), H);
        }
}

/* carry: dh_next then dc (B H each), from zeros at the last step. */
void SFX(bp_lstm_backward_ref)(REAL *dx, REAL *dh0, REAL *dc0, REAL *dwih, REAL *dwhh,
                               REAL *dbih, REAL *dbhh, REAL *dz, REAL *carry,
                               const REAL *dh, const REAL *x, const REAL *h0,
                               const REAL *c0, const REAL *h, const REAL *c, const REAL *a,
                               const REAL *wih, const REAL *whh, int B, int T, int I,
                               int H) {
    const int G = 4 * H;
    REAL *dhn = carry, *dcn = carry + (size_t)B * H;
    memset(carry, 0, sizeof(REAL) * 2 * (size_t)B * H);
    for (int t = T - 1; t >= 0; t--)
        for (int b = 0; b < B; b++) {
            size_t bt = (size_t)b * T + t;
            REAL *dzt = dz + bt * G, *dhb = dhn + (size_t)b * H;
            const REAL *hp = PREV(h, h0, b, t);
            SFX(lstm_cell_backward)
            (dzt, dcn + (size_t)b * H, dh + bt * H, dhb, a + bt * G, c + bt * H,
             PREV(c, c0, b, t), H);
            for (int k = 0; k < H; k++) {
                REAL s = 0;
                for (int r = 0; r < G; r++) s += dzt[r] * whh[(size_t)r * H + k];
                dhb[k] = s;
            }
            for (int r = 0; hp && r < G; r++)
                for (int k = 0; k < H; k++) dwhh[(size_t)r * H + k] += dzt[r] * hp[k];
        }
    for (size_t bt = 0; bt < (size_t)B * T; bt++) {
        const REAL *dzt = dz + bt * G, *xt = x + bt * I;
        for (int r = 0; r < G; r++) {
            dbih[r] += dzt[r];
            dbhh[r] += dzt[r];
            for (int k = 0; k < I; k++) dwih[(size_t)r * I + k] += dzt[r] * xt[k];
            for (int k = 0; dx && k < I; k++) dx[bt * I + k] += dzt[r] * wih[(size_t)r * I + k];
        }
    }
    if (dh0) memcpy(dh0, dhn, sizeof(REAL) * (size_t)B * H);
    if (dc0) memcpy(dc0, dcn, sizeof(REAL) * (size_t)B * H);
}
