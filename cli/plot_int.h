/* plot_int.h: what the files of `backprop plot` (bp_plot.h) share.
 *
 * A plot is made in four steps, a file each: plot.c reads the options and
 * runs the others; plot_runs.c and plot_sweep.c read the run log (through
 * its named reads) into a figure, every legend entry and point decided;
 * plot_draw.c draws the figure with PLplot into memory, choosing the
 * legend's corner; plot_file.c writes the picture with its words added.
 * plot_figure.c holds the figure's small helpers. Private to cli/. */
#ifndef PLOT_INT_H
#define PLOT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bp_err.h"
#include "bp_runlog.h"

/* One legend entry and what it stands for: a curve (line), points
 * (marker), or words alone (neither). Points are in axis units. */
typedef struct series {
    char *label;
    double *x, *y;
    unsigned char *gap; /* gap[i]: a value was left out before point i */
    size_t n, cap;
    int line;           /* join the points */
    const char *marker; /* draw this glyph at each point, or NULL */
    double marker_scale;
    int color, style; /* cmap0 index, line style 1..8 */
    int legend;       /* has an entry in the legend (a smoothed curve's raw
                         points, drawn faintly behind it, have none) */
} series;

typedef struct figure {
    char *title, *xlabel, *ylabel;
    int log_x, log_y;
    int pad_x; /* leave room left and right of the extreme points */
    char **category; /* a text parameter's values, at x = 0, 1, ...; or NULL */
    int ncategory;
    series *s;
    int ns;
} figure;

/* The colour map (cmap0): the picture's own colours, then ten distinct
 * colours for the series (plot_draw.c's palette), then the same ten faint,
 * for the raw points behind a smoothed curve. */
enum {
    C_BG,
    C_INK,
    C_GRID,
    C_FRAME,
    C_LEGEND_BG,
    C_SERIES,
    C_FAINT = C_SERIES + 10,
    N_COLORS = C_FAINT + 10
};

/* The kinds of x axis of a run's plot (plot_axis.c): a row each. prepare
 * reads what x needs of the run's series of metric (whose last step is
 * last_step; metric NULL: of the run alone, for a time axis' unit) into c:
 * 0, or -1 with the reason in e; x maps a step. */
typedef struct plot_axis_ctx {
    double seconds;    /* time: how long the run ran (so far, if running) */
    bp_time_axis time; /* time: when the series' steps were reached */
    int estimated;     /* time: the series' times estimated at a steady pace */
    int64_t last_step; /* the series' last step */
    int per_epoch;     /* epoch: the series' steps are epochs already */
    int64_t *epochs, *ends; /* epoch: where each epoch ended (n, by epoch) */
    size_t n;
} plot_axis_ctx;
typedef struct plot_axis {
    const char *name;  /* as --x spells it */
    const char *label; /* the x axis' label */
    int seconds;       /* x counts seconds, shown in a unit that suits them */
    int (*prepare)(bp_runlog *log, int64_t run, const char *metric, int64_t last_step,
                   plot_axis_ctx *c, bp_err *e);
    double (*x)(const plot_axis_ctx *c, int64_t step);
} plot_axis;
extern const plot_axis plot_axes[];
extern const int plot_naxes;

/* The kind called name, or NULL. */
const plot_axis *plot_axis_find(const char *name);

/* Frees what a prepare kept in c; accepts a context prepared by any kind. */
void plot_axis_ctx_free(plot_axis_ctx *c);

/* epoch's x of training step `step`, given epochs[i] ended after ends[i]
 * steps (n >= 1, by epoch): the epoch it falls in, and how far through it
 * (the end of epoch e is e; past the last end, the last epoch's length
 * goes on). */
double plot_epoch_x(const int64_t *epochs, const int64_t *ends, size_t n, int64_t step);

/* The kinds' names as an error lists them, "step, epoch or time" (cap
 * bytes). */
void plot_axis_names(char *buf, size_t cap);

/* A time axis' unit for a longest run of `longest` seconds: returns the
 * seconds it counts (1, 60, 3600) and its name in *name ("s", "min", "h"). */
double plot_time_unit(double longest, const char **name);

/* plot_smooth.c: TensorBoard's debiased exponential moving average of
 * in[0..n) with weight w in [0, 1) into out (which may be in):
 * last_k = w last_{k-1} + (1 - w) y_k from last_0 = 0, out = last_k / (1 -
 * w^k), k counting the finite values; NaN and infinities pass through and
 * leave the average unchanged. */
void plot_smooth(double *out, const double *in, size_t n, double w);

/* The command's options, checked. */
typedef struct options {
    const char *db, *output, *title, *param;
    const char **metrics; /* --metric, in the order given (default: loss) */
    int nmetrics;
    const plot_axis *axis; /* --x (default: step) */
    double smooth;         /* --smooth W, 0: none */
    const char *device; /* pngcairo or svgcairo */
    int svg;
    int64_t sweep; /* 0: none */
    int log_x, log_y;
    int width, height;
    int64_t *runs;
    int nruns;
} options;

/* The picture's bytes in memory, as PLplot wrote them. */
typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
    int closed, oom;
} bytes;

/* plot_figure.c */

/* A malloc'd string, or NULL when memory runs out. */
char *plot_format(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* A new empty series at the end of f (which may move f->s); NULL when
 * memory runs out. */
series *plot_series_add(figure *f);

/* Appends a point; -1 when memory runs out. */
int plot_series_push(series *s, double x, double y, int gap);

void plot_figure_free(figure *f);

/* v in axis units: 1 if it can be drawn (*v = log10 v on a log axis). */
int plot_to_axis(double *v, int log_axis);

/* plot_runs.c, plot_sweep.c: the figure of the runs o->runs (metric
 * o->metric), or of the sweep o->sweep against o->param. 0, or 1 after
 * saying what is wrong on err. */
int plot_read_runs(bp_runlog *log, const options *o, figure *f, FILE *err);
int plot_read_sweep(bp_runlog *log, const options *o, figure *f, FILE *err);

/* plot_draw.c: draws f with PLplot's device (width x height) into *img,
 * the legend below the plot, in as many columns as fit. 0, or -1 with the
 * reason in *e. PLplot's state is global: one at a time. */
int plot_draw(figure *f, const char *device, int width, int height, bytes *img,
              bp_err *e);

/* plot_file.c: writes img to o->output with f's title and legend added as
 * words; the file is replaced only once complete. 0, or 1 after saying
 * what is wrong on err. */
int plot_write_picture(const options *o, const figure *f, const bytes *img, FILE *err);

#endif
