/* lbackprop.h: what the module's own files share (not a public header).
 *
 * The module is split by type, as liolib.c would be if it had several: the
 * network, criterion and optimizer live in lbackprop.c, data sets in
 * ldata.c. They share the module state (every function's upvalue 1), the
 * userdata layout of a net, and the helpers that carry Lua tables into C. */
#ifndef LBACKPROP_H
#define LBACKPROP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "bp_net.h"
#include "bp_optim.h"
#include "bp_runlog.h"

#define NET_TYPE "backprop.net"
#define LOSS_TYPE "backprop.loss"
#define OPTIM_TYPE "backprop.optimizer"

/* Module state */
typedef struct state {
    bp_rng rng;
    uint64_t seed;
    bp_runlog *log; /* borrowed from the host; NULL outside `backprop run` */
    int64_t run;
    int64_t step; /* steps taken by any net: bp.log's default step */
    int diverged; /* a loss came out NaN or infinite */
    /* Set (non-zero) by the host's signal handler: loops that run in C for
     * long (net:fit) check it at every step, since the Lua hook that stops a
     * script only fires between Lua instructions. NULL: nothing to check. */
    const volatile sig_atomic_t *stop;
    /* The last net and criterion whose type train_step checked: while they
     * live, the same userdata passes on a pointer compare instead of a
     * metatable lookup. Their close (and so their __gc) clears these. */
    const void *checked_net, *checked_loss;
    /* Set by the host for `backprop run --resume`: bp.resume restores the
     * run's latest checkpoint (lmodel.c) instead of starting afresh. */
    int resuming;
    /* The host's progress line, filled after every training step; NULL when
     * nothing is drawn (not a terminal, --quiet, a stock lua). */
    struct bp_progress *progress;
} state;

/* The state is upvalue 1 of every function and method of the module. */
#define STATE(L) ((state *)lua_touserdata(L, lua_upvalueindex(1)))

/* A growable buffer of doubles that lives in a userdata. */
typedef struct buf {
    double *v;
    size_t cap;
} buf;

typedef struct lnet {
    bp_net *net;       /* NULL once closed */
    buf x, y;          /* inputs and targets carried in from Lua */
    int single;        /* the last forward was one sample, not a batch */
    int64_t steps;     /* updates applied */
    char log_name[64]; /* train_step logs its loss under this name, if set */
} lnet;

/* Grows b to hold n doubles; raises on out of memory. */
double *bp_lua_buf_reserve(lua_State *L, buf *b, size_t n);

/* Reads argument arg as one sample (a list of W numbers, or a number when W
 * is 1) or a batch (a list of rows) into b; returns the rows, and *single
 * tells which form it was. Raises an argument error naming `what`. */
int bp_lua_check_matrix(lua_State *L, int arg, int W, buf *b, int *single,
                        const char *what);

/* Pushes B x W values as a list (single) or a list of rows. */
void bp_lua_push_matrix(lua_State *L, const double *v, int B, int W, int single);

/* Pushes a new, empty net userdata (its net NULL: set it before any use),
 * created before the C object so that nothing leaks if that fails. */
lnet *bp_lua_new_lnet(lua_State *L);

/* The net at index i; raises if it is not one or is closed. */
lnet *bp_lua_check_lnet(lua_State *L, int i);
bp_net *bp_lua_check_net(lua_State *L, int i);

/* A positive integer argument, or an argument error naming `what`. */
int bp_lua_check_int(lua_State *L, int arg, const char *what);

/* A loss argument: a name or a backprop.loss; returns its bp_loss. */
int bp_lua_check_loss_arg(lua_State *L, int arg);

/* The dtype named by the value at the top of the stack ("float64",
 * "float32"), which stays there; else an argument error at arg, prefixed
 * "field 'F': " when field is not NULL. */
bp_dtype bp_lua_dtype_at_top(lua_State *L, int arg, const char *field);

/* The optimizer at index i, or NULL if it is not one; raises if closed. */
bp_optim *bp_lua_test_optim(lua_State *L, int i);

/* Logs a metric of the current run (nothing outside a run); raises if the
 * database fails. */
int bp_lua_log_metric(lua_State *L, const char *name, int64_t step, double v);

/* Marks the run diverged and raises "<name> is nan at step N: ...". */
int bp_lua_diverge(lua_State *L, const char *name, double v, int64_t step);

/* The module's other files, each called by luaopen_backprop with the module
 * table on top of the stack: */
void bp_lua_open_data(lua_State *L);  /* ldata.c: data sets, net:fit */
void bp_lua_open_sweep(lua_State *L); /* lsweep.c: bp.report, bp.sweep */
void bp_lua_open_model(lua_State *L); /* lmodel.c: net:save, bp.load */

#endif
