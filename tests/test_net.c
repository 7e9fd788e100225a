/* test_net.c: the network module against the lecture, by hand.
 *
 * The lecture's 2-3-1 network (x = (1, 2), y = 3, sigmoid hidden units with
 * bias 1, identity output, loss (y - out)^2/2, lr 0.01). Every figure is
 * computed twice: by the engine, and by the chain rule written out longhand
 * below, independently of ops.c. Then the lecture's printed figures are
 * derived from the exact ones the way the lecture derived them, rounding o11
 * to 0.89 first. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_net.h"
#include "bp_team.h"
#include "check.h"

/* The weights of scripts/seed_example.lua: w111, w112 from the lecture, the
 * ones it does not show picked so that the output is 1.106. */
static const double W1[3][2] = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}};
static const double B1[3] = {1, 1, 1};
static const double W2[3] = {-0.23, 0.3, 0.1};
static const double B2 = 1;

static bp_net *lecture_net(void) {
    bp_err e;
    bp_net *net = bp_net_new(2, &e);
    CHECK(net != NULL);
    CHECK(bp_net_add(net, 3, BP_ACT_SIGMOID, 0, &e) == 0);
    CHECK(bp_net_add(net, 1, BP_ACT_IDENTITY, 0, &e) == 0);
    for (int n = 1; n <= 3; n++) {
        for (int i = 1; i <= 2; i++) *bp_net_weight(net, 1, n, i, &e) = W1[n - 1][i - 1];
        *bp_net_bias(net, 1, n, &e) = B1[n - 1];
        *bp_net_weight(net, 2, 1, n, &e) = W2[n - 1];
    }
    *bp_net_bias(net, 2, 1, &e) = B2;
    return net;
}

static double sig(double h) { return 1.0 / (1.0 + exp(-h)); }

static void test_lecture(void) {
    bp_net *net = lecture_net();
    bp_err e;
    const double x[2] = {1, 2}, y[1] = {3}, lr = 0.01;

    /* Longhand: forward, loss, chain rule. */
    double h1[3], o1[3], out = B2;
    for (int n = 0; n < 3; n++) {
        h1[n] = W1[n][0] * x[0] + W1[n][1] * x[1] + B1[n];
        o1[n] = sig(h1[n]);
        out += W2[n] * o1[n];
    }
    double loss = (y[0] - out) * (y[0] - out) / 2;
    double dL_dout = -(y[0] - out);
    double dL_dw211 = dL_dout * o1[0];
    double dout_do11 = W2[0];
    double do11_dh11 = o1[0] * (1 - o1[0]);
    double dL_dw111 = dL_dout * dout_do11 * do11_dh11 * x[0];

    /* The engine, stage by stage. */
    const double *o = bp_net_forward(net, x, 1, &e);
    CHECK(o != NULL);
    CHECK_NEAR(net->layers[0].h[0], 2.1, 1e-15);
    CHECK_NEAR(net->layers[0].o[0], o1[0], 1e-15);
    CHECK_NEAR(o[0], out, 1e-12);
    CHECK(fabs(o[0] - 1.106) < 0.0005);
    double L = bp_loss_forward(o, y, 1, 1, BP_LOSS_HALF_SE);
    CHECK_NEAR(L, loss, 1e-12);
    double dout[1] = {0};
    bp_loss_backward(dout, o, y, 1, 1, BP_LOSS_HALF_SE);
    CHECK_NEAR(dout[0], dL_dout, 1e-12);
    bp_net_zero_grad(net);
    CHECK(bp_net_backward(net, dout, &e) == 0);
    CHECK_NEAR(*bp_net_grad_weight(net, 2, 1, 1, &e), dL_dw211, 1e-12);
    CHECK_NEAR(net->layers[0].dout[0], dL_dout * dout_do11, 1e-12);
    CHECK_NEAR(net->layers[0].dh[0], dL_dout * dout_do11 * do11_dh11, 1e-12);
    CHECK_NEAR(*bp_net_grad_weight(net, 1, 1, 1, &e), dL_dw111, 1e-12);
    CHECK_NEAR(*bp_net_grad_bias(net, 2, 1, &e), dL_dout, 1e-12);
    CHECK(bp_net_update(net, lr, &e) == 0);
    double w211 = *bp_net_weight(net, 2, 1, 1, &e);
    double w111 = *bp_net_weight(net, 1, 1, 1, &e);
    CHECK_NEAR(w211, W2[0] - lr * dL_dw211, 1e-15);
    CHECK_NEAR(w111, W1[0][0] - lr * dL_dw111, 1e-15);

    /* The exact values the issue quotes. */
    CHECK_NEAR(do11_dh11, 0.09719, 0.000005);
    CHECK_NEAR(dL_dw111, 0.04234, 0.000005);

    /* The lecture's printed figures, from the exact ones with o11 = 0.89. */
    double o11 = 0.89;
    double r_dL_dout = round(dL_dout * 1000) / 1000;
    CHECK_NEAR(r_dL_dout, -1.894, 1e-12);
    CHECK_NEAR(round(r_dL_dout * o11 * 1000) / 1000, -1.686, 1e-12);
    CHECK_NEAR(round((W2[0] - lr * r_dL_dout * o11) * 1000) / 1000, -0.213, 1e-12);
    CHECK_NEAR(round(o11 * (1 - o11) * 10000) / 10000, 0.0979, 1e-12);
    double lect_dw111 = r_dL_dout * W2[0] * o11 * (1 - o11) * x[0];
    CHECK_NEAR(round(lect_dw111 * 10000) / 10000, 0.0426, 1e-12);
    /* 0.5 - 0.01 * 0.0426 = 0.499574: the lecture writes 0.499, i.e. it cuts
     * to three decimals rather than rounding. */
    CHECK_NEAR(floor((W1[0][0] - lr * lect_dw111) * 1000) / 1000, 0.499, 1e-12);
    CHECK_NEAR(floor(w111 * 1000) / 1000, 0.499, 1e-12);
    bp_net_free(net);
}

/* The convenience step is exactly the four stages. */
static void test_train_step_equals_stages(void) {
    bp_net *a = lecture_net(), *b = lecture_net();
    bp_err e;
    const double x[2] = {1, 2}, y[1] = {3};
    for (int step = 0; step < 50; step++) {
        double la, dout[1] = {0};
        CHECK(bp_net_train_step(a, x, y, 1, BP_LOSS_HALF_SE, 0.01, &la, &e) == 0);
        const double *o = bp_net_forward(b, x, 1, &e);
        double lb = bp_loss_forward(o, y, 1, 1, BP_LOSS_HALF_SE);
        bp_loss_backward(dout, o, y, 1, 1, BP_LOSS_HALF_SE);
        bp_net_zero_grad(b);
        bp_net_backward(b, dout, &e);
        bp_net_update(b, 0.01, &e);
        CHECK(la == lb);
    }
    size_t n = bp_net_param_count(a);
    CHECK(n == 13);
    double pa[13], pb[13];
    bp_net_params_get(a, pa);
    bp_net_params_get(b, pb);
    CHECK(memcmp(pa, pb, sizeof pa) == 0);
    bp_net_free(a);
    bp_net_free(b);
}

static void test_errors(void) {
    bp_err e;
    CHECK(bp_net_new(0, &e) == NULL);
    CHECK_STR(e.msg, "a network needs at least 1 input (got 0)");
    bp_net *net = bp_net_new(2, &e);
    double x[2] = {1, 2};
    CHECK(bp_net_forward(net, x, 1, &e) == NULL);
    CHECK_STR(e.msg, "the network has no layers");
    CHECK(bp_net_add(net, -3, BP_ACT_RELU, 0, &e) == -1);
    CHECK_STR(e.msg, "a layer needs at least 1 neuron (got -3)");
    CHECK(bp_net_add(net, 3, BP_ACT_RELU, 0, &e) == 0);
    CHECK(bp_net_backward(net, x, &e) == -1);
    CHECK_STR(e.msg, "backward needs a forward first");
    CHECK(bp_net_weight(net, 2, 1, 1, &e) == NULL);
    CHECK_STR(e.msg, "layer 2 out of range 1..1");
    CHECK(bp_net_weight(net, 1, 4, 1, &e) == NULL);
    CHECK_STR(e.msg, "neuron 4 out of range 1..3 in layer 1");
    CHECK(bp_net_weight(net, 1, 1, 3, &e) == NULL);
    CHECK_STR(e.msg, "input 3 out of range 1..2 in layer 1");
    CHECK(bp_net_update(net, NAN, &e) == -1);
    CHECK_STR(e.msg, "learning rate must be a finite number >= 0 (got nan)");
    CHECK(bp_net_update(net, -0.1, &e) == -1);
    CHECK(bp_net_init(net, 1, 'w', BP_INIT_UNIFORM, 1, 0, NULL, &e) == -1);
    CHECK_STR(e.msg, "uniform initialisation needs low <= high (got 1 > 0)");
    CHECK(bp_net_forward(net, x, 0, &e) == NULL);
    CHECK_STR(e.msg, "a batch needs at least 1 sample (got 0)");
    bp_net_free(net);
    bp_net_free(NULL);
}

/* Initialisers: same seed, same bits; the statistics the scheme promises. */
static void test_init(void) {
    bp_err e;
    bp_net *net = bp_net_new(200, &e);
    bp_net_add(net, 100, BP_ACT_RELU, 0, &e);
    bp_rng r;
    bp_rng_seed(&r, 7);
    CHECK(bp_net_init(net, 1, 'w', BP_INIT_HE, 0, 0, &r, &e) == 0);
    double sum = 0, sq = 0;
    size_t N = 200 * 100;
    for (size_t k = 0; k < N; k++) {
        sum += net->layers[0].W[k];
        sq += net->layers[0].W[k] * net->layers[0].W[k];
    }
    double mean = sum / N, var = sq / N - mean * mean;
    CHECK(fabs(mean) < 0.003);
    CHECK_NEAR(var, 2.0 / 200, 0.0005);
    CHECK(bp_net_init(net, 1, 'w', BP_INIT_XAVIER, 0, 0, &r, &e) == 0);
    double lim = sqrt(6.0 / 300), mx = 0;
    for (size_t k = 0; k < N; k++) mx = fmax(mx, fabs(net->layers[0].W[k]));
    CHECK(mx <= lim && mx > 0.99 * lim);
    CHECK(bp_net_init(net, 1, 'b', BP_INIT_CONSTANT, 1, 0, NULL, &e) == 0);
    CHECK(net->layers[0].b[99] == 1.0);
    bp_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* float32, the fused kernels, threads                                       */

/* A net of the given sizes and dtype with weights and biases drawn from a
 * generator seeded with `seed`: the same values for both dtypes (rounded to
 * float in float32). */
static bp_net *random_net(bp_dtype t, const int *sizes, int n, const bp_act *acts,
                          uint64_t seed) {
    bp_err e;
    bp_rng r;
    bp_rng_seed(&r, seed);
    bp_net *net = bp_net_new_dtype(sizes[0], t, &e);
    for (int l = 1; l <= n; l++) {
        CHECK(bp_net_add(net, sizes[l], acts[l - 1], 0.1, &e) == 0);
        CHECK(bp_net_init(net, l, 'w', BP_INIT_XAVIER, 0, 0, &r, &e) == 0);
        CHECK(bp_net_init(net, l, 'b', BP_INIT_UNIFORM, -0.1, 0.1, &r, &e) == 0);
    }
    return net;
}

static void fill(double *v, size_t n, uint64_t seed) {
    bp_rng r;
    bp_rng_seed(&r, seed);
    for (size_t k = 0; k < n; k++) v[k] = bp_rng_uniform(&r);
}

/* One-hot targets of B rows over O classes. */
static void one_hot(double *y, int B, int O) {
    memset(y, 0, sizeof(double) * (size_t)B * O);
    for (int s = 0; s < B; s++) y[(size_t)s * O + (s * 7) % O] = 1;
}

/* The lecture's network in float32: every figure within float's rounding of
 * the exact one. */
static void test_lecture_float32(void) {
    bp_err e;
    bp_net *net = bp_net_new_dtype(2, BP_F32, &e);
    CHECK(net && net->dtype == BP_F32);
    CHECK(bp_net_add(net, 3, BP_ACT_SIGMOID, 0, &e) == 0);
    CHECK(bp_net_add(net, 1, BP_ACT_IDENTITY, 0, &e) == 0);
    CHECK(net->layers[0].W == NULL && net->layers[0].W32 != NULL);
    CHECK(bp_net_weight(net, 1, 1, 1, &e) == NULL);
    CHECK_STR(e.msg, "the network is float32: its numbers are floats (use "
                     "bp_net_param_index with bp_layer_get and bp_layer_set)");
    for (int n = 1; n <= 3; n++) {
        for (int i = 1; i <= 2; i++)
            bp_layer_set(&net->layers[0], BP_FIELD_W,
                         bp_net_param_index(net, 1, n, i, &e), W1[n - 1][i - 1]);
        bp_layer_set(&net->layers[0], BP_FIELD_B, bp_net_param_index(net, 1, n, 0, &e),
                     B1[n - 1]);
        bp_layer_set(&net->layers[1], BP_FIELD_W, bp_net_param_index(net, 2, 1, n, &e),
                     W2[n - 1]);
    }
    bp_layer_set(&net->layers[1], BP_FIELD_B, 0, B2);
    CHECK(bp_net_param_index(net, 1, 2, 1, &e) == 2);
    CHECK(bp_net_param_index(net, 1, 1, 3, &e) == -1);
    CHECK_STR(e.msg, "input 3 out of range 1..2 in layer 1");
    /* 0.3 is not a float: the weight reads back as the nearest one */
    CHECK(bp_layer_get(&net->layers[0], BP_FIELD_W, 1) == (double)0.3f);

    const double x[2] = {1, 2}, y[1] = {3};
    double loss;
    CHECK(bp_net_compute_grads(net, x, y, 1, BP_LOSS_HALF_SE, &loss, &e) == 0);
    CHECK_NEAR(loss, 1.79365, 0.00001);
    CHECK_NEAR(bp_layer_get(&net->layers[0], BP_FIELD_H, 0), 2.1, 1e-6);
    CHECK_NEAR(bp_layer_get(&net->layers[0], BP_FIELD_DW, 0), 0.04234, 0.000005);
    CHECK_NEAR(bp_layer_get(&net->layers[1], BP_FIELD_DW, 0), -1.68738, 0.000005);
    CHECK(bp_net_update(net, 0.01, &e) == 0);
    CHECK_NEAR(bp_layer_get(&net->layers[0], BP_FIELD_W, 0), 0.49958, 0.000005);
    const double *out = bp_net_forward(net, x, 1, &e);
    CHECK(out == net->out); /* converted into the net's double buffer */
    bp_net_free(net);
}

/* train_step is compute_grads then update to the last bit (the update is
 * fused into the backward pass); in both dtypes, on plain loops and BLAS. */
static void test_fused_step_is_stages(void) {
    static const int sizes[] = {40, 32, 16, 5};
    static const bp_act acts[] = {BP_ACT_RELU, BP_ACT_TANH, BP_ACT_IDENTITY};
    enum { B = 16 };
    double x[B * 40], y[B * 5];
    fill(x, B * 40, 3);
    one_hot(y, B, 5);
    bp_err e;
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int rows = 1; rows <= B; rows += B - 1) {
            bp_net *a = random_net(t, sizes, 3, acts, 11),
                   *b = random_net(t, sizes, 3, acts, 11);
            for (int s = 0; s < 5; s++) {
                double la, lb;
                CHECK(bp_net_train_step(a, x, y, rows, BP_LOSS_SOFTMAX_CE, 0.05, &la,
                                        &e) == 0);
                CHECK(bp_net_compute_grads(b, x, y, rows, BP_LOSS_SOFTMAX_CE, &lb, &e) ==
                      0);
                CHECK(bp_net_update(b, 0.05, &e) == 0);
                CHECK(la == lb);
            }
            size_t P = bp_net_param_count(a);
            double *pa = malloc(sizeof(double) * P), *pb = malloc(sizeof(double) * P);
            bp_net_params_get(a, pa);
            bp_net_params_get(b, pb);
            CHECK(memcmp(pa, pb, sizeof(double) * P) == 0);
            free(pa);
            free(pb);
            bp_net_free(a);
            bp_net_free(b);
        }
}

/* bp_net_step_rows on rows picked out of a data matrix is train_step (lr
 * >= 0) or compute_grads (lr < 0) on those rows gathered by hand, to the last
 * bit, in both dtypes, on plain loops, BLAS and the single-sample path; a
 * step whose loss is not finite computes the gradients and updates nothing;
 * a NaN or infinite rate is refused. */
static int same_state(const bp_net *a, const bp_net *b);
static void test_step_rows(void) {
    static const int sizes[] = {40, 32, 16, 5};
    static const bp_act acts[] = {BP_ACT_RELU, BP_ACT_TANH, BP_ACT_IDENTITY};
    enum { N = 20, B = 16 };
    static const int pick[B] = {7, 0, 19, 3, 3, 12, 5, 18, 1, 9, 14, 2, 11, 16, 8, 6};
    double data[N * 40], x[B * 40], y[B * 5];
    fill(data, N * 40, 5);
    for (int s = 0; s < B; s++)
        memcpy(x + s * 40, data + pick[s] * 40, sizeof(double) * 40);
    one_hot(y, B, 5);
    bp_err e;
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int rows = 1; rows <= B; rows += B - 1)
            for (int upd = 0; upd < 2; upd++) {
                bp_net *a = random_net(t, sizes, 3, acts, 11),
                       *b = random_net(t, sizes, 3, acts, 11);
                for (int s = 0; s < 3; s++) {
                    double la, lb;
                    CHECK(bp_net_step_rows(a, data, BP_F64, pick, y, rows,
                                           BP_LOSS_SOFTMAX_CE, upd ? 0.05 : -1, &la,
                                           &e) == 0);
                    if (upd)
                        CHECK(bp_net_train_step(b, x, y, rows, BP_LOSS_SOFTMAX_CE, 0.05,
                                                &lb, &e) == 0);
                    else
                        CHECK(bp_net_compute_grads(b, x, y, rows, BP_LOSS_SOFTMAX_CE, &lb,
                                                   &e) == 0);
                    CHECK(la == lb);
                }
                CHECK(same_state(a, b));
                bp_net_free(a);
                bp_net_free(b);
            }
    /* A target of inf makes the loss inf: gradients, but no step. */
    bp_net *a = random_net(BP_F32, sizes, 3, acts, 11),
           *b = random_net(BP_F32, sizes, 3, acts, 11);
    double yinf[B * 5], l;
    memcpy(yinf, y, sizeof yinf);
    yinf[3] = INFINITY;
    CHECK(bp_net_step_rows(a, data, BP_F64, pick, yinf, B, BP_LOSS_HALF_SE, 0.05, &l,
                           &e) == 0);
    CHECK(isinf(l));
    CHECK(bp_net_compute_grads(b, x, yinf, B, BP_LOSS_HALF_SE, &l, &e) == 0);
    CHECK(same_state(a, b));
    CHECK(bp_net_step_rows(a, data, BP_F64, pick, y, B, BP_LOSS_HALF_SE, NAN, &l, &e) ==
          -1);
    CHECK_STR(e.msg, "learning rate must be a finite number >= 0 (got nan)");
    CHECK(bp_net_step_rows(a, data, BP_F64, pick, y, B, BP_LOSS_HALF_SE, INFINITY, &l,
                           &e) == -1);
    CHECK_STR(e.msg, "learning rate must be a finite number >= 0 (got inf)");
    bp_net_free(a);
    bp_net_free(b);
}

/* The fused layer kernels against the plain ones they replace: the same
 * sums, so the same bits on the loop path; BLAS's own rounding on the
 * other (the products are the same calls with beta 0 instead of 1). */
static void test_fused_kernels(void) {
    enum { Bm = 64, I = 24, O = 12 };
    double x[Bm * I], W[O * I], b[O], dout[Bm * O];
    fill(x, Bm * I, 1);
    fill(W, O * I, 2);
    fill(b, O, 3);
    fill(dout, Bm * O, 4);
    for (int k = 0; k < O * I; k++) W[k] -= 0.5;
    for (int B = 1; B <= Bm; B += Bm - 1) {
        double tol = (long)B * I * O >= BP_BLAS_MIN_WORK ? 1e-13 : 0;
        for (int act = 0; act < BP_ACT_COUNT; act++) {
            double h1[Bm * O], o1[Bm * O], h2[Bm * O], o2[Bm * O];
            bp_layer_forward(h1, o1, x, W, b, B, I, O, act, 0.1);
            bp_dense_forward(h2, x, W, b, B, I, O);
            bp_act_forward(o2, h2, B, O, act, 0.1);
            double worst = 0;
            for (int k = 0; k < B * O; k++)
                worst = fmax(worst, fmax(fabs(h1[k] - h2[k]), fabs(o1[k] - o2[k])));
            CHECK(worst <= tol);

            double dh1[Bm * O], dW1[O * I], db1[O], dx1[Bm * I], Wc[O * I], bc[O];
            double dh2[Bm * O] = {0}, dW2[O * I] = {0}, db2[O] = {0}, dx2[Bm * I] = {0};
            memcpy(Wc, W, sizeof W);
            memcpy(bc, b, sizeof b);
            bp_layer_backward(dx1, dW1, db1, dh1, dout, h1, o1, x, Wc, bc, B, I, O, act,
                              0.1, 0, 0.5);
            bp_act_backward(dh2, dout, h2, o2, B, O, act, 0.1);
            bp_dense_backward(dx2, dW2, db2, dh2, x, W, B, I, O);
            worst = 0;
            for (int k = 0; k < B * O; k++) worst = fmax(worst, fabs(dh1[k] - dh2[k]));
            for (int k = 0; k < O * I; k++) {
                worst = fmax(worst, fabs(dW1[k] - dW2[k]));
                /* the fused step, with lr 0.5 */
                worst = fmax(worst, fabs(Wc[k] - (W[k] - 0.5 * dW2[k])));
            }
            for (int k = 0; k < O; k++) {
                worst = fmax(worst, fabs(db1[k] - db2[k]));
                worst = fmax(worst, fabs(bc[k] - (b[k] - 0.5 * db2[k])));
            }
            for (int k = 0; k < B * I; k++) worst = fmax(worst, fabs(dx1[k] - dx2[k]));
            CHECK(worst <= tol);
        }
    }
}

/* Backpropagation against finite differences of the loss, on both paths
 * (a batch of 2: loops; of 64: BLAS) and every activation. */
static void test_finite_differences(void) {
    static const int sizes[] = {9, 16, 8, 4};
    bp_err e;
    for (int act = 0; act < BP_ACT_SOFTMAX; act++)
        for (int B = 2; B <= 64; B += 62) {
            bp_act acts[] = {act, BP_ACT_SOFTMAX == act ? BP_ACT_TANH : act,
                             BP_ACT_IDENTITY};
            bp_net *net = random_net(BP_F64, sizes, 3, acts, 21 + act);
            double x[64 * 9], y[64 * 4];
            fill(x, (size_t)B * 9, 5);
            for (int k = 0; k < B * 9; k++) x[k] = 2 * x[k] - 1;
            one_hot(y, B, 4);
            CHECK(bp_net_compute_grads(net, x, y, B, BP_LOSS_SOFTMAX_CE, NULL, &e) == 0);
            double worst = 0;
            for (int l = 1; l <= 3; l++) {
                bp_layer *L = &net->layers[l - 1];
                for (size_t k = 0; k < (size_t)L->O * L->I; k += 7) {
                    double w = L->W[k], g = L->dW[k], lp, lm;
                    L->W[k] = w + 1e-6;
                    bp_loss_forward(bp_net_forward(net, x, B, &e), y, B, 4,
                                    BP_LOSS_SOFTMAX_CE);
                    lp = bp_loss_forward(net->layers[2].o, y, B, 4, BP_LOSS_SOFTMAX_CE);
                    L->W[k] = w - 1e-6;
                    bp_net_forward(net, x, B, &e);
                    lm = bp_loss_forward(net->layers[2].o, y, B, 4, BP_LOSS_SOFTMAX_CE);
                    L->W[k] = w;
                    worst = fmax(worst, fabs((lp - lm) / 2e-6 - g));
                }
            }
            CHECK(worst < 1e-7);
            bp_net_free(net);
        }
}

/* The stated tolerance: a float32 network trained from the float64 one's
 * weights follows it. After 50 SGD steps of a 20-32-16-4 ReLU network on a
 * batch of 64 (the BLAS path), the losses agree to 1e-6 relative and every
 * weight to 1e-5 absolute (measured: 2e-8 and 2e-7). */
static void test_float32_follows_float64(void) {
    static const int sizes[] = {20, 32, 16, 4};
    static const bp_act acts[] = {BP_ACT_RELU, BP_ACT_RELU, BP_ACT_IDENTITY};
    enum { B = 64 };
    double x[B * 20], y[B * 4];
    fill(x, B * 20, 8);
    one_hot(y, B, 4);
    bp_net *d = random_net(BP_F64, sizes, 3, acts, 31),
           *f = random_net(BP_F32, sizes, 3, acts, 31);
    size_t P = bp_net_param_count(d);
    double *pd = malloc(sizeof(double) * P), *pf = malloc(sizeof(double) * P);
    bp_net_params_get(f, pf);
    bp_net_params_set(d, pf); /* the same starting point, exactly */
    bp_err e;
    double ld = 0, lf = 0, first = 0, worst_loss = 0;
    for (int s = 0; s < 50; s++) {
        CHECK(bp_net_train_step(d, x, y, B, BP_LOSS_SOFTMAX_CE, 0.1, &ld, &e) == 0);
        CHECK(bp_net_train_step(f, x, y, B, BP_LOSS_SOFTMAX_CE, 0.1, &lf, &e) == 0);
        worst_loss = fmax(worst_loss, fabs(lf - ld) / ld);
        if (s == 0) first = ld;
        if (getenv("BP_VERBOSE") && s == 49) printf("loss %g -> %g\n", first, ld);
    }
    CHECK(worst_loss < 1e-6);
    CHECK(ld < 0.95 * first); /* it learnt: the comparison is not of noise */
    bp_net_params_get(d, pd);
    bp_net_params_get(f, pf);
    double worst = 0;
    for (size_t k = 0; k < P; k++) worst = fmax(worst, fabs(pd[k] - pf[k]));
    CHECK(worst < 1e-5);
    CHECK(worst > 0); /* float32 really computed in float */
    if (getenv("BP_VERBOSE"))
        printf("float32 vs float64: loss %.3g relative, weights %.3g absolute\n",
               worst_loss, worst);
    free(pd);
    free(pf);
    bp_net_free(d);
    bp_net_free(f);
}

/* ------------------------------------------------------------------------ */
/* The single-sample path                                                    */

/* 1 if a and b hold the same bits everywhere a step writes: every weight
 * and bias, dW, db, and the h, o, dh, dout of the last step's B rows. */
static int same_state(const bp_net *a, const bp_net *b) {
    size_t P = bp_net_param_count(a);
    double *pa = malloc(sizeof(double) * P), *pb = malloc(sizeof(double) * P);
    bp_net_params_get(a, pa);
    bp_net_params_get(b, pb);
    int same = a->B == b->B && memcmp(pa, pb, sizeof(double) * P) == 0;
    free(pa);
    free(pb);
    for (int l = 0; l < a->n_layers && same; l++) {
        const bp_layer *La = &a->layers[l], *Lb = &b->layers[l];
        size_t W = (size_t)La->O * La->I, rows = (size_t)a->B * La->O;
        size_t n[BP_FIELD_COUNT] = {
            [BP_FIELD_W] = W,      [BP_FIELD_DW] = W,     [BP_FIELD_B] = La->O,
            [BP_FIELD_DB] = La->O, [BP_FIELD_H] = rows,   [BP_FIELD_O] = rows,
            [BP_FIELD_DH] = rows,  [BP_FIELD_DOUT] = rows};
        for (int f = 0; f < BP_FIELD_COUNT; f++)
            for (size_t k = 0; k < n[f]; k++) {
                double va = bp_layer_get(La, f, k), vb = bp_layer_get(Lb, f, k);
                same &= memcmp(&va, &vb, sizeof va) == 0;
            }
    }
    return same;
}

/* A sample for the loss: x in [-1, 1); targets in [0, 1) (a probability for
 * bce), or one-hot for softmax_ce and nll. */
static void sample(double *x, int I, double *y, int O, bp_loss loss, bp_rng *r) {
    int hot = loss == BP_LOSS_SOFTMAX_CE || loss == BP_LOSS_NLL;
    for (int i = 0; i < I; i++) x[i] = 2 * bp_rng_uniform(r) - 1;
    for (int n = 0; n < O; n++) y[n] = hot ? 0 : bp_rng_uniform(r);
    if (hot) y[bp_rng_below(r, (uint64_t)O)] = 1;
}

/* bp_net_train_step and bp_net_compute_grads on one sample take a path of
 * their own through a small network (bp_net_set_fast); it must give the
 * general path's results to the last bit: the same loss, and the same
 * weights, gradients, h, o, dh and dout after every step, for every
 * activation, loss and dtype, over shapes 1-1, 2-3-1, 4-8-3 and 3-5-5-2.
 * Each step draws a new sample; every fourth is compute_grads then
 * bp_net_update, and a batch of two now and then moves net->B. The learning
 * rate is large enough to move the weights far from where they start. */
static void test_fast_path(void) {
    static const int shapes[][5] = {{1, 1}, {2, 3, 1}, {4, 8, 3}, {3, 5, 5, 2}};
    static const int depth[] = {1, 2, 2, 3};
    bp_err ef, es;
    int combos = 0, fast_combos = 0;
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int sh = 0; sh < 4; sh++)
            for (int act = 0; act < BP_ACT_COUNT; act++)
                for (int loss = 0; loss < BP_LOSS_COUNT; loss++) {
                    const int *sizes = shapes[sh], n = depth[sh];
                    const int I = sizes[0], O = sizes[n];
                    bp_act acts[3] = {act, act, act};
                    uint64_t seed = 100 + 16 * sh + act;
                    bp_net *f = random_net(t, sizes, n, acts, seed);
                    bp_net *s = random_net(t, sizes, n, acts, seed);
                    bp_net_set_fast(s, 0);
                    CHECK(bp_net_fast(f) == !bp_act_is_row(act));
                    CHECK(!bp_net_fast(s));
                    bp_rng r;
                    bp_rng_seed(&r, seed);
                    double x[2 * 4], y[2 * 3], lf = 0, ls = 0;
                    int same = 1, rcf = 0, rcs = 0;
                    for (int step = 0; step < 100 && same && !rcf; step++) {
                        sample(x, I, y, O, loss, &r);
                        if (step % 4 == 3) {
                            rcf = bp_net_compute_grads(f, x, y, 1, loss, &lf, &ef) ||
                                  bp_net_update(f, 0.1, &ef);
                            rcs = bp_net_compute_grads(s, x, y, 1, loss, &ls, &es) ||
                                  bp_net_update(s, 0.1, &es);
                        } else if (step % 25 == 24) {
                            sample(x + I, I, y + O, O, loss, &r);
                            rcf = bp_net_train_step(f, x, y, 2, loss, 0.1, &lf, &ef) != 0;
                            rcs = bp_net_train_step(s, x, y, 2, loss, 0.1, &ls, &es) != 0;
                        } else {
                            rcf = bp_net_train_step(f, x, y, 1, loss, 0.1, &lf, &ef) != 0;
                            rcs = bp_net_train_step(s, x, y, 1, loss, 0.1, &ls, &es) != 0;
                        }
                        same = rcf == rcs && memcmp(&lf, &ls, sizeof lf) == 0 &&
                               same_state(f, s);
                    }
                    if (!same)
                        fprintf(stderr, "fast path differs: %s, shape %d, %s, %s\n",
                                bp_dtype_name(t), sh, bp_act_name(act),
                                bp_loss_name(loss));
                    CHECK(same);
                    /* Only softmax_ce and nll after a softmax layer are
                     * refused, by both. */
                    CHECK(rcf == (act == BP_ACT_SOFTMAX &&
                                  (loss == BP_LOSS_SOFTMAX_CE || loss == BP_LOSS_NLL)));
                    if (rcf) CHECK_STR(ef.msg, es.msg);
                    combos++;
                    fast_combos += bp_net_fast(f);
                    bp_net_free(f);
                    bp_net_free(s);
                }
    CHECK(combos == 2 * 4 * BP_ACT_COUNT * BP_LOSS_COUNT);
    /* (softmax and log_softmax are rows: not on the path.) */
    CHECK(fast_combos == 2 * 4 * (BP_ACT_COUNT - 2) * BP_LOSS_COUNT);
}

/* ------------------------------------------------------------------------ */
/* Criteria: class labels and a loss's parameter on every path               */

/* One step of kind k (0 train_step, 1 compute_grads then update, 2
 * step_rows on rows[]) with criterion c. */
static int crit_step(bp_net *net, int k, const double *x, const double *y, int B,
                     bp_crit c, double *loss, bp_err *e) {
    static const int rows[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    switch (k) {
        case 0: return bp_net_train_step_crit(net, x, y, B, c, 0.1, loss, e);
        case 1:
            return bp_net_compute_grads_crit(net, x, y, B, c, loss, e) ||
                   bp_net_update(net, 0.1, e);
        default:
            return bp_net_step_rows_crit(net, x, BP_F64, rows, y, B, c, 0.1, loss, e);
    }
}

/* Labels are their one-hot rows: softmax_ce and nll with a class per row
 * give the bits of the one-hot targets (loss, weights, every buffer) on the
 * single-sample path (B = 1), the general path, the three kinds of step and
 * both dtypes; the single-sample path with labels the general path's bits. */
static void test_labels_are_one_hot(void) {
    static const int sizes[] = {4, 8, 3};
    static const bp_act acts[][2] = {{BP_ACT_TANH, BP_ACT_IDENTITY},
                                     {BP_ACT_RELU, BP_ACT_IDENTITY},
                                     {BP_ACT_RELU, BP_ACT_LOG_SOFTMAX}};
    static const bp_loss losses[] = {BP_LOSS_SOFTMAX_CE, BP_LOSS_NLL, BP_LOSS_NLL};
    bp_err e;
    int steps = 0;
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int l = 0; l < 3; l++)
            for (int B = 1; B <= 5; B += 4)
                for (int k = 0; k < 3; k++) {
                    bp_net *hot = random_net(t, sizes, 2, acts[l], 5);
                    bp_net *lab = random_net(t, sizes, 2, acts[l], 5);
                    bp_net *slow = random_net(t, sizes, 2, acts[l], 5);
                    bp_net_set_fast(slow, 0);
                    bp_rng r;
                    bp_rng_seed(&r, 9);
                    int same = 1;
                    for (int step = 0; step < 20 && same; step++) {
                        double x[16 * 4], y[16 * 3], c[16], lh, ll, ls;
                        for (int s = 0; s < B; s++) {
                            sample(x + 4 * s, 4, y + 3 * s, 3, BP_LOSS_SOFTMAX_CE, &r);
                            for (int n = 0; n < 3; n++)
                                if (y[3 * s + n] == 1) c[s] = n + 1;
                        }
                        bp_crit hc = bp_crit_of(losses[l]), lc = hc;
                        lc.labels = 1;
                        CHECK(crit_step(hot, k, x, y, B, hc, &lh, &e) == 0);
                        CHECK(crit_step(lab, k, x, c, B, lc, &ll, &e) == 0);
                        CHECK(crit_step(slow, k, x, c, B, lc, &ls, &e) == 0);
                        same = memcmp(&lh, &ll, sizeof lh) == 0 &&
                               memcmp(&ll, &ls, sizeof ll) == 0 && same_state(hot, lab) &&
                               same_state(lab, slow) && isfinite(lh) &&
                               (lh > 0 || losses[l] == BP_LOSS_NLL);
                        steps++;
                    }
                    if (!same)
                        fprintf(stderr, "labels differ: %s %s B=%d step kind %d\n",
                                bp_dtype_name(t), bp_loss_name(losses[l]), B, k);
                    CHECK(same);
                    /* (log_softmax, a row, is not on the single-sample path.) */
                    CHECK(bp_net_fast(lab) == (l < 2) && !bp_net_fast(slow));
                    bp_net_free(hot);
                    bp_net_free(lab);
                    bp_net_free(slow);
                }
    CHECK(steps == 2 * 3 * 2 * 3 * 20);
}

/* The team with labels: the bits of one-hot targets, for both dtypes. */
static void test_labels_team(void) {
    static const int sizes[] = {200, 100, 50, 10};
    static const bp_act acts[] = {BP_ACT_RELU, BP_ACT_SIGMOID, BP_ACT_LOG_SOFTMAX};
    enum { B = 64, I = 200, K = 10 };
    double *x = malloc(sizeof(double) * B * I), y[B * K], c[B], lh, ll;
    fill(x, (size_t)B * I, 3);
    one_hot(y, B, K);
    for (int s = 0; s < B; s++) c[s] = (s * 7) % K + 1;
    bp_err e;
    int before = bp_threads();
    CHECK(bp_set_threads(2, &e) == 0);
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        bp_net *hot = random_net(t, sizes, 3, acts, 4),
               *lab = random_net(t, sizes, 3, acts, 4);
        bp_crit lc = {.loss = BP_LOSS_NLL, .labels = 1};
        for (int step = 0; step < 3; step++) {
            CHECK(bp_net_train_step(hot, x, y, B, BP_LOSS_NLL, 0.05, &lh, &e) == 0);
            CHECK(bp_net_train_step_crit(lab, x, c, B, lc, 0.05, &ll, &e) == 0);
            CHECK(memcmp(&lh, &ll, sizeof lh) == 0);
        }
        CHECK(lab->team != NULL);
        CHECK(same_state(hot, lab));
        bp_net_free(hot);
        bp_net_free(lab);
    }
    CHECK(bp_set_threads(before, &e) == 0);
    free(x);
}

/* huber's delta reaches every path: the single-sample path, the general
 * path and the team give what the loss kernel says of the same outputs,
 * and a delta of 1 given is the default's bits. */
static void test_crit_param(void) {
    static const int sizes[] = {3, 5, 2};
    static const bp_act acts[] = {BP_ACT_TANH, BP_ACT_IDENTITY};
    bp_err e;
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int B = 1; B <= 3; B += 2) {
            bp_net *a = random_net(t, sizes, 2, acts, 8),
                   *b = random_net(t, sizes, 2, acts, 8);
            bp_net *d = random_net(t, sizes, 2, acts, 8);
            double x[3 * 3] = {0.5, -1, 2, 1, 1, -1, 0.3, 0.2, 0.1};
            double y[3 * 2] = {3, -2, 0.1, 0.2, -0.5, 1.5}, la, lb, ld;
            bp_crit half = {.loss = BP_LOSS_HUBER, .param = 0.5};
            bp_crit one = {.loss = BP_LOSS_HUBER, .param = 1.0};
            const double *out = bp_net_forward(a, x, B, &e);
            CHECK(out != NULL);
            double want = bp_loss_forward_crit(out, y, B, 2, half);
            CHECK(want != bp_loss_forward(out, y, B, 2, BP_LOSS_HUBER));
            CHECK(bp_net_train_step_crit(a, x, y, B, half, 0.1, &la, &e) == 0);
            CHECK(la == want || (t == BP_F32 && fabs(la - want) < 1e-6 * (1 + want)));
            CHECK(bp_net_train_step(b, x, y, B, BP_LOSS_HUBER, 0.1, &lb, &e) == 0);
            CHECK(bp_net_train_step_crit(d, x, y, B, one, 0.1, &ld, &e) == 0);
            CHECK(lb == ld && same_state(b, d));
            CHECK(la != lb);
            bp_net_free(a);
            bp_net_free(b);
            bp_net_free(d);
        }
}

/* What a step refuses of a criterion, with its message, on every path. */
static void test_crit_errors(void) {
    static const int sizes[] = {2, 3};
    static const bp_act soft[] = {BP_ACT_SOFTMAX}, ident[] = {BP_ACT_IDENTITY};
    bp_err e;
    double x[4] = {1, 2, 3, 4}, y[6] = {0, 1, 0, 1, 0, 0};
    bp_net *s = random_net(BP_F64, sizes, 1, soft, 1);
    CHECK(bp_net_train_step(s, x, y, 1, BP_LOSS_NLL, 0.1, NULL, &e) == -1);
    CHECK_STR(e.msg, "nll takes log-probabilities: make the last layer 'log_softmax' "
                     "(or use softmax_ce on logits)");
    bp_net *n = random_net(BP_F64, sizes, 1, ident, 1);
    /* B = 1 (the single-sample path, once the buffers are made) and 2. */
    CHECK(bp_net_train_step(n, x, y, 1, BP_LOSS_MSE, 0.1, NULL, &e) == 0);
    CHECK(bp_net_fast(n));
    for (int B = 1; B <= 2; B++) {
        double c[2] = {2, 4};
        if (B == 1) c[0] = 0;
        bp_crit lc = {.loss = BP_LOSS_SOFTMAX_CE, .labels = 1};
        CHECK(bp_net_train_step_crit(n, x, c, B, lc, 0.1, NULL, &e) == -1);
        CHECK_STR(e.msg, B == 1 ? "label 0 in row 1 is not a class in 1..3"
                                : "label 4 in row 2 is not a class in 1..3");
        c[0] = 1.5;
        CHECK(bp_net_compute_grads_crit(n, x, c, B, lc, NULL, &e) == -1);
        CHECK_STR(e.msg, "label 1.5 in row 1 is not a class in 1..3");
        c[0] = NAN;
        CHECK(bp_net_step_rows_crit(n, x, BP_F64, NULL, c, B, lc, 0.1, NULL, &e) == -1);
        CHECK_STR(e.msg, "label nan in row 1 is not a class in 1..3");
        lc.loss = BP_LOSS_MSE;
        c[0] = 1;
        CHECK(bp_net_train_step_crit(n, x, c, B, lc, 0.1, NULL, &e) == -1);
        CHECK_STR(e.msg, "mse takes no class labels: give 3 targets per row");
        bp_crit h = {.loss = BP_LOSS_HUBER, .param = -1};
        CHECK(bp_net_train_step_crit(n, x, y, B, h, 0.1, NULL, &e) == -1);
        CHECK_STR(e.msg, "huber's delta must be a finite number > 0 (got -1)");
        h.param = INFINITY;
        CHECK(bp_net_compute_grads_crit(n, x, y, B, h, NULL, &e) == -1);
        CHECK_STR(e.msg, "huber's delta must be a finite number > 0 (got inf)");
    }
    static const int one_out[] = {2, 1};
    bp_net *o = random_net(BP_F64, one_out, 1, ident, 1);
    double c1 = 1;
    CHECK(bp_net_train_step_crit(o, x, &c1, 1,
                                 (bp_crit){.loss = BP_LOSS_NLL, .labels = 1}, 0.1, NULL,
                                 &e) == -1);
    CHECK_STR(e.msg, "class labels need 2 or more outputs (the network gives 1)");
    bp_net_free(s);
    bp_net_free(n);
    bp_net_free(o);
}

/* Which networks take the single-sample path: small layers (fewer than
 * BP_BLAS_MIN_WORK weights, where the general path runs plain loops), no
 * softmax layer, and not turned off; a layer added later decides again. */
static void test_fast_path_choice(void) {
    bp_err e;
    bp_net *net = bp_net_new(64, &e);
    CHECK(!bp_net_fast(net)); /* no layers */
    CHECK(bp_net_add(net, 63, BP_ACT_RELU, 0, &e) == 0);
    CHECK(bp_net_fast(net)); /* 4032 weights */
    CHECK(bp_net_add(net, 65, BP_ACT_RELU, 0, &e) == 0);
    CHECK(bp_net_fast(net)); /* 63 x 65 = 4095 */
    CHECK(bp_net_add(net, 64, BP_ACT_RELU, 0, &e) == 0);
    CHECK(!bp_net_fast(net)); /* 65 x 64 = 4160 */
    bp_net_free(net);
    net = bp_net_new(64, &e);
    CHECK(bp_net_add(net, 64, BP_ACT_TANH, 0, &e) == 0);
    CHECK(!bp_net_fast(net)); /* 4096: BLAS */
    bp_net_free(net);
    net = bp_net_new_dtype(2, BP_F32, &e);
    CHECK(bp_net_add(net, 3, BP_ACT_SIGMOID, 0, &e) == 0);
    CHECK(bp_net_fast(net));
    bp_net_set_fast(net, 0);
    CHECK(!bp_net_fast(net));
    CHECK(bp_net_add(net, 1, BP_ACT_IDENTITY, 0, &e) == 0);
    CHECK(!bp_net_fast(net)); /* off stays off */
    bp_net_set_fast(net, 1);
    CHECK(bp_net_fast(net));
    CHECK(bp_net_add(net, 2, BP_ACT_SOFTMAX, 0, &e) == 0);
    CHECK(!bp_net_fast(net));
    bp_net_free(net);
}

/* Largest |a - b| / (1 + |b|) over the parameters of two nets. */
static double params_diff(const bp_net *a, const bp_net *b) {
    size_t P = bp_net_param_count(a);
    double *pa = malloc(sizeof(double) * P), *pb = malloc(sizeof(double) * P), w = 0;
    bp_net_params_get(a, pa);
    bp_net_params_get(b, pb);
    for (size_t k = 0; k < P; k++) {
        double d = fabs(pa[k] - pb[k]) / (1 + fabs(pb[k]));
        if (!(d <= w)) w = d;
    }
    free(pa);
    free(pb);
    return w;
}

/* A mini-batch step large enough for the team of threads (1.6 M
 * multiply-adds a step, with bp_threads() >= 2), in both dtypes: against the
 * same steps on one thread, equal to BLAS's rounding (a member's products
 * have fewer rows); against itself and between step_rows and train_step,
 * equal to the bit; compute_grads leaves the weights alone; a loss that is
 * not finite steps nothing; a new thread count makes a new team. Three
 * members on two cores also runs the waits that must yield. */
static void test_team_step(void) {
    static const int sizes[] = {200, 100, 50, 10};
    static const bp_act acts[] = {BP_ACT_RELU, BP_ACT_SIGMOID, BP_ACT_IDENTITY};
    enum { N = 100, B = 64, I = 200, K = 10 };
    int pick[B];
    double *data = malloc(sizeof(double) * N * I), *x = malloc(sizeof(double) * B * I);
    double y[B * K], l1, la, lb;
    fill(data, (size_t)N * I, 7);
    for (int s = 0; s < B; s++) {
        pick[s] = (s * 37 + 5) % N;
        memcpy(x + (size_t)s * I, data + (size_t)pick[s] * I, sizeof(double) * I);
    }
    one_hot(y, B, K);
    bp_err e;
    int before = bp_threads();
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        double tol = t == BP_F64 ? 1e-12 : 1e-5;
        bp_net *one = random_net(t, sizes, 3, acts, 11),
               *a = random_net(t, sizes, 3, acts, 11);
        bp_net *b = random_net(t, sizes, 3, acts, 11);
        for (int step = 0; step < 3; step++) {
            CHECK(bp_set_threads(1, &e) == 0);
            CHECK(bp_net_step_rows(one, data, BP_F64, pick, y, B, BP_LOSS_SOFTMAX_CE,
                                   0.05, &l1, &e) == 0);
            CHECK(bp_set_threads(3, &e) == 0);
            CHECK(bp_net_step_rows(a, data, BP_F64, pick, y, B, BP_LOSS_SOFTMAX_CE, 0.05,
                                   &la, &e) == 0);
            CHECK(bp_net_train_step(b, x, y, B, BP_LOSS_SOFTMAX_CE, 0.05, &lb, &e) == 0);
            CHECK(bp_threads() == 3); /* OpenBLAS's count is put back after a step */
            CHECK(la == lb);
            CHECK_NEAR(la, l1, tol * (1 + fabs(l1)));
        }
        CHECK(one->team == NULL);
        CHECK(a->team != NULL && bp_team_size(a->team) == 3);
        CHECK(same_state(a, b));
        CHECK(params_diff(a, one) <= tol);
        bp_net *fresh = random_net(t, sizes, 3, acts, 11);
        CHECK(params_diff(a, fresh) > 1e-4); /* the steps did move the weights */
        bp_net_free(fresh);

        /* compute_grads: the one-thread gradients, no step. */
        bp_net *g1 = random_net(t, sizes, 3, acts, 11),
               *g3 = random_net(t, sizes, 3, acts, 11);
        CHECK(bp_set_threads(1, &e) == 0);
        CHECK(bp_net_compute_grads(g1, x, y, B, BP_LOSS_SOFTMAX_CE, &l1, &e) == 0);
        CHECK(bp_set_threads(3, &e) == 0);
        CHECK(bp_net_compute_grads(g3, x, y, B, BP_LOSS_SOFTMAX_CE, &la, &e) == 0);
        CHECK(g3->team != NULL);
        CHECK_NEAR(la, l1, tol * (1 + fabs(l1)));
        CHECK(params_diff(g3, g1) == 0);
        double worst = 0;
        for (int l = 0; l < 3; l++)
            for (size_t k = 0; k < (size_t)sizes[l] * sizes[l + 1]; k++) {
                double u = bp_layer_get(&g3->layers[l], BP_FIELD_DW, k);
                double v = bp_layer_get(&g1->layers[l], BP_FIELD_DW, k);
                double d = fabs(u - v) / (1 + fabs(v));
                if (!(d <= worst)) worst = d;
            }
        CHECK(worst <= tol);

        /* A target of inf: the loss is inf and step_rows steps nothing. */
        double yinf[B * K];
        memcpy(yinf, y, sizeof yinf);
        yinf[3] = INFINITY;
        CHECK(bp_net_step_rows(g3, data, BP_F64, pick, yinf, B, BP_LOSS_HALF_SE, 0.05,
                               &la, &e) == 0);
        CHECK(isinf(la));
        CHECK(params_diff(g3, g1) == 0);

        /* Two threads now: the team is made again, of two. */
        CHECK(bp_set_threads(2, &e) == 0);
        CHECK(bp_net_step_rows(a, data, BP_F64, pick, y, B, BP_LOSS_SOFTMAX_CE, 0.05, &la,
                               &e) == 0);
        CHECK(a->team != NULL && bp_team_size(a->team) == 2);
        bp_net *nets[] = {one, a, b, g1, g3};
        for (size_t k = 0; k < sizeof nets / sizeof *nets; k++) bp_net_free(nets[k]);
    }
    CHECK(bp_set_threads(before, &e) == 0);
    free(data);
    free(x);
}

static void test_threads_and_names(void) {
    bp_err e;
    int before = bp_threads();
    CHECK(before >= 1);
    CHECK(bp_set_threads(1, &e) == 0);
    CHECK(bp_threads() == 1);
    CHECK(bp_set_threads(0, &e) == -1);
    CHECK_STR(e.msg, "threads must be >= 1 (got 0)");
    CHECK(bp_set_threads(before, &e) == 0);
    CHECK_STR(bp_dtype_name(BP_F32), "float32");
    CHECK(bp_dtype_parse("float64") == BP_F64);
    CHECK(bp_dtype_parse("double") == -1);
    CHECK(bp_net_new_dtype(2, BP_DTYPE_COUNT, &e) == NULL);
    CHECK_STR(e.msg, "unknown dtype 2");
}

int main(void) {
    test_lecture();
    test_train_step_equals_stages();
    test_errors();
    test_init();
    test_lecture_float32();
    test_fused_step_is_stages();
    test_step_rows();
    test_fused_kernels();
    test_finite_differences();
    test_float32_follows_float64();
    test_threads_and_names();
    test_team_step();
    test_fast_path();
    test_fast_path_choice();
    test_labels_are_one_hot();
    test_labels_team();
    test_crit_param();
    test_crit_errors();
    return check_report("test_net");
}
