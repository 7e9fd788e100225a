/* plot.c: `backprop plot` (see bp_plot.h), the run log's curves and sweeps
 * drawn by PLplot: its options, and the command's steps in order.
 *
 * Why it is built this way:
 *  - Everything is read and checked before PLplot starts (plot_runs.c,
 *    plot_sweep.c, through the run log's named reads), so that every
 *    mistake of the user's (an unknown run, a missing metric) is reported
 *    before anything is drawn.
 *  - The picture is drawn into memory (plot_draw.c, which also says how
 *    PLplot is kept from reading stdin, printing or exiting) and written to
 *    a temporary file renamed over FILE (plot_file.c): an error never leaves
 *    half a picture, nor spoils the file that was there.
 *  - A log axis is PLplot's: it takes log10 of the data, so the series hold
 *    their points in axis units (log10 already taken where the axis is log).
 *
 * PLplot keeps its state in globals: one plot at a time, from one thread. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bp_plot.h"
#include "bp_cli.h"
#include "plot_int.h"

/* Whether argv[*k] is option `name`, as "--name VALUE" or "--name=VALUE";
 * then *v is the value (NULL when it is missing) and *k its index. */
static int option(int argc, char **argv, int *k, const char *name, const char **v) {
    size_t n = strlen(name);
    if (strncmp(argv[*k], name, n) != 0) return 0;
    if (argv[*k][n] == '=') {
        *v = argv[*k] + n + 1;
        return 1;
    }
    if (argv[*k][n]) return 0;
    *v = *k + 1 < argc ? argv[++*k] : NULL;
    return 1;
}

static int parse_size(const char *s, int *w, int *h) {
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno || end == s || (*end != 'x' && *end != 'X')) return -1;
    const char *t = end + 1;
    long b = strtol(t, &end, 10);
    if (errno || end == t || *end) return -1;
    if (a < 200 || a > 10000 || b < 200 || b > 10000) return -1;
    *w = (int)a, *h = (int)b;
    return 0;
}

/* --smooth W: TensorBoard's weight, 0 (none) up to but not 1. */
static int parse_smooth(const char *s, double *w, FILE *err) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v < 1))
        return bp_cli_fail(err,
                           "plot: --smooth wants a weight from 0 (no smoothing) up to but not"
                           " 1, as TensorBoard's slider (0.6, 0.9, 0.99), not '%s'",
                           s);
    *w = v;
    return 0;
}

/* --x KIND, from the table of plot_axis.c. */
static int parse_axis(const char *s, options *o, FILE *err) {
    if ((o->axis = plot_axis_find(s))) return 0;
    char kinds[128];
    plot_axis_names(kinds, sizeof kinds);
    return bp_cli_fail(err, "plot: unknown --x kind '%s' (expected %s)", s, kinds);
}

/* --metric NAME, once more; each name once. */
static int add_metric(options *o, const char *name, FILE *err) {
    for (int k = 0; k < o->nmetrics; k++)
        if (!strcmp(o->metrics[k], name))
            return bp_cli_fail(err, "plot: --metric %s is given twice", name);
    o->metrics[o->nmetrics++] = name;
    return 0;
}

static int parse_args(int argc, char **argv, options *o, FILE *err) {
    memset(o, 0, sizeof *o);
    o->width = 800, o->height = 500;
    const char *size = NULL, *sweep = NULL, *axis = NULL, *smooth = NULL, *v;
    static const char *loss = "loss";
    if (argc > 0 && !(o->runs = malloc((size_t)argc * sizeof *o->runs)))
        return bp_cli_fail(err, "out of memory");
    if (!(o->metrics = malloc((size_t)(argc + 1) * sizeof *o->metrics)))
        return bp_cli_fail(err, "out of memory");
    for (int k = 0; k < argc; k++) {
        const char *a = argv[k];
        int known = 1;
        if (option(argc, argv, &k, "-o", &v) || option(argc, argv, &k, "--output", &v))
            o->output = v;
        else if (option(argc, argv, &k, "--db", &v)) o->db = v;
        else if (option(argc, argv, &k, "--metric", &v)) {
            if (v && *v && add_metric(o, v, err)) return 1;
        } else if (option(argc, argv, &k, "--x", &v)) axis = v;
        else if (option(argc, argv, &k, "--smooth", &v)) smooth = v;
        else if (option(argc, argv, &k, "--title", &v)) o->title = v;
        else if (option(argc, argv, &k, "--size", &v)) size = v;
        else if (option(argc, argv, &k, "--sweep", &v)) sweep = v;
        else if (option(argc, argv, &k, "--param", &v)) o->param = v;
        else if (strcmp(a, "--log-x") == 0) o->log_x = 1, v = a;
        else if (strcmp(a, "--log-y") == 0) o->log_y = 1, v = a;
        else known = 0;
        if (known) {
            if (!v || !*v) return bp_cli_fail(err, "plot: %s wants a value", a);
            continue;
        }
        if (a[0] == '-' && a[1])
            return bp_cli_fail(err, "plot: unknown option '%s' (see backprop --help)", a);
        if (bp_cli_parse_id(a, &o->runs[o->nruns]))
            return bp_cli_fail(err, "plot: '%s' is not a run id", a);
        for (int j = 0; j < o->nruns; j++)
            if (o->runs[j] == o->runs[o->nruns])
                return bp_cli_fail(err, "plot: run %s is given twice", a);
        o->nruns++;
    }
    if (sweep && bp_cli_parse_id(sweep, &o->sweep))
        return bp_cli_fail(err, "plot: --sweep wants a sweep id, not '%s'", sweep);
    if (!sweep && !o->nruns)
        return bp_cli_fail(
            err, "plot wants run ids or --sweep ID, e.g. backprop plot 1 2 -o loss.png");
    if (sweep && o->nruns)
        return bp_cli_fail(err, "plot: give run ids or --sweep ID, not both");
    if (sweep && !o->param)
        return bp_cli_fail(
            err, "plot: --sweep wants --param KEY, the parameter for the x axis");
    if (!sweep && o->param) return bp_cli_fail(err, "plot: --param goes with --sweep ID");
    if (sweep && o->nmetrics)
        return bp_cli_fail(
            err, "plot: --metric is for runs; a sweep's plot shows its objective");
    if (sweep && (axis || smooth))
        return bp_cli_fail(err, "plot: %s is for runs; a sweep's x axis is --param KEY",
                           axis ? "--x" : "--smooth");
    if (!o->nmetrics) o->metrics[o->nmetrics++] = loss;
    if (axis && parse_axis(axis, o, err)) return 1;
    if (!o->axis) o->axis = &plot_axes[0];
    if (smooth && parse_smooth(smooth, &o->smooth, err)) return 1;
    if (size && parse_size(size, &o->width, &o->height))
        return bp_cli_fail(
            err,
            "plot: --size wants WIDTHxHEIGHT, each 200 to 10000, e.g. 800x500,"
            " not '%s'",
            size);
    if (!o->output)
        return bp_cli_fail(err, "plot: no output file: -o FILE.png or -o FILE.svg");
    const char *dot = strrchr(o->output, '.');
    if (dot && strcasecmp(dot, ".png") == 0) o->device = "pngcairo";
    else if (dot && strcasecmp(dot, ".svg") == 0) o->device = "svgcairo", o->svg = 1;
    else
        return bp_cli_fail(
            err, "plot: cannot tell the format of '%s': FILE must end in .png or .svg",
            o->output);
    o->db = bp_runlog_default_path(o->db);
    return 0;
}

/* ------------------------------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
/* A sanitizer build only. pango keeps fontconfig's font matches in caches
 * it never frees (made in its own thread, for every PLplot stream), which
 * LeakSanitizer reports at exit and would turn into a failed `backprop
 * plot`; they are not ours to free. Weak, so that a program may say more. */
__attribute__((weak)) const char *__lsan_default_suppressions(void);
__attribute__((weak)) const char *__lsan_default_suppressions(void) {
    return "leak:libfontconfig.so\nleak:libpango\n";
}
#endif

int bp_plot_main(int argc, char **argv, FILE *out, FILE *err) {
    (void)out;
    options o;
    figure f;
    memset(&f, 0, sizeof f);
    bytes img = {0};
    bp_runlog *log = NULL;
    int rc = parse_args(argc, argv, &o, err);
    if (rc) goto done;
    bp_err e;
    if (!(log = bp_runlog_open(o.db, BP_RUNLOG_READONLY, &e))) {
        rc = bp_cli_fail(err, "%s", e.msg);
        goto done;
    }
    rc = o.sweep ? plot_read_sweep(log, &o, &f, err) : plot_read_runs(log, &o, &f, err);
    bp_runlog_close(log);
    if (rc) goto done;
    int points = 0;
    for (int k = 0; k < f.ns; k++) points |= f.s[k].n > 0;
    if (!points) {
        rc = bp_cli_fail(
            err, "plot: nothing to draw: every value of %s%s is NaN or infinite%s",
            o.sweep ? "the objective" : o.metrics[0], o.nmetrics > 1 ? " (and the others)" : "",
            o.log_x || o.log_y ? ", or not positive on a log axis" : "");
        goto done;
    }
    if (plot_draw(&f, o.device, o.width, o.height, &img, &e))
        rc = bp_cli_fail(err, "%s: %s", o.output, e.msg);
    else rc = plot_write_picture(&o, &f, &img, err);
done:
    free(o.runs);
    free(o.metrics);
    plot_figure_free(&f);
    free(img.p);
    return rc;
}
