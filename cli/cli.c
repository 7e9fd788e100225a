/* cli.c: what the database commands of backprop (bp_cli.h) have in
 * common: their errors, ids and --db, and the dispatch by name.
 *
 * The commands are library functions writing to the streams they are
 * given, not a program: so the host runs them, and tests/test_cli.c checks
 * their output text exactly. Each lives in a file of its own (runs.c,
 * show.c, query.c, rm.c, export.c, sweepshow.c) and only formats: what it
 * prints it reads through the run log's named reads (bp_runlog.h), and
 * `query` hands the user's SQL to the run log's read-only connection. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "cli_int.h"

int bp_cli_fail(FILE *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("backprop: ", err);
    vfprintf(err, fmt, ap);
    fputc('\n', err);
    va_end(ap);
    return 1;
}

int bp_cli_parse_id(const char *s, int64_t *id) {
    return bp_parse_i64(s, 1, INT64_MAX, id);
}

const char *cli_take_db(const char *db, int *argc, char **argv, FILE *err, int *bad) {
    int j = 0;
    for (int k = 0; k < *argc; k++) {
        if (strcmp(argv[k], "--db") == 0) {
            if (k + 1 == *argc) {
                *bad = bp_cli_fail(err, "--db needs a path");
                return NULL;
            }
            db = argv[++k];
        } else if (strncmp(argv[k], "--db=", 5) == 0) {
            db = argv[k] + 5;
        } else {
            argv[j++] = argv[k];
        }
    }
    *argc = j;
    return bp_runlog_default_path(db);
}

bp_runlog *cli_open_log(const char *path, int flags, FILE *err) {
    bp_err e;
    bp_runlog *log = bp_runlog_open(path, flags, &e);
    if (!log) bp_cli_fail(err, "%s", e.msg);
    return log;
}
