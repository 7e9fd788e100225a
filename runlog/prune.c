/* prune.c: what a sweep judges and when it stops a trial (bp_prune.h).
 *
 * The rules read what the sweep's other trials reported straight from the
 * run log, so every trial's process decides from the same recorded values,
 * whichever process or machine wrote them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_prune.h"
#include "bp_util.h"
#include "runlog_int.h"
#include "sweeplog_int.h"

/* ------------------------------------------------------------------------ */
/* Objective and pruning rule                                                */

int bp_objective_parse(const char *text, bp_objective *o, bp_err *e) {
    const char *m = text ? text : "";
    o->maximize = 0;
    if (!strncmp(m, "min:", 4)) m += 4;
    else if (!strncmp(m, "max:", 4)) m += 4, o->maximize = 1;
    if (!*m)
        return bp_err_set(e, "bad --objective '%s': expected [min:|max:]METRIC",
                          text ? text : "");
    if (strlen(m) >= sizeof o->metric)
        return bp_err_set(e, "bad --objective '%s': the metric's name is too long", text);
    if (m[strcspn(m, " \t\n:")])
        return bp_err_set(
            e, "bad --objective '%s': a metric's name has no spaces or colons", text);
    snprintf(o->metric, sizeof o->metric, "%s", m);
    return 0;
}

int bp_prune_parse(const char *text, bp_prune *p, bp_err *e) {
    *p = (bp_prune){BP_PRUNE_NONE, 3, 1, 3};
    if (!text || !*text || !strcmp(text, "none")) return 0;
    char rule[16];
    size_t n = strcspn(text, ":");
    if (n >= sizeof rule) n = sizeof rule - 1;
    memcpy(rule, text, n);
    rule[n] = '\0';
    const char *rest = text[strcspn(text, ":")] ? text + strcspn(text, ":") + 1 : NULL;
    int64_t a = 0, b = 0; /* set by the scans below; gcc -O3 cannot see it */
    if (!strcmp(rule, "median")) {
        p->rule = BP_PRUNE_MEDIAN;
        if (rest && bp_parse_i64(rest, 1, 1000000, &a))
            return bp_err_set(
                e, "bad --prune '%s': median:K wants K >= 1 completed trials", text);
        if (rest) p->min_trials = (int)a;
        return 0;
    }
    if (!strcmp(rule, "halving")) {
        p->rule = BP_PRUNE_HALVING;
        if (!rest) return 0;
        char first[32];
        size_t m = strcspn(rest, ":");
        if (m >= sizeof first) m = sizeof first - 1;
        memcpy(first, rest, m);
        first[m] = '\0';
        if (bp_parse_i64(first, 1, INT64_MAX / 2, &a) ||
            (rest[m] && bp_parse_i64(rest + m + 1, 2, 1000, &b)))
            return bp_err_set(e,
                              "bad --prune '%s': halving:MIN_STEP:ETA wants MIN_STEP >= 1"
                              " and ETA >= 2",
                              text);
        p->min_step = a;
        if (rest[m]) p->eta = (int)b;
        return 0;
    }
    return bp_err_set(
        e, "bad --prune '%s': expected median[:K] or halving[:MIN_STEP[:ETA]]", text);
}

void bp_prune_text(const bp_prune *p, char *buf, size_t size) {
    if (p->rule == BP_PRUNE_MEDIAN) snprintf(buf, size, "median:%d", p->min_trials);
    else if (p->rule == BP_PRUNE_HALVING)
        snprintf(buf, size, "halving:%lld:%d", (long long)p->min_step, p->eta);
    else if (size) buf[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* A trial's view: the sweep, and what the other trials reported             */

int bp_sweep_info_load(bp_runlog *log, int64_t id, bp_sweep_info *out, bp_err *e) {
    sqlite3 *s = bp_runlog_sqlite(log);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    bp_runlog_lock(log);
    if (sqlite3_prepare_v2(s,
                           "SELECT objective, direction, prune FROM sweeps WHERE id = ?",
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
    const char *dir = (const char *)sqlite3_column_text(st, 1);
    char obj[80];
    snprintf(obj, sizeof obj, "%s:%s", dir ? dir : "min",
             (const char *)sqlite3_column_text(st, 0));
    rc = bp_objective_parse(obj, &out->objective, e);
    if (!rc)
        rc = bp_prune_parse((const char *)sqlite3_column_text(st, 2), &out->prune, e);
out:
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The values a statement returns in its first column, sorted ascending
 * (NULLs, stored NaNs, left out). *v is malloc'd. */
static int collect(bp_runlog *log, sqlite3_stmt *st, double **v, int *n, bp_err *e) {
    int cap = 0, r;
    *v = NULL, *n = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) continue;
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

/* The median rule: the other completed trials' values at exactly `step`
 * (one per trial: its latest completed run), against this trial's best. */
static int check_median(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                        int64_t step, double best, char *why, size_t size, bp_err *e) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            bp_runlog_sqlite(log),
            "SELECT v FROM (SELECT m.value AS v, row_number() OVER"
            " (PARTITION BY r.trial ORDER BY r.id DESC) AS k"
            " FROM runs r JOIN metrics m ON m.run_id = r.id"
            " WHERE r.sweep_id = ?1 AND r.trial IS NOT NULL AND r.trial != ?2"
            " AND r.status = 'completed' AND m.step = ?4 AND m.value IS NOT NULL"
            " AND m.name_id = (SELECT id FROM metric_names WHERE name = ?3))"
            " WHERE k = 1",
            -1, &st, NULL) != SQLITE_OK)
        return sl_fail(log, e, "cannot read the other trials' values");
    sqlite3_bind_int64(st, 1, s->id);
    sqlite3_bind_int64(st, 2, trial);
    sqlite3_bind_text(st, 3, s->objective.metric, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, step);
    double *v;
    int n, rc = collect(log, st, &v, &n, e);
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

/* Successive halving: every rung in (prev_step, step] is judged with this
 * report's value, against each other trial's first value at or past it. */
static int check_halving(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                         int64_t prev_step, int64_t step, double value, char *why,
                         size_t size, bp_err *e) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            bp_runlog_sqlite(log),
            "SELECT v FROM (SELECT v, row_number() OVER (PARTITION BY trial"
            " ORDER BY id DESC) AS k FROM (SELECT r.trial AS trial, r.id AS id,"
            " (SELECT m.value FROM metrics m WHERE m.run_id = r.id"
            "  AND m.name_id = n.id AND m.step >= ?4 ORDER BY m.step LIMIT 1) AS v"
            " FROM runs r, metric_names n WHERE n.name = ?3 AND r.sweep_id = ?1"
            " AND r.trial IS NOT NULL AND r.trial != ?2) WHERE v IS NOT NULL)"
            " WHERE k = 1",
            -1, &st, NULL) != SQLITE_OK)
        return sl_fail(log, e, "cannot read the other trials' values");
    int prune = 0;
    for (int64_t rung = s->prune.min_step; rung <= step && !prune; rung *= s->prune.eta) {
        if (rung <= prev_step) continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->id);
        sqlite3_bind_int64(st, 2, trial);
        sqlite3_bind_text(st, 3, s->objective.metric, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, rung);
        double *v;
        int n;
        if (collect(log, st, &v, &n, e)) {
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
                     " the %d trials at rung %lld (the bar is %.6g)",
                     (long long)step, s->objective.metric, value, keep, n + 1,
                     (long long)rung, bar);
        free(all);
        if (rung > INT64_MAX / s->prune.eta) break;
    }
    sqlite3_finalize(st);
    return prune;
}

int bp_sweep_prune_check(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                         int64_t prev_step, int64_t step, double value, double best,
                         char *why, size_t size, bp_err *e) {
    if (size) why[0] = '\0';
    if (s->prune.rule == BP_PRUNE_NONE) return 0;
    bp_runlog_lock(log);
    int rc = s->prune.rule == BP_PRUNE_MEDIAN
                 ? check_median(log, s, trial, step, best, why, size, e)
                 : check_halving(log, s, trial, prev_step, step, value, why, size, e);
    bp_runlog_unlock(log);
    return rc;
}
