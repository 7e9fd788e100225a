/* sweep_cluster.c: `backprop sweep --slurm FILE` and `--parallel FILE`, the
 * scripts that run a sweep's trials on a cluster and put them together
 * (sweeprun_int.h).
 *
 * Slurm and GNU parallel are the engines; this only writes what they run.
 * Why the scripts are written rather than typed from the README:
 *  - The array holds exactly the trials not done yet, read from the target
 *    database and the shard folder (sw_view): no range counted by hand, and
 *    a resubmission runs only what is left (`--retry failed` adds the
 *    trials that failed or diverged).
 *  - Every path in them is absolute: a job runs in whatever folder it was
 *    submitted from, and a relative path that does not resolve there kills
 *    the task before it writes its output file.
 *  - Each task is `backprop sweep --task I` (sweep_task.c): node-local
 *    database, copied back atomically, skipped when done elsewhere, its
 *    exit status the trial's outcome.
 *  - The merge runs afterany, not afterok: a cancelled or failed task would
 *    leave an afterok job waiting forever. It merges what finished and
 *    `sweep status` reports what did not, with the command that runs it. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bp_cli.h"
#include "sweeprun_int.h"

/* path made absolute (against the working folder; not resolved, so that
 * it may not exist yet), malloc'd. */
static char *absolute(const char *path) {
    char cwd[PATH_MAX];
    if (path[0] == '/' || !getcwd(cwd, sizeof cwd)) return strdup(path);
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", cwd, path[0] == '.' && path[1] == '/' ? path + 2 : path);
    return s;
}

/* The trials from..to-1 the array runs: those not done (nor running), and
 * with --retry failed those that failed too, into todo; their number. */
static int64_t pick(const sw_view *v, int retry, int64_t from, int64_t to, int64_t *todo) {
    int64_t n = 0;
    for (int64_t i = from; i < to; i++)
        if (v->state[i] == SW_PENDING || v->state[i] == SW_STOPPED ||
            (retry && v->state[i] == SW_FAILED))
            todo[n++] = i;
    return n;
}

/* todo[0..n-1] (increasing) as Slurm's array list: "0-3,5,7-8". */
static void array_list(FILE *f, const int64_t *todo, int64_t n) {
    for (int64_t k = 0; k < n;) {
        int64_t j = k;
        while (j + 1 < n && todo[j + 1] == todo[j] + 1) j++;
        fprintf(f, "%s%lld", k ? "," : "", (long long)todo[k]);
        if (j > k) fprintf(f, "-%lld", (long long)todo[j]);
        k = j + 1;
    }
}

/* What the scripts need, made absolute once. */
typedef struct paths {
    char *exe, *db, *dir, *script, *file, *merge, *logs;
    char name[256]; /* the sweep's, as it is recorded: the job's name */
} paths;

static void paths_free(paths *p) {
    free(p->exe), free(p->db), free(p->dir), free(p->script), free(p->file), free(p->merge),
        free(p->logs);
}

static int paths_make(paths *p, const sw_args *a, const sw_def *d, const bp_sweep_host *h,
                      const char *file, bp_err *e) {
    memset(p, 0, sizeof *p);
    char *dir = sw_shard_dir(a);
    char exe[PATH_MAX], script[PATH_MAX];
    p->exe = strdup(realpath(h->exe, exe) ? exe : h->exe);
    p->script = strdup(realpath(d->script, script) ? script : d->script);
    p->db = absolute(bp_runlog_default_path(a->db));
    p->dir = dir ? absolute(dir) : NULL;
    p->file = absolute(file);
    free(dir);
    if (!p->exe || !p->script || !p->db || !p->dir || !p->file)
        return bp_err_set(e, "out of memory");
    size_t n = strlen(p->file) + 16, dl = strlen(p->dir) + 8;
    if (!(p->merge = malloc(n)) || !(p->logs = malloc(dl)))
        return bp_err_set(e, "out of memory");
    size_t base = strlen(p->file);
    if (base > 3 && !strcmp(p->file + base - 3, ".sh")) base -= 3;
    snprintf(p->merge, n, "%.*s-merge.sh", (int)base, p->file);
    snprintf(p->logs, dl, "%s/logs", p->dir);
    const char *slash = strrchr(d->script, '/');
    snprintf(p->name, sizeof p->name, "%s", d->name ? d->name : slash ? slash + 1 : d->script);
    size_t nl = strlen(p->name);
    if (!d->name && nl > 4 && !strcmp(p->name + nl - 4, ".lua")) p->name[nl - 4] = '\0';
    return 0;
}

/* The task's command, its trial the word `trial` (a shell expansion). */
static void task_command(FILE *f, const sw_args *a, const sw_def *d, const paths *p,
                         const char *trial) {
    sw_sh_word(f, p->exe);
    fprintf(f, " sweep --task %s%s --db ", trial, a->rounds ? " --setting \"$SET\"" : "");
    sw_sh_word(f, p->db);
    fputs(" --shard-dir ", f);
    sw_sh_word(f, p->dir);
    fputs(" \\\n    ", f);
    sw_trial_options(f, a, d);
    sw_sh_word(f, p->script);
    for (int k = 0; k < a->n; k++) {
        fputc(' ', f);
        sw_sh_word(f, a->params[k]);
    }
    fputc('\n', f);
}

/* The #SBATCH lines every job of the sweep shares. */
static void sbatch_common(FILE *f, const sw_args *a) {
    if (a->partition) fprintf(f, "#SBATCH --partition=%s\n", a->partition);
    if (a->account) fprintf(f, "#SBATCH --account=%s\n", a->account);
    if (a->time) fprintf(f, "#SBATCH --time=%s\n", a->time);
}

/* The command that writes the scripts again, for the merge's report. */
static void again(FILE *f, const char *exe, int argc, char **argv) {
    char cwd[PATH_MAX];
    fputs("cd ", f);
    sw_sh_word(f, getcwd(cwd, sizeof cwd) ? cwd : ".");
    fputs(" && ", f);
    sw_sh_word(f, exe);
    fputs(" sweep", f);
    for (int k = 0; k < argc; k++) {
        if (!strcmp(argv[k], "--after-round")) k++;
        else if (strcmp(argv[k], "--submit") && strncmp(argv[k], "--after-round=", 14)) {
            fputc(' ', f);
            sw_sh_word(f, argv[k]);
        }
    }
}

/* The merge and its report, the end of both kinds of script; for round
 * `round` (>= 0) of a sweep in rounds, then the next round's submission. */
static void merge_lines(FILE *f, const sw_def *d, const paths *p, const bp_sweep_host *h,
                        int argc, char **argv, int64_t round) {
    /* This sweep's shards alone: the folder may hold other sweeps'. */
    fputs("shopt -s nullglob\nshards=(", f);
    sw_sh_word(f, p->dir);
    fprintf(f, "/%s-t*.db)\n[ ${#shards[@]} = 0 ] || ", d->uid);
    sw_sh_word(f, p->exe);
    fputs(" merge ", f);
    sw_sh_word(f, p->db);
    fputs(" \"${shards[@]}\" || exit 1\n", f);
    sw_sh_word(f, p->exe);
    fputs(" sweep status --db ", f);
    sw_sh_word(f, p->db);
    fputs(" --shard-dir ", f);
    sw_sh_word(f, p->dir);
    fprintf(f, " %s\nrc=$?\n", d->uid);
    if (round >= 0) { /* the next round, proposed from what is merged now */
        fputs("[ $rc -eq 2 ] || exit $rc\n", f);
        again(f, p->exe, argc, argv);
        fprintf(f, " --after-round %lld --submit\n", (long long)round);
        return;
    }
    fputs("[ $rc -eq 2 ] && echo \"backprop: not every trial completed; to run the others"
          " (add --retry failed for the failed ones): ",
          f);
    again(f, h->argv0, argc, argv);
    fputs("\" >&2\nexit $rc\n", f);
}

/* One generation: what the scripts are written from. */
typedef struct job {
    const sw_args *a;
    const sw_def *d;
    const paths *p;
    const bp_sweep_host *h;
    int argc;
    char **argv;
    const int64_t *todo; /* the trials to run, n of them */
    int64_t n;
    char **settings; /* in rounds, each trial's setting; else NULL */
    int64_t round;   /* in rounds, the round; else -1 */
} job;

static void write_slurm(FILE *f, const job *j) {
    const sw_args *a = j->a;
    fprintf(f,
            "#!/bin/bash\n# The %lld trial%s of sweep %s (%s) not done yet, as a Slurm job"
            " array:\n#   jid=$(sbatch --parsable %s) && sbatch --dependency=afterany:$jid"
            " %s\n# Written by backprop sweep --slurm; run it again to write what is then"
            " left.\n",
            (long long)j->n, j->n == 1 ? "" : "s", j->d->uid, j->p->name, j->p->file,
            j->p->merge);
    if (j->round >= 0)
        fprintf(f, "# Round %lld of %lld, proposed from what %s held.\n",
                (long long)j->round + 1, (long long)a->rounds, j->p->db);
    fprintf(f, "#SBATCH --job-name=%s\n#SBATCH --array=", j->p->name);
    array_list(f, j->todo, j->n);
    if (a->throttle > 0) fprintf(f, "%%%lld", (long long)a->throttle);
    fprintf(f, "\n#SBATCH --cpus-per-task=%lld\n", (long long)(a->cpus > 0 ? a->cpus : 1));
    if (a->mem) fprintf(f, "#SBATCH --mem=%s\n", a->mem);
    sbatch_common(f, a);
    fprintf(f, "#SBATCH --output=%s/%%x-%%A_%%a.out\n", j->p->logs);
    for (int k = 0; k < a->nsbatch; k++) fprintf(f, "#SBATCH %s\n", a->sbatch[k]);
    if (j->settings) {
        fputs("case \"$SLURM_ARRAY_TASK_ID\" in\n", f);
        for (int64_t k = 0; k < j->n; k++) {
            fprintf(f, "%lld) SET=", (long long)j->todo[k]);
            sw_sh_word(f, j->settings[k]);
            fputs(" ;;\n", f);
        }
        fputs("*) echo \"backprop: task $SLURM_ARRAY_TASK_ID is not of this round\" >&2;"
              " exit 1 ;;\nesac\n", f);
    }
    fputs("export OPENBLAS_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\nexec ", f);
    task_command(f, a, j->d, j->p, "\"$SLURM_ARRAY_TASK_ID\"");
}

static void write_slurm_merge(FILE *f, const job *j) {
    fprintf(f,
            "#!/bin/bash\n# Sweep %s (%s): merges the trials that finished into %s and"
            " says\n# what did not (exit status 2); submitted afterany of the array.\n",
            j->d->uid, j->p->name, j->p->db);
    if (j->round >= 0 && j->round + 1 < j->a->rounds)
        fprintf(f, "# Then proposes round %lld and submits it.\n", (long long)j->round + 2);
    fprintf(f, "#SBATCH --job-name=%s-merge\n#SBATCH --cpus-per-task=1\n", j->p->name);
    sbatch_common(f, j->a);
    fprintf(f, "#SBATCH --output=%s/%%x-%%j.out\n", j->p->logs);
    merge_lines(f, j->d, j->p, j->h, j->argc, j->argv,
                j->round >= 0 && j->round + 1 < j->a->rounds ? j->round : -1);
}

static void write_parallel(FILE *f, const job *j) {
    fprintf(f,
            "#!/bin/bash\n# The %lld trial%s of sweep %s (%s) not done yet, with GNU"
            " parallel, then merged:\n#   bash %s [JOBS]   (JOBS at once, default the"
            " cores; a core each)\n# Written by backprop sweep --parallel; run it again to"
            " write what is then left.\nexport OPENBLAS_NUM_THREADS=\"${OPENBLAS_NUM_THREADS"
            ":-1}\"\nprintf '%%s\\n'",
            (long long)j->n, j->n == 1 ? "" : "s", j->d->uid, j->p->name, j->p->file);
    for (int64_t k = 0; k < j->n; k++) fprintf(f, " %lld", (long long)j->todo[k]);
    fputs(" |\n  parallel --will-cite -j \"${1:-$(nproc)}\" --joblog ", f);
    sw_sh_word(f, j->p->logs);
    fputs("/parallel.log -q ", f);
    task_command(f, j->a, j->d, j->p, "{}");
    merge_lines(f, j->d, j->p, j->h, j->argc, j->argv, -1);
}

/* Writes a script (kind 0: the array, 1: its merge, 2: GNU parallel's)
 * through a temporary file, executable, renamed into place. */
static int write_file(const char *path, int kind, const job *j, bp_err *e) {
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.part-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return bp_err_set(e, "cannot write %s (%s)", tmp, strerror(errno));
    if (kind == 0) write_slurm(f, j);
    else if (kind == 1) write_slurm_merge(f, j);
    else write_parallel(f, j);
    int bad = ferror(f);
    if (fclose(f) || bad || chmod(tmp, 0755) || rename(tmp, path)) {
        unlink(tmp);
        return bp_err_set(e, "cannot write %s (%s)", path, strerror(errno));
    }
    return 0;
}

/* Runs sbatch with args, its job id (what --parsable prints before any
 * ';') into id: 0, or -1 with the reason. */
static int sbatch(char *const *argv, char *id, size_t cap, bp_err *e) {
    int fd[2];
    if (pipe(fd)) return bp_err_set(e, "cannot run sbatch (%s)", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]), close(fd[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "backprop: cannot run %s (%s)\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    ssize_t got = pid > 0 ? read(fd[0], id, cap - 1) : -1;
    close(fd[0]);
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    id[got > 0 ? got : 0] = '\0';
    id[strcspn(id, ";\n")] = '\0';
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) || !id[0])
        return bp_err_set(e, "sbatch did not submit the job (see its message above)");
    return 0;
}

/* --submit: the array, then the merge afterany. */
static int submit(const paths *p, const bp_sweep_host *h) {
    char array[64], merge[64], dep[96];
    bp_err e;
    char *first[] = {"sbatch", "--parsable", p->file, NULL};
    if (sbatch(first, array, sizeof array, &e)) return bp_cli_fail(h->err, "%s", e.msg);
    snprintf(dep, sizeof dep, "--dependency=afterany:%s", array);
    char *second[] = {"sbatch", "--parsable", dep, p->merge, NULL};
    if (sbatch(second, merge, sizeof merge, &e))
        return bp_cli_fail(h->err, "%s (the array, job %s, is submitted)", e.msg, array);
    fprintf(h->out, "submitted job array %s and its merge, job %s\nwatch: squeue -j %s,%s;"
                    " backprop sweep status --db %s --shard-dir %s\n",
            array, merge, array, merge, p->db, p->dir);
    return 0;
}

/* Whether trials done in the shard folder are not merged into the target
 * yet (said): a round is proposed from what is merged. */
static int unmerged(const job *j, const sw_view *all) {
    sw_view merged;
    bp_err e;
    if (sw_view_read(&merged, j->d->uid, all->count, -1, j->p->db, NULL, &e))
        return bp_cli_fail(j->h->err, "%s", e.msg);
    int64_t n = sw_view_count(all, SW_DONE) - sw_view_count(&merged, SW_DONE);
    sw_view_free(&merged);
    if (n <= 0) return 0;
    return bp_cli_fail(j->h->err,
                       "sweep %s: %lld completed trial%s in %s not merged into %s yet; the"
                       " next round is proposed from what is merged: backprop merge %s %s/%s-t*.db",
                       j->d->uid, (long long)n, n == 1 ? " is" : "s are", j->p->dir, j->p->db,
                       j->p->db, j->p->dir, j->d->uid);
}

/* Which trials to run into j->todo (of the first round not done, in
 * rounds), said: their number, 0 when none, -1 on error, -2 when the round
 * a merge job just ran did not complete (said). */
static int64_t plan_trials(job *j, int64_t *todo) {
    const sw_args *a = j->a;
    sw_view v;
    bp_err e;
    if (sw_view_read(&v, j->d->uid, bp_sweep_count(j->d->spec), -1, j->p->db, j->p->dir, &e)) {
        sw_view_free(&v);
        bp_cli_fail(j->h->err, "%s", e.msg);
        return -1;
    }
    int64_t from = 0, to = v.count, n;
    if (a->rounds) {
        j->round = sw_round_of(&v, a->per_round, a->retry != NULL);
        from = j->round < 0 ? v.count : j->round * a->per_round;
        to = from + a->per_round < v.count ? from + a->per_round : v.count;
    }
    if (a->rounds && j->round >= 0 && j->round <= a->after_round) {
        bp_cli_fail(j->h->err,
                    "sweep %s: round %lld did not complete: not going on to the next (run"
                    " the same --slurm command for its trials)",
                    j->d->uid, (long long)j->round + 1);
        sw_view_free(&v);
        return -2;
    }
    if (a->rounds && j->round > 0 && unmerged(j, &v)) {
        sw_view_free(&v);
        return -1;
    }
    n = pick(&v, a->retry != NULL, from, to, todo);
    fprintf(j->h->err,
            "backprop: sweep %s: %lld of %lld trials to run (%lld done, %lld running,"
            " %lld failed%s)",
            j->d->uid, (long long)n, (long long)v.count, (long long)sw_view_count(&v, SW_DONE),
            (long long)sw_view_count(&v, SW_RUNNING), (long long)sw_view_count(&v, SW_FAILED),
            a->retry || !sw_view_count(&v, SW_FAILED) ? "" : ": --retry failed runs them");
    if (a->rounds && j->round >= 0)
        fprintf(j->h->err, ", round %lld of %lld", (long long)j->round + 1,
                (long long)a->rounds);
    fputc('\n', j->h->err);
    sw_view_free(&v);
    return n;
}

/* In rounds, the settings of the trials to run; 0 or -1 (said). */
static int settings_of(job *j) {
    bp_err e;
    if (!j->a->rounds) return 0;
    if (!(j->settings = calloc((size_t)j->n, sizeof *j->settings)))
        return -bp_cli_fail(j->h->err, "out of memory");
    if (sw_round_settings(j->d, j->p->db, j->todo, j->n, j->settings, &e)) {
        bp_cli_fail(j->h->err, "%s", e.msg);
        return -1;
    }
    return 0;
}

/* Writes the scripts of j (its trials chosen), and submits them or says
 * how to. The command's exit status. */
static int write_all(job *j) {
    bp_err e;
    const paths *p = j->p;
    int slurm = j->a->slurm != NULL;
    if (settings_of(j)) return 1;
    if (sw_make_dirs(p->logs, &e) || write_file(p->file, slurm ? 0 : 2, j, &e) ||
        (slurm && write_file(p->merge, 1, j, &e)))
        return bp_cli_fail(j->h->err, "%s", e.msg);
    if (slurm && j->a->submit) return submit(p, j->h);
    if (slurm)
        fprintf(j->h->out, "wrote %s and %s\nsubmit: jid=$(sbatch --parsable %s) && sbatch"
                           " --dependency=afterany:$jid %s\n",
                p->file, p->merge, p->file, p->merge);
    else fprintf(j->h->out, "wrote %s\nrun: bash %s [JOBS]\n", p->file, p->file);
    fprintf(j->h->out, "watch: backprop sweep status --db %s --shard-dir %s\n", p->db, p->dir);
    return 0;
}

int sw_cluster(const sw_args *a, const sw_def *d, const bp_sweep_host *h, int argc,
               char **argv) {
    paths p;
    memset(&p, 0, sizeof p);
    bp_err e;
    int64_t count = bp_sweep_count(d->spec);
    int64_t *todo = malloc((size_t)count * sizeof *todo);
    job j = {a, d, &p, h, argc, argv, todo, 0, NULL, -1};
    int rc = 1;
    if (!todo || paths_make(&p, a, d, h, a->slurm ? a->slurm : a->parallel, &e)) {
        bp_cli_fail(h->err, "%s", todo ? e.msg : "out of memory");
    } else if ((j.n = plan_trials(&j, todo)) <= 0) {
        if (j.n == 0)
            fprintf(h->out, "sweep %s: every trial is done or running: nothing to run\n",
                    d->uid);
        rc = j.n == 0 ? 0 : j.n == -2 ? 2 : 1;
    } else {
        rc = write_all(&j);
    }
    for (int64_t k = 0; j.settings && k < j.n; k++) free(j.settings[k]);
    free(j.settings);
    paths_free(&p);
    free(todo);
    return rc;
}
