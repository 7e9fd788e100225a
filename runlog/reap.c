/* reap.c: runs and sweeps whose process is gone (bp_runlog_reap).
 *
 * A run killed with SIGKILL, or whose machine lost power, stays 'running' in
 * the database. Every writable open looks at the runs and sweeps left
 * running and asks whether the process that holds each is still there
 * (liveness.c: its lock, or for rows without one its pid on this host);
 * those whose process is certainly gone are marked 'crashed' (a run) or
 * 'interrupted' (a sweep), and no other. */
#define _XOPEN_SOURCE 700
#include <pthread.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "runlog_int.h"

/* The runs and sweeps left 'running' whose process is gone, into *dead
 * (malloc'd, the caller frees; pairs: 0 for a run or 1 for a sweep, then
 * its id) and *n. Only rows of this host or this kernel can be judged. A
 * row is judged by when its current process took it (a resume). Call with
 * db_lock held. */
static int find_dead(bp_runlog *log, const char *host, int64_t **dead, int *n,
                     bp_err *e) {
    int rc = -1, cap = 0, r;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT 0, id, pid, coalesce(claimed, started), host, boot FROM runs"
                   " WHERE status = 'running' AND (host = ?1 OR boot = ?2)"
                   " UNION ALL SELECT 1, id, pid, coalesce(claimed, started), host, boot"
                   " FROM sweeps WHERE status = 'running' AND (host = ?1 OR boot = ?2)",
                   e);
    if (!st) return -1;
    if (host) sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
    if (log->boot[0]) sqlite3_bind_text(st, 2, log->boot, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t kind = sqlite3_column_int64(st, 0), id = sqlite3_column_int64(st, 1);
        rl_owner o = {(const char *)sqlite3_column_text(st, 4),
                      (const char *)sqlite3_column_text(st, 5),
                      (long)sqlite3_column_int64(st, 2), sqlite3_column_double(st, 3)};
        if (!rl_owner_gone(log, kind ? RL_LOCK_SWEEP(id) : RL_LOCK_RUN(id), &o)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *v = realloc(*dead, 2 * (size_t)cap * sizeof *v);
            if (!v) {
                bp_err_set(e, "out of memory");
                goto end;
            }
            *dead = v;
        }
        (*dead)[2 * *n] = kind;
        (*dead)[2 * *n + 1] = id;
        (*n)++;
    }
    if (r != SQLITE_DONE) {
        rl_fail(log, e, "cannot look for crashed runs");
        goto end;
    }
    rc = 0;
end:
    sqlite3_finalize(st);
    return rc;
}

/* Looks again inside a write transaction, and marks what find_dead finds
 * there: a resume takes a row (its lock, then 'running') in a transaction
 * of its own, so a row judged before this one began may have been taken
 * since. Returns how many it marked, or -1. */
static int mark_dead(bp_runlog *log, const char *host, bp_err *e) {
    if (rl_begin_write(log, e)) return -1;
    int64_t *dead = NULL;
    int n = 0;
    if (find_dead(log, host, &dead, &n, e)) {
        rl_rollback(log);
        return -1;
    }
    sqlite3_stmt *upd[2] = {
        rl_prepare(log,
                   "UPDATE runs SET status = 'crashed', message = coalesce(message,"
                   " 'the process ended without recording an end')"
                   " WHERE id = ? AND status = 'running'",
                   e),
        rl_prepare(log,
                   "UPDATE sweeps SET status = 'interrupted', ended = coalesce(ended, ?2)"
                   " WHERE id = ?1 AND status = 'running'",
                   e)};
    int marked = 0;
    for (int k = 0; upd[0] && upd[1] && k < n; k++) {
        sqlite3_stmt *u = upd[dead[2 * k]];
        sqlite3_bind_int64(u, 1, dead[2 * k + 1]);
        if (dead[2 * k]) sqlite3_bind_double(u, 2, bp_runlog_time());
        if (sqlite3_step(u) != SQLITE_DONE) {
            rl_fail(log, e,
                    dead[2 * k] ? "cannot mark an interrupted sweep"
                                : "cannot mark a crashed run");
            marked = -1;
            break;
        }
        marked += sqlite3_changes(log->db);
        sqlite3_reset(u);
    }
    if (!upd[0] || !upd[1] || marked < 0) {
        marked = -1;
        rl_rollback(log);
    } else if (rl_commit(log, e)) {
        marked = -1;
    }
    sqlite3_finalize(upd[0]);
    sqlite3_finalize(upd[1]);
    free(dead);
    return marked;
}

int bp_runlog_reap(bp_runlog *log, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    char name[256];
    /* An unknown host name matches no row: only the locks judge. */
    const char *host = rl_hostname(name, sizeof name) ? NULL : name;
    pthread_mutex_lock(&log->db_lock);
    int64_t *dead = NULL;
    int n = 0;
    int marked = find_dead(log, host, &dead, &n, e);
    if (marked == 0 && n > 0) marked = mark_dead(log, host, e);
    pthread_mutex_unlock(&log->db_lock);
    free(dead);
    return marked;
}
