/* ops.c: the lecture's mathematics, one op at a time.
 *
 * Each op's forward is followed by its backward, as in llm.c's train_gpt2.c.
 * The loops are written so that they read like the chain rule on paper; only
 * the dense layer hands large products to OpenBLAS, because that is the one
 * place where the work grows as B x I x O.
 *
 * Dimensions: B = batch, I = inputs of a layer, O = outputs of a layer. */
#include <math.h>
#include <string.h>

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I would rename the
 * glossary's I (inputs) in every loop below. */
#undef I

#include "bp_ops.h"

/* Below this many multiply-adds a plain loop beats the cost of a BLAS call
 * (measured on the lecture's 2-3-1, where the call alone is several times the
 * arithmetic). */
#define BLAS_MIN_WORK 4096

static const char *act_names[BP_ACT_COUNT] = {
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"};
static const char *loss_names[BP_LOSS_COUNT] = {"half_se", "mse", "bce",
                                                "softmax_ce"};

const char *bp_act_name(bp_act a) {
    return (unsigned)a < BP_ACT_COUNT ? act_names[a] : "?";
}
int bp_act_parse(const char *name) {
    for (int a = 0; a < BP_ACT_COUNT; a++)
        if (strcmp(name, act_names[a]) == 0) return a;
    return -1;
}
const char *bp_loss_name(bp_loss l) {
    return (unsigned)l < BP_LOSS_COUNT ? loss_names[l] : "?";
}
int bp_loss_parse(const char *name) {
    for (int l = 0; l < BP_LOSS_COUNT; l++)
        if (strcmp(name, loss_names[l]) == 0) return l;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Dense layer: h[b][n] = b[n] + sum_i W[n][i] x[b][i]                       */

void bp_dense_forward(double *h, const double *x, const double *W,
                      const double *b, int B, int I, int O) {
    for (int s = 0; s < B; s++)
        memcpy(h + (size_t)s * O, b, sizeof(double) * (size_t)O);
    if ((long)B * I * O >= BLAS_MIN_WORK) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, O, I, 1.0, x, I,
                    W, I, 1.0, h, O);
        return;
    }
    for (int s = 0; s < B; s++) {
        const double *xs = x + (size_t)s * I;
        double *hs = h + (size_t)s * O;
        for (int n = 0; n < O; n++) {
            const double *wn = W + (size_t)n * I;
            double acc = hs[n];
            for (int i = 0; i < I; i++) acc += wn[i] * xs[i];
            hs[n] = acc;
        }
    }
}

/* dLoss/dw_{n,i} = sum_b dLoss/dh_{b,n} * x_{b,i}   (dh/dw = the input)
 * dLoss/db_n     = sum_b dLoss/dh_{b,n}            (dh/db = 1)
 * dLoss/dx_{b,i} = sum_n dLoss/dh_{b,n} * w_{n,i}   (dh/dx = the weight) */
void bp_dense_backward(double *dx, double *dW, double *db, const double *dh,
                       const double *x, const double *W, int B, int I, int O) {
    for (int s = 0; s < B; s++) {
        const double *dhs = dh + (size_t)s * O;
        for (int n = 0; n < O; n++) db[n] += dhs[n];
    }
    if ((long)B * I * O >= BLAS_MIN_WORK) {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, B, 1.0, dh, O,
                    x, I, 1.0, dW, I);
        if (dx)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, I, O, 1.0,
                        dh, O, W, I, 1.0, dx, I);
        return;
    }
    for (int s = 0; s < B; s++) {
        const double *xs = x + (size_t)s * I;
        const double *dhs = dh + (size_t)s * O;
        double *dxs = dx ? dx + (size_t)s * I : NULL;
        for (int n = 0; n < O; n++) {
            const double g = dhs[n];
            double *dwn = dW + (size_t)n * I;
            const double *wn = W + (size_t)n * I;
            for (int i = 0; i < I; i++) dwn[i] += g * xs[i];
            if (dxs)
                for (int i = 0; i < I; i++) dxs[i] += g * wn[i];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Activations: o = f(h)                                                     */

static double sigmoid(double h) {
    /* Written two ways so that exp never overflows for large |h|. */
    if (h >= 0) return 1.0 / (1.0 + exp(-h));
    double e = exp(h);
    return e / (1.0 + e);
}

static void softmax_row(double *o, const double *h, int O) {
    double m = h[0];
    for (int n = 1; n < O; n++)
        if (h[n] > m) m = h[n];
    double sum = 0.0;
    for (int n = 0; n < O; n++) sum += (o[n] = exp(h[n] - m));
    for (int n = 0; n < O; n++) o[n] /= sum;
}

void bp_act_forward(double *o, const double *h, int B, int O, bp_act act,
                    double alpha) {
    size_t N = (size_t)B * O;
    switch (act) {
    case BP_ACT_IDENTITY:
        if (o != h) memcpy(o, h, sizeof(double) * N);
        break;
    case BP_ACT_SIGMOID:
        for (size_t k = 0; k < N; k++) o[k] = sigmoid(h[k]);
        break;
    case BP_ACT_TANH:
        for (size_t k = 0; k < N; k++) o[k] = tanh(h[k]);
        break;
    case BP_ACT_RELU:
        for (size_t k = 0; k < N; k++) o[k] = h[k] > 0 ? h[k] : 0.0;
        break;
    case BP_ACT_LEAKY_RELU:
        for (size_t k = 0; k < N; k++) o[k] = h[k] > 0 ? h[k] : alpha * h[k];
        break;
    case BP_ACT_SOFTMAX:
        for (int s = 0; s < B; s++)
            softmax_row(o + (size_t)s * O, h + (size_t)s * O, O);
        break;
    default:
        break;
    }
}

/* dLoss/dh = dLoss/do * do/dh. For the elementwise functions do/dh is
 * written in terms of o where that is cheaper (sigmoid: o(1-o), the lecture's
 * do11/dh11). Softmax couples a row: dh_n = o_n (dout_n - sum_k dout_k o_k). */
void bp_act_backward(double *dh, const double *dout, const double *h,
                     const double *o, int B, int O, bp_act act, double alpha) {
    size_t N = (size_t)B * O;
    switch (act) {
    case BP_ACT_IDENTITY:
        for (size_t k = 0; k < N; k++) dh[k] += dout[k];
        break;
    case BP_ACT_SIGMOID:
        for (size_t k = 0; k < N; k++) dh[k] += dout[k] * o[k] * (1.0 - o[k]);
        break;
    case BP_ACT_TANH:
        for (size_t k = 0; k < N; k++) dh[k] += dout[k] * (1.0 - o[k] * o[k]);
        break;
    case BP_ACT_RELU:
        for (size_t k = 0; k < N; k++) dh[k] += h[k] > 0 ? dout[k] : 0.0;
        break;
    case BP_ACT_LEAKY_RELU:
        for (size_t k = 0; k < N; k++)
            dh[k] += h[k] > 0 ? dout[k] : alpha * dout[k];
        break;
    case BP_ACT_SOFTMAX:
        for (int s = 0; s < B; s++) {
            const double *os = o + (size_t)s * O, *ds = dout + (size_t)s * O;
            double *dhs = dh + (size_t)s * O;
            double dot = 0.0;
            for (int n = 0; n < O; n++) dot += ds[n] * os[n];
            for (int n = 0; n < O; n++) dhs[n] += os[n] * (ds[n] - dot);
        }
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Losses: the mean over the batch of each sample's loss                     */

/* BCE takes probabilities; clamping keeps log finite when a sigmoid saturates
 * to exactly 0 or 1 (the gradient uses the same clamped p, consistently). */
#define BCE_EPS 1e-12

static double clamp_p(double p) {
    return p < BCE_EPS ? BCE_EPS : p > 1.0 - BCE_EPS ? 1.0 - BCE_EPS : p;
}

/* log(sum_n exp(z_n)) without overflow: shift by the largest logit. */
static double logsumexp(const double *z, int O) {
    double m = z[0];
    for (int n = 1; n < O; n++)
        if (z[n] > m) m = z[n];
    double sum = 0.0;
    for (int n = 0; n < O; n++) sum += exp(z[n] - m);
    return m + log(sum);
}

double bp_loss_forward(const double *out, const double *y, int B, int O,
                       bp_loss loss) {
    double total = 0.0;
    for (int s = 0; s < B; s++) {
        const double *os = out + (size_t)s * O, *ys = y + (size_t)s * O;
        double l = 0.0;
        switch (loss) {
        case BP_LOSS_HALF_SE:
            for (int n = 0; n < O; n++) l += 0.5 * (ys[n] - os[n]) * (ys[n] - os[n]);
            break;
        case BP_LOSS_MSE:
            for (int n = 0; n < O; n++) l += (ys[n] - os[n]) * (ys[n] - os[n]);
            l /= O;
            break;
        case BP_LOSS_BCE:
            for (int n = 0; n < O; n++) {
                double p = clamp_p(os[n]);
                l -= ys[n] * log(p) + (1.0 - ys[n]) * log(1.0 - p);
            }
            l /= O;
            break;
        case BP_LOSS_SOFTMAX_CE: {
            /* -sum_n y_n log softmax_n = sum_n y_n (lse - z_n) */
            double lse = logsumexp(os, O);
            for (int n = 0; n < O; n++) l += ys[n] * (lse - os[n]);
            break;
        }
        default:
            break;
        }
        total += l;
    }
    return total / B;
}

void bp_loss_backward(double *dout, const double *out, const double *y, int B,
                      int O, bp_loss loss) {
    for (int s = 0; s < B; s++) {
        const double *os = out + (size_t)s * O, *ys = y + (size_t)s * O;
        double *ds = dout + (size_t)s * O;
        switch (loss) {
        case BP_LOSS_HALF_SE: /* d/dout (y - out)^2/2 = -(y - out) */
            for (int n = 0; n < O; n++) ds[n] += -(ys[n] - os[n]) / B;
            break;
        case BP_LOSS_MSE:
            for (int n = 0; n < O; n++)
                ds[n] += -2.0 * (ys[n] - os[n]) / ((double)B * O);
            break;
        case BP_LOSS_BCE:
            for (int n = 0; n < O; n++) {
                double p = clamp_p(os[n]);
                ds[n] += (p - ys[n]) / (p * (1.0 - p)) / ((double)B * O);
            }
            break;
        case BP_LOSS_SOFTMAX_CE: {
            double lse = logsumexp(os, O), ysum = 0.0;
            for (int n = 0; n < O; n++) ysum += ys[n];
            for (int n = 0; n < O; n++)
                ds[n] += (exp(os[n] - lse) * ysum - ys[n]) / B;
            break;
        }
        default:
            break;
        }
    }
}
