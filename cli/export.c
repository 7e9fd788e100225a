/* export.c: `backprop export ID [--csv] [-o FILE]` (bp_cli.h), a run's
 * metrics as CSV.
 *
 * bp_runlog_export_rows streams a row per step, a cell per metric, so that
 * a long run is never held whole; this file writes them as CSV, numbers
 * exactly and an empty cell where a metric was not logged. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bp_cli.h"
#include "cli_int.h"

static int csv_header(void *ctx, size_t ncol, const char *const *names) {
    FILE *out = ctx;
    fputs("step", out);
    for (size_t c = 0; c < ncol; c++) {
        fputc(',', out);
        cli_csv_text(out, names[c]);
    }
    fputc('\n', out);
    return 0;
}

static int csv_row(void *ctx, int64_t step, size_t ncol, const double *values,
                   const unsigned char *logged) {
    FILE *out = ctx;
    char buf[64];
    fprintf(out, "%lld", (long long)step);
    for (size_t c = 0; c < ncol; c++) {
        fputc(',', out);
        if (!logged[c]) continue;
        cli_fmt_exact(buf, sizeof buf, values[c]);
        fputs(buf, out);
    }
    fputc('\n', out);
    return 0;
}

int bp_cli_export(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0;
    const char *path = cli_take_db(db, &argc, argv, err, &bad);
    if (bad) return 1;
    const char *file = NULL, *id_text = NULL;
    for (int k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--csv") == 0) continue;
        if (strcmp(argv[k], "-o") == 0 && k + 1 < argc) file = argv[++k];
        else if (argv[k][0] == '-')
            return bp_cli_fail(err, "export: unknown option '%s' (--csv, -o FILE)",
                               argv[k]);
        else if (id_text) return bp_cli_fail(err, "export wants one run id");
        else id_text = argv[k];
    }
    int64_t id;
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
    bp_export_sink sink = {csv_header, csv_row, f};
    bp_err e;
    int rc = 0;
    if (bp_runlog_export_rows(log, id, &sink, &e)) rc = bp_cli_fail(err, "%s", e.msg);
    if (f != out && fclose(f) != 0 && rc == 0)
        rc = bp_cli_fail(err, "%s: cannot write (%s)", file, strerror(errno));
    bp_runlog_close(log);
    return rc;
}
