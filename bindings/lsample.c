/* lsample.c: net:sample, text generated from a trained sequence network
 * in C (engine/bp_sample.h), drawing from the run's generator (bp.seed's
 * stream, as bp.uniform), so the same seed gives the same text.
 *
 * The binding only carries the options and the ids across: the checks
 * and their messages are the engine's, so that a C caller and a script
 * get the same words. The defaults that depend on the network (top_k:
 * V, no filter; block: T, the whole input) come from
 * bp_net_sample_shape. Ids are 1..V, as the corpus's (corpus:decode
 * takes the result as it is). */
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>

#include "bp_sample.h"
#include "lbackprop.h"

static const char *const sample_options[] = {"start", "length", "temperature",
                                             "top_k", "block",  NULL};

/* The start ids of the options table at arg into a new userdata (left on
 * the stack); their count. */
static int check_start(lua_State *L, int arg, int **ids) {
    if (lua_getfield(L, arg, "start") != LUA_TTABLE)
        bp_lua_field_error(L, arg, "start", "table of ids");
    int t = lua_gettop(L);
    lua_Integer n = luaL_len(L, t);
    if (n > INT_MAX / 2) luaL_argerror(L, arg, "field 'start': too many ids");
    *ids = lua_newuserdatauv(L, sizeof(int) * (size_t)(n ? n : 1), 0);
    for (lua_Integer k = 1; k <= n; k++) {
        int isint;
        lua_rawgeti(L, t, k);
        lua_Integer id = lua_tointegerx(L, -1, &isint);
        if (!isint)
            luaL_argerror(L, arg,
                          lua_pushfstring(L,
                                          "field 'start': position %I holds a %s, "
                                          "not an id",
                                          k, luaL_typename(L, -1)));
        (*ids)[k - 1] = id < INT_MIN ? INT_MIN : id > INT_MAX ? INT_MAX : (int)id;
        lua_pop(L, 1);
    }
    return (int)n;
}

/* net:sample{start = ids, length = n [, temperature = 1, top_k = V,
 * block = T]} -> a list of n ids */
static int net_sample(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    bp_lua_check_options(L, 2, sample_options, 0);
    bp_err e;
    int T, V;
    if (bp_net_sample_shape(net, &T, &V, &e)) return luaL_error(L, "%s", e.msg);
    bp_sample_opts o = {1.0, V, T};
    if (lua_getfield(L, 2, "temperature") != LUA_TNIL) {
        if (!lua_isnumber(L, -1)) bp_lua_field_error(L, 2, "temperature", "number");
        o.temperature = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    o.top_k = bp_lua_opt_int(L, 2, "top_k", V, INT_MIN);
    o.block = bp_lua_opt_int(L, 2, "block", T, INT_MIN);
    if (lua_getfield(L, 2, "length") == LUA_TNIL)
        bp_lua_field_error(L, 2, "length", "integer");
    lua_pop(L, 1);
    int length = bp_lua_opt_int(L, 2, "length", 0, INT_MIN), *start;
    int n_start = check_start(L, 2, &start);
    net->stop = STATE(L)->stop; /* Ctrl-C between draws */
    int *out = lua_newuserdatauv(L, sizeof(int) * (size_t)(length > 0 ? length : 1), 0);
    if (bp_net_sample(net, out, start, n_start, length, &o, &STATE(L)->rng, &e))
        return luaL_error(L, "%s", e.msg);
    lua_createtable(L, length, 0);
    for (int j = 0; j < length; j++) {
        lua_pushinteger(L, out[j]);
        lua_rawseti(L, -2, j + 1);
    }
    return 1;
}

static const luaL_Reg net_methods[] = {{"sample", net_sample}, {NULL, NULL}};

void bp_lua_open_sample(lua_State *L) { bp_lua_add_methods(L, NET_TYPE, net_methods); }
