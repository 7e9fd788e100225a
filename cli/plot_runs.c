/* plot_runs.c: the figure of `backprop plot RUN...`: a curve per run of
 * one metric against the step, and the legend's words.
 *
 * Each run is read through the run log (bp_runlog_run_label, then
 * bp_runlog_metric_get); its entry in the legend is made once every run is
 * read, because the parameters all the runs share are said once, in an
 * entry of their own, and each run's entry shows only what sets it apart. */
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
    size_t nonfinite, nonpositive;
} run_text;

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

/* Says which metrics the run has, when it has none called o->metric. */
static int no_metric(bp_runlog *log, const options *o, int64_t run, const run_text *rt,
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
                    rt->name, o->metric, n ? "it has: " : "it logged none", n ? has : "");
    }
    free(has);
    bp_runlog_strings_free(names, n);
    return has ? 1 : bp_cli_fail(err, "out of memory");
}

/* The points of one run's curve into s, what was left out counted in rt. */
static int load_points(bp_runlog *log, const options *o, int64_t run, series *s,
                       run_text *rt, FILE *err) {
    int64_t *steps;
    double *values;
    size_t n;
    bp_err e;
    if (bp_runlog_metric_get(log, run, o->metric, &steps, &values, &n, &e))
        return bp_cli_fail(err, "%s", e.msg);
    int gap = 0, rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        double x = (double)steps[k], y = values[k];
        if (!isfinite(y)) {
            rt->nonfinite++, gap = 1;
            continue;
        }
        if (!plot_to_axis(&x, o->log_x) || !plot_to_axis(&y, o->log_y)) {
            rt->nonpositive++, gap = 1;
            continue;
        }
        if (plot_series_push(s, x, y, gap)) rc = bp_cli_fail(err, "out of memory");
        gap = 0;
    }
    free(steps);
    free(values);
    if (!rc && !n) rc = no_metric(log, o, run, rt, err);
    return rc;
}

static int load_run(bp_runlog *log, const options *o, int64_t run, figure *f,
                    run_text *rt, FILE *err) {
    series *s = plot_series_add(f);
    if (!s) return bp_cli_fail(err, "out of memory");
    int k = f->ns - 1;
    s->line = 1;
    s->color = C_SERIES + k % 10;
    s->style = 1 + (k / 10) % 8;
    bp_run_label l;
    bp_err e;
    if (bp_runlog_run_label(log, run, &l, &e)) return bp_cli_fail(err, "%s", e.msg);
    snprintf(rt->name, sizeof rt->name, "%s", l.name);
    snprintf(rt->status, sizeof rt->status, "%s", l.status);
    rt->kv = l.params, rt->nkv = (int)l.n_params;
    l.params = NULL, l.n_params = 0;
    bp_run_label_free(&l);
    return load_points(log, o, run, s, rt, err);
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

/* Each run's legend entry, and one for the parameters they all share. */
static int label_runs(const options *o, figure *f, const run_text *rt, FILE *err) {
    int n = o->nruns;
    for (int k = 0; k < n; k++) {
        char params[MAX_PARAMS_TEXT + 1] = "", note[96];
        for (int j = 0; j < rt[k].nkv; j++)
            if (n == 1 || !shared(rt, n, rt[k].kv[j]))
                add_word(params, sizeof params, rt[k].kv[j]);
        left_out(note, sizeof note, rt[k].nonfinite, rt[k].nonpositive);
        int done = !strcmp(rt[k].status, "completed");
        f->s[k].label =
            plot_format("run %lld %s%s%s%s%s%s%s", (long long)o->runs[k], rt[k].name,
                        *params ? " (" : "", params, *params ? ")" : "", done ? "" : ", ",
                        done ? "" : rt[k].status, note);
        if (!f->s[k].label) return bp_cli_fail(err, "out of memory");
    }
    if (n > 1) {
        char common[2 * MAX_PARAMS_TEXT + 1] = "";
        for (int j = 0; j < rt[0].nkv; j++)
            if (shared(rt, n, rt[0].kv[j])) add_word(common, sizeof common, rt[0].kv[j]);
        series *words = *common ? plot_series_add(f) : NULL;
        if (*common && (!words || !(words->label = plot_format("all: %s", common))))
            return bp_cli_fail(err, "out of memory");
    }
    return 0;
}

/* The title (unless --title) and the axes' labels. */
static int title_runs(const options *o, figure *f, FILE *err) {
    int n = o->nruns;
    if (o->title) f->title = plot_format("%s", o->title);
    else if (n == 1)
        f->title = plot_format("%s of run %lld", o->metric, (long long)o->runs[0]);
    else if (n <= 6) {
        char ids[128] = "";
        for (int k = 0; k < n; k++)
            snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%lld", k ? ", " : "",
                     (long long)o->runs[k]);
        f->title = plot_format("%s of runs %s", o->metric, ids);
    } else {
        f->title = plot_format("%s of %d runs", o->metric, n);
    }
    f->xlabel = plot_format("step%s", o->log_x ? " (log scale)" : "");
    f->ylabel = plot_format("%s%s", o->metric, o->log_y ? " (log scale)" : "");
    f->log_x = o->log_x, f->log_y = o->log_y;
    return f->title && f->xlabel && f->ylabel ? 0 : bp_cli_fail(err, "out of memory");
}

int plot_read_runs(bp_runlog *log, const options *o, figure *f, FILE *err) {
    int n = o->nruns, rc = 0;
    run_text *rt = calloc((size_t)n, sizeof *rt);
    if (!rt) return bp_cli_fail(err, "out of memory");
    for (int k = 0; k < n && !rc; k++) rc = load_run(log, o, o->runs[k], f, &rt[k], err);
    if (!rc) rc = label_runs(o, f, rt, err);
    for (int k = 0; k < n; k++) bp_runlog_strings_free(rt[k].kv, (size_t)rt[k].nkv);
    free(rt);
    return rc ? rc : title_runs(o, f, err);
}
