/* sweeprun.c: `backprop sweep` (bp_sweeprun.h): a sweep, a resume, and what
 * every mode shares, the run of a sweep's trials that are not done.
 *
 * The files of the supervisor and their jobs are listed in sweeprun_int.h.
 * A sweep is found again by its uid: the same command run again resumes
 * it, so that a killed sweep loses only the trials that were running. A
 * sweep's status says whether a process is running it ('running', taken by
 * that process), and only one process runs a sweep at a time; a shard's
 * process (--trial) never takes it. */
#define _XOPEN_SOURCE 700
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "sweeprun_int.h"

bp_runlog *sw_open(const char *db, int flags, FILE *err) {
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, flags, &e);
    if (!log) bp_cli_fail(err, "%s", e.msg);
    return log;
}

/* Whether sweep id is taken by a process (its status 'running'); 0 when
 * that cannot be read. */
static int sweep_running(bp_runlog *log, int64_t id) {
    bp_sweep_row row;
    bp_err e;
    int running =
        bp_runlog_sweep_read(log, id, &row, &e) == 1 && !strcmp(row.status, "running");
    bp_sweep_row_free(&row);
    return running;
}

/* The trials to run: those never run or to run again (only `only` when
 * >= 0) into todo, their number returned; *elsewhere counts those running
 * in another process, *done those done. */
static int64_t todo_of(const unsigned char *state, int64_t count, int64_t only,
                       int64_t *todo, int64_t *elsewhere, int64_t *done) {
    int64_t n = 0;
    *elsewhere = *done = 0;
    for (int64_t i = 0; i < count; i++) {
        *done += state[i] == BP_TRIAL_DONE;
        *elsewhere += state[i] == BP_TRIAL_RUNNING && (only < 0 || i == only);
        if ((state[i] == BP_TRIAL_NEW || state[i] == BP_TRIAL_RETRY) &&
            (only < 0 || i == only))
            todo[n++] = i;
    }
    return n;
}

/* The runner of sweep id, which has n trials to run, with what the run
 * log holds of the trials before (counts, the best, the sweep's name). */
static void runner_init(sw_runner *R, bp_runlog *log, const char *db, int64_t id,
                        const sw_def *d, const sw_args *a, const bp_sweep_host *h,
                        int64_t only, int64_t n) {
    bp_err e;
    memset(R, 0, sizeof *R);
    R->h = h, R->log = log, R->db = db, R->id = id, R->d = d, R->verbose = a->verbose;
    R->setting = a->setting;
    R->tty = isatty(fileno(h->err)) && only < 0;
    R->total = bp_sweep_count(d->spec);
    bp_sweep_counts c;
    bp_runlog_sweep_counts(log, id, &c, &e); /* all 0 when unknown */
    R->failed = c.failed, R->diverged = c.diverged, R->pruned = c.pruned;
    int64_t bt, br;
    double bo;
    if (bp_runlog_sweep_best(log, id, d->obj.maximize, &bt, &br, &bo, NULL, 0, &e) == 1)
        R->have_best = 1, R->best = bo, R->best_trial = bt;
    bp_sweep_row row;
    if (bp_runlog_sweep_read(log, id, &row, &e) == 1)
        snprintf(R->name, sizeof R->name, "%s", row.name);
    bp_sweep_row_free(&row);
    int jobs = a->jobs > 0 ? (int)a->jobs : sw_ncores();
    R->jobs = n > 0 && jobs > n ? (int)n : jobs;
}

/* The sweep's status once the runner has stopped, and its message
 * (*message: NULL, R->message or failure). */
static const char *end_status(const sw_runner *R, int64_t ran, int64_t only,
                              int64_t elsewhere, const char *failure,
                              const char **message) {
    *message = NULL;
    if (R->unread) {
        *message = R->message;
        return "failed";
    }
    if (R->signal) return "interrupted";
    if (ran < 0) {
        *message = failure;
        return "interrupted";
    }
    if (only >= 0) return R->done == R->total ? "completed" : "partial";
    return elsewhere ? "interrupted" : "completed";
}

/* Runs the trials todo[0..n-1] of the runner's sweep, records how it
 * ended, says so, and returns the command's exit status. */
static int run_and_end(sw_runner *R, const int64_t *todo, int64_t n, int64_t only,
                       int64_t elsewhere) {
    bp_err e;
    double t0 = bp_clock();
    int64_t ran = n ? sw_run_trials(R, todo, n, &e) : 0;
    if (ran < 0) bp_cli_fail(R->h->err, "%s", e.msg);
    const char *message;
    const char *status = end_status(R, ran, only, elsewhere, e.msg, &message);
    /* A shard does not take over a sweep another process is running. */
    if (only < 0 || !sweep_running(R->log, R->id)) {
        if (bp_runlog_sweep_status(R->log, R->id, status, message, &e))
            bp_cli_fail(R->h->err, "%s", e.msg);
    }
    if (R->unread)
        bp_cli_fail(R->h->err, "sweep %lld stopped: %s", (long long)R->id, R->message);
    if (only < 0) sw_summary(R, status, bp_clock() - t0, ran < 0 ? 0 : ran);
    int rc = R->unread || ran < 0                           ? 1
             : R->signal                                    ? 128 + R->signal
             : only >= 0                                    ? (R->crashed ? 1 : 0)
             : !strcmp(status, "completed") && R->have_best ? 0
                                                            : 1;
    if (only < 0 && !R->signal && !R->unread && ran >= 0 && !R->have_best)
        bp_cli_fail(R->h->err, "sweep %lld: no trial completed with a value of %s",
                    (long long)R->id, R->d->obj.metric);
    return rc;
}

/* Waits until no trial of sweep id is running in a process of this
 * machine. Such a trial, when a sweep is taken, is an orphan of the
 * supervisor before, killed (its death sent the trial SIGTERM: it records
 * its end and exits), or a --trial process's; rerunning it now would run
 * it twice. Returns 0, the signal (SIGINT or SIGTERM) that stopped the
 * wait, or -1 after saying why. */
static int wait_trials(bp_runlog *log, int64_t id, FILE *err) {
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old);
    int rc = 0;
    for (int said = 0;;) {
        bp_err e;
        int64_t trial[4], pid[4];
        int64_t n = bp_runlog_reap(log, &e) < 0
                        ? -1
                        : bp_runlog_trials_here(log, id, trial, pid, 4, &e);
        if (n <= 0) {
            if (n < 0) {
                bp_cli_fail(err, "%s", e.msg);
                rc = -1;
            }
            break;
        }
        if (!said) {
            fprintf(err,
                    "backprop: sweep %lld: waiting for %lld trial%s left running by an"
                    " earlier process (trial %lld, pid %lld%s)\n",
                    (long long)id, (long long)n, n == 1 ? "" : "s", (long long)trial[0],
                    (long long)pid[0], n > 1 ? "; ..." : "");
            said = 1;
        }
        struct timespec ts = {0, 100 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            rc = sig;
            break;
        }
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Takes sweep id for this process, then waits for its trials that still
 * run (wait_trials): 0 to go on, or the command's exit status. */
static int take_sweep(bp_runlog *log, int64_t id, FILE *err) {
    bp_err e;
    if (bp_runlog_sweep_status(log, id, "running", NULL, &e))
        return bp_cli_fail(err, "%s", e.msg);
    int sig = wait_trials(log, id, err);
    if (sig == 0) return 0;
    const char *why = sig > 0 ? "stopped while waiting for its trials" : NULL;
    if (bp_runlog_sweep_status(log, id, "interrupted", why, &e))
        bp_cli_fail(err, "%s", e.msg);
    return sig > 0 ? 128 + sig : 1;
}

int sw_execute(bp_runlog *log, const char *db, int64_t id, const sw_def *d,
               const sw_args *a, const bp_sweep_host *h, int64_t only) {
    bp_err e;
    int64_t count = bp_sweep_count(d->spec); /* --trials N, maybe the database's */
    size_t todo_size = 0;
    int big = count < 0 || (uint64_t)count > SIZE_MAX ||
              bp_size_mul(&todo_size, (size_t)count, sizeof(int64_t));
    unsigned char *state = big ? NULL : malloc((size_t)count);
    int64_t *todo = big ? NULL : malloc(todo_size);
    int rc = 1;
    if (!state || !todo) {
        bp_cli_fail(h->err, "out of memory");
        goto out;
    }
    if (only < 0 && (rc = take_sweep(log, id, h->err)) != 0) goto out;
    rc = 1;
    if (bp_runlog_trial_states(log, id, count, state, &e)) {
        bp_cli_fail(h->err, "%s", e.msg);
        goto out;
    }
    int64_t elsewhere, done;
    int64_t n = todo_of(state, count, only, todo, &elsewhere, &done);
    sw_runner R;
    runner_init(&R, log, db, id, d, a, h, only, n);
    R.done = done;
    if (elsewhere)
        fprintf(h->err,
                "backprop: sweep %lld: %lld trial%s still running in another process;"
                " not started again\n",
                (long long)id, (long long)elsewhere, elsewhere == 1 ? " is" : "s are");
    if (only >= 0 && n == 0 && !elsewhere) {
        fprintf(h->out, "sweep %lld: trial %lld is done already\n", (long long)id,
                (long long)only);
        rc = 0;
        goto out;
    }
    rc = run_and_end(&R, todo, n, only, elsewhere);
out:
    free(state);
    free(todo);
    return rc;
}

/* The command line, for the sweep's row. */
static char *command_text(const bp_sweep_host *h, int argc, char **argv) {
    size_t len = strlen(h->argv0) + 8;
    for (int k = 0; k < argc; k++) len += strlen(argv[k]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    snprintf(s, len, "%s sweep", h->argv0);
    for (int k = 0; k < argc; k++) strcat(strcat(s, " "), argv[k]);
    return s;
}

int64_t sw_record(bp_runlog *log, const sw_args *a, const sw_def *d,
                  const bp_sweep_host *h, int argc, char **argv, int *created) {
    char *command = command_text(h, argc, argv);
    bp_sweep_record rec = {.uid = d->uid,
                           .name = d->name,
                           .script_path = d->script,
                           .script_text = d->text,
                           .spec = d->spec_text,
                           .keys = d->keys,
                           .strategy = bp_sweep_strategy(d->spec),
                           .trials = bp_sweep_count(d->spec),
                           .seed = (int64_t)d->spec->seed,
                           .repeats = bp_sweep_repeats(d->spec),
                           .objective = d->obj.metric,
                           .maximize = d->obj.maximize,
                           .prune = d->prune_text[0] ? d->prune_text : NULL,
                           .status = a->trial >= 0 ? "partial" : NULL,
                           .command = command};
    bp_err e;
    *created = 0;
    int64_t id = bp_runlog_sweep(log, &rec, created, &e);
    free(command);
    if (id < 0) bp_cli_fail(h->err, "%s", e.msg);
    return id;
}

/* A sweep that failed (a parameter its script never reads) would fail the
 * same way again: its script or specification must change, which makes it
 * another sweep. Returns 1 (after saying so) for such a sweep. */
static int refuse_failed(const bp_sweep_row *row, int64_t id, FILE *err) {
    if (strcmp(row->status, "failed")) return 0;
    bp_cli_fail(err,
                "sweep %lld failed (%s); correct the script or the specification, which"
                " makes a new sweep",
                (long long)id, row->message ? row->message : "");
    return 1;
}

/* A sweep already recorded with the same uid is resumed, unless another
 * process is running it or it failed: 0 to go on, 1 after saying why not. */
static int may_resume(bp_runlog *log, int64_t id, FILE *err) {
    bp_sweep_row row;
    bp_err e;
    int found = bp_runlog_sweep_read(log, id, &row, &e) == 1, rc = 1;
    if (found && !strcmp(row.status, "running"))
        bp_cli_fail(err,
                    "sweep %lld (the same script, specification and objective) is running"
                    " in another process",
                    (long long)id);
    else if (!found || !refuse_failed(&row, id, err)) rc = 0;
    bp_sweep_row_free(&row);
    if (rc == 0)
        fprintf(err,
                "backprop: sweep %lld has the same script, specification and"
                " objective: resuming it (only the trials not done run)\n",
                (long long)id);
    return rc;
}

/* Records the sweep (or finds it by uid), then runs it. */
static int start(const sw_args *a, const sw_def *d, const bp_sweep_host *h, int argc,
                 char **argv) {
    const char *db = bp_runlog_default_path(a->db);
    bp_runlog *log = sw_open(db, 0, h->err);
    if (!log) return 1;
    int created, rc = 1;
    int64_t id = sw_record(log, a, d, h, argc, argv, &created);
    if (id >= 0 && (created || !may_resume(log, id, h->err)))
        rc = sw_execute(log, db, id, d, a, h, -1);
    bp_runlog_close(log);
    return rc;
}

/* Whether a stored sweep can be resumed: 1, or 0 after saying why not (a
 * process is running it, it failed, or its script is not recorded). */
static int resumable(const bp_sweep_row *row, int64_t id, FILE *err) {
    if (!strcmp(row->status, "running")) {
        bp_cli_fail(err, "sweep %lld is running in another process", (long long)id);
        return 0;
    }
    if (refuse_failed(row, id, err)) return 0;
    if (!row->script_path || !row->spec) {
        bp_cli_fail(err, "sweep %lld has no script recorded: it cannot be resumed",
                    (long long)id);
        return 0;
    }
    return 1;
}

/* --resume ID: the sweep as stored, the script as it is now (which must be
 * the same text). */
static int resume(const sw_args *a, const bp_sweep_host *h) {
    const char *db = bp_runlog_default_path(a->db);
    bp_runlog *log = sw_open(db, BP_RUNLOG_MUSTEXIST, h->err);
    if (!log) return 1;
    sw_def d;
    memset(&d, 0, sizeof d);
    bp_err e;
    int rc = 1;
    char name[256];
    bp_sweep_row row;
    if (bp_runlog_sweep_read(log, a->resume, &row, &e) != 1) {
        bp_cli_fail(h->err, "%s: no sweep %lld", db, (long long)a->resume);
        goto out;
    }
    if (!resumable(&row, a->resume, h->err)) goto out;
    snprintf(name, sizeof name, "%s", row.name);
    if (sw_def_from_row(&row, name, &d, &e)) {
        bp_cli_fail(h->err, "sweep %lld: %s", (long long)a->resume, e.msg);
        goto out;
    }
    if (row.script_text && strcmp(row.script_text, d.text) != 0) {
        bp_cli_fail(
            h->err,
            "%s has changed since sweep %lld began: its trials would not be the same"
            " (restore the script, or start a new sweep)",
            d.script, (long long)a->resume);
        goto out;
    }
    rc = sw_execute(log, db, a->resume, &d, a, h, -1);
out:
    bp_sweep_row_free(&row);
    sw_def_free(&d);
    bp_runlog_close(log);
    return rc;
}

/* How many of the modes that split a sweep the arguments ask for. */
static int modes(const sw_args *a) {
    return a->plan + (a->trial >= 0) + (a->task >= 0) + (a->slurm != NULL) +
           (a->parallel != NULL);
}

/* Whether an option of the cluster's generators was given. */
static int cluster_only(const sw_args *a) {
    return a->partition || a->time || a->mem || a->account || a->nsbatch || a->cpus ||
           a->throttle || a->submit || a->retry || a->rounds || a->per_round ||
           a->after_round >= 0;
}

/* The modes and options that do not go together, said: 1, else 0 (with
 * --rounds, the number of trials set from it). */
static int check_modes(sw_args *a, FILE *err) {
    if (modes(a) > 1)
        return bp_cli_fail(err, "sweep: --plan, --trial, --task, --slurm and --parallel"
                                " are modes of their own: give one of them");
    int slurm_only = a->partition || a->time || a->mem || a->account || a->nsbatch ||
                     a->cpus || a->throttle || a->submit;
    if (cluster_only(a) && !a->slurm && !(a->parallel && !slurm_only))
        return bp_cli_fail(err, "sweep: %s",
                           a->parallel ? "--parallel takes --retry and --shard-dir;"
                                         " the others are Slurm's (--slurm)"
                                       : "--partition, --time, --cpus-per-task, --mem,"
                                         " --account, --sbatch, --throttle, --submit and"
                                         " --retry go with --slurm or --parallel");
    if ((a->rounds || a->per_round || a->after_round >= 0) &&
        (!a->slurm || !a->rounds || !a->per_round))
        return bp_cli_fail(err, "sweep: --rounds R and --per-round K go together, with"
                                " --slurm");
    if (a->rounds > 1000000 || a->per_round > 1000000)
        return bp_cli_fail(err, "sweep: --rounds and --per-round take at most 1000000");
    if (a->rounds && a->trials > 0 && a->trials != a->rounds * a->per_round)
        return bp_cli_fail(err, "sweep: --trials %lld is not --rounds %lld times"
                                " --per-round %lld",
                           (long long)a->trials, (long long)a->rounds,
                           (long long)a->per_round);
    if (a->setting && a->task < 0)
        return bp_cli_fail(err, "sweep: --setting goes with --task");
    if (a->rounds) a->trials = a->rounds * a->per_round;
    return 0;
}

int bp_sweep_main(int argc, char **argv, const bp_sweep_host *h) {
    if (argc == 0)
        return bp_cli_fail(
            h->err, "sweep wants a script and its parameters: backprop sweep SCRIPT"
                    " key=SPEC... (see backprop --help)");
    if (!strcmp(argv[0], "show"))
        return bp_cli_sweep_show(NULL, argc - 1, argv + 1, h->out, h->err);
    if (!strcmp(argv[0], "status")) return sw_status_main(argc - 1, argv + 1, h);
    sw_args a;
    sw_def d;
    bp_err e;
    int rc = 1;
    memset(&d, 0, sizeof d);
    if (sw_args_parse(argc, argv, &a, h->err)) {
        rc = 1;
    } else if (a.resume) {
        if (a.n || a.script || modes(&a) || a.trials > 0 || a.seed || a.objective ||
            a.prune || a.name || a.shard_db || a.shards || a.sampler || a.shard_dir ||
            cluster_only(&a) || a.setting || a.repeats)
            rc = bp_cli_fail(
                h->err, "sweep --resume ID takes no other options than --db, -j and -v:"
                        " the sweep is as it was recorded");
        else rc = resume(&a, h);
    } else if (check_modes(&a, h->err)) {
        rc = 1;
    } else if (sw_def_from_args(&a, &d, &e)) {
        bp_cli_fail(h->err, "%s", e.msg);
    } else if (modes(&a) && d.spec->sampler != BP_SAMPLER_RANDOM && !a.rounds &&
               !a.setting) {
        bp_cli_fail(h->err,
                    "sweep: --sampler %s proposes each trial from the trials finished"
                    " before it: it cannot be split into --plan, --trial, --task, --slurm"
                    " or --parallel shards (--slurm with --rounds R --per-round K can)",
                    bp_sweep_sampler_name(d.spec->sampler));
    } else if (a.trial >= bp_sweep_count(d.spec) || a.task >= bp_sweep_count(d.spec)) {
        bp_cli_fail(h->err,
                    "sweep: %s %lld is out of range: the sweep has trials 0 to %lld",
                    a.task >= 0 ? "--task" : "--trial",
                    (long long)(a.task >= 0 ? a.task : a.trial),
                    (long long)bp_sweep_count(d.spec) - 1);
    } else if (a.plan) {
        rc = sw_plan(&a, &d, h);
    } else if (a.trial >= 0) {
        rc = sw_trial(&a, &d, h, argc, argv);
    } else if (a.task >= 0) {
        rc = sw_task(&a, &d, h, argc, argv);
    } else if (a.slurm || a.parallel) {
        rc = sw_cluster(&a, &d, h, argc, argv);
    } else {
        rc = start(&a, &d, h, argc, argv);
    }
    sw_def_free(&d);
    free(a.params);
    return rc;
}
