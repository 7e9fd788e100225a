/* loptions.c: the options tables of the module's functions, checked once.
 *
 * A function that takes a table of options (bp.net, net:add, bp.optimizer
 * and its schedules, net:fit, the loaders, bp.progress) first hands it to
 * bp_lua_check_options with the names it knows: an unknown key, most often a
 * misspelt one ({weigths = "he"}), is an error that names it, where it
 * would otherwise be ignored without a word. Then it reads its fields
 * through the readers below, which word a wrong type the same way
 * everywhere: "field 'NAME': integer expected, got string".
 *
 * The message names the known options too ("unknown option 'dtyp'
 * (expected dtype)"), so that the fix is in the message. */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbackprop.h"

const char *bp_lua_push_unknown_option(lua_State *L, const char *key,
                                       const char *const known[]) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "unknown option '%s'", key);
    luaL_addvalue(&b);
    int n = 0;
    while (known[n]) n++;
    luaL_addstring(&b, " (expected ");
    for (int j = 0; j < n; j++) {
        if (j) luaL_addstring(&b, j == n - 1 ? " or " : ", ");
        luaL_addstring(&b, known[j]);
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

/* Whether the key at the top of the stack is one of known[] (or, with
 * BP_OPT_NAME, the integer 1). */
static int is_known(lua_State *L, const char *const known[], int flags) {
    if (lua_type(L, -1) != LUA_TSTRING)
        return (flags & BP_OPT_NAME) && lua_isinteger(L, -1) && lua_tointeger(L, -1) == 1;
    const char *key = lua_tostring(L, -1);
    for (int j = 0; known[j]; j++)
        if (strcmp(key, known[j]) == 0) return 1;
    return 0;
}

int bp_lua_unknown_option(lua_State *L, int t, const char *const known[], int flags) {
    t = lua_absindex(L, t);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (is_known(L, known, flags)) continue;
        /* The key as text (a number, a table: whatever was misplaced). */
        const char *key = luaL_tolstring(L, -1, NULL);
        bp_lua_push_unknown_option(L, key, known);
        lua_replace(L, -3); /* over the key; the text above goes */
        lua_pop(L, 1);
        return 1;
    }
    return 0;
}

void bp_lua_check_options(lua_State *L, int arg, const char *const known[], int flags) {
    if (bp_lua_unknown_option(L, arg, known, flags))
        luaL_argerror(L, arg, lua_tostring(L, -1));
}

/* ------------------------------------------------------------------------ */
/* Fields                                                                    */

int bp_lua_field_error(lua_State *L, int arg, const char *name, const char *expected) {
    return luaL_argerror(L, arg,
                         lua_pushfstring(L, "field '%s': %s expected, got %s", name,
                                         expected, luaL_typename(L, -1)));
}

int bp_lua_opt_bool(lua_State *L, int arg, const char *name, int def) {
    int t = lua_getfield(L, arg, name), v = def;
    if (t != LUA_TNIL) {
        if (t != LUA_TBOOLEAN) bp_lua_field_error(L, arg, name, "boolean");
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

int bp_lua_opt_int(lua_State *L, int arg, const char *name, int def, int lo) {
    int t = lua_getfield(L, arg, name), v = def;
    if (t != LUA_TNIL) {
        if (!lua_isinteger(L, -1)) bp_lua_field_error(L, arg, name, "integer");
        lua_Integer i = lua_tointeger(L, -1);
        if (i < lo || i > INT32_MAX)
            luaL_argerror(L, arg,
                          lua_pushfstring(L,
                                          "field '%s': must be an integer "
                                          ">= %d, got %I",
                                          name, lo, i));
        v = (int)i;
    }
    lua_pop(L, 1);
    return v;
}

const char *bp_lua_opt_str(lua_State *L, int arg, const char *name, const char *def,
                           char *buf, size_t n) {
    int t = lua_getfield(L, arg, name);
    const char *s = def;
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING) bp_lua_field_error(L, arg, name, "string");
        s = lua_tostring(L, -1);
    }
    if (s && strlen(s) >= n)
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "field '%s': at most %d characters", name, (int)n - 1));
    if (s) {
        memcpy(buf, s, strlen(s) + 1);
        s = buf;
    }
    lua_pop(L, 1);
    return s;
}

bp_dtype bp_lua_opt_dtype(lua_State *L, int arg) {
    bp_dtype t = BP_F64;
    if (lua_getfield(L, arg, "dtype") != LUA_TNIL)
        t = bp_lua_dtype_at_top(L, arg, "dtype");
    lua_pop(L, 1);
    return t;
}
