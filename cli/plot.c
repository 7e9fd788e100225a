/* plot.c: `backprop plot` (see bp_plot.h), the run log's curves and sweeps
 * drawn by PLplot.
 *
 * Why it is built this way:
 *  - PLplot draws the axes, ticks, labels and legend, and its cairo drivers
 *    (pngcairo, svgcairo) render them with real fonts and anti-aliasing; this
 *    file only reads the database, decides what goes where, and drives it.
 *  - Everything is read and checked before PLplot starts, so that every
 *    mistake of the user's (an unknown run, a missing metric) is reported
 *    before anything is drawn. The picture is drawn into memory and written
 *    to a temporary file renamed over FILE: an error never leaves half a
 *    picture, nor spoils the file that was there.
 *  - PLplot is made for interactive programs. Left to itself it asks on
 *    stdin for a file name it cannot open or a device it does not know,
 *    prints its warnings to stderr, and calls exit() on a fatal error. So it
 *    never opens a file (plsfile hands it our stream); the device is looked
 *    up in plgFileDevs before it is asked for; plsError keeps its warnings
 *    and plsabort the first of them, which becomes our error; and plsexit's
 *    handler longjmps back to render() (PLplot's own way: plexit exits only
 *    if the handler returns), which reports the message as ours.
 *  - cairo draws letters as outlines, in SVG too, so the words of a picture
 *    are not in its file. The title and the legend's lines are added as the
 *    SVG's <title> and <desc>, and as PNG iTXt chunks "Title" and
 *    "Description", for search, screen readers and tests.
 *  - The legend goes in the corner where it hides the fewest points. PLplot
 *    tells its size only once it is drawn, so a picture may be drawn twice,
 *    or three times when every corner hides some: the y axis is then made
 *    longer to leave the top free. A render takes milliseconds.
 *  - A log axis is PLplot's: it takes log10 of the data, so the series hold
 *    their points in axis units (log10 already taken where the axis is log).
 *
 * PLplot keeps its state in globals (streams, and the handlers above): one
 * plot at a time, from one thread. */
#define _GNU_SOURCE /* fopencookie: a stream whose closing we can see */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <plplot.h>
#include <sqlite3.h>
#include <zlib.h>

#include "bp_plot.h"
#include "bp_cli.h"
#include "bp_runlog.h"
#include "runlog_int.h" /* bp_runlog_sqlite: to be replaced by named reads */

/* A malloc'd string, or NULL when memory runs out. */
static char *format(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static char *format(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* ------------------------------------------------------------------------ */
/* What is drawn                                                             */

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
} series;

typedef struct figure {
    char *title, *xlabel, *ylabel;
    int log_x, log_y;
    int pad_x;       /* leave room left and right of the extreme points */
    double headroom; /* the top of the plot kept free (a fraction) */
    char **category; /* a text parameter's values, at x = 0, 1, ...; or NULL */
    int ncategory;
    series *s;
    int ns;
} figure;

/* The colour map (cmap0). Ten distinct colours for the series (matplotlib's
 * "tab10"); past ten, the colours repeat with another line style. */
enum { C_BG, C_INK, C_GRID, C_FRAME, C_LEGEND_BG, C_SERIES, N_COLORS = C_SERIES + 10 };
static const unsigned char palette[N_COLORS][3] = {
    {255, 255, 255}, {38, 38, 38},    {229, 229, 229}, {140, 140, 140}, {255, 255, 255},
    {31, 119, 180},  {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},   {227, 119, 194}, {127, 127, 127}, {188, 189, 34},  {23, 190, 207}};

static series *series_add(figure *f) {
    series *s = realloc(f->s, (size_t)(f->ns + 1) * sizeof *s);
    if (!s) return NULL;
    f->s = s;
    s = &f->s[f->ns++];
    memset(s, 0, sizeof *s);
    s->marker_scale = 1;
    s->style = 1;
    return s;
}

static int series_push(series *s, double x, double y, int gap) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (!nx) return -1;
        s->x = nx;
        double *ny = realloc(s->y, cap * sizeof *ny);
        if (!ny) return -1;
        s->y = ny;
        unsigned char *ng = realloc(s->gap, cap);
        if (!ng) return -1;
        s->gap = ng;
        s->cap = cap;
    }
    s->x[s->n] = x, s->y[s->n] = y, s->gap[s->n] = (unsigned char)gap;
    s->n++;
    return 0;
}

static void figure_free(figure *f) {
    for (int k = 0; k < f->ns; k++) {
        free(f->s[k].label);
        free(f->s[k].x);
        free(f->s[k].y);
        free(f->s[k].gap);
    }
    for (int k = 0; k < f->ncategory; k++) free(f->category[k]);
    free(f->category);
    free(f->s);
    free(f->title);
    free(f->xlabel);
    free(f->ylabel);
}

/* v in axis units: 1 if it can be drawn (*v = log10 v on a log axis). */
static int to_axis(double *v, int log_axis) {
    if (!isfinite(*v)) return 0;
    if (log_axis) {
        if (*v <= 0) return 0;
        *v = log10(*v);
    }
    return 1;
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
/* Options                                                                   */

typedef struct options {
    const char *db, *output, *metric, *title, *param;
    const char *device; /* pngcairo or svgcairo */
    int svg;
    int64_t sweep; /* 0: none */
    int log_x, log_y;
    int width, height;
    int64_t *runs;
    int nruns;
} options;

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
    series *s = series_add(f);
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
        if (!(kv[rt->nkv] = format("%s", (const char *)sqlite3_column_text(st, 0))))
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
        if (!to_axis(&x, o->log_x) || !to_axis(&y, o->log_y)) {
            rt->nonpositive++, gap = 1;
            continue;
        }
        if (series_push(s, x, y, gap)) goto oom;
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
            format("run %lld %s%s%s%s%s%s%s", (long long)o->runs[k], rt[k].name,
                   *params ? " (" : "", params, *params ? ")" : "", done ? "" : ", ",
                   done ? "" : rt[k].status, note);
        if (!f->s[k].label) rc = bp_cli_fail(err, "out of memory");
    }
    if (!rc && n > 1) {
        char common[2 * MAX_PARAMS_TEXT + 1] = "";
        for (int j = 0; j < rt[0].nkv; j++)
            if (shared(rt, n, rt[0].kv[j])) add_word(common, sizeof common, rt[0].kv[j]);
        series *words = *common ? series_add(f) : NULL;
        if (*common && (!words || !(words->label = format("all: %s", common))))
            rc = bp_cli_fail(err, "out of memory");
    }
    for (int k = 0; k < n; k++) {
        for (int j = 0; j < rt[k].nkv; j++) free(rt[k].kv[j]);
        free(rt[k].kv);
    }
    free(rt);
    if (rc) return rc;

    if (o->title) f->title = format("%s", o->title);
    else if (n == 1)
        f->title = format("%s of run %lld", o->metric, (long long)o->runs[0]);
    else if (n <= 6) {
        char ids[128] = "";
        for (int k = 0; k < n; k++)
            snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%lld", k ? ", " : "",
                     (long long)o->runs[k]);
        f->title = format("%s of runs %s", o->metric, ids);
    } else {
        f->title = format("%s of %d runs", o->metric, n);
    }
    f->xlabel = format("step%s", o->log_x ? " (log scale)" : "");
    f->ylabel = format("%s%s", o->metric, o->log_y ? " (log scale)" : "");
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
                tr->text = format(
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
            if (!t[k].text && !(t[k].text = format("%.4g", t[k].x))) goto oom;
            int seen = 0;
            for (int j = 0; j < f->ncategory; j++)
                seen |= !strcmp(f->category[j], t[k].text);
            if (!seen && !(f->category[f->ncategory++] = format("%s", t[k].text)))
                goto oom;
        }
        qsort(f->category, (size_t)f->ncategory, sizeof *f->category, cmp_str);
        for (size_t k = 0; k < nt; k++)
            for (int j = 0; t[k].has_x && j < f->ncategory; j++)
                if (!strcmp(f->category[j], t[k].text)) t[k].x = j;
    }

    series *done = series_add(f), *pruned = NULL, *best = NULL;
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
        if (!to_axis(&x, o->log_x) || !to_axis(&y, o->log_y)) {
            nonpositive++;
            continue;
        }
        if (tr->status == 1) {
            if (!pruned) {
                /* series_add may move the array: find done again after it */
                if (!(pruned = series_add(f))) goto oom;
                done = &f->s[0];
                pruned->marker = "○", pruned->color = C_FRAME;
            }
            npruned++;
            if (series_push(pruned, x, y, 0)) goto oom;
            continue;
        }
        if (series_push(done, x, y, 0)) goto oom;
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
    done->label = format("completed trials (%zu)", done->n);
    if (pruned)
        pruned->label = format("pruned trials, objective when stopped (%zu)", npruned);
    if (!done->label || (pruned && !pruned->label)) goto oom;

    if (best_trial >= 0) {
        if (!(best = series_add(f))) goto oom;
        double x = best_x, y = best_y; /* x: a column's index for a text parameter */
        to_axis(&x, o->log_x), to_axis(&y, o->log_y);
        if (series_push(best, x, y, 0)) goto oom;
        best->marker = "★", best->marker_scale = 1.8, best->color = C_SERIES + 3;
        char xv[64], yv[32];
        if (best_text) snprintf(xv, sizeof xv, "%s", best_text);
        else fmt_num(xv, sizeof xv, best_x);
        fmt_num(yv, sizeof yv, best_y);
        if (!(best->label = format("best: trial %lld, %s=%s, %s %s",
                                   (long long)best_trial, o->param, xv, objective, yv)))
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
        series *words = series_add(f);
        if (!words || !(words->label = format("not drawn: %s", note))) goto oom;
    }

    if (o->title) f->title = format("%s", o->title);
    else
        f->title = format("sweep %lld %s: %s (%s) against %s", (long long)o->sweep, name,
                          objective, direction, o->param);
    f->xlabel = format("%s%s", o->param, o->log_x ? " (log scale)" : "");
    f->ylabel =
        format("%s at the last step%s", objective, o->log_y ? " (log scale)" : "");
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
/* Drawing                                                                   */

/* PLplot reads '#' as the start of an escape sequence: "##" is a '#'. */
static char *pl_text(const char *s) {
    size_t n = strlen(s), extra = 0;
    for (size_t k = 0; k < n; k++) extra += s[k] == '#';
    char *t = malloc(n + extra + 1), *p = t;
    if (!t) return NULL;
    for (size_t k = 0; k < n; k++) {
        *p++ = s[k];
        if (s[k] == '#') *p++ = '#';
    }
    *p = '\0';
    return t;
}

/* The labels of a text parameter's columns, for plslabelfunc. */
static void category_label(PLINT axis, PLFLT value, char *label, PLINT length,
                           PLPointer data) {
    const figure *f = data;
    long k = lround(value);
    label[0] = '\0';
    if (axis == PL_X_AXIS && fabs(value - (double)k) < 1e-6 && k >= 0 &&
        k < f->ncategory) {
        char *t = pl_text(f->category[k]);
        if (t) snprintf(label, (size_t)length, "%s", t);
        free(t);
    }
}

static void widen(double *lo, double *hi, int log_axis) {
    if (*hi > *lo) return;
    double d = log_axis ? 0.5 : *lo ? fabs(*lo) * 0.1 : 1;
    *lo -= d, *hi += d;
}

/* The axes' ranges: every point, with a margin above and below (and on
 * the sides for a sweep's points, which would be cut in half at the edge). */
static void bounds(const figure *f, double b[4]) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < f->ns; k++)
        for (size_t i = 0; i < f->s[k].n; i++) {
            x0 = fmin(x0, f->s[k].x[i]), x1 = fmax(x1, f->s[k].x[i]);
            y0 = fmin(y0, f->s[k].y[i]), y1 = fmax(y1, f->s[k].y[i]);
        }
    if (f->ncategory) x0 = -0.5, x1 = f->ncategory - 0.5;
    widen(&x0, &x1, f->log_x);
    widen(&y0, &y1, f->log_y);
    double dy = 0.05 * (y1 - y0), dx = 0.05 * (x1 - x0);
    b[2] = y0 - dy, b[3] = y1 + dy;
    b[3] = b[2] + (b[3] - b[2]) / (1 - f->headroom);
    b[0] = x0, b[1] = x1;
    if (f->pad_x && !f->ncategory) b[0] -= dx, b[1] += dx;
}

/* Where the legend goes, and its offsets from the plot's edges. */
#define LEGEND_DX 0.02
#define LEGEND_DY 0.03
static const int corners[4] = {
    PL_POSITION_TOP | PL_POSITION_RIGHT, PL_POSITION_TOP | PL_POSITION_LEFT,
    PL_POSITION_BOTTOM | PL_POSITION_RIGHT, PL_POSITION_BOTTOM | PL_POSITION_LEFT};

/* The corner where a legend w x h (fractions of the plot) hides the
 * fewest points (*hides of them), the lines between them sampled too; the
 * first of the best in the order above (top right first: curves that fall
 * leave it free). */
static int best_corner(const figure *f, double w, double h, long *hides) {
    double b[4];
    bounds(f, b);
    long hidden[4] = {0, 0, 0, 0};
    for (int c = 0; c < 4; c++) {
        /* the box, a little larger for the markers' size */
        double bx0 = corners[c] & PL_POSITION_RIGHT ? 1 - LEGEND_DX - w : LEGEND_DX;
        double by0 = corners[c] & PL_POSITION_TOP ? 1 - LEGEND_DY - h : LEGEND_DY;
        double bx1 = bx0 + w + 0.02, by1 = by0 + h + 0.03;
        bx0 -= 0.02, by0 -= 0.03;
        for (int k = 0; k < f->ns; k++) {
            const series *s = &f->s[k];
            for (size_t i = 0; i < s->n; i++) {
                int steps = s->line && i + 1 < s->n && !s->gap[i + 1] ? 8 : 1;
                for (int j = 0; j < steps; j++) {
                    double t = (double)j / steps;
                    double x = j ? s->x[i] + t * (s->x[i + 1] - s->x[i]) : s->x[i];
                    double y = j ? s->y[i] + t * (s->y[i + 1] - s->y[i]) : s->y[i];
                    x = (x - b[0]) / (b[1] - b[0]), y = (y - b[2]) / (b[3] - b[2]);
                    hidden[c] += x >= bx0 && x <= bx1 && y >= by0 && y <= by1;
                }
            }
        }
    }
    int best = 0;
    for (int c = 1; c < 4; c++)
        if (hidden[c] < hidden[best]) best = c;
    *hides = hidden[best];
    return best;
}

/* Draws the figure on the current PLplot stream, after plinit, with the
 * legend in corners[corner]; *legend_w and *legend_h get the legend's size
 * as fractions of the plot. Returns -1 when memory runs out. */
static int draw(figure *f, int corner, double *legend_w, double *legend_h) {
    double b[4];
    bounds(f, b);
    pladv(0);
    plvsta();
    plwind(b[0], b[1], b[2], b[3]);
    plwidth(1);
    plcol0(C_GRID);
    plbox(f->log_x ? "gl" : f->ncategory ? "" : "g", 0, 0, f->log_y ? "ghl" : "g", 0, 0);
    plcol0(C_INK);
    if (f->ncategory) {
        plslabelfunc(category_label, f);
        plbox("bcnto", 1, 1, f->log_y ? "bcnstvl" : "bcnstv", 0, 0);
        plslabelfunc(NULL, NULL);
    } else {
        plbox(f->log_x ? "bcnstl" : "bcnst", 0, 0, f->log_y ? "bcnstvl" : "bcnstv", 0, 0);
    }
    char *title = pl_text(f->title), *xl = pl_text(f->xlabel), *yl = pl_text(f->ylabel);
    if (title && xl && yl) pllab(xl, yl, title);
    free(title), free(xl), free(yl);
    if (!title || !xl || !yl) return -1;

    for (int k = 0; k < f->ns; k++) {
        series *s = &f->s[k];
        plcol0(s->color);
        pllsty(s->style);
        plwidth(2);
        for (size_t i = 0; s->line && i < s->n;) { /* one plline per unbroken run */
            size_t j = i + 1;
            while (j < s->n && !s->gap[j]) j++;
            if (j - i > 1) plline((PLINT)(j - i), s->x + i, s->y + i);
            else plstring(1, s->x + i, s->y + i, "•"); /* a lone point */
            i = j;
        }
        pllsty(1);
        if (s->marker) {
            plschr(0, s->marker_scale);
            plstring((PLINT)s->n, s->x, s->y, s->marker);
            plschr(0, 1);
        }
    }

    int n = f->ns;
    PLINT *opt = calloc((size_t)n, sizeof *opt),
          *color = calloc((size_t)n, sizeof *color);
    PLINT *ink = calloc((size_t)n, sizeof *ink),
          *style = calloc((size_t)n, sizeof *style);
    PLINT *nsym = calloc((size_t)n, sizeof *nsym);
    PLFLT *width = calloc((size_t)n, sizeof *width),
          *scale = calloc((size_t)n, sizeof *scale);
    const char **text = calloc((size_t)n, sizeof *text),
               **sym = calloc((size_t)n, sizeof *sym);
    int ok = opt && color && ink && style && nsym && width && scale && text && sym;
    for (int k = 0; ok && k < n; k++) {
        series *s = &f->s[k];
        opt[k] = (s->line ? PL_LEGEND_LINE : 0) | (s->marker ? PL_LEGEND_SYMBOL : 0);
        if (!opt[k]) opt[k] = PL_LEGEND_NONE;
        color[k] = s->color, ink[k] = C_INK, style[k] = s->style;
        width[k] = 2, scale[k] = s->marker_scale, nsym[k] = 1;
        sym[k] = s->marker ? s->marker : "";
        ok = (text[k] = pl_text(s->label)) != NULL;
    }
    if (ok) {
        PLFLT lw, lh;
        plwidth(1);
        pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
                 corners[corner] | PL_POSITION_INSIDE, LEGEND_DX, LEGEND_DY, 0.06,
                 C_LEGEND_BG, C_FRAME, 1, 0, 0, n, opt, 0.6, 0.8, 2.0, 0.0, ink, text,
                 NULL, NULL, NULL, NULL, color, style, width, color, scale, nsym, sym);
        *legend_w = lw, *legend_h = lh;
    }
    for (int k = 0; text && k < n; k++) free((char *)text[k]);
    free(opt), free(color), free(ink), free(style), free(nsym), free(width), free(scale);
    free(text), free(sym);
    return ok ? 0 : -1;
}

/* The bytes of the picture, collected in memory through a stdio stream
 * PLplot writes to and closes; closed tells whether it did. */
typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
    int closed, oom;
} bytes;

static ssize_t bytes_write(void *cookie, const char *buf, size_t n) {
    bytes *b = cookie;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->n + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return -1;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, buf, n);
    b->n += n;
    return (ssize_t)n;
}

static int bytes_close(void *cookie) {
    ((bytes *)cookie)->closed = 1;
    return 0;
}

static jmp_buf pl_exit_jump;
static char pl_message[BP_ERR_MAX];

static void keep_message(const char *msg) {
    if (!pl_message[0]) snprintf(pl_message, sizeof pl_message, "%s", msg ? msg : "");
    size_t n = strlen(pl_message); /* PLplot's messages may end in a newline */
    while (n && pl_message[n - 1] == '\n') pl_message[--n] = '\0';
}

static int on_plexit(const char *msg) {
    keep_message(msg);
    longjmp(pl_exit_jump, 1);
}

static void on_plabort(const char *msg) { keep_message(msg); }

/* Draws f with PLplot's device into *img, the legend in corners[corner]
 * (its size in *legend). Returns 0, or -1 with the reason in *e. */
static int render(figure *f, const char *device, int width, int height, int corner,
                  double legend[2], bytes *img, bp_err *e) {
    FILE *stream = fopencookie(
        img, "w", (cookie_io_functions_t){.write = bytes_write, .close = bytes_close});
    if (!stream) return bp_err_set(e, "cannot draw: %s", strerror(errno));
    static PLINT errcode;                  /* plsError's: static, as they must */
    static char errmsg[1024 + BP_ERR_MAX]; /* outlive a longjmp */
    volatile int started = 0;
    pl_message[0] = '\0';
    errcode = 0;
    plsexit(on_plexit);
    plsabort(on_plabort);
    if (setjmp(pl_exit_jump)) {
        if (started) plend1();
        plsexit(NULL);
        plsabort(NULL);
        if (!img->closed) fclose(stream);
        return bp_err_set(e, "PLplot failed: %s", pl_message);
    }
    PLINT strm;
    plmkstrm(&strm);
    started = 1;
    plsError(&errcode, errmsg);
    /* Asked for a device it does not have, PLplot lists its devices on
     * stdout and reads a choice from stdin: ask it first what it has. */
    const char *menu[64], *names[64], **mp = menu, **np = names;
    int ndev = 64, found = 0;
    plgFileDevs(&mp, &np, &ndev);
    for (int k = 0; k < ndev; k++) found |= !strcmp(names[k], device);
    if (!found) {
        plend1();
        plsexit(NULL);
        plsabort(NULL);
        fclose(stream);
        return bp_err_set(
            e, "PLplot has no %s driver%s%s (is plplot-driver-cairo installed?)", device,
            pl_message[0] ? ": " : "", pl_message);
    }
    plsdev(device);
    plsfile(stream);
    plspage(0, 0, width, height, 0, 0);
    PLINT r[N_COLORS], g[N_COLORS], b[N_COLORS];
    PLFLT a[N_COLORS];
    for (int k = 0; k < N_COLORS; k++)
        r[k] = palette[k][0], g[k] = palette[k][1], b[k] = palette[k][2], a[k] = 1;
    a[C_LEGEND_BG] = 0.85; /* the curves show faintly through the legend */
    plscmap0a(r, g, b, a, N_COLORS);
    plinit();
    int drawn = draw(f, corner, &legend[0], &legend[1]);
    plend1();
    started = 0;
    plsexit(NULL);
    plsabort(NULL);
    if (!img->closed) fclose(stream);
    if (drawn || img->oom) return bp_err_set(e, "out of memory");
    if (pl_message[0] || errcode)
        return bp_err_set(e, "PLplot failed: %s",
                          pl_message[0] ? pl_message : "unknown error");
    if (!img->n) return bp_err_set(e, "PLplot wrote nothing");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* What the picture says, in words, and the file                             */

/* The legend's lines, one per line, as the picture's description. */
static char *description(const figure *f) {
    size_t n = 1;
    for (int k = 0; k < f->ns; k++) n += strlen(f->s[k].label) + 1;
    char *d = malloc(n), *p = d;
    if (!d) return NULL;
    for (int k = 0; k < f->ns; k++) p += sprintf(p, "%s%s", k ? "\n" : "", f->s[k].label);
    *p = '\0';
    return d;
}

static void xml_text(FILE *m, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", m);
        else if (*s == '<') fputs("&lt;", m);
        else if (*s == '>') fputs("&gt;", m);
        else fputc(*s, m);
    }
}

/* An iTXt chunk (UTF-8 text): keyword, no compression, no language. */
static void png_itxt(FILE *m, const char *key, const char *text) {
    size_t kn = strlen(key), tn = strlen(text), n = kn + 5 + tn;
    unsigned char head[8] = {(unsigned char)(n >> 24),
                             (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8),
                             (unsigned char)n,
                             'i',
                             'T',
                             'X',
                             't'};
    const unsigned char zeros[5] = {0, 0, 0, 0, 0}; /* \0, flag, method, "", "" */
    fwrite(head, 1, 8, m);
    fwrite(key, 1, kn, m);
    fwrite(zeros, 1, 5, m);
    fwrite(text, 1, tn, m);
    uLong crc = crc32(0L, head + 4, 4);
    crc = crc32(crc, (const Bytef *)key, (uInt)kn);
    crc = crc32(crc, zeros, 5);
    crc = crc32(crc, (const Bytef *)text, (uInt)tn);
    unsigned char c[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                          (unsigned char)(crc >> 8), (unsigned char)crc};
    fwrite(c, 1, 4, m);
}

/* Writes the picture to path with its title and description added: after
 * the SVG's opening tag, or after the PNG's IHDR chunk (33 bytes in). The
 * bytes go to path.PID.tmp first, renamed over path once complete. */
static int write_picture(const options *o, const figure *f, const bytes *img, FILE *err) {
    char *desc = description(f), *tmp = format("%s.%ld.tmp", o->output, (long)getpid());
    if (!desc || !tmp) {
        free(desc), free(tmp);
        return bp_cli_fail(err, "out of memory");
    }
    FILE *m = fopen(tmp, "wb");
    if (!m) {
        int rc = bp_cli_fail(err, "%s: cannot write (%s)", o->output, strerror(errno));
        free(desc), free(tmp);
        return rc;
    }
    size_t head = 0;
    if (o->svg) {
        const unsigned char *svg = memmem(img->p, img->n, "<svg", 4);
        const unsigned char *end =
            svg ? memchr(svg, '>', img->n - (size_t)(svg - img->p)) : NULL;
        head = end ? (size_t)(end - img->p) + 1 : 0;
        fwrite(img->p, 1, head, m);
        if (head) {
            fputs("\n<title>", m);
            xml_text(m, f->title);
            fputs("</title>\n<desc>", m);
            xml_text(m, desc);
            fputs("</desc>", m);
        }
    } else if (img->n > 33 && !memcmp(img->p + 12, "IHDR", 4)) {
        head = 33;
        fwrite(img->p, 1, head, m);
        png_itxt(m, "Title", f->title);
        png_itxt(m, "Description", desc);
    }
    fwrite(img->p + head, 1, img->n - head, m);
    int bad = ferror(m);
    bad |= fclose(m) != 0;
    int rc = 0;
    if (bad || rename(tmp, o->output) != 0) {
        rc = bp_cli_fail(err, "%s: cannot write (%s)", o->output, strerror(errno));
        remove(tmp);
    }
    free(desc), free(tmp);
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
    /* PLplot tells the legend's size once it is drawn: so draw, see where
     * the legend hides the fewest points, and draw again if that is
     * elsewhere. When it would hide some wherever it went, and is not too
     * tall, the y axis is lengthened to leave the top free for it. */
    double legend[2] = {0, 0};
    int corner = 0;
    for (int pass = 0;; pass++) {
        if (render(&f, o.device, o.width, o.height, corner, legend, &img, &e)) {
            rc = bp_cli_fail(err, "%s: %s", o.output, e.msg);
            goto done;
        }
        if (pass == 2) break;
        long hides;
        int best = best_corner(&f, legend[0], legend[1], &hides);
        if (hides && legend[1] < 0.4 && f.headroom == 0) {
            f.headroom = legend[1] + LEGEND_DY + 0.04;
            best = 0;
        } else if (best == corner) {
            break;
        }
        corner = best;
        free(img.p);
        memset(&img, 0, sizeof img);
    }
    rc = write_picture(&o, &f, &img, err);
done:
    free(o.runs);
    figure_free(&f);
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
