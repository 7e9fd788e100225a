/* test_sweeprun.c: sweeps as a user runs them (cli/sweeprun.c,
 * lsweep.c, the sweep commands of main.c) and the schema step that holds
 * them (runlog/schema/3.sql).
 *
 * Each test starts the real `backprop` (BP_BINARY_DIR/backprop) on a small
 * script. Results are either known by hand (scripts whose objective is a
 * formula of their parameters, so the ranking, the per-value statistics
 * and the pruned trials can be worked out on paper) or compared between
 * two ways of running one sweep that must agree to the bit: -j 1 and -j 2,
 * killed with SIGKILL and resumed, split in two shards run by GNU parallel
 * and merged; each trial's thread count comes back from the trial itself.
 * What is compared is the sweep_trials view (trial, status,
 * parameters, objective, seed), every trial's loss at every step, and its
 * final weights. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bp_runlog.h"
#include "runlog_int.h"
#include "bp_sweep.h"
#include "bp_sweeplog.h"
#include "check.h"

static char dir[64], exe[1024], xor_script[1024];
static char *out_text, *err_text; /* of the last sh() */

/* The grid every comparison runs: 9 trials of a 2-H-1 XOR network. */
#define XOR_SPEC "lr=0.1,0.5,2 hidden=2,4,8 steps=20000"

static const char *path_in(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return s;
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Runs a shell command in the test's directory, $BP (the backprop
 * executable) and $XOR (scripts/sweep_xor.lua) set; keeps what it printed
 * in out_text and err_text. Returns its exit status. */
static int sh(const char *fmt, ...) {
    char cmd[4096], full[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd %s && BP=%s XOR=%s; { %s; } >%s/out.txt 2>%s/err.txt",
             dir, exe, xor_script, cmd, dir, dir);
    int st = system(full);
    free(out_text);
    free(err_text);
    out_text = slurp(path_in("out.txt"));
    err_text = slurp(path_in("err.txt"));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* All rows of a query on db, "a|b\n" lines; malloc'd (free it). */
static char *rows(const char *db, const char *sql) {
    sqlite3 *s = NULL;
    sqlite3_stmt *st = NULL;
    size_t n = 0, cap = 256;
    char *out = malloc(cap);
    out[0] = '\0';
    if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, cap, "error: %s", sqlite3_errmsg(s));
        sqlite3_close(s);
        return out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            size_t len = strlen(v ? v : "NULL") + 2;
            if (n + len + 1 > cap) out = realloc(out, cap = 2 * (n + len + 1));
            n += (size_t)sprintf(out + n, "%s%s", c ? "|" : "", v ? v : "NULL");
        }
        out[n++] = '\n';
        out[n] = '\0';
    }
    sqlite3_finalize(st);
    sqlite3_close(s);
    return out;
}

#define CHECK_ROWS(db, sql, want)   \
    do {                            \
        char *got_ = rows(db, sql); \
        CHECK_STR(got_, want);      \
        free(got_);                 \
    } while (0)

/* The three things two runs of one sweep must agree on. */
static const char *const SAME[] = {
    "SELECT trial, status, params, quote(objective), seed FROM sweep_trials ORDER BY trial",
    "SELECT t.trial, m.step, quote(m.value) FROM sweep_trials t JOIN metrics m"
    " ON m.run_id = t.run_id JOIN metric_names n ON n.id = m.name_id"
    " WHERE n.name = 'loss' ORDER BY t.trial, m.step",
    "SELECT t.trial, s.step, s.shape, hex(s.data) FROM sweep_trials t JOIN snapshots s"
    " ON s.run_id = t.run_id ORDER BY t.trial",
};

static void check_same_sweep(const char *a, const char *b, int64_t trials) {
    for (int k = 0; k < 3; k++) {
        char *x = rows(a, SAME[k]), *y = rows(b, SAME[k]);
        CHECK(strcmp(x, y) == 0);
        if (strcmp(x, y)) fprintf(stderr, "  %s and %s differ in: %s\n", a, b, SAME[k]);
        free(x);
        free(y);
    }
    char want[32];
    snprintf(want, sizeof want, "%lld\n", (long long)trials);
    CHECK_ROWS(a, "SELECT count(*) FROM sweep_trials WHERE status = 'completed'", want);
    /* The loss curves are whole: 20000 steps in each of the 9 trials. */
    CHECK_ROWS(a,
               "SELECT count(*) FROM sweep_trials t JOIN metrics m ON m.run_id = t.run_id"
               " JOIN metric_names n ON n.id = m.name_id WHERE n.name = 'loss'",
               "180000\n");
}

static void write_file(const char *name, const char *text) {
    FILE *f = fopen(path_in(name), "w");
    fputs(text, f);
    fclose(f);
}

/* ------------------------------------------------------------------------ */

/* A database that version 2 left, with a run and everything a run holds,
 * migrated to 3: every row and index kept, references intact, the foreign
 * keys on again, and the new columns and status working. */
static void test_migration_from_v2(void) {
    const char *db = path_in("v2.db");
    sqlite3 *s;
    CHECK(sqlite3_open(db, &s) == SQLITE_OK);
    CHECK(sqlite3_exec(s, bp_runlog_schema_step(0), NULL, NULL, NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(s, bp_runlog_schema_step(1), NULL, NULL, NULL) == SQLITE_OK);
    char sql[2048];
    snprintf(
        sql, sizeof sql,
        "PRAGMA application_id = %d; PRAGMA user_version = 2;"
        /* views as version 2 had them: they must go before runs is rebuilt */
        "CREATE VIEW run_summary AS SELECT id, name FROM runs;"
        "CREATE VIEW loss_curve AS SELECT run_id, step FROM metrics;"
        "INSERT INTO scripts(hash, text) VALUES ('00', 'print(1)');"
        "INSERT INTO runs(name, script_id, started, ended, status, host, pid)"
        " VALUES ('a', 1, 1700000000.5, 1700000001, 'completed', 'box', 42),"
        " ('b', 1, 1700000002, NULL, 'crashed', NULL, NULL);"
        "INSERT INTO params VALUES (1, 'lr', 0.5, 'real'), (2, 'lr', 1, 'int');"
        "INSERT INTO metric_names(name) VALUES ('loss');"
        "INSERT INTO metrics VALUES (1, 1, 1, 0.25), (1, 1, 2, 0.125), (2, 1, 1, NULL);"
        "INSERT INTO snapshots(run_id, step, shape, dtype, data)"
        " VALUES (1, 2, '1,1', 'f64', zeroblob(16));"
        "INSERT INTO tags VALUES (1, 'best', NULL);"
        "INSERT INTO notes(run_id, time, text) VALUES (1, 1700000001, 'fine');",
        BP_RUNLOG_APP_ID);
    CHECK(sqlite3_exec(s, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(s);

    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    CHECK(log != NULL);
    if (!log) {
        fprintf(stderr, "  %s\n", e.msg);
        return;
    }
    char version[16];
    snprintf(version, sizeof version, "%d\n", BP_RUNLOG_SCHEMA);
    CHECK_ROWS(db, "PRAGMA user_version", version);
    CHECK_ROWS(db,
               "SELECT id, name, script_id, status, host, pid, sweep_id, trial, uid"
               " FROM runs ORDER BY id",
               "1|a|1|completed|box|42|NULL|NULL|v2:box:42:1700000000.500:1\n"
               "2|b|1|crashed|NULL|NULL|NULL|NULL|v2::0:1700000002.000:2\n");
    CHECK_ROWS(db,
               "SELECT (SELECT count(*) FROM params), (SELECT count(*) FROM metrics),"
               " (SELECT count(*) FROM snapshots), (SELECT count(*) FROM tags),"
               " (SELECT count(*) FROM notes), (SELECT count(*) FROM scripts)",
               "2|3|1|1|1|1\n");
    CHECK_ROWS(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'runs_%'"
        " ORDER BY name",
        "runs_script\nruns_status\nruns_sweep\n");
    CHECK_ROWS(db, "SELECT count(*) FROM pragma_foreign_key_check", "0\n");
    CHECK_ROWS(db,
               "SELECT id, name, status, final_loss, params, sweep_id FROM run_summary"
               " ORDER BY id",
               "1|a|completed|0.125|lr=0.5|NULL\n2|b|crashed|NULL|lr=1|NULL\n");
    sqlite3 *c = bp_runlog_sqlite(log);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(c, "PRAGMA foreign_keys", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1);
    sqlite3_finalize(st);
    /* The rebuilt runs still cascade to what its runs logged. */
    CHECK(sqlite3_exec(c, "DELETE FROM runs WHERE id = 2", NULL, NULL, NULL) ==
          SQLITE_OK);
    CHECK_ROWS(db, "SELECT count(*) FROM params WHERE run_id = 2", "0\n");
    CHECK_ROWS(db, "SELECT count(*) FROM metrics WHERE run_id = 2", "0\n");
    /* New runs get a uid of their own; 'pruned' is a way to end. */
    int64_t run = bp_runlog_begin(log, &(bp_run_info){.name = "new"}, &e);
    CHECK(run > 1);
    CHECK(bp_runlog_end(log, run, "pruned", "pruned at step 1", NULL, &e) == 0);
    CHECK_ROWS(db,
               "SELECT status, length(uid), uid NOT GLOB '*[^0-9a-f]*' FROM runs"
               " WHERE name = 'new'",
               "pruned|32|1\n");
    bp_runlog_close(log);
}

/* The grid runs every combination once, each trial with its own seed; the
 * objective (a formula of the parameters) ranks them, and the per-value
 * best and mean are what the formula gives by hand. */
static void test_grid_runs_every_combination(void) {
    write_file("product.lua", "local bp = require 'backprop'\n"
                              "local lr, h = bp.param('lr', 1.0), bp.param('hidden', 1)\n"
                              "bp.log('loss', lr * h, 1)\n");
    const char *db = path_in("grid.db");
    CHECK(sh("$BP sweep --db grid.db -j 2 product.lua lr=0.5,0.25,2 hidden=1,2,3") == 0);
    CHECK(strstr(out_text, "sweep 1 (product): completed; 9 trials, 9 run now in ") ==
          out_text);
    CHECK(strstr(out_text,
                 "  trials: 9 completed, 0 failed, 0 diverged, 0 pruned, 0 crashed or"
                 " interrupted, 0 never run\n"
                 "  best: trial 3, loss 0.25 (run ") != NULL);
    /* Every combination once, in grid order (the last key fastest), its
     * objective lr * hidden, its seed the hash of the sweep's seed (1) and
     * its parameters. */
    const char *lrs[] = {"0.5", "0.25", "2"}, *hs[] = {"1", "2", "3"};
    const double lv[] = {0.5, 0.25, 2};
    char want[2048] = "", line[256];
    for (int i = 0; i < 9; i++) {
        char kv0[32], kv1[32];
        snprintf(kv0, sizeof kv0, "lr=%s", lrs[i / 3]);
        snprintf(kv1, sizeof kv1, "hidden=%s", hs[i % 3]);
        char *kv[2] = {kv0, kv1};
        snprintf(line, sizeof line, "%d|completed|lr=%s hidden=%s|%.17g|%llu\n", i,
                 lrs[i / 3], hs[i % 3], lv[i / 3] * (i % 3 + 1),
                 (unsigned long long)bp_sweep_trial_seed(1, 2, kv));
        strcat(want, line);
    }
    char *got = rows(db, "SELECT trial, status, params, printf('%.17g', objective), seed"
                         " FROM sweep_trials ORDER BY trial");
    CHECK_STR(got, want);
    free(got);
    CHECK_ROWS(
        db,
        "SELECT count(*), count(DISTINCT seed), count(DISTINCT params) FROM sweep_trials",
        "9|9|9\n");
    /* sweep show: ranked by the objective (ties by trial), then each value's
     * best and mean: lr=0.5 gives 0.5, 1, 1.5 (best 0.5, mean 1), ... */
    CHECK(sh("$BP sweep show 1 --db grid.db") == 0);
    const char *ranked = strstr(out_text, "trials, best first:\n");
    CHECK(ranked != NULL);
    if (ranked) {
        const char *order[] = {"     1      3", "     2      0", "     3      4",
                               "     4      5", "     5      1", "     6      2",
                               "     7      6", "     8      7", "     9      8"};
        const char *p = ranked;
        for (int k = 0; k < 9; k++) {
            const char *q = strstr(p, order[k]);
            CHECK(q != NULL);
            if (q) p = q;
        }
    }
    CHECK(strstr(out_text, "by parameter (completed trials; best and mean loss):\n"
                           "  parameter  value  trials  best      mean\n"
                           "  lr          0.25       3  0.25       0.5\n"
                           "               0.5       3   0.5         1\n"
                           "                 2       3     2         4\n"
                           "  hidden         1       3  0.25  0.916667\n"
                           "                 2       3   0.5   1.83333\n"
                           "                 3       3  0.75      2.75\n") != NULL);
    if (!strstr(out_text, "by parameter")) fprintf(stderr, "%s", out_text);
    CHECK_ROWS(db,
               "SELECT key, value, trials, best, mean FROM sweep_param_stats"
               " WHERE key = 'hidden' ORDER BY value",
               "hidden|1|3|0.25|0.916666666666667\nhidden|2|3|0.5|1.83333333333333\n"
               "hidden|3|3|0.75|2.75\n");
    /* The same command again is the same sweep: nothing left to run. */
    CHECK(sh("$BP sweep --db grid.db product.lua lr=0.5,0.25,2 hidden=1,2,3") == 0);
    CHECK(strstr(err_text,
                 "backprop: sweep 1 has the same script, specification and objective:"
                 " resuming it (only the trials not done run)\n") != NULL);
    CHECK(strstr(out_text, "9 trials, 0 run now") != NULL);
    CHECK_ROWS(db, "SELECT count(*) FROM runs", "9\n");
    /* Random search: the trials are the sweep seed's, whatever ran before. */
    CHECK(sh("$BP sweep --db rnd1.db --trials 5 --seed 3 product.lua lr=uniform:0:1"
             " hidden=int:1:9") == 0);
    CHECK(sh("$BP sweep --db rnd2.db --trials 5 --seed 3 -j 1 product.lua lr=uniform:0:1"
             " hidden=int:1:9") == 0);
    char *r1 = rows(path_in("rnd1.db"), SAME[0]), *r2 = rows(path_in("rnd2.db"), SAME[0]);
    CHECK_STR(r1, r2);
    CHECK(strstr(r1, "4|completed|lr=") != NULL);
    free(r1);
    free(r2);
}

/* -j 2 gives what -j 1 gives, bit for bit. */
static void test_parallel_equals_sequential(void) {
    CHECK(sh("$BP sweep --db seq.db -j 1 $XOR " XOR_SPEC) == 0);
    CHECK(sh("$BP sweep --db par.db -j 2 $XOR " XOR_SPEC) == 0);
    CHECK(strstr(out_text, "with -j 2\n") != NULL);
    check_same_sweep(path_in("seq.db"), path_in("par.db"), 9);
}

/* Polls db every 2 ms, at most `tries` times, until `want` runs have
 * completed; how many had. */
static int await_completed(const char *db, int want, int tries) {
    int done = 0;
    for (int t = 0; t < tries && done < want; t++) {
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
        char *n = exists(db)
                      ? rows(db, "SELECT count(*) FROM runs WHERE status = 'completed'")
                      : strdup("0");
        done = atoi(n);
        free(n);
    }
    return done;
}

/* Starts exe with argv in a process group of its own, its output thrown
 * away: the group's leader, its trials in the group. */
static pid_t spawn_group(char *const argv[]) {
    pid_t kid = fork();
    if (kid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execv(exe, argv);
        _exit(127);
    }
    setpgid(kid, kid);
    return kid;
}

/* SIGKILL to the group spawn_group made, reaped; then a pause for its
 * orphans, reaped by init. The leader's wait status. */
static int kill_group(pid_t kid) {
    kill(-kid, SIGKILL);
    int status;
    waitpid(kid, &status, 0);
    struct timespec settle = {0, 100 * 1000000L};
    nanosleep(&settle, NULL);
    return status;
}

/* SIGKILL to the sweep and every trial at once (their process group), part
 * way through; --resume runs what is left, and the sweep is then the one
 * that was never interrupted. */
static void test_resume_after_sigkill(void) {
    const char *db = path_in("killed.db");
    char *argv[] = {exe, "sweep",    "--db",         (char *)db,     "-j",
                    "2", xor_script, "lr=0.1,0.5,2", "hidden=2,4,8", "steps=20000",
                    NULL};
    pid_t kid = spawn_group(argv);
    /* Kill once three trials are complete (and so others are running). */
    int done = await_completed(db, 3, 3000);
    CHECK(done >= 3 && done < 9);
    int status = kill_group(kid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char *left = rows(db, "SELECT count(*) FROM sweep_trials WHERE status = 'completed'");
    CHECK(atoi(left) < 9);
    free(left);
    CHECK_ROWS(db, "SELECT status FROM sweeps", "running\n");
    CHECK(sh("$BP sweep --db killed.db --resume 1 -j 2") == 0);
    CHECK(strstr(out_text, "sweep 1 (sweep_xor): completed; 9 trials, ") != NULL);
    CHECK_ROWS(db, "SELECT status FROM sweeps", "completed\n");
    /* What was killed went on in its run (resumed, one more attempt), or,
     * killed before its script read its parameters, is on record as
     * crashed beside the trial's new run; the trials' attempts count both. */
    char *runs = rows(db, "SELECT sum(status = 'crashed') = count(*) - 9 FROM runs");
    CHECK_STR(runs, "1\n");
    free(runs);
    CHECK_ROWS(db,
               "SELECT (SELECT sum(attempts) FROM sweep_trials) = sum(attempts) FROM runs",
               "1\n");
    check_same_sweep(db, path_in("seq.db"), 9);
    /* Resuming a complete sweep runs nothing. */
    CHECK(sh("$BP sweep --db killed.db --resume 1") == 0);
    CHECK(strstr(out_text, "9 trials, 0 run now") != NULL);
    CHECK(sh("$BP sweep --db killed.db --resume 1 lr=1") == 1);
    CHECK_STR(err_text,
              "backprop: sweep --resume ID takes no other options than --db, -j and"
              " -v: the sweep is as it was recorded\n");
    CHECK(sh("$BP sweep --db killed.db --resume 7") == 1);
    CHECK(strstr(err_text, "killed.db: no sweep 7\n") != NULL);
}

/* Polls a query on db (every 20 ms, up to `seconds`) until its rows are
 * `want`; whether they came. */
static int await_rows(const char *db, const char *sql, const char *want, double seconds) {
    for (int t = 0; t < seconds * 50; t++) {
        char *got = exists(db) ? rows(db, sql) : strdup("");
        int same = strcmp(got, want) == 0;
        free(got);
        if (same) return 1;
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    }
    return 0;
}

/* Trials that hold: trial 0 (a = 1) completes at once; the others, once
 * they have reported step 1, wait in a shell (saying so in file inA) while
 * the file `hold` is there. A SIGTERM to such a trial stops it only once
 * the shell returns, as a long step of real work would. */
#define HOLD_SCRIPT                                                                    \
    "local bp = require 'backprop'\n"                                                  \
    "local a = bp.param('a', 1)\n"                                                     \
    "bp.report(a + 1, 1)\n"                                                            \
    "if a > 1 then os.execute('touch in' .. a .. '; while [ -e hold ]; do sleep 0.05;" \
    " done') end\n"                                                                    \
    "bp.report(a + 0.5, 2)\n"

/* Waits (up to `seconds`) for a file of the test's directory to exist, or
 * to hold `text` when text is not NULL. */
static int await_file(const char *name, const char *text, double seconds) {
    for (int t = 0; t < seconds * 50; t++) {
        char *got = slurp(path_in(name));
        int ok = text ? strstr(got, text) != NULL : exists(path_in(name));
        free(got);
        if (ok) return 1;
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    }
    return 0;
}

/* What a sweep of hold.lua a=1,...,n must hold at the end: each trial
 * completed exactly once, and the sweep completed. */
static void check_once(const char *db, int n) {
    char want[256] = "";
    for (int k = 0; k < n; k++) snprintf(want + strlen(want), 16, "%d|1\n", k);
    CHECK_ROWS(db,
               "SELECT trial, count(*) FROM runs WHERE status = 'completed'"
               " GROUP BY trial ORDER BY trial",
               want);
    CHECK_ROWS(db, "SELECT count(*) FROM sweep_trials WHERE status != 'completed'",
               "0\n");
    CHECK_ROWS(db, "SELECT status FROM sweeps", "completed\n");
}

/* Starts `backprop sweep --db DB -j 2 hold.lua a=1,...,5` with `hold` there,
 * and SIGKILLs the supervisor alone once trials 1 and 2 hold: they are left
 * running, orphans told by its death (SIGTERM) to stop. */
static void kill_supervisor_midway(const char *db) {
    write_file("hold.lua", HOLD_SCRIPT);
    write_file("hold", "");
    unlink(path_in("in2"));
    unlink(path_in("in3"));
    pid_t kid = fork();
    if (kid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        if (chdir(dir)) _exit(127);
        char *argv[] = {exe, "sweep",    "--db",        (char *)db, "-j",
                        "2", "hold.lua", "a=1,2,3,4,5", NULL};
        execv(exe, argv);
        _exit(127);
    }
    CHECK(await_file("in2", NULL, 30) && await_file("in3", NULL, 30));
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
}

/* `sweep --resume` right after the supervisor alone was killed, its trials
 * still running (they stop on the SIGTERM its death sent them once their
 * step ends): the resume waits for them, then runs what is left, and every
 * trial completes exactly once (it said "2 trials are still running in
 * another process" and exited 1). Two resumes at once: one runs the sweep,
 * the other is refused. */
static void test_resume_right_after_killing_the_supervisor(void) {
    char db[512]; /* path_in's buffers are reused */
    snprintf(db, sizeof db, "%s", path_in("orphans.db"));
    kill_supervisor_midway(db);
    CHECK(
        sh("($BP sweep --db orphans.db --resume 1 -j 2 >out1 2>err1; echo $? >rc1) & true") ==
        0);
    CHECK(await_file("err1",
                     "backprop: sweep 1: waiting for 2 trials left running by an"
                     " earlier process (trial 1, pid ",
                     30));
    unlink(path_in("hold"));
    CHECK(await_file("rc1", "0\n", 60));
    check_once(db, 5);
    /* The two it stopped had read their setting: resumed, each in its run. */
    CHECK_ROWS(db,
               "SELECT trial, status, attempts FROM runs WHERE attempts > 1 ORDER BY trial",
               "1|completed|2\n2|completed|2\n");
    CHECK_ROWS(db, "SELECT count(*) FROM runs", "5\n");

    snprintf(db, sizeof db, "%s", path_in("twice.db"));
    kill_supervisor_midway(db);
    CHECK(sh("rm -f rc1 rc2; for k in 1 2; do ($BP sweep --db twice.db --resume 1 -j 2"
             " >out$k 2>err$k; echo $? >rc$k) & done") == 0);
    for (int t = 0; t < 1500 && !exists(path_in("rc1")) && !exists(path_in("rc2")); t++)
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    int first = exists(path_in("rc1")) ? 1 : 2; /* the one refused */
    char rc[8], err[8];
    snprintf(rc, sizeof rc, "rc%d", first);
    snprintf(err, sizeof err, "err%d", first);
    CHECK(await_file(rc, "1\n", 1));
    CHECK(await_file(err, "backprop: sweep 1 is running in another process", 1));
    unlink(path_in("hold"));
    snprintf(rc, sizeof rc, "rc%d", 3 - first);
    CHECK(await_file(rc, "0\n", 60));
    check_once(db, 5);
}

/* pids count pids in a row that no process here has, near pid_max: a
 * process of another PID namespace given them has a pid that names nothing
 * here. The first, or 0 if there are none. */
static long free_pids(int count) {
    long max = 32768;
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1) max = 32768;
        fclose(f);
    }
    for (long first = max - count - 1; first > 300; first -= count) {
        int k = 0;
        while (k < count && kill((pid_t)(first + k), 0) != 0 && errno == ESRCH) k++;
        if (k == count) return first;
    }
    return 0;
}

/* Starts the command in a PID namespace of its own, its first process
 * (after sh, the namespace's init) given pid `pid` there; the unshare's pid
 * goes into file upid (killing it kills the whole namespace). */
#define IN_NAMESPACE                                                                     \
    "(unshare --pid --fork --kill-child sh -c 'echo %ld > /proc/sys/kernel/ns_last_pid;" \
    " %s; true' >/dev/null 2>&1 & echo $! >upid)"

/* Starts sweep number `sweep` of held.lua with the file `hold` there, in a
 * namespace (IN_NAMESPACE) where it gets pid `pid`, and waits until trials
 * 0 and 2 have completed and 1 and 3 hold. */
static void start_held_sweep(const char *db, long pid, int sweep, const char *values) {
    write_file("hold", "");
    char cmd[2048], q[128];
    snprintf(cmd, sizeof cmd, "%s sweep --db ns.db -j 2 held.lua %s", exe, values);
    CHECK(sh(IN_NAMESPACE, pid - 1, cmd) == 0);
    snprintf(q, sizeof q,
             "SELECT sum(status = 'completed'), sum(status = 'running') FROM runs"
             " WHERE sweep_id = %d",
             sweep);
    CHECK(await_rows(db, q, "2|2\n", 30));
}

/* A sweep alive in another PID namespace (a container, `unshare --pid`),
 * on this host: its pids name nothing here, yet another process's open
 * leaves it and its trials running, and `sweep --resume` is refused (it
 * marked them crashed and ran the trials again). Killed, it is interrupted
 * and its trials crashed, and the resume runs them, each once. */
static void test_sweep_in_another_pid_namespace(void) {
    long pid = free_pids(24);
    if (geteuid() != 0 || !pid || sh("unshare --pid --fork --kill-child true") != 0) {
        printf("  (skipped: a PID namespace needs root and unshare)\n");
        return;
    }
    char db[512];
    snprintf(db, sizeof db, "%s", path_in("ns.db"));
    /* Trials of even a hold while the file `hold` is there. */
    write_file("held.lua", "local bp = require 'backprop'\n"
                           "local a = bp.param('a', 1)\n"
                           "bp.report(a, 1)\n"
                           "while a % 2 == 0 and io.open('hold') do\n"
                           "  os.execute('sleep 0.05')\n"
                           "end\n");
    start_held_sweep(db, pid, 1, "a=1,2,3,4");
    char inner[32];
    snprintf(inner, sizeof inner, "%ld\n", pid); /* a pid no process here has */
    CHECK_ROWS(db, "SELECT pid FROM sweeps", inner);
    /* Alive: the resume is refused, and its open marks nothing. */
    /* (timeout: a resume that ran the live trials again would wait on them) */
    CHECK(sh("timeout 30 $BP sweep --db ns.db --resume 1") == 1);
    CHECK_STR(err_text, "backprop: sweep 1 is running in another process\n");
    CHECK_ROWS(db, "SELECT status FROM sweeps", "running\n");
    CHECK_ROWS(db, "SELECT trial, status FROM runs ORDER BY trial",
               "0|completed\n1|running\n2|completed\n3|running\n");
    unlink(path_in("hold"));
    CHECK(await_rows(db, "SELECT status FROM sweeps", "completed\n", 30));
    CHECK_ROWS(db, "SELECT trial, status FROM runs ORDER BY trial",
               "0|completed\n1|completed\n2|completed\n3|completed\n");

    /* Killed with its namespace: gone, so taken up again. */
    start_held_sweep(db, pid, 2, "a=5,6,7,8");
    CHECK(sh("kill -KILL $(cat upid)") == 0);
    /* Another process's open marks them once the kernel has ended them
     * (the namespace goes down after its init, not with it). */
    const char *q = "SELECT trial, status FROM runs WHERE sweep_id = 2"
                    " AND status != 'completed' UNION ALL SELECT 'sweep', status"
                    " FROM sweeps WHERE id = 2 ORDER BY 1";
    const char *want = "1|crashed\n3|crashed\nsweep|interrupted\n";
    char *got = NULL;
    for (int t = 0; t < 1500; t++) {
        bp_err e;
        bp_runlog_close(bp_runlog_open(db, 0, &e));
        free(got);
        got = rows(db, q);
        if (!strcmp(got, want)) break;
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    }
    CHECK_STR(got, want);
    free(got);
    unlink(path_in("hold"));
    CHECK(sh("$BP sweep --db ns.db --resume 2 -j 2") == 0);
    /* The crashed ones resumed as the same runs, a second attempt each. */
    CHECK_ROWS(db,
               "SELECT trial, group_concat(status), sum(attempts) FROM (SELECT * FROM runs"
               " WHERE sweep_id = 2 ORDER BY id) GROUP BY trial",
               "0|completed|1\n1|completed|2\n2|completed|1\n3|completed|2\n");
    CHECK_ROWS(db, "SELECT id, status FROM sweeps", "1|completed\n2|completed\n");
}

/* Pruning, worked out by hand, without the waits (startup=0: no trial need
 * have completed; warmup=1: from step 1, the first report). The script reports a + 1/s at steps 1..8,
 * so trials compare by a alone (below, the values less that 1/s); with -j 1
 * they run in the order a = 3, 1, 4, 5, 2, 6 and each sees the ones before.
 * median:2 (prune when the best so far is worse than the median of >= 2
 * completed trials at that step): trials 0 (a=3) and 1 (a=1) have too few
 * to compare with and complete; trial 2 (a=4) is worse than the median 2
 * of {3, 1} at step 1, so is 3 (a=5); 4 (a=2) equals the median, which is
 * not worse, and completes; 5 (a=6) is worse than the median 2 of {3, 1, 2}.
 * halving:1:2 (rungs 1, 2, 4, 8; of the n trials at a rung the best n/2,
 * at least one, go on): trial 2 is 3rd of 3 at rung 1 (keep 1); 3 is 4th of
 * 4 (keep 2); 4 is 2nd of 5 at rung 1 (keep 2), then at rung 2 the others
 * there are trials 0 and 1 only, and it is 2nd of 3 (keep 1): pruned at
 * step 2; 5 is last of 6. */
static void test_pruning_by_hand(void) {
    write_file("curve.lua", "local bp = require 'backprop'\n"
                            "local a = bp.param('a', 1)\n"
                            "for s = 1, 8 do bp.report(a + 1 / s, s) end\n");
    CHECK(sh("$BP sweep --db median.db -j 1 --prune median:2:startup=0:warmup=1 curve.lua"
             " a=3,1,4,5,2,6") == 0);
    CHECK_ROWS(
        path_in("median.db"),
        "SELECT trial, status, params FROM sweep_trials ORDER BY trial",
        "0|completed|a=3\n1|completed|a=1\n2|pruned|a=4\n3|pruned|a=5\n4|completed|a=2\n"
        "5|pruned|a=6\n");
    CHECK_ROWS(
        path_in("median.db"), "SELECT message FROM runs WHERE id = 3",
        "pruned at step 1: the best loss so far, 5, is worse than the median 3 of 2"
        " completed trials at that step\n");
    CHECK(strstr(out_text,
                 "  pruned: trial 2 (step 1), 3 (step 1), 5 (step 1); about ") != NULL);
    CHECK(sh("$BP sweep --db halving.db -j 1 --prune halving:1:2:startup=0:warmup=1"
             " --objective objective"
             " curve.lua a=3,1,4,5,2,6") == 0);
    CHECK_ROWS(
        path_in("halving.db"),
        "SELECT t.trial, t.status, (SELECT max(step) FROM metrics"
        " WHERE run_id = t.run_id) FROM sweep_trials t ORDER BY trial",
        "0|completed|8\n1|completed|8\n2|pruned|1\n3|pruned|1\n4|pruned|2\n5|pruned|1\n");
    CHECK_ROWS(
        path_in("halving.db"), "SELECT message FROM runs WHERE trial = 4",
        "pruned at step 2: objective 2.5 is not among the best 1 of the 3 trials at rung"
        " 2 (the bar is 1.5)\n");
    /* The summary names the step of the objective's last report, not the
     * largest step of any metric (here 'epochs', logged at 40 first). */
    write_file("curve40.lua", "local bp = require 'backprop'\n"
                              "local a = bp.param('a', 1)\n"
                              "bp.log('epochs', 40, 40)\n"
                              "for s = 1, 8 do bp.report(a + 1 / s, s) end\n");
    CHECK(
        sh("$BP sweep --db median40.db -j 1 --prune median:2:startup=0:warmup=1 curve40.lua"
           " a=3,1,4,5,2,6") == 0);
    CHECK(strstr(out_text,
                 "  pruned: trial 2 (step 1), 3 (step 1), 5 (step 1); about ") != NULL);
    /* Off by default: the same sweep prunes nothing. */
    CHECK(sh("$BP sweep --db noprune.db -j 1 curve.lua a=3,1,4,5,2,6") == 0);
    CHECK_ROWS(path_in("noprune.db"),
               "SELECT count(*) FROM sweep_trials WHERE status = 'completed'", "6\n");
}

/* The waits, by hand, on the script above (a + 1/s at steps 1..8), -j 1,
 * a = 3, 1, 4, 5, 2, 6, 7, 0. `median` (K = 3, startup 5, not at the first
 * report): trials 0-4 each see fewer than 5 completed trials and complete
 * whatever they report; trial 5 (a=6) is not judged at step 1, and at step
 * 2 its best 6.5 is worse than the median 3.5 of {3.5, 1.5, 4.5, 5.5, 2.5}:
 * pruned at step 2, and so is 6 (a=7); 7 (a=0) completes. With warmup=4
 * the same two are pruned at step 4 (6.25 against the median 3.25). From a
 * sweep file, startup=2:warmup=3: trial 2 (a=4) has 2 completed trials
 * before it but K = 3 wants 3 at the step, and completes; 3 (a=5): 5.33 is
 * worse than the median 3.33 of {3.33, 1.33, 4.33} at step 3; 4 (a=2)
 * completes; 5 and 6 are pruned at step 3, 7 completes. */
static void test_pruning_waits(void) {
    CHECK(sh("$BP sweep --db waits.db -j 1 --prune median curve.lua a=3,1,4,5,2,6,7,0") ==
          0);
    const char *q = "SELECT trial, status, params, (SELECT max(step) FROM metrics"
                    " WHERE run_id = t.run_id) FROM sweep_trials t ORDER BY trial";
    CHECK_ROWS(
        path_in("waits.db"), q,
        "0|completed|a=3|8\n1|completed|a=1|8\n2|completed|a=4|8\n3|completed|a=5|8\n"
        "4|completed|a=2|8\n5|pruned|a=6|2\n6|pruned|a=7|2\n7|completed|a=0|8\n");
    CHECK_ROWS(path_in("waits.db"), "SELECT message FROM runs WHERE trial = 5",
               "pruned at step 2: the best loss so far, 6.5, is worse than the median 3.5"
               " of 5 completed trials at that step\n");
    CHECK_ROWS(path_in("waits.db"), "SELECT prune FROM sweeps", "median:3:startup=5\n");
    CHECK(strstr(out_text, "  pruned: trial 5 (step 2), 6 (step 2); about ") != NULL);
    CHECK(sh("$BP sweep --db warm4.db -j 1 --prune median:warmup=4 curve.lua"
             " a=3,1,4,5,2,6,7,0") == 0);
    CHECK_ROWS(
        path_in("warm4.db"),
        "SELECT t.trial, r.message FROM sweep_trials t JOIN runs r ON r.id = t.run_id"
        " WHERE t.status = 'pruned' ORDER BY t.trial",
        "5|pruned at step 4: the best loss so far, 6.25, is worse than the median"
        " 3.25 of 5 completed trials at that step\n"
        "6|pruned at step 4: the best loss so far, 7.25, is worse than the median"
        " 3.25 of 5 completed trials at that step\n");
    write_file("waits_spec.lua",
               "return {script = 'curve.lua', params = {a = {3, 1, 4, 5,"
               " 2, 6, 7, 0}}, prune = 'median:startup=2:warmup=3'}\n");
    CHECK(sh("$BP sweep --db spec3.db -j 1 --spec waits_spec.lua") == 0);
    CHECK_ROWS(path_in("spec3.db"), q,
               "0|completed|a=3|8\n1|completed|a=1|8\n2|completed|a=4|8\n3|pruned|a=5|3\n"
               "4|completed|a=2|8\n5|pruned|a=6|3\n6|pruned|a=7|3\n7|completed|a=0|8\n");
    CHECK_ROWS(path_in("spec3.db"), "SELECT prune FROM sweeps",
               "median:3:startup=2:warmup=3\n");
}

/* Hyperband, by hand: min 1, max 9, eta 3 deal trials 0..8 to brackets
 * 0 1 0 2 0 1 0 2 0 (test_sweep_prune works the deal), whose rungs start at
 * 1, 3 and 9; a trial is judged against its bracket's trials alone. The
 * script reports a + 1/s at steps 1..9, a = 3, 1, 4, 5, 2, 6, 7, 0, 8, with
 * no waits. Bracket 0 (trials 0, 2, 4, 6, 8): at rung 1 trial 2's 5 is
 * behind trial 0's 4 (the best 1 of 2 go on): pruned at step 1; 4 (3) leads
 * and completes; 6 (8) and 8 (9) are pruned at step 1. Bracket 1 (1, 5):
 * 5's 6.33 at rung 3 is behind 1's 1.33: pruned at step 3, not before.
 * Bracket 2 (3, 7): judged at step 9 alone, where 7 leads: both complete.
 * With max "auto" the first completed trial (0) ends at step 9: the same. */
static void test_hyperband_by_hand(void) {
    write_file("curve9.lua", "local bp = require 'backprop'\n"
                             "local a = bp.param('a', 1)\n"
                             "for s = 1, 9 do bp.report(a + 1 / s, s) end\n");
    const char *q = "SELECT trial, status, (SELECT max(step) FROM metrics"
                    " WHERE run_id = t.run_id) FROM sweep_trials t ORDER BY trial";
    const char *want =
        "0|completed|9\n1|completed|9\n2|pruned|1\n3|completed|9\n"
        "4|completed|9\n5|pruned|3\n6|pruned|1\n7|completed|9\n8|pruned|1\n";
    CHECK(sh("$BP sweep --db hb.db -j 1 --prune hyperband:1:9:3:startup=0:warmup=1"
             " curve9.lua a=3,1,4,5,2,6,7,0,8") == 0);
    CHECK_ROWS(path_in("hb.db"), q, want);
    CHECK_ROWS(path_in("hb.db"), "SELECT message FROM runs WHERE trial = 5",
               "pruned at step 3: loss 6.33333 is not among the best 1 of the 2 trials of"
               " bracket 1 at rung 3 (the bar is 1.33333)\n");
    CHECK(sh("$BP sweep --db hbauto.db -j 1 --prune hyperband:startup=0:warmup=1"
             " curve9.lua a=3,1,4,5,2,6,7,0,8") == 0);
    CHECK_ROWS(path_in("hbauto.db"), q, want);
    CHECK_ROWS(path_in("hbauto.db"), "SELECT prune FROM sweeps",
               "hyperband:1:auto:3:startup=0:warmup=1\n");
}

/* The data seed: two trials of a sweep (different seeds) split the data
 * alike and draw different initial weights; bp.seed("data") is the sweep's
 * seed, and another sweep seed splits otherwise. The script logs the order
 * of its validation half (ids 1..10 as hexadecimal digits) and a weight. */
static void test_data_seed_splits_alike(void) {
    FILE *f = fopen(path_in("rows.csv"), "w");
    fprintf(f, "id,c\n");
    for (int k = 1; k <= 10; k++) fprintf(f, "%d,%s\n", k, k % 2 ? "odd" : "even");
    fclose(f);
    write_file("split.lua", "local bp = require 'backprop'\n"
                            "local x = bp.param('x', 1)\n"
                            "local d = assert(bp.load_csv('rows.csv', {target = 'c'}))\n"
                            "d:shuffle(bp.seed('data'))\n"
                            "local _, val = d:split(0.5)\n"
                            "local order = 0\n"
                            "for i = 1, #val do order = order * 16 + val:row(i)[1] end\n"
                            "bp.log('split', order, 1)\n"
                            "bp.log('data_seed', bp.seed('data'), 1)\n"
                            "bp.log('w', bp.net(1):add(1):weight(1, 1, 1), 1)\n"
                            "bp.log('loss', x, 1)\n");
    CHECK(sh("$BP sweep --db data.db -j 2 --seed 7 split.lua x=1,2") == 0);
    const char *q = "SELECT count(DISTINCT r.seed), count(DISTINCT s.value),"
                    " count(DISTINCT w.value), min(d.value) FROM runs r"
                    " JOIN metrics_view s ON s.run_id = r.id AND s.name = 'split'"
                    " JOIN metrics_view w ON w.run_id = r.id AND w.name = 'w'"
                    " JOIN metrics_view d ON d.run_id = r.id AND d.name = 'data_seed'";
    CHECK_ROWS(path_in("data.db"), q, "2|1|2|7.0\n");
    CHECK(sh("$BP sweep --db data2.db -j 2 --seed 8 split.lua x=1,2") == 0);
    CHECK_ROWS(path_in("data2.db"), q, "2|1|2|8.0\n");
    char *a = rows(path_in("data.db"),
                   "SELECT DISTINCT value FROM metrics_view WHERE name = 'split'");
    char *b = rows(path_in("data2.db"),
                   "SELECT DISTINCT value FROM metrics_view WHERE name = 'split'");
    CHECK(strcmp(a, b) != 0);
    free(a);
    free(b);
}

/* --repeats 3, by hand: the script's loss is a + (its trial mod 3), so each
 * setting's repeats give a, a + 1 and a + 2: mean a + 1, sample sd 1. Each
 * trial has a seed of its own, repeat 0 the one a sweep without repeats
 * gives it; every repeat has the same data seed. A TPE sweep's repeats run
 * their setting's first trial's setting. */
static void test_repeats_by_hand(void) {
    write_file("rep.lua", "local bp = require 'backprop'\n"
                          "local a = bp.param('a', 0.5)\n"
                          "bp.log('data_seed', bp.seed('data'), 1)\n"
                          "bp.log('loss', a + bp.sweep().trial % 3, 1)\n");
    CHECK(sh("$BP sweep --db rep.db -j 1 --repeats 3 rep.lua a=1,5") == 0);
    CHECK(strstr(out_text,
                 "  best: trial 0, loss mean 2, sd 1 over 3 repeats (run 1): a=1\n") !=
          NULL);
    const char *db = path_in("rep.db");
    CHECK_ROWS(
        db,
        "SELECT trial, setting, repeat, params, objective FROM sweep_trials"
        " ORDER BY trial",
        "0|0|0|a=1|1.0\n1|0|1|a=1|2.0\n2|0|2|a=1|3.0\n3|1|0|a=5|5.0\n4|1|1|a=5|6.0\n"
        "5|1|2|a=5|7.0\n");
    CHECK_ROWS(db,
               "SELECT setting, trial, params, repeats, objective, objective_sd"
               " FROM sweep_settings ORDER BY setting",
               "0|0|a=1|3|2.0|1.0\n1|3|a=5|3|6.0|1.0\n");
    CHECK_ROWS(db,
               "SELECT key, value, trials, best, mean, settings FROM sweep_param_stats",
               "a|1|3|2.0|2.0|1\na|5|3|6.0|6.0|1\n");
    CHECK_ROWS(db, "SELECT repeats, trials, spec FROM sweeps",
               "3|6|a=1,5 --seed 1 --repeats 3\n");
    char *kv[] = {"a=1"}, want[64];
    snprintf(want, sizeof want, "6|%llu|1.0\n",
             (unsigned long long)bp_sweep_trial_seed(1, 1, kv));
    CHECK_ROWS(db,
               "SELECT count(DISTINCT seed), (SELECT seed FROM runs WHERE trial = 0),"
               " (SELECT DISTINCT value FROM metrics_view WHERE name = 'data_seed')"
               " FROM runs",
               want);
    CHECK(sh("$BP sweep --db reptpe.db -j 1 --sampler tpe --trials 12 --repeats 2 rep.lua"
             " a=uniform:0:1") == 0);
    CHECK_ROWS(path_in("reptpe.db"),
               "SELECT count(*), sum(n = 1), (SELECT count(DISTINCT seed) FROM runs) FROM"
               " (SELECT count(DISTINCT params) AS n FROM sweep_trials GROUP BY setting)",
               "12|12|24\n");
    CHECK_ROWS(path_in("reptpe.db"), "SELECT strategy, repeats FROM sweeps", "tpe|2\n");
    CHECK(sh("$BP sweep --db rep.db --repeats 0 rep.lua a=1") == 1);
    CHECK_STR(err_text, "backprop: sweep: --repeats wants a whole number from 1 to 1000,"
                        " not '0'\n");
}

/* A swept key the script never reads stops the sweep after its first
 * trial, even with two workers: the first trial runs alone. */
static void test_unread_parameter(void) {
    write_file("typo.lua", "local bp = require 'backprop'\n"
                           "bp.log('loss', bp.param('lr', 0.1), 1)\n");
    CHECK(sh("$BP sweep --db typo.db -j 2 typo.lua lr=0.1,0.2,0.3 hiden=2,4") == 1);
    CHECK(strstr(err_text, "backprop: sweep 1 stopped: typo.lua:2: parameter given but never"
                           " read before the script began to train or log: hiden (a typo?"
                           " it read lr)\n") != NULL);
    CHECK_ROWS(path_in("typo.db"), "SELECT status, message FROM sweeps",
               "failed|typo.lua:2: parameter given but never read before the script began"
               " to train or log: hiden (a typo? it read lr)\n");
    CHECK_ROWS(path_in("typo.db"), "SELECT count(*), trial, status FROM runs",
               "1|0|failed\n");
    /* It would fail the same way again: neither --resume nor the same
     * command runs it. */
    CHECK(sh("$BP sweep --db typo.db --resume 1") == 1);
    CHECK_STR(err_text,
              "backprop: sweep 1 failed (typo.lua:2: parameter given but never read"
              " before the script began to train or log: hiden (a typo? it read lr));"
              " correct the script or the specification, which makes"
              " a new sweep\n");
    CHECK(sh("$BP sweep --db typo.db typo.lua lr=0.1,0.2,0.3 hiden=2,4") == 1);
    CHECK_ROWS(path_in("typo.db"), "SELECT count(*) FROM runs", "1\n");
}

/* Bad specifications are refused before anything runs: no database is
 * even created. */
static void test_bad_specs_run_nothing(void) {
    static const struct {
        const char *args, *err;
    } cases[] = {
        {"typo.lua lr=gauss:0:1",
         "backprop: sweep parameter 'lr=gauss:0:1': unknown distribution"
         " 'gauss' (expected uniform, loguniform, int or choice)\n"},
        {"typo.lua lr=", "backprop: sweep parameter 'lr=': empty list of values\n"},
        {"typo.lua lr=uniform:1:0 --trials 3",
         "backprop: sweep parameter 'lr=uniform:1:0':"
         " lower bound 1 is above upper bound 0\n"},
        {"typo.lua lr=loguniform:1e-4:1",
         "backprop: sweep parameter 'lr' is a distribution:"
         " random search needs --trials N\n"},
        {"typo.lua",
         "backprop: a sweep needs parameters (key=values), or --trials N for a"
         " script that suggests its own (bp.suggest)\n"},
        {"--prune mean typo.lua lr=1",
         "backprop: bad --prune 'mean': expected median[:K], halving[:MIN_STEP[:ETA]] or"
         " hyperband[:MIN_STEP[:MAX_STEP|auto[:ETA]]], then any of :startup=N and"
         " :warmup=STEP\n"},
        {"--objective max: typo.lua lr=1", "backprop: bad --objective 'max:': expected"
                                           " [min:|max:]METRIC\n"},
        {"missing.lua lr=1",
         "backprop: missing.lua: cannot open: No such file or directory\n"},
        {"--trial 2 typo.lua lr=1,2",
         "backprop: sweep: --trial 2 is out of range: the sweep has"
         " trials 0 to 1\n"},
        {"-j 0 typo.lua lr=1",
         "backprop: sweep: --jobs wants a whole number >= 1, not '0'\n"},
        {"--frobnicate typo.lua lr=1",
         "backprop: sweep: unknown option '--frobnicate' (see"
         " backprop --help)\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        CHECK(sh("$BP sweep --db never.db %s", cases[k].args) == 1);
        CHECK_STR(err_text, cases[k].err);
        CHECK(!exists(path_in("never.db")));
    }
}

/* --plan's lines through GNU parallel, two shards into two databases,
 * merged: the sweep run locally, bit for bit. Merging again changes
 * nothing. */
static void test_plan_parallel_merge(void) {
    CHECK(sh("$BP sweep --plan --shards 2 --shard-db 'shards/s-%%d.db' $XOR " XOR_SPEC
             " > plan.txt") == 0);
    char *plan = slurp(path_in("plan.txt"));
    int lines = 0;
    for (char *p = plan; *p; p++) lines += *p == '\n';
    CHECK(lines == 9);
    char want[4096];
    snprintf(want, sizeof want,
             "%s sweep --trial 3 --db shards/s-1.db --objective min:loss"
             " --seed 1 %s lr=0.1,0.5,2 hidden=2,4,8 steps=20000\n",
             exe, xor_script);
    CHECK(strstr(plan, want) != NULL);
    free(plan);
    CHECK(!exists(path_in("shards"))); /* --plan runs nothing */
    int have_parallel = sh("command -v parallel") == 0;
    CHECK(have_parallel);
    if (!have_parallel)
        fprintf(stderr, "  GNU parallel is not installed (setup.sh installs it)\n");
    CHECK(sh("mkdir -p shards && parallel --will-cite -j 2 < plan.txt") == 0);
    CHECK(exists(path_in("shards/s-0.db")) && exists(path_in("shards/s-1.db")));
    CHECK_ROWS(path_in("shards/s-0.db"), "SELECT status, trials FROM sweeps",
               "partial|9\n");
    CHECK_ROWS(path_in("shards/s-1.db"), "SELECT group_concat(trial) FROM sweep_trials",
               "1,3,5,7\n");
    CHECK(sh("$BP merge merged.db shards/s-0.db shards/s-1.db") == 0);
    CHECK_STR(out_text, "shards/s-0.db: 5 runs and 1 sweep merged into merged.db\n"
                        "shards/s-1.db: 4 runs and 0 sweeps merged into merged.db\n");
    check_same_sweep(path_in("merged.db"), path_in("seq.db"), 9);
    char *u1 = rows(path_in("merged.db"), "SELECT uid, spec, status FROM sweeps");
    char *u2 = rows(path_in("seq.db"), "SELECT uid, spec, status FROM sweeps");
    CHECK_STR(u1, u2);
    free(u1);
    free(u2);
    /* Idempotent: a second merge adds nothing, to the last byte of every
     * table. */
    static const char *dump =
        "SELECT 'r', * FROM runs UNION ALL SELECT 's', * FROM sweeps";
    char *before = rows(path_in("merged.db"), dump);
    char *metrics0 =
        rows(path_in("merged.db"), "SELECT count(*), sum(step), total(value) FROM"
                                   " metrics UNION ALL SELECT count(*), 0, 0 FROM"
                                   " params UNION ALL SELECT count(*), 0, 0 FROM"
                                   " snapshots UNION ALL SELECT count(*), 0, 0 FROM"
                                   " scripts");
    CHECK(sh("$BP merge merged.db shards/s-1.db shards/s-0.db") == 0);
    CHECK_STR(out_text,
              "shards/s-1.db: 0 runs and 0 sweeps merged into merged.db; 4 there"
              " already\nshards/s-0.db: 0 runs and 0 sweeps merged into merged.db;"
              " 5 there already\n");
    char *after = rows(path_in("merged.db"), dump);
    char *metrics1 =
        rows(path_in("merged.db"), "SELECT count(*), sum(step), total(value) FROM"
                                   " metrics UNION ALL SELECT count(*), 0, 0 FROM"
                                   " params UNION ALL SELECT count(*), 0, 0 FROM"
                                   " snapshots UNION ALL SELECT count(*), 0, 0 FROM"
                                   " scripts");
    CHECK_STR(after, before);
    CHECK_STR(metrics1, metrics0);
    free(before);
    free(after);
    free(metrics0);
    free(metrics1);
    /* Into a database with runs of its own: ids do not collide, the old
     * runs stay as they were. */
    CHECK(sh("$BP merge grid.db merged.db") == 0);
    CHECK_ROWS(path_in("grid.db"),
               "SELECT count(*), count(DISTINCT uid), max(id) FROM runs", "18|18|18\n");
    CHECK_ROWS(path_in("grid.db"), "SELECT id, name FROM sweeps ORDER BY id",
               "1|product\n2|sweep_xor\n");
    CHECK_ROWS(path_in("grid.db"),
               "SELECT count(*) FROM sweep_trials WHERE sweep_id = 2"
               " AND status = 'completed'",
               "9\n");
    CHECK(sh("$BP merge merged.db merged.db") == 1);
    CHECK_STR(err_text, "backprop: merged.db: cannot merge a database into itself\n");
}

/* A sweep written in Lua is the same sweep (the same uid) as its command
 * line; a file with a mistake names it. */
static void test_spec_file(void) {
    write_file("sweep.lua",
               "return {script = 'product.lua', params = {hidden = {1, 2},"
               " lr = 'uniform:0:1'}, trials = 4, seed = 9, objective = 'max:loss',"
               " prune = 'median'}\n");
    CHECK(sh("$BP sweep --db spec.db --spec sweep.lua") == 0);
    CHECK(
        sh("$BP sweep --db cli.db --trials 4 --seed 9 --objective max:loss --prune median"
           " product.lua hidden=1,2 lr=uniform:0:1") == 0);
    char *a = rows(path_in("spec.db"), "SELECT uid, spec, direction, prune FROM sweeps");
    char *b = rows(path_in("cli.db"), "SELECT uid, spec, direction, prune FROM sweeps");
    CHECK_STR(a, b);
    CHECK(
        strstr(
            a,
            "|hidden=1,2 lr=uniform:0:1 --trials 4 --seed 9|max|median:3:startup=5\n") !=
        NULL);
    free(a);
    free(b);
    /* No params: a script that suggests its own (dbr.lua, below). */
    write_file("dbr_sweep.lua", "return {script = 'dbr.lua', trials = 3, seed = 2}\n");
    write_file("dbr.lua", "local bp = require 'backprop'\n"
                          "bp.log('loss', bp.suggest('x', 'uniform:-2:2', 0.0), 1)\n");
    CHECK(sh("$BP sweep --db specdbr.db --spec dbr_sweep.lua") == 0);
    CHECK_ROWS(path_in("specdbr.db"), "SELECT spec, keys FROM sweeps",
               "--trials 3 --seed 2|x\n");
    write_file("bad.lua", "return {script = 'product.lua', params = 3}\n");
    CHECK(sh("$BP sweep --spec bad.lua") == 1);
    CHECK_STR(err_text, "backprop: bad.lua: params must be a table {key = SPEC, ...}\n");
    write_file("bad.lua", "return {script = 'product.lua', param = {}}\n");
    CHECK(sh("$BP sweep --spec bad.lua") == 1);
    CHECK_STR(err_text,
              "backprop: bad.lua: unknown field 'param' (script, params, trials, seed,"
              " repeats, objective, prune, name, sampler)\n");
}

/* Each trial's thread count: its share of the cores, cores / jobs (at least
 * 1), unless the user named one, which every trial then gets. Read back from
 * what bp.threads() said inside each trial. */
static void test_trial_threads(void) {
    write_file("threads.lua", "local bp = require 'backprop'\n"
                              "local x = bp.param('x', 1)\n"
                              "bp.log('threads', bp.threads(), 1)\n"
                              "bp.log('loss', x, 1)\n");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const char *clean =
        "env -u OPENBLAS_NUM_THREADS -u GOTO_NUM_THREADS -u OMP_NUM_THREADS";
    const char *q = "SELECT DISTINCT m.value FROM metrics m JOIN metric_names n"
                    " ON n.id = m.name_id WHERE n.name = 'threads'";
    char want[64];
    CHECK(sh("%s $BP sweep --db t2.db -j 2 threads.lua x=1,2,3", clean) == 0);
    snprintf(want, sizeof want, "%ld.0\n", cores / 2 > 1 ? cores / 2 : 1);
    CHECK_ROWS(path_in("t2.db"), q, want);
    CHECK(sh("%s $BP sweep --db t1.db -j 1 threads.lua x=1,2", clean) == 0);
    snprintf(want, sizeof want, "%ld.0\n", cores);
    CHECK_ROWS(path_in("t1.db"), q, want);
    /* (OpenBLAS takes no more threads than cores: 1 is the count that
     * differs from -j 1's share on any machine.) */
    CHECK(sh("%s OPENBLAS_NUM_THREADS=1 $BP sweep --db t3.db -j 1 threads.lua x=1,2",
             clean) == 0);
    CHECK_ROWS(path_in("t3.db"), q, "1.0\n");
}


/* ------------------------------------------------------------------------ */
/* --sampler tpe                                                             */

/* A loss of four parameters of every kind, least at x = 0.3, opt = b,
 * n = 7, lr = 0.01: what TPE must find. */
#define MIXED_SPEC "x=uniform:-2:2 opt=choice:a,b,c n=int:1:10 lr=loguniform:1e-4:1"

static void write_mixed(void) {
    write_file("mixed.lua", "local bp = require 'backprop'\n"
                            "local x = bp.param('x', 0.0)\n"
                            "local opt = bp.param('opt', 'a')\n"
                            "local n = bp.param('n', 1)\n"
                            "local lr = bp.param('lr', 0.1)\n"
                            "bp.log('loss', (x - 0.3)^2 + (opt == 'b' and 0 or 1)"
                            " + 0.1 * (n - 7)^2 + 0.1 * (math.log(lr, 10) + 2)^2, 1)\n");
}

/* A column of one row as a number. */
static double number(const char *db, const char *sql) {
    char *r = rows(db, sql);
    double v = atof(r);
    free(r);
    return v;
}

/* With a fixed seed, TPE's trials after the start-up concentrate where the
 * loss is least, and random search's with the same seed do not: the best
 * choice most of the time, x near its best. Its first 10 trials are random
 * search's. */
static void test_tpe_finds_the_minimum(void) {
    write_mixed();
    CHECK(sh("$BP sweep --db tpe.db -j 1 --trials 30 --seed 3 --sampler tpe mixed.lua"
             " " MIXED_SPEC) == 0);
    CHECK(sh("$BP sweep --db rnd.db -j 1 --trials 30 --seed 3 mixed.lua " MIXED_SPEC) == 0);
    const char *first = "SELECT trial, params, seed FROM sweep_trials WHERE trial < 10"
                        " ORDER BY trial";
    char *a = rows(path_in("tpe.db"), first), *b = rows(path_in("rnd.db"), first);
    CHECK_STR(a, b);
    free(a);
    free(b);
    CHECK_ROWS(path_in("tpe.db"), "SELECT spec, count(*) FROM sweeps",
               "x=uniform:-2:2 opt=choice:a,b,c n=int:1:10 lr=loguniform:0.0001:1"
               " --trials 30 --seed 3 --sampler tpe|1\n");
    CHECK_ROWS(path_in("tpe.db"), "SELECT count(*) FROM sweep_trials WHERE status = 'completed'",
               "30\n");
    const char *b_after = "SELECT count(*) FROM sweep_trials WHERE trial >= 10"
                          " AND params LIKE '% opt=b %'";
    double tpe_b = number(path_in("tpe.db"), b_after), rnd_b = number(path_in("rnd.db"), b_after);
    const char *x_after = "SELECT count(*) FROM sweep_trials WHERE trial >= 10 AND"
                          " abs(CAST(substr(params, 3, instr(params, ' ') - 3) AS REAL)"
                          " - 0.3) < 0.5";
    double tpe_x = number(path_in("tpe.db"), x_after), rnd_x = number(path_in("rnd.db"), x_after);
    printf("tpe: after the start-up, opt=b in %.0f of 20 trials (random %.0f), x within 0.5"
           " of 0.3 in %.0f (random %.0f)\n",
           tpe_b, rnd_b, tpe_x, rnd_x);
    CHECK(tpe_b >= 14 && tpe_b > rnd_b); /* a third by chance; seed 3 gives 15 and 8 */
    CHECK(tpe_x >= 10 && tpe_x > rnd_x); /* a quarter by chance; seed 3 gives 12 and 5 */
}

/* bp_runlog_sweep_observations (the proposal's straight read of the runs)
 * against bp_runlog_sweep_history (the sweep_trials view): the same trials
 * with the same chosen run's status, objective and step, and every pair of
 * the view's params among the run's. */
static void check_observations(const char *db) {
    bp_err e = {0};
    bp_runlog *log = bp_runlog_open(db, BP_RUNLOG_MUSTEXIST, &e);
    bp_trial_obs *v = NULL, *o = NULL;
    size_t nv = 0, no = 0;
    CHECK(log && bp_runlog_sweep_history(log, 1, &v, &nv, &e) == 0 &&
          bp_runlog_sweep_observations(log, 1, &o, &no, &e) == 0);
    CHECK(nv == no && nv > 0);
    for (size_t k = 0; k < nv && k < no; k++) {
        CHECK(v[k].trial == o[k].trial && !strcmp(v[k].status, o[k].status));
        CHECK(v[k].has_objective == o[k].has_objective &&
              v[k].last_step == o[k].last_step);
        CHECK(!v[k].has_objective || v[k].objective == o[k].objective);
        char pair[256];
        for (const char *p = v[k].params; p && *p;) {
            size_t len = strcspn(p, " ");
            snprintf(pair, sizeof pair, " %.*s ", (int)len, p);
            char *all = malloc(strlen(o[k].params) + 3);
            sprintf(all, " %s ", o[k].params);
            CHECK(strstr(all, pair) != NULL);
            free(all);
            p += len + (p[len] == ' ');
        }
    }
    bp_trial_obs_free(v, nv);
    bp_trial_obs_free(o, no);
    bp_runlog_close(log);
}

/* Killed with -j 1 while a trial runs, then resumed: the same trials, the
 * same settings, seeds and objectives as the sweep never interrupted. */
static void test_tpe_resume_is_the_same(void) {
    const char *db = path_in("tpek.db");
    char *argv[] = {exe, "sweep", "--db", (char *)db, "-j", "1", "--trials", "30",
                    "--seed", "3", "--sampler", "tpe", (char *)path_in("mixed.lua"),
                    "x=uniform:-2:2", "opt=choice:a,b,c", "n=int:1:10",
                    "lr=loguniform:1e-4:1", NULL};
    pid_t kid = spawn_group(argv);
    int done = await_completed(db, 14, 6000); /* past the start-up: the model proposed */
    CHECK(done >= 14 && done < 30);
    kill_group(kid);
    CHECK(sh("$BP sweep --db tpek.db --resume 1 -j 1") == 0);
    /* a later run of trial 0 that did not finish: both choose the finished */
    sqlite3 *s = NULL;
    CHECK(sqlite3_open(db, &s) == SQLITE_OK &&
          sqlite3_exec(s,
                       "INSERT INTO runs(name, started, status, sweep_id, trial)"
                       " VALUES ('again', 4e9, 'interrupted', 1, 0)",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(s);
    CHECK_ROWS(db, "SELECT count(*) FROM runs WHERE trial = 0", "2\n");
    check_observations(db);
    CHECK_ROWS(db, "SELECT status FROM sweep_trials WHERE trial = 0", "completed\n");
    const char *q = "SELECT trial, status, params, quote(objective), seed FROM sweep_trials"
                    " ORDER BY trial";
    char *a = rows(db, q), *b = rows(path_in("tpe.db"), q);
    CHECK_STR(a, b);
    free(a);
    free(b);
}

/* The multivariate sampler, and -j 2 (running trials as the constant
 * liar); the errors of --sampler. */
static void test_tpe_multivariate_and_errors(void) {
    CHECK(sh("$BP sweep --db mv.db -j 2 --trials 24 --seed 5 --sampler tpe:multivariate"
             " mixed.lua " MIXED_SPEC) == 0);
    CHECK_ROWS(path_in("mv.db"),
               "SELECT count(*), count(DISTINCT params) FROM sweep_trials"
               " WHERE status = 'completed'",
               "24|24\n");
    CHECK(sh("$BP sweep --db mv.db --trials 4 --sampler bayes mixed.lua x=uniform:0:1") == 1);
    CHECK_STR(err_text, "backprop: unknown sampler 'bayes' (expected random, tpe or"
                        " tpe:multivariate)\n");
    CHECK(sh("$BP sweep --db mv.db --sampler tpe mixed.lua x=0.1,0.2") == 1);
    CHECK_STR(err_text, "backprop: --sampler tpe needs --trials N\n");
    CHECK(sh("$BP sweep --plan --trials 4 --sampler tpe mixed.lua x=uniform:0:1") == 1);
    CHECK_STR(err_text, "backprop: sweep: --sampler tpe proposes each trial from the trials"
                        " finished before it: it cannot be split into --plan, --trial,"
                        " --task, --slurm or --parallel shards (--slurm with --rounds R"
                        " --per-round K can)\n");
    CHECK(sh("$BP sweep --db mv.db --resume 1 --sampler tpe") == 1);
}

/* ------------------------------------------------------------------------ */
/* bp.suggest: spaces written in the script                                  */

/* mixed.lua's loss with its space declared in the script: a sweep needs no
 * parameter on its command line. */
static void write_suggesting(void) {
    write_file("dbr.lua", "local bp = require 'backprop'\n"
                          "local x = bp.suggest('x', 'uniform:-2:2', 0.0)\n"
                          "local opt = bp.suggest('opt', 'choice:a,b,c', 'a')\n"
                          "local n = bp.suggest('n', 'int:1:10', 1)\n"
                          "local lr = bp.suggest('lr', 'loguniform:1e-4:1', 0.1)\n"
                          "bp.log('loss', (x - 0.3)^2 + (opt == 'b' and 0 or 1)"
                          " + 0.1 * (n - 7)^2 + 0.1 * (math.log(lr, 10) + 2)^2, 1)\n");
}

/* In a plain run bp.suggest is the default, or the command line's value
 * checked against its spec, typed by the spec; recorded as bp.param's. */
static void test_suggest_in_a_run(void) {
    write_suggesting();
    CHECK(sh("$BP run --db plain.db --quiet dbr.lua") == 0);
    CHECK_ROWS(path_in("plain.db"), "SELECT key, value, type FROM params ORDER BY key",
               "lr|0.1|real\nn|1|int\nopt|a|text\nx|0.0|real\n");
    CHECK(sh("$BP run --db plain.db --quiet dbr.lua x=1 n=7.0 opt=b") == 0);
    CHECK_ROWS(path_in("plain.db"),
               "SELECT key, value, type FROM params WHERE run_id = 2 ORDER BY key",
               "lr|0.1|real\nn|7|int\nopt|b|text\nx|1.0|real\n");
    const struct {
        const char *args, *err;
    } bad[] = {
        {"x=3", "dbr.lua:2: parameter x: '3' is out of range (uniform:-2:2)"},
        {"x=wide", "dbr.lua:2: parameter x: 'wide' is not a number (uniform:-2:2)"},
        {"opt=d", "dbr.lua:3: parameter opt: 'd' is not one of choice:a,b,c"},
        {"n=2.5", "dbr.lua:4: parameter n: '2.5' is not an integer (int:1:10)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        CHECK(sh("$BP run --db plain.db --quiet dbr.lua %s", bad[k].args) == 1);
        CHECK(strstr(err_text, bad[k].err) != NULL);
        if (!strstr(err_text, bad[k].err)) fprintf(stderr, "  got: %s\n", err_text);
    }
    write_file("two.lua", "local bp = require 'backprop'\n"
                          "bp.suggest('x', 'uniform:0:1', 0.5)\n"
                          "bp.suggest('x', 'uniform:0:2', 0.5)\n");
    CHECK(sh("$BP run --db plain.db --quiet two.lua") == 1);
    CHECK(strstr(err_text,
                 "two.lua:3: bp.suggest: parameter x is suggested as 'uniform:0:1'"
                 " and as 'uniform:0:2': one name, one specification") != NULL);
    write_file("dflt.lua", "local bp = require 'backprop'\n"
                           "bp.suggest('lr', 'loguniform:1e-4:1', 2)\n");
    CHECK(sh("$BP run --db plain.db --quiet dflt.lua") == 1);
    CHECK(strstr(err_text,
                 "dflt.lua:2: bp.suggest: the default is not in the space:"
                 " parameter lr: '2' is out of range (loguniform:0.0001:1)") != NULL);
    write_file("spec.lua", "local bp = require 'backprop'\n"
                           "bp.suggest('lr', 'logunif:1e-4:1', 0.1)\n");
    CHECK(sh("$BP run --db plain.db --quiet spec.lua") == 1);
    CHECK(strstr(err_text,
                 "spec.lua:2: bp.suggest: sweep parameter 'lr=logunif:1e-4:1':"
                 " unknown distribution 'logunif' (expected uniform, loguniform,"
                 " int or choice)") != NULL);
}

/* A TPE sweep given no parameters learns its space from its script: the
 * space and the keys are recorded, the spec stays the command line's; its
 * first 10 trials are random, then TPE concentrates where the loss is
 * least, as with the space on the command line; the same seed gives the
 * same trials, also killed and resumed (-j 1). */
static void test_suggest_sweep(void) {
    write_suggesting();
    const char *tpe = "--trials 30 --seed 1 --sampler tpe dbr.lua";
    CHECK(sh("$BP sweep --db dbr.db -j 1 %s", tpe) == 0);
    CHECK(sh("$BP sweep --db dbrnd.db -j 1 --trials 30 --seed 1 dbr.lua") == 0);
    const char *db = path_in("dbr.db");
    CHECK_ROWS(db, "SELECT spec, keys, strategy FROM sweeps",
               "--trials 30 --seed 1 --sampler tpe|x opt n lr|tpe\n");
    CHECK_ROWS(db, "SELECT key, spec, trial FROM sweep_space ORDER BY rowid",
               "x|uniform:-2:2|0\nopt|choice:a,b,c|0\nn|int:1:10|0\n"
               "lr|loguniform:0.0001:1|0\n");
    CHECK_ROWS(db,
               "SELECT count(*) FROM sweep_trials WHERE status = 'completed'"
               " AND params LIKE 'x=% opt=% n=% lr=%'",
               "30\n");
    const char *b_after = "SELECT count(*) FROM sweep_trials WHERE trial >= 10"
                          " AND params LIKE '% opt=b %'";
    double tpe_b = number(db, b_after), rnd_b = number(path_in("dbrnd.db"), b_after);
    const char *best = "SELECT min(objective) FROM sweep_trials";
    double tpe_best = number(db, best), rnd_best = number(path_in("dbrnd.db"), best);
    printf("suggest: after the start-up, opt=b in %.0f of 20 trials (random %.0f); best"
           " %.3g (random %.3g)\n",
           tpe_b, rnd_b, tpe_best, rnd_best);
    CHECK(tpe_b >= 14 && tpe_b > rnd_b); /* seed 1 gives 19 and 7 */
    CHECK(tpe_best < rnd_best);          /* seed 1 gives 0.002 and 0.33 */
    const char *first = "SELECT trial, params, seed FROM sweep_trials WHERE trial < 10"
                        " ORDER BY trial";
    char *a = rows(db, first), *b = rows(path_in("dbrnd.db"), first);
    CHECK_STR(a, b);
    free(a);
    free(b);
    CHECK(sh("$BP sweep --db dbr2.db -j 1 %s", tpe) == 0);
    const char *q =
        "SELECT trial, status, params, quote(objective), seed FROM sweep_trials"
        " ORDER BY trial";
    a = rows(db, q), b = rows(path_in("dbr2.db"), q);
    CHECK_STR(a, b);
    free(b);
    const char *killed = path_in("dbrk.db");
    char *argv[] = {exe,
                    "sweep",
                    "--db",
                    (char *)killed,
                    "-j",
                    "1",
                    "--trials",
                    "30",
                    "--seed",
                    "1",
                    "--sampler",
                    "tpe",
                    (char *)path_in("dbr.lua"),
                    NULL};
    pid_t kid = spawn_group(argv);
    int done = await_completed(killed, 14, 6000);
    CHECK(done >= 14 && done < 30);
    kill_group(kid);
    CHECK(sh("$BP sweep --db dbrk.db --resume 1 -j 1") == 0);
    b = rows(killed, q);
    CHECK_STR(b, a);
    free(a);
    free(b);
}

/* Conditional parameters: momentum is suggested for sgd only, so it is
 * absent from adam's runs, a grid over opt runs both, TPE (either form)
 * runs every trial with it where it was used; declared with '?' on the
 * command line it may go unread; a typo still stops the sweep with the
 * module's message; a name suggested with two specs by two trials is
 * refused. */
static void test_conditional_parameters(void) {
    write_file("cond.lua",
               "local bp = require 'backprop'\n"
               "local opt = bp.suggest('opt', 'choice:sgd,adam', 'adam')\n"
               "local m = 0\n"
               "if opt == 'sgd' then m = bp.suggest('momentum', 'uniform:0:0.99',"
               " 0.9) end\n"
               "bp.log('loss', (opt == 'sgd' and 1 or 1.5) - m, 1)\n");
    const char *absent = "SELECT count(*) FROM runs r JOIN params p ON p.run_id = r.id"
                         " AND p.key = 'momentum' WHERE r.params_text LIKE '%opt=adam%'";
    CHECK(sh("$BP sweep --db cg.db cond.lua opt=sgd,adam") == 0);
    CHECK_ROWS(path_in("cg.db"),
               "SELECT trial, status, params FROM sweep_trials ORDER BY trial",
               "0|completed|opt=sgd momentum=0.9\n1|completed|opt=adam\n");
    CHECK_ROWS(path_in("cg.db"), absent, "0\n");
    const char *samplers[] = {"tpe", "tpe:multivariate"};
    for (int k = 0; k < 2; k++) {
        const char *db = path_in(k ? "cmv.db" : "ct.db");
        CHECK(sh("$BP sweep --db %s -j 2 --trials 24 --seed 2 --sampler %s cond.lua", db,
                 samplers[k]) == 0);
        /* How many of each, with -j 2, depends on timing; what each holds not. */
        CHECK_ROWS(db,
                   "SELECT count(*), sum(params LIKE 'opt=sgd momentum=%')"
                   " = sum(params LIKE 'opt=sgd%'), sum(params = 'opt=adam')"
                   " = sum(params LIKE 'opt=adam%') FROM sweep_trials"
                   " WHERE status = 'completed'",
                   "24|1|1\n");
        CHECK_ROWS(db, absent, "0\n");
    }
    /* A grid whose first trial (adam) does not read momentum: conditional. */
    CHECK(sh("$BP sweep --db cq.db cond.lua opt=adam,sgd 'momentum?=0.5,0.9'") == 0);
    CHECK_ROWS(path_in("cq.db"), "SELECT spec FROM sweeps",
               "opt=adam,sgd momentum?=0.5,0.9 --seed 1\n");
    CHECK_ROWS(
        path_in("cq.db"), "SELECT trial, params FROM sweep_trials ORDER BY trial",
        "0|opt=adam\n1|opt=adam\n2|opt=sgd momentum=0.5\n3|opt=sgd momentum=0.9\n");
    CHECK(sh("$BP sweep --db cy.db -j 2 --trials 6 cond.lua momentun=0.5") == 1);
    CHECK(strstr(err_text,
                 "backprop: sweep 1 stopped: cond.lua:5: parameter given but never"
                 " read before the script began to train or log: momentun (a typo?"
                 " it read momentum, opt)\n") != NULL);
    CHECK_ROWS(path_in("cy.db"), "SELECT count(*), status FROM runs", "1|failed\n");
    /* Split in shards (--plan), each trial drawing the names it suggests
     * itself: merged, the same trials, parameters and seeds as in one run. */
    CHECK(sh("$BP sweep --db cr.db -j 1 --trials 6 --seed 4 cond.lua") == 0);
    CHECK(
        sh("$BP sweep --plan --trials 6 --seed 4 --shard-db 'cp%%d.db' --shards 2 cond.lua"
           " > plan.sh && sh plan.sh && $BP merge cpall.db cp0.db cp1.db") == 0);
    const char *same =
        "SELECT trial, status, params, seed FROM sweep_trials ORDER BY trial";
    char *a = rows(path_in("cr.db"), same), *b = rows(path_in("cpall.db"), same);
    CHECK_STR(a, b);
    free(a);
    free(b);
    CHECK_ROWS(path_in("cpall.db"), "SELECT keys FROM sweeps", "opt momentum\n");
    CHECK_ROWS(path_in("cpall.db"), "SELECT count(DISTINCT seed) FROM sweep_trials",
               "6\n");
    write_file("twospec.lua",
               "local bp = require 'backprop'\n"
               "local hi = bp.sweep().trial == 0 and 1 or 2\n"
               "bp.log('loss', bp.suggest('x', 'uniform:0:' .. hi, 0.5), 1)\n");
    CHECK(sh("$BP sweep --db cs.db -j 1 --trials 2 twospec.lua") ==
          0); /* one completed */
    CHECK_ROWS(
        path_in("cs.db"), "SELECT trial, status, message FROM runs ORDER BY trial",
        "0|completed|NULL\n1|failed|twospec.lua:3: bp.suggest: parameter x is"
        " suggested as 'uniform:0:2' here but as 'uniform:0:1' by an earlier trial of"
        " sweep 1: one name, one specification\n");
}

/* ------------------------------------------------------------------------ */
/* Resume that resumes                                                       */

/* A sweep killed (its process group, SIGKILL) while its trial stalls after
 * the checkpoint of epoch 3: --resume goes on in the same run from that
 * checkpoint (`backprop run --resume`), which ends with the losses and the
 * network, to the bit, of the same trial never interrupted; one run, two
 * attempts. (Both sweeps have one setting, so one seed; stall_at only
 * stalls.) */
static void test_sweep_resumes_from_checkpoint(void) {
    char script[1100];
    snprintf(script, sizeof script, "%s", xor_script);
    strcpy(strrchr(script, '/'), "/resumable.lua");
    char db[512]; /* path_in's buffers are reused */
    snprintf(db, sizeof db, "%s", path_in("rk.db"));
    char *argv[] = {exe,        "sweep", "--db", db,         "-j",         "1",
                    "--trials", "1",     script, "epochs=6", "stall_at=3", NULL};
    pid_t kid = spawn_group(argv);
    CHECK(await_rows(db, "SELECT max(step) FROM checkpoints", "3\n", 60));
    int status = kill_group(kid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(sh("$BP sweep --db rk.db --resume 1 -j 1") == 0);
    CHECK(strstr(out_text, "1 trials, 1 run now") != NULL);
    CHECK(sh("$BP sweep --db ru.db -j 1 --trials 1 %s epochs=6 stall_at=0", script) == 0);
    CHECK_ROWS(db, "SELECT id, status, attempts FROM runs", "1|completed|2\n");
    CHECK_ROWS(db, "SELECT trial, run_id, status, attempts FROM sweep_trials",
               "0|1|completed|2\n");
    CHECK_ROWS(path_in("ru.db"), "SELECT attempts FROM sweep_trials", "1\n");
    const char *same[] = {
        "SELECT n.name, m.step, quote(m.value) FROM metrics m JOIN metric_names n"
        " ON n.id = m.name_id ORDER BY n.name, m.step",
        "SELECT step, hex(data) FROM networks",
        "SELECT seed FROM runs",
    };
    for (int k = 0; k < 3; k++) {
        char *a = rows(db, same[k]), *b = rows(path_in("ru.db"), same[k]);
        CHECK(strlen(a) > 10);
        CHECK_STR(a, b);
        free(a);
        free(b);
    }
}

/* A parameter first read after the checkpoint (a conditional one here)
 * keeps in the resumed run the value its trial was started with, read
 * back from the run's command line: recorded, and what the script used. */
static void test_resume_keeps_late_parameters(void) {
    write_file("late.lua", "local bp = require 'backprop'\n"
                           "local epochs = bp.param('epochs', 4)\n"
                           "local stall_at = bp.param('stall_at', 0)\n"
                           "local start = bp.resume{}\n"
                           "for epoch = start + 1, epochs do\n"
                           "  bp.log('loss', 1 / epoch, epoch)\n"
                           "  bp.checkpoint(epoch, {})\n"
                           "  if epoch == stall_at then os.execute('sleep 60') end\n"
                           "end\n"
                           "bp.log('late', bp.param('late', 1), epochs)\n");
    char db[512], script[512];
    snprintf(db, sizeof db, "%s", path_in("late.db"));
    snprintf(script, sizeof script, "%s", path_in("late.lua"));
    char *argv[] = {exe,          "sweep",         "--db", db,     "-j",
                    "1",          "--trials",      "1",    script, "epochs=4",
                    "stall_at=2", "late?=int:5:9", NULL};
    pid_t kid = spawn_group(argv);
    CHECK(await_rows(db, "SELECT max(step) FROM checkpoints", "2\n", 60));
    kill_group(kid);
    CHECK_ROWS(db, "SELECT count(*) FROM params WHERE key = 'late'", "0\n");
    CHECK(sh("$BP sweep --db late.db --resume 1 -j 1") == 0);
    CHECK_ROWS(db, "SELECT status, attempts FROM sweep_trials", "completed|2\n");
    CHECK_ROWS(
        db,
        "SELECT p.value = CAST(substr(r.command, instr(r.command, 'late=') + 5)"
        " AS INTEGER), p.value BETWEEN 5 AND 9, m.value = p.value FROM runs r"
        " JOIN params p ON p.run_id = r.id AND p.key = 'late' JOIN metrics m ON"
        " m.run_id = r.id JOIN metric_names n ON n.id = m.name_id AND n.name = 'late'",
        "1|1|1\n");
    /* the command line is recorded as a shell reads it back: a word with a
     * space or a quote in it single-quoted */
    write_file("note.lua", "local bp = require 'backprop'\n"
                           "bp.log('n', #bp.param('note', ''), 1)\n");
    CHECK(sh("$BP run --db note.db --quiet note.lua \"note=it's a b\"") == 0);
    CHECK_ROWS(path_in("note.db"),
               "SELECT substr(command, instr(command, 'note.lua')) FROM runs",
               "note.lua 'note=it'\\''s a b'\n");
}

/* A trial killed before its script read its parameters has none recorded,
 * so a resume of its run would take the defaults: it runs again as a new
 * run, the killed one on record beside it, and its attempts count both. */
static void test_sweep_reruns_what_read_nothing(void) {
    char script[2048];
    snprintf(script, sizeof script,
             "local bp = require 'backprop'\n"
             "os.execute('touch %s; while [ -e %s ]; do sleep 0.05; done')\n"
             "bp.log('loss', bp.param('a', 1), 1)\n",
             path_in("early.mark"), path_in("early.hold"));
    write_file("early.lua", script);
    write_file("early.hold", "");
    char db[512], lua[512]; /* path_in's buffers are reused */
    snprintf(db, sizeof db, "%s", path_in("early.db"));
    snprintf(lua, sizeof lua, "%s", path_in("early.lua"));
    char *argv[] = {exe, "sweep", "--db", db, "-j", "1", lua, "a=2,3", NULL};
    pid_t kid = spawn_group(argv);
    CHECK(await_file("early.mark", NULL, 30));
    kill_group(kid);
    unlink(path_in("early.hold"));
    CHECK(sh("$BP sweep --db early.db --resume 1 -j 1") == 0);
    CHECK_ROWS(db, "SELECT trial, status, attempts, params_text FROM runs ORDER BY id",
               "0|crashed|1|NULL\n0|completed|1|a=2\n1|completed|1|a=3\n");
    CHECK_ROWS(db, "SELECT trial, objective, attempts FROM sweep_trials ORDER BY trial",
               "0|2.0|2\n1|3.0|1\n");
}

int main(void) {
    const char *bin = getenv("BP_BINARY_DIR"), *srcdir = getenv("BP_SOURCE_DIR");
    if (!bin || !srcdir) {
        fprintf(stderr,
                "BP_BINARY_DIR and BP_SOURCE_DIR must be set (run through ctest)\n");
        return 1;
    }
    snprintf(exe, sizeof exe, "%s/backprop", bin);
    snprintf(xor_script, sizeof xor_script, "%s/scripts/sweep_xor.lua", srcdir);
    snprintf(dir, sizeof dir, "/tmp/test_sweeprun_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_migration_from_v2();
    test_grid_runs_every_combination();
    test_parallel_equals_sequential();
    test_resume_after_sigkill();
    test_resume_right_after_killing_the_supervisor();
    test_sweep_in_another_pid_namespace();
    test_pruning_by_hand();
    test_pruning_waits();
    test_hyperband_by_hand();
    test_data_seed_splits_alike();
    test_repeats_by_hand();
    test_unread_parameter();
    test_bad_specs_run_nothing();
    test_plan_parallel_merge();
    test_spec_file();
    test_trial_threads();
    test_tpe_finds_the_minimum();
    test_tpe_resume_is_the_same();
    test_tpe_multivariate_and_errors();
    test_suggest_in_a_run();
    test_suggest_sweep();
    test_conditional_parameters();
    test_sweep_resumes_from_checkpoint();
    test_sweep_reruns_what_read_nothing();
    test_resume_keeps_late_parameters();
    int rc = check_report("test_sweeprun");
    if (rc == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    } else {
        fprintf(stderr, "the databases are kept in %s\n", dir);
    }
    return rc;
}
