/* bp_sweeprun.h: the commands that run sweeps and merge the databases that
 * shards of a sweep wrote.
 *
 * bp_sweep.h says what a sweep is (its specification and its trials); this
 * runs one. A sweep is a row of the run log's sweeps table (runlog/schema/3.sql); each
 * trial is a run of the script, `backprop run --sweep ID --trial I --seed S
 * SCRIPT key=value...`, in a process of its own, so that a trial that
 * crashes takes nothing else down, linked to the sweep by the run's sweep_id
 * and trial. The trial's seed is bp_sweep_trial_seed of the sweep's seed and
 * the trial's parameters in a grid, bp_sweep_setting_seed of the sweep's
 * seed and the setting's index with --trials N (then repeated by
 * bp_sweep_repeat_seed), so a trial gives the same bits alone, in parallel,
 * after a resume or on another machine.
 *
 * A trial is done once a run of it has ended completed, failed, diverged or
 * pruned; a resume runs the others: one whose run crashed or was
 * interrupted goes on in that run, `backprop run --resume RUN` (from its
 * checkpoint if it made one, with its own parameters and seed), so it stays
 * one run (runs.attempts counts its starts), unless its script had not read
 * its parameters yet (no checkpoint, its setting not all recorded); any
 * other as a new run. One
 * process runs a sweep at a time (it holds the sweep: bp_runlog_sweep_status),
 * and before it starts a trial it waits for those still running in
 * processes of this machine (the orphans of a supervisor killed before it,
 * which its death told to stop), so that no trial runs twice at once. The
 * first trial of a sweep runs alone: a trial that fails because the script
 * never reads a swept key ("parameter given but never read") stops the
 * sweep (status 'failed') after one trial rather than -j of them.
 *
 * Pruning (off unless asked for) follows the rules of bp_prune.h: the
 * script reports its objective as it goes (bp.report(value, step)), and at
 * each report the trial's process asks the run log whether to go on.
 *
 * Both functions are commands: they print, and return an exit status. The
 * run log's side of sweeps (trial states, the best trial, merge) is
 * bp_sweeplog.h. */
#ifndef BP_SWEEPRUN_H
#define BP_SWEEPRUN_H

#include <stdio.h>

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
 *   --task I [--setting S] [--shard-dir DIR] [options] SCRIPT key=SPEC...
 *                                  trial I as a cluster task (node-local
 *                                  database copied into the shard folder;
 *                                  nothing run when it is completed in --db
 *                                  or the folder); exit 0 when completed
 *   --slurm FILE | --parallel FILE [cluster options] [options] SCRIPT ...
 *                                  the scripts of the trials not done
 *   show [ID] [--csv]              bp_cli_sweep_show
 *   status [--db P] [--shard-dir DIR] [UID]  a cluster sweep's progress
 *                                  (exit 0 all done, 2 not, 1 error)
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

/* backprop merge OUT.db IN.db...: bp_runlog_merge (bp_sweeplog.h) of each
 * input, a line each. */
int bp_merge_main(int argc, char **argv, FILE *out, FILE *err);

#endif
