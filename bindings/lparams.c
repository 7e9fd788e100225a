/* lparams.c: a network's parameters by name, and its mode.
 *
 * Every network, a stack or a graph, lists its tensors with PyTorch's names
 * (bp_net_param_list: "1.weight", "fc1.bias", "bn1.running_mean"); these
 * methods reach each by its name, as state_dict()[name] does, and hand it
 * over in the shape it has: a number (a count such as num_batches_tracked),
 * a list (a bias, a running mean), rows (a weight). Values cross in
 * doubles, rounded to float on the way into a float32 network, as
 * net:set_weight does.
 *
 * The mode is torch.nn's train() and eval(): dropout and batch norm read
 * it; net:fit sets training and net:evaluate and net:predict evaluation,
 * each putting back what was there. */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbackprop.h"

/* The tensor named by argument 2; raises with the engine's message. */
static const bp_param *check_tensor(lua_State *L, bp_net *net) {
    const char *name = luaL_checkstring(L, 2);
    bp_err e;
    const bp_param *t = bp_net_param_find(net, name, &e);
    if (!t) luaL_argerror(L, 2, e.msg);
    return t;
}

static double get(const void *p, bp_dtype t, size_t k) {
    return t == BP_F32 ? ((const float *)p)[k] : ((const double *)p)[k];
}

/* Pushes dimension d on of a tensor of shape sh (nd dims) at p, entry *k
 * on: nested tables, a number for no dimension. */
static void push_tensor(lua_State *L, const void *p, bp_dtype t, int nd, const int *sh,
                        size_t *k) {
    if (nd == 0) {
        lua_pushnumber(L, get(p, t, (*k)++));
        return;
    }
    luaL_checkstack(L, 4, NULL);
    lua_createtable(L, sh[0], 0);
    for (int i = 0; i < sh[0]; i++) {
        push_tensor(L, p, t, nd - 1, sh + 1, k);
        lua_rawseti(L, -2, i + 1);
    }
}

static void push_param_values(lua_State *L, const bp_param *t, const void *p,
                              bp_dtype dtype) {
    size_t k = 0;
    push_tensor(L, p, dtype, t->ndim, t->shape, &k);
}

/* net:param(name) -> the tensor's values: rows of a weight, a list of a
 * bias or running statistic, a number of a count */
static int net_param(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    const bp_param *t = check_tensor(L, net);
    push_param_values(L, t, t->data, net->dtype);
    return 1;
}

/* net:grad(name) -> dLoss/d(the tensor) of the last backward, shaped as it */
static int net_grad(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    const bp_param *t = check_tensor(L, net);
    if (!t->grad)
        return luaL_argerror(
            L, 2, lua_pushfstring(L, "'%s' is a buffer: it has no gradient", t->name));
    push_param_values(L, t, t->grad, net->dtype);
    return 1;
}

/* "8x4", or "a number" for a tensor of no dimension. */
static const char *shape_of(lua_State *L, const bp_param *t) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (t->ndim == 0) luaL_addstring(&b, "a single number");
    for (int d = 0; d < t->ndim; d++) {
        lua_pushfstring(L, d ? "x%d" : "%d", t->shape[d]);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

/* Reads the value at the top of the stack as dimensions nd.. of shape sh
 * into p from entry *k on; at is the path so far ("[3][2]") for messages. */
static void read_tensor(lua_State *L, const bp_param *t, void *p, bp_dtype dtype, int nd,
                        const int *sh, size_t *k, const char *at) {
    if (nd == 0) {
        if (lua_type(L, -1) != LUA_TNUMBER) {
            const char *tn = luaL_typename(L, -1), *sht = shape_of(L, t);
            luaL_argerror(L, 3,
                          lua_pushfstring(L,
                                          "'%s' has shape %s; at %s: number expected, "
                                          "got %s",
                                          t->name, sht, at[0] ? at : "the top", tn));
        }
        double v = lua_tonumber(L, -1);
        if (dtype == BP_F32) ((float *)p)[*k] = (float)v;
        else ((double *)p)[*k] = v;
        ++*k;
        return;
    }
    if (lua_type(L, -1) != LUA_TTABLE || (int)lua_rawlen(L, -1) != sh[0]) {
        const char *sht = shape_of(L, t);
        luaL_argerror(L, 3,
                      lua_pushfstring(L,
                                      "'%s' has shape %s; at %s: a table of %d "
                                      "entries expected",
                                      t->name, sht, at[0] ? at : "the top", sh[0]));
    }
    luaL_checkstack(L, 4, NULL);
    for (int i = 0; i < sh[0]; i++) {
        lua_rawgeti(L, -1, i + 1);
        const char *sub = lua_pushfstring(L, "%s[%d]", at, i + 1);
        lua_insert(L, -2);
        read_tensor(L, t, p, dtype, nd - 1, sh + 1, k, sub);
        lua_pop(L, 2);
    }
}

/* net:set_param(name, values): the tensor's values, shaped as net:param
 * gives them. Every value is checked before any is written. */
static int net_set_param(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    const bp_param *t = check_tensor(L, n->net);
    luaL_checkany(L, 3);
    double *v = bp_lua_buf_reserve(L, &n->x, t->count ? t->count : 1);
    size_t k = 0;
    lua_pushvalue(L, 3);
    read_tensor(L, t, v, BP_F64, t->ndim, t->shape, &k, "");
    for (k = 0; k < t->count; k++) {
        if (n->net->dtype == BP_F32) ((float *)t->data)[k] = (float)v[k];
        else ((double *)t->data)[k] = v[k];
    }
    n->net->B = 0; /* kept activations no longer match the weights */
    return 0;
}

/* net:params_list() -> {{name =, shape = {...}, count =, trainable =,
 * frozen =}, ...}
 * in the engine's flat order (net:params()'s) */
static int net_params_list(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    lua_createtable(L, n, 0);
    for (int k = 0; k < n; k++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, t[k].name);
        lua_setfield(L, -2, "name");
        lua_createtable(L, t[k].ndim, 0);
        for (int d = 0; d < t[k].ndim; d++) {
            lua_pushinteger(L, t[k].shape[d]);
            lua_rawseti(L, -2, d + 1);
        }
        lua_setfield(L, -2, "shape");
        lua_pushinteger(L, (lua_Integer)t[k].count);
        lua_setfield(L, -2, "count");
        lua_pushboolean(L, t[k].trainable);
        lua_setfield(L, -2, "trainable");
        lua_pushboolean(L, t[k].frozen);
        lua_setfield(L, -2, "frozen");
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* net:training() -> whether the net is in training mode;
 * net:training(on) -> net: training (true) or evaluation (false) mode, as
 * torch.nn's train(on) */
static int net_training(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    if (lua_isnone(L, 2)) {
        lua_pushboolean(L, net->training);
        return 1;
    }
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    bp_net_set_training(net, lua_toboolean(L, 2));
    lua_settop(L, 1);
    return 1;
}

/* Freezes (frozen 1) or unfreezes every tensor that the arguments from 2
 * on pick: names, modules' names or globs, each a string or a list of
 * them; each must pick something. Returns the net. */
static int freeze(lua_State *L, int frozen) {
    bp_net *net = bp_lua_check_net(L, 1);
    int top = lua_gettop(L);
    if (top < 2) return luaL_error(L, "name a parameter, a module or a pattern");
    for (int a = 2; a <= top; a++) {
        int list = lua_type(L, a) == LUA_TTABLE;
        lua_Integer n = list ? luaL_len(L, a) : 1;
        for (lua_Integer i = 1; i <= n; i++) {
            if (list) lua_rawgeti(L, a, i);
            else lua_pushvalue(L, a);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_argerror(L, a, "names or patterns (strings) expected");
            bp_err e;
            if (bp_net_freeze(net, lua_tostring(L, -1), frozen, &e) < 0)
                luaL_argerror(L, a, e.msg);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, 1);
    return 1;
}

/* net:freeze(names...) -> net: those tensors untouched by training, their
 * gradients skipped where that saves work (requires_grad_(False));
 * net:unfreeze(names...) -> net: trained again */
static int net_freeze(lua_State *L) { return freeze(L, 1); }
static int net_unfreeze(lua_State *L) { return freeze(L, 0); }

/* net:is_graph() -> whether the net is a graph of modules (or a stack) */
static int net_is_graph(lua_State *L) {
    lua_pushboolean(L, bp_net_is_graph(bp_lua_check_net(L, 1)));
    return 1;
}

static const luaL_Reg net_methods[] = {{"param", net_param},
                                       {"grad", net_grad},
                                       {"set_param", net_set_param},
                                       {"params_list", net_params_list},
                                       {"training", net_training},
                                       {"is_graph", net_is_graph},
                                       {"freeze", net_freeze},
                                       {"unfreeze", net_unfreeze},
                                       {NULL, NULL}};

void bp_lua_open_params(lua_State *L) { bp_lua_add_methods(L, NET_TYPE, net_methods); }
