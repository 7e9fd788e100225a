/* lfit.c: whole data sets through a net, in C: net:fit, net:evaluate and
 * net:predict.
 *
 * net:fit runs whole epochs through the engine's loop (engine/bp_fit.h) and
 * writes each step's loss to the run log from its step callback, so that a
 * script pays no Lua call per step; what Lua sees is one table of stats per
 * epoch and, if it asks, a callback between epochs. net:evaluate and
 * net:predict go over the data in batches of EVAL_BATCH rows.
 *
 * The engine's loop must not be left by a Lua error (a longjmp would skip
 * its cleanup), so the step callback never raises: it keeps a failure and
 * the loop stops; the error is raised once the epoch has returned. The
 * bp_fit itself lives in a userdata, so that an error between epochs frees
 * it through __gc. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_fit.h"
#include "bp_progress.h"
#include "bp_util.h"
#include "lbackprop.h"

#define FIT_TYPE "backprop.fit" /* internal: owns a bp_fit while net:fit runs */

/* Rows per forward pass in evaluate and predict: large enough for OpenBLAS
 * to pay off, small enough that the net's buffers stay a few MB. */
#define EVAL_BATCH 500

/* Pushes an O x O confusion matrix (m[true * O + predicted]) as rows. */
static void push_confusion(lua_State *L, const int *m, int O) {
    lua_createtable(L, O, 0);
    for (int t = 0; t < O; t++) {
        lua_createtable(L, O, 0);
        for (int p = 0; p < O; p++) {
            lua_pushinteger(L, m[t * O + p]);
            lua_rawseti(L, -2, p + 1);
        }
        lua_rawseti(L, -2, t + 1);
    }
}

/* net:evaluate(d [, loss]) -> {loss =, accuracy =, confusion = {{...}}}:
 * loss when a loss is given; accuracy and confusion (rows: true class,
 * columns: predicted) when d has class labels */
static int net_evaluate(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    bp_data *d = bp_lua_check_data(L, 2);
    int with_loss = !lua_isnoneornil(L, 3);
    int kind = with_loss ? bp_lua_check_loss_arg(L, 3) : 0;
    int O = d->k, labels = d->label != NULL;
    int *m = labels ? lua_newuserdatauv(L, sizeof(int) * (size_t)O * O, 0) : NULL;
    double loss, acc;
    bp_err e;
    if (bp_fit_evaluate(n->net, d, EVAL_BATCH, kind, with_loss ? &loss : NULL,
                        labels ? &acc : NULL, m, &e))
        return luaL_error(L, "%s", e.msg);
    n->single = 0;
    lua_createtable(L, 0, 3);
    if (with_loss) {
        lua_pushnumber(L, loss);
        lua_setfield(L, -2, "loss");
    }
    if (labels) {
        lua_pushnumber(L, acc);
        lua_setfield(L, -2, "accuracy");
        push_confusion(L, m, O);
        lua_setfield(L, -2, "confusion");
    }
    return 1;
}

/* net:predict(d [, "class" | "output"]) -> a list of predicted classes 1..C
 * (the default when d has class labels), or of output rows */
static int net_predict(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    bp_net *net = n->net;
    bp_data *d = bp_lua_check_data(L, 2);
    static const char *const what[] = {"class", "output", NULL};
    int outputs = luaL_checkoption(L, 3, d->label ? "class" : "output", what);
    if (net->n_layers == 0)
        return luaL_error(L, "the network has no layers: call net:add first");
    if (net->inputs != d->d)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L,
                                             "the network takes %d inputs, the "
                                             "data has %d",
                                             net->inputs, d->d));
    int O = bp_net_outputs(net);
    lua_createtable(L, d->n, 0);
    for (int s = 0; s < d->n; s += EVAL_BATCH) {
        int B = d->n - s < EVAL_BATCH ? d->n - s : EVAL_BATCH;
        bp_err e;
        const double *out = bp_net_forward_as(net, bp_data_row(d, s), d->dtype, B, &e);
        if (!out) return luaL_error(L, "%s", e.msg);
        for (int b = 0; b < B; b++) {
            if (outputs) bp_lua_push_matrix(L, out + (size_t)b * O, 1, O, 1);
            else lua_pushinteger(L, bp_argmax(out + (size_t)b * O, O) + 1);
            lua_rawseti(L, -2, s + b + 1);
        }
    }
    n->single = 0;
    return 1;
}

/* The bp_fit of a running net:fit, freed by __gc if an error leaves early. */
typedef struct fitbox {
    bp_fit *f;
} fitbox;

static int fitbox_gc(lua_State *L) {
    fitbox *b = luaL_checkudata(L, 1, FIT_TYPE);
    bp_fit_free(b->f);
    b->f = NULL;
    return 0;
}

/* What the step callback needs: it runs inside the engine's loop, so it
 * never raises; a failure is kept and raised once the epoch returns. */
typedef struct fit_ctx {
    state *st;
    lnet *n;
    const char *log; /* metric name of each step's loss, or NULL */
    int failed, interrupted;
    bp_err e;
} fit_ctx;

static int fit_step(void *ud, int64_t step, double loss) {
    (void)step;
    fit_ctx *c = ud;
    c->n->steps++;
    c->st->step++;
    bp_progress_step(c->st->progress, c->st->step, loss);
    if (c->log && c->st->log &&
        bp_runlog_metric(c->st->log, c->st->run, c->log, c->n->steps, loss, &c->e)) {
        c->failed = 1;
        return 1;
    }
    if (c->st->stop && *c->st->stop) {
        c->interrupted = 1;
        return 1;
    }
    return 0;
}

static const char *const fit_options[] = {
    "data",      "epochs",    "batch",       "loss",      "lr",         "optimizer",
    "shuffle",   "drop_last", "log",         "epoch_log", "validation", "val_name",
    "confusion", "callback",  "first_epoch", NULL};

/* Stack slots of net:fit, so that what the options name stays anchored even
 * if a callback changes the table. */
enum { S_NET = 1, S_OPTS, S_DATA, S_OPT, S_VAL, S_CB, S_LOSS, S_BOX, S_CONF, S_HIST };

/* A userdata field of the options into its slot (nil allowed if optional). */
static void udata_field(lua_State *L, const char *name, const char *type, int required) {
    int t = lua_getfield(L, S_OPTS, name);
    if (t == LUA_TNIL && !required) return;
    if (!luaL_testudata(L, -1, type)) bp_lua_field_error(L, S_OPTS, name, type);
}

/* net:fit{data =, loss =, lr = | optimizer =, epochs = 1, batch = 32,
 * shuffle = true, drop_last = false, log = (net:log_loss's name), epoch_log
 * = true, validation =, val_name = "val", confusion = false, callback =,
 * first_epoch = 1} -> a list of each epoch's stats */
static int net_fit(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    state *st = STATE(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    bp_lua_check_options(L, S_OPTS, fit_options, 0);
    udata_field(L, "data", DATA_TYPE, 1);       /* S_DATA */
    udata_field(L, "optimizer", OPTIM_TYPE, 0); /* S_OPT */
    udata_field(L, "validation", DATA_TYPE, 0); /* S_VAL */
    if (lua_getfield(L, S_OPTS, "callback") != LUA_TNIL && !lua_isfunction(L, -1))
        bp_lua_field_error(L, S_OPTS, "callback", "function"); /* S_CB */
    int t = lua_getfield(L, S_OPTS, "loss");                   /* S_LOSS */
    if (t == LUA_TNIL) luaL_argerror(L, S_OPTS, "field 'loss' is required");
    if (t != LUA_TSTRING && !luaL_testudata(L, -1, LOSS_TYPE))
        bp_lua_field_error(L, S_OPTS, "loss", "loss name or " LOSS_TYPE);
    if (t == LUA_TSTRING) bp_lua_loss_parse(L, lua_tostring(L, -1), S_OPTS, "loss");
    bp_fit_config c = {0};
    c.loss = bp_lua_check_loss_arg(L, S_LOSS);
    c.batch = bp_lua_opt_int(L, S_OPTS, "batch", 32, 1);
    int epochs = bp_lua_opt_int(L, S_OPTS, "epochs", 1, 1);
    int first_epoch = bp_lua_opt_int(L, S_OPTS, "first_epoch", 1, 1);
    c.shuffle = bp_lua_opt_bool(L, S_OPTS, "shuffle", 1);
    c.drop_last = bp_lua_opt_bool(L, S_OPTS, "drop_last", 0);
    c.rng = &st->rng;
    int epoch_log = bp_lua_opt_bool(L, S_OPTS, "epoch_log", 1);
    int log_confusion = bp_lua_opt_bool(L, S_OPTS, "confusion", 0);
    char val_name[32], log_name[64];
    bp_lua_opt_str(L, S_OPTS, "val_name", "val", val_name, sizeof val_name);
    const char *log = n->log_name[0] ? n->log_name : NULL;
    if (lua_getfield(L, S_OPTS, "log") == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        log = NULL;
    else if (!lua_isnil(L, -1) && !lua_isstring(L, -1))
        bp_lua_field_error(L, S_OPTS, "log", "string or false");
    else if (lua_isstring(L, -1))
        log = bp_lua_opt_str(L, S_OPTS, "log", NULL, log_name, sizeof log_name);
    lua_pop(L, 1);
    if (log && !log[0])
        luaL_argerror(L, S_OPTS, "field 'log': metric name must not be empty");
    int has_lr = lua_getfield(L, S_OPTS, "lr") != LUA_TNIL;
    lua_pop(L, 1);
    if (has_lr == !lua_isnil(L, S_OPT))
        luaL_argerror(L, S_OPTS,
                      has_lr ? "give lr or optimizer, not both"
                             : "field 'lr' or 'optimizer' is required");
    if (has_lr) {
        lua_getfield(L, S_OPTS, "lr");
        if (lua_type(L, -1) != LUA_TNUMBER) bp_lua_field_error(L, S_OPTS, "lr", "number");
        c.lr = lua_tonumber(L, -1);
        if (!(isfinite(c.lr) && c.lr >= 0))
            luaL_argerror(L, S_OPTS,
                          lua_pushfstring(L,
                                          "field 'lr': must be a finite "
                                          "number >= 0, got %s",
                                          isnan(c.lr) ? "nan" : lua_tostring(L, -1)));
        lua_pop(L, 1);
    }
    c.opt = lua_isnil(L, S_OPT) ? NULL : bp_lua_test_optim(L, S_OPT);
    fit_ctx ctx = {.st = st, .n = n, .log = log};
    if (st->progress) { /* the progress line can count down to the end */
        const bp_data *d = bp_lua_check_data(L, S_DATA);
        int64_t per = c.drop_last ? d->n / c.batch : (d->n + c.batch - 1) / c.batch;
        atomic_store_explicit(&st->progress->total, st->step + per * epochs,
                              memory_order_relaxed);
        atomic_store_explicit(&st->progress->epochs, first_epoch + epochs - 1,
                              memory_order_relaxed);
    }
    c.on_step = fit_step;
    c.ud = &ctx;

    bp_data *data = bp_lua_check_data(L, S_DATA);
    fitbox *box = lua_newuserdatauv(L, sizeof *box, 0); /* S_BOX */
    box->f = NULL;
    luaL_setmetatable(L, FIT_TYPE);
    bp_err e;
    if (!(box->f = bp_fit_new(data, &c, &e))) return luaL_argerror(L, S_OPTS, e.msg);
    int O = data->k;
    int *conf = lua_newuserdatauv(L, sizeof(int) * (size_t)O * O, 0); /* S_CONF */
    lua_newtable(L);                                                  /* S_HIST */

    for (int epoch = first_epoch; epoch < first_epoch + epochs; epoch++) {
        if (st->progress)
            atomic_store_explicit(&st->progress->epoch, epoch, memory_order_relaxed);
        /* A callback may have closed any of these: look again each time. */
        bp_net *net = bp_lua_check_lnet(L, S_NET)->net;
        data = bp_lua_check_data(L, S_DATA);
        if (!lua_isnil(L, S_OPT)) bp_lua_test_optim(L, S_OPT); /* raises if closed */
        bp_data *val = lua_isnil(L, S_VAL) ? NULL : bp_lua_check_data(L, S_VAL);
        double t0 = bp_clock(), mean;
        int rc = bp_fit_epoch(box->f, net, data, &mean, &e);
        double seconds = bp_clock() - t0;
        if (ctx.failed) return luaL_error(L, "%s", ctx.e.msg);
        if (ctx.interrupted) return luaL_error(L, "interrupted");
        if (rc < 0) {
            if (!bp_fit_diverged(box->f)) return luaL_error(L, "%s", e.msg);
            double last = bp_fit_last_loss(box->f);
            if (log) bp_lua_log_metric(L, log, n->steps + 1, last);
            return bp_lua_diverge(L, "loss", last, n->steps + 1);
        }
        n->single = 0;
        lua_createtable(L, 0, 8);
        lua_pushinteger(L, epoch);
        lua_setfield(L, -2, "epoch");
        lua_pushinteger(L, n->steps);
        lua_setfield(L, -2, "steps");
        lua_pushnumber(L, seconds);
        lua_setfield(L, -2, "seconds");
        lua_pushnumber(L, mean);
        lua_setfield(L, -2, "train_loss");
        if (epoch_log) bp_lua_log_metric(L, "train_loss", epoch, mean);
        if (val) {
            double vl, va;
            int labels = val->label != NULL;
            if (bp_fit_evaluate(net, val, EVAL_BATCH, c.loss, &vl, labels ? &va : NULL,
                                labels ? conf : NULL, &e))
                return luaL_error(L, "validation: %s", e.msg);
            char name[96];
            snprintf(name, sizeof name, "%s_loss", val_name);
            lua_pushnumber(L, vl);
            lua_setfield(L, -2, name);
            if (epoch_log) bp_lua_log_metric(L, name, epoch, vl);
            if (labels) {
                snprintf(name, sizeof name, "%s_accuracy", val_name);
                lua_pushnumber(L, va);
                lua_setfield(L, -2, name);
                if (epoch_log) bp_lua_log_metric(L, name, epoch, va);
                snprintf(name, sizeof name, "%s_confusion", val_name);
                push_confusion(L, conf, O);
                lua_setfield(L, -2, name);
                for (int j = 0; epoch_log && log_confusion && j < O * O; j++) {
                    snprintf(name, sizeof name, "%s_confusion_%d_%d", val_name, j / O + 1,
                             j % O + 1);
                    bp_lua_log_metric(L, name, epoch, conf[j]);
                }
            }
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, S_HIST, (lua_Integer)lua_rawlen(L, S_HIST) + 1);
        if (lua_isnil(L, S_CB)) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, S_CB);
        lua_insert(L, -2);
        lua_pushinteger(L, epoch);
        lua_insert(L, -2);
        lua_call(L, 2, 1);
        int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (stop) break;
    }
    bp_fit_free(box->f);
    box->f = NULL;
    lua_settop(L, S_HIST);
    return 1;
}

static const luaL_Reg fit_metamethods[] = {{"__gc", fitbox_gc}, {NULL, NULL}};

static const luaL_Reg net_methods[] = {
    {"fit", net_fit}, {"evaluate", net_evaluate}, {"predict", net_predict}, {NULL, NULL}};

void bp_lua_open_fit(lua_State *L) {
    bp_lua_new_type(L, FIT_TYPE, fit_metamethods, NULL);
    bp_lua_add_methods(L, NET_TYPE, net_methods);
}
