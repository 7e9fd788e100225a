/* optim.c: the update rules that can replace the lecture's w -= lr * dw.
 *
 * Each rule is PyTorch's documented algorithm (torch.optim.SGD, Adam, AdamW,
 * RMSprop), restated in the comment above its loop, so that a run here can
 * be checked against PyTorch step by step. Where PyTorch's code arranges the
 * same formula differently (Adam's bias correction), the loop follows the
 * code, because that is what decides the last bits.
 *
 * All the state (moments, momentum) lives in one block allocated by
 * bp_optim_new, a vector per kind of state over the trainable tensors of
 * the net's parameter list (bp_net_param_list) in its order, so a step only
 * walks arrays: it never allocates and never fails once the shape and the
 * gradient norm have been checked. For a stack that is the flat order of
 * bp_net_params_get (W1, b1, W2, ...), as before the list existed; a
 * graph's buffers (batch norm's running statistics) are not in it. The
 * optimiser remembers the shape of the net it was made for rather than the
 * net itself, so any net of that shape (a copy, a reloaded one, a stack made
 * a graph) can use it.
 *
 * A float32 network's parameters go through the same double rules a block
 * at a time (converted into a buffer on the stack, updated, rounded back to
 * float once), and its state stays double: one set of rules to check against
 * PyTorch, and no allocation either way.
 *
 * Dimensions: I = inputs of a layer, O = outputs of a layer, N = entries of
 * one parameter array (O * I for W, O for b), P = parameters of the net. */
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_optim.h"
#include "bp_team.h"
#include "bp_util.h"
#include "optim_int.h"

static const char *const optim_names[BP_OPTIM_COUNT] = {"sgd", "adam", "adamw",
                                                        "rmsprop"};

const char *bp_optim_name(bp_optim_kind k) {
    return bp_name_of(optim_names, BP_OPTIM_COUNT, (int)k);
}
int bp_optim_parse(const char *name) {
    return bp_name_find(optim_names, BP_OPTIM_COUNT, name);
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

bp_optim_config bp_optim_config_default(bp_optim_kind k) {
    if ((unsigned)k >= BP_OPTIM_COUNT) k = BP_OPTIM_SGD;
    bp_optim_config c = {
        .kind = k, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .alpha = 0.99};
    if (k == BP_OPTIM_ADAMW) c.weight_decay = 1e-2;
    if (k == BP_OPTIM_RMSPROP) c.lr = 1e-2;
    return c;
}

static int finite_nonneg(double x) { return isfinite(x) && x >= 0; }

int optim_check_lr(double lr, bp_err *e) {
    if (!finite_nonneg(lr))
        return bp_err_set(e, "learning rate must be a finite number >= 0 (got %g)", lr);
    return 0;
}

static int check_unit(const char *what, double x, bp_err *e) {
    if (!(x >= 0 && x < 1))
        return bp_err_set(e, "%s must be in [0, 1) (got %g)", what, x);
    return 0;
}

static int check_eps(double eps, bp_err *e) {
    if (!(isfinite(eps) && eps > 0))
        return bp_err_set(e, "eps must be a finite number > 0 (got %g)", eps);
    return 0;
}

static int check_momentum(double mu, bp_err *e) {
    if (!finite_nonneg(mu))
        return bp_err_set(e, "momentum must be a finite number >= 0 (got %g)", mu);
    return 0;
}

int bp_optim_config_check(const bp_optim_config *c, bp_err *e) {
    if ((unsigned)c->kind >= BP_OPTIM_COUNT)
        return bp_err_set(e, "unknown optimiser %d", (int)c->kind);
    if (optim_check_lr(c->lr, e)) return -1;
    if (!finite_nonneg(c->weight_decay))
        return bp_err_set(e, "weight_decay must be a finite number >= 0 (got %g)",
                          c->weight_decay);
    if (!finite_nonneg(c->clip_norm))
        return bp_err_set(e,
                          "clip_norm must be a finite number >= 0, 0 for "
                          "no clipping (got %g)",
                          c->clip_norm);
    switch (c->kind) {
        case BP_OPTIM_SGD:
            if (check_momentum(c->momentum, e)) return -1;
            if (!(c->dampening >= 0 && c->dampening <= 1))
                return bp_err_set(e, "dampening must be in [0, 1] (got %g)",
                                  c->dampening);
            /* PyTorch refuses these too: Nesterov's look-ahead is defined on an
         * undamped momentum buffer. */
            if (c->nesterov && c->momentum == 0)
                return bp_err_set(e, "nesterov needs momentum > 0");
            if (c->nesterov && c->dampening != 0)
                return bp_err_set(e, "nesterov needs dampening = 0 (got %g)",
                                  c->dampening);
            break;
        case BP_OPTIM_ADAM:
        case BP_OPTIM_ADAMW:
            if (check_unit("beta1", c->beta1, e) || check_unit("beta2", c->beta2, e) ||
                check_eps(c->eps, e))
                return -1;
            break;
        case BP_OPTIM_RMSPROP:
            if (check_unit("alpha", c->alpha, e) || check_eps(c->eps, e) ||
                check_momentum(c->momentum, e))
                return -1;
            break;
        default: break;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Making and inspecting an optimiser                                        */

static void add_buf(bp_optim *o, const char *name) { o->names[o->n_bufs++] = name; }

/* Whether any group has momentum, or is centered. */
static int any_momentum(const bp_optim *o) {
    for (int g = 0; g < o->G; g++)
        if (o->groups[g].c.momentum != 0) return 1;
    return 0;
}
static int any_centered(const bp_optim *o) {
    for (int g = 0; g < o->G; g++)
        if (o->groups[g].c.centered) return 1;
    return 0;
}

/* The buffers the groups' rules read, in the order a saved state lists
 * them; one for all tensors when any group needs it (PyTorch keeps them
 * per parameter; a zero entry is what it would start from). */
static int make_bufs(bp_optim *o) {
    switch (o->c.kind) {
        case BP_OPTIM_SGD:
            if (any_momentum(o)) add_buf(o, "momentum");
            break;
        case BP_OPTIM_ADAM:
        case BP_OPTIM_ADAMW:
            add_buf(o, "m");
            add_buf(o, "v");
            break;
        case BP_OPTIM_RMSPROP:
            add_buf(o, "v");
            if (any_momentum(o)) add_buf(o, "momentum");
            if (any_centered(o)) add_buf(o, "grad_avg");
            break;
        default: break;
    }
    if (o->n_bufs) {
        o->state = bp_calloc((size_t)o->n_bufs * o->P, sizeof(double));
        if (!o->state) return -1;
    }
    for (int i = 0; i < o->n_bufs; i++) {
        double *buf = o->state + (size_t)i * o->P;
        o->bufs[i] = buf;
        const char *n = o->names[i];
        if (strcmp(n, "m") == 0) o->m = buf;
        else if (strcmp(n, "v") == 0) o->v = buf;
        else if (strcmp(n, "momentum") == 0) o->momentum = buf;
        else o->grad_avg = buf;
    }
    return 0;
}

/* The shape of net: a stack's layer sizes, the trainable tensors' counts. */
static int take_shape(bp_optim *o, const bp_net *net) {
    o->n_layers = net->n_layers;
    o->shape = bp_malloc(sizeof(int) * 2 * (size_t)(net->n_layers ? net->n_layers : 1));
    if (!o->shape) return -1;
    for (int l = 0; l < net->n_layers; l++) {
        o->shape[2 * l] = net->layers[l].I;
        o->shape[2 * l + 1] = net->layers[l].O;
    }
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    size_t m = (size_t)(n ? n : 1);
    o->sizes = bp_malloc(sizeof(size_t) * m);
    o->group_of = bp_calloc(m, sizeof(int));
    o->tsteps = bp_calloc(m, sizeof(int64_t));
    if (!o->sizes || !o->group_of || !o->tsteps) return -1;
    for (int k = 0; k < n; k++)
        if (t[k].trainable) o->P += (o->sizes[o->n_tensors++] = t[k].count);
    return 0;
}

/* Group gi's config: the caller's with the defaults' kind and clipping,
 * checked; its name, its own or its number, unique. */
static int group_config(bp_optim *o, int gi, const bp_optim_group *gr, bp_err *e) {
    group *g = &o->groups[gi];
    g->c = gr->c;
    g->c.kind = o->c.kind;
    g->c.clip_norm = o->c.clip_norm;
    g->c.nesterov = gr->c.nesterov != 0;
    g->c.centered = gr->c.centered != 0;
    if (gr->name && (!gr->name[0] || strlen(gr->name) >= BP_OPTIM_MAX_GROUP_NAME))
        return bp_err_set(e, "group %d: a name of 1 to %d characters, please", gi + 1,
                          BP_OPTIM_MAX_GROUP_NAME - 1);
    if (gr->name) snprintf(g->name, sizeof g->name, "%s", gr->name);
    else snprintf(g->name, sizeof g->name, "%d", gi + 1);
    for (int j = 0; j < gi; j++)
        if (strcmp(o->groups[j].name, g->name) == 0)
            return bp_err_set(e, "groups %d and %d are both named '%s'", j + 1, gi + 1,
                              g->name);
    bp_err inner;
    if (bp_optim_config_check(&g->c, &inner))
        return bp_err_set(e, "group '%s': %s", g->name, inner.msg);
    return 0;
}

/* Which group each trainable tensor of net is in: the one whose patterns
 * pick it (PyTorch refuses a parameter in two), else the rest (G - 1). */
static int assign_groups(bp_optim *o, const bp_net *net, const bp_optim_group *gr, int n,
                         bp_err *e) {
    int nt;
    const bp_param *t = bp_net_param_list(net, &nt);
    for (int k = 0, j = 0; k < nt; k++) {
        if (!t[k].trainable) continue;
        o->group_of[j] = -1;
        for (int g = 0; g < n; g++)
            for (int p = 0; p < gr[g].n_patterns; p++) {
                if (!bp_name_matches(gr[g].patterns[p], t[k].name)) continue;
                if (o->group_of[j] >= 0 && o->group_of[j] != g)
                    return bp_err_set(e,
                                      "parameter '%s' is in groups '%s' and '%s' (one "
                                      "group a parameter, as in PyTorch)",
                                      t[k].name, o->groups[o->group_of[j]].name,
                                      o->groups[g].name);
                o->group_of[j] = g;
            }
        if (o->group_of[j] < 0) o->group_of[j] = n;
        j++;
    }
    return 0;
}

/* A pattern that picks no trainable tensor is a typo more often than not. */
static int check_patterns(const bp_net *net, const bp_optim_group *gr, int n, bp_err *e) {
    int nt;
    const bp_param *t = bp_net_param_list(net, &nt);
    for (int g = 0; g < n; g++) {
        if (gr[g].n_patterns < 1)
            return bp_err_set(e, "group %d picks no parameters: give it params", g + 1);
        for (int p = 0; p < gr[g].n_patterns; p++) {
            int hit = 0;
            for (int k = 0; k < nt && !hit; k++)
                hit = t[k].trainable && bp_name_matches(gr[g].patterns[p], t[k].name);
            if (!hit)
                return bp_err_set(e, "group %d: no parameter or module matches '%s'", g + 1,
                                  gr[g].patterns[p]);
        }
    }
    return 0;
}

/* The groups: the caller's n, then the rest, dropped when nothing is left
 * for it (but kept as "all" when there are no others). */
static int make_groups(bp_optim *o, const bp_net *net, const bp_optim_group *gr, int n,
                       bp_err *e) {
    o->own_groups = n > 0;
    o->groups = bp_calloc((size_t)n + 1, sizeof(group));
    if (!o->groups) return bp_err_set(e, "out of memory");
    o->G = n + 1;
    for (int g = 0; g < n; g++)
        if (group_config(o, g, &gr[g], e)) return -1;
    o->groups[n].c = o->c;
    snprintf(o->groups[n].name, sizeof o->groups[n].name, "%s", n ? "rest" : "all");
    for (int g = 0; g < n; g++)
        if (strcmp(o->groups[g].name, o->groups[n].name) == 0)
            return bp_err_set(e, "group %d: the name '%s' is the rest's", g + 1,
                              o->groups[n].name);
    if (check_patterns(net, gr, n, e) || assign_groups(o, net, gr, n, e)) return -1;
    int rest = 0;
    for (int j = 0; j < o->n_tensors; j++) rest |= o->group_of[j] == n;
    if (n && !rest) o->G = n;
    for (int g = 0; g < o->G; g++) {
        o->groups[g].lr_now = o->groups[g].c.lr;
        o->groups[g].lr_last = NAN;
    }
    return 0;
}

bp_optim *bp_optim_new_groups(const bp_net *net, const bp_optim_config *c,
                              const bp_optim_group *groups, int n, bp_err *e) {
    if (bp_optim_config_check(c, e)) return NULL;
    if (n < 0 || n > BP_OPTIM_MAX_GROUPS) {
        bp_err_set(e, "%d groups: at most %d, please", n, BP_OPTIM_MAX_GROUPS);
        return NULL;
    }
    if (net->n_layers == 0 && !bp_net_is_graph(net)) {
        bp_err_set(e, "the network has no layers");
        return NULL;
    }
    bp_optim *o = bp_calloc(1, sizeof *o);
    if (!o) goto oom;
    o->c = *c;
    o->c.nesterov = c->nesterov != 0;
    o->c.centered = c->centered != 0;
    o->last_norm = NAN;
    o->plateau.best = INFINITY;
    if (take_shape(o, net)) goto oom;
    if (make_groups(o, net, groups, n, e)) {
        bp_optim_free(o);
        return NULL;
    }
    if (make_bufs(o)) goto oom;
    return o;
oom:
    bp_optim_free(o);
    bp_err_set(e, "out of memory");
    return NULL;
}

bp_optim *bp_optim_new(const bp_net *net, const bp_optim_config *c, bp_err *e) {
    return bp_optim_new_groups(net, c, NULL, 0, e);
}

void bp_optim_free(bp_optim *o) {
    if (!o) return;
    bp_free(o->shape);
    bp_free(o->sizes);
    bp_free(o->group_of);
    bp_free(o->tsteps);
    bp_free(o->groups);
    bp_free(o->state);
    bp_free(o);
}

const bp_optim_config *bp_optim_get_config(const bp_optim *o) { return &o->c; }

int bp_optim_set_group_lr(bp_optim *o, int g, double lr, bp_err *e) {
    if (g < 0 || g >= o->G) return bp_err_set(e, "no group %d", g + 1);
    if (optim_check_lr(lr, e)) return -1;
    o->groups[g].c.lr = o->groups[g].lr_now = lr;
    if (g == o->G - 1 && !o->own_groups) o->c.lr = lr;
    return 0;
}

int bp_optim_set_lr(bp_optim *o, double lr, bp_err *e) {
    if (optim_check_lr(lr, e)) return -1;
    o->c.lr = lr;
    for (int g = 0; g < o->G; g++) bp_optim_set_group_lr(o, g, lr, NULL);
    return 0;
}

int optim_plateau_on(const bp_optim *o) {
    return o->scheduled && o->s.kind == BP_SCHED_PLATEAU;
}

/* A plateau starting afresh: best unknown, each group at its base lr. */
static void plateau_reset(bp_optim *o) {
    o->plateau = (bp_plateau_state){.best = optim_plateau_on(o) && o->s.mode_max ? -INFINITY
                                                                                 : INFINITY};
    for (int g = 0; g < o->G; g++) o->groups[g].lr_now = o->groups[g].c.lr;
}

int bp_optim_set_schedule(bp_optim *o, const bp_schedule *s, bp_err *e) {
    if (!s) {
        o->scheduled = 0;
        return 0;
    }
    if (bp_schedule_check(s, e)) return -1;
    /* PyTorch would give a momentum-less SGD a momentum; this one has no
     * buffer for it (its size is fixed when made). */
    if (s->kind == BP_SCHED_ONECYCLE && s->cycle_momentum && o->c.kind != BP_OPTIM_ADAM &&
        o->c.kind != BP_OPTIM_ADAMW && !o->momentum)
        return bp_err_set(e,
                          "onecycle's cycle_momentum needs an optimiser made with "
                          "momentum > 0 (or cycle_momentum = false)");
    o->s = *s;
    o->scheduled = 1;
    if (s->kind == BP_SCHED_PLATEAU) plateau_reset(o);
    return 0;
}

const bp_schedule *bp_optim_get_schedule(const bp_optim *o) {
    return o->scheduled ? &o->s : NULL;
}

int bp_optim_groups(const bp_optim *o) { return o->G; }
const char *bp_optim_group_name(const bp_optim *o, int g) { return o->groups[g].name; }
const bp_optim_config *bp_optim_group_config(const bp_optim *o, int g) {
    return &o->groups[g].c;
}
int bp_optim_group_of(const bp_optim *o, int k) { return o->group_of[k]; }
double bp_optim_group_last_lr(const bp_optim *o, int g) { return o->groups[g].lr_last; }

int bp_optim_group_find(const bp_optim *o, const char *name) {
    for (int g = 0; g < o->G; g++)
        if (strcmp(o->groups[g].name, name) == 0) return g;
    return -1;
}

double bp_optim_group_lr(const bp_optim *o, int g) {
    if (optim_plateau_on(o)) return o->groups[g].lr_now;
    return bp_schedule_lr(o->scheduled ? &o->s : NULL, o->groups[g].c.lr, o->steps);
}

double bp_optim_lr(const bp_optim *o) { return bp_optim_group_lr(o, 0); }
int64_t bp_optim_steps(const bp_optim *o) { return o->steps; }
double bp_optim_last_norm(const bp_optim *o) { return o->last_norm; }

/* ReduceLROnPlateau._is_better, written as PyTorch writes it. */
static int plateau_better(const bp_schedule *s, double a, double best) {
    if (!s->mode_max && !s->threshold_abs) return a < best * (1.0 - s->threshold);
    if (!s->mode_max) return a < best - s->threshold;
    if (!s->threshold_abs) return a > best * (s->threshold + 1.0);
    return a > best + s->threshold;
}

int bp_optim_schedule_step(bp_optim *o, double metric, bp_err *e) {
    if (!optim_plateau_on(o))
        return bp_err_set(e, "schedule_step needs a plateau schedule (this one is %s)",
                          bp_sched_name(o->scheduled ? o->s.kind : BP_SCHED_NONE));
    const bp_schedule *s = &o->s;
    bp_plateau_state *p = &o->plateau;
    p->epochs++;
    if (plateau_better(s, metric, p->best)) {
        p->best = metric;
        p->bad = 0;
    } else {
        p->bad++;
    }
    if (p->cooldown_left > 0) {
        p->cooldown_left--;
        p->bad = 0; /* bad epochs in a cooldown are not counted */
    }
    if (p->bad > s->patience) {
        for (int g = 0; g < o->G; g++) {
            double old = o->groups[g].lr_now, lr = fmax(old * s->factor, s->min_lr);
            if (old - lr > s->eps) o->groups[g].lr_now = lr;
        }
        p->cooldown_left = s->cooldown;
        p->bad = 0;
    }
    return 0;
}

bp_plateau_state bp_optim_plateau(const bp_optim *o) { return o->plateau; }

void bp_optim_reset(bp_optim *o) {
    if (o->state) memset(o->state, 0, sizeof(double) * (size_t)o->n_bufs * o->P);
    memset(o->tsteps, 0, sizeof(int64_t) * (size_t)(o->n_tensors ? o->n_tensors : 1));
    o->steps = 0;
    o->last_norm = NAN;
    for (int g = 0; g < o->G; g++) o->groups[g].lr_last = NAN;
    plateau_reset(o);
}

const double *bp_optim_state(const bp_optim *o, const char *which, size_t *n) {
    for (int i = 0; i < o->n_bufs; i++)
        if (strcmp(which, o->names[i]) == 0) {
            if (n) *n = o->P;
            return o->bufs[i];
        }
    if (n) *n = 0;
    return NULL;
}

const char *bp_optim_state_name(const bp_optim *o, int i) {
    return i >= 0 && i < o->n_bufs ? o->names[i] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Gradient clipping: torch.nn.utils.clip_grad_norm_ with the 2-norm.        */
/* The norm is that of all gradients as one vector of P entries,             */
/* sqrt(sum of dw^2). Every gradient is then scaled by                       */
/* c = max_norm / (norm + 1e-6) if c < 1: the 1e-6 keeps c finite for a zero */
/* gradient and makes the clipped norm land just under max_norm.             */

/* The squares of N floats summed in 8 double lanes (lane l the values at
 * l, l + 8, l + 16, ...), the lanes then added in a fixed order: one chain
 * of dependent additions a value was 0.9% of W9's iteration
 * (scripts/bench/NOTES.md); every clone adds the same numbers in the same
 * order (-ffp-contract=off, as Adam's below), so the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static double squares_f32(const float *v, size_t N) {
    enum { L = 8 };
    double acc[L] = {0};
    size_t k = 0;
    for (; k + L <= N; k += L)
        for (int l = 0; l < L; l++) acc[l] += (double)v[k + l] * v[k + l];
    for (int l = 0; k + l < N; l++) acc[l] += (double)v[k + l] * v[k + l];
    for (int w = L / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

/* ss plus the squares of N numbers of type t at p: double's added in
 * order, float's a tensor's sum in lanes (squares_f32) added to ss. */
static double add_squares(double ss, const void *p, bp_dtype t, size_t N) {
    if (t == BP_F32) {
        ss += squares_f32(p, N);
    } else {
        const double *v = p;
        for (size_t k = 0; k < N; k++) ss += v[k] * v[k];
    }
    return ss;
}

double bp_optim_grad_norm(const bp_net *net) {
    double ss = 0;
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0; k < n; k++)
        if (t[k].trainable && !t[k].frozen)
            ss = add_squares(ss, t[k].grad, net->dtype, t[k].count);
    return sqrt(ss);
}

static void scale(void *p, bp_dtype t, size_t N, double c) {
    if (t == BP_F32) {
        float *v = p;
        for (size_t k = 0; k < N; k++) v[k] = (float)(v[k] * c);
    } else {
        double *v = p;
        for (size_t k = 0; k < N; k++) v[k] *= c;
    }
}

static void scale_grads(bp_net *net, double c) {
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0; k < n; k++)
        if (t[k].trainable && !t[k].frozen) scale(t[k].grad, net->dtype, t[k].count, c);
}

double bp_optim_clip(bp_net *net, double max_norm) {
    double norm = bp_optim_grad_norm(net);
    if (max_norm > 0 && isfinite(norm)) {
        double c = max_norm / (norm + 1e-6);
        if (c < 1) scale_grads(net, c);
    }
    return norm;
}

/* ------------------------------------------------------------------------ */
/* The update rules. Each updates N parameters w from their gradients g,    */
/* with the config c of their group; its state starts at entry off of each   */
/* buffer. t is PyTorch's step number of the tensor, 1 on its first step.    */
/* Weight decay enters through a local g, so the net's dW and db are left as */
/* backward made them.                                                       */

/* SGD (torch.optim.SGD), with lr, momentum mu, dampening tau, L2 wd:
 *   g = g + wd * w                        (if wd != 0)
 *   b = g on the first step,
 *       mu * b + (1 - tau) * g after      (if mu != 0)
 *   g = g + mu * b  (Nesterov)  or  b     (if mu != 0)
 *   w = w - lr * g
 * PyTorch's velocity is the sum of gradients, not of lr-scaled steps, so a
 * change of lr takes effect at once. The last line is bp_sgd_step, so with
 * wd = mu = 0 this is exactly bp_net_update's w -= lr * dw, bit for bit. */
static void sgd(const bp_optim *o, const bp_optim_config *c, double *w, const double *g,
                size_t N, size_t off, double lr, int64_t t) {
    const double wd = c->weight_decay, mu = c->momentum;
    const double tau = c->dampening;
    double *b = o->momentum ? o->momentum + off : NULL;
    for (size_t k = 0; k < N; k++) {
        double gk = g[k];
        if (wd != 0) gk = gk + wd * w[k];
        if (mu != 0) {
            b[k] = t == 1 ? gk : mu * b[k] + (1 - tau) * gk;
            gk = c->nesterov ? gk + mu * b[k] : b[k];
        }
        w[k] = bp_sgd_step(w[k], gk, lr);
    }
}

/* Adam (torch.optim.Adam) and AdamW (torch.optim.AdamW), with lr, betas
 * b1, b2, eps and weight decay wd:
 *   Adam:  g = g + wd * w                 (L2, if wd != 0)
 *   AdamW: w = w - lr * wd * w            (decoupled: not in the moments)
 *   m = b1 * m + (1 - b1) * g             (first moment)
 *   v = b2 * v + (1 - b2) * g^2           (second moment)
 *   w = w - lr * m_hat / (sqrt(v_hat) + eps),
 *       m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
 * The bias corrections undo the moments' start at zero. PyTorch's code
 * computes the last line as w - (lr / (1 - b1^t)) * m /
 * (sqrt(v) / sqrt(1 - b2^t) + eps), and AdamW's decay as w * (1 - lr * wd);
 * so does this loop. */
/* Adam's loop is a pass over every parameter with a square root and a
 * division each: this file is compiled with -fno-math-errno
 * (CMakeLists.txt), without which sqrt keeps a scalar call for errno's sake
 * (v is never negative; the square root is IEEE's correctly rounded one
 * either way), and GCC builds it for AVX-512 and AVX2 too and picks at load
 * time; -ffp-contract=off leaves nothing to fuse, so the clones give the
 * same bits. 2% of W9's iteration before (scripts/bench/NOTES.md). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_THREAD__)
#define ADAM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADAM_CLONES
#endif

/* A step's constants, each computed once a call (the powers of the bias
 * corrections). */
typedef struct adam_k {
    double wd, b1, b2, eps, step_size, bc2_sqrt, shrink;
    int decoupled;
} adam_k;

static adam_k adam_consts(const bp_optim_config *c, double lr, int64_t t) {
    adam_k a = {c->weight_decay, c->beta1, c->beta2, c->eps, lr / (1 - pow(c->beta1, (double)t)),
                sqrt(1 - pow(c->beta2, (double)t)), 1 - lr * c->weight_decay,
                c->kind == BP_OPTIM_ADAMW};
    return a;
}

/* One parameter's step: its new value from w and g, m and v updated. */
static inline double adam_one(const adam_k *a, double w, double g, double *m, double *v) {
    if (a->wd != 0) {
        if (a->decoupled) w *= a->shrink;
        else g = g + a->wd * w;
    }
    *m = a->b1 * *m + (1 - a->b1) * g;
    *v = a->b2 * *v + (1 - a->b2) * g * g;
    double denom = sqrt(*v) / a->bc2_sqrt + a->eps;
    return w - a->step_size * (*m / denom);
}

ADAM_CLONES
static void adam(const bp_optim *o, const bp_optim_config *c, double *w, const double *g,
                 size_t N, size_t off, double lr, int64_t t) {
    const adam_k a = adam_consts(c, lr, t);
    double *m = o->m + off, *v = o->v + off;
    for (size_t k = 0; k < N; k++) w[k] = adam_one(&a, w[k], g[k], m + k, v + k);
}

/* float32 parameters in one pass over w, g, m and v: each value widened
 * to double, the double rule (adam_one), rounded once back; the same bits
 * as update_f32's blocks through adam (its reference: test_optim.c
 * test_adam_f32_one_pass), without the copies in and out and with the
 * powers computed once a tensor instead of once a block. */
ADAM_CLONES
static void adam_f32(const bp_optim *o, const bp_optim_config *c, float *w, const float *g,
                     size_t N, size_t off, double lr, int64_t t) {
    const adam_k a = adam_consts(c, lr, t);
    double *m = o->m + off, *v = o->v + off;
    for (size_t k = 0; k < N; k++) w[k] = (float)adam_one(&a, w[k], g[k], m + k, v + k);
}

/* RMSprop (torch.optim.RMSprop), with lr, alpha, eps, momentum mu and L2 wd:
 *   g = g + wd * w                        (if wd != 0)
 *   v = alpha * v + (1 - alpha) * g^2     (mean square)
 *   centered: a = alpha * a + (1 - alpha) * g,  d = sqrt(v - a^2) + eps
 *   else:     d = sqrt(v) + eps
 *   mu > 0:   b = mu * b + g / d,  w = w - lr * b
 *   else:     w = w - lr * g / d
 * eps is added outside the square root, as PyTorch does (TensorFlow adds it
 * inside). No bias correction: v starts at zero and the first steps are
 * large, as in PyTorch. */
static void rmsprop(const bp_optim *o, const bp_optim_config *c, double *w,
                    const double *g, size_t N, size_t off, double lr) {
    const double wd = c->weight_decay, alpha = c->alpha, eps = c->eps;
    const double mu = c->momentum;
    double *v = o->v + off;
    double *a = c->centered ? o->grad_avg + off : NULL;
    double *b = o->momentum ? o->momentum + off : NULL;
    for (size_t k = 0; k < N; k++) {
        double gk = g[k];
        if (wd != 0) gk = gk + wd * w[k];
        v[k] = alpha * v[k] + (1 - alpha) * gk * gk;
        double d;
        if (a) {
            a[k] = alpha * a[k] + (1 - alpha) * gk;
            d = sqrt(v[k] - a[k] * a[k]) + eps;
        } else {
            d = sqrt(v[k]) + eps;
        }
        if (mu > 0) {
            b[k] = mu * b[k] + gk / d;
            w[k] -= lr * b[k];
        } else {
            w[k] -= lr * (gk / d);
        }
    }
}

static void update(const bp_optim *o, const bp_optim_config *c, double *w, const double *g,
                   size_t N, size_t off, double lr, int64_t t) {
    switch (c->kind) {
        case BP_OPTIM_SGD: sgd(o, c, w, g, N, off, lr, t); break;
        case BP_OPTIM_ADAM:
        case BP_OPTIM_ADAMW: adam(o, c, w, g, N, off, lr, t); break;
        case BP_OPTIM_RMSPROP: rmsprop(o, c, w, g, N, off, lr); break;
        default: break;
    }
}

/* A float32 array through the double rule, BLOCK entries at a time. */
#define BLOCK 256

static void update_f32(const bp_optim *o, const bp_optim_config *c, float *w,
                       const float *g, size_t N, size_t off, double lr, int64_t t) {
    double wb[BLOCK], gb[BLOCK];
    if (c->kind == BP_OPTIM_ADAM || c->kind == BP_OPTIM_ADAMW) {
        adam_f32(o, c, w, g, N, off, lr, t);
        return;
    }
    for (size_t k0 = 0; k0 < N; k0 += BLOCK) {
        size_t n = N - k0 < BLOCK ? N - k0 : BLOCK;
        for (size_t k = 0; k < n; k++) {
            wb[k] = w[k0 + k];
            gb[k] = g[k0 + k];
        }
        update(o, c, wb, gb, n, off + k0, lr, t);
        for (size_t k = 0; k < n; k++) w[k0 + k] = (float)wb[k];
    }
}

/* A graph's trainable tensors against the counts the optimiser was made
 * for (a stack made a graph has the same). */
static int check_tensors(const bp_optim *o, const bp_net *net, bp_err *e) {
    int n, j = 0;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0; k < n; k++) {
        if (!t[k].trainable) continue;
        if (j < o->n_tensors && t[k].count != o->sizes[j])
            return bp_err_set(e,
                              "parameter %s has %zu values but the optimiser was made "
                              "for %zu",
                              t[k].name, t[k].count, o->sizes[j]);
        j++;
    }
    if (j != o->n_tensors)
        return bp_err_set(e,
                          "the network has %d trainable tensors but the optimiser was "
                          "made for %d",
                          j, o->n_tensors);
    return 0;
}

static int check_shape(const bp_optim *o, const bp_net *net, bp_err *e) {
    if (bp_net_is_graph(net) || o->n_layers == 0) return check_tensors(o, net, e);
    if (net->n_layers != o->n_layers)
        return bp_err_set(e,
                          "the network has %d layers but the optimiser was "
                          "made for %d",
                          net->n_layers, o->n_layers);
    for (int l = 0; l < o->n_layers; l++) {
        const bp_layer *L = &net->layers[l];
        int I = o->shape[2 * l], O = o->shape[2 * l + 1];
        if (L->I != I || L->O != O)
            return bp_err_set(e,
                              "layer %d has %d outputs x %d inputs but the "
                              "optimiser was made for %d x %d",
                              l + 1, L->O, L->I, O, I);
    }
    return 0;
}

/* Each group's config and lr for the coming step: onecycle's cycled
 * momentum or beta1 written into the copies. */
static void step_configs(bp_optim *o, bp_optim_config *cs, double *lrs) {
    double mom = bp_schedule_momentum(o->scheduled ? &o->s : NULL, o->steps);
    for (int g = 0; g < o->G; g++) {
        cs[g] = o->groups[g].c;
        lrs[g] = bp_optim_group_lr(o, g);
        if (isnan(mom)) continue;
        if (cs[g].kind == BP_OPTIM_ADAM || cs[g].kind == BP_OPTIM_ADAMW) cs[g].beta1 = mom;
        else cs[g].momentum = mom;
    }
}

/* onecycle refuses steps past its end, as OneCycleLR's get_lr does. */
static int check_cycle(const bp_optim *o, bp_err *e) {
    if (o->scheduled && o->s.kind == BP_SCHED_ONECYCLE && o->steps > o->s.total_steps)
        return bp_err_set(e,
                          "onecycle schedule: tried to take step %" PRId64
                          " of a cycle of total_steps %" PRId64,
                          o->steps + 1, o->s.total_steps);
    return 0;
}

/* Clipping before a step; -1 for a norm that is not finite. */
static int clip_before(bp_optim *o, bp_net *net, bp_err *e) {
    double norm = NAN;
    if (o->c.clip_norm > 0) {
        norm = bp_optim_grad_norm(net);
        /* clip_grad_norm_ would scale by NaN or 0 and quietly spoil every
         * weight; refusing is its error_if_nonfinite=True. */
        if (!isfinite(norm))
            return bp_err_set(e,
                              "the gradient norm is %g: not stepping "
                              "(clip_norm is set)",
                              norm);
        double c = o->c.clip_norm / (norm + 1e-6);
        if (c < 1) scale_grads(net, c);
    }
    o->last_norm = norm;
    return 0;
}

/* A step's updates, for the members of the net's team to split. */
typedef struct step_job {
    const bp_optim *o;
    const bp_param *t;
    int n, f32;
    const bp_optim_config *cs;
    const double *lrs;
    atomic_size_t next; /* the next chunk a member claims */
} step_job;

/* Entries a member claims at a time: 64 KB of float32, whole 64-byte
 * lines, so that two members never write one line. */
#define STEP_CHUNK ((size_t)1 << 14)

/* The update of the step's chunk c (each unfrozen trainable tensor's
 * entries in chunks of STEP_CHUNK, in the list's order); 0 when there is
 * no chunk c. */
static int update_chunk(const step_job *s, size_t c) {
    const bp_optim *o = s->o;
    size_t off = 0;
    for (int k = 0, j = 0; k < s->n; k++) {
        const bp_param *p = &s->t[k];
        if (!p->trainable) continue;
        size_t chunks = p->frozen ? 0 : (p->count + STEP_CHUNK - 1) / STEP_CHUNK;
        if (c < chunks) {
            int g = o->group_of[j];
            int64_t ts = o->tsteps[j];
            size_t a = c * STEP_CHUNK, b = p->count - a < STEP_CHUNK ? p->count : a + STEP_CHUNK;
            if (s->f32)
                update_f32(o, &s->cs[g], (float *)p->data + a, (const float *)p->grad + a,
                           b - a, off + a, s->lrs[g], ts);
            else
                update(o, &s->cs[g], (double *)p->data + a, (const double *)p->grad + a, b - a,
                       off + a, s->lrs[g], ts);
            return 1;
        }
        c -= chunks;
        off += p->count;
        j++;
    }
    return 0;
}

/* A member's share of the step's update (bp_team_fn; alone, the whole
 * step): chunks claimed one at a time until none is left, so that a member
 * slowed down (its core shared with another program, or come late to the
 * run) takes fewer and the other more, rather than the other waiting at
 * the run's end for a fixed half. Every rule here is entry by entry, so
 * whoever updates a chunk, the bits are one pass's (test_optim.c
 * test_step_on_team). */
static void step_member(void *arg, int m, int M) {
    (void)m, (void)M;
    step_job *s = arg;
    while (update_chunk(s, atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed)))
        ;
}

/* The entries a step must update before the net's team takes it: below
 * this a team's wake-up costs more than the half of a pass it saves
 * (scripts/bench/NOTES.md, issue 25, the optimiser on the team). */
#define TEAM_MIN_ENTRIES ((size_t)1 << 16)

/* The net's team when it has one of the thread count in force and the step
 * is large enough to split; else NULL. */
static bp_team *step_team(const bp_net *net, const bp_param *t, int n) {
    if (!net->team || bp_team_size(net->team) != bp_threads()) return NULL;
    size_t entries = 0;
    for (int k = 0; k < n; k++)
        if (t[k].trainable && !t[k].frozen) entries += t[k].count;
    return entries >= TEAM_MIN_ENTRIES ? net->team : NULL;
}

/* The groups' configs for the step live on the stack: no allocation. */
int bp_optim_step(bp_optim *o, bp_net *net, bp_err *e) {
    if (check_shape(o, net, e) || check_cycle(o, e) || clip_before(o, net, e)) return -1;
    bp_optim_config cs[BP_OPTIM_MAX_GROUPS + 1];
    double lrs[BP_OPTIM_MAX_GROUPS + 1];
    step_configs(o, cs, lrs);
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0, j = 0; k < n; k++) {
        if (!t[k].trainable) continue;
        if (!t[k].frozen) ++o->tsteps[j];
        j++;
    }
    step_job s = {o, t, n, net->dtype == BP_F32, cs, lrs, 0};
    bp_team *team = step_team(net, t, n);
    if (team) bp_team_run(team, step_member, &s);
    else step_member(&s, 0, 1);
    for (int g = 0; g < o->G; g++) o->groups[g].lr_last = lrs[g];
    o->steps++;
    return 0;
}
