/* lstate.c: a network's recurrent state in Lua, for truncated
 * backpropagation through time: net:state, net:set_state,
 * net:state_grad, net:carry_state and net:reset_state over
 * bp_graph_state_* (engine/bp_graph.h); and net:set_lengths, sequences of
 * different lengths in one batch (bp_graph_set_lengths), which the
 * recurrent modules read beside their state.
 *
 * A state is a table {h = ..., c = ...} (an lstm's two parts), each part
 * layers x B x H as nested lists, PyTorch's h_n and c_n: state.h[l][b][j]
 * is layer l's value j of sequence b (from 1). Carrying in a loop goes
 * through net:carry_state, in C, without a table; the tables are for
 * looking, saving and handing a state from one network to another. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "bp_graph.h"
#include "lbackprop.h"

static const char *const part_names[] = {"h", "c"};

/* The node of the module named at arg (a recurrent one: else raises), its
 * state's shape, and *B the rows of its initial state (0: zeros). */
static int check_module(lua_State *L, bp_net *net, int arg, int *parts, int *layers,
                        int *H, int *B) {
    const char *name = luaL_checkstring(L, arg);
    int id = -1;
    for (int k = 0; net->graph && k < bp_graph_nodes(net->graph) && id < 0; k++)
        if (strcmp(bp_graph_node_name(net->graph, k), name) == 0) id = k;
    if (id < 0) luaL_argerror(L, arg, lua_pushfstring(L, "no module named '%s'", name));
    bp_err e;
    if ((*B = bp_graph_state_info(net->graph, id, parts, layers, H, &e)) < 0)
        luaL_argerror(L, arg, e.msg);
    return id;
}

/* Pushes parts x layers x B x H values as {h = {...}, c = {...}}. */
static void push_state(lua_State *L, const double *v, int parts, int layers, int B, int H) {
    lua_createtable(L, 0, parts);
    for (int p = 0; p < parts; p++) {
        lua_createtable(L, layers, 0);
        for (int l = 0; l < layers; l++) {
            bp_lua_push_matrix(L, v + ((size_t)p * layers + l) * B * H, B, H, 0);
            lua_rawseti(L, -2, l + 1);
        }
        lua_setfield(L, -2, part_names[p]);
    }
}

/* net:state(name [, "final" | "initial"]) -> the module's state after the
 * last forward's last step (the default), or the one it starts from (nil:
 * zeros). */
static int state_of(lua_State *L, bp_state which) {
    bp_net *net = bp_lua_check_net(L, 1);
    int parts, layers, H, B, id = check_module(L, net, 2, &parts, &layers, &H, &B);
    if (which == BP_STATE_FINAL) B = bp_graph_batch(net->graph);
    if (which == BP_STATE_INITIAL && B == 0) {
        lua_pushnil(L);
        return 1;
    }
    size_t n = (size_t)parts * layers * (B ? B : 1) * H;
    double *v = lua_newuserdatauv(L, sizeof(double) * n, 0);
    bp_err e;
    if (bp_graph_state_get(net->graph, id, which, v, &e) < 0) return luaL_error(L, "%s", e.msg);
    push_state(L, v, parts, layers, B, H);
    return 1;
}

static int net_state(lua_State *L) {
    static const char *const kinds[] = {"final", "initial", NULL};
    int initial = luaL_checkoption(L, 3, "final", kinds);
    return state_of(L, initial ? BP_STATE_INITIAL : BP_STATE_FINAL);
}

/* net:state_grad(name) -> dLoss/d(initial state) from the last backward */
static int net_state_grad(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    int parts, layers, H, B, id = check_module(L, net, 2, &parts, &layers, &H, &B);
    double *v = lua_newuserdatauv(L, sizeof(double) * (size_t)parts * layers * (B ? B : 1) * H, 0);
    bp_err e;
    if (bp_graph_state_get(net->graph, id, BP_STATE_GRAD, v, &e) < 0)
        return luaL_error(L, "%s", e.msg);
    push_state(L, v, parts, layers, B, H);
    return 1;
}

/* Part p of the state table at arg into b (parts x layers x B x H, part p's
 * place), each layer's rows read through rows; B from the first part (*B 0
 * on entry). Raises naming the part and the place. The buffers are the
 * net's (lnet's x and y), freed with it, so that a raise leaks nothing. */
static void read_part(lua_State *L, int arg, int p, int layers, int H, int *B, buf *b,
                      buf *rows) {
    const char *name = part_names[p];
    if (lua_getfield(L, arg, name) != LUA_TTABLE)
        luaL_argerror(L, arg, lua_pushfstring(L, "field '%s': expected a table of %d "
                                                 "layers, got %s",
                                              name, layers, luaL_typename(L, -1)));
    int t = lua_gettop(L);
    if (luaL_len(L, t) != layers)
        luaL_argerror(L, arg, lua_pushfstring(L, "field '%s': has %d layers, the module %d",
                                              name, (int)luaL_len(L, t), layers));
    for (int l = 0; l < layers; l++) {
        lua_rawgeti(L, t, l + 1);
        int single, n = bp_lua_check_matrix(L, lua_gettop(L), H, rows, &single, name);
        if (!*B) *B = n;
        if (single || n != *B)
            luaL_argerror(L, arg, lua_pushfstring(L, "field '%s': layer %d has %d rows, "
                                                     "expected %d",
                                                  name, l + 1, single ? 1 : n, *B));
        size_t at = ((size_t)p * layers + l) * (size_t)*B * H;
        double *v = bp_lua_buf_reserve(L, b, at + (size_t)*B * H);
        memcpy(v + at, rows->v, sizeof(double) * (size_t)*B * H);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* net:set_state(name, state | nil) -> net: the module starts every
 * forward from this state (copied; a state of B rows takes batches of B),
 * nil: from zeros. */
static int net_set_state(lua_State *L) {
    lnet *u = bp_lua_check_lnet(L, 1);
    bp_net *net = u->net;
    int parts, layers, H, B, id = check_module(L, net, 2, &parts, &layers, &H, &B);
    B = 0;
    bp_err e;
    if (lua_isnoneornil(L, 3)) {
        bp_graph_state_set(net->graph, id, NULL, 0, &e);
        lua_settop(L, 1);
        return 1;
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    for (int p = 0; p < parts; p++) read_part(L, 3, p, layers, H, &B, &u->x, &u->y);
    if (bp_graph_state_set(net->graph, id, u->x.v, B, &e)) return luaL_error(L, "%s", e.msg);
    lua_settop(L, 1);
    return 1;
}

/* net:carry_state() -> net: every recurrent module's final state of the
 * last forward becomes the state it starts from (its gradient cut there) */
static int net_carry_state(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    bp_err e;
    if (!net->graph) return luaL_error(L, "the network has no recurrent module");
    if (bp_graph_state_carry(net->graph, &e)) return luaL_error(L, "%s", e.msg);
    lua_settop(L, 1);
    return 1;
}

/* net:reset_state() -> net: every recurrent module starts from zeros */
static int net_reset_state(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    if (net->graph) bp_graph_state_reset(net->graph);
    lua_settop(L, 1);
    return 1;
}

/* net:set_lengths(lengths | nil) -> net: the next batches hold #lengths
 * sequences, sequence b lengths[b] steps long (bp_graph_set_lengths);
 * nil: every sequence whole. */
static int net_set_lengths(lua_State *L) {
    lnet *u = bp_lua_check_lnet(L, 1);
    bp_net *net = u->net;
    bp_err e;
    if (!net->graph) return luaL_error(L, "the network has no recurrent module");
    if (lua_isnoneornil(L, 2)) {
        bp_graph_set_lengths(net->graph, NULL, 0, &e);
        lua_settop(L, 1);
        return 1;
    }
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    if (n < 1 || n > INT32_MAX / 2)
        return luaL_argerror(L, 2, "expected a list of 1 or more lengths");
    int *len = lua_newuserdatauv(L, sizeof(int) * (size_t)n, 0);
    for (lua_Integer b = 1; b <= n; b++) {
        int isint;
        lua_rawgeti(L, 2, b);
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint)
            return luaL_argerror(L, 2, lua_pushfstring(L, "length %I is a %s, not an integer",
                                                       b, luaL_typename(L, -1)));
        len[b - 1] = v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int)v;
        lua_pop(L, 1);
    }
    if (bp_graph_set_lengths(net->graph, len, (int)n, &e)) return luaL_error(L, "%s", e.msg);
    lua_settop(L, 1);
    return 1;
}

static const luaL_Reg net_methods[] = {{"state", net_state},
                                       {"set_lengths", net_set_lengths},
                                       {"set_state", net_set_state},
                                       {"state_grad", net_state_grad},
                                       {"carry_state", net_carry_state},
                                       {"reset_state", net_reset_state},
                                       {NULL, NULL}};

void bp_lua_open_state(lua_State *L) { bp_lua_add_methods(L, NET_TYPE, net_methods); }
