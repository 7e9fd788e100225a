/* ops_vec.h: the engine's own view of ops_vec.c, the float kernels of a
 * GPT block's elementwise and row ops (GELU, layer norm, attention's
 * softmax rows, the loss) and of byte codes' decode, written for the
 * vectorizer, which the float graph, attn_fast.h's float build and net.c's
 * step run in place of the reference kernels (ops_ref.h, ops_fast.h,
 * attn_ref.h; the decode: a table's look-up). Not part of the engine's
 * API.
 *
 * Each names the reference it must equal and the test that holds it
 * there (tests/test_ops.c's; the decode: test_fit.c's), with the bound.
 * n = values; R rows of F (layer norm); a T x T block of attention
 * weights, row i of n = i + 1 (causal) or T scores. */
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
/* bp_gelu_forward_vec, and d = what bp_gelu_backward_vec multiplies dout
 * by (its Phi(h) + h phi(h), from the same o); then dh = dout d (dh may be
 * d): bp_gelu_backward_vec's bits, from two streams instead of three. */
void bp_gelu_forward_d_vec(float *o, float *d, const float *h, size_t n);
void bp_gelu_backward_d_vec(float *dh, const float *dout, const float *d, size_t n);
/* bp_gelu_backward_d_vec over R rows of O, each row's dh also added into
 * db (bias_backward's sum, the same order); dh may be d. */
void bp_gelu_backward_d_bias_vec(float *dh, float *db, const float *dout, const float *d,
                                 int R, int O);
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
/* The same two for T a multiple of 16 (attn_vec.c's heads), 16 rows at a
 * time, with the same bits; under a causal mask the values past the
 * vector of each row's last kept value are not written (the others'
 * zeros), so a reader must not read them. */
void bp_attn_softmax_rows16_vec(float *p, int T, int causal);
void bp_attn_softmax_backward_rows16_vec(float *dp, const float *p, int T, int causal,
                                         float scale);

/* One head of one sample of attention (attn_vec.c): attn_fast.h's two
 * products and softmax rows for it, out = softmax(scale q k^T) v with P its
 * T x T weights (causal: the weights past a row's step are 0); backward,
 * from dO, dq, dk and dv written (not added), dp the T x T scratch. q, k,
 * v and dq, dk, dv rows ld apart, out and dO rows ldo apart. Only where
 * bp_attn_head_vec_ok(T, D): T and D multiples of 16, T D at most
 * BP_ATTN_VEC_MAX. Held to attn_ref.h's by tests/test_attention.c. */
#define BP_ATTN_VEC_MAX 8192
int bp_attn_head_vec_ok(int T, int D);
void bp_attn_head_forward_vec(float *out, int ldo, float *P, const float *q, const float *k,
                              const float *v, int ld, int T, int D, float scale, int causal);
void bp_attn_head_backward_vec(float *dq, float *dk, float *dv, float *dp, const float *P,
                               const float *dO, int ldo, const float *q, const float *k,
                               const float *v, int ld, int T, int D, float scale,
                               int causal);

/* bp_loss_grad_crit_f32 with softmax_ce on labels (crit.labels): the mean
 * loss of R rows of O logits, their gradient stored into ds (not added). */
double bp_softmax_ce_labels_vec(float *ds, const float *z, const float *y, int R, int O);

/* n byte codes into floats, dst[k] = c * codes[k] + a (a multiply, then an
 * add, each rounded: -ffp-contract=off): the decode of a table that is that
 * expression's values, bit for bit (net.c checks every code first, so this
 * is the table look-up's bits: test_fit.c test_codes_affine). */
void bp_codes_affine_vec(float *dst, const unsigned char *codes, size_t n, float c, float a);
/* Whether each of the 256 values of table is bp_codes_affine_vec's of its
 * code, c and a taken from the first two, to the bit: then 1, and *c and
 * *a set; else 0 (a scale whose products round otherwise than the table's
 * quotients, a table of no line), and the table is looked up. */
int bp_codes_affine_of(float *c, float *a, const float *table);

#endif
