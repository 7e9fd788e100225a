/* lmodel.c: networks saved and loaded, from Lua.
 *
 * net:save(path) and bp.load(path) move a whole network (architecture and
 * every weight, exactly) through the file format of engine/bp_save.h. A file
 * is the environment, not the program: a missing, unwritable, truncated or
 * corrupt file returns nil and a message naming it, as io.open does, and
 * only a wrong argument raises. */
#include <lauxlib.h>
#include <lua.h>

#include "bp_save.h"
#include "lbackprop.h"

/* net:save(path) -> true, or nil, message */
static int net_save(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    const char *path = luaL_checkstring(L, 2);
    bp_err e;
    if (net->n_layers == 0) return luaL_error(L, "the network has no layers: nothing to save");
    if (bp_net_save(net, path, &e)) {
        luaL_pushfail(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* bp.load(path) -> net, or nil, message */
static int l_load(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lnet *n = bp_lua_new_lnet(L);
    bp_err e;
    if (!(n->net = bp_net_load(path, &e))) {
        luaL_pushfail(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    return 1;
}

static const luaL_Reg funcs[] = {{"load", l_load}, {NULL, NULL}};
static const luaL_Reg net_methods[] = {{"save", net_save}, {NULL, NULL}};

void bp_lua_open_model(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, "backprop.state");
    lua_pushvalue(L, -2); /* the module table */
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, funcs, 1);
    lua_pop(L, 1);
    luaL_getmetatable(L, NET_TYPE);
    lua_getfield(L, -1, "__index");
    lua_pushvalue(L, -3);
    luaL_setfuncs(L, net_methods, 1);
    lua_pop(L, 3); /* __index, the metatable, the state */
}
