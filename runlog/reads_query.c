/* reads_query.c: bp_runlog_query, `backprop query`: the one read whose SQL
 * is the user's.
 *
 * It runs on a connection of its own, opened by query_open alone, that
 * SQLite itself keeps read-only (SQLITE_OPEN_READONLY and PRAGMA
 * query_only, as bp_runlog_open makes a read-only log): whatever the SQL
 * says, it cannot write. That one function is where the connection could
 * be narrowed further. Rows are streamed to the caller's callbacks as typed
 * values pointing into SQLite's memory, so that a large result is never
 * held whole. */
#include <stdlib.h>

#include "runlog_int.h"

/* The connection the user's SQL runs on; NULL with bp_runlog_open's
 * message in e. */
static bp_runlog *query_open(const char *path, bp_err *e) {
    return bp_runlog_open(path, BP_RUNLOG_READONLY, e);
}

/* Column c of st's current row, pointing into st. */
static void column_value(sqlite3_stmt *st, int c, bp_runlog_value *v) {
    v->i = 0, v->r = 0, v->s = NULL, v->n = 0;
    switch (sqlite3_column_type(st, c)) {
        case SQLITE_NULL: v->type = BP_RUNLOG_NULL; break;
        case SQLITE_INTEGER:
            v->type = BP_RUNLOG_INT;
            v->i = sqlite3_column_int64(st, c);
            v->r = (double)v->i;
            break;
        case SQLITE_FLOAT:
            v->type = BP_RUNLOG_REAL;
            v->r = sqlite3_column_double(st, c);
            break;
        case SQLITE_BLOB:
            v->type = BP_RUNLOG_BLOB;
            v->s = sqlite3_column_blob(st, c);
            v->n = (size_t)sqlite3_column_bytes(st, c);
            break;
        default:
            v->type = BP_RUNLOG_TEXT;
            v->s = (const char *)sqlite3_column_text(st, c);
            v->n = (size_t)sqlite3_column_bytes(st, c);
    }
}

/* Runs one statement, its rows to the sink. 0, -1 with SQLite's message,
 * or a callback's nonzero value. */
static int run_statement(sqlite3 *db, sqlite3_stmt *st, const bp_query_sink *sink,
                         bp_err *e) {
    int ncol = sqlite3_column_count(st), r, rc = 0;
    if (ncol == 0) {
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {}
        return r == SQLITE_DONE ? 0 : bp_err_set(e, "%s", sqlite3_errmsg(db));
    }
    const char **names = malloc((size_t)ncol * sizeof *names);
    bp_runlog_value *values = malloc((size_t)ncol * sizeof *values);
    if (!names || !values) {
        free(names), free(values);
        return bp_err_set(e, "out of memory");
    }
    for (int c = 0; c < ncol; c++) names[c] = sqlite3_column_name(st, c);
    if ((rc = sink->begin(sink->ctx, ncol, names))) goto out;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < ncol; c++) column_value(st, c, &values[c]);
        if ((rc = sink->row(sink->ctx, ncol, values))) break;
    }
    if (!rc) {
        sink->end(sink->ctx, r == SQLITE_DONE);
        if (r != SQLITE_DONE) rc = bp_err_set(e, "%s", sqlite3_errmsg(db));
    }
out:
    free(names);
    free(values);
    return rc;
}

int bp_runlog_query(const char *path, const char *sql, const bp_query_sink *sink,
                    bp_err *e) {
    bp_runlog *log = query_open(path, e);
    if (!log) return -1;
    bp_runlog_lock(log);
    sqlite3 *db = bp_runlog_sqlite(log);
    int rc = 0;
    const char *rest = sql;
    while (rc == 0 && *rest) {
        sqlite3_stmt *st = NULL;
        const char *tail;
        if (sqlite3_prepare_v2(db, rest, -1, &st, &tail) != SQLITE_OK) {
            rc = bp_err_set(e, "%s", sqlite3_errmsg(db));
            break;
        }
        if (st) rc = run_statement(db, st, sink, e);
        sqlite3_finalize(st);
        rest = tail;
    }
    bp_runlog_unlock(log);
    bp_runlog_close(log);
    return rc;
}
