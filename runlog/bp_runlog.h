/* bp_runlog.h: the run log, every run of backprop recorded in SQLite.
 *
 * One database (results/runs.db unless --db or BACKPROP_DB say otherwise)
 * holds every run: its script, parameters, metrics, weight snapshots, tags
 * and notes. The schema, its views and the reasons behind them are described
 * in runlog/schema/; tests/queries.sql shows how to ask it questions.
 *
 * Metrics are the hot path: bp_runlog_metric only appends to a buffer in
 * memory, and a background writer thread commits the buffer in short
 * transactions, a row's commit starting at most a quarter of a second after
 * it was logged; when the database cannot keep up, bp_runlog_metric waits
 * for the writer, so that a run killed with SIGKILL loses at most its last
 * second of metrics whatever its rate. Everything else (runs, parameters,
 * snapshots, tags, notes) is committed before the call returns.
 * Transactions stay short so that several processes can share a database.
 *
 * A bp_runlog is used from one thread at a time (its writer thread aside,
 * which blocks every signal so that signals reach the caller's threads).
 * No function here may be called from a signal handler: a host sets a flag
 * there and calls bp_runlog_end from its normal code.
 *
 * Every fallible function returns 0 (or an id) on success and -1 on failure
 * with one sentence in *e (e may be NULL). Messages name the database file.
 * On a log opened read-only, every function that writes fails with "PATH:
 * the run log was opened read-only". A write about a run that does not
 * exist fails too (a metric's at a later call: see bp_runlog_metric). Once
 * the path no longer names the file that was opened (deleted, or another
 * file moved over it), every write fails: "PATH: the database file was
 * deleted or replaced while the run was writing". */
#ifndef BP_RUNLOG_H
#define BP_RUNLOG_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"

/* The schema version this build writes (PRAGMA user_version). */
#define BP_RUNLOG_SCHEMA 12
/* PRAGMA application_id of a backprop database: "BPRL". */
#define BP_RUNLOG_APP_ID 0x4250524c

typedef struct bp_runlog bp_runlog;

/* The database to use: opt when it is neither NULL nor empty (the --db
 * option), else $BACKPROP_DB when set and not empty, else "results/runs.db".
 * The result is opt, getenv's string or a literal: do not free it. */
const char *bp_runlog_default_path(const char *opt);

/* Now as the run log stores times: seconds since 1970-01-01 UTC, to the
 * millisecond. For anyone writing a time into the same database. */
double bp_runlog_time(void);

/* Flags of bp_runlog_open. */
enum {
    BP_RUNLOG_READONLY = 1,  /* read only; the file must exist and be current */
    BP_RUNLOG_MUSTEXIST = 2, /* fail instead of creating a new database */
    BP_RUNLOG_READER = 4,    /* the caller only reads (`runs`, `show`...): the
                                file must exist; opened for writing where it
                                and its directory can be written, so that it
                                is reaped and migrated as then, read-only
                                elsewhere (a read-only medium) */
    BP_RUNLOG_UNTOUCHED = 8, /* as BP_RUNLOG_READONLY, and no file is made
                                beside it: opened immutable when no -wal or
                                -shm file is there (no connection has it
                                open), so that none is left behind; check
                                bp_runlog_changed once the reads are done */
};

/* Opens (or creates) the run log at path.
 * Writable (flags without BP_RUNLOG_READONLY): creates the missing parent
 * directories, creates the schema in a new or empty file, migrates an older
 * one, sets WAL mode, opens (or creates) the lock file PATH-lock beside it,
 * whose locks say which runs and sweeps are alive (runlog/liveness.c), and
 * marks 'crashed' every run whose process is certainly gone
 * (bp_runlog_reap).
 * Read-only: opens with SQLITE_OPEN_READONLY and PRAGMA query_only; on a
 * read-only medium or in a directory that cannot be written too, where a
 * WAL database with no -shm file is opened immutable (runlog_int.h,
 * rl_read_uri), and without creating any file there.
 * Both register bp_weights (bp_sqlext.h) and turn on foreign keys.
 * Returns NULL, without creating or modifying any file, when the file is not
 * a backprop database ("PATH: not a backprop database (file is not a
 * database)"), was written by a newer backprop ("PATH: database schema
 * version N is newer than this backprop understands (M); upgrade backprop"),
 * cannot be read ("PATH: cannot read (Permission denied)"), cannot be
 * written when opened for writing ("PATH: read-only (Read-only file
 * system)", "PATH: cannot write in DIR (Permission denied)"), or cannot be
 * created. Close with bp_runlog_close. */
bp_runlog *bp_runlog_open(const char *path, int flags, bp_err *e);

/* Whether a log opened with BP_RUNLOG_UNTOUCHED, read immutable, has been
 * written since it was opened (a writer came, or the file was replaced):
 * what was read may then be torn, and should be read again. 0 for any
 * other log. */
int bp_runlog_changed(const bp_runlog *log);

/* Commits what is buffered, stops the writer thread, closes; accepts NULL.
 * A run not ended stays 'running', and is shown as crashed once its log is
 * closed (it no longer holds the run's lock) or its process gone: call
 * bp_runlog_end first. */
void bp_runlog_close(bp_runlog *log);

/* The path given to bp_runlog_open: the log's copy, valid until
 * bp_runlog_close. */
const char *bp_runlog_path(const bp_runlog *log);

/* What bp_runlog_begin records about a run. Every pointer may be NULL. */
typedef struct bp_run_info {
    const char *name;        /* NULL: the script's file name without .lua */
    const char *script_path; /* as given on the command line */
    const char *script_text; /* stored once per distinct text */
    const char *command;     /* the command line, for `backprop show` */
    int has_seed;            /* 0: the seed is unknown (NULL) for now */
    int64_t seed;
    const char *host;    /* NULL: gethostname() */
    long pid;            /* 0: getpid() */
    const char *version; /* NULL: this build's BP_VERSION */
    int64_t sweep_id;    /* > 0: the run is trial `trial` of this sweep */
    int64_t trial;
} bp_run_info;

/* Starts a run: status 'running', started now, held by this log (its lock,
 * until bp_runlog_close or the process ends) unless info names another
 * process (pid or host). Returns its id (> 0), or -1. */
int64_t bp_runlog_begin(bp_runlog *log, const bp_run_info *info, bp_err *e);

/* Change the seed or the name of a run (a script may set them late). The
 * name must not be NULL or empty. */
int bp_runlog_set_seed(bp_runlog *log, int64_t run, int64_t seed, bp_err *e);
int bp_runlog_set_name(bp_runlog *log, int64_t run, const char *name, bp_err *e);

/* Records parameter key of a run, with its type (integers and reals compare
 * as numbers in SQL, so `value < 0.05` works; a bool is stored as 0 or 1
 * with type 'bool'). Recording a key again replaces its value; repeating
 * the same key and value costs no write. key must not be NULL or empty. */
int bp_runlog_param_int(bp_runlog *log, int64_t run, const char *key, int64_t value,
                        bp_err *e);
int bp_runlog_param_real(bp_runlog *log, int64_t run, const char *key, double value,
                         bp_err *e);
int bp_runlog_param_text(bp_runlog *log, int64_t run, const char *key, const char *value,
                         bp_err *e);
int bp_runlog_param_bool(bp_runlog *log, int64_t run, const char *key, int value,
                         bp_err *e);

/* Logs metric `name` (any name: "loss", "accuracy", "lr"...) of a run at a
 * training step (BP_UNIT_STEP: see bp_runlog_metric_unit below, which can
 * refuse it with -2). Buffered; NaN and +-Inf are kept (NaN is read back as NaN). Logging
 * the same name and step again replaces the value. Fails when the name is
 * empty, or to report a failure of the writer thread since the last call
 * (the rows it could not write are kept and retried, except rows of a run
 * that does not exist, which can never be written and are dropped). Waits
 * while the writer is behind. Rows that can never be written are not
 * recorded, and the call fails saying how many ("...; N metric rows not
 * recorded"): past 4 Mi rows kept while the database fails, and every row
 * once the file is deleted or replaced. */
int bp_runlog_metric(bp_runlog *log, int64_t run, const char *name, int64_t step,
                     double value, bp_err *e);

/* What a metric's steps count (the metric_units table, runlog/schema/8.sql):
 * training steps (batches), or epochs. A metric keeps one unit in a run. */
typedef enum bp_metric_unit { BP_UNIT_STEP = 0, BP_UNIT_EPOCH = 1 } bp_metric_unit;
/* Their names as the database spells them: "step", "epoch". */
extern const char *const bp_metric_unit_names[2];

/* Logs metric `name` of a run at an epoch, as bp_runlog_metric logs one at
 * a step (bp_runlog_metric is this with BP_UNIT_STEP). The first value of a
 * name in a run fixes its unit; a value of it in the other unit is refused,
 * returning -2 (not -1: the caller's mistake, not the database's) with
 * "metric 'NAME' of run N is logged per epoch: it cannot be logged per step
 * too (a metric keeps one unit in a run; give the per-step one another
 * name)", or the same with the units swapped. Also the unit the database
 * holds for the name, when an earlier process logged it (a resumed run). */
int bp_runlog_metric_unit(bp_runlog *log, int64_t run, const char *name,
                          bp_metric_unit unit, int64_t at, double value, bp_err *e);

/* Records that epoch `epoch` of a run ended at training step `step` (the
 * epochs table), buffered with the metrics; recording an epoch again
 * replaces its step. Fails as bp_runlog_metric does. */
int bp_runlog_epoch_end(bp_runlog *log, int64_t run, int64_t epoch, int64_t step,
                        bp_err *e);

/* Logs the weights and biases of a network at a step, exactly. sizes holds
 * n_layers + 1 widths (inputs, then each layer's outputs); params holds
 * n_params values in the engine's flat order (bp_net_params_get: layer by
 * layer, W row by row, W[n*I + i] = w_{l,n+1,i+1}, then the biases).
 * float32 != 0 stores them rounded to float (4 bytes each) instead of 8.
 * name tells several networks apart (NULL: "net"); a second snapshot with the
 * same run, name and step replaces the first. Fails (writing nothing) when
 * n_params does not match the sizes. */
int bp_runlog_snapshot(bp_runlog *log, int64_t run, int64_t step, const char *name,
                       int n_layers, const int *sizes, const double *params,
                       size_t n_params, int float32, bp_err *e);

/* The same for a graph of modules (bp_graph.h): its n tensors t (buffers
 * too; bp_net_param_list) named and shaped in the row's shape, one a line
 * ("conv1.weight:8x1x3x3", bp_sqlext.h), params their n_params values in
 * that order (bp_net_params_get). Fails, writing nothing, when the tensors
 * do not hold n_params values or a name holds a line break. */
struct bp_param;
int bp_runlog_snapshot_tensors(bp_runlog *log, int64_t run, int64_t step, const char *name,
                               const struct bp_param *t, int n, const double *params,
                               size_t n_params, int float32, bp_err *e);

/* Tags (key, optional value; setting a key again replaces its value) and
 * free-text notes (kept in order, with their time). The key must not be NULL
 * or empty, nor the text NULL. */
int bp_runlog_tag(bp_runlog *log, int64_t run, const char *key, const char *value,
                  bp_err *e);
int bp_runlog_note(bp_runlog *log, int64_t run, const char *text, bp_err *e);

/* Records text (a sample a model wrote) under name at step, in the texts
 * table (schema 10), with the time; committed before it returns. name and
 * text must not be NULL. */
int bp_runlog_text(bp_runlog *log, int64_t run, const char *name, int64_t step,
                   const char *text, size_t len, bp_err *e);

/* Commits the buffered metrics now. Returns -1 if that fails (the rows are
 * kept for the next try, as above) or if the writer thread failed since the
 * last call. */
int bp_runlog_flush(bp_runlog *log, bp_err *e);

/* Every status a run can have (the runs table's status column): "running",
 * then the ends bp_runlog_end sets, in the order its comment names them. */
#define BP_RUNLOG_N_STATUSES 7
extern const char *const bp_runlog_statuses[BP_RUNLOG_N_STATUSES];

/* Ends a run: flushes, then sets its status ("completed", "failed",
 * "interrupted", "diverged", "crashed" or "pruned": a sweep's trial stopped
 * early), end time, and the error message and traceback (both may be NULL).
 * Returns -1 for another status or an unknown run. When some of the run's
 * metric rows could not be recorded (the final flush failing included), the
 * message adds why and how many ("...; N metric rows not recorded"),
 * "completed" is recorded as "failed", and it returns -1 with that. */
int bp_runlog_end(bp_runlog *log, int64_t run, const char *status, const char *message,
                  const char *traceback, bp_err *e);

/* Reading back (each flushes first, so a run sees its own writes).
 *
 * bp_runlog_metric_get: the values of metric `name` in run, by step; *steps
 * and *values are malloc'd arrays of *n entries for the caller to free (both
 * NULL when n is 0). A NaN that was logged comes back as NaN. */
int bp_runlog_metric_get(bp_runlog *log, int64_t run, const char *name, int64_t **steps,
                         double **values, size_t *n, bp_err *e);

/* bp_runlog_metric_reduce: metric `name` of run reduced for a plot to at
 * most max_points points (>= 2), keeping each stretch's least and greatest
 * values and its NaNs: buckets of consecutive steps, by step, each with its
 * count, its NaNs, its first and last step, and its least and greatest
 * values that are not NaN, with the first step of each (both NaN, at the
 * bucket's first step, when every value was NaN). A series of at most
 * max_points values comes whole, a bucket per value; a longer one in at
 * most max_points / 2 buckets (two points each) of equal spans of steps,
 * read from its summaries of 256 steps (metric_blocks), buckets of whole
 * blocks, where it spans at least max_points / 8 of them, from its rows
 * otherwise (at most 32 x max_points rows). *buckets
 * (malloc'd, *n of them; none for a metric the run did not log) is freed
 * by the caller. */
typedef struct bp_metric_bucket {
    int64_t first_step, last_step, count, nan_count;
    int64_t min_step, max_step;
    double min, max;
} bp_metric_bucket;
int bp_runlog_metric_reduce(bp_runlog *log, int64_t run, const char *name,
                            size_t max_points, bp_metric_bucket **buckets, size_t *n,
                            bp_err *e);

/* bp_runlog_snapshot_get: the snapshot `name` (NULL: "net") of run at step,
 * or its latest when step < 0. Fills *step_out (may be NULL), *n_layers,
 * *sizes (malloc'd, n_layers + 1), *params and *n_params (malloc'd, as
 * doubles); the caller frees sizes and params. A graph's snapshot has no
 * layers: *n_layers 0 (sizes holds one 1), its values in params. -1 when
 * there is none. */
int bp_runlog_snapshot_get(bp_runlog *log, int64_t run, const char *name, int64_t step,
                           int64_t *step_out, int *n_layers, int **sizes, double **params,
                           size_t *n_params, bp_err *e);

/* Marks 'crashed' every run left 'running' whose process is certainly
 * gone, and 'interrupted' every such sweep: a row recorded on this kernel
 * (its boot id) whose lock nobody holds; or, for a row without a lock (an
 * older backprop's), on this host, a pid that no longer exists or now
 * belongs to a process started after the row was taken. A run of another
 * machine is left alone. Returns how many it marked, or -1.
 * bp_runlog_open does it already. */
int bp_runlog_reap(bp_runlog *log, bp_err *e);

/* A sweep's row (see the sweeps table in runlog/schema/3.sql; bp_sweeprun.h runs
 * them). Pointers may be NULL where the table allows NULL. */
typedef struct bp_sweep_record {
    const char *uid;                       /* required: identity across databases */
    const char *name;                      /* NULL: the script's name */
    const char *script_path, *script_text; /* the text is stored once, as a run's */
    const char *spec;                      /* required: bp_sweep_spec_text */
    const char *keys;                      /* required: swept keys, space-separated */
    const char *strategy; /* required: "grid", "random", "tpe" or "tpe:multivariate" */
    int64_t trials, seed;
    int64_t repeats;       /* runs of each setting (since 9); 0 is 1 */
    const char *objective; /* required: the metric */
    int maximize;          /* 0: direction 'min', else 'max' */
    const char *prune;     /* NULL: off */
    const char *status;    /* of a new row: NULL is "running" (this process
                              takes it), or "partial" */
    const char *command;
} bp_sweep_record;

/* The id of the sweep whose uid is rec->uid, recording it first if there is
 * none (*created, when not NULL, says which). -1 on failure. */
int64_t bp_runlog_sweep(bp_runlog *log, const bp_sweep_record *rec, int *created,
                        bp_err *e);

/* Sets a sweep's status ("running", "completed", "interrupted", "failed" or
 * "partial") and message (may be NULL). "running" also takes the sweep for
 * this process (host, pid, claimed now, and its lock, held until another
 * status is set or the log is closed) and clears its end time; the others
 * set it and release the lock. Returns 1, changing nothing, with "sweep N
 * is running in another process (pid P)" when another process holds it;
 * -1 for another status or an unknown sweep. */
int bp_runlog_sweep_status(bp_runlog *log, int64_t sweep, const char *status,
                           const char *message, bp_err *e);

/* The SQL that takes a database from schema version `version` to the next
 * (0 builds version 1), as run by bp_runlog_open (runlog/schema/N.sql, kept
 * by the program: do not free); NULL when out of range.
 * For tests that build a database as an older backprop left it. */
const char *bp_runlog_schema_step(int version);

/* Whole networks: the bytes of a network file (bp_save.h) of a run at a step,
 * under a name (NULL: "net"); storing the same run, name and step again
 * replaces it. _get reads the one at step, or the latest when step < 0, into
 * *data (malloc'd, the caller frees) and sets *step_out (may be NULL);
 * -1 with "run N saved no network 'name'" when there is none. */
int bp_runlog_network_put(bp_runlog *log, int64_t run, int64_t step, const char *name,
                          const void *data, size_t len, bp_err *e);
int bp_runlog_network_get(bp_runlog *log, int64_t run, const char *name, int64_t step,
                          void **data, size_t *len, int64_t *step_out, bp_err *e);

/* Checkpoints: an opaque blob (the Lua module's) holding what a run needs to
 * go on from a step. Only the latest is kept: _put replaces every older one
 * of the run. _get reads the latest into *data (malloc'd), or sets *data to
 * NULL when the run has none; -1 only on a database failure. */
int bp_runlog_checkpoint_put(bp_runlog *log, int64_t run, int64_t step, const void *data,
                             size_t len, bp_err *e);
int bp_runlog_checkpoint_get(bp_runlog *log, int64_t run, void **data, size_t *len,
                             int64_t *step_out, bp_err *e);

/* What it takes to run a run again (`backprop run --resume ID`): its name,
 * script, the stored text of the script, status, seed, the command line
 * that started it and the parameters it read as
 * "key=value" strings whose values read back as the recorded ones. Strings
 * are malloc'd (script_path and script_text may be NULL); free with
 * bp_run_record_free. -1 for an unknown run. */
typedef struct bp_run_record {
    char *name, *script_path, *script_text, *status;
    char *command; /* the command line that started it, or NULL */
    int has_seed;
    int64_t seed;
    int n_params;
    char **params;
    int64_t sweep_id, trial; /* 0 when not a sweep's trial */
} bp_run_record;
int bp_runlog_run_get(bp_runlog *log, int64_t run, bp_run_record *r, bp_err *e);
void bp_run_record_free(bp_run_record *r);

/* Takes a run for this process: 'running' again with this host and pid,
 * claimed now, its lock held as bp_runlog_begin's, its end, message and
 * traceback cleared: the run goes on. Returns 0; 1, changing nothing, when
 * another process holds it ("run N is being resumed by another process
 * (pid P)", or "is still running in another process" when no resume took
 * it); -1 on failure. Two resumes of one run at once: one gets 0. */
int bp_runlog_reopen(bp_runlog *log, int64_t run, bp_err *e);

/* ------------------------------------------------------------------------ */
/* Reads for the commands (runlog/reads*.c)
 *
 * What `backprop runs`, `show`, `export`, `rm`, `query`, `sweep show` and
 * `plot` read, each a named function, so that nothing outside runlog/
 * prepares a statement. Results are malloc'd, and released by the _free
 * named beside them (which accept NULL); or rows are streamed to callbacks,
 * whose pointers are valid until the callback returns. A callback returning
 * nonzero stops the read, which then returns that value with e untouched.
 * Failures otherwise: -1 with "PATH: no run N" (or "no sweep N") for an
 * unknown id, "PATH: SQLite's message" for a failed statement. Each holds
 * the connection while it reads, and the reads of a run flush first. */

/* A value as SQLite holds it. r is set for INT too (as a double) and is 0
 * for NULL; s holds TEXT (NUL-terminated) or BLOB bytes, n their length. */
typedef enum bp_runlog_type {
    BP_RUNLOG_NULL,
    BP_RUNLOG_INT,
    BP_RUNLOG_REAL,
    BP_RUNLOG_TEXT,
    BP_RUNLOG_BLOB
} bp_runlog_type;
typedef struct bp_runlog_value {
    bp_runlog_type type;
    int64_t i;
    double r;
    const char *s;
    size_t n;
} bp_runlog_value;

/* bp_runlog_runs: the runs that pass every part of the filter, newest
 * first, at most limit of them (< 0: all). A parameter's test is key op
 * value, op one of = == != < <= > >= (another is an error); value compares
 * as a number when it spells one, as 1/0 when "true"/"false", else as text.
 * *rows (malloc'd, *n of them) is freed with bp_run_rows_free. */
typedef struct bp_runs_param {
    const char *key, *op, *value;
} bp_runs_param;
typedef struct bp_runs_filter {
    const char *const *status; /* any of these (n_status 0: any status) */
    int n_status;
    const char *name_glob; /* NULL: any name */
    const bp_runs_param *params;
    int n_params;
    int64_t limit;
} bp_runs_filter;
typedef struct bp_run_row {
    int64_t id;
    char *name, *status, *params; /* params as run_summary spells them, or NULL */
    /* From run_summary, NULL where it has none; final_nan: the last loss
     * logged was NaN (final_loss is NULL then too). */
    bp_runlog_value final_loss, best_loss, steps, duration_s;
    int final_nan;
} bp_run_row;
int bp_runlog_runs(bp_runlog *log, const bp_runs_filter *f, bp_run_row **rows, size_t *n,
                   bp_err *e);
void bp_run_rows_free(bp_run_row *rows, size_t n);

/* bp_runlog_run_detail: one run whole, for `backprop show`. Times are UTC
 * text, "YYYY-MM-DD HH:MM:SS.SSS" (notes' without the milliseconds); every
 * char * may be NULL where the run has nothing. Free with
 * bp_run_detail_free. */
typedef struct bp_metric_summary {
    char *name;
    bp_metric_unit unit; /* what first_step and last_step count */
    int64_t count, first_step, last_step, nan_count;
    double last, min, max; /* last NaN: it was NaN; min, max NaN: every value was */
} bp_metric_summary;
typedef struct bp_snapshot_summary {
    char *name, *steps, *shape, *dtype; /* steps ascending, as "1, 3" */
    int64_t count;
} bp_snapshot_summary;
typedef struct bp_run_detail {
    char *name, *status, *script_path, *command, *started, *ended;
    char *script_hash; /* NULL when the script's text is not stored */
    int64_t script_bytes;
    bp_runlog_value seed, duration_s;
    char *host, *version, *params, *message, *traceback;
    int64_t pid;
    int64_t sweep_id, trial, sweep_trials; /* sweep_id 0: not a sweep's trial */
    char *sweep_name;
    char **tag_keys, **tag_values; /* by key; a value may be NULL */
    size_t n_tags;
    char **note_times, **note_texts; /* in the order written */
    size_t n_notes;
    bp_metric_summary *metrics; /* the per-step ones by name, then the per-epoch */
    size_t n_metrics;
    /* The loss at about ten evenly spaced steps (NaN where it was), and its
     * least value: has_best 0 when no loss is a number; curve_unit what its
     * steps count. */
    bp_metric_unit curve_unit;
    int64_t *curve_steps;
    double *curve_values;
    size_t n_curve;
    int has_best;
    int64_t best_step;
    double best;
    bp_snapshot_summary *snapshots; /* by name */
    size_t n_snapshots;
} bp_run_detail;
int bp_runlog_run_detail(bp_runlog *log, int64_t run, bp_run_detail *d, bp_err *e);
void bp_run_detail_free(bp_run_detail *d);

/* bp_runlog_run_label: a run as a plot's legend names it: name, status,
 * and parameters as run_summary spells them ("key=value", by key). Free
 * with bp_run_label_free. */
typedef struct bp_run_label {
    char *name, *status;
    char **params;
    size_t n_params;
} bp_run_label;
int bp_runlog_run_label(bp_runlog *log, int64_t run, bp_run_label *l, bp_err *e);
void bp_run_label_free(bp_run_label *l);

/* bp_runlog_run_header: a run's record as the schema holds it, for an
 * export's header and a plot's time axis: times in seconds since 1970 UTC
 * (has_ended 0 while ended is NULL), the seed as stored (NULL when none),
 * sweep_id and trial 0 when not a sweep's trial, every char * possibly
 * NULL but name and status; its parameters by key, each with its type
 * ("int", "real", "text", "bool") and value (a bool is an INT 0 or 1, a NaN
 * real is NULL). Free with bp_run_header_free (accepts NULL). */
typedef struct bp_run_param {
    char *key, *type;
    bp_runlog_value value;
} bp_run_param;
typedef struct bp_run_header {
    int64_t id, sweep_id, trial;
    char *name, *status, *script_path, *command, *host, *version, *uid;
    bp_runlog_value seed;
    double started, ended;
    int has_ended;
    bp_run_param *params;
    size_t n_params;
} bp_run_header;
int bp_runlog_run_header(bp_runlog *log, int64_t run, bp_run_header *h, bp_err *e);
void bp_run_header_free(bp_run_header *h);

/* bp_runlog_time_axis: when the steps of a run's metric were reached, in
 * seconds since the run began, for a wall-time axis (the dashboard's, and
 * `backprop plot --x time`): the samples the writer recorded (step_times,
 * schema 12: a series' greatest step in each commit and when it was taken,
 * at most a quarter of a second late), by step; the run's duration (to now
 * while it has not ended); the series' last step; and estimated, set when
 * the series has no samples (a run recorded before schema 12), whose steps
 * are then spread over the duration at a steady pace. metric NULL reads
 * the duration alone. -1 with "PATH: no run N" or SQLite's message. Free
 * with bp_time_axis_free (accepts NULL).
 *
 * bp_time_axis_at maps a step to its time: a sample's own; between two,
 * linear; before the first, back along the first stretch's pace (the
 * origin's when there is one sample); after the last, the last stretch's
 * pace; never below 0 nor past the run's end (or the last sample's time).
 * Without samples: duration * step / last_step (0 when last_step <= 0). */
typedef struct bp_time_sample {
    int64_t step;
    double seconds;
} bp_time_sample;
typedef struct bp_time_axis {
    bp_time_sample *samples;
    size_t n;
    double duration;
    int64_t last_step;
    int estimated;
} bp_time_axis;
int bp_runlog_time_axis(bp_runlog *log, int64_t run, const char *metric, bp_time_axis *a,
                        bp_err *e);
double bp_time_axis_at(const bp_time_axis *a, int64_t step);
void bp_time_axis_free(bp_time_axis *a);

/* bp_runlog_run_ids_between: the ids of the runs that exist from first to
 * last (both included), ascending, into *ids (malloc'd, *n of them; none is
 * not an error). For `backprop rm 3-5`: a range names the runs in it. */
int bp_runlog_run_ids_between(bp_runlog *log, int64_t first, int64_t last, int64_t **ids,
                              size_t *n, bp_err *e);

/* bp_runlog_metric_names: the names of the metrics a run logged, sorted;
 * *names (malloc'd, *n strings) is freed with bp_runlog_strings_free. */
int bp_runlog_metric_names(bp_runlog *log, int64_t run, char ***names, size_t *n,
                           bp_err *e);
void bp_runlog_strings_free(char **v, size_t n);

/* bp_runlog_metric_unit_get: what the steps of metric `name` of run count
 * (metric_units): BP_UNIT_EPOCH for a metric logged per epoch, else
 * BP_UNIT_STEP (a series with no unit recorded, or none at all, is per
 * step). For a plot's or a chart's axis. */
int bp_runlog_metric_unit_get(bp_runlog *log, int64_t run, const char *name,
                              bp_metric_unit *unit, bp_err *e);

/* bp_runlog_epoch_ends: where run's epochs ended (the epochs table), by
 * epoch: (*epochs)[i] ended after (*steps)[i] training steps; *n 0 when the
 * run recorded none. Both arrays malloc'd, the caller frees them (NULL when
 * *n is 0 or on failure). */
int bp_runlog_epoch_ends(bp_runlog *log, int64_t run, int64_t **epochs, int64_t **steps,
                         size_t *n, bp_err *e);

/* bp_runlog_export_rows: a run's metrics, a row per training step of its
 * per-step metrics and a row per epoch of its per-epoch ones, never one row
 * for both. header gets the run's metric names (sorted) once; then row gets
 * each row that has a value: `at` says which (a step's: has_epoch 0; an
 * epoch's: its number, and the step where it ended when that was recorded,
 * else has_step 0), values[c] of metric c (NaN where NaN was logged) and
 * logged[c] 0 where metric c has no value there. Rows come by step, an
 * epoch's after the step's where it ended, and the epochs whose end is not
 * known last, by epoch. */
typedef struct bp_export_at {
    int has_step, has_epoch;
    int64_t step, epoch;
} bp_export_at;
typedef struct bp_export_sink {
    int (*header)(void *ctx, size_t ncol, const char *const *names);
    int (*row)(void *ctx, const bp_export_at *at, size_t ncol, const double *values,
               const unsigned char *logged);
    void *ctx;
} bp_export_sink;
int bp_runlog_export_rows(bp_runlog *log, int64_t run, const bp_export_sink *sink,
                          bp_err *e);

/* bp_runlog_rm: deletes runs ids[0..n) with everything they logged, and the
 * scripts no run refers to any more: all or none, in one transaction. A
 * run still running is an error unless force. */
int bp_runlog_rm(bp_runlog *log, const int64_t *ids, size_t n, int force, bp_err *e);

/* bp_runlog_summaries_check: the metric summaries the writer keeps with the
 * rows (metric_summary and metric_blocks, runlog/schema/6.sql) against a
 * rebuild from the metric rows, for run (0: every run). Returns how many
 * summaries (of a series, or of a block of 256 steps) differ, 0 when all
 * agree, the first described in what (cap bytes; "" when none): "run 3,
 * metric 'loss': count 10, from the rows 11", "run 3, metric 'loss', block
 * 2: a summary without rows"; *series (may be NULL) gets how many series
 * were compared. -1 on failure. */
int64_t bp_runlog_summaries_check(bp_runlog *log, int64_t run, int64_t *series,
                                  char *what, size_t cap, bp_err *e);

/* bp_runlog_sweeps_list: every sweep, newest first, for `sweep show`.
 * started is UTC text, "YYYY-MM-DD HH:MM:SS". Free with bp_sweep_list_free. */
typedef struct bp_sweep_item {
    int64_t id;
    char *name, *status, *strategy, *direction, *objective, *started;
    int64_t done, trials; /* done: trials completed, failed, diverged or pruned */
    bp_runlog_value best; /* the best objective of the completed trials */
} bp_sweep_item;
int bp_runlog_sweeps_list(bp_runlog *log, bp_sweep_item **rows, size_t *n, bp_err *e);
void bp_sweep_list_free(bp_sweep_item *rows, size_t n);

/* bp_runlog_sweep_detail: a sweep's row (see the sweeps table); times as
 * bp_sweep_item's, NULL where the row has none. "PATH: this database has no
 * sweeps (an older backprop made it)" when it has no such table. Free with
 * bp_sweep_detail_free. */
typedef struct bp_sweep_detail {
    char *name, *status, *script_path, *spec, *strategy, *direction, *objective;
    char *prune, *started, *ended, *command, *uid, *keys, *message;
    int64_t trials;
} bp_sweep_detail;
int bp_runlog_sweep_detail(bp_runlog *log, int64_t sweep, bp_sweep_detail *d, bp_err *e);
void bp_sweep_detail_free(bp_sweep_detail *d);

/* bp_runlog_sweep_trials: a sweep's trials (the view sweep_trials), by
 * trial, or with best_first the ranked ones (completed, with an objective)
 * first by the objective in the sweep's direction, then the others by
 * trial. params[k] is the trial's value of keys[k] (a bool as the text
 * "true" or "false"), NULL where it has none. Free with
 * bp_trial_rows_free. */
typedef struct bp_trial_row {
    int64_t trial, run;
    char *status;
    bp_runlog_value objective, seed, duration_s;
    int ranked;
    bp_runlog_value *params;
    int n_params;
} bp_trial_row;
int bp_runlog_sweep_trials(bp_runlog *log, int64_t sweep, const char *const *keys,
                           int nkeys, int best_first, bp_trial_row **trials, size_t *n,
                           bp_err *e);
void bp_trial_rows_free(bp_trial_row *trials, size_t n);

/* bp_runlog_sweep_param_stats: for each swept parameter (in the sweep's
 * order of keys) and value, the number of completed trials and their best
 * and mean objective (the view sweep_param_stats). Free with
 * bp_sweep_param_stats_free. */
typedef struct bp_sweep_param_stat {
    char *key;
    bp_runlog_value value, trials, best, mean;
} bp_sweep_param_stat;
int bp_runlog_sweep_param_stats(bp_runlog *log, int64_t sweep,
                                bp_sweep_param_stat **stats, size_t *n, bp_err *e);
void bp_sweep_param_stats_free(bp_sweep_param_stat *stats, size_t n);

/* bp_runlog_query: `backprop query`, the user's SQL (one statement or more)
 * on a connection of its own to the database at path, that only reads: as
 * bp_runlog_open with BP_RUNLOG_READONLY opens it (bp_weights registered,
 * query_only), in SQLite's defensive mode, without extensions or the FTS3
 * tokenizer's pointers, and with an authorizer that refuses whatever is
 * not reading (writes, ATTACH, VACUUM, transactions, PRAGMAs that set or
 * do something, load_extension, fts3_tokenizer): "WHAT is not allowed: a
 * query only reads" ("PRAGMA query_only = 0 is not allowed: ..."). The SQL
 * stops once it has spent timeout_s seconds in SQLite (0: no limit; the
 * time the callbacks take does not count): "time limit of Ns reached".
 * For each statement that returns columns: begin with their names (valid
 * until end), row for each of its rows, end (ok 0: the statement failed).
 * Statements without columns just run. Returns 0, -2 for the time limit,
 * or -1 with SQLite's message alone in e (bp_runlog_open's when the
 * database cannot be opened); a callback's nonzero return stops it, as
 * above. */
typedef struct bp_query_sink {
    int (*begin)(void *ctx, int ncol, const char *const *names);
    int (*row)(void *ctx, int ncol, const bp_runlog_value *values);
    void (*end)(void *ctx, int ok);
    void *ctx;
} bp_query_sink;
int bp_runlog_query(const char *path, const char *sql, double timeout_s,
                    const bp_query_sink *sink, bp_err *e);

#endif
