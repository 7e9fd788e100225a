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
 * The legend goes in the corner where it hides the fewest points. PLplot
 * tells its size only once it is drawn, so a picture may be drawn twice, or
 * three times when every corner hides some: the y axis is then made longer
 * to leave the top free. A render takes milliseconds.
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
static const unsigned char palette[N_COLORS][3] = {
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

/* The axes, their grid and labels; -1 when memory runs out. */
static int draw_axes(figure *f) {
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

/* The legend in corners[corner]; *legend_w and *legend_h get its size as
 * fractions of the plot. -1 when memory runs out. */
static int draw_legend(const figure *f, int corner, double *legend_w, double *legend_h) {
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
        const series *s = &f->s[k];
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

/* Draws the figure on the current PLplot stream, after plinit, with the
 * legend in corners[corner] (its size in *legend_w, *legend_h). Returns -1
 * when memory runs out. */
static int draw(figure *f, int corner, double *legend_w, double *legend_h) {
    if (draw_axes(f)) return -1;
    draw_series(f);
    return draw_legend(f, corner, legend_w, legend_h);
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

int plot_draw(figure *f, const char *device, int width, int height, bytes *img,
              bp_err *e) {
    /* PLplot tells the legend's size once it is drawn: so draw, see where
     * the legend hides the fewest points, and draw again if that is
     * elsewhere. When it would hide some wherever it went, and is not too
     * tall, the y axis is lengthened to leave the top free for it. */
    double legend[2] = {0, 0};
    int corner = 0;
    for (int pass = 0;; pass++) {
        if (render(f, device, width, height, corner, legend, img, e)) return -1;
        if (pass == 2) return 0;
        long hides;
        int best = best_corner(f, legend[0], legend[1], &hides);
        if (hides && legend[1] < 0.4 && f->headroom == 0) {
            f->headroom = legend[1] + LEGEND_DY + 0.04;
            best = 0;
        } else if (best == corner) {
            return 0;
        }
        corner = best;
        free(img->p);
        memset(img, 0, sizeof *img);
    }
}
