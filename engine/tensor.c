/* tensor.c: the tensors of bp_tensor.h, the numbers that Lua-written layers
 * work on.
 *
 * Every element-wise loop here reads and writes through bp_tensor_get/set
 * (as double), one plain loop per operation: these are the reference
 * kernels, short enough to check by eye, and what tensors of mixed dtypes
 * take. Tensors of one dtype take tensor_fast.h's loops, which equal these
 * to the bit (tests/lua/test_tensor.lua, test_fast_paths_equal_reference).
 * The matrix product goes to BLAS above BP_TENSOR_BLAS_MIN; it must equal
 * matmul_ref to rounding (test_tensor.lua, test_matmul_blas_equals_loop). */
#include "bp_tensor.h"

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I bp_ops.h would see. */
#undef I
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bp_alloc.h"
#include "bp_gemm.h"
#include "bp_ops.h" /* the tables real.h turns into formulas */

/* Glossary: M, K, N the matrix product's rows, inner size and columns;
 * n a tensor's element count; k a broadcast row's length. */

#define BP_REAL_F32 0
#include "real.h"
#include "tensor_fast.h"
#undef BP_REAL_F32

#define BP_REAL_F32 1
#include "real.h"
#include "tensor_fast.h"
#undef BP_REAL_F32

/* Which loops an operation on out, a and b (NULL: none) takes: the fast
 * ones of their dtype when all share one, else the reference. */
enum { REFERENCE, FAST_F64, FAST_F32 };
static int path_of(const bp_tensor *out, const bp_tensor *a, const bp_tensor *b) {
    if (a->dtype != out->dtype || (b && b->dtype != out->dtype)) return REFERENCE;
    return out->dtype == BP_F64 ? FAST_F64 : FAST_F32;
}

static int shape_check(bp_dtype dtype, int ndim, const size_t *dims, size_t *n, bp_err *e) {
    if (dtype != BP_F64 && dtype != BP_F32) return bp_err_set(e, "tensor: unknown dtype");
    if (ndim < 1 || ndim > BP_TENSOR_MAXDIM)
        return bp_err_set(e, "tensor: %d dimensions (1 to %d)", ndim, BP_TENSOR_MAXDIM);
    *n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 1 || dims[i] > ((size_t)1 << 40) / *n)
            return bp_err_set(e, "tensor: dimension %d is %zu", i + 1, dims[i]);
        *n *= dims[i];
    }
    return 0;
}

int bp_tensor_init(bp_tensor *t, bp_dtype dtype, int ndim, const size_t *dims, void *data,
                   bp_err *e) {
    size_t n = 0;
    if (shape_check(dtype, ndim, dims, &n, e) < 0) return -1;
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < BP_TENSOR_MAXDIM; i++) t->dims[i] = i < ndim ? dims[i] : 1;
    t->n = n;
    t->data = data;
    return 0;
}

static bp_tensor *tensor_make(bp_dtype dtype, int ndim, const size_t *dims, size_t *n,
                              bp_err *e) {
    bp_tensor shape;
    if (bp_tensor_init(&shape, dtype, ndim, dims, NULL, e) < 0) return NULL;
    bp_tensor *t = bp_malloc(sizeof *t);
    if (!t) {
        bp_err_set(e, "tensor: out of memory");
        return NULL;
    }
    *t = shape;
    *n = t->n;
    return t;
}

bp_tensor *bp_tensor_new(bp_dtype dtype, int ndim, const size_t *dims, bp_err *e) {
    size_t n;
    bp_tensor *t = tensor_make(dtype, ndim, dims, &n, e);
    if (!t) return NULL;
    t->data = bp_calloc(n, bp_dtype_size(dtype));
    if (!t->data) {
        bp_free(t);
        bp_err_set(e, "tensor: out of memory for %zu numbers", n);
        return NULL;
    }
    t->owns = 1;
    return t;
}

bp_tensor *bp_tensor_view(bp_dtype dtype, int ndim, const size_t *dims, void *data,
                          bp_err *e) {
    size_t n;
    bp_tensor *t = tensor_make(dtype, ndim, dims, &n, e);
    if (t) t->data = data;
    return t;
}

void bp_tensor_free(bp_tensor *t) {
    if (!t) return;
    if (t->owns) bp_free(t->data);
    bp_free(t);
}

double bp_tensor_get(const bp_tensor *t, size_t i) {
    return t->dtype == BP_F64 ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

void bp_tensor_set(bp_tensor *t, size_t i, double v) {
    if (t->dtype == BP_F64)
        ((double *)t->data)[i] = v;
    else
        ((float *)t->data)[i] = (float)v;
}

void bp_tensor_shape_str(char *buf, size_t size, const bp_tensor *t) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->ndim && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%zu", i ? ", " : "{", t->dims[i]);
        if (w < 0) return;
        used += (size_t)w;
    }
    if (used < size) snprintf(buf + used, size - used, "}");
}

int bp_tensor_same_shape(const bp_tensor *a, const bp_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

static int mismatch(const bp_tensor *a, const bp_tensor *b, bp_err *e) {
    char sa[64], sb[64];
    bp_tensor_shape_str(sa, sizeof sa, a);
    bp_tensor_shape_str(sb, sizeof sb, b);
    return bp_err_set(e, "shape mismatch: %s and %s", sa, sb);
}

/* b a row of a: {k} or {1, k} with k a's last dimension. */
static int is_row(const bp_tensor *a, const bp_tensor *b) {
    size_t k = a->dims[a->ndim - 1];
    return b->n == k && b->dims[b->ndim - 1] == k;
}

static double arith(char op, double x, double y) {
    switch (op) {
    case '+': return x + y;
    case '-': return x - y;
    case '*': return x * y;
    default: return x / y;
    }
}

int bp_tensor_binary(bp_tensor *out, const bp_tensor *a, char op, const bp_tensor *b,
                     bp_err *e) {
    if (!strchr("+-*/", op) || !op) return bp_err_set(e, "tensor: unknown operator");
    if (!bp_tensor_same_shape(out, a)) return mismatch(out, a, e);
    size_t k; /* b's element i of a is b[i % k] */
    if (bp_tensor_same_shape(a, b))
        k = a->n;
    else if (b->n == 1)
        k = 1;
    else if (is_row(a, b))
        k = b->n;
    else
        return mismatch(a, b, e);
    switch (path_of(out, a, b)) {
    case FAST_F64: binary_fast(out->data, a->data, op, b->data, a->n, k); break;
    case FAST_F32: binary_fast_f32(out->data, a->data, op, b->data, a->n, k); break;
    default:
        for (size_t i = 0; i < a->n; i++)
            bp_tensor_set(out, i, arith(op, bp_tensor_get(a, i), bp_tensor_get(b, i % k)));
    }
    return 0;
}

int bp_tensor_scalar(bp_tensor *out, const bp_tensor *a, char op, double s, bp_err *e) {
    if (!strchr("+-*/", op) || !op) return bp_err_set(e, "tensor: unknown operator");
    if (!bp_tensor_same_shape(out, a)) return mismatch(out, a, e);
    switch (path_of(out, a, NULL)) {
    case FAST_F64: scalar_fast(out->data, a->data, op, s, a->n); break;
    case FAST_F32: scalar_fast_f32(out->data, a->data, op, s, a->n); break;
    default:
        for (size_t i = 0; i < a->n; i++) bp_tensor_set(out, i, arith(op, bp_tensor_get(a, i), s));
    }
    return 0;
}

static const char *const fn_names[BP_TFN_COUNT] = {"exp",  "log", "tanh", "sigmoid",
                                                   "relu", "sqrt", "abs", "sign"};

const char *bp_tensor_fn_name(bp_tensor_fn f) {
    return (unsigned)f < BP_TFN_COUNT ? fn_names[f] : "?";
}

int bp_tensor_fn_parse(const char *name) {
    for (int i = 0; i < BP_TFN_COUNT; i++)
        if (strcmp(name, fn_names[i]) == 0) return i;
    return -1;
}

static double fn_eval(bp_tensor_fn f, double x) {
    switch (f) {
    case BP_TFN_EXP: return exp(x);
    case BP_TFN_LOG: return log(x);
    case BP_TFN_TANH: return tanh(x);
    case BP_TFN_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case BP_TFN_RELU: return x > 0 ? x : 0.0;
    case BP_TFN_SQRT: return sqrt(x);
    case BP_TFN_ABS: return fabs(x);
    default: return (x > 0) - (x < 0);
    }
}

int bp_tensor_apply(bp_tensor *out, const bp_tensor *a, bp_tensor_fn f, bp_err *e) {
    if ((unsigned)f >= BP_TFN_COUNT) return bp_err_set(e, "tensor: unknown function");
    if (!bp_tensor_same_shape(out, a)) return mismatch(out, a, e);
    switch (path_of(out, a, NULL)) {
    case FAST_F64: apply_fast(out->data, a->data, f, a->n); break;
    case FAST_F32: apply_fast_f32(out->data, a->data, f, a->n); break;
    default:
        for (size_t i = 0; i < a->n; i++) bp_tensor_set(out, i, fn_eval(f, bp_tensor_get(a, i)));
    }
    return 0;
}

int bp_tensor_clamp(bp_tensor *out, const bp_tensor *a, double lo, double hi, bp_err *e) {
    if (!bp_tensor_same_shape(out, a)) return mismatch(out, a, e);
    if (!(lo <= hi)) return bp_err_set(e, "clamp: low %g above high %g", lo, hi);
    switch (path_of(out, a, NULL)) {
    case FAST_F64: clamp_fast(out->data, a->data, lo, hi, a->n); break;
    case FAST_F32: clamp_fast_f32(out->data, a->data, lo, hi, a->n); break;
    default:
        for (size_t i = 0; i < a->n; i++) {
            double x = bp_tensor_get(a, i);
            bp_tensor_set(out, i, x < lo ? lo : x > hi ? hi : x);
        }
    }
    return 0;
}

void bp_tensor_reduced_dims(size_t *dims, const bp_tensor *a, int dim) {
    for (int i = 0; i < a->ndim; i++) dims[i] = (dim < 0 || i == dim) ? 1 : a->dims[i];
}

int bp_tensor_reduce(bp_tensor *out, const bp_tensor *a, char op, int dim, bp_err *e) {
    if (dim >= a->ndim) return bp_err_set(e, "dimension %d out of range 1..%d", dim + 1, a->ndim);
    size_t dims[BP_TENSOR_MAXDIM];
    bp_tensor_reduced_dims(dims, a, dim);
    /* a viewed as {outer, len, inner}: reduce the middle */
    size_t len = dim < 0 ? a->n : a->dims[dim], inner = 1, outer;
    for (int i = dim + 1; dim >= 0 && i < a->ndim; i++) inner *= a->dims[i];
    outer = a->n / (len * inner);
    if (out->n != outer * inner) {
        bp_tensor want = *a;
        memcpy(want.dims, dims, sizeof dims);
        return mismatch(out, &want, e);
    }
    switch (path_of(out, a, NULL)) {
    case FAST_F64: reduce_fast(out->data, a->data, op, outer, len, inner); return 0;
    case FAST_F32: reduce_fast_f32(out->data, a->data, op, outer, len, inner); return 0;
    }
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < inner; j++) {
            const size_t base = o * len * inner + j;
            double acc = bp_tensor_get(a, base);
            for (size_t l = 1; l < len; l++) {
                double x = bp_tensor_get(a, base + l * inner);
                acc = op == 'x' ? (x > acc ? x : acc) : acc + x;
            }
            bp_tensor_set(out, o * inner + j, op == 'm' ? acc / (double)len : acc);
        }
    return 0;
}

static void matmul_ref(bp_tensor *out, const bp_tensor *a, const bp_tensor *b, size_t M,
                       size_t K, size_t N) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double acc = 0;
            for (size_t l = 0; l < K; l++)
                acc += bp_tensor_get(a, i * K + l) * bp_tensor_get(b, l * N + j);
            bp_tensor_set(out, i * N + j, acc);
        }
}

int bp_tensor_matmul(bp_tensor *out, const bp_tensor *a, const bp_tensor *b, bp_err *e) {
    if (a->ndim != 2 || b->ndim != 2 || a->dims[1] != b->dims[0]) return mismatch(a, b, e);
    const size_t M = a->dims[0], K = a->dims[1], N = b->dims[1];
    if (out->ndim != 2 || out->dims[0] != M || out->dims[1] != N) {
        bp_tensor want = *a;
        want.dims[1] = N;
        return mismatch(out, &want, e);
    }
    if (a->dtype != b->dtype || out->dtype != a->dtype)
        return bp_err_set(e, "matmul: %s and %s numbers", bp_dtype_name(a->dtype),
                          bp_dtype_name(b->dtype == a->dtype ? out->dtype : b->dtype));
    if (out->data == a->data || out->data == b->data)
        return bp_err_set(e, "matmul: out is one of the inputs");
    if (M * N * K < BP_TENSOR_BLAS_MIN || M > 1u << 30 || N > 1u << 30 || K > 1u << 30)
        matmul_ref(out, a, b, M, K, N);
    else if (a->dtype == BP_F64)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0,
                    a->data, (int)K, b->data, (int)N, 0.0, out->data, (int)N);
    else
        bp_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                 a->data, (int)K, b->data, (int)N, 0.0f, out->data, (int)N);
    return 0;
}

int bp_tensor_transpose(bp_tensor *out, const bp_tensor *a, bp_err *e) {
    if (a->ndim != 2) return bp_err_set(e, "transpose: %d dimensions, not 2", a->ndim);
    if (out->ndim != 2 || out->dims[0] != a->dims[1] || out->dims[1] != a->dims[0]) {
        bp_tensor want = *a;
        want.dims[0] = a->dims[1];
        want.dims[1] = a->dims[0];
        return mismatch(out, &want, e);
    }
    if (out->data == a->data) return bp_err_set(e, "transpose: out is the input");
    const size_t M = a->dims[0], N = a->dims[1];
    switch (path_of(out, a, NULL)) {
    case FAST_F64: transpose_fast(out->data, a->data, M, N); break;
    case FAST_F32: transpose_fast_f32(out->data, a->data, M, N); break;
    default:
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++)
                bp_tensor_set(out, j * M + i, bp_tensor_get(a, i * N + j));
    }
    return 0;
}

int bp_tensor_copy(bp_tensor *out, const bp_tensor *a, bp_err *e) {
    if (out->n != a->n) return mismatch(out, a, e);
    if (path_of(out, a, NULL) != REFERENCE) { /* memmove: a view may overlap its owner */
        memmove(out->data, a->data, a->n * bp_dtype_size(a->dtype));
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) bp_tensor_set(out, i, bp_tensor_get(a, i));
    return 0;
}
