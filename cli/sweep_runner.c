/* sweep_runner.c: a sweep's trials run as processes, R->jobs at a time,
 * with the signals and the progress lines (sweeprun_int.h).
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
 *    database (the run with the trial's pid), so the progress, the summary,
 *    a resume and `sweep show` all agree with what is recorded.
 *  - A trial whose run crashed or was interrupted is taken up in that run
 *    (`backprop run --resume RUN`: its checkpoint if any, its parameters and
 *    seed), not started again beside it: it ends as if never stopped, and
 *    stays one run. Only if its script had not read its parameters yet
 *    (no checkpoint, a setting not all recorded) does it run again as a new
 *    run: a resume takes the parameters from the run's record. Its pid is the new process's (the reopen records it), so its
 *    outcome reads back as any trial's.
 *  - Its setting otherwise comes from the specification as the run log
 *    holds it now (sw_spec_now): the command line's parameters and the names
 *    the script suggested in earlier trials. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#include "bp_util.h"
#include "sweeprun_int.h"

extern char **environ;

/* Whether a trial's message is the module's for a key the script never
 * read ("w.lua:6: parameter given but never read before ...", or "... not
 * declared by bp.params{...}"): a typo in the specification, which every
 * trial would repeat. */
static int unread_message(const char *m) {
    return strstr(m, " given but never read ") || strstr(m, " given but not declared ");
}
/* After SIGINT or SIGTERM, how long the trials have to stop by themselves
 * (a terminal sends the signal to all of them too) before it is passed on. */
#define GRACE_S 1.0

int sw_ncores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

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

/* The child's side of spawn: the trial's process becomes `backprop run`
 * (argv), its stdin and (quiet) stdout /dev/null, its stderr errfd when
 * that is >= 0. */
static void exec_trial(const sw_runner *R, char **argv, int quiet, int errfd,
                       pid_t parent) {
    /* Only async-signal-safe calls until exec: the parent has threads. The
     * host's handlers, inherited, would take a SIGTERM that comes before
     * exec and forget it there: until exec, it ends the child. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
#ifdef __linux__
    /* A sweep killed outright takes its trials with it (they end as
     * interrupted, and a resume waits for them, then runs them again). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
#else
    (void)parent;
#endif
    sigprocmask(SIG_SETMASK, &R->oldmask, NULL);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        if (quiet) dup2(null, 1);
    }
    if (errfd >= 0) dup2(errfd, 2);
    execve(R->h->exe, argv, R->envp ? R->envp : environ);
    _exit(127);
}

/* kv[0..n-1] joined by spaces, malloc'd (NULL if out of memory). */
static char *join_params(char *const *kv, int n) {
    size_t len = 1;
    for (int k = 0; k < n; k++) len += strlen(kv[k]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (int k = 0; k < n; k++) strcat(strcat(s, k ? " " : ""), kv[k]);
    return s;
}

bp_sweep_spec *sw_spec_now(const sw_runner *R, bp_err *e) {
    bp_sweep_spec *s = bp_sweep_spec_parse(R->d->spec_text, e);
    bp_sweep_space sp;
    if (s && R->setting && sw_setting_names(s, R->setting, e)) {
        bp_sweep_spec_free(s);
        return NULL;
    }
    if (!s || s->trials == 0 || R->setting) return s;
    if (bp_runlog_sweep_space(R->log, R->id, &sp, e)) {
        bp_sweep_spec_free(s);
        return NULL;
    }
    int rc = 0;
    for (size_t k = 0; k < sp.n && !rc; k++) {
        int known = 0;
        for (int j = 0; j < s->n; j++) known |= !strcmp(s->params[j].key, sp.keys[k]);
        if (known) continue; /* the command line's spec rules */
        size_t len = strlen(sp.keys[k]) + strlen(sp.specs[k]) + 2;
        char *arg = malloc(len);
        if (!arg) rc = bp_err_set(e, "out of memory");
        else snprintf(arg, len, "%s=%s", sp.keys[k], sp.specs[k]);
        if (arg && !(rc = bp_sweep_spec_add(s, arg, e)))
            s->params[s->n - 1].suggested = 1;
        free(arg);
    }
    bp_sweep_space_free(&sp);
    if (rc) {
        bp_sweep_spec_free(s);
        return NULL;
    }
    return s;
}

/* Drops kv's NULLs (parameters a trial does not get: a conditional one its
 * setting's run never read), keeping the order; the count left. */
static int compact(char **kv, int n) {
    int m = 0;
    for (int k = 0; k < n; k++)
        if (kv[k]) kv[m++] = kv[k];
    return m;
}

/* Starts argv as the trial's process and enters it in R->procs, which
 * takes params (else freed). 0, or -1 with the reason. */
static int start_process(sw_runner *R, int64_t trial, char **argv, char *params,
                         bp_err *e) {
    FILE *errf = R->verbose ? NULL : tmpfile();
    int rc = -1;
    if (!R->verbose && !errf) {
        bp_err_set(e, "cannot start trial %lld: no temporary file for its output",
                   (long long)trial);
        goto out;
    }
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
    if (pid == 0) exec_trial(R, argv, errf != NULL, errfd, parent);
    for (int k = 0; k < R->jobs; k++)
        if (R->procs[k].pid == 0) {
            R->procs[k] = (sw_proc){pid, trial, errf, bp_clock(), params};
            errf = NULL;
            params = NULL;
            break;
        }
    R->running++;
    rc = 0;
out:
    if (errf) fclose(errf);
    free(params);
    return rc;
}

/* Whether params ("k=v ...", a run's record) holds a value of every
 * parameter of s that every trial reads (not a conditional or suggested
 * one): then the run had read its setting before it stopped. */
static int holds_setting(const bp_sweep_spec *s, const char *params) {
    for (int k = 0; k < s->n; k++) {
        const bp_sweep_param *p = &s->params[k];
        if (p->conditional || p->suggested) continue;
        size_t kl = strlen(p->key);
        const char *at = params;
        while ((at = strstr(at, p->key)) &&
               !((at == params || at[-1] == ' ') && at[kl] == '='))
            at += kl;
        if (!at) return 0;
    }
    return 1;
}

/* A trial whose last run was interrupted or crashed goes on in that run,
 * `backprop run --resume RUN`, from its latest checkpoint (bp.resume) if it
 * made one, with the run's own parameters and seed: when the run made a
 * checkpoint or recorded every parameter of its setting (else its script
 * stopped before reading them, and a resume would run with defaults). 1
 * when started so, 0 when the trial is not to be resumed, -1 with the
 * reason. */
static int resume_trial(sw_runner *R, const bp_sweep_spec *spec, int64_t trial,
                        bp_err *e) {
    int64_t run;
    int checkpointed;
    char params[4096], id[32];
    int r = bp_runlog_trial_resumable(R->log, R->id, trial, &run, &checkpointed, params,
                                      sizeof params, e);
    if (r <= 0 || (!checkpointed && !holds_setting(spec, params))) return r < 0 ? -1 : 0;
    snprintf(id, sizeof id, "%lld", (long long)run);
    char *argv[] = {(char *)R->h->exe, "run",      "--quiet", "--db",
                    (char *)R->db,     "--resume", id,        NULL};
    char *copy = strdup(params);
    if (!copy) return bp_err_set(e, "out of memory");
    return start_process(R, trial, argv, copy, e) ? -1 : 1;
}

static int spawn(sw_runner *R, int64_t trial, bp_err *e) {
    bp_sweep_spec *spec = sw_spec_now(R, e);
    if (!spec) return -1;
    int resumed = R->setting ? 0 : resume_trial(R, spec, trial, e);
    char **kv = resumed ? NULL : calloc((size_t)spec->n + 1, sizeof *kv);
    if (!kv) { /* resumed (1), failed to (-1), or out of memory */
        if (!resumed) bp_err_set(e, "out of memory");
        bp_sweep_spec_free(spec);
        return resumed > 0 ? 0 : -1;
    }
    if ((R->setting                           ? sw_setting(spec, R->setting, kv, e)
         : spec->sampler == BP_SAMPLER_RANDOM ? bp_sweep_trial(spec, trial, kv, e)
                                              : sw_tpe_trial(R, spec, trial, kv, e))) {
        free(kv);
        bp_sweep_spec_free(spec);
        return -1;
    }
    int nkv = compact(kv, spec->n);
    char *params = join_params(kv, nkv);
    char id[32], tr[32], seed[32], name[300];
    snprintf(id, sizeof id, "%lld", (long long)R->id);
    snprintf(tr, sizeof tr, "%lld", (long long)trial);
    snprintf(seed, sizeof seed, "%llu",
             (unsigned long long)bp_sweep_repeat_seed(
                 spec->trials > 0
                     ? bp_sweep_setting_seed(spec->seed, trial / bp_sweep_repeats(spec))
                     : bp_sweep_trial_seed(spec->seed, nkv, kv),
                 trial % bp_sweep_repeats(spec)));
    snprintf(name, sizeof name, "%s#%lld", R->name, (long long)trial);
    const char *fixed[] = {R->h->exe, "run",     "--db",      R->db,    "--sweep",
                           id,        "--trial", tr,          "--seed", seed,
                           "--name",  name,      R->d->script};
    size_t nf = sizeof fixed / sizeof *fixed;
    char **argv = calloc(nf + (size_t)nkv + 1, sizeof *argv);
    int rc = -1;
    if (!argv || !params) {
        bp_err_set(e, "cannot start trial %lld: out of memory", (long long)trial);
        goto out;
    }
    for (size_t k = 0; k < nf; k++) argv[k] = (char *)fixed[k];
    for (int k = 0; k < nkv; k++) argv[nf + (size_t)k] = kv[k];
    rc = start_process(R, trial, argv, params, e);
    params = NULL; /* the process's, or freed */
out:
    free(params);
    for (int k = 0; k < nkv; k++) free(kv[k]);
    free(kv);
    free(argv);
    bp_sweep_spec_free(spec);
    return rc;
}

static void fmt_value(char *buf, size_t size, int have, double v) {
    if (!have) snprintf(buf, size, "-");
    else snprintf(buf, size, "%.6g", v);
}

/* On a terminal, one line rewritten in place (trial < 0: a trial started),
 * above which the trials that did not complete stay; elsewhere, a line per
 * trial that ended. */
static void progress(sw_runner *R, int64_t trial, const char *status, const char *params,
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
static void read_outcome(sw_runner *R, const sw_proc *p, int wstatus, const char *why,
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
static void tally(sw_runner *R, int64_t trial, const bp_trial_outcome *o) {
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
        unread_message(o->message) && !R->unread) {
        R->unread = 1;
        snprintf(R->message, sizeof R->message, "%s", o->message);
    }
}

/* A trial's process has ended: reads its run back and counts it. */
static void finish(sw_runner *R, sw_proc *p, int wstatus) {
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
    free(p->params);
    memset(p, 0, sizeof *p);
    progress(R, trial, o.status, o.params, o.has_objective, o.objective, dt);
}

static void signal_all(sw_runner *R, int sig) {
    for (int k = 0; k < R->jobs; k++)
        if (R->procs[k].pid > 0) kill(R->procs[k].pid, sig);
}

static void on_sigchld(int sig) { (void)sig; }

/* The environment trials run in. Left as it is when the user named a thread
 * count (OPENBLAS_NUM_THREADS, or GOTO_NUM_THREADS or OMP_NUM_THREADS,
 * which OpenBLAS also reads); else OPENBLAS_NUM_THREADS = cores / jobs, at
 * least 1. Trials that each took every core would share them, and a step
 * split between threads (bp_net.h) waits at every meeting for a member
 * whose core another trial holds (scripts/bench/NOTES.md, "Trials sharing
 * the cores"). Returns 0, or -1
 * when memory runs out. */
static int trial_env(sw_runner *R) {
    if (getenv("OPENBLAS_NUM_THREADS") || getenv("GOTO_NUM_THREADS") ||
        getenv("OMP_NUM_THREADS"))
        return 0;
    size_t n = 0;
    while (environ[n]) n++;
    if (!(R->envp = calloc(n + 2, sizeof *R->envp))) return -1;
    memcpy(R->envp, environ, n * sizeof *R->envp);
    int share = sw_ncores() / (R->jobs > 0 ? R->jobs : 1);
    snprintf(R->threads_var, sizeof R->threads_var, "OPENBLAS_NUM_THREADS=%d",
             share > 1 ? share : 1);
    R->envp[n] = R->threads_var;
    return 0;
}

/* What the runner's loop carries from one turn to the next. */
typedef struct loop {
    sigset_t set; /* SIGCHLD, SIGINT and SIGTERM, blocked while it runs */
    struct sigaction old_chld;
    int64_t next; /* the next of todo to start */
    int forwarded, failed;
    double t_signal; /* when the first SIGINT or SIGTERM came */
} loop;

static void block_signals(sw_runner *R, loop *L) {
    sigemptyset(&L->set);
    sigaddset(&L->set, SIGCHLD);
    sigaddset(&L->set, SIGINT);
    sigaddset(&L->set, SIGTERM);
    /* SIGCHLD's default action is to discard it: a handler that does
     * nothing keeps it pending for sigtimedwait on every system. */
    struct sigaction nop;
    memset(&nop, 0, sizeof nop);
    nop.sa_handler = on_sigchld;
    sigemptyset(&nop.sa_mask);
    sigaction(SIGCHLD, &nop, &L->old_chld);
    sigprocmask(SIG_BLOCK, &L->set, &R->oldmask);
}

static void unblock_signals(sw_runner *R, loop *L) {
    /* Signals that came meanwhile are taken, not left for the host. */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&L->set, NULL, &zero) > 0) {}
    sigaction(SIGCHLD, &L->old_chld, NULL);
    sigprocmask(SIG_SETMASK, &R->oldmask, NULL);
}

/* Starts trials while there are free places and nothing stops the sweep. */
static void start_more(sw_runner *R, const int64_t *todo, int64_t n, loop *L, bp_err *e) {
    /* Until one trial of the sweep has ended, one runs alone: a script
     * that fails for every trial (a parameter it never reads) is
     * caught after one trial, not after -j of them. */
    int cap = R->done > 0 || R->finished > 0 ? R->jobs : 1;
    int started = 0;
    while (!R->signal && !R->unread && !L->failed && R->running < cap && L->next < n) {
        if (spawn(R, todo[L->next], e)) {
            L->failed = 1;
            break;
        }
        L->next++;
        started = 1;
    }
    if (started && R->tty) progress(R, -1, NULL, NULL, 0, 0, 0);
}

/* Finishes every trial whose process has ended; whether there was one. */
static int reap(sw_runner *R) {
    int status, reaped = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int k = 0; k < R->jobs; k++)
            if (R->procs[k].pid == pid) finish(R, &R->procs[k], status);
        reaped = 1;
    }
    return reaped;
}

/* Waits a tenth of a second for a signal. The first SIGINT or SIGTERM
 * stops the sweep (the trials get GRACE_S to stop by themselves), a second
 * one kills the trials. */
static void wait_signal(sw_runner *R, loop *L) {
    if (R->signal && !L->forwarded && bp_clock() - L->t_signal > GRACE_S) {
        signal_all(R, R->signal);
        L->forwarded = 1;
    }
    struct timespec ts = {0, 100 * 1000000L};
    siginfo_t si;
    int sig = sigtimedwait(&L->set, &si, &ts);
    if (sig != SIGINT && sig != SIGTERM) return;
    if (R->signal) {
        signal_all(R, SIGKILL); /* a second one: stop now */
        return;
    }
    R->signal = sig;
    L->t_signal = bp_clock();
    if (R->tty) fputc('\n', R->h->err);
    fprintf(R->h->err,
            "backprop: %s: stopping the sweep (%d trial%s running;"
            " again to kill them)\n",
            sig == SIGINT ? "interrupted" : "terminated", R->running,
            R->running == 1 ? "" : "s");
}

int64_t sw_run_trials(sw_runner *R, const int64_t *todo, int64_t n, bp_err *e) {
    loop L;
    memset(&L, 0, sizeof L);
    block_signals(R, &L);
    if (!(R->procs = calloc((size_t)R->jobs, sizeof *R->procs)) || trial_env(R)) {
        free(R->procs);
        R->procs = NULL;
        sigprocmask(SIG_SETMASK, &R->oldmask, NULL);
        bp_err_set(e, "out of memory");
        return -1;
    }
    for (;;) {
        start_more(R, todo, n, &L, e);
        int reaped = reap(R);
        if (R->unread && !L.forwarded) {
            /* The others would fail the same way: stop them now. */
            signal_all(R, SIGTERM);
            L.forwarded = 1;
        }
        if (R->running == 0 && (R->signal || R->unread || L.failed || L.next >= n)) break;
        if (!reaped) wait_signal(R, &L);
    }
    free(R->procs);
    R->procs = NULL;
    free(R->envp);
    R->envp = NULL;
    unblock_signals(R, &L);
    if (R->tty) fputc('\n', R->h->err);
    return L.failed ? -1 : L.next;
}
