/* sweep_tpe.c: a trial's setting proposed by TPE (--sampler tpe and
 * tpe:multivariate), from the trials the run log holds (sweeprun_int.h).
 *
 * Why it is built this way:
 *  - The history is read back from the run log at each proposal, never
 *    kept in memory: a resume, or a sweep run by another process before,
 *    sees the same trials, so with -j 1 the same seed gives the same
 *    settings whether or not the sweep was interrupted.
 *  - A trial that has a run with every parameter recorded (one that crashed
 *    or was interrupted, run again) keeps that setting: it is the same
 *    trial, and its seed, a hash of its parameters, stays the same.
 *  - A repeat (--repeats K: trial i is setting i / K's run i % K) takes
 *    its setting's first trial's setting; each repeat is an observation
 *    of its own, so a setting counts by its repeats together.
 *  - Until BP_TPE_STARTUP trials have finished, a trial is random search's
 *    trial of the same index (bp_sweep_trial): the start-up is uniform, as
 *    Optuna's, and a TPE sweep's first trials are its random twin's.
 *  - Trials are ranked as Optuna ranks them: completed ones by their
 *    objective, then pruned ones (more steps first, then their last value;
 *    one that reported nothing last), then running ones (the constant
 *    liar: a running trial counts as the worst, so that -j N does not
 *    propose N times the same setting, and not as finished). Failed and
 *    diverged trials are left out. bp_tpe.h gets the ranks as losses,
 *    +INFINITY for the running ones.
 *  - Conditional parameters (key?=SPEC, or a name the script suggests in
 *    some trials only) are absent from the trials that did not read them:
 *    NaN there, which the estimators leave out after the split (bp_tpe.h).
 *    tpe:multivariate samples jointly the parameters every finished trial
 *    has (Optuna's intersection search space; not one with a single
 *    value) and the others one by one.
 *  - The specification is the sweep's with the names its script suggested
 *    so far (sw_spec_now): a name learned late is proposed from
 *    the trials that have it. */
#define _XOPEN_SOURCE 700 /* strdup */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_tpe.h"
#include "sweeprun_int.h"

/* An observation: a trial, its class (0 completed, 1 pruned, 2 running),
 * what ranks it within the class, and its parameters. */
typedef struct obs {
    int64_t trial;
    int cls;
    double key1, key2;
    const char *params;
} obs;

static int cmp_rank(const void *a, const void *b) {
    const obs *x = a, *y = b;
    if (x->cls != y->cls) return x->cls - y->cls;
    if (x->key1 != y->key1) return x->key1 < y->key1 ? -1 : 1;
    if (x->key2 != y->key2) return x->key2 < y->key2 ? -1 : 1;
    return (x->trial > y->trial) - (x->trial < y->trial);
}

static int cmp_trial(const void *a, const void *b) {
    const obs *x = a, *y = b;
    return (x->trial > y->trial) - (x->trial < y->trial);
}

/* The value of key in "k=v k=v ...", copied into buf; NULL if absent. */
static const char *value_of(const char *params, const char *key, char *buf, size_t size) {
    size_t kl = strlen(key);
    for (const char *p = params; p && *p;) {
        size_t len = strcspn(p, " ");
        if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            size_t vl = len - kl - 1 < size - 1 ? len - kl - 1 : size - 1;
            memcpy(buf, p + kl + 1, vl);
            buf[vl] = '\0';
            return buf;
        }
        p += len + (p[len] == ' ');
    }
    return NULL;
}

/* The internal-space value (bp_tpe.h) of a recorded value of p; NaN when it
 * is not one of p's (a conditional parameter the trial did not use). */
static double internal(const bp_sweep_param *p, const char *v) {
    if (!v) return NAN;
    char *end;
    double x = strtod(v, &end);
    int num = end != v && !*end;
    if (p->kind == BP_SWEEP_LIST || p->kind == BP_SWEEP_CHOICE) {
        for (int j = 0; j < p->n; j++)
            if (!strcmp(p->values[j], v)) return j;
        for (int j = 0; j < p->n && num; j++) /* 0.10 recorded as 0.1 */
            if (strtod(p->values[j], &end) == x && !*end) return j;
        return NAN;
    }
    if (!num || x < p->lo || x > p->hi) return NAN;
    return p->kind == BP_SWEEP_LOGUNIFORM ? log(x) : x;
}

/* The space bp_tpe.h samples p in; its n is -1 for a real parameter with
 * one value (LO = HI), which needs no sampler. */
static bp_tpe_space space_of(const bp_sweep_param *p) {
    switch (p->kind) {
        case BP_SWEEP_UNIFORM:
            return (bp_tpe_space){p->lo < p->hi ? 0 : -1, p->lo, p->hi, 0};
        case BP_SWEEP_LOGUNIFORM:
            return (bp_tpe_space){p->lo < p->hi ? 0 : -1, log(p->lo), log(p->hi), 0};
        case BP_SWEEP_INT: return (bp_tpe_space){0, p->lo - 0.5, p->hi + 0.5, 1};
        default: return (bp_tpe_space){p->n, 0, 0, 0};
    }
}

/* "key=value" of p for the internal value x. */
static char *external(const bp_sweep_param *p, double x) {
    char buf[64];
    const char *v = buf;
    switch (p->kind) {
        case BP_SWEEP_UNIFORM: snprintf(buf, sizeof buf, "%.6g", p->lo < p->hi ? x : p->lo); break;
        case BP_SWEEP_LOGUNIFORM:
            snprintf(buf, sizeof buf, "%.6g", p->lo < p->hi ? exp(x) : p->lo);
            break;
        case BP_SWEEP_INT:
            snprintf(buf, sizeof buf, "%.0f", fmin(fmax(round(x), p->lo), p->hi));
            break;
        default: v = p->values[(int)x]; break;
    }
    size_t kl = strlen(p->key), vl = strlen(v);
    char *s = malloc(kl + vl + 2);
    if (s) {
        memcpy(s, p->key, kl);
        s[kl] = '=';
        memcpy(s + kl + 1, v, vl + 1);
    }
    return s;
}

/* The recorded setting of a trial run before, into kv: 1 when every
 * parameter that every trial reads is there (a conditional or suggested
 * one the run did not read stays NULL), 0 when not (kv untouched), -1 out
 * of memory. */
static int recorded(const bp_sweep_spec *s, const char *params, char **kv) {
    char buf[512];
    if (!params) return 0;
    for (int k = 0; k < s->n; k++)
        if (!s->params[k].conditional && !s->params[k].suggested &&
            !value_of(params, s->params[k].key, buf, sizeof buf))
            return 0;
    for (int k = 0; k < s->n; k++) {
        if (!value_of(params, s->params[k].key, buf, sizeof buf)) continue;
        size_t kl = strlen(s->params[k].key), vl = strlen(buf);
        if (!(kv[k] = malloc(kl + vl + 2))) return -1;
        snprintf(kv[k], kl + vl + 2, "%s=%s", s->params[k].key, buf);
    }
    return 1;
}

/* A repeat (--repeats K) runs its setting's first trial's setting, as that
 * trial's run recorded it or as the runner started it: 1, or -1 with the
 * reason (nothing recorded, or out of memory). */
static int repeat_of(const sw_runner *R, const bp_sweep_spec *s, const bp_trial_obs *h,
                     size_t nh, int64_t trial, int64_t first, char **kv, bp_err *e) {
    int rc = 0;
    for (size_t k = 0; k < nh && !rc; k++)
        if (h[k].trial == first) rc = recorded(s, h[k].params, kv);
    for (int k = 0; k < R->jobs && !rc; k++)
        if (R->procs[k].pid > 0 && R->procs[k].trial == first)
            rc = recorded(s, R->procs[k].params, kv);
    if (rc == 0)
        return bp_err_set(e,
                          "trial %lld repeats trial %lld, whose setting is not recorded",
                          (long long)trial, (long long)first);
    return rc < 0 ? bp_err_set(e, "out of memory") : 1;
}

/* The observations for trial `trial`: the history's usable rows and the
 * runner's running trials, into o (room for nh + R->jobs). Returns their
 * number; *finished counts the completed and pruned ones. */
static int gather(obs *o, const sw_runner *R, const bp_trial_obs *h, size_t nh, int64_t trial,
                  int *finished) {
    int n = 0, sign = R->d->obj.maximize ? -1 : 1;
    *finished = 0;
    for (int k = 0; k < R->jobs; k++) {
        const sw_proc *p = &R->procs[k];
        if (p->pid > 0 && p->trial != trial)
            o[n++] = (obs){p->trial, 2, 0, 0, p->params};
    }
    int running = n;
    for (size_t k = 0; k < nh; k++) {
        const bp_trial_obs *t = &h[k];
        int dup = t->trial == trial;
        for (int j = 0; j < running; j++) dup |= o[j].trial == t->trial;
        if (dup || !t->params) continue;
        if (!strcmp(t->status, "running")) {
            o[n++] = (obs){t->trial, 2, 0, 0, t->params};
        } else if (!strcmp(t->status, "completed") && t->has_objective &&
                   isfinite(t->objective)) {
            o[n++] = (obs){t->trial, 0, sign * t->objective, 0, t->params};
            ++*finished;
        } else if (!strcmp(t->status, "pruned")) { /* Optuna's (-step, value) */
            double v = t->has_objective ? sign * t->objective : INFINITY;
            o[n++] = t->last_step < 0
                         ? (obs){t->trial, 1, 1, 0, t->params}
                         : (obs){t->trial, 1, -(double)t->last_step, v, t->params};
            ++*finished;
        }
    }
    return n;
}

/* The joint proposal (tpe:multivariate) of the parameters that every
 * observation has (in_joint[j]), into out[]: Optuna's intersection search
 * space. A parameter some trials did not use (a conditional one, NaN
 * there) is proposed on its own after, as Optuna samples the parameters
 * outside that space independently. */
static int propose_joint(double *out, const bp_tpe_space *sp, const double *xs, int n,
                         int d, const int *in_joint, const double *loss, bp_rng *r,
                         bp_err *e) {
    int dj = 0;
    for (int j = 0; j < d; j++) dj += in_joint[j];
    if (dj == 0) return 0;
    double *xj = malloc(sizeof *xj * (size_t)(n > 0 ? n : 1) * (size_t)dj);
    double *oj = malloc(sizeof *oj * (size_t)dj);
    bp_tpe_space *sj = malloc(sizeof *sj * (size_t)dj);
    int rc = xj && oj && sj ? 0 : bp_err_set(e, "out of memory");
    for (int j = 0, c = 0; j < d && !rc; j++) {
        if (!in_joint[j]) continue;
        sj[c] = sp[j];
        for (int i = 0; i < n; i++) xj[i * dj + c] = xs[i * d + j];
        c++;
    }
    if (!rc) rc = bp_tpe_propose_joint(oj, sj, dj, xj, loss, n, r, e);
    for (int j = 0, c = 0; j < d && !rc; j++)
        if (in_joint[j]) out[j] = oj[c++];
    free(xj);
    free(oj);
    free(sj);
    return rc;
}

/* Proposes into kv from the n observations o (in trial order, ranks in
 * loss[]): one estimator per parameter, or one joint estimator for the
 * parameters every observation has and one each for the others. */
static int propose(const bp_sweep_spec *s, int64_t trial, const obs *o, const double *loss,
                   int n, char **kv, bp_err *e) {
    int d = s->n, rc = -1;
    bp_rng r;
    bp_rng_seed(&r, s->seed ^ ((uint64_t)trial * 0x9e3779b97f4a7c15ULL) ^ 0x7470652d73616d70ULL);
    double *xs = malloc(sizeof *xs * (size_t)(n > 0 ? n : 1) * (size_t)(d > 0 ? d : 1));
    double *col = malloc(sizeof *col * (size_t)(n > 0 ? n : 1));
    double *out = malloc(sizeof *out * (size_t)(d > 0 ? d : 1));
    bp_tpe_space *sp = malloc(sizeof *sp * (size_t)(d > 0 ? d : 1));
    int *in_joint = calloc((size_t)(d > 0 ? d : 1), sizeof *in_joint);
    if (!xs || !col || !out || !sp || !in_joint) {
        bp_err_set(e, "out of memory");
        goto end;
    }
    char buf[512];
    for (int j = 0; j < d; j++) {
        sp[j] = space_of(&s->params[j]);
        in_joint[j] = s->sampler == BP_SAMPLER_TPE_MV;
        for (int i = 0; i < n; i++) {
            xs[i * d + j] = internal(&s->params[j],
                                     value_of(o[i].params, s->params[j].key, buf, sizeof buf));
            if (isnan(xs[i * d + j]) && isfinite(loss[i])) in_joint[j] = 0;
        }
    }
    for (int j = 0; j < d; j++)
        if (sp[j].n < 0) { /* one value: nothing to sample, jointly or not */
            sp[j] = (bp_tpe_space){1, 0, 0, 0};
            in_joint[j] = 0; /* Optuna's relative space leaves such out */
            for (int i = 0; i < n; i++) xs[i * d + j] = 0;
        }
    if (propose_joint(out, sp, xs, n, d, in_joint, loss, &r, e)) goto end;
    for (int j = 0; j < d; j++) {
        if (in_joint[j]) continue;
        for (int i = 0; i < n; i++) col[i] = xs[i * d + j];
        if (bp_tpe_propose(&out[j], &sp[j], col, loss, n, &r, e)) goto end;
    }
    rc = 0;
    for (int j = 0; j < d; j++)
        if (!(kv[j] = external(&s->params[j], out[j]))) rc = bp_err_set(e, "out of memory");
end:
    free(xs);
    free(col);
    free(out);
    free(sp);
    free(in_joint);
    return rc;
}

int sw_tpe_trial(const sw_runner *R, const bp_sweep_spec *s, int64_t trial, char **kv,
                 bp_err *e) {
    bp_trial_obs *h = NULL;
    size_t nh = 0;
    obs *o = NULL;
    double *loss = NULL;
    int rc = -1, finished = 0;
    if (bp_runlog_sweep_observations(R->log, R->id, &h, &nh, e)) return -1;
    for (size_t k = 0; k < nh; k++)
        if (h[k].trial == trial && (rc = recorded(s, h[k].params, kv)) != 0) goto end;
    int64_t first = trial - trial % bp_sweep_repeats(s);
    if (first != trial) {
        rc = repeat_of(R, s, h, nh, trial, first, kv, e);
        goto end;
    }
    o = malloc(sizeof *o * (nh + (size_t)R->jobs + 1));
    loss = malloc(sizeof *loss * (nh + (size_t)R->jobs + 1));
    if (!o || !loss) {
        rc = bp_err_set(e, "out of memory");
        goto end;
    }
    int n = gather(o, R, h, nh, trial, &finished);
    if (finished < BP_TPE_STARTUP) { /* on failure it has freed kv's strings */
        if ((rc = bp_sweep_trial(s, trial, kv, e)) != 0) memset(kv, 0, sizeof *kv * (size_t)s->n);
        goto end;
    }
    qsort(o, (size_t)n, sizeof *o, cmp_rank);
    for (int i = 0; i < n; i++) /* the rank, kept through the sort; the liar's +inf */
        o[i].key1 = o[i].cls == 2 ? INFINITY : i;
    qsort(o, (size_t)n, sizeof *o, cmp_trial);
    for (int i = 0; i < n; i++) loss[i] = o[i].key1;
    rc = propose(s, trial, o, loss, n, kv, e);
end:
    if (rc < 0)
        for (int k = 0; k < s->n; k++) {
            free(kv[k]);
            kv[k] = NULL;
        }
    free(o);
    free(loss);
    bp_trial_obs_free(h, nh);
    return rc < 0 ? -1 : 0;
}
