/* ltrain.c: training one step per call: net:train_step and train_steps on
 * Lua tables, net:train_batch on rows of a data set.
 *
 * train_step is the lecture's loop body, called once per sample from Lua, so
 * its cost is the call's: the common case (the same net and criterion as
 * the last call, one sample as a plain table) passes its checks on a pointer
 * compare and reads the sample with the fewest API calls (read_sample), so
 * that the step itself is most of the time. Each step counts, logs its loss
 * when net:log_loss asked, and ends the run as diverged when the loss is not
 * finite; train_step and train_steps also feed the progress line. */
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_progress.h"
#include "bp_util.h"
#include "lbackprop.h"

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

/* Whether the targets at arg are sequences' labels (a net whose output is
 * T steps of O / T scores): rows of T numbers, or one sample's list of T
 * (never its O targets: T < O). */
static int seq_labels(lua_State *L, int arg, int T) {
    if (lua_type(L, arg) != LUA_TTABLE) return 0;
    int rows = lua_rawgeti(L, arg, 1) == LUA_TTABLE;
    int w = rows ? (int)luaL_len(L, -1) : (int)luaL_len(L, arg);
    lua_pop(L, 1);
    return w == T;
}

/* The arguments of train_step and train_steps: the net (returned), x and y
 * into its buffers (*B rows, *single: one sample), the criterion (with
 * labels when y holds them) and the update (*opt, or *lr when *opt is
 * NULL). The first three checks pass on a pointer compare or a plain table
 * read when the call is the same as the last one (the lecture's loop), so
 * the step is most of the call's cost. */
/* What a step takes besides the criterion: a Lua loss (li: its index, 0
 * for none; k: the targets' width), a Lua optimiser (oi, 0 for none). */
typedef struct script_args {
    int li, k, oi;
} script_args;

/* Targets of any width for a Lua loss: B rows (as the inputs) into b. */
static int script_targets(lua_State *L, int arg, int B, buf *b) {
    int k, s;
    luaL_checktype(L, arg, LUA_TTABLE);
    if (lua_rawgeti(L, arg, 1) == LUA_TTABLE) k = (int)luaL_len(L, -1);
    else k = (int)luaL_len(L, arg);
    lua_pop(L, 1);
    if (bp_lua_check_matrix(L, arg, k < 1 ? 1 : k, b, &s, "targets") != B)
        luaL_argerror(L, arg, "expected as many rows of targets as of inputs");
    return k;
}

BP_STEP_PATH_FIRST static lnet *step_args(lua_State *L, state *st, int *B, int *single,
                                          bp_crit *crit, bp_optim **opt, double *lr,
                                          script_args *sa) {
    lnet *n = lua_touserdata(L, 1);
    if (!n || n != st->checked_net || n->running) {
        n = bp_lua_check_lnet(L, 1);
        st->checked_net = n;
    }
    bp_net *net = n->net;
    if (bp_lua_net_empty(net))
        luaL_error(L, "the network has no layers: call net:add first");
    const lloss *c = lua_touserdata(L, 4);
    *sa = (script_args){0, 0, 0};
    if (c && c == st->checked_loss) {
        *crit = (bp_crit){.loss = c->kind, .param = c->param};
    } else if (bp_lua_is_script_loss(L, 4)) {
        sa->li = 4;
        *crit = bp_crit_of(0);
    } else {
        *crit = bp_lua_check_crit(L, 4);
        if (lua_type(L, 4) == LUA_TUSERDATA) st->checked_loss = lua_touserdata(L, 4);
    }
    /* One sample of O targets, or of its class (a loss that takes labels,
     * O >= 2): {c} is never O targets then. */
    int top = lua_gettop(L), O = bp_net_outputs(net);
    if (sa->li) {
        *B = bp_lua_check_matrix(L, 2, net->inputs, &n->x, single, "inputs");
        sa->k = script_targets(L, 3, *B, &n->y);
    }
    int fast = !sa->li && read_sample(L, 2, net->inputs, &n->x) && read_sample(L, 3, O, &n->y);
    lua_settop(L, top);
    /* A sequence's labels: T a sample (bp_net_label_steps). */
    int T = O >= 2 && bp_loss_takes_labels(crit->loss) ? bp_net_label_steps(net) : 1;
    if (!fast && !sa->li && O >= 2 && bp_loss_takes_labels(crit->loss)) {
        fast = crit->labels =
            read_sample(L, 2, net->inputs, &n->x) && read_sample(L, 3, T, &n->y);
        lua_settop(L, top);
    }
    if (fast) {
        *B = *single = 1;
    } else if (!sa->li) {
        *B = bp_lua_check_matrix(L, 2, net->inputs, &n->x, single, "inputs");
        if (T > 1 && seq_labels(L, 3, T)) {
            int sy, By = bp_lua_check_matrix(L, 3, T, &n->y, &sy, "targets");
            crit->labels = 1;
            if (By != *B)
                luaL_argerror(L, 3,
                              lua_pushfstring(L,
                                              "expected %d rows of targets, as the "
                                              "inputs, got %d",
                                              *B, By));
        } else {
            bp_lua_check_targets(L, 3, crit, O, *B, *single, &n->y);
        }
    }
    /* A number (or a numeric string, as luaL_checknumber takes) is a
     * learning rate; anything else must be an optimizer. */
    int isnum;
    *lr = lua_tonumberx(L, 5, &isnum);
    *opt = NULL;
    if (!isnum || !(*lr >= 0 && *lr < INFINITY)) {
        *opt = bp_lua_test_optim(L, 5);
        if (!*opt && bp_lua_is_script_optim(L, 5)) sa->oi = 5;
        *lr = *opt || sa->oi ? 0 : bp_lua_check_lr(L, 5);
    }
    return n;
}

/* One step of n->net on the x and y in its buffers; raises on failure. */
static double step(lua_State *L, state *st, lnet *n, int B, bp_crit crit, bp_optim *opt,
                   double lr, const script_args *sa) {
    bp_err e;
    double loss;
    int rc = 0;
    if (sa->li)
        loss = bp_lua_script_step(L, 1, n->x.v, BP_F64, B, n->y.v, sa->k, sa->li, opt, sa->oi,
                                  lr);
    else if (opt || sa->oi)
        rc = bp_net_compute_grads_crit(n->net, n->x.v, n->y.v, B, crit, &loss, &e) ||
             (opt && bp_optim_step(opt, n->net, &e));
    else rc = bp_net_train_step_crit(n->net, n->x.v, n->y.v, B, crit, lr, &loss, &e);
    if (rc) luaL_error(L, "%s", e.msg);
    if (sa->oi && !sa->li) bp_lua_script_optim_step(L, sa->oi, 1);
    n->steps++;
    st->step++;
    bp_progress_step(st->progress, st->step, loss);
    if (n->log_name[0]) bp_lua_log_metric(L, n->log_name, BP_UNIT_STEP, n->steps, loss);
    if (!isfinite(loss)) bp_lua_diverge(L, "loss", loss, n->steps);
    return loss;
}

/* net:train_step(x, y, loss, lr | optimizer) -> loss: forward, loss,
 * backward, and the update: gradient descent with lr, or the optimizer's.
 * net:train_steps(x, y, loss, lr | optimizer, count) -> the last loss:
 * count steps on the same x and y, run in C (the lecture's loop without a
 * Lua call per step); each step is train_step's, logging included. */
static inline int train(lua_State *L, int counted) {
    state *st = STATE(L);
    bp_lua_params_gate(L, st);
    int B, single;
    bp_crit crit;
    bp_optim *opt;
    double lr;
    script_args sa;
    lnet *n = step_args(L, st, &B, &single, &crit, &opt, &lr, &sa);
    double loss = 0;
    if (!counted) {
        loss = step(L, st, n, B, crit, opt, lr, &sa);
    } else {
        lua_Integer count = luaL_checkinteger(L, 6);
        luaL_argcheck(L, count >= 1, 6, "count must be >= 1");
        const volatile sig_atomic_t *stop = st->stop;
        for (lua_Integer k = 0; k < count; k++) {
            if (stop && *stop) return luaL_error(L, "interrupted");
            loss = step(L, st, n, B, crit, opt, lr, &sa);
        }
    }
    n->single = single;
    lua_pushnumber(L, loss);
    return 1;
}

BP_STEP_PATH static int net_train_step(lua_State *L) { return train(L, 0); }
BP_STEP_PATH static int net_train_steps(lua_State *L) { return train(L, 1); }

/* net:train_batch(d, first, count, loss, lr | optimizer) -> loss: one step,
 * as net:train_step, on rows first..first+count-1 of d (fewer at the end),
 * read where they lie; a data set of one target a row gives a net of 2 or
 * more outputs class labels (softmax_ce, nll), as net:fit takes them, and
 * one of T a row a net of sequences (T x C) a label a step */
static int net_train_batch(lua_State *L) {
    bp_lua_params_gate(L, STATE(L));
    lnet *n = bp_lua_check_lnet(L, 1);
    bp_net *net = n->net;
    bp_data *d = bp_lua_check_data(L, 2);
    lua_Integer first = luaL_checkinteger(L, 3);
    if (d->n == 0) return luaL_argerror(L, 2, "the data set is empty (0 rows)");
    if (first < 1 || first > d->n)
        return luaL_argerror(
            L, 3, lua_pushfstring(L, "row %I out of range 1..%d", first, d->n));
    int count = bp_lua_check_int(L, 4, "batch size");
    int li = bp_lua_is_script_loss(L, 5) ? 5 : 0;
    bp_crit crit = li ? bp_crit_of(0) : bp_lua_check_crit(L, 5);
    bp_optim *opt = bp_lua_test_optim(L, 6);
    int oi = !opt && bp_lua_is_script_optim(L, 6) ? 6 : 0;
    double lr = opt || oi ? 0 : bp_lua_check_lr(L, 6);
    if (bp_lua_net_empty(net))
        return luaL_error(L, "the network has no layers: call net:add first");
    /* a label a row, a sequence's T a row (bp_net_label_steps) */
    crit.labels = !li && d->k == bp_net_label_steps(net) && bp_net_outputs(net) >= 2 &&
                  bp_loss_takes_labels(crit.loss);
    if (net->inputs != d->d || (bp_net_outputs(net) != d->k && !crit.labels && !li))
        return luaL_argerror(L, 2,
                             lua_pushfstring(L,
                                             "the network maps %d inputs to %d "
                                             "outputs, the data %d to %d",
                                             net->inputs, bp_net_outputs(net), d->d,
                                             d->k));
    const double *y;
    int B = bp_data_batch(d, (int)first - 1, count, NULL, &y, NULL);
    bp_err e;
    double loss;
    /* the rows in place: byte-backed ones become floats first */
    if (bp_data_materialize(d, &e)) return luaL_error(L, "%s", e.msg);
    const void *x = bp_data_row(d, (int)first - 1);
    if (li) {
        loss = bp_lua_script_step(L, 1, x, d->dtype, B, y, d->k, li, opt, oi, lr);
    } else {
        /* the rows in either dtype; lr -1: gradients only, for the optimiser */
        int rc = bp_net_step_rows_crit(net, x, d->dtype, NULL, y, B, crit,
                                       opt || oi ? -1 : lr, &loss, &e) ||
                 (opt && bp_optim_step(opt, net, &e));
        if (rc) return luaL_error(L, "%s", e.msg);
        if (oi) bp_lua_script_optim_step(L, oi, 1);
    }
    n->single = 0;
    n->steps++;
    STATE(L)->step++;
    if (n->log_name[0]) bp_lua_log_metric(L, n->log_name, BP_UNIT_STEP, n->steps, loss);
    if (!isfinite(loss)) bp_lua_diverge(L, "loss", loss, n->steps);
    lua_pushnumber(L, loss);
    return 1;
}

static const luaL_Reg net_methods[] = {{"train_step", net_train_step},
                                       {"train_steps", net_train_steps},
                                       {"train_batch", net_train_batch},
                                       {NULL, NULL}};

void bp_lua_open_train(lua_State *L) { bp_lua_add_methods(L, NET_TYPE, net_methods); }
