/* cli_int.h: what the database commands' files (cli/runs.c, show.c,
 * query.c, rm.c, export.c, sweepshow.c) share: their arguments' common part
 * (--db), opening the run log, and the formatting every one of them prints
 * with: aligned tables, numbers readably or exactly, CSV and JSON text.
 *
 * Private to cli/; the commands themselves are in bp_cli.h. */
#ifndef CLI_INT_H
#define CLI_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bp_runlog.h"

/* Removes --db PATH / --db=PATH from argv (*argc shrinks), returning the
 * database to use (bp_runlog_default_path). A --db without its path sets
 * *bad to 1, after saying so on err. */
const char *cli_take_db(const char *db, int *argc, char **argv, FILE *err, int *bad);

/* bp_runlog_open, its failure said on err; NULL then. */
bp_runlog *cli_open_log(const char *path, int flags, FILE *err);

/* v exactly: the shortest of %.15g, %.16g, %.17g that reads back as v, so
 * that 0.1 stays "0.1"; "nan", "inf", "-inf". For CSV and JSON. */
void cli_fmt_exact(char *buf, size_t cap, double v);

/* A time in seconds since 1970 as UTC text to the millisecond: "2024-05-01
 * 12:00:00.250 UTC", or with iso "2024-05-01T12:00:00.250Z". */
void cli_fmt_utc(char *buf, size_t cap, double seconds, int iso);

/* The text fields of a run's record as export writes them (export.c), in
 * order: those before the times (late 0), then those after; json_only
 * ones are not in the CSV's comments. A field's value is
 * *(char **)((const char *)header + offset), NULL when the run has none. */
typedef struct cli_run_field {
    const char *key;
    size_t offset;
    int late, json_only;
} cli_run_field;
extern const cli_run_field cli_run_fields[];
extern const int cli_run_nfields;

/* `backprop export ID --json` (export_json.c): run's record, parameters and
 * metrics as one JSON object on out. 0, or -1 with the reason in e. */
int cli_export_json(bp_runlog *log, int64_t run, FILE *out, bp_err *e);

/* v readably (%.6g; "nan", "inf", "-inf"). For tables. */
void cli_fmt_short(char *buf, size_t cap, double v);

/* A value in a cell: "-" (CSV: empty) for NULL, an integer as it is, a
 * real readably (CSV: exactly), text as it is. */
void cli_value_cell(char *buf, size_t cap, const bp_runlog_value *v, int csv);

/* s as one CSV field: quoted (its quotes doubled) when it holds a comma, a
 * quote or a line break; text that a spreadsheet would run as a formula
 * (starting with =, +, -, @, a tab or a carriage return, and not a number
 * such as -0.5) quoted with a ' first: "'=1+2". */
void cli_csv_text(FILE *out, const char *s);

/* s as a JSON string, quotes included. */
void cli_json_text(FILE *out, const char *s);

/* A record's line in `show` and `sweep show`: "  key       value", the key
 * padded to 9 characters; nothing when value is NULL or empty. */
void cli_show_line(FILE *out, const char *key, const char *value);

/* The same for a time as the run log spells it, with its zone added:
 * "  started   2024-05-01 12:00:00 UTC"; nothing when time is NULL. */
void cli_show_time(FILE *out, const char *key, const char *time);

/* An aligned table: every cell is kept until the widths are known. Cells
 * are put row by row, the header first; right[c] aligns column c right
 * (numbers). Widths count characters, not bytes (UTF-8). The cells' text
 * lies end to end in one buffer, so that a table of 10,000 runs costs a few
 * allocations, not one per cell (`runs --all`, issue 20). */
typedef struct cli_table {
    int ncol;
    size_t n, cap;  /* cells, header included */
    size_t *at;     /* cell k's text is text + at[k] */
    size_t *width;  /* and its width */
    char *text;
    size_t used, room;
    unsigned char *right;
} cli_table;

/* 0, or -1 when memory runs out. */
int cli_table_init(cli_table *t, int ncol);

/* Adds a copy of s (NULL: "") as the next cell; -1 when memory runs out. */
int cli_table_put(cli_table *t, const char *s);

/* Cell k's text (valid until the next put). */
const char *cli_table_cell(const cli_table *t, size_t k);

/* Prints the table, every line indented by `indent` spaces. */
void cli_table_print(const cli_table *t, FILE *out, int indent);

/* For a table printed in blocks, as its rows come (`query`): w[c] (ncol
 * entries, zeros at first) grows to the widest cell of column c so far;
 * cells [from, n) are printed padded to w; cells from keep on are freed. */
void cli_table_widths(const cli_table *t, size_t *w);
void cli_table_print_cells(const cli_table *t, FILE *out, int indent, const size_t *w,
                           size_t from);
void cli_table_drop(cli_table *t, size_t keep);

void cli_table_free(cli_table *t);

#endif
