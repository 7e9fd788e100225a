/* bp_tensor.h: dense tensors of float64 or float32 numbers in C memory, the
 * numbers a layer's math written in Lua works on (bindings/ltensor.c).
 *
 * A tensor is contiguous, row-major, of 1 to BP_TENSOR_MAXDIM dimensions.
 * It owns its numbers, or is a view of another tensor's (bp_tensor_view):
 * a view never frees them, and its owner must outlive it (the binding keeps
 * the owner alive as the view's user value).
 *
 * Every operation writes into an `out` tensor the caller made, so that a hot
 * loop allocates nothing; out comes first, inputs after (outputs, inputs,
 * sizes). Operations check shapes and return -1 with a message naming both
 * shapes ("shape mismatch: {2, 3} and {4}"); they never abort. Numbers are
 * read and written through double, so mixed dtypes are allowed except in
 * bp_tensor_matmul, whose three tensors share one dtype.
 *
 * Broadcasting (bp_tensor_binary): b has a's shape, or one element (a
 * scalar), or is a row: as many elements as a's last dimension, laid out as
 * {k} or {1, k}, added to every row of a. */
#ifndef BP_TENSOR_H
#define BP_TENSOR_H

#include <stddef.h>

#include "bp_err.h"
#include "bp_types.h"

#define BP_TENSOR_MAXDIM 4

typedef struct bp_tensor {
    bp_dtype dtype;
    int ndim;                      /* 1..BP_TENSOR_MAXDIM */
    size_t dims[BP_TENSOR_MAXDIM]; /* dims[ndim..] are 1 */
    size_t n;                      /* product of dims */
    void *data;                    /* n numbers of dtype */
    int owns;                      /* 1: bp_tensor_free frees data */
} bp_tensor;

/* A new zero-filled tensor of ndim dimensions dims (each >= 1), owning its
 * numbers. NULL with a message for a bad shape or no memory. Free with
 * bp_tensor_free. */
bp_tensor *bp_tensor_new(bp_dtype dtype, int ndim, const size_t *dims, bp_err *e);

/* A tensor over memory someone else owns (a network's weights, a data set's
 * rows, another tensor): n = product of dims numbers at data. The caller
 * keeps data alive while the view lives. NULL on a bad shape or no memory. */
bp_tensor *bp_tensor_view(bp_dtype dtype, int ndim, const size_t *dims, void *data,
                          bp_err *e);

/* Fills *t, a struct the caller holds, as a tensor of dims over data (NULL
 * allowed until the caller sets it, once t->n tells how many numbers it
 * needs); t owns nothing. bp_tensor_view without the allocation, for a
 * caller that keeps the struct and the numbers in one block of its own (the
 * Lua binding's small tensors). -1 with a message for a bad shape. */
int bp_tensor_init(bp_tensor *t, bp_dtype dtype, int ndim, const size_t *dims, void *data,
                   bp_err *e);

/* Frees t, and its numbers if it owns them. Accepts NULL. */
void bp_tensor_free(bp_tensor *t);

/* The element at flat index i (< t->n), as a double; and its setter. */
double bp_tensor_get(const bp_tensor *t, size_t i);
void bp_tensor_set(bp_tensor *t, size_t i, double v);

/* Writes "{2, 3}" into buf (size bytes, always terminated). */
void bp_tensor_shape_str(char *buf, size_t size, const bp_tensor *t);

/* 1 when a and b have the same dimensions. */
int bp_tensor_same_shape(const bp_tensor *a, const bp_tensor *b);

/* out = a op b element-wise, op one of '+', '-', '*', '/', with b
 * broadcast as above; out has a's shape. out may be a or b. */
int bp_tensor_binary(bp_tensor *out, const bp_tensor *a, char op, const bp_tensor *b,
                     bp_err *e);

/* out = a op s for the scalar s; out has a's shape. */
int bp_tensor_scalar(bp_tensor *out, const bp_tensor *a, char op, double s, bp_err *e);

/* The element-wise functions, by name. */
typedef enum bp_tensor_fn {
    BP_TFN_EXP, BP_TFN_LOG, BP_TFN_TANH, BP_TFN_SIGMOID, BP_TFN_RELU,
    BP_TFN_SQRT, BP_TFN_ABS, BP_TFN_SIGN, BP_TFN_COUNT
} bp_tensor_fn;

/* The function's name ("exp", ...), and the function of a name or -1. */
const char *bp_tensor_fn_name(bp_tensor_fn f);
int bp_tensor_fn_parse(const char *name);

/* out = f(a) element-wise; out has a's shape and may be a. */
int bp_tensor_apply(bp_tensor *out, const bp_tensor *a, bp_tensor_fn f, bp_err *e);

/* out = min(max(a, lo), hi) element-wise. */
int bp_tensor_clamp(bp_tensor *out, const bp_tensor *a, double lo, double hi, bp_err *e);

/* Reductions along dimension dim (0-based), which stays with size 1 (so a
 * sum over the rows of {B, O} is the row {1, O}, ready to broadcast);
 * dim = -1 reduces everything into a one-element out. op is 's' (sum),
 * 'm' (mean) or 'x' (max). out must have the reduced shape. */
int bp_tensor_reduce(bp_tensor *out, const bp_tensor *a, char op, int dim, bp_err *e);

/* The shape a reduction along dim leaves, into dims (ndim of a). */
void bp_tensor_reduced_dims(size_t *dims, const bp_tensor *a, int dim);

/* out = a b for 2-D a {M, K} and b {K, N}; out {M, N}, all one dtype, out
 * neither a nor b. Products of at least BP_TENSOR_BLAS_MIN multiply-adds go
 * to OpenBLAS (float64) or bp_sgemm (float32); smaller ones to the
 * reference loop, which they equal to rounding (test_tensor pins both). */
#define BP_TENSOR_BLAS_MIN 4096
int bp_tensor_matmul(bp_tensor *out, const bp_tensor *a, const bp_tensor *b, bp_err *e);

/* out = the transpose of 2-D a {M, N}: out {N, M}, not a. */
int bp_tensor_transpose(bp_tensor *out, const bp_tensor *a, bp_err *e);

/* out = a's numbers converted to out's dtype; same number of elements. */
int bp_tensor_copy(bp_tensor *out, const bp_tensor *a, bp_err *e);

#endif
