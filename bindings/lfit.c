/* lfit.c: whole data sets through a net, in C: net:fit, net:evaluate and
 * net:predict.
 *
 * net:fit runs whole epochs through the engine's loop (engine/bp_fit.h) and
 * writes each step's loss to the run log from its step callback, so that a
 * script pays no Lua call per step; what Lua sees is one table of stats per
 * epoch and, if it asks, a callback between epochs. A step's loss is logged
 * per step (at the net's step count), an epoch's figures per epoch (at the
 * epoch), each series in its unit (runlog/units.c), with where the epoch
 * ended. net:evaluate and
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
/* The metatable of fit's list of epochs: only a __tostring, so that the
 * prompt shows one line for it rather than every epoch's table. */
#define HISTORY_TYPE "backprop.history" 

/* Rows per forward pass in evaluate and predict: large enough for OpenBLAS
 * to pay off, small enough that the net's buffers stay a few MB. */
#define EVAL_BATCH 500

/* Raises for an empty data set at arg (a split's part rounded to nothing,
 * a slice that kept nothing), before anything runs; field: the option
 * that named it, or NULL. */
static int empty_data(lua_State *L, int arg, const char *field) {
    if (!field) return luaL_argerror(L, arg, "the data set is empty (0 rows)");
    return luaL_argerror(
        L, arg, lua_pushfstring(L, "field '%s': the data set is empty (0 rows)", field));
}

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
    if (d->n == 0) empty_data(L, 2, NULL);
    int with_loss = !lua_isnoneornil(L, 3);
    int script = with_loss && bp_lua_is_script_loss(L, 3); /* its loss, the engine's rest */
    bp_crit crit = with_loss && !script ? bp_lua_check_crit(L, 3) : bp_crit_of(0);
    int O = d->k, labels = d->label != NULL;
    int *m = labels ? lua_newuserdatauv(L, sizeof(int) * (size_t)O * O, 0) : NULL;
    double loss, acc;
    bp_err e;
    bp_lua_fit_hooks hooks = {.L = L, .ni = 1, .li = 3};
    if (script ? bp_fit_evaluate_host(n->net, d, EVAL_BATCH, bp_lua_fit_loss, &hooks, &loss,
                                      labels ? &acc : NULL, m, &e)
               : bp_fit_evaluate_crit(n->net, d, EVAL_BATCH, crit.loss, crit.param,
                                      with_loss ? &loss : NULL, labels ? &acc : NULL, m, &e))
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
    if (d->n == 0) empty_data(L, 2, NULL);
    static const char *const what[] = {"class", "output", NULL};
    int outputs = luaL_checkoption(L, 3, d->label ? "class" : "output", what);
    if (bp_lua_net_empty(net))
        return luaL_error(L, "the network has no layers: call net:add first");
    if (net->inputs != d->d)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L,
                                             "the network takes %d inputs, the "
                                             "data has %d",
                                             net->inputs, d->d));
    bp_err me;
    if (bp_data_materialize(d, &me)) return luaL_error(L, "%s", me.msg); /* rows in place */
    int O = bp_net_outputs(net);
    lua_createtable(L, d->n, 0);
    for (int s = 0; s < d->n; s += EVAL_BATCH) {
        int B = d->n - s < EVAL_BATCH ? d->n - s : EVAL_BATCH;
        bp_err e;
        /* In evaluation mode, as bp_fit_evaluate; what was there put back
         * before anything can raise. */
        int was = bp_net_set_training(net, 0);
        const double *out = bp_net_forward_as(net, bp_data_row(d, s), d->dtype, B, &e);
        bp_net_set_training(net, was);
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

/* One call of net:fit: what its options say, and what the step callback
 * needs. The callback runs inside the engine's loop, so it never raises: a
 * failure is kept here and raised once the epoch returns. */
typedef struct fit_run {
    state *st;
    lnet *n;
    bp_fit_config c; /* the engine's loop: loss, batch, lr or optimizer */
    int epochs, first_epoch;
    int total_epochs; /* the run's last epoch, for the progress line; 0 unknown */
    int epoch_log, log_confusion; /* log each epoch's stats; the confusion too */
    const char *log;              /* metric name of each step's loss, or NULL */
    int log_lr;                   /* log each group's lr every step */
    char plateau_metric[64];      /* the stat a plateau schedule steps on */
    char val_name[32], log_name[64];
    int *conf, O; /* the validation's confusion matrix, O x O */
    int failed, interrupted;
    bp_err e;
    bp_lua_fit_hooks hooks; /* a Lua loss's or optimiser's (c.host_ud) */
} fit_run;

/* Each group's lr of the step just taken, as metric "lr" (one group) or
 * "lr_NAME"; 0, or -1 with the failure in r->e. */
static int log_lrs(fit_run *r) {
    const bp_optim *o = r->c.opt;
    int G = bp_optim_groups(o);
    for (int g = 0; g < G; g++) {
        char name[64];
        if (G == 1) snprintf(name, sizeof name, "lr");
        else snprintf(name, sizeof name, "lr_%s", bp_optim_group_name(o, g));
        if (bp_runlog_metric(r->st->log, r->st->run, name, r->n->steps,
                             bp_optim_group_last_lr(o, g), &r->e))
            return -1;
    }
    return 0;
}

static int fit_step(void *ud, int64_t step, double loss) {
    (void)step;
    fit_run *r = ud;
    r->n->steps++;
    r->st->step++;
    bp_progress_step(r->st->progress, r->st->step, loss);
    if (r->log && r->st->log &&
        bp_runlog_metric(r->st->log, r->st->run, r->log, r->n->steps, loss, &r->e)) {
        r->failed = 1;
        return 1;
    }
    if (r->log_lr && r->c.opt && r->st->log && log_lrs(r)) {
        r->failed = 1;
        return 1;
    }
    if (r->st->stop && *r->st->stop) {
        r->interrupted = 1;
        return 1;
    }
    return 0;
}

static const char *const fit_options[] = {
    "data",      "epochs",    "batch",       "loss",      "lr",         "optimizer",
    "shuffle",   "drop_last", "log",         "epoch_log", "validation", "val_name",
    "confusion", "callback",  "first_epoch", "total_epochs", "log_lr", "plateau_metric",
    NULL};

/* Stack slots of net:fit, so that what the options name stays anchored even
 * if a callback changes the table. */
enum { S_NET = 1, S_OPTS, S_DATA, S_OPT, S_VAL, S_CB, S_LOSS, S_BOX, S_CONF, S_HIST };

/* A userdata field of the options into its slot (nil allowed if optional). */
static void udata_field(lua_State *L, const char *name, const char *type, int required) {
    int t = lua_getfield(L, S_OPTS, name);
    if (t == LUA_TNIL && !required) return;
    if (!luaL_testudata(L, -1, type)) bp_lua_field_error(L, S_OPTS, name, type);
}

/* Checks the options' keys and puts the objects they name in their slots,
 * S_DATA to S_LOSS, each checked. */
static void fit_slots(lua_State *L) {
    bp_lua_check_options(L, S_OPTS, fit_options, 0);
    udata_field(L, "data", DATA_TYPE, 1);       /* S_DATA */
    if (lua_getfield(L, S_OPTS, "optimizer") != LUA_TNIL && /* S_OPT */
        !luaL_testudata(L, -1, OPTIM_TYPE) && !bp_lua_is_script_optim(L, -1))
        bp_lua_field_error(L, S_OPTS, "optimizer", OPTIM_TYPE);
    udata_field(L, "validation", DATA_TYPE, 0); /* S_VAL */
    if (lua_getfield(L, S_OPTS, "callback") != LUA_TNIL && !lua_isfunction(L, -1))
        bp_lua_field_error(L, S_OPTS, "callback", "function"); /* S_CB */
    int t = lua_getfield(L, S_OPTS, "loss");                   /* S_LOSS */
    if (t == LUA_TNIL) luaL_argerror(L, S_OPTS, "field 'loss' is required");
    if (t != LUA_TSTRING && !luaL_testudata(L, -1, LOSS_TYPE))
        bp_lua_field_error(L, S_OPTS, "loss", "loss name or " LOSS_TYPE);
    if (t == LUA_TSTRING) bp_lua_loss_parse(L, lua_tostring(L, -1), S_OPTS, "loss");
}

/* Field log: a metric name, or false for none; absent, net:log_loss's. */
static void fit_log(lua_State *L, fit_run *r) {
    r->log = r->n->log_name[0] ? r->n->log_name : NULL;
    if (lua_getfield(L, S_OPTS, "log") == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        r->log = NULL;
    else if (!lua_isnil(L, -1) && !lua_isstring(L, -1))
        bp_lua_field_error(L, S_OPTS, "log", "string or false");
    else if (lua_isstring(L, -1))
        r->log = bp_lua_opt_str(L, S_OPTS, "log", NULL, r->log_name, sizeof r->log_name);
    lua_pop(L, 1);
    if (r->log && !r->log[0])
        luaL_argerror(L, S_OPTS, "field 'log': metric name must not be empty");
}

/* Field lr or field optimizer, one of them. */
static void fit_rate(lua_State *L, bp_fit_config *c) {
    int has_lr = lua_getfield(L, S_OPTS, "lr") != LUA_TNIL;
    if (has_lr == !lua_isnil(L, S_OPT))
        luaL_argerror(L, S_OPTS,
                      has_lr ? "give lr or optimizer, not both"
                             : "field 'lr' or 'optimizer' is required");
    if (has_lr) {
        if (lua_type(L, -1) != LUA_TNUMBER) bp_lua_field_error(L, S_OPTS, "lr", "number");
        c->lr = lua_tonumber(L, -1);
        if (!(isfinite(c->lr) && c->lr >= 0))
            luaL_argerror(L, S_OPTS,
                          lua_pushfstring(L,
                                          "field 'lr': must be a finite "
                                          "number >= 0, got %s",
                                          isnan(c->lr) ? "nan" : lua_tostring(L, -1)));
    }
    lua_pop(L, 1);
    if (!lua_isnil(L, S_OPT) && bp_lua_is_script_optim(L, S_OPT))
        c->host_update = bp_lua_fit_update;
    else
        c->opt = lua_isnil(L, S_OPT) ? NULL : bp_lua_test_optim(L, S_OPT);
}

/* Reads the options (their objects in their slots) into r. */
static void fit_read(lua_State *L, fit_run *r) {
    bp_fit_config *c = &r->c;
    r->hooks = (bp_lua_fit_hooks){.L = L, .ni = S_NET, .li = S_LOSS, .oi = S_OPT};
    c->host_ud = &r->hooks;
    if (bp_lua_is_script_loss(L, S_LOSS)) {
        c->host_loss = bp_lua_fit_loss;
    } else {
        bp_crit crit = bp_lua_check_crit(L, S_LOSS);
        c->loss = crit.loss;
        c->loss_param = crit.param;
    }
    c->batch = bp_lua_opt_int(L, S_OPTS, "batch", 32, 1);
    r->epochs = bp_lua_opt_int(L, S_OPTS, "epochs", 1, 1);
    r->first_epoch = bp_lua_opt_int(L, S_OPTS, "first_epoch", 1, 1);
    /* Without total_epochs, a fit from epoch 1 is the whole run as far as
     * anyone knows; one from a later epoch (a loop of fits) is not. */
    int fresh = lua_getfield(L, S_OPTS, "first_epoch") == LUA_TNIL;
    lua_pop(L, 1);
    r->total_epochs = bp_lua_opt_int(L, S_OPTS, "total_epochs", 0, 0);
    if (!r->total_epochs && fresh) r->total_epochs = r->epochs;
    if (r->total_epochs && r->total_epochs < r->first_epoch + r->epochs - 1)
        luaL_argerror(L, S_OPTS,
                      lua_pushfstring(L,
                                      "field 'total_epochs': %d is before this fit's "
                                      "last epoch, %d",
                                      r->total_epochs, r->first_epoch + r->epochs - 1));
    c->shuffle = bp_lua_opt_bool(L, S_OPTS, "shuffle", 1);
    c->drop_last = bp_lua_opt_bool(L, S_OPTS, "drop_last", 0);
    c->rng = &r->st->rng;
    r->epoch_log = bp_lua_opt_bool(L, S_OPTS, "epoch_log", 1);
    r->log_confusion = bp_lua_opt_bool(L, S_OPTS, "confusion", 0);
    bp_lua_opt_str(L, S_OPTS, "val_name", "val", r->val_name, sizeof r->val_name);
    fit_log(L, r);
    fit_rate(L, c);
    r->log_lr = bp_lua_opt_bool(L, S_OPTS, "log_lr", 0);
    if (r->log_lr && !c->opt)
        luaL_argerror(L, S_OPTS,
                      "field 'log_lr': needs a built-in optimizer (not lr =, nor one written "
                      "in Lua)");
    /* a plateau steps on the validation's loss, else the training's */
    char dflt[64];
    snprintf(dflt, sizeof dflt, "%s", lua_isnil(L, S_VAL) ? "train_loss" : "");
    if (!dflt[0]) snprintf(dflt, sizeof dflt, "%s_loss", r->val_name);
    bp_lua_opt_str(L, S_OPTS, "plateau_metric", dflt, r->plateau_metric,
                   sizeof r->plateau_metric);
    c->on_step = fit_step;
    c->ud = r;
}

/* Tells the progress line the run's last epoch and how many steps remain
 * until it, so that it can count down to the end; both unknown (0) for a
 * fit that starts after epoch 1 without total_epochs, rather than this
 * call's end shown as the run's ("epoch 4/4 ... 0s left" in a loop of
 * one-epoch fits). */
static void fit_progress(lua_State *L, const fit_run *r) {
    bp_progress *p = r->st->progress;
    const bp_data *d = bp_lua_check_data(L, S_DATA);
    int batch = r->c.batch;
    int64_t per = r->c.drop_last ? d->n / batch : (d->n + batch - 1) / batch;
    int64_t left = r->total_epochs ? r->total_epochs - r->first_epoch + 1 : 0;
    atomic_store_explicit(&p->total, left ? r->st->step + per * left : 0,
                          memory_order_relaxed);
    atomic_store_explicit(&p->epochs, r->total_epochs, memory_order_relaxed);
}

/* Sets field `suffix` of the validation set (val_NAME) in the stats table at
 * the top to v, and logs it at step epoch if asked. */
static void val_number(lua_State *L, const fit_run *r, const char *suffix, int epoch,
                       double v) {
    char name[96];
    snprintf(name, sizeof name, "%s_%s", r->val_name, suffix);
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
    if (r->epoch_log) bp_lua_log_metric(L, name, BP_UNIT_EPOCH, epoch, v);
}

/* Scores the validation set after an epoch into the stats table at the
 * top: its loss and, with class labels, accuracy and confusion matrix. */
static void fit_validate(lua_State *L, const fit_run *r, bp_net *net, bp_data *val,
                         int epoch) {
    double vl, va;
    int labels = val->label != NULL, O = r->O;
    bp_err e;
    double *acc = labels ? &va : NULL;
    int *conf = labels ? r->conf : NULL;
    if (r->c.host_loss ? bp_fit_evaluate_host(net, val, EVAL_BATCH, r->c.host_loss,
                                              r->c.host_ud, &vl, acc, conf, &e)
                       : bp_fit_evaluate_crit(net, val, EVAL_BATCH, r->c.loss, r->c.loss_param,
                                              &vl, acc, conf, &e))
        luaL_error(L, "validation: %s", e.msg);
    val_number(L, r, "loss", epoch, vl);
    if (!labels) return;
    val_number(L, r, "accuracy", epoch, va);
    char name[96];
    snprintf(name, sizeof name, "%s_confusion", r->val_name);
    push_confusion(L, r->conf, O);
    lua_setfield(L, -2, name);
    for (int j = 0; r->epoch_log && r->log_confusion && j < O * O; j++) {
        snprintf(name, sizeof name, "%s_confusion_%d_%d", r->val_name, j / O + 1,
                 j % O + 1);
        bp_lua_log_metric(L, name, BP_UNIT_EPOCH, epoch, r->conf[j]);
    }
}

/* Raises what stopped an epoch: the callback's failure, an interrupt, the
 * engine's error, or a loss that diverged (logged first, as a step's). */
static void fit_failed(lua_State *L, fit_run *r, bp_fit *f, int rc, const bp_err *e) {
    if (r->failed) luaL_error(L, "%s", r->e.msg);
    if (r->interrupted) luaL_error(L, "interrupted");
    if (rc >= 0) return;
    if (!bp_fit_diverged(f)) luaL_error(L, "%s", e->msg);
    double last = bp_fit_last_loss(f);
    if (r->log) bp_lua_log_metric(L, r->log, BP_UNIT_STEP, r->n->steps + 1, last);
    bp_lua_diverge(L, "loss", last, r->n->steps + 1);
}

/* A plateau schedule's epoch, on the stat plateau_metric of the stats
 * table at the top (ReduceLROnPlateau.step(val_loss) after validating). */
static void fit_plateau(lua_State *L, const fit_run *r) {
    const bp_schedule *s = r->c.opt ? bp_optim_get_schedule(r->c.opt) : NULL;
    if (!s || s->kind != BP_SCHED_PLATEAU) return;
    if (lua_getfield(L, -1, r->plateau_metric) != LUA_TNUMBER)
        luaL_error(L, "plateau schedule: this epoch has no '%s' (plateau_metric)",
                   r->plateau_metric);
    bp_err e;
    if (bp_optim_schedule_step(r->c.opt, lua_tonumber(L, -1), &e)) luaL_error(L, "%s", e.msg);
    lua_pop(L, 1);
}

/* One epoch of training, then the validation set's scores: pushes the
 * epoch's stats, having logged them as asked. */
static void fit_epoch(lua_State *L, fit_run *r, bp_fit *f, int epoch) {
    if (r->st->progress)
        atomic_store_explicit(&r->st->progress->epoch, epoch, memory_order_relaxed);
    /* A callback may have closed any of these: look again each time. */
    bp_net *net = bp_lua_check_lnet(L, S_NET)->net;
    bp_data *data = bp_lua_check_data(L, S_DATA);
    if (!lua_isnil(L, S_OPT) && !r->c.host_update)
        bp_lua_test_optim(L, S_OPT); /* raises if closed */
    bp_data *val = lua_isnil(L, S_VAL) ? NULL : bp_lua_check_data(L, S_VAL);
    bp_err e;
    double t0 = bp_clock(), mean;
    int rc = bp_fit_epoch(f, net, data, &mean, &e);
    double seconds = bp_clock() - t0;
    fit_failed(L, r, f, rc, &e);
    r->n->single = 0;
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, epoch);
    lua_setfield(L, -2, "epoch");
    lua_pushinteger(L, r->n->steps);
    lua_setfield(L, -2, "steps");
    lua_pushnumber(L, seconds);
    lua_setfield(L, -2, "seconds");
    lua_pushnumber(L, mean);
    lua_setfield(L, -2, "train_loss");
    bp_lua_log_epoch_end(L, epoch, r->n->steps);
    if (r->epoch_log) bp_lua_log_metric(L, "train_loss", BP_UNIT_EPOCH, epoch, mean);
    if (val) fit_validate(L, r, net, val, epoch);
    fit_plateau(L, r);
}

/* Calls the callback with the epoch and its stats (at the top, popped);
 * returns whether it asked to stop (returned false). */
static int fit_callback(lua_State *L, int epoch) {
    lua_pushvalue(L, S_CB);
    lua_insert(L, -2);
    lua_pushinteger(L, epoch);
    lua_insert(L, -2);
    lua_call(L, 2, 1);
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop;
}

/* net:fit{data =, loss =, lr = | optimizer =, epochs = 1, batch = 32,
 * shuffle = true, drop_last = false, log = (net:log_loss's name), epoch_log
 * = true, validation =, val_name = "val", confusion = false, callback =,
 * first_epoch = 1, log_lr = false, plateau_metric = "val_loss" (or
 * "train_loss")} -> a list of each epoch's stats */
static int net_fit(lua_State *L) {
    fit_run r = {.st = STATE(L), .n = bp_lua_check_lnet(L, 1)};
    bp_lua_params_gate(L, r.st);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    fit_slots(L);
    fit_read(L, &r);
    bp_data *data = bp_lua_check_data(L, S_DATA);
    if (data->n == 0 || (!lua_isnil(L, S_VAL) && bp_lua_check_data(L, S_VAL)->n == 0))
        empty_data(L, S_OPTS, data->n == 0 ? "data" : "validation");
    if (r.st->progress) fit_progress(L, &r);
    fitbox *box = lua_newuserdatauv(L, sizeof *box, 0); /* S_BOX */
    box->f = NULL;
    luaL_setmetatable(L, FIT_TYPE);
    bp_err e;
    if (!(box->f = bp_fit_new(data, &r.c, &e))) return luaL_argerror(L, S_OPTS, e.msg);
    r.O = data->k;
    r.conf = lua_newuserdatauv(L, sizeof(int) * (size_t)r.O * r.O, 0); /* S_CONF */
    lua_newtable(L);                                                   /* S_HIST */
    for (int epoch = r.first_epoch; epoch < r.first_epoch + r.epochs; epoch++) {
        fit_epoch(L, &r, box->f, epoch);
        lua_pushvalue(L, -1);
        lua_rawseti(L, S_HIST, (lua_Integer)lua_rawlen(L, S_HIST) + 1);
        if (lua_isnil(L, S_CB)) lua_pop(L, 1);
        else if (fit_callback(L, epoch)) break;
    }
    bp_fit_free(box->f);
    box->f = NULL;
    lua_settop(L, S_HIST);
    luaL_setmetatable(L, HISTORY_TYPE);
    return 1;
}

/* tostring(history): "fit: epochs 1-10, 3000 steps, 2.31 s; epoch 10:
 * train_loss 0.0123, val_loss 0.0456, val_accuracy 0.967" */
static int history_tostring(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (n == 0 || lua_rawgeti(L, 1, n) != LUA_TTABLE) {
        lua_pushliteral(L, "fit: no epochs");
        return 1;
    }
    int last = lua_gettop(L);
    double seconds = 0;
    for (lua_Integer k = 1; k <= n; k++) {
        if (lua_rawgeti(L, 1, k) == LUA_TTABLE && lua_getfield(L, -1, "seconds") == LUA_TNUMBER)
            seconds += lua_tonumber(L, -1);
        lua_settop(L, last);
    }
    lua_rawgeti(L, 1, 1);
    lua_getfield(L, -1, "epoch");
    lua_getfield(L, last, "epoch");
    lua_getfield(L, last, "steps");
    lua_Integer first = lua_tointeger(L, -3), end = lua_tointeger(L, -2),
                steps = lua_tointeger(L, -1);
    luaL_Buffer b;
    luaL_buffinit(L, &b); /* which may push a placeholder: no index from the top after */
    char secs[32];
    snprintf(secs, sizeof secs, "%.2f", seconds);
    lua_pushfstring(L, "fit: epochs %I-%I, %I steps, %s s; epoch %I:", first, end, steps, secs,
                    end);
    luaL_addvalue(&b);
    lua_pushnil(L);
    const char *sep = " ";
    char num[32];
    /* the numbers of the last epoch, sorted by name for a stable line */
    const char *names[16];
    int count = 0;
    while (lua_next(L, last) && count < 16) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TNUMBER &&
            strcmp(lua_tostring(L, -2), "epoch") && strcmp(lua_tostring(L, -2), "steps") &&
            strcmp(lua_tostring(L, -2), "seconds"))
            names[count++] = lua_tostring(L, -2);
        lua_pop(L, 1);
    }
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (int i = 0; i < count; i++) {
        lua_getfield(L, last, names[i]);
        snprintf(num, sizeof num, "%.6g", lua_tonumber(L, -1));
        lua_pop(L, 1);
        lua_pushfstring(L, "%s%s %s", sep, names[i], num);
        luaL_addvalue(&b);
        sep = ", ";
    }
    luaL_pushresult(&b);
    return 1;
}

static const luaL_Reg history_metamethods[] = {{"__tostring", history_tostring},
                                               {NULL, NULL}};

static const luaL_Reg fit_metamethods[] = {{"__gc", fitbox_gc}, {NULL, NULL}};

static const luaL_Reg net_methods[] = {
    {"fit", net_fit}, {"evaluate", net_evaluate}, {"predict", net_predict}, {NULL, NULL}};

void bp_lua_open_fit(lua_State *L) {
    bp_lua_new_type(L, FIT_TYPE, fit_metamethods, NULL);
    bp_lua_new_type(L, HISTORY_TYPE, history_metamethods, NULL);
    bp_lua_add_methods(L, NET_TYPE, net_methods);
}
