/* plot_runs.c: the figure of `backprop plot RUN...`: a curve per run and
 * metric against the x axis' kind (plot_axis.c), smoothed if asked
 * (plot_smooth.c), and the legend's words.
 *
 * Each run is read through the run log (bp_runlog_run_label, then
 * bp_runlog_metric_get); its entries in the legend are made once every run
 * is read, because the parameters all the runs share are said once, in an
 * entry of their own, and each run's entry shows only what sets it apart.
 * Colours tell runs apart, and line styles metrics (one run: colours tell
 * its metrics apart). A smoothed curve is drawn over its raw points, faint,
 * as TensorBoard draws it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "plot_int.h"

/* What a run's legend entry says. The entries are made once every run is
 * read: the parameters all the runs share are said once, in an entry of
 * their own, and each run's entry shows only what sets it apart. */
typedef struct run_text {
    char name[128], status[32];
    char **kv; /* "key=value", sorted by key */
    int nkv;
} run_text;

/* A curve of the figure: its run and metric, its series, what was left
 * out of it. */
typedef struct curve {
    int run, metric, series;
    size_t nonfinite, nonpositive;
} curve;

/* Parameters longer than this are cut short in the legend, which must stay
 * narrower than the plot. */
#define MAX_PARAMS_TEXT 56

/* Appends " s" to buf (cap bytes); what does not fit is cut, and the text
 * ends in "..." at a character's first byte. */
static void add_word(char *buf, size_t cap, const char *s) {
    size_t n = strlen(buf);
    if (n >= 3 && !strcmp(buf + n - 3, "...")) return; /* cut already */
    int want = snprintf(buf + n, cap - n, "%s%s", n ? " " : "", s);
    if (want >= 0 && (size_t)want < cap - n) return;
    size_t end = cap - 4;
    while (end && ((unsigned char)buf[end] & 0xC0) == 0x80) end--;
    memcpy(buf + end, "...", 4);
}

/* What was left out, for a legend entry: ", 2 NaN/inf and 1 <= 0 (log
 * axis) not drawn", or "". */
static void left_out(char *buf, size_t cap, size_t nonfinite, size_t nonpositive) {
    if (nonfinite && nonpositive)
        snprintf(buf, cap, ", %zu NaN/inf and %zu <= 0 (log axis) not drawn", nonfinite,
                 nonpositive);
    else if (nonfinite) snprintf(buf, cap, ", %zu NaN/inf not drawn", nonfinite);
    else if (nonpositive)
        snprintf(buf, cap, ", %zu <= 0 (log axis) not drawn", nonpositive);
    else buf[0] = '\0';
}

/* Says which metrics the run has, when it has none called name. */
static int no_metric(bp_runlog *log, int64_t run, const char *name, const run_text *rt,
                     FILE *err) {
    char **names;
    size_t n;
    bp_err e;
    if (bp_runlog_metric_names(log, run, &names, &n, &e))
        return bp_cli_fail(err, "%s", e.msg);
    size_t len = 1;
    for (size_t k = 0; k < n; k++) len += strlen(names[k]) + 2;
    char *has = malloc(len);
    if (has) {
        has[0] = '\0';
        for (size_t k = 0; k < n; k++) {
            if (k) strcat(has, ", ");
            strcat(has, names[k]);
        }
        bp_cli_fail(err, "run %lld (%s) has no metric '%s' (%s%s)", (long long)run,
                    rt->name, name, n ? "it has: " : "it logged none", n ? has : "");
    }
    free(has);
    bp_runlog_strings_free(names, n);
    return has ? 1 : bp_cli_fail(err, "out of memory");
}

/* A new series of the figure for curve c; faint: the raw points behind a
 * smoothed curve. NULL when memory runs out. */
static series *new_series(const options *o, figure *f, const curve *c, int faint) {
    series *s = plot_series_add(f);
    if (!s) return NULL;
    int nr = o->nruns, nm = o->nmetrics, hue = nr == 1 ? c->metric : c->run;
    s->line = 1, s->legend = !faint;
    s->color = (faint ? C_FAINT : C_SERIES) + hue % 10;
    s->style = nm > 1 && nr > 1 ? 1 + c->metric % 8 : 1 + (hue / 10) % 8;
    return s;
}

/* Pushes the points (x[i], y[i]) onto s in axis units, breaking the curve
 * where one is left out; counts what was left out in c (when c). */
static int push_points(const options *o, series *s, const double *x, const double *y,
                       size_t n, curve *c) {
    int gap = 0;
    for (size_t i = 0; i < n; i++) {
        double px = x[i], py = y[i];
        if (!isfinite(py)) {
            if (c) c->nonfinite++;
            gap = 1;
            continue;
        }
        if (!plot_to_axis(&px, o->log_x) || !plot_to_axis(&py, o->log_y)) {
            if (c) c->nonpositive++;
            gap = 1;
            continue;
        }
        if (plot_series_push(s, px, py, gap)) return -1;
        gap = 0;
    }
    return 0;
}

/* The points of curve c: x by the axis' kind (in units of `unit`), y
 * smoothed when asked, the raw points first, faint. *estimated is set
 * when its times are estimated (a run recorded before schema 12). */
static int load_curve(bp_runlog *log, const options *o, figure *f, curve *c,
                      const run_text *rt, double unit, int *estimated, FILE *err) {
    int64_t run = o->runs[c->run], *steps = NULL;
    const char *name = o->metrics[c->metric];
    double *values = NULL, *x = NULL, *smooth = NULL;
    size_t n;
    bp_err e;
    plot_axis_ctx ax = {0};
    int rc = 1;
    if (bp_runlog_metric_get(log, run, name, &steps, &values, &n, &e)) {
        bp_cli_fail(err, "%s", e.msg);
        goto end;
    }
    if (!n) {
        no_metric(log, run, name, rt, err);
        goto end;
    }
    if (o->axis->prepare(log, run, name, steps[n - 1], &ax, &e)) {
        bp_cli_fail(err, "%s", e.msg);
        goto end;
    }
    *estimated |= ax.estimated;
    if (!(x = malloc(n * sizeof *x)) || (o->smooth && !(smooth = malloc(n * sizeof *smooth))))
        goto oom;
    for (size_t i = 0; i < n; i++) x[i] = o->axis->x(&ax, steps[i]) / unit;
    series *s;
    if (smooth) {
        plot_smooth(smooth, values, n, o->smooth);
        if (!(s = new_series(o, f, c, 1)) || push_points(o, s, x, values, n, NULL)) goto oom;
    }
    c->series = f->ns;
    if (!(s = new_series(o, f, c, 0)) || push_points(o, s, x, smooth ? smooth : values, n, c))
        goto oom;
    rc = 0;
    goto end;
oom:
    bp_cli_fail(err, "out of memory");
end:
    plot_axis_ctx_free(&ax);
    free(steps), free(values), free(x), free(smooth);
    return rc;
}

static int load_label(bp_runlog *log, int64_t run, run_text *rt, FILE *err) {
    bp_run_label l;
    bp_err e;
    if (bp_runlog_run_label(log, run, &l, &e)) return bp_cli_fail(err, "%s", e.msg);
    snprintf(rt->name, sizeof rt->name, "%s", l.name ? l.name : "");
    snprintf(rt->status, sizeof rt->status, "%s", l.status);
    rt->kv = l.params, rt->nkv = (int)l.n_params;
    l.params = NULL, l.n_params = 0;
    bp_run_label_free(&l);
    return 0;
}

/* Whether every run has parameter kv (the same key, the same value). */
static int shared(const run_text *rt, int n, const char *kv) {
    for (int k = 0; k < n; k++) {
        int has = 0;
        for (int j = 0; j < rt[k].nkv && !has; j++) has = !strcmp(rt[k].kv[j], kv);
        if (!has) return 0;
    }
    return 1;
}

/* Whether the runs are compact in the legend: several of one name, in
 * more than 3 entries, the name then said once, with the parameters they
 * share. */
static int compact(const run_text *rt, int n, int entries) {
    for (int k = 1; k < n; k++)
        if (strcmp(rt[k].name, rt[0].name)) return 0;
    return n > 1 && entries > 3;
}

/* The words-only entry of the figure, "TEXT" (NULL when memory runs out). */
static series *add_words(figure *f, char *text) {
    series *words = text ? plot_series_add(f) : NULL;
    if (words) words->label = text;
    else free(text);
    return words;
}

/* Each curve's legend entry: "run ID NAME (key=value ...)", ": metric" when
 * there are several, the status unless completed, what was left out. One
 * run's metrics are "run ID: metric", the run said once in words beneath. */
static int label_curves(const options *o, figure *f, const run_text *rt, const curve *cv,
                        int ncv, FILE *err) {
    int n = o->nruns, tight = compact(rt, n, ncv), one = n == 1 && o->nmetrics > 1;
    for (int c = 0; c < ncv; c++) {
        const run_text *r = &rt[cv[c].run];
        char params[MAX_PARAMS_TEXT + 1] = "", note[96];
        for (int j = 0; j < r->nkv && !one; j++)
            if (n == 1 || !shared(rt, n, r->kv[j])) add_word(params, sizeof params, r->kv[j]);
        left_out(note, sizeof note, cv[c].nonfinite, cv[c].nonpositive);
        int done = one || !strcmp(r->status, "completed"), bare = tight || one;
        f->s[cv[c].series].label = plot_format(
            "run %lld%s%s%s%s%s%s%s%s%s%s", (long long)o->runs[cv[c].run], bare ? "" : " ",
            bare ? "" : r->name, *params ? " (" : "", params, *params ? ")" : "",
            o->nmetrics > 1 ? ": " : "", o->nmetrics > 1 ? o->metrics[cv[c].metric] : "",
            done ? "" : ", ", done ? "" : r->status, note);
        if (!f->s[cv[c].series].label) return bp_cli_fail(err, "out of memory");
    }
    if (one) {
        char params[2 * MAX_PARAMS_TEXT + 1] = "";
        for (int j = 0; j < rt[0].nkv; j++) add_word(params, sizeof params, rt[0].kv[j]);
        int done = !strcmp(rt[0].status, "completed");
        if (!add_words(f, plot_format("run %lld %s%s%s%s%s%s", (long long)o->runs[0],
                                      rt[0].name, *params ? " (" : "", params,
                                      *params ? ")" : "", done ? "" : ", ",
                                      done ? "" : rt[0].status)))
            return bp_cli_fail(err, "out of memory");
    }
    if (n > 1) {
        char common[2 * MAX_PARAMS_TEXT + 1] = "";
        for (int j = 0; j < rt[0].nkv; j++)
            if (shared(rt, n, rt[0].kv[j])) add_word(common, sizeof common, rt[0].kv[j]);
        if ((*common || tight) &&
            !add_words(f, plot_format("all: %s%s%s", tight ? rt[0].name : "",
                                      tight && *common ? ", " : "", common)))
            return bp_cli_fail(err, "out of memory");
    }
    return 0;
}

/* The y axis' label of several metrics, which the title and the legend
 * name: what their names end with after a '_', '.' or ' ' ("loss" of
 * train_loss and val_loss), else "value". A static string or o's. */
static const char *common_word(const options *o) {
    const char *first = o->metrics[0];
    size_t n = strlen(first); /* the common suffix's length */
    for (int k = 1; k < o->nmetrics; k++) {
        const char *m = o->metrics[k];
        size_t len = strlen(m), j = 0;
        while (j < n && j < len && first[strlen(first) - 1 - j] == m[len - 1 - j]) j++;
        n = j;
    }
    const char *tail = first + strlen(first) - n;
    while (*tail && tail > first && !strchr("_. ", tail[-1])) tail++;
    return *tail ? tail : "value";
}

/* The title (unless --title) and the axes' labels; note, when not NULL,
 * is said after the x axis' unit. */
static int title_runs(const options *o, figure *f, const char *unit, const char *note,
                      FILE *err) {
    int n = o->nruns;
    char what[256] = "", smooth[64] = "";
    for (int k = 0; k < o->nmetrics; k++)
        snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s", k ? ", " : "",
                 o->metrics[k]);
    if (o->smooth) snprintf(smooth, sizeof smooth, ", smoothed (%g)", o->smooth);
    if (o->title) f->title = plot_format("%s", o->title);
    else if (n == 1)
        f->title = plot_format("%s of run %lld%s", what, (long long)o->runs[0], smooth);
    else if (n <= 6) {
        char ids[128] = "";
        for (int k = 0; k < n; k++)
            snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%lld", k ? ", " : "",
                     (long long)o->runs[k]);
        f->title = plot_format("%s of runs %s%s", what, ids, smooth);
    } else {
        f->title = plot_format("%s of %d runs%s", what, n, smooth);
    }
    f->xlabel = plot_format("%s%s%s%s%s%s%s%s", o->axis->label, unit || note || o->log_x ? " (" : "",
                            unit ? unit : "", unit && note ? "; " : "", note ? note : "",
                            (unit || note) && o->log_x ? "; " : "", o->log_x ? "log scale" : "",
                            unit || note || o->log_x ? ")" : "");
    f->ylabel = plot_format("%s%s", o->nmetrics > 1 ? common_word(o) : what,
                            o->log_y ? " (log scale)" : "");
    f->log_x = o->log_x, f->log_y = o->log_y;
    return f->title && f->xlabel && f->ylabel ? 0 : bp_cli_fail(err, "out of memory");
}

/* The unit of a time axis: the longest run's duration decides it. */
static int axis_unit(bp_runlog *log, const options *o, double *unit, const char **name,
                     FILE *err) {
    *unit = 1, *name = NULL;
    if (!o->axis->seconds) return 0;
    double longest = 0;
    for (int k = 0; k < o->nruns; k++) {
        plot_axis_ctx c;
        bp_err e;
        if (o->axis->prepare(log, o->runs[k], NULL, 1, &c, &e))
            return bp_cli_fail(err, "%s", e.msg);
        longest = fmax(longest, c.seconds);
    }
    *unit = plot_time_unit(longest, name);
    return 0;
}

int plot_read_runs(bp_runlog *log, const options *o, figure *f, FILE *err) {
    int n = o->nruns, ncv = n * o->nmetrics, rc = 0, estimated = 0;
    run_text *rt = calloc((size_t)n, sizeof *rt);
    curve *cv = calloc((size_t)ncv, sizeof *cv);
    double unit;
    const char *unit_name;
    if (!rt || !cv) rc = bp_cli_fail(err, "out of memory");
    for (int k = 0; k < n && !rc; k++) rc = load_label(log, o->runs[k], &rt[k], err);
    if (!rc) rc = axis_unit(log, o, &unit, &unit_name, err);
    for (int c = 0; c < ncv && !rc; c++) {
        cv[c].run = c / o->nmetrics, cv[c].metric = c % o->nmetrics;
        rc = load_curve(log, o, f, &cv[c], &rt[cv[c].run], unit, &estimated, err);
    }
    if (!rc) rc = label_curves(o, f, rt, cv, ncv, err);
    if (!rc)
        rc = title_runs(o, f, unit_name,
                        estimated ? "estimated from the run's start and end" : NULL, err);
    for (int k = 0; rt && k < n; k++) bp_runlog_strings_free(rt[k].kv, (size_t)rt[k].nkv);
    free(rt);
    free(cv);
    return rc;
}
