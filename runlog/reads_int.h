/* reads_int.h: what the files of the commands' reads (runlog/reads*.c)
 * share: copying a column out of a statement, growing a result array, and
 * the failure every read reports, "PATH: SQLite's message", as the commands
 * printed it when they ran their own SQL.
 *
 * Their own small header, and an rd_ prefix, so that the reads stay apart
 * from the writer's files (db.c, runlog_int.h). */
#ifndef READS_INT_H
#define READS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "bp_err.h"
#include "bp_runlog.h"

/* "PATH: SQLite's message" in e; returns -1. */
int rd_fail(bp_runlog *log, bp_err *e);

/* The tests of parameters of a runs filter (bp_runs_param: key op value,
 * op one of = == != < <= > >=), each appended to sql (n of cap used) as
 * " AND EXISTS (...)" about the run whose id is the SQL `run`, with two
 * parameters (?) each; -1 with "unknown comparison 'OP'" or "too many
 * conditions". _bind binds them from parameter b on, a value as the number
 * it spells if it spells one (so that lr=0.1 matches the REAL 0.1), as 1/0
 * for true/false, else as text; returns the next parameter's number. */
int rd_params_where(char *sql, size_t cap, size_t *n, const char *run,
                    const bp_runs_param *p, int np, bp_err *e);
int rd_params_bind(sqlite3_stmt *st, int b, const bp_runs_param *p, int np);

/* "out of memory" in e; returns -1. */
int rd_oom(bp_err *e);

/* *out = a malloc'd copy of column c's text, NULL for SQL NULL. -1 when
 * memory runs out. */
int rd_text(sqlite3_stmt *st, int c, char **out);

/* *v = column c, its text or blob copied (malloc'd; rd_value_free frees
 * it). -1 when memory runs out. */
int rd_value(sqlite3_stmt *st, int c, bp_runlog_value *v);
void rd_value_free(bp_runlog_value *v);

/* v (holding n elements of `size` bytes, room for *cap) with room for one
 * more: v itself, or v moved as realloc moves it; NULL, v untouched, when
 * memory runs out. */
void *rd_grow(void *v, size_t *cap, size_t n, size_t size);

/* The end of a loop over st's rows that stopped at step result r: 0 for
 * SQLITE_DONE, rd_oom for SQLITE_ROW (a row was left: memory ran out),
 * rd_fail otherwise. Finalizes st. */
int rd_end(bp_runlog *log, sqlite3_stmt *st, int r, bp_err *e);

/* Steps st to its end, each row appended to the array whose address is
 * rows (a T **, *n elements of `size` bytes): the element is zeroed, then
 * take fills it from the row. 0; -1 with rd_oom when memory runs out (or
 * take returns -1), with rd_fail when SQLite fails (or take returns 1).
 * The rows read stay in the array for the caller to free. Finalizes st;
 * a NULL st (its prepare failed) is rd_fail. */
int rd_rows(bp_runlog *log, sqlite3_stmt *st, void *rows, size_t *n, size_t size,
            int (*take)(sqlite3_stmt *st, void *row, void *ctx), void *ctx, bp_err *e);

/* JSON text built in C (reads_json.c), for the dashboard's reads whose
 * answer is not a table SQLite can spell (bp_dash.h): a growing buffer; oom
 * once memory ran out, after which every put does nothing. {0} is empty. */
typedef struct rd_json {
    char *s;
    size_t n, cap;
    int oom;
} rd_json;
void rd_json_put(rd_json *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A number: the shortest of %.15g to %.17g that reads back; null for NaN,
 * "Infinity" and "-Infinity" (strings: JSON has no infinities). */
void rd_json_num(rd_json *b, double v);
/* A string, quoted and escaped. */
void rd_json_str(rd_json *b, const char *s);
/* A value as SQLite held it: a BLOB as its hex digits. */
void rd_json_value(rd_json *b, const bp_runlog_value *v);
/* Hands the text over: 0 with *json (malloc'd) and *len; -1 with "out of
 * memory", the buffer freed, when memory ran out. */
int rd_json_finish(rd_json *b, char **json, size_t *len, bp_err *e);

#endif
