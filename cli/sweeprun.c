/* sweeprun.c: running sweeps (see bp_sweeprun.h); `backprop merge` is
 * sweep_merge.c.
 *
 * Why it is built this way:
 *  - Each trial is a process: fork and exec of the backprop executable
 *    itself as `backprop run --sweep ID --trial I ...`. A trial that
 *    crashes, leaks or loops takes nothing else down, the run log's writer
 *    and the Lua state need nothing new, and the trial is exactly the run a
 *    user can repeat by hand from its recorded command.
 *  - The parent blocks SIGCHLD, SIGINT and SIGTERM and takes them with
 *    sigtimedwait: no handler runs in the middle of anything, and no signal
 *    is lost between looking at the children and waiting for the next.
 *  - Everything the parent knows about a trial it reads back from the
 *    database (the run with the trial's pid), so the summary, a resume and
 *    `sweep show` all agree with what is recorded.
 *  - A sweep's uid is a hash of what determines its trials and their
 *    results, so shards run on other machines into other databases are the
 *    same sweep again after bp_runlog_merge, which matches sweeps and runs
 *    by uid and renumbers everything else. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "bp_cli.h"
#include "bp_runlog.h"
#include "bp_sweep.h"
#include "bp_sweeplog.h"
#include "bp_sweeprun.h"
#include "bp_util.h"

extern char **environ;

/* The message of `backprop run` for a key the script never read. */
#define UNREAD_PREFIX "parameter given but never read by "
/* After SIGINT or SIGTERM, how long the trials have to stop by themselves
 * (a terminal sends the signal to all of them too) before it is passed on. */
#define GRACE_S 1.0

/* ------------------------------------------------------------------------ */
/* The command's arguments, and the sweep they describe                      */

typedef struct args {
    const char *db, *name, *objective, *prune, *seed, *script, *shard_db;
    int64_t jobs, trials, trial, resume, shards;
    int plan, verbose, n;
    char **params; /* key=SPEC, n of them */
} args;

/* Options that take a value: the long name, and -j's short one. */
static const char *const valued[] = {"--db",    "--name",     "--objective", "--prune",
                                     "--seed",  "--shard-db", "--jobs",      "--trials",
                                     "--trial", "--resume",   "--shards",    NULL};

static int parse_args(int argc, char **argv, args *a, FILE *err) {
    memset(a, 0, sizeof *a);
    a->trials = a->trial = -1;
    if (!(a->params = calloc((size_t)(argc > 0 ? argc : 1), sizeof *a->params)))
        return bp_cli_fail(err, "out of memory");
    for (int k = 0; k < argc; k++) {
        const char *s = argv[k], *v = NULL, *opt = s;
        char name[32];
        if (!strcmp(s, "--plan")) {
            a->plan = 1;
            continue;
        }
        if (!strcmp(s, "-v") || !strcmp(s, "--verbose")) {
            a->verbose = 1;
            continue;
        }
        if (!strncmp(s, "-j", 2) && strncmp(s, "--", 2)) {
            opt = "--jobs";
            v = s[2] ? s + 2 : NULL;
        } else if (s[0] == '-') {
            size_t n = strcspn(s, "=");
            if (n >= sizeof name) n = sizeof name - 1;
            memcpy(name, s, n);
            name[n] = '\0';
            opt = name;
            if (s[strcspn(s, "=")]) v = s + strcspn(s, "=") + 1;
            int known = 0;
            for (int j = 0; valued[j]; j++) known |= !strcmp(valued[j], opt);
            if (!known)
                return bp_cli_fail(err,
                                   "sweep: unknown option '%s' (see backprop --help)", s);
        } else if (strchr(s, '=')) {
            a->params[a->n++] = argv[k];
            continue;
        } else if (!a->script) {
            a->script = s;
            continue;
        } else {
            return bp_cli_fail(err,
                               "sweep: two scripts given ('%s' and '%s'); parameters are"
                               " key=SPEC",
                               a->script, s);
        }
        if (!v) {
            if (k + 1 >= argc)
                return bp_cli_fail(err, "sweep: option '%s' needs a value", opt);
            v = argv[++k];
        }
        int64_t *num = !strcmp(opt, "--jobs")     ? &a->jobs
                       : !strcmp(opt, "--trials") ? &a->trials
                       : !strcmp(opt, "--trial")  ? &a->trial
                       : !strcmp(opt, "--resume") ? &a->resume
                       : !strcmp(opt, "--shards") ? &a->shards
                                                  : NULL;
        if (num) {
            int64_t lo = !strcmp(opt, "--trial") ? 0 : 1;
            if (bp_sweep_parse_i64(v, lo, !strcmp(opt, "--jobs") ? 4096 : INT64_MAX / 2,
                                   num))
                return bp_cli_fail(err,
                                   "sweep: %s wants a whole number >= %lld, not '%s'",
                                   opt, (long long)lo, v);
            continue;
        }
        const char **slot = !strcmp(opt, "--db")          ? &a->db
                            : !strcmp(opt, "--name")      ? &a->name
                            : !strcmp(opt, "--objective") ? &a->objective
                            : !strcmp(opt, "--prune")     ? &a->prune
                            : !strcmp(opt, "--seed")      ? &a->seed
                                                          : &a->shard_db;
        *slot = v;
    }
    return 0;
}

/* A sweep as the arguments (or a stored row) define it. */
typedef struct sweep_def {
    bp_sweep_spec *spec;
    char *spec_text, *keys, *script, *text;
    const char *name; /* NULL: the script's */
    bp_objective obj;
    bp_prune prune;
    char prune_text[48];
    char uid[17];
} sweep_def;

static void def_free(sweep_def *d) {
    bp_sweep_spec_free(d->spec);
    free(d->spec_text);
    free(d->keys);
    free(d->script);
    free(d->text);
    memset(d, 0, sizeof *d);
}

/* What the uid covers: everything that decides the trials and their
 * results (the script's text, the spec with its seed, the objective and
 * the pruning rule), and nothing else (not the name, path or database). */
static void make_uid(sweep_def *d) {
    char obj[80];
    snprintf(obj, sizeof obj, "%s:%s", d->obj.maximize ? "max" : "min", d->obj.metric);
    const char *parts[] = {d->text, d->spec_text, obj, d->prune_text};
    uint64_t h = BP_FNV1A_INIT;
    for (int k = 0; k < 4; k++) h = bp_fnv1a(h, parts[k], strlen(parts[k]) + 1);
    snprintf(d->uid, sizeof d->uid, "%016llx", (unsigned long long)h);
}

/* Fills d->spec_text, keys and uid, and reads the script. */
static int finish_def(sweep_def *d, bp_err *e) {
    size_t len = 1;
    for (int k = 0; k < d->spec->n; k++) len += strlen(d->spec->params[k].key) + 1;
    if (!(d->keys = malloc(len)) || !(d->spec_text = bp_sweep_spec_text(d->spec)))
        return bp_err_set(e, "out of memory");
    d->keys[0] = '\0';
    for (int k = 0; k < d->spec->n; k++) {
        if (k) strcat(d->keys, " ");
        strcat(d->keys, d->spec->params[k].key);
    }
    bp_prune_text(&d->prune, d->prune_text, sizeof d->prune_text);
    if (!(d->text = bp_read_file(d->script, NULL, e))) return -1;
    make_uid(d);
    return 0;
}

/* The sweep the arguments describe, checked whole before any database is
 * touched. */
static int def_from_args(const args *a, sweep_def *d, bp_err *e) {
    memset(d, 0, sizeof *d);
    if (bp_objective_parse(a->objective ? a->objective : "loss", &d->obj, e) ||
        bp_prune_parse(a->prune, &d->prune, e))
        return -1;
    if (!(d->spec = bp_sweep_spec_new())) return bp_err_set(e, "out of memory");
    for (int k = 0; k < a->n; k++)
        if (bp_sweep_spec_add(d->spec, a->params[k], e)) return -1;
    if (a->trials > 0) d->spec->trials = a->trials;
    int64_t seed = 1;
    if (a->seed && bp_sweep_parse_i64(a->seed, 0, INT64_MAX, &seed))
        return bp_err_set(e, "bad --seed '%s': expected an integer from 0 to 2^63-1",
                          a->seed);
    d->spec->seed = (uint64_t)seed;
    if (bp_sweep_spec_check(d->spec, e)) return -1;
    if (!a->script)
        return bp_err_set(
            e, "sweep: no script given (usage: backprop sweep SCRIPT key=SPEC...)");
    if (!(d->script = strdup(a->script))) return bp_err_set(e, "out of memory");
    d->name = a->name;
    return finish_def(d, e);
}

/* ------------------------------------------------------------------------ */
/* Running trials                                                            */

typedef struct proc {
    pid_t pid;
    int64_t trial;
    FILE *errf; /* the trial's stderr (NULL with -v: it goes to ours) */
    double t0;
} proc;

typedef struct runner {
    const bp_sweep_host *h;
    bp_runlog *log;
    const char *db;
    int64_t id;
    const sweep_def *d;
    char name[256]; /* the sweep's; trial runs are NAME#I */
    int jobs, verbose, tty;
    /* The trials' environment: the runner's, with OPENBLAS_NUM_THREADS set
     * to their share of the cores unless the user chose a thread count
     * (see trial_env). */
    char **envp;
    char threads_var[48];
    proc *procs;
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
} runner;

/* The last non-empty line of what a trial wrote on stderr, into buf. */
static void last_line(FILE *f, char *buf, size_t size) {
    buf[0] = '\0';
    if (!f || fseek(f, 0, SEEK_END) != 0) return;
    long end = ftell(f);
    long from = end > 4096 ? end - 4096 : 0;
    char tail[4097];
    fseek(f, from, SEEK_SET);
    size_t n = fread(tail, 1, (size_t)(end - from), f);
    tail[n] = '\0';
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r')) tail[--n] = '\0';
    const char *line = strrchr(tail, '\n') ? strrchr(tail, '\n') + 1 : tail;
    size_t len = strlen(line) < size ? strlen(line) : size - 1;
    memcpy(buf, line, len);
    buf[len] = '\0';
}

static int spawn(runner *R, int64_t trial, bp_err *e) {
    const bp_sweep_spec *spec = R->d->spec;
    char **kv = calloc((size_t)spec->n + 1, sizeof *kv);
    if (!kv) return bp_err_set(e, "out of memory");
    if (bp_sweep_trial(spec, trial, kv, e)) {
        free(kv);
        return -1;
    }
    char id[32], tr[32], seed[32], name[300];
    snprintf(id, sizeof id, "%lld", (long long)R->id);
    snprintf(tr, sizeof tr, "%lld", (long long)trial);
    snprintf(seed, sizeof seed, "%llu",
             (unsigned long long)bp_sweep_trial_seed(spec->seed, spec->n, kv));
    snprintf(name, sizeof name, "%s#%lld", R->name, (long long)trial);
    const char *fixed[] = {R->h->exe, "run",     "--db",      R->db,    "--sweep",
                           id,        "--trial", tr,          "--seed", seed,
                           "--name",  name,      R->d->script};
    size_t nf = sizeof fixed / sizeof *fixed;
    char **argv = calloc(nf + (size_t)spec->n + 1, sizeof *argv);
    FILE *errf = R->verbose ? NULL : tmpfile();
    int rc = -1;
    if (!argv || (!R->verbose && !errf)) {
        bp_err_set(e, "cannot start trial %lld: %s", (long long)trial,
                   argv ? "no temporary file for its output" : "out of memory");
        goto out;
    }
    for (size_t k = 0; k < nf; k++) argv[k] = (char *)fixed[k];
    for (int k = 0; k < spec->n; k++) argv[nf + (size_t)k] = kv[k];
    /* Only this trial gets its file: not the trials started after it. */
    int errfd = errf ? fileno(errf) : -1;
    if (errfd >= 0) fcntl(errfd, F_SETFD, FD_CLOEXEC);
    fflush(R->h->out);
    fflush(R->h->err);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        bp_err_set(e, "cannot start trial %lld: %s", (long long)trial, strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec: the parent has threads. */
        sigprocmask(SIG_SETMASK, &R->oldmask, NULL);
#ifdef __linux__
        /* A sweep killed outright takes its trials with it (they end as
         * interrupted, and a resume runs them again). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
#else
        (void)parent;
#endif
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            if (errf) dup2(null, 1);
        }
        if (errfd >= 0) dup2(errfd, 2);
        execve(R->h->exe, argv, R->envp ? R->envp : environ);
        _exit(127);
    }
    for (int k = 0; k < R->jobs; k++)
        if (R->procs[k].pid == 0) {
            R->procs[k] = (proc){pid, trial, errf, bp_clock()};
            errf = NULL;
            break;
        }
    R->running++;
    rc = 0;
out:
    if (errf) fclose(errf);
    for (int k = 0; k < spec->n; k++) free(kv[k]);
    free(kv);
    free(argv);
    return rc;
}

static void fmt_value(char *buf, size_t size, int have, double v) {
    if (!have) snprintf(buf, size, "-");
    else snprintf(buf, size, "%.6g", v);
}

/* On a terminal, one line rewritten in place (trial < 0: a trial started),
 * above which the trials that did not complete stay; elsewhere, a line per
 * trial that ended. */
static void progress(runner *R, int64_t trial, const char *status, const char *params,
                     int have_obj, double obj, double dt) {
    char best[64], val[64], dur[32];
    fmt_value(best, sizeof best, R->have_best, R->best);
    if (R->tty) {
        if (trial >= 0 && strcmp(status, "completed") && strcmp(status, "pruned"))
            fprintf(R->h->err, "\r\033[Ktrial %lld %s  %s\n", (long long)trial, status,
                    params ? params : "");
        fprintf(R->h->err,
                "\r\033[Ksweep %lld: %lld/%lld done, %d running, %lld failed,"
                " %lld pruned; best %s %s",
                (long long)R->id, (long long)R->done, (long long)R->total, R->running,
                (long long)(R->failed + R->diverged), (long long)R->pruned,
                R->d->obj.metric, best);
        if (R->have_best) fprintf(R->h->err, " (trial %lld)", (long long)R->best_trial);
    } else {
        fmt_value(val, sizeof val, have_obj, obj);
        bp_format_duration(dur, sizeof dur, dt);
        fprintf(R->h->err,
                "trial %lld %s  %s %s  %s  %s  [%lld/%lld done, %d running,"
                " %lld failed, %lld pruned; best %s",
                (long long)trial, status, R->d->obj.metric, val, params ? params : "",
                dur, (long long)R->done, (long long)R->total, R->running,
                (long long)(R->failed + R->diverged), (long long)R->pruned, best);
        if (R->have_best) fprintf(R->h->err, " (trial %lld)", (long long)R->best_trial);
        fputs("]\n", R->h->err);
    }
    fflush(R->h->err);
}

/* Reads back the run of a trial whose process has ended. A run the process
 * left 'running' could not record its end: it crashed (or was stopped), and
 * says so with what it printed last (why). No run at all: the process
 * failed before it could record one, which is said here. */
static void read_outcome(runner *R, const proc *p, int wstatus, const char *why,
                         bp_trial_outcome *o) {
    char msg[BP_ERR_MAX + 128];
    bp_err e;
    if (WIFSIGNALED(wstatus))
        snprintf(msg, sizeof msg, "the trial's process was killed by signal %d (%s)",
                 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
    else
        snprintf(msg, sizeof msg,
                 "the trial's process exited with status %d without"
                 " recording an end%s%s",
                 WEXITSTATUS(wstatus), why[0] ? ": " : "", why);
    bp_runlog_trial_crashed(R->log, R->id, p->trial, p->pid, msg, &e);
    if (bp_runlog_trial_outcome(R->log, R->id, p->trial, p->pid, R->d->obj.metric, o,
                                &e) == 1)
        return;
    snprintf(o->status, sizeof o->status, "crashed");
    if (WIFEXITED(wstatus))
        snprintf(o->message, sizeof o->message,
                 "trial %lld: the process exited with status %d"
                 " before recording a run%s%s",
                 (long long)p->trial, WEXITSTATUS(wstatus), why[0] ? ": " : "", why);
    else
        snprintf(o->message, sizeof o->message,
                 "trial %lld: the process was killed by signal"
                 " %d before recording a run",
                 (long long)p->trial, WTERMSIG(wstatus));
    bp_cli_fail(R->h->err, "%s", o->message);
}

/* Counts a trial that ended so: the sweep's tallies, its best, and whether
 * the script never read a swept key. */
static void tally(runner *R, int64_t trial, const bp_trial_outcome *o) {
    const char *status = o->status;
    R->done += bp_trial_status_state(status) == BP_TRIAL_DONE;
    R->failed += !strcmp(status, "failed");
    R->diverged += !strcmp(status, "diverged");
    R->pruned += !strcmp(status, "pruned");
    R->crashed += !strcmp(status, "crashed");
    double obj = o->objective;
    if (!strcmp(status, "completed") && o->has_objective &&
        (!R->have_best || (R->d->obj.maximize ? obj > R->best : obj < R->best) ||
         (obj == R->best && trial < R->best_trial))) {
        R->have_best = 1;
        R->best = obj;
        R->best_trial = trial;
    }
    if (!strcmp(status, "failed") &&
        !strncmp(o->message, UNREAD_PREFIX, strlen(UNREAD_PREFIX)) && !R->unread) {
        R->unread = 1;
        snprintf(R->message, sizeof R->message, "%s", o->message);
    }
}

/* A trial's process has ended: reads its run back and counts it. */
static void finish(runner *R, proc *p, int wstatus) {
    double dt = bp_clock() - p->t0;
    R->running--;
    R->finished++;
    char why[BP_ERR_MAX];
    last_line(p->errf, why, sizeof why);
    bp_trial_outcome o;
    read_outcome(R, p, wstatus, why, &o);
    tally(R, p->trial, &o);
    int64_t trial = p->trial;
    if (p->errf) fclose(p->errf);
    memset(p, 0, sizeof *p);
    progress(R, trial, o.status, o.params, o.has_objective, o.objective, dt);
}

static void signal_all(runner *R, int sig) {
    for (int k = 0; k < R->jobs; k++)
        if (R->procs[k].pid > 0) kill(R->procs[k].pid, sig);
}

static void on_sigchld(int sig) { (void)sig; }

static int ncores(void);

/* The environment trials run in. Left as it is when the user named a thread
 * count (OPENBLAS_NUM_THREADS, or GOTO_NUM_THREADS or OMP_NUM_THREADS,
 * which OpenBLAS also reads); else OPENBLAS_NUM_THREADS = cores / jobs, at
 * least 1. Trials that each took every core would share them, and a step
 * split between threads (bp_net.h) waits at every meeting for a member
 * whose core another trial holds: two W2 trials at once on two cores took
 * 1.6 times as long with two threads each as with one. Returns 0, or -1
 * when memory runs out. */
static int trial_env(runner *R) {
    if (getenv("OPENBLAS_NUM_THREADS") || getenv("GOTO_NUM_THREADS") ||
        getenv("OMP_NUM_THREADS"))
        return 0;
    size_t n = 0;
    while (environ[n]) n++;
    if (!(R->envp = calloc(n + 2, sizeof *R->envp))) return -1;
    memcpy(R->envp, environ, n * sizeof *R->envp);
    int share = ncores() / (R->jobs > 0 ? R->jobs : 1);
    snprintf(R->threads_var, sizeof R->threads_var, "OPENBLAS_NUM_THREADS=%d",
             share > 1 ? share : 1);
    R->envp[n] = R->threads_var;
    return 0;
}

/* Runs the trials todo[0..n-1], R->jobs at a time. Returns how many were
 * started (-1 when memory for the runner's tables runs out); stops starting
 * new ones on a signal or an unread parameter. */
static int64_t run_trials(runner *R, const int64_t *todo, int64_t n, bp_err *e) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* SIGCHLD's default action is to discard it: a handler that does
     * nothing keeps it pending for sigtimedwait on every system. */
    struct sigaction nop, old_chld;
    memset(&nop, 0, sizeof nop);
    nop.sa_handler = on_sigchld;
    sigemptyset(&nop.sa_mask);
    sigaction(SIGCHLD, &nop, &old_chld);
    sigprocmask(SIG_BLOCK, &set, &R->oldmask);
    if (!(R->procs = calloc((size_t)R->jobs, sizeof *R->procs)) || trial_env(R)) {
        free(R->procs);
        R->procs = NULL;
        sigprocmask(SIG_SETMASK, &R->oldmask, NULL);
        bp_err_set(e, "out of memory");
        return -1;
    }
    int64_t next = 0;
    int forwarded = 0, failed = 0;
    double t_signal = 0;
    for (;;) {
        /* Until one trial of the sweep has ended, one runs alone: a script
         * that fails for every trial (a parameter it never reads) is
         * caught after one trial, not after -j of them. */
        int cap = R->done > 0 || R->finished > 0 ? R->jobs : 1;
        int started = 0;
        while (!R->signal && !R->unread && !failed && R->running < cap && next < n) {
            if (spawn(R, todo[next], e)) {
                failed = 1;
                break;
            }
            next++;
            started = 1;
        }
        if (started && R->tty) progress(R, -1, NULL, NULL, 0, 0, 0);
        int status;
        pid_t pid;
        int reaped = 0;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int k = 0; k < R->jobs; k++)
                if (R->procs[k].pid == pid) finish(R, &R->procs[k], status);
            reaped = 1;
        }
        if (R->unread && !forwarded) {
            /* The others would fail the same way: stop them now. */
            signal_all(R, SIGTERM);
            forwarded = 1;
        }
        if (R->running == 0 && (R->signal || R->unread || failed || next >= n)) break;
        if (reaped) continue;
        if (R->signal && !forwarded && bp_clock() - t_signal > GRACE_S) {
            signal_all(R, R->signal);
            forwarded = 1;
        }
        struct timespec ts = {0, 100 * 1000000L};
        siginfo_t si;
        int sig = sigtimedwait(&set, &si, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            if (R->signal) {
                signal_all(R, SIGKILL); /* a second one: stop now */
            } else {
                R->signal = sig;
                t_signal = bp_clock();
                if (R->tty) fputc('\n', R->h->err);
                fprintf(R->h->err,
                        "backprop: %s: stopping the sweep (%d trial%s running;"
                        " again to kill them)\n",
                        sig == SIGINT ? "interrupted" : "terminated", R->running,
                        R->running == 1 ? "" : "s");
            }
        }
    }
    free(R->procs);
    R->procs = NULL;
    free(R->envp);
    R->envp = NULL;
    /* Signals that came meanwhile are taken, not left for the host. */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) > 0) {}
    sigaction(SIGCHLD, &old_chld, NULL);
    sigprocmask(SIG_SETMASK, &R->oldmask, NULL);
    if (R->tty) fputc('\n', R->h->err);
    return failed ? -1 : next;
}

/* ------------------------------------------------------------------------ */
/* The summary                                                               */

/* The first line of s, at most `width` characters, into buf. */
static void first_line(char *buf, size_t size, const char *s, int width) {
    s = s ? s : "";
    int n = (int)strcspn(s, "\n");
    if (n > width) snprintf(buf, size, "%.*s...", width - 3, s);
    else snprintf(buf, size, "%.*s", n, s);
}

/* What went wrong, trial by trial (ten at most of each kind). */
static void print_problems(const runner *R, FILE *out) {
    bp_trial_problem *list;
    size_t n;
    bp_err e;
    char buf[640];
    if (bp_runlog_sweep_problems(R->log, R->id, 10, &list, &n, &e)) return;
    for (size_t k = 0; k < n; k++) {
        const bp_trial_problem *p = &list[k];
        first_line(buf, sizeof buf, p->message, 100);
        fprintf(out, "  %s: trial %lld (run %lld)%s%s\n", p->status, (long long)p->trial,
                (long long)p->run, buf[0] ? ": " : "", buf);
        if (p->rank == 10 && p->count > 10)
            fprintf(out, "  ... and %lld more %s\n", (long long)(p->count - 10),
                    p->status);
    }
    bp_trial_problems_free(list, n);
}

/* Pruned trials, and the time pruning saved: each would have taken about
 * as long as the mean completed trial. */
static void print_pruned(const runner *R, FILE *out) {
    bp_trial_pruned *list;
    size_t n;
    bp_err e;
    if (bp_runlog_sweep_pruned(R->log, R->id, &list, &n, &e) || n == 0) return;
    double saved = 0;
    int mean_known = 0;
    for (size_t k = 0; k < n; k++) {
        if (k == 0) fprintf(out, "  pruned: trial");
        if (k < 20)
            fprintf(out, "%s %lld (step %lld)", k ? "," : "", (long long)list[k].trial,
                    (long long)list[k].step);
        else if (k == 20) fprintf(out, ", ...");
        if (list[k].has_mean) {
            mean_known = 1;
            double left = list[k].mean_duration - list[k].duration;
            if (left > 0) saved += left;
        }
    }
    char dur[32];
    bp_format_duration(dur, sizeof dur, saved);
    if (mean_known) fprintf(out, "; about %s saved\n", dur);
    else fprintf(out, "; no trial completed to tell the time saved\n");
    free(list);
}

static void summary(runner *R, const char *status, double wall, int64_t ran) {
    FILE *out = R->h->out;
    char buf[640], dur[32];
    bp_format_duration(dur, sizeof dur, wall);
    fprintf(out, "sweep %lld (%s): %s; %lld trials, %lld run now in %s with -j %d\n",
            (long long)R->id, R->name, status, (long long)R->total, (long long)ran, dur,
            R->jobs);
    bp_err e;
    bp_sweep_counts c;
    if (bp_runlog_sweep_counts(R->log, R->id, &c, &e) == 0)
        fprintf(out,
                "  trials: %lld completed, %lld failed, %lld diverged, %lld pruned,"
                " %lld crashed or interrupted, %lld never run\n",
                (long long)c.completed, (long long)c.failed, (long long)c.diverged,
                (long long)c.pruned, (long long)c.unfinished,
                (long long)(R->total - c.recorded));
    int64_t trial, run;
    double obj;
    if (bp_runlog_sweep_best(R->log, R->id, R->d->obj.maximize, &trial, &run, &obj, buf,
                             sizeof buf, &e) == 1)
        fprintf(out, "  best: trial %lld, %s %.6g (run %lld): %s\n", (long long)trial,
                R->d->obj.metric, obj, (long long)run, buf);
    else fprintf(out, "  best: none (no completed trial logged %s)\n", R->d->obj.metric);
    print_problems(R, out);
    print_pruned(R, out);
    fprintf(out, "  every trial, ranked: backprop sweep show %lld%s%s\n",
            (long long)R->id, strcmp(R->db, bp_runlog_default_path(NULL)) ? " --db " : "",
            strcmp(R->db, bp_runlog_default_path(NULL)) ? R->db : "");
    fflush(out);
}

/* ------------------------------------------------------------------------ */
/* The modes: a sweep, a resume, one trial (--trial), the plan (--plan)      */

static int ncores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
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

/* Runs the trials of sweep id that are not done (only `only` when >= 0,
 * for --trial), then sets the sweep's status and prints the summary.
 * shard: the sweep is one shard's (--trial), never taken as 'running'. */
static int execute(bp_runlog *log, const char *db, int64_t id, const sweep_def *d,
                   const args *a, const bp_sweep_host *h, int64_t only) {
    bp_err e;
    int64_t count = bp_sweep_count(d->spec);
    unsigned char *state = malloc((size_t)count);
    int64_t *todo = malloc((size_t)count * sizeof *todo);
    runner R;
    memset(&R, 0, sizeof R);
    int rc = 1;
    if (!state || !todo) {
        bp_cli_fail(h->err, "out of memory");
        goto out;
    }
    if (bp_runlog_trial_states(log, id, count, state, &e)) {
        bp_cli_fail(h->err, "%s", e.msg);
        goto out;
    }
    int64_t n = 0, elsewhere = 0, done = 0;
    for (int64_t i = 0; i < count; i++) {
        done += state[i] == BP_TRIAL_DONE;
        elsewhere += state[i] == BP_TRIAL_RUNNING && (only < 0 || i == only);
        if ((state[i] == BP_TRIAL_NEW || state[i] == BP_TRIAL_RETRY) &&
            (only < 0 || i == only))
            todo[n++] = i;
    }
    R.h = h, R.log = log, R.db = db, R.id = id, R.d = d, R.verbose = a->verbose;
    R.tty = isatty(fileno(h->err)) && only < 0;
    R.total = count, R.done = done;
    bp_sweep_counts c;
    bp_runlog_sweep_counts(log, id, &c, &e); /* all 0 when unknown */
    R.failed = c.failed, R.diverged = c.diverged, R.pruned = c.pruned;
    int64_t bt, br;
    double bo;
    if (bp_runlog_sweep_best(log, id, d->obj.maximize, &bt, &br, &bo, NULL, 0, &e) == 1)
        R.have_best = 1, R.best = bo, R.best_trial = bt;
    bp_sweep_row row;
    if (bp_runlog_sweep_read(log, id, &row, &e) == 1)
        snprintf(R.name, sizeof R.name, "%s", row.name);
    bp_sweep_row_free(&row);
    int jobs = a->jobs > 0 ? (int)a->jobs : ncores();
    R.jobs = n > 0 && jobs > n ? (int)n : jobs;
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
    if (only < 0 && bp_runlog_sweep_status(log, id, "running", NULL, &e)) {
        bp_cli_fail(h->err, "%s", e.msg);
        goto out;
    }
    double t0 = bp_clock();
    int64_t ran = n ? run_trials(&R, todo, n, &e) : 0;
    if (ran < 0) bp_cli_fail(h->err, "%s", e.msg);
    const char *status;
    const char *message = NULL;
    if (R.unread) status = "failed", message = R.message;
    else if (R.signal) status = "interrupted";
    else if (ran < 0) status = "interrupted", message = e.msg;
    else if (only >= 0) status = R.done == count ? "completed" : "partial";
    else status = elsewhere ? "interrupted" : "completed";
    /* A shard does not take over a sweep another process is running. */
    if (only < 0 || !sweep_running(log, id)) {
        if (bp_runlog_sweep_status(log, id, status, message, &e))
            bp_cli_fail(h->err, "%s", e.msg);
    }
    if (R.unread) bp_cli_fail(h->err, "sweep %lld stopped: %s", (long long)id, R.message);
    if (only < 0) summary(&R, status, bp_clock() - t0, ran < 0 ? 0 : ran);
    rc = R.unread || ran < 0                           ? 1
         : R.signal                                    ? 128 + R.signal
         : only >= 0                                   ? (R.crashed ? 1 : 0)
         : !strcmp(status, "completed") && R.have_best ? 0
                                                       : 1;
    if (only < 0 && !R.signal && !R.unread && ran >= 0 && !R.have_best)
        bp_cli_fail(h->err, "sweep %lld: no trial completed with a value of %s",
                    (long long)id, d->obj.metric);
out:
    free(state);
    free(todo);
    return rc;
}

static bp_runlog *open_db(const char *db, int flags, FILE *err) {
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, flags, &e);
    if (!log) bp_cli_fail(err, "%s", e.msg);
    return log;
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

/* Records the sweep (or finds it by uid), then runs it or its trial. */
static int start(const args *a, const sweep_def *d, const bp_sweep_host *h, int argc,
                 char **argv) {
    const char *db = bp_runlog_default_path(a->db);
    bp_runlog *log = open_db(db, 0, h->err);
    if (!log) return 1;
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
                           .objective = d->obj.metric,
                           .maximize = d->obj.maximize,
                           .prune = d->prune_text[0] ? d->prune_text : NULL,
                           .status = a->trial >= 0 ? "partial" : NULL,
                           .command = command};
    bp_err e;
    bp_sweep_row row;
    memset(&row, 0, sizeof row);
    int created = 0, rc = 1;
    int64_t id = bp_runlog_sweep(log, &rec, &created, &e);
    free(command);
    if (id < 0) {
        bp_cli_fail(h->err, "%s", e.msg);
        goto out;
    }
    if (!created && a->trial < 0) {
        int found = bp_runlog_sweep_read(log, id, &row, &e) == 1;
        if (found && !strcmp(row.status, "running")) {
            bp_cli_fail(
                h->err,
                "sweep %lld (the same script, specification and objective) is running"
                " in another process",
                (long long)id);
            goto out;
        }
        if (found && refuse_failed(&row, id, h->err)) goto out;
        fprintf(h->err,
                "backprop: sweep %lld has the same script, specification and"
                " objective: resuming it (only the trials not done run)\n",
                (long long)id);
    }
    rc = execute(log, db, id, d, a, h, a->trial);
out:
    bp_sweep_row_free(&row);
    bp_runlog_close(log);
    return rc;
}

/* --resume ID: the sweep as stored, the script as it is now (which must be
 * the same text). */
static int resume(const args *a, const bp_sweep_host *h) {
    const char *db = bp_runlog_default_path(a->db);
    bp_runlog *log = open_db(db, BP_RUNLOG_MUSTEXIST, h->err);
    if (!log) return 1;
    sweep_def d;
    memset(&d, 0, sizeof d);
    bp_err e;
    int rc = 1;
    char name[256] = "", obj[80] = "", prune[48] = "";
    bp_sweep_row row;
    if (bp_runlog_sweep_read(log, a->resume, &row, &e) != 1) {
        bp_cli_fail(h->err, "%s: no sweep %lld", db, (long long)a->resume);
        goto out;
    }
    if (!strcmp(row.status, "running")) {
        bp_cli_fail(h->err, "sweep %lld is running in another process",
                    (long long)a->resume);
        goto out;
    }
    if (refuse_failed(&row, a->resume, h->err)) goto out;
    if (!row.script_path || !row.spec) {
        bp_cli_fail(h->err, "sweep %lld has no script recorded: it cannot be resumed",
                    (long long)a->resume);
        goto out;
    }
    snprintf(name, sizeof name, "%s", row.name);
    snprintf(obj, sizeof obj, "%s", row.objective);
    snprintf(prune, sizeof prune, "%s", row.prune ? row.prune : "");
    d.script = row.script_path;
    row.script_path = NULL;
    if (!(d.spec = bp_sweep_spec_parse(row.spec, &e)) ||
        bp_objective_parse(obj, &d.obj, &e) || bp_prune_parse(prune, &d.prune, &e) ||
        finish_def(&d, &e)) {
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
    d.name = name;
    rc = execute(log, db, a->resume, &d, a, h, -1);
out:
    bp_sweep_row_free(&row);
    def_free(&d);
    bp_runlog_close(log);
    return rc;
}

/* Prints s for a POSIX shell: bare when it is safe, else in single quotes. */
static void sh_word(FILE *out, const char *s) {
    int safe = *s != '\0';
    for (const char *p = s; *p; p++)
        safe &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9') || strchr("_./:=,+-%@", *p) != NULL;
    if (safe) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", out);
        else fputc(*s, out);
    }
    fputc('\'', out);
}

/* --plan: one self-contained command line per trial. */
static int plan(const args *a, const sweep_def *d, const bp_sweep_host *h) {
    const char *pattern = a->shard_db ? a->shard_db : "results/shard-%d.db";
    const char *pct = strstr(pattern, "%d");
    int64_t count = bp_sweep_count(d->spec);
    char seed[32], obj[80], trials[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)d->spec->seed);
    snprintf(obj, sizeof obj, "%s:%s", d->obj.maximize ? "max" : "min", d->obj.metric);
    snprintf(trials, sizeof trials, "%lld", (long long)d->spec->trials);
    for (int64_t i = 0; i < count; i++) {
        char db[1024], num[32];
        int64_t shard = a->shards > 0 ? i % a->shards : i;
        snprintf(num, sizeof num, "%lld", (long long)shard);
        if (pct)
            snprintf(db, sizeof db, "%.*s%s%s", (int)(pct - pattern), pattern, num,
                     pct + 2);
        else snprintf(db, sizeof db, "%s", pattern);
        sh_word(h->out, h->argv0);
        fprintf(h->out, " sweep --trial %lld --db ", (long long)i);
        sh_word(h->out, db);
        if (a->name) {
            fputs(" --name ", h->out);
            sh_word(h->out, a->name);
        }
        fputs(" --objective ", h->out);
        sh_word(h->out, obj);
        if (d->prune_text[0]) fprintf(h->out, " --prune %s", d->prune_text);
        if (d->spec->trials > 0) fprintf(h->out, " --trials %s", trials);
        fprintf(h->out, " --seed %s ", seed);
        sh_word(h->out, d->script);
        for (int k = 0; k < a->n; k++) {
            fputc(' ', h->out);
            sh_word(h->out, a->params[k]);
        }
        fputc('\n', h->out);
    }
    fflush(h->out);
    return 0;
}

int bp_sweep_main(int argc, char **argv, const bp_sweep_host *h) {
    if (argc == 0)
        return bp_cli_fail(
            h->err, "sweep wants a script and its parameters: backprop sweep SCRIPT"
                    " key=SPEC... (see backprop --help)");
    if (!strcmp(argv[0], "show"))
        return bp_cli_sweep_show(NULL, argc - 1, argv + 1, h->out, h->err);
    args a;
    if (parse_args(argc, argv, &a, h->err)) {
        free(a.params);
        return 1;
    }
    int rc = 1;
    if (a.resume) {
        if (a.n || a.script || a.plan || a.trial >= 0 || a.trials > 0 || a.seed ||
            a.objective || a.prune || a.name || a.shard_db || a.shards)
            rc = bp_cli_fail(
                h->err, "sweep --resume ID takes no other options than --db, -j and -v:"
                        " the sweep is as it was recorded");
        else rc = resume(&a, h);
        free(a.params);
        return rc;
    }
    if (a.plan && a.trial >= 0) {
        free(a.params);
        return bp_cli_fail(
            h->err, "sweep: --plan prints the --trial commands; give one or the other");
    }
    sweep_def d;
    bp_err e;
    if (def_from_args(&a, &d, &e)) {
        bp_cli_fail(h->err, "%s", e.msg);
    } else if (a.trial >= bp_sweep_count(d.spec)) {
        bp_cli_fail(h->err,
                    "sweep: --trial %lld is out of range: the sweep has trials 0 to %lld",
                    (long long)a.trial, (long long)bp_sweep_count(d.spec) - 1);
    } else if (a.plan) {
        rc = plan(&a, &d, h);
    } else {
        rc = start(&a, &d, h, argc, argv);
    }
    def_free(&d);
    free(a.params);
    return rc;
}
