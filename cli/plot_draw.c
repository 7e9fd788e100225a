/* plot_draw.c: the figure drawn by PLplot (plot_int.h), into memory.
 *
 * PLplot draws the axes, ticks, labels and legend, and its cairo drivers
 * (pngcairo, svgcairo) render them with real fonts and anti-aliasing. It is
 * made for interactive programs: left to itself it asks on stdin for a file
 * name it cannot open or a device it does not know, prints its warnings to
 * stderr, and calls exit() on a fatal error. So it never opens a file
 * (plsfile hands it a stream that collects the bytes in memory); the device
 * is looked up in plgFileDevs before it is asked for; plsError keeps its
 * warnings and plsabort the first of them, which becomes our error; and
 * plsexit's handler longjmps back to render() (PLplot's own way: plexit
 * exits only if the handler returns), which reports the message as ours.
 *
 * The legend goes below the plot, outside it, so that it never covers a
 * curve, a tick or an axis' label: the curves' entries in as many columns
 * as the page's width holds, then the words-only entries (the parameters
 * all runs share) in a line of their own beneath, so that a long one does
 * not make every column wide. The plot is shortened by the legend's
 * height. PLplot tells a legend's size only once it has drawn it, so the
 * picture is drawn once to measure, then again with the plot made room for
 * (a few times at most, while the sizes settle, text made smaller when
 * many entries would take more than two fifths of the page, or the
 * columns a little more than its width). A render
 * takes milliseconds.
 *
 * PLplot keeps its state in globals (streams, and the handlers above): one
 * plot at a time, from one thread. */
#define _GNU_SOURCE /* fopencookie: a stream whose closing we can see */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <plplot.h>

#include "plot_int.h"

/* The colour map (cmap0). Ten distinct colours for the series (matplotlib's
 * "tab10"); past ten, the colours repeat with another line style. */
static const unsigned char palette[C_FAINT][3] = {
    {255, 255, 255}, {38, 38, 38},    {229, 229, 229}, {140, 140, 140}, {255, 255, 255},
    {31, 119, 180},  {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},   {227, 119, 194}, {127, 127, 127}, {188, 189, 34},  {23, 190, 207}};

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
    b[0] = x0, b[1] = x1;
    if (f->pad_x && !f->ncategory) b[0] -= dx, b[1] += dx;
}

/* How the legend is laid out, and what a render measured of it: the
 * heights and widths are fractions of the page (PLplot's subpage). */
typedef struct layout {
    double scale;             /* the legend's text size */
    double words_scale;       /* the words' (smaller when a line is too wide) */
    int ncol;                 /* columns of curves' entries */
    double curves_h, words_h; /* the two parts' heights, as last measured */
    double curves_w, words_w; /* the parts' widths */
} layout;

#define Y_LABEL_ROOM 0.02 /* more left margin than plvsta's, a fraction of the page */
#define Y_LABEL_DISP 6.2  /* the y label's distance from the axis, in characters */
#define LEGEND_GAP 0.015 /* between the page's bottom, the legend and the plot */

/* The axes, their grid and labels, above a legend `below` high (a
 * fraction of the page); -1 when memory runs out. */
static int draw_axes(figure *f, double below) {
    double b[4], x0, x1, y0, y1;
    bounds(f, b);
    pladv(0);
    plvsta(); /* PLplot's margins for the labels, then room for the legend */
    plgvpd(&x0, &x1, &y0, &y1);
    /* room on the left for tick labels five digits wide ("0.997") beside
     * the y axis' label, which PLplot's own place (pllab) would cross */
    plvpor(x0 + Y_LABEL_ROOM, x1, below > 0 ? fmin(y0 + below, y1 - 0.2) : y0, y1);
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
    if (title && xl && yl) {
        pllab(xl, "", title);
        plmtex("l", Y_LABEL_DISP, 0.5, 0.5, yl);
    }
    free(title), free(xl), free(yl);
    return title && xl && yl ? 0 : -1;
}

/* Each series' curve, broken where a value was left out, and markers. */
static void draw_series(const figure *f) {
    for (int k = 0; k < f->ns; k++) {
        const series *s = &f->s[k];
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
}

/* One part of the legend: the series with a legend entry that are curves
 * (words 0) or words alone (words 1), in ncol columns, its bottom `up`
 * above the page's bottom; *w and *h get its size. -1 when memory runs
 * out; 0 with *h 0 when the part has no entry. */
static int draw_legend_part(const figure *f, int words, int ncol, double scale, double up,
                            double *w, double *h) {
    int n = 0, ns = f->ns;
    *w = *h = 0;
    PLINT *opt = calloc((size_t)ns + 1, sizeof *opt),
          *color = calloc((size_t)ns + 1, sizeof *color);
    PLINT *ink = calloc((size_t)ns + 1, sizeof *ink),
          *style = calloc((size_t)ns + 1, sizeof *style);
    PLINT *nsym = calloc((size_t)ns + 1, sizeof *nsym);
    PLFLT *width = calloc((size_t)ns + 1, sizeof *width),
          *mscale = calloc((size_t)ns + 1, sizeof *mscale);
    const char **text = calloc((size_t)ns + 1, sizeof *text),
               **sym = calloc((size_t)ns + 1, sizeof *sym);
    int ok = opt && color && ink && style && nsym && width && mscale && text && sym;
    for (int k = 0; ok && k < ns; k++) {
        const series *s = &f->s[k];
        int is_words = !s->line && !s->marker;
        if (!s->legend || !s->label || is_words != words) continue;
        opt[n] = (s->line ? PL_LEGEND_LINE : 0) | (s->marker ? PL_LEGEND_SYMBOL : 0);
        if (!opt[n]) opt[n] = PL_LEGEND_NONE;
        color[n] = s->color, ink[n] = C_INK, style[n] = s->style;
        width[n] = 2, mscale[n] = s->marker_scale, nsym[n] = 1;
        sym[n] = s->marker ? s->marker : "";
        ok = (text[n++] = pl_text(s->label)) != NULL;
    }
    if (ok && n) {
        PLFLT lw, lh;
        int cols = ncol < n ? ncol : n, rows = (n + cols - 1) / cols;
        plwidth(1);
        pllegend(&lw, &lh, 0, PL_POSITION_BOTTOM | PL_POSITION_INSIDE | PL_POSITION_SUBPAGE,
                 0, up, words ? 0 : 0.06, C_LEGEND_BG, C_FRAME, 1, rows, cols, n, opt,
                 words ? 0.5 : 0.8, scale, 2.0, 0.0, ink, text, NULL, NULL, NULL, NULL,
                 color, style, width, color, mscale, nsym, sym);
        *w = lw, *h = lh;
    }
    for (int k = 0; text && k < n; k++) free((char *)text[k]);
    free(opt), free(color), free(ink), free(style), free(nsym), free(width), free(mscale);
    free(text), free(sym);
    return ok ? 0 : -1;
}

/* Draws the figure on the current PLplot stream, after plinit: the plot
 * above the legend as l says it is high, then the legend, its sizes
 * measured into l. Returns -1 when memory runs out. */
static int draw(figure *f, layout *l) {
    double below = l->words_h + l->curves_h;
    if (draw_axes(f, below > 0 ? below + 2 * LEGEND_GAP : 0)) return -1;
    draw_series(f);
    double ww, wh, cw, ch;
    if (draw_legend_part(f, 1, 1, l->words_scale, LEGEND_GAP, &ww, &wh)) return -1;
    if (draw_legend_part(f, 0, l->ncol, l->scale, LEGEND_GAP + wh, &cw, &ch)) return -1;
    l->words_h = wh, l->curves_h = ch, l->curves_w = cw, l->words_w = ww;
    return 0;
}

/* The bytes of the picture (plot_int.h) are collected in memory through a
 * stdio stream PLplot writes to and closes; closed tells whether it did. */

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

/* Draws f with PLplot's device into *img, laid out as l says (its legend's
 * sizes measured into l). Returns 0, or -1 with the reason in *e. */
static int render(figure *f, const char *device, int width, int height, layout *l,
                  bytes *img, bp_err *e) {
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
    for (int k = 0; k < N_COLORS; k++) { /* the faint ones: the series' colours, see-through */
        const unsigned char *c = palette[k < C_FAINT ? k : k - C_FAINT + C_SERIES];
        r[k] = c[0], g[k] = c[1], b[k] = c[2], a[k] = k < C_FAINT ? 1 : 0.3;
    }
    a[C_LEGEND_BG] = 0.85; /* the curves show faintly through the legend */
    plscmap0a(r, g, b, a, N_COLORS);
    plinit();
    int drawn = draw(f, l);
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

/* How many entries have a line or a marker in the legend. */
static int curve_entries(const figure *f) {
    int n = 0;
    for (int k = 0; k < f->ns; k++) n += f->s[k].legend && (f->s[k].line || f->s[k].marker);
    return n;
}

int plot_draw(figure *f, const char *device, int width, int height, bytes *img,
              bp_err *e) {
    /* Measure with one column, choose the columns that fit the width (and
     * a smaller text when the legend would be too tall), then draw until
     * the plot stands on the legend as last measured. */
    int n = curve_entries(f);
    layout l = {n <= 4 ? 1.0 : n <= 12 ? 0.9 : 0.8, 0, 1, 0, 0, 0, 0};
    l.words_scale = l.scale;
    for (int pass = 0; pass < 8; pass++) {
        layout was = l;
        if (render(f, device, width, height, &l, img, e)) return -1;
        if (pass == 0 && l.words_w > 0.96) l.words_scale *= 0.96 / l.words_w;
        if (pass == 0 && n > 0) {
            double col = l.curves_w; /* one column's width */
            if (col > 0.96) l.scale *= 0.96 / col, col = 0.96;
            l.ncol = (int)(0.96 / col);
            if (l.ncol > n) l.ncol = n;
            if (l.ncol < 1) l.ncol = 1;
            int rows = (n + l.ncol - 1) / l.ncol;
            double tall = l.curves_h / n * rows + l.words_h;
            if (tall > 0.4) l.scale *= fmax(0.6, 0.4 / tall);
            l.words_scale = fmin(l.words_scale, l.scale);
        } else if (l.curves_w > 0.96) {
            /* The columns came out wider than one measured: smaller text
             * when a little, a column fewer when much */
            if (l.curves_w < 1.15 || l.ncol == 1) l.scale *= 0.95 * 0.96 / l.curves_w;
            else l.ncol--;
            l.words_scale = fmin(l.words_scale, l.scale);
        } else if (fabs(l.curves_h - was.curves_h) < 1e-9 &&
                   fabs(l.words_h - was.words_h) < 1e-9) {
            return 0;
        }
        free(img->p);
        memset(img, 0, sizeof *img);
    }
    return render(f, device, width, height, &l, img, e);
}
