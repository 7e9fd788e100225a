/* plot_axis.c: the kinds of x axis `backprop plot --x KIND` draws a run's
 * metric against (plot_int.h), one row of plot_axes[] each.
 *
 * A kind says how the x of a metric's value comes from its step, with what
 * it reads of the run first: the step itself; or the time since the run
 * began. The run log (schema 7) keeps no time per value, only when the run
 * started and ended (runs.started, runs.ended), so a value's time is
 * estimated: the run's duration spread over its steps at a steady pace,
 * step s of a series whose last step is S at duration * s / S (step 0 at
 * the start, the last step at the end; a running run's end is now). A
 * series of epochs spreads over the run as one of batches does. Parsing,
 * the list of kinds in errors, the axis' label and the help come from the
 * table, so that a kind (an epoch axis, once the run log says which
 * metrics count epochs) is one more row. */
#include <string.h>

#include "bp_runlog.h"
#include "plot_int.h"

/* step: the step as logged. */
static int step_prepare(bp_runlog *log, int64_t run, const char *metric, int64_t last_step,
                        plot_axis_ctx *c, bp_err *e) {
    (void)log, (void)run, (void)metric, (void)e;
    c->seconds = 0, c->last_step = last_step;
    return 0;
}

static double step_x(const plot_axis_ctx *c, int64_t step) {
    (void)c;
    return (double)step;
}

/* time: the run's duration from its record (bp_runlog_run_header). */
static int time_prepare(bp_runlog *log, int64_t run, const char *metric, int64_t last_step,
                        plot_axis_ctx *c, bp_err *e) {
    (void)metric; /* every series of the run spreads over its whole time */
    bp_run_header h;
    if (bp_runlog_run_header(log, run, &h, e)) return -1;
    double end = h.has_ended ? h.ended : bp_runlog_time();
    c->seconds = end > h.started ? end - h.started : 0;
    c->last_step = last_step;
    bp_run_header_free(&h);
    return 0;
}

double plot_time_x(double seconds, int64_t last_step, int64_t step) {
    if (last_step <= 0) return 0;
    return seconds * ((double)step / (double)last_step);
}

static double time_x(const plot_axis_ctx *c, int64_t step) {
    return plot_time_x(c->seconds, c->last_step, step);
}

const plot_axis plot_axes[] = {
    {"step", "step", NULL, 0, step_prepare, step_x},
    {"time", "time since the run began", "estimated from its start and end", 1,
     time_prepare, time_x},
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
