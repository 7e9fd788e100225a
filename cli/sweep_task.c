/* sweep_task.c: `backprop sweep --task I`, one trial as a cluster task runs
 * it (sweeprun_int.h), what the scripts of --slurm and --parallel start.
 *
 * Why it is built this way:
 *  - Every trial once, wherever it ran: before anything runs, the target
 *    database and the shard folder are read (sw_view, leaving no file
 *    there); a trial completed in either is not run again, and the task
 *    says so and exits 0 (an array resubmitted whole, a node's $TMPDIR
 *    wiped, change nothing).
 *  - SQLite must not be written over a network file system: the trial runs
 *    into a database of its own on node-local storage ($TMPDIR, else
 *    /tmp), which is copied into the shard folder only once its outcome is
 *    recorded, under a temporary name and then renamed: the folder never
 *    holds half a database, which `merge` and `sweep status` would read.
 *  - While it runs, a marker in the shard folder (UID-tI-HOST-PID.running,
 *    removed at the end) lets `sweep status` count the trial as running.
 *  - The exit status says the trial's outcome, so that the array's states
 *    (sacct, `parallel --joblog`) name the trials that did not complete. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "sweeprun_int.h"

/* Copies the file src to dst under dst's folder's temporary name, then
 * renames it: dst is whole or absent. -1 with the reason. */
static int copy_atomic(const char *src, const char *dst, bp_err *e) {
    char tmp[4300], buf[1 << 16];
    snprintf(tmp, sizeof tmp, "%s.part-%ld", dst, (long)getpid());
    int in = open(src, O_RDONLY), out = -1, rc = -1;
    if (in < 0) {
        bp_err_set(e, "cannot read %s (%s)", src, strerror(errno));
        goto end;
    }
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666)) < 0) {
        bp_err_set(e, "cannot write %s (%s)", tmp, strerror(errno));
        goto end;
    }
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) break;
    if (n != 0 || fsync(out) != 0 || close(out) != 0) {
        bp_err_set(e, "cannot copy %s to %s (%s)", src, tmp, strerror(errno));
        out = -1;
        unlink(tmp);
        goto end;
    }
    out = -1;
    if (rename(tmp, dst) != 0) {
        bp_err_set(e, "cannot rename %s to %s (%s)", tmp, dst, strerror(errno));
        unlink(tmp);
        goto end;
    }
    rc = 0;
end:
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    return rc;
}

/* The place of trial `trial` in the database at path: its run's outcome. */
static int outcome_place(bp_runlog *log, int64_t id, int64_t trial, char *status,
                         size_t cap) {
    bp_trial_obs *list = NULL;
    size_t n = 0;
    bp_err e;
    int place = SW_PENDING;
    snprintf(status, cap, "not recorded");
    if (bp_runlog_sweep_history(log, id, &list, &n, &e) == 0)
        for (size_t k = 0; k < n; k++)
            if (list[k].trial == trial) {
                place = sw_place_of(list[k].status);
                snprintf(status, cap, "%s", list[k].status);
            }
    bp_trial_obs_free(list, n);
    return place;
}

/* Runs the trial into the node-local database at local: the command's
 * status (a signal's), and the trial's place and status. */
static int run_local(const sw_args *a, const sw_def *d, const bp_sweep_host *h, int argc,
                     char **argv, const char *local, int *place, char *status, size_t cap) {
    sw_args one = *a;
    one.trial = a->task; /* recorded as a shard's sweep, as --trial's */
    bp_runlog *log = sw_open(local, 0, h->err);
    if (!log) return 1;
    int created;
    int64_t id = sw_record(log, &one, d, h, argc, argv, &created);
    if (id >= 0) sw_warn_no_reference(log, id, d, local, h->err);
    int rc = id < 0 ? 1 : sw_execute(log, local, id, d, &one, h, a->task);
    if (id >= 0) *place = outcome_place(log, id, a->task, status, cap);
    bp_runlog_close(log);
    return rc;
}

/* The trial's file name in the shard folder, and its marker's. */
static void shard_names(const sw_def *d, int64_t trial, const char *dir, char *db,
                        char *marker, size_t cap) {
    char host[256];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    snprintf(db, cap, "%s/%s-t%lld-%s-%ld.db", dir, d->uid, (long long)trial, host,
             (long)getpid());
    snprintf(marker, cap, "%s/%s-t%lld-%s-%ld.running", dir, d->uid, (long long)trial,
             host, (long)getpid());
}

static void write_marker(const char *marker) {
    FILE *f = fopen(marker, "w");
    if (!f) return; /* only `sweep status` misses it */
    const char *job = getenv("SLURM_JOB_ID");
    fprintf(f, "started %.0f%s%s\n", bp_runlog_time(), job ? " slurm job " : "",
            job ? job : "");
    fclose(f);
}

/* Runs the trial, copies its database back, and says how it ended. */
static int run_task(const sw_args *a, const sw_def *d, const bp_sweep_host *h, int argc,
                    char **argv, const char *dir) {
    char db[4200], marker[4200], local[4200], lock[4300], status[32];
    const char *tmp = getenv("TMPDIR");
    snprintf(local, sizeof local, "%s/backprop-%s-t%lld-%ld.db", tmp && *tmp ? tmp : "/tmp",
             d->uid, (long long)a->task, (long)getpid());
    snprintf(lock, sizeof lock, "%s-lock", local);
    shard_names(d, a->task, dir, db, marker, sizeof db);
    bp_err e;
    if (sw_make_dirs(dir, &e)) return bp_cli_fail(h->err, "%s", e.msg);
    write_marker(marker);
    int place = SW_PENDING;
    int rc = run_local(a, d, h, argc, argv, local, &place, status, sizeof status);
    if (place != SW_PENDING && copy_atomic(local, db, &e)) {
        bp_cli_fail(h->err, "%s (the trial's database stays in %s)", e.msg, local);
        rc = 1;
    } else {
        unlink(local);
        unlink(lock);
    }
    unlink(marker);
    if (rc) return rc;
    if (place == SW_DONE) return 0;
    if (place == SW_PENDING)
        return bp_cli_fail(h->err, "sweep %s: trial %lld: no run of it was recorded",
                           d->uid, (long long)a->task);
    return bp_cli_fail(h->err, "sweep %s: trial %lld %s (its database: %s)", d->uid,
                       (long long)a->task, status, db);
}

int sw_task(const sw_args *a, const sw_def *d, const bp_sweep_host *h, int argc,
            char **argv) {
    char *dir = sw_shard_dir(a);
    if (!dir) return bp_cli_fail(h->err, "out of memory");
    sw_view v;
    bp_err e;
    int rc = 1;
    if (sw_view_read(&v, d->uid, bp_sweep_count(d->spec), a->task,
                     bp_runlog_default_path(a->db), dir, &e)) {
        bp_cli_fail(h->err, "%s", e.msg);
    } else if (v.state[a->task] == SW_DONE) {
        fprintf(h->out, "sweep %s: trial %lld is completed already (in %s); not run again\n",
                d->uid, (long long)a->task, v.watch_in);
        rc = 0;
    } else {
        rc = run_task(a, d, h, argc, argv, dir);
    }
    sw_view_free(&v);
    free(dir);
    return rc;
}
