/* test_summary.c: the metric summaries the writer keeps (runlog/summary.c,
 * runlog/schema/6.sql) against a rebuild from the rows
 * (bp_runlog_summaries_check), after every kind of write: a normal run,
 * NaN and the infinities, steps logged again and out of order (what a
 * resume does), a run killed with SIGKILL and marked crashed, a resume, a
 * merge, `rm`, and a migration of a database made before the summaries.
 * Where a summary's figures can be worked out by hand, they are checked
 * too; and a summary made wrong on purpose must be caught. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "bp_sweeplog.h"
#include "runlog_int.h"
#include "check.h"

static char dir[64];

static const char *path_in(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* The first row of a query, its columns joined by '|' (NULL as "NULL"). */
static const char *first_row(sqlite3 *db, const char *sql) {
    static char out[4096];
    sqlite3_stmt *st = NULL;
    snprintf(out, sizeof out, "error: %s", sqlite3_errmsg(db));
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return out;
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW)
        for (int c = 0, n = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            n += snprintf(out + n, sizeof out - (size_t)n, "%s%s", c ? "|" : "",
                          v ? v : "NULL");
        }
    sqlite3_finalize(st);
    return out;
}

/* The summary of a run's metric as "count|nan_count|first|last|last_value|
 * min|min_step|max|max_step". */
static const char *summary_of(bp_runlog *log, int64_t run, const char *name) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count, nan_count, first_step, last_step, last_value, min_value,"
             " min_step, max_value, max_step FROM metric_summary s JOIN metric_names n"
             " ON n.id = s.name_id WHERE s.run_id = %lld AND n.name = '%s'",
             (long long)run, name);
    return first_row(bp_runlog_sqlite(log), sql);
}

/* Whether every summary of the database agrees with its rows; prints the
 * first difference when not. */
static int agrees(bp_runlog *log) {
    char what[512];
    bp_err e = {{0}};
    int64_t series = 0;
    int64_t bad = bp_runlog_summaries_check(log, 0, &series, what, sizeof what, &e);
    if (bad)
        fprintf(stderr, "  summaries: %lld differ: %s%s\n", (long long)bad, what, e.msg);
    return bad == 0 && series > 0;
}

static bp_runlog *open_new(const char *name) {
    bp_err e = {{0}};
    bp_runlog *log = bp_runlog_open(path_in(name), 0, &e);
    if (!log) fprintf(stderr, "%s\n", e.msg);
    return log;
}

/* ------------------------------------------------------------------------ */

/* A run as a training loop logs it: a loss at each of 1,000 steps (so four
 * blocks), committed in several chunks that end inside blocks, and an
 * accuracy now and then. */
static void test_normal_run(void) {
    bp_runlog *log = open_new("normal.db");
    CHECK(log != NULL);
    if (!log) return;
    bp_err e = {{0}};
    int64_t run = bp_runlog_begin(log, NULL, &e);
    for (int k = 1; k <= 1000; k++) {
        /* Falls to its least at step 600 (0.25), then rises a little. */
        double loss = k <= 600 ? 1.0 - k / 800.0 : 0.25 + (k - 600) / 4000.0;
        CHECK(bp_runlog_metric(log, run, "loss", k, loss, &e) == 0);
        if (k % 100 == 0) bp_runlog_metric(log, run, "acc", k / 100, k / 1000.0, &e);
        if (k % 333 == 0) CHECK(bp_runlog_flush(log, &e) == 0);
    }
    CHECK(bp_runlog_end(log, run, "completed", NULL, NULL, &e) == 0);
    CHECK(agrees(log));
    CHECK_STR(summary_of(log, run, "loss"), "1000|0|1|1000|0.35|0.25|600|0.99875|1");
    CHECK_STR(summary_of(log, run, "acc"), "10|0|1|10|1.0|0.1|1|1.0|10");
    CHECK_STR(first_row(bp_runlog_sqlite(log),
                        "SELECT count(*), sum(count), min(block), max(block)"
                        " FROM metric_blocks WHERE name_id = (SELECT id FROM"
                        " metric_names WHERE name = 'loss')"),
              "4|1000|0|3");
    bp_runlog_close(log);
}

/* NaN, the infinities and -0.0: NaN is counted and left out of the least
 * and greatest; a series of NaN alone has neither; -Inf and Inf are values
 * like any other. */
static void test_nan_and_infinities(void) {
    bp_runlog *log = open_new("nan.db");
    CHECK(log != NULL);
    if (!log) return;
    bp_err e = {{0}};
    int64_t run = bp_runlog_begin(log, NULL, &e);
    const double v[] = {NAN, 2.0, INFINITY, -0.0, NAN, -INFINITY, 5.0, NAN};
    for (int k = 0; k < 8; k++) bp_runlog_metric(log, run, "loss", 300 * k, v[k], &e);
    for (int k = 0; k < 3; k++) bp_runlog_metric(log, run, "nan", k, NAN, &e);
    bp_runlog_metric(log, run, "inf", 1, INFINITY, &e);
    CHECK(bp_runlog_end(log, run, "diverged", "nan", NULL, &e) == 0);
    CHECK(agrees(log));
    CHECK_STR(summary_of(log, run, "loss"), "8|3|0|2100|NULL|-Inf|1500|Inf|600");
    CHECK_STR(summary_of(log, run, "nan"), "3|3|0|2|NULL|NULL|NULL|NULL|NULL");
    CHECK_STR(summary_of(log, run, "inf"), "1|0|1|1|Inf|Inf|1|Inf|1");
    /* The views read the summary: the last loss was NaN, the best -Inf. */
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT steps, final_loss, best_loss FROM run_summary"
             " WHERE id = %lld",
             (long long)run);
    CHECK_STR(first_row(bp_runlog_sqlite(log), sql), "2100|NULL|-Inf");
    bp_runlog_close(log);
}

/* Steps logged again and before the last, as a resumed run logs the steps
 * after its checkpoint again: the replaced least value no longer counts, a
 * step far back and negative steps land in their own blocks. */
static void test_logged_again(void) {
    bp_runlog *log = open_new("again.db");
    CHECK(log != NULL);
    if (!log) return;
    bp_err e = {{0}};
    int64_t run = bp_runlog_begin(log, NULL, &e);
    for (int k = 1; k <= 2000; k++) bp_runlog_metric(log, run, "loss", k, 1000.0 / k, &e);
    bp_runlog_flush(log, &e);
    CHECK_STR(summary_of(log, run, "loss"), "2000|0|1|2000|0.5|0.5|2000|1000.0|1");
    /* The greatest (at step 1) and the least (at 2000) replaced. */
    bp_runlog_metric(log, run, "loss", 1, 3.0, &e);
    bp_runlog_metric(log, run, "loss", 2000, 4.0, &e);
    bp_runlog_flush(log, &e);
    CHECK_STR(summary_of(log, run, "loss"),
              "2000|0|1|2000|4.0|0.500250125062531|1999|500.0|2");
    for (int k = 1500; k <= 2100; k++) bp_runlog_metric(log, run, "loss", k, NAN, &e);
    bp_runlog_metric(log, run, "loss", -300, 0.125, &e);
    bp_runlog_flush(log, &e);
    CHECK_STR(summary_of(log, run, "loss"), "2101|601|-300|2100|NULL|0.125|-300|500.0|2");
    CHECK(agrees(log));
    CHECK_STR(first_row(bp_runlog_sqlite(log),
                        "SELECT min(block), count(*) FROM metric_blocks"),
              "-2|10");
    bp_runlog_close(log);
}

/* Random writes: series appended to, steps logged again, NaNs, commits at
 * random moments, several runs and names; the summaries agree with the rows
 * after each round. */
static void test_random_writes(void) {
    bp_runlog *log = open_new("random.db");
    CHECK(log != NULL);
    if (!log) return;
    bp_err e = {{0}};
    int64_t runs[3];
    for (int r = 0; r < 3; r++) runs[r] = bp_runlog_begin(log, NULL, &e);
    const char *names[] = {"loss", "acc", "lr"};
    int64_t next[3][3] = {{0}};
    unsigned s = 12345;
    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < 3000; k++) {
            s = s * 1103515245u + 12345u;
            int r = (int)(s >> 8) % 3, n = (int)(s >> 12) % 3,
                kind = (int)(s >> 16) % 100;
            int64_t step = kind < 90   ? next[r][n]++
                           : kind < 98 ? next[r][n] - (int64_t)((s >> 4) % 600)
                                       : -(int64_t)((s >> 4) % 50);
            double v = kind % 17 == 0 ? NAN : (double)((s >> 10) % 1000) / 7.0;
            bp_runlog_metric(log, runs[r], names[n], step, v, &e);
            if ((s >> 20) % 500 == 0) bp_runlog_flush(log, &e);
        }
        CHECK(agrees(log));
    }
    bp_runlog_close(log);
}

/* A summary made wrong on purpose is caught and named. */
static void test_check_catches(void) {
    bp_runlog *log = open_new("normal.db");
    CHECK(log != NULL);
    if (!log) return;
    sqlite3 *s = bp_runlog_sqlite(log);
    CHECK(agrees(log));
    char what[512];
    bp_err e = {{0}};
    sqlite3_exec(s, "UPDATE metric_summary SET min_step = 599 WHERE min_step = 600", NULL,
                 NULL, NULL);
    CHECK(bp_runlog_summaries_check(log, 0, NULL, what, sizeof what, &e) == 1);
    CHECK_STR(what, "run 1, metric 'loss': min_step 599, from the rows 600");
    sqlite3_exec(s,
                 "UPDATE metric_summary SET min_step = 600 WHERE min_step = 599;"
                 " DELETE FROM metric_blocks WHERE block = 2",
                 NULL, NULL, NULL);
    CHECK(bp_runlog_summaries_check(log, 1, NULL, what, sizeof what, &e) == 1);
    CHECK_STR(what, "run 1, metric 'loss', block 2: rows without a summary");
    sqlite3_exec(s,
                 "DELETE FROM metrics WHERE run_id = 1 AND step = 7 AND name_id ="
                 " (SELECT id FROM metric_names WHERE name = 'acc')",
                 NULL, NULL, NULL);
    CHECK(bp_runlog_summaries_check(log, 1, NULL, what, sizeof what, &e) == 3);
    CHECK_STR(what, "run 1, metric 'acc': count 10, from the rows 9");
    bp_runlog_close(log);
}

/* A process logging as fast as it can (and now and then logging again the
 * steps before its last) is killed with SIGKILL, five times at different
 * moments once it has committed 20,000 rows; the next open marks each run crashed, and what was committed
 * has summaries that agree with it. Then a resume takes the last run up
 * again and logs again from before its last committed step. */
static void test_killed_and_resumed(void) {
    const char *db = path_in("killed.db");
    for (int kill_no = 0; kill_no < 5; kill_no++) {
        int ready[2];
        CHECK(pipe(ready) == 0);
        pid_t kid = fork();
        if (kid == 0) {
            bp_err e;
            bp_runlog *log = bp_runlog_open(db, 0, &e);
            if (!log) _exit(2);
            int64_t run = bp_runlog_begin(log, NULL, &e);
            for (int64_t k = 0;; k++) {
                /* Once 20,000 rows are committed, the parent may kill. */
                if (k == 20000 &&
                    (bp_runlog_flush(log, &e) || write(ready[1], "!", 1) != 1))
                    _exit(3);
                bp_runlog_metric(log, run, "loss", k,
                                 k % 97 ? 1.0 / (double)(k + 1) : NAN, &e);
                if (k % 5000 == 4999)
                    for (int64_t j = k - 300; j < k; j++)
                        bp_runlog_metric(log, run, "loss", j, (double)j, &e);
            }
        }
        char c;
        close(ready[1]);
        CHECK(read(ready[0], &c, 1) == 1);
        close(ready[0]);
        nanosleep(&(struct timespec){0, 70000000 * kill_no}, NULL);
        kill(kid, SIGKILL);
        waitpid(kid, NULL, 0);
    }
    bp_err e = {{0}};
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    CHECK(log != NULL);
    if (!log) return;
    sqlite3 *s = bp_runlog_sqlite(log);
    CHECK_STR(first_row(s, "SELECT count(*), sum(status = 'crashed') FROM runs"), "5|5");
    CHECK_STR(first_row(s, "SELECT min(count) > 1000 FROM metric_summary"), "1");
    CHECK(agrees(log));
    /* The resume: from 1,000 steps before the last, other values. */
    int64_t run = 5, last = atoll(first_row(s, "SELECT last_step FROM metric_summary"
                                               " WHERE run_id = 5"));
    CHECK(bp_runlog_reopen(log, run, &e) == 0);
    for (int64_t k = last - 1000; k <= last + 1000; k++)
        bp_runlog_metric(log, run, "loss", k, 2.0 + (double)k, &e);
    CHECK(bp_runlog_end(log, run, "completed", NULL, NULL, &e) == 0);
    CHECK(agrees(log));
    char want[64];
    snprintf(want, sizeof want, "%lld|%.1f", (long long)(last + 1000),
             2.0 + (double)(last + 1000));
    CHECK_STR(
        first_row(s, "SELECT last_step, last_value FROM metric_summary WHERE run_id = 5"),
        want);
    bp_runlog_close(log);
}

/* One shard's database: a run with a loss and an accuracy. */
static void shard(const char *name, double scale) {
    bp_runlog *log = open_new(name);
    if (!log) return;
    bp_err e = {{0}};
    int64_t run = bp_runlog_begin(log, NULL, &e);
    for (int k = 0; k < 700; k++) {
        bp_runlog_metric(log, run, "loss", k, scale / (k + 1), &e);
        if (k % 7 == 0)
            bp_runlog_metric(log, run, "acc", k, k % 49 ? k * scale : NAN, &e);
    }
    bp_runlog_end(log, run, "completed", NULL, NULL, &e);
    bp_runlog_close(log);
}

/* Merged databases carry their summaries: the result agrees with its rows,
 * each run's summary is its shard's, and merging again changes nothing.
 * Then `rm` of a run takes its summaries with it. */
static void test_merge_and_rm(void) {
    shard("shard-a.db", 1.0);
    shard("shard-b.db", 3.0);
    bp_runlog *out = open_new("merged.db");
    CHECK(out != NULL);
    if (!out) return;
    bp_err e = {{0}};
    int64_t own = bp_runlog_begin(out, NULL, &e); /* ids differ from the shards' */
    bp_runlog_metric(out, own, "other", 1, 1.0, &e);
    bp_runlog_end(out, own, "completed", NULL, NULL, &e);
    bp_merge_counts c;
    for (int twice = 0; twice < 2; twice++) {
        CHECK(bp_runlog_merge(path_in("merged.db"), path_in("shard-a.db"), &c, &e) == 0);
        CHECK(bp_runlog_merge(path_in("merged.db"), path_in("shard-b.db"), &c, &e) == 0);
    }
    sqlite3 *s = bp_runlog_sqlite(out);
    CHECK(agrees(out));
    CHECK_STR(first_row(s, "SELECT count(*), sum(count) FROM metric_summary"), "5|1601");
    CHECK_STR(summary_of(out, 3, "loss"),
              "700|0|0|699|0.00428571428571429|0.00428571428571429|699|3.0|0");
    CHECK_STR(summary_of(out, 3, "acc"), "100|15|0|693|2079.0|21.0|7|2079.0|693");
    int64_t gone = 2;
    CHECK(bp_runlog_rm(out, &gone, 1, 0, &e) == 0);
    CHECK(agrees(out));
    CHECK_STR(first_row(s,
                        "SELECT (SELECT count(*) FROM metric_summary WHERE run_id = 2),"
                        " (SELECT count(*) FROM metric_blocks WHERE run_id = 2),"
                        " (SELECT count(*) FROM metric_summary)"),
              "0|0|3");
    bp_runlog_close(out);
}

/* A database as version 5 left it (the last without summaries): opened
 * for writing, it is migrated and its summaries are filled from its rows,
 * NaN and negative steps included; a run logging on after the migration
 * appends to them. */
static void test_migration(void) {
    const char *db = path_in("v5.db");
    sqlite3 *raw;
    sqlite3_open(db, &raw);
    for (int v = 0; v < 5; v++)
        CHECK(sqlite3_exec(raw, bp_runlog_schema_step(v), NULL, NULL, NULL) == SQLITE_OK);
    char sql[512];
    snprintf(
        sql, sizeof sql,
        "PRAGMA application_id = %d; PRAGMA user_version = 5;"
        "INSERT INTO runs(name, started, status) VALUES ('a', 1.7e9, 'completed'),"
        " ('b', 1.7e9, 'completed');"
        "INSERT INTO metric_names(name) VALUES ('loss'), ('acc');"
        "WITH RECURSIVE k(i) AS (SELECT -500 UNION ALL SELECT i + 1 FROM k"
        " WHERE i < 1500) INSERT INTO metrics SELECT 1 + (i & 1), 1 + (i %% 3 = 0), i,"
        " CASE WHEN i %% 101 = 0 THEN NULL ELSE (i * 37) %% 1000 END FROM k;",
        BP_RUNLOG_APP_ID);
    CHECK(sqlite3_exec(raw, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(raw);
    bp_runlog *log = open_new("v5.db");
    CHECK(log != NULL);
    if (!log) return;
    sqlite3 *s = bp_runlog_sqlite(log);
    snprintf(sql, sizeof sql, "%d", BP_RUNLOG_SCHEMA);
    CHECK_STR(first_row(s, "PRAGMA user_version"), sql);
    CHECK(agrees(log));
    CHECK_STR(
        first_row(s, "SELECT count(*), sum(count), sum(nan_count) FROM metric_summary"),
        "4|2001|19");
    bp_err e = {{0}};
    CHECK(bp_runlog_reopen(log, 1, &e) == 0);
    bp_runlog_metric(log, 1, "loss", 5000, -1.0, &e);
    CHECK(bp_runlog_end(log, 1, "completed", NULL, NULL, &e) == 0);
    CHECK(agrees(log));
    CHECK_STR(
        first_row(s, "SELECT final_loss, best_loss, steps FROM run_summary WHERE id = 1"),
        "-1.0|-962.0|5000");
    bp_runlog_close(log);
}

/* runs.params_text (7.sql), which run_summary.params reads, against the
 * spelling worked out by hand, after what writes parameters: backprop's
 * upsert of every type (NaN and a value changed included), statements of
 * the user's own in the shell (a delete, the last delete), a merge, and a
 * migration of a version-6 database that had parameters. */
static void test_params_text(void) {
    bp_runlog *log = open_new("params.db");
    CHECK(log != NULL);
    if (!log) return;
    bp_err e = {{0}};
    sqlite3 *s = bp_runlog_sqlite(log);
    int64_t run = bp_runlog_begin(log, NULL, &e), bare = bp_runlog_begin(log, NULL, &e);
    bp_runlog_param_real(log, run, "lr", 0.1, &e);
    bp_runlog_param_int(log, run, "hidden", 4, &e);
    bp_runlog_param_bool(log, run, "nesterov", 1, &e);
    bp_runlog_param_bool(log, run, "decay", 0, &e);
    bp_runlog_param_text(log, run, "act", "tanh", &e);
    bp_runlog_param_real(log, run, "wd", NAN, &e);
    CHECK_STR(first_row(s, "SELECT params FROM run_summary WHERE id = 1"),
              "act=tanh decay=false hidden=4 lr=0.1 nesterov=true wd=nan");
    bp_runlog_param_int(log, run, "hidden", 16, &e); /* the upsert's update */
    CHECK_STR(first_row(s, "SELECT params FROM run_summary WHERE id = 1"),
              "act=tanh decay=false hidden=16 lr=0.1 nesterov=true wd=nan");
    CHECK_STR(first_row(s, "SELECT params_text FROM runs WHERE id = 2"), "NULL");
    CHECK(sqlite3_exec(s, "DELETE FROM params WHERE run_id = 1 AND key IN ('act', 'wd');"
                          "INSERT INTO params VALUES (2, 'k', 'v', 'text');",
                       NULL, NULL, NULL) == SQLITE_OK);
    CHECK_STR(first_row(s, "SELECT params FROM run_summary ORDER BY id"),
              "decay=false hidden=16 lr=0.1 nesterov=true");
    CHECK_STR(first_row(s, "SELECT params FROM run_summary WHERE id = 2"), "k=v");
    CHECK(sqlite3_exec(s, "DELETE FROM params WHERE run_id = 2", NULL, NULL, NULL) ==
          SQLITE_OK);
    CHECK_STR(first_row(s, "SELECT params FROM run_summary WHERE id = 2"), "NULL");
    bp_runlog_end(log, run, "completed", NULL, NULL, &e);
    bp_runlog_end(log, bare, "completed", NULL, NULL, &e);
    bp_runlog_close(log);
    /* Merged into a database that has a run of its own: the copy's line is
     * its own run's. */
    bp_runlog *out = open_new("params-merged.db");
    CHECK(out != NULL);
    if (!out) return;
    int64_t own = bp_runlog_begin(out, NULL, &e);
    bp_runlog_param_int(out, own, "seed", 7, &e);
    bp_runlog_end(out, own, "completed", NULL, NULL, &e);
    bp_merge_counts c;
    CHECK(bp_runlog_merge(path_in("params-merged.db"), path_in("params.db"), &c, &e) == 0);
    CHECK_STR(first_row(bp_runlog_sqlite(out),
                        "SELECT group_concat(coalesce(params, '-'), ' | ') FROM"
                        " (SELECT params FROM run_summary ORDER BY id)"),
              "seed=7 | decay=false hidden=16 lr=0.1 nesterov=true | -");
    bp_runlog_close(out);
    /* A version-6 database with parameters, migrated. */
    const char *db = path_in("v6.db");
    sqlite3 *raw;
    sqlite3_open(db, &raw);
    for (int v = 0; v < 6; v++)
        CHECK(sqlite3_exec(raw, bp_runlog_schema_step(v), NULL, NULL, NULL) == SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql,
             "PRAGMA application_id = %d; PRAGMA user_version = 6;"
             "INSERT INTO runs(name, started, status) VALUES ('a', 1.7e9, 'completed'),"
             " ('b', 1.7e9, 'completed'), ('c', 1.7e9, 'completed');"
             "INSERT INTO params VALUES (1, 'lr', 0.5, 'real'), (1, 'b', 1, 'bool'),"
             " (3, 'x', NULL, 'real');",
             BP_RUNLOG_APP_ID);
    CHECK(sqlite3_exec(raw, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(raw);
    log = open_new("v6.db");
    CHECK(log != NULL);
    if (!log) return;
    CHECK_STR(first_row(bp_runlog_sqlite(log),
                        "SELECT group_concat(coalesce(params, '-'), ' | ') FROM"
                        " (SELECT params FROM run_summary ORDER BY id)"),
              "b=true lr=0.5 | - | x=nan");
    bp_runlog_close(log);
}

/* Whether the buckets cover the series' rows in order, each row in one,
 * with the count, NaNs, least and greatest (first steps) the rows give. */
static int buckets_match(const int64_t *steps, const double *values, size_t n,
                         const bp_metric_bucket *b, size_t nb) {
    size_t k = 0;
    for (size_t j = 0; j < nb; j++) {
        int64_t count = 0, nans = 0, lo_at = 0, hi_at = 0;
        double lo = NAN, hi = NAN;
        for (; k < n && steps[k] <= b[j].last_step; k++, count++) {
            if (steps[k] < b[j].first_step) return 0;
            if (isnan(values[k])) nans++;
            else if (isnan(lo) || values[k] < lo) lo = values[k], lo_at = steps[k];
            if (!isnan(values[k]) && (isnan(hi) || values[k] > hi))
                hi = values[k], hi_at = steps[k];
        }
        if (count != b[j].count || nans != b[j].nan_count) return 0;
        if (count > nans && !(lo == b[j].min && hi == b[j].max &&
                              lo_at == b[j].min_step && hi_at == b[j].max_step))
            return 0;
        if (count == nans && !(isnan(b[j].min) && isnan(b[j].max))) return 0;
    }
    return k == n;
}

/* Reduces metric `name` of run to max_points; checks the buckets against
 * the rows; returns how many buckets. */
static size_t reduced(bp_runlog *log, int64_t run, const char *name, size_t max_points,
                      bp_metric_bucket **b) {
    bp_err e = {{0}};
    int64_t *steps;
    double *values;
    size_t n, nb;
    CHECK(bp_runlog_metric_get(log, run, name, &steps, &values, &n, &e) == 0);
    CHECK(bp_runlog_metric_reduce(log, run, name, max_points, b, &nb, &e) == 0);
    CHECK(buckets_match(steps, values, n, *b, nb));
    size_t points = 0;
    for (size_t j = 0; j < nb; j++)
        points += (*b)[j].min_step == (*b)[j].max_step ? 1 : 2;
    CHECK(points <= max_points);
    free(steps);
    free(values);
    return nb;
}

/* A series reduced for a plot: 100,000 steps to 200 points from its blocks
 * (98 buckets of 4 blocks, 1,024 steps), a NaN, a spike and -Inf each in
 * its bucket, and to 2,000 points (391 buckets, a block each); 3,000 steps
 * to 2,000 points from the rows (1,000 buckets of 3 steps); 50 values
 * whole. */
static void test_reduce(void) {
    bp_runlog *log = open_new("reduce.db");
    CHECK(log != NULL);
    if (!log) return;
    bp_err e = {{0}};
    int64_t run = bp_runlog_begin(log, NULL, &e);
    for (int k = 0; k < 100000; k++) {
        double v = k == 54321   ? NAN
                   : k == 77777 ? 1e9
                   : k == 12345 ? -INFINITY
                                : sin(k / 1000.0);
        bp_runlog_metric(log, run, "long", k, v, &e);
        if (k < 3000) bp_runlog_metric(log, run, "mid", 1000 + k, cos(k), &e);
        if (k < 50) bp_runlog_metric(log, run, "short", k * k, k, &e);
    }
    bp_metric_bucket *b = NULL;
    CHECK(reduced(log, run, "long", 200, &b) == 98);
    CHECK(b[75].first_step == 75 * 1024 && b[75].max == 1e9 && b[75].max_step == 77777);
    CHECK(b[53].nan_count == 1 && b[53].count == 1024);
    CHECK(b[12].min == -INFINITY && b[12].min_step == 12345);
    free(b);
    CHECK(reduced(log, run, "long", 2000, &b) == 391); /* a block a bucket */
    CHECK(b[390].first_step == 390 * 256 && b[390].last_step == 99999);
    free(b);
    CHECK(reduced(log, run, "mid", 2000, &b) == 1000);
    CHECK(b[999].first_step == 3997 && b[999].last_step == 3999);
    free(b);
    CHECK(reduced(log, run, "short", 100, &b) == 50);
    CHECK(b[49].first_step == 49 * 49 && b[49].count == 1 && b[49].min == 49);
    free(b);
    size_t n = 1;
    CHECK(bp_runlog_metric_reduce(log, run, "none", 100, &b, &n, &e) == 0 && n == 0);
    CHECK(bp_runlog_metric_reduce(log, run, "long", 1, &b, &n, &e) == -1);
    CHECK_STR(e.msg, "a reduced series needs at least 2 points");
    bp_runlog_close(log);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/test_summary_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_normal_run();
    test_nan_and_infinities();
    test_logged_again();
    test_random_writes();
    test_check_catches();
    test_killed_and_resumed();
    test_merge_and_rm();
    test_migration();
    test_params_text();
    test_reduce();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_summary");
}
