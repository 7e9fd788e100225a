/* writer.c: metrics, from the logging call to the database.
 *
 * Metrics can come at every training step, so bp_runlog_metric appends to a
 * buffer in memory and a writer thread commits the buffer in short
 * transactions (prepared INSERTs of many rows each). Three promises shape it:
 *
 * - A process killed with SIGKILL loses at most its last second of metrics,
 *   whatever its logging rate. A row waits at most FLUSH_AGE before its
 *   commit starts, and a commit is given about CHUNK_SECONDS of work: the
 *   writer measures the rows per second its commits manage, and once the
 *   rows waiting are what it can commit in CHUNK_SECONDS, bp_runlog_metric
 *   waits for it (backpressure) rather than pile up more. Rows are committed
 *   in the order they came, chunk after chunk, so the newest committed row is
 *   never much more than three chunks' time older than now, or FLUSH_AGE
 *   and a chunk when rows come slowly (tests/attack/attack_run.lua measures
 *   it; scripts/bench/NOTES.md has the figures).
 * - Several processes share one WAL database: short transactions keep each
 *   one's wait for the others short.
 * - Nothing is lost silently. When the database cannot be written (a full
 *   disk, a lock held too long), the rows are kept and retried, up to
 *   MAX_KEEP; those that cannot be written in the end are counted, per run,
 *   so that the run cannot end "completed" without them (bp_runlog_end).
 *
 * A metric's name is a number in the rows (names.c), and each commit keeps
 * the run's metric summaries with the rows (summary.c) and, for each series
 * it has rows of, its greatest step and when the writer took them
 * (step_times, schema 12): a row per series per commit is what a wall-time
 * axis needs and costs no clock call per metric. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "bp_util.h"
#include "runlog_int.h"

/* A row waits at most this long (seconds) before its commit starts. */
#define FLUSH_AGE 0.25
/* The work a commit is given, in seconds of the measured rate, as rows
 * between CHUNK_MIN and CHUNK_MAX; CHUNK_START until it is measured. */
#define CHUNK_SECONDS 0.05
#define CHUNK_MIN 1024
#define CHUNK_MAX (1 << 20)
#define CHUNK_START 16384
/* Rows kept in memory while the database cannot be written; more are not
 * recorded. 4 Mi rows of 32 bytes: 128 MB. */
#define MAX_KEEP (1 << 22)
/* Rows a metric INSERT statement carries. */
#define INSERT_ROWS 32
/* A WAL file larger than this after a commit is truncated when no reader
 * holds an old snapshot; tried at most every WAL_TRY_EVERY seconds. */
#define WAL_TRUNCATE_BYTES (16 << 20)
#define WAL_TRY_EVERY 1.0

/* ------------------------------------------------------------------------ */
/* Rows not recorded (buf_lock held)                                         */

static void lost_add(bp_runlog *log, int64_t run, size_t n, const char *why) {
    for (size_t k = 0; k < log->lost_n; k++) {
        if (log->lost[k].run == run) {
            log->lost[k].n += n;
            return;
        }
    }
    if (log->lost_n == log->lost_cap) {
        size_t cap = log->lost_cap ? 2 * log->lost_cap : 4;
        rl_lost *v = realloc(log->lost, cap * sizeof *v);
        if (!v) return; /* out of memory: the count is all that is lost */
        log->lost = v, log->lost_cap = cap;
    }
    rl_lost *l = &log->lost[log->lost_n++];
    l->run = run, l->n = n;
    snprintf(l->why, sizeof l->why, "%s", why);
}

/* Drops the rows of w that are of run (all of them if all), counting them. */
static void drop_rows(bp_runlog *log, rl_rows *w, int all, int64_t run, const char *why) {
    size_t kept = 0;
    for (size_t k = 0; k < w->n;) {
        size_t j = k;
        while (j < w->n && w->v[j].run == w->v[k].run) j++;
        if (all || w->v[k].run == run) lost_add(log, w->v[k].run, j - k, why);
        else
            while (k < j) w->v[kept++] = w->v[k++];
        k = j;
    }
    w->n = kept;
}

void rl_drop_run(bp_runlog *log, int64_t run, const char *why) {
    pthread_mutex_lock(&log->buf_lock);
    drop_rows(log, &log->writing, 0, run, why);
    drop_rows(log, &log->pending, 0, run, why);
    pthread_mutex_unlock(&log->buf_lock);
}

/* The rows of run not recorded so far. buf_lock held. */
static size_t lost_count(const bp_runlog *log, int64_t run) {
    for (size_t k = 0; k < log->lost_n; k++)
        if (log->lost[k].run == run) return log->lost[k].n;
    return 0;
}

size_t rl_lost_of(bp_runlog *log, int64_t run, char *why, size_t cap) {
    size_t n = 0;
    pthread_mutex_lock(&log->buf_lock);
    for (size_t k = 0; k < log->lost_n && !n; k++) {
        if (log->lost[k].run != run) continue;
        n = log->lost[k].n;
        snprintf(why, cap, "%s", log->lost[k].why);
    }
    pthread_mutex_unlock(&log->buf_lock);
    return n;
}

/* The file is gone: every row buffered (and `extra`, if given) is dropped,
 * and the error says how many were not recorded in all. buf_lock held. */
static int gone_error(bp_runlog *log, const rl_row *extra, bp_err *e) {
    char why[BP_ERR_MAX];
    snprintf(why, sizeof why,
             "%s: the database file was deleted or replaced while the run was writing",
             log->path);
    drop_rows(log, &log->writing, 1, 0, why);
    drop_rows(log, &log->pending, 1, 0, why);
    log->side_pending.n = 0; /* side_writing is the writer's: rl_flush_locked */
    if (extra) lost_add(log, extra->run, 1, why);
    size_t n = 0;
    for (size_t k = 0; k < log->lost_n; k++) n += log->lost[k].n;
    return bp_err_set(e, "%s; %zu metric rows not recorded", why, n);
}

/* ------------------------------------------------------------------------ */
/* Committing (db_lock held)                                                 */

/* The metric insert for m rows at once: one statement for many rows costs
 * SQLite one parse and one VM start for all of them (scripts/bench/NOTES.md,
 * "The metric inserts"). */
static int prepare_insert(bp_runlog *log, sqlite3_stmt **st, int m, bp_err *e) {
    char sql[128 + INSERT_ROWS * 16];
    int n = snprintf(sql, sizeof sql,
                     "INSERT OR REPLACE INTO metrics(run_id, name_id,"
                     " step, value) VALUES (?, ?, ?, ?)");
    for (int j = 1; j < m; j++) n += snprintf(sql + n, sizeof sql - n, ", (?, ?, ?, ?)");
    if (sqlite3_prepare_v3(log->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
        SQLITE_OK)
        return rl_fail(log, e, "cannot prepare the metric insert");
    return 0;
}

/* Each series' greatest step in the rows (sorted by run, name and step:
 * the last row of each series), at the time the rows were taken. */
static int insert_step_times(bp_runlog *log, const rl_rows *w, const int64_t *ids,
                             bp_err *e) {
    if (!log->ins_time &&
        sqlite3_prepare_v3(log->db,
                           "INSERT OR REPLACE INTO step_times(run_id, name_id, step, time)"
                           " VALUES (?, ?, ?, ?)",
                           -1, SQLITE_PREPARE_PERSISTENT, &log->ins_time, NULL) != SQLITE_OK)
        return rl_fail(log, e, "cannot prepare the step times' insert");
    sqlite3_stmt *st = log->ins_time;
    for (size_t k = 0; k < w->n; k++) {
        const rl_row *r = &w->v[k], *next = k + 1 < w->n ? r + 1 : NULL;
        if (next && next->run == r->run && next->name == r->name) continue;
        sqlite3_bind_int64(st, 1, r->run);
        sqlite3_bind_int64(st, 2, ids[r->name]);
        sqlite3_bind_int64(st, 3, r->step);
        sqlite3_bind_double(st, 4, log->taken_at);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return rl_fail(log, e, "cannot write the step times");
    }
    return 0;
}

static int row_before(const rl_row *a, const rl_row *b) {
    if (a->run != b->run) return a->run < b->run;
    if (a->name != b->name) return a->name < b->name;
    return a->step < b->step;
}

/* Sorts rows by (run, name, step), keeping the order of equal keys (the last
 * value logged wins): inserting in key order appends to the B-tree instead
 * of writing in several places at once, which doubles the rate when a step
 * logs several metrics. Rows that are in order already cost one pass. */
static void sort_rows(rl_row *v, size_t n) {
    size_t k = 1;
    while (k < n && !row_before(&v[k], &v[k - 1])) k++;
    if (k >= n) return;
    rl_row *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return; /* unsorted rl_rows are only slower to insert */
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = row_before(&v[b], &v[a]) ? v[b++] : v[a++];
            while (a < mid) tmp[o++] = v[a++];
            while (b < hi) tmp[o++] = v[b++];
        }
        memcpy(v, tmp, n * sizeof *v);
    }
    free(tmp);
}

/* Inserts the rows, and the names they bring, in one transaction:
 * SQLITE_OK, or the failing result code with a message in e and nothing
 * written. */
static int insert_rows(bp_runlog *log, rl_rows *w, bp_err *e) {
    if (rl_begin_write(log, e)) return SQLITE_BUSY;
    if (rl_names_resolve(log, e)) {
        int rc = sqlite3_extended_errcode(log->db);
        rl_rollback(log);
        return rc == SQLITE_OK ? SQLITE_ERROR : rc;
    }
    const int64_t *ids = log->names.ids;
    if (rl_sides_insert(log, ids, e)) {
        int rc = sqlite3_extended_errcode(log->db);
        rl_rollback(log);
        return rc == SQLITE_OK ? SQLITE_ERROR : rc;
    }
    for (size_t k = 0; k < w->n;) {
        int m = w->n - k >= INSERT_ROWS ? INSERT_ROWS : 1;
        sqlite3_stmt *st = m == 1 ? log->ins_one : log->ins_many;
        for (int j = 0; j < m; j++, k++) {
            const rl_row *r = &w->v[k];
            sqlite3_bind_int64(st, 4 * j + 1, r->run);
            sqlite3_bind_int64(st, 4 * j + 2, ids[r->name]);
            sqlite3_bind_int64(st, 4 * j + 3, r->step);
            if (isnan(r->value)) sqlite3_bind_null(st, 4 * j + 4);
            else sqlite3_bind_double(st, 4 * j + 4, r->value);
        }
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            rl_fail(log, e, "cannot write metrics");
            rl_rollback(log);
            return rc;
        }
    }
    if (rl_summaries_update(log, w->v, w->n, ids, e) || insert_step_times(log, w, ids, e)) {
        int rc = sqlite3_extended_errcode(log->db);
        rl_rollback(log);
        return rc == SQLITE_OK ? SQLITE_ERROR : rc;
    }
    return rl_commit(log, e) ? SQLITE_BUSY : SQLITE_OK;
}

/* Removes the rows whose run is not in the database; returns how many.
 * The rows are sorted by run, so each run is looked up once. */
static size_t drop_orphans(bp_runlog *log, rl_rows *w) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(log->db, "SELECT 1 FROM runs WHERE id = ?", -1, &st, NULL))
        return 0;
    size_t kept = 0;
    int64_t run = 0;
    int known = 0;
    for (size_t k = 0; k < w->n; k++) {
        if (k == 0 || w->v[k].run != run) {
            run = w->v[k].run;
            sqlite3_bind_int64(st, 1, run);
            known = sqlite3_step(st) == SQLITE_ROW;
            sqlite3_reset(st);
        }
        if (known) w->v[kept++] = w->v[k];
    }
    sqlite3_finalize(st);
    size_t dropped = w->n - kept;
    pthread_mutex_lock(&log->buf_lock);
    w->n = kept;
    pthread_mutex_unlock(&log->buf_lock);
    return dropped;
}

/* Moves the pending rows behind those left in `writing` and copies the new
 * names for the writer. buf_lock held. */
static int take_pending(bp_runlog *log, bp_err *e) {
    rl_rows *w = &log->writing, *p = &log->pending;
    if (w->n == 0) {
        rl_rows t = *w;
        *w = *p;
        *p = t;
    } else if (p->n) {
        if (w->n + p->n > w->cap) {
            size_t cap = w->n + p->n;
            rl_row *v = realloc(w->v, cap * sizeof *v);
            if (!v) return bp_err_set(e, "%s: out of memory", log->path);
            w->v = v, w->cap = cap;
        }
        memcpy(w->v + w->n, p->v, p->n * sizeof *p->v);
        w->n += p->n;
        p->n = 0;
    }
    return rl_sides_take(log, e) ? -1 : rl_names_copy(log, e);
}

/* A commit of n rows took dt seconds: the rate, and from it the rows a
 * commit is given. buf_lock held. */
static void measure(bp_runlog *log, size_t n, double dt) {
    if (n < CHUNK_MIN || dt <= 0) return;
    double r = (double)n / dt;
    log->rate = log->rate > 0 ? 0.5 * (log->rate + r) : r;
    double lim = log->rate * CHUNK_SECONDS;
    log->limit = lim < CHUNK_MIN ? CHUNK_MIN : lim > CHUNK_MAX ? CHUNK_MAX : (size_t)lim;
}

/* A reader holding an old snapshot (a long `backprop query`) keeps every
 * checkpoint from reaching the end of the WAL, which then grows without
 * bound, and SQLite reuses a WAL file rather than shrink it. Once the WAL is
 * large, try a TRUNCATE checkpoint now and then, without waiting: it fails
 * at once while the reader is there and empties the file once it is gone. */
static void truncate_wal(bp_runlog *log) {
    double now = bp_clock();
    if (now - log->wal_tried < WAL_TRY_EVERY) return;
    size_t n = strlen(log->path);
    char *wal = malloc(n + 5);
    if (!wal) return;
    memcpy(wal, log->path, n);
    memcpy(wal + n, "-wal", 5);
    struct stat sb;
    int big = stat(wal, &sb) == 0 && sb.st_size > WAL_TRUNCATE_BYTES;
    free(wal);
    if (!big) return;
    log->wal_tried = now;
    sqlite3_busy_timeout(log->db, 0);
    sqlite3_wal_checkpoint_v2(log->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_busy_timeout(log->db, rl_busy_ms());
}

/* A commit failed: the rows stay in `writing` for the next try (all of them
 * dropped if the file is gone), and logging calls stop waiting. */
static int flush_failed(bp_runlog *log, const bp_err *why, bp_err *e) {
    pthread_mutex_lock(&log->buf_lock);
    log->failing = 1;
    snprintf(log->fail_msg, sizeof log->fail_msg, "%s", why->msg);
    int rc = log->gone ? gone_error(log, NULL, e) : bp_err_set(e, "%s", why->msg);
    pthread_cond_broadcast(&log->drained);
    pthread_mutex_unlock(&log->buf_lock);
    return rc;
}

/* Writes the buffered rows in one transaction. Call with db_lock held. */
int rl_flush_locked(bp_runlog *log, bp_err *e) {
    bp_err why;
    pthread_mutex_lock(&log->buf_lock);
    int rc = log->gone ? gone_error(log, NULL, e) : take_pending(log, &why);
    double t0 = log->last_flush = bp_clock();
    log->taken_at = bp_runlog_time();
    pthread_cond_broadcast(&log->drained);
    pthread_mutex_unlock(&log->buf_lock);
    if (log->gone) {
        log->side_writing.n = 0;
        return rc;
    }
    if (rc) return flush_failed(log, &why, e);
    rl_rows *w = &log->writing;
    if (w->n == 0 && log->side_writing.n == 0) return 0;
    if (!log->ins_one && (prepare_insert(log, &log->ins_one, 1, &why) ||
                          prepare_insert(log, &log->ins_many, INSERT_ROWS, &why)))
        return flush_failed(log, &why, e);
    sort_rows(w->v, w->n);
    rc = insert_rows(log, w, &why);
    size_t dropped = 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        /* Rows of a run that does not exist would fail every retry and hold
         * back the rows after them: drop those, write the others. */
        if ((dropped = drop_orphans(log, w)) > 0) rc = insert_rows(log, w, &why);
    }
    if (rc != SQLITE_OK) return flush_failed(log, &why, e);
    log->names.known = log->names.copied;
    log->side_writing.n = 0;
    pthread_mutex_lock(&log->buf_lock); /* the writer thread reads n */
    measure(log, w->n, bp_clock() - t0);
    w->n = 0;
    log->failing = 0;
    if (log->bg_retried) { /* its rows are written now: nothing was lost */
        log->bg_err[0] = '\0';
        log->bg_retried = 0;
    }
    pthread_mutex_unlock(&log->buf_lock);
    truncate_wal(log);
    if (dropped)
        return bp_err_set(e,
                          "%s: cannot write metrics of a run that does not exist;"
                          " %zu rows dropped",
                          log->path, dropped);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The writer thread                                                         */

/* Seconds until a commit is due (0 or less: now). buf_lock held. */
static double until_due(const bp_runlog *log) {
    if (log->pending.n + log->writing.n + log->side_pending.n + log->side_writing.n == 0)
        return 1.0; /* a first row wakes it */
    double now = bp_clock();
    if (log->failing) return log->last_flush + FLUSH_AGE - now;
    if (log->pending.n >= log->limit || log->pending.n == 0) return 0;
    return log->pending_since + FLUSH_AGE - now;
}

static void *writer_main(void *arg) {
    bp_runlog *log = arg;
    pthread_mutex_lock(&log->buf_lock);
    while (!log->stop) {
        double wait = until_due(log);
        if (wait > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            long ns = ts.tv_nsec + (long)((wait - (double)(time_t)wait) * 1e9);
            ts.tv_sec += (time_t)wait + ns / 1000000000L;
            ts.tv_nsec = ns % 1000000000L;
            pthread_cond_timedwait(&log->wake, &log->buf_lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&log->buf_lock);
        bp_err err;
        pthread_mutex_lock(&log->db_lock);
        int rc = rl_flush_locked(log, &err);
        /* The error is noted before db_lock is let go, so that a commit by
         * another thread that then writes the same rows sees it and can
         * clear it (rl_flush_locked). */
        pthread_mutex_lock(&log->buf_lock);
        pthread_mutex_unlock(&log->db_lock);
        if (rc && !log->bg_err[0]) {
            snprintf(log->bg_err, sizeof log->bg_err, "%s", err.msg);
            log->bg_retried = log->failing && !log->gone;
        }
        pthread_cond_broadcast(&log->drained);
    }
    pthread_mutex_unlock(&log->buf_lock);
    return NULL;
}

/* The writer blocks every signal: a SIGINT must reach the thread running
 * the script, whose handler only sets a flag. */
static int start_writer(bp_runlog *log, bp_err *e) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    log->last_flush = bp_clock();
    log->limit = CHUNK_START;
    int rc = pthread_create(&log->writer, NULL, writer_main, log);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return bp_err_set(e, "%s: cannot start the writer thread (%s)", log->path,
                          strerror(rc));
    log->writer_running = 1;
    return 0;
}

/* Takes the writer's error, if any, into e. */
int rl_take_bg_error(bp_runlog *log, bp_err *e) {
    pthread_mutex_lock(&log->buf_lock);
    int failed = log->bg_err[0] != '\0';
    if (failed) {
        bp_err_set(e, "%s", log->bg_err);
        log->bg_err[0] = '\0';
        log->bg_retried = 0;
    }
    pthread_mutex_unlock(&log->buf_lock);
    return failed ? -1 : 0;
}

int bp_runlog_flush(bp_runlog *log, bp_err *e) {
    if (log->readonly) return 0;
    if (rl_take_bg_error(log, e)) return -1;
    pthread_mutex_lock(&log->db_lock);
    int rc = rl_flush_locked(log, e);
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */

/* Appends a row to `pending`, or counts it as not recorded when the file is
 * gone or the database has failed for MAX_KEEP rows. buf_lock held. */
static int append(bp_runlog *log, rl_row row, bp_err *e) {
    if (log->gone) return gone_error(log, &row, e);
    rl_rows *p = &log->pending;
    if (log->failing && p->n + log->writing.n >= MAX_KEEP) {
        lost_add(log, row.run, 1, log->fail_msg);
        return bp_err_set(e, "%s; %zu metric rows not recorded", log->fail_msg,
                          lost_count(log, row.run));
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 4096;
        rl_row *v = realloc(p->v, cap * sizeof *v);
        if (!v) return bp_err_set(e, "%s: out of memory for metrics", log->path);
        p->v = v, p->cap = cap;
    }
    p->v[p->n++] = row;
    if (p->n == 1) {
        log->pending_since = bp_clock();
        pthread_cond_signal(&log->wake);
    }
    return 0;
}

int bp_runlog_metric(bp_runlog *log, int64_t run, const char *name, int64_t step,
                     double value, bp_err *e) {
    return bp_runlog_metric_unit(log, run, name, BP_UNIT_STEP, step, value, e);
}

int bp_runlog_epoch_end(bp_runlog *log, int64_t run, int64_t epoch, int64_t step,
                        bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (!log->writer_running && start_writer(log, e)) return -1;
    if (rl_take_bg_error(log, e)) return -1;
    return rl_side_add(log, (rl_side){run, epoch, step, RL_SIDE_EPOCH}, e);
}

int bp_runlog_metric_unit(bp_runlog *log, int64_t run, const char *name,
                          bp_metric_unit unit, int64_t step, double value, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (!name || !*name) return bp_err_set(e, "a metric needs a name");
    if (!log->writer_running && start_writer(log, e)) return -1;
    int64_t idx;
    if (rl_name_index(log, name, &idx, e)) return -1;
    int rc = rl_unit_check(log, run, idx, name, unit == BP_UNIT_EPOCH, e);
    if (rc) return rc;
    pthread_mutex_lock(&log->buf_lock);
    rc = append(log, (rl_row){run, idx, step, value}, e);
    /* Backpressure: the writer is a chunk behind; wait until it takes the
     * rows, unless it is failing (then rows are kept, up to MAX_KEEP). */
    if (rc == 0 && log->pending.n >= log->limit && !log->failing) {
        pthread_cond_signal(&log->wake);
        while (log->pending.n >= log->limit && !log->failing && !log->bg_err[0])
            pthread_cond_wait(&log->drained, &log->buf_lock);
    }
    /* The writer's failure is reported once, unless this call's says more. */
    if (rc == 0 && log->bg_err[0]) rc = bp_err_set(e, "%s", log->bg_err);
    log->bg_err[0] = '\0';
    log->bg_retried = 0;
    pthread_mutex_unlock(&log->buf_lock);
    return rc;
}
