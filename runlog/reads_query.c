/* reads_query.c: bp_runlog_query, `backprop query`: the one read whose SQL
 * is the user's.
 *
 * That SQL is untrusted: it may come from a shared notebook, a pasted
 * recipe, later a dashboard's SQL box. It runs on a connection of its own,
 * set up by query_open alone, so that one function is the whole of what
 * such SQL may do:
 *  - SQLite keeps it read-only (SQLITE_OPEN_READONLY and PRAGMA query_only,
 *    as bp_runlog_open makes a read-only log), and the folder is left as
 *    it was (BP_RUNLOG_UNTOUCHED: no -wal or -shm file made beside it);
 *  - defensive mode, no extension loading, no trusted schema, and the FTS3
 *    tokenizer's pointer interface off (fts3_tokenizer() takes and gives
 *    function addresses as blobs: with it, SQL can jump anywhere);
 *  - an authorizer that allows reading and SQL's functions, and refuses
 *    everything else by name: writes, ATTACH, transactions, PRAGMAs other
 *    than those that only report, load_extension() and fts3_tokenizer();
 *    a statement that would still write (VACUUM INTO, which the authorizer
 *    never sees) is refused before its first step, so it creates no file;
 *  - a progress handler that stops the SQL once it has run for its time
 *    limit: the time spent in SQLite only, not the time the caller takes
 *    to print rows (a reader paging through a result is not a runaway).
 * Rows are streamed to the caller's callbacks as typed values pointing
 * into SQLite's memory, so that a large result is never held whole. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_util.h"
#include "runlog_int.h"

/* What the connection's callbacks share with the code running the SQL. */
typedef struct guard {
    double limit;   /* seconds the SQL may run, 0 for no limit */
    double spent;   /* seconds spent in SQLite before the current step */
    double started; /* bp_clock() when the current step began */
    int timed_out;
    char why[200]; /* why the authorizer refused, "" if it did not */
    int why_weak;  /* why only names the schema table */
} guard;

/* PRAGMAs that only report; the second list may be given an argument,
 * which names what to report on (or, for the checks, how much). */
static const char *const report_pragmas[] = {
    "application_id", "collation_list", "compile_options", "data_version",
    "database_list",  "encoding",       "foreign_keys",    "freelist_count",
    "function_list",  "module_list",    "page_count",      "page_size",
    "pragma_list",    "query_only",     "schema_version",  "user_version"};
static const char *const report_on_pragmas[] = {
    "foreign_key_check", "foreign_key_list", "index_info", "index_list", "index_xinfo",
    "integrity_check",   "quick_check",      "table_info", "table_list", "table_xinfo"};

/* Functions that reach outside the database: loading code, and reading or
 * setting the addresses of tokenizers. */
static const char *const refused_functions[] = {"load_extension", "fts3_tokenizer"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Denies an action, msg becoming the query's error; the first reason
 * wins. A weak one (an insert into the schema table, which is how SQLite
 * first sees a CREATE) is replaced by the statement's first word. */
static int deny(guard *g, int weak, const char *msg) {
    if (!g->why[0] && !g->why_weak) {
        snprintf(g->why, sizeof g->why, "%s", msg);
        g->why_weak = weak;
    }
    return SQLITE_DENY;
}

/* Denies what fmt names: "WHAT is not allowed: a query only reads". */
static int refuse(guard *g, const char *fmt, ...) {
    char what[160], msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s is not allowed: a query only reads", what);
    return deny(g, 0, msg);
}

/* The statement an authorizer action stands for, as a user would write it
 * ("DELETE FROM"); NULL for actions without an object name. */
static const char *action_words(int action) {
    switch (action) {
        case SQLITE_INSERT: return "INSERT INTO";
        case SQLITE_DELETE: return "DELETE FROM";
        case SQLITE_UPDATE: return "UPDATE";
        case SQLITE_CREATE_INDEX:
        case SQLITE_CREATE_TEMP_INDEX: return "CREATE INDEX";
        case SQLITE_CREATE_TABLE:
        case SQLITE_CREATE_TEMP_TABLE: return "CREATE TABLE";
        case SQLITE_CREATE_TRIGGER:
        case SQLITE_CREATE_TEMP_TRIGGER: return "CREATE TRIGGER";
        case SQLITE_CREATE_VIEW:
        case SQLITE_CREATE_TEMP_VIEW: return "CREATE VIEW";
        case SQLITE_CREATE_VTABLE: return "CREATE VIRTUAL TABLE";
        case SQLITE_DROP_INDEX:
        case SQLITE_DROP_TEMP_INDEX: return "DROP INDEX";
        case SQLITE_DROP_TABLE:
        case SQLITE_DROP_TEMP_TABLE: return "DROP TABLE";
        case SQLITE_DROP_TRIGGER:
        case SQLITE_DROP_TEMP_TRIGGER: return "DROP TRIGGER";
        case SQLITE_DROP_VIEW:
        case SQLITE_DROP_TEMP_VIEW: return "DROP VIEW";
        case SQLITE_DROP_VTABLE: return "DROP VIRTUAL TABLE";
        default: return NULL;
    }
}

static int authorize_pragma(guard *g, const char *name, const char *value) {
    if (rl_one_of(name, report_on_pragmas, COUNT(report_on_pragmas)) ||
        (!value && rl_one_of(name, report_pragmas, COUNT(report_pragmas))))
        return SQLITE_OK;
    return value ? refuse(g, "PRAGMA %s = %s", name, value)
                 : refuse(g, "PRAGMA %s", name);
}

/* The authorizer: a and b are the action's arguments (sqlite3_set_authorizer). */
static int authorize(void *ctx, int action, const char *a, const char *b, const char *db,
                     const char *view) {
    (void)db, (void)view;
    guard *g = ctx;
    const char *words = action_words(action);
    int schema = a && (!strcmp(a, "sqlite_master") || !strcmp(a, "sqlite_temp_master"));
    /* CREATE and DROP first insert into or delete from the schema table:
     * the statement's first word says better what was refused. */
    if (schema && (action == SQLITE_INSERT || action == SQLITE_DELETE))
        return deny(g, 1, "");
    switch (action) {
        case SQLITE_SELECT:
        case SQLITE_READ:
        case SQLITE_RECURSIVE: return SQLITE_OK;
        case SQLITE_FUNCTION: {
            char msg[120];
            if (!rl_one_of(b, refused_functions, COUNT(refused_functions)))
                return SQLITE_OK;
            snprintf(msg, sizeof msg, "the function %s() is not allowed in a query", b);
            return deny(g, 0, msg);
        }
        case SQLITE_PRAGMA: return authorize_pragma(g, a, b);
        case SQLITE_UPDATE:
            /* SQLite itself, declaring a table-valued function (json_each,
             * pragma_table_info, bp_weights): the schema table cannot be
             * written here in any case (defensive mode, read-only file). */
            return schema ? SQLITE_OK : refuse(g, "UPDATE %s", a);
        case SQLITE_TRANSACTION: return refuse(g, "%s", a);
        case SQLITE_SAVEPOINT: return refuse(g, "SAVEPOINT");
        case SQLITE_ATTACH: return refuse(g, "ATTACH");
        case SQLITE_DETACH: return refuse(g, "DETACH");
        case SQLITE_ALTER_TABLE: return refuse(g, "ALTER TABLE %s", b);
        case SQLITE_REINDEX: return refuse(g, "REINDEX");
        case SQLITE_ANALYZE: return refuse(g, "ANALYZE");
        default:
            return words ? refuse(g, "%s %s", words, a) : refuse(g, "action %d", action);
    }
}

/* Stops the SQL once it has spent g->limit seconds in SQLite. */
static int progress(void *ctx) {
    guard *g = ctx;
    if (g->limit > 0 && g->spent + (bp_clock() - g->started) > g->limit) {
        g->timed_out = 1;
        return 1;
    }
    return 0;
}

/* The connection for SQL someone else wrote, on the database at path, with
 * g (which must outlive it) watching it; NULL with the reason in e. Every
 * setting that makes such SQL safe to run is here, and only here. */
static bp_runlog *query_open(const char *path, guard *g, bp_err *e) {
    bp_runlog *log = bp_runlog_open(path, BP_RUNLOG_UNTOUCHED, e);
    if (!log) return NULL;
    sqlite3 *db = bp_runlog_sqlite(log);
    int off = 0, on = 0;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || !on ||
        sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, &off) !=
            SQLITE_OK ||
        off ||
        sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &off) !=
            SQLITE_OK ||
        off ||
        sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &off) != SQLITE_OK ||
        off) {
        bp_err_set(e, "%s: cannot make the query connection safe", path);
        bp_runlog_close(log);
        return NULL;
    }
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_set_authorizer(db, authorize, g);
    sqlite3_progress_handler(db, 1000, progress, g);
    return log;
}

/* Column c of st's current row, pointing into st. */
static void column_value(sqlite3_stmt *st, int c, bp_runlog_value *v) {
    v->i = 0, v->r = 0, v->s = NULL, v->n = 0;
    switch (sqlite3_column_type(st, c)) {
        case SQLITE_NULL: v->type = BP_RUNLOG_NULL; break;
        case SQLITE_INTEGER:
            v->type = BP_RUNLOG_INT;
            v->i = sqlite3_column_int64(st, c);
            v->r = (double)v->i;
            break;
        case SQLITE_FLOAT:
            v->type = BP_RUNLOG_REAL;
            v->r = sqlite3_column_double(st, c);
            break;
        case SQLITE_BLOB:
            v->type = BP_RUNLOG_BLOB;
            v->s = sqlite3_column_blob(st, c);
            v->n = (size_t)sqlite3_column_bytes(st, c);
            break;
        default:
            v->type = BP_RUNLOG_TEXT;
            v->s = (const char *)sqlite3_column_text(st, c);
            v->n = (size_t)sqlite3_column_bytes(st, c);
    }
}

/* One step of st, its time added to what the SQL has spent. */
static int step(guard *g, sqlite3_stmt *st) {
    g->started = bp_clock();
    int r = sqlite3_step(st);
    g->spent += bp_clock() - g->started;
    return r;
}

/* Why the SQL failed, into e: its time limit, what the authorizer refused,
 * or SQLite's message. -2 for the time limit, else -1. */
static int failure(const guard *g, sqlite3 *db, bp_err *e) {
    if (g->timed_out) {
        bp_err_set(e, "time limit of %gs reached", g->limit);
        return -2;
    }
    if (g->why[0]) return bp_err_set(e, "%s", g->why);
    return bp_err_set(e, "%s", sqlite3_errmsg(db));
}

/* The first word of sql, upper-cased, into buf: what a user calls the
 * statement ("VACUUM", "CREATE"). */
static const char *first_word(const char *p, char *buf, size_t cap) {
    size_t n = 0;
    for (;;) {
        p += strspn(p, " \t\r\n\f");
        if (p[0] == '-' && p[1] == '-') p += strcspn(p, "\n");
        else if (p[0] == '/' && p[1] == '*' && strstr(p + 2, "*/"))
            p = strstr(p + 2, "*/") + 2;
        else break;
    }
    while (n + 1 < cap && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        buf[n++] = (char)(*p >= 'a' ? *p++ - 'a' + 'A' : *p++);
    buf[n] = '\0';
    return buf;
}

/* Runs one statement, its rows to the sink. 0, -1 or -2 as failure says,
 * or a callback's nonzero value. */
static int run_statement(guard *g, sqlite3 *db, sqlite3_stmt *st,
                         const bp_query_sink *sink, bp_err *e) {
    int ncol = sqlite3_column_count(st), r, rc = 0;
    if (ncol == 0) {
        while ((r = step(g, st)) == SQLITE_ROW) {}
        return r == SQLITE_DONE ? 0 : failure(g, db, e);
    }
    const char **names = malloc((size_t)ncol * sizeof *names);
    bp_runlog_value *values = malloc((size_t)ncol * sizeof *values);
    if (!names || !values) {
        free(names), free(values);
        return bp_err_set(e, "out of memory");
    }
    for (int c = 0; c < ncol; c++) names[c] = sqlite3_column_name(st, c);
    if ((rc = sink->begin(sink->ctx, ncol, names))) goto out;
    while ((r = step(g, st)) == SQLITE_ROW) {
        for (int c = 0; c < ncol; c++) column_value(st, c, &values[c]);
        if ((rc = sink->row(sink->ctx, ncol, values))) break;
    }
    if (!rc) {
        sink->end(sink->ctx, r == SQLITE_DONE);
        if (r != SQLITE_DONE) rc = failure(g, db, e);
    }
out:
    free(names);
    free(values);
    return rc;
}

/* Prepares the next statement of *rest into *st (NULL when only spaces or
 * comments are left), refusing one that would write. */
static int prepare(guard *g, sqlite3 *db, const char **rest, sqlite3_stmt **st,
                   bp_err *e) {
    const char *sql = *rest;
    char word[32];
    g->why[0] = '\0', g->why_weak = 0;
    g->started = bp_clock();
    int r = sqlite3_prepare_v2(db, sql, -1, st, rest);
    g->spent += bp_clock() - g->started;
    int writes = r == SQLITE_OK && *st && !sqlite3_stmt_readonly(*st);
    if (writes || (r != SQLITE_OK && g->why_weak))
        return bp_err_set(e, "%s is not allowed: a query only reads",
                          first_word(sql, word, sizeof word));
    return r == SQLITE_OK ? 0 : failure(g, db, e);
}

int bp_runlog_query(const char *path, const char *sql, double timeout_s,
                    const bp_query_sink *sink, bp_err *e) {
    guard g = {.limit = timeout_s > 0 ? timeout_s : 0};
    bp_runlog *log = query_open(path, &g, e);
    if (!log) return -1;
    bp_runlog_lock(log);
    sqlite3 *db = bp_runlog_sqlite(log);
    int rc = 0;
    const char *rest = sql;
    while (rc == 0 && *rest) {
        sqlite3_stmt *st = NULL;
        rc = prepare(&g, db, &rest, &st, e);
        if (!rc && st) rc = run_statement(&g, db, st, sink, e);
        sqlite3_finalize(st);
    }
    bp_runlog_unlock(log);
    if (rc == 0 && bp_runlog_changed(log))
        rc = bp_err_set(e,
                        "%s was written while the query read it (it was read without"
                        " locks, to leave no -wal or -shm file): run the query again",
                        path);
    bp_runlog_close(log);
    return rc;
}
