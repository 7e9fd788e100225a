/* optim_state.c: an optimiser's whole state as doubles, for checkpoints
 * (bp_optim_state_size, _save, _load in bp_optim.h).
 *
 * The layout grew with the optimiser: the step count and the buffers, as
 * before groups existed, then the groups' part only when it says something
 * the rest does not (groups of the caller's, a plateau, tensors that did
 * not all step together), so that a checkpoint of an optimiser without
 * them reads as it did and old checkpoints load. Every number is checked
 * before any is taken: a state read back from a database anything may
 * have written is refused whole, naming what is wrong. */
#include <math.h>
#include <string.h>

#include "optim_int.h"

/* The groups' part of a saved state: whether it is needed, and its size. */static int needs_tail(const bp_optim *o) {
    if (o->own_groups || optim_plateau_on(o)) return 1;
    for (int j = 0; j < o->n_tensors; j++)
        if (o->tsteps[j] != o->steps) return 1;
    return 0;
}
static size_t tail_size(const bp_optim *o) {
    return (size_t)o->G + (size_t)o->n_tensors + (optim_plateau_on(o) ? 4 + (size_t)o->G : 0);
}
static size_t base_size(const bp_optim *o) { return 1 + (size_t)o->n_bufs * o->P; }

size_t bp_optim_state_size(const bp_optim *o) {
    return base_size(o) + (needs_tail(o) ? tail_size(o) : 0);
}

void bp_optim_state_save(const bp_optim *o, double *out) {
    out[0] = (double)o->steps;
    if (o->n_bufs) memcpy(out + 1, o->state, sizeof(double) * (size_t)o->n_bufs * o->P);
    if (!needs_tail(o)) return;
    double *t = out + base_size(o);
    for (int g = 0; g < o->G; g++) *t++ = o->groups[g].c.lr;
    for (int j = 0; j < o->n_tensors; j++) *t++ = (double)o->tsteps[j];
    if (!optim_plateau_on(o)) return;
    *t++ = (double)o->plateau.epochs;
    *t++ = (double)o->plateau.bad;
    *t++ = (double)o->plateau.cooldown_left;
    *t++ = o->plateau.best;
    for (int g = 0; g < o->G; g++) *t++ = o->groups[g].lr_now;
}

/* 2^53: the last count a double holds exactly. */
static int check_count(const char *what, double x, bp_err *e) {
    if (!(x >= 0 && x <= 9007199254740992.0 && x == floor(x)))
        return bp_err_set(e, "the state's %s must be a whole number >= 0 (got %g)", what,
                          x);
    return 0;
}

static int check_bufs(const bp_optim *o, const double *in, bp_err *e) {
    for (int i = 0; i < o->n_bufs; i++) {
        const double *buf = in + 1 + (size_t)i * o->P;
        int mean_square = strcmp(o->names[i], "v") == 0;
        for (size_t k = 0; k < o->P; k++) {
            if (!isfinite(buf[k]))
                return bp_err_set(e, "state %s[%zu] is not finite (%g)", o->names[i],
                                  k + 1, buf[k]);
            if (mean_square && buf[k] < 0)
                return bp_err_set(e,
                                  "state v[%zu] is a mean square and cannot "
                                  "be negative (%g)",
                                  k + 1, buf[k]);
        }
    }
    return 0;
}

/* The groups' part t: lrs finite and >= 0, counts whole. */
static int check_tail(const bp_optim *o, const double *t, bp_err *e) {
    const double *steps = t + o->G, *p = steps + o->n_tensors;
    for (int g = 0; g < o->G; g++)
        if (optim_check_lr(t[g], e) || (optim_plateau_on(o) && optim_check_lr(p[4 + g], e))) return -1;
    for (int j = 0; j < o->n_tensors; j++)
        if (check_count("tensor step count", steps[j], e)) return -1;
    if (!optim_plateau_on(o)) return 0;
    if (check_count("plateau epochs", p[0], e) || check_count("plateau bad epochs", p[1], e) ||
        check_count("plateau cooldown", p[2], e))
        return -1;
    if (isnan(p[3])) return bp_err_set(e, "the state's plateau best is NaN");
    return 0;
}

static void load_tail(bp_optim *o, const double *t) {
    for (int g = 0; g < o->G; g++) o->groups[g].c.lr = t[g];
    if (!o->own_groups) o->c.lr = t[o->G - 1];
    for (int j = 0; j < o->n_tensors; j++) o->tsteps[j] = (int64_t)t[o->G + j];
    if (!optim_plateau_on(o)) return;
    const double *p = t + o->G + o->n_tensors;
    o->plateau = (bp_plateau_state){.epochs = (int64_t)p[0],
                                    .bad = (int64_t)p[1],
                                    .cooldown_left = (int64_t)p[2],
                                    .best = p[3]};
    for (int g = 0; g < o->G; g++) o->groups[g].lr_now = p[4 + g];
}

int bp_optim_state_load(bp_optim *o, const double *in, size_t n, bp_err *e) {
    size_t base = base_size(o), full = base + tail_size(o);
    /* without the groups' part: a state saved before groups existed, or
     * one whose tensors all stepped together */
    int short_ok = !o->own_groups && !optim_plateau_on(o);
    if (n != full && !(short_ok && n == base)) {
        return bp_err_set(e, "the state of this %s optimiser has %zu values, not %zu",
                          bp_optim_name(o->c.kind), short_ok ? base : full, n);
    }
    if (check_count("step count", in[0], e) || check_bufs(o, in, e)) return -1;
    if (n == full && check_tail(o, in + base, e)) return -1;
    o->steps = (int64_t)in[0];
    if (o->n_bufs) memcpy(o->state, in + 1, sizeof(double) * (size_t)o->n_bufs * o->P);
    if (n == full) load_tail(o, in + base);
    else
        for (int j = 0; j < o->n_tensors; j++) o->tsteps[j] = o->steps;
    return 0;
}

