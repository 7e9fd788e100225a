/* lrunlog.c: what a script records of its run: parameters, metrics, tags,
 * notes, weight snapshots, and the run's end when a loss diverges.
 *
 * The host (`backprop run`) attaches its run log and the run's id
 * (bp_lua_attach_run); without one (a stock lua5.4) every function here
 * records nothing and returns false, so that a script runs the same either
 * way. A failure of the database is the environment's: the bp.* functions
 * return nil, message; the module's own writes (a parameter read, a step's
 * loss) raise instead, since a run whose numbers are missing cannot be
 * queried. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_lua.h"
#include "lbackprop.h"

/* ------------------------------------------------------------------------ */
/* The host's side                                                           */

void bp_lua_attach_run(lua_State *L, bp_runlog *log, int64_t run, uint64_t seed) {
    state *st = bp_lua_state(L);
    if (!st) return;
    st->log = log;
    st->run = run;
    st->seed = seed;
    bp_rng_seed(&st->rng, seed);
}

void bp_lua_set_stop_flag(lua_State *L, const volatile sig_atomic_t *flag) {
    state *st = bp_lua_state(L);
    if (st) st->stop = flag;
}

int bp_lua_diverged(lua_State *L) {
    state *st = bp_lua_state(L);
    return st ? st->diverged : 0;
}

/* ------------------------------------------------------------------------ */
/* The script's side                                                        */

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

/* Records parameter `name` with the value at index v, typed as Lua types
 * it. A failure here is the database's: it stops the script, since a run
 * whose parameters are not recorded cannot be queried. */
void bp_lua_record_param(lua_State *L, const char *name, int v) {
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

/* The hot path of train_step's own logging, and fit's: raises if the
 * database fails, or if the name was logged in the other unit. */
int bp_lua_log_metric(lua_State *L, const char *name, bp_metric_unit unit, int64_t at,
                      double v) {
    state *st = STATE(L);
    if (!st->log) return 0;
    bp_err e;
    if (bp_runlog_metric_unit(st->log, st->run, name, unit, at, v, &e))
        return luaL_error(L, "%s", e.msg);
    return 0;
}

void bp_lua_log_epoch_end(lua_State *L, int64_t epoch, int64_t step) {
    state *st = STATE(L);
    bp_err e;
    if (st->log && bp_runlog_epoch_end(st->log, st->run, epoch, step, &e))
        luaL_error(L, "%s", e.msg);
}

/* Logs one value of bp.log: 0, or -1 with the database's failure pushed
 * (nil, message); raises for a name logged in the other unit (the script's
 * mistake) and, once recorded, for a NaN or infinite "loss". */
static int log_value(lua_State *L, const char *name, double v, bp_metric_unit unit,
                     int64_t at) {
    state *st = STATE(L);
    bp_err e;
    int rc = st->log ? bp_runlog_metric_unit(st->log, st->run, name, unit, at, v, &e) : 0;
    if (rc == -2) return luaL_error(L, "%s", e.msg);
    if (rc) return bp_lua_fail(L, e.msg), -1;
    if (!isfinite(v) && strcmp(name, "loss") == 0) bp_lua_diverge(L, name, v, at);
    return 0;
}

/* Strings sort before the comparison: bp.log{...}'s names in order, so that
 * what it logs (and where a mistake stops it) does not depend on the
 * table's order. */
static int name_before(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* bp.log{name = value, ..., step = n | epoch = n}: each value at `at`, in
 * `unit`, the names sorted. 0, or -1 with nil, message pushed. */
static int log_table(lua_State *L, bp_metric_unit unit, int64_t at) {
    int n = 0;
    for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_argerror(L, 1, lua_pushfstring(L, "metric names are strings, got %s",
                                                       luaL_typename(L, -2)));
        const char *k = lua_tostring(L, -2);
        if (!strcmp(k, "step") || !strcmp(k, "epoch")) continue;
        if (!*k) return luaL_argerror(L, 1, "metric name must not be empty");
        if (lua_type(L, -1) != LUA_TNUMBER) bp_lua_field_error(L, 1, k, "number");
        n++;
    }
    const char **names = lua_newuserdatauv(L, sizeof *names * (size_t)(n ? n : 1), 0);
    int k = 0;
    for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1)) {
        const char *key = lua_tostring(L, -2);
        if (strcmp(key, "step") && strcmp(key, "epoch")) names[k++] = key;
    }
    qsort(names, (size_t)n, sizeof *names, name_before);
    for (k = 0; k < n; k++) {
        lua_getfield(L, 1, names[k]);
        double v = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (log_value(L, names[k], v, unit, at)) return -1;
    }
    return 0;
}


/* bp.log(name, value [, step | {step = n} | {epoch = n}]) and bp.log{name =
 * value, ..., step = n | epoch = n} -> true, or nil, message. The step
 * defaults to the number of training steps taken so far; an epoch's
 * figures given with epoch = n are per epoch (and the epoch ended at the
 * training steps taken so far, if any). Outside `backprop run` nothing is
 * recorded and it returns false. A NaN or infinite "loss" is recorded,
 * then ends the script as diverged. */
static int l_log(lua_State *L) {
    state *st = STATE(L);
    bp_lua_params_gate(L, st);
    bp_metric_unit unit = BP_UNIT_STEP;
    int64_t at;
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_settop(L, 1);
        at = bp_lua_at_fields(L, 1, 1, &unit);
        if (log_table(L, unit, at)) return 2;
    } else {
        size_t len;
        const char *name = luaL_checklstring(L, 1, &len);
        luaL_argcheck(L, len > 0, 1, "metric name must not be empty");
        double v = luaL_checknumber(L, 2);
        at = bp_lua_opt_at(L, 3, &unit);
        if (log_value(L, name, v, unit, at)) return 2;
    }
    if (unit == BP_UNIT_EPOCH && st->step > 0 && st->log) {
        bp_err e;
        if (bp_runlog_epoch_end(st->log, st->run, at, st->step, &e))
            return bp_lua_fail(L, e.msg);
    }
    lua_pushboolean(L, st->log != NULL);
    return 1;
}

/* A graph's snapshot: every tensor, buffers too, by name and shape. */
static int log_graph_weights(lua_State *L, state *st, const bp_net *net, int64_t step,
                             const char *name) {
    size_t N = bp_net_param_count(net);
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    double *p = malloc(sizeof(double) * (N ? N : 1));
    if (!p) return luaL_error(L, "out of memory");
    bp_net_params_get(net, p);
    bp_err e;
    int rc = bp_runlog_snapshot_tensors(st->log, st->run, step, name, t, n, p, N, 0, &e);
    free(p);
    if (rc) return bp_lua_fail(L, e.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* bp.log_weights(net [, step [, name]]) -> true, or nil, message: a
 * snapshot of every weight and bias (and a graph's buffers: batch norm's
 * running statistics), stored exactly */
static int l_log_weights(lua_State *L) {
    bp_lua_params_gate(L, STATE(L));
    bp_net *net = bp_lua_check_net(L, 1);
    int64_t step = bp_lua_opt_step(L, 2);
    const char *name = luaL_optstring(L, 3, NULL);
    state *st = STATE(L);
    if (!st->log) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (net->graph) return log_graph_weights(L, st, net, step, name);
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
    if (rc) return bp_lua_fail(L, e.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* bp.tag(key [, value]) and bp.note(text) -> true, or nil, message */
static int l_tag(lua_State *L) {
    const char *k = luaL_checkstring(L, 1);
    const char *v = lua_isnoneornil(L, 2) ? NULL : luaL_tolstring(L, 2, NULL);
    state *st = STATE(L);
    bp_err e;
    if (st->log && bp_runlog_tag(st->log, st->run, k, v, &e))
        return bp_lua_fail(L, e.msg);
    lua_pushboolean(L, st->log != NULL);
    return 1;
}

static int l_note(lua_State *L) {
    const char *text = luaL_checkstring(L, 1);
    state *st = STATE(L);
    bp_err e;
    if (st->log && bp_runlog_note(st->log, st->run, text, &e))
        return bp_lua_fail(L, e.msg);
    lua_pushboolean(L, st->log != NULL);
    return 1;
}

/* bp.log_text(name, text [, step]) -> true (false outside a run), or nil,
 * message: text (a model's sample) recorded under name at step (default:
 * the module's step count, as bp.log's) */
static int l_log_text(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    int64_t step = bp_lua_opt_step(L, 3);
    state *st = STATE(L);
    bp_err e;
    if (st->log && bp_runlog_text(st->log, st->run, name, step, text, len, &e))
        return bp_lua_fail(L, e.msg);
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
    if (st->log && bp_runlog_flush(st->log, &e)) return bp_lua_fail(L, e.msg);
    lua_pushboolean(L, st->log != NULL);
    return 1;
}

static const luaL_Reg funcs[] = {{"log", l_log},       {"log_weights", l_log_weights},
                                 {"tag", l_tag},       {"note", l_note}, {"log_text", l_log_text},
                                 {"run_id", l_run_id}, {"flush", l_flush},
                                 {NULL, NULL}};

void bp_lua_open_runlog(lua_State *L) { bp_lua_add_funcs(L, funcs); }
