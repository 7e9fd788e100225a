/* graph_overhead.c: what a graph costs per module per step (issue 13).
 *
 * A network of 20 modules, an input of W values then 10 times linear(W, W)
 * and tanh, trained one sample at a time (bp_net_train_step, MSE, lr 0.01),
 * as a graph and as the stack of the same 10 layers (which takes the
 * single-sample path). At W = 4 the arithmetic is a few hundred operations
 * a step, so a graph's ns per module is nearly all its overhead: the walk,
 * a kernel call per module, the zeroing of gradients, the step over the
 * parameter list. At W = 32 the arithmetic shows. Each line:
 *   width <W> form <graph|stack> ns_per_step <ns> ns_per_module <ns/20>
 * with the median of REPS repetitions of STEPS steps.
 *
 * Usage: graph_overhead [steps [repetitions]]  (default 200000 and 5) */
#include <stdio.h>
#include <stdlib.h>

#include "bp_net.h"
#include "bp_util.h"

enum { LAYERS = 10, MODULES = 2 * LAYERS };

static bp_net *make(int W, int graph) {
    bp_rng r;
    bp_rng_seed(&r, 1);
    bp_net *net = bp_net_new(W, NULL);
    for (int l = 1; l <= LAYERS; l++) {
        bp_net_add(net, W, BP_ACT_TANH, 0, NULL);
        bp_net_init(net, l, 'w', BP_INIT_XAVIER, 0, 0, &r, NULL);
    }
    if (graph && bp_net_to_graph(net, NULL)) {
        bp_net_free(net);
        return NULL;
    }
    return net;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long steps = argc > 1 ? atol(argv[1]) : 200000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (steps < 1 || reps < 1 || reps > 99) {
        fprintf(stderr, "usage: graph_overhead [steps [repetitions]]\n");
        return 2;
    }
    static const int widths[] = {4, 32};
    double x[32], y[32], t[99];
    for (int k = 0; k < 32; k++) x[k] = (k % 5) / 5.0 - 0.4, y[k] = (k % 3) / 3.0;
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
        for (int graph = 1; graph >= 0; graph--) {
            int W = widths[w];
            for (int r = 0; r < reps; r++) {
                bp_net *net = make(W, graph);
                if (!net) return 1;
                bp_net_train_step(net, x, y, 1, BP_LOSS_MSE, 0.01, NULL, NULL);
                double t0 = bp_clock();
                for (long s = 0; s < steps; s++)
                    bp_net_train_step(net, x, y, 1, BP_LOSS_MSE, 0.01, NULL, NULL);
                t[r] = (bp_clock() - t0) * 1e9 / steps;
                bp_net_free(net);
            }
            qsort(t, (size_t)reps, sizeof *t, cmp);
            printf("width %d form %s ns_per_step %.1f ns_per_module %.1f\n", W,
                   graph ? "graph" : "stack", t[reps / 2], t[reps / 2] / MODULES);
        }
    return 0;
}
