/* sweep_args.c: `backprop sweep`'s arguments, and the sweep they describe
 * (sweeprun_int.h).
 *
 * Everything the user can get wrong (an option, a specification, the
 * objective, the pruning rule, the script's file) is checked here, whole,
 * before a database is opened: a bad command creates nothing. A sweep's uid
 * is a hash of what determines its trials and their results, so shards run
 * on other machines into other databases are the same sweep again after
 * bp_runlog_merge, which matches sweeps by uid. */
#define _XOPEN_SOURCE 700 /* strdup */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_alloc.h"
#include "bp_cli.h"
#include "bp_util.h"
#include "sweeprun_int.h"

/* Options that take a value: the long name, and -j's short one. */
static const char *const valued[] = {
    "--db",        "--name",      "--objective", "--prune",    "--seed",    "--shard-db",
    "--jobs",      "--trials",    "--trial",     "--resume",   "--shards",  "--sampler",
    "--task",      "--shard-dir", "--slurm",     "--parallel", "--partition", "--time",
    "--cpus-per-task", "--mem",   "--account",   "--sbatch",   "--throttle", "--retry",
    "--rounds",    "--per-round", "--after-round", "--setting", "--repeats", NULL};

/* Option opt (one of valued) given the value v: 0, or 1 after saying why
 * the value is wrong. */
static int set_option(sw_args *a, const char *opt, const char *v, FILE *err) {
    int64_t *num = !strcmp(opt, "--jobs")            ? &a->jobs
                   : !strcmp(opt, "--trials")        ? &a->trials
                   : !strcmp(opt, "--trial")         ? &a->trial
                   : !strcmp(opt, "--task")          ? &a->task
                   : !strcmp(opt, "--resume")        ? &a->resume
                   : !strcmp(opt, "--shards")        ? &a->shards
                   : !strcmp(opt, "--cpus-per-task") ? &a->cpus
                   : !strcmp(opt, "--throttle")      ? &a->throttle
                   : !strcmp(opt, "--rounds")        ? &a->rounds
                   : !strcmp(opt, "--per-round")     ? &a->per_round
                   : !strcmp(opt, "--after-round")   ? &a->after_round
                   : !strcmp(opt, "--repeats")       ? &a->repeats
                                                     : NULL;
    if (num) {
        int64_t lo = !strcmp(opt, "--trial") || !strcmp(opt, "--task") ||
                             !strcmp(opt, "--after-round")
                         ? 0
                         : 1;
        int64_t hi = !strcmp(opt, "--jobs")      ? 4096
                     : !strcmp(opt, "--repeats") ? 1000
                                                 : INT64_MAX / 2;
        if (bp_parse_i64(v, lo, hi, num))
            return strcmp(opt, "--repeats")
                       ? bp_cli_fail(err,
                                     "sweep: %s wants a whole number >= %lld, not '%s'",
                                     opt, (long long)lo, v)
                       : bp_cli_fail(
                             err,
                             "sweep: --repeats wants a whole number from 1 to 1000,"
                             " not '%s'",
                             v);
        return 0;
    }
    if (!strcmp(opt, "--sbatch")) {
        if (a->nsbatch == SW_MAX_SBATCH)
            return bp_cli_fail(err, "sweep: at most %d --sbatch lines", SW_MAX_SBATCH);
        if (strchr(v, '\n'))
            return bp_cli_fail(err, "sweep: --sbatch '%s' holds a line break: give one"
                                    " line per --sbatch", v);
        a->sbatch[a->nsbatch++] = v;
        return 0;
    }
    if (!strcmp(opt, "--retry") && strcmp(v, "failed"))
        return bp_cli_fail(err, "sweep: --retry wants 'failed', not '%s'", v);
    const char **slot = !strcmp(opt, "--db")          ? &a->db
                        : !strcmp(opt, "--shard-dir") ? &a->shard_dir
                        : !strcmp(opt, "--slurm")     ? &a->slurm
                        : !strcmp(opt, "--parallel")  ? &a->parallel
                        : !strcmp(opt, "--partition") ? &a->partition
                        : !strcmp(opt, "--time")      ? &a->time
                        : !strcmp(opt, "--mem")       ? &a->mem
                        : !strcmp(opt, "--account")   ? &a->account
                        : !strcmp(opt, "--retry")     ? &a->retry
                        : !strcmp(opt, "--setting")   ? &a->setting
                        : !strcmp(opt, "--name")      ? &a->name
                        : !strcmp(opt, "--objective") ? &a->objective
                        : !strcmp(opt, "--prune")     ? &a->prune
                        : !strcmp(opt, "--seed")      ? &a->seed
                        : !strcmp(opt, "--sampler")   ? &a->sampler
                                                      : &a->shard_db;
    *slot = v;
    return 0;
}

int sw_args_parse(int argc, char **argv, sw_args *a, FILE *err) {
    memset(a, 0, sizeof *a);
    a->trials = a->trial = a->task = a->after_round = -1;
    if (!(a->params = calloc((size_t)(argc > 0 ? argc : 1), sizeof *a->params)))
        return bp_cli_fail(err, "out of memory");
    for (int k = 0; k < argc; k++) {
        const char *s = argv[k], *v = NULL, *opt = s;
        char name[40];
        if (!strcmp(s, "--plan")) {
            a->plan = 1;
            continue;
        }
        if (!strcmp(s, "--submit")) {
            a->submit = 1;
            continue;
        }
        if (!strcmp(s, "-v") || !strcmp(s, "--verbose")) {
            a->verbose = 1;
            continue;
        }
        if (!strncmp(s, "-j", 2) && strncmp(s, "--", 2)) {
            opt = "--jobs";
            v = s[2] ? s + 2 : NULL;
        } else if (s[0] == '-') {
            size_t n = strcspn(s, "=");
            if (n >= sizeof name) n = sizeof name - 1;
            memcpy(name, s, n);
            name[n] = '\0';
            opt = name;
            if (s[strcspn(s, "=")]) v = s + strcspn(s, "=") + 1;
            int known = 0;
            for (int j = 0; valued[j]; j++) known |= !strcmp(valued[j], opt);
            if (!known)
                return bp_cli_fail(err,
                                   "sweep: unknown option '%s' (see backprop --help)", s);
        } else if (strchr(s, '=')) {
            a->params[a->n++] = argv[k];
            continue;
        } else if (!a->script) {
            a->script = s;
            continue;
        } else {
            return bp_cli_fail(err,
                               "sweep: two scripts given ('%s' and '%s'); parameters are"
                               " key=SPEC",
                               a->script, s);
        }
        if (!v) {
            if (k + 1 >= argc)
                return bp_cli_fail(err, "sweep: option '%s' needs a value", opt);
            v = argv[++k];
        }
        if (set_option(a, opt, v, err)) return 1;
    }
    return 0;
}

void sw_def_free(sw_def *d) {
    bp_sweep_spec_free(d->spec);
    free(d->spec_text);
    free(d->keys);
    free(d->script);
    bp_free(d->text); /* bp_read_file's */
    memset(d, 0, sizeof *d);
}

/* What the uid covers: everything that decides the trials and their
 * results (the script's text, the spec with its seed, the objective and
 * the pruning rule), and nothing else (not the name, path or database). */
static void make_uid(sw_def *d) {
    char obj[80];
    snprintf(obj, sizeof obj, "%s:%s", d->obj.maximize ? "max" : "min", d->obj.metric);
    const char *parts[] = {d->text, d->spec_text, obj, d->prune_text};
    uint64_t h = BP_FNV1A_INIT;
    for (int k = 0; k < 4; k++) h = bp_fnv1a(h, parts[k], strlen(parts[k]) + 1);
    snprintf(d->uid, sizeof d->uid, "%016llx", (unsigned long long)h);
}

/* Fills d->spec_text, keys and uid, and reads the script. */
static int finish_def(sw_def *d, bp_err *e) {
    size_t len = 1;
    for (int k = 0; k < d->spec->n; k++) len += strlen(d->spec->params[k].key) + 1;
    if (!(d->keys = malloc(len)) || !(d->spec_text = bp_sweep_spec_text(d->spec)))
        return bp_err_set(e, "out of memory");
    d->keys[0] = '\0';
    for (int k = 0; k < d->spec->n; k++) {
        if (k) strcat(d->keys, " ");
        strcat(d->keys, d->spec->params[k].key);
    }
    bp_prune_text(&d->prune, d->prune_text, sizeof d->prune_text);
    if (!(d->text = bp_read_file(d->script, NULL, e))) return -1;
    make_uid(d);
    return 0;
}

int sw_def_from_args(const sw_args *a, sw_def *d, bp_err *e) {
    memset(d, 0, sizeof *d);
    if (bp_objective_parse(a->objective ? a->objective : "loss", &d->obj, e) ||
        bp_prune_parse(a->prune, &d->prune, e))
        return -1;
    if (!(d->spec = bp_sweep_spec_new())) return bp_err_set(e, "out of memory");
    for (int k = 0; k < a->n; k++)
        if (bp_sweep_spec_add(d->spec, a->params[k], e)) return -1;
    if (a->trials > 0) d->spec->trials = a->trials;
    if (a->repeats > 0) d->spec->repeats = a->repeats;
    int64_t seed = 1;
    if (a->seed && bp_parse_i64(a->seed, 0, INT64_MAX, &seed))
        return bp_err_set(e, "bad --seed '%s': expected an integer from 0 to 2^63-1",
                          a->seed);
    d->spec->seed = (uint64_t)seed;
    if (a->sampler && bp_sweep_sampler_parse(a->sampler, &d->spec->sampler, e)) return -1;
    if (bp_sweep_spec_check(d->spec, e)) return -1;
    if (!a->script)
        return bp_err_set(
            e, "sweep: no script given (usage: backprop sweep SCRIPT key=SPEC...)");
    if (!(d->script = strdup(a->script))) return bp_err_set(e, "out of memory");
    d->name = a->name;
    return finish_def(d, e);
}

int sw_def_from_row(const bp_sweep_row *row, const char *name, sw_def *d, bp_err *e) {
    /* The row's texts as a resume always read them: at most the sizes of
     * the canonical objective and rule. */
    char obj[80], prune[96];
    snprintf(obj, sizeof obj, "%s", row->objective);
    snprintf(prune, sizeof prune, "%s", row->prune ? row->prune : "");
    memset(d, 0, sizeof *d);
    d->name = name;
    if (!(d->script = strdup(row->script_path))) return bp_err_set(e, "out of memory");
    if (!(d->spec = bp_sweep_spec_parse(row->spec, e)) ||
        bp_objective_parse(obj, &d->obj, e) || bp_prune_parse_stored(prune, &d->prune, e))
        return -1;
    return finish_def(d, e);
}
