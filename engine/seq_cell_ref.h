/* seq_cell_ref.h: the LSTM cell, one sample's step and its backward, the
 * definition every LSTM path runs.
 *
 * Written once and included twice: by seq_ref.h (compiled by seq.c for
 * double and float, where the reference and the double fast path call it
 * with libm's activations) and by seq_cell.c (float, where CELL_SIGMOID
 * and CELL_TANH are its vectorizable ones and CELL_FN forces the cell
 * inline into the loops over a step's rows, so that GCC vectorizes it).
 * The formulas and their order are the same in both, so the two differ
 * only by the activations' rounding (tests/test_seq.c,
 * test_cell_f32_bound and test_fast_matches_ref). The arrays of one call
 * never overlap (restrict), which lets the loop be vectorized.
 *
 * A template on real.h's REAL and SFX. */
#ifndef CELL_SIGMOID
#define CELL_SIGMOID SIGMOID
#define CELL_TANH TANH
#define CELL_FN static
#endif

/* One sample's step: a holds the G sums z on entry and the activated
 * gates i, f, g, o on return; c = f cprev + i g, h = o tanh(c). cprev
 * NULL: zeros. */
CELL_FN void SFX(lstm_cell)(REAL *restrict h, REAL *restrict c, REAL *restrict a,
                            const REAL *restrict cprev, int H) {
    for (int j = 0; j < H; j++) {
        REAL i = CELL_SIGMOID(a[j]), f = CELL_SIGMOID(a[H + j]), g = CELL_TANH(a[2 * H + j]),
             o = CELL_SIGMOID(a[3 * H + j]);
        a[j] = i, a[H + j] = f, a[2 * H + j] = g, a[3 * H + j] = o;
        c[j] = f * (cprev ? cprev[j] : 0) + i * g;
        h[j] = o * CELL_TANH(c[j]);
    }
}

/* Its backward: from dh = dh_above + dh_next (what reaches h_t from the
 * layer's output and from step t + 1) and dc (dLoss/dc_t from step t + 1,
 * replaced by dLoss/dc_{t-1}), the sums' gradients dz (G):
 *   dc_t = dc + dh o (1 - tanh^2 c_t),  do = dh tanh c_t,
 *   di = dc_t g, df = dc_t c_{t-1}, dg = dc_t i, dc_{t-1} = dc_t f,
 * each through its gate's derivative (s (1 - s), or 1 - g^2 for tanh). */
CELL_FN void SFX(lstm_cell_backward)(REAL *restrict dz, REAL *restrict dc,
                                     const REAL *restrict dh_above,
                                     const REAL *restrict dh_next, const REAL *restrict a,
                                     const REAL *restrict c, const REAL *restrict cprev,
                                     int H) {
    for (int j = 0; j < H; j++) {
        REAL i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
        REAL dh = dh_above[j] + dh_next[j], tc = CELL_TANH(c[j]);
        REAL dct = dc[j] + dh * o * (1 - tc * tc);
        dz[j] = dct * g * i * (1 - i);
        dz[H + j] = dct * (cprev ? cprev[j] : 0) * f * (1 - f);
        dz[2 * H + j] = dct * i * (1 - g * g);
        dz[3 * H + j] = dh * tc * o * (1 - o);
        dc[j] = dct * f;
    }
}
