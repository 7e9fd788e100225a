/* readback.c: what a run reads back of itself: a metric's values
 * (bp_runlog_metric_get) and what it takes to run it again
 * (bp_runlog_run_get, for `backprop run --resume`).
 *
 * SQLite turns a NaN into NULL, and a metric's value is never NULL
 * otherwise: NULL is the stored form of NaN, turned back here. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "runlog_int.h"

int bp_runlog_metric_get(bp_runlog *log, int64_t run, const char *name,
                         int64_t **steps_out, double **values_out, size_t *n_out,
                         bp_err *e) {
    *steps_out = NULL, *values_out = NULL, *n_out = 0;
    if (bp_runlog_flush(log, e)) return -1;
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    size_t n = 0, cap = 0;
    int64_t *st_v = NULL;
    double *va = NULL;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT m.step, m.value FROM metrics m JOIN metric_names n"
                   " ON n.id = m.name_id WHERE m.run_id = ? AND n.name = ?"
                   " ORDER BY m.step",
                   e);
    if (!st) goto end;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            int64_t *a = realloc(st_v, cap * sizeof *a);
            if (a) st_v = a;
            double *b = realloc(va, cap * sizeof *b);
            if (b) va = b;
            if (!a || !b) {
                bp_err_set(e, "out of memory");
                goto end;
            }
        }
        st_v[n] = sqlite3_column_int64(st, 0);
        va[n] = sqlite3_column_type(st, 1) == SQLITE_NULL ? NAN
                                                          : sqlite3_column_double(st, 1);
        n++;
    }
    if (r != SQLITE_DONE) {
        rl_fail(log, e, "cannot read metrics");
        goto end;
    }
    *steps_out = st_v, *values_out = va, *n_out = n;
    st_v = NULL, va = NULL;
    rc = 0;
end:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&log->db_lock);
    free(st_v);
    free(va);
    return rc;
}

void bp_run_record_free(bp_run_record *r) {
    if (!r) return;
    free(r->name);
    free(r->script_path);
    free(r->script_text);
    free(r->status);
    free(r->command);
    for (int k = 0; k < r->n_params; k++) free(r->params[k]);
    free(r->params);
    memset(r, 0, sizeof *r);
}

static char *dup_column(sqlite3_stmt *st, int col) {
    const char *t = (const char *)sqlite3_column_text(st, col);
    if (!t) return NULL;
    size_t n = strlen(t) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, t, n);
    return c;
}

/* The run's row into r (the strings malloc'd). Call with db_lock held. */
static int read_run(bp_runlog *log, int64_t run, bp_run_record *r, bp_err *e) {
    int rc = -1;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT r.name, r.script_path, s.text, r.status, r.seed,"
                   " r.sweep_id, r.trial, r.command FROM runs r"
                   " LEFT JOIN scripts s ON s.id = r.script_id WHERE r.id = ?1",
                   e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, run);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        if (step == SQLITE_DONE)
            bp_err_set(e, "%s: no run %lld", log->path, (long long)run);
        else rl_fail(log, e, "cannot read a run");
        goto end;
    }
    r->name = dup_column(st, 0);
    r->script_path = dup_column(st, 1);
    r->script_text = dup_column(st, 2);
    r->status = dup_column(st, 3);
    r->has_seed = sqlite3_column_type(st, 4) != SQLITE_NULL;
    r->seed = sqlite3_column_int64(st, 4);
    r->sweep_id = sqlite3_column_int64(st, 5);
    r->trial = sqlite3_column_int64(st, 6);
    r->command = dup_column(st, 7);
    if (!r->name || !r->status) {
        bp_err_set(e, "out of memory");
        goto end;
    }
    rc = 0;
end:
    sqlite3_finalize(st);
    return rc;
}

/* The value of the parameter row (key, type, value) at ps as the command
 * line would give it: its text reads back as the same value (%.17g for
 * reals). Written into num, or the row's own text. */
static const char *param_value(sqlite3_stmt *ps, char *num, size_t cap) {
    const char *type = (const char *)sqlite3_column_text(ps, 1);
    if (!strcmp(type, "real")) snprintf(num, cap, "%.17g", sqlite3_column_double(ps, 2));
    else if (!strcmp(type, "int"))
        snprintf(num, cap, "%lld", (long long)sqlite3_column_int64(ps, 2));
    else if (!strcmp(type, "bool"))
        snprintf(num, cap, "%s", sqlite3_column_int64(ps, 2) ? "true" : "false");
    else return (const char *)sqlite3_column_text(ps, 2);
    return num;
}

/* Appends "key=value" to r->params. */
static int add_param(bp_run_record *r, const char *key, const char *value, bp_err *e) {
    size_t n = strlen(key) + strlen(value) + 2;
    char **grown = realloc(r->params, sizeof *grown * (size_t)(r->n_params + 1));
    char *kv = malloc(n);
    if (!grown || !kv) {
        free(kv);
        if (grown) r->params = grown;
        return bp_err_set(e, "out of memory");
    }
    r->params = grown;
    snprintf(kv, n, "%s=%s", key, value);
    r->params[r->n_params++] = kv;
    return 0;
}

/* The run's parameters into r, in the order of their keys. Call with
 * db_lock held. */
static int read_params(bp_runlog *log, int64_t run, bp_run_record *r, bp_err *e) {
    int rc = -1, step;
    sqlite3_stmt *ps = rl_prepare(
        log, "SELECT key, type, value FROM params WHERE run_id = ?1 ORDER BY key", e);
    if (!ps) return -1;
    sqlite3_bind_int64(ps, 1, run);
    while ((step = sqlite3_step(ps)) == SQLITE_ROW) {
        char num[64];
        const char *key = (const char *)sqlite3_column_text(ps, 0);
        if (add_param(r, key, param_value(ps, num, sizeof num), e)) goto end;
    }
    if (step != SQLITE_DONE) {
        rl_fail(log, e, "cannot read a run's parameters");
        goto end;
    }
    rc = 0;
end:
    sqlite3_finalize(ps);
    return rc;
}

int bp_runlog_run_get(bp_runlog *log, int64_t run, bp_run_record *r, bp_err *e) {
    memset(r, 0, sizeof *r);
    pthread_mutex_lock(&log->db_lock);
    int rc = read_run(log, run, r, e) || read_params(log, run, r, e) ? -1 : 0;
    pthread_mutex_unlock(&log->db_lock);
    if (rc) bp_run_record_free(r);
    return rc;
}
