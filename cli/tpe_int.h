/* tpe_int.h: what tpe.c and tpe_joint.c share, and nothing else includes:
 * the ranking of observations by loss that both samplers split on. */
#ifndef TPE_INT_H
#define TPE_INT_H

/* An observation ranked by loss: its loss and its index in trial order. */
typedef struct ranked {
    double loss;
    int i;
} ranked;

/* qsort's comparison: the smaller loss first, the earlier trial on ties. */
int tpe_cmp_ranked(const void *a, const void *b);

#endif
