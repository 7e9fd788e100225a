/* step_times.c: a series' wall-time axis (bp_runlog_time_axis, bp_runlog.h):
 * when its steps were reached, for the dashboard's charts and `backprop
 * plot --x time`, which both map steps to seconds through it so that they
 * agree.
 *
 * The writer records, in each commit, each series' greatest step and when
 * it took the rows (step_times, schema 12; writer.c): samples a few per
 * second, each at most a quarter of a second late. A step between two
 * samples is placed by linear interpolation; before the first sample the
 * first stretch's pace is followed back (a run's setup, before its first
 * step, takes time that no step should be given), after the last the last
 * stretch's pace goes on, up to the run's end. A series with no samples (a
 * run recorded before schema 12, or metrics written by hand) is spread
 * over the run's duration at a steady pace, as plots did before, and the
 * axis says it is estimated. */
#include <stdlib.h>
#include <string.h>

#include "reads_int.h"
#include "runlog_int.h"

static int take_sample(sqlite3_stmt *st, void *row, void *ctx) {
    (void)ctx;
    bp_time_sample *s = row;
    s->step = sqlite3_column_int64(st, 0);
    s->seconds = sqlite3_column_double(st, 1);
    return 0;
}

/* The run's duration (to now while it has no end) and the series' last
 * step (0 when metric is NULL or has no rows) into a. */
static int read_span(bp_runlog *log, int64_t run, const char *metric, bp_time_axis *a,
                     bp_err *e) {
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(
        bp_runlog_sqlite(log),
        "SELECT max(coalesce(r.ended, ?2) - r.started, 0), coalesce((SELECT ms.last_step"
        " FROM metric_summary ms JOIN metric_names n ON n.id = ms.name_id"
        " WHERE ms.run_id = r.id AND n.name = ?3), 0) FROM runs r WHERE r.id = ?1",
        -1, &st, NULL);
    if (r == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_double(st, 2, bp_runlog_time());
        sqlite3_bind_text(st, 3, metric ? metric : "", -1, SQLITE_STATIC);
        r = sqlite3_step(st);
    }
    if (r == SQLITE_ROW) {
        a->duration = sqlite3_column_double(st, 0);
        a->last_step = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 0;
    if (r == SQLITE_DONE)
        return bp_err_set(e, "%s: no run %lld", bp_runlog_path(log), (long long)run);
    return rd_fail(log, e);
}

int bp_runlog_time_axis(bp_runlog *log, int64_t run, const char *metric, bp_time_axis *a,
                        bp_err *e) {
    memset(a, 0, sizeof *a);
    if (bp_runlog_flush(log, e)) return -1;
    bp_runlog_lock(log);
    int rc = read_span(log, run, metric, a, e);
    if (rc == 0 && metric) {
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(bp_runlog_sqlite(log),
                           "SELECT t.step, t.time - r.started FROM step_times t"
                           " JOIN runs r ON r.id = t.run_id JOIN metric_names n"
                           " ON n.id = t.name_id WHERE t.run_id = ?1 AND n.name = ?2"
                           " ORDER BY t.step",
                           -1, &st, NULL);
        if (st) {
            sqlite3_bind_int64(st, 1, run);
            sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC);
        }
        rc = rd_rows(log, st, &a->samples, &a->n, sizeof *a->samples, take_sample, NULL, e);
    }
    bp_runlog_unlock(log);
    a->estimated = a->n == 0;
    if (rc) bp_time_axis_free(a);
    return rc;
}

/* The time of step on the line through samples p and q (p's pace when
 * they are one step apart or less). */
static double on_line(const bp_time_sample *p, const bp_time_sample *q, int64_t step) {
    double ds = (double)(q->step - p->step);
    double pace = ds > 0 ? (q->seconds - p->seconds) / ds : 0;
    return p->seconds + pace * (double)(step - p->step);
}

double bp_time_axis_at(const bp_time_axis *a, int64_t step) {
    if (a->n == 0)
        return a->last_step > 0 ? a->duration * ((double)step / (double)a->last_step) : 0;
    const bp_time_sample *s = a->samples, origin = {0, 0};
    size_t n = a->n, lo = 0, hi = n; /* the first sample at or after step */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid].step < step) lo = mid + 1;
        else hi = mid;
    }
    double t;
    if (lo < n && s[lo].step == step) t = s[lo].seconds;
    else if (lo > 0 && lo < n) t = on_line(&s[lo - 1], &s[lo], step);
    else if (lo == 0) t = n > 1 ? on_line(&s[0], &s[1], step) : on_line(&origin, &s[0], step);
    else t = on_line(n > 1 ? &s[n - 2] : &origin, &s[n - 1], step);
    double end = a->duration > s[n - 1].seconds ? a->duration : s[n - 1].seconds;
    return t < 0 ? 0 : t > end ? end : t;
}

void bp_time_axis_free(bp_time_axis *a) {
    if (!a) return;
    free(a->samples);
    a->samples = NULL, a->n = 0;
}
