/* query.c: `backprop query [--csv | --json | --table] [--timeout S] SQL...`
 * (bp_cli.h).
 *
 * The user's SQL runs in the run log (bp_runlog_query), on a connection that
 * only reads, stopped after --timeout seconds in SQLite; its rows come back
 * one at a time as typed values, and this file prints them as an aligned
 * table, CSV or JSON, as they come, so that no result is ever held whole:
 * CSV and JSON row by row, a table in blocks of BLOCK_ROWS rows (or
 * BLOCK_BYTES of text), each block aligned to the widest cells seen so far,
 * since the widths of rows not yet read cannot be known. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "cli_int.h"

enum { FMT_TABLE, FMT_CSV, FMT_JSON };
enum { BLOCK_ROWS = 1000, BLOCK_BYTES = 1 << 20, DEFAULT_TIMEOUT = 60 };

/* What the callbacks print with, for the statement being run. */
typedef struct printer {
    int fmt;
    FILE *out, *err;
    int ncol, rows;
    const char *const *names;
    cli_table t;
    size_t *w;         /* the table's widths so far */
    size_t printed;    /* cells of t already printed (the header's, or none) */
    size_t block_text; /* bytes of the cells waiting in t */
} printer;

/* A value as text for one format; NULL for SQL NULL (and, in JSON, for
 * NaN and infinities, which JSON lacks). Malloc'd. */
static char *cell_text(const bp_runlog_value *v, int fmt) {
    char buf[64];
    switch (v->type) {
        case BP_RUNLOG_NULL: return NULL;
        case BP_RUNLOG_INT:
            snprintf(buf, sizeof buf, "%lld", (long long)v->i);
            return strdup(buf);
        case BP_RUNLOG_REAL:
            if (fmt == FMT_JSON && !isfinite(v->r)) return NULL;
            if (fmt == FMT_TABLE) cli_fmt_short(buf, sizeof buf, v->r);
            else cli_fmt_exact(buf, sizeof buf, v->r);
            return strdup(buf);
        case BP_RUNLOG_BLOB: {
            const unsigned char *p = (const unsigned char *)v->s;
            size_t hex;
            char *s = bp_size_mul(&hex, v->n, 2) ? NULL : malloc(hex + 1);
            if (!s) return NULL;
            for (size_t k = 0; k < v->n; k++) snprintf(s + 2 * k, 3, "%02x", p[k]);
            s[2 * v->n] = '\0';
            return s;
        }
        default: return strdup(v->s);
    }
}

static int on_begin(void *ctx, int ncol, const char *const *names) {
    printer *p = ctx;
    p->ncol = ncol, p->rows = 0, p->names = names;
    if (p->fmt == FMT_TABLE) {
        p->printed = p->block_text = 0;
        if (cli_table_init(&p->t, ncol) || !(p->w = calloc((size_t)ncol, sizeof *p->w))) {
            cli_table_free(&p->t);
            return bp_cli_fail(p->err, "out of memory");
        }
        for (int c = 0; c < ncol; c++) {
            cli_table_put(&p->t, names[c]);
            p->t.right[c] = 1;
        }
    } else if (p->fmt == FMT_CSV) {
        for (int c = 0; c < ncol; c++) {
            if (c) fputc(',', p->out);
            cli_csv_text(p->out, names[c]);
        }
        fputc('\n', p->out);
    }
    return 0;
}

/* Prints the rows waiting in the table (and the header, the first time),
 * then forgets them; the header's cells stay, for the widths. */
static void print_block(printer *p) {
    cli_table_widths(&p->t, p->w);
    cli_table_print_cells(&p->t, p->out, 0, p->w, p->printed);
    cli_table_drop(&p->t, (size_t)p->ncol);
    p->printed = (size_t)p->ncol, p->block_text = 0;
}

/* One cell of a row, in p's format. */
static void print_cell(printer *p, int c, const bp_runlog_value *v) {
    int text = v->type == BP_RUNLOG_TEXT || v->type == BP_RUNLOG_BLOB;
    char *s = cell_text(v, p->fmt);
    if (p->fmt == FMT_TABLE) {
        cli_table_put(&p->t, s ? s : "NULL");
        p->block_text += s ? strlen(s) : 4;
        if (text) p->t.right[c] = 0;
    } else if (p->fmt == FMT_CSV) {
        if (c) fputc(',', p->out);
        if (s) cli_csv_text(p->out, s);
    } else {
        if (c) fputs(", ", p->out);
        cli_json_text(p->out, p->names[c]);
        fputs(": ", p->out);
        if (!s) fputs("null", p->out);
        else if (text) cli_json_text(p->out, s);
        else fputs(s, p->out);
    }
    free(s);
}

static int on_row(void *ctx, int ncol, const bp_runlog_value *values) {
    printer *p = ctx;
    if (p->fmt == FMT_JSON) fputs(p->rows ? ",\n  {" : "[\n  {", p->out);
    for (int c = 0; c < ncol; c++) print_cell(p, c, &values[c]);
    if (p->fmt == FMT_CSV) fputc('\n', p->out);
    if (p->fmt == FMT_JSON) fputc('}', p->out);
    p->rows++;
    if (p->fmt == FMT_TABLE &&
        (p->rows % BLOCK_ROWS == 0 || p->block_text >= BLOCK_BYTES))
        print_block(p);
    return 0;
}

static void on_end(void *ctx, int ok) {
    printer *p = ctx;
    if (p->fmt == FMT_JSON) fputs(p->rows ? "\n]\n" : "[]\n", p->out);
    if (p->fmt == FMT_TABLE) {
        /* A failed statement shows the rows it gave, as CSV and JSON do. */
        if (ok || p->t.n > (size_t)p->ncol) print_block(p);
        cli_table_free(&p->t);
        free(p->w);
        p->w = NULL;
    }
}

/* The arguments joined by spaces, the options (format, --timeout) taken
 * out; NULL when memory runs out. A bad option is said on err, *bad set. */
static char *join_sql(int argc, char **argv, int *fmt, double *timeout, FILE *err,
                      int *bad) {
    size_t len = 1;
    for (int k = 0; k < argc; k++) len += strlen(argv[k]) + 1;
    char *sql = malloc(len);
    if (!sql) return NULL;
    sql[0] = '\0';
    for (int k = 0; k < argc && !*bad; k++) {
        int64_t s;
        if (strcmp(argv[k], "--csv") == 0) *fmt = FMT_CSV;
        else if (strcmp(argv[k], "--json") == 0) *fmt = FMT_JSON;
        else if (strcmp(argv[k], "--table") == 0) *fmt = FMT_TABLE;
        else if (strcmp(argv[k], "--timeout") == 0) {
            if (k + 1 < argc && !bp_parse_i64(argv[k + 1], 0, 10000000, &s))
                *timeout = (double)s, k++;
            else
                *bad = bp_cli_fail(err,
                                   "query: bad --timeout '%s': expected whole seconds,"
                                   " 0 for no limit",
                                   k + 1 < argc ? argv[k + 1] : "");
        } else {
            if (*sql) strcat(sql, " ");
            strcat(sql, argv[k]);
        }
    }
    return sql;
}

int bp_cli_query(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0;
    const char *path = cli_take_db(db, &argc, argv, err, &bad);
    if (bad) return 1;
    printer p = {.fmt = FMT_TABLE, .out = out, .err = err};
    double timeout = DEFAULT_TIMEOUT;
    char *sql = join_sql(argc, argv, &p.fmt, &timeout, err, &bad);
    if (!sql) return bp_cli_fail(err, "out of memory");
    if (bad) {
        free(sql);
        return 1;
    }
    if (!sql[strspn(sql, " \t\n;")]) {
        free(sql);
        return bp_cli_fail(
            err, "query wants SQL, e.g. backprop query \"SELECT * FROM run_summary\"");
    }
    bp_query_sink sink = {on_begin, on_row, on_end, &p};
    bp_err e;
    int rc = bp_runlog_query(path, sql, timeout, &sink, &e);
    if (rc == -2) rc = bp_cli_fail(err, "%s (--timeout)", e.msg);
    else if (rc < 0) rc = bp_cli_fail(err, "%s", e.msg);
    free(sql);
    return rc ? 1 : 0;
}
