/* runlog.c: the run log (see bp_runlog.h), every run recorded in SQLite.
 *
 * Why it is built this way:
 *  - Metrics can come at every training step, so bp_runlog_metric appends to
 *    a buffer in memory and a writer thread commits the buffer in one short
 *    transaction (a prepared INSERT per row) every half second or so. Short
 *    transactions matter as much as batching: four processes share one WAL
 *    database, and a transaction held open for a second would make the others
 *    wait for it all that time.
 *  - SQLite turns a NaN into NULL. A metric's value is never NULL otherwise,
 *    so NULL is the stored form of NaN and the readers turn it back; +-Inf
 *    are ordinary REALs.
 *  - Weights are one BLOB per snapshot, raw little-endian: exact, and as big
 *    as the numbers themselves. bp_weights (sqlext.c) makes them rows again.
 *  - The schema, the views and the notes on every column are SQL, in
 *    runlog/schema/ (its README.md says how they are built and migrated).
 *  - A non-database file is opened without SQLITE_OPEN_CREATE and only read,
 *    so that a wrong --db never damages the file it names. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "bp_sqlext.h"
#include "bp_util.h"
#include "runlog_int.h"
#include "rl_schema.h"

#ifndef BP_VERSION
#define BP_VERSION "unknown"
#endif

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

static int busy_ms(void) { return (int)(rl_busy_seconds() * 1000 / BUSY_TRIES); }
/* The writer commits when the buffer is this old (seconds) or this full. */
#define FLUSH_AGE 0.5
#define FLUSH_ROWS 65536
/* Past this many buffered rows the logging call commits them itself, so a
 * database slower than the training cannot fill the memory. */
#define MAX_ROWS (1 << 22)
/* Rows a metric INSERT statement carries. */
#define INSERT_ROWS 32

/* The schema: the SQL files of runlog/schema/, embedded at build time. */
_Static_assert(RL_SCHEMA_STEPS == BP_RUNLOG_SCHEMA,
               "runlog/schema/ holds a step for each version, 1.sql to N.sql");

/* ------------------------------------------------------------------------ */
/* The log                                                                   */

const char *bp_runlog_default_path(const char *opt) {
    if (opt && *opt) return opt;
    const char *env = getenv("BACKPROP_DB");
    if (env && *env) return env;
    return "results/runs.db";
}

const char *bp_runlog_path(const bp_runlog *log) { return log->path; }
sqlite3 *bp_runlog_sqlite(bp_runlog *log) { return log->db; }

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
static int retry_busy(int rc, int t, double start) {
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
        if (!retry_busy(rc, t, start)) return rl_fail(log, e, "cannot start a write");
    }
}

int rl_commit(bp_runlog *log, bp_err *e) {
    double start = bp_clock();
    for (int t = 0;; t++) {
        int rc = sqlite3_exec(log->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK) return 0;
        if (!retry_busy(rc, t, start)) {
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

/* ------------------------------------------------------------------------ */
/* Opening                                                                   */

/* mkdir -p of the directory part of path. */
static int make_parent(const char *path, bp_err *e) {
    char *dir = strdup(path);
    if (!dir) return bp_err_set(e, "out of memory");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        free(dir);
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        struct stat sb;
        if (stat(dir, &sb) != 0 && mkdir(dir, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            bp_err_set(e, "%s: cannot create directory %s (%s)", path, dir,
                       strerror(err));
            free(dir);
            return -1;
        }
        *p = c;
        if (c == '\0') break;
    }
    free(dir);
    return 0;
}

/* Reads what tells a backprop database from any other file: a failed read
 * means the file is not a database at all. Only reads. */
static int read_header(bp_runlog *log, int64_t *app_id, int64_t *version, int64_t *tables,
                       bp_err *e) {
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT (SELECT application_id FROM pragma_application_id),"
                      " (SELECT user_version FROM pragma_user_version),"
                      " (SELECT count(*) FROM sqlite_master)";
    int rc = sqlite3_prepare_v2(log->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        bp_err_set(e, "%s: not a backprop database (%s)", log->path,
                   sqlite3_errmsg(log->db));
        sqlite3_finalize(st);
        return -1;
    }
    *app_id = sqlite3_column_int64(st, 0);
    *version = sqlite3_column_int64(st, 1);
    *tables = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    return 0;
}

/* Checks a database before anything is written to it. */
static int check_header(bp_runlog *log, bp_err *e) {
    int64_t app, version, tables;
    if (read_header(log, &app, &version, &tables, e)) return -1;
    if (app != BP_RUNLOG_APP_ID && (app != 0 || tables > 0))
        return bp_err_set(e, "%s: not a backprop database (it holds other tables)",
                          log->path);
    if (version > BP_RUNLOG_SCHEMA)
        return bp_err_set(e,
                          "%s: database schema version %lld is newer than this "
                          "backprop understands (%d); upgrade backprop",
                          log->path, (long long)version, BP_RUNLOG_SCHEMA);
    if (log->readonly && tables == 0)
        return bp_err_set(e, "%s: not a backprop database (it is empty)", log->path);
    if (log->readonly && version < BP_RUNLOG_SCHEMA)
        return bp_err_set(e,
                          "%s: database schema version %lld is older than this "
                          "backprop's (%d); open it for writing once (e.g. "
                          "`backprop runs`) to migrate it",
                          log->path, (long long)version, BP_RUNLOG_SCHEMA);
    return 0;
}

/* Brings the schema to BP_RUNLOG_SCHEMA in one transaction. The header is
 * read again inside it: another process may have just done the work. */
static int migrate_steps(bp_runlog *log, bp_err *e) {
    int64_t app, version, tables;
    if (rl_begin_write(log, e)) return -1;
    if (read_header(log, &app, &version, &tables, e)) goto fail;
    if (version > BP_RUNLOG_SCHEMA) {
        rl_rollback(log);
        return check_header(log, e);
    }
    if (version < BP_RUNLOG_SCHEMA) {
        for (int64_t v = version; v < BP_RUNLOG_SCHEMA; v++)
            if (rl_exec(log, rl_schema_steps[v], "cannot create or migrate the schema",
                        e))
                goto fail;
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                 BP_RUNLOG_APP_ID, BP_RUNLOG_SCHEMA);
        if (rl_exec(log, sql, "cannot set the schema version", e) ||
            rl_exec(log, rl_schema_views, "cannot create the views", e))
            goto fail;
        /* The steps ran without foreign keys: check that every reference
         * still holds before anything is committed. */
        sqlite3_stmt *st = rl_prepare(log, "PRAGMA foreign_key_check", e);
        if (!st) goto fail;
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            bp_err_set(e,
                       "%s: migrating the schema would break a reference between"
                       " tables; nothing changed",
                       log->path);
            goto fail;
        }
    }
    return rl_commit(log, e);
fail:
    rl_rollback(log);
    return -1;
}

/* Foreign keys can only be switched off outside a transaction, and must be
 * while the steps rebuild a table (see runlog/schema/3.sql). */
static int migrate(bp_runlog *log, bp_err *e) {
    int64_t app, version, tables;
    if (read_header(log, &app, &version, &tables, e)) return -1;
    if (version == BP_RUNLOG_SCHEMA) return 0; /* no write lock needed */
    if (rl_exec(log, "PRAGMA foreign_keys = OFF", "cannot disable foreign keys", e))
        return -1;
    int rc = migrate_steps(log, e);
    if (rl_exec(log, "PRAGMA foreign_keys = ON", "cannot enable foreign keys",
                rc ? NULL : e))
        rc = -1;
    return rc;
}

/* Switching to WAL needs a moment alone with the file; another process
 * opening it at the same time makes that busy, so try again. */
static int set_wal(bp_runlog *log, bp_err *e) {
    double start = bp_clock();
    for (int t = 0;; t++) {
        sqlite3_stmt *st = rl_prepare(log, "PRAGMA journal_mode = WAL", e);
        if (!st) return -1;
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) return 0;
        if (!retry_busy(rc, t, start))
            return rl_fail(log, e, "cannot switch to WAL mode");
    }
}

bp_runlog *bp_runlog_open(const char *path, int flags, bp_err *e) {
    if (!path || !*path) {
        bp_err_set(e, "no database path given");
        return NULL;
    }
    bp_runlog *log = calloc(1, sizeof *log);
    if (!log || !(log->path = strdup(path))) {
        free(log);
        bp_err_set(e, "out of memory");
        return NULL;
    }
    log->readonly = (flags & BP_RUNLOG_READONLY) != 0;
    pthread_mutex_init(&log->db_lock, NULL);
    pthread_mutex_init(&log->buf_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&log->wake, &ca);
    pthread_condattr_destroy(&ca);

    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode)) {
        bp_err_set(e, "%s: is a directory, not a database", path);
        goto fail;
    }
    if (!exists && (log->readonly || (flags & BP_RUNLOG_MUSTEXIST))) {
        bp_err_set(e, "%s: no such database", path);
        goto fail;
    }
    int oflags;
    if (log->readonly) oflags = SQLITE_OPEN_READONLY;
    else if (exists && sb.st_size > 0) oflags = SQLITE_OPEN_READWRITE;
    else oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (!exists && make_parent(path, e)) goto fail;
    if (sqlite3_open_v2(path, &log->db, oflags, NULL) != SQLITE_OK) {
        bp_err_set(e, "%s: cannot open the database (%s)", path,
                   log->db ? sqlite3_errmsg(log->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(log->db, 1);
    sqlite3_busy_timeout(log->db, busy_ms());
    if (check_header(log, e)) goto fail;
    if (rl_exec(log, "PRAGMA foreign_keys = ON", "cannot enable foreign keys", e))
        goto fail;
    if (bp_sqlext_register(log->db) != SQLITE_OK) {
        rl_fail(log, e, "cannot register bp_weights");
        goto fail;
    }
    if (log->readonly) {
        if (rl_exec(log, "PRAGMA query_only = 1", "cannot make the connection read-only",
                    e))
            goto fail;
        return log;
    }
    if (set_wal(log, e) ||
        rl_exec(log, "PRAGMA synchronous = NORMAL", "cannot set synchronous", e) ||
        migrate(log, e) || bp_runlog_reap(log, e) < 0)
        goto fail;
    return log;
fail:
    bp_runlog_close(log);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The writer                                                                */

/* The metric insert for m rows at once: one statement for many rows runs
 * about three times faster than a statement per row (measured: 0.5 million
 * rows/s with one, 1.5 to 2 million with 32). */
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
    if (a->name_id != b->name_id) return a->name_id < b->name_id;
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

/* Inserts the rows in one transaction: SQLITE_OK, or the failing result
 * code with a message in e and nothing written. */
static int insert_rows(bp_runlog *log, rl_rows *w, bp_err *e) {
    if (rl_begin_write(log, e)) return SQLITE_BUSY;
    for (size_t k = 0; k < w->n;) {
        int m = w->n - k >= INSERT_ROWS ? INSERT_ROWS : 1;
        sqlite3_stmt *st = m == 1 ? log->ins_one : log->ins_many;
        for (int j = 0; j < m; j++, k++) {
            const rl_row *r = &w->v[k];
            sqlite3_bind_int64(st, 4 * j + 1, r->run);
            sqlite3_bind_int64(st, 4 * j + 2, r->name_id);
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
static int flush_locked(bp_runlog *log, bp_err *e) {
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
    pthread_mutex_unlock(&log->buf_lock);
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
        int rc = flush_locked(log, &err);
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
static int take_bg_error(bp_runlog *log, bp_err *e) {
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
    if (take_bg_error(log, e)) return -1;
    pthread_mutex_lock(&log->db_lock);
    int rc = flush_locked(log, e);
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

void bp_runlog_close(bp_runlog *log) {
    if (!log) return;
    if (log->writer_running) {
        pthread_mutex_lock(&log->buf_lock);
        log->stop = 1;
        pthread_cond_signal(&log->wake);
        pthread_mutex_unlock(&log->buf_lock);
        pthread_join(log->writer, NULL);
    }
    if (log->db && !log->readonly) {
        pthread_mutex_lock(&log->db_lock);
        flush_locked(log, NULL);
        pthread_mutex_unlock(&log->db_lock);
    }
    sqlite3_finalize(log->ins_one);
    sqlite3_finalize(log->ins_many);
    sqlite3_close(log->db);
    for (size_t k = 0; k < log->names_cap; k++) free(log->names[k].name);
    free(log->names);
    for (size_t k = 0; k < log->seen_n; k++) {
        free(log->seen[k].key);
        free(log->seen[k].value);
    }
    free(log->seen);
    free(log->pending.v);
    free(log->writing.v);
    pthread_cond_destroy(&log->wake);
    pthread_mutex_destroy(&log->db_lock);
    pthread_mutex_destroy(&log->buf_lock);
    free(log->path);
    free(log);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

static int writable(bp_runlog *log, bp_err *e) {
    if (log->readonly)
        return bp_err_set(e, "%s: the run log was opened read-only", log->path);
    return 0;
}

/* Runs one prepared, bound statement as its own transaction; finalizes it.
 * Call with db_lock held. */
static int write_one(bp_runlog *log, sqlite3_stmt *st, const char *what, bp_err *e) {
    if (rl_begin_write(log, e)) {
        sqlite3_finalize(st);
        return -1;
    }
    if (rl_run_stmt(log, st, what, e)) {
        rl_rollback(log);
        return -1;
    }
    if (sqlite3_changes(log->db) == 0) {
        rl_rollback(log);
        return bp_err_set(e, "%s: %s (no such run)", log->path, what);
    }
    return rl_commit(log, e);
}

static int64_t script_id(bp_runlog *log, const char *text, bp_err *e) {
    size_t n = strlen(text);
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx",
             (unsigned long long)bp_fnv1a(BP_FNV1A_INIT, text, n));
    sqlite3_stmt *st =
        rl_prepare(log, "SELECT id FROM scripts WHERE hash = ?1 AND text = ?2", e);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, (int)n, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return id;
    if (rc != SQLITE_DONE) return rl_fail(log, e, "cannot look up the script");
    st = rl_prepare(log, "INSERT INTO scripts(hash, text) VALUES (?1, ?2)", e);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, (int)n, SQLITE_STATIC);
    if (rl_run_stmt(log, st, "cannot store the script", e)) return -1;
    return sqlite3_last_insert_rowid(log->db);
}

/* "scripts/xor.lua" -> "xor". */
static void default_name(const char *script, char *out, size_t cap) {
    if (!script || !*script) {
        snprintf(out, cap, "run");
        return;
    }
    const char *base = strrchr(script, '/');
    base = base ? base + 1 : script;
    snprintf(out, cap, "%s", base);
    size_t n = strlen(out);
    if (n > 4 && strcmp(out + n - 4, ".lua") == 0) out[n - 4] = '\0';
    if (!*out) snprintf(out, cap, "run");
}

int64_t bp_runlog_begin(bp_runlog *log, const bp_run_info *info, bp_err *e) {
    if (writable(log, e)) return -1;
    bp_run_info none = {0};
    if (!info) info = &none;
    char name[256], host[256];
    if (info->name && *info->name) snprintf(name, sizeof name, "%s", info->name);
    else default_name(info->script_path, name, sizeof name);
    if (info->host) snprintf(host, sizeof host, "%s", info->host);
    else if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';

    pthread_mutex_lock(&log->db_lock);
    int64_t run = -1, sid = 0;
    sqlite3_stmt *st = NULL;
    if (rl_begin_write(log, e)) goto out;
    if (info->script_text && (sid = script_id(log, info->script_text, e)) < 0) goto fail;
    st = rl_prepare(log,
                    "INSERT INTO runs(name, script_path, script_id, command, seed,"
                    " started, status, host, pid, version, sweep_id, trial)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                    e);
    if (!st) goto fail;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (info->script_path) sqlite3_bind_text(st, 2, info->script_path, -1, SQLITE_STATIC);
    if (sid) sqlite3_bind_int64(st, 3, sid);
    if (info->command) sqlite3_bind_text(st, 4, info->command, -1, SQLITE_STATIC);
    if (info->has_seed) sqlite3_bind_int64(st, 5, info->seed);
    sqlite3_bind_double(st, 6, bp_runlog_time());
    sqlite3_bind_text(st, 7, host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, info->pid ? info->pid : (long)getpid());
    sqlite3_bind_text(st, 9, info->version ? info->version : BP_VERSION, -1,
                      SQLITE_STATIC);
    if (info->sweep_id > 0) {
        sqlite3_bind_int64(st, 10, info->sweep_id);
        sqlite3_bind_int64(st, 11, info->trial);
    }
    if (rl_run_stmt(log, st,
                    info->sweep_id > 0 ? "cannot record the run (is there a sweep"
                                         " with that id?)"
                                       : "cannot record the run",
                    e))
        goto fail;
    run = sqlite3_last_insert_rowid(log->db);
    if (rl_commit(log, e)) run = -1;
    goto out;
fail:
    rl_rollback(log);
out:
    pthread_mutex_unlock(&log->db_lock);
    return run;
}

static int set_column(bp_runlog *log, int64_t run, const char *sql, int64_t i,
                      const char *s, bp_err *e) {
    if (writable(log, e)) return -1;
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log, sql, e);
    if (st) {
        if (s) sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
        else sqlite3_bind_int64(st, 1, i);
        sqlite3_bind_int64(st, 2, run);
        rc = write_one(log, st, "cannot update the run", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

int bp_runlog_set_seed(bp_runlog *log, int64_t run, int64_t seed, bp_err *e) {
    return set_column(log, run, "UPDATE runs SET seed = ?1 WHERE id = ?2", seed, NULL, e);
}

int bp_runlog_set_name(bp_runlog *log, int64_t run, const char *name, bp_err *e) {
    if (!name || !*name) return bp_err_set(e, "a run's name cannot be empty");
    return set_column(log, run, "UPDATE runs SET name = ?1 WHERE id = ?2", 0, name, e);
}

/* Parameters. `text` is the value as remembered by the cache: its type and
 * its exact bits, so equal text means an equal value. */
enum { P_INT, P_REAL, P_TEXT, P_BOOL };
static const char *const ptype_names[] = {"int", "real", "text", "bool"};

static int param(bp_runlog *log, int64_t run, const char *key, int type, int64_t i,
                 double r, const char *s, bp_err *e) {
    if (writable(log, e)) return -1;
    if (!key || !*key) return bp_err_set(e, "a parameter needs a name");
    if (type == P_TEXT && !s) return bp_err_set(e, "parameter %s: no text given", key);
    char small[64];
    const char *text = small;
    char *big = NULL;
    if (type == P_REAL) {
        uint64_t u;
        memcpy(&u, &r, sizeof u);
        snprintf(small, sizeof small, "r%016llx", (unsigned long long)u);
    } else if (type == P_TEXT) {
        size_t n = strlen(s);
        if (!(big = malloc(n + 2))) return bp_err_set(e, "out of memory");
        big[0] = 't';
        memcpy(big + 1, s, n + 1);
        text = big;
    } else {
        snprintf(small, sizeof small, "%c%lld", type == P_BOOL ? 'b' : 'i', (long long)i);
    }
    rl_param_seen *p = NULL;
    for (size_t k = 0; k < log->seen_n; k++)
        if (log->seen[k].run == run && strcmp(log->seen[k].key, key) == 0) {
            p = &log->seen[k];
            break;
        }
    if (p && strcmp(p->value, text) == 0) {
        free(big);
        return 0;
    }
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "INSERT INTO params(run_id, key, value, type)"
                   " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (run_id, key)"
                   " DO UPDATE SET value = excluded.value, type = excluded.type",
                   e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        if (type == P_REAL) sqlite3_bind_double(st, 3, r); /* NaN binds as NULL */
        else if (type == P_TEXT) sqlite3_bind_text(st, 3, s, -1, SQLITE_STATIC);
        else sqlite3_bind_int64(st, 3, i);
        sqlite3_bind_text(st, 4, ptype_names[type], -1, SQLITE_STATIC);
        rc = write_one(log, st, "cannot record a parameter", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    if (rc == 0) {
        char *copy = strdup(text);
        if (p && copy) {
            free(p->value);
            p->value = copy;
        } else if (copy) {
            char *kcopy = strdup(key);
            if (log->seen_n == log->seen_cap) {
                size_t cap = log->seen_cap ? 2 * log->seen_cap : 16;
                rl_param_seen *v = realloc(log->seen, cap * sizeof *v);
                if (v) log->seen = v, log->seen_cap = cap;
            }
            if (kcopy && log->seen_n < log->seen_cap) {
                log->seen[log->seen_n++] = (rl_param_seen){run, kcopy, copy};
            } else {
                free(kcopy);
                free(copy);
            }
        }
    }
    free(big);
    return rc;
}

int bp_runlog_param_int(bp_runlog *log, int64_t run, const char *key, int64_t value,
                        bp_err *e) {
    return param(log, run, key, P_INT, value, 0, NULL, e);
}
int bp_runlog_param_real(bp_runlog *log, int64_t run, const char *key, double value,
                         bp_err *e) {
    return param(log, run, key, P_REAL, 0, value, NULL, e);
}
int bp_runlog_param_text(bp_runlog *log, int64_t run, const char *key, const char *value,
                         bp_err *e) {
    return param(log, run, key, P_TEXT, 0, 0, value, e);
}
int bp_runlog_param_bool(bp_runlog *log, int64_t run, const char *key, int value,
                         bp_err *e) {
    return param(log, run, key, P_BOOL, value != 0, 0, NULL, e);
}

/* The metric_names id of name: from the table in memory, or once per name
 * and log from the database. */
static int64_t name_id(bp_runlog *log, const char *name, bp_err *e) {
    uint64_t h = bp_fnv1a(BP_FNV1A_INIT, name, strlen(name));
    if (log->names_cap) {
        for (size_t k = h & (log->names_cap - 1);; k = (k + 1) & (log->names_cap - 1)) {
            rl_name_slot *s = &log->names[k];
            if (!s->name) break;
            if (strcmp(s->name, name) == 0) return s->id;
        }
    }
    pthread_mutex_lock(&log->db_lock);
    int64_t id = -1;
    sqlite3_stmt *st =
        rl_prepare(log, "INSERT OR IGNORE INTO metric_names(name) VALUES (?)", e);
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (rl_run_stmt(log, st, "cannot record a metric name", e) == 0 &&
            (st = rl_prepare(log, "SELECT id FROM metric_names WHERE name = ?", e))) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
            else rl_fail(log, e, "cannot read a metric name");
            sqlite3_finalize(st);
        }
    }
    pthread_mutex_unlock(&log->db_lock);
    if (id < 0) return -1;
    /* Keep the table at most half full. */
    if (2 * (log->names_n + 1) > log->names_cap) {
        size_t cap = log->names_cap ? 2 * log->names_cap : 16;
        rl_name_slot *v = calloc(cap, sizeof *v);
        if (!v) return id; /* works, only slower */
        for (size_t k = 0; k < log->names_cap; k++) {
            rl_name_slot s = log->names[k];
            if (!s.name) continue;
            size_t j = bp_fnv1a(BP_FNV1A_INIT, s.name, strlen(s.name)) & (cap - 1);
            while (v[j].name) j = (j + 1) & (cap - 1);
            v[j] = s;
        }
        free(log->names);
        log->names = v, log->names_cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return id;
    size_t j = h & (log->names_cap - 1);
    while (log->names[j].name) j = (j + 1) & (log->names_cap - 1);
    log->names[j] = (rl_name_slot){copy, id};
    log->names_n++;
    return id;
}

int bp_runlog_metric(bp_runlog *log, int64_t run, const char *name, int64_t step,
                     double value, bp_err *e) {
    if (writable(log, e)) return -1;
    if (!name || !*name) return bp_err_set(e, "a metric needs a name");
    int64_t id = name_id(log, name, e);
    if (id < 0) return -1;
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

static int little_endian(void) {
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

int bp_runlog_snapshot(bp_runlog *log, int64_t run, int64_t step, const char *name,
                       int n_layers, const int *sizes, const double *params,
                       size_t n_params, int float32, bp_err *e) {
    if (writable(log, e)) return -1;
    if (n_layers < 1 || n_layers + 1 > BP_SHAPE_MAX)
        return bp_err_set(e, "snapshot: %d layers (need 1..%d)", n_layers,
                          BP_SHAPE_MAX - 1);
    /* Shape text and the count the shape implies. */
    char *shape = malloc((size_t)(n_layers + 1) * 12);
    if (!shape) return bp_err_set(e, "out of memory");
    size_t len = 0, need = 0;
    for (int l = 0; l <= n_layers; l++) {
        if (sizes[l] < 1) {
            free(shape);
            return bp_err_set(e, "snapshot: width %d of layer %d is not positive",
                              sizes[l], l);
        }
        len += (size_t)sprintf(shape + len, l ? ",%d" : "%d", sizes[l]);
        if (l) need += (size_t)sizes[l] * ((size_t)sizes[l - 1] + 1);
    }
    if (need != n_params) {
        bp_err_set(e, "snapshot: shape %s needs %zu parameters, got %zu", shape, need,
                   n_params);
        free(shape);
        return -1;
    }
    size_t width = float32 ? 4 : 8;
    unsigned char *blob = NULL;
    const void *data = params;
    if (float32 || !little_endian()) {
        blob = malloc(n_params * width + 1);
        if (!blob) {
            free(shape);
            return bp_err_set(e, "out of memory");
        }
        for (size_t k = 0; k < n_params; k++) {
            uint64_t u = 0;
            if (float32) {
                float f = (float)params[k];
                uint32_t u32;
                memcpy(&u32, &f, 4);
                u = u32;
            } else {
                memcpy(&u, &params[k], 8);
            }
            for (size_t b = 0; b < width; b++)
                blob[k * width + b] = (unsigned char)(u >> (8 * b));
        }
        data = blob;
    }
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log,
                                  "INSERT OR REPLACE INTO snapshots(run_id, step, name,"
                                  " shape, dtype, data) VALUES (?, ?, ?, ?, ?, ?)",
                                  e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int64(st, 2, step);
        sqlite3_bind_text(st, 3, name ? name : "net", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, shape, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, float32 ? "f32" : "f64", -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 6, data, n_params * width, SQLITE_STATIC);
        rc = write_one(log, st, "cannot store a snapshot", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    free(blob);
    free(shape);
    return rc;
}

int bp_runlog_tag(bp_runlog *log, int64_t run, const char *key, const char *value,
                  bp_err *e) {
    if (writable(log, e)) return -1;
    if (!key || !*key) return bp_err_set(e, "a tag needs a name");
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log,
                                  "INSERT OR REPLACE INTO tags(run_id, key, value)"
                                  " VALUES (?, ?, ?)",
                                  e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        if (value) sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
        rc = write_one(log, st, "cannot record a tag", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

int bp_runlog_note(bp_runlog *log, int64_t run, const char *text, bp_err *e) {
    if (writable(log, e)) return -1;
    if (!text) return bp_err_set(e, "a note needs text");
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st =
        rl_prepare(log, "INSERT INTO notes(run_id, time, text) VALUES (?, ?, ?)", e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_double(st, 2, bp_runlog_time());
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        rc = write_one(log, st, "cannot record a note", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

int bp_runlog_end(bp_runlog *log, int64_t run, const char *status, const char *message,
                  const char *traceback, bp_err *e) {
    static const char *const ends[] = {"completed", "failed",  "interrupted",
                                       "diverged",  "crashed", "pruned"};
    int ok = 0;
    for (size_t k = 0; status && k < sizeof ends / sizeof *ends; k++)
        ok |= strcmp(status, ends[k]) == 0;
    if (!ok)
        return bp_err_set(e,
                          "cannot end a run as '%s' (completed, failed, interrupted,"
                          " diverged, crashed or pruned)",
                          status ? status : "(null)");
    if (writable(log, e)) return -1;
    /* The rows go in even if the writer failed before: the error is reported,
     * the status still set. */
    bp_err first = {{0}};
    int bad = take_bg_error(log, &first);
    pthread_mutex_lock(&log->db_lock);
    int rc = flush_locked(log, bad ? NULL : &first);
    bad |= rc;
    sqlite3_stmt *st = rl_prepare(log,
                                  "UPDATE runs SET status = ?1, ended = ?2, message = ?3,"
                                  " traceback = ?4 WHERE id = ?5",
                                  e);
    if (st) {
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, bp_runlog_time());
        if (message) sqlite3_bind_text(st, 3, message, -1, SQLITE_STATIC);
        if (traceback) sqlite3_bind_text(st, 4, traceback, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, run);
        rc = write_one(log, st, "cannot end the run", e);
    } else {
        rc = -1;
    }
    pthread_mutex_unlock(&log->db_lock);
    if (rc) return -1;
    if (bad) return bp_err_set(e, "%s", first.msg);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

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
    if (!st) goto out;
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
                goto out;
            }
        }
        st_v[n] = sqlite3_column_int64(st, 0);
        va[n] = sqlite3_column_type(st, 1) == SQLITE_NULL ? NAN
                                                          : sqlite3_column_double(st, 1);
        n++;
    }
    if (r != SQLITE_DONE) {
        rl_fail(log, e, "cannot read metrics");
        goto out;
    }
    *steps_out = st_v, *values_out = va, *n_out = n;
    st_v = NULL, va = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&log->db_lock);
    free(st_v);
    free(va);
    return rc;
}

int bp_runlog_snapshot_get(bp_runlog *log, int64_t run, const char *name, int64_t step,
                           int64_t *step_out, int *n_layers, int **sizes_out,
                           double **params_out, size_t *n_params, bp_err *e) {
    *sizes_out = NULL, *params_out = NULL, *n_params = 0, *n_layers = 0;
    if (!name) name = "net";
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    int *sizes = NULL;
    double *v = NULL;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT step, shape, data FROM snapshots WHERE run_id = ?1"
                   " AND name = ?2 AND (?3 < 0 OR step = ?3)"
                   " ORDER BY step DESC LIMIT 1",
                   e);
    if (!st) goto out;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, step);
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        if (r == SQLITE_DONE && step < 0)
            bp_err_set(e, "%s: run %lld has no snapshot '%s'", log->path, (long long)run,
                       name);
        else if (r == SQLITE_DONE)
            bp_err_set(e, "%s: run %lld has no snapshot '%s' at step %lld", log->path,
                       (long long)run, name, (long long)step);
        else rl_fail(log, e, "cannot read a snapshot");
        goto out;
    }
    int tmp[BP_SHAPE_MAX];
    const char *shape = (const char *)sqlite3_column_text(st, 1);
    int ns = bp_shape_parse(shape, tmp, BP_SHAPE_MAX);
    size_t P = 0;
    for (int l = 1; l < ns; l++) P += (size_t)tmp[l] * ((size_t)tmp[l - 1] + 1);
    size_t bytes = (size_t)sqlite3_column_bytes(st, 2);
    const unsigned char *data = sqlite3_column_blob(st, 2);
    size_t width = bytes == 8 * P ? 8 : bytes == 4 * P ? 4 : 0;
    if (ns < 0 || !width) {
        bp_err_set(e, "%s: snapshot of run %lld has a bad shape '%s' or size", log->path,
                   (long long)run, shape ? shape : "");
        goto out;
    }
    sizes = malloc((size_t)ns * sizeof *sizes);
    v = malloc((P ? P : 1) * sizeof *v);
    if (!sizes || !v) {
        bp_err_set(e, "out of memory");
        goto out;
    }
    memcpy(sizes, tmp, (size_t)ns * sizeof *sizes);
    for (size_t k = 0; k < P; k++) {
        uint64_t u = 0;
        for (size_t b = 0; b < width; b++) u |= (uint64_t)data[k * width + b] << (8 * b);
        if (width == 8) {
            memcpy(&v[k], &u, 8);
        } else {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, 4);
            v[k] = f;
        }
    }
    if (step_out) *step_out = sqlite3_column_int64(st, 0);
    *n_layers = ns - 1, *sizes_out = sizes, *params_out = v, *n_params = P;
    sizes = NULL, v = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&log->db_lock);
    free(sizes);
    free(v);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Crashed runs                                                              */

/* When process pid started, in seconds since 1970 (0 if unknown): field 22
 * of /proc/PID/stat, in clock ticks since boot, plus /proc/stat's btime. */
static double process_start(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return 0;
    /* After ')' come fields 3, 4, ...: skip to the 22nd. */
    for (int field = 2; field < 21 && p; field++) p = strchr(p + 1, ' ');
    if (!p) return 0;
    unsigned long long ticks = strtoull(p + 1, NULL, 10);
    f = fopen("/proc/stat", "r");
    if (!f) return 0;
    unsigned long long btime = 0;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1) break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (!btime || hz <= 0) return 0;
    return (double)btime + (double)ticks / (double)hz;
}

/* Whether process pid has died but not yet been waited for (state Z or X in
 * /proc/PID/stat): kill(pid, 0) still succeeds on such a zombie, and where no
 * parent reaps orphans (some container inits) it can stay for ever. */
static int process_dead(long pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Is the process that began a run (at `started`) still there? A pid can be
 * reused: a process started after the run is not the run's. */
static int run_alive(long pid, double started) {
    if (pid <= 0) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    if (process_dead(pid)) return 0;
    double t = process_start(pid);
    return !(t > 0 && t > started + 2.0); /* btime is whole seconds */
}

int bp_runlog_reap(bp_runlog *log, bp_err *e) {
    if (writable(log, e)) return -1;
    char host[256];
    if (gethostname(host, sizeof host) != 0) return 0;
    host[sizeof host - 1] = '\0';
    pthread_mutex_lock(&log->db_lock);
    int marked = -1, n = 0, cap = 0, r;
    int64_t *dead = NULL; /* pairs: 0 for a run or 1 for a sweep, its id */
    /* A sweep is judged by when its current process took it (a resume). */
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT 0, id, pid, started FROM runs"
                   " WHERE status = 'running' AND host = ?1"
                   " UNION ALL SELECT 1, id, pid, coalesce(claimed, started)"
                   " FROM sweeps WHERE status = 'running' AND host = ?1",
                   e);
    if (!st) goto out;
    sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (run_alive((long)sqlite3_column_int64(st, 2), sqlite3_column_double(st, 3)))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *v = realloc(dead, 2 * (size_t)cap * sizeof *v);
            if (!v) {
                bp_err_set(e, "out of memory");
                goto out;
            }
            dead = v;
        }
        dead[2 * n] = sqlite3_column_int64(st, 0);
        dead[2 * n + 1] = sqlite3_column_int64(st, 1);
        n++;
    }
    if (r != SQLITE_DONE) {
        rl_fail(log, e, "cannot look for crashed runs");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    marked = 0;
    if (n == 0) goto out;
    if (rl_begin_write(log, e)) {
        marked = -1;
        goto out;
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
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&log->db_lock);
    free(dead);
    return marked;
}

/* ------------------------------------------------------------------------ */
/* Sweeps                                                                    */

int64_t bp_runlog_sweep(bp_runlog *log, const bp_sweep_record *rec, int *created,
                        bp_err *e) {
    if (created) *created = 0;
    if (writable(log, e)) return -1;
    if (!rec->uid || !rec->spec || !rec->keys || !rec->strategy || !rec->objective)
        return bp_err_set(e, "a sweep needs its uid, spec, keys, strategy and objective");
    char name[256], host[256];
    if (rec->name && *rec->name) snprintf(name, sizeof name, "%s", rec->name);
    else default_name(rec->script_path, name, sizeof name);
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    const char *status = rec->status ? rec->status : "running";

    pthread_mutex_lock(&log->db_lock);
    int64_t id = -1, sid = 0;
    sqlite3_stmt *st = NULL;
    if (rl_begin_write(log, e)) goto out;
    st = rl_prepare(log, "SELECT id FROM sweeps WHERE uid = ?", e);
    if (!st) goto fail;
    sqlite3_bind_text(st, 1, rec->uid, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (r == SQLITE_ROW) {
        rl_rollback(log);
        goto out;
    }
    if (r != SQLITE_DONE) {
        rl_fail(log, e, "cannot look up the sweep");
        goto fail;
    }
    if (rec->script_text && (sid = script_id(log, rec->script_text, e)) < 0) goto fail;
    st = rl_prepare(
        log,
        "INSERT INTO sweeps(uid, name, script_path, script_id, spec, keys,"
        " strategy, trials, seed, objective, direction, prune, status, started,"
        " claimed, host, pid, command)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
        " CASE WHEN ?13 = 'running' THEN ?14 END,"
        " CASE WHEN ?13 = 'running' THEN ?15 END,"
        " CASE WHEN ?13 = 'running' THEN ?16 END, ?17)",
        e);
    if (!st) goto fail;
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
    if (rl_run_stmt(log, st, "cannot record the sweep", e)) goto fail;
    st = NULL;
    id = sqlite3_last_insert_rowid(log->db);
    if (rl_commit(log, e)) id = -1;
    else if (created) *created = 1;
    goto out;
fail:
    rl_rollback(log);
out:
    pthread_mutex_unlock(&log->db_lock);
    return id;
}

int bp_runlog_sweep_status(bp_runlog *log, int64_t sweep, const char *status,
                           const char *message, bp_err *e) {
    static const char *const ok[] = {"running", "completed", "interrupted", "failed",
                                     "partial"};
    int known = 0;
    for (size_t k = 0; status && k < sizeof ok / sizeof *ok; k++)
        known |= strcmp(status, ok[k]) == 0;
    if (!known)
        return bp_err_set(e,
                          "cannot set a sweep's status to '%s' (running, completed,"
                          " interrupted, failed or partial)",
                          status ? status : "(null)");
    if (writable(log, e)) return -1;
    char host[256];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    /* 'running' takes the sweep for this process; anything else ends it. */
    sqlite3_stmt *st =
        rl_prepare(log,
                   "UPDATE sweeps SET status = ?1, message = ?2,"
                   " ended = CASE WHEN ?1 = 'running' THEN NULL ELSE ?3 END,"
                   " claimed = CASE WHEN ?1 = 'running' THEN ?3 ELSE claimed END,"
                   " host = CASE WHEN ?1 = 'running' THEN ?4 ELSE host END,"
                   " pid = CASE WHEN ?1 = 'running' THEN ?5 ELSE pid END"
                   " WHERE id = ?6",
                   e);
    if (st) {
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        if (message) sqlite3_bind_text(st, 2, message, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, bp_runlog_time());
        sqlite3_bind_text(st, 4, host, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (long)getpid());
        sqlite3_bind_int64(st, 6, sweep);
        if (rl_begin_write(log, e)) {
            sqlite3_finalize(st);
        } else if (rl_run_stmt(log, st, "cannot update the sweep", e)) {
            rl_rollback(log);
        } else if (sqlite3_changes(log->db) == 0) {
            rl_rollback(log);
            bp_err_set(e, "%s: no sweep %lld", log->path, (long long)sweep);
        } else {
            rc = rl_commit(log, e);
        }
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

void bp_runlog_lock(bp_runlog *log) { pthread_mutex_lock(&log->db_lock); }
void bp_runlog_unlock(bp_runlog *log) { pthread_mutex_unlock(&log->db_lock); }

const char *bp_runlog_schema_step(int version) {
    return version >= 0 && version < BP_RUNLOG_SCHEMA ? rl_schema_steps[version] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Networks and checkpoints                                                  */

/* Stores one blob row: the statement's parameters are run, step, (name),
 * data, in that order. */
static int put_blob(bp_runlog *log, const char *sql, int64_t run, int64_t step,
                    const char *name, const void *data, size_t len, const char *what,
                    bp_err *e) {
    if (writable(log, e)) return -1;
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
        rc = write_one(log, st, what, e);
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
            memcpy(copy, sqlite3_column_blob(st, 1), n);
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

void bp_run_record_free(bp_run_record *r) {
    if (!r) return;
    free(r->name);
    free(r->script_path);
    free(r->script_text);
    free(r->status);
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

int bp_runlog_run_get(bp_runlog *log, int64_t run, bp_run_record *r, bp_err *e) {
    memset(r, 0, sizeof *r);
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT r.name, r.script_path, s.text, r.status, r.seed,"
                   " r.sweep_id, r.trial FROM runs r"
                   " LEFT JOIN scripts s ON s.id = r.script_id WHERE r.id = ?1",
                   e);
    sqlite3_stmt *ps = NULL;
    if (!st) goto out;
    sqlite3_bind_int64(st, 1, run);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        if (step == SQLITE_DONE)
            bp_err_set(e, "%s: no run %lld", log->path, (long long)run);
        else rl_fail(log, e, "cannot read a run");
        goto out;
    }
    r->name = dup_column(st, 0);
    r->script_path = dup_column(st, 1);
    r->script_text = dup_column(st, 2);
    r->status = dup_column(st, 3);
    r->has_seed = sqlite3_column_type(st, 4) != SQLITE_NULL;
    r->seed = sqlite3_column_int64(st, 4);
    r->sweep_id = sqlite3_column_int64(st, 5);
    r->trial = sqlite3_column_int64(st, 6);
    if (!r->name || !r->status) {
        bp_err_set(e, "out of memory");
        goto out;
    }
    /* Parameters as the command line would give them: the text of each
     * value reads back as the same value (%.17g for reals). */
    ps = rl_prepare(
        log, "SELECT key, type, value FROM params WHERE run_id = ?1 ORDER BY key", e);
    if (!ps) goto out;
    sqlite3_bind_int64(ps, 1, run);
    while ((step = sqlite3_step(ps)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(ps, 0);
        const char *type = (const char *)sqlite3_column_text(ps, 1);
        char num[64];
        const char *value = num;
        if (!strcmp(type, "real"))
            snprintf(num, sizeof num, "%.17g", sqlite3_column_double(ps, 2));
        else if (!strcmp(type, "int"))
            snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(ps, 2));
        else if (!strcmp(type, "bool"))
            snprintf(num, sizeof num, "%s",
                     sqlite3_column_int64(ps, 2) ? "true" : "false");
        else value = (const char *)sqlite3_column_text(ps, 2);
        size_t n = strlen(key) + strlen(value) + 2;
        char **grown = realloc(r->params, sizeof *grown * (size_t)(r->n_params + 1));
        char *kv = malloc(n);
        if (!grown || !kv) {
            free(kv);
            if (grown) r->params = grown;
            bp_err_set(e, "out of memory");
            goto out;
        }
        r->params = grown;
        snprintf(kv, n, "%s=%s", key, value);
        r->params[r->n_params++] = kv;
    }
    if (step != SQLITE_DONE) {
        rl_fail(log, e, "cannot read a run's parameters");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_finalize(ps);
    pthread_mutex_unlock(&log->db_lock);
    if (rc) bp_run_record_free(r);
    return rc;
}

int bp_runlog_reopen(bp_runlog *log, int64_t run, bp_err *e) {
    if (writable(log, e)) return -1;
    char host[256];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log,
                                  "UPDATE runs SET status = 'running', ended = NULL,"
                                  " message = NULL, traceback = NULL, host = ?1, pid = ?2"
                                  " WHERE id = ?3",
                                  e);
    if (st) {
        sqlite3_bind_text(st, 1, host, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (long)getpid());
        sqlite3_bind_int64(st, 3, run);
        rc = write_one(log, st, "cannot reopen the run", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}
