/* bp_sweeprun.h: running sweeps, pruning their trials, and merging the
 * databases that shards of a sweep wrote.
 *
 * bp_sweep.h says what a sweep is (its specification and its trials); this
 * runs one. A sweep is a row of the run log's sweeps table (runlog.c); each
 * trial is a run of the script, `backprop run --sweep ID --trial I --seed S
 * SCRIPT key=value...`, in a process of its own, so that a trial that
 * crashes takes nothing else down, linked to the sweep by the run's sweep_id
 * and trial. The trial's seed is bp_sweep_trial_seed of the sweep's seed and
 * the trial's parameters, so a trial gives the same bits alone, in parallel,
 * after a resume or on another machine.
 *
 * A trial is done once a run of it has ended completed, failed, diverged or
 * pruned; a resume runs the others (never run, crashed, interrupted). The
 * first trial of a sweep runs alone: a trial that fails because the script
 * never reads a swept key ("parameter given but never read") stops the
 * sweep (status 'failed') after one trial rather than -j of them.
 *
 * Pruning (off unless asked for): the script reports its objective as it
 * goes (bp.report(value, step), lsweep.c), and at each report the trial's
 * process reads what the sweep's other trials reported from the database:
 *  - median:K       prune when the trial's best value so far is worse than
 *                   the median of the values that at least K completed
 *                   trials reported at the same step (default K = 3).
 *  - halving:S:ETA  successive halving, asynchronous (ASHA): rungs at steps
 *                   S, S*ETA, S*ETA^2...; a trial reaching a rung (its first
 *                   report at or past it) goes on only if its value there is
 *                   among the best 1/ETA of the values every trial of the
 *                   sweep had there (at least the best one goes on).
 *                   Defaults S = 1, ETA = 3.
 * What the others reported depends on which trials ran first: with -j 1
 * the decisions are reproducible, with more workers they may vary.
 *
 * Every fallible function returns 0 (or an id) on success and -1 with one
 * sentence in *e. The two *_main functions are commands: they print, and
 * return an exit status. */
#ifndef BP_SWEEPRUN_H
#define BP_SWEEPRUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bp_err.h"
#include "bp_runlog.h"

/* ------------------------------------------------------------------------ */
/* What a sweep judges, and when it stops a trial                            */

typedef struct bp_objective {
    char metric[64]; /* its value at the last step a run logged it */
    int maximize;    /* 0: smaller is better */
} bp_objective;

/* "[min:|max:]METRIC" (default min). -1 for an empty or too long name. */
int bp_objective_parse(const char *text, bp_objective *o, bp_err *e);

typedef enum bp_prune_rule { BP_PRUNE_NONE, BP_PRUNE_MEDIAN, BP_PRUNE_HALVING } bp_prune_rule;

typedef struct bp_prune {
    bp_prune_rule rule;
    int min_trials;   /* median: completed trials needed at a step, >= 1 */
    int64_t min_step; /* halving: the first rung, >= 1 */
    int eta;          /* halving: 1/eta go on at each rung, >= 2 */
} bp_prune;

/* "median[:K]", "halving[:MIN_STEP[:ETA]]", or NULL, "" or "none" (off).
 * -1 with a message naming the text for anything else. */
int bp_prune_parse(const char *text, bp_prune *p, bp_err *e);

/* The canonical text ("median:3", "halving:1:3"; "" when off) into buf. */
void bp_prune_text(const bp_prune *p, char *buf, size_t size);

/* A sweep as a trial's process needs it (bp.report). */
typedef struct bp_sweep_info {
    int64_t id;
    bp_objective objective;
    bp_prune prune;
} bp_sweep_info;

/* Reads sweep id from the log. -1 when there is no such sweep. */
int bp_sweep_info_load(bp_runlog *log, int64_t id, bp_sweep_info *out, bp_err *e);

/* The pruning decision for trial `trial` of sweep s, which has just
 * reported `value` at `step` (its previous report was at prev_step, -1 if
 * none; `best` is its best value so far, this one included). Returns 1 to
 * prune, with the reason in why ("pruned at step 10: ..."), 0 to go on,
 * -1 on a database error. Never prunes when the rule is off. */
int bp_sweep_prune_check(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                         int64_t prev_step, int64_t step, double value, double best,
                         char *why, size_t size, bp_err *e);

/* ------------------------------------------------------------------------ */
/* The commands                                                              */

/* What the host tells the sweep command. */
typedef struct bp_sweep_host {
    const char *exe;   /* the backprop executable the trials run with */
    const char *argv0; /* how the user named it: --plan's lines begin so */
    FILE *out, *err;   /* results (the summary, --plan's lines); progress */
} bp_sweep_host;

/* backprop sweep ARGS (argv[0] is the first argument after "sweep"):
 *   [options] SCRIPT key=SPEC...   run a sweep (a sweep with the same uid
 *                                  in the database is resumed instead)
 *   --resume ID [--db P] [-j N]    run the trials of sweep ID not done
 *   --plan [--shard-db PATTERN] [--shards N] [options] SCRIPT key=SPEC...
 *                                  print one command line per trial
 *   --trial I [options] SCRIPT key=SPEC...   run trial I alone
 *   show [ID] [--csv]              bp_cli_sweep_show
 * options: --db PATH, --name NAME, -j N, --trials N, --seed S,
 * --objective [min:|max:]METRIC, --prune RULE, -v (trials' output shown).
 * Every error in the arguments, the specification or the script's file is
 * reported before the database is opened. Progress goes to h->err (one
 * line rewritten in place on a terminal, else a line per trial), the
 * summary (counts, the best trial, the trials that failed, diverged or
 * crashed, the pruned ones and the time pruning saved) to h->out. Returns 0
 * when the sweep ran to the end with at least one completed trial (--trial:
 * when the trial's outcome is recorded, whatever it is), 1 on an error or
 * an unread parameter, 128 + the signal when stopped by SIGINT or SIGTERM
 * (the trials get a second to stop by themselves, then the signal; a second
 * signal kills them). */
int bp_sweep_main(int argc, char **argv, const bp_sweep_host *h);

/* How many rows bp_merge copied (and skipped, being there already). */
typedef struct bp_merge_counts {
    int64_t sweeps, runs, skipped, running;
} bp_merge_counts;

/* Copies into the run log at out_path (created if missing) every sweep and
 * run of the database in_path that it does not hold yet, known by their
 * uids, with everything they logged; ids are renumbered, references follow.
 * Runs still running in in_path are left out (counted in c->running): merge
 * again once they end. All of one input or nothing; merging the same input
 * twice adds nothing. in_path is only read, and must be at this backprop's
 * schema version. */
int bp_merge(const char *out_path, const char *in_path, bp_merge_counts *c, bp_err *e);

/* backprop merge OUT.db IN.db...: bp_merge of each input, a line each. */
int bp_merge_main(int argc, char **argv, FILE *out, FILE *err);

/* ------------------------------------------------------------------------ */
/* The Lua side (lsweep.c)                                                   */

struct lua_State;

/* Makes the running script trial `trial` of sweep `sweep`: bp.report then
 * logs the sweep's objective and prunes by its rule, and bp.sweep() tells
 * the script. Call after bp_lua_attach_run; log is borrowed. -1 when the
 * sweep is not in the log. */
int bp_lua_sweep_attach(struct lua_State *L, bp_runlog *log, int64_t sweep, int64_t trial,
                        bp_err *e);

/* Whether bp.report pruned the trial (its error then ends the script). */
int bp_lua_sweep_pruned(struct lua_State *L);

/* Runs a sweep written in Lua, a file returning {script = ..., params =
 * {lr = "loguniform:1e-4:1e-1", hidden = {2, 4, 8}}, trials =, seed =,
 * objective =, prune =, name =}, and pushes the same sweep as a list of
 * command-line arguments (options first, then the script, then key=SPEC in
 * the order of the keys). Raises a Lua error naming the file otherwise. */
int bp_lua_sweep_file(struct lua_State *L, const char *path);

#endif
