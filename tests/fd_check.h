/* fd_check.h: finite differences of a network's loss, for the tests of
 * graphs (test_graph.c, test_conv.c).
 *
 * fd_check holds every trainable value's gradient, and dLoss/d(input),
 * from the net's backward, against central differences of the loss, with
 * the same dropout masks throughout (the generator put back before each
 * forward); fd_run does it on random inputs and targets. Tolerances are
 * the dtype's: float32's differences are taken with a larger step. Static
 * functions in a header: each test program is one file. */
#ifndef FD_CHECK_H
#define FD_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_net.h"
#include "check.h"

/* The loss of a forward of x, the masks drawn from the state *mask. */
static double loss_at(bp_net *net, const bp_rng *mask, const double *x, const double *y,
                      int B, bp_loss loss) {
    *net->rng = *mask;
    const double *out = bp_net_forward(net, x, B, NULL);
    CHECK(out != NULL);
    return out ? bp_loss_forward(out, y, B, bp_net_outputs(net), loss) : NAN;
}

static int close_to(double a, double n, double atol, double rtol) {
    return fabs(a - n) <= atol + rtol * fmax(fabs(a), fabs(n));
}

static void report(const char *what, const char *name, size_t k, double a, double n) {
    fprintf(stderr, "%s: %s[%zu] analytic %.9g, numeric %.9g\n", what, name, k, a, n);
}

/* Every trainable value's gradient and (with inputs) every input's, from
 * the net's backward, against central differences of the loss; the same
 * dropout masks throughout (the generator put back before each forward).
 * A net whose input is ids (an embedding's) has no input gradient. */
static void fd_check_some(bp_net *net, const double *x0, const double *y, int B,
                          bp_loss loss, const char *what, int inputs) {
    const int f32 = net->dtype == BP_F32, I = net->inputs, O = bp_net_outputs(net);
    const double h = f32 ? 1e-3 : 1e-6, atol = f32 ? 2e-3 : 1e-7,
                 rtol = f32 ? 2e-2 : 1e-5;
    const bp_rng mask = *net->rng;
    double *x = malloc(sizeof(double) * (size_t)B * I);
    double *dx = malloc(sizeof(double) * (size_t)B * I);
    double *dout = calloc((size_t)B * O, sizeof(double));
    memcpy(x, x0, sizeof(double) * (size_t)B * I);
    /* analytic */
    bp_net_zero_grad(net);
    *net->rng = mask;
    const double *out = bp_net_forward(net, x, B, NULL);
    bp_loss_backward(dout, out, y, B, O, loss);
    bp_err e;
    CHECK(bp_net_backward_input(net, dout, dx, &e) == 0);
    int n, bad = 0;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int p = 0; p < n; p++) {
        if (!t[p].trainable) continue;
        for (size_t k = 0; k < t[p].count; k++) {
            double *wd = t[p].data, *gd = t[p].grad;
            float *wf = t[p].data, *gf = t[p].grad;
            double w = f32 ? wf[k] : wd[k], a = f32 ? gf[k] : gd[k];
            if (f32) wf[k] = (float)(w + h);
            else wd[k] = w + h;
            double lp = loss_at(net, &mask, x, y, B, loss);
            if (f32) wf[k] = (float)(w - h);
            else wd[k] = w - h;
            double lm = loss_at(net, &mask, x, y, B, loss);
            if (f32) wf[k] = (float)w;
            else wd[k] = w;
            double num = (lp - lm) / (2 * h);
            if (!close_to(a, num, atol, rtol) && bad++ < 5)
                report(what, t[p].name, k, a, num);
        }
    }
    for (int k = 0; inputs && k < B * I; k++) {
        double v = x[k];
        x[k] = v + h;
        double lp = loss_at(net, &mask, x, y, B, loss);
        x[k] = v - h;
        double lm = loss_at(net, &mask, x, y, B, loss);
        x[k] = v;
        double num = (lp - lm) / (2 * h);
        if (!close_to(dx[k], num, atol, rtol) && bad++ < 5)
            report(what, "input", k, dx[k], num);
    }
    if (bad) fprintf(stderr, "%s: %d gradients off\n", what, bad);
    CHECK(bad == 0);
    free(x);
    free(dx);
    free(dout);
}

static void fd_check(bp_net *net, const double *x0, const double *y, int B, bp_loss loss,
                     const char *what) {
    fd_check_some(net, x0, y, B, loss, what, 1);
}

/* Random inputs and targets for B samples, then fd_check in the net's
 * current mode. */
static void fd_run(bp_net *net, int B, bp_loss loss, const char *what) {
    int I = net->inputs, O = bp_net_outputs(net);
    double *x = malloc(sizeof(double) * (size_t)B * I);
    double *y = malloc(sizeof(double) * (size_t)B * O);
    bp_rng r;
    bp_rng_seed(&r, 77);
    for (int k = 0; k < B * I; k++) x[k] = 2 * bp_rng_uniform(&r) - 1;
    for (int k = 0; k < B * O; k++) y[k] = bp_rng_uniform(&r);
    char buf[128];
    snprintf(buf, sizeof buf, "%s (%s, B=%d)", what, bp_dtype_name(net->dtype), B);
    fd_check(net, x, y, B, loss, buf);
    free(x);
    free(y);
}

#endif
