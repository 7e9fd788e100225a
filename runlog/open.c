/* open.c: opening and closing a run log (bp_runlog_open, bp_runlog_close).
 *
 * Opening is where a wrong file must come to no harm: the header is read and
 * checked before anything is written, and a non-database file is opened
 * without SQLITE_OPEN_CREATE and only read, so that a wrong --db never
 * damages the file it names. A writable database is then brought to this
 * build's schema by the steps of runlog/schema/, in one transaction, and
 * switched to WAL so that several processes can share it. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "bp_sqlext.h"
#include "bp_util.h"
#include "runlog_int.h"
#include "rl_schema.h"

/* The schema: the SQL files of runlog/schema/, embedded at build time. */
_Static_assert(RL_SCHEMA_STEPS == BP_RUNLOG_SCHEMA,
               "runlog/schema/ holds a step for each version, 1.sql to N.sql");

const char *bp_runlog_default_path(const char *opt) {
    if (opt && *opt) return opt;
    const char *env = getenv("BACKPROP_DB");
    if (env && *env) return env;
    return "results/runs.db";
}

const char *bp_runlog_schema_step(int version) {
    return version >= 0 && version < BP_RUNLOG_SCHEMA ? rl_schema_steps[version] : NULL;
}

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
        /* Only SQLite's "file is not a database" says so; a file that
         * cannot be read, a corrupt one, a lock are said as they are. */
        int notadb = (sqlite3_extended_errcode(log->db) & 0xff) == SQLITE_NOTADB;
        bp_err_set(e,
                   notadb ? "%s: not a backprop database (%s)"
                          : "%s: cannot read the database (%s)",
                   log->path, sqlite3_errmsg(log->db));
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
        int summarised = rl_summaries_exist(log);
        for (int64_t v = version; v < BP_RUNLOG_SCHEMA; v++)
            if (rl_exec(log, rl_schema_steps[v], "cannot create or migrate the schema",
                        e))
                goto fail;
        /* A step made the summaries' tables: fill them from the rows. */
        if (!summarised && rl_summaries_fill(log, e)) goto fail;
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
        if (!rl_retry_busy(rc, t, start))
            return rl_fail(log, e, "cannot switch to WAL mode");
    }
}

/* A bp_runlog with its locks and no connection yet, or NULL. */
static bp_runlog *log_new(const char *path, int flags) {
    bp_runlog *log = calloc(1, sizeof *log);
    if (!log || !(log->path = strdup(path))) {
        free(log);
        return NULL;
    }
    log->readonly = (flags & (BP_RUNLOG_READONLY | BP_RUNLOG_UNTOUCHED)) != 0;
    log->lock_fd = log->probe_fd = -1;
    pthread_mutex_init(&log->db_lock, NULL);
    pthread_mutex_init(&log->buf_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&log->wake, &ca);
    pthread_cond_init(&log->drained, &ca);
    pthread_condattr_destroy(&ca);
    return log;
}

/* Opens log->db: read-only, or read-write, creating the file (and its
 * directories) only when it is missing or empty. What the file system
 * refuses is said before SQLite tries (access.c): SQLite's own "unable to
 * open database file" names no reason. */
static int open_file(bp_runlog *log, int flags, bp_err *e) {
    const char *path = log->path;
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode))
        return bp_err_set(e, "%s: is a directory, not a database", path);
    if (!exists && (log->readonly || (flags & BP_RUNLOG_MUSTEXIST)))
        return bp_err_set(e, "%s: no such database", path);
    if (log->readonly) {
        rl_stamp_take(path, &log->stamp);
        char *uri = rl_read_uri(path, (flags & BP_RUNLOG_UNTOUCHED) != 0, &log->immutable, e);
        if (!uri) return -1;
        int rc =
            sqlite3_open_v2(uri, &log->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
        free(uri);
        if (rc != SQLITE_OK) goto fail;
    } else {
        int oflags =
            SQLITE_OPEN_READWRITE | (exists && sb.st_size > 0 ? 0 : SQLITE_OPEN_CREATE);
        if ((!exists && make_parent(path, e)) || rl_can_write(path, exists, e)) return -1;
        if (sqlite3_open_v2(path, &log->db, oflags, NULL) != SQLITE_OK) goto fail;
        if (sqlite3_db_readonly(log->db, "main") == 1)
            return bp_err_set(e, "%s: read-only (SQLite could open it only for reading)",
                              path);
    }
    sqlite3_extended_result_codes(log->db, 1);
    sqlite3_busy_timeout(log->db, rl_busy_ms());
    return 0;
fail:
    return bp_err_set(e, "%s: cannot open the database (%s)", path,
                      log->db ? sqlite3_errmsg(log->db) : "out of memory");
}

/* The flags a caller that only reads opens with (BP_RUNLOG_READER): for
 * writing where the file and its directory can be written, so that crashed
 * runs are marked and an older schema is migrated as any open for writing
 * does; read-only elsewhere (a read-only medium, a file that is not ours). */
static int reader_flags(const char *path, int flags) {
    if (!(flags & BP_RUNLOG_READER)) return flags;
    struct stat sb;
    bp_err ignored;
    flags |= BP_RUNLOG_MUSTEXIST;
    if (stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode) && rl_can_write(path, 1, &ignored))
        flags |= BP_RUNLOG_READONLY;
    return flags;
}

bp_runlog *bp_runlog_open(const char *path, int flags, bp_err *e) {
    if (!path || !*path) {
        bp_err_set(e, "no database path given");
        return NULL;
    }
    flags = reader_flags(path, flags);
    bp_runlog *log = log_new(path, flags);
    if (!log) {
        bp_err_set(e, "out of memory");
        return NULL;
    }
    if (open_file(log, flags, e) || check_header(log, e)) goto fail;
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
    rl_identity_note(log);
    if (set_wal(log, e) ||
        rl_exec(log, "PRAGMA synchronous = NORMAL", "cannot set synchronous", e) ||
        migrate(log, e))
        goto fail;
    rl_lock_open(log); /* the liveness of runs and sweeps (liveness.c) */
    if (bp_runlog_reap(log, e) < 0) goto fail;
    return log;
fail:
    bp_runlog_close(log);
    return NULL;
}

int bp_runlog_changed(const bp_runlog *log) {
    return log->immutable && rl_stamp_changed(log->path, &log->stamp);
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
        rl_flush_locked(log, NULL);
        pthread_mutex_unlock(&log->db_lock);
    }
    sqlite3_finalize(log->ins_one);
    sqlite3_finalize(log->ins_many);
    sqlite3_finalize(log->ins_time);
    sqlite3_finalize(log->name_get);
    sqlite3_finalize(log->name_put);
    rl_summaries_finalize(log);
    rl_units_free(log);
    sqlite3_close(log->db);
    rl_lock_close(log); /* this log's runs and sweeps are no longer held */
    rl_names_free(&log->names);
    free(log->lost);
    for (size_t k = 0; k < log->seen_n; k++) {
        free(log->seen[k].key);
        free(log->seen[k].value);
    }
    free(log->seen);
    free(log->pending.v);
    free(log->writing.v);
    pthread_cond_destroy(&log->wake);
    pthread_cond_destroy(&log->drained);
    pthread_mutex_destroy(&log->db_lock);
    pthread_mutex_destroy(&log->buf_lock);
    free(log->path);
    free(log);
}
