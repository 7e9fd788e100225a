/* fuzz_sweep.c: the sweep specification parser (runlog/bp_sweep.h):
 * bp_sweep_spec_add on arbitrary arguments, then everything a specification
 * is used for: the check, the count, trials at both ends and in between,
 * their seeds, and the canonical text.
 *
 * Input: a count byte, that many length-prefixed arguments (key=SPEC), a
 * byte choosing grid or random search (trials and seed from the following
 * bytes), then indexes of trials to draw. The contract of bp_sweep.h is
 * checked as well as memory: a failed add adds nothing and says which
 * argument, an added one is its key then = (?= when conditional), a trial is n strings "key=value" in the parameters' order, a
 * grid value is one of its list, an int draw an integer within its bounds,
 * a seed below 2^63. */
#include "input.h"

#include <math.h>
#include <stdlib.h>

#include "bp_sweep.h"

#define MAX_ARGS 16

#define EXPECT(cond)                                                                    \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_sweep.c:%d: contract broken: %s\n", __LINE__, #cond); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Checks trial i's strings against the specification, then frees them. */
static void check_trial(const bp_sweep_spec *s, char **kv) {
    for (int k = 0; k < s->n; k++) {
        const bp_sweep_param *p = &s->params[k];
        size_t kl = strlen(p->key);
        EXPECT(kv[k] && !strncmp(kv[k], p->key, kl) && kv[k][kl] == '=');
        const char *v = kv[k] + kl + 1;
        if (p->kind == BP_SWEEP_LIST || p->kind == BP_SWEEP_CHOICE) {
            int found = 0;
            for (int j = 0; j < p->n && !found; j++) found = !strcmp(p->values[j], v);
            EXPECT(found);
        } else if (p->kind == BP_SWEEP_INT) {
            char *end;
            double x = strtod(v, &end);
            EXPECT(!*end && x == floor(x) && x >= p->lo && x <= p->hi);
        }
    }
    EXPECT(bp_sweep_trial_seed(s->seed, s->n, kv) < (UINT64_C(1) << 63));
    for (int k = 0; k < s->n; k++) free(kv[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz f = {data, size};
    bp_sweep_spec *s = bp_sweep_spec_new();
    if (!s) return 0;
    int nargs = (int)fz_pick(&f, MAX_ARGS + 1);
    for (int a = 0; a < nargs; a++) {
        char arg[97];
        fz_str(&f, arg, sizeof arg - 1);
        bp_err e = {{0}};
        int before = s->n;
        if (bp_sweep_spec_add(s, arg, &e)) {
            EXPECT(s->n == before && e.msg[0]);
        } else {
            EXPECT(s->n == before + 1);
            const bp_sweep_param *p = &s->params[before];
            size_t kl = strlen(p->key);
            /* key=SPEC, or key?=SPEC for a conditional parameter */
            EXPECT(kl > 0 && !strncmp(arg, p->key, kl) &&
                   !strncmp(arg + kl, p->conditional ? "?=" : "=", p->conditional ? 2 : 1));
        }
    }
    unsigned mode = fz_byte(&f);
    s->trials = mode & 1 ? (int64_t)(fz_u16(&f) % 1000) - (mode & 2 ? 10 : 0) : 0;
    s->seed = fz_u64(&f);

    bp_err e;
    if (bp_sweep_spec_check(s, &e) == 0) {
        int64_t count = bp_sweep_count(s);
        EXPECT(count >= 1 && count <= 1000000);
        EXPECT(!strcmp(bp_sweep_strategy(s), s->trials > 0 ? "random" : "grid"));
        char **kv = calloc((size_t)s->n, sizeof *kv);
        if (kv) {
            int64_t at[4] = {0, count - 1, 0, 0};
            at[2] = (int64_t)(fz_u64(&f) % (uint64_t)count);
            at[3] = (int64_t)(fz_u64(&f) % (uint64_t)count);
            for (int j = 0; j < 4; j++)
                if (bp_sweep_trial(s, at[j], kv, &e) == 0) check_trial(s, kv);
            EXPECT(bp_sweep_trial(s, -1, kv, &e) == -1);
            EXPECT(bp_sweep_trial(s, count, kv, &e) == -1);
            free(kv);
        }
    }
    char *text = bp_sweep_spec_text(s);
    free(text);
    bp_sweep_spec_free(s);
    return 0;
}
