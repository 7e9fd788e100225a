/* sweep_status.c: `backprop sweep status`, the progress of sweeps run on a
 * cluster, across the target database and the shard folder, without
 * merging (sweeprun_int.h).
 *
 * Each task's progress line counts only its own shard; this reads them all
 * (sw_view: read-only, leaving no -wal or -shm file in the shared folder)
 * and prints, per sweep, done, running, failed, stopped (cancelled or
 * crashed) and pending trials, which trials those are, and the best so far.
 * Its exit status says whether every trial is done, which the merge job's
 * own status then tells the scheduler. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bp_cli.h"
#include "sweeprun_int.h"

#define MAX_UIDS 64

/* Adds uid to the list if it is not there. */
static void add_uid(char (*uids)[17], int *n, const char *uid) {
    for (int k = 0; k < *n; k++)
        if (!strcmp(uids[k], uid)) return;
    if (*n < MAX_UIDS) snprintf(uids[(*n)++], 17, "%s", uid);
}

/* The sweeps of the target database, then those with files in the folder. */
static int find_uids(const char *db, const char *dir, char (*uids)[17], int *n, bp_err *e) {
    struct stat sb;
    if (stat(db, &sb) == 0) {
        bp_runlog *log = bp_runlog_open(db, BP_RUNLOG_UNTOUCHED, e);
        char(*list)[17] = NULL;
        size_t m = 0;
        if (!log || bp_runlog_sweep_uids(log, &list, &m, e)) {
            bp_runlog_close(log);
            return -1;
        }
        for (size_t k = 0; k < m; k++) add_uid(uids, n, list[k]);
        free(list);
        bp_runlog_close(log);
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *t = strstr(de->d_name, "-t");
        if (t == de->d_name + 16 && strspn(de->d_name, "0123456789abcdef") == 16) {
            char uid[17];
            snprintf(uid, sizeof uid, "%.16s", de->d_name);
            add_uid(uids, n, uid);
        }
    }
    if (d) closedir(d);
    return 0;
}

/* The trials at place, "3, 7-9", on a line after label, if any. */
static void list_place(FILE *out, const sw_view *v, int place, const char *label) {
    int64_t shown = 0;
    for (int64_t i = 0; i < v->count; i++) {
        if (v->state[i] != place) continue;
        int64_t j = i;
        while (j + 1 < v->count && v->state[j + 1] == place) j++;
        fprintf(out, "%s%lld", shown ? ", " : label, (long long)i);
        if (j > i) fprintf(out, "-%lld", (long long)j);
        shown++;
        i = j;
    }
    if (shown) fputc('\n', out);
}

/* One sweep's status; 1 when every trial is done. */
static int show(FILE *out, const sw_view *v) {
    int64_t done = sw_view_count(v, SW_DONE);
    fprintf(out,
            "sweep %s (%s): %lld trials: %lld done, %lld running, %lld failed, %lld stopped,"
            " %lld pending; ",
            v->uid, v->name, (long long)v->count, (long long)done,
            (long long)sw_view_count(v, SW_RUNNING), (long long)sw_view_count(v, SW_FAILED),
            (long long)sw_view_count(v, SW_STOPPED), (long long)sw_view_count(v, SW_PENDING));
    if (v->have_best)
        fprintf(out, "best %s %.6g (trial %lld: %s)\n", v->metric, v->best,
                (long long)v->best_trial, v->best_params);
    else fprintf(out, "no trial completed yet\n");
    list_place(out, v, SW_RUNNING, "  running: ");
    list_place(out, v, SW_FAILED, "  failed or diverged: ");
    list_place(out, v, SW_STOPPED, "  stopped (cancelled, crashed): ");
    list_place(out, v, SW_PENDING, "  pending: ");
    return done == v->count;
}

int sw_status_main(int argc, char **argv, const bp_sweep_host *h) {
    sw_args a;
    memset(&a, 0, sizeof a);
    const char *only = NULL;
    for (int k = 0; k < argc; k++) {
        int last = k + 1 >= argc;
        if ((!strcmp(argv[k], "--db") || !strcmp(argv[k], "--shard-dir")) && last)
            return bp_cli_fail(h->err, "sweep status: %s needs a value", argv[k]);
        if (!strcmp(argv[k], "--db")) a.db = argv[++k];
        else if (!strcmp(argv[k], "--shard-dir")) a.shard_dir = argv[++k];
        else if (argv[k][0] != '-' && !only && strlen(argv[k]) == 16) only = argv[k];
        else
            return bp_cli_fail(h->err, "sweep status: unexpected '%s' (sweep status [--db"
                                       " PATH] [--shard-dir DIR] [UID])", argv[k]);
    }
    const char *db = bp_runlog_default_path(a.db);
    char *dir = sw_shard_dir(&a);
    char uids[MAX_UIDS][17];
    int n = 0, rc = 0, all_done = 1;
    bp_err e;
    if (!dir) return bp_cli_fail(h->err, "out of memory");
    if (only) add_uid(uids, &n, only);
    else if (find_uids(db, dir, uids, &n, &e)) rc = bp_cli_fail(h->err, "%s", e.msg);
    if (!rc && n == 0) rc = bp_cli_fail(h->err, "no sweep in %s nor in %s", db, dir);
    for (int k = 0; k < n && !rc; k++) {
        sw_view v;
        if (sw_view_read(&v, uids[k], 0, -1, db, dir, &e)) rc = bp_cli_fail(h->err, "%s", e.msg);
        else if (!v.count) rc = bp_cli_fail(h->err, "sweep %s: in neither %s nor %s", uids[k], db, dir);
        else all_done &= show(h->out, &v);
        sw_view_free(&v);
    }
    free(dir);
    return rc ? rc : all_done ? 0 : 2;
}
