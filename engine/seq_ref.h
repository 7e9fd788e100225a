/* seq_ref.h: the reference kernels of sequences (bp_seq.h).
 *
 * The LSTM cell (the gates from their sums, the new state, and back) is
 * written once, in seq_cell_ref.h, included here, and called by the
 * reference and by the fast path alike (the float fast path through
 * seq_cell.c, with vectorized activations): the
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
/* The LSTM cell (seq_cell_ref.h, shared with the float fast path)          */

#include "seq_cell_ref.h"

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

/* ------------------------------------------------------------------------ */
/* The RNN and GRU cells                                                     */

/* An RNN's step: h holds the H sums on entry, tanh or relu of them on
 * return. */
static void SFX(rnn_cell)(REAL *h, int relu, int H) {
    for (int j = 0; j < H; j++) h[j] = relu ? (h[j] > 0 ? h[j] : 0) : TANH(h[j]);
}

/* Its backward: dz = (dh_above + dh_next) f'(sum), f' from the output
 * (1 - h^2 for tanh, h > 0 for relu). */
static void SFX(rnn_cell_backward)(REAL *dz, const REAL *dh_above, const REAL *dh_next,
                                   const REAL *h, int relu, int H) {
    for (int j = 0; j < H; j++) {
        REAL d = dh_above[j] + dh_next[j];
        dz[j] = relu ? (h[j] > 0 ? d : 0) : d * (1 - h[j] * h[j]);
    }
}

/* A GRU's step (PyTorch's placement of the reset gate, inside the
 * product): a holds the input's sums gi = W_ih x + b_ih (3H: r, z, n) on
 * entry and the gates r, z, n on return; gh the hidden sums W_hh h_{t-1}
 * + b_hh (3H), kept for backward:
 *   r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z),
 *   n = tanh(gi_n + r gh_n),  h = (1 - z) n + z h_{t-1}.
 * hprev NULL: zeros. */
static void SFX(gru_cell)(REAL *h, REAL *a, const REAL *gh, const REAL *hprev, int H) {
    for (int j = 0; j < H; j++) {
        REAL r = SIGMOID(a[j] + gh[j]), z = SIGMOID(a[H + j] + gh[H + j]);
        REAL n = TANH(a[2 * H + j] + r * gh[2 * H + j]);
        a[j] = r, a[H + j] = z, a[2 * H + j] = n;
        h[j] = (1 - z) * n + z * (hprev ? hprev[j] : 0);
    }
}

/* Its backward: from dh = dh_above + dh_next, the sums' gradients dgi
 * (the input's) and dgh (the hidden ones), and dh_next replaced by the
 * part of dLoss/dh_{t-1} that bypasses the product (dh z; the caller adds
 * dgh W_hh):
 *   dn = dh (1 - z) (1 - n^2), dz = dh (h_{t-1} - n) z (1 - z),
 *   dr = dn gh_n r (1 - r); dgi = (dr, dz, dn), dgh = (dr, dz, dn r). */
static void SFX(gru_cell_backward)(REAL *dgi, REAL *dgh, REAL *dh_next, const REAL *dh_above,
                                   const REAL *a, const REAL *gh, const REAL *hprev, int H) {
    for (int j = 0; j < H; j++) {
        REAL r = a[j], z = a[H + j], n = a[2 * H + j], hp = hprev ? hprev[j] : 0;
        REAL dh = dh_above[j] + dh_next[j];
        REAL dn = dh * (1 - z) * (1 - n * n), dz = dh * (hp - n) * z * (1 - z);
        REAL dr = dn * gh[2 * H + j] * r * (1 - r);
        dgi[j] = dgh[j] = dr;
        dgi[H + j] = dgh[H + j] = dz;
        dgi[2 * H + j] = dn;
        dgh[2 * H + j] = dn * r;
        dh_next[j] = dh * z;
    }
}

/* ------------------------------------------------------------------------ */
/* The RNN and GRU, a sum at a time                                          */

/* out[r] = b[r] (+ b2[r]) + W[r] . v (R rows of K), for a step's sums. */
static void SFX(affine)(REAL *out, const REAL *w, const REAL *b, const REAL *b2,
                        const REAL *v, int R, int K) {
    for (int r = 0; r < R; r++) {
        REAL s = b[r] + (b2 ? b2[r] : 0);
        for (int k = 0; v && k < K; k++) s += w[(size_t)r * K + k] * v[k];
        out[r] = s;
    }
}

/* dw += dz (x) v, db += dz (and db2), dv += dz W (NULL: not wanted): an
 * affine map's gradients for one step of R sums over K inputs. */
static void SFX(affine_backward)(REAL *dv, REAL *dw, REAL *db, REAL *db2, const REAL *dz,
                                 const REAL *v, const REAL *w, int R, int K) {
    for (int r = 0; r < R; r++) {
        db[r] += dz[r];
        if (db2) db2[r] += dz[r];
        for (int k = 0; v && k < K; k++) dw[(size_t)r * K + k] += dz[r] * v[k];
        for (int k = 0; dv && k < K; k++) dv[k] += dz[r] * w[(size_t)r * K + k];
    }
}

void SFX(bp_rnn_forward_ref)(REAL *h, const REAL *x, const REAL *h0, const REAL *wih,
                             const REAL *whh, const REAL *bih, const REAL *bhh, int relu,
                             int B, int T, int I, int H) {
    REAL *s = h; /* each step's sums go where its h goes */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t bt = (size_t)b * T + t;
            const REAL *hp = PREV(h, h0, b, t);
            SFX(affine)(s + bt * H, wih, bih, bhh, x + bt * I, H, I);
            for (int r = 0; hp && r < H; r++)
                for (int k = 0; k < H; k++) s[bt * H + r] += whh[(size_t)r * H + k] * hp[k];
            SFX(rnn_cell)(h + bt * H, relu, H);
        }
}

/* carry: dh_next (B H), from zeros at the last step. */
void SFX(bp_rnn_backward_ref)(REAL *dx, REAL *dh0, REAL *dwih, REAL *dwhh, REAL *dbih,
                              REAL *dbhh, REAL *dz, REAL *carry, const REAL *dh,
                              const REAL *x, const REAL *h0, const REAL *h, const REAL *wih,
                              const REAL *whh, int relu, int B, int T, int I, int H) {
    memset(carry, 0, sizeof(REAL) * (size_t)B * H);
    for (int t = T - 1; t >= 0; t--)
        for (int b = 0; b < B; b++) {
            size_t bt = (size_t)b * T + t;
            REAL *dzt = dz + bt * H, *dhb = carry + (size_t)b * H;
            SFX(rnn_cell_backward)(dzt, dh + bt * H, dhb, h + bt * H, relu, H);
            const REAL *hp = PREV(h, h0, b, t);
            memset(dhb, 0, sizeof(REAL) * (size_t)H);
            for (int r = 0; r < H; r++)
                for (int k = 0; k < H; k++) {
                    dhb[k] += dzt[r] * whh[(size_t)r * H + k];
                    if (hp) dwhh[(size_t)r * H + k] += dzt[r] * hp[k];
                }
            SFX(affine_backward)(dx ? dx + bt * I : NULL, dwih, dbih, dbhh, dzt, x + bt * I,
                                 wih, H, I);
        }
    if (dh0) memcpy(dh0, carry, sizeof(REAL) * (size_t)B * H);
}

void SFX(bp_gru_forward_ref)(REAL *h, REAL *a, REAL *gh, const REAL *x, const REAL *h0,
                             const REAL *wih, const REAL *whh, const REAL *bih,
                             const REAL *bhh, int B, int T, int I, int H) {
    const int G = 3 * H;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t bt = (size_t)b * T + t;
            const REAL *hp = PREV(h, h0, b, t);
            SFX(affine)(a + bt * G, wih, bih, NULL, x + bt * I, G, I);
            SFX(affine)(gh + bt * G, whh, bhh, NULL, hp, G, H);
            SFX(gru_cell)(h + bt * H, a + bt * G, gh + bt * G, hp, H);
        }
}

/* dgi, dgh: B T G each; carry: dh_next (B H), from zeros at the last step. */
void SFX(bp_gru_backward_ref)(REAL *dx, REAL *dh0, REAL *dwih, REAL *dwhh, REAL *dbih,
                              REAL *dbhh, REAL *dgi, REAL *dgh, REAL *carry, const REAL *dh,
                              const REAL *x, const REAL *h0, const REAL *h, const REAL *a,
                              const REAL *gh, const REAL *wih, const REAL *whh, int B,
                              int T, int I, int H) {
    const int G = 3 * H;
    memset(carry, 0, sizeof(REAL) * (size_t)B * H);
    for (int t = T - 1; t >= 0; t--)
        for (int b = 0; b < B; b++) {
            size_t bt = (size_t)b * T + t;
            REAL *dhb = carry + (size_t)b * H;
            const REAL *hp = PREV(h, h0, b, t);
            SFX(gru_cell_backward)
            (dgi + bt * G, dgh + bt * G, dhb, dh + bt * H, a + bt * G, gh + bt * G, hp, H);
            SFX(affine_backward)(dhb, dwhh, dbhh, NULL, dgh + bt * G, hp, whh, G, H);
            SFX(affine_backward)(dx ? dx + bt * I : NULL, dwih, dbih, NULL, dgi + bt * G,
                                 x + bt * I, wih, G, I);
        }
    if (dh0) memcpy(dh0, carry, sizeof(REAL) * (size_t)B * H);
}
