/* sweep_merge.c: `backprop merge OUT.db IN.db...` (bp_sweeprun.h), the
 * command around bp_runlog_merge: one line per input says what it brought,
 * and the first input that cannot be merged stops the command (the inputs
 * before it stay merged: each is all or nothing on its own). An input that
 * is a folder (a sweep's shard folder) stands for its NAME.db files. */
#define _XOPEN_SOURCE 700 /* scandir, alphasort */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bp_cli.h"
#include "bp_sweeplog.h"
#include "bp_sweeprun.h"

/* Merges one input, says what it brought: 0, or 1 after saying why not. */
static int merge_one(const char *out_path, const char *in, FILE *out, FILE *err) {
    bp_merge_counts c;
    bp_err e;
    if (bp_runlog_merge(out_path, in, &c, &e)) return bp_cli_fail(err, "%s", e.msg);
    fprintf(out, "%s: %lld run%s and %lld sweep%s merged into %s", in, (long long)c.runs,
            c.runs == 1 ? "" : "s", (long long)c.sweeps, c.sweeps == 1 ? "" : "s",
            out_path);
    if (c.skipped) fprintf(out, "; %lld there already", (long long)c.skipped);
    if (c.duplicates)
        fprintf(out, "; %lld duplicate attempt%s of completed trials noted, not merged",
                (long long)c.duplicates, c.duplicates == 1 ? "" : "s");
    if (c.running) fprintf(out, "; %lld still running, left out", (long long)c.running);
    fputc('\n', out);
    return 0;
}

static int is_db(const struct dirent *de) {
    size_t n = strlen(de->d_name);
    return de->d_name[0] != '.' && n > 3 && !strcmp(de->d_name + n - 3, ".db");
}

/* A shard folder: each of its NAME.db files, in the order of their names. */
static int merge_dir(const char *out_path, const char *dir, FILE *out, FILE *err) {
    struct dirent **list = NULL;
    int n = scandir(dir, &list, is_db, alphasort), rc = 0;
    if (n < 0) return bp_cli_fail(err, "%s: cannot read the folder (%s)", dir, strerror(errno));
    if (n == 0) fprintf(out, "%s: no database to merge\n", dir);
    for (int k = 0; k < n; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, list[k]->d_name);
        if (!rc) rc = merge_one(out_path, path, out, err);
        free(list[k]);
    }
    free(list);
    return rc;
}

int bp_merge_main(int argc, char **argv, FILE *out, FILE *err) {
    if (argc < 2)
        return bp_cli_fail(
            err,
            "merge wants OUT.db and at least one IN.db (backprop merge OUT.db IN.db...)");
    for (int k = 0; k < argc; k++)
        if (argv[k][0] == '-')
            return bp_cli_fail(err, "merge: unknown option '%s'", argv[k]);
    for (int k = 1; k < argc; k++) {
        struct stat sb;
        int dir = stat(argv[k], &sb) == 0 && S_ISDIR(sb.st_mode);
        if (dir ? merge_dir(argv[0], argv[k], out, err) : merge_one(argv[0], argv[k], out, err))
            return 1;
    }
    return 0;
}
