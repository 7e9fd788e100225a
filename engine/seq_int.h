/* seq_int.h: the engine's own view of seq_cell.c, the LSTM cell of float
 * networks over a step's rows with vectorized activations, which
 * seq_fast.h's float build runs in place of seq_ref.h's cell (and which
 * tests/test_seq.c holds to it). Not part of the engine's API.
 *
 * Layout as bp_seq.h's (B x T x H states, B x T x G gates): the pointers
 * are step t's first row, row b at b T H (h, c, dh_above) or b T G (a,
 * dz); c_{t-1} at b cstride from cprev (NULL: zeros); the carry dc and
 * dh_next B x H. */
#ifndef BP_SEQ_INT_H
#define BP_SEQ_INT_H

#include <stddef.h>

/* seq_ref.h's lstm_cell on B rows: a holds the sums on entry, the gates
 * i, f, g, o on return; c = f c_{t-1} + i g, h = o tanh c. */
void bp_lstm_step_f32(float *h, float *c, float *a, const float *cprev, size_t cstride,
                      int B, int T, int H);
/* seq_ref.h's lstm_cell_backward on B rows: dz from dh_above + dh_next,
 * dc replaced by dLoss/dc_{t-1}. */
void bp_lstm_step_backward_f32(float *dz, float *dc, const float *dh_above,
                               const float *dh_next, const float *a, const float *c,
                               const float *cprev, size_t cstride, int B, int T, int H);
/* The cell's activations of n values: sig = sigmoid v, th = tanh v. */
void bp_cell_act_f32(float *sig, float *th, const float *v, size_t n);

#endif
