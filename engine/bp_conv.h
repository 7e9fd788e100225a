/* bp_conv.h: the kernels of images, convolution and pooling, each forward
 * with its backward right below it.
 *
 * Dimensions, the letters of every loop:
 *   B = batch (samples); C = input channels, H x W an input image;
 *   O = output channels (a convolution's filters; a pool's O is C), P x Q
 *   an output image; KH x KW the kernel, SH, SW its strides, PH, PW the
 *   zeros added on each side (PyTorch's padding); K = C KH KW, a filter's
 *   weights.
 * Arrays are row-major as PyTorch lays them out: x is B x C x H x W, y is
 * B x O x P x Q, a convolution's weights w are O x C x KH x KW and its
 * bias b has O. Output sizes are PyTorch's (floor mode):
 *   P = (H + 2 PH - KH) / SH + 1,  Q = (W + 2 PW - KW) / SW + 1.
 * Argument order is outputs, inputs, sizes. Every backward ADDS into the
 * gradients it is given (NULL: not wanted), as bp_ops.h's. No kernel
 * allocates or fails: the graph checks the sizes (bp_graph_finish).
 *
 * Two builds of the convolution: the reference (direct loops over the
 * definition, conv_ref.h) and the fast path the graph runs (im2col and a
 * matrix product per sample, conv_fast.h), which must equal the reference
 * to rounding (tests/test_conv.c, test_fast_matches_ref). Max pooling's
 * forward has both builds too (the reference was a quarter of a W5 step,
 * NOTES.md), equal bit for bit (test_conv.c, test_pool_fast_matches_ref);
 * its backward and average pooling have one, the reference.
 * Every kernel exists for double (the name as written) and float (_f32).
 *
 * A float32 graph in a build with oneDNN runs its convolutions on a third
 * build, oneDNN's own primitives (conv_dnnl.c, bp_conv_dnnl below), held
 * to the reference to rounding by test_conv.c's test_dnnl_matches_ref. */
#ifndef BP_CONV_H
#define BP_CONV_H

#include <stddef.h>
#include <stdint.h>

/* The sizes of one convolution or pool, as above. */
typedef struct bp_conv_shape {
    int C, H, W;
    int O, P, Q;
    int KH, KW, SH, SW, PH, PW;
} bp_conv_shape;

/* P and Q from the rest (C, H, W, O, kernel, strides, padding): 0 when the
 * kernel does not fit the padded image. */
void bp_conv_shape_outputs(bp_conv_shape *s);

/* Values of the fast path's workspace: one sample's columns, K x P Q. */
size_t bp_conv_cols(const bp_conv_shape *s);

/* Convolution (nn.Conv2d, cross-correlation as PyTorch's):
 *   y[s][o][p][q] = b[o] + sum_{c,i,j} w[o][c][i][j] x[s][c][p SH - PH + i][q SW - PW + j]
 * with x zero outside the image. b may be NULL (no bias). */
void bp_conv2d_forward_ref(double *y, const double *x, const double *w, const double *b,
                           int B, const bp_conv_shape *s);
/* dw += dLoss/dw, db += dLoss/db (NULL: none), dx += dLoss/dx (NULL:
 * skipped) from dy = dLoss/dy. */
void bp_conv2d_backward_ref(double *dx, double *dw, double *db, const double *dy,
                            const double *x, const double *w, int B,
                            const bp_conv_shape *s);
/* The same through im2col and GEMM; col is a workspace of bp_conv_cols
 * values (overwritten); dw too may be NULL here (a frozen weight: its
 * columns and product skipped). */
void bp_conv2d_forward(double *y, double *col, const double *x, const double *w,
                       const double *b, int B, const bp_conv_shape *s);
void bp_conv2d_backward(double *dx, double *dw, double *db, double *col, const double *dy,
                        const double *x, const double *w, int B, const bp_conv_shape *s);

/* Max pooling (nn.MaxPool2d(kernel, stride, padding)): each output the
 * largest value of its window (padding never wins), and arg, the place of
 * that value in its input plane (h W + w), for backward; of equal values
 * the first in the window's row-major order wins, and a NaN wins, as
 * PyTorch. O must equal C. */
void bp_maxpool2d_forward_ref(double *y, int32_t *arg, const double *x, int B,
                              const bp_conv_shape *s);
/* The same, the path the graph runs: without padding, each window read
 * without bounds tests; with padding, the reference. */
void bp_maxpool2d_forward(double *y, int32_t *arg, const double *x, int B,
                          const bp_conv_shape *s);
/* dx at each window's winner += dy. */
void bp_maxpool2d_backward(double *dx, const double *dy, const int32_t *arg, int B,
                           const bp_conv_shape *s);

/* The graph's max pool fused with the ReLU before it: dx += the ReLU's
 * derivative (h > 0, h the ReLU's input) times dy at each window's winner,
 * for windows that do not overlap; equal bit for bit to
 * bp_maxpool2d_backward into a zeroed buffer then the ReLU's bp_act_backward
 * into a zeroed dx (test_conv.c, test_relu_pool_fused). */
void bp_maxpool2d_relu_backward(double *dx, const double *dy, const int32_t *arg,
                                const double *h, int B, const bp_conv_shape *s);

/* Average pooling (nn.AvgPool2d(kernel, stride, padding), count_include_pad
 * true): the window's sum over KH KW, padding counted as zeros. */
void bp_avgpool2d_forward(double *y, const double *x, int B, const bp_conv_shape *s);
/* dx += dy / (KH KW) over each window. */
void bp_avgpool2d_backward(double *dx, const double *dy, int B, const bp_conv_shape *s);

/* The same kernels on floats. */
void bp_conv2d_forward_ref_f32(float *y, const float *x, const float *w, const float *b,
                               int B, const bp_conv_shape *s);
void bp_conv2d_backward_ref_f32(float *dx, float *dw, float *db, const float *dy,
                                const float *x, const float *w, int B,
                                const bp_conv_shape *s);
void bp_conv2d_forward_f32(float *y, float *col, const float *x, const float *w,
                           const float *b, int B, const bp_conv_shape *s);
void bp_conv2d_backward_f32(float *dx, float *dw, float *db, float *col, const float *dy,
                            const float *x, const float *w, int B,
                            const bp_conv_shape *s);
void bp_maxpool2d_forward_ref_f32(float *y, int32_t *arg, const float *x, int B,
                                  const bp_conv_shape *s);
void bp_maxpool2d_forward_f32(float *y, int32_t *arg, const float *x, int B,
                              const bp_conv_shape *s);
void bp_maxpool2d_backward_f32(float *dx, const float *dy, const int32_t *arg, int B,
                               const bp_conv_shape *s);
void bp_maxpool2d_relu_backward_f32(float *dx, const float *dy, const int32_t *arg,
                                    const float *h, int B, const bp_conv_shape *s);
void bp_avgpool2d_forward_f32(float *y, const float *x, int B, const bp_conv_shape *s);
void bp_avgpool2d_backward_f32(float *dx, const float *dy, int B, const bp_conv_shape *s);

/* float32 convolution on oneDNN's primitives, in the layouts it prefers,
 * reordered from and to the caller's NCHW buffers (conv_dnnl.c). A cache
 * holds each batch size and shape's primitives and buffers (the last three),
 * made on their first call: calls after that allocate nothing. One cache
 * per thread that calls it (a team's member). */
typedef struct bp_conv_dnnl bp_conv_dnnl;
/* NULL on failure, and always in a build without oneDNN. */
bp_conv_dnnl *bp_conv_dnnl_new(void);
/* Accepts NULL. */
void bp_conv_dnnl_free(bp_conv_dnnl *c);
/* bp_conv2d_forward_f32's work and meaning (b NULL: no bias); 0, or -1
 * when oneDNN could not (its memory, an unsupported shape): nothing is
 * then written, and the caller runs bp_conv2d_forward_f32. */
int bp_conv2d_forward_dnnl(bp_conv_dnnl *c, float *y, const float *x, const float *w,
                           const float *b, int B, const bp_conv_shape *s);
/* bp_conv2d_backward_f32's work: dx, dw and db added into, each when not
 * NULL. 0; -1 when oneDNN could not make its primitives, nothing added
 * (the caller runs bp_conv2d_backward_f32); -2 when one failed to run
 * after they were made, which oneDNN's CPU primitives do not, the
 * gradients then partly added. */
int bp_conv2d_backward_dnnl(bp_conv_dnnl *c, float *dx, float *dw, float *db,
                            const float *dy, const float *x, const float *w, int B,
                            const bp_conv_shape *s);
/* Whether the backward's dx should go to oneDNN: not for few input
 * channels (oneDNN's blocked backward data of a 1-channel image took 200
 * times im2col's time, NOTES.md), where the caller makes dx by
 * bp_conv2d_backward_f32 with dw and db NULL. */
int bp_conv_dnnl_takes_dx(const bp_conv_shape *s);

/* The chain conv2d -> ReLU -> max pool (shape ps) in oneDNN's blocked
 * layouts (conv_dnnl.c): y = maxpool(relu(conv(x))), the ReLU as the
 * convolution's post-op and the pool in the blocked layout with a
 * workspace of its winners, both kept in the cache until the backward; only
 * y reordered to NCHW. The convolution's and the ReLU's outputs are not
 * written anywhere the caller sees. 0, or -1 (oneDNN could not; nothing
 * written, and no backward of the chain until a forward succeeds).
 * Must equal bp_conv2d_forward_ref_f32, bp_act_forward_f32 (ReLU) and
 * bp_maxpool2d_forward_ref_f32 in turn, to the convolution's rounding:
 * tests/test_conv.c, test_chain_matches_ref. */
int bp_conv_chain_forward_dnnl(bp_conv_dnnl *c, float *y, const float *x, const float *w,
                               const float *b, int B, const bp_conv_shape *s,
                               const bp_conv_shape *ps);
/* Its backward from the pool's dy (NCHW), after the last chained forward
 * of B samples on c: the ReLU's derivative at each window's winner,
 * pooling's backward, then dw, db and dx added into (each when not NULL;
 * dx only where bp_conv_dnnl_takes_dx), and when dh is not NULL the
 * convolution's output gradient stored there in NCHW (for an im2col dx).
 * x must hold what that forward read: when it is the same buffer, backward
 * weights reads the forward's reorder of it instead of making another.
 * 0; -1 when there is no such forward (nothing written: the caller runs
 * the three backwards); -2 as bp_conv2d_backward_dnnl's. */
int bp_conv_chain_backward_dnnl(bp_conv_dnnl *c, float *dx, float *dw, float *db, float *dh,
                                const float *dy, const float *x, const float *w, int B,
                                const bp_conv_shape *s);
/* Whether a max pool of shape ps may end a chain: a build with oneDNN,
 * no padding, windows that do not overlap. */
int bp_conv_chain_takes(const bp_conv_shape *ps);

#endif
