/* write.c: a run's life in the database: begun, named, its parameters,
 * tags and notes recorded, ended, reopened by a resume.
 *
 * Each of these is committed before the call returns, in a transaction of
 * its own (rl_write_one), so that what a run has recorded is there even if
 * its process is killed the next moment. The helpers a sweep's row needs as
 * well (the script stored once, the default name) are here and shared
 * through runlog_int.h. */
#define _XOPEN_SOURCE 700
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "bp_util.h"
#include "runlog_int.h"

#ifndef BP_VERSION
#define BP_VERSION "unknown"
#endif

int rl_writable(bp_runlog *log, bp_err *e) {
    if (log->readonly)
        return bp_err_set(e, "%s: the run log was opened read-only", log->path);
    return 0;
}

/* Runs one prepared, bound statement as its own transaction; finalizes it.
 * Call with db_lock held. */
int rl_write_one(bp_runlog *log, sqlite3_stmt *st, const char *what, bp_err *e) {
    if (rl_begin_write(log, e)) {
        sqlite3_finalize(st);
        return -1;
    }
    if (rl_run_stmt(log, st, what, e)) {
        rl_rollback(log);
        return -1;
    }
    if (sqlite3_changes(log->db) == 0) {
        rl_rollback(log);
        return bp_err_set(e, "%s: %s (no such run)", log->path, what);
    }
    return rl_commit(log, e);
}

int64_t rl_script_id(bp_runlog *log, const char *text, bp_err *e) {
    size_t n = strlen(text);
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx",
             (unsigned long long)bp_fnv1a(BP_FNV1A_INIT, text, n));
    sqlite3_stmt *st =
        rl_prepare(log, "SELECT id FROM scripts WHERE hash = ?1 AND text = ?2", e);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, (int)n, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return id;
    if (rc != SQLITE_DONE) return rl_fail(log, e, "cannot look up the script");
    st = rl_prepare(log, "INSERT INTO scripts(hash, text) VALUES (?1, ?2)", e);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, (int)n, SQLITE_STATIC);
    if (rl_run_stmt(log, st, "cannot store the script", e)) return -1;
    return sqlite3_last_insert_rowid(log->db);
}

/* "scripts/xor.lua" -> "xor". */
void rl_default_name(const char *script, char *out, size_t cap) {
    if (!script || !*script) {
        snprintf(out, cap, "run");
        return;
    }
    const char *base = strrchr(script, '/');
    base = base ? base + 1 : script;
    snprintf(out, cap, "%s", base);
    size_t n = strlen(out);
    if (n > 4 && strcmp(out + n - 4, ".lua") == 0) out[n - 4] = '\0';
    if (!*out) snprintf(out, cap, "run");
}

int rl_one_of(const char *s, const char *const *list, size_t n) {
    for (size_t k = 0; s && k < n; k++)
        if (strcmp(s, list[k]) == 0) return 1;
    return 0;
}

int rl_hostname(char *buf, size_t cap) {
    if (gethostname(buf, cap) != 0) {
        snprintf(buf, cap, "?");
        return -1;
    }
    buf[cap - 1] = '\0';
    return 0;
}

/* Inserts the run's row (and its script, once): its id, or -1. boot: the
 * kernel's boot id when this process runs it and will hold its lock, else
 * NULL. Call inside a write transaction. */
static int64_t insert_run(bp_runlog *log, const bp_run_info *info, const char *name,
                          const char *host, const char *boot, bp_err *e) {
    int64_t sid = 0;
    if (info->script_text && (sid = rl_script_id(log, info->script_text, e)) < 0)
        return -1;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "INSERT INTO runs(name, script_path, script_id, command, seed,"
                   " started, status, host, pid, version, sweep_id, trial, boot)"
                   " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                   e);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (info->script_path) sqlite3_bind_text(st, 2, info->script_path, -1, SQLITE_STATIC);
    if (sid) sqlite3_bind_int64(st, 3, sid);
    if (info->command) sqlite3_bind_text(st, 4, info->command, -1, SQLITE_STATIC);
    if (info->has_seed) sqlite3_bind_int64(st, 5, info->seed);
    sqlite3_bind_double(st, 6, bp_runlog_time());
    sqlite3_bind_text(st, 7, host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, info->pid ? info->pid : (long)getpid());
    sqlite3_bind_text(st, 9, info->version ? info->version : BP_VERSION, -1,
                      SQLITE_STATIC);
    if (info->sweep_id > 0) {
        sqlite3_bind_int64(st, 10, info->sweep_id);
        sqlite3_bind_int64(st, 11, info->trial);
    }
    if (boot) sqlite3_bind_text(st, 12, boot, -1, SQLITE_STATIC);
    if (rl_run_stmt(log, st,
                    info->sweep_id > 0 ? "cannot record the run (is there a sweep"
                                         " with that id?)"
                                       : "cannot record the run",
                    e))
        return -1;
    return sqlite3_last_insert_rowid(log->db);
}

int64_t bp_runlog_begin(bp_runlog *log, const bp_run_info *info, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    bp_run_info none = {0};
    if (!info) info = &none;
    char name[256], host[256];
    if (info->name && *info->name) snprintf(name, sizeof name, "%s", info->name);
    else rl_default_name(info->script_path, name, sizeof name);
    if (info->host) snprintf(host, sizeof host, "%s", info->host);
    else rl_hostname(host, sizeof host);
    /* A run recorded for another process (info->pid, info->host) is not
     * this one's to hold. */
    int mine = (!info->pid || info->pid == (long)getpid()) && !info->host;
    const char *boot = mine && log->lock_fd >= 0 ? log->boot : NULL;

    pthread_mutex_lock(&log->db_lock);
    int64_t run = -1;
    if (rl_begin_write(log, e) == 0) {
        int64_t id = insert_run(log, info, name, host, boot, e);
        if (id > 0 && boot && rl_lock_row(log, 0, id, e)) id = -1;
        if (id < 0) rl_rollback(log);
        else if (rl_commit(log, e)) rl_lock_drop(log, RL_LOCK_RUN(id));
        else run = id;
    }
    pthread_mutex_unlock(&log->db_lock);
    return run;
}

static int set_column(bp_runlog *log, int64_t run, const char *sql, int64_t i,
                      const char *s, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log, sql, e);
    if (st) {
        if (s) sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
        else sqlite3_bind_int64(st, 1, i);
        sqlite3_bind_int64(st, 2, run);
        rc = rl_write_one(log, st, "cannot update the run", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

int bp_runlog_set_seed(bp_runlog *log, int64_t run, int64_t seed, bp_err *e) {
    return set_column(log, run, "UPDATE runs SET seed = ?1 WHERE id = ?2", seed, NULL, e);
}

int bp_runlog_set_name(bp_runlog *log, int64_t run, const char *name, bp_err *e) {
    if (!name || !*name) return bp_err_set(e, "a run's name cannot be empty");
    return set_column(log, run, "UPDATE runs SET name = ?1 WHERE id = ?2", 0, name, e);
}

/* Parameters. `text` is the value as remembered by the cache: its type and
 * its exact bits, so equal text means an equal value. */
enum { P_INT, P_REAL, P_TEXT, P_BOOL };
static const char *const ptype_names[] = {"int", "real", "text", "bool"};

/* The parameter key of run as last written by this log, or NULL. */
static rl_param_seen *seen_find(bp_runlog *log, int64_t run, const char *key) {
    for (size_t k = 0; k < log->seen_n; k++)
        if (log->seen[k].run == run && strcmp(log->seen[k].key, key) == 0)
            return &log->seen[k];
    return NULL;
}

/* Remembers that key of run now holds text (p: its entry, if it has one).
 * Out of memory only forgets: the next write of the key is not skipped. */
static void seen_remember(bp_runlog *log, rl_param_seen *p, int64_t run, const char *key,
                          const char *text) {
    char *copy = strdup(text);
    if (p && copy) {
        free(p->value);
        p->value = copy;
    } else if (copy) {
        char *kcopy = strdup(key);
        if (log->seen_n == log->seen_cap) {
            size_t cap = log->seen_cap ? 2 * log->seen_cap : 16;
            rl_param_seen *v = realloc(log->seen, cap * sizeof *v);
            if (v) log->seen = v, log->seen_cap = cap;
        }
        if (kcopy && log->seen_n < log->seen_cap) {
            log->seen[log->seen_n++] = (rl_param_seen){run, kcopy, copy};
        } else {
            free(kcopy);
            free(copy);
        }
    }
}

/* Writes the parameter's row: the value is i, r or s as type says. */
static int store_param(bp_runlog *log, int64_t run, const char *key, int type, int64_t i,
                       double r, const char *s, bp_err *e) {
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "INSERT INTO params(run_id, key, value, type)"
                   " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (run_id, key)"
                   " DO UPDATE SET value = excluded.value, type = excluded.type",
                   e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        if (type == P_REAL) sqlite3_bind_double(st, 3, r); /* NaN binds as NULL */
        else if (type == P_TEXT) sqlite3_bind_text(st, 3, s, -1, SQLITE_STATIC);
        else sqlite3_bind_int64(st, 3, i);
        sqlite3_bind_text(st, 4, ptype_names[type], -1, SQLITE_STATIC);
        rc = rl_write_one(log, st, "cannot record a parameter", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

static int param(bp_runlog *log, int64_t run, const char *key, int type, int64_t i,
                 double r, const char *s, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (!key || !*key) return bp_err_set(e, "a parameter needs a name");
    if (type == P_TEXT && !s) return bp_err_set(e, "parameter %s: no text given", key);
    char small[64];
    const char *text = small;
    char *big = NULL;
    if (type == P_REAL) {
        uint64_t u;
        memcpy(&u, &r, sizeof u);
        snprintf(small, sizeof small, "r%016llx", (unsigned long long)u);
    } else if (type == P_TEXT) {
        size_t n = strlen(s);
        if (!(big = malloc(n + 2))) return bp_err_set(e, "out of memory");
        big[0] = 't';
        memcpy(big + 1, s, n + 1);
        text = big;
    } else {
        snprintf(small, sizeof small, "%c%lld", type == P_BOOL ? 'b' : 'i', (long long)i);
    }
    rl_param_seen *p = seen_find(log, run, key);
    int rc = 0;
    if (!p || strcmp(p->value, text) != 0) {
        rc = store_param(log, run, key, type, i, r, s, e);
        if (rc == 0) seen_remember(log, p, run, key, text);
    }
    free(big);
    return rc;
}

int bp_runlog_param_int(bp_runlog *log, int64_t run, const char *key, int64_t value,
                        bp_err *e) {
    return param(log, run, key, P_INT, value, 0, NULL, e);
}
int bp_runlog_param_real(bp_runlog *log, int64_t run, const char *key, double value,
                         bp_err *e) {
    return param(log, run, key, P_REAL, 0, value, NULL, e);
}
int bp_runlog_param_text(bp_runlog *log, int64_t run, const char *key, const char *value,
                         bp_err *e) {
    return param(log, run, key, P_TEXT, 0, 0, value, e);
}
int bp_runlog_param_bool(bp_runlog *log, int64_t run, const char *key, int value,
                         bp_err *e) {
    return param(log, run, key, P_BOOL, value != 0, 0, NULL, e);
}

int bp_runlog_tag(bp_runlog *log, int64_t run, const char *key, const char *value,
                  bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (!key || !*key) return bp_err_set(e, "a tag needs a name");
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(log,
                                  "INSERT OR REPLACE INTO tags(run_id, key, value)"
                                  " VALUES (?, ?, ?)",
                                  e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        if (value) sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
        rc = rl_write_one(log, st, "cannot record a tag", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

int bp_runlog_note(bp_runlog *log, int64_t run, const char *text, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (!text) return bp_err_set(e, "a note needs text");
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st =
        rl_prepare(log, "INSERT INTO notes(run_id, time, text) VALUES (?, ?, ?)", e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_double(st, 2, bp_runlog_time());
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        rc = rl_write_one(log, st, "cannot record a note", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

int bp_runlog_text(bp_runlog *log, int64_t run, const char *name, int64_t step,
                   const char *text, size_t len, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    if (!name || !text) return bp_err_set(e, "a text needs a name and text");
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    sqlite3_stmt *st = rl_prepare(
        log, "INSERT INTO texts(run_id, name, step, time, text) VALUES (?, ?, ?, ?, ?)",
        e);
    if (st) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, step);
        sqlite3_bind_double(st, 4, bp_runlog_time());
        sqlite3_bind_text(st, 5, text, (int)len, SQLITE_STATIC);
        rc = rl_write_one(log, st, "cannot record a text", e);
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}

/* The message of a run that lost n metric rows because of why: its own
 * message first, if it has one, then why unless the message says it
 * already, then how many. malloc'd, or NULL. */
static char *lost_message(const char *message, const char *why, size_t n) {
    const char *first = message ? message : "";
    const char *sep = message ? "; " : "";
    if (message && strstr(message, why)) why = "", sep = "";
    char tail[64];
    snprintf(tail, sizeof tail, "%zu metric rows not recorded", n);
    size_t len = strlen(first) + strlen(sep) + strlen(why) + 2 + strlen(tail);
    char *msg = malloc(len + 1);
    if (msg) snprintf(msg, len + 1, "%s%s%s; %s", first, sep, why, tail);
    return msg;
}

/* Sets the run's status, end time, message and traceback. */
static int write_end(bp_runlog *log, int64_t run, const char *status, const char *message,
                     const char *traceback, bp_err *e) {
    sqlite3_stmt *st = rl_prepare(log,
                                  "UPDATE runs SET status = ?1, ended = ?2, message = ?3,"
                                  " traceback = ?4 WHERE id = ?5",
                                  e);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, bp_runlog_time());
    if (message) sqlite3_bind_text(st, 3, message, -1, SQLITE_STATIC);
    if (traceback) sqlite3_bind_text(st, 4, traceback, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, run);
    return rl_write_one(log, st, "cannot end the run", e);
}

const char *const bp_runlog_statuses[BP_RUNLOG_N_STATUSES] = {
    "running", "completed", "failed", "interrupted", "diverged", "crashed", "pruned"};

int bp_runlog_end(bp_runlog *log, int64_t run, const char *status, const char *message,
                  const char *traceback, bp_err *e) {
    const char *const *ends = bp_runlog_statuses + 1; /* all but running */
    if (!rl_one_of(status, ends, BP_RUNLOG_N_STATUSES - 1))
        return bp_err_set(e,
                          "cannot end a run as '%s' (completed, failed, interrupted,"
                          " diverged, crashed or pruned)",
                          status ? status : "(null)");
    if (rl_writable(log, e)) return -1;
    /* The rows go in even if the writer failed before: the error is reported,
     * the status still set. */
    bp_err first = {{0}}, err;
    int bad = rl_take_bg_error(log, &first);
    pthread_mutex_lock(&log->db_lock);
    if (rl_flush_locked(log, &err)) {
        if (!bad) first = err, bad = 1;
        rl_drop_run(log, run, err.msg); /* the run ends: they never will be */
    }
    /* A run that could not record all its metrics did not complete. */
    char why[BP_ERR_MAX];
    size_t lost = rl_lost_of(log, run, why, sizeof why);
    char *msg = lost ? lost_message(message, why, lost) : NULL;
    if (lost && strcmp(status, "completed") == 0) status = "failed";
    int rc = write_end(log, run, status, msg ? msg : message, traceback, &err);
    /* A disk full to the last page: the room the lock file kept is given
     * back for the end, so that the run does not stay 'running' (the
     * failed statement rolled back: SQLite's message is what is left) */
    if (rc && strstr(err.msg, sqlite3_errstr(SQLITE_FULL)) && rl_room_free(log) == 0)
        rc = write_end(log, run, status, msg ? msg : message, traceback, &err);
    pthread_mutex_unlock(&log->db_lock);
    free(msg);
    if (rc && lost)
        return bp_err_set(e, "%s; %zu metric rows not recorded", err.msg, lost);
    if (rc) return bp_err_set(e, "%s", err.msg);
    if (lost) return bp_err_set(e, "%s; %zu metric rows not recorded", why, lost);
    if (bad) return bp_err_set(e, "%s", first.msg);
    return 0;
}

/* Takes run for this process inside a write transaction (rl_claim): 0, 1
 * when another process holds it (e says which), -1. */
static int claim_run(bp_runlog *log, int64_t run, const char *host, bp_err *e) {
    int got;
    rl_holder h;
    int rc = rl_claim(log, 0, run, &got, &h, e);
    if (rc == 1 && !h.running)
        bp_err_set(e, "run %lld is held by another process", (long long)run);
    else if (rc == 1 && h.resumed)
        bp_err_set(e, "run %lld is being resumed by another process %s", (long long)run,
                   h.who);
    else if (rc == 1)
        bp_err_set(e, "run %lld is still running in another process %s", (long long)run,
                   h.who);
    if (rc) return rc;
    rc = -1;
    sqlite3_stmt *st =
        rl_prepare(log,
                   "UPDATE runs SET status = 'running', ended = NULL,"
                   " message = NULL, traceback = NULL, host = ?1, pid = ?2,"
                   " claimed = ?3, boot = ?4, attempts = attempts + 1 WHERE id = ?5",
                   e);
    if (st) {
        sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (long)getpid());
        sqlite3_bind_double(st, 3, bp_runlog_time());
        if (got == 0) sqlite3_bind_text(st, 4, log->boot, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, run);
        rc = rl_run_stmt(log, st, "cannot reopen the run", e);
    }
    if (rc && got == 0) rl_lock_drop(log, RL_LOCK_RUN(run));
    return rc;
}

int bp_runlog_reopen(bp_runlog *log, int64_t run, bp_err *e) {
    if (rl_writable(log, e)) return -1;
    char host[256];
    rl_hostname(host, sizeof host);
    pthread_mutex_lock(&log->db_lock);
    int rc = -1;
    if (rl_begin_write(log, e) == 0) {
        rc = claim_run(log, run, host, e);
        if (rc) {
            rl_rollback(log);
        } else if (rl_commit(log, e)) {
            rl_lock_drop(log, RL_LOCK_RUN(run));
            rc = -1;
        }
    }
    pthread_mutex_unlock(&log->db_lock);
    return rc;
}
