/* bp_ops.h: the kernels, each forward with its backward right below it.
 *
 * Dimensions, used as the letters of every loop:
 *   B = batch (rows of every matrix are samples), I = inputs of a layer,
 *   O = outputs (neurons) of a layer.
 * Matrices are row-major doubles: x is B x I, h and o are B x O, W is O x I
 * with W[n*I + i] the lecture's w_{l,n+1,i+1}, b has O entries.
 * Argument order is outputs, inputs, sizes. Every backward ADDS into the
 * gradients it is given, so callers zero them first (or accumulate on purpose).
 * No kernel allocates or fails: sizes are checked by bp_net. */
#ifndef BP_OPS_H
#define BP_OPS_H

typedef enum bp_act {
    BP_ACT_IDENTITY,
    BP_ACT_SIGMOID,
    BP_ACT_TANH,
    BP_ACT_RELU,
    BP_ACT_LEAKY_RELU, /* slope alpha below zero */
    BP_ACT_SOFTMAX,    /* over the O outputs of each sample */
    BP_ACT_COUNT
} bp_act;

typedef enum bp_loss {
    BP_LOSS_HALF_SE,    /* the lecture's (y - out)^2 / 2, summed over outputs */
    BP_LOSS_MSE,        /* (y - out)^2, mean over outputs */
    BP_LOSS_BCE,        /* binary cross-entropy on probabilities, mean over outputs */
    BP_LOSS_SOFTMAX_CE, /* cross-entropy of softmax(out) against y; out are logits */
    BP_LOSS_COUNT
} bp_loss;

/* Names as scripts write them ("sigmoid", "leaky_relu", "half_se", ...), and
 * back. The parse functions return -1 for an unknown name. */
const char *bp_act_name(bp_act a);
int bp_act_parse(const char *name);
const char *bp_loss_name(bp_loss l);
int bp_loss_parse(const char *name);

/* Dense layer: h = x W^T + b. Large products go to OpenBLAS, tiny ones stay
 * in plain loops (a BLAS call costs more than the lecture's whole network). */
void bp_dense_forward(double *h, const double *x, const double *W,
                      const double *b, int B, int I, int O);
/* dW += dh^T x, db += column sums of dh, dx += dh W (dx may be NULL: the
 * first layer has nobody to pass its input gradient to). */
void bp_dense_backward(double *dx, double *dW, double *db, const double *dh,
                       const double *x, const double *W, int B, int I, int O);

/* Activation: o = f(h), elementwise except softmax (per row). */
void bp_act_forward(double *o, const double *h, int B, int O, bp_act act,
                    double alpha);
/* dh += dLoss/dh given dout = dLoss/do. Uses the h and o that forward kept. */
void bp_act_backward(double *dh, const double *dout, const double *h,
                     const double *o, int B, int O, bp_act act, double alpha);

/* Loss over a batch: the mean over the B samples of each sample's loss, so a
 * single sample gives exactly the lecture's loss. out and y are B x O. */
double bp_loss_forward(const double *out, const double *y, int B, int O,
                       bp_loss loss);
/* dout += dLoss/dout. For BP_LOSS_SOFTMAX_CE this is softmax(out) - y over B:
 * the softmax is fused in, stable for any logit size. */
void bp_loss_backward(double *dout, const double *out, const double *y, int B,
                      int O, bp_loss loss);

#endif
