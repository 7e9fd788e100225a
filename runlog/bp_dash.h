/* bp_dash.h: the dashboard's reads (`backprop ui`): what its pages show,
 * each a named function answering JSON text, so that the server (cli/ui*.c)
 * prepares no statement and only routes.
 *
 * Every function reads; the log given should be opened with
 * BP_RUNLOG_READONLY (SQLITE_OPEN_READONLY and PRAGMA query_only), as the
 * server does. A table of runs reads metric_summary, a row per run and
 * metric, never the metric rows; a curve reads the summaries of 256 steps
 * (bp_runlog_metric_reduce). JSON has no NaN or infinities: a NaN is null,
 * +-Inf the strings "Infinity" and "-Infinity" (JavaScript's Number() reads
 * them). Times are seconds since 1970 UTC, as stored.
 *
 * Each returns 0 with *json a malloc'd NUL-terminated text (the caller
 * frees it) and *len its length; 1 with "no run N" (or "no sweep N") in e
 * for an unknown id, *json NULL; -1 with "PATH: SQLite's message" (or "out
 * of memory") on failure, *json NULL. */
#ifndef BP_DASH_H
#define BP_DASH_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"
#include "bp_runlog.h"

/* A page of the table of runs. Strings may be NULL (or "") for "any". */
typedef struct bp_dash_runs_query {
    const char *status;          /* runs of this status only */
    const char *name;            /* runs whose name holds this text (any case) */
    const bp_runs_param *params; /* key op value, as bp_runlog_runs's */
    int n_params;
    /* The column sorted by: "id" (the default), "name", "status",
     * "final_loss", "best_loss", "steps", "duration_s", "started", or
     * "param:KEY"; NULL values last either way, then newest first. */
    const char *sort;
    int descending;
    int64_t offset, limit; /* limit <= 0: 50 */
} bp_dash_runs_query;

/* {"total": runs that pass the filter, "keys": [the parameters' keys of
 * the page's runs, sorted], "runs": [{"id", "name", "status", "started", "ended",
 * "final_loss", "final_nan", "best_loss", "steps", "duration_s",
 * "sweep_id", "trial", "params": {key: value}}, ...]}: the page's runs,
 * sorted; a bool parameter is true or false. An unknown sort column or
 * comparison fails ("unknown sort column 'x'"). */
int bp_dash_runs(bp_runlog *log, const bp_dash_runs_query *q, char **json, size_t *len,
                 bp_err *e);

/* One run: {"id", "name", "status", "script_path", "command", "seed",
 * "started", "ended", "host", "pid", "version", "message", "traceback",
 * "sweep_id", "trial", "params": {}, "tags": {}, "notes": [{"time",
 * "text"}], "metrics": [{"name", "count", "nan_count", "first_step",
 * "last_step", "last", "min", "max", "unit" ("step" or "epoch")}] (by
 * name, from metric_summary),
 * "snapshots": [{"name", "count", "first", "last"}]}. */
int bp_dash_run(bp_runlog *log, int64_t run, char **json, size_t *len, bp_err *e);

/* Metric `name` of run for a chart: {"name", "unit" ("step", or "epoch":
 * what x counts), "count" (values logged),
 * "reduced" (true when fewer points than values), "x": [steps], "y":
 * [values]}, at most max_points points (>= 2): a long series as
 * bp_runlog_metric_reduce cuts it, each bucket its least and greatest
 * values at their steps, in order of step, so that spikes and the global
 * extremes stay. A metric the run did not log gives empty arrays. With
 * with_time, two more: "t": [each point's seconds since the run began, to
 * the millisecond, as bp_runlog_time_axis places it] and "t_estimated"
 * (true when no times were recorded: a steady pace). */
int bp_dash_metric(bp_runlog *log, int64_t run, const char *name, size_t max_points,
                   int with_time, char **json, size_t *len, bp_err *e);

/* Every sweep, newest first: [{"id", "name", "status", "strategy",
 * "objective", "direction", "planned" (trials), "started", "ended"}]. An empty array
 * on a database without sweeps. */
int bp_dash_sweeps(bp_runlog *log, char **json, size_t *len, bp_err *e);

/* One sweep: its row as bp_dash_sweeps' with "keys": [swept keys], "spec",
 * "prune", "message", and "trials": [{"trial", "run", "status",
 * "objective", "params": {key: value}}] best first (the completed, in the
 * sweep's direction), then the others by trial. */
int bp_dash_sweep(bp_runlog *log, int64_t sweep, char **json, size_t *len, bp_err *e);

/* The weights of run's snapshot `name` (NULL: "net") as histograms: for
 * each of at most max_steps snapshots, evenly chosen, each layer's weights
 * (its biases apart) in `bins` bins over the layer's range across them:
 * {"name", "steps": [...], "layers": [{"label" ("layer 1 weights",
 * "layer 1 biases"), "lo", "hi", "counts": [[bins] per step]}]}. */
int bp_dash_weights(bp_runlog *log, int64_t run, const char *name, int max_steps,
                    int bins, char **json, size_t *len, bp_err *e);

/* The history of one value of run's snapshot `name`: value k of the flat
 * order (bp_runlog_snapshot's) at every snapshot: {"index", "steps": [],
 * "values": []}. */
int bp_dash_weight_history(bp_runlog *log, int64_t run, const char *name, int64_t index,
                           char **json, size_t *len, bp_err *e);

/* The SQL box: the user's SQL on a connection of its own, as
 * bp_runlog_query runs it (read only, anything else refused with SQLite's
 * or the authorizer's message), stopped after timeout_s seconds in SQLite.
 * {"columns": [names], "rows": [[values]] (at most max_rows), "count": rows
 * the statement returned, "capped": more than max_rows, "error": null or
 * the message, "timeout": whether the time limit stopped it}, of its last
 * statement that returns columns. A refused or failed query is an answer
 * (0) with its "error"; -1 only when memory runs out. */
int bp_dash_sql(const char *path, const char *sql, double timeout_s, size_t max_rows,
                char **json, size_t *len, bp_err *e);

#endif
