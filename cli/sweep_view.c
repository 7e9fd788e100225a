/* sweep_view.c: where a sweep run on a cluster stands, read from the target
 * database and the shard folder together (sweeprun_int.h, sw_view).
 *
 * A sweep split into cluster tasks lives in several places at once: the
 * database the merge job merges into, and the shard folder, where each task
 * copies its node-local database when its trial ends (UID-tI-HOST-PID.db)
 * and keeps a marker while it runs (UID-tI-HOST-PID.running). Generating
 * the array, a task deciding whether its trial is done already, and
 * `sweep status` all need the same answer, so it is computed here once,
 * from what is recorded: every database is opened with BP_RUNLOG_UNTOUCHED,
 * which leaves no -wal or -shm file in a shared folder. A trial's place is
 * the best thing any source says of it: done (completed or pruned) over
 * failed (failed, diverged) over stopped (crashed, interrupted: cancelled)
 * over pending; a live marker makes a trial not done running. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweeprun_int.h"

void sw_view_free(sw_view *v) {
    free(v->state);
    memset(v, 0, sizeof *v);
}

/* The place a run's status gives its trial. */
int sw_place_of(const char *status) {
    if (!strcmp(status, "completed") || !strcmp(status, "pruned")) return SW_DONE;
    if (!strcmp(status, "failed") || !strcmp(status, "diverged")) return SW_FAILED;
    if (!strcmp(status, "crashed") || !strcmp(status, "interrupted")) return SW_STOPPED;
    return SW_PENDING;
}

/* Sizes the view for count trials, once the first source says how many. */
static int view_size(sw_view *v, int64_t count, bp_err *e) {
    if (v->count || count <= 0) return 0;
    if (count > 10 * 1000 * 1000)
        return bp_err_set(e, "sweep %s: %lld trials, too many to follow", v->uid,
                          (long long)count);
    if (!(v->state = calloc((size_t)count, 1))) return bp_err_set(e, "out of memory");
    v->count = count;
    return 0;
}

/* A trial's observation from one source, counted in. */
static void observe(sw_view *v, const bp_trial_obs *o, const char *path) {
    if (o->trial < 0 || o->trial >= v->count) return;
    unsigned char p = (unsigned char)sw_place_of(o->status);
    if (p > v->state[o->trial]) v->state[o->trial] = p;
    if (p == SW_DONE && o->trial == v->watch && !v->watch_in[0])
        snprintf(v->watch_in, sizeof v->watch_in, "%s", path);
    if (strcmp(o->status, "completed") || !o->has_objective) return;
    double x = o->objective;
    if (!v->have_best || (v->maximize ? x > v->best : x < v->best) ||
        (x == v->best && o->trial < v->best_trial)) {
        v->have_best = 1, v->best = x, v->best_trial = o->trial;
        snprintf(v->best_params, sizeof v->best_params, "%s", o->params ? o->params : "");
    }
}

/* Reads the sweep from the database at path, if it holds it. A file that
 * is not there is no source; one that cannot be read is an error. */
static int read_db(sw_view *v, const char *path, bp_err *e) {
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    bp_runlog *log = bp_runlog_open(path, BP_RUNLOG_UNTOUCHED, e);
    if (!log) return -1;
    int64_t id, trials;
    bp_trial_obs *list = NULL;
    size_t n = 0;
    int found = bp_runlog_sweep_find(log, v->uid, &id, &trials, e), rc = found < 0 ? -1 : 0;
    if (found == 1 && !v->metric[0]) {
        bp_sweep_row row;
        if (bp_runlog_sweep_read(log, id, &row, e) == 1) {
            snprintf(v->name, sizeof v->name, "%s", row.name ? row.name : "");
            v->maximize = !strncmp(row.objective, "max:", 4);
            snprintf(v->metric, sizeof v->metric, "%s", row.objective + 4);
        }
        bp_sweep_row_free(&row);
    }
    if (found == 1 && !(rc = view_size(v, trials, e)) &&
        !(rc = bp_runlog_sweep_history(log, id, &list, &n, e))) {
        for (size_t k = 0; k < n; k++) observe(v, &list[k], path);
        v->sources++;
    }
    if (!rc && bp_runlog_changed(log))
        rc = bp_err_set(e, "%s was written while it was read: read it again", path);
    bp_trial_obs_free(list, n);
    bp_runlog_close(log);
    return rc;
}

/* Whether a marker's process is certainly gone: it ran on this host, and
 * no process has its pid. Elsewhere it is taken as running. */
static int marker_stale(const char *host, long pid) {
    char here[256];
    if (gethostname(here, sizeof here) != 0) return 0;
    here[sizeof here - 1] = '\0';
    return !strcmp(host, here) && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* A name of the shard folder: UID-tI-HOST-PID.db or .running, taken apart
 * (trial, host, pid). 1 for a database, 2 for a marker, 0 otherwise. */
static int shard_name(const char *name, const char *uid, int64_t *trial, char *host,
                      size_t cap, long *pid) {
    size_t ul = strlen(uid), len = strlen(name);
    if (strncmp(name, uid, ul) || strncmp(name + ul, "-t", 2)) return 0;
    int kind = len > 3 && !strcmp(name + len - 3, ".db")         ? 1
               : len > 8 && !strcmp(name + len - 8, ".running") ? 2
                                                                 : 0;
    char *end;
    long long t = strtoll(name + ul + 2, &end, 10);
    const char *dash = strrchr(name, '-');
    if (!kind || end == name + ul + 2 || *end != '-' || t < 0 || !dash || dash <= end)
        return 0;
    size_t hl = (size_t)(dash - end - 1);
    snprintf(host, cap, "%.*s", (int)(hl < cap ? hl : cap - 1), end + 1);
    *pid = strtol(dash + 1, NULL, 10);
    *trial = t;
    return kind;
}

/* Every database of the sweep in the shard folder, then its markers. */
static int read_dir(sw_view *v, const char *dir, bp_err *e) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : bp_err_set(e, "%s: cannot read the shard folder (%s)",
                                                    dir, strerror(errno));
    int rc = 0;
    for (int pass = 1; pass <= 2 && !rc; pass++) {
        rewinddir(d);
        struct dirent *de;
        while (!rc && (de = readdir(d))) {
            int64_t trial;
            char host[256], path[4096];
            long pid;
            if (shard_name(de->d_name, v->uid, &trial, host, sizeof host, &pid) != pass)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (pass == 1) rc = read_db(v, path, e);
            else if (trial < v->count && v->state[trial] != SW_DONE &&
                     !marker_stale(host, pid))
                v->state[trial] = SW_RUNNING;
        }
    }
    closedir(d);
    return rc;
}

int sw_view_read(sw_view *v, const char *uid, int64_t count, int64_t watch, const char *db,
                 const char *dir, bp_err *e) {
    memset(v, 0, sizeof *v);
    snprintf(v->uid, sizeof v->uid, "%s", uid);
    v->watch = watch;
    if (view_size(v, count, e) || (db && read_db(v, db, e)) || (dir && read_dir(v, dir, e)))
        return -1;
    return 0;
}

int64_t sw_view_count(const sw_view *v, int place) {
    int64_t n = 0;
    for (int64_t i = 0; i < v->count; i++) n += v->state[i] == place;
    return n;
}

char *sw_shard_dir(const sw_args *a) {
    if (a->shard_dir) return strdup(a->shard_dir);
    const char *db = bp_runlog_default_path(a->db), *slash = strrchr(db, '/');
    size_t n = slash ? (size_t)(slash - db) + 1 : 0;
    char *dir = malloc(n + 8);
    if (dir) snprintf(dir, n + 8, "%.*sshards", (int)n, db);
    return dir;
}

int sw_make_dirs(const char *dir, bp_err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return bp_err_set(e, "cannot create the folder %s (%s)", path, strerror(errno));
        *p = c;
        if (!c) return 0;
    }
}
