/* sweeps.c: a sweep's row, written (bp_runlog_sweep, bp_runlog_sweep_status).
 *
 * A sweep is known by its uid, made of what defines it, so that the shards
 * of one sweep run on several machines are one sweep again when their
 * databases are merged: recording a sweep looks its uid up first, in the
 * same transaction. cli/sweeprun.c runs sweeps; what they read is
 * elsewhere. */
#define _XOPEN_SOURCE 700
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "runlog_int.h"

/* Looks the sweep of this uid up: 1 with *id when there is one, 0 when
 * there is none, -1 on failure. Call with db_lock held. */
static int find_sweep(bp_runlog *log, const char *uid, int64_t *id, bp_err *e) {
    sqlite3_stmt *st = rl_prepare(log, "SELECT id FROM sweeps WHERE uid = ?", e);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 1;
    if (r != SQLITE_DONE) return rl_fail(log, e, "cannot look up the sweep");
    return 0;
}

/* Inserts the sweep's row (and its script, once): its id, or -1. A new
 * 'running' sweep is taken by this process (claimed, host, pid). Call inside
 * a write transaction. */
static int64_t insert_sweep(bp_runlog *log, const bp_sweep_record *rec, const char *name,
                            const char *host, bp_err *e) {
    const char *status = rec->status ? rec->status : "running";
    int64_t sid = 0;
    if (rec->script_text && (sid = rl_script_id(log, rec->script_text, e)) < 0) return -1;
    sqlite3_stmt *st = rl_prepare(
        log,
        "INSERT INTO sweeps(uid, name, script_path, script_id, spec, keys,"
        " strategy, trials, seed, objective, direction, prune, status, started,"
        " claimed, host, pid, command, boot, repeats)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
        " CASE WHEN ?13 = 'running' THEN ?14 END,"
        " CASE WHEN ?13 = 'running' THEN ?15 END,"
        " CASE WHEN ?13 = 'running' THEN ?16 END, ?17,"
        " CASE WHEN ?13 = 'running' THEN ?18 END, ?19)",
        e);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, rec->uid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (rec->script_path) sqlite3_bind_text(st, 3, rec->script_path, -1, SQLITE_STATIC);
    if (sid) sqlite3_bind_int64(st, 4, sid);
    sqlite3_bind_text(st, 5, rec->spec, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, rec->keys, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, rec->strategy, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, rec->trials);
    sqlite3_bind_int64(st, 9, rec->seed);
    sqlite3_bind_text(st, 10, rec->objective, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, rec->maximize ? "max" : "min", -1, SQLITE_STATIC);
    if (rec->prune && *rec->prune)
        sqlite3_bind_text(st, 12, rec->prune, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, status, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 14, bp_runlog_time());
    sqlite3_bind_text(st, 15, host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 16, (long)getpid());
    if (rec->command) sqlite3_bind_text(st, 17, rec->command, -1, SQLITE_STATIC);
    if (log->lock_fd >= 0) sqlite3_bind_text(st, 18, log->boot, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 19, rec->repeats > 1 ? rec->repeats : 1);
    if (rl_run_stmt(log, st, "cannot record the sweep", e)) return -1;
    int64_t id = sqlite3_last_insert_rowid(log->db);
    if (!strcmp(status, "running") && log->lock_fd >= 0 && rl_lock_row(log, 1, id, e))
        return -1;
    return id;
}

int64_t bp_runlog_sweep(bp_runlog *log, const bp_sweep_record *rec, int *created,
                        bp_err *e) {
    if (created) *created = 0;
    if (rl_writable(log, e)) return -1;
    if (!rec->uid || !rec->spec || !rec->keys || !rec->strategy || !rec->objective)
        return bp_err_set(e, "a sweep needs its uid, spec, keys, strategy and objective");
    char name[256], host[256];
    if (rec->name && *rec->name) snprintf(name, sizeof name, "%s", rec->name);
    else rl_default_name(rec->script_path, name, sizeof name);
    rl_hostname(host, sizeof host);

    pthread_mutex_lock(&log->db_lock);
    int64_t id = -1;
    if (rl_begin_write(log, e)) goto end;
    int found = find_sweep(log, rec->uid, &id, e);
    if (found != 0) { /* there already, or a failure: nothing to write */
        rl_rollback(log);
        goto end;
    }
    id = insert_sweep(log, rec, name, host, e);
    if (id < 0) {
        rl_rollback(log);
    } else if (rl_commit(log, e)) {
        rl_lock_drop(log, RL_LOCK_SWEEP(id));
        id = -1;
    } else if (created) {
        *created = 1;
    }
end:
    pthread_mutex_unlock(&log->db_lock);
    return id;
}

int bp_runlog_sweep_status(bp_runlog *log, int64_t sweep, const char *status,
                           const char *message, bp_err *e) {
    static const char *const ok[] = {"running", "completed", "interrupted", "failed",
                                     "partial"};
    if (!rl_one_of(status, ok, sizeof ok / sizeof *ok))
        return bp_err_set(e,
                          "cannot set a sweep's status to '%s' (running, completed,"
                          " interrupted, failed or partial)",
                          status ? status : "(null)");
    if (rl_writable(log, e)) return -1;
    char host[256];
    rl_hostname(host, sizeof host);
    int take = !strcmp(status, "running"), got = -1;
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    if (rl_begin_write(log, e)) goto end;
    rl_holder holder;
    if (take && (rc = rl_claim(log, 1, sweep, &got, &holder, e)) != 0) {
        if (rc == 1)
            bp_err_set(e, "sweep %lld is running in another process %s", (long long)sweep,
                       holder.who);
        rl_rollback(log);
        goto end;
    }
    rc = -1;
    /* 'running' takes the sweep for this process; anything else ends it. */
    sqlite3_stmt *st =
        rl_prepare(log,
                   "UPDATE sweeps SET status = ?1, message = ?2,"
                   " ended = CASE WHEN ?1 = 'running' THEN NULL ELSE ?3 END,"
                   " claimed = CASE WHEN ?1 = 'running' THEN ?3 ELSE claimed END,"
                   " host = CASE WHEN ?1 = 'running' THEN ?4 ELSE host END,"
                   " pid = CASE WHEN ?1 = 'running' THEN ?5 ELSE pid END,"
                   " boot = CASE WHEN ?1 = 'running' THEN ?7 ELSE boot END"
                   " WHERE id = ?6",
                   e);
    if (st) {
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        if (message) sqlite3_bind_text(st, 2, message, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, bp_runlog_time());
        sqlite3_bind_text(st, 4, host, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (long)getpid());
        sqlite3_bind_int64(st, 6, sweep);
        if (got == 0) sqlite3_bind_text(st, 7, log->boot, -1, SQLITE_STATIC);
        if (rl_run_stmt(log, st, "cannot update the sweep", e)) {
            rl_rollback(log);
        } else if (sqlite3_changes(log->db) == 0) {
            rl_rollback(log);
            bp_err_set(e, "%s: no sweep %lld", log->path, (long long)sweep);
        } else {
            rc = rl_commit(log, e);
        }
    } else {
        rl_rollback(log);
    }
    /* Ended (or not taken after all): the sweep is no longer this process's. */
    if (!take || (rc && got == 0)) rl_lock_drop(log, RL_LOCK_SWEEP(sweep));
end:
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}
