/* snapshots.c: weight snapshots, written and read back
 * (bp_runlog_snapshot, bp_runlog_snapshot_tensors, bp_runlog_snapshot_get).
 *
 * Weights are one BLOB per snapshot, raw little-endian: exact, and as big as
 * the numbers themselves (float32 halves them, rounded). The row's shape
 * says what they are: a stack's widths, or a graph's tensors by name and
 * shape, which is what bp_weights needs to name each value; the graph's
 * wiring is the network file's (bp.save_net, checkpoints). Both directions
 * of that format are here; sqlext.c reads it too, for SQL, and must stay a file
 * of its own (it is also built alone as bpsql.so). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_graph.h"
#include "bp_runlog.h"
#include "bp_sqlext.h"
#include "bp_util.h"
#include "runlog_int.h"

static int little_endian(void) {
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

/* The shape's text, "2,3,1" (inputs, then each layer's outputs), malloc'd
 * into *shape_out, once the widths are known to be positive and to need
 * n_params parameters. */
static int shape_text(char **shape_out, int n_layers, const int *sizes, size_t n_params,
                      bp_err *e) {
    char *shape = malloc((size_t)(n_layers + 1) * 12);
    if (!shape) return bp_err_set(e, "out of memory");
    size_t len = 0, need = 0;
    for (int l = 0; l <= n_layers; l++) {
        if (sizes[l] < 1) {
            free(shape);
            return bp_err_set(e, "snapshot: width %d of layer %d is not positive",
                              sizes[l], l);
        }
        len += (size_t)sprintf(shape + len, l ? ",%d" : "%d", sizes[l]);
    }
    int over = bp_shape_params(&need, sizes, n_layers + 1);
    if (over || need != n_params) {
        if (over)
            bp_err_set(e, "snapshot: shape %s needs more parameters than memory can hold",
                       shape);
        else
            bp_err_set(e, "snapshot: shape %s needs %zu parameters, got %zu", shape, need,
                       n_params);
        free(shape);
        return -1;
    }
    *shape_out = shape;
    return 0;
}

/* The n values as stored, little-endian, 4 bytes each as floats or 8 as
 * doubles: into *blob (malloc'd), or *blob NULL when params is that already. */
static int encode(unsigned char **blob, const double *params, size_t n, int float32,
                  bp_err *e) {
    *blob = NULL;
    if (!float32 && little_endian()) return 0;
    size_t width = float32 ? 4 : 8, size;
    unsigned char *b = bp_size_mul(&size, n, width) ? NULL : malloc(size + 1);
    if (!b) return bp_err_set(e, "out of memory");
    for (size_t k = 0; k < n; k++) {
        uint64_t u = 0;
        if (float32) {
            float f = (float)params[k];
            uint32_t u32;
            memcpy(&u32, &f, 4);
            u = u32;
        } else {
            memcpy(&u, &params[k], 8);
        }
        for (size_t j = 0; j < width; j++)
            b[k * width + j] = (unsigned char)(u >> (8 * j));
    }
    *blob = b;
    return 0;
}

/* The row: shape (text) and the n values stored as float32 or float64. */
static int store(bp_runlog *log, int64_t run, int64_t step, const char *name,
                 const char *shape, const double *params, size_t n_params, int float32,
                 bp_err *e) {
    unsigned char *blob = NULL;
    if (encode(&blob, params, n_params, float32, e)) return -1;
    const void *data = blob ? (const void *)blob : (const void *)params;
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log,
                                  "INSERT OR REPLACE INTO snapshots(run_id, step, name,"
                                  " shape, dtype, data) VALUES (?, ?, ?, ?, ?, ?)",
                                  e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int64(st, 2, step);
        sqlite3_bind_text(st, 3, name ? name : "net", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, shape, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, float32 ? "f32" : "f64", -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 6, data, n_params * (float32 ? 4 : 8), SQLITE_STATIC);
        rc = rl_write_one(log, st, "cannot store a snapshot", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    free(blob);
    return rc;
}

int bp_runlog_snapshot(bp_runlog *log, int64_t run, int64_t step, const char *name,
                       int n_layers, const int *sizes, const double *params,
                       size_t n_params, int float32, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (n_layers < 1 || n_layers + 1 > BP_SHAPE_MAX)
        return bp_err_set(e, "snapshot: %d layers (need 1..%d)", n_layers,
                          BP_SHAPE_MAX - 1);
    char *shape = NULL;
    if (shape_text(&shape, n_layers, sizes, n_params, e)) return -1;
    int rc = store(log, run, step, name, shape, params, n_params, float32, e);
    free(shape);
    return rc;
}

/* A graph's shape text (bp_sqlext.h): "NAME:AxB" a tensor, one a line,
 * malloc'd into *out, once every name is one a line can hold and the
 * tensors' values are n_params. */
static int tensor_text(char **out, const bp_param *t, int n, size_t n_params, bp_err *e) {
    size_t cap = 1, at = 0, total = 0;
    for (int k = 0; k < n; k++) {
        if (!t[k].name[0] || strchr(t[k].name, '\n') || t[k].ndim > BP_TENSOR_MAX_DIMS)
            return bp_err_set(e, "snapshot: tensor %d's name '%s' or %d dimensions cannot "
                                 "be stored (no line breaks, at most %d dimensions)",
                              k + 1, t[k].name, t[k].ndim, BP_TENSOR_MAX_DIMS);
        cap += strlen(t[k].name) + 2 + 12 * BP_TENSOR_MAX_DIMS;
        total += t[k].count;
    }
    if (n < 1 || total != n_params)
        return bp_err_set(e, "snapshot: %d tensors of %zu values, got %zu", n, total,
                          n_params);
    char *s = malloc(cap);
    if (!s) return bp_err_set(e, "out of memory");
    for (int k = 0; k < n; k++) {
        at += (size_t)sprintf(s + at, "%s%s:", k ? "\n" : "", t[k].name);
        for (int d = 0; d < t[k].ndim; d++)
            at += (size_t)sprintf(s + at, d ? "x%d" : "%d", t[k].shape[d]);
    }
    *out = s;
    return 0;
}

int bp_runlog_snapshot_tensors(bp_runlog *log, int64_t run, int64_t step, const char *name,
                               const bp_param *t, int n, const double *params,
                               size_t n_params, int float32, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    char *shape = NULL;
    if (tensor_text(&shape, t, n, n_params, e)) return -1;
    int rc = store(log, run, step, name, shape, params, n_params, float32, e);
    free(shape);
    return rc;
}

/* The snapshot row (step, shape, data) at st unpacked: *ns widths into
 * *sizes and *P values into *v, both malloc'd (and left for the caller to
 * free on failure too). The row is the database's, which another program
 * may have written: its shape's count is checked for overflow before its
 * length is compared with the data's. */
static int unpack(bp_runlog *log, sqlite3_stmt *st, int64_t run, int *ns, int **sizes,
                  double **v, size_t *P, bp_err *e) {
    int tmp[BP_SHAPE_MAX];
    const char *shape = (const char *)sqlite3_column_text(st, 1);
    int n = -1;
    size_t count = 0, width = 0, bytes = (size_t)sqlite3_column_bytes(st, 2);
    const unsigned char *data = sqlite3_column_blob(st, 2);
    if (bp_shape_is_tensors(shape)) {
        /* A graph's: its values, and no widths (n_layers 0). */
        bp_tensor_info *t = malloc(sizeof *t * (size_t)bp_tensors_count(shape));
        if (t && bp_tensors_parse(shape, t, bp_tensors_count(shape), &count) > 0) n = 1;
        free(t);
        tmp[0] = 1;
    } else if ((n = bp_shape_parse(shape, tmp, BP_SHAPE_MAX)) >= 0 &&
               bp_shape_params(&count, tmp, n)) {
        n = -1;
    }
    if (n >= 0) width = bytes == 8 * count ? 8 : bytes == 4 * count ? 4 : 0;
    if (!width)
        return bp_err_set(e, "%s: snapshot of run %lld has a bad shape '%s' or size",
                          log->path, (long long)run, shape ? shape : "");
    *sizes = malloc((size_t)n * sizeof **sizes);
    *v = malloc((count ? count : 1) * sizeof **v);
    if (!*sizes || !*v) return bp_err_set(e, "out of memory");
    memcpy(*sizes, tmp, (size_t)n * sizeof **sizes);
    bp_weights_decode(*v, data, width, count);
    *ns = n, *P = count;
    return 0;
}

int bp_runlog_snapshot_get(bp_runlog *log, int64_t run, const char *name, int64_t step,
                           int64_t *step_out, int *n_layers, int **sizes_out,
                           double **params_out, size_t *n_params, bp_err *e) {
    *sizes_out = NULL, *params_out = NULL, *n_params = 0, *n_layers = 0;
    if (!name) name = "net";
    pthread_mutex_lock(&log->db_lock);
    int rc = -1, ns;
    int *sizes = NULL;
    double *v = NULL;
    size_t P;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT step, shape, data FROM snapshots WHERE run_id = ?1"
                   " AND name = ?2 AND (?3 < 0 OR step = ?3)"
                   " ORDER BY step DESC LIMIT 1",
                   e);
    if (!st) goto end;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, step);
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        if (r == SQLITE_DONE && step < 0)
            bp_err_set(e, "%s: run %lld has no snapshot '%s'", log->path, (long long)run,
                       name);
        else if (r == SQLITE_DONE)
            bp_err_set(e, "%s: run %lld has no snapshot '%s' at step %lld", log->path,
                       (long long)run, name, (long long)step);
        else rl_fail(log, e, "cannot read a snapshot");
        goto end;
    }
    if (unpack(log, st, run, &ns, &sizes, &v, &P, e)) goto end;
    if (step_out) *step_out = sqlite3_column_int64(st, 0);
    *n_layers = ns - 1, *sizes_out = sizes, *params_out = v, *n_params = P;
    sizes = NULL, v = NULL;
    rc = 0;
end:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&log->db_lock);
    free(sizes);
    free(v);
    return rc;
}
