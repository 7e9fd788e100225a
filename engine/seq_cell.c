/* seq_cell.c: the LSTM cell of float networks, a step's B rows at a
 * time, with activations the compiler vectorizes; the cell the float fast
 * path (seq_fast.h) runs (seq_int.h declares it).
 *
 * Why: the reference cell (seq_ref.h's lstm_cell and lstm_cell_backward)
 * calls libm's expf and tanhf a value at a time, and glibc's tanhf goes
 * through expm1f: those calls were 40% of W8's iteration at 1 thread, more
 * than all its products (scripts/bench/NOTES.md, issue 26). Here exp is
 * vmath.h's vm_exp (Cephes's expf: a round to the nearest multiple of ln 2,
 * a degree-6 polynomial, 2^n built in the exponent's bits), sigmoid v = 1 / (1 +
 * exp(-v)) and tanh Cephes's tanhf (an odd polynomial below |v| = 0.625, 1
 * - 2 / (exp(2|v|) + 1) above), all straight-line code that GCC turns into
 * vector instructions. The cell is the reference's own (seq_cell_ref.h,
 * included below with these activations); only the activations differ,
 * each within a few units in the last place of libm's: tests/test_seq.c,
 * test_cell_f32_bound (the functions against libm's over a sweep, both
 * to 3e-7 relative) and test_fast_matches_ref (a whole layer, forward
 * and backward, to 2e-5).
 *
 * Determinism: every operation is one of IEEE's (no contraction into FMA:
 * -ffp-contract=off; no reciprocal estimates), so the AVX-512, AVX2 and
 * default builds GCC clones give the same bits, and the same inputs the
 * same outputs on any machine. A file of its own because it is compiled
 * with -fno-trapping-math (CMakeLists.txt): without it GCC keeps the
 * clamps and selects as branches (a comparison might raise a flag nobody
 * reads) and vectorizes nothing; the values are IEEE's either way.
 *
 * Float only: the double build keeps the reference cell (W8 and the
 * examples are float, and a double network is the one users compare with
 * libm's to the last digits). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bp_gemm.h"
#include "bp_ops.h"
#include "seq_int.h"
#include "vmath.h"

#define CELL_CLONES VM_CLONES
#define CELL_INLINE VM_INLINE

CELL_INLINE float cell_sigmoid(float v) { return 1.f / (1.f + vm_exp(-v)); }

CELL_INLINE float cell_tanh(float v) {
    float a = fabsf(v), z = v * v;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = v + v * z * p;
    float large = 1.f - 2.f / (vm_exp(2.f * a) + 1.f);
    large = v < 0 ? -large : large;
    return a < 0.625f ? small : large;
}

/* seq_cell_ref.h's cell, the one definition, in float on these
 * activations, inlined into the loops below. */
#define BP_REAL_F32 1
#include "real.h"
#define CELL_SIGMOID cell_sigmoid
#define CELL_TANH cell_tanh
#define CELL_FN CELL_INLINE
#include "seq_cell_ref.h"

/* The rows of a step one after another; the branch on cprev outside the
 * cell, so that each inlined copy has a constant NULL or a pointer. */
CELL_CLONES void bp_lstm_step_f32(float *h, float *c, float *a, const float *cprev,
                                  size_t cstride, int B, int T, int H) {
    size_t th = (size_t)T * H, tg = 4 * th;
    for (int b = 0; b < B; b++)
        if (cprev) lstm_cell_f32(h + b * th, c + b * th, a + b * tg, cprev + b * cstride, H);
        else lstm_cell_f32(h + b * th, c + b * th, a + b * tg, NULL, H);
}

CELL_CLONES void bp_lstm_step_backward_f32(float *dz, float *dc, const float *dh_above,
                                           const float *dh_next, const float *a,
                                           const float *c, const float *cprev,
                                           size_t cstride, int B, int T, int H) {
    size_t th = (size_t)T * H, tg = 4 * th, bh = (size_t)H;
    for (int b = 0; b < B; b++)
        if (cprev)
            lstm_cell_backward_f32(dz + b * tg, dc + b * bh, dh_above + b * th,
                                   dh_next + b * bh, a + b * tg, c + b * th,
                                   cprev + b * cstride, H);
        else
            lstm_cell_backward_f32(dz + b * tg, dc + b * bh, dh_above + b * th,
                                   dh_next + b * bh, a + b * tg, c + b * th, NULL, H);
}

void bp_cell_act_f32(float *sig, float *th, const float *v, size_t n) {
    for (size_t k = 0; k < n; k++) sig[k] = cell_sigmoid(v[k]), th[k] = cell_tanh(v[k]);
}
