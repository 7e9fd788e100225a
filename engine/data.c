/* data.c: a data set in flat C arrays, and preparing it for training.
 *
 * Everything a training loop touches per step is a row-major block of doubles
 * (or of floats, for float32 inputs: half the bytes read per epoch, and what a
 * float32 network computes in), so a mini-batch is a pointer and shuffling
 * swaps rows in place: no copy of the data set per epoch, no per-sample
 * allocation. A set loaded from IDX files keeps the file's bytes instead
 * (x8) and a table of the 256 values they stand for: a quarter of the
 * memory a shuffled batch's rows are gathered from, decoded on the way into
 * the network (bp_net_step_codes); whatever needs the values in place
 * makes them first (bp_data_materialize). Making and freeing a set, its
 * dtype, slicing, shuffling, splitting and batching live here; the
 * loaders in data_csv.c and
 * data_idx.c, scaling in data_scale.c, scoring in score.c (data_int.h is
 * what they share).
 *
 * Dimensions: n = samples, d = inputs, k = targets; B = batch, O = outputs. */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "bp_alloc.h"
#include "bp_data.h"
#include "data_int.h"

/* ------------------------------------------------------------------------ */
/* Making and freeing                                                        */

void dt_advise_rows(void *x, size_t bytes) {
#ifdef MADV_HUGEPAGE
    /* Only the whole 2 MiB pages inside the buffer: below a few of them
     * the hint buys nothing, and its edges are other allocations'. */
    const uintptr_t huge = (uintptr_t)1 << 21;
    uintptr_t from = ((uintptr_t)x + huge - 1) & ~(huge - 1);
    uintptr_t to = ((uintptr_t)x + bytes) & ~(huge - 1);
    if (to > from + 4 * huge) madvise((void *)from, to - from, MADV_HUGEPAGE);
#else
    (void)x;
    (void)bytes;
#endif
}

char *dt_dup_str(const char *s) {
    size_t len = strlen(s) + 1;
    char *copy = bp_malloc(len);
    if (copy) memcpy(copy, s, len);
    return copy;
}

static void free_strings(char **v, int count) {
    if (!v) return;
    for (int j = 0; j < count; j++) bp_free(v[j]);
    bp_free(v);
}

/* A copy of count strings, or NULL when out of memory; NULL in, NULL out
 * (which is not a failure: *ok says which). */
static char **dup_strings(char *const *v, int count, int *ok) {
    if (!v) return NULL;
    char **copy = bp_calloc((size_t)count ? (size_t)count : 1, sizeof *copy);
    if (!copy) {
        *ok = 0;
        return NULL;
    }
    for (int j = 0; j < count; j++)
        if (!(copy[j] = dt_dup_str(v[j]))) {
            free_strings(copy, count);
            *ok = 0;
            return NULL;
        }
    return copy;
}

/* An empty data set has n = 0 but its arrays still point somewhere, so that
 * memcpy and friends never see NULL (UBSan rightly objects even at size 0). */
static void *alloc_zero(size_t count, size_t size) {
    return bp_calloc(count ? count : 1, size);
}

bp_data *bp_data_new(int n, int d, int k, int n_classes, bp_err *e) {
    return dt_make(n, d, k, n_classes, BP_F64, NULL, e);
}

static bp_data *data_new(int n, int d, int k, int n_classes, bp_dtype dtype, bp_err *e) {
    return dt_make(n, d, k, n_classes, dtype, NULL, e);
}

bp_data *dt_make_codes(int n, int d, int k, int n_classes, bp_dtype dtype,
                       unsigned char *codes, bp_err *e) {
    double *table = bp_malloc(sizeof(double) * 256);
    /* a placeholder for dt_make's inputs, which are the codes instead */
    void *none = bp_malloc(1);
    bp_data *data = table && none ? dt_make(n, d, k, n_classes, dtype, none, e) : NULL;
    if (!data) {
        if (!table || !none) bp_err_set(e, "out of memory for a data set of %d x %d", n, d);
        bp_free(table);
        bp_free(none);
        return NULL;
    }
    bp_free(none);
    data->x = NULL, data->x32 = NULL;
    for (int v = 0; v < 256; v++) table[v] = v;
    data->x8 = codes;
    data->table = table;
    return data;
}

bp_data *dt_make(int n, int d, int k, int n_classes, bp_dtype dtype, void *x, bp_err *e) {
    if (n < 0 || d < 1 || k < 1) {
        bp_err_set(e,
                   "a data set needs n >= 0 samples, d >= 1 inputs and k >= 1 "
                   "targets (got %d, %d, %d)",
                   n, d, k);
        return NULL;
    }
    if (n_classes < 0 || (n_classes > 0 && k != n_classes)) {
        bp_err_set(e, "one-hot targets need k = n_classes (got k = %d, %d classes)", k,
                   n_classes);
        return NULL;
    }
    if ((size_t)n > SIZE_MAX / sizeof(double) / (size_t)(d > k ? d : k)) {
        bp_err_set(e, "a data set of %d x %d is too large", n, d);
        return NULL;
    }
    bp_data *data = bp_calloc(1, sizeof *data);
    if (!data) goto oom;
    data->n = n;
    data->d = d;
    data->k = k;
    data->n_classes = n_classes;
    data->dtype = dtype;
    data->y = alloc_zero((size_t)n * k, sizeof(double));
    if (n_classes > 0) data->label = alloc_zero((size_t)n, sizeof(int));
    if (!data->y || (n_classes > 0 && !data->label)) goto oom;
    void *inputs = x ? x : alloc_zero((size_t)n * d, bp_dtype_size(dtype));
    if (!inputs) goto oom;
    if (dtype == BP_F32) data->x32 = inputs;
    else data->x = inputs;
    return data;
oom:
    bp_data_free(data); /* x, if given, is not in it yet: still the caller's */
    bp_err_set(e, "out of memory for a data set of %d x %d", n, d);
    return NULL;
}

void bp_data_free(bp_data *data) {
    if (!data) return;
    bp_free(data->x);
    bp_free(data->x32);
    bp_free(data->x8);
    bp_free(data->table);
    bp_free(data->y);
    bp_free(data->label);
    free_strings(data->names, data->d);
    bp_free(data->target);
    free_strings(data->classes, data->n_classes);
    bp_free(data);
}

int bp_data_set_dtype(bp_data *data, bp_dtype t, bp_err *e) {
    if ((unsigned)t >= BP_DTYPE_COUNT) return bp_err_set(e, "unknown dtype %d", (int)t);
    if (t == data->dtype) return 0;
    if (data->x8) {
        /* the table's values as each x[k] below: a float's exactly, or
         * rounded to one */
        for (int v = 0; t == BP_F32 && v < 256; v++) data->table[v] = (float)data->table[v];
        data->dtype = t;
        return 0;
    }
    size_t N = (size_t)data->n * data->d;
    if (t == BP_F32) {
        float *x32 = alloc_zero(N, sizeof(float));
        if (!x32) return bp_err_set(e, "out of memory for %zu float32 inputs", N);
        for (size_t k = 0; k < N; k++) x32[k] = (float)data->x[k];
        bp_free(data->x);
        data->x = NULL;
        data->x32 = x32;
    } else {
        double *x = alloc_zero(N, sizeof(double));
        if (!x) return bp_err_set(e, "out of memory for %zu float64 inputs", N);
        for (size_t k = 0; k < N; k++) x[k] = data->x32[k];
        bp_free(data->x32);
        data->x32 = NULL;
        data->x = x;
    }
    data->dtype = t;
    return 0;
}

const void *bp_data_row(const bp_data *data, int r) {
    size_t at = (size_t)r * data->d;
    if (data->x8) return NULL;
    return data->dtype == BP_F32 ? (const void *)(data->x32 + at)
                                 : (const void *)(data->x + at);
}

double bp_data_get(const bp_data *data, size_t k) {
    if (data->x8) return data->table[data->x8[k]];
    return data->dtype == BP_F32 ? data->x32[k] : data->x[k];
}

/* count codes as the values of table in dtype t (as bp_data_get's, in t). */
static void decode(void *out, bp_dtype t, const unsigned char *codes, const double *table,
                   size_t count) {
    if (t == BP_F32) {
        float *o = out, tab[256];
        for (int v = 0; v < 256; v++) tab[v] = (float)table[v];
        for (size_t j = 0; j < count; j++) o[j] = tab[codes[j]];
    } else {
        double *o = out;
        for (size_t j = 0; j < count; j++) o[j] = table[codes[j]];
    }
}

void bp_data_take_rows(const bp_data *data, void *out, const int *rows, int start, int B) {
    const size_t d = (size_t)data->d, z = bp_dtype_size(data->dtype);
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)(rows ? rows[b] : start + b);
        void *to = (char *)out + z * d * b;
        if (data->x8) decode(to, data->dtype, data->x8 + r * d, data->table, d);
        else memcpy(to, bp_data_row(data, (int)r), z * d);
    }
}

int bp_data_materialize(bp_data *data, bp_err *e) {
    if (!data->x8) return 0;
    size_t N = (size_t)data->n * data->d, z = bp_dtype_size(data->dtype);
    void *x = alloc_zero(N, z);
    if (!x) return bp_err_set(e, "out of memory for %zu inputs", N);
    dt_advise_rows(x, z * N);
    decode(x, data->dtype, data->x8, data->table, N);
    if (data->dtype == BP_F32) data->x32 = x;
    else data->x = x;
    bp_free(data->x8);
    bp_free(data->table);
    data->x8 = NULL;
    data->table = NULL;
    return 0;
}

static int copy_names(bp_data *dst, const bp_data *src, bp_err *e) {
    int ok = 1;
    dst->names = dup_strings(src->names, src->d, &ok);
    dst->classes = dup_strings(src->classes, src->n_classes, &ok);
    if (src->target && !(dst->target = dt_dup_str(src->target))) ok = 0;
    return ok ? 0 : bp_err_set(e, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Preparing                                                                 */

bp_data *bp_data_slice(const bp_data *data, int start, int count, bp_err *e) {
    if (start < 0 || count < 0 || start > data->n - count) {
        bp_err_set(e, "rows %d..%lld are not inside the data's 0..%d", start,
                   (long long)start + count - 1, data->n - 1);
        return NULL;
    }
    int d = data->d, k = data->k;
    bp_data *part;
    if (data->x8) {
        unsigned char *codes = alloc_zero((size_t)count * d, 1);
        part = codes ? dt_make_codes(count, d, k, data->n_classes, data->dtype, codes, e)
                     : NULL;
        if (!part) {
            if (!codes) bp_err_set(e, "out of memory for a data set of %d x %d", count, d);
            bp_free(codes);
            return NULL;
        }
        memcpy(codes, data->x8 + (size_t)start * d, (size_t)count * d);
        memcpy(part->table, data->table, sizeof(double) * 256);
    } else {
        part = data_new(count, d, k, data->n_classes, data->dtype, e);
        if (!part) return NULL;
        memcpy((void *)bp_data_row(part, 0), bp_data_row(data, start),
               bp_dtype_size(data->dtype) * (size_t)count * d);
    }
    memcpy(part->y, data->y + (size_t)start * k, sizeof(double) * (size_t)count * k);
    if (data->label)
        memcpy(part->label, data->label + start, sizeof(int) * (size_t)count);
    if (copy_names(part, data, e) < 0) {
        bp_data_free(part);
        return NULL;
    }
    return part;
}

/* Swaps rows a and b of a matrix of rows of `size` bytes. */
static void swap_rows(void *m, size_t size, int a, int b, void *tmp) {
    char *ra = (char *)m + size * a, *rb = (char *)m + size * b;
    memcpy(tmp, ra, size);
    memcpy(ra, rb, size);
    memcpy(rb, tmp, size);
}

int bp_data_shuffle(bp_data *data, bp_rng *r, bp_err *e) {
    int d = data->d, k = data->k;
    double *tmp = bp_malloc(sizeof(double) * (size_t)(d > k ? d : k));
    if (!tmp) return bp_err_set(e, "out of memory");
    for (int i = data->n - 1; i > 0; i--) {
        int j = (int)bp_rng_below(r, (uint64_t)i + 1);
        if (j == i) continue;
        if (data->x8) swap_rows(data->x8, (size_t)d, i, j, tmp);
        else
            swap_rows((void *)bp_data_row(data, 0), bp_dtype_size(data->dtype) * d, i, j,
                      tmp);
        swap_rows(data->y, sizeof(double) * k, i, j, tmp);
        if (data->label) {
            int t = data->label[i];
            data->label[i] = data->label[j];
            data->label[j] = t;
        }
    }
    bp_free(tmp);
    return 0;
}

int bp_data_split(const bp_data *data, double frac_train, double frac_val,
                  bp_data **train, bp_data **val, bp_data **test, bp_err *e) {
    *train = *val = *test = NULL;
    /* The tolerance lets 0.7 + 0.3 through whatever their rounding. */
    if (!(frac_train >= 0 && frac_val >= 0 && frac_train + frac_val <= 1 + 1e-9))
        return bp_err_set(e,
                          "split fractions must be >= 0 and add up to at most 1 "
                          "(got train %g, validation %g)",
                          frac_train, frac_val);
    int n = data->n;
    int nt = (int)round(frac_train * n), nv = (int)round(frac_val * n);
    if (nt > n) nt = n;
    if (nv > n - nt) nv = n - nt; /* 0.5 and 0.5 of 3 rows round to 2 + 2 */
    *train = bp_data_slice(data, 0, nt, e);
    *val = *train ? bp_data_slice(data, nt, nv, e) : NULL;
    *test = *val ? bp_data_slice(data, nt + nv, n - nt - nv, e) : NULL;
    if (*test) return 0;
    bp_data_free(*train);
    bp_data_free(*val);
    *train = *val = NULL;
    return -1;
}

int bp_data_batch(const bp_data *data, int start, int size, const double **x,
                  const double **y, const int **label) {
    if (start < 0 || start >= data->n || size < 1) return 0;
    int B = data->n - start < size ? data->n - start : size;
    if (x) *x = data->x ? data->x + (size_t)start * data->d : NULL;
    if (y) *y = data->y + (size_t)start * data->k;
    if (label) *label = data->label ? data->label + start : NULL;
    return B;
}

int bp_data_onehot(bp_data *data, bp_err *e) {
    if (!data->label || data->n_classes != data->k)
        return bp_err_set(e, "one-hot targets need class labels");
    int C = data->k;
    for (int r = 0; r < data->n; r++)
        if (data->label[r] < 0 || data->label[r] >= C)
            return bp_err_set(e, "label %d of row %d is outside 0..%d", data->label[r],
                              r + 1, C - 1);
    memset(data->y, 0, sizeof(double) * (size_t)data->n * C);
    for (int r = 0; r < data->n; r++) data->y[(size_t)r * C + data->label[r]] = 1.0;
    return 0;
}
