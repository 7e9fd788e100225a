/* test_plot.c: `backprop plot` (bp_plot.h), through bp_plot_main.
 *
 * A database is filled through the run log's API with curves whose points
 * are known, NaN, Inf and zeros among them, and with two sweeps; a second
 * one by `backprop run scripts/xor.lua`, when the host is built. Each
 * picture is then read back as a viewer would: the PNG's signature, CRCs and
 * IHDR size, its pixels (inflated with zlib: each curve's colour is there,
 * and no other series'), its iTXt legend; the SVG's header, size, <desc>
 * legend and the curves' paths: their vertices counted, their ends at the
 * steps where a value was left out. Errors are checked by their exact text,
 * and PLplot by what it must not do: print, exit, read stdin, or leave a
 * file behind, even without its drivers (in a child process). */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zlib.h>

#include "bp_plot.h"
#include "plot_int.h"
#include "bp_runlog.h"
#include "runlog_int.h"
#include "check.h"

static char dir[64], db[128];

static const char *path_in(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Runs `backprop plot` with the arguments given (NULL-terminated); *err
 * gets what it printed (a static buffer). Whatever reached the process's
 * own stderr meanwhile (PLplot's voice) is in *leak. */
static int plot(const char **err, const char **leak, ...) {
    static char *ebuf, lbuf[4096];
    size_t en;
    free(ebuf);
    FILE *o = fopen("/dev/null", "w"), *e = open_memstream(&ebuf, &en);
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, leak);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 32;) argv[argc++] = a;
    va_end(ap);
    fflush(stderr);
    int saved = dup(2),
        fd = open(path_in("stderr.txt"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    int rc = bp_plot_main(argc, argv, o, e);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, lbuf, sizeof lbuf - 1, 0);
    lbuf[n > 0 ? n : 0] = '\0';
    close(fd);
    fclose(o);
    fclose(e);
    *err = ebuf;
    if (leak) *leak = lbuf;
    else if (*lbuf) fprintf(stderr, "PLplot printed: %s\n", lbuf);
    return rc;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f) return NULL;
    unsigned char *p = NULL;
    size_t cap = 0;
    for (;;) {
        if (*n == cap && !(p = realloc(p, cap = cap ? 2 * cap : 65536))) break;
        size_t got = fread(p + *n, 1, cap - *n, f);
        if (!got) break;
        *n += got;
    }
    fclose(f);
    if (p) p[*n < cap ? *n : cap - 1] = '\0';
    return p;
}

/* ------------------------------------------------------------------------ */
/* Reading a PNG                                                             */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks the signature and every chunk's CRC; fills the IHDR size. */
static int png_check(const unsigned char *p, size_t n, int *w, int *h) {
    static const unsigned char sig[8] = {137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};
    if (n < 33 || memcmp(p, sig, 8) || memcmp(p + 12, "IHDR", 4)) return -1;
    *w = (int)be32(p + 16), *h = (int)be32(p + 20);
    for (size_t at = 8; at < n;) {
        uint32_t len = be32(p + at);
        if (at + 12 + len > n) return -1;
        if (crc32(crc32(0, NULL, 0), p + at + 4, len + 4) != be32(p + at + 8 + len))
            return -1;
        if (!memcmp(p + at + 4, "IEND", 4)) return 0;
        at += 12 + len;
    }
    return -1;
}

/* The text of iTXt chunk `key` (static buffer), or NULL. */
static const char *png_itxt(const unsigned char *p, size_t n, const char *key) {
    static char text[4096];
    for (size_t at = 8; at + 12 <= n;) {
        uint32_t len = be32(p + at);
        const unsigned char *d = p + at + 8;
        size_t kn = strlen(key);
        if (!memcmp(p + at + 4, "iTXt", 4) && len > kn + 5 && !memcmp(d, key, kn + 1)) {
            size_t tn = len - kn - 5 < sizeof text - 1 ? len - kn - 5 : sizeof text - 1;
            memcpy(text, d + kn + 5, tn);
            text[tn] = '\0';
            return text;
        }
        at += 12 + len;
    }
    return NULL;
}

static int paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* The pixels as RGB triples (malloc'd), for 8-bit RGB or RGBA without
 * interlacing, as pngcairo writes them. */
static unsigned char *png_rgb(const unsigned char *p, size_t n, int *w, int *h) {
    if (png_check(p, n, w, h) || p[24] != 8 || (p[25] != 2 && p[25] != 6) || p[28])
        return NULL;
    int bpp = p[25] == 6 ? 4 : 3;
    size_t stride = (size_t)*w * (size_t)bpp, zn = 0;
    unsigned char *z = malloc(n), *raw = malloc((stride + 1) * (size_t)*h);
    unsigned char *rgb = malloc((size_t)*w * (size_t)*h * 3);
    for (size_t at = 8; z && at + 12 <= n; at += 12 + be32(p + at))
        if (!memcmp(p + at + 4, "IDAT", 4)) {
            memcpy(z + zn, p + at + 8, be32(p + at));
            zn += be32(p + at);
        }
    uLongf rn = (uLongf)((stride + 1) * (size_t)*h);
    if (!z || !raw || !rgb || uncompress(raw, &rn, z, (uLong)zn) != Z_OK ||
        rn != (stride + 1) * (size_t)*h) {
        free(z), free(raw), free(rgb);
        return NULL;
    }
    for (int y = 0; y < *h; y++) {
        unsigned char *row = raw + (size_t)y * (stride + 1), *cur = row + 1;
        const unsigned char *up = y ? raw + (size_t)(y - 1) * (stride + 1) + 1 : NULL;
        for (size_t i = 0; i < stride; i++) {
            int a = i >= (size_t)bpp ? cur[i - (size_t)bpp] : 0, b = up ? up[i] : 0;
            int c = up && i >= (size_t)bpp ? up[i - (size_t)bpp] : 0;
            int add = row[0] == 1   ? a
                      : row[0] == 2 ? b
                      : row[0] == 3 ? (a + b) / 2
                      : row[0] == 4 ? paeth(a, b, c)
                                    : 0;
            cur[i] = (unsigned char)(cur[i] + add);
        }
        for (int x = 0; x < *w; x++)
            memcpy(rgb + ((size_t)y * (size_t)*w + (size_t)x) * 3,
                   cur + (size_t)x * (size_t)bpp, 3);
    }
    free(z), free(raw);
    return rgb;
}

static long count_rgb(const unsigned char *rgb, int w, int h, int r, int g, int b) {
    long k = 0;
    for (long i = 0; rgb && i < (long)w * h; i++)
        k += rgb[3 * i] == r && rgb[3 * i + 1] == g && rgb[3 * i + 2] == b;
    return k;
}

/* The series' colours (plot.c's palette: matplotlib's tab10). */
static const int BLUE[3] = {31, 119, 180}, ORANGE[3] = {255, 127, 14},
                 GREEN[3] = {44, 160, 44}, RED[3] = {214, 39, 40};

/* ------------------------------------------------------------------------ */
/* Reading an SVG                                                            */

/* A curve of colour c as svgcairo writes it: paths "fill:none;
 * stroke-width:2;...;stroke:rgb(R%,G%,B%)" with "M x y L x y ...". PLplot
 * cuts a long line into several paths, each starting where the last ended,
 * and cairo merges a point into the segment before it when both have the
 * same slope; the ends of an unbroken line are kept. The legend's sample,
 * a horizontal path of two points, is not counted. Fills *vertices (a point
 * repeated at a cut counted once), *segments (unbroken lines), for each of
 * the first 16 the x of its two ends, and the least x. */
typedef struct curve {
    int vertices, segments;
    double x0[16], x1[16];
    double xmin;     /* the least x of any vertex */
    double ymin;     /* the least y: the lowest point on the page, PLplot's
                        paths being drawn upside down (their transform is
                        matrix(1,0,0,-1,0,height)) */
    double legend_y; /* the legend's sample's y, NAN when none */
} curve;

static curve svg_curve(const char *svg, const int c[3]) {
    curve k = {0, 0, {0}, {0}, INFINITY, INFINITY, NAN};
    char color[128], pct[3][32];
    for (int i = 0; i < 3; i++) { /* cairo's spelling: "%f", zeros trimmed */
        snprintf(pct[i], sizeof pct[i], "%f", c[i] * 100.0 / 255);
        char *e = pct[i] + strlen(pct[i]) - 1;
        while (*e == '0') *e-- = '\0';
        if (*e == '.') *e = '\0';
    }
    snprintf(color, sizeof color, "stroke:rgb(%s%%,%s%%,%s%%);", pct[0], pct[1], pct[2]);
    double lx = NAN, ly = NAN;
    for (const char *p = svg;
         p && (p = strstr(p, "<path style=\"fill:none;stroke-width:2;")); p++) {
        const char *end = strchr(p, '>'), *col = strstr(p, color),
                   *d = strstr(p, " d=\"");
        if (!end || !col || col > end || !d || d > end) continue;
        double x[2048], y[2048];
        int n = 0, used;
        char op;
        for (const char *q = d + 4;
             n < 2048 && sscanf(q, " %c %lf %lf%n", &op, &x[n], &y[n], &used) == 3 &&
             (op == 'M' || op == 'L');
             q += used)
            n++;
        if (n == 2 && y[0] == y[1]) k.legend_y = y[0]; /* the legend's sample */
        if (n == 0 || (n == 2 && y[0] == y[1])) continue;
        for (int i = 0; i < n; i++) k.ymin = fmin(k.ymin, y[i]);
        int cut = x[0] == lx && y[0] == ly;
        if (!cut && k.segments < 16) k.x0[k.segments] = x[0];
        if (!cut) k.segments++;
        if (k.segments <= 16) k.x1[k.segments - 1] = x[n - 1];
        k.vertices += n - cut;
        for (int i = 0; i < n; i++) k.xmin = fmin(k.xmin, x[i]);
        lx = x[n - 1], ly = y[n - 1];
    }
    return k;
}

/* Whether x is where step `step` is drawn, the steps first..last spanning
 * x_first..x_last (a linear axis), to a tenth of a pixel: PLplot rounds
 * coordinates to its device units, a few hundredths of a pixel. */
static int at_step(double x, int step, int first, int last, double x_first,
                   double x_last) {
    return fabs(x - (x_first + (x_last - x_first) * (step - first) / (last - first))) <
           0.1;
}

/* ------------------------------------------------------------------------ */
/* The database                                                              */

static int has_sweeps;

/* Run 1 "xor": loss 1/k at steps 1..40 and accuracy; hidden=4 lr=0.5.
 * Run 2 "wide": loss 2/k at steps 1..30, NaN at 10, +Inf at 20, 0 at 25;
 * hidden=16 lr=0.5; diverged. Run 3 "empty" logs nothing; run 4 "nan" only
 * NaNs. Then sweep 1 over lr (real) and act (text), trials 0..5, and
 * sweep 2 over lr alone. */
static void fill(void) {
    bp_err e = {{0}};
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    CHECK(log != NULL);
    if (!log) return;
    int64_t r1 = bp_runlog_begin(log, &(bp_run_info){.name = "xor"}, &e);
    int64_t r2 = bp_runlog_begin(log, &(bp_run_info){.name = "wide"}, &e);
    int64_t r3 = bp_runlog_begin(log, &(bp_run_info){.name = "empty"}, &e);
    int64_t r4 = bp_runlog_begin(log, &(bp_run_info){.name = "nan"}, &e);
    CHECK(r1 == 1 && r2 == 2 && r3 == 3 && r4 == 4);
    for (int k = 1; k <= 40; k++) {
        bp_runlog_metric(log, r1, "loss", k, 1.0 / k, &e);
        bp_runlog_metric(log, r1, "accuracy", k, 1 - 1.0 / k, &e);
    }
    for (int k = 1; k <= 30; k++)
        bp_runlog_metric(log, r2, "loss", k,
                         k == 10   ? NAN
                         : k == 20 ? INFINITY
                         : k == 25 ? 0
                                   : 2.0 / k,
                         &e);
    for (int k = 1; k <= 3; k++) bp_runlog_metric(log, r4, "loss", k, NAN, &e);
    bp_runlog_param_int(log, r1, "hidden", 4, &e);
    bp_runlog_param_real(log, r1, "lr", 0.5, &e);
    bp_runlog_param_int(log, r2, "hidden", 16, &e);
    bp_runlog_param_real(log, r2, "lr", 0.5, &e);
    bp_runlog_end(log, r1, "completed", NULL, NULL, &e);
    bp_runlog_end(log, r2, "diverged", NULL, NULL, &e);
    bp_runlog_end(log, r3, "completed", NULL, NULL, &e);
    bp_runlog_end(log, r4, "diverged", NULL, NULL, &e);

    /* The sweeps came with schema 3; their view must work too. */
    sqlite3 *s = bp_runlog_sqlite(log);
    sqlite3_stmt *st;
    has_sweeps =
        sqlite3_prepare_v2(s, "SELECT id FROM sweeps", -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    if (has_sweeps &&
        sqlite3_prepare_v2(s, "SELECT * FROM sweep_trials", -1, &st, NULL)) {
        printf("test_plot: the view sweep_trials does not work with this SQLite (%s): %s;"
               " sweep plots not tested\n",
               sqlite3_libversion(), sqlite3_errmsg(s));
        has_sweeps = -1;
    }
    sqlite3_finalize(st);
    if (has_sweeps > 0) {
        CHECK(
            sqlite3_exec(s,
                         "INSERT INTO sweeps(id, uid, name, spec, keys, strategy, trials,"
                         " seed, objective, direction, status, started) VALUES (1, 'u1',"
                         " 'lr-search', 'lr=... act=...', 'lr act', 'grid', 6, 0, 'loss',"
                         " 'min', 'completed', 0)",
                         NULL, NULL, NULL) == SQLITE_OK);
        /* trial: lr, act, last loss, status */
        static const struct {
            double lr;
            const char *act, *status;
            double loss;
        } t[6] = {{0.001, "tanh", "completed", 0.5}, {0.01, "relu", "completed", 0.05},
                  {0.1, "tanh", "completed", 0.2},   {1, "relu", "pruned", 0.9},
                  {0.3, "relu", "failed", 0.7},      {0.03, "tanh", "completed", NAN}};
        for (int k = 0; k < 6; k++) {
            int64_t r = bp_runlog_begin(
                log, &(bp_run_info){.name = "lr-search", .sweep_id = 1, .trial = k}, &e);
            bp_runlog_param_real(log, r, "lr", t[k].lr, &e);
            bp_runlog_param_text(log, r, "act", t[k].act, &e);
            bp_runlog_metric(log, r, "loss", 1, 1.0, &e);
            bp_runlog_metric(log, r, "loss", 2, t[k].loss, &e);
            bp_runlog_end(log, r, t[k].status, NULL, NULL, &e);
        }
        /* Sweep 2, of lr alone, its trials not in lr's order. */
        CHECK(sqlite3_exec(
                  s,
                  "INSERT INTO sweeps(id, uid, name, spec, keys, strategy, trials,"
                  " seed, objective, direction, status, started) VALUES (2, 'u2',"
                  " 'lr-only', 'lr=0.2,0.1,0.4', 'lr', 'grid', 3, 0, 'loss', 'min',"
                  " 'completed', 0)",
                  NULL, NULL, NULL) == SQLITE_OK);
        static const double lr[3] = {0.2, 0.1, 0.4}, loss[3] = {0.3, 0.5, 0.1};
        for (int k = 0; k < 3; k++) {
            int64_t r = bp_runlog_begin(
                log, &(bp_run_info){.name = "lr-only", .sweep_id = 2, .trial = k}, &e);
            bp_runlog_param_real(log, r, "lr", lr[k], &e);
            bp_runlog_metric(log, r, "loss", 1, loss[k], &e);
            bp_runlog_end(log, r, "completed", NULL, NULL, &e);
        }
    }
    CHECK(e.msg[0] == '\0');
    if (e.msg[0]) fprintf(stderr, "fill: %s\n", e.msg);
    bp_runlog_close(log);
}

/* ------------------------------------------------------------------------ */
/* The tests                                                                 */

static void test_png(void) {
    const char *err, *leak;
    CHECK(plot(&err, &leak, "1", "--db", db, "-o", path_in("one.png"), NULL) == 0);
    CHECK_STR(err, "");
    CHECK_STR(leak, ""); /* PLplot printed nothing */
    size_t n;
    unsigned char *p = slurp(path_in("one.png"), &n);
    int w = 0, h = 0;
    unsigned char *rgb = p ? png_rgb(p, n, &w, &h) : NULL;
    CHECK(rgb != NULL);
    CHECK(w == 800 && h == 500); /* the default size */
    CHECK_STR(png_itxt(p, n, "Title"), "loss of run 1");
    CHECK_STR(png_itxt(p, n, "Description"), "run 1 xor (hidden=4 lr=0.5)");
    /* A curve 2 px wide across the plot: hundreds of pixels of its colour
     * exactly; no pixel of the second series' colour. */
    CHECK(count_rgb(rgb, w, h, BLUE[0], BLUE[1], BLUE[2]) > 300);
    CHECK(count_rgb(rgb, w, h, ORANGE[0], ORANGE[1], ORANGE[2]) == 0);
    CHECK(count_rgb(rgb, w, h, 255, 255, 255) > w * h / 2); /* a white page */
    free(rgb), free(p);

    /* Two runs overlaid, another size, log y: both colours, not a third. */
    CHECK(plot(&err, NULL, "1", "2", "--log-y", "--size", "640x400", "--db", db, "-o",
               path_in("two.PNG"), NULL) == 0);
    CHECK_STR(err, "");
    p = slurp(path_in("two.PNG"), &n);
    rgb = p ? png_rgb(p, n, &w, &h) : NULL;
    CHECK(rgb != NULL && w == 640 && h == 400);
    CHECK(count_rgb(rgb, w, h, BLUE[0], BLUE[1], BLUE[2]) > 200);
    CHECK(count_rgb(rgb, w, h, ORANGE[0], ORANGE[1], ORANGE[2]) > 200);
    CHECK(count_rgb(rgb, w, h, GREEN[0], GREEN[1], GREEN[2]) == 0);
    CHECK_STR(
        png_itxt(p, n, "Description"),
        "run 1 xor (hidden=4)\n"
        "run 2 wide (hidden=16), diverged, 2 NaN/inf and 1 <= 0 (log axis) not drawn\n"
        "all: lr=0.5");
    free(rgb), free(p);

    /* Another metric, a title with PLplot's escape character. */
    CHECK(plot(&err, NULL, "1", "--metric", "accuracy", "--title", "#1 acc", "--db", db,
               "-o", path_in("acc.png"), NULL) == 0);
    p = slurp(path_in("acc.png"), &n);
    CHECK(p && png_check(p, n, &w, &h) == 0);
    CHECK_STR(p ? png_itxt(p, n, "Title") : NULL, "#1 acc");
    free(p);
}

static void test_svg(void) {
    const char *err;
    CHECK(plot(&err, NULL, "1", "2", "--db", db, "--size", "900x600", "-o",
               path_in("two.svg"), NULL) == 0);
    CHECK_STR(err, "");
    size_t n;
    char *svg = (char *)slurp(path_in("two.svg"), &n);
    CHECK(svg != NULL);
    if (!svg) return;
    CHECK(strncmp(svg, "<?xml", 5) == 0);
    const char *tag = strstr(svg, "<svg");
    CHECK(tag && strstr(tag, "width=\"900pt\" height=\"600pt\"") < strchr(tag, '>'));
    CHECK(strstr(svg, "<title>loss of runs 1, 2</title>") != NULL);
    CHECK(strstr(svg, "<desc>run 1 xor (hidden=4)\n"
                      "run 2 wide (hidden=16), diverged, 2 NaN/inf not drawn\n"
                      "all: lr=0.5</desc>") != NULL);
    CHECK(strstr(svg, "</svg>") != NULL);
    /* Run 1: 40 points in one line, steps 1 to 40. Run 2: 30 points less
     * the NaN at 10 and the Inf at 20 (its 0 is drawn, on a linear axis):
     * three lines, 1-9, 11-19 and 21-30. No third series. */
    curve b = svg_curve(svg, BLUE), o = svg_curve(svg, ORANGE), g = svg_curve(svg, GREEN);
    CHECK(b.segments == 1 && b.vertices <= 40 && b.vertices >= 30);
    CHECK(o.segments == 3 && o.vertices <= 28 && o.vertices >= 20);
    CHECK(g.segments == 0 && g.vertices == 0);
    static const int ends[3][2] = {{1, 9}, {11, 19}, {21, 30}};
    for (int k = 0; k < 3; k++) {
        CHECK(at_step(o.x0[k], ends[k][0], 1, 40, b.x0[0], b.x1[0]));
        CHECK(at_step(o.x1[k], ends[k][1], 1, 40, b.x0[0], b.x1[0]));
    }
    free(svg);

    /* --log-y leaves the 0 out too, and breaks the line there: 1-9, 11-19,
     * 21-24, 26-30. */
    CHECK(plot(&err, NULL, "2", "--log-y", "--db", db, "-o", path_in("log.svg"), NULL) ==
          0);
    svg = (char *)slurp(path_in("log.svg"), &n);
    CHECK(svg && strstr(svg, "<desc>run 2 wide (hidden=16 lr=0.5), diverged,"
                             " 2 NaN/inf and 1 &lt;= 0 (log axis) not drawn</desc>"));
    b = svg_curve(svg, BLUE);
    CHECK(b.segments == 4 && b.vertices <= 27 && b.vertices >= 20);
    static const int log_ends[4][2] = {{1, 9}, {11, 19}, {21, 24}, {26, 30}};
    for (int k = 0; k < 4 && b.segments == 4; k++) {
        CHECK(at_step(b.x0[k], log_ends[k][0], 1, 30, b.x0[0], b.x1[3]));
        CHECK(at_step(b.x1[k], log_ends[k][1], 1, 30, b.x0[0], b.x1[3]));
    }
    free(svg);
}

/* A database made by the host itself: `backprop run scripts/xor.lua`. */
static void test_real_run(void) {
    const char *bin = getenv("BP_BINARY_DIR"), *src = getenv("BP_SOURCE_DIR");
    char exe[512], cmd[2048];
    snprintf(exe, sizeof exe, "%s/backprop", bin ? bin : ".");
    if (!bin || !src || access(exe, X_OK) != 0) {
        printf("test_plot: no backprop host at %s; the real run is not plotted\n", exe);
        return;
    }
    snprintf(cmd, sizeof cmd, "cd %s && %s run --db %s scripts/xor.lua >/dev/null 2>&1",
             src, exe, path_in("real.db"));
    CHECK(system(cmd) == 0);
    const char *err;
    CHECK(plot(&err, NULL, "1", "--db", path_in("real.db"), "-o", path_in("real.svg"),
               NULL) == 0);
    CHECK_STR(err, "");
    sqlite3 *s;
    sqlite3_stmt *st;
    int steps = 0;
    if (sqlite3_open(path_in("real.db"), &s) == SQLITE_OK &&
        sqlite3_prepare_v2(s, "SELECT count(*) FROM loss_curve WHERE run_id = 1", -1, &st,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) steps = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(s);
    size_t n;
    char *svg = (char *)slurp(path_in("real.svg"), &n);
    curve b = svg_curve(svg, BLUE);
    CHECK(steps > 100 && b.segments == 1 && b.vertices <= steps &&
          b.vertices >= steps / 2);
    CHECK(svg &&
          strstr(svg, "<desc>run 1 xor (hidden=4 lr=0.5 steps=5000 target=0.01)</desc>"));
    free(svg);
}

static void test_sweep(void) {
    const char *err;
    if (!has_sweeps)
        printf("test_plot: the run log has no sweeps; sweep plots not tested\n");
    if (has_sweeps <= 0) return;
    CHECK(plot(&err, NULL, "--sweep", "1", "--param", "lr", "--log-x", "--db", db, "-o",
               path_in("sweep.svg"), NULL) == 0);
    CHECK_STR(err, "");
    size_t n;
    char *svg = (char *)slurp(path_in("sweep.svg"), &n);
    CHECK(svg && strstr(svg, "<title>sweep 1 lr-search: loss (min) against lr</title>"));
    CHECK(svg &&
          strstr(svg,
                 "<desc>completed trials (3)\n"
                 "pruned trials, objective when stopped (1)\n"
                 "best: trial 1, lr=0.01, loss 0.05\n"
                 "not drawn: 1 failed or unfinished, 1 without an objective</desc>"));
    /* Points, not joined: act is swept too. */
    curve b = svg_curve(svg, BLUE);
    CHECK(b.segments == 0 && b.vertices == 0);
    free(svg);

    /* A sweep of lr alone: its points joined by a line, in lr's order. */
    CHECK(plot(&err, NULL, "--sweep", "2", "--param", "lr", "--db", db, "-o",
               path_in("sweep2.svg"), NULL) == 0);
    svg = (char *)slurp(path_in("sweep2.svg"), &n);
    CHECK(svg &&
          strstr(svg,
                 "<desc>completed trials (3)\nbest: trial 2, lr=0.4, loss 0.1</desc>"));
    b = svg_curve(svg, BLUE);
    CHECK(b.segments == 1 && b.vertices == 3);
    CHECK(b.x0[0] == b.xmin); /* from lr 0.1 on, though trial 0 had lr 0.2 */
    free(svg);

    /* A text parameter: one column per value. */
    CHECK(plot(&err, NULL, "--sweep", "1", "--param", "act", "--db", db, "-o",
               path_in("act.png"), NULL) == 0);
    CHECK_STR(err, "");
    unsigned char *p = slurp(path_in("act.png"), &n);
    int w, h;
    unsigned char *rgb = p ? png_rgb(p, n, &w, &h) : NULL;
    CHECK(rgb && w == 800 && h == 500);
    CHECK_STR(p ? png_itxt(p, n, "Description") : NULL,
              "completed trials (3)\npruned trials, objective when stopped (1)\n"
              "best: trial 1, act=relu, loss 0.05\n"
              "not drawn: 1 failed or unfinished, 1 without an objective");
    CHECK(count_rgb(rgb, w, h, RED[0], RED[1], RED[2]) > 20); /* the best trial's star */
    free(rgb), free(p);

    CHECK(plot(&err, NULL, "--sweep", "1", "--param", "nope", "--db", db, "-o",
               path_in("x.png"), NULL) == 1);
    CHECK_STR(
        err,
        "backprop: sweep 1 (lr-search) has no parameter 'nope' (it sweeps: lr act)\n");
    CHECK(plot(&err, NULL, "--sweep", "1", "--param", "act", "--log-x", "--db", db, "-o",
               path_in("x.png"), NULL) == 1);
    CHECK_STR(err,
              "backprop: plot: --log-x: parameter 'act' of sweep 1 is not a number\n");
    CHECK(plot(&err, NULL, "--sweep", "7", "--param", "lr", "--db", db, "-o",
               path_in("x.png"), NULL) == 1);
    char want[512];
    snprintf(want, sizeof want, "backprop: %s: no sweep 7\n", db);
    CHECK_STR(err, want);
}

static void test_errors(void) {
    const char *err;
    char want[512];
    CHECK(plot(&err, NULL, "99", "--db", db, "-o", path_in("x.png"), NULL) == 1);
    snprintf(want, sizeof want, "backprop: %s: no run 99\n", db);
    CHECK_STR(err, want);
    CHECK(plot(&err, NULL, "1", "--metric", "acc", "--db", db, "-o", path_in("x.png"),
               NULL) == 1);
    CHECK_STR(err,
              "backprop: run 1 (xor) has no metric 'acc' (it has: accuracy, loss)\n");
    CHECK(plot(&err, NULL, "1", "3", "--db", db, "-o", path_in("x.png"), NULL) == 1);
    CHECK_STR(err, "backprop: run 3 (empty) has no metric 'loss' (it logged none)\n");
    CHECK(plot(&err, NULL, "4", "--db", db, "-o", path_in("x.png"), NULL) == 1);
    CHECK_STR(
        err, "backprop: plot: nothing to draw: every value of loss is NaN or infinite\n");
    CHECK(plot(&err, NULL, "1", "--db", db, NULL) == 1);
    CHECK_STR(err, "backprop: plot: no output file: -o FILE.png or -o FILE.svg\n");
    CHECK(plot(&err, NULL, "1", "--db", db, "-o", path_in("x.pdf"), NULL) == 1);
    snprintf(
        want, sizeof want,
        "backprop: plot: cannot tell the format of '%s': FILE must end in .png or .svg\n",
        path_in("x.pdf"));
    CHECK_STR(err, want);
    CHECK(plot(&err, NULL, "1", "--db", path_in("none.db"), "-o", path_in("x.png"),
               NULL) == 1);
    snprintf(want, sizeof want, "backprop: %s: no such database\n", path_in("none.db"));
    CHECK_STR(err, want);
    CHECK(access(path_in("none.db"), F_OK) != 0); /* not created */
    CHECK(plot(&err, NULL, "1", "--db", db, "-o", path_in("no/such/dir/x.png"), NULL) ==
          1);
    snprintf(want, sizeof want,
             "backprop: %s: cannot write (No such file or directory)\n",
             path_in("no/such/dir/x.png"));
    CHECK_STR(err, want);
    CHECK(plot(&err, NULL, "1", "--size", "80x50", "--db", db, "-o", path_in("x.png"),
               NULL) == 1);
    CHECK_STR(
        err, "backprop: plot: --size wants WIDTHxHEIGHT, each 200 to 10000, e.g. 800x500,"
             " not '80x50'\n");
    CHECK(plot(&err, NULL, "one", "-o", path_in("x.png"), NULL) == 1);
    CHECK_STR(err, "backprop: plot: 'one' is not a run id\n");
    CHECK(plot(&err, NULL, "1", "--color", "-o", path_in("x.png"), NULL) == 1);
    CHECK_STR(err, "backprop: plot: unknown option '--color' (see backprop --help)\n");
    CHECK(plot(&err, NULL, "1", "1", "-o", path_in("x.png"), NULL) == 1);
    CHECK_STR(err, "backprop: plot: run 1 is given twice\n");
    CHECK(plot(&err, NULL, "-o", path_in("x.png"), NULL) == 1);
    CHECK_STR(err, "backprop: plot wants run ids or --sweep ID, e.g. backprop plot 1 2 -o"
                   " loss.png\n");
    CHECK(plot(&err, NULL, "1", "--metric", NULL) == 1);
    CHECK_STR(err, "backprop: plot: --metric wants a value\n");
    CHECK(plot(&err, NULL, "--sweep", "1", "-o", path_in("x.png"), NULL) == 1);
    CHECK_STR(
        err, "backprop: plot: --sweep wants --param KEY, the parameter for the x axis\n");
    CHECK(plot(&err, NULL, "1", "--param", "lr", "-o", path_in("x.png"), NULL) == 1);
    CHECK_STR(err, "backprop: plot: --param goes with --sweep ID\n");
    CHECK(plot(&err, NULL, "1", "--sweep", "1", "--param", "lr", "-o", path_in("x.png"),
               NULL) == 1);
    CHECK_STR(err, "backprop: plot: give run ids or --sweep ID, not both\n");
    CHECK(access(path_in("x.png"), F_OK) != 0); /* no error left a picture */

    /* An error leaves the file that was there as it was, and no temporary
     * file beside it. */
    FILE *f = fopen(path_in("keep.png"), "w");
    if (f) fputs("mine", f), fclose(f);
    CHECK(plot(&err, NULL, "99", "--db", db, "-o", path_in("keep.png"), NULL) == 1);
    size_t n;
    char *kept = (char *)slurp(path_in("keep.png"), &n);
    CHECK_STR(kept, "mine");
    free(kept);
    char cmd[256], out[64] = "";
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp", dir);
    FILE *ls = popen(cmd, "r");
    if (ls) {
        if (!fgets(out, sizeof out, ls)) out[0] = '\0';
        pclose(ls);
    }
    CHECK_STR(out, "0\n");
}

/* TensorBoard's smoothing against a hand computation. */
static void test_smooth(void) {
    /* w = 0.5 over 1, 3, NaN, 2, inf:
     *   last = 0.5 * 0 + 0.5 * 1 = 0.5,    / (1 - 0.5)   = 1
     *   last = 0.25 + 1.5 = 1.75,          / (1 - 0.25)  = 7/3
     *   NaN passes, the average stays
     *   last = 0.875 + 1 = 1.875,          / (1 - 0.125) = 15/7
     *   inf passes too. */
    const double in[5] = {1, 3, NAN, 2, INFINITY};
    double out[5];
    plot_smooth(out, in, 5, 0.5);
    CHECK(out[0] == 1);
    CHECK_NEAR(out[1], 7.0 / 3, 1e-15);
    CHECK(isnan(out[2]));
    CHECK_NEAR(out[3], 15.0 / 7, 1e-15);
    CHECK(isinf(out[4]) && out[4] > 0);
    /* w = 0.9 over 2, 4: 0.2 / 0.1 = 2, then (0.18 + 0.4) / 0.19 = 58/19. */
    const double two[2] = {2, 4};
    plot_smooth(out, two, 2, 0.9);
    CHECK_NEAR(out[0], 2, 1e-15);
    CHECK_NEAR(out[1], 58.0 / 19, 1e-14);
    /* 0 is no smoothing, bit for bit; in place works; a constant stays. */
    double v[4] = {0.3, 0.1, 0.7, 1e-300};
    plot_smooth(v, v, 4, 0);
    CHECK(v[0] == 0.3 && v[1] == 0.1 && v[2] == 0.7 && v[3] == 1e-300);
    double c[50];
    for (int k = 0; k < 50; k++) c[k] = 5;
    plot_smooth(c, c, 50, 0.99);
    for (int k = 0; k < 50; k++) CHECK_NEAR(c[k], 5, 1e-12);
}

/* The x axis' kinds and their functions. */
static void test_axis(void) {
    CHECK(plot_naxes == 3);
    CHECK(plot_axis_find("step") == &plot_axes[0]);
    CHECK(plot_axis_find("epoch") == &plot_axes[1]);
    CHECK(plot_axis_find("time") == &plot_axes[2]);
    CHECK(plot_axis_find("batch") == NULL && plot_axis_find("") == NULL);
    char names[64];
    plot_axis_names(names, sizeof names);
    CHECK_STR(names, "step, epoch or time");
    /* time, of a series with no times recorded: at a steady pace */
    plot_axis_ctx c = {.seconds = 12.5, .last_step = 50, .time = {.duration = 12.5, .last_step = 50}};
    CHECK(plot_axes[0].x(&c, 7) == 7);
    CHECK(plot_axes[2].x(&c, 50) == 12.5); /* the last step at the end */
    CHECK(plot_axes[2].x(&c, 20) == 5);    /* 12.5 * 20 / 50 */
    CHECK(plot_axes[2].x(&c, 0) == 0);
    /* epoch: epochs 1, 2, 3 ended after 10, 20 and 30 steps; a step is the
     * epoch it falls in and how far through; past the last end the last
     * epoch's length goes on; epochs of unequal length each their own */
    const int64_t ep[] = {1, 2, 3}, end[] = {10, 20, 30}, uneven[] = {4, 10};
    CHECK(plot_epoch_x(ep, end, 3, 10) == 1);
    CHECK(plot_epoch_x(ep, end, 3, 5) == 0.5);
    CHECK(plot_epoch_x(ep, end, 3, 15) == 1.5);
    CHECK(plot_epoch_x(ep, end, 3, 30) == 3);
    CHECK(plot_epoch_x(ep, end, 3, 35) == 3.5);
    CHECK(plot_epoch_x(ep, end, 3, 0) == 0);
    CHECK(plot_epoch_x(ep, uneven, 2, 2) == 0.5);  /* 2 of epoch 1's 4 */
    CHECK(plot_epoch_x(ep, uneven, 2, 7) == 1.5);  /* 3 of epoch 2's 6 */
    CHECK(plot_epoch_x(ep, uneven, 2, 13) == 2.5); /* on at epoch 2's length, 6 */
    plot_axis_ctx pe = {.per_epoch = 1}; /* a per-epoch series: its step */
    CHECK(plot_axes[1].x(&pe, 4) == 4);
    CHECK(bp_time_axis_at(&(bp_time_axis){.duration = 30}, 5) == 0); /* no steps: the start */
    const char *unit;
    CHECK(plot_time_unit(179, &unit) == 1 && !strcmp(unit, "s"));
    CHECK(plot_time_unit(180, &unit) == 60 && !strcmp(unit, "min"));
    CHECK(plot_time_unit(3 * 3600, &unit) == 3600 && !strcmp(unit, "h"));
}

/* --metric twice, --smooth, --x time, end to end; the options' errors. */
static void test_options(void) {
    const char *err;
    size_t n;
    CHECK(plot(&err, NULL, "1", "--metric", "loss", "--metric", "accuracy", "--db", db, "-o",
               path_in("both.png"), NULL) == 0);
    CHECK_STR(err, "");
    unsigned char *p = slurp(path_in("both.png"), &n);
    int w = 0, h = 0;
    unsigned char *rgb = p ? png_rgb(p, n, &w, &h) : NULL;
    CHECK_STR(p ? png_itxt(p, n, "Title") : NULL, "loss, accuracy of run 1");
    CHECK_STR(p ? png_itxt(p, n, "Description") : NULL,
              "run 1: loss\nrun 1: accuracy\nrun 1 xor (hidden=4 lr=0.5)");
    CHECK(count_rgb(rgb, w, h, BLUE[0], BLUE[1], BLUE[2]) > 300);
    CHECK(count_rgb(rgb, w, h, ORANGE[0], ORANGE[1], ORANGE[2]) > 300);
    free(rgb), free(p);
    /* Two runs, two metrics: an entry each, colours by run. */
    CHECK(plot(&err, NULL, "1", "2", "--metric", "loss", "--metric", "accuracy", "--db", db,
               "-o", path_in("x.png"), NULL) == 1);
    CHECK_STR(err, "backprop: run 2 (wide) has no metric 'accuracy' (it has: loss)\n");
    /* Smoothed: the raw points behind have no entry. */
    CHECK(plot(&err, NULL, "2", "--smooth", "0.6", "--db", db, "-o", path_in("smooth.png"),
               NULL) == 0);
    p = slurp(path_in("smooth.png"), &n);
    CHECK_STR(p ? png_itxt(p, n, "Title") : NULL, "loss of run 2, smoothed (0.6)");
    CHECK_STR(p ? png_itxt(p, n, "Description") : NULL,
              "run 2 wide (hidden=16 lr=0.5), diverged, 2 NaN/inf not drawn");
    free(p);

    /* --x time: run 1 ran 80 s over 40 steps, run 2 30 s over 30 steps,
     * with no times recorded (as runs before schema 12): the curves end
     * where those times are, run 2's first point (1 s) the axis' least x:
     * (30 - 1) / (80 - 1) of the way, where the steps put it at (30 - 1) /
     * (40 - 1). */
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    CHECK(log && sqlite3_exec(bp_runlog_sqlite(log),
                              "UPDATE runs SET started = 1000, ended = 1080 WHERE id = 1;"
                              "UPDATE runs SET started = 2000, ended = 2030 WHERE id = 2;"
                              "DELETE FROM step_times WHERE run_id IN (1, 2)",
                              NULL, NULL, NULL) == SQLITE_OK);
    bp_runlog_close(log);
    static const char *const kinds[2] = {"step", "time"};
    static const double where[2] = {29.0 / 39, 29.0 / 79};
    for (int k = 0; k < 2; k++) {
        CHECK(plot(&err, NULL, "1", "2", "--x", kinds[k], "--db", db, "-o",
                   path_in("time.svg"), NULL) == 0);
        char *svg = (char *)slurp(path_in("time.svg"), &n);
        curve b = svg_curve(svg ? svg : "", BLUE), o = svg_curve(svg ? svg : "", ORANGE);
        double x0 = fmin(b.xmin, o.xmin), frac = (o.x1[o.segments - 1] - x0) / (b.x1[0] - x0);
        CHECK_NEAR(frac, where[k], 2e-3);
        /* The legend is below every curve, outside the plot. */
        CHECK(b.legend_y < b.ymin - 30 && o.legend_y < b.ymin - 30);
        CHECK(o.legend_y < o.ymin - 30 && b.legend_y < o.ymin - 30);
        free(svg);
    }

    static const struct {
        const char *opt, *value, *msg;
    } bad[] = {
        {"--x", "batch", "plot: unknown --x kind 'batch' (expected step, epoch or time)"},
        {"--smooth", "1", "plot: --smooth wants a weight from 0 (no smoothing) up to but not"
                          " 1, as TensorBoard's slider (0.6, 0.9, 0.99), not '1'"},
        {"--smooth", "-0.1", "plot: --smooth wants a weight from 0 (no smoothing) up to but"
                             " not 1, as TensorBoard's slider (0.6, 0.9, 0.99), not '-0.1'"},
        {"--smooth", "0.5x", "plot: --smooth wants a weight from 0 (no smoothing) up to but"
                             " not 1, as TensorBoard's slider (0.6, 0.9, 0.99), not '0.5x'"},
        {"--smooth", "nan", "plot: --smooth wants a weight from 0 (no smoothing) up to but"
                            " not 1, as TensorBoard's slider (0.6, 0.9, 0.99), not 'nan'"},
        {"--metric", "loss", "plot: --metric loss is given twice"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char want[256];
        CHECK(plot(&err, NULL, "1", "--metric", "loss", bad[k].opt, bad[k].value, "--db", db,
                   "-o", path_in("x.png"), NULL) == 1);
        snprintf(want, sizeof want, "backprop: %s\n", bad[k].msg);
        CHECK_STR(err, want);
    }
    CHECK(plot(&err, NULL, "1", "--x", NULL) == 1);
    CHECK_STR(err, "backprop: plot: --x wants a value\n");
    CHECK(plot(&err, NULL, "--sweep", "1", "--param", "lr", "--x", "time", "-o",
               path_in("x.png"), NULL) == 1);
    CHECK_STR(err, "backprop: plot: --x is for runs; a sweep's x axis is --param KEY\n");
    CHECK(plot(&err, NULL, "--sweep", "1", "--param", "lr", "--smooth", "0.5", "-o",
               path_in("x.png"), NULL) == 1);
    CHECK_STR(err, "backprop: plot: --smooth is for runs; a sweep's x axis is --param KEY\n");
    CHECK(access(path_in("x.png"), F_OK) != 0);
}

/* --x time against the times recorded (bp_runlog_time_axis): run 1's loss
 * (steps 1 to 40, run from 1000 to 1080 as test_options left it) drawn
 * at a steady pace while it has no step_times, its axis saying so; then
 * with steps 10 and 30 recorded at 10 s and 70 s (3 s a step between
 * them): step 20 at 40 s, step 8 back along that pace at 4 s, step 5 not
 * before the start (0), step 32 at 76 s, step 35 not past the end (80). */
static void test_time_axis(void) {
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    CHECK(log != NULL);
    if (!log) return;
    int64_t runs[] = {1};
    const char *metrics[] = {"loss"};
    options o = {.metrics = metrics, .nmetrics = 1, .axis = plot_axis_find("time"),
                 .runs = runs, .nruns = 1};
    static const int steps[] = {5, 8, 20, 32, 35, 40};
    static const double steady[] = {10, 16, 40, 64, 70, 80}, recorded[] = {0, 4, 40, 76, 80, 80};
    for (int pass = 0; pass < 2; pass++) {
        figure f = {0};
        CHECK(plot_read_runs(log, &o, &f, stderr) == 0);
        CHECK_STR(f.xlabel, pass ? "time since the run began (s)"
                                 : "time since the run began (s; estimated from the run's"
                                   " start and end)");
        CHECK(f.ns == 1 && f.s[0].n == 40);
        for (size_t k = 0; f.ns == 1 && f.s[0].n == 40 && k < 6; k++)
            CHECK_NEAR(f.s[0].x[steps[k] - 1], pass ? recorded[k] : steady[k], 1e-9);
        plot_figure_free(&f);
        CHECK(pass || sqlite3_exec(bp_runlog_sqlite(log),
                           "INSERT INTO step_times(run_id, name_id, step, time) SELECT 1, id,"
                           " 10, 1010 FROM metric_names WHERE name = 'loss' UNION ALL"
                           " SELECT 1, id, 30, 1070 FROM metric_names WHERE name = 'loss'",
                           NULL, NULL, NULL) == SQLITE_OK);
    }
    bp_runlog_close(log);
}

/* `plot 1 -o drv.png` in a new process (this program again, with
 * --child) whose PLplot loads its drivers from drv (PLPLOT_DRV_DIR): PLplot
 * reads its driver table once, so it must be a process of its own. Returns
 * what bp_plot_main printed, then "returned N" if it returned (rather than
 * PLplot ending the process), then what reached the child's stderr behind
 * its back, if anything. */
static const char *plot_with_drivers(const char *drv) {
    static char buf[2048];
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("PLPLOT_DRV_DIR", drv, 1);
        int fd = open(path_in("child_stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        execl("/proc/self/exe", "test_plot", "--child", dir, (char *)NULL);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return "no child";
    size_t n;
    char *got = (char *)slurp(path_in("child.txt"), &n);
    char *leak = (char *)slurp(path_in("child_stderr.txt"), &n);
    snprintf(buf, sizeof buf, "%s%s", got ? got : "(nothing)\n", leak ? leak : "");
    free(got), free(leak);
    remove(path_in("child.txt"));
    return buf;
}

static int child(void) {
    char *ebuf;
    size_t en;
    FILE *e = open_memstream(&ebuf, &en);
    char *argv[] = {"1", "--db", db, "-o", (char *)path_in("drv.png")};
    int rc = bp_plot_main(5, argv, stdout, e);
    fclose(e);
    FILE *r = fopen(path_in("child.txt"), "w");
    if (r) fprintf(r, "%sreturned %d\n", ebuf, rc), fclose(r);
    free(ebuf);
    return 0;
}

/* PLplot without its drivers: no directory (a warning it would print),
 * an empty one (a fatal error it would exit on), one without cairo (a
 * device it would ask for on stdin). Each becomes our error. */
static void test_plplot_failures(void) {
    char want[512], empty[300], svg_only[300];
    snprintf(empty, sizeof empty, "%s", path_in("drivers-none"));
    snprintf(svg_only, sizeof svg_only, "%s", path_in("drivers-svg"));
    mkdir(empty, 0700);
    mkdir(svg_only, 0700);
    snprintf(want, sizeof want,
             "backprop: %s: PLplot has no pngcairo driver: plInitDispatchTable: Could not"
             " open drivers directory (is plplot-driver-cairo installed?)\nreturned 1\n",
             path_in("drv.png"));
    CHECK_STR(plot_with_drivers(path_in("no-such-dir")), want);
    snprintf(want, sizeof want,
             "backprop: %s: PLplot failed: No device drivers found - please check the"
             " environment variable PLPLOT_DRV_DIR\nreturned 1\n",
             path_in("drv.png"));
    CHECK_STR(plot_with_drivers(empty), want);
    /* PLplot's own SVG driver, not cairo's: copied from where it is. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cp $(pkg-config --variable=libdir plplot)/plplot*/drivers/svg.*"
             " %s/ 2>/dev/null",
             svg_only);
    if (system(cmd) == 0) {
        snprintf(want, sizeof want,
                 "backprop: %s: PLplot has no pngcairo driver (is plplot-driver-cairo"
                 " installed?)\nreturned 1\n",
                 path_in("drv.png"));
        CHECK_STR(plot_with_drivers(svg_only), want);
    }
    CHECK(access(path_in("drv.png"), F_OK) != 0);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--child")) { /* plot_with_drivers */
        snprintf(dir, sizeof dir, "%s", argv[2]);
        snprintf(db, sizeof db, "%s/runs.db", dir);
        return child();
    }
    snprintf(dir, sizeof dir, "/tmp/test_plot_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(db, sizeof db, "%s/runs.db", dir);
    fill();
    test_png();
    test_svg();
    test_real_run();
    test_sweep();
    test_errors();
    test_smooth();
    test_axis();
    test_options();
    test_time_axis();
    test_plplot_failures();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (check_failures == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_plot");
}
