/* graph_build.h: building one graph at a time in a test of modules
 * (test_conv.c, test_seq.c): the graph G, its generator R and the error E,
 * a node of one input, and the finished graph as a net.
 *
 * Static state and functions in a header, as check.h and fd_check.h: each
 * test program is one file and builds its graphs one after another. */
#ifndef GRAPH_BUILD_H
#define GRAPH_BUILD_H

#include <stdio.h>

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

#endif
