/* liveness.c: whether the process that holds a run or a sweep is still
 * there (runlog_int.h), for the reap at every writable open, a resume's
 * claim of a run or a sweep, and a sweep's wait for its trials.
 *
 * Why a lock, and why this one:
 *  - A (host, pid) pair names a process only in one PID namespace. A run in
 *    a container, or under `unshare --pid`, records a pid that means nothing
 *    (or another process) outside it, on a machine with the same host name:
 *    such runs were marked crashed while alive, and `sweep --resume` ran
 *    their trials a second time. What every process on a machine shares is
 *    the kernel, so the proof of life is a lock the kernel keeps for the
 *    live process and drops when it ends, however it ends (SIGKILL
 *    included), whatever namespace it is in.
 *  - The lock is an open file description lock (F_OFD_SETLK) on one byte of
 *    a file beside the database, PATH-lock: byte id for run id, byte 2^62 +
 *    id for sweep id. Not a classic POSIX lock: those belong to the process
 *    (two run logs of one process would not exclude each other) and closing
 *    any descriptor of the file drops them all. Not in the database file
 *    itself: SQLite's own POSIX locks live there, and another descriptor of
 *    it closed would drop them. The descriptor is close-on-exec, so a
 *    script's os.execute does not carry it; a child forked without exec
 *    shares it until it exits (the run then looks alive as long as the
 *    child lives, which errs on the side of not rerunning).
 *  - Not a lease (a time the run refreshes, as Optuna's heartbeat): a lease
 *    proves death only after it has expired, so a choice of timeout decides
 *    between marking a slow process dead and waiting long for a dead one;
 *    the lock answers at once, and is exact.
 *  - The lock proves something only where the kernel that holds it is the
 *    one asked: a run records the kernel's boot id (boot) beside the lock.
 *    A run with our boot id is judged by its lock alone, whatever its host
 *    name (containers get host names of their own). Any other run, and
 *    every run recorded before schema version 5 or where no lock could be
 *    had (boot NULL), is judged as before: only on this host, by its pid
 *    and when that process started (a pid can be reused). A run of another
 *    machine is never judged.
 *  - A run's or sweep's row says 'running' until its process records an
 *    end; the lock is taken in the transaction that makes it 'running' (so
 *    nobody sees it running and unlocked), and a resume takes it the same
 *    way, which is what stops two resumes of one run at once. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "runlog_int.h"

/* ------------------------------------------------------------------------ */
/* The lock file                                                             */

/* The kernel's boot id into buf ("" when it cannot be read). */
static void read_boot_id(char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (!f) return;
    if (!fgets(buf, (int)cap, f)) buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

/* PATH-lock opened read-write, created (with the database's owner and
 * mode, as SQLite makes its -wal and -shm) if missing; -1 if it cannot be. */
static int open_lock_file(const char *path, const char *db) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT) return fd;
    struct stat sb;
    mode_t mode = stat(db, &sb) == 0 ? (sb.st_mode & 0666) : 0644;
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return errno == EEXIST ? open(path, O_RDWR | O_CLOEXEC) : -1;
    if (fchmod(fd, mode)) {} /* the umask aside: whoever writes the database */
    if (geteuid() == 0 && stat(db, &sb) == 0 && fchown(fd, sb.st_uid, sb.st_gid)) {}
    return fd;
}

/* The room kept for a run's end on a full disk: the lock file holds
 * ROOM bytes of its own (allocated, not a sparse hole), which rl_room_free
 * gives back when a write finds the disk full, so that the run's status
 * (a few pages in the WAL) still fits where its metrics did not. Kept at
 * every writable open; a disk too full to allocate it keeps what it has. */
#define ROOM (24 * 1024)
static void keep_room(int fd) {
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size < ROOM) {
        int rc = posix_fallocate(fd, 0, ROOM);
        (void)rc; /* no room to keep is no error: the disk is as it is */
    }
}

int rl_room_free(bp_runlog *log) {
    struct stat sb;
    if (log->lock_fd < 0 || fstat(log->lock_fd, &sb) != 0 || sb.st_size == 0) return -1;
    return ftruncate(log->lock_fd, 0) == 0 ? 0 : -1;
}

void rl_lock_open(bp_runlog *log) {
    log->lock_fd = log->probe_fd = -1;
#ifdef F_OFD_SETLK
    size_t n = strlen(log->path);
    char *path = malloc(n + 6);
    if (!path) return;
    memcpy(path, log->path, n);
    memcpy(path + n, "-lock", 6);
    read_boot_id(log->boot, sizeof log->boot);
    if (log->boot[0]) log->lock_fd = open_lock_file(path, log->path);
    keep_room(log->lock_fd);
    /* A second description: our own locks conflict with it, so that a
     * probe through it sees this log's runs alive too. Read-only is enough
     * to ask. */
    log->probe_fd = open(path, (log->lock_fd >= 0 ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    free(path);
#endif
}

void rl_lock_close(bp_runlog *log) {
    if (log->lock_fd >= 0) close(log->lock_fd);
    if (log->probe_fd >= 0) close(log->probe_fd);
    log->lock_fd = log->probe_fd = -1;
}

#ifdef F_OFD_SETLK
static struct flock byte_at(short type, int64_t at) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)at;
    fl.l_len = 1;
    return fl;
}
#endif

int rl_lock_take(bp_runlog *log, int64_t at) {
#ifdef F_OFD_SETLK
    if (log->lock_fd < 0) return -1;
    struct flock fl = byte_at(F_WRLCK, at);
    if (fcntl(log->lock_fd, F_OFD_SETLK, &fl) == 0) return 0;
    return errno == EAGAIN || errno == EACCES ? 1 : -1;
#else
    (void)log, (void)at;
    return -1;
#endif
}

void rl_lock_drop(bp_runlog *log, int64_t at) {
#ifdef F_OFD_SETLK
    struct flock fl = byte_at(F_UNLCK, at);
    if (log->lock_fd >= 0) fcntl(log->lock_fd, F_OFD_SETLK, &fl);
#else
    (void)log, (void)at;
#endif
}

int rl_lock_held(bp_runlog *log, int64_t at) {
#ifdef F_OFD_SETLK
    struct flock fl = byte_at(F_WRLCK, at);
    if (log->probe_fd < 0 || fcntl(log->probe_fd, F_OFD_GETLK, &fl) != 0) return -1;
    return fl.l_type != F_UNLCK;
#else
    (void)log, (void)at;
    return -1;
#endif
}

int rl_lock_row(bp_runlog *log, int sweep, int64_t id, bp_err *e) {
    if (rl_lock_take(log, sweep ? RL_LOCK_SWEEP(id) : RL_LOCK_RUN(id)) == 0) return 0;
    sqlite3_stmt *st = rl_prepare(log,
                                  sweep ? "UPDATE sweeps SET boot = NULL WHERE id = ?"
                                        : "UPDATE runs SET boot = NULL WHERE id = ?",
                                  e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    return rl_run_stmt(log, st, "cannot record who holds it", e);
}

/* ------------------------------------------------------------------------ */
/* The rule of rows without a lock: host, pid and start time                 */

/* /proc/PID/stat into buf (cap bytes), and where its fields after the
 * command name begin: at the last ')', since the name may hold spaces and
 * parentheses. NULL when there is no such process or no ')'. */
static char *read_stat(long pid, char *buf, size_t cap) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
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
    FILE *f = fopen("/proc/stat", "re");
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

/* Is the process that took a row (at `since`) still there? A pid can be
 * reused: a process started after the row was taken is not its. */
static int pid_alive(long pid, double since) {
    if (pid <= 0) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    if (process_dead(pid)) return 0;
    double t = process_start(pid);
    return !(t > 0 && t > since + 2.0); /* btime is whole seconds */
}

int rl_owner_gone(bp_runlog *log, int64_t at, const rl_owner *o) {
    if (o->boot && log->boot[0] && !strcmp(o->boot, log->boot))
        return rl_lock_held(log, at) == 0;
    char host[256];
    if (rl_hostname(host, sizeof host) || !o->host || strcmp(o->host, host)) return 0;
    return !pid_alive(o->pid, o->since);
}

void rl_owner_text(char *buf, size_t cap, const rl_owner *o, const char *host) {
    if (o->host && strcmp(o->host, host))
        snprintf(buf, cap, "(pid %ld on %s)", o->pid, o->host);
    else snprintf(buf, cap, "(pid %ld)", o->pid);
}

int rl_claim(bp_runlog *log, int sweep, int64_t id, int *got, rl_holder *h, bp_err *e) {
    memset(h, 0, sizeof *h);
    *got = -1;
    sqlite3_stmt *st =
        rl_prepare(log,
                   sweep ? "SELECT status, host, boot, pid, coalesce(claimed, started), 0"
                           " FROM sweeps WHERE id = ?"
                         : "SELECT status, host, boot, pid, coalesce(claimed, started),"
                           " claimed IS NOT NULL FROM runs WHERE id = ?",
                   e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st), rc = 0;
    if (r != SQLITE_ROW) {
        rc = r == SQLITE_DONE ? bp_err_set(e, "%s: no %s %lld", log->path,
                                           sweep ? "sweep" : "run", (long long)id)
                              : rl_fail(log, e, "cannot read who holds it");
        goto out;
    }
    rl_owner o = {(const char *)sqlite3_column_text(st, 1),
                  (const char *)sqlite3_column_text(st, 2),
                  (long)sqlite3_column_int64(st, 3), sqlite3_column_double(st, 4)};
    char host[256];
    rl_hostname(host, sizeof host);
    h->running = !strcmp((const char *)sqlite3_column_text(st, 0), "running");
    h->resumed = sqlite3_column_int(st, 5);
    rl_owner_text(h->who, sizeof h->who, &o, host);
    /* A row with our boot id is judged by its lock, which is taken just
     * below unless another holds it; a row of this process is its own. */
    int by_lock = o.boot && log->boot[0] && !strcmp(o.boot, log->boot);
    int self = o.pid == (long)getpid() && o.host && !strcmp(o.host, host);
    int64_t at = sweep ? RL_LOCK_SWEEP(id) : RL_LOCK_RUN(id);
    if (h->running && !by_lock && !self && !rl_owner_gone(log, at, &o)) rc = 1;
    else if ((*got = rl_lock_take(log, at)) == 1) rc = 1;
out:
    sqlite3_finalize(st);
    return rc;
}
