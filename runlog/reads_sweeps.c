/* reads_sweeps.c: the reads of sweeps that `backprop sweep show` and
 * `backprop plot --sweep` print: the list, one sweep's row, its trials with
 * their swept parameters, and the statistics per parameter value.
 *
 * The trials come from the view sweep_trials (schema/views.sql), which
 * decides which attempt of a trial counts; these functions only copy its
 * rows out. The statistics are the view sweep_param_stats' for one sweep,
 * written out here with the sweep's filter on sweep_trials: SQLite does not
 * push a filter through that view's GROUP BY into sweep_trials, and would
 * make the trials of every sweep first (scripts/bench/NOTES.md, W7). */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runlog_int.h"
#include "reads_int.h"

/* ------------------------------------------------------------------------ */
/* The list                                                                  */

static int sweep_row(sqlite3_stmt *st, void *row, void *ctx) {
    bp_sweep_item *w = row;
    (void)ctx;
    w->id = sqlite3_column_int64(st, 0);
    w->done = sqlite3_column_int64(st, 4);
    w->trials = sqlite3_column_int64(st, 5);
    return rd_text(st, 1, &w->name) || rd_text(st, 2, &w->status) ||
                   rd_text(st, 3, &w->strategy) || rd_text(st, 6, &w->direction) ||
                   rd_text(st, 7, &w->objective) || rd_value(st, 8, &w->best) ||
                   rd_text(st, 9, &w->started)
               ? -1
               : 0;
}

int bp_runlog_sweeps_list(bp_runlog *log, bp_sweep_item **rows, size_t *n, bp_err *e) {
    *rows = NULL, *n = 0;
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(
        bp_runlog_sqlite(log),
        "SELECT w.id, w.name, w.status, w.strategy, (SELECT count(*) FROM"
        " sweep_trials t WHERE t.sweep_id = w.id AND t.status IN ('completed',"
        " 'failed', 'diverged', 'pruned')), w.trials, w.direction, w.objective,"
        " CASE w.direction WHEN 'max' THEN (SELECT max(objective)"
        " FROM sweep_trials t WHERE t.sweep_id = w.id AND t.status ="
        " 'completed') ELSE (SELECT min(objective) FROM sweep_trials t WHERE"
        " t.sweep_id = w.id AND t.status = 'completed') END,"
        " datetime(w.started, 'unixepoch') FROM sweeps w ORDER BY w.id DESC",
        -1, &st, NULL);
    int rc = rd_rows(log, st, rows, n, sizeof **rows, sweep_row, NULL, e);
    bp_runlog_unlock(log);
    if (rc) bp_sweep_list_free(*rows, *n), *rows = NULL, *n = 0;
    return rc;
}

void bp_sweep_list_free(bp_sweep_item *rows, size_t n) {
    for (size_t k = 0; rows && k < n; k++) {
        bp_sweep_item *w = &rows[k];
        free(w->name), free(w->status), free(w->strategy), free(w->direction);
        free(w->objective), free(w->started);
        rd_value_free(&w->best);
    }
    free(rows);
}

/* ------------------------------------------------------------------------ */
/* One sweep                                                                 */

int bp_runlog_sweep_detail(bp_runlog *log, int64_t sweep, bp_sweep_detail *d, bp_err *e) {
    memset(d, 0, sizeof *d);
    bp_runlog_lock(log);
    sqlite3 *db = bp_runlog_sqlite(log);
    sqlite3_stmt *st = NULL;
    int rc = -1, r;
    if (sqlite3_prepare_v2(
            db,
            "SELECT name, status, script_path, spec, strategy, trials, direction,"
            " objective, prune, strftime('%Y-%m-%d %H:%M:%S', started, 'unixepoch'),"
            " strftime('%Y-%m-%d %H:%M:%S', ended, 'unixepoch'), command, uid,"
            " keys, message FROM sweeps WHERE id = ?",
            -1, &st, NULL) != SQLITE_OK) {
        if (strstr(sqlite3_errmsg(db), "no such table"))
            bp_err_set(e, "%s: this database has no sweeps (an older backprop made it)",
                       bp_runlog_path(log));
        else rd_fail(log, e);
        goto out;
    }
    sqlite3_bind_int64(st, 1, sweep);
    if ((r = sqlite3_step(st)) == SQLITE_DONE) {
        bp_err_set(e, "%s: no sweep %lld", bp_runlog_path(log), (long long)sweep);
        goto out;
    }
    if (r != SQLITE_ROW) {
        rd_fail(log, e);
        goto out;
    }
    d->trials = sqlite3_column_int64(st, 5);
    char **text[] = {&d->name,     &d->status,    &d->script_path, &d->spec,
                     &d->strategy, &d->direction, &d->objective,   &d->prune,
                     &d->started,  &d->ended,     &d->command,     &d->uid,
                     &d->keys,     &d->message};
    const int col[] = {0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    rc = 0;
    for (size_t k = 0; k < sizeof col / sizeof *col && !rc; k++)
        rc = rd_text(st, col[k], text[k]);
    if (rc) rd_oom(e);
out:
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    if (rc) bp_sweep_detail_free(d);
    return rc;
}

void bp_sweep_detail_free(bp_sweep_detail *d) {
    if (!d) return;
    char *text[] = {d->name,      d->status,    d->script_path, d->spec,    d->strategy,
                    d->direction, d->objective, d->prune,       d->started, d->ended,
                    d->command,   d->uid,       d->keys,        d->message};
    for (size_t k = 0; k < sizeof text / sizeof *text; k++) free(text[k]);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------------------ */
/* Trials                                                                    */

/* The trials' statement: by trial, or best first in the sweep's direction
 * (the completed trials by their objective, then the others by trial). */
static sqlite3_stmt *trials_stmt(bp_runlog *log, int64_t sweep, int best_first) {
    sqlite3 *db = bp_runlog_sqlite(log);
    sqlite3_stmt *st = NULL;
    int max = 0;
    if (best_first) {
        if (sqlite3_prepare_v2(db, "SELECT direction = 'max' FROM sweeps WHERE id = ?",
                               -1, &st, NULL) != SQLITE_OK)
            return NULL;
        sqlite3_bind_int64(st, 1, sweep);
        int r = sqlite3_step(st);
        max = r == SQLITE_ROW && sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (r != SQLITE_ROW && r != SQLITE_DONE) return NULL;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT t.trial, t.run_id, t.status, t.objective, t.seed, t.duration_s,"
             " t.status = 'completed' AND t.objective IS NOT NULL AS ranked"
             " FROM sweep_trials t WHERE t.sweep_id = ?"
             " ORDER BY %s t.trial",
             !best_first ? ""
             : max       ? "ranked DESC, CASE WHEN ranked THEN t.objective END DESC,"
                         : "ranked DESC, CASE WHEN ranked THEN t.objective END ASC,");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_int64(st, 1, sweep);
    return st;
}

/* The trial's values of keys, from params (pv: run and key to bind). */
static int trial_params(sqlite3_stmt *pv, bp_trial_row *t, const char *const *keys,
                        int nkeys) {
    t->params = calloc(nkeys > 0 ? (size_t)nkeys : 1, sizeof *t->params);
    if (!t->params) return -1;
    t->n_params = nkeys;
    for (int k = 0; k < nkeys; k++) {
        sqlite3_bind_int64(pv, 1, t->run);
        sqlite3_bind_text(pv, 2, keys[k], -1, SQLITE_STATIC);
        int r = sqlite3_step(pv), bad = 0;
        if (r == SQLITE_ROW) bad = rd_value(pv, 0, &t->params[k]);
        sqlite3_reset(pv);
        if (bad) return -1;
        if (r != SQLITE_ROW && r != SQLITE_DONE) return 1;
    }
    return 0;
}

/* What each trial's row needs besides the row: its parameters' statement
 * and keys. */
typedef struct trial_ctx {
    sqlite3_stmt *pv;
    const char *const *keys;
    int nkeys;
} trial_ctx;

/* Reads one trial's row and parameters: 0, -1 out of memory, 1 SQLite. */
static int trial_row(sqlite3_stmt *st, void *row, void *ctx) {
    bp_trial_row *t = row;
    const trial_ctx *c = ctx;
    t->trial = sqlite3_column_int64(st, 0);
    t->run = sqlite3_column_int64(st, 1);
    t->ranked = sqlite3_column_int(st, 6);
    if (rd_text(st, 2, &t->status) || rd_value(st, 3, &t->objective) ||
        rd_value(st, 4, &t->seed) || rd_value(st, 5, &t->duration_s))
        return -1;
    return trial_params(c->pv, t, c->keys, c->nkeys);
}

int bp_runlog_sweep_trials(bp_runlog *log, int64_t sweep, const char *const *keys,
                           int nkeys, int best_first, bp_trial_row **trials, size_t *n,
                           bp_err *e) {
    *trials = NULL, *n = 0;
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    trial_ctx c = {NULL, keys, nkeys};
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log),
                           "SELECT CASE WHEN type = 'bool' THEN CASE WHEN value"
                           " THEN 'true' ELSE 'false' END ELSE value END"
                           " FROM params WHERE run_id = ? AND key = ?",
                           -1, &c.pv, NULL) == SQLITE_OK)
        st = trials_stmt(log, sweep, best_first);
    int rc = rd_rows(log, st, trials, n, sizeof **trials, trial_row, &c, e);
    sqlite3_finalize(c.pv);
    bp_runlog_unlock(log);
    if (rc) bp_trial_rows_free(*trials, *n), *trials = NULL, *n = 0;
    return rc;
}

void bp_trial_rows_free(bp_trial_row *trials, size_t n) {
    for (size_t k = 0; trials && k < n; k++) {
        bp_trial_row *t = &trials[k];
        free(t->status);
        for (int j = 0; t->params && j < t->n_params; j++) rd_value_free(&t->params[j]);
        free(t->params);
    }
    free(trials);
}

/* ------------------------------------------------------------------------ */
/* Statistics per parameter value                                            */

static int param_stat(sqlite3_stmt *st, void *row, void *ctx) {
    bp_sweep_param_stat *p = row;
    (void)ctx;
    return rd_text(st, 0, &p->key) || rd_value(st, 1, &p->value) ||
                   rd_value(st, 2, &p->trials) || rd_value(st, 3, &p->best) ||
                   rd_value(st, 4, &p->mean)
               ? -1
               : 0;
}

int bp_runlog_sweep_param_stats(bp_runlog *log, int64_t sweep, bp_sweep_param_stat **out,
                                size_t *n, bp_err *e) {
    *out = NULL, *n = 0;
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            bp_runlog_sqlite(log),
            "WITH t AS MATERIALIZED (SELECT trial, run_id, setting, objective"
            "  FROM sweep_trials WHERE sweep_id = ?1 AND status = 'completed'"
            "  AND objective IS NOT NULL),"
            " g AS (SELECT min(trial) AS first, count(*) AS n, avg(objective) AS obj"
            "  FROM t GROUP BY setting)"
            " SELECT p.key, p.value, sum(g.n), CASE s.direction WHEN 'max'"
            " THEN max(g.obj) ELSE min(g.obj) END, sum(g.obj * g.n) / sum(g.n)"
            " FROM g JOIN t ON t.trial = g.first JOIN sweeps s ON s.id = ?1"
            " JOIN params p ON p.run_id = t.run_id"
            " WHERE instr(' ' || s.keys || ' ', ' ' || p.key || ' ') > 0"
            " GROUP BY p.key, p.value"
            " ORDER BY instr(' ' || s.keys || ' ', ' ' || p.key || ' '), p.value",
            -1, &st, NULL) == SQLITE_OK)
        sqlite3_bind_int64(st, 1, sweep);
    int rc = rd_rows(log, st, out, n, sizeof **out, param_stat, NULL, e);
    bp_runlog_unlock(log);
    if (rc) bp_sweep_param_stats_free(*out, *n), *out = NULL, *n = 0;
    return rc;
}

void bp_sweep_param_stats_free(bp_sweep_param_stat *stats, size_t n) {
    for (size_t k = 0; stats && k < n; k++) {
        free(stats[k].key);
        rd_value_free(&stats[k].value);
    }
    free(stats);
}
