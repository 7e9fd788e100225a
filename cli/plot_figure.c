/* plot_figure.c: the figure `backprop plot` draws (plot_int.h): its series
 * and their points, built by plot_runs.c and plot_sweep.c and drawn by
 * plot_draw.c. Points are kept in axis units, log10 already taken on a
 * log axis, because PLplot's log axes take the data so. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"

char *plot_format(const char *fmt, ...) {
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

series *plot_series_add(figure *f) {
    series *s = realloc(f->s, (size_t)(f->ns + 1) * sizeof *s);
    if (!s) return NULL;
    f->s = s;
    s = &f->s[f->ns++];
    memset(s, 0, sizeof *s);
    s->marker_scale = 1;
    s->style = 1;
    s->legend = 1;
    return s;
}

int plot_series_push(series *s, double x, double y, int gap) {
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

void plot_figure_free(figure *f) {
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

int plot_to_axis(double *v, int log_axis) {
    if (!isfinite(*v)) return 0;
    if (log_axis) {
        if (*v <= 0) return 0;
        *v = log10(*v);
    }
    return 1;
}
