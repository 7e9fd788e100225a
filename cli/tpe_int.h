/* tpe_int.h: what tpe.c and tpe_joint.c share, and nothing else includes:
 * the split of the trials by loss and the pieces of one kernel (a truncated
 * normal, with or without a grid step) that both estimators are made of. */
#ifndef TPE_INT_H
#define TPE_INT_H

#include "bp_rng.h"
#include "bp_tpe.h"

/* An observation ranked by loss: its loss and its index in trial order. */
typedef struct ranked {
    double loss;
    int i;
} ranked;

/* qsort's comparison: the smaller loss first, the earlier trial on ties. */
int tpe_cmp_ranked(const void *a, const void *b);

/* Marks good[i] = 1 for the gamma(f) best of the n trials (NaN losses as
 * +INFINITY, running), f the number with a finite loss, written to
 * *finished; 0 elsewhere. Returns -1 if memory runs out. */
int tpe_split(char *good, int *finished, const double *losses, int n);

/* log(Phi(b) - Phi(a)) for a < b, accurate far in either tail. */
double tpe_log_mass(double a, double b);

/* A kernel's constant (normal at mu, sigma, truncated to sp's bounds): the
 * log of what its score divides by (bp_tpe.h): sqrt(2 pi) times the mass
 * inside the bounds; without the sqrt(2 pi) for a space with a step. */
double tpe_kernel_const(const bp_tpe_space *sp, double mu, double sigma);

/* The kernel's log score at x (on the grid for a space with a step): its
 * log density or cell mass less c, tpe_kernel_const's value (or 0 where
 * the caller has folded the constant in). */
double tpe_kernel_log(const bp_tpe_space *sp, double mu, double sigma, double c,
                      double x);

/* A draw from the kernel inside the bounds (a normal until it falls
 * inside, a hundred tries, then uniform: only a kernel almost wholly
 * outside gets there), put on the grid for a space with a step. */
double tpe_kernel_draw(const bp_tpe_space *sp, double mu, double sigma, bp_rng *r);

/* A uniform draw over the space (an index for a categorical one). */
double tpe_uniform(const bp_tpe_space *sp, bp_rng *r);

/* 1 if sp is one bp_tpe.h samples; else 0. */
int tpe_space_ok(const bp_tpe_space *sp);

#endif
