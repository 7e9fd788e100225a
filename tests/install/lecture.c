/* lecture.c: a C program built against the installed engine alone, through
 * pkg-config (tests/install/check.sh): the lecture's 2-3-1 network, one
 * training step checked against the lecture's figures (README.md), then 300. */
#include <bp_net.h>
#include <math.h>
#include <stdio.h>

int main(void) {
    const double w1[] = {0.5, 0.3, -0.1, 0.1, -0.4, 0.6}, w2[] = {-0.23, 0.3, 0.1};
    const double x[] = {1, 2}, y[] = {3};
    bp_err e = {""};
    bp_net *net = bp_net_new(2, &e);
    if (!net || bp_net_add(net, 3, BP_ACT_SIGMOID, 0, &e) ||
        bp_net_add(net, 1, BP_ACT_IDENTITY, 0, &e))
        return fprintf(stderr, "lecture: %s\n", e.msg), 1;
    for (int k = 0; k < 6; k++) net->layers[0].W[k] = w1[k], net->layers[0].b[k / 2] = 1;
    for (int k = 0; k < 3; k++) net->layers[1].W[k] = w2[k];
    net->layers[1].b[0] = 1;
    double loss = 0, first = 0;
    for (int step = 0; step < 300; step++) {
        if (bp_net_train_step(net, x, y, 1, BP_LOSS_HALF_SE, 0.01, &loss, &e)) return 1;
        if (step == 0) first = loss;
    }
    printf("loss %.5f, then %.2e after 300 steps; w211 %.5f\n", first, loss,
           net->layers[1].W[0]);
    bp_net_free(net);
    return !(fabs(first - 1.79365) < 1e-5 && loss < 1e-3);
}
