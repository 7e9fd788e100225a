/* reads_dash.c: the dashboard's tables (bp_dash.h): the runs, a run, the
 * sweeps and a sweep, each one statement that makes its JSON in SQLite.
 *
 * SQLite's JSON functions build the answer where the rows are, so nothing
 * is copied into C structures only to be printed again; the server sends
 * the text as it comes. A table of runs reads run_summary, whose figures
 * come from metric_summary, a row per run and metric: a page of the 10,000
 * runs costs a lookup per run, not a scan of their metric rows. JSON has no
 * NaN nor infinities: a NaN is stored as NULL and comes out null, and
 * FIN() spells +-Inf as strings. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_dash.h"
#include "reads_int.h"
#include "runlog_int.h"

/* A value as JSON may hold it: +-Inf as "Infinity" and "-Infinity". */
#define FIN(x)                                                                    \
    "CASE WHEN abs(" x ") > 1.7976931348623157e308 THEN CASE WHEN " x " > 0 THEN" \
    " 'Infinity' ELSE '-Infinity' END ELSE " x " END"
/* A parameter's value (columns type, value of params): a bool as true or
 * false. Inside the aggregate, so that json()'s subtype reaches it. */
#define PVAL                                                                      \
    "CASE WHEN type = 'bool' THEN json(CASE WHEN value THEN 'true' ELSE 'false' " \
    "END) ELSE " FIN("value") " END"
/* The parameters of run `id` as an object, by key. */
#define PARAMS_OF(id)                                                             \
    "json((SELECT json_group_object(key, " PVAL ") FROM (SELECT key, value, type" \
    " FROM params WHERE run_id = " id " ORDER BY key)))"

/* The statements, as SQL text with the macros above in it (clang-format
 * cannot lay out a string that calls a macro, so they stay as written). */
/* clang-format off */
/* bp_dash_runs: formatted with the filter's conditions (" AND ..."), the
 * NULLs-last term, the ORDER BY expression and its direction. */
#define RUNS_SQL \
    "WITH sel AS (SELECT r.id FROM runs r WHERE 1%s)," \
    " page AS (SELECT s.*, r.started AS t0, r.ended AS t1 FROM run_summary s" \
    " JOIN runs r ON r.id = s.id WHERE s.id IN (SELECT id FROM sel)" \
    " ORDER BY %s%s %s, s.id DESC LIMIT ? OFFSET ?)" \
    " SELECT json_object('total', (SELECT count(*) FROM sel)," \
    " 'keys', json((SELECT json_group_array(key) FROM (SELECT DISTINCT key" \
    " FROM params WHERE run_id IN (SELECT id FROM page) ORDER BY key)))," \
    " 'runs', json((SELECT json_group_array(json_object('id', id, 'name', name," \
    " 'status', status, 'started', t0, 'ended', t1," \
    " 'final_loss', " FIN("final_loss") ", 'final_nan', json(CASE WHEN" \
    " final_loss IS NULL AND EXISTS (SELECT 1 FROM metric_summary ms WHERE" \
    " ms.run_id = page.id AND ms.name_id = (SELECT id FROM metric_names WHERE" \
    " name = 'loss')) THEN 'true' ELSE 'false' END)," \
    " 'best_loss', " FIN("best_loss") ", 'steps', steps, 'duration_s'," \
    " duration_s, 'sweep_id', sweep_id, 'trial', trial," \
    " 'params', " PARAMS_OF("page.id") ")) FROM page)))"
/* bp_dash_run: the run's id bound. */
#define RUN_SQL \
    "SELECT json_object('id', r.id, 'name', r.name, 'status', r.status," \
    " 'script_path', r.script_path, 'command', r.command, 'seed', r.seed," \
    " 'started', r.started, 'ended', r.ended, 'host', r.host, 'pid', r.pid," \
    " 'version', r.version, 'message', r.message, 'traceback', r.traceback," \
    " 'sweep_id', r.sweep_id, 'trial', r.trial, 'params', " PARAMS_OF("r.id") "," \
    " 'tags', json((SELECT json_group_object(key, value) FROM (SELECT key, value" \
    " FROM tags WHERE run_id = r.id ORDER BY key)))," \
    " 'notes', json((SELECT json_group_array(json_object('time', time, 'text', text))" \
    " FROM (SELECT time, text FROM notes WHERE run_id = r.id ORDER BY id)))," \
    " 'metrics', json((SELECT json_group_array(json_object('name', name, 'count', count," \
    " 'nan_count', nan_count, 'first_step', first_step, 'last_step', last_step," \
    " 'last', " FIN("last_value") ", 'min', " FIN("min_value") "," \
    " 'max', " FIN("max_value") ", 'unit', unit)) FROM (SELECT n.name, ms.*," \
    " coalesce((SELECT u.unit FROM metric_units u WHERE u.run_id = ms.run_id" \
    " AND u.name_id = ms.name_id), 'step') AS unit FROM metric_summary ms" \
    " JOIN metric_names n ON n.id = ms.name_id WHERE ms.run_id = r.id" \
    " ORDER BY n.name)))," \
    " 'snapshots', json((SELECT json_group_array(json_object('name', name, 'count', c," \
    " 'first', s0, 'last', s1)) FROM (SELECT name, count(*) AS c, min(step) AS s0," \
    " max(step) AS s1 FROM snapshots WHERE run_id = r.id GROUP BY name" \
    " ORDER BY name))))" \
    " FROM runs r WHERE r.id = ?"
/* A sweep's row as bp_dash_sweeps gives it (columns of sweeps s). */
#define SWEEP_FIELDS \
    "'id', s.id, 'name', s.name, 'status', s.status, 'strategy', s.strategy," \
    " 'objective', s.objective, 'direction', s.direction, 'planned', s.trials," \
    " 'started', s.started, 'ended', s.ended"
/* bp_dash_sweep: the sweep's id bound as ?1. The swept parameters only, as
 * sweep_trials names them; the sweep's keys and direction are looked up by
 * ?1 in the subqueries of FROM, which SQLite does not let name the outer
 * row. */
#define SWEEP_SQL \
    "SELECT json_object(" SWEEP_FIELDS ", 'spec', s.spec, 'prune', s.prune," \
    " 'message', s.message, 'keys', json('[\"' || replace(s.keys, ' ', '\",\"')" \
    " || '\"]'), 'trials', json((SELECT json_group_array(json_object('trial', trial," \
    " 'run', run_id, 'status', status, 'objective', " FIN("objective") "," \
    " 'params', json((SELECT json_group_object(key, " PVAL ") FROM (SELECT p.key," \
    " p.value, p.type, instr(' ' || k.keys || ' ', ' ' || p.key || ' ') AS pos" \
    " FROM params p, (SELECT keys FROM sweeps WHERE id = ?1) k" \
    " WHERE p.run_id = t.run_id AND pos > 0 ORDER BY pos))))) FROM" \
    " (SELECT * FROM sweep_trials WHERE sweep_id = ?1 ORDER BY status = 'completed'" \
    " AND objective IS NOT NULL DESC, CASE WHEN status = 'completed' THEN CASE" \
    " (SELECT direction FROM sweeps WHERE id = ?1) WHEN 'max' THEN -objective" \
    " ELSE objective END END, trial) t)))" \
    " FROM sweeps s WHERE s.id = ?1"
/* clang-format on */

/* Steps st once, and takes its first column as the answer: 0, 1 with
 * not_found in e when there is no row or the column is NULL, -1. The
 * statement is finalized. */
static int take_json(bp_runlog *log, sqlite3_stmt *st, const char *not_found, char **json,
                     size_t *len, bp_err *e) {
    *json = NULL, *len = 0;
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        *len = (size_t)sqlite3_column_bytes(st, 0);
        *json = t ? malloc(*len + 1) : NULL;
        if (*json) memcpy(*json, t, *len + 1);
        rc = *json ? 0 : rd_oom(e);
    } else if (r == SQLITE_ROW || r == SQLITE_DONE) {
        rc = 1;
        bp_err_set(e, "%s", not_found);
    } else {
        rc = rd_fail(log, e);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Prepares sql on the log's connection; NULL with rd_fail. */
static sqlite3_stmt *prepare(bp_runlog *log, const char *sql, bp_err *e) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log), sql, -1, &st, NULL) != SQLITE_OK) {
        rd_fail(log, e);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* The table of runs                                                         */

/* The ORDER BY expression of a sort column (KEY of "param:KEY" is bound
 * where the expression's ? is); NULL for an unknown one. */
static const char *sort_expr(const char *sort) {
    static const char *const cols[][2] = {
        {"id", "s.id"},
        {"name", "s.name"},
        {"status", "s.status"},
        {"final_loss", "s.final_loss"},
        {"best_loss", "s.best_loss"},
        {"steps", "s.steps"},
        {"duration_s", "s.duration_s"},
        {"started", "r.started"},
    };
    if (!sort || !*sort) return "s.id";
    if (strncmp(sort, "param:", 6) == 0)
        return "(SELECT p.value FROM params p WHERE p.run_id = s.id AND p.key = ?)";
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++)
        if (strcmp(sort, cols[k][0]) == 0) return cols[k][1];
    return NULL;
}

/* The statement of bp_dash_runs, bound; NULL on failure. Its filter is
 * bp_runlog_runs' (reads.c) with a substring of the name for the glob.
 * Its parameters (?) come in the order they are bound below. */
static sqlite3_stmt *runs_stmt(bp_runlog *log, const bp_dash_runs_query *q, bp_err *e) {
    const char *order = sort_expr(q->sort);
    if (!order) {
        bp_err_set(e, "unknown sort column '%s'", q->sort);
        return NULL;
    }
    int by_param = order[0] == '(', has_status = q->status && *q->status,
        has_name = q->name && *q->name;
    /* NULLs last: "X IS NULL, " first, but not for the columns of runs
     * that are never NULL, so that the latest runs (by id, the default)
     * come from the primary key without summarising every run. */
    char nulls_last[300] = "";
    if (strcmp(order, "s.id") && strcmp(order, "s.name") && strcmp(order, "s.status") &&
        strcmp(order, "r.started"))
        snprintf(nulls_last, sizeof nulls_last, "%s IS NULL, ", order);
    char where[2048] = "";
    size_t n = (size_t)snprintf(
        where, sizeof where, "%s%s", has_status ? " AND r.status = ?" : "",
        has_name ? " AND instr(lower(r.name), lower(?)) > 0" : "");
    if (rd_params_where(where, sizeof where, &n, "r.id", q->params, q->n_params, e))
        return NULL;
    char sql[8192];
    snprintf(sql, sizeof sql, RUNS_SQL, where, nulls_last, order,
             q->descending ? "DESC" : "ASC");
    sqlite3_stmt *st = prepare(log, sql, e);
    if (!st) return NULL;
    int b = 1;
    if (has_status) sqlite3_bind_text(st, b++, q->status, -1, SQLITE_TRANSIENT);
    if (has_name) sqlite3_bind_text(st, b++, q->name, -1, SQLITE_TRANSIENT);
    b = rd_params_bind(st, b, q->params, q->n_params);
    for (int k = 0; by_param && k < 1 + (*nulls_last != 0); k++)
        sqlite3_bind_text(st, b++, q->sort + 6, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, b++, q->limit > 0 ? q->limit : 50);
    sqlite3_bind_int64(st, b, q->offset > 0 ? q->offset : 0);
    return st;
}

int bp_dash_runs(bp_runlog *log, const bp_dash_runs_query *q, char **json, size_t *len,
                 bp_err *e) {
    *json = NULL, *len = 0;
    bp_runlog_lock(log);
    sqlite3_stmt *st = runs_stmt(log, q, e);
    int rc = st ? take_json(log, st, "no answer", json, len, e) : -1;
    bp_runlog_unlock(log);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* A run                                                                     */

/* The answer of sql about the run or sweep id (its ?1), or 1 with "no
 * WHAT ID" (what: "run", "sweep"); has is -1 when the database could not
 * be asked whether it has such a table, 0 when it has none. */
static int by_id(bp_runlog *log, int has, const char *sql, const char *what, int64_t id,
                 char **json, size_t *len, bp_err *e) {
    char missing[64];
    snprintf(missing, sizeof missing, "no %s %lld", what, (long long)id);
    *json = NULL, *len = 0;
    if (has < 0) return rd_fail(log, e);
    if (has == 0) {
        bp_err_set(e, "%s", missing);
        return 1;
    }
    sqlite3_stmt *st = prepare(log, sql, e);
    if (st) sqlite3_bind_int64(st, 1, id);
    return st ? take_json(log, st, missing, json, len, e) : -1;
}

int bp_dash_run(bp_runlog *log, int64_t run, char **json, size_t *len, bp_err *e) {
    bp_runlog_lock(log);
    int rc = by_id(log, 1, RUN_SQL, "run", run, json, len, e);
    bp_runlog_unlock(log);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Sweeps                                                                    */

/* Whether the database has the sweeps table (3.sql); -1 on failure. */
static int has_sweeps(bp_runlog *log) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log),
                           "SELECT 1 FROM sqlite_schema WHERE name = 'sweeps'", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -1;
}

int bp_dash_sweeps(bp_runlog *log, char **json, size_t *len, bp_err *e) {
    static const char sql[] =
        "SELECT json_group_array(json_object(" SWEEP_FIELDS ")) FROM"
        " (SELECT * FROM sweeps ORDER BY id DESC) s";
    *json = NULL, *len = 0;
    bp_runlog_lock(log);
    int has = has_sweeps(log), rc = -1;
    if (has == 0) {
        *json = strdup("[]");
        *len = 2;
        rc = *json ? 0 : rd_oom(e);
    } else if (has < 0) {
        rc = rd_fail(log, e);
    } else {
        sqlite3_stmt *st = prepare(log, sql, e);
        rc = st ? take_json(log, st, "no answer", json, len, e) : -1;
    }
    bp_runlog_unlock(log);
    return rc;
}

int bp_dash_sweep(bp_runlog *log, int64_t sweep, char **json, size_t *len, bp_err *e) {
    bp_runlog_lock(log);
    int rc = by_id(log, has_sweeps(log), SWEEP_SQL, "sweep", sweep, json, len, e);
    bp_runlog_unlock(log);
    return rc;
}
