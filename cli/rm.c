/* rm.c: `backprop rm [--force] ID...` (bp_cli.h).
 *
 * bp_runlog_rm deletes all the runs or none, in one transaction; this file
 * checks the ids and says what was deleted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "cli_int.h"

int bp_cli_rm(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0;
    const char *path = cli_take_db(db, &argc, argv, err, &bad);
    if (bad) return 1;
    int force = 0, n = 0;
    int64_t *ids = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *ids);
    if (!ids) return bp_cli_fail(err, "out of memory");
    for (int k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--force") == 0) force = 1;
        else if (bp_cli_parse_id(argv[k], &ids[n++])) {
            free(ids);
            return bp_cli_fail(err, "rm: '%s' is not a run id", argv[k]);
        }
    }
    if (n == 0) {
        free(ids);
        return bp_cli_fail(err, "rm wants the ids of the runs to delete");
    }
    bp_runlog *log = cli_open_log(path, BP_RUNLOG_MUSTEXIST, err);
    if (!log) {
        free(ids);
        return 1;
    }
    bp_err e;
    int rc = 0;
    if (bp_runlog_rm(log, ids, (size_t)n, force, &e)) rc = bp_cli_fail(err, "%s", e.msg);
    else
        for (int k = 0; k < n; k++) fprintf(out, "deleted run %lld\n", (long long)ids[k]);
    bp_runlog_close(log);
    free(ids);
    return rc;
}
