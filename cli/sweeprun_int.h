/* sweeprun_int.h: what the files of the sweep supervisor share, and nothing
 * else includes.
 *
 * `backprop sweep` (bp_sweeprun.h) is cut along its jobs, one file each:
 *  - sweep_args.c    the command's arguments and the sweep they describe
 *                    (its specification, script text and uid);
 *  - sweep_runner.c  the trials' processes, the signals, the progress lines;
 *  - sweep_tpe.c     a TPE sweep's trial settings, from the trials before;
 *  - sweep_summary.c what the sweep says when it ends;
 *  - sweep_shard.c   a sweep split across machines: --plan and --trial;
 *  - sweeprun.c      the command: a sweep, a resume, and what they share;
 *  - sweep_merge.c   `backprop merge`;
 *  - sweep_view.c    where a cluster sweep's trials stand (target and shards);
 *  - sweep_task.c    --task I, a trial as a cluster task;
 *  - sweep_cluster.c --slurm and --parallel, the scripts;
 *  - sweep_status.c  `sweep status`;
 *  - sweep_rounds.c  a model-based sweep on a cluster, round by round.
 * What the supervisor knows of its trials it reads from the run log
 * (bp_sweeplog.h); none of these files prepares a statement. Its
 * includers define _XOPEN_SOURCE 700 first (sigset_t). */
#ifndef SWEEPRUN_INT_H
#define SWEEPRUN_INT_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "bp_err.h"
#include "bp_sweep.h"
#include "bp_sweeplog.h"
#include "bp_sweeprun.h"

/* ------------------------------------------------------------------------ */
/* The arguments and the sweep (sweep_args.c)                               */

#define SW_MAX_SBATCH 16

typedef struct sw_args {
    const char *db, *name, *objective, *prune, *seed, *script, *shard_db, *sampler;
    int64_t jobs, trials, trial, resume, shards, repeats; /* trial: -1 when not given */
    int plan, verbose, n;
    char **params; /* key=SPEC, n of them (argv's strings); free the array */
    /* A sweep on a cluster: --task I (-1: not given), the shard folder, and
     * the generators' options (--slurm FILE, --parallel FILE). */
    int64_t task, cpus, throttle;
    const char *shard_dir, *slurm, *parallel, *partition, *time, *mem, *account, *retry;
    /* A model-based sweep in rounds (--rounds R --per-round K): the round a
     * merge job just ran (--after-round, -1: none), and a task's setting as
     * its round proposed it (--setting 'k=v ...'). */
    int64_t rounds, per_round, after_round;
    const char *setting;
    const char *sbatch[SW_MAX_SBATCH]; /* extra #SBATCH lines, nsbatch of them */
    int nsbatch, submit;
} sw_args;

/* Reads `backprop sweep`'s arguments (argv[0] is the first after "sweep")
 * into *a: 0, or 1 after printing the error on err. a->params is malloc'd
 * either way: free it. */
int sw_args_parse(int argc, char **argv, sw_args *a, FILE *err);

/* A sweep as the arguments (or a stored row) define it. */
typedef struct sw_def {
    bp_sweep_spec *spec;
    char *spec_text, *keys, *script, *text; /* text: the script's */
    const char *name;                       /* NULL: the script's */
    bp_objective obj;
    bp_prune prune;
    char prune_text[96];
    char uid[17]; /* what decides the trials and their results, hashed */
} sw_def;

/* The sweep the arguments describe, checked whole before any database is
 * touched; the script is read. -1 with the reason; free d either way. */
int sw_def_from_args(const sw_args *a, sw_def *d, bp_err *e);

/* The sweep a stored row describes (for --resume), named `name`, with the
 * script read as it is now from row->script_path (which must not be NULL):
 * -1 with the reason; free d either way. */
int sw_def_from_row(const bp_sweep_row *row, const char *name, sw_def *d, bp_err *e);

void sw_def_free(sw_def *d); /* zeroes d */

/* ------------------------------------------------------------------------ */
/* The runner (sweep_runner.c)                                               */

typedef struct sw_proc {
    pid_t pid;
    int64_t trial;
    FILE *errf; /* the trial's stderr (NULL with -v: it goes to ours) */
    double t0;
    char *params; /* its "key=value ..." (malloc'd), for TPE's constant liar */
} sw_proc;

typedef struct sw_runner {
    const bp_sweep_host *h;
    bp_runlog *log;
    const char *db;
    int64_t id;
    const sw_def *d;
    char name[256]; /* the sweep's; trial runs are NAME#I */
    int jobs, verbose, tty;
    const char *setting; /* --setting: the one trial's "k=v ..." as proposed */
    /* The trials' environment: the runner's, with OPENBLAS_NUM_THREADS set
     * to their share of the cores unless the user chose a thread count
     * (see trial_env). */
    char **envp;
    char threads_var[48];
    sw_proc *procs;
    int running, finished;
    sigset_t oldmask; /* the mask before the runner blocked its signals */
    /* Over the whole sweep, this invocation's trials and the ones before. */
    int64_t total, done, failed, diverged, pruned, crashed;
    int have_best;
    double best;
    int64_t best_trial;
    /* Why the runner stopped early: a signal, or an unread parameter. */
    int signal, unread;
    char message[2 * BP_ERR_MAX];
} sw_runner;

/* The cores online, at least 1: the default of -j. */
int sw_ncores(void);

/* The specification a trial's setting comes from: the command line's and,
 * for --trials N, the names the script suggested in the trials before (the
 * sweep's space in the run log), as suggested parameters. Read at each
 * start: a trial may teach the sweep a name. NULL with the reason; free
 * with bp_sweep_spec_free. */
bp_sweep_spec *sw_spec_now(const sw_runner *R, bp_err *e);

/* Runs the trials todo[0..n-1], R->jobs at a time. Returns how many were
 * started (-1 when memory for the runner's tables runs out, or a trial
 * cannot be started); stops starting new ones on a signal or an unread
 * parameter. */
int64_t sw_run_trials(sw_runner *R, const int64_t *todo, int64_t n, bp_err *e);

/* ------------------------------------------------------------------------ */
/* TPE's proposals (sweep_tpe.c)                                             */

/* Trial `trial` of the runner's sweep (its sampler TPE) into kv[0..n-1]
 * for the n parameters of s (the sweep's specification with the names its
 * script suggested so far), as bp_sweep_trial: the setting its earlier run
 * recorded, else random search's trial until BP_TPE_STARTUP trials have
 * finished, else TPE's proposal from the sweep's trials in the run log and
 * the runner's running ones. A kv[k] left NULL: a parameter the trial is
 * not given (one its earlier run did not read). -1 with the reason
 * (nothing to free then). */
int sw_tpe_trial(const sw_runner *R, const bp_sweep_spec *s, int64_t trial, char **kv,
                 bp_err *e);

/* ------------------------------------------------------------------------ */
/* The summary (sweep_summary.c)                                             */

/* The sweep's summary on R->h->out: its status, the counts, the best
 * trial, what went wrong, what pruning saved. wall: this invocation's
 * seconds; ran: the trials it started. */
void sw_summary(const sw_runner *R, const char *status, double wall, int64_t ran);

/* ------------------------------------------------------------------------ */
/* The modes (sweeprun.c, sweep_shard.c)                                     */

/* The run log at db, or NULL after printing why on err. */
bp_runlog *sw_open(const char *db, int flags, FILE *err);

/* Records the sweep d (or finds it by uid: *created says which) as the
 * command argv did; status 'partial' for a --trial. The id, or -1 after
 * printing why. */
int64_t sw_record(bp_runlog *log, const sw_args *a, const sw_def *d,
                  const bp_sweep_host *h, int argc, char **argv, int *created);

/* Runs the trials of sweep id that are not done (only `only` when >= 0,
 * for --trial), then sets the sweep's status and prints the summary.
 * Returns the command's exit status. */
int sw_execute(bp_runlog *log, const char *db, int64_t id, const sw_def *d,
               const sw_args *a, const bp_sweep_host *h, int64_t only);

/* Prints s as one word for a POSIX shell: bare when it is safe, else in
 * single quotes; in double quotes when it holds a '$', so that a variable
 * ($TMPDIR) is expanded where the line runs. */
void sw_sh_word(FILE *out, const char *s);

/* The options a trial's command repeats so as to be the same sweep (the
 * same uid): --name, --objective, --prune, --trials, --seed, --sampler,
 * and a space. */
void sw_trial_options(FILE *out, const sw_args *a, const sw_def *d);

/* A shard's trial with --prune and too few finished trials of its sweep in
 * its database (db) to compare with: says on err that nothing can be
 * pruned. */
void sw_warn_no_reference(bp_runlog *log, int64_t id, const sw_def *d, const char *db,
                          FILE *err);

/* --plan: one self-contained command line per trial on h->out. */
int sw_plan(const sw_args *a, const sw_def *d, const bp_sweep_host *h);

/* --trial I: trial I alone, into the sweep recorded as a shard's. */
int sw_trial(const sw_args *a, const sw_def *d, const bp_sweep_host *h, int argc,
             char **argv);

/* ------------------------------------------------------------------------ */
/* A sweep on a cluster (sweep_view.c, sweep_task.c, sweep_cluster.c,        */
/* sweep_status.c)                                                            */

/* Where a trial stands across the target database and the shard folder,
 * worst first: what any source says best wins. */
enum { SW_PENDING, SW_STOPPED, SW_FAILED, SW_RUNNING, SW_DONE };

typedef struct sw_view {
    char uid[17];
    int64_t count;        /* trials (0: no source holds the sweep) */
    unsigned char *state; /* count places (SW_*) */
    int64_t sources;      /* databases that hold the sweep */
    char name[256], metric[64];
    int maximize;
    int have_best;
    double best;
    int64_t best_trial;
    char best_params[512];
    int64_t watch;       /* a trial whose done place is looked for, or -1 */
    char watch_in[1024]; /* the database where it is done, "" if none */
} sw_view;

/* The sweep uid as the database at db (NULL: none) and the shard folder
 * dir (NULL: none) hold it, each read leaving no file beside it; count:
 * its trials when known, else 0 (the first source's). -1 with the reason
 * (a database that cannot be read; a missing one is no source). */
int sw_view_read(sw_view *v, const char *uid, int64_t count, int64_t watch, const char *db,
                 const char *dir, bp_err *e);
void sw_view_free(sw_view *v); /* zeroes it */

/* The place (SW_*) a run's status gives its trial. */
int sw_place_of(const char *status);

/* mkdir -p dir: -1 with the reason. */
int sw_make_dirs(const char *dir, bp_err *e);

/* How many trials are at place. */
int64_t sw_view_count(const sw_view *v, int place);

/* The shard folder: --shard-dir, else the folder "shards" beside the
 * target database; malloc'd (NULL if out of memory). */
char *sw_shard_dir(const sw_args *a);

/* --task I: trial I as a cluster task (sweep_task.c). */
int sw_task(const sw_args *a, const sw_def *d, const bp_sweep_host *h, int argc,
            char **argv);

/* --slurm FILE, --parallel FILE: the scripts that run the sweep's trials
 * not done yet, and merge them (sweep_cluster.c). */
int sw_cluster(const sw_args *a, const sw_def *d, const bp_sweep_host *h, int argc,
               char **argv);

/* A task's --setting ("k=v ..." with every parameter of s once, a
 * conditional one maybe not: its kv stays NULL) into kv[0..s->n-1] in the
 * parameters' order, malloc'd: -1 with the reason (nothing to free then).
 * (sweep_rounds.c) */
int sw_setting(const bp_sweep_spec *s, const char *text, char **kv, bp_err *e);

/* Adds to s the names of a task's --setting that s does not have: names
 * the script suggests, which the round proposed from the target's space,
 * each as a suggested parameter of its one value, so that sw_setting
 * takes them. -1 with the reason. (sweep_rounds.c) */
int sw_setting_names(bp_sweep_spec *s, const char *text, bp_err *e);

/* The round (trials [r K, (r + 1) K)) of the first trial still to run, or
 * -1 when none is. */
int64_t sw_round_of(const sw_view *v, int64_t per_round, int retry);

/* The settings of trials todo[0..n-1], one round, into settings[] (each
 * "k=v ...", malloc'd): proposed by the sweep's sampler from the sweep as
 * the database at db holds it (none yet: random search's trials), each
 * counted as running for the ones after it. -1 with the reason. */
int sw_round_settings(const sw_def *d, const char *db, const int64_t *todo, int64_t n,
                      char **settings, bp_err *e);

/* `sweep status`: bp_sweep_main's subcommand (sweep_status.c). */
int sw_status_main(int argc, char **argv, const bp_sweep_host *h);

#endif
