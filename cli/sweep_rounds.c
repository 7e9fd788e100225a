/* sweep_rounds.c: a model-based sweep on a cluster, in rounds
 * (sweeprun_int.h): `--slurm FILE --rounds R --per-round K --sampler tpe`.
 *
 * A TPE trial's setting depends on the trials finished before it, so the
 * tasks of an array cannot each work theirs out. Each round is therefore
 * proposed whole where the results are, before it is submitted: K settings
 * from everything merged into the target database so far, proposed one
 * after the other with the earlier ones of the round counted as running
 * (TPE's constant liar, as `-j K` on one machine does), so that they do not
 * repeat each other. The array script carries each task's setting, which
 * the task runs as given (--setting); the round's merge job merges and
 * proposes the next round the same way. A trial of the round that was run
 * before (cancelled, then proposed again) keeps its recorded setting. The
 * rounds propose the command line's parameters and the names the script
 * suggested (bp.suggest) in the trials merged so far, as one machine's
 * sweep does (sw_spec_now); a task takes such a name from its setting
 * (sw_setting_names). Before any is merged (the first round), a task draws
 * a suggested name itself, as random search would. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sweeprun_int.h"

int sw_setting(const bp_sweep_spec *s, const char *text, char **kv, bp_err *e) {
    memset(kv, 0, sizeof *kv * (size_t)s->n);
    int rc = 0;
    for (const char *p = text; *p && !rc;) {
        size_t len = strcspn(p, " ");
        const char *eq = memchr(p, '=', len);
        int k = 0;
        while (eq && k < s->n &&
               (strlen(s->params[k].key) != (size_t)(eq - p) ||
                strncmp(s->params[k].key, p, (size_t)(eq - p))))
            k++;
        if (!eq || eq + 1 == p + len || k == s->n || kv[k])
            rc = bp_err_set(e, "--setting '%s': '%.*s' is not a value of one of the sweep's"
                               " parameters, once each", text, (int)len, p);
        else if (!(kv[k] = strndup(p, len))) rc = bp_err_set(e, "out of memory");
        p += len + (p[len] == ' ');
    }
    for (int k = 0; k < s->n && !rc; k++) /* a conditional one may be unread, so absent */
        if (!kv[k] && !s->params[k].conditional)
            rc = bp_err_set(e, "--setting '%s': no value of %s", text, s->params[k].key);
    if (rc)
        for (int k = 0; k < s->n; k++) free(kv[k]), kv[k] = NULL;
    return rc;
}

int sw_setting_names(bp_sweep_spec *s, const char *text, bp_err *e) {
    char arg[1024];
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, " ");
        const char *eq = memchr(p, '=', len);
        int known = !eq;
        for (int k = 0; k < s->n && !known; k++)
            known = strlen(s->params[k].key) == (size_t)(eq - p) &&
                    !strncmp(s->params[k].key, p, (size_t)(eq - p));
        if (!known) {
            snprintf(arg, sizeof arg, "%.*s", (int)len, p);
            if (bp_sweep_spec_add(s, arg, e)) return -1;
            s->params[s->n - 1].suggested = 1;
        }
        p += len + (p[len] == ' ');
    }
    return 0;
}

int64_t sw_round_of(const sw_view *v, int64_t per_round, int retry) {
    for (int64_t i = 0; i < v->count; i++)
        if (v->state[i] == SW_PENDING || v->state[i] == SW_STOPPED ||
            (retry && v->state[i] == SW_FAILED))
            return i / per_round;
    return -1;
}

/* kv[0..n-1] joined by spaces, malloc'd; frees the strings (and zeroes
 * them). A NULL is a parameter the trial is not given: skipped. */
static char *join_free(char **kv, int n) {
    size_t len = 1;
    for (int k = 0; k < n; k++) len += kv[k] ? strlen(kv[k]) + 1 : 0;
    char *s = malloc(len);
    if (s) s[0] = '\0';
    for (int k = 0; k < n; k++) {
        if (s && kv[k]) strcat(strcat(s, s[0] ? " " : ""), kv[k]);
        free(kv[k]);
        kv[k] = NULL;
    }
    return s;
}

/* Proposes todo[0..n-1] in order with the log's history (log may be NULL:
 * no history yet), each proposal counted as running for the next. */
static int propose_all(const sw_def *d, bp_runlog *log, int64_t id, const int64_t *todo,
                       int64_t n, char **settings, bp_err *e) {
    sw_runner R;
    memset(&R, 0, sizeof R);
    R.log = log, R.id = id, R.d = d, R.jobs = (int)n;
    bp_sweep_spec *now = log ? sw_spec_now(&R, e) : NULL, *spec = log ? now : d->spec;
    if (!spec) return -1;
    if (now) now->sampler = d->spec->sampler;
    R.procs = calloc((size_t)n, sizeof *R.procs);
    char **kv = calloc((size_t)spec->n + 1, sizeof *kv);
    int rc = R.procs && kv ? 0 : bp_err_set(e, "out of memory");
    for (int64_t k = 0; k < n && !rc; k++) {
        rc = log && spec->sampler != BP_SAMPLER_RANDOM
                 ? sw_tpe_trial(&R, spec, todo[k], kv, e)
                 : bp_sweep_trial(spec, todo[k], kv, e);
        if (!rc && !(settings[k] = join_free(kv, spec->n)))
            rc = bp_err_set(e, "out of memory");
        if (!rc) R.procs[k] = (sw_proc){.pid = 1, .trial = todo[k], .params = settings[k]};
    }
    free(kv);
    free(R.procs);
    bp_sweep_spec_free(now);
    return rc;
}

int sw_round_settings(const sw_def *d, const char *db, const int64_t *todo, int64_t n,
                      char **settings, bp_err *e) {
    struct stat sb;
    bp_runlog *log = NULL;
    int64_t id = -1, trials;
    if (stat(db, &sb) == 0) {
        if (!(log = bp_runlog_open(db, BP_RUNLOG_UNTOUCHED, e))) return -1;
        int found = bp_runlog_sweep_find(log, d->uid, &id, &trials, e);
        if (found < 0) {
            bp_runlog_close(log);
            return -1;
        }
        if (!found) bp_runlog_close(log), log = NULL;
    }
    int rc = propose_all(d, log, id, todo, n, settings, e);
    if (!rc && log && bp_runlog_changed(log))
        rc = bp_err_set(e, "%s was written while the round was proposed: run it again", db);
    bp_runlog_close(log);
    return rc;
}
