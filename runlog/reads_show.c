/* reads_show.c: bp_runlog_run_detail, one run whole for `backprop show`.
 *
 * A statement per part of the run (its record, tags, notes, metrics, loss
 * curve, snapshots), each read into bp_run_detail by a function of its own.
 * The metrics' figures come from their summaries (summary.c) and the
 * curve's points from a seek each, so that a run of millions of steps
 * shows as fast as a short one; SQLite spells the times; the command only
 * lays out what it gets. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runlog_int.h"
#include "reads_int.h"

/* A statement with the run bound to its first parameter, or NULL. */
static sqlite3_stmt *prepare_run(bp_runlog *log, const char *sql, int64_t run) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log), sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, run);
    return st;
}

static double real_or_nan(sqlite3_stmt *st, int c) {
    return sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
}

/* The run's row: -1 with "PATH: no run N" when there is none. */
static int read_record(bp_runlog *log, int64_t run, bp_run_detail *d, bp_err *e) {
    sqlite3_stmt *st = prepare_run(
        log,
        "SELECT r.name, r.status, r.script_path, sc.hash, length(sc.text), r.command,"
        " r.seed, strftime('%Y-%m-%d %H:%M:%f', r.started, 'unixepoch'),"
        " strftime('%Y-%m-%d %H:%M:%f', r.ended, 'unixepoch'), su.duration_s,"
        " r.host, r.pid, r.version, su.params, r.message, r.traceback,"
        " r.sweep_id, w.name, r.trial, w.trials"
        " FROM runs r JOIN run_summary su ON su.id = r.id"
        " LEFT JOIN scripts sc ON sc.id = r.script_id"
        " LEFT JOIN sweeps w ON w.id = r.sweep_id WHERE r.id = ?",
        run);
    int r = st ? sqlite3_step(st) : SQLITE_ERROR, rc = -1;
    if (r == SQLITE_DONE) {
        bp_err_set(e, "%s: no run %lld", bp_runlog_path(log), (long long)run);
        goto out;
    }
    if (r != SQLITE_ROW) {
        rd_fail(log, e);
        goto out;
    }
    d->script_bytes = sqlite3_column_int64(st, 4);
    d->pid = sqlite3_column_int64(st, 11);
    if (sqlite3_column_type(st, 16) != SQLITE_NULL &&
        sqlite3_column_type(st, 17) != SQLITE_NULL &&
        sqlite3_column_type(st, 18) != SQLITE_NULL) {
        d->sweep_id = sqlite3_column_int64(st, 16);
        d->trial = sqlite3_column_int64(st, 18);
        d->sweep_trials = sqlite3_column_int64(st, 19);
    }
    char **text[] = {&d->name,      &d->status,  &d->script_path, &d->script_hash,
                     &d->command,   &d->started, &d->ended,       &d->host,
                     &d->version,   &d->params,  &d->message,     &d->traceback,
                     &d->sweep_name};
    const int col[] = {0, 1, 2, 3, 5, 7, 8, 10, 12, 13, 14, 15, 17};
    rc = 0;
    for (size_t k = 0; k < sizeof col / sizeof *col && !rc; k++)
        rc = rd_text(st, col[k], text[k]);
    if (!rc) rc = rd_value(st, 6, &d->seed) || rd_value(st, 9, &d->duration_s);
    if (rc) rd_oom(e);
out:
    sqlite3_finalize(st);
    return rc;
}

/* Rows of two text columns into two arrays (tags, notes). */
static int read_pairs(bp_runlog *log, sqlite3_stmt *st, char ***a, char ***b, size_t *n,
                      bp_err *e) {
    size_t cap_a = 0, cap_b = 0;
    int r;
    if (!st) return rd_fail(log, e);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        char **more_a = rd_grow(*a, &cap_a, *n, sizeof **a);
        if (more_a) *a = more_a;
        char **more_b = more_a ? rd_grow(*b, &cap_b, *n, sizeof **b) : NULL;
        if (!more_b) break;
        *b = more_b;
        (*a)[*n] = (*b)[*n] = NULL;
        ++*n;
        if (rd_text(st, 0, &(*a)[*n - 1]) || rd_text(st, 1, &(*b)[*n - 1])) break;
    }
    return rd_end(log, st, r, e);
}

static int metric_row(sqlite3_stmt *st, void *row, void *ctx) {
    bp_metric_summary *m = row;
    (void)ctx;
    m->count = sqlite3_column_int64(st, 1);
    m->first_step = sqlite3_column_int64(st, 2);
    m->last_step = sqlite3_column_int64(st, 3);
    m->last = real_or_nan(st, 4);
    m->min = real_or_nan(st, 5);
    m->max = real_or_nan(st, 6);
    m->nan_count = sqlite3_column_int64(st, 7);
    m->unit = sqlite3_column_int(st, 8) ? BP_UNIT_EPOCH : BP_UNIT_STEP;
    return rd_text(st, 0, &m->name);
}

/* The unit of the series (s.run_id, s.name_id), 1 for epoch: a series
 * without a row in metric_units is per step. */
#define IS_EPOCH_SQL                                                                  \
    " coalesce((SELECT u.unit = 'epoch' FROM metric_units u WHERE u.run_id = s.run_id" \
    " AND u.name_id = s.name_id), 0)"

/* Every metric in one row: how many values, over which steps, the last,
 * the least and the greatest, and how many were NaN (its summary); the
 * per-step ones first, then the per-epoch ones, each by name. */
static int read_metrics(bp_runlog *log, int64_t run, bp_run_detail *d, bp_err *e) {
    sqlite3_stmt *st =
        prepare_run(log,
                    "SELECT n.name, s.count, s.first_step, s.last_step,"
                    " s.last_value, s.min_value, s.max_value, s.nan_count," IS_EPOCH_SQL
                    " AS is_epoch FROM metric_summary s JOIN metric_names n"
                    " ON n.id = s.name_id WHERE s.run_id = ? ORDER BY is_epoch, n.name",
                    run);
    return rd_rows(log, st, &d->metrics, &d->n_metrics, sizeof *d->metrics, metric_row,
                   NULL, e);
}

/* Appends (step, value) to the curve; -1 when memory runs out. */
static int curve_add(bp_run_detail *d, size_t *cap, int64_t step, double value) {
    size_t cap_v = *cap;
    int64_t *steps = rd_grow(d->curve_steps, cap, d->n_curve, sizeof *steps);
    if (steps) d->curve_steps = steps;
    double *values =
        steps ? rd_grow(d->curve_values, &cap_v, d->n_curve, sizeof *values) : NULL;
    if (!values) return -1;
    d->curve_values = values;
    d->curve_steps[d->n_curve] = step;
    d->curve_values[d->n_curve++] = value;
    return 0;
}

/* The loss curve at about ten evenly spaced steps (the first logged at or
 * after each tenth of the span, and the last), each a seek in the rows, and
 * its least value from its summary. */
static int read_curve(bp_runlog *log, int64_t run, bp_run_detail *d, bp_err *e) {
    sqlite3_stmt *st =
        prepare_run(log,
                    "SELECT s.first_step, s.last_step, s.min_step, s.min_value, n.id,"
                    IS_EPOCH_SQL " FROM metric_summary s JOIN metric_names n"
                    " ON n.id = s.name_id WHERE s.run_id = ? AND n.name = 'loss'",
                    run);
    int r = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (r != SQLITE_ROW) {
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? 0 : rd_fail(log, e);
    }
    int64_t first = sqlite3_column_int64(st, 0), last = sqlite3_column_int64(st, 1);
    if ((d->has_best = sqlite3_column_type(st, 3) != SQLITE_NULL)) {
        d->best_step = sqlite3_column_int64(st, 2);
        d->best = sqlite3_column_double(st, 3);
    }
    int64_t name = sqlite3_column_int64(st, 4);
    d->curve_unit = sqlite3_column_int(st, 5) ? BP_UNIT_EPOCH : BP_UNIT_STEP;
    sqlite3_finalize(st);
    st = prepare_run(log,
                     "SELECT step, value FROM metrics WHERE run_id = ? AND name_id = ?"
                     " AND step >= ? ORDER BY step LIMIT 1",
                     run);
    if (!st) return rd_fail(log, e);
    /* Ten strides, rounded down, and at least a step each. */
    uint64_t span = (uint64_t)last - (uint64_t)first, stride = span / 9 ? span / 9 : 1;
    size_t cap = 0;
    int64_t at = first;
    for (int k = 0; k <= 10; k++) {
        sqlite3_bind_int64(st, 2, name);
        sqlite3_bind_int64(st, 3, k == 10 ? last : at);
        if ((r = sqlite3_step(st)) != SQLITE_ROW) break;
        int64_t step = sqlite3_column_int64(st, 0);
        if ((d->n_curve == 0 || step > d->curve_steps[d->n_curve - 1]) &&
            curve_add(d, &cap, step, real_or_nan(st, 1))) {
            sqlite3_finalize(st);
            return rd_oom(e);
        }
        sqlite3_reset(st);
        if (k == 10) break;
        if ((uint64_t)last - (uint64_t)step < stride) k = 9; /* the last is next */
        else at = step + (int64_t)stride;
    }
    if (r == SQLITE_ROW) r = SQLITE_DONE;
    return rd_end(log, st, r, e);
}

static int snapshot_row(sqlite3_stmt *st, void *row, void *ctx) {
    bp_snapshot_summary *s = row;
    (void)ctx;
    s->count = sqlite3_column_int64(st, 1);
    return rd_text(st, 0, &s->name) || rd_text(st, 2, &s->steps) ||
                   rd_text(st, 3, &s->shape) || rd_text(st, 4, &s->dtype)
               ? -1
               : 0;
}

static int read_snapshots(bp_runlog *log, int64_t run, bp_run_detail *d, bp_err *e) {
    sqlite3_stmt *st =
        prepare_run(log,
                    "SELECT name, count(*), group_concat(step, ', '), shape, dtype FROM"
                    " (SELECT * FROM snapshots WHERE run_id = ? ORDER BY name, step)"
                    " GROUP BY name ORDER BY name",
                    run);
    return rd_rows(log, st, &d->snapshots, &d->n_snapshots, sizeof *d->snapshots,
                   snapshot_row, NULL, e);
}

int bp_runlog_run_detail(bp_runlog *log, int64_t run, bp_run_detail *d, bp_err *e) {
    memset(d, 0, sizeof *d);
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    int rc = read_record(log, run, d, e);
    if (!rc)
        rc = read_pairs(log,
                        prepare_run(log,
                                    "SELECT key, value FROM tags WHERE run_id = ?"
                                    " ORDER BY key",
                                    run),
                        &d->tag_keys, &d->tag_values, &d->n_tags, e);
    if (!rc)
        rc = read_pairs(log,
                        prepare_run(log,
                                    "SELECT strftime('%Y-%m-%d %H:%M:%S', time,"
                                    " 'unixepoch'), text FROM notes WHERE run_id = ?"
                                    " ORDER BY id",
                                    run),
                        &d->note_times, &d->note_texts, &d->n_notes, e);
    if (!rc) rc = read_metrics(log, run, d, e);
    if (!rc) rc = read_curve(log, run, d, e);
    if (!rc) rc = read_snapshots(log, run, d, e);
    bp_runlog_unlock(log);
    if (rc) bp_run_detail_free(d);
    return rc;
}

void bp_run_detail_free(bp_run_detail *d) {
    if (!d) return;
    char *text[] = {d->name,    d->status,      d->script_path, d->command, d->started,
                    d->ended,   d->script_hash, d->host,        d->version, d->params,
                    d->message, d->traceback,   d->sweep_name};
    for (size_t k = 0; k < sizeof text / sizeof *text; k++) free(text[k]);
    bp_runlog_strings_free(d->tag_keys, d->n_tags);
    bp_runlog_strings_free(d->tag_values, d->n_tags);
    bp_runlog_strings_free(d->note_times, d->n_notes);
    bp_runlog_strings_free(d->note_texts, d->n_notes);
    for (size_t k = 0; d->metrics && k < d->n_metrics; k++) free(d->metrics[k].name);
    free(d->metrics);
    free(d->curve_steps);
    free(d->curve_values);
    for (size_t k = 0; d->snapshots && k < d->n_snapshots; k++) {
        bp_snapshot_summary *s = &d->snapshots[k];
        free(s->name), free(s->steps), free(s->shape), free(s->dtype);
    }
    free(d->snapshots);
    memset(d, 0, sizeof *d);
}
