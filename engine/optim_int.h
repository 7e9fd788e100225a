/* optim_int.h: the optimiser's insides, shared by optim.c (making, the
 * rules, the step) and optim_state.c (the state checkpoints carry); nothing
 * else includes it.
 *
 * All the state (moments, momentum) lives in one block, a vector per kind
 * of state over the trainable tensors of the net's parameter list in its
 * order; the groups, each tensor's group and own step count, and the
 * plateau's counters beside it. */
#ifndef OPTIM_INT_H
#define OPTIM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "bp_optim.h"

/* A kind keeps at most three buffers (centered RMSprop with momentum). */
#define MAX_BUFS 3

/* A parameter group: its hyperparameters (the base lr among them), name,
 * the lr under a plateau schedule, and the lr of its last step. */
typedef struct group {
    bp_optim_config c;
    char name[BP_OPTIM_MAX_GROUP_NAME];
    double lr_now;  /* plateau: the current lr, cut from c.lr */
    double lr_last; /* NaN before the first step */
} group;

struct bp_optim {
    bp_optim_config c; /* the defaults (the rest's group) */
    bp_schedule s;
    int scheduled;
    int G, own_groups; /* groups; whether the caller made any */
    group *groups;
    int *group_of;    /* each trainable tensor's group */
    int64_t *tsteps;  /* each trainable tensor's steps (frozen ones skip) */
    bp_plateau_state plateau;
    int n_layers;
    int *shape;    /* I and O of each layer of a stack, as when made */
    int n_tensors; /* trainable tensors of the list, as when made */
    size_t *sizes; /* and their counts */
    size_t P;      /* trainable parameters: the sum of sizes */
    int64_t steps; /* steps taken */
    double last_norm;
    int n_bufs;
    const char *names[MAX_BUFS];
    double *bufs[MAX_BUFS]; /* each P doubles, inside state */
    double *state;          /* n_bufs * P doubles */
    /* The same buffers by role (NULL when this kind has none). */
    double *momentum, *m, *v, *grad_avg;
};

/* -1 with "learning rate must be a finite number >= 0 (got ...)" unless lr
 * is one; whether o runs a plateau schedule. */
int optim_check_lr(double lr, bp_err *e);
int optim_plateau_on(const bp_optim *o);

#endif
