/* format.c: the formatting the database commands share (cli_int.h):
 * numbers readably for people and exactly for programs, CSV and JSON text,
 * and aligned tables.
 *
 * Tables keep every cell until the last row is in, because a column is as
 * wide as its widest cell: the cells' text end to end in one buffer, each
 * cell's width measured once. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"

void cli_fmt_exact(char *buf, size_t cap, double v) {
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void cli_fmt_utc(char *buf, size_t cap, double seconds, int iso) {
    double whole = floor(seconds);
    long ms = lround((seconds - whole) * 1000);
    if (ms == 1000) whole += 1, ms = 0;
    time_t t = (time_t)whole;
    struct tm tm;
    char day[32] = "?";
    if (gmtime_r(&t, &tm)) strftime(day, sizeof day, iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03ld%s", day, ms, iso ? "Z" : " UTC");
}

void cli_fmt_short(char *buf, size_t cap, double v) {
    if (isnan(v)) snprintf(buf, cap, "nan");
    else if (isinf(v)) snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else snprintf(buf, cap, "%.6g", v);
}

void cli_value_cell(char *buf, size_t cap, const bp_runlog_value *v, int csv) {
    switch (v->type) {
        case BP_RUNLOG_NULL: snprintf(buf, cap, csv ? "" : "-"); break;
        case BP_RUNLOG_INT: snprintf(buf, cap, "%lld", (long long)v->i); break;
        case BP_RUNLOG_REAL:
            if (csv) cli_fmt_exact(buf, cap, v->r);
            else cli_fmt_short(buf, cap, v->r);
            break;
        default: snprintf(buf, cap, "%s", v->s);
    }
}

/* Whether s reads whole as a number as CSV cells write one: an optional
 * sign, digits with an optional point, an optional exponent; or nan, inf,
 * -inf. A spreadsheet takes such a cell for that number, not a formula. */
static int plain_number(const char *s) {
    if (!strcmp(s, "nan") || !strcmp(s, "inf") || !strcmp(s, "-inf")) return 1;
    const char *p = s + (*s == '-' || *s == '+');
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (*p == '.') {
        size_t frac = strspn(p + 1, "0123456789");
        digits += frac, p += 1 + frac;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p += 1 + (p[1] == '-' || p[1] == '+');
        size_t exp = strspn(p, "0123456789");
        if (!exp) return 0;
        p += exp;
    }
    return *p == '\0';
}

void cli_csv_text(FILE *out, const char *s) {
    /* CSV injection (OWASP): a spreadsheet runs a cell that starts with =,
     * +, -, @, a tab or a carriage return as a formula. Such text gets a
     * single quote in front, inside the quotes, which the spreadsheet shows
     * as text; numbers, negative ones too, stay numbers. */
    int formula = s[0] && strchr("=+-@\t\r", s[0]) && !plain_number(s);
    if (!formula && !s[strcspn(s, ",\"\r\n")]) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    if (formula) fputc('\'', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void cli_json_text(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c == '\r') fputs("\\r", out);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

void cli_show_line(FILE *out, const char *key, const char *value) {
    if (value && *value) fprintf(out, "  %-9s %s\n", key, value);
}

void cli_show_time(FILE *out, const char *key, const char *time) {
    char buf[256];
    if (!time) return;
    snprintf(buf, sizeof buf, "%s UTC", time);
    cli_show_line(out, key, buf);
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                    */

int cli_table_init(cli_table *t, int ncol) {
    memset(t, 0, sizeof *t);
    t->ncol = ncol;
    t->right = calloc((size_t)(ncol > 0 ? ncol : 1), 1);
    return t->right ? 0 : -1;
}

/* Characters on screen: UTF-8 continuation bytes take no room. */
static size_t width_of(const char *s) {
    size_t w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* Room for one more cell and len more bytes of text; -1 without memory. */
static int table_grow(cli_table *t, size_t len) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        size_t *at = realloc(t->at, cap * sizeof *at);
        if (at) t->at = at;
        size_t *width = at ? realloc(t->width, cap * sizeof *width) : NULL;
        if (!width) return -1;
        t->width = width, t->cap = cap;
    }
    if (t->room - t->used < len) {
        size_t room = t->room ? 2 * t->room : 4096;
        while (room - t->used < len) room *= 2;
        char *text = realloc(t->text, room);
        if (!text) return -1;
        t->text = text, t->room = room;
    }
    return 0;
}

int cli_table_put(cli_table *t, const char *s) {
    if (!s) s = "";
    size_t len = strlen(s) + 1;
    if (table_grow(t, len)) return -1;
    memcpy(t->text + t->used, s, len);
    t->at[t->n] = t->used;
    t->width[t->n++] = width_of(s);
    t->used += len;
    return 0;
}

const char *cli_table_cell(const cli_table *t, size_t k) { return t->text + t->at[k]; }

void cli_table_widths(const cli_table *t, size_t *w) {
    for (size_t k = 0; k < t->n; k++)
        if (t->width[k] > w[k % t->ncol]) w[k % t->ncol] = t->width[k];
}

/* n spaces, without printf's padding (slow in glibc for "%*s"). */
static void spaces(FILE *out, size_t n) {
    static const char blank[] = "                                ";
    const size_t chunk = sizeof blank - 1;
    for (; n > chunk; n -= chunk) fwrite(blank, 1, chunk, out);
    fwrite(blank, 1, n, out);
}

void cli_table_print_cells(const cli_table *t, FILE *out, int indent, const size_t *w,
                           size_t from) {
    for (size_t k = from; k < t->n; k++) {
        int c = (int)(k % t->ncol);
        size_t pad = w[c] > t->width[k] ? w[c] - t->width[k] : 0;
        int last = c == t->ncol - 1;
        spaces(out, c ? 2 : (size_t)indent);
        if (t->right[c]) spaces(out, pad);
        fputs(cli_table_cell(t, k), out);
        if (!t->right[c] && !last) spaces(out, pad);
        if (last) fputc('\n', out);
    }
}

void cli_table_print(const cli_table *t, FILE *out, int indent) {
    size_t *w = calloc((size_t)t->ncol, sizeof *w);
    if (!w) return;
    cli_table_widths(t, w);
    cli_table_print_cells(t, out, indent, w, 0);
    free(w);
}

void cli_table_drop(cli_table *t, size_t keep) {
    if (keep < t->n) t->used = t->at[keep], t->n = keep;
}

void cli_table_free(cli_table *t) {
    free(t->at);
    free(t->width);
    free(t->text);
    free(t->right);
}
