/* runs.c: `backprop runs` (bp_cli.h), the recent runs, one line each.
 *
 * The options become a bp_runs_filter, bp_runlog_runs reads the rows, and
 * this file lays them out as a table: losses readably, a NaN loss as
 * "nan", what a run has not logged as "-". */
#define _XOPEN_SOURCE 700
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "cli_int.h"

enum { MAX_STATUS = 16, MAX_PARAMS = 16 };

/* A --param KEY<OP>VALUE, its key and operator copied out. */
typedef struct param_filter {
    char key[128];
    char op[3];
} param_filter;

typedef struct runs_args {
    const char *status[MAX_STATUS];
    param_filter keys[MAX_PARAMS];
    bp_runs_param params[MAX_PARAMS];
    bp_runs_filter filter;
} runs_args;

static int parse_param_filter(const char *s, param_filter *f, bp_runs_param *p) {
    size_t k = strcspn(s, "<>=!");
    if (k == 0 || k >= sizeof f->key || !s[k]) return -1;
    memcpy(f->key, s, k);
    f->key[k] = '\0';
    size_t n = strspn(s + k, "<>=!");
    static const char *const ops[] = {"=", "==", "!=", "<", "<=", ">", ">="};
    int ok = 0;
    for (size_t j = 0; j < sizeof ops / sizeof *ops; j++)
        ok |= strlen(ops[j]) == n && strncmp(ops[j], s + k, n) == 0;
    if (!ok) return -1;
    memcpy(f->op, s + k, n);
    f->op[n] = '\0';
    p->key = f->key, p->op = f->op, p->value = s + k + n;
    return 0;
}

/* 0 when s is a status a run can have; else 1, naming them on err. */
static int check_status(const char *s, FILE *err) {
    char all[160] = "";
    for (int k = 0; k < BP_RUNLOG_N_STATUSES; k++) {
        if (!strcmp(s, bp_runlog_statuses[k])) return 0;
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", k ? ", " : "",
                 bp_runlog_statuses[k]);
    }
    return bp_cli_fail(err, "runs: no status '%s' (a run's status is one of %s)", s, all);
}

/* The options into a->filter: 0, or 1 after saying what is wrong. */
static int parse_args(runs_args *a, int argc, char **argv, FILE *err) {
    bp_runs_filter *f = &a->filter;
    memset(f, 0, sizeof *f);
    f->status = a->status, f->params = a->params, f->limit = 20;
    for (int k = 0; k < argc; k++) {
        const char *s = argv[k];
        int has = k + 1 < argc;
        if (strcmp(s, "--all") == 0) {
            f->limit = -1;
        } else if (strcmp(s, "--status") == 0 && has) {
            if (f->n_status == MAX_STATUS)
                return bp_cli_fail(err, "runs: too many --status");
            if (check_status(argv[k + 1], err)) return 1;
            a->status[f->n_status++] = argv[++k];
        } else if (strcmp(s, "--name") == 0 && has) {
            f->name_glob = argv[++k];
        } else if (strcmp(s, "--param") == 0 && has) {
            if (f->n_params == MAX_PARAMS)
                return bp_cli_fail(err, "runs: too many --param");
            if (parse_param_filter(argv[++k], &a->keys[f->n_params],
                                   &a->params[f->n_params]))
                return bp_cli_fail(
                    err, "runs: --param wants KEY=VALUE (or != < <= > >=), not '%s'",
                    argv[k]);
            f->n_params++;
        } else if (strcmp(s, "--limit") == 0 && has) {
            int64_t limit;
            if (bp_parse_i64(argv[++k], 1, INT64_MAX, &limit))
                return bp_cli_fail(err, "runs: --limit wants a positive number, not '%s'",
                                   argv[k]);
            f->limit = limit;
        } else {
            return bp_cli_fail(err,
                               "runs: unknown argument '%s' (--status S, --name GLOB,"
                               " --param KEY=VALUE, --limit N, --all)",
                               s);
        }
    }
    return 0;
}

/* A loss readably; "nan" where the last value logged was NaN, "-" where
 * none was logged. */
static void loss_cell(char *buf, size_t cap, const bp_runlog_value *v, int nan) {
    if (v->type != BP_RUNLOG_NULL) cli_fmt_short(buf, cap, v->r);
    else snprintf(buf, cap, nan ? "nan" : "-");
}

static int print_runs(const bp_run_row *rows, size_t n, FILE *out, FILE *err) {
    cli_table t;
    if (cli_table_init(&t, 8)) return bp_cli_fail(err, "out of memory");
    const char *head[] = {"id",    "name", "status", "params",
                          "final", "best", "steps",  "duration"};
    for (int c = 0; c < 8; c++) cli_table_put(&t, head[c]);
    t.right[0] = t.right[4] = t.right[5] = t.right[6] = t.right[7] = 1;
    for (size_t k = 0; k < n; k++) {
        const bp_run_row *r = &rows[k];
        char buf[64];
        snprintf(buf, sizeof buf, "%lld", (long long)r->id);
        cli_table_put(&t, buf);
        cli_table_put(&t, r->name);
        cli_table_put(&t, r->status);
        cli_table_put(&t, r->params);
        loss_cell(buf, sizeof buf, &r->final_loss, r->final_nan);
        cli_table_put(&t, buf);
        loss_cell(buf, sizeof buf, &r->best_loss, 0);
        cli_table_put(&t, buf);
        if (r->steps.type == BP_RUNLOG_NULL) snprintf(buf, sizeof buf, "-");
        else
            snprintf(buf, sizeof buf, "%lld",
                     (long long)(r->steps.type == BP_RUNLOG_INT ? r->steps.i
                                                                : (int64_t)r->steps.r));
        cli_table_put(&t, buf);
        if (r->duration_s.type == BP_RUNLOG_NULL) snprintf(buf, sizeof buf, "-");
        else bp_format_duration(buf, sizeof buf, r->duration_s.r);
        cli_table_put(&t, buf);
    }
    cli_table_print(&t, out, 0);
    cli_table_free(&t);
    return 0;
}

int bp_cli_runs(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0;
    const char *path = cli_take_db(db, &argc, argv, err, &bad);
    if (bad) return 1;
    runs_args a;
    if (parse_args(&a, argc, argv, err)) return 1;
    bp_runlog *log = cli_open_log(path, BP_RUNLOG_READER, err);
    if (!log) return 1;
    bp_run_row *rows;
    size_t n;
    bp_err e;
    int rc = 0;
    if (bp_runlog_runs(log, &a.filter, &rows, &n, &e)) rc = bp_cli_fail(err, "%s", e.msg);
    else if (n) rc = print_runs(rows, n, out, err);
    else fprintf(out, "no runs\n");
    bp_run_rows_free(rows, n);
    bp_runlog_close(log);
    return rc;
}
