/* plot_axis.c: the kinds of x axis `backprop plot --x KIND` draws a run's
 * metric against (plot_int.h), one row of plot_axes[] each.
 *
 * A kind says how the x of a metric's value comes from its step, with what
 * it reads of the run first: the step itself; the epoch (a per-epoch
 * metric's step is its epoch; a per-step one's is placed by where the run's
 * epochs ended, the epochs table of schema 8); or the time since the run
 * began, as the dashboard's charts place it (bp_runlog_time_axis: the
 * times the writer recorded, schema 12, interpolated; a run recorded
 * before them spread over its duration at a steady pace, step s of a
 * series whose last step is S at duration * s / S, which the axis' label
 * then says). Parsing,
 * the list of kinds in errors, the axis' label and the help come from the
 * table, so that a kind is one more row. */
#include <stdlib.h>
#include <string.h>

#include "bp_runlog.h"
#include "plot_int.h"

/* step: the step as logged. */
static int step_prepare(bp_runlog *log, int64_t run, const char *metric, int64_t last_step,
                        plot_axis_ctx *c, bp_err *e) {
    (void)log, (void)run, (void)metric, (void)e;
    *c = (plot_axis_ctx){.last_step = last_step};
    return 0;
}

static double step_x(const plot_axis_ctx *c, int64_t step) {
    (void)c;
    return (double)step;
}

/* time: the series' wall-time axis (bp_runlog_time_axis). */
static int time_prepare(bp_runlog *log, int64_t run, const char *metric, int64_t last_step,
                        plot_axis_ctx *c, bp_err *e) {
    *c = (plot_axis_ctx){.last_step = last_step};
    if (bp_runlog_time_axis(log, run, metric, &c->time, e)) return -1;
    c->seconds = c->time.duration;
    c->estimated = metric && c->time.estimated;
    return 0;
}

static double time_x(const plot_axis_ctx *c, int64_t step) {
    return bp_time_axis_at(&c->time, step);
}

/* epoch: a per-epoch metric as it is; a per-step one by the epochs' ends,
 * which a run without them cannot give. */
static int epoch_prepare(bp_runlog *log, int64_t run, const char *metric, int64_t last_step,
                         plot_axis_ctx *c, bp_err *e) {
    *c = (plot_axis_ctx){.last_step = last_step};
    bp_metric_unit unit = BP_UNIT_STEP;
    if (metric && bp_runlog_metric_unit_get(log, run, metric, &unit, e)) return -1;
    if ((c->per_epoch = unit == BP_UNIT_EPOCH) || !metric) return 0;
    if (bp_runlog_epoch_ends(log, run, &c->epochs, &c->ends, &c->n, e)) return -1;
    if (c->n) return 0;
    return bp_err_set(e,
                      "run %lld recorded no epoch's end, which --x epoch needs to place its"
                      " per-step metric '%s' (net:fit records them, as bp.log{epoch = n}"
                      " does)",
                      (long long)run, metric);
}

double plot_epoch_x(const int64_t *epochs, const int64_t *ends, size_t n, int64_t step) {
    size_t lo = 0, hi = n; /* the first epoch that ended at or after step */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ends[mid] < step) lo = mid + 1;
        else hi = mid;
    }
    if (lo == n) { /* past the last end: the last epoch's length goes on */
        int64_t len = n > 1 ? ends[n - 1] - ends[n - 2] : ends[0];
        return (double)epochs[n - 1] + (len > 0 ? (double)(step - ends[n - 1]) / len : 0);
    }
    int64_t from = lo ? ends[lo - 1] : 0, len = ends[lo] - from;
    double first = lo ? (double)epochs[lo - 1] : (double)epochs[0] - 1;
    return first + (len > 0 ? (double)(step - from) / (double)len : 1);
}

static double epoch_x(const plot_axis_ctx *c, int64_t step) {
    return c->per_epoch ? (double)step : plot_epoch_x(c->epochs, c->ends, c->n, step);
}

void plot_axis_ctx_free(plot_axis_ctx *c) {
    free(c->epochs), free(c->ends);
    c->epochs = c->ends = NULL, c->n = 0;
    bp_time_axis_free(&c->time);
}

const plot_axis plot_axes[] = {
    {"step", "step", 0, step_prepare, step_x},
    {"epoch", "epoch", 0, epoch_prepare, epoch_x},
    {"time", "time since the run began", 1, time_prepare, time_x},
};
const int plot_naxes = (int)(sizeof plot_axes / sizeof plot_axes[0]);

const plot_axis *plot_axis_find(const char *name) {
    for (int k = 0; k < plot_naxes; k++)
        if (!strcmp(plot_axes[k].name, name)) return &plot_axes[k];
    return NULL;
}

void plot_axis_names(char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < plot_naxes && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s",
                              k == 0 ? "" : k + 1 == plot_naxes ? " or " : ", ",
                              plot_axes[k].name);
}

/* The unit of a time axis whose longest run lasted `longest` seconds: its
 * name and how many seconds it counts, so that the ticks read 1.5 h, not
 * 5400 s. */
double plot_time_unit(double longest, const char **name) {
    if (longest >= 3 * 3600) return *name = "h", 3600;
    if (longest >= 3 * 60) return *name = "min", 60;
    return *name = "s", 1;
}
