/* access.c: what the file system lets a connection do with a database's
 * path (rl_can_write, rl_read_uri), asked before SQLite is.
 *
 * SQLite says "unable to open database file" for every way a file cannot
 * be opened, and a WAL database in a place that cannot be written fails
 * only at the first read, where it looked like a file that is not a
 * database at all. So the run log asks the file system first and says what
 * is true: the file is read-only, or its directory cannot be written (a WAL
 * database needs its -wal and -shm files beside it).
 *
 * Reading needs care too: a read-only connection to a WAL database must
 * find the -shm file or be able to make it. On a read-only medium, or in a
 * directory that is not ours, after the last writer has gone (which removes
 * both files), only SQLite's immutable mode can read the file: it is then
 * whole in the main file, and nobody who could write it is there. That
 * mode takes no locks, so a writer that came back while a read runs could
 * show that read a torn page (never harm the file, which is only read).
 *
 * A reader that must leave the folder as it found it (`merge`, `query`,
 * `sweep status` on shards in a shared folder: a read-only connection
 * cannot remove the -wal and -shm files it made, and thousands of them are
 * left beside the shards) opens immutable too whenever neither side file is
 * there, which means that no connection has the database open: the file is
 * whole. What it then read is checked afterwards: a writer that opened the
 * file meanwhile has made its -wal file, and a checkpoint changes the
 * file's size or time (rl_stamp_take, rl_stamp_changed). Where a side file
 * is there, a writer may be at work: mode=ro reads through the files it
 * finds, and makes none. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runlog_int.h"

/* The directory of path ("." when it names none), malloc'd; NULL when
 * memory runs out. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (dir) memcpy(dir, path, n), dir[n] = '\0';
    return dir;
}

/* path with suffix ("-wal", "-shm") appended, into buf; whether that file
 * exists, its size in *size. */
static int side_file(char *buf, size_t cap, const char *path, const char *suffix,
                     off_t *size) {
    struct stat sb;
    snprintf(buf, cap, "%s%s", path, suffix);
    int there = stat(buf, &sb) == 0;
    *size = there ? sb.st_size : 0;
    return there;
}

int rl_can_write(const char *path, int exists, bp_err *e) {
    if (exists && access(path, W_OK) != 0)
        return bp_err_set(e, "%s: read-only (%s)", path, strerror(errno));
    char *dir = dir_of(path);
    if (!dir) return bp_err_set(e, "out of memory");
    size_t cap = strlen(path) + 8;
    char *side = malloc(cap);
    off_t size;
    int rc = 0;
    if (!side) {
        rc = bp_err_set(e, "out of memory");
    } else if (access(dir, W_OK) != 0) {
        /* Both side files there and writable: SQLite needs no new file. */
        int err = errno;
        int wal = side_file(side, cap, path, "-wal", &size) && access(side, W_OK) == 0;
        int shm = side_file(side, cap, path, "-shm", &size) && access(side, W_OK) == 0;
        if (!exists || !wal || !shm)
            rc = bp_err_set(e, "%s: cannot write in %s (%s)", path, dir, strerror(err));
    }
    free(side);
    free(dir);
    return rc;
}

/* "file:" and the path with every byte a URI must escape escaped, then
 * query; malloc'd, NULL when memory runs out. */
static char *file_uri(const char *path, const char *query) {
    char *u = malloc(strlen(path) * 3 + strlen(query) + 8), *w = u;
    if (!u) return NULL;
    w += sprintf(w, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("/._-~", *p))
            *w++ = (char)*p;
        else w += sprintf(w, "%%%02X", *p);
    }
    sprintf(w, "?%s", query);
    return u;
}

char *rl_read_uri(const char *path, int untouched, int *immutable_out, bp_err *e) {
    if (access(path, R_OK) != 0) {
        bp_err_set(e, "%s: cannot read (%s)", path, strerror(errno));
        return NULL;
    }
    char *dir = dir_of(path), *side = malloc(strlen(path) + 8), *uri = NULL;
    if (!dir || !side) {
        bp_err_set(e, "out of memory");
        goto out;
    }
    off_t wal_size, shm_size;
    int wal = side_file(side, strlen(path) + 8, path, "-wal", &wal_size);
    int shm = side_file(side, strlen(path) + 8, path, "-shm", &shm_size);
    int immutable = 0;
    if (!shm && access(dir, W_OK) != 0) {
        int err = errno;
        if (wal && wal_size > 0) {
            bp_err_set(e,
                       "%s: cannot read: its -wal file holds changes, and the -shm file"
                       " needed to read them cannot be made in %s (%s)",
                       path, dir, strerror(err));
            goto out;
        }
        immutable = 1;
    }
    if (untouched && !wal && !shm) immutable = 1;
    if (immutable_out) *immutable_out = immutable;
    uri = file_uri(path, immutable ? "mode=ro&immutable=1" : "mode=ro");
    if (!uri) bp_err_set(e, "out of memory");
out:
    free(dir);
    free(side);
    return uri;
}

void rl_stamp_take(const char *path, rl_stamp *s) {
    struct stat sb;
    char *side = malloc(strlen(path) + 8);
    off_t size;
    memset(s, 0, sizeof *s);
    if (stat(path, &sb) == 0) {
        s->ino = sb.st_ino, s->size = sb.st_size;
        s->mtime_s = sb.st_mtim.tv_sec, s->mtime_ns = sb.st_mtim.tv_nsec;
    }
    s->wal = side && side_file(side, strlen(path) + 8, path, "-wal", &size);
    free(side);
}

int rl_stamp_changed(const char *path, const rl_stamp *before) {
    rl_stamp now;
    rl_stamp_take(path, &now);
    return now.ino != before->ino || now.size != before->size ||
           now.mtime_s != before->mtime_s || now.mtime_ns != before->mtime_ns ||
           now.wal != before->wal;
}
