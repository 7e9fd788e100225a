/* ops.c: the lecture's mathematics, one op at a time, in double and float.
 *
 * The kernels are templates compiled here twice, for double and for float
 * (real.h): ops_ref.h, the reference kernels in plain loops, each op's
 * forward followed by its backward as in llm.c's train_gpt2.c; and
 * ops_fast.h, the fused and BLAS paths a training step takes, each held to
 * a reference of ops_ref.h. This file holds what has no number type: the
 * names made from the tables of bp_ops.h and the thread count.
 *
 * Dimensions: B = batch, I = inputs of a layer, O = outputs of a layer,
 * F = features of a batch norm, n = values of an elementwise op. */
#define _POSIX_C_SOURCE 200809L /* pthread_once */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I would rename the
 * glossary's I (inputs) in every loop below. */
#undef I

#include "bp_gemm.h"
#include "bp_ops.h"
#include "bp_util.h"

/* Below this many multiply-adds a plain loop beats a BLAS call, whose fixed
 * cost is more than a small layer's whole arithmetic
 * (scripts/bench/NOTES.md). */
#define BLAS_MIN_WORK BP_BLAS_MIN_WORK
/* The SGD step of a batch (bp_sgd_update) is a pass over every weight, float
 * to double and back, which the default x86-64 target does two values at a
 * time: GCC also builds it for AVX2 and AVX-512 (four and eight) and picks
 * at load time. The operations are IEEE's exact ones in every clone, and
 * none contracts a multiply and a subtract into an FMA (AVX2 alone has
 * none; -ffp-contract=off keeps AVX-512's out), so the bits are the same. */
/* (Not under ThreadSanitizer, which would run the clones' resolver, called
 * by the loader, before it is set up.) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_THREAD__)
#define SGD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SGD_CLONES
#endif

#define NAME_OF(N, name, ...) name,
static const char *const act_names[BP_ACT_COUNT] = {BP_ACT_TABLE(NAME_OF, NAME_OF)};
static const char *const loss_names[BP_LOSS_COUNT] = {BP_LOSS_TABLE(NAME_OF, NAME_OF)};

const char *bp_act_name(bp_act a) { return bp_name_of(act_names, BP_ACT_COUNT, (int)a); }
int bp_act_parse(const char *name) { return bp_name_find(act_names, BP_ACT_COUNT, name); }
const char *bp_loss_name(bp_loss l) {
    return bp_name_of(loss_names, BP_LOSS_COUNT, (int)l);
}
int bp_loss_parse(const char *name) {
    return bp_name_find(loss_names, BP_LOSS_COUNT, name);
}

#define LABELS_OF(N, name, p, term, grad, div, labels, ...) labels,
#define ROW_LABELS_OF(N, name, loss_row, grad_row, labels) labels,
static const int loss_labels[BP_LOSS_COUNT] = {BP_LOSS_TABLE(LABELS_OF, ROW_LABELS_OF)};
#define PARAM_OF(N, name, p, term, grad, div, labels, param, def) {param, def},
#define ROW_PARAM_OF(N, ...) {NULL, 0},
static const struct {
    const char *name;
    double def;
} loss_params[BP_LOSS_COUNT] = {BP_LOSS_TABLE(PARAM_OF, ROW_PARAM_OF)};

int bp_loss_takes_labels(bp_loss l) {
    return (unsigned)l < BP_LOSS_COUNT && loss_labels[l];
}

const char *bp_loss_param(bp_loss l, double *def) {
    if ((unsigned)l >= BP_LOSS_COUNT) return NULL;
    if (def) *def = loss_params[l].def;
    return loss_params[l].name;
}

double bp_crit_param(const bp_crit *c) {
    return c->param != 0 || (unsigned)c->loss >= BP_LOSS_COUNT ? c->param
                                                               : loss_params[c->loss].def;
}

/* The labels of B rows of y: integers 1..O (as doubles), checked as
 * bp_crit_check says. */
static int check_labels(const double *y, int B, int O, bp_err *e) {
    for (int s = 0; s < B; s++)
        if (!(y[s] >= 1 && y[s] <= O && y[s] == floor(y[s])))
            return bp_err_set(e, "label %.17g in row %d is not a class in 1..%d", y[s],
                              s + 1, O);
    return 0;
}

int bp_crit_check(const bp_crit *c, const double *y, int B, int O, bp_err *e) {
    if ((unsigned)c->loss >= BP_LOSS_COUNT)
        return bp_err_set(e, "unknown loss %d", (int)c->loss);
    const char *name = loss_names[c->loss], *param = loss_params[c->loss].name;
    if (param && !(isfinite(c->param) && c->param >= 0))
        return bp_err_set(e, "%s's %s must be a finite number > 0 (got %g)", name, param,
                          c->param);
    if (!c->labels) return 0;
    if (!loss_labels[c->loss])
        return bp_err_set(e, "%s takes no class labels: give %d targets per row", name,
                          O);
    if (O < 2)
        return bp_err_set(e, "class labels need 2 or more outputs (the network gives %d)",
                          O);
    return y ? check_labels(y, B, O, e) : 0;
}

/* The lists for error messages, joined once, on the first call from any
 * thread: "a, b or c". */
static char act_expected[128], loss_expected[128];
static pthread_once_t expected_once = PTHREAD_ONCE_INIT;

static void join_expected(void) {
    bp_names_join(act_expected, sizeof act_expected, act_names, BP_ACT_COUNT);
    bp_names_join(loss_expected, sizeof loss_expected, loss_names, BP_LOSS_COUNT);
}

const char *bp_act_expected(void) {
    pthread_once(&expected_once, join_expected);
    return act_expected;
}

const char *bp_loss_expected(void) {
    pthread_once(&expected_once, join_expected);
    return loss_expected;
}

/* OpenBLAS reads OPENBLAS_NUM_THREADS when it starts; these only change the
 * count later (openblas_set_num_threads is OpenBLAS's own extension). */
int bp_threads(void) { return openblas_get_num_threads(); }

int bp_set_threads(int n, bp_err *e) {
    if (n < 1) return bp_err_set(e, "threads must be >= 1 (got %d)", n);
    openblas_set_num_threads(n);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The kernels, for double then for float (real.h).                          */

#define BP_REAL_F32 0
#include "real.h"
#include "ops_ref.h"
#include "ops_fast.h"
#undef BP_REAL_F32

#define BP_REAL_F32 1
#include "real.h"
#include "ops_ref.h"
#include "ops_fast.h"
