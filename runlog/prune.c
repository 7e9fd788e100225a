/* prune.c: a sweep's objective and pruning rule as text, and hyperband's
 * schedule (bp_prune.h); the decisions, which read the run log, are in
 * prune_check.c.
 *
 * A rule is written as one colon-separated word ("median:3:startup=5"), so
 * that the command line, a sweep file, the sweeps table and --plan's
 * commands carry it alike; the table of rules below gives the names,
 * their numbers' bounds and the usage every error quotes. */
#define _XOPEN_SOURCE 700 /* strtok_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_prune.h"
#include "bp_util.h"

/* ------------------------------------------------------------------------ */
/* Objective and pruning rule                                                */

int bp_objective_parse(const char *text, bp_objective *o, bp_err *e) {
    const char *m = text ? text : "";
    o->maximize = 0;
    if (!strncmp(m, "min:", 4)) m += 4;
    else if (!strncmp(m, "max:", 4)) m += 4, o->maximize = 1;
    if (!*m)
        return bp_err_set(e, "bad --objective '%s': expected [min:|max:]METRIC",
                          text ? text : "");
    if (strlen(m) >= sizeof o->metric)
        return bp_err_set(e, "bad --objective '%s': the metric's name is too long", text);
    if (m[strcspn(m, " \t\n:")])
        return bp_err_set(
            e, "bad --objective '%s': a metric's name has no spaces or colons", text);
    snprintf(o->metric, sizeof o->metric, "%s", m);
    return 0;
}

/* The rules: a name, then up to three numbers in this order (bounds as
 * bp_parse_i64's; "auto" allowed where auto_ok names the position). */
#define MAX_STEP_BOUND 1000000000 /* hyperband: a step's bound, so budgets fit */
static const struct rule_row {
    const char *name;
    bp_prune_rule rule;
    int count;   /* numbers it takes */
    int auto_at; /* the number that may be "auto" (0: none), 1-based */
    int64_t lo[3], hi[3];
    const char *usage, *wants;
} rules[] = {
    {"median",
     BP_PRUNE_MEDIAN,
     1,
     0,
     {1},
     {1000000},
     "median[:K]",
     "median:K wants K >= 1 completed trials"},
    {"halving",
     BP_PRUNE_HALVING,
     2,
     0,
     {1, 2},
     {INT64_MAX / 2, 1000},
     "halving[:MIN_STEP[:ETA]]",
     "halving:MIN_STEP:ETA wants MIN_STEP >= 1 and ETA >= 2"},
    {"hyperband",
     BP_PRUNE_HYPERBAND,
     3,
     2,
     {1, 1, 2},
     {MAX_STEP_BOUND, MAX_STEP_BOUND, 1000},
     "hyperband[:MIN_STEP[:MAX_STEP|auto[:ETA]]]",
     "hyperband:MIN_STEP:MAX_STEP:ETA wants 1 <= MIN_STEP <= MAX_STEP <= 10^9 (or"
     " MAX_STEP auto) and ETA >= 2"},
};
#define NRULES (int)(sizeof rules / sizeof rules[0])

/* The settings every rule takes after its numbers. */
static const char *const settings[] = {"startup", "warmup", NULL};

/* Sets number k (0-based) of rule r from text s: 0, or -1 when out of
 * bounds. */
static int set_number(bp_prune *p, const struct rule_row *r, int k, const char *s) {
    int64_t v;
    if (r->auto_at == k + 1 && !strcmp(s, "auto")) v = 0;
    else if (bp_parse_i64(s, r->lo[k], r->hi[k], &v)) return -1;
    if (r->rule == BP_PRUNE_MEDIAN) p->min_trials = (int)v;
    else if (k == 0) p->min_step = v;
    else if (k == r->count - 1) p->eta = (int)v;
    else p->max_step = v;
    return 0;
}

/* Sets "startup=N" or "warmup=STEP": 0, or -1 with a message. */
static int set_setting(bp_prune *p, const char *text, const char *part, int *seen,
                       bp_err *e) {
    size_t n = strcspn(part, "=");
    int k;
    for (k = 0; settings[k]; k++)
        if (strlen(settings[k]) == n && !strncmp(part, settings[k], n)) break;
    if (!settings[k])
        return bp_err_set(e,
                          "bad --prune '%s': unknown setting '%.*s' (expected startup=N"
                          " or warmup=STEP)",
                          text, (int)n, part);
    if (seen[k])
        return bp_err_set(e, "bad --prune '%s': %s given twice", text, settings[k]);
    seen[k] = 1;
    int64_t v;
    if (bp_parse_i64(part + n + 1, 0, k == 0 ? 1000000 : INT64_MAX / 2, &v))
        return bp_err_set(e,
                          k == 0 ? "bad --prune '%s': startup=N wants N >= 0 completed"
                                   " trials"
                                 : "bad --prune '%s': warmup=STEP wants a step >= 0",
                          text);
    if (k == 0) p->startup = (int)v;
    else p->warmup = v;
    return 0;
}

static int bad_rule(const char *text, bp_err *e) {
    return bp_err_set(e,
                      "bad --prune '%s': expected median[:K], halving[:MIN_STEP[:ETA]] or"
                      " hyperband[:MIN_STEP[:MAX_STEP|auto[:ETA]]], then any of"
                      " :startup=N and :warmup=STEP",
                      text);
}

/* The rule text, its parts split at colons into a copy; *legacy set when
 * it has no startup= (a rule stored before there was one). */
static int parse(const char *text, bp_prune *p, int *legacy, bp_err *e) {
    *p = (bp_prune){BP_PRUNE_NONE, 3, 1, 0, 3, 5, BP_PRUNE_FIRST_REPORT};
    *legacy = 1;
    if (!text || !*text || !strcmp(text, "none")) return 0;
    char buf[128];
    if (strlen(text) >= sizeof buf) return bad_rule(text, e);
    strcpy(buf, text);
    char *save = NULL, *part = strtok_r(buf, ":", &save);
    int r = 0;
    while (part && r < NRULES && strcmp(part, rules[r].name)) r++;
    if (!part || r == NRULES || text[0] == ':' || text[strlen(text) - 1] == ':' ||
        strstr(text, "::"))
        return bad_rule(text, e);
    const struct rule_row *row = &rules[r];
    p->rule = row->rule;
    int numbers = 0, seen[2] = {0, 0};
    while ((part = strtok_r(NULL, ":", &save))) {
        if (strchr(part, '=')) {
            if (set_setting(p, text, part, seen, e)) return -1;
            continue;
        }
        if (seen[0] || seen[1] || numbers == row->count ||
            set_number(p, row, numbers++, part))
            return bp_err_set(e, "bad --prune '%s': %s", text, row->wants);
    }
    if (p->rule == BP_PRUNE_HYPERBAND && p->max_step && p->max_step < p->min_step)
        return bp_err_set(e, "bad --prune '%s': %s", text, row->wants);
    *legacy = !seen[0];
    return 0;
}

int bp_prune_parse(const char *text, bp_prune *p, bp_err *e) {
    int legacy;
    return parse(text, p, &legacy, e);
}

int bp_prune_parse_stored(const char *text, bp_prune *p, bp_err *e) {
    int legacy;
    if (parse(text, p, &legacy, e)) return -1;
    if (legacy) p->startup = 0, p->warmup = 0;
    return 0;
}

void bp_prune_text(const bp_prune *p, char *buf, size_t size) {
    char rule[64], maxs[24], warm[40] = "";
    if (p->rule == BP_PRUNE_NONE) {
        if (size) buf[0] = '\0';
        return;
    }
    if (p->rule == BP_PRUNE_MEDIAN)
        snprintf(rule, sizeof rule, "median:%d", p->min_trials);
    else if (p->rule == BP_PRUNE_HALVING)
        snprintf(rule, sizeof rule, "halving:%lld:%d", (long long)p->min_step, p->eta);
    else {
        if (p->max_step) snprintf(maxs, sizeof maxs, "%lld", (long long)p->max_step);
        else snprintf(maxs, sizeof maxs, "auto");
        snprintf(rule, sizeof rule, "hyperband:%lld:%s:%d", (long long)p->min_step, maxs,
                 p->eta);
    }
    if (p->warmup != BP_PRUNE_FIRST_REPORT)
        snprintf(warm, sizeof warm, ":warmup=%lld", (long long)p->warmup);
    snprintf(buf, size, "%s:startup=%d%s", rule, p->startup, warm);
}

/* ------------------------------------------------------------------------ */
/* Hyperband's schedule                                                      */

int bp_hyperband_brackets(const bp_prune *p, int64_t max_step) {
    int n = 1;
    for (int64_t x = p->min_step; x <= max_step / p->eta; x *= p->eta) n++;
    return n;
}

int64_t bp_hyperband_budget(const bp_prune *p, int64_t max_step, int bracket) {
    int n = bp_hyperband_brackets(p, max_step), s = n - 1 - bracket;
    int64_t pow = 1;
    for (int k = 0; k < s; k++) pow *= p->eta;
    return (n * pow + s) / (s + 1); /* ceil(n eta^s / (s + 1)) */
}

int bp_hyperband_bracket(const bp_prune *p, int64_t max_step, int64_t trial) {
    int n = bp_hyperband_brackets(p, max_step);
    int64_t budget[64], credit[64] = {0}, total = 0;
    for (int b = 0; b < n; b++) total += budget[b] = bp_hyperband_budget(p, max_step, b);
    /* The deal repeats every `total` trials: the credits are all 0 again. */
    int64_t deals = trial % total + 1;
    int pick = 0;
    for (int64_t d = 0; d < deals; d++) {
        pick = 0;
        for (int b = 0; b < n; b++) {
            credit[b] += budget[b];
            if (credit[b] > credit[pick]) pick = b;
        }
        credit[pick] -= total;
    }
    return pick;
}
