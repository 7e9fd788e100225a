/* summary.c: each run's metrics summarised as they are written
 * (runlog/schema/6.sql: metric_summary, a row per run and metric, and
 * metric_blocks, a row per 256 steps of a series).
 *
 * A table of runs wants each run's final and best loss; a plot of a long
 * series wants each stretch's least and greatest values. Computing them
 * from the rows costs a read of every row ever logged, so the writer keeps
 * them instead, in the transaction that commits the rows (writer.c calls
 * rl_summaries_update before its COMMIT): they can never disagree with the
 * rows, whatever kills the process.
 *
 * Most chunks only add steps after a series' last one: their summary is
 * combined with the one stored, in C, at the cost of a row read and written
 * per series and per block touched. A chunk that logs a step again, or
 * before the last (a resumed run logs again the steps after its checkpoint),
 * has its blocks recomputed from the rows of their steps, and the series'
 * summary from its blocks: a read of those blocks' rows and of a row per
 * block, never of the whole series. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "runlog_int.h"

/* A block holds the steps b * 2^BLOCK_SHIFT to (b + 1) * 2^BLOCK_SHIFT - 1
 * (fixed by the schema: 6.sql). */
#define BLOCK_SHIFT 8

static int64_t block_of(int64_t step) { return step >> BLOCK_SHIFT; } /* floor */
static int64_t block_first(int64_t b) { return b * ((int64_t)1 << BLOCK_SHIFT); }
static int64_t block_last(int64_t b) { return block_first(b) + ((1 << BLOCK_SHIFT) - 1); }

/* ------------------------------------------------------------------------ */
/* Summaries in memory                                                       */

void rl_agg_add(rl_agg *a, int64_t step, double v) {
    if (a->count == 0 || step < a->first_step) a->first_step = step;
    if (a->count == 0 || step >= a->last_step) a->last_step = step, a->last = v;
    int have = a->count > a->nan_count;
    a->count++;
    if (isnan(v)) {
        a->nan_count++;
        return;
    }
    if (!have || v < a->min || (v == a->min && step < a->min_step))
        a->min = v, a->min_step = step;
    if (!have || v > a->max || (v == a->max && step < a->max_step))
        a->max = v, a->max_step = step;
}

void rl_agg_merge(rl_agg *a, const rl_agg *b) {
    if (b->count == 0) return;
    if (a->count == 0) {
        *a = *b;
        return;
    }
    int a_num = a->count > a->nan_count, b_num = b->count > b->nan_count;
    if (b->first_step < a->first_step) a->first_step = b->first_step;
    if (b->last_step >= a->last_step) a->last_step = b->last_step, a->last = b->last;
    a->count += b->count;
    a->nan_count += b->nan_count;
    if (!b_num) return;
    if (!a_num || b->min < a->min || (b->min == a->min && b->min_step < a->min_step))
        a->min = b->min, a->min_step = b->min_step;
    if (!a_num || b->max > a->max || (b->max == a->max && b->max_step < a->max_step))
        a->max = b->max, a->max_step = b->max_step;
}

/* ------------------------------------------------------------------------ */
/* Statements                                                                */

/* The log's statements of this file (log->sum[]), prepared once. The
 * columns of an aggregate are read and bound in RL_AGG_COLUMNS' order. */
#define RL_AGG_COLUMNS \
    "count, nan_count, first_step, last_step, min_value, min_step, max_value, max_step"
enum { SUM_GET, SUM_PUT, BLK_GET, BLK_PUT, BLK_ALL, ROWS_IN, VALUE_AT };
static const char *const SUM_SQL[RL_SUM_STMTS] = {
    [SUM_GET] = "SELECT " RL_AGG_COLUMNS ", last_value FROM metric_summary"
                " WHERE run_id = ?1 AND name_id = ?2",
    [SUM_PUT] = "INSERT OR REPLACE INTO metric_summary(run_id, name_id, " RL_AGG_COLUMNS
                ", last_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [BLK_GET] = "SELECT " RL_AGG_COLUMNS " FROM metric_blocks"
                " WHERE run_id = ?1 AND name_id = ?2 AND block = ?3",
    [BLK_PUT] =
        "INSERT OR REPLACE INTO metric_blocks(run_id, name_id, block, " RL_AGG_COLUMNS
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [BLK_ALL] = "SELECT " RL_AGG_COLUMNS " FROM metric_blocks"
                " WHERE run_id = ?1 AND name_id = ?2 ORDER BY block",
    [ROWS_IN] = ("SELECT step, value FROM metrics WHERE run_id = ?1 AND name_id = ?2"
                 " AND step BETWEEN ?3 AND ?4 ORDER BY step"),
    [VALUE_AT] =
        "SELECT value FROM metrics WHERE run_id = ?1 AND name_id = ?2 AND step = ?3",
};

/* Statement k, reset, with the series bound; NULL with rl_fail. */
static sqlite3_stmt *stmt(bp_runlog *log, int k, int64_t run, int64_t name, bp_err *e) {
    sqlite3_stmt **st = &log->sum[k];
    if (!*st && sqlite3_prepare_v3(log->db, SUM_SQL[k], -1, SQLITE_PREPARE_PERSISTENT, st,
                                   NULL) != SQLITE_OK) {
        rl_fail(log, e, "cannot prepare the metric summaries' statements");
        return NULL;
    }
    sqlite3_reset(*st);
    sqlite3_bind_int64(*st, 1, run);
    sqlite3_bind_int64(*st, 2, name);
    return *st;
}

void rl_summaries_finalize(bp_runlog *log) {
    for (int k = 0; k < RL_SUM_STMTS; k++) {
        sqlite3_finalize(log->sum[k]);
        log->sum[k] = NULL;
    }
}

static double value_or_nan(sqlite3_stmt *st, int c) {
    return sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
}

void rl_agg_read(sqlite3_stmt *st, int c, rl_agg *a) {
    a->count = sqlite3_column_int64(st, c);
    a->nan_count = sqlite3_column_int64(st, c + 1);
    a->first_step = sqlite3_column_int64(st, c + 2);
    a->last_step = sqlite3_column_int64(st, c + 3);
    a->min = value_or_nan(st, c + 4);
    a->min_step = sqlite3_column_int64(st, c + 5);
    a->max = value_or_nan(st, c + 6);
    a->max_step = sqlite3_column_int64(st, c + 7);
}

static void bind_value(sqlite3_stmt *st, int k, double v) {
    if (isnan(v)) sqlite3_bind_null(st, k);
    else sqlite3_bind_double(st, k, v);
}

/* a into parameters k.. in RL_AGG_COLUMNS' order. */
static void agg_bind(sqlite3_stmt *st, int k, const rl_agg *a) {
    int num = a->count > a->nan_count;
    sqlite3_bind_int64(st, k, a->count);
    sqlite3_bind_int64(st, k + 1, a->nan_count);
    sqlite3_bind_int64(st, k + 2, a->first_step);
    sqlite3_bind_int64(st, k + 3, a->last_step);
    for (int j = 0; j < 2; j++) {
        if (num) {
            sqlite3_bind_double(st, k + 4 + 2 * j, j ? a->max : a->min);
            sqlite3_bind_int64(st, k + 5 + 2 * j, j ? a->max_step : a->min_step);
        } else {
            sqlite3_bind_null(st, k + 4 + 2 * j);
            sqlite3_bind_null(st, k + 5 + 2 * j);
        }
    }
}

/* Runs a bound statement that returns no row. */
static int run_put(bp_runlog *log, sqlite3_stmt *st, bp_err *e) {
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    return r == SQLITE_DONE ? 0 : rl_fail(log, e, "cannot write the metric summaries");
}

/* A statement's one row into a (RL_AGG_COLUMNS from column 0): 1 if there was
 * one, 0 if none, -1. */
static int read_one(bp_runlog *log, sqlite3_stmt *st, rl_agg *a, bp_err *e) {
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) rl_agg_read(st, 0, a);
    sqlite3_reset(st);
    if (r == SQLITE_ROW) return 1;
    return r == SQLITE_DONE ? 0 : rl_fail(log, e, "cannot read the metric summaries");
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

static int put_block(bp_runlog *log, int64_t run, int64_t name, int64_t b,
                     const rl_agg *a, bp_err *e) {
    sqlite3_stmt *st = stmt(log, BLK_PUT, run, name, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 3, b);
    agg_bind(st, 4, a);
    return run_put(log, st, e);
}

static int put_summary(bp_runlog *log, int64_t run, int64_t name, const rl_agg *a,
                       bp_err *e) {
    sqlite3_stmt *st = stmt(log, SUM_PUT, run, name, e);
    if (!st) return -1;
    agg_bind(st, 3, a);
    bind_value(st, 11, a->last);
    return run_put(log, st, e);
}

/* The stored block b of a series into a (left empty when there is none). */
static int get_block(bp_runlog *log, int64_t run, int64_t name, int64_t b, rl_agg *a,
                     bp_err *e) {
    sqlite3_stmt *st = stmt(log, BLK_GET, run, name, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 3, b);
    *a = (rl_agg){0};
    return read_one(log, st, a, e) < 0 ? -1 : 0;
}

/* New steps after the series' last (s, have: whether there is one): each
 * block's new values summed up once, then combined with the stored block
 * (only the block of s's last step can be stored) and added to s. Rows
 * sorted by step; of equal steps the last counts, as the INSERT OR REPLACE
 * of the rows made it. */
static int append(bp_runlog *log, int64_t run, int64_t name, const rl_row *v, size_t n,
                  rl_agg *s, int have, bp_err *e) {
    int64_t last_block = have ? block_of(s->last_step) : 0;
    for (size_t k = 0; k < n;) {
        int64_t b = block_of(v[k].step);
        rl_agg blk = {0}, stored = {0};
        for (; k < n && block_of(v[k].step) == b; k++)
            if (k + 1 == n || v[k + 1].step != v[k].step)
                rl_agg_add(&blk, v[k].step, v[k].value);
        rl_agg_merge(s, &blk);
        if (have && b == last_block) {
            if (get_block(log, run, name, b, &stored, e)) return -1;
            rl_agg_merge(&stored, &blk);
            blk = stored;
        }
        if (put_block(log, run, name, b, &blk, e)) return -1;
    }
    return put_summary(log, run, name, s, e);
}

/* Steps logged again, or before the last: the blocks from lo to hi
 * recomputed from their rows (the new ones inserted already), then the
 * summary from every block of the series and the value at its last step. */
static int rewrite(bp_runlog *log, int64_t run, int64_t name, int64_t lo, int64_t hi,
                   bp_err *e) {
    sqlite3_stmt *st = stmt(log, ROWS_IN, run, name, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 3, block_first(lo));
    sqlite3_bind_int64(st, 4, block_last(hi));
    rl_agg blk = {0};
    int64_t b = lo;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t step = sqlite3_column_int64(st, 0);
        if (block_of(step) != b && blk.count) {
            if (put_block(log, run, name, b, &blk, e)) break;
            blk = (rl_agg){0};
        }
        b = block_of(step);
        rl_agg_add(&blk, step, value_or_nan(st, 1));
    }
    sqlite3_reset(st);
    if (r != SQLITE_DONE)
        return r == SQLITE_ROW ? -1 : rl_fail(log, e, "cannot read metrics");
    if (blk.count && put_block(log, run, name, b, &blk, e)) return -1;
    rl_agg s = {0};
    if (!(st = stmt(log, BLK_ALL, run, name, e))) return -1;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        rl_agg_read(st, 0, &blk);
        rl_agg_merge(&s, &blk);
    }
    sqlite3_reset(st);
    if (r != SQLITE_DONE) return rl_fail(log, e, "cannot read the metric summaries");
    if (!(st = stmt(log, VALUE_AT, run, name, e))) return -1;
    sqlite3_bind_int64(st, 3, s.last_step);
    r = sqlite3_step(st);
    s.last = r == SQLITE_ROW ? value_or_nan(st, 0) : NAN;
    sqlite3_reset(st);
    if (r != SQLITE_ROW) return rl_fail(log, e, "cannot read metrics");
    return put_summary(log, run, name, &s, e);
}

/* One series' rows of a chunk (sorted by step). */
static int series_update(bp_runlog *log, int64_t run, int64_t name, const rl_row *v,
                         size_t n, bp_err *e) {
    sqlite3_stmt *st = stmt(log, SUM_GET, run, name, e);
    if (!st) return -1;
    rl_agg s = {0};
    int r = sqlite3_step(st), have = r == SQLITE_ROW;
    if (have) {
        rl_agg_read(st, 0, &s);
        s.last = value_or_nan(st, 8);
    }
    sqlite3_reset(st);
    if (!have && r != SQLITE_DONE)
        return rl_fail(log, e, "cannot read the metric summaries");
    if (!have || v[0].step > s.last_step)
        return append(log, run, name, v, n, &s, have, e);
    return rewrite(log, run, name, block_of(v[0].step), block_of(v[n - 1].step), e);
}

int rl_summaries_update(bp_runlog *log, const rl_row *v, size_t n, const int64_t *ids,
                        bp_err *e) {
    for (size_t k = 0; k < n;) {
        size_t j = k + 1;
        while (j < n && v[j].run == v[k].run && v[j].name == v[k].name) j++;
        if (series_update(log, v[k].run, ids[v[k].name], v + k, j - k, e)) return -1;
        k = j;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Filling from the rows                                                     */

int rl_summaries_exist(bp_runlog *log) {
    sqlite3_stmt *st = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(log->db,
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                           " AND name IN ('metric_summary', 'metric_blocks')",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n == 2;
}

/* The block and the series summed up so far, written. */
typedef struct filling {
    int64_t run, name, block;
    rl_agg blk, series;
} filling;

static int fill_flush(bp_runlog *log, filling *f, int series, bp_err *e) {
    if (f->blk.count && put_block(log, f->run, f->name, f->block, &f->blk, e)) return -1;
    f->blk = (rl_agg){0};
    if (series && f->series.count && put_summary(log, f->run, f->name, &f->series, e))
        return -1;
    if (series) f->series = (rl_agg){0};
    return 0;
}

int rl_summaries_fill(bp_runlog *log, bp_err *e) {
    /* In the primary key's order: one pass, no sort. */
    sqlite3_stmt *st = rl_prepare(log,
                                  "SELECT run_id, name_id, step, value FROM metrics"
                                  " ORDER BY run_id, name_id, step",
                                  e);
    if (!st) return -1;
    filling f = {0};
    int r, rc = 0;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t run = sqlite3_column_int64(st, 0), name = sqlite3_column_int64(st, 1);
        int64_t step = sqlite3_column_int64(st, 2);
        if (run != f.run || name != f.name) rc = fill_flush(log, &f, 1, e);
        else if (block_of(step) != f.block) rc = fill_flush(log, &f, 0, e);
        f.run = run, f.name = name, f.block = block_of(step);
        double v = value_or_nan(st, 3);
        rl_agg_add(&f.blk, step, v);
        rl_agg_add(&f.series, step, v);
    }
    if (!rc && r != SQLITE_DONE) rc = rl_fail(log, e, "cannot read metrics");
    sqlite3_finalize(st);
    return rc ? -1 : fill_flush(log, &f, 1, e);
}
