/* ui_api.c: the JSON endpoints of `backprop ui` (ui_int.h, ui_api): a table
 * of paths, each parsing its arguments and calling a read of runlog/
 * (bp_dash.h) on a connection of the pool. The reads make the JSON; this
 * file only checks arguments and turns failures into status codes.
 *
 *   runs?status=&name=&filter=lr<0.05,hidden=4&sort=&desc=1&offset=&limit=
 *   run/ID   run/ID/metric?name=&points=&x=step|time   run/ID/weights?name=&steps=&bins=
 *   run/ID/weight?name=&index=   sweeps   sweep/ID   sql?q= */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "bp_dash.h"
#include "bp_util.h"
#include "cli_int.h"
#include "ui_int.h"

/* The most conditions a runs filter takes. */
#define MAX_FILTER 8

void ui_reply_error(ui_reply *r, unsigned status, const char *msg) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        fputs("{\"error\":", f);
        cli_json_text(f, msg);
        fputs("}", f);
        fclose(f);
    }
    r->status = status, r->type = "application/json", r->body = text,
    r->len = text ? len : 0;
}

/* What a read returned, as the reply: 0 its JSON, 1 a 404, -1 a 500. */
static void from_read(ui_reply *r, int rc, char *json, size_t len, const bp_err *e) {
    if (rc == 0) {
        r->status = 200, r->type = "application/json", r->body = json, r->len = len;
        return;
    }
    ui_reply_error(r, rc == 1 ? 404 : 500, e->msg);
}

/* An integer argument within [lo, hi], or def when absent; -1 after a 400
 * when it is not one. */
static int int_arg(ui_reply *r, const char *name, const char *v, int64_t lo, int64_t hi,
                   int64_t def, int64_t *out) {
    *out = def;
    if (!v || !*v) return 0;
    if (bp_parse_i64(v, lo, hi, out) == 0) return 0;
    char msg[200];
    snprintf(msg, sizeof msg, "%s wants a whole number from %lld to %lld, not '%.40s'",
             name, (long long)lo, (long long)hi, v);
    ui_reply_error(r, 400, msg);
    return -1;
}

/* One condition of a runs filter, its parts copied out. */
typedef struct cond {
    char key[128], op[3], value[256];
} cond;

/* "lr < 0.05, hidden=4" into conditions c and p (p's strings point into
 * c): their count, or -1 with why in msg. */
static int parse_filter(const char *text, cond *c, bp_runs_param *p, char *msg,
                        size_t mcap) {
    int n = 0;
    for (const char *t = text ? text : ""; *t;) {
        size_t len = strcspn(t, ",");
        const char *part = t + strspn(t, " \t"), *end = t + len;
        t = *end ? end + 1 : end;
        if (part >= end) continue;
        if (n == MAX_FILTER)
            return snprintf(msg, mcap, "filter: at most %d conditions", MAX_FILTER), -1;
        size_t k = strcspn(part, "<>=! \t");
        const char *op = part + k + strspn(part + k, " \t");
        size_t m = op < end ? strspn(op, "<>=!") : 0;
        const char *v = op + m + strspn(op + m, " \t");
        size_t vn = v < end ? (size_t)(end - v) : 0;
        while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) vn--;
        if (k == 0 || k >= sizeof c->key || m == 0 || m > 2 || op + m > end || !vn ||
            vn >= sizeof c->value)
            return snprintf(msg, mcap,
                            "filter: '%.*s' is not KEY OP VALUE (OP one of ="
                            " != < <= > >=), as lr < 0.05",
                            (int)(end - part < 60 ? end - part : 60), part),
                   -1;
        snprintf(c[n].key, sizeof c[n].key, "%.*s", (int)k, part);
        snprintf(c[n].op, sizeof c[n].op, "%.*s", (int)m, op);
        snprintf(c[n].value, sizeof c[n].value, "%.*s", (int)vn, v);
        p[n] = (bp_runs_param){c[n].key, c[n].op, c[n].value};
        n++;
    }
    return n;
}

static void api_runs(ui_server *s, const char *rest, ui_arg_fn get, void *ctx,
                     ui_reply *r) {
    (void)rest;
    char msg[200];
    cond c[MAX_FILTER];
    bp_runs_param p[MAX_FILTER];
    int n = parse_filter(get(ctx, "filter"), c, p, msg, sizeof msg);
    if (n < 0) return ui_reply_error(r, 400, msg);
    bp_dash_runs_query q = {.status = get(ctx, "status"),
                            .name = get(ctx, "name"),
                            .params = p,
                            .n_params = n,
                            .sort = get(ctx, "sort")};
    const char *desc = get(ctx, "desc");
    q.descending = desc ? !strcmp(desc, "1") : 1; /* newest (or largest) first */
    if (int_arg(r, "offset", get(ctx, "offset"), 0, INT64_MAX / 2, 0, &q.offset) ||
        int_arg(r, "limit", get(ctx, "limit"), 1, 1000, 50, &q.limit))
        return;
    bp_err e;
    bp_runlog *log = ui_log_take(s, &e);
    if (!log) return ui_reply_error(r, 500, e.msg);
    char *json;
    size_t len;
    int rc = bp_dash_runs(log, &q, &json, &len, &e);
    ui_log_give(s, log);
    /* A bad sort column or comparison is the request's fault. */
    if (rc < 0 && (strstr(e.msg, "unknown sort") || strstr(e.msg, "unknown comparison")))
        return ui_reply_error(r, 400, e.msg);
    from_read(r, rc, json, len, &e);
}

/* run/ID[/metric|/weights|/weight]. */
static void api_run(ui_server *s, const char *rest, ui_arg_fn get, void *ctx,
                    ui_reply *r) {
    char idtext[32];
    size_t k = strcspn(rest, "/");
    snprintf(idtext, sizeof idtext, "%.*s", (int)(k < 31 ? k : 31), rest);
    int64_t id, points, steps, bins, index;
    if (bp_cli_parse_id(idtext, &id)) return ui_reply_error(r, 404, "no such run");
    const char *what = rest[k] ? rest + k + 1 : "";
    const char *name = get(ctx, "name");
    if (!strcmp(what, "metric") && (!name || !*name))
        return ui_reply_error(r, 400, "metric wants ?name=METRIC");
    const char *x = get(ctx, "x");
    if (x && strcmp(x, "step") && strcmp(x, "time"))
        return ui_reply_error(r, 400, "x wants step or time");
    if (int_arg(r, "points", get(ctx, "points"), 2, 100000, 2000, &points) ||
        int_arg(r, "steps", get(ctx, "steps"), 1, 1000, 50, &steps) ||
        int_arg(r, "bins", get(ctx, "bins"), 1, 200, 30, &bins) ||
        int_arg(r, "index", get(ctx, "index"), 0, INT64_MAX / 2, 0, &index))
        return;
    if (*what && strcmp(what, "metric") && strcmp(what, "weights") &&
        strcmp(what, "weight"))
        return ui_reply_error(r, 404, "no such endpoint");
    bp_err e;
    bp_runlog *log = ui_log_take(s, &e);
    if (!log) return ui_reply_error(r, 500, e.msg);
    char *json = NULL;
    size_t len = 0;
    int rc;
    if (!*what) rc = bp_dash_run(log, id, &json, &len, &e);
    else if (!strcmp(what, "metric"))
        rc = bp_dash_metric(log, id, name, (size_t)points, x && !strcmp(x, "time"), &json,
                            &len, &e);
    else if (!strcmp(what, "weights"))
        rc = bp_dash_weights(log, id, name, (int)steps, (int)bins, &json, &len, &e);
    else rc = bp_dash_weight_history(log, id, name, index, &json, &len, &e);
    ui_log_give(s, log);
    from_read(r, rc, json, len, &e);
}

static void api_sweeps(ui_server *s, const char *rest, ui_arg_fn get, void *ctx,
                       ui_reply *r) {
    (void)rest, (void)get, (void)ctx;
    bp_err e;
    bp_runlog *log = ui_log_take(s, &e);
    if (!log) return ui_reply_error(r, 500, e.msg);
    char *json = NULL;
    size_t len = 0;
    int rc = bp_dash_sweeps(log, &json, &len, &e);
    ui_log_give(s, log);
    from_read(r, rc, json, len, &e);
}

static void api_sweep(ui_server *s, const char *rest, ui_arg_fn get, void *ctx,
                      ui_reply *r) {
    (void)get, (void)ctx;
    int64_t id;
    if (bp_cli_parse_id(rest, &id)) return ui_reply_error(r, 404, "no such sweep");
    bp_err e;
    bp_runlog *log = ui_log_take(s, &e);
    if (!log) return ui_reply_error(r, 500, e.msg);
    char *json = NULL;
    size_t len = 0;
    int rc = bp_dash_sweep(log, id, &json, &len, &e);
    ui_log_give(s, log);
    from_read(r, rc, json, len, &e);
}

/* The SQL box: on a connection of its own (bp_dash_sql), not the pool's. */
static void api_sql(ui_server *s, const char *rest, ui_arg_fn get, void *ctx,
                    ui_reply *r) {
    (void)rest;
    const char *q = get(ctx, "q");
    if (!q || !*q) return ui_reply_error(r, 400, "sql wants ?q=QUERY");
    bp_err e;
    char *json = NULL;
    size_t len = 0;
    int rc = bp_dash_sql(s->db, q, (double)s->sql_seconds, UI_SQL_ROWS, &json, &len, &e);
    from_read(r, rc, json, len, &e);
}

typedef void (*api_fn)(ui_server *s, const char *rest, ui_arg_fn get, void *ctx,
                       ui_reply *r);

/* The endpoints: a name ending in '/' takes what follows it. */
static const struct {
    const char *name;
    api_fn fn;
} endpoints[] = {
    {"runs", api_runs},    {"run/", api_run}, {"sweeps", api_sweeps},
    {"sweep/", api_sweep}, {"sql", api_sql},
};

void ui_api(ui_server *s, const char *path, ui_arg_fn get, void *ctx, ui_reply *r) {
    for (size_t k = 0; k < sizeof endpoints / sizeof *endpoints; k++) {
        const char *name = endpoints[k].name;
        size_t n = strlen(name);
        if (name[n - 1] == '/' ? !strncmp(path, name, n) : !strcmp(path, name))
            return endpoints[k].fn(s, path + n, get, ctx, r);
    }
    ui_reply_error(r, 404, "no such endpoint");
}
