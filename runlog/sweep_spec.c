/* sweep_spec.c: parsing sweep specifications and enumerating their trials
 * (bp_sweep.h).
 *
 * The one rule everything here keeps: a trial depends on nothing but the
 * specification, the sweep's seed and its index. Grid trials are the index
 * written in mixed radix; random trials draw from a generator seeded by
 * mixing the sweep's seed with the index. That is what lets a killed sweep
 * resume, and two machines each run half of one, with identical results.
 *
 * It lives in runlog/ though it touches no database, as the objective's and
 * the pruning rule's text do (prune.c): the supervisor (cli/) and a trial's
 * own bp.suggest (bindings/) read the same syntax, and a parameter a script
 * suggests is drawn from a stream of its own (the seed, the setting and the
 * key), so the supervisor and the trial that draws it itself agree. */
#define _XOPEN_SOURCE 700 /* strtok_r, strdup */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_rng.h"
#include "bp_sweep.h"
#include "bp_util.h"

#define MAX_GRID 1000000
#define MAX_REPEATS 1000

bp_sweep_spec *bp_sweep_spec_new(void) { return calloc(1, sizeof(bp_sweep_spec)); }

static void param_free(bp_sweep_param *p) {
    free(p->key);
    for (int j = 0; j < p->n; j++) free(p->values[j]);
    free(p->values);
}

void bp_sweep_spec_free(bp_sweep_spec *s) {
    if (!s) return;
    for (int k = 0; k < s->n; k++) param_free(&s->params[k]);
    free(s->params);
    free(s);
}

/* Splits "a,b,c" into values; an empty list or an empty value is an error. */
static int split_list(bp_sweep_param *p, const char *list, const char *arg, bp_err *e) {
    if (!*list) return bp_err_set(e, "sweep parameter '%s': empty list of values", arg);
    int n = 1;
    for (const char *c = list; *c; c++) n += *c == ',';
    p->values = calloc((size_t)n, sizeof(char *));
    if (!p->values) return bp_err_set(e, "out of memory");
    const char *start = list;
    for (int j = 0; j < n; j++) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len == 0)
            return bp_err_set(e, "sweep parameter '%s': empty value in list", arg);
        if (!(p->values[j] = malloc(len + 1))) return bp_err_set(e, "out of memory");
        memcpy(p->values[j], start, len);
        p->values[j][len] = 0;
        p->n = j + 1;
        /* refused here as a parameter is by `backprop run`, not by every
         * trial that would be given it */
        const char *range = bp_numeral_range(p->values[j]);
        if (range)
            return bp_err_set(e, "sweep parameter '%s': '%s' is %s", arg, p->values[j],
                              range);
        start = end ? end + 1 : start + len;
    }
    return 0;
}

static int parse_bound(const char *s, size_t len, double *out) {
    char buf[64], *end;
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    errno = 0;
    *out = strtod(buf, &end);
    return (*end || errno || !isfinite(*out)) ? -1 : 0;
}

/* "LO:HI" into p->lo, p->hi, with the checks every distribution shares. */
static int parse_range(bp_sweep_param *p, const char *dist, const char *range,
                       const char *arg, bp_err *e) {
    const char *colon = strchr(range, ':');
    if (!colon || strchr(colon + 1, ':'))
        return bp_err_set(e, "sweep parameter '%s': %s takes LO:HI", arg, dist);
    char lo[64];
    if ((size_t)(colon - range) >= sizeof lo) /* no number is written that long */
        return bp_err_set(e, "sweep parameter '%s': lower bound '%.*s' is not a number",
                          arg, (int)(colon - range), range);
    memcpy(lo, range, (size_t)(colon - range));
    lo[colon - range] = '\0';
    const char *bound[2] = {lo, colon + 1}, *which[2] = {"lower", "upper"};
    double *value[2] = {&p->lo, &p->hi};
    for (int b = 0; b < 2; b++) {
        const char *out = bp_numeral_range(bound[b]);
        if (out)
            return bp_err_set(e, "sweep parameter '%s': %s bound '%s' is %s", arg, which[b],
                              bound[b], out);
        if (parse_bound(bound[b], strlen(bound[b]), value[b]))
            return bp_err_set(e, "sweep parameter '%s': %s bound '%s' is not a number",
                              arg, which[b], bound[b]);
    }
    if (p->lo > p->hi)
        return bp_err_set(e,
                          "sweep parameter '%s': lower bound %g is above upper bound %g",
                          arg, p->lo, p->hi);
    if (p->kind == BP_SWEEP_LOGUNIFORM && p->lo <= 0)
        return bp_err_set(e, "sweep parameter '%s': loguniform needs a lower bound > 0",
                          arg);
    if (p->kind == BP_SWEEP_INT && (p->lo != floor(p->lo) || p->hi != floor(p->hi) ||
                                    fabs(p->lo) > 1e15 || fabs(p->hi) > 1e15))
        return bp_err_set(e, "sweep parameter '%s': int needs integer bounds", arg);
    return 0;
}

int bp_sweep_spec_add(bp_sweep_spec *s, const char *arg, bp_err *e) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return bp_err_set(e, "sweep parameter '%s': expected key=values", arg);
    if (arg[strcspn(arg, " \t\n\r")])
        return bp_err_set(e,
                          "sweep parameter '%s': spaces are not allowed in a sweep's keys"
                          " or values",
                          arg);
    bp_sweep_param p = {0};
    size_t klen = (size_t)(eq - arg);
    if (arg[klen - 1] == '?') { /* key?=SPEC: not every trial reads key */
        p.conditional = 1;
        if (--klen == 0)
            return bp_err_set(e, "sweep parameter '%s': expected key=values", arg);
    }
    for (int k = 0; k < s->n; k++)
        if (strlen(s->params[k].key) == klen && !strncmp(s->params[k].key, arg, klen))
            return bp_err_set(e, "sweep parameter '%.*s' given twice", (int)klen, arg);
    const char *spec = eq + 1, *colon = strchr(spec, ':');
    static const struct {
        const char *name;
        bp_sweep_kind kind;
    } dists[] = {{"uniform", BP_SWEEP_UNIFORM},
                 {"loguniform", BP_SWEEP_LOGUNIFORM},
                 {"int", BP_SWEEP_INT},
                 {"choice", BP_SWEEP_CHOICE}};
    int rc = 0;
    p.kind = BP_SWEEP_LIST;
    if (colon) {
        size_t dlen = (size_t)(colon - spec);
        size_t j, nd = sizeof dists / sizeof dists[0];
        for (j = 0; j < nd; j++)
            if (strlen(dists[j].name) == dlen && !strncmp(dists[j].name, spec, dlen))
                break;
        if (j == nd)
            return bp_err_set(
                e,
                "sweep parameter '%s': unknown distribution '%.*s' (expected "
                "uniform, loguniform, int or choice)",
                arg, (int)dlen, spec);
        p.kind = dists[j].kind;
        rc = p.kind == BP_SWEEP_CHOICE
                 ? split_list(&p, colon + 1, arg, e)
                 : parse_range(&p, dists[j].name, colon + 1, arg, e);
    } else {
        rc = split_list(&p, spec, arg, e);
    }
    if (!rc && memchr(arg, '?', klen))
        rc = bp_err_set(e, "sweep parameter '%s': '?' only ends a key (key?=SPEC)", arg);
    if (!rc && !(p.key = malloc(klen + 1))) rc = bp_err_set(e, "out of memory");
    bp_sweep_param *grown =
        rc ? NULL : realloc(s->params, sizeof *grown * (size_t)(s->n + 1));
    if (!grown) {
        if (!rc) bp_err_set(e, "out of memory");
        param_free(&p);
        return -1;
    }
    memcpy(p.key, arg, klen);
    p.key[klen] = 0;
    s->params = grown;
    s->params[s->n++] = p;
    return 0;
}

static const char *const sampler_names[] = {"random", "tpe", "tpe:multivariate"};

int bp_sweep_sampler_parse(const char *text, bp_sweep_sampler *out, bp_err *e) {
    for (int k = 0; k < 3; k++)
        if (!strcmp(text, sampler_names[k])) {
            *out = (bp_sweep_sampler)k;
            return 0;
        }
    return bp_err_set(e, "unknown sampler '%s' (expected random, tpe or tpe:multivariate)",
                      text);
}

const char *bp_sweep_sampler_name(bp_sweep_sampler s) {
    return (unsigned)s < 3 ? sampler_names[s] : "random";
}

int bp_sweep_spec_check(const bp_sweep_spec *s, bp_err *e) {
    if (s->n == 0 && s->trials <= 0)
        return bp_err_set(e, "a sweep needs parameters (key=values), or --trials N for a"
                             " script that suggests its own (bp.suggest)");
    if (s->trials < 0) return bp_err_set(e, "--trials must be >= 1");
    if (s->repeats < 0 || s->repeats > MAX_REPEATS)
        return bp_err_set(e, "--repeats must be from 1 to %d", MAX_REPEATS);
    if (s->trials > INT64_MAX / 2 / bp_sweep_repeats(s))
        return bp_err_set(e, "--trials times --repeats is too large");
    if (s->trials > 0) return 0;
    if (s->sampler != BP_SAMPLER_RANDOM)
        return bp_err_set(e, "--sampler %s needs --trials N",
                          bp_sweep_sampler_name(s->sampler));
    double count = 1;
    for (int k = 0; k < s->n; k++) {
        if (s->params[k].kind != BP_SWEEP_LIST)
            return bp_err_set(e,
                              "sweep parameter '%s' is a distribution: random search "
                              "needs --trials N",
                              s->params[k].key);
        count *= s->params[k].n;
    }
    if (count * (double)bp_sweep_repeats(s) > MAX_GRID)
        return bp_err_set(e,
                          "the grid has %.0f trials, more than %d: use random search "
                          "(--trials N)",
                          count * (double)bp_sweep_repeats(s), MAX_GRID);
    return 0;
}

int64_t bp_sweep_repeats(const bp_sweep_spec *s) {
    return s->repeats > 1 ? s->repeats : 1;
}

int64_t bp_sweep_count(const bp_sweep_spec *s) {
    if (s->trials > 0) return s->trials * bp_sweep_repeats(s);
    int64_t count = 1;
    for (int k = 0; k < s->n; k++) count *= s->params[k].n;
    return count * bp_sweep_repeats(s);
}

const char *bp_sweep_strategy(const bp_sweep_spec *s) {
    return s->trials > 0 ? bp_sweep_sampler_name(s->sampler) : "grid";
}

/* Draws one value of p as the string a user would type: a number written
 * into out, or one of p's own values, returned whole (a list value can be
 * longer than out). Reals keep 6 significant digits: the string is the
 * value the trial gets, so nothing is lost by rounding it, and it reads
 * well in tables. */
static const char *draw(char *out, size_t size, const bp_sweep_param *p, bp_rng *r) {
    double u = bp_rng_uniform(r);
    switch (p->kind) {
        case BP_SWEEP_UNIFORM:
            snprintf(out, size, "%.6g", p->lo + (p->hi - p->lo) * u);
            return out;
        case BP_SWEEP_LOGUNIFORM:
            snprintf(out, size, "%.6g", exp(log(p->lo) + (log(p->hi) - log(p->lo)) * u));
            return out;
        case BP_SWEEP_INT: {
            uint64_t span = (uint64_t)(p->hi - p->lo) + 1;
            (void)u;
            snprintf(out, size, "%.0f", p->lo + (double)bp_rng_below(r, span));
            return out;
        }
        default: return p->values[bp_rng_below(r, (uint64_t)p->n)];
    }
}

/* The generator of parameter key's draws in setting `setting`: its own,
 * so that a value does not depend on which other names were drawn before
 * it, nor on who draws it (the supervisor or the trial itself). */
static void key_stream(bp_rng *r, uint64_t seed, int64_t setting, const char *key) {
    uint64_t h = bp_fnv1a(BP_FNV1A_INIT, key, strlen(key));
    bp_rng_seed(r, seed ^ ((uint64_t)setting * 0x9e3779b97f4a7c15ULL) ^ h);
}

const char *bp_sweep_suggested_value(char *out, size_t size, const bp_sweep_param *p,
                                     uint64_t seed, int64_t setting) {
    bp_rng r;
    key_stream(&r, seed, setting, p->key);
    return draw(out, size, p, &r);
}

static char *join_kv(const char *key, const char *value) {
    size_t kl = strlen(key), vl = strlen(value);
    char *s = malloc(kl + vl + 2);
    if (!s) return NULL;
    memcpy(s, key, kl);
    s[kl] = '=';
    memcpy(s + kl + 1, value, vl + 1);
    return s;
}

int bp_sweep_trial(const bp_sweep_spec *s, int64_t i, char **kv, bp_err *e) {
    int64_t count = bp_sweep_count(s);
    if (i < 0 || i >= count)
        return bp_err_set(e, "trial %lld out of range 0..%lld", (long long)i,
                          (long long)count - 1);
    i /= bp_sweep_repeats(s); /* the setting */
    bp_rng r;
    bp_rng_seed(&r, s->seed ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL));
    int64_t rest = i;
    for (int k = s->n - 1; k >= 0 && s->trials == 0; k--) {
        /* grid: the last parameter varies fastest */
        const bp_sweep_param *p = &s->params[k];
        kv[k] = join_kv(p->key, p->values[rest % p->n]);
        rest /= p->n;
    }
    for (int k = 0; k < s->n && s->trials > 0; k++) {
        char value[64];
        const bp_sweep_param *p = &s->params[k];
        kv[k] = join_kv(p->key, p->suggested ? bp_sweep_suggested_value(
                                                   value, sizeof value, p, s->seed, i)
                                             : draw(value, sizeof value, p, &r));
    }
    for (int k = 0; k < s->n; k++)
        if (!kv[k]) {
            for (int j = 0; j < s->n; j++) free(kv[j]);
            return bp_err_set(e, "out of memory");
        }
    return 0;
}

/* splitmix64's finaliser, to 63 bits: a seed's bits spread. */
static uint64_t spread(uint64_t h) {
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return (h ^ (h >> 31)) >> 1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

uint64_t bp_sweep_trial_seed(uint64_t sweep_seed, int n, char *const *kv) {
    /* FNV-1a over the sorted pairs, then splitmix64's finaliser to spread
     * the bits; sorting makes the seed independent of argument order. */
    char **sorted = malloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
    uint64_t h = BP_FNV1A_INIT ^ sweep_seed;
    if (sorted) {
        memcpy(sorted, kv, sizeof(char *) * (size_t)n);
        qsort(sorted, (size_t)n, sizeof(char *), cmp_str);
    }
    for (int k = 0; k < n; k++) {
        const char *p = sorted ? sorted[k] : kv[k];
        h = bp_fnv1a(h, p, strlen(p));
        h = bp_fnv1a(h, "\xff", 1); /* separator: a=bc is not ab=c */
    }
    free(sorted);
    return spread(h);
}

uint64_t bp_sweep_setting_seed(uint64_t sweep_seed, int64_t setting) {
    /* "#" cannot begin a key=value pair: no grid trial's hash collides. */
    uint64_t h = bp_fnv1a(BP_FNV1A_INIT ^ sweep_seed, "#setting", 8);
    return spread(bp_fnv1a(h, &setting, sizeof setting));
}

uint64_t bp_sweep_repeat_seed(uint64_t trial_seed, int64_t repeat) {
    if (repeat <= 0) return trial_seed;
    uint64_t h = bp_fnv1a(BP_FNV1A_INIT ^ trial_seed, &repeat, sizeof repeat);
    return spread(h);
}

/* x written in the fewest significant digits that read back as x
 * (0.3, not 0.29999999999999999); a whole number as one (10, not 1e+01). */
static int shortest(char *w, double x) {
    char buf[40];
    if (x == floor(x) && fabs(x) < 1e15) return sprintf(w, "%.0f", x);
    for (int digits = 1; digits < 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) return sprintf(w, "%s", buf);
    }
    return sprintf(w, "%.17g", x);
}

/* p's SPEC, as the command line writes it, at w: its length. w has room
 * for the values and 64 bytes more. */
static int write_spec(char *w, const bp_sweep_param *p) {
    static const char *names[] = {"", "uniform", "loguniform", "int", "choice"};
    char *start = w;
    if (p->kind == BP_SWEEP_LIST || p->kind == BP_SWEEP_CHOICE) {
        if (p->kind == BP_SWEEP_CHOICE) w += sprintf(w, "choice:");
        for (int j = 0; j < p->n; j++)
            w += sprintf(w, "%s%s", j ? "," : "", p->values[j]);
    } else {
        w += sprintf(w, "%s:", names[p->kind]);
        w += shortest(w, p->lo);
        *w++ = ':';
        w += shortest(w, p->hi);
        *w = '\0';
    }
    return (int)(w - start);
}

char *bp_sweep_param_text(const bp_sweep_param *p) {
    size_t size = 64;
    for (int j = 0; j < p->n; j++) size += strlen(p->values[j]) + 1;
    char *out = malloc(size);
    if (out) write_spec(out, p);
    return out;
}

/* Whether v is one of p's values: as written, or as the same number
 * (0.10 for 0.1). */
static int one_of(const bp_sweep_param *p, const char *v) {
    char *end;
    double x = strtod(v, &end);
    int num = end != v && !*end;
    for (int j = 0; j < p->n; j++) {
        if (!strcmp(p->values[j], v)) return 1;
        if (num && strtod(p->values[j], &end) == x && !*end) return 1;
    }
    return 0;
}

int bp_sweep_param_check(const bp_sweep_param *p, const char *v, bp_err *e) {
    char *spec = bp_sweep_param_text(p), *end;
    if (!spec) return bp_err_set(e, "out of memory");
    int rc = 0;
    if (p->kind == BP_SWEEP_LIST || p->kind == BP_SWEEP_CHOICE) {
        if (!one_of(p, v))
            rc = bp_err_set(e, "parameter %s: '%s' is not one of %s", p->key, v, spec);
    } else {
        errno = 0;
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x))
            rc =
                bp_err_set(e, "parameter %s: '%s' is not a number (%s)", p->key, v, spec);
        else if (p->kind == BP_SWEEP_INT && x != floor(x))
            rc = bp_err_set(e, "parameter %s: '%s' is not an integer (%s)", p->key, v,
                            spec);
        else if (x < p->lo || x > p->hi)
            rc =
                bp_err_set(e, "parameter %s: '%s' is out of range (%s)", p->key, v, spec);
    }
    free(spec);
    return rc;
}

char *bp_sweep_spec_text(const bp_sweep_spec *s) {
    size_t size = 160; /* --trials, --seed, --sampler and --repeats with their values */
    for (int k = 0; k < s->n; k++) {
        size += strlen(s->params[k].key) + 72;
        for (int j = 0; j < s->params[k].n; j++)
            size += strlen(s->params[k].values[j]) + 1;
    }
    char *out = malloc(size), *w = out;
    if (!out) return NULL;
    *w = 0;
    for (int k = 0; k < s->n; k++) {
        const bp_sweep_param *p = &s->params[k];
        if (p->suggested) continue; /* the script's, not the command line's */
        w += sprintf(w, "%s%s%s=", w > out ? " " : "", p->key, p->conditional ? "?" : "");
        w += write_spec(w, p);
    }
    if (s->trials > 0)
        w += sprintf(w, "%s--trials %lld", w > out ? " " : "", (long long)s->trials);
    w += sprintf(w, "%s--seed %llu", w > out ? " " : "", (unsigned long long)s->seed);
    if (s->sampler != BP_SAMPLER_RANDOM)
        w += sprintf(w, " --sampler %s", bp_sweep_sampler_name(s->sampler));
    if (bp_sweep_repeats(s) > 1) sprintf(w, " --repeats %lld", (long long)s->repeats);
    return out;
}

bp_sweep_spec *bp_sweep_spec_parse(const char *text, bp_err *e) {
    bp_sweep_spec *s = bp_sweep_spec_new();
    char *copy = strdup(text ? text : "");
    if (!s || !copy) {
        bp_sweep_spec_free(s);
        free(copy);
        bp_err_set(e, "out of memory");
        return NULL;
    }
    /* Words are separated by single spaces; no key or value holds one. */
    int bad = 0, seeded = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w && !bad;
         w = strtok_r(NULL, " ", &save)) {
        if (!strcmp(w, "--sampler")) {
            char *v = strtok_r(NULL, " ", &save);
            bp_err why;
            if (!v || bp_sweep_sampler_parse(v, &s->sampler, &why))
                bad = bp_err_set(e, "bad sweep specification '%s': %s", text,
                                 v ? why.msg : "--sampler needs a name");
        } else if (!strcmp(w, "--trials") || !strcmp(w, "--seed") ||
                   !strcmp(w, "--repeats")) {
            char *v = strtok_r(NULL, " ", &save), *end;
            errno = 0;
            unsigned long long n = v ? strtoull(v, &end, 10) : 0;
            if (!v || *end || errno || *v == '-' || n > INT64_MAX) {
                bad = bp_err_set(e, "bad sweep specification '%s': %s needs a number",
                                 text, w);
            } else if (w[2] == 'r') {
                s->repeats = (int64_t)n;
                bad = n < 2 || n > MAX_REPEATS
                          ? bp_err_set(e,
                                       "bad sweep specification '%s': --repeats must be"
                                       " from 2 to %d there",
                                       text, MAX_REPEATS)
                          : 0;
            } else if (w[2] == 't') {
                s->trials = (int64_t)n;
                bad = n < 1 ? bp_err_set(e,
                                         "bad sweep specification '%s': --trials must be"
                                         " >= 1",
                                         text)
                            : 0;
            } else {
                s->seed = (uint64_t)n;
                seeded = 1;
            }
        } else {
            bad = bp_sweep_spec_add(s, w, e);
        }
    }
    free(copy);
    if (!bad && !seeded)
        bad = bp_err_set(e, "bad sweep specification '%s': no --seed", text);
    if (!bad) bad = bp_sweep_spec_check(s, e);
    if (bad) {
        bp_sweep_spec_free(s);
        return NULL;
    }
    return s;
}
