/* loptim.c: backprop.optimizer, the update rules beyond plain gradient
 * descent (engine/bp_optim.h): SGD with momentum, Adam, AdamW, RMSprop, with
 * PyTorch's defaults and names, and their learning-rate schedules.
 *
 * An optimizer is made for nets shaped like the one given and keeps its
 * moments in C; opt:save and opt:load carry them as numbers (checkpoints,
 * lmodel.c). Each kind reads only its own options: one it ignores is an
 * error, so that {beta1 = 0.9} given to SGD does not pass unnoticed. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbackprop.h"

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

/* The options, and which kinds read each (a bit per kind: sgd, adam,
 * adamw, rmsprop). An option the chosen kind ignores is an error, not a
 * silent no-op. */
static const char *const optim_options[] = {
    "lr",    "weight_decay", "clip_norm", "schedule", "momentum", "dampening", "nesterov",
    "beta1", "beta2",        "eps",       "alpha",    "centered", NULL};
static const unsigned optim_kinds[] = {15, 15, 15, 15, 9, 1, 1, 6, 6, 14, 8, 8};
_Static_assert(sizeof optim_kinds / sizeof optim_kinds[0] + 1 ==
                   sizeof optim_options / sizeof optim_options[0],
               "a kinds mask for every option");

static const char *const schedule_options[] = {
    "gamma", "step_size", "t_max", "eta_min", "warmup_steps", "start_factor", NULL};

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
    if (bp_lua_unknown_option(L, t, schedule_options, BP_OPT_NAME))
        luaL_error(L, "option 'schedule': %s", lua_tostring(L, -1));
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

/* Raises if the options table at 3 has a key that is not a string, not an
 * option, or not one that optimizers of this kind read. */
static void check_optim_keys(lua_State *L, int kind, const char *kname) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, 3, "option names must be strings");
        const char *k = lua_tostring(L, -1);
        int j;
        for (j = 0; optim_options[j] && strcmp(optim_options[j], k); j++) {}
        if (!optim_options[j]) {
            /* the list names what this kind reads */
            const char *mine[sizeof optim_options / sizeof optim_options[0]];
            int n = 0;
            for (int m = 0; optim_options[m]; m++)
                if (optim_kinds[m] & (1u << kind)) mine[n++] = optim_options[m];
            mine[n] = NULL;
            luaL_argerror(L, 3, bp_lua_push_unknown_option(L, k, mine));
        }
        if (!(optim_kinds[j] & (1u << kind)))
            luaL_argerror(
                L, 3, lua_pushfstring(L, "option '%s' does not apply to %s", k, kname));
    }
}

/* Reads the options table at 3 into c and, if it has one, the schedule
 * into s; returns whether it had one. */
static int read_options(lua_State *L, bp_optim_config *c, bp_schedule *s) {
    c->lr = opt_number(L, 3, "lr", c->lr);
    c->weight_decay = opt_number(L, 3, "weight_decay", c->weight_decay);
    c->clip_norm = opt_number(L, 3, "clip_norm", c->clip_norm);
    c->momentum = opt_number(L, 3, "momentum", c->momentum);
    c->dampening = opt_number(L, 3, "dampening", c->dampening);
    c->beta1 = opt_number(L, 3, "beta1", c->beta1);
    c->beta2 = opt_number(L, 3, "beta2", c->beta2);
    c->eps = opt_number(L, 3, "eps", c->eps);
    c->alpha = opt_number(L, 3, "alpha", c->alpha);
    lua_getfield(L, 3, "nesterov");
    c->nesterov = lua_toboolean(L, -1);
    lua_getfield(L, 3, "centered");
    c->centered = lua_toboolean(L, -1);
    lua_pop(L, 2);
    int has = lua_getfield(L, 3, "schedule") != LUA_TNIL;
    if (has) check_schedule(L, lua_gettop(L), s);
    lua_pop(L, 1);
    return has;
}

/* bp.optimizer(net, kind [, options]) -> an optimizer for nets shaped like
 * net: "sgd", "adam", "adamw" or "rmsprop", with PyTorch's defaults. */
static int l_optim_new(lua_State *L) {
    if (lua_type(L, 2) == LUA_TFUNCTION) return bp_lua_script_optim_new(L);
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
        check_optim_keys(L, kind, kname);
        has_sched = read_options(L, &c, &sched);
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
    bp_lua_params_gate(L, STATE(L));
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

static const luaL_Reg funcs[] = {
    {"optimizer", l_optim_new}, {"clip_grad_norm", l_clip}, {NULL, NULL}};

void bp_lua_open_optim(lua_State *L) {
    bp_lua_new_type(L, OPTIM_TYPE, optim_metamethods, optim_methods);
    bp_lua_add_funcs(L, funcs);
}
