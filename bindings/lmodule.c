/* lmodule.c: modules as values (bp.linear, bp.relu, bp.dropout, ...),
 * containers (bp.sequential, bp.sum, bp.residual, bp.concat) and graphs in
 * nngraph's style (bp.input, module(x), bp.graph). lcompile.c makes
 * networks of them.
 *
 * A module is a description, not a network: it holds its kind, its options
 * and any explicit initial values, and a container its children; nothing
 * is drawn and no memory of the size of a batch exists until a network is
 * made of it. That is why a module is a userdata (one metatable for every
 * kind) rather than a table: it is fixed once made, so the checks of its
 * arguments happen once, at the line that wrote it, with the argument's
 * number in the message, and the compiler reads plain C structs with no
 * field a script could have changed since; a container's children live in
 * its user value. The same module may build several networks, each with
 * weights of its own.
 *
 * A graph is written as nngraph writes it: bp.input(4) is a node, calling
 * a module on nodes makes a node, bp.graph(x, y) makes the module that
 * maps x to y. A node only reads nodes made before it, so a graph of nodes
 * has no cycle by construction; a container can (s:add(s)), which the
 * compiler reports. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbackprop.h"

static const char *const kind_labels[] = {NULL, "Sequential", "Sum", "Concat", "Graph"};
static const char *const kind_names[] = {NULL, "sequential", "sum", "concat", "graph"};

/* ------------------------------------------------------------------------ */
/* Labels                                                                    */

/* PyTorch's class names for the activations; a row added to BP_ACT_TABLE
 * without one here shows its own name. */
static const char *act_label(bp_act a) {
    static const char *const names[][2] = {{"identity", "Identity"},
                                           {"sigmoid", "Sigmoid"},
                                           {"tanh", "Tanh"},
                                           {"relu", "ReLU"},
                                           {"leaky_relu", "LeakyReLU"},
                                           {"softmax", "Softmax"},
                                           {"gelu", "GELU"},
                                           {"elu", "ELU"},
                                           {"log_softmax", "LogSoftmax"}};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(names[k][0], bp_act_name(a)) == 0) return names[k][1];
    return bp_act_name(a);
}

static int has_alpha(bp_act a) { return a == BP_ACT_LEAKY_RELU || a == BP_ACT_ELU; }

/* What a module calls itself in messages: "linear", "relu", "sum", ... */
const char *bp_lua_module_kind(const lmodule *m) {
    if (m->kind != M_LEAF) return kind_names[m->kind];
    return m->op == BP_OP_ACT ? bp_act_name(m->o.act) : bp_op_name(m->op);
}

/* Pushes a leaf's label, as PyTorch prints it: "Linear(4, 8)". */
void bp_lua_push_module_label(lua_State *L, const lmodule *m) {
    const bp_node_opts *o = &m->o;
    switch (m->kind == M_LEAF ? (int)m->op : -1) {
        case BP_OP_LINEAR:
            lua_pushfstring(L, "Linear(%d, %d%s)", o->in, o->out,
                            o->no_bias ? ", bias=false" : "");
            return;
        case BP_OP_ACT:
            if (has_alpha(o->act))
                lua_pushfstring(L, "%s(%f)", act_label(o->act), o->alpha);
            else lua_pushfstring(L, "%s()", act_label(o->act));
            return;
        case BP_OP_DROPOUT: lua_pushfstring(L, "Dropout(p=%f)", o->p); return;
        case BP_OP_LAYERNORM:
            lua_pushfstring(L, "LayerNorm((%d,), eps=%f, elementwise_affine=True)", o->in,
                            o->eps);
            return;
        case BP_OP_BATCHNORM1D:
            lua_pushfstring(L, "BatchNorm1d(%d, eps=%f, momentum=%f)", o->in, o->eps,
                            o->momentum);
            return;
        case BP_OP_FLATTEN: lua_pushliteral(L, "Flatten()"); return;
        case BP_OP_HOST: lua_pushfstring(L, "Lua(%s)", m->def); return;
        case BP_OP_CONV2D:
            lua_pushfstring(L,
                            "Conv2d(%d, %d, kernel_size=(%d, %d), stride=(%d, %d), "
                            "padding=(%d, %d)%s)",
                            o->in, o->out, o->kh, o->kw, o->sh, o->sw, o->ph, o->pw,
                            o->no_bias ? ", bias=false" : "");
            return;
        case BP_OP_MAXPOOL2D:
        case BP_OP_AVGPOOL2D:
            lua_pushfstring(L, "%s(kernel_size=(%d, %d), stride=(%d, %d), padding=(%d, %d))",
                            m->op == BP_OP_MAXPOOL2D ? "MaxPool2d" : "AvgPool2d", o->kh,
                            o->kw, o->sh, o->sw, o->ph, o->pw);
            return;
        case BP_OP_BATCHNORM2D:
            lua_pushfstring(L, "BatchNorm2d(%d, eps=%f, momentum=%f)", o->in, o->eps,
                            o->momentum);
            return;
        case BP_OP_EMBEDDING: lua_pushfstring(L, "Embedding(%d, %d)", o->in, o->out); return;
        case BP_OP_LSTM:
        case BP_OP_GRU:
            lua_pushfstring(L, "%s(%d, %d, num_layers=%d, batch_first=True)",
                            m->op == BP_OP_LSTM ? "LSTM" : "GRU", o->in, o->out, o->layers);
            return;
        case BP_OP_RNN:
            lua_pushfstring(L, "RNN(%d, %d, num_layers=%d, nonlinearity='%s', batch_first=True)",
                            o->in, o->out, o->layers, bp_act_name(o->act));
            return;
        case BP_OP_ATTENTION:
            if (o->block)
                lua_pushfstring(L, "Attention(%d, heads=%d, causal=%s, block=%d)", o->in,
                                o->heads, o->causal ? "True" : "False", o->block);
            else
                lua_pushfstring(L, "Attention(%d, heads=%d, causal=%s)", o->in, o->heads,
                                o->causal ? "True" : "False");
            return;
        case BP_OP_POSITION:
            lua_pushfstring(L, "PositionEmbedding(%d, %d)", o->in, o->out);
            return;
        case BP_OP_RESHAPE: {
            char s[64];
            size_t at = 0;
            for (int d = 0; d < o->ndim; d++)
                at += (size_t)snprintf(s + at, sizeof s - at, d ? ", %d" : "%d",
                                       o->shape[d]);
            lua_pushfstring(L, "Reshape(%s)", s);
            return;
        }
        default:
            lua_pushstring(L,
                           m->kind == M_LEAF ? bp_op_name(m->op) : kind_labels[m->kind]);
            return;
    }
}

/* ------------------------------------------------------------------------ */
/* Making modules                                                            */

static lmodule *new_module(lua_State *L, int kind, bp_op op, size_t values) {
    lmodule *m = lua_newuserdatauv(L, sizeof *m + sizeof(double) * values, 1);
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->op = op;
    m->o = bp_node_opts_default(op);
    luaL_setmetatable(L, MODULE_TYPE);
    return m;
}

lmodule *bp_lua_new_module(lua_State *L, int kind, bp_op op) {
    return new_module(L, kind, op, 0);
}

lmodule *bp_lua_check_module(lua_State *L, int i) {
    return luaL_checkudata(L, i, MODULE_TYPE);
}

/* The options table at arg (0 when absent), its keys checked. */
static int opt_table(lua_State *L, int arg, const char *const known[]) {
    if (lua_isnoneornil(L, arg)) return 0;
    luaL_checktype(L, arg, LUA_TTABLE);
    bp_lua_check_options(L, arg, known, 0);
    return arg;
}

/* opts.name into m->name. */
static void read_name(lua_State *L, int opts, lmodule *m) {
    if (!opts) return;
    if (lua_getfield(L, opts, "name") != LUA_TNIL) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING || len < 1 || len > BP_GRAPH_MAX_NAME)
            bp_lua_field_error(L, opts, "name", "a string of 1 to 48 characters");
        memcpy(m->name, s, len + 1);
    }
    lua_pop(L, 1);
}

/* A number field of opts in [lo, hi] (a finite number when lo > hi), or def. */
static double opt_number(lua_State *L, int opts, const char *field, double def, double lo,
                         double hi, const char *expected) {
    if (!opts) return def;
    double v = def;
    if (lua_getfield(L, opts, field) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TNUMBER) bp_lua_field_error(L, opts, field, expected);
        v = lua_tonumber(L, -1);
        if (!(lo > hi ? v - v == 0 : v >= lo && v <= hi))
            luaL_argerror(L, opts,
                          lua_pushfstring(L, "field '%s': %s expected, got %f", field,
                                          expected, v));
    }
    lua_pop(L, 1);
    return v;
}

/* Explicit values of a linear: the number or the table at the top of the
 * stack into v, count of them in rows of cols (a list when rows is 0). */
static void read_values(lua_State *L, int opts, const char *field, double *v, int rows,
                        int cols) {
    size_t n = (size_t)(rows ? rows : 1) * cols;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        for (size_t k = 0; k < n; k++) v[k] = lua_tonumber(L, -1);
        return;
    }
    int want = rows ? rows : cols;
    if (lua_type(L, -1) != LUA_TTABLE || (int)lua_rawlen(L, -1) != want) {
        lua_pushfstring(L, "field '%s': %s of %d %s expected", field,
                        rows ? "a number or a table" : "a number, false or a list", want,
                        rows ? "rows" : "numbers");
        luaL_argerror(L, opts, lua_tostring(L, -1));
    }
    for (int r = 0; r < (rows ? rows : 1); r++) {
        if (rows &&
            (lua_rawgeti(L, -1, r + 1) != LUA_TTABLE || (int)lua_rawlen(L, -1) != cols))
            luaL_argerror(L, opts,
                          lua_pushfstring(L,
                                          "field '%s': row %d: a table of %d numbers "
                                          "expected",
                                          field, r + 1, cols));
        for (int c = 0; c < cols; c++) {
            if (lua_rawgeti(L, -1, c + 1) != LUA_TNUMBER)
                luaL_argerror(L, opts,
                              lua_pushfstring(L,
                                              "field '%s': element %d: number "
                                              "expected, got %s",
                                              field, r * cols + c + 1,
                                              luaL_typename(L, -1)));
            v[(size_t)r * cols + c] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        if (rows) lua_pop(L, 1);
    }
}

static const char *const linear_options[] = {"name", "weights", "bias", NULL};

/* bp.linear(I, O [, {name =, weights =, bias =}]): y = x W^T + b
 * (nn.Linear(I, O)); weights a number or O rows of I numbers, bias a
 * number, a list of O or false (none). Unset: U(-1/sqrt(I), 1/sqrt(I)),
 * nn.Linear's default, drawn when a network is made of it. */
static int l_linear(lua_State *L) {
    int I = bp_lua_check_int(L, 1, "number of inputs");
    int O = bp_lua_check_int(L, 2, "number of outputs");
    int opts = opt_table(L, 3, linear_options);
    if ((size_t)I * O > (size_t)1 << 31)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L, "%d x %d weights are too many", O, I));
    lua_settop(L, 3);
    if (opts) {
        lua_getfield(L, opts, "weights"); /* 4 */
        lua_getfield(L, opts, "bias");    /* 5 */
    } else {
        lua_settop(L, 5);
    }
    int w = !lua_isnil(L, 4), b = !lua_isnil(L, 5);
    int no_bias = lua_type(L, 5) == LUA_TBOOLEAN && !lua_toboolean(L, 5);
    if (lua_type(L, 5) == LUA_TBOOLEAN && !no_bias)
        return bp_lua_field_error(L, opts, "bias", "a number, false or a list");
    if (no_bias) b = 0;
    size_t nw = w ? (size_t)I * O : 0;
    lmodule *m = new_module(L, M_LEAF, BP_OP_LINEAR, nw + (b ? (size_t)O : 0));
    m->o.in = I, m->o.out = O, m->o.no_bias = no_bias;
    read_name(L, opts, m);
    if (w) {
        lua_pushvalue(L, 4);
        read_values(L, opts, "weights", m->values, O, I);
        lua_pop(L, 1);
        m->o.weight = m->values;
    }
    if (b) {
        lua_pushvalue(L, 5);
        read_values(L, opts, "bias", m->values + nw, 0, O);
        lua_pop(L, 1);
        m->o.bias = m->values + nw;
    }
    return 1;
}

static const char *const name_options[] = {"name", NULL};
static const char *const alpha_options[] = {"name", "alpha", NULL};

/* bp.relu([opts]), bp.leaky_relu([alpha] [, opts]), ...: one per row of
 * BP_ACT_TABLE (upvalue 2); alpha is leaky_relu's slope below zero (0.01)
 * and elu's scale (1), PyTorch's defaults. */
static int l_act(lua_State *L) {
    bp_act act = (bp_act)lua_tointeger(L, lua_upvalueindex(2));
    int alpha = has_alpha(act), arg = 1;
    double a = act == BP_ACT_ELU ? 1.0 : 0.01;
    if (alpha && lua_type(L, 1) == LUA_TNUMBER) {
        a = lua_tonumber(L, 1);
        luaL_argcheck(L, a - a == 0, 1, "alpha must be a finite number");
        arg = 2;
    }
    int opts = opt_table(L, arg, alpha ? alpha_options : name_options);
    a = opt_number(L, opts, "alpha", a, 1, 0, "a finite number");
    lmodule *m = new_module(L, M_LEAF, BP_OP_ACT, 0);
    m->o.act = act, m->o.alpha = a;
    read_name(L, opts, m);
    return 1;
}

/* bp.dropout([p = 0.5] [, {name =}]): nn.Dropout(p), inverted dropout */
static int l_dropout(lua_State *L) {
    int arg = 1;
    double p = 0.5;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        p = lua_tonumber(L, 1);
        if (!(p >= 0 && p <= 1))
            return luaL_argerror(L, 1,
                                 lua_pushfstring(L, "p must be in [0, 1], got %f", p));
        arg = 2;
    }
    int opts = opt_table(L, arg, name_options);
    lmodule *m = new_module(L, M_LEAF, BP_OP_DROPOUT, 0);
    m->o.p = p;
    read_name(L, opts, m);
    return 1;
}

static const char *const bn_options[] = {"name", "eps", "momentum", NULL};

/* bp.batchnorm1d(F [, {name =, eps = 1e-5, momentum = 0.1}]) */
static int l_batchnorm1d(lua_State *L) {
    int F = bp_lua_check_int(L, 1, "number of features");
    int opts = opt_table(L, 2, bn_options);
    double eps = opt_number(L, opts, "eps", 1e-5, 1, 0, "a finite number > 0");
    double mom = opt_number(L, opts, "momentum", 0.1, 0, 1, "a number in [0, 1]");
    if (!(eps > 0)) return bp_lua_field_error(L, opts, "eps", "a finite number > 0");
    lmodule *m = new_module(L, M_LEAF, BP_OP_BATCHNORM1D, 0);
    m->o.in = F, m->o.eps = eps, m->o.momentum = mom;
    read_name(L, opts, m);
    return 1;
}

static const char *const ln_options[] = {"name", "eps", NULL};

/* bp.layernorm(F [, {name =, eps = 1e-5}]): nn.LayerNorm(F) over the last
 * dimension */
static int l_layernorm(lua_State *L) {
    int F = bp_lua_check_int(L, 1, "number of features");
    int opts = opt_table(L, 2, ln_options);
    double eps = opt_number(L, opts, "eps", 1e-5, 1, 0, "a finite number > 0");
    if (!(eps > 0)) return bp_lua_field_error(L, opts, "eps", "a finite number > 0");
    lmodule *m = new_module(L, M_LEAF, BP_OP_LAYERNORM, 0);
    m->o.in = F, m->o.eps = eps;
    read_name(L, opts, m);
    return 1;
}

/* bp.batchnorm2d(C [, {name =, eps = 1e-5, momentum = 0.1}]) */
static int l_batchnorm2d(lua_State *L) {
    l_batchnorm1d(L);
    lmodule *m = bp_lua_check_module(L, -1);
    m->op = BP_OP_BATCHNORM2D;
    return 1;
}

/* A size pair at index idx into *a, *b: a number n for n x n, or {a, b},
 * each in lo..65535; else an error naming what. */
static void check_pair(lua_State *L, int idx, const char *what, int lo, int *a, int *b) {
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER && lua_isinteger(L, idx) &&
        lua_tointeger(L, idx) >= lo && lua_tointeger(L, idx) <= 65535) {
        *a = *b = (int)lua_tointeger(L, idx);
        return;
    }
    if (lua_type(L, idx) == LUA_TTABLE && lua_rawlen(L, idx) == 2) {
        lua_rawgeti(L, idx, 1);
        lua_rawgeti(L, idx, 2);
        int ok = lua_isinteger(L, -2) && lua_isinteger(L, -1);
        lua_Integer x = lua_tointeger(L, -2), y = lua_tointeger(L, -1);
        lua_pop(L, 2);
        if (ok && x >= lo && y >= lo && x <= 65535 && y <= 65535) {
            *a = (int)x, *b = (int)y;
            return;
        }
    }
    luaL_error(L, "%s: an integer in %d..65535 or a pair {h, w} of them expected", what,
               lo);
}

/* opts.stride and opts.padding into m's options, when given. */
static void read_window(lua_State *L, int opts, lmodule *m) {
    if (!opts) return;
    if (lua_getfield(L, opts, "stride") != LUA_TNIL)
        check_pair(L, -1, "field 'stride'", 1, &m->o.sh, &m->o.sw);
    if (lua_getfield(L, opts, "padding") != LUA_TNIL)
        check_pair(L, -1, "field 'padding'", 0, &m->o.ph, &m->o.pw);
    lua_pop(L, 2);
}

static const char *const conv_options[] = {"name", "stride", "padding", "bias", NULL};

/* bp.conv2d(C, O, kernel [, {stride = 1, padding = 0, bias = true, name =}]):
 * nn.Conv2d(C, O, kernel, stride, padding, bias); kernel, stride and
 * padding a number or {h, w}. */
static int l_conv2d(lua_State *L) {
    int C = bp_lua_check_int(L, 1, "number of input channels");
    int O = bp_lua_check_int(L, 2, "number of output channels");
    int opts = opt_table(L, 4, conv_options);
    lmodule *m = new_module(L, M_LEAF, BP_OP_CONV2D, 0);
    m->o.in = C, m->o.out = O;
    check_pair(L, 3, "bad argument #3 to 'conv2d' (kernel)", 1, &m->o.kh, &m->o.kw);
    read_window(L, opts, m);
    if (opts) {
        if (lua_getfield(L, opts, "bias") != LUA_TNIL) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                bp_lua_field_error(L, opts, "bias", "a boolean");
            m->o.no_bias = !lua_toboolean(L, -1);
        }
        lua_pop(L, 1);
    }
    read_name(L, opts, m);
    return 1;
}

static const char *const pool_options[] = {"name", "padding", NULL};

/* bp.maxpool2d(kernel [, stride = kernel] [, {padding = 0, name =}]),
 * bp.avgpool2d(...) (upvalue 2: the op): nn.MaxPool2d, nn.AvgPool2d. */
static int l_pool(lua_State *L) {
    bp_op op = (bp_op)lua_tointeger(L, lua_upvalueindex(2));
    int arg = lua_type(L, 2) == LUA_TTABLE && lua_rawlen(L, 2) != 2 ? 2 : 3;
    int opts = opt_table(L, arg, pool_options), stride = arg == 3 && !lua_isnoneornil(L, 2);
    lua_settop(L, 3);
    lmodule *m = new_module(L, M_LEAF, op, 0);
    check_pair(L, 1, "kernel", 1, &m->o.kh, &m->o.kw);
    m->o.sh = m->o.kh, m->o.sw = m->o.kw;
    if (stride) check_pair(L, 2, "stride", 1, &m->o.sh, &m->o.sw);
    read_window(L, opts, m);
    read_name(L, opts, m);
    return 1;
}

/* A module of op with a table of rows x cols weights (in = rows, out =
 * cols), the sizes' names what1 and what2, and a name. */
static int table_module(lua_State *L, bp_op op, const char *what1, const char *what2) {
    int rows = bp_lua_check_int(L, 1, what1);
    int cols = bp_lua_check_int(L, 2, what2);
    int opts = opt_table(L, 3, name_options);
    if ((size_t)rows * cols > (size_t)1 << 31)
        return luaL_argerror(
            L, 2, lua_pushfstring(L, "%d x %d weights are too many", rows, cols));
    lmodule *m = new_module(L, M_LEAF, op, 0);
    m->o.in = rows, m->o.out = cols;
    read_name(L, opts, m);
    return 1;
}

/* bp.embedding(V, D [, {name =}]): nn.Embedding(V, D) on sequences of ids
 * 1..V, weights N(0, 1) as PyTorch's. */
static int l_embedding(lua_State *L) {
    return table_module(L, BP_OP_EMBEDDING, "number of ids", "number of values an id");
}

static const char *const lstm_options[] = {"name", "layers", NULL};
static const char *const rnn_options[] = {"name", "layers", "nonlinearity", NULL};

/* A recurrent module of op on samples of T x I, every step's output T x H
 * (gates rows of weights per hidden value): bp.lstm, bp.gru, bp.rnn. */
static int recurrent(lua_State *L, bp_op op, int gates) {
    int I = bp_lua_check_int(L, 1, "number of inputs a step");
    int H = bp_lua_check_int(L, 2, "hidden size");
    int opts = opt_table(L, 3, op == BP_OP_RNN ? rnn_options : lstm_options);
    double layers = opt_number(L, opts, "layers", 1, 1, BP_GRAPH_MAX_LAYERS,
                               "an integer in 1..8");
    if (layers != (int)layers)
        return bp_lua_field_error(L, opts, "layers", "an integer in 1..8");
    int relu = 0;
    if (op == BP_OP_RNN && opts && lua_getfield(L, opts, "nonlinearity") != LUA_TNIL) {
        const char *f = lua_tostring(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING || (strcmp(f, "tanh") && strcmp(f, "relu")))
            return bp_lua_field_error(L, opts, "nonlinearity", "'tanh' or 'relu'");
        relu = f[0] == 'r';
        lua_pop(L, 1);
    }
    if ((size_t)gates * H * (I > H ? I : H) > (size_t)1 << 31)
        return luaL_argerror(L, 2, lua_pushfstring(L, "%d x %d weights are too many",
                                                   gates * H, I));
    lmodule *m = new_module(L, M_LEAF, op, 0);
    m->o.in = I, m->o.out = H, m->o.layers = (int)layers;
    if (relu) m->o.act = BP_ACT_RELU;
    read_name(L, opts, m);
    return 1;
}

/* bp.lstm(I, H [, {layers = 1, name =}]): nn.LSTM(I, H, num_layers,
 * batch_first=True); bp.gru likewise nn.GRU; bp.rnn(I, H [, {layers,
 * nonlinearity = "tanh" or "relu", name}]) nn.RNN. */
static int l_lstm(lua_State *L) { return recurrent(L, BP_OP_LSTM, 4); }
static int l_gru(lua_State *L) { return recurrent(L, BP_OP_GRU, 3); }
static int l_rnn(lua_State *L) { return recurrent(L, BP_OP_RNN, 1); }

static const char *const attention_options[] = {"name", "causal", "block", NULL};

/* bp.attention(C, heads [, {causal = true, block = T, name =}]):
 * multi-head self-attention on sequences of T x C (nanoGPT's
 * CausalSelfAttention; tensors c_attn.weight, c_attn.bias, c_proj.weight,
 * c_proj.bias, U(-1/sqrt(C), 1/sqrt(C)) as nn.Linear's); block, when
 * given, the longest sequence it takes. */
static int l_attention(lua_State *L) {
    int C = bp_lua_check_int(L, 1, "number of values a step");
    int heads = bp_lua_check_int(L, 2, "number of heads");
    int opts = opt_table(L, 3, attention_options);
    if (C % heads)
        return luaL_argerror(
            L, 2,
            lua_pushfstring(L, "%d heads do not divide C = %d (C %% heads must be 0)", heads,
                            C));
    if ((size_t)3 * C * C > (size_t)1 << 31)
        return luaL_argerror(
            L, 1, lua_pushfstring(L, "%d x %d weights are too many", 3 * C, C));
    int causal = 1;
    if (opts && lua_getfield(L, opts, "causal") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TBOOLEAN)
            return bp_lua_field_error(L, opts, "causal", "a boolean");
        causal = lua_toboolean(L, -1);
    }
    if (opts) lua_pop(L, 1);
    double block = opt_number(L, opts, "block", 0, 1, INT32_MAX, "an integer >= 1");
    if (block != (int)block)
        return bp_lua_field_error(L, opts, "block", "an integer >= 1");
    lmodule *m = new_module(L, M_LEAF, BP_OP_ATTENTION, 0);
    m->o.in = C, m->o.heads = heads, m->o.causal = causal, m->o.block = (int)block;
    read_name(L, opts, m);
    return 1;
}

/* bp.position(block, C [, {name =}]): a learned position embedding added
 * to sequences of T x C, T <= block (GPT's x + wpe(arange(T)), wpe =
 * nn.Embedding(block, C), N(0, 1)). */
static int l_position(lua_State *L) {
    return table_module(L, BP_OP_POSITION, "block (the longest sequence)",
                        "number of values a step");
}

/* bp.flatten([opts]) */
static int l_flatten(lua_State *L) {
    int opts = opt_table(L, 1, name_options);
    lmodule *m = new_module(L, M_LEAF, BP_OP_FLATTEN, 0);
    read_name(L, opts, m);
    return 1;
}

/* Dimensions d1, ..., dk from argument 1 on, into ndim and shape; returns
 * the argument after them. */
static int check_dims(lua_State *L, int *ndim, int *shape) {
    int arg = 1;
    while (lua_type(L, arg) == LUA_TNUMBER) {
        if (arg > BP_GRAPH_MAX_DIMS)
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "a shape has at most %d dimensions",
                                          BP_GRAPH_MAX_DIMS));
        shape[arg - 1] = bp_lua_check_int(L, arg, "a dimension");
        arg++;
    }
    if (arg == 1) luaL_argerror(L, 1, "a shape of 1 or more dimensions expected");
    *ndim = arg - 1;
    return arg;
}

/* bp.reshape(d1, ..., dk [, opts]): x.view(B, d1, ..., dk) */
static int l_reshape(lua_State *L) {
    int ndim, shape[BP_GRAPH_MAX_DIMS];
    int opts = opt_table(L, check_dims(L, &ndim, shape), name_options);
    lmodule *m = new_module(L, M_LEAF, BP_OP_RESHAPE, 0);
    m->o.ndim = ndim;
    memcpy(m->o.shape, shape, sizeof shape);
    read_name(L, opts, m);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Containers                                                                */

/* Appends the module at index v to the children of container c (index). */
static void add_child(lua_State *L, int c, int v) {
    bp_lua_check_module(L, v);
    lua_getiuservalue(L, c, 1);
    lua_pushvalue(L, v);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}

/* bp.sequential{m1, m2, ..., name =}, bp.sum{...}, bp.concat{...}
 * (upvalue 2: the kind): children in order, copied from the list. */
static int l_container(lua_State *L) {
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    int has = !lua_isnoneornil(L, 1);
    if (has) luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = has ? (lua_Integer)lua_rawlen(L, 1) : 0;
    if (has) {
        /* Every key: 1..n (modules) or name. */
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            lua_pop(L, 1);
            if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
                lua_tointeger(L, -1) <= n)
                continue;
            if (lua_type(L, -1) == LUA_TSTRING &&
                strcmp(lua_tostring(L, -1), "name") == 0)
                continue;
            bp_lua_push_unknown_option(L, luaL_tolstring(L, -1, NULL), name_options);
            return luaL_argerror(L, 1, lua_tostring(L, -1));
        }
    }
    lmodule *m = new_module(L, kind, BP_OP_INPUT, 0);
    int c = lua_gettop(L);
    lua_createtable(L, (int)n, 0);
    lua_setiuservalue(L, c, 1);
    if (has) read_name(L, 1, m);
    for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, 1, k);
        if (!luaL_testudata(L, -1, MODULE_TYPE))
            return luaL_argerror(L, 1,
                                 lua_pushfstring(L,
                                                 "element %I: a module expected, got %s",
                                                 k, luaL_typename(L, -1)));
        add_child(L, c, lua_gettop(L));
        lua_pop(L, 1);
    }
    lua_settop(L, c);
    return 1;
}

/* bp.residual(m [, {name =}]) -> bp.sum{bp.identity(), m}: x + m(x) */
static int l_residual(lua_State *L) {
    bp_lua_check_module(L, 1);
    int opts = opt_table(L, 2, name_options);
    lmodule *s = new_module(L, M_SUM, BP_OP_INPUT, 0);
    int c = lua_gettop(L);
    read_name(L, opts, s);
    lua_createtable(L, 2, 0);
    lua_setiuservalue(L, c, 1);
    lmodule *id = new_module(L, M_LEAF, BP_OP_ACT, 0);
    id->o.act = BP_ACT_IDENTITY;
    add_child(L, c, lua_gettop(L));
    add_child(L, c, 1);
    lua_settop(L, c);
    return 1;
}

/* container:add(m) -> container, as Torch7's nn.Sequential:add */
static int module_add(lua_State *L) {
    lmodule *c = bp_lua_check_module(L, 1);
    if (c->kind == M_LEAF || c->kind == M_GRAPH)
        return luaL_error(L, "%s: only a sequential, sum or concat takes more modules",
                          bp_lua_module_kind(c));
    add_child(L, 1, 2);
    lua_settop(L, 1);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Graphs in nngraph's style                                                 */

static lnode *new_node(lua_State *L) {
    lnode *n = lua_newuserdatauv(L, sizeof *n, 2);
    memset(n, 0, sizeof *n);
    luaL_setmetatable(L, NODE_TYPE);
    return n;
}

/* bp.input(d1, ..., dk) -> the input node of a graph, of that shape */
static int l_input(lua_State *L) {
    int ndim, shape[BP_GRAPH_MAX_DIMS];
    int arg = check_dims(L, &ndim, shape);
    luaL_argcheck(L, lua_isnone(L, arg), arg, "only dimensions expected");
    lnode *n = new_node(L);
    n->ndim = ndim;
    memcpy(n->shape, shape, sizeof shape);
    return 1;
}

/* How many inputs a module takes when called: -1 for two or more. */
static int inputs_taken(lua_State *L, int mi, const lmodule *m) {
    if (m->kind == M_SUM || m->kind == M_CONCAT) {
        lua_getiuservalue(L, mi, 1);
        int branches = (int)lua_rawlen(L, -1);
        lua_pop(L, 1);
        return branches ? 1 : -1;
    }
    return 1;
}

/* module(x) or module({x1, x2, ...}) -> a node: the module applied to
 * nodes (bp.input's or other modules'). A sum or concat with no branches
 * of its own takes two or more nodes and joins them. */
static int module_call(lua_State *L) {
    lmodule *m = bp_lua_check_module(L, 1);
    lua_settop(L, 2);
    lua_createtable(L, 1, 0);
    int list = 3;
    if (luaL_testudata(L, 2, NODE_TYPE)) {
        lua_pushvalue(L, 2);
        lua_rawseti(L, list, 1);
    } else if (lua_type(L, 2) == LUA_TTABLE) {
        for (lua_Integer k = 1; k <= (lua_Integer)lua_rawlen(L, 2); k++) {
            if (lua_rawgeti(L, 2, k) == LUA_TNIL || !luaL_testudata(L, -1, NODE_TYPE))
                return luaL_argerror(
                    L, 2,
                    lua_pushfstring(L, "element %I: a node expected, got %s", k,
                                    luaL_typename(L, -1)));
            lua_rawseti(L, list, k);
        }
    } else {
        return luaL_argerror(L, 2,
                             lua_pushfstring(L,
                                             "a node or a list of nodes expected, got %s",
                                             luaL_typename(L, 2)));
    }
    int n = (int)lua_rawlen(L, list), want = inputs_taken(L, 1, m);
    if (want == 1 && n != 1)
        return luaL_error(L, "%s takes 1 input (got %d)", bp_lua_module_kind(m), n);
    if (want < 0 && (n < 2 || n > BP_GRAPH_MAX_INPUTS))
        return luaL_error(L, "%s with no branches joins 2 to %d inputs (got %d)",
                          bp_lua_module_kind(m), BP_GRAPH_MAX_INPUTS, n);
    new_node(L);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, list);
    lua_setiuservalue(L, -2, 2);
    return 1;
}

/* bp.graph(x, y [, {name =}]) -> a module mapping the input node x to the
 * node y (nngraph's gModule({x}, {y})) */
static int l_graph(lua_State *L) {
    luaL_checkudata(L, 1, NODE_TYPE);
    luaL_checkudata(L, 2, NODE_TYPE);
    lua_getiuservalue(L, 1, 1);
    luaL_argcheck(L, lua_isnil(L, -1), 1, "the graph's input must be made by bp.input");
    lua_pop(L, 1);
    int opts = opt_table(L, 3, name_options);
    lmodule *m = new_module(L, M_GRAPH, BP_OP_INPUT, 0);
    read_name(L, opts, m);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 2);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

void bp_lua_shape_text(char *s, size_t cap, int ndim, const int *shape) {
    size_t at = 0;
    s[0] = 0;
    for (int d = 0; d < ndim && at < cap; d++)
        at += (size_t)snprintf(s + at, cap - at, d ? "x%d" : "%d", shape[d]);
}

int bp_lua_is_module(lua_State *L, int i) {
    return luaL_testudata(L, i, MODULE_TYPE) != NULL;
}

/* ------------------------------------------------------------------------ */
/* Metamethods and registration                                              */

/* tostring(module): "Linear(4, 8)", "Sequential(3 modules)", or with the
 * name: "fc1: Linear(4, 8)". */
static int module_tostring(lua_State *L) {
    const lmodule *m = bp_lua_check_module(L, 1);
    if (m->name[0]) lua_pushfstring(L, "%s: ", m->name);
    else lua_pushliteral(L, "");
    if (m->kind == M_LEAF) {
        bp_lua_push_module_label(L, m);
    } else {
        lua_getiuservalue(L, 1, 1);
        int n = m->kind == M_GRAPH ? 0 : (int)lua_rawlen(L, -1);
        lua_pop(L, 1);
        if (m->kind == M_GRAPH) lua_pushliteral(L, "Graph");
        else
            lua_pushfstring(L, "%s(%d module%s)", kind_labels[m->kind], n,
                            n == 1 ? "" : "s");
    }
    lua_concat(L, 2);
    return 1;
}

/* module:kind() -> "linear", "relu", "sequential", ...; module:name() */
static int module_kind(lua_State *L) {
    lua_pushstring(L, bp_lua_module_kind(bp_lua_check_module(L, 1)));
    return 1;
}
static int module_name(lua_State *L) {
    const lmodule *m = bp_lua_check_module(L, 1);
    if (m->name[0]) lua_pushstring(L, m->name);
    else lua_pushnil(L);
    return 1;
}

static int node_tostring(lua_State *L) {
    luaL_checkudata(L, 1, NODE_TYPE);
    if (lua_getiuservalue(L, 1, 1) == LUA_TNIL) {
        const lnode *n = lua_touserdata(L, 1);
        char s[48];
        bp_lua_shape_text(s, sizeof s, n->ndim, n->shape);
        lua_pushfstring(L, "node: input %s", s);
        return 1;
    }
    lua_pushfstring(L, "node: %s", luaL_tolstring(L, -1, NULL));
    return 1;
}

static const luaL_Reg module_methods[] = {
    {"add", module_add}, {"kind", module_kind}, {"name", module_name}, {NULL, NULL}};
static const luaL_Reg module_meta[] = {{"__index", NULL},
                                       {"__call", module_call},
                                       {"__tostring", module_tostring},
                                       {NULL, NULL}};
static const luaL_Reg node_meta[] = {{"__tostring", node_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"linear", l_linear},   {"dropout", l_dropout}, {"batchnorm1d", l_batchnorm1d},
    {"flatten", l_flatten}, {"reshape", l_reshape}, {"residual", l_residual},
    {"input", l_input},     {"graph", l_graph},     {"conv2d", l_conv2d},
    {"batchnorm2d", l_batchnorm2d}, {"embedding", l_embedding}, {"lstm", l_lstm},
    {"gru", l_gru},             {"rnn", l_rnn},         {"layernorm", l_layernorm},
    {"attention", l_attention}, {"position", l_position},
    {NULL, NULL}};

void bp_lua_open_module(lua_State *L) {
    bp_lua_new_type(L, MODULE_TYPE, module_meta, module_methods);
    bp_lua_new_type(L, NODE_TYPE, node_meta, NULL);
    bp_lua_add_funcs(L, funcs);
    /* bp.identity, bp.sigmoid, ...: a constructor per activation. */
    for (int a = 0; a < BP_ACT_COUNT; a++) {
        lua_pushvalue(L, -2); /* the state */
        lua_pushinteger(L, a);
        lua_pushcclosure(L, l_act, 2);
        lua_setfield(L, -2, bp_act_name((bp_act)a));
    }
    for (int k = BP_OP_MAXPOOL2D; k <= BP_OP_AVGPOOL2D; k++) {
        lua_pushvalue(L, -2);
        lua_pushinteger(L, k);
        lua_pushcclosure(L, l_pool, 2);
        lua_setfield(L, -2, bp_op_name((bp_op)k));
    }
    for (int k = M_SEQUENTIAL; k <= M_CONCAT; k++) {
        lua_pushvalue(L, -2);
        lua_pushinteger(L, k);
        lua_pushcclosure(L, l_container, 2);
        lua_setfield(L, -2, kind_names[k]);
    }
}
