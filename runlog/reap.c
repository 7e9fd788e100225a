/* reap.c: runs and sweeps whose process is gone (bp_runlog_reap).
 *
 * A run killed with SIGKILL, or whose machine lost power, stays 'running' in
 * the database. Every writable open looks at the runs and sweeps left
 * running on this host and asks /proc whether their process is still there,
 * and is still the same process (a pid can be reused); those that are not
 * are marked 'crashed' (a run) or 'interrupted' (a sweep). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "runlog_int.h"

/* /proc/PID/stat into buf (cap bytes), and where its fields after the
 * command name begin: at the last ')', since the name may hold spaces and
 * parentheses. NULL when there is no such process or no ')'. */
static char *read_stat(long pid, char *buf, size_t cap) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strrchr(buf, ')');
}

/* When process pid started, in seconds since 1970 (0 if unknown): field 22
 * of /proc/PID/stat, in clock ticks since boot, plus /proc/stat's btime. */
static double process_start(long pid) {
    char buf[1024];
    char *p = read_stat(pid, buf, sizeof buf);
    if (!p) return 0;
    /* After ')' come fields 3, 4, ...: skip to the 22nd. */
    for (int field = 2; field < 21 && p; field++) p = strchr(p + 1, ' ');
    if (!p) return 0;
    unsigned long long ticks = strtoull(p + 1, NULL, 10);
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    unsigned long long btime = 0;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1) break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (!btime || hz <= 0) return 0;
    return (double)btime + (double)ticks / (double)hz;
}

/* Whether process pid has died but not yet been waited for (state Z or X in
 * /proc/PID/stat): kill(pid, 0) still succeeds on such a zombie, and where no
 * parent reaps orphans (some container inits) it can stay for ever. */
static int process_dead(long pid) {
    char buf[512];
    char *p = read_stat(pid, buf, sizeof buf);
    return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Is the process that began a run (at `started`) still there? A pid can be
 * reused: a process started after the run is not the run's. */
static int run_alive(long pid, double started) {
    if (pid <= 0) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    if (process_dead(pid)) return 0;
    double t = process_start(pid);
    return !(t > 0 && t > started + 2.0); /* btime is whole seconds */
}

/* The runs and sweeps left 'running' on host whose process is gone, into
 * *dead (malloc'd, the caller frees; pairs: 0 for a run or 1 for a sweep,
 * then its id) and *n. A sweep is judged by when its current process took
 * it (a resume). Call with db_lock held. */
static int find_dead(bp_runlog *log, const char *host, int64_t **dead, int *n,
                     bp_err *e) {
    int rc = -1, cap = 0, r;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT 0, id, pid, started FROM runs"
                   " WHERE status = 'running' AND host = ?1"
                   " UNION ALL SELECT 1, id, pid, coalesce(claimed, started)"
                   " FROM sweeps WHERE status = 'running' AND host = ?1",
                   e);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (run_alive((long)sqlite3_column_int64(st, 2), sqlite3_column_double(st, 3)))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *v = realloc(*dead, 2 * (size_t)cap * sizeof *v);
            if (!v) {
                bp_err_set(e, "out of memory");
                goto end;
            }
            *dead = v;
        }
        (*dead)[2 * *n] = sqlite3_column_int64(st, 0);
        (*dead)[2 * *n + 1] = sqlite3_column_int64(st, 1);
        (*n)++;
    }
    if (r != SQLITE_DONE) {
        rl_fail(log, e, "cannot look for crashed runs");
        goto end;
    }
    rc = 0;
end:
    sqlite3_finalize(st);
    return rc;
}

/* Marks the n runs and sweeps of find_dead in one transaction, if they are
 * still running. Returns how many it marked, or -1. */
static int mark_dead(bp_runlog *log, const int64_t *dead, int n, bp_err *e) {
    if (rl_begin_write(log, e)) return -1;
    sqlite3_stmt *upd[2] = {
        rl_prepare(log,
                   "UPDATE runs SET status = 'crashed', message = coalesce(message,"
                   " 'the process ended without recording an end')"
                   " WHERE id = ? AND status = 'running'",
                   e),
        rl_prepare(log,
                   "UPDATE sweeps SET status = 'interrupted', ended = coalesce(ended, ?2)"
                   " WHERE id = ?1 AND status = 'running'",
                   e)};
    int marked = 0;
    for (int k = 0; upd[0] && upd[1] && k < n; k++) {
        sqlite3_stmt *u = upd[dead[2 * k]];
        sqlite3_bind_int64(u, 1, dead[2 * k + 1]);
        if (dead[2 * k]) sqlite3_bind_double(u, 2, bp_runlog_time());
        if (sqlite3_step(u) != SQLITE_DONE) {
            rl_fail(log, e,
                    dead[2 * k] ? "cannot mark an interrupted sweep"
                                : "cannot mark a crashed run");
            marked = -1;
            break;
        }
        marked += sqlite3_changes(log->db);
        sqlite3_reset(u);
    }
    if (!upd[0] || !upd[1] || marked < 0) {
        marked = -1;
        rl_rollback(log);
    } else if (rl_commit(log, e)) {
        marked = -1;
    }
    sqlite3_finalize(upd[0]);
    sqlite3_finalize(upd[1]);
    return marked;
}

int bp_runlog_reap(bp_runlog *log, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    char host[256];
    if (rl_hostname(host, sizeof host)) return 0;
    pthread_mutex_lock(&log->db_lock);
    int64_t *dead = NULL;
    int n = 0;
    int marked = find_dead(log, host, &dead, &n, e);
    if (marked == 0 && n > 0) marked = mark_dead(log, dead, n, e);
    pthread_mutex_unlock(&log->db_lock);
    free(dead);
    return marked;
}
