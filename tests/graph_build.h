/* graph_build.h: building one graph at a time in a test of modules
 * (test_conv.c, test_seq.c, test_attention.c): the graph G, its generator R
 * and the error E, a node of one input, the finished graph as a net, and
 * random arrays for holding two builds of a kernel together.
 *
 * Static state and functions in a header, as check.h and fd_check.h: each
 * test program is one file and builds its graphs one after another. */
#ifndef GRAPH_BUILD_H
#define GRAPH_BUILD_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bp_graph.h"
#include "bp_net.h"
#include "bp_rng.h"
#include "check.h"

static bp_graph *G;
static bp_rng R;
static bp_err E;

/* A new G in dtype t, R seeded (the previous G is the net's it became). */
static void begin(bp_dtype t, int seed) {
    G = bp_graph_new(t, NULL);
    bp_rng_seed(&R, (uint64_t)seed);
}

/* A node of op on x (none for an input); its id, the failure printed. */
static int add(bp_op op, int x, bp_node_opts *o) {
    int id = bp_graph_add(G, op, &x, op == BP_OP_INPUT ? 0 : 1, o, &E);
    if (id < 0) fprintf(stderr, "add: %s\n", E.msg);
    CHECK(id >= 0);
    return id;
}

/* G finished with output out, as a net drawing its dropout from R. */
static bp_net *as_net(int out) {
    if (bp_graph_finish(G, out, &E)) fprintf(stderr, "finish: %s\n", E.msg);
    bp_net *net = bp_net_from_graph(G, &E);
    CHECK(net != NULL);
    if (net) net->rng = &R;
    return net;
}

/* n numbers uniform in [-scale, scale] from R (malloc'd); a copy as floats;
 * for the kernels' builds held against each other (test_seq.c,
 * test_attention.c). Inline: a program may use none of them. */
static inline double *randoms(size_t n, double scale) {
    double *v = malloc(sizeof(double) * (n ? n : 1));
    for (size_t k = 0; k < n; k++) v[k] = scale * (2 * bp_rng_uniform(&R) - 1);
    return v;
}

static inline float *floats(const double *v, size_t n) {
    float *f = malloc(sizeof(float) * (n ? n : 1));
    for (size_t k = 0; k < n; k++) f[k] = (float)v[k];
    return f;
}

/* Largest difference of two arrays (float's when f32), relative to 1 + |a|. */
static inline double diff(const void *a, const void *b, size_t n, int f32) {
    double m = 0;
    for (size_t k = 0; k < n; k++) {
        double x = f32 ? ((const float *)a)[k] : ((const double *)a)[k];
        double y = f32 ? ((const float *)b)[k] : ((const double *)b)[k];
        m = fmax(m, fabs(x - y) / (1 + fabs(x)));
    }
    return m;
}

#endif
