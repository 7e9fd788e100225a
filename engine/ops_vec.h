/* ops_vec.h: the engine's own view of ops_vec.c, the float kernels of a
 * GPT block's elementwise and row ops (GELU, layer norm, attention's
 * softmax rows, the loss) written for the vectorizer, which the float
 * graph, attn_fast.h's float build and net.c's step run in place of the
 * reference kernels (ops_ref.h, ops_fast.h, attn_ref.h). Not part of the
 * engine's API.
 *
 * Each names the reference it must equal and tests/test_ops.c's test that
 * holds it there, with the bound. n = values; R rows of F (layer norm); a
 * T x T block of attention weights, row i of n = i + 1 (causal) or T
 * scores. */
#ifndef BP_OPS_VEC_H
#define BP_OPS_VEC_H

#include <stddef.h>

/* bp_act_forward_f32 with BP_ACT_GELU: o = v Phi(v). */
void bp_gelu_forward_vec(float *o, const float *h, size_t n);
/* bp_act_backward_f32 with BP_ACT_GELU: dh += d (Phi(h) + h phi(h)), o the
 * forward's output; add 0: dh = it (a graph's first writer of dh, which
 * then needs no zeroing: graph.c's mark_writers). */
void bp_gelu_backward_vec(float *dh, const float *dout, const float *h, const float *o,
                          size_t n, int add);
/* bp_layernorm_forward_f32 and bp_layernorm_backward_f32, the same formulas
 * with each row's sums taken in 8 partial sums; add 0: dx overwritten, as
 * above. */
void bp_layernorm_forward_vec(float *y, float *xhat, float *rstd, const float *x,
                              const float *w, const float *b, int R, int F, double eps);
void bp_layernorm_backward_vec(float *dx, float *dw, float *db, const float *dy,
                               const float *xhat, const float *rstd, const float *w, int R,
                               int F, int add);
/* attn_ref.h's attn_softmax_f32 on each row of a T x T block (the masked
 * scores need not have been computed: they become zeros). */
void bp_attn_softmax_rows_vec(float *p, int T, int causal);
/* attn_ref.h's attn_softmax_backward_f32 on each row of the block. */
void bp_attn_softmax_backward_rows_vec(float *dp, const float *p, int T, int causal,
                                       float scale);

/* bp_loss_grad_crit_f32 with softmax_ce on labels (crit.labels): the mean
 * loss of R rows of O logits, their gradient stored into ds (not added). */
double bp_softmax_ce_labels_vec(float *ds, const float *z, const float *y, int R, int O);

#endif
