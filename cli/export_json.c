/* export_json.c: `backprop export ID --json` (bp_cli.h): a run as one JSON
 * object, its record, its parameters typed and each metric's unit, steps
 * and values.
 *
 * A metric is a pair of arrays, "steps" and "values", rather than rows of
 * all the metrics by step: each series keeps its own steps (a per-epoch
 * figure beside per-batch losses leaves no holes to fill with null), and
 * one series at a time is held (bp_runlog_metric_get), never the run whole.
 * JSON has no NaN nor infinities: NaN is null, infinities the strings
 * "Infinity" and "-Infinity", as the dashboard's API writes them
 * (runlog/bp_dash.h). Times are seconds since 1970 as the schema keeps them,
 * and as UTC text beside them. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

static void json_num(FILE *out, double v) {
    char buf[64];
    if (isnan(v)) fputs("null", out);
    else if (isinf(v)) fputs(v > 0 ? "\"Infinity\"" : "\"-Infinity\"", out);
    else cli_fmt_exact(buf, sizeof buf, v), fputs(buf, out);
}

/* ,"key":"value" (null when value is NULL). */
static void json_field(FILE *out, const char *key, const char *value) {
    fprintf(out, ",\n    \"%s\": ", key);
    if (value) cli_json_text(out, value);
    else fputs("null", out);
}

static void json_value(FILE *out, const char *type, const bp_runlog_value *v) {
    if (type && !strcmp(type, "bool")) fputs(v->i ? "true" : "false", out);
    else if (v->type == BP_RUNLOG_INT) fprintf(out, "%lld", (long long)v->i);
    else if (v->type == BP_RUNLOG_REAL) json_num(out, v->r);
    else if (v->type == BP_RUNLOG_NULL) fputs("null", out);
    else cli_json_text(out, v->s);
}

/* The text fields of h before the times (late 0) or after. */
static void json_fields(FILE *out, const bp_run_header *h, int late) {
    for (int k = 0; k < cli_run_nfields; k++)
        if (cli_run_fields[k].late == late)
            json_field(out, cli_run_fields[k].key,
                       *(char *const *)((const char *)h + cli_run_fields[k].offset));
}

static void json_run(FILE *out, const bp_run_header *h) {
    char t[64];
    fprintf(out, "{\n  \"run\": {\n    \"id\": %lld", (long long)h->id);
    json_fields(out, h, 0);
    fputs(",\n    \"seed\": ", out);
    json_value(out, NULL, &h->seed);
    fputs(",\n    \"started\": ", out);
    json_num(out, h->started);
    cli_fmt_utc(t, sizeof t, h->started, 1);
    json_field(out, "started_utc", t);
    fputs(",\n    \"ended\": ", out);
    if (h->has_ended) json_num(out, h->ended), cli_fmt_utc(t, sizeof t, h->ended, 1);
    else fputs("null", out);
    json_field(out, "ended_utc", h->has_ended ? t : NULL);
    json_fields(out, h, 1);
    if (h->sweep_id)
        fprintf(out, ",\n    \"sweep_id\": %lld,\n    \"trial\": %lld", (long long)h->sweep_id,
                (long long)h->trial);
    else fputs(",\n    \"sweep_id\": null,\n    \"trial\": null", out);
    fputs("\n  },\n  \"params\": {", out);
    for (size_t k = 0; k < h->n_params; k++) {
        fputs(k ? ",\n    " : "\n    ", out);
        cli_json_text(out, h->params[k].key);
        fputs(": ", out);
        json_value(out, h->params[k].type, &h->params[k].value);
    }
    fputs(h->n_params ? "\n  },\n" : "},\n", out);
}

/* "NAME": {"unit": "step", "steps": [...], "values": [...]} of one metric;
 * the unit "epoch" when its steps are epochs. */
static int json_metric(bp_runlog *log, int64_t run, const char *name, FILE *out,
                       bp_err *e) {
    int64_t *steps;
    double *values;
    size_t n;
    bp_metric_unit unit;
    if (bp_runlog_metric_unit_get(log, run, name, &unit, e) ||
        bp_runlog_metric_get(log, run, name, &steps, &values, &n, e))
        return -1;
    cli_json_text(out, name);
    fprintf(out, ": {\"unit\": \"%s\", \"steps\": [", bp_metric_unit_names[unit]);
    for (size_t k = 0; k < n; k++) fprintf(out, "%s%lld", k ? ", " : "", (long long)steps[k]);
    fputs("], \"values\": [", out);
    for (size_t k = 0; k < n; k++) {
        if (k) fputs(", ", out);
        json_num(out, values[k]);
    }
    fputs("]}", out);
    free(steps);
    free(values);
    return 0;
}

int cli_export_json(bp_runlog *log, int64_t run, FILE *out, bp_err *e) {
    bp_run_header h;
    char **names = NULL;
    size_t n = 0;
    int rc = -1;
    if (bp_runlog_run_header(log, run, &h, e)) return -1;
    if (bp_runlog_metric_names(log, run, &names, &n, e)) goto end;
    json_run(out, &h);
    fputs("  \"metrics\": {", out);
    for (size_t k = 0; k < n; k++) {
        fputs(k ? ",\n    " : "\n    ", out);
        if (json_metric(log, run, names[k], out, e)) goto end;
    }
    fputs(n ? "\n  }\n}\n" : "}\n}\n", out);
    rc = 0;
end:
    bp_runlog_strings_free(names, n);
    bp_run_header_free(&h);
    return rc;
}
