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
#include <math.h>
#include <strings.h>

#include <sqlite3.h>

#include "bp_plot.h"
#include "bp_cli.h"
#include "plot_int.h"
#include "runlog_int.h" /* bp_runlog_sqlite: to be replaced by named reads */

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

static int parse_args(int argc, char **argv, options *o, FILE *err) {
    memset(o, 0, sizeof *o);
    o->metric = "loss";
    o->width = 800, o->height = 500;
    const char *metric = NULL, *size = NULL, *sweep = NULL, *v;
    if (argc > 0 && !(o->runs = malloc((size_t)argc * sizeof *o->runs)))
        return bp_cli_fail(err, "out of memory");
    for (int k = 0; k < argc; k++) {
        const char *a = argv[k];
        int known = 1;
        if (option(argc, argv, &k, "-o", &v) || option(argc, argv, &k, "--output", &v))
            o->output = v;
        else if (option(argc, argv, &k, "--db", &v)) o->db = v;
        else if (option(argc, argv, &k, "--metric", &v)) o->metric = metric = v;
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
    if (sweep && metric)
        return bp_cli_fail(
            err, "plot: --metric is for runs; a sweep's plot shows its objective");
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

/* ------------------------------------------------------------------------ */
/* Reading the runs' curves                                                  */

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

static int load_run(sqlite3 *db, const options *o, int64_t run, figure *f, run_text *rt,
                    FILE *err) {
    sqlite3_stmt *st = NULL;
    series *s = plot_series_add(f);
    if (!s) return bp_cli_fail(err, "out of memory");
    int k = f->ns - 1;
    s->line = 1;
    s->color = C_SERIES + k % 10;
    s->style = 1 + (k / 10) % 8;

    if (sqlite3_prepare_v2(db, "SELECT name, status FROM runs WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        goto sql_error;
    sqlite3_bind_int64(st, 1, run);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        sqlite3_finalize(st);
        return bp_cli_fail(err, "%s: no run %lld", o->db, (long long)run);
    }
    if (r != SQLITE_ROW) goto sql_error;
    snprintf(rt->name, sizeof rt->name, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(rt->status, sizeof rt->status, "%s",
             (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);

    /* As run_summary spells them (runlog.c). */
    if (sqlite3_prepare_v2(
            db,
            "SELECT key || '=' || CASE WHEN type = 'bool' THEN CASE WHEN"
            " value THEN 'true' ELSE 'false' END ELSE coalesce(value, 'nan')"
            " END FROM params WHERE run_id = ? ORDER BY key",
            -1, &st, NULL) != SQLITE_OK)
        goto sql_error;
    sqlite3_bind_int64(st, 1, run);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        char **kv = realloc(rt->kv, (size_t)(rt->nkv + 1) * sizeof *kv);
        if (!kv) goto oom;
        rt->kv = kv;
        if (!(kv[rt->nkv] = plot_format("%s", (const char *)sqlite3_column_text(st, 0))))
            goto oom;
        rt->nkv++;
    }
    if (r != SQLITE_DONE) goto sql_error;
    sqlite3_finalize(st);

    if (sqlite3_prepare_v2(db,
                           "SELECT step, value FROM metrics_view"
                           " WHERE run_id = ? AND name = ? ORDER BY step",
                           -1, &st, NULL) != SQLITE_OK)
        goto sql_error;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, o->metric, -1, SQLITE_STATIC);
    size_t values = 0;
    int gap = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        values++;
        double x = (double)sqlite3_column_int64(st, 0);
        double y = sqlite3_column_type(st, 1) == SQLITE_NULL
                       ? NAN
                       : sqlite3_column_double(st, 1);
        if (!isfinite(y)) {
            rt->nonfinite++, gap = 1;
            continue;
        }
        if (!plot_to_axis(&x, o->log_x) || !plot_to_axis(&y, o->log_y)) {
            rt->nonpositive++, gap = 1;
            continue;
        }
        if (plot_series_push(s, x, y, gap)) goto oom;
        gap = 0;
    }
    if (r != SQLITE_DONE) goto sql_error;
    sqlite3_finalize(st);
    st = NULL;
    if (values) return 0;

    /* No such metric: say which the run has. */
    if (sqlite3_prepare_v2(db,
                           "SELECT group_concat(name, ', ') FROM (SELECT DISTINCT"
                           " name FROM metrics_view WHERE run_id = ? ORDER BY name)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, run) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        goto sql_error;
    const char *has = (const char *)sqlite3_column_text(st, 0);
    bp_cli_fail(err, "run %lld (%s) has no metric '%s' (%s%s)", (long long)run, rt->name,
                o->metric, has ? "it has: " : "it logged none", has ? has : "");
    sqlite3_finalize(st);
    return 1;

oom:
    sqlite3_finalize(st);
    return bp_cli_fail(err, "out of memory");
sql_error:
    bp_cli_fail(err, "%s: %s", o->db, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return 1;
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

static int load_runs(sqlite3 *db, const options *o, figure *f, FILE *err) {
    int n = o->nruns, rc = 0;
    run_text *rt = calloc((size_t)n, sizeof *rt);
    if (!rt) return bp_cli_fail(err, "out of memory");
    for (int k = 0; k < n && !rc; k++) rc = load_run(db, o, o->runs[k], f, &rt[k], err);
    for (int k = 0; k < n && !rc; k++) {
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
        if (!f->s[k].label) rc = bp_cli_fail(err, "out of memory");
    }
    if (!rc && n > 1) {
        char common[2 * MAX_PARAMS_TEXT + 1] = "";
        for (int j = 0; j < rt[0].nkv; j++)
            if (shared(rt, n, rt[0].kv[j])) add_word(common, sizeof common, rt[0].kv[j]);
        series *words = *common ? plot_series_add(f) : NULL;
        if (*common && (!words || !(words->label = plot_format("all: %s", common))))
            rc = bp_cli_fail(err, "out of memory");
    }
    for (int k = 0; k < n; k++) {
        for (int j = 0; j < rt[k].nkv; j++) free(rt[k].kv[j]);
        free(rt[k].kv);
    }
    free(rt);
    if (rc) return rc;

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

/* ------------------------------------------------------------------------ */
/* Reading a sweep                                                           */

/* A trial as read: its parameter's value as a number or as text. */
typedef struct trial {
    int64_t trial;
    double x, y;
    char *text; /* the value of a text or bool parameter, else NULL */
    int has_x;
    int status; /* 0 completed, 1 pruned, 2 other */
    int has_y;
} trial;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_x(const void *a, const void *b) {
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return (x > y) - (x < y);
}

/* "0.01", "3", "1e-05": short, and exact enough for a legend. */
static void fmt_num(char *buf, size_t cap, double v) { snprintf(buf, cap, "%.4g", v); }

static int load_sweep(sqlite3 *db, const options *o, figure *f, FILE *err) {
    sqlite3_stmt *st = NULL;
    trial *t = NULL;
    size_t nt = 0, cap = 0;
    int rc = 1;
    char name[128], objective[128], direction[8], keys[256];

    if (sqlite3_prepare_v2(
            db, "SELECT name, objective, direction, keys FROM sweeps WHERE id = ?", -1,
            &st, NULL) != SQLITE_OK) {
        if (strstr(sqlite3_errmsg(db), "no such table"))
            return bp_cli_fail(
                err, "%s: this database has no sweeps (an older backprop made it)",
                o->db);
        goto sql_error;
    }
    sqlite3_bind_int64(st, 1, o->sweep);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        sqlite3_finalize(st);
        return bp_cli_fail(err, "%s: no sweep %lld", o->db, (long long)o->sweep);
    }
    if (r != SQLITE_ROW) goto sql_error;
    snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(objective, sizeof objective, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(direction, sizeof direction, "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(keys, sizeof keys, "%s", (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);

    /* The parameter's value comes from params, with its type: a text
     * parameter is drawn as categories, a number on a numeric axis. */
    if (sqlite3_prepare_v2(db,
                           "SELECT t.trial, t.status, t.objective, p.value, p.type"
                           " FROM sweep_trials t LEFT JOIN params p"
                           " ON p.run_id = t.run_id AND p.key = ?"
                           " WHERE t.sweep_id = ? ORDER BY t.trial",
                           -1, &st, NULL) != SQLITE_OK)
        goto sql_error;
    sqlite3_bind_text(st, 1, o->param, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, o->sweep);
    int any_param = 0, text_param = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (nt == cap) {
            cap = cap ? 2 * cap : 64;
            trial *more = realloc(t, cap * sizeof *t);
            if (!more) goto oom;
            t = more;
        }
        trial *tr = &t[nt++];
        memset(tr, 0, sizeof *tr);
        tr->trial = sqlite3_column_int64(st, 0);
        const char *status = (const char *)sqlite3_column_text(st, 1);
        tr->status = status && !strcmp(status, "completed") ? 0
                     : status && !strcmp(status, "pruned")  ? 1
                                                            : 2;
        tr->has_y = sqlite3_column_type(st, 2) != SQLITE_NULL;
        tr->y = sqlite3_column_double(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            const char *type = (const char *)sqlite3_column_text(st, 4);
            any_param = tr->has_x = 1;
            if (type && (!strcmp(type, "text") || !strcmp(type, "bool"))) {
                text_param = 1;
                const char *v = (const char *)sqlite3_column_text(st, 3);
                tr->text = plot_format(
                    "%s", !strcmp(type, "bool") ? (atoi(v) ? "true" : "false") : v);
                if (!tr->text) goto oom;
            } else {
                tr->x = sqlite3_column_double(st, 3);
            }
        }
    }
    if (r != SQLITE_DONE) goto sql_error;
    sqlite3_finalize(st);
    st = NULL;
    if (!any_param) {
        bp_cli_fail(err, "sweep %lld (%s) has no parameter '%s' (it sweeps: %s)",
                    (long long)o->sweep, name, o->param, keys);
        goto out;
    }
    if (text_param && o->log_x) {
        bp_cli_fail(err, "plot: --log-x: parameter '%s' of sweep %lld is not a number",
                    o->param, (long long)o->sweep);
        goto out;
    }

    /* A text parameter: its distinct values, sorted, are the columns. A
     * number among them (a parameter given as 0.1 in one trial and as
     * "fast" in another) is a column too, by its text. */
    if (text_param) {
        f->category = calloc(nt, sizeof *f->category);
        if (!f->category) goto oom;
        for (size_t k = 0; k < nt; k++) {
            if (!t[k].has_x) continue;
            if (!t[k].text && !(t[k].text = plot_format("%.4g", t[k].x))) goto oom;
            int seen = 0;
            for (int j = 0; j < f->ncategory; j++)
                seen |= !strcmp(f->category[j], t[k].text);
            if (!seen && !(f->category[f->ncategory++] = plot_format("%s", t[k].text)))
                goto oom;
        }
        qsort(f->category, (size_t)f->ncategory, sizeof *f->category, cmp_str);
        for (size_t k = 0; k < nt; k++)
            for (int j = 0; t[k].has_x && j < f->ncategory; j++)
                if (!strcmp(f->category[j], t[k].text)) t[k].x = j;
    }

    series *done = plot_series_add(f), *pruned = NULL, *best = NULL;
    if (!done) goto oom;
    done->marker = "●", done->color = C_SERIES;
    size_t no_param = 0, no_objective = 0, unfinished = 0, nonpositive = 0, npruned = 0;
    int64_t best_trial = -1;
    double best_y = 0, best_x = 0;
    const char *best_text = NULL;
    for (size_t k = 0; k < nt; k++) {
        trial *tr = &t[k];
        if (tr->status == 2) {
            unfinished++;
            continue;
        }
        if (!tr->has_x) {
            no_param++;
            continue;
        }
        if (!tr->has_y || !isfinite(tr->y)) {
            no_objective++;
            continue;
        }
        double x = tr->x, y = tr->y;
        if (!plot_to_axis(&x, o->log_x) || !plot_to_axis(&y, o->log_y)) {
            nonpositive++;
            continue;
        }
        if (tr->status == 1) {
            if (!pruned) {
                /* series_add may move the array: find done again after it */
                if (!(pruned = plot_series_add(f))) goto oom;
                done = &f->s[0];
                pruned->marker = "○", pruned->color = C_FRAME;
            }
            npruned++;
            if (plot_series_push(pruned, x, y, 0)) goto oom;
            continue;
        }
        if (plot_series_push(done, x, y, 0)) goto oom;
        int better = !strcmp(direction, "max") ? tr->y > best_y : tr->y < best_y;
        if (best_trial < 0 || better) {
            best_trial = tr->trial, best_y = tr->y, best_x = tr->x, best_text = tr->text;
        }
    }
    done = &f->s[0];
    if (!done->n && !(pruned && pruned->n)) {
        bp_cli_fail(
            err,
            "sweep %lld (%s): no trial has a value of '%s' and an objective to draw"
            " yet",
            (long long)o->sweep, name, o->param);
        goto out;
    }

    /* A sweep of this number alone, one completed trial per value: join
     * them, in order, to show the trend. (With other parameters swept too,
     * neighbours along x differ in more than x, and a line would lie.) */
    if (!text_param && done->n >= 2 && !strcmp(keys, o->param)) {
        double *xy = malloc(2 * done->n * sizeof *xy);
        if (!xy) goto oom;
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
    }
    done->label = plot_format("completed trials (%zu)", done->n);
    if (pruned)
        pruned->label =
            plot_format("pruned trials, objective when stopped (%zu)", npruned);
    if (!done->label || (pruned && !pruned->label)) goto oom;

    if (best_trial >= 0) {
        if (!(best = plot_series_add(f))) goto oom;
        double x = best_x, y = best_y; /* x: a column's index for a text parameter */
        plot_to_axis(&x, o->log_x), plot_to_axis(&y, o->log_y);
        if (plot_series_push(best, x, y, 0)) goto oom;
        best->marker = "★", best->marker_scale = 1.8, best->color = C_SERIES + 3;
        char xv[64], yv[32];
        if (best_text) snprintf(xv, sizeof xv, "%s", best_text);
        else fmt_num(xv, sizeof xv, best_x);
        fmt_num(yv, sizeof yv, best_y);
        if (!(best->label =
                  plot_format("best: trial %lld, %s=%s, %s %s", (long long)best_trial,
                              o->param, xv, objective, yv)))
            goto oom;
    }
    /* What was not drawn, as one line of words. */
    char note[256] = "";
    if (unfinished)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "%s%zu failed or unfinished", *note ? ", " : "", unfinished);
    if (no_objective)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "%s%zu without an objective", *note ? ", " : "", no_objective);
    if (no_param)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%s%zu without %s",
                 *note ? ", " : "", no_param, o->param);
    if (nonpositive)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%s%zu <= 0 (log axis)",
                 *note ? ", " : "", nonpositive);
    if (*note) {
        series *words = plot_series_add(f);
        if (!words || !(words->label = plot_format("not drawn: %s", note))) goto oom;
    }

    if (o->title) f->title = plot_format("%s", o->title);
    else
        f->title = plot_format("sweep %lld %s: %s (%s) against %s", (long long)o->sweep,
                               name, objective, direction, o->param);
    f->xlabel = plot_format("%s%s", o->param, o->log_x ? " (log scale)" : "");
    f->ylabel =
        plot_format("%s at the last step%s", objective, o->log_y ? " (log scale)" : "");
    f->log_x = o->log_x, f->log_y = o->log_y, f->pad_x = 1;
    if (!f->title || !f->xlabel || !f->ylabel) goto oom;
    rc = 0;
    goto out;

oom:
    bp_cli_fail(err, "out of memory");
    goto out;
sql_error:
    bp_cli_fail(err, "%s: %s", o->db, sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    for (size_t k = 0; k < nt; k++) free(t[k].text);
    free(t);
    return rc;
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
    sqlite3 *db = bp_runlog_sqlite(log);
    rc = o.sweep ? load_sweep(db, &o, &f, err) : load_runs(db, &o, &f, err);
    bp_runlog_close(log);
    if (rc) goto done;
    int points = 0;
    for (int k = 0; k < f.ns; k++) points |= f.s[k].n > 0;
    if (!points) {
        rc = bp_cli_fail(
            err, "plot: nothing to draw: every value of %s is NaN or infinite%s",
            o.metric, o.log_x || o.log_y ? ", or not positive on a log axis" : "");
        goto done;
    }
    if (plot_draw(&f, o.device, o.width, o.height, &img, &e))
        rc = bp_cli_fail(err, "%s: %s", o.output, e.msg);
    else rc = plot_write_picture(&o, &f, &img, err);
done:
    free(o.runs);
    plot_figure_free(&f);
    free(img.p);
    return rc;
}

void bp_plot_usage(FILE *out) {
    fputs(
        "  backprop plot RUN... [--metric NAME] [--log-x] [--log-y] -o FILE.png|FILE.svg\n"
        "  backprop plot --sweep ID --param KEY [--log-x] [--log-y] -o FILE.png|FILE.svg\n"
        "      (both: [--title TEXT] [--size WxH])\n",
        out);
}
