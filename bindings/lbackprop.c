/* lbackprop.c: the Lua module `backprop`, as Lua's own liolib.c binds files.
 *
 * Three userdata types, each with one metatable: backprop.net (a bp_net plus
 * the scratch buffers that carry Lua tables into C without an allocation per
 * call), backprop.loss (a criterion, as in Torch7's nn) and
 * backprop.optimizer. Data sets are in ldata.c. Each userdata is
 * created empty before its C object is allocated, so an allocation failure
 * leaves nothing to leak, and one close function serves __gc, __close and
 * :close(), safe to call twice.
 *
 * Two error channels: a wrong argument is a programming error and raises
 * (luaL_argerror names the function and the argument); a failure of the
 * environment (the run log's database) returns nil, message.
 *
 * Every function of the module and every method shares one upvalue, the
 * module's state (generator, run log, parameters' bookkeeping), so the hot
 * path (net:train_step) never looks anything up in a table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_lua.h"
#include "bp_progress.h"
#include "bp_util.h"
#include "lbackprop.h"

#define PARAMS_KEY "backprop.params"    /* registry: key -> given string */
#define READ_KEY "backprop.params_read" /* registry: key -> true once read */

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
/* backprop.loss: a criterion                                                */

typedef struct lloss {
    int kind; /* a bp_loss, or -1 once closed */
    buf out, y, grad;
} lloss;

static lloss *check_loss(lua_State *L, int i) {
    lloss *c = luaL_checkudata(L, i, LOSS_TYPE);
    if (c->kind < 0) luaL_error(L, "attempt to use a closed loss");
    return c;
}

static int check_loss_name(lua_State *L, int arg) {
    const char *name = luaL_checkstring(L, arg);
    int kind = bp_loss_parse(name);
    if (kind < 0)
        return luaL_argerror(
            L, arg,
            lua_pushfstring(
                L, "unknown loss '%s' (expected half_se, mse, bce or softmax_ce)", name));
    return kind;
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
    {"__index", NULL}, /* set to the methods table below */
    {"__gc", loss_close},
    {"__close", loss_close},
    {"__tostring", loss_tostring},
    {NULL, NULL}};

/* ------------------------------------------------------------------------ */
/* backprop.net                                                              */

lnet *bp_lua_check_lnet(lua_State *L, int i) {
    lnet *n = luaL_checkudata(L, i, NET_TYPE);
    if (!n->net) luaL_error(L, "attempt to use a closed net");
    return n;
}

bp_net *bp_lua_check_net(lua_State *L, int i) { return bp_lua_check_lnet(L, i)->net; }

static int net_close(lua_State *L) {
    lnet *n = luaL_checkudata(L, 1, NET_TYPE);
    if (STATE(L)->checked_net == n) STATE(L)->checked_net = NULL;
    bp_net_free(n->net);
    free(n->x.v);
    free(n->y.v);
    memset(n, 0, sizeof *n);
    return 0;
}

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

lnet *bp_lua_new_lnet(lua_State *L) {
    lnet *n = lua_newuserdatauv(L, sizeof *n, 0);
    memset(n, 0, sizeof *n);
    luaL_setmetatable(L, NET_TYPE);
    return n;
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

/* bp.net(inputs [, {dtype = "float64" | "float32"}]) -> an empty network
 * taking `inputs` values per sample, computing in dtype (float64 default) */
static int l_net_new(lua_State *L) {
    int inputs = bp_lua_check_int(L, 1, "number of inputs");
    int dtype = BP_F64;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "dtype"))
                return luaL_argerror(L, 2,
                                     lua_pushfstring(L,
                                                     "unknown option '%s' "
                                                     "(expected dtype)",
                                                     luaL_tolstring(L, -1, NULL)));
        }
        if (lua_getfield(L, 2, "dtype") != LUA_TNIL)
            dtype = bp_lua_dtype_at_top(L, 2, NULL);
        lua_settop(L, 1);
    }
    lnet *n = bp_lua_new_lnet(L);
    bp_err e;
    n->net = bp_net_new_dtype(inputs, dtype, &e);
    if (!n->net) return luaL_error(L, "%s", e.msg);
    return 1;
}

/* An initialisation spec: a number (constant), a scheme name, {"name", a, b},
 * or explicit values (rows of weights, or a list of biases). */
static void apply_init(lua_State *L, int arg, bp_net *net, int l, char what) {
    bp_layer *Lr = &net->layers[l - 1];
    state *st = STATE(L);
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
            if (k < 0 || k == BP_INIT_UNIFORM || k == BP_INIT_NORMAL) {
                luaL_error(L,
                           "bad option '%s' to 'add' (unknown initialisation '%s'; "
                           "expected constant, xavier, xavier_normal, he, he_uniform, "
                           "or {\"uniform\", low, high}, {\"normal\", mean, std})",
                           field, s);
                return;
            }
            rc = bp_net_init(net, l, what, k, 0, 0, &st->rng, &e);
            break;
        }
        case LUA_TTABLE: {
            int t1 = lua_rawgeti(L, arg, 1);
            if (t1 == LUA_TSTRING) { /* {"uniform", a, b} */
                const char *s = lua_tostring(L, -1);
                int k = bp_init_parse(s);
                lua_pop(L, 1);
                if (k < 0) {
                    luaL_error(L,
                               "bad option '%s' to 'add' (unknown initialisation '%s')",
                               field, s);
                    return;
                }
                lua_rawgeti(L, arg, 2);
                lua_rawgeti(L, arg, 3);
                double a = luaL_optnumber(L, -2, 0), b = luaL_optnumber(L, -1, 0);
                lua_pop(L, 2);
                rc = bp_net_init(net, l, what, k, a, b, &st->rng, &e);
                break;
            }
            lua_pop(L, 1);
            /* Explicit values, in the lecture's order: w[n][i], b[n]. */
            int O = Lr->O, I = Lr->I;
            if ((int)luaL_len(L, arg) != O) {
                luaL_error(L, "bad option '%s' to 'add' (expected %d rows, got %d)",
                           field, O, (int)luaL_len(L, arg));
                return;
            }
            for (int n = 1; n <= O; n++) {
                if (what == 'b') {
                    if (lua_rawgeti(L, arg, n) != LUA_TNUMBER) {
                        luaL_error(L,
                                   "bad option 'bias' to 'add' (element %d: number "
                                   "expected, got %s)",
                                   n, luaL_typename(L, -1));
                        return;
                    }
                    bp_layer_set(Lr, BP_FIELD_B, (size_t)(n - 1), lua_tonumber(L, -1));
                    lua_pop(L, 1);
                    continue;
                }
                if (lua_rawgeti(L, arg, n) != LUA_TTABLE || (int)luaL_len(L, -1) != I) {
                    luaL_error(L,
                               "bad option 'weights' to 'add' (row %d: expected a "
                               "table of %d numbers)",
                               n, I);
                    return;
                }
                for (int i = 1; i <= I; i++) {
                    if (lua_rawgeti(L, -1, i) != LUA_TNUMBER) {
                        luaL_error(L,
                                   "bad option 'weights' to 'add' (row %d, column %d: "
                                   "number expected, got %s)",
                                   n, i, luaL_typename(L, -1));
                        return;
                    }
                    bp_layer_set(Lr, BP_FIELD_W, (size_t)(n - 1) * I + (i - 1),
                                 lua_tonumber(L, -1));
                    lua_pop(L, 1);
                }
                lua_pop(L, 1);
            }
            return;
        }
        default:
            luaL_error(L,
                       "bad option '%s' to 'add' (number, string or table expected, "
                       "got %s)",
                       field, luaL_typename(L, arg));
            return;
    }
    if (rc) luaL_error(L, "bad option '%s' to 'add' (%s)", field, e.msg);
}

/* net:add(outputs [, activation [, {weights=, bias=, alpha=}]]) -> net */
static int net_add(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    int outputs = bp_lua_check_int(L, 2, "number of neurons");
    const char *an = luaL_optstring(L, 3, "identity");
    int act = bp_act_parse(an);
    if (act < 0)
        return luaL_argerror(
            L, 3,
            lua_pushfstring(
                L,
                "unknown activation '%s' (expected identity, sigmoid, tanh, relu, "
                "leaky_relu or softmax)",
                an));
    double alpha = 0.01;
    int opts = lua_isnoneornil(L, 4) ? 0 : 4;
    if (opts) {
        luaL_checktype(L, 4, LUA_TTABLE);
        if (lua_getfield(L, 4, "alpha") != LUA_TNIL) alpha = luaL_checknumber(L, -1);
        lua_pop(L, 1);
    }
    bp_err e;
    if (bp_net_add(net, outputs, act, alpha, &e)) return luaL_error(L, "%s", e.msg);
    int l = net->n_layers;
    /* Defaults: Xavier for the saturating activations, He for the ReLUs
     * (the schemes their authors derived them for), biases at zero. */
    int relu = act == BP_ACT_RELU || act == BP_ACT_LEAKY_RELU;
    bp_net_init(net, l, 'w', relu ? BP_INIT_HE : BP_INIT_XAVIER, 0, 0, &STATE(L)->rng,
                NULL);
    if (opts) {
        if (lua_getfield(L, 4, "weights") != LUA_TNIL)
            apply_init(L, lua_gettop(L), net, l, 'w');
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
    if (n->net->n_layers == 0)
        return luaL_error(L, "the network has no layers: call net:add first");
    int B = bp_lua_check_matrix(L, 2, n->net->inputs, &n->x, &n->single, "inputs");
    bp_err e;
    const double *out = bp_net_forward(n->net, n->x.v, B, &e);
    if (!out) return luaL_error(L, "%s", e.msg);
    bp_lua_push_matrix(L, out, B, bp_net_outputs(n->net), n->single);
    return 1;
}

/* net:backward(dout): dLoss/d(output) in, every gradient filled. The
 * gradients are zeroed first (pass true as a second argument to add into
 * them instead, as Torch7's accGradParameters does). */
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
    if (bp_net_backward(n->net, n->y.v, &e)) return luaL_error(L, "%s", e.msg);
    return 0;
}

static double check_lr(lua_State *L, int arg) {
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

/* net:update(lr): w_new = w_old - lr * dLoss/dw, every weight and bias */
static int net_update(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    double lr = check_lr(L, 2);
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

/* The loss argument of train_step: a criterion or a loss name. */
int bp_lua_check_loss_arg(lua_State *L, int arg) {
    if (lua_type(L, arg) == LUA_TSTRING) return check_loss_name(L, arg);
    lloss *c = luaL_testudata(L, arg, LOSS_TYPE);
    if (!c) return luaL_typeerror(L, arg, "loss name or " LOSS_TYPE);
    if (c->kind < 0) return luaL_error(L, "attempt to use a closed loss");
    return c->kind;
}

/* A NaN or infinite loss ends the script: nothing after it can mean
 * anything. The host sees the flag and marks the run diverged. */
int bp_lua_diverge(lua_State *L, const char *name, double v, int64_t step) {
    STATE(L)->diverged = 1;
    return luaL_error(L,
                      "%s is %s at step %I: the run diverged (try a smaller "
                      "learning rate)",
                      name,
                      isnan(v) ? "nan"
                      : v > 0  ? "inf"
                               : "-inf",
                      (lua_Integer)step);
}

/* The common case of bp_lua_check_matrix, fast: one sample as a plain table
 * (no metatable, so no __len to ask) of W numbers, into b, which already has
 * room: a call to learn the type, one for the metatable, one for the length,
 * and for each value one to push it and one to read it. Returns 0 for
 * anything else, having only read: the general reader then takes over and
 * raises its errors. Leaves up to W + 1 values on the stack, for the caller
 * to pop with those of the next call (a lua_settop costs as much as a read):
 * with W <= 8, two calls stay within the LUA_MINSTACK slots a C function
 * may use without lua_checkstack. */
static inline int read_sample(lua_State *L, int arg, int W, buf *b) {
    if (W > 8 || b->cap < (size_t)W || lua_type(L, arg) != LUA_TTABLE) return 0;
    int ok = !lua_getmetatable(L, arg) && lua_rawlen(L, arg) == (size_t)W;
    for (int c = 1; ok && c <= W; c++)
        if ((ok = lua_rawgeti(L, arg, c) == LUA_TNUMBER))
            b->v[c - 1] = lua_tonumberx(L, -1, NULL);
    return ok;
}

/* The arguments of train_step and train_steps: the net (returned), x and y
 * into its buffers (*B rows, *single: one sample), the loss kind and the
 * update (*opt, or *lr when *opt is NULL). The first three checks pass on a
 * pointer compare or a plain table read when the call is the same as the
 * last one (the lecture's loop), so the step is most of the call's cost. */
static lnet *step_args(lua_State *L, state *st, int *B, int *single, int *kind,
                       bp_optim **opt, double *lr) {
    lnet *n = lua_touserdata(L, 1);
    if (!n || n != st->checked_net) {
        n = bp_lua_check_lnet(L, 1);
        st->checked_net = n;
    }
    bp_net *net = n->net;
    if (net->n_layers == 0)
        luaL_error(L, "the network has no layers: call net:add first");
    int top = lua_gettop(L), O = net->layers[net->n_layers - 1].O;
    int fast = read_sample(L, 2, net->inputs, &n->x) && read_sample(L, 3, O, &n->y);
    lua_settop(L, top);
    if (fast) {
        *B = *single = 1;
    } else {
        int sy;
        *B = bp_lua_check_matrix(L, 2, net->inputs, &n->x, single, "inputs");
        int By = bp_lua_check_matrix(L, 3, O, &n->y, &sy, "targets");
        if (By != *B)
            luaL_argerror(
                L, 3,
                lua_pushfstring(L, "expected %d rows of targets, as the inputs, got %d",
                                *B, By));
    }
    const lloss *c = lua_touserdata(L, 4);
    if (c && c == st->checked_loss) {
        *kind = c->kind;
    } else {
        *kind = bp_lua_check_loss_arg(L, 4);
        if (lua_type(L, 4) == LUA_TUSERDATA) st->checked_loss = lua_touserdata(L, 4);
    }
    /* A number (or a numeric string, as luaL_checknumber takes) is a
     * learning rate; anything else must be an optimizer. */
    int isnum;
    *lr = lua_tonumberx(L, 5, &isnum);
    *opt = NULL;
    if (!isnum || !(*lr >= 0 && *lr < INFINITY)) {
        *opt = bp_lua_test_optim(L, 5);
        *lr = *opt ? 0 : check_lr(L, 5);
    }
    return n;
}

/* One step of n->net on the x and y in its buffers; raises on failure. */
static double step(lua_State *L, state *st, lnet *n, int B, int kind, bp_optim *opt,
                   double lr) {
    bp_err e;
    double loss;
    int rc = opt ? bp_net_compute_grads(n->net, n->x.v, n->y.v, B, kind, &loss, &e) ||
                       bp_optim_step(opt, n->net, &e)
                 : bp_net_train_step(n->net, n->x.v, n->y.v, B, kind, lr, &loss, &e);
    if (rc) luaL_error(L, "%s", e.msg);
    n->steps++;
    st->step++;
    bp_progress_step(st->progress, st->step, loss);
    if (n->log_name[0]) bp_lua_log_metric(L, n->log_name, n->steps, loss);
    if (!isfinite(loss)) bp_lua_diverge(L, "loss", loss, n->steps);
    return loss;
}

/* net:train_step(x, y, loss, lr | optimizer) -> loss: forward, loss,
 * backward, and the update: gradient descent with lr, or the optimizer's. */
static int net_train_step(lua_State *L) {
    state *st = STATE(L);
    int B, single, kind;
    bp_optim *opt;
    double lr;
    lnet *n = step_args(L, st, &B, &single, &kind, &opt, &lr);
    double loss = step(L, st, n, B, kind, opt, lr);
    n->single = single;
    lua_pushnumber(L, loss);
    return 1;
}

/* net:train_steps(x, y, loss, lr | optimizer, count) -> the last loss:
 * count steps on the same x and y, run in C (the lecture's loop without a
 * Lua call per step); each step is train_step's, logging included. */
static int net_train_steps(lua_State *L) {
    state *st = STATE(L);
    int B, single, kind;
    bp_optim *opt;
    double lr;
    lnet *n = step_args(L, st, &B, &single, &kind, &opt, &lr);
    lua_Integer count = luaL_checkinteger(L, 6);
    luaL_argcheck(L, count >= 1, 6, "count must be >= 1");
    const volatile sig_atomic_t *stop = st->stop;
    double loss = 0;
    for (lua_Integer k = 0; k < count; k++) {
        if (stop && *stop) return luaL_error(L, "interrupted");
        loss = step(L, st, n, B, kind, opt, lr);
    }
    n->single = single;
    lua_pushnumber(L, loss);
    return 1;
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
    if (l > net->n_layers)
        luaL_argerror(
            L, arg, lua_pushfstring(L, "layer %d out of range 1..%d", l, net->n_layers));
    return l;
}

/* Indices for weight/bias accessors, checked with the engine's messages:
 * the layer of w_{l,n,i} (weight) or b_{l,n}, and the place in its array. */
static bp_layer *check_param(lua_State *L, int weight, size_t *k) {
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
    return &net->layers[l - 1];
}

/* Pushes one number of the array f (W, b, dW or db) named by the indices. */
static int push_param(lua_State *L, bp_field f) {
    size_t k;
    bp_layer *Lr = check_param(L, f == BP_FIELD_W || f == BP_FIELD_DW, &k);
    lua_pushnumber(L, bp_layer_get(Lr, f, k));
    return 1;
}

static int net_weight(lua_State *L) { return push_param(L, BP_FIELD_W); }
static int net_bias(lua_State *L) { return push_param(L, BP_FIELD_B); }
static int net_grad_weight(lua_State *L) { return push_param(L, BP_FIELD_DW); }
static int net_grad_bias(lua_State *L) { return push_param(L, BP_FIELD_DB); }

static int net_set_weight(lua_State *L) {
    double v = luaL_checknumber(L, 5);
    size_t k;
    bp_layer *Lr = check_param(L, 1, &k);
    bp_layer_set(Lr, BP_FIELD_W, k, v);
    return 0;
}
static int net_set_bias(lua_State *L) {
    double v = luaL_checknumber(L, 4);
    size_t k;
    bp_layer *Lr = check_param(L, 0, &k);
    bp_layer_set(Lr, BP_FIELD_B, k, v);
    return 0;
}

/* Pushes rows x cols values of layer Lr's array f as bp_lua_push_matrix
 * does, converted to doubles whatever the dtype. */
static void push_field(lua_State *L, const bp_layer *Lr, bp_field f, int rows, int cols,
                       int single) {
    if (Lr->dtype == BP_F64) {
        bp_lua_push_matrix(L, Lr->mem[f], rows, cols, single);
        return;
    }
    lua_createtable(L, single ? cols : rows, 0);
    for (int r = 0; r < rows; r++) {
        if (!single) lua_createtable(L, cols, 0);
        for (int c = 0; c < cols; c++) {
            lua_pushnumber(L, bp_layer_get(Lr, f, (size_t)r * cols + c));
            lua_rawseti(L, -2, c + 1);
        }
        if (!single) lua_rawseti(L, -2, r + 1);
    }
}

/* net:weights(l) -> O rows of I weights; net:biases(l) -> O biases.
 * net:grad_weights(l), net:grad_biases(l) likewise for dLoss/dw, dLoss/db. */
static int push_layer_params(lua_State *L, int which) {
    bp_net *net = bp_lua_check_net(L, 1);
    bp_layer *Lr = &net->layers[check_layer(L, net, 2) - 1];
    switch (which) {
        case 0: push_field(L, Lr, BP_FIELD_W, Lr->O, Lr->I, 0); break;
        case 1: push_field(L, Lr, BP_FIELD_B, 1, Lr->O, 1); break;
        case 2: push_field(L, Lr, BP_FIELD_DW, Lr->O, Lr->I, 0); break;
        default: push_field(L, Lr, BP_FIELD_DB, 1, Lr->O, 1); break;
    }
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
    bp_layer *Lr = &net->layers[check_layer(L, net, 2) - 1];
    if (net->B == 0) return luaL_error(L, "nothing to show: run net:forward first");
    static const bp_field f[] = {BP_FIELD_H, BP_FIELD_O, BP_FIELD_DH, BP_FIELD_DOUT};
    push_field(L, Lr, f[which], net->B, Lr->O, n->single);
    return 1;
}
static int net_h(lua_State *L) { return push_kept(L, 0); }
static int net_o(lua_State *L) { return push_kept(L, 1); }
static int net_grad_h(lua_State *L) { return push_kept(L, 2); }
static int net_grad_o(lua_State *L) { return push_kept(L, 3); }

/* net:layer(l) -> {inputs=, outputs=, activation=, alpha=} */
static int net_layer(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    bp_layer *Lr = &net->layers[check_layer(L, net, 2) - 1];
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, Lr->I);
    lua_setfield(L, -2, "inputs");
    lua_pushinteger(L, Lr->O);
    lua_setfield(L, -2, "outputs");
    lua_pushstring(L, bp_act_name(Lr->act));
    lua_setfield(L, -2, "activation");
    if (Lr->act == BP_ACT_LEAKY_RELU) {
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
    lua_pushinteger(L, bp_lua_check_net(L, 1)->n_layers);
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
    luaL_pushresult(&b);
    return 1;
}

static const luaL_Reg net_methods[] = {{"add", net_add},
                                       {"forward", net_forward},
                                       {"backward", net_backward},
                                       {"update", net_update},
                                       {"zero_grad", net_zero_grad},
                                       {"train_step", net_train_step},
                                       {"train_steps", net_train_steps},
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

/* ------------------------------------------------------------------------ */
/* backprop.optimizer                                                        */

typedef struct loptim {
    bp_optim *o; /* NULL once closed */
} loptim;

static bp_optim *check_optim(lua_State *L, int i) {
    loptim *p = luaL_checkudata(L, i, OPTIM_TYPE);
    if (!p->o) luaL_error(L, "attempt to use a closed optimizer");
    return p->o;
}

bp_optim *bp_lua_test_optim(lua_State *L, int i) {
    loptim *p = luaL_testudata(L, i, OPTIM_TYPE);
    if (p && !p->o) luaL_error(L, "attempt to use a closed optimizer");
    return p ? p->o : NULL;
}

static int optim_close(lua_State *L) {
    loptim *p = luaL_checkudata(L, 1, OPTIM_TYPE);
    bp_optim_free(p->o);
    p->o = NULL;
    return 0;
}

/* Which options each kind reads (a bit per kind: sgd, adam, adamw, rmsprop).
 * An option the chosen kind ignores is an error, not a silent no-op. */
static const struct {
    const char *name;
    unsigned kinds;
} optim_options[] = {
    {"lr", 15},      {"weight_decay", 15}, {"clip_norm", 15}, {"schedule", 15},
    {"momentum", 9}, {"dampening", 1},     {"nesterov", 1},   {"beta1", 6},
    {"beta2", 6},    {"eps", 14},          {"alpha", 8},      {"centered", 8},
};

static double opt_number(lua_State *L, int t, const char *k, double dflt) {
    double v = dflt;
    if (lua_getfield(L, t, k) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "option '%s': number expected, got %s", k,
                       luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* A schedule table: {"cosine", t_max = 1000, eta_min = 0, warmup_steps = 100,
 * start_factor = 0.1}, {"step", step_size = 10, gamma = 0.5}, ... */
static void check_schedule(lua_State *L, int t, bp_schedule *s) {
    if (lua_type(L, t) != LUA_TTABLE)
        luaL_error(L, "option 'schedule': table expected, got %s", luaL_typename(L, t));
    lua_rawgeti(L, t, 1);
    const char *name = lua_isstring(L, -1) ? lua_tostring(L, -1) : "none";
    int k = bp_sched_parse(name);
    if (k < 0)
        luaL_error(L,
                   "option 'schedule': unknown schedule '%s' (expected none, step, "
                   "exponential or cosine)",
                   name);
    lua_pop(L, 1);
    memset(s, 0, sizeof *s);
    s->kind = k;
    s->gamma = opt_number(L, t, "gamma", 0.1);
    s->step_size = (int64_t)opt_number(L, t, "step_size", 1);
    s->t_max = (int64_t)opt_number(L, t, "t_max", 1);
    s->eta_min = opt_number(L, t, "eta_min", 0);
    s->warmup_steps = (int64_t)opt_number(L, t, "warmup_steps", 0);
    s->start_factor = opt_number(L, t, "start_factor", 1.0 / 3);
    bp_err e;
    if (bp_schedule_check(s, &e)) luaL_error(L, "option 'schedule': %s", e.msg);
}

/* bp.optimizer(net, kind [, options]) -> an optimizer for nets shaped like
 * net: "sgd", "adam", "adamw" or "rmsprop", with PyTorch's defaults. */
static int l_optim_new(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    const char *kname = luaL_checkstring(L, 2);
    int kind = bp_optim_parse(kname);
    if (kind < 0)
        return luaL_argerror(
            L, 2,
            lua_pushfstring(
                L, "unknown optimizer '%s' (expected sgd, adam, adamw or rmsprop)",
                kname));
    bp_optim_config c = bp_optim_config_default(kind);
    bp_schedule sched;
    int has_sched = 0;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_argerror(L, 3, "option names must be strings");
            const char *k = lua_tostring(L, -1);
            size_t j, n = sizeof optim_options / sizeof optim_options[0];
            for (j = 0; j < n && strcmp(optim_options[j].name, k); j++) {}
            if (j == n)
                return luaL_argerror(L, 3, lua_pushfstring(L, "unknown option '%s'", k));
            if (!(optim_options[j].kinds & (1u << kind)))
                return luaL_argerror(
                    L, 3,
                    lua_pushfstring(L, "option '%s' does not apply to %s", k, kname));
        }
        c.lr = opt_number(L, 3, "lr", c.lr);
        c.weight_decay = opt_number(L, 3, "weight_decay", c.weight_decay);
        c.clip_norm = opt_number(L, 3, "clip_norm", c.clip_norm);
        c.momentum = opt_number(L, 3, "momentum", c.momentum);
        c.dampening = opt_number(L, 3, "dampening", c.dampening);
        c.beta1 = opt_number(L, 3, "beta1", c.beta1);
        c.beta2 = opt_number(L, 3, "beta2", c.beta2);
        c.eps = opt_number(L, 3, "eps", c.eps);
        c.alpha = opt_number(L, 3, "alpha", c.alpha);
        lua_getfield(L, 3, "nesterov");
        c.nesterov = lua_toboolean(L, -1);
        lua_getfield(L, 3, "centered");
        c.centered = lua_toboolean(L, -1);
        lua_pop(L, 2);
        if (lua_getfield(L, 3, "schedule") != LUA_TNIL) {
            check_schedule(L, lua_gettop(L), &sched);
            has_sched = 1;
        }
        lua_pop(L, 1);
    }
    loptim *p = lua_newuserdatauv(L, sizeof *p, 0);
    p->o = NULL;
    luaL_setmetatable(L, OPTIM_TYPE);
    bp_err e;
    p->o = bp_optim_new(net, &c, &e);
    if (!p->o) return luaL_argerror(L, 3, e.msg);
    if (has_sched && bp_optim_set_schedule(p->o, &sched, &e))
        return luaL_error(L, "%s", e.msg);
    return 1;
}

/* opt:step(net): one update from the gradients of the last backward */
static int optim_step(lua_State *L) {
    bp_optim *o = check_optim(L, 1);
    lnet *n = bp_lua_check_lnet(L, 2);
    bp_err e;
    if (bp_optim_step(o, n->net, &e)) return luaL_error(L, "%s", e.msg);
    n->steps++;
    STATE(L)->step++;
    return 0;
}

/* opt:lr() -> the lr of the next step; opt:lr(v) sets the base lr */
static int optim_lr(lua_State *L) {
    bp_optim *o = check_optim(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        bp_err e;
        if (bp_optim_set_lr(o, luaL_checknumber(L, 2), &e))
            return luaL_argerror(L, 2, e.msg);
        return 0;
    }
    lua_pushnumber(L, bp_optim_lr(o));
    return 1;
}

static int optim_steps(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)bp_optim_steps(check_optim(L, 1)));
    return 1;
}

/* opt:schedule(table | nil) */
static int optim_schedule(lua_State *L) {
    bp_optim *o = check_optim(L, 1);
    bp_schedule s;
    bp_err e;
    if (lua_isnoneornil(L, 2)) {
        bp_optim_set_schedule(o, NULL, NULL);
        return 0;
    }
    check_schedule(L, 2, &s);
    if (bp_optim_set_schedule(o, &s, &e)) return luaL_error(L, "%s", e.msg);
    return 0;
}

/* opt:state(name) -> the buffer as a flat list in net:params() order;
 * opt:state() -> the names of the buffers this optimizer keeps */
static int optim_state(lua_State *L) {
    bp_optim *o = check_optim(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_newtable(L);
        const char *nm;
        for (int i = 0; (nm = bp_optim_state_name(o, i)); i++) {
            lua_pushstring(L, nm);
            lua_rawseti(L, -2, i + 1);
        }
        return 1;
    }
    const char *which = luaL_checkstring(L, 2);
    size_t n;
    const double *v = bp_optim_state(o, which, &n);
    if (!v)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L, "this optimizer keeps no '%s'", which));
    bp_lua_push_matrix(L, v, 1, (int)n, 1);
    return 1;
}

/* opt:save() -> every number of its state; opt:load(t) puts them back */
static int optim_save(lua_State *L) {
    bp_optim *o = check_optim(L, 1);
    size_t n = bp_optim_state_size(o);
    double *v = lua_newuserdatauv(L, sizeof(double) * (n ? n : 1), 0); /* as net:params */
    bp_optim_state_save(o, v);
    bp_lua_push_matrix(L, v, 1, (int)n, 1);
    return 1;
}

static int optim_load(lua_State *L) {
    bp_optim *o = check_optim(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, 2);
    double *v = malloc(sizeof(double) * (n ? n : 1));
    if (!v) return luaL_error(L, "out of memory");
    for (size_t k = 0; k < n; k++) {
        lua_rawgeti(L, 2, (lua_Integer)k + 1);
        v[k] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    bp_err e;
    int rc = bp_optim_state_load(o, v, n, &e);
    free(v);
    if (rc) return luaL_argerror(L, 2, e.msg);
    return 0;
}

static int optim_reset(lua_State *L) {
    bp_optim_reset(check_optim(L, 1));
    return 0;
}

static int optim_tostring(lua_State *L) {
    loptim *p = luaL_checkudata(L, 1, OPTIM_TYPE);
    if (!p->o) lua_pushliteral(L, "optimizer (closed)");
    else
        lua_pushfstring(L, "optimizer %s (lr %f, %I steps)",
                        bp_optim_name(bp_optim_get_config(p->o)->kind), bp_optim_lr(p->o),
                        (lua_Integer)bp_optim_steps(p->o));
    return 1;
}

/* bp.clip_grad_norm(net, max_norm) -> the norm before clipping */
static int l_clip(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    double m = luaL_checknumber(L, 2);
    luaL_argcheck(L, m > 0, 2, "max_norm must be > 0");
    lua_pushnumber(L, bp_optim_clip(net, m));
    return 1;
}

static const luaL_Reg optim_methods[] = {
    {"step", optim_step},   {"lr", optim_lr},
    {"steps", optim_steps}, {"schedule", optim_schedule},
    {"state", optim_state}, {"save", optim_save},
    {"load", optim_load},   {"reset", optim_reset},
    {"close", optim_close}, {NULL, NULL}};

static const luaL_Reg optim_metamethods[] = {{"__index", NULL},
                                             {"__gc", optim_close},
                                             {"__close", optim_close},
                                             {"__tostring", optim_tostring},
                                             {NULL, NULL}};

/* ------------------------------------------------------------------------ */
/* Parameters, seed, random numbers                                          */

/* Converts the given string s to the type of the default at index d. */
static void push_param_value(lua_State *L, const char *name, const char *s, int d) {
    switch (lua_type(L, d)) {
        case LUA_TNUMBER:
            if (!lua_stringtonumber(L, s))
                luaL_error(L, "parameter %s: '%s' is not a number", name, s);
            if (lua_isinteger(L, d) && !lua_isinteger(L, -1))
                luaL_error(L, "parameter %s: '%s' is not an integer (the default is %I)",
                           name, s, lua_tointeger(L, d));
            return;
        case LUA_TBOOLEAN:
            if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes") ||
                !strcmp(s, "on"))
                lua_pushboolean(L, 1);
            else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no") ||
                     !strcmp(s, "off"))
                lua_pushboolean(L, 0);
            else
                luaL_error(L, "parameter %s: '%s' is not a boolean (true or false)", name,
                           s);
            return;
        case LUA_TSTRING: lua_pushstring(L, s); return;
        default: /* no default: a number if it reads as one, else the string */
            if (!lua_stringtonumber(L, s)) lua_pushstring(L, s);
            return;
    }
}

static void record_param(lua_State *L, const char *name, int v);

/* bp.param(name [, default]) -> the value given on the command line
 * (name=value), converted to the default's type, or the default. */
static int l_param(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    int d = 2;
    if (lua_type(L, 2) != LUA_TNONE && lua_type(L, 2) != LUA_TNIL &&
        lua_type(L, 2) != LUA_TNUMBER && lua_type(L, 2) != LUA_TSTRING &&
        lua_type(L, 2) != LUA_TBOOLEAN)
        return luaL_typeerror(L, 2, "number, string or boolean");
    lua_settop(L, 2);
    lua_getfield(L, LUA_REGISTRYINDEX, PARAMS_KEY);
    const char *given = NULL;
    if (lua_istable(L, -1) && lua_getfield(L, -1, name) == LUA_TSTRING)
        given = lua_tostring(L, -1);
    if (given) {
        push_param_value(L, name, given, d);
        lua_getfield(L, LUA_REGISTRYINDEX, READ_KEY);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, name);
        lua_pop(L, 1);
    } else if (lua_isnil(L, d)) {
        return luaL_error(L, "parameter %s was not given (%s=VALUE) and has no default",
                          name, name);
    } else {
        lua_pushvalue(L, d);
    }
    record_param(L, name, lua_gettop(L));
    return 1;
}

/* bp.params() -> a table of the parameters given on the command line */
static int l_params(lua_State *L) {
    lua_newtable(L);
    if (lua_getfield(L, LUA_REGISTRYINDEX, PARAMS_KEY) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -5);
        }
    }
    lua_pop(L, 1);
    return 1;
}

int bp_lua_set_params(lua_State *L, int n, char **pairs) {
    lua_newtable(L);
    for (int k = 0; k < n; k++) {
        const char *eq = strchr(pairs[k], '=');
        if (!eq || eq == pairs[k]) {
            lua_pop(L, 1);
            lua_pushfstring(L, "bad parameter '%s': expected key=value", pairs[k]);
            return -1;
        }
        lua_pushlstring(L, pairs[k], (size_t)(eq - pairs[k]));
        if (lua_rawget(L, -2) != LUA_TNIL) {
            lua_pop(L, 2);
            lua_pushfstring(L, "parameter '%s' given twice", pairs[k]);
            return -1;
        }
        lua_pop(L, 1);
        lua_pushlstring(L, pairs[k], (size_t)(eq - pairs[k]));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, PARAMS_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, READ_KEY);
    return 0;
}

int bp_lua_unread_params(lua_State *L) {
    int count = 0, top = lua_gettop(L);
    if (lua_getfield(L, LUA_REGISTRYINDEX, PARAMS_KEY) != LUA_TTABLE) {
        lua_settop(L, top);
        return 0;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, READ_KEY);
    lua_pushliteral(L, ""); /* the list so far */
    lua_pushnil(L);
    while (lua_next(L, top + 1)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, top + 2) == LUA_TNIL) {
            lua_pushfstring(L, "%s%s%s", lua_tostring(L, top + 3), count++ ? ", " : "",
                            lua_tostring(L, -2));
            lua_replace(L, top + 3);
        }
        lua_pop(L, 1);
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    if (!count) lua_settop(L, top);
    return count;
}

static state *registry_state(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, "backprop.state");
    state *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return st;
}

void bp_lua_seed(lua_State *L, uint64_t seed) {
    state *st = registry_state(L);
    if (!st) return;
    st->seed = seed;
    bp_rng_seed(&st->rng, seed);
}

/* bp.seed([n]) -> the seed; with n, reseeds the module's generator */
static int l_seed(lua_State *L) {
    state *st = STATE(L);
    if (!lua_isnoneornil(L, 1)) {
        int isint;
        lua_Integer s = lua_tointegerx(L, 1, &isint);
        if (!isint) return luaL_typeerror(L, 1, "integer");
        st->seed = (uint64_t)s;
        bp_rng_seed(&st->rng, st->seed);
        bp_err e;
        if (st->log && bp_runlog_set_seed(st->log, st->run, (int64_t)st->seed, &e))
            return luaL_error(L, "%s", e.msg);
    }
    lua_pushinteger(L, (lua_Integer)st->seed);
    return 1;
}

/* bp.uniform([a, b]) -> uniform in [a, b), default [0, 1) */
static int l_uniform(lua_State *L) {
    double a = luaL_optnumber(L, 1, 0), b = luaL_optnumber(L, 2, 1);
    lua_pushnumber(L, a + (b - a) * bp_rng_uniform(&STATE(L)->rng));
    return 1;
}

/* bp.normal([mean, std]) */
static int l_normal(lua_State *L) {
    double m = luaL_optnumber(L, 1, 0), s = luaL_optnumber(L, 2, 1);
    luaL_argcheck(L, s >= 0, 2, "std must be >= 0");
    lua_pushnumber(L, bp_rng_normal(&STATE(L)->rng, m, s));
    return 1;
}

/* bp.randint(n) -> uniform integer in 1..n */
static int l_randint(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1, 1, "n must be >= 1");
    lua_pushinteger(L, 1 + (lua_Integer)bp_rng_below(&STATE(L)->rng, (uint64_t)n));
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The run log, when the host attached one                                   */

void bp_lua_attach_run(lua_State *L, bp_runlog *log, int64_t run, uint64_t seed) {
    state *st = registry_state(L);
    if (!st) return;
    st->log = log;
    st->run = run;
    st->seed = seed;
    bp_rng_seed(&st->rng, seed);
}

void bp_lua_set_stop_flag(lua_State *L, const volatile sig_atomic_t *flag) {
    state *st = registry_state(L);
    if (st) st->stop = flag;
}

int bp_lua_diverged(lua_State *L) {
    state *st = registry_state(L);
    return st ? st->diverged : 0;
}

/* Records parameter `name` with the value at index v, typed as Lua types
 * it. A failure here is the database's: it stops the script, since a run
 * whose parameters are not recorded cannot be queried. */
static void record_param(lua_State *L, const char *name, int v) {
    state *st = STATE(L);
    if (!st->log) return;
    bp_err e;
    int rc;
    switch (lua_type(L, v)) {
        case LUA_TBOOLEAN:
            rc = bp_runlog_param_bool(st->log, st->run, name, lua_toboolean(L, v), &e);
            break;
        case LUA_TNUMBER:
            rc = lua_isinteger(L, v) ? bp_runlog_param_int(st->log, st->run, name,
                                                           lua_tointeger(L, v), &e)
                                     : bp_runlog_param_real(st->log, st->run, name,
                                                            lua_tonumber(L, v), &e);
            break;
        default:
            rc = bp_runlog_param_text(st->log, st->run, name, lua_tostring(L, v), &e);
            break;
    }
    if (rc) luaL_error(L, "%s", e.msg);
}

/* The hot path of train_step's own logging: raises if the database fails. */
int bp_lua_log_metric(lua_State *L, const char *name, int64_t step, double v) {
    state *st = STATE(L);
    if (!st->log) return 0;
    bp_err e;
    if (bp_runlog_metric(st->log, st->run, name, step, v, &e))
        return luaL_error(L, "%s", e.msg);
    return 0;
}

/* Pushes nil, message for a failure of the run log; returns 2. */
static int log_failed(lua_State *L, const bp_err *e) {
    luaL_pushfail(L);
    lua_pushstring(L, e->msg);
    return 2;
}

static int64_t opt_step(lua_State *L, int arg) {
    if (lua_isnoneornil(L, arg)) return STATE(L)->step;
    int isint;
    lua_Integer s = lua_tointegerx(L, arg, &isint);
    if (!isint) return luaL_typeerror(L, arg, "integer step");
    return s;
}

/* bp.log(name, value [, step]) -> true, or nil, message. step defaults to
 * the number of training steps taken so far. Outside `backprop run` nothing
 * is recorded and it returns false. A NaN or infinite "loss" is recorded,
 * then ends the script as diverged. */
static int l_log(lua_State *L) {
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    luaL_argcheck(L, len > 0, 1, "metric name must not be empty");
    double v = luaL_checknumber(L, 2);
    int64_t step = opt_step(L, 3);
    state *st = STATE(L);
    if (st->log) {
        bp_err e;
        if (bp_runlog_metric(st->log, st->run, name, step, v, &e))
            return log_failed(L, &e);
    }
    if (!isfinite(v) && strcmp(name, "loss") == 0) bp_lua_diverge(L, name, v, step);
    lua_pushboolean(L, st->log != NULL);
    return 1;
}

/* bp.log_weights(net [, step [, name]]) -> true, or nil, message: a
 * snapshot of every weight and bias, stored exactly */
static int l_log_weights(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    int64_t step = opt_step(L, 2);
    const char *name = luaL_optstring(L, 3, NULL);
    state *st = STATE(L);
    if (!st->log) {
        lua_pushboolean(L, 0);
        return 1;
    }
    size_t N = bp_net_param_count(net);
    int *sizes = malloc(sizeof(int) * (size_t)(net->n_layers + 1));
    double *p = malloc(sizeof(double) * (N ? N : 1));
    if (!sizes || !p) {
        free(sizes);
        free(p);
        return luaL_error(L, "out of memory");
    }
    sizes[0] = net->inputs;
    for (int l = 0; l < net->n_layers; l++) sizes[l + 1] = net->layers[l].O;
    bp_net_params_get(net, p);
    bp_err e;
    int rc = bp_runlog_snapshot(st->log, st->run, step, name, net->n_layers, sizes, p, N,
                                0, &e);
    free(sizes);
    free(p);
    if (rc) return log_failed(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

/* bp.tag(key [, value]) and bp.note(text) -> true, or nil, message */
static int l_tag(lua_State *L) {
    const char *k = luaL_checkstring(L, 1);
    const char *v = lua_isnoneornil(L, 2) ? NULL : luaL_tolstring(L, 2, NULL);
    state *st = STATE(L);
    bp_err e;
    if (st->log && bp_runlog_tag(st->log, st->run, k, v, &e)) return log_failed(L, &e);
    lua_pushboolean(L, st->log != NULL);
    return 1;
}

static int l_note(lua_State *L) {
    const char *text = luaL_checkstring(L, 1);
    state *st = STATE(L);
    bp_err e;
    if (st->log && bp_runlog_note(st->log, st->run, text, &e)) return log_failed(L, &e);
    lua_pushboolean(L, st->log != NULL);
    return 1;
}

/* bp.run_id() -> the id of the run being recorded, or nil */
static int l_run_id(lua_State *L) {
    state *st = STATE(L);
    if (st->log) lua_pushinteger(L, st->run);
    else lua_pushnil(L);
    return 1;
}

/* bp.flush() -> true, or nil, message: commit what is buffered now */
static int l_flush(lua_State *L) {
    state *st = STATE(L);
    bp_err e;
    if (st->log && bp_runlog_flush(st->log, &e)) return log_failed(L, &e);
    lua_pushboolean(L, st->log != NULL);
    return 1;
}

/* bp.threads([n]) -> the threads a matrix product may use (OpenBLAS's count:
 * OPENBLAS_NUM_THREADS, or the cores); with n, sets it first. */
static int l_threads(lua_State *L) {
    if (!lua_isnoneornil(L, 1)) {
        bp_err e;
        if (bp_set_threads(bp_lua_check_int(L, 1, "threads"), &e))
            return luaL_argerror(L, 1, e.msg);
    }
    lua_pushinteger(L, bp_threads());
    return 1;
}

/* bp.clock() -> seconds on a monotonic wall clock (os.clock is processor
 * time, which counts every thread of a parallel product), for timing. */
static int l_clock(lua_State *L) {
    lua_pushnumber(L, bp_clock());
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The module                                                                */

static const luaL_Reg funcs[] = {{"net", l_net_new},
                                 {"loss", l_loss_new},
                                 {"optimizer", l_optim_new},
                                 {"clip_grad_norm", l_clip},
                                 {"param", l_param},
                                 {"params", l_params},
                                 {"seed", l_seed},
                                 {"uniform", l_uniform},
                                 {"normal", l_normal},
                                 {"randint", l_randint},
                                 {"log", l_log},
                                 {"log_weights", l_log_weights},
                                 {"tag", l_tag},
                                 {"note", l_note},
                                 {"run_id", l_run_id},
                                 {"flush", l_flush},
                                 {"threads", l_threads},
                                 {"clock", l_clock},
                                 {NULL, NULL}};

/* Creates a metatable with its methods as __index; every function gets the
 * state (at the top of the stack) as upvalue 1. */
static void create_meta(lua_State *L, const char *name, const luaL_Reg *meta,
                        const luaL_Reg *methods) {
    luaL_newmetatable(L, name);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, meta, 1);
    lua_newtable(L);
    lua_pushvalue(L, -3);
    luaL_setfuncs(L, methods, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

int luaopen_backprop(lua_State *L) {
    /* One state per Lua state: a second require reuses it. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, "backprop.state") != LUA_TUSERDATA) {
        lua_pop(L, 1);
        state *st = lua_newuserdatauv(L, sizeof *st, 0);
        memset(st, 0, sizeof *st);
        st->seed = 1;
        bp_rng_seed(&st->rng, st->seed);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "backprop.state");
    }
    create_meta(L, NET_TYPE, net_metamethods, net_methods);
    create_meta(L, LOSS_TYPE, loss_metamethods, loss_methods);
    create_meta(L, OPTIM_TYPE, optim_metamethods, optim_methods);
    luaL_newlibtable(L, funcs);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, funcs, 1);
    bp_lua_open_data(L);
    bp_lua_open_sweep(L);
    bp_lua_open_model(L);
    bp_lua_open_progress(L);
    lua_pushliteral(L, BP_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
