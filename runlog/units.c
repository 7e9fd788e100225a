/* units.c: what a metric's steps count, and where a run's epochs ended.
 *
 * net:fit logs each batch's loss at the batch count and each epoch's
 * figures at the epoch; a series records which (metric_units,
 * runlog/schema/8.sql), so that readers keep the two apart, and a name
 * keeps one unit in a run: logging it in the other is the script's mistake,
 * refused when it is made rather than found in a mixed series later.
 *
 * The check is on the hot path of every metric, so it is one compare in
 * the common case: the unit of each name (by its number, names.c) in the
 * run it was last logged for. A name new to a run is looked for among the
 * pairs this log has seen, then in the database (a resumed run's earlier
 * process), once. Its metric_units row, and an epoch's end, wait beside the
 * metric rows and are written in the writer's transaction of them
 * (writer.c), so that they cost no transaction of their own. */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "runlog_int.h"

const char *const bp_metric_unit_names[2] = {"step", "epoch"};

/* -2 with the message of a name logged in the other unit than `had`. */
static int conflict(int64_t run, const char *text, int had, bp_err *e) {
    bp_err_set(e,
               "metric '%s' of run %lld is logged per %s: it cannot be logged per %s too"
               " (a metric keeps one unit in a run; give the per-%s one another name)",
               text, (long long)run, bp_metric_unit_names[had],
               bp_metric_unit_names[!had], bp_metric_unit_names[!had]);
    return -2;
}

/* The unit of `text` in run as the database holds it: 0 or 1, -1 for none,
 * -2 on failure. Takes db_lock. */
static int unit_in_db(bp_runlog *log, int64_t run, const char *text, bp_err *e) {
    int unit = -1;
    bp_runlog_lock(log);
    if (rl_prepare_once(log, &log->unit_get,
                        "SELECT u.unit FROM metric_units u JOIN metric_names n"
                        " ON n.id = u.name_id WHERE u.run_id = ? AND n.name = ?",
                        e)) {
        bp_runlog_unlock(log);
        return -2;
    }
    sqlite3_bind_int64(log->unit_get, 1, run);
    sqlite3_bind_text(log->unit_get, 2, text, -1, SQLITE_STATIC);
    int r = sqlite3_step(log->unit_get);
    if (r == SQLITE_ROW)
        unit = strcmp((const char *)sqlite3_column_text(log->unit_get, 0), "epoch") == 0;
    else if (r != SQLITE_DONE) unit = -2, rl_fail(log, e, "cannot read a metric's unit");
    sqlite3_reset(log->unit_get);
    bp_runlog_unlock(log);
    return unit;
}

/* Remembers (run, name, unit) among the pairs seen; -1 when out of memory. */
static int seen_add(bp_runlog *log, rl_unit_seen u) {
    if (log->units_seen_n == log->units_seen_cap) {
        size_t cap = log->units_seen_cap ? 2 * log->units_seen_cap : 16;
        rl_unit_seen *v = realloc(log->units_seen, cap * sizeof *v);
        if (!v) return -1;
        log->units_seen = v, log->units_seen_cap = cap;
    }
    log->units_seen[log->units_seen_n++] = u;
    return 0;
}

/* Makes unit_last hold name; -1 when out of memory. */
static int last_reserve(bp_runlog *log, int64_t name) {
    if ((size_t)name < log->unit_last_n) return 0;
    size_t n = log->unit_last_n ? log->unit_last_n : 16;
    while (n <= (size_t)name) n *= 2;
    rl_unit_seen *v = realloc(log->unit_last, n * sizeof *v);
    if (!v) return -1;
    memset(v + log->unit_last_n, 0, (n - log->unit_last_n) * sizeof *v);
    log->unit_last = v, log->unit_last_n = n;
    return 0;
}

/* A name not logged for run lately: its unit among the pairs seen, else in
 * the database, else new (its row queued for the writer). */
static int check_slow(bp_runlog *log, int64_t run, int64_t name, const char *text,
                      int unit, bp_err *e) {
    if (last_reserve(log, name))
        return bp_err_set(e, "%s: out of memory for metric units", log->path);
    int had = -1;
    for (size_t k = 0; k < log->units_seen_n && had < 0; k++)
        if (log->units_seen[k].run == run && log->units_seen[k].name == name)
            had = log->units_seen[k].unit;
    if (had < 0) {
        if ((had = unit_in_db(log, run, text, e)) == -2) return -1;
        rl_unit_seen u = {run, name, had < 0 ? unit : had};
        if (seen_add(log, u))
            return bp_err_set(e, "%s: out of memory for metric units", log->path);
        if (had < 0 && rl_side_add(log, (rl_side){run, name, unit, RL_SIDE_UNIT}, e))
            return -1;
        if (had < 0) had = unit;
    }
    log->unit_last[name] = (rl_unit_seen){run, name, had};
    return had == unit ? 0 : conflict(run, text, had, e);
}

int rl_unit_check(bp_runlog *log, int64_t run, int64_t name, const char *text, int unit,
                  bp_err *e) {
    if ((size_t)name < log->unit_last_n && log->unit_last[name].run == run)
        return log->unit_last[name].unit == unit
                   ? 0
                   : conflict(run, text, log->unit_last[name].unit, e);
    return check_slow(log, run, name, text, unit, e);
}

int rl_side_add(bp_runlog *log, rl_side row, bp_err *e) {
    pthread_mutex_lock(&log->buf_lock);
    rl_sides *p = &log->side_pending;
    int rc = 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        rl_side *v = realloc(p->v, cap * sizeof *v);
        if (v) p->v = v, p->cap = cap;
        else rc = bp_err_set(e, "%s: out of memory for metric units", log->path);
    }
    if (rc == 0) {
        p->v[p->n++] = row;
        /* A unit's row comes with a metric row, which wakes the writer. */
        if (row.kind == RL_SIDE_EPOCH) pthread_cond_signal(&log->wake);
    }
    pthread_mutex_unlock(&log->buf_lock);
    return rc;
}

int rl_sides_take(bp_runlog *log, bp_err *e) {
    rl_sides *w = &log->side_writing, *p = &log->side_pending;
    if (p->n == 0) return 0;
    if (w->n + p->n > w->cap) {
        rl_side *v = realloc(w->v, (w->n + p->n) * sizeof *v);
        if (!v) return bp_err_set(e, "%s: out of memory", log->path);
        w->v = v, w->cap = w->n + p->n;
    }
    memcpy(w->v + w->n, p->v, p->n * sizeof *p->v);
    w->n += p->n;
    p->n = 0;
    return 0;
}

int rl_sides_insert(bp_runlog *log, const int64_t *ids, bp_err *e) {
    const rl_sides *w = &log->side_writing;
    if (w->n == 0) return 0;
    /* A row of a run that is gone is skipped (its metric rows are dropped:
     * writer.c), rather than fail the transaction on its reference. */
    if (rl_prepare_once(log, &log->unit_put,
                     "INSERT OR IGNORE INTO metric_units(run_id, name_id, unit)"
                     " SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
                     e) ||
        rl_prepare_once(log, &log->epoch_put,
                     "INSERT OR REPLACE INTO epochs(run_id, epoch, step)"
                     " SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
                     e))
        return -1;
    for (size_t k = 0; k < w->n; k++) {
        const rl_side *r = &w->v[k];
        sqlite3_stmt *st = r->kind == RL_SIDE_UNIT ? log->unit_put : log->epoch_put;
        sqlite3_bind_int64(st, 1, r->run);
        if (r->kind == RL_SIDE_UNIT) {
            sqlite3_bind_int64(st, 2, ids[r->a]);
            sqlite3_bind_text(st, 3, bp_metric_unit_names[r->b != 0], -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_int64(st, 2, r->a);
            sqlite3_bind_int64(st, 3, r->b);
        }
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return rl_fail(log, e,
                           r->kind == RL_SIDE_UNIT ? "cannot write a metric's unit"
                                                   : "cannot write an epoch's end");
    }
    return 0;
}

void rl_units_free(bp_runlog *log) {
    sqlite3_finalize(log->unit_get);
    sqlite3_finalize(log->unit_put);
    sqlite3_finalize(log->epoch_put);
    free(log->unit_last);
    free(log->units_seen);
    free(log->side_pending.v);
    free(log->side_writing.v);
}
