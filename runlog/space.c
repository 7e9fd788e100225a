/* space.c: a sweep's search space as its script declares it (bp.suggest):
 * written by the trials that suggest, read by the supervisor that proposes
 * (bp_sweeplog.h; the table is runlog/schema/11.sql).
 *
 * A name's first suggestion is its specification for the whole sweep: the
 * insert and the comparison with what an earlier trial recorded happen in
 * one write transaction, so two trials racing to suggest the same name
 * agree or one of them is refused, never both recorded. The name joins
 * sweeps.keys in the same transaction: sweep_trials (views.sql) shows a
 * trial's parameters by that list. */
#define _XOPEN_SOURCE 700 /* strdup */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_sweeplog.h"
#include "runlog_int.h"

/* The spec recorded for key before this call into buf (size bytes): 1, 0
 * when none is, -1. Call with db_lock held, in the transaction. */
static int recorded_spec(bp_runlog *log, int64_t sweep, const char *key, char *buf,
                         size_t size, bp_err *e) {
    sqlite3_stmt *st = rl_prepare(
        log, "SELECT spec FROM sweep_space WHERE sweep_id = ?1 AND key = ?2", e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, sweep);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        snprintf(buf, size, "%s", s ? s : "");
    }
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 1;
    return r == SQLITE_DONE ? 0 : rl_fail(log, e, "cannot read the sweep's space");
}

/* Records key's spec and appends key to the sweep's keys. Call with
 * db_lock held, in the transaction. */
static int insert_space(bp_runlog *log, int64_t sweep, int64_t trial, const char *key,
                        const char *spec, bp_err *e) {
    sqlite3_stmt *st = rl_prepare(
        log,
        "INSERT INTO sweep_space(sweep_id, key, spec, trial) VALUES (?1, ?2, ?3, ?4)", e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, sweep);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, spec, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, trial);
    if (rl_run_stmt(log, st, "cannot record the sweep's space", e)) return -1;
    st = rl_prepare(log,
                    "UPDATE sweeps SET keys = CASE WHEN keys = '' THEN ?2"
                    " ELSE keys || ' ' || ?2 END WHERE id = ?1"
                    " AND instr(' ' || keys || ' ', ' ' || ?2 || ' ') = 0",
                    e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, sweep);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    return rl_run_stmt(log, st, "cannot record the sweep's keys", e);
}

int bp_runlog_sweep_suggest(bp_runlog *log, int64_t sweep, int64_t trial, const char *key,
                            const char *spec, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (!key || !*key || !spec || !*spec)
        return bp_err_set(e, "a suggested parameter needs a name and a specification");
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    char before[1024];
    if (rl_begin_write(log, e)) goto end;
    int r = recorded_spec(log, sweep, key, before, sizeof before, e);
    if (r == 0) r = insert_space(log, sweep, trial, key, spec, e);
    else if (r == 1 && strcmp(before, spec))
        r = bp_err_set(e,
                       "bp.suggest: parameter %s is suggested as '%s' here but as '%s' by"
                       " an earlier trial of sweep %lld: one name, one specification",
                       key, spec, before, (long long)sweep);
    if (r < 0) rl_rollback(log);
    else rc = rl_commit(log, e);
end:
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

void bp_sweep_space_free(bp_sweep_space *s) {
    if (!s) return;
    for (size_t k = 0; k < s->n; k++) {
        free(s->keys[k]);
        free(s->specs[k]);
    }
    free(s->keys);
    free(s->specs);
    memset(s, 0, sizeof *s);
}

/* Appends a row of st (key, spec) to s: 0, or -1 out of memory. */
static int append_row(bp_sweep_space *s, sqlite3_stmt *st) {
    char **k = realloc(s->keys, sizeof *k * (s->n + 1));
    if (k) s->keys = k;
    char **v = realloc(s->specs, sizeof *v * (s->n + 1));
    if (v) s->specs = v;
    if (!k || !v) return -1;
    s->keys[s->n] = strdup((const char *)sqlite3_column_text(st, 0));
    s->specs[s->n] = strdup((const char *)sqlite3_column_text(st, 1));
    s->n++;
    return s->keys[s->n - 1] && s->specs[s->n - 1] ? 0 : -1;
}

int bp_runlog_sweep_space(bp_runlog *log, int64_t sweep, bp_sweep_space *s, bp_err *e) {
    memset(s, 0, sizeof *s);
    pthread_mutex_lock(&log->db_lock);
    int rc = -1, r;
    sqlite3_stmt *st = rl_prepare(log,
                                  "SELECT key, spec FROM sweep_space WHERE sweep_id = ?1"
                                  " ORDER BY trial, rowid",
                                  e);
    if (st) {
        sqlite3_bind_int64(st, 1, sweep);
        while ((r = sqlite3_step(st)) == SQLITE_ROW)
            if (append_row(s, st)) break;
        if (r == SQLITE_ROW) bp_err_set(e, "out of memory");
        else if (r != SQLITE_DONE) rl_fail(log, e, "cannot read the sweep's space");
        else rc = 0;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&log->db_lock);
    if (rc) bp_sweep_space_free(s);
    return rc;
}
