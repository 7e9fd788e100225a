/* reads_dash_sql.c: the dashboard's SQL box (bp_dash.h, bp_dash_sql): the
 * user's query run by bp_runlog_query, which opens its own read-only
 * connection with an authorizer that refuses whatever is not reading and
 * a progress handler that stops it after a time, its rows written as JSON.
 *
 * The rows beyond the cap are counted, not kept, so a query of a million
 * rows answers with the first ones and how many there were. */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <string.h>

#include "bp_dash.h"
#include "reads_int.h"

typedef struct sql_sink {
    rd_json cols, rows; /* of the statement being read */
    size_t count, max_rows;
} sql_sink;

static int sql_begin(void *ctx, int ncol, const char *const *names) {
    sql_sink *s = ctx;
    free(s->cols.s), free(s->rows.s);
    s->cols = (rd_json){0}, s->rows = (rd_json){0}, s->count = 0;
    for (int c = 0; c < ncol; c++) {
        rd_json_put(&s->cols, "%s", c ? "," : "");
        rd_json_str(&s->cols, names[c]);
    }
    return 0;
}

static int sql_row(void *ctx, int ncol, const bp_runlog_value *values) {
    sql_sink *s = ctx;
    if (s->count++ >= s->max_rows) return 0;
    rd_json_put(&s->rows, "%s[", s->count > 1 ? "," : "");
    for (int c = 0; c < ncol; c++) {
        rd_json_put(&s->rows, "%s", c ? "," : "");
        rd_json_value(&s->rows, &values[c]);
    }
    rd_json_put(&s->rows, "]");
    return 0;
}

static void sql_end(void *ctx, int ok) { (void)ctx, (void)ok; }

int bp_dash_sql(const char *path, const char *sql, double timeout_s, size_t max_rows,
                char **json, size_t *len, bp_err *e) {
    sql_sink s = {.max_rows = max_rows};
    bp_query_sink sink = {sql_begin, sql_row, sql_end, &s};
    bp_err qe = {""};
    int rc = bp_runlog_query(path, sql, timeout_s, &sink, &qe);
    rd_json b = {0};
    rd_json_put(&b, "{\"columns\":[%s],\"rows\":[%s],\"count\":%zu,\"capped\":%s,",
                s.cols.s ? s.cols.s : "", s.rows.s ? s.rows.s : "", s.count,
                s.count > max_rows ? "true" : "false");
    rd_json_put(&b, "\"timeout\":%s,\"error\":", rc == -2 ? "true" : "false");
    if (rc) rd_json_str(&b, qe.msg);
    else rd_json_put(&b, "null");
    rd_json_put(&b, "}");
    b.oom |= s.cols.oom | s.rows.oom;
    free(s.cols.s), free(s.rows.s);
    return rd_json_finish(&b, json, len, e);
}
