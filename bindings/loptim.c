/* loptim.c: backprop.optimizer, the update rules beyond plain gradient
 * descent (engine/bp_optim.h): SGD with momentum, Adam, AdamW, RMSprop, with
 * PyTorch's defaults and names, and their learning-rate schedules.
 *
 * An optimizer is made for nets shaped like the one given and keeps its
 * moments in C; opt:save and opt:load carry them as numbers (checkpoints,
 * lmodel.c). Each kind reads only its own options: one it ignores is an
 * error, so that {beta1 = 0.9} given to SGD does not pass unnoticed. */
#include <math.h>
#include <stdio.h>
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
 * silent no-op. The last three are the optimiser's alone, not a group's. */
static const char *const optim_options[] = {
    "lr",    "weight_decay", "momentum", "dampening", "nesterov", "beta1", "beta2",
    "eps",   "alpha",        "centered", "clip_norm", "schedule", "groups", NULL};
static const unsigned optim_kinds[] = {15, 15, 9, 1, 1, 6, 6, 14, 8, 8, 15, 15, 15};
_Static_assert(sizeof optim_kinds / sizeof optim_kinds[0] + 1 ==
                   sizeof optim_options / sizeof optim_options[0],
               "a kinds mask for every option");
#define GROUP_OPTIONS 10 /* optim_options[0 .. 9] a group may set */

/* Each schedule's options, by bp_sched_kind (step, exponential and cosine
 * share theirs, with the warm-up). */
static const char *const warm_options[] = {
    "gamma", "step_size", "t_max", "eta_min", "warmup_steps", "start_factor", NULL};
static const char *const plateau_options[] = {
    "mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps",
    NULL};
static const char *const onecycle_options[] = {
    "max_lr",     "total_steps",      "pct_start",      "anneal",       "div_factor",
    "final_div_factor", "cycle_momentum", "base_momentum", "max_momentum", NULL};
static const char *const *const schedule_options[BP_SCHED_COUNT] = {
    warm_options, warm_options, warm_options, warm_options, plateau_options,
    onecycle_options};

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

/* A whole number option (a count of steps or epochs). */
static int64_t opt_count(lua_State *L, int t, const char *k, int64_t dflt) {
    double v = opt_number(L, t, k, (double)dflt);
    if (v != floor(v) || !(fabs(v) < 9007199254740992.0))
        luaL_error(L, "option 'schedule': %s must be a whole number (got %f)", k, v);
    return (int64_t)v;
}

/* One of two words, as 0 or 1: mode = "min" or "max", ... */
static int opt_word(lua_State *L, int t, const char *k, const char *w0, const char *w1) {
    int r = 0;
    if (lua_getfield(L, t, k) != LUA_TNIL) {
        const char *v = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
        if (strcmp(v, w0) && strcmp(v, w1))
            luaL_error(L, "option 'schedule': %s must be '%s' or '%s'", k, w0, w1);
        r = strcmp(v, w1) == 0;
    }
    lua_pop(L, 1);
    return r;
}

/* The fields of the plateau's and onecycle's tables, over s's defaults. */
static void read_plateau(lua_State *L, int t, bp_schedule *s) {
    s->mode_max = opt_word(L, t, "mode", "min", "max");
    s->factor = opt_number(L, t, "factor", s->factor);
    s->patience = opt_count(L, t, "patience", s->patience);
    s->threshold = opt_number(L, t, "threshold", s->threshold);
    s->threshold_abs = opt_word(L, t, "threshold_mode", "rel", "abs");
    s->cooldown = opt_count(L, t, "cooldown", s->cooldown);
    s->min_lr = opt_number(L, t, "min_lr", s->min_lr);
    s->eps = opt_number(L, t, "eps", s->eps);
}

static void read_onecycle(lua_State *L, int t, bp_schedule *s) {
    s->max_lr = opt_number(L, t, "max_lr", s->max_lr);
    s->total_steps = opt_count(L, t, "total_steps", 0);
    s->pct_start = opt_number(L, t, "pct_start", s->pct_start);
    s->anneal_linear = opt_word(L, t, "anneal", "cos", "linear");
    s->div_factor = opt_number(L, t, "div_factor", s->div_factor);
    s->final_div_factor = opt_number(L, t, "final_div_factor", s->final_div_factor);
    if (lua_getfield(L, t, "cycle_momentum") != LUA_TNIL)
        s->cycle_momentum = lua_toboolean(L, -1);
    lua_pop(L, 1);
    s->base_momentum = opt_number(L, t, "base_momentum", s->base_momentum);
    s->max_momentum = opt_number(L, t, "max_momentum", s->max_momentum);
}

/* A schedule table: {"cosine", t_max = 1000, eta_min = 0, warmup_steps = 100,
 * start_factor = 0.1}, {"step", step_size = 10, gamma = 0.5}, {"plateau",
 * patience = 3}, {"onecycle", total_steps = 1000}, ... */
void bp_lua_check_schedule(lua_State *L, int t, bp_schedule *s) {
    if (lua_type(L, t) != LUA_TTABLE)
        luaL_error(L, "option 'schedule': table expected, got %s", luaL_typename(L, t));
    lua_rawgeti(L, t, 1);
    const char *name = lua_isstring(L, -1) ? lua_tostring(L, -1) : "none";
    int k = bp_sched_parse(name);
    if (k < 0)
        luaL_error(L,
                   "option 'schedule': unknown schedule '%s' (expected none, step, "
                   "exponential, cosine, plateau or onecycle)",
                   name);
    lua_pop(L, 1);
    if (bp_lua_unknown_option(L, t, schedule_options[k], BP_OPT_NAME))
        luaL_error(L, "option 'schedule': %s", lua_tostring(L, -1));
    *s = bp_schedule_default(k);
    if (k == BP_SCHED_PLATEAU) read_plateau(L, t, s);
    else if (k == BP_SCHED_ONECYCLE) read_onecycle(L, t, s);
    else {
        s->gamma = opt_number(L, t, "gamma", s->gamma);
        s->step_size = opt_count(L, t, "step_size", s->step_size);
        s->t_max = opt_count(L, t, "t_max", s->t_max);
        s->eta_min = opt_number(L, t, "eta_min", s->eta_min);
        s->warmup_steps = opt_count(L, t, "warmup_steps", s->warmup_steps);
        s->start_factor = opt_number(L, t, "start_factor", s->start_factor);
    }
    bp_err e;
    if (bp_schedule_check(s, &e)) luaL_error(L, "option 'schedule': %s", e.msg);
}

/* Raises if the options table at t has a key that is not a string, not an
 * option (of the first n), or not one that optimizers of this kind read;
 * in a group (where) "params" and "name" are known too. */
static void check_optim_keys(lua_State *L, int t, int n, int kind, const char *kname,
                             const char *where) {
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, 3, "option names must be strings");
        const char *k = lua_tostring(L, -1);
        if (where && (!strcmp(k, "params") || !strcmp(k, "name"))) continue;
        int j;
        for (j = 0; j < n && strcmp(optim_options[j], k); j++) {}
        if (j == n) {
            /* the list names what this kind reads */
            const char *mine[sizeof optim_options / sizeof optim_options[0] + 2];
            int m = 0;
            if (where) mine[m++] = "params", mine[m++] = "name";
            for (int i = 0; i < n; i++)
                if (optim_kinds[i] & (1u << kind)) mine[m++] = optim_options[i];
            mine[m] = NULL;
            const char *msg = bp_lua_push_unknown_option(L, k, mine);
            luaL_argerror(L, 3, where ? lua_pushfstring(L, "%s: %s", where, msg) : msg);
        }
        if (!(optim_kinds[j] & (1u << kind)))
            luaL_argerror(L, 3,
                          lua_pushfstring(L, "%s%soption '%s' does not apply to %s",
                                          where ? where : "", where ? ": " : "", k, kname));
    }
}

/* Reads the hyperparameters of the options table at t into c (over what
 * is there: the defaults, or a group's copy of them). */
static void read_config(lua_State *L, int t, bp_optim_config *c) {
    c->lr = opt_number(L, t, "lr", c->lr);
    c->weight_decay = opt_number(L, t, "weight_decay", c->weight_decay);
    c->momentum = opt_number(L, t, "momentum", c->momentum);
    c->dampening = opt_number(L, t, "dampening", c->dampening);
    c->beta1 = opt_number(L, t, "beta1", c->beta1);
    c->beta2 = opt_number(L, t, "beta2", c->beta2);
    c->eps = opt_number(L, t, "eps", c->eps);
    c->alpha = opt_number(L, t, "alpha", c->alpha);
    if (lua_getfield(L, t, "nesterov") != LUA_TNIL) c->nesterov = lua_toboolean(L, -1);
    if (lua_getfield(L, t, "centered") != LUA_TNIL) c->centered = lua_toboolean(L, -1);
    lua_pop(L, 2);
}

/* Reads the options table at 3 into c and, if it has one, the schedule
 * into s; returns whether it had one. */
static int read_options(lua_State *L, bp_optim_config *c, bp_schedule *s) {
    read_config(L, 3, c);
    c->clip_norm = opt_number(L, 3, "clip_norm", c->clip_norm);
    int has = lua_getfield(L, 3, "schedule") != LUA_TNIL;
    if (has) bp_lua_check_schedule(L, lua_gettop(L), s);
    lua_pop(L, 1);
    return has;
}

/* The groups of the options table at 3 ({{params = "fc*.bias", lr =,
 * weight_decay =, name =}, ...}) into g, each over the defaults d; their
 * names and patterns stay on the stack (in a table pushed here) while the
 * optimiser is made. Returns their number. */
static int read_groups(lua_State *L, const bp_optim_config *d, bp_optim_group *g,
                       const char **pats, int kind, const char *kname) {
    if (lua_getfield(L, 3, "groups") == LUA_TNIL) return 0;
    int t = lua_gettop(L);
    if (!lua_istable(L, t)) luaL_argerror(L, 3, "option 'groups': a list of tables expected");
    int n = (int)luaL_len(L, t), np = 0;
    if (n > BP_OPTIM_MAX_GROUPS)
        luaL_argerror(L, 3, lua_pushfstring(L, "option 'groups': at most %d groups",
                                            BP_OPTIM_MAX_GROUPS));
    for (int i = 0; i < n; i++) {
        char where[32];
        snprintf(where, sizeof where, "group %d", i + 1);
        if (lua_rawgeti(L, t, i + 1) != LUA_TTABLE)
            luaL_argerror(L, 3, lua_pushfstring(L, "%s: a table expected", where));
        int gt = lua_gettop(L);
        check_optim_keys(L, gt, GROUP_OPTIONS, kind, kname, where);
        g[i] = (bp_optim_group){.c = *d, .patterns = pats + np};
        read_config(L, gt, &g[i].c);
        if (lua_getfield(L, gt, "name") != LUA_TNIL) {
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_argerror(L, 3, lua_pushfstring(L, "%s: name must be a string", where));
            g[i].name = lua_tostring(L, -1);
        }
        int pt = lua_getfield(L, gt, "params"), list = pt == LUA_TTABLE;
        if (pt != LUA_TSTRING && !list)
            luaL_argerror(L, 3, lua_pushfstring(L, "%s: params (names or patterns) expected",
                                                where));
        int m = list ? (int)luaL_len(L, -1) : 1;
        for (int k = 1; k <= m; k++) {
            if (list && lua_rawgeti(L, -1, k) != LUA_TSTRING)
                luaL_argerror(L, 3, lua_pushfstring(L, "%s: params: strings expected", where));
            if (np == 4 * BP_OPTIM_MAX_GROUPS)
                luaL_argerror(L, 3, "option 'groups': too many patterns");
            pats[np++] = lua_tostring(L, -1);
            if (list) lua_pop(L, 1);
            g[i].n_patterns++;
        }
        /* keep the strings referenced: the group table stays on the stack */
        lua_pop(L, 2); /* params, name */
        lua_pop(L, 1); /* the group (still in the list at t) */
    }
    return n;
}

/* bp.optimizer(net, kind [, options]) -> an optimizer for nets shaped like
 * net: "sgd", "adam", "adamw" or "rmsprop", with PyTorch's defaults;
 * options.groups: its parameter groups */
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
    int has_sched = 0, n = 0;
    bp_optim_group *groups = NULL;
    const char **pats = NULL;
    lua_settop(L, 3);
    if (!lua_isnil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        check_optim_keys(L, 3, GROUP_OPTIONS + 3, kind, kname, NULL);
        has_sched = read_options(L, &c, &sched);
        groups = lua_newuserdatauv(L, sizeof *groups * BP_OPTIM_MAX_GROUPS, 0);
        pats = lua_newuserdatauv(L, sizeof *pats * 4 * BP_OPTIM_MAX_GROUPS, 0);
        n = read_groups(L, &c, groups, pats, kind, kname); /* the list stays at the top */
    }
    loptim *p = lua_newuserdatauv(L, sizeof *p, 0);
    p->o = NULL;
    luaL_setmetatable(L, OPTIM_TYPE);
    bp_err e;
    p->o = bp_optim_new_groups(net, &c, groups, n, &e);
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

/* The group named by the string at i, or raises naming the groups. */
static int check_group(lua_State *L, bp_optim *o, int i) {
    const char *name = luaL_checkstring(L, i);
    int g = bp_optim_group_find(o, name);
    if (g >= 0) return g;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int k = 0; k < bp_optim_groups(o); k++) {
        if (k) luaL_addstring(&b, ", ");
        luaL_addstring(&b, bp_optim_group_name(o, k));
    }
    luaL_pushresult(&b);
    return luaL_argerror(L, i, lua_pushfstring(L, "no group '%s' (the groups: %s)", name,
                                               lua_tostring(L, -1)));
}

/* opt:lr() -> the lr of the next step (the first group's); opt:lr(v) sets
 * every group's base lr; opt:lr(group) -> that group's next lr;
 * opt:lr(group, v) sets its base lr */
static int optim_lr(lua_State *L) {
    bp_optim *o = check_optim(L, 1);
    bp_err e;
    if (lua_type(L, 2) == LUA_TSTRING) {
        int g = check_group(L, o, 2);
        if (lua_isnoneornil(L, 3)) {
            lua_pushnumber(L, bp_optim_group_lr(o, g));
            return 1;
        }
        if (bp_optim_set_group_lr(o, g, luaL_checknumber(L, 3), &e))
            return luaL_argerror(L, 3, e.msg);
        return 0;
    }
    if (!lua_isnoneornil(L, 2)) {
        if (bp_optim_set_lr(o, luaL_checknumber(L, 2), &e))
            return luaL_argerror(L, 2, e.msg);
        return 0;
    }
    lua_pushnumber(L, bp_optim_lr(o));
    return 1;
}

/* opt:groups() -> {{name =, lr =, base_lr =, weight_decay =, params =
 * {names}}, ...}: each group, lr its next step's */
static int optim_groups(lua_State *L) {
    bp_optim *o = check_optim(L, 1);
    lnet *n = bp_lua_check_lnet(L, 2);
    int G = bp_optim_groups(o), nt;
    const bp_param *t = bp_net_param_list(n->net, &nt);
    lua_createtable(L, G, 0);
    for (int g = 0; g < G; g++) {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, bp_optim_group_name(o, g));
        lua_setfield(L, -2, "name");
        lua_pushnumber(L, bp_optim_group_lr(o, g));
        lua_setfield(L, -2, "lr");
        lua_pushnumber(L, bp_optim_group_config(o, g)->lr);
        lua_setfield(L, -2, "base_lr");
        lua_pushnumber(L, bp_optim_group_config(o, g)->weight_decay);
        lua_setfield(L, -2, "weight_decay");
        lua_newtable(L);
        for (int k = 0, j = 0, m = 0; k < nt; k++) {
            if (!t[k].trainable) continue;
            if (bp_optim_group_of(o, j++) != g) continue;
            lua_pushstring(L, t[k].name);
            lua_rawseti(L, -2, ++m);
        }
        lua_setfield(L, -2, "params");
        lua_rawseti(L, -2, g + 1);
    }
    return 1;
}

/* opt:schedule_step(metric): a plateau schedule's epoch */
static int optim_schedule_step(lua_State *L) {
    bp_optim *o = check_optim(L, 1);
    bp_err e;
    if (bp_optim_schedule_step(o, luaL_checknumber(L, 2), &e)) return luaL_error(L, "%s", e.msg);
    return 0;
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
    bp_lua_check_schedule(L, 2, &s);
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
    {"groups", optim_groups}, {"schedule_step", optim_schedule_step},
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
