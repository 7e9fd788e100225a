/* query.c: `backprop query [--csv | --json | --table] SQL...` (bp_cli.h).
 *
 * The user's SQL runs in the run log (bp_runlog_query), on a connection it
 * keeps read-only; its rows come back one at a time as typed values, and
 * this file prints them as an aligned table, CSV or JSON. A table is
 * printed once its statement has ended (its widths need every row); CSV
 * and JSON as the rows come. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "cli_int.h"

enum { FMT_TABLE, FMT_CSV, FMT_JSON };

/* What the callbacks print with, for the statement being run. */
typedef struct printer {
    int fmt;
    FILE *out, *err;
    int ncol, rows;
    const char *const *names;
    cli_table t;
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
            char *s = malloc(2 * v->n + 1);
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
        if (cli_table_init(&p->t, ncol)) return bp_cli_fail(p->err, "out of memory");
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

/* One cell of a row, in p's format. */
static void print_cell(printer *p, int c, const bp_runlog_value *v) {
    int text = v->type == BP_RUNLOG_TEXT || v->type == BP_RUNLOG_BLOB;
    char *s = cell_text(v, p->fmt);
    if (p->fmt == FMT_TABLE) {
        cli_table_put(&p->t, s ? s : "NULL");
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
    return 0;
}

static void on_end(void *ctx, int ok) {
    printer *p = ctx;
    if (p->fmt == FMT_JSON) fputs(p->rows ? "\n]\n" : "[]\n", p->out);
    if (p->fmt == FMT_TABLE) {
        if (ok) cli_table_print(&p->t, p->out, 0);
        cli_table_free(&p->t);
    }
}

/* The arguments joined by spaces, the format options taken out; NULL when
 * memory runs out. */
static char *join_sql(int argc, char **argv, int *fmt) {
    size_t len = 1;
    for (int k = 0; k < argc; k++) len += strlen(argv[k]) + 1;
    char *sql = malloc(len);
    if (!sql) return NULL;
    sql[0] = '\0';
    for (int k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--csv") == 0) *fmt = FMT_CSV;
        else if (strcmp(argv[k], "--json") == 0) *fmt = FMT_JSON;
        else if (strcmp(argv[k], "--table") == 0) *fmt = FMT_TABLE;
        else {
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
    char *sql = join_sql(argc, argv, &p.fmt);
    if (!sql) return bp_cli_fail(err, "out of memory");
    if (!sql[strspn(sql, " \t\n;")]) {
        free(sql);
        return bp_cli_fail(
            err, "query wants SQL, e.g. backprop query \"SELECT * FROM run_summary\"");
    }
    bp_query_sink sink = {on_begin, on_row, on_end, &p};
    bp_err e;
    int rc = bp_runlog_query(path, sql, &sink, &e);
    if (rc < 0) rc = bp_cli_fail(err, "%s", e.msg);
    free(sql);
    return rc ? 1 : 0;
}
