/* test_optim.c: the optimisers, schedules and clipping against arithmetic
 * done by hand.
 *
 * Most tests use the smallest net there is: one input, one identity neuron,
 * so its parameters are w (layer 1's only weight) and b (its bias). The
 * gradients are not computed: they are set by hand in dW and db before each
 * step, because what is under test is the update rule, not backward. Each
 * rule is followed for two steps (three for momentum), written out in the
 * comments the way one would on paper; the expected values in the code are
 * that same arithmetic, and the engine must agree to 1e-15 relative. The
 * decimals in the comments are checked too, to the digits written.
 *
 * Plain SGD is checked against bp_net_update bit for bit on the lecture's
 * 2-3-1 network, so that the lecture stays exact with an optimiser. */
#include <math.h>
#include <stdlib.h>

#include "bp_net.h"
#include "bp_optim.h"
#include "bp_team.h"
#include "check.h"
#include "optim_tiny.h"

static double W(const bp_net *net) { return net->layers[0].W[0]; }
static double Bias(const bp_net *net) { return net->layers[0].b[0]; }

static bp_optim *make(const bp_net *net, bp_optim_config c) {
    bp_err e = {{0}};
    bp_optim *o = bp_optim_new(net, &c, &e);
    CHECK(o != NULL);
    if (!o) fprintf(stderr, "bp_optim_new: %s\n", e.msg);
    return o;
}

/* The lecture's network, as in test_net.c. */
static bp_net *lecture_net(void) {
    static const double W1[3][2] = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}};
    static const double W2[3] = {-0.23, 0.3, 0.1};
    bp_err e;
    bp_net *net = bp_net_new(2, &e);
    CHECK(bp_net_add(net, 3, BP_ACT_SIGMOID, 0, &e) == 0);
    CHECK(bp_net_add(net, 1, BP_ACT_IDENTITY, 0, &e) == 0);
    for (int n = 1; n <= 3; n++) {
        for (int i = 1; i <= 2; i++) *bp_net_weight(net, 1, n, i, &e) = W1[n - 1][i - 1];
        *bp_net_bias(net, 1, n, &e) = 1;
        *bp_net_weight(net, 2, 1, n, &e) = W2[n - 1];
    }
    *bp_net_bias(net, 2, 1, &e) = 1;
    return net;
}

static void test_names(void) {
    for (int k = 0; k < BP_OPTIM_COUNT; k++)
        CHECK(bp_optim_parse(bp_optim_name((bp_optim_kind)k)) == k);
    CHECK(bp_optim_parse("adamw") == BP_OPTIM_ADAMW);
    CHECK(bp_optim_parse("rmsprop") == BP_OPTIM_RMSPROP);
    CHECK(bp_optim_parse("Adam") == -1);
    CHECK(bp_optim_parse("lbfgs") == -1);
    CHECK_STR(bp_optim_name((bp_optim_kind)99), "?");
    for (int k = 0; k < BP_SCHED_COUNT; k++)
        CHECK(bp_sched_parse(bp_sched_name((bp_sched_kind)k)) == k);
    CHECK(bp_sched_parse("exponential") == BP_SCHED_EXP);
    CHECK(bp_sched_parse("cosine") == BP_SCHED_COSINE);
    CHECK(bp_sched_parse("exp") == -1);
    CHECK_STR(bp_sched_name((bp_sched_kind)-1), "?");

    /* PyTorch's defaults. */
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAMW);
    CHECK(c.kind == BP_OPTIM_ADAMW && c.lr == 1e-3 && c.beta1 == 0.9 &&
          c.beta2 == 0.999 && c.eps == 1e-8 && c.weight_decay == 1e-2);
    c = bp_optim_config_default(BP_OPTIM_RMSPROP);
    CHECK(c.lr == 1e-2 && c.alpha == 0.99 && c.eps == 1e-8 && c.momentum == 0 &&
          !c.centered && c.weight_decay == 0);
    c = bp_optim_config_default(BP_OPTIM_SGD);
    CHECK(c.momentum == 0 && c.dampening == 0 && !c.nesterov && c.clip_norm == 0);
}

/* ------------------------------------------------------------------------ */

/* The lecture's 50 steps with bp_net_train_step, and the same 50 with the
 * stages and an SGD optimiser: identical bits. */
static void test_sgd_is_bp_net_update(void) {
    bp_net *a = lecture_net(), *b = lecture_net();
    bp_err e;
    const double x[2] = {1, 2}, y[1] = {3};
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_SGD);
    c.lr = 0.01;
    bp_optim *o = make(b, c);
    for (int s = 0; s < 50; s++) {
        CHECK(bp_net_train_step(a, x, y, 1, BP_LOSS_HALF_SE, 0.01, NULL, &e) == 0);
        double dout[1] = {0};
        const double *out = bp_net_forward(b, x, 1, &e);
        bp_loss_backward(dout, out, y, 1, 1, BP_LOSS_HALF_SE);
        bp_net_zero_grad(b);
        CHECK(bp_net_backward(b, dout, &e) == 0);
        step(o, b);
    }
    double pa[13], pb[13];
    CHECK(bp_net_param_count(a) == 13);
    bp_net_params_get(a, pa);
    bp_net_params_get(b, pb);
    CHECK(memcmp(pa, pb, sizeof pa) == 0);
    CHECK(bp_optim_steps(o) == 50);
    CHECK(bp_optim_state_name(o, 0) == NULL); /* plain SGD keeps nothing */
    CHECK(bp_optim_state_size(o) == 1);
    bp_optim_free(o);
    bp_net_free(a);
    bp_net_free(b);
}

static void test_sgd_plain_and_l2(void) {
    /* lr 0.1, w = 1, b = 0, gradients (0.5, -2):
     *   w = 1 - 0.1 * 0.5 = 0.95,  b = 0 - 0.1 * -2 = 0.2 */
    bp_net *net = tiny(1, 0);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_SGD);
    c.lr = 0.1;
    bp_optim *o = make(net, c);
    set_grads(net, 0.5, -2);
    step(o, net);
    CHECK_REL(W(net), 1 - 0.1 * 0.5);
    CHECK_REL(Bias(net), 0 - 0.1 * -2);
    CHECK_NEAR(W(net), 0.95, 1e-15);
    CHECK_NEAR(Bias(net), 0.2, 1e-15);
    bp_optim_free(o);
    bp_net_free(net);

    /* L2 weight decay 0.1 joins the gradient; dW itself stays 0.5.
     * step 1: g = 0.5 + 0.1 * 1     = 0.6,    w = 1 - 0.1 * 0.6 = 0.94
     *         gb = -2 + 0.1 * 0      = -2,     b = 0 + 0.2 = 0.2
     * step 2: g = 0.5 + 0.1 * 0.94  = 0.594,  w = 0.94 - 0.0594 = 0.8806
     *         gb = -2 + 0.1 * 0.2    = -1.98,  b = 0.2 + 0.198 = 0.398 */
    net = tiny(1, 0);
    c.weight_decay = 0.1;
    o = make(net, c);
    set_grads(net, 0.5, -2);
    step(o, net);
    CHECK(net->layers[0].dW[0] == 0.5 && net->layers[0].db[0] == -2);
    step(o, net);
    double w1 = 1 - 0.1 * (0.5 + 0.1 * 1), b1 = 0 - 0.1 * (-2 + 0.1 * 0);
    CHECK_REL(W(net), w1 - 0.1 * (0.5 + 0.1 * w1));
    CHECK_REL(Bias(net), b1 - 0.1 * (-2 + 0.1 * b1));
    CHECK_NEAR(W(net), 0.8806, 1e-15);
    CHECK_NEAR(Bias(net), 0.398, 1e-15);
    bp_optim_free(o);
    bp_net_free(net);
}

static void test_sgd_momentum(void) {
    /* lr 0.1, momentum 0.9, w = 1, b = 0; gradients (1, 2), (0.5, -1), (0, 0).
     * The buffer starts as the first gradient itself (PyTorch's rule):
     * step 1: bw = 1                    w = 1 - 0.1 * 1       = 0.9
     *         bb = 2                    b = 0 - 0.1 * 2       = -0.2
     * step 2: bw = 0.9 * 1 + 0.5 = 1.4  w = 0.9 - 0.1 * 1.4   = 0.76
     *         bb = 0.9 * 2 - 1 = 0.8    b = -0.2 - 0.1 * 0.8  = -0.28
     * step 3: bw = 0.9 * 1.4 = 1.26     w = 0.76 - 0.126      = 0.634
     *         bb = 0.9 * 0.8 = 0.72     b = -0.28 - 0.072     = -0.352
     * The third step moves with no gradient at all: that is momentum. */
    bp_net *net = tiny(1, 0);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_SGD);
    c.lr = 0.1;
    c.momentum = 0.9;
    bp_optim *o = make(net, c);
    size_t n = 0;
    const double *buf = bp_optim_state(o, "momentum", &n);
    CHECK(buf != NULL && n == 2);
    set_grads(net, 1, 2);
    step(o, net);
    CHECK(buf[0] == 1 && buf[1] == 2);
    set_grads(net, 0.5, -1);
    step(o, net);
    CHECK_REL(buf[0], 0.9 * 1 + 0.5);
    CHECK_REL(buf[1], 0.9 * 2 - 1);
    set_grads(net, 0, 0);
    step(o, net);
    double bw2 = 0.9 * 1 + 0.5, bb2 = 0.9 * 2 - 1;
    double w2 = (1 - 0.1 * 1) - 0.1 * bw2, b2 = (0 - 0.1 * 2) - 0.1 * bb2;
    CHECK_REL(buf[0], 0.9 * bw2);
    CHECK_REL(buf[1], 0.9 * bb2);
    CHECK_REL(W(net), w2 - 0.1 * (0.9 * bw2));
    CHECK_REL(Bias(net), b2 - 0.1 * (0.9 * bb2));
    CHECK_NEAR(W(net), 0.634, 1e-15);
    CHECK_NEAR(Bias(net), -0.352, 1e-15);
    bp_optim_free(o);
    bp_net_free(net);

    /* Dampening 0.5 leaves the first step alone and halves later gradients:
     * step 1: bw = 1                         w = 1 - 0.1        = 0.9
     * step 2: bw = 0.9 * 1 + 0.5 * 0.5 = 1.15, w = 0.9 - 0.115   = 0.785 */
    net = tiny(1, 0);
    c.dampening = 0.5;
    o = make(net, c);
    set_grads(net, 1, 0);
    step(o, net);
    CHECK_REL(W(net), 0.9);
    set_grads(net, 0.5, 0);
    step(o, net);
    CHECK_REL(bp_optim_state(o, "momentum", NULL)[0], 0.9 * 1 + (1 - 0.5) * 0.5);
    CHECK_REL(W(net), (1 - 0.1 * 1) - 0.1 * (0.9 * 1 + (1 - 0.5) * 0.5));
    CHECK_NEAR(W(net), 0.785, 1e-15);
    bp_optim_free(o);
    bp_net_free(net);

    /* Nesterov: the step is g + mu * buffer.
     * step 1: bw = 1;    g = 1 + 0.9 * 1 = 1.9;      w = 1 - 0.19    = 0.81
     *         bb = -1;   g = -1 - 0.9 = -1.9;        b = 0 + 0.19    = 0.19
     * step 2: bw = 0.9 * 1 + 0.5 = 1.4;  g = 0.5 + 0.9 * 1.4 = 1.76;
     *                                                 w = 0.81 - 0.176 = 0.634
     *         bb = 0.9 * -1 + 1 = 0.1;   g = 1 + 0.09 = 1.09;
     *                                                 b = 0.19 - 0.109 = 0.081 */
    net = tiny(1, 0);
    c.dampening = 0;
    c.nesterov = 1;
    o = make(net, c);
    set_grads(net, 1, -1);
    step(o, net);
    CHECK_REL(W(net), 1 - 0.1 * (1 + 0.9 * 1));
    CHECK_REL(Bias(net), 0 - 0.1 * (-1 + 0.9 * -1));
    set_grads(net, 0.5, 1);
    step(o, net);
    double w1 = 1 - 0.1 * (1 + 0.9 * 1), b1 = 0 - 0.1 * (-1 + 0.9 * -1);
    CHECK_REL(W(net), w1 - 0.1 * (0.5 + 0.9 * (0.9 * 1 + 0.5)));
    CHECK_REL(Bias(net), b1 - 0.1 * (1 + 0.9 * (0.9 * -1 + 1)));
    CHECK_NEAR(W(net), 0.634, 1e-15);
    CHECK_NEAR(Bias(net), 0.081, 1e-15);
    bp_optim_free(o);
    bp_net_free(net);
}

/* ------------------------------------------------------------------------ */

static void test_adam(void) {
    /* lr 0.1, betas 0.9 and 0.999, eps 1e-8; w = 1, b = 0.
     * Gradients: w gets 0.5 then -1, b gets -2 twice.
     *
     * w, step 1 (t = 1):
     *   m = 0.9 * 0 + 0.1 * 0.5         = 0.05
     *   v = 0.999 * 0 + 0.001 * 0.25    = 0.00025
     *   m_hat = 0.05 / (1 - 0.9)        = 0.5
     *   v_hat = 0.00025 / (1 - 0.999)   = 0.25,   sqrt = 0.5
     *   w = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 1 - 0.099999998 = 0.900000002
     * w, step 2 (t = 2):
     *   m = 0.9 * 0.05 + 0.1 * -1       = -0.055
     *   v = 0.999 * 0.00025 + 0.001 * 1 = 0.00124975
     *   m_hat = -0.055 / (1 - 0.81)     = -0.2894736842...
     *   v_hat = 0.00124975 / (1 - 0.998001) = 0.6251875938..., sqrt = 0.7906880509...
     *   w = 0.900000002 + 0.1 * 0.2894736842 / 0.7906880609 = 0.9366103542
     * b sees a constant gradient, so m_hat = -2 and v_hat = 4 at every step
     * and b climbs by 0.1 * 2 / (2 + 1e-8) = 0.0999999995 a step: Adam moves
     * about lr per step whatever the gradient's size.
     *   b = 0.0999999995, then 0.199999999 */
    bp_net *net = tiny(1, 0);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAM);
    c.lr = 0.1;
    bp_optim *o = make(net, c);
    size_t n = 0;
    const double *m = bp_optim_state(o, "m", &n), *v = bp_optim_state(o, "v", NULL);
    CHECK(m != NULL && v != NULL && n == 2);
    CHECK(bp_optim_state(o, "momentum", &n) == NULL && n == 0);

    set_grads(net, 0.5, -2);
    step(o, net);
    double m1 = (1 - 0.9) * 0.5, v1 = (1 - 0.999) * 0.25;
    double w1 = 1 - 0.1 * (m1 / (1 - 0.9)) / (sqrt(v1 / (1 - 0.999)) + 1e-8);
    CHECK_REL(m[0], m1);
    CHECK_REL(v[0], v1);
    CHECK_NEAR(m[0], 0.05, 1e-16);
    CHECK_NEAR(v[0], 0.00025, 1e-18);
    CHECK_REL(W(net), w1);
    CHECK_NEAR(W(net), 0.900000002, 1e-15);
    CHECK_REL(Bias(net), 0 + 0.1 * 2 / (2 + 1e-8));
    CHECK_NEAR(Bias(net), 0.0999999995, 1e-15);

    set_grads(net, -1, -2);
    step(o, net);
    double m2 = 0.9 * m1 + (1 - 0.9) * -1, v2 = 0.999 * v1 + (1 - 0.999) * 1;
    double mh2 = m2 / (1 - 0.9 * 0.9), vh2 = v2 / (1 - 0.999 * 0.999);
    CHECK_REL(m[0], m2);
    CHECK_REL(v[0], v2);
    CHECK_NEAR(m[0], -0.055, 1e-16);
    CHECK_NEAR(v[0], 0.00124975, 1e-17);
    CHECK_NEAR(mh2, -0.2894736842, 1e-10);
    CHECK_NEAR(sqrt(vh2), 0.7906880509, 1e-10);
    CHECK_REL(W(net), w1 - 0.1 * mh2 / (sqrt(vh2) + 1e-8));
    CHECK_NEAR(W(net), 0.9366103542, 1e-10);
    CHECK_NEAR(Bias(net), 0.199999999, 1e-15);
    CHECK(bp_optim_steps(o) == 2);
    bp_optim_free(o);
    bp_net_free(net);
}

static void test_adam_l2(void) {
    /* Adam with L2 weight decay 0.1 adds 0.1 * w to the gradient, so the
     * decay goes through the moments.
     * step 1: g = 0.5 + 0.1 * 1 = 0.6; m = 0.06, v = 0.00036;
     *         m_hat = 0.6, sqrt(v_hat) = 0.6;
     *         w = 1 - 0.1 * 0.6 / 0.60000001 = 0.9000000017
     * step 2: g = -1 + 0.1 * 0.9000000017 = -0.9099999998;
     *         m = 0.054 - 0.09099999998 = -0.03699999998
     *         v = 0.999 * 0.00036 + 0.001 * 0.8280999997 = 0.00118773999...
     *         m_hat = -0.1947368420, sqrt(v_hat) = 0.7708223423
     *         w = 0.9000000017 + 0.1 * 0.1947368420 / 0.7708223523 = 0.9252635194 */
    bp_net *net = tiny(1, 0);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAM);
    c.lr = 0.1;
    c.weight_decay = 0.1;
    bp_optim *o = make(net, c);
    set_grads(net, 0.5, 0);
    step(o, net);
    double g1 = 0.5 + 0.1 * 1;
    double m1 = (1 - 0.9) * g1, v1 = (1 - 0.999) * g1 * g1;
    double w1 = 1 - 0.1 * (m1 / (1 - 0.9)) / (sqrt(v1 / (1 - 0.999)) + 1e-8);
    CHECK_REL(W(net), w1);
    CHECK_NEAR(W(net), 0.9000000017, 1e-10);
    CHECK(Bias(net) == 0); /* zero gradient, zero weight: nothing moves */
    set_grads(net, -1, 0);
    step(o, net);
    double g2 = -1 + 0.1 * w1;
    double m2 = 0.9 * m1 + (1 - 0.9) * g2, v2 = 0.999 * v1 + (1 - 0.999) * g2 * g2;
    double mh2 = m2 / (1 - 0.9 * 0.9), vh2 = v2 / (1 - 0.999 * 0.999);
    CHECK_NEAR(mh2, -0.1947368420, 1e-10);
    CHECK_NEAR(sqrt(vh2), 0.7708223423, 1e-10);
    CHECK_REL(W(net), w1 - 0.1 * mh2 / (sqrt(vh2) + 1e-8));
    CHECK_NEAR(W(net), 0.9252635194, 1e-10);
    bp_optim_free(o);
    bp_net_free(net);
}

static void test_adamw(void) {
    /* AdamW, weight decay 0.1, otherwise as test_adam: first w shrinks by
     * lr * wd * w, then Adam's step from moments that never see the decay.
     * step 1: w = 1 - 0.1 * 0.1 * 1 = 0.99;   w = 0.99 - 0.099999998 = 0.890000002
     * step 2: w = 0.890000002 * 0.99 = 0.88110000198;
     *         w = 0.88110000198 + 0.1 * 0.2894736842 / 0.7906880609 = 0.9177103542
     * The moments are Adam's exactly: decoupled means they hold g alone. */
    bp_net *net = tiny(1, 0), *ref = tiny(1, 0);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAMW);
    c.lr = 0.1;
    c.weight_decay = 0.1;
    bp_optim *o = make(net, c);
    c.kind = BP_OPTIM_ADAM;
    c.weight_decay = 0;
    bp_optim *plain = make(ref, c);
    set_grads(net, 0.5, -2);
    set_grads(ref, 0.5, -2);
    step(o, net);
    step(plain, ref);
    double m1 = (1 - 0.9) * 0.5, v1 = (1 - 0.999) * 0.25;
    double a1 = 0.1 * (m1 / (1 - 0.9)) / (sqrt(v1 / (1 - 0.999)) + 1e-8);
    double w1 = 1 * (1 - 0.1 * 0.1) - a1;
    CHECK_REL(W(net), w1);
    CHECK_NEAR(W(net), 0.890000002, 1e-15);
    /* b is 0, so decay does nothing to it: it moves as Adam's does. */
    CHECK(Bias(net) == Bias(ref));
    set_grads(net, -1, -2);
    set_grads(ref, -1, -2);
    step(o, net);
    step(plain, ref);
    double m2 = 0.9 * m1 + (1 - 0.9) * -1, v2 = 0.999 * v1 + (1 - 0.999) * 1;
    double a2 = 0.1 * (m2 / (1 - 0.9 * 0.9)) / (sqrt(v2 / (1 - 0.999 * 0.999)) + 1e-8);
    CHECK_REL(W(net), w1 * (1 - 0.1 * 0.1) - a2);
    CHECK_NEAR(W(net), 0.9177103542, 1e-10);
    size_t n;
    const double *mw = bp_optim_state(o, "m", &n), *mr = bp_optim_state(plain, "m", NULL);
    const double *vw = bp_optim_state(o, "v", NULL),
                 *vr = bp_optim_state(plain, "v", NULL);
    CHECK(memcmp(mw, mr, 2 * sizeof(double)) == 0);
    CHECK(memcmp(vw, vr, 2 * sizeof(double)) == 0);
    bp_optim_free(o);
    bp_optim_free(plain);
    bp_net_free(net);
    bp_net_free(ref);
}

/* ------------------------------------------------------------------------ */

static void test_rmsprop(void) {
    /* lr 0.01, alpha 0.99, eps 1e-8, w = 1; gradients 0.5 then -1.
     * step 1: v = 0.01 * 0.25 = 0.0025,          d = sqrt(v) + 1e-8 = 0.05000001
     *         w = 1 - 0.01 * 0.5 / 0.05000001    = 1 - 0.09999998 = 0.90000002
     * step 2: v = 0.99 * 0.0025 + 0.01 * 1 = 0.012475, d = 0.1116915495...
     *         w = 0.90000002 + 0.01 / 0.1116915495 = 0.9895323082
     * No bias correction: the first step is 10 times the lr. */
    bp_net *net = tiny(1, 0);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_RMSPROP);
    c.lr = 0.01;
    bp_optim *o = make(net, c);
    CHECK_STR(bp_optim_state_name(o, 0), "v");
    CHECK(bp_optim_state_name(o, 1) == NULL);
    const double *v = bp_optim_state(o, "v", NULL);
    set_grads(net, 0.5, 0);
    step(o, net);
    double v1 = (1 - 0.99) * 0.25, w1 = 1 - 0.01 * 0.5 / (sqrt(v1) + 1e-8);
    CHECK_REL(v[0], v1);
    CHECK_REL(W(net), w1);
    CHECK_NEAR(W(net), 0.90000002, 1e-14);
    set_grads(net, -1, 0);
    step(o, net);
    double v2 = 0.99 * v1 + (1 - 0.99) * 1;
    CHECK_REL(v[0], v2);
    CHECK_NEAR(v[0], 0.012475, 1e-16);
    CHECK_NEAR(sqrt(v2) + 1e-8, 0.1116915495, 1e-10);
    CHECK_REL(W(net), w1 - 0.01 * -1 / (sqrt(v2) + 1e-8));
    CHECK_NEAR(W(net), 0.9895323082, 1e-10);
    bp_optim_free(o);
    bp_net_free(net);

    /* With momentum 0.9 the scaled gradient goes into a buffer:
     * step 1: buf = 0.5 / 0.05000001 = 9.999998,  w = 1 - 0.09999998 = 0.90000002
     * step 2: buf = 0.9 * 9.999998 - 1 / 0.1116915495 = 8.9999982 - 8.9532306
     *             = 0.0467693809,                  w = 0.90000002 - 0.000467693809
     *             = 0.8995323262 */
    net = tiny(1, 0);
    c.momentum = 0.9;
    o = make(net, c);
    const double *buf = bp_optim_state(o, "momentum", NULL);
    CHECK(buf != NULL);
    set_grads(net, 0.5, 0);
    step(o, net);
    double b1 = 0.5 / (sqrt(v1) + 1e-8);
    CHECK_REL(buf[0], b1);
    CHECK_NEAR(buf[0], 9.999998, 1e-12);
    set_grads(net, -1, 0);
    step(o, net);
    double b2 = 0.9 * b1 + -1 / (sqrt(v2) + 1e-8);
    CHECK_REL(buf[0], b2);
    CHECK_NEAR(buf[0], 0.0467693809, 1e-10);
    CHECK_REL(W(net), (1 - 0.01 * b1) - 0.01 * b2);
    CHECK_NEAR(W(net), 0.8995323262, 1e-10);
    bp_optim_free(o);
    bp_net_free(net);

    /* Centered: divide by sqrt(v - a^2), a the mean gradient.
     * step 1: a = 0.01 * 0.5 = 0.005;  v - a^2 = 0.0025 - 0.000025 = 0.002475;
     *         d = 0.0497493719 + 1e-8;  w = 1 - 0.005 / 0.0497493819 = 0.8994962387
     * step 2: a = 0.99 * 0.005 - 0.01 = -0.00505;
     *         v - a^2 = 0.012475 - 0.0000255025 = 0.0124494975;
     *         d = 0.1115773162;  w = 0.8994962387 + 0.01 / 0.1115773162 = 0.9891201823 */
    net = tiny(1, 0);
    c.momentum = 0;
    c.centered = 1;
    o = make(net, c);
    CHECK_STR(bp_optim_state_name(o, 1), "grad_avg");
    set_grads(net, 0.5, 0);
    step(o, net);
    double a1 = (1 - 0.99) * 0.5;
    double d1 = sqrt(v1 - a1 * a1) + 1e-8, cw1 = 1 - 0.01 * 0.5 / d1;
    CHECK_REL(bp_optim_state(o, "grad_avg", NULL)[0], a1);
    CHECK_REL(W(net), cw1);
    CHECK_NEAR(W(net), 0.8994962387, 1e-10);
    set_grads(net, -1, 0);
    step(o, net);
    double a2 = 0.99 * a1 + (1 - 0.99) * -1, d2 = sqrt(v2 - a2 * a2) + 1e-8;
    CHECK_NEAR(a2, -0.00505, 1e-17);
    CHECK_NEAR(v2 - a2 * a2, 0.0124494975, 1e-16);
    CHECK_REL(W(net), cw1 - 0.01 * -1 / d2);
    CHECK_NEAR(W(net), 0.9891201823, 1e-10);
    bp_optim_free(o);
    bp_net_free(net);

    /* L2 weight decay 0.1: g = 0.5 + 0.1 = 0.6, v = 0.0036, d = 0.06000001,
     * w = 1 - 0.01 * 0.6 / 0.06000001 = 0.9000000167; then
     * g = -1 + 0.09000000167 = -0.9099999983, v = 0.011844999970, d = 0.1088347470,
     * w = 0.9000000167 + 0.01 * 0.9099999983 / 0.1088347470 = 0.9836130193 */
    net = tiny(1, 0);
    c.centered = 0;
    c.weight_decay = 0.1;
    o = make(net, c);
    set_grads(net, 0.5, 0);
    step(o, net);
    double g1 = 0.5 + 0.1 * 1, lv1 = (1 - 0.99) * g1 * g1;
    double lw1 = 1 - 0.01 * g1 / (sqrt(lv1) + 1e-8);
    CHECK_REL(W(net), lw1);
    set_grads(net, -1, 0);
    step(o, net);
    double g2 = -1 + 0.1 * lw1, lv2 = 0.99 * lv1 + (1 - 0.99) * g2 * g2;
    CHECK_REL(W(net), lw1 - 0.01 * g2 / (sqrt(lv2) + 1e-8));
    CHECK_NEAR(W(net), 0.9836130193, 1e-10);
    bp_optim_free(o);
    bp_net_free(net);
}

/* ------------------------------------------------------------------------ */

static void test_schedules(void) {
    bp_schedule s = {.kind = BP_SCHED_STEP, .step_size = 3, .gamma = 0.5};
    bp_err e;
    CHECK(bp_schedule_check(&s, &e) == 0);
    /* StepLR(step_size 3, gamma 0.5) from 0.1: three steps at each rate. */
    CHECK(bp_schedule_lr(&s, 0.1, 0) == 0.1);
    CHECK(bp_schedule_lr(&s, 0.1, 2) == 0.1);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 3), 0.05);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 5), 0.05);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 6), 0.025);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 9), 0.0125);

    /* ExponentialLR(0.9): 0.1, 0.09, 0.081, 0.0729 */
    s = (bp_schedule){.kind = BP_SCHED_EXP, .gamma = 0.9};
    CHECK(bp_schedule_check(&s, &e) == 0);
    CHECK(bp_schedule_lr(&s, 0.1, 0) == 0.1);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 1), 0.09);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 2), 0.081);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 3), 0.0729);

    /* CosineAnnealingLR(t_max 4, eta_min 0.01) from 0.1:
     *   t = 0: 0.1
     *   t = 1: 0.01 + 0.09 * (1 + cos(pi/4)) / 2 = 0.01 + 0.045 * 1.7071067812 = 0.0868198052
     *   t = 2: 0.01 + 0.045 = 0.055
     *   t = 3: 0.01 + 0.045 * (1 - 0.7071067812) = 0.0231801948
     *   t = 4: 0.01;  t = 6: back up to 0.055;  t = 8: 0.1 */
    s = (bp_schedule){.kind = BP_SCHED_COSINE, .t_max = 4, .eta_min = 0.01};
    CHECK(bp_schedule_check(&s, &e) == 0);
    CHECK(bp_schedule_lr(&s, 0.1, 0) == 0.1);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 1), 0.01 + 0.09 * (1 + sqrt(0.5)) / 2);
    CHECK_NEAR(bp_schedule_lr(&s, 0.1, 1), 0.0868198052, 1e-10);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 2), 0.055);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 3), 0.01 + 0.09 * (1 - sqrt(0.5)) / 2);
    CHECK_NEAR(bp_schedule_lr(&s, 0.1, 3), 0.0231801948, 1e-10);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 4), 0.01);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 6), 0.055);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 8), 0.1);

    /* LinearLR's documented example: lr 0.05, start_factor 0.5, 4 steps:
     * 0.025, 0.03125, 0.0375, 0.04375, then 0.05 for good. */
    s = (bp_schedule){.kind = BP_SCHED_NONE, .warmup_steps = 4, .start_factor = 0.5};
    CHECK(bp_schedule_check(&s, &e) == 0);
    CHECK_REL(bp_schedule_lr(&s, 0.05, 0), 0.025);
    CHECK_REL(bp_schedule_lr(&s, 0.05, 1), 0.03125);
    CHECK_REL(bp_schedule_lr(&s, 0.05, 2), 0.0375);
    CHECK_REL(bp_schedule_lr(&s, 0.05, 3), 0.04375);
    CHECK(bp_schedule_lr(&s, 0.05, 4) == 0.05);
    CHECK(bp_schedule_lr(&s, 0.05, 100) == 0.05);

    /* Warm-up then cosine: 2 steps from 0.5, then t_max 4 down to 0, lr 0.1:
     *   0.05, 0.075, then the cosine from its start: 0.1,
     *   0.05 * (1 + 0.7071067812) = 0.0853553391, 0.05, ..., 0 at t = 6 */
    s = (bp_schedule){
        .kind = BP_SCHED_COSINE, .t_max = 4, .warmup_steps = 2, .start_factor = 0.5};
    CHECK(bp_schedule_check(&s, &e) == 0);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 0), 0.05);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 1), 0.075);
    CHECK(bp_schedule_lr(&s, 0.1, 2) == 0.1);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 3), 0.1 * (1 + sqrt(0.5)) / 2);
    CHECK_NEAR(bp_schedule_lr(&s, 0.1, 3), 0.0853553391, 1e-10);
    CHECK_REL(bp_schedule_lr(&s, 0.1, 4), 0.05);
    CHECK(bp_schedule_lr(&s, 0.1, 6) == 0);

    /* Warm-up 3 from 0.25, then StepLR(2, 0.1), lr 1:
     *   0.25, 0.5, 0.75 | 1, 1, 0.1, 0.1, 0.01 */
    s = (bp_schedule){.kind = BP_SCHED_STEP,
                      .step_size = 2,
                      .gamma = 0.1,
                      .warmup_steps = 3,
                      .start_factor = 0.25};
    const double want[8] = {0.25, 0.5, 0.75, 1, 1, 0.1, 0.1, 0.01};
    for (int t = 0; t < 8; t++) CHECK_REL(bp_schedule_lr(&s, 1, t), want[t]);
    CHECK(bp_schedule_lr(NULL, 0.3, 7) == 0.3);

    /* Errors. */
    s = (bp_schedule){.kind = BP_SCHED_STEP, .step_size = 0, .gamma = 0.5};
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "step schedule needs step_size >= 1 (got 0)");
    s = (bp_schedule){.kind = BP_SCHED_EXP, .gamma = 0};
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "exponential schedule needs a finite gamma > 0 (got 0)");
    s = (bp_schedule){.kind = BP_SCHED_STEP, .step_size = 2, .gamma = NAN};
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "step schedule needs a finite gamma > 0 (got nan)");
    s = (bp_schedule){.kind = BP_SCHED_COSINE, .t_max = 0};
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "cosine schedule needs t_max >= 1 (got 0)");
    s = (bp_schedule){.kind = BP_SCHED_COSINE, .t_max = 5, .eta_min = -1};
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "cosine schedule needs a finite eta_min >= 0 (got -1)");
    s = (bp_schedule){.kind = BP_SCHED_NONE, .warmup_steps = -2};
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "warmup_steps must be >= 0 (got -2)");
    s = (bp_schedule){.kind = BP_SCHED_NONE, .warmup_steps = 2, .start_factor = 0};
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "warm-up start_factor must be in (0, 1] (got 0)");
    s = (bp_schedule){.kind = BP_SCHED_NONE, .warmup_steps = 2, .start_factor = 1.5};
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "warm-up start_factor must be in (0, 1] (got 1.5)");
    s = (bp_schedule){.kind = (bp_sched_kind)7};
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "unknown schedule 7");
}

/* The optimiser steps with the schedule's lr of its own step count. */
static void test_optim_follows_schedule(void) {
    /* SGD lr 0.1, ExponentialLR(0.5), gradient 1 every step:
     *   lr 0.1, 0.05, 0.025 -> w = 0.9, 0.85, 0.825; the next lr is 0.0125.
     * Base lr 0.2 from then on: 0.2 * 0.5^3 = 0.025; w = 0.8. */
    bp_net *net = tiny(1, 0);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_SGD);
    c.lr = 0.1;
    bp_optim *o = make(net, c);
    bp_schedule s = {.kind = BP_SCHED_EXP, .gamma = 0.5};
    bp_err e;
    CHECK(bp_optim_set_schedule(o, &s, &e) == 0);
    CHECK(bp_optim_lr(o) == 0.1);
    for (int t = 0; t < 3; t++) {
        set_grads(net, 1, 0);
        step(o, net);
    }
    CHECK_REL(W(net), ((1 - 0.1) - 0.05) - 0.025);
    CHECK_NEAR(W(net), 0.825, 1e-15);
    CHECK(bp_optim_steps(o) == 3);
    CHECK(bp_optim_lr(o) == 0.0125);
    CHECK(bp_optim_set_lr(o, 0.2, &e) == 0);
    CHECK(bp_optim_lr(o) == 0.025);
    set_grads(net, 1, 0);
    step(o, net);
    CHECK_NEAR(W(net), 0.8, 1e-15);
    CHECK(bp_optim_get_config(o)->lr == 0.2);
    CHECK(bp_optim_set_lr(o, -1, &e) == -1);
    CHECK_STR(e.msg, "learning rate must be a finite number >= 0 (got -1)");
    CHECK(bp_optim_get_config(o)->lr == 0.2);
    /* A bad schedule is refused and the old one kept; NULL removes it. */
    bp_schedule bad = {.kind = BP_SCHED_EXP, .gamma = -1};
    CHECK(bp_optim_set_schedule(o, &bad, &e) == -1);
    CHECK(bp_optim_lr(o) == 0.2 * 0.0625);
    CHECK(bp_optim_set_schedule(o, NULL, &e) == 0);
    CHECK(bp_optim_lr(o) == 0.2);
    bp_optim_free(o);
    bp_net_free(net);
}

/* ------------------------------------------------------------------------ */

/* A float32 net's norm takes each tensor's squares in 8 double lanes
 * (optim.c squares_f32): a 5-7 layer's 35 weights and 7 biases (tails of 3
 * and 7 past the lanes) with gradients 1 .. 42, every square and sum exact:
 * sqrt(42 43 85 / 6) = sqrt(25585), to the bit; then gradients 1 / k,
 * within 4 roundings of the sum in long double, the same bits twice. */
static void test_clip_f32_lanes(void) {
    bp_err e;
    bp_net *net = bp_net_new_dtype(5, BP_F32, &e);
    CHECK(bp_net_add(net, 7, BP_ACT_IDENTITY, 0, &e) == 0);
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    CHECK(n == 2 && t[0].count == 35 && t[1].count == 7);
    float v = 1;
    for (int k = 0; k < n; k++)
        for (size_t j = 0; j < t[k].count; j++) ((float *)t[k].grad)[j] = v++;
    CHECK(bp_optim_grad_norm(net) == sqrt(25585.0));
    long double exact = 0;
    v = 1;
    for (int k = 0; k < n; k++)
        for (size_t j = 0; j < t[k].count; j++) {
            float g = 1 / v++;
            ((float *)t[k].grad)[j] = g;
            exact += (long double)g * g;
        }
    double norm = bp_optim_grad_norm(net);
    CHECK(fabs(norm - (double)sqrtl(exact)) <= 4 * 0x1p-53 * norm);
    CHECK(bp_optim_grad_norm(net) == norm);
    bp_net_free(net);
}

/* A float32 net's Adam is one pass over its w, g, m and v (optim.c
 * adam_f32); its reference is the double rule on the values widened, each
 * weight rounded once: a float64 net given the float net's weights and
 * gradients before each step must step to the float net's weights exactly
 * (Adam, Adam with L2, AdamW; a 5-7 layer's 35 and 7 values: tails past
 * the vectors), with the moments equal too, over 4 steps. */
static void test_adam_f32_one_pass(void) {
    bp_err e;
    for (int kind = 0; kind < 3; kind++) {
        bp_net *f = bp_net_new_dtype(5, BP_F32, &e), *d = bp_net_new_dtype(5, BP_F64, &e);
        CHECK(bp_net_add(f, 7, BP_ACT_IDENTITY, 0, &e) == 0);
        CHECK(bp_net_add(d, 7, BP_ACT_IDENTITY, 0, &e) == 0);
        bp_optim_config c = bp_optim_config_default(kind == 2 ? BP_OPTIM_ADAMW : BP_OPTIM_ADAM);
        c.lr = 0.01;
        if (kind == 1) c.weight_decay = 0.1;
        bp_optim *of = make(f, c), *od = make(d, c);
        int n;
        const bp_param *tf = bp_net_param_list(f, &n), *td = bp_net_param_list(d, &n);
        for (int t = 0; t < 4; t++) {
            for (int k = 0; k < n; k++)
                for (size_t j = 0; j < tf[k].count; j++) {
                    float *w = tf[k].data, *g = tf[k].grad;
                    if (t == 0) w[j] = (float)(0.1 * (double)j - 0.7 * k);
                    g[j] = (float)(0.3 * sin(1.0 + (double)j * (t + 1) + k));
                    ((double *)td[k].data)[j] = w[j];
                    ((double *)td[k].grad)[j] = g[j];
                }
            step(of, f);
            step(od, d);
            int same = 1;
            for (int k = 0; k < n; k++)
                for (size_t j = 0; j < tf[k].count; j++)
                    same &= ((float *)tf[k].data)[j] == (float)((double *)td[k].data)[j];
            CHECK(same);
        }
        size_t sz = bp_optim_state_size(of);
        CHECK(sz == bp_optim_state_size(od));
        double *sf = malloc(sizeof(double) * sz), *sd = malloc(sizeof(double) * sz);
        bp_optim_state_save(of, sf);
        bp_optim_state_save(od, sd);
        CHECK(memcmp(sf, sd, sizeof(double) * sz) == 0);
        free(sf);
        free(sd);
        bp_optim_free(of);
        bp_optim_free(od);
        bp_net_free(f);
        bp_net_free(d);
    }
}

/* A step large enough for the net's team (optim.c step_member: each
 * member a part of every tensor, cut at 64-byte lines) gives the bits of
 * the same step on one thread: two copies of a 300-200-37 net (67,437
 * entries, above the team's threshold; 2.bias frozen), each rule, both
 * dtypes, 3 steps of the same gradients, one copy with a team of 2. A
 * part updated twice or skipped changes the weights. */
static void test_step_on_team(void) {
    bp_err e = {{0}};
    const bp_optim_kind kinds[] = {BP_OPTIM_ADAM, BP_OPTIM_ADAMW, BP_OPTIM_SGD, BP_OPTIM_RMSPROP};
    for (int dt = 0; dt < 2; dt++)
        for (int r = 0; r < 4; r++) {
            bp_dtype d = dt ? BP_F32 : BP_F64;
            bp_net *a = bp_net_new_dtype(300, d, &e), *b = bp_net_new_dtype(300, d, &e);
            for (int k = 0; k < 2; k++) {
                bp_net *net = k ? b : a;
                CHECK(bp_net_add(net, 200, BP_ACT_RELU, 0, &e) == 0);
                CHECK(bp_net_add(net, 37, BP_ACT_IDENTITY, 0, &e) == 0);
                CHECK(bp_net_freeze(net, "2.bias", 1, &e) == 1);
            }
            a->team = bp_team_new(2, &e);
            CHECK(a->team != NULL);
            bp_optim_config c = bp_optim_config_default(kinds[r]);
            c.weight_decay = 0.01;
            if (kinds[r] == BP_OPTIM_SGD) c.momentum = 0.9, c.nesterov = 1;
            if (kinds[r] == BP_OPTIM_RMSPROP) c.momentum = 0.5, c.centered = 1;
            bp_optim *oa = make(a, c), *ob = make(b, c);
            int n;
            const bp_param *ta = bp_net_param_list(a, &n), *tb = bp_net_param_list(b, &n);
            size_t size = bp_dtype_size(d), entries = 0;
            for (int k = 0; k < n; k++) entries += ta[k].frozen ? 0 : ta[k].count;
            CHECK(entries > (1 << 16));
            for (int t = 0; t < 3; t++) {
                for (int k = 0; k < n; k++)
                    for (size_t j = 0; j < ta[k].count; j++) {
                        double g = 0.3 * sin(1.0 + (double)j * (t + 1) + k);
                        if (d == BP_F32) ((float *)ta[k].grad)[j] = (float)g;
                        else ((double *)ta[k].grad)[j] = g;
                    }
                for (int k = 0; k < n; k++) {
                    memcpy(tb[k].data, ta[k].data, ta[k].count * size);
                    memcpy(tb[k].grad, ta[k].grad, ta[k].count * size);
                }
                bp_set_threads(2, &e);
                CHECK(bp_optim_step(oa, a, &e) == 0);
                bp_set_threads(1, &e);
                CHECK(bp_optim_step(ob, b, &e) == 0);
                for (int k = 0; k < n; k++)
                    CHECK(memcmp(ta[k].data, tb[k].data, ta[k].count * size) == 0);
            }
            bp_optim_free(oa);
            bp_optim_free(ob);
            bp_net_free(a);
            bp_net_free(b);
        }
}

static void test_clip(void) {
    /* Gradients (3, 4): norm 5. Clipping to 1 scales by 1 / (5 + 1e-6). */
    bp_net *net = tiny(0, 0);
    set_grads(net, 3, 4);
    CHECK(bp_optim_grad_norm(net) == 5);
    CHECK(bp_optim_clip(net, 1) == 5);
    double c = 1 / (5 + 1e-6);
    CHECK(net->layers[0].dW[0] == 3 * c);
    CHECK(net->layers[0].db[0] == 4 * c);
    CHECK_NEAR(bp_optim_grad_norm(net), 0.9999998, 1e-12);
    /* Under the limit (coefficient 10 / 5.000001 > 1): untouched. */
    set_grads(net, 3, 4);
    CHECK(bp_optim_clip(net, 10) == 5);
    CHECK(net->layers[0].dW[0] == 3 && net->layers[0].db[0] == 4);
    /* Only measured when max_norm is not > 0, or when the norm is not finite. */
    CHECK(bp_optim_clip(net, 0) == 5);
    CHECK(net->layers[0].dW[0] == 3);
    set_grads(net, NAN, 4);
    CHECK(isnan(bp_optim_clip(net, 1)));
    CHECK(net->layers[0].db[0] == 4);
    set_grads(net, 0, 0);
    CHECK(bp_optim_clip(net, 1) == 0);
    bp_net_free(net);

    /* The norm is global, across layers: 1-2-1 with gradients 3 (layer 1,
     * w_{1,1,1}), 4 (layer 2, w_{2,1,2}) and 12 (layer 2's bias):
     * sqrt(9 + 16 + 144) = 13. To 6.5: every gradient times 6.5 / 13.000001. */
    bp_err e;
    net = bp_net_new(1, &e);
    CHECK(bp_net_add(net, 2, BP_ACT_IDENTITY, 0, &e) == 0);
    CHECK(bp_net_add(net, 1, BP_ACT_IDENTITY, 0, &e) == 0);
    *bp_net_grad_weight(net, 1, 1, 1, &e) = 3;
    *bp_net_grad_weight(net, 2, 1, 2, &e) = 4;
    *bp_net_grad_bias(net, 2, 1, &e) = 12;
    CHECK(bp_optim_clip(net, 6.5) == 13);
    c = 6.5 / (13 + 1e-6);
    CHECK(*bp_net_grad_weight(net, 1, 1, 1, &e) == 3 * c);
    CHECK(*bp_net_grad_weight(net, 2, 1, 2, &e) == 4 * c);
    CHECK(*bp_net_grad_bias(net, 2, 1, &e) == 12 * c);
    CHECK(*bp_net_grad_weight(net, 1, 2, 1, &e) == 0);
    bp_net_free(net);

    /* Inside a step: SGD lr 1, clip_norm 1, from w = b = 0 with (3, 4):
     * w = -3 / 5.000001, b = -4 / 5.000001, and the norm is remembered. */
    net = tiny(0, 0);
    bp_optim_config cfg = bp_optim_config_default(BP_OPTIM_SGD);
    cfg.lr = 1;
    cfg.clip_norm = 1;
    bp_optim *o = make(net, cfg);
    CHECK(isnan(bp_optim_last_norm(o)));
    set_grads(net, 3, 4);
    step(o, net);
    c = 1 / (5 + 1e-6);
    CHECK(W(net) == -(3 * c) && Bias(net) == -(4 * c));
    CHECK(bp_optim_last_norm(o) == 5);
    /* A gradient that is not finite stops the step before anything moves. */
    set_grads(net, INFINITY, 0);
    CHECK(bp_optim_step(o, net, &e) == -1);
    CHECK_STR(e.msg, "the gradient norm is inf: not stepping (clip_norm is set)");
    CHECK(W(net) == -(3 * c) && net->layers[0].dW[0] == INFINITY);
    CHECK(bp_optim_steps(o) == 1 && bp_optim_last_norm(o) == 5);
    bp_optim_free(o);
    bp_net_free(net);
}

/* ------------------------------------------------------------------------ */

static void test_state(void) {
    /* Flat order on the lecture's net: layer 1's W row by row, its b, then
     * layer 2's. Each gradient is set to 100 l + 10 n + i (bias: i = 9), so
     * after one momentum step the buffer (= the gradients) spells the order. */
    bp_net *net = lecture_net();
    bp_err e;
    for (int l = 1; l <= 2; l++) {
        int O = l == 1 ? 3 : 1, I = l == 1 ? 2 : 3;
        for (int n = 1; n <= O; n++) {
            for (int i = 1; i <= I; i++)
                *bp_net_grad_weight(net, l, n, i, &e) = 100 * l + 10 * n + i;
            *bp_net_grad_bias(net, l, n, &e) = 100 * l + 10 * n + 9;
        }
    }
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_SGD);
    c.momentum = 0.5;
    bp_optim *o = make(net, c);
    step(o, net);
    const double order[13] = {111, 112, 121, 122, 131, 132, 119,
                              129, 139, 211, 212, 213, 219};
    size_t n = 0;
    const double *buf = bp_optim_state(o, "momentum", &n);
    CHECK(n == 13 && buf != NULL);
    CHECK(memcmp(buf, order, sizeof order) == 0);
    CHECK(bp_optim_state(o, "m", &n) == NULL && n == 0);
    CHECK(bp_optim_state_size(o) == 14);
    double saved[14];
    bp_optim_state_save(o, saved);
    CHECK(saved[0] == 1 && memcmp(saved + 1, order, sizeof order) == 0);
    bp_optim_reset(o);
    CHECK(bp_optim_steps(o) == 0 && buf[0] == 0 && buf[12] == 0);
    bp_optim_free(o);
    bp_net_free(net);

    /* The buffers each kind keeps, in saved order. */
    net = tiny(1, 0);
    c = bp_optim_config_default(BP_OPTIM_RMSPROP);
    c.momentum = 0.9;
    c.centered = 1;
    o = make(net, c);
    CHECK_STR(bp_optim_state_name(o, 0), "v");
    CHECK_STR(bp_optim_state_name(o, 1), "momentum");
    CHECK_STR(bp_optim_state_name(o, 2), "grad_avg");
    CHECK(bp_optim_state_name(o, 3) == NULL && bp_optim_state_name(o, -1) == NULL);
    CHECK(bp_optim_state_size(o) == 7);
    bp_optim_free(o);

    /* A checkpoint: Adam two steps on a, saved, loaded into a fresh
     * optimiser for b (same weights); the third step agrees to the bit. */
    bp_net *a = tiny(1, 0), *b = tiny(1, 0);
    c = bp_optim_config_default(BP_OPTIM_ADAM);
    c.lr = 0.1;
    bp_optim *oa = make(a, c), *ob = make(b, c);
    CHECK_STR(bp_optim_state_name(oa, 0), "m");
    CHECK_STR(bp_optim_state_name(oa, 1), "v");
    set_grads(a, 0.5, -2);
    step(oa, a);
    set_grads(a, -1, -2);
    step(oa, a);
    double st[5];
    CHECK(bp_optim_state_size(oa) == 5);
    bp_optim_state_save(oa, st);
    CHECK(st[0] == 2);
    CHECK(st[1] == bp_optim_state(oa, "m", NULL)[0] &&
          st[4] == bp_optim_state(oa, "v", NULL)[1]);
    CHECK(bp_optim_state_load(ob, st, 5, &e) == 0);
    CHECK(bp_optim_steps(ob) == 2);
    b->layers[0].W[0] = W(a);
    b->layers[0].b[0] = Bias(a);
    set_grads(a, 0.25, 1);
    set_grads(b, 0.25, 1);
    step(oa, a);
    step(ob, b);
    CHECK(W(a) == W(b) && Bias(a) == Bias(b));

    /* Loads that are refused change nothing. */
    double bad[5];
    memcpy(bad, st, sizeof bad);
    CHECK(bp_optim_state_load(ob, bad, 4, &e) == -1);
    CHECK_STR(e.msg, "the state of this adam optimiser has 5 values, not 4");
    bad[0] = -1;
    CHECK(bp_optim_state_load(ob, bad, 5, &e) == -1);
    CHECK_STR(e.msg, "the state's step count must be a whole number >= 0 (got -1)");
    bad[0] = 2.5;
    CHECK(bp_optim_state_load(ob, bad, 5, &e) == -1);
    CHECK_STR(e.msg, "the state's step count must be a whole number >= 0 (got 2.5)");
    bad[0] = 2;
    bad[4] = -1;
    CHECK(bp_optim_state_load(ob, bad, 5, &e) == -1);
    CHECK_STR(e.msg, "state v[2] is a mean square and cannot be negative (-1)");
    bad[4] = st[4];
    bad[1] = NAN;
    CHECK(bp_optim_state_load(ob, bad, 5, &e) == -1);
    CHECK_STR(e.msg, "state m[1] is not finite (nan)");
    CHECK(bp_optim_steps(ob) == 3);
    bp_optim_free(oa);
    bp_optim_free(ob);
    bp_net_free(a);
    bp_net_free(b);
    bp_net_free(net);
}

static void test_shape(void) {
    bp_err e;
    bp_net *one = tiny(1, 0);
    bp_optim *o = make(one, bp_optim_config_default(BP_OPTIM_ADAM));
    bp_net *wide = bp_net_new(1, &e);
    CHECK(bp_net_add(wide, 2, BP_ACT_IDENTITY, 0, &e) == 0);
    CHECK(bp_optim_step(o, wide, &e) == -1);
    CHECK_STR(e.msg,
              "layer 1 has 2 outputs x 1 inputs but the optimiser was made for 1 x 1");
    CHECK(bp_net_add(wide, 1, BP_ACT_IDENTITY, 0, &e) == 0);
    CHECK(bp_optim_step(o, wide, &e) == -1);
    CHECK_STR(e.msg, "the network has 2 layers but the optimiser was made for 1");
    CHECK(bp_optim_steps(o) == 0);
    /* Another net of the same shape is fine. */
    bp_net *twin = tiny(2, 2);
    CHECK(bp_optim_step(o, twin, &e) == 0);
    bp_net *empty = bp_net_new(1, &e);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_SGD);
    CHECK(bp_optim_new(empty, &c, &e) == NULL);
    CHECK_STR(e.msg, "the network has no layers");
    bp_optim_free(NULL);
    bp_optim_free(o);
    bp_net_free(one);
    bp_net_free(wide);
    bp_net_free(twin);
    bp_net_free(empty);
}

static void expect_refused(bp_optim_config c, const char *msg) {
    bp_err e = {{0}};
    bp_net *net = tiny(1, 0);
    CHECK(bp_optim_new(net, &c, &e) == NULL);
    CHECK_STR(e.msg, msg);
    bp_net_free(net);
}

static void test_config_errors(void) {
    bp_optim_config sgd = bp_optim_config_default(BP_OPTIM_SGD), c;
    bp_optim_config adam = bp_optim_config_default(BP_OPTIM_ADAM);
    bp_optim_config rms = bp_optim_config_default(BP_OPTIM_RMSPROP);
    c = sgd, c.lr = NAN;
    expect_refused(c, "learning rate must be a finite number >= 0 (got nan)");
    c = adam, c.lr = -0.1;
    expect_refused(c, "learning rate must be a finite number >= 0 (got -0.1)");
    c = sgd, c.weight_decay = -1;
    expect_refused(c, "weight_decay must be a finite number >= 0 (got -1)");
    c = sgd, c.clip_norm = INFINITY;
    expect_refused(c,
                   "clip_norm must be a finite number >= 0, 0 for no clipping (got inf)");
    c = sgd, c.momentum = -0.9;
    expect_refused(c, "momentum must be a finite number >= 0 (got -0.9)");
    c = sgd, c.momentum = 0.9, c.dampening = 2;
    expect_refused(c, "dampening must be in [0, 1] (got 2)");
    c = sgd, c.nesterov = 1;
    expect_refused(c, "nesterov needs momentum > 0");
    c = sgd, c.nesterov = 1, c.momentum = 0.9, c.dampening = 0.1;
    expect_refused(c, "nesterov needs dampening = 0 (got 0.1)");
    c = adam, c.beta1 = 1;
    expect_refused(c, "beta1 must be in [0, 1) (got 1)");
    c = adam, c.kind = BP_OPTIM_ADAMW, c.beta2 = -0.5;
    expect_refused(c, "beta2 must be in [0, 1) (got -0.5)");
    c = adam, c.eps = 0;
    expect_refused(c, "eps must be a finite number > 0 (got 0)");
    c = rms, c.alpha = 1;
    expect_refused(c, "alpha must be in [0, 1) (got 1)");
    c = rms, c.eps = -1e-8;
    expect_refused(c, "eps must be a finite number > 0 (got -1e-08)");
    c = rms, c.momentum = NAN;
    expect_refused(c, "momentum must be a finite number >= 0 (got nan)");
    c = sgd, c.kind = (bp_optim_kind)9;
    expect_refused(c, "unknown optimiser 9");
    /* Fields a kind does not read are not checked. */
    bp_err e;
    c = sgd, c.beta1 = 5, c.eps = -1;
    CHECK(bp_optim_config_check(&c, &e) == 0);
}

int main(void) {
    test_names();
    test_sgd_is_bp_net_update();
    test_sgd_plain_and_l2();
    test_sgd_momentum();
    test_adam();
    test_adam_l2();
    test_adamw();
    test_rmsprop();
    test_schedules();
    test_optim_follows_schedule();
    test_clip();
    test_clip_f32_lanes();
    test_adam_f32_one_pass();
    test_step_on_team();
    test_state();
    test_shape();
    test_config_errors();
    return check_report("test_optim");
}
