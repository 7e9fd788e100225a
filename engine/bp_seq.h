/* bp_seq.h: the kernels of sequences, embedding, LSTM, RNN, GRU and
 * self-attention, each forward with its backward right below it.
 *
 * Dimensions, the letters of every loop:
 *   B = batch (sequences); T = steps of a sequence; V = vocabulary (ids
 *   1..V); D = an embedding's values; I = an LSTM layer's inputs a step,
 *   H = its hidden values (and outputs) a step; G = 4 H, its gates;
 *   C = attention's values a step, D = C / heads a head's.
 * Arrays are row-major and batch-first, as PyTorch's batch_first=True lays
 * them out: ids are B x T, an embedding's output B x T x D, an LSTM's
 * input x B x T x I, its outputs h and cell states c B x T x H, its gates
 * B x T x G in PyTorch's order i, f, g, o. Weights as torch.nn names them:
 * nn.Embedding's weight V x D; nn.LSTM's weight_ih (G x I), weight_hh
 * (G x H), bias_ih and bias_hh (G each). Argument order is outputs,
 * inputs, sizes. Every backward ADDS into the gradients it is given
 * (NULL: not wanted), as bp_ops.h's. No kernel allocates or fails: the
 * graph checks the sizes and the ids first (bp_graph_forward).
 *
 * Two builds of the LSTM: the reference (seq_ref.h: a step at a time, a
 * sample at a time, every sum a loop, as the equations read) and the fast
 * path the graph runs (seq_fast.h: the input projections of all steps as
 * one matrix product, the recurrent one a product per step), which must
 * equal the reference to rounding (tests/test_seq.c,
 * test_fast_matches_ref). Attention likewise: the reference a query and a
 * sum at a time (attn_ref.h), the fast path a product per head of a
 * sample (attn_fast.h), held together by tests/test_attention.c. Every
 * kernel exists for double (the name as written) and float (_f32). */
#ifndef BP_SEQ_H
#define BP_SEQ_H

#include <stddef.h>

/* Embedding (nn.Embedding(V, D)): y[s][t] = w[ids[s][t] - 1], the ids
 * being whole numbers 1..V held in the network's number type (checked
 * by the graph before the forward). n = B T lookups. */
void bp_embedding_forward(double *y, const double *ids, const double *w, size_t n, int D);
/* dw[ids[k] - 1] += dy[k]; ids have no gradient. */
void bp_embedding_backward(double *dw, const double *dy, const double *ids, size_t n, int D);

/* One LSTM layer through T steps (nn.LSTM's equations, per step t):
 *   z = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh   (G values)
 *   i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o)
 *   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
 * from h0, c0 (B x H each; NULL: zeros). Writes h and c (B x T x H) and the
 * activated gates a (B x T x G: i, f, g, o), which backward reads. */
void bp_lstm_forward_ref(double *h, double *c, double *a, const double *x,
                         const double *h0, const double *c0, const double *wih,
                         const double *whh, const double *bih, const double *bhh, int B,
                         int T, int I, int H);
/* From dh = dLoss/dh (B x T x H, the gradient reaching every step's output
 * from above), back through time: dwih, dwhh, dbih, dbhh += the weights'
 * gradients; dx += dLoss/dx (B x T x I; NULL: skipped); dh0, dc0 =
 * dLoss/dh0, dLoss/dc0 (overwritten; NULL: not wanted). Reads the
 * forward's h, c and a. dz (B x T x G) and carry (2 B H) are workspaces,
 * overwritten. */
void bp_lstm_backward_ref(double *dx, double *dh0, double *dc0, double *dwih, double *dwhh,
                          double *dbih, double *dbhh, double *dz, double *carry,
                          const double *dh, const double *x, const double *h0,
                          const double *c0, const double *h, const double *c,
                          const double *a, const double *wih, const double *whh, int B,
                          int T, int I, int H);
/* The same through matrix products (seq_fast.h). */
void bp_lstm_forward(double *h, double *c, double *a, const double *x, const double *h0,
                     const double *c0, const double *wih, const double *whh,
                     const double *bih, const double *bhh, int B, int T, int I, int H);
void bp_lstm_backward(double *dx, double *dh0, double *dc0, double *dwih, double *dwhh,
                      double *dbih, double *dbhh, double *dz, double *carry,
                      const double *dh, const double *x, const double *h0,
                      const double *c0, const double *h, const double *c, const double *a,
                      const double *wih, const double *whh, int B, int T, int I, int H);

/* bp_lstm_backward in two halves, which a team splits (graph_real.h):
 * _steps on B rows (a block of the batch: the pointers at its first row,
 * carry 2 B H of its own), back through time, writes dz, adds dx (NULL:
 * skipped) and overwrites dh0, dc0 (NULL: not wanted); then
 * bp_rec_backward_weights adds rows g0 .. g1 - 1 (of G) of dwih, dwhh and
 * of dbih, dbhh from the whole batch's dzi (the input sums' gradients,
 * B x T x G) and dzh (the hidden sums': an LSTM's and an RNN's are dzi,
 * a GRU's dgh), its inputs x and outputs h and h0 (NULL: zeros).
 * bp_lstm_backward is _steps then the weights' rows 0 .. G - 1. */
void bp_lstm_backward_steps(double *dx, double *dh0, double *dc0, double *dz,
                            double *carry, const double *dh, const double *c0,
                            const double *c, const double *a, const double *wih,
                            const double *whh, int B, int T, int I, int H);
void bp_rec_backward_weights(double *dwih, double *dwhh, double *dbih, double *dbhh,
                             const double *dzi, const double *dzh, const double *x,
                             const double *h, const double *h0, int B, int T, int I, int H,
                             int G, int g0, int g1);

/* One RNN layer (nn.RNN's equations, nonlinearity tanh, or relu when relu
 * is set): h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), from h0 (B x H;
 * NULL: zeros). Writes h (B x T x H), which backward reads (f' from it). */
void bp_rnn_forward_ref(double *h, const double *x, const double *h0, const double *wih,
                        const double *whh, const double *bih, const double *bhh, int relu,
                        int B, int T, int I, int H);
/* As the LSTM's: the weights' gradients added, dx added (NULL: skipped),
 * dh0 overwritten (NULL: not wanted); dz (B x T x H) and carry (B H)
 * workspaces. */
void bp_rnn_backward_ref(double *dx, double *dh0, double *dwih, double *dwhh, double *dbih,
                         double *dbhh, double *dz, double *carry, const double *dh,
                         const double *x, const double *h0, const double *h,
                         const double *wih, const double *whh, int relu, int B, int T,
                         int I, int H);
void bp_rnn_forward(double *h, const double *x, const double *h0, const double *wih,
                    const double *whh, const double *bih, const double *bhh, int relu, int B,
                    int T, int I, int H);
void bp_rnn_backward(double *dx, double *dh0, double *dwih, double *dwhh, double *dbih,
                     double *dbhh, double *dz, double *carry, const double *dh,
                     const double *x, const double *h0, const double *h, const double *wih,
                     const double *whh, int relu, int B, int T, int I, int H);
/* Its first half, as bp_lstm_backward_steps (carry B H). */
void bp_rnn_backward_steps(double *dx, double *dh0, double *dz, double *carry,
                           const double *dh, const double *h, const double *wih,
                           const double *whh, int relu, int B, int T, int I, int H);

/* One GRU layer (nn.GRU's equations, gates r, z, n; weight_ih 3H x I,
 * weight_hh 3H x H, biases 3H each), per step t:
 *   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
 *   n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h_t = (1 - z) n + z h
 * with h = h_{t-1}, from h0 (NULL: zeros). Writes h (B x T x H), the
 * gates a (B x T x 3H: r, z, n) and the hidden sums gh = W_hh h_{t-1} +
 * b_hh (B x T x 3H), which backward reads. */
void bp_gru_forward_ref(double *h, double *a, double *gh, const double *x, const double *h0,
                        const double *wih, const double *whh, const double *bih,
                        const double *bhh, int B, int T, int I, int H);
/* dgi and dgh (B x T x 3H each) and carry (B H) are workspaces. */
void bp_gru_backward_ref(double *dx, double *dh0, double *dwih, double *dwhh, double *dbih,
                         double *dbhh, double *dgi, double *dgh, double *carry,
                         const double *dh, const double *x, const double *h0,
                         const double *h, const double *a, const double *gh,
                         const double *wih, const double *whh, int B, int T, int I, int H);
void bp_gru_forward(double *h, double *a, double *gh, const double *x, const double *h0,
                    const double *wih, const double *whh, const double *bih,
                    const double *bhh, int B, int T, int I, int H);
void bp_gru_backward(double *dx, double *dh0, double *dwih, double *dwhh, double *dbih,
                     double *dbhh, double *dgi, double *dgh, double *carry, const double *dh,
                     const double *x, const double *h0, const double *h, const double *a,
                     const double *gh, const double *wih, const double *whh, int B, int T,
                     int I, int H);
/* Its first half, as bp_lstm_backward_steps (dgi, dgh on B rows, carry
 * B H); dgi and dgh then go to bp_rec_backward_weights as dzi and dzh. */
void bp_gru_backward_steps(double *dx, double *dh0, double *dgi, double *dgh,
                           double *carry, const double *dh, const double *h0,
                           const double *h, const double *a, const double *gh,
                           const double *wih, const double *whh, int B, int T, int I,
                           int H);

/* Multi-head self-attention (nanoGPT's CausalSelfAttention, without
 * dropout; nn.MultiheadAttention's math with q = k = v = x), on x (B x T
 * x C), heads dividing C into heads of D = C / heads values:
 *   qkv = x W_qkv^T + b_qkv          (B x T x 3C: q, k, v, C each)
 *   per sample and head h (columns h D .. h D + D - 1 of q, k, v):
 *     s_ij = q_i . k_j / sqrt(D),  p_ij = softmax over j of s_ij
 *     (causal: over j <= i only, p_ij = 0 for j > i),
 *     o_i = sum_j p_ij v_j           (into att, B x T x C, the heads side
 *                                     by side)
 *   y = att W_o^T + b_o              (B x T x C)
 * W_qkv is 3C x C and b_qkv 3C (nanoGPT's c_attn, nn.MultiheadAttention's
 * in_proj_weight and in_proj_bias: the rows of q, then k, then v), W_o C x
 * C and b_o C (c_proj, out_proj). Writes y and what backward reads: qkv,
 * the weights p (B x heads x T x T) and att. */
void bp_attention_forward_ref(double *y, double *qkv, double *p, double *att,
                              const double *x, const double *wqkv, const double *bqkv,
                              const double *wo, const double *bo, int B, int T, int C,
                              int heads, int causal);
/* From dy = dLoss/dy (B x T x C): dwqkv, dbqkv, dwo, dbo += the weights'
 * gradients, dx += dLoss/dx (NULL: skipped). Reads the forward's qkv, p
 * and att. datt (B x T x C), dqkv (B x T x 3C) and dp (T x T) are
 * workspaces, overwritten. */
void bp_attention_backward_ref(double *dx, double *dwqkv, double *dbqkv, double *dwo,
                               double *dbo, double *datt, double *dqkv, double *dp,
                               const double *dy, const double *x, const double *qkv,
                               const double *p, const double *att, const double *wqkv,
                               const double *wo, int B, int T, int C, int heads,
                               int causal);
/* The same through matrix products (attn_fast.h). */
void bp_attention_forward(double *y, double *qkv, double *p, double *att, const double *x,
                          const double *wqkv, const double *bqkv, const double *wo,
                          const double *bo, int B, int T, int C, int heads, int causal);
void bp_attention_backward(double *dx, double *dwqkv, double *dbqkv, double *dwo,
                           double *dbo, double *datt, double *dqkv, double *dp,
                           const double *dy, const double *x, const double *qkv,
                           const double *p, const double *att, const double *wqkv,
                           const double *wo, int B, int T, int C, int heads, int causal);
/* bp_attention_backward with dx stored (written, not added) if dx_store:
 * the graph's, where its backward writes dx first. */
void bp_attention_backward_store(double *dx, double *dwqkv, double *dbqkv, double *dwo,
                                 double *dbo, double *datt, double *dqkv, double *dp,
                                 const double *dy, const double *x, const double *qkv,
                                 const double *p, const double *att, const double *wqkv,
                                 const double *wo, int B, int T, int C, int heads, int causal,
                                 int dx_store);

/* The same kernels on floats (ids too are floats: whole numbers below
 * 2^24 are exact). */
void bp_embedding_forward_f32(float *y, const float *ids, const float *w, size_t n, int D);
void bp_embedding_backward_f32(float *dw, const float *dy, const float *ids, size_t n,
                               int D);
void bp_lstm_forward_ref_f32(float *h, float *c, float *a, const float *x, const float *h0,
                             const float *c0, const float *wih, const float *whh,
                             const float *bih, const float *bhh, int B, int T, int I,
                             int H);
void bp_lstm_backward_ref_f32(float *dx, float *dh0, float *dc0, float *dwih, float *dwhh,
                              float *dbih, float *dbhh, float *dz, float *carry,
                              const float *dh, const float *x, const float *h0,
                              const float *c0, const float *h, const float *c,
                              const float *a, const float *wih, const float *whh, int B,
                              int T, int I, int H);
void bp_lstm_forward_f32(float *h, float *c, float *a, const float *x, const float *h0,
                         const float *c0, const float *wih, const float *whh,
                         const float *bih, const float *bhh, int B, int T, int I, int H);
void bp_lstm_backward_f32(float *dx, float *dh0, float *dc0, float *dwih, float *dwhh,
                          float *dbih, float *dbhh, float *dz, float *carry, const float *dh,
                          const float *x, const float *h0, const float *c0, const float *h,
                          const float *c, const float *a, const float *wih,
                          const float *whh, int B, int T, int I, int H);

void bp_rnn_forward_ref_f32(float *h, const float *x, const float *h0, const float *wih,
                        const float *whh, const float *bih, const float *bhh, int relu,
                        int B, int T, int I, int H);
void bp_rnn_backward_ref_f32(float *dx, float *dh0, float *dwih, float *dwhh, float *dbih,
                         float *dbhh, float *dz, float *carry, const float *dh,
                         const float *x, const float *h0, const float *h,
                         const float *wih, const float *whh, int relu, int B, int T,
                         int I, int H);
void bp_rnn_forward_f32(float *h, const float *x, const float *h0, const float *wih,
                    const float *whh, const float *bih, const float *bhh, int relu, int B,
                    int T, int I, int H);
void bp_rnn_backward_f32(float *dx, float *dh0, float *dwih, float *dwhh, float *dbih,
                     float *dbhh, float *dz, float *carry, const float *dh,
                     const float *x, const float *h0, const float *h, const float *wih,
                     const float *whh, int relu, int B, int T, int I, int H);

void bp_gru_forward_ref_f32(float *h, float *a, float *gh, const float *x, const float *h0,
                        const float *wih, const float *whh, const float *bih,
                        const float *bhh, int B, int T, int I, int H);
void bp_gru_backward_ref_f32(float *dx, float *dh0, float *dwih, float *dwhh, float *dbih,
                         float *dbhh, float *dgi, float *dgh, float *carry,
                         const float *dh, const float *x, const float *h0,
                         const float *h, const float *a, const float *gh,
                         const float *wih, const float *whh, int B, int T, int I, int H);
void bp_gru_forward_f32(float *h, float *a, float *gh, const float *x, const float *h0,
                    const float *wih, const float *whh, const float *bih,
                    const float *bhh, int B, int T, int I, int H);
void bp_gru_backward_f32(float *dx, float *dh0, float *dwih, float *dwhh, float *dbih,
                     float *dbhh, float *dgi, float *dgh, float *carry, const float *dh,
                     const float *x, const float *h0, const float *h, const float *a,
                     const float *gh, const float *wih, const float *whh, int B, int T,
                     int I, int H);
void bp_lstm_backward_steps_f32(float *dx, float *dh0, float *dc0, float *dz, float *carry,
                                const float *dh, const float *c0, const float *c,
                                const float *a, const float *wih, const float *whh, int B,
                                int T, int I, int H);
void bp_rnn_backward_steps_f32(float *dx, float *dh0, float *dz, float *carry,
                               const float *dh, const float *h, const float *wih,
                               const float *whh, int relu, int B, int T, int I, int H);
void bp_gru_backward_steps_f32(float *dx, float *dh0, float *dgi, float *dgh, float *carry,
                               const float *dh, const float *h0, const float *h,
                               const float *a, const float *gh, const float *wih,
                               const float *whh, int B, int T, int I, int H);
void bp_rec_backward_weights_f32(float *dwih, float *dwhh, float *dbih, float *dbhh,
                                 const float *dzi, const float *dzh, const float *x,
                                 const float *h, const float *h0, int B, int T, int I,
                                 int H, int G, int g0, int g1);

void bp_attention_forward_ref_f32(float *y, float *qkv, float *p, float *att,
                                  const float *x, const float *wqkv, const float *bqkv,
                                  const float *wo, const float *bo, int B, int T, int C,
                                  int heads, int causal);
void bp_attention_backward_ref_f32(float *dx, float *dwqkv, float *dbqkv, float *dwo,
                                   float *dbo, float *datt, float *dqkv, float *dp,
                                   const float *dy, const float *x, const float *qkv,
                                   const float *p, const float *att, const float *wqkv,
                                   const float *wo, int B, int T, int C, int heads,
                                   int causal);
/* The products' path in float: a head whose T and D are multiples of 16
 * (attn_vec.c's) leaves p's values past the vector of 16 that holds each
 * row's last kept weight unwritten under a causal mask (the other paths
 * write their zeros): only this backward reads p, and it reads no further. */
void bp_attention_forward_f32(float *y, float *qkv, float *p, float *att, const float *x,
                              const float *wqkv, const float *bqkv, const float *wo,
                              const float *bo, int B, int T, int C, int heads,
                              int causal);
void bp_attention_backward_f32(float *dx, float *dwqkv, float *dbqkv, float *dwo,
                               float *dbo, float *datt, float *dqkv, float *dp,
                               const float *dy, const float *x, const float *qkv,
                               const float *p, const float *att, const float *wqkv,
                               const float *wo, int B, int T, int C, int heads,
                               int causal);
void bp_attention_backward_store_f32(float *dx, float *dwqkv, float *dbqkv, float *dwo,
                                     float *dbo, float *datt, float *dqkv, float *dp,
                                     const float *dy, const float *x, const float *qkv,
                                     const float *p, const float *att, const float *wqkv,
                                     const float *wo, int B, int T, int C, int heads,
                                     int causal, int dx_store);

#endif
