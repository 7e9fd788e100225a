/* show.c: `backprop show ID` (bp_cli.h), one run whole.
 *
 * bp_runlog_run_detail reads everything first; this file only lays it out:
 * the record as "key value" lines (those the run has nothing for left
 * out), its traceback as an indented block, then tags, notes, a table of
 * its metrics per step and one of those per epoch, the loss curve and its
 * snapshots. */
#include <math.h>
#include <string.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "cli_int.h"

/* Prints an indented block of text (a traceback), line by line. */
static void show_block(FILE *out, const char *title, const char *text) {
    if (!text || !*text) return;
    fprintf(out, "%s:\n", title);
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        fprintf(out, "  %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

static void print_record(const bp_run_detail *d, int64_t id, FILE *out) {
    char buf[256];
    fprintf(out, "run %lld: %s\n", (long long)id, d->name);
    cli_show_line(out, "status", d->status);
    if (d->sweep_id) {
        snprintf(buf, sizeof buf, "%lld (%s), trial %lld of %lld", (long long)d->sweep_id,
                 d->sweep_name, (long long)d->trial, (long long)d->sweep_trials);
        cli_show_line(out, "sweep", buf);
    }
    if (d->script_path && d->script_hash)
        snprintf(buf, sizeof buf, "%s (%lld bytes, fnv1a %s)", d->script_path,
                 (long long)d->script_bytes, d->script_hash);
    else snprintf(buf, sizeof buf, "%s", d->script_path ? d->script_path : "");
    cli_show_line(out, "script", buf);
    cli_show_line(out, "command", d->command);
    if (d->seed.type != BP_RUNLOG_NULL) {
        cli_value_cell(buf, sizeof buf, &d->seed, 0);
        cli_show_line(out, "seed", buf);
    }
    cli_show_time(out, "started", d->started);
    cli_show_time(out, "ended", d->ended);
    if (d->duration_s.type != BP_RUNLOG_NULL) {
        bp_format_duration(buf, sizeof buf, d->duration_s.r);
        cli_show_line(out, "duration", buf);
    }
    if (d->host) {
        snprintf(buf, sizeof buf, "%s (pid %lld)", d->host, (long long)d->pid);
        cli_show_line(out, "host", buf);
    }
    cli_show_line(out, "version", d->version);
    cli_show_line(out, "params", d->params);
    cli_show_line(out, "error", d->message);
    show_block(out, "traceback", d->traceback);
}

static void print_tags_notes(const bp_run_detail *d, FILE *out) {
    if (d->n_tags) {
        fprintf(out, "tags:\n  ");
        for (size_t k = 0; k < d->n_tags; k++) {
            fprintf(out, "%s%s", k ? ", " : "", d->tag_keys[k]);
            if (d->tag_values[k]) fprintf(out, "=%s", d->tag_values[k]);
        }
        fputc('\n', out);
    }
    for (size_t k = 0; k < d->n_notes; k++) {
        if (k == 0) fprintf(out, "notes:\n");
        fprintf(out, "  %s  %s\n", d->note_times[k], d->note_texts[k]);
    }
}

/* The metrics of one unit, a line each: how many values, over which steps
 * (or epochs), the last (nan if it was NaN), the least and the greatest
 * ("-" if every value was NaN), and how many were NaN. A table per unit,
 * so that a step and an epoch are never read as one. */
static int print_metrics(const bp_run_detail *d, bp_metric_unit unit, FILE *out) {
    size_t shown = 0;
    for (size_t k = 0; k < d->n_metrics; k++) shown += d->metrics[k].unit == unit;
    if (!shown) return 0;
    cli_table t;
    if (cli_table_init(&t, 7)) return -1;
    const char *head[] = {"metric", "values", unit == BP_UNIT_EPOCH ? "epochs" : "steps",
                          "last",   "min",    "max",
                          "nan"};
    for (int c = 0; c < 7; c++) cli_table_put(&t, head[c]);
    for (int c = 1; c < 7; c++) t.right[c] = 1;
    for (size_t k = 0; k < d->n_metrics; k++) {
        const bp_metric_summary *m = &d->metrics[k];
        if (m->unit != unit) continue;
        char buf[64];
        cli_table_put(&t, m->name);
        snprintf(buf, sizeof buf, "%lld", (long long)m->count);
        cli_table_put(&t, buf);
        snprintf(buf, sizeof buf, "%lld..%lld", (long long)m->first_step,
                 (long long)m->last_step);
        cli_table_put(&t, buf);
        cli_fmt_short(buf, sizeof buf, m->last);
        cli_table_put(&t, buf);
        const double range[2] = {m->min, m->max};
        for (int j = 0; j < 2; j++) {
            if (isnan(range[j])) snprintf(buf, sizeof buf, "-");
            else cli_fmt_short(buf, sizeof buf, range[j]);
            cli_table_put(&t, buf);
        }
        snprintf(buf, sizeof buf, "%lld", (long long)m->nan_count);
        cli_table_put(&t, buf);
    }
    fprintf(out, "metrics per %s:\n", bp_metric_unit_names[unit]);
    cli_table_print(&t, out, 2);
    cli_table_free(&t);
    return 0;
}

static void print_curve_snapshots(const bp_run_detail *d, FILE *out) {
    char buf[64];
    const char *unit = bp_metric_unit_names[d->curve_unit];
    for (size_t k = 0; k < d->n_curve; k++) {
        if (k == 0 && d->curve_unit == BP_UNIT_EPOCH) fprintf(out, "loss curve (per epoch):\n");
        else if (k == 0) fprintf(out, "loss curve:\n");
        cli_fmt_short(buf, sizeof buf, d->curve_values[k]);
        fprintf(out, "  %10lld  %s\n", (long long)d->curve_steps[k], buf);
    }
    if (d->has_best) {
        cli_fmt_short(buf, sizeof buf, d->best);
        fprintf(out, "  best %s at %s %lld\n", buf, unit, (long long)d->best_step);
    }
    for (size_t k = 0; k < d->n_snapshots; k++) {
        const bp_snapshot_summary *s = &d->snapshots[k];
        if (k == 0) fprintf(out, "snapshots:\n");
        fprintf(out, "  %s: %lld at step%s %s; %s ", s->name, (long long)s->count,
                s->count == 1 ? "" : "s", s->steps,
                strchr(s->shape, ':') ? "tensors" : "shape");
        /* A graph's shape lists a tensor a line: on one line here. */
        for (const char *c = s->shape; *c; c++) {
            if (*c == '\n') fputs(", ", out);
            else fputc(*c, out);
        }
        fprintf(out, ", %s\n", s->dtype);
    }
}

int bp_cli_show(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0;
    const char *path = cli_take_db(db, &argc, argv, err, &bad);
    if (bad) return 1;
    int64_t id;
    if (argc != 1) return bp_cli_fail(err, "show wants one run id");
    if (bp_cli_parse_id(argv[0], &id))
        return bp_cli_fail(err, "show: '%s' is not a run id", argv[0]);
    bp_runlog *log = cli_open_log(path, BP_RUNLOG_READER, err);
    if (!log) return 1;
    bp_run_detail d;
    bp_err e;
    int rc = 0;
    if (bp_runlog_run_detail(log, id, &d, &e)) {
        rc = bp_cli_fail(err, "%s", e.msg);
    } else {
        print_record(&d, id, out);
        print_tags_notes(&d, out);
        if (print_metrics(&d, BP_UNIT_STEP, out) || print_metrics(&d, BP_UNIT_EPOCH, out))
            rc = 1;
        else print_curve_snapshots(&d, out);
    }
    bp_run_detail_free(&d);
    bp_runlog_close(log);
    return rc;
}
