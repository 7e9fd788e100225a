/* reads.c: the reads of runs that the commands print (bp_runlog.h, "Reads
 * for the commands"): the list of `backprop runs`, a plot's label and
 * metric names and units, the rows of `backprop export`, and `backprop rm`.
 *
 * Each is a statement or two on the views and tables described in runlog/schema/,
 * run with the connection held; the results are copied out, so that the
 * commands format them without seeing SQLite. A failure reads "PATH:
 * SQLite's message", as the commands said it when they ran the SQL
 * themselves. The helpers of reads_int.h, shared by reads_*.c, are here. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runlog_int.h"
#include "reads_int.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

int rd_fail(bp_runlog *log, bp_err *e) {
    return bp_err_set(e, "%s: %s", bp_runlog_path(log),
                      sqlite3_errmsg(bp_runlog_sqlite(log)));
}

int rd_oom(bp_err *e) { return bp_err_set(e, "out of memory"); }

int rd_text(sqlite3_stmt *st, int c, char **out) {
    const char *t = (const char *)sqlite3_column_text(st, c);
    *out = t ? strdup(t) : NULL;
    return t && !*out ? -1 : 0;
}

int rd_value(sqlite3_stmt *st, int c, bp_runlog_value *v) {
    memset(v, 0, sizeof *v);
    switch (sqlite3_column_type(st, c)) {
        case SQLITE_NULL: v->type = BP_RUNLOG_NULL; return 0;
        case SQLITE_INTEGER:
            v->type = BP_RUNLOG_INT;
            v->i = sqlite3_column_int64(st, c);
            v->r = (double)v->i;
            return 0;
        case SQLITE_FLOAT:
            v->type = BP_RUNLOG_REAL;
            v->r = sqlite3_column_double(st, c);
            return 0;
        case SQLITE_BLOB: v->type = BP_RUNLOG_BLOB; break;
        default: v->type = BP_RUNLOG_TEXT;
    }
    const void *p = v->type == BP_RUNLOG_BLOB ? sqlite3_column_blob(st, c)
                                              : (const void *)sqlite3_column_text(st, c);
    v->n = (size_t)sqlite3_column_bytes(st, c);
    char *s = malloc(v->n + 1);
    if (!s) return -1;
    if (v->n) memcpy(s, p, v->n);
    s[v->n] = '\0';
    v->s = s;
    return 0;
}

void rd_value_free(bp_runlog_value *v) {
    free((char *)v->s);
    v->s = NULL;
}

void *rd_grow(void *v, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return v;
    size_t more = *cap ? 2 * *cap : 16;
    void *p = realloc(v, more * size);
    if (p) *cap = more;
    return p;
}

int rd_rows(bp_runlog *log, sqlite3_stmt *st, void *rows, size_t *n, size_t size,
            int (*take)(sqlite3_stmt *st, void *row, void *ctx), void *ctx, bp_err *e) {
    char *v; /* rows is a T **: its pointer is copied in and out as bytes */
    memcpy(&v, rows, sizeof v);
    size_t cap = *n;
    int r = SQLITE_ERROR, bad = 0;
    while (st && !bad && (r = sqlite3_step(st)) == SQLITE_ROW) {
        char *more = rd_grow(v, &cap, *n, size);
        if (!more) {
            bad = -1;
            break;
        }
        v = more;
        memset(v + *n * size, 0, size);
        bad = take(st, v + *n * size, ctx);
        ++*n;
    }
    memcpy(rows, &v, sizeof v);
    return rd_end(log, st, bad < 0 ? SQLITE_ROW : bad ? SQLITE_ERROR : r, e);
}

int rd_end(bp_runlog *log, sqlite3_stmt *st, int r, bp_err *e) {
    int rc = r == SQLITE_DONE ? 0 : r == SQLITE_ROW ? rd_oom(e) : rd_fail(log, e);
    sqlite3_finalize(st);
    return rc;
}

void bp_runlog_strings_free(char **v, size_t n) {
    for (size_t k = 0; v && k < n; k++) free(v[k]);
    free(v);
}

/* ------------------------------------------------------------------------ */
/* backprop runs                                                             */

/* Binds text as the number it spells, if it spells one (so that lr=0.1
 * matches the REAL 0.1), as 1/0 for true/false, else as text (a copy). */
static void bind_value(sqlite3_stmt *st, int k, const char *s) {
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (*s && !*end && !errno) {
        sqlite3_bind_int64(st, k, i);
        return;
    }
    double d = strtod(s, &end);
    if (*s && !*end) sqlite3_bind_double(st, k, d);
    else if (strcmp(s, "true") == 0) sqlite3_bind_int(st, k, 1);
    else if (strcmp(s, "false") == 0) sqlite3_bind_int(st, k, 0);
    else sqlite3_bind_text(st, k, s, -1, SQLITE_TRANSIENT);
}

static int known_op(const char *op) {
    static const char *const ops[] = {"=", "==", "!=", "<", "<=", ">", ">="};
    for (size_t j = 0; j < sizeof ops / sizeof *ops; j++)
        if (strcmp(op, ops[j]) == 0) return 1;
    return 0;
}

int rd_params_where(char *sql, size_t cap, size_t *n, const char *run,
                    const bp_runs_param *p, int np, bp_err *e) {
    for (int k = 0; k < np; k++) {
        if (!known_op(p[k].op)) return bp_err_set(e, "unknown comparison '%s'", p[k].op);
        if (*n < cap)
            *n += (size_t)snprintf(sql + *n, cap - *n,
                                   " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = %s"
                                   " AND p.key = ? AND p.value %s ?)",
                                   run, p[k].op);
    }
    return *n < cap ? 0 : bp_err_set(e, "too many conditions");
}

int rd_params_bind(sqlite3_stmt *st, int b, const bp_runs_param *p, int np) {
    for (int k = 0; k < np; k++) {
        sqlite3_bind_text(st, b++, p[k].key, -1, SQLITE_TRANSIENT);
        bind_value(st, b++, p[k].value);
    }
    return b;
}

/* The statement of bp_runlog_runs, its filter bound; NULL on failure. */
static sqlite3_stmt *runs_stmt(bp_runlog *log, const bp_runs_filter *f, bp_err *e) {
    char sql[4096];
    size_t n = (size_t)snprintf(
        sql, sizeof sql,
        "SELECT s.id, s.name, s.status, s.params, s.final_loss, s.best_loss, s.steps,"
        " s.duration_s, (SELECT ms.last_value IS NULL FROM metric_summary ms"
        " WHERE ms.run_id = s.id AND ms.name_id = (SELECT id FROM metric_names"
        " WHERE name = 'loss')) FROM run_summary s WHERE 1");
    if (f->n_status) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND s.status IN (?");
        for (int k = 1; k < f->n_status; k++)
            n += (size_t)snprintf(sql + n, sizeof sql - n, ", ?");
        n += (size_t)snprintf(sql + n, sizeof sql - n, ")");
    }
    if (f->name_glob)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND s.name GLOB ?");
    if (rd_params_where(sql, sizeof sql, &n, "s.id", f->params, f->n_params, e)) return NULL;
    if (n + 64 >= sizeof sql) {
        bp_err_set(e, "too many conditions");
        return NULL;
    }
    snprintf(sql + n, sizeof sql - n, " ORDER BY s.id DESC LIMIT %lld",
             (long long)f->limit);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log), sql, -1, &st, NULL) != SQLITE_OK) {
        rd_fail(log, e);
        return NULL;
    }
    int b = 1;
    for (int k = 0; k < f->n_status; k++)
        sqlite3_bind_text(st, b++, f->status[k], -1, SQLITE_STATIC);
    if (f->name_glob) sqlite3_bind_text(st, b++, f->name_glob, -1, SQLITE_STATIC);
    rd_params_bind(st, b, f->params, f->n_params);
    return st;
}

static int run_row(sqlite3_stmt *st, void *row, void *ctx) {
    bp_run_row *r = row;
    (void)ctx;
    r->id = sqlite3_column_int64(st, 0);
    r->final_nan = sqlite3_column_int(st, 8);
    return rd_text(st, 1, &r->name) || rd_text(st, 2, &r->status) ||
                   rd_text(st, 3, &r->params) || rd_value(st, 4, &r->final_loss) ||
                   rd_value(st, 5, &r->best_loss) || rd_value(st, 6, &r->steps) ||
                   rd_value(st, 7, &r->duration_s)
               ? -1
               : 0;
}

int bp_runlog_runs(bp_runlog *log, const bp_runs_filter *f, bp_run_row **rows, size_t *n,
                   bp_err *e) {
    *rows = NULL, *n = 0;
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    sqlite3_stmt *st = runs_stmt(log, f, e);
    int rc = st ? rd_rows(log, st, rows, n, sizeof **rows, run_row, NULL, e) : -1;
    bp_runlog_unlock(log);
    if (rc) bp_run_rows_free(*rows, *n), *rows = NULL, *n = 0;
    return rc;
}

void bp_run_rows_free(bp_run_row *rows, size_t n) {
    for (size_t k = 0; rows && k < n; k++) {
        free(rows[k].name);
        free(rows[k].status);
        free(rows[k].params);
    }
    free(rows);
}

/* ------------------------------------------------------------------------ */
/* A plot's label and a run's metric names                                   */

/* A row's first column as a string (rd_rows' take). */
static int string_row(sqlite3_stmt *st, void *row, void *ctx) {
    (void)ctx;
    return rd_text(st, 0, (char **)row) ? -1 : 0;
}

int bp_runlog_run_label(bp_runlog *log, int64_t run, bp_run_label *l, bp_err *e) {
    memset(l, 0, sizeof *l);
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    int rc = -1, r;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log),
                           "SELECT name, status FROM runs WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_int64(st, 1, run);
    if ((r = sqlite3_step(st)) == SQLITE_DONE) {
        bp_err_set(e, "%s: no run %lld", bp_runlog_path(log), (long long)run);
        goto out;
    }
    if (r != SQLITE_ROW) goto sqlerr;
    if (rd_text(st, 0, &l->name) || rd_text(st, 1, &l->status)) {
        rd_oom(e);
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* As run_summary spells them (schema/views.sql). */
    if (sqlite3_prepare_v2(
            bp_runlog_sqlite(log),
            "SELECT key || '=' || CASE WHEN type = 'bool' THEN CASE WHEN"
            " value THEN 'true' ELSE 'false' END ELSE coalesce(value, 'nan')"
            " END FROM params WHERE run_id = ? ORDER BY key",
            -1, &st, NULL) == SQLITE_OK)
        sqlite3_bind_int64(st, 1, run);
    rc = rd_rows(log, st, &l->params, &l->n_params, sizeof *l->params, string_row, NULL,
                 e);
    st = NULL;
    goto out;
sqlerr:
    rd_fail(log, e);
out:
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    if (rc) bp_run_label_free(l);
    return rc;
}

void bp_run_label_free(bp_run_label *l) {
    if (!l) return;
    free(l->name);
    free(l->status);
    bp_runlog_strings_free(l->params, l->n_params);
    memset(l, 0, sizeof *l);
}

int bp_runlog_metric_names(bp_runlog *log, int64_t run, char ***names, size_t *n,
                           bp_err *e) {
    *names = NULL, *n = 0;
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log),
                           "SELECT DISTINCT name FROM metrics_view WHERE run_id = ?"
                           " ORDER BY name",
                           -1, &st, NULL) == SQLITE_OK)
        sqlite3_bind_int64(st, 1, run);
    int rc = rd_rows(log, st, names, n, sizeof **names, string_row, NULL, e);
    bp_runlog_unlock(log);
    if (rc) bp_runlog_strings_free(*names, *n), *names = NULL, *n = 0;
    return rc;
}

int bp_runlog_metric_unit_get(bp_runlog *log, int64_t run, const char *name,
                              bp_metric_unit *unit, bp_err *e) {
    *unit = BP_UNIT_STEP;
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(bp_runlog_sqlite(log),
                               "SELECT u.unit = 'epoch' FROM metric_units u JOIN"
                               " metric_names n ON n.id = u.name_id"
                               " WHERE u.run_id = ? AND n.name = ?",
                               -1, &st, NULL);
    if (r == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        r = sqlite3_step(st);
    }
    if (r == SQLITE_ROW && sqlite3_column_int(st, 0)) *unit = BP_UNIT_EPOCH;
    int rc = r == SQLITE_ROW || r == SQLITE_DONE ? 0 : rd_fail(log, e);
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    return rc;
}

int bp_runlog_epoch_ends(bp_runlog *log, int64_t run, int64_t **epochs, int64_t **steps,
                         size_t *n, bp_err *e) {
    *epochs = *steps = NULL, *n = 0;
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int r = sqlite3_prepare_v2(bp_runlog_sqlite(log),
                               "SELECT epoch, step FROM epochs WHERE run_id = ? ORDER BY epoch",
                               -1, &st, NULL);
    if (r == SQLITE_OK) sqlite3_bind_int64(st, 1, run);
    while (r == SQLITE_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            int64_t *a = realloc(*epochs, cap * sizeof **epochs);
            if (a) *epochs = a;
            int64_t *b = a ? realloc(*steps, cap * sizeof **steps) : NULL;
            if (!b) {
                r = SQLITE_NOMEM;
                break;
            }
            *steps = b;
        }
        (*epochs)[*n] = sqlite3_column_int64(st, 0);
        (*steps)[(*n)++] = sqlite3_column_int64(st, 1);
        r = SQLITE_OK;
    }
    int rc = r == SQLITE_DONE ? 0 : r == SQLITE_NOMEM ? bp_err_set(e, "out of memory")
                                                      : rd_fail(log, e);
    sqlite3_finalize(st);
    bp_runlog_unlock(log);
    if (rc) {
        free(*epochs), free(*steps);
        *epochs = *steps = NULL, *n = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* backprop export                                                           */

/* 0 when run exists; -1 with "PATH: no run N" or SQLite's message. */
static int run_exists(bp_runlog *log, int64_t run, bp_err *e) {
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(bp_runlog_sqlite(log), "SELECT 1 FROM runs WHERE id = ?",
                               -1, &st, NULL);
    if (r == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run);
        r = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 0;
    if (r == SQLITE_DONE)
        return bp_err_set(e, "%s: no run %lld", bp_runlog_path(log), (long long)run);
    return rd_fail(log, e);
}

/* The run's metrics: their ids into *ids and names into *names, by name. */
static int export_columns(bp_runlog *log, int64_t run, int64_t **ids, char ***names,
                          size_t *n, bp_err *e) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0, cap_ids = 0;
    int r;
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log),
                           "SELECT n.id, n.name FROM metric_names n WHERE n.id IN"
                           " (SELECT DISTINCT name_id FROM metrics WHERE run_id = ?)"
                           " ORDER BY n.name",
                           -1, &st, NULL) != SQLITE_OK)
        return rd_fail(log, e);
    sqlite3_bind_int64(st, 1, run);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *more_ids = rd_grow(*ids, &cap_ids, *n, sizeof **ids);
        if (more_ids) *ids = more_ids;
        char **more = more_ids ? rd_grow(*names, &cap, *n, sizeof **names) : NULL;
        if (!more) break;
        *names = more;
        (*ids)[*n] = sqlite3_column_int64(st, 0);
        if (rd_text(st, 1, &(*names)[*n]) || !(*names)[*n]) break;
        ++*n;
    }
    return rd_end(log, st, r, e);
}

/* The rows of a run's metrics in export's order, each with the key of its
 * row: whether it is an epoch's, and its step or epoch (m.step); `at` the
 * step the row sorts at (an epoch's end, NULL when unknown). */
#define EXPORT_SQL                                                                     \
    "SELECT is_epoch, m.step, m.name_id, m.value, CASE WHEN is_epoch THEN"             \
    " (SELECT x.step FROM epochs x WHERE x.run_id = m.run_id AND x.epoch = m.step)"    \
    " ELSE m.step END AS at FROM (SELECT *, coalesce((SELECT u.unit = 'epoch' FROM"    \
    " metric_units u WHERE u.run_id = metrics.run_id AND u.name_id = metrics.name_id)," \
    " 0) AS is_epoch FROM metrics WHERE run_id = ?) m"                                 \
    " ORDER BY at IS NULL, at, is_epoch, m.step, m.name_id"

/* Streams the rows: one per step or epoch, its cells gathered until the
 * key changes. */
static int export_steps(bp_runlog *log, int64_t run, const int64_t *ids, size_t ncol,
                        const bp_export_sink *sink, bp_err *e) {
    double *values = calloc(ncol ? ncol : 1, sizeof *values);
    unsigned char *logged = calloc(ncol ? ncol : 1, 1);
    sqlite3_stmt *st = NULL;
    int rc = -1, r;
    if (!values || !logged) {
        rd_oom(e);
        goto out;
    }
    if (sqlite3_prepare_v2(bp_runlog_sqlite(log), EXPORT_SQL, -1, &st, NULL) !=
        SQLITE_OK) {
        rd_fail(log, e);
        goto out;
    }
    sqlite3_bind_int64(st, 1, run);
    bp_export_at at = {0};
    int have = 0;
    for (;;) {
        r = sqlite3_step(st);
        int epoch = r == SQLITE_ROW && sqlite3_column_int(st, 0);
        int64_t next = r == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
        if (have && (r != SQLITE_ROW || epoch != at.has_epoch ||
                     next != (epoch ? at.epoch : at.step))) {
            if ((rc = sink->row(sink->ctx, &at, ncol, values, logged))) goto out;
            memset(logged, 0, ncol);
            have = 0;
        }
        if (r != SQLITE_ROW) break;
        if (!have) {
            at.has_epoch = epoch;
            at.epoch = epoch ? next : 0;
            at.has_step = sqlite3_column_type(st, 4) != SQLITE_NULL;
            at.step = sqlite3_column_int64(st, 4);
            have = 1;
        }
        int64_t nid = sqlite3_column_int64(st, 2);
        size_t c = 0;
        while (c < ncol && ids[c] != nid) c++;
        if (c == ncol) continue;
        values[c] = sqlite3_column_type(st, 3) == SQLITE_NULL
                        ? NAN
                        : sqlite3_column_double(st, 3);
        logged[c] = 1;
    }
    rc = r == SQLITE_DONE ? 0 : rd_fail(log, e);
out:
    sqlite3_finalize(st);
    free(values);
    free(logged);
    return rc;
}

int bp_runlog_export_rows(bp_runlog *log, int64_t run, const bp_export_sink *sink,
                          bp_err *e) {
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    int64_t *ids = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc = run_exists(log, run, e);
    if (!rc) rc = export_columns(log, run, &ids, &names, &n, e);
    if (!rc) rc = sink->header(sink->ctx, n, (const char *const *)names);
    if (!rc) rc = export_steps(log, run, ids, n, sink, e);
    bp_runlog_unlock(log);
    bp_runlog_strings_free(names, n);
    free(ids);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* backprop rm                                                               */

/* Deletes one run, after checking that it exists and is not running. */
static int rm_one(bp_runlog *log, sqlite3_stmt *find, sqlite3_stmt *del, int64_t id,
                  int force, bp_err *e) {
    sqlite3_bind_int64(find, 1, id);
    int r = sqlite3_step(find);
    int running = r == SQLITE_ROW &&
                  strcmp((const char *)sqlite3_column_text(find, 0), "running") == 0;
    sqlite3_reset(find);
    if (r == SQLITE_DONE)
        return bp_err_set(e, "%s: no run %lld; nothing deleted", bp_runlog_path(log),
                          (long long)id);
    if (r != SQLITE_ROW) return rd_fail(log, e);
    if (running && !force)
        return bp_err_set(
            e,
            "run %lld is still running (rm --force deletes it anyway); nothing deleted",
            (long long)id);
    sqlite3_bind_int64(del, 1, id);
    r = sqlite3_step(del);
    sqlite3_reset(del);
    return r == SQLITE_DONE ? 0 : rd_fail(log, e);
}

int bp_runlog_rm(bp_runlog *log, const int64_t *ids, size_t n, int force, bp_err *e) {
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    sqlite3_stmt *find = NULL, *del = NULL;
    int rc = -1;
    if (sqlite3_exec(bp_runlog_sqlite(log), "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(bp_runlog_sqlite(log), "SELECT status FROM runs WHERE id = ?",
                           -1, &find, NULL) ||
        sqlite3_prepare_v2(bp_runlog_sqlite(log), "DELETE FROM runs WHERE id = ?", -1,
                           &del, NULL)) {
        rd_fail(log, e);
        goto out;
    }
    for (size_t k = 0; k < n; k++)
        if (rm_one(log, find, del, ids[k], force, e)) goto out;
    /* Scripts no run refers to any more go too. */
    if (sqlite3_exec(bp_runlog_sqlite(log),
                     "DELETE FROM scripts WHERE id NOT IN"
                     " (SELECT script_id FROM runs WHERE script_id IS NOT NULL);"
                     "COMMIT",
                     NULL, NULL, NULL) != SQLITE_OK) {
        rd_fail(log, e);
        goto out;
    }
    rc = 0;
out:
    rl_rollback(log);
    sqlite3_finalize(find);
    sqlite3_finalize(del);
    bp_runlog_unlock(log);
    return rc;
}
