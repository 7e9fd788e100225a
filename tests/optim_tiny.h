/* optim_tiny.h: the smallest net there is, for the tests of update rules
 * (test_optim.c, test_lr.c): one input, one identity neuron, so that its
 * parameters are w (layer 1's only weight) and b (its bias), whose
 * gradients a test sets by hand before each step; and a step that prints
 * the engine's message when it fails.
 *
 * Static functions in a header, as check.h and graph_build.h: each test
 * program is one file. */
#ifndef OPTIM_TINY_H
#define OPTIM_TINY_H

#include <math.h>
#include <stdio.h>

#include "bp_net.h"
#include "bp_optim.h"
#include "check.h"

/* Agreement to 1e-15 relative: a few roundings' worth. */
#define CHECK_REL(got, want) CHECK_NEAR(got, want, 1e-15 * fabs(want))

static bp_net *tiny(double w, double b) {
    bp_err e;
    bp_net *net = bp_net_new(1, &e);
    CHECK(net != NULL);
    CHECK(bp_net_add(net, 1, BP_ACT_IDENTITY, 0, &e) == 0);
    net->layers[0].W[0] = w;
    net->layers[0].b[0] = b;
    return net;
}

static void set_grads(bp_net *net, double gw, double gb) {
    net->layers[0].dW[0] = gw;
    net->layers[0].db[0] = gb;
}

static void step(bp_optim *o, bp_net *net) {
    bp_err e = {{0}};
    int rc = bp_optim_step(o, net, &e);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "bp_optim_step: %s\n", e.msg);
}

#endif
