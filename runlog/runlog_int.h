/* runlog_int.h: what the files of runlog/ share, and nothing outside it
 * includes (the tests aside, which look into the database they test).
 *
 * The connection and its two locks, the metric buffers, and the helpers
 * that turn SQLite's failures into one sentence naming the file. Each
 * function below is defined in the file its group names. Every function
 * here is called with db_lock held (bp_runlog_lock) unless it says
 * otherwise; none of them frees the log. Those that fail return -1 (or
 * NULL) with one sentence in *e, and e may be NULL. */
#ifndef RUNLOG_INT_H
#define RUNLOG_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "bp_err.h"
#include "bp_runlog.h"

/* ------------------------------------------------------------------------ */
/* The log                                                                   */

/* A metric value waiting to be written: metric `name` (an index into the
 * log's names, rl_names) of run at step. */
typedef struct rl_row {
    int64_t run, name, step;
    double value;
} rl_row;

/* A growing array of rows: n of cap used, v malloc'd. */
typedef struct rl_rows {
    rl_row *v;
    size_t n, cap;
} rl_rows;

/* A metric name interned: its index in rl_names.list. */
typedef struct rl_name_slot {
    char *name; /* NULL: empty slot */
    size_t idx;
} rl_name_slot;

/* The metric names this log has seen, numbered in the order they came. A
 * row carries the number; the writer finds (or inserts) each new name's
 * metric_names.id inside the transaction that writes its first rows, so a
 * new name costs no transaction of its own. */
typedef struct rl_names {
    /* The logging thread's: the hash table (open addressing, cap a power of
     * two) and the list by number, which grows under buf_lock because the
     * writer copies it. */
    rl_name_slot *slots;
    size_t cap, n;
    char **list;
    size_t list_cap;
    /* The writer's, under db_lock: the first `copied` of list, their ids in
     * the database, of which the first `known` are committed. */
    char **wlist;
    int64_t *ids;
    size_t copied, known, wcap;
} rl_names;

/* Rows of a run that could not be recorded, and the first reason why. */
typedef struct rl_lost {
    int64_t run;
    size_t n;
    char why[BP_ERR_MAX];
} rl_lost;

/* A parameter already written, so that recording it again is free. */
typedef struct rl_param_seen {
    int64_t run;
    char *key;
    char *value; /* type and value, as text */
} rl_param_seen;

/* A row of metric_units (kind RL_SIDE_UNIT: a = the name's number in
 * rl_names, b = its bp_metric_unit) or of epochs (RL_SIDE_EPOCH: a = the
 * epoch, b = the step where it ended), waiting for the writer beside the
 * metric rows. */
enum { RL_SIDE_UNIT, RL_SIDE_EPOCH };
typedef struct rl_side {
    int64_t run, a, b;
    int kind;
} rl_side;
typedef struct rl_sides {
    rl_side *v;
    size_t n, cap;
} rl_sides;

/* A series' unit, as units.c remembers it: metric number `name` of run. */
typedef struct rl_unit_seen {
    int64_t run, name;
    int unit;
} rl_unit_seen;

/* The statements of summary.c, prepared when first needed. */
#define RL_SUM_STMTS 7

/* What an immutable read must find unchanged at its end: the file's inode,
 * size and time, and whether its -wal file is there (a writer came). */
typedef struct rl_stamp {
    ino_t ino;
    off_t size;
    long long mtime_s, mtime_ns;
    int wal;
} rl_stamp;

/* Made by bp_runlog_open (open.c), freed with everything it owns by
 * bp_runlog_close. */
struct bp_runlog {
    sqlite3 *db;
    char *path; /* as given to bp_runlog_open */
    int readonly;
    /* Opened immutable (rl_read_uri): the file as it was then, which
     * bp_runlog_changed compares. */
    int immutable;
    rl_stamp stamp;
    /* The file opened (rl_identity_note): every commit checks that path still
     * names it. gone: it did not, and nothing more can be written (set with
     * both locks held, so either suffices to read it). */
    int have_identity, gone;
    dev_t dev;
    ino_t ino;
    /* db_lock guards the connection, the statements and `names`' writer
     * half; buf_lock the buffers, from `stop` to `lost`. Taken in
     * that order when both are. */
    pthread_mutex_t db_lock, buf_lock;
    pthread_cond_t wake;    /* wakes the writer thread early */
    pthread_cond_t drained; /* wakes a logging call waiting for the writer */
    pthread_t writer;
    int writer_running, stop;  /* stop: the writer thread is to return */
    rl_rows pending;           /* filled by bp_runlog_metric */
    rl_rows writing;           /* being written, or left by a failed commit */
    double pending_since;      /* bp_clock() when the oldest pending row came */
    double last_flush;         /* bp_clock() of the last commit or attempt */
    double taken_at;           /* bp_runlog_time() when the writer last took rows */
    size_t limit;              /* pending rows past which bp_runlog_metric waits */
    double rate;               /* rows per second the commits have managed */
    int failing;               /* the last commit of metrics failed */
    char fail_msg[BP_ERR_MAX]; /* why, while failing */
    char bg_err[BP_ERR_MAX];   /* the writer thread's failure, until reported */
    int bg_retried;            /* bg_err is a commit whose rows were kept for a retry */
    rl_lost *lost;             /* rows not recorded, by run */
    size_t lost_n, lost_cap;
    rl_names names;
    double wal_tried; /* bp_clock() of the last TRUNCATE checkpoint tried */
    rl_param_seen *seen;
    size_t seen_n, seen_cap;
    sqlite3_stmt *ins_one, *ins_many;  /* metric inserts, 1 and INSERT_ROWS rows */
    sqlite3_stmt *ins_time;            /* a step_times row (writer.c) */
    sqlite3_stmt *name_get, *name_put; /* a metric name's id; a new name */
    sqlite3_stmt *sum[RL_SUM_STMTS];   /* summary.c's */
    /* units.c's. The logging thread's: by name number, the unit of the
     * name in the run it was last logged for (run 0: none yet), and every
     * (run, name, unit) this log has seen. side_pending (under buf_lock) and
     * side_writing (the writer's, under db_lock) hold rows of metric_units
     * and epochs as pending and writing hold metric rows. */
    rl_unit_seen *unit_last;
    size_t unit_last_n;
    rl_unit_seen *units_seen;
    size_t units_seen_n, units_seen_cap;
    rl_sides side_pending, side_writing;
    sqlite3_stmt *unit_get, *unit_put, *epoch_put;
    /* Liveness (liveness.c): PATH-lock, where this log holds the locks of
     * its runs and sweeps, a second description of it to ask through, and
     * the kernel's boot id; -1, -1 and "" when they cannot be had. */
    int lock_fd, probe_fd;
    char boot[40];
};

/* ------------------------------------------------------------------------ */
/* What the file system allows (access.c)                                    */

/* 0 when a writable connection can work on the database at path (exists:
 * the file is there): the file can be written, and so can its directory,
 * where SQLite makes the -wal and -shm files (unless both are there,
 * writable). -1 with "PATH: read-only (REASON)" or "PATH: cannot write in
 * DIR (REASON)", REASON the system's ("Read-only file system"). */
int rl_can_write(const char *path, int exists, bp_err *e);

/* The URI a read-only connection opens path with (SQLITE_OPEN_URI),
 * malloc'd: "file:PATH?mode=ro", and "&immutable=1" where the -shm file is
 * missing and cannot be made (a read-only medium, a directory not ours),
 * where SQLite could not read a WAL database otherwise, and, when
 * `untouched`, wherever neither the -wal nor the -shm file is there (no
 * connection has the file open; a read-only one would make both and could
 * not remove them). *immutable (may be NULL) says which. NULL with "PATH:
 * cannot read (REASON)", or the same when a -wal file with changes has no
 * -shm file and none can be made. */
char *rl_read_uri(const char *path, int untouched, int *immutable, bp_err *e);

/* The stamp of the file at path now (zeroes where it cannot be read). */
void rl_stamp_take(const char *path, rl_stamp *s);

/* 1 when the file at path is not as stamped (written, replaced, or a -wal
 * file came or went), else 0. */
int rl_stamp_changed(const char *path, const rl_stamp *before);

/* ------------------------------------------------------------------------ */
/* The connection (db.c)                                                     */

/* Notes the device and inode of the file at log->path, for rl_commit to
 * compare. Call once the connection is open. */
void rl_identity_note(bp_runlog *log);

/* The connection, for runlog's files and the tests. Hold the lock while the
 * writer thread may be committing metrics. bp_runlog_lock and _unlock take
 * and release db_lock; they do not nest. */
sqlite3 *bp_runlog_sqlite(bp_runlog *log);
void bp_runlog_lock(bp_runlog *log);
void bp_runlog_unlock(bp_runlog *log);

/* How long a write waits for another process's lock, all attempts
 * together: 60 s, or $BACKPROP_BUSY_TIMEOUT seconds. Needs no lock. */
double rl_busy_seconds(void);

/* One attempt's wait for a lock, in milliseconds, for sqlite3_busy_timeout:
 * rl_busy_seconds shared between the attempts. Needs no lock. */
int rl_busy_ms(void);

/* Whether a call that returned rc at attempt t (the first at `start`, on
 * bp_clock) should be tried again: 1, after a nap, while rc is SQLITE_BUSY
 * and rl_busy_seconds have not passed. Needs no lock. */
int rl_retry_busy(int rc, int t, double start);

/* "PATH: what (SQLite's message)", with the wait when the database was
 * locked; returns -1. */
int rl_fail(bp_runlog *log, bp_err *e, const char *what);

/* sqlite3_exec of sql; -1 with rl_fail(what). */
int rl_exec(bp_runlog *log, const char *sql, const char *what, bp_err *e);

/* BEGIN IMMEDIATE and COMMIT, each retried while another process holds the
 * lock (rl_busy_seconds in all); a failed commit rolls back. A commit is
 * refused (and rolled back) once the path no longer names the file that was
 * opened: "PATH: the database file was deleted or replaced while the run was
 * writing", and log->gone is set. rl_rollback ends an open transaction, if
 * any. */
int rl_begin_write(bp_runlog *log, bp_err *e);
int rl_commit(bp_runlog *log, bp_err *e);
void rl_rollback(bp_runlog *log);

/* A prepared statement (the caller finalizes it), or NULL with "cannot
 * prepare a statement". */
sqlite3_stmt *rl_prepare(bp_runlog *log, const char *sql, bp_err *e);

/* A persistent statement kept in *st, prepared by the first call (later
 * ones find it there); -1 with "cannot prepare a statement". The file that
 * keeps *st finalizes it as the log closes. */
int rl_prepare_once(bp_runlog *log, sqlite3_stmt **st, const char *sql, bp_err *e);

/* Steps st to its end and finalizes it, failed or not; -1 with
 * rl_fail(what). */
int rl_run_stmt(bp_runlog *log, sqlite3_stmt *st, const char *what, bp_err *e);

/* ------------------------------------------------------------------------ */
/* Writing (write.c)                                                         */

/* -1 with "PATH: the run log was opened read-only" if it was. No lock. */
int rl_writable(bp_runlog *log, bp_err *e);

/* Runs one prepared, bound statement as its own transaction and finalizes
 * it, failed or not; -1 with "PATH: what (no such run)" when it changed no
 * row. */
int rl_write_one(bp_runlog *log, sqlite3_stmt *st, const char *what, bp_err *e);

/* The scripts.id of text, stored first if it is not there yet; -1 on
 * failure. Call inside a write transaction. */
int64_t rl_script_id(bp_runlog *log, const char *text, bp_err *e);

/* A run's or sweep's default name, the script's file name without .lua
 * ("scripts/xor.lua" -> "xor"), or "run"; into out (cap bytes). No lock. */
void rl_default_name(const char *script, char *out, size_t cap);

/* Whether s is one of the n strings of list; 0 when s is NULL. No lock. */
int rl_one_of(const char *s, const char *const *list, size_t n);

/* This machine's name, NUL-terminated, into buf (cap bytes); "?" and -1
 * when it cannot be read. No lock. */
int rl_hostname(char *buf, size_t cap);

/* ------------------------------------------------------------------------ */
/* Who holds a run or a sweep (liveness.c)                                   */

/* The byte of PATH-lock that the process running run id, or sweep id,
 * holds locked. */
#define RL_LOCK_RUN(id) ((int64_t)(id))
#define RL_LOCK_SWEEP(id) (((int64_t)1 << 62) + (int64_t)(id))

/* Opens PATH-lock (creating it) and reads the boot id, for a writable log;
 * what cannot be had is left at -1 or "", and is no error. _close closes
 * it, which releases every lock this log holds. No lock needed. */
void rl_lock_open(bp_runlog *log);
void rl_lock_close(bp_runlog *log);

/* The lock file also keeps room (24 KiB) for a run's end on a full disk:
 * rl_room_free gives it back to the file system. 0 when it freed some, -1
 * when there was none to give (no lock file, or given already). */
int rl_room_free(bp_runlog *log);

/* Takes byte `at` for this log: 0 when taken (or this log's already), 1
 * when another log or process holds it, -1 when there is no lock to be had
 * (no lock file). _drop releases it (nothing if it is not this log's). */
int rl_lock_take(bp_runlog *log, int64_t at);
void rl_lock_drop(bp_runlog *log, int64_t at);

/* Takes the lock of run id (sweep id when sweep != 0), a row just written
 * with boot set, inside its transaction, before anyone can see it running.
 * Where the lock cannot be had (no lock file, or a byte still held by the
 * process of a deleted run whose id came back), the row's boot is made
 * NULL: the rule of host and pid judges it. 0, or -1. */
int rl_lock_row(bp_runlog *log, int sweep, int64_t id, bp_err *e);

/* Whether any log, this one included, holds byte `at`: 1, 0, or -1 when
 * that cannot be asked. */
int rl_lock_held(bp_runlog *log, int64_t at);

/* Who a 'running' row says holds it. */
typedef struct rl_owner {
    const char *host, *boot; /* the row's; NULL where it has NULL */
    long pid;
    double since; /* when that process took the row: claimed, else started */
} rl_owner;

/* Whether the owner of the row whose lock is byte `at` is certainly gone
 * (1), or alive or not to be judged from here (0): by the lock when the
 * row's boot id is this kernel's, else (on this host only) by its pid and
 * start time. */
int rl_owner_gone(bp_runlog *log, int64_t at, const rl_owner *o);

/* "(pid P)", or "(pid P on HOST)" when its host is not `host`, into buf. */
void rl_owner_text(char *buf, size_t cap, const rl_owner *o, const char *host);

/* Who holds a row that rl_claim could not take. */
typedef struct rl_holder {
    int running;   /* its status is 'running' */
    int resumed;   /* a resume took it (a run's claimed is set) */
    char who[300]; /* rl_owner_text's */
} rl_holder;

/* Takes run id (sweep id when sweep != 0) for this process, inside a write
 * transaction: a 'running' row only from an owner certainly gone, or from
 * this process; then its lock. 0 with *got (rl_lock_take's: 0 taken, -1
 * no lock to be had); 1 when another process holds it (*h says who); -1
 * ("PATH: no run N" for an unknown row). */
int rl_claim(bp_runlog *log, int sweep, int64_t id, int *got, rl_holder *h, bp_err *e);

/* ------------------------------------------------------------------------ */
/* Metrics (writer.c)                                                        */

/* Commits the buffered metrics in one transaction, with the metric names
 * they bring. On failure the rows are kept for the next try, except those
 * of runs that do not exist, which are dropped ("N rows dropped"), and all
 * of them once the file is gone (counted as not recorded). Takes buf_lock
 * itself. */
int rl_flush_locked(bp_runlog *log, bp_err *e);

/* Takes the writer thread's error, if any, into e and returns -1; else 0.
 * Takes buf_lock itself; needs no db_lock. */
int rl_take_bg_error(bp_runlog *log, bp_err *e);

/* Drops the buffered rows of run, counted as not recorded because of why.
 * Takes buf_lock itself. */
void rl_drop_run(bp_runlog *log, int64_t run, const char *why);

/* How many rows of run could not be recorded, and the first reason into why
 * (cap bytes); 0 if none. Takes buf_lock itself; needs no db_lock. */
size_t rl_lost_of(bp_runlog *log, int64_t run, char *why, size_t cap);

/* ------------------------------------------------------------------------ */
/* Metric summaries (summary.c)                                              */

/* What metric_summary and metric_blocks hold of some values of a series
 * (runlog/schema/6.sql): count, NaNs among them, first and last step, the
 * value at the last step, and the least and greatest values that are not
 * NaN with the first step at which each came (meaningless while every
 * value is NaN: count == nan_count). {0} is empty. No lock. */
typedef struct rl_agg {
    int64_t count, nan_count, first_step, last_step, min_step, max_step;
    double last, min, max;
} rl_agg;

/* Adds the value v at step, a step not in a already; _merge adds b, whose
 * steps are not in a's. */
void rl_agg_add(rl_agg *a, int64_t step, double v);
void rl_agg_merge(rl_agg *a, const rl_agg *b);

/* The columns of metric_summary and metric_blocks that hold an rl_agg, in
 * the order rl_agg_read reads them from column c on (NULL values as NaN). */
#define RL_AGG_COLUMNS \
    "count, nan_count, first_step, last_step, min_value, min_step, max_value, max_step"
void rl_agg_read(sqlite3_stmt *st, int c, rl_agg *a);

/* Brings the summaries of the series of rows v[0..n) up to date with them,
 * the rows sorted as the writer inserts them (by run, name, step; of equal
 * steps the last is the value) and inserted already; ids maps a row's name
 * to its metric_names.id. Call inside the write transaction of the rows. */
int rl_summaries_update(bp_runlog *log, const rl_row *v, size_t n, const int64_t *ids,
                        bp_err *e);

/* Whether the database has the summaries' tables (1 or 0). */
int rl_summaries_exist(bp_runlog *log);

/* Summarises every metric row, into tables that hold nothing yet (the
 * migration that made them). Call inside a write transaction. */
int rl_summaries_fill(bp_runlog *log, bp_err *e);

/* Finalizes summary.c's statements. */
void rl_summaries_finalize(bp_runlog *log);

/* ------------------------------------------------------------------------ */
/* Metric units and epochs (units.c)                                         */

/* Checks that metric number `name` (rl_name_index's, spelt `text`) of run
 * keeps its unit: 0, remembering it (and queueing its metric_units row
 * when it is new to the run); -2 with bp_runlog_metric_unit's message when
 * the run logged it in the other unit, here or (a resumed run) in the
 * database; -1 when the database cannot say. The logging thread's; takes
 * the locks it needs itself. */
int rl_unit_check(bp_runlog *log, int64_t run, int64_t name, const char *text, int unit,
                  bp_err *e);

/* Appends a row to side_pending, waking the writer for an epoch's (a
 * unit's comes with a metric row, which wakes it). Takes buf_lock. */
int rl_side_add(bp_runlog *log, rl_side row, bp_err *e);

/* Moves side_pending behind side_writing. buf_lock held. */
int rl_sides_take(bp_runlog *log, bp_err *e);

/* Writes side_writing, the names resolved (ids by name number), inside the
 * writer's transaction; rows of a run that does not exist are skipped.
 * side_writing is emptied by the caller once the transaction commits. */
int rl_sides_insert(bp_runlog *log, const int64_t *ids, bp_err *e);

/* Finalizes units.c's statements and frees its memory. No lock. */
void rl_units_free(bp_runlog *log);

/* ------------------------------------------------------------------------ */
/* Metric names (names.c)                                                    */

/* The number of metric `name` in this log, numbered now if it is new. Only
 * the logging thread calls it; takes buf_lock itself, needs no db_lock. */
int rl_name_index(bp_runlog *log, const char *name, int64_t *idx, bp_err *e);

/* Copies, for the writer, the names numbered since the last call. Call with
 * buf_lock held too. */
int rl_names_copy(bp_runlog *log, bp_err *e);

/* The metric_names ids of the names copied and not yet committed, found or
 * inserted. Call inside a write transaction; once it is committed, set
 * names.known = names.copied. */
int rl_names_resolve(bp_runlog *log, bp_err *e);

/* Frees what t owns. No lock. */
void rl_names_free(rl_names *t);

#endif
