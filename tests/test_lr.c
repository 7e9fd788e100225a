/* test_lr.c: learning rates as researchers set them (issue 22): parameter
 * groups, frozen tensors, the plateau and onecycle schedules, and the
 * checkpointed state of all of them, against arithmetic done by hand.
 *
 * As in test_optim.c, the groups' and schedules' tests set gradients by
 * hand on the smallest stack (one input, one identity neuron: tensors
 * 1.weight and 1.bias), because the rules are under test, not backward.
 * The freezing tests run real backwards through small graphs and count
 * the gradients the executor computed (bp_graph_grads_computed). */
#include <math.h>
#include <string.h>

#include "bp_net.h"
#include "bp_optim.h"
#include "check.h"
#include "graph_build.h"
#include "optim_tiny.h"

/* One Adam step of one value, as PyTorch's code computes it (test_optim's
 * test_adam checks this arrangement against the paper's by hand). */
static double adam_step(double w, double g, double *m, double *v, double lr, double wd,
                        int t) {
    g = g + wd * w; /* Adam's L2 */
    *m = 0.9 * *m + (1 - 0.9) * g;
    *v = 0.999 * *v + (1 - 0.999) * g * g;
    double step_size = lr / (1 - pow(0.9, t)), bc2 = sqrt(1 - pow(0.999, t));
    return w - step_size * (*m / (sqrt(*v) / bc2 + 1e-8));
}

/* Two groups, two rates and two decays, two Adam steps:
 *   weight: lr 0.1, weight_decay 0.01 (Adam's L2: g + 0.01 w)
 *   bias:   lr 0.01, no decay (the defaults' lr is 0.05: nobody's)
 * w = 0.5, b = -0.3; gradients (0.5, -0.2) then (0.3, 0.1).
 * w, step 1: g = 0.5 + 0.005 = 0.505, m = 0.0505, v = 0.000255025,
 *   m_hat = 0.505, sqrt(v_hat) = 0.505: w = 0.5 - 0.1 * 0.505 / (0.505 + 1e-8)
 *   = 0.400000001980...
 * b, step 1: m_hat = -0.2, sqrt(v_hat) = 0.2: b = -0.3 + 0.01 * 0.2 / 0.20000001
 *   = -0.290000000500...
 * step 2, w: g = 0.3 + 0.01 * 0.400000002 = 0.304000000..., m = 0.9 * 0.0505
 *   + 0.0304 = 0.07585, v = 0.999 * 0.000255025 + 0.001 * 0.092416 = 0.000347185...,
 *   m_hat = 0.07585 / 0.19 = 0.399210..., sqrt(v_hat) = sqrt(0.000347185 /
 *   0.001999) = 0.416749...: w = 0.400000002 - 0.1 * 0.957916... = 0.304208...
 * The code below does that arithmetic in the order PyTorch's does. */
static void test_groups_adam(void) {
    bp_net *net = tiny(0.5, -0.3);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAM);
    c.lr = 0.05;
    const char *const wp[] = {"1.weight"}, *const bp[] = {"*.bias"};
    bp_optim_group g[2] = {{.name = "weights", .patterns = wp, .n_patterns = 1, .c = c},
                           {.patterns = bp, .n_patterns = 1, .c = c}};
    g[0].c.lr = 0.1, g[0].c.weight_decay = 0.01;
    g[1].c.lr = 0.01;
    bp_err e = {{0}};
    bp_optim *o = bp_optim_new_groups(net, &c, g, 2, &e);
    CHECK(o != NULL);
    if (!o) return;
    CHECK(bp_optim_groups(o) == 2); /* nothing left for a rest */
    CHECK_STR(bp_optim_group_name(o, 0), "weights");
    CHECK_STR(bp_optim_group_name(o, 1), "2");
    CHECK(bp_optim_group_of(o, 0) == 0 && bp_optim_group_of(o, 1) == 1);
    CHECK(bp_optim_group_find(o, "2") == 1 && bp_optim_group_find(o, "x") == -1);
    CHECK(bp_optim_group_lr(o, 0) == 0.1 && bp_optim_group_lr(o, 1) == 0.01);
    CHECK(isnan(bp_optim_group_last_lr(o, 0)));

    double w = 0.5, b = -0.3, mw = 0, vw = 0, mb = 0, vb = 0;
    set_grads(net, 0.5, -0.2);
    step(o, net);
    w = adam_step(w, 0.5, &mw, &vw, 0.1, 0.01, 1);
    b = adam_step(b, -0.2, &mb, &vb, 0.01, 0, 1);
    CHECK_REL(net->layers[0].W[0], w);
    CHECK_REL(net->layers[0].b[0], b);
    CHECK_NEAR(w, 0.400000001980, 1e-12);
    CHECK_NEAR(b, -0.290000000500, 1e-12);
    set_grads(net, 0.3, 0.1);
    step(o, net);
    w = adam_step(w, 0.3, &mw, &vw, 0.1, 0.01, 2);
    b = adam_step(b, 0.1, &mb, &vb, 0.01, 0, 2);
    CHECK_REL(net->layers[0].W[0], w);
    CHECK_REL(net->layers[0].b[0], b);
    CHECK_NEAR(w, 0.304208, 1e-6);
    const double *m = bp_optim_state(o, "m", NULL);
    CHECK_REL(m[0], mw);
    CHECK_REL(m[1], mb);
    CHECK(bp_optim_group_last_lr(o, 1) == 0.01);
    bp_optim_free(o);
    bp_net_free(net);
}

/* PyTorch's rules for membership: two groups picking one tensor are
 * refused; what no group picks is the rest, with the defaults. */
static void test_groups_rules(void) {
    bp_net *net = tiny(1, 1);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_SGD);
    c.lr = 0.5;
    const char *const all[] = {"1"}, *const bias[] = {"1.bias"}, *const typo[] = {"fc9"};
    bp_optim_group g[2] = {{.patterns = all, .n_patterns = 1, .c = c},
                           {.patterns = bias, .n_patterns = 1, .c = c}};
    bp_err e = {{0}};
    CHECK(bp_optim_new_groups(net, &c, g, 2, &e) == NULL);
    CHECK_STR(e.msg, "parameter '1.bias' is in groups '1' and '2' (one group a "
                     "parameter, as in PyTorch)");
    g[0].patterns = typo;
    CHECK(bp_optim_new_groups(net, &c, g, 2, &e) == NULL);
    CHECK_STR(e.msg, "group 1: no parameter or module matches 'fc9'");
    g[0].c.beta1 = 2; /* sgd reads no beta1: fine */
    g[1].c.momentum = -1;
    g[0].patterns = bias, g[1].patterns = all;
    CHECK(bp_optim_new_groups(net, &c, g + 1, 1, &e) == NULL);
    CHECK_STR(e.msg, "group '1': momentum must be a finite number >= 0 (got -1)");

    /* the bias alone in a group of lr 0.1: the weight is the rest, at 0.5 */
    g[0].c.lr = 0.1;
    bp_optim *o = bp_optim_new_groups(net, &c, g, 1, &e);
    CHECK(o != NULL && bp_optim_groups(o) == 2);
    CHECK_STR(bp_optim_group_name(o, 1), "rest");
    CHECK(bp_optim_group_of(o, 0) == 1 && bp_optim_group_of(o, 1) == 0);
    set_grads(net, 1, 1);
    step(o, net);
    CHECK(net->layers[0].W[0] == 1 - 0.5 * 1);
    CHECK(net->layers[0].b[0] == 1 - 0.1 * 1);
    /* opt:lr(v) sets every group's, as a loop over param_groups does */
    CHECK(bp_optim_set_lr(o, 0.25, &e) == 0);
    CHECK(bp_optim_group_lr(o, 0) == 0.25 && bp_optim_group_lr(o, 1) == 0.25);
    CHECK(bp_optim_set_group_lr(o, 0, 0.125, &e) == 0 && bp_optim_group_lr(o, 0) == 0.125);
    bp_optim_free(o);
    bp_net_free(net);
}

/* ReduceLROnPlateau through a scripted sequence of metrics: mode min,
 * factor 0.5, patience 2, threshold 0.1 (relative), cooldown 1, min_lr
 * 0.03; group 1 at lr 0.2, group 2 at 0.02 (below min_lr: never cut, as
 * max(lr * factor, min_lr) > lr is no cut in PyTorch either).
 *   epoch metric  better?            bad  cooldown  lr1
 *   1     1.0     < inf: yes, best 1  0    0         0.2
 *   2     0.95    < 0.9? no           1    0         0.2
 *   3     0.95    no                  2    0         0.2
 *   4     0.95    no                  3 > 2: cut     0.1   (bad 0, cooldown 1)
 *   5     0.95    no, in cooldown     0    0         0.1
 *   6     0.5     < 0.9: best 0.5     0    0         0.1
 *   7-9   0.6     < 0.45? no          1, 2, 3: cut  0.05  (cooldown 1)
 *   10    0.6     cooldown            0    0         0.05
 *   11-13 0.6     1, 2, 3: cut to max(0.025, 0.03) = 0.03
 *   14    0.6     cooldown
 *   15-17 0.6     3: max(0.015, 0.03) = 0.03, a cut of 0 <= eps: none */
static void test_plateau(void) {
    bp_net *net = tiny(1, 1);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_SGD);
    c.lr = 0.2;
    const char *const bias[] = {"1.bias"};
    bp_optim_group g = {.patterns = bias, .n_patterns = 1, .c = c};
    g.c.lr = 0.02;
    bp_err e = {{0}};
    bp_optim *o = bp_optim_new_groups(net, &c, &g, 1, &e);
    CHECK(o != NULL);
    CHECK(bp_optim_schedule_step(o, 1, &e) == -1);
    CHECK_STR(e.msg, "schedule_step needs a plateau schedule (this one is none)");
    bp_schedule s = bp_schedule_default(BP_SCHED_PLATEAU);
    s.factor = 0.5, s.patience = 2, s.threshold = 0.1, s.cooldown = 1, s.min_lr = 0.03;
    CHECK(bp_optim_set_schedule(o, &s, &e) == 0);
    static const double metric[17] = {1.0, 0.95, 0.95, 0.95, 0.95, 0.5, 0.6, 0.6, 0.6,
                                      0.6, 0.6,  0.6,  0.6,  0.6,  0.6, 0.6, 0.6};
    static const double lr[17] = {0.2,  0.2,  0.2,  0.1,  0.1,  0.1,  0.1,  0.1, 0.05,
                                  0.05, 0.05, 0.05, 0.03, 0.03, 0.03, 0.03, 0.03};
    static const int bad[17] = {0, 1, 2, 0, 0, 0, 1, 2, 0, 0, 1, 2, 0, 0, 1, 2, 0};
    /* the rest (the weight, lr 0.2) is group 1 here: group 0 is the bias */
    for (int k = 0; k < 17; k++) {
        CHECK(bp_optim_schedule_step(o, metric[k], &e) == 0);
        bp_plateau_state p = bp_optim_plateau(o);
        CHECK(bp_optim_group_lr(o, 1) == lr[k]);
        CHECK(bp_optim_group_lr(o, 0) == 0.02);
        CHECK(p.bad == bad[k]);
        CHECK(p.epochs == k + 1);
        if (k == 3) CHECK(p.cooldown_left == 1 && p.best == 1.0);
        if (k == 5) CHECK(p.best == 0.5);
    }
    /* a step uses the current lr */
    set_grads(net, 1, 1);
    step(o, net);
    CHECK(net->layers[0].W[0] == 1 - 0.03);

    /* max mode, absolute threshold 0.05: 0.5 better than -inf, 0.54 not
     * better than 0.5 + 0.05, 0.56 is */
    s = bp_schedule_default(BP_SCHED_PLATEAU);
    s.mode_max = 1, s.threshold_abs = 1, s.threshold = 0.05, s.patience = 0;
    CHECK(bp_optim_set_schedule(o, &s, &e) == 0);
    CHECK(bp_optim_plateau(o).best == -INFINITY);
    CHECK(bp_optim_group_lr(o, 1) == 0.2); /* afresh: the base lr */
    CHECK(bp_optim_schedule_step(o, 0.5, &e) == 0 && bp_optim_plateau(o).best == 0.5);
    CHECK(bp_optim_schedule_step(o, 0.54, &e) == 0);
    CHECK(bp_optim_group_lr(o, 1) == 0.2 * 0.1); /* patience 0: cut at once */
    CHECK(bp_optim_schedule_step(o, 0.56, &e) == 0 && bp_optim_plateau(o).best == 0.56);

    s.factor = 1;
    CHECK(bp_optim_set_schedule(o, &s, &e) == -1);
    CHECK_STR(e.msg, "plateau schedule needs factor in [0, 1) (got 1)");
    bp_optim_free(o);
    bp_net_free(net);
}

/* OneCycleLR, total_steps 10, pct_start 0.3, max_lr 1, div_factor 25,
 * final_div_factor 1e4: initial lr a = 0.04, minimum z = 4e-6; the first
 * phase ends at step 0.3 * 10 - 1 = 2, the second at 9.
 *   cos: t = 0: 0.04; t = 1: 1 + (0.04 - 1) / 2 * (cos(pi / 2) + 1) = 0.52;
 *        t = 2: 1; t = 5: z + (1 - z) / 2 * (cos(3 pi / 7) + 1) = 0.611262...;
 *        t = 9: z; t = 10 allowed (PyTorch's get_lr refuses only past it)
 *   linear: t = 1: 0.52; t = 5: (z - 1) * 3 / 7 + 1 = 0.571430...
 *   momentum (cos): 0.95 at t = 0, 0.85 at t = 2, 0.95 at t = 9. */
static void test_onecycle(void) {
    bp_schedule s = bp_schedule_default(BP_SCHED_ONECYCLE);
    s.total_steps = 10, s.max_lr = 1;
    bp_err e = {{0}};
    CHECK(bp_schedule_check(&s, &e) == 0);
    const double z = 0.04 / 1e4, PI = 3.14159265358979323846;
    CHECK_REL(bp_schedule_lr(&s, 123, 0), 0.04);
    CHECK_REL(bp_schedule_lr(&s, 123, 1), 0.52);
    CHECK_REL(bp_schedule_lr(&s, 123, 2), 1.0);
    CHECK_REL(bp_schedule_lr(&s, 123, 5), z + (1 - z) / 2 * (cos(3 * PI / 7) + 1));
    CHECK_NEAR(bp_schedule_lr(&s, 123, 5), 0.611262, 1e-6);
    CHECK_REL(bp_schedule_lr(&s, 123, 9), z);
    CHECK_REL(bp_schedule_momentum(&s, 0), 0.95);
    CHECK_REL(bp_schedule_momentum(&s, 2), 0.85);
    CHECK_REL(bp_schedule_momentum(&s, 9), 0.95);
    s.anneal_linear = 1;
    CHECK_REL(bp_schedule_lr(&s, 123, 1), 0.52);
    CHECK_REL(bp_schedule_lr(&s, 123, 5), (z - 1) * 3 / 7 + 1);
    s.max_lr = 0; /* each group's base lr is its max */
    CHECK_REL(bp_schedule_lr(&s, 0.5, 2), 0.5);
    CHECK(isnan(bp_schedule_momentum(NULL, 3)));
    s.pct_start = 0.1;
    CHECK(bp_schedule_check(&s, &e) == -1);
    s.pct_start = 0.3, s.warmup_steps = 2;
    CHECK(bp_schedule_check(&s, &e) == -1);
    CHECK_STR(e.msg, "onecycle schedule takes no warmup_steps");

    /* in an Adam: lr and beta1 of each step from the cycle; the 11th step
     * (t = 10) is taken, the 12th refused */
    bp_net *net = tiny(1, 1);
    bp_optim *o = bp_optim_new(net, &(bp_optim_config){.kind = BP_OPTIM_ADAM, .lr = 1,
                                                       .beta1 = 0.9, .beta2 = 0.999,
                                                       .eps = 1e-8},
                               &e);
    s = bp_schedule_default(BP_SCHED_ONECYCLE);
    s.total_steps = 10;
    CHECK(bp_optim_set_schedule(o, &s, &e) == 0);
    set_grads(net, 2, 2);
    step(o, net);
    CHECK_REL(bp_optim_state(o, "m", NULL)[0], (1 - 0.95) * 2);
    CHECK_REL(bp_optim_group_last_lr(o, 0), 0.04);
    for (int k = 1; k < 11; k++) step(o, net);
    CHECK(bp_optim_step(o, net, &e) == -1);
    CHECK_STR(e.msg, "onecycle schedule: tried to take step 12 of a cycle of total_steps 10");
    bp_optim_free(o);

    /* an SGD without momentum has no buffer to cycle */
    o = bp_optim_new(net, &(bp_optim_config){.kind = BP_OPTIM_SGD, .lr = 1}, &e);
    CHECK(bp_optim_set_schedule(o, &s, &e) == -1);
    CHECK_STR(e.msg, "onecycle's cycle_momentum needs an optimiser made with momentum > 0 "
                     "(or cycle_momentum = false)");
    s.cycle_momentum = 0;
    CHECK(bp_optim_set_schedule(o, &s, &e) == 0);
    bp_optim_free(o);
    bp_net_free(net);
}

/* Two linears, "fc1" (4 -> 3) then relu and "fc2" (3 -> 2), in dtype t. */
static bp_net *two_linears(bp_dtype t) {
    begin(t, 7);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = 4;
    int x = add(BP_OP_INPUT, -1, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.name = "fc1", o.in = 4, o.out = 3, o.rng = &R;
    x = add(BP_OP_LINEAR, x, &o);
    o = bp_node_opts_default(BP_OP_ACT);
    o.act = BP_ACT_TANH;
    x = add(BP_OP_ACT, x, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.name = "fc2", o.in = 3, o.out = 2, o.rng = &R;
    return as_net(add(BP_OP_LINEAR, x, &o));
}

static const double X[3 * 4] = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1.0, -1.1, 1.2};
static const double Y[3 * 2] = {0.5, -0.5, 0.25, 0.75, -1, 1};

/* A copy of tensor name's gradient (count values, as doubles). */
static void grad_of(const bp_net *net, const char *name, double *out) {
    const bp_param *p = bp_net_param_find(net, name, NULL);
    for (size_t k = 0; k < p->count; k++)
        out[k] = net->dtype == BP_F32 ? ((float *)p->grad)[k] : ((double *)p->grad)[k];
}

/* Freezing: the gradients not computed are counted, the others are the
 * same bits as without freezing, and a frozen tensor is not stepped. */
static void test_freeze_counts(bp_dtype t) {
    bp_net *net = two_linears(t);
    bp_err e = {{0}};
    double want1[12], want2[6], got[12];
    CHECK(bp_net_compute_grads(net, X, Y, 3, BP_LOSS_MSE, NULL, &e) == 0);
    CHECK(bp_graph_grads_computed(net->graph) == 4);
    grad_of(net, "fc1.weight", want1);
    grad_of(net, "fc2.weight", want2);

    /* fc2 frozen: its two gradients skipped, fc1's the same bits (the
     * gradient still flows through fc2's weights) */
    CHECK(bp_net_freeze(net, "fc2", 1, &e) == 2);
    CHECK(bp_net_compute_grads(net, X, Y, 3, BP_LOSS_MSE, NULL, &e) == 0);
    CHECK(bp_graph_grads_computed(net->graph) == 4 + 2);
    grad_of(net, "fc1.weight", got);
    CHECK(memcmp(got, want1, sizeof want1) == 0);
    grad_of(net, "fc2.weight", got);
    for (int k = 0; k < 6; k++) CHECK(got[k] == 0); /* zeroed, not computed */

    /* fc1 frozen instead: nothing before fc2 trains, so fc1's node is not
     * run at all, and fc2's gradient is the same bits */
    CHECK(bp_net_freeze(net, "fc2", 0, &e) == 2 && bp_net_freeze(net, "fc1", 1, &e) == 2);
    CHECK(bp_net_compute_grads(net, X, Y, 3, BP_LOSS_MSE, NULL, &e) == 0);
    CHECK(bp_graph_grads_computed(net->graph) == 6 + 2);
    grad_of(net, "fc2.weight", got);
    CHECK(memcmp(got, want2, sizeof want2) == 0);

    /* an optimiser and plain descent leave fc1 as it was, bit for bit */
    const bp_param *w1 = bp_net_param_find(net, "fc1.weight", NULL);
    size_t z = bp_dtype_size(t);
    char before[12 * 8];
    memcpy(before, w1->data, 12 * z);
    bp_optim *o = bp_optim_new(net, &(bp_optim_config){.kind = BP_OPTIM_ADAM, .lr = 0.1,
                                                       .beta1 = 0.9, .beta2 = 0.999,
                                                       .eps = 1e-8, .weight_decay = 0.5},
                               &e);
    for (int k = 0; k < 3; k++) {
        CHECK(bp_net_compute_grads(net, X, Y, 3, BP_LOSS_MSE, NULL, &e) == 0);
        step(o, net);
        CHECK(bp_net_train_step(net, X, Y, 3, BP_LOSS_MSE, 0.1, NULL, &e) == 0);
    }
    CHECK(memcmp(before, w1->data, 12 * z) == 0);
    CHECK(bp_optim_state(o, "m", NULL)[0] == 0); /* its moments untouched */

    /* its state now carries each tensor's steps: fc1's 0, the others 3 */
    size_t n = bp_optim_state_size(o);
    CHECK(n == 1 + 2 * 23 + 1 + 4);
    double st[64];
    bp_optim_state_save(o, st);
    CHECK(st[1 + 2 * 23 + 1] == 0 && st[1 + 2 * 23 + 3] == 3);
    bp_optim_free(o);
    CHECK(bp_net_freeze(net, "conv9", 1, &e) == -1);
    CHECK_STR(e.msg, "no parameter or module matches 'conv9'");
    bp_net_free(net);
}

/* A stack stays a stack (saved, checkpointed as one): frozen by a layer's
 * number or a glob, its steps leave the frozen tensors alone, backward
 * stops below the first layer with something to train (its gradients
 * zeroed), and the trained layers' gradients are the same bits as an
 * unfrozen twin's; dLoss/d(input) still goes down every layer. */
static void test_freeze_stack(void) {
    bp_err e = {{0}};
    bp_net *net = bp_net_new(4, NULL), *twin = bp_net_new(4, NULL);
    bp_rng r;
    for (int k = 0; k < 2; k++) {
        bp_net *n = k ? twin : net;
        bp_rng_seed(&r, 9);
        CHECK(bp_net_add(n, 5, BP_ACT_TANH, 0, NULL) == 0 &&
              bp_net_add(n, 2, BP_ACT_IDENTITY, 0, NULL) == 0);
        for (int l = 1; l <= 2; l++)
            CHECK(bp_net_init(n, l, 'w', BP_INIT_XAVIER, 0, 0, &r, NULL) == 0 &&
                  bp_net_init(n, l, 'b', BP_INIT_UNIFORM, -1, 1, &r, NULL) == 0);
    }
    CHECK(bp_net_freeze(net, "1", 1, &e) == 2);
    CHECK(!bp_net_is_graph(net) && !bp_net_fast(net));
    CHECK(bp_net_compute_grads(net, X, Y, 3, BP_LOSS_MSE, NULL, &e) == 0);
    CHECK(bp_net_compute_grads(twin, X, Y, 3, BP_LOSS_MSE, NULL, &e) == 0);
    CHECK(memcmp(net->layers[1].dW, twin->layers[1].dW, sizeof(double) * 10) == 0);
    for (int k = 0; k < 20; k++) CHECK(net->layers[0].dW[k] == 0);
    double w[20], dx[12], dx2[12], dout[6] = {1, -1, 0.5, 0.25, 2, -2};
    memcpy(w, net->layers[0].W, sizeof w);
    for (int k = 0; k < 3; k++)
        CHECK(bp_net_train_step(net, X, Y, 3, BP_LOSS_MSE, 0.1, NULL, &e) == 0);
    CHECK(memcmp(w, net->layers[0].W, sizeof w) == 0);
    CHECK(net->layers[1].W[0] != twin->layers[1].W[0]);
    /* the input's gradient: the same as the twin's with its weights */
    memcpy(twin->layers[1].W, net->layers[1].W, sizeof(double) * 10);
    memcpy(twin->layers[1].b, net->layers[1].b, sizeof(double) * 2);
    CHECK(bp_net_forward(net, X, 3, &e) && bp_net_backward_input(net, dout, dx, &e) == 0);
    CHECK(bp_net_forward(twin, X, 3, &e) && bp_net_backward_input(twin, dout, dx2, &e) == 0);
    CHECK(memcmp(dx, dx2, sizeof dx) == 0);
    /* a bias alone by a glob, and a graph made of it keeps the flags */
    CHECK(bp_net_freeze(net, "1", 0, &e) == 2 && bp_net_freeze(net, "*.bias", 1, &e) == 2);
    CHECK(bp_net_fast(net) == 0 && bp_net_to_graph(net, &e) == 0);
    CHECK(bp_net_param_find(net, "2.bias", NULL)->frozen);
    CHECK(!bp_net_param_find(net, "2.weight", NULL)->frozen);
    bp_net_free(net);
    bp_net_free(twin);
}

/* A batch norm frozen whole keeps its running statistics in training and
 * normalises by them, as in evaluation. */
static void test_freeze_batchnorm(void) {
    begin(BP_F64, 3);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = 4;
    int x = add(BP_OP_INPUT, -1, &o);
    o = bp_node_opts_default(BP_OP_BATCHNORM1D);
    o.name = "bn", o.in = 4;
    x = add(BP_OP_BATCHNORM1D, x, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.name = "fc", o.in = 4, o.out = 2, o.rng = &R;
    bp_net *net = as_net(add(BP_OP_LINEAR, x, &o));
    bp_err e = {{0}};
    const bp_param *rm = bp_net_param_find(net, "bn.running_mean", NULL);
    const bp_param *nb = bp_net_param_find(net, "bn.num_batches_tracked", NULL);
    CHECK(bp_net_train_step(net, X, Y, 3, BP_LOSS_MSE, 0.1, NULL, &e) == 0);
    CHECK(((double *)nb->data)[0] == 1 && ((double *)rm->data)[0] != 0);
    double mean[4];
    memcpy(mean, rm->data, sizeof mean);
    CHECK(bp_net_freeze(net, "bn", 1, &e) == 2);
    const double *train = bp_net_forward(net, X, 3, &e);
    double out[6];
    memcpy(out, train, sizeof out);
    bp_net_set_training(net, 0);
    CHECK(memcmp(bp_net_forward(net, X, 3, &e), out, sizeof out) == 0);
    bp_net_set_training(net, 1);
    for (int k = 0; k < 3; k++)
        CHECK(bp_net_train_step(net, X, Y, 3, BP_LOSS_MSE, 0.1, NULL, &e) == 0);
    CHECK(memcmp(rm->data, mean, sizeof mean) == 0 && ((double *)nb->data)[0] == 1);
    double one[4] = {0.5, -1, 2, 0};
    CHECK(bp_net_forward(net, one, 1, &e) != NULL); /* a batch of 1 trains too */
    bp_net_free(net);
}

/* The groups' part of a checkpoint: group lrs, tensors' steps, the
 * plateau's counters and current lrs, back bit for bit; and a state saved
 * without it still loads. */
static void test_state_roundtrip(void) {
    bp_net *net = tiny(1, 1);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAM);
    const char *const bias[] = {"1.bias"};
    bp_optim_group g = {.patterns = bias, .n_patterns = 1, .c = c};
    g.c.lr = 0.002;
    bp_err e = {{0}};
    bp_optim *a = bp_optim_new_groups(net, &c, &g, 1, &e);
    bp_optim *b = bp_optim_new_groups(net, &c, &g, 1, &e);
    bp_schedule s = bp_schedule_default(BP_SCHED_PLATEAU);
    s.patience = 0;
    CHECK(bp_optim_set_schedule(a, &s, &e) == 0 && bp_optim_set_schedule(b, &s, &e) == 0);
    set_grads(net, 0.5, 0.25);
    step(a, net);
    CHECK(bp_optim_schedule_step(a, 1.0, &e) == 0 && bp_optim_schedule_step(a, 2.0, &e) == 0);
    size_t n = bp_optim_state_size(a);
    CHECK(n == 1 + 2 * 2 + 2 + 2 + 4 + 2);
    double st[32], again[32];
    bp_optim_state_save(a, st);
    CHECK(bp_optim_state_load(b, st, n, &e) == 0);
    bp_optim_state_save(b, again);
    CHECK(memcmp(st, again, n * sizeof(double)) == 0);
    CHECK(bp_optim_group_lr(b, 0) == 0.002 * 0.1 && bp_optim_plateau(b).epochs == 2);
    CHECK(bp_optim_state_load(b, st, 5, &e) == -1); /* the groups' part is needed */
    CHECK_STR(e.msg, "the state of this adam optimiser has 15 values, not 5");
    st[1 + 4 + 2] = 0.5; /* a tensor's step count */
    CHECK(bp_optim_state_load(b, st, n, &e) == -1);
    CHECK_STR(e.msg, "the state's tensor step count must be a whole number >= 0 (got 0.5)");
    bp_optim_free(a);
    bp_optim_free(b);

    /* no groups, no plateau: the old layout (1 + 2 P) loads and saves */
    a = bp_optim_new(net, &c, &e);
    CHECK(bp_optim_state_size(a) == 5);
    double old[5] = {3, 0.1, 0.2, 0.01, 0.02};
    CHECK(bp_optim_state_load(a, old, 5, &e) == 0 && bp_optim_state_size(a) == 5);
    bp_optim_free(a);
    bp_net_free(net);
}

int main(void) {
    test_groups_adam();
    test_groups_rules();
    test_plateau();
    test_onecycle();
    test_freeze_counts(BP_F64);
    test_freeze_counts(BP_F32);
    test_freeze_stack();
    test_freeze_batchnorm();
    test_state_roundtrip();
    return check_report("test_lr");
}
