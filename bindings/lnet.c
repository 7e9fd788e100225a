/* lnet.c: backprop.net, a network from Lua: building it, the forward and
 * backward passes and the update by hand, and looking at every number.
 *
 * The userdata (lnet, lbackprop.h) holds the bp_net and the scratch buffers
 * that carry Lua tables into C without an allocation per call. The
 * accessors follow the lecture's names: w_{l,n,i} is net:weight(l, n, i),
 * h and o a layer's sums and outputs. Training in steps is in ltrain.c, on
 * data sets in lfit.c, files in lmodel.c: they add their methods to this
 * type's table. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_progress.h"
#include "lbackprop.h"

lnet *bp_lua_check_lnet(lua_State *L, int i) {
    lnet *n = luaL_checkudata(L, i, NET_TYPE);
    if (!n->net) luaL_error(L, "attempt to use a closed net");
    if (n->running)
        luaL_error(L, "attempt to use a network inside the forward or backward of one of "
                      "its own modules");
    /* A host's call (bp_lua_restore_checkpoint) has no upvalue: the
     * registry's state then. */
    state *st = STATE(L) ? STATE(L) : bp_lua_state(L);
    if (st) n->net->rng = &st->rng;
    return n;
}

bp_net *bp_lua_check_net(lua_State *L, int i) { return bp_lua_check_lnet(L, i)->net; }

static int net_close(lua_State *L) {
    lnet *n = luaL_checkudata(L, 1, NET_TYPE);
    if (n->running)
        luaL_error(L, "attempt to close a network inside the forward or backward of one "
                      "of its own modules");
    if (STATE(L)->checked_net == n) STATE(L)->checked_net = NULL;
    bp_net_free(n->net);
    free(n->x.v);
    free(n->y.v);
    memset(n, 0, sizeof *n);
    return 0;
}

lnet *bp_lua_new_lnet(lua_State *L) {
    lnet *n = lua_newuserdatauv(L, sizeof *n, 1); /* 1: the tree of modules */
    memset(n, 0, sizeof *n);
    luaL_setmetatable(L, NET_TYPE);
    return n;
}

static const char *const net_options[] = {"dtype", NULL};

/* The dtype of the options table at arg (float64 when absent). */
static bp_dtype net_dtype_opt(lua_State *L, int arg) {
    bp_dtype dtype = BP_F64;
    if (!lua_isnoneornil(L, arg)) {
        luaL_checktype(L, arg, LUA_TTABLE);
        bp_lua_check_options(L, arg, net_options, 0);
        if (lua_getfield(L, arg, "dtype") != LUA_TNIL)
            dtype = bp_lua_dtype_at_top(L, arg, NULL);
        lua_pop(L, 1);
    }
    return dtype;
}

/* bp.net(inputs [, {dtype = "float64" | "float32"}]) -> an empty network
 * taking `inputs` values per sample, computing in dtype (float64 default);
 * bp.net(module [, opts]) and bp.net(inputs, module [, opts]) -> a network
 * of the module (lmodule.c), its inputs from the module when it says them
 * (a linear's, a batch norm's, a graph's), else from `inputs` (a number,
 * or a list of dimensions) */
static int l_net_new(lua_State *L) {
    if (bp_lua_is_module(L, 1)) {
        bp_dtype dtype = net_dtype_opt(L, 2);
        bp_lua_net_from_module(L, 1, 0, dtype);
        return 1;
    }
    if (bp_lua_is_module(L, 2)) {
        bp_dtype dtype = net_dtype_opt(L, 3);
        if (lua_type(L, 1) != LUA_TTABLE) bp_lua_check_int(L, 1, "number of inputs");
        bp_lua_net_from_module(L, 2, 1, dtype);
        return 1;
    }
    int inputs = bp_lua_check_int(L, 1, "number of inputs");
    bp_dtype dtype = net_dtype_opt(L, 2);
    lua_settop(L, 1);
    lnet *n = bp_lua_new_lnet(L);
    bp_err e;
    n->net = bp_net_new_dtype(inputs, dtype, &e);
    if (!n->net) return luaL_error(L, "%s", e.msg);
    return 1;
}

/* Layer l's W, b, dW and db (by bp_field) in the net's dtype, of a stack
 * or a graph (its l-th linear; b and db NULL when it has no bias): the
 * accessors of w_{l,n,i} and b_{l,n} read both forms through this. */
typedef struct lview {
    int I, O;
    bp_dtype dtype;
    void *a[BP_FIELD_DB + 1];
} lview;

static int layer_count(const bp_net *net) {
    return net->graph ? bp_graph_count_linear(net->graph) : net->n_layers;
}

static lview layer_view(const bp_net *net, int l) {
    int n = 2;
    const bp_param *t =
        net->graph ? bp_graph_node_params(net->graph, bp_graph_linear(net->graph, l), &n)
                   : bp_net_param_list(net, &n) + 2 * (l - 1);
    if (!net->graph) n = 2;
    lview v = {.I = t[0].shape[1], .O = t[0].shape[0], .dtype = net->dtype};
    v.a[BP_FIELD_W] = t[0].data, v.a[BP_FIELD_DW] = t[0].grad;
    if (n > 1) v.a[BP_FIELD_B] = t[1].data, v.a[BP_FIELD_DB] = t[1].grad;
    return v;
}

static double view_get(const lview *v, bp_field f, size_t k) {
    if (v->dtype == BP_F32) return ((const float *)v->a[f])[k];
    return ((const double *)v->a[f])[k];
}

static void view_set(lview *v, bp_field f, size_t k, double x) {
    if (v->dtype == BP_F32) ((float *)v->a[f])[k] = (float)x;
    else ((double *)v->a[f])[k] = x;
}

/* Explicit biases: a list of O numbers. */
static void set_biases(lua_State *L, int arg, lview *Lr) {
    for (int n = 1; n <= Lr->O; n++) {
        if (lua_rawgeti(L, arg, n) != LUA_TNUMBER)
            luaL_error(L,
                       "bad option 'bias' to 'add' (element %d: number "
                       "expected, got %s)",
                       n, luaL_typename(L, -1));
        view_set(Lr, BP_FIELD_B, (size_t)(n - 1), lua_tonumber(L, -1));
        lua_pop(L, 1);
    }
}

/* Explicit weights, in the lecture's order: O rows w[n] of I numbers w[n][i]. */
static void set_weights(lua_State *L, int arg, lview *Lr) {
    int O = Lr->O, I = Lr->I;
    for (int n = 1; n <= O; n++) {
        if (lua_rawgeti(L, arg, n) != LUA_TTABLE || (int)luaL_len(L, -1) != I)
            luaL_error(L,
                       "bad option 'weights' to 'add' (row %d: expected a "
                       "table of %d numbers)",
                       n, I);
        for (int i = 1; i <= I; i++) {
            if (lua_rawgeti(L, -1, i) != LUA_TNUMBER)
                luaL_error(L,
                           "bad option 'weights' to 'add' (row %d, column %d: "
                           "number expected, got %s)",
                           n, i, luaL_typename(L, -1));
            view_set(Lr, BP_FIELD_W, (size_t)(n - 1) * I + (i - 1), lua_tonumber(L, -1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

/* A table spec: {"uniform", a, b} (a scheme and its numbers), or explicit
 * values. Returns bp_net_init's code (0 for explicit values). */
static int init_table(lua_State *L, int arg, bp_net *net, int l, char what, bp_err *e) {
    const char *field = what == 'w' ? "weights" : "bias";
    if (lua_rawgeti(L, arg, 1) == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        int k = bp_init_parse(s);
        lua_pop(L, 1);
        if (k < 0)
            luaL_error(L, "bad option '%s' to 'add' (unknown initialisation '%s')", field,
                       s);
        lua_rawgeti(L, arg, 2);
        lua_rawgeti(L, arg, 3);
        double a = luaL_optnumber(L, -2, 0), b = luaL_optnumber(L, -1, 0);
        lua_pop(L, 2);
        return bp_net_init(net, l, what, k, a, b, &STATE(L)->rng, e);
    }
    lua_pop(L, 1);
    lview Lr = layer_view(net, l);
    if ((int)luaL_len(L, arg) != Lr.O)
        luaL_error(L, "bad option '%s' to 'add' (expected %d rows, got %d)", field, Lr.O,
                   (int)luaL_len(L, arg));
    if (what == 'b') set_biases(L, arg, &Lr);
    else set_weights(L, arg, &Lr);
    return 0;
}

/* An initialisation spec for layer l's weights (what 'w') or biases ('b'):
 * a number (constant), a scheme name, {"name", a, b}, or explicit values
 * (rows of weights, or a list of biases). */
static void apply_init(lua_State *L, int arg, bp_net *net, int l, char what) {
    bp_err e;
    const char *field = what == 'w' ? "weights" : "bias";
    int rc = 0;
    switch (lua_type(L, arg)) {
        case LUA_TNUMBER:
            rc = bp_net_init(net, l, what, BP_INIT_CONSTANT, lua_tonumber(L, arg), 0,
                             NULL, &e);
            break;
        case LUA_TSTRING: {
            const char *s = lua_tostring(L, arg);
            int k = bp_init_parse(s);
            if (k < 0 || k == BP_INIT_UNIFORM || k == BP_INIT_NORMAL)
                luaL_error(L,
                           "bad option '%s' to 'add' (unknown initialisation '%s'; "
                           "expected constant, xavier, xavier_normal, he, he_uniform, "
                           "or {\"uniform\", low, high}, {\"normal\", mean, std})",
                           field, s);
            rc = bp_net_init(net, l, what, k, 0, 0, &STATE(L)->rng, &e);
            break;
        }
        case LUA_TTABLE: rc = init_table(L, arg, net, l, what, &e); break;
        default:
            luaL_error(L,
                       "bad option '%s' to 'add' (number, string or table expected, "
                       "got %s)",
                       field, luaL_typename(L, arg));
    }
    if (rc && net->stop && *net->stop) luaL_error(L, "interrupted");
    if (rc) luaL_error(L, "bad option '%s' to 'add' (%s)", field, e.msg);
}

/* Whether the spec at arg gives the weights themselves (a number, or rows
 * of values) rather than a scheme to draw them by (a name, {"name", a, b}). */
static int init_is_explicit(lua_State *L, int arg) {
    if (lua_type(L, arg) == LUA_TNUMBER) return 1;
    if (lua_type(L, arg) != LUA_TTABLE) return 0;
    int scheme = lua_rawgeti(L, arg, 1) == LUA_TSTRING;
    lua_pop(L, 1);
    return !scheme;
}

static const char *const add_options[] = {"weights", "bias", "alpha", NULL};

/* net:add(outputs [, activation [, {weights=, bias=, alpha=}]]) -> net: a
 * dense layer (on a graph: a linear and an act module);
 * net:add(module) -> net: the module after the output (lmodule.c) */
static int net_add(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    if (bp_lua_is_module(L, 2)) {
        luaL_argcheck(L, lua_isnone(L, 3), 3, "net:add(module) takes nothing more");
        bp_lua_net_add_module(L, 1, 2);
        lua_settop(L, 1);
        return 1;
    }
    int outputs = bp_lua_check_int(L, 2, "number of neurons");
    const char *an = luaL_optstring(L, 3, "identity");
    int act = bp_act_parse(an);
    if (act < 0)
        return luaL_argerror(L, 3,
                             lua_pushfstring(L, "unknown activation '%s' (expected %s)",
                                             an, bp_act_expected()));
    /* alpha: leaky_relu's slope below zero, 0.01, and elu's scale, 1, as
     * PyTorch's defaults; the other activations ignore it. */
    double alpha = act == BP_ACT_ELU ? 1.0 : 0.01;
    int opts = lua_isnoneornil(L, 4) ? 0 : 4;
    if (opts) {
        luaL_checktype(L, 4, LUA_TTABLE);
        bp_lua_check_options(L, 4, add_options, 0);
        if (lua_getfield(L, 4, "alpha") != LUA_TNIL) alpha = luaL_checknumber(L, -1);
        lua_pop(L, 1);
    }
    bp_err e;
    if (net->graph ? bp_lua_graph_add_layer(L, 1, outputs, act, alpha, &e)
                   : bp_net_add(net, outputs, act, alpha, &e))
        return luaL_error(L, "%s", e.msg);
    int l = layer_count(net);
    /* A large layer takes seconds to fill: SIGINT and SIGTERM stop it. */
    net->stop = STATE(L)->stop;
    /* Defaults: Xavier for the saturating activations, He for the ReLUs
     * (the schemes their authors derived them for) and for gelu and elu,
     * which are the identity above zero and near zero below it as a ReLU
     * is; biases at zero. */
    int relu = act == BP_ACT_RELU || act == BP_ACT_LEAKY_RELU || act == BP_ACT_GELU ||
               act == BP_ACT_ELU;
    /* Explicit weights draw nothing, so that giving a layer its values
     * leaves bp.seed's stream where it was. A scheme is drawn after the
     * default, as a PyTorch layer re-initialised once made: scripts that
     * name one keep their bits. */
    int w = opts && lua_getfield(L, 4, "weights") != LUA_TNIL;
    if (!(w && init_is_explicit(L, -1)) &&
        bp_net_init(net, l, 'w', relu ? BP_INIT_HE : BP_INIT_XAVIER, 0, 0, &STATE(L)->rng,
                    &e))
        return luaL_error(L, "%s", e.msg);
    if (opts) {
        if (w) apply_init(L, lua_gettop(L), net, l, 'w');
        lua_pop(L, 1);
        if (lua_getfield(L, 4, "bias") != LUA_TNIL)
            apply_init(L, lua_gettop(L), net, l, 'b');
        lua_pop(L, 1);
    }
    lua_settop(L, 1);
    return 1;
}

/* net:forward(x) -> output; x is one sample or a batch (a table of rows) */
static int net_forward(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    if (bp_lua_net_empty(n->net))
        return luaL_error(L, "the network has no layers: call net:add first");
    int B = bp_lua_check_matrix(L, 2, n->net->inputs, &n->x, &n->single, "inputs");
    bp_err e;
    const double *out = bp_net_forward(n->net, n->x.v, B, &e);
    if (!out) return luaL_error(L, "%s", e.msg);
    bp_lua_push_matrix(L, out, B, bp_net_outputs(n->net), n->single);
    return 1;
}

/* net:backward(dout) -> dLoss/d(input): dLoss/d(output) in, every gradient
 * filled, and the gradient with respect to the input returned, shaped as
 * the last forward's input (Torch7's updateGradInput), for a script that
 * chains networks. The gradients are zeroed first (pass true as a second
 * argument to add into them instead, as Torch7's accGradParameters does). */
static int net_backward(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    if (n->net->B == 0) return luaL_error(L, "backward needs a forward first");
    int single;
    int B =
        bp_lua_check_matrix(L, 2, bp_net_outputs(n->net), &n->y, &single, "gradients");
    if (B != n->net->B)
        return luaL_argerror(
            L, 2,
            lua_pushfstring(L, "expected %d rows, as the last forward, got %d", n->net->B,
                            B));
    if (!lua_toboolean(L, 3)) bp_net_zero_grad(n->net);
    bp_err e;
    /* n->x carried the forward's input in; the net keeps its own copy. */
    double *dx = bp_lua_buf_reserve(L, &n->x, (size_t)B * n->net->inputs);
    if (bp_net_backward_input(n->net, n->y.v, dx, &e)) return luaL_error(L, "%s", e.msg);
    bp_lua_push_matrix(L, dx, B, n->net->inputs, n->single);
    return 1;
}

/* net:update(lr): w_new = w_old - lr * dLoss/dw, every weight and bias */
static int net_update(lua_State *L) {
    bp_lua_params_gate(L, STATE(L));
    lnet *n = bp_lua_check_lnet(L, 1);
    double lr = bp_lua_check_lr(L, 2);
    bp_net_update(n->net, lr, NULL);
    n->steps++;
    state *st = STATE(L);
    st->step++;
    if (st->progress) /* a step by hand: no loss to show */
        atomic_store_explicit(&st->progress->step, st->step, memory_order_relaxed);
    return 0;
}

static int net_zero_grad(lua_State *L) {
    bp_net_zero_grad(bp_lua_check_net(L, 1));
    return 0;
}

/* net:dtype() -> "float64" or "float32" */
static int net_dtype(lua_State *L) {
    lua_pushstring(L, bp_dtype_name(bp_lua_check_net(L, 1)->dtype));
    return 1;
}

/* net:log_loss(name | false): train_step logs its loss under this name at
 * each step (the net's step count), or stops doing so. */
static int net_log_loss(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    if (!lua_toboolean(L, 2)) {
        n->log_name[0] = 0;
        return 0;
    }
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    luaL_argcheck(L, len > 0 && len < sizeof n->log_name, 2,
                  "metric name must be 1 to 63 characters");
    memcpy(n->log_name, name, len + 1);
    return 0;
}

static int check_layer(lua_State *L, bp_net *net, int arg) {
    int l = bp_lua_check_int(L, arg, "layer");
    if (l > layer_count(net))
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "layer %d out of range 1..%d", l, layer_count(net)));
    return l;
}

/* Indices for weight/bias accessors, checked with the engine's messages:
 * the layer of w_{l,n,i} (weight) or b_{l,n}, and the place in its array. */
static lview check_param(lua_State *L, int weight, size_t *k) {
    bp_net *net = bp_lua_check_net(L, 1);
    int l = bp_lua_check_int(L, 2, "layer"), nn = bp_lua_check_int(L, 3, "neuron");
    int i = weight ? bp_lua_check_int(L, 4, "input") : 0;
    bp_err e;
    long at = bp_net_param_index(net, l, nn, i, &e);
    if (at < 0) {
        /* Point at the argument that is out of range. */
        int arg = strncmp(e.msg, "layer", 5) == 0    ? 2
                  : strncmp(e.msg, "neuron", 6) == 0 ? 3
                                                     : 4;
        luaL_argerror(L, arg, e.msg);
    }
    *k = (size_t)at;
    lview v = layer_view(net, l);
    if (!weight && !v.a[BP_FIELD_B])
        luaL_argerror(L, 2, lua_pushfstring(L, "layer %d has no bias", l));
    return v;
}

/* Pushes one number of the array f (W, b, dW or db) named by the indices. */
static int push_param(lua_State *L, bp_field f) {
    size_t k;
    lview Lr = check_param(L, f == BP_FIELD_W || f == BP_FIELD_DW, &k);
    lua_pushnumber(L, view_get(&Lr, f, k));
    return 1;
}

static int net_weight(lua_State *L) { return push_param(L, BP_FIELD_W); }
static int net_bias(lua_State *L) { return push_param(L, BP_FIELD_B); }
static int net_grad_weight(lua_State *L) { return push_param(L, BP_FIELD_DW); }
static int net_grad_bias(lua_State *L) { return push_param(L, BP_FIELD_DB); }

/* net:set_weight(l, n, i, v) and net:set_bias(l, n, v) */
static int set_param(lua_State *L, int weight) {
    double v = luaL_checknumber(L, weight ? 5 : 4);
    size_t k;
    lview Lr = check_param(L, weight, &k);
    view_set(&Lr, weight ? BP_FIELD_W : BP_FIELD_B, k, v);
    return 0;
}
static int net_set_weight(lua_State *L) { return set_param(L, 1); }
static int net_set_bias(lua_State *L) { return set_param(L, 0); }

/* Pushes rows x cols values at p (of type t) as bp_lua_push_matrix does,
 * converted to doubles whatever the dtype. */
static void push_values(lua_State *L, const void *p, bp_dtype t, int rows, int cols,
                        int single) {
    if (t == BP_F64) {
        bp_lua_push_matrix(L, p, rows, cols, single);
        return;
    }
    lua_createtable(L, single ? cols : rows, 0);
    for (int r = 0; r < rows; r++) {
        if (!single) lua_createtable(L, cols, 0);
        for (int c = 0; c < cols; c++) {
            lua_pushnumber(L, ((const float *)p)[(size_t)r * cols + c]);
            lua_rawseti(L, -2, c + 1);
        }
        if (!single) lua_rawseti(L, -2, r + 1);
    }
}

/* net:weights(l) -> O rows of I weights; net:biases(l) -> O biases.
 * net:grad_weights(l), net:grad_biases(l) likewise for dLoss/dw, dLoss/db. */
static int push_layer_params(lua_State *L, int which) {
    bp_net *net = bp_lua_check_net(L, 1);
    int l = check_layer(L, net, 2);
    lview v = layer_view(net, l);
    static const bp_field f[] = {BP_FIELD_W, BP_FIELD_B, BP_FIELD_DW, BP_FIELD_DB};
    if (!v.a[f[which]])
        return luaL_argerror(L, 2, lua_pushfstring(L, "layer %d has no bias", l));
    if (which % 2 == 0) push_values(L, v.a[f[which]], v.dtype, v.O, v.I, 0);
    else push_values(L, v.a[f[which]], v.dtype, 1, v.O, 1);
    return 1;
}
static int net_weights(lua_State *L) { return push_layer_params(L, 0); }
static int net_biases(lua_State *L) { return push_layer_params(L, 1); }
static int net_grad_weights(lua_State *L) { return push_layer_params(L, 2); }
static int net_grad_biases(lua_State *L) { return push_layer_params(L, 3); }

/* net:h(l), net:o(l), net:grad_h(l), net:grad_o(l): what the last forward
 * (h, o) or backward (dLoss/dh, dLoss/do) left in layer l, shaped like the
 * last input (one sample: a list; a batch: rows). */
static int push_kept(lua_State *L, int which) {
    lnet *n = bp_lua_check_lnet(L, 1);
    bp_net *net = n->net;
    if (net->graph)
        return luaL_error(L, "a graph of modules keeps no h or o per layer (they are a "
                             "stack's): look at its parameters with net:param");
    bp_layer *Lr = &net->layers[check_layer(L, net, 2) - 1];
    if (net->B == 0) return luaL_error(L, "nothing to show: run net:forward first");
    static const bp_field f[] = {BP_FIELD_H, BP_FIELD_O, BP_FIELD_DH, BP_FIELD_DOUT};
    push_values(L, Lr->mem[f[which]], Lr->dtype, net->B, Lr->O, n->single);
    return 1;
}
static int net_h(lua_State *L) { return push_kept(L, 0); }
static int net_o(lua_State *L) { return push_kept(L, 1); }
static int net_grad_h(lua_State *L) { return push_kept(L, 2); }
static int net_grad_o(lua_State *L) { return push_kept(L, 3); }

/* A graph's layer l: {inputs =, outputs =, name =}, with activation (and
 * alpha) when the linear's one reader is an act module, as in a stack. */
static int graph_layer(lua_State *L, const bp_graph *g, int l) {
    int id = bp_graph_linear(g, l), reader = -1, readers = 0, n = bp_graph_nodes(g), k;
    for (int j = 0; j < n; j++) {
        const int *in = bp_graph_node_inputs(g, j, &k);
        for (int i = 0; i < k; i++)
            if (in[i] == id) reader = j, readers++;
    }
    const bp_node_opts *o = bp_graph_node_opts(g, id);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, o->in);
    lua_setfield(L, -2, "inputs");
    lua_pushinteger(L, o->out);
    lua_setfield(L, -2, "outputs");
    lua_pushstring(L, bp_graph_node_name(g, id));
    lua_setfield(L, -2, "name");
    if (readers == 1 && bp_graph_node_op(g, reader) == BP_OP_ACT) {
        const bp_node_opts *a = bp_graph_node_opts(g, reader);
        lua_pushstring(L, bp_act_name(a->act));
        lua_setfield(L, -2, "activation");
        if (a->act == BP_ACT_LEAKY_RELU || a->act == BP_ACT_ELU) {
            lua_pushnumber(L, a->alpha);
            lua_setfield(L, -2, "alpha");
        }
    }
    return 1;
}

/* net:layer(l) -> {inputs=, outputs=, activation=, alpha=} */
static int net_layer(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    if (net->graph) return graph_layer(L, net->graph, check_layer(L, net, 2));
    bp_layer *Lr = &net->layers[check_layer(L, net, 2) - 1];
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, Lr->I);
    lua_setfield(L, -2, "inputs");
    lua_pushinteger(L, Lr->O);
    lua_setfield(L, -2, "outputs");
    lua_pushstring(L, bp_act_name(Lr->act));
    lua_setfield(L, -2, "activation");
    if (Lr->act == BP_ACT_LEAKY_RELU || Lr->act == BP_ACT_ELU) {
        lua_pushnumber(L, Lr->alpha);
        lua_setfield(L, -2, "alpha");
    }
    return 1;
}

static int net_inputs(lua_State *L) {
    lua_pushinteger(L, bp_lua_check_net(L, 1)->inputs);
    return 1;
}
static int net_outputs(lua_State *L) {
    lua_pushinteger(L, bp_net_outputs(bp_lua_check_net(L, 1)));
    return 1;
}
static int net_len(lua_State *L) {
    lua_pushinteger(L, layer_count(bp_lua_check_net(L, 1)));
    return 1;
}
static int net_param_count(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)bp_net_param_count(bp_lua_check_net(L, 1)));
    return 1;
}
static int net_steps(lua_State *L) {
    lua_pushinteger(L, bp_lua_check_lnet(L, 1)->steps);
    return 1;
}

/* net:params() -> every weight and bias in the engine's flat order;
 * net:set_params(t) puts them back (a copy of a net, a saved state). */
static int net_params(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    size_t N = bp_net_param_count(net);
    /* A userdata, not malloc: making the table can raise (out of memory),
     * and the collector frees what an error leaves behind. */
    double *v = lua_newuserdatauv(L, sizeof(double) * (N ? N : 1), 0);
    bp_net_params_get(net, v);
    lua_createtable(L, (int)N, 0);
    for (size_t k = 0; k < N; k++) {
        lua_pushnumber(L, v[k]);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    return 1;
}

static int net_set_params(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    size_t N = bp_net_param_count(n->net);
    int single;
    bp_lua_check_matrix(L, 2, (int)N, &n->x, &single, "parameters");
    if (!single) return luaL_argerror(L, 2, "expected a flat list of parameters");
    bp_net_params_set(n->net, n->x.v);
    n->net->B = 0; /* kept activations no longer match the weights */
    return 0;
}

static int net_tostring(lua_State *L) {
    lnet *n = luaL_checkudata(L, 1, NET_TYPE);
    if (!n->net) {
        lua_pushliteral(L, "net (closed)");
        return 1;
    }
    if (n->net->graph) {
        bp_lua_push_net_tree(L, 1);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "net %d", n->net->inputs);
    luaL_addvalue(&b);
    for (int l = 0; l < n->net->n_layers; l++) {
        lua_pushfstring(L, "-%d", n->net->layers[l].O);
        luaL_addvalue(&b);
    }
    for (int l = 0; l < n->net->n_layers; l++) {
        lua_pushfstring(L, "%s%s", l ? ", " : " (", bp_act_name(n->net->layers[l].act));
        luaL_addvalue(&b);
    }
    if (n->net->n_layers) luaL_addchar(&b, ')');
    /* then the table of layers, as print(model) lists a model's modules */
    lua_pushfstring(L, ", %s, %I parameters", bp_dtype_name(n->net->dtype),
                    (lua_Integer)bp_net_param_count(n->net));
    luaL_addvalue(&b);
    for (int l = 0; l < n->net->n_layers; l++) {
        const bp_layer *y = &n->net->layers[l];
        lua_pushfstring(L, "\n  layer %d: %d -> %d %s", l + 1, y->I, y->O,
                        bp_act_name(y->act));
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return 1;
}

static const luaL_Reg net_methods[] = {{"add", net_add},
                                       {"forward", net_forward},
                                       {"backward", net_backward},
                                       {"update", net_update},
                                       {"zero_grad", net_zero_grad},
                                       {"dtype", net_dtype},
                                       {"log_loss", net_log_loss},
                                       {"weight", net_weight},
                                       {"set_weight", net_set_weight},
                                       {"bias", net_bias},
                                       {"set_bias", net_set_bias},
                                       {"grad_weight", net_grad_weight},
                                       {"grad_bias", net_grad_bias},
                                       {"weights", net_weights},
                                       {"biases", net_biases},
                                       {"grad_weights", net_grad_weights},
                                       {"grad_biases", net_grad_biases},
                                       {"h", net_h},
                                       {"o", net_o},
                                       {"grad_h", net_grad_h},
                                       {"grad_o", net_grad_o},
                                       {"layer", net_layer},
                                       {"inputs", net_inputs},
                                       {"outputs", net_outputs},
                                       {"param_count", net_param_count},
                                       {"params", net_params},
                                       {"set_params", net_set_params},
                                       {"steps", net_steps},
                                       {"close", net_close},
                                       {NULL, NULL}};

static const luaL_Reg net_metamethods[] = {
    {"__index", NULL},  {"__gc", net_close},          {"__close", net_close},
    {"__len", net_len}, {"__tostring", net_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {{"net", l_net_new}, {NULL, NULL}};

void bp_lua_open_net(lua_State *L) {
    bp_lua_new_type(L, NET_TYPE, net_metamethods, net_methods);
    bp_lua_add_funcs(L, funcs);
}
