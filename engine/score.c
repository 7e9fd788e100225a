/* score.c: what a network's outputs score against class labels: the
 * predicted class (the first greatest output), accuracy and the confusion
 * matrix, shared by evaluation in C and in Lua.
 *
 * Dimensions: B = rows, O = outputs (classes). */
#include "bp_data.h"

int bp_argmax(const double *v, int O) {
    int best = 0;
    for (int o = 1; o < O; o++)
        if (v[o] > v[best]) best = o;
    return best;
}

double bp_accuracy(const double *out, const int *label, int B, int O) {
    if (B < 1) return 0.0;
    int right = 0;
    for (int b = 0; b < B; b++) right += bp_argmax(out + (size_t)b * O, O) == label[b];
    return (double)right / B;
}

void bp_confusion(int *m, const double *out, const int *label, int B, int O) {
    for (int b = 0; b < B; b++)
        if (label[b] >= 0 && label[b] < O)
            m[label[b] * O + bp_argmax(out + (size_t)b * O, O)]++;
}
