/* lvalues.c: Lua values carried into C and back, for every file of the module.
 *
 * Samples and batches (Lua tables of numbers) are read into a growable
 * buffer that the object owns, so that the hot path allocates nothing per
 * call; results go back as fresh tables shaped like what came in. The
 * checks of single arguments (a positive integer, a learning rate, a step,
 * a dtype) live here too, so that each is worded once. Every check raises
 * with luaL_argerror, which names the function and the argument. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbackprop.h"

/* ------------------------------------------------------------------------ */
/* Tables <-> matrices                                                       */

double *bp_lua_buf_reserve(lua_State *L, buf *b, size_t n) {
    if (n > b->cap) {
        double *v = realloc(b->v, sizeof(double) * n);
        if (!v) luaL_error(L, "out of memory");
        b->v = v;
        b->cap = n;
    }
    return b->v;
}

static double check_cell(lua_State *L, int arg, int row, int col, int batch) {
    int isnum;
    double v = lua_tonumberx(L, -1, &isnum);
    if (!isnum || lua_type(L, -1) != LUA_TNUMBER) {
        const char *tn = luaL_typename(L, -1);
        if (batch)
            return luaL_argerror(
                L, arg,
                lua_pushfstring(L, "row %d, column %d: number expected, got %s", row, col,
                                tn));
        return luaL_argerror(
            L, arg, lua_pushfstring(L, "element %d: number expected, got %s", col, tn));
    }
    lua_pop(L, 1);
    return v;
}

/* "inputs" for many, "input" for one (what is always a plural in -s). */
static const char *plural(const char *what, int n) {
    static char one[32];
    if (n != 1) return what;
    size_t len = strlen(what);
    if (len == 0 || len >= sizeof one) return what;
    memcpy(one, what, len - 1);
    one[len - 1] = 0;
    return one;
}

/* Reads argument arg as one sample (a table of W numbers, or a bare number
 * when W is 1) or a batch (a table of such rows) into b. Returns the number
 * of rows; *single says which form it was, so results can mirror it. `what`
 * names the columns in errors ("inputs", "targets"). */
int bp_lua_check_matrix(lua_State *L, int arg, int W, buf *b, int *single,
                        const char *what) {
    if (lua_type(L, arg) == LUA_TNUMBER && W == 1) {
        bp_lua_buf_reserve(L, b, 1)[0] = lua_tonumber(L, arg);
        *single = 1;
        return 1;
    }
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_Integer n = luaL_len(L, arg);
    if (n < 1) return luaL_argerror(L, arg, "empty table");
    if (lua_rawgeti(L, arg, 1) != LUA_TTABLE) { /* one sample */
        lua_pop(L, 1);
        if (n != W)
            return luaL_argerror(
                L, arg,
                lua_pushfstring(L, "expected %d %s, got %d", W, plural(what, W), (int)n));
        double *v = bp_lua_buf_reserve(L, b, (size_t)W);
        for (int c = 1; c <= W; c++) {
            lua_rawgeti(L, arg, c);
            v[c - 1] = check_cell(L, arg, 1, c, 0);
        }
        *single = 1;
        return 1;
    }
    lua_pop(L, 1);
    if (n > INT32_MAX / (W > 0 ? W : 1)) return luaL_argerror(L, arg, "batch too large");
    double *v = bp_lua_buf_reserve(L, b, (size_t)n * W);
    for (int r = 1; r <= n; r++) {
        if (lua_rawgeti(L, arg, r) != LUA_TTABLE)
            return luaL_argerror(L, arg,
                                 lua_pushfstring(L, "row %d: table expected, got %s", r,
                                                 luaL_typename(L, -1)));
        int rl = (int)luaL_len(L, -1);
        if (rl != W)
            return luaL_argerror(L, arg,
                                 lua_pushfstring(L, "row %d: expected %d %s, got %d", r,
                                                 W, plural(what, W), rl));
        for (int c = 1; c <= W; c++) {
            lua_rawgeti(L, -1, c);
            v[(size_t)(r - 1) * W + (c - 1)] = check_cell(L, arg, r, c, 1);
        }
        lua_pop(L, 1);
    }
    *single = 0;
    return (int)n;
}

/* Pushes B x W values as a flat table (single) or a table of rows. */
void bp_lua_push_matrix(lua_State *L, const double *v, int B, int W, int single) {
    if (single) {
        lua_createtable(L, W, 0);
        for (int c = 0; c < W; c++) {
            lua_pushnumber(L, v[c]);
            lua_rawseti(L, -2, c + 1);
        }
        return;
    }
    lua_createtable(L, B, 0);
    for (int r = 0; r < B; r++) {
        lua_createtable(L, W, 0);
        for (int c = 0; c < W; c++) {
            lua_pushnumber(L, v[(size_t)r * W + c]);
            lua_rawseti(L, -2, c + 1);
        }
        lua_rawseti(L, -2, r + 1);
    }
}

/* ------------------------------------------------------------------------ */
/* Single arguments                                                          */

int bp_lua_check_int(lua_State *L, int arg, const char *what) {
    int isint;
    lua_Integer v = lua_tointegerx(L, arg, &isint);
    if (!isint || lua_type(L, arg) != LUA_TNUMBER) {
        if (lua_type(L, arg) == LUA_TNUMBER)
            return luaL_argerror(L, arg,
                                 lua_pushfstring(L, "%s must be an integer, got %s", what,
                                                 lua_tostring(L, arg)));
        return luaL_typeerror(L, arg, "integer");
    }
    if (v < 1 || v > INT32_MAX)
        return luaL_argerror(
            L, arg, lua_pushfstring(L, "%s must be a positive integer, got %I", what, v));
    return (int)v;
}

double bp_lua_check_lr(lua_State *L, int arg) {
    double lr = luaL_checknumber(L, arg);
    if (isnan(lr))
        luaL_argerror(L, arg, "learning rate must be a finite number >= 0, got nan");
    if (lr < 0 || isinf(lr))
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "learning rate must be a finite number >= 0, got %s",
                            lua_tostring(L, arg)));
    return lr;
}

int64_t bp_lua_opt_step(lua_State *L, int arg) {
    if (lua_isnoneornil(L, arg)) return STATE(L)->step;
    int isint;
    lua_Integer s = lua_tointegerx(L, arg, &isint);
    if (!isint) return luaL_typeerror(L, arg, "integer step");
    return s;
}

int64_t bp_lua_at_fields(lua_State *L, int t, int arg, bp_metric_unit *unit) {
    int has_step = lua_getfield(L, t, "step") != LUA_TNIL;
    int has_epoch = lua_getfield(L, t, "epoch") != LUA_TNIL;
    if (has_step && has_epoch) luaL_argerror(L, arg, "give step or epoch, not both");
    *unit = has_epoch ? BP_UNIT_EPOCH : BP_UNIT_STEP;
    int64_t at = STATE(L)->step;
    if (has_step || has_epoch) {
        const char *field = has_epoch ? "epoch" : "step";
        lua_pushvalue(L, has_epoch ? -1 : -2);
        if (!lua_isinteger(L, -1)) bp_lua_field_error(L, arg, field, "integer");
        at = lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (has_epoch && at < 0)
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "field 'epoch': must be >= 0, got %I",
                                          (lua_Integer)at));
    }
    lua_pop(L, 2);
    return at;
}

int64_t bp_lua_opt_at(lua_State *L, int arg, bp_metric_unit *unit) {
    static const char *const known[] = {"step", "epoch", NULL};
    *unit = BP_UNIT_STEP;
    if (!lua_istable(L, arg)) return bp_lua_opt_step(L, arg);
    bp_lua_check_options(L, arg, known, 0);
    return bp_lua_at_fields(L, arg, arg, unit);
}

bp_dtype bp_lua_dtype_at_top(lua_State *L, int arg, const char *field) {
    const char *name = luaL_tolstring(L, -1, NULL);
    int t = bp_dtype_parse(name);
    if (t < 0 || lua_type(L, -2) != LUA_TSTRING)
        luaL_argerror(L, arg,
                      lua_pushfstring(L,
                                      "%s%s%sunknown dtype '%s' (expected "
                                      "float64 or float32)",
                                      field ? "field '" : "", field ? field : "",
                                      field ? "': " : "", name));
    lua_pop(L, 1); /* the string; the value stays */
    return (bp_dtype)t;
}

int bp_lua_fail(lua_State *L, const char *msg) {
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    return 2;
}
