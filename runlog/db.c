/* db.c: the connection's helpers, which every file of runlog/ shares
 * (runlog_int.h).
 *
 * Four processes may share one database, so every write waits for another
 * process's lock before it gives up, and when it does give up it says so in
 * one sentence naming the file, the wait and BACKPROP_BUSY_TIMEOUT. These
 * helpers are where that is done, once: failures turned into sentences,
 * transactions begun and committed with the waiting, statements prepared and
 * stepped. */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "bp_util.h"
#include "runlog_int.h"

/* How long one attempt waits for another process's write lock, and how many
 * attempts a write makes. */
#define BUSY_TIMEOUT_MS 10000
#define BUSY_TRIES 6

/* One attempt's wait: BUSY_TIMEOUT_MS, or $BACKPROP_BUSY_TIMEOUT seconds
 * (the whole patience, all attempts together) when it is set. */
double rl_busy_seconds(void) {
    const char *env = getenv("BACKPROP_BUSY_TIMEOUT");
    char *end;
    double s = env && *env ? strtod(env, &end) : -1;
    if (s < 0 || (env && *env && *end) || s > 86400)
        return BUSY_TIMEOUT_MS * BUSY_TRIES / 1000.0;
    return s;
}

int rl_busy_ms(void) { return (int)(rl_busy_seconds() * 1000 / BUSY_TRIES); }

const char *bp_runlog_path(const bp_runlog *log) { return log->path; }
sqlite3 *bp_runlog_sqlite(bp_runlog *log) { return log->db; }

void bp_runlog_lock(bp_runlog *log) { pthread_mutex_lock(&log->db_lock); }
void bp_runlog_unlock(bp_runlog *log) { pthread_mutex_unlock(&log->db_lock); }

/* Wall-clock time to the millisecond, as stored. */
double bp_runlog_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

int rl_fail(bp_runlog *log, bp_err *e, const char *what) {
    if ((sqlite3_extended_errcode(log->db) & 0xff) == SQLITE_BUSY)
        return bp_err_set(e,
                          "%s: %s (%s: another process held it for more than %g s; "
                          "BACKPROP_BUSY_TIMEOUT sets how long to wait)",
                          log->path, what, sqlite3_errmsg(log->db), rl_busy_seconds());
    return bp_err_set(e, "%s: %s (%s)", log->path, what, sqlite3_errmsg(log->db));
}

int rl_exec(bp_runlog *log, const char *sql, const char *what, bp_err *e) {
    if (sqlite3_exec(log->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return rl_fail(log, e, what);
    return 0;
}

/* Whether a call that returned rc (at attempt t, the first at `start`)
 * should be tried again. SQLite's busy handler waits inside most calls, but
 * some return SQLITE_BUSY at once (a change of journal mode, a lock it must
 * not wait for lest two connections deadlock), so a retry also naps here,
 * 5 ms doubling to 0.64 s, until rl_busy_seconds() have passed since the first
 * attempt: a busy database costs time, and fails only after all of it. */
int rl_retry_busy(int rc, int t, double start) {
    if ((rc & 0xff) != SQLITE_BUSY) return 0;
    double left = rl_busy_seconds() - (bp_clock() - start);
    if (left <= 0) return 0;
    double nap = 0.005 * (double)(1 << (t < 7 ? t : 7));
    if (nap > left) nap = left;
    struct timespec ts = {(time_t)nap, (long)((nap - (double)(time_t)nap) * 1e9)};
    nanosleep(&ts, NULL);
    return 1;
}

/* BEGIN IMMEDIATE takes the write lock at once (no deadlock between two
 * readers upgrading); busy_timeout waits for it, and retry_busy beyond. */
int rl_begin_write(bp_runlog *log, bp_err *e) {
    double start = bp_clock();
    for (int t = 0;; t++) {
        int rc = sqlite3_exec(log->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) return 0;
        if (!rl_retry_busy(rc, t, start)) return rl_fail(log, e, "cannot start a write");
    }
}

void rl_identity_note(bp_runlog *log) {
    struct stat sb;
    log->have_identity = stat(log->path, &sb) == 0;
    log->dev = sb.st_dev, log->ino = sb.st_ino;
}

/* A connection keeps writing to the file it opened even after that file is
 * deleted or another is moved over its path: the commits would succeed into
 * a file nobody can read. So each commit first checks that the path still
 * names the same file (a stat, about a microsecond). */
static int same_file(bp_runlog *log, bp_err *e) {
    struct stat sb;
    int gone = log->have_identity && (stat(log->path, &sb) != 0 ||
                                      sb.st_dev != log->dev || sb.st_ino != log->ino);
    if (!gone) return 0;
    pthread_mutex_lock(&log->buf_lock);
    log->gone = 1;
    pthread_mutex_unlock(&log->buf_lock);
    return bp_err_set(e,
                      "%s: the database file was deleted or replaced while the run was"
                      " writing",
                      log->path);
}

int rl_commit(bp_runlog *log, bp_err *e) {
    if (same_file(log, e)) {
        rl_rollback(log);
        return -1;
    }
    double start = bp_clock();
    for (int t = 0;; t++) {
        int rc = sqlite3_exec(log->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK) return 0;
        if (!rl_retry_busy(rc, t, start)) {
            rl_fail(log, e, "cannot commit");
            sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
}

void rl_rollback(bp_runlog *log) {
    if (!sqlite3_get_autocommit(log->db))
        sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3_stmt *rl_prepare(bp_runlog *log, const char *sql, bp_err *e) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(log->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rl_fail(log, e, "cannot prepare a statement");
        return NULL;
    }
    return st;
}

int rl_prepare_once(bp_runlog *log, sqlite3_stmt **st, const char *sql, bp_err *e) {
    if (*st) return 0;
    if (sqlite3_prepare_v3(log->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
        SQLITE_OK)
        return rl_fail(log, e, "cannot prepare a statement");
    return 0;
}

/* Steps st to its end and finalizes it; -1 with `what` on failure. */
int rl_run_stmt(bp_runlog *log, sqlite3_stmt *st, const char *what, bp_err *e) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
    if (rc != SQLITE_DONE) {
        rl_fail(log, e, what);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}
