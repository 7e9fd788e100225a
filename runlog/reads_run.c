/* reads_run.c: a run's record with its typed parameters (bp_run_header),
 * for `backprop export`'s header and JSON and a plot's time axis, and the
 * ids of the runs in a range, for `backprop rm 3-5` (bp_runlog.h).
 *
 * Apart from reads.c's text labels because these keep what the schema
 * holds as it holds it: times as seconds since 1970 (REAL), parameters with
 * their type, so that an export's JSON says 4, 0.1, "relu" and true, and a
 * plot can count seconds. */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <string.h>

#include "runlog_int.h"
#include "reads_int.h"

/* The run's own row into h. 0; -1 with "PATH: no run N" or SQLite's
 * message, or when memory runs out. */
static int header_row(bp_runlog *log, int64_t run, bp_run_header *h, bp_err *e) {
    sqlite3_stmt *st = NULL;
    int rc = -1, r;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log),
                           "SELECT name, status, script_path, command, seed, started,"
                           " ended, host, version, coalesce(sweep_id, 0),"
                           " coalesce(trial, 0), uid FROM runs WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        rd_fail(log, e);
        goto end;
    }
    sqlite3_bind_int64(st, 1, run);
    if ((r = sqlite3_step(st)) == SQLITE_DONE) {
        bp_err_set(e, "%s: no run %lld", bp_runlog_path(log), (long long)run);
        goto end;
    }
    if (r != SQLITE_ROW) {
        rd_fail(log, e);
        goto end;
    }
    h->id = run;
    h->started = sqlite3_column_double(st, 5);
    h->has_ended = sqlite3_column_type(st, 6) != SQLITE_NULL;
    h->ended = sqlite3_column_double(st, 6);
    h->sweep_id = sqlite3_column_int64(st, 9);
    h->trial = sqlite3_column_int64(st, 10);
    if (rd_text(st, 0, &h->name) || rd_text(st, 1, &h->status) ||
        rd_text(st, 2, &h->script_path) || rd_text(st, 3, &h->command) ||
        rd_value(st, 4, &h->seed) || rd_text(st, 7, &h->host) ||
        rd_text(st, 8, &h->version) || rd_text(st, 11, &h->uid)) {
        rd_oom(e);
        goto end;
    }
    rc = 0;
end:
    sqlite3_finalize(st);
    return rc;
}

/* One parameter (rd_rows' take): key, type, value. */
static int param_row(sqlite3_stmt *st, void *row, void *ctx) {
    bp_run_param *p = row;
    (void)ctx;
    return rd_text(st, 0, &p->key) || rd_text(st, 1, &p->type) || rd_value(st, 2, &p->value)
               ? -1
               : 0;
}

int bp_runlog_run_header(bp_runlog *log, int64_t run, bp_run_header *h, bp_err *e) {
    memset(h, 0, sizeof *h);
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    int rc = header_row(log, run, h, e);
    if (!rc) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(bp_runlog_sqlite(log),
                               "SELECT key, type, value FROM params WHERE run_id = ?"
                               " ORDER BY key",
                               -1, &st, NULL) == SQLITE_OK)
            sqlite3_bind_int64(st, 1, run);
        rc = rd_rows(log, st, &h->params, &h->n_params, sizeof *h->params, param_row,
                     NULL, e);
    }
    bp_runlog_unlock(log);
    if (rc) bp_run_header_free(h);
    return rc;
}

void bp_run_header_free(bp_run_header *h) {
    if (!h) return;
    free(h->name), free(h->status), free(h->script_path), free(h->command);
    free(h->host), free(h->version), free(h->uid);
    rd_value_free(&h->seed);
    for (size_t k = 0; h->params && k < h->n_params; k++) {
        free(h->params[k].key);
        free(h->params[k].type);
        rd_value_free(&h->params[k].value);
    }
    free(h->params);
    memset(h, 0, sizeof *h);
}

/* An id (rd_rows' take). */
static int id_row(sqlite3_stmt *st, void *row, void *ctx) {
    (void)ctx;
    *(int64_t *)row = sqlite3_column_int64(st, 0);
    return 0;
}

int bp_runlog_run_ids_between(bp_runlog *log, int64_t first, int64_t last, int64_t **ids,
                              size_t *n, bp_err *e) {
    *ids = NULL, *n = 0;
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log),
                           "SELECT id FROM runs WHERE id BETWEEN ? AND ? ORDER BY id", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, first);
        sqlite3_bind_int64(st, 2, last);
    }
    int rc = rd_rows(log, st, ids, n, sizeof **ids, id_row, NULL, e);
    bp_runlog_unlock(log);
    if (rc) free(*ids), *ids = NULL, *n = 0;
    return rc;
}
