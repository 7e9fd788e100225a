/* trials.c: what the sweep supervisor reads back of its sweeps and their
 * trials (bp_sweeplog.h).
 *
 * Each function is one statement (or two) on the sweeps table and the
 * sweep_trials view, run with the connection held. Strings that the
 * supervisor prints in lines of fixed buffers are copied into the caller's
 * buffers, truncated; longer or unbounded ones (a script's text, a run's
 * message) are malloc'd. */
#define _XOPEN_SOURCE 700 /* strdup */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_sweeplog.h"
#include "runlog_int.h"
#include "sweeplog_int.h"

int sl_fail(bp_runlog *log, bp_err *e, const char *what) {
    return bp_err_set(e, "%s: %s (%s)", bp_runlog_path(log), what,
                      sqlite3_errmsg(bp_runlog_sqlite(log)));
}

/* sql prepared with id bound to ?1, or NULL (the connection held). */
static sqlite3_stmt *prepare_id(bp_runlog *log, const char *sql, int64_t id) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, id);
    return st;
}

/* Steps st (NULL: it could not be prepared) to its one row: 1 when there
 * is one, 0 when there is none, -1 with "PATH: what (...)". */
static int step_row(bp_runlog *log, sqlite3_stmt *st, const char *what, bp_err *e) {
    int r = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (r == SQLITE_ROW) return 1;
    if (r == SQLITE_DONE) return 0;
    return sl_fail(log, e, what);
}

/* Column col as text into buf ("" for NULL), truncated to fit. */
static void copy_text(char *buf, size_t size, sqlite3_stmt *st, int col) {
    const char *s = (const char *)sqlite3_column_text(st, col);
    snprintf(buf, size, "%s", s ? s : "");
}

/* Column col as a malloc'd string into *out (NULL for NULL); -1 if out of
 * memory. */
static int dup_text(char **out, sqlite3_stmt *st, int col) {
    const char *s = (const char *)sqlite3_column_text(st, col);
    *out = s ? strdup(s) : NULL;
    return s && !*out ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Trials                                                                    */

bp_trial_state bp_trial_status_state(const char *status) {
    if (!strcmp(status, "running")) return BP_TRIAL_RUNNING;
    if (!strcmp(status, "completed") || !strcmp(status, "failed") ||
        !strcmp(status, "diverged") || !strcmp(status, "pruned"))
        return BP_TRIAL_DONE;
    return BP_TRIAL_RETRY;
}

int bp_runlog_trial_states(bp_runlog *log, int64_t sweep, int64_t count,
                           unsigned char *state, bp_err *e) {
    memset(state, BP_TRIAL_NEW, (size_t)count);
    bp_runlog_lock(log);
    sqlite3_stmt *st = prepare_id(
        log, "SELECT trial, status FROM sweep_trials WHERE sweep_id = ?", sweep);
    int rc = -1, r = SQLITE_ERROR;
    while (st && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(st, 0);
        const char *s = (const char *)sqlite3_column_text(st, 1);
        if (t < 0 || t >= count || !s) continue;
        state[t] = (unsigned char)bp_trial_status_state(s);
    }
    if (r == SQLITE_DONE) rc = 0;
    else sl_fail(log, e, "cannot read the sweep's trials");
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

int bp_runlog_trial_outcome(bp_runlog *log, int64_t sweep, int64_t trial, int64_t pid,
                            const char *metric, bp_trial_outcome *o, bp_err *e) {
    memset(o, 0, sizeof *o);
    bp_runlog_lock(log);
    sqlite3_stmt *st =
        prepare_id(log,
                   "SELECT r.status, r.message, (SELECT ms.last_value FROM"
                   " metric_summary ms JOIN metric_names n ON n.id = ms.name_id"
                   " WHERE ms.run_id = r.id AND n.name = ?4),"
                   " (SELECT params FROM sweep_trials WHERE run_id = r.id)"
                   " FROM runs r WHERE r.sweep_id = ?1 AND r.trial = ?2"
                   " AND r.pid = ?3 ORDER BY r.id DESC LIMIT 1",
                   sweep);
    if (st) {
        sqlite3_bind_int64(st, 2, trial);
        sqlite3_bind_int64(st, 3, pid);
        sqlite3_bind_text(st, 4, metric, -1, SQLITE_STATIC);
    }
    int rc = step_row(log, st, "cannot read the trial's run", e);
    if (rc == 1) {
        copy_text(o->status, sizeof o->status, st, 0);
        copy_text(o->message, sizeof o->message, st, 1);
        o->has_objective = sqlite3_column_type(st, 2) != SQLITE_NULL;
        o->objective = sqlite3_column_double(st, 2);
        copy_text(o->params, sizeof o->params, st, 3);
    }
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

int bp_runlog_trial_crashed(bp_runlog *log, int64_t sweep, int64_t trial, int64_t pid,
                            const char *message, bp_err *e) {
    bp_runlog_lock(log);
    sqlite3_stmt *st = prepare_id(log,
                                  "UPDATE runs SET status = 'crashed', ended = ?4,"
                                  " message = coalesce(message, ?5) WHERE sweep_id = ?1"
                                  " AND trial = ?2 AND pid = ?3 AND status = 'running'",
                                  sweep);
    int rc = -1;
    if (st) {
        sqlite3_bind_int64(st, 2, trial);
        sqlite3_bind_int64(st, 3, pid);
        sqlite3_bind_double(st, 4, bp_runlog_time());
        sqlite3_bind_text(st, 5, message, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_DONE) rc = 0;
    }
    if (rc) sl_fail(log, e, "cannot mark the trial's run crashed");
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

int bp_runlog_trial_resumable(bp_runlog *log, int64_t sweep, int64_t trial, int64_t *run,
                              int *checkpointed, char *params, size_t size, bp_err *e) {
    bp_runlog_lock(log);
    sqlite3_stmt *st = prepare_id(log,
                                  "SELECT id, status IN ('crashed', 'interrupted')"
                                  " AND script_id IS NOT NULL, EXISTS (SELECT 1 FROM"
                                  " checkpoints c WHERE c.run_id = runs.id),"
                                  " coalesce(params_text, '')"
                                  " FROM runs WHERE sweep_id = ?1 AND trial = ?2"
                                  " ORDER BY started DESC, id DESC LIMIT 1",
                                  sweep);
    int rc = -1, r = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 2, trial);
        r = sqlite3_step(st);
    }
    if (r == SQLITE_ROW && sqlite3_column_int(st, 1)) {
        *run = sqlite3_column_int64(st, 0);
        *checkpointed = sqlite3_column_int(st, 2);
        snprintf(params, size, "%s", (const char *)sqlite3_column_text(st, 3));
        rc = 1;
    } else if (r == SQLITE_ROW || r == SQLITE_DONE) {
        rc = 0;
    } else {
        sl_fail(log, e, "cannot read the trial's runs");
    }
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

int64_t bp_runlog_trials_here(bp_runlog *log, int64_t sweep, int64_t *trial, int64_t *pid,
                              int64_t cap, bp_err *e) {
    char host[256];
    int known = rl_hostname(host, sizeof host) == 0;
    bp_runlog_lock(log);
    sqlite3_stmt *st = prepare_id(log,
                                  "SELECT trial, pid FROM runs WHERE sweep_id = ?1"
                                  " AND status = 'running' AND trial IS NOT NULL"
                                  " AND (boot = ?2 OR host = ?3) ORDER BY trial",
                                  sweep);
    if (st && log->boot[0]) sqlite3_bind_text(st, 2, log->boot, -1, SQLITE_STATIC);
    if (st && known) sqlite3_bind_text(st, 3, host, -1, SQLITE_STATIC);
    int64_t n = 0;
    int r = SQLITE_ERROR;
    while (st && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (n < cap) {
            if (trial) trial[n] = sqlite3_column_int64(st, 0);
            if (pid) pid[n] = sqlite3_column_int64(st, 1);
        }
        n++;
    }
    if (r != SQLITE_DONE) n = sl_fail(log, e, "cannot read the sweep's trials");
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return n;
}

/* ------------------------------------------------------------------------ */
/* A sweep                                                                   */

void bp_sweep_row_free(bp_sweep_row *row) {
    if (!row) return;
    free(row->name);
    free(row->script_path);
    free(row->spec);
    free(row->objective);
    free(row->prune);
    free(row->status);
    free(row->message);
    free(row->script_text);
    memset(row, 0, sizeof *row);
}

int bp_runlog_sweep_read(bp_runlog *log, int64_t id, bp_sweep_row *row, bp_err *e) {
    memset(row, 0, sizeof *row);
    bp_runlog_lock(log);
    sqlite3_stmt *st = prepare_id(
        log,
        "SELECT w.name, w.script_path, w.spec, w.direction || ':' || w.objective,"
        " w.prune, w.status, w.message, s.text FROM sweeps w"
        " LEFT JOIN scripts s ON s.id = w.script_id WHERE w.id = ?",
        id);
    int rc = step_row(log, st, "cannot read the sweep", e);
    if (rc == 1) {
        char **col[] = {&row->name,  &row->script_path, &row->spec,    &row->objective,
                        &row->prune, &row->status,      &row->message, &row->script_text};
        for (int k = 0; k < 8; k++)
            if (dup_text(col[k], st, k)) rc = bp_err_set(e, "out of memory");
    }
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    if (rc < 0) bp_sweep_row_free(row);
    return rc;
}

int bp_runlog_sweep_find(bp_runlog *log, const char *uid, int64_t *id, int64_t *trials,
                         bp_err *e) {
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log),
                           "SELECT id, trials FROM sweeps WHERE uid = ?", -1, &st,
                           NULL) == SQLITE_OK)
        sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
    int rc = step_row(log, st, "cannot look up the sweep", e);
    if (rc == 1) {
        *id = sqlite3_column_int64(st, 0);
        *trials = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

int bp_runlog_sweep_uids(bp_runlog *log, char (**uids)[17], size_t *n, bp_err *e) {
    *uids = NULL, *n = 0;
    size_t cap = 0;
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(bp_runlog_sqlite(log),
                               "SELECT uid FROM sweeps ORDER BY id", -1, &st, NULL);
    int oom = 0;
    while (r == SQLITE_OK && !oom && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            char(*g)[17] = realloc(*uids, cap * sizeof *g);
            if ((oom = !g)) break;
            *uids = g;
        }
        copy_text((*uids)[(*n)++], 17, st, 0);
        r = SQLITE_OK;
    }
    int rc = oom                ? bp_err_set(e, "out of memory")
             : r != SQLITE_DONE ? sl_fail(log, e, "cannot list the sweeps")
                                : 0;
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    if (rc) free(*uids), *uids = NULL, *n = 0;
    return rc;
}

int bp_runlog_sweep_counts(bp_runlog *log, int64_t sweep, bp_sweep_counts *c, bp_err *e) {
    memset(c, 0, sizeof *c);
    bp_runlog_lock(log);
    sqlite3_stmt *st =
        prepare_id(log,
                   "SELECT sum(status = 'completed'), sum(status = 'failed'),"
                   " sum(status = 'diverged'), sum(status = 'pruned'),"
                   " sum(status IN ('crashed', 'interrupted', 'running')),"
                   " count(*) FROM sweep_trials WHERE sweep_id = ?",
                   sweep);
    int rc = step_row(log, st, "cannot count the sweep's trials", e);
    if (rc == 1) {
        int64_t *v[] = {&c->completed, &c->failed,     &c->diverged,
                        &c->pruned,    &c->unfinished, &c->recorded};
        for (int k = 0; k < 6; k++) *v[k] = sqlite3_column_int64(st, k);
        rc = 0;
    } else if (rc == 0) {
        rc = sl_fail(log, e, "cannot count the sweep's trials");
    }
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

int bp_runlog_sweep_best(bp_runlog *log, int64_t sweep, int maximize, int64_t *trial,
                         int64_t *run, double *objective, char *params, size_t size,
                         bp_err *e) {
    /* A setting's objective is its repeats' mean (the view sweep_settings),
     * which without --repeats is its one trial's. */
    const char *sql =
        maximize
            ? "SELECT min(trial), min(run_id), avg(objective), params FROM sweep_trials"
              " WHERE sweep_id = ? AND status = 'completed' AND objective IS NOT NULL"
              " GROUP BY setting ORDER BY 3 DESC, 1 LIMIT 1"
            : "SELECT min(trial), min(run_id), avg(objective), params FROM sweep_trials"
              " WHERE sweep_id = ? AND status = 'completed' AND objective IS NOT NULL"
              " GROUP BY setting ORDER BY 3, 1 LIMIT 1";
    bp_runlog_lock(log);
    sqlite3_stmt *st = prepare_id(log, sql, sweep);
    int rc = step_row(log, st, "cannot read the sweep's best trial", e);
    if (rc == 1) {
        *trial = sqlite3_column_int64(st, 0);
        *run = sqlite3_column_int64(st, 1);
        *objective = sqlite3_column_double(st, 2);
        if (params) copy_text(params, size, st, 3);
    }
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

int bp_runlog_sweep_setting_spread(bp_runlog *log, int64_t sweep, int64_t trial,
                                   int64_t *repeats, double *sd, bp_err *e) {
    bp_runlog_lock(log);
    sqlite3_stmt *st =
        prepare_id(log,
                   "SELECT repeats, objective_sd FROM sweep_settings WHERE sweep_id = ?1"
                   " AND setting = (SELECT setting FROM sweep_trials WHERE sweep_id = ?1"
                   " AND trial = ?2)",
                   sweep);
    if (st) sqlite3_bind_int64(st, 2, trial);
    int rc = step_row(log, st, "cannot read the setting's repeats", e);
    *repeats = 0, *sd = NAN;
    if (rc == 1) {
        *repeats = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) *sd = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

void bp_trial_problems_free(bp_trial_problem *list, size_t n) {
    for (size_t k = 0; list && k < n; k++) free(list[k].message);
    free(list);
}

/* Appends one row of the problems' statement to *list; -1 if out of memory. */
static int add_problem(bp_trial_problem **list, size_t *n, size_t *cap,
                       sqlite3_stmt *st) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        bp_trial_problem *g = realloc(*list, c * sizeof *g);
        if (!g) return -1;
        *list = g, *cap = c;
    }
    bp_trial_problem *p = &(*list)[*n];
    copy_text(p->status, sizeof p->status, st, 0);
    p->trial = sqlite3_column_int64(st, 1);
    p->run = sqlite3_column_int64(st, 2);
    p->rank = sqlite3_column_int64(st, 4);
    p->count = sqlite3_column_int64(st, 5);
    if (dup_text(&p->message, st, 3)) return -1;
    (*n)++;
    return 0;
}

/* The end of reading a list of rows: the reason of a failure (memory, or
 * SQLite's r after what) in e, the statement finalised and the lock let go;
 * 0 when every row was read. */
static int end_list(bp_runlog *log, sqlite3_stmt *st, int r, int oom, const char *what,
                    bp_err *e) {
    int rc = -1;
    if (oom) bp_err_set(e, "out of memory");
    else if (r != SQLITE_DONE) sl_fail(log, e, what);
    else rc = 0;
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

int bp_runlog_sweep_problems(bp_runlog *log, int64_t sweep, int64_t most,
                             bp_trial_problem **list, size_t *n, bp_err *e) {
    size_t cap = 0;
    *list = NULL, *n = 0;
    bp_runlog_lock(log);
    sqlite3_stmt *st =
        prepare_id(log,
                   "SELECT t.status, t.trial, t.run_id, r.message,"
                   " row_number() OVER (PARTITION BY t.status ORDER BY t.trial),"
                   " count(*) OVER (PARTITION BY t.status)"
                   " FROM sweep_trials t JOIN runs r ON r.id = t.run_id"
                   " WHERE t.sweep_id = ? AND t.status IN ('failed', 'diverged',"
                   " 'crashed', 'interrupted') ORDER BY t.status, t.trial",
                   sweep);
    int r = SQLITE_ERROR, oom = 0;
    while (st && !oom && (r = sqlite3_step(st)) == SQLITE_ROW)
        if (sqlite3_column_int64(st, 4) <= most) oom = add_problem(list, n, &cap, st);
    int rc = end_list(log, st, r, oom, "cannot read the sweep's trials", e);
    if (rc) {
        bp_trial_problems_free(*list, *n);
        *list = NULL, *n = 0;
    }
    return rc;
}

int bp_runlog_sweep_pruned(bp_runlog *log, int64_t sweep, bp_trial_pruned **list,
                           size_t *n, bp_err *e) {
    size_t cap = 0;
    *list = NULL, *n = 0;
    bp_runlog_lock(log);
    sqlite3_stmt *st =
        prepare_id(log,
                   "SELECT t.trial, (SELECT ms.last_step FROM metric_summary ms"
                   " JOIN metric_names mn ON mn.id = ms.name_id JOIN sweeps s"
                   " ON s.id = t.sweep_id WHERE ms.run_id = t.run_id"
                   " AND mn.name = s.objective), t.duration_s,"
                   " (SELECT avg(duration_s) FROM sweep_trials"
                   "  WHERE sweep_id = t.sweep_id AND status = 'completed')"
                   " FROM sweep_trials t WHERE t.sweep_id = ? AND t.status = 'pruned'"
                   " ORDER BY t.trial",
                   sweep);
    int r = SQLITE_ERROR, oom = 0;
    while (st && !oom && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            bp_trial_pruned *g = realloc(*list, cap * sizeof *g);
            if (!(oom = !g)) *list = g;
            if (oom) break;
        }
        (*list)[(*n)++] =
            (bp_trial_pruned){.trial = sqlite3_column_int64(st, 0),
                              .step = sqlite3_column_int64(st, 1),
                              .duration = sqlite3_column_double(st, 2),
                              .has_mean = sqlite3_column_type(st, 3) != SQLITE_NULL,
                              .mean_duration = sqlite3_column_double(st, 3)};
    }
    int rc = end_list(log, st, r, oom, "cannot read the sweep's pruned trials", e);
    if (rc) {
        free(*list);
        *list = NULL, *n = 0;
    }
    return rc;
}

/* The rows of st (trial, status, params, objective, step) into *list, the
 * first of each trial's rows only (st orders them so). */
static int read_obs(bp_runlog *log, sqlite3_stmt *st, bp_trial_obs **list, size_t *n,
                    bp_err *e) {
    size_t cap = 0;
    int r = SQLITE_ERROR, oom = 0;
    while (st && !oom && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t trial = sqlite3_column_int64(st, 0);
        if (*n > 0 && (*list)[*n - 1].trial == trial) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            bp_trial_obs *g = realloc(*list, cap * sizeof *g);
            if ((oom = !g)) break;
            *list = g;
        }
        bp_trial_obs *o = &(*list)[*n];
        memset(o, 0, sizeof *o);
        o->trial = trial;
        copy_text(o->status, sizeof o->status, st, 1);
        oom = dup_text(&o->params, st, 2);
        o->has_objective = sqlite3_column_type(st, 3) != SQLITE_NULL;
        o->objective = sqlite3_column_double(st, 3);
        o->last_step =
            sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 4);
        ++*n;
    }
    int rc = end_list(log, st, r, oom, "cannot read the sweep's trials", e);
    if (rc) {
        bp_trial_obs_free(*list, *n);
        *list = NULL, *n = 0;
    }
    return rc;
}

int bp_runlog_sweep_history(bp_runlog *log, int64_t sweep, bp_trial_obs **list, size_t *n,
                            bp_err *e) {
    *list = NULL, *n = 0;
    bp_runlog_lock(log);
    sqlite3_stmt *st = prepare_id(
        log,
        "SELECT t.trial, t.status, t.params, t.objective, (SELECT ms.last_step FROM"
        " metric_summary ms JOIN metric_names mn ON mn.id = ms.name_id JOIN sweeps s"
        " ON s.id = t.sweep_id WHERE ms.run_id = t.run_id AND mn.name = s.objective)"
        " FROM sweep_trials t WHERE t.sweep_id = ? ORDER BY t.trial",
        sweep);
    return read_obs(log, st, list, n, e);
}

/* The runs of the sweep by trial, each trial's chosen run first as
 * sweep_trials chooses it (a finished one, else the latest); the
 * objective's summary found by its name's id, looked up once. */
int bp_runlog_sweep_observations(bp_runlog *log, int64_t sweep, bp_trial_obs **list,
                                 size_t *n, bp_err *e) {
    *list = NULL, *n = 0;
    bp_runlog_lock(log);
    sqlite3_stmt *st = prepare_id(
        log,
        "SELECT r.trial, r.status, r.params_text, ms.last_value, ms.last_step FROM runs r"
        " LEFT JOIN metric_summary ms ON ms.run_id = r.id AND ms.name_id = (SELECT"
        " mn.id FROM metric_names mn JOIN sweeps s ON mn.name = s.objective WHERE s.id ="
        " ?1) WHERE r.sweep_id = ?1 AND r.trial IS NOT NULL ORDER BY r.trial, r.status IN"
        " ('completed', 'failed', 'diverged', 'pruned') DESC, r.started DESC, r.id DESC",
        sweep);
    return read_obs(log, st, list, n, e);
}

void bp_trial_obs_free(bp_trial_obs *list, size_t n) {
    for (size_t k = 0; list && k < n; k++) free(list[k].params);
    free(list);
}
