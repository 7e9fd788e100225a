/* w7.c: W7's database and its series reduction (scripts/bench/w7.lua).
 *
 *   w7 make DB [RUNS [STEPS [LONG_STEPS]]]   (default 10000 10000 1000000)
 *   w7 reduce DB RUN METRIC POINTS [REPS]    (default 5 repetitions)
 *   w7 time REPS COMMAND [ARG...]
 *
 * `make` builds, once, the run log of a group that has used backprop for a
 * year: RUNS completed runs of STEPS steps of one metric, `loss`, and ten
 * parameters each (lr and hidden among them), named seed_example and xor in
 * turn and run as trials of sweeps of 1,000 (so that README's best_lr and
 * mean_final_loss_by_hidden each find half of them), then one more run of
 * LONG_STEPS steps, the series that a plot reduces. Everything goes through
 * the run log's own API (bp_runlog.h), the metrics through its writer
 * thread, so the database is what backprop itself writes, summaries
 * included. It prints the rows written per second and the file's size per
 * million rows.
 *
 * `reduce` times bp_runlog_metric_reduce of one series to POINTS points on
 * an open log (what a plot or a dashboard's request costs), median of REPS,
 * and prints "reduce_ms <median> min <min> max <max> buckets <n>".
 *
 * `time` runs a command REPS times, its output to /dev/null, and prints
 * "wall_ms <median> min <min> max <max> cpu_ms <median> min <min> max
 * <max>": the CPU time (user and system, from wait4) is what a loaded
 * machine moves least, and the wall time is what a user waits. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bp_runlog.h"
#include "bp_util.h"

#define SWEEP_TRIALS 1000

static int fail(const bp_err *e) {
    fprintf(stderr, "w7: %s\n", e->msg);
    return 1;
}

/* The sweep that run k (from 0) is a trial of. */
static int64_t sweep_of(bp_runlog *log, int64_t k, bp_err *e) {
    char uid[32];
    snprintf(uid, sizeof uid, "w7-%lld", (long long)(k / SWEEP_TRIALS));
    bp_sweep_record rec = {.uid = uid,
                           .name = "w7",
                           .spec = "lr=loguniform:1e-4:1 hidden=2,4,8,16,32",
                           .keys = "lr hidden",
                           .strategy = "random",
                           .trials = SWEEP_TRIALS,
                           .seed = 1,
                           .objective = "loss",
                           .status = "partial"};
    return bp_runlog_sweep(log, &rec, NULL, e);
}

/* One run of `steps` steps: a loss falling from 1 to its floor, noisy. */
static int make_run(bp_runlog *log, int64_t k, int64_t steps, bp_err *e) {
    bp_run_info info = {.name = k < 0   ? "long"
                                : k % 2 ? "xor"
                                        : "seed_example",
                        .has_seed = 1,
                        .seed = k};
    if (k >= 0 && (info.sweep_id = sweep_of(log, k, e)) < 0) return -1;
    info.trial = k >= 0 ? k % SWEEP_TRIALS : 0;
    int64_t run = bp_runlog_begin(log, &info, e);
    if (run < 0) return -1;
    double lr =
        k < 0 ? 0.01 : pow(10.0, -4.0 + 4.0 * (double)((k * 7919) % 1000) / 1000.0);
    int hidden = k < 0 ? 8 : 2 << (k % 5);
    if (bp_runlog_param_real(log, run, "lr", lr, e) ||
        bp_runlog_param_int(log, run, "hidden", hidden, e))
        return -1;
    const char *more[] = {"batch",     "epochs", "momentum", "decay",
                          "seed_data", "warmup", "dropout",  "layers"};
    for (int p = 0; p < 8; p++)
        if (bp_runlog_param_int(log, run, more[p], (k + p) % 17, e)) return -1;
    double floor = 0.01 + 0.5 * fabs(log10(lr) + 2.0) / (hidden + 1.0);
    uint64_t s = (uint64_t)k * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t t = 1; t <= steps; t++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double noise = (double)(s >> 11) / 9007199254740992.0 - 0.5;
        double loss = floor + (1.0 - floor) * exp(-(double)t * lr * 10.0) + 0.01 * noise;
        if (bp_runlog_metric(log, run, "loss", t, loss, e)) return -1;
    }
    if (bp_runlog_end(log, run, "completed", NULL, NULL, e)) return -1;
    if (k >= 0 && k % SWEEP_TRIALS == SWEEP_TRIALS - 1)
        return bp_runlog_sweep_status(log, info.sweep_id, "completed", NULL, e) ? -1 : 0;
    return 0;
}

static int make(const char *db, int64_t runs, int64_t steps, int64_t long_steps) {
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    if (!log) return fail(&e);
    double t0 = bp_clock();
    for (int64_t k = 0; k < runs; k++) {
        if (make_run(log, k, steps, &e)) {
            bp_runlog_close(log);
            return fail(&e);
        }
        if (k % 500 == 499)
            fprintf(stderr, "%lld runs, %.0f rows/s\n", (long long)k + 1,
                    (double)(k + 1) * (double)steps / (bp_clock() - t0));
    }
    int rc = long_steps > 0 && make_run(log, -1, long_steps, &e);
    double dt = bp_clock() - t0;
    bp_runlog_close(log);
    if (rc) return fail(&e);
    struct stat sb;
    double rows = (double)runs * (double)steps + (double)long_steps;
    if (stat(db, &sb) != 0) return 1;
    printf("rows %.0f seconds %.1f rows_per_s %.0f bytes %lld mb_per_million_rows %.1f\n",
           rows, dt, rows / dt, (long long)sb.st_size,
           (double)sb.st_size / 1e6 / (rows / 1e6));
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median, least and greatest of v[0..n), sorted in place. */
static void summary(const char *name, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    printf("%s %.3f min %.3f max %.3f", name, med, v[0], v[n - 1]);
}

static int reduce(const char *db, int64_t run, const char *metric, size_t points,
                  int reps) {
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, BP_RUNLOG_READONLY, &e);
    if (!log) return fail(&e);
    double t[64];
    size_t n = 0;
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    for (int r = 0; r < reps; r++) {
        bp_metric_bucket *b;
        double t0 = bp_clock();
        if (bp_runlog_metric_reduce(log, run, metric, points, &b, &n, &e)) {
            bp_runlog_close(log);
            return fail(&e);
        }
        t[r] = 1e3 * (bp_clock() - t0);
        free(b);
    }
    bp_runlog_close(log);
    summary("reduce_ms", t, reps);
    printf(" buckets %zu\n", n);
    return 0;
}

static int time_command(int reps, char **argv) {
    double wall[64], cpu[64];
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    for (int r = 0; r < reps; r++) {
        extern char **environ;
        pid_t pid;
        int status;
        struct rusage ru;
        double t0 = bp_clock();
        if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0 ||
            wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "w7: %s failed\n", argv[0]);
            return 1;
        }
        wall[r] = 1e3 * (bp_clock() - t0);
        cpu[r] = 1e3 * ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) +
                 1e-3 * ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec);
    }
    posix_spawn_file_actions_destroy(&fa);
    summary("wall_ms", wall, reps);
    summary(" cpu_ms", cpu, reps);
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "make"))
        return make(argv[2], argc > 3 ? atoll(argv[3]) : 10000,
                    argc > 4 ? atoll(argv[4]) : 10000,
                    argc > 5 ? atoll(argv[5]) : 1000000);
    if (argc >= 6 && !strcmp(argv[1], "reduce"))
        return reduce(argv[2], atoll(argv[3]), argv[4], (size_t)atoll(argv[5]),
                      argc > 6 ? atoi(argv[6]) : 5);
    if (argc >= 4 && !strcmp(argv[1], "time"))
        return time_command(atoi(argv[2]), argv + 3);
    fprintf(stderr, "usage: w7 make DB [RUNS [STEPS [LONG_STEPS]]]\n"
                    "       w7 reduce DB RUN METRIC POINTS [REPS]\n"
                    "       w7 time REPS COMMAND [ARG...]\n");
    return 2;
}
