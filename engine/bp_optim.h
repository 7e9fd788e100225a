/* bp_optim.h: optimisers, learning-rate schedules and gradient clipping.
 *
 * The lecture's update is w_new = w_old - lr * dLoss/dw (bp_net_update). An
 * optimiser replaces that last stage: after bp_net_backward has filled every
 * dW and db, bp_optim_step turns them into a change of the weights. The rules
 * follow PyTorch's documented algorithms (torch.optim.SGD, Adam, AdamW,
 * RMSprop, torch.optim.lr_scheduler, torch.nn.utils.clip_grad_norm_), so a
 * student can check a run against PyTorch; optim.c gives each formula.
 *
 * "Flat order" below is that of the trainable tensors of the network's
 * parameter list (bp_net_param_list), each row-major: for a stack
 * bp_net_params_get's, layer by layer, W row by row, then b; for a graph
 * its weights and biases without the buffers (batch norm's running
 * statistics), which no optimiser updates. Every state buffer (moments,
 * momentum) is a vector in that order, one entry per trainable value.
 *
 * An optimiser is made for one network shape and owns its state; all of it is
 * allocated by bp_optim_new, so bp_optim_step never allocates. The state is
 * double for both dtypes: a float32 network's weights and gradients are
 * read as doubles, updated by the same formulas, and rounded back to float. Fallible
 * functions return 0 (or a pointer) on success and -1 (or NULL) on failure
 * with a sentence in *e (e may be NULL); on failure nothing is changed. */
#ifndef BP_OPTIM_H
#define BP_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"
#include "bp_net.h"

typedef enum bp_optim_kind {
    BP_OPTIM_SGD,   /* plain, momentum, Nesterov */
    BP_OPTIM_ADAM,  /* L2 weight decay added to the gradient */
    BP_OPTIM_ADAMW, /* decoupled weight decay */
    BP_OPTIM_RMSPROP,
    BP_OPTIM_COUNT
} bp_optim_kind;

/* Names as scripts write them: "sgd", "adam", "adamw", "rmsprop".
 * bp_optim_parse returns -1 for an unknown name. */
const char *bp_optim_name(bp_optim_kind k);
int bp_optim_parse(const char *name);

/* Hyperparameters. A kind reads only the fields marked for it and ignores
 * the others. */
typedef struct bp_optim_config {
    bp_optim_kind kind;
    double lr;           /* base learning rate (the schedule scales it) */
    double weight_decay; /* sgd, adam, rmsprop: L2, wd * w added to the
                            gradient; adamw: w shrinks by lr * wd * w */
    double momentum;     /* sgd, rmsprop */
    double dampening;    /* sgd: momentum takes (1 - dampening) of g */
    int nesterov;        /* sgd: Nesterov momentum (needs momentum > 0 and
                            dampening 0) */
    double beta1, beta2; /* adam, adamw: decay of the first, second moment */
    double eps;          /* adam, adamw, rmsprop: added to sqrt(v) */
    double alpha;        /* rmsprop: decay of the mean square */
    int centered;        /* rmsprop: divide by the variance estimate */
    double clip_norm;    /* all kinds: > 0 clips the gradients' global norm
                            to this before each step; 0 = off */
} bp_optim_config;

/* PyTorch's defaults for kind k: lr 1e-3 (sgd, adam, adamw) or 1e-2
 * (rmsprop), betas 0.9 and 0.999, eps 1e-8, alpha 0.99, weight_decay 0
 * (1e-2 for adamw), everything else 0. An unknown kind gets sgd's. */
bp_optim_config bp_optim_config_default(bp_optim_kind k);

/* Checks every field the kind reads; -1 with the first problem, e.g.
 * "beta1 must be in [0, 1) (got 1)" or "nesterov needs momentum > 0". */
int bp_optim_config_check(const bp_optim_config *c, bp_err *e);

/* Learning-rate schedules (sched.c). The lr of step t (0 for the first
 * step), for a group's base lr lr0 and W = warmup_steps:
 *   t < W:   lr0 * (start_factor + (1 - start_factor) * t / W)   (LinearLR)
 *   t >= W:  with u = t - W,
 *     none:        lr0
 *     step:        lr0 * gamma ^ floor(u / step_size)            (StepLR)
 *     exponential: lr0 * gamma ^ u                               (ExponentialLR)
 *     cosine:      eta_min + (lr0 - eta_min) * (1 + cos(pi u / t_max)) / 2
 *                  (CosineAnnealingLR's closed form; past t_max it climbs
 *                  back up, as PyTorch's does)
 *     onecycle:    OneCycleLR (two phases), with M = max_lr (0: lr0, so
 *                  each group peaks at its own base lr), a = M / div_factor,
 *                  z = a / final_div_factor, e1 = pct_start * total_steps - 1,
 *                  e2 = total_steps - 1:
 *                    t <= e1: anneal(a, M, t / e1)
 *                    else:    anneal(M, z, (t - e1) / (e2 - e1))
 *                  anneal "cos": end + (start - end) / 2 * (cos(pi pct) + 1),
 *                  "linear": (end - start) * pct + start. With
 *                  cycle_momentum, momentum (sgd, rmsprop) or beta1 (adam,
 *                  adamw) follows the same phases from max_momentum down to
 *                  base_momentum and back. A step past total_steps is
 *                  refused, as PyTorch refuses it.
 *     plateau:     ReduceLROnPlateau: the lr is not a function of t but of
 *                  the metrics given to bp_optim_schedule_step (see there).
 * A warm-up followed by a decay is thus PyTorch's SequentialLR of the two
 * with its milestone at W; W = 0 means no warm-up (onecycle and plateau
 * take none). */
typedef enum bp_sched_kind {
    BP_SCHED_NONE,
    BP_SCHED_STEP,
    BP_SCHED_EXP,
    BP_SCHED_COSINE,
    BP_SCHED_PLATEAU,
    BP_SCHED_ONECYCLE,
    BP_SCHED_COUNT
} bp_sched_kind;

typedef struct bp_schedule {
    bp_sched_kind kind;
    double gamma;         /* step, exponential: factor, > 0 */
    int64_t step_size;    /* step: steps between two factors of gamma, >= 1 */
    int64_t t_max;        /* cosine: steps from lr0 down to eta_min, >= 1 */
    double eta_min;       /* cosine: the lowest lr, >= 0 */
    int64_t warmup_steps; /* >= 0 */
    double start_factor;  /* warm-up's first factor, in (0, 1] */
    /* plateau (PyTorch's defaults: min, 0.1, 10, 1e-4 rel, 0, 0, 1e-8) */
    int mode_max;         /* 0: the metric should fall ("min"), 1: rise ("max") */
    double factor;        /* new lr = max(lr * factor, min_lr), in [0, 1) */
    int64_t patience;     /* bad epochs tolerated before a cut, >= 0 */
    double threshold;     /* what counts as better, >= 0 */
    int threshold_abs;    /* 0: relative (best * (1 -+ threshold)), 1: absolute */
    int64_t cooldown;     /* epochs after a cut when bad ones are not counted */
    double min_lr;        /* >= 0 */
    double eps;           /* a cut smaller than this is not made, >= 0 */
    /* onecycle (PyTorch's defaults: 0.3, cos, 25, 1e4, cycle, 0.85, 0.95) */
    double max_lr;        /* >= 0; 0: each group's base lr */
    int64_t total_steps;  /* >= 1 */
    double pct_start;     /* in [0, 1] */
    int anneal_linear;    /* 0: "cos", 1: "linear" */
    double div_factor, final_div_factor; /* > 0 */
    int cycle_momentum;
    double base_momentum, max_momentum; /* in [0, 1) */
} bp_schedule;

/* Names: "none", "step", "exponential", "cosine", "plateau", "onecycle";
 * parse returns -1 for an unknown name. */
const char *bp_sched_name(bp_sched_kind k);
int bp_sched_parse(const char *name);

/* Kind k with PyTorch's defaults in every field (gamma 0.1, step_size 1,
 * t_max 1, start_factor 1/3, the plateau's and onecycle's above;
 * total_steps 0, which onecycle must be given). */
bp_schedule bp_schedule_default(bp_sched_kind k);

/* Checks the fields the kind reads (and the warm-up's when W > 0). */
int bp_schedule_check(const bp_schedule *s, bp_err *e);

/* The lr at step t >= 0 for base lr0, by the formulas above (plateau: lr0).
 * s must have passed bp_schedule_check; NULL means no schedule (lr0 at
 * every step). */
double bp_schedule_lr(const bp_schedule *s, double lr0, int64_t t);

/* onecycle with cycle_momentum: the momentum (or beta1) of step t; NaN for
 * any other schedule. */
double bp_schedule_momentum(const bp_schedule *s, int64_t t);

typedef struct bp_optim bp_optim;

/* An optimiser for networks shaped like net (its layers' sizes; a graph's
 * trainable tensors' counts), with the config c copied in and every state
 * buffer allocated and zeroed. Returns NULL if c is invalid, net is a stack
 * with no layers, or memory runs out. Free with bp_optim_free. Its one
 * group, every tensor, is named "all". */
bp_optim *bp_optim_new(const bp_net *net, const bp_optim_config *c, bp_err *e);

/* Parameter groups, as torch.optim's param_groups: each picks trainable
 * tensors of net by name (bp_name_matches: names, modules' names, globs)
 * and has its own hyperparameters (c: lr, weight_decay, momentum, ... of
 * the defaults' kind; its kind and clip_norm are the defaults', clipping
 * being over all the gradients). A tensor picked by two groups is refused,
 * as PyTorch refuses it ("parameter 'fc1.bias' is in groups 1 and 2"), and
 * so is a pattern that picks nothing; the tensors no group picks form one
 * more group, last, named "rest", with the defaults (PyTorch would leave
 * them out of the optimiser: list them to say otherwise). name NULL: the
 * group's number, "1", "2", ...; names are unique. */
typedef struct bp_optim_group {
    const char *name;
    const char *const *patterns;
    int n_patterns;
    bp_optim_config c;
} bp_optim_group;

#define BP_OPTIM_MAX_GROUP_NAME 32
#define BP_OPTIM_MAX_GROUPS 64

/* An optimiser over groups[0 .. n-1] (and the rest): as bp_optim_new,
 * NULL with the first problem, "group '2': beta1 must be in [0, 1) (got 1)".
 * n = 0 is bp_optim_new; n is at most BP_OPTIM_MAX_GROUPS. */
bp_optim *bp_optim_new_groups(const bp_net *net, const bp_optim_config *defaults,
                              const bp_optim_group *groups, int n, bp_err *e);

/* Frees everything; accepts NULL. */
void bp_optim_free(bp_optim *o);

/* The copy of the config (base lr included) the optimiser runs with. */
const bp_optim_config *bp_optim_get_config(const bp_optim *o);

/* Sets the base lr (the schedule still scales it) of every group, as
 * PyTorch's `for g in opt.param_groups: g["lr"] = lr`; under a plateau
 * schedule the current lr too. -1 for NaN, infinite or negative. */
int bp_optim_set_lr(bp_optim *o, double lr, bp_err *e);

/* The groups: their number G (>= 1), and group g's (0 .. G-1) name, config
 * (its base lr included) and next step's lr; the lr its last step used (NaN
 * before the first); which group trainable tensor k (flat order) is in;
 * group_find: the index of a name, or -1. set_group_lr sets group g's base
 * lr (and current lr under plateau). */
int bp_optim_groups(const bp_optim *o);
const char *bp_optim_group_name(const bp_optim *o, int g);
const bp_optim_config *bp_optim_group_config(const bp_optim *o, int g);
double bp_optim_group_lr(const bp_optim *o, int g);
double bp_optim_group_last_lr(const bp_optim *o, int g);
int bp_optim_group_of(const bp_optim *o, int k);
int bp_optim_group_find(const bp_optim *o, const char *name);
int bp_optim_set_group_lr(bp_optim *o, int g, double lr, bp_err *e);

/* ReduceLROnPlateau's step with the epoch's metric: with best the best
 * metric so far (+inf for min, -inf for max at first), "better" is
 * metric < best * (1 - threshold) (min, relative), < best - threshold (min,
 * absolute), > best * (1 + threshold), > best + threshold (max); a better
 * one becomes best and zeroes the bad epochs, any other counts one more
 * (NaN too). During a cooldown the cooldown counts down and bad epochs are
 * forgotten. Once bad epochs exceed patience, every group's lr becomes
 * max(lr * factor, min_lr) unless that cuts less than eps, the cooldown
 * starts and bad epochs are zeroed. -1 if the schedule is not plateau. */
int bp_optim_schedule_step(bp_optim *o, double metric, bp_err *e);

/* The plateau's counters: epochs stepped, bad epochs, cooldown left, best. */
typedef struct bp_plateau_state {
    int64_t epochs, bad, cooldown_left;
    double best;
} bp_plateau_state;
bp_plateau_state bp_optim_plateau(const bp_optim *o);

/* Replaces the schedule (a copy is kept; NULL removes it). Steps already
 * taken count: the next step uses the new schedule's lr at t = steps. A
 * plateau starts afresh (best unknown, each group's lr its base lr).
 * onecycle's cycle_momentum needs the momentum buffer (sgd, rmsprop made
 * with momentum > 0): -1 otherwise. */
int bp_optim_set_schedule(bp_optim *o, const bp_schedule *s, bp_err *e);

/* The schedule the optimiser runs (NULL: none). */
const bp_schedule *bp_optim_get_schedule(const bp_optim *o);

/* One update of every weight and bias of net from its dW and db, each
 * group's with its config and the lr of the schedule at t =
 * bp_optim_steps(o). Frozen tensors (bp_net_freeze) are left alone, their
 * state and own step count too (PyTorch skips a parameter without a
 * gradient), and out of the clipping norm. With clip_norm > 0 the
 * gradients are first clipped in place (bp_optim_clip). Weight decay never
 * changes dW or db. Returns -1, changing nothing, if net's shape is not the
 * one the optimiser was made for, if clipping is on and the gradient norm
 * is not finite, or past a onecycle's total_steps. Never allocates. */
int bp_optim_step(bp_optim *o, bp_net *net, bp_err *e);

/* The lr the next step will use (the first group's), and the number of
 * steps taken. */
double bp_optim_lr(const bp_optim *o);
int64_t bp_optim_steps(const bp_optim *o);

/* The gradient norm the last step measured before clipping (NaN if it did
 * not clip, or before the first step). */
double bp_optim_last_norm(const bp_optim *o);

/* Forgets every moment and the step count, as if just made. */
void bp_optim_reset(bp_optim *o);

/* State buffers by name, in flat order: "momentum" (sgd with momentum > 0,
 * rmsprop with momentum > 0), "m" and "v" (adam, adamw: first and second
 * moment), "v" (rmsprop: mean square), "grad_avg" (centered rmsprop).
 * Returns the buffer and its length in *n (the trainable count), or NULL and
 * *n = 0 if this optimiser keeps no such buffer. n may be NULL. */
const double *bp_optim_state(const bp_optim *o, const char *which, size_t *n);

/* The name of the i-th buffer this optimiser keeps (i from 0), NULL past the
 * last: the order of the buffers in a saved state. */
const char *bp_optim_state_name(const bp_optim *o, int i);

/* The whole state as doubles, for checkpoints: the step count, then each
 * buffer in bp_optim_state_name order; then, when the optimiser has groups
 * of its own, a plateau schedule or a tensor whose step count is not the
 * optimiser's (it was frozen for some steps), the groups' part: each
 * group's base lr, each trainable tensor's step count, and under plateau
 * its epochs, bad epochs, cooldown left, best and each group's current lr.
 * size is their number; save copies them into out (size doubles); load
 * copies them back after checking the count n (either layout where the
 * groups' part may be left out), that step counts are whole numbers in
 * [0, 2^53], every value is finite (best may be infinite), lrs and mean
 * squares are >= 0 (-1 and nothing changed if not). */
size_t bp_optim_state_size(const bp_optim *o);
void bp_optim_state_save(const bp_optim *o, double *out);
int bp_optim_state_load(bp_optim *o, const double *in, size_t n, bp_err *e);

/* The global (L2) norm of all of net's gradients (its trainable tensors'
 * not frozen), as one vector. */
double bp_optim_grad_norm(const bp_net *net);

/* Clips net's gradients in place to global norm max_norm, as
 * clip_grad_norm_: with coefficient c = max_norm / (norm + 1e-6), every dW
 * and db is multiplied by c when c < 1. Returns the norm before clipping.
 * Gradients are left alone if max_norm is not > 0 or the norm is not
 * finite (which the returned norm shows). */
double bp_optim_clip(bp_net *net, double max_norm);

#endif
