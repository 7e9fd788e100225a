/* test_cli.c: the database commands (bp_cli.h), by their exact output.
 *
 * A database is filled through the run log's API with numbers whose text is
 * known (0.5, 0.25, NaN, Inf), its times fixed by SQL so that durations are
 * too; each command then writes into memory streams that are compared with
 * what a user should see, character for character. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pty.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "bp_runlog.h"
#include "runlog_int.h"
#include "check.h"

static char dir[64], db[128];

/* Runs a command with the given arguments; *out and *err get what it
 * printed (static buffers). */
static int run(const char *cmd, const char **out, const char **err, int argc, ...) {
    static char *obuf, *ebuf;
    size_t on, en;
    free(obuf);
    free(ebuf);
    FILE *o = open_memstream(&obuf, &on), *e = open_memstream(&ebuf, &en);
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int k = 0; k < argc; k++) argv[k] = va_arg(ap, char *);
    va_end(ap);
    static const struct {
        const char *name;
        int (*fn)(const char *, int, char **, FILE *, FILE *);
    } cmds[] = {{"runs", bp_cli_runs},
                {"show", bp_cli_show},
                {"query", bp_cli_query},
                {"rm", bp_cli_rm},
                {"export", bp_cli_export}};
    int rc = -1;
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (!strcmp(cmds[k].name, cmd)) rc = cmds[k].fn(db, argc, argv, o, e);
    fclose(o);
    fclose(e);
    *out = obuf, *err = ebuf;
    return rc;
}

static void fill(void) {
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    CHECK(log != NULL);
    if (!log) return;
    bp_run_info r1 = {.name = "xor",
                      .script_path = "scripts/xor.lua",
                      .script_text = "x",
                      .command = "backprop run scripts/xor.lua",
                      .has_seed = 1,
                      .seed = 42,
                      .host = "box",
                      .pid = 1,
                      .version = "0.1.0"};
    bp_run_info r2 = {.name = "xor, wide",
                      .script_path = "scripts/xor.lua",
                      .script_text = "x",
                      .host = "box",
                      .pid = 1,
                      .version = "0.1.0"};
    bp_run_info r3 = {.name = "spiral",
                      .script_path = "scripts/spiral.lua",
                      .script_text = "y",
                      .host = "box",
                      .pid = 1,
                      .version = "0.1.0"};
    int64_t a = bp_runlog_begin(log, &r1, &e), b = bp_runlog_begin(log, &r2, &e);
    int64_t c = bp_runlog_begin(log, &r3, &e);
    const double la[] = {0.5, 0.25, 0.375}, acc[] = {0.5, 0.75, 1};
    for (int k = 0; k < 3; k++) {
        bp_runlog_metric(log, a, "loss", k + 1, la[k], &e);
        bp_runlog_metric(log, a, "acc", k + 1, acc[k], &e);
    }
    bp_runlog_metric(log, b, "loss", 1, 2.0, &e);
    bp_runlog_metric(log, b, "loss", 2, INFINITY, &e);
    bp_runlog_metric(log, b, "loss", 3, NAN, &e);
    bp_runlog_param_real(log, a, "lr", 0.1, &e);
    bp_runlog_param_int(log, a, "hidden", 4, &e);
    bp_runlog_param_real(log, b, "lr", 0.01, &e);
    bp_runlog_param_int(log, b, "hidden", 16, &e);
    bp_runlog_tag(log, a, "baseline", NULL, &e);
    bp_runlog_tag(log, a, "data", "xor4", &e);
    bp_runlog_note(log, a, "looks good", &e);
    int sizes[3] = {2, 3, 1};
    double p[13] = {0};
    bp_runlog_snapshot(log, a, 1, NULL, 2, sizes, p, 13, 0, &e);
    bp_runlog_snapshot(log, a, 3, NULL, 2, sizes, p, 13, 0, &e);
    bp_runlog_end(log, a, "completed", NULL, NULL, &e);
    bp_runlog_end(log, b, "diverged", NULL, NULL, &e);
    bp_runlog_end(log, c, "failed", "spiral.lua:3: boom",
                  "stack traceback:\n\tspiral.lua:3: in main chunk", &e);
    sqlite3_exec(bp_runlog_sqlite(log),
                 "UPDATE runs SET started = 1700000000 + 100 * id,"
                 " ended = 1700000000 + 100 * id + CASE id WHEN 1 THEN 12.5 WHEN 2"
                 " THEN 75 ELSE 3725 END;"
                 "UPDATE notes SET time = 1700000050",
                 NULL, NULL, NULL);
    bp_runlog_close(log);
}

static void test_runs(void) {
    const char *out, *err;
    CHECK(run("runs", &out, &err, 0) == 0);
    CHECK_STR(
        out,
        "id  name       status     params             final  best  steps  duration\n"
        " 3  spiral     failed                            -     -      -     1h02m\n"
        " 2  xor, wide  diverged   hidden=16 lr=0.01    nan     2      3     1m15s\n"
        " 1  xor        completed  hidden=4 lr=0.1    0.375  0.25      3     12.5s\n");
    CHECK_STR(err, "");
    CHECK(run("runs", &out, &err, 2, "--status", "completed") == 0);
    CHECK(strstr(out, " 1  xor ") && !strstr(out, "spiral") && !strstr(out, "wide"));
    CHECK(run("runs", &out, &err, 4, "--status", "failed", "--status", "diverged") == 0);
    CHECK(strstr(out, "spiral") && strstr(out, "wide") && !strstr(out, " 1  xor "));
    CHECK(run("runs", &out, &err, 2, "--status", "bogus") == 1);
    CHECK_STR(out, "");
    CHECK_STR(err, "backprop: runs: no status 'bogus' (a run's status is one of running,"
                   " completed, failed, interrupted, diverged, crashed, pruned)\n");
    CHECK(run("runs", &out, &err, 2, "--name", "xor*") == 0);
    CHECK(strstr(out, " 1  xor ") && strstr(out, "wide") && !strstr(out, "spiral"));
    CHECK(run("runs", &out, &err, 2, "--param", "lr<0.05") == 0);
    CHECK(!strstr(out, " 1  xor ") && strstr(out, "wide"));
    CHECK(run("runs", &out, &err, 4, "--param", "lr=0.1", "--param", "hidden>=4") == 0);
    CHECK(strstr(out, " 1  xor ") && !strstr(out, "wide"));
    CHECK(run("runs", &out, &err, 2, "--limit", "1") == 0);
    CHECK(strstr(out, "spiral") && !strstr(out, "wide"));
    CHECK(run("runs", &out, &err, 2, "--name", "nothing") == 0);
    CHECK_STR(out, "no runs\n");
    CHECK(run("runs", &out, &err, 2, "--param", "lr~1") == 1);
    CHECK_STR(err,
              "backprop: runs: --param wants KEY=VALUE (or != < <= > >=), not 'lr~1'\n");
    CHECK(run("runs", &out, &err, 1, "--bogus") == 1);
    CHECK_STR(err, "backprop: runs: unknown argument '--bogus' (--status S, --name GLOB,"
                   " --param KEY=VALUE, --limit N, --all)\n");
    char want[256];
    snprintf(want, sizeof want, "backprop: %s/none.db: no such database\n", dir);
    char other[160];
    snprintf(other, sizeof other, "--db=%s/none.db", dir);
    CHECK(run("runs", &out, &err, 1, other) == 1);
    CHECK_STR(err, want);
}

static void test_show(void) {
    const char *out, *err;
    CHECK(run("show", &out, &err, 1, "1") == 0);
    CHECK_STR(out, "run 1: xor\n"
                   "  status    completed\n"
                   "  script    scripts/xor.lua (1 bytes, fnv1a af63f54c86021707)\n"
                   "  command   backprop run scripts/xor.lua\n"
                   "  seed      42\n"
                   "  started   2023-11-14 22:15:00.000 UTC\n"
                   "  ended     2023-11-14 22:15:12.500 UTC\n"
                   "  duration  12.5s\n"
                   "  host      box (pid 1)\n"
                   "  version   0.1.0\n"
                   "  params    hidden=4 lr=0.1\n"
                   "tags:\n"
                   "  baseline, data=xor4\n"
                   "notes:\n"
                   "  2023-11-14 22:14:10  looks good\n"
                   "metrics per step:\n"
                   "  metric  values  steps   last   min  max  nan\n"
                   "  acc          3   1..3      1   0.5    1    0\n"
                   "  loss         3   1..3  0.375  0.25  0.5    0\n"
                   "loss curve:\n"
                   "           1  0.5\n"
                   "           2  0.25\n"
                   "           3  0.375\n"
                   "  best 0.25 at step 2\n"
                   "snapshots:\n"
                   "  net: 2 at steps 1, 3; shape 2,3,1, f64\n");
    CHECK(run("show", &out, &err, 1, "3") == 0);
    CHECK(strstr(out, "  error     spiral.lua:3: boom\n"
                      "traceback:\n"
                      "  stack traceback:\n"
                      "  \tspiral.lua:3: in main chunk\n") != NULL);
    CHECK(run("show", &out, &err, 1, "2") == 0);
    CHECK(strstr(out, "  metric  values  steps  last  min  max  nan\n"
                      "  loss         3   1..3   nan    2  inf    1\n") != NULL);
    CHECK(strstr(out, "           2  inf\n           3  nan\n") != NULL);
    CHECK(run("show", &out, &err, 1, "9") == 1);
    char want[256];
    snprintf(want, sizeof want, "backprop: %s: no run 9\n", db);
    CHECK_STR(err, want);
    CHECK(run("show", &out, &err, 1, "x") == 1);
    CHECK_STR(err, "backprop: show: 'x' is not a run id\n");
}

static void test_query(void) {
    const char *out, *err;
    CHECK(run("query", &out, &err, 1,
              "SELECT id, name, final_loss, params FROM run_summary ORDER BY id") == 0);
    CHECK_STR(out, "id  name       final_loss  params\n"
                   " 1  xor             0.375  hidden=4 lr=0.1\n"
                   " 2  xor, wide        NULL  hidden=16 lr=0.01\n"
                   " 3  spiral           NULL  NULL\n");
    CHECK(
        run("query", &out, &err, 2, "--csv",
            "SELECT id, name, (SELECT value FROM params WHERE run_id = id AND key = 'lr') AS lr"
            " FROM runs ORDER BY id") == 0);
    CHECK_STR(out, "id,name,lr\n1,xor,0.1\n2,\"xor, wide\",0.01\n3,spiral,\n");
    CHECK(
        run("query", &out, &err, 2, "--json",
            "SELECT step, value, value_text FROM metrics_view WHERE run_id = 2 ORDER BY step") ==
        0);
    CHECK_STR(out, "[\n"
                   "  {\"step\": 1, \"value\": 2, \"value_text\": \"2.0\"},\n"
                   "  {\"step\": 2, \"value\": null, \"value_text\": \"Inf\"},\n"
                   "  {\"step\": 3, \"value\": null, \"value_text\": \"NaN\"}\n"
                   "]\n");
    CHECK(run("query", &out, &err, 2, "--json", "SELECT 1 WHERE 0") == 0);
    CHECK_STR(out, "[]\n");
    /* Exact numbers in CSV, readable ones in the table. */
    CHECK(run("query", &out, &err, 2, "--csv",
              "SELECT 0.1 + 0.2 AS x, 1.0 / 3 AS y, 1e308 * 10 AS z") == 0);
    CHECK_STR(out, "x,y,z\n0.30000000000000004,0.3333333333333333,inf\n");
    CHECK(run("query", &out, &err, 1, "SELECT 0.1 + 0.2 AS x, 'a\"b' AS y") == 0);
    CHECK_STR(out, "  x  y\n0.3  a\"b\n");
    /* bp_weights is there. */
    CHECK(run("query", &out, &err, 3, "--csv", "SELECT count(*) AS n FROM snapshots s,",
              "bp_weights(s.data, s.shape) w WHERE w.kind = 'b'") == 0);
    CHECK_STR(out, "n\n8\n");
    /* SQLite's own messages; the database cannot be changed. */
    CHECK(run("query", &out, &err, 1, "SELEC 1") == 1);
    CHECK_STR(err, "backprop: near \"SELEC\": syntax error\n");
    CHECK(run("query", &out, &err, 1, "DELETE FROM runs") == 1);
    CHECK_STR(err, "backprop: DELETE FROM runs is not allowed: a query only reads\n");
    CHECK(run("query", &out, &err, 1, "PRAGMA user_version = 7") == 1);
    CHECK_STR(err,
              "backprop: PRAGMA user_version = 7 is not allowed: a query only reads\n");
    CHECK(run("query", &out, &err, 1, "SELECT count(*) FROM runs; PRAGMA user_version") ==
          0);
    /* user_version is still the schema's: the PRAGMA above was refused */
    char want[96];
    snprintf(want, sizeof want, "count(*)\n       3\nuser_version\n%12d\n", BP_RUNLOG_SCHEMA);
    CHECK_STR(out, want);
    CHECK(run("query", &out, &err, 0) == 1);
    CHECK_STR(
        err,
        "backprop: query wants SQL, e.g. backprop query \"SELECT * FROM run_summary\"\n");
}

/* The attacks of issue 19 on `backprop query`, each refused by name
 * before it does anything; what reads still works. */
static void test_query_sandbox(void) {
    const char *out, *err;
    char sql[512], copy[192];
    snprintf(copy, sizeof copy, "%s/copy.db", dir);
    static const struct {
        const char *sql, *err;
    } refused[] = {
        /* fts3_tokenizer takes and gives function addresses: a jump to an
         * address chosen in SQL, a pointer printed. */
        {"SELECT fts3_tokenizer('simple', x'4141414141414141')",
         "the function fts3_tokenizer() is not allowed in a query"},
        {"SELECT hex(fts3_tokenizer('simple'))",
         "the function fts3_tokenizer() is not allowed in a query"},
        {"CREATE VIRTUAL TABLE temp.t USING fts3tokenize(simple)",
         "CREATE is not allowed: a query only reads"},
        {"SELECT load_extension('/tmp/x.so')",
         "the function load_extension() is not allowed in a query"},
        {"PRAGMA query_only = 0",
         "PRAGMA query_only = 0 is not allowed: a query only reads"},
        {"PRAGMA writable_schema = 1",
         "PRAGMA writable_schema = 1 is not allowed: a query only reads"},
        {"PRAGMA journal_mode = DELETE",
         "PRAGMA journal_mode = DELETE is not allowed: a query only reads"},
        {"PRAGMA wal_checkpoint",
         "PRAGMA wal_checkpoint is not allowed: a query only reads"},
        {"BEGIN IMMEDIATE", "BEGIN is not allowed: a query only reads"},
        {"CREATE TEMP TABLE t(x)", "CREATE is not allowed: a query only reads"},
        {"DROP VIEW run_summary", "DROP is not allowed: a query only reads"},
        {"UPDATE runs SET name = 'x'", "UPDATE runs is not allowed: a query only reads"},
    };
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        char want[160];
        snprintf(want, sizeof want, "backprop: %s\n", refused[k].err);
        CHECK(run("query", &out, &err, 1, refused[k].sql) == 1);
        CHECK_STR(err, want);
    }
    /* A copy of the database: refused before any file is made. */
    snprintf(sql, sizeof sql, "PRAGMA query_only = 0; VACUUM INTO '%s'", copy);
    CHECK(run("query", &out, &err, 1, sql) == 1);
    CHECK_STR(err,
              "backprop: PRAGMA query_only = 0 is not allowed: a query only reads\n");
    snprintf(sql, sizeof sql, "-- a copy\n vacuum INTO '%s'", copy);
    CHECK(run("query", &out, &err, 1, sql) == 1);
    CHECK_STR(err, "backprop: VACUUM is not allowed: a query only reads\n");
    snprintf(sql, sizeof sql, "ATTACH '%s' AS a", copy);
    CHECK(run("query", &out, &err, 1, sql) == 1);
    CHECK_STR(err, "backprop: ATTACH is not allowed: a query only reads\n");
    CHECK(access(copy, F_OK) == -1);
    /* What only reads: the checks, the schema, json_each, bp_weights. */
    CHECK(run("query", &out, &err, 2, "--csv", "PRAGMA integrity_check") == 0);
    CHECK_STR(out, "integrity_check\nok\n");
    CHECK(
        run("query", &out, &err, 2, "--csv",
            "SELECT count(*) AS n FROM pragma_table_info('runs') WHERE name = 'status'") ==
        0);
    CHECK_STR(out, "n\n1\n");
    CHECK(run("query", &out, &err, 2, "--csv",
              "SELECT sum(value) AS s FROM json_each('[1, 2]')") == 0);
    CHECK_STR(out, "s\n3\n");
    CHECK(
        run("query", &out, &err, 2, "--csv",
            "SELECT s.step, w.name, w.value FROM snapshots s, bp_weights(s.data, s.shape) w"
            " WHERE w.name = 'b21' ORDER BY s.step") == 0);
    CHECK_STR(out, "step,name,value\n1,b21,0\n3,b21,0\n");
}

/* A query that never ends stops at its time limit; one that gives a large
 * table prints it in blocks, never holding it whole. */
static void test_query_limits(void) {
    const char *out, *err;
    const char *forever =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
        " SELECT count(*) FROM c";
    double t0 = bp_clock();
    CHECK(run("query", &out, &err, 3, "--timeout", "1", forever) == 1);
    double took = bp_clock() - t0;
    CHECK(took >= 1 && took < 20);
    CHECK_STR(err, "backprop: time limit of 1s reached (--timeout)\n");
    CHECK_STR(out, "");
    CHECK(run("query", &out, &err, 3, "--timeout", "soon", "SELECT 1") == 1);
    CHECK_STR(
        err,
        "backprop: query: bad --timeout 'soon': expected whole seconds, 0 for no limit\n");
    CHECK(run("query", &out, &err, 4, "--timeout", "0", "--csv", "SELECT 1 AS one") == 0);
    CHECK_STR(out, "one\n1\n");

    /* A table that never ends: its first rows are printed before the time
     * limit stops it (they were held until the end, and lost). */
    CHECK(run("query", &out, &err, 3, "--timeout", "1",
              "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
              " SELECT x, length(printf('%*d', 10000, x)) AS n FROM c") == 1);
    CHECK_STR(err, "backprop: time limit of 1s reached (--timeout)\n");
    CHECK(strstr(out, "x      n\n") != NULL && strstr(out, " 1  10000\n") != NULL);
#if !defined(__SANITIZE_ADDRESS__)
    /* 1,000,000 rows of 60 characters: held whole, about 120 MB. (Not
     * under ASan, whose quarantine keeps what was freed.) */
    const char *big = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
                      " LIMIT 1000000) SELECT x, printf('%050d', x) AS t FROM c";
    FILE *sink = fopen("/dev/null", "w"), *e = tmpfile();
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    char *argv[] = {(char *)big};
    CHECK(sink && e && bp_cli_query(db, 1, argv, sink, e) == 0);
    getrusage(RUSAGE_SELF, &after);
    CHECK(after.ru_maxrss - before.ru_maxrss < 40 * 1024); /* KB */
    if (sink) fclose(sink);
    if (e) fclose(e);
#endif
    /* The blocks: the header once, each block aligned to the widest cells
     * so far. */
    CHECK(run("query", &out, &err, 1,
              "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1001)"
              " SELECT x FROM c") == 0);
    CHECK(strncmp(out, "   x\n   1\n", 10) == 0);
    CHECK(strstr(out, "\n1000\n1001\n") != NULL);
    CHECK(strstr(out + 4, "   x\n") == NULL);
}

/* CSV cells that a spreadsheet would run as formulas (OWASP's CSV
 * injection): text starting with =, +, -, @, a tab or a CR gets a quote;
 * numbers, negative ones too, stay numbers. */
static void test_csv_injection(void) {
    const char *out, *err;
    CHECK(run("query", &out, &err, 2, "--csv",
              "SELECT '=HYPERLINK(\"http://x\")' AS \"=a\", '+1' AS b, -0.5 AS c,"
              " '-0.5' AS d, '@SUM(A1)' AS e, '-cmd' AS f, ' =x' AS g, 'a-b' AS h,"
              " -1e-05 AS i, 1e308 * -10 AS j, '-' AS k") == 0);
    CHECK_STR(out,
              "\"'=a\",b,c,d,e,f,g,h,i,j,k\n"
              "\"'=HYPERLINK(\"\"http://x\"\")\",+1,-0.5,-0.5,\"'@SUM(A1)\",\"'-cmd\","
              " =x,a-b,-1e-05,-inf,\"'-\"\n");
    CHECK(run("query", &out, &err, 2, "--csv", "SELECT char(9) || '=1' AS t, 'x' AS u") ==
          0);
    CHECK_STR(out, "t,u\n\"'\t=1\",x\n");
    /* A run whose metrics are named so, exported. */
    char saved[sizeof db];
    memcpy(saved, db, sizeof db);
    snprintf(db, sizeof db, "%s/inject.db", dir);
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    CHECK(log != NULL);
    if (log) {
        int64_t r =
            bp_runlog_begin(log, &(bp_run_info){.name = "=cmd|' /C calc'!A0"}, &e);
        bp_runlog_metric(log, r, "=2+3", 1, -1.5, &e);
        bp_runlog_metric(log, r, "@x", 1, -0.25, &e);
        bp_runlog_metric(log, r, "loss", 1, 0.5, &e);
        bp_runlog_tag(log, r, "-t", "+SUM(1)", &e);
        bp_runlog_param_text(log, r, "layers", "64,=1+2,\n-3", &e);
        bp_runlog_end(log, r, "completed", NULL, NULL, &e);
        bp_runlog_close(log);
    }
    CHECK(run("export", &out, &err, 2, "1", "--csv") == 0);
    /* The comment lines' commas split no formula off: "\x2c" before one. */
    CHECK(strstr(out, "# name: =cmd|' /C calc'!A0\n") == out + strlen("# run: 1\n"));
    CHECK(strstr(out, "\n# param layers = 64\\x2c=1+2,\\n-3\n") != NULL);
    CHECK(strlen(out) >= 48 &&
          !strcmp(out + strlen(out) - 48,
                  "step,epoch,\"'=2+3\",\"'@x\",loss\n1,,-1.5,-0.25,0.5\n"));
    CHECK(
        run("query", &out, &err, 2, "--csv",
            "SELECT r.name, t.key, t.value FROM runs r JOIN tags t ON t.run_id = r.id") ==
        0);
    CHECK_STR(out, "name,key,value\n\"'=cmd|' /C calc'!A0\",\"'-t\",\"'+SUM(1)\"\n");
    memcpy(db, saved, sizeof db);
}

/* The comment lines export writes before run 1's CSV (times fixed by fill). */
static const char run1_comments[] =
    "# run: 1\n"
    "# name: xor\n"
    "# status: completed\n"
    "# script: scripts/xor.lua\n"
    "# command: backprop run scripts/xor.lua\n"
    "# seed: 42\n"
    "# started: 2023-11-14 22:15:00.000 UTC\n"
    "# ended: 2023-11-14 22:15:12.500 UTC\n"
    "# host: box\n"
    "# version: 0.1.0\n"
    "# param hidden = 4\n"
    "# param lr = 0.1\n";

static void test_export(void) {
    const char *out, *err;
    char want[1024];
    CHECK(run("export", &out, &err, 2, "1", "--csv") == 0);
    snprintf(want, sizeof want, "%sstep,epoch,acc,loss\n1,,0.5,0.5\n2,,0.75,0.25\n3,,1,0.375\n",
             run1_comments);
    CHECK_STR(out, want);
    CHECK(run("export", &out, &err, 1, "2") == 0);
    CHECK(strstr(out, "# name: xor, wide\n# status: diverged\n") != NULL);
    CHECK(strstr(out, "# param hidden = 16\n# param lr = 0.01\n"
                      "step,epoch,loss\n1,,2\n2,,inf\n3,,nan\n") != NULL);
    char file[160];
    snprintf(file, sizeof file, "%s/run1.csv", dir);
    CHECK(run("export", &out, &err, 3, "1", "-o", file) == 0);
    CHECK_STR(out, "");
    FILE *f = fopen(file, "r");
    char buf[1024] = "";
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    CHECK_STR(buf, want);
    /* Run 3 logged nothing: its record, then the step and epoch columns
     * alone. */
    CHECK(run("export", &out, &err, 1, "3") == 0);
    CHECK(strstr(out, "# name: spiral\n# status: failed\n") == out + strlen("# run: 3\n"));
    CHECK(strlen(out) > 11 && !strcmp(out + strlen(out) - 11, "step,epoch\n"));
    CHECK(run("export", &out, &err, 1, "8") == 1);
    CHECK(strstr(err, ": no run 8\n") != NULL);
    CHECK(run("export", &out, &err, 3, "1", "--csv", "--json") == 1);
    CHECK_STR(err, "backprop: export: --csv or --json, not both\n");
    CHECK(run("export", &out, &err, 2, "1", "--yaml") == 1);
    CHECK_STR(err, "backprop: export: unknown option '--yaml' (--csv, --json, -o FILE)\n");
}

/* sqlite3's JSON functions on `json`: the text of json_extract(json, path)
 * for each path, NULL-terminated, joined by '|' into out. */
static void json_paths(const char *json, char *out, size_t cap, ...) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    sqlite3_open(":memory:", &db);
    va_list ap;
    va_start(ap, cap);
    for (const char *path; (path = va_arg(ap, const char *)) != NULL;) {
        sqlite3_prepare_v2(db, "SELECT coalesce(json_extract(?1, ?2), 'NULL')", -1, &st, NULL);
        sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
        const char *t = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0)
                                                        : "ERROR";
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "|" : "", t);
        sqlite3_finalize(st);
    }
    va_end(ap);
    sqlite3_close(db);
}

static int json_valid(const char *json) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    sqlite3_open(":memory:", &db);
    sqlite3_prepare_v2(db, "SELECT json_valid(?1)", -1, &st, NULL);
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    int ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

static void test_export_json(void) {
    const char *out, *err;
    char got[512];
    CHECK(run("export", &out, &err, 2, "1", "--json") == 0);
    CHECK(json_valid(out));
    json_paths(out, got, sizeof got, "$.run.id", "$.run.name", "$.run.status", "$.run.seed",
               "$.run.started", "$.run.ended", "$.run.ended_utc", "$.run.sweep_id",
               "$.params.lr", "$.params.hidden", "$.metrics.loss.steps",
               "$.metrics.loss.values", "$.metrics.acc.values[2]", NULL);
    CHECK_STR(got, "1|xor|completed|42|1700000100|1700000112.5|2023-11-14T22:15:12.500Z|NULL|"
                   "0.1|4|[1,2,3]|[0.5,0.25,0.375]|1");
    /* The parameters keep their types: an integer, a real. */
    json_paths(out, got, sizeof got, "$.params.hidden", "$.params.lr", NULL);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    sqlite3_open(":memory:", &db);
    sqlite3_prepare_v2(db,
                       "SELECT json_type(?1, '$.params.hidden'), json_type(?1, '$.params.lr'),"
                       " json_type(?1, '$.metrics.loss.steps[0]')",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, out, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "integer");
    CHECK_STR((const char *)sqlite3_column_text(st, 1), "real");
    CHECK_STR((const char *)sqlite3_column_text(st, 2), "integer");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* NaN is null, infinities are strings; a run with no end has null. */
    CHECK(run("export", &out, &err, 2, "--json", "2") == 0);
    CHECK(json_valid(out));
    CHECK(strstr(out, "\"loss\": {\"unit\": \"step\", \"steps\": [1, 2, 3],"
                      " \"values\": [2, \"Infinity\", null]}") != NULL);
    CHECK(run("export", &out, &err, 2, "3", "--json") == 0);
    CHECK(json_valid(out));
    json_paths(out, got, sizeof got, "$.run.name", "$.metrics", "$.params", NULL);
    CHECK_STR(got, "spiral|{}|{}");
}

/* Runs `rm` with stdin redirected from the file `input` (NULL: /dev/null). */
static int rm_stdin(const char **out, const char **err, int argc, char **argv) {
    int saved = dup(0), fd = open("/dev/null", O_RDONLY);
    dup2(fd, 0);
    close(fd);
    static char *obuf, *ebuf;
    size_t on, en;
    free(obuf);
    free(ebuf);
    FILE *o = open_memstream(&obuf, &on), *e = open_memstream(&ebuf, &en);
    int rc = bp_cli_rm(db, argc, argv, o, e);
    fclose(o);
    fclose(e);
    dup2(saved, 0);
    close(saved);
    *out = obuf, *err = ebuf;
    return rc;
}

/* The runs left, as "1,2,5|000": then how many metric, parameter and
 * summary rows of runs gone are left (none); and the summaries agree with
 * the rows. */
static void runs_left(char *buf, size_t cap) {
    sqlite3 *d = NULL;
    sqlite3_stmt *st = NULL;
    buf[0] = '\0';
    sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL);
    sqlite3_prepare_v2(
        d,
        "SELECT (SELECT group_concat(id) FROM (SELECT id FROM runs ORDER BY id)) || '|' ||"
        " (SELECT count(*) FROM metrics WHERE run_id NOT IN (SELECT id FROM runs)) ||"
        " (SELECT count(*) FROM params WHERE run_id NOT IN (SELECT id FROM runs)) ||"
        " (SELECT count(*) FROM metric_summary WHERE run_id NOT IN (SELECT id FROM runs))",
        -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(d);
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    char what[256];
    CHECK(log && bp_runlog_summaries_check(log, 0, NULL, what, sizeof what, &e) == 0);
    bp_runlog_close(log);
}

/* Runs rm in a child on a pseudo-terminal that answers `answer`; what it
 * wrote on the terminal into buf. Returns its exit status. */
static int rm_on_terminal(const char *answer, char *buf, size_t cap, int argc, char **argv) {
    int master;
    fflush(NULL);
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    if (pid == 0) {
        int rc = bp_cli_rm(db, argc, argv, stdout, stderr);
        fflush(NULL);
        _exit(rc);
    }
    size_t n = 0;
    int wrote = 0;
    for (;;) {
        ssize_t r = read(master, buf + n, cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = '\0';
        if (!wrote && strstr(buf, "[y/N] ")) {
            wrote = 1;
            if (write(master, answer, strlen(answer)) < 0) break;
        }
    }
    buf[n] = '\0';
    close(master);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_rm(void) {
    const char *out, *err;
    /* All or nothing: one unknown id deletes none. */
    CHECK(run("rm", &out, &err, 3, "--yes", "2", "9") == 1);
    char want[512];
    snprintf(want, sizeof want, "backprop: %s: no run 9; nothing deleted\n", db);
    CHECK_STR(err, want);
    /* Off a terminal, nothing is asked and nothing deleted without --yes. */
    char *ask[] = {"1", "2"};
    CHECK(rm_stdin(&out, &err, 2, ask) == 1);
    CHECK_STR(err, "backprop: rm: stdin is not a terminal, so nothing can be asked: add --yes"
                   " to delete 2 runs; nothing deleted\n");
    CHECK_STR(out, "");
    char left[256];
    runs_left(left, sizeof left);
    CHECK_STR(left, "1,2,3|000");
    CHECK(run("rm", &out, &err, 2, "1-2", "--yes") == 0);
    CHECK_STR(out, "deleted run 1\ndeleted run 2\n");
    CHECK(run("query", &out, &err, 2, "--csv",
              "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM metrics),"
              " (SELECT count(*) FROM params), (SELECT count(*) FROM tags),"
              " (SELECT count(*) FROM notes), (SELECT count(*) FROM snapshots),"
              " (SELECT count(*) FROM scripts)") == 0);
    CHECK(strstr(out, "\n1,0,0,0,0,0,1\n") != NULL);
    /* A running run needs --force. It runs while its log holds it: the log
     * stays open until the run is deleted. */
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    int64_t id = bp_runlog_begin(log, NULL, &e);
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    CHECK(run("rm", &out, &err, 2, ids, "--yes") == 1);
    snprintf(
        want, sizeof want,
        "backprop: run %lld is still running (rm --force deletes it anyway); nothing deleted\n",
        (long long)id);
    CHECK_STR(err, want);
    CHECK(run("runs", &out, &err, 2, "--status", "running") == 0);
    CHECK(strstr(out, "  running  ") != NULL);
    CHECK(run("rm", &out, &err, 3, "--force", "-y", ids) == 0);
    bp_runlog_close(log);
    CHECK(run("rm", &out, &err, 1, "abc") == 1);
    CHECK_STR(err, "backprop: rm: 'abc' is not a run id (an id, a range or a list: 3, 3-5,"
                   " 3,7-9)\n");
    CHECK(run("rm", &out, &err, 0) == 1);
    CHECK(run("nothing", &out, &err, 0) == -1);
}

/* Ranges and lists: which runs go, the bad ones' messages, the question. */
static void test_rm_ranges(void) {
    const char *out, *err;
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    for (int k = 0; k < 10; k++) { /* runs 4 to 13 (SQLite reuses 4), a metric each */
        int64_t id = bp_runlog_begin(log, NULL, &e);
        bp_runlog_metric(log, id, "loss", 1, 0.5, &e);
        bp_runlog_end(log, id, "completed", NULL, NULL, &e);
    }
    bp_runlog_close(log);
    char left[256];
    runs_left(left, sizeof left);
    CHECK_STR(left, "3,4,5,6,7,8,9,10,11,12,13|000");
    static const struct {
        const char *arg, *msg;
    } bad[] = {
        {"9-7", "rm: range '9-7' runs backwards: write 7-9"},
        {"7-", "rm: range '7-' wants its last id: 7-N"},
        {"-7", "rm: range '-7' wants its first id: N-7"},
        {"7,", "rm: '7,' is not an id, a range or a list: 3, 3-5, 3,7-9"},
        {"7-8-9", "rm: '7-8-9' is not an id, a range or a list: 3, 3-5, 3,7-9"},
        {"0-3", "rm: '0-3' is not an id, a range or a list: 3, 3-5, 3,7-9"},
        {"7,x", "rm: 'x' is not a run id (an id, a range or a list: 3, 3-5, 3,7-9)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char want[256];
        CHECK(run("rm", &out, &err, 2, "--yes", bad[k].arg) == 1);
        snprintf(want, sizeof want, "backprop: %s\n", bad[k].msg);
        CHECK_STR(err, want);
    }
    char want[256];
    CHECK(run("rm", &out, &err, 2, "--yes", "20-30") == 1);
    snprintf(want, sizeof want, "backprop: %s: no run in 20-30; nothing deleted\n", db);
    CHECK_STR(err, want);
    runs_left(left, sizeof left);
    CHECK_STR(left, "3,4,5,6,7,8,9,10,11,12,13|000");
    CHECK(run("rm", &out, &err, 2, "--yes", "5") == 0);
    /* A list with ranges; overlaps named once; gaps skipped: 4-7 is 4, 6, 7. */
    CHECK(run("rm", &out, &err, 3, "--yes", "4-7,9", "7-7") == 0);
    CHECK_STR(out, "deleted run 4\ndeleted run 6\ndeleted run 7\ndeleted run 9\n");
    runs_left(left, sizeof left);
    CHECK_STR(left, "3,8,10,11,12,13|000");
    /* On a terminal: the runs listed, a question; anything but y keeps them. */
    char term[2048];
    char *a1[] = {"10-12"};
    CHECK(rm_on_terminal("n\n", term, sizeof term, 1, a1) == 1);
    CHECK(strstr(term, "delete 3 runs and everything logged with them:\r\n"
                       "  10  run  completed\r\n  11  run  completed\r\n  12  run  completed\r\n"
                       "delete? [y/N] ") != NULL);
    CHECK(strstr(term, "backprop: rm: not confirmed; nothing deleted") != NULL);
    runs_left(left, sizeof left);
    CHECK_STR(left, "3,8,10,11,12,13|000");
    CHECK(rm_on_terminal("y\n", term, sizeof term, 1, a1) == 0);
    CHECK(strstr(term, "deleted run 10\r\ndeleted run 11\r\ndeleted run 12\r\n") != NULL);
    runs_left(left, sizeof left);
    CHECK_STR(left, "3,8,13|000");
    /* --yes on a terminal asks nothing. */
    char *a2[] = {"--yes", "13,8"};
    CHECK(rm_on_terminal("", term, sizeof term, 2, a2) == 0);
    CHECK(strstr(term, "[y/N]") == NULL);
    CHECK(strstr(term, "deleted run 8\r\ndeleted run 13\r\n") != NULL);
    runs_left(left, sizeof left);
    CHECK_STR(left, "3|000");
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/test_cli_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(db, sizeof db, "%s/runs.db", dir);
    fill();
    test_runs();
    test_show();
    test_query();
    test_query_sandbox();
    test_query_limits();
    test_csv_injection();
    test_export();
    test_export_json();
    test_rm();
    test_rm_ranges();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_cli");
}
