/* reads_dash_series.c: the dashboard's series (bp_dash.h): a metric cut to
 * a chart's points, and the weights of a run's snapshots as histograms.
 *
 * These are numbers worked on in C (a reduction, a histogram), so their
 * JSON is written here, into a growing buffer, rather than by SQLite as the
 * tables' is (reads_dash.c). A metric's points come from
 * bp_runlog_metric_reduce, which reads the summaries of 256 steps of a long
 * series: a million steps answer with a few thousand rows read. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_dash.h"
#include "reads_int.h"
#include "runlog_int.h"

/* 0 when run exists, 1 with "no run N", -1. */
static int run_exists(bp_runlog *log, int64_t run, bp_err *e) {
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(bp_runlog_sqlite(log), "SELECT 1 FROM runs WHERE id = ?",
                               -1, &st, NULL);
    if (r == SQLITE_OK) sqlite3_bind_int64(st, 1, run), r = sqlite3_step(st);
    sqlite3_finalize(st);
    int rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? 1 : rd_fail(log, e);
    bp_runlog_unlock(log);
    if (rc == 1) bp_err_set(e, "no run %lld", (long long)run);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* A metric                                                                  */

/* A bucket's points in order of step: one when it holds one value (or its
 * least and greatest are at one step), else both; their times into t when
 * a is not NULL. */
static void put_bucket(rd_json *x, rd_json *y, rd_json *t, const bp_time_axis *a,
                       const bp_metric_bucket *k, int *first) {
    int64_t s[2] = {k->min_step, k->max_step};
    double v[2] = {k->min, k->max};
    if (s[1] < s[0]) s[0] = k->max_step, s[1] = k->min_step, v[0] = k->max, v[1] = k->min;
    int two = s[0] != s[1] && k->count > 1;
    for (int j = 0; j < 1 + two; j++) {
        rd_json_put(x, "%s%lld", *first ? "" : ",", (long long)s[j]);
        rd_json_put(y, "%s", *first ? "" : ",");
        rd_json_num(y, v[j]);
        if (a) rd_json_put(t, "%s%.3f", *first ? "" : ",", bp_time_axis_at(a, s[j]));
        *first = 0;
    }
}

int bp_dash_metric(bp_runlog *log, int64_t run, const char *name, size_t max_points,
                   int with_time, char **json, size_t *len, bp_err *e) {
    *json = NULL, *len = 0;
    int rc = run_exists(log, run, e);
    if (rc) return rc;
    bp_metric_unit unit;
    if (bp_runlog_metric_unit_get(log, run, name, &unit, e)) return -1;
    bp_time_axis a = {0};
    if (with_time && bp_runlog_time_axis(log, run, name, &a, e)) return -1;
    bp_metric_bucket *k = NULL;
    size_t n = 0;
    if (bp_runlog_metric_reduce(log, run, name, max_points < 2 ? 2 : max_points, &k, &n,
                                e)) {
        bp_time_axis_free(&a);
        return -1;
    }
    rd_json b = {0}, x = {0}, y = {0}, t = {0};
    int64_t count = 0;
    int first = 1;
    for (size_t j = 0; j < n; j++) {
        count += k[j].count;
        put_bucket(&x, &y, &t, with_time ? &a : NULL, &k[j], &first);
    }
    rd_json_put(&b, "{\"name\":");
    rd_json_str(&b, name);
    rd_json_put(&b, ",\"unit\":\"%s\",\"count\":%lld,\"reduced\":%s,\"x\":[%s],\"y\":[%s]",
                bp_metric_unit_names[unit], (long long)count, (int64_t)n < count ? "true" : "false",
                x.s ? x.s : "", y.s ? y.s : "");
    if (with_time)
        rd_json_put(&b, ",\"t\":[%s],\"t_estimated\":%s", t.s ? t.s : "",
                    a.estimated ? "true" : "false");
    rd_json_put(&b, "}");
    b.oom |= x.oom | y.oom | t.oom;
    free(k), free(x.s), free(y.s), free(t.s);
    bp_time_axis_free(&a);
    return rd_json_finish(&b, json, len, e);
}

/* ------------------------------------------------------------------------ */
/* Weights                                                                   */

/* The steps of run's snapshots `name`, ascending; *steps malloc'd. */
static int snapshot_steps(bp_runlog *log, int64_t run, const char *name, int64_t **steps,
                          size_t *n, bp_err *e) {
    *steps = NULL, *n = 0;
    bp_runlog_lock(log);
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int r = sqlite3_prepare_v2(bp_runlog_sqlite(log),
                               "SELECT step FROM snapshots WHERE run_id = ? AND name = ?"
                               " ORDER BY step",
                               -1, &st, NULL);
    int prepared = r == SQLITE_OK;
    if (prepared) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    }
    while (prepared && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *more = rd_grow(*steps, &cap, *n, sizeof **steps);
        if (!more) break;
        *steps = more;
        (*steps)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    int rc = rd_end(log, st, r, e);
    bp_runlog_unlock(log);
    if (rc) free(*steps), *steps = NULL, *n = 0;
    return rc;
}

/* One snapshot of the chosen ones, decoded. */
typedef struct snap {
    int64_t step;
    int n_layers;
    int *sizes;
    double *params;
    size_t n_params;
} snap;

/* Offset and length, in the flat order, of part `part` of layer l: 0 its
 * weights, 1 its biases. */
static void part_span(const snap *s, int l, int part, size_t *off, size_t *len) {
    size_t at = 0;
    for (int j = 0; j < l; j++)
        at += (size_t)s->sizes[j + 1] * (size_t)s->sizes[j] + (size_t)s->sizes[j + 1];
    size_t w = (size_t)s->sizes[l + 1] * (size_t)s->sizes[l];
    *off = part ? at + w : at;
    *len = part ? (size_t)s->sizes[l + 1] : w;
}

/* The histograms of part `part` of layer l over every snapshot in s. */
static void put_layer(rd_json *b, const snap *s, size_t ns, int l, int part, int bins) {
    double lo = INFINITY, hi = -INFINITY;
    size_t off, len;
    for (size_t j = 0; j < ns; j++) {
        part_span(&s[j], l, part, &off, &len);
        for (size_t i = 0; i < len; i++) {
            double v = s[j].params[off + i];
            if (isfinite(v)) lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
    }
    if (!(lo <= hi)) lo = hi = 0;
    rd_json_put(b, "%s{\"label\":\"layer %d %s\",\"lo\":", l || part ? "," : "", l + 1,
                part ? "biases" : "weights");
    rd_json_num(b, lo);
    rd_json_put(b, ",\"hi\":");
    rd_json_num(b, hi);
    rd_json_put(b, ",\"counts\":[");
    int *c = calloc((size_t)bins, sizeof *c);
    if (!c) b->oom = 1;
    for (size_t j = 0; c && j < ns; j++) {
        memset(c, 0, (size_t)bins * sizeof *c);
        part_span(&s[j], l, part, &off, &len);
        for (size_t i = 0; i < len; i++) {
            double v = s[j].params[off + i];
            if (!isfinite(v)) continue;
            int k = hi > lo ? (int)((v - lo) / (hi - lo) * bins) : 0;
            c[k < 0 ? 0 : k >= bins ? bins - 1 : k]++;
        }
        rd_json_put(b, "%s[", j ? "," : "");
        for (int k = 0; k < bins; k++) rd_json_put(b, "%s%d", k ? "," : "", c[k]);
        rd_json_put(b, "]");
    }
    free(c);
    rd_json_put(b, "]}");
}

/* Reads the snapshots at the chosen steps into s (ns of them). */
static int load_snaps(bp_runlog *log, int64_t run, const char *name, const int64_t *all,
                      size_t n, snap *s, size_t ns, bp_err *e) {
    for (size_t j = 0; j < ns; j++) {
        size_t at = ns > 1 ? j * (n - 1) / (ns - 1) : n - 1;
        if (bp_runlog_snapshot_get(log, run, name, all[at], &s[j].step, &s[j].n_layers,
                                   &s[j].sizes, &s[j].params, &s[j].n_params, e))
            return -1;
        if (j && s[j].n_layers != s[0].n_layers)
            return bp_err_set(e, "the snapshots '%s' of run %lld differ in shape", name,
                              (long long)run);
        for (int l = 0; j && l <= s[0].n_layers; l++)
            if (s[j].sizes[l] != s[0].sizes[l])
                return bp_err_set(e, "the snapshots '%s' of run %lld differ in shape",
                                  name, (long long)run);
    }
    return 0;
}

int bp_dash_weights(bp_runlog *log, int64_t run, const char *name, int max_steps,
                    int bins, char **json, size_t *len, bp_err *e) {
    *json = NULL, *len = 0;
    if (!name || !*name) name = "net";
    if (bins < 1) bins = 1;
    int rc = run_exists(log, run, e);
    if (rc) return rc;
    int64_t *all;
    size_t n;
    if (snapshot_steps(log, run, name, &all, &n, e)) return -1;
    size_t ns = n < (size_t)(max_steps < 1 ? 1 : max_steps) ? n : (size_t)max_steps;
    snap *s = calloc(ns ? ns : 1, sizeof *s);
    rd_json b = {0};
    rc = !s ? rd_oom(e) : load_snaps(log, run, name, all, n, s, ns, e);
    if (rc == 0) {
        rd_json_put(&b, "{\"name\":");
        rd_json_str(&b, name);
        rd_json_put(&b, ",\"steps\":[");
        for (size_t j = 0; j < ns; j++)
            rd_json_put(&b, "%s%lld", j ? "," : "", (long long)s[j].step);
        rd_json_put(&b, "],\"layers\":[");
        for (int l = 0; ns && l < s[0].n_layers; l++)
            for (int part = 0; part < 2; part++) put_layer(&b, s, ns, l, part, bins);
        rd_json_put(&b, "]}");
        rc = rd_json_finish(&b, json, len, e);
    }
    for (size_t j = 0; s && j < ns; j++) free(s[j].sizes), free(s[j].params);
    free(s), free(all);
    if (rc) free(b.s);
    return rc;
}

int bp_dash_weight_history(bp_runlog *log, int64_t run, const char *name, int64_t index,
                           char **json, size_t *len, bp_err *e) {
    *json = NULL, *len = 0;
    if (!name || !*name) name = "net";
    int rc = run_exists(log, run, e);
    if (rc) return rc;
    int64_t *all;
    size_t n;
    if (snapshot_steps(log, run, name, &all, &n, e)) return -1;
    rd_json b = {0}, v = {0};
    rd_json_put(&b, "{\"index\":%lld,\"steps\":[", (long long)index);
    for (size_t j = 0; j < n && rc == 0; j++) {
        snap s = {0};
        rc = bp_runlog_snapshot_get(log, run, name, all[j], &s.step, &s.n_layers,
                                    &s.sizes, &s.params, &s.n_params, e);
        if (rc == 0 && (index < 0 || (size_t)index >= s.n_params))
            rc = bp_err_set(e,
                            "snapshot '%s' of run %lld has %zu values, numbered 0 to"
                            " %zu: no value %lld",
                            name, (long long)run, s.n_params, s.n_params - 1,
                            (long long)index);
        if (rc == 0) {
            rd_json_put(&b, "%s%lld", j ? "," : "", (long long)s.step);
            rd_json_put(&v, "%s", j ? "," : "");
            rd_json_num(&v, s.params[index]);
        }
        free(s.sizes), free(s.params);
    }
    rd_json_put(&b, "],\"values\":[%s]}", v.s ? v.s : "");
    b.oom |= v.oom;
    free(v.s), free(all);
    if (rc) {
        free(b.s);
        return -1;
    }
    return rd_json_finish(&b, json, len, e);
}
