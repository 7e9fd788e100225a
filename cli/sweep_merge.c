/* sweep_merge.c: `backprop merge OUT.db IN.db...` (bp_sweeprun.h), the
 * command around bp_runlog_merge: one line per input says what it brought,
 * and the first input that cannot be merged stops the command (the inputs
 * before it stay merged: each is all or nothing on its own). */
#include <stdio.h>

#include "bp_cli.h"
#include "bp_sweeplog.h"
#include "bp_sweeprun.h"

int bp_merge_main(int argc, char **argv, FILE *out, FILE *err) {
    if (argc < 2)
        return bp_cli_fail(
            err,
            "merge wants OUT.db and at least one IN.db (backprop merge OUT.db IN.db...)");
    for (int k = 0; k < argc; k++)
        if (argv[k][0] == '-')
            return bp_cli_fail(err, "merge: unknown option '%s'", argv[k]);
    for (int k = 1; k < argc; k++) {
        bp_merge_counts c;
        bp_err e;
        if (bp_runlog_merge(argv[0], argv[k], &c, &e))
            return bp_cli_fail(err, "%s", e.msg);
        fprintf(out, "%s: %lld run%s and %lld sweep%s merged into %s", argv[k],
                (long long)c.runs, c.runs == 1 ? "" : "s", (long long)c.sweeps,
                c.sweeps == 1 ? "" : "s", argv[0]);
        if (c.skipped) fprintf(out, "; %lld there already", (long long)c.skipped);
        if (c.duplicates)
            fprintf(out,
                    "; %lld duplicate attempt%s of completed trials noted, not merged",
                    (long long)c.duplicates, c.duplicates == 1 ? "" : "s");
        if (c.running)
            fprintf(out, "; %lld still running, left out", (long long)c.running);
        fputc('\n', out);
    }
    return 0;
}
