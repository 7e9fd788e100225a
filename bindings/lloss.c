/* lloss.c: backprop.loss, a criterion as in Torch7's nn.
 *
 * crit:forward(out, y) is the loss, crit:backward(out, y) its gradient with
 * respect to out: the lecture's dLoss/dout, for a script that runs the
 * backward pass by hand. The userdata owns the buffers its tables are read
 * into. Wherever the module takes a loss (train_step, net:fit, evaluate),
 * a name does as well as a criterion: bp_lua_check_loss_arg reads either. */
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

/* bp.loss(name) -> criterion */
static int l_loss_new(lua_State *L) {
    int kind = check_loss_name(L, 1);
    lloss *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->kind = kind;
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

/* Reads out and y (same shape) for a criterion; returns B, sets *O. */
static int loss_args(lua_State *L, lloss *c, int *O, int *single) {
    luaL_checktype(L, 2, LUA_TTABLE);
    int W = 1;
    if (lua_rawgeti(L, 2, 1) == LUA_TTABLE) W = (int)luaL_len(L, -1);
    else W = (int)luaL_len(L, 2);
    lua_pop(L, 1);
    if (W < 1) luaL_argerror(L, 2, "empty table");
    int s2;
    int B = bp_lua_check_matrix(L, 2, W, &c->out, single, "outputs");
    int By = bp_lua_check_matrix(L, 3, W, &c->y, &s2, "targets");
    if (By != B || s2 != *single)
        luaL_argerror(L, 3,
                      lua_pushfstring(L, "targets have %d rows, outputs %d", By, B));
    *O = W;
    return B;
}

/* crit:forward(out, y) -> loss, the mean over the batch */
static int loss_forward(lua_State *L) {
    lloss *c = check_loss(L, 1);
    int O, single;
    int B = loss_args(L, c, &O, &single);
    lua_pushnumber(L, bp_loss_forward(c->out.v, c->y.v, B, O, c->kind));
    return 1;
}

/* crit:backward(out, y) -> dLoss/dout, shaped like out */
static int loss_backward(lua_State *L) {
    lloss *c = check_loss(L, 1);
    int O, single;
    int B = loss_args(L, c, &O, &single);
    double *g = bp_lua_buf_reserve(L, &c->grad, (size_t)B * O);
    memset(g, 0, sizeof(double) * (size_t)B * O);
    bp_loss_backward(g, c->out.v, c->y.v, B, O, c->kind);
    bp_lua_push_matrix(L, g, B, O, single);
    return 1;
}

static int loss_tostring(lua_State *L) {
    lloss *c = luaL_checkudata(L, 1, LOSS_TYPE);
    if (c->kind < 0) lua_pushliteral(L, "loss (closed)");
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
    return c->kind;
}

static const luaL_Reg funcs[] = {{"loss", l_loss_new}, {NULL, NULL}};

void bp_lua_open_loss(lua_State *L) {
    bp_lua_new_type(L, LOSS_TYPE, loss_metamethods, loss_methods);
    bp_lua_add_funcs(L, funcs);
}
