/* lloss.c: backprop.loss, a criterion as in Torch7's nn, and the reading of
 * targets wherever the module takes them.
 *
 * crit:forward(out, y) is the loss, crit:backward(out, y) its gradient with
 * respect to out: the lecture's dLoss/dout, for a script that runs the
 * backward pass by hand. The userdata owns the buffers its tables are read
 * into, and the loss's parameter (bp.loss("huber", {delta = 0.5})).
 * Wherever the module takes a loss (train_step, net:fit, evaluate), a name
 * does as well as a criterion (its parameter the default): bp_lua_check_crit
 * reads either.
 *
 * Targets are O values a row, or for softmax_ce and nll a class label
 * 1..O a row, as PyTorch's cross_entropy takes either: the shape tells
 * them apart (one value a row where the net gives 2 or more), so every
 * script that gave O values still does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbackprop.h"

static lloss *check_loss(lua_State *L, int i) {
    lloss *c = luaL_checkudata(L, i, LOSS_TYPE);
    if (c->kind < 0) luaL_error(L, "attempt to use a closed loss");
    return c;
}

int bp_lua_loss_parse(lua_State *L, const char *name, int arg, const char *field) {
    int kind = bp_loss_parse(name);
    if (kind < 0)
        return luaL_argerror(L, arg,
                             lua_pushfstring(L, "%s%s%sunknown loss '%s' (expected %s)",
                                             field ? "field '" : "", field ? field : "",
                                             field ? "': " : "", name,
                                             bp_loss_expected()));
    return kind;
}

static int check_loss_name(lua_State *L, int arg) {
    return bp_lua_loss_parse(L, luaL_checkstring(L, arg), arg, NULL);
}

/* The options of bp.loss(name, opts) at 2: the loss's parameter if it has
 * one (finite and > 0), nothing else; returns it, 0 when absent. */
static double loss_options(lua_State *L, int kind) {
    if (lua_isnoneornil(L, 2)) return 0;
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *param = bp_loss_param(kind, NULL);
    const char *const known[] = {param, NULL};
    if (!param) {
        lua_pushnil(L);
        if (lua_next(L, 2))
            luaL_argerror(L, 2,
                          lua_pushfstring(L, "unknown option '%s' (%s takes none)",
                                          luaL_tolstring(L, -2, NULL),
                                          bp_loss_name(kind)));
        return 0;
    }
    bp_lua_check_options(L, 2, known, 0);
    int t = lua_getfield(L, 2, param);
    if (t == LUA_TNIL) return 0;
    if (t != LUA_TNUMBER) bp_lua_field_error(L, 2, param, "number");
    double v = lua_tonumber(L, -1);
    if (!(v > 0 && v < HUGE_VAL))
        luaL_argerror(L, 2,
                      lua_pushfstring(L,
                                      "field '%s': must be a finite number > 0, got %s",
                                      param, luaL_tolstring(L, -1, NULL)));
    lua_pop(L, 1);
    return v;
}

/* bp.loss(name [, {delta =}]) -> criterion */
static int l_loss_new(lua_State *L) {
    if (lua_type(L, 1) == LUA_TTABLE) return bp_lua_script_loss_new(L);
    int kind = check_loss_name(L, 1);
    double param = loss_options(L, kind);
    lloss *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->param = param;
    luaL_setmetatable(L, LOSS_TYPE);
    return 1;
}

static int loss_close(lua_State *L) {
    lloss *c = luaL_checkudata(L, 1, LOSS_TYPE);
    if (STATE(L)->checked_loss == c) STATE(L)->checked_loss = NULL;
    free(c->out.v);
    free(c->y.v);
    free(c->grad.v);
    memset(c, 0, sizeof *c);
    c->kind = -1;
    return 0;
}

int bp_lua_labels_at(lua_State *L, int arg, const bp_crit *c, int O, int B, int single) {
    if (!bp_loss_takes_labels(c->loss) || O < 2) return 0;
    if (lua_type(L, arg) == LUA_TNUMBER) return single;
    if (lua_type(L, arg) != LUA_TTABLE) return 0;
    lua_Integer n = luaL_len(L, arg);
    int rows = lua_rawgeti(L, arg, 1) == LUA_TTABLE, w = rows ? (int)luaL_len(L, -1) : 0;
    lua_pop(L, 1);
    if (rows) return w == 1;
    /* a list of numbers: one sample's {c}, or a batch's B classes (never a
     * batch's O values: a list is one row, and a batch has B of them) */
    return single ? n == 1 : n == B;
}

/* The class numbers of the list at arg (or the one number there) into b;
 * returns how many: the rows, which the caller holds to its B. */
static int read_labels(lua_State *L, int arg, buf *b) {
    if (lua_type(L, arg) == LUA_TNUMBER) {
        bp_lua_buf_reserve(L, b, 1)[0] = lua_tonumber(L, arg);
        return 1;
    }
    lua_Integer n = luaL_len(L, arg);
    if (n > INT32_MAX) luaL_argerror(L, arg, "batch too large");
    int B = (int)n;
    double *v = bp_lua_buf_reserve(L, b, (size_t)B);
    for (int r = 1; r <= B; r++) {
        int t = lua_rawgeti(L, arg, r);
        if (t == LUA_TTABLE) {
            lua_rawgeti(L, -1, 1);
            lua_replace(L, -2);
            t = lua_type(L, -1);
        }
        if (t != LUA_TNUMBER)
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "row %d: class label expected, got %s", r,
                                          luaL_typename(L, -1)));
        v[r - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return B;
}

void bp_lua_check_targets(lua_State *L, int arg, bp_crit *c, int O, int B, int single,
                          buf *b) {
    int sy, By;
    if (bp_lua_labels_at(L, arg, c, O, B, single)) {
        By = read_labels(L, arg, b);
        c->labels = 1;
    } else {
        By = bp_lua_check_matrix(L, arg, O, b, &sy, "targets");
    }
    if (By != B)
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "expected %d rows of targets, as the inputs, got %d", B,
                            By));
}

/* Reads out and y for a criterion into its buffers: out's rows give B and
 * O, y is O values a row or (for softmax_ce and nll) a class label a row,
 * checked; returns c's criterion, labels set as y is. */
static bp_crit loss_args(lua_State *L, lloss *c, int *B, int *O, int *single) {
    luaL_checktype(L, 2, LUA_TTABLE);
    int W = 1;
    if (lua_rawgeti(L, 2, 1) == LUA_TTABLE) W = (int)luaL_len(L, -1);
    else W = (int)luaL_len(L, 2);
    lua_pop(L, 1);
    if (W < 1) luaL_argerror(L, 2, "empty table");
    *B = bp_lua_check_matrix(L, 2, W, &c->out, single, "outputs");
    *O = W;
    bp_crit crit = {.loss = c->kind, .param = c->param};
    int s2 = *single, By;
    if (bp_lua_labels_at(L, 3, &crit, W, *B, *single)) {
        By = read_labels(L, 3, &c->y);
        crit.labels = 1;
    } else {
        By = bp_lua_check_matrix(L, 3, W, &c->y, &s2, "targets");
    }
    bp_err e;
    if (By == *B && crit.labels && bp_crit_check(&crit, c->y.v, *B, W, &e))
        luaL_error(L, "%s", e.msg);
    if (By != *B || s2 != *single)
        luaL_argerror(L, 3,
                      lua_pushfstring(L, "targets have %d rows, outputs %d", By, *B));
    return crit;
}

/* crit:forward(out, y) -> loss, the mean over the batch */
static int loss_forward(lua_State *L) {
    lloss *c = check_loss(L, 1);
    if (c->script) return bp_lua_script_loss_call(L, 0);
    int B, O, single;
    bp_crit crit = loss_args(L, c, &B, &O, &single);
    lua_pushnumber(L, bp_loss_forward_crit(c->out.v, c->y.v, B, O, crit));
    return 1;
}

/* crit:backward(out, y) -> dLoss/dout, shaped like out */
static int loss_backward(lua_State *L) {
    lloss *c = check_loss(L, 1);
    if (c->script) return bp_lua_script_loss_call(L, 1);
    int B, O, single;
    bp_crit crit = loss_args(L, c, &B, &O, &single);
    double *g = bp_lua_buf_reserve(L, &c->grad, (size_t)B * O);
    memset(g, 0, sizeof(double) * (size_t)B * O);
    bp_loss_backward_crit(g, c->out.v, c->y.v, B, O, crit);
    bp_lua_push_matrix(L, g, B, O, single);
    return 1;
}

/* "loss huber" or, with a parameter given, "loss huber (delta 0.5)" */
static int loss_tostring(lua_State *L) {
    lloss *c = luaL_checkudata(L, 1, LOSS_TYPE);
    const char *param = c->kind < 0 ? NULL : bp_loss_param(c->kind, NULL);
    if (c->kind < 0) lua_pushliteral(L, "loss (closed)");
    else if (c->script) lua_pushliteral(L, "loss (Lua)");
    else if (param && c->param != 0)
        lua_pushfstring(L, "loss %s (%s %f)", bp_loss_name(c->kind), param, c->param);
    else lua_pushfstring(L, "loss %s", bp_loss_name(c->kind));
    return 1;
}

static const luaL_Reg loss_methods[] = {{"forward", loss_forward},
                                        {"backward", loss_backward},
                                        {"close", loss_close},
                                        {NULL, NULL}};

static const luaL_Reg loss_metamethods[] = {
    {"__index", NULL}, /* the methods, set by bp_lua_new_type */
    {"__gc", loss_close},
    {"__close", loss_close},
    {"__tostring", loss_tostring},
    {NULL, NULL}};

int bp_lua_check_loss_arg(lua_State *L, int arg) {
    if (lua_type(L, arg) == LUA_TSTRING) return check_loss_name(L, arg);
    lloss *c = luaL_testudata(L, arg, LOSS_TYPE);
    if (!c) return luaL_typeerror(L, arg, "loss name or " LOSS_TYPE);
    if (c->kind < 0) return luaL_error(L, "attempt to use a closed loss");
    if (c->script)
        return luaL_argerror(L, arg, "a loss written in Lua cannot be used here");
    return c->kind;
}

bp_crit bp_lua_check_crit(lua_State *L, int arg) {
    bp_crit c = {.loss = bp_lua_check_loss_arg(L, arg)};
    if (lua_type(L, arg) == LUA_TUSERDATA)
        c.param = ((const lloss *)lua_touserdata(L, arg))->param;
    return c;
}

static const luaL_Reg funcs[] = {{"loss", l_loss_new}, {NULL, NULL}};

void bp_lua_open_loss(lua_State *L) {
    bp_lua_new_type(L, LOSS_TYPE, loss_metamethods, loss_methods);
    bp_lua_add_funcs(L, funcs);
}
