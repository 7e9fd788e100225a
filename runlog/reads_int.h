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

#endif
