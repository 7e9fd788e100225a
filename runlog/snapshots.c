/* snapshots.c: weight snapshots, written and read back
 * (bp_runlog_snapshot, bp_runlog_snapshot_get).
 *
 * Weights are one BLOB per snapshot, raw little-endian: exact, and as big as
 * the numbers themselves (float32 halves them, rounded). Both directions of
 * that format are here; sqlext.c reads it too, for SQL, and must stay a file
 * of its own (it is also built alone as bpsql.so). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "bp_sqlext.h"
#include "runlog_int.h"

static int little_endian(void) {
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

int bp_runlog_snapshot(bp_runlog *log, int64_t run, int64_t step, const char *name,
                       int n_layers, const int *sizes, const double *params,
                       size_t n_params, int float32, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (n_layers < 1 || n_layers + 1 > BP_SHAPE_MAX)
        return bp_err_set(e, "snapshot: %d layers (need 1..%d)", n_layers,
                          BP_SHAPE_MAX - 1);
    /* Shape text and the count the shape implies. */
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
        if (l) need += (size_t)sizes[l] * ((size_t)sizes[l - 1] + 1);
    }
    if (need != n_params) {
        bp_err_set(e, "snapshot: shape %s needs %zu parameters, got %zu", shape, need,
                   n_params);
        free(shape);
        return -1;
    }
    size_t width = float32 ? 4 : 8;
    unsigned char *blob = NULL;
    const void *data = params;
    if (float32 || !little_endian()) {
        blob = malloc(n_params * width + 1);
        if (!blob) {
            free(shape);
            return bp_err_set(e, "out of memory");
        }
        for (size_t k = 0; k < n_params; k++) {
            uint64_t u = 0;
            if (float32) {
                float f = (float)params[k];
                uint32_t u32;
                memcpy(&u32, &f, 4);
                u = u32;
            } else {
                memcpy(&u, &params[k], 8);
            }
            for (size_t b = 0; b < width; b++)
                blob[k * width + b] = (unsigned char)(u >> (8 * b));
        }
        data = blob;
    }
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
        sqlite3_bind_blob64(st, 6, data, n_params * width, SQLITE_STATIC);
        rc = rl_write_one(log, st, "cannot store a snapshot", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    free(blob);
    free(shape);
    return rc;
}

int bp_runlog_snapshot_get(bp_runlog *log, int64_t run, const char *name, int64_t step,
                           int64_t *step_out, int *n_layers, int **sizes_out,
                           double **params_out, size_t *n_params, bp_err *e) {
    *sizes_out = NULL, *params_out = NULL, *n_params = 0, *n_layers = 0;
    if (!name) name = "net";
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    int *sizes = NULL;
    double *v = NULL;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT step, shape, data FROM snapshots WHERE run_id = ?1"
                   " AND name = ?2 AND (?3 < 0 OR step = ?3)"
                   " ORDER BY step DESC LIMIT 1",
                   e);
    if (!st) goto out;
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
        goto out;
    }
    int tmp[BP_SHAPE_MAX];
    const char *shape = (const char *)sqlite3_column_text(st, 1);
    int ns = bp_shape_parse(shape, tmp, BP_SHAPE_MAX);
    size_t P = 0;
    for (int l = 1; l < ns; l++) P += (size_t)tmp[l] * ((size_t)tmp[l - 1] + 1);
    size_t bytes = (size_t)sqlite3_column_bytes(st, 2);
    const unsigned char *data = sqlite3_column_blob(st, 2);
    size_t width = bytes == 8 * P ? 8 : bytes == 4 * P ? 4 : 0;
    if (ns < 0 || !width) {
        bp_err_set(e, "%s: snapshot of run %lld has a bad shape '%s' or size", log->path,
                   (long long)run, shape ? shape : "");
        goto out;
    }
    sizes = malloc((size_t)ns * sizeof *sizes);
    v = malloc((P ? P : 1) * sizeof *v);
    if (!sizes || !v) {
        bp_err_set(e, "out of memory");
        goto out;
    }
    memcpy(sizes, tmp, (size_t)ns * sizeof *sizes);
    for (size_t k = 0; k < P; k++) {
        uint64_t u = 0;
        for (size_t b = 0; b < width; b++) u |= (uint64_t)data[k * width + b] << (8 * b);
        if (width == 8) {
            memcpy(&v[k], &u, 8);
        } else {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, 4);
            v[k] = f;
        }
    }
    if (step_out) *step_out = sqlite3_column_int64(st, 0);
    *n_layers = ns - 1, *sizes_out = sizes, *params_out = v, *n_params = P;
    sizes = NULL, v = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&log->db_lock);
    free(sizes);
    free(v);
    return rc;
}
