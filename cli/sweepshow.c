/* sweepshow.c: `backprop sweep show [ID] [--csv]` (bp_cli.h).
 *
 * Without an id, every sweep in a table. With one, the sweep's record,
 * its trials ranked best first (bp_runlog_sweep_trials) with their swept
 * parameters, and how each value of each parameter did
 * (bp_runlog_sweep_param_stats); --csv prints the trials alone, numbers
 * exactly. The run log reads; this file lays out. */
#define _XOPEN_SOURCE 700
#include <stdint.h>
#include <string.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "cli_int.h"

/* ------------------------------------------------------------------------ */
/* Every sweep                                                               */

static int list_sweeps(bp_runlog *log, FILE *out, FILE *err) {
    bp_sweep_item *rows;
    size_t n;
    bp_err e;
    if (bp_runlog_sweeps_list(log, &rows, &n, &e)) return bp_cli_fail(err, "%s", e.msg);
    cli_table t;
    if (cli_table_init(&t, 8)) {
        bp_sweep_list_free(rows, n);
        return bp_cli_fail(err, "out of memory");
    }
    const char *head[] = {"id",   "name",      "status", "strategy",
                          "done", "objective", "best",   "started"};
    for (int c = 0; c < 8; c++) cli_table_put(&t, head[c]);
    t.right[0] = t.right[4] = t.right[6] = 1;
    for (size_t k = 0; k < n; k++) {
        const bp_sweep_item *w = &rows[k];
        char buf[256];
        snprintf(buf, sizeof buf, "%lld", (long long)w->id);
        cli_table_put(&t, buf);
        cli_table_put(&t, w->name);
        cli_table_put(&t, w->status);
        cli_table_put(&t, w->strategy);
        snprintf(buf, sizeof buf, "%lld/%lld", (long long)w->done, (long long)w->trials);
        cli_table_put(&t, buf);
        snprintf(buf, sizeof buf, "%s %s", w->direction, w->objective);
        cli_table_put(&t, buf);
        cli_value_cell(buf, sizeof buf, &w->best, 0);
        cli_table_put(&t, buf);
        cli_table_put(&t, w->started);
    }
    if (n) cli_table_print(&t, out, 0);
    else fprintf(out, "no sweeps\n");
    cli_table_free(&t);
    bp_sweep_list_free(rows, n);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* One sweep                                                                 */

/* What the parts of one sweep's page share. */
typedef struct page {
    char metric[128], dir[8], keys_copy[1024];
    char *keys[64]; /* the swept keys: pointers into keys_copy */
    int nkeys, csv;
} page;

static void print_record(const bp_sweep_detail *d, const page *p, int64_t id, FILE *out) {
    char buf[512];
    fprintf(out, "sweep %lld: %s\n", (long long)id, d->name);
    cli_show_line(out, "status", d->status);
    cli_show_line(out, "error", d->message);
    cli_show_line(out, "script", d->script_path);
    cli_show_line(out, "spec", d->spec);
    snprintf(buf, sizeof buf, "%s, %lld trials", d->strategy, (long long)d->trials);
    cli_show_line(out, "strategy", buf);
    snprintf(buf, sizeof buf, "%s %s", p->dir, p->metric);
    cli_show_line(out, "objective", buf);
    cli_show_line(out, "prune", d->prune);
    cli_show_time(out, "started", d->started);
    cli_show_time(out, "ended", d->ended);
    cli_show_line(out, "command", d->command);
    cli_show_line(out, "uid", d->uid);
}

/* One trial's cells: rank ("-" or empty unless ranked), trial, run,
 * status, objective, the swept parameters, seed and duration. */
static void trial_cells(cli_table *t, const bp_trial_row *tr, int *rank, int csv) {
    char buf[512];
    if (tr->ranked) snprintf(buf, sizeof buf, "%d", ++*rank);
    else snprintf(buf, sizeof buf, csv ? "" : "-");
    cli_table_put(t, buf);
    snprintf(buf, sizeof buf, "%lld", (long long)tr->trial);
    cli_table_put(t, buf);
    snprintf(buf, sizeof buf, "%lld", (long long)tr->run);
    cli_table_put(t, buf);
    cli_table_put(t, tr->status);
    cli_value_cell(buf, sizeof buf, &tr->objective, csv);
    cli_table_put(t, buf);
    for (int k = 0; k < tr->n_params; k++) {
        cli_value_cell(buf, sizeof buf, &tr->params[k], csv);
        cli_table_put(t, buf);
    }
    if (tr->seed.type == BP_RUNLOG_NULL) buf[0] = '\0';
    else cli_value_cell(buf, sizeof buf, &tr->seed, csv);
    cli_table_put(t, buf);
    if (tr->duration_s.type == BP_RUNLOG_NULL) snprintf(buf, sizeof buf, csv ? "" : "-");
    else if (csv) cli_fmt_exact(buf, sizeof buf, tr->duration_s.r);
    else bp_format_duration(buf, sizeof buf, tr->duration_s.r);
    cli_table_put(t, buf);
}

/* The trials, best first: as a table, or as CSV alone. */
static int print_trials(bp_runlog *log, int64_t id, const page *p, FILE *out, FILE *err) {
    bp_trial_row *trials;
    size_t n;
    bp_err e;
    if (bp_runlog_sweep_trials(log, id, (const char *const *)p->keys, p->nkeys, 1,
                               &trials, &n, &e))
        return bp_cli_fail(err, "%s", e.msg);
    int ncol = 7 + p->nkeys, rank = 0;
    cli_table t;
    if (cli_table_init(&t, ncol)) {
        bp_trial_rows_free(trials, n);
        return bp_cli_fail(err, "out of memory");
    }
    const char *head[] = {"rank", "trial", "run", "status"};
    for (int c = 0; c < 4; c++) cli_table_put(&t, head[c]);
    cli_table_put(&t, p->metric);
    for (int k = 0; k < p->nkeys; k++) cli_table_put(&t, p->keys[k]);
    cli_table_put(&t, "seed");
    cli_table_put(&t, p->csv ? "duration_s" : "duration");
    for (int c = 0; c < ncol; c++) t.right[c] = c != 3; /* all but the status */
    for (size_t k = 0; k < n; k++) trial_cells(&t, &trials[k], &rank, p->csv);
    if (p->csv) {
        for (size_t k = 0; k < t.n; k++) {
            cli_csv_text(out, cli_table_cell(&t, k));
            fputc((int)(k % (size_t)ncol) == ncol - 1 ? '\n' : ',', out);
        }
    } else if (n) {
        fprintf(out, "trials, best first:\n");
        cli_table_print(&t, out, 2);
    } else {
        fprintf(out, "no trials yet\n");
    }
    cli_table_free(&t);
    bp_trial_rows_free(trials, n);
    return 0;
}

/* What a user looks at first: for each parameter, how each of its values
 * did over the completed trials. */
static int print_param_stats(bp_runlog *log, int64_t id, const page *p, FILE *out,
                             FILE *err) {
    bp_sweep_param_stat *v;
    size_t n;
    bp_err e;
    if (bp_runlog_sweep_param_stats(log, id, &v, &n, &e))
        return bp_cli_fail(err, "%s", e.msg);
    cli_table t;
    if (cli_table_init(&t, 5)) {
        bp_sweep_param_stats_free(v, n);
        return bp_cli_fail(err, "out of memory");
    }
    const char *head[] = {"parameter", "value", "trials", "best", "mean"};
    for (int c = 0; c < 5; c++) cli_table_put(&t, head[c]);
    t.right[1] = t.right[2] = t.right[3] = t.right[4] = 1;
    char last[128] = "", buf[512];
    for (size_t k = 0; k < n; k++) {
        cli_table_put(&t, k && !strcmp(last, v[k].key) ? "" : v[k].key);
        snprintf(last, sizeof last, "%s", v[k].key);
        const bp_runlog_value *cells[] = {&v[k].value, &v[k].trials, &v[k].best,
                                          &v[k].mean};
        for (int c = 0; c < 4; c++) {
            cli_value_cell(buf, sizeof buf, cells[c], 0);
            cli_table_put(&t, buf);
        }
    }
    if (n) {
        fprintf(out, "by parameter (completed trials; best and mean %s):\n", p->metric);
        cli_table_print(&t, out, 2);
    }
    cli_table_free(&t);
    bp_sweep_param_stats_free(v, n);
    return 0;
}

static int show_sweep(bp_runlog *log, int64_t id, int csv, FILE *out, FILE *err) {
    bp_sweep_detail d;
    bp_err e;
    if (bp_runlog_sweep_detail(log, id, &d, &e)) return bp_cli_fail(err, "%s", e.msg);
    page p = {.csv = csv};
    snprintf(p.metric, sizeof p.metric, "%s", d.objective);
    snprintf(p.dir, sizeof p.dir, "%s", d.direction);
    snprintf(p.keys_copy, sizeof p.keys_copy, "%s", d.keys);
    for (char *k = strtok(p.keys_copy, " "); k && p.nkeys < 64; k = strtok(NULL, " "))
        p.keys[p.nkeys++] = k;
    if (!csv) print_record(&d, &p, id, out);
    bp_sweep_detail_free(&d);
    int rc = print_trials(log, id, &p, out, err);
    if (!rc && !csv) rc = print_param_stats(log, id, &p, out, err);
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
    bp_runlog *log = cli_open_log(path, BP_RUNLOG_READER, err);
    if (!log) return 1;
    int rc = id_text ? show_sweep(log, id, csv, out, err) : list_sweeps(log, out, err);
    bp_runlog_close(log);
    return rc;
}
