/* writer.c: metrics, from the logging call to the database.
 *
 * Metrics can come at every training step, so bp_runlog_metric appends to a
 * buffer in memory and a writer thread commits the buffer in one short
 * transaction (prepared INSERTs of many rows each) every half second or so. Short
 * transactions matter as much as batching: four processes share one WAL
 * database, and a transaction held open for a second would make the others
 * wait for it all that time. A metric's name is a number in the rows
 * (names.c). */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "bp_util.h"
#include "runlog_int.h"

/* The writer commits when the buffer is this old (seconds) or this full. */
#define FLUSH_AGE 0.5
#define FLUSH_ROWS 65536
/* Past this many buffered rows the logging call commits them itself, so a
 * database slower than the training cannot fill the memory. */
#define MAX_ROWS (1 << 22)
/* Rows a metric INSERT statement carries. */
#define INSERT_ROWS 32

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

/* Writes the buffered rows in one transaction. On failure the rows stay in
 * `writing` and go first next time. Call with db_lock held. */
int rl_flush_locked(bp_runlog *log, bp_err *e) {
    pthread_mutex_lock(&log->buf_lock);
    if (log->writing.n == 0) {
        rl_rows t = log->writing;
        log->writing = log->pending;
        log->pending = t;
    } else if (log->pending.n) {
        rl_rows *w = &log->writing, *p = &log->pending;
        if (w->n + p->n > w->cap) {
            size_t cap = w->n + p->n;
            rl_row *v = realloc(w->v, cap * sizeof *v);
            if (!v) {
                pthread_mutex_unlock(&log->buf_lock);
                return bp_err_set(e, "%s: out of memory", log->path);
            }
            w->v = v, w->cap = cap;
        }
        memcpy(w->v + w->n, p->v, p->n * sizeof *p->v);
        w->n += p->n;
        p->n = 0;
    }
    log->last_flush = bp_clock();
    int copied = rl_names_copy(log, e);
    pthread_mutex_unlock(&log->buf_lock);
    if (copied) return -1;
    rl_rows *w = &log->writing;
    if (w->n == 0) return 0;
    if (!log->ins_one && (prepare_insert(log, &log->ins_one, 1, e) ||
                          prepare_insert(log, &log->ins_many, INSERT_ROWS, e)))
        return -1;
    sort_rows(w->v, w->n);
    int rc = insert_rows(log, w, e);
    size_t dropped = 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        /* Rows of a run that does not exist would fail every retry and hold
         * back the rows after them: drop those, write the others. */
        if ((dropped = drop_orphans(log, w)) > 0) rc = insert_rows(log, w, e);
    }
    if (rc != SQLITE_OK) return -1;
    log->names.known = log->names.copied;
    pthread_mutex_lock(&log->buf_lock); /* the writer thread reads n */
    w->n = 0;
    pthread_mutex_unlock(&log->buf_lock);
    if (dropped)
        return bp_err_set(e,
                          "%s: cannot write metrics of a run that does not exist;"
                          " %zu rows dropped",
                          log->path, dropped);
    return 0;
}

static void *writer_main(void *arg) {
    bp_runlog *log = arg;
    pthread_mutex_lock(&log->buf_lock);
    while (!log->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&log->wake, &log->buf_lock, &ts);
        if (log->stop) break;
        size_t n = log->pending.n + log->writing.n;
        if (n == 0 || (n < FLUSH_ROWS && bp_clock() - log->last_flush < FLUSH_AGE))
            continue;
        pthread_mutex_unlock(&log->buf_lock);
        bp_err err;
        pthread_mutex_lock(&log->db_lock);
        int rc = rl_flush_locked(log, &err);
        pthread_mutex_unlock(&log->db_lock);
        pthread_mutex_lock(&log->buf_lock);
        if (rc && !log->bg_err[0])
            snprintf(log->bg_err, sizeof log->bg_err, "%s", err.msg);
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

int bp_runlog_metric(bp_runlog *log, int64_t run, const char *name, int64_t step,
                     double value, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (!name || !*name) return bp_err_set(e, "a metric needs a name");
    int64_t id;
    if (rl_name_index(log, name, &id, e)) return -1;
    if (!log->writer_running && start_writer(log, e)) return -1;
    pthread_mutex_lock(&log->buf_lock);
    if (log->bg_err[0]) {
        bp_err_set(e, "%s", log->bg_err);
        log->bg_err[0] = '\0';
        pthread_mutex_unlock(&log->buf_lock);
        return -1;
    }
    rl_rows *p = &log->pending;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 4096;
        rl_row *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&log->buf_lock);
            return bp_err_set(e, "%s: out of memory for metrics", log->path);
        }
        p->v = v, p->cap = cap;
    }
    p->v[p->n++] = (rl_row){run, id, step, value};
    size_t n = p->n;
    if (n == FLUSH_ROWS) pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->buf_lock);
    if (n >= MAX_ROWS) return bp_runlog_flush(log, e);
    return 0;
}
