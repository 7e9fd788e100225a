/* sweep_summary.c: what a sweep says when it ends (sweeprun_int.h).
 *
 * Everything in it is read back from the run log, over the whole sweep
 * (this invocation's trials and the ones before), so that it agrees with
 * `sweep show` and with what a resume will do; the runner's own counts only
 * say how many trials this invocation started. */
#define _XOPEN_SOURCE 700 /* sigset_t, in sweeprun_int.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_util.h"
#include "sweeprun_int.h"

/* The first line of s, at most `width` characters, into buf. */
static void first_line(char *buf, size_t size, const char *s, int width) {
    s = s ? s : "";
    int n = (int)strcspn(s, "\n");
    if (n > width) snprintf(buf, size, "%.*s...", width - 3, s);
    else snprintf(buf, size, "%.*s", n, s);
}

/* What went wrong, trial by trial (ten at most of each kind). */
static void print_problems(const sw_runner *R, FILE *out) {
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
static void print_pruned(const sw_runner *R, FILE *out) {
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

void sw_summary(const sw_runner *R, const char *status, double wall, int64_t ran) {
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
    int64_t repeats;
    double sd;
    int best = bp_runlog_sweep_best(R->log, R->id, R->d->obj.maximize, &trial, &run, &obj,
                                    buf, sizeof buf, &e);
    if (best == 1 && bp_sweep_repeats(R->d->spec) > 1 &&
        bp_runlog_sweep_setting_spread(R->log, R->id, trial, &repeats, &sd, &e) == 1)
        fprintf(
            out,
            "  best: trial %lld, %s mean %.6g, sd %.3g over %lld repeats (run %lld): %s\n",
            (long long)trial, R->d->obj.metric, obj, sd, (long long)repeats,
            (long long)run, buf);
    else if (best == 1)
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
