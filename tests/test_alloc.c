/* test_alloc.c: no heap allocation in a training step after the first.
 *
 * The engine allocates networks and optimisers through bp_set_allocator's
 * functions; here they are malloc, calloc, realloc and free wrapped in
 * counters (a calloc counts as a malloc). The
 * first step of a network may allocate (its batch buffers); every step after
 * it, of the same batch size or smaller, must not (a float32 conv2d in a
 * build with oneDNN: after the first of each batch size, as its primitives
 * are made per size, engine/conv_dnnl.c): train_step, and
 * compute_grads followed by an optimiser's step, in float64 and float32,
 * for the lecture's network (plain loops) and for one large enough to go
 * through OpenBLAS. A larger batch grows the buffers once, then steps are
 * free again. The same holds through Lua: net:train_step and
 * net:train_steps with an optimizer allocate nothing in the engine and
 * nothing in Lua's own heap (counted by a lua_Alloc wrapper). A team of
 * threads whose memory is refused leaves the steps to one thread. Graphs
 * too: a residual network, one with dropout and batch norm, a small CNN
 * (conv2d, batchnorm2d, both pools), a pre-norm attention block with a
 * position embedding, and a two-layer LSTM, in both modes, and a CNN whose
 * steps go to a team of threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "bp_lua.h"
#include "bp_net.h"
#include "bp_optim.h"
#include "check.h"

static long n_malloc, n_realloc, n_free;

static void *count_malloc(size_t n) {
    n_malloc++;
    return malloc(n);
}
static void *count_calloc(size_t n, size_t size) {
    n_malloc++;
    return calloc(n, size);
}
static void *count_realloc(void *p, size_t n) {
    n_realloc++;
    return realloc(p, n);
}
static void count_free(void *p) {
    n_free++;
    free(p);
}

static long allocations(void) { return n_malloc + n_realloc; }

/* A net of sizes[0] inputs and the layers after it, weights drawn from r. */
static bp_net *make_net(bp_dtype t, const int *sizes, int n_layers, bp_rng *r) {
    bp_err e;
    bp_net *net = bp_net_new_dtype(sizes[0], t, &e);
    CHECK(net != NULL);
    for (int l = 1; l <= n_layers; l++) {
        bp_act act = l == n_layers ? BP_ACT_IDENTITY : BP_ACT_SIGMOID;
        CHECK(bp_net_add(net, sizes[l], act, 0, &e) == 0);
        CHECK(bp_net_init(net, l, 'w', BP_INIT_XAVIER, 0, 0, r, &e) == 0);
    }
    return net;
}

/* Steps of each kind on a batch of B rows of x and y, after a first step;
 * checks that the ones after the first allocate nothing. */
static void check_steps(bp_dtype t, const int *sizes, int n_layers, int B) {
    bp_rng r;
    bp_rng_seed(&r, 5);
    bp_err e;
    int I = sizes[0], O = sizes[n_layers];
    double *x = malloc(sizeof(double) * (size_t)B * I);
    double *y = malloc(sizeof(double) * (size_t)B * O);
    for (int k = 0; k < B * I; k++) x[k] = bp_rng_uniform(&r);
    for (int k = 0; k < B * O; k++) y[k] = bp_rng_uniform(&r);

    bp_net *net = make_net(t, sizes, n_layers, &r);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAM);
    c.clip_norm = 1;
    bp_optim *opt = bp_optim_new(net, &c, &e);
    CHECK(opt != NULL);
    double loss;
    long before = allocations();
    CHECK(bp_net_train_step(net, x, y, B, BP_LOSS_MSE, 0.01, &loss, &e) == 0);
    CHECK(allocations() > before); /* the batch buffers: the counter works */

    before = allocations();
    for (int s = 0; s < 20; s++) {
        CHECK(bp_net_train_step(net, x, y, B, BP_LOSS_MSE, 0.01, &loss, &e) == 0);
        CHECK(bp_net_compute_grads(net, x, y, B, BP_LOSS_MSE, &loss, &e) == 0);
        CHECK(bp_optim_step(opt, net, &e) == 0);
        CHECK(bp_net_update(net, 0.01, &e) == 0);
        /* a smaller batch fits in the same buffers */
        CHECK(bp_net_train_step(net, x, y, 1, BP_LOSS_HALF_SE, 0.01, &loss, &e) == 0);
        CHECK(bp_net_forward(net, x, B, &e) != NULL);
    }
    CHECK(allocations() == before);
    bp_optim_free(opt);
    bp_net_free(net);
    free(x);
    free(y);
}

static void test_engine(void) {
    static const int lecture[] = {2, 3, 1};
    static const int wide[] = {64, 128, 32, 10}; /* B x I x O >= 4096: BLAS */
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        check_steps(t, lecture, 2, 1);
        check_steps(t, lecture, 2, 8);
        check_steps(t, wide, 3, 1);
        check_steps(t, wide, 3, 64);
    }
    /* Everything made is freed, through the same counter. */
    CHECK(n_free > 0);
}

/* conv2d 1->O 3x3 padding 1 on x, batchnorm2d (when bn), relu (the last's
 * id). */
static int conv_bn_relu(bp_graph *g, int x, int O, bp_rng *r, int bn) {
    bp_node_opts o = bp_node_opts_default(BP_OP_CONV2D);
    o.in = 1, o.out = O, o.kh = o.kw = 3, o.ph = o.pw = 1, o.rng = r;
    int h = bp_graph_add(g, BP_OP_CONV2D, &x, 1, &o, NULL);
    o = bp_node_opts_default(BP_OP_BATCHNORM2D);
    o.in = O;
    if (bn) h = bp_graph_add(g, BP_OP_BATCHNORM2D, &h, 1, &o, NULL);
    o = bp_node_opts_default(BP_OP_ACT);
    o.act = BP_ACT_RELU;
    return bp_graph_add(g, BP_OP_ACT, &h, 1, &o, NULL);
}

/* A CNN's layers on 16 inputs read as 1x4x4: conv_bn_relu to 2 channels,
 * avgpool 2 stride 1, maxpool 2 stride 1, flatten to 8 values (the last
 * node's id). */
static int make_cnn(bp_graph *g, int x, bp_rng *r) {
    int h = conv_bn_relu(g, x, 2, r, 1);
    bp_node_opts o = bp_node_opts_default(BP_OP_AVGPOOL2D);
    o.kh = o.kw = 2;
    h = bp_graph_add(g, BP_OP_AVGPOOL2D, &h, 1, &o, NULL);
    h = bp_graph_add(g, BP_OP_MAXPOOL2D, &h, 1, &o, NULL);
    return bp_graph_add(g, BP_OP_FLATTEN, &h, 1, NULL, NULL);
}

/* 16 inputs read as 4 steps of 4: position, then x + attention(layernorm(x))
 * with 2 heads, causal, flattened (the last node's id); with lstm, a
 * two-layer LSTM of 4 instead. */
static int make_attention(bp_graph *g, int x, bp_rng *r, int lstm) {
    if (lstm) {
        bp_node_opts o = bp_node_opts_default(BP_OP_LSTM);
        o.in = 4, o.out = 4, o.layers = 2, o.rng = r;
        int h = bp_graph_add(g, BP_OP_LSTM, &x, 1, &o, NULL);
        return bp_graph_add(g, BP_OP_FLATTEN, &h, 1, NULL, NULL);
    }
    bp_node_opts o = bp_node_opts_default(BP_OP_POSITION);
    o.in = 4, o.out = 4, o.rng = r;
    int h = bp_graph_add(g, BP_OP_POSITION, &x, 1, &o, NULL);
    o = bp_node_opts_default(BP_OP_LAYERNORM);
    o.in = 4;
    int a = bp_graph_add(g, BP_OP_LAYERNORM, &h, 1, &o, NULL);
    o = bp_node_opts_default(BP_OP_ATTENTION);
    o.in = 4, o.heads = 2, o.rng = r;
    a = bp_graph_add(g, BP_OP_ATTENTION, &a, 1, &o, NULL);
    int in[2] = {h, a};
    h = bp_graph_add(g, BP_OP_ADD, in, 2, NULL, NULL);
    return bp_graph_add(g, BP_OP_FLATTEN, &h, 1, NULL, NULL);
}

/* A graph of 16 inputs and 4 outputs: kind 1, residual, x + tanh(linear(x))
 * after a first linear and relu; kind 0, linear, batch norm, relu,
 * dropout, linear; kind 2, make_cnn's and a linear; kinds 3 and 4,
 * make_attention's (an attention block, an LSTM) and a linear. */
static bp_net *make_graph(bp_dtype t, int kind, bp_rng *r) {
    bp_graph *g = bp_graph_new(t, NULL);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = kind == 2 ? 3 : kind >= 3 ? 2 : 1;
    o.shape[0] = kind == 2 ? 1 : kind >= 3 ? 4 : 16;
    o.shape[1] = o.shape[2] = 4;
    int x = bp_graph_add(g, BP_OP_INPUT, NULL, 0, &o, NULL);
    int residual = kind == 1, h = x;
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 16, o.out = 32, o.rng = r;
    if (kind == 2) h = make_cnn(g, x, r), o.out = 8;
    else if (kind >= 3) h = make_attention(g, x, r, kind == 4), o.out = 16;
    else h = bp_graph_add(g, BP_OP_LINEAR, &x, 1, &o, NULL);
    bp_node_opts a = bp_node_opts_default(BP_OP_ACT);
    a.act = BP_ACT_RELU;
    if (residual) {
        h = bp_graph_add(g, BP_OP_ACT, &h, 1, &a, NULL);
        o.in = 32;
        int f = bp_graph_add(g, BP_OP_LINEAR, &h, 1, &o, NULL);
        a.act = BP_ACT_TANH;
        f = bp_graph_add(g, BP_OP_ACT, &f, 1, &a, NULL);
        int in[2] = {h, f};
        h = bp_graph_add(g, BP_OP_ADD, in, 2, NULL, NULL);
    } else if (kind == 0) {
        bp_node_opts bn = bp_node_opts_default(BP_OP_BATCHNORM1D);
        bn.in = 32;
        h = bp_graph_add(g, BP_OP_BATCHNORM1D, &h, 1, &bn, NULL);
        h = bp_graph_add(g, BP_OP_ACT, &h, 1, &a, NULL);
        bp_node_opts d = bp_node_opts_default(BP_OP_DROPOUT);
        d.p = 0.2;
        h = bp_graph_add(g, BP_OP_DROPOUT, &h, 1, &d, NULL);
    }
    o.in = o.out, o.out = 4;
    int out = bp_graph_add(g, BP_OP_LINEAR, &h, 1, &o, NULL);
    CHECK(bp_graph_finish(g, out, NULL) == 0);
    bp_net *net = bp_net_from_graph(g, NULL);
    CHECK(net != NULL);
    net->rng = r;
    return net;
}

/* The steps of check_steps on a graph, in training and evaluation mode,
 * with dLoss/d(input) too. */
static void check_graph_steps(bp_dtype t, int kind, int B) {
    bp_rng r;
    bp_rng_seed(&r, 6);
    bp_err e;
    double x[16 * 16], y[16 * 4], dx[16 * 16];
    for (int k = 0; k < B * 16; k++) x[k] = bp_rng_uniform(&r);
    for (int k = 0; k < B * 4; k++) y[k] = bp_rng_uniform(&r);
    bp_net *net = make_graph(t, kind, &r);
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAM);
    c.clip_norm = 1;
    bp_optim *opt = bp_optim_new(net, &c, &e);
    double loss;
    long before = allocations();
    CHECK(bp_net_train_step(net, x, y, B, BP_LOSS_MSE, 0.01, &loss, &e) == 0);
    CHECK(allocations() > before);
    /* a float32 conv2d on oneDNN makes its primitives once per batch size
     * (bp_conv_dnnl): the loop's second size, 2, has its first step here */
    if (kind == 2 && t == BP_F32 && B != 2)
        CHECK(bp_net_train_step(net, x, y, 2, BP_LOSS_SOFTMAX_CE, 0.01, &loss, &e) == 0);
    before = allocations();
    for (int s = 0; s < 20; s++) {
        bp_net_set_training(net, s % 2);
        CHECK(bp_net_train_step(net, x, y, B, BP_LOSS_MSE, 0.01, &loss, &e) == 0);
        CHECK(bp_net_compute_grads(net, x, y, B, BP_LOSS_MSE, &loss, &e) == 0);
        CHECK(bp_optim_step(opt, net, &e) == 0);
        CHECK(bp_net_update(net, 0.01, &e) == 0);
        CHECK(bp_net_train_step(net, x, y, 2, BP_LOSS_SOFTMAX_CE, 0.01, &loss, &e) == 0);
        CHECK(bp_net_forward(net, x, B, &e) != NULL);
        CHECK(bp_net_backward_input(net, y, dx, &e) == 0);
    }
    CHECK(allocations() == before);
    bp_optim_free(opt);
    bp_net_free(net);
}

static void test_graphs(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++)
        for (int kind = 0; kind < 5; kind++) {
            check_graph_steps(t, kind, 2);
            check_graph_steps(t, kind, 16);
        }
}

/* A CNN on 1x16x16 images large enough for the team (1.2 M multiply-adds
 * at batch 32): conv_bn_relu to 16 channels, max pool 2,
 * flatten, dropout, linear 1024->4; and without the batch norm, whose
 * conv2d, relu and max pool run as one chain in float32 (on oneDNN, each
 * member its own primitives and buffers). At 2 threads its first step makes
 * the team and its members' workspaces; no step after it allocates, in
 * either mode, nor a forward, a backward to the input or an optimiser's
 * step. */
static void graph_team(int bn) {
    enum { B = 32, D = 256 };
    static double x[B * D], y[B * 4], dx[B * D];
    bp_rng r;
    bp_rng_seed(&r, 12);
    for (int k = 0; k < B * D; k++) x[k] = bp_rng_uniform(&r);
    for (int k = 0; k < B * 4; k++) y[k] = bp_rng_uniform(&r);
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        bp_graph *g = bp_graph_new(t, NULL);
        bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
        o.ndim = 3, o.shape[0] = 1, o.shape[1] = o.shape[2] = 16;
        int h = bp_graph_add(g, BP_OP_INPUT, NULL, 0, &o, NULL);
        h = conv_bn_relu(g, h, 16, &r, bn);
        o = bp_node_opts_default(BP_OP_MAXPOOL2D);
        o.kh = o.kw = o.sh = o.sw = 2;
        h = bp_graph_add(g, BP_OP_MAXPOOL2D, &h, 1, &o, NULL);
        h = bp_graph_add(g, BP_OP_FLATTEN, &h, 1, NULL, NULL);
        o = bp_node_opts_default(BP_OP_DROPOUT);
        o.p = 0.25;
        h = bp_graph_add(g, BP_OP_DROPOUT, &h, 1, &o, NULL);
        o = bp_node_opts_default(BP_OP_LINEAR);
        o.in = 1024, o.out = 4, o.rng = &r;
        h = bp_graph_add(g, BP_OP_LINEAR, &h, 1, &o, NULL);
        bp_err e;
        if (bp_graph_finish(g, h, &e)) fprintf(stderr, "finish: %s\n", e.msg);
        bp_net *net = bp_net_from_graph(g, NULL);
        CHECK(net != NULL);
        if (!net) return;
        net->rng = &r;
        bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAM);
        bp_optim *opt = bp_optim_new(net, &c, &e);
        int before_threads = bp_threads();
        bp_set_threads(2, NULL);
        double loss;
        long before = allocations();
        CHECK(bp_net_train_step(net, x, y, B, BP_LOSS_MSE, 0.01, &loss, &e) == 0);
        CHECK(allocations() > before);
        CHECK(net->team != NULL);
        before = allocations();
        for (int s = 0; s < 10; s++) {
            bp_net_set_training(net, s % 2);
            CHECK(bp_net_train_step(net, x, y, B, BP_LOSS_MSE, 0.01, &loss, &e) == 0);
            CHECK(bp_net_compute_grads(net, x, y, B, BP_LOSS_MSE, &loss, &e) == 0);
            CHECK(bp_optim_step(opt, net, &e) == 0);
            CHECK(bp_net_forward(net, x, B, &e) != NULL);
            CHECK(bp_net_backward_input(net, y, dx, &e) == 0);
        }
        CHECK(allocations() == before);
        bp_set_threads(before_threads, NULL);
        bp_optim_free(opt);
        bp_net_free(net);
    }
}

static void test_graph_team(void) {
    for (int bn = 0; bn < 2; bn++) graph_team(bn);
}

/* A batch larger than any before grows the buffers once, then no more. */
static void test_growth(void) {
    bp_rng r;
    bp_rng_seed(&r, 9);
    static const int sizes[] = {4, 5, 3};
    bp_net *net = make_net(BP_F32, sizes, 2, &r);
    double x[10 * 4] = {0}, y[10 * 3] = {0};
    bp_err e;
    CHECK(bp_net_train_step(net, x, y, 2, BP_LOSS_MSE, 0.1, NULL, &e) == 0);
    long before = allocations();
    CHECK(bp_net_train_step(net, x, y, 10, BP_LOSS_MSE, 0.1, NULL, &e) == 0);
    CHECK(allocations() > before);
    before = allocations();
    for (int B = 1; B <= 10; B++)
        CHECK(bp_net_train_step(net, x, y, B, BP_LOSS_MSE, 0.1, NULL, &e) == 0);
    CHECK(allocations() == before);
    bp_net_free(net);
}

/* Lua's heap, counted by the state's allocator. */
static long lua_allocs;

static void *count_lua_alloc(void *ud, void *p, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    if (!p || nsize > osize) lua_allocs++;
    return realloc(p, nsize);
}

static const char *lua_steps =
    "local bp = require 'backprop'\n"
    "local dtype = ...\n"
    "local net = bp.net(2, {dtype = dtype})\n"
    "net:add(3, 'sigmoid', {weights = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}, bias = 1})\n"
    "net:add(1, 'identity', {weights = {{-0.23, 0.3, 0.1}}, bias = 1})\n"
    "local loss, x, y = bp.loss('half_se'), {1, 2}, {3}\n"
    "local opt = bp.optimizer(net, 'sgd', {lr = 0.01, momentum = 0.9})\n"
    "net:train_step(x, y, loss, 0.01)\n"
    "net:train_step(x, y, 'mse', opt)\n"
    "return function()\n"
    "  for _ = 1, 100 do\n"
    "    net:train_step(x, y, loss, 0.01)\n"
    "    net:train_step(x, y, loss, opt)\n"
    "  end\n"
    "  net:train_steps(x, y, loss, 0.01, 100)\n"
    "  return net:steps()\n"
    "end\n";

static void test_lua(void) {
    for (int t = 0; t < BP_DTYPE_COUNT; t++) {
        lua_State *L = lua_newstate(count_lua_alloc, NULL);
        CHECK(L != NULL);
        luaL_openlibs(L);
        luaL_requiref(L, "backprop", luaopen_backprop, 0);
        lua_pop(L, 1);
        CHECK(luaL_loadstring(L, lua_steps) == LUA_OK);
        lua_pushstring(L, bp_dtype_name(t));
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
            CHECK(0);
        }
        lua_gc(L, LUA_GCSTOP);
        long engine = allocations(), lua = lua_allocs;
        CHECK(lua_pcall(L, 0, 1, 0) == LUA_OK);
        CHECK(lua_tointeger(L, -1) == 2 + 300);
        CHECK(allocations() == engine);
        CHECK(lua_allocs == lua);
        lua_close(L);
    }
}

/* A team of threads that cannot be made (here: its memory refused) leaves
 * the step to the calling thread, which gives what one thread gives, and is
 * not asked for again at every step. */
static int refuse;
static void *refusing_malloc(size_t n) {
    n_malloc++;
    return refuse ? NULL : malloc(n);
}
static void *refusing_calloc(size_t n, size_t size) {
    n_malloc++;
    return refuse ? NULL : calloc(n, size);
}

static void test_team_refused(void) {
    enum { B = 64, I = 200, K = 10 };
    static double x[B * I], y[B * K];
    for (int k = 0; k < B * I; k++) x[k] = (k % 17) / 17.0 - 0.5;
    for (int s = 0; s < B; s++) y[s * K + s % K] = 1;
    bp_net *a = bp_net_new(I, NULL), *b = bp_net_new(I, NULL);
    bp_net *nets[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        bp_net_add(nets[k], 100, BP_ACT_RELU, 0, NULL);
        bp_net_add(nets[k], 50, BP_ACT_RELU, 0, NULL);
        bp_net_add(nets[k], K, BP_ACT_IDENTITY, 0, NULL);
        for (int l = 1; l <= 3; l++)
            bp_net_init(nets[k], l, 'w', BP_INIT_CONSTANT, 0.01 * l, 0, NULL, NULL);
    }
    int before = bp_threads();
    double la, lb;
    bp_set_threads(1, NULL);
    CHECK(bp_net_train_step(a, x, y, B, BP_LOSS_SOFTMAX_CE, 0.1, &la, NULL) == 0);
    CHECK(bp_net_train_step(b, x, y, B, BP_LOSS_SOFTMAX_CE, 0.1, &lb, NULL) == 0);
    bp_set_allocator(refusing_malloc, refusing_calloc, count_realloc, count_free);
    refuse = 1;
    bp_set_threads(2, NULL);
    long m0 = n_malloc;
    CHECK(bp_net_train_step(a, x, y, B, BP_LOSS_SOFTMAX_CE, 0.1, &la, NULL) == 0);
    CHECK(a->team == NULL && a->team_failed == 2);
    CHECK(n_malloc == m0 + 1); /* the team's one try */
    CHECK(bp_net_train_step(a, x, y, B, BP_LOSS_SOFTMAX_CE, 0.1, &la, NULL) == 0);
    CHECK(n_malloc == m0 + 1); /* and no other */
    refuse = 0;
    bp_set_allocator(count_malloc, count_calloc, count_realloc, count_free);
    /* b as a would be without a team of 2: the same path, the same bits */
    b->team_failed = 2;
    for (int k = 0; k < 2; k++)
        CHECK(bp_net_train_step(b, x, y, B, BP_LOSS_SOFTMAX_CE, 0.1, &lb, NULL) == 0);
    CHECK(b->team == NULL);
    CHECK(la == lb);
    size_t P = bp_net_param_count(a);
    double *pa = malloc(sizeof(double) * P), *pb = malloc(sizeof(double) * P);
    bp_net_params_get(a, pa);
    bp_net_params_get(b, pb);
    CHECK(memcmp(pa, pb, sizeof(double) * P) == 0);
    free(pa);
    free(pb);
    bp_set_threads(before, NULL);
    bp_net_free(a);
    bp_net_free(b);
}

int main(void) {
    bp_set_allocator(count_malloc, count_calloc, count_realloc, count_free);
    test_engine();
    test_growth();
    test_graphs();
    test_graph_team();
    test_lua();
    test_team_refused();
    bp_set_allocator(NULL, NULL, NULL, NULL);
    return check_report("test_alloc");
}
