/* export.c: `backprop export ID [--csv | --json] [-o FILE]` (bp_cli.h), a
 * run's metrics with its record and parameters.
 *
 * CSV: bp_runlog_export_rows streams a row per step, a cell per metric, so
 * that a long run is never held whole; numbers exactly and an empty cell
 * where a metric was not logged; the columns step and epoch keep a step's
 * row (epoch empty) apart from an epoch's. The run's record and parameters go first
 * as "# " comment lines, which pandas (read_csv(comment="#")), R
 * (read.csv(comment.char="#")) and gnuplot skip, so that the one file
 * says which run made the numbers. The JSON form is export_json.c. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bp_cli.h"
#include "cli_int.h"

static int csv_header(void *ctx, size_t ncol, const char *const *names) {
    FILE *out = ctx;
    fputs("step,epoch", out);
    for (size_t c = 0; c < ncol; c++) {
        fputc(',', out);
        cli_csv_text(out, names[c]);
    }
    fputc('\n', out);
    return 0;
}

/* A step's row "12,,..."; an epoch's "12,3,..." (ended at step 12), or
 * ",3,..." when where it ended was not recorded. */
static int csv_row(void *ctx, const bp_export_at *at, size_t ncol, const double *values,
                   const unsigned char *logged) {
    FILE *out = ctx;
    char buf[64];
    if (at->has_step) fprintf(out, "%lld", (long long)at->step);
    fputc(',', out);
    if (at->has_epoch) fprintf(out, "%lld", (long long)at->epoch);
    for (size_t c = 0; c < ncol; c++) {
        fputc(',', out);
        if (!logged[c]) continue;
        cli_fmt_exact(buf, sizeof buf, values[c]);
        fputs(buf, out);
    }
    fputc('\n', out);
    return 0;
}

/* s on a comment line: a line break (or another control character) would
 * end the comment, so it is written as \n, \r, \t or \xHH, and \ as \\.
 * A spreadsheet that opens the file splits the line at its commas, and
 * would run a cell starting with =, +, - or @ as a formula (cli_csv_text):
 * such a comma is written \x2c. */
static void comment_text(FILE *out, const char *s) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ',' && s[1] && strchr("=+-@", s[1])) fputs("\\x2c", out);
        else if (c == '\\') fputs("\\\\", out);
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\r') fputs("\\r", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f) fprintf(out, "\\x%02x", c);
        else fputc(c, out);
    }
}

static void comment_line(FILE *out, const char *key, const char *value) {
    if (!value) return;
    fprintf(out, "# %s: ", key);
    comment_text(out, value);
    fputc('\n', out);
}

const cli_run_field cli_run_fields[] = {
    {"name", offsetof(bp_run_header, name), 0, 0},
    {"status", offsetof(bp_run_header, status), 0, 0},
    {"script", offsetof(bp_run_header, script_path), 0, 0},
    {"command", offsetof(bp_run_header, command), 0, 0},
    {"host", offsetof(bp_run_header, host), 1, 0},
    {"version", offsetof(bp_run_header, version), 1, 0},
    {"uid", offsetof(bp_run_header, uid), 1, 1},
};
const int cli_run_nfields = (int)(sizeof cli_run_fields / sizeof cli_run_fields[0]);

/* The text fields of h before the times (late 0) or after, as comments. */
static void comment_fields(FILE *out, const bp_run_header *h, int late) {
    for (int k = 0; k < cli_run_nfields; k++)
        if (cli_run_fields[k].late == late && !cli_run_fields[k].json_only)
            comment_line(out, cli_run_fields[k].key,
                         *(char *const *)((const char *)h + cli_run_fields[k].offset));
}

/* The run's record and parameters as comment lines. */
static void csv_comments(FILE *out, const bp_run_header *h) {
    char buf[64];
    fprintf(out, "# run: %lld\n", (long long)h->id);
    comment_fields(out, h, 0);
    if (h->seed.type != BP_RUNLOG_NULL) {
        cli_value_cell(buf, sizeof buf, &h->seed, 1);
        comment_line(out, "seed", buf);
    }
    cli_fmt_utc(buf, sizeof buf, h->started, 0);
    comment_line(out, "started", buf);
    if (h->has_ended) {
        cli_fmt_utc(buf, sizeof buf, h->ended, 0);
        comment_line(out, "ended", buf);
    }
    comment_fields(out, h, 1);
    if (h->sweep_id) fprintf(out, "# sweep: %lld\n# trial: %lld\n", (long long)h->sweep_id,
                             (long long)h->trial);
    for (size_t k = 0; k < h->n_params; k++) {
        const bp_run_param *p = &h->params[k];
        fputs("# param ", out);
        comment_text(out, p->key);
        fputs(" = ", out);
        if (!strcmp(p->type, "bool")) fputs(p->value.i ? "true" : "false", out);
        else if (p->value.type == BP_RUNLOG_NULL) fputs("nan", out);
        else {
            char v[64];
            if (p->value.type == BP_RUNLOG_TEXT) comment_text(out, p->value.s);
            else cli_value_cell(v, sizeof v, &p->value, 1), fputs(v, out);
        }
        fputc('\n', out);
    }
}

/* The CSV of run id: its comments, then its rows. */
static int export_csv(bp_runlog *log, int64_t id, FILE *f, bp_err *e) {
    bp_run_header h;
    if (bp_runlog_run_header(log, id, &h, e)) return -1;
    csv_comments(f, &h);
    bp_run_header_free(&h);
    bp_export_sink sink = {csv_header, csv_row, f};
    return bp_runlog_export_rows(log, id, &sink, e);
}

int bp_cli_export(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0;
    const char *path = cli_take_db(db, &argc, argv, err, &bad);
    if (bad) return 1;
    const char *file = NULL, *id_text = NULL;
    int json = 0, csv = 0;
    for (int k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--csv") == 0) csv = 1;
        else if (strcmp(argv[k], "--json") == 0) json = 1;
        else if ((!strcmp(argv[k], "-o") || !strcmp(argv[k], "--output")) && k + 1 < argc)
            file = argv[++k];
        else if (argv[k][0] == '-')
            return bp_cli_fail(err, "export: unknown option '%s' (--csv, --json, -o FILE)",
                               argv[k]);
        else if (id_text) return bp_cli_fail(err, "export wants one run id");
        else id_text = argv[k];
    }
    int64_t id;
    if (csv && json) return bp_cli_fail(err, "export: --csv or --json, not both");
    if (!id_text) return bp_cli_fail(err, "export wants a run id");
    if (bp_cli_parse_id(id_text, &id))
        return bp_cli_fail(err, "export: '%s' is not a run id", id_text);
    bp_runlog *log = cli_open_log(path, BP_RUNLOG_READER, err);
    if (!log) return 1;
    FILE *f = out;
    if (file && !(f = fopen(file, "w"))) {
        int rc = bp_cli_fail(err, "%s: cannot write (%s)", file, strerror(errno));
        bp_runlog_close(log);
        return rc;
    }
    bp_err e;
    int rc = 0;
    if (json ? cli_export_json(log, id, f, &e) : export_csv(log, id, f, &e))
        rc = bp_cli_fail(err, "%s", e.msg);
    if (f != out && fclose(f) != 0 && rc == 0)
        rc = bp_cli_fail(err, "%s: cannot write (%s)", file, strerror(errno));
    bp_runlog_close(log);
    return rc;
}
