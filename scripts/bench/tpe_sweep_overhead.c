/* tpe_sweep_overhead.c: what one TPE proposal costs a sweep's supervisor
 * after N finished trials, end to end (issue 16's target: under 50 ms after
 * 1,000): reading the sweep's trials back from the run log, its space,
 * ranking them and proposing every parameter (sw_tpe_trial), as the runner
 * does before it starts a trial. tpe_overhead times the estimator alone.
 *
 * The sweep must be in DB already, with its trials finished (any sampler:
 * tpe_search.sh fills one with random search, which is quicker); each
 * repetition proposes the trial after its last, with SAMPLER's estimator.
 * Prints
 *   trials <N> sampler <SAMPLER> ms_per_proposal <median> (min <m>, max <M>)
 *
 * Usage: tpe_sweep_overhead DB SWEEP [tpe|tpe:multivariate [REPS]] */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>

#include "bp_util.h"
#include "sweeprun_int.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times reps proposals of trial `next` of R's sweep into ms[]. */
static int time_proposals(sw_runner *R, int64_t next, double *ms, int reps, bp_err *e) {
    for (int k = 0; k < reps; k++) {
        double t0 = bp_clock();
        bp_sweep_spec *spec = sw_spec_now(R, e);
        if (!spec) return -1;
        if (R->d->spec->sampler != BP_SAMPLER_RANDOM) spec->sampler = R->d->spec->sampler;
        char **kv = calloc((size_t)spec->n + 1, sizeof *kv);
        int rc = kv ? sw_tpe_trial(R, spec, next, kv, e) : -1;
        ms[k] = (bp_clock() - t0) * 1e3;
        for (int j = 0; kv && j < spec->n; j++) free(kv[j]);
        free(kv);
        bp_sweep_spec_free(spec);
        if (rc) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr,
                "usage: tpe_sweep_overhead DB SWEEP [tpe|tpe:multivariate [REPS]]\n");
        return 2;
    }
    int64_t id = atoll(argv[2]);
    int reps = argc > 4 ? atoi(argv[4]) : 11;
    bp_err e = {0};
    bp_sweep_row row = {0};
    sw_def d = {0};
    double *ms = malloc(sizeof *ms * (size_t)(reps > 0 ? reps : 1));
    sw_proc procs[1] = {{0}};
    int rc = 1;
    bp_runlog *log = bp_runlog_open(argv[1], BP_RUNLOG_MUSTEXIST, &e);
    if (!log || !ms || reps < 1 || bp_runlog_sweep_read(log, id, &row, &e) != 1 ||
        sw_def_from_row(&row, row.name, &d, &e))
        goto end;
    bp_sweep_sampler sampler = BP_SAMPLER_TPE;
    if (argc > 3 && bp_sweep_sampler_parse(argv[3], &sampler, &e)) goto end;
    d.spec->sampler = sampler;
    bp_sweep_counts c;
    if (bp_runlog_sweep_counts(log, id, &c, &e)) goto end;
    sw_runner R = {.log = log, .id = id, .d = &d, .jobs = 1, .procs = procs};
    if (time_proposals(&R, c.recorded, ms, reps, &e)) goto end;
    qsort(ms, (size_t)reps, sizeof *ms, cmp);
    printf("trials %lld sampler %s ms_per_proposal %.3f (min %.3f, max %.3f)\n",
           (long long)c.recorded, bp_sweep_sampler_name(sampler), ms[reps / 2], ms[0],
           ms[reps - 1]);
    rc = 0;
end:
    if (rc)
        fprintf(stderr, "tpe_sweep_overhead: %s\n", e.msg[0] ? e.msg : "bad arguments");
    sw_def_free(&d);
    bp_sweep_row_free(&row);
    bp_runlog_close(log);
    free(ms);
    return rc;
}
