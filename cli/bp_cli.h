/* bp_cli.h: backprop's database commands: runs, show, query, rm, export.
 *
 * Each takes the database path (NULL: bp_runlog_default_path(NULL), that is
 * $BACKPROP_DB or results/runs.db), the arguments after the command's name,
 * and the streams to write to. `--db PATH` (or --db=PATH) among the
 * arguments overrides db. Each returns the process's exit status: 0 on
 * success, 1 on any error, after printing one line "backprop: <what went
 * wrong>" to err (the caller adds nothing). Numbers are printed readably
 * (%.6g) in tables and exactly (the shortest text that reads back as the
 * same double) in CSV and JSON.
 *
 *   runs [--status S]... [--name GLOB] [--param KEY<OP>VALUE]... [--limit N | --all]
 *       Recent runs, newest first (20 unless --limit or --all), one line
 *       each: id, name, status, parameters, final and best loss, steps,
 *       duration. OP is one of = != < <= > >=, and VALUE compares as a number
 *       when it is one: --param 'lr<0.05' --param hidden=4.
 *   show ID
 *       One run whole: its record, parameters, tags, notes, error and
 *       traceback, every metric summarised, the loss curve at about ten
 *       steps, and its snapshots.
 *   query [--csv | --json | --table] [--timeout SECONDS] SQL...
 *       Runs SQL (the arguments joined by spaces) on a connection that only
 *       reads (bp_runlog_query), with bp_weights (bp_sqlext.h) loaded;
 *       prints, as the rows come, an aligned table (in blocks of 1000 rows,
 *       each aligned to the widest cells so far), CSV with a header line, or
 *       a JSON array of objects (NaN, Inf and NULL are null in JSON, which
 *       has no NaN; BLOBs are hex strings). SQLite's own message for bad
 *       SQL; "WHAT is not allowed: a query only reads" for anything but
 *       reading; "time limit of Ns reached (--timeout)" once the SQL has
 *       run for --timeout seconds (default 60, 0 for none).
 *   rm [--force] [--yes] ID...
 *       Deletes runs with everything they logged, all or none. Each ID is
 *       an id, a range FIRST-LAST (the runs that exist in it; none is an
 *       error) or a list of both, "3,7-9". On a terminal the runs are listed
 *       on err and a "y" is asked for on stdin, unless --yes; when stdin is
 *       not a terminal, --yes is required (nothing is deleted without it).
 *       A run still running needs --force. Prints "deleted run N" a run.
 *   export ID [--csv | --json] [-o FILE]
 *       A run's metrics as CSV: comment lines "# key: value" first (the
 *       run's record, then "# param KEY = VALUE" a parameter), then a column
 *       `step` and one column per metric (sorted by name); an empty cell
 *       where a metric was not logged; NaN and infinities as nan, inf,
 *       -inf. --json: one object {"run": {...}, "params": {...},
 *       "metrics": {NAME: {"steps": [...], "values": [...]}}}, parameters
 *       typed, NaN null and infinities "Infinity", "-Infinity".  */
#ifndef BP_CLI_H
#define BP_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Prints "backprop: " and the formatted message on a line of err; returns
 * 1, the exit status of a failed command. Every command's errors go through
 * it, so they all read alike. */
int bp_cli_fail(FILE *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A run's or a sweep's id: a whole decimal number >= 1, nothing around it.
 * 0 and *id set, or -1. */
int bp_cli_parse_id(const char *s, int64_t *id);

int bp_cli_runs(const char *db, int argc, char **argv, FILE *out, FILE *err);
int bp_cli_show(const char *db, int argc, char **argv, FILE *out, FILE *err);
int bp_cli_query(const char *db, int argc, char **argv, FILE *out, FILE *err);
int bp_cli_rm(const char *db, int argc, char **argv, FILE *out, FILE *err);
int bp_cli_export(const char *db, int argc, char **argv, FILE *out, FILE *err);

/* check [--summaries] [ID...]: the metric summaries of every run, or of the
 * runs named, against a rebuild from their rows (bp_runlog_summaries_check):
 * "summaries of N metric series agree with their rows", or 1 and "K
 * summaries differ from their rows; the first: ..." on err. */
int bp_cli_check(const char *db, int argc, char **argv, FILE *out, FILE *err);

/* sweep show [ID] [--csv] (`backprop sweep show`): without ID, every sweep,
 * newest first (id, name, status, strategy, trials done, objective, best,
 * start). With ID, the sweep's record, then its trials (sweep_trials: one
 * row per trial) ranked by the objective, best first, each with its swept
 * parameters, seed and duration (trials not completed come last, unranked),
 * then for each parameter and value the number of completed trials and the
 * best and mean objective (sweep_param_stats). --csv prints the trials
 * table alone, numbers exact. */
int bp_cli_sweep_show(const char *db, int argc, char **argv, FILE *out, FILE *err);

/* ui [--port N] [--host ADDRESS]: the run log served read-only as a web
 * page (cli/ui.c), until SIGINT or SIGTERM. Prints "backprop ui: DB,
 * read-only, at http://HOST:PORT/ (Ctrl-C stops)" on out once it listens
 * (--port 0: a free port, the one printed), a loud warning on err when
 * HOST is not loopback; 1 after saying why when the database cannot be
 * opened read-only or the port cannot be had. */
int bp_cli_ui(const char *db, int argc, char **argv, FILE *out, FILE *err);

#endif
