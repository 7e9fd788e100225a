/* bp_sweeplog.h: what the run log knows of sweeps, for the supervisor that
 * runs them (cli/sweeprun_int.h) and for `backprop merge`.
 *
 * A sweep is a row of the sweeps table; its trials are runs (runs.sweep_id
 * and runs.trial), and the view sweep_trials keeps one run per trial, its
 * latest finished one if it has one. The supervisor reads everything it
 * knows about its trials back from here, so that its progress, its summary,
 * a resume and `sweep show` agree with what is recorded. bp_prune.h holds
 * what a trial's own process needs: the objective and the pruning rules.
 *
 * Every fallible function returns 0 on success (a read of one row: 1 when
 * it is there, 0 when not) and -1 with one sentence in *e naming the
 * database. */
#ifndef BP_SWEEPLOG_H
#define BP_SWEEPLOG_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"
#include "bp_prune.h"
#include "bp_runlog.h"

/* ------------------------------------------------------------------------ */
/* Trials                                                                    */

/* Where a trial stands, as a resume sees it. */
typedef enum bp_trial_state {
    BP_TRIAL_NEW,     /* never run */
    BP_TRIAL_DONE,    /* completed, failed, diverged or pruned: never run again */
    BP_TRIAL_RUNNING, /* running, in this process or another */
    BP_TRIAL_RETRY,   /* crashed or interrupted: resumed or run again */
} bp_trial_state;

/* The state of a run's status: "running", the four that are done, and
 * BP_TRIAL_RETRY for any other. */
bp_trial_state bp_trial_status_state(const char *status);

/* The states of trials 0..count-1 of sweep into state[0..count-1] (one
 * byte each, a bp_trial_state; BP_TRIAL_NEW for a trial with no run). */
int bp_runlog_trial_states(bp_runlog *log, int64_t sweep, int64_t count,
                           unsigned char *state, bp_err *e);

/* What a trial's process left: its latest run (the one with the process's
 * pid). Strings are truncated to fit. */
typedef struct bp_trial_outcome {
    char status[16]; /* "" when the process recorded no run */
    char message[2 * BP_ERR_MAX];
    int has_objective; /* the objective metric's last value, if logged */
    double objective;
    char params[512]; /* the swept "key=value"s, as sweep_trials has them */
} bp_trial_outcome;

/* Reads the run of trial `trial` of sweep started by process pid into *o,
 * the objective being metric `metric`. 1 when there is one, 0 (status "")
 * when the process recorded no run, -1 (status "") on failure. */
int bp_runlog_trial_outcome(bp_runlog *log, int64_t sweep, int64_t trial, int64_t pid,
                            const char *metric, bp_trial_outcome *o, bp_err *e);

/* The process pid of trial `trial` of sweep has ended without recording
 * an end: its run, if still 'running', becomes 'crashed', ended now, with
 * `message` unless it has one. */
int bp_runlog_trial_crashed(bp_runlog *log, int64_t sweep, int64_t trial, int64_t pid,
                            const char *message, bp_err *e);

/* Whether trial `trial` of sweep may be resumed rather than run again: 1
 * when its latest run ended crashed or interrupted and has its script
 * stored (`backprop run --resume` can take it up), with the run's id in
 * *run, whether it made a checkpoint in *checkpointed, and its recorded
 * parameters ("k=v ...", sorted, truncated to size) in params; 0 when not;
 * -1. A resume takes the parameters from that record: the caller checks
 * that it holds the trial's (a run stopped before its script read them
 * does not). */
int bp_runlog_trial_resumable(bp_runlog *log, int64_t sweep, int64_t trial, int64_t *run,
                              int *checkpointed, char *params, size_t size, bp_err *e);

/* How many runs of sweep's trials are 'running' in a process of this
 * machine (of this kernel by their lock, or of this host by their pid):
 * after bp_runlog_reap, the live ones, which a resume waits for. The first
 * cap of them (by trial) go into trial[] and pid[] (each may be NULL). -1
 * on failure. */
int64_t bp_runlog_trials_here(bp_runlog *log, int64_t sweep, int64_t *trial, int64_t *pid,
                              int64_t cap, bp_err *e);

/* ------------------------------------------------------------------------ */
/* A sweep                                                                   */

/* A sweep's row, as a resume reads it. Strings are malloc'd, NULL where the
 * row has NULL; free them with bp_sweep_row_free. */
typedef struct bp_sweep_row {
    char *name, *script_path, *spec;
    char *objective; /* "min:METRIC" or "max:METRIC" */
    char *prune, *status, *message;
    char *script_text; /* the stored text of the script */
} bp_sweep_row;

/* Reads sweep id into *row: 1, 0 (row zeroed) when there is no such sweep,
 * -1 (row zeroed). */
int bp_runlog_sweep_read(bp_runlog *log, int64_t id, bp_sweep_row *row, bp_err *e);
void bp_sweep_row_free(bp_sweep_row *row); /* accepts NULL, zeroes the row */

/* The sweep of this uid (a sweep is the same sweep in every database by
 * it): 1 with its id and number of trials, 0 when there is none, -1. */
int bp_runlog_sweep_find(bp_runlog *log, const char *uid, int64_t *id, int64_t *trials,
                         bp_err *e);

/* The uids of every sweep, oldest first, into *uids (*n of them, malloc'd:
 * free it). */
int bp_runlog_sweep_uids(bp_runlog *log, char (**uids)[17], size_t *n, bp_err *e);

/* How a sweep's trials (the rows of sweep_trials) stand. */
typedef struct bp_sweep_counts {
    int64_t completed, failed, diverged, pruned;
    int64_t unfinished; /* crashed, interrupted or still running */
    int64_t recorded;   /* trials with a run at all */
} bp_sweep_counts;

int bp_runlog_sweep_counts(bp_runlog *log, int64_t sweep, bp_sweep_counts *c, bp_err *e);

/* The best setting of sweep: the best objective in the direction
 * (maximize != 0: the largest), a setting's being the mean of its
 * completed repeats (without --repeats, its one trial's), the lowest trial
 * among equals; *trial and *run are its first completed trial's. Its
 * parameters go into params (size bytes, truncated) when params is not
 * NULL. 1 when there is one, 0 when no completed trial logged the
 * objective, -1. */
int bp_runlog_sweep_best(bp_runlog *log, int64_t sweep, int maximize, int64_t *trial,
                         int64_t *run, double *objective, char *params, size_t size,
                         bp_err *e);

/* The setting of trial `trial` of sweep: how many of its repeats completed
 * with an objective (*repeats) and their sample standard deviation (*sd,
 * NaN for fewer than 2). 1, 0 when the setting has none, -1. */
int bp_runlog_sweep_setting_spread(bp_runlog *log, int64_t sweep, int64_t trial,
                                   int64_t *repeats, double *sd, bp_err *e);

/* A trial that failed, diverged, crashed or was interrupted. */
typedef struct bp_trial_problem {
    char status[16];
    int64_t trial, run;
    char *message; /* the run's message, NULL if none */
    int64_t rank;  /* 1, 2...: its place among the trials of its status */
    int64_t count; /* how many trials have its status */
} bp_trial_problem;

/* The trials of sweep that ended so, by status then trial, at most `most`
 * of each status, into *list (*n of them, malloc'd with their messages;
 * free with bp_trial_problems_free). */
int bp_runlog_sweep_problems(bp_runlog *log, int64_t sweep, int64_t most,
                             bp_trial_problem **list, size_t *n, bp_err *e);
void bp_trial_problems_free(bp_trial_problem *list, size_t n); /* accepts NULL */

/* A pruned trial, and how long the completed ones took. */
typedef struct bp_trial_pruned {
    int64_t trial;
    int64_t step;         /* the step of its objective's last report (0: none) */
    double duration;      /* its run's seconds (0 if unknown) */
    int has_mean;         /* whether a trial of the sweep completed */
    double mean_duration; /* the mean seconds of the completed trials */
} bp_trial_pruned;

/* The pruned trials of sweep, by trial, into *list (*n of them, malloc'd,
 * NULL when none; the caller frees it). */
int bp_runlog_sweep_pruned(bp_runlog *log, int64_t sweep, bp_trial_pruned **list,
                           size_t *n, bp_err *e);

/* A trial as a model-based sampler (cli/sweep_tpe.c) sees it: the row of
 * sweep_trials (its latest finished run, else its latest). */
typedef struct bp_trial_obs {
    int64_t trial;
    char status[16];
    char *params;      /* "key=value ..." as sweep_trials has them; NULL: none */
    int has_objective; /* the objective's last value, not NaN */
    double objective;
    int64_t last_step; /* the step of that value (-1: the objective has none) */
} bp_trial_obs;

/* Every trial of sweep that has a run, by trial, into *list (*n of them,
 * malloc'd with their params; free with bp_trial_obs_free). */
int bp_runlog_sweep_history(bp_runlog *log, int64_t sweep, bp_trial_obs **list, size_t *n,
                            bp_err *e);
/* The same rows read straight from the runs, for a proposal (cli/sweep_tpe.c)
 * that needs no more: params is runs.params_text, every parameter of the run
 * sorted by key (not only the sweep's, in the sweep's order). A tenth of
 * the view's cost after 1,000 trials (scripts/bench/NOTES.md). */
int bp_runlog_sweep_observations(bp_runlog *log, int64_t sweep, bp_trial_obs **list,
                                 size_t *n, bp_err *e);
void bp_trial_obs_free(bp_trial_obs *list, size_t n); /* accepts NULL */

/* ------------------------------------------------------------------------ */
/* The space a script declares (bp.suggest; space.c, schema step 11)         */

/* Trial `trial` of sweep suggested parameter key with spec (canonical, as
 * bp_sweep_param_text writes it): the first suggestion of key in the sweep
 * is recorded, and key appended to the sweep's keys; a later one with the
 * same spec changes nothing; one with another spec is refused (-1, the
 * message naming the key and both specs), nothing written. */
int bp_runlog_sweep_suggest(bp_runlog *log, int64_t sweep, int64_t trial, const char *key,
                            const char *spec, bp_err *e);

/* The names a sweep's trials suggested, in the order they were first
 * suggested (by trial), each with its spec; malloc'd. */
typedef struct bp_sweep_space {
    size_t n;
    char **keys, **specs;
} bp_sweep_space;

/* Reads sweep's space into *s (empty when none was suggested); -1 with s
 * empty. Free with bp_sweep_space_free. */
int bp_runlog_sweep_space(bp_runlog *log, int64_t sweep, bp_sweep_space *s, bp_err *e);
void bp_sweep_space_free(bp_sweep_space *s); /* accepts NULL, zeroes it */

/* ------------------------------------------------------------------------ */
/* Merging the databases that shards of a sweep wrote                        */

/* How many rows bp_runlog_merge copied (and skipped, being there already). */
typedef struct bp_merge_counts {
    int64_t sweeps, runs, skipped, running;
    int64_t duplicates; /* attempts of trials already completed, noted not copied */
} bp_merge_counts;

/* Copies into the run log at out_path (created if missing) every sweep and
 * run of the database in_path that it does not hold yet, known by their
 * uids, with everything they logged; ids are renumbered, references follow.
 * Runs still running in in_path are left out (counted in c->running): merge
 * again once they end. All of one input or nothing; merging the same input
 * twice adds nothing. A run of a trial that is completed or pruned in the
 * output already (or a second such run of one trial in the input) is not
 * copied: a note on the trial's run records it (c->duplicates counts the
 * new notes). in_path is only read, leaving no file beside it (opened
 * immutable when no process has it open, and refused, nothing merged, if
 * it was written meanwhile), and must be at this backprop's schema
 * version. */
int bp_runlog_merge(const char *out_path, const char *in_path, bp_merge_counts *c,
                    bp_err *e);

#endif
