/* reduce.c: bp_runlog_metric_reduce, a series reduced to at most N points
 * for a plot (bp_runlog.h).
 *
 * A plot 1,000 pixels wide cannot show a million steps, but it must show a
 * spike or a NaN among them: each bucket of steps keeps its least and
 * greatest values (with their steps) and counts its NaNs, so that drawing
 * both points of every bucket traces the same envelope as the whole
 * series. A long series is read from its blocks of 256 steps
 * (metric_blocks, kept by the writer: summary.c), a row per block, with
 * buckets made of whole blocks; only a series that spans too few blocks
 * for that (fewer than N / 8) is read row by row, at most 32 N rows.
 * scripts/bench/NOTES.md has the figures. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "runlog_int.h"

/* The buckets being made: the current one (index at), and those done. */
typedef struct reducer {
    bp_metric_bucket *v;
    size_t n, cap;
    uint64_t at;
    rl_agg cur;
} reducer;

/* The current bucket, if it holds anything, appended; -1 out of memory. */
static int close_bucket(reducer *R) {
    const rl_agg *a = &R->cur;
    if (a->count == 0) return 0;
    if (R->n == R->cap) {
        size_t cap = R->cap ? 2 * R->cap : 64;
        bp_metric_bucket *v = realloc(R->v, cap * sizeof *v);
        if (!v) return -1;
        R->v = v, R->cap = cap;
    }
    int num = a->count > a->nan_count;
    R->v[R->n++] = (bp_metric_bucket){.first_step = a->first_step,
                                      .last_step = a->last_step,
                                      .count = a->count,
                                      .nan_count = a->nan_count,
                                      .min_step = num ? a->min_step : a->first_step,
                                      .max_step = num ? a->max_step : a->first_step,
                                      .min = num ? a->min : NAN,
                                      .max = num ? a->max : NAN};
    R->cur = (rl_agg){0};
    return 0;
}

/* Adds a to bucket idx (indices come in ascending order). */
static int bucket_add(reducer *R, uint64_t idx, const rl_agg *a) {
    if (idx != R->at) {
        if (close_bucket(R)) return -1;
        R->at = idx;
    }
    rl_agg_merge(&R->cur, a);
    return 0;
}

/* The series' summary: name id, count, first and last step; 0 when the run
 * has no such metric. */
static int series_of(bp_runlog *log, int64_t run, const char *name, int64_t *id,
                     rl_agg *s, bp_err *e) {
    sqlite3_stmt *st =
        rl_prepare(log,
                   "SELECT s.name_id, s.count, s.first_step, s.last_step"
                   " FROM metric_summary s JOIN metric_names n"
                   " ON n.id = s.name_id WHERE s.run_id = ? AND n.name = ?",
                   e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        s->count = sqlite3_column_int64(st, 1);
        s->first_step = sqlite3_column_int64(st, 2);
        s->last_step = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 1;
    return r == SQLITE_DONE ? 0 : rl_fail(log, e, "cannot read the metric summaries");
}

/* Reads the series from its blocks (blocks > 0: that many whole blocks to
 * a bucket) or its rows (buckets of `width` steps), into R. */
static int read_series(bp_runlog *log, int64_t run, int64_t id, const rl_agg *s,
                       uint64_t blocks, uint64_t width, reducer *R, bp_err *e) {
    sqlite3_stmt *st = rl_prepare(
        log,
        blocks ? "SELECT block, " RL_AGG_COLUMNS " FROM metric_blocks"
                 " WHERE run_id = ? AND name_id = ? ORDER BY block"
               : "SELECT step, value FROM metrics WHERE run_id = ? AND name_id = ?"
                 " ORDER BY step",
        e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, id);
    int64_t origin = blocks ? s->first_step >> 8 : s->first_step;
    int r, oom = 0;
    while (!oom && (r = sqlite3_step(st)) == SQLITE_ROW) {
        rl_agg a = {0};
        if (blocks) rl_agg_read(st, 1, &a);
        else
            rl_agg_add(&a, sqlite3_column_int64(st, 0),
                       sqlite3_column_type(st, 1) == SQLITE_NULL
                           ? NAN
                           : sqlite3_column_double(st, 1));
        uint64_t off = (uint64_t)sqlite3_column_int64(st, 0) - (uint64_t)origin;
        oom = bucket_add(R, off / (blocks ? blocks : width), &a);
    }
    sqlite3_finalize(st);
    if (oom || close_bucket(R)) return bp_err_set(e, "out of memory");
    return r == SQLITE_DONE ? 0 : rl_fail(log, e, "cannot read metrics");
}

int bp_runlog_metric_reduce(bp_runlog *log, int64_t run, const char *name,
                            size_t max_points, bp_metric_bucket **buckets, size_t *n,
                            bp_err *e) {
    *buckets = NULL, *n = 0;
    if (max_points < 2) return bp_err_set(e, "a reduced series needs at least 2 points");
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    rl_agg s = {0};
    int64_t id = 0;
    int rc = series_of(log, run, name ? name : "", &id, &s, e);
    if (rc == 1) {
        /* max_points values whole; else at most max_points / 2 buckets:
         * of whole blocks when the series spans at least a quarter as many
         * blocks (so a quarter of the buckets it could have, at worst),
         * else of equal spans of steps read from at most max_points x 32
         * rows. */
        uint64_t nb = max_points / 2,
                 span = (uint64_t)s.last_step - (uint64_t)s.first_step;
        uint64_t nblocks =
            (uint64_t)(s.last_step >> 8) - (uint64_t)(s.first_step >> 8) + 1;
        uint64_t blocks = 0, width = 1;
        if ((uint64_t)s.count > max_points) {
            if (4 * nblocks >= nb) blocks = nblocks / nb + (nblocks % nb != 0);
            else width = span / nb + 1;
        }
        reducer R = {0};
        rc = read_series(log, run, id, &s, blocks, width, &R, e);
        if (rc) free(R.v);
        else *buckets = R.v, *n = R.n;
    }
    bp_runlog_unlock(log);
    return rc < 0 ? -1 : 0;
}
