/* cli.c: what the database commands of backprop (bp_cli.h) have in
 * common: their errors, ids and --db, and the dispatch by name.
 *
 * The commands are library functions writing to the streams they are
 * given, not a program: so the host runs them, and tests/test_cli.c checks
 * their output text exactly. Each lives in a file of its own (runs.c,
 * show.c, query.c, rm.c, export.c, sweepshow.c) and only formats: what it
 * prints it reads through the run log's named reads (bp_runlog.h), and
 * `query` hands the user's SQL to the run log's read-only connection. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>
#include <time.h>

#include <sqlite3.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "cli_int.h"
#include "runlog_int.h" /* bp_runlog_sqlite: to be replaced by named reads */

int bp_cli_fail(FILE *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("backprop: ", err);
    vfprintf(err, fmt, ap);
    fputc('\n', err);
    va_end(ap);
    return 1;
}

int bp_cli_parse_id(const char *s, int64_t *id) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1) return -1;
    *id = v;
    return 0;
}

const char *cli_take_db(const char *db, int *argc, char **argv, FILE *err, int *bad) {
    int j = 0;
    for (int k = 0; k < *argc; k++) {
        if (strcmp(argv[k], "--db") == 0) {
            if (k + 1 == *argc) {
                *bad = bp_cli_fail(err, "--db needs a path");
                return NULL;
            }
            db = argv[++k];
        } else if (strncmp(argv[k], "--db=", 5) == 0) {
            db = argv[k] + 5;
        } else {
            argv[j++] = argv[k];
        }
    }
    *argc = j;
    return bp_runlog_default_path(db);
}

bp_runlog *cli_open_log(const char *path, int flags, FILE *err) {
    bp_err e;
    bp_runlog *log = bp_runlog_open(path, flags, &e);
    if (!log) bp_cli_fail(err, "%s", e.msg);
    return log;
}

/* ------------------------------------------------------------------------ */
/* sweep show                                                                */

/* A cell of the trials table: a number readably (table) or exactly (CSV),
 * "-" or empty for NULL. */
static void number_cell(char *buf, size_t cap, sqlite3_stmt *st, int c, int csv) {
    if (sqlite3_column_type(st, c) == SQLITE_NULL) snprintf(buf, cap, csv ? "" : "-");
    else if (sqlite3_column_type(st, c) == SQLITE_INTEGER)
        snprintf(buf, cap, "%lld", (long long)sqlite3_column_int64(st, c));
    else if (csv) cli_fmt_exact(buf, cap, sqlite3_column_double(st, c));
    else cli_fmt_short(buf, cap, sqlite3_column_double(st, c));
}

/* Every sweep, newest first. */
static int list_sweeps(sqlite3 *s, const char *path, FILE *out, FILE *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            s,
            "SELECT w.id, w.name, w.status, w.strategy, (SELECT count(*) FROM"
            " sweep_trials t WHERE t.sweep_id = w.id AND t.status IN ('completed',"
            " 'failed', 'diverged', 'pruned')), w.trials, w.direction || ' ' ||"
            " w.objective, CASE w.direction WHEN 'max' THEN (SELECT max(objective)"
            " FROM sweep_trials t WHERE t.sweep_id = w.id AND t.status ="
            " 'completed') ELSE (SELECT min(objective) FROM sweep_trials t WHERE"
            " t.sweep_id = w.id AND t.status = 'completed') END,"
            " datetime(w.started, 'unixepoch') FROM sweeps w ORDER BY w.id DESC",
            -1, &st, NULL) != SQLITE_OK)
        return bp_cli_fail(err, "%s: %s", path, sqlite3_errmsg(s));
    cli_table t;
    if (cli_table_init(&t, 8)) {
        sqlite3_finalize(st);
        return bp_cli_fail(err, "out of memory");
    }
    const char *head[] = {"id",   "name",      "status", "strategy",
                          "done", "objective", "best",   "started"};
    for (int c = 0; c < 8; c++) cli_table_put(&t, head[c]);
    t.right[0] = t.right[4] = t.right[6] = 1;
    int r, rows = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        char buf[64];
        rows++;
        cli_table_put(&t, (const char *)sqlite3_column_text(st, 0));
        for (int c = 1; c <= 3; c++)
            cli_table_put(&t, (const char *)sqlite3_column_text(st, c));
        snprintf(buf, sizeof buf, "%lld/%lld", (long long)sqlite3_column_int64(st, 4),
                 (long long)sqlite3_column_int64(st, 5));
        cli_table_put(&t, buf);
        cli_table_put(&t, (const char *)sqlite3_column_text(st, 6));
        number_cell(buf, sizeof buf, st, 7, 0);
        cli_table_put(&t, buf);
        cli_table_put(&t, (const char *)sqlite3_column_text(st, 8));
    }
    int rc = 0;
    if (r != SQLITE_DONE) rc = bp_cli_fail(err, "%s: %s", path, sqlite3_errmsg(s));
    else if (rows) cli_table_print(&t, out, 0);
    else fprintf(out, "no sweeps\n");
    cli_table_free(&t);
    sqlite3_finalize(st);
    return rc;
}

/* Splits "a b c" into at most max keys (pointers into copy). */
static int split_keys(char *copy, char **keys, int max) {
    int n = 0;
    for (char *p = strtok(copy, " "); p && n < max; p = strtok(NULL, " ")) keys[n++] = p;
    return n;
}

static int show_sweep(sqlite3 *s, const char *path, int64_t id, int csv, FILE *out,
                      FILE *err) {
    sqlite3_stmt *st = NULL, *pv = NULL;
    int rc = 1, r;
    char buf[512], keys_copy[1024] = "", metric[128] = "", dir[8] = "min";
    char *keys[64];
    int nkeys = 0;
    cli_table t = {0};
    if (sqlite3_prepare_v2(
            s,
            "SELECT name, status, script_path, spec, strategy, trials, direction,"
            " objective, prune, strftime('%Y-%m-%d %H:%M:%S', started, 'unixepoch'),"
            " strftime('%Y-%m-%d %H:%M:%S', ended, 'unixepoch'), command, uid,"
            " keys, message FROM sweeps WHERE id = ?",
            -1, &st, NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_int64(st, 1, id);
    if ((r = sqlite3_step(st)) == SQLITE_DONE) {
        bp_cli_fail(err, "%s: no sweep %lld", path, (long long)id);
        goto out;
    }
    if (r != SQLITE_ROW) goto sqlerr;
#define TEXT(c) ((const char *)sqlite3_column_text(st, c))
    snprintf(metric, sizeof metric, "%s", TEXT(7));
    snprintf(dir, sizeof dir, "%s", TEXT(6));
    snprintf(keys_copy, sizeof keys_copy, "%s", TEXT(13));
    nkeys = split_keys(keys_copy, keys, 64);
    if (!csv) {
        fprintf(out, "sweep %lld: %s\n", (long long)id, TEXT(0));
        cli_show_line(out, "status", TEXT(1));
        cli_show_line(out, "error", TEXT(14));
        cli_show_line(out, "script", TEXT(2));
        cli_show_line(out, "spec", TEXT(3));
        snprintf(buf, sizeof buf, "%s, %lld trials", TEXT(4),
                 (long long)sqlite3_column_int64(st, 5));
        cli_show_line(out, "strategy", buf);
        snprintf(buf, sizeof buf, "%s %s", dir, metric);
        cli_show_line(out, "objective", buf);
        cli_show_line(out, "prune", TEXT(8));
        if (TEXT(9)) snprintf(buf, sizeof buf, "%s UTC", TEXT(9));
        cli_show_line(out, "started", TEXT(9) ? buf : NULL);
        if (TEXT(10)) snprintf(buf, sizeof buf, "%s UTC", TEXT(10));
        cli_show_line(out, "ended", TEXT(10) ? buf : NULL);
        cli_show_line(out, "command", TEXT(11));
        cli_show_line(out, "uid", TEXT(12));
    }
#undef TEXT
    sqlite3_finalize(st);
    st = NULL;

    /* The trials: completed ones by their objective, best first; then the
     * others by trial. */
    snprintf(buf, sizeof buf,
             "SELECT t.trial, t.run_id, t.status, t.objective, t.seed, t.duration_s,"
             " t.status = 'completed' AND t.objective IS NOT NULL AS ranked"
             " FROM sweep_trials t WHERE t.sweep_id = ?"
             " ORDER BY ranked DESC, CASE WHEN ranked THEN t.objective END %s, t.trial",
             strcmp(dir, "max") ? "ASC" : "DESC");
    if (sqlite3_prepare_v2(s, buf, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(
            s,
            "SELECT CASE WHEN type = 'bool' THEN CASE WHEN value THEN 'true'"
            " ELSE 'false' END ELSE value END FROM params"
            " WHERE run_id = ? AND key = ?",
            -1, &pv, NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_int64(st, 1, id);
    int ncol = 7 + nkeys;
    if (cli_table_init(&t, ncol)) goto oom;
    const char *head[] = {"rank", "trial", "run", "status"};
    for (int c = 0; c < 4; c++) cli_table_put(&t, head[c]);
    cli_table_put(&t, metric);
    for (int k = 0; k < nkeys; k++) cli_table_put(&t, keys[k]);
    cli_table_put(&t, "seed");
    cli_table_put(&t, csv ? "duration_s" : "duration");
    for (int c = 0; c < ncol; c++) t.right[c] = c != 3; /* all but the status */
    int rank = 0, rows = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;
        int ranked = sqlite3_column_int(st, 6);
        if (ranked) snprintf(buf, sizeof buf, "%d", ++rank);
        else snprintf(buf, sizeof buf, csv ? "" : "-");
        cli_table_put(&t, buf);
        cli_table_put(&t, (const char *)sqlite3_column_text(st, 0));
        cli_table_put(&t, (const char *)sqlite3_column_text(st, 1));
        cli_table_put(&t, (const char *)sqlite3_column_text(st, 2));
        number_cell(buf, sizeof buf, st, 3, csv);
        cli_table_put(&t, buf);
        for (int k = 0; k < nkeys; k++) {
            sqlite3_bind_int64(pv, 1, sqlite3_column_int64(st, 1));
            sqlite3_bind_text(pv, 2, keys[k], -1, SQLITE_STATIC);
            if (sqlite3_step(pv) == SQLITE_ROW) number_cell(buf, sizeof buf, pv, 0, csv);
            else snprintf(buf, sizeof buf, csv ? "" : "-");
            if (sqlite3_column_type(pv, 0) == SQLITE_TEXT)
                snprintf(buf, sizeof buf, "%s", (const char *)sqlite3_column_text(pv, 0));
            sqlite3_reset(pv);
            cli_table_put(&t, buf);
        }
        cli_table_put(&t, (const char *)sqlite3_column_text(st, 4));
        if (sqlite3_column_type(st, 5) == SQLITE_NULL)
            snprintf(buf, sizeof buf, csv ? "" : "-");
        else if (csv) cli_fmt_exact(buf, sizeof buf, sqlite3_column_double(st, 5));
        else bp_format_duration(buf, sizeof buf, sqlite3_column_double(st, 5));
        cli_table_put(&t, buf);
    }
    if (r != SQLITE_DONE) goto sqlerr;
    if (csv) {
        for (size_t k = 0; k < t.n; k++) {
            cli_csv_text(out, t.cell[k]);
            fputc((int)(k % (size_t)ncol) == ncol - 1 ? '\n' : ',', out);
        }
        rc = 0;
        goto out;
    }
    if (rows) {
        fprintf(out, "trials, best first:\n");
        cli_table_print(&t, out, 2);
    } else {
        fprintf(out, "no trials yet\n");
    }
    cli_table_free(&t);
    memset(&t, 0, sizeof t);
    sqlite3_finalize(st);
    st = NULL;

    /* What a user looks at first: for each parameter, how each of its
     * values did over the completed trials. */
    if (sqlite3_prepare_v2(
            s,
            "SELECT key, value, trials, best, mean FROM sweep_param_stats"
            " WHERE sweep_id = ? ORDER BY instr(' ' || (SELECT keys FROM"
            " sweeps WHERE id = sweep_id) || ' ', ' ' || key || ' '), value",
            -1, &st, NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_int64(st, 1, id);
    if (cli_table_init(&t, 5)) goto oom;
    const char *phead[] = {"parameter", "value", "trials", "best", "mean"};
    for (int c = 0; c < 5; c++) cli_table_put(&t, phead[c]);
    t.right[1] = t.right[2] = t.right[3] = t.right[4] = 1;
    rows = 0;
    char last[128] = "";
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        cli_table_put(&t, rows && !strcmp(last, key) ? "" : key);
        snprintf(last, sizeof last, "%s", key);
        rows++;
        if (sqlite3_column_type(st, 1) == SQLITE_TEXT)
            snprintf(buf, sizeof buf, "%s", (const char *)sqlite3_column_text(st, 1));
        else number_cell(buf, sizeof buf, st, 1, 0);
        cli_table_put(&t, buf);
        for (int c = 2; c <= 4; c++) {
            number_cell(buf, sizeof buf, st, c, 0);
            cli_table_put(&t, buf);
        }
    }
    if (r != SQLITE_DONE) goto sqlerr;
    if (rows) {
        fprintf(out, "by parameter (completed trials; best and mean %s):\n", metric);
        cli_table_print(&t, out, 2);
    }
    rc = 0;
    goto out;
oom:
    bp_cli_fail(err, "out of memory");
    goto out;
sqlerr:
    bp_cli_fail(err, "%s: %s", path, sqlite3_errmsg(s));
out:
    if (t.right) cli_table_free(&t);
    sqlite3_finalize(st);
    sqlite3_finalize(pv);
    return rc;
}

int bp_cli_sweep_show(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0;
    const char *path = cli_take_db(db, &argc, argv, err, &bad);
    if (bad) return 1;
    int csv = 0;
    const char *id_text = NULL;
    for (int k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--csv") == 0) csv = 1;
        else if (argv[k][0] == '-')
            return bp_cli_fail(err, "sweep show: unknown option '%s' (--csv)", argv[k]);
        else if (id_text) return bp_cli_fail(err, "sweep show wants one sweep id");
        else id_text = argv[k];
    }
    int64_t id = 0;
    if (id_text && bp_cli_parse_id(id_text, &id))
        return bp_cli_fail(err, "sweep show: '%s' is not a sweep id", id_text);
    bp_runlog *log = cli_open_log(path, BP_RUNLOG_MUSTEXIST, err);
    if (!log) return 1;
    int rc = id_text ? show_sweep(bp_runlog_sqlite(log), path, id, csv, out, err)
                     : list_sweeps(bp_runlog_sqlite(log), path, out, err);
    bp_runlog_close(log);
    return rc;
}

/* ------------------------------------------------------------------------ */

int bp_cli_main(const char *cmd, const char *db, int argc, char **argv, FILE *out,
                FILE *err) {
    if (strcmp(cmd, "runs") == 0) return bp_cli_runs(db, argc, argv, out, err);
    if (strcmp(cmd, "show") == 0) return bp_cli_show(db, argc, argv, out, err);
    if (strcmp(cmd, "query") == 0) return bp_cli_query(db, argc, argv, out, err);
    if (strcmp(cmd, "rm") == 0) return bp_cli_rm(db, argc, argv, out, err);
    if (strcmp(cmd, "export") == 0) return bp_cli_export(db, argc, argv, out, err);
    return -1;
}

void bp_cli_usage(FILE *out) {
    fputs(
        "  backprop runs [--status S] [--name GLOB] [--param KEY=VALUE] [--limit N | --all]\n"
        "  backprop show ID\n"
        "  backprop query [--csv | --json] \"SQL\"\n"
        "  backprop rm [--force] ID...\n"
        "  backprop export ID [--csv] [-o FILE]\n",
        out);
}
