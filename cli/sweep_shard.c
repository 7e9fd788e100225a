/* sweep_shard.c: a sweep split across machines (sweeprun_int.h).
 *
 * --plan prints one self-contained `backprop sweep --trial I` command per
 * trial, each with its shard's database, for GNU parallel, a cluster's
 * scheduler or a shell loop; --trial I runs that one trial into a sweep
 * recorded as a shard's ('partial'), which `backprop merge` later brings
 * together with the other shards by its uid. A trial's seed depends on the
 * sweep's seed and its parameters only, so a shard gives the bits the whole
 * sweep run in one place would. */
#define _XOPEN_SOURCE 700 /* sigset_t, in sweeprun_int.h */
#include <stdio.h>
#include <string.h>

#include "sweeprun_int.h"

void sw_sh_word(FILE *out, const char *s) {
    int safe = *s != '\0', dollar = 0;
    for (const char *p = s; *p; p++) {
        safe &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9') || strchr("_./:=,+-%@", *p) != NULL;
        dollar |= *p == '$';
    }
    if (safe) {
        fputs(s, out);
        return;
    }
    /* A $VAR is the shell's to expand where the line runs ($TMPDIR on the
     * node): in double quotes, with what else is special there escaped. */
    char q = dollar ? '"' : '\'';
    fputc(q, out);
    for (; *s; s++) {
        if (q == '\'' && *s == '\'') fputs("'\\''", out);
        else if (q == '"' && strchr("\"\\`", *s)) fprintf(out, "\\%c", *s);
        else fputc(*s, out);
    }
    fputc(q, out);
}

void sw_trial_options(FILE *out, const sw_args *a, const sw_def *d) {
    if (a->name) {
        fputs("--name ", out);
        sw_sh_word(out, a->name);
        fputc(' ', out);
    }
    fprintf(out, "--objective %s:", d->obj.maximize ? "max" : "min");
    sw_sh_word(out, d->obj.metric);
    if (d->prune_text[0]) fprintf(out, " --prune %s", d->prune_text);
    if (d->spec->trials > 0) fprintf(out, " --trials %lld", (long long)d->spec->trials);
    if (bp_sweep_repeats(d->spec) > 1)
        fprintf(out, " --repeats %lld", (long long)d->spec->repeats);
    fprintf(out, " --seed %llu ", (unsigned long long)d->spec->seed);
    if (d->spec->sampler != BP_SAMPLER_RANDOM)
        fprintf(out, "--sampler %s ", bp_sweep_sampler_name(d->spec->sampler));
}

int sw_plan(const sw_args *a, const sw_def *d, const bp_sweep_host *h) {
    const char *pattern = a->shard_db ? a->shard_db : "results/shard-%d.db";
    const char *pct = strstr(pattern, "%d");
    int64_t count = bp_sweep_count(d->spec);
    for (int64_t i = 0; i < count; i++) {
        char db[1024], num[32];
        int64_t shard = a->shards > 0 ? i % a->shards : i;
        snprintf(num, sizeof num, "%lld", (long long)shard);
        if (pct)
            snprintf(db, sizeof db, "%.*s%s%s", (int)(pct - pattern), pattern, num,
                     pct + 2);
        else snprintf(db, sizeof db, "%s", pattern);
        sw_sh_word(h->out, h->argv0);
        fprintf(h->out, " sweep --trial %lld --db ", (long long)i);
        sw_sh_word(h->out, db);
        fputc(' ', h->out);
        sw_trial_options(h->out, a, d);
        sw_sh_word(h->out, d->script);
        for (int k = 0; k < a->n; k++) {
            fputc(' ', h->out);
            sw_sh_word(h->out, a->params[k]);
        }
        fputc('\n', h->out);
    }
    fflush(h->out);
    return 0;
}

void sw_warn_no_reference(bp_runlog *log, int64_t id, const sw_def *d, const char *db,
                          FILE *err) {
    if (d->prune.rule == BP_PRUNE_NONE) return;
    bp_sweep_counts c;
    bp_err e;
    int64_t need = d->prune.rule == BP_PRUNE_MEDIAN ? d->prune.min_trials : 1;
    if (d->prune.startup > need) need = d->prune.startup; /* it waits for these too */
    if (bp_runlog_sweep_counts(log, id, &c, &e) || c.completed + c.pruned >= need) return;
    fprintf(err,
            "backprop: warning: --prune %s has no reference in %s (%lld completed trial%s"
            " of the sweep, the rule needs %lld): nothing can be pruned; the other shards'"
            " curves are not in it\n",
            d->prune_text, db, (long long)(c.completed + c.pruned),
            c.completed + c.pruned == 1 ? "" : "s", (long long)need);
}

int sw_trial(const sw_args *a, const sw_def *d, const bp_sweep_host *h, int argc,
             char **argv) {
    const char *db = bp_runlog_default_path(a->db);
    bp_runlog *log = sw_open(db, 0, h->err);
    if (!log) return 1;
    int created;
    int64_t id = sw_record(log, a, d, h, argc, argv, &created);
    if (id >= 0) sw_warn_no_reference(log, id, d, db, h->err);
    int rc = id < 0 ? 1 : sw_execute(log, db, id, d, a, h, a->trial);
    bp_runlog_close(log);
    return rc;
}
