/* check.c: `backprop check [--summaries] [ID...]` (bp_cli.h).
 *
 * The writer keeps each run's metric summaries in the transactions that
 * commit the rows (runlog/summary.c); this command rebuilds them from the
 * rows and compares (bp_runlog_summaries_check), for every run or the runs
 * named. It only reads. */
#include <stdint.h>
#include <string.h>

#include "bp_cli.h"
#include "cli_int.h"

/* One run's (or, run 0, every run's) check: 0 when they agree. */
static int check_run(bp_runlog *log, int64_t run, FILE *out, FILE *err) {
    char what[512], which[48] = "";
    int64_t series = 0;
    bp_err e;
    int64_t bad = bp_runlog_summaries_check(log, run, &series, what, sizeof what, &e);
    if (bad < 0) return bp_cli_fail(err, "%s", e.msg);
    if (run) snprintf(which, sizeof which, "run %lld: ", (long long)run);
    if (bad == 0) {
        fprintf(out, "%ssummaries of %lld metric series agree with their rows\n", which,
                (long long)series);
        return 0;
    }
    return bp_cli_fail(err, "%s%lld summaries differ from their rows; the first: %s",
                       which, (long long)bad, what);
}

int bp_cli_check(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0, n = 0;
    const char *path = cli_take_db(db, &argc, argv, err, &bad);
    if (bad) return 1;
    int64_t id;
    for (int k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--summaries") == 0) continue;
        if (bp_cli_parse_id(argv[k], &id))
            return bp_cli_fail(err, "check: '%s' is not a run id (or --summaries)",
                               argv[k]);
        n++;
    }
    bp_runlog *log = cli_open_log(path, BP_RUNLOG_READER, err);
    if (!log) return 1;
    int rc = n ? 0 : check_run(log, 0, out, err);
    for (int k = 0; k < argc; k++)
        if (strcmp(argv[k], "--summaries") != 0 && !bp_cli_parse_id(argv[k], &id))
            rc |= check_run(log, id, out, err);
    bp_runlog_close(log);
    return rc;
}
