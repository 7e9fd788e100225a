/* summary_check.c: bp_runlog_summaries_check, the metric summaries that the
 * writer keeps (summary.c) against a rebuild from the metric rows.
 *
 * The rebuild is plain SQL aggregates over metrics, written apart from the
 * C that keeps the summaries, so that the check shares no code with what
 * it checks: `backprop check` runs it, and the tests run it after every
 * kind of write (a normal run, NaNs, a kill, a resume, a merge, rm, a
 * migration). */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "runlog_int.h"

/* What is compared, in the order the statements give it: each column as
 * a pair (rebuilt, stored). */
static const char *const FIELDS[] = {"count",     "nan_count", "first_step",
                                     "last_step", "min_value", "min_step",
                                     "max_value", "max_step",  "last_value"};
enum { N_FIELDS = sizeof FIELDS / sizeof *FIELDS, FIRST_PAIR = 5 };

#define PAIR(c) ", r." c ", s." c
#define PAIRS                                                               \
    PAIR("count")                                                           \
    PAIR("nan_count")                                                       \
    PAIR("first_step") PAIR("last_step") PAIR("min_value") PAIR("min_step") \
        PAIR("max_value") PAIR("max_step") PAIR("last_value")

/* The first step (of the series, or of its block) at which value v came. */
#define STEP_OF(v)                                                               \
    "(SELECT min(m.step) FROM metrics m WHERE m.run_id = g.run_id AND"           \
    " m.name_id = g.name_id AND m.step BETWEEN g.first_step AND g.last_step AND" \
    " m.value = g." v ")"

/* Aggregates of the rows; %s filters them (" WHERE run_id = ?1" or ""). */
#define AGGREGATES                                                                \
    " count(*) AS count, sum(value IS NULL) AS nan_count, min(step) AS"           \
    " first_step, max(step) AS last_step, min(value) AS min_value, max(value) AS" \
    " max_value FROM metrics%s"
#define WITH_STEPS                                                       \
    " r AS (SELECT g.*, " STEP_OF("min_value") " AS min_step, " STEP_OF( \
        "max_value") " AS max_step"

/* Rows: run, metric name, block (NULL for a series), whether the rebuild
 * has it, whether it is stored, then PAIRS. The two %s filter the rows and
 * the stored summaries (" WHERE s.run_id = ?1"). */
static const char *const SERIES_SQL =
    "WITH g AS (SELECT run_id, name_id," AGGREGATES
    " GROUP BY run_id, name_id)," WITH_STEPS
    ", (SELECT m.value FROM metrics m WHERE m.run_id = g.run_id AND m.name_id ="
    " g.name_id AND m.step = g.last_step) AS last_value FROM g),"
    " s AS (SELECT * FROM metric_summary s%s)"
    " SELECT coalesce(r.run_id, s.run_id) AS run, (SELECT name FROM metric_names"
    " WHERE id = coalesce(r.name_id, s.name_id)), NULL, r.count IS NOT NULL,"
    " s.count IS NOT NULL" PAIRS " FROM r FULL JOIN s ON s.run_id = r.run_id AND"
    " s.name_id = r.name_id ORDER BY run";
static const char *const BLOCKS_SQL =
    "WITH g AS (SELECT run_id, name_id, step >> 8 AS block," AGGREGATES
    " GROUP BY run_id, name_id, block)," WITH_STEPS ", NULL AS last_value FROM g),"
    " s AS (SELECT *, NULL AS last_value FROM metric_blocks s%s)"
    " SELECT coalesce(r.run_id, s.run_id) AS run, (SELECT name FROM metric_names"
    " WHERE id = coalesce(r.name_id, s.name_id)), coalesce(r.block, s.block),"
    " r.count IS NOT NULL, s.count IS NOT NULL" PAIRS " FROM r FULL JOIN s ON"
    " s.run_id = r.run_id AND s.name_id = r.name_id AND s.block = r.block"
    " ORDER BY run";

/* Whether columns a and b hold the same: both NULL, or equal numbers. */
static int same(sqlite3_stmt *st, int a, int b) {
    int ta = sqlite3_column_type(st, a), tb = sqlite3_column_type(st, b);
    if (ta == SQLITE_NULL || tb == SQLITE_NULL) return ta == tb;
    if (ta == SQLITE_INTEGER && tb == SQLITE_INTEGER)
        return sqlite3_column_int64(st, a) == sqlite3_column_int64(st, b);
    return sqlite3_column_double(st, a) == sqlite3_column_double(st, b);
}

/* The first difference of the current row into what; 0 when none. */
static int differs(sqlite3_stmt *st, char *what, size_t cap) {
    char where[256];
    int n = snprintf(where, sizeof where, "run %lld, metric '%s'",
                     (long long)sqlite3_column_int64(st, 0),
                     (const char *)sqlite3_column_text(st, 1));
    if (sqlite3_column_type(st, 2) != SQLITE_NULL && n > 0 && (size_t)n < sizeof where)
        snprintf(where + n, sizeof where - (size_t)n, ", block %lld",
                 (long long)sqlite3_column_int64(st, 2));
    if (!sqlite3_column_int(st, 3) || !sqlite3_column_int(st, 4)) {
        snprintf(what, cap, "%s: %s", where,
                 sqlite3_column_int(st, 3) ? "rows without a summary"
                                           : "a summary without rows");
        return 1;
    }
    for (int k = 0; k < N_FIELDS; k++) {
        int c = FIRST_PAIR + 2 * k;
        if (same(st, c, c + 1)) continue;
        const char *r = (const char *)sqlite3_column_text(st, c);
        char rebuilt[64];
        snprintf(rebuilt, sizeof rebuilt, "%s", r ? r : "NULL");
        const char *s = (const char *)sqlite3_column_text(st, c + 1);
        snprintf(what, cap, "%s: %s %s, from the rows %s", where, FIELDS[k],
                 s ? s : "NULL", rebuilt);
        return 1;
    }
    return 0;
}

/* Runs one of the statements: the rows that differ counted into *bad, the
 * first described in what (if *bad was 0), the rows seen into *seen. */
static int compare(bp_runlog *log, const char *fmt, int64_t run, int64_t *seen,
                   int64_t *bad, char *what, size_t cap, bp_err *e) {
    char sql[4096];
    snprintf(sql, sizeof sql, fmt, run ? " WHERE run_id = ?1" : "",
             run ? " WHERE s.run_id = ?1" : "");
    sqlite3_stmt *st = rl_prepare(log, sql, e);
    if (!st) return -1;
    if (run) sqlite3_bind_int64(st, 1, run);
    int r;
    char first[512];
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        ++*seen;
        if (!differs(st, first, sizeof first)) continue;
        if (*bad == 0 && cap) snprintf(what, cap, "%s", first);
        ++*bad;
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : rl_fail(log, e, "cannot check the metric summaries");
}

int64_t bp_runlog_summaries_check(bp_runlog *log, int64_t run, int64_t *series,
                                  char *what, size_t cap, bp_err *e) {
    if (cap) what[0] = '\0';
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    int64_t bad = 0, blocks = 0, n = 0;
    int rc = compare(log, SERIES_SQL, run, &n, &bad, what, cap, e);
    if (!rc) rc = compare(log, BLOCKS_SQL, run, &blocks, &bad, what, cap, e);
    bp_runlog_unlock(log);
    if (series) *series = n;
    return rc ? -1 : bad;
}
