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

/* The hot path of train_step's own logging: raises if the database fails. */
int bp_lua_log_metric(lua_State *L, const char *name, int64_t step, double v) {
    state *st = STATE(L);
    if (!st->log) return 0;
    bp_err e;
    if (bp_runlog_metric(st->log, st->run, name, step, v, &e))
        return luaL_error(L, "%s", e.msg);
    return 0;
}

/* bp.log(name, value [, step]) -> true, or nil, message. step defaults to
 * the number of training steps taken so far. Outside `backprop run` nothing
 * is recorded and it returns false. A NaN or infinite "loss" is recorded,
 * then ends the script as diverged. */
static int l_log(lua_State *L) {
    bp_lua_params_gate(L, STATE(L));
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    luaL_argcheck(L, len > 0, 1, "metric name must not be empty");
    double v = luaL_checknumber(L, 2);
    int64_t step = bp_lua_opt_step(L, 3);
    state *st = STATE(L);
    if (st->log) {
        bp_err e;
        if (bp_runlog_metric(st->log, st->run, name, step, v, &e))
            return bp_lua_fail(L, e.msg);
    }
    if (!isfinite(v) && strcmp(name, "loss") == 0) bp_lua_diverge(L, name, v, step);
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
                                 {"tag", l_tag},       {"note", l_note},
                                 {"run_id", l_run_id}, {"flush", l_flush},
                                 {NULL, NULL}};

void bp_lua_open_runlog(lua_State *L) { bp_lua_add_funcs(L, funcs); }
