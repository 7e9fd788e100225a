/* lsweep.c: the Lua side of sweeps: bp.report, bp.sweep, bp.suggest, and
 * sweep files.
 *
 * A trial is an ordinary `backprop run` that the host has told which sweep
 * and trial it is (bp_lua_sweep_attach). The script learns nothing else: it
 * reads its parameters with bp.param as always, and reports its objective
 * with bp.report(value, step) as it goes, which logs the value under the
 * sweep's objective metric and, when the sweep prunes, asks the other
 * trials' values (bp_sweep_prune_check) whether to go on. A pruned trial is
 * stopped by an error the script does not need to handle: the host sees
 * the flag set here and records the run as 'pruned', not 'failed'.
 *
 * bp.suggest(name, spec, default) is define-by-run, as Optuna's
 * trial.suggest_*: a script declares each parameter's space where it reads
 * it. The design:
 *  - The spec is parsed by runlog/'s bp_sweep.h, the command line's syntax,
 *    and checks the value given (a plain run's name=value, or the value the
 *    supervisor proposed) and the default.
 *  - In a trial, the name and its canonical spec go into the sweep's space
 *    (bp_runlog_sweep_suggest, schema step 11): one spec per name, a second
 *    refused. The supervisor reads the space before each trial it starts
 *    and proposes every name it holds; a name it did not know yet (the
 *    first trial's, which runs alone, or a branch taken for the first time)
 *    the trial draws itself from the name's own stream
 *    (bp_sweep_suggested_value), the very value random search would have
 *    proposed. A grid samples nothing: the default.
 *  - A conditional parameter is one some trials do not read: the sweep's
 *    suggested names and its key?=SPEC ones are exempt from the check of
 *    given-but-unread keys (bp_lua_param_exempt), and a parameter is
 *    recorded only where it is read.
 *
 * The trial's state is a userdata in the registry, not in the module's
 * state (lbackprop.h), so that the module knows nothing of sweeps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_lua.h"
#include "bp_prune.h"
#include "bp_sweep.h"
#include "bp_sweeplog.h"
#include "lbackprop.h"

#define TRIAL_KEY "backprop.sweep_trial"

typedef struct trial {
    bp_sweep_info info;
    int64_t trial;
    int64_t setting;   /* trial / repeats: what a suggested name's draw is of */
    int sampled;       /* --trials N (random or TPE): bp.suggest draws */
    int64_t prev_step; /* of the last report, -1 before the first */
    double best;       /* the best value reported so far */
    int have_best;
    int pruned;
} trial;

static trial *get_trial(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, TRIAL_KEY);
    trial *t = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return t;
}

/* The sweep's parameters a trial need not read: the command line's
 * conditional ones (key?=SPEC) and the names earlier trials suggested
 * (bp.suggest: a script that suggests a name reads it in some trials
 * only, as `if opt == "sgd" then bp.suggest("momentum", ...) end` does).
 * A name no trial reads and no trial suggested stays a typo. */
static void exempt(lua_State *L, const bp_sweep_spec *spec, const bp_sweep_space *space) {
    for (int k = 0; k < spec->n; k++)
        if (spec->params[k].conditional) bp_lua_param_exempt(L, spec->params[k].key);
    for (size_t k = 0; k < space->n; k++) bp_lua_param_exempt(L, space->keys[k]);
}

int bp_lua_sweep_attach(lua_State *L, bp_runlog *log, int64_t sweep, int64_t index,
                        bp_err *e) {
    bp_sweep_info info;
    if (bp_sweep_info_load(log, sweep, &info, e)) return -1;
    trial *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    t->info = info;
    t->trial = index;
    t->prev_step = -1;
    bp_sweep_row row;
    int found = bp_runlog_sweep_read(log, sweep, &row, e);
    if (found != 1) {
        lua_pop(L, 1);
        return found ? -1 : bp_err_set(e, "no sweep %lld", (long long)sweep);
    }
    bp_sweep_spec *spec = row.spec ? bp_sweep_spec_parse(row.spec, e) : NULL;
    bp_sweep_space space = {0};
    int rc = spec ? bp_runlog_sweep_space(log, sweep, &space, e) : -1;
    if (!rc) {
        t->sampled = spec->trials > 0;
        t->setting = index / bp_sweep_repeats(spec);
        exempt(L, spec, &space);
    }
    bp_sweep_spec_free(spec);
    bp_sweep_space_free(&space);
    bp_sweep_row_free(&row);
    if (rc) {
        lua_pop(L, 1);
        return -1;
    }
    lua_setfield(L, LUA_REGISTRYINDEX, TRIAL_KEY);
    state *st = bp_lua_state(L);
    if (st) st->data_seed = info.seed; /* every trial (and repeat) splits alike */
    return 0;
}

int bp_lua_sweep_pruned(lua_State *L) {
    trial *t = get_trial(L);
    return t ? t->pruned : 0;
}

/* bp.report(value [, step | {step = n} | {epoch = n}]) -> true (false
 * outside `backprop run`): logs the objective (in a sweep, under its
 * metric's name; else as "objective") at step (default: the training steps
 * taken so far), or per epoch at an epoch (an objective that fit logs per
 * epoch, val_loss, is reported so). A NaN or infinite value ends the run as
 * diverged; a value the sweep's pruning rule judges poor ends it as pruned,
 * comparing trials at the same step (or epoch). */
static int l_report(lua_State *L) {
    double v = luaL_checknumber(L, 1);
    state *st = STATE(L);
    bp_lua_params_gate(L, st);
    bp_metric_unit unit;
    int64_t step = bp_lua_opt_at(L, 2, &unit);
    trial *t = get_trial(L);
    const char *name = t ? t->info.objective.metric : "objective";
    bp_err e;
    if (st->log && bp_runlog_metric_unit(st->log, st->run, name, unit, step, v, &e))
        return luaL_error(L, "%s", e.msg);
    if (!isfinite(v)) return bp_lua_diverge(L, name, v, step);
    if (!t) {
        lua_pushboolean(L, st->log != NULL);
        return 1;
    }
    if (!t->have_best || (t->info.objective.maximize ? v > t->best : v < t->best))
        t->best = v, t->have_best = 1;
    int64_t prev = t->prev_step;
    if (step > t->prev_step) t->prev_step = step;
    if (st->log && t->info.prune.rule != BP_PRUNE_NONE) {
        char why[BP_ERR_MAX];
        int r = bp_sweep_prune_check(st->log, &t->info, t->trial, prev, step, v, t->best,
                                     why, sizeof why, &e);
        if (r < 0) return luaL_error(L, "%s", e.msg);
        if (r > 0) {
            t->pruned = 1;
            lua_pushstring(L, why); /* no position: it is not the script's error */
            return lua_error(L);
        }
    }
    lua_pushboolean(L, st->log != NULL);
    return 1;
}

/* bp.sweep() -> {id =, trial =, objective =, direction = "min"|"max",
 * prune = "median:3:startup=5"|...|nil} for a sweep's trial, else nil. */
static int l_sweep(lua_State *L) {
    trial *t = get_trial(L);
    if (!t) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)t->info.id);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, (lua_Integer)t->trial);
    lua_setfield(L, -2, "trial");
    lua_pushstring(L, t->info.objective.metric);
    lua_setfield(L, -2, "objective");
    lua_pushstring(L, t->info.objective.maximize ? "max" : "min");
    lua_setfield(L, -2, "direction");
    char prune[96];
    bp_prune_text(&t->info.prune, prune, sizeof prune);
    if (prune[0]) {
        lua_pushstring(L, prune);
        lua_setfield(L, -2, "prune");
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* bp.suggest: a parameter declared with its space where it is read          */

#define SUGGESTED_KEY "backprop.suggested" /* registry: name -> canonical spec */

/* The default at index d as a user would type it (a number's every digit,
 * so that a range's bounds are checked exactly). */
static const char *default_text(lua_State *L, int d, char *buf, size_t size) {
    if (lua_isinteger(L, d)) snprintf(buf, size, "%lld", (long long)lua_tointeger(L, d));
    else if (lua_type(L, d) == LUA_TNUMBER)
        snprintf(buf, size, "%.17g", lua_tonumber(L, d));
    else if (lua_type(L, d) == LUA_TBOOLEAN)
        snprintf(buf, size, "%s", lua_toboolean(L, d) ? "true" : "false");
    else return lua_tostring(L, d);
    return buf;
}

/* What bp.suggest decides before it touches Lua again: the spec parsed
 * (canonical text into *canon, malloc'd), the default and the given value
 * checked against it, a value drawn into value[] when the sweep samples
 * and none was given (*drawn). -1 with the reason in e (*canon freed). */
static int decide(lua_State *L, const char *arg, const char *dflt, const char *given,
                  char **canon, bp_sweep_kind *kind, char *value, size_t size, int *drawn,
                  bp_err *e) {
    trial *t = get_trial(L);
    bp_sweep_spec *s = bp_sweep_spec_new();
    bp_err why;
    int rc = !s                                ? bp_err_set(e, "out of memory")
             : bp_sweep_spec_add(s, arg, &why) ? bp_err_set(e, "bp.suggest: %s", why.msg)
                                               : 0;
    const bp_sweep_param *p = rc ? NULL : &s->params[0];
    *canon = NULL;
    *drawn = 0;
    if (!rc && !(*canon = bp_sweep_param_text(p))) rc = bp_err_set(e, "out of memory");
    if (!rc && bp_sweep_param_check(p, dflt, &why))
        rc = bp_err_set(e, "bp.suggest: the default is not in the space: %s", why.msg);
    if (!rc && given) rc = bp_sweep_param_check(p, given, e);
    if (!rc && !given && t && t->sampled) {
        char buf[64]; /* a number drawn, or p's own value returned */
        snprintf(value, size, "%s",
                 bp_sweep_suggested_value(buf, sizeof buf, p, t->info.seed, t->setting));
        *drawn = 1;
    }
    if (!rc) *kind = p->kind;
    bp_sweep_spec_free(s);
    if (rc) {
        free(*canon);
        *canon = NULL;
    }
    return rc ? -1 : 0;
}

/* Raises if name was suggested before in this run with another spec
 * (canon); else remembers it. Whether it is the first time. */
static int same_spec(lua_State *L, const char *name, const char *canon) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, SUGGESTED_KEY);
    int first = lua_getfield(L, -1, name) != LUA_TSTRING;
    if (!first && strcmp(lua_tostring(L, -1), canon))
        luaL_error(L,
                   "bp.suggest: parameter %s is suggested as '%s' and as '%s': one name,"
                   " one specification",
                   name, lua_tostring(L, -1), canon);
    lua_pop(L, 1);
    lua_pushstring(L, canon);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    return first;
}

/* bp.suggest(name, spec, default) -> the parameter's value: the command
 * line's (checked against spec), else in a sweep that samples (--trials N)
 * the sampler's, else the default (which must lie in spec too). spec is a
 * sweep's SPEC ("loguniform:1e-4:1", "int:1:8", "choice:sgd,adam"). A real
 * range gives a float, int an integer, a list or choice the default's
 * type. In a sweep the name and its spec join the sweep's space. */
static int l_suggest(lua_State *L) {
    const char *name = luaL_checkstring(L, 1), *spec = luaL_checkstring(L, 2);
    int dt = lua_type(L, 3);
    if (dt != LUA_TNUMBER && dt != LUA_TSTRING && dt != LUA_TBOOLEAN)
        return luaL_typeerror(L, 3, "number, string or boolean (the default)");
    if (!*name || name[strcspn(name, "=? \t\r\n")])
        return luaL_argerror(L, 1, "a parameter's name (no '=', '?' or space)");
    lua_settop(L, 3);
    const char *arg = lua_pushfstring(L, "%s=%s", name, spec); /* 4 */
    char dbuf[64], value[256];
    const char *dflt = default_text(L, 3, dbuf, sizeof dbuf);
    const char *given = bp_lua_param_read(L, name); /* anchored in the registry */
    char *canon;
    bp_sweep_kind kind = BP_SWEEP_LIST;
    int drawn;
    bp_err e;
    if (decide(L, arg, dflt, given, &canon, &kind, value, sizeof value, &drawn, &e))
        return luaL_error(L, "%s", e.msg);
    lua_pushstring(L, canon);
    free(canon);
    canon = (char *)lua_tostring(L, -1);
    if (same_spec(L, name, canon)) { /* the first time in this run */
        state *st = STATE(L);
        trial *t = get_trial(L);
        if (t && st->log &&
            bp_runlog_sweep_suggest(st->log, t->info.id, t->trial, name, canon, &e))
            return luaL_error(L, "%s", e.msg);
    }
    if (drawn) {
        bp_lua_param_set(L, name, value);
        given = value;
    }
    int real = kind == BP_SWEEP_UNIFORM || kind == BP_SWEEP_LOGUNIFORM;
    if (real || kind == BP_SWEEP_INT) {
        double x = given ? strtod(given, NULL) : lua_tonumber(L, 3);
        if (real) lua_pushnumber(L, x);
        else lua_pushinteger(L, (lua_Integer)x);
    } else if (given) {
        bp_lua_push_param(L, name, given, 3);
    } else {
        lua_pushvalue(L, 3);
    }
    bp_lua_record_param(L, name, lua_gettop(L));
    return 1;
}

static const luaL_Reg funcs[] = {
    {"report", l_report}, {"sweep", l_sweep}, {"suggest", l_suggest}, {NULL, NULL}};

void bp_lua_open_sweep(lua_State *L) { bp_lua_add_funcs(L, funcs); }

/* ------------------------------------------------------------------------ */
/* Sweep files                                                               */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the string at the top of the stack to the list at index list. */
static void append(lua_State *L, int list) {
    lua_rawseti(L, list, (lua_Integer)lua_rawlen(L, list) + 1);
}

/* One parameter's SPEC: a string as written, a number, or a list of values
 * joined with commas (a grid's values, in order). */
static void push_spec(lua_State *L, const char *path, const char *key, int v) {
    if (lua_type(L, v) == LUA_TSTRING || lua_type(L, v) == LUA_TNUMBER) {
        lua_pushstring(L, lua_tostring(L, v));
        return;
    }
    if (lua_type(L, v) != LUA_TTABLE || lua_rawlen(L, v) == 0)
        luaL_error(L,
                   "%s: params.%s must be a string (\"loguniform:1e-4:1e-1\") or a"
                   " non-empty list of values",
                   path, key);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer k = 1; k <= (lua_Integer)lua_rawlen(L, v); k++) {
        int t = lua_rawgeti(L, v, k);
        if (t != LUA_TNUMBER && t != LUA_TSTRING && t != LUA_TBOOLEAN)
            luaL_error(L, "%s: params.%s[%d] is a %s, not a value", path, key, (int)k,
                       lua_typename(L, t));
        size_t len;
        const char *s = luaL_tolstring(L, -1, &len);
        lua_remove(L, -2);
        if (k > 1) luaL_addchar(&b, ',');
        luaL_addvalue(&b);
        (void)s;
    }
    luaL_pushresult(&b);
}

/* Raises, naming the file, when the sweep table at spec has a field that
 * is not one of a sweep file's. */
static void check_fields(lua_State *L, const char *path, int spec) {
    static const char *const fields[] = {"script",  "params",    "trials", "seed",
                                         "repeats", "objective", "prune",  "name",
                                         "sampler", NULL};
    lua_pushnil(L);
    while (lua_next(L, spec)) {
        lua_pop(L, 1);
        int known = 0;
        for (int k = 0; fields[k] && lua_type(L, -1) == LUA_TSTRING; k++)
            known |= !strcmp(lua_tostring(L, -1), fields[k]);
        if (!known)
            luaL_error(L,
                       "%s: unknown field '%s' (script, params, trials, seed,"
                       " repeats, objective, prune, name, sampler)",
                       path, luaL_tolstring(L, -1, NULL));
    }
}

/* Appends the sweep's options that the table at spec sets to the list at
 * index list, as command-line options ("--trials", "20"). */
static void append_options(lua_State *L, const char *path, int spec, int list) {
    static const char *const options[] = {"trials", "seed", "repeats", "objective",
                                          "prune",  "name", "sampler", NULL};
    for (int k = 0; options[k]; k++) {
        int t = lua_getfield(L, spec, options[k]);
        if (t == LUA_TNIL) {
            lua_pop(L, 1);
            continue;
        }
        int integer = k < 3;
        if (integer ? !lua_isinteger(L, -1) : t != LUA_TSTRING)
            luaL_error(L, "%s: %s must be %s", path, options[k],
                       integer ? "an integer" : "a string");
        lua_pushfstring(L, "--%s", options[k]);
        append(L, list);
        lua_pushstring(L, lua_tostring(L, -1));
        append(L, list);
        lua_pop(L, 1);
    }
}

/* Appends key=SPEC for each parameter of the table at params to the list
 * at index list. A table's keys come in no order: sorted, the grid is the
 * same every time and the canonical spec (and so the sweep's uid) too. */
static void append_params(lua_State *L, const char *path, int params, int list) {
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, params)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: params' keys must be names", path);
        n++;
    }
    const char **keys = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n ? n : 1), 0);
    n = 0;
    lua_pushnil(L);
    while (lua_next(L, params)) {
        lua_pop(L, 1);
        keys[n++] = lua_tostring(L, -1); /* anchored: a key of params */
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_str);
    for (int k = 0; k < n; k++) {
        lua_getfield(L, params, keys[k]);
        push_spec(L, path, keys[k], lua_gettop(L));
        lua_pushfstring(L, "%s=%s", keys[k], lua_tostring(L, -1));
        append(L, list);
        lua_pop(L, 2);
    }
    lua_pop(L, 1); /* keys */
}

int bp_lua_sweep_file(lua_State *L, const char *path) {
    if (luaL_loadfile(L, path) != LUA_OK) return lua_error(L);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1))
        return luaL_error(
            L, "%s: a sweep file returns a table {script = ..., params = {...}}", path);
    int spec = lua_gettop(L);
    check_fields(L, path, spec);
    lua_newtable(L);
    int list = lua_gettop(L);
    append_options(L, path, spec, list);
    if (lua_getfield(L, spec, "script") != LUA_TSTRING)
        return luaL_error(L, "%s: script must be the path of the script to sweep", path);
    append(L, list);
    int t = lua_getfield(L, spec, "params"); /* none: the script suggests them */
    if (t != LUA_TTABLE && t != LUA_TNIL)
        return luaL_error(L, "%s: params must be a table {key = SPEC, ...}", path);
    if (t == LUA_TTABLE) append_params(L, path, lua_gettop(L), list);
    lua_pushvalue(L, list);
    lua_replace(L, spec);
    lua_settop(L, spec);
    return 1;
}
