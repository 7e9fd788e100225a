/* prune_check.c: when a sweep stops a trial (bp_prune.h): the rule's
 * decision at each report, and the sweep a trial's process reads it from.
 *
 * The rules read what the sweep's other trials reported straight from the
 * run log, so every trial's process decides from the same recorded values,
 * whichever process or machine wrote them. The waits (startup, warmup)
 * come first and cost one count at most. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_prune.h"
#include "runlog_int.h"
#include "sweeplog_int.h"

int bp_sweep_info_load(bp_runlog *log, int64_t id, bp_sweep_info *out, bp_err *e) {
    sqlite3 *s = bp_runlog_sqlite(log);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    bp_runlog_lock(log);
    if (sqlite3_prepare_v2(s,
                           "SELECT objective, direction, prune, seed FROM sweeps"
                           " WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        sl_fail(log, e, "cannot read the sweep");
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        bp_err_set(e, "%s: no sweep %lld", bp_runlog_path(log), (long long)id);
        goto out;
    }
    if (r != SQLITE_ROW) {
        sl_fail(log, e, "cannot read the sweep");
        goto out;
    }
    out->id = id;
    out->seed = (uint64_t)sqlite3_column_int64(st, 3);
    const char *dir = (const char *)sqlite3_column_text(st, 1);
    char obj[80];
    snprintf(obj, sizeof obj, "%s:%s", dir ? dir : "min",
             (const char *)sqlite3_column_text(st, 0));
    rc = bp_objective_parse(obj, &out->objective, e);
    if (!rc)
        rc = bp_prune_parse_stored((const char *)sqlite3_column_text(st, 2), &out->prune,
                                   e);
out:
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A hyperband bracket: only the trials dealt to `bracket` for the largest
 * step max_step count (bracket -1: every trial). */
typedef struct bracket_of {
    const bp_prune *p;
    int64_t max_step;
    int bracket;
} bracket_of;

/* The values a statement returns in its first column, sorted ascending
 * (NULLs, stored NaNs, left out; with a bracket, the rows whose trial, in
 * the second column, is another bracket's). *v is malloc'd. */
static int collect(bp_runlog *log, sqlite3_stmt *st, const bracket_of *b, double **v,
                   int *n, bp_err *e) {
    int cap = 0, r;
    *v = NULL, *n = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) continue;
        if (b && b->bracket >= 0 &&
            bp_hyperband_bracket(b->p, b->max_step, sqlite3_column_int64(st, 1)) !=
                b->bracket)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            double *g = realloc(*v, (size_t)cap * sizeof *g);
            if (!g) return bp_err_set(e, "out of memory");
            *v = g;
        }
        (*v)[(*n)++] = sqlite3_column_double(st, 0);
    }
    if (r != SQLITE_DONE) return sl_fail(log, e, "cannot read the other trials' values");
    if (*n > 1) qsort(*v, (size_t)*n, sizeof **v, cmp_double);
    return 0;
}

/* worse(a, b): a is strictly worse than b in this sweep's direction. */
static int worse(const bp_sweep_info *s, double a, double b) {
    return s->objective.maximize ? a < b : a > b;
}

/* sql prepared with the sweep's id bound to ?1, the trial to ?2 and the
 * objective's metric to ?3 (those of them it has), or NULL after
 * sl_fail. */
static sqlite3_stmt *prepare_sweep(bp_runlog *log, const char *sql,
                                   const bp_sweep_info *s, int64_t trial, bp_err *e) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        sl_fail(log, e, "cannot read the sweep's trials");
        return NULL;
    }
    int n = sqlite3_bind_parameter_count(st);
    if (n >= 1) sqlite3_bind_int64(st, 1, s->id);
    if (n >= 2) sqlite3_bind_int64(st, 2, trial);
    if (n >= 3) sqlite3_bind_text(st, 3, s->objective.metric, -1, SQLITE_STATIC);
    return st;
}

/* The median rule: the other completed trials' values at exactly `step`
 * (one per trial: its latest completed run), against this trial's best. */
static int check_median(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                        int64_t step, double best, char *why, size_t size, bp_err *e) {
    sqlite3_stmt *st = prepare_sweep(
        log,
        "SELECT v FROM (SELECT m.value AS v, row_number() OVER"
        " (PARTITION BY r.trial ORDER BY r.id DESC) AS k"
        " FROM runs r JOIN metrics m ON m.run_id = r.id"
        " WHERE r.sweep_id = ?1 AND r.trial IS NOT NULL AND r.trial != ?2"
        " AND r.status = 'completed' AND m.step = ?4 AND m.value IS NOT NULL"
        " AND m.name_id = (SELECT id FROM metric_names WHERE name = ?3))"
        " WHERE k = 1",
        s, trial, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 4, step);
    double *v;
    int n, rc = collect(log, st, NULL, &v, &n, e);
    sqlite3_finalize(st);
    if (rc) {
        free(v);
        return -1;
    }
    int prune = 0;
    if (n >= s->prune.min_trials) {
        double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        if ((prune = worse(s, best, median)))
            snprintf(why, size,
                     "pruned at step %lld: the best %s so far, %.6g, is worse than"
                     " the median %.6g of %d completed trials at that step",
                     (long long)step, s->objective.metric, best, median, n);
    }
    free(v);
    return prune;
}

/* Successive halving from the rung `first`: every rung in (prev_step,
 * step] is judged with this report's value, against each other trial's
 * first value at or past it (hyperband: its bracket's trials alone). */
static int check_halving(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                         int64_t prev_step, int64_t step, double value, int64_t first,
                         const bracket_of *b, char *why, size_t size, bp_err *e) {
    sqlite3_stmt *st = prepare_sweep(
        log,
        "SELECT v, trial FROM (SELECT v, trial, row_number() OVER (PARTITION BY"
        " trial ORDER BY id DESC) AS k FROM (SELECT r.trial AS trial, r.id AS id,"
        " (SELECT m.value FROM metrics m WHERE m.run_id = r.id"
        "  AND m.name_id = n.id AND m.step >= ?4 ORDER BY m.step LIMIT 1) AS v"
        " FROM runs r, metric_names n WHERE n.name = ?3 AND r.sweep_id = ?1"
        " AND r.trial IS NOT NULL AND r.trial != ?2) WHERE v IS NOT NULL)"
        " WHERE k = 1",
        s, trial, e);
    if (!st) return -1;
    int prune = 0;
    char where[32] = "";
    if (b->bracket >= 0) snprintf(where, sizeof where, " of bracket %d", b->bracket);
    for (int64_t rung = first; rung <= step && !prune; rung *= s->prune.eta) {
        if (rung > prev_step) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 4, rung);
            double *v;
            int n;
            if (collect(log, st, b, &v, &n, e)) {
                free(v);
                sqlite3_finalize(st);
                return -1;
            }
            /* This trial is one of the n + 1 at the rung; the best
             * (n + 1) / eta of them go on, and at least the best one. */
            int keep = (n + 1) / s->prune.eta;
            if (keep < 1) keep = 1;
            double *all = realloc(v, (size_t)(n + 1) * sizeof *all);
            if (!all) {
                free(v);
                sqlite3_finalize(st);
                return bp_err_set(e, "out of memory");
            }
            all[n] = value;
            qsort(all, (size_t)n + 1, sizeof *all, cmp_double);
            double bar = s->objective.maximize ? all[n + 1 - keep] : all[keep - 1];
            if ((prune = worse(s, value, bar)))
                snprintf(why, size,
                         "pruned at step %lld: %s %.6g is not among the best %d of"
                         " the %d trials%s at rung %lld (the bar is %.6g)",
                         (long long)step, s->objective.metric, value, keep, n + 1, where,
                         (long long)rung, bar);
            free(all);
        }
        if (rung > INT64_MAX / s->prune.eta) break;
    }
    sqlite3_finalize(st);
    return prune;
}

/* The number of the sweep's other trials that have completed, into *n. */
static int completed_trials(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                            int64_t *n, bp_err *e) {
    sqlite3_stmt *st =
        prepare_sweep(log,
                      "SELECT count(DISTINCT trial) FROM runs WHERE"
                      " sweep_id = ?1 AND trial IS NOT NULL AND trial != ?2"
                      " AND status = 'completed'",
                      s, trial, e);
    if (!st) return -1;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (rc) sl_fail(log, e, "cannot count the sweep's completed trials");
    else *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Hyperband's largest step when it is "auto": the step of the last report
 * of the sweep's first completed trial (Optuna's), 0 while none has. */
static int auto_max_step(bp_runlog *log, const bp_sweep_info *s, int64_t *max,
                         bp_err *e) {
    *max = 0;
    sqlite3_stmt *st =
        prepare_sweep(log,
                      "SELECT ms.last_step FROM runs r JOIN metric_summary ms"
                      " ON ms.run_id = r.id WHERE r.sweep_id = ?1"
                      " AND r.trial IS NOT NULL AND r.trial != ?2"
                      " AND r.status = 'completed' AND ms.name_id ="
                      " (SELECT id FROM metric_names WHERE name = ?3)"
                      " ORDER BY r.id LIMIT 1",
                      s, -1, e);
    if (!st) return -1;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *max = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return sl_fail(log, e, "cannot read the sweep's first completed trial");
    return 0;
}

/* Hyperband: halving in the trial's bracket, from its first rung. */
static int check_hyperband(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                           int64_t prev_step, int64_t step, double value, char *why,
                           size_t size, bp_err *e) {
    const bp_prune *p = &s->prune;
    int64_t max = p->max_step;
    if (!max && auto_max_step(log, s, &max, e)) return -1;
    if (!max) return 0; /* auto, and no trial completed yet */
    if (max < p->min_step) max = p->min_step;
    if (max > 1000000000) max = 1000000000;
    bracket_of b = {p, max, bp_hyperband_bracket(p, max, trial)};
    int64_t first = p->min_step;
    for (int k = 0; k < b.bracket; k++) first *= p->eta;
    return check_halving(log, s, trial, prev_step, step, value, first, &b, why, size, e);
}

/* Whether the rule waits at this report: its warm-up, or fewer than
 * `startup` completed trials. 1 to wait, 0 not, -1 on a database error. */
static int waiting(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                   int64_t prev_step, int64_t step, bp_err *e) {
    if (s->prune.warmup == BP_PRUNE_FIRST_REPORT ? prev_step < 0 : step < s->prune.warmup)
        return 1;
    if (s->prune.startup == 0) return 0;
    int64_t n;
    if (completed_trials(log, s, trial, &n, e)) return -1;
    return n < s->prune.startup;
}

int bp_sweep_prune_check(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                         int64_t prev_step, int64_t step, double value, double best,
                         char *why, size_t size, bp_err *e) {
    if (size) why[0] = '\0';
    if (s->prune.rule == BP_PRUNE_NONE) return 0;
    bp_runlog_lock(log);
    bracket_of all = {&s->prune, 0, -1};
    int rc = waiting(log, s, trial, prev_step, step, e);
    if (rc == 0) {
        if (s->prune.rule == BP_PRUNE_MEDIAN)
            rc = check_median(log, s, trial, step, best, why, size, e);
        else if (s->prune.rule == BP_PRUNE_HALVING)
            rc = check_halving(log, s, trial, prev_step, step, value, s->prune.min_step,
                               &all, why, size, e);
        else rc = check_hyperband(log, s, trial, prev_step, step, value, why, size, e);
    } else if (rc == 1) rc = 0;
    bp_runlog_unlock(log);
    return rc;
}
