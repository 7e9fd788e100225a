/* plot_sweep.c: the figure of `backprop plot --sweep ID --param KEY`: the
 * objective of each trial against its parameter KEY.
 *
 * The sweep and its trials are read through the run log
 * (bp_runlog_sweep_detail, bp_runlog_sweep_trials), the trials with KEY's
 * value as the run recorded it: a text (or bool) parameter is drawn as
 * columns, one per value, a number on a numeric axis. Completed trials are
 * points, pruned trials apart with their objective when stopped, the best
 * trial starred; what cannot be drawn is counted in a line of words. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "plot_int.h"

/* A trial as read: its parameter's value as a number or as text. */
typedef struct trial {
    int64_t trial;
    double x, y;
    char *text; /* the value of a text or bool parameter, else NULL */
    int has_x;
    int status; /* 0 completed, 1 pruned, 2 other */
    int has_y;
} trial;

/* The sweep as read. */
typedef struct sweep_read {
    char name[128], objective[128], direction[8], keys[256];
    trial *t;
    size_t nt;
    int any_param, text_param;
} sweep_read;

/* What the points left out, and the best completed trial. */
typedef struct tally {
    size_t no_param, no_objective, unfinished, nonpositive, npruned;
    int64_t best_trial; /* -1: none */
    double best_y, best_x;
    const char *best_text;
} tally;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_x(const void *a, const void *b) {
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return (x > y) - (x < y);
}

/* "0.01", "3", "1e-05": short, and exact enough for a legend. */
static void fmt_num(char *buf, size_t cap, double v) { snprintf(buf, cap, "%.4g", v); }

/* A trial's row as the plot needs it; -1 when memory runs out. */
static int take_trial(trial *tr, const bp_trial_row *row, sweep_read *w) {
    memset(tr, 0, sizeof *tr);
    tr->trial = row->trial;
    const char *status = row->status;
    tr->status = status && !strcmp(status, "completed") ? 0
                 : status && !strcmp(status, "pruned")  ? 1
                                                        : 2;
    tr->has_y = row->objective.type != BP_RUNLOG_NULL;
    tr->y = row->objective.r;
    const bp_runlog_value *v = &row->params[0];
    if (v->type == BP_RUNLOG_NULL) return 0;
    w->any_param = tr->has_x = 1;
    if (v->type == BP_RUNLOG_TEXT) {
        w->text_param = 1;
        return (tr->text = plot_format("%s", v->s)) ? 0 : -1;
    }
    tr->x = v->r;
    return 0;
}

static int read_sweep(bp_runlog *log, const options *o, sweep_read *w, FILE *err) {
    bp_sweep_detail d;
    bp_err e;
    if (bp_runlog_sweep_detail(log, o->sweep, &d, &e))
        return bp_cli_fail(err, "%s", e.msg);
    snprintf(w->name, sizeof w->name, "%s", d.name);
    snprintf(w->objective, sizeof w->objective, "%s", d.objective);
    snprintf(w->direction, sizeof w->direction, "%s", d.direction);
    snprintf(w->keys, sizeof w->keys, "%s", d.keys);
    bp_sweep_detail_free(&d);
    bp_trial_row *rows;
    size_t n;
    if (bp_runlog_sweep_trials(log, o->sweep, &o->param, 1, 0, &rows, &n, &e))
        return bp_cli_fail(err, "%s", e.msg);
    int rc = 0;
    if (!(w->t = calloc(n ? n : 1, sizeof *w->t))) rc = bp_cli_fail(err, "out of memory");
    for (size_t k = 0; k < n && !rc; k++, w->nt++)
        if (take_trial(&w->t[k], &rows[k], w)) rc = bp_cli_fail(err, "out of memory");
    bp_trial_rows_free(rows, n);
    return rc;
}

/* A text parameter: its distinct values, sorted, are the columns. A
 * number among them (a parameter given as 0.1 in one trial and as "fast"
 * in another) is a column too, by its text. -1 when memory runs out. */
static int place_categories(figure *f, sweep_read *w) {
    trial *t = w->t;
    f->category = calloc(w->nt, sizeof *f->category);
    if (!f->category) return -1;
    for (size_t k = 0; k < w->nt; k++) {
        if (!t[k].has_x) continue;
        if (!t[k].text && !(t[k].text = plot_format("%.4g", t[k].x))) return -1;
        int seen = 0;
        for (int j = 0; j < f->ncategory; j++) seen |= !strcmp(f->category[j], t[k].text);
        if (!seen && !(f->category[f->ncategory++] = plot_format("%s", t[k].text)))
            return -1;
    }
    qsort(f->category, (size_t)f->ncategory, sizeof *f->category, cmp_str);
    for (size_t k = 0; k < w->nt; k++)
        for (int j = 0; t[k].has_x && j < f->ncategory; j++)
            if (!strcmp(f->category[j], t[k].text)) t[k].x = j;
    return 0;
}

/* The completed trials into series 0 and the pruned ones into series 1
 * (added when there is one), what is left out counted in *c. -1 when
 * memory runs out. */
static int place_trials(figure *f, const options *o, const sweep_read *w, tally *c) {
    series *done = plot_series_add(f), *pruned = NULL;
    if (!done) return -1;
    done->marker = "●", done->color = C_SERIES;
    memset(c, 0, sizeof *c);
    c->best_trial = -1;
    for (size_t k = 0; k < w->nt; k++) {
        const trial *tr = &w->t[k];
        if (tr->status == 2) {
            c->unfinished++;
            continue;
        }
        if (!tr->has_x) {
            c->no_param++;
            continue;
        }
        if (!tr->has_y || !isfinite(tr->y)) {
            c->no_objective++;
            continue;
        }
        double x = tr->x, y = tr->y;
        if (!plot_to_axis(&x, o->log_x) || !plot_to_axis(&y, o->log_y)) {
            c->nonpositive++;
            continue;
        }
        if (tr->status == 1) {
            if (!pruned) {
                /* plot_series_add may move the array: find done again after it */
                if (!(pruned = plot_series_add(f))) return -1;
                done = &f->s[0];
                pruned->marker = "○", pruned->color = C_FRAME;
            }
            c->npruned++;
            if (plot_series_push(pruned, x, y, 0)) return -1;
            continue;
        }
        if (plot_series_push(done, x, y, 0)) return -1;
        int better = !strcmp(w->direction, "max") ? tr->y > c->best_y : tr->y < c->best_y;
        if (c->best_trial < 0 || better)
            c->best_trial = tr->trial, c->best_y = tr->y, c->best_x = tr->x,
            c->best_text = tr->text;
    }
    return 0;
}

/* A sweep of this number alone, one completed trial per value: join them,
 * in order, to show the trend. (With other parameters swept too,
 * neighbours along x differ in more than x, and a line would lie.) */
static int join_trend(series *done) {
    size_t size;
    double *xy = bp_size_mul3(&size, done->n, 2, sizeof *xy) ? NULL : malloc(size);
    if (!xy) return -1;
    for (size_t k = 0; k < done->n; k++)
        xy[2 * k] = done->x[k], xy[2 * k + 1] = done->y[k];
    qsort(xy, done->n, 2 * sizeof *xy, cmp_x);
    int distinct = 1;
    for (size_t k = 1; k < done->n; k++) distinct &= xy[2 * k] != xy[2 * k - 2];
    if (distinct) {
        for (size_t k = 0; k < done->n; k++)
            done->x[k] = xy[2 * k], done->y[k] = xy[2 * k + 1];
        done->line = 1;
    }
    free(xy);
    return 0;
}

/* The best trial's star and its legend entry. */
static int star_best(figure *f, const options *o, const sweep_read *w, const tally *c) {
    series *best = plot_series_add(f);
    if (!best) return -1;
    double x = c->best_x, y = c->best_y; /* x: a column's index for a text parameter */
    plot_to_axis(&x, o->log_x), plot_to_axis(&y, o->log_y);
    if (plot_series_push(best, x, y, 0)) return -1;
    best->marker = "★", best->marker_scale = 1.8, best->color = C_SERIES + 3;
    char xv[64], yv[32];
    if (c->best_text) snprintf(xv, sizeof xv, "%s", c->best_text);
    else fmt_num(xv, sizeof xv, c->best_x);
    fmt_num(yv, sizeof yv, c->best_y);
    best->label = plot_format("best: trial %lld, %s=%s, %s %s", (long long)c->best_trial,
                              o->param, xv, w->objective, yv);
    return best->label ? 0 : -1;
}

/* What was not drawn, as one line of words, and the titles. */
static int label_sweep(figure *f, const options *o, const sweep_read *w, const tally *c) {
    char note[256] = "";
    if (c->unfinished)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "%s%zu failed or unfinished", *note ? ", " : "", c->unfinished);
    if (c->no_objective)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "%s%zu without an objective", *note ? ", " : "", c->no_objective);
    if (c->no_param)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%s%zu without %s",
                 *note ? ", " : "", c->no_param, o->param);
    if (c->nonpositive)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%s%zu <= 0 (log axis)",
                 *note ? ", " : "", c->nonpositive);
    if (*note) {
        series *words = plot_series_add(f);
        if (!words || !(words->label = plot_format("not drawn: %s", note))) return -1;
    }
    if (o->title) f->title = plot_format("%s", o->title);
    else
        f->title = plot_format("sweep %lld %s: %s (%s) against %s", (long long)o->sweep,
                               w->name, w->objective, w->direction, o->param);
    f->xlabel = plot_format("%s%s", o->param, o->log_x ? " (log scale)" : "");
    f->ylabel = plot_format("%s at the last step%s", w->objective,
                            o->log_y ? " (log scale)" : "");
    f->log_x = o->log_x, f->log_y = o->log_y, f->pad_x = 1;
    return f->title && f->xlabel && f->ylabel ? 0 : -1;
}

/* Lays out what read_sweep read: 0, -1 when memory runs out, or 1 after
 * saying that there is nothing to draw. */
static int lay_out(figure *f, const options *o, sweep_read *w, FILE *err) {
    tally c;
    if (w->text_param && place_categories(f, w)) return -1;
    if (place_trials(f, o, w, &c)) return -1;
    series *done = &f->s[0], *pruned = f->ns > 1 ? &f->s[1] : NULL;
    if (!done->n && !(pruned && pruned->n))
        return bp_cli_fail(
            err,
            "sweep %lld (%s): no trial has a value of '%s' and an objective to draw"
            " yet",
            (long long)o->sweep, w->name, o->param);
    if (!w->text_param && done->n >= 2 && !strcmp(w->keys, o->param) && join_trend(done))
        return -1;
    done->label = plot_format("completed trials (%zu)", done->n);
    if (pruned)
        pruned->label =
            plot_format("pruned trials, objective when stopped (%zu)", c.npruned);
    if (!done->label || (pruned && !pruned->label)) return -1;
    if (c.best_trial >= 0 && star_best(f, o, w, &c)) return -1;
    return label_sweep(f, o, w, &c);
}

int plot_read_sweep(bp_runlog *log, const options *o, figure *f, FILE *err) {
    sweep_read w;
    memset(&w, 0, sizeof w);
    int rc = read_sweep(log, o, &w, err);
    if (!rc && !w.any_param)
        rc = bp_cli_fail(err, "sweep %lld (%s) has no parameter '%s' (it sweeps: %s)",
                         (long long)o->sweep, w.name, o->param, w.keys);
    if (!rc && w.text_param && o->log_x)
        rc = bp_cli_fail(err,
                         "plot: --log-x: parameter '%s' of sweep %lld is not a number",
                         o->param, (long long)o->sweep);
    if (!rc && (rc = lay_out(f, o, &w, err)) < 0) rc = bp_cli_fail(err, "out of memory");
    for (size_t k = 0; k < w.nt; k++) free(w.t[k].text);
    free(w.t);
    return rc;
}
