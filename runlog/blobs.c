/* blobs.c: whole networks and checkpoints, opaque blobs of a run at a step
 * (bp_runlog_network_put/_get, bp_runlog_checkpoint_put/_get).
 *
 * The run log does not look inside them: a network is bp_save.h's bytes, a
 * checkpoint the Lua module's. Both are stored and read back the same way,
 * by put_blob and get_blob. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "runlog_int.h"

/* Stores one blob row: the statement's parameters are run, step, (name),
 * data, in that order. */
static int put_blob(bp_runlog *log, const char *sql, int64_t run, int64_t step,
                    const char *name, const void *data, size_t len, const char *what,
                    bp_err *e) {
    if (rl_writable(log, e)) return -1;
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log, sql, e);
    if (st) {
        int k = 1;
        sqlite3_bind_int64(st, k++, run);
        sqlite3_bind_int64(st, k++, step);
        if (name) sqlite3_bind_text(st, k++, name, -1, SQLITE_STATIC);
        else sqlite3_bind_double(st, k++, bp_runlog_time());
        sqlite3_bind_blob64(st, k, data, len, SQLITE_STATIC);
        rc = rl_write_one(log, st, what, e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

/* Reads the first row of a query returning (step, data) into a malloc'd
 * copy. Returns 0 with *data NULL when there is no row. */
static int get_blob(bp_runlog *log, sqlite3_stmt *st, void **data, size_t *len,
                    int64_t *step_out, const char *what, bp_err *e) {
    *data = NULL;
    *len = 0;
    int rc = 0, r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        void *copy = malloc(n ? n : 1);
        if (!copy) {
            rc = bp_err_set(e, "out of memory");
        } else {
            /* An empty blob's pointer is NULL, which memcpy may not take
             * even for 0 bytes. */
            if (n) memcpy(copy, sqlite3_column_blob(st, 1), n);
            *data = copy;
            *len = n;
            if (step_out) *step_out = sqlite3_column_int64(st, 0);
        }
    } else if (r != SQLITE_DONE) {
        rc = rl_fail(log, e, what);
    }
    sqlite3_finalize(st);
    return rc;
}

int bp_runlog_network_put(bp_runlog *log, int64_t run, int64_t step, const char *name,
                          const void *data, size_t len, bp_err *e) {
    return put_blob(log,
                    "INSERT OR REPLACE INTO networks(run_id, step, name, data)"
                    " VALUES (?, ?, ?, ?)",
                    run, step, name ? name : "net", data, len, "cannot store a network",
                    e);
}

int bp_runlog_network_get(bp_runlog *log, int64_t run, const char *name, int64_t step,
                          void **data, size_t *len, int64_t *step_out, bp_err *e) {
    if (!name) name = "net";
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log,
                                  "SELECT step, data FROM networks WHERE run_id = ?1"
                                  " AND name = ?2 AND (?3 < 0 OR step = ?3)"
                                  " ORDER BY step DESC LIMIT 1",
                                  e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, step);
        rc = get_blob(log, st, data, len, step_out, "cannot read a network", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    if (rc == 0 && !*data) {
        if (step < 0)
            return bp_err_set(e, "%s: run %lld saved no network '%s'", log->path,
                              (long long)run, name);
        return bp_err_set(e, "%s: run %lld saved no network '%s' at step %lld", log->path,
                          (long long)run, name, (long long)step);
    }
    return rc;
}

int bp_runlog_checkpoint_put(bp_runlog *log, int64_t run, int64_t step, const void *data,
                             size_t len, bp_err *e) {
    /* Older checkpoints go in the same transaction: only the latest is
     * ever resumed from, and a checkpoint can be large. */
    if (put_blob(log,
                 "INSERT OR REPLACE INTO checkpoints(run_id, step, time, data)"
                 " VALUES (?, ?, ?, ?)",
                 run, step, NULL, data, len, "cannot store a checkpoint", e))
        return -1;
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st =
        rl_prepare(log, "DELETE FROM checkpoints WHERE run_id = ?1 AND step <> ?2", e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int64(st, 2, step);
        if (rl_begin_write(log, e)) {
            sqlite3_finalize(st);
        } else if (rl_run_stmt(log, st, "cannot drop old checkpoints", e)) {
            rl_rollback(log);
        } else {
            rc = rl_commit(log, e);
        }
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

int bp_runlog_checkpoint_get(bp_runlog *log, int64_t run, void **data, size_t *len,
                             int64_t *step_out, bp_err *e) {
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log,
                                  "SELECT step, data FROM checkpoints WHERE run_id = ?1"
                                  " ORDER BY step DESC LIMIT 1",
                                  e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        rc = get_blob(log, st, data, len, step_out, "cannot read a checkpoint", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}
