/* lbackprop.h: what the module's own files share (not a public header).
 *
 * The module is cut as Lua's liolib.c would be if it had several types: one
 * file per Lua type or area, each with its methods[] and metamethods[]
 * tables and an open function that luaopen_backprop calls:
 *   module.c   luaopen_backprop; bp.param, bp.seed, random numbers, threads
 *   lvalues.c  Lua values into C and back: matrices, integers, rates, dtypes
 *   loptions.c options tables: unknown keys and typed fields
 *   lnet.c     backprop.net: building, forward, backward, looking inside
 *   lmodule.c  modules as values (bp.linear, bp.sequential, bp.graph, ...)
 *   lcompile.c modules compiled into a net's graph (bp.net(module),
 *              net:add(module)); a graph net's tree of modules
 *   lparams.c  a net's parameters by name, its training mode
 *   lloss.c    backprop.loss, a criterion
 *   loptim.c   backprop.optimizer and its schedules
 *   ltrain.c   net:train_step, train_steps, train_batch: one step per call
 *   ldata.c    backprop.data: loading, looking, preparing
 *   lfit.c     net:fit, evaluate, predict: whole data sets in C
 *   lmodel.c   network files, networks in the run log, checkpoints
 *   lrunlog.c  run logging: parameters, metrics, tags, notes, snapshots
 *   lsweep.c   sweeps' script side
 *   progress.c the progress line
 *   ltensor.c  bp.tensor: numbers in C memory for layers written in Lua
 *   lhost.c    bp.module: a module written in Lua inside a net's graph;
 *              bp.gradcheck
 *   lscript.c  a loss (bp.loss{...}) and an optimiser written in Lua
 *   lsample.c  net:sample, text drawn from a sequence network in C
 * They share the module state (every function's upvalue 1), the userdata
 * layout of a net, and the helpers that carry Lua values into C. */
#ifndef LBACKPROP_H
#define LBACKPROP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_data.h"
#include "bp_net.h"
#include "bp_optim.h"
#include "bp_runlog.h"
#include "bp_save.h"

#define NET_TYPE "backprop.net"
#define LOSS_TYPE "backprop.loss"
#define OPTIM_TYPE "backprop.optimizer"
#define DATA_TYPE "backprop.data"
#define TENSOR_TYPE "backprop.tensor"
#define TEXT_TYPE "backprop.text"

/* Module state */
typedef struct state {
    bp_rng rng;
    uint64_t seed;
    /* bp.seed("data"): the seed of a script's data (its split), apart from
     * the run's seed so that every trial of a sweep splits alike: the
     * sweep's seed in a trial (bp_lua_sweep_attach), else 1. */
    uint64_t data_seed;
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
    /* Parameters were given on the command line and nothing has trained or
     * logged yet: the first call that does checks that the script read
     * them all (bp_lua_params_gate), then clears this. */
    int params_gate;
} state;

/* The state is upvalue 1 of every function and method of the module. */
#define STATE(L) ((state *)lua_touserdata(L, lua_upvalueindex(1)))

/* The state through the registry, for the host's calls (bp_lua.h), which
 * are no closures; NULL before luaopen_backprop. */
state *bp_lua_state(lua_State *L);

/* Raises, naming them and the parameters the script read, if parameters
 * given on the command line were never read by bp.param: a typo caught
 * when the script first trains or logs, before the work rather than after
 * it (module.c). Closes the gate either way. */
void bp_lua_params_check(lua_State *L, state *st);

/* Parameter `name` as given on the command line (the string, left on the
 * stack under the registry's table, two values pushed), or NULL (one or
 * two values pushed: the caller settops); marks it read either way, as
 * bp.param does (module.c). */
const char *bp_lua_param_read(lua_State *L, const char *name);

/* Pushes the given string s converted to the type of the default at index
 * d, as bp.param converts it; raises naming the parameter when it does not
 * convert. */
void bp_lua_push_param(lua_State *L, const char *name, const char *s, int d);

/* Parameter `name`, if given, need not be read: the typo check passes it
 * over (a sweep's conditional parameter, or one its script suggests in
 * some trials only). Call after bp_lua_set_params. */
void bp_lua_param_exempt(lua_State *L, const char *name);

/* Sets parameter `name` to value as if given (a value a trial drew for a
 * name it suggests: bp.params() and a later bp.param see it). */
void bp_lua_param_set(lua_State *L, const char *name, const char *value);

/* What every call that trains or logs does first: a flag test, once the
 * gate is closed. */
static inline void bp_lua_params_gate(lua_State *L, state *st) {
    if (st->params_gate) bp_lua_params_check(L, st);
}

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
    int children;      /* modules of the net's own sequence: net:add's next is
                          named children + 1 (lmodule.c) */
    int running;       /* inside a Lua module's forward or backward (lhost.c):
                          the net refuses every method and close */
} lnet;

/* A criterion: its kind and the buffers its methods carry tables in. */
typedef struct lloss {
    int kind;     /* a bp_loss, or -1 once closed */
    int script;   /* written in Lua (lscript.c): user value 1 its functions */
    double param; /* its parameter (huber's delta); 0: the default */
    buf out, y, grad;
} lloss;

/* ------------------------------------------------------------------------ */
/* Registration (module.c). Each file's open function is called by
 * luaopen_backprop with the state at index -2 and the module table at the
 * top, and leaves the stack as it found it; so do these. Every function
 * registered gets the state as upvalue 1. */

/* Creates type `name`: a metatable holding meta, whose __index is a table
 * of methods (none when methods is NULL). */
void bp_lua_new_type(lua_State *L, const char *name, const luaL_Reg *meta,
                     const luaL_Reg *methods);

/* Adds methods to those of type `name`, created before. */
void bp_lua_add_methods(lua_State *L, const char *name, const luaL_Reg *methods);

/* Adds funcs to the module table. */
void bp_lua_add_funcs(lua_State *L, const luaL_Reg *funcs);

/* The module's files, in the order luaopen_backprop opens them. */
void bp_lua_open_net(lua_State *L);      /* lnet.c */
void bp_lua_open_module(lua_State *L);   /* lmodule.c */
void bp_lua_open_params(lua_State *L);   /* lparams.c */
void bp_lua_open_loss(lua_State *L);     /* lloss.c */
void bp_lua_open_optim(lua_State *L);    /* loptim.c */
void bp_lua_open_train(lua_State *L);    /* ltrain.c */
void bp_lua_open_data(lua_State *L);     /* ldata.c */
void bp_lua_open_fit(lua_State *L);      /* lfit.c */
void bp_lua_open_model(lua_State *L);    /* lmodel.c */
void bp_lua_open_runlog(lua_State *L);   /* lrunlog.c */
void bp_lua_open_sweep(lua_State *L);    /* lsweep.c */
void bp_lua_open_progress(lua_State *L); /* progress.c */
void bp_lua_open_show(lua_State *L);     /* show.c */
void bp_lua_open_tensor(lua_State *L);   /* ltensor.c */
void bp_lua_open_host(lua_State *L);     /* lhost.c */
void bp_lua_open_script(lua_State *L);   /* lscript.c */
void bp_lua_open_text(lua_State *L);     /* ltext.c (after ldata.c) */
void bp_lua_open_state(lua_State *L);    /* lstate.c */
void bp_lua_open_sample(lua_State *L);   /* lsample.c */

/* ------------------------------------------------------------------------ */
/* Values (lvalues.c) */

/* Grows b to hold n doubles; raises on out of memory. */
double *bp_lua_buf_reserve(lua_State *L, buf *b, size_t n);

/* Reads argument arg as one sample (a list of W numbers, or a number when W
 * is 1) or a batch (a list of rows) into b; returns the rows, and *single
 * tells which form it was. Raises an argument error naming `what`. */
int bp_lua_check_matrix(lua_State *L, int arg, int W, buf *b, int *single,
                        const char *what);

/* Pushes B x W values as a list (single) or a list of rows. */
void bp_lua_push_matrix(lua_State *L, const double *v, int B, int W, int single);

/* A positive integer argument, or an argument error naming `what`. */
int bp_lua_check_int(lua_State *L, int arg, const char *what);

/* A learning rate argument: a finite number >= 0, or an argument error. */
double bp_lua_check_lr(lua_State *L, int arg);

/* An optional integer step argument: the module's step count when absent. */
int64_t bp_lua_opt_step(lua_State *L, int arg);

/* The fields step and epoch of the table at t (argument arg, for errors):
 * at most one of them, an integer (an epoch >= 0). Returns it, with *unit
 * saying which; the module's step count, BP_UNIT_STEP, when neither. */
int64_t bp_lua_at_fields(lua_State *L, int t, int arg, bp_metric_unit *unit);

/* An optional step argument that may say its unit: an integer step, nil
 * (the module's step count), or a table {step = n} or {epoch = n} (no other
 * key), as bp_lua_at_fields reads it. */
int64_t bp_lua_opt_at(lua_State *L, int arg, bp_metric_unit *unit);

/* The dtype named by the value at the top of the stack ("float64",
 * "float32"), which stays there; else an argument error at arg, prefixed
 * "field 'F': " when field is not NULL. */
bp_dtype bp_lua_dtype_at_top(lua_State *L, int arg, const char *field);

/* Pushes nil, msg: a failure of the environment (a file, the database), as
 * io.open reports one. Returns 2, for `return bp_lua_fail(L, msg)`. */
int bp_lua_fail(lua_State *L, const char *msg);

/* ------------------------------------------------------------------------ */
/* Options tables (loptions.c) */

enum {
    BP_OPT_NAME = 1 /* [1] may hold a name, as a schedule's {"cosine", ...} */
};

/* Pushes "unknown option 'KEY' (expected a, b or c)", the names of known[]
 * (NULL-terminated); returns it. */
const char *bp_lua_push_unknown_option(lua_State *L, const char *key,
                                       const char *const known[]);

/* Whether the table at t has a key that is not one of known[]; if so,
 * pushes bp_lua_push_unknown_option's message for the first one found. */
int bp_lua_unknown_option(lua_State *L, int t, const char *const known[], int flags);

/* Raises an argument error at arg, with that message, when the options
 * table there has a key that is not one of known[]: a misspelt option
 * ("epoch = 10") would otherwise be ignored without a word. */
void bp_lua_check_options(lua_State *L, int arg, const char *const known[], int flags);

/* The options table's fields (at the top of the stack, for the first):
 * "field 'NAME': EXPECTED expected, got TYPE" as an argument error at arg;
 * a boolean, an integer >= lo, a string copied into buf of size n, a dtype;
 * each its default when absent. */
int bp_lua_field_error(lua_State *L, int arg, const char *name, const char *expected);
int bp_lua_opt_bool(lua_State *L, int arg, const char *name, int def);
int bp_lua_opt_int(lua_State *L, int arg, const char *name, int def, int lo);
const char *bp_lua_opt_str(lua_State *L, int arg, const char *name, const char *def,
                           char *buf, size_t n);
bp_dtype bp_lua_opt_dtype(lua_State *L, int arg);

/* ------------------------------------------------------------------------ */
/* Types' checks, for the files that take another's objects */

/* The tensor at i (raises if it is none, or closed); whether the value at
 * i is a tensor (open or not: a small one has a metatable of its own,
 * ltensor.c, so luaL_testudata does not tell); a new tensor pushed (raises
 * on a bad shape or no memory). */
struct bp_tensor *bp_lua_check_tensor(lua_State *L, int i);
int bp_lua_is_tensor(lua_State *L, int i);
struct bp_tensor *bp_lua_push_tensor(lua_State *L, bp_dtype dtype, int ndim,
                                     const size_t *dims);

/* Host views: tensors over a graph node's buffers for a Lua module's
 * callbacks (lhost.c). push makes one (a userdata, pushed); begin points it
 * at ndim dims of data and makes it usable; end makes it unusable (any use
 * raises, as does a reshape of it made in an earlier call); free frees its
 * tensor for good. The userdata must be kept alive (referenced) by the
 * caller until free. */
struct ltensor;
struct ltensor *bp_lua_push_host_view(lua_State *L, bp_dtype dtype);
/* A batch of B samples of a shape as a tensor's dimensions (ltensor.c):
 * {B, shape...}, or {B, values} past 3 dimensions; returns how many. */
int bp_lua_batch_dims(size_t *dims, size_t B, int ndim, const int *shape);
void bp_lua_host_view_begin(struct ltensor *u, int ndim, const size_t *dims, void *data);
void bp_lua_host_view_end(struct ltensor *u);
void bp_lua_host_view_free(struct ltensor *u);

/* Pushes a new, empty data set userdata (ldata.c) and returns where its
 * bp_data goes (NULL until set: set it before any use). */
bp_data **bp_lua_new_data(lua_State *L);
/* bp.data(x, y [, opts]): a data set from Lua tables (ldata.c), called by
 * bp.data's __call (ltext.c). */
int bp_lua_data_new(lua_State *L);

/* Pushes a new, empty net userdata (its net NULL: set it before any use),
 * created before the C object so that nothing leaks if that fails. */
lnet *bp_lua_new_lnet(lua_State *L);

/* The net at index i; raises if it is not one or is closed. A net that
 * reaches a method draws its dropout masks from the module's generator
 * (bp.seed's stream): this sets net->rng, for nets of every origin. */
lnet *bp_lua_check_lnet(lua_State *L, int i);
bp_net *bp_lua_check_net(lua_State *L, int i);

/* Whether the net has nothing to compute yet: a stack with no layers. */
static inline int bp_lua_net_empty(const bp_net *net) {
    return net->n_layers == 0 && !net->graph;
}

/* ------------------------------------------------------------------------ */
/* Modules: values (lmodule.c) and their compilation into a net's graph
 * (lcompile.c). The net's user value 1 is its tree of modules. */

#define MODULE_TYPE "backprop.module"
#define NODE_TYPE "backprop.node"

/* A module's kind: a leaf is one op of the graph; the others contain. */
enum { M_LEAF, M_SEQUENTIAL, M_SUM, M_CONCAT, M_GRAPH };

/* A module (user value 1: a container's children, a graph's {input node,
 * output node}). Fixed once made. */
typedef struct lmodule {
    int kind;
    bp_op op;                         /* a leaf's op */
    bp_node_opts o;                   /* a leaf's options; weight and bias
                                         point into values */
    char name[BP_GRAPH_MAX_NAME + 1]; /* "" when unnamed */
    char def[BP_GRAPH_MAX_NAME + 1];  /* a Lua module's (host's) definition name */
    double values[];                  /* a linear's explicit weights, then biases */
} lmodule;

/* A node of a bp.graph: an input (user value 1 nil, its shape here) or a
 * module's output (user value 1 the module, 2 the list of input nodes). */
typedef struct lnode {
    int ndim, shape[BP_GRAPH_MAX_DIMS];
} lnode;

/* Pushes a new module of kind and op, its options the op's defaults. */
lmodule *bp_lua_new_module(lua_State *L, int kind, bp_op op);

/* The module at i, or an argument error. */
lmodule *bp_lua_check_module(lua_State *L, int i);

/* What a module calls itself in messages: "linear", "relu", "sum", ... */
const char *bp_lua_module_kind(const lmodule *m);

/* Pushes its label as PyTorch prints the module: "Linear(4, 8)", "Sum". */
void bp_lua_push_module_label(lua_State *L, const lmodule *m);

/* "8" or "2x4" into s. */
void bp_lua_shape_text(char *s, size_t cap, int ndim, const int *shape);

/* Whether the value at i is a module (bp.linear, bp.sequential, ...). */
int bp_lua_is_module(lua_State *L, int i);

/* Lua modules (lhost.c). Fills o->host (into *h, which must live until
 * bp_graph_add has copied it) with a new context for the Lua module at mi,
 * in a net n of dtype; raises. The context is the node's once added;
 * before that bp_lua_host_release frees it. has_params: whether the module
 * has parameters (it may then appear once in a network). */
void bp_lua_host_opts(lua_State *L, int mi, lnet *n, bp_dtype dtype, bp_host *h,
                      bp_node_opts *o);
void bp_lua_host_release(void *ctx);
int bp_lua_host_has_params(lua_State *L, int mi);

/* What reading a network file needs to rebuild its Lua modules (lhost.c):
 * each host node's definition is looked up by its name and its tensors'
 * shapes among those bp.module{name = ...} registered (else the latest of
 * the name, which the loader refuses naming the tensor), and gets a new
 * context in the net n, its callbacks running on n's state. The loader
 * leaves each definition it used on L's stack (they keep the parameters'
 * names alive until the nodes are added): call it in a C function that
 * returns soon after. *c must outlive the load. */
typedef struct bp_lua_loader {
    lua_State *L;
    lnet *n;
} bp_lua_loader;
bp_save_hosts bp_lua_loader_hosts(bp_lua_loader *c, lua_State *L, lnet *n);

/* Pushes a new net made of the module at mi, computing in dtype; its input
 * shape from the argument inputs_arg (an integer or a list of dimensions;
 * 0: from the module). Raises with the engine's message, naming the module
 * and the shapes, when the module does not make a network. */
void bp_lua_net_from_module(lua_State *L, int mi, int inputs_arg, bp_dtype dtype);

/* Appends the module at mi to the net at ni (a stack becomes a graph);
 * raises, the net computing what it did, when it does not fit. */
void bp_lua_net_add_module(lua_State *L, int ni, int mi);

/* net:add(outputs, act) on a graph net at ni: a linear named "k" and an act
 * "k.act", k the next module of the net's sequence. -1 with e, the net
 * unchanged, when they do not fit. */
int bp_lua_graph_add_layer(lua_State *L, int ni, int outputs, bp_act act, double alpha,
                           bp_err *e);

/* Pushes a graph net's tree of modules, as tostring(net) shows it. */
void bp_lua_push_net_tree(lua_State *L, int ni);

/* Entry k of a net's tree of modules (the table at index tree): its depth,
 * node id and whether it is a leaf. */
typedef struct bp_tree_entry {
    int depth, id, leaf;
} bp_tree_entry;
bp_tree_entry bp_lua_tree_entry(lua_State *L, int tree, int k);

/* Pops a label and pushes a tree entry {depth =, name =, label =, leaf =,
 * id =} (id < 0: none yet). */
void bp_lua_push_tree_entry(lua_State *L, int depth, const char *name, size_t nlen,
                            int leaf, int id);

/* A graph net's tree of modules (its user value) and its note (bp_net.h),
 * which network files keep (ltree.c): tree_to_note sets the note of the
 * net at ni from its tree before the net is saved (none without a tree:
 * a stack made a graph prints a module a line anyway); tree_from_note
 * makes a loaded net's tree from its note, and leaves it without one when
 * the note is not a tree of this net (it then prints a module a line).
 * to_note raises when memory runs out. */
void bp_lua_tree_to_note(lua_State *L, int ni);
void bp_lua_tree_from_note(lua_State *L, int ni);

/* Losses and optimisers written in Lua (lscript.c). loss_new is bp.loss
 * with a table at 1, optim_new bp.optimizer with a function at 2; the
 * tests say whether the value at i is one. loss_call is loss:forward
 * (backward 0) or loss:backward of a Lua loss, on tables. script_step is a
 * training step of the net at ni with the Lua loss at li: forward of B rows
 * x of type xt, the loss of the output and y (B rows of k), its gradient
 * back, then the update: opt, else the Lua optimiser at oi (0: none), else
 * gradient descent with lr; returns the loss, raises. optim_step runs the
 * Lua optimiser at oi on the net at ni, its gradients computed. */
int bp_lua_script_loss_new(lua_State *L);
int bp_lua_script_optim_new(lua_State *L);
int bp_lua_is_script_loss(lua_State *L, int i);
int bp_lua_is_script_optim(lua_State *L, int i);
int bp_lua_script_loss_call(lua_State *L, int backward);
double bp_lua_script_step(lua_State *L, int ni, const void *x, bp_dtype xt, int B,
                          const double *y, int k, int li, bp_optim *opt, int oi,
                          double lr);
void bp_lua_script_optim_step(lua_State *L, int oi, int ni);

/* The same parts inside the engine's loop (net:fit, net:evaluate): the
 * hooks of bp_fit_config (host_loss, host_update) and bp_fit_evaluate_host,
 * their ud a bp_lua_fit_hooks naming slots of the calling C function's
 * frame (the engine calls back with no Lua frame between). Each calls Lua
 * protected: an error stops the loop with its message, to be raised once
 * the engine has returned, never a longjmp through the engine. */
typedef struct bp_lua_fit_hooks {
    lua_State *L;
    int ni, li, oi; /* the net, the Lua loss, the Lua optimiser (0: none) */
} bp_lua_fit_hooks;
int bp_lua_fit_loss(void *ud, const double *out, int O, const double *y, int k, int B,
                    double *loss, double *dout, bp_err *e);
int bp_lua_fit_update(void *ud, bp_net *net, bp_err *e);

/* A loss argument: a name or a backprop.loss; returns its bp_loss. */
int bp_lua_check_loss_arg(lua_State *L, int arg);

/* The same as a criterion: a name's loss with its defaults, a
 * backprop.loss's with its parameter; labels 0. */
bp_crit bp_lua_check_crit(lua_State *L, int arg);

/* Whether the targets at arg are class labels under c for a net of O
 * outputs: c's loss takes them, O >= 2, and arg holds one value a row: a
 * number or {c} for one sample (single), a list of B numbers or rows of one
 * number for a batch of B rows. */
int bp_lua_labels_at(lua_State *L, int arg, const bp_crit *c, int O, int B, int single);

/* Reads the targets at arg for B rows of a net of O outputs under *c into
 * b: O values a row as bp_lua_check_matrix reads them ("targets"), or, when
 * bp_lua_labels_at says so, one class number a row, setting c->labels.
 * Raises "expected B rows of targets, as the inputs, got N" when the rows
 * differ. The labels' range is the engine's to check. */
void bp_lua_check_targets(lua_State *L, int arg, bp_crit *c, int O, int B, int single,
                          buf *b);

/* The bp_loss called name, or "unknown loss 'NAME' (expected ...)" as an
 * argument error at arg, prefixed "field 'F': " when field is not NULL. */
int bp_lua_loss_parse(lua_State *L, const char *name, int arg, const char *field);

/* The optimizer at index i, or NULL if it is not one; raises if closed. */
bp_optim *bp_lua_test_optim(lua_State *L, int i);

/* A schedule table at t (an optimizer's option 'schedule': {"cosine",
 * t_max = 1000, ...}) into *s, checked; raises naming the option
 * (loptim.c). */
void bp_lua_check_schedule(lua_State *L, int t, bp_schedule *s);

/* The data set at index i; raises if it is not one or is closed. */
bp_data *bp_lua_check_data(lua_State *L, int i);

/* ------------------------------------------------------------------------ */
/* The run (lrunlog.c) */

/* Records parameter `name` with the value at index v (bp.param); raises if
 * the database fails. Nothing outside a run. */
void bp_lua_record_param(lua_State *L, const char *name, int v);

/* Logs a metric of the current run at a step or an epoch (nothing outside
 * a run); raises if the database fails or the name was logged in the other
 * unit. */
int bp_lua_log_metric(lua_State *L, const char *name, bp_metric_unit unit, int64_t at,
                      double v);

/* Records that epoch `epoch` of the current run ended at training step
 * `step` (nothing outside a run); raises if the database fails. */
void bp_lua_log_epoch_end(lua_State *L, int64_t epoch, int64_t step);

/* Marks the run diverged and raises "<name> is nan at step N: ...". */
int bp_lua_diverge(lua_State *L, const char *name, double v, int64_t step);

#endif
