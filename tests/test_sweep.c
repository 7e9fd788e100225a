/* test_sweep.c: sweep specifications and their trials (runlog/sweep_spec.c).
 *
 * The grid must hold every combination exactly once; random trials must be a
 * function of (seed, index) alone; every malformed specification must be
 * refused with a message that names the argument and what is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_sweep.h"
#include "check.h"

static bp_sweep_spec *spec_of(const char **args, int n, int64_t trials, uint64_t seed) {
    bp_sweep_spec *s = bp_sweep_spec_new();
    bp_err e;
    for (int k = 0; k < n; k++) {
        int rc = bp_sweep_spec_add(s, args[k], &e);
        CHECK(rc == 0);
        if (rc) fprintf(stderr, "  %s\n", e.msg);
    }
    s->trials = trials;
    s->seed = seed;
    CHECK(bp_sweep_spec_check(s, &e) == 0);
    return s;
}

/* Trial i joined as one line "a=1 b=2". */
static void trial_line(const bp_sweep_spec *s, int64_t i, char *out, size_t size) {
    char *kv[8];
    bp_err e;
    CHECK(bp_sweep_trial(s, i, kv, &e) == 0);
    out[0] = 0;
    for (int k = 0; k < s->n; k++) {
        strncat(out, k ? " " : "", size - strlen(out) - 1);
        strncat(out, kv[k], size - strlen(out) - 1);
        free(kv[k]);
    }
}

static void test_grid_covers_every_combination_once(void) {
    const char *args[] = {"lr=0.001,0.01,0.1", "hidden=2,4,8", "act=relu,tanh"};
    bp_sweep_spec *s = spec_of(args, 3, 0, 0);
    CHECK(bp_sweep_count(s) == 18);
    CHECK_STR(bp_sweep_strategy(s), "grid");
    char seen[18][64];
    for (int i = 0; i < 18; i++) trial_line(s, i, seen[i], sizeof seen[i]);
    CHECK_STR(seen[0], "lr=0.001 hidden=2 act=relu");
    CHECK_STR(seen[1], "lr=0.001 hidden=2 act=tanh"); /* last varies fastest */
    CHECK_STR(seen[17], "lr=0.1 hidden=8 act=tanh");
    /* every combination of the three lists, exactly once */
    const char *lrs[] = {"0.001", "0.01", "0.1"}, *hs[] = {"2", "4", "8"},
               *as[] = {"relu", "tanh"};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 2; c++) {
                char want[64];
                snprintf(want, sizeof want, "lr=%s hidden=%s act=%s", lrs[a], hs[b],
                         as[c]);
                int found = 0;
                for (int i = 0; i < 18; i++) found += strcmp(seen[i], want) == 0;
                CHECK(found == 1);
            }
    char *kv[3];
    bp_err e;
    CHECK(bp_sweep_trial(s, 18, kv, &e) == -1);
    CHECK_STR(e.msg, "trial 18 out of range 0..17");
    char *text = bp_sweep_spec_text(s);
    CHECK_STR(text, "lr=0.001,0.01,0.1 hidden=2,4,8 act=relu,tanh --seed 0");
    free(text);
    bp_sweep_spec_free(s);
}

static void test_random_is_reproducible(void) {
    const char *args[] = {"lr=loguniform:1e-4:1e-1", "hidden=int:2:16",
                          "act=choice:relu,tanh", "drop=uniform:0:0.5"};
    bp_sweep_spec *a = spec_of(args, 4, 30, 7), *b = spec_of(args, 4, 30, 7),
                  *c = spec_of(args, 4, 30, 8);
    CHECK(bp_sweep_count(a) == 30);
    CHECK_STR(bp_sweep_strategy(a), "random");
    int differ = 0, relu = 0;
    char la[128], lb[128], lc[128];
    for (int i = 0; i < 30; i++) {
        trial_line(a, i, la, sizeof la);
        trial_line(b, i, lb, sizeof lb);
        trial_line(c, i, lc, sizeof lc);
        CHECK_STR(la, lb);
        differ += strcmp(la, lc) != 0;
        double lr, drop;
        int hidden;
        char act[16];
        CHECK(sscanf(la, "lr=%lf hidden=%d act=%15s drop=%lf", &lr, &hidden, act,
                     &drop) == 4);
        CHECK(lr >= 1e-4 && lr < 1e-1);
        CHECK(hidden >= 2 && hidden <= 16);
        CHECK(!strcmp(act, "relu") || !strcmp(act, "tanh"));
        relu += !strcmp(act, "relu");
        CHECK(drop >= 0 && drop < 0.5);
    }
    CHECK(differ == 30);
    CHECK(relu > 5 && relu < 25);
    /* trial 12 alone is trial 12 of the whole sweep (resume, --trial) */
    bp_sweep_spec *d = spec_of(args, 4, 100, 7);
    char ld[128];
    trial_line(a, 12, la, sizeof la);
    trial_line(d, 12, ld, sizeof ld);
    CHECK_STR(la, ld);
    bp_sweep_spec_free(a);
    bp_sweep_spec_free(b);
    bp_sweep_spec_free(c);
    bp_sweep_spec_free(d);
}

static void test_trial_seed(void) {
    char *x[] = {"lr=0.1", "hidden=4"}, *y[] = {"hidden=4", "lr=0.1"},
         *z[] = {"lr=0.1", "hidden=8"};
    char *u[] = {"a=bc"}, *v[] = {"ab=c"};
    uint64_t sx = bp_sweep_trial_seed(1, 2, x);
    CHECK(sx == bp_sweep_trial_seed(1, 2, y)); /* order does not matter */
    CHECK(sx != bp_sweep_trial_seed(1, 2, z));
    CHECK(sx != bp_sweep_trial_seed(2, 2, x));
    CHECK(bp_sweep_trial_seed(1, 1, u) != bp_sweep_trial_seed(1, 1, v));
    CHECK(sx < ((uint64_t)1 << 63));
}

static void expect_add_error(const char *arg, const char *msg) {
    bp_sweep_spec *s = bp_sweep_spec_new();
    bp_err e;
    CHECK(bp_sweep_spec_add(s, arg, &e) == -1);
    CHECK_STR(e.msg, msg);
    CHECK(s->n == 0);
    bp_sweep_spec_free(s);
}

static void test_bad_specifications(void) {
    expect_add_error("lr", "sweep parameter 'lr': expected key=values");
    expect_add_error("=1,2", "sweep parameter '=1,2': expected key=values");
    expect_add_error("lr=", "sweep parameter 'lr=': empty list of values");
    expect_add_error("lr=0.1,,0.3", "sweep parameter 'lr=0.1,,0.3': empty value in list");
    expect_add_error("lr=gauss:0:1",
                     "sweep parameter 'lr=gauss:0:1': unknown distribution "
                     "'gauss' (expected uniform, loguniform, int or choice)");
    expect_add_error("lr=uniform:0.5:0.1",
                     "sweep parameter 'lr=uniform:0.5:0.1': lower bound "
                     "0.5 is above upper bound 0.1");
    expect_add_error("lr=uniform:a:1",
                     "sweep parameter 'lr=uniform:a:1': lower bound 'a' is "
                     "not a number");
    expect_add_error("lr=uniform:0",
                     "sweep parameter 'lr=uniform:0': uniform takes LO:HI");
    expect_add_error("lr=loguniform:0:1",
                     "sweep parameter 'lr=loguniform:0:1': loguniform "
                     "needs a lower bound > 0");
    expect_add_error("h=int:1.5:4",
                     "sweep parameter 'h=int:1.5:4': int needs integer bounds");
    expect_add_error("a=choice:", "sweep parameter 'a=choice:': empty list of values");
    /* numbers out of range, refused before anything runs with the words a
     * parameter of `backprop run` gets (issue 19): not every trial's */
    expect_add_error("lr=1e309,0.1", "sweep parameter 'lr=1e309,0.1': '1e309' is out of"
                                     " range: beyond the largest number, about 1.8e308");
    expect_add_error("lr=choice:0.1,-1e999", "sweep parameter 'lr=choice:0.1,-1e999':"
                                             " '-1e999' is out of range: beyond the largest"
                                             " number, about 1.8e308");
    expect_add_error("lr=0.1,1e-400", "sweep parameter 'lr=0.1,1e-400': '1e-400' is out of"
                                      " range: too small, it would become 0");
    expect_add_error("lr=uniform:0:1e309", "sweep parameter 'lr=uniform:0:1e309': upper"
                                           " bound '1e309' is out of range: beyond the"
                                           " largest number, about 1.8e308");
    expect_add_error("lr=loguniform:1e-400:1", "sweep parameter 'lr=loguniform:1e-400:1':"
                                               " lower bound '1e-400' is out of range: too"
                                               " small, it would become 0");
    expect_add_error("lr=uniform:0:inf", "sweep parameter 'lr=uniform:0:inf': upper bound"
                                         " 'inf' is not a number");
    expect_add_error("a=x y,z", "sweep parameter 'a=x y,z': spaces are not allowed in a"
                                " sweep's keys or values");

    bp_sweep_spec *s = bp_sweep_spec_new();
    bp_err e;
    /* a subnormal is the nearest number, kept; "inf" is a word to Lua, a
     * value for a text parameter */
    CHECK(bp_sweep_spec_add(s, "tiny=1e-310,inf,adam", &e) == 0);
    bp_sweep_spec_free(s);
    s = bp_sweep_spec_new();
    CHECK(bp_sweep_spec_check(s, &e) == -1);
    CHECK_STR(e.msg, "a sweep needs parameters (key=values), or --trials N for a script"
                     " that suggests its own (bp.suggest)");
    CHECK(bp_sweep_spec_add(s, "lr=0.1,0.2", &e) == 0);
    CHECK(bp_sweep_spec_add(s, "lr=0.3", &e) == -1);
    CHECK_STR(e.msg, "sweep parameter 'lr' given twice");
    CHECK(bp_sweep_spec_add(s, "h=int:2:8", &e) == 0);
    CHECK(bp_sweep_spec_check(s, &e) == -1);
    CHECK_STR(e.msg,
              "sweep parameter 'h' is a distribution: random search needs --trials N");
    bp_sweep_spec_free(s);
}

/* The canonical line reads back as the same specification: the same line,
 * the same trials (a resumed sweep reads its specification from it). */
static void test_text_round_trip(void) {
    const char *grid[] = {"lr=0.001,0.01,0.1", "hidden=2,4"};
    const char *rnd[] = {"lr=loguniform:1e-4:0.1", "h=int:2:16", "act=choice:relu,tanh",
                         "d=uniform:0:0.3"};
    bp_sweep_spec *specs[2] = {spec_of(grid, 2, 0, 5), spec_of(rnd, 4, 12, 99)};
    for (int k = 0; k < 2; k++) {
        bp_err e;
        char *text = bp_sweep_spec_text(specs[k]);
        bp_sweep_spec *back = bp_sweep_spec_parse(text, &e);
        CHECK(back != NULL);
        if (!back) {
            fprintf(stderr, "  %s\n", e.msg);
            free(text);
            continue;
        }
        char *again = bp_sweep_spec_text(back);
        CHECK_STR(again, text);
        CHECK(bp_sweep_count(back) == bp_sweep_count(specs[k]));
        for (int64_t i = 0; i < bp_sweep_count(back); i++) {
            char a[128], b[128];
            trial_line(specs[k], i, a, sizeof a);
            trial_line(back, i, b, sizeof b);
            CHECK_STR(b, a);
        }
        free(text);
        free(again);
        bp_sweep_spec_free(back);
        bp_sweep_spec_free(specs[k]);
    }
    bp_err e;
    CHECK(bp_sweep_spec_parse("lr=0.1,0.2", &e) == NULL);
    CHECK_STR(e.msg, "bad sweep specification 'lr=0.1,0.2': no --seed");
    CHECK(bp_sweep_spec_parse("lr=0.1 --seed x", &e) == NULL);
    CHECK_STR(e.msg, "bad sweep specification 'lr=0.1 --seed x': --seed needs a number");
    CHECK(bp_sweep_spec_parse("lr=int:1:4 --seed 1", &e) == NULL);
    CHECK_STR(e.msg,
              "sweep parameter 'lr' is a distribution: random search needs --trials N");
}

/* Numbers in the canonical line are the shortest that read back as the
 * same double: 0.3, not %.17g's 0.29999999999999999. */
static void test_shortest_numbers(void) {
    const char *args[] = {"d=uniform:0.1:0.3", "lr=loguniform:1e-4:0.7",
                          "x=uniform:-2.5:1e300"};
    bp_sweep_spec *s = spec_of(args, 3, 4, 1);
    char *text = bp_sweep_spec_text(s);
    CHECK_STR(text, "d=uniform:0.1:0.3 lr=loguniform:0.0001:0.7 x=uniform:-2.5:1e+300"
                    " --trials 4 --seed 1");
    bp_err e;
    bp_sweep_spec *back = bp_sweep_spec_parse(text, &e);
    CHECK(back && back->params[0].hi == 0.3 && back->params[1].lo == 1e-4 &&
          back->params[2].hi == 1e300);
    bp_sweep_spec_free(back);
    bp_sweep_spec_free(s);
    free(text);
}

/* --repeats K: trial i is setting i / K's run number i % K, the setting
 * the one a sweep without repeats gives trial i / K; repeat 0 keeps the
 * trial's seed and the others get seeds of their own; the count, the
 * canonical line and its checks. */
static void test_repeats(void) {
    const char *grid[] = {"lr=0.1,0.2", "h=2,4,8"};
    const char *rnd[] = {"lr=loguniform:1e-4:1"};
    bp_sweep_spec *g1 = spec_of(grid, 2, 0, 3), *g3 = spec_of(grid, 2, 0, 3);
    bp_sweep_spec *r1 = spec_of(rnd, 1, 5, 3), *r3 = spec_of(rnd, 1, 5, 3);
    g3->repeats = r3->repeats = 3;
    CHECK(bp_sweep_count(g3) == 18 && bp_sweep_count(r3) == 15);
    CHECK(bp_sweep_repeats(g1) == 1 && bp_sweep_repeats(g3) == 3);
    for (int64_t i = 0; i < 18; i++) {
        char a[128], b[128];
        trial_line(g3, i, a, sizeof a);
        trial_line(g1, i / 3, b, sizeof b);
        CHECK_STR(a, b);
        if (i < 15) {
            trial_line(r3, i, a, sizeof a);
            trial_line(r1, i / 3, b, sizeof b);
            CHECK_STR(a, b);
        }
    }
    CHECK(bp_sweep_repeat_seed(12345, 0) == 12345);
    uint64_t s1 = bp_sweep_repeat_seed(12345, 1), s2 = bp_sweep_repeat_seed(12345, 2);
    CHECK(s1 != 12345 && s2 != 12345 && s1 != s2 && s1 < (UINT64_C(1) << 63));
    CHECK(bp_sweep_repeat_seed(12346, 1) != s1);
    char *text = bp_sweep_spec_text(r3);
    CHECK_STR(text, "lr=loguniform:0.0001:1 --trials 5 --seed 3 --repeats 3");
    bp_err e;
    bp_sweep_spec *back = bp_sweep_spec_parse(text, &e);
    CHECK(back && back->repeats == 3 && bp_sweep_count(back) == 15);
    bp_sweep_spec_free(back);
    free(text);
    text = bp_sweep_spec_text(g1); /* one run each: as before repeats */
    CHECK_STR(text, "lr=0.1,0.2 h=2,4,8 --seed 3");
    free(text);
    CHECK(bp_sweep_spec_parse("lr=0.1 --seed 1 --repeats 1", &e) == NULL);
    CHECK_STR(e.msg,
              "bad sweep specification 'lr=0.1 --seed 1 --repeats 1': --repeats must"
              " be from 2 to 1000 there");
    g1->repeats = 1001;
    CHECK(bp_sweep_spec_check(g1, &e) == -1);
    CHECK_STR(e.msg, "--repeats must be from 1 to 1000");
    g1->repeats = 1000;
    g1->params[0].n = 1000; /* 1000 x 3 settings x 1000 repeats: too many */
    CHECK(bp_sweep_spec_check(g1, &e) == -1);
    g1->params[0].n = 2;
    bp_sweep_spec_free(g1);
    bp_sweep_spec_free(g3);
    bp_sweep_spec_free(r1);
    bp_sweep_spec_free(r3);
}

/* The sampler: in the canonical line when it is not random (so a random
 * sweep's line, and uid, are what they were), read back, and checked. */
static void test_sampler(void) {
    bp_err e;
    const char *line = "lr=loguniform:0.0001:1 --trials 30 --seed 7 --sampler tpe:multivariate";
    bp_sweep_spec *s = bp_sweep_spec_parse(line, &e);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(s->sampler == BP_SAMPLER_TPE_MV);
    char *text = bp_sweep_spec_text(s);
    CHECK_STR(text, line);
    free(text);
    s->sampler = BP_SAMPLER_RANDOM;
    text = bp_sweep_spec_text(s);
    CHECK_STR(text, "lr=loguniform:0.0001:1 --trials 30 --seed 7");
    free(text);
    bp_sweep_spec_free(s);
    bp_sweep_sampler k;
    CHECK(bp_sweep_sampler_parse("tpe", &k, &e) == 0 && k == BP_SAMPLER_TPE);
    CHECK(bp_sweep_sampler_parse("random", &k, &e) == 0 && k == BP_SAMPLER_RANDOM);
    CHECK(bp_sweep_sampler_parse("tpe:multi", &k, &e) == -1);
    CHECK_STR(e.msg, "unknown sampler 'tpe:multi' (expected random, tpe or tpe:multivariate)");
    CHECK(bp_sweep_spec_parse("lr=0.1,0.2 --seed 1 --sampler tpe", &e) == NULL);
    CHECK_STR(e.msg, "--sampler tpe needs --trials N");
    CHECK(bp_sweep_spec_parse("lr=0.1,0.2 --seed 1 --sampler", &e) == NULL);
    CHECK_STR(e.msg,
              "bad sweep specification 'lr=0.1,0.2 --seed 1 --sampler': --sampler needs a"
              " name");
    CHECK(bp_sweep_spec_parse("lr=0.1 --trials 3 --seed 1 --sampler grid", &e) == NULL);
    CHECK_STR(e.msg,
              "bad sweep specification 'lr=0.1 --trials 3 --seed 1 --sampler grid': unknown"
              " sampler 'grid' (expected random, tpe or tpe:multivariate)");
}

/* A conditional parameter (key?=SPEC) keeps its '?' in the canonical line
 * and reads back so; a '?' inside a key is refused. A sweep with --trials
 * may have no parameter (its script suggests them), a grid may not. */
static void test_conditional_and_empty(void) {
    const char *args[] = {"opt=sgd,adam", "momentum?=uniform:0.5:0.99"};
    bp_sweep_spec *s = spec_of(args, 2, 3, 1);
    CHECK(!s->params[0].conditional && s->params[1].conditional);
    CHECK_STR(s->params[1].key, "momentum");
    char *text = bp_sweep_spec_text(s);
    CHECK_STR(text, "opt=sgd,adam momentum?=uniform:0.5:0.99 --trials 3 --seed 1");
    bp_err e;
    bp_sweep_spec *back = bp_sweep_spec_parse(text, &e);
    CHECK(back && back->params[1].conditional &&
          !strcmp(back->params[1].key, "momentum"));
    bp_sweep_spec_free(back);
    free(text);
    CHECK(bp_sweep_spec_add(s, "a?b=1,2", &e) == -1);
    CHECK_STR(e.msg, "sweep parameter 'a?b=1,2': '?' only ends a key (key?=SPEC)");
    CHECK(bp_sweep_spec_add(s, "?=1,2", &e) == -1);
    CHECK_STR(e.msg, "sweep parameter '?=1,2': expected key=values");
    bp_sweep_spec_free(s);
    bp_sweep_spec *none = bp_sweep_spec_new();
    none->trials = 5;
    CHECK(bp_sweep_spec_check(none, &e) == 0);
    text = bp_sweep_spec_text(none);
    CHECK_STR(text, "--trials 5 --seed 0");
    back = bp_sweep_spec_parse(text, &e);
    CHECK(back && back->n == 0 && back->trials == 5);
    char *kv[1];
    CHECK(back && bp_sweep_trial(back, 4, kv, &e) == 0);
    bp_sweep_spec_free(back);
    free(text);
    bp_sweep_spec_free(none);
}

/* bp.suggest's checks: a value inside the space passes (the same number
 * written otherwise too), anything else is refused naming the key, the
 * value and the spec; the spec's canonical text. */
static void test_param_check(void) {
    const char *args[] = {"lr=loguniform:1e-4:1", "h=int:1:8", "opt=choice:sgd,adam",
                          "w=0.1,0.2"};
    bp_sweep_spec *s = spec_of(args, 4, 3, 1);
    const bp_sweep_param *lr = &s->params[0], *h = &s->params[1], *opt = &s->params[2],
                         *w = &s->params[3];
    bp_err e;
    char *t = bp_sweep_param_text(lr);
    CHECK_STR(t, "loguniform:0.0001:1");
    free(t);
    t = bp_sweep_param_text(opt);
    CHECK_STR(t, "choice:sgd,adam");
    free(t);
    CHECK(bp_sweep_param_check(lr, "1e-4", &e) == 0);
    CHECK(bp_sweep_param_check(lr, "1", &e) == 0);
    CHECK(bp_sweep_param_check(lr, "5", &e) == -1);
    CHECK_STR(e.msg, "parameter lr: '5' is out of range (loguniform:0.0001:1)");
    CHECK(bp_sweep_param_check(lr, "0.00009", &e) == -1);
    CHECK(bp_sweep_param_check(lr, "fast", &e) == -1);
    CHECK_STR(e.msg, "parameter lr: 'fast' is not a number (loguniform:0.0001:1)");
    CHECK(bp_sweep_param_check(lr, "nan", &e) == -1);
    CHECK(bp_sweep_param_check(h, "8", &e) == 0);
    CHECK(bp_sweep_param_check(h, "2.5", &e) == -1);
    CHECK_STR(e.msg, "parameter h: '2.5' is not an integer (int:1:8)");
    CHECK(bp_sweep_param_check(h, "9", &e) == -1);
    CHECK_STR(e.msg, "parameter h: '9' is out of range (int:1:8)");
    CHECK(bp_sweep_param_check(opt, "adam", &e) == 0);
    CHECK(bp_sweep_param_check(opt, "rmsprop", &e) == -1);
    CHECK_STR(e.msg, "parameter opt: 'rmsprop' is not one of choice:sgd,adam");
    CHECK(bp_sweep_param_check(w, "0.10", &e) == 0);
    CHECK(bp_sweep_param_check(w, "0.3", &e) == -1);
    CHECK_STR(e.msg, "parameter w: '0.3' is not one of 0.1,0.2");
    bp_sweep_spec_free(s);
}

/* A suggested parameter's value is drawn from a stream of its own: the
 * same in bp_sweep_trial (the supervisor) as from bp_sweep_suggested_value
 * (a trial drawing it itself), whatever other parameters the spec holds,
 * the same for every repeat of a setting, inside its space, and not the
 * same in every setting. */
static void test_suggested_stream(void) {
    const char *a1[] = {"x=uniform:0:1", "opt=choice:sgd,adam"};
    const char *a2[] = {"opt=choice:sgd,adam"};
    bp_sweep_spec *s1 = spec_of(a1, 2, 40, 7), *s2 = spec_of(a2, 1, 40, 7);
    s1->params[1].suggested = s2->params[0].suggested = 1;
    s1->repeats = 2;
    int sgd = 0;
    for (int64_t i = 0; i < 40; i++) {
        char *k1[2], *k2[1], buf[64];
        bp_err e;
        CHECK(bp_sweep_trial(s1, 2 * i + 1, k1, &e) == 0);
        CHECK(bp_sweep_trial(s2, i, k2, &e) == 0);
        const char *v = bp_sweep_suggested_value(buf, sizeof buf, &s2->params[0], 7, i);
        char want[80];
        snprintf(want, sizeof want, "opt=%s", v);
        CHECK_STR(k1[1], want);
        CHECK_STR(k2[0], want);
        sgd += !strcmp(v, "sgd");
        free(k1[0]);
        free(k1[1]);
        free(k2[0]);
    }
    CHECK(sgd > 10 && sgd < 30);
    char buf[64];
    const bp_sweep_param *x = &s1->params[0];
    for (int64_t i = 0; i < 100; i++) {
        double v = atof(bp_sweep_suggested_value(buf, sizeof buf, x, 7, i));
        CHECK(v >= 0 && v <= 1);
    }
    bp_sweep_spec_free(s1);
    bp_sweep_spec_free(s2);
    /* A sampled setting's seed: of the sweep's seed and the index alone. */
    uint64_t a = bp_sweep_setting_seed(7, 3);
    CHECK(a == bp_sweep_setting_seed(7, 3) && a < (UINT64_C(1) << 63));
    CHECK(a != bp_sweep_setting_seed(7, 4) && a != bp_sweep_setting_seed(8, 3));
    char *none[1] = {NULL};
    CHECK(a != bp_sweep_trial_seed(7, 0, none));
}

int main(void) {
    test_conditional_and_empty();
    test_param_check();
    test_suggested_stream();
    test_sampler();
    test_grid_covers_every_combination_once();
    test_random_is_reproducible();
    test_trial_seed();
    test_bad_specifications();
    test_text_round_trip();
    test_shortest_numbers();
    test_repeats();
    return check_report("test_sweep");
}
