/* runlog_int.h: what the files of runlog/ share, and nothing outside it
 * includes (the tests aside, which look into the database they test).
 *
 * The connection and its two locks, the metric buffers and the statement
 * helpers that turn SQLite's failures into one sentence naming the file.
 * Every function here is called with the connection held (rl_lock) unless
 * it says otherwise. */
#ifndef RUNLOG_INT_H
#define RUNLOG_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "bp_err.h"
#include "bp_runlog.h"

typedef struct rl_row {
    int64_t run, name_id, step;
    double value;
} rl_row;

typedef struct rl_rows {
    rl_row *v;
    size_t n, cap;
} rl_rows;

typedef struct rl_name_slot {
    char *name; /* NULL: empty slot */
    int64_t id;
} rl_name_slot;

/* A parameter already written, so that recording it again is free. */
typedef struct rl_param_seen {
    int64_t run;
    char *key;
    char *value; /* type and value, as text */
} rl_param_seen;

struct bp_runlog {
    sqlite3 *db;
    char *path;
    int readonly;
    /* db_lock guards the connection and the statements; buf_lock the buffers,
     * last_flush, stop and bg_err. Taken in that order when both are. */
    pthread_mutex_t db_lock, buf_lock;
    pthread_cond_t wake;
    pthread_t writer;
    int writer_running, stop;
    rl_rows pending; /* filled by bp_runlog_metric */
    rl_rows writing; /* being written, or left by a failed commit */
    double last_flush;
    char bg_err[BP_ERR_MAX];
    rl_name_slot *names; /* open addressing, names_cap a power of two */
    size_t names_cap, names_n;
    rl_param_seen *seen;
    size_t seen_n, seen_cap;
    sqlite3_stmt *ins_one, *ins_many; /* metric inserts, 1 and INSERT_ROWS rows */
};

/* The connection, for runlog's files and the tests. Hold it (rl_lock) while
 * the writer thread may be committing metrics. */
sqlite3 *bp_runlog_sqlite(bp_runlog *log);
void bp_runlog_lock(bp_runlog *log);
void bp_runlog_unlock(bp_runlog *log);

/* How long a write waits for another process's lock, all attempts
 * together: 60 s, or $BACKPROP_BUSY_TIMEOUT seconds. */
double rl_busy_seconds(void);

/* "PATH: what (SQLite's message)", with the wait when the database was
 * locked; returns -1. */
int rl_fail(bp_runlog *log, bp_err *e, const char *what);

/* sqlite3_exec of sql; -1 with rl_fail(what). */
int rl_exec(bp_runlog *log, const char *sql, const char *what, bp_err *e);

/* BEGIN IMMEDIATE and COMMIT, each retried while another process holds the
 * lock (rl_busy_seconds in all); a failed commit rolls back. rl_rollback
 * ends an open transaction, if any. */
int rl_begin_write(bp_runlog *log, bp_err *e);
int rl_commit(bp_runlog *log, bp_err *e);
void rl_rollback(bp_runlog *log);

/* A prepared statement, or NULL with "cannot prepare a statement". */
sqlite3_stmt *rl_prepare(bp_runlog *log, const char *sql, bp_err *e);

/* Steps st to its end and finalizes it; -1 with rl_fail(what). */
int rl_run_stmt(bp_runlog *log, sqlite3_stmt *st, const char *what, bp_err *e);

/* One attempt's wait for a lock, in milliseconds, for sqlite3_busy_timeout:
 * rl_busy_seconds shared between the attempts. */
int rl_busy_ms(void);

/* Whether a call that returned rc at attempt t (the first at `start`, on
 * bp_clock) should be tried again: 1, after a nap, while rc is SQLITE_BUSY
 * and rl_busy_seconds have not passed. Needs no lock. */
int rl_retry_busy(int rc, int t, double start);

/* -1 with "PATH: the run log was opened read-only" if it was. No lock. */
int rl_writable(bp_runlog *log, bp_err *e);

/* Runs one prepared, bound statement as its own transaction and finalizes
 * it; -1 with "PATH: what (no such run)" when it changed no row. */
int rl_write_one(bp_runlog *log, sqlite3_stmt *st, const char *what, bp_err *e);

/* The scripts.id of text, stored first if it is not there yet; -1 on
 * failure. Call inside a write transaction. */
int64_t rl_script_id(bp_runlog *log, const char *text, bp_err *e);

/* A run's or sweep's default name, the script's file name without .lua
 * ("scripts/xor.lua" -> "xor"), or "run"; into out (cap bytes). No lock. */
void rl_default_name(const char *script, char *out, size_t cap);

/* Whether s is one of the n strings of list; 0 when s is NULL. */
int rl_one_of(const char *s, const char *const *list, size_t n);

/* This machine's name, NUL-terminated, into buf (cap bytes); "?" and -1
 * when it cannot be read. */
int rl_hostname(char *buf, size_t cap);

/* Commits the buffered metrics (writer.c). On failure the rows are kept for
 * the next try, except those of runs that do not exist. */
int rl_flush_locked(bp_runlog *log, bp_err *e);

/* Takes the writer thread's error, if any, into e and returns -1; else 0.
 * Takes buf_lock itself: call it without. */
int rl_take_bg_error(bp_runlog *log, bp_err *e);

#endif
