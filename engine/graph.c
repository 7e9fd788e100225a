/* graph.c: a network as a graph of modules (bp_graph.h), and its executor.
 *
 * Building: bp_graph_add checks a node's options alone and makes its
 * parameters at once (so initial weights are drawn in the order of the
 * adds, as PyTorch draws them in the order modules are made);
 * bp_graph_finish checks the whole (ids, one input, cycles, unused nodes)
 * by a depth-first walk from the output, whose post-order is the order the
 * executor runs, then infers shapes along it. Every check happens there,
 * so the executor (graph_real.h, compiled for double and float) runs
 * without a test of its own: like the kernels it calls, it assumes the
 * sizes are right.
 *
 * Memory: parameters per node, made by the add; everything that depends on
 * the batch (each node's output y and gradient dy, dropout's masks, batch
 * norm's xhat, max pooling's winners, a convolution's workspace of one
 * sample's columns) in one block, grown only when a batch is larger than any
 * before, so that steps after the first allocate nothing; a team's members
 * 1 .. T-1 have their own columns and partial sums of each convolution's
 * gradients in a second block, grown only when a larger team comes
 * (bp_graph_set_team). flatten and
 * reshape own no memory: their y and dy are their input's (a view, as
 * x.view is), so they cost nothing at run time and their backward is the
 * sum their input receives anyway.
 *
 * Gradients flow by addition: backward zeroes every dy but the output's
 * (which the loss filled), then runs the nodes in reverse order, each
 * ADDING into its inputs' dy, so a node read by several others gets the
 * sum of their gradients. */
#define _POSIX_C_SOURCE 200809L /* pthread_once */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bp_alloc.h"
#include "bp_conv.h"
#include "bp_graph.h"
#include "bp_seq.h"
#include "bp_team.h"
#include "bp_util.h"
#include "ops_vec.h"

/* The most tensors a node has: an lstm's four a layer (a host has at most
 * BP_HOST_MAX_PARAMS, batchnorm1d five). */
#define MAX_TENSORS (4 * BP_GRAPH_MAX_LAYERS)

/* The members of a team with a oneDNN cache per conv2d each: members
 * beyond run im2col (the same bits for the same thread count still). */
#define DNNL_MEMBERS 16
/* A dropout's jumps kept per member: a part's start and the node's end
 * for two batch sizes (an epoch's and its last, shorter batch). */
#define JUMP_SLOTS 4

typedef struct node {
    bp_op op;
    bp_node_opts o; /* a copy: o.name is name[], weight, bias and rng NULL */
    char name[BP_GRAPH_MAX_NAME + 1];
    int n_in, *in;
    /* Shapes, set by finish: a sample's output. */
    int ndim, shape[BP_GRAPH_MAX_DIMS];
    size_t count;
    int store;  /* the node whose y and dy this one's are (itself, or for a
                   view its input's store) */
    int in_use; /* reached from the output by the last finish */
    int needs;  /* set by each backward: dLoss/d(its output) is wanted (an
                   unfrozen tensor at or before it; the input: want_dx) */
    int fused;  /* a ReLU whose max pool's backward does its work, or that
                   max pool (fuse_relu_pools) */
    /* Set by each forward (set_chains): chain, a conv2d's pool node + 1
     * when conv2d -> ReLU -> max pool run as one (0: not); chained, that
     * ReLU or pool, which then do nothing of their own. shown: the node's
     * values were asked for (bp_graph_node_value), so it is never part of
     * a chain, which leaves them unwritten. */
    int chain, chained, shown;
    int gelu_by; /* float32: a GELU whose forward its input linear makes
                    (fuse_linear_gelus); on that linear, the GELU's id + 1 */
    int gelu_alone; /* such a linear that its GELU alone reads */
    int gelu_d;     /* such a linear whose last forward, a training one on
                       the calling thread, left in its dy buffer (free until
                       the backward) the GELU's derivative, for
                       linear_gelu_backward to read instead of h and o */
    int gelu_back;  /* such a GELU whose backward its linear makes in this
                       walk (mark_writers) */
    /* Set by each backward (mark_writers): bit k of dy_store, this node's
     * backward stores (=) into input k's dy instead of adding (+=), the
     * first in the walk to write it; dy_stored, a store's dy is so written
     * and needs no zeroing. */
    unsigned dy_store;
    int dy_stored, dy_seen;
    /* Parameters, made by add: W, b, ... as tensors (names set at add). */
    int n_t;
    bp_param t[MAX_TENSORS];
    void *nb_b, *nb_db; /* linear without bias: zeros, never listed */
    void *invstd;       /* batchnorm1d, 2d: F values kept for backward */
    void *rstd;         /* layernorm: a row's 1 / sqrt(var + eps), per batch */
    /* conv2d on a team: members 1 .. T-1's columns and their partial sums
     * of dW then db, in the team's block (bp_graph_set_team). */
    void *tcol, *tgrad;
    /* dropout on a team: each member's JUMP_SLOTS jumps of the generator
     * (its part's start, the node's end; n 0 an empty slot), made on first
     * use and kept across steps, for tjump_T members (bp_graph_set_team). */
    bp_rng_jump *tjump;
    int tjump_T;
    /* Per batch, in the graph's block (NULL for a view). */
    void *y, *dy, *xhat;
    uint8_t *keep;
    int32_t *arg; /* maxpool2d: each output's winner */
    void *col;    /* conv2d: the columns of one sample (bp_conv_cols) */
    /* conv2d in float32: each member's oneDNN primitives (bp_conv_dnnl),
     * made on its first step; NULL without oneDNN (conv_dnnl). */
    bp_conv_dnnl *dnnl[DNNL_MEMBERS];
    bp_host host; /* host: the callbacks, ctx owned (names, def NULL) */
    char host_def[BP_GRAPH_MAX_NAME + 1];
    void *work; /* lstm, rnn, gru: each layer's states and gates, the
                     workspaces (rec_work); attention's (attn_work) */
    /* A recurrent node's initial state (state_parts x layers x state_B x
     * H, its own memory, kept across forwards) and dLoss/d(it) from the
     * last backward; state_B 0: zeros. */
    void *state, *dstate;
    int state_B, state_cap;
} node;

struct bp_graph {
    bp_dtype dtype;
    size_t z; /* bytes of a number */
    int n, cap_n;
    node *nodes;
    int modules; /* nodes other than inputs: the next default name */
    int output, input, finished;
    int *order, n_order; /* the executor's order of the nodes in use */
    bp_param *list;
    int n_list;
    int B, cap;
    void *block;
    int fwd_training; /* the mode of the last forward, for backward */
    int64_t grads;    /* parameter gradients computed (bp_graph_grads_computed) */
    int backed;       /* a backward ran since the last forward */
    /* The lengths of the batch's sequences (bp_graph_set_lengths), len_B
     * of them in memory of cap len_cap; len_B 0: every sequence whole. */
    int *len, len_B, len_cap;
    /* The team a walk is split between (NULL: the calling thread alone),
     * its block of members' workspaces, and what a walk hands them. */
    bp_team *team;
    void *team_block;
    size_t team_bytes;
    bp_rng *walk_rng;  /* the walk's generator, read by every member */
    bp_rng walk_end;   /* its state after a split walk (member 0's) */
    int walk_dx;
    int walk_fresh; /* the backward zeroes the tensors' gradients first */
};

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

#define NAME_OF(N, name, lo, hi) name,
static const char *const op_names[BP_OP_COUNT] = {BP_OP_TABLE(NAME_OF)};
#undef NAME_OF
#define LO_OF(N, name, lo, hi) lo,
static const int op_min_in[BP_OP_COUNT] = {BP_OP_TABLE(LO_OF)};
#undef LO_OF
#define HI_OF(N, name, lo, hi) hi,
static const int op_max_in[BP_OP_COUNT] = {BP_OP_TABLE(HI_OF)};
#undef HI_OF

const char *bp_op_name(bp_op op) { return bp_name_of(op_names, BP_OP_COUNT, (int)op); }
int bp_op_parse(const char *name) { return bp_name_find(op_names, BP_OP_COUNT, name); }

/* The list for error messages, joined once, on the first call from any
 * thread (as bp_act_expected). */
static char op_expected[256];
static pthread_once_t expected_once = PTHREAD_ONCE_INIT;

static void join_expected(void) {
    bp_names_join(op_expected, sizeof op_expected, op_names, BP_OP_COUNT);
}

const char *bp_op_expected(void) {
    pthread_once(&expected_once, join_expected);
    return op_expected;
}

bp_node_opts bp_node_opts_default(bp_op op) {
    bp_node_opts o = {.act = BP_ACT_IDENTITY,
                      .eps = 1e-5,
                      .momentum = 0.1,
                      .p = 0.5,
                      .sh = 1,
                      .sw = 1,
                      .layers = 1,
                      .heads = 1,
                      .causal = 1};
    if (op == BP_OP_RNN) o.act = BP_ACT_TANH; /* nn.RNN's nonlinearity */
    return o;
}

/* What an error message calls a node: "relu (module '2')". */
static const char *what(const node *nd, char *buf, size_t cap) {
    const char *kind = nd->op == BP_OP_ACT ? bp_act_name(nd->o.act) : bp_op_name(nd->op);
    snprintf(buf, cap, "%s (module '%s')", kind, nd->name);
    return buf;
}
#define WHAT(nd) what((nd), wbuf, sizeof wbuf)

int bp_op_gates(bp_op op) {
    return op == BP_OP_LSTM ? 4 : op == BP_OP_GRU ? 3 : op == BP_OP_RNN ? 1 : 0;
}

/* "8" or "2x4". */
static const char *shape_text(char *buf, size_t cap, int ndim, const int *shape) {
    size_t at = 0;
    buf[0] = 0;
    for (int d = 0; d < ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, d ? "x%d" : "%d", shape[d]);
    return buf;
}

/* v into entry k of an array of type t. */
static void value_set(void *p, bp_dtype t, size_t k, double v) {
    if (t == BP_F32) ((float *)p)[k] = (float)v;
    else ((double *)p)[k] = v;
}

/* ------------------------------------------------------------------------ */
/* Making and freeing                                                        */

bp_graph *bp_graph_new(bp_dtype dtype, bp_err *e) {
    if ((unsigned)dtype >= BP_DTYPE_COUNT) {
        bp_err_set(e, "unknown dtype %d", (int)dtype);
        return NULL;
    }
    bp_graph *g = bp_calloc(1, sizeof *g);
    if (!g) {
        bp_err_set(e, "out of memory");
        return NULL;
    }
    g->dtype = dtype;
    g->z = bp_dtype_size(dtype);
    g->output = g->input = -1;
    return g;
}

static void free_node(node *nd) {
    if (nd->op == BP_OP_HOST && nd->host.release) nd->host.release(nd->host.ctx);
    bp_free(nd->in);
    for (int k = 0; k < nd->n_t; k++) {
        bp_free(nd->t[k].data);
        bp_free(nd->t[k].grad);
    }
    bp_free(nd->nb_b);
    bp_free(nd->nb_db);
    bp_free(nd->invstd);
    bp_free(nd->state);
    bp_free(nd->dstate);
    bp_free(nd->tjump);
    for (int t = 0; t < DNNL_MEMBERS; t++) bp_conv_dnnl_free(nd->dnnl[t]);
}

void bp_graph_free(bp_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) free_node(&g->nodes[i]);
    bp_free(g->nodes);
    bp_free(g->order);
    bp_free(g->list);
    bp_free(g->block);
    bp_free(g->len);
    bp_free(g->team_block);
    bp_free(g);
}

/* A tensor of node nd named "NAME.suffix", of ndim dims (shape a, b, c,
 * d: the first ndim of them), filled with v; with a gradient of zeros
 * when trainable. */
static int add_tensor(bp_graph *g, node *nd, const char *suffix, int ndim, int a, int b,
                      double v, int trainable) {
    const int dims[BP_GRAPH_MAX_DIMS] = {a, b, nd->o.kh, nd->o.kw};
    bp_param *t = &nd->t[nd->n_t];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s.%s", nd->name, suffix);
    t->ndim = ndim;
    t->count = 1;
    for (int k = 0; k < ndim; k++) t->count *= (size_t)(t->shape[k] = dims[k]);
    t->trainable = trainable;
    t->data = bp_calloc(t->count, g->z);
    if (trainable) t->grad = bp_calloc(t->count, g->z);
    nd->n_t++;
    if (!t->data || (trainable && !t->grad)) return -1;
    for (size_t k = 0; v != 0 && k < t->count; k++) value_set(t->data, g->dtype, k, v);
    return 0;
}

/* A linear or conv2d node's W and b: the options' values, else
 * nn.Linear's and nn.Conv2d's default U(-1/sqrt(K), 1/sqrt(K)), K the
 * inputs of one output (in, or in kh kw), drawn from o->rng (weight, then
 * bias), else zeros; an attention's four tensors, its two linears', as
 * nn.Linear's (K = C) in their order, never given. -1 when o->stop is set
 * on the way (a large layer takes seconds). */
static int init_linear(bp_graph *g, node *nd, const bp_node_opts *o) {
    double fan_in = nd->op == BP_OP_CONV2D ? (double)o->in * o->kh * o->kw : o->in;
    double k = 1 / sqrt(fan_in);
    for (int t = 0; t < nd->n_t; t++) {
        bp_param *p = &nd->t[t];
        const double *given = nd->op == BP_OP_ATTENTION ? NULL
                              : t == 0                  ? o->weight
                                                        : o->bias;
        for (size_t j = 0; j < p->count; j++) {
            if ((j & 0xffff) == 0 && o->stop && *o->stop) return -1;
            double v = given    ? given[j]
                       : o->rng ? -k + 2 * k * bp_rng_uniform(o->rng)
                                : 0;
            value_set(p->data, g->dtype, j, v);
        }
    }
    return 0;
}

/* A host's tensors "NAME.name", from their init values (else zeros). */
static int host_params(bp_graph *g, node *nd, const bp_host *h) {
    for (int k = 0; k < h->n_params; k++) {
        bp_param *t = &nd->t[nd->n_t];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s.%s", nd->name, h->params[k].name);
        t->ndim = h->params[k].ndim;
        t->count = 1;
        for (int d = 0; d < t->ndim; d++)
            t->count *= (size_t)(t->shape[d] = h->params[k].shape[d]);
        t->trainable = 1;
        t->data = bp_calloc(t->count, g->z);
        t->grad = bp_calloc(t->count, g->z);
        nd->n_t++;
        if (!t->data || !t->grad) return -1;
        for (size_t j = 0; h->params[k].init && j < t->count; j++)
            value_set(t->data, g->dtype, j, h->params[k].init[j]);
    }
    return 0;
}

/* An embedding's or position's weight (given, else N(0, 1) from o->rng as
 * nn.Embedding's, else zeros) or a recurrent op's (lstm, gru, rnn) four tensors a layer (each
 * U(-1/sqrt(H), 1/sqrt(H)) from o->rng as nn.LSTM's, else zeros), drawn
 * in the order of the list. 0, -1 without memory, -2 when stopped. */
static int make_seq_params(bp_graph *g, node *nd, const bp_node_opts *o) {
    const int G = bp_op_gates(nd->op) * o->out,
              emb = nd->op == BP_OP_EMBEDDING || nd->op == BP_OP_POSITION;
    if (emb) {
        if (add_tensor(g, nd, "weight", 2, o->in, o->out, 0, 1)) return -1;
    } else {
        for (int l = 0; l < o->layers; l++) {
            char name[4][24];
            snprintf(name[0], sizeof name[0], "weight_ih_l%d", l);
            snprintf(name[1], sizeof name[1], "weight_hh_l%d", l);
            snprintf(name[2], sizeof name[2], "bias_ih_l%d", l);
            snprintf(name[3], sizeof name[3], "bias_hh_l%d", l);
            if (add_tensor(g, nd, name[0], 2, G, l ? o->out : o->in, 0, 1) ||
                add_tensor(g, nd, name[1], 2, G, o->out, 0, 1) ||
                add_tensor(g, nd, name[2], 1, G, 0, 0, 1) ||
                add_tensor(g, nd, name[3], 1, G, 0, 0, 1))
                return -1;
        }
    }
    double k = 1 / sqrt((double)o->out);
    for (int t = 0; t < nd->n_t; t++) {
        bp_param *p = &nd->t[t];
        for (size_t j = 0; j < p->count; j++) {
            if ((j & 0xffff) == 0 && o->stop && *o->stop) return -2;
            double v = emb && o->weight ? o->weight[j]
                       : !o->rng        ? 0
                       : emb            ? bp_rng_normal(o->rng, 0, 1)
                                        : -k + 2 * k * bp_rng_uniform(o->rng);
            value_set(p->data, g->dtype, j, v);
        }
    }
    return 0;
}

/* 0, -1 without memory, -2 when stopped (init_linear). */
static int make_params(bp_graph *g, node *nd, const bp_node_opts *o) {
    int ok = 1;
    if (nd->op == BP_OP_HOST) return host_params(g, nd, o->host);
    if (nd->op == BP_OP_LINEAR || nd->op == BP_OP_CONV2D) {
        int ndim = nd->op == BP_OP_CONV2D ? 4 : 2;
        ok = add_tensor(g, nd, "weight", ndim, o->out, o->in, 0, 1) == 0;
        if (ok && !o->no_bias) ok = add_tensor(g, nd, "bias", 1, o->out, 0, 0, 1) == 0;
        if (ok && o->no_bias) {
            nd->nb_b = bp_calloc((size_t)o->out, g->z);
            nd->nb_db = bp_calloc((size_t)o->out, g->z);
            ok = nd->nb_b && nd->nb_db;
        }
        if (ok && init_linear(g, nd, o)) return -2;
    } else if (nd->op == BP_OP_EMBEDDING || nd->op == BP_OP_POSITION ||
               bp_op_gates(nd->op)) {
        return make_seq_params(g, nd, o);
    } else if (nd->op == BP_OP_ATTENTION) {
        const int C = o->in;
        ok = add_tensor(g, nd, "c_attn.weight", 2, 3 * C, C, 0, 1) == 0 &&
             add_tensor(g, nd, "c_attn.bias", 1, 3 * C, 0, 0, 1) == 0 &&
             add_tensor(g, nd, "c_proj.weight", 2, C, C, 0, 1) == 0 &&
             add_tensor(g, nd, "c_proj.bias", 1, C, 0, 0, 1) == 0;
        if (ok && init_linear(g, nd, o)) return -2;
    } else if (nd->op == BP_OP_LAYERNORM) {
        ok = add_tensor(g, nd, "weight", 1, o->in, 0, 1, 1) == 0 &&
             add_tensor(g, nd, "bias", 1, o->in, 0, 0, 1) == 0;
    } else if (nd->op == BP_OP_BATCHNORM1D || nd->op == BP_OP_BATCHNORM2D) {
        int F = o->in;
        ok = add_tensor(g, nd, "weight", 1, F, 0, 1, 1) == 0 &&
             add_tensor(g, nd, "bias", 1, F, 0, 0, 1) == 0 &&
             add_tensor(g, nd, "running_mean", 1, F, 0, 0, 0) == 0 &&
             add_tensor(g, nd, "running_var", 1, F, 0, 1, 0) == 0 &&
             add_tensor(g, nd, "num_batches_tracked", 0, 0, 0, 0, 0) == 0 &&
             (nd->invstd = bp_calloc((size_t)F, g->z)) != NULL;
    }
    return ok ? 0 : -1;
}

/* The largest kernel, stride or padding: sizes of images stay far from
 * int's limits in every index. */
#define MAX_WINDOW 65535

/* A conv2d's or pool's kernel, strides and padding; a conv2d's channels. */
static int check_window(const node *nd, bp_err *e) {
    char wbuf[96];
    const bp_node_opts *o = &nd->o;
    if (nd->op == BP_OP_CONV2D && (o->in < 1 || o->out < 1))
        return bp_err_set(e, "%s: needs in and out channels >= 1 (got %d and %d)",
                          WHAT(nd), o->in, o->out);
    if (o->kh < 1 || o->kw < 1 || o->kh > MAX_WINDOW || o->kw > MAX_WINDOW)
        return bp_err_set(e, "%s: a kernel of %dx%d (each side 1 to %d)", WHAT(nd), o->kh,
                          o->kw, MAX_WINDOW);
    if (o->sh < 1 || o->sw < 1 || o->sh > MAX_WINDOW || o->sw > MAX_WINDOW)
        return bp_err_set(e, "%s: a stride of %dx%d (each 1 to %d)", WHAT(nd), o->sh,
                          o->sw, MAX_WINDOW);
    if (o->ph < 0 || o->pw < 0 || o->ph > MAX_WINDOW || o->pw > MAX_WINDOW)
        return bp_err_set(e, "%s: a padding of %dx%d (each 0 to %d)", WHAT(nd), o->ph,
                          o->pw, MAX_WINDOW);
    if (nd->op != BP_OP_CONV2D && (o->ph > o->kh / 2 || o->pw > o->kw / 2))
        return bp_err_set(e,
                          "%s: a padding of %dx%d is more than half the kernel of %dx%d",
                          WHAT(nd), o->ph, o->pw, o->kh, o->kw);
    size_t n = 1;
    if (nd->op == BP_OP_CONV2D &&
        (bp_size_mul(&n, (size_t)o->in * o->out, (size_t)o->kh * o->kw) || n > (size_t)1
                                                                                   << 31))
        return bp_err_set(e, "%s: %d x %d x %d x %d weights are too many", WHAT(nd),
                          o->out, o->in, o->kh, o->kw);
    return 0;
}

/* A host's callbacks, parameters and output shape. */
static int check_host(const node *nd, bp_err *e) {
    char wbuf[96];
    const bp_host *h = nd->o.host;
    if (!h || !h->forward || !h->backward)
        return bp_err_set(e, "%s: needs a forward and a backward callback", WHAT(nd));
    if (h->def && (!h->def[0] || strlen(h->def) > BP_GRAPH_MAX_NAME))
        return bp_err_set(e, "%s: a definition name needs 1 to %d bytes", WHAT(nd),
                          BP_GRAPH_MAX_NAME);
    if (h->n_params < 0 || h->n_params > BP_HOST_MAX_PARAMS)
        return bp_err_set(e, "%s: has %d parameters (at most %d)", WHAT(nd), h->n_params,
                          BP_HOST_MAX_PARAMS);
    for (int k = 0; k < h->n_params; k++) {
        const char *name = h->params[k].name;
        size_t len = name ? strlen(name) : 0, n = 1;
        if (len < 1 || len > 15)
            return bp_err_set(e, "%s: parameter %d needs a name of 1 to 15 characters",
                              WHAT(nd), k + 1);
        for (int j = 0; j < k; j++)
            if (strcmp(h->params[j].name, name) == 0)
                return bp_err_set(e, "%s: two parameters are named '%s'", WHAT(nd), name);
        int ok = h->params[k].ndim >= 1 && h->params[k].ndim <= BP_GRAPH_MAX_DIMS;
        for (int d = 0; ok && d < h->params[k].ndim; d++)
            ok = h->params[k].shape[d] >= 1 &&
                 bp_size_mul(&n, n, (size_t)h->params[k].shape[d]) == 0;
        if (!ok || n > (size_t)1 << 31)
            return bp_err_set(e,
                              "%s: parameter '%s' needs 1 to %d dimensions of at least 1 "
                              "(and at most 2^31 values)",
                              WHAT(nd), name, BP_GRAPH_MAX_DIMS);
    }
    return 0;
}

/* An embedding's V and D, a recurrent op's sizes and layers. */
static int check_seq(const node *nd, bp_err *e) {
    char wbuf[96];
    const bp_node_opts *o = &nd->o;
    int emb = nd->op == BP_OP_EMBEDDING;
    if (o->in < 1 || o->out < 1)
        return bp_err_set(e,
                          emb ? "%s: needs V >= 1 ids and D >= 1 values (got %d and %d)"
                              : "%s: needs in >= 1 and hidden >= 1 (got %d and %d)",
                          WHAT(nd), o->in, o->out);
    if (!emb && (o->layers < 1 || o->layers > BP_GRAPH_MAX_LAYERS))
        return bp_err_set(e, "%s: needs 1 to %d layers (got %d)", WHAT(nd),
                          BP_GRAPH_MAX_LAYERS, o->layers);
    size_t in = (size_t)(o->in > o->out ? o->in : o->out);
    if ((emb ? (size_t)o->in : (size_t)bp_op_gates(nd->op) * in) * (size_t)o->out >
        (size_t)1 << 31)
        return bp_err_set(e, "%s: %d x %d weights are too many", WHAT(nd), o->in, o->out);
    return 0;
}

/* An attention's C, heads and block; a position's block and C. */
static int check_attention(const node *nd, bp_err *e) {
    char wbuf[96];
    const bp_node_opts *o = &nd->o;
    if (nd->op == BP_OP_POSITION) {
        if (o->in < 1 || o->out < 1)
            return bp_err_set(e, "%s: needs a block >= 1 and C >= 1 (got %d and %d)",
                              WHAT(nd), o->in, o->out);
        if ((size_t)o->in * o->out > (size_t)1 << 31)
            return bp_err_set(e, "%s: %d x %d weights are too many", WHAT(nd), o->in,
                              o->out);
        return 0;
    }
    if (o->in < 1 || o->heads < 1)
        return bp_err_set(e, "%s: needs C >= 1 and heads >= 1 (got %d and %d)", WHAT(nd),
                          o->in, o->heads);
    if (o->in % o->heads)
        return bp_err_set(e, "%s: %d heads do not divide C = %d (C %% heads must be 0)",
                          WHAT(nd), o->heads, o->in);
    if (o->block < 0)
        return bp_err_set(e, "%s: a block of %d (>= 1, or 0 for any length)", WHAT(nd),
                          o->block);
    if ((size_t)3 * o->in * o->in > (size_t)1 << 31)
        return bp_err_set(e, "%s: %d x %d weights are too many", WHAT(nd), 3 * o->in,
                          o->in);
    return 0;
}

/* The checks of a node's options that need nothing but the options. */
static int check_opts(const bp_graph *g, const node *nd, int n_inputs, bp_err *e) {
    char wbuf[96];
    const bp_node_opts *o = &nd->o;
    bp_op op = nd->op;
    if (n_inputs < op_min_in[op] || n_inputs > op_max_in[op]) {
        if (op_min_in[op] == op_max_in[op])
            return bp_err_set(e, "%s: takes %d input%s (got %d)", WHAT(nd), op_min_in[op],
                              op_min_in[op] == 1 ? "" : "s", n_inputs);
        return bp_err_set(e, "%s: needs %d to %d inputs (got %d)", WHAT(nd),
                          op_min_in[op], op_max_in[op], n_inputs);
    }
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->nodes[i].name, nd->name) == 0)
            return bp_err_set(e, "%s: the name is taken by module %d", WHAT(nd), i);
    if (op == BP_OP_HOST && check_host(nd, e)) return -1;
    if (op == BP_OP_INPUT || op == BP_OP_RESHAPE || (op == BP_OP_HOST && o->ndim)) {
        int ok = o->ndim >= 1 && o->ndim <= BP_GRAPH_MAX_DIMS;
        size_t n = 1;
        for (int d = 0; ok && d < o->ndim; d++) {
            ok = o->shape[d] >= 1 && bp_size_mul(&n, n, (size_t)o->shape[d]) == 0;
        }
        if (!ok || n > INT32_MAX)
            return bp_err_set(e,
                              "%s: a shape needs 1 to %d dimensions of at least 1 "
                              "(and fewer than 2^31 values)",
                              WHAT(nd), BP_GRAPH_MAX_DIMS);
    }
    switch (op) {
        case BP_OP_LINEAR:
            if (o->in < 1 || o->out < 1)
                return bp_err_set(e, "%s: needs in >= 1 and out >= 1 (got %d and %d)",
                                  WHAT(nd), o->in, o->out);
            if ((size_t)o->in * o->out > (size_t)1 << 31)
                return bp_err_set(e, "%s: %d x %d weights are too many", WHAT(nd), o->out,
                                  o->in);
            break;
        case BP_OP_ACT:
            if ((unsigned)o->act >= BP_ACT_COUNT)
                return bp_err_set(
                    e, "act (module '%s'): unknown activation %d (expected %s)", nd->name,
                    (int)o->act, bp_act_expected());
            if (!isfinite(o->alpha))
                return bp_err_set(e, "%s: alpha must be finite (got %g)", WHAT(nd),
                                  o->alpha);
            break;
        case BP_OP_DROPOUT:
            if (!(o->p >= 0 && o->p <= 1))
                return bp_err_set(e, "%s: p must be in [0, 1] (got %g)", WHAT(nd), o->p);
            break;
        case BP_OP_CONV2D:
        case BP_OP_MAXPOOL2D:
        case BP_OP_AVGPOOL2D: return check_window(nd, e);
        case BP_OP_RNN:
            if (o->act != BP_ACT_TANH && o->act != BP_ACT_RELU)
                return bp_err_set(e, "%s: nonlinearity must be tanh or relu (got %s)",
                                  WHAT(nd), bp_act_name(o->act));
            return check_seq(nd, e);
        case BP_OP_EMBEDDING:
        case BP_OP_LSTM:
        case BP_OP_GRU: return check_seq(nd, e);
        case BP_OP_ATTENTION:
        case BP_OP_POSITION: return check_attention(nd, e);
        case BP_OP_LAYERNORM:
        case BP_OP_BATCHNORM1D:
        case BP_OP_BATCHNORM2D:
            if (o->in < 1)
                return bp_err_set(e, "%s: needs at least 1 %s (got %d)", WHAT(nd),
                                  op == BP_OP_BATCHNORM2D ? "channel" : "feature", o->in);
            if (!(isfinite(o->eps) && o->eps > 0))
                return bp_err_set(e, "%s: eps must be a finite number > 0 (got %g)",
                                  WHAT(nd), o->eps);
            if (!(o->momentum >= 0 && o->momentum <= 1))
                return bp_err_set(e, "%s: momentum must be in [0, 1] (got %g)", WHAT(nd),
                                  o->momentum);
            break;
        default: break;
    }
    return 0;
}

int bp_graph_add(bp_graph *g, bp_op op, const int *inputs, int n_inputs,
                 const bp_node_opts *o, bp_err *e) {
    if ((unsigned)op >= BP_OP_COUNT)
        return bp_err_set(e, "unknown module kind %d (expected %s)", (int)op,
                          bp_op_expected());
    bp_node_opts def = bp_node_opts_default(op);
    if (!o) o = &def;
    node nd = {.op = op, .o = *o};
    if (o->name) {
        size_t len = strlen(o->name);
        if (len < 1 || len > BP_GRAPH_MAX_NAME)
            return bp_err_set(e, "%s: a module's name needs 1 to %d characters (got %zu)",
                              bp_op_name(op), BP_GRAPH_MAX_NAME, len);
        memcpy(nd.name, o->name, len + 1);
    } else if (op == BP_OP_INPUT) {
        snprintf(nd.name, sizeof nd.name, "input");
    } else {
        snprintf(nd.name, sizeof nd.name, "%d", g->modules + 1);
    }
    nd.o.name = NULL, nd.o.weight = nd.o.bias = NULL, nd.o.rng = NULL, nd.o.stop = NULL;
    if (n_inputs < 0 || (n_inputs > 0 && !inputs)) n_inputs = -1;
    if (check_opts(g, &nd, n_inputs, e)) return -1;
    if (g->n == g->cap_n) {
        int cap = g->cap_n ? 2 * g->cap_n : 8;
        node *grown = bp_realloc(g->nodes, sizeof *grown * (size_t)cap);
        if (!grown) return bp_err_set(e, "out of memory");
        g->nodes = grown;
        g->cap_n = cap;
    }
    nd.n_in = n_inputs;
    nd.in = bp_malloc(sizeof(int) * (size_t)(n_inputs ? n_inputs : 1));
    int rc = nd.in ? make_params(g, &nd, o) : -1;
    if (rc) {
        free_node(&nd);
        return bp_err_set(e, rc == -2 ? "interrupted" : "out of memory");
    }
    nd.o.host = NULL;       /* read by check_opts and make_params only */
    if (op == BP_OP_HOST) { /* owned from here: free_node releases it */
        nd.host = *o->host;
        for (int k = 0; k < nd.host.n_params; k++)
            nd.host.params[k].name = NULL, nd.host.params[k].init = NULL;
        if (o->host->def) strcpy(nd.host_def, o->host->def);
        nd.host.def = NULL; /* host_def: nodes move when the array grows */
    }
    if (n_inputs) memcpy(nd.in, inputs, sizeof(int) * (size_t)n_inputs);
    g->nodes[g->n] = nd;
    if (op != BP_OP_INPUT) g->modules++;
    g->finished = 0;
    return g->n++;
}

/* ------------------------------------------------------------------------ */
/* Finishing: the order, then the shapes                                     */

/* The nodes reachable from the output in depth-first post-order (inputs in
 * their order), into g->order; a cycle is a node met again while still on
 * the walk's stack. mark: 0 unseen, 1 on the stack, 2 done. */
static int walk(bp_graph *g, int *mark, int *stack, int *next, bp_err *e) {
    char wbuf[96];
    int top = 0;
    stack[top] = g->output, next[top] = 0, mark[g->output] = 1;
    g->n_order = 0;
    while (top >= 0) {
        node *nd = &g->nodes[stack[top]];
        if (next[top] == nd->n_in) {
            mark[stack[top]] = 2;
            g->order[g->n_order++] = stack[top--];
            continue;
        }
        int j = nd->in[next[top]++];
        if (mark[j] == 1)
            return bp_err_set(e,
                              "the graph has a cycle: %s is its own input, through "
                              "module '%s'",
                              WHAT(&g->nodes[j]), nd->name);
        if (mark[j] == 0) {
            mark[j] = 1;
            ++top;
            stack[top] = j, next[top] = 0;
        }
    }
    return 0;
}

/* Checks the ids, the input and the order; fills g->order. */
static int check_structure(bp_graph *g, int *scratch, bp_err *e) {
    char wbuf[96];
    if (g->n == 0) return bp_err_set(e, "the graph has no modules");
    if (g->output < 0 || g->output >= g->n)
        return bp_err_set(e,
                          "the graph's output %d is not one of its modules (ids 0..%d)",
                          g->output, g->n - 1);
    int inputs = 0;
    g->input = -1;
    for (int i = 0; i < g->n; i++) {
        node *nd = &g->nodes[i];
        if (nd->op == BP_OP_INPUT) inputs++, g->input = i;
        for (int k = 0; k < nd->n_in; k++)
            if (nd->in[k] < 0 || nd->in[k] >= g->n)
                return bp_err_set(e,
                                  "%s: its input %d is not one of the graph's modules "
                                  "(ids 0..%d)",
                                  WHAT(nd), nd->in[k], g->n - 1);
    }
    if (inputs != 1)
        return bp_err_set(e, "the graph has %d input modules (it needs exactly 1)",
                          inputs);
    int *mark = scratch, *stack = scratch + g->n, *next = scratch + 2 * g->n;
    memset(mark, 0, sizeof(int) * (size_t)g->n);
    if (walk(g, mark, stack, next, e)) return -1;
    for (int i = 0; i < g->n; i++) {
        g->nodes[i].in_use = mark[i] == 2;
        if (mark[i] != 2)
            return bp_err_set(e,
                              "%s: its output is not used on the way to the "
                              "network's output (module '%s')",
                              WHAT(&g->nodes[i]), g->nodes[g->output].name);
    }
    return 0;
}

static void set_shape(node *nd, int ndim, const int *shape) {
    nd->ndim = ndim;
    nd->count = 1;
    for (int d = 0; d < ndim; d++) nd->count *= (size_t)(nd->shape[d] = shape[d]);
}

/* The sizes of conv2d's or a pool's images: its input's and its own. */
static bp_conv_shape conv_shape(const bp_graph *g, const node *nd) {
    const node *x = &g->nodes[nd->in[0]];
    const bp_node_opts *o = &nd->o;
    bp_conv_shape s = {.C = x->shape[0],
                       .H = x->shape[1],
                       .W = x->shape[2],
                       .O = nd->op == BP_OP_CONV2D ? o->out : x->shape[0],
                       .KH = o->kh,
                       .KW = o->kw,
                       .SH = o->sh,
                       .SW = o->sw,
                       .PH = o->ph,
                       .PW = o->pw};
    bp_conv_shape_outputs(&s);
    return s;
}

/* The shape of conv2d's or a pool's output, O x P x Q. */
static int infer_window(bp_graph *g, node *nd, bp_err *e) {
    char wbuf[96], s1[64];
    const node *x = &g->nodes[nd->in[0]];
    const bp_node_opts *o = &nd->o;
    shape_text(s1, sizeof s1, x->ndim, x->shape);
    if (x->ndim != 3)
        return bp_err_set(e, "%s: takes samples of C x H x W, its input has shape %s",
                          WHAT(nd), s1);
    if (nd->op == BP_OP_CONV2D && x->shape[0] != o->in)
        return bp_err_set(e, "%s: takes %d channels, its input has shape %s", WHAT(nd),
                          o->in, s1);
    bp_conv_shape s = conv_shape(g, nd);
    if (s.P < 1 || s.Q < 1)
        return bp_err_set(
            e,
            "%s: a kernel of %dx%d with a padding of %dx%d does not fit its "
            "input of shape %s",
            WHAT(nd), o->kh, o->kw, o->ph, o->pw, s1);
    int shape[3] = {s.O, s.P, s.Q};
    set_shape(nd, 3, shape);
    if (nd->count > INT32_MAX)
        return bp_err_set(e, "%s: a sample of %zu values is too large", WHAT(nd),
                          nd->count);
    return 0;
}

/* infer's ops of features: linear and layer norm on the last dimension,
 * batch norm on the first. */
static int infer_features(bp_graph *g, node *nd, bp_err *e) {
    char wbuf[96], s1[64];
    const node *x = &g->nodes[nd->in[0]];
    const bp_node_opts *o = &nd->o;
    int shape[BP_GRAPH_MAX_DIMS];
#define XSHAPE shape_text(s1, sizeof s1, x->ndim, x->shape)
    switch (nd->op) {
        case BP_OP_LINEAR:
            if (x->shape[x->ndim - 1] != o->in)
                return bp_err_set(e, "%s: takes %d features, its input has shape %s",
                                  WHAT(nd), o->in, XSHAPE);
            memcpy(shape, x->shape, sizeof shape);
            shape[x->ndim - 1] = o->out;
            set_shape(nd, x->ndim, shape);
            return 0;
        case BP_OP_LAYERNORM:
            if (x->shape[x->ndim - 1] != o->in)
                return bp_err_set(e,
                                  "%s: takes rows of %d features, its input has shape %s",
                                  WHAT(nd), o->in, XSHAPE);
            set_shape(nd, x->ndim, x->shape);
            return 0;
        case BP_OP_BATCHNORM1D:
            if (x->ndim != 1 || x->shape[0] != o->in)
                return bp_err_set(e, "%s: takes %d features, its input has shape %s",
                                  WHAT(nd), o->in, XSHAPE);
            set_shape(nd, 1, x->shape);
            return 0;
        case BP_OP_BATCHNORM2D:
            if (x->ndim != 3 || x->shape[0] != o->in)
                return bp_err_set(e,
                                  "%s: takes %d channels (samples of C x H x W), its "
                                  "input has shape %s",
                                  WHAT(nd), o->in, XSHAPE);
            set_shape(nd, 3, x->shape);
            return 0;
        default: return 0;
    }
#undef XSHAPE
}

/* infer's ops of sequences (T x features): embedding, the recurrent ops,
 * attention and position. */
static int infer_sequence(bp_graph *g, node *nd, bp_err *e) {
    char wbuf[96], s1[64];
    const node *x = &g->nodes[nd->in[0]];
    const bp_node_opts *o = &nd->o;
    int shape[BP_GRAPH_MAX_DIMS];
#define XSHAPE shape_text(s1, sizeof s1, x->ndim, x->shape)
    switch (nd->op) {
        case BP_OP_EMBEDDING:
            if (x->store != g->input || x->op == BP_OP_ACT) /* not an identity's view */
                return bp_err_set(e,
                                  "%s: reads the network's input (its ids), not module "
                                  "'%s''s output",
                                  WHAT(nd), x->name);
            if (x->ndim != 1)
                return bp_err_set(e,
                                  "%s: takes a sequence of ids (shape T), its input has "
                                  "shape %s",
                                  WHAT(nd), XSHAPE);
            shape[0] = x->shape[0], shape[1] = o->out;
            set_shape(nd, 2, shape);
            return 0;
        case BP_OP_LSTM:
        case BP_OP_RNN:
        case BP_OP_GRU:
            if (x->ndim != 2 || x->shape[1] != o->in)
                return bp_err_set(e,
                                  "%s: takes sequences of T x %d, its input has shape %s",
                                  WHAT(nd), o->in, XSHAPE);
            shape[0] = x->shape[0], shape[1] = o->out;
            set_shape(nd, 2, shape);
            return 0;
        case BP_OP_ATTENTION:
        case BP_OP_POSITION: {
            int C = nd->op == BP_OP_ATTENTION ? o->in : o->out,
                block = nd->op == BP_OP_ATTENTION ? o->block : o->in;
            if (x->ndim != 2 || x->shape[1] != C)
                return bp_err_set(e,
                                  "%s: takes sequences of T x %d, its input has shape %s",
                                  WHAT(nd), C, XSHAPE);
            if (block && x->shape[0] > block)
                return bp_err_set(
                    e,
                    "%s: a sequence of %d steps is longer than its block of "
                    "%d",
                    WHAT(nd), x->shape[0], block);
            /* its weights, heads T x T a sample, bounded as a sample's values are */
            if (nd->op == BP_OP_ATTENTION &&
                (size_t)o->heads * x->shape[0] * x->shape[0] > INT32_MAX)
                return bp_err_set(e,
                                  "%s: %d heads of %d x %d weights a sample are too many",
                                  WHAT(nd), o->heads, x->shape[0], x->shape[0]);
            set_shape(nd, 2, x->shape);
            return 0;
        }
        default: return 0;
    }
#undef XSHAPE
}

/* infer's views: flatten and reshape, the same values in another shape. */
static int infer_view(bp_graph *g, node *nd, bp_err *e) {
    char wbuf[96], s1[64], s2[64];
    const node *x = &g->nodes[nd->in[0]];
    int flat = (int)x->count;
    if (nd->op == BP_OP_FLATTEN) set_shape(nd, 1, &flat);
    else set_shape(nd, nd->o.ndim, nd->o.shape);
    if (nd->count != x->count)
        return bp_err_set(e, "%s: cannot make %zu values (shape %s) into shape %s",
                          WHAT(nd), x->count,
                          shape_text(s1, sizeof s1, x->ndim, x->shape),
                          shape_text(s2, sizeof s2, nd->ndim, nd->shape));
    nd->store = x->store;
    return 0;
}

/* infer's joins: add (the same shapes) and concat (along the first
 * dimension). */
static int infer_join(bp_graph *g, node *nd, bp_err *e) {
    char wbuf[96], s1[64], s2[64];
    const node *x = &g->nodes[nd->in[0]];
    int shape[BP_GRAPH_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    for (int k = 1; k < nd->n_in; k++) {
        const node *xk = &g->nodes[nd->in[k]];
        int ok = xk->ndim == x->ndim;
        for (int d = nd->op == BP_OP_CONCAT; ok && d < x->ndim; d++)
            ok = xk->shape[d] == x->shape[d];
        if (!ok)
            return bp_err_set(e,
                              nd->op == BP_OP_ADD
                                  ? "%s: its inputs have shapes %s and %s"
                                  : "%s: its inputs have shapes %s and %s, which differ "
                                    "past the first dimension",
                              WHAT(nd), shape_text(s1, sizeof s1, x->ndim, x->shape),
                              shape_text(s2, sizeof s2, xk->ndim, xk->shape));
        if (nd->op == BP_OP_CONCAT) shape[0] += xk->shape[0];
    }
    set_shape(nd, x->ndim, shape);
    if (nd->count > INT32_MAX)
        return bp_err_set(e, "%s: a sample of %zu values is too large", WHAT(nd),
                          nd->count);
    return 0;
}

/* Node nd's shape from its inputs', or an error naming both. */
static int infer(bp_graph *g, node *nd, bp_err *e) {
    const node *x = nd->n_in ? &g->nodes[nd->in[0]] : NULL;
    const bp_node_opts *o = &nd->o;
    nd->store = (int)(nd - g->nodes);
    switch (nd->op) {
        case BP_OP_INPUT: set_shape(nd, o->ndim, o->shape); return 0;
        case BP_OP_LINEAR:
        case BP_OP_LAYERNORM:
        case BP_OP_BATCHNORM1D:
        case BP_OP_BATCHNORM2D: return infer_features(g, nd, e);
        case BP_OP_CONV2D:
        case BP_OP_MAXPOOL2D:
        case BP_OP_AVGPOOL2D: return infer_window(g, nd, e);
        case BP_OP_HOST:
            if (o->ndim) set_shape(nd, o->ndim, o->shape);
            else set_shape(nd, x->ndim, x->shape);
            return 0;
        case BP_OP_EMBEDDING:
        case BP_OP_LSTM:
        case BP_OP_RNN:
        case BP_OP_GRU:
        case BP_OP_ATTENTION:
        case BP_OP_POSITION: return infer_sequence(g, nd, e);
        case BP_OP_FLATTEN:
        case BP_OP_RESHAPE: return infer_view(g, nd, e);
        case BP_OP_ADD:
        case BP_OP_CONCAT: return infer_join(g, nd, e);
        default: /* act, dropout: the input's shape */
            set_shape(nd, x->ndim, x->shape);
            /* The identity (bp.residual's other branch) is a view: its
             * values and gradient are its input's, with nothing to run
             * (graph_real.h skips it). A copy forward and an add backward
             * a value each were 2% of W9's iteration. */
            if (nd->op == BP_OP_ACT && o->act == BP_ACT_IDENTITY) nd->store = x->store;
            return 0;
    }
}

/* The parameter list: every node's tensors, in the order of the adds. */
static int make_list(bp_graph *g, bp_err *e) {
    int n = 0;
    for (int i = 0; i < g->n; i++) n += g->nodes[i].n_t;
    bp_param *list = bp_malloc(sizeof *list * (size_t)(n ? n : 1));
    if (!list) return bp_err_set(e, "out of memory");
    n = 0;
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < g->nodes[i].n_t; k++) list[n++] = g->nodes[i].t[k];
    bp_free(g->list);
    g->list = list;
    g->n_list = n;
    return 0;
}

/* How many nodes in use read node id's values (through its store: a
 * view of it counts as one). */
static int readers(const bp_graph *g, int id) {
    int n = 0;
    for (int k = 0; k < g->n_order; k++) {
        const node *nd = &g->nodes[g->order[k]];
        for (int j = 0; j < nd->n_in; j++) n += g->nodes[nd->in[j]].store == id;
    }
    return n;
}

/* Marks each max pool of windows that do not overlap whose input is a
 * ReLU that it alone reads, the ReLU the only reader of its own input's
 * store, and neither the output: the pool's backward then adds dy times
 * the ReLU's derivative at each window's winner straight into the ReLU's
 * input's gradient, and the ReLU's backward, and the zeroing of its
 * gradient, are skipped (two passes over the largest tensors of a CNN).
 * The same bits: that gradient starts at zero with no other writer, each
 * input wins at most one window, and where none wins the ReLU's backward
 * added +0 (test_conv.c, test_relu_pool_fused). */
static void fuse_relu_pools(bp_graph *g) {
    for (int k = 0; k < g->n_order; k++) g->nodes[g->order[k]].fused = 0;
    for (int k = 0; k < g->n_order; k++) {
        node *p = &g->nodes[g->order[k]];
        if (p->op != BP_OP_MAXPOOL2D || p->o.sh < p->o.kh || p->o.sw < p->o.kw) continue;
        int r = p->in[0];
        node *relu = &g->nodes[r];
        if (relu->op != BP_OP_ACT || relu->o.act != BP_ACT_RELU || relu->store != r ||
            r == g->output || readers(g, r) != 1)
            continue;
        int x = g->nodes[relu->in[0]].store;
        if (x == g->output || readers(g, x) != 1) continue;
        p->fused = relu->fused = 1;
    }
}

/* Marks each fused ReLU and max pool whose ReLU reads a conv2d directly
 * as a chain run by the conv2d (graph_real.h's chain_forward): in float32
 * where oneDNN takes the pool (bp_conv_chain_takes), unless a value of
 * the conv2d or the ReLU was asked for. Before each forward, so that a
 * forward and its backward agree. */
static void set_chains(bp_graph *g) {
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        nd->chain = nd->chained = 0;
    }
    for (int k = 0; k < g->n_order && g->dtype == BP_F32; k++) {
        node *p = &g->nodes[g->order[k]];
        if (p->op != BP_OP_MAXPOOL2D || !p->fused) continue;
        node *relu = &g->nodes[p->in[0]], *conv = &g->nodes[relu->in[0]];
        bp_conv_shape ps = conv_shape(g, p);
        if (conv->op != BP_OP_CONV2D || conv->shown || relu->shown ||
            !bp_conv_chain_takes(&ps))
            continue;
        conv->chain = g->order[k] + 1;
        relu->chained = p->chained = 1;
    }
}

/* Marks each float32 GELU whose input is a linear's own output: the
 * linear makes the GELU's values too, in blocks of rows, each block's
 * GELU while its product is still in the cache (graph_real.h's
 * linear_gelu_forward), and the GELU's forward is skipped. The same
 * kernels on the same rows (test_graph.c, test_linear_gelu_fused); the
 * backward is its linear's too, in the same blocks, where the GELU alone
 * reads the linear and stores its gradient (mark_writers' gelu_back): each
 * block's dLoss/dh, then its rows of db and dx while the block is in the
 * cache, then dW over all rows. Float64 keeps its walk. */
static void fuse_linear_gelus(bp_graph *g) {
    for (int k = 0; k < g->n_order; k++)
        g->nodes[g->order[k]].gelu_by = g->nodes[g->order[k]].gelu_alone = 0;
    if (g->dtype != BP_F32) return;
    for (int k = 0; k < g->n_order; k++) {
        node *a = &g->nodes[g->order[k]];
        if (a->op != BP_OP_ACT || a->o.act != BP_ACT_GELU || a->store != g->order[k]) continue;
        node *lin = &g->nodes[a->in[0]];
        if (lin->op != BP_OP_LINEAR || lin->store != a->in[0] || lin->gelu_by) continue;
        lin->gelu_by = g->order[k] + 1, a->gelu_by = 1;
        lin->gelu_alone = readers(g, a->in[0]) == 1;
    }
}

int bp_graph_finish(bp_graph *g, int output, bp_err *e) {
    g->finished = 0;
    g->output = output;
    int *scratch = bp_malloc(sizeof(int) * 3 * (size_t)(g->n ? g->n : 1));
    int *order = bp_malloc(sizeof(int) * (size_t)(g->n ? g->n : 1));
    if (!scratch || !order) {
        bp_free(scratch);
        bp_free(order);
        return bp_err_set(e, "out of memory");
    }
    bp_free(g->order);
    g->order = order;
    int rc = check_structure(g, scratch, e);
    bp_free(scratch);
    for (int k = 0; rc == 0 && k < g->n_order; k++)
        rc = infer(g, &g->nodes[g->order[k]], e);
    if (rc == 0) rc = make_list(g, e);
    if (rc) return -1;
    fuse_relu_pools(g);
    fuse_linear_gelus(g);
    /* The batch buffers are laid out for the old nodes: made again by the
     * next reserve. */
    g->cap = 0;
    g->B = 0;
    g->finished = 1;
    return 0;
}

int bp_graph_truncate(bp_graph *g, int n, int output, bp_err *e) {
    if (n < 0 || n > g->n) return bp_err_set(e, "no module %d to truncate at", n);
    while (g->n > n) {
        node *nd = &g->nodes[--g->n];
        if (nd->op != BP_OP_INPUT) g->modules--;
        free_node(nd);
    }
    return bp_graph_finish(g, output, e);
}

/* ------------------------------------------------------------------------ */
/* Facts                                                                     */

bp_dtype bp_graph_dtype(const bp_graph *g) { return g->dtype; }
int bp_graph_nodes(const bp_graph *g) { return g->n; }
int bp_graph_output(const bp_graph *g) { return g->output; }
int bp_graph_finished(const bp_graph *g) { return g->finished; }
int bp_graph_inputs(const bp_graph *g) {
    return g->finished ? (int)g->nodes[g->input].count : 0;
}
int bp_graph_outputs(const bp_graph *g) {
    return g->finished ? (int)g->nodes[g->output].count : 0;
}
bp_op bp_graph_node_op(const bp_graph *g, int id) { return g->nodes[id].op; }
const char *bp_graph_node_name(const bp_graph *g, int id) { return g->nodes[id].name; }
const int *bp_graph_node_inputs(const bp_graph *g, int id, int *n) {
    *n = g->nodes[id].n_in;
    return g->nodes[id].in;
}
const bp_node_opts *bp_graph_node_opts(const bp_graph *g, int id) {
    return &g->nodes[id].o;
}
const char *bp_graph_node_host_def(const bp_graph *g, int id) {
    const node *nd = &g->nodes[id];
    return nd->op == BP_OP_HOST && nd->host_def[0] ? nd->host_def : NULL;
}
void bp_graph_node_shape(const bp_graph *g, int id, int *ndim, int *shape) {
    *ndim = g->nodes[id].ndim;
    memcpy(shape, g->nodes[id].shape, sizeof(int) * BP_GRAPH_MAX_DIMS);
}

const bp_param *bp_graph_params(const bp_graph *g, int *n) {
    *n = g->n_list;
    return g->list;
}

const bp_param *bp_graph_node_params(const bp_graph *g, int id, int *n) {
    *n = g->nodes[id].n_t;
    return g->nodes[id].t;
}

void bp_graph_set_frozen(bp_graph *g, int k, int frozen) {
    if (k < 0 || k >= g->n_list || !g->list[k].trainable) return;
    g->list[k].frozen = frozen != 0;
    /* the node's own copy, from which the next finish makes the list */
    for (int i = 0, at = 0; i < g->n; at += g->nodes[i].n_t, i++)
        if (k < at + g->nodes[i].n_t) {
            g->nodes[i].t[k - at].frozen = frozen != 0;
            return;
        }
}

int64_t bp_graph_grads_computed(const bp_graph *g) { return g->grads; }

/* A batch norm frozen whole (bp_graph_set_frozen): eval's arithmetic in
 * training too. */
static int bn_frozen(const node *nd) { return nd->t[0].frozen && nd->t[1].frozen; }

/* Adds to g->grads the gradients nd's backward computes: a linear's or
 * conv2d's unfrozen tensors, every trainable one of the other ops. */
static void count_grads(bp_graph *g, const node *nd) {
    int skips = nd->op == BP_OP_LINEAR || nd->op == BP_OP_CONV2D;
    for (int j = 0; j < nd->n_t; j++)
        if (nd->t[j].trainable && !(skips && nd->t[j].frozen)) g->grads++;
}

int bp_graph_linear(const bp_graph *g, int l) {
    for (int k = 0; k < g->n_order; k++)
        if (g->nodes[g->order[k]].op == BP_OP_LINEAR && --l == 0) return g->order[k];
    return -1;
}

int bp_graph_count_linear(const bp_graph *g) {
    int n = 0;
    for (int k = 0; k < g->n_order; k++) n += g->nodes[g->order[k]].op == BP_OP_LINEAR;
    return n;
}

int bp_graph_output_act(const bp_graph *g) {
    const node *nd = &g->nodes[g->output];
    return nd->op == BP_OP_ACT ? (int)nd->o.act : -1;
}

/* ------------------------------------------------------------------------ */
/* The batch buffers                                                          */

/* Bytes at the start of each buffer of the block: a cache line, which any
 * type's alignment divides. */
#define ALIGN 64
static size_t up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* A recurrent node's values a batch of B needs beside its y and dy, in
 * units of B T H: for each layer (per_layer from layer 0's at the start of
 * work) its states and gates where the offsets say (-1: none), and below
 * the last its h and dh (the last's are the node's y and dy; every layer
 * has the room, for simplicity); then the backward's workspaces (dz units,
 * an lstm's dz, a gru's dgi then dgh, an rnn's dz; twice with 2 or more
 * layers, for alternate layers, so that a team's members may start a
 * layer's steps while others still read the layer above's) and carry
 * (carry units of B H). graph_real.h's rec_layer and the state's
 * states_at find them so. */
typedef struct rec_layout {
    int per_layer, h, dh, c, a, gh, dz, carry;
} rec_layout;

static rec_layout rec_of(bp_op op) {
    static const rec_layout lstm = {7, 5, 6, 0, 1, -1, 4, 2},
                            gru = {8, 6, 7, -1, 0, 3, 6, 1},
                            rnn = {2, 0, 1, -1, -1, -1, 1, 1};
    return op == BP_OP_LSTM ? lstm : op == BP_OP_GRU ? gru : rnn;
}

/* An attention's values for a batch of B beside its y and dy, in this
 * order (graph_real.h's attn_bufs finds them so): what backward reads,
 * qkv (B T 3C), att (B T C) and the weights p (B heads T T); then the
 * backward's workspaces, datt (B T C), dqkv (B T 3C) and dp (T T). */
static size_t attn_work(const node *nd, int B) {
    size_t T = (size_t)nd->shape[0], BTC = (size_t)B * T * nd->o.in;
    return 8 * BTC + ((size_t)B * nd->o.heads + 1) * T * T;
}

/* The backward's sets of dz a recurrent node has (rec_work). */
static int dz_sets(const node *nd) { return nd->o.layers > 1 ? 2 : 1; }

static size_t rec_work(const node *nd, int B) {
    rec_layout r = rec_of(nd->op);
    size_t BTH = (size_t)B * nd->shape[0] * nd->o.out;
    return ((size_t)nd->o.layers * r.per_layer + (size_t)r.dz * dz_sets(nd)) * BTH +
           (size_t)r.carry * B * nd->o.out;
}

/* Lays out (base NULL: only sizes) each node's y, dy, keep and xhat for B
 * rows; returns the bytes. The input's y is the caller's (the net's x). */
static size_t layout(bp_graph *g, char *base, int B) {
    size_t at = 0;
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        size_t n = (size_t)B * nd->count, bytes = up(n * g->z);
        int own = nd->store == g->order[k];
        nd->y = nd->dy = nd->xhat = nd->col = nd->work = nd->rstd = NULL;
        nd->keep = NULL;
        nd->arg = NULL;
        if (own && nd->op != BP_OP_INPUT) nd->y = base ? base + at : NULL, at += bytes;
        if (own) nd->dy = base ? base + at : NULL, at += bytes;
        if (nd->op == BP_OP_DROPOUT)
            nd->keep = base ? (uint8_t *)base + at : NULL, at += up(n);
        if (nd->op == BP_OP_BATCHNORM1D || nd->op == BP_OP_BATCHNORM2D ||
            nd->op == BP_OP_LAYERNORM)
            nd->xhat = base ? base + at : NULL, at += bytes;
        if (nd->op == BP_OP_LAYERNORM) /* a value a row */
            nd->rstd = base ? base + at : NULL,
            at += up((size_t)B * nd->count / nd->o.in * g->z);
        if (nd->op == BP_OP_MAXPOOL2D)
            nd->arg = base ? (int32_t *)(base + at) : NULL, at += up(n * sizeof(int32_t));
        if (nd->op == BP_OP_CONV2D) {
            bp_conv_shape s = conv_shape(g, nd);
            nd->col = base ? base + at : NULL, at += up(bp_conv_cols(&s) * g->z);
        }
        if (bp_op_gates(nd->op))
            nd->work = base ? base + at : NULL, at += up(rec_work(nd, B) * g->z);
        if (nd->op == BP_OP_ATTENTION)
            nd->work = base ? base + at : NULL, at += up(attn_work(nd, B) * g->z);
    }
    return at;
}

int bp_graph_reserve(bp_graph *g, int B, bp_err *e) {
    if (!g->finished) return bp_err_set(e, "the graph is not finished");
    if (B <= g->cap) return 0;
    size_t bytes = layout(g, NULL, B);
    char *block = bp_malloc(bytes ? bytes : 1);
    if (!block) {
        layout(g, g->block, g->cap);
        return bp_err_set(e, "out of memory for a batch of %d", B);
    }
    bp_free(g->block);
    g->block = block;
    layout(g, block, B);
    g->cap = B;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* A team of threads                                                          */

/* Lays out (base NULL: only sizes) each conv2d's workspaces for members 1
 * .. T-1 of a team: a sample's columns and the partial sums of dW (O K)
 * then db (O) each; returns the bytes. Member 0 has the node's own. */
static size_t team_layout(bp_graph *g, char *base, int T) {
    size_t at = 0;
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        nd->tcol = nd->tgrad = NULL;
        if (nd->op != BP_OP_CONV2D) continue;
        bp_conv_shape s = conv_shape(g, nd);
        size_t others = (size_t)(T - 1), K = (size_t)s.C * s.KH * s.KW;
        nd->tcol = base ? base + at : NULL, at += up(others * bp_conv_cols(&s) * g->z);
        nd->tgrad = base ? base + at : NULL, at += up(others * (K + 1) * s.O * g->z);
    }
    return at;
}

/* Each dropout's jump slots for T members, empty; kept once made (a team
 * is lent to the graph for each step, and the jumps serve every step). */
static int reserve_jumps(bp_graph *g, int T) {
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        if (nd->op != BP_OP_DROPOUT || nd->tjump_T >= T) continue;
        bp_rng_jump *j = bp_calloc((size_t)T * JUMP_SLOTS, sizeof *j);
        if (!j) return -1;
        bp_free(nd->tjump);
        nd->tjump = j;
        nd->tjump_T = T;
    }
    return 0;
}

/* The first node in use that keeps g off a team (a host's module, whose
 * callbacks run on the calling thread), or NULL. */
static const node *unsplittable(const bp_graph *g) {
    for (int k = 0; k < g->n_order; k++) {
        const node *nd = &g->nodes[g->order[k]];
        if (nd->op == BP_OP_HOST) return nd;
    }
    return NULL;
}

int bp_graph_set_team(bp_graph *g, bp_team *team, bp_err *e) {
    char wbuf[96];
    g->team = NULL;
    if (!team) return 0;
    if (!g->finished) return bp_err_set(e, "the graph is not finished");
    const node *nd = unsplittable(g);
    if (nd)
        return bp_err_set(e,
                          "%s: runs on the calling thread, so the graph cannot "
                          "be split between a team",
                          WHAT(nd));
    int T = bp_team_size(team);
    size_t bytes = team_layout(g, NULL, T);
    if (bytes > g->team_bytes) {
        char *block = bp_malloc(bytes);
        if (!block)
            return bp_err_set(e, "out of memory for a team of %d's workspaces", T);
        bp_free(g->team_block);
        g->team_block = block;
        g->team_bytes = bytes;
    }
    team_layout(g, g->team_block, T);
    if (reserve_jumps(g, T))
        return bp_err_set(e, "out of memory for a team of %d's dropout jumps", T);
    g->team = team;
    return 0;
}

int64_t bp_graph_work(const bp_graph *g, int B) {
    int64_t work = 0;
    if (unsplittable(g)) return 0; /* no team is made for what set_team refuses */
    for (int k = 0; k < g->n_order; k++) {
        const node *nd = &g->nodes[g->order[k]];
        if (nd->op == BP_OP_LINEAR)
            work += (int64_t)B * (int64_t)(g->nodes[nd->in[0]].count / nd->o.in) *
                    nd->o.in * nd->o.out;
        if (nd->op == BP_OP_CONV2D) {
            bp_conv_shape s = conv_shape(g, nd);
            work += (int64_t)B * s.O * s.P * s.Q * s.C * s.KH * s.KW;
        }
        if (bp_op_gates(nd->op)) /* each layer's input and recurrent products */
            work += (int64_t)B * nd->shape[0] * bp_op_gates(nd->op) * nd->o.out *
                    ((int64_t)nd->o.in + (int64_t)(2 * nd->o.layers - 1) * nd->o.out);
    }
    return work;
}

/* A member's share of a walk: samples r0 .. r0 + S - 1 of the batch, as
 * member t of T ({0, B, 0, 1}: the whole batch, on the calling thread). */
typedef struct part {
    int r0, S, t, T;
} part;

static part part_of(int B, int t, int T) {
    int r0 = (int)((long)B * t / T), r1 = (int)((long)B * (t + 1) / T);
    return (part){r0, r1 - r0, t, T};
}

/* Member t's jump of n draws for dropout node nd, from its slots (most
 * recent first; made in the first on a miss). Only member t touches
 * them. */
static const bp_rng_jump *jump_of(node *nd, int t, uint64_t n) {
    bp_rng_jump *s = nd->tjump + (size_t)t * JUMP_SLOTS;
    for (int k = 0; k < JUMP_SLOTS; k++)
        if (s[k].n == n) return &s[k];
    memmove(s + 1, s, (JUMP_SLOTS - 1) * sizeof *s);
    bp_rng_jump_make(&s[0], n);
    return &s[0];
}

/* Whether a walk split between a team gives each member its own rows of
 * op's forward (or backward): the ops whose work is per sample or, in a
 * backward, whose sums over the batch are split otherwise (a linear's, a
 * recurrent op's and an embedding's by rows of the weights' gradients, a
 * conv2d's as partial sums), dropout too (each member skips the
 * generator to its part's first draw). The rest runs whole on member 0
 * (batch norm's and layer norm's statistics are summed in the single
 * thread's order). */
static int splits(bp_op op) {
    switch (op) {
        case BP_OP_LINEAR:
        case BP_OP_ACT:
        case BP_OP_CONV2D:
        case BP_OP_MAXPOOL2D:
        case BP_OP_AVGPOOL2D:
        case BP_OP_LSTM:
        case BP_OP_RNN:
        case BP_OP_GRU: return 1;
        case BP_OP_DROPOUT: /* each member its part of the stream (dropout_forward) */
        case BP_OP_EMBEDDING: return 1;
        default: return 0;
    }
}

/* Whether op has nothing to run (its values are another node's). */
static int is_view(bp_op op) {
    return op == BP_OP_INPUT || op == BP_OP_FLATTEN || op == BP_OP_RESHAPE;
}

/* Whether the walk about to run on g's B rows goes to its team. */
static int team_on(const bp_graph *g) {
    return g->team && g->B >= 2 * bp_team_size(g->team);
}

/* ------------------------------------------------------------------------ */
/* The executor, for double then float                                       */

/* host: the caller's callback over the node's buffers, in any dtype (it
 * sees the graph's); backward's dx NULL when nobody needs dLoss/dx. A
 * failure is prefixed with the module: "host (module '3'): ...". */
static int host_run(bp_graph *g, node *nd, int backward, int want_dx, bp_err *e) {
    char wbuf[96];
    const node *x = &g->nodes[nd->in[0]];
    int s = g->nodes[nd->in[0]].store;
    bp_host_call c = {.B = g->B,
                      .training = g->fwd_training,
                      .in_ndim = x->ndim,
                      .out_ndim = nd->ndim,
                      .x = g->nodes[s].y,
                      .y = nd->y,
                      .dy = nd->dy,
                      .out = nd->y,
                      .params = nd->t,
                      .n_params = nd->n_t};
    memcpy(c.in_shape, x->shape, sizeof c.in_shape);
    memcpy(c.out_shape, nd->shape, sizeof c.out_shape);
    (void)want_dx;
    if (backward) c.dx = g->nodes[s].needs ? g->nodes[s].dy : NULL;
    bp_err inner;
    int rc = backward ? nd->host.backward(nd->host.ctx, &c, &inner)
                      : nd->host.forward(nd->host.ctx, &c, &inner);
    if (rc) return bp_err_set(e, "%s: %s", WHAT(nd), inner.msg);
    return 0;
}

/* Zeroes rows r0 .. r0 + S - 1 of every gradient but the output's (the
 * loss's, already there), a fused ReLU's and a chain's conv2d's (never
 * written; conv2d_backward zeroes its own if the chain fell back) and those a
 * backward stores into first (mark_writers, never on a team): the whole
 * batch before a backward on the calling thread, each member's own rows
 * on a team (backward_member), so that the zeroing is split too. */
static void zero_dy(bp_graph *g, int r0, int S) {
    int out = g->nodes[g->output].store;
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        if (nd->dy && g->order[k] != out && !nd->dy_stored && !nd->chain &&
            !(nd->op == BP_OP_ACT && nd->fused))
            memset((char *)nd->dy + (size_t)r0 * nd->count * g->z, 0,
                   (size_t)S * nd->count * g->z);
    }
}

/* Member t of T's share of every trainable tensor's gradient zeroed: each
 * tensor cut at 64-byte lines (bp_graph_backward_fresh). */
static void zero_grads(bp_graph *g, int t, int T) {
    const size_t line = 64 / g->z;
    for (int k = 0; k < g->n_list; k++) {
        const bp_param *p = &g->list[k];
        if (!p->trainable) continue;
        size_t a = p->count * t / T / line * line,
               b = t + 1 == T ? p->count : p->count * (t + 1) / T / line * line;
        memset((char *)p->grad + a * g->z, 0, (b - a) * g->z);
    }
}

/* Member t's oneDNN cache of conv2d nd (float32), made on its first use;
 * NULL without oneDNN, or past DNNL_MEMBERS: then im2col. */
static bp_conv_dnnl *conv_dnnl(node *nd, int t) {
    if (t >= DNNL_MEMBERS) return NULL;
    if (!nd->dnnl[t]) nd->dnnl[t] = bp_conv_dnnl_new();
    return nd->dnnl[t];
}

#define BP_REAL_F32 0
#include "real.h"
#include "graph_real.h"
#undef BP_REAL_F32

#define BP_REAL_F32 1
#include "real.h"
#include "graph_real.h"
#undef BP_REAL_F32

/* The checks a forward's mode needs, before any node runs (so that a
 * refused forward changes no running statistic). */
static int check_mode(const bp_graph *g, int B, int training, const bp_rng *r,
                      bp_err *e) {
    char wbuf[96];
    if (!training) return 0;
    for (int k = 0; k < g->n_order; k++) {
        const node *nd = &g->nodes[g->order[k]];
        if ((nd->op == BP_OP_BATCHNORM1D || nd->op == BP_OP_BATCHNORM2D) && bn_frozen(nd))
            continue;
        if (nd->op == BP_OP_BATCHNORM1D && B < 2)
            return bp_err_set(
                e,
                "%s: training needs a batch of at least 2 samples (got %d); "
                "evaluation mode takes any",
                WHAT(nd), B);
        if (nd->op == BP_OP_BATCHNORM2D && (size_t)B * nd->shape[1] * nd->shape[2] < 2)
            return bp_err_set(e,
                              "%s: training needs at least 2 values a channel (got a "
                              "batch of %d of %dx%d); evaluation mode takes any",
                              WHAT(nd), B, nd->shape[1], nd->shape[2]);
        if (nd->op == BP_OP_DROPOUT && nd->o.p > 0 && nd->o.p < 1 && !r)
            return bp_err_set(e, "%s: training needs a random generator for its masks",
                              WHAT(nd));
    }
    return 0;
}

/* Every embedding's ids (in x, the network's input) whole numbers in
 * 1..V, else an error naming the first that is not and its place. */
static int check_ids(const bp_graph *g, const void *x, int B, bp_err *e) {
    char wbuf[96];
    for (int k = 0; k < g->n_order; k++) {
        const node *nd = &g->nodes[g->order[k]];
        if (nd->op != BP_OP_EMBEDDING) continue;
        size_t T = g->nodes[g->input].count, n = (size_t)B * T;
        for (size_t j = 0; j < n; j++) {
            double v =
                g->dtype == BP_F32 ? ((const float *)x)[j] : ((const double *)x)[j];
            if (v >= 1 && v <= nd->o.in && v == floor(v)) continue;
            return bp_err_set(e, "%s: id %.17g in sample %zu at step %zu is not in 1..%d",
                              WHAT(nd), v, j / T + 1, j % T + 1, nd->o.in);
        }
    }
    return 0;
}

/* Every recurrent node's initial state zeros or of B rows. */
static int check_states(const bp_graph *g, int B, bp_err *e) {
    char wbuf[96];
    for (int k = 0; k < g->n_order; k++) {
        const node *nd = &g->nodes[g->order[k]];
        if (nd->state_B && nd->state_B != B)
            return bp_err_set(
                e,
                "%s: its initial state holds %d sequences, the batch has %d "
                "(set one of %d, or zeros)",
                WHAT(nd), nd->state_B, B, B);
    }
    return 0;
}

int bp_graph_forward(bp_graph *g, const void *x, int B, int training, bp_rng *r,
                     bp_err *e) {
    if (g->len_B && g->len_B != B)
        return bp_err_set(e,
                          "lengths are set for %d sequences, the batch has %d (set %d "
                          "lengths, or none)",
                          g->len_B, B, B);
    if (bp_graph_reserve(g, B, e) || check_mode(g, B, training, r, e) ||
        check_ids(g, x, B, e) || check_states(g, B, e))
        return -1;
    g->B = B;
    g->backed = 0;
    g->fwd_training = training != 0;
    set_chains(g);
    g->nodes[g->input].y = (void *)x;
    int rc = 0;
    if (team_on(g)) {
        g->walk_rng = r;
        bp_team_run(g->team, g->dtype == BP_F32 ? forward_member_f32 : forward_member, g);
        if (r) *r = g->walk_end; /* not before: every member starts from *r */
    } else {
        rc = g->dtype == BP_F32 ? forward_nodes_f32(g, r, e) : forward_nodes(g, r, e);
    }
    if (rc) g->B = 0; /* backward refuses a forward that did not end */
    return rc;
}

void *bp_graph_output_value(bp_graph *g) { return g->nodes[g->nodes[g->output].store].y; }
const void *bp_graph_node_value(bp_graph *g, int id) {
    node *nd = &g->nodes[g->nodes[id].store];
    nd->shown = 1; /* from the next forward on, out of any chain */
    return nd->chain || (nd->chained && nd->op == BP_OP_ACT) ? NULL : nd->y;
}
void *bp_graph_output_grad(bp_graph *g) { return g->nodes[g->nodes[g->output].store].dy; }
const void *bp_graph_input_grad(const bp_graph *g) { return g->nodes[g->input].dy; }
int bp_graph_batch(const bp_graph *g) { return g->B; }

/* The ops whose backward can store into an input's gradient rather than
 * add to it (graph_real.h: linear through GEMM's beta, the rest by a loop
 * of each kind). */
static int stores_dy(bp_op op) {
    return op == BP_OP_LINEAR || op == BP_OP_ACT || op == BP_OP_ADD ||
           op == BP_OP_LAYERNORM || op == BP_OP_ATTENTION || op == BP_OP_POSITION;
}

/* Which backward writes each store's dy first: the walk goes against the
 * order, so the last node in the order to read it, and of its inputs the
 * first slot that names it. If that op stores (and the walk is not split
 * between a team, whose members write parts), the buffer needs no zeroing,
 * a pass over every value of the batch saved for each. The output's dy is
 * the loss's, and one that no backward wants may still be read
 * (bp_graph_input_grad): both stay zeroed as before. Why: zeroing every dy was 4% of W9's
 * iteration, and each add into a zero a read more (scripts/bench/NOTES.md). */
static void mark_writers(bp_graph *g) {
    const int out = g->nodes[g->output].store, team = team_on(g);
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        nd->dy_store = 0, nd->dy_stored = 0;
        nd->dy_seen = 0;
    }
    for (int k = g->n_order - 1; k >= 0; k--) {
        node *c = &g->nodes[g->order[k]];
        if (!c->needs || c->store != g->order[k]) continue; /* a view writes nothing */
        for (int j = 0; j < c->n_in; j++) {
            node *x = &g->nodes[g->nodes[c->in[j]].store];
            if (x->dy_seen) continue;
            x->dy_seen = 1; /* written first here: stored, or zeroed and added to */
            /* A fused ReLU is not walked: its max pool adds into x's dy. */
            if (team || c->fused || !stores_dy(c->op) || !x->needs ||
                x - g->nodes == out || j >= 32)
                continue;
            c->dy_store |= 1u << j;
            x->dy_stored = 1;
        }
    }
    /* A GELU that stores the gradient of the linear that makes its values
     * and that it alone reads: that linear's backward makes the GELU's
     * (graph_real.h linear_gelu_backward). */
    for (int k = 0; k < g->n_order; k++) {
        node *a = &g->nodes[g->order[k]];
        a->gelu_back = a->op == BP_OP_ACT && a->gelu_by && a->needs && (a->dy_store & 1u) &&
                       g->nodes[a->in[0]].gelu_alone;
    }
}

/* Each node's needs, along the order: an unfrozen tensor of its own, or an
 * input that needs; the network's input needs what want_dx says. */
static void mark_needs(bp_graph *g, int want_dx) {
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        nd->needs = 0;
        if (g->order[k] == g->input) {
            nd->needs = want_dx != 0;
            continue;
        }
        nd->needs = nd->state_B != 0; /* its initial state's gradient is kept */
        for (int j = 0; j < nd->n_t && !nd->needs; j++)
            nd->needs = nd->t[j].trainable && !nd->t[j].frozen;
        for (int j = 0; j < nd->n_in && !nd->needs; j++)
            nd->needs = g->nodes[nd->in[j]].needs;
    }
}

/* backward, with every trainable tensor's gradient zeroed first when
 * fresh. */
static int backward(bp_graph *g, int want_dx, int fresh, bp_err *e) {
    if (!g->finished || g->B == 0) return bp_err_set(e, "backward needs a forward first");
    mark_needs(g, want_dx);
    mark_writers(g);
    int rc = 0;
    if (team_on(g)) {
        g->walk_dx = want_dx;
        g->walk_fresh = fresh;
        bp_team_run(g->team, g->dtype == BP_F32 ? backward_member_f32 : backward_member,
                    g);
    } else {
        if (fresh) zero_grads(g, 0, 1);
        zero_dy(g, 0, g->B);
        rc = g->dtype == BP_F32 ? backward_nodes_f32(g, want_dx, e)
                                : backward_nodes(g, want_dx, e);
    }
    g->backed = rc == 0;
    return rc;
}

int bp_graph_backward(bp_graph *g, int want_dx, bp_err *e) {
    return backward(g, want_dx, 0, e);
}

int bp_graph_backward_fresh(bp_graph *g, int want_dx, bp_err *e) {
    return backward(g, want_dx, 1, e);
}

void bp_graph_forget(bp_graph *g) { g->B = 0; }

/* ------------------------------------------------------------------------ */
/* Recurrent state                                                           */

/* Parts of a node's state: an lstm's h and c, a gru's or rnn's h; 0: not
 * recurrent. */
static int state_parts(const node *nd) {
    return nd->op == BP_OP_LSTM ? 2 : bp_op_gates(nd->op) ? 1 : 0;
}

/* Values of a state of B rows. */
static size_t state_count(const node *nd, int B) {
    return (size_t)state_parts(nd) * nd->o.layers * B * nd->o.out;
}

/* Node id, when it is recurrent; else NULL and a message. */
static node *recurrent(const bp_graph *g, int id, bp_err *e) {
    char wbuf[96];
    if (id < 0 || id >= g->n) {
        bp_err_set(e, "no module %d", id);
        return NULL;
    }
    node *nd = &g->nodes[id];
    if (!state_parts(nd)) {
        bp_err_set(e, "%s: has no state (only lstm, rnn and gru have)", WHAT(nd));
        return NULL;
    }
    return nd;
}

/* Room for a state of B rows in state and dstate (grown only). */
static int state_room(const bp_graph *g, node *nd, int B, bp_err *e) {
    if (B <= nd->state_cap) return 0;
    void *s = bp_calloc(state_count(nd, B), g->z),
         *d = bp_calloc(state_count(nd, B), g->z);
    if (!s || !d) {
        bp_free(s);
        bp_free(d);
        return bp_err_set(e, "out of memory for a state of %d sequences", B);
    }
    bp_free(nd->state);
    bp_free(nd->dstate);
    nd->state = s, nd->dstate = d, nd->state_cap = B;
    return 0;
}

/* Where part p (h 0, c 1) of layer l's states of every step lie after a
 * forward of B rows (B x T x H, rec_work's layout). */
static char *states_at(const bp_graph *g, const node *nd, int B, int p, int l) {
    size_t BTH = (size_t)B * nd->shape[0] * nd->o.out;
    rec_layout r = rec_of(nd->op);
    if (p == 0 && l == nd->o.layers - 1) return nd->y;
    return (char *)nd->work + ((size_t)l * r.per_layer + (p ? r.c : r.h)) * BTH * g->z;
}

/* n values from src (type st) into dst (type dt), converted. */
static void convert(void *dst, bp_dtype dt, const void *src, bp_dtype st, size_t n) {
    if (dt == st) {
        memcpy(dst, src, n * bp_dtype_size(dt));
        return;
    }
    for (size_t k = 0; k < n; k++) {
        double v = st == BP_F32 ? ((const float *)src)[k] : ((const double *)src)[k];
        value_set(dst, dt, k, v);
    }
}

/* Copies the state at the last step of the last forward (parts x layers x
 * B x H) into dst, of type dt: each sequence's last, with lengths. */
static void final_state(const bp_graph *g, const node *nd, char *dst, bp_dtype dt) {
    const int B = g->B, T = nd->shape[0], H = nd->o.out;
    const size_t row = (size_t)H * g->z, drow = (size_t)H * bp_dtype_size(dt);
    for (int p = 0; p < state_parts(nd); p++)
        for (int l = 0; l < nd->o.layers; l++) {
            const char *src = states_at(g, nd, B, p, l);
            for (int b = 0; b < B; b++, dst += drow) {
                int last = g->len_B ? g->len[b] - 1 : T - 1; /* a sequence's last step */
                convert(dst, dt, src + ((size_t)b * T + last) * row, g->dtype, (size_t)H);
            }
        }
}

int bp_graph_state_info(const bp_graph *g, int id, int *parts, int *layers, int *H,
                        bp_err *e) {
    const node *nd = recurrent(g, id, e);
    if (!nd) return -1;
    *parts = state_parts(nd), *layers = nd->o.layers, *H = nd->o.out;
    return nd->state_B;
}

int bp_graph_state_get(const bp_graph *g, int id, bp_state which, double *out,
                       bp_err *e) {
    char wbuf[96];
    const node *nd = recurrent(g, id, e);
    if (!nd) return -1;
    switch (which) {
        case BP_STATE_FINAL:
            if (!g->finished || g->B == 0)
                return bp_err_set(e, "%s: no final state: run a forward first", WHAT(nd));
            final_state(g, nd, (char *)out, BP_F64);
            return g->B;
        case BP_STATE_INITIAL:
            convert(out, BP_F64, nd->state, g->dtype, state_count(nd, nd->state_B));
            return nd->state_B;
        case BP_STATE_GRAD:
            if (!nd->state_B)
                return bp_err_set(e,
                                  "%s: its initial state is zeros, which have no "
                                  "gradient: set one first",
                                  WHAT(nd));
            if (!g->backed || g->B != nd->state_B)
                return bp_err_set(e, "%s: no gradient of the state: run a backward first",
                                  WHAT(nd));
            convert(out, BP_F64, nd->dstate, g->dtype, state_count(nd, nd->state_B));
            return nd->state_B;
    }
    return bp_err_set(e, "unknown state %d", (int)which);
}

int bp_graph_state_set(bp_graph *g, int id, const double *v, int B, bp_err *e) {
    node *nd = recurrent(g, id, e);
    if (!nd) return -1;
    if (!v || B == 0) {
        nd->state_B = 0;
    } else {
        if (B < 1) return bp_err_set(e, "a state needs 1 or more sequences (got %d)", B);
        if (state_room(g, nd, B, e)) return -1;
        convert(nd->state, g->dtype, v, BP_F64, state_count(nd, B));
        nd->state_B = B;
    }
    g->B = 0; /* the next backward needs a forward from this state */
    return 0;
}

int bp_graph_state_carry(bp_graph *g, bp_err *e) {
    if (!g->finished || g->B == 0)
        return bp_err_set(e, "no state to carry: run a forward first");
    for (int k = 0; k < g->n_order; k++) {
        node *nd = &g->nodes[g->order[k]];
        if (!state_parts(nd)) continue;
        if (state_room(g, nd, g->B, e)) return -1;
        final_state(g, nd, nd->state, g->dtype);
        nd->state_B = g->B;
    }
    g->B = 0;
    return 0;
}

void bp_graph_state_reset(bp_graph *g) {
    for (int i = 0; i < g->n; i++) g->nodes[i].state_B = 0;
    g->B = 0;
}

/* ------------------------------------------------------------------------ */
/* Lengths                                                                   */

/* Length k of len against every recurrent node's steps; the message
 * names the sequence and the module. */
static int check_lengths(const bp_graph *g, const int *len, int B, bp_err *e) {
    char wbuf[96];
    int any = 0;
    for (int k = 0; k < g->n_order; k++) {
        const node *nd = &g->nodes[g->order[k]];
        if (!state_parts(nd)) continue;
        any = 1;
        for (int b = 0; b < B; b++)
            if (len[b] < 1 || len[b] > nd->shape[0])
                return bp_err_set(
                    e, "length %d of sequence %d is not in 1..%d, the steps of %s",
                    len[b], b + 1, nd->shape[0], WHAT(nd));
    }
    if (!any)
        return bp_err_set(e, "lengths need a recurrent module (lstm, rnn or gru): this "
                             "network has none");
    return 0;
}

int bp_graph_set_lengths(bp_graph *g, const int *len, int B, bp_err *e) {
    if (!g->finished) return bp_err_set(e, "lengths need a finished graph");
    if (!len || B == 0) {
        g->len_B = 0;
    } else {
        if (B < 0) return bp_err_set(e, "lengths need 1 or more sequences (got %d)", B);
        if (check_lengths(g, len, B, e)) return -1;
        if (B > g->len_cap) {
            int *p = bp_realloc(g->len, sizeof(int) * (size_t)B);
            if (!p) return bp_err_set(e, "out of memory for %d lengths", B);
            g->len = p, g->len_cap = B;
        }
        memcpy(g->len, len, sizeof(int) * (size_t)B);
        g->len_B = B;
    }
    g->B = 0; /* the next backward needs a forward with these lengths */
    return 0;
}

const int *bp_graph_lengths(const bp_graph *g, int *B) {
    *B = g->len_B;
    return g->len_B ? g->len : NULL;
}
